/* Hugging Face config.json <-> ss_model_config, and the SPEC's presets.
 *
 * Defaults for absent fields follow the transformers configuration classes
 * of each family (BitNetConfig, LlamaConfig, Qwen2Config), so a real
 * config.json loads as transformers would read it. Keys that change the
 * forward pass:
 *   read:    the dimensions, num_key_value_heads (absent: Llama = heads,
 *            Qwen2 32, BitNet 5, as the classes; null: heads), head_dim,
 *            hidden_act (silu/swish; BitNet relu2 or silu), rms_norm_eps,
 *            tie_word_embeddings, max_position_embeddings, RoPE
 *            (config_rope.c: both layouts, default/linear/dynamic/yarn/llama3),
 *            quantization_config (config_quant.c: BitNet's formats);
 *   refused (SS_ERR_UNSUPPORTED, exit code 3, naming the key): other RoPE
 *            types, partial_rotary_factor != 1, attention_bias = true (Llama,
 *            BitNet: o_proj and q/k/v biases), mlp_bias = true,
 *            use_sliding_window = true, Qwen2 layer_types other than
 *            full_attention, any other quantization_config;
 *   ignored because the three transformers model classes ignore them:
 *            Qwen2's attention_bias, sliding_window and max_window_layers
 *            without use_sliding_window, pretraining_tp (5.x has no use for
 *            it; in 4.x it only split the same sums), dropout, use_cache, ...
 */
#include "io/config.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/config_keys.h"

const char *ss_arch_name(ss_arch a) {
    switch (a) {
    case SS_ARCH_BITNET: return "bitnet";
    case SS_ARCH_LLAMA: return "llama";
    case SS_ARCH_QWEN2: return "qwen2";
    }
    return "?";
}

static const char *arch_class(ss_arch a) {
    switch (a) {
    case SS_ARCH_BITNET: return "BitNetForCausalLM";
    case SS_ARCH_LLAMA: return "LlamaForCausalLM";
    case SS_ARCH_QWEN2: return "Qwen2ForCausalLM";
    }
    return "?";
}

static const char *act_name(ss_act a) { return a == SS_ACT_RELU2 ? "relu2" : "silu"; }

/* The family's transformers defaults for every optional field. */
static void family_defaults(ss_arch arch, ss_model_config *c) {
    memset(c, 0, sizeof *c);
    c->arch = arch;
    c->act = arch == SS_ARCH_BITNET ? SS_ACT_RELU2 : SS_ACT_SILU;
    c->sub_norms = arch == SS_ARCH_BITNET;
    c->qkv_bias = arch == SS_ARCH_QWEN2;
    c->tie_embeddings = 0; /* every one of the three classes defaults to untied */
    switch (arch) {
    case SS_ARCH_BITNET:
        c->max_pos = 2048, c->rms_eps = 1e-5, c->rope_theta = 500000.0, c->bos_id = 128000, c->eos_id = 128001;
        break;
    case SS_ARCH_LLAMA:
        c->max_pos = 2048, c->rms_eps = 1e-6, c->rope_theta = 10000.0, c->bos_id = 1, c->eos_id = 2;
        break;
    case SS_ARCH_QWEN2:
        c->max_pos = 32768, c->rms_eps = 1e-6, c->rope_theta = 10000.0, c->bos_id = -1, c->eos_id = -1;
        break;
    }
}

/* A required positive dimension, as an int. */
static ss_status req_dim(const json_t *j, const char *key, const char *path, int *out) {
    int64_t v;
    SS_TRY(ss_json_int(j, key, path, &v));
    if (v <= 0 || v > INT_MAX) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' = %lld is out of range", path, key, (long long)v);
    *out = (int)v;
    return SS_OK;
}

static ss_status opt_int(const json_t *j, const char *key, const char *path, int *out) {
    int64_t v = *out;
    SS_TRY(ss_json_int_opt(j, key, path, &v));
    if (v < INT_MIN || v > INT_MAX) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' = %lld is out of range", path, key, (long long)v);
    *out = (int)v;
    return SS_OK;
}

