/* CPU twins of the GPU engine's kernels (see kernels_ref.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert/slide.h"
#include "engine/cuda/kernels_ref.h"
#include "gemm/gemm.h"
#include "gemm/linear.h"

void ss_ref_rmsnorm(float *out, const float *x, const float *w, int64_t M, int64_t n, double eps) {
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * n;
        float *yr = out + m * n;
        if (!w) {
            memmove(yr, xr, (size_t)n * sizeof(float));
            continue;
        }
        double ss = 0;
        for (int64_t j = 0; j < n; j++) ss += (double)xr[j] * xr[j];
        double inv = 1.0 / sqrt(ss / (double)n + eps);
        for (int64_t j = 0; j < n; j++) yr[j] = (float)(xr[j] * inv) * w[j];
    }
}

ss_status ss_ref_xview(const float *y, int64_t M, int64_t n, ss_dtype dtype, const ss_slide_geom *slide, int64_t ld,
                       void *data, float *scale) {
    const int64_t M_pad = ss_gemm_pad_m(M), width = slide ? slide->K_slid : n;
    const size_t es = ss_dtype_size(dtype);
    memset(data, 0, (size_t)(M_pad * ld) * es);
    if (scale)
        for (int64_t m = 0; m < M_pad; m++) scale[m] = 1.0f;
    float *tmp = malloc((size_t)width * sizeof(float) + 4);
    if (!tmp) return ss_fail(SS_ERR_NOMEM, "xview reference: no memory for a row of %lld", (long long)width);
    for (int64_t m = 0; m < M; m++) {
        uint8_t *dst = (uint8_t *)data + (size_t)(m * ld) * es;
        if (dtype == SS_DT_BF16) {
            if (slide) ss_slide_activation(slide, y + m * n, sizeof(float), tmp);
            else memcpy(tmp, y + m * n, (size_t)n * sizeof(float));
            for (int64_t j = 0; j < width; j++) ((uint16_t *)dst)[j] = ss_f32_to_bf16(tmp[j]);
        } else if (slide) {
            ss_quant_slide_act_ref(y + m * n, 1, slide, dtype, dst, &scale[m]);
        } else {
            ss_quant_act_ref(y + m * n, 1, n, dtype, dst, &scale[m]);
        }
    }
    free(tmp);
    return SS_OK;
}

static float silu(float x) { return x / (1.0f + expf(-x)); }
static float relu2(float x) { return x > 0 ? x * x : 0.0f; }

void ss_ref_act(const float *gate_up, int64_t M, int64_t I, int act, float *h) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t j = 0; j < I; j++) {
            float g = gate_up[m * 2 * I + j], u = gate_up[m * 2 * I + I + j];
            h[m * I + j] = (act == 0 ? relu2(g) : silu(g)) * u;
        }
}

void ss_ref_rope_table(const double *inv_freq, double scale, int head_dim, int max_len, double *rope) {
    const int half = head_dim / 2;
    for (int p = 0; p < max_len; p++)
        for (int i = 0; i < half; i++) {
            double angle = (double)p * inv_freq[i];
            rope[((size_t)p * half + i) * 2] = cos(angle) * scale;
            rope[((size_t)p * half + i) * 2 + 1] = sin(angle) * scale;
        }
}

/* Rotates pairs (i, i + D/2) of one head vector in double, as forward_cpu.c. */
static void rotate(float *x, int D, int pos, const double *rope) {
    for (int i = 0; i < D / 2; i++) {
        double c = rope[((size_t)pos * (D / 2) + i) * 2], s = rope[((size_t)pos * (D / 2) + i) * 2 + 1];
        double a = x[i], b = x[i + D / 2];
        x[i] = (float)(a * c - b * s);
        x[i + D / 2] = (float)(b * c + a * s);
    }
}

static size_t cache_at(const ss_attn_geom *g, int seq, int head, int pos) {
    return (((size_t)seq * g->n_kv_heads + head) * g->max_len + pos) * g->head_dim;
}

