/* Kernel benchmark of the GPU linear layer (tasks 6-8): one (backend,
 * dtype, sparsity, N, K) weight, timed over a list of M.
 *
 * Data is distributed like the real model's, the same for dense and sparse:
 * 8-bit weights are BitNet-style ternary codes (-1/0/+1, ~31% zeros, the
 * absmean rule applied to Gaussian values), 16-bit weights Gaussian; then
 * pruned to 2:L (L finite) and slid. Activations are Gaussian BF16 rows,
 * quantized per token by our kernel. (Constant data runs 10-15% faster on a
 * power-capped H100: never benchmark zeros.)
 *
 * Three times per point, each the median of `repeats` batches of
 * back-to-back calls timed with CUDA events after `warmup` untimed calls
 * (the first call also builds and tunes the plan: never timed):
 *   gemm_us    the library GEMM alone on ready operands, in the output mode
 *              an engine uses: channel-scaled BF16 (INT8/FP8; with the
 *              uniform ternary scale a scalar alpha) except cuBLASLt INT8 ->
 *              INT32 accumulators (its only output); BF16/FP16 -> BF16
 *              (cuBLASLt) or the input type (cuSPARSELt);
 *   fused_us   quant (+slide) kernel + that GEMM, + the dequant pass where
 *              the GEMM cannot scale (cuBLASLt INT8): everything the layer
 *              costs when the per-token scale of a channel-scaled output is
 *              applied by the consumer's own kernel;
 *   linear_us  ss_gemm_linear: quant (+slide), GEMM, dequant + bias to a
 *              finished BF16 [M, N] (a separate pass where not fused).
 * The weight's L2 residency is not flushed between calls (as the reference
 * system measured); SM clock and power are sampled through NVML during the
 * gemm timing when available. */
#ifndef SS_BENCH_BENCH_KERNEL_H
#define SS_BENCH_BENCH_KERNEL_H

#include <stdint.h>

#include "core/status.h"
#include "gemm/gemm.h"

typedef struct ss_kbench_opts {
    int warmup;        /* untimed calls before timing (default 3) */
    int repeats;       /* timed batches; the median is reported (default 10) */
    double batch_us;   /* a batch repeats the call until it lasts about this long (default 1000) */
    uint64_t seed;     /* data */
    int time_linear;   /* also time ss_gemm_linear (default 1) */
} ss_kbench_opts;

void ss_kbench_opts_default(ss_kbench_opts *o);

typedef struct ss_kbench_point {
    ss_backend backend;
    ss_gemm_dtype dtype;
    int L;                 /* 0 = dense (not slid); SS_L_INF = 2_inf */
    int64_t M, N, K, K_act;
    int ok;                /* 0: see status */
    char status[320];      /* "ok", "skipped: <reason>" or "error: <message>" */
    double gemm_us, fused_us, linear_us;
    double gemm_us_min, gemm_us_max; /* spread of the gemm batches */
    int alg_id, split_k;   /* cuSPARSELt */
    int candidate, candidates; /* cuBLASLt: chosen index among the timed heuristic candidates */
    double sm_mhz, power_w;    /* NVML means during the gemm timing; 0 if unknown */
} ss_kbench_point;

/* Runs the points for every M of Ms on one weight. out[nM] is always filled:
 * an unsupported dtype/backend gives ok = 0 and "skipped: ..." for every M
 * and SS_OK; a failure of one M is recorded in its point and the others
 * still run. Returns an error only for a broken context (a device fault). */
ss_status ss_kbench_run(ss_gemm_ctx *ctx, ss_backend backend, ss_gemm_dtype dtype, int L, int64_t N, int64_t K,
                        const int64_t *Ms, int nM, const ss_kbench_opts *opts, ss_kbench_point *out);

/* "dense", "2_4", ..., "2_inf" */
const char *ss_kbench_sparsity_name(int L, char *buf, int cap);

#endif
