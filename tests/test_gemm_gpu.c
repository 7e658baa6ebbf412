/* GPU linear layer against the CPU reference (label gpu; exits 77 = skipped
 * without a CUDA device).
 *
 * Every backend x dtype x sparsity on two odd shapes (M, N, K not multiples
 * of 16/32, one K not a multiple of 8 so the kernels' scalar paths run too),
 * with and without bias:
 *   - quant / quant+slide: codes and per-token scales equal the CPU
 *     reference byte for byte, padding rows and columns are zero;
 *   - ACC output: INT8 accumulators equal the exact INT32 sums of the
 *     *unslid pruned* operands (so the slide identity is checked as well);
 *   - full path and BF16 output: INT8 bit-exact against ss_linear_ref of the
 *     pruned (unslid) weight; FP8 / BF16 / FP16 within the tolerance below;
 *   - BF16_CHANNEL output, finished on the host as the engine would
 *     (times s_x[m], plus bias): within the same tolerance, and for INT8
 *     without bias within 1 BF16 ulp (one extra rounding).
 * Tolerance for the float paths: |y - ref| <= ulp(ref) + ulp(pre) + r S,
 * where pre is the exact value before the bias, S = sum_k |x_k w_k| (scaled),
 * r = 2^-12 for BF16/FP16 and 2^-9 for FP8.
 * Why: the output rounding and at most one intermediate BF16/FP16 rounding
 * (cuSPARSELt's 16-bit output, the channel-scaled output) give the two ulps.
 * The tensor cores sum in another order: in FP32 for 16-bit inputs (error
 * far below 2^-12 S for K < 1000); for FP8, Hopper's tensor cores keep only
 * ~14 significant bits while accumulating, and a library that does not
 * promote to FP32 every k-block (fast accumulation) reaches ~2% relative
 * error at K = 4096 (DeepSeek-V3 report, section 3.3.2), i.e. ~2^-9 at the
 * few hundred columns used here. The largest error seen, as a fraction of
 * S, is printed for each case.
 * Plus: dequant kernel bit-exact against ss_dequant_ref for every input
 * type, cuSPARSELt compressed-weight round trip through an identity
 * activation, and the errors (non-2:4 weight, FP4 on Hopper, unsupported
 * output modes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/prune.h"
#include "convert/slide.h"
#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "gemm/arch.h"
#include "gemm/fp4.h"
#include "gemm/gemm.h"
#include "gemm/gemm_ref.h"
#include "gemm/linear.h"

static ss_gemm_ctx *g_ctx;
static ss_gpu_info g_gpu;

#define OK(expr)                                                                 \
    do {                                                                         \
        ss_status st_ = (expr);                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

static double g_worst; /* largest |y - ref| / S of the current case */

static double rel_tol(ss_gemm_dtype dt) { return dt == SS_GEMM_FP8E4M3 ? 0x1p-9 : 0x1p-12; }

static float ulp_bf16(float v) {
    int e;
    v = fabsf(v);
    if (v < 1e-30f) return 1e-30f;
    frexpf(v, &e); /* v = f * 2^e, f in [0.5, 1): 8 significant bits -> ulp 2^(e-8) */
    return ldexpf(1.0f, e - 8);
}

/* ---- test data ---- */

typedef struct lcase {
    ss_backend be;
    ss_gemm_dtype dt;
    int L;       /* 0: dense, not slid; else prune to 2:L (SS_L_INF: no pruning) and slide */
    int64_t M, N, K;
    int bias;
    uint64_t seed;
    int uniform; /* one weight scale for all channels (BitNet's per-tensor scale) */
    int ties;    /* rows 1 and 2 sit on the codes' rounding points (see fill_x) */
} lcase;

static const char *case_str(const lcase *c, char *buf, size_t cap) {
    char sp[16] = "dense";
    if (c->L) ss_sparsity_name(c->L, sp, sizeof sp);
    snprintf(buf, cap, "%s %s %s M=%lld N=%lld K=%lld%s%s", ss_backend_name(c->be), ss_gemm_dtype_name(c->dt), sp,
             (long long)c->M, (long long)c->N, (long long)c->K, c->bias ? " +bias" : "",
             c->uniform ? " uniform-scale" : "");
    return buf;
}

/* Random weight codes of dtype t, positive zeros only. */
static void fill_weight(ss_dtype t, void *w, int64_t n, ss_rng *r) {
    for (int64_t i = 0; i < n; i++) {
        float v = ss_rng_normal(r);
        switch (t) {
        case SS_DT_I8: {
            int q = (int)lrintf(v * 40.0f);
            ((int8_t *)w)[i] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
            break;
        }
        case SS_DT_F8_E4M3: {
            uint8_t c = ss_f32_to_fp8e4m3(v * 60.0f);
            ((uint8_t *)w)[i] = c == 0x80 ? 0 : c;
            break;
        }
        case SS_DT_BF16: {
            uint16_t h = ss_f32_to_bf16(v * 0.25f);
            ((uint16_t *)w)[i] = h == 0x8000 ? 0 : h;
            break;
        }
        default: { /* F16 */
            uint16_t h = ss_f32_to_f16(v * 0.25f);
            ((uint16_t *)w)[i] = h == 0x8000 ? 0 : h;
            break;
        }
        }
    }
}

/* A value on (d = 0) or one BF16 step beside (d = -1, +1) a rounding point
 * of the codes when the row's scale is exactly 1: a half-integer for INT8
 * (absmax 127), the midpoint of two E4M3 values for FP8 (absmax 448).
 * These take the exact division inside the GPU's quant_fast. */
static float tie_value(int fp8, int64_t k, ss_rng *r) {
    const int d = (int)(k % 3) - 1;
    float v;
    if (!fp8) v = (float)(k % 127) + 0.5f;                                           /* n + 0.5 */
    else v = ldexpf(1.0f + (float)(2 * (k % 8) + 1) / 16.0f, (int)(k % 14) - 6); /* E4M3 midpoints */
    if (k % 5 == 4) v = ldexpf(1.3f, -7 - (int)(k % 7));                              /* E4M3 subnormal range */
    v = ss_round_bf16(v);
    v = ss_bf16_to_f32((uint16_t)(ss_f32_to_bf16(v) + d)); /* one BF16 step down or up */
    return ss_rng_uniform(r) < 0.5f ? -v : v;
}

/* Activation rows of very different magnitudes (one all zero: the scale
 * floor), every value a BF16 that FP16 also holds exactly; with ties, rows
 * 1 (INT8) and 2 (FP8) hold the rounding points of tie_value. */
static void fill_x(float *x, uint16_t *xb, int64_t M, int64_t K, int ties, ss_rng *r) {
    for (int64_t m = 0; m < M; m++) {
        float mag = m == 3 ? 0.0f : powf(10.0f, (float)(m % 5) - 2.0f);
        for (int64_t k = 0; k < K; k++) {
            float v = ss_round_bf16(ss_rng_normal(r) * mag * 4.0f);
            if (fabsf(v) < 0x1p-6f * mag || v == 0.0f) v = 0.0f; /* keep inside FP16's normal range */
            if (mag >= 1.0f && fabsf(v) > 60000.0f) v = copysignf(60000.0f, v);
            if (ties && (m == 1 || m == 2)) v = k == 0 ? (m == 1 ? 127.0f : 448.0f) : tie_value(m == 2, k, r);
            x[m * K + k] = v;
            xb[m * K + k] = ss_f32_to_bf16(v);
        }
    }
}

