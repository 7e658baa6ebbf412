/* Magnitude pruning to 2:L (SPEC section 1).
 *
 * Keeping the L-2 largest |w| of a group is zeroing its 2 smallest, so two
 * branch-free min passes per group find them (no sort). Order of
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

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert/sparsity.h"

static int prunable(ss_dtype t) {
    return t == SS_DT_BF16 || t == SS_DT_F16 || t == SS_DT_F32 || t == SS_DT_I8 || t == SS_DT_F8_E4M3;
}

/* Magnitude keys (see the top of the file) of the stored bit patterns. */
#define KEY_I8(v) ((uint32_t)abs((int)(v))) /* branch-free; -128 -> 128 */
#define KEY_FP8(v) ((uint32_t)((v) & 0x7fu))
#define KEY_16(v) ((uint32_t)((v) & 0x7fffu))
#define KEY_32(v) ((uint32_t)((v) & 0x7fffffffu))

/* One typed, branch-free instance per dtype. In a group, each column gets
 * a rank code (key << 6) | (63 - i): the smallest code is the smallest |w|
 * and, among equal |w|, the highest index (L <= 64). Padding columns i >= n
 * have key 0. The two smallest codes are the two columns to drop; then every
 * zero left is written as +0. */
#define DEFINE_PRUNE_ROW(NAME, T, KEY)                                                         \
    static void NAME(T *row, int64_t K, int L) {                                               \
        uint64_t code[SS_L_MAX];                                                               \
        for (int64_t k0 = 0; k0 < K; k0 += L) {                                                \
            T *x = row + k0;                                                                   \
            const int n = K - k0 < L ? (int)(K - k0) : L; /* real columns, then padding */     \
            uint64_t m1 = UINT64_MAX, m2 = UINT64_MAX;                                         \
            for (int i = 0; i < L; i++) {                                                      \
                const uint64_t c = (uint64_t)(i < n ? KEY(x[i]) : 0) << 6 | (uint64_t)(63 - i); \
                code[i] = c;                                                                   \
                m1 = c < m1 ? c : m1;                                                          \
            }                                                                                  \
            for (int i = 0; i < L; i++) {                                                      \
                const uint64_t c = code[i] == m1 ? UINT64_MAX : code[i];                       \
                m2 = c < m2 ? c : m2;                                                          \
            }                                                                                  \
            const int i1 = 63 - (int)(m1 & 63), i2 = 63 - (int)(m2 & 63);                      \
            if (i1 < n) x[i1] = 0;                                                             \
            if (i2 < n) x[i2] = 0;                                                             \
            for (int i = 0; i < n; i++) x[i] = KEY(x[i]) ? x[i] : (T)0; /* -0 -> +0 */         \
        }                                                                                      \
    }

DEFINE_PRUNE_ROW(prune_row_i8, int8_t, KEY_I8)
DEFINE_PRUNE_ROW(prune_row_fp8, uint8_t, KEY_FP8)
DEFINE_PRUNE_ROW(prune_row_16, uint16_t, KEY_16)
DEFINE_PRUNE_ROW(prune_row_32, uint32_t, KEY_32)
#undef DEFINE_PRUNE_ROW

static void prune_row(void *row, ss_dtype t, int64_t K, int L) {
    switch (t) {
    case SS_DT_I8: prune_row_i8(row, K, L); break;
    case SS_DT_F8_E4M3: prune_row_fp8(row, K, L); break;
    case SS_DT_BF16:
    case SS_DT_F16: prune_row_16(row, K, L); break;
    case SS_DT_F32: prune_row_32(row, K, L); break;
    default: break;
    }
}

/* The arguments both pruners take: a dtype they know, an even L in 4..SS_L_MAX, a real matrix. */
static ss_status check_prune_args(ss_dtype dtype, int64_t N, int64_t K, int L, const char *what) {
    if (!prunable(dtype))
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: cannot prune dtype %s (BF16, F16, F32, I8 or F8_E4M3)", what,
                       ss_dtype_name(dtype));
    if (L < 4 || L > SS_L_MAX || L % 2)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune to 2:%d (L must be even, 4..%d)", what, L, SS_L_MAX);
    if (N < 0 || K <= 0)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune a [%lld, %lld] matrix", what, (long long)N, (long long)K);
    return SS_OK;
}

ss_status ss_prune_matrix(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const char *what) {
    what = what ? what : "weight";
    SS_TRY(check_prune_args(dtype, N, K, L, what));
    const size_t esize = ss_dtype_size(dtype);
    unsigned char *base = w;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) prune_row(base + r * K * (int64_t)esize, dtype, K, L);
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

