/* Pruning to 2:L (every dtype, ties, padding) and weight quantization
 * (ternary and absmax, hand-computed examples, RNE ties, FP8 saturation,
 * round trips within half a step). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "convert/prune.h"
#include "convert/quantize.h"
#include "core/dtype.h"
#include "core/rng.h"

static const ss_dtype k_prune_dtypes[] = {SS_DT_BF16, SS_DT_F16, SS_DT_F32, SS_DT_I8, SS_DT_F8_E4M3};

static int all_zero_bytes(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

/* Reference: element i of its group survives iff fewer than L-2 elements
 * rank above it, ranking by |v| descending then index ascending; padding
 * columns (index >= K) are zeros. Written as an O(L^2) count, unlike prune.c. */
static int survives(const float *row, int64_t K, int L, int64_t i) {
    int64_t k0 = i / L * L;
    int above = 0;
    float a = fabsf(row[i]);
    for (int64_t j = k0; j < k0 + L; j++) {
        float b = j < K ? fabsf(row[j]) : 0.0f;
        if (b > a || (b == a && j < i)) above++;
    }
    return above < L - 2;
}

/* Random rows with many exact ties (small integers, some -0), every dtype and
 * several L, K not a multiple of L: the pruned bytes equal the reference. */
static void test_prune_matches_reference_every_dtype(void **state) {
    (void)state;
    ss_rng r;
    ss_rng_seed(&r, 11, 0);
    const int Ls[] = {4, 6, 8, 10, 16};
    const int64_t N = 7, K = 45;
    float vals[7 * 45];
    for (size_t di = 0; di < sizeof k_prune_dtypes / sizeof *k_prune_dtypes; di++) {
        const ss_dtype dt = k_prune_dtypes[di];
        const size_t es = ss_dtype_size(dt);
        unsigned char *w = malloc((size_t)(N * K) * es), *orig = malloc((size_t)(N * K) * es);
        assert_non_null(w);
        assert_non_null(orig);
        for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++) {
            const int L = Ls[li];
            for (int64_t i = 0; i < N * K; i++) {
                int v = (int)(ss_rng_u64(&r) % 9) - 4; /* -4..4: exact in every dtype, many ties */
                vals[i] = (v == 0 && ss_rng_u64(&r) % 2) ? -0.0f : (float)v;
            }
            ss_convert(w, dt, vals, SS_DT_F32, (size_t)(N * K));
            memcpy(orig, w, (size_t)(N * K) * es);
            assert_int_equal(ss_prune_matrix(w, dt, N, K, L, "t"), SS_OK);
            for (int64_t n = 0; n < N; n++)
                for (int64_t k = 0; k < K; k++) {
                    const int64_t i = n * K + k;
                    if (vals[i] != 0.0f && survives(vals + n * K, K, L, k))
                        assert_memory_equal(w + i * es, orig + i * es, es);
                    else
                        assert_true(all_zero_bytes(w + i * es, es)); /* dropped, or a zero made +0 */
                }
            assert_true(ss_is_pruned(w, dt, N, K, L));
        }
        free(w);
        free(orig);
    }
}

/* The documented ternary examples (prune.h/prune.c) and a BitNet-like
 * random ternary matrix: exactly 2 zeros per full group, lowest indices kept. */
