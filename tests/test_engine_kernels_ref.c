/* CPU test of the algorithms of the GPU engine's newer kernels, through
 * their CPU twins (engine/cuda/kernels_ref.h): the tensor-core decode
 * attention's schedule (chunks, 64-position tiles, 16 positions per warp,
 * q and P as BF16 hi + lo, log2-domain online softmax, warp and chunk
 * merges) must compute the CPU engine's attention (ss_ref_attention) to
 * near float precision for every context length around the tile, warp and
 * chunk edges, every GQA ratio and head dimension. The GPU tests then hold
 * the kernels to these twins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/rng.h"
#include "engine/cuda/kernels_ref.h"
#include "engine/cuda/plan.h"
#include "gemm/linear.h"

#define OK_REF(expr)                                                                             \
    do {                                                                                         \
        ss_status st_ = (expr);                                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg());     \
    } while (0)

static ss_rng g_rng;

static double rel_l2(const float *got, const float *want, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

typedef struct fixture {
    ss_attn_geom g;
    int64_t ld;
    double *rope;
    float *qkv;
    uint16_t *kc, *vc;
} fixture;

/* Random qkv rows [n, ld] (BF16 values of std q_std) and caches full of
 * random BF16 K/V (std 1), positions 0..max_len-1 of every sequence. */
static void fixture_make(fixture *f, int H, int KVH, int D, int max_seqs, int max_len, int n, float q_std) {
    memset(f, 0, sizeof *f);
    f->g = (ss_attn_geom){.n_heads = H, .n_kv_heads = KVH, .head_dim = D, .max_seqs = max_seqs, .max_len = max_len,
                          .q_col = 0, .k_col = (int64_t)H * D, .v_col = (int64_t)(H + KVH) * D};
    f->ld = (int64_t)(H + 2 * KVH) * D + 8;
    double inv[SS_REF_MAX_HEAD_DIM];
    for (int i = 0; i < D / 2; i++) inv[i] = pow(500000.0, -2.0 * i / D);
    f->rope = malloc((size_t)max_len * D * sizeof(double));
    f->qkv = malloc((size_t)n * f->ld * sizeof(float));
    const size_t ce = (size_t)max_seqs * KVH * max_len * D;
    f->kc = malloc(ce * 2), f->vc = malloc(ce * 2);
    assert_non_null(f->rope), assert_non_null(f->qkv), assert_non_null(f->kc), assert_non_null(f->vc);
    ss_ref_rope_table(inv, 1.0, D, max_len, f->rope);
    for (int64_t i = 0; i < n * f->ld; i++) f->qkv[i] = ss_round_bf16(q_std * ss_rng_normal(&g_rng));
    for (size_t i = 0; i < ce; i++) {
        f->kc[i] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
        f->vc[i] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
    }
}

static void fixture_free(fixture *f) { free(f->rope), free(f->qkv), free(f->kc), free(f->vc); }

/* Contexts 1..: every length near the warp (16), tile (64) and chunk edges. */
static const int CTX[] = {1, 2, 15, 16, 17, 31, 48, 63, 64, 65, 80, 127, 128, 129, 191, 192, 193, 255, 256, 300};
#define N_CTX ((int)(sizeof CTX / sizeof CTX[0]))

static void check_decode_tc(int H, int KVH, int D, float q_std) {
    const int max_len = 300, n = N_CTX;
    fixture f;
    fixture_make(&f, H, KVH, D, n, max_len, n, q_std);
    int32_t seq[N_CTX], pos[N_CTX], rows[N_CTX];
    for (int i = 0; i < n; i++) seq[i] = n - 1 - i, pos[i] = CTX[i] - 1, rows[i] = (i * 7) % n; /* a permutation */
    const int64_t Q = (int64_t)H * D;
    float *want = malloc((size_t)n * Q * sizeof(float)), *got = malloc((size_t)n * Q * sizeof(float));
    assert_non_null(want), assert_non_null(got);
    OK_REF(ss_ref_attention(f.qkv, f.ld, n, seq, pos, f.rope, &f.g, f.kc, f.vc, want));
    const int chunks[4] = {64, 128, 192, 320};
    for (int c = 0; c < 4; c++) {
        for (size_t i = 0; i < (size_t)n * Q; i++) got[i] = NAN;
        OK_REF(ss_ref_attention_decode_tc(f.qkv, f.ld, rows, n, seq, pos, f.rope, &f.g, chunks[c], f.kc, f.vc, got));
        double worst = 0;
        for (int i = 0; i < n; i++) {
            const double e = rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q);
            if (e > worst) worst = e;
            if (e >= 2e-5)
                fail_msg("H=%d KVH=%d D=%d chunk %d: context %d: rel L2 %.3g", H, KVH, D, chunks[c], CTX[i], e);
        }
        printf("  decode_tc twin H=%d KVH=%d D=%d q_std %.1f chunk %3d: worst row rel L2 %.2e over %d contexts\n", H,
               KVH, D, q_std, chunks[c], worst, n);
    }
    free(want), free(got);
    fixture_free(&f);
}

