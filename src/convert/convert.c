/* quantize / prune / convert at checkpoint level (see convert.h).
 *
 * All three are one streaming pass over the input's tensors, in file order:
 * a block linear weight (ss_is_block_linear) is transformed in memory (one
 * tensor at a time, OpenMP inside), every other tensor is copied byte for
 * byte from the input's mapping. The output is built in "<out>.tmp.<pid>"
 * and renamed into place only when complete (ss_ckpt_writer), so any error,
 * a full disk included, leaves no output folder behind.
 *
 * Block linears are checked against the config before anything is written:
 * each one the architecture has must be present with shape [N, K] (the
 * shapes of ss_synth_specs), and none may be extra.
 *
 * BitNet's own formats (config.json quantization_config, io/config.h):
 * - packed 2-bit (microsoft/bitnet-b1.58-2B-4T): quantize unpacks the codes
 *   and writes them with the checkpoint's per-tensor scale (ternary, no
 *   re-quantization), or dequantizes them for --scheme absmax; the packed
 *   "<linear>.weight_scale" tensors are replaced by ours. prune and convert
 *   refuse it: quantize first.
 * - online (BF16 master weights): quantize ternarizes them exactly as the
 *   engine does at load; prune keeps the format; convert refuses (a slid
 *   master weight would be ternarized with the mean over K_slid).
 * quantize drops quantization_config from the output's config.json.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "convert/convert.h"
#include "convert/prune.h"
#include "convert/recipe.h"
#include "convert/slide.h"
#include "convert/sparsity.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "io/bitnet_packed.h"

typedef enum op_kind { OP_QUANTIZE, OP_PRUNE, OP_CONVERT } op_kind;

typedef struct op {
    op_kind kind;
    ss_quant quant;    /* OP_QUANTIZE */
    ss_qscheme scheme; /* OP_QUANTIZE */
    int L;             /* OP_PRUNE / OP_CONVERT: 4..SS_L_MAX, or SS_L_INF (convert only) */
    const ss_prune_opts *po; /* OP_PRUNE / OP_CONVERT: method, statistics, recipe file */
} op;

/* What one block linear becomes. */
typedef struct linear_plan {
    const ss_st_tensor *in;
    int64_t N, K;
    int L;              /* OP_PRUNE / OP_CONVERT: this tensor's sparsity, SS_RECIPE_DENSE = left as is */
    int layer;
    ss_linear_role role;
    ss_slide_geom geom; /* OP_CONVERT */
    ss_ckpt_linear meta;
    ss_dtype out_dtype;
    char scale_name[300]; /* OP_QUANTIZE: "<prefix>.weight_scale" */
} linear_plan;

typedef struct job {
    const char *in_dir, *out_dir;
    op op;
    ss_checkpoint ck;
    ss_recipe recipe;   /* loaded when op.po->recipe_file is given */
    int has_recipe;
    int repruned;       /* some tensor gets a sparsity it did not have */
    linear_plan *plans; /* indexed like ck.st.tensors; plans[i].in == NULL for copied tensors */
    ss_st_spec *out_specs;
    int n_out;
} job;

/* ---- checks ---- */

static ss_status check_paths(const char *in_dir, const char *out_dir) {
    char a[PATH_MAX], b[PATH_MAX];
    if (!out_dir || !*out_dir) return ss_fail(SS_ERR_ARG, "no output folder given");
    if (realpath(in_dir, a) && realpath(out_dir, b) && !strcmp(a, b))
        return ss_fail(SS_ERR_ARG, "%s: output folder is the input folder; write to a new folder", out_dir);
    return SS_OK;
}

static int packed_input(const job *j) {
    return j->ck.cfg.hf_quant == SS_HFQ_BITNET_PACKED_DIV || j->ck.cfg.hf_quant == SS_HFQ_BITNET_PACKED_MUL;
}

