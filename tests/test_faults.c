/* Faults, through the real binary ($SS_BIN): nothing a user owns is lost
 * and nothing half-written sits under a final name when
 *   - --out already exists (a user's folder, a regular file, one of our
 *     checkpoints with and without --force), for synth, quantize, prune
 *     and convert;
 *   - the disk is full (a file-size limit, and a 1 MiB tmpfs where this
 *     test may mount one) or the output is read-only;
 *   - convert is killed with SIGKILL at several points (SS_FAULT, see
 *     core/fault.h): the scratch it leaves is never taken for a checkpoint
 *     and is removed by the rerun, which gives the same bytes as a clean run;
 *   - the pipeline, or one of its jobs, is killed, then resumed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/checkpoint.h"

#include "run_cli.h"

static char g_root[256], g_bf16[512], g_int8[512], g_ref24[512];

static const char *in_root(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    return buf;
}

static char *slurp(const char *path, size_t *n) {
    char *d = NULL;
    assert_int_equal(ss_read_file(path, &d, n), SS_OK);
    return d;
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

/* Names in dir that a temporary output has (ss_is_scratch_name), '\n'-joined. */
static void scratch_in(const char *dir, char *out, size_t cap) {
    out[0] = '\0';
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, ".tmp.") || strstr(e->d_name, ".old.") || strstr(e->d_name, ".partial"))
            snprintf(out + strlen(out), cap - strlen(out), "%s\n", e->d_name);
    closedir(d);
}

static void assert_no_scratch(const char *dir) {
    char names[4096];
    scratch_in(dir, names, sizeof names);
    if (names[0]) fail_msg("temporary entries left in %s:\n%s", dir, names);
}

static int setup(void **state) {
    (void)state;
    if (find_bin() != 0) return -1;
    snprintf(g_root, sizeof g_root, "/tmp/ss_test_faults_XXXXXX");
    if (!mkdtemp(g_root)) return -1;
    chmod(g_root, 0755); /* readable by the unprivileged child of the read-only test */
    in_root(g_bf16, sizeof g_bf16, "bf16");
    in_root(g_int8, sizeof g_int8, "int8");
    in_root(g_ref24, sizeof g_ref24, "ref-2_4");
    if (run(NULL, "synth", "--arch", "tiny", "--out", g_bf16, NULL) != 0 ||
        run(NULL, "quantize", "--in", g_bf16, "--out", g_int8, "--dtype", "int8", NULL) != 0 ||
        run(NULL, "convert", "--in", g_int8, "--out", g_ref24, "--sparsity", "2_4", NULL) != 0) {
        fprintf(stderr, "%s\n", g_out);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_root) == SS_OK ? 0 : -1;
}

/* ------------------------------------------------------ existing --out */

/* The four folder writers, refusing `out` with `msg`, exit 2, --force or not. */
static void refused_by_every_writer(const char *out, const char *msg) {
    for (int force = 0; force < 2; force++) {
        char *f = force ? "--force" : NULL;
        expect(run(NULL, "synth", "--arch", "tiny", "--out", out, f, NULL), 2, msg);
        expect(run(NULL, "quantize", "--in", g_bf16, "--out", out, "--dtype", "int8", f, NULL), 2, msg);
        expect(run(NULL, "prune", "--in", g_int8, "--out", out, "--sparsity", "2_4", f, NULL), 2, msg);
        expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", f, NULL), 2, msg);
    }
}

