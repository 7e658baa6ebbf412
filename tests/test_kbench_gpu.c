/* Kernel benchmark jobs on the GPU (label gpu; 77 = skipped without one).
 * This process never touches CUDA: every GPU step runs in a child process,
 * as the pipeline runs its jobs.
 *   - isolation: a job with a planted faulting kernel fails with the
 *     device's error and loses only itself; the next job runs and measures;
 *   - result files: a dense and a sparse job write their CSVs, and the
 *     sparse one carries the speedup over the dense one per point;
 *   - tuning: the search writes a table, the table loads, and a job run
 *     with it takes its algorithms from the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_kernel.h"
#include "convert/sparsity.h"
#include "core/fsutil.h"
#include "tune/tune.h"

#define OK(expr)                                                                                 \
    do {                                                                                         \
        ss_status st_ = (expr);                                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg());     \
    } while (0)

static char g_dir[64];
static const int64_t kN[1] = {96}, kK[1] = {256}, kM[2] = {64, 256};

static ss_kbench_opts quick(void) {
    ss_kbench_opts o;
    ss_kbench_opts_default(&o);
    o.repeats = 3;
    o.batch_us = 100;
    return o;
}

static ss_kbench_job job(ss_backend b, int L, const char *results) {
    ss_kbench_job j = {b, SS_GEMM_INT8, L, "Test", kN, kK, 1, kM, 2, results, NULL, 0};
    return j;
}

static void test_fault_isolation(void **s) {
    (void)s;
    ss_kbench_opts o = quick();
    ss_kbench_point p[2];
    ss_kbench_job faulty = job(SS_BACKEND_CUBLASLT, 0, NULL);
    faulty.planted_fault = 1;
    ss_status st = ss_kbench_job_isolated(&faulty, &o, p);
    assert_int_equal(st, SS_ERR_CUDA);
    print_message("planted fault: %s\n", ss_errmsg());
    assert_non_null(strstr(ss_errmsg(), "illegal"));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(p[i].ok, 0);
        assert_non_null(strstr(p[i].status, "error"));
    }
    /* the next job starts on a clean CUDA context */
    ss_kbench_job good = job(SS_BACKEND_CUBLASLT, 0, NULL);
    OK(ss_kbench_job_isolated(&good, &o, p));
    for (int i = 0; i < 2; i++) {
        assert_int_equal(p[i].ok, 1);
        assert_true(p[i].gemm_us > 0 && p[i].fused_us > 0 && p[i].linear_us > 0);
        print_message("M=%lld: gemm %.2f us, fused %.2f us, linear %.2f us\n", (long long)p[i].M, p[i].gemm_us,
                      p[i].fused_us, p[i].linear_us);
    }
}

static void test_job_files_and_speedup(void **s) {
    (void)s;
    ss_kbench_opts o = quick();
    ss_kbench_point p[2];
    ss_kbench_job dense = job(SS_BACKEND_CUBLASLT, 0, g_dir), sparse = job(SS_BACKEND_CUSPARSELT, 8, g_dir);
    OK(ss_kbench_job_isolated(&dense, &o, p));
    OK(ss_kbench_job_isolated(&sparse, &o, p));
    ss_gpu_info g;
    OK(ss_gpu_info_isolated(&g));
    char hw[300], path[2048];
    ss_tune_hw_name(&g, hw, sizeof hw);
    /* find the sparse CSV without knowing the toolchain tag: it is the only folder */
    char cmd[2300];
    snprintf(cmd, sizeof cmd, "ls %s/benchmark_kernel/cuSPARSELt/alg_search_results/%s_*/INT8/alg_search_Test-INT8_2_8.csv",
             g_dir, hw);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    assert_non_null(fgets(path, sizeof path, ls));
    pclose(ls);
    path[strcspn(path, "\n")] = 0;
    char *text = NULL;
    size_t len = 0;
    OK(ss_read_file(path, &text, &len));
    print_message("%s:\n%s", path, text);
    /* two rows, each with a speedup (the dense file exists) */
    char *row = strchr(text, '\n') + 1;
    for (int r = 0; r < 2; r++) {
        double v[11];
        char *f = row;
        for (int c = 0; c < 11; c++) {
            v[c] = strtod(f, NULL);
            f = strchr(f, ',') + 1;
        }
        assert_true(v[4] > 0);  /* lat_us */
        assert_true(v[10] > 0); /* speedup */
        row = strchr(row, '\n') + 1;
    }
    free(text);
}

/* FP4 in the kernel benchmark (task 6): measured on cc >= 10.0, else every
 * point "skipped" with the reason, and the CSV says so; folder names carry
 * the cuSPARSELt version that loaded, decoded right. */
