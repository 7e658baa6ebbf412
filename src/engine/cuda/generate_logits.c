/* Greedy generation on the GPU engine with every step's logits on the host
 * (generate --logits): the prefill and then one eager ss_cuda_forward per
 * token, each copying its logits row back, the argmax taken on the host
 * (ss_argmax, as the CPU engine). Built with and without CUDA: it uses only
 * the engine's public calls, which report "built without CUDA" in a build
 * without it. */
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "engine/cuda/engine_cuda.h"

ss_status ss_generate_cuda_logits(const ss_model *m, const ss_cuda_gen_opts *o, const int32_t *prompt_ids,
                                  int n_prompt, int max_new, int stop_at_eos, int32_t *out_ids, int *n_out,
                                  ss_gen_stats *stats, ss_logits_fn on_logits, void *ctx) {
    SS_TRY(ss_generate_begin(prompt_ids, n_prompt, max_new, n_out, stats));
    if (max_new == 0) return SS_OK;
    ss_cuda_gen_opts def = {.use_graph = 0};
    if (!o) o = &def;

    ss_cuda_model *cm = NULL;
    ss_cuda_engine *e = NULL;
    int32_t *seq = calloc((size_t)n_prompt, sizeof(int32_t)), *pos = malloc((size_t)n_prompt * sizeof(int32_t));
    float *logits = malloc((size_t)m->cfg.vocab * sizeof(float));
    ss_status st = (seq && pos && logits) ? SS_OK : ss_fail(SS_ERR_NOMEM, "generate: no memory for a prompt of %d", n_prompt);
    if (st == SS_OK) st = ss_cuda_model_load(m, &o->model, &cm);
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = n_prompt + max_new, .max_tokens = n_prompt, .max_logits = 1};
    if (st == SS_OK) st = ss_cuda_engine_new(cm, &eo, &e);
    double t0 = ss_now();
    if (st == SS_OK) {
        for (int i = 0; i < n_prompt; i++) pos[i] = i;
        int32_t last_row = n_prompt - 1;
        ss_batch b = {.n = n_prompt, .token = prompt_ids, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last_row};
        st = ss_cuda_forward(e, &b, logits);
        if (stats) stats->prefill_s = ss_now() - t0;
    }
    t0 = ss_now();
    while (st == SS_OK) {
        if (on_logits && (st = on_logits(ctx, *n_out, logits, m->cfg.vocab)) != SS_OK) break;
        int32_t next = ss_argmax(logits, m->cfg.vocab);
        out_ids[(*n_out)++] = next;
        if (*n_out == max_new || (stop_at_eos && next == m->cfg.eos_id)) break;
        int32_t p = n_prompt + *n_out - 1, zero = 0, row = 0;
        ss_batch d = {.n = 1, .token = &next, .seq = &zero, .pos = &p, .n_logits = 1, .logit_rows = &row};
        st = ss_cuda_forward(e, &d, logits);
    }
    if (stats && st == SS_OK) {
        stats->decode_s = ss_now() - t0;
        stats->n_prompt = n_prompt;
        stats->n_new = *n_out;
    }
    ss_cuda_engine_free(e);
    ss_cuda_model_free(cm);
    free(seq);
    free(pos);
    free(logits);
    return st;
}
