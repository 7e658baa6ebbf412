/* Context, prepared weights and the three entry points (linear, quantize,
 * matmul). The library calls live in cublaslt.cu and cusparselt.cu, the
 * kernels in quant.cu and dequant.cu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/gemm_internal.h"
#include "gemm/ours_layout.h"
extern "C" {
#include "core/log.h"
}

/* ---- context ---- */

ss_status ss_gemm_ctx_create(int device, void *stream, const ss_gemm_options *opts, ss_gemm_ctx **out) {
    *out = NULL;
    ss_gemm_ctx *ctx = (ss_gemm_ctx *)calloc(1, sizeof *ctx);
    if (!ctx) return ss_fail(SS_ERR_NOMEM, "no memory for a GEMM context");
    ss_status st = ss_gpu_info_get(device, &ctx->gpu);
    if (st) {
        free(ctx);
        return st;
    }
    ctx->device = device;
    if (opts) ctx->opt = *opts;
    else ss_gemm_options_default(&ctx->opt);
    char what[300];
    snprintf(what, sizeof what, "GEMM context on %s", ctx->gpu.name);
    cudaError_t e = cudaSetDevice(device);
    if (e == cudaSuccess && !stream) {
        /* a blocking stream: it stays ordered with the legacy default
         * stream that plain cudaMemcpy / cudaMemset (ss_gpu_upload) use */
        e = cudaStreamCreate(&ctx->stream);
        ctx->own_stream = e == cudaSuccess;
    } else {
        ctx->stream = (cudaStream_t)stream;
    }
    if (e != cudaSuccess) {
        free(ctx);
        return ss_cuda_status(e, "cudaSetDevice/cudaStreamCreate", what);
    }
    cublasStatus_t ls = cublasLtCreate(&ctx->lt);
    if (ls != CUBLAS_STATUS_SUCCESS) {
        if (ctx->own_stream) cudaStreamDestroy(ctx->stream);
        free(ctx);
        return ss_fail(SS_ERR_LIB, "%s: cublasLtCreate failed: %s (%s)", what, cublasLtGetStatusName(ls),
                       cublasLtGetStatusString(ls));
    }
    /* cuSPARSELt may refuse the GPU (architecture mismatch); then only its
     * backend is unavailable, which ss_gemm_supported reports. */
    int ver = 0; /* CUSPARSELT_VERSION of the library that loaded; decoded by gemm/lib_version.h */
    ctx->slt_ok = cusparseLtInit(&ctx->slt) == CUSPARSE_STATUS_SUCCESS;
    if (ctx->slt_ok && cusparseLtGetVersion(&ctx->slt, &ver) == CUSPARSE_STATUS_SUCCESS) ctx->gpu.cusparselt_version = ver;
    if (!ctx->slt_ok) ctx->gpu.cusparselt_version = 0;
    *out = ctx;
    return SS_OK;
}

void ss_gemm_ctx_destroy(ss_gemm_ctx *ctx) {
    if (!ctx) return;
    cudaSetDevice(ctx->device);
    cudaStreamSynchronize(ctx->stream);
    for (int i = 0; i < ctx->n_plans; i++) {
        ss_gemm_plan *p = ctx->plans[i];
        if (p->backend == SS_BACKEND_CUBLASLT) ss_lt_plan_destroy(p);
        else if (p->backend == SS_BACKEND_CUSPARSELT) ss_slt_plan_destroy(p);
        free(p);
    }
    free(ctx->plans);
    for (int i = 0; i < SS_BUF_COUNT; i++) cudaFree(ctx->buf[i]);
    cudaFree(ctx->ws);
    if (ctx->slt_ok) cusparseLtDestroy(&ctx->slt);
    cublasLtDestroy(ctx->lt);
    if (ctx->own_stream) cudaStreamDestroy(ctx->stream);
    free(ctx);
}

void *ss_gemm_ctx_stream(ss_gemm_ctx *ctx) { return (void *)ctx->stream; }

ss_status ss_gemm_ctx_sync(ss_gemm_ctx *ctx) {
    char what[300];
    snprintf(what, sizeof what, "GPU work on %s", ctx->gpu.name);
    CUDA_TRY(cudaStreamSynchronize(ctx->stream), what);
    CUDA_TRY(cudaGetLastError(), what);
    return SS_OK;
}

