/* The GPU engine's host side (its weights on the device: model_cuda.c):
 * memory planned once, one step = a fixed sequence of kernel launches and
 * GEMMs on one stream.
 *
 * Per layer, for the n tokens of a step (M_pad = n rounded up to 16):
 *   add_norm     x += down(l-1) (layer 0: x = embed[tok]); xq = quant(rmsnorm(x))   [fused]
 *   GEMM qkv     y_qkv = xq . Wqkv^T                    (q, k, v fused: one GEMM)
 *   rope_kv      k rotated, k and v -> BF16 KV cache at (seq, pos)
 *   attention    flash kernel on prefill tiles, split-context kernel on decode rows
 *                (tensor cores unless SS_ATTN_DECODE=old; in the decode loop, with
 *                the `fused` kind, it also does rope_kv's work and rope_kv is skipped);
 *                q is read from y_qkv and rotated inside them
 *   norm         xq = quant(attn_sub_norm(att))      (Llama/Qwen: quant(att))
 *   GEMM o       y_h = xq . Wo^T
 *   add_norm     x += y_h; xq = quant(rmsnorm(x))
 *   GEMM gate_up y_gu = xq . Wgu^T                      (gate and up fused)
 *   act_norm     xq = quant(ffn_sub_norm(act(gate) * up))
 *   GEMM down    y_h = xq . Wd^T
 * then for the logit rows only: x += y_h, final norm -> BF16, lm_head GEMM,
 * argmax or a float copy of the logits.
 * Every consumer dequantizes the GEMM output it reads (kernels.h, ss_yview),
 * so no separate dequant pass runs in either dequant mode.
 */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/timer.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/cuda/engine_cuda_model.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/kernels_ref.h"
#include "engine/cuda/plan.h"
#include "engine/rope.h"
#include "gemm/arch.h"


/* ---- the engine ---- */

enum { SX_QKV, SX_O, SX_GU, SX_DOWN, SX_COUNT };

struct ss_cuda_engine {
    ss_cuda_model *cm;
    ss_cuda_engine_opts o;        /* attn_decode resolved (never AUTO) */
    ss_attn_geom geom;
    int *seq_len;                 /* host [max_seqs] */
    uint16_t *k_cache, *v_cache;  /* [n_layers][max_seqs][KVH][max_len][D] BF16 (BF16 cache) */
    uint8_t *k8, *v8;             /* the same E4M3 (FP8 cache) */
    float *k8s, *v8s;             /* [n_layers][max_seqs][KVH][max_len] row scales (FP8 cache) */
    size_t layer_cache;           /* elements per layer (geom.max_len: max_len rounded up to 4) */
    double *rope;                 /* [max_len][D/2][2] (cos, sin) */
    float *rope_f;                /* the same as floats, for the prefill kernel */
    void *x;                      /* [max_tokens, hidden] residual, x_dtype (F32 or BF16) */
    ss_dtype x_dtype;
    void *xq;                     /* [M_pad, widest K_act] GEMM input */
    float *sx[SX_COUNT];          /* [M_pad] token scales per GEMM input */
    void *y_qkv, *y_h, *y_gu;     /* GEMM outputs [M_pad, N_pad] */
    float *att;                   /* [max_tokens, q_dim] */
    float *partial;               /* decode attention split scratch */
    void *xl;                     /* lm_head input [pad(max_logits), K_act] BF16 */
    uint16_t *logits;             /* [pad(max_logits), vocab_pad] BF16 */
    float *logits_f;              /* [max_logits, vocab] */
    int32_t *ids;                 /* [max_logits] */
    /* batch metadata: device and pinned host copies of the same layout */
    int32_t *d_meta, *h_meta;
    size_t meta_ints;
    int32_t *m_tok, *m_seq, *m_pos, *m_logit, *m_dec; /* offsets into d_meta */
    ss_attn_tile *m_tiles;
    /* decode loop state (device): token, position, slot, identity rows */
    int32_t *dec_tok, *dec_pos, *dec_seq, *dec_rows, *h_dec;
    size_t bytes;
    /* profiling of eager steps: an event before each launch, kinds alongside */
    int prof_on, capturing, n_ev, max_ev;
    cudaEvent_t *ev;
    ss_prof_kind *ev_kind;
    double prof_ms[SS_PROF_COUNT];
};

const char *ss_prof_kind_name(ss_prof_kind k) {
    static const char *const names[SS_PROF_COUNT] = {"gemm", "attention", "other"};
    return (unsigned)k < SS_PROF_COUNT ? names[k] : "?";
}

/* Marks the start of the next launch, of kind k (no-op unless profiling;
 * graph captures are not profiled: a captured event record is a dependency,
 * not a timestamp). */
static void mark(ss_cuda_engine *e, ss_prof_kind k) {
    if (!e->prof_on || e->capturing || e->n_ev >= e->max_ev) return;
    cudaEventRecord(e->ev[e->n_ev], (cudaStream_t)e->cm->stream);
    e->ev_kind[e->n_ev++] = k;
}

/* After the step's work: closes the last interval, waits, accumulates. */
static ss_status prof_collect(ss_cuda_engine *e) {
    if (!e->prof_on || e->n_ev == 0) return SS_OK;
    if (e->n_ev >= e->max_ev) e->n_ev = e->max_ev - 1;
    cudaEventRecord(e->ev[e->n_ev], (cudaStream_t)e->cm->stream);
    cudaError_t err = cudaEventSynchronize(e->ev[e->n_ev]);
    for (int i = 0; i < e->n_ev && err == cudaSuccess; i++) {
        float ms = 0;
        err = cudaEventElapsedTime(&ms, e->ev[i], e->ev[i + 1]);
        e->prof_ms[e->ev_kind[i]] += ms;
    }
    e->n_ev = 0;
    if (err != cudaSuccess) cudaGetLastError(); /* not sticky: keep it from failing the next launch check */
    return ss_engine_cuda_ok(err, "profile events");
}

