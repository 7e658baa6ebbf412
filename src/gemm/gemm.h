/* The GPU linear layer: cuBLASLt (dense) and cuSPARSELt (2:4 sparse on slid
 * weights), with our quant / quant+slide / dequant kernels around them.
 * Plain C: no CUDA types; streams and device pointers are void *.
 *
 * Layout ("TN", the only one Hopper's 8-bit sparse tensor cores take):
 *   weight  W  [N_pad, K_act]  row-major (K contiguous), the structured /
 *              left operand; padded with zeros to multiples of 32
 *   act     X' [M_pad, K_act]  row-major (K contiguous), quantized and, for a
 *              slid weight, slid (K_act = K_slid); M_pad = M rounded up to 16
 *   out     D  [M_pad, N_pad]  row-major
 * Zero padding never changes a result: padded columns multiply zero weights,
 * padded rows and channels are dropped on the way out.
 *
 * Three ways in:
 *   ss_gemm_linear    y_bf16[M,N] = linear(x_bf16[M,K]): quant (+slide),
 *                     GEMM, dequant + bias. Used by the tests and benchmarks.
 *   ss_gemm_quantize  + ss_gemm_matmul: the split path an engine fuses
 *                     around: it quantizes (and slides) in its own kernel
 *                     (quant_device.cuh) and applies what the GEMM's output
 *                     mode leaves over in its next kernel.
 *
 * Output modes of ss_gemm_matmul (out is [M_pad, N_pad] row-major):
 *   ACC           raw accumulators of ss_gemm_acc_dtype(): INT32 (int8),
 *                 FP32 (fp8; bf16/fp16 on cuBLASLt), or the input type for
 *                 bf16/fp16 on cuSPARSELt (it has no FP32 output there)
 *   BF16_CHANNEL  bf16(acc * s_w[n]); the consumer multiplies by s_x[m] and
 *                 adds the bias (what cuSPARSELt's alpha-vector gives free)
 *   BF16          bf16(acc * s_x[m] * s_w[n] + bias[n]), fully dequantized
 *
 *   backend    dtype      ACC    BF16_CHANNEL           BF16
 *   cublaslt   int8       I32    unsupported            ACC + dequant pass
 *   cublaslt   fp8e4m3    F32    fused (outer vectors)  fused (outer-vector
 *                                                       A/B scales) without
 *                                                       bias, else ACC + pass
 *   cublaslt   bf16/fp16  F32    unsupported            bf16 w/o bias: direct;
 *                                                       else ACC + pass
 *   cusparselt int8       I32    fused (alpha vector)   ACC + dequant pass
 *   cusparselt fp8e4m3    F32    fused (scalar alpha;   ACC + dequant pass
 *                                uniform scales only)
 *   cusparselt bf16/fp16  BF16/  unsupported            bf16 w/o bias: direct;
 *                         F16                           else ACC + pass
 *   ours,      int8       I32    fused (epilogue)       fused, bias included
 *   ours_dense fp8e4m3    F32    fused (epilogue)       fused, bias included
 *   ours*      bf16/fp16  unsupported (8-bit kernels only)
 * A uniform weight scale (all channels equal, as BitNet's per-tensor scale)
 * makes BF16_CHANNEL a plain scalar-alpha GEMM on both libraries.
 * cuSPARSELt fp16 is reported unsupported on Hopper: cuSPARSELt 0.8.0's
 * search fails there with an internal error and leaves an illegal
 * instruction behind (seen 2026-11-25; the reference system saw the same);
 * SS_ALLOW_CUSPARSELT_FP16=1 lifts the block for experiments.
 * ss_gemm_out_fused() says which combinations need no extra pass. The
 * dequant pass computes ((float)acc * s_x[m]) * s_w[n] + bias[n] in that
 * order with no FMA contraction, as the CPU reference (linear.h) does, so
 * the INT8 paths are bit-exact.
 *
 * Threads: a context holds the cuBLASLt and cuSPARSELt handles, the
 * workspace, scratch buffers and the plan cache; use one context per thread.
 * A prepared weight may be shared by contexts on the same device.
 *
 * Without CUDA (SS_HAVE_CUDA unset) every function that needs the GPU fails
 * with SS_ERR_UNSUPPORTED "built without CUDA"; the host helpers still work.
 */
