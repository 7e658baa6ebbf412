/* Sliding-window perplexity: the negative log-likelihood the model assigns
 * to a token sequence, as the Hugging Face guide "Perplexity of fixed-length
 * models" computes it.
 *
 * The convention. Windows of at most ctx tokens start at 0, S, 2S, ...
 * (S = stride, 1 <= S <= ctx) and stop at the first window that reaches the
 * end of the text. Each window is a fresh sequence (no state carries over).
 * Window w = tokens [b, e) scores the targets t in [max(prev_e, b + 1), e),
 * where prev_e is the previous window's end (0 for the first): every token
 * is scored at most once, by the first window that reaches it, predicted
 * from the logits at t - 1, that is with the t - b tokens of the window
 * before it as context. A window's first token has no context inside the
 * window and is never scored: token 0 always, and with S == ctx (disjoint
 * windows) the first token of every window, as transformers' label shift
 * does. The result is
 *     mean NLL = sum over scored t of -ln p(x_t | x_b..x_{t-1}),  / n_scored
 *     perplexity = exp(mean NLL)
 * with the per-token terms summed in double (the guide's loop weights each
 * window's mean loss by its target count minus one; we weight by the exact
 * number of tokens scored, so mean NLL is the mean over tokens).
 *
 * The engine's part (ss_nll_engine) is a forward step that returns the NLL
 * of chosen rows; ss_perplexity_cpu and ss_perplexity_cuda
 * (engine/cuda/engine_cuda.h) provide it for the two engines, and the
 * windowing here is theirs in common.
 */
#ifndef SS_ENGINE_PERPLEXITY_H
#define SS_ENGINE_PERPLEXITY_H

#include <stdint.h>

#include "core/status.h"
#include "engine/forward_cpu.h"
#include "engine/model.h"

/* One window: tokens [begin, end) are fed, targets [first_target, end) scored. */
typedef struct ss_ppl_window {
    int64_t begin, end, first_target;
} ss_ppl_window;

/* The windows for n tokens (malloc'd). Fails (SS_ERR_ARG) when ctx < 2,
 * stride is not in [1, ctx], or fewer than 2 tokens leave nothing to score. */
ss_status ss_ppl_plan(int64_t n, int ctx, int stride, ss_ppl_window **out, int64_t *n_windows);

/* What a window needs of an engine: one forward step that returns, for
 * each logit row r of the batch, nll[r] = -ln softmax(logits of row
 * b->logit_rows[r])[targets[r]] (a batch may ask for no rows), and a reset
 * that forgets every sequence. A window runs as sequence 0: its context in
 * one step of at most max_tokens tokens, then its scored part in steps of at
 * most chunk tokens, every row's logits wanted (the KV cache carries the
 * context from step to step). */
typedef struct ss_nll_engine {
    void *engine;
    ss_status (*step)(void *engine, const ss_batch *b, const int32_t *targets, double *nll);
    void (*reset)(void *engine);
    int max_tokens, chunk;
} ss_nll_engine;

typedef struct ss_ppl_result {
    int ctx, stride;
    int64_t n_tokens;  /* tokens in the input */
    int64_t n_scored;  /* tokens whose NLL is in the mean */
    int64_t n_windows; /* forward passes */
    double nll_sum;    /* sum of the per-token NLLs, nats */
    double mean_nll;   /* nll_sum / n_scored */
    double perplexity; /* exp(mean_nll) */
    double seconds;    /* wall time of the scoring (model load excluded) */
} ss_ppl_result;

/* The windows of (ctx, stride) over tokens[0..n), each through the engine
 * (made for sequences of min(n, ctx) positions). Token ids are checked
 * against vocab first (an error names the position). A non-finite NLL fails
 * naming the window and position. per_token (may be NULL): [n] receives
 * each scored token's NLL, NAN where not scored. */
ss_status ss_perplexity(const ss_nll_engine *e, const int32_t *tokens, int64_t n, int vocab, int ctx, int stride,
                        ss_ppl_result *res, double *per_token);

/* -ln softmax(logits)[target] in double (the log-sum-exp with the max
 * subtracted). Non-finite when a logit is. */
double ss_nll_from_logits(const float *logits, int vocab, int32_t target);

/* Logit rows per step so that one step's float logits take at most bytes
 * (at least 1 row, at most ctx): the scored part of a window runs in such
 * chunks, the KV cache carrying the context, whatever the vocabulary. */
int ss_ppl_chunk_rows(int vocab, int ctx, int64_t bytes);

/* With the CPU reference engine. */
ss_status ss_perplexity_cpu(const ss_model *m, const int32_t *tokens, int64_t n, int ctx, int stride,
                            ss_ppl_result *res, double *per_token);

#endif