typedef struct prepared {
    ss_dtype wdt;
    ss_slide_geom g;
    void *w;          /* pruned [N, K] */
    void *ws;         /* slid [N, K_slid] or NULL */
    float *scale, *bias;
    float *x;         /* [M, K] */
    uint16_t *xb;
    ss_linear_weight ref_w, gpu_w;
} prepared;

static void prepare(const lcase *c, prepared *p) {
    memset(p, 0, sizeof *p);
    ss_rng r;
    ss_rng_seed(&r, c->seed, 1);
    p->wdt = ss_gemm_act_dtype(c->dt);
    size_t es = ss_dtype_size(p->wdt);
    p->w = calloc((size_t)(c->N * c->K), es);
    p->scale = malloc((size_t)c->N * sizeof(float));
    p->bias = c->bias ? malloc((size_t)c->N * sizeof(float)) : NULL;
    p->x = malloc((size_t)(c->M * c->K) * sizeof(float));
    p->xb = malloc((size_t)(c->M * c->K) * 2);
    assert_non_null(p->w);
    fill_weight(p->wdt, p->w, c->N * c->K, &r);
    for (int64_t n = 0; n < c->N; n++) {
        p->scale[n] = c->uniform && n > 0 ? p->scale[0] : 0.001f + 0.01f * ss_rng_uniform(&r);
        if (p->bias) p->bias[n] = ss_rng_normal(&r);
    }
    fill_x(p->x, p->xb, c->M, c->K, c->ties, &r);
    if (c->L && c->L != SS_L_INF) OK(ss_prune_matrix(p->w, p->wdt, c->N, c->K, c->L, "test weight"));
    int quant = c->dt == SS_GEMM_INT8 || c->dt == SS_GEMM_FP8E4M3;
    p->ref_w = (ss_linear_weight){.name = "ref", .N = c->N, .K = c->K, .dtype = p->wdt, .w = p->w,
                                  .scale = quant ? p->scale : NULL, .bias = p->bias};
    p->gpu_w = p->ref_w;
    p->gpu_w.name = "test";
    if (c->L) {
        OK(ss_slide_geometry(c->K, c->L, &p->g));
        p->ws = calloc((size_t)(c->N * p->g.K_slid), es);
        OK(ss_slide_matrix(&p->g, p->w, c->N, es, p->ws, "test weight"));
        p->gpu_w.slid = 1;
        p->gpu_w.slide = p->g;
        p->gpu_w.w = p->ws;
    }
}

static void release(prepared *p) {
    free(p->w);
    free(p->ws);
    free(p->scale);
    free(p->bias);
    free(p->x);
    free(p->xb);
}

static void *dev_alloc(size_t bytes, int poison) {
    void *d = NULL;
    OK(ss_gpu_alloc(bytes, &d));
    OK(ss_gpu_memset(d, poison, bytes));
    return d;
}

/* Decoded activation code (I8 / F8_E4M3 / BF16 / F16) as float. */
static float code_f32(ss_dtype t, const void *a, int64_t i) { return ss_load_f32(a, t, (size_t)i); }

/* S[m,n] = sum_k |x w| (quantized: in code units times s_x s_w), the exact
 * pre-bias value, and the exact accumulator (code units), from the unslid
 * operands. */
static void mass_and_exact(const lcase *c, const prepared *p, const void *xq, const float *sx, double *S, double *pre,
                           double *acc) {
    int quant = c->dt == SS_GEMM_INT8 || c->dt == SS_GEMM_FP8E4M3;
    for (int64_t m = 0; m < c->M; m++)
        for (int64_t n = 0; n < c->N; n++) {
            double s = 0, e = 0;
            for (int64_t k = 0; k < c->K; k++) {
                double a = quant ? code_f32(p->wdt, xq, m * c->K + k) : p->x[m * c->K + k];
                double b = code_f32(p->wdt, p->w, n * c->K + k);
                s += fabs(a * b);
                e += a * b;
            }
            double f = quant ? (double)sx[m] * p->scale[n] : 1.0;
            S[m * c->N + n] = s * f;
            pre[m * c->N + n] = e * f;
            acc[m * c->N + n] = e;
        }
}

/* Compares y (ld ldy, BF16 bits) with ref over [M, N]; exact or within the
 * float tolerance. Returns mismatches, printing the first few. */
static int compare_bf16(const lcase *c, const char *what, const uint16_t *y, int64_t ldy, const float *ref,
                        const double *S, const double *pre, int exact) {
    char cs[160];
    int bad = 0;
    for (int64_t m = 0; m < c->M; m++)
        for (int64_t n = 0; n < c->N; n++) {
            float got = ss_bf16_to_f32(y[m * ldy + n]), want = ref[m * c->N + n];
            double tol = exact ? 0.0
                               : ulp_bf16(want) + ulp_bf16((float)pre[m * c->N + n]) + rel_tol(c->dt) * S[m * c->N + n];
            if (S[m * c->N + n] > 0 && fabs((double)got - want) / S[m * c->N + n] > g_worst)
                g_worst = fabs((double)got - want) / S[m * c->N + n];
            if (isnan(got) || fabs((double)got - want) > tol) {
                if (bad++ < 4)
                    print_error("%s %s: y[%lld,%lld] = %.9g, reference %.9g (tolerance %.3g)\n", case_str(c, cs, sizeof cs),
                                what, (long long)m, (long long)n, got, want, tol);
            }
        }
    return bad;
}

/* ---- one case: quant, ACC, BF16_CHANNEL, BF16 and the full path ---- */

