/* pipeline: the whole eight-task run of the `tiny` preset through the real
 * binary ($SS_BIN), on the CPU reference engine: every CPU task green and
 * the GPU-only tasks skipped with their reason; a run killed with SIGKILL in
 * the middle of task 2 and resumed, ending with the same checkpoints as the
 * uninterrupted run; a failing job (a bad sparsity planted through the
 * documented SS_PIPELINE_BREAK hook) recorded while every other job
 * completes; --resume rerunning a job whose output was damaged; one task run
 * on its own from an earlier run's outputs; --eval-text adding the quality
 * table (perplexity next to the speedups); and the pieces (task lists, the child runner, result writers). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/throughput_results.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/checkpoint.h"
#include "pipeline/eval_results.h"
#include "pipeline/pipeline.h"
#include "text/token_file.h"

static char g_bin[4096], g_tmp[256];
static int g_gpu; /* a CUDA device answered: keep this CPU test on the CPU with --cpu-only */

/* M lists small enough for ASan on two cores */
#define SMALL_ARGS "--preset", "tiny", "--m-prefill", "8,16", "--m-decode", "1,2", "--decode-len", "4", "--repeats", "1"

static int setup(void **state) {
    (void)state;
    const char *bin = getenv("SS_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "SS_BIN does not name the slidesparse binary\n");
        return -1;
    }
    snprintf(g_bin, sizeof g_bin, "%s", bin);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_pipeline_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char *argv[] = {"slidesparse", "gpu-info", NULL};
    ss_child_result r;
    if (ss_run_child(g_bin, argv, NULL, 120, NULL, 0, &r) != SS_OK) return -1;
    g_gpu = r.exit_code == 0;
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

/* Runs slidesparse with the given arguments (NULL-terminated); returns the
 * exit status, output in out. */
static int run_bin(char *out, size_t cap, ...) {
    char *argv[48];
    int n = 0;
    argv[n++] = "slidesparse";
    va_list ap;
    va_start(ap, cap);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 44) argv[n++] = (char *)a;
    va_end(ap);
    if (g_gpu && n > 1 && !strcmp(argv[1], "pipeline")) argv[n++] = "--cpu-only";
    argv[n] = NULL;
    ss_child_result r;
    /* an hour: the whole tiny run under ASan on a loaded 2-core machine took more than 15 minutes */
    assert_int_equal(ss_run_child(g_bin, argv, NULL, 3600, out, cap, &r), SS_OK);
    return r.term_signal ? 128 + r.term_signal : r.exit_code;
}

static void path_in(char *out, size_t cap, const char *sub, const char *rel) {
    snprintf(out, cap, "%s/%s/%s", g_tmp, sub, rel);
}

static json_t *load_state(const char *sub) {
    char p[512];
    path_in(p, sizeof p, sub, "pipeline_state.json");
    json_t *j = NULL;
    assert_int_equal(ss_json_load(p, &j), SS_OK);
    return j;
}

static json_t *job_of(json_t *st, const char *key) {
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(st, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (!strcmp(json_string_value(json_object_get(job, "key")), key)) return job;
        }
    }
    fail_msg("no job %s in the state", key);
    return NULL;
}

