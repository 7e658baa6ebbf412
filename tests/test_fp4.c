/* NVFP4 operands on the host (src/gemm/fp4.c): E2M1 and UE4M3 codes, the
 * nibble packing, cuBLASLt's tiled scale layout and the quantization,
 * against straightforward CPU references. No GPU needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "gemm/fp4.h"

static void test_e2m1_codes(void **s) {
    (void)s;
    const float mags[8] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
    for (int c = 0; c < 16; c++) {
        const float v = ss_e2m1_decode((uint8_t)c);
        assert_true(v == (c & 8 ? -mags[c & 7] : mags[c & 7]));
        if (c != 8) assert_int_equal(ss_e2m1_encode(v), c); /* -0 encodes as 0x8 too */
    }
    assert_int_equal(ss_e2m1_encode(-0.0f), 0x8);
    /* ties go to the even code: 0.25 -> 0, 0.75 -> 1.0, 1.25 -> 1.0, 1.75 -> 2, 2.5 -> 2, 3.5 -> 4, 5 -> 4 */
    const struct { float x; uint8_t c; } ties[] = {{0.25f, 0}, {0.75f, 2}, {1.25f, 2}, {1.75f, 4},
                                                   {2.5f, 4},  {3.5f, 6},  {5.0f, 6},  {-5.0f, 0xe}};
    for (size_t i = 0; i < sizeof ties / sizeof ties[0]; i++) assert_int_equal(ss_e2m1_encode(ties[i].x), ties[i].c);
    /* nearest otherwise, saturating at 6 */
    assert_int_equal(ss_e2m1_encode(0.26f), 1);
    assert_int_equal(ss_e2m1_encode(2.6f), 5);
    assert_int_equal(ss_e2m1_encode(1e9f), 7);
    assert_int_equal(ss_e2m1_encode(-7.0f), 0xf);
    assert_int_equal(ss_e2m1_encode(INFINITY), 7);
}

/* Unsigned E4M3 scale codes: the FP8 E4M3 codes of positive values. */
static void test_ue4m3_codes(void **s) {
    (void)s;
    for (int c = 0; c < 0x7f; c++) { /* 0x7f is NaN in E4M3 */
        const float v = ss_ue4m3_decode((uint8_t)c);
        assert_true(v == ss_fp8e4m3_to_f32((uint8_t)c));
        if (c) assert_int_equal(ss_ue4m3_encode(v), c);
    }
    assert_int_equal(ss_ue4m3_encode(-1.0f), 0);
    assert_int_equal(ss_ue4m3_encode(NAN), 0);
    assert_int_equal(ss_ue4m3_encode(1e6f), 0x7e); /* 448 */
    assert_true(ss_ue4m3_decode(0x7e) == 448.0f);
}

/* The tiled layout, checked against the cuBLAS documentation's formula
 * written out independently, and for being a bijection onto the buffer. */
static void test_scale_layout(void **s) {
    (void)s;
    /* NVIDIA's worked example (nvmath-python, 128 x 128 NVFP4 operand):
     * row 5, group 2 -> 82; row 5, group 5 -> 593 */
    assert_int_equal(ss_fp4_scale_offset(128, 5, 2), 82);
    assert_int_equal(ss_fp4_scale_offset(128, 5, 5), 593);
    const int64_t rows = 300, K = 16 * 10; /* 3 row tiles (padded to 384), 10 groups padded to 12 */
    const size_t bytes = ss_fp4_scale_bytes(rows, K);
    assert_int_equal(bytes, 384 * 12);
    unsigned char *seen = calloc(bytes, 1);
    assert_non_null(seen);
    for (int64_t r = 0; r < 384; r++)
        for (int64_t g = 0; g < 12; g++) {
            const size_t off = ss_fp4_scale_offset(K, r, g);
            /* tile (row block, group block) in row-block-major order, 512 bytes each */
            const size_t tile = (size_t)((r / 128) * 3 + g / 4);
            const size_t want = tile * 512 + (size_t)((r % 128) % 32) * 16 + (size_t)((r % 128) / 32) * 4 + (size_t)(g % 4);
            assert_int_equal(off, want);
            assert_true(off < bytes);
            assert_int_equal(seen[off], 0);
            seen[off] = 1;
        }
    free(seen);
    /* the second row block starts after all group tiles of the first */
    assert_int_equal(ss_fp4_scale_offset(K, 128, 0), 3 * 512);
}

/* Quantize: nibble order, and every element is the nearest representable
 * value at its block's scale (checked by brute force). */