#ifndef SS_GEMM_GEMM_H
#define SS_GEMM_GEMM_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus /* the .cu files implement this C API; the core headers are C too */
extern "C" {
#endif

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/status.h"
#include "gemm/linear.h"

#define SS_GEMM_ALIGN_NK 32 /* N and K padding: cuSPARSELt's rule for 8-bit types */
#define SS_GEMM_ALIGN_M 16  /* token rows of the GEMM operands */

/* cublaslt: dense, NVIDIA's library. cusparselt: 2:4 sparse, NVIDIA's library.
 * ours: our own Hopper (sm_90a) 2:4 sparse GEMM with the dequant epilogue
 * fused (ours_gemm.cu). ours_dense: its dense twin, same pipeline and
 * epilogue with dense wgmma, for comparisons of one design. */
typedef enum ss_backend {
    SS_BACKEND_CUBLASLT = 0,
    SS_BACKEND_CUSPARSELT = 1,
    SS_BACKEND_OURS = 2,
    SS_BACKEND_OURS_DENSE = 3,
    SS_BACKEND_COUNT
} ss_backend;

/* 1 for the backends that take 2:4 weights (cusparselt, ours). */
static inline int ss_backend_sparse(ss_backend b) { return b == SS_BACKEND_CUSPARSELT || b == SS_BACKEND_OURS; }
/* 1 for our own kernels (ours, ours_dense). */
static inline int ss_backend_ours(ss_backend b) { return b == SS_BACKEND_OURS || b == SS_BACKEND_OURS_DENSE; }

typedef enum ss_gemm_dtype {
    SS_GEMM_BF16 = 0,
    SS_GEMM_FP16,
    SS_GEMM_INT8,    /* INT32 accumulation */
    SS_GEMM_FP8E4M3, /* FP32 accumulation */
    SS_GEMM_FP4E2M1, /* Blackwell only; reported unsupported elsewhere */
    SS_GEMM_DTYPE_COUNT
} ss_gemm_dtype;

typedef enum ss_gemm_out {
    SS_GEMM_OUT_ACC = 0,
    SS_GEMM_OUT_BF16_CHANNEL,
    SS_GEMM_OUT_BF16,
    SS_GEMM_OUT_BF16_ACC, /* BF16 = acc, unscaled: the consumer applies s_x, s_w and bias (cuSPARSELt FP8,
                             whose alpha is scalar only, for weights of several scales) */
    SS_GEMM_OUT_COUNT
} ss_gemm_out;

/* ---- names and host-side rules (no GPU needed) ---- */

const char *ss_backend_name(ss_backend b);          /* "cublaslt", "cusparselt", "ours", "ours_dense" */
ss_status ss_backend_parse(const char *s, ss_backend *b);
const char *ss_gemm_dtype_name(ss_gemm_dtype d);    /* "bf16", "fp16", "int8", "fp8e4m3", "fp4e2m1" */
ss_status ss_gemm_dtype_parse(const char *s, ss_gemm_dtype *d);
const char *ss_gemm_out_name(ss_gemm_out o);        /* "acc", "bf16_channel", "bf16", "bf16_acc" */
/* GEMM dtype of a stored weight (BF16, F16, I8, F8_E4M3). */
ss_status ss_gemm_dtype_of_weight(ss_dtype w, ss_gemm_dtype *d);
/* Element type of the activation operand X' (BF16, F16, I8, F8_E4M3). */
ss_dtype ss_gemm_act_dtype(ss_gemm_dtype d);
/* Element type of the ACC output (I32, F32, BF16 or F16; see the table). */
ss_dtype ss_gemm_acc_dtype(ss_backend b, ss_gemm_dtype d);
/* SS_OK if the backend can produce this output mode for this dtype, else
 * SS_ERR_UNSUPPORTED with the reason. */
ss_status ss_gemm_out_supported(ss_backend b, ss_gemm_dtype d, ss_gemm_out o);
/* 1 if the GEMM applies the mode's scaling itself (no separate pass). */
int ss_gemm_out_fused(ss_backend b, ss_gemm_dtype d, ss_gemm_out o, int has_bias);

static inline int64_t ss_gemm_round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }
static inline int64_t ss_gemm_pad_m(int64_t M) { return ss_gemm_round_up(M > 0 ? M : 1, SS_GEMM_ALIGN_M); }

/* ---- the device ---- */

typedef struct ss_gpu_info {
    int device;
    char name[256];
    int cc_major, cc_minor;
    int sm_count;
    size_t mem_total, mem_free; /* bytes */
    size_t l2_bytes;
    int clock_khz;              /* peak SM clock */
    int driver_version, runtime_version; /* e.g. 13000 */
    size_t cublaslt_version;    /* e.g. 130000 */
    int cusparselt_version;     /* 800 = 0.8.0, 1000 = 0.10.0 (gemm/lib_version.h); 0 if it did not load */
} ss_gpu_info;

/* Fails with SS_ERR_CUDA "no CUDA device ..." when there is none. */
ss_status ss_gpu_info_get(int device, ss_gpu_info *info);
/* Number of CUDA devices, 0 without a device or driver (never fails). */
int ss_gpu_count(void);
/* Whether `gpu` (and this build) can run the backend x dtype; on
 * SS_ERR_UNSUPPORTED the message says why (e.g. FP4 needs cc >= 10.0). */