static ss_status check_input_state(const job *j) {
    const ss_ckpt_meta *m = &j->ck.meta;
    if (packed_input(j) && j->op.kind != OP_QUANTIZE)
        return ss_fail(SS_ERR_ARG, "%s holds BitNet's packed 2-bit weights (%s); run quantize first, which unpacks them",
                       j->in_dir, ss_hf_quant_name(j->ck.cfg.hf_quant));
    if (j->ck.cfg.hf_quant == SS_HFQ_BITNET_ONLINE && j->op.kind == OP_CONVERT)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: sliding BF16 master weights of quantization_config online is not supported (their ternary "
                       "scale is a mean over K); run quantize first",
                       j->in_dir);
    if (j->op.kind == OP_QUANTIZE && m->quant != SS_QUANT_NONE)
        return ss_fail(SS_ERR_ARG, "%s is already quantized (%s%s%s); quantize an unquantized (BF16/F16/F32) checkpoint",
                       j->in_dir, ss_quant_name(m->quant), m->scheme[0] ? ", " : "", m->scheme);
    if (m->slid)
        return ss_fail(SS_ERR_ARG, "%s is already slid (sparsity %s); %s an unslid checkpoint", j->in_dir,
                       m->sparsity[0] ? m->sparsity : "?",
                       j->op.kind == OP_QUANTIZE ? "quantize" : j->op.kind == OP_PRUNE ? "prune" : "convert");
    return SS_OK;
}

/* Every block linear the config implies is present with shape [N, K], and
 * the input holds no other block linear. */
static ss_status check_linears_against_config(const job *j) {
    ss_st_spec *want;
    int n;
    SS_TRY_CTX(ss_synth_specs(&j->ck.cfg, &want, &n), "%s/config.json", j->in_dir);
    ss_status st = SS_OK;
    int expected = 0;
    for (int i = 0; i < n && st == SS_OK; i++) {
        if (!ss_is_block_linear(want[i].name)) continue;
        expected++;
        int64_t shape[2] = {want[i].shape[0], want[i].shape[1]};
        if (packed_input(j)) shape[0] /= 4; /* uint8 [N/4, K]; N % 4 is checked when unpacking */
        st = ss_ckpt_tensor(&j->ck, want[i].name, packed_input(j) ? SS_DT_U8 : SS_DT_UNKNOWN, 2, shape, NULL);
        if (st != SS_OK) st = ss_context(st, "block linear does not match config.json");
    }
    int present = 0;
    for (int i = 0; i < j->ck.st.ntensors; i++) present += ss_is_block_linear(j->ck.st.tensors[i].name);
    if (st == SS_OK && present != expected) {
        for (int i = 0; i < j->ck.st.ntensors; i++) {
            const char *name = j->ck.st.tensors[i].name;
            int known = 0;
            for (int k = 0; k < n && !known; k++) known = !strcmp(want[k].name, name);
            if (ss_is_block_linear(name) && !known) {
                st = ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' is not part of the architecture in config.json (%d layers)",
                             j->in_dir, name, j->ck.cfg.n_layers);
                break;
            }
        }
    }
    ss_synth_specs_free(want, n);
    return st;
}

static int float_dtype(ss_dtype t) { return t == SS_DT_BF16 || t == SS_DT_F16 || t == SS_DT_F32; }

/* ---- planning ---- */