static void test_prune_ternary_ties(void **state) {
    (void)state;
    int8_t a[] = {1, -1, 0, 1, 1, -1, 1, 1};
    const int8_t a_want[] = {1, -1, 0, 1, 1, -1, 1, 0};
    int8_t b[] = {1, 1, 1, 1, 1, 1, 1, 1};
    const int8_t b_want[] = {1, 1, 1, 1, 1, 1, 0, 0};
    int8_t c[] = {0, 0, 0, 1, -1, 1, 0, 1}; /* already sparse: unchanged */
    const int8_t c_want[] = {0, 0, 0, 1, -1, 1, 0, 1};
    assert_int_equal(ss_prune_matrix(a, SS_DT_I8, 1, 8, 8, "a"), SS_OK);
    assert_int_equal(ss_prune_matrix(b, SS_DT_I8, 1, 8, 8, "b"), SS_OK);
    assert_int_equal(ss_prune_matrix(c, SS_DT_I8, 1, 8, 8, "c"), SS_OK);
    assert_memory_equal(a, a_want, 8);
    assert_memory_equal(b, b_want, 8);
    assert_memory_equal(c, c_want, 8);

    /* FP8 ternary codes: +-1.0 = 0x38/0xb8, with -0 (0x80) in the input */
    uint8_t f[] = {0x38, 0xb8, 0x80, 0x38, 0x38, 0xb8, 0x38, 0x38};
    const uint8_t f_want[] = {0x38, 0xb8, 0x00, 0x38, 0x38, 0xb8, 0x38, 0x00};
    assert_int_equal(ss_prune_matrix(f, SS_DT_F8_E4M3, 1, 8, 8, "f"), SS_OK);
    assert_memory_equal(f, f_want, 8);

    /* random ternary, L = 6: a group keeps its first min(4, nonzeros) +-1
     * values (equal |w|: lower index first) and ends with max(2, zeros) zeros */
    ss_rng r;
    ss_rng_seed(&r, 12, 0);
    int8_t t[4 * 36];
    for (int i = 0; i < 4 * 36; i++) t[i] = (int8_t)((int)(ss_rng_u64(&r) % 3) - 1);
    int8_t orig[4 * 36];
    memcpy(orig, t, sizeof t);
    assert_int_equal(ss_prune_matrix(t, SS_DT_I8, 4, 36, 6, "t"), SS_OK);
    for (int g = 0; g < 4 * 6; g++) {
        int zeros_in = 0, kept = 0;
        for (int j = 0; j < 6; j++) zeros_in += orig[g * 6 + j] == 0;
        for (int j = 0; j < 6; j++) {
            int8_t o = orig[g * 6 + j], p = t[g * 6 + j];
            if (p) assert_int_equal(p, o);
            if (o) {
                assert_int_equal(p != 0, kept < 4);
                kept += p != 0;
            }
        }
        int zeros_out = 0;
        for (int j = 0; j < 6; j++) zeros_out += t[g * 6 + j] == 0;
        assert_int_equal(zeros_out, zeros_in > 2 ? zeros_in : 2);
    }
}

/* Padding counts as zeros: with K = 15, L = 8 the last group has 7 real
 * columns and one padding zero, so exactly one real value is dropped; with
 * K = 10 the last group (2 real, 6 padding) is left alone. */
static void test_prune_padding(void **state) {
    (void)state;
    float w15[15], w10[10];
    for (int k = 0; k < 15; k++) w15[k] = (float)(k + 1);
    for (int k = 0; k < 10; k++) w10[k] = (float)(k + 1);
    assert_int_equal(ss_prune_matrix(w15, SS_DT_F32, 1, 15, 8, "w15"), SS_OK);
    assert_int_equal(ss_prune_matrix(w10, SS_DT_F32, 1, 10, 8, "w10"), SS_OK);
    const float want15[15] = {0, 0, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12, 13, 14, 15};
    const float want10[10] = {0, 0, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_memory_equal(w15, want15, sizeof want15);
    assert_memory_equal(w10, want10, sizeof want10);
    assert_true(ss_is_pruned(w15, SS_DT_F32, 1, 15, 8));
    assert_true(ss_is_pruned(w10, SS_DT_F32, 1, 10, 8));
}

static void test_is_pruned(void **state) {
    (void)state;
    const int8_t ok[] = {1, 0, 2, 0, 3, 4, 0, 0, 5, 6};       /* L=4: groups {1,0,2,0} {3,4,0,0} {5,6,pad,pad} */
    const int8_t bad[] = {1, 0, 2, 0, 3, 4, 5, 0, 5, 6};      /* group 1 has one zero */
    const int8_t bad_tail[] = {1, 0, 2, 0, 3, 4, 0, 0, 5, 6, 7}; /* last group 3 real + 1 pad */
    assert_true(ss_is_pruned(ok, SS_DT_I8, 1, 10, 4));
    assert_false(ss_is_pruned(bad, SS_DT_I8, 1, 10, 4));
    assert_false(ss_is_pruned(bad_tail, SS_DT_I8, 1, 11, 4));
    /* -0.0f is not all-zero bytes: counted as a nonzero, as slide does */
    const float negz[] = {-0.0f, 0.0f, 1.0f, 2.0f};
    assert_false(ss_is_pruned(negz, SS_DT_F32, 1, 4, 4));
}

static void test_prune_errors(void **state) {
    (void)state;
    int32_t w[8] = {0};
    assert_int_equal(ss_prune_matrix(w, SS_DT_I32, 1, 8, 8, "blk.0.q_proj.weight"), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "blk.0.q_proj.weight"));
    assert_non_null(strstr(ss_errmsg(), "I32"));
    assert_int_equal(ss_prune_matrix(w, SS_DT_I8, 1, 8, 5, "x"), SS_ERR_ARG);
    assert_int_equal(ss_prune_matrix(w, SS_DT_I8, 1, 8, 2, "x"), SS_ERR_ARG);
}

