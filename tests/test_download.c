/* hub client against tests/hub_server.py, a fake hub on 127.0.0.1: listing
 * (with pagination), redirects, Range resume after a cut-off transfer or a
 * killed run, SHA-256 / size checks, tokens, 404s, retries, no network.
 *
 * Every served file holds SHAKE-256("<repo>/<path>") truncated to its size;
 * the test computes those bytes itself and compares them with what landed on
 * disk. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/status.h"
#include "core/timer.h"
#include "io/hub.h"

static char g_tmp[256];
static char g_endpoint[128];
static pid_t g_server = -1;

/* ---------------------------------------------------------------- helpers */

static unsigned char *expected_bytes(const char *repo, const char *path, size_t n) {
    char name[512];
    snprintf(name, sizeof name, "%s/%s", repo, path);
    unsigned char *out = malloc(n ? n : 1);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_non_null(out);
    assert_non_null(md);
    assert_int_equal(EVP_DigestInit_ex(md, EVP_shake256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(md, name, strlen(name)), 1);
    assert_int_equal(EVP_DigestFinalXOF(md, out, n), 1);
    EVP_MD_CTX_free(md);
    return out;
}

/* The file <dir>/<path> holds exactly the bytes the server serves. */
static void assert_file_exact(const char *dir, const char *repo, const char *path, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    char *data = NULL;
    size_t len = 0;
    if (ss_read_file(p, &data, &len) != SS_OK) fail_msg("%s: %s", p, ss_errmsg());
    assert_int_equal(len, n);
    unsigned char *want = expected_bytes(repo, path, n);
    assert_memory_equal(data, want, n);
    free(want);
    free(data);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    size_t n = size * nmemb;
    char **buf = ud;
    size_t old = *buf ? strlen(*buf) : 0;
    char *p = realloc(*buf, old + n + 1);
    assert_non_null(p);
    memcpy(p + old, ptr, n);
    p[old + n] = '\0';
    *buf = p;
    return n;
}

/* GETs a test hook of the server (/_stats, /_reset) as JSON. */
static json_t *server_json(const char *hook) {
    char url[256];
    snprintf(url, sizeof url, "%s%s", g_endpoint, hook);
    char *body = NULL;
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    assert_non_null(body);
    json_t *j = json_loads(body, 0, NULL);
    free(body);
    assert_non_null(j);
    return j;
}

static void server_reset(void) { json_decref(server_json("/_reset")); }

/* From /_stats: the record of one served file (borrowed from *stats). */
static json_t *file_stats(json_t *stats, const char *repo, const char *path) {
    char key[512];
    snprintf(key, sizeof key, "%s/%s", repo, path);
    return json_object_get(json_object_get(stats, "files"), key);
}

static int file_gets(json_t *stats, const char *repo, const char *path) {
    return (int)json_integer_value(json_object_get(file_stats(stats, repo, path), "gets"));
}

/* The Range header of the i-th GET of a file ("" if none). */
static const char *file_range(json_t *stats, const char *repo, const char *path, size_t i) {
    json_t *r = json_array_get(json_object_get(file_stats(stats, repo, path), "ranges"), i);
    assert_non_null(r);
    return json_is_string(r) ? json_string_value(r) : "";
}

static void out_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_tmp, name); }

/* Downloads with default options; a failure's message goes to the test log. */
static ss_status download(const char *repo, const char *out) {
    ss_status st = ss_hub_download(repo, out, NULL);
    if (st != SS_OK) print_message("  -> %s: %s\n", ss_status_name(st), ss_errmsg());
    return st;
}

/* Writes `n` bytes of `data` to <dir>/<path>, creating folders. */
static void put_file(const char *dir, const char *path, const void *data, size_t n) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    char parent[1024];
    snprintf(parent, sizeof parent, "%s", p);
    *strrchr(parent, '/') = '\0';
    assert_int_equal(ss_mkdir_p(parent), SS_OK);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* ---------------------------------------------------------------- fixture */

