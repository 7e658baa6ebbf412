/* Synthetic BF16 checkpoints with the exact architecture of a preset.
 *
 * Values follow Hugging Face's initialisation, so magnitudes (and quantized
 * scales, and the sparsity of ternary weights) look like a real model's:
 * linear and embedding weights ~ N(0, 0.02^2) (initializer_range), norm
 * weights 1 + N(0, 0.02^2) (not trivially constant), biases N(0, 0.01^2).
 *
 * Determinism: tensor t is cut into chunks of SYNTH_CHUNK elements and chunk
 * c is drawn from its own generator ss_rng_seed(seed, t << 32 | c), so the
 * bytes depend on the seed alone, never on the thread count. Chunks are made
 * SYNTH_BATCH at a time in parallel and appended in order: memory stays at
 * one batch whatever the model size.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "core/rng.h"

#define SYNTH_CHUNK (INT64_C(1) << 20) /* elements per generator */
#define SYNTH_BATCH 16                 /* chunks generated in parallel: 32 MiB of BF16 */
#define SYNTH_STD 0.02f                /* initializer_range */
#define SYNTH_BIAS_STD 0.01f

/* ---- tensor list ---- */

typedef struct spec_list {
    ss_st_spec *v;
    int n, cap;
} spec_list;

static ss_status add_spec(spec_list *l, int64_t rows, int64_t cols, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static ss_status add_spec(spec_list *l, int64_t rows, int64_t cols, const char *fmt, ...) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        ss_st_spec *p = realloc(l->v, (size_t)cap * sizeof *p);
        if (!p) return ss_fail(SS_ERR_NOMEM, "synth: cannot grow the tensor list to %d", cap);
        l->v = p;
        l->cap = cap;
    }
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    char *copy = strdup(name);
    if (!copy) return ss_fail(SS_ERR_NOMEM, "synth: out of memory");
    ss_st_spec *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    s->name = copy;
    s->dtype = SS_DT_BF16;
    s->ndim = cols > 0 ? 2 : 1;
    s->shape[0] = rows;
    s->shape[1] = cols > 0 ? cols : 0;
    return SS_OK;
}

void ss_synth_specs_free(ss_st_spec *specs, int n) {
    for (int i = 0; i < n; i++) free((char *)specs[i].name);
    free(specs);
}

static ss_status build_specs(const ss_model_config *c, spec_list *l) {
    const int64_t h = c->hidden, ff = c->intermediate, q = (int64_t)c->n_heads * c->head_dim,
                  kv = (int64_t)c->n_kv_heads * c->head_dim;
    SS_TRY(add_spec(l, c->vocab, h, "model.embed_tokens.weight"));
    for (int i = 0; i < c->n_layers; i++) {
        SS_TRY(add_spec(l, h, 0, "model.layers.%d.input_layernorm.weight", i));
        SS_TRY(add_spec(l, q, h, "model.layers.%d.self_attn.q_proj.weight", i));
        SS_TRY(add_spec(l, kv, h, "model.layers.%d.self_attn.k_proj.weight", i));
        SS_TRY(add_spec(l, kv, h, "model.layers.%d.self_attn.v_proj.weight", i));
        if (c->qkv_bias) {
            SS_TRY(add_spec(l, q, 0, "model.layers.%d.self_attn.q_proj.bias", i));
            SS_TRY(add_spec(l, kv, 0, "model.layers.%d.self_attn.k_proj.bias", i));
            SS_TRY(add_spec(l, kv, 0, "model.layers.%d.self_attn.v_proj.bias", i));
        }
        if (c->sub_norms) SS_TRY(add_spec(l, h, 0, "model.layers.%d.self_attn.attn_sub_norm.weight", i));
        SS_TRY(add_spec(l, h, q, "model.layers.%d.self_attn.o_proj.weight", i));
        SS_TRY(add_spec(l, h, 0, "model.layers.%d.post_attention_layernorm.weight", i));
        SS_TRY(add_spec(l, ff, h, "model.layers.%d.mlp.gate_proj.weight", i));
        SS_TRY(add_spec(l, ff, h, "model.layers.%d.mlp.up_proj.weight", i));
        if (c->sub_norms) SS_TRY(add_spec(l, ff, 0, "model.layers.%d.mlp.ffn_sub_norm.weight", i));
        SS_TRY(add_spec(l, h, ff, "model.layers.%d.mlp.down_proj.weight", i));
    }
    SS_TRY(add_spec(l, h, 0, "model.norm.weight"));
    if (!c->tie_embeddings) SS_TRY(add_spec(l, c->vocab, h, "lm_head.weight"));
    return SS_OK;
}