static ss_status grow(ss_gemm_ctx *ctx, void **ptr, size_t *have, size_t bytes, const char *what) {
    if (bytes == 0 || (*have >= bytes && *ptr)) return SS_OK;
    bytes = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1); /* whole MiB: fewer regrowths */
    CUDA_TRY(cudaStreamSynchronize(ctx->stream), what); /* the old buffer may still be in use */
    cudaFree(*ptr);
    *ptr = NULL;
    *have = 0;
    CUDA_TRY(cudaMalloc(ptr, bytes), what);
    *have = bytes;
    return SS_OK;
}

ss_status ss_gemm_ctx_buffer(ss_gemm_ctx *ctx, int idx, size_t bytes, void **p) {
    char what[96];
    snprintf(what, sizeof what, "GEMM scratch buffer %d (%zu bytes)", idx, bytes);
    if (idx == SS_BUF_ONES && ctx->buf_bytes[idx] < bytes) ctx->ones_filled = 0;
    SS_TRY(grow(ctx, &ctx->buf[idx], &ctx->buf_bytes[idx], bytes, what));
    *p = ctx->buf[idx];
    return SS_OK;
}

ss_status ss_gemm_ctx_workspace(ss_gemm_ctx *ctx, size_t bytes) {
    char what[96];
    snprintf(what, sizeof what, "GEMM workspace (%zu bytes)", bytes);
    return grow(ctx, &ctx->ws, &ctx->ws_bytes, bytes, what);
}

ss_status ss_gemm_ctx_ones(ss_gemm_ctx *ctx, int64_t n, const float **p) {
    void *b;
    SS_TRY(ss_gemm_ctx_buffer(ctx, SS_BUF_ONES, (size_t)n * sizeof(float), &b));
    size_t cap = ctx->buf_bytes[SS_BUF_ONES] / sizeof(float);
    if (ctx->ones_filled < cap) {
        float *h = (float *)malloc(cap * sizeof(float));
        if (!h) return ss_fail(SS_ERR_NOMEM, "no memory for %zu floats", cap);
        for (size_t i = 0; i < cap; i++) h[i] = 1.0f;
        cudaError_t e = cudaMemcpyAsync(b, h, cap * sizeof(float), cudaMemcpyHostToDevice, ctx->stream);
        if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->stream);
        free(h);
        CUDA_TRY(e, "filling a ones vector");
        ctx->ones_filled = cap;
    }
    *p = (const float *)b;
    return SS_OK;
}

ss_gemm_plan *ss_gemm_plan_find(ss_gemm_ctx *ctx, ss_backend b, ss_gemm_dtype d, int kind, int64_t M_pad,
                                int64_t N_pad, int64_t K_act, int create) {
    for (int i = 0; i < ctx->n_plans; i++) {
        ss_gemm_plan *p = ctx->plans[i];
        if (p->backend == b && p->dtype == d && p->kind == kind && p->M_pad == M_pad && p->N_pad == N_pad &&
            p->K_act == K_act)
            return p;
    }
    if (!create) return NULL;
    if (ctx->n_plans == ctx->cap_plans) {
        int cap = ctx->cap_plans ? 2 * ctx->cap_plans : 16;
        ss_gemm_plan **np = (ss_gemm_plan **)realloc(ctx->plans, (size_t)cap * sizeof *np);
        if (!np) return NULL;
        ctx->plans = np;
        ctx->cap_plans = cap;
    }
    ss_gemm_plan *p = (ss_gemm_plan *)calloc(1, sizeof *p); /* its cuSPARSELt objects must not move */
    if (!p) return NULL;
    p->backend = b;
    p->dtype = d;
    p->kind = kind;
    p->M_pad = M_pad;
    p->N_pad = N_pad;
    p->K_act = K_act;
    ctx->plans[ctx->n_plans++] = p;
    return p;
}

void ss_gemm_ctx_set_alg_lookup(ss_gemm_ctx *ctx, ss_gemm_alg_lookup fn, void *user) {
    ctx->lookup = fn;
    ctx->lookup_user = user;
}

int ss_gemm_lookup(ss_gemm_ctx *ctx, const ss_gemm_plan *p, ss_gemm_alg *alg) {
    memset(alg, 0, sizeof *alg);
    return ctx->lookup && ctx->lookup(ctx->lookup_user, p->backend, p->dtype, ss_gemm_kind_name(p->kind), p->M_pad,
                                      p->N_pad, p->K_act, alg);
}