static const char *jstr(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static int task_count(json_t *st, int task, const char *status) {
    json_t *t = json_array_get(json_object_get(st, "tasks"), (size_t)task - 1);
    size_t i;
    json_t *job;
    int n = 0;
    json_array_foreach(json_object_get(t, "jobs"), i, job) n += !strcmp(jstr(job, "status"), status);
    return n;
}

static const char *const k_models[] = {
    "Tiny-BF16", "Tiny-INT8", "Tiny-FP8", "Tiny-INT8-SlideSparse-2_4", "Tiny-INT8-SlideSparse-2_6",
    "Tiny-INT8-SlideSparse-2_8", "Tiny-INT8-SlideSparse-2_10", "Tiny-FP8-SlideSparse-2_4", "Tiny-FP8-SlideSparse-2_6",
    "Tiny-FP8-SlideSparse-2_8", "Tiny-FP8-SlideSparse-2_10"};

/* ------------------------------------------------------------ pieces */

static void test_parse_tasks(void **state) {
    (void)state;
    unsigned m;
    assert_int_equal(ss_pipeline_parse_tasks("1-8", &m), SS_OK);
    assert_int_equal(m, 0x1feu);
    assert_int_equal(ss_pipeline_parse_tasks("1,2,4", &m), SS_OK);
    assert_int_equal(m, (1u << 1) | (1u << 2) | (1u << 4));
    assert_int_equal(ss_pipeline_parse_tasks("2-3,7", &m), SS_OK);
    assert_int_equal(m, (1u << 2) | (1u << 3) | (1u << 7));
    const char *bad[] = {"", "0", "9", "1-9", "3-2", "1,,2", "a", "1-", "2;3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(ss_pipeline_parse_tasks(bad[i], &m), SS_ERR_ARG);
        assert_non_null(strstr(ss_errmsg(), "--tasks"));
    }
}

static void test_run_child(void **state) {
    (void)state;
    char out[256];
    ss_child_result r;
    char *fail[] = {"sh", "-c", "echo hello; echo 'error: first' >&2; echo 'error: the real one' >&2; exit 3", NULL};
    assert_int_equal(ss_run_child("/bin/sh", fail, NULL, 30, out, sizeof out, &r), SS_OK);
    assert_int_equal(r.exit_code, 3);
    assert_string_equal(r.error, "the real one");
    assert_non_null(strstr(out, "hello\n"));
    char *skip[] = {"sh", "-c", "echo 'job fp4: skipped: FP4 needs cc 10.0' >&2; echo 'error: all skipped' >&2; exit 3",
                    NULL};
    assert_int_equal(ss_run_child("/bin/sh", skip, NULL, 30, NULL, 0, &r), SS_OK);
    assert_int_equal(r.exit_code, 3);
    assert_string_equal(r.skipped, "FP4 needs cc 10.0");
    assert_string_equal(r.error, "all skipped");
    char *ok[] = {"sh", "-c", "exit 0", NULL};
    assert_int_equal(ss_run_child("/bin/sh", ok, NULL, 30, NULL, 0, &r), SS_OK);
    assert_int_equal(r.exit_code, 0);
    assert_string_equal(r.error, "");
    char *segv[] = {"sh", "-c", "kill -SEGV $$", NULL};
    assert_int_equal(ss_run_child("/bin/sh", segv, NULL, 30, NULL, 0, &r), SS_OK);
    assert_int_equal(r.term_signal, SIGSEGV);
    assert_non_null(strstr(r.error, "killed by signal 11"));
    char *slow[] = {"sh", "-c", "exec sleep 30", NULL};
    assert_int_equal(ss_run_child("/bin/sh", slow, NULL, 0.3, NULL, 0, &r), SS_OK);
    assert_true(r.timed_out);
    assert_true(r.duration_s < 10);
    assert_non_null(strstr(r.error, "timed out"));
    char *missing[] = {"nothing", NULL};
    assert_int_equal(ss_run_child("/nonexistent/binary", missing, NULL, 30, NULL, 0, &r), SS_OK);
    assert_int_equal(r.exit_code, 127);
}

static void test_result_writers(void **state) {
    (void)state;
    char name[256];
    ss_tp_model_name("models/BitNet-2B-INT8-SlideSparse-2_8", name, sizeof name);
    assert_string_equal(name, "BitNet-2B-INT8");
    ss_tp_model_name("x/Tiny-FP8-SlideSparse-2_inf/", name, sizeof name);
    assert_string_equal(name, "Tiny-FP8");
    ss_tp_model_name("Tiny-FP8-SlideSparse-2_", name, sizeof name);
    assert_string_equal(name, "Tiny-FP8-SlideSparse-2_");
    ss_tp_model_name("Tiny-FP8", name, sizeof name);
    assert_string_equal(name, "Tiny-FP8");

    char dir[1024];
    char results[512];
    path_in(results, sizeof results, "writers", "results");
    assert_int_equal(ss_tp_dir(dir, sizeof dir, results, SS_TP_DECODE, "CPU", "INT8", "gcc12_x86_64", "cpu_slid", "2_6"),
                     SS_OK);
    assert_non_null(strstr(dir, "/throughput_benchmark_results/decode/CPU_INT8_gcc12_x86_64/cpu_slid/2_6"));
    ss_tp_point pts[2] = {
        {.M = 1, .prompt_len = 16, .output_len = 4, .max_num_seqs = 1, .n_passes = 2, .elapsed_s = 2.0, .median_pass_s = 1.0},
        {.M = 2, .prompt_len = 16, .output_len = 4, .max_num_seqs = 2, .n_passes = 2, .elapsed_s = 1.0, .median_pass_s = 0.5},
    };
    /* 2 sequences x (16 + 4) tokens in 0.5 s; 2 x 4 output tokens in 0.5 s */
    assert_true(ss_tp_tokens_per_s(&pts[1]) == 80.0);
    assert_true(ss_tp_output_tokens_per_s(&pts[1]) == 16.0);
    assert_int_equal(ss_tp_write_csv(dir, "Tiny-INT8", SS_TP_DECODE, pts, 2), SS_OK);
    assert_int_equal(ss_tp_write_point_json(dir, "Tiny-INT8", SS_TP_DECODE, &pts[1]), SS_OK);
    char csv[1200], js[1200];
    snprintf(csv, sizeof csv, "%s/Tiny-INT8_decode.csv", dir);
    snprintf(js, sizeof js, "%s/json/Tiny-INT8_M2.json", dir);
    assert_int_equal(ss_csv_data_rows(csv), 2);
    char *text;
    assert_int_equal(ss_read_file(csv, &text, NULL), SS_OK);
    assert_true(!strncmp(text, "M_decode,prompt_len,max_num_seqs,num_prompts,N_decode,output_len,requests_per_s,tokens_per_s,"
                               "elapsed_time_s,output_tokens_per_s", 116));
    assert_non_null(strstr(text, "\n2,16,2,4,2,4,4.0000,80.00,1.000000,16.00,0.500000\n"));
    free(text);
    json_t *j;
    assert_int_equal(ss_json_load(js, &j), SS_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "total_num_tokens")), 4 * 20);
    assert_true(json_real_value(json_object_get(j, "tokens_per_second")) == 80.0);
    json_decref(j);
    char buf[64];
    ss_format_duration(12.34, buf, sizeof buf);
    assert_string_equal(buf, "12.3s");
    ss_format_duration(3725, buf, sizeof buf);
    assert_string_equal(buf, "1h 02m 05s");
}

