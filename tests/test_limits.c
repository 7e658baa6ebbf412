/* Limits before allocation and readers that validate, through the real
 * binary ($SS_BIN): config.json dimensions out of bounds (num_hidden_layers
 * 2^31-1 once hung quantize), a config that disagrees with the stored
 * tensors (vocab_size against the embedding rows, num_hidden_layers against
 * the layers present), the parameter count near INT_MAX, an invalid
 * sparsity in slidesparse.json, bad cells in result CSVs read by the
 * report, absurd durations in a state file, and exit code 3 for what this
 * build cannot run. Each is one `error:` line naming the key, file or cell. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/config.h"
#include "run_cli.h"

static char g_root[256], g_bf16[512];

static const char *in_root(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    return buf;
}

static int setup(void **state) {
    (void)state;
    if (find_bin() != 0) return -1;
    snprintf(g_root, sizeof g_root, "/tmp/ss_test_limits_XXXXXX");
    if (!mkdtemp(g_root)) return -1;
    in_root(g_bf16, sizeof g_bf16, "bf16");
    if (run(NULL, "synth", "--arch", "tiny", "--out", g_bf16, NULL) != 0) {
        fprintf(stderr, "%s\n", g_out);
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_root) == SS_OK ? 0 : -1;
}

/* A copy of the tiny checkpoint named `name` whose `file` (config.json or
 * slidesparse.json) has key set to the JSON value `value`. */