static ss_status plan_linear(job *j, const ss_st_tensor *t, linear_plan *p) {
    const ss_ckpt_meta *m = &j->ck.meta;
    p->in = t;
    p->N = t->shape[0];
    p->K = t->shape[1];
    ss_block_linear_parse(t->name, &p->layer, &p->role);
    snprintf(p->meta.name, sizeof p->meta.name, "%s", t->name);
    p->meta.N = p->N;
    p->meta.K = p->K;
    p->meta.K_padded = p->meta.K_slid = p->K;
    const ss_ckpt_linear *prev = ss_ckpt_find_linear(&j->ck, t->name);
    const char *prev_sparsity;
    int prev_slid;
    ss_ckpt_linear_state(&j->ck, t->name, &prev_sparsity, &prev_slid);
    snprintf(p->meta.sparsity, sizeof p->meta.sparsity, "%s", prev_sparsity); /* what it was, until changed */
    if (packed_input(j)) {
        p->N = p->meta.N = 4 * t->shape[0];
    } else if (m->quant != SS_QUANT_NONE) {
        if (!prev)
            return ss_fail(SS_ERR_FORMAT, "%s: quantized checkpoint, but slidesparse.json does not list '%s'", j->in_dir,
                           t->name);
        if (t->dtype != ss_quant_dtype(m->quant))
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' is %s in a %s checkpoint", j->in_dir, t->name,
                           ss_dtype_name(t->dtype), ss_quant_name(m->quant));
    } else if (!float_dtype(t->dtype)) {
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s; expected BF16, F16 or F32 (or a quantized "
                       "checkpoint with slidesparse.json)", j->in_dir, t->name, ss_dtype_name(t->dtype));
    }

    switch (j->op.kind) {
    case OP_QUANTIZE:
        p->out_dtype = ss_quant_dtype(j->op.quant);
        if (prev) p->meta.K_padded = prev->K_padded; /* a pruned input stays pruned: zeros quantize to 0 */
        if ((size_t)snprintf(p->scale_name, sizeof p->scale_name, "%s_scale", t->name) >= sizeof p->scale_name)
            return ss_fail(SS_ERR_FORMAT, "%s: tensor name too long: %s", j->in_dir, t->name);
        break;
    case OP_PRUNE:
    case OP_CONVERT:
        p->out_dtype = t->dtype;
        p->L = j->has_recipe ? ss_recipe_L(&j->recipe, p->layer, p->role) : j->op.L;
        if (p->L == SS_RECIPE_DENSE) { /* left as is (a pruned input stays pruned) */
            if (prev) p->meta.K_padded = prev->K_padded;
            break;
        }
        if (j->op.kind == OP_PRUNE && p->L == SS_L_INF)
            return ss_fail(SS_ERR_ARG, "%s: prune cannot give '%s' sparsity 2_inf (no pruning: use convert)",
                           j->in_dir, t->name);
        ss_sparsity_name(p->L, p->meta.sparsity, sizeof p->meta.sparsity);
        j->repruned |= strcmp(p->meta.sparsity, prev_sparsity) != 0;
        if (j->op.kind == OP_PRUNE) {
            p->meta.K_padded = (p->K + p->L - 1) / p->L * p->L;
        } else {
            SS_TRY_CTX(ss_slide_geometry(p->K, p->L, &p->geom), "%s: tensor '%s'", j->in_dir, t->name);
            p->meta.K_padded = p->geom.K_padded;
            p->meta.K_slid = p->geom.K_slid;
            p->meta.slid = 1;
        }
        break;
    }
    return SS_OK;
}

static ss_status plan(job *j) {
    const ss_tensors *st = &j->ck.st;
    j->plans = calloc((size_t)st->ntensors + 1, sizeof *j->plans);
    j->out_specs = calloc(2 * (size_t)st->ntensors + 1, sizeof *j->out_specs);
    if (!j->plans || !j->out_specs) return ss_fail(SS_ERR_NOMEM, "%s: out of memory", j->in_dir);
    for (int i = 0; i < st->ntensors; i++) {
        const ss_st_tensor *t = &st->tensors[i];
        if (packed_input(j) && ss_is_block_linear_scale(t->name)) continue; /* replaced by F32 [N] scales */
        ss_st_spec *s = &j->out_specs[j->n_out++];
        s->name = t->name;
        s->dtype = t->dtype;
        s->ndim = t->ndim;
        memcpy(s->shape, t->shape, sizeof s->shape);
        if (!ss_is_block_linear(t->name)) continue;
        linear_plan *p = &j->plans[i];
        SS_TRY(plan_linear(j, t, p));
        s->dtype = p->out_dtype;
        s->shape[0] = p->N;
        s->shape[1] = p->meta.K_slid;
        if (j->op.kind == OP_QUANTIZE) {
            ss_st_spec *sc = &j->out_specs[j->n_out++];
            sc->name = p->scale_name;
            sc->dtype = SS_DT_F32;
            sc->ndim = 1;
            sc->shape[0] = p->N;
        }
    }
    return SS_OK;
}

/* slidesparse.json of the output: the top level says the tensors' common
 * sparsity, or null with "recipe" when they differ (checkpoint.h). */
