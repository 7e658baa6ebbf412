/* See hub_fixture.h. */
#include "hub_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "io/hub.h"

char g_tmp[256];
char g_endpoint[128];
static pid_t g_server = -1;

/* ---------------------------------------------------------------- bytes */

unsigned char *expected_bytes_gen(const char *repo, const char *path, size_t n, int gen) {
    char name[512];
    if (gen == 0)
        snprintf(name, sizeof name, "%s/%s", repo, path);
    else
        snprintf(name, sizeof name, "%s/%s@%d", repo, path, gen);
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

unsigned char *expected_bytes(const char *repo, const char *path, size_t n) {
    return expected_bytes_gen(repo, path, n, 0);
}

void commit_id(const char *repo, int gen, char out[41]) {
    char name[512];
    snprintf(name, sizeof name, "commit:%s:%d", repo, gen);
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    assert_int_equal(EVP_Digest(name, strlen(name), d, &n, EVP_sha1(), NULL), 1);
    assert_int_equal(n, 20);
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

void assert_file_exact_gen(const char *dir, const char *repo, const char *path, size_t n, int gen) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, path);
    char *data = NULL;
    size_t len = 0;
    if (ss_read_file(p, &data, &len) != SS_OK) fail_msg("%s: %s", p, ss_errmsg());
    assert_int_equal(len, n);
    unsigned char *want = expected_bytes_gen(repo, path, n, gen);
    assert_memory_equal(data, want, n);
    free(want);
    free(data);
}

void assert_file_exact(const char *dir, const char *repo, const char *path, size_t n) {
    assert_file_exact_gen(dir, repo, path, n, 0);
}

/* ---------------------------------------------------------------- server hooks */

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

json_t *server_json(const char *hook) {
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

void server_reset(void) { json_decref(server_json("/_reset")); }

json_t *file_stats(json_t *stats, const char *repo, const char *path) {
    char key[512];
    snprintf(key, sizeof key, "%s/%s", repo, path);
    return json_object_get(json_object_get(stats, "files"), key);
}

int file_gets(json_t *stats, const char *repo, const char *path) {
    return (int)json_integer_value(json_object_get(file_stats(stats, repo, path), "gets"));
}

const char *file_range(json_t *stats, const char *repo, const char *path, size_t i) {
    json_t *r = json_array_get(json_object_get(file_stats(stats, repo, path), "ranges"), i);
    assert_non_null(r);
    return json_is_string(r) ? json_string_value(r) : "";
}

/* ---------------------------------------------------------------- files */

void out_path(char *buf, size_t cap, const char *name) { snprintf(buf, cap, "%s/%s", g_tmp, name); }

ss_status download(const char *repo, const char *out) {
    ss_status st = ss_hub_download(repo, out, NULL);
    if (st != SS_OK) print_message("  -> %s: %s\n", ss_status_name(st), ss_errmsg());
    return st;
}

void put_file(const char *dir, const char *path, const void *data, size_t n) {
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

/* ---------------------------------------------------------------- the CLI */

int run_cli(char **output, const char *const *args) {
    const char *bin = getenv("SS_BIN");
    if (!bin) fail_msg("SS_BIN (the slidesparse binary) is not set");
    char log[512];
    snprintf(log, sizeof log, "%s/cli.log", g_tmp);
    const char *argv[32] = {bin};
    int argc = 1;
    for (; args[argc - 1] && argc < 31; argc++) argv[argc] = args[argc - 1];
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) _exit(126);
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    size_t n = 0;
    if (ss_read_file(log, output, &n) != SS_OK) fail_msg("%s: %s", log, ss_errmsg());
    print_message("  $ slidesparse %s ... -> exit %d\n%s", args[0], WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                  *output);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

int count_of(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
}

/* ---------------------------------------------------------------- fixture */

static void clean_environment(void) {
    char cache[512];
    snprintf(cache, sizeof cache, "%s/no-cache", g_tmp);
    setenv("HF_ENDPOINT", g_endpoint, 1);
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("SS_HUB_BACKOFF_MS", "10", 1);
    const char *unset[] = {"HF_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HUGGINGFACE_HUB_CACHE",
                           "HF_HOME", "SS_HUB_MAX_WAIT_S", "SS_HUB_PROGRESS_S"};
    for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++) unsetenv(unset[i]);
}

int start_server(void **state) {
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
    clean_environment();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return 0;
}

int stop_server(void **state) {
    (void)state;
    if (g_server > 0) {
        kill(g_server, SIGTERM);
        waitpid(g_server, NULL, 0);
    }
    curl_global_cleanup();
    ss_rm_rf(g_tmp);
    return 0;
}

int reset_each(void **state) {
    (void)state;
    clean_environment();
    server_reset();
    return 0;
}
