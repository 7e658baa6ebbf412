/* Prefill and decode throughput on the CPU reference engine (tasks 4-5 of
 * the `tiny` preset on a machine without a GPU). It is slow and exists so
 * that the whole pipeline runs, and is checked, everywhere; it measures the
 * reference engine, not SlideSparse's speed: the CPU computes a slid layer
 * densely over K_slid, so slid "speedups" here only show the expansion cost.
 *
 * The method is SPEC section 2's, the same as the CUDA benchmark:
 *   prefill point M: prompts of min(M, max_prompt) tokens, ceil(M / prompt)
 *     of them in one forward pass, one output token each (from the pass's
 *     logits); warm-up passes, then timed passes, median reported.
 *   decode point M: M sequences with prompts of decode_prompt tokens,
 *     prefilled in one pass, then decode_output - 1 single-token steps of the
 *     whole batch (decode_output tokens each); the pass is timed whole, as
 *     the reference's vLLM run timed prefill plus decode.
 * Prompt tokens are pseudo-random ids (seeded). Results go to the layout of
 * bench/throughput_results.h with HW "CPU", backend "cpu_dense" for an
 * unslid model and "cpu_slid/<2_L>" for a slid one.
 */
#ifndef SS_BENCH_BENCH_CPU_H
#define SS_BENCH_BENCH_CPU_H

#include <stdint.h>

#include "bench/throughput_results.h"
#include "core/status.h"

typedef struct ss_bench_cpu_opts {
    const char *model_dir;   /* checkpoint folder */
    const char *results_dir; /* root of the result tree */
    ss_tp_stage stage;
    const int64_t *m_list;   /* [n_m] points */
    int n_m;
    int max_prompt;          /* prefill prompt cap; default 1024 */
    int decode_prompt;       /* default 16 */
    int decode_output;       /* default 256 */
    int warmup;              /* untimed passes per point; default 1 (decode: 0) */
    int repeats;             /* timed passes per point; default 3 (decode: 1) */
    uint64_t seed;
} ss_bench_cpu_opts;

/* Zeroes *o and sets the stage and the defaults above (call first, then override). */
void ss_bench_cpu_defaults(ss_bench_cpu_opts *o, ss_tp_stage stage);

/* Runs every point, writing each point's JSON as it completes and the CSV at
 * the end; *out_dir (may be NULL) receives the result folder. */
ss_status ss_bench_cpu(const ss_bench_cpu_opts *o, char *out_dir, size_t cap);

#endif