ss_status ss_cuda_engine_profile(ss_cuda_engine *e, int on) {
    memset(e->prof_ms, 0, sizeof e->prof_ms);
    e->n_ev = 0;
    e->prof_on = 0;
    if (!on) return SS_OK;
    if (!e->ev) {
        const int n = 12 * e->cm->m->cfg.n_layers + 16;
        e->ev = calloc((size_t)n, sizeof *e->ev);
        e->ev_kind = calloc((size_t)n, sizeof *e->ev_kind);
        if (!e->ev || !e->ev_kind) return ss_fail(SS_ERR_NOMEM, "profile: no memory for %d events", n);
        for (int i = 0; i < n; i++) CU(cudaEventCreate(&e->ev[i]));
        e->max_ev = n;
    }
    e->prof_on = 1;
    return SS_OK;
}

void ss_cuda_engine_profile_read(const ss_cuda_engine *e, double ms[SS_PROF_COUNT]) {
    for (int k = 0; k < SS_PROF_COUNT; k++) ms[k] = e->prof_ms[k];
}

static ss_status engine_alloc(ss_cuda_engine *e) {
    const ss_model *m = e->cm->m;
    const ss_model_config *c = &m->cfg;
    const ss_cuda_model *cm = e->cm;
    const int64_t M_pad = ss_gemm_pad_m(e->o.max_tokens), L_pad = ss_gemm_pad_m(e->o.max_logits);
    const size_t D = (size_t)c->head_dim;
    e->layer_cache = (size_t)e->o.max_seqs * (size_t)c->n_kv_heads * (size_t)e->geom.max_len * D;
    size_t *b = &e->bytes;
    if (e->o.kv_cache == SS_KV_CACHE_FP8) {
        const size_t rows = e->layer_cache / D * (size_t)c->n_layers;
        SS_TRY(ss_dev_alloc((void **)&e->k8, e->layer_cache * (size_t)c->n_layers, b));
        SS_TRY(ss_dev_alloc((void **)&e->v8, e->layer_cache * (size_t)c->n_layers, b));
        SS_TRY(ss_dev_alloc((void **)&e->k8s, rows * sizeof(float), b));
        SS_TRY(ss_dev_alloc((void **)&e->v8s, rows * sizeof(float), b));
    } else {
        SS_TRY(ss_dev_alloc((void **)&e->k_cache, e->layer_cache * (size_t)c->n_layers * 2, b));
        SS_TRY(ss_dev_alloc((void **)&e->v_cache, e->layer_cache * (size_t)c->n_layers * 2, b));
    }

    /* RoPE table, from the CPU engine's frequencies and angles (engine/rope.h) */
    size_t nrope = (size_t)e->o.max_len * D;
    double *inv = malloc(D / 2 * sizeof(double) + 8), *rope = malloc(nrope * sizeof(double));
    ss_status st = (inv && rope) ? SS_OK : ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for the RoPE table");
    double rope_scale = 1.0;
    if (st == SS_OK) st = ss_rope_frequencies(c, e->o.max_len, inv, &rope_scale);
    if (st == SS_OK) {
        ss_ref_rope_table(inv, rope_scale, c->head_dim, e->o.max_len, rope);
        st = ss_dev_alloc((void **)&e->rope, nrope * sizeof(double), b);
    }
    if (st == SS_OK) st = ss_gpu_upload(e->rope, rope, nrope * sizeof(double));
    float *rope_f = st == SS_OK ? malloc(nrope * sizeof(float)) : NULL;
    if (st == SS_OK && !rope_f) st = ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for the RoPE table");
    if (st == SS_OK) {
        for (size_t i = 0; i < nrope; i++) rope_f[i] = (float)rope[i];
        st = ss_dev_alloc((void **)&e->rope_f, nrope * sizeof(float), b);
    }
    if (st == SS_OK) st = ss_gpu_upload(e->rope_f, rope_f, nrope * sizeof(float));
    free(rope_f);
    free(inv);
    free(rope);
    SS_TRY(st);

    /* the largest of every layer: a recipe gives layers different K_act and output types */
    int64_t widest = 0;
    size_t y_qkv = 0, y_gu = 0, y_h = 0;
    for (int l = 0; l < c->n_layers; l++) {
        const dev_layer *dl = &cm->layers[l];
        const dev_linear *lins[4] = {&dl->qkv, &dl->o, &dl->gate_up, &dl->down};
        for (int i = 0; i < 4; i++) {
            int64_t bytes = lins[i]->info.K_act * (int64_t)ss_dtype_size(lins[i]->act_dtype);
            if (bytes > widest) widest = bytes;
        }
        const size_t q = (size_t)(M_pad * dl->qkv.info.N_pad) * ss_dev_linear_out_elem_size(&dl->qkv);
        const size_t g = (size_t)(M_pad * dl->gate_up.info.N_pad) * ss_dev_linear_out_elem_size(&dl->gate_up);
        const size_t o = (size_t)(M_pad * dl->o.info.N_pad) * ss_dev_linear_out_elem_size(&dl->o);
        const size_t d = (size_t)(M_pad * dl->down.info.N_pad) * ss_dev_linear_out_elem_size(&dl->down);
        y_qkv = q > y_qkv ? q : y_qkv;
        y_gu = g > y_gu ? g : y_gu;
        y_h = o > y_h ? o : y_h;
        y_h = d > y_h ? d : y_h;
    }
    SS_TRY(ss_dev_alloc(&e->x, (size_t)e->o.max_tokens * (size_t)c->hidden * ss_dtype_size(e->x_dtype), b));
    SS_TRY(ss_dev_alloc(&e->xq, (size_t)(M_pad * widest), b));
    for (int i = 0; i < SX_COUNT; i++) SS_TRY(ss_dev_alloc((void **)&e->sx[i], (size_t)M_pad * sizeof(float), b));
    SS_TRY(ss_dev_alloc(&e->y_qkv, y_qkv, b));
    SS_TRY(ss_dev_alloc(&e->y_gu, y_gu, b));
    SS_TRY(ss_dev_alloc(&e->y_h, y_h, b));
    SS_TRY(ss_dev_alloc((void **)&e->att, (size_t)e->o.max_tokens * (size_t)ss_model_q_dim(m) * sizeof(float), b));
    /* split-context scratch for up to max_seqs decode rows (more go to the flash kernel as 1-row tiles) */
    SS_TRY(ss_dev_alloc((void **)&e->partial, ss_attn_decode_partial_floats(e->o.max_seqs, &e->geom) * sizeof(float), b));
    SS_TRY(ss_dev_alloc(&e->xl, (size_t)(L_pad * cm->lm_head.info.K_act) * 2, b));
    SS_TRY(ss_dev_alloc((void **)&e->logits, (size_t)(L_pad * cm->lm_head.info.N_pad) * 2, b));
    SS_TRY(ss_dev_alloc((void **)&e->logits_f, (size_t)e->o.max_logits * (size_t)c->vocab * sizeof(float), b));
    SS_TRY(ss_dev_alloc((void **)&e->ids, (size_t)e->o.max_logits * sizeof(int32_t), b));

    /* metadata: tok, seq, pos [max_tokens], logit rows [max_logits], decode rows [max_tokens], tiles */
    const size_t T = (size_t)e->o.max_tokens, tiles = (size_t)ss_attn_plan_max_tiles(e->o.max_tokens);
    e->meta_ints = 4 * T + (size_t)e->o.max_logits + tiles * 4;
    SS_TRY(ss_dev_alloc((void **)&e->d_meta, e->meta_ints * sizeof(int32_t), b));
    CU(cudaMallocHost((void **)&e->h_meta, e->meta_ints * sizeof(int32_t)));
    e->m_tok = e->d_meta;
    e->m_seq = e->m_tok + T;
    e->m_pos = e->m_seq + T;
    e->m_dec = e->m_pos + T;
    e->m_logit = e->m_dec + T;
    e->m_tiles = (ss_attn_tile *)(e->m_logit + e->o.max_logits);

    const size_t S = (size_t)e->o.max_seqs;
    SS_TRY(ss_dev_alloc((void **)&e->dec_tok, 4 * S * sizeof(int32_t), b));
    e->dec_pos = e->dec_tok + S;
    e->dec_seq = e->dec_pos + S;
    e->dec_rows = e->dec_seq + S;
    CU(cudaMallocHost((void **)&e->h_dec, 4 * S * sizeof(int32_t)));
    e->seq_len = calloc(S, sizeof(int));
    if (!e->seq_len) return ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for %zu sequence slots", S);
    return SS_OK;
}