static ss_status build_meta(const job *j, ss_ckpt_meta *m) {
    const ss_ckpt_meta *in = &j->ck.meta;
    memset(m, 0, sizeof *m);
    m->format_version = 1;
    memcpy(m->source, in->source, sizeof m->source);
    m->synthetic = in->synthetic;
    m->quant = in->quant;
    memcpy(m->scheme, in->scheme, sizeof m->scheme);
    memcpy(m->prune_method, in->prune_method, sizeof m->prune_method);
    m->calib_tokens = in->calib_tokens;
    if (j->op.kind == OP_QUANTIZE) {
        m->quant = j->op.quant;
        snprintf(m->scheme, sizeof m->scheme, "%s", ss_qscheme_name(j->op.scheme));
    } else if (j->op.kind == OP_PRUNE || j->op.L != SS_L_INF || j->has_recipe) {
        const ss_prune_method pm = j->op.po ? j->op.po->method : SS_PRUNE_MAGNITUDE;
        /* magnitude pruning of a tensor already pruned to the same 2:L changes nothing (its 2 zeros per
         * group are the smallest |w|): the method that chose the zeros stays on record */
        if (pm != SS_PRUNE_MAGNITUDE || j->repruned || !in->prune_method[0]) {
            snprintf(m->prune_method, sizeof m->prune_method, "%s", ss_prune_method_name(pm));
            m->calib_tokens = pm != SS_PRUNE_MAGNITUDE ? j->op.po->calib->tokens : 0;
        }
    }
    const char *recipe = j->has_recipe ? j->recipe.json : in->recipe;
    if (recipe && !(m->recipe = strdup(recipe))) return ss_fail(SS_ERR_NOMEM, "%s: out of memory", j->out_dir);
    const ss_ckpt_linear *first = NULL;
    for (int i = 0; i < j->ck.st.ntensors; i++) {
        if (!j->plans[i].in) continue;
        const ss_ckpt_linear *l = &j->plans[i].meta;
        SS_TRY(ss_ckpt_meta_add_linear(m, l));
        if (!first) first = l;
        m->mixed |= strcmp(l->sparsity, first->sparsity) || l->slid != first->slid;
        m->slid |= l->slid;
    }
    if (!m->mixed && first) snprintf(m->sparsity, sizeof m->sparsity, "%s", first->sparsity);
    if (!m->mixed && !j->has_recipe) { /* a uniform run over a recipe's output drops the stale recipe */
        free(m->recipe);
        m->recipe = NULL;
    }
    return SS_OK;
}

/* The GPU engine runs q/k/v and gate/up as one GEMM each, so parts of a
 * fused group with different sparsities cannot run there; the CPU engine
 * runs them. Said once per group at conversion, so nobody is surprised later. */
static ss_status check_fused_parts(const job *j) {
    if (!j->has_recipe) return SS_OK;
    static const ss_linear_role groups[2][3] = {{SS_LIN_Q, SS_LIN_K, SS_LIN_V}, {SS_LIN_GATE, SS_LIN_UP, SS_LIN_GATE}};
    for (int l = 0; l < j->recipe.n_layers; l++)
        for (int g = 0; g < 2; g++) {
            const int L0 = ss_recipe_L(&j->recipe, l, groups[g][0]);
            for (int k = 1; k < 3; k++)
                if (ss_recipe_L(&j->recipe, l, groups[g][k]) != L0) {
                    ss_warn("%s: layer %d gives %s different sparsities: the CPU engine runs that, the CUDA engine "
                            "(which fuses them into one GEMM) refuses it", j->op.po->recipe_file, l,
                            g ? "gate and up" : "q, k and v");
                    return SS_OK; /* once is enough */
                }
        }
    return SS_OK;
}

/* ---- streaming ---- */

/* Drops the pages of [p, p + n) of an input tensor from this process once
 * they have been used, so resident memory stays at about one tensor instead
 * of growing to the whole mapped model (the pages stay in the page cache).
 * Only for data inside the read-only file mapping: an aligned heap copy
 * (safetensors.c makes one for misaligned data) must not be madvised. */
static void release_pages(const ss_tensors *st, const ss_st_tensor *t, const void *p, size_t n) {
    const ss_st_mapping *f = &st->files[t->file];
    const uintptr_t map = (uintptr_t)f->map, map_end = map + f->size, data = (uintptr_t)p;
    if (!f->map || data < map || data + n > map_end || n == 0) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t begin = data / page * page, end = (data + n + page - 1) / page * page;
    if (begin < map) begin = map;
    if (end > map_end) end = map_end;
    if (end > begin) madvise((void *)begin, end - begin, MADV_DONTNEED);
}

