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
            if (w->dtype != SS_DT_I8)
                for (int64_t k = 0; k < Kw; k++) wrow[k] = ss_load_f32(w->w, w->dtype, (size_t)(n * Kw + k));
            for (int64_t m = 0; m < M; m++) {
                float v;
                if (w->dtype == SS_DT_I8) { /* exact: |acc| <= 127^2 K fits int32 for K < 133000 */
                    const int8_t *xr = xi8 + m * Kw;
                    int32_t acc = 0;
                    for (int64_t k = 0; k < Kw; k++) acc += (int32_t)xr[k] * wi8[k];
                    v = (float)acc * sx[m] * w->scale[n];
                } else if (w->dtype == SS_DT_F8_E4M3) { /* exact: products need 8 bits, sums < 53 */
                    const float *xr = xf + m * Kw;
                    double acc = 0;
                    for (int64_t k = 0; k < Kw; k++) acc += (double)xr[k] * wrow[k];
                    v = (float)acc * sx[m] * w->scale[n];
                } else {
                    const float *xr = xf + m * Kw;
                    float acc = 0;
                    for (int64_t k = 0; k < Kw; k++) acc += xr[k] * wrow[k];
                    v = acc;
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