ss_status ss_cuda_engine_new(ss_cuda_model *cm, const ss_cuda_engine_opts *o, ss_cuda_engine **out) {
    *out = NULL;
    if (o->max_seqs <= 0 || o->max_len <= 0 || o->max_tokens <= 0 || o->max_logits < 0)
        return ss_fail(SS_ERR_ARG, "GPU engine: max_seqs=%d, max_len=%d, max_tokens=%d must be positive", o->max_seqs,
                       o->max_len, o->max_tokens);
    ss_attn_decode_kind dk = o->attn_decode;
    if (dk == SS_ATTN_DECODE_AUTO) {
        const char *env = getenv("SS_ATTN_DECODE");
        /* tc by default: the same bits as fused (test_graph_equals_eager), 6 % more decode throughput at
         * batch 512 on the H200 (80,972 vs 76,460 output tok/s, docs/BENCHMARKS.md, 2026-12-02): the
         * fused kernel's cache write costs more than the launch of rope_kv it saves */
        dk = SS_ATTN_DECODE_TC;
        if (env && *env) SS_TRY_CTX(ss_attn_decode_parse(env, &dk), "environment variable SS_ATTN_DECODE");
    } else if (!ss_attn_decode_name(dk)) {
        return ss_fail(SS_ERR_ARG, "GPU engine: decode attention kind %d is unknown", (int)dk);
    }
    ss_attn_prefill_kind pk = o->attn_prefill;
    int pk_default = 0; /* wgmma where it runs, mma elsewhere, without a warning */
    if (pk == SS_ATTN_PREFILL_AUTO) {
        const char *env = getenv("SS_ATTN_PREFILL");
        /* wgmma by default where it runs: the same results as mma (relative L2 0 on the H200), 172 vs 159
         * TFLOP/s at 32 prompts of 1024, the engine's prefill attention 36.8 -> 33.4 ms a pass at
         * M = 32768 (docs/BENCHMARKS.md, 2026-12-02) */
        pk = SS_ATTN_PREFILL_WGMMA, pk_default = 1;
        if (env && *env) {
            SS_TRY_CTX(ss_attn_prefill_parse(env, &pk), "environment variable SS_ATTN_PREFILL");
            pk_default = 0;
        }
    } else if (!ss_attn_prefill_name(pk)) {
        return ss_fail(SS_ERR_ARG, "GPU engine: prefill attention kind %d is unknown", (int)pk);
    }
    ss_kv_cache_kind kk = o->kv_cache;
    if (kk == SS_KV_CACHE_AUTO) {
        const char *env = getenv("SS_KV_CACHE");
        kk = SS_KV_CACHE_BF16;
        if (env && *env) SS_TRY_CTX(ss_kv_cache_parse(env, &kk), "environment variable SS_KV_CACHE");
    } else if (!ss_kv_cache_name(kk)) {
        return ss_fail(SS_ERR_ARG, "GPU engine: KV cache kind %d is unknown", (int)kk);
    }
    if (kk == SS_KV_CACHE_FP8 && dk == SS_ATTN_DECODE_OLD)
        return ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: the FP8 KV cache needs the tensor-core decode attention "
                                           "(SS_ATTN_DECODE=tc or fused), not old");
    if (kk == SS_KV_CACHE_FP8 && pk == SS_ATTN_PREFILL_WGMMA) {
        if (!pk_default)
            ss_warn("GPU engine: the wgmma prefill attention reads a BF16 KV cache only; using mma for the FP8 cache");
        pk = SS_ATTN_PREFILL_MMA;
    }
    if (pk == SS_ATTN_PREFILL_WGMMA) { /* the path table (gemm/arch.c) first, the device probe second */
        ss_gpu_info gi;
        ss_gpuarch_choice ch = {0};
        if (ss_gpu_info_get(cm->o.device, &gi) == SS_OK) {
            const ss_gpuarch_gpu g = {gi.name, gi.cc_major, gi.cc_minor, gi.cusparselt_version};
            ss_gpuarch_select(&g, NULL, SS_OP_ENGINE_WGMMA, SS_GEMM_BF16, &ch);
        } else {
            ss_clear_error();
        }
        if (!ch.runs || !ss_attn_prefill_wgmma_available()) {
            if (!pk_default)
                ss_warn("GPU engine: the wgmma prefill attention does not run here (%s); using mma",
                        ch.runs ? "no sm_90a code answered the device probe" : ch.why);
            pk = SS_ATTN_PREFILL_MMA;
        }
    }
    ss_cuda_engine *e = calloc(1, sizeof *e);
    if (!e) return ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for the engine");
    e->cm = cm;
    e->o = *o;
    e->o.attn_decode = dk;
    e->o.attn_prefill = pk;
    e->o.kv_cache = kk;
    ss_status rst = ss_residual_resolve(o->residual, &e->o.residual);
    if (rst != SS_OK) {
        free(e);
        return rst;
    }
    e->x_dtype = e->o.residual == SS_RESIDUAL_BF16 ? SS_DT_BF16 : SS_DT_F32;
    if (e->o.max_logits == 0) e->o.max_logits = o->max_seqs;
    const ss_model_config *c = &cm->m->cfg;
    const int64_t D = c->head_dim;
    e->geom = (ss_attn_geom){.n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
                             .max_seqs = o->max_seqs, .max_len = (o->max_len + 3) / 4 * 4, .q_col = 0,
                             .k_col = c->n_heads * D, .v_col = (c->n_heads + c->n_kv_heads) * D};
    ss_status st = engine_alloc(e);
    if (st != SS_OK) {
        ss_cuda_engine_free(e);
        return ss_context(st, "GPU engine for %d sequences x %d positions, %d tokens per step", o->max_seqs,
                          o->max_len, o->max_tokens);
    }
    *out = e;
    return SS_OK;
}

