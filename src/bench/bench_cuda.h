/* Prefill and decode throughput on the GPU engine (tasks 4 and 5), the
 * method of SPEC section 2 and bench_cpu.h:
 *   prefill point M: prompts of p = min(M, max_prompt) tokens, ceil(M / p)
 *     sequences in ONE forward pass, one output token each (the pass's
 *     argmax); warm-up passes (they also create the GEMM plans), then timed
 *     passes, median reported.
 *   decode point M: M sequences, prompts of decode_prompt tokens prefilled
 *     in one pass, then decode_output - 1 greedy steps of the whole batch
 *     replaying one CUDA graph; the pass (prefill + decode) is timed whole,
 *     as the reference's vLLM run was.
 * tokens/s counts prompt and output tokens (as the reference did);
 * output tokens/s counts generated tokens. Each point also records the
 * device memory in use at its end (weights, KV cache, activations and GEMM
 * workspaces: the point's peak, as nothing is freed during it), the SM
 * clock and board power while it ran (NVML), and a profile (GEMM vs
 * attention vs the rest, from CUDA events between eager launches) of one
 * prefill pass, or of one decode step at about the mean context length.
 *
 * Results: bench/throughput_results.h's CSV and JSON (backend "cublaslt" for
 * the dense baseline, "cusparselt/<2_L>" for slid models) plus
 * <Model>_<stage>_gpu.csv beside them with the columns above. */
#ifndef SS_BENCH_BENCH_CUDA_H
#define SS_BENCH_BENCH_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "bench/throughput_results.h"
#include "core/status.h"
#include "engine/cuda/engine_cuda.h"

typedef struct ss_bench_cuda_opts {
    ss_tp_stage stage;
    const int64_t *m_list; /* [n_m] points */
    int n_m;
    int max_prompt;        /* prefill prompt cap; default 1024 */
    int decode_prompt;     /* default 16 */
    int decode_output;     /* default 256 */
    int warmup;            /* untimed passes per point; default 2 (decode 1) */
    int repeats;           /* timed passes per point; default 5 (decode 3) */
    int use_graph;         /* decode through CUDA graphs; default 1 */
    int profile;           /* 1: one extra profiled pass per point (eager); default 1 */
    uint64_t seed;         /* prompt token ids */
    const char *tune_dir;  /* task 3's tuning tables (NULL: the library heuristics, timed) */
    int old_kernels;       /* 1: the engine's earlier kernels where a newer one replaced them
                            * (decode attention on CUDA cores, SS_ATTN_DECODE=old), to time
                            * before against after in one process; 0: the engine's defaults */
    ss_residual residual;  /* the engines' residual precision (AUTO: their default) */
    ss_attn_prefill_kind attn_prefill; /* the engines' prefill attention (AUTO: their default) */
    ss_kv_cache_kind kv_cache;         /* the engines' KV cache format (AUTO: their default) */
} ss_bench_cuda_opts;

/* Zeroes *o and sets the stage and the defaults above. */
void ss_bench_cuda_defaults(ss_bench_cuda_opts *o, ss_tp_stage stage);

typedef struct ss_bench_cuda_point {
    ss_tp_point tp;
    size_t mem_used;             /* device bytes in use at the end of the point (cudaMemGetInfo) */
    size_t engine_bytes;         /* KV cache + activations of this point's engine */
    double sm_mhz, power_w;      /* mean over the timed passes (0 without NVML) */
    double prof_ms[SS_PROF_COUNT]; /* GEMM, attention, other: of one prefill pass, or of one decode step */
    double prefill_s;            /* decode points: the prefill part of the median pass */
} ss_bench_cuda_point;

/* Runs every point of o on an already loaded GPU model (pts: [o->n_m]).
 * A point that fails (e.g. out of memory) stops the run with its error. */
ss_status ss_bench_cuda_run(ss_cuda_model *cm, const ss_bench_cuda_opts *o, ss_bench_cuda_point *pts);

/* Result folder of a run: <results>/throughput_benchmark_results/<stage>/<GPU>_cc<cc>_<DTYPE>_<toolchain>/
 * {cublaslt | cusparselt/<2_L>} (backend and sparsity from cm). */
ss_status ss_bench_cuda_dir(ss_cuda_model *cm, const char *results, ss_tp_stage stage, char *out, size_t cap);

/* Writes the points (CSV, JSON per point, and the _gpu.csv columns) under dir. */
ss_status ss_bench_cuda_write(const char *dir, const char *model_name, ss_tp_stage stage,
                              const ss_bench_cuda_point *pts, int n);

/* The whole task for a checkpoint folder, as the CLI runs it: loads the
 * model (backend: cusparselt for slid checkpoints, else cublaslt; FAST
 * dequant), runs the points, writes the results; *out_dir (may be NULL)
 * receives the result folder. */
ss_status ss_bench_cuda(const char *model_dir, const char *results_dir, const ss_bench_cuda_opts *o, char *out_dir,
                        size_t cap);

#endif