static void run_case(const lcase *c) {
    char cs[160];
    case_str(c, cs, sizeof cs);
    ss_status sup = ss_gemm_supported(&g_gpu, c->be, c->dt);
    if (sup == SS_ERR_UNSUPPORTED) {
        print_message("skipped %s: %s\n", cs, ss_errmsg());
        return;
    }
    prepared p;
    prepare(c, &p);
    g_worst = 0;
    const int quant = c->dt == SS_GEMM_INT8 || c->dt == SS_GEMM_FP8E4M3;
    const int exact = c->dt == SS_GEMM_INT8;
    ss_gemm_weight *w = NULL;
    OK(ss_gemm_weight_create(g_ctx, &p.gpu_w, c->be, &w));
    ss_gemm_weight_info wi;
    ss_gemm_weight_get_info(w, &wi);
    const int64_t M = c->M, N = c->N, K = c->K, Mp = ss_gemm_pad_m(M), Np = wi.N_pad, Ka = wi.K_act;
    assert_int_equal(Np % 32, 0);
    assert_int_equal(Ka % 32, 0);
    const size_t aes = ss_dtype_size(ss_gemm_act_dtype(c->dt));

    /* reference: the pruned, unslid layer */
    float *yref = malloc((size_t)(M * N) * sizeof(float));
    OK(ss_linear_ref(&p.ref_w, p.x, M, yref));
    void *xq_ref = malloc((size_t)(M * K) * aes + 1), *xq_slid_ref = malloc((size_t)(M * Ka) * aes + 1);
    float *sx_ref = malloc((size_t)M * sizeof(float));
    if (quant) {
        ss_quant_act_ref(p.x, M, K, p.wdt, xq_ref, sx_ref);
        if (c->L) ss_quant_slide_act_ref(p.x, M, &p.g, p.wdt, xq_slid_ref, sx_ref);
    }
    double *S = malloc((size_t)(M * N) * sizeof(double)), *pre = malloc((size_t)(M * N) * sizeof(double));
    double *exact_acc = malloc((size_t)(M * N) * sizeof(double));
    mass_and_exact(c, &p, xq_ref, sx_ref, S, pre, exact_acc);

    /* device buffers, poisoned so unwritten outputs show */
    void *dx = dev_alloc((size_t)(M * K) * 2, 0);
    OK(ss_gpu_upload(dx, p.xb, (size_t)(M * K) * 2));
    void *dxq = dev_alloc((size_t)(Mp * Ka) * aes, 0x5a);
    float *dsx = dev_alloc((size_t)Mp * sizeof(float), 0xff);
    void *dout = dev_alloc((size_t)(Mp * Np) * 4, 0xff);
    void *dy = dev_alloc((size_t)(M * N) * 2, 0xff);

    /* 1. quantize (+ slide) */
    OK(ss_gemm_quantize(g_ctx, w, dx, M, dxq, quant ? dsx : NULL));
    OK(ss_gemm_ctx_sync(g_ctx));
    uint8_t *hq = malloc((size_t)(Mp * Ka) * aes);
    float *hsx = malloc((size_t)Mp * sizeof(float));
    OK(ss_gpu_download(hq, dxq, (size_t)(Mp * Ka) * aes));
    OK(ss_gpu_download(hsx, dsx, (size_t)Mp * sizeof(float)));
    int bad = 0;
    for (int64_t m = 0; m < Mp; m++) {
        if (quant && m < M && memcmp(&hsx[m], &sx_ref[m], 4) != 0 && bad++ < 4)
            print_error("%s: scale[%lld] = %.9g, reference %.9g\n", cs, (long long)m, hsx[m], sx_ref[m]);
        if (quant && m >= M && hsx[m] != 1.0f && bad++ < 4) print_error("%s: padding scale[%lld] != 1\n", cs, (long long)m);
        for (int64_t k = 0; k < Ka; k++) {
            const uint8_t *got = hq + (size_t)(m * Ka + k) * aes;
            uint8_t want[2] = {0, 0};
            if (m < M) {
                if (quant && c->L) memcpy(want, (uint8_t *)xq_slid_ref + (m * Ka + k) * (int64_t)aes, aes);
                else if (quant && k < K) memcpy(want, (uint8_t *)xq_ref + (m * K + k) * (int64_t)aes, aes);
                else if (!quant) {
                    int64_t src = c->L ? ss_slide_src(&p.g, k) : (k < K ? k : -1);
                    uint16_t h = 0;
                    if (src >= 0)
                        h = c->dt == SS_GEMM_BF16 ? ss_f32_to_bf16(p.x[m * K + src]) : ss_f32_to_f16(p.x[m * K + src]);
                    memcpy(want, &h, 2);
                }
            }
            if (memcmp(got, want, aes) != 0 && bad++ < 4)
                print_error("%s: X'[%lld,%lld] = 0x%02x%02x, reference 0x%02x%02x\n", cs, (long long)m, (long long)k,
                            aes > 1 ? got[1] : 0, got[0], aes > 1 ? want[1] : 0, want[0]);
        }
    }
    assert_int_equal(bad, 0);

    /* 2. ACC: INT8 exact against the unslid pruned operands */
    OK(ss_gemm_matmul(g_ctx, w, dxq, dsx, M, SS_GEMM_OUT_ACC, dout));
    OK(ss_gemm_ctx_sync(g_ctx));
    ss_dtype acc_t = ss_gemm_acc_dtype(c->be, c->dt);
    void *hacc = malloc((size_t)(Mp * Np) * 4);
    OK(ss_gpu_download(hacc, dout, (size_t)(Mp * Np) * ss_dtype_size(acc_t)));
    bad = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double f = quant ? (double)sx_ref[m] * p.scale[n] : 1.0;
            double want = exact_acc[m * N + n], got;
            if (acc_t == SS_DT_I32) got = ((int32_t *)hacc)[m * Np + n];
            else if (acc_t == SS_DT_F32) got = ((float *)hacc)[m * Np + n];
            else got = ss_load_f32(hacc, acc_t, (size_t)(m * Np + n));
            double tol = acc_t == SS_DT_I32 ? 0.0 : rel_tol(c->dt) * S[m * N + n] / f + 2 * ulp_bf16((float)want);
            if (S[m * N + n] > 0 && fabs(got - want) * f / S[m * N + n] > g_worst) g_worst = fabs(got - want) * f / S[m * N + n];
            if (!(fabs(got - want) <= tol) && bad++ < 4)
                print_error("%s: acc[%lld,%lld] = %.9g, exact %.9g\n", cs, (long long)m, (long long)n, got, want);
        }
    assert_int_equal(bad, 0);

    /* 3. BF16_CHANNEL, finished as the consumer would */
    if (ss_gemm_weight_out_supported(w, SS_GEMM_OUT_BF16_CHANNEL) == SS_OK) {
        OK(ss_gemm_matmul(g_ctx, w, dxq, dsx, M, SS_GEMM_OUT_BF16_CHANNEL, dout));
        OK(ss_gemm_ctx_sync(g_ctx));
        uint16_t *hc = malloc((size_t)(Mp * Np) * 2);
        OK(ss_gpu_download(hc, dout, (size_t)(Mp * Np) * 2));
        uint16_t *fin = malloc((size_t)(M * N) * 2);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                volatile float v = ss_bf16_to_f32(hc[m * Np + n]) * sx_ref[m];
                if (p.bias) v = v + p.bias[n];
                fin[m * N + n] = ss_f32_to_bf16(v);
            }
        if (exact && !p.bias) { /* one extra rounding: at most 1 ulp */
            bad = 0;
            for (int64_t i = 0; i < M * N; i++) {
                float got = ss_bf16_to_f32(fin[i]), want = yref[i];
                if (fabsf(got - want) > ulp_bf16(fmaxf(fabsf(got), fabsf(want))) && bad++ < 4)
                    print_error("%s bf16_channel: y[%lld] = %.9g, reference %.9g\n", cs, (long long)i, got, want);
            }
        } else {
            bad = compare_bf16(c, "bf16_channel", fin, N, yref, S, pre, 0);
        }
        assert_int_equal(bad, 0);
        free(hc);
        free(fin);
    } else {
        assert_int_equal(ss_gemm_matmul(g_ctx, w, dxq, dsx, M, SS_GEMM_OUT_BF16_CHANNEL, dout), SS_ERR_UNSUPPORTED);
        ss_clear_error();
    }

    /* 3b. BF16_ACC (cuSPARSELt FP8): the accumulator in BF16, finished as the consumer would */
    if (ss_gemm_weight_out_supported(w, SS_GEMM_OUT_BF16_ACC) == SS_OK) {
        OK(ss_gemm_matmul(g_ctx, w, dxq, NULL, M, SS_GEMM_OUT_BF16_ACC, dout));
        OK(ss_gemm_ctx_sync(g_ctx));
        uint16_t *hc = malloc((size_t)(Mp * Np) * 2);
        OK(ss_gpu_download(hc, dout, (size_t)(Mp * Np) * 2));
        uint16_t *fin = malloc((size_t)(M * N) * 2);
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++) {
                volatile float v = ss_bf16_to_f32(hc[m * Np + n]) * sx_ref[m];
                v = v * p.scale[n];
                if (p.bias) v = v + p.bias[n];
                fin[m * N + n] = ss_f32_to_bf16(v);
            }
        assert_int_equal(compare_bf16(c, "bf16_acc", fin, N, yref, S, pre, 0), 0);
        free(hc);
        free(fin);
    } else {
        assert_int_equal(ss_gemm_matmul(g_ctx, w, dxq, dsx, M, SS_GEMM_OUT_BF16_ACC, dout), SS_ERR_UNSUPPORTED);
        ss_clear_error();
    }

    /* 4. BF16 (split API) and 5. the full path */
    OK(ss_gemm_matmul(g_ctx, w, dxq, dsx, M, SS_GEMM_OUT_BF16, dout));
    OK(ss_gemm_ctx_sync(g_ctx));
    uint16_t *hb = malloc((size_t)(Mp * Np) * 2);
    OK(ss_gpu_download(hb, dout, (size_t)(Mp * Np) * 2));
    assert_int_equal(compare_bf16(c, "matmul bf16", hb, Np, yref, S, pre, exact), 0);
    OK(ss_gemm_linear(g_ctx, w, dx, M, dy));
    OK(ss_gemm_ctx_sync(g_ctx));
    OK(ss_gpu_download(hb, dy, (size_t)(M * N) * 2));
    assert_int_equal(compare_bf16(c, "linear", hb, N, yref, S, pre, exact), 0);
    ss_gemm_plan_info pi;
    if (ss_gemm_plan_get_info(g_ctx, w, M, SS_GEMM_OUT_BF16, &pi) == SS_OK)
        print_message("ok %s: %s, alg %d split-k %d / candidate %d of %d, worst |err|/S %.2e\n", cs,
                      pi.fused ? "fused" : "acc+dequant", pi.alg_id, pi.split_k, pi.candidate, pi.candidates, g_worst);
    else ss_clear_error();

    free(hb);
    free(hacc);
    free(hq);
    free(hsx);
    ss_gpu_free(dx);
    ss_gpu_free(dxq);
    ss_gpu_free(dsx);
    ss_gpu_free(dout);
    ss_gpu_free(dy);
    free(yref);
    free(xq_ref);
    free(xq_slid_ref);
    free(sx_ref);
    free(S);
    free(pre);
    free(exact_acc);
    ss_gemm_weight_destroy(w);
    release(&p);
}

