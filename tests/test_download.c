/* hub client against tests/hub_server.py, a fake hub on 127.0.0.1: the
 * revision pinned to one commit, listing (with pagination), redirects, Range
 * resume after a cut-off transfer or a killed run, SHA-256 / size checks,
 * tokens and gated repos, 404s, retries and Retry-After, refusals naming the
 * host, progress lines, and failing fast without a network. The Hugging Face
 * cache and HF_HUB_OFFLINE are test_hub_cache.c's.
 *
 * Every served file's content is computed by the test itself (hub_fixture.h)
 * and compared with what landed on disk. */
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/status.h"
#include "core/timer.h"
#include "hub_fixture.h"
#include "io/hub.h"

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
    char terms[256];
    snprintf(terms, sizeof terms, "accepted its terms at %s/test/gated", g_endpoint);
    /* The real hub: 401 GatedRepo without a token... */
    assert_int_equal(download("test/gated", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/gated: a gated repo, it needs a token (set HF_TOKEN)"));
    assert_non_null(strstr(ss_errmsg(), terms));
    assert_non_null(strstr(ss_errmsg(), "HTTP 401 from 127.0.0.1"));
    assert_false(ss_path_exists(out));

    /* ...403 GatedRepo with one that has no access. */
    setenv("HF_TOKEN", "wrong-token", 1);
    assert_int_equal(download("test/gated", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "access denied with the given HF_TOKEN (HTTP 403 from 127.0.0.1"));
    assert_non_null(strstr(ss_errmsg(), "terms accepted on"));

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

/* ---------------------------------------------------------------- no network */

static void test_unreachable_host_fails_fast(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "offline");
    setenv("HF_ENDPOINT", "http://127.0.0.1:1", 1);
    unsetenv("SS_HUB_BACKOFF_MS"); /* the default backoff: 1 s, doubling */
    double t0 = ss_now();
    assert_int_equal(download("test/basic", out), SS_ERR_NET);
    double dt = ss_now() - t0;
    assert_non_null(strstr(ss_errmsg(), "cannot reach http://127.0.0.1:1"));
    assert_non_null(strstr(ss_errmsg(), "slidesparse synth"));
    assert_non_null(strstr(ss_errmsg(), "HF_HUB_OFFLINE=1"));
    assert_true(dt < 2.0); /* one quick retry, not five with backoff */
    assert_false(ss_path_exists(out));

    /* The same through the command: exit code 1, one retry said. */
    const char *args[] = {"download", "--repo", "test/basic", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 1);
    assert_int_equal(count_of(log, "one quick retry"), 1);
    assert_int_equal(count_of(log, "error: "), 1);
    assert_non_null(strstr(log, "cannot reach http://127.0.0.1:1"));
    free(log);
}

static void test_unresolvable_host_fails_fast(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "nodns");
    setenv("HF_ENDPOINT", "http://no-such-host.invalid", 1); /* RFC 2606: never resolves */
    unsetenv("SS_HUB_BACKOFF_MS");
    double t0 = ss_now();
    assert_int_equal(download("test/basic", out), SS_ERR_NET);
    double dt = ss_now() - t0;
    assert_non_null(strstr(ss_errmsg(), "cannot reach http://no-such-host.invalid"));
    assert_non_null(strstr(ss_errmsg(), "resolve"));
    assert_true(dt < 3.0); /* a failing lookup answers at once; one quick retry */
    assert_false(ss_path_exists(out));
}

/* A host that never completes a TCP handshake: a listening socket whose
 * accept queue is full drops further SYNs. */
static void test_silent_host_times_out_once(void **state) {
    (void)state;
    int srv = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv, 0), 0);
    assert_int_equal(getsockname(srv, (struct sockaddr *)&a, &alen), 0);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        assert_true(fill[i] >= 0);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    usleep(100000);
    char ep[64], out[512];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    setenv("HF_ENDPOINT", ep, 1);
    out_path(out, sizeof out, "silent");
    ss_hub_options opt = {.connect_timeout_ms = 1000};
    double t0 = ss_now();
    assert_int_equal(ss_hub_download("test/basic", out, &opt), SS_ERR_NET);
    double dt = ss_now() - t0;
    print_message("  -> %s (%.2f s)\n", ss_errmsg(), dt);
    assert_non_null(strstr(ss_errmsg(), "cannot reach"));
    assert_non_null(strstr(ss_errmsg(), ep));
    assert_true(dt >= 0.9);
    assert_true(dt < 1.9); /* one connect timeout, no retry */
    for (int i = 0; i < 4; i++) close(fill[i]);
    close(srv);
}

/* ---------------------------------------------------------------- one commit */

static json_t *manifest_of(const char *out) {
    char p[700];
    snprintf(p, sizeof p, "%s/.slidesparse-download.json", out);
    json_t *m = NULL;
    if (ss_json_load(p, &m) != SS_OK) fail_msg("%s", ss_errmsg());
    return m;
}

