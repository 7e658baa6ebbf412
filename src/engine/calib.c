/* Calibration statistics from the CPU engine's forward pass (see calib.h). */
#include "engine/calib.h"

#include <stdlib.h>
#include <string.h>

#include "engine/forward_cpu.h"

ss_status ss_calib_stats_alloc(const ss_model_config *cfg, int with_gram, ss_calib_stats *out) {
    memset(out, 0, sizeof *out);
    out->n_layers = cfg->n_layers;
    out->dim[SS_CALIB_ATTN_IN] = cfg->hidden;
    out->dim[SS_CALIB_O_IN] = (int64_t)cfg->n_heads * cfg->head_dim;
    out->dim[SS_CALIB_MLP_IN] = cfg->hidden;
    out->dim[SS_CALIB_DOWN_IN] = cfg->intermediate;
    int64_t gram_bytes = 0;
    for (int i = 0; i < SS_CALIB_INPUTS; i++) gram_bytes += out->dim[i] * out->dim[i] * cfg->n_layers * 8;
    if (with_gram && gram_bytes > SS_CALIB_GRAM_MAX_BYTES)
        return ss_fail(SS_ERR_UNSUPPORTED, "calibration: SparseGPT's X^T X of every linear input would take %.1f GiB "
                       "(limit %.0f GiB); use wanda on a model this size", (double)gram_bytes / (1 << 30),
                       (double)SS_CALIB_GRAM_MAX_BYTES / (1 << 30));
    for (int i = 0; i < SS_CALIB_INPUTS; i++) {
        out->sumsq[i] = calloc((size_t)(out->dim[i] * cfg->n_layers), sizeof(double));
        if (with_gram) out->gram[i] = calloc((size_t)(out->dim[i] * out->dim[i] * cfg->n_layers), sizeof(double));
        if (!out->sumsq[i] || (with_gram && !out->gram[i])) {
            ss_calib_stats_free(out);
            return ss_fail(SS_ERR_NOMEM, "calibration: no memory for the statistics of %d layers", cfg->n_layers);
        }
    }
    return SS_OK;
}

void ss_calib_stats_free(ss_calib_stats *s) {
    if (!s) return;
    for (int i = 0; i < SS_CALIB_INPUTS; i++) {
        free(s->sumsq[i]);
        free(s->gram[i]);
    }
    memset(s, 0, sizeof *s);
}

ss_status ss_calib_collect(const ss_model *m, const int32_t *tokens, int64_t n_tokens, int ctx, int with_gram,
                           ss_calib_stats *out) {
    memset(out, 0, sizeof *out);
    if (n_tokens <= 0) return ss_fail(SS_ERR_ARG, "calibration: no tokens");
    if (ctx <= 0 || ctx > m->cfg.max_pos)
        return ss_fail(SS_ERR_ARG, "calibration: window of %d tokens; the model takes 1..%d", ctx, m->cfg.max_pos);
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab)
            return ss_fail(SS_ERR_ARG, "calibration: token %lld is %d, outside the vocabulary of %d", (long long)i,
                           tokens[i], m->cfg.vocab);
    SS_TRY(ss_calib_stats_alloc(&m->cfg, with_gram, out));
    ss_cpu_state *st = NULL;
    int32_t *seq = calloc((size_t)ctx, sizeof *seq), *pos = malloc((size_t)ctx * sizeof *pos);
    ss_status s = seq && pos ? ss_cpu_state_new(m, 1, ctx, &st) : ss_fail(SS_ERR_NOMEM, "calibration: out of memory");
    if (s == SS_OK) st->capture = out;
    for (int i = 0; i < ctx && pos; i++) pos[i] = i;
    for (int64_t t0 = 0; t0 < n_tokens && s == SS_OK; t0 += ctx) {
        const int n = n_tokens - t0 < ctx ? (int)(n_tokens - t0) : ctx;
        ss_cpu_state_reset(st);
        ss_batch b = {.n = n, .token = tokens + t0, .seq = seq, .pos = pos, .n_logits = 0};
        s = ss_cpu_forward(st, &b, NULL);
    }
    for (int i = 0; i < SS_CALIB_INPUTS && s == SS_OK && with_gram; i++) { /* the capture filled a <= b only */
        const int64_t K = out->dim[i];
        for (int l = 0; l < out->n_layers; l++) {
            double *g = out->gram[i] + (int64_t)l * K * K;
            for (int64_t a = 0; a < K; a++)
                for (int64_t b = 0; b < a; b++) g[a * K + b] = g[b * K + a];
        }
    }
    ss_cpu_state_free(st);
    free(seq);
    free(pos);
    if (s != SS_OK) ss_calib_stats_free(out);
    return s;
}
