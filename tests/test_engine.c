/* engine: the CPU reference forward pass against an independent double
 * implementation on micro models, batching and KV-cache consistency, the
 * checkpoint loader, greedy generation, and (on the tiny preset) pruned vs
 * slid INT8/FP8 checkpoints generating identical tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/quantize.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "core/status.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "io/checkpoint.h"

#define OK(expr)                                                                 \
    do {                                                                         \
        ss_status st_ = (expr);                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

/* ------------------------------------------------------------------------
 * Micro models held in memory. Every weight value is BF16-representable, so
 * the engine (reading BF16) and the double reference (reading the same
 * values as floats) start from identical parameters.
 * ------------------------------------------------------------------------ */

enum { LQ, LK, LV, LO, LG, LU, LD, NLIN };
static const char *const LIN_NAME[NLIN] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                           "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                           "mlp.down_proj"};
#define MAX_LAYERS 4

typedef struct micro_layer {
    float *attn_norm, *mlp_norm, *attn_sub, *ffn_sub; /* [H], [H], [Q], [I]; sub-norms BitNet only */
    float *w[NLIN];                                   /* [N, K] values */
    uint16_t *wb[NLIN];                               /* the same as BF16 */
    void *wq[NLIN];                                   /* quantized copies (INT8/FP8 models) */
    float *scale[NLIN];
    float *bias[3]; /* q, k, v (Qwen2) */
    char name[NLIN][96];
} micro_layer;

typedef struct micro {
    ss_model_config cfg;
    float *embed;        /* [V, H] */
    uint16_t *embed_b;
    float *lm;           /* [V, H], untied models only */
    uint16_t *lm_b;
    float *final_norm;   /* [H] */
    micro_layer layer[MAX_LAYERS];
    ss_model model;      /* the engine's view of the arrays above */
} micro;

static void lin_shape(const ss_model_config *c, int j, int64_t *N, int64_t *K) {
    const int64_t H = c->hidden, I = c->intermediate, Q = (int64_t)c->n_heads * c->head_dim,
                  KV = (int64_t)c->n_kv_heads * c->head_dim;
    const int64_t n[NLIN] = {Q, KV, KV, H, I, I, H}, k[NLIN] = {H, H, H, Q, H, H, I};
    *N = n[j];
    *K = k[j];
}

/* n BF16-representable floats, mean + std * normal. */
static float *rand_vals(ss_rng *r, int64_t n, double mean, double std) {
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = ss_round_bf16((float)(mean + std * ss_rng_normal(r)));
    return v;
}

static uint16_t *to_bf16(const float *v, int64_t n) {
    uint16_t *b = malloc((size_t)n * sizeof(uint16_t));
    assert_non_null(b);
    for (int64_t i = 0; i < n; i++) b[i] = ss_f32_to_bf16(v[i]);
    return b;
}

static void micro_free(micro *mc) {
    ss_model_free(&mc->model);
    free(mc->embed);
    free(mc->embed_b);
    free(mc->lm);
    free(mc->lm_b);
    free(mc->final_norm);
    for (int l = 0; l < MAX_LAYERS; l++) {
        micro_layer *ml = &mc->layer[l];
        free(ml->attn_norm);
        free(ml->mlp_norm);
        free(ml->attn_sub);
        free(ml->ffn_sub);
        for (int j = 0; j < NLIN; j++) {
            free(ml->w[j]);
            free(ml->wb[j]);
            free(ml->wq[j]);
            free(ml->scale[j]);
        }
        for (int j = 0; j < 3; j++) free(ml->bias[j]);
    }
    memset(mc, 0, sizeof *mc);
}

/* Random weights for cfg (seeded), and an engine model over them whose block
 * linears are BF16 (quant none) or quantized absmax per channel. */
static void micro_build(micro *mc, const ss_model_config *cfg, uint64_t seed, ss_quant quant) {
    memset(mc, 0, sizeof *mc);
    assert_true(cfg->n_layers <= MAX_LAYERS);
    mc->cfg = *cfg;
    ss_rng r;
    ss_rng_seed(&r, seed, 0);
    const int64_t H = cfg->hidden, V = cfg->vocab, Q = (int64_t)cfg->n_heads * cfg->head_dim, I = cfg->intermediate;
    mc->embed = rand_vals(&r, V * H, 0, 1);
    mc->embed_b = to_bf16(mc->embed, V * H);
    if (!cfg->tie_embeddings) {
        mc->lm = rand_vals(&r, V * H, 0, 1);
        mc->lm_b = to_bf16(mc->lm, V * H);
    }
    mc->final_norm = rand_vals(&r, H, 1, 0.2);
    for (int l = 0; l < cfg->n_layers; l++) {
        micro_layer *ml = &mc->layer[l];
        ml->attn_norm = rand_vals(&r, H, 1, 0.2);
        ml->mlp_norm = rand_vals(&r, H, 1, 0.2);
        if (cfg->sub_norms) {
            ml->attn_sub = rand_vals(&r, Q, 1, 0.2);
            ml->ffn_sub = rand_vals(&r, I, 1, 0.2);
        }
        for (int j = 0; j < NLIN; j++) {
            int64_t N, K;
            lin_shape(cfg, j, &N, &K);
            ml->w[j] = rand_vals(&r, N * K, 0, 1.0 / sqrt((double)K));
            ml->wb[j] = to_bf16(ml->w[j], N * K);
            snprintf(ml->name[j], sizeof ml->name[j], "model.layers.%d.%s.weight", l, LIN_NAME[j]);
            if (j < 3 && cfg->qkv_bias) ml->bias[j] = rand_vals(&r, N, 0, 0.3);
        }
    }

    ss_model *m = &mc->model;
    OK(ss_model_init(m, cfg));
    m->quant = quant;
    m->embed = mc->embed_b;
    m->embed_dtype = SS_DT_BF16;
    m->final_norm = mc->final_norm;
    m->lm_head = (ss_linear_weight){.name = "lm_head.weight", .N = V, .K = H, .dtype = SS_DT_BF16,
                                    .w = cfg->tie_embeddings ? mc->embed_b : mc->lm_b};
    for (int l = 0; l < cfg->n_layers; l++) {
        micro_layer *ml = &mc->layer[l];
        ss_layer_weights *lw = &m->layers[l];
        lw->attn_norm = ml->attn_norm;
        lw->mlp_norm = ml->mlp_norm;
        lw->attn_sub_norm = ml->attn_sub;
        lw->ffn_sub_norm = ml->ffn_sub;
        ss_linear_weight *lin[NLIN] = {&lw->q, &lw->k, &lw->v, &lw->o, &lw->gate, &lw->up, &lw->down};
        for (int j = 0; j < NLIN; j++) {
            int64_t N, K;
            lin_shape(cfg, j, &N, &K);
            *lin[j] = (ss_linear_weight){.name = ml->name[j], .N = N, .K = K, .dtype = SS_DT_BF16, .w = ml->wb[j],
                                         .bias = j < 3 ? ml->bias[j] : NULL};
            if (quant != SS_QUANT_NONE) {
                ss_dtype qd = ss_quant_dtype(quant);
                ml->wq[j] = malloc((size_t)(N * K));
                ml->scale[j] = malloc((size_t)N * sizeof(float));
                assert_non_null(ml->wq[j]);
                assert_non_null(ml->scale[j]);
                OK(ss_quantize_weight(ml->wb[j], SS_DT_BF16, N, K, SS_SCHEME_ABSMAX, qd, ml->wq[j], ml->scale[j],
                                      ml->name[j]));
                lin[j]->dtype = qd;
                lin[j]->w = ml->wq[j];
                lin[j]->scale = ml->scale[j];
            }
        }
    }
}

