/* Result files of the prefill and decode throughput benchmarks (tasks 4-5),
 * in the reference system's layout (notes/reference-system.md section 5):
 *
 *   <results>/throughput_benchmark_results/<stage>/<HW>_<DTYPE>_<TOOLCHAIN>/<backend>[/<2_L>]/
 *       <Model>_<stage>.csv          one row per M, sorted by M
 *       json/<Model>_M<M>.json       one file per point
 *
 *   stage     "prefill" | "decode"
 *   HW        "<GPU>_cc<major><minor>" on a GPU, "CPU" on the CPU reference engine
 *   DTYPE     "INT8" | "FP8E4M3" (| "BF16" for an unquantized model)
 *   TOOLCHAIN e.g. "gcc12_cu130_cslt0.10.0_x86_64" (ss_toolchain_tag_lib)
 *   backend   the dense baseline ("cublaslt"; "cpu_dense" on the CPU) holds the
 *             CSV itself; sparse backends ("cusparselt"; "cpu_slid") hold one
 *             sub-folder per sparsity.
 *   Model     the checkpoint folder name without "-SlideSparse-2_L", so the
 *             dense and sparse runs of one model share a file name.
 *
 * CSV columns: the reference's, then ours:
 *   prefill: M_prefill,prompt_len,max_num_seqs,num_prompts,N_prefill,requests_per_s,tokens_per_s,elapsed_time_s,
 *            output_tokens_per_s,median_pass_s
 *   decode:  M_decode,prompt_len,max_num_seqs,num_prompts,N_decode,output_len,requests_per_s,tokens_per_s,
 *            elapsed_time_s,output_tokens_per_s,median_pass_s
 * tokens_per_s counts prompt and output tokens together (as vLLM, and so the
 * reference, counted them); output_tokens_per_s counts generated tokens only.
 * Both use the median timed pass; elapsed_time_s sums the timed passes.
 */
#ifndef SS_BENCH_THROUGHPUT_RESULTS_H
#define SS_BENCH_THROUGHPUT_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef enum ss_tp_stage { SS_TP_PREFILL = 0, SS_TP_DECODE = 1 } ss_tp_stage;

const char *ss_tp_stage_name(ss_tp_stage s); /* "prefill", "decode" */

/* One measured point. */
typedef struct ss_tp_point {
    int64_t M;            /* prefill: tokens per forward pass; decode: batch size */
    int prompt_len;       /* tokens per prompt */
    int output_len;       /* generated tokens per sequence (1 for prefill) */
    int max_num_seqs;     /* sequences per pass */
    int n_passes;         /* timed passes (the reference's N_prefill / N_decode) */
    double elapsed_s;     /* sum of the timed passes */
    double median_pass_s; /* median timed pass */
} ss_tp_point;

/* Rates derived from a point (per second, from the median pass). */
double ss_tp_requests_per_s(const ss_tp_point *p);
double ss_tp_tokens_per_s(const ss_tp_point *p);        /* prompt + output tokens */
double ss_tp_output_tokens_per_s(const ss_tp_point *p); /* output tokens only */

/* "INT8", "FP8E4M3", "BF16" from a checkpoint's quant name ("int8", "fp8_e4m3", "none"). */
const char *ss_tp_dtype_tag(const char *quant_name);

/* Toolchain part of result folder names: "<cc><major>[_cu<major><minor>]_<machine>",
 * e.g. "gcc12_cu130_x86_64"; the CUDA part only when built with CUDA. */
void ss_toolchain_tag(char *out, size_t cap);
/* The tag of result folders written by the CUDA layers: with the cuSPARSELt
 * version that loaded (cusparseLtGetVersion) after the CUDA part, e.g.
 * "gcc12_cu130_cslt0.10.0_x86_64", so results of two library versions never
 * share a folder; cusparselt_version 0 (not loaded, or a CPU build) gives
 * ss_toolchain_tag's. */
void ss_toolchain_tag_lib(int cusparselt_version, char *out, size_t cap);
/* The same in words, e.g. "gcc 12.2.0, CUDA 13.0 (build), x86_64". */
void ss_toolchain_desc(char *out, size_t cap);

/* Model name of a checkpoint folder: its last path component without a
 * "-SlideSparse-2_L" suffix. */
void ss_tp_model_name(const char *ckpt_dir, char *out, size_t cap);

/* <results>/throughput_benchmark_results/<stage>/<hw>_<dtype>_<toolchain>/<backend>[/<sparsity>];
 * sparsity NULL or "" for the dense baseline. */
ss_status ss_tp_dir(char *out, size_t cap, const char *results, ss_tp_stage stage, const char *hw, const char *dtype,
                    const char *toolchain, const char *backend, const char *sparsity);

/* Writes json/<model>_M<M>.json under dir (atomically; creates json/). */
ss_status ss_tp_write_point_json(const char *dir, const char *model, ss_tp_stage stage, const ss_tp_point *p);
/* Writes <model>_<stage>.csv under dir (atomically), rows in the given order. */
ss_status ss_tp_write_csv(const char *dir, const char *model, ss_tp_stage stage, const ss_tp_point *pts, int n);

#endif