void ss_gemm_warn_table(ss_gemm_ctx *ctx, const char *what) {
    if (ctx->warned_table) return;
    ctx->warned_table = 1;
    ss_warn("%s: the tuning table's algorithm does not run here (another GPU or library version?); searching instead "
            "(said once)", what);
}

void ss_gemm_ctx_each_plan(ss_gemm_ctx *ctx, ss_gemm_plan_visit fn, void *user) {
    for (int i = 0; i < ctx->n_plans; i++) {
        const ss_gemm_plan *p = ctx->plans[i];
        if (!p->ready || p->unsupported) continue;
        ss_gemm_alg a;
        memset(&a, 0, sizeof a);
        a.alg_id = p->alg_id;
        a.split_k = p->split_k;
        a.split_k_mode = p->split_k_mode;
        if (p->backend == SS_BACKEND_CUBLASLT) {
            memcpy(a.lt_algo, &p->algo, sizeof a.lt_algo);
            a.has_lt_algo = 1;
        }
        fn(user, p->backend, p->dtype, ss_gemm_kind_name(p->kind), p->M_pad, p->N_pad, p->K_act, &a, p->from_table);
    }
}

const char *ss_gemm_what(const ss_gemm_weight *w, int64_t M, char *buf, size_t cap) {
    const ss_gemm_weight_info *i = &w->info;
    char sl[48] = "";
    if (i->slid) snprintf(sl, sizeof sl, " slid(L=%d)", i->slide.L);
    snprintf(buf, cap, "linear '%s' %s %s%s M=%lld N=%lld K=%lld (K_act=%lld)", w->name, ss_gemm_dtype_name(i->dtype),
             ss_backend_name(i->backend), sl, (long long)M, (long long)i->N, (long long)i->K, (long long)i->K_act);
    return buf;
}

/* ---- prepared weights ---- */

/* Nonzeros in one aligned group of 4 (-0 made +0 on the way). Written per
 * element size so the loop over a whole model (billions of weights) stays a
 * few instructions per group. */
static inline int group_nonzeros_1(uint8_t *g, int fp8) {
    if (fp8)
        for (int j = 0; j < 4; j++) g[j] = g[j] == 0x80 ? 0 : g[j];
    return (g[0] != 0) + (g[1] != 0) + (g[2] != 0) + (g[3] != 0);
}
static inline int group_nonzeros_2(uint16_t *g) {
    for (int j = 0; j < 4; j++) g[j] = g[j] == 0x8000 ? 0 : g[j];
    return (g[0] != 0) + (g[1] != 0) + (g[2] != 0) + (g[3] != 0);
}

static ss_status stage_weight(const ss_linear_weight *w, ss_backend backend, int64_t N_pad, int64_t K_act,
                              uint8_t **out) {
    const size_t es = ss_dtype_size(w->dtype);
    const int64_t Kw = ss_linear_k_stored(w);
    const char *name = w->name ? w->name : "linear";
    const int fp8 = w->dtype == SS_DT_F8_E4M3;
    uint8_t *h = (uint8_t *)calloc((size_t)(N_pad * K_act), es);
    if (!h) return ss_fail(SS_ERR_NOMEM, "%s: no memory to stage a [%lld, %lld] weight", name, (long long)N_pad,
                           (long long)K_act);
    for (int64_t n = 0; n < w->N; n++) {
        uint8_t *row = h + (size_t)(n * K_act) * es;
        memcpy(row, (const uint8_t *)w->w + (size_t)(n * Kw) * es, (size_t)Kw * es);
        /* cuSPARSELt's compressor and the 2:4 rule must see a zero as zero */
        for (int64_t k = 0; k < K_act; k += 4) {
            int nz = es == 1 ? group_nonzeros_1(row + k, fp8) : group_nonzeros_2((uint16_t *)row + k);
            if (ss_backend_sparse(backend) && nz > 2) {
                free(h);
                return ss_fail(SS_ERR_FORMAT,
                               "%s: weight [%lld, %lld] row %lld columns %lld..%lld hold %d nonzeros: not 2:4 "
                               "(%s needs a slid weight, or one pruned to 2_4)",
                               name, (long long)w->N, (long long)Kw, (long long)n, (long long)k, (long long)(k + 3), nz,
                               ss_backend_name(backend));
            }
        }
    }
    *out = h;
    return SS_OK;
}

