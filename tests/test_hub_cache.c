/* hub client and the user's Hugging Face cache, against the fake hub
 * (tests/hub_server.py): files the cache holds are verified and linked or
 * copied instead of downloaded, a damaged cached file is not trusted, the
 * cache is never written, its location follows HF_HUB_CACHE / HF_HOME /
 * XDG_CACHE_HOME / HOME, and HF_HUB_OFFLINE=1 makes no request at all.
 *
 * Each test lays out a cache the way huggingface_hub does
 * (models--org--name/{blobs,snapshots,refs,trees}) from the fake hub's own
 * listing, with the content the test computes itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "hub_fixture.h"
#include "io/hub.h"

enum { BASIC_MODEL = 3 * 1024 * 1024 + 17 };

/* What make_cache lays out. */
enum { BLOBS = 1, SNAPSHOT = 2, REFS = 4, TREE = 8 };

/* root/models--org--name */
static void repo_dir(char *out, size_t cap, const char *root, const char *repo) {
    char name[256];
    snprintf(name, sizeof name, "%s", repo);
    *strchr(name, '/') = '\0';
    snprintf(out, cap, "%s/models--%s--%s", root, name, strchr(repo, '/') + 1);
}

static const char *hash_of(const ss_hub_file *f) { return f->lfs_sha256 ? f->lfs_sha256 : f->git_oid; }

/* A Hugging Face cache at root holding repo at its current main, as
 * huggingface_hub lays it out; *l is the hub's listing (caller frees). */
static void make_cache(const char *root, const char *repo, int what, ss_hub_listing *l) {
    ss_hub_options opt = {.quiet = 1};
    if (ss_hub_list(repo, &opt, l) != SS_OK) fail_msg("%s", ss_errmsg());
    char dir[1024], p[2048];
    repo_dir(dir, sizeof dir, root, repo);
    json_t *files = json_object();
    for (int i = 0; i < l->n; i++) {
        const ss_hub_file *f = &l->files[i];
        unsigned char *data = expected_bytes(repo, f->path, (size_t)f->size);
        if (what & BLOBS) {
            snprintf(p, sizeof p, "%s/blobs", dir);
            put_file(p, hash_of(f), data, (size_t)f->size);
        }
        free(data);
        if (what & SNAPSHOT) {
            /* snapshots/<commit>/<path> -> ../../blobs/<hash>, one more ../ per folder */
            char target[512] = "../../";
            for (const char *c = f->path; *c; c++)
                if (*c == '/') strcat(target, "../");
            strcat(target, "blobs/");
            strcat(target, hash_of(f));
            snprintf(p, sizeof p, "%s/snapshots/%s/%s", dir, l->commit, f->path);
            char parent[2048];
            snprintf(parent, sizeof parent, "%s", p);
            *strrchr(parent, '/') = '\0';
            assert_int_equal(ss_mkdir_p(parent), SS_OK);
            assert_int_equal(symlink(target, p), 0);
        }
        json_t *e = json_pack("{s:I, s:s}", "size", (json_int_t)f->size, "blob_id",
                              f->git_oid ? f->git_oid : "0123456789012345678901234567890123456789");
        if (f->lfs_sha256) {
            json_object_set_new(e, "lfs_sha256", json_string(f->lfs_sha256));
            json_object_set_new(e, "lfs_size", json_integer(f->size));
        }
        json_object_set_new(files, f->path, e);
    }
    if (what & REFS) {
        snprintf(p, sizeof p, "%s/refs", dir);
        put_file(p, "main", l->commit, 40);
    }
    if (what & TREE) {
        snprintf(p, sizeof p, "%s/trees", dir);
        assert_int_equal(ss_mkdir_p(p), SS_OK);
        snprintf(p, sizeof p, "%s/trees/%s.json", dir, l->commit);
        json_t *tree = json_pack("{s:i, s:o}", "format_version", 1, "files", files);
        assert_int_equal(ss_json_save(p, tree), SS_OK);
        json_decref(tree);
    } else {
        json_decref(files);
    }
    server_reset(); /* the listing above is not the download's */
}

static void assert_basic_complete(const char *out) {
    assert_file_exact(out, "test/basic", "config.json", 731);
    assert_file_exact(out, "test/basic", "sub/dir/nested.txt", 1234);
    assert_file_exact(out, "test/basic", "model.safetensors", BASIC_MODEL);
}

/* The server saw no file request (listing and revision calls aside). */
static void assert_no_file_requests(void) {
    json_t *stats = server_json("/_stats");
    assert_int_equal(json_object_size(json_object_get(stats, "files")), 0);
    json_decref(stats);
}

static void assert_no_requests_at_all(void) {
    json_t *stats = server_json("/_stats");
    assert_int_equal(json_object_size(json_object_get(stats, "files")), 0);
    assert_int_equal(json_array_size(json_object_get(stats, "api")), 0);
    json_decref(stats);
}

