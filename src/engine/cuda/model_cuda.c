/* The GPU engine's model: every linear layer's weight handed to the GEMM
 * layer (cuBLASLt, cuSPARSELt or ours, per the recipe), norm vectors and the
 * BF16 embedding uploaded once; and the views through which the engine's
 * kernels read a GEMM's input and output (which dequant each mode needs). */
#include <cuda_runtime_api.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "engine/cuda/engine_cuda_model.h"
#include "gemm/arch.h"

ss_status ss_dev_alloc(void **p, size_t bytes, size_t *total) {
    *p = NULL;
    if (bytes == 0) bytes = 16;
    SS_TRY(ss_gpu_alloc(bytes, p));
    if (total) *total += bytes;
    return SS_OK;
}

static int is_quantized(ss_dtype t) { return t == SS_DT_I8 || t == SS_DT_F8_E4M3; }

static int uniform_scale(const ss_linear_weight *w) {
    for (int64_t n = 1; n < w->N; n++)
        if (w->scale[n] != w->scale[0]) return 0;
    return 1;
}

/* The output mode a weight's GEMM is asked for (see ss_cuda_dequant).
 * cuSPARSELt 0.8 scales FP8 by a scalar alpha only: BF16_CHANNEL there needs
 * a uniform weight scale (BitNet's o and down); the fused q/k/v and gate/up
 * concatenate tensors of different scales and take BF16_ACC (the
 * accumulator in BF16, both scales applied by the consumer). */
static ss_gemm_out choose_mode(ss_backend b, ss_gemm_dtype d, const ss_linear_weight *w, ss_cuda_dequant policy) {
    const int quantized = d == SS_GEMM_INT8 || d == SS_GEMM_FP8E4M3, has_bias = w->bias != NULL;
    if (!quantized) return ss_gemm_out_fused(b, d, SS_GEMM_OUT_BF16, has_bias) ? SS_GEMM_OUT_BF16 : SS_GEMM_OUT_ACC;
    if (policy == SS_DEQUANT_EXACT) return SS_GEMM_OUT_ACC;
    if (ss_gemm_out_fused(b, d, SS_GEMM_OUT_BF16, has_bias)) return SS_GEMM_OUT_BF16;
    const int scalar_only = b == SS_BACKEND_CUSPARSELT && d == SS_GEMM_FP8E4M3;
    if (ss_gemm_out_fused(b, d, SS_GEMM_OUT_BF16_CHANNEL, has_bias) && (!scalar_only || uniform_scale(w)))
        return SS_GEMM_OUT_BF16_CHANNEL;
    /* half the bytes of FP32 accumulators; the consumer applies both scales */
    if (ss_gemm_out_fused(b, d, SS_GEMM_OUT_BF16_ACC, has_bias)) return SS_GEMM_OUT_BF16_ACC;
    return SS_GEMM_OUT_ACC;
}

static ss_status make_linear(ss_cuda_model *cm, const ss_linear_weight *w, ss_backend b, dev_linear *d) {
    memset(d, 0, sizeof *d);
    SS_TRY(ss_gemm_weight_create(cm->gemm, w, b, &d->w));
    ss_gemm_weight_get_info(d->w, &d->info);
    d->act_dtype = ss_gemm_act_dtype(d->info.dtype);
    d->acc_dtype = ss_gemm_acc_dtype(b, d->info.dtype);
    d->quantized = is_quantized(w->dtype);
    d->sw = ss_gemm_weight_scale(d->w);
    d->bias = ss_gemm_weight_bias(d->w);
    d->mode = choose_mode(b, d->info.dtype, w, cm->o.dequant);
    if (d->act_dtype != SS_DT_BF16 && !d->quantized)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: the GPU engine runs BF16, INT8 and FP8 weights, not %s", w->name,
                       ss_dtype_name(w->dtype));
    if (d->mode == SS_GEMM_OUT_ACC && d->acc_dtype == SS_DT_F16)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: FP16 accumulators are not taken by the engine", w->name);
    cm->weight_bytes += d->info.device_bytes;
    return SS_OK;
}

/* Concatenates the rows of parts (same K, dtype and slide) into one weight:
 * q/k/v -> qkv, gate/up -> gate_up. *storage owns the host arrays. */