/* Ternary, mean|W| = 1 exactly so q = round(W): RNE ties 0.5 -> 0, -0.5 -> 0
 * (never -0), 1.5 -> 2 -> clamped 1, -2.5 -> -2 -> -1. */
static void test_ternary_hand(void **state) {
    (void)state;
    const float w[2 * 4] = {0.5f, -0.5f, 1.5f, -2.5f, 0.0f, 1.0f, -1.0f, 1.0f};
    const int8_t want_i8[8] = {0, 0, 1, -1, 0, 1, -1, 1};
    const uint8_t want_f8[8] = {0, 0, 0x38, 0xb8, 0, 0x38, 0xb8, 0x38};
    int8_t q[8];
    uint8_t f[8];
    float s[2];
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 2, 4, SS_SCHEME_TERNARY, SS_DT_I8, q, s, "w"), SS_OK);
    assert_memory_equal(q, want_i8, 8);
    assert_true(s[0] == 1.0f && s[1] == 1.0f);
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 2, 4, SS_SCHEME_TERNARY, SS_DT_F8_E4M3, f, s, "w"), SS_OK);
    assert_memory_equal(f, want_f8, 8);

    /* mean|W| = (0.3 + 0.9 + 0.2 + 0.2) / 4 = 0.4: q = round(-0.75, 2.25, 0.5, -0.5) */
    const uint16_t wb[4] = {ss_f32_to_bf16(-0.3f), ss_f32_to_bf16(0.9f), ss_f32_to_bf16(0.2f), ss_f32_to_bf16(-0.2f)};
    double mean = 0;
    for (int i = 0; i < 4; i++) mean += fabsf(ss_bf16_to_f32(wb[i]));
    const float s_want = (float)(mean / 4);
    assert_int_equal(ss_quantize_weight(wb, SS_DT_BF16, 1, 4, SS_SCHEME_TERNARY, SS_DT_I8, q, s, "wb"), SS_OK);
    assert_true(s[0] == s_want);
    const int8_t want_b[4] = {-1, 1, (int8_t)nearbyintf(ss_bf16_to_f32(wb[2]) / s_want),
                              (int8_t)nearbyintf(ss_bf16_to_f32(wb[3]) / s_want)};
    assert_memory_equal(q, want_b, 4);

    /* all zero, and tiny: the 1e-5 floor */
    const float z[4] = {0, 0, 0, 0}, tiny[4] = {1e-6f, -1e-6f, 8e-6f, -6e-6f};
    assert_int_equal(ss_quantize_weight(z, SS_DT_F32, 1, 4, SS_SCHEME_TERNARY, SS_DT_F8_E4M3, f, s, "z"), SS_OK);
    assert_true(s[0] == 1e-5f);
    assert_true(all_zero_bytes(f, 4));
    assert_int_equal(ss_quantize_weight(tiny, SS_DT_F32, 1, 4, SS_SCHEME_TERNARY, SS_DT_I8, q, s, "tiny"), SS_OK);
    assert_true(s[0] == 1e-5f);
    const int8_t want_tiny[4] = {0, 0, 1, -1};
    assert_memory_equal(q, want_tiny, 4);
}