void ss_cuda_engine_free(ss_cuda_engine *e) {
    if (!e) return;
    for (int i = 0; i < e->max_ev; i++) cudaEventDestroy(e->ev[i]);
    free(e->ev);
    free(e->ev_kind);
    free(e->seq_len);
    void *dev[] = {e->k_cache, e->v_cache, e->k8, e->v8, e->k8s, e->v8s, e->rope, e->rope_f, e->x, e->xq, e->y_qkv,
                   e->y_h, e->y_gu, e->att, e->partial, e->xl, e->logits, e->logits_f, e->ids, e->d_meta, e->dec_tok};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) ss_gpu_free(dev[i]);
    for (int i = 0; i < SX_COUNT; i++) ss_gpu_free(e->sx[i]);
    if (e->h_meta) cudaFreeHost(e->h_meta);
    if (e->h_dec) cudaFreeHost(e->h_dec);
    free(e);
}

void ss_cuda_engine_reset(ss_cuda_engine *e) { memset(e->seq_len, 0, (size_t)e->o.max_seqs * sizeof(int)); }
int ss_cuda_engine_seq_len(const ss_cuda_engine *e, int s) {
    return s >= 0 && s < e->o.max_seqs ? e->seq_len[s] : 0;
}
size_t ss_cuda_engine_bytes(const ss_cuda_engine *e) { return e->bytes; }
ss_attn_decode_kind ss_cuda_engine_attn_decode(const ss_cuda_engine *e) { return e->o.attn_decode; }
ss_residual ss_cuda_engine_residual(const ss_cuda_engine *e) { return e->o.residual; }
ss_attn_prefill_kind ss_cuda_engine_attn_prefill(const ss_cuda_engine *e) { return e->o.attn_prefill; }
ss_kv_cache_kind ss_cuda_engine_kv_cache(const ss_cuda_engine *e) { return e->o.kv_cache; }