static int start_server(void **state) {
    (void)state;
    const char *src = getenv("SS_SRC");
    if (!src) {
        fprintf(stderr, "SS_SRC (the source root) is not set\n");
        return -1;
    }
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(g_tmp, sizeof g_tmp, "%s/ss_test_download.XXXXXX", base);
    if (!mkdtemp(g_tmp)) return -1;
    char script[1024], portfile[512];
    snprintf(script, sizeof script, "%s/tests/hub_server.py", src);
    snprintf(portfile, sizeof portfile, "%s/port", g_tmp);
    g_server = fork();
    if (g_server < 0) return -1;
    if (g_server == 0) {
        execlp("python3", "python3", script, "--port", "0", "--portfile", portfile, (char *)NULL);
        _exit(127);
    }
    int port = 0;
    for (int i = 0; i < 200 && port == 0; i++) { /* up to 10 s for python to start */
        FILE *f = fopen(portfile, "r");
        if (f) {
            if (fscanf(f, "%d", &port) != 1) port = 0;
            fclose(f);
        }
        if (port == 0) {
            int status;
            if (waitpid(g_server, &status, WNOHANG) == g_server) {
                fprintf(stderr, "hub_server.py exited early (status %d)\n", status);
                g_server = -1;
                return -1;
            }
            usleep(50000);
        }
    }
    if (port == 0) return -1;
    snprintf(g_endpoint, sizeof g_endpoint, "http://127.0.0.1:%d", port);
    setenv("HF_ENDPOINT", g_endpoint, 1);
    setenv("SS_HUB_BACKOFF_MS", "10", 1);
    unsetenv("HF_TOKEN");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

static int stop_server(void **state) {
    (void)state;
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
    }
    curl_global_cleanup();
    ss_rm_rf(g_tmp);
    return 0;
}

static int reset_each(void **state) {
    (void)state;
    setenv("HF_ENDPOINT", g_endpoint, 1);
    unsetenv("HF_TOKEN");
    server_reset();
    return 0;
}

/* ---------------------------------------------------------------- tests */

enum { BASIC_MODEL = 3 * 1024 * 1024 + 17 };

static void assert_basic_complete(const char *out) {
    assert_file_exact(out, "test/basic", "config.json", 731);
    assert_file_exact(out, "test/basic", "sub/dir/nested.txt", 1234);
    assert_file_exact(out, "test/basic", "model.safetensors", BASIC_MODEL);
}

static void test_download_basic_repo(void **state) {
    (void)state;
    char out[512], partial[600];
    out_path(out, sizeof out, "basic");
    snprintf(partial, sizeof partial, "%s.partial", out);
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_false(ss_path_exists(partial));

    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/basic", "model.safetensors"), 1);
    assert_string_equal(file_range(stats, "test/basic", "model.safetensors", 0), "");
    json_decref(stats);

    /* A second run finds it complete and fetches nothing, even offline. */
    server_reset();
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    setenv("HF_ENDPOINT", g_endpoint, 1);
    stats = server_json("/_stats");
    assert_int_equal(json_object_size(json_object_get(stats, "files")), 0);
    json_decref(stats);
    assert_basic_complete(out);

    /* The same folder asked for another repo is refused, not overwritten. */
    assert_int_equal(download("test/paged", out), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "test/basic"));
    assert_basic_complete(out);
}