static void test_decode_tc_twin(void **state) {
    (void)state;
    check_decode_tc(20, 5, 128, 1.0f); /* BitNet-2B: groups of 4 */
    check_decode_tc(8, 2, 64, 1.0f);
    check_decode_tc(4, 4, 128, 1.0f); /* MHA: groups of 1 */
    check_decode_tc(16, 2, 64, 1.0f); /* groups of 8, the most the kernel takes */
    check_decode_tc(6, 2, 128, 3.0f); /* groups of 3; peaked softmax (large scores) */
}

/* FP8 caches quantized per row from the fixture's BF16 caches (as
 * rope_kv_f8 would have written them). */
static void fixture_f8(const fixture *f, ss_kv_f8 *kv) {
    const int D = f->g.head_dim;
    const size_t rows = (size_t)f->g.max_seqs * f->g.n_kv_heads * f->g.max_len;
    kv->k = malloc(rows * D), kv->v = malloc(rows * D);
    kv->k_scale = malloc(rows * sizeof(float)), kv->v_scale = malloc(rows * sizeof(float));
    float *tmp = malloc((size_t)D * sizeof(float));
    assert_non_null(kv->k), assert_non_null(kv->v), assert_non_null(kv->k_scale), assert_non_null(kv->v_scale);
    assert_non_null(tmp);
    for (size_t r = 0; r < rows; r++) {
        for (int d = 0; d < D; d++) tmp[d] = ss_bf16_to_f32(f->kc[r * D + d]);
        ss_quant_act_ref(tmp, 1, D, SS_DT_F8_E4M3, kv->k + r * D, &kv->k_scale[r]);
        for (int d = 0; d < D; d++) tmp[d] = ss_bf16_to_f32(f->vc[r * D + d]);
        ss_quant_act_ref(tmp, 1, D, SS_DT_F8_E4M3, kv->v + r * D, &kv->v_scale[r]);
    }
    free(tmp);
}

static void kv_f8_free(ss_kv_f8 *kv) { free(kv->k), free(kv->v), free(kv->k_scale), free(kv->v_scale); }

/* The FP8 cache: the tensor-core kernel's twin (FP16 hi + lo, scales on the
 * scores and on P) computes the CPU engine's attention over the same codes
 * to near float precision; and that attention's distance from the BF16
 * cache's is the FP8 cache's own error, stated here. */
static void check_decode_tc_f8(int H, int KVH, int D) {
    const int max_len = 300, n = N_CTX;
    fixture f;
    fixture_make(&f, H, KVH, D, n, max_len, n, 1.0f);
    ss_kv_f8 kv;
    fixture_f8(&f, &kv);
    int32_t seq[N_CTX], pos[N_CTX], rows[N_CTX];
    for (int i = 0; i < n; i++) seq[i] = n - 1 - i, pos[i] = CTX[i] - 1, rows[i] = (i * 7) % n;
    const int64_t Q = (int64_t)H * D;
    float *want = malloc((size_t)n * Q * sizeof(float)), *got = malloc((size_t)n * Q * sizeof(float)),
          *bf = malloc((size_t)n * Q * sizeof(float));
    assert_non_null(want), assert_non_null(got), assert_non_null(bf);
    OK_REF(ss_ref_attention_f8(f.qkv, f.ld, n, seq, pos, f.rope, &f.g, &kv, want));
    OK_REF(ss_ref_attention(f.qkv, f.ld, n, seq, pos, f.rope, &f.g, f.kc, f.vc, bf));
    const double e_fp8 = rel_l2(want, bf, (int64_t)n * Q);
    printf("  FP8 cache (per-row scales) vs BF16 cache, CPU attention H=%d KVH=%d D=%d: rel L2 %.2e\n", H, KVH, D, e_fp8);
    assert_true(e_fp8 > 1e-4 && e_fp8 < 0.1); /* really quantized; within FP8's precision */
    const int chunks[2] = {64, 192};
    for (int c = 0; c < 2; c++) {
        OK_REF(ss_ref_attention_decode_tc_f8(f.qkv, f.ld, rows, n, seq, pos, f.rope, &f.g, chunks[c], &kv, got));
        double worst = 0;
        for (int i = 0; i < n; i++) {
            const double e = rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q);
            if (e > worst) worst = e;
            if (e >= 4e-5) fail_msg("FP8 H=%d KVH=%d D=%d chunk %d: context %d: rel L2 %.3g", H, KVH, D, chunks[c], CTX[i], e);
        }
        printf("  decode_tc FP8 twin H=%d KVH=%d D=%d chunk %3d: worst row rel L2 %.2e vs the CPU over the FP8 cache\n", H,
               KVH, D, chunks[c], worst);
    }
    free(want), free(got), free(bf);
    kv_f8_free(&kv);
    fixture_free(&f);
}