/* bos/eos: an integer, null (none, -1), or for eos a list whose first entry counts. */
static ss_status token_id(const json_t *j, const char *key, const char *path, int *out) {
    const json_t *v = json_object_get(j, key);
    if (!v) return SS_OK;
    if (json_is_null(v)) {
        *out = -1;
        return SS_OK;
    }
    if (json_is_array(v)) {
        if (json_array_size(v) == 0) {
            *out = -1;
            return SS_OK;
        }
        v = json_array_get(v, 0);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
        return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a token id (a non-negative integer or a list of them)", path,
                       key);
    *out = (int)json_integer_value(v);
    return SS_OK;
}

/* num_key_value_heads: absent -> the class default, null -> num_attention_heads. */
static ss_status kv_heads(const json_t *j, const char *path, ss_model_config *c) {
    const json_t *v = json_object_get(j, "num_key_value_heads");
    c->n_kv_heads = c->arch == SS_ARCH_QWEN2 ? 32 : c->arch == SS_ARCH_BITNET ? 5 : c->n_heads;
    if (v && json_is_null(v)) {
        c->n_kv_heads = c->n_heads;
        return SS_OK;
    }
    return opt_int(j, "num_key_value_heads", path, &c->n_kv_heads);
}

/* The activation: the family's, or SiLU under either of its names. */
static ss_status activation(const json_t *j, const char *path, const char *model_type, ss_model_config *c) {
    const json_t *act = json_object_get(j, "hidden_act");
    if (!act || json_is_null(act)) return SS_OK;
    if (!json_is_string(act)) return ss_fail(SS_ERR_FORMAT, "%s: field 'hidden_act' is not a string", path);
    const char *a = json_string_value(act);
    if (!strcmp(a, "silu") || !strcmp(a, "swish")) {
        if (c->arch == SS_ARCH_BITNET || c->act == SS_ACT_SILU) {
            c->act = SS_ACT_SILU;
            return SS_OK;
        }
    } else if (!strcmp(a, act_name(c->act))) {
        return SS_OK;
    }
    return ss_fail(SS_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported for model_type '%s'", path, a, model_type);
}

/* Attention variants none of the engines implements. */
static ss_status refuse_attention_variants(const json_t *j, const char *path, const char *model_type,
                                           const ss_model_config *c) {
    /* Llama's and BitNet's attention_bias put biases on q/k/v/o; Qwen2's class ignores the key */
    int attention_bias = 0, mlp_bias = 0, sliding = 0;
    SS_TRY(ss_json_bool_opt(j, "attention_bias", path, &attention_bias));
    SS_TRY(ss_json_bool_opt(j, "mlp_bias", path, &mlp_bias));
    SS_TRY(ss_json_bool_opt(j, "use_sliding_window", path, &sliding));
    if (c->arch != SS_ARCH_QWEN2 && attention_bias)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: attention_bias = true is not supported for model_type '%s'", path,
                       model_type);
    if (mlp_bias) return ss_fail(SS_ERR_UNSUPPORTED, "%s: mlp_bias = true is not supported", path);
    if (sliding) return ss_fail(SS_ERR_UNSUPPORTED, "%s: use_sliding_window = true is not supported", path);
    const json_t *lt = json_object_get(j, "layer_types");
    if (c->arch != SS_ARCH_QWEN2 || !lt || json_is_null(lt)) return SS_OK;
    if (!json_is_array(lt)) return ss_fail(SS_ERR_FORMAT, "%s: field 'layer_types' is not a list", path);
    size_t i;
    const json_t *e;
    json_array_foreach(lt, i, e) {
        if (!json_is_string(e) || strcmp(json_string_value(e), "full_attention") != 0)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: layer_types[%zu] = '%s' is not supported (full_attention only)",
                           path, i, json_is_string(e) ? json_string_value(e) : "not a string");
    }
    return SS_OK;
}

