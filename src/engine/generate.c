/* Greedy decoding: one prefill batch, then one token per forward pass. */
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"

int32_t ss_argmax(const float *logits, int n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best] || (logits[best] != logits[best] && logits[i] == logits[i])) best = i;
    return best;
}

ss_status ss_generate_begin(const int32_t *prompt_ids, int n_prompt, int max_new, int *n_out, ss_gen_stats *stats) {
    *n_out = 0;
    if (stats) memset(stats, 0, sizeof *stats);
    if (n_prompt <= 0 || !prompt_ids) return ss_fail(SS_ERR_ARG, "generate: the prompt is empty");
    if (max_new < 0) return ss_fail(SS_ERR_ARG, "generate: max_new=%d is negative", max_new);
    if (max_new > (1 << 30) - n_prompt)
        return ss_fail(SS_ERR_ARG, "generate: %d prompt + %d new tokens is too long", n_prompt, max_new);
    return SS_OK;
}

ss_status ss_generate_cpu_logits(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new,
                                 int stop_at_eos, int32_t *out_ids, int *n_out, ss_gen_stats *stats,
                                 ss_logits_fn on_logits, void *ctx) {
    SS_TRY(ss_generate_begin(prompt_ids, n_prompt, max_new, n_out, stats));
    if (max_new == 0) return SS_OK;

    ss_cpu_state *st;
    SS_TRY(ss_cpu_state_new(m, 1, n_prompt + max_new, &st));
    int32_t *seq = calloc((size_t)n_prompt, sizeof(int32_t)), *pos = malloc((size_t)n_prompt * sizeof(int32_t));
    float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    ss_status s = SS_OK;
    if (!seq || !pos || !logits) {
        s = ss_fail(SS_ERR_NOMEM, "generate: no memory for a prompt of %d tokens", n_prompt);
        goto done;
    }

    /* Prefill: the whole prompt in one batch, logits of its last token. */
    for (int i = 0; i < n_prompt; i++) pos[i] = i;
    int32_t last_row = n_prompt - 1;
    ss_batch b = {.n = n_prompt, .token = prompt_ids, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last_row};
    double t0 = ss_now();
    s = ss_cpu_forward(st, &b, logits);
    if (stats) stats->prefill_s = ss_now() - t0;
    if (s != SS_OK) goto done;

    /* Decode: feed back each argmax at the next position. */
    t0 = ss_now();
    for (;;) {
        if (on_logits && (s = on_logits(ctx, *n_out, logits, m->cfg.vocab)) != SS_OK) break;
        int32_t next = ss_argmax(logits, m->cfg.vocab);
        out_ids[(*n_out)++] = next;
        if (*n_out == max_new || (stop_at_eos && next == m->cfg.eos_id)) break;
        int32_t p = n_prompt + *n_out - 1, zero = 0, row = 0;
        ss_batch d = {.n = 1, .token = &next, .seq = &zero, .pos = &p, .n_logits = 1, .logit_rows = &row};
        if ((s = ss_cpu_forward(st, &d, logits)) != SS_OK) break;
    }
    if (stats) {
        stats->decode_s = ss_now() - t0;
        stats->n_prompt = n_prompt;
        stats->n_new = *n_out;
    }
done:
    free(seq);
    free(pos);
    free(logits);
    ss_cpu_state_free(st);
    return s;
}

ss_status ss_generate_cpu_stats(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new,
                                int stop_at_eos, int32_t *out_ids, int *n_out, ss_gen_stats *stats) {
    return ss_generate_cpu_logits(m, prompt_ids, n_prompt, max_new, stop_at_eos, out_ids, n_out, stats, NULL, NULL);
}

ss_status ss_generate_cpu(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new, int stop_at_eos,
                          int32_t *out_ids, int *n_out) {
    return ss_generate_cpu_stats(m, prompt_ids, n_prompt, max_new, stop_at_eos, out_ids, n_out, NULL);
}
