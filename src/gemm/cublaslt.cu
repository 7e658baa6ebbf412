/* Dense GEMMs through cuBLASLt, TN layout (see gemm.h): A = the weight,
 * declared column-major [K_act, N_pad] (= row-major [N_pad, K_act]) with
 * opA = T; B = the activation, column-major [K_act, M_pad] with opB = N;
 * D column-major [N_pad, M_pad] = row-major [M_pad, N_pad].
 *
 * Algorithm: the first run of a plan asks the heuristic for up to
 * opt.cublaslt_candidates algorithms, times each (1 warm-up + 3 runs with
 * events on the real operands) and keeps the fastest. The heuristic's first
 * choice is often not the fastest for INT8 on Hopper; timing them is what
 * brings INT8 to FP8 speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/fp4.h"
#include "gemm/gemm_internal.h"

static ss_status lt_status(cublasStatus_t st, const char *call, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return SS_OK;
    return ss_fail(st == CUBLAS_STATUS_NOT_SUPPORTED ? SS_ERR_UNSUPPORTED : SS_ERR_LIB, "%s: %s failed: %s (%s)", what,
                   call, cublasLtGetStatusName(st), cublasLtGetStatusString(st));
}
#define LT_TRY(call, what) SS_TRY(lt_status((call), #call, (what)))

typedef struct lt_types {
    cublasComputeType_t compute;
    cudaDataType_t scale, ab, d;
} lt_types;

static ss_status lt_types_of(ss_gemm_dtype dt, int kind, lt_types *t, const char *what) {
    const char *why = NULL;
    switch (dt) {
    case SS_GEMM_INT8:
        *t = {CUBLAS_COMPUTE_32I, CUDA_R_32I, CUDA_R_8I, CUDA_R_32I};
        if (kind != SS_GK_ACC) why = "INT8 gives INT32 accumulators only";
        break;
    case SS_GEMM_FP8E4M3:
        *t = {CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_8F_E4M3, kind == SS_GK_ACC ? CUDA_R_32F : CUDA_R_16BF};
        if (kind == SS_GK_BF16) why = "FP8 output without scales";
        break;
    case SS_GEMM_BF16:
        *t = {CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16BF, kind == SS_GK_ACC ? CUDA_R_32F : CUDA_R_16BF};
        if (kind != SS_GK_ACC && kind != SS_GK_BF16) why = "scaled output of an unquantized weight";
        break;
    case SS_GEMM_FP16:
        *t = {CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_16F, CUDA_R_32F};
        if (kind != SS_GK_ACC) why = "FP16 gives FP32 accumulators only here";
        break;
    case SS_GEMM_FP4E2M1: /* NVFP4: block-scaled E2M1 operands, BF16 out (fp4.h) */
        *t = {CUBLAS_COMPUTE_32F, CUDA_R_32F, CUDA_R_4F_E2M1, CUDA_R_16BF};
        if (kind != SS_GK_BF16) why = "FP4 gives BF16 output only here";
        break;
    default: why = "no such dtype"; break;
    }
    if (why) return ss_fail(SS_ERR_UNSUPPORTED, "%s: cublaslt: %s", what, why);
    return SS_OK;
}

void ss_lt_plan_destroy(ss_gemm_plan *p) {
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->ld) cublasLtMatrixLayoutDestroy(p->ld);
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    p->la = p->lb = p->ld = NULL;
    p->desc = NULL;
}

