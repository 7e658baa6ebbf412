/* A loaded model: config plus per-layer weights, ready for a forward pass.
 *
 * Linear weights point straight into the mmapped checkpoint (zero copy) as
 * ss_linear_weight (gemm/linear.h), so the same struct feeds the CPU
 * reference and the GPU backends. Only the small vectors (norm weights, q/k/v
 * biases) are converted to float at load time.
 *
 * Tensor names (Hugging Face layout):
 *   model.embed_tokens.weight                          [vocab, hidden]
 *   model.layers.<i>.input_layernorm.weight            [hidden]
 *   model.layers.<i>.self_attn.{q,k,v,o}_proj.weight   q [H*D, hidden], k,v [KV*D, hidden], o [hidden, H*D]
 *   model.layers.<i>.self_attn.{q,k,v}_proj.bias       Qwen2 only, [N]
 *   model.layers.<i>.self_attn.attn_sub_norm.weight    BitNet only, [H*D]
 *   model.layers.<i>.post_attention_layernorm.weight   [hidden]
 *   model.layers.<i>.mlp.{gate,up}_proj.weight         [intermediate, hidden]
 *   model.layers.<i>.mlp.ffn_sub_norm.weight           BitNet only, [intermediate]
 *   model.layers.<i>.mlp.down_proj.weight              [hidden, intermediate]
 *   model.norm.weight                                  [hidden]
 *   lm_head.weight                                     [vocab, hidden], absent when tied
 * Quantized linears add "<prefix>.weight_scale" (F32 [N]); slid ones are stored [N, K_slid].
 *
 * BitNet's quantization_config (io/config.h) is honoured at load: online
 * (BF16 master weights) ternarizes every block linear per tensor as
 * transformers' WeightQuant does (convert/quantize.h, scheme ternary), the
 * packed 2-bit format is unpacked (io/bitnet_packed.h); either way the model
 * holds INT8 ternary codes with a per-tensor scale, and activations are
 * quantized per token to INT8 (ActQuant / BitLinear.activation_quant), so it
 * runs on the INT8 paths of both engines.
 */
#ifndef SS_ENGINE_MODEL_H
#define SS_ENGINE_MODEL_H

#include "core/status.h"
#include "gemm/linear.h"
#include "io/checkpoint.h"
#include "io/config.h"

typedef struct ss_layer_weights {
    const float *attn_norm;     /* [hidden] input_layernorm */
    ss_linear_weight q, k, v;   /* [H*D, hidden], [KV*D, hidden], [KV*D, hidden] */
    const float *attn_sub_norm; /* [H*D], BitNet only (NULL otherwise) */
    ss_linear_weight o;         /* [hidden, H*D] */
    const float *mlp_norm;      /* [hidden] post_attention_layernorm */
    ss_linear_weight gate, up;  /* [intermediate, hidden] */
    const float *ffn_sub_norm;  /* [intermediate], BitNet only (NULL otherwise) */
    ss_linear_weight down;      /* [hidden, intermediate] */
} ss_layer_weights;

typedef struct ss_model {
    ss_model_config cfg;
    ss_quant quant;            /* of the block linears; embeddings, norms and lm_head are never quantized */
    int slid;                  /* block linears stored slid (all of them, or some when mixed) */
    int mixed;                 /* the block linears' sparsities differ (a recipe): see each ss_linear_weight */
    char sparsity[16];         /* "" (dense or mixed) or "2_L" */
    ss_dtype embed_dtype;      /* BF16 (F16/F32 accepted) */
    const void *embed;         /* [vocab, hidden] */
    ss_layer_weights *layers;  /* [n_layers] */
    const float *final_norm;   /* [hidden] model.norm */
    ss_linear_weight lm_head;  /* [vocab, hidden]; tied: the embedding matrix */
    /* owned by the loader */
    ss_checkpoint *ckpt;       /* the mapping the weights point into, NULL for in-memory models */
    float *vectors;            /* norms and biases converted to float */
    void *codes;               /* INT8 codes and F32 scales made at load (quantization_config), or NULL */
} ss_model;

/* Opens a checkpoint folder and checks every tensor's dtype and shape
 * against config.json and slidesparse.json; errors name the tensor. */
ss_status ss_model_load(const char *dir, ss_model *m);

/* A model whose weights live in the caller's memory (tests, tools): sets the
 * config and allocates the layer table; the caller fills every pointer and
 * ss_linear_weight and keeps the arrays alive. Checks the config only. */
ss_status ss_model_init(ss_model *m, const ss_model_config *cfg);

/* Frees what load/init allocated (and unmaps the checkpoint). Safe on a zeroed model. */
void ss_model_free(ss_model *m);

/* Size of the attention output per token, n_heads * head_dim. */
static inline int ss_model_q_dim(const ss_model *m) { return m->cfg.n_heads * m->cfg.head_dim; }
static inline int ss_model_kv_dim(const ss_model *m) { return m->cfg.n_kv_heads * m->cfg.head_dim; }

#endif