/* ------------------------------------------------------------ the runs */

static void check_csv(const char *sub, const char *stage, const char *dtype_tag, const char *backend, const char *model,
                      int rows) {
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/%s/results/throughput_benchmark_results/%s", g_tmp, sub, stage);
    DIR *d = opendir(pattern);
    assert_non_null(d);
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "CPU_", 4) || !strstr(e->d_name, dtype_tag)) continue;
        char csv[2048];
        snprintf(csv, sizeof csv, "%s/%s/%s/%s_%s.csv", pattern, e->d_name, backend, model, stage);
        assert_int_equal(ss_csv_data_rows(csv), rows);
        found++;
    }
    closedir(d);
    assert_int_equal(found, 1);
}

static void test_full_tiny_pipeline(void **state) {
    (void)state;
    char out[8192], dir[512];
    path_in(dir, sizeof dir, "full", "");
    int rc = run_bin(out, sizeof out, "pipeline", SMALL_ARGS, "--out", dir, NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    /* progress on the terminal: task, job, elapsed, time left */
    assert_non_null(strstr(out, "[task 2/8, job 8/8 | elapsed "));
    assert_non_null(strstr(out, "| left ~"));

    json_t *st = load_state("full");
    assert_string_equal(jstr(st, "preset"), "tiny");
    assert_true(json_is_true(json_object_get(st, "synthetic")));
    assert_string_equal(jstr(st, "backend"), "cpu");
    const int cpu_tasks[] = {1, 2, 4, 5}, jobs[] = {3, 8, 10, 10};
    for (int i = 0; i < 4; i++) assert_int_equal(task_count(st, cpu_tasks[i], "success"), jobs[i]);
    const int gpu_tasks[] = {3, 6, 7, 8}, gjobs[] = {2, 5, 20, 20};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(task_count(st, gpu_tasks[i], "skipped"), gjobs[i]);
        json_t *t = json_array_get(json_object_get(st, "tasks"), (size_t)gpu_tasks[i] - 1);
        assert_string_equal(jstr(t, "status"), "skipped");
        json_t *j0 = json_array_get(json_object_get(t, "jobs"), 0);
        /* "no CUDA device (...)", or "--cpu-only" on a machine that has one */
        assert_true(strstr(jstr(j0, "reason"), "no CUDA device") != NULL);
    }
    json_t *base = job_of(st, "base");
    assert_true(json_is_true(json_object_get(base, "synthetic")));
    assert_non_null(strstr(jstr(base, "command"), "slidesparse synth --arch tiny"));
    assert_true(json_real_value(json_object_get(base, "duration_s")) > 0);
    json_decref(st);

    /* the checkpoints open and say what was done to them */
    for (size_t i = 0; i < sizeof k_models / sizeof k_models[0]; i++) {
        char m[600];
        path_in(m, sizeof m, "full/models", k_models[i]);
        ss_checkpoint c;
        assert_int_equal(ss_ckpt_open(m, &c), SS_OK);
        assert_true(c.meta.synthetic);
        const char *sp = strstr(k_models[i], "SlideSparse-");
        if (sp) {
            assert_string_equal(c.meta.sparsity, sp + 12);
            assert_true(c.meta.slid);
        }
        ss_ckpt_close(&c);
    }
    /* every throughput point is in its CSV */
    const char *sps[] = {"cpu_dense", "cpu_slid/2_4", "cpu_slid/2_6", "cpu_slid/2_8", "cpu_slid/2_10"};
    for (int s = 0; s < 5; s++) {
        check_csv("full", "prefill", "_INT8_", sps[s], "Tiny-INT8", 2);
        check_csv("full", "prefill", "_FP8E4M3_", sps[s], "Tiny-FP8", 2);
        check_csv("full", "decode", "_INT8_", sps[s], "Tiny-INT8", 2);
        check_csv("full", "decode", "_FP8E4M3_", sps[s], "Tiny-FP8", 2);
    }
    /* the report and the log */
    char p[512], *md, *log;
    path_in(p, sizeof p, "full", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "# Tiny Benchmark Report (CPU, no CUDA device)"));
    assert_non_null(strstr(md, "**Weights**: ⚠️ synthetic"));
    assert_non_null(strstr(md, "**Prefill total**: 20/20 ✅"));
    assert_non_null(strstr(md, "**Decode total**: 20/20 ✅"));
    assert_non_null(strstr(md, "| Task 2 | SlideSparse conversion (prune + slide) | ✅ success |"));
    assert_non_null(strstr(md, "| Task 6 | Kernel: cuBLASLt | ⏭️ skipped |"));
    assert_non_null(strstr(md, "### ✅ No failed jobs"));
    free(md);
    path_in(p, sizeof p, "full", "report.json");
    json_t *rj;
    assert_int_equal(ss_json_load(p, &rj), SS_OK);
    assert_int_equal(json_array_size(json_object_get(rj, "prefill")), 2);
    json_decref(rj);
    path_in(p, sizeof p, "full", "pipeline.log");
    assert_int_equal(ss_read_file(p, &log, NULL), SS_OK);
    assert_non_null(strstr(log, "$ slidesparse synth --arch tiny"));
    assert_non_null(strstr(log, "quantized ")); /* a job's own output is in the log */
    free(log);
}