ss_status ss_cuda_sync(ss_cuda_engine *e) {
    CU(cudaStreamSynchronize((cudaStream_t)e->cm->stream));
    return SS_OK;
}

/* ---- one step ---- */

/* Where one step's inputs live on the device. */
typedef struct step_io {
    int n;                     /* tokens */
    const int32_t *tok, *seq, *pos;
    const ss_attn_tile *tiles; /* prefill tiles */
    int n_tiles;
    const int32_t *dec_rows;   /* single-token rows */
    int n_dec;
    const int32_t *logit_rows; /* NULL: rows 0..n_logits-1 */
    int n_logits;
    int decode_loop;           /* every row is its sequence's one token (the graph step) */
} step_io;

static ss_status gemm(ss_cuda_engine *e, const dev_linear *d, int n, const float *sx, void *out) {
    return ss_gemm_matmul(e->cm->gemm, d->w, e->xq, d->quantized ? sx : NULL, n, d->mode, out);
}

static ss_status enqueue_layers(ss_cuda_engine *e, const step_io *io) {
    ss_cuda_model *cm = e->cm;
    const ss_model_config *c = &cm->m->cfg;
    void *st = cm->stream;
    const int n = io->n, H = c->hidden, Q = ss_model_q_dim(cm->m), I = c->intermediate;
    const double eps = c->rms_eps;
    for (int l = 0; l < c->n_layers; l++) {
        const dev_layer *dl = &cm->layers[l];
        const int f8 = e->o.kv_cache == SS_KV_CACHE_FP8;
        uint16_t *kc = f8 ? NULL : e->k_cache + (size_t)l * e->layer_cache;
        uint16_t *vc = f8 ? NULL : e->v_cache + (size_t)l * e->layer_cache;
        const size_t lrows = e->layer_cache / (size_t)e->geom.head_dim;
        const ss_kv_f8 kv8 = {.k = f8 ? e->k8 + (size_t)l * e->layer_cache : NULL,
                              .v = f8 ? e->v8 + (size_t)l * e->layer_cache : NULL,
                              .k_scale = f8 ? e->k8s + (size_t)l * lrows : NULL,
                              .v_scale = f8 ? e->v8s + (size_t)l * lrows : NULL};

        ss_xview xin = ss_dev_linear_xview(&dl->qkv, e->xq, e->sx[SX_QKV]);
        mark(e, SS_PROF_OTHER);
        if (l == 0) {
            SS_TRY(ss_k_embed_norm(io->tok, cm->embed, n, H, e->x, e->x_dtype, dl->attn_norm, eps, &xin, st));
        } else {
            ss_yview down = ss_dev_linear_yview(&cm->layers[l - 1].down, e->y_h, e->sx[SX_DOWN]);
            SS_TRY(ss_k_add_norm(e->x, e->x_dtype, &down, NULL, n, H, 1, dl->attn_norm, eps, &xin, st));
        }
        mark(e, SS_PROF_GEMM);
        SS_TRY(gemm(e, &dl->qkv, n, e->sx[SX_QKV], e->y_qkv));
        ss_yview qkv = ss_dev_linear_yview(&dl->qkv, e->y_qkv, e->sx[SX_QKV]);
        const ss_attn_decode_kind dk = e->o.attn_decode;
        const int fuse_kv = dk == SS_ATTN_DECODE_FUSED && io->decode_loop;
        if (!fuse_kv) {
            mark(e, SS_PROF_OTHER);
            if (f8) SS_TRY(ss_k_rope_kv_f8(&qkv, n, io->seq, io->pos, e->rope, &e->geom, &kv8, st));
            else SS_TRY(ss_k_rope_kv(&qkv, n, io->seq, io->pos, e->rope, &e->geom, kc, vc, st));
        }
        mark(e, SS_PROF_ATTENTION);
        if (f8)
            SS_TRY(ss_k_attention_prefill_f8(&qkv, io->tiles, io->n_tiles, e->rope_f, &e->geom, &kv8, e->att, st));
        else if (e->o.attn_prefill == SS_ATTN_PREFILL_WGMMA)
            SS_TRY(ss_k_attention_prefill_wgmma(&qkv, io->tiles, io->n_tiles, e->rope_f, &e->geom, kc, vc, e->att, st));
        else
            SS_TRY(ss_k_attention_prefill(&qkv, io->tiles, io->n_tiles, e->rope_f, &e->geom, kc, vc, e->att, st));
        if (f8)
            SS_TRY(ss_k_attention_decode_tc_f8(&qkv, io->dec_rows, io->n_dec, io->seq, io->pos, e->rope, &e->geom, 0,
                                               fuse_kv, &kv8, e->partial, e->att, st));
        else if (dk == SS_ATTN_DECODE_OLD)
            SS_TRY(ss_k_attention_decode(&qkv, io->dec_rows, io->n_dec, io->seq, io->pos, e->rope, &e->geom, kc, vc,
                                         e->partial, e->att, st));
        else
            SS_TRY(ss_k_attention_decode_tc(&qkv, io->dec_rows, io->n_dec, io->seq, io->pos, e->rope, &e->geom, 0,
                                            fuse_kv, kc, vc, e->partial, e->att, st));

        ss_xview xo = ss_dev_linear_xview(&dl->o, e->xq, e->sx[SX_O]);
        mark(e, SS_PROF_OTHER);
        SS_TRY(ss_k_norm(e->att, n, Q, dl->attn_sub, eps, &xo, st));
        mark(e, SS_PROF_GEMM);
        SS_TRY(gemm(e, &dl->o, n, e->sx[SX_O], e->y_h));

        ss_yview o = ss_dev_linear_yview(&dl->o, e->y_h, e->sx[SX_O]);
        ss_xview xgu = ss_dev_linear_xview(&dl->gate_up, e->xq, e->sx[SX_GU]);
        mark(e, SS_PROF_OTHER);
        SS_TRY(ss_k_add_norm(e->x, e->x_dtype, &o, NULL, n, H, 1, dl->mlp_norm, eps, &xgu, st));
        mark(e, SS_PROF_GEMM);
        SS_TRY(gemm(e, &dl->gate_up, n, e->sx[SX_GU], e->y_gu));

        ss_yview gu = ss_dev_linear_yview(&dl->gate_up, e->y_gu, e->sx[SX_GU]);
        ss_xview xd = ss_dev_linear_xview(&dl->down, e->xq, e->sx[SX_DOWN]);
        mark(e, SS_PROF_OTHER);
        SS_TRY(ss_k_act_norm(&gu, n, I, c->act == SS_ACT_SILU, dl->ffn_sub, eps, &xd, st));
        mark(e, SS_PROF_GEMM);
        SS_TRY(gemm(e, &dl->down, n, e->sx[SX_DOWN], e->y_h));
    }
    return SS_OK;
}