ss_status ss_gemm_supported(const ss_gpu_info *gpu, ss_backend b, ss_gemm_dtype d);
/* The same for a build of the given CUDA architectures (gemm/arch.h; NULL:
 * this build's), so the rules are testable for any build. */
ss_status ss_gemm_supported_on(const ss_gpu_info *gpu, const char *built, ss_backend b, ss_gemm_dtype d);

/* Device memory and copies (synchronous unless noted). */
ss_status ss_gpu_alloc(size_t bytes, void **ptr);
void ss_gpu_free(void *ptr);
ss_status ss_gpu_upload(void *dst, const void *src, size_t bytes);
ss_status ss_gpu_download(void *dst, const void *src, size_t bytes);
ss_status ss_gpu_memset(void *dst, int byte, size_t bytes);

/* ---- context (one per thread) ---- */

typedef struct ss_gemm_ctx ss_gemm_ctx;

typedef struct ss_gemm_options {
    int cublaslt_candidates; /* heuristic candidates timed per plan; 0 or 1: take the top one */
    int cusparselt_search;   /* 1: search once per plan (cusparseLtMatmulSearch; ours: each tile size timed);
                                0: the default algorithm / tile */
    size_t workspace_limit;  /* bytes a plan may use */
} ss_gemm_options;

void ss_gemm_options_default(ss_gemm_options *o); /* 32 candidates, search on, 64 MiB */

/* stream: a cudaStream_t, or NULL for a stream the context creates. */
ss_status ss_gemm_ctx_create(int device, void *stream, const ss_gemm_options *opts, ss_gemm_ctx **out);
void ss_gemm_ctx_destroy(ss_gemm_ctx *ctx);
void *ss_gemm_ctx_stream(ss_gemm_ctx *ctx);
/* Waits for the stream; reports any asynchronous CUDA error. */
ss_status ss_gemm_ctx_sync(ss_gemm_ctx *ctx);

/* ---- prepared weights ---- */

typedef struct ss_gemm_weight ss_gemm_weight;

typedef struct ss_gemm_weight_info {
    ss_backend backend;
    ss_gemm_dtype dtype;
    int64_t N, K;        /* logical */
    int64_t N_pad;       /* N rounded up to 32 */
    int64_t K_act;       /* columns of W and X': round32(K), or K_slid when slid */
    int slid;
    ss_slide_geom slide; /* valid when slid */
    int has_bias;
    size_t device_bytes; /* weight as stored on the device (compressed for cuSPARSELt) */
} ss_gemm_weight_info;

/* Uploads w (host), pads N and K_stored to 32, and for cuSPARSELt checks the
 * 2:4 pattern and compresses once. w->dtype: BF16, F16, I8 or F8_E4M3
 * (I8/F8 need w->scale). cuSPARSELt needs a 2:4 weight: slid, or pruned 2_4
 * and not slid. */
ss_status ss_gemm_weight_create(ss_gemm_ctx *ctx, const ss_linear_weight *w, ss_backend backend,
                                ss_gemm_weight **out);
void ss_gemm_weight_destroy(ss_gemm_weight *w);
void ss_gemm_weight_get_info(const ss_gemm_weight *w, ss_gemm_weight_info *info);

/* ---- running (all asynchronous on the context's stream) ---- */

/* y[M, N] BF16 (device, row-major) = linear(x[M, K] BF16 (device, row-major)). */
ss_status ss_gemm_linear(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *y);

/* x[M, K] BF16 -> xq[M_pad, K_act] of ss_gemm_act_dtype (slid if the weight
 * is) and, for 8-bit types, sx[M_pad] per-token scales (padding rows: codes
 * 0, scale 1). For bf16/fp16 weights this is a copy/convert (+slide); sx may
 * then be NULL. */
ss_status ss_gemm_quantize(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *xq,
                           float *sx);

/* out[M_pad, N_pad] = the GEMM of xq[M_pad, K_act] with the weight, in the
 * given output mode (see the table above). sx may be NULL for ACC and
 * BF16_CHANNEL. */
ss_status ss_gemm_matmul(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, const float *sx, int64_t M,
                         ss_gemm_out mode, void *out);

/* The dequant + bias pass alone: y[m, n] = bf16(((float)in[m, n] * sx[m]) *
 * sw[n] + bias[n]) for m < M, n < N; any of sx, sw, bias may be NULL (then
 * 1, 1, 0). in_dtype: I32, F32, BF16 or F16; leading dimensions in elements. */
ss_status ss_gemm_dequant(ss_gemm_ctx *ctx, ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N,
                          const float *sx, const float *sw, const float *bias, void *y, int64_t ld_y);

