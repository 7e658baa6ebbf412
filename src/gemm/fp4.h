/* FP4 (E2M1) operands as cuBLASLt's block-scaled GEMM takes them (NVFP4),
 * built on the host: the kernel benchmark's FP4 points (task 6) and their
 * CPU reference. Plain C.
 *
 * Format (cuBLAS documentation, CUDA 13 cublasLt.h):
 *   - elements CUDA_R_4F_E2M1: 1 sign, 2 exponent (bias 1), 1 mantissa bit;
 *     magnitudes 0, 0.5, 1, 1.5, 2, 3, 4, 6; no inf/NaN. Two per byte along
 *     K, the even element in the low nibble.
 *   - one scale per 16 consecutive elements along K
 *     (CUBLASLT_MATMUL_MATRIX_SCALE_VEC16_UE4M3): an unsigned E4M3 (the FP8
 *     E4M3 code with the sign bit clear);
 *   - the scales of an operand with R rows (N for the weight, M for the
 *     activation) and K/16 groups are stored in cuBLASLt's tiled layout:
 *     tiles of 128 rows x 4 groups, 512 bytes each, tiles in row-block-major
 *     order; inside a tile, row r and group g sit at
 *     (r % 32) * 16 + (r / 32) * 4 + g. Rows pad to 128 and groups to 4
 *     (K to 64) with scale 0 codes, which multiply zero data;
 *   - a per-tensor FP32 scale on top (two-level scaling), folded into the
 *     GEMM's alpha: value = e2m1 * ue4m3 * global.
 * Quantization (NVFP4 recipe): global = amax / (6 * 448) (1 when amax is 0),
 * block scale = ue4m3(block_amax / 6 / global) rounded to nearest even, then
 * every element e2m1(x / (scale * global)), round to nearest even,
 * saturating at 6. */
#ifndef SS_GEMM_FP4_H
#define SS_GEMM_FP4_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus /* the core headers are C: keep their linkage */
extern "C" {
#endif

#include "core/status.h"

#define SS_FP4_BLOCK 16        /* elements per scale */
#define SS_FP4_TILE_ROWS 128   /* scale tile: 128 rows ... */
#define SS_FP4_TILE_GROUPS 4   /* ... x 4 groups of 16 */

/* E2M1 code (low 4 bits) of x: round to nearest even, saturating at +-6;
 * NaN gives +6 (the format has no NaN; the benchmark never makes one). */
uint8_t ss_e2m1_encode(float x);
float ss_e2m1_decode(uint8_t code); /* low 4 bits */
/* Unsigned E4M3 scale code: RNE, saturating at 448, negative or NaN -> 0. */
uint8_t ss_ue4m3_encode(float x);
float ss_ue4m3_decode(uint8_t code);

/* Byte offset of the scale of (row r, group g) in the tiled layout of an
 * operand of K elements per row (any row count). */
size_t ss_fp4_scale_offset(int64_t K, int64_t r, int64_t g);
/* Bytes of the tiled scale buffer for rows x K (padding included). */
size_t ss_fp4_scale_bytes(int64_t rows, int64_t K);

typedef struct ss_fp4_matrix {
    int64_t rows, K;  /* logical; K must be a multiple of 16 */
    uint8_t *data;    /* [rows, K/2] packed codes, K contiguous */
    uint8_t *scales;  /* ss_fp4_scale_bytes(rows, K), tiled */
    float global;     /* per-tensor scale */
} ss_fp4_matrix;

/* Quantizes x[rows, K] (row-major floats) to NVFP4. SS_ERR_ARG when K is not
 * a multiple of 16 or a dimension is not positive. */
ss_status ss_fp4_quantize(const float *x, int64_t rows, int64_t K, ss_fp4_matrix *out);
void ss_fp4_free(ss_fp4_matrix *m);
/* The value element (r, k) stands for: e2m1 * block scale * global. */
float ss_fp4_value(const ss_fp4_matrix *m, int64_t r, int64_t k);
/* CPU reference of the GEMM cuBLASLt computes: y[M, N] = x . w^T on the
 * represented values, accumulated in double (w: [N, K], x: [M, K]). */
ss_status ss_fp4_gemm_ref(const ss_fp4_matrix *w, const ss_fp4_matrix *x, float *y);

/* ---- on the GPU: cuBLASLt's block-scaled GEMM, compute capability >= 10.0 ---- */

typedef struct ss_gemm_ctx ss_gemm_ctx;
typedef struct ss_gemm_plan_info ss_gemm_plan_info;

typedef struct ss_fp4_dev {
    int64_t rows, K;
    void *data;   /* device copy of ss_fp4_matrix.data */
    void *scales; /* device copy of the tiled scales */
    float global;
} ss_fp4_dev;

/* Copies m to the device (ss_gpu_alloc; fails "built without CUDA" there). */
ss_status ss_fp4_upload(const ss_fp4_matrix *m, ss_fp4_dev *d);
void ss_fp4_dev_free(ss_fp4_dev *d);
/* y[ss_gemm_pad_m(M), w->rows] BF16 (device, row-major) = alpha x . w^T with
 * alpha = w->global * x->global, the block scales applied by cuBLASLt;
 * x needs at least ss_gemm_pad_m(M) rows, K a multiple of 32, N of 16.
 * Asynchronous on the context's stream. Whether the GPU can run it:
 * ss_gemm_supported(gpu, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1). */
ss_status ss_fp4_gemm(ss_gemm_ctx *ctx, const ss_fp4_dev *w, const ss_fp4_dev *x, int64_t M, void *y);
/* The algorithm the plan for M chose (candidate index among the timed ones). */
ss_status ss_fp4_gemm_info(ss_gemm_ctx *ctx, const ss_fp4_dev *w, int64_t M, ss_gemm_plan_info *info);

#ifdef __cplusplus
}
#endif

#endif