ss_status ss_ref_rope_kv(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                         const double *rope, const ss_attn_geom *g, uint16_t *k_cache, uint16_t *v_cache) {
    const int D = g->head_dim;
    float k[SS_REF_MAX_HEAD_DIM];
    if (D > SS_REF_MAX_HEAD_DIM) return ss_fail(SS_ERR_ARG, "rope reference: head_dim %d > %d", D, SS_REF_MAX_HEAD_DIM);
    for (int i = 0; i < M; i++)
        for (int h = 0; h < g->n_kv_heads; h++) {
            const float *row = qkv + (int64_t)i * ld;
            memcpy(k, row + g->k_col + (int64_t)h * D, (size_t)D * sizeof(float));
            rotate(k, D, pos[i], rope);
            size_t at = cache_at(g, seq[i], h, pos[i]);
            for (int d = 0; d < D; d++) {
                k_cache[at + d] = ss_f32_to_bf16(k[d]);
                v_cache[at + d] = ss_f32_to_bf16(row[g->v_col + (int64_t)h * D + d]);
            }
        }
    return SS_OK;
}

/* A KV cache as the references read it: BF16, or FP8 E4M3 codes with row scales. */
typedef struct ref_kv {
    const uint16_t *k16, *v16;
    const uint8_t *k8, *v8;
    const float *ks, *vs;
} ref_kv;

/* Element d of cache row r (K or V), dequantized: code value times the row's scale for FP8. */
static float kv_at(const ref_kv *c, int v, size_t r, int D, int d) {
    if (c->k16) return ss_bf16_to_f32((v ? c->v16 : c->k16)[r * D + d]);
    return ss_fp8e4m3_to_f32((v ? c->v8 : c->k8)[r * D + d]) * (v ? c->vs : c->ks)[r];
}

static ss_status attention_ref(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                               const double *rope, const ss_attn_geom *g, const ref_kv *kv, float *att) {
    const int D = g->head_dim, H = g->n_heads, group = g->n_heads / g->n_kv_heads;
    const float scale = 1.0f / sqrtf((float)D);
    float q[SS_REF_MAX_HEAD_DIM];
    if (D > SS_REF_MAX_HEAD_DIM)
        return ss_fail(SS_ERR_ARG, "attention reference: head_dim %d > %d", D, SS_REF_MAX_HEAD_DIM);
    float *scores = malloc((size_t)g->max_len * sizeof(float));
    if (!scores) return ss_fail(SS_ERR_NOMEM, "attention reference: no memory for %d scores", g->max_len);
    for (int i = 0; i < M; i++)
        for (int h = 0; h < H; h++) {
            memcpy(q, qkv + (int64_t)i * ld + g->q_col + (int64_t)h * D, (size_t)D * sizeof(float));
            rotate(q, D, pos[i], rope);
            const size_t r0 = cache_at(g, seq[i], h / group, 0) / (size_t)D; /* row of position 0 */
            float mx = -INFINITY, sum = 0;
            for (int t = 0; t <= pos[i]; t++) {
                float dot = 0;
                for (int d = 0; d < D; d++) dot += q[d] * kv_at(kv, 0, r0 + t, D, d);
                scores[t] = dot * scale;
                mx = fmaxf(mx, scores[t]);
            }
            for (int t = 0; t <= pos[i]; t++) {
                scores[t] = expf(scores[t] - mx);
                sum += scores[t];
            }
            float *out = att + (int64_t)i * H * D + (int64_t)h * D;
            for (int d = 0; d < D; d++) out[d] = 0;
            for (int t = 0; t <= pos[i]; t++) {
                float p = scores[t] / sum;
                for (int d = 0; d < D; d++) out[d] += p * kv_at(kv, 1, r0 + t, D, d);
            }
        }
    free(scores);
    return SS_OK;
}

ss_status ss_ref_attention(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                           const double *rope, const ss_attn_geom *g, const uint16_t *k_cache,
                           const uint16_t *v_cache, float *att) {
    const ref_kv kv = {.k16 = k_cache, .v16 = v_cache};
    return attention_ref(qkv, ld, M, seq, pos, rope, g, &kv, att);
}

ss_status ss_ref_attention_f8(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                              const double *rope, const ss_attn_geom *g, const ss_kv_f8 *kv, float *att) {
    const ref_kv c = {.k8 = kv->k, .v8 = kv->v, .ks = kv->k_scale, .vs = kv->v_scale};
    return attention_ref(qkv, ld, M, seq, pos, rope, g, &c, att);
}