static void run_all(ss_backend be, ss_gemm_dtype dt) {
    static const int dense_L[] = {0, 8, SS_L_INF}; /* cuBLASLt: dense, and dense GEMMs of slid weights */
    static const int sparse_L[] = {4, 6, 8, 10, 16, SS_L_INF};
    static const int64_t shapes[][3] = {{37, 72, 200}, {8, 40, 130}};
    const int *Ls = ss_backend_sparse(be) ? sparse_L : dense_L;
    int nL = ss_backend_sparse(be) ? 6 : 3;
    uint64_t seed = 1000 * (uint64_t)be + 100 * (uint64_t)dt;
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < nL; i++) {
            lcase c = {be, dt, Ls[i], shapes[s][0], shapes[s][1], shapes[s][2], (i + s) % 2, seed++, i % 2 == 0, 0};
            run_case(&c);
        }
}

static void test_cublaslt_int8(void **s) { (void)s; run_all(SS_BACKEND_CUBLASLT, SS_GEMM_INT8); }
static void test_cublaslt_fp8(void **s) { (void)s; run_all(SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3); }
static void test_cublaslt_bf16(void **s) { (void)s; run_all(SS_BACKEND_CUBLASLT, SS_GEMM_BF16); }
static void test_cublaslt_fp16(void **s) { (void)s; run_all(SS_BACKEND_CUBLASLT, SS_GEMM_FP16); }
static void test_cusparselt_int8(void **s) { (void)s; run_all(SS_BACKEND_CUSPARSELT, SS_GEMM_INT8); }
static void test_cusparselt_fp8(void **s) { (void)s; run_all(SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3); }
static void test_cusparselt_bf16(void **s) { (void)s; run_all(SS_BACKEND_CUSPARSELT, SS_GEMM_BF16); }
static void test_cusparselt_fp16(void **s) { (void)s; run_all(SS_BACKEND_CUSPARSELT, SS_GEMM_FP16); }
static void test_ours_int8(void **s) { (void)s; run_all(SS_BACKEND_OURS, SS_GEMM_INT8); }
static void test_ours_fp8(void **s) { (void)s; run_all(SS_BACKEND_OURS, SS_GEMM_FP8E4M3); }
static void test_ours_dense_int8(void **s) { (void)s; run_all(SS_BACKEND_OURS_DENSE, SS_GEMM_INT8); }
static void test_ours_dense_fp8(void **s) { (void)s; run_all(SS_BACKEND_OURS_DENSE, SS_GEMM_FP8E4M3); }

/* Our kernels at every tile size over M = 1 .. 32768 and shapes with many
 * tiles per SM (the persistent loop) and long K (the stage ring wraps):
 * their accumulators against cuBLASLt's on the pruned, unslid weight (INT8:
 * equal; FP8: within 2^-9 of max|x| sum|w| >= sum |x w|, both sum in the
 * tensor cores' precision), and the fused BF16 output against cuBLASLt's accumulators put
 * through the CPU's dequant order (INT8: bit-exact). */
static int g_ours_diag_bad; /* wrong values seen in a SS_TEST_OURS_MS diagnosis */

