/* Benchmark data shared by the kernel benchmark and the tuning search
 * (internal to src/bench): realistic operands, see bench_kernel.h. */
#ifndef SS_BENCH_KBENCH_DATA_H
#define SS_BENCH_KBENCH_DATA_H

#include <stdint.h>

#include "gemm/fp4.h"
#include "gemm/gemm.h"

/* Ternary codes (8-bit types) or Gaussian values (16-bit types), n elements. */
void ss_kbench_fill_weight(ss_dtype t, void *w, int64_t n, uint64_t seed);
/* Gaussian BF16 activations. */
void ss_kbench_fill_x(uint16_t *x, int64_t n, uint64_t seed);
/* A [N, K] weight of dt with a uniform scale, pruned to 2:L and slid (L != 0);
 * the caller frees *owned_w and *owned_scale. */
ss_status ss_kbench_make_weight(ss_gemm_dtype dt, int L, int64_t N, int64_t K, uint64_t seed, ss_linear_weight *lw,
                                void **owned_w, float **owned_scale);
/* NVFP4 operands (host): the weight [N, K] of ternary values, the
 * activation [M_rows, K] Gaussian; the caller frees both (ss_fp4_free). */
ss_status ss_kbench_make_fp4(int64_t N, int64_t K, int64_t M_rows, uint64_t seed, ss_fp4_matrix *w, ss_fp4_matrix *x);

#endif