ss_status ss_ref_rope_kv_f8(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                            const double *rope, const ss_attn_geom *g, const ss_kv_f8 *kv) {
    const int D = g->head_dim;
    float k[SS_REF_MAX_HEAD_DIM];
    if (D > SS_REF_MAX_HEAD_DIM) return ss_fail(SS_ERR_ARG, "rope reference: head_dim %d > %d", D, SS_REF_MAX_HEAD_DIM);
    for (int i = 0; i < M; i++)
        for (int h = 0; h < g->n_kv_heads; h++) {
            const float *row = qkv + (int64_t)i * ld;
            memcpy(k, row + g->k_col + (int64_t)h * D, (size_t)D * sizeof(float));
            rotate(k, D, pos[i], rope);
            const size_t r = cache_at(g, seq[i], h, pos[i]) / (size_t)D;
            ss_quant_act_ref(k, 1, D, SS_DT_F8_E4M3, kv->k + r * D, &kv->k_scale[r]);
            ss_quant_act_ref(row + g->v_col + (int64_t)h * D, 1, D, SS_DT_F8_E4M3, kv->v + r * D, &kv->v_scale[r]);
        }
    return SS_OK;
}

/* ---- the tensor-core decode attention's twin ---- */

enum { TC_TILE = 64, TC_WARPS = 4, TC_WARP_KEYS = 16 };

/* One warp's online softmax state for one head. */
typedef struct tc_state {
    float m, l;
    float o_hi[SS_REF_MAX_HEAD_DIM], o_lo[SS_REF_MAX_HEAD_DIM];
} tc_state;

/* x = hi + lo, each rounded to BF16 (the BF16 cache) or FP16 (the FP8 cache's kernel). */
static void split16(float x, int f16, float *hi, float *lo) {
    if (f16) {
        *hi = ss_f16_to_f32(ss_f32_to_f16(x));
        *lo = ss_f16_to_f32(ss_f32_to_f16(x - *hi));
    } else {
        *hi = ss_round_bf16(x);
        *lo = ss_round_bf16(x - *hi);
    }
}

/* Element d of cache row r as the kernel's tensor cores see it: the BF16
 * value, or the FP8 code's value (its scale applied outside the products). */
static float kv_raw(const ref_kv *c, int v, size_t r, int D, int d) {
    if (c->k16) return ss_bf16_to_f32((v ? c->v16 : c->k16)[r * D + d]);
    return ss_fp8e4m3_to_f32((v ? c->v8 : c->k8)[r * D + d]);
}

/* The warp's 16 positions key0.. (those <= last) of one head; r0: the cache row of position 0. */
static void tc_warp_step(tc_state *st, const float *q_hi, const float *q_lo, const ref_kv *kv, size_t r0, int D,
                         int key0, int last) {
    const int f8 = kv->k8 != NULL;
    float sc[TC_WARP_KEYS], mx = -INFINITY;
    for (int i = 0; i < TC_WARP_KEYS; i++) {
        const int key = key0 + i;
        sc[i] = -INFINITY;
        if (key > last) continue;
        float shi = 0, slo = 0;
        for (int d = 0; d < D; d++) {
            const float k = kv_raw(kv, 0, r0 + key, D, d);
            shi += q_hi[d] * k;
            slo += q_lo[d] * k;
        }
        sc[i] = shi + slo;
        if (f8) sc[i] *= kv->ks[r0 + key];
        mx = fmaxf(mx, sc[i]);
    }
    const float m_new = fmaxf(st->m, mx), alpha = exp2f(st->m - m_new);
    st->m = m_new;
    float rs = 0;
    for (int d = 0; d < D; d++) st->o_hi[d] *= alpha, st->o_lo[d] *= alpha;
    for (int i = 0; i < TC_WARP_KEYS; i++) {
        const float p = exp2f(sc[i] - m_new);
        rs += p;
        if (key0 + i > last) continue; /* p = 0 */
        float phi, plo;
        split16(f8 ? p * kv->vs[r0 + key0 + i] : p, f8, &phi, &plo);
        for (int d = 0; d < D; d++) {
            const float v = kv_raw(kv, 1, r0 + key0 + i, D, d);
            st->o_hi[d] += phi * v;
            st->o_lo[d] += plo * v;
        }
    }
    st->l = st->l * alpha + rs;
}