static ss_status upload_floats(const float *src, int64_t n, int64_t n_pad, float pad, float **dst, const char *what) {
    float *h = (float *)malloc((size_t)n_pad * sizeof(float));
    if (!h) return ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld floats", what, (long long)n_pad);
    for (int64_t i = 0; i < n_pad; i++) h[i] = i < n ? src[i] : pad;
    cudaError_t e = cudaMalloc((void **)dst, (size_t)n_pad * sizeof(float));
    if (e == cudaSuccess) e = cudaMemcpy(*dst, h, (size_t)n_pad * sizeof(float), cudaMemcpyHostToDevice);
    free(h);
    CUDA_TRY(e, what);
    return SS_OK;
}

void ss_gemm_weight_destroy(ss_gemm_weight *w) {
    if (!w) return;
    cudaFree(w->d_w);
    cudaFree(w->d_scale);
    cudaFree(w->d_bias);
    free(w);
}

static ss_status weight_fill(ss_gemm_ctx *ctx, const ss_linear_weight *lw, ss_backend backend, ss_gemm_weight *w) {
    const char *name = lw->name ? lw->name : "linear";
    ss_gemm_dtype dt;
    SS_TRY_CTX(ss_gemm_dtype_of_weight(lw->dtype, &dt), "%s", name);
    SS_TRY_CTX(ss_gemm_supported(&ctx->gpu, backend, dt), "%s", name);
    const int quantized = dt == SS_GEMM_INT8 || dt == SS_GEMM_FP8E4M3;
    if (lw->N <= 0 || lw->K <= 0 || !lw->w)
        return ss_fail(SS_ERR_ARG, "%s: empty weight [%lld, %lld]", name, (long long)lw->N, (long long)lw->K);
    if (quantized && !lw->scale)
        return ss_fail(SS_ERR_ARG, "%s: %s weight without a per-channel scale", name, ss_dtype_name(lw->dtype));
    if (lw->slid && (lw->slide.K != lw->K || lw->slide.K_slid % SS_GEMM_ALIGN_NK))
        return ss_fail(SS_ERR_ARG, "%s: slide geometry K=%lld K_slid=%lld does not fit K=%lld", name,
                       (long long)lw->slide.K, (long long)lw->slide.K_slid, (long long)lw->K);
    ss_gemm_weight_info *i = &w->info;
    i->backend = backend;
    i->dtype = dt;
    i->N = lw->N;
    i->K = lw->K;
    i->N_pad = ss_gemm_round_up(lw->N, SS_GEMM_ALIGN_NK);
    i->K_act = lw->slid ? lw->slide.K_slid : ss_gemm_round_up(lw->K, SS_GEMM_ALIGN_NK);
    i->slid = lw->slid;
    if (lw->slid) i->slide = lw->slide;
    i->has_bias = lw->bias != NULL;
    snprintf(w->name, sizeof w->name, "%s", name);
    w->device = ctx->device;
    char what[300];
    ss_gemm_what(w, 0, what, sizeof what);

    uint8_t *h = NULL;
    SS_TRY(stage_weight(lw, backend, i->N_pad, i->K_act, &h));
    if (ss_backend_ours(backend)) { /* our kernels read an image laid out as shared memory wants it */
        ss_status st = ss_ours_upload(i, lw->dtype, h, &w->d_w, &i->device_bytes, what);
        free(h);
        SS_TRY(st);
        h = NULL;
    }
    const size_t bytes = (size_t)(i->N_pad * i->K_act) * ss_dtype_size(lw->dtype);
    void *d_dense = NULL;
    cudaError_t e = cudaSuccess;
    if (h) e = cudaMalloc(&d_dense, bytes);
    if (h && e == cudaSuccess) e = cudaMemcpy(d_dense, h, bytes, cudaMemcpyHostToDevice);
    free(h);
    if (e != cudaSuccess) {
        cudaFree(d_dense);
        return ss_cuda_status(e, "cudaMalloc/cudaMemcpy of the weight", what);
    }
    if (ss_backend_ours(backend)) {
        /* uploaded above */
    } else if (backend == SS_BACKEND_CUSPARSELT) {
        size_t comp_bytes = 0;
        ss_status st = ss_slt_compress(ctx, dt, i->N_pad, i->K_act, d_dense, &w->d_w, &comp_bytes, what);
        cudaFree(d_dense);
        SS_TRY(st);
        i->device_bytes = comp_bytes;
    } else {
        w->d_w = d_dense;
        i->device_bytes = bytes;
    }
    if (quantized) {
        SS_TRY(upload_floats(lw->scale, lw->N, i->N_pad, 1.0f, &w->d_scale, what));
        w->uniform_scale = 1;
        w->scale0 = lw->scale[0];
        for (int64_t n = 1; n < lw->N; n++) w->uniform_scale &= lw->scale[n] == lw->scale[0];
    }
    if (lw->bias) SS_TRY(upload_floats(lw->bias, lw->N, i->N_pad, 0.0f, &w->d_bias, what));
    return SS_OK;
}