static void edited_copy(const char *name, const char *file, const char *key, const char *value, char *dir,
                        size_t cap) {
    in_root(dir, cap, name);
    assert_int_equal(ss_rm_rf(dir), SS_OK);
    assert_int_equal(ss_mkdir_p(dir), SS_OK);
    const char *files[] = {"config.json", "slidesparse.json", "model.safetensors"};
    for (int i = 0; i < 3; i++) {
        char a[700], b[700];
        snprintf(a, sizeof a, "%s/%s", g_bf16, files[i]);
        snprintf(b, sizeof b, "%s/%s", dir, files[i]);
        assert_int_equal(ss_copy_file(a, b), SS_OK);
    }
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_t *j = NULL, *v = json_loads(value, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    assert_int_equal(ss_json_load(path, &j), SS_OK);
    json_object_set_new(j, key, v);
    assert_int_equal(ss_json_save(path, j), SS_OK);
    json_decref(j);
}

/* info and quantize both refuse the folder with `msg`, quickly, and
 * quantize leaves no output. */
static void refused(const char *dir, const char *msg) {
    char out[600];
    snprintf(out, sizeof out, "%s-int8", dir);
    run_env env = {.seconds = 120}; /* a hang is a failure, not a slow pass */
    expect(run(&env, "info", "--model", dir, NULL), 1, msg);
    expect(run(&env, "quantize", "--in", dir, "--out", out, "--dtype", "int8", NULL), 1, msg);
    assert_false(ss_path_exists(out));
    expect(run(&env, "convert", "--in", dir, "--out", out, "--sparsity", "2_8", NULL), 1, msg);
    assert_false(ss_path_exists(out));
    /* one error line */
    const char *first = strstr(g_out, "error: ");
    assert_non_null(first);
    assert_null(strstr(first + 1, "error: "));
}

static void test_config_dimensions_bounded(void **state) {
    (void)state;
    char dir[600];
    edited_copy("layers-huge", "config.json", "num_hidden_layers", "2147483647", dir, sizeof dir);
    refused(dir, "num_hidden_layers = 2147483647 is out of range (1..1024)");
    edited_copy("hidden-huge", "config.json", "hidden_size", "2147483646", dir, sizeof dir);
    refused(dir, "hidden_size = 2147483646 is out of range");
    edited_copy("vocab-huge", "config.json", "vocab_size", "2147483647", dir, sizeof dir);
    refused(dir, "vocab_size = 2147483647 is out of range");
    edited_copy("heads-huge", "config.json", "num_attention_heads", "1048576", dir, sizeof dir);
    refused(dir, "num_attention_heads = 1048576 is out of range");
    edited_copy("ffn-huge", "config.json", "intermediate_size", "1000000000", dir, sizeof dir);
    refused(dir, "intermediate_size = 1000000000 is out of range");
    edited_copy("pos-huge", "config.json", "max_position_embeddings", "2000000000", dir, sizeof dir);
    refused(dir, "max_position_embeddings = 2000000000 is out of range");
}

static void test_config_against_tensors(void **state) {
    (void)state;
    char dir[600];
    /* in range, but not what is stored: checked before any per-layer work */
    edited_copy("vocab-8192", "config.json", "vocab_size", "8192", dir, sizeof dir);
    refused(dir, "vocab_size = 8192 but tensor 'model.embed_tokens.weight' has 4096 rows");
    edited_copy("layers-1000", "config.json", "num_hidden_layers", "1000", dir, sizeof dir);
    refused(dir, "num_hidden_layers = 1000 but no tensor of layer 4 is stored");
    edited_copy("layers-2", "config.json", "num_hidden_layers", "2", dir, sizeof dir);
    refused(dir, "belongs to layer 2 but config.json says num_hidden_layers = 2");
    edited_copy("untied", "config.json", "tie_word_embeddings", "false", dir, sizeof dir);
    refused(dir, "no tensor 'lm_head.weight'");
}

static void test_param_count_overflow(void **state) {
    (void)state;
    ss_model_config c;
    assert_int_equal(ss_config_preset("tiny", &c), SS_OK);
    assert_true(ss_config_param_count(&c) > 0);
    c.hidden = c.intermediate = c.vocab = c.n_layers = c.n_heads = c.head_dim = INT_MAX;
    c.n_kv_heads = 1;
    assert_int_equal(ss_config_param_count(&c), -1); /* was signed overflow, printed as 4.6e18 */
    assert_int_equal(ss_config_validate(&c, "test"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "hidden_size = 2147483647 is out of range"));
    /* the largest config within bounds still counts exactly */
    assert_int_equal(ss_config_preset("qwen2.5-14b", &c), SS_OK);
    assert_true(ss_config_param_count(&c) > INT64_C(14000000000));
}

static void test_info_refuses_bad_sparsity(void **state) {
    (void)state;
    char dir[600];
    edited_copy("sparsity-2_5", "slidesparse.json", "sparsity", "\"2_5\"", dir, sizeof dir);
    expect(run(NULL, "info", "--model", dir, NULL), 1, "slidesparse.json: field 'sparsity'");
    assert_non_null(strstr(g_out, "2_5"));
    edited_copy("sparsity-word", "slidesparse.json", "sparsity", "\"dense-ish\"", dir, sizeof dir);
    expect(run(NULL, "info", "--model", dir, NULL), 1, "field 'sparsity'");
    edited_copy("slid-no-sparsity", "slidesparse.json", "slid", "true", dir, sizeof dir);
    expect(run(NULL, "info", "--model", dir, NULL), 1, "'slid' is true but 'sparsity' is null");
    expect(run(NULL, "info", "--model", g_bf16, NULL), 0, "sparsity   none");
}

/* ------------------------------------------------------------ report */

/* A copy of the report fixture's run folder, at dir. */
static void fixture_copy(const char *name, char *dir, size_t cap) {
    const char *data = getenv("SS_TEST_DATA");
    assert_non_null(data);
    in_root(dir, cap, name);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/report/run' '%s'", dir, data, dir);
    assert_int_equal(system(cmd), 0);
}

/* Replaces the first occurrence of `from` after line 1 of file `rel` in dir by `to`. */
static void replace_in(const char *dir, const char *rel, const char *from, const char *to) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *text;
    size_t n;
    assert_int_equal(ss_read_file(path, &text, &n), SS_OK);
    char *body = strchr(text, '\n');
    assert_non_null(body);
    char *at = strstr(body, from);
    assert_non_null(at);
    size_t lf = strlen(from), lt = strlen(to);
    char *out = malloc(n - lf + lt + 1);
    memcpy(out, text, (size_t)(at - text));
    memcpy(out + (at - text), to, lt);
    memcpy(out + (at - text) + lt, at + lf, n - (size_t)(at - text) - lf + 1);
    assert_int_equal(ss_write_file_atomic(path, out, strlen(out)), SS_OK);
    free(out);
    free(text);
}

#define KERNEL_CSV                                                                                              \
    "results/benchmark_kernel/cuBLASLt/alg_search_results/H100-80GB-HBM3_cc90_gcc12_cu130_x86_64/INT8/"       \
    "alg_search_BitNet-2B-INT8.csv"
