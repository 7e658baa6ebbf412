/* Offline weight quantization (SPEC section 1), see quantize.h.
 *
 * Choices the formulas leave open:
 * - q is computed as w / s (IEEE float division, one rounding), not as
 *   w * (1/s) (two roundings, as the reference's PyTorch code did): the
 *   same division as the activation quantization (gemm/linear.h), so a value
 *   that sits exactly on a rounding tie is treated the same on both sides.
 * - ternary: mean|W| is summed in double, row by row in parallel and then
 *   over rows in order, so the scale does not depend on the thread count;
 *   s = max((float)mean, 1e-5). round() is round-half-to-even, as
 *   torch.round (for a clamp to [-1, 1] that is two comparisons, below).
 * - absmax: s = max|w_row| / qmax. An all-zero row gets s = 1 (its codes are
 *   all 0 and any scale dequantizes them exactly; never a division by zero).
 *   A row so tiny that max|w|/qmax underflows below FLT_MIN uses FLT_MIN:
 *   the rounding step is then s, and the round trip stays within s/2.
 * - No code for -0: an FP8 result 0x80 (a small negative value rounded to
 *   zero) is stored as 0x00, so every zero is all-zero bytes (see slide.c).
 * - A NaN or infinite weight is an error naming the tensor and row.
 * Rows are independent (OpenMP over rows); the result does not depend on
 * the thread count.
 */
#include "convert/quantize.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *ss_qscheme_name(ss_qscheme s) { return s == SS_SCHEME_TERNARY ? "ternary" : "absmax"; }

ss_status ss_qscheme_parse(const char *s, ss_qscheme *out) {
    if (s && strcmp(s, "ternary") == 0) *out = SS_SCHEME_TERNARY;
    else if (s && strcmp(s, "absmax") == 0) *out = SS_SCHEME_ABSMAX;
    else return ss_fail(SS_ERR_ARG, "unknown quantization scheme '%s': expected ternary or absmax", s ? s : "(null)");
    return SS_OK;
}

#define TERNARY_SCALE_FLOOR 1e-5f

/* Stores v (already divided by the scale) as a code of qdtype; never -0. */
static inline void store_code(void *out, ss_dtype qdtype, int64_t i, float v) {
    if (qdtype == SS_DT_I8) {
        ((int8_t *)out)[i] = ss_f32_to_i8_sym(v);
    } else {
        uint8_t c = ss_f32_to_fp8e4m3(v);
        ((uint8_t *)out)[i] = c == 0x80 ? 0 : c;
    }
}

/* Ternary value q in {-1, 0, 1} as a code (E4M3: -1.0 = 0xb8, +1.0 = 0x38). */
static inline void store_ternary(void *out, ss_dtype qdtype, int64_t i, int q) {
    static const uint8_t fp8_ternary[3] = {0xb8, 0x00, 0x38};
    if (qdtype == SS_DT_I8) ((int8_t *)out)[i] = (int8_t)q;
    else ((uint8_t *)out)[i] = fp8_ternary[q + 1];
}

/* Row n of a [N, K] BF16/F16/F32 matrix as floats (exact: all widen to f32). */
static void load_row(const void *w, ss_dtype src, int64_t n, int64_t K, float *row) {
    if (src == SS_DT_F32) {
        memcpy(row, (const float *)w + n * K, (size_t)K * sizeof(float));
    } else if (src == SS_DT_BF16) {
        const uint16_t *r = (const uint16_t *)w + n * K;
        for (int64_t k = 0; k < K; k++) row[k] = ss_bf16_to_f32(r[k]);
    } else {
        const uint16_t *r = (const uint16_t *)w + n * K;
        for (int64_t k = 0; k < K; k++) row[k] = ss_f16_to_f32(r[k]);
    }
}

