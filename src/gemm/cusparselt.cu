/* 2:4 sparse GEMMs through cuSPARSELt, TN layout with the weight as the
 * structured operand (Hopper's 8-bit sparse tensor cores need both operands
 * K-contiguous): A = weight, structured, column-major [K_act, N_pad] (=
 * row-major [N_pad, K_act]), opA = T; B = activation, column-major [K_act,
 * M_pad], opB = N; C = D column-major [N_pad, M_pad] = row-major [M_pad, N_pad].
 *
 * The weight is compressed once (cusparseLtSpMMACompress2: it depends on the
 * structured descriptor only, not on M or the algorithm). Each plan (one per
 * M_pad, N_pad, K_act, dtype, output kind) runs cusparseLtMatmulSearch once
 * on its first call, which fixes the algorithm id and split-k.
 *
 * Note on INT8 with INT32 output: alpha is a float, so accumulators beyond
 * 2^24 in magnitude could lose bits if the library scaled them; with
 * alpha = 1 our tests see them exact. */
#include <stdio.h>

#include "gemm/gemm_internal.h"

static ss_status slt_status(cusparseStatus_t st, const char *call, const char *what) {
    if (st == CUSPARSE_STATUS_SUCCESS) return SS_OK;
    return ss_fail(st == CUSPARSE_STATUS_NOT_SUPPORTED ? SS_ERR_UNSUPPORTED : SS_ERR_LIB, "%s: %s failed: %s (%s)", what,
                   call, cusparseLtGetErrorName(st), cusparseLtGetErrorString(st));
}
#define SLT_TRY(call, what) SS_TRY(slt_status((call), #call, (what)))

typedef struct slt_types {
    cusparseComputeType compute;
    cudaDataType_t ab, d;
} slt_types;

static ss_status slt_types_of(ss_gemm_dtype dt, int kind, slt_types *t, const char *what) {
    const char *why = NULL;
    switch (dt) {
    case SS_GEMM_INT8: *t = {CUSPARSE_COMPUTE_32I, CUDA_R_8I, kind == SS_GK_ACC ? CUDA_R_32I : CUDA_R_16BF}; break;
    case SS_GEMM_FP8E4M3: *t = {CUSPARSE_COMPUTE_32F, CUDA_R_8F_E4M3, kind == SS_GK_ACC ? CUDA_R_32F : CUDA_R_16BF}; break;
    case SS_GEMM_BF16: *t = {CUSPARSE_COMPUTE_32F, CUDA_R_16BF, CUDA_R_16BF}; break;
    case SS_GEMM_FP16: *t = {CUSPARSE_COMPUTE_32F, CUDA_R_16F, CUDA_R_16F}; break;
    default: why = "no such dtype"; break;
    }
    if (!why && kind != SS_GK_ACC && kind != SS_GK_CHANNEL && kind != SS_GK_CHANNEL_SCALAR && kind != SS_GK_BF16)
        why = "only accumulator, channel-scaled or unscaled BF16 output";
    if (!why && kind != SS_GK_ACC && (dt == SS_GEMM_BF16 || dt == SS_GEMM_FP16))
        why = "channel scaling of an unquantized weight (its accumulator output is already BF16/FP16)";
    if (!why && kind == SS_GK_CHANNEL && dt == SS_GEMM_FP8E4M3)
        why = "no alpha-vector scaling for FP8 in cuSPARSELt 0.8.0 (a uniform weight scale works)";
    if (why) return ss_fail(SS_ERR_UNSUPPORTED, "%s: cusparselt: %s", what, why);
    return SS_OK;
}

static ss_status slt_handle(ss_gemm_ctx *ctx, const char *what) {
    if (!ctx->slt_ok)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: cuSPARSELt did not initialise on %s (cc %d.%d)", what, ctx->gpu.name,
                       ctx->gpu.cc_major, ctx->gpu.cc_minor);
    return SS_OK;
}

/* The weight as the structured operand: rows K_act, cols N_pad, ld K_act, column-major. */
static ss_status weight_descr(ss_gemm_ctx *ctx, cudaDataType_t ab, int64_t N_pad, int64_t K_act,
                              cusparseLtMatDescriptor_t *d, const char *what) {
    SLT_TRY(cusparseLtStructuredDescriptorInit(&ctx->slt, d, K_act, N_pad, K_act, 16, ab, CUSPARSE_ORDER_COL,
                                               CUSPARSELT_SPARSITY_50_PERCENT),
            what);
    return SS_OK;
}

