/* Greedy generation on the CPU reference engine. */
#ifndef SS_ENGINE_GENERATE_H
#define SS_ENGINE_GENERATE_H

#include <stdint.h>

#include "core/status.h"
#include "engine/model.h"

/* Index of the largest logit; the lowest index wins ties (NaNs never win). */
int32_t ss_argmax(const float *logits, int n);

typedef struct ss_gen_stats {
    int n_prompt;     /* tokens prefilled in one batch */
    int n_new;        /* tokens generated (the first comes from the prefill's logits) */
    double prefill_s; /* wall time of the prefill forward pass */
    double decode_s;  /* wall time of the n_new - 1 single-token decode steps */
} ss_gen_stats;

/* Prefills prompt_ids[n_prompt] in one batch, then decodes token by token,
 * picking the argmax each step, until max_new tokens or, when stop_at_eos,
 * the model's eos token (which is kept as the last output). out_ids holds
 * room for max_new ids; *n_out receives how many were generated. */
ss_status ss_generate_cpu(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new, int stop_at_eos,
                          int32_t *out_ids, int *n_out);
/* Same, also reporting timings (stats may be NULL). */
ss_status ss_generate_cpu_stats(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new,
                                int stop_at_eos, int32_t *out_ids, int *n_out, ss_gen_stats *stats);

/* Receives, in order, the logits [vocab] (float32) that generated token
 * `step` was chosen from: step 0 those of the prompt's last position, step
 * k those after feeding token k-1. A failure stops the generation. */
typedef ss_status (*ss_logits_fn)(void *ctx, int step, const float *logits, int vocab);

/* What every greedy generator (CPU and CUDA) does first: *n_out = 0, stats
 * zeroed, and the prompt and max_new checked (an empty prompt, a negative
 * max_new or a sequence past 2^30 tokens is SS_ERR_ARG). */
ss_status ss_generate_begin(const int32_t *prompt_ids, int n_prompt, int max_new, int *n_out, ss_gen_stats *stats);

/* ss_generate_cpu_stats that also hands every step's logits to on_logits (may be NULL). */
ss_status ss_generate_cpu_logits(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new,
                                 int stop_at_eos, int32_t *out_ids, int *n_out, ss_gen_stats *stats,
                                 ss_logits_fn on_logits, void *ctx);

#endif
