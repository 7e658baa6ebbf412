/* NVFP4 operands on the host (see fp4.h). */
#include "gemm/fp4.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "gemm/gemm.h"

static const float k_e2m1[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

uint8_t ss_e2m1_encode(float x) {
    if (isnan(x)) return 0x7;
    const uint8_t sign = signbit(x) ? 0x8 : 0;
    const float a = fabsf(x);
    if (a >= 6.0f) return sign | 0x7;
    /* the nearest magnitude; a tie goes to the even code (mantissa bit 0) */
    int best = 0;
    for (int c = 1; c < 8; c++) {
        const float d = fabsf(a - k_e2m1[c]), db = fabsf(a - k_e2m1[best]);
        if (d < db || (d == db && (c & 1) == 0)) best = c;
    }
    return sign | (uint8_t)best;
}

float ss_e2m1_decode(uint8_t code) {
    const float m = k_e2m1[code & 0x7];
    return code & 0x8 ? -m : m;
}

uint8_t ss_ue4m3_encode(float x) {
    if (!(x > 0.0f)) return 0; /* negative, zero, NaN */
    return ss_f32_to_fp8e4m3(x) & 0x7f; /* RNE and saturation at 448 of the signed format */
}

float ss_ue4m3_decode(uint8_t code) { return ss_fp8e4m3_to_f32(code & 0x7f); }

static int64_t groups_padded(int64_t K) {
    const int64_t g = (K + SS_FP4_BLOCK - 1) / SS_FP4_BLOCK;
    return (g + SS_FP4_TILE_GROUPS - 1) / SS_FP4_TILE_GROUPS * SS_FP4_TILE_GROUPS;
}

size_t ss_fp4_scale_offset(int64_t K, int64_t r, int64_t g) {
    const int64_t tiles_per_row_block = groups_padded(K) / SS_FP4_TILE_GROUPS;
    const int64_t tile = (r / SS_FP4_TILE_ROWS) * tiles_per_row_block + g / SS_FP4_TILE_GROUPS;
    const int64_t rr = r % SS_FP4_TILE_ROWS;
    return (size_t)(tile * 512 + (rr % 32) * 16 + (rr / 32) * 4 + g % SS_FP4_TILE_GROUPS);
}

size_t ss_fp4_scale_bytes(int64_t rows, int64_t K) {
    const int64_t rows_pad = (rows + SS_FP4_TILE_ROWS - 1) / SS_FP4_TILE_ROWS * SS_FP4_TILE_ROWS;
    return (size_t)(rows_pad * groups_padded(K));
}

void ss_fp4_free(ss_fp4_matrix *m) {
    if (!m) return;
    free(m->data);
    free(m->scales);
    m->data = m->scales = NULL;
}

ss_status ss_fp4_quantize(const float *x, int64_t rows, int64_t K, ss_fp4_matrix *out) {
    memset(out, 0, sizeof *out);
    if (rows <= 0 || K <= 0 || K % SS_FP4_BLOCK)
        return ss_fail(SS_ERR_ARG, "fp4: a [%lld, %lld] operand: K must be a positive multiple of %d", (long long)rows,
                       (long long)K, SS_FP4_BLOCK);
    out->rows = rows;
    out->K = K;
    out->data = calloc((size_t)(rows * K / 2), 1);
    out->scales = calloc(ss_fp4_scale_bytes(rows, K), 1);
    if (!out->data || !out->scales) {
        ss_fp4_free(out);
        return ss_fail(SS_ERR_NOMEM, "fp4: no memory for a [%lld, %lld] operand", (long long)rows, (long long)K);
    }
    float amax = 0.0f;
    for (int64_t i = 0; i < rows * K; i++) amax = fmaxf(amax, fabsf(x[i]));
    out->global = amax > 0.0f ? amax / (6.0f * 448.0f) : 1.0f;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
        const float *row = x + r * K;
        for (int64_t g = 0; g < K / SS_FP4_BLOCK; g++) {
            const float *blk = row + g * SS_FP4_BLOCK;
            float bmax = 0.0f;
            for (int i = 0; i < SS_FP4_BLOCK; i++) bmax = fmaxf(bmax, fabsf(blk[i]));
            const uint8_t sc = ss_ue4m3_encode(bmax / 6.0f / out->global);
            out->scales[ss_fp4_scale_offset(K, r, g)] = sc;
            const float s = ss_ue4m3_decode(sc) * out->global;
            uint8_t *dst = out->data + (r * K + g * SS_FP4_BLOCK) / 2;
            for (int i = 0; i < SS_FP4_BLOCK; i += 2) {
                const uint8_t lo = s > 0.0f ? ss_e2m1_encode(blk[i] / s) : 0;
                const uint8_t hi = s > 0.0f ? ss_e2m1_encode(blk[i + 1] / s) : 0;
                dst[i / 2] = (uint8_t)(lo | hi << 4);
            }
        }
    }
    return SS_OK;
}

float ss_fp4_value(const ss_fp4_matrix *m, int64_t r, int64_t k) {
    const uint8_t byte = m->data[(r * m->K + k) / 2];
    const uint8_t code = k % 2 ? byte >> 4 : byte & 0xf;
    const float s = ss_ue4m3_decode(m->scales[ss_fp4_scale_offset(m->K, r, k / SS_FP4_BLOCK)]) * m->global;
    return ss_e2m1_decode(code) * s; /* the scale the quantizer divided by */
}

ss_status ss_fp4_gemm_ref(const ss_fp4_matrix *w, const ss_fp4_matrix *x, float *y) {
    if (w->K != x->K)
        return ss_fail(SS_ERR_ARG, "fp4 reference GEMM: K of the weight (%lld) and the activation (%lld) differ",
                       (long long)w->K, (long long)x->K);
    const int64_t N = w->rows, M = x->rows, K = w->K;
    float *wf = malloc((size_t)(N * K) * sizeof(float)), *xf = malloc((size_t)(M * K) * sizeof(float));
    if (!wf || !xf) {
        free(wf);
        free(xf);
        return ss_fail(SS_ERR_NOMEM, "fp4 reference GEMM: no memory for [%lld, %lld] x [%lld, %lld]", (long long)M,
                       (long long)K, (long long)N, (long long)K);
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++) wf[n * K + k] = ss_fp4_value(w, n, k);
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) xf[m * K + k] = ss_fp4_value(x, m, k);
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)xf[m * K + k] * wf[n * K + k];
            y[m * N + n] = (float)acc;
        }
    free(wf);
    free(xf);
    return SS_OK;
}

ss_status ss_fp4_upload(const ss_fp4_matrix *m, ss_fp4_dev *d) {
    memset(d, 0, sizeof *d);
    const size_t db = (size_t)(m->rows * m->K / 2), sb = ss_fp4_scale_bytes(m->rows, m->K);
    ss_status st = ss_gpu_alloc(db, &d->data);
    if (!st) st = ss_gpu_upload(d->data, m->data, db);
    if (!st) st = ss_gpu_alloc(sb, &d->scales);
    if (!st) st = ss_gpu_upload(d->scales, m->scales, sb);
    if (st) {
        ss_fp4_dev_free(d);
        return st;
    }
    d->rows = m->rows;
    d->K = m->K;
    d->global = m->global;
    return SS_OK;
}

void ss_fp4_dev_free(ss_fp4_dev *d) {
    if (!d) return;
    ss_gpu_free(d->data);
    ss_gpu_free(d->scales);
    d->data = d->scales = NULL;
}