static void ours_vs_cublaslt(ss_gemm_ctx *ctx, ss_backend be, ss_gemm_dtype dt, int L, int64_t M, int64_t N,
                             int64_t K, uint64_t seed) {
    char cs[160];
    lcase c = {be, dt, L, M, N, K, 1, seed, 0, 0};
    case_str(&c, cs, sizeof cs);
    prepared p;
    prepare(&c, &p);
    ss_gemm_weight *wo = NULL, *wl = NULL;
    OK(ss_gemm_weight_create(ctx, &p.gpu_w, be, &wo));
    OK(ss_gemm_weight_create(ctx, &p.ref_w, SS_BACKEND_CUBLASLT, &wl));
    ss_gemm_weight_info io, il;
    ss_gemm_weight_get_info(wo, &io);
    ss_gemm_weight_get_info(wl, &il);
    const int64_t Mp = ss_gemm_pad_m(M), Np = io.N_pad;
    void *dx = dev_alloc((size_t)(M * K) * 2, 0);
    OK(ss_gpu_upload(dx, p.xb, (size_t)(M * K) * 2));
    void *dxo = dev_alloc((size_t)(Mp * io.K_act), 0), *dxl = dev_alloc((size_t)(Mp * il.K_act), 0);
    float *dsx = dev_alloc((size_t)Mp * 4, 0), *dsx2 = dev_alloc((size_t)Mp * 4, 0);
    void *dacc_o = dev_alloc((size_t)(Mp * Np) * 4, 0xff), *dacc_l = dev_alloc((size_t)(Mp * Np) * 4, 0xff);
    void *dy = dev_alloc((size_t)(M * N) * 2, 0xff);
    OK(ss_gemm_quantize(ctx, wo, dx, M, dxo, dsx));
    OK(ss_gemm_quantize(ctx, wl, dx, M, dxl, dsx2));
    OK(ss_gemm_matmul(ctx, wo, dxo, dsx, M, SS_GEMM_OUT_ACC, dacc_o));
    OK(ss_gemm_matmul(ctx, wl, dxl, dsx2, M, SS_GEMM_OUT_ACC, dacc_l));
    OK(ss_gemm_linear(ctx, wo, dx, M, dy));
    OK(ss_gemm_ctx_sync(ctx));
    uint32_t *ao = malloc((size_t)(Mp * Np) * 4), *al = malloc((size_t)(Mp * Np) * 4);
    uint16_t *y = malloc((size_t)(M * N) * 2);
    float *sx = malloc((size_t)Mp * 4);
    int8_t *xq = malloc((size_t)(Mp * il.K_act));
    assert_true(ao && al && y && sx && xq);
    OK(ss_gpu_download(ao, dacc_o, (size_t)(Mp * Np) * 4));
    OK(ss_gpu_download(al, dacc_l, (size_t)(Mp * Np) * 4));
    OK(ss_gpu_download(y, dy, (size_t)(M * N) * 2));
    OK(ss_gpu_download(sx, dsx, (size_t)Mp * 4));
    OK(ss_gpu_download(xq, dxl, (size_t)(Mp * il.K_act)));
    double *xmax = calloc((size_t)M, sizeof(double)), *wsum = calloc((size_t)N, sizeof(double));
    assert_true(xmax && wsum);
    if (dt == SS_GEMM_FP8E4M3) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t k = 0; k < K; k++)
                xmax[m] = fmax(xmax[m], fabs((double)ss_fp8e4m3_to_f32((uint8_t)xq[m * il.K_act + k])));
        for (int64_t n = 0; n < N; n++)
            for (int64_t k = 0; k < K; k++) wsum[n] += fabs((double)ss_fp8e4m3_to_f32(((const uint8_t *)p.w)[n * K + k]));
    }
    int bad = 0;
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            const int64_t i = m * Np + n;
            float acc; /* the reference accumulator, as float for the dequant */
            if (dt == SS_GEMM_INT8) {
                if (ao[i] != al[i] && bad++ < 4)
                    print_error("%s: acc[%lld,%lld] = %d, cuBLASLt %d\n", cs, (long long)m, (long long)n,
                                (int32_t)ao[i], (int32_t)al[i]);
                acc = (float)(int32_t)al[i];
            } else {
                float a, b;
                memcpy(&a, &ao[i], 4);
                memcpy(&b, &al[i], 4);
                const double S = xmax[m] * wsum[n]; /* >= sum_k |x w|, and costs no M x N x K loop */
                if (S > 0 && fabs((double)a - b) / S > worst) worst = fabs((double)a - b) / S;
                if (!(fabs((double)a - b) <= 0x1p-9 * S) && bad++ < 4)
                    print_error("%s: acc[%lld,%lld] = %.9g, cuBLASLt %.9g (S %.3g)\n", cs, (long long)m, (long long)n,
                                a, b, S);
                acc = a;
            }
            volatile float v = acc * sx[m];
            v = v * p.scale[n];
            v = v + p.bias[n];
            const uint16_t want = ss_f32_to_bf16(v), got = y[m * N + n];
            const float gf = ss_bf16_to_f32(got), wf = ss_bf16_to_f32(want);
            if (dt == SS_GEMM_INT8 ? got != want : !(fabsf(gf - wf) <= ulp_bf16(wf)))
                if (bad++ < 4)
                    print_error("%s: y[%lld,%lld] = %.9g, dequantized cuBLASLt %.9g\n", cs, (long long)m,
                                (long long)n, gf, wf);
        }
    ss_gemm_plan_info pi;
    OK(ss_gemm_plan_get_info(ctx, wo, M, SS_GEMM_OUT_ACC, &pi));
    print_message("%s %s: tile %d, %d bad, worst |acc - cuBLASLt| / "
                  "(max|x| sum|w|) %.2e\n", bad ? "FAILED" : "ok", cs, pi.alg_id, bad, worst);
    if (bad && getenv("SS_TEST_OURS_MS")) { /* the diagnosis goes on: which 16-channel groups of row 0 are wrong */
        char groups[256] = "";
        for (int64_t g = 0; g * 16 < N; g++) {
            int nb = 0;
            for (int64_t n = 16 * g; n < N && n < 16 * g + 16; n++) nb += ao[n] != al[n];
            if (nb) snprintf(groups + strlen(groups), sizeof groups - strlen(groups), " %lld:%d", (long long)g, nb);
        }
        print_message("  row 0, bad per 16-channel group (group:count):%s\n", groups);
        g_ours_diag_bad += bad;
    } else
        assert_int_equal(bad, 0);
    free(ao), free(al), free(y), free(sx), free(xq), free(xmax), free(wsum);
    ss_gpu_free(dx), ss_gpu_free(dxo), ss_gpu_free(dxl), ss_gpu_free(dsx), ss_gpu_free(dsx2);
    ss_gpu_free(dacc_o), ss_gpu_free(dacc_l), ss_gpu_free(dy);
    ss_gemm_weight_destroy(wo);
    ss_gemm_weight_destroy(wl);
    release(&p);
}

static void test_ours_tiles_and_sizes(void **s) {
    (void)s;
    if (ss_gemm_supported(&g_gpu, SS_BACKEND_OURS, SS_GEMM_INT8) != SS_OK) {
        print_message("skipped: %s\n", ss_errmsg());
        return;
    }
    /* every launch configuration (weight rows x tokens per tile) and the default */
    char cfgs[256] = "128x64,128x128,256x64,256x128,256x192,256x128c2,default";
    if (getenv("SS_TEST_OURS_CFGS")) snprintf(cfgs, sizeof cfgs, "%s", getenv("SS_TEST_OURS_CFGS"));
    static const int64_t Ms[] = {1, 17, 64, 100, 255, 257, 1000, 2048, 4099};
    uint64_t seed = 5000;
    /* a diagnosis: SS_TEST_OURS_MS=1,1,16 (sparse INT8 and FP8 at these M, N 200, K 264, SS_TEST_OURS_SEED
     * as the first seed, the same seeds under every configuration) instead of the cases below */
    const char *diag_ms = getenv("SS_TEST_OURS_MS");
    char *save = NULL;
    for (char *tok = strtok_r(cfgs, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        /* read when a plan is made: one context per configuration */
        char rows[16] = "", bn[16] = "", cl[16] = "";
        if (strcmp(tok, "default") && sscanf(tok, "%15[0-9]x%15[0-9]c%15[0-9]", rows, bn, cl) < 2)
            fail_msg("SS_TEST_OURS_CFGS: '%s' is not ROWSxTOKENS[cCLUSTER] or default", tok);
        setenv("SS_OURS_ROWS", rows, 1);
        setenv("SS_OURS_BN", bn, 1);
        setenv("SS_OURS_CLUSTER", cl, 1);
        print_message("configuration %s\n", tok);
        ss_gemm_ctx *ctx = NULL;
        OK(ss_gemm_ctx_create(0, NULL, NULL, &ctx));
        if (diag_ms) {
            uint64_t dseed = getenv("SS_TEST_OURS_SEED") ? strtoull(getenv("SS_TEST_OURS_SEED"), NULL, 10) : 5000;
            for (const char *q = diag_ms; *q;) {
                const int64_t M = strtoll(q, (char **)&q, 10);
                for (int d = 0; d < 2; d++)
                    ours_vs_cublaslt(ctx, SS_BACKEND_OURS, d ? SS_GEMM_FP8E4M3 : SS_GEMM_INT8, 8, M, 200, 264, dseed);
                dseed++;
                if (*q == ',') q++;
                else break;
            }
            ss_gemm_ctx_destroy(ctx);
            continue;
        }
        for (int d = 0; d < 2; d++) {
            const ss_gemm_dtype dt = d ? SS_GEMM_FP8E4M3 : SS_GEMM_INT8;
            for (size_t i = 0; i < sizeof Ms / sizeof Ms[0]; i++)
                ours_vs_cublaslt(ctx, i % 2 ? SS_BACKEND_OURS_DENSE : SS_BACKEND_OURS, dt, i % 2 ? 0 : 8, Ms[i], 200,
                                 264, seed++);
            /* many tiles per SM and a stage ring that wraps: BitNet's o_proj slid to 2_8 (K' 3840) */
            ours_vs_cublaslt(ctx, SS_BACKEND_OURS, dt, 8, 3000, 2560, 2560, seed++);
            ours_vs_cublaslt(ctx, SS_BACKEND_OURS_DENSE, dt, 0, 1500, 2560, 2560, seed++);
        }
        ss_gemm_ctx_destroy(ctx);
    }
    unsetenv("SS_OURS_BN");
    unsetenv("SS_OURS_ROWS");
    unsetenv("SS_OURS_CLUSTER");
    if (diag_ms) {
        assert_int_equal(g_ours_diag_bad, 0);
        return;
    }
    /* the largest prefill point, INT8 only (its FP8 check costs minutes of CPU) */
    ss_gemm_ctx *ctx = NULL;
    OK(ss_gemm_ctx_create(0, NULL, NULL, &ctx));
    ours_vs_cublaslt(ctx, SS_BACKEND_OURS, SS_GEMM_INT8, 4, 32768, 256, 512, seed++);
    ss_gemm_ctx_destroy(ctx);
}

/* A weight our sparse kernel cannot take, and GPUs it does not run on. */
static void test_ours_errors(void **s) {
    (void)s;
    int8_t wd[32 * 64];
    float sc[32];
    for (int i = 0; i < 32 * 64; i++) wd[i] = (int8_t)(1 + i % 5);
    for (int i = 0; i < 32; i++) sc[i] = 1.0f;
    ss_linear_weight lw = {.name = "dense_w", .N = 32, .K = 64, .dtype = SS_DT_I8, .w = wd, .scale = sc};
    ss_gemm_weight *w = NULL;
    if (ss_gemm_supported(&g_gpu, SS_BACKEND_OURS, SS_GEMM_INT8) != SS_OK) {
        assert_int_equal(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_OURS, &w), SS_ERR_UNSUPPORTED);
        assert_non_null(strstr(ss_errmsg(), "sm_90a"));
        return;
    }
    assert_int_equal(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_OURS, &w), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "not 2:4"));
    assert_non_null(strstr(ss_errmsg(), "dense_w"));
    uint16_t wb[32 * 64] = {0};
    lw.dtype = SS_DT_BF16;
    lw.w = wb;
    lw.scale = NULL;
    assert_int_equal(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_OURS_DENSE, &w), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "8-bit"));
}