ss_status ss_gemm_weight_create(ss_gemm_ctx *ctx, const ss_linear_weight *lw, ss_backend backend,
                                ss_gemm_weight **out) {
    *out = NULL;
    ss_gemm_weight *w = (ss_gemm_weight *)calloc(1, sizeof *w);
    if (!w) return ss_fail(SS_ERR_NOMEM, "no memory for a GEMM weight");
    ss_status st = weight_fill(ctx, lw, backend, w);
    if (st) {
        ss_gemm_weight_destroy(w);
        return st;
    }
    *out = w;
    return SS_OK;
}

void ss_gemm_weight_get_info(const ss_gemm_weight *w, ss_gemm_weight_info *info) { *info = w->info; }
ss_status ss_gemm_weight_out_supported(const ss_gemm_weight *w, ss_gemm_out mode) {
    char what[300];
    ss_gemm_what(w, 0, what, sizeof what);
    SS_TRY_CTX(ss_gemm_out_supported(w->info.backend, w->info.dtype, mode), "%s", what);
    if (mode == SS_GEMM_OUT_BF16_CHANNEL && w->info.backend == SS_BACKEND_CUSPARSELT &&
        w->info.dtype == SS_GEMM_FP8E4M3 && !w->uniform_scale)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: bf16_channel needs a uniform weight scale here (cuSPARSELt has no alpha-vector scaling "
                       "for FP8); use acc, bf16_acc or bf16",
                       what);
    return SS_OK;
}

/* The library call of BF16_CHANNEL for this weight. */
static int channel_kind(const ss_gemm_weight *w) { return w->uniform_scale ? SS_GK_CHANNEL_SCALAR : SS_GK_CHANNEL; }

const float *ss_gemm_weight_scale(const ss_gemm_weight *w) { return w->d_scale; }
const float *ss_gemm_weight_bias(const ss_gemm_weight *w) { return w->d_bias; }

/* ---- running ---- */

static int is_quantized(const ss_gemm_weight *w) {
    return w->info.dtype == SS_GEMM_INT8 || w->info.dtype == SS_GEMM_FP8E4M3;
}

/* Our kernel's launch configuration for this plan: the tuning table's
 * (alg_id), else the default for the shape; SS_OURS_ROWS and SS_OURS_BN
 * override either (experiments; a value the kernel lacks is refused by
 * name). Stored as the plan's alg_id. */
static ss_status ours_cfg(ss_gemm_ctx *ctx, ss_gemm_plan *p, const ss_ours_geom *g, int *chosen, const char *what) {
    *chosen = 0;
    ss_ours_cfg c;
    ss_ours_cfg_default(g->N, p->M_pad, ctx->gpu.sm_count, &c);
    ss_gemm_alg alg;
    if (ss_gemm_lookup(ctx, p, &alg)) {
        ss_ours_cfg t;
        if (ss_ours_cfg_decode(alg.alg_id, &t) == SS_OK) c = t, p->from_table = 1, *chosen = 1;
        else ss_clear_error(), ss_gemm_warn_table(ctx, what);
    }
    const char *e;
    if ((e = getenv("SS_OURS_BN")) && *e) c.bn = atoi(e), *chosen = 1;
    if ((e = getenv("SS_OURS_ROWS")) && *e) c.rows = atoi(e), *chosen = 1;
    if ((e = getenv("SS_OURS_CLUSTER")) && *e) c.cluster = atoi(e), *chosen = 1;
    SS_TRY_CTX(ss_ours_cfg_check(&c), "%s (SS_OURS_ROWS / SS_OURS_BN / SS_OURS_CLUSTER)", what);
    p->alg_id = ss_ours_cfg_encode(&c);
    return SS_OK;
}

/* Times every single-CTA configuration on the plan's own operands and keeps
 * the fastest in p->alg_id: one warm-up each, then kRounds rounds that run
 * each configuration once in turn, each configuration's best round counting.
 * Interleaved because the SM clock drifts under load (1.6-1.98 GHz on the
 * H200 within a run): timed back to back, 3 runs each, the engine's INT8
 * 2_8 GEMMs took 105.5 ms of a prefill pass in one run and 114.5 in the
 * next, same code (runs I and J, 2026-12-02, docs/BENCHMARKS.md). */
