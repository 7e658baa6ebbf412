/* CPU reference of the linear layer (see linear.h for the exact semantics).
 * Written for clarity first: every GPU path is tested against these. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert/slide.h"
#include "gemm/linear.h"

static float qmax_of(ss_dtype qdtype) { return qdtype == SS_DT_I8 ? SS_INT8_QMAX : SS_FP8_E4M3_MAX; }

/* Scale of one token row: s = max(absmax / qmax, floor). */
static float row_scale(const float *x, int64_t K, float qmax) {
    float amax = 0.0f;
    for (int64_t k = 0; k < K; k++) amax = fmaxf(amax, fabsf(x[k]));
    return fmaxf(amax / qmax, SS_ACT_SCALE_FLOOR);
}

static void quant_store(ss_dtype qdtype, void *q, int64_t i, float v) {
    if (qdtype == SS_DT_I8) ((int8_t *)q)[i] = ss_f32_to_i8_sym(v);
    else ((uint8_t *)q)[i] = ss_f32_to_fp8e4m3(v);
}

void ss_quant_act_ref(const float *x, int64_t M, int64_t K, ss_dtype qdtype, void *q, float *scale) {
    float qmax = qmax_of(qdtype);
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * K;
        float s = row_scale(xr, K, qmax);
        scale[m] = s;
        for (int64_t k = 0; k < K; k++) quant_store(qdtype, q, m * K + k, xr[k] / s);
    }
}

void ss_quant_slide_act_ref(const float *x, int64_t M, const ss_slide_geom *g, ss_dtype qdtype, void *q,
                            float *scale) {
    float qmax = qmax_of(qdtype);
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * g->K;
        float s = row_scale(xr, g->K, qmax); /* over the original K: sliding duplicates, never adds, values */
        scale[m] = s;
        for (int64_t p = 0; p < g->K_slid; p++) {
            int64_t src = ss_slide_src(g, p);
            quant_store(qdtype, q, m * g->K_slid + p, src < 0 ? 0.0f : xr[src] / s);
        }
    }
}

/* Decodes row n of the weight into floats (one switch per row, not per element). */
static void decode_row(const ss_linear_weight *w, int64_t n, int64_t Kw, float *out) {
    const size_t base = (size_t)(n * Kw);
    switch (w->dtype) {
    case SS_DT_F32: memcpy(out, (const float *)w->w + base, (size_t)Kw * sizeof(float)); break;
    case SS_DT_BF16: {
        const uint16_t *r = (const uint16_t *)w->w + base;
        for (int64_t k = 0; k < Kw; k++) out[k] = ss_bf16_to_f32(r[k]);
        break;
    }
    case SS_DT_F8_E4M3: {
        const uint8_t *r = (const uint8_t *)w->w + base;
        for (int64_t k = 0; k < Kw; k++) out[k] = ss_fp8e4m3_to_f32(r[k]);
        break;
    }
    default:
        for (int64_t k = 0; k < Kw; k++) out[k] = ss_load_f32(w->w, w->dtype, base + (size_t)k);
    }
}

/* Dot products with 8 independent partial sums, combined in a fixed order:
 * deterministic, and vectorisable without -ffast-math. The INT8 and FP8
 * sums are exact, so their order cannot change the result; the float sum is
 * the reference's own (tests of float paths use tolerances). */
#define SS_LANES 8
static int32_t dot_i8(const int8_t *a, const int8_t *b, int64_t n) {
    int32_t acc[SS_LANES] = {0};
    int64_t k = 0;
    for (; k + SS_LANES <= n; k += SS_LANES)
        for (int l = 0; l < SS_LANES; l++) acc[l] += (int32_t)a[k + l] * b[k + l];
    for (; k < n; k++) acc[0] += (int32_t)a[k] * b[k];
    int32_t s = 0;
    for (int l = 0; l < SS_LANES; l++) s += acc[l];
    return s;
}
static double dot_f64(const float *a, const float *b, int64_t n) {
    double acc[SS_LANES] = {0};
    int64_t k = 0;
    for (; k + SS_LANES <= n; k += SS_LANES)
        for (int l = 0; l < SS_LANES; l++) acc[l] += (double)a[k + l] * b[k + l];
    for (; k < n; k++) acc[0] += (double)a[k] * b[k];
    double s = 0;
    for (int l = 0; l < SS_LANES; l++) s += acc[l];
    return s;
}
static float dot_f32(const float *a, const float *b, int64_t n) {
    float acc[SS_LANES] = {0};
    int64_t k = 0;
    for (; k + SS_LANES <= n; k += SS_LANES)
        for (int l = 0; l < SS_LANES; l++) acc[l] += a[k + l] * b[k + l];
    for (; k < n; k++) acc[0] += a[k] * b[k];
    float s = 0;
    for (int l = 0; l < SS_LANES; l++) s += acc[l];
    return s;
}