static void test_fp4_job(void **s) {
    (void)s;
    ss_kbench_opts o = quick();
    ss_kbench_point p[2];
    const int64_t N[1] = {256}, K[1] = {512};
    ss_kbench_job j = job(SS_BACKEND_CUBLASLT, 0, g_dir);
    j.dtype = SS_GEMM_FP4E2M1;
    j.N = N;
    j.K = K;
    ss_gpu_info g;
    OK(ss_gpu_info_isolated(&g));
    ss_status st = ss_kbench_job_isolated(&j, &o, p);
    for (int i = 0; i < 2; i++) print_message("fp4 M=%lld: %s %.2f us\n", (long long)p[i].M, p[i].status, p[i].gemm_us);
    if (g.cc_major < 10) {
        assert_int_equal(st, SS_ERR_UNSUPPORTED);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(p[i].ok, 0);
            assert_non_null(strstr(p[i].status, "skipped: "));
            assert_non_null(strstr(p[i].status, "10.0"));
        }
    } else {
        OK(st);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(p[i].ok, 1);
            assert_true(p[i].gemm_us > 0);
        }
    }
    char hw[300], cmd[2300], path[2048] = "";
    ss_tune_hw_name(&g, hw, sizeof hw);
    snprintf(cmd, sizeof cmd, "ls -d %s/benchmark_kernel/cuBLASLt/alg_search_results/%s_*/FP4", g_dir, hw);
    FILE *ls = popen(cmd, "r");
    assert_non_null(ls);
    assert_non_null(fgets(path, sizeof path, ls));
    pclose(ls);
    print_message("%s", path);
    if (g.cusparselt_version > 0) {
        assert_non_null(strstr(path, "_cslt"));
        assert_null(strstr(path, "_cslt1.0.0_")); /* 0.10.0 read as 1.0.0: the bug of issue 14 */
    }
}

static void test_tune_then_use(void **s) {
    (void)s;
    const int Ls[2] = {0, 8};
    /* with a BF16 "lm_head" of 200 rows (padded to 224) */
    ss_kbench_tune_spec spec = {"Test-INT8", SS_GEMM_INT8, Ls, 2, kN, kK, 1, kM, 2, g_dir, 200, 256};
    char path[2048];
    OK(ss_kbench_tune_isolated(&spec, path, sizeof path));
    print_message("table: %s\n", path);
    char dir[2048];
    snprintf(dir, sizeof dir, "%.*s", (int)(strrchr(path, '/') - path), path);
    ss_tune_table t;
    ss_tune_table_init(&t);
    OK(ss_tune_load_dir(&t, dir));
    assert_true(t.n >= 4);
    ss_gemm_alg a;
    ss_slide_geom geo;
    OK(ss_slide_geometry(256, 8, &geo));
    assert_true(ss_tune_find(&t, SS_BACKEND_CUBLASLT, SS_GEMM_INT8, "acc", 64, 96, 256, &a));
    assert_int_equal(a.has_lt_algo, 1);
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel_scalar", 256, 96, geo.K_slid, &a));
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "acc", 64, 96, geo.K_slid, &a));
    /* per-channel scales (a fused q/k/v weight) are a different cuSPARSELt call */
    assert_true(ss_tune_find(&t, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, "channel", 256, 96, geo.K_slid, &a));
    assert_true(ss_tune_find(&t, SS_BACKEND_CUBLASLT, SS_GEMM_BF16, "bf16", 64, 224, 256, &a));
    ss_tune_table_free(&t);
    /* a job with the table takes its algorithms from it */
    ss_kbench_opts o = quick();
    ss_kbench_point p[2];
    ss_kbench_job sparse = job(SS_BACKEND_CUSPARSELT, 8, NULL), dense = job(SS_BACKEND_CUBLASLT, 0, NULL);
    sparse.tune_dir = dense.tune_dir = dir;
    OK(ss_kbench_job_isolated(&sparse, &o, p));
    for (int i = 0; i < 2; i++) assert_int_equal(p[i].from_table, 1);
    OK(ss_kbench_job_isolated(&dense, &o, p));
    for (int i = 0; i < 2; i++) assert_int_equal(p[i].from_table, 1);
}

int main(void) {
    if (ss_gpu_count_isolated() == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    snprintf(g_dir, sizeof g_dir, "/tmp/ss_test_kbench_XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_isolation),
        cmocka_unit_test(test_job_files_and_speedup),
        cmocka_unit_test(test_fp4_job),
        cmocka_unit_test(test_tune_then_use),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ss_rm_rf(g_dir);
    return rc;
}