/* The cache's blob of f still holds `want` (the cache is never written). */
static void assert_blob(const char *root, const char *repo, const ss_hub_file *f, const unsigned char *want) {
    char dir[1024], p[2048];
    repo_dir(dir, sizeof dir, root, repo);
    snprintf(p, sizeof p, "%s/blobs/%s", dir, hash_of(f));
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(ss_read_file(p, &data, &n), SS_OK);
    assert_int_equal(n, (size_t)f->size);
    assert_memory_equal(data, want, n);
    free(data);
}

static const ss_hub_file *find_file(const ss_hub_listing *l, const char *path) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->files[i].path, path) == 0) return &l->files[i];
    fail_msg("%s not listed", path);
    return NULL;
}

static nlink_t links_of(const char *dir, const char *path) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    return sb.st_nlink;
}

static json_t *manifest_of(const char *out) {
    char p[700];
    snprintf(p, sizeof p, "%s/.slidesparse-download.json", out);
    json_t *m = NULL;
    if (ss_json_load(p, &m) != SS_OK) fail_msg("%s", ss_errmsg());
    return m;
}

/* ---------------------------------------------------------------- reuse */

static void test_cached_files_are_reused_not_downloaded(void **state) {
    (void)state;
    char root[512], out[512];
    out_path(root, sizeof root, "hf-full");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS | SNAPSHOT | REFS, &l);
    setenv("HF_HUB_CACHE", root, 1);
    out_path(out, sizeof out, "from-cache");
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 0);
    assert_non_null(strstr(log, "model.safetensors  3.1 MB  from the Hugging Face cache (verified, hard-linked)"));
    assert_non_null(strstr(log, "config.json  731 B  from the Hugging Face cache (verified, copied)"));
    free(log);
    assert_basic_complete(out);
    assert_no_file_requests();
    /* The weights share the cache's blob; the small files are copies a
     * user may edit without touching the cache. */
    assert_int_equal(links_of(out, "model.safetensors"), 2);
    assert_int_equal(links_of(out, "config.json"), 1);

    /* The cache is as it was: every blob intact, the snapshot still links. */
    for (int i = 0; i < l.n; i++) {
        unsigned char *want = expected_bytes("test/basic", l.files[i].path, (size_t)l.files[i].size);
        assert_blob(root, "test/basic", &l.files[i], want);
        free(want);
    }
    char dir[1024], snap[2048];
    repo_dir(dir, sizeof dir, root, "test/basic");
    snprintf(snap, sizeof snap, "%s/snapshots/%s/model.safetensors", dir, l.commit);
    struct stat sb;
    assert_int_equal(lstat(snap, &sb), 0);
    assert_true(S_ISLNK(sb.st_mode));
    ss_hub_listing_free(&l);
}

static void test_damaged_cached_file_is_not_trusted(void **state) {
    (void)state;
    char root[512], out[512], dir[1024], blob[2048];
    out_path(root, sizeof root, "hf-damaged");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS | SNAPSHOT | REFS, &l);
    const ss_hub_file *model = find_file(&l, "model.safetensors");
    /* One flipped byte, same size: only the hash can tell. */
    unsigned char *bad = expected_bytes("test/basic", "model.safetensors", BASIC_MODEL);
    bad[BASIC_MODEL / 2] ^= 0x01;
    repo_dir(dir, sizeof dir, root, "test/basic");
    snprintf(blob, sizeof blob, "%s/blobs", dir);
    put_file(blob, model->lfs_sha256, bad, BASIC_MODEL);
    setenv("HF_HUB_CACHE", root, 1);

    out_path(out, sizeof out, "damaged");
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 0);
    assert_non_null(strstr(log, "does not match the listing's SHA-256; not using it"));
    free(log);
    assert_basic_complete(out);
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/basic", "model.safetensors"), 1); /* downloaded */
    assert_null(file_stats(stats, "test/basic", "config.json"));             /* from the cache */
    json_decref(stats);
    assert_int_equal(links_of(out, "model.safetensors"), 1);
    assert_blob(root, "test/basic", model, bad); /* left as it was: not ours to repair */
    free(bad);
    ss_hub_listing_free(&l);
}

/* A blob is named by its content's hash: one kept for another commit's
 * snapshot serves this commit too. */
static void test_blob_without_snapshot_is_reused(void **state) {
    (void)state;
    char root[512], out[512];
    out_path(root, sizeof root, "hf-blobs");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS, &l);
    ss_hub_listing_free(&l);
    setenv("HF_HUB_CACHE", root, 1);
    out_path(out, sizeof out, "from-blobs");
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_no_file_requests();
}

