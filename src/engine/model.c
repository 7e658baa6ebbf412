/* Loading a checkpoint into an ss_model (see model.h for the tensor names).
 * Every tensor is looked up with its expected dtype and shape, derived from
 * config.json and slidesparse.json alone, so a checkpoint that disagrees
 * with its own config fails here with the tensor's name, never later. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/quantize.h"
#include "engine/model.h"
#include "io/bitnet_packed.h"

static int is_plain_float(ss_dtype t) { return t == SS_DT_F32 || t == SS_DT_F16 || t == SS_DT_BF16; }

ss_status ss_model_init(ss_model *m, const ss_model_config *cfg) {
    memset(m, 0, sizeof *m);
    SS_TRY(ss_config_validate(cfg, "model"));
    m->cfg = *cfg;
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->layers) return ss_fail(SS_ERR_NOMEM, "model: no memory for %d layers", cfg->n_layers);
    return SS_OK;
}

void ss_model_free(ss_model *m) {
    if (m->ckpt) {
        ss_ckpt_close(m->ckpt);
        free(m->ckpt);
    }
    free(m->layers);
    free(m->vectors);
    free(m->codes);
    memset(m, 0, sizeof *m);
}

/* ---- loader ---- */

typedef struct loader {
    const ss_checkpoint *c;
    ss_model *m;
    float *next_vector;    /* bump allocator into m->vectors */
    const float *vectors_end;
    unsigned char *next_code; /* bump allocator into m->codes (quantization_config) */
    const unsigned char *codes_end;
} loader;

/* A float vector of n elements (norm weight, bias), converted to F32. */
static ss_status load_vector(loader *ld, const char *name, int64_t n, const float **out) {
    const ss_st_tensor *t;
    SS_TRY(ss_ckpt_tensor(ld->c, name, SS_DT_UNKNOWN, 1, &n, &t));
    if (!is_plain_float(t->dtype))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' has dtype %s; expected BF16, F16 or F32", ld->c->dir, name,
                       ss_dtype_name(t->dtype));
    if (n > ld->vectors_end - ld->next_vector) /* vector_floats() miscounted: a bug */
        return ss_fail(SS_ERR_INTERNAL, "%s: no room left for '%s' in the norm/bias storage", ld->c->dir, name);
    float *dst = ld->next_vector;
    ld->next_vector += n;
    ss_convert(dst, SS_DT_F32, t->data, t->dtype, (size_t)n);
    *out = dst;
    return SS_OK;
}

/* Room for n bytes of m->codes (8-byte aligned, for the F32 scales). */
static ss_status take_codes(loader *ld, const char *name, size_t n, void **out) {
    n = (n + 7) / 8 * 8;
    if (n > (size_t)(ld->codes_end - ld->next_code)) /* codes_bytes() miscounted: a bug */
        return ss_fail(SS_ERR_INTERNAL, "%s: no room left for '%s' in the code storage", ld->c->dir, name);
    *out = ld->next_code;
    ld->next_code += n;
    return SS_OK;
}

/* A block linear of a checkpoint with a BitNet quantization_config, as INT8
 * ternary codes and its per-tensor scale repeated per channel. */