/* The three families at micro size: hidden 8, 2 heads sharing 1 KV head,
 * intermediate 12, vocab 10, one layer. */
static ss_model_config micro_config(ss_arch arch) {
    ss_model_config c = {.arch = arch, .act = SS_ACT_SILU, .hidden = 8, .intermediate = 12, .n_layers = 1,
                         .n_heads = 2, .n_kv_heads = 1, .head_dim = 4, .vocab = 10, .max_pos = 64, .rms_eps = 1e-5,
                         .rope_theta = 10000.0, .tie_embeddings = 0, .bos_id = 1, .eos_id = 2};
    if (arch == SS_ARCH_BITNET) {
        c.act = SS_ACT_RELU2;
        c.sub_norms = 1;
        c.tie_embeddings = 1;
        c.rope_theta = 500000.0;
    } else if (arch == SS_ARCH_LLAMA) {
        /* head_dim 6 (q_dim 12 != hidden) gives three frequencies whose
         * wavelengths 6.3, 135 and 2920 fall in the three llama3 bands
         * (kept below 64, smoothed in 64..256, divided by 8 above 256). */
        c.head_dim = 6;
        c.rope_type = SS_ROPE_LLAMA3;
        c.rope_factor = 8.0;
        c.rope_low_freq = 1.0;
        c.rope_high_freq = 4.0;
        c.rope_orig_max_pos = 256;
    } else {
        c.qkv_bias = 1;
        c.rope_theta = 1000000.0;
    }
    return c;
}

/* ------------------------------------------------------------------------
 * Independent reference: double precision, naive loops, written from the
 * Hugging Face modeling code (no engine code shared), whole sequence at once.
 * ------------------------------------------------------------------------ */

static void ref_rmsnorm(double *y, const double *x, const float *w, int n, double eps) {
    double ms = 0;
    for (int i = 0; i < n; i++) ms += x[i] * x[i];
    ms /= n;
    for (int i = 0; i < n; i++) y[i] = w[i] * (x[i] / sqrt(ms + eps));
}

static void ref_matvec(double *y, const float *W, const float *bias, const double *x, int64_t N, int64_t K) {
    for (int64_t n = 0; n < N; n++) {
        double acc = bias ? bias[n] : 0.0;
        for (int64_t k = 0; k < K; k++) acc += (double)W[n * K + k] * x[k];
        y[n] = acc;
    }
}

/* transformers' default inv_freq, _compute_linear_scaling_rope_parameters,
 * _compute_yarn_parameters and _compute_llama3_parameters, step by step;
 * returns the attention scaling that multiplies cos and sin. */
static double ref_inv_freq(const ss_model_config *c, double *out) {
    const int D = c->head_dim;
    double attention = 1.0;
    for (int i = 0; i < D / 2; i++) {
        double inv = 1.0 / pow(c->rope_theta, (double)(2 * i) / D);
        if (c->rope_type == SS_ROPE_LINEAR) inv /= c->rope_factor;
        if (c->rope_type == SS_ROPE_YARN) {
            /* beta_fast 32, beta_slow 1, truncate */
            double lo = floor(D * log(c->rope_orig_max_pos / (32 * 2 * M_PI)) / (2 * log(c->rope_theta)));
            double hi = ceil(D * log(c->rope_orig_max_pos / (1 * 2 * M_PI)) / (2 * log(c->rope_theta)));
            lo = fmax(lo, 0), hi = fmin(hi, D - 1);
            if (lo == hi) hi += 0.001;
            double extrapolation_factor = 1 - fmin(fmax((i - lo) / (hi - lo), 0), 1);
            inv = inv / c->rope_factor * (1 - extrapolation_factor) + inv * extrapolation_factor;
            attention = c->rope_factor <= 1 ? 1.0 : 0.1 * log(c->rope_factor) + 1.0;
        }
        if (c->rope_type == SS_ROPE_LLAMA3) {
            double low_wl = c->rope_orig_max_pos / c->rope_low_freq, high_wl = c->rope_orig_max_pos / c->rope_high_freq;
            double wavelen = 2 * 3.14159265358979323846 / inv;
            double scaled = wavelen > low_wl ? inv / c->rope_factor : inv;
            double smooth = (c->rope_orig_max_pos / wavelen - c->rope_low_freq) / (c->rope_high_freq - c->rope_low_freq);
            double smoothed = (1 - smooth) * scaled / c->rope_factor + smooth * scaled;
            int medium = !(wavelen < high_wl) && !(wavelen > low_wl);
            inv = medium ? smoothed : scaled;
        }
        out[i] = inv;
    }
    return attention;
}

/* q * cos + rotate_half(q) * sin, for each head of v [n_heads, D]. */
static void ref_rope(double *v, int n_heads, int D, int pos, const double *inv, double attention) {
    double cosf_[64], sinf_[64], rot[64];
    for (int j = 0; j < D; j++) {
        cosf_[j] = cos(pos * inv[j % (D / 2)]) * attention;
        sinf_[j] = sin(pos * inv[j % (D / 2)]) * attention;
    }
    for (int h = 0; h < n_heads; h++) {
        double *x = v + h * D;
        for (int j = 0; j < D; j++) rot[j] = j < D / 2 ? -x[j + D / 2] : x[j - D / 2];
        for (int j = 0; j < D; j++) x[j] = x[j] * cosf_[j] + rot[j] * sinf_[j];
    }
}

