/* Synthetic in-memory models for the throughput benchmarks (bench_synth.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_synth.h"
#include "convert/prune.h"
#include "convert/slide.h"
#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/rng.h"

enum { LQ, LK, LV, LO, LG, LU, LD, NLIN };
static const char *const LIN_NAME[NLIN] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                           "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                           "mlp.down_proj"};

typedef struct base_linear {
    char name[96];
    int64_t N, K;
    int8_t *codes;  /* [N, K] ternary */
    float *scale;   /* [N], one value repeated */
} base_linear;

struct ss_synth_base {
    ss_model_config cfg;
    uint16_t *embed;     /* [vocab, hidden] BF16 */
    float *vectors;      /* norms: per layer attn, mlp, attn_sub, ffn_sub; then final */
    base_linear *lin;    /* [n_layers * NLIN] */
};

static void lin_shape(const ss_model_config *c, int j, int64_t *N, int64_t *K) {
    const int64_t H = c->hidden, I = c->intermediate, Q = (int64_t)c->n_heads * c->head_dim,
                  KV = (int64_t)c->n_kv_heads * c->head_dim;
    const int64_t n[NLIN] = {Q, KV, KV, H, I, I, H}, k[NLIN] = {H, H, H, Q, H, H, I};
    *N = n[j];
    *K = k[j];
}

/* Ternary codes, 8 per random draw: a byte below 79 is 0, then +1, then -1. */
static void fill_ternary(int8_t *w, int64_t N, int64_t K, uint64_t seed, uint64_t stream) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        ss_rng r;
        ss_rng_seed(&r, seed, (stream << 24) ^ (uint64_t)n);
        int8_t *row = w + n * K;
        for (int64_t k = 0; k < K; k += 8) {
            uint64_t u = ss_rng_u64(&r);
            for (int b = 0; b < 8 && k + b < K; b++) {
                unsigned v = (unsigned)(u >> (8 * b)) & 0xffu;
                row[k + b] = v < 79 ? 0 : v < 167 ? 1 : -1;
            }
        }
    }
}

static void fill_bf16(uint16_t *w, int64_t rows, int64_t cols, float std, uint64_t seed, uint64_t stream) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < rows; n++) {
        ss_rng r;
        ss_rng_seed(&r, seed, (stream << 32) ^ (uint64_t)n);
        for (int64_t k = 0; k < cols; k++) w[n * cols + k] = ss_f32_to_bf16(std * ss_rng_normal_fast(&r));
    }
}

void ss_synth_base_free(ss_synth_base *b) {
    if (!b) return;
    if (b->lin)
        for (int i = 0; i < b->cfg.n_layers * NLIN; i++) {
            free(b->lin[i].codes);
            free(b->lin[i].scale);
        }
    free(b->lin);
    free(b->embed);
    free(b->vectors);
    free(b);
}

ss_status ss_synth_base_new(const char *preset, uint64_t seed, ss_synth_base **out) {
    *out = NULL;
    ss_synth_base *b = calloc(1, sizeof *b);
    if (!b) return ss_fail(SS_ERR_NOMEM, "synthetic %s: no memory", preset);
    ss_status st = ss_config_preset(preset, &b->cfg);
    if (st != SS_OK) {
        free(b);
        return st;
    }
    const ss_model_config *c = &b->cfg;
    const int64_t H = c->hidden, I = c->intermediate, Q = (int64_t)c->n_heads * c->head_dim;
    const int64_t per_layer = 2 * H + Q + I, nvec = per_layer * c->n_layers + H;
    b->embed = malloc((size_t)c->vocab * (size_t)H * 2);
    b->vectors = malloc((size_t)nvec * sizeof(float));
    b->lin = calloc((size_t)c->n_layers * NLIN, sizeof *b->lin);
    if (!b->embed || !b->vectors || !b->lin) goto nomem;
    fill_bf16(b->embed, c->vocab, H, 0.02f, seed, 1);
    ss_rng r;
    ss_rng_seed(&r, seed, 2);
    for (int64_t i = 0; i < nvec; i++) b->vectors[i] = ss_round_bf16(1.0f + 0.05f * ss_rng_normal_fast(&r));
    for (int l = 0; l < c->n_layers; l++)
        for (int j = 0; j < NLIN; j++) {
            base_linear *bl = &b->lin[l * NLIN + j];
            lin_shape(c, j, &bl->N, &bl->K);
            snprintf(bl->name, sizeof bl->name, "model.layers.%d.%s.weight", l, LIN_NAME[j]);
            bl->codes = malloc((size_t)(bl->N * bl->K));
            bl->scale = malloc((size_t)bl->N * sizeof(float));
            if (!bl->codes || !bl->scale) goto nomem;
            fill_ternary(bl->codes, bl->N, bl->K, seed, 16 + (uint64_t)(l * NLIN + j));
            const float s = 0.015f + 0.01f * ss_rng_uniform(&r); /* per tensor, as BitNet's absmean */
            for (int64_t n = 0; n < bl->N; n++) bl->scale[n] = s;
        }
    *out = b;
    return SS_OK;
nomem:
    ss_synth_base_free(b);
    return ss_fail(SS_ERR_NOMEM, "synthetic %s: no memory for the weights", preset);
}