static ss_status decode_tc_ref(const float *qkv, int64_t ld, const int32_t *rows, int n_rows, const int32_t *seq,
                               const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                               const ref_kv *kv, float *att) {
    const int D = g->head_dim, H = g->n_heads, G = g->n_heads / g->n_kv_heads;
    if (D > SS_REF_MAX_HEAD_DIM) return ss_fail(SS_ERR_ARG, "attention reference: head_dim %d > %d", D, SS_REF_MAX_HEAD_DIM);
    if (chunk <= 0 || chunk % TC_TILE) return ss_fail(SS_ERR_ARG, "attention reference: chunk %d is not a multiple of 64", chunk);
    const int n_splits = (g->max_len + chunk - 1) / chunk;
    const float qscale = 1.4426950408889634f / sqrtf((float)D);
    tc_state *ws = malloc(TC_WARPS * sizeof *ws);
    float *part = malloc((size_t)n_splits * (D + 2) * sizeof(float)); /* one head's chunks: O, m, l */
    if (!ws || !part) {
        free(ws), free(part);
        return ss_fail(SS_ERR_NOMEM, "attention reference: no memory for %d chunks", n_splits);
    }
    float q[SS_REF_MAX_HEAD_DIM], q_hi[SS_REF_MAX_HEAD_DIM], q_lo[SS_REF_MAX_HEAD_DIM];
    for (int j = 0; j < n_rows; j++) {
        const int row = rows[j], p = pos[row];
        for (int h = 0; h < H; h++) {
            memcpy(q, qkv + (int64_t)row * ld + g->q_col + (int64_t)h * D, (size_t)D * sizeof(float));
            rotate(q, D, p, rope);
            for (int d = 0; d < D; d++) split16(q[d] * qscale, kv->k8 != NULL, &q_hi[d], &q_lo[d]);
            const size_t r0 = cache_at(g, seq[row], h / G, 0) / (size_t)D;
            const int used = p / chunk + 1;
            for (int c = 0; c < used; c++) {
                const int begin = c * chunk, last = p < begin + chunk - 1 ? p : begin + chunk - 1;
                for (int w = 0; w < TC_WARPS; w++) {
                    ws[w].m = -INFINITY, ws[w].l = 0;
                    memset(ws[w].o_hi, 0, sizeof ws[w].o_hi), memset(ws[w].o_lo, 0, sizeof ws[w].o_lo);
                    for (int key0 = begin + w * TC_WARP_KEYS; key0 <= last; key0 += TC_TILE)
                        tc_warp_step(&ws[w], q_hi, q_lo, kv, r0, D, key0, last);
                }
                float M = -INFINITY, l = 0, *pc = part + (size_t)c * (D + 2);
                for (int w = 0; w < TC_WARPS; w++) M = fmaxf(M, ws[w].m);
                for (int d = 0; d < D; d++) pc[d] = 0;
                for (int w = 0; w < TC_WARPS; w++) {
                    const float wt = exp2f(ws[w].m - M);
                    l += wt * ws[w].l;
                    for (int d = 0; d < D; d++) pc[d] += wt * (ws[w].o_hi[d] + ws[w].o_lo[d]);
                }
                pc[D] = M, pc[D + 1] = l;
            }
            float *out = att + (int64_t)row * H * D + (int64_t)h * D;
            if (used == 1) {
                const float inv = 1.0f / part[D + 1];
                for (int d = 0; d < D; d++) out[d] = part[d] * inv;
                continue;
            }
            float M = -INFINITY, l = 0;
            for (int c = 0; c < used; c++) M = fmaxf(M, part[(size_t)c * (D + 2) + D]);
            for (int d = 0; d < D; d++) out[d] = 0;
            for (int c = 0; c < used; c++) {
                const float *pc = part + (size_t)c * (D + 2), wt = exp2f(pc[D] - M);
                l += wt * pc[D + 1];
                for (int d = 0; d < D; d++) out[d] += wt * pc[d];
            }
            for (int d = 0; d < D; d++) out[d] /= l;
        }
    }
    free(ws), free(part);
    return SS_OK;
}

ss_status ss_ref_attention_decode_tc(const float *qkv, int64_t ld, const int32_t *rows, int n_rows, const int32_t *seq,
                                     const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                                     const uint16_t *k_cache, const uint16_t *v_cache, float *att) {
    const ref_kv kv = {.k16 = k_cache, .v16 = v_cache};
    return decode_tc_ref(qkv, ld, rows, n_rows, seq, pos, rope, g, chunk, &kv, att);
}

ss_status ss_ref_attention_decode_tc_f8(const float *qkv, int64_t ld, const int32_t *rows, int n_rows,
                                        const int32_t *seq, const int32_t *pos, const double *rope,
                                        const ss_attn_geom *g, int chunk, const ss_kv_f8 *kv, float *att) {
    const ref_kv c = {.k8 = kv->k, .v8 = kv->v, .ks = kv->k_scale, .vs = kv->v_scale};
    return decode_tc_ref(qkv, ld, rows, n_rows, seq, pos, rope, g, chunk, &c, att);
}