static ss_status ours_tune(ss_gemm_ctx *ctx, const ss_gemm_weight *w, ss_gemm_plan *p, const void *xq, int64_t M_pad,
                           const float *psx, const float *psw, const float *pb, int kind, void *out, int64_t ld,
                           int64_t rows, int64_t cols, const char *what) {
    enum { kRounds = 5 };
    float best[SS_OURS_N_CFG] = {0};
    cudaEvent_t e0 = NULL, e1 = NULL;
    ss_status st = ss_cuda_status(cudaEventCreate(&e0), "cudaEventCreate", what);
    if (!st) st = ss_cuda_status(cudaEventCreate(&e1), "cudaEventCreate", what);
    for (int r = -1; r < kRounds && !st; r++)
        for (int ci = 0; ci < SS_OURS_N_CFG && !st; ci++) {
            const ss_ours_cfg *c = &ss_ours_cfgs[ci]; /* clusters: not until measured */
            if (r >= 0) st = ss_cuda_status(cudaEventRecord(e0, ctx->stream), "cudaEventRecord", what);
            if (!st) st = ss_ours_run(ctx, w, xq, M_pad, psx, psw, pb, kind == SS_GK_ACC, out, ld, rows, cols, c, what);
            if (r < 0 || st) continue; /* the warm-up round is not timed */
            float ms = 0;
            st = ss_cuda_status(cudaEventRecord(e1, ctx->stream), "cudaEventRecord", what);
            if (!st) st = ss_cuda_status(cudaEventSynchronize(e1), "cudaEventSynchronize", what);
            if (!st) st = ss_cuda_status(cudaEventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime", what);
            if (!st && (r == 0 || ms < best[ci])) best[ci] = ms;
        }
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    SS_TRY(st);
    int pick = 0;
    for (int ci = 1; ci < SS_OURS_N_CFG; ci++)
        if (best[ci] < best[pick]) pick = ci;
    p->alg_id = ss_ours_cfg_encode(&ss_ours_cfgs[pick]);
    return SS_OK;
}

/* Our kernel for one plan kind: ACC raw accumulators, CHANNEL(_SCALAR)
 * acc * s_w, TOKEN_CHANNEL the whole dequant (s_x, s_w and the bias),
 * BF16 acc unscaled; written to [rows, cols] with leading dimension ld. */
static ss_status ours_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, const float *sx,
                          int64_t M_pad, void *out, int64_t ld, int64_t rows, int64_t cols, const char *what) {
    const ss_gemm_weight_info *i = &w->info;
    ss_gemm_plan *p = ss_gemm_plan_find(ctx, i->backend, i->dtype, kind, M_pad, i->N_pad, i->K_act, 1);
    if (!p) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a plan", what);
    const float *psx = NULL, *psw = NULL, *pb = NULL;
    if (kind == SS_GK_CHANNEL || kind == SS_GK_CHANNEL_SCALAR) psw = w->d_scale;
    if (kind == SS_GK_TOKEN_CHANNEL) psx = sx, psw = w->d_scale, pb = w->d_bias;
    ss_ours_cfg cfg;
    if (!p->ready) {
        ss_ours_geom g;
        int chosen;
        SS_TRY_CTX(ss_ours_geometry(i->N_pad, i->K_act, ss_backend_sparse(i->backend), &g), "%s", what);
        SS_TRY(ours_cfg(ctx, p, &g, &chosen, what));
        if (!chosen && ctx->opt.cusparselt_search) SS_TRY(ours_tune(ctx, w, p, xq, M_pad, psx, psw, pb, kind, out, ld, rows, cols, what));
        p->ready = 1;
    }
    SS_TRY(ss_ours_cfg_decode(p->alg_id, &cfg));
    return ss_ours_run(ctx, w, xq, M_pad, psx, psw, pb, kind == SS_GK_ACC, out, ld, rows, cols, &cfg, what);
}

static ss_status gemm_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, const float *sx,
                          int64_t M_pad, void *out, const char *what) {
    if (w->info.backend == SS_BACKEND_CUBLASLT) return ss_lt_run(ctx, w, kind, xq, sx, M_pad, out, what);
    if (ss_backend_ours(w->info.backend))
        return ours_run(ctx, w, kind, xq, sx, M_pad, out, w->info.N_pad, M_pad, w->info.N_pad, what);
    return ss_slt_run(ctx, w, kind, xq, M_pad, out, what);
}

