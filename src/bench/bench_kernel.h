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
    int profile;       /* after timing, one quant + GEMM call between profiler start and stop (default 0) */
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
    int from_table;            /* the GEMM's algorithm came from a tuning table */
} ss_kbench_point;

/* Runs the points for every M of Ms on one weight. out[nM] is always filled:
 * an unsupported dtype/backend gives ok = 0 and "skipped: ..." for every M
 * and SS_OK; a failure of one M is recorded in its point and the others
 * still run. Returns an error only for a broken context (a device fault). */
ss_status ss_kbench_run(ss_gemm_ctx *ctx, ss_backend backend, ss_gemm_dtype dtype, int L, int64_t N, int64_t K,
                        const int64_t *Ms, int nM, const ss_kbench_opts *opts, ss_kbench_point *out);

/* "dense", "2_4", ..., "2_inf" */
const char *ss_kbench_sparsity_name(int L, char *buf, int cap);

/* ---- jobs: one (library, dtype, sparsity) over the model's (N, K) pairs ---- */

typedef struct ss_model_config ss_model_config;

/* The model's 4 linear shapes (N, K): qkv, o, gate_up, down. */
void ss_kbench_model_nk(const ss_model_config *c, int64_t N[4], int64_t K[4]);

typedef struct ss_kbench_job {
    ss_backend backend;        /* cublaslt (dense, L = 0) or cusparselt (L != 0) */
    ss_gemm_dtype dtype;
    int L;                     /* 0 dense, 4..SS_L_MAX, SS_L_INF */
    const char *model;         /* base model name for file names, e.g. "BitNet-2B" */
    const int64_t *N, *K;      /* [n_nk] */
    int n_nk;
    const int64_t *M;          /* [n_m] */
    int n_m;
    const char *results;       /* result tree root; NULL writes no files */
    const char *tune_dir;      /* tuning tables to use; NULL: search as usual */
    int planted_fault;         /* test hook: fault the device before the first point */
} ss_kbench_job;

/* Runs the job in this process (pts: [n_nk * n_m], (N,K)-major) and, with
 * job->results, writes its files in the reference layout:
 *   <results>/benchmark_kernel/{cuBLASLt,cuSPARSELt}/alg_search_results/<HW>_<TOOLCHAIN>/<DT>/
 *       alg_search_<model>-<DT>[_2_L].csv and .json
 * (DT: FP16, BF16, INT8, FP8, FP4). CSV columns: M,N,K,K_used,lat_us (the
 * GEMM alone), lat_us_min, lat_us_max, fused_us, linear_us, tops (on the
 * logical K), speedup (dense lat_us / this lat_us, when the dense file of the
 * same model, dtype and hardware exists), alg_id, split_k, candidate,
 * candidates, from_table, sm_mhz, power_w, status. The JSON holds the same
 * points, the method, and totals per M over the (N, K) pairs.
 * Returns SS_OK when every point ran; SS_ERR_UNSUPPORTED when the GPU or
 * library cannot run the job (files still written, status "skipped: why");
 * else the first error (a device fault: SS_ERR_CUDA). csv_path (may be
 * NULL) receives the CSV written. */
ss_status ss_kbench_job_run(const ss_kbench_job *job, const ss_kbench_opts *o, ss_kbench_point *pts, char *csv_path,
                            size_t cap);

/* The same in a child process (fork), so a device fault loses this job only
 * and the next job starts with a clean CUDA context. The calling process
 * must not have initialised CUDA (the pipeline never does: its jobs are
 * child processes already). A child killed by a signal marks every point
 * "error: job process killed by signal N". */
ss_status ss_kbench_job_isolated(const ss_kbench_job *job, const ss_kbench_opts *o, ss_kbench_point *pts);

/* Number of CUDA devices, asked of a child process (keeps this one CUDA-free). */
int ss_gpu_count_isolated(void);
/* Device description, asked of a child process. */
ss_status ss_gpu_info_isolated(ss_gpu_info *info);

/* Writes the job's files (see ss_kbench_job_run) for points already measured. */
ss_status ss_kbench_write(const ss_kbench_job *job, const ss_gpu_info *gpu, const char *toolchain,
                          const ss_kbench_opts *o, const ss_kbench_point *pts, char *csv_path, size_t cap);

/* ---- offline tuning (task 3) ---- */

typedef struct ss_kbench_tune_spec {
    const char *model;         /* tuned model name, the table's file name, e.g. "BitNet-2B-INT8" */
    ss_gemm_dtype dtype;
    const int *L;              /* sparsities to tune: 0 = dense cuBLASLt, else cuSPARSELt on slid weights */
    int n_L;
    const int64_t *N, *K;
    int n_nk;
    const int64_t *M;          /* M buckets, e.g. 64..32768 */
    int n_m;
    const char *results;       /* root: the table goes to <results>/tuning/<HW>_<TOOLCHAIN>/<model>.json */
    int64_t head_N, head_K;    /* the BF16 lm_head [vocab, hidden] on cuBLASLt, tuned for the M buckets
                                  <= SS_TUNE_HEAD_MAX_M (it sees one row per sequence); 0: none */
} ss_kbench_tune_spec;

#define SS_TUNE_HEAD_MAX_M 512

/* For every (sparsity, N, K, M) runs the GEMM in each output mode an engine
 * uses (timing the cuBLASLt candidates / cusparseLtMatmulSearch) and stores
 * the chosen algorithms. cuSPARSELt weights are tuned twice for the
 * channel-scaled output: with one scale (the "channel_scalar" call) and with
 * per-channel scales (the "channel" call of a fused q/k/v or gate/up
 * weight). table_path (may be NULL) receives the file written. */
ss_status ss_kbench_tune(const ss_kbench_tune_spec *s, char *table_path, size_t cap);
/* The same in a child process (the caller stays CUDA-free). */
ss_status ss_kbench_tune_isolated(const ss_kbench_tune_spec *s, char *table_path, size_t cap);

#endif
