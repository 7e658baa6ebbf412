/* Magnitude pruning to 2:L along K: in each group of L consecutive weights
 * (K padded with zeros to a multiple of L) keep the L-2 largest |w| and zero
 * the rest; among equal magnitudes the lower index is kept. */
#ifndef SS_CONVERT_PRUNE_H
#define SS_CONVERT_PRUNE_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"

/* In place on a [N, K] matrix of dtype (BF16, F16, F32, I8 or F8_E4M3). */
ss_status ss_prune_matrix(void *w, ss_dtype dtype, int64_t N, int64_t K, int L, const char *what);
/* 1 if every group of L (with zero padding) of every row has >= 2 zeros. */
int ss_is_pruned(const void *w, ss_dtype dtype, int64_t N, int64_t K, int L);

#endif