ss_status ss_synth_specs(const ss_model_config *c, ss_st_spec **specs, int *n) {
    *specs = NULL;
    *n = 0;
    SS_TRY(ss_config_validate(c, "synth"));
    spec_list l = {0};
    ss_status st = build_specs(c, &l);
    if (st != SS_OK) {
        ss_synth_specs_free(l.v, l.n);
        return st;
    }
    *specs = l.v;
    *n = l.n;
    return SS_OK;
}

/* ---- values ---- */

typedef enum value_kind { VALUE_WEIGHT, VALUE_NORM, VALUE_BIAS } value_kind;

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

static value_kind kind_of(const char *name) {
    if (ends_with(name, ".bias")) return VALUE_BIAS;
    if (ends_with(name, "norm.weight")) return VALUE_NORM; /* *_layernorm, *_sub_norm, model.norm */
    return VALUE_WEIGHT;
}

static void fill_chunk(uint16_t *out, int64_t n, value_kind kind, uint64_t seed, uint64_t stream) {
    ss_rng r;
    ss_rng_seed(&r, seed, stream);
    const float std = kind == VALUE_BIAS ? SYNTH_BIAS_STD : SYNTH_STD, mean = kind == VALUE_NORM ? 1.0f : 0.0f;
    for (int64_t i = 0; i < n; i++) out[i] = ss_f32_to_bf16(mean + std * ss_rng_normal_fast(&r));
}

static ss_status write_tensor(ss_ckpt_writer *w, const ss_st_spec *s, int index, uint64_t seed, uint16_t *buf) {
    int64_t numel = 1;
    for (int d = 0; d < s->ndim; d++) numel *= s->shape[d];
    const value_kind kind = kind_of(s->name);
    const int64_t nchunks = (numel + SYNTH_CHUNK - 1) / SYNTH_CHUNK;
    for (int64_t c0 = 0; c0 < nchunks; c0 += SYNTH_BATCH) {
        const int64_t c1 = c0 + SYNTH_BATCH < nchunks ? c0 + SYNTH_BATCH : nchunks;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t c = c0; c < c1; c++) {
            const int64_t begin = c * SYNTH_CHUNK, end = begin + SYNTH_CHUNK < numel ? begin + SYNTH_CHUNK : numel;
            fill_chunk(buf + (c - c0) * SYNTH_CHUNK, end - begin, kind, seed, (uint64_t)index << 32 | (uint64_t)c);
        }
        const int64_t end = c1 * SYNTH_CHUNK < numel ? c1 * SYNTH_CHUNK : numel;
        SS_TRY(ss_ckpt_writer_append(w, buf, (size_t)(end - c0 * SYNTH_CHUNK) * sizeof(uint16_t)));
    }
    return SS_OK;
}

ss_status ss_synth(const char *arch, const char *out_dir, uint64_t seed) {
    ss_model_config cfg;
    SS_TRY(ss_config_preset(arch, &cfg));
    ss_st_spec *specs;
    int n;
    SS_TRY(ss_synth_specs(&cfg, &specs, &n));

    ss_ckpt_meta meta = {.format_version = 1, .quant = SS_QUANT_NONE, .synthetic = 1};
    snprintf(meta.source, sizeof meta.source, "synthetic:%llu", (unsigned long long)seed);
    ss_status st = SS_OK;
    for (int i = 0; i < n && st == SS_OK; i++) {
        if (!ss_is_block_linear(specs[i].name)) continue;
        ss_ckpt_linear l = {.N = specs[i].shape[0], .K = specs[i].shape[1]};
        l.K_padded = l.K_slid = l.K;
        snprintf(l.name, sizeof l.name, "%s", specs[i].name);
        st = ss_ckpt_meta_add_linear(&meta, &l);
    }

    uint16_t *buf = NULL;
    ss_ckpt_writer *w = NULL;
    if (st == SS_OK) {
        buf = malloc((size_t)(SYNTH_BATCH * SYNTH_CHUNK) * sizeof *buf);
        if (!buf) st = ss_fail(SS_ERR_NOMEM, "synth: cannot allocate the %lld-element chunk buffer",
                               (long long)(SYNTH_BATCH * SYNTH_CHUNK));
    }
    if (st == SS_OK) st = ss_ckpt_writer_begin(&w, out_dir, NULL, &cfg, specs, n);
    for (int i = 0; i < n && st == SS_OK; i++) st = write_tensor(w, &specs[i], i, seed, buf);
    if (w) {
        if (st == SS_OK) {
            st = ss_ckpt_writer_finish(w, &meta);
        } else {
            char saved[2048];
            snprintf(saved, sizeof saved, "%s", ss_errmsg());
            ss_ckpt_writer_abort(w);
            st = ss_fail(st, "writing checkpoint %s: %s", out_dir, saved);
        }
    }
    free(buf);
    ss_ckpt_meta_free(&meta);
    ss_synth_specs_free(specs, n);
    return st;
}