static void *own(ss_synth_model *v, size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) return NULL;
    void **grown = realloc(v->owned, (size_t)(v->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(p);
        return NULL;
    }
    v->owned = grown;
    v->owned[v->n_owned++] = p;
    return p;
}

void ss_synth_variant_free(ss_synth_model *v) {
    for (int i = 0; i < v->n_owned; i++) free(v->owned[i]);
    free(v->owned);
    ss_model_free(&v->model);
    memset(v, 0, sizeof *v);
}

/* E4M3 codes of +1, -1, 0 */
static uint8_t fp8_of(int8_t t) { return t == 0 ? 0x00 : t > 0 ? 0x38 : 0xB8; }

static ss_status make_linear(const base_linear *bl, ss_quant q, int L, ss_synth_model *v, ss_linear_weight *w) {
    const ss_dtype dt = ss_quant_dtype(q);
    *w = (ss_linear_weight){.name = bl->name, .N = bl->N, .K = bl->K, .dtype = dt, .w = bl->codes, .scale = bl->scale};
    if (q == SS_QUANT_INT8 && L == 0) return SS_OK; /* the base itself */
    const size_t n = (size_t)(bl->N * bl->K);
    uint8_t *codes = own(v, n);
    if (!codes) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a copy", bl->name);
    if (q == SS_QUANT_FP8) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < (int64_t)n; i++) codes[i] = fp8_of(bl->codes[i]);
    } else {
        memcpy(codes, bl->codes, n);
    }
    w->w = codes;
    if (L == 0) return SS_OK;
    SS_TRY(ss_prune_matrix(codes, dt, bl->N, bl->K, L, bl->name));
    SS_TRY(ss_slide_geometry(bl->K, L, &w->slide));
    uint8_t *slid = own(v, (size_t)(bl->N * w->slide.K_slid));
    if (!slid) return ss_fail(SS_ERR_NOMEM, "%s: no memory for the slid copy", bl->name);
    SS_TRY(ss_slide_matrix(&w->slide, codes, bl->N, 1, slid, bl->name));
    w->slid = 1;
    w->w = slid;
    return SS_OK;
}

ss_status ss_synth_variant(const ss_synth_base *b, ss_quant q, int L, ss_synth_model *out) {
    memset(out, 0, sizeof *out);
    if (q != SS_QUANT_INT8 && q != SS_QUANT_FP8)
        return ss_fail(SS_ERR_ARG, "synthetic model: quant %s is not int8 or fp8", ss_quant_name(q));
    const ss_model_config *c = &b->cfg;
    ss_model *m = &out->model;
    SS_TRY(ss_model_init(m, c));
    m->quant = q;
    m->slid = L > 0;
    if (L > 0) ss_sparsity_name(L, m->sparsity, sizeof m->sparsity);
    m->embed = b->embed;
    m->embed_dtype = SS_DT_BF16;
    const int64_t H = c->hidden, I = c->intermediate, Q = (int64_t)c->n_heads * c->head_dim;
    const float *vec = b->vectors;
    ss_status st = SS_OK;
    for (int l = 0; l < c->n_layers && st == SS_OK; l++) {
        ss_layer_weights *lw = &m->layers[l];
        lw->attn_norm = vec, vec += H;
        lw->mlp_norm = vec, vec += H;
        lw->attn_sub_norm = c->sub_norms ? vec : NULL, vec += Q;
        lw->ffn_sub_norm = c->sub_norms ? vec : NULL, vec += I;
        ss_linear_weight *lin[NLIN] = {&lw->q, &lw->k, &lw->v, &lw->o, &lw->gate, &lw->up, &lw->down};
        for (int j = 0; j < NLIN && st == SS_OK; j++) st = make_linear(&b->lin[l * NLIN + j], q, L, out, lin[j]);
    }
    m->final_norm = vec;
    m->lm_head = (ss_linear_weight){.name = "lm_head.weight", .N = c->vocab, .K = H, .dtype = SS_DT_BF16, .w = b->embed};
    if (st != SS_OK) ss_synth_variant_free(out);
    return st;
}
