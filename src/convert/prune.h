/* Magnitude pruning to 2:L along K: in each group of L consecutive weights
 * (K padded with zeros to a multiple of L) keep the L-2 largest |w| and zero
 * the rest; among equal magnitudes the lower index is kept. */
#ifndef SS_CONVERT_PRUNE_H
#define SS_CONVERT_PRUNE_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"

typedef enum ss_prune_method { SS_PRUNE_MAGNITUDE = 0, SS_PRUNE_WANDA, SS_PRUNE_SPARSEGPT } ss_prune_method;
const char *ss_prune_method_name(ss_prune_method m); /* "magnitude", "wanda", "sparsegpt" */
ss_status ss_prune_method_parse(const char *s, ss_prune_method *m);

/* In place on a [N, K] matrix of dtype (BF16, F16, F32, I8 or F8_E4M3). */
ss_status ss_prune_matrix(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const char *what);
/* Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for
 * LLMs"), with its per-output comparison group narrowed to a group of L
 * along K: in each group keep the L-2 largest scores
 *     S_ij = |W_ij| * ||X_j||_2,   ||X_j||_2 = sqrt(sumsq[j])
 * (sumsq: [K], the sum over calibration tokens of the squared input j), ties
 * to the lower index, as magnitude pruning. For I8 / F8 codes |W_ij| is the
 * code's magnitude: the per-row weight scale does not change a row's order.
 * sumsq must be finite and >= 0 (checked). */
ss_status ss_prune_matrix_wanda(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const double *sumsq,
                                const char *what);
/* The scores S_ij of a [N, K] matrix as doubles, [N, K] (tests, tools). A
 * NaN weight scores +inf (it is kept, as magnitude pruning keeps it). */
ss_status ss_wanda_scores(const void *w, ss_dtype dtype, int64_t N, int64_t K, const double *sumsq, double *scores);

/* SparseGPT, semi-structured 2:L (sparsegpt.c): prunes and updates the
 * kept weights of a BF16/F16/F32 [N, K] matrix in place, from gram = X^T X
 * ([K, K], double: the sum over calibration tokens of x x^T for the
 * layer's input), in blocks of `block` columns (rounded up to a multiple of
 * L; <= 0: 128). Quantized codes are refused (the update leaves the grid). */
ss_status ss_prune_matrix_sparsegpt(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const double *gram,
                                    int block, const char *what);

/* 1 if every group of L (with zero padding) of every row has >= 2 zeros. */
int ss_is_pruned(const void *w, ss_dtype dtype, int64_t N, int64_t K, int L);

#endif