static ss_status parse_config(const json_t *j, const char *path, ss_model_config *c) {
    if (!json_is_object(j)) return ss_fail(SS_ERR_FORMAT, "%s: not a JSON object", path);
    const char *model_type;
    SS_TRY(ss_json_str(j, "model_type", path, &model_type));
    ss_arch arch;
    if (!strcmp(model_type, "bitnet")) arch = SS_ARCH_BITNET;
    else if (!strcmp(model_type, "llama")) arch = SS_ARCH_LLAMA;
    else if (!strcmp(model_type, "qwen2")) arch = SS_ARCH_QWEN2;
    else
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: model_type '%s' is not supported (bitnet, llama, qwen2)", path,
                       model_type);
    family_defaults(arch, c);

    SS_TRY(req_dim(j, "hidden_size", path, &c->hidden));
    SS_TRY(req_dim(j, "intermediate_size", path, &c->intermediate));
    SS_TRY(req_dim(j, "num_hidden_layers", path, &c->n_layers));
    SS_TRY(req_dim(j, "num_attention_heads", path, &c->n_heads));
    SS_TRY(req_dim(j, "vocab_size", path, &c->vocab));
    c->head_dim = c->hidden / c->n_heads;
    SS_TRY(kv_heads(j, path, c));
    SS_TRY(opt_int(j, "head_dim", path, &c->head_dim));
    SS_TRY(opt_int(j, "max_position_embeddings", path, &c->max_pos));
    SS_TRY(ss_json_num_opt(j, "rms_norm_eps", path, &c->rms_eps));
    SS_TRY(ss_json_bool_opt(j, "tie_word_embeddings", path, &c->tie_embeddings));
    SS_TRY(token_id(j, "bos_token_id", path, &c->bos_id));
    SS_TRY(token_id(j, "eos_token_id", path, &c->eos_id));
    SS_TRY(activation(j, path, model_type, c));
    SS_TRY(refuse_attention_variants(j, path, model_type, c));
    SS_TRY(ss_config_parse_rope(j, path, arch == SS_ARCH_BITNET ? 500000.0 : 10000.0, c));
    SS_TRY(ss_config_parse_quantization(j, path, c));
    return ss_config_validate(c, path);
}

ss_status ss_config_load(const char *path, ss_model_config *c) {
    json_t *j;
    SS_TRY(ss_json_load(path, &j));
    ss_status st = parse_config(j, path, c);
    json_decref(j);
    return st;
}

/* Upper bounds on every dimension, checked before anything is sized from
 * them: a few times the largest published models (Llama 3.1 405B: hidden
 * 16384, 126 layers, 128 heads; vocabularies up to 262144), small enough
 * that no size computed from them overflows and that a config.json claiming
 * 2^31 layers is refused instead of allocated for. */
static const struct dim_bound {
    const char *key;
    size_t offset;
    int max;
} k_dim_bounds[] = {
    {"hidden_size", offsetof(ss_model_config, hidden), 1 << 16},
    {"intermediate_size", offsetof(ss_model_config, intermediate), 1 << 18},
    {"num_hidden_layers", offsetof(ss_model_config, n_layers), SS_CONFIG_MAX_LAYERS},
    {"num_attention_heads", offsetof(ss_model_config, n_heads), 1024},
    {"num_key_value_heads", offsetof(ss_model_config, n_kv_heads), 1024},
    {"head_dim", offsetof(ss_model_config, head_dim), 1024},
    {"vocab_size", offsetof(ss_model_config, vocab), 1 << 22},
    {"max_position_embeddings", offsetof(ss_model_config, max_pos), 1 << 24},
};

static ss_status check_bounds(const ss_model_config *c, const char *what) {
    for (size_t i = 0; i < sizeof k_dim_bounds / sizeof k_dim_bounds[0]; i++) {
        const struct dim_bound *b = &k_dim_bounds[i];
        int v = *(const int *)((const char *)c + b->offset);
        if (v < 1 || v > b->max)
            return ss_fail(SS_ERR_FORMAT, "%s: %s = %d is out of range (1..%d)", what, b->key, v, b->max);
    }
    if ((int64_t)c->n_heads * c->head_dim > (1 << 17))
        return ss_fail(SS_ERR_FORMAT, "%s: num_attention_heads x head_dim = %d x %d is above %d", what, c->n_heads,
                       c->head_dim, 1 << 17);
    if (c->rope_orig_max_pos < 0 || c->rope_orig_max_pos > (1 << 24))
        return ss_fail(SS_ERR_FORMAT, "%s: rope_scaling original_max_position_embeddings = %d is out of range (1..%d)",
                       what, c->rope_orig_max_pos, 1 << 24);
    return SS_OK;
}