/* ---- methods ---- */

const char *ss_prune_method_name(ss_prune_method m) {
    return m == SS_PRUNE_WANDA ? "wanda" : m == SS_PRUNE_SPARSEGPT ? "sparsegpt" : "magnitude";
}

ss_status ss_prune_method_parse(const char *s, ss_prune_method *m) {
    if (s && !strcmp(s, "magnitude")) *m = SS_PRUNE_MAGNITUDE;
    else if (s && !strcmp(s, "wanda")) *m = SS_PRUNE_WANDA;
    else if (s && !strcmp(s, "sparsegpt")) *m = SS_PRUNE_SPARSEGPT;
    else return ss_fail(SS_ERR_ARG, "unknown pruning method '%s': expected magnitude, wanda or sparsegpt", s ? s : "(null)");
    return SS_OK;
}

/* ---- Wanda ---- */

/* |w| of element i; NaN -> +inf (kept). I8/F8 codes: their magnitude. */
static double magnitude_of(const void *w, ss_dtype t, size_t i) {
    const double a = fabs((double)ss_load_f32(w, t, i));
    return isnan(a) ? INFINITY : a;
}

static ss_status check_sumsq(const double *sumsq, int64_t K, const char *what) {
    if (!sumsq) return ss_fail(SS_ERR_ARG, "%s: Wanda needs the input statistics", what);
    for (int64_t k = 0; k < K; k++)
        if (!(sumsq[k] >= 0) || isinf(sumsq[k]))
            return ss_fail(SS_ERR_FORMAT, "%s: input statistic %lld is %g; expected finite and >= 0 (NaN or inf "
                           "activations in the calibration run?)", what, (long long)k, sumsq[k]);
    return SS_OK;
}

ss_status ss_wanda_scores(const void *w, ss_dtype dtype, int64_t N, int64_t K, const double *sumsq, double *scores) {
    if (!prunable(dtype)) return ss_fail(SS_ERR_UNSUPPORTED, "Wanda scores: dtype %s", ss_dtype_name(dtype));
    SS_TRY(check_sumsq(sumsq, K, "Wanda scores"));
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < K; k++) {
            const double m = magnitude_of(w, dtype, (size_t)(r * K + k));
            scores[r * K + k] = m == 0 ? 0 : m * sqrt(sumsq[k]); /* 0 * inf stays 0: a zero is never kept over a weight */
        }
    return SS_OK;
}

/* Zeroes (all-zero bytes) element k of a row. */
static void zero_at(unsigned char *row, size_t esize, int64_t k) { memset(row + (size_t)k * esize, 0, esize); }

ss_status ss_prune_matrix_wanda(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const double *sumsq,
                                const char *what) {
    what = what ? what : "weight";
    SS_TRY(check_prune_args(dtype, N, K, L, what));
    SS_TRY(check_sumsq(sumsq, K, what));
    const size_t esize = ss_dtype_size(dtype);
    double *norm = malloc((size_t)K * sizeof *norm);
    if (!norm) return ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld norms", what, (long long)K);
    for (int64_t k = 0; k < K; k++) norm[k] = sqrt(sumsq[k]);
    unsigned char *base = w;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; r++) {
        unsigned char *row = base + r * K * (int64_t)esize;
        for (int64_t k0 = 0; k0 < K; k0 += L) {
            const int n = K - k0 < L ? (int)(K - k0) : L; /* real columns; the rest is padding (score 0) */
            /* the two smallest (score, -index): equal scores drop the higher index first, so padding
             * (score 0, highest indices) goes first and ties keep the lower index */
            int i1 = -1, i2 = -1;
            double s1 = INFINITY, s2 = INFINITY;
            for (int i = L - 1; i >= 0; i--) { /* from the right: a strict < keeps the higher index on ties */
                double sc = 0;
                if (i < n) {
                    const double m = magnitude_of(row, dtype, (size_t)(k0 + i));
                    sc = m == 0 ? 0 : m * norm[k0 + i];
                }
                if (sc < s1 || i1 < 0) {
                    i2 = i1, s2 = s1;
                    i1 = i, s1 = sc;
                } else if (sc < s2 || i2 < 0) {
                    i2 = i, s2 = sc;
                }
            }
            if (i1 < n) zero_at(row, esize, k0 + i1);
            if (i2 < n) zero_at(row, esize, k0 + i2);
            for (int i = 0; i < n; i++) /* -0 -> +0, as magnitude pruning writes every zero */
                if (magnitude_of(row, dtype, (size_t)(k0 + i)) == 0) zero_at(row, esize, k0 + i);
        }
    }
    free(norm);
    return SS_OK;
}
