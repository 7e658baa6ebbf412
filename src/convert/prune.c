/* Magnitude pruning to 2:L (SPEC section 1).
 *
 * Keeping the L-2 largest |w| of a group is zeroing its 2 smallest, so one
 * pass per group finds the two smallest magnitudes (no sort). Order of
 * "smallest": by |w|, and among equal |w| the HIGHER index goes first, so
 * the lower index is kept. Padding columns beyond K are zeros with the
 * highest indices: they are always dropped first and stay zero. Ternary
 * weights (only 0 and +-1) thus lose their existing zeros first, then the
 * last +-1 values of the group, e.g. with L = 8:
 *     [1,-1,0,1, 1,-1,1,1] -> [1,-1,0,1, 1,-1,1,0]
 *     [1, 1,1,1, 1, 1,1,1] -> [1, 1,1,1, 1, 1,0,0]
 *
 * |w| is compared through an integer key per dtype that orders magnitudes:
 * the float formats' bits without the sign (BF16, F16, F32, FP8 E4M3: the
 * sign-magnitude encodings are monotonic; a NaN ranks above everything, so
 * it is kept), |v| for I8 (-128 -> 128). Both zeros have key 0.
 *
 * Every zero the output holds is written as all-zero bytes (+0): a -0 in the
 * input (FP8 0x80, float -0.0) becomes +0, numerically the same value. That
 * is what ss_slide_row and ss_is_pruned call zero (see slide.c).
 */
#include "convert/prune.h"

#include "convert/sparsity.h"

#include <string.h>

static int prunable(ss_dtype t) {
    return t == SS_DT_BF16 || t == SS_DT_F16 || t == SS_DT_F32 || t == SS_DT_I8 || t == SS_DT_F8_E4M3;
}

/* Magnitude keys of n elements of a row starting at column k0. */
static void load_keys(const void *row, ss_dtype t, int64_t k0, int n, uint32_t *key) {
    switch (t) {
    case SS_DT_BF16:
    case SS_DT_F16: {
        const uint16_t *r = (const uint16_t *)row + k0;
        for (int i = 0; i < n; i++) key[i] = r[i] & 0x7fffu;
        break;
    }
    case SS_DT_F32: {
        const uint32_t *r = (const uint32_t *)row + k0;
        for (int i = 0; i < n; i++) key[i] = r[i] & 0x7fffffffu;
        break;
    }
    case SS_DT_F8_E4M3: {
        const uint8_t *r = (const uint8_t *)row + k0;
        for (int i = 0; i < n; i++) key[i] = r[i] & 0x7fu;
        break;
    }
    case SS_DT_I8: {
        const int8_t *r = (const int8_t *)row + k0;
        for (int i = 0; i < n; i++) key[i] = (uint32_t)(r[i] < 0 ? -(int)r[i] : r[i]);
        break;
    }
    default: break;
    }
}

static void prune_row(unsigned char *row, ss_dtype t, size_t esize, int64_t K, int L) {
    uint32_t key[SS_L_MAX];
    for (int64_t k0 = 0; k0 < K; k0 += L) {
        const int n = K - k0 < L ? (int)(K - k0) : L; /* real columns; L - n padding zeros follow */
        load_keys(row, t, k0, n, key);
        /* The two smallest (key, -index), scanning up: "<=" lets a later
         * equal key win, so ties drop the higher index. Padding comes last
         * with key 0, so with >= 2 padding columns nothing real is dropped. */
        uint32_t k1 = UINT32_MAX, k2 = UINT32_MAX;
        int i1 = -1, i2 = -1;
        for (int i = 0; i < L; i++) {
            uint32_t v = i < n ? key[i] : 0;
            if (v <= k1) {
                k2 = k1, i2 = i1;
                k1 = v, i1 = i;
            } else if (v <= k2) {
                k2 = v, i2 = i;
            }
        }
        unsigned char *g = row + k0 * (int64_t)esize;
        if (i1 < n) memset(g + (size_t)i1 * esize, 0, esize);
        if (i2 < n) memset(g + (size_t)i2 * esize, 0, esize);
        for (int i = 0; i < n; i++) /* canonical zeros: -0 -> +0 */
            if (key[i] == 0) memset(g + (size_t)i * esize, 0, esize);
    }
}

ss_status ss_prune_matrix(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const char *what) {
    what = what ? what : "weight";
    if (!prunable(dtype))
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: cannot prune dtype %s (BF16, F16, F32, I8 or F8_E4M3)", what,
                       ss_dtype_name(dtype));
    if (L < 4 || L > SS_L_MAX || L % 2)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune to 2:%d (L must be even, 4..%d)", what, L, SS_L_MAX);
    if (N < 0 || K <= 0)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune a [%lld, %lld] matrix", what, (long long)N, (long long)K);
    const size_t esize = ss_dtype_size(dtype);
    unsigned char *base = w;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) prune_row(base + r * K * (int64_t)esize, dtype, esize, K, L);
    return SS_OK;
}

int ss_is_pruned(const void *w, ss_dtype dtype, int64_t N, int64_t K, int L) {
    const size_t esize = ss_dtype_size(dtype);
    if (!esize || L < 4 || L % 2 || K <= 0) return 0;
    const unsigned char *base = w;
    for (int64_t r = 0; r < N; r++) {
        const unsigned char *row = base + r * K * (int64_t)esize;
        for (int64_t k0 = 0; k0 < K; k0 += L) {
            int64_t zeros = k0 + L - K > 0 ? k0 + L - K : 0; /* padding */
            for (int64_t k = k0; k < k0 + L && k < K; k++) {
                const unsigned char *p = row + k * (int64_t)esize;
                int z = 1;
                for (size_t b = 0; b < esize; b++) z &= p[b] == 0;
                zeros += z;
            }
            if (zeros < 2) return 0;
        }
    }
    return 1;
}