/* A tensor copied as is, in pieces so that its pages can be released as it goes. */
#define COPY_PIECE ((size_t)64 << 20)
static ss_status copy_tensor(const ss_tensors *st, const ss_st_tensor *t, ss_ckpt_writer *w) {
    const unsigned char *p = t->data;
    for (size_t off = 0; off < t->nbytes; off += COPY_PIECE) {
        const size_t n = t->nbytes - off < COPY_PIECE ? (size_t)t->nbytes - off : COPY_PIECE;
        SS_TRY(ss_ckpt_writer_append(w, p + off, n));
        release_pages(st, t, p + off, n);
    }
    return SS_OK;
}

/* Prunes one block linear (in place, [N, K] of its dtype) by the job's method. */
static ss_status prune_linear(const job *j, const linear_plan *p, void *w) {
    const ss_prune_opts *po = j->op.po;
    if (!po || po->method == SS_PRUNE_MAGNITUDE) return ss_prune_matrix(w, p->in->dtype, p->N, p->K, p->L, p->in->name);
    const ss_calib_stats *cs = po->calib;
    const ss_calib_input in = ss_calib_input_of(p->role);
    if (cs->n_layers != j->ck.cfg.n_layers || cs->dim[in] != p->K || !cs->sumsq[in])
        return ss_fail(SS_ERR_ARG, "%s: calibration statistics are for %d layers with an input of %lld; the tensor "
                       "has K=%lld in a model of %d layers", p->in->name, cs->n_layers, (long long)cs->dim[in],
                       (long long)p->K, j->ck.cfg.n_layers);
    if (cs->tokens <= 0) return ss_fail(SS_ERR_ARG, "%s: calibration statistics of no tokens", p->in->name);
    if (po->method == SS_PRUNE_SPARSEGPT) {
        if (!cs->gram[in]) return ss_fail(SS_ERR_ARG, "%s: SparseGPT needs the inputs' X^T X in the statistics", p->in->name);
        return ss_prune_matrix_sparsegpt(w, p->in->dtype, p->N, p->K, p->L,
                                         cs->gram[in] + (int64_t)p->layer * p->K * p->K, po->block, p->in->name);
    }
    return ss_prune_matrix_wanda(w, p->in->dtype, p->N, p->K, p->L, cs->sumsq[in] + (int64_t)p->layer * p->K,
                                 p->in->name);
}

/* A packed block linear as output codes: the ternary codes with the
 * checkpoint's scale, or (absmax) its dequantized values quantized again. */
static ss_status unpack_linear(const job *j, const linear_plan *p, void *out, float *scale) {
    const int64_t n = p->N * p->K;
    int8_t *codes = malloc((size_t)n);
    float *values = NULL, s;
    if (!codes) return ss_fail(SS_ERR_NOMEM, "%s: no memory to unpack %lld weights", p->in->name, (long long)n);
    ss_status st = ss_ckpt_bitnet_linear(&j->ck, p->in->name, p->N, p->K, codes, &s);
    if (st == SS_OK && j->op.scheme == SS_SCHEME_TERNARY) {
        static const uint8_t fp8_ternary[3] = {0xb8, 0x00, 0x38}; /* E4M3 -1.0, 0, +1.0 */
        for (int64_t i = 0; i < n; i++)
            if (p->out_dtype == SS_DT_I8) ((int8_t *)out)[i] = codes[i];
            else ((uint8_t *)out)[i] = fp8_ternary[codes[i] + 1];
        for (int64_t r = 0; r < p->N; r++) scale[r] = s;
    } else if (st == SS_OK) {
        values = malloc((size_t)n * sizeof *values);
        if (!values) st = ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld weights", p->in->name, (long long)n);
        for (int64_t i = 0; st == SS_OK && i < n; i++) values[i] = (float)codes[i] * s; /* exact: q in {-1, 0, 1} */
        if (st == SS_OK)
            st = ss_quantize_weight(values, SS_DT_F32, p->N, p->K, j->op.scheme, p->out_dtype, out, scale, p->in->name);
    }
    free(codes);
    free(values);
    return st;
}

