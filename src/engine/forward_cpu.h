/* The CPU reference forward pass: the oracle the GPU engine is tested against.
 *
 * One call runs a batch of tokens drawn from several sequences at once, the
 * shape a serving engine (and our GPU engine) uses: token i belongs to
 * sequence seq[i] at position pos[i]. A prefill chunk of one sequence and
 * single decode tokens of others mix freely. The linear layers see all the
 * batch's tokens at once (M = n tokens); attention runs per token over its
 * own sequence's KV cache up to its position. Logits are computed only for
 * the rows asked for (typically each sequence's last token).
 *
 *     ss_cpu_state *st;
 *     SS_TRY(ss_cpu_state_new(&model, 2, 64, &st));
 *     int32_t tok[] = {5, 7, 9, 3}, seq[] = {0, 0, 0, 1}, pos[] = {0, 1, 2, 0}, rows[] = {2, 3};
 *     ss_batch b = {.n = 4, .token = tok, .seq = seq, .pos = pos, .n_logits = 2, .logit_rows = rows};
 *     SS_TRY(ss_cpu_forward(st, &b, logits));   // logits: [2, vocab]
 */
#ifndef SS_ENGINE_FORWARD_CPU_H
#define SS_ENGINE_FORWARD_CPU_H

#include <stdint.h>

#include "core/status.h"
#include "engine/model.h"
#include "engine/rope.h"

typedef struct ss_batch {
    int n;                     /* tokens in the batch */
    const int32_t *token;      /* [n] ids, 0 <= id < vocab */
    const int32_t *seq;        /* [n] sequence slot, 0 <= seq < max_seqs */
    const int32_t *pos;        /* [n] position, 0 <= pos < max_len */
    int n_logits;              /* rows whose logits are wanted */
    const int32_t *logit_rows; /* [n_logits] indices into the batch */
} ss_batch;

/* Rules for a batch (checked; a violation is SS_ERR_ARG naming the token):
 * the tokens of one sequence appear in increasing, consecutive positions
 * (they need not be adjacent in the batch), and the first of them is at most
 * the sequence's current length (continuing it, or rewinding it). */

/* Precision of the residual stream x. F32: float32 sums (the reference's
 * default). BF16: x rounded to BF16 after the embedding and after every
 * residual add (x = bf16(x + out), the add in float), as a BF16 model
 * carries it in transformers and vLLM; half the bytes on the GPU. Both
 * engines implement both, bit for bit the same roundings. */
typedef enum ss_residual { SS_RESIDUAL_AUTO = 0, SS_RESIDUAL_F32, SS_RESIDUAL_BF16 } ss_residual;
/* AUTO: $SS_RESIDUAL ("f32" or "bf16") when set, else F32; other values
 * pass through. SS_ERR_ARG naming a value that is neither. */
ss_status ss_residual_resolve(ss_residual r, ss_residual *out);
/* "f32", "bf16" (NULL for AUTO or out of range). */
const char *ss_residual_name(ss_residual r);

typedef struct ss_cpu_state {
    const ss_model *model;
    int max_seqs, max_len;
    uint16_t *k_cache, *v_cache; /* [n_layers, max_seqs, max_len, kv_dim], BF16 */
    int *seq_len;                /* [max_seqs] positions written so far */
    ss_residual residual;        /* ss_cpu_state_new: $SS_RESIDUAL or F32; may be set before a forward */
    double *inv_freq;            /* [head_dim/2] RoPE frequencies (engine/rope.h) */
    double rope_scale;           /* multiplies cos and sin (yarn's attention_factor, else 1) */
    struct ss_calib_stats *capture; /* when set, every forward adds its linears' input statistics (engine/calib.h) */
} ss_cpu_state;

/* KV cache for up to max_seqs sequences of up to max_len positions each. */
ss_status ss_cpu_state_new(const ss_model *m, int max_seqs, int max_len, ss_cpu_state **out);
void ss_cpu_state_free(ss_cpu_state *s);
/* Forgets every sequence (lengths back to 0). */
void ss_cpu_state_reset(ss_cpu_state *s);

/* Checks a batch against the rules above for a KV cache of max_seqs
 * sequences of max_len positions, seq_len[q] positions already written.
 * Shared by the CPU and CUDA engines. */
ss_status ss_batch_check(const ss_batch *b, int vocab, int max_seqs, int max_len, const int *seq_len);

/* Runs the batch; logits: [b->n_logits, vocab] floats. */
ss_status ss_cpu_forward(ss_cpu_state *s, const ss_batch *b, float *logits);

#endif
