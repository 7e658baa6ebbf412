/* Tuning tables and kernel-benchmark result files, on the CPU: table
 * write/read round trip, the M-bucket lookup rule, malformed and missing
 * tables, the hardware folder name, the CSV/JSON writers (with the per-point
 * speedup against the dense file), and the model's (N, K) pairs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_kernel.h"
#include "bench/throughput_results.h"
#include "core/fsutil.h"
#include "io/config.h"
#include "tune/tune.h"

static ss_gpu_info fake_gpu(void) {
    ss_gpu_info g;
    memset(&g, 0, sizeof g);
    snprintf(g.name, sizeof g.name, "NVIDIA H100 80GB HBM3");
    g.cc_major = 9;
    g.cc_minor = 0;
    g.cublaslt_version = 130100;
    g.cusparselt_version = 800;
    return g;
}

static void tmpdir(char *out, size_t cap) {
    snprintf(out, cap, "/tmp/ss_test_tune_XXXXXX");
    assert_non_null(mkdtemp(out));
}

static ss_tune_entry entry(ss_backend b, const char *kind, int64_t N, int64_t K, int64_t M, int alg) {
    ss_tune_entry e;
    memset(&e, 0, sizeof e);
    e.backend = b;
    e.dtype = SS_GEMM_INT8;
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    e.N = N, e.K = K, e.M = M;
    e.alg.alg_id = alg;
    e.alg.split_k = -1;
    if (b == SS_BACKEND_CUBLASLT) {
        for (int i = 0; i < 8; i++) e.alg.lt_algo[i] = 0x0123456789abcdefull * (uint64_t)(i + 1) + (uint64_t)alg;
        e.alg.has_lt_algo = 1;
    }
    return e;
}

static void test_lookup_rule(void **s) {
    (void)s;
    ss_tune_table t;
    ss_tune_table_init(&t);
    const int64_t Ms[] = {256, 64, 1024};
    for (int i = 0; i < 3; i++) {
        ss_tune_entry e = entry(SS_BACKEND_CUSPARSELT, "channel_scalar", 3840, 3424, Ms[i], (int)Ms[i]);
        assert_int_equal(ss_tune_add(&t, &e), SS_OK);
    }
    ss_gemm_alg a;
    /* the smallest bucket at or above M_pad ... */
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 16, 3840, 3424, &a));
    assert_int_equal(a.alg_id, 64);
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 112, 3840, 3424, &a));
    assert_int_equal(a.alg_id, 256);
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 1024, 3840, 3424, &a));
    assert_int_equal(a.alg_id, 1024);
    /* ... else the largest */
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 32768, 3840, 3424, &a));
    assert_int_equal(a.alg_id, 1024);
    /* other shape, kind, dtype or backend: no entry */
    assert_false(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 64, 3840, 2560, &a));
    assert_false(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "acc", 64, 3840, 3424, &a));
    assert_false(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, "channel_scalar", 64, 3840, 3424, &a));
    assert_false(ss_tune_find(&t, SS_BACKEND_CUBLASLT, SS_GEMM_INT8, "channel_scalar", 64, 3840, 3424, &a));
    /* the same key and M replaces */
    ss_tune_entry e = entry(SS_BACKEND_CUSPARSELT, "channel_scalar", 3840, 3424, 64, 7);
    assert_int_equal(ss_tune_add(&t, &e), SS_OK);
    assert_int_equal(t.n, 3);
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 64, 3840, 3424, &a));
    assert_int_equal(a.alg_id, 7);
    ss_tune_table_free(&t);
}