static void test_cache_location_follows_the_environment(void **state) {
    (void)state;
    char base[512], root[700], out[512];
    const char *home = getenv("HOME");
    char saved_home[1024] = "";
    if (home) snprintf(saved_home, sizeof saved_home, "%s", home);
    unsetenv("HF_HUB_CACHE");
    unsetenv("XDG_CACHE_HOME");
    ss_hub_listing l;

    /* $HF_HOME/hub */
    out_path(base, sizeof base, "hfhome");
    snprintf(root, sizeof root, "%s/hub", base);
    make_cache(root, "test/basic", BLOBS | SNAPSHOT, &l);
    ss_hub_listing_free(&l);
    setenv("HF_HOME", base, 1);
    out_path(out, sizeof out, "via-hf-home");
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_no_file_requests();
    unsetenv("HF_HOME");

    /* $XDG_CACHE_HOME/huggingface/hub */
    out_path(base, sizeof base, "xdg");
    snprintf(root, sizeof root, "%s/huggingface/hub", base);
    make_cache(root, "test/paged", BLOBS | SNAPSHOT, &l);
    ss_hub_listing_free(&l);
    setenv("XDG_CACHE_HOME", base, 1);
    out_path(out, sizeof out, "via-xdg");
    if (download("test/paged", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact(out, "test/paged", "f3.txt", 103);
    assert_no_file_requests();
    unsetenv("XDG_CACHE_HOME");

    /* ~/.cache/huggingface/hub */
    out_path(base, sizeof base, "home");
    snprintf(root, sizeof root, "%s/.cache/huggingface/hub", base);
    make_cache(root, "test/gone", BLOBS | SNAPSHOT, &l); /* test/gone's lost.bin: listed, never served */
    ss_hub_listing_free(&l);
    setenv("HOME", base, 1);
    out_path(out, sizeof out, "via-home");
    ss_status st = download("test/gone", out);
    if (saved_home[0])
        setenv("HOME", saved_home, 1);
    else
        unsetenv("HOME");
    assert_int_equal(st, SS_OK);
    assert_file_exact(out, "test/gone", "lost.bin", 64);
    assert_no_file_requests();
}

/* A partial download whose file is a hard link (say, to a user's file) is
 * never appended to or truncated: that would change the other path too. */
static void test_a_shared_file_is_never_written_through(void **state) {
    (void)state;
    char out[512], partial[600], victim[600], link_path[800];
    out_path(out, sizeof out, "shared");
    snprintf(partial, sizeof partial, "%s.partial", out);
    out_path(victim, sizeof victim, "victim.bin");
    const size_t have = 1024 * 1024;
    unsigned char *model = expected_bytes("test/basic", "model.safetensors", BASIC_MODEL);
    char parent[600];
    out_path(parent, sizeof parent, "");
    put_file(parent, "victim.bin", model, have); /* a prefix: what a resume would append to */
    assert_int_equal(ss_mkdir_p(partial), SS_OK);
    snprintf(link_path, sizeof link_path, "%s/model.safetensors", partial);
    assert_int_equal(link(victim, link_path), 0);

    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_int_equal(ss_file_size(victim), (int64_t)have);
    char *data = NULL;
    size_t n = 0;
    assert_int_equal(ss_read_file(victim, &data, &n), SS_OK);
    assert_memory_equal(data, model, have);
    free(data);
    free(model);
    json_t *stats = server_json("/_stats");
    assert_string_equal(file_range(stats, "test/basic", "model.safetensors", 0), ""); /* fetched whole */
    json_decref(stats);
}

/* ---------------------------------------------------------------- offline */

static void test_offline_uses_only_the_cache(void **state) {
    (void)state;
    char root[512], out[512], c0[41];
    commit_id("test/basic", 0, c0);
    out_path(root, sizeof root, "hf-offline");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS | SNAPSHOT | REFS | TREE, &l);
    ss_hub_listing_free(&l);
    setenv("HF_HUB_CACHE", root, 1);
    setenv("HF_HUB_OFFLINE", "1", 1); /* HF_ENDPOINT still names the fake hub: it must see nothing */
    out_path(out, sizeof out, "offline");
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_no_requests_at_all();
    json_t *m = manifest_of(out);
    assert_string_equal(json_string_value(json_object_get(m, "commit")), c0);
    assert_string_equal(json_string_value(json_object_get(m, "listing")), "cache-tree");
    json_decref(m);

    /* Done already: still no request. */
    assert_int_equal(download("test/basic", out), SS_OK);
    /* A commit as the revision needs no refs/ entry. */
    ss_hub_options opt = {.revision = c0};
    out_path(out, sizeof out, "offline-commit");
    if (ss_hub_download("test/basic", out, &opt) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    /* TRANSFORMERS_OFFLINE=1 means the same (as in huggingface_hub). */
    unsetenv("HF_HUB_OFFLINE");
    setenv("TRANSFORMERS_OFFLINE", "1", 1);
    out_path(out, sizeof out, "offline-transformers");
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_no_requests_at_all();
}

static void test_offline_snapshot_without_listing(void **state) {
    (void)state;
    char root[512], out[512], dir[1024], nested[2048];
    out_path(root, sizeof root, "hf-snapshot");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS | SNAPSHOT | REFS, &l);
    /* A snapshot holding only some of the repo (huggingface_hub fetched
     * what transformers asked for). */
    repo_dir(dir, sizeof dir, root, "test/basic");
    snprintf(nested, sizeof nested, "%s/snapshots/%s/sub/dir/nested.txt", dir, l.commit);
    assert_int_equal(unlink(nested), 0);
    ss_hub_listing_free(&l);
    setenv("HF_HUB_CACHE", root, 1);
    setenv("HF_HUB_OFFLINE", "1", 1);
    out_path(out, sizeof out, "offline-snapshot");
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 0);
    assert_non_null(strstr(log, "the cache has no listing of commit"));
    assert_non_null(strstr(log, "the repo may hold more"));
    free(log);
    assert_no_requests_at_all();
    assert_file_exact(out, "test/basic", "config.json", 731);
    assert_file_exact(out, "test/basic", "model.safetensors", BASIC_MODEL);
    json_t *m = manifest_of(out);
    assert_string_equal(json_string_value(json_object_get(m, "listing")), "cache-snapshot");
    json_decref(m);

    /* Online again, such a folder is checked against the hub's listing. */
    unsetenv("HF_HUB_OFFLINE");
    assert_int_equal(download("test/basic", out), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "sub/dir/nested.txt is missing"));
}