/* Task 5 alone, from the models the full run left: the earlier tasks' records stay. */
static void test_single_task_from_earlier_outputs(void **state) {
    (void)state;
    char out[8192], dir[512];
    path_in(dir, sizeof dir, "full", "");
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "5", "--m-decode", "1",
                     "--decode-len", "2", "--out", dir, NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    json_t *st = load_state("full");
    assert_int_equal(task_count(st, 5, "success"), 10);
    assert_int_equal(task_count(st, 2, "success"), 8); /* not rerun, not forgotten */
    assert_int_equal(task_count(st, 4, "success"), 10);
    assert_int_equal(json_array_size(json_object_get(st, "runs")), 2);
    /* task 4 keeps the M list it ran with; task 5 has the new one */
    json_t *opts = json_object_get(st, "options");
    assert_int_equal(json_array_size(json_object_get(opts, "m_prefill")), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(opts, "m_prefill"), 1)), 16);
    assert_int_equal(json_array_size(json_object_get(opts, "m_decode")), 1);
    assert_int_equal(json_integer_value(json_object_get(opts, "decode_output")), 2);
    json_decref(st);
    check_csv("full", "decode", "_INT8_", "cpu_slid/2_8", "Tiny-INT8", 1);
    char p[512], *md;
    path_in(p, sizeof p, "full", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "**Prefill total**: 20/20 ✅"));
    assert_non_null(strstr(md, "**Decode total**: 10/10 ✅"));
    free(md);
}

/* Polls the state of a running pipeline until task 2 has `done` successes. */
static int wait_for_task2(const char *sub, int done, double timeout_s) {
    char p[512];
    path_in(p, sizeof p, sub, "pipeline_state.json");
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (double t = 0; t < timeout_s; t += 0.02) {
        json_t *st = NULL;
        if (ss_path_exists(p) && ss_json_load(p, &st) == SS_OK) {
            int n = task_count(st, 2, "success");
            json_decref(st);
            if (n >= done) return 1;
        }
        ss_clear_error();
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int files_equal(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (ss_read_file(a, &x, &nx) != SS_OK) return 0;
    if (ss_read_file(b, &y, &ny) != SS_OK) {
        free(x);
        return 0;
    }
    int eq = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return eq;
}

static void test_resume_after_kill(void **state) {
    (void)state;
    char dir[512];
    path_in(dir, sizeof dir, "resume", "");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(g_bin, "slidesparse", "pipeline", SMALL_ARGS, "--tasks", "1,2", "--out", dir,
              g_gpu ? "--cpu-only" : NULL, (char *)NULL);
        _exit(127);
    }
    int reached = wait_for_task2("resume", 3, 300);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(reached);
    assert_true(WIFSIGNALED(status));

    json_t *st = load_state("resume");
    int before = task_count(st, 2, "success");
    assert_true(before >= 3 && before < 8); /* killed in the middle of task 2 */
    char done_before[8][64];
    int ndone = 0;
    json_t *t2 = json_array_get(json_object_get(st, "tasks"), 1);
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(t2, "jobs"), i, job) if (!strcmp(jstr(job, "status"), "success"))
        snprintf(done_before[ndone++], sizeof done_before[0], "%s", jstr(job, "key"));
    json_decref(st);

    char out[8192];
    int rc = run_bin(out, sizeof out, "pipeline", SMALL_ARGS, "--tasks", "1,2", "--out", dir, "--resume", NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "done in an earlier run (outputs verified)"));
    st = load_state("resume");
    assert_int_equal(task_count(st, 1, "success"), 3);
    assert_int_equal(task_count(st, 2, "success"), 8);
    /* what was done is kept, the rest ran now */
    json_array_foreach(json_object_get(json_array_get(json_object_get(st, "tasks"), 1), "jobs"), i, job) {
        int was_done = 0;
        for (int k = 0; k < ndone; k++) was_done |= !strcmp(done_before[k], jstr(job, "key"));
        assert_int_equal(json_is_true(json_object_get(job, "resumed")), was_done);
    }
    json_decref(st);
    /* the same checkpoints as the uninterrupted run, and no temporary leftovers */
    for (size_t m = 0; m < sizeof k_models / sizeof k_models[0]; m++) {
        char a[700], b[700], rel[300];
        snprintf(rel, sizeof rel, "%s/model.safetensors", k_models[m]);
        path_in(a, sizeof a, "full/models", rel);
        path_in(b, sizeof b, "resume/models", rel);
        assert_true(files_equal(a, b));
    }
    char models[512];
    path_in(models, sizeof models, "resume", "models");
    DIR *d = opendir(models);
    assert_non_null(d);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        assert_null(strstr(e->d_name, ".tmp."));
        entries++;
    }
    closedir(d);
    assert_int_equal(entries, 11);
}

