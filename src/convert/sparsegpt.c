/* SparseGPT (Frantar & Alistarh 2023, "SparseGPT: Massive Language Models
 * Can Be Accurately Pruned in One-Shot"), semi-structured 2:L: the paper's
 * OBS update with the mask of each group of L chosen lazily, when the sweep
 * over the columns reaches the group (the reference code's n:m branch with
 * prunen = 2, prunem = L).
 *
 *   H = X^T X + lambda I,  lambda = 0.01 * mean(diag)   (dead inputs first: H_jj = 1, W_:j = 0)
 *   U = upper Cholesky factor of H^-1                           (H^-1 = U^T U)
 *   for each block of B columns (B a multiple of L), for each column i:
 *     at the first column of a group: per row, zero the 2 columns j of the
 *       group with the smallest W_rj^2 / U_jj^2 (ties: the higher index)
 *     q = W_:i with the chosen entries zeroed; err = (W_:i - q) / U_ii
 *     W_:,i.. -= err U_i,i..   (inside the block; W_:i becomes q)
 *   and after each block the columns beyond it take the block's errors.
 * Everything is double; the result is rounded to the weight's dtype (its
 * zeros stay exact zeros). K is padded with zero columns to a multiple of L
 * (their H rows are the identity), so padding counts as zeros, as in
 * magnitude pruning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert/prune.h"
#include "convert/sparsity.h"

#define PERC_DAMP 0.01

/* In place: lower Cholesky factor of the n x n SPD matrix a (row-major), a = L L^T. 0 if not SPD. */
static int cholesky_lower(double *a, int64_t n) {
    for (int64_t j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (int64_t k = 0; k < j; k++) d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0)) return 0;
        d = sqrt(d);
        a[j * n + j] = d;
#pragma omp parallel for schedule(static)
        for (int64_t i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (int64_t k = 0; k < j; k++) s -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = s / d;
        }
        for (int64_t i = 0; i < j; i++) a[i * n + j] = 0; /* upper part cleared */
    }
    return 1;
}

/* inv = l^-1 for a lower-triangular l (both n x n, row-major): forward
 * substitution per column, the columns independent of each other. */
static void invert_lower(const double *l, double *inv, int64_t n) {
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t j = 0; j < n; j++) {
        for (int64_t i = 0; i < j; i++) inv[i * n + j] = 0;
        inv[j * n + j] = 1.0 / l[j * n + j];
        for (int64_t i = j + 1; i < n; i++) {
            double s = 0;
            for (int64_t k = j; k < i; k++) s += l[i * n + k] * inv[k * n + j];
            inv[i * n + j] = -s / l[i * n + i];
        }
    }
}

/* U (upper, into u) with U^T U = H^-1, from H (h, destroyed). 0 if H is not SPD. */
static int hinv_upper(double *h, double *u, int64_t n) {
    if (!cholesky_lower(h, n)) return 0; /* H = C C^T */
    invert_lower(h, u, n);               /* u = C^-1; H^-1 = C^-T C^-1 */
#pragma omp parallel for schedule(dynamic, 4)
    for (int64_t i = 0; i < n; i++) /* h = H^-1: sum over k >= max(i, j) of Cinv[k][i] Cinv[k][j] */
        for (int64_t j = 0; j <= i; j++) {
            double s = 0;
            for (int64_t k = i; k < n; k++) s += u[k * n + i] * u[k * n + j];
            h[i * n + j] = h[j * n + i] = s;
        }
    if (!cholesky_lower(h, n)) return 0; /* H^-1 = G G^T; the upper factor is G^T */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) u[i * n + j] = j >= i ? h[j * n + i] : 0;
    return 1;
}