static ss_status fuse_rows(const ss_linear_weight *const *parts, int n, const char *name, ss_linear_weight *out,
                           void **storage) {
    const ss_linear_weight *p0 = parts[0];
    const int64_t Ks = ss_linear_k_stored(p0);
    const size_t es = ss_dtype_size(p0->dtype);
    int64_t N = 0;
    int any_bias = 0;
    for (int i = 0; i < n; i++) {
        const ss_linear_weight *p = parts[i];
        if (p->slid != p0->slid || (p->slid && p->slide.L != p0->slide.L)) {
            char a[16] = "dense", b[16] = "dense";
            if (p0->slid) ss_sparsity_name(p0->slide.L, a, sizeof a);
            if (p->slid) ss_sparsity_name(p->slide.L, b, sizeof b);
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: '%s' is %s but '%s' is %s; the GPU engine runs them as one GEMM "
                           "and needs one sparsity for both (give them the same sparsity in the recipe, or use "
                           "the CPU backend)", name, p0->name, a, p->name, b);
        }
        if (p->dtype != p0->dtype || p->K != p0->K || ss_linear_k_stored(p) != Ks || (!p->scale) != (!p0->scale))
            return ss_fail(SS_ERR_FORMAT, "%s: cannot fuse '%s' with '%s' (dtype, K or slide differ)", name, p->name,
                           p0->name);
        N += p->N;
        any_bias |= p->bias != NULL;
    }
    const size_t wbytes = (size_t)(N * Ks) * es, fl = (size_t)N * sizeof(float);
    uint8_t *buf = malloc(wbytes + 2 * fl + 16);
    if (!buf) return ss_fail(SS_ERR_NOMEM, "%s: no memory to fuse %lld x %lld weights", name, (long long)N, (long long)Ks);
    float *scale = (float *)(buf + ((wbytes + 15) / 16) * 16), *bias = scale + N;
    int64_t row = 0;
    for (int i = 0; i < n; i++) {
        const ss_linear_weight *p = parts[i];
        memcpy(buf + (size_t)(row * Ks) * es, p->w, (size_t)(p->N * Ks) * es);
        for (int64_t r = 0; r < p->N; r++) {
            if (p0->scale) scale[row + r] = p->scale[r];
            bias[row + r] = p->bias ? p->bias[r] : 0.0f;
        }
        row += p->N;
    }
    *out = *p0;
    out->name = name;
    out->N = N;
    out->w = buf;
    out->scale = p0->scale ? scale : NULL;
    out->bias = any_bias ? bias : NULL;
    *storage = buf;
    return SS_OK;
}

static ss_status check_shapes(const ss_model *m) {
    const ss_model_config *c = &m->cfg;
    if (c->head_dim != 64 && c->head_dim != 128)
        return ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: head_dim %d is not supported (64 or 128)", c->head_dim);
    if (c->hidden % 4 || c->intermediate % 4)
        return ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: hidden %d and intermediate %d must be multiples of 4",
                       c->hidden, c->intermediate);
    if (c->n_heads % c->n_kv_heads || c->n_heads / c->n_kv_heads > 8)
        return ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: %d heads over %d KV heads (groups of at most 8)", c->n_heads,
                       c->n_kv_heads);
    if (m->embed_dtype != SS_DT_BF16 || m->lm_head.dtype != SS_DT_BF16)
        return ss_fail(SS_ERR_UNSUPPORTED, "GPU engine: embeddings and lm_head must be BF16 (got %s and %s)",
                       ss_dtype_name(m->embed_dtype), ss_dtype_name(m->lm_head.dtype));
    return SS_OK;
}

static ss_status upload_vector(ss_cuda_model *cm, float **next, const float *host, int64_t n, const float **out) {
    *out = NULL;
    if (!host) return SS_OK;
    SS_TRY(ss_gpu_upload(*next, host, (size_t)n * sizeof(float)));
    *out = *next;
    *next += n;
    (void)cm;
    return SS_OK;
}

/* The backend of one block linear: the forced one, else cuSPARSELt for a
 * slid weight and cuBLASLt for a dense one (a recipe mixes both). */