static void test_failing_job_recorded(void **state) {
    (void)state;
    char out[8192], dir[512];
    path_in(dir, sizeof dir, "fail", "");
    setenv("SS_PIPELINE_BREAK", "convert-int8-2_6", 1);
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "1,2,4", "--m-prefill", "8",
                     "--repeats", "1", "--out", dir, NULL);
    unsetenv("SS_PIPELINE_BREAK");
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "error: pipeline: 1 of 21 jobs failed"));
    json_t *st = load_state("fail");
    json_t *bad = job_of(st, "convert-int8-2_6");
    assert_string_equal(jstr(bad, "status"), "failed");
    assert_non_null(strstr(jstr(bad, "error"), "2_5")); /* convert's own message about the planted sparsity */
    assert_int_equal(json_integer_value(json_object_get(bad, "exit_code")), 2);
    assert_int_equal(task_count(st, 1, "success"), 3);
    assert_int_equal(task_count(st, 2, "success"), 7);
    assert_int_equal(task_count(st, 4, "success"), 9);
    json_t *dep = job_of(st, "prefill-int8-2_6");
    assert_string_equal(jstr(dep, "status"), "skipped");
    assert_non_null(strstr(jstr(dep, "reason"), "needs convert Tiny-INT8 -> 2_6, which failed"));
    json_t *t2 = json_array_get(json_object_get(st, "tasks"), 1);
    assert_string_equal(jstr(t2, "status"), "partial");
    json_decref(st);
    char p[512], *md;
    path_in(p, sizeof p, "fail", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "### ❌ Failed jobs (1)"));
    assert_non_null(strstr(md, "| Task 2 | convert Tiny-INT8 -> 2_6 | INT8 | exit 2 | its results are missing; 1 dependent job skipped |"));
    assert_non_null(strstr(md, "| Tiny-INT8 | ✅ | ❌ | ✅ | ✅ |"));
    free(md);
}

/* --resume after the failure, with one finished checkpoint damaged: the
 * failed job and the damaged one run again, the rest are kept. */
static void test_resume_reruns_failed_and_damaged(void **state) {
    (void)state;
    char victim[600];
    path_in(victim, sizeof victim, "fail/models", "Tiny-FP8-SlideSparse-2_8/model.safetensors");
    assert_int_equal(truncate(victim, 100), 0);
    char out[8192], dir[512];
    path_in(dir, sizeof dir, "fail", "");
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "1,2,4", "--m-prefill", "8",
                     "--repeats", "1", "--out", dir, "--resume", NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "convert-fp8-2_8: earlier output does not verify"));
    json_t *st = load_state("fail");
    assert_int_equal(task_count(st, 2, "success"), 8);
    assert_int_equal(task_count(st, 4, "success"), 10);
    const char *rerun[] = {"convert-int8-2_6", "convert-fp8-2_8", "prefill-int8-2_6"};
    for (int i = 0; i < 3; i++) assert_false(json_is_true(json_object_get(job_of(st, rerun[i]), "resumed")));
    const char *kept[] = {"base", "quantize-fp8", "convert-int8-2_4", "convert-fp8-2_10", "prefill-int8-dense"};
    for (int i = 0; i < 5; i++) assert_true(json_is_true(json_object_get(job_of(st, kept[i]), "resumed")));
    json_decref(st);
    char full[600];
    path_in(full, sizeof full, "full/models", "Tiny-FP8-SlideSparse-2_8/model.safetensors");
    assert_true(files_equal(victim, full));
}