static void test_listing_skips_folders_and_keeps_hashes(void **state) {
    (void)state;
    ss_hub_listing l;
    if (ss_hub_list("test/basic", NULL, &l) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_int_equal(l.n, 3); /* 3 files; the 2 directory entries are skipped */
    int seen = 0;
    for (int i = 0; i < l.n; i++) {
        const ss_hub_file *f = &l.files[i];
        if (strcmp(f->path, "model.safetensors") == 0) {
            seen |= 1;
            assert_int_equal(f->size, BASIC_MODEL);
            assert_non_null(f->lfs_sha256);
            assert_int_equal(strlen(f->lfs_sha256), 64);
            assert_null(f->git_oid); /* the top-level oid is the pointer's */
        } else if (strcmp(f->path, "sub/dir/nested.txt") == 0) {
            seen |= 2;
            assert_int_equal(f->size, 1234);
            assert_null(f->lfs_sha256);
            assert_non_null(f->git_oid);
            assert_int_equal(strlen(f->git_oid), 40);
        }
    }
    assert_int_equal(seen, 3);
    ss_hub_listing_free(&l);
}

static void test_cut_off_transfer_resumes_with_range(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "flaky");
    if (download("test/flaky", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact(out, "test/flaky", "big.bin", 2 * 1024 * 1024 + 5);
    assert_file_exact(out, "test/flaky", "small.txt", 4000);
    assert_file_exact(out, "test/flaky", "busy.bin", 70000);
    assert_file_exact(out, "test/flaky", "rate.json", 500);

    json_t *stats = server_json("/_stats");
    /* big.bin: the first GET was cut off half-way; the second asked for the rest. */
    assert_int_equal(file_gets(stats, "test/flaky", "big.bin"), 2);
    assert_string_equal(file_range(stats, "test/flaky", "big.bin", 0), "");
    long long from = -1;
    assert_int_equal(sscanf(file_range(stats, "test/flaky", "big.bin", 1), "bytes=%lld-", &from), 1);
    assert_true(from > 0);
    assert_true(from <= (2 * 1024 * 1024 + 5) / 2);
    assert_int_equal(file_gets(stats, "test/flaky", "small.txt"), 2);
    assert_int_equal(sscanf(file_range(stats, "test/flaky", "small.txt", 1), "bytes=%lld-", &from), 1);
    assert_true(from > 0);
    /* 503 and 429 were retried. */
    assert_int_equal(file_gets(stats, "test/flaky", "busy.bin"), 2);
    assert_int_equal(file_gets(stats, "test/flaky", "rate.json"), 2);
    json_decref(stats);
}

static void test_killed_download_resumes(void **state) {
    (void)state;
    char out[512], partial[600];
    out_path(out, sizeof out, "killed");
    snprintf(partial, sizeof partial, "%s.partial", out);
    /* What a run killed part-way leaves: a complete small file, a partial big one. */
    const size_t have = 1024 * 1024 + 11;
    unsigned char *model = expected_bytes("test/basic", "model.safetensors", BASIC_MODEL);
    unsigned char *config = expected_bytes("test/basic", "config.json", 731);
    put_file(partial, "model.safetensors", model, have);
    put_file(partial, "config.json", config, 731);
    free(model);
    free(config);

    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    assert_false(ss_path_exists(partial));
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/basic", "model.safetensors"), 1);
    char want[64];
    snprintf(want, sizeof want, "bytes=%zu-", have);
    assert_string_equal(file_range(stats, "test/basic", "model.safetensors", 0), want);
    assert_null(file_stats(stats, "test/basic", "config.json")); /* already complete: verified, not fetched */
    json_decref(stats);
}

static void test_corrupt_partial_file_is_fetched_again(void **state) {
    (void)state;
    char out[512], partial[600];
    out_path(out, sizeof out, "corrupt");
    snprintf(partial, sizeof partial, "%s.partial", out);
    unsigned char *model = expected_bytes("test/basic", "model.safetensors", BASIC_MODEL);
    model[100] ^= 0x5a; /* one flipped byte in what a previous run kept */
    put_file(partial, "model.safetensors", model, 2 * 1024 * 1024);
    free(model);

    if (download("test/basic", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/basic", "model.safetensors"), 2);
    assert_string_equal(file_range(stats, "test/basic", "model.safetensors", 0), "bytes=2097152-");
    assert_string_equal(file_range(stats, "test/basic", "model.safetensors", 1), "");
    json_decref(stats);
}

static void test_sha256_mismatch_fails_without_output(void **state) {
    (void)state;
    char out[512], bad[700];
    out_path(out, sizeof out, "badsha");
    assert_int_equal(download("test/badsha", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "model.safetensors"));
    assert_non_null(strstr(ss_errmsg(), "SHA-256"));
    assert_false(ss_path_exists(out));
    snprintf(bad, sizeof bad, "%s.partial/model.safetensors", out);
    assert_false(ss_path_exists(bad)); /* wrong bytes are not kept to resume from */
}

static void test_git_blob_mismatch_and_missing_file(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "badblob");
    assert_int_equal(download("test/badblob", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "config.json"));
    assert_non_null(strstr(ss_errmsg(), "git blob SHA-1 mismatch"));
    assert_false(ss_path_exists(out));

    /* Listed but not served: fails at once (one GET, no retries). */
    out_path(out, sizeof out, "gone");
    assert_int_equal(download("test/gone", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/gone/lost.bin: no such file"));
    assert_false(ss_path_exists(out));
}

static void test_token_required(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "gated");
    assert_int_equal(download("test/gated", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/gated"));
    assert_non_null(strstr(ss_errmsg(), "needs a token"));
    assert_non_null(strstr(ss_errmsg(), "HF_TOKEN"));
    assert_false(ss_path_exists(out));

    setenv("HF_TOKEN", "wrong-token", 1);
    assert_int_equal(download("test/gated", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "access denied"));

    setenv("HF_TOKEN", "secret-token", 1);
    if (download("test/gated", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact(out, "test/gated", "config.json", 300);
    assert_file_exact(out, "test/gated", "model.safetensors", 1024 * 1024 + 3);
    json_t *stats = server_json("/_stats");
    /* config.json came from the hub with the token; model.safetensors from
     * the "CDN" on another host, which must not see it. */
    json_t *auth = json_object_get(file_stats(stats, "test/gated", "config.json"), "auth");
    assert_string_equal(json_string_value(json_array_get(auth, 0)), "Bearer secret-token");
    auth = json_object_get(file_stats(stats, "test/gated", "model.safetensors"), "auth");
    assert_int_equal(json_array_size(auth), 1);
    assert_true(json_is_null(json_array_get(auth, 0)));
    json_decref(stats);
}

static void test_missing_repo_and_revision(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "nope");
    assert_int_equal(download("test/nope", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/nope"));
    assert_non_null(strstr(ss_errmsg(), "no such repo"));
    assert_false(ss_path_exists(out));

    ss_hub_options opt = {.revision = "v9", .quiet = 1};
    assert_int_equal(ss_hub_download("test/basic", out, &opt), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "no such revision 'v9'"));

    assert_int_equal(ss_hub_download("not a repo", out, &opt), SS_ERR_ARG);
}

static void test_unreachable_host_fails_fast(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "offline");
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    double t0 = ss_now();
    assert_int_equal(download("test/basic", out), SS_ERR_NET);
    double dt = ss_now() - t0;
    assert_non_null(strstr(ss_errmsg(), "cannot reach http://127.0.0.1:1"));
    assert_non_null(strstr(ss_errmsg(), "slidesparse synth"));
    assert_true(dt < 3.0);
    assert_false(ss_path_exists(out));
}

static void test_paginated_listing_gets_every_file(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "paged");
    if (download("test/paged", out) != SS_OK) fail_msg("%s", ss_errmsg());
    for (int i = 0; i < 5; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%d.txt", i);
        assert_file_exact(out, "test/paged", name, (size_t)(100 + i));
    }
    json_t *stats = server_json("/_stats");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(stats, "pages"), "test/paged")), 3);
    json_decref(stats);
}

static void test_unsafe_listed_path_is_refused(void **state) {
    (void)state;
    char out[512], escaped[600];
    out_path(out, sizeof out, "evil/out");
    snprintf(escaped, sizeof escaped, "%s/evil/escape.txt", g_tmp);
    assert_int_equal(download("test/evil", out), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "../escape.txt"));
    assert_false(ss_path_exists(escaped));
    assert_false(ss_path_exists(out));
}

static void test_incomplete_existing_folder_is_reported(void **state) {
    (void)state;
    char out[512], victim[700];
    out_path(out, sizeof out, "incomplete");
    if (download("test/paged", out) != SS_OK) fail_msg("%s", ss_errmsg());
    snprintf(victim, sizeof victim, "%s/f3.txt", out);
    assert_int_equal(unlink(victim), 0);
    assert_int_equal(download("test/paged", out), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "f3.txt"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_download_basic_repo, reset_each),
        cmocka_unit_test_setup(test_listing_skips_folders_and_keeps_hashes, reset_each),
        cmocka_unit_test_setup(test_cut_off_transfer_resumes_with_range, reset_each),
        cmocka_unit_test_setup(test_killed_download_resumes, reset_each),
        cmocka_unit_test_setup(test_corrupt_partial_file_is_fetched_again, reset_each),
        cmocka_unit_test_setup(test_sha256_mismatch_fails_without_output, reset_each),
        cmocka_unit_test_setup(test_git_blob_mismatch_and_missing_file, reset_each),
        cmocka_unit_test_setup(test_token_required, reset_each),
        cmocka_unit_test_setup(test_missing_repo_and_revision, reset_each),
        cmocka_unit_test_setup(test_unreachable_host_fails_fast, reset_each),
        cmocka_unit_test_setup(test_paginated_listing_gets_every_file, reset_each),
        cmocka_unit_test_setup(test_unsafe_listed_path_is_refused, reset_each),
        cmocka_unit_test_setup(test_incomplete_existing_folder_is_reported, reset_each),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