/* The library call that gives the fully dequantized BF16 output by itself,
 * or -1 when none does for this weight (then: ACC + dequant pass). */
static int fused_bf16_kind(const ss_gemm_weight *w) {
    if (ss_backend_ours(w->info.backend)) return SS_GK_TOKEN_CHANNEL; /* the epilogue adds the bias too */
    if (w->info.has_bias) return -1;
    if (w->info.backend == SS_BACKEND_CUBLASLT) {
        if (w->info.dtype == SS_GEMM_FP8E4M3) return SS_GK_TOKEN_CHANNEL;
        if (w->info.dtype == SS_GEMM_BF16) return SS_GK_BF16;
        return -1;
    }
    return w->info.dtype == SS_GEMM_BF16 ? SS_GK_ACC : -1;
}

/* Runs the fused kind; *done = 0 (and no error) when the library has no
 * kernel for it, so the caller takes the unfused path. */
static ss_status try_fused(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int kind, const void *xq, const float *sx,
                           int64_t M_pad, void *out, const char *what, int *done) {
    *done = 0;
    ss_status st = gemm_run(ctx, w, kind, xq, sx, M_pad, out, what);
    if (st == SS_ERR_UNSUPPORTED) {
        ss_clear_error();
        return SS_OK;
    }
    SS_TRY(st);
    *done = 1;
    return SS_OK;
}

static ss_status unfused_bf16(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, const float *sx, int64_t M,
                              void *y, int64_t ld_y, const char *what) {
    const ss_gemm_weight_info *i = &w->info;
    const int64_t M_pad = ss_gemm_pad_m(M);
    const ss_dtype acc_t = ss_gemm_acc_dtype(i->backend, i->dtype);
    void *acc;
    SS_TRY(ss_gemm_ctx_buffer(ctx, SS_BUF_ACC, (size_t)(M_pad * i->N_pad) * ss_dtype_size(acc_t), &acc));
    SS_TRY(gemm_run(ctx, w, SS_GK_ACC, xq, sx, M_pad, acc, what));
    const int q = is_quantized(w);
    return ss_launch_dequant(acc_t, acc, i->N_pad, M, i->N, q ? sx : NULL, q ? w->d_scale : NULL, w->d_bias, y, ld_y,
                             ctx->gpu.sm_count, ctx->stream, what);
}

ss_status ss_gemm_quantize(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *xq, float *sx) {
    char what[300];
    ss_gemm_what(w, M, what, sizeof what);
    if (is_quantized(w) && !sx) return ss_fail(SS_ERR_ARG, "%s: quantize needs a scale buffer", what);
    const ss_gemm_weight_info *i = &w->info;
    return ss_launch_quant(i->dtype, x, M, ss_gemm_pad_m(M), i->K, i->K, xq, i->K_act, is_quantized(w) ? sx : NULL,
                           i->slid ? &i->slide : NULL, ctx->stream, what);
}

ss_status ss_gemm_matmul(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, const float *sx, int64_t M,
                         ss_gemm_out mode, void *out) {
    char what[300];
    ss_gemm_what(w, M, what, sizeof what);
    SS_TRY(ss_gemm_weight_out_supported(w, mode));
    if (M <= 0) return SS_OK;
    const int64_t M_pad = ss_gemm_pad_m(M);
    switch (mode) {
    case SS_GEMM_OUT_ACC: return gemm_run(ctx, w, SS_GK_ACC, xq, sx, M_pad, out, what);
    case SS_GEMM_OUT_BF16_CHANNEL: return gemm_run(ctx, w, channel_kind(w), xq, sx, M_pad, out, what);
    case SS_GEMM_OUT_BF16_ACC: return gemm_run(ctx, w, SS_GK_BF16, xq, sx, M_pad, out, what);
    default: break;
    }
    if (is_quantized(w) && !sx) return ss_fail(SS_ERR_ARG, "%s: output mode bf16 needs the per-token scales", what);
    int kind = fused_bf16_kind(w), done = 0;
    if (kind >= 0) SS_TRY(try_fused(ctx, w, kind, xq, sx, M_pad, out, what, &done));
    if (done) return SS_OK;
    return unfused_bf16(ctx, w, xq, sx, M, out, w->info.N_pad, what);
}

