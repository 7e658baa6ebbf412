/* CPU tests of the GPU throughput benchmark's host side: the synthetic
 * in-memory models (ternary statistics, FP8 codes, prune + slide variants
 * that compute exactly what the pruned weights compute) and the result
 * writers (reference CSV/JSON plus the _gpu.csv columns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_cuda.h"
#include "bench/bench_synth.h"
#include "convert/slide.h"
#include "core/fsutil.h"
#include "gemm/linear.h"

#define OK(expr)                                                                                 \
    do {                                                                                         \
        ss_status st_ = (expr);                                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg());     \
    } while (0)

static void test_synth_variants(void **state) {
    (void)state;
    ss_synth_base *b;
    OK(ss_synth_base_new("tiny", 7, &b));
    ss_synth_model d8, f8, s8;
    OK(ss_synth_variant(b, SS_QUANT_INT8, 0, &d8));
    OK(ss_synth_variant(b, SS_QUANT_FP8, 0, &f8));
    OK(ss_synth_variant(b, SS_QUANT_INT8, 8, &s8));
    const ss_linear_weight *w = &d8.model.layers[1].gate, *wf = &f8.model.layers[1].gate, *ws = &s8.model.layers[1].gate;
    int64_t zeros = 0, n = w->N * w->K;
    for (int64_t i = 0; i < n; i++) {
        int8_t c = ((const int8_t *)w->w)[i];
        assert_true(c >= -1 && c <= 1);
        zeros += c == 0;
        uint8_t f = ((const uint8_t *)wf->w)[i];
        assert_int_equal(f, c == 0 ? 0x00 : c > 0 ? 0x38 : 0xB8); /* +-1.0 and 0 in E4M3 */
    }
    double frac = (double)zeros / (double)n;
    assert_true(frac > 0.29 && frac < 0.33); /* 79/256 */
    assert_int_equal(wf->dtype, SS_DT_F8_E4M3);
    /* the slid variant: 2:4 rows of K_slid, and the same products as dense-pruning the base */
    assert_true(ws->slid);
    assert_string_equal(s8.model.sparsity, "2_8");
    assert_int_equal(ws->slide.K_slid, 768);
    for (int64_t r = 0; r < ws->N; r++) assert_true(ss_row_is_2_4((const int8_t *)ws->w + r * ws->slide.K_slid, ws->slide.K_slid, 1));
    float x[2 * 512], ys[2 * 1376], yd[2 * 1376];
    for (int i = 0; i < 2 * 512; i++) x[i] = (float)((i * 37) % 101 - 50) / 25.0f;
    OK(ss_linear_ref(ws, x, 2, ys));
    OK(ss_linear_ref(w, x, 2, yd));
    assert_memory_not_equal(ys, yd, sizeof ys); /* pruning removed weights */
    ss_synth_variant_free(&d8);
    ss_synth_variant_free(&f8);
    ss_synth_variant_free(&s8);
    ss_synth_base_free(b);
}

static void test_writer(void **state) {
    (void)state;
    char dir[] = "/tmp/ss_test_bench_cuda_XXXXXX";
    assert_non_null(mkdtemp(dir));
    ss_bench_cuda_point p[2];
    memset(p, 0, sizeof p);
    p[0].tp = (ss_tp_point){.M = 512, .prompt_len = 512, .output_len = 1, .max_num_seqs = 1, .n_passes = 3,
                            .elapsed_s = 0.03, .median_pass_s = 0.01};
    p[1].tp = (ss_tp_point){.M = 2048, .prompt_len = 1024, .output_len = 1, .max_num_seqs = 2, .n_passes = 3,
                            .elapsed_s = 0.06, .median_pass_s = 0.02};
    p[1].mem_used = (size_t)3 << 30;
    p[1].prof_ms[SS_PROF_GEMM] = 12.5;
    OK(ss_bench_cuda_write(dir, "BitNet-2B-INT8", SS_TP_PREFILL, p, 2));
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/BitNet-2B-INT8_prefill.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "M_prefill,prompt_len,max_num_seqs"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(fgets(line, sizeof line, f));
    /* 2 sequences x (1024 + 1) tokens in 20 ms */
    assert_non_null(strstr(line, "2048,1024,2,6,3,100.0000,102500.00"));
    fclose(f);
    snprintf(path, sizeof path, "%s/BitNet-2B-INT8_prefill_gpu.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "mem_used_bytes"));
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(strstr(line, "2048,3221225472,"));
    assert_non_null(strstr(line, ",12.500,"));
    fclose(f);
    snprintf(path, sizeof path, "%s/json/BitNet-2B-INT8_M2048.json", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    fclose(f);
    OK(ss_rm_rf(dir));
}

static void test_missing_model(void **state) {
    (void)state;
    ss_bench_cuda_opts o;
    ss_bench_cuda_defaults(&o, SS_TP_DECODE);
    int64_t m = 64;
    o.m_list = &m;
    o.n_m = 1;
    assert_int_not_equal(ss_bench_cuda("/nonexistent/model", "/tmp", &o, NULL, 0), SS_OK);
    assert_non_null(strstr(ss_errmsg(), "/nonexistent/model"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_variants),
        cmocka_unit_test(test_writer),
        cmocka_unit_test(test_missing_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