/* Absmax with scales that are exact powers of two, so the ties are real ties. */
static void test_absmax_hand(void **state) {
    (void)state;
    /* row 0: amax 127 -> s = 1; row 1: amax 254 -> s = 2; row 2: all zero -> s = 1 */
    const float w[3 * 8] = {127, -63.5f, 62.5f, 0.5f, 1.5f, -0.5f, 0, 100.25f,
                            254, 3, 5, -7, 1, -1, 0, -254,
                            0, 0, 0, 0, 0, 0, 0, 0};
    const int8_t want[24] = {127, -64, 62, 0, 2, 0, 0, 100, 127, 2, 2, -4, 0, 0, 0, -127, 0, 0, 0, 0, 0, 0, 0, 0};
    int8_t q[24];
    float s[3];
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 3, 8, SS_SCHEME_ABSMAX, SS_DT_I8, q, s, "w"), SS_OK);
    assert_memory_equal(q, want, 24);
    assert_true(s[0] == 1.0f && s[1] == 2.0f && s[2] == 1.0f);

    /* FP8: amax 448 -> s = 1. 17 is the tie between 16 and 18 -> 16 (even
     * mantissa); 2^-10 is the tie between 0 and 2^-9 -> 0; 1.5 * 2^-10 -> 2^-9;
     * -300 -> -288 (grid step 32 above 256); -2^-12 rounds to zero: +0, not
     * 0x80; 19, the tie between 18 and 20, -> 20 (even mantissa). */
    const float f[8] = {448, -448, 17, 0x1p-10f, 0x1.8p-10f, -300, -0x1p-12f, 19};
    const uint8_t fwant[8] = {0x7e, 0xfe, 0x58, 0x00, 0x01, 0xf9, 0x00, 0x5a};
    uint8_t c[8];
    assert_int_equal(ss_quantize_weight(f, SS_DT_F32, 1, 8, SS_SCHEME_ABSMAX, SS_DT_F8_E4M3, c, s, "f"), SS_OK);
    assert_true(s[0] == 1.0f);
    assert_memory_equal(c, fwant, 8);
    assert_true(ss_fp8e4m3_to_f32(0xf9) == -288.0f && ss_fp8e4m3_to_f32(0x58) == 16.0f && ss_fp8e4m3_to_f32(0x5a) == 20.0f);

    /* Saturation: for amax = 0x1.006006p+0, amax / (amax / 448) = 448.00003 in
     * float: the code saturates to 448 (0x7e), never NaN (0x7f). Likewise
     * INT8 127.000008 -> 127. */
    const float sat = 0x1.006006p+0f;
    volatile float s8 = sat / 448.0f;
    assert_true(sat / s8 > 448.0f); /* the premise of this case */
    const float fs[2] = {sat, -sat};
    assert_int_equal(ss_quantize_weight(fs, SS_DT_F32, 1, 2, SS_SCHEME_ABSMAX, SS_DT_F8_E4M3, c, s, "sat"), SS_OK);
    assert_int_equal(c[0], 0x7e);
    assert_int_equal(c[1], 0xfe);
    const float isat[2] = {0x1.002002p+0f, -0x1.002002p+0f};
    volatile float si = isat[0] / 127.0f;
    assert_true(isat[0] / si > 127.0f);
    assert_int_equal(ss_quantize_weight(isat, SS_DT_F32, 1, 2, SS_SCHEME_ABSMAX, SS_DT_I8, q, s, "isat"), SS_OK);
    assert_int_equal(q[0], 127);
    assert_int_equal(q[1], -127);
}

/* Half an FP8 E4M3 step at magnitude a (a <= 448). */
static double fp8_half_step(double a) {
    if (a < 0x1p-6) return 0x1p-10;
    int e;
    frexp(a, &e); /* a in [2^(e-1), 2^e) */
    return ldexp(1.0, e - 1 - 3) / 2;
}

/* Random BF16 weights: codes follow the formula (division by the returned
 * scale), dequantized values lie within half a step of the input (plus
 * 1e-4 of a step: the float division w / s rounds too), and the result does
 * not depend on the thread count. */