static ss_status lt_plan_init(ss_gemm_plan *p, const lt_types *t, const char *what) {
    LT_TRY(cublasLtMatmulDescCreate(&p->desc, t->compute, t->scale), what);
    const int32_t opT = CUBLAS_OP_T, opN = CUBLAS_OP_N;
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opT, sizeof opT), what);
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opN, sizeof opN), what);
    if (p->dtype == SS_GEMM_FP4E2M1) { /* one UE4M3 scale per 16 elements along K, cuBLASLt's tiled layout */
        const int32_t vec16 = CUBLASLT_MATMUL_MATRIX_SCALE_VEC16_UE4M3;
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &vec16, sizeof vec16), what);
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &vec16, sizeof vec16), what);
    } else if (p->kind == SS_GK_CHANNEL || p->kind == SS_GK_TOKEN_CHANNEL) {
        /* per-row scale of op(A) (= channel), per-column of B (= token) */
        const int32_t vec = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &vec, sizeof vec), what);
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &vec, sizeof vec), what);
    }
    LT_TRY(cublasLtMatrixLayoutCreate(&p->la, t->ab, (uint64_t)p->K_act, (uint64_t)p->N_pad, p->K_act), what);
    LT_TRY(cublasLtMatrixLayoutCreate(&p->lb, t->ab, (uint64_t)p->K_act, (uint64_t)p->M_pad, p->K_act), what);
    LT_TRY(cublasLtMatrixLayoutCreate(&p->ld, t->d, (uint64_t)p->N_pad, (uint64_t)p->M_pad, p->N_pad), what);
    return SS_OK;
}

/* alpha: the uniform weight scale for SS_GK_CHANNEL_SCALAR, else 1. */
static cublasStatus_t lt_matmul(ss_gemm_ctx *ctx, ss_gemm_plan *p, const cublasLtMatmulAlgo_t *algo, size_t ws,
                                const void *a, const void *b, void *d, float alpha) {
    const int32_t one_i = 1, zero_i = 0;
    const float one_f = alpha, zero_f = 0.0f;
    const int int_scale = p->dtype == SS_GEMM_INT8;
    return cublasLtMatmul(ctx->lt, p->desc, int_scale ? (const void *)&one_i : (const void *)&one_f, a, p->la, b, p->lb,
                          int_scale ? (const void *)&zero_i : (const void *)&zero_f, d, p->ld, d, p->ld, algo,
                          ws ? ctx->ws : NULL, ws, ctx->stream);
}

/* The tuning table's algorithm, if there is one and cuBLASLt accepts it here. */
static int lt_from_table(ss_gemm_ctx *ctx, ss_gemm_plan *p, const char *what) {
    ss_gemm_alg a;
    if (!ss_gemm_lookup(ctx, p, &a) || !a.has_lt_algo) return 0;
    static_assert(sizeof(cublasLtMatmulAlgo_t) == sizeof a.lt_algo, "cublasLtMatmulAlgo_t is 64 bytes");
    cublasLtMatmulAlgo_t algo;
    memcpy(&algo, a.lt_algo, sizeof algo);
    cublasLtMatmulHeuristicResult_t r;
    memset(&r, 0, sizeof r);
    if (cublasLtMatmulAlgoCheck(ctx->lt, p->desc, p->la, p->lb, p->ld, p->ld, &algo, &r) != CUBLAS_STATUS_SUCCESS ||
        r.workspaceSize > ctx->opt.workspace_limit) {
        ss_gemm_warn_table(ctx, what);
        return 0;
    }
    p->algo = algo;
    p->workspace = r.workspaceSize;
    p->candidate = -1;
    p->candidates = 0;
    p->from_table = 1;
    p->ready = 1;
    return 1;
}