ss_status ss_quantize_weight(const void *w, ss_dtype src, int64_t N, int64_t K, ss_qscheme scheme,
                             ss_dtype qdtype, void *out, float *scale, const char *what) {
    what = what ? what : "weight";
    if (src != SS_DT_BF16 && src != SS_DT_F16 && src != SS_DT_F32)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: cannot quantize dtype %s (expected BF16, F16 or F32)", what,
                       ss_dtype_name(src));
    if (qdtype != SS_DT_I8 && qdtype != SS_DT_F8_E4M3)
        return ss_fail(SS_ERR_ARG, "%s: cannot quantize to %s (expected I8 or F8_E4M3)", what, ss_dtype_name(qdtype));
    if (scheme != SS_SCHEME_TERNARY && scheme != SS_SCHEME_ABSMAX)
        return ss_fail(SS_ERR_ARG, "%s: unknown quantization scheme %d", what, (int)scheme);
    if (N <= 0 || K <= 0)
        return ss_fail(SS_ERR_ARG, "%s: cannot quantize a [%lld, %lld] matrix", what, (long long)N, (long long)K);

    const float qmax = qdtype == SS_DT_I8 ? SS_INT8_QMAX : SS_FP8_E4M3_MAX;
    double *row_sum = malloc((size_t)N * sizeof(double)); /* ternary: sum |w| per row */
    if (!row_sum) return ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld row sums", what, (long long)N);
    int64_t bad_row = -1; /* first row with a NaN/inf, or -1 (workers cannot ss_fail: thread-local message) */
    int nomem = 0;

    /* Pass 1: per row, finiteness and either sum |w| (ternary) or the whole
     * absmax quantization (a row needs nothing but itself). */
#pragma omp parallel
    {
        float *row = malloc((size_t)K * sizeof(float));
        if (!row) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            if (!row) continue;
            load_row(w, src, n, K, row);
            /* four partial sums: a fixed order (per K), so still deterministic */
            double sum[4] = {0, 0, 0, 0};
            float amax = 0.0f;
            int finite = 1;
            for (int64_t k = 0; k < K; k++) {
                float a = fabsf(row[k]);
                finite &= a <= FLT_MAX; /* false for inf and NaN */
                sum[k & 3] += a;
                amax = a > amax ? a : amax; /* not fmaxf: a libm call per element */
            }
            row_sum[n] = (sum[0] + sum[1]) + (sum[2] + sum[3]);
            if (!finite) {
#pragma omp critical(ss_quant_error)
                if (bad_row < 0 || n < bad_row) bad_row = n;
                continue;
            }
            if (scheme != SS_SCHEME_ABSMAX) continue;
            const float s = amax == 0.0f ? 1.0f : fmaxf(amax / qmax, FLT_MIN);
            scale[n] = s;
            for (int64_t k = 0; k < K; k++) store_code(out, qdtype, n * K + k, row[k] / s);
        }
        free(row);
    }
    if (nomem || bad_row >= 0 || scheme == SS_SCHEME_ABSMAX) {
        free(row_sum);
        if (nomem) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a row of %lld", what, (long long)K);
        if (bad_row >= 0)
            return ss_fail(SS_ERR_FORMAT, "%s: row %lld holds a NaN or infinite weight; cannot quantize", what,
                           (long long)bad_row);
        return SS_OK;
    }

    /* Ternary pass 2: one scale for the tensor, summed over rows in order. */
    double total = 0;
    for (int64_t n = 0; n < N; n++) total += row_sum[n];
    free(row_sum);
    const float s = fmaxf((float)(total / ((double)N * (double)K)), TERNARY_SCALE_FLOOR);
#pragma omp parallel
    {
        float *row = malloc((size_t)K * sizeof(float));
        if (!row) {
#pragma omp atomic write
            nomem = 1;
        }
#pragma omp for schedule(static)
        for (int64_t n = 0; n < N; n++) {
            if (!row) continue;
            load_row(w, src, n, K, row);
            scale[n] = s;
            /* clamp(round_half_even(x), -1, 1) is 1 for x > 0.5, -1 for
             * x < -0.5, else 0 (0.5 is a tie that rounds to even 0). */
            for (int64_t k = 0; k < K; k++) {
                const float x = row[k] / s;
                store_ternary(out, qdtype, n * K + k, (x > 0.5f) - (x < -0.5f));
            }
        }
        free(row);
    }
    if (nomem) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a row of %lld", what, (long long)K);
    return SS_OK;
}