/* Final residual, norm and lm_head for the logit rows -> e->logits (BF16). */
static ss_status enqueue_head(ss_cuda_engine *e, const step_io *io) {
    ss_cuda_model *cm = e->cm;
    const ss_model_config *c = &cm->m->cfg;
    if (io->n_logits == 0) return SS_OK;
    ss_yview down = ss_dev_linear_yview(&cm->layers[c->n_layers - 1].down, e->y_h, e->sx[SX_DOWN]);
    ss_xview xl = ss_dev_linear_xview(&cm->lm_head, e->xl, NULL);
    mark(e, SS_PROF_OTHER);
    SS_TRY(ss_k_add_norm(e->x, e->x_dtype, &down, io->logit_rows, io->n_logits, c->hidden, 0, cm->final_norm, c->rms_eps, &xl,
                         cm->stream));
    mark(e, SS_PROF_GEMM);
    return ss_gemm_matmul(cm->gemm, cm->lm_head.w, e->xl, NULL, io->n_logits, cm->lm_head.mode, e->logits);
}

/* The CPU engine's batch rules (forward_cpu.h), plus this engine's sizes. */
static ss_status check_batch(const ss_cuda_engine *e, const ss_batch *b) {
    if (b->n > e->o.max_tokens)
        return ss_fail(SS_ERR_ARG, "forward: %d tokens exceed the engine's %d per step", b->n, e->o.max_tokens);
    if (b->n_logits > e->o.max_logits)
        return ss_fail(SS_ERR_ARG, "forward: %d logit rows exceed the engine's %d", b->n_logits, e->o.max_logits);
    return ss_batch_check(b, e->cm->m->cfg.vocab, e->o.max_seqs, e->o.max_len, e->seq_len);
}

/* Copies the batch and its attention plan to the device (one transfer) and
 * enqueues the step. */
static ss_status run_batch(ss_cuda_engine *e, const ss_batch *b) {
    SS_TRY(check_batch(e, b));
    cudaGetLastError(); /* a stale, non-sticky error of an earlier call must not fail this step's launch checks */
    const size_t T = (size_t)e->o.max_tokens, n = (size_t)b->n;
    int32_t *h = e->h_meta;
    memcpy(h, b->token, n * 4);
    memcpy(h + T, b->seq, n * 4);
    memcpy(h + 2 * T, b->pos, n * 4);
    int n_tiles = 0, n_dec = 0;
    ss_attn_tile *tiles = (ss_attn_tile *)(h + 4 * T + e->o.max_logits);
    ss_attn_plan(b, tiles, &n_tiles, h + 3 * T, &n_dec);
    for (; n_dec > e->o.max_seqs; n_dec--) { /* past the decode scratch: single-row flash tiles */
        int32_t r = h[3 * T + n_dec - 1];
        tiles[n_tiles++] = (ss_attn_tile){.row0 = r, .n = 1, .seq = b->seq[r], .pos0 = b->pos[r]};
    }
    if (b->n_logits) memcpy(h + 4 * T, b->logit_rows, (size_t)b->n_logits * 4);
    CU(cudaMemcpyAsync(e->d_meta, h, e->meta_ints * sizeof(int32_t), cudaMemcpyHostToDevice,
                       (cudaStream_t)e->cm->stream));
    step_io io = {.n = b->n, .tok = e->m_tok, .seq = e->m_seq, .pos = e->m_pos, .tiles = e->m_tiles,
                  .n_tiles = n_tiles, .dec_rows = e->m_dec, .n_dec = n_dec, .logit_rows = e->m_logit,
                  .n_logits = b->n_logits};
    SS_TRY(enqueue_layers(e, &io));
    SS_TRY(enqueue_head(e, &io));
    for (int i = 0; i < b->n; i++) e->seq_len[b->seq[i]] = b->pos[i] + 1;
    return SS_OK;
}

static ss_status finish(ss_cuda_engine *e, const char *what) {
    cudaError_t err = cudaStreamSynchronize((cudaStream_t)e->cm->stream);
    if (err != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "%s: the GPU step failed: %s (%s)", what, cudaGetErrorName(err),
                       cudaGetErrorString(err));
    return prof_collect(e);
}