static ss_backend backend_of(const ss_cuda_model *cm, const ss_linear_weight *w) {
    if (cm->o.backend_set) return cm->o.backend;
    return w->slid ? SS_BACKEND_CUSPARSELT : SS_BACKEND_CUBLASLT;
}

static ss_status load_layers(ss_cuda_model *cm) {
    const ss_model *m = cm->m;
    const ss_model_config *c = &m->cfg;
    const int64_t H = c->hidden, Q = ss_model_q_dim(m), I = c->intermediate;
    int64_t nvec = H; /* final norm */
    for (int l = 0; l < c->n_layers; l++) nvec += 2 * H + (m->layers[l].attn_sub_norm ? Q : 0) + (m->layers[l].ffn_sub_norm ? I : 0);
    SS_TRY(ss_dev_alloc((void **)&cm->vectors, (size_t)nvec * sizeof(float), &cm->weight_bytes));
    float *next = cm->vectors;
    SS_TRY(upload_vector(cm, &next, m->final_norm, H, &cm->final_norm));
    for (int l = 0; l < c->n_layers; l++) {
        const ss_layer_weights *lw = &m->layers[l];
        dev_layer *dl = &cm->layers[l];
        SS_TRY(upload_vector(cm, &next, lw->attn_norm, H, &dl->attn_norm));
        SS_TRY(upload_vector(cm, &next, lw->mlp_norm, H, &dl->mlp_norm));
        SS_TRY(upload_vector(cm, &next, lw->attn_sub_norm, Q, &dl->attn_sub));
        SS_TRY(upload_vector(cm, &next, lw->ffn_sub_norm, I, &dl->ffn_sub));
        char qkv_name[96], gu_name[96];
        snprintf(qkv_name, sizeof qkv_name, "model.layers.%d.self_attn.qkv_proj.weight", l);
        snprintf(gu_name, sizeof gu_name, "model.layers.%d.mlp.gate_up_proj.weight", l);
        const ss_linear_weight *qkv_parts[3] = {&lw->q, &lw->k, &lw->v}, *gu_parts[2] = {&lw->gate, &lw->up};
        ss_linear_weight fused;
        void *storage = NULL;
        SS_TRY(fuse_rows(qkv_parts, 3, qkv_name, &fused, &storage));
        ss_status st = make_linear(cm, &fused, backend_of(cm, &fused), &dl->qkv);
        free(storage);
        SS_TRY(st);
        SS_TRY(fuse_rows(gu_parts, 2, gu_name, &fused, &storage));
        st = make_linear(cm, &fused, backend_of(cm, &fused), &dl->gate_up);
        free(storage);
        SS_TRY(st);
        SS_TRY(make_linear(cm, &lw->o, backend_of(cm, &lw->o), &dl->o));
        SS_TRY(make_linear(cm, &lw->down, backend_of(cm, &lw->down), &dl->down));
    }
    return SS_OK;
}

ss_status ss_cuda_model_load(const ss_model *m, const ss_cuda_model_opts *o, ss_cuda_model **out) {
    *out = NULL;
    SS_TRY(check_shapes(m));
    ss_cuda_model *cm = calloc(1, sizeof *cm);
    if (!cm) return ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for the model");
    cm->m = m;
    if (o) cm->o = *o;
    /* the backend reported for the model: cuSPARSELt if any block linear takes it (see backend_of) */
    if (!o || !o->backend_set) cm->o.backend = m->slid ? SS_BACKEND_CUSPARSELT : SS_BACKEND_CUBLASLT;
    if (!o || !o->gemm_set) ss_gemm_options_default(&cm->o.gemm);
    ss_status st = ss_gemm_ctx_create(cm->o.device, NULL, &cm->o.gemm, &cm->gemm);
    if (st == SS_OK) { /* a GPU this build has no kernel image for: skipped with the reason, not a launch failure */
        ss_gpu_info gi;
        st = ss_gpu_info_get(cm->o.device, &gi);
        ss_gpuarch_choice ch;
        const ss_gpuarch_gpu g = {gi.name, gi.cc_major, gi.cc_minor, gi.cusparselt_version};
        if (st == SS_OK) ss_gpuarch_select(&g, NULL, SS_OP_ENGINE, SS_GEMM_BF16, &ch);
        if (st == SS_OK && !ch.runs) st = ss_fail(SS_ERR_UNSUPPORTED, "GPU engine on %s: %s", gi.name, ch.why);
    }
    if (st == SS_OK) {
        cm->stream = ss_gemm_ctx_stream(cm->gemm);
        cm->layers = calloc((size_t)m->cfg.n_layers, sizeof *cm->layers);
        if (!cm->layers) st = ss_fail(SS_ERR_NOMEM, "GPU engine: no memory for %d layers", m->cfg.n_layers);
    }
    if (st == SS_OK) st = load_layers(cm);
    if (st == SS_OK) st = make_linear(cm, &m->lm_head, SS_BACKEND_CUBLASLT, &cm->lm_head);
    if (st == SS_OK) {
        size_t eb = (size_t)m->cfg.vocab * (size_t)m->cfg.hidden * sizeof(uint16_t);
        st = ss_dev_alloc((void **)&cm->embed, eb, &cm->weight_bytes);
        if (st == SS_OK) st = ss_gpu_upload(cm->embed, m->embed, eb);
    }
    if (st != SS_OK) {
        ss_cuda_model_free(cm);
        return ss_context(st, "loading the model onto the GPU");
    }
    *out = cm;
    return SS_OK;
}