/* logits [T, V] of tokens tok[0..T-1] at positions 0..T-1. */
static void ref_forward(const micro *mc, const int32_t *tok, int T, double *logits) {
    const ss_model_config *c = &mc->cfg;
    const int H = c->hidden, I = c->intermediate, D = c->head_dim, nh = c->n_heads, nkv = c->n_kv_heads;
    const int Q = nh * D, KV = nkv * D, V = c->vocab, W = (H > Q ? H : Q) > I ? (H > Q ? H : Q) : I;
    double *x = calloc((size_t)T * H, sizeof(double)), *xn = calloc(W, sizeof(double));
    double *q = calloc((size_t)T * Q, sizeof(double)), *k = calloc((size_t)T * KV, sizeof(double));
    double *v = calloc((size_t)T * KV, sizeof(double)), *att = calloc(Q, sizeof(double));
    double *g = calloc(I, sizeof(double)), *u = calloc(I, sizeof(double)), *o = calloc(W, sizeof(double));
    double *p = calloc(T, sizeof(double)), inv[32];
    const double attention = ref_inv_freq(c, inv);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < H; j++) x[t * H + j] = mc->embed[(int64_t)tok[t] * H + j];
    for (int l = 0; l < c->n_layers; l++) {
        const micro_layer *ml = &mc->layer[l];
        for (int t = 0; t < T; t++) {
            ref_rmsnorm(xn, x + t * H, ml->attn_norm, H, c->rms_eps);
            ref_matvec(q + t * Q, ml->w[LQ], ml->bias[0], xn, Q, H);
            ref_matvec(k + t * KV, ml->w[LK], ml->bias[1], xn, KV, H);
            ref_matvec(v + t * KV, ml->w[LV], ml->bias[2], xn, KV, H);
            ref_rope(q + t * Q, nh, D, t, inv, attention);
            ref_rope(k + t * KV, nkv, D, t, inv, attention);
        }
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < nh; h++) {
                int kvh = h * nkv / nh; /* heads share KV heads in consecutive groups */
                double mx = -1e300, sum = 0;
                for (int s = 0; s <= t; s++) {
                    double d = 0;
                    for (int e = 0; e < D; e++) d += q[t * Q + h * D + e] * k[s * KV + kvh * D + e];
                    p[s] = d / sqrt((double)D);
                    if (p[s] > mx) mx = p[s];
                }
                for (int s = 0; s <= t; s++) sum += (p[s] = exp(p[s] - mx));
                for (int e = 0; e < D; e++) {
                    double a = 0;
                    for (int s = 0; s <= t; s++) a += p[s] / sum * v[s * KV + kvh * D + e];
                    att[h * D + e] = a;
                }
            }
            if (c->sub_norms) ref_rmsnorm(att, att, ml->attn_sub, Q, c->rms_eps);
            ref_matvec(o, ml->w[LO], NULL, att, H, Q);
            for (int j = 0; j < H; j++) x[t * H + j] += o[j];
        }
        for (int t = 0; t < T; t++) {
            ref_rmsnorm(xn, x + t * H, ml->mlp_norm, H, c->rms_eps);
            ref_matvec(g, ml->w[LG], NULL, xn, I, H);
            ref_matvec(u, ml->w[LU], NULL, xn, I, H);
            for (int j = 0; j < I; j++) {
                double a = c->act == SS_ACT_RELU2 ? (g[j] > 0 ? g[j] * g[j] : 0) : g[j] / (1 + exp(-g[j]));
                g[j] = a * u[j];
            }
            if (c->sub_norms) ref_rmsnorm(g, g, ml->ffn_sub, I, c->rms_eps);
            ref_matvec(o, ml->w[LD], NULL, g, H, I);
            for (int j = 0; j < H; j++) x[t * H + j] += o[j];
        }
    }
    for (int t = 0; t < T; t++) {
        ref_rmsnorm(xn, x + t * H, mc->final_norm, H, c->rms_eps);
        ref_matvec(logits + (int64_t)t * V, c->tie_embeddings ? mc->embed : mc->lm, NULL, xn, V, H);
    }
    free(x), free(xn), free(q), free(k), free(v), free(att), free(g), free(u), free(o), free(p);
}

static ss_residual g_residual; /* of engine_prefill's state; AUTO: the default */

/* Engine logits [T, V] of one sequence prefilled in one batch. */
static void engine_prefill(const ss_model *m, const int32_t *tok, int T, float *logits) {
    ss_cpu_state *st;
    OK(ss_cpu_state_new(m, 1, T, &st));
    if (g_residual != SS_RESIDUAL_AUTO) st->residual = g_residual;
    int32_t seq[64] = {0}, pos[64], rows[64];
    for (int i = 0; i < T; i++) pos[i] = rows[i] = i;
    ss_batch b = {.n = T, .token = tok, .seq = seq, .pos = pos, .n_logits = T, .logit_rows = rows};
    OK(ss_cpu_forward(st, &b, logits));
    ss_cpu_state_free(st);
}

/* Tolerance of the float engine against the double reference, relative to
 * the largest |logit| of the row. The engine rounds to BF16 (relative error
 * <= 2^-9 = 0.2%, about 0.1% rms) on the path of a logit at every linear
 * input and output (q/k/v, o, gate/up, down: 8 per layer) and in the KV
 * cache, plus the lm_head's input and output. The norms renormalise, so
 * these errors add rather than compound: for 2 layers, ~20 points of random
 * sign give ~0.5% (observed 0.2-0.9%). 2e-2 leaves a 2x margin over that;
 * the bugs this test exists for (RoPE pairing or sign, head -> KV head
 * mapping, norm placement) move logits by 10-90% (checked by mutating the
 * engine). */
#define LOGIT_RTOL 2e-2

static void check_against_reference(const ss_model_config *cfg, uint64_t seed) {
    micro mc;
    micro_build(&mc, cfg, seed, SS_QUANT_NONE);
    const int32_t tok[] = {3, 7, 5};
    enum { T = 3 };
    const int V = cfg->vocab;
    double want[T * 64];
    float got[T * 64];
    ref_forward(&mc, tok, T, want);
    engine_prefill(&mc.model, tok, T, got);
    for (int t = 0; t < T; t++) {
        double amax = 0, err = 0;
        for (int j = 0; j < V; j++) {
            amax = fmax(amax, fabs(want[t * V + j]));
            err = fmax(err, fabs(got[t * V + j] - want[t * V + j]));
        }
        printf("%s (hidden %d, %d layers) token %d: max|logit| %.3f, max error %.2e (%.2f%%)\n",
               ss_arch_name(cfg->arch), cfg->hidden, cfg->n_layers, t, amax, err, 100 * err / amax);
        assert_true(amax > 0.5); /* the logits are not degenerate */
        assert_true(err <= LOGIT_RTOL * amax);
    }
    /* Attention mixes positions: the same token id at another position gives other logits. */
    assert_true(fabs(want[0 * V + 1] - want[2 * V + 1]) > 1e-3);
    micro_free(&mc);
}

static ss_model_config small_config(ss_arch arch);

