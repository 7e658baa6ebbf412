/* Model architecture, from/to a Hugging Face config.json (via jansson).
 * Three families share one description: BitNet (bitnet, squared-ReLU MLP,
 * attn/ffn sub-norms), Llama (llama, SiLU, optional llama3 RoPE scaling) and
 * Qwen2 (qwen2, SiLU, q/k/v bias). */
#ifndef SS_IO_CONFIG_H
#define SS_IO_CONFIG_H

#include <stdint.h>

#include "core/status.h"

typedef enum ss_arch { SS_ARCH_BITNET = 0, SS_ARCH_LLAMA, SS_ARCH_QWEN2 } ss_arch;
typedef enum ss_act { SS_ACT_RELU2 = 0, SS_ACT_SILU } ss_act;

typedef struct ss_model_config {
    ss_arch arch;
    ss_act act;
    int hidden;          /* hidden_size */
    int intermediate;    /* intermediate_size */
    int n_layers;        /* num_hidden_layers */
    int n_heads;         /* num_attention_heads */
    int n_kv_heads;      /* num_key_value_heads */
    int head_dim;        /* head_dim, default hidden / n_heads */
    int vocab;           /* vocab_size */
    int max_pos;         /* max_position_embeddings */
    double rms_eps;      /* rms_norm_eps */
    double rope_theta;   /* rope_theta */
    int tie_embeddings;  /* tie_word_embeddings */
    int qkv_bias;        /* Qwen2: q/k/v projections carry a bias */
    int sub_norms;       /* BitNet: attn_sub_norm before o_proj, ffn_sub_norm before down_proj */
    /* RoPE scaling of Llama 3.x ("rope_type": "llama3"); factor 0 = none */
    double rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max_pos;
    int bos_id, eos_id;
} ss_model_config;

const char *ss_arch_name(ss_arch a);             /* "bitnet", "llama", "qwen2" (config.json model_type) */
ss_status ss_config_load(const char *path, ss_model_config *c);
ss_status ss_config_save(const char *path, const ss_model_config *c); /* atomic */
/* Architectures of SPEC section 5: bitnet-2b, llama-3.2-1b, llama-3.2-3b,
 * qwen2.5-7b, qwen2.5-14b, tiny. */
ss_status ss_config_preset(const char *name, ss_model_config *c);
const char *const *ss_config_preset_names(void);  /* NULL-terminated */
/* The most transformer blocks a config may claim (every dimension has a bound, see config.c). */
#define SS_CONFIG_MAX_LAYERS 1024
/* Checks dimensions are within bounds, positive and consistent (heads divide, etc.). */
ss_status ss_config_validate(const ss_model_config *c, const char *what);
/* Parameters of the architecture; -1 if the count overflows 64 bits. */
int64_t ss_config_param_count(const ss_model_config *c);

#endif
