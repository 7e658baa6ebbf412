/* CPU reference forward pass (llama2.c's run.c, batched over sequences).
 *
 * Per layer, for the n tokens of the batch (x: residual stream [n, hidden]):
 *   xn   = rmsnorm(x, input_layernorm)
 *   q,k,v = xn Wq^T (+bq), xn Wk^T (+bk), xn Wv^T (+bv); RoPE on q and k
 *   cache[seq][pos] = k, v;  att = softmax(q K^T / sqrt(D)) V over positions 0..pos
 *   BitNet: att = rmsnorm(att, attn_sub_norm)
 *   x   += att Wo^T
 *   xn   = rmsnorm(x, post_attention_layernorm)
 *   h    = act(xn Wg^T) * (xn Wu^T)      act = relu2 (BitNet) or silu
 *   BitNet: h = rmsnorm(h, ffn_sub_norm)
 *   x   += h Wd^T
 * then logits = rmsnorm(x, norm) Wlm^T for the requested rows.
 *
 * Precision points (the GPU engine follows the same ones):
 *  - the residual stream x is float32, or BF16 (ss_residual: rounded after the
 *    embedding and every add); embeddings are read exactly (BF16 -> f32);
 *  - RMSNorm: sum of squares accumulated in double, y = (float)(x * inv_rms) * w;
 *  - every linear output is rounded to BF16 (ss_linear_ref; this includes the
 *    bias add and the lm_head logits);
 *  - linear inputs: for unquantized (BF16/F16/F32) weights the float input is
 *    rounded to BF16 first, since a BF16 GEMM takes BF16 operands; quantized
 *    (INT8/FP8) linears take the float norm/activation output directly and
 *    quantize it per token (ss_linear_ref);
 *  - RoPE: frequencies from engine/rope.h (shared with the GPU engine), angles
 *    pos * inv_freq and their cos/sin (times yarn's attention factor) in
 *    double, the rotation in double, rounded to float; q stays float;
 *  - K (after RoPE) and V are stored in the KV cache rounded to BF16;
 *  - attention: scores q.k in float, scaled by 1/sqrt(D), softmax in float
 *    with the max subtracted, weighted sum of V in float;
 *  - act(gate) * up in float (gate and up hold BF16 values);
 *  - logits float (holding BF16 values, from the lm_head linear).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "convert/calib.h"
#include "engine/forward_cpu.h"

/* ---- state ---- */

const char *ss_residual_name(ss_residual r) {
    return r == SS_RESIDUAL_F32 ? "f32" : r == SS_RESIDUAL_BF16 ? "bf16" : NULL;
}

ss_status ss_residual_resolve(ss_residual r, ss_residual *out) {
    if (r == SS_RESIDUAL_F32 || r == SS_RESIDUAL_BF16) {
        *out = r;
        return SS_OK;
    }
    if (r != SS_RESIDUAL_AUTO) return ss_fail(SS_ERR_ARG, "residual precision %d is unknown", (int)r);
    const char *env = getenv("SS_RESIDUAL");
    *out = SS_RESIDUAL_F32;
    if (!env || !*env || !strcmp(env, "f32")) return SS_OK;
    if (!strcmp(env, "bf16")) {
        *out = SS_RESIDUAL_BF16;
        return SS_OK;
    }
    return ss_fail(SS_ERR_ARG, "environment variable SS_RESIDUAL='%s' is not f32 or bf16", env);
}

ss_status ss_cpu_state_new(const ss_model *m, int max_seqs, int max_len, ss_cpu_state **out) {
    *out = NULL;
    if (max_seqs <= 0 || max_len <= 0)
        return ss_fail(SS_ERR_ARG, "KV cache: max_seqs=%d and max_len=%d must be positive", max_seqs, max_len);
    size_t per_layer = (size_t)max_seqs * (size_t)max_len * (size_t)ss_model_kv_dim(m);
    size_t n = per_layer * (size_t)m->cfg.n_layers;
    ss_residual res;
    SS_TRY(ss_residual_resolve(SS_RESIDUAL_AUTO, &res));
    ss_cpu_state *s = calloc(1, sizeof *s);
    if (!s) return ss_fail(SS_ERR_NOMEM, "KV cache: no memory for the state");
    s->residual = res;
    s->model = m;
    s->max_seqs = max_seqs;
    s->max_len = max_len;
    s->k_cache = calloc(n, sizeof(uint16_t));
    s->v_cache = calloc(n, sizeof(uint16_t));
    s->seq_len = calloc((size_t)max_seqs, sizeof(int));
    s->inv_freq = calloc((size_t)m->cfg.head_dim / 2 + 1, sizeof(double));
    if (!s->k_cache || !s->v_cache || !s->seq_len || !s->inv_freq) {
        ss_cpu_state_free(s);
        return ss_fail(SS_ERR_NOMEM, "KV cache: no memory for %d sequences x %d positions (%zu MiB)", max_seqs,
                       max_len, 2 * n * sizeof(uint16_t) >> 20);
    }
    ss_status st = ss_rope_frequencies(&m->cfg, max_len, s->inv_freq, &s->rope_scale);
    if (st != SS_OK) {
        ss_cpu_state_free(s);
        return st;
    }
    *out = s;
    return SS_OK;
}