/* Micro (1 layer, 1 KV head) and small (2 layers, 4 heads on 2 KV heads, so
 * the head -> KV head mapping matters). */
static void check_arch(ss_arch arch) {
    ss_model_config micro_cfg = micro_config(arch), small_cfg = small_config(arch);
    check_against_reference(&micro_cfg, 42 + (uint64_t)arch);
    check_against_reference(&small_cfg, 52 + (uint64_t)arch);
}

/* The BF16 residual stream (x rounded after the embedding and every add,
 * as transformers carries a BF16 model) stays within the same tolerance of
 * the double reference, and is really applied (the logits move). A bad
 * $SS_RESIDUAL is refused by name. */
static void test_residual_bf16(void **state) {
    (void)state;
    ss_model_config cfg = small_config(SS_ARCH_BITNET);
    check_against_reference(&cfg, 61); /* F32 */
    g_residual = SS_RESIDUAL_BF16;
    check_against_reference(&cfg, 61);
    micro mc;
    micro_build(&mc, &cfg, 61, SS_QUANT_NONE);
    const int32_t tok[] = {3, 7, 5};
    const int V = cfg.vocab;
    float lb[3 * 64], lf[3 * 64];
    engine_prefill(&mc.model, tok, 3, lb);
    g_residual = SS_RESIDUAL_F32;
    engine_prefill(&mc.model, tok, 3, lf);
    double diff = 0;
    for (int i = 0; i < 3 * V; i++) diff = fmax(diff, fabs((double)lb[i] - lf[i]));
    printf("BF16 residual vs F32: max |logit difference| %.2e\n", diff);
    assert_true(diff > 0);
    g_residual = SS_RESIDUAL_AUTO;
    ss_cpu_state *st = NULL;
    setenv("SS_RESIDUAL", "fp16", 1);
    assert_int_equal(ss_cpu_state_new(&mc.model, 1, 4, &st), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "SS_RESIDUAL"));
    setenv("SS_RESIDUAL", "bf16", 1);
    OK(ss_cpu_state_new(&mc.model, 1, 4, &st));
    assert_int_equal(st->residual, SS_RESIDUAL_BF16);
    ss_cpu_state_free(st);
    unsetenv("SS_RESIDUAL");
    OK(ss_cpu_state_new(&mc.model, 1, 4, &st));
    assert_int_equal(st->residual, SS_RESIDUAL_F32);
    ss_cpu_state_free(st);
    ss_residual r;
    assert_int_equal(ss_residual_resolve((ss_residual)7, &r), SS_ERR_ARG);
    assert_string_equal(ss_residual_name(SS_RESIDUAL_BF16), "bf16");
    micro_free(&mc);
}

static void test_bitnet_matches_double_reference(void **state) {
    (void)state;
    check_arch(SS_ARCH_BITNET);
}
static void test_llama_matches_double_reference(void **state) {
    (void)state;
    check_arch(SS_ARCH_LLAMA);
}
static void test_qwen2_matches_double_reference(void **state) {
    (void)state;
    check_arch(SS_ARCH_QWEN2);
}

/* linear and yarn RoPE through the whole forward pass (yarn's attention
 * factor scales q and k); a factor large enough to move every logit. */
static void test_rope_scalings_match_double_reference(void **state) {
    (void)state;
    const ss_rope_type types[] = {SS_ROPE_LINEAR, SS_ROPE_YARN};
    for (int i = 0; i < 2; i++) {
        ss_model_config c = small_config(SS_ARCH_QWEN2);
        c.head_dim = 16; /* 8 frequencies: the yarn ramp has kept, ramped and divided ones */
        c.rope_theta = 10000.0;
        c.rope_type = types[i];
        c.rope_factor = 16.0;
        c.rope_orig_max_pos = 64;
        printf("rope_type %s\n", ss_rope_type_name(c.rope_type));
        check_against_reference(&c, 62 + (uint64_t)i);
    }
}

static void rope_freq(const ss_model_config *cfg, int max_len, double *inv, double *scale) {
    assert_int_equal(ss_rope_frequencies(cfg, max_len, inv, scale), SS_OK);
}

static void test_rope_llama3_bands(void **state) {
    (void)state;
    ss_model_config cfg = micro_config(SS_ARCH_LLAMA);
    double got[3], plain[3], want[3], scale;
    rope_freq(&cfg, 64, got, &scale);
    assert_true(scale == 1.0);
    ref_inv_freq(&cfg, want);
    cfg.rope_type = SS_ROPE_DEFAULT;
    cfg.rope_factor = 0;
    rope_freq(&cfg, 64, plain, &scale);
    for (int i = 0; i < 3; i++) assert_true(fabs(got[i] - want[i]) <= 1e-15 * want[i]);
    assert_true(got[0] == plain[0]);                          /* short wavelength: kept */
    assert_true(got[1] < plain[1] && got[1] > plain[1] / 8); /* medium: smoothed */
    assert_true(fabs(got[2] - plain[2] / 8) <= 1e-15 * plain[2]); /* long: divided by the factor */
}

/* linear divides every frequency; dynamic is the default up to
 * max_position_embeddings and refused beyond (transformers rescales there). */
static void test_rope_linear_dynamic(void **state) {
    (void)state;
    ss_model_config cfg = micro_config(SS_ARCH_QWEN2);
    cfg.head_dim = 8;
    double plain[4], got[4], scale;
    rope_freq(&cfg, 64, plain, &scale);
    for (int i = 0; i < 4; i++) assert_true(fabs(plain[i] - pow(1e6, -2.0 * i / 8)) <= 1e-15 * plain[i]);
    cfg.rope_type = SS_ROPE_LINEAR;
    cfg.rope_factor = 4.0;
    rope_freq(&cfg, 64, got, &scale);
    for (int i = 0; i < 4; i++) assert_true(got[i] == plain[i] / 4.0);
    assert_true(scale == 1.0);
    cfg.rope_type = SS_ROPE_DYNAMIC;
    rope_freq(&cfg, cfg.max_pos, got, &scale);
    for (int i = 0; i < 4; i++) assert_true(got[i] == plain[i]);
    assert_int_equal(ss_rope_frequencies(&cfg, cfg.max_pos + 1, got, &scale), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "dynamic"));
    assert_non_null(strstr(ss_errmsg(), "max_position_embeddings"));
}

/* yarn: dimensions that rotate more than beta_fast times in the original
 * context keep their frequency, fewer than beta_slow times are divided by
 * the factor, a linear ramp between; cos/sin scale 0.1 ln(factor) + 1 unless
 * attention_factor or mscale/mscale_all_dim say otherwise. */
