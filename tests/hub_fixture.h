/* The fake hub (tests/hub_server.py) and helpers shared by test_download.c
 * and test_hub_cache.c. Every served file of generation 0 holds
 * SHAKE-256("<repo>/<path>") truncated to its size, of generation g > 0
 * SHAKE-256("<repo>/<path>@<g>"); commit g of a repo is
 * SHA-1("commit:<repo>:<g>"). The tests compute both themselves. */
#ifndef SS_TESTS_HUB_FIXTURE_H
#define SS_TESTS_HUB_FIXTURE_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

extern char g_tmp[256];       /* a fresh folder for this test program */
extern char g_endpoint[128];  /* http://127.0.0.1:<port> of the fake hub */

/* cmocka group setup/teardown, and per-test setup: the environment points
 * at the fake hub, with no token, online, and an empty Hugging Face cache
 * (HF_HUB_CACHE=<g_tmp>/no-cache), so the user's own never takes part. */
int start_server(void **state);
int stop_server(void **state);
int reset_each(void **state);

unsigned char *expected_bytes_gen(const char *repo, const char *path, size_t n, int gen); /* malloc'd */
unsigned char *expected_bytes(const char *repo, const char *path, size_t n);              /* generation 0 */
void commit_id(const char *repo, int gen, char out[41]);
/* The file <dir>/<path> holds exactly what the server serves (generation gen). */
void assert_file_exact_gen(const char *dir, const char *repo, const char *path, size_t n, int gen);
void assert_file_exact(const char *dir, const char *repo, const char *path, size_t n);

json_t *server_json(const char *hook); /* GET /_stats or /_reset */
void server_reset(void);
json_t *file_stats(json_t *stats, const char *repo, const char *path); /* borrowed; NULL if never asked for */
int file_gets(json_t *stats, const char *repo, const char *path);
const char *file_range(json_t *stats, const char *repo, const char *path, size_t i); /* "" if no Range */

void out_path(char *buf, size_t cap, const char *name); /* <g_tmp>/<name> */
ss_status download(const char *repo, const char *out);  /* default options; failures go to the test log */
void put_file(const char *dir, const char *path, const void *data, size_t n);

/* Runs the slidesparse binary ($SS_BIN) with args (NULL-terminated, without
 * argv[0]), stdout and stderr into *output (malloc'd); returns its exit code. */
int run_cli(char **output, const char *const *args);
int count_of(const char *text, const char *needle);

#endif
