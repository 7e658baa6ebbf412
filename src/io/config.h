/* Model architecture, from/to a Hugging Face config.json (via jansson).
 * Three families share one description: BitNet (bitnet, squared-ReLU MLP,
 * attn/ffn sub-norms), Llama (llama, SiLU) and Qwen2 (qwen2, SiLU, q/k/v
 * bias). Both config layouts load: transformers 4.x (top-level rope_theta +
 * rope_scaling, with the legacy "type" key) and 5.x (rope_parameters).
 * Every key that changes the forward pass is read or refused by name
 * (config.c says which); nothing is silently defaulted. */
#ifndef SS_IO_CONFIG_H
#define SS_IO_CONFIG_H

#include <stdint.h>

#include "core/status.h"

typedef enum ss_arch { SS_ARCH_BITNET = 0, SS_ARCH_LLAMA, SS_ARCH_QWEN2 } ss_arch;
typedef enum ss_act { SS_ACT_RELU2 = 0, SS_ACT_SILU } ss_act;
/* transformers' rope_type values this project implements (modeling_rope_utils.py). */
typedef enum ss_rope_type {
    SS_ROPE_DEFAULT = 0, /* theta^(-2i/D) */
    SS_ROPE_LINEAR,      /* inv_freq / factor */
    SS_ROPE_DYNAMIC,     /* NTK: equal to default up to max_position_embeddings (longer is refused at run time) */
    SS_ROPE_YARN,        /* ramp between interpolated and extrapolated frequencies, cos/sin scaled */
    SS_ROPE_LLAMA3       /* Llama 3.1: wavelength bands slowed by factor, smoothed between */
} ss_rope_type;
/* quantization_config of a checkpoint (transformers' BitNetQuantConfig). */
typedef enum ss_hf_quant {
    SS_HFQ_NONE = 0,
    SS_HFQ_BITNET_ONLINE,      /* autobitlinear + online: BF16 master weights, ternarized per tensor at load */
    SS_HFQ_BITNET_PACKED_DIV,  /* bitlinear (offline): 2-bit packed uint8 [N/4, K], W = q / weight_scale */
    SS_HFQ_BITNET_PACKED_MUL   /* autobitlinear + offline: the same packing, W = q * weight_scale */
} ss_hf_quant;

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
    /* RoPE scaling (rope_scaling / rope_parameters). rope_factor: linear, dynamic,
     * yarn, llama3; low/high_freq: llama3; orig_max_pos: llama3, yarn. */
    ss_rope_type rope_type;
    double rope_factor, rope_low_freq, rope_high_freq;
    int rope_orig_max_pos;
    /* yarn: attention_factor (0 = derived from factor and mscale/mscale_all_dim,
     * as transformers does), beta_fast/beta_slow (0 = 32 / 1), mscale and
     * mscale_all_dim (0 = absent), untruncated (1: "truncate": false, the
     * correction range is not rounded to whole dimensions). */
    double rope_attn_factor, rope_beta_fast, rope_beta_slow, rope_mscale, rope_mscale_all_dim;
    int rope_untruncated;
    ss_hf_quant hf_quant; /* quantization_config */
    int bos_id, eos_id;
} ss_model_config;

const char *ss_arch_name(ss_arch a);             /* "bitnet", "llama", "qwen2" (config.json model_type) */
const char *ss_rope_type_name(ss_rope_type t);   /* "default", "linear", "dynamic", "yarn", "llama3" */
const char *ss_hf_quant_name(ss_hf_quant q);     /* "none", "bitnet online", "bitnet packed (bitlinear)", ... */
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
