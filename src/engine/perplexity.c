/* Sliding-window perplexity: the windows, the sum, and the CPU engine's
 * scorer. The convention is stated in perplexity.h. */
#include <math.h>
#include <stdlib.h>

#include "core/timer.h"
#include "engine/forward_cpu.h"
#include "engine/perplexity.h"

ss_status ss_ppl_plan(int64_t n, int ctx, int stride, ss_ppl_window **out, int64_t *n_windows) {
    *out = NULL;
    *n_windows = 0;
    if (ctx < 2) return ss_fail(SS_ERR_ARG, "perplexity: context %d is too short (at least 2 tokens)", ctx);
    if (stride < 1 || stride > ctx)
        return ss_fail(SS_ERR_ARG, "perplexity: stride %d must be in [1, ctx = %d]", stride, ctx);
    if (n < 2) return ss_fail(SS_ERR_ARG, "perplexity: %lld token(s) leave nothing to score (at least 2)", (long long)n);
    int64_t cap = (n + stride - 1) / stride + 1;
    ss_ppl_window *w = malloc((size_t)cap * sizeof *w);
    if (!w) return ss_fail(SS_ERR_NOMEM, "perplexity: no memory for %lld windows", (long long)cap);
    int64_t k = 0, prev_end = 0;
    for (int64_t begin = 0; begin < n; begin += stride) {
        int64_t end = begin + ctx < n ? begin + ctx : n;
        int64_t first = prev_end > begin + 1 ? prev_end : begin + 1;
        /* a window of one new token (disjoint windows, n = k*ctx + 1) scores nothing: not run */
        if (first < end) w[k++] = (ss_ppl_window){.begin = begin, .end = end, .first_target = first};
        prev_end = end;
        if (end == n) break;
    }
    *out = w;
    *n_windows = k;
    return SS_OK;
}

double ss_nll_from_logits(const float *logits, int vocab, int32_t target) {
    double mx = -INFINITY;
    for (int j = 0; j < vocab; j++)
        if (logits[j] > mx || isnan(logits[j])) mx = logits[j];
    if (!isfinite(mx)) return NAN;
    double sum = 0;
    for (int j = 0; j < vocab; j++) sum += exp((double)logits[j] - mx);
    return log(sum) + mx - (double)logits[target];
}

int ss_ppl_chunk_rows(int vocab, int ctx, int64_t bytes) {
    int64_t rows = bytes / ((int64_t)vocab * (int64_t)sizeof(float));
    if (rows < 1) rows = 1;
    return rows < ctx ? (int)rows : ctx;
}

/* Scratch for one window: batch arrays of up to max(max_tokens, chunk) rows. */
typedef struct window_buf {
    int32_t *seq, *pos, *rows, *targets;
} window_buf;

/* Feeds tokens[from, to) at positions from..to-1; with nll, every row is
 * scored against the token that follows it. */
static ss_status feed(const ss_nll_engine *e, window_buf *wb, const int32_t *tokens, int from, int to, double *nll) {
    const int n = to - from;
    for (int i = 0; i < n; i++) {
        wb->pos[i] = from + i;
        wb->rows[i] = i;
        wb->targets[i] = tokens[from + i + 1];
    }
    ss_batch b = {.n = n, .token = tokens + from, .seq = wb->seq, .pos = wb->pos, .n_logits = nll ? n : 0,
                  .logit_rows = wb->rows};
    return e->step(e->engine, &b, wb->targets, nll);
}

/* One window of n tokens as a fresh sequence; nll[r] for targets first + r. */
static ss_status run_window(const ss_nll_engine *e, window_buf *wb, const int32_t *tokens, int n, int first,
                            double *nll) {
    e->reset(e->engine);
    /* the logits at t - 1 predict t: [0, first - 1) is context only, [first - 1, n - 1) is scored */
    for (int from = 0; from < first - 1; from += e->max_tokens) {
        int to = from + e->max_tokens < first - 1 ? from + e->max_tokens : first - 1;
        SS_TRY(feed(e, wb, tokens, from, to, NULL));
    }
    for (int from = first - 1; from < n - 1; from += e->chunk) {
        int to = from + e->chunk < n - 1 ? from + e->chunk : n - 1;
        SS_TRY(feed(e, wb, tokens, from, to, nll + (from + 1 - first)));
    }
    return SS_OK;
}