static void test_rope_yarn(void **state) {
    (void)state;
    ss_model_config cfg = micro_config(SS_ARCH_QWEN2);
    cfg.head_dim = 64;
    cfg.rope_theta = 10000.0;
    double plain[32], got[32], scale;
    rope_freq(&cfg, 64, plain, &scale);
    cfg.rope_type = SS_ROPE_YARN;
    cfg.rope_factor = 4.0;
    cfg.rope_orig_max_pos = 2048;
    rope_freq(&cfg, 64, got, &scale);
    assert_true(fabs(scale - (0.1 * log(4.0) + 1.0)) <= 1e-15);
    /* correction range: dim * ln(orig / (beta * 2 pi)) / (2 ln theta), floored / ceiled */
    const double low = floor(64 * log(2048 / (32 * 2 * M_PI)) / (2 * log(10000.0)));
    const double high = ceil(64 * log(2048 / (1 * 2 * M_PI)) / (2 * log(10000.0)));
    assert_true(low >= 1 && high < 31 && low < high);
    for (int i = 0; i < 32; i++) {
        double ramp = fmin(fmax((i - low) / (high - low), 0.0), 1.0);
        double want = plain[i] / 4.0 * ramp + plain[i] * (1.0 - ramp);
        if (fabs(got[i] - want) > 1e-15 * want) fail_msg("yarn inv_freq[%d] = %.17g, want %.17g", i, got[i], want);
        if (i <= low) assert_true(got[i] == plain[i]);
        if (i >= high) assert_true(fabs(got[i] - plain[i] / 4.0) <= 1e-16 * plain[i]);
    }
    cfg.rope_attn_factor = 0.75;
    rope_freq(&cfg, 64, got, &scale);
    assert_true(scale == 0.75);
    cfg.rope_attn_factor = 0;
    cfg.rope_mscale = 1.0;
    cfg.rope_mscale_all_dim = 0.5;
    rope_freq(&cfg, 64, got, &scale);
    assert_true(fabs(scale - (0.1 * log(4.0) + 1.0) / (0.05 * log(4.0) + 1.0)) <= 1e-15);
    /* truncate = false: the range is not rounded, so no frequency at the
     * boundaries is exactly kept or exactly divided */
    cfg.rope_mscale = cfg.rope_mscale_all_dim = 0;
    cfg.rope_untruncated = 1;
    rope_freq(&cfg, 64, got, &scale);
    const double lo = 64 * log(2048 / (32 * 2 * M_PI)) / (2 * log(10000.0));
    const double hi = 64 * log(2048 / (1 * 2 * M_PI)) / (2 * log(10000.0));
    for (int i = 0; i < 32; i++) {
        double ramp = fmin(fmax((i - lo) / (hi - lo), 0.0), 1.0);
        double want = plain[i] / 4.0 * ramp + plain[i] * (1.0 - ramp);
        assert_true(fabs(got[i] - want) <= 1e-15 * want);
    }
}

/* ------------------------------------------------------------------------
 * Batching and the KV cache: results must not depend on how tokens are
 * grouped into forward calls. Every row of every step is computed in the same
 * order whatever the batch, so equality is exact.
 * ------------------------------------------------------------------------ */

static ss_model_config small_config(ss_arch arch) {
    ss_model_config c = micro_config(arch);
    c.hidden = 32;
    c.intermediate = 48;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.head_dim = 8;
    c.vocab = 64;
    return c;
}

enum { NA = 5, NB = 3 };
static const int32_t SEQ_A[NA] = {11, 3, 60, 7, 42}, SEQ_B[NB] = {5, 63, 20};

static void run(ss_cpu_state *st, int n, const int32_t *tok, const int32_t *seq, const int32_t *pos, int n_rows,
                const int32_t *rows, float *logits) {
    ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos, .n_logits = n_rows, .logit_rows = rows};
    OK(ss_cpu_forward(st, &b, logits));
}

static void check_batching(ss_arch arch, ss_quant quant) {
    micro mc;
    ss_model_config cfg = small_config(arch);
    micro_build(&mc, &cfg, 7, quant);
    const int V = cfg.vocab;
    const size_t row = (size_t)V * sizeof(float);
    float alone_a[NA * 64], alone_b[NB * 64], mixed[(NA + NB) * 64], step[2 * 64];
    const int32_t rows[] = {0, 1, 2, 3, 4, 5, 6, 7}, zeros[8] = {0}, ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const int32_t pos[] = {0, 1, 2, 3, 4, 5, 6, 7};
    ss_cpu_state *st;

    /* One sequence at a time (slots 0 and 1 of one state). */
    OK(ss_cpu_state_new(&mc.model, 2, 8, &st));
    run(st, NA, SEQ_A, zeros, pos, NA, rows, alone_a);
    run(st, NB, SEQ_B, ones, pos, NB, rows, alone_b);
    ss_cpu_state_free(st);

    /* Both in one batch, interleaved: A0 B0 A1 B1 A2 B2 A3 A4. */
    {
        const int32_t tok[] = {SEQ_A[0], SEQ_B[0], SEQ_A[1], SEQ_B[1], SEQ_A[2], SEQ_B[2], SEQ_A[3], SEQ_A[4]};
        const int32_t seq[] = {0, 1, 0, 1, 0, 1, 0, 0}, p[] = {0, 0, 1, 1, 2, 2, 3, 4};
        OK(ss_cpu_state_new(&mc.model, 2, 8, &st));
        run(st, NA + NB, tok, seq, p, NA + NB, rows, mixed);
        ss_cpu_state_free(st);
        for (int i = 0; i < NA + NB; i++) {
            const float *want = seq[i] == 0 ? alone_a + p[i] * V : alone_b + p[i] * V;
            assert_memory_equal(mixed + i * V, want, row);
        }
    }

    /* Prefill of 4 tokens then one decode step == prefill of 5 (last token);
     * and in chunks 2 + 2 + 1. */
    OK(ss_cpu_state_new(&mc.model, 1, 8, &st));
    int32_t last = 3;
    run(st, 4, SEQ_A, zeros, pos, 1, &last, step);
    assert_memory_equal(step, alone_a + 3 * V, row);
    run(st, 1, SEQ_A + 4, zeros, pos + 4, 1, rows, step);
    assert_memory_equal(step, alone_a + 4 * V, row);
    ss_cpu_state_reset(st);
    run(st, 2, SEQ_A, zeros, pos, 2, rows, step);
    assert_memory_equal(step + V, alone_a + 1 * V, row);
    run(st, 2, SEQ_A + 2, zeros, pos + 2, 2, rows, step);
    assert_memory_equal(step, alone_a + 2 * V, row);
    assert_memory_equal(step + V, alone_a + 3 * V, row);
    run(st, 1, SEQ_A + 4, zeros, pos + 4, 1, rows, step);
    assert_memory_equal(step, alone_a + 4 * V, row);
    /* Rewinding: re-running position 4 (overwriting its cache entry) gives the same. */
    run(st, 1, SEQ_A + 4, zeros, pos + 4, 1, rows, step);
    assert_memory_equal(step, alone_a + 4 * V, row);
    ss_cpu_state_free(st);

    /* A prefill chunk of A and a decode token of B (after B's own prefill) in one batch. */
    {
        OK(ss_cpu_state_new(&mc.model, 2, 8, &st));
        run(st, 2, SEQ_B, ones, pos, 0, NULL, NULL);
        const int32_t tok[] = {SEQ_A[0], SEQ_A[1], SEQ_A[2], SEQ_A[3], SEQ_A[4], SEQ_B[2]};
        const int32_t seq[] = {0, 0, 0, 0, 0, 1}, p[] = {0, 1, 2, 3, 4, 2}, want_rows[] = {4, 5};
        run(st, 6, tok, seq, p, 2, want_rows, step);
        assert_memory_equal(step, alone_a + 4 * V, row);
        assert_memory_equal(step + V, alone_b + 2 * V, row);
        ss_cpu_state_free(st);
    }
    micro_free(&mc);
}