static void test_absmax_roundtrip(void **state) {
    (void)state;
    const int64_t N = 33, K = 300;
    ss_rng r;
    ss_rng_seed(&r, 13, 0);
    uint16_t *w = malloc((size_t)(N * K) * 2);
    int8_t *q = malloc((size_t)(N * K)), *q1 = malloc((size_t)(N * K));
    float *s = malloc((size_t)N * 4), *s1 = malloc((size_t)N * 4);
    assert_true(w && q && q1 && s && s1);
    for (int64_t i = 0; i < N * K; i++) w[i] = ss_f32_to_bf16(0.02f * ss_rng_normal(&r) * (float)(1 + i / K));
    const ss_dtype qdts[] = {SS_DT_I8, SS_DT_F8_E4M3};
    for (int qi = 0; qi < 2; qi++) {
        const ss_dtype qdt = qdts[qi];
        assert_int_equal(ss_quantize_weight(w, SS_DT_BF16, N, K, SS_SCHEME_ABSMAX, qdt, q, s, "rt"), SS_OK);
        for (int64_t n = 0; n < N; n++) {
            float amax = 0;
            for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(ss_bf16_to_f32(w[n * K + k])));
            assert_true(s[n] == amax / (qdt == SS_DT_I8 ? 127.0f : 448.0f));
            for (int64_t k = 0; k < K; k++) {
                float x = ss_bf16_to_f32(w[n * K + k]);
                if (qdt == SS_DT_I8) {
                    assert_int_equal(q[n * K + k], ss_f32_to_i8_sym(x / s[n]));
                    assert_true(fabs((double)q[n * K + k] * s[n] - x) <= 0.5 * s[n] * (1 + 1e-4));
                } else {
                    uint8_t c = (uint8_t)q[n * K + k];
                    assert_true(c != 0x80);
                    double v = ss_fp8e4m3_to_f32(c);
                    assert_true(fabs(v - x / s[n]) <= fp8_half_step(fabs(x / s[n])) * (1 + 1e-4));
                    assert_true(fabs(v * s[n] - x) <= fp8_half_step(fabs(x / s[n])) * s[n] * (1 + 1e-4));
                }
            }
        }
        /* one thread gives the same bytes */
        int threads = omp_get_max_threads();
        omp_set_num_threads(1);
        assert_int_equal(ss_quantize_weight(w, SS_DT_BF16, N, K, SS_SCHEME_ABSMAX, qdt, q1, s1, "rt"), SS_OK);
        assert_memory_equal(q, q1, (size_t)(N * K));
        assert_memory_equal(s, s1, (size_t)N * 4);
        assert_int_equal(ss_quantize_weight(w, SS_DT_BF16, N, K, SS_SCHEME_TERNARY, qdt, q1, s1, "rt"), SS_OK);
        omp_set_num_threads(threads > 1 ? threads : 3);
        assert_int_equal(ss_quantize_weight(w, SS_DT_BF16, N, K, SS_SCHEME_TERNARY, qdt, q, s, "rt"), SS_OK);
        assert_memory_equal(q, q1, (size_t)(N * K));
        assert_memory_equal(s, s1, (size_t)N * 4);
        omp_set_num_threads(threads);
        for (int64_t n = 1; n < N; n++) assert_true(s[n] == s[0]); /* ternary: the tensor scale repeated */
    }
    free(w), free(q), free(q1), free(s), free(s1);
}

static void test_quant_errors(void **state) {
    (void)state;
    float w[4] = {1, 2, NAN, 4};
    int8_t q[4];
    float s[2];
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 2, 2, SS_SCHEME_ABSMAX, SS_DT_I8, q, s, "blk.q"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "blk.q"));
    assert_non_null(strstr(ss_errmsg(), "row 1"));
    w[2] = INFINITY;
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 2, 2, SS_SCHEME_TERNARY, SS_DT_I8, q, s, "blk.q"), SS_ERR_FORMAT);
    assert_int_equal(ss_quantize_weight(w, SS_DT_I8, 2, 2, SS_SCHEME_TERNARY, SS_DT_I8, q, s, "x"), SS_ERR_UNSUPPORTED);
    assert_int_equal(ss_quantize_weight(w, SS_DT_F32, 2, 2, SS_SCHEME_TERNARY, SS_DT_BF16, q, s, "x"), SS_ERR_ARG);
    ss_qscheme sc;
    assert_int_equal(ss_qscheme_parse("absmax", &sc), SS_OK);
    assert_int_equal(sc, SS_SCHEME_ABSMAX);
    assert_int_equal(ss_qscheme_parse("ternary", &sc), SS_OK);
    assert_int_equal(sc, SS_SCHEME_TERNARY);
    assert_int_equal(ss_qscheme_parse("int4", &sc), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "int4"));
    assert_string_equal(ss_qscheme_name(SS_SCHEME_ABSMAX), "absmax");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prune_matches_reference_every_dtype),
        cmocka_unit_test(test_prune_ternary_ties),
        cmocka_unit_test(test_prune_padding),
        cmocka_unit_test(test_is_pruned),
        cmocka_unit_test(test_prune_errors),
        cmocka_unit_test(test_ternary_hand),
        cmocka_unit_test(test_absmax_hand),
        cmocka_unit_test(test_absmax_roundtrip),
        cmocka_unit_test(test_quant_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