void ss_cpu_state_free(ss_cpu_state *s) {
    if (!s) return;
    free(s->k_cache);
    free(s->v_cache);
    free(s->seq_len);
    free(s->inv_freq);
    free(s);
}

void ss_cpu_state_reset(ss_cpu_state *s) { memset(s->seq_len, 0, (size_t)s->max_seqs * sizeof(int)); }

/* Offset of cache entry (layer, seq, pos) in k_cache / v_cache. */
static size_t cache_at(const ss_cpu_state *s, int layer, int seq, int pos) {
    return (((size_t)layer * (size_t)s->max_seqs + (size_t)seq) * (size_t)s->max_len + (size_t)pos) *
           (size_t)ss_model_kv_dim(s->model);
}

/* ---- batch checks ---- */

ss_status ss_batch_check(const ss_batch *b, int vocab, int max_seqs, int max_len, const int *seq_len) {
    if (b->n < 0 || b->n_logits < 0 || (b->n > 0 && (!b->token || !b->seq || !b->pos)) ||
        (b->n_logits > 0 && !b->logit_rows))
        return ss_fail(SS_ERR_ARG, "forward: malformed batch (n=%d, n_logits=%d)", b->n, b->n_logits);
    int *next = malloc((size_t)max_seqs * sizeof(int)); /* expected next position per sequence, -1 = unseen */
    if (!next) return ss_fail(SS_ERR_NOMEM, "forward: no memory to check the batch");
    for (int q = 0; q < max_seqs; q++) next[q] = -1;
    ss_status st = SS_OK;
    for (int i = 0; i < b->n && st == SS_OK; i++) {
        int tok = b->token[i], q = b->seq[i], p = b->pos[i];
        if (tok < 0 || tok >= vocab)
            st = ss_fail(SS_ERR_ARG, "forward: token %d (batch row %d) is out of range [0, %d)", tok, i, vocab);
        else if (q < 0 || q >= max_seqs)
            st = ss_fail(SS_ERR_ARG, "forward: sequence %d (batch row %d) is out of range: %d sequence slots",
                         q, i, max_seqs);
        else if (p < 0 || p >= max_len)
            st = ss_fail(SS_ERR_ARG, "forward: position %d (batch row %d) is beyond max_len %d", p, i, max_len);
        else if (next[q] < 0 && p > seq_len[q])
            st = ss_fail(SS_ERR_ARG, "forward: sequence %d has %d positions but batch row %d is at position %d",
                         q, seq_len[q], i, p);
        else if (next[q] >= 0 && p != next[q])
            st = ss_fail(SS_ERR_ARG, "forward: sequence %d expects position %d at batch row %d, got %d", q, next[q],
                         i, p);
        else
            next[q] = p + 1;
    }
    free(next);
    if (st == SS_OK && b->n_logits > b->n)
        st = ss_fail(SS_ERR_ARG, "forward: %d logit rows asked of a batch of %d tokens", b->n_logits, b->n);
    for (int r = 0; r < b->n_logits && st == SS_OK; r++)
        if (b->logit_rows[r] < 0 || b->logit_rows[r] >= b->n)
            st = ss_fail(SS_ERR_ARG, "forward: logit row %d is not a batch row (n=%d)", b->logit_rows[r], b->n);
    return st;
}

static ss_status check_batch(const ss_cpu_state *s, const ss_batch *b) {
    return ss_batch_check(b, s->model->cfg.vocab, s->max_seqs, s->max_len, s->seq_len);
}

/* ---- building blocks ---- */

/* out[n] = x / sqrt(mean(x^2) + eps) * w, for M rows of n. out may equal x. */
static void rmsnorm(float *out, const float *x, const float *w, int64_t M, int64_t n, double eps) {
    for (int64_t m = 0; m < M; m++) {
        const float *xr = x + m * n;
        float *yr = out + m * n;
        double ss = 0;
        for (int64_t j = 0; j < n; j++) ss += (double)xr[j] * xr[j];
        double inv = 1.0 / sqrt(ss / (double)n + eps);
        for (int64_t j = 0; j < n; j++) yr[j] = (float)(xr[j] * inv) * w[j];
    }
}