/* Picks the plan's algorithm: the heuristic's candidates, timed. */
static ss_status lt_choose(ss_gemm_ctx *ctx, ss_gemm_plan *p, const void *a, const void *b, void *d, float alpha,
                           const char *what) {
    cublasLtMatmulPreference_t pref = NULL;
    LT_TRY(cublasLtMatmulPreferenceCreate(&pref), what);
    size_t limit = ctx->opt.workspace_limit;
    cublasStatus_t ls =
        cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &limit, sizeof limit);
    int want = ctx->opt.cublaslt_candidates > 1 ? ctx->opt.cublaslt_candidates : 1, found = 0;
    cublasLtMatmulHeuristicResult_t *res =
        (cublasLtMatmulHeuristicResult_t *)calloc((size_t)want, sizeof(cublasLtMatmulHeuristicResult_t));
    if (!res) {
        cublasLtMatmulPreferenceDestroy(pref);
        return ss_fail(SS_ERR_NOMEM, "%s: no memory for heuristic results", what);
    }
    if (ls == CUBLAS_STATUS_SUCCESS)
        ls = cublasLtMatmulAlgoGetHeuristic(ctx->lt, p->desc, p->la, p->lb, p->ld, p->ld, pref, want, res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (ls == CUBLAS_STATUS_NOT_SUPPORTED || (ls == CUBLAS_STATUS_SUCCESS && found == 0)) {
        free(res);
        p->unsupported = 1;
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: cuBLASLt has no kernel for this dtype/output/layout (TN)", what);
    }
    if (ls != CUBLAS_STATUS_SUCCESS) {
        free(res);
        return lt_status(ls, "cublasLtMatmulAlgoGetHeuristic", what);
    }
    size_t ws_max = 0;
    for (int i = 0; i < found; i++)
        if (res[i].workspaceSize > ws_max) ws_max = res[i].workspaceSize;
    ss_status st = ss_gemm_ctx_workspace(ctx, ws_max);
    int best = 0;
    if (st == SS_OK && found > 1) {
        cudaEvent_t e0, e1;
        float best_ms = 1e30f;
        best = -1;
        cudaEventCreate(&e0);
        cudaEventCreate(&e1);
        for (int i = 0; i < found; i++) {
            if (lt_matmul(ctx, p, &res[i].algo, res[i].workspaceSize, a, b, d, alpha) != CUBLAS_STATUS_SUCCESS) continue;
            cudaEventRecord(e0, ctx->stream);
            cublasStatus_t rs = CUBLAS_STATUS_SUCCESS;
            for (int r = 0; r < 3 && rs == CUBLAS_STATUS_SUCCESS; r++)
                rs = lt_matmul(ctx, p, &res[i].algo, res[i].workspaceSize, a, b, d, alpha);
            cudaEventRecord(e1, ctx->stream);
            float ms = 0;
            if (rs != CUBLAS_STATUS_SUCCESS || cudaEventSynchronize(e1) != cudaSuccess ||
                cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess)
                continue;
            if (ms < best_ms) best_ms = ms, best = i;
        }
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        cudaError_t ce = cudaGetLastError();
        if (ce != cudaSuccess) st = ss_cuda_status(ce, "timing cuBLASLt candidates", what);
        else if (best < 0) st = ss_fail(SS_ERR_LIB, "%s: none of %d cuBLASLt candidates ran", what, found);
    }
    if (st == SS_OK) {
        p->algo = res[best].algo;
        p->workspace = res[best].workspaceSize;
        p->candidate = best;
        p->candidates = found;
        p->ready = 1;
    }
    free(res);
    return st;
}

ss_status ss_lt_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, const float *sx, int64_t M_pad,
                    void *out, const char *what) {
    const ss_gemm_weight_info *i = &w->info;
    lt_types t = {};
    SS_TRY(lt_types_of(i->dtype, kind, &t, what));
    ss_gemm_plan *p = ss_gemm_plan_find(ctx, SS_BACKEND_CUBLASLT, i->dtype, kind, M_pad, i->N_pad, i->K_act, 1);
    if (!p) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a plan", what);
    if (p->unsupported) return ss_fail(SS_ERR_UNSUPPORTED, "%s: cuBLASLt has no kernel for this combination", what);
    if (!p->desc) {
        ss_status st = lt_plan_init(p, &t, what);
        if (st) {
            ss_lt_plan_destroy(p);
            if (st == SS_ERR_UNSUPPORTED) p->unsupported = 1;
            return st;
        }
    }
    if (kind == SS_GK_CHANNEL || kind == SS_GK_TOKEN_CHANNEL) {
        const float *bscale = sx;
        if (kind == SS_GK_CHANNEL) SS_TRY(ss_gemm_ctx_ones(ctx, M_pad, &bscale));
        if (!bscale) return ss_fail(SS_ERR_ARG, "%s: fused dequant needs the per-token scales", what);
        const void *as = w->d_scale, *bs = bscale;
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &as, sizeof as), what);
        LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bs, sizeof bs), what);
    }
    const float alpha = kind == SS_GK_CHANNEL_SCALAR ? w->scale0 : 1.0f;
    if (!p->ready && !lt_from_table(ctx, p, what)) SS_TRY(lt_choose(ctx, p, w->d_w, xq, out, alpha, what));
    SS_TRY(ss_gemm_ctx_workspace(ctx, p->workspace));
    cublasStatus_t ls = lt_matmul(ctx, p, &p->algo, p->workspace, w->d_w, xq, out, alpha);
    if (ls == CUBLAS_STATUS_NOT_SUPPORTED) p->unsupported = 1;
    SS_TRY(lt_status(ls, "cublasLtMatmul", what));
    return SS_OK;
}