static const char *jstr(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

/* test/moving's main moves from commit 0 to commit 1 right after the client
 * asks what it is: every later request must name commit 0. */
static void test_branch_is_resolved_to_one_commit(void **state) {
    (void)state;
    char out[512], added[700], c0[41], c1[41];
    commit_id("test/moving", 0, c0);
    commit_id("test/moving", 1, c1);
    out_path(out, sizeof out, "moving");
    if (download("test/moving", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact_gen(out, "test/moving", "config.json", 300, 0);
    assert_file_exact_gen(out, "test/moving", "model.safetensors", 200000, 0);
    snprintf(added, sizeof added, "%s/added.txt", out);
    assert_false(ss_path_exists(added)); /* commit 1's file */
    json_t *m = manifest_of(out);
    assert_string_equal(jstr(m, "revision"), "main");
    assert_string_equal(jstr(m, "commit"), c0);
    json_decref(m);

    json_t *stats = server_json("/_stats");
    json_t *api = json_object_get(stats, "api");
    assert_int_equal(json_array_size(api), 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 0), 0)), "revision");
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 0), 2)), "main");
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 1), 0)), "tree");
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 1), 2)), c0);
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        json_t *revs = json_object_get(file_stats(stats, "test/moving", files[i]), "revs");
        assert_int_equal(json_array_size(revs), 1);
        assert_string_equal(json_string_value(json_array_get(revs, 0)), c0);
    }
    json_decref(stats);

    /* main is commit 1 now: a new download gets all of commit 1. */
    out_path(out, sizeof out, "moving-later");
    if (download("test/moving", out) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_file_exact_gen(out, "test/moving", "config.json", 300, 1);
    assert_file_exact_gen(out, "test/moving", "model.safetensors", 200000, 1);
    assert_file_exact_gen(out, "test/moving", "added.txt", 40, 1);
    m = manifest_of(out);
    assert_string_equal(jstr(m, "commit"), c1);
    json_decref(m);
}

static void test_tag_and_commit_revisions(void **state) {
    (void)state;
    char out[512], c0[41];
    commit_id("test/basic", 0, c0);
    ss_hub_options opt = {.revision = "v1.0", .quiet = 1};
    ss_hub_listing l;
    if (ss_hub_list("test/basic", &opt, &l) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_string_equal(l.commit, c0);
    assert_int_equal(l.n, 3);
    ss_hub_listing_free(&l);

    out_path(out, sizeof out, "tag");
    if (ss_hub_download("test/basic", out, &opt) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    json_t *m = manifest_of(out);
    assert_string_equal(jstr(m, "revision"), "v1.0");
    assert_string_equal(jstr(m, "commit"), c0);
    json_decref(m);

    /* A commit is immutable: nothing to resolve, it is used as it is. */
    server_reset();
    opt.revision = c0;
    out_path(out, sizeof out, "commit");
    if (ss_hub_download("test/basic", out, &opt) != SS_OK) fail_msg("%s", ss_errmsg());
    assert_basic_complete(out);
    json_t *stats = server_json("/_stats");
    json_t *api = json_object_get(stats, "api");
    assert_int_equal(json_array_size(api), 1);
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 0), 0)), "tree");
    assert_string_equal(json_string_value(json_array_get(json_array_get(api, 0), 2)), c0);
    json_decref(stats);
    /* ...and a folder of commit c0 is complete for c0. */
    assert_int_equal(ss_hub_download("test/basic", out, &opt), SS_OK);
}

/* ---------------------------------------------------------------- refusals */

static void test_retry_after_is_honoured(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "retry");
    const char *args[] = {"download", "--repo", "test/retry", "--out", out, NULL};
    char *log = NULL;
    double t0 = ss_now();
    assert_int_equal(run_cli(&log, args), 0);
    double dt = ss_now() - t0;
    /* The backoff is 10 ms here: only the servers' Retry-After (1 s, and a
     * date 2 s ahead: 1-2 s) can make it take this long. */
    assert_true(dt >= 1.9);
    assert_non_null(strstr(log, "ra.bin: HTTP 429 from 127.0.0.1 (rate limited); waiting 1 s as its Retry-After asks"));
    assert_non_null(strstr(log, "date.bin: HTTP 503 from 127.0.0.1 (server busy); waiting "));
    assert_int_equal(count_of(log, "as its Retry-After asks"), 2);
    free(log);
    assert_file_exact(out, "test/retry", "ra.bin", 3000);
    assert_file_exact(out, "test/retry", "date.bin", 70000);
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/retry", "ra.bin"), 2);
    assert_int_equal(file_gets(stats, "test/retry", "date.bin"), 2);
    json_decref(stats);
}