/* The line of a report table that starts with `row` in the table under `title`. */
static const char *table_row(const char *md, const char *title, const char *row, char *line, size_t cap) {
    const char *t = strstr(md, title);
    assert_non_null(t);
    const char *end = strstr(t, "\n\n|");
    end = end ? strstr(end + 3, "\n\n") : NULL; /* the table ends at the next blank line */
    const char *at = strstr(t, row);
    assert_non_null(at);
    if (end) assert_true(at < end);
    const char *eol = strchr(at, '\n');
    snprintf(line, cap, "%.*s", (int)(eol ? eol - at : (long)strlen(at)), at);
    return line;
}

/* Writes text t to the test folder's file `name`; its path into path. */
static void write_text(char *path, size_t cap, const char *name, const char *t) {
    path_in(path, cap, "", name);
    assert_int_equal(ss_write_file_atomic(path, t, strlen(t)), SS_OK);
}

/* on: downloads go to a hub nobody answers (the discard port), retried at
 * once; off: the environment as it was. */
static void hub_unreachable(int on) {
    if (on) {
        setenv("HF_ENDPOINT", "http://127.0.0.1:9", 1);
        setenv("SS_HUB_BACKOFF_MS", "1", 1);
    } else {
        unsetenv("HF_ENDPOINT");
        unsetenv("SS_HUB_BACKOFF_MS");
    }
}

/* The evaluation text's token file of the run in folder `run`: one id per
 * byte of `text` (the form for a synthetic base); returns the count. */
static int64_t check_byte_tokens(const char *run, const char *text) {
    char p[600];
    int32_t *ids;
    int64_t n;
    path_in(p, sizeof p, run, "results/quality/eval.tokens");
    assert_int_equal(ss_token_file_read(p, &ids, &n), SS_OK);
    assert_int_equal(n, (int64_t)strlen(text));
    for (int64_t i = 0; i < n; i++) assert_int_equal(ids[i], (unsigned char)text[i]);
    free(ids);
    return n;
}

/* --eval-text on the run test_resume_reruns_failed_and_damaged completed
 * (tasks 1, 2, 4): task 2 again with --resume keeps the conversions and adds
 * the tokenize job, the Wanda twins and the perplexity jobs; the report gets
 * a quality table whose every number is an eval result file's, next to the
 * speedups of task 4, saying that synthetic weights make it a smoke test. A
 * later run without --eval-text that does not run task 2 keeps it all. */