static void test_offline_without_the_files_fails_clearly(void **state) {
    (void)state;
    char root[512], out[512], dir[1024], blob[2048];
    setenv("HF_HUB_OFFLINE", "1", 1);
    out_path(out, sizeof out, "offline-none");
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 1);
    assert_non_null(strstr(log, "test/basic@main: HF_HUB_OFFLINE is set and the Hugging Face cache"));
    assert_non_null(strstr(log, "no-cache has no copy of the repo; unset HF_HUB_OFFLINE to download it"));
    free(log);
    assert_no_requests_at_all();
    assert_false(ss_path_exists(out));

    /* The repo is cached, but not that revision. */
    out_path(root, sizeof root, "hf-partial");
    unsetenv("HF_HUB_OFFLINE");
    ss_hub_listing l;
    make_cache(root, "test/basic", BLOBS | SNAPSHOT | REFS | TREE, &l);
    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_HUB_CACHE", root, 1);
    ss_hub_options opt = {.revision = "v1.0"};
    assert_int_equal(ss_hub_download("test/basic", out, &opt), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "has no refs/ entry for that revision"));

    /* The listing names a file whose blob is gone: that file is named. */
    const ss_hub_file *nested = find_file(&l, "sub/dir/nested.txt");
    repo_dir(dir, sizeof dir, root, "test/basic");
    snprintf(blob, sizeof blob, "%s/blobs/%s", dir, nested->git_oid);
    assert_int_equal(unlink(blob), 0);
    ss_hub_listing_free(&l);
    assert_int_equal(download("test/basic", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/basic/sub/dir/nested.txt: not in the Hugging Face cache"));
    assert_non_null(strstr(ss_errmsg(), "HF_HUB_OFFLINE is set"));
    assert_false(ss_path_exists(out));
    assert_no_requests_at_all();
}

static void test_offline_value_is_checked(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "offline-maybe");
    setenv("HF_HUB_OFFLINE", "maybe", 1);
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 2);
    assert_non_null(strstr(log, "HF_HUB_OFFLINE='maybe': expected 1 or 0"));
    free(log);
    /* "0" is online. */
    setenv("HF_HUB_OFFLINE", "0", 1);
    if (download("test/paged", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact(out, "test/paged", "f0.txt", 100);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_cached_files_are_reused_not_downloaded, reset_each),
        cmocka_unit_test_setup(test_damaged_cached_file_is_not_trusted, reset_each),
        cmocka_unit_test_setup(test_blob_without_snapshot_is_reused, reset_each),
        cmocka_unit_test_setup(test_cache_location_follows_the_environment, reset_each),
        cmocka_unit_test_setup(test_a_shared_file_is_never_written_through, reset_each),
        cmocka_unit_test_setup(test_offline_uses_only_the_cache, reset_each),
        cmocka_unit_test_setup(test_offline_snapshot_without_listing, reset_each),
        cmocka_unit_test_setup(test_offline_without_the_files_fails_clearly, reset_each),
        cmocka_unit_test_setup(test_offline_value_is_checked, reset_each),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