static int is_quantized(const ss_linear_weight *w) { return w->dtype == SS_DT_I8 || w->dtype == SS_DT_F8_E4M3; }

/* y[M, N] = linear(x[M, K]). Unquantized weights take a BF16-rounded copy of
 * x (in xbuf, [M, K]); quantized ones quantize x per token themselves. */
static ss_status linear(const ss_linear_weight *w, const float *x, int64_t M, float *y, float *xbuf) {
    if (is_quantized(w)) return ss_linear_ref(w, x, M, y);
    for (int64_t i = 0; i < M * w->K; i++) xbuf[i] = ss_round_bf16(x[i]);
    return ss_linear_ref(w, xbuf, M, y);
}

/* Rotates each head of v [n_heads, D] by the angles pos * inv_freq (rotate_half
 * pairs (i, i + D/2)), cos and sin multiplied by scale as transformers does. */
static void rope(float *v, int n_heads, int D, int pos, const double *inv_freq, double scale) {
    for (int i = 0; i < D / 2; i++) {
        double angle = (double)pos * inv_freq[i], c = cos(angle) * scale, s = sin(angle) * scale;
        for (int h = 0; h < n_heads; h++) {
            float *x = v + (size_t)h * D;
            double a = x[i], b = x[i + D / 2];
            x[i] = (float)(a * c - b * s);
            x[i + D / 2] = (float)(b * c + a * s);
        }
    }
}

/* Attention of one head of one token over its sequence's cache positions 0..pos.
 * q: [D], out: [D], scores: [pos + 1] scratch. */
static void attend_head(const ss_cpu_state *s, int layer, int seq, int pos, int kv_head, const float *q, float *out,
                        float *scores) {
    const int D = s->model->cfg.head_dim;
    const uint16_t *K = s->k_cache + cache_at(s, layer, seq, 0) + (size_t)kv_head * D;
    const uint16_t *V = s->v_cache + cache_at(s, layer, seq, 0) + (size_t)kv_head * D;
    const size_t stride = (size_t)ss_model_kv_dim(s->model);
    const float scale = 1.0f / sqrtf((float)D);
    float mx = -INFINITY;
    for (int t = 0; t <= pos; t++) {
        float dot = 0;
        for (int d = 0; d < D; d++) dot += q[d] * ss_bf16_to_f32(K[t * stride + d]);
        scores[t] = dot * scale;
        mx = fmaxf(mx, scores[t]);
    }
    float sum = 0;
    for (int t = 0; t <= pos; t++) {
        scores[t] = expf(scores[t] - mx);
        sum += scores[t];
    }
    for (int d = 0; d < D; d++) out[d] = 0;
    for (int t = 0; t <= pos; t++) {
        float p = scores[t] / sum;
        for (int d = 0; d < D; d++) out[d] += p * ss_bf16_to_f32(V[t * stride + d]);
    }
}

/* att[n, H*D] for every token and head of the batch (K/V already cached). */
static ss_status attention(const ss_cpu_state *s, int layer, const ss_batch *b, const float *q, float *att) {
    const ss_model_config *cfg = &s->model->cfg;
    const int H = cfg->n_heads, D = cfg->head_dim, group = cfg->n_heads / cfg->n_kv_heads;
    int failed = 0;
#pragma omp parallel
    {
        float *scores = malloc((size_t)s->max_len * sizeof(float));
        if (!scores) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (int64_t ih = 0; ih < (int64_t)b->n * H; ih++) {
            if (!scores) continue;
            int i = (int)(ih / H), h = (int)(ih % H);
            size_t off = (size_t)i * H * D + (size_t)h * D;
            attend_head(s, layer, b->seq[i], b->pos[i], h / group, q + off, att + off, scores);
        }
        free(scores);
    }
    if (failed) return ss_fail(SS_ERR_NOMEM, "attention: no memory for %d scores", s->max_len);
    return SS_OK;
}

/* Calibration capture: adds x[n, dim]^2 per column to input `in` of layer l. */
static void capture(const ss_cpu_state *s, ss_calib_input in, int l, const float *x, int n) {
    ss_calib_stats *c = s->capture;
    if (!c) return;
    const int64_t dim = c->dim[in];
    double *acc = c->sumsq[in] + (int64_t)l * dim;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < dim; j++) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (double)x[(int64_t)i * dim + j] * x[(int64_t)i * dim + j];
        acc[j] += sum;
    }
    if (!c->gram[in]) return;
    double *g = c->gram[in] + (int64_t)l * dim * dim; /* the upper triangle; ss_calib_collect mirrors it */