#define PREFILL_CSV                                                                                             \
    "results/throughput_benchmark_results/prefill/H100-80GB-HBM3_cc90_INT8_gcc12_cu130_x86_64/cusparselt/2_4/" \
    "BitNet-2B-INT8_prefill.csv"

static void bad_cell(const char *name, const char *rel, const char *from, const char *to, const char *column) {
    char dir[600], want[256];
    fixture_copy(name, dir, sizeof dir);
    replace_in(dir, rel, from, to);
    expect(run(NULL, "report", dir, "--no-charts", NULL), 1, rel);
    snprintf(want, sizeof want, "line 2, column '%s'", column);
    assert_non_null(strstr(g_out, want));
    char md[700];
    snprintf(md, sizeof md, "%s/report.md", dir);
    assert_false(ss_path_exists(md)); /* no report built on a bad cell */
}

static void test_report_cells_validated(void **state) {
    (void)state;
    /* M, N, K were cast to int64 unchecked: M list -9223372036854775808 */
    bad_cell("kernel-M", KERNEL_CSV, "1024,3840", "1e30,3840", "M");
    bad_cell("kernel-N", KERNEL_CSV, ",3840,", ",-3840,", "N");
    bad_cell("kernel-K", KERNEL_CSV, ",2560,2560,", ",2560.5,2560,", "K");
    bad_cell("kernel-lat", KERNEL_CSV, ",71.0,", ",nan,", "lat_us");
    bad_cell("prefill-M", PREFILL_CSV, "512,512", "inf,512", "M_prefill");
    bad_cell("prefill-tps", PREFILL_CSV, ",16394.00,", ",1e400,", "tokens_per_s");
    bad_cell("prefill-rate", PREFILL_CSV, ",31.96,", ",-1,", "output_tokens_per_s");
    /* the fixture itself reads */
    char dir[600];
    fixture_copy("good", dir, sizeof dir);
    expect(run(NULL, "report", dir, "--no-charts", NULL), 0, NULL);
}

static void test_report_absurd_durations(void **state) {
    (void)state;
    char dir[600], path[700];
    fixture_copy("durations", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/pipeline_state.json", dir);
    json_t *j = NULL;
    assert_int_equal(ss_json_load(path, &j), SS_OK);
    json_t *task = json_array_get(json_object_get(j, "tasks"), 0);
    assert_non_null(task);
    json_object_set_new(task, "duration_s", json_real(1e300)); /* (long)(s + 0.5) was undefined */
    assert_int_equal(ss_json_save(path, j), SS_OK);
    json_decref(j);
    expect(run(NULL, "report", dir, "--no-charts", NULL), 0, NULL);
    char md[700];
    snprintf(md, sizeof md, "%s/report.md", dir);
    char *text;
    assert_int_equal(ss_read_file(md, &text, NULL), SS_OK);
    assert_non_null(strstr(text, "1e+300s"));
    free(text);
}

/* ------------------------------------------------- unsupported: exit 3 */

static void test_unsupported_build_exit_3(void **state) {
    (void)state;
#ifdef SS_HAVE_CUDA
    skip(); /* a CUDA build: these run (or fail for want of a device) */
#else
    expect(run(NULL, "bench", "kernel", "--m", "64", NULL), 3, "no CUDA");
    expect(run(NULL, "tune", "--model", g_bf16, "--dtype", "int8", "--m", "64", "--out", g_root, NULL), 3, "CUDA");
    expect(run(NULL, "gpu-info", NULL), 3, "this build has no CUDA");
    expect(run(NULL, "generate", "--model", g_bf16, "--prompt-ids", "1", "--max-new", "1", "--backend", "cuda", NULL),
           3, "built without CUDA");
    char res[600];
    in_root(res, sizeof res, "results");
    expect(run(NULL, "bench", "prefill", "--model", g_bf16, "--m", "8", "--out", res, NULL), 3, "no CUDA");
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_dimensions_bounded), cmocka_unit_test(test_config_against_tensors),
        cmocka_unit_test(test_param_count_overflow),      cmocka_unit_test(test_info_refuses_bad_sparsity),
        cmocka_unit_test(test_report_cells_validated),    cmocka_unit_test(test_report_absurd_durations),
        cmocka_unit_test(test_unsupported_build_exit_3),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