static void test_decode_tc_f8_twin(void **state) {
    (void)state;
    check_decode_tc_f8(20, 5, 128);
    check_decode_tc_f8(8, 2, 64);
}

/* rope_kv's FP8 twin writes what quantizing rope_kv's float rows gives: the
 * dequantized cache is the BF16 cache to within FP8's half step. */
static void test_rope_kv_f8_twin(void **state) {
    (void)state;
    fixture f;
    fixture_make(&f, 8, 2, 128, 3, 40, 25, 1.0f);
    const size_t rows = (size_t)3 * 2 * 40;
    ss_kv_f8 kv = {.k = calloc(rows, 128), .v = calloc(rows, 128), .k_scale = calloc(rows, 4), .v_scale = calloc(rows, 4)};
    int32_t seq[25], pos[25];
    for (int i = 0; i < 25; i++) seq[i] = i % 3, pos[i] = (i * 7) % 40;
    OK_REF(ss_ref_rope_kv(f.qkv, f.ld, 25, seq, pos, f.rope, &f.g, f.kc, f.vc));
    OK_REF(ss_ref_rope_kv_f8(f.qkv, f.ld, 25, seq, pos, f.rope, &f.g, &kv));
    for (int i = 0; i < 25; i++)
        for (int h = 0; h < 2; h++) {
            const size_t r = ((size_t)seq[i] * 2 + h) * 40 + pos[i];
            assert_true(kv.k_scale[r] > 0 && kv.v_scale[r] > 0);
            for (int d = 0; d < 128; d++) {
                const float k = ss_fp8e4m3_to_f32(kv.k[r * 128 + d]) * kv.k_scale[r];
                const float v = ss_fp8e4m3_to_f32(kv.v[r * 128 + d]) * kv.v_scale[r];
                const float kb = ss_bf16_to_f32(f.kc[r * 128 + d]), vb = ss_bf16_to_f32(f.vc[r * 128 + d]);
                /* E4M3: 3 mantissa bits, half a step relative 2^-4, plus the BF16 rounding */
                assert_true(fabsf(k - kb) <= 0.0625f * fabsf(kb) + 0.01f * 448 * kv.k_scale[r] + 1e-6f);
                assert_true(fabsf(v - vb) <= 0.0625f * fabsf(vb) + 0.01f * 448 * kv.v_scale[r] + 1e-6f);
            }
        }
    kv_f8_free(&kv);
    fixture_free(&f);
}

/* The hi + lo split carries about 16 significant bits: a plain BF16 q
 * (8 bits) would miss the bound above by far, so the test can tell. */
static void test_hi_lo_split(void **state) {
    (void)state;
    double worst_hl = 0, worst_bf = 0;
    for (int i = 0; i < 100000; i++) {
        const float x = (float)(ss_rng_normal(&g_rng) * pow(2.0, (double)(int)(ss_rng_u64(&g_rng) % 40) - 20));
        const float hi = ss_round_bf16(x), lo = ss_round_bf16(x - hi);
        const double e_hl = fabs(((double)hi + lo - x) / x), e_bf = fabs(((double)hi - x) / x);
        if (e_hl > worst_hl) worst_hl = e_hl;
        if (e_bf > worst_bf) worst_bf = e_bf;
    }
    printf("  BF16 hi + lo: worst relative error %.2e (BF16 alone %.2e)\n", worst_hl, worst_bf);
    assert_true(worst_hl <= ldexp(1.0, -16));
    assert_true(worst_bf > ldexp(1.0, -10));
}

int main(void) {
    ss_rng_seed(&g_rng, 20261202, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hi_lo_split),
        cmocka_unit_test(test_decode_tc_twin),
        cmocka_unit_test(test_decode_tc_f8_twin),
        cmocka_unit_test(test_rope_kv_f8_twin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