#pragma omp parallel for schedule(dynamic, 8)
    for (int64_t a = 0; a < dim; a++)
        for (int i = 0; i < n; i++) {
            const double xa = x[(int64_t)i * dim + a];
            const float *xr = x + (int64_t)i * dim;
            double *ga = g + a * dim;
            for (int64_t b = a; b < dim; b++) ga[b] += xa * xr[b];
        }
}

/* x += d over n elements; BF16 residual: then rounded (the add itself in float). */
static void residual_add(float *x, const float *d, size_t n, ss_residual r) {
    for (size_t j = 0; j < n; j++) x[j] = r == SS_RESIDUAL_BF16 ? ss_round_bf16(x[j] + d[j]) : x[j] + d[j];
}

static float silu(float x) { return x / (1.0f + expf(-x)); }
static float relu2(float x) { return x > 0 ? x * x : 0.0f; }

/* ---- the forward pass ---- */

/* Activations of one batch; sizes in the comments (n tokens). */
typedef struct scratch {
    float *x;    /* [n, hidden] residual stream */
    float *xn;   /* [n, max(hidden, q_dim, intermediate)] normed input of a linear */
    float *xbuf; /* same size: its BF16-rounded copy for unquantized linears */
    float *q;    /* [n, q_dim] */
    float *k;    /* [n, kv_dim] */
    float *v;    /* [n, kv_dim] */
    float *att;  /* [n, q_dim] */
    float *out;  /* [n, hidden] o_proj / down_proj output */
    float *gate; /* [n, intermediate] */
    float *up;   /* [n, intermediate] */
} scratch;

/* Every buffer of the scratch, to allocate and free them in one loop. */
static int scratch_buffers(scratch *sc, float ***out) {
    float **all[] = {&sc->x, &sc->xn, &sc->xbuf, &sc->q, &sc->k, &sc->v, &sc->att, &sc->out, &sc->gate, &sc->up};
    const int n = (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < n; i++) out[i] = all[i];
    return n;
}

static void scratch_free(scratch *sc) {
    float **bufs[16];
    int nb = scratch_buffers(sc, bufs);
    for (int i = 0; i < nb; i++) {
        free(*bufs[i]);
        *bufs[i] = NULL;
    }
}

static ss_status scratch_alloc(scratch *sc, const ss_model *m, int n) {
    const size_t H = (size_t)m->cfg.hidden, Q = (size_t)ss_model_q_dim(m), KV = (size_t)ss_model_kv_dim(m),
                 I = (size_t)m->cfg.intermediate, N = (size_t)(n > 0 ? n : 1);
    size_t widest = H > Q ? H : Q;
    if (I > widest) widest = I;
    const size_t floats[] = {N * H, N * widest, N * widest, N * Q, N * KV, N * KV, N * Q, N * H, N * I, N * I};
    float **bufs[16];
    int nb = scratch_buffers(sc, bufs);
    int ok = 1;
    for (int i = 0; i < nb; i++) {
        *bufs[i] = malloc(floats[i] * sizeof(float));
        ok = ok && *bufs[i];
    }
    if (!ok) {
        scratch_free(sc);
        return ss_fail(SS_ERR_NOMEM, "forward: no memory for the activations of %d tokens", n);
    }
    return SS_OK;
}

static void embed(const ss_model *m, const ss_batch *b, float *x) {
    const int64_t H = m->cfg.hidden;
    for (int i = 0; i < b->n; i++)
        for (int64_t j = 0; j < H; j++) x[i * H + j] = ss_load_f32(m->embed, m->embed_dtype, (size_t)(b->token[i] * H + j));
}