static void test_eval_text_quality_table(void **state) {
    (void)state;
    char out[16384], dir[512], text[512];
    path_in(dir, sizeof dir, "fail", "");
    const char *t = "In the beginning was the word, and the word was sparse: two zeros in every eight.\n";
    write_text(text, sizeof text, "eval.txt", t);
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "2", "--resume", "--eval-text", text,
                     "--eval-ctx", "16", "--out", dir, NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    json_t *st = load_state("fail");
    /* 8 conversions kept; 1 tokenize job, 8 Wanda twins, 2 x (dense + 4 x 2 methods) evaluations */
    assert_int_equal(task_count(st, 2, "success"), 8 + 1 + 8 + 18);
    assert_true(json_is_true(json_object_get(job_of(st, "convert-int8-2_8"), "resumed")));
    assert_false(json_is_true(json_object_get(job_of(st, "wanda-int8-2_8"), "resumed")));
    json_t *tok = job_of(st, "tokens-eval");
    assert_non_null(strstr(jstr(tok, "command"), "tokenize --bytes --text")); /* a synthetic base has no tokenizer */
    assert_non_null(strstr(jstr(job_of(st, "eval-fp8-2_6-wanda"), "command"), "slidesparse eval --model"));
    const json_t *q = json_object_get(json_object_get(st, "options"), "quality");
    assert_true(json_is_true(json_object_get(q, "eval_is_text")));
    assert_true(json_is_null(json_object_get(q, "calib")));
    json_decref(st);
    const int64_t n = check_byte_tokens("fail", t);
    char p[600], *md;
    /* Wanda, calibrated on the default slice: every token of so short a text */
    path_in(p, sizeof p, "fail", "models/Tiny-INT8-SlideSparse-2_8-wanda");
    ss_checkpoint ck;
    assert_int_equal(ss_ckpt_open(p, &ck), SS_OK);
    assert_string_equal(ck.meta.prune_method, "wanda");
    assert_int_equal(ck.meta.calib_tokens, n);
    assert_true(ck.meta.slid);
    ss_ckpt_close(&ck);

    path_in(p, sizeof p, "fail", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "## 6. Quality: perplexity next to speedup"));
    assert_non_null(strstr(md, "Synthetic weights: these perplexities mean nothing about quality"));
    assert_non_null(strstr(md, "calibrated on **the evaluated text itself**"));
    assert_non_null(strstr(md, "one id per byte"));
    assert_non_null(strstr(md, "## 7. Error summary")); /* the later sections moved down one */
    path_in(p, sizeof p, "fail", "report.json");
    json_t *rj;
    assert_int_equal(ss_json_load(p, &rj), SS_OK);
    const json_t *rows = json_object_get(json_object_get(rj, "quality"), "rows");
    assert_int_equal(json_array_size(rows), 10);
    assert_true(json_is_true(json_object_get(json_object_get(rj, "quality"), "synthetic")));
    const char *methods[2] = {"magnitude", "wanda"};
    for (int d = 0; d < 2; d++) {
        const char *DT = d ? "FP8" : "INT8";
        char title[64];
        snprintf(title, sizeof title, "**Tiny-%s** (", DT);
        ss_eval_record dense;
        snprintf(p, sizeof p, "%s/fail/results/quality/Tiny-%s/dense_magnitude.json", g_tmp, DT);
        assert_int_equal(ss_eval_read_json(p, &dense), SS_OK);
        assert_true(dense.r.perplexity > 1);
        assert_int_equal(dense.r.ctx, 16);
        for (int L = 0; L <= 10; L += 2) {
            if (L == 2) continue;
            char sp[16], row[32], line[1024], want[64];
            snprintf(sp, sizeof sp, L ? "2_%d" : "dense", L);
            snprintf(row, sizeof row, "| %s | ", sp);
            table_row(md, title, row, line, sizeof line);
            if (L) { /* task 4's speedup at M=8 and the ideal speedup stand in the row */
                assert_non_null(strstr(line, "x (M=8)"));
                snprintf(want, sizeof want, "| %.2f |", (double)L / (L - 2));
                assert_non_null(strstr(line, want));
            }
            const json_t *jr = json_array_get(rows, (size_t)(d * 5 + (L ? L / 2 - 1 : 0)));
            assert_string_equal(json_string_value(json_object_get(jr, "sparsity")), L ? sp : "");
            for (int m = 0; m < 2; m++) {
                ss_eval_record rec;
                if (L) {
                    snprintf(p, sizeof p, "%s/fail/results/quality/Tiny-%s/%s_%s.json", g_tmp, DT, sp, methods[m]);
                    assert_int_equal(ss_eval_read_json(p, &rec), SS_OK);
                    assert_string_equal(rec.prune_method, methods[m]);
                    assert_string_equal(rec.sparsity, sp);
                    assert_int_equal(rec.r.n_scored, dense.r.n_scored); /* the same tokens for every model */
                    snprintf(want, sizeof want, " %.3f (%+.1f%%) |", rec.r.perplexity,
                             100.0 * (rec.r.perplexity / dense.r.perplexity - 1.0));
                } else {
                    rec = dense; /* one dense model: its number in both columns */
                    snprintf(want, sizeof want, " %.3f |", rec.r.perplexity);
                }
                assert_true(rec.synthetic);
                if (!strstr(line, want)) fail_msg("'%s' is not in the row '%s'", want, line);
                if (m == 1 && !L) assert_non_null(strstr(strstr(line, want) + 1, want)); /* twice */
                assert_true(json_real_value(json_object_get(jr, methods[m])) == rec.r.perplexity);
            }
        }
    }
    json_decref(rj);
    free(md);

    /* task 1 again, without --eval-text: the quality jobs keep their records and the report its table */
    rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "1", "--resume", "--out", dir, NULL);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    st = load_state("fail");
    assert_int_equal(task_count(st, 2, "success"), 35);
    assert_non_null(json_object_get(json_object_get(json_object_get(st, "options"), "quality"), "eval"));
    json_decref(st);
    path_in(p, sizeof p, "fail", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "## 6. Quality: perplexity next to speedup"));
    free(md);
}

/* A download that cannot reach the hub falls back to synthetic weights and says so. */
static void test_download_fallback(void **state) {
    (void)state;
    char out[8192], dir[512];
    path_in(dir, sizeof dir, "fallback", "");
    hub_unreachable(1);
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--model", "nobody/no-model", "--tasks", "1",
                     "--out", dir, NULL);
    hub_unreachable(0);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    json_t *st = load_state("fallback");
    assert_true(json_is_true(json_object_get(st, "synthetic")));
    assert_non_null(strstr(jstr(st, "model_source"), "the download of nobody/no-model failed"));
    json_t *base = job_of(st, "base");
    assert_string_equal(jstr(base, "status"), "success");
    assert_non_null(strstr(jstr(base, "note"), "download failed"));
    assert_non_null(strstr(jstr(base, "command"), "slidesparse download --repo nobody/no-model"));
    assert_int_equal(task_count(st, 1, "success"), 3);
    json_decref(st);
    char p[512], *md;
    path_in(p, sizeof p, "fallback", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "**Weights**: ⚠️ synthetic: download failed"));
    assert_non_null(strstr(md, "| Tiny-BF16 | ✅ synthesised |"));
    free(md);
}

