/* The GPU engine in a build without CUDA: every entry point reports it. */
#include "engine/cuda/engine_cuda.h"

#define NO_CUDA ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: built without CUDA (configure with SS_CUDA=ON)")

ss_status ss_cuda_model_load(const ss_model *m, const ss_cuda_model_opts *o, ss_cuda_model **out) {
    (void)m, (void)o;
    *out = NULL;
    return NO_CUDA;
}
void ss_cuda_model_free(ss_cuda_model *cm) { (void)cm; }
const ss_model *ss_cuda_model_host(const ss_cuda_model *cm) { (void)cm; return NULL; }
ss_gemm_ctx *ss_cuda_model_gemm(ss_cuda_model *cm) { (void)cm; return NULL; }
ss_backend ss_cuda_model_backend(const ss_cuda_model *cm) { (void)cm; return SS_BACKEND_CUBLASLT; }
size_t ss_cuda_model_weight_bytes(const ss_cuda_model *cm) { (void)cm; return 0; }
ss_status ss_cuda_engine_new(ss_cuda_model *cm, const ss_cuda_engine_opts *o, ss_cuda_engine **out) {
    (void)cm, (void)o;
    *out = NULL;
    return NO_CUDA;
}
void ss_cuda_engine_free(ss_cuda_engine *e) { (void)e; }
void ss_cuda_engine_reset(ss_cuda_engine *e) { (void)e; }
int ss_cuda_engine_seq_len(const ss_cuda_engine *e, int s) { (void)e, (void)s; return 0; }
size_t ss_cuda_engine_bytes(const ss_cuda_engine *e) { (void)e; return 0; }
ss_attn_decode_kind ss_cuda_engine_attn_decode(const ss_cuda_engine *e) { (void)e; return SS_ATTN_DECODE_AUTO; }
ss_residual ss_cuda_engine_residual(const ss_cuda_engine *e) { (void)e; return SS_RESIDUAL_AUTO; }
ss_attn_prefill_kind ss_cuda_engine_attn_prefill(const ss_cuda_engine *e) { (void)e; return SS_ATTN_PREFILL_AUTO; }
ss_kv_cache_kind ss_cuda_engine_kv_cache(const ss_cuda_engine *e) { (void)e; return SS_KV_CACHE_AUTO; }
ss_status ss_cuda_forward(ss_cuda_engine *e, const ss_batch *b, float *logits) {
    (void)e, (void)b, (void)logits;
    return NO_CUDA;
}
ss_status ss_cuda_forward_nll(ss_cuda_engine *e, const ss_batch *b, const int32_t *targets, double *nll) {
    (void)e, (void)b, (void)targets, (void)nll;
    return NO_CUDA;
}
ss_status ss_cuda_forward_ids(ss_cuda_engine *e, const ss_batch *b, int32_t *ids) {
    (void)e, (void)b, (void)ids;
    return NO_CUDA;
}
ss_status ss_cuda_decode_greedy(ss_cuda_engine *e, int n_seqs, const int32_t *first, int n_steps, int use_graph,
                                int32_t *out_ids) {
    (void)e, (void)n_seqs, (void)first, (void)n_steps, (void)use_graph, (void)out_ids;
    return NO_CUDA;
}
ss_status ss_cuda_sync(ss_cuda_engine *e) { (void)e; return NO_CUDA; }
ss_status ss_generate_cuda_opts(const ss_model *m, const ss_cuda_gen_opts *o, const int32_t *prompt_ids,
                                int n_prompt, int max_new, int stop_at_eos, int32_t *out_ids, int *n_out,
                                ss_gen_stats *stats) {
    (void)m, (void)o, (void)prompt_ids, (void)n_prompt, (void)max_new, (void)stop_at_eos, (void)out_ids, (void)stats;
    *n_out = 0;
    return NO_CUDA;
}
ss_status ss_generate_cuda(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new, int stop_at_eos,
                           int32_t *out_ids, int *n_out) {
    return ss_generate_cuda_opts(m, NULL, prompt_ids, n_prompt, max_new, stop_at_eos, out_ids, n_out, NULL);
}
ss_status ss_cuda_engine_profile(ss_cuda_engine *e, int on) { (void)e, (void)on; return NO_CUDA; }
void ss_cuda_engine_profile_read(const ss_cuda_engine *e, double ms[SS_PROF_COUNT]) {
    (void)e;
    for (int k = 0; k < SS_PROF_COUNT; k++) ms[k] = 0;
}
ss_status ss_perplexity_cuda(const ss_model *m, const ss_cuda_model_opts *o, const int32_t *tokens, int64_t n, int ctx,
                             int stride, ss_ppl_result *res, double *per_token) {
    (void)m, (void)o, (void)tokens, (void)n, (void)ctx, (void)stride, (void)per_token;
    *res = (ss_ppl_result){0};
    return NO_CUDA;
}