ss_status ss_config_validate(const ss_model_config *c, const char *what) {
    SS_TRY(check_bounds(c, what));
#define POSITIVE(field, key) \
    if (c->field <= 0) return ss_fail(SS_ERR_FORMAT, "%s: %s = %d must be positive", what, key, c->field)
    POSITIVE(hidden, "hidden_size");
    POSITIVE(intermediate, "intermediate_size");
    POSITIVE(n_layers, "num_hidden_layers");
    POSITIVE(n_heads, "num_attention_heads");
    POSITIVE(n_kv_heads, "num_key_value_heads");
    POSITIVE(head_dim, "head_dim");
    POSITIVE(vocab, "vocab_size");
    POSITIVE(max_pos, "max_position_embeddings");
#undef POSITIVE
    if ((unsigned)c->arch > SS_ARCH_QWEN2) return ss_fail(SS_ERR_FORMAT, "%s: unknown architecture %d", what, (int)c->arch);
    if ((unsigned)c->act > SS_ACT_SILU) return ss_fail(SS_ERR_FORMAT, "%s: unknown activation %d", what, (int)c->act);
    if (c->n_heads % c->n_kv_heads)
        return ss_fail(SS_ERR_FORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", what,
                       c->n_heads, c->n_kv_heads);
    if (c->head_dim % 2) return ss_fail(SS_ERR_FORMAT, "%s: head_dim %d is odd (RoPE rotates pairs)", what, c->head_dim);
    if (!(c->rms_eps > 0)) return ss_fail(SS_ERR_FORMAT, "%s: rms_norm_eps %g must be positive", what, c->rms_eps);
    /* The family fixes these; a mismatch could not be written to config.json. */
    if (c->sub_norms != (c->arch == SS_ARCH_BITNET))
        return ss_fail(SS_ERR_FORMAT, "%s: sub-norms belong to bitnet only (model_type %s)", what, ss_arch_name(c->arch));
    if (c->qkv_bias != (c->arch == SS_ARCH_QWEN2))
        return ss_fail(SS_ERR_FORMAT, "%s: q/k/v bias belongs to qwen2 only (model_type %s)", what, ss_arch_name(c->arch));
    if (c->act == SS_ACT_RELU2 && c->arch != SS_ARCH_BITNET)
        return ss_fail(SS_ERR_FORMAT, "%s: relu2 belongs to bitnet only (model_type %s)", what, ss_arch_name(c->arch));
    SS_TRY(ss_config_validate_rope(c, what));
    if ((unsigned)c->hf_quant > SS_HFQ_BITNET_PACKED_MUL)
        return ss_fail(SS_ERR_FORMAT, "%s: unknown quantization_config kind %d", what, (int)c->hf_quant);
    if (c->bos_id < -1 || c->bos_id >= c->vocab)
        return ss_fail(SS_ERR_FORMAT, "%s: bos_token_id %d is outside the vocabulary (%d)", what, c->bos_id, c->vocab);
    if (c->eos_id < -1 || c->eos_id >= c->vocab)
        return ss_fail(SS_ERR_FORMAT, "%s: eos_token_id %d is outside the vocabulary (%d)", what, c->eos_id, c->vocab);
    return SS_OK;
}

/* Serialises with the fewest significant digits that read back to the same
 * doubles (9 covers every value a real config holds; 17 always works), so a
 * save/load round trip is exact without printing 1.0000000000000001e-05. */