static void test_batching_bf16(void **state) {
    (void)state;
    check_batching(SS_ARCH_BITNET, SS_QUANT_NONE);
    check_batching(SS_ARCH_QWEN2, SS_QUANT_NONE);
}

static void test_batching_int8_fp8(void **state) {
    (void)state;
    check_batching(SS_ARCH_BITNET, SS_QUANT_INT8);
    check_batching(SS_ARCH_LLAMA, SS_QUANT_FP8);
}

/* ------------------------------------------------------------------------
 * Errors: bad batches fail with SS_ERR_ARG and a message, and leave the
 * state usable.
 * ------------------------------------------------------------------------ */

static void expect_arg_error(ss_cpu_state *st, int n, const int32_t *tok, const int32_t *seq, const int32_t *pos,
                             int n_rows, const int32_t *rows, const char *needle) {
    float logits[4 * 16];
    ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos, .n_logits = n_rows, .logit_rows = rows};
    ss_clear_error();
    assert_int_equal(ss_cpu_forward(st, &b, logits), SS_ERR_ARG);
    if (!strstr(ss_errmsg(), needle)) fail_msg("error '%s' does not mention '%s'", ss_errmsg(), needle);
}

static void test_forward_errors(void **state) {
    (void)state;
    micro mc;
    ss_model_config cfg = micro_config(SS_ARCH_BITNET);
    micro_build(&mc, &cfg, 1, SS_QUANT_NONE);
    ss_cpu_state *st;
    assert_int_equal(ss_cpu_state_new(&mc.model, 0, 4, &st), SS_ERR_ARG);
    OK(ss_cpu_state_new(&mc.model, 2, 4, &st));
    const int32_t zero[4] = {0}, row0 = 0, p01[] = {0, 1}, p02[] = {0, 2}, tok2[] = {1, 2};
    const int32_t bad_tok = 10, neg_tok = -1, seq2 = 2, pos4 = 4, pos1 = 1, row2 = 2;
    expect_arg_error(st, 1, &bad_tok, zero, zero, 1, &row0, "token 10");
    expect_arg_error(st, 1, &neg_tok, zero, zero, 1, &row0, "token -1");
    expect_arg_error(st, 1, tok2, &seq2, zero, 1, &row0, "sequence 2");
    expect_arg_error(st, 1, tok2, zero, &pos4, 1, &row0, "max_len 4");
    expect_arg_error(st, 1, tok2, zero, &pos1, 1, &row0, "has 0 positions"); /* a gap before position 1 */
    expect_arg_error(st, 2, tok2, zero, p02, 1, &row0, "expects position 1");
    expect_arg_error(st, 2, tok2, zero, p01, 1, &row2, "logit row 2");
    /* Still usable, and nothing was recorded by the failed calls. */
    float logits[2 * 10];
    const int32_t rows[] = {0, 1};
    run(st, 2, tok2, zero, p01, 2, rows, logits);
    expect_arg_error(st, 1, tok2, zero, &pos4, 1, &row0, "max_len");
    ss_cpu_state_free(st);

    int32_t out[4];
    int n_out;
    assert_int_equal(ss_generate_cpu(&mc.model, &bad_tok, 1, 2, 0, out, &n_out), SS_ERR_ARG);
    assert_int_equal(n_out, 0);
    assert_int_equal(ss_generate_cpu(&mc.model, tok2, 0, 2, 0, out, &n_out), SS_ERR_ARG);
    micro_free(&mc);
}

/* ------------------------------------------------------------------------
 * Greedy generation.
 * ------------------------------------------------------------------------ */

static void test_argmax_lowest_on_ties(void **state) {
    (void)state;
    const float a[] = {1, 3, 3, 2}, b[] = {NAN, 1, 2, 2}, c[] = {-INFINITY, -INFINITY};
    assert_int_equal(ss_argmax(a, 4), 1);
    assert_int_equal(ss_argmax(b, 4), 2);
    assert_int_equal(ss_argmax(c, 2), 0);
}

static void test_generate_matches_recompute(void **state) {
    (void)state;
    micro mc;
    ss_model_config cfg = small_config(SS_ARCH_LLAMA);
    micro_build(&mc, &cfg, 3, SS_QUANT_NONE);
    enum { P = 3, NEW = 6 };
    const int32_t prompt[P] = {9, 14, 33};
    int32_t out[NEW], n_out, seq[P + NEW];
    ss_gen_stats stats;
    OK(ss_generate_cpu_stats(&mc.model, prompt, P, NEW, 0, out, &n_out, &stats));
    assert_int_equal(n_out, NEW);
    assert_int_equal(stats.n_prompt, P);
    assert_int_equal(stats.n_new, NEW);
    /* Without the KV cache: prefill the whole prefix again for every step. */
    memcpy(seq, prompt, sizeof prompt);
    float logits[(P + NEW) * 64];
    for (int s = 0; s < NEW; s++) {
        engine_prefill(&mc.model, seq, P + s, logits);
        seq[P + s] = ss_argmax(logits + (size_t)(P + s - 1) * cfg.vocab, cfg.vocab);
        assert_int_equal(out[s], seq[P + s]);
    }
    /* Stop at EOS: make the third generated token the EOS id. */
    mc.model.cfg.eos_id = out[2];
    int first_eos = 0;
    while (out[first_eos] != out[2]) first_eos++;
    OK(ss_generate_cpu(&mc.model, prompt, P, NEW, 1, out, &n_out));
    assert_int_equal(n_out, first_eos + 1);
    assert_int_equal(out[n_out - 1], mc.model.cfg.eos_id);
    micro_free(&mc);
}

