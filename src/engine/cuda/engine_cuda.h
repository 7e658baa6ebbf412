/* The GPU inference engine: the CPU reference's forward pass (forward_cpu.h)
 * on CUDA, with every linear layer through the GEMM layer (gemm/gemm.h), so
 * dense (cuBLASLt) and every 2:L sparsity (cuSPARSELt on slid weights) share
 * one engine.
 *
 * Two objects:
 *   ss_cuda_model   the weights on the GPU (q/k/v and gate/up fused into one
 *                   GEMM each, compressed once for cuSPARSELt) and the GEMM
 *                   context (handles, plans, stream). Load once.
 *   ss_cuda_engine  a KV cache and activations planned for a maximum batch
 *                   (no allocation in the step loop); several can be made
 *                   from one model in turn (the benchmarks size one per point).
 *
 *     ss_cuda_model *cm;   ss_cuda_engine *e;
 *     SS_TRY(ss_cuda_model_load(&model, NULL, &cm));
 *     ss_cuda_engine_opts eo = {.max_seqs = 2, .max_len = 64, .max_tokens = 64};
 *     SS_TRY(ss_cuda_engine_new(cm, &eo, &e));
 *     SS_TRY(ss_cuda_forward(e, &batch, logits));   // the same ss_batch as the CPU engine
 *
 * A step enqueues everything on the model's stream and synchronises once, at
 * the end, to return logits or token ids. Decoding many steps of a fixed set
 * of sequences (ss_cuda_decode_greedy) replays one CUDA graph per batch size
 * and synchronises only after the last step.
 *
 * Precision points are the CPU reference's (forward_cpu.c): residual float32
 * or BF16 (ss_residual, the same roundings),
 * linear outputs BF16, BF16 linears take BF16-rounded inputs, quantized
 * linears quantize the float norm/activation output per token, K/V cached in
 * BF16 after RoPE. Where the GPU differs: prefill attention rounds q and P to
 * BF16 for the tensor cores, and with SS_DEQUANT_FAST the GEMM may apply the
 * scales itself (see ss_cuda_dequant).
 */
#ifndef SS_ENGINE_CUDA_ENGINE_CUDA_H
#define SS_ENGINE_CUDA_ENGINE_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "engine/forward_cpu.h"
#include "engine/cuda/plan.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "engine/perplexity.h"
#include "gemm/gemm.h"

/* How GEMM outputs are dequantized. */
typedef enum ss_cuda_dequant {
    /* The GEMM returns raw accumulators (INT32/FP32) and the consumer kernel
     * applies ((float)acc * s_x) * s_w + bias, as the CPU reference: INT8
     * dense-pruned and slid models give bit-identical results. */
    SS_DEQUANT_EXACT = 0,
    /* The cheapest output per weight: scaled inside the GEMM where it can
     * (cuBLASLt FP8 outer-vector scales: BF16 out; cuSPARSELt alpha vector:
     * BF16 x s_w, the consumer applies s_x; cuSPARSELt FP8 with several
     * weight scales: the accumulator in BF16, the consumer applies both),
     * raw INT32 otherwise. Halves the GEMM output traffic; rounding differs
     * from the CPU at BF16 level. */
    SS_DEQUANT_FAST,
} ss_cuda_dequant;

typedef struct ss_cuda_model_opts {
    int device;
    ss_backend backend;    /* of the block linears; lm_head is always dense cuBLASLt BF16 */
    int backend_set;       /* 0: per linear, cusparselt for slid weights and cublaslt for dense ones (a recipe mixes them) */
    ss_cuda_dequant dequant;
    ss_gemm_options gemm;  /* algorithm search and workspace */
    int gemm_set;          /* 0: ss_gemm_options_default */
} ss_cuda_model_opts;

typedef struct ss_cuda_model ss_cuda_model;

/* Uploads m's weights. Fails with SS_ERR_CUDA when there is no device, and
 * SS_ERR_UNSUPPORTED for a shape the kernels do not take (head_dim other than
 * 64/128, hidden/intermediate not multiples of 4, GQA groups over 8). */
ss_status ss_cuda_model_load(const ss_model *m, const ss_cuda_model_opts *o, ss_cuda_model **out);
void ss_cuda_model_free(ss_cuda_model *cm);
const ss_model *ss_cuda_model_host(const ss_cuda_model *cm);
ss_gemm_ctx *ss_cuda_model_gemm(ss_cuda_model *cm);
ss_backend ss_cuda_model_backend(const ss_cuda_model *cm);
/* Bytes of weights on the device (compressed where cuSPARSELt compresses). */
size_t ss_cuda_model_weight_bytes(const ss_cuda_model *cm);

typedef struct ss_cuda_engine_opts {
    int max_seqs;   /* sequence slots of the KV cache */
    int max_len;    /* positions per sequence */
    int max_tokens; /* most tokens in one step (the GEMMs' M) */
    int max_logits; /* most logit rows in one step; 0: max_seqs */
    ss_attn_decode_kind attn_decode;
    ss_residual residual; /* AUTO: $SS_RESIDUAL (f32 | bf16), else f32, as ss_cpu_state_new */
    ss_attn_prefill_kind attn_prefill; /* wgmma where the GPU/build lacks it: mma, with a warning */
    ss_kv_cache_kind kv_cache;         /* fp8: decode old refused, prefill wgmma falls back to mma */
} ss_cuda_engine_opts;

typedef struct ss_cuda_engine ss_cuda_engine;