/* Aligned shapes take the straight-into-y route of the full path (no
 * padding copy); INT8 stays bit-exact there too. */
static void test_aligned_shapes(void **s) {
    (void)s;
    lcase cases[] = {{SS_BACKEND_CUBLASLT, SS_GEMM_INT8, 0, 64, 96, 256, 0, 7, 1, 0},
                     {SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, 0, 64, 96, 256, 0, 8, 1, 0},
                     {SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, 0, 64, 96, 256, 0, 8, 0, 0},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, 8, 64, 96, 256, 0, 9, 0, 0},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, 6, 64, 96, 256, 0, 9, 1, 0},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_BF16, 4, 64, 96, 256, 0, 10, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* Long rows: the quant kernel keeps 1, 2, 4 or 8 chunks of 8 elements per
 * thread (K up to 32768), 16-byte loads where K % 8 == 0 and scalar ones
 * where it is not; every variant is bit-exact against the CPU reference,
 * rows of exact rounding ties (and their BF16 neighbours) included. */
static void test_quant_long_rows(void **s) {
    (void)s;
    lcase cases[] = {{SS_BACKEND_CUBLASLT, SS_GEMM_INT8, 0, 5, 40, 2560, 0, 11, 1, 0},      /* 2 chunks/thread */
                     {SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, 8, 5, 40, 6912, 0, 12, 1, 0},   /* 4, slid */
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, 10, 5, 40, 13830, 1, 13, 0, 0}, /* 8, scalar loads */
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, 6, 3, 32, 20000, 0, 14, 1, 0},  /* 8, 320 threads */
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, 4, 5, 40, 4104, 0, 15, 1, 0},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_BF16, 6, 5, 40, 3000, 0, 16, 0, 0},
                     /* rows on the rounding points: the exact-division fallback, plain and slid */
                     {SS_BACKEND_CUBLASLT, SS_GEMM_INT8, 0, 4, 40, 2560, 0, 17, 1, 1},
                     {SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, 0, 4, 40, 2560, 0, 18, 1, 1},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, 8, 4, 40, 1024, 0, 19, 1, 1},
                     {SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, 6, 4, 40, 1024, 0, 20, 1, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* The quant kernels' fast quantization (x * 1/s, exact division only near a
 * rounding point) equals the IEEE division for every BF16 value of a row,
 * over 4096 row scales per dtype. */
static void test_quant_fast_exact(void **s) {
    (void)s;
    const ss_gemm_dtype dts[] = {SS_GEMM_INT8, SS_GEMM_FP8E4M3};
    for (int d = 0; d < 2; d++) {
        unsigned long long checked = 0, bad = 1;
        OK(ss_gpu_selftest_quant(g_ctx, dts[d], 4096, 20261125 + (uint64_t)d, &checked, &bad));
        print_message("quant_fast %s: %llu (x, s) pairs, %llu differ from the division\n", ss_gemm_dtype_name(dts[d]),
                      checked, bad);
        assert_true(checked > 50000000ull);
        assert_int_equal(bad, 0);
    }
}

/* ---- compressed weight round trip: identity activation gives W back ---- */