/* ------------------------------------------------------------------------
 * Checkpoint loading: a micro model written with the io writer loads to a
 * model computing bit-identical logits; a tensor that disagrees with the
 * config is named in the error.
 * ------------------------------------------------------------------------ */

typedef struct tensor_out {
    ss_st_spec spec;
    const void *data;
    size_t nbytes;
} tensor_out;

static int add_tensor(tensor_out *t, int n, const char *name, ss_dtype dt, int64_t d0, int64_t d1, const void *data) {
    char *copy = strdup(name);
    assert_non_null(copy);
    t[n].spec = (ss_st_spec){.name = copy, .dtype = dt, .ndim = d1 ? 2 : 1, .shape = {d0, d1}};
    t[n].data = data;
    t[n].nbytes = (size_t)(d0 * (d1 ? d1 : 1)) * ss_dtype_size(dt);
    return n + 1;
}

/* Writes mc (norms F32, linears and embeddings BF16) as a checkpoint; cfg_on_disk may differ from mc->cfg. */
static ss_status write_micro(const micro *mc, const ss_model_config *cfg_on_disk, const char *dir) {
    const ss_model_config *c = &mc->cfg;
    const int64_t H = c->hidden, Q = (int64_t)c->n_heads * c->head_dim, I = c->intermediate;
    tensor_out t[128];
    int n = 0;
    char name[160];
    n = add_tensor(t, n, "model.embed_tokens.weight", SS_DT_BF16, c->vocab, H, mc->embed_b);
    if (!c->tie_embeddings) n = add_tensor(t, n, "lm_head.weight", SS_DT_BF16, c->vocab, H, mc->lm_b);
    n = add_tensor(t, n, "model.norm.weight", SS_DT_F32, H, 0, mc->final_norm);
    for (int l = 0; l < c->n_layers; l++) {
        const micro_layer *ml = &mc->layer[l];
        snprintf(name, sizeof name, "model.layers.%d.input_layernorm.weight", l);
        n = add_tensor(t, n, name, SS_DT_F32, H, 0, ml->attn_norm);
        snprintf(name, sizeof name, "model.layers.%d.post_attention_layernorm.weight", l);
        n = add_tensor(t, n, name, SS_DT_F32, H, 0, ml->mlp_norm);
        if (c->sub_norms) {
            snprintf(name, sizeof name, "model.layers.%d.self_attn.attn_sub_norm.weight", l);
            n = add_tensor(t, n, name, SS_DT_F32, Q, 0, ml->attn_sub);
            snprintf(name, sizeof name, "model.layers.%d.mlp.ffn_sub_norm.weight", l);
            n = add_tensor(t, n, name, SS_DT_F32, I, 0, ml->ffn_sub);
        }
        for (int j = 0; j < NLIN; j++) {
            int64_t N, K;
            lin_shape(c, j, &N, &K);
            n = add_tensor(t, n, ml->name[j], SS_DT_BF16, N, K, ml->wb[j]);
            if (j < 3 && c->qkv_bias) {
                snprintf(name, sizeof name, "model.layers.%d.%s.bias", l, LIN_NAME[j]);
                n = add_tensor(t, n, name, SS_DT_F32, N, 0, ml->bias[j]);
            }
        }
    }
    ss_st_spec specs[128];
    for (int i = 0; i < n; i++) specs[i] = t[i].spec;
    ss_ckpt_writer *w;
    ss_status st = ss_ckpt_writer_begin(&w, dir, NULL, cfg_on_disk, specs, n);
    for (int i = 0; i < n && st == SS_OK; i++) st = ss_ckpt_writer_append(w, t[i].data, t[i].nbytes);
    if (st == SS_OK) st = ss_ckpt_writer_finish(w, NULL);
    else if (w) ss_ckpt_writer_abort(w);
    for (int i = 0; i < n; i++) free((char *)t[i].spec.name);
    return st;
}

static char g_tmp[256]; /* per-run scratch folder */