static ss_status load_bitnet_linear(loader *ld, const char *prefix, int64_t N, int64_t K, ss_linear_weight *w) {
    const ss_checkpoint *c = ld->c;
    char name[320];
    snprintf(name, sizeof name, "%s.weight", prefix);
    void *codes = NULL, *scales = NULL;
    SS_TRY(take_codes(ld, name, (size_t)(N * K), &codes));
    SS_TRY(take_codes(ld, name, (size_t)N * sizeof(float), &scales));
    float *scale = scales;
    const ss_st_tensor *t = ss_st_find(&c->st, name);
    if (c->cfg.hf_quant == SS_HFQ_BITNET_ONLINE) {
        /* transformers' WeightQuant: s = mean|W|, q = clamp(round(W / s), -1, 1) */
        const int64_t shape[2] = {N, K};
        SS_TRY(ss_ckpt_tensor(c, name, SS_DT_UNKNOWN, 2, shape, &t));
        if (!is_plain_float(t->dtype))
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' has dtype %s; quantization_config online needs BF16, F16 "
                           "or F32 master weights", c->dir, name, ss_dtype_name(t->dtype));
        char what[600];
        snprintf(what, sizeof what, "%s: tensor '%s'", c->dir, name);
        SS_TRY(ss_quantize_weight(t->data, t->dtype, N, K, SS_SCHEME_TERNARY, SS_DT_I8, codes, scale, what));
    } else {
        float s;
        SS_TRY(ss_ckpt_bitnet_linear(c, name, N, K, codes, &s));
        for (int64_t n = 0; n < N; n++) scale[n] = s;
    }
    w->name = t->name; /* lives as long as the checkpoint */
    w->dtype = SS_DT_I8;
    w->w = codes;
    w->scale = scale;
    return SS_OK;
}

/* One block linear "<prefix>.weight" of logical shape [N, K]. */
static ss_status load_linear(loader *ld, const char *prefix, int64_t N, int64_t K, int has_bias,
                             ss_linear_weight *w) {
    const ss_checkpoint *c = ld->c;
    const ss_model *m = ld->m;
    char name[320];
    const ss_st_tensor *t;
    memset(w, 0, sizeof *w);
    w->N = N;
    w->K = K;
    snprintf(name, sizeof name, "%s.weight", prefix);
    const char *sparsity;
    ss_ckpt_linear_state(c, name, &sparsity, &w->slid); /* per tensor: a recipe mixes dense and slid layers */
    if (w->slid) {
        int L;
        SS_TRY_CTX(ss_sparsity_parse(sparsity, 1, &L), "%s/slidesparse.json: tensor '%s'", c->dir, name);
        SS_TRY_CTX(ss_slide_geometry(K, L, &w->slide), "%s: %s", c->dir, name);
    }
    if (c->cfg.hf_quant != SS_HFQ_NONE) {
        if (has_bias) return ss_fail(SS_ERR_UNSUPPORTED, "%s: biases with a quantization_config are not supported", c->dir);
        if (w->slid)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: '%s' is slid, which a quantization_config (%s) does not support",
                           c->dir, name, ss_hf_quant_name(c->cfg.hf_quant));
        return load_bitnet_linear(ld, prefix, N, K, w);
    }
    int64_t shape[2] = {N, ss_linear_k_stored(w)};
    ss_dtype want = m->quant == SS_QUANT_NONE ? SS_DT_UNKNOWN : ss_quant_dtype(m->quant);

    SS_TRY(ss_ckpt_tensor(c, name, want, 2, shape, &t));
    if (m->quant == SS_QUANT_NONE && !is_plain_float(t->dtype))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' has dtype %s but slidesparse.json says quant none", c->dir,
                       name, ss_dtype_name(t->dtype));
    const ss_ckpt_linear *rec = ss_ckpt_find_linear(c, name);
    if (rec && (rec->N != N || rec->K != K || (w->slid && rec->K_slid != w->slide.K_slid)))
        return ss_fail(SS_ERR_FORMAT,
                       "%s: slidesparse.json records '%s' as N=%lld K=%lld K_slid=%lld; the config implies N=%lld "
                       "K=%lld K_slid=%lld",
                       c->dir, name, (long long)rec->N, (long long)rec->K, (long long)rec->K_slid, (long long)N,
                       (long long)K, (long long)shape[1]);
    w->name = t->name; /* lives as long as the checkpoint */
    w->dtype = t->dtype;
    w->w = t->data;

    if (m->quant != SS_QUANT_NONE) {
        const ss_st_tensor *ts;
        snprintf(name, sizeof name, "%s.weight_scale", prefix);
        SS_TRY(ss_ckpt_tensor(c, name, SS_DT_F32, 1, &N, &ts));
        w->scale = ts->data;
    }
    if (has_bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        SS_TRY(load_vector(ld, name, N, &w->bias));
    }
    return SS_OK;
}