/* Unquantized activation, slid if the weight is: xs[m, Kw]. */
static void expand_float(const ss_linear_weight *w, const float *x, int64_t M, float *xs) {
    if (!w->slid) {
        memcpy(xs, x, (size_t)(M * w->K) * sizeof(float));
        return;
    }
    for (int64_t m = 0; m < M; m++) ss_slide_activation(&w->slide, x + m * w->K, sizeof(float), xs + m * w->slide.K_slid);
}

ss_status ss_linear_ref(const ss_linear_weight *w, const float *x, int64_t M, float *y) {
    const int64_t N = w->N, Kw = ss_linear_k_stored(w);
    const int quantized = w->dtype == SS_DT_I8 || w->dtype == SS_DT_F8_E4M3;
    /* Activation operand, prepared once for all N: quantized codes (INT8),
     * or floats (unquantized, and FP8 codes decoded to their exact values). */
    int8_t *xi8 = NULL;
    float *xf = malloc((size_t)(M * Kw) * sizeof(float) + 1);
    float *sx = malloc((size_t)(M > 0 ? M : 1) * sizeof(float));
    void *xq = quantized ? malloc((size_t)(M * Kw) + 1) : NULL;
    ss_status st = SS_OK;
    int failed = 0;
    if (!xf || !sx || (quantized && !xq)) {
        st = ss_fail(SS_ERR_NOMEM, "%s: no memory for a [%lld, %lld] activation", w->name ? w->name : "linear",
                     (long long)M, (long long)Kw);
        goto done;
    }
    if (!quantized) {
        expand_float(w, x, M, xf);
    } else {
        if (w->slid) ss_quant_slide_act_ref(x, M, &w->slide, w->dtype, xq, sx);
        else ss_quant_act_ref(x, M, w->K, w->dtype, xq, sx);
        if (w->dtype == SS_DT_I8) xi8 = xq;
        else
            for (int64_t i = 0; i < M * Kw; i++) xf[i] = ss_fp8e4m3_to_f32(((const uint8_t *)xq)[i]);
    }

#pragma omp parallel
    {
        float *wrow = malloc((size_t)Kw * sizeof(float) + 1); /* decoded weight row */
        if (!wrow) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            if (!wrow) continue;
            const int8_t *wi8 = (const int8_t *)w->w + n * Kw;
            if (w->dtype != SS_DT_I8) decode_row(w, n, Kw, wrow);
            for (int64_t m = 0; m < M; m++) {
                float v;
                if (w->dtype == SS_DT_I8) { /* exact: |acc| <= 127^2 K fits int32 for K < 133000 */
                    v = (float)dot_i8(xi8 + m * Kw, wi8, Kw) * sx[m] * w->scale[n];
                } else if (w->dtype == SS_DT_F8_E4M3) { /* exact: products need 8 bits, sums < 53 */
                    v = (float)dot_f64(xf + m * Kw, wrow, Kw) * sx[m] * w->scale[n];
                } else {
                    v = dot_f32(xf + m * Kw, wrow, Kw);
                }
                if (w->bias) v += w->bias[n];
                y[m * N + n] = ss_round_bf16(v);
            }
        }
        free(wrow);
    }
    if (failed) st = ss_fail(SS_ERR_NOMEM, "%s: no memory for a weight row of %lld", w->name ? w->name : "linear",
                             (long long)Kw);
done:
    free(xq);
    free(xf);
    free(sx);
    return st;
}