static int make_tmp(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_engine_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int remove_tmp(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

static void test_load_checkpoint_roundtrip(void **state) {
    (void)state;
    const ss_arch archs[] = {SS_ARCH_BITNET, SS_ARCH_QWEN2, SS_ARCH_LLAMA};
    for (int a = 0; a < 3; a++) {
        micro mc;
        ss_model_config cfg = small_config(archs[a]);
        micro_build(&mc, &cfg, 11, SS_QUANT_NONE);
        char dir[300];
        snprintf(dir, sizeof dir, "%s/micro-%s", g_tmp, ss_arch_name(archs[a]));
        OK(write_micro(&mc, &cfg, dir));
        ss_model loaded;
        OK(ss_model_load(dir, &loaded));
        assert_int_equal(loaded.quant, SS_QUANT_NONE);
        assert_int_equal(loaded.slid, 0);
        assert_int_equal(loaded.cfg.hidden, cfg.hidden);
        const int32_t tok[] = {1, 2, 30, 4};
        float want[4 * 64], got[4 * 64];
        engine_prefill(&mc.model, tok, 4, want);
        engine_prefill(&loaded, tok, 4, got);
        assert_memory_equal(got, want, sizeof(float) * 4 * (size_t)cfg.vocab);
        ss_model_free(&loaded);
        micro_free(&mc);
    }
}

static void test_load_rejects_mismatch(void **state) {
    (void)state;
    micro mc;
    ss_model_config cfg = small_config(SS_ARCH_LLAMA);
    micro_build(&mc, &cfg, 12, SS_QUANT_NONE);
    char dir[300];
    ss_model m;
    /* config.json says intermediate 40; the tensors are 48 wide. */
    ss_model_config wrong = cfg;
    wrong.intermediate = 40;
    snprintf(dir, sizeof dir, "%s/mismatch", g_tmp);
    OK(write_micro(&mc, &wrong, dir));
    assert_int_equal(ss_model_load(dir, &m), SS_ERR_FORMAT);
    if (!strstr(ss_errmsg(), "model.layers.0.mlp.gate_proj.weight")) fail_msg("error: %s", ss_errmsg());
    assert_null(m.layers); /* nothing left allocated */
    /* A missing tensor: an untied config without lm_head.weight on disk. */
    mc.cfg.tie_embeddings = 1; /* writer skips lm_head */
    snprintf(dir, sizeof dir, "%s/no-lm-head", g_tmp);
    OK(write_micro(&mc, &cfg, dir));
    assert_int_equal(ss_model_load(dir, &m), SS_ERR_FORMAT);
    if (!strstr(ss_errmsg(), "lm_head.weight")) fail_msg("error: %s", ss_errmsg());
    mc.cfg.tie_embeddings = 0;
    assert_int_equal(ss_model_load("/nonexistent/model", &m), SS_ERR_IO);
    micro_free(&mc);
}

/* ------------------------------------------------------------------------
 * The tiny preset through the real conversion chain: synth (fixed seed) ->
 * quantize -> prune 2_8 / convert (prune + slide) 2_8. The slid model must
 * compute bit-identical logits to its pruned twin, hence the same tokens.
 * ------------------------------------------------------------------------ */

enum { TINY_PROMPT = 6, TINY_NEW = 8 };
static const int32_t TINY_IDS[TINY_PROMPT] = {1, 517, 2048, 33, 4000, 9};

static void tiny_dir(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_tmp, name); }

static void tiny_bf16(char *dir, size_t cap) {
    tiny_dir(dir, cap, "tiny-bf16");
    if (!ss_is_dir(dir)) OK(ss_synth("tiny", dir, 2024));
}

/* Logits of every prompt position, in one prefill. */
static float *tiny_logits(const ss_model *m) {
    float *logits = malloc((size_t)TINY_PROMPT * (size_t)m->cfg.vocab * sizeof(float));
    assert_non_null(logits);
    engine_prefill(m, TINY_IDS, TINY_PROMPT, logits);
    return logits;
}

static void check_pruned_vs_slid(ss_quant q) {
    char bf16[300], quant[300], pruned[300], slid[300];
    tiny_bf16(bf16, sizeof bf16);
    const char *tag = q == SS_QUANT_INT8 ? "int8" : "fp8";
    snprintf(quant, sizeof quant, "%s/tiny-%s", g_tmp, tag);
    snprintf(pruned, sizeof pruned, "%s/tiny-%s-pruned-2_8", g_tmp, tag);
    snprintf(slid, sizeof slid, "%s/tiny-%s-slid-2_8", g_tmp, tag);
    OK(ss_quantize_checkpoint(bf16, quant, q, -1));
    OK(ss_prune_checkpoint(quant, pruned, 8));
    OK(ss_convert_checkpoint(quant, slid, 8));

    ss_model mq, mp, ms;
    OK(ss_model_load(quant, &mq));
    OK(ss_model_load(pruned, &mp));
    OK(ss_model_load(slid, &ms));
    assert_int_equal(mp.quant, q);
    assert_int_equal(ms.quant, q);
    assert_int_equal(mp.slid, 0);
    assert_int_equal(ms.slid, 1);
    /* 2_8 slides K=512 onto 64 groups x 3 windows x 4 = 768 columns. */
    assert_int_equal(ms.layers[0].q.slide.K_slid, 768);
    assert_int_equal(ms.layers[0].down.K, 1376);

    float *lq = tiny_logits(&mq), *lp = tiny_logits(&mp), *ls = tiny_logits(&ms);
    size_t bytes = (size_t)TINY_PROMPT * (size_t)mp.cfg.vocab * sizeof(float);
    assert_memory_equal(ls, lp, bytes);
    assert_memory_not_equal(lq, lp, bytes); /* pruning changed the model: the comparison is not vacuous */

    int32_t ids_p[TINY_NEW], ids_s[TINY_NEW];
    int np, ns;
    ss_gen_stats stats;
    OK(ss_generate_cpu_stats(&mp, TINY_IDS, TINY_PROMPT, TINY_NEW, 0, ids_p, &np, &stats));
    printf("tiny %s pruned 2_8: prefill %.0f tok/s, decode %.0f tok/s (sanitized build)\n", tag,
           TINY_PROMPT / stats.prefill_s, (stats.n_new - 1) / stats.decode_s);
    OK(ss_generate_cpu_stats(&ms, TINY_IDS, TINY_PROMPT, TINY_NEW, 0, ids_s, &ns, &stats));
    printf("tiny %s slid 2_8:   prefill %.0f tok/s, decode %.0f tok/s (sanitized build)\n", tag,
           TINY_PROMPT / stats.prefill_s, (stats.n_new - 1) / stats.decode_s);
    assert_int_equal(np, TINY_NEW);
    assert_int_equal(ns, TINY_NEW);
    assert_memory_equal(ids_s, ids_p, sizeof ids_p);
    printf("tiny %s ids:", tag);
    for (int i = 0; i < np; i++) printf(" %d", ids_p[i]);
    printf("\n");

    free(lq), free(lp), free(ls);
    ss_model_free(&mq);
    ss_model_free(&mp);
    ss_model_free(&ms);
    OK(ss_rm_rf(quant));
    OK(ss_rm_rf(pruned));
    OK(ss_rm_rf(slid));
}

static void test_tiny_int8_pruned_equals_slid(void **state) {
    (void)state;
    check_pruned_vs_slid(SS_QUANT_INT8);
}

static void test_tiny_fp8_pruned_equals_slid(void **state) {
    (void)state;
    check_pruned_vs_slid(SS_QUANT_FP8);
}

static void test_tiny_bf16_generates(void **state) {
    (void)state;
    char dir[300];
    tiny_bf16(dir, sizeof dir);
    ss_model m;
    OK(ss_model_load(dir, &m));
    assert_int_equal(m.quant, SS_QUANT_NONE);
    assert_int_equal(m.lm_head.dtype, SS_DT_BF16);
    int32_t ids[TINY_NEW];
    int n;
    OK(ss_generate_cpu(&m, TINY_IDS, TINY_PROMPT, TINY_NEW, 0, ids, &n));
    assert_int_equal(n, TINY_NEW);
    for (int i = 0; i < n; i++) assert_in_range(ids[i], 0, m.cfg.vocab - 1);
    ss_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitnet_matches_double_reference),
        cmocka_unit_test(test_llama_matches_double_reference),
        cmocka_unit_test(test_qwen2_matches_double_reference),
        cmocka_unit_test(test_rope_llama3_bands),
        cmocka_unit_test(test_residual_bf16),
        cmocka_unit_test(test_rope_linear_dynamic),
        cmocka_unit_test(test_rope_yarn),
        cmocka_unit_test(test_rope_scalings_match_double_reference),
        cmocka_unit_test(test_batching_bf16),
        cmocka_unit_test(test_batching_int8_fp8),
        cmocka_unit_test(test_forward_errors),
        cmocka_unit_test(test_argmax_lowest_on_ties),
        cmocka_unit_test(test_generate_matches_recompute),
        cmocka_unit_test(test_load_checkpoint_roundtrip),
        cmocka_unit_test(test_load_rejects_mismatch),
        cmocka_unit_test(test_tiny_bf16_generates),
        cmocka_unit_test(test_tiny_int8_pruned_equals_slid),
        cmocka_unit_test(test_tiny_fp8_pruned_equals_slid),
    };
    return cmocka_run_group_tests(tests, make_tmp, remove_tmp);
}