ss_status ss_cuda_forward(ss_cuda_engine *e, const ss_batch *b, float *logits) {
    if (b->n == 0) return check_batch(e, b);
    SS_TRY(run_batch(e, b));
    const int vocab = e->cm->m->cfg.vocab;
    if (b->n_logits > 0) {
        mark(e, SS_PROF_OTHER);
        SS_TRY(ss_k_bf16_to_f32(e->logits, e->cm->lm_head.info.N_pad, b->n_logits, vocab, e->logits_f, e->cm->stream));
        CU(cudaMemcpyAsync(logits, e->logits_f, (size_t)b->n_logits * (size_t)vocab * sizeof(float),
                           cudaMemcpyDeviceToHost, (cudaStream_t)e->cm->stream));
    }
    return finish(e, "forward");
}

ss_status ss_cuda_forward_nll(ss_cuda_engine *e, const ss_batch *b, const int32_t *targets, double *nll) {
    const int vocab = e->cm->m->cfg.vocab;
    for (int r = 0; r < b->n_logits; r++)
        if (targets[r] < 0 || targets[r] >= vocab)
            return ss_fail(SS_ERR_ARG, "forward: target %d of logit row %d is out of range [0, %d)", targets[r], r, vocab);
    if (b->n == 0) return check_batch(e, b);
    SS_TRY(run_batch(e, b));
    if (b->n_logits > 0) {
        /* targets into the ids buffer, NLLs into the float logits buffer (max_logits * vocab >= 2 * max_logits floats) */
        double *d_nll = (double *)e->logits_f;
        mark(e, SS_PROF_OTHER);
        CU(cudaMemcpyAsync(e->ids, targets, (size_t)b->n_logits * sizeof(int32_t), cudaMemcpyHostToDevice,
                           (cudaStream_t)e->cm->stream));
        SS_TRY(ss_k_row_nll(e->logits, e->cm->lm_head.info.N_pad, b->n_logits, vocab, e->ids, d_nll, e->cm->stream));
        CU(cudaMemcpyAsync(nll, d_nll, (size_t)b->n_logits * sizeof(double), cudaMemcpyDeviceToHost,
                           (cudaStream_t)e->cm->stream));
    }
    return finish(e, "forward");
}

ss_status ss_cuda_forward_ids(ss_cuda_engine *e, const ss_batch *b, int32_t *ids) {
    if (b->n == 0) return check_batch(e, b);
    SS_TRY(run_batch(e, b));
    if (b->n_logits > 0) {
        mark(e, SS_PROF_OTHER);
        SS_TRY(ss_k_argmax(e->logits, e->cm->lm_head.info.N_pad, b->n_logits, e->cm->m->cfg.vocab, e->ids,
                           e->cm->stream));
        CU(cudaMemcpyAsync(ids, e->ids, (size_t)b->n_logits * sizeof(int32_t), cudaMemcpyDeviceToHost,
                           (cudaStream_t)e->cm->stream));
    }
    return finish(e, "forward");
}

/* ---- decode loop with CUDA graphs ---- */

/* One decode step of sequences 0..n-1 from the device-side loop state:
 * forward, argmax into e->ids, then token <- ids, pos += 1. */
static ss_status enqueue_decode_step(ss_cuda_engine *e, int n) {
    step_io io = {.n = n, .tok = e->dec_tok, .seq = e->dec_seq, .pos = e->dec_pos, .tiles = NULL, .n_tiles = 0,
                  .dec_rows = e->dec_rows, .n_dec = n, .logit_rows = NULL, .n_logits = n, .decode_loop = 1};
    SS_TRY(enqueue_layers(e, &io));
    SS_TRY(enqueue_head(e, &io));
    mark(e, SS_PROF_OTHER);
    SS_TRY(ss_k_argmax(e->logits, e->cm->lm_head.info.N_pad, n, e->cm->m->cfg.vocab, e->ids, e->cm->stream));
    return ss_k_decode_advance(e->ids, n, e->dec_tok, e->dec_pos, e->cm->stream);
}

/* The graph of one decode step for batch size n. NULL (with a warning) when
 * capture fails: the caller then runs eagerly. Captured anew by every
 * decode call, after its eager first step: that step creates the GEMM plans
 * for M = n, and a graph kept across calls could hold a GEMM workspace that
 * a later, larger step has since reallocated. */
static cudaGraphExec_t decode_graph(ss_cuda_engine *e, int n) {
    cudaStream_t s = (cudaStream_t)e->cm->stream;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    ss_status st = SS_OK;
    cudaError_t end = cudaSuccess;
    if (cudaStreamBeginCapture(s, cudaStreamCaptureModeRelaxed) != cudaSuccess) goto fail;
    e->capturing = 1;
    st = enqueue_decode_step(e, n);
    e->capturing = 0;
    end = cudaStreamEndCapture(s, &graph);
    if (st != SS_OK || end != cudaSuccess || !graph) goto fail;
    if (cudaGraphInstantiate(&exec, graph, 0) != cudaSuccess) goto fail;
    cudaGraphDestroy(graph);
    return exec;
fail:
    ss_warn("GPU engine: capturing the decode step of batch %d as a CUDA graph failed (%s%s%s); decoding eagerly", n,
            cudaGetErrorString(cudaGetLastError()), ss_errmsg()[0] ? ": " : "", ss_errmsg());
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError(); /* clear the capture's error */
    return NULL;
}