ss_status ss_slt_compress(ss_gemm_ctx *ctx, ss_gemm_dtype dt, int64_t N_pad, int64_t K_act, const void *d_dense,
                          void **d_comp, size_t *comp_bytes, const char *what) {
    *d_comp = NULL;
    SS_TRY(slt_handle(ctx, what));
    slt_types t = {};
    SS_TRY(slt_types_of(dt, SS_GK_ACC, &t, what));
    cusparseLtMatDescriptor_t A;
    SS_TRY(weight_descr(ctx, t.ab, N_pad, K_act, &A, what));
    size_t size = 0, buf_size = 0;
    void *buf = NULL;
    ss_status st = slt_status(cusparseLtSpMMACompressedSize2(&ctx->slt, &A, &size, &buf_size),
                              "cusparseLtSpMMACompressedSize2", what);
    if (!st) st = ss_cuda_status(cudaMalloc(d_comp, size), "cudaMalloc(compressed weight)", what);
    if (!st && buf_size) st = ss_cuda_status(cudaMalloc(&buf, buf_size), "cudaMalloc(compression buffer)", what);
    if (!st)
        st = slt_status(cusparseLtSpMMACompress2(&ctx->slt, &A, 1, CUSPARSE_OPERATION_TRANSPOSE, d_dense, *d_comp, buf,
                                                 ctx->stream),
                        "cusparseLtSpMMACompress2", what);
    if (!st) st = ss_cuda_status(cudaStreamSynchronize(ctx->stream), "cusparseLtSpMMACompress2 (sync)", what);
    cudaFree(buf);
    cusparseLtMatDescriptorDestroy(&A);
    if (st) {
        cudaFree(*d_comp);
        *d_comp = NULL;
        return st;
    }
    *comp_bytes = size;
    return SS_OK;
}

void ss_slt_plan_destroy(ss_gemm_plan *p) {
    if (p->has_plan) cusparseLtMatmulPlanDestroy(&p->plan);
    if (p->has_sel) cusparseLtMatmulAlgSelectionDestroy(&p->sel);
    if (p->n_sdesc > 2) cusparseLtMatDescriptorDestroy(&p->sD);
    if (p->n_sdesc > 1) cusparseLtMatDescriptorDestroy(&p->sB);
    if (p->n_sdesc > 0) cusparseLtMatDescriptorDestroy(&p->sA);
    p->has_plan = p->has_sel = p->n_sdesc = 0;
}

static ss_status slt_plan_init(ss_gemm_ctx *ctx, ss_gemm_plan *p, const slt_types *t, const char *what) {
    SS_TRY(weight_descr(ctx, t->ab, p->N_pad, p->K_act, &p->sA, what));
    p->n_sdesc = 1;
    SLT_TRY(cusparseLtDenseDescriptorInit(&ctx->slt, &p->sB, p->K_act, p->M_pad, p->K_act, 16, t->ab, CUSPARSE_ORDER_COL),
            what);
    p->n_sdesc = 2;
    SLT_TRY(cusparseLtDenseDescriptorInit(&ctx->slt, &p->sD, p->N_pad, p->M_pad, p->N_pad, 16, t->d, CUSPARSE_ORDER_COL),
            what);
    p->n_sdesc = 3;
    SLT_TRY(cusparseLtMatmulDescriptorInit(&ctx->slt, &p->mm, CUSPARSE_OPERATION_TRANSPOSE,
                                           CUSPARSE_OPERATION_NON_TRANSPOSE, &p->sA, &p->sB, &p->sD, &p->sD, t->compute),
            what);
    if (p->kind == SS_GK_CHANNEL) { /* alpha = device vector over the rows of D = channels */
        const int on = 1;
        SLT_TRY(cusparseLtMatmulDescSetAttribute(&ctx->slt, &p->mm, CUSPARSELT_MATMUL_ALPHA_VECTOR_SCALING, &on, sizeof on),
                what);
    }
    SLT_TRY(cusparseLtMatmulAlgSelectionInit(&ctx->slt, &p->sel, &p->mm, CUSPARSELT_MATMUL_ALG_DEFAULT), what);
    p->has_sel = 1;
    /* a tuning table's choice replaces the search */
    ss_gemm_alg a;
    if (ss_gemm_lookup(ctx, p, &a)) {
        int max_id = 0, ok = cusparseLtMatmulAlgGetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_ALG_CONFIG_MAX_ID,
                                                             &max_id, sizeof max_id) == CUSPARSE_STATUS_SUCCESS;
        ok = ok && a.alg_id >= 0 && a.alg_id < max_id &&
             cusparseLtMatmulAlgSetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_ALG_CONFIG_ID, &a.alg_id,
                                             sizeof a.alg_id) == CUSPARSE_STATUS_SUCCESS &&
             cusparseLtMatmulAlgSetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_SPLIT_K, &a.split_k,
                                             sizeof a.split_k) == CUSPARSE_STATUS_SUCCESS;
        if (ok && a.split_k_mode)
            ok = cusparseLtMatmulAlgSetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_SPLIT_K_MODE, &a.split_k_mode,
                                                 sizeof a.split_k_mode) == CUSPARSE_STATUS_SUCCESS;
        if (ok && cusparseLtMatmulPlanInit(&ctx->slt, &p->plan, &p->mm, &p->sel) == CUSPARSE_STATUS_SUCCESS) {
            p->has_plan = 1;
            p->from_table = 1;
        } else {
            ss_gemm_warn_table(ctx, what);
            /* back to the library's default configuration */
            cusparseLtMatmulAlgSelectionDestroy(&p->sel);
            p->has_sel = 0;
            SLT_TRY(cusparseLtMatmulAlgSelectionInit(&ctx->slt, &p->sel, &p->mm, CUSPARSELT_MATMUL_ALG_DEFAULT), what);
            p->has_sel = 1;
        }
    }
    if (!p->has_plan) SLT_TRY(cusparseLtMatmulPlanInit(&ctx->slt, &p->plan, &p->mm, &p->sel), what);
    p->has_plan = 1;
    SLT_TRY(cusparseLtMatmulGetWorkspace(&ctx->slt, &p->plan, &p->workspace), what);
    return SS_OK;
}