static ss_status load_layer(loader *ld, int i) {
    const ss_model_config *cfg = &ld->m->cfg;
    ss_layer_weights *lw = &ld->m->layers[i];
    const int64_t H = cfg->hidden, I = cfg->intermediate, Q = ss_model_q_dim(ld->m), KV = ss_model_kv_dim(ld->m);
    char p[256], n[320];

    snprintf(n, sizeof n, "model.layers.%d.input_layernorm.weight", i);
    SS_TRY(load_vector(ld, n, H, &lw->attn_norm));
    snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", i);
    SS_TRY(load_vector(ld, n, H, &lw->mlp_norm));
    if (cfg->sub_norms) {
        snprintf(n, sizeof n, "model.layers.%d.self_attn.attn_sub_norm.weight", i);
        SS_TRY(load_vector(ld, n, Q, &lw->attn_sub_norm));
        snprintf(n, sizeof n, "model.layers.%d.mlp.ffn_sub_norm.weight", i);
        SS_TRY(load_vector(ld, n, I, &lw->ffn_sub_norm));
    }
    snprintf(p, sizeof p, "model.layers.%d.self_attn.q_proj", i);
    SS_TRY(load_linear(ld, p, Q, H, cfg->qkv_bias, &lw->q));
    snprintf(p, sizeof p, "model.layers.%d.self_attn.k_proj", i);
    SS_TRY(load_linear(ld, p, KV, H, cfg->qkv_bias, &lw->k));
    snprintf(p, sizeof p, "model.layers.%d.self_attn.v_proj", i);
    SS_TRY(load_linear(ld, p, KV, H, cfg->qkv_bias, &lw->v));
    snprintf(p, sizeof p, "model.layers.%d.self_attn.o_proj", i);
    SS_TRY(load_linear(ld, p, H, Q, 0, &lw->o));
    snprintf(p, sizeof p, "model.layers.%d.mlp.gate_proj", i);
    SS_TRY(load_linear(ld, p, I, H, 0, &lw->gate));
    snprintf(p, sizeof p, "model.layers.%d.mlp.up_proj", i);
    SS_TRY(load_linear(ld, p, I, H, 0, &lw->up));
    snprintf(p, sizeof p, "model.layers.%d.mlp.down_proj", i);
    SS_TRY(load_linear(ld, p, H, I, 0, &lw->down));
    return SS_OK;
}

/* Embedding table and lm_head (the embedding itself when tied). Never quantized. */
static ss_status load_embeddings(loader *ld) {
    ss_model *m = ld->m;
    const int64_t shape[2] = {m->cfg.vocab, m->cfg.hidden};
    const ss_st_tensor *t;
    SS_TRY(ss_ckpt_tensor(ld->c, "model.embed_tokens.weight", SS_DT_UNKNOWN, 2, shape, &t));
    if (!is_plain_float(t->dtype))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor 'model.embed_tokens.weight' has dtype %s; expected BF16, F16 or F32",
                       ld->c->dir, ss_dtype_name(t->dtype));
    m->embed = t->data;
    m->embed_dtype = t->dtype;
    if (!m->cfg.tie_embeddings) {
        SS_TRY(ss_ckpt_tensor(ld->c, "lm_head.weight", SS_DT_UNKNOWN, 2, shape, &t));
        if (!is_plain_float(t->dtype))
            return ss_fail(SS_ERR_FORMAT, "%s: tensor 'lm_head.weight' has dtype %s; expected BF16, F16 or F32",
                           ld->c->dir, ss_dtype_name(t->dtype));
    }
    m->lm_head = (ss_linear_weight){.name = t->name, .N = m->cfg.vocab, .K = m->cfg.hidden, .dtype = t->dtype,
                                    .w = t->data};
    return SS_OK;
}