static ss_status save_exact(const char *path, const json_t *j) {
    static const int precisions[] = {9, 17};
    for (int i = 0; i < 2; i++) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(precisions[i]));
        if (!text) return ss_fail(SS_ERR_NOMEM, "%s: cannot serialise JSON", path);
        json_t *back = json_loads(text, 0, NULL);
        int same = back && json_equal(back, (json_t *)j);
        json_decref(back);
        if (same || i == 1) {
            size_t n = strlen(text);
            text[n] = '\n'; /* json_dumps leaves room for the NUL; reuse it */
            ss_status st = ss_write_file_atomic(path, text, n + 1);
            free(text);
            return st;
        }
        free(text);
    }
    return SS_OK; /* not reached */
}

static json_t *token_json(int id) { return id < 0 ? json_null() : json_integer(id); }

ss_status ss_config_save(const char *path, const ss_model_config *c) {
    SS_TRY(ss_config_validate(c, path));
    /* insertion order = file order, as transformers writes it (alphabetical) */
    json_t *j = json_object();
    json_object_set_new(j, "architectures", json_pack("[s]", arch_class(c->arch)));
    if (c->arch != SS_ARCH_QWEN2) json_object_set_new(j, "attention_bias", json_false());
    json_object_set_new(j, "bos_token_id", token_json(c->bos_id));
    json_object_set_new(j, "eos_token_id", token_json(c->eos_id));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "hidden_act", json_string(act_name(c->act)));
    json_object_set_new(j, "hidden_size", json_integer(c->hidden));
    json_object_set_new(j, "intermediate_size", json_integer(c->intermediate));
    json_object_set_new(j, "max_position_embeddings", json_integer(c->max_pos));
    json_object_set_new(j, "model_type", json_string(ss_arch_name(c->arch)));
    json_object_set_new(j, "num_attention_heads", json_integer(c->n_heads));
    json_object_set_new(j, "num_hidden_layers", json_integer(c->n_layers));
    json_object_set_new(j, "num_key_value_heads", json_integer(c->n_kv_heads));
    if (c->hf_quant != SS_HFQ_NONE) json_object_set_new(j, "quantization_config", ss_config_quant_json(c));
    json_object_set_new(j, "rms_norm_eps", json_real(c->rms_eps));
    json_object_set_new(j, "rope_scaling", ss_config_rope_json(c));
    json_object_set_new(j, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(j, "tie_word_embeddings", json_boolean(c->tie_embeddings));
    json_object_set_new(j, "torch_dtype", json_string("bfloat16"));
    if (c->arch == SS_ARCH_QWEN2) json_object_set_new(j, "use_sliding_window", json_false());
    json_object_set_new(j, "vocab_size", json_integer(c->vocab));
    ss_status st = save_exact(path, j);
    json_decref(j);
    return st;
}

/* ---- presets: the public configs of SPEC section 5 ---- */

#define LLAMA32(h, heads, layers, hd)                                                                            \
    {.arch = SS_ARCH_LLAMA, .act = SS_ACT_SILU, .hidden = h, .intermediate = 8192, .n_layers = layers,           \
     .n_heads = heads, .n_kv_heads = 8, .head_dim = hd, .vocab = 128256, .max_pos = 131072, .rms_eps = 1e-5,     \
     .rope_theta = 500000.0, .tie_embeddings = 1, .rope_type = SS_ROPE_LLAMA3, .rope_factor = 32.0,             \
     .rope_low_freq = 1.0, .rope_high_freq = 4.0, .rope_orig_max_pos = 8192, .bos_id = 128000, .eos_id = 128001}