ss_status ss_prune_matrix_sparsegpt(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const double *gram,
                                    int block, const char *what) {
    what = what ? what : "weight";
    if (dtype != SS_DT_BF16 && dtype != SS_DT_F16 && dtype != SS_DT_F32)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: SparseGPT updates the weights it keeps, so it runs on BF16, F16 or F32 "
                       "weights (prune before quantizing), not %s", what, ss_dtype_name(dtype));
    if (L < 4 || L > SS_L_MAX || L % 2)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune to 2:%d (L must be even, 4..%d)", what, L, SS_L_MAX);
    if (N <= 0 || K <= 0)
        return ss_fail(SS_ERR_ARG, "%s: cannot prune a [%lld, %lld] matrix", what, (long long)N, (long long)K);
    if (!gram) return ss_fail(SS_ERR_ARG, "%s: SparseGPT needs the inputs' X^T X", what);
    if (block <= 0) block = 128;
    block = (block + L - 1) / L * L;
    const int64_t Kp = (K + L - 1) / L * L;
    double *h = calloc((size_t)(Kp * Kp), sizeof *h), *u = calloc((size_t)(Kp * Kp), sizeof *u);
    double *W = malloc((size_t)(N * Kp) * sizeof *W), *err = malloc((size_t)(N * block) * sizeof *err);
    unsigned char *mask = calloc((size_t)(N * Kp), 1);
    ss_status st = SS_OK;
    if (!h || !u || !W || !err || !mask) {
        st = ss_fail(SS_ERR_NOMEM, "%s: no memory for SparseGPT on K=%lld (%.1f MiB)", what, (long long)K,
                     2.0 * (double)(Kp * Kp) * 8 / (1 << 20));
        goto done;
    }
    double mean_diag = 0;
    for (int64_t i = 0; i < K; i++) {
        const double g = gram[i * K + i];
        if (!isfinite(g) || g < 0) {
            st = ss_fail(SS_ERR_FORMAT, "%s: X^T X diagonal %lld is %g (NaN or inf activations in the calibration run?)",
                         what, (long long)i, g);
            goto done;
        }
        mean_diag += g == 0 ? 1 : g; /* a dead input's diagonal becomes 1 first, as in the paper's code */
    }
    mean_diag /= (double)K;
    for (int64_t i = 0; i < K; i++)
        for (int64_t j = 0; j < K; j++) {
            const double g = gram[i * K + j];
            if (!isfinite(g)) {
                st = ss_fail(SS_ERR_FORMAT, "%s: X^T X element [%lld, %lld] is not finite", what, (long long)i,
                             (long long)j);
                goto done;
            }
            h[i * Kp + j] = g;
        }
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < Kp; k++) W[r * Kp + k] = k < K ? (double)ss_load_f32(w, dtype, (size_t)(r * K + k)) : 0;
    for (int64_t i = 0; i < Kp; i++) {
        if (i >= K || h[i * Kp + i] == 0) { /* dead input or padding: no information, weight removed */
            h[i * Kp + i] = 1;
            for (int64_t r = 0; r < N; r++) W[r * Kp + i] = 0;
        }
        h[i * Kp + i] += PERC_DAMP * mean_diag;
    }
    for (int64_t i = 0; i < Kp * N; i++)
        if (!isfinite(W[i])) {
            st = ss_fail(SS_ERR_FORMAT, "%s: weight %lld is not finite", what, (long long)i);
            goto done;
        }
    if (!hinv_upper(h, u, Kp)) {
        st = ss_fail(SS_ERR_FORMAT, "%s: X^T X + damping is not positive definite; cannot run SparseGPT", what);
        goto done;
    }
    for (int64_t i1 = 0; i1 < Kp; i1 += block) {
        const int64_t i2 = i1 + block < Kp ? i1 + block : Kp, cnt = i2 - i1;
#pragma omp parallel for schedule(static)
        for (int64_t r = 0; r < N; r++) {
            double *wr = W + r * Kp, *er = err + r * block;
            unsigned char *mr = mask + r * Kp;
            for (int64_t i = i1; i < i2; i++) {
                if ((i - i1) % L == 0) { /* the 2 smallest w^2 / U_jj^2 of the group, ties to the higher index */
                    int64_t j1 = -1, j2 = -1;
                    double s1 = INFINITY, s2 = INFINITY;
                    for (int64_t j = i + L - 1; j >= i; j--) {
                        const double s = wr[j] * wr[j] / (u[j * Kp + j] * u[j * Kp + j]);
                        if (s < s1 || j1 < 0) {
                            j2 = j1, s2 = s1;
                            j1 = j, s1 = s;
                        } else if (s < s2 || j2 < 0) {
                            j2 = j, s2 = s;
                        }
                    }
                    mr[j1] = mr[j2] = 1;
                }
                const double q = mr[i] ? 0 : wr[i], e = (wr[i] - q) / u[i * Kp + i];
                for (int64_t j = i + 1; j < i2; j++) wr[j] -= e * u[i * Kp + j];
                wr[i] = q;
                er[i - i1] = e;
            }
            for (int64_t j = i2; j < Kp; j++) { /* the rest of the row takes the block's errors */
                double s = 0;
                for (int64_t i = 0; i < cnt; i++) s += er[i] * u[(i1 + i) * Kp + j];
                wr[j] -= s;
            }
        }
    }
    for (int64_t r = 0; r < N; r++)
        for (int64_t k = 0; k < K; k++) {
            const float v = mask[r * Kp + k] ? 0.0f : (float)W[r * Kp + k];
            if (dtype == SS_DT_F32) { /* every zero as +0 (all-zero bytes), as the other methods write them */
                ((float *)w)[r * K + k] = v == 0 ? 0.0f : v;
            } else {
                uint16_t b = dtype == SS_DT_BF16 ? ss_f32_to_bf16(v) : ss_f32_to_f16(v);
                ((uint16_t *)w)[r * K + k] = (b & 0x7fffu) ? b : 0;
            }
        }
done:
    free(h), free(u), free(W), free(err), free(mask);
    return st;
}