/* NVFP4 GEMM (fp4.h): y[M_pad, N] BF16 = (w.global * x.global) * x . w^T,
 * the block scales applied by cuBLASLt. The plan (cuBLASLt, fp4e2m1, "bf16")
 * times the heuristic's candidates on first use or takes the tuning table's
 * algorithm, as the other dtypes do. */
ss_status ss_fp4_gemm(ss_gemm_ctx *ctx, const ss_fp4_dev *w, const ss_fp4_dev *x, int64_t M, void *y) {
    char what[160];
    snprintf(what, sizeof what, "fp4e2m1 cublaslt GEMM M=%lld N=%lld K=%lld", (long long)M, (long long)w->rows,
             (long long)w->K);
    const int64_t M_pad = ss_gemm_pad_m(M);
    if (w->K != x->K || w->K % 32 || w->rows % 16 || x->rows < M_pad)
        return ss_fail(SS_ERR_ARG,
                       "%s: operands [%lld, %lld] (weight) and [%lld, %lld] (activation) need the same K, a multiple "
                       "of 32, N a multiple of 16 and at least M_pad = %lld activation rows",
                       what, (long long)w->rows, (long long)w->K, (long long)x->rows, (long long)x->K, (long long)M_pad);
    lt_types t = {};
    SS_TRY(lt_types_of(SS_GEMM_FP4E2M1, SS_GK_BF16, &t, what));
    ss_gemm_plan *p = ss_gemm_plan_find(ctx, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1, SS_GK_BF16, M_pad, w->rows, w->K, 1);
    if (!p) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a plan", what);
    if (p->unsupported) return ss_fail(SS_ERR_UNSUPPORTED, "%s: cuBLASLt has no kernel for this combination", what);
    if (!p->desc) {
        ss_status st = lt_plan_init(p, &t, what);
        if (st) {
            ss_lt_plan_destroy(p);
            if (st == SS_ERR_UNSUPPORTED) p->unsupported = 1;
            return st;
        }
    }
    const void *as = w->scales, *bs = x->scales;
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &as, sizeof as), what);
    LT_TRY(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &bs, sizeof bs), what);
    const float alpha = w->global * x->global;
    if (!p->ready && !lt_from_table(ctx, p, what)) SS_TRY(lt_choose(ctx, p, w->data, x->data, y, alpha, what));
    SS_TRY(ss_gemm_ctx_workspace(ctx, p->workspace));
    cublasStatus_t ls = lt_matmul(ctx, p, &p->algo, p->workspace, w->data, x->data, y, alpha);
    if (ls == CUBLAS_STATUS_NOT_SUPPORTED) p->unsupported = 1;
    SS_TRY(lt_status(ls, "cublasLtMatmul", what));
    return SS_OK;
}

ss_status ss_fp4_gemm_info(ss_gemm_ctx *ctx, const ss_fp4_dev *w, int64_t M, ss_gemm_plan_info *info) {
    memset(info, 0, sizeof *info);
    ss_gemm_plan *p =
        ss_gemm_plan_find(ctx, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1, SS_GK_BF16, ss_gemm_pad_m(M), w->rows, w->K, 0);
    if (!p || !p->ready) return ss_fail(SS_ERR_ARG, "fp4e2m1 GEMM M=%lld: no plan has run yet", (long long)M);
    info->candidate = p->candidate;
    info->candidates = p->candidates;
    info->workspace = p->workspace;
    info->fused = 1;
    info->from_table = p->from_table;
    return SS_OK;
}
