/* Sliding a pruned weight row onto 2:4 windows, and the matching activation
 * expansion (the CPU reference of the fused quant+slide GPU kernel). */
#ifndef SS_CONVERT_SLIDE_H
#define SS_CONVERT_SLIDE_H

#include <stddef.h>
#include <stdint.h>

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/status.h"

/* Slides one row of K weights (element size esize: 1, 2, 4 or 8, arrays
 * aligned to it; zero = all-zero bytes) into K_slid columns. Fails (SS_ERR_FORMAT) if some group holds more than L-2
 * nonzeros, i.e. the row was not pruned to 2:L; the greedy assignment never
 * fails otherwise (proof in slide.c). */
ss_status ss_slide_row(const ss_slide_geom *g, const void *row, size_t esize, void *out);
/* Whole [N, K] matrix -> [N, K_slid] (OpenMP over rows). `what` names the tensor in errors. */
ss_status ss_slide_matrix(const ss_slide_geom *g, const void *w, int64_t N, size_t esize, void *out,
                          const char *what);
/* Activation expansion, any element size: out[p] = in[ss_slide_src(p)] or 0. */
void ss_slide_activation(const ss_slide_geom *g, const void *in, size_t esize, void *out);
/* 1 if every aligned group of 4 in the row has at most 2 nonzeros. */
int ss_row_is_2_4(const void *row, int64_t n, size_t esize);

#endif