static void test_user_folder_and_file_kept(void **state) {
    (void)state;
    char mine[512], keep[600], file[512];
    in_root(mine, sizeof mine, "mine");
    assert_int_equal(ss_mkdir_p(mine), SS_OK);
    snprintf(keep, sizeof keep, "%s/notes.txt", mine);
    assert_int_equal(ss_write_file_atomic(keep, "my notes", 8), SS_OK);
    refused_by_every_writer(mine, "is not a checkpoint written by slidesparse");
    size_t n;
    char *d = slurp(keep, &n);
    assert_int_equal(n, 8);
    assert_memory_equal(d, "my notes", 8);
    free(d);

    /* a folder with a slidesparse.json that does not load is not ours either */
    char meta[600];
    snprintf(meta, sizeof meta, "%s/slidesparse.json", mine);
    assert_int_equal(ss_write_file_atomic(meta, "{\"format_version\": 7}", 21), SS_OK);
    refused_by_every_writer(mine, "is not a checkpoint written by slidesparse");
    assert_true(ss_path_exists(keep));

    in_root(file, sizeof file, "a-file");
    assert_int_equal(ss_write_file_atomic(file, "data", 4), SS_OK);
    refused_by_every_writer(file, "exists and is not a folder");
    /* download too, before it touches the network (an endpoint that does not exist: no traffic) */
    setenv("HF_ENDPOINT", "http://127.0.0.1:9", 1);
    expect(run(NULL, "download", "--repo", "org/name", "--out", file, NULL), 2, "exists and is not a folder");
    unsetenv("HF_ENDPOINT");
    d = slurp(file, &n);
    assert_int_equal(n, 4);
    free(d);
    assert_no_scratch(g_root);
}

static void test_our_checkpoint_needs_force(void **state) {
    (void)state;
    char out[512], st[600], ref[600];
    in_root(out, sizeof out, "ours");
    expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", NULL), 0, NULL);
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    snprintf(ref, sizeof ref, "%s/model.safetensors", g_ref24);
    expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_8", NULL), 2, "pass --force to replace it");
    expect(run(NULL, "synth", "--arch", "tiny", "--out", out, NULL), 2, "pass --force to replace it");
    assert_true(same_file(st, ref)); /* untouched */
    expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_8", "--force", NULL), 0, NULL);
    ss_checkpoint c;
    assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
    assert_string_equal(c.meta.sparsity, "2_8");
    ss_ckpt_close(&c);
    assert_no_scratch(g_root);
    /* --out is the input: refused even with --force */
    expect(run(NULL, "convert", "--in", out, "--out", out, "--sparsity", "2_8", "--force", NULL), 2, NULL);
    assert_int_equal(ss_rm_rf(out), SS_OK);
}

/* ---------------------------------------------- full disk, read-only */

static void test_disk_full_file_limit(void **state) {
    (void)state;
    char out[512];
    in_root(out, sizeof out, "full");
    run_env env = {.fsize = 1 << 20}; /* the 26 MB checkpoint cannot fit */
    int rc = run(&env, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", NULL);
    expect(rc, 1, "model.safetensors");
    assert_non_null(strstr(g_out, "File too large"));
    assert_false(ss_path_exists(out));
    assert_no_scratch(g_root);
    rc = run(&env, "synth", "--arch", "tiny", "--out", out, NULL);
    expect(rc, 1, "File too large");
    assert_false(ss_path_exists(out));
    assert_no_scratch(g_root);
}

static void test_disk_full_tmpfs(void **state) {
    (void)state;
    char mnt[512], out[600];
    in_root(mnt, sizeof mnt, "tmpfs");
    assert_int_equal(ss_mkdir_p(mnt), SS_OK);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) {
        rmdir(mnt);
        skip(); /* not allowed to mount here: the file-size limit case covers a full disk */
    }
    snprintf(out, sizeof out, "%s/out", mnt);
    int rc = run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", NULL);
    expect(rc, 1, "No space left on device");
    assert_false(ss_path_exists(out));
    assert_no_scratch(mnt);
    /* the disk is empty again: nothing was left behind */
    DIR *d = opendir(mnt);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)) != NULL) entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 0);
    assert_int_equal(umount(mnt), 0);
    rmdir(mnt);
}