static void test_compress_roundtrip(void **s) {
    (void)s;
    const ss_gemm_dtype dts[] = {SS_GEMM_INT8, SS_GEMM_FP8E4M3, SS_GEMM_BF16, SS_GEMM_FP16};
    for (int d = 0; d < 4; d++) {
        lcase c = {SS_BACKEND_CUSPARSELT, dts[d], 6, 4, 40, 90, 0, 77 + (uint64_t)d, 0, 0};
        if (ss_gemm_supported(&g_gpu, c.be, c.dt) == SS_ERR_UNSUPPORTED) {
            print_message("skipped round trip %s: %s\n", ss_gemm_dtype_name(c.dt), ss_errmsg());
            continue;
        }
        prepared p;
        prepare(&c, &p);
        ss_gemm_weight *w = NULL;
        OK(ss_gemm_weight_create(g_ctx, &p.gpu_w, c.be, &w));
        ss_gemm_weight_info wi;
        ss_gemm_weight_get_info(w, &wi);
        const int64_t Ka = wi.K_act, Np = wi.N_pad, M = Ka; /* one token per slid column */
        ss_dtype at = ss_gemm_act_dtype(c.dt), acc_t = ss_gemm_acc_dtype(c.be, c.dt);
        size_t aes = ss_dtype_size(at);
        uint8_t *eye = calloc((size_t)(M * Ka), aes);
        uint16_t one16 = c.dt == SS_GEMM_BF16 ? 0x3f80 : 0x3c00;
        for (int64_t m = 0; m < M; m++) {
            uint8_t *e = eye + (size_t)(m * Ka + m) * aes;
            if (c.dt == SS_GEMM_INT8) *e = 1;
            else if (c.dt == SS_GEMM_FP8E4M3) *e = 0x38; /* 1.0 */
            else memcpy(e, &one16, 2);
        }
        void *dq = dev_alloc((size_t)(M * Ka) * aes, 0), *dout = dev_alloc((size_t)(M * Np) * 4, 0xff);
        OK(ss_gpu_upload(dq, eye, (size_t)(M * Ka) * aes));
        OK(ss_gemm_matmul(g_ctx, w, dq, NULL, M, SS_GEMM_OUT_ACC, dout));
        OK(ss_gemm_ctx_sync(g_ctx));
        uint8_t *h = malloc((size_t)(M * Np) * 4);
        OK(ss_gpu_download(h, dout, (size_t)(M * Np) * ss_dtype_size(acc_t)));
        int bad = 0;
        for (int64_t k = 0; k < Ka; k++)
            for (int64_t n = 0; n < Np; n++) {
                float want = n < c.N ? ss_load_f32(p.ws, at, (size_t)(n * Ka + k)) : 0.0f;
                float got = acc_t == SS_DT_I32 ? (float)((int32_t *)h)[k * Np + n] : ss_load_f32(h, acc_t, (size_t)(k * Np + n));
                if (got != want && bad++ < 4)
                    print_error("%s round trip: W'[%lld,%lld] = %g, stored %g\n", ss_gemm_dtype_name(c.dt), (long long)n,
                                (long long)k, got, want);
            }
        assert_int_equal(bad, 0);
        print_message("ok round trip %s: compressed %zu bytes for [%lld, %lld]\n", ss_gemm_dtype_name(c.dt),
                      wi.device_bytes, (long long)Np, (long long)Ka);
        free(eye);
        free(h);
        ss_gpu_free(dq);
        ss_gpu_free(dout);
        ss_gemm_weight_destroy(w);
        release(&p);
    }
}

/* ---- dequant kernel, every input type, bit-exact ---- */

static void test_dequant_kernel(void **s) {
    (void)s;
    const ss_dtype ins[] = {SS_DT_I32, SS_DT_F32, SS_DT_BF16, SS_DT_F16};
    const int64_t shapes[][3] = {{33, 37, 40}, {16, 64, 64}}; /* M, N, ld_in (= ld_y) */
    ss_rng r;
    ss_rng_seed(&r, 5, 0);
    for (int t = 0; t < 4; t++)
        for (int sh = 0; sh < 2; sh++)
            for (int var = 0; var < 2; var++) { /* with and without scales / bias */
                const int64_t M = shapes[sh][0], N = shapes[sh][1], ld = shapes[sh][2];
                size_t es = ss_dtype_size(ins[t]);
                uint8_t *in = malloc((size_t)(M * ld) * es);
                float *sx = malloc((size_t)M * 4), *sw = malloc((size_t)N * 4), *b = malloc((size_t)N * 4);
                for (int64_t i = 0; i < M * ld; i++) {
                    float v = ss_rng_normal(&r) * 3000.0f;
                    if (ins[t] == SS_DT_I32) ((int32_t *)in)[i] = (int32_t)(v * 1000.0f);
                    else if (ins[t] == SS_DT_F32) ((float *)in)[i] = v;
                    else if (ins[t] == SS_DT_BF16) ((uint16_t *)in)[i] = ss_f32_to_bf16(v);
                    else ((uint16_t *)in)[i] = ss_f32_to_f16(v);
                }
                for (int64_t m = 0; m < M; m++) sx[m] = ss_rng_uniform(&r) * 1e-3f;
                for (int64_t n = 0; n < N; n++) sw[n] = ss_rng_uniform(&r) * 1e-2f, b[n] = ss_rng_normal(&r);
                float *ref = malloc((size_t)(M * ld) * 4);
                const float *psx = var ? sx : NULL, *psw = var ? sw : NULL, *pb = var ? b : NULL;
                ss_dequant_ref(ins[t], in, ld, M, N, psx, psw, pb, ref, ld);
                void *din = dev_alloc((size_t)(M * ld) * es, 0), *dy = dev_alloc((size_t)(M * ld) * 2, 0xff);
                float *dsx = dev_alloc((size_t)M * 4, 0), *dsw = dev_alloc((size_t)N * 4, 0), *db = dev_alloc((size_t)N * 4, 0);
                OK(ss_gpu_upload(din, in, (size_t)(M * ld) * es));
                OK(ss_gpu_upload(dsx, sx, (size_t)M * 4));
                OK(ss_gpu_upload(dsw, sw, (size_t)N * 4));
                OK(ss_gpu_upload(db, b, (size_t)N * 4));
                OK(ss_gemm_dequant(g_ctx, ins[t], din, ld, M, N, var ? dsx : NULL, var ? dsw : NULL, var ? db : NULL, dy, ld));
                OK(ss_gemm_ctx_sync(g_ctx));
                uint16_t *hy = malloc((size_t)(M * ld) * 2);
                OK(ss_gpu_download(hy, dy, (size_t)(M * ld) * 2));
                int bad = 0;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < ld; n++) {
                        uint16_t want = n < N ? ss_f32_to_bf16(ref[m * ld + n]) : 0xffff; /* untouched beyond N */
                        if (hy[m * ld + n] != want && bad++ < 4)
                            print_error("dequant %s [%lld,%lld]: 0x%04x, reference 0x%04x\n", ss_dtype_name(ins[t]),
                                        (long long)m, (long long)n, hy[m * ld + n], want);
                    }
                assert_int_equal(bad, 0);
                free(in), free(sx), free(sw), free(b), free(ref), free(hy);
                ss_gpu_free(din), ss_gpu_free(dy), ss_gpu_free(dsx), ss_gpu_free(dsw), ss_gpu_free(db);
            }
}

/* ---- device info and the errors a user meets ---- */

static void test_device_and_errors(void **s) {
    (void)s;
    assert_true(strlen(g_gpu.name) > 0);
    assert_true(g_gpu.sm_count > 0 && g_gpu.mem_total > 0);
    print_message("device: %s, cc %d.%d, %d SMs, %.1f GiB, driver %d, runtime %d, cuBLASLt %zu, cuSPARSELt %d\n",
                  g_gpu.name, g_gpu.cc_major, g_gpu.cc_minor, g_gpu.sm_count, g_gpu.mem_total / 1073741824.0,
                  g_gpu.driver_version, g_gpu.runtime_version, g_gpu.cublaslt_version, g_gpu.cusparselt_version);
    ss_status st = ss_gemm_supported(&g_gpu, SS_BACKEND_CUSPARSELT, SS_GEMM_FP4E2M1);
    assert_int_equal(st, SS_ERR_UNSUPPORTED);
    if (g_gpu.cc_major < 10) assert_non_null(strstr(ss_errmsg(), "Blackwell"));
    if (g_gpu.cc_major == 9 && !getenv("SS_ALLOW_CUSPARSELT_FP16")) { /* see gemm.h */
        assert_int_equal(ss_gemm_supported(&g_gpu, SS_BACKEND_CUSPARSELT, SS_GEMM_FP16), SS_ERR_UNSUPPORTED);
        assert_non_null(strstr(ss_errmsg(), "illegal instruction"));
    }

    /* a weight that is not 2:4 on cuSPARSELt */
    int8_t wd[32 * 64];
    float sc[32];
    for (int i = 0; i < 32 * 64; i++) wd[i] = (int8_t)(1 + i % 5);
    for (int i = 0; i < 32; i++) sc[i] = 1.0f;
    ss_linear_weight lw = {.name = "dense_w", .N = 32, .K = 64, .dtype = SS_DT_I8, .w = wd, .scale = sc};
    ss_gemm_weight *w = NULL;
    assert_int_equal(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_CUSPARSELT, &w), SS_ERR_FORMAT);
    assert_null(w);
    assert_non_null(strstr(ss_errmsg(), "not 2:4"));
    assert_non_null(strstr(ss_errmsg(), "dense_w"));
    /* F32 weights have no GPU GEMM */
    float wf[32 * 64] = {0};
    lw.dtype = SS_DT_F32;
    lw.w = wf;
    assert_int_equal(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_CUBLASLT, &w), SS_ERR_UNSUPPORTED);
    /* INT8 on cuBLASLt has no channel-scaled BF16 output */
    lw.dtype = SS_DT_I8;
    lw.w = wd;
    OK(ss_gemm_weight_create(g_ctx, &lw, SS_BACKEND_CUBLASLT, &w));
    assert_int_equal(ss_gemm_matmul(g_ctx, w, NULL, NULL, 16, SS_GEMM_OUT_BF16_CHANNEL, NULL), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "dense_w"));
    ss_gemm_weight_destroy(w);
}