ss_status ss_perplexity(const ss_nll_engine *e, const int32_t *tokens, int64_t n, int vocab, int ctx, int stride,
                        ss_ppl_result *res, double *per_token) {
    *res = (ss_ppl_result){.ctx = ctx, .stride = stride, .n_tokens = n};
    if (e->max_tokens < 1 || e->chunk < 1 || e->chunk > e->max_tokens)
        return ss_fail(SS_ERR_ARG, "perplexity: engine steps of %d tokens / %d logit rows", e->max_tokens, e->chunk);
    for (int64_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return ss_fail(SS_ERR_ARG, "perplexity: token %d at position %lld is outside the vocabulary [0, %d)",
                           tokens[i], (long long)i, vocab);
    ss_ppl_window *w;
    int64_t nw;
    SS_TRY(ss_ppl_plan(n, ctx, stride, &w, &nw));
    const size_t longest = (size_t)(n < ctx ? n : ctx), rows = (size_t)e->max_tokens;
    double *nll = malloc(longest * sizeof *nll);
    window_buf wb = {calloc(rows, sizeof(int32_t)), malloc(rows * sizeof(int32_t)), malloc(rows * sizeof(int32_t)),
                     malloc(rows * sizeof(int32_t))};
    ss_status st = (nll && wb.seq && wb.pos && wb.rows && wb.targets)
                       ? SS_OK
                       : ss_fail(SS_ERR_NOMEM, "perplexity: no memory for windows of %zu tokens", longest);
    if (per_token)
        for (int64_t i = 0; i < n; i++) per_token[i] = NAN;
    const double t0 = ss_now();
    double sum = 0;
    int64_t scored = 0;
    for (int64_t k = 0; k < nw && st == SS_OK; k++) {
        const int len = (int)(w[k].end - w[k].begin), first = (int)(w[k].first_target - w[k].begin);
        st = run_window(e, &wb, tokens + w[k].begin, len, first, nll);
        if (st != SS_OK) st = ss_context(st, "perplexity window %lld [%lld, %lld)", (long long)k,
                                         (long long)w[k].begin, (long long)w[k].end);
        for (int r = 0; st == SS_OK && r < len - first; r++) {
            if (!isfinite(nll[r])) {
                st = ss_fail(SS_ERR_INTERNAL, "perplexity: non-finite NLL (%g) in window %lld [%lld, %lld) at token %lld",
                             nll[r], (long long)k, (long long)w[k].begin, (long long)w[k].end,
                             (long long)(w[k].first_target + r));
                break;
            }
            sum += nll[r];
            if (per_token) per_token[w[k].first_target + r] = nll[r];
        }
        scored += len - first;
    }
    res->seconds = ss_now() - t0;
    free(nll);
    free(wb.seq), free(wb.pos), free(wb.rows), free(wb.targets);
    free(w);
    if (st != SS_OK) return st;
    res->n_windows = nw;
    res->n_scored = scored;
    res->nll_sum = sum;
    res->mean_nll = sum / (double)scored;
    res->perplexity = exp(res->mean_nll);
    return SS_OK;
}

/* ---- the CPU engine ---- */

typedef struct cpu_engine {
    ss_cpu_state *st;
    int vocab;
    float *logits; /* [chunk, vocab] */
} cpu_engine;

static ss_status cpu_step(void *engine, const ss_batch *b, const int32_t *targets, double *nll) {
    cpu_engine *c = engine;
    SS_TRY(ss_cpu_forward(c->st, b, c->logits));
    for (int r = 0; r < b->n_logits; r++)
        nll[r] = ss_nll_from_logits(c->logits + (size_t)r * (size_t)c->vocab, c->vocab, targets[r]);
    return SS_OK;
}

static void cpu_reset(void *engine) { ss_cpu_state_reset(((cpu_engine *)engine)->st); }

ss_status ss_perplexity_cpu(const ss_model *m, const int32_t *tokens, int64_t n, int ctx, int stride,
                            ss_ppl_result *res, double *per_token) {
    const int len = n < ctx ? (int)(n > 2 ? n : 2) : ctx; /* the longest window */
    cpu_engine c = {.vocab = m->cfg.vocab};
    ss_nll_engine e = {.engine = &c, .step = cpu_step, .reset = cpu_reset, .max_tokens = len,
                       .chunk = ss_ppl_chunk_rows(m->cfg.vocab, len, (int64_t)64 << 20)};
    SS_TRY(ss_cpu_state_new(m, 1, len, &c.st));
    c.logits = malloc((size_t)e.chunk * (size_t)m->cfg.vocab * sizeof *c.logits);
    ss_status st = c.logits ? ss_perplexity(&e, tokens, n, m->cfg.vocab, ctx, stride, res, per_token)
                            : ss_fail(SS_ERR_NOMEM, "perplexity: no memory for %d x %d logits", e.chunk, m->cfg.vocab);
    free(c.logits);
    ss_cpu_state_free(c.st);
    return st;
}