static void test_read_only_output(void **state) {
    (void)state;
    char dir[512], out[600];
    in_root(dir, sizeof dir, "ro");
    assert_int_equal(ss_mkdir_p(dir), SS_OK);
    run_env env = {0};
    int mounted = mount("tmpfs", dir, "tmpfs", MS_RDONLY, "size=1m") == 0;
    if (!mounted) {
        chmod(dir, 0555);
        if (geteuid() == 0) env.uid = 65534; /* root ignores permission bits: write as nobody */
    }
    snprintf(out, sizeof out, "%s/out", dir);
    int rc = run(&env, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", NULL);
    expect(rc, 1, mounted ? "Read-only file system" : "Permission denied");
    assert_false(ss_path_exists(out));
    assert_no_scratch(dir);
    if (mounted) assert_int_equal(umount(dir), 0);
    chmod(dir, 0755);
    rmdir(dir);
}

/* ------------------------------------------------------------ SIGKILL */

/* convert killed at `point`: exit 137, no checkpoint under the final name
 * (unless it was already complete), the scratch refused by info and
 * generate, and a rerun that removes it and writes the reference bytes. */
static void killed_convert(const char *point, int had_old) {
    char out[512], st[600], ref[600], names[4096];
    in_root(out, sizeof out, "killed");
    run_env env = {.fault = point};
    if (had_old) expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_8", NULL), 0, NULL);
    int rc = run(&env, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", had_old ? "--force" : NULL, NULL);
    if (rc != 128 + SIGKILL) fail_msg("SS_FAULT=%s: exit %d, want 137 (killed):\n%s", point, rc, g_out);
    /* the final name holds a whole checkpoint (the old or the new one) or nothing */
    if (had_old) {
        ss_checkpoint c;
        assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
        ss_ckpt_close(&c);
    } else {
        assert_false(ss_path_exists(out));
    }
    scratch_in(g_root, names, sizeof names);
    assert_true(names[0] != '\0'); /* what the kill left */
    for (char *name = strtok(names, "\n"); name; name = strtok(NULL, "\n")) {
        if (strstr(name, ".lock")) continue;
        char tmp[600];
        in_root(tmp, sizeof tmp, name);
        expect(run(NULL, "info", "--model", tmp, NULL), 2, "temporary folder");
        expect(run(NULL, "generate", "--model", tmp, "--prompt-ids", "1", "--max-new", "1", NULL), 2,
               "temporary folder");
    }
    /* the rerun cleans up and gives the bytes of an uninterrupted run */
    expect(run(NULL, "convert", "--in", g_int8, "--out", out, "--sparsity", "2_4", had_old ? "--force" : NULL, NULL),
           0, NULL);
    assert_no_scratch(g_root);
    snprintf(st, sizeof st, "%s/model.safetensors", out);
    snprintf(ref, sizeof ref, "%s/model.safetensors", g_ref24);
    assert_true(same_file(st, ref));
    assert_int_equal(ss_rm_rf(out), SS_OK);
}

static void test_convert_killed_early(void **state) {
    (void)state;
    killed_convert("ckpt-begin", 0);
    killed_convert("st-append:3", 0);
}

static void test_convert_killed_late(void **state) {
    (void)state;
    killed_convert("st-append:40", 0);
    killed_convert("scratch-commit", 0);
    killed_convert("scratch-commit", 1);
    killed_convert("scratch-exchanged", 1);
}

/* A scratch folder of a live writer is not removed by another run. */
static void test_live_scratch_kept(void **state) {
    (void)state;
    char live[512], other[512];
    in_root(live, sizeof live, "live");
    ss_scratch s;
    assert_int_equal(ss_scratch_begin(&s, live), SS_OK);
    assert_int_equal(ss_mkdir_p(s.path), SS_OK);
    in_root(other, sizeof other, "other");
    expect(run(NULL, "convert", "--in", g_int8, "--out", other, "--sparsity", "2_4", NULL), 0, NULL);
    assert_true(ss_is_dir(s.path));
    ss_scratch_abort(&s);
    assert_false(ss_path_exists(s.path));
    assert_int_equal(ss_rm_rf(other), SS_OK);
}

/* ------------------------------------------------------------ pipeline */

#define PIPE_ARGS "pipeline", "--preset", "tiny", "--cpu-only", "--no-report"

static int jobs_with_status(const char *dir, const char *status) {
    char path[600];
    snprintf(path, sizeof path, "%s/pipeline_state.json", dir);
    json_t *st = NULL;
    assert_int_equal(ss_json_load(path, &st), SS_OK);
    size_t ti, ji;
    json_t *task, *job;
    int n = 0;
    json_array_foreach(json_object_get(st, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            const char *s = json_string_value(json_object_get(job, "status"));
            n += s && !strcmp(s, status);
        }
    }
    json_decref(st);
    return n;
}

/* Every job of task 1 killed in the middle of its writes, then --resume. */
static void test_pipeline_jobs_killed_then_resumed(void **state) {
    (void)state;
    char dir[512], models[600];
    in_root(dir, sizeof dir, "pipe-jobs");
    snprintf(models, sizeof models, "%s/models", dir);
    run_env env = {.fault = "st-append:5"}; /* inherited by every job */
    expect(run(&env, PIPE_ARGS, "--tasks", "1", "--out", dir, NULL), 1, "jobs failed");
    assert_int_equal(jobs_with_status(dir, "success"), 0);
    char names[4096];
    scratch_in(models, names, sizeof names);
    assert_true(names[0] != '\0'); /* the killed synth left its scratch */
    expect(run(NULL, PIPE_ARGS, "--tasks", "1", "--out", dir, "--resume", NULL), 0, "removed 1 unfinished output");
    assert_int_equal(jobs_with_status(dir, "success"), 3);
    assert_no_scratch(models);
    /* a rerun without --resume replaces its own checkpoints */
    expect(run(NULL, PIPE_ARGS, "--tasks", "1", "--out", dir, NULL), 0, NULL);
    assert_int_equal(jobs_with_status(dir, "success"), 3);
    assert_no_scratch(models);
    /* its checkpoints are the same as the standalone commands' */
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/Tiny-INT8/model.safetensors", models);
    snprintf(b, sizeof b, "%s/model.safetensors", g_int8);
    assert_true(same_file(a, b));
}

/* The pipeline itself killed before its 5th job (task 2's second convert),
 * then resumed: the jobs done are kept, the rest run. */
static void test_pipeline_killed_then_resumed(void **state) {
    (void)state;
    char dir[512], models[600];
    in_root(dir, sizeof dir, "pipe-self");
    snprintf(models, sizeof models, "%s/models", dir);
    run_env env = {.fault = "pipeline-job:5"};
    int rc = run(&env, PIPE_ARGS, "--tasks", "1,2", "--out", dir, NULL);
    if (rc != 128 + SIGKILL) fail_msg("exit %d, want 137:\n%s", rc, g_out);
    assert_int_equal(jobs_with_status(dir, "success"), 4);
    expect(run(NULL, PIPE_ARGS, "--tasks", "1,2", "--out", dir, "--resume", NULL), 0,
           "done in an earlier run (outputs verified)");
    assert_int_equal(jobs_with_status(dir, "success"), 11);
    assert_no_scratch(models);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_folder_and_file_kept),
        cmocka_unit_test(test_our_checkpoint_needs_force),
        cmocka_unit_test(test_disk_full_file_limit),
        cmocka_unit_test(test_disk_full_tmpfs),
        cmocka_unit_test(test_read_only_output),
        cmocka_unit_test(test_convert_killed_early),
        cmocka_unit_test(test_convert_killed_late),
        cmocka_unit_test(test_live_scratch_kept),
        cmocka_unit_test(test_pipeline_jobs_killed_then_resumed),
        cmocka_unit_test(test_pipeline_killed_then_resumed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