/* In the order of g_preset_names. */
static const ss_model_config g_presets[] = {
    /* bitnet-2b: microsoft/bitnet-b1.58-2B-4T */
    {.arch = SS_ARCH_BITNET, .act = SS_ACT_RELU2, .hidden = 2560, .intermediate = 6912, .n_layers = 30,
     .n_heads = 20, .n_kv_heads = 5, .head_dim = 128, .vocab = 128256, .max_pos = 4096, .rms_eps = 1e-5,
     .rope_theta = 500000.0, .tie_embeddings = 1, .sub_norms = 1, .bos_id = 128000, .eos_id = 128001},
    LLAMA32(2048, 32, 16, 64),  /* llama-3.2-1b */
    LLAMA32(3072, 24, 28, 128), /* llama-3.2-3b */
    /* qwen2.5-7b */
    {.arch = SS_ARCH_QWEN2, .act = SS_ACT_SILU, .hidden = 3584, .intermediate = 18944, .n_layers = 28,
     .n_heads = 28, .n_kv_heads = 4, .head_dim = 128, .vocab = 152064, .max_pos = 32768, .rms_eps = 1e-6,
     .rope_theta = 1000000.0, .tie_embeddings = 0, .qkv_bias = 1, .bos_id = 151643, .eos_id = 151643},
    /* qwen2.5-14b */
    {.arch = SS_ARCH_QWEN2, .act = SS_ACT_SILU, .hidden = 5120, .intermediate = 13824, .n_layers = 48,
     .n_heads = 40, .n_kv_heads = 8, .head_dim = 128, .vocab = 152064, .max_pos = 32768, .rms_eps = 1e-5,
     .rope_theta = 1000000.0, .tie_embeddings = 0, .qkv_bias = 1, .bos_id = 151643, .eos_id = 151643},
    /* tiny: BitNet structure, small enough for the CPU reference backend */
    {.arch = SS_ARCH_BITNET, .act = SS_ACT_RELU2, .hidden = 512, .intermediate = 1376, .n_layers = 4,
     .n_heads = 8, .n_kv_heads = 2, .head_dim = 64, .vocab = 4096, .max_pos = 4096, .rms_eps = 1e-5,
     .rope_theta = 500000.0, .tie_embeddings = 1, .sub_norms = 1, .bos_id = 1, .eos_id = 2},
};
#undef LLAMA32

#define N_PRESETS ((int)(sizeof g_presets / sizeof g_presets[0]))

static const char *const g_preset_names[N_PRESETS + 1] = {"bitnet-2b",  "llama-3.2-1b", "llama-3.2-3b", "qwen2.5-7b",
                                                          "qwen2.5-14b", "tiny",         NULL};

const char *const *ss_config_preset_names(void) { return g_preset_names; }

ss_status ss_config_preset(const char *name, ss_model_config *c) {
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(name, g_preset_names[i])) {
            *c = g_presets[i];
            return SS_OK;
        }
    char list[256] = "";
    for (int i = 0; i < N_PRESETS; i++) {
        strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
        strncat(list, g_preset_names[i], sizeof list - strlen(list) - 1);
    }
    return ss_fail(SS_ERR_ARG, "unknown architecture preset '%s' (known: %s)", name, list);
}

/* a * b + c, or -1 when it overflows (or any operand is negative) */
static int64_t muladd(int64_t a, int64_t b, int64_t c) {
    int64_t p, r;
    if (a < 0 || b < 0 || c < 0 || __builtin_mul_overflow(a, b, &p) || __builtin_add_overflow(p, c, &r)) return -1;
    return r;
}

int64_t ss_config_param_count(const ss_model_config *c) {
    const int64_t h = c->hidden, ff = c->intermediate;
    const int64_t q = muladd(c->n_heads, c->head_dim, 0), kv = muladd(c->n_kv_heads, c->head_dim, 0);
    int64_t attn = muladd(h, muladd(2, q, 0), muladd(muladd(2, h, 0), kv, 0)); /* q, o and k, v weights */
    if (c->qkv_bias) attn = muladd(2, kv, muladd(1, attn, q));
    const int64_t mlp = muladd(muladd(3, h, 0), ff, 0);                 /* gate, up, down */
    /* input_layernorm, post_attention_layernorm; BitNet adds attn_sub_norm (hidden), ffn_sub_norm (intermediate) */
    const int64_t norms = c->sub_norms ? muladd(3, h, ff) : muladd(2, h, 0);
    const int64_t layer = muladd(1, attn, muladd(1, mlp, norms));
    const int64_t embed = muladd(c->vocab, h, 0);
    const int64_t total = muladd(c->n_layers, layer, muladd(c->tie_embeddings ? 1 : 2, embed, h));
    if (q < 0 || kv < 0 || attn < 0 || mlp < 0 || norms < 0 || layer < 0 || embed < 0) return -1;
    return total;
}