static ss_status transform_linear(const job *j, const linear_plan *p, ss_ckpt_writer *w) {
    const ss_st_tensor *t = p->in;
    const size_t in_es = ss_dtype_size(t->dtype), out_es = ss_dtype_size(p->out_dtype);
    const size_t out_bytes = (size_t)(p->N * p->meta.K_slid) * out_es;
    void *out = malloc(out_bytes ? out_bytes : 1), *work = NULL;
    float *scale = NULL;
    ss_status st = SS_OK;
    if (!out) {
        st = ss_fail(SS_ERR_NOMEM, "%s: no memory for %zu bytes", t->name, out_bytes);
        goto done;
    }
    switch (j->op.kind) {
    case OP_QUANTIZE:
        scale = malloc((size_t)p->N * sizeof *scale);
        if (!scale) {
            st = ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld scales", t->name, (long long)p->N);
            break;
        }
        st = packed_input(j) ? unpack_linear(j, p, out, scale)
                             : ss_quantize_weight(t->data, t->dtype, p->N, p->K, j->op.scheme, p->out_dtype, out, scale,
                                                  t->name);
        break;
    case OP_PRUNE:
        memcpy(out, t->data, out_bytes);
        if (p->L != SS_RECIPE_DENSE) st = prune_linear(j, p, out);
        break;
    case OP_CONVERT: {
        if (p->L == SS_RECIPE_DENSE) {
            memcpy(out, t->data, out_bytes);
            break;
        }
        const void *src = t->data;
        if (p->L != SS_L_INF) {
            work = malloc(t->nbytes ? t->nbytes : 1);
            if (!work) {
                st = ss_fail(SS_ERR_NOMEM, "%s: no memory for %llu bytes", t->name, (unsigned long long)t->nbytes);
                break;
            }
            memcpy(work, t->data, t->nbytes);
            st = prune_linear(j, p, work);
            src = work;
        }
        if (st == SS_OK) st = ss_slide_matrix(&p->geom, src, p->N, in_es, out, t->name);
        break;
    }
    }
    if (st == SS_OK) st = ss_ckpt_writer_append(w, out, out_bytes);
    if (st == SS_OK && scale) st = ss_ckpt_writer_append(w, scale, (size_t)p->N * sizeof *scale);
done:
    free(out);
    free(work);
    free(scale);
    return st;
}

static ss_status stream(const job *j, ss_ckpt_writer *w) {
    const ss_tensors *st = &j->ck.st;
    for (int i = 0; i < st->ntensors; i++) {
        const ss_st_tensor *t = &st->tensors[i];
        if (packed_input(j) && ss_is_block_linear_scale(t->name)) continue;
        if (j->plans[i].in) {
            SS_TRY(transform_linear(j, &j->plans[i], w));
            release_pages(st, t, t->data, (size_t)t->nbytes);
        } else {
            SS_TRY(copy_tensor(st, t, w));
        }
    }
    return SS_OK;
}

static ss_status run_job(job *j) {
    SS_TRY(check_paths(j->in_dir, j->out_dir));
    SS_TRY(ss_ckpt_open(j->in_dir, &j->ck));
    SS_TRY(ss_ckpt_check_config(&j->ck)); /* counts and vocabulary first: no per-layer work for a bogus config */
    SS_TRY(check_input_state(j));
    SS_TRY(check_linears_against_config(j));
    if (j->op.po && j->op.po->recipe_file) {
        SS_TRY(ss_recipe_load(j->op.po->recipe_file, j->ck.cfg.n_layers, &j->recipe));
        j->has_recipe = 1;
    }
    SS_TRY(plan(j));
    SS_TRY(check_fused_parts(j));
    ss_ckpt_meta meta;
    ss_status st = build_meta(j, &meta);
    ss_ckpt_writer *w = NULL;
    if (st == SS_OK) st = ss_ckpt_writer_begin(&w, j->out_dir, j->in_dir, &j->ck.cfg, j->out_specs, j->n_out);
    if (st == SS_OK && j->op.kind == OP_QUANTIZE) st = ss_ckpt_writer_drop_config_key(w, "quantization_config");
    if (st == SS_OK) st = stream(j, w);
    if (w) {
        if (st == SS_OK) {
            st = ss_ckpt_writer_finish(w, &meta);
        } else { /* abort may touch the error buffer: keep the cause */
            char saved[2048];
            snprintf(saved, sizeof saved, "%s", ss_errmsg());
            ss_ckpt_writer_abort(w);
            st = ss_fail(st, "writing checkpoint %s: %s", j->out_dir, saved);
        }
    }
    ss_ckpt_meta_free(&meta);
    return st;
}