/* This GPU's paths (gemm/arch.c) with this build: our kernels must run here,
 * from the image the table names. */
static void test_arch_paths_here(void **s) {
    (void)s;
    const ss_gpuarch_gpu g = {g_gpu.name, g_gpu.cc_major, g_gpu.cc_minor, g_gpu.cusparselt_version};
    ss_gpuarch_choice c;
    ss_gpuarch_select(&g, NULL, SS_OP_ENGINE, SS_GEMM_INT8, &c);
    print_message("build %s: engine kernels %s\n", ss_gpuarch_built(), c.runs ? c.path : c.why);
    assert_true(c.runs);
    if (g_gpu.cc_major == 9 && g_gpu.cc_minor == 0 && strstr(ss_gpuarch_built(), "90a"))
        assert_string_equal(c.path, "ours (sm_90a)");
    ss_gpuarch_select(&g, NULL, SS_OP_GEMM_SPARSE, SS_GEMM_INT8, &c);
    assert_true(c.runs);
}

/* NVFP4 through cuBLASLt against the CPU reference on Blackwell; skipped
 * with its reason below cc 10.0 (the H200 says "10.0"). */
static void test_cublaslt_fp4(void **s) {
    (void)s;
    ss_status sup = ss_gemm_supported(&g_gpu, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1);
    if (g_gpu.cc_major < 10) {
        assert_int_equal(sup, SS_ERR_UNSUPPORTED);
        assert_non_null(strstr(ss_errmsg(), "10.0"));
        print_message("fp4e2m1: skipped: %s\n", ss_errmsg());
        ss_clear_error();
        return;
    }
    OK(sup);
    const int64_t N = 256, K = 192, M = 40, Mp = ss_gemm_pad_m(M);
    float *w = malloc((size_t)(N * K) * 4), *x = malloc((size_t)(Mp * K) * 4), *ref = malloc((size_t)(Mp * N) * 4);
    uint16_t *y = malloc((size_t)(Mp * N) * 2);
    assert_true(w && x && ref && y);
    ss_rng r;
    ss_rng_seed(&r, 5, 0);
    for (int64_t i = 0; i < N * K; i++) w[i] = ss_rng_normal_fast(&r) * 0.02f;
    for (int64_t i = 0; i < Mp * K; i++) x[i] = ss_rng_normal_fast(&r);
    ss_fp4_matrix hw, hx;
    OK(ss_fp4_quantize(w, N, K, &hw));
    OK(ss_fp4_quantize(x, Mp, K, &hx));
    OK(ss_fp4_gemm_ref(&hw, &hx, ref));
    ss_fp4_dev dw, dx;
    void *dy = NULL;
    OK(ss_fp4_upload(&hw, &dw));
    OK(ss_fp4_upload(&hx, &dx));
    OK(ss_gpu_alloc((size_t)(Mp * N) * 2, &dy));
    OK(ss_fp4_gemm(g_ctx, &dw, &dx, M, dy));
    OK(ss_gemm_ctx_sync(g_ctx));
    OK(ss_gpu_download(y, dy, (size_t)(Mp * N) * 2));
    double worst = 0;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double S = 0; /* sum of |products| of the represented values */
            for (int64_t k = 0; k < K; k++) S += fabs((double)ss_fp4_value(&hx, m, k) * ss_fp4_value(&hw, n, k));
            const double got = ss_bf16_to_f32(y[m * N + n]), want = ref[m * N + n];
            const double err = fabs(got - want), bound = fabs(want) / 128.0 + S * 0x1p-12 + 1e-6;
            if (err > bound) fail_msg("fp4 m=%lld n=%lld: %g vs reference %g (bound %g)", (long long)m, (long long)n, got, want, bound);
            if (S > 0 && err / S > worst) worst = err / S;
        }
    print_message("fp4e2m1 [%lld x %lld x %lld]: largest error %.3g of sum |x w|\n", (long long)M, (long long)N,
                  (long long)K, worst);
    ss_gpu_free(dy);
    ss_fp4_dev_free(&dw);
    ss_fp4_dev_free(&dx);
    ss_fp4_free(&hw);
    ss_fp4_free(&hx);
    free(w);
    free(x);
    free(ref);
    free(y);
}

static int setup(void **s) {
    (void)s;
    ss_gemm_options o;
    ss_gemm_options_default(&o);
    if (ss_gemm_ctx_create(0, NULL, &o, &g_ctx) != SS_OK) {
        fprintf(stderr, "context: %s\n", ss_errmsg());
        return -1;
    }
    return ss_gpu_info_get(0, &g_gpu) == SS_OK ? 0 : -1;
}

static int teardown(void **s) {
    (void)s;
    ss_gemm_ctx_destroy(g_ctx);
    return 0;
}

int main(void) {
    if (ss_gpu_count() == 0) {
        ss_gpu_info info;
        ss_gpu_info_get(0, &info);
        printf("skipped: %s\n", ss_errmsg());
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_and_errors), cmocka_unit_test(test_dequant_kernel),
        cmocka_unit_test(test_compress_roundtrip), cmocka_unit_test(test_aligned_shapes),
        cmocka_unit_test(test_quant_long_rows),   cmocka_unit_test(test_quant_fast_exact),
        cmocka_unit_test(test_cublaslt_int8),     cmocka_unit_test(test_cublaslt_fp8),
        cmocka_unit_test(test_cublaslt_bf16),     cmocka_unit_test(test_cublaslt_fp16),
        cmocka_unit_test(test_cusparselt_int8),   cmocka_unit_test(test_cusparselt_fp8),
        cmocka_unit_test(test_cusparselt_bf16),   cmocka_unit_test(test_cusparselt_fp16),
        cmocka_unit_test(test_ours_errors),       cmocka_unit_test(test_ours_int8),
        cmocka_unit_test(test_ours_fp8),          cmocka_unit_test(test_ours_dense_int8),
        cmocka_unit_test(test_ours_dense_fp8),    cmocka_unit_test(test_ours_tiles_and_sizes),
        cmocka_unit_test(test_arch_paths_here),   cmocka_unit_test(test_cublaslt_fp4),
    };
    /* SS_TEST_FILTER=test_ours* runs a subset (compute-sanitizer runs the small ones) */
    if (getenv("SS_TEST_FILTER")) cmocka_set_test_filter(getenv("SS_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
