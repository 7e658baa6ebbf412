/* CPU twins of the GPU kernels that linear_ref.c does not already cover.
 * (Quant and quant+slide: ss_quant_act_ref / ss_quant_slide_act_ref.) */
#ifndef SS_GEMM_GEMM_REF_H
#define SS_GEMM_GEMM_REF_H

#include <stdint.h>

#include "core/dtype.h"

/* Dequant + bias, the twin of ss_gemm_dequant:
 *   y[m*ld_y + n] = round_bf16(((float)in[m*ld_in + n] * sx[m]) * sw[n] + bias[n])
 * in that order, each step rounded to FP32 (no fused multiply-add); a NULL
 * sx, sw or bias is skipped. in_dtype: I32, F32, BF16 or F16. y holds the
 * BF16 values as floats. */
void ss_dequant_ref(ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N, const float *sx,
                    const float *sw, const float *bias, float *y, int64_t ld_y);

/* Raw accumulators of a quantized GEMM: acc[m*N + n] = sum_k xq[m,k] * w[n,k]
 * over K columns (both row-major with K contiguous). I8 codes give exact
 * INT32 (written to acc_i32); F8_E4M3 codes give the exact sum in double
 * (acc_f64). Either output may be NULL when unused. */
void ss_gemm_acc_ref(ss_dtype qdtype, const void *xq, const void *w, int64_t M, int64_t N, int64_t K,
                     int32_t *acc_i32, double *acc_f64);

#endif