ss_status ss_gemm_linear(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *y) {
    char what[300];
    ss_gemm_what(w, M, what, sizeof what);
    if (M <= 0) return SS_OK;
    const ss_gemm_weight_info *i = &w->info;
    const int64_t M_pad = ss_gemm_pad_m(M);
    void *xq, *sxv = NULL;
    SS_TRY(ss_gemm_ctx_buffer(ctx, SS_BUF_XQ, (size_t)(M_pad * i->K_act) * ss_dtype_size(ss_gemm_act_dtype(i->dtype)),
                              &xq));
    SS_TRY(ss_gemm_ctx_buffer(ctx, SS_BUF_SX, (size_t)M_pad * sizeof(float), &sxv));
    float *sx = (float *)sxv;
    SS_TRY(ss_gemm_quantize(ctx, w, x, M, xq, sx));
    if (ss_backend_ours(i->backend)) /* the epilogue writes the [M, N] result itself */
        return ours_run(ctx, w, SS_GK_TOKEN_CHANNEL, xq, sx, M_pad, y, i->N, M, i->N, what);

    int kind = fused_bf16_kind(w), done = 0;
    if (kind >= 0) {
        if (M == M_pad && i->N == i->N_pad) { /* straight into y */
            SS_TRY(try_fused(ctx, w, kind, xq, sx, M_pad, y, what, &done));
        } else { /* padded result, then the [M, N] corner */
            void *yp;
            SS_TRY(ss_gemm_ctx_buffer(ctx, SS_BUF_Y, (size_t)(M_pad * i->N_pad) * 2, &yp));
            SS_TRY(try_fused(ctx, w, kind, xq, sx, M_pad, yp, what, &done));
            if (done)
                CUDA_TRY(cudaMemcpy2DAsync(y, (size_t)i->N * 2, yp, (size_t)i->N_pad * 2, (size_t)i->N * 2, (size_t)M,
                                           cudaMemcpyDeviceToDevice, ctx->stream),
                         what);
        }
    }
    if (done) return SS_OK;
    return unfused_bf16(ctx, w, xq, sx, M, y, i->N, what);
}

ss_status ss_gemm_dequant(ss_gemm_ctx *ctx, ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N,
                          const float *sx, const float *sw, const float *bias, void *y, int64_t ld_y) {
    char what[128];
    snprintf(what, sizeof what, "dequant %s [%lld, %lld] -> BF16", ss_dtype_name(in_dtype), (long long)M, (long long)N);
    return ss_launch_dequant(in_dtype, in, ld_in, M, N, sx, sw, bias, y, ld_y, ctx->gpu.sm_count, ctx->stream, what);
}

ss_status ss_gemm_plan_get_info(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int64_t M, ss_gemm_out mode,
                                ss_gemm_plan_info *info) {
    memset(info, 0, sizeof *info);
    const ss_gemm_weight_info *i = &w->info;
    const int64_t M_pad = ss_gemm_pad_m(M);
    ss_gemm_plan *p = NULL;
    if (mode == SS_GEMM_OUT_BF16) {
        int kind = fused_bf16_kind(w);
        if (kind >= 0) p = ss_gemm_plan_find(ctx, i->backend, i->dtype, kind, M_pad, i->N_pad, i->K_act, 0);
        if (p && (p->unsupported || !p->ready)) p = NULL;
        info->fused = p != NULL;
        if (!p) p = ss_gemm_plan_find(ctx, i->backend, i->dtype, SS_GK_ACC, M_pad, i->N_pad, i->K_act, 0);
    } else {
        const int kind = mode == SS_GEMM_OUT_ACC ? SS_GK_ACC : mode == SS_GEMM_OUT_BF16_ACC ? SS_GK_BF16 : channel_kind(w);
        p = ss_gemm_plan_find(ctx, i->backend, i->dtype, kind, M_pad, i->N_pad, i->K_act, 0);
        info->fused = 1;
    }
    if (!p || p->unsupported || !p->ready)
        return ss_fail(SS_ERR_ARG, "linear '%s': no plan has run yet for M=%lld in mode %s", w->name, (long long)M,
                       ss_gemm_out_name(mode));
    info->alg_id = p->alg_id;
    info->split_k = p->split_k;
    info->candidate = p->candidate;
    info->candidates = p->candidates;
    info->workspace = p->workspace;
    info->from_table = p->from_table;
    return SS_OK;
}
