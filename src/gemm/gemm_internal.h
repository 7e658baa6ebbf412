/* Shared internals of the CUDA files of the GEMM layer (C++ / CUDA only):
 * the context, the prepared weight, the plan cache and the kernel launchers. */
#ifndef SS_GEMM_INTERNAL_H
#define SS_GEMM_INTERNAL_H

#include <cublasLt.h>
#include <cuda_runtime.h>
#include <cusparseLt.h>

#include "gemm/cuda_check.h"
#include "gemm/gemm.h"

/* What the library call itself produces (one plan each). */
enum ss_gemm_kind {
    SS_GK_ACC = 0,        /* accumulators, ss_gemm_acc_dtype */
    SS_GK_CHANNEL,        /* BF16 = acc * s_w[n] (alpha vector / outer vector with ones) */
    SS_GK_CHANNEL_SCALAR, /* the same for a uniform (per-tensor) weight scale: scalar alpha */
    SS_GK_TOKEN_CHANNEL,  /* BF16 = acc * s_x[m] * s_w[n] (cuBLASLt FP8 outer vectors) */
    SS_GK_BF16,           /* BF16 = acc, unscaled (bf16 weights on cuBLASLt; FP8 on cuSPARSELt, bf16_acc) */
    SS_GK_COUNT
};

struct ss_gemm_weight {
    ss_gemm_weight_info info;
    char name[96];
    int device;
    void *d_w;       /* cuBLASLt: [N_pad, K_act] dense; cuSPARSELt: compressed */
    float *d_scale;  /* [N_pad], 1 in padding; NULL for bf16/fp16 */
    float *d_bias;   /* [N_pad], 0 in padding; NULL without bias */
    int uniform_scale; /* every channel has the same scale (BitNet's per-tensor scale) */
    float scale0;      /* that scale */
};

struct ss_gemm_plan {
    ss_backend backend;
    ss_gemm_dtype dtype;
    int kind;                 /* ss_gemm_kind */
    int64_t M_pad, N_pad, K_act;
    int unsupported;          /* the library refused this combination: fall back */
    int ready;                /* algorithm chosen, workspace known */
    size_t workspace;
    /* cuBLASLt */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulAlgo_t algo;
    int candidate, candidates;
    /* cuSPARSELt */
    cusparseLtMatDescriptor_t sA, sB, sD;
    cusparseLtMatmulDescriptor_t mm;
    cusparseLtMatmulAlgSelection_t sel;
    cusparseLtMatmulPlan_t plan;
    int n_sdesc, has_sel, has_plan, searched;
    int alg_id, split_k, split_k_mode;
    int from_table;           /* algorithm from the tuning lookup */
};

enum { SS_BUF_XQ, SS_BUF_SX, SS_BUF_ACC, SS_BUF_Y, SS_BUF_ONES, SS_BUF_COUNT };

struct ss_gemm_ctx {
    int device;
    ss_gpu_info gpu;
    cudaStream_t stream;
    int own_stream;
    ss_gemm_options opt;
    cublasLtHandle_t lt;
    cusparseLtHandle_t slt;
    int slt_ok;
    void *ws;
    size_t ws_bytes;
    void *buf[SS_BUF_COUNT];
    size_t buf_bytes[SS_BUF_COUNT];
    size_t ones_filled; /* floats of SS_BUF_ONES set to 1 */
    ss_gemm_plan **plans;
    int n_plans, cap_plans;
    ss_gemm_alg_lookup lookup;
    void *lookup_user;
    int warned_table; /* one warning for a rejected table entry */
};

/* The tuning lookup for a plan, if one is installed and has an entry. */
int ss_gemm_lookup(ss_gemm_ctx *ctx, const ss_gemm_plan *p, ss_gemm_alg *alg);
/* Says once per context that a table entry was rejected. */
void ss_gemm_warn_table(ss_gemm_ctx *ctx, const char *what);

/* "linear 'name' int8 cusparselt M=.. N=.. K=.." for error messages. */
const char *ss_gemm_what(const ss_gemm_weight *w, int64_t M, char *buf, size_t cap);
/* Scratch buffer idx of at least `bytes` (grown, contents lost on growth). */
ss_status ss_gemm_ctx_buffer(ss_gemm_ctx *ctx, int idx, size_t bytes, void **p);
/* Workspace of at least `bytes`. */
ss_status ss_gemm_ctx_workspace(ss_gemm_ctx *ctx, size_t bytes);
/* A ones vector of at least n floats. */
ss_status ss_gemm_ctx_ones(ss_gemm_ctx *ctx, int64_t n, const float **p);
/* The cached plan for the key, or a new zeroed one added to the cache. */
ss_gemm_plan *ss_gemm_plan_find(ss_gemm_ctx *ctx, ss_backend b, ss_gemm_dtype d, int kind, int64_t M_pad,
                                int64_t N_pad, int64_t K_act, int create);

/* cublaslt.cu / cusparselt.cu: out[M_pad, N_pad] = the GEMM of kind `kind`.
 * SS_ERR_UNSUPPORTED (plan marked) when the library has no kernel for it. */
ss_status ss_lt_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, const float *sx, int64_t M_pad,
                    void *out, const char *what);
void ss_lt_plan_destroy(ss_gemm_plan *p);
ss_status ss_slt_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, int64_t M_pad, void *out,
                     const char *what);
void ss_slt_plan_destroy(ss_gemm_plan *p);
/* Compresses the dense [N_pad, K_act] weight d_dense; *d_comp is new device memory. */
ss_status ss_slt_compress(ss_gemm_ctx *ctx, ss_gemm_dtype d, int64_t N_pad, int64_t K_act, const void *d_dense,
                          void **d_comp, size_t *comp_bytes, const char *what);

/* ours_gemm.cu: packs the staged [N_pad, K_act] 8-bit weight into the image
 * of our kernel (ours_layout.h) and uploads it; and runs it: out[t, c] for t
 * < rows_out, c < cols_out (ld_out elements) of xq[M_rows, K_act], raw
 * accumulators (raw = 1: int32 / f32) or bf16 with any of sx, sw, bias
 * (NULL: 1, 1, none) applied in the epilogue, with launch configuration cfg. */
typedef struct ss_ours_cfg ss_ours_cfg;
ss_status ss_ours_upload(const ss_gemm_weight_info *i, ss_dtype dt, const uint8_t *w_staged, void **d_img,
                         size_t *bytes, const char *what);
ss_status ss_ours_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, int64_t M_rows, const float *sx,
                      const float *sw, const float *bias, int raw, void *out, int64_t ld_out, int64_t rows_out,
                      int64_t cols_out, const ss_ours_cfg *cfg, const char *what);

/* quant.cu: x[M, K] BF16 (ld ldx) -> out[M_pad, K_out] of act dtype (slid
 * when g != NULL: K_out == g->K_slid), scale[M_pad] (may be NULL for 16-bit). */
ss_status ss_launch_quant(ss_gemm_dtype d, const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out,
                          int64_t K_out, float *scale, const ss_slide_geom *g, cudaStream_t stream, const char *what);
/* dequant.cu */
ss_status ss_launch_dequant(ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N, const float *sx,
                            const float *sw, const float *bias, void *y, int64_t ld_y, int sm_count,
                            cudaStream_t stream, const char *what);

#endif