/* ss_gemm_out_supported for this weight: also SS_ERR_UNSUPPORTED for
 * BF16_CHANNEL on cuSPARSELt fp8e4m3 when the channel scales differ
 * (cuSPARSELt 0.8.0 has no alpha-vector scaling for FP8; a uniform,
 * per-tensor scale such as BitNet's goes in as a scalar alpha). */
ss_status ss_gemm_weight_out_supported(const ss_gemm_weight *w, ss_gemm_out mode);

/* Device copies of the weight's per-channel scale [N_pad] (1 in padding;
 * NULL for bf16/fp16) and bias [N] (NULL without). */
const float *ss_gemm_weight_scale(const ss_gemm_weight *w);
const float *ss_gemm_weight_bias(const ss_gemm_weight *w);

/* The algorithm the plan for this M uses, after it ran once: cuBLASLt: the
 * index among the heuristic's candidates and their count; cuSPARSELt: the
 * alg id and split-k. Returns SS_ERR_ARG if no plan exists yet. */
typedef struct ss_gemm_plan_info {
    int alg_id, split_k;   /* cuSPARSELt */
    int candidate, candidates; /* cuBLASLt */
    size_t workspace;
    int fused;             /* the last run of this plan applied the scaling in the GEMM */
    int from_table;        /* the algorithm came from a tuning table */
} ss_gemm_plan_info;
ss_status ss_gemm_plan_get_info(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int64_t M, ss_gemm_out mode,
                                ss_gemm_plan_info *info);

/* ---- algorithms from tuning tables ---- */

/* One plan's algorithm as a tuning table stores it. */
typedef struct ss_gemm_alg {
    int alg_id, split_k, split_k_mode; /* cuSPARSELt (split_k_mode 0: library default) */
    uint64_t lt_algo[8];               /* cuBLASLt: the opaque cublasLtMatmulAlgo_t */
    int has_lt_algo;
} ss_gemm_alg;

/* The library call a plan makes, by name: "acc", "channel" (alpha vector /
 * outer vectors), "channel_scalar" (uniform weight scale), "token_channel"
 * (cuBLASLt FP8 full dequant), "bf16" (unscaled BF16 output). */
const char *ss_gemm_kind_name(int kind);

/* Installed by the tuning layer: returns 1 and fills *alg when it has an
 * algorithm for the plan; 0 lets the plan time / search as usual. An entry
 * the library rejects (another GPU or library version) falls back the same
 * way, with one warning per context. */
typedef int (*ss_gemm_alg_lookup)(void *user, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad,
                                  int64_t N_pad, int64_t K_act, ss_gemm_alg *alg);
void ss_gemm_ctx_set_alg_lookup(ss_gemm_ctx *ctx, ss_gemm_alg_lookup fn, void *user);

/* The plans of this context that have run, for the tuning layer to store:
 * calls fn for each ready plan. */
typedef void (*ss_gemm_plan_visit)(void *user, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad,
                                   int64_t N_pad, int64_t K_act, const ss_gemm_alg *alg, int from_table);
void ss_gemm_ctx_each_plan(ss_gemm_ctx *ctx, ss_gemm_plan_visit fn, void *user);

/* Test hook: launches a kernel that writes through an invalid address and
 * waits for it, so callers can check that a device fault is caught and
 * reported; the context (and the process's CUDA state) is unusable after. */
ss_status ss_gpu_plant_fault(ss_gemm_ctx *ctx);

/* Test hook: compares, on the GPU, the quant kernels' fast per-element
 * quantization (a multiplication by 1/s) with the exact one (an IEEE
 * division) for every BF16 x with |x| <= absmax, over n_scales row scales
 * s = absmax / qmax drawn from BF16 absmax values between 2^-30 and 2^20
 * (and the scale floor). d: SS_GEMM_INT8 or SS_GEMM_FP8E4M3. */
ss_status ss_gpu_selftest_quant(ss_gemm_ctx *ctx, ss_gemm_dtype d, int n_scales, uint64_t seed,
                                unsigned long long *checked, unsigned long long *mismatched);

/* ---- timing (CUDA events on the context's stream) ---- */

typedef struct ss_gpu_event ss_gpu_event;
ss_status ss_gpu_event_create(ss_gpu_event **ev);
void ss_gpu_event_destroy(ss_gpu_event *ev);
ss_status ss_gpu_event_record(ss_gpu_event *ev, ss_gemm_ctx *ctx);
/* Milliseconds between two recorded events (waits for `end`). */
ss_status ss_gpu_event_elapsed(ss_gpu_event *start, ss_gpu_event *end, float *ms);

/* Brackets the launches a profiler started with "profile from start off"
 * (ncu --profile-from-start off) records: on = 1 starts, 0 stops. */
ss_status ss_gpu_profiler(int on);

#ifdef __cplusplus
}
#endif

#endif