static ss_status attention_block(ss_cpu_state *s, int l, const ss_batch *b, scratch *sc) {
    const ss_model *m = s->model;
    const ss_layer_weights *lw = &m->layers[l];
    const int n = b->n, H = m->cfg.hidden, Q = ss_model_q_dim(m), KV = ss_model_kv_dim(m), D = m->cfg.head_dim;
    rmsnorm(sc->xn, sc->x, lw->attn_norm, n, H, m->cfg.rms_eps);
    capture(s, SS_CALIB_ATTN_IN, l, sc->xn, n);
    SS_TRY(linear(&lw->q, sc->xn, n, sc->q, sc->xbuf));
    SS_TRY(linear(&lw->k, sc->xn, n, sc->k, sc->xbuf));
    SS_TRY(linear(&lw->v, sc->xn, n, sc->v, sc->xbuf));
    for (int i = 0; i < n; i++) {
        rope(sc->q + (size_t)i * Q, m->cfg.n_heads, D, b->pos[i], s->inv_freq, s->rope_scale);
        rope(sc->k + (size_t)i * KV, m->cfg.n_kv_heads, D, b->pos[i], s->inv_freq, s->rope_scale);
        size_t at = cache_at(s, l, b->seq[i], b->pos[i]);
        for (int j = 0; j < KV; j++) {
            s->k_cache[at + j] = ss_f32_to_bf16(sc->k[(size_t)i * KV + j]);
            s->v_cache[at + j] = ss_f32_to_bf16(sc->v[(size_t)i * KV + j]);
        }
    }
    SS_TRY(attention(s, l, b, sc->q, sc->att));
    if (lw->attn_sub_norm) rmsnorm(sc->att, sc->att, lw->attn_sub_norm, n, Q, m->cfg.rms_eps);
    capture(s, SS_CALIB_O_IN, l, sc->att, n);
    SS_TRY(linear(&lw->o, sc->att, n, sc->out, sc->xbuf));
    residual_add(sc->x, sc->out, (size_t)n * H, s->residual);
    return SS_OK;
}

static ss_status mlp_block(const ss_cpu_state *s, int l, int n, ss_residual res, scratch *sc) {
    const ss_model *m = s->model;
    const ss_layer_weights *lw = &m->layers[l];
    const int H = m->cfg.hidden, I = m->cfg.intermediate;
    rmsnorm(sc->xn, sc->x, lw->mlp_norm, n, H, m->cfg.rms_eps);
    capture(s, SS_CALIB_MLP_IN, l, sc->xn, n);
    SS_TRY(linear(&lw->gate, sc->xn, n, sc->gate, sc->xbuf));
    SS_TRY(linear(&lw->up, sc->xn, n, sc->up, sc->xbuf));
    for (size_t j = 0; j < (size_t)n * I; j++) {
        float g = sc->gate[j];
        sc->gate[j] = (m->cfg.act == SS_ACT_RELU2 ? relu2(g) : silu(g)) * sc->up[j];
    }
    if (lw->ffn_sub_norm) rmsnorm(sc->gate, sc->gate, lw->ffn_sub_norm, n, I, m->cfg.rms_eps);
    capture(s, SS_CALIB_DOWN_IN, l, sc->gate, n);
    SS_TRY(linear(&lw->down, sc->gate, n, sc->out, sc->xbuf));
    residual_add(sc->x, sc->out, (size_t)n * H, res);
    return SS_OK;
}

/* Final norm of the requested rows, then lm_head. */
static ss_status head(const ss_model *m, const ss_batch *b, scratch *sc, float *logits) {
    const int64_t H = m->cfg.hidden;
    for (int r = 0; r < b->n_logits; r++)
        rmsnorm(sc->xn + r * H, sc->x + (int64_t)b->logit_rows[r] * H, m->final_norm, 1, H, m->cfg.rms_eps);
    return linear(&m->lm_head, sc->xn, b->n_logits, logits, sc->xbuf);
}

ss_status ss_cpu_forward(ss_cpu_state *s, const ss_batch *b, float *logits) {
    const ss_model *m = s->model;
    SS_TRY(check_batch(s, b));
    if (b->n_logits > 0 && !logits) return ss_fail(SS_ERR_ARG, "forward: %d logit rows asked but no output", b->n_logits);
    if (b->n == 0) return SS_OK;
    scratch sc;
    SS_TRY(scratch_alloc(&sc, m, b->n));
    ss_status st = SS_OK;
    embed(m, b, sc.x);
    if (s->residual == SS_RESIDUAL_BF16)
        for (size_t j = 0; j < (size_t)b->n * m->cfg.hidden; j++) sc.x[j] = ss_round_bf16(sc.x[j]);
    for (int l = 0; l < m->cfg.n_layers && st == SS_OK; l++) {
        st = attention_block(s, l, b, &sc);
        if (st == SS_OK) st = mlp_block(s, l, b->n, s->residual, &sc);
    }
    if (st == SS_OK && b->n_logits > 0) st = head(m, b, &sc, logits);
    if (st == SS_OK && s->capture) s->capture->tokens += b->n;
    if (st == SS_OK)
        for (int i = 0; i < b->n; i++) s->seq_len[b->seq[i]] = b->pos[i] + 1;
    scratch_free(&sc);
    return st;
}
