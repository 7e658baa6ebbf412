/* The linear layer every backend implements, and its CPU reference.
 *
 *   Y[M,N] (BF16) = dequant(quant(X[M,K]) . W^T) + bias
 *
 * Unquantized weights (BF16/F16/F32): Y = round_bf16(X . W^T + bias), FP32
 * accumulation. Quantized weights (I8 / F8_E4M3, per-channel scale s_w[N]):
 * each token row of X is quantized dynamically (ss_quant_act_ref), the
 * products are accumulated exactly (INT32 for INT8; FP8 x FP8 products are
 * exact in FP32 and their sums exact in double for any K this project meets),
 * then y = ((float)acc * s_x[m]) * s_w[n] + bias[n], rounded to BF16.
 * Slid weights (stored [N, K_slid]) take the slid activation instead:
 * quantize over the original K, then expand (ss_quant_slide_act_ref). The
 * slid product equals the pruned product exactly, so a slid INT8 or FP8
 * layer gives bit-identical outputs to its pruned twin.
 */
#ifndef SS_GEMM_LINEAR_H
#define SS_GEMM_LINEAR_H

#include <stdint.h>

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/status.h"

/* Per-token activation scale: s = max(absmax / qmax, SS_ACT_SCALE_FLOOR),
 * q = round(x / s) (IEEE division, ties to even; INT8 clamped to +-127,
 * FP8 saturated to +-448). GPU kernels use the same formula and division. */
#define SS_ACT_SCALE_FLOOR 1e-10f

typedef struct ss_linear_weight {
    const char *name;
    int64_t N, K;          /* logical shape */
    ss_dtype dtype;        /* BF16 / F16 / F32, or I8 / F8_E4M3 */
    int slid;              /* 1: stored [N, slide.K_slid] */
    ss_slide_geom slide;   /* valid when slid */
    const void *w;         /* row-major [N, K_stored] */
    const float *scale;    /* [N], quantized weights only */
    const float *bias;     /* [N] or NULL */
} ss_linear_weight;

static inline int64_t ss_linear_k_stored(const ss_linear_weight *w) { return w->slid ? w->slide.K_slid : w->K; }

/* x: [M, K] floats -> q: [M, K] of qdtype (I8 or F8_E4M3), scale: [M]. */
void ss_quant_act_ref(const float *x, int64_t M, int64_t K, ss_dtype qdtype, void *q, float *scale);
/* Same quantization, written slid: q is [M, g->K_slid] (zero in padding). */
void ss_quant_slide_act_ref(const float *x, int64_t M, const ss_slide_geom *g, ss_dtype qdtype, void *q,
                            float *scale);
/* y: [M, N] floats holding BF16-representable values. OpenMP over N.
 * Fails only when out of memory. */
ss_status ss_linear_ref(const ss_linear_weight *w, const float *x, int64_t M, float *y);

#endif