/* Bytes of m->codes: every block linear's INT8 codes and F32 scales, each 8-byte aligned. */
static size_t codes_bytes(const ss_model_config *cfg) {
    const int64_t H = cfg->hidden, I = cfg->intermediate, Q = (int64_t)cfg->n_heads * cfg->head_dim,
                  KV = (int64_t)cfg->n_kv_heads * cfg->head_dim;
    const int64_t shapes[7][2] = {{Q, H}, {KV, H}, {KV, H}, {H, Q}, {I, H}, {I, H}, {H, I}};
    size_t per_layer = 0;
    for (int i = 0; i < 7; i++)
        per_layer += (size_t)(shapes[i][0] * shapes[i][1] + 7) / 8 * 8 + (size_t)(shapes[i][0] * 4 + 7) / 8 * 8;
    return per_layer * (size_t)cfg->n_layers;
}

static int64_t vector_floats(const ss_model_config *cfg) {
    const int64_t Q = (int64_t)cfg->n_heads * cfg->head_dim, KV = (int64_t)cfg->n_kv_heads * cfg->head_dim;
    int64_t per_layer = 2 * (int64_t)cfg->hidden;
    if (cfg->sub_norms) per_layer += Q + cfg->intermediate;
    if (cfg->qkv_bias) per_layer += Q + 2 * KV;
    return per_layer * cfg->n_layers + cfg->hidden;
}

static ss_status load_all(const char *dir, ss_model *m) {
    ss_checkpoint *c = calloc(1, sizeof *c);
    if (!c) return ss_fail(SS_ERR_NOMEM, "%s: no memory for the checkpoint table", dir);
    ss_status st = ss_ckpt_open(dir, c);
    if (st != SS_OK) {
        free(c);
        return st;
    }
    st = ss_model_init(m, &c->cfg);
    m->ckpt = c; /* after init, which clears the struct; from here ss_model_free owns it */
    if (st != SS_OK) return ss_context(st, "%s/config.json", dir);
    m->quant = c->meta.quant;
    m->slid = c->meta.slid;
    snprintf(m->sparsity, sizeof m->sparsity, "%s", c->meta.sparsity);

    m->mixed = c->meta.mixed;
    loader ld = {.c = c, .m = m};
    if (m->slid && !m->mixed && !c->meta.sparsity[0])
        return ss_fail(SS_ERR_FORMAT, "%s/slidesparse.json: weights are marked slid but sparsity is null", dir);
    int64_t nvec = vector_floats(&m->cfg);
    m->vectors = malloc((size_t)nvec * sizeof(float));
    if (!m->vectors) return ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld norm/bias floats", dir, (long long)nvec);
    ld.next_vector = m->vectors;
    ld.vectors_end = m->vectors + nvec;
    if (c->cfg.hf_quant != SS_HFQ_NONE) {
        if (m->slid || m->quant != SS_QUANT_NONE)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: a quantization_config (%s) on %s weights is not supported", dir,
                           ss_hf_quant_name(c->cfg.hf_quant), m->slid ? "slid" : "quantized");
        size_t nb = codes_bytes(&m->cfg);
        m->codes = malloc(nb ? nb : 1);
        if (!m->codes) return ss_fail(SS_ERR_NOMEM, "%s: no memory for %zu bytes of ternary codes", dir, nb);
        ld.next_code = m->codes;
        ld.codes_end = ld.next_code + nb;
    }

    SS_TRY(load_embeddings(&ld));
    for (int i = 0; i < m->cfg.n_layers; i++) SS_TRY(load_layer(&ld, i));
    if (m->codes) m->quant = SS_QUANT_INT8; /* after the layers: load_linear reads the checkpoint's own quant */
    return load_vector(&ld, "model.norm.weight", m->cfg.hidden, &m->final_norm);
}

ss_status ss_model_load(const char *dir, ss_model *m) {
    memset(m, 0, sizeof *m);
    ss_status st = load_all(dir, m);
    if (st != SS_OK) ss_model_free(m);
    return st;
}