ss_status ss_slt_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, int64_t M_pad, void *out,
                     const char *what) {
    SS_TRY(slt_handle(ctx, what));
    const ss_gemm_weight_info *i = &w->info;
    slt_types t = {};
    SS_TRY(slt_types_of(i->dtype, kind, &t, what));
    if (kind == SS_GK_CHANNEL && !w->d_scale) return ss_fail(SS_ERR_ARG, "%s: channel scaling needs weight scales", what);
    ss_gemm_plan *p = ss_gemm_plan_find(ctx, SS_BACKEND_CUSPARSELT, i->dtype, kind, M_pad, i->N_pad, i->K_act, 1);
    if (!p) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a plan", what);
    if (p->unsupported) return ss_fail(SS_ERR_UNSUPPORTED, "%s: cuSPARSELt has no kernel for this combination", what);
    if (!p->has_plan) {
        ss_status st = slt_plan_init(ctx, p, &t, what);
        if (st) {
            ss_slt_plan_destroy(p);
            if (st == SS_ERR_UNSUPPORTED) p->unsupported = 1;
            return st;
        }
    }
    const float one = 1.0f, zero = 0.0f;
    const void *alpha = kind == SS_GK_CHANNEL          ? (const void *)w->d_scale
                        : kind == SS_GK_CHANNEL_SCALAR ? (const void *)&w->scale0
                                                       : (const void *)&one;
    cudaStream_t stream = ctx->stream;
    if (!p->ready) {
        if (ctx->opt.cusparselt_search && !p->from_table) {
            /* The search tries algorithms and split-k settings that may need
             * more workspace than the default plan asked for. */
            size_t ws = p->workspace > ctx->opt.workspace_limit ? p->workspace : ctx->opt.workspace_limit;
            SS_TRY(ss_gemm_ctx_workspace(ctx, ws));
            SLT_TRY(cusparseLtMatmulSearch(&ctx->slt, &p->plan, alpha, w->d_w, xq, &zero, out, out, ctx->ws, &stream, 1),
                    what);
            SLT_TRY(cusparseLtMatmulGetWorkspace(&ctx->slt, &p->plan, &p->workspace), what);
        }
        SLT_TRY(cusparseLtMatmulAlgGetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_ALG_CONFIG_ID, &p->alg_id,
                                                sizeof p->alg_id),
                what);
        SLT_TRY(cusparseLtMatmulAlgGetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_SPLIT_K, &p->split_k,
                                                sizeof p->split_k),
                what);
        SLT_TRY(cusparseLtMatmulAlgGetAttribute(&ctx->slt, &p->sel, CUSPARSELT_MATMUL_SPLIT_K_MODE, &p->split_k_mode,
                                                sizeof p->split_k_mode),
                what);
        p->ready = 1;
    }
    SS_TRY(ss_gemm_ctx_workspace(ctx, p->workspace));
    cusparseStatus_t s =
        cusparseLtMatmul(&ctx->slt, &p->plan, alpha, w->d_w, xq, &zero, out, out, ctx->ws, &stream, 1);
    if (s == CUSPARSE_STATUS_NOT_SUPPORTED) p->unsupported = 1;
    SS_TRY(slt_status(s, "cusparseLtMatmul", what));
    return SS_OK;
}