static void test_save_load_roundtrip(void **s) {
    (void)s;
    char dir[64];
    tmpdir(dir, sizeof dir);
    ss_gpu_info g = fake_gpu();
    char tdir[1024];
    assert_int_equal(ss_tune_dir(dir, &g, "gcc13_cu130_x86_64", tdir, sizeof tdir), SS_OK);
    assert_non_null(strstr(tdir, "/tuning/H100-80GB-HBM3_cc90_gcc13_cu130_x86_64"));
    ss_tune_table t, u;
    ss_tune_table_init(&t);
    ss_tune_table_init(&u);
    ss_tune_entry e1 = entry(SS_BACKEND_CUBLASLT, "acc", 2560, 2560, 4096, 3);
    ss_tune_entry e2 = entry(SS_BACKEND_CUSPARSELT, "channel", 13824, 3840, 16384, 19);
    e2.alg.split_k_mode = 2;
    assert_int_equal(ss_tune_add(&t, &e1), SS_OK);
    assert_int_equal(ss_tune_add(&t, &e2), SS_OK);
    assert_int_equal(ss_tune_save(&t, tdir, "BitNet-2B-INT8", &g, "gcc13_cu130_x86_64"), SS_OK);
    assert_int_equal(ss_tune_load_dir(&u, tdir), SS_OK);
    assert_int_equal(u.n, 2);
    ss_gemm_alg a;
    assert_true(ss_tune_find(&u, SS_BACKEND_CUBLASLT, SS_GEMM_INT8, "acc", 4096, 2560, 2560, &a));
    assert_int_equal(a.has_lt_algo, 1);
    assert_memory_equal(a.lt_algo, e1.alg.lt_algo, sizeof a.lt_algo);
    assert_true(ss_tune_find(&u, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel", 1, 13824, 3840, &a));
    assert_int_equal(a.alg_id, 19);
    assert_int_equal(a.split_k, -1);
    assert_int_equal(a.split_k_mode, 2);
    assert_int_equal(a.has_lt_algo, 0);
    ss_tune_table_free(&t);
    ss_tune_table_free(&u);
    ss_rm_rf(dir);
}

static void test_bad_and_missing_tables(void **s) {
    (void)s;
    char dir[64], path[256];
    tmpdir(dir, sizeof dir);
    ss_tune_table t;
    ss_tune_table_init(&t);
    /* a missing folder: empty table, no error (the heuristic is used, with a warning) */
    snprintf(path, sizeof path, "%s/nowhere", dir);
    assert_int_equal(ss_tune_load_dir(&t, path), SS_OK);
    assert_int_equal(t.n, 0);
    /* an entry without N */
    snprintf(path, sizeof path, "%s/bad.json", dir);
    const char *bad = "{\"format_version\": 1, \"entries\": [{\"backend\": \"cusparselt\", \"dtype\": \"int8\", "
                      "\"kind\": \"acc\", \"K\": 64, \"M\": 16}]}";
    assert_int_equal(ss_write_file_atomic(path, bad, strlen(bad)), SS_OK);
    assert_int_equal(ss_tune_load_dir(&t, dir), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "bad.json"));
    assert_non_null(strstr(ss_errmsg(), "'N'"));
    /* a cuBLASLt entry whose algorithm is not 64 bytes of hex */
    const char *badhex = "{\"format_version\": 1, \"entries\": [{\"backend\": \"cublaslt\", \"dtype\": \"fp8e4m3\", "
                         "\"kind\": \"acc\", \"N\": 64, \"K\": 64, \"M\": 16, \"lt_algo\": \"abc\"}]}";
    assert_int_equal(ss_write_file_atomic(path, badhex, strlen(badhex)), SS_OK);
    ss_tune_table_free(&t);
    assert_int_equal(ss_tune_load_dir(&t, dir), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "lt_algo"));
    /* an unknown dtype names the entry */
    const char *baddt = "{\"format_version\": 1, \"entries\": [{\"backend\": \"cusparselt\", \"dtype\": \"int4\", "
                        "\"kind\": \"acc\", \"N\": 64, \"K\": 64, \"M\": 16}]}";
    assert_int_equal(ss_write_file_atomic(path, baddt, strlen(baddt)), SS_OK);
    ss_tune_table_free(&t);
    assert_int_equal(ss_tune_load_dir(&t, dir), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "entries[0]"));
    ss_tune_table_free(&t);
    ss_rm_rf(dir);
}

static void test_hw_name(void **s) {
    (void)s;
    ss_gpu_info g = fake_gpu();
    char hw[300];
    ss_tune_hw_name(&g, hw, sizeof hw);
    assert_string_equal(hw, "H100-80GB-HBM3_cc90");
    snprintf(g.name, sizeof g.name, "NVIDIA GeForce RTX 5080");
    g.cc_major = 12;
    ss_tune_hw_name(&g, hw, sizeof hw);
    assert_string_equal(hw, "RTX-5080_cc120");
}

static void test_model_nk(void **s) {
    (void)s;
    ss_model_config c;
    assert_int_equal(ss_config_preset("bitnet-2b", &c), SS_OK);
    int64_t N[4], K[4];
    ss_kbench_model_nk(&c, N, K);
    const int64_t wantN[4] = {3840, 2560, 13824, 2560}, wantK[4] = {2560, 2560, 2560, 6912};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(N[i], wantN[i]);
        assert_int_equal(K[i], wantK[i]);
    }
}