static void test_retry_after_beyond_the_bound_fails_now(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "huge");
    const char *args[] = {"download", "--repo", "test/huge", "--out", out, NULL};
    char *log = NULL;
    assert_int_equal(run_cli(&log, args), 1);
    assert_non_null(strstr(log, "model.safetensors: HTTP 429 from 127.0.0.1 (rate limited) asks to wait 100000 s"));
    assert_non_null(strstr(log, "waits at most 900 s in all"));
    assert_non_null(strstr(log, "SS_HUB_MAX_WAIT_S"));
    assert_non_null(strstr(log, "run the same command later"));
    free(log);
    assert_false(ss_path_exists(out));

    /* It stops at once, without a retry (a wait would be seconds here). */
    setenv("SS_HUB_MAX_WAIT_S", "50", 1);
    server_reset();
    double t0 = ss_now();
    assert_int_equal(download("test/huge", out), SS_ERR_NET);
    assert_true(ss_now() - t0 < 10.0);
    assert_non_null(strstr(ss_errmsg(), "waits at most 50 s in all"));
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/huge", "model.safetensors"), 1);
    json_decref(stats);
}

static void test_rate_limit_names_the_host(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "limited");
    assert_int_equal(download("test/limited", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/limited/config.json: rate limited by 127.0.0.1 (HTTP 429"));
    assert_non_null(strstr(ss_errmsg(), "after 5 retries"));
    assert_non_null(strstr(ss_errmsg(), "HF_TOKEN"));
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/limited", "config.json"), 6);
    json_decref(stats);
    assert_false(ss_path_exists(out));
}

/* The hub redirects an LFS file to a storage host ("localhost" here); when
 * that host refuses, the message names it and does not blame the token. */
static void test_storage_host_refusal_names_the_host(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "cdn403");
    assert_int_equal(download("test/cdn403", out), SS_ERR_NET);
    assert_non_null(strstr(ss_errmsg(), "test/cdn403/model.safetensors: refused by localhost (HTTP 403"));
    assert_non_null(strstr(ss_errmsg(), "not the hub"));
    assert_null(strstr(ss_errmsg(), "HF_TOKEN"));
    json_t *stats = server_json("/_stats");
    assert_int_equal(file_gets(stats, "test/cdn403", "model.safetensors"), 1); /* a refusal is not retried */
    json_decref(stats);
    assert_false(ss_path_exists(out));
}

/* ---------------------------------------------------------------- progress */

static void test_progress_lines_when_stderr_is_not_a_terminal(void **state) {
    (void)state;
    char out[512];
    out_path(out, sizeof out, "slow");
    const char *args[] = {"download", "--repo", "test/slow", "--out", out, NULL};
    char *log = NULL;
    /* test/slow trickles 1 MB over about 1 s. With a 0.2 s period: a line
     * every 0.2 s or 10% of the file, never more often than 0.04 s. */
    setenv("SS_HUB_PROGRESS_S", "0.2", 1);
    double t0 = ss_now();
    assert_int_equal(run_cli(&log, args), 0);
    double dt = ss_now() - t0;
    int lines = count_of(log, "  [1/1] model.safetensors  ");
    int progress = count_of(log, "%)");
    print_message("  %d progress lines in %.1f s\n", progress, dt);
    assert_true(progress >= 4);
    assert_true(progress <= 10 + (int)(dt / 0.2) + 1); /* tenths, and periods of a slower run */
    assert_int_equal(lines, progress + 1); /* and the final line */
    assert_non_null(strstr(log, "  [1/1] model.safetensors  1.0 MB  done, "));
    assert_non_null(strstr(log, "s left"));
    free(log);
    assert_file_exact(out, "test/slow", "model.safetensors", 1000000);

    /* The default (5 s, or 10% but not within 1 s): a 1 s file gets at most one. */
    unsetenv("SS_HUB_PROGRESS_S");
    assert_int_equal(ss_rm_rf(out), SS_OK);
    server_reset();
    assert_int_equal(run_cli(&log, args), 0);
    assert_true(count_of(log, "%)") <= 1);
    assert_non_null(strstr(log, "  [1/1] model.safetensors  1.0 MB  done, "));
    free(log);
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
        cmocka_unit_test_setup(test_unresolvable_host_fails_fast, reset_each),
        cmocka_unit_test_setup(test_silent_host_times_out_once, reset_each),
        cmocka_unit_test_setup(test_branch_is_resolved_to_one_commit, reset_each),
        cmocka_unit_test_setup(test_tag_and_commit_revisions, reset_each),
        cmocka_unit_test_setup(test_retry_after_is_honoured, reset_each),
        cmocka_unit_test_setup(test_retry_after_beyond_the_bound_fails_now, reset_each),
        cmocka_unit_test_setup(test_rate_limit_names_the_host, reset_each),
        cmocka_unit_test_setup(test_storage_host_refusal_names_the_host, reset_each),
        cmocka_unit_test_setup(test_progress_lines_when_stderr_is_not_a_terminal, reset_each),
        cmocka_unit_test_setup(test_paginated_listing_gets_every_file, reset_each),
        cmocka_unit_test_setup(test_unsafe_listed_path_is_refused, reset_each),
        cmocka_unit_test_setup(test_incomplete_existing_folder_is_reported, reset_each),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