ss_status ss_cuda_engine_new(ss_cuda_model *cm, const ss_cuda_engine_opts *o, ss_cuda_engine **out);
void ss_cuda_engine_free(ss_cuda_engine *e);
/* Forgets every sequence (lengths back to 0). */
void ss_cuda_engine_reset(ss_cuda_engine *e);
/* Positions written so far for sequence slot s. */
int ss_cuda_engine_seq_len(const ss_cuda_engine *e, int s);
/* Device bytes this engine allocated (KV cache, activations, graphs excluded). */
size_t ss_cuda_engine_bytes(const ss_cuda_engine *e);
/* The decode attention kind this engine runs (AUTO resolved). */
ss_attn_decode_kind ss_cuda_engine_attn_decode(const ss_cuda_engine *e);
/* The residual precision this engine runs (AUTO resolved). */
ss_residual ss_cuda_engine_residual(const ss_cuda_engine *e);
/* The prefill attention kind this engine runs (AUTO and fallbacks resolved). */
ss_attn_prefill_kind ss_cuda_engine_attn_prefill(const ss_cuda_engine *e);
/* The KV cache format of this engine (AUTO resolved). */
ss_kv_cache_kind ss_cuda_engine_kv_cache(const ss_cuda_engine *e);

/* One step, the contract of ss_cpu_forward: logits [b->n_logits, vocab]
 * floats on the host (the lm_head's BF16 values). */
ss_status ss_cuda_forward(ss_cuda_engine *e, const ss_batch *b, float *logits);
/* Same step, returning for each logit row r only nll[r] = -ln softmax(logits
 * of row r)[targets[r]] (ss_nll_from_logits's arithmetic, on the GPU; no
 * logits copied). targets: host, [b->n_logits]. */
ss_status ss_cuda_forward_nll(ss_cuda_engine *e, const ss_batch *b, const int32_t *targets, double *nll);
/* Same step, returning only the greedy token of each logit row: ids
 * [b->n_logits] (argmax on the GPU, no logits copied). */
ss_status ss_cuda_forward_ids(ss_cuda_engine *e, const ss_batch *b, int32_t *ids);

/* Greedy decoding of sequences 0..n_seqs-1, each already prefilled: step k
 * feeds token t_k[i] (t_0 = first[i]) at the sequence's next position and
 * picks t_{k+1}[i] = argmax. out_ids [n_steps, n_seqs] receives t_1..t_n.
 * The first step runs eagerly (it creates the GEMM plans for M = n_seqs),
 * the rest replay a CUDA graph captured for this batch size (use_graph 0:
 * eager throughout, for tests). One host synchronisation, at the end. */
ss_status ss_cuda_decode_greedy(ss_cuda_engine *e, int n_seqs, const int32_t *first, int n_steps, int use_graph,
                                int32_t *out_ids);

/* Waits for the engine's stream (for timing). */
ss_status ss_cuda_sync(ss_cuda_engine *e);

/* Profile of eager steps: GPU time per kind of work, from CUDA events
 * recorded between the launches (each step then synchronises once more to
 * read them; graph replays are not profiled). */
typedef enum ss_prof_kind { SS_PROF_GEMM = 0, SS_PROF_ATTENTION, SS_PROF_OTHER, SS_PROF_COUNT } ss_prof_kind;
const char *ss_prof_kind_name(ss_prof_kind k); /* "gemm", "attention", "other" */
/* on: starts accumulating (from zero); off: stops. */
ss_status ss_cuda_engine_profile(ss_cuda_engine *e, int on);
/* Milliseconds accumulated per kind since profiling was switched on. */
void ss_cuda_engine_profile_read(const ss_cuda_engine *e, double ms[SS_PROF_COUNT]);

typedef struct ss_cuda_gen_opts {
    ss_cuda_model_opts model; /* backend and dequant mode */
    int use_graph;            /* 1: decode through a CUDA graph (default in ss_generate_cuda) */
} ss_cuda_gen_opts;

/* Greedy generation on the GPU, the contract of ss_generate_cpu (prefill in
 * one batch, then one token per step, stopping at max_new or, when
 * stop_at_eos, after the eos token). Uses SS_DEQUANT_EXACT and the model's
 * default backend. */
ss_status ss_generate_cuda(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new, int stop_at_eos,
                           int32_t *out_ids, int *n_out);
/* Same with options (NULL: the defaults above) and timings (stats may be NULL). */
ss_status ss_generate_cuda_opts(const ss_model *m, const ss_cuda_gen_opts *o, const int32_t *prompt_ids,
                                int n_prompt, int max_new, int stop_at_eos, int32_t *out_ids, int *n_out,
                                ss_gen_stats *stats);
/* The same contract, every step eager (o->use_graph is ignored), each step's
 * logits copied to the host and handed to on_logits (engine/generate.h),
 * the argmax taken there (ss_argmax). For generate --logits. */
ss_status ss_generate_cuda_logits(const ss_model *m, const ss_cuda_gen_opts *o, const int32_t *prompt_ids,
                                  int n_prompt, int max_new, int stop_at_eos, int32_t *out_ids, int *n_out,
                                  ss_gen_stats *stats, ss_logits_fn on_logits, void *ctx);

/* Sliding-window perplexity (engine/perplexity.h) on the GPU: the same
 * windows as ss_perplexity_cpu, each window one sequence of an engine sized
 * for min(n, ctx) tokens (o NULL: the model's default backend, exact
 * dequant). The log-softmax of the scored rows runs on the GPU
 * (ss_cuda_forward_nll). */
ss_status ss_perplexity_cuda(const ss_model *m, const ss_cuda_model_opts *o, const int32_t *tokens, int64_t n, int ctx,
                             int stride, ss_ppl_result *res, double *per_token);

#endif