ss_status ss_cuda_decode_greedy(ss_cuda_engine *e, int n_seqs, const int32_t *first, int n_steps, int use_graph,
                                int32_t *out_ids) {
    const int n = n_seqs;
    if (n <= 0 || n_steps <= 0) return SS_OK;
    if (n > e->o.max_seqs || n > e->o.max_tokens || n > e->o.max_logits)
        return ss_fail(SS_ERR_ARG, "decode: batch of %d exceeds the engine (%d sequences, %d tokens, %d logit rows)", n,
                       e->o.max_seqs, e->o.max_tokens, e->o.max_logits);
    const int vocab = e->cm->m->cfg.vocab;
    for (int i = 0; i < n; i++) {
        if (e->seq_len[i] <= 0) return ss_fail(SS_ERR_ARG, "decode: sequence %d has not been prefilled", i);
        if (e->seq_len[i] + n_steps > e->o.max_len)
            return ss_fail(SS_ERR_ARG, "decode: sequence %d at %d positions + %d steps exceeds max_len %d", i,
                           e->seq_len[i], n_steps, e->o.max_len);
        if (first[i] < 0 || first[i] >= vocab)
            return ss_fail(SS_ERR_ARG, "decode: first token %d of sequence %d is out of range", first[i], i);
    }
    cudaStream_t s = (cudaStream_t)e->cm->stream;
    const size_t S = (size_t)e->o.max_seqs;
    for (int i = 0; i < n; i++) {
        e->h_dec[i] = first[i];
        e->h_dec[S + i] = e->seq_len[i];
        e->h_dec[2 * S + i] = i;
        e->h_dec[3 * S + i] = i;
    }
    CU(cudaMemcpyAsync(e->dec_tok, e->h_dec, 4 * S * sizeof(int32_t), cudaMemcpyHostToDevice, s));
    int32_t *hist = NULL;
    CU(cudaMallocHost((void **)&hist, (size_t)n * (size_t)n_steps * sizeof(int32_t)));
    ss_status st = SS_OK;
    cudaGraphExec_t exec = NULL;
    for (int k = 0; k < n_steps && st == SS_OK; k++) {
        if (k == 1 && use_graph) exec = decode_graph(e, n); /* plans exist after the eager first step */
        if (exec) st = ss_engine_cuda_ok(cudaGraphLaunch(exec, s), "cudaGraphLaunch");
        else st = enqueue_decode_step(e, n);
        if (st == SS_OK && !exec && e->prof_on) st = prof_collect(e); /* profiling: one eager step at a time */
        if (st == SS_OK)
            st = ss_engine_cuda_ok(cudaMemcpyAsync(hist + (size_t)k * n, e->ids, (size_t)n * sizeof(int32_t),
                                         cudaMemcpyDeviceToHost, s),
                         "cudaMemcpyAsync(ids)");
    }
    if (st == SS_OK) st = finish(e, "decode");
    if (exec) cudaGraphExecDestroy(exec);
    if (st == SS_OK) {
        memcpy(out_ids, hist, (size_t)n * (size_t)n_steps * sizeof(int32_t));
        for (int i = 0; i < n; i++) e->seq_len[i] += n_steps;
    }
    cudaFreeHost(hist);
    return st;
}

/* ---- greedy generation ---- */

ss_status ss_generate_cuda_opts(const ss_model *m, const ss_cuda_gen_opts *o, const int32_t *prompt_ids,
                                int n_prompt, int max_new, int stop_at_eos, int32_t *out_ids, int *n_out,
                                ss_gen_stats *stats) {
    SS_TRY(ss_generate_begin(prompt_ids, n_prompt, max_new, n_out, stats));
    if (max_new == 0) return SS_OK;
    ss_cuda_gen_opts def = {.use_graph = 1};
    if (!o) o = &def;

    ss_cuda_model *cm = NULL;
    ss_cuda_engine *e = NULL;
    int32_t *seq = calloc((size_t)n_prompt, sizeof(int32_t)), *pos = malloc((size_t)n_prompt * sizeof(int32_t));
    ss_status st = (seq && pos) ? SS_OK : ss_fail(SS_ERR_NOMEM, "generate: no memory for a prompt of %d", n_prompt);
    if (st == SS_OK) st = ss_cuda_model_load(m, &o->model, &cm);
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = n_prompt + max_new, .max_tokens = n_prompt, .max_logits = 1};
    if (st == SS_OK) st = ss_cuda_engine_new(cm, &eo, &e);
    if (st == SS_OK) {
        for (int i = 0; i < n_prompt; i++) pos[i] = i;
        int32_t last_row = n_prompt - 1;
        ss_batch b = {.n = n_prompt, .token = prompt_ids, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last_row};
        double t0 = ss_now();
        st = ss_cuda_forward_ids(e, &b, out_ids);
        if (stats) stats->prefill_s = ss_now() - t0;
    }
    if (st == SS_OK) {
        double t0 = ss_now();
        if (max_new > 1) st = ss_cuda_decode_greedy(e, 1, out_ids, max_new - 1, o->use_graph, out_ids + 1);
        if (stats) stats->decode_s = ss_now() - t0;
    }
    if (st == SS_OK) {
        *n_out = max_new;
        if (stop_at_eos)
            for (int i = 0; i < max_new; i++)
                if (out_ids[i] == m->cfg.eos_id) {
                    *n_out = i + 1;
                    break;
                }
        if (stats) {
            stats->n_prompt = n_prompt;
            stats->n_new = *n_out;
        }
    }
    ss_cuda_engine_free(e);
    ss_cuda_model_free(cm);
    free(seq);
    free(pos);
    return st;
}

ss_status ss_generate_cuda(const ss_model *m, const int32_t *prompt_ids, int n_prompt, int max_new, int stop_at_eos,
                           int32_t *out_ids, int *n_out) {
    return ss_generate_cuda_opts(m, NULL, prompt_ids, n_prompt, max_new, stop_at_eos, out_ids, n_out, NULL);
}