/* A real model asked for with an evaluation text, and its download fails:
 * the base becomes synthetic after the plan was made for a real one, so the
 * tokenize job must switch to its byte form (a synthetic base has no
 * tokenizer) and say so, and the evaluations read one id per byte. */
static void test_download_fallback_eval_text(void **state) {
    (void)state;
    char out[16384], dir[512], text[512];
    path_in(dir, sizeof dir, "fallback-text", "");
    const char *t = "Two zeros in every eight, and the rest slid into windows of four.\n";
    write_text(text, sizeof text, "fallback-eval.txt", t);
    hub_unreachable(1);
    int rc = run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--model", "nobody/no-model", "--tasks", "1,2",
                     "--eval-text", text, "--eval-ctx", "16", "--out", dir, NULL);
    hub_unreachable(0);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    json_t *st = load_state("fallback-text");
    assert_true(json_is_true(json_object_get(st, "synthetic")));
    json_t *tok = job_of(st, "tokens-eval");
    assert_string_equal(jstr(tok, "status"), "success");
    assert_non_null(strstr(jstr(tok, "command"), "tokenize --bytes --text"));
    assert_null(strstr(jstr(tok, "command"), "--tokenizer"));
    assert_non_null(strstr(jstr(tok, "title"), "one id per byte: the base is synthetic"));
    assert_string_equal(jstr(job_of(st, "eval-int8-2_8-magnitude"), "status"), "success");
    json_decref(st);
    check_byte_tokens("fallback-text", t);
    char p[600], *md;
    path_in(p, sizeof p, "fallback-text", "report.md");
    assert_int_equal(ss_read_file(p, &md, NULL), SS_OK);
    assert_non_null(strstr(md, "**Weights**: ⚠️ synthetic: download failed"));
    assert_non_null(strstr(md, "one id per byte"));
    free(md);
}

static void test_cli_errors(void **state) {
    (void)state;
    char out[4096], dir[512];
    assert_int_equal(run_bin(out, sizeof out, "pipeline", "--tasks", "9", NULL), 2);
    assert_non_null(strstr(out, "error: --tasks: '9': tasks are 1..8"));
    path_in(dir, sizeof dir, "cli", "");
    assert_int_equal(run_bin(out, sizeof out, "pipeline", "--preset", "huge", "--out", dir, NULL), 2);
    assert_non_null(strstr(out, "error: pipeline: unknown preset 'huge'"));
    assert_int_equal(run_bin(out, sizeof out, "report", "/nonexistent/ss_dir", NULL), 1);
    assert_non_null(strstr(out, "error: report: /nonexistent/ss_dir is not a folder"));
    assert_int_equal(run_bin(out, sizeof out, "bench", "prefill", "--backend", "cpu", "--m", "8", NULL), 2);
    assert_non_null(strstr(out, "error: bench prefill: missing --model"));
    char model[600], res[600];
    path_in(model, sizeof model, "full/models", "Tiny-INT8");
    path_in(res, sizeof res, "cli", "results");
    assert_int_equal(run_bin(out, sizeof out, "bench", "decode", "--backend", "cpu", "--model", model, "--m", "4,4",
                             "--out", res, NULL), 2);
    assert_non_null(strstr(out, "error: --m: M=4 is listed twice"));
    assert_int_equal(run_bin(out, sizeof out, "bench", "prefill", "--backend", "cpu", "--model", "/nonexistent/m",
                             "--m", "8", "--out", res, NULL), 1);
    assert_non_null(strstr(out, "error: bench prefill: "));
    assert_non_null(strstr(out, "/nonexistent/m"));
    /* an output folder holding another preset's run is refused */
    char other[512], state_path[600];
    path_in(other, sizeof other, "other", "");
    assert_int_equal(ss_mkdir_p(other), SS_OK);
    snprintf(state_path, sizeof state_path, "%s/pipeline_state.json", other);
    const char st[] = "{\"preset\": \"bitnet-2b\", \"tasks\": []}\n";
    assert_int_equal(ss_write_file_atomic(state_path, st, sizeof st - 1), SS_OK);
    assert_int_equal(run_bin(out, sizeof out, "pipeline", "--preset", "tiny", "--tasks", "1", "--out", other, NULL), 2);
    assert_non_null(strstr(out, "holds a run of preset 'bitnet-2b', not 'tiny'"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_tasks),
        cmocka_unit_test(test_run_child),
        cmocka_unit_test(test_result_writers),
        cmocka_unit_test(test_full_tiny_pipeline),
        cmocka_unit_test(test_single_task_from_earlier_outputs),
        cmocka_unit_test(test_resume_after_kill),
        cmocka_unit_test(test_failing_job_recorded),
        cmocka_unit_test(test_resume_reruns_failed_and_damaged),
        cmocka_unit_test(test_download_fallback),
        cmocka_unit_test(test_download_fallback_eval_text),
        cmocka_unit_test(test_eval_text_quality_table),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
