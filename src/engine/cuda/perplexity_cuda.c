/* Sliding-window perplexity (engine/perplexity.h) on the CUDA engine: the
 * windows run through ss_cuda_forward_nll, which computes the log-softmax
 * of each scored row on the GPU with ss_nll_from_logits's arithmetic, so
 * the two engines differ only by their logits. */
#include "engine/cuda/engine_cuda.h"
#include "engine/perplexity.h"

static ss_status cuda_step(void *engine, const ss_batch *b, const int32_t *targets, double *nll) {
    return ss_cuda_forward_nll(engine, b, targets, nll);
}

static void cuda_reset(void *engine) { ss_cuda_engine_reset(engine); }

/* The engine keeps the logits of one step on the device (BF16, plus a float
 * buffer): 6 bytes per logit, so 256 MiB of float logits bound it near 384 MiB. */
#define CUDA_LOGIT_BYTES ((int64_t)256 << 20)

ss_status ss_perplexity_cuda(const ss_model *m, const ss_cuda_model_opts *o, const int32_t *tokens, int64_t n, int ctx,
                             int stride, ss_ppl_result *res, double *per_token) {
    const int len = n < ctx ? (int)(n > 2 ? n : 2) : ctx; /* the longest window */
    ss_cuda_model_opts def = {0};
    ss_cuda_engine *ce = NULL;
    ss_nll_engine e = {.step = cuda_step, .reset = cuda_reset, .max_tokens = len,
                       .chunk = ss_ppl_chunk_rows(m->cfg.vocab, len, CUDA_LOGIT_BYTES)};
    ss_cuda_model *cm = NULL;
    SS_TRY(ss_cuda_model_load(m, o ? o : &def, &cm));
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = len, .max_tokens = len, .max_logits = e.chunk};
    ss_status st = ss_cuda_engine_new(cm, &eo, &ce);
    e.engine = ce;
    if (st == SS_OK) st = ss_perplexity(&e, tokens, n, m->cfg.vocab, ctx, stride, res, per_token);
    ss_cuda_engine_free(ce);
    ss_cuda_model_free(cm);
    return st;
}