static void free_linear(dev_linear *d) {
    if (d->w) ss_gemm_weight_destroy(d->w);
    memset(d, 0, sizeof *d);
}

void ss_cuda_model_free(ss_cuda_model *cm) {
    if (!cm) return;
    if (cm->layers)
        for (int l = 0; l < cm->m->cfg.n_layers; l++) {
            free_linear(&cm->layers[l].qkv);
            free_linear(&cm->layers[l].o);
            free_linear(&cm->layers[l].gate_up);
            free_linear(&cm->layers[l].down);
        }
    free_linear(&cm->lm_head);
    free(cm->layers);
    ss_gpu_free(cm->vectors);
    ss_gpu_free(cm->embed);
    if (cm->gemm) ss_gemm_ctx_destroy(cm->gemm);
    free(cm);
}

const ss_model *ss_cuda_model_host(const ss_cuda_model *cm) { return cm->m; }
ss_gemm_ctx *ss_cuda_model_gemm(ss_cuda_model *cm) { return cm->gemm; }
ss_backend ss_cuda_model_backend(const ss_cuda_model *cm) { return cm->o.backend; }
size_t ss_cuda_model_weight_bytes(const ss_cuda_model *cm) { return cm->weight_bytes; }

/* ---- views of GEMM operands and outputs ---- */

size_t ss_dev_linear_out_elem_size(const dev_linear *d) {
    if (d->mode != SS_GEMM_OUT_ACC) return 2;
    return ss_dtype_size(d->acc_dtype);
}

ss_yview ss_dev_linear_yview(const dev_linear *d, const void *buf, const float *sx) {
    ss_yview y = {.kind = SS_Y_BF16, .data = buf, .ld = d->info.N_pad};
    if (d->mode == SS_GEMM_OUT_BF16) return y;
    if (d->mode == SS_GEMM_OUT_BF16_CHANNEL) {
        y.kind = SS_Y_BF16_CHANNEL;
        y.sx = sx;
        y.bias = d->bias;
        return y;
    }
    if (d->mode == SS_GEMM_OUT_BF16_ACC) {
        y.kind = SS_Y_BF16_ACC;
        y.sx = sx;
        y.sw = d->sw;
        y.bias = d->bias;
        return y;
    }
    /* ACC */
    y.bias = d->bias;
    if (d->acc_dtype == SS_DT_BF16) { /* cuSPARSELt BF16: acc already rounded, bias left */
        y.kind = SS_Y_BF16_CHANNEL;
        return y;
    }
    y.kind = d->acc_dtype == SS_DT_I32 ? SS_Y_I32 : SS_Y_F32;
    if (d->quantized) {
        y.sx = sx;
        y.sw = d->sw;
    }
    return y;
}

ss_xview ss_dev_linear_xview(const dev_linear *d, void *xq, float *sx) {
    ss_xview x = {.dtype = d->act_dtype, .data = xq, .ld = d->info.K_act, .scale = d->quantized ? sx : NULL,
                  .slid = d->info.slid};
    if (d->info.slid) x.geom = d->info.slide;
    return x;
}