/* Measured-looking points for a job, without a GPU. */
static void fake_points(const ss_kbench_job *j, ss_kbench_point *p, double lat) {
    for (int k = 0; k < j->n_nk; k++)
        for (int m = 0; m < j->n_m; m++) {
            ss_kbench_point *q = &p[k * j->n_m + m];
            memset(q, 0, sizeof *q);
            q->backend = j->backend, q->dtype = j->dtype, q->L = j->L;
            q->M = j->M[m], q->N = j->N[k], q->K = j->K[k], q->K_act = j->L ? 2 * j->K[k] : j->K[k];
            q->ok = 1;
            q->gemm_us = lat * (double)(m + 1), q->fused_us = q->gemm_us * 1.1, q->linear_us = q->gemm_us * 1.3;
            snprintf(q->status, sizeof q->status, "ok");
        }
}

static void test_result_files(void **s) {
    (void)s;
    char dir[64];
    tmpdir(dir, sizeof dir);
    ss_gpu_info g = fake_gpu();
    const int64_t N[2] = {3840, 2560}, K[2] = {2560, 6912}, M[2] = {64, 1024};
    ss_kbench_job dense = {SS_BACKEND_CUBLASLT, SS_GEMM_INT8, 0, "BitNet-2B", N, K, 2, M, 2, dir, NULL, 0};
    ss_kbench_job sparse = dense;
    sparse.backend = SS_BACKEND_CUSPARSELT;
    sparse.L = 8;
    ss_kbench_point pd[4], ps[4];
    fake_points(&dense, pd, 100.0);
    fake_points(&sparse, ps, 80.0);
    snprintf(ps[3].status, sizeof ps[3].status, "error: cusparseLtMatmul failed, \"bad\"");
    ps[3].ok = 0;
    ss_kbench_opts o;
    ss_kbench_opts_default(&o);
    char path[2600];
    assert_int_equal(ss_kbench_write(&dense, &g, "gcc13_cu130_x86_64", &o, pd, path, sizeof path), SS_OK);
    assert_non_null(strstr(path, "/benchmark_kernel/cuBLASLt/alg_search_results/H100-80GB-HBM3_cc90_gcc13_cu130_x86_64/"
                                 "INT8/alg_search_BitNet-2B-INT8.csv"));
    assert_int_equal(ss_kbench_write(&sparse, &g, "gcc13_cu130_x86_64", &o, ps, path, sizeof path), SS_OK);
    assert_non_null(strstr(path, "/cuSPARSELt/alg_search_results/H100-80GB-HBM3_cc90_gcc13_cu130_x86_64/INT8/"
                                 "alg_search_BitNet-2B-INT8_2_8.csv"));
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(ss_read_file(path, &text, &len), SS_OK);
    /* header, then rows; the speedup column is dense / sparse = 100/80 */
    assert_non_null(strstr(text, "M,N,K,K_used,lat_us,"));
    assert_non_null(strstr(text, ",speedup,"));
    assert_non_null(strstr(text, "64,3840,2560,5120,80.00,"));
    assert_non_null(strstr(text, ",1.2500,"));
    /* a failed point keeps its row and its message, commas and quotes made safe */
    assert_non_null(strstr(text, "\"error: cusparseLtMatmul failed; 'bad'\""));
    int lines = 0;
    for (char *c = text; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, 5);
    free(text);
    /* the JSON sits beside it, with per-M totals */
    char jpath[2600];
    snprintf(jpath, sizeof jpath, "%.*s.json", (int)(strlen(path) - 4), path);
    assert_int_equal(ss_read_file(jpath, &text, &len), SS_OK);
    assert_non_null(strstr(text, "\"totals\""));
    assert_non_null(strstr(text, "\"sparsity\": \"2_8\""));
    free(text);
    ss_rm_rf(dir);
}

/* Folder tags name the cuSPARSELt that loaded, decoded right (0.10.0, not 1.0.0). */
static void test_toolchain_tag_names_cusparselt(void **s) {
    (void)s;
    char plain[128], tag[128];
    ss_toolchain_tag(plain, sizeof plain);
    ss_toolchain_tag_lib(0, tag, sizeof tag);
    assert_string_equal(tag, plain);
    assert_null(strstr(plain, "cslt"));
    const struct { int v; const char *want; } cases[] = {{800, "_cslt0.8.0_"}, {901, "_cslt0.9.1_"}, {1000, "_cslt0.10.0_"}};
    for (int i = 0; i < 3; i++) {
        ss_toolchain_tag_lib(cases[i].v, tag, sizeof tag);
#ifdef SS_HAVE_CUDA
        assert_non_null(strstr(tag, cases[i].want));
        assert_null(strstr(tag, "cslt1.0.0"));
#else
        assert_string_equal(tag, plain); /* no CUDA part without CUDA */
#endif
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_rule), cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_bad_and_missing_tables), cmocka_unit_test(test_hw_name),
        cmocka_unit_test(test_model_nk), cmocka_unit_test(test_result_files),
        cmocka_unit_test(test_toolchain_tag_names_cusparselt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