static void test_quantize_nearest(void **s) {
    (void)s;
    const int64_t rows = 130, K = 96;
    float *x = malloc((size_t)(rows * K) * sizeof(float));
    assert_non_null(x);
    ss_rng r;
    ss_rng_seed(&r, 7, 0);
    for (int64_t i = 0; i < rows * K; i++) x[i] = ss_rng_normal_fast(&r) * (1.0f + (float)(i % 7));
    x[3] = 0.0f;
    ss_fp4_matrix m;
    assert_int_equal(ss_fp4_quantize(x, rows, K, &m), SS_OK);
    float amax = 0;
    for (int64_t i = 0; i < rows * K; i++) amax = fmaxf(amax, fabsf(x[i]));
    assert_true(fabsf(m.global - amax / (6.0f * 448.0f)) <= 1e-6f * m.global);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t k = 0; k < K; k++) {
            const uint8_t byte = m.data[(i * K + k) / 2];
            const uint8_t code = k % 2 ? byte >> 4 : byte & 0xf;
            const float sc = ss_ue4m3_decode(m.scales[ss_fp4_scale_offset(K, i, k / 16)]) * m.global;
            assert_true(ss_fp4_value(&m, i, k) == ss_e2m1_decode(code) * sc);
            /* no other code at this scale is closer to x */
            const float xv = x[i * K + k], err = fabsf(xv - ss_e2m1_decode(code) * sc);
            for (int c = 0; c < 16; c++) assert_true(err <= fabsf(xv - ss_e2m1_decode((uint8_t)c) * sc) * (1 + 1e-6f));
            /* the block scale covers the block's absmax within E4M3's rounding */
            float bmax = 0;
            for (int j = 0; j < 16; j++) bmax = fmaxf(bmax, fabsf(x[i * K + (k / 16) * 16 + j]));
            assert_true(err <= sc * 1.0f + bmax * 0.07f);
        }
    assert_true(ss_fp4_value(&m, 0, 3) == 0.0f);
    ss_fp4_free(&m);
    /* K must be a multiple of 16 */
    assert_int_equal(ss_fp4_quantize(x, 2, 24, &m), SS_ERR_ARG);
    assert_null(m.data);
    free(x);
}

/* Ternary weights (BitNet's) are exact in NVFP4: block scale 1/6, codes +-6. */
static void test_ternary_exact(void **s) {
    (void)s;
    const int64_t N = 128, K = 64;
    float w[128 * 64];
    for (int64_t i = 0; i < N * K; i++) w[i] = (float)((int)(i * 7 % 3) - 1) * 0.02f;
    ss_fp4_matrix m;
    assert_int_equal(ss_fp4_quantize(w, N, K, &m), SS_OK);
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) assert_true(fabsf(ss_fp4_value(&m, n, k) - w[n * K + k]) <= 1e-6f);
    ss_fp4_free(&m);
}

/* The CPU reference GEMM reads scales through the tiled layout; compare with
 * a product of values decoded from a plain row-major scale copy. */
static void test_gemm_ref(void **s) {
    (void)s;
    const int64_t N = 136, M = 20, K = 80;
    float *w = malloc((size_t)(N * K) * 4), *x = malloc((size_t)(M * K) * 4), *y = malloc((size_t)(M * N) * 4);
    assert_true(w && x && y);
    ss_rng r;
    ss_rng_seed(&r, 11, 0);
    for (int64_t i = 0; i < N * K; i++) w[i] = ss_rng_normal_fast(&r) * 0.02f;
    for (int64_t i = 0; i < M * K; i++) x[i] = ss_rng_normal_fast(&r);
    ss_fp4_matrix mw, mx;
    assert_int_equal(ss_fp4_quantize(w, N, K, &mw), SS_OK);
    assert_int_equal(ss_fp4_quantize(x, M, K, &mx), SS_OK);
    assert_int_equal(ss_fp4_gemm_ref(&mw, &mx, y), SS_OK);
    double err = 0, ref = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0, exact = 0;
            for (int64_t k = 0; k < K; k++) {
                const uint8_t bw = mw.data[(n * K + k) / 2], bx = mx.data[(m * K + k) / 2];
                const float vw = ss_e2m1_decode(k % 2 ? bw >> 4 : bw & 0xf), vx = ss_e2m1_decode(k % 2 ? bx >> 4 : bx & 0xf);
                /* row-major scale index, decoded here without the tiled layout */
                const size_t tw = (size_t)((n / 128) * 2 + (k / 16) / 4) * 512 + (size_t)(n % 32) * 16 +
                                  (size_t)((n % 128) / 32) * 4 + (size_t)((k / 16) % 4);
                const size_t tx = (size_t)((k / 16) / 4) * 512 + (size_t)(m % 32) * 16 + (size_t)((k / 16) % 4);
                acc += (double)vw * ss_ue4m3_decode(mw.scales[tw]) * mw.global * vx * ss_ue4m3_decode(mx.scales[tx]) * mx.global;
                exact += (double)w[n * K + k] * x[m * K + k];
            }
            assert_true(fabs(y[m * N + n] - acc) <= 1e-5 * (fabs(acc) + 1e-3));
            err += fabs(acc - exact);
            ref += fabs(exact);
        }
    assert_true(err / ref < 0.2); /* FP4 is coarse; it must still track the product */
    ss_fp4_matrix bad = mx;
    bad.K = 64;
    assert_int_equal(ss_fp4_gemm_ref(&mw, &bad, y), SS_ERR_ARG);
    ss_fp4_free(&mw);
    ss_fp4_free(&mx);
    free(w);
    free(x);
    free(y);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e2m1_codes),       cmocka_unit_test(test_ue4m3_codes),
        cmocka_unit_test(test_scale_layout),     cmocka_unit_test(test_quantize_nearest),
        cmocka_unit_test(test_ternary_exact),    cmocka_unit_test(test_gemm_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