static ss_status run(const char *in_dir, const char *out_dir, op o) {
    job j = {.in_dir = in_dir, .out_dir = out_dir, .op = o};
    ss_status st = run_job(&j);
    ss_recipe_free(&j.recipe);
    free(j.plans);
    free(j.out_specs);
    ss_ckpt_close(&j.ck);
    return st;
}

/* ---- entry points ---- */

ss_status ss_quantize_checkpoint(const char *in_dir, const char *out_dir, ss_quant q, int scheme) {
    if (q != SS_QUANT_INT8 && q != SS_QUANT_FP8)
        return ss_fail(SS_ERR_ARG, "quantize: target must be int8 or fp8_e4m3, not %s", ss_quant_name(q));
    if (scheme >= 0 && scheme != SS_SCHEME_TERNARY && scheme != SS_SCHEME_ABSMAX)
        return ss_fail(SS_ERR_ARG, "quantize: unknown scheme %d", scheme);
    op o = {.kind = OP_QUANTIZE, .quant = q, .scheme = (ss_qscheme)scheme};
    if (scheme < 0) { /* the architecture's default: ternary is what BitNet b1.58 weights mean */
        ss_model_config cfg;
        char path[4200];
        SS_TRY(ss_path_join(path, sizeof path, in_dir, "config.json"));
        if (ss_is_dir(in_dir)) SS_TRY(ss_config_load(path, &cfg));
        else return ss_fail(SS_ERR_IO, "%s: no such checkpoint folder", in_dir);
        o.scheme = cfg.arch == SS_ARCH_BITNET ? SS_SCHEME_TERNARY : SS_SCHEME_ABSMAX;
    }
    return run(in_dir, out_dir, o);
}

static ss_status check_method(const char *cmd, const ss_prune_opts *o) {
    if (o->method != SS_PRUNE_MAGNITUDE && o->method != SS_PRUNE_WANDA && o->method != SS_PRUNE_SPARSEGPT)
        return ss_fail(SS_ERR_ARG, "%s: unknown pruning method %d", cmd, (int)o->method);
    if (o->method != SS_PRUNE_MAGNITUDE && !o->calib)
        return ss_fail(SS_ERR_ARG, "%s: pruning method %s needs calibration statistics (--calib)", cmd,
                       ss_prune_method_name(o->method));
    return SS_OK;
}

ss_status ss_prune_checkpoint_opts(const char *in_dir, const char *out_dir, const ss_prune_opts *o) {
    if (!o->recipe_file && (o->L < 4 || o->L > SS_L_MAX || o->L % 2))
        return ss_fail(SS_ERR_ARG, "prune: sparsity 2_%d is not 2_L with L even in 4..%d%s", o->L, SS_L_MAX,
                       o->L == SS_L_INF ? " (2_inf means no pruning: use convert)" : "");
    SS_TRY(check_method("prune", o));
    return run(in_dir, out_dir, (op){.kind = OP_PRUNE, .L = o->L, .po = o});
}

ss_status ss_convert_checkpoint_opts(const char *in_dir, const char *out_dir, const ss_prune_opts *o) {
    if (!o->recipe_file && o->L != SS_L_INF && (o->L < 4 || o->L > SS_L_MAX || o->L % 2))
        return ss_fail(SS_ERR_ARG, "convert: sparsity 2_%d is not 2_L with L even in 4..%d, or 2_inf", o->L, SS_L_MAX);
    SS_TRY(check_method("convert", o));
    return run(in_dir, out_dir, (op){.kind = OP_CONVERT, .L = o->L, .po = o});
}

ss_status ss_prune_checkpoint(const char *in_dir, const char *out_dir, int L) {
    ss_prune_opts o = {.L = L};
    return ss_prune_checkpoint_opts(in_dir, out_dir, &o);
}

ss_status ss_convert_checkpoint(const char *in_dir, const char *out_dir, int L) {
    ss_prune_opts o = {.L = L};
    return ss_convert_checkpoint_opts(in_dir, out_dir, &o);
}
