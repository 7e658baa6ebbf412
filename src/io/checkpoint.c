/* Checkpoint folders: slidesparse.json, opening with cross-checks, and the
 * atomic folder writer (see checkpoint.h for the layout). */
#include "io/checkpoint.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fault.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/scratch.h"

/* ---- quantization names ---- */

const char *ss_quant_name(ss_quant q) {
    switch (q) {
    case SS_QUANT_NONE: return "none";
    case SS_QUANT_INT8: return "int8";
    case SS_QUANT_FP8: return "fp8_e4m3";
    }
    return "?";
}

ss_status ss_quant_parse(const char *s, ss_quant *q) {
    if (!s) return ss_fail(SS_ERR_ARG, "missing quantization name");
    if (!strcmp(s, "none")) *q = SS_QUANT_NONE;
    else if (!strcmp(s, "int8")) *q = SS_QUANT_INT8;
    else if (!strcmp(s, "fp8_e4m3") || !strcmp(s, "fp8")) *q = SS_QUANT_FP8;
    else return ss_fail(SS_ERR_ARG, "unknown quantization '%s' (none, int8, fp8_e4m3)", s);
    return SS_OK;
}

ss_dtype ss_quant_dtype(ss_quant q) {
    switch (q) {
    case SS_QUANT_INT8: return SS_DT_I8;
    case SS_QUANT_FP8: return SS_DT_F8_E4M3;
    case SS_QUANT_NONE: break;
    }
    return SS_DT_UNKNOWN;
}

/* ---- slidesparse.json ---- */

void ss_ckpt_meta_free(ss_ckpt_meta *m) {
    if (!m) return;
    free(m->linear);
    free(m->recipe);
    m->linear = NULL;
    m->recipe = NULL;
    m->n_linear = 0;
}

/* Capacity implied by the count: 8, then powers of two, so the struct needs
 * no capacity field and n appends cost O(n) copies. */
static int linear_capacity(int n) {
    if (n <= 8) return n == 0 ? 0 : 8;
    int cap = 8;
    while (cap < n) cap *= 2;
    return cap;
}

ss_status ss_ckpt_meta_add_linear(ss_ckpt_meta *m, const ss_ckpt_linear *l) {
    if (!l->name[0] || memchr(l->name, '\0', sizeof l->name) == NULL)
        return ss_fail(SS_ERR_ARG, "slidesparse.json: linear entry without a (terminated) name");
    for (int i = 0; i < m->n_linear; i++)
        if (!strcmp(m->linear[i].name, l->name))
            return ss_fail(SS_ERR_ARG, "slidesparse.json: linear '%s' recorded twice", l->name);
    if (m->n_linear == linear_capacity(m->n_linear)) {
        if (m->n_linear > INT_MAX / 2) return ss_fail(SS_ERR_NOMEM, "slidesparse.json: too many linear entries");
        int cap = m->n_linear ? m->n_linear * 2 : 8;
        ss_ckpt_linear *p = realloc(m->linear, (size_t)cap * sizeof *p);
        if (!p) return ss_fail(SS_ERR_NOMEM, "slidesparse.json: cannot grow the linear table to %d", cap);
        m->linear = p;
    }
    m->linear[m->n_linear++] = *l;
    return SS_OK;
}

static ss_status copy_str(char *dst, size_t cap, const char *src, const char *path, const char *key) {
    if (strlen(src) >= cap) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is longer than %zu characters", path, key, cap - 1);
    strcpy(dst, src);
    return SS_OK;
}

/* Optional string field; absent or null keeps dst. */
static ss_status opt_str(const json_t *j, const char *key, const char *path, char *dst, size_t cap) {
    const json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_string(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a string", path, key);
    return copy_str(dst, cap, json_string_value(v), path, key);
}

/* A tensor entry's own "sparsity" / "slid"; absent keys inherit the top level (m). */
static ss_status parse_linear_state(const char *what, const json_t *v, const ss_ckpt_meta *m, ss_ckpt_linear *l) {
    const json_t *sp = json_object_get(v, "sparsity");
    if (!sp) snprintf(l->sparsity, sizeof l->sparsity, "%s", m->sparsity);
    else if (json_is_string(sp)) SS_TRY(copy_str(l->sparsity, sizeof l->sparsity, json_string_value(sp), what, "sparsity"));
    else if (!json_is_null(sp)) return ss_fail(SS_ERR_FORMAT, "%s: field 'sparsity' is neither null nor a string", what);
    l->slid = m->slid;
    if (json_object_get(v, "slid")) SS_TRY(ss_json_bool_opt(v, "slid", what, &l->slid));
    if (l->slid && !l->sparsity[0])
        return ss_fail(SS_ERR_FORMAT, "%s: marked slid but its sparsity is null", what);
    return SS_OK;
}

static ss_status parse_linear(const char *path, const char *name, const json_t *v, const ss_ckpt_meta *m,
                              ss_ckpt_linear *l) {
    memset(l, 0, sizeof *l);
    char what[4600];
    snprintf(what, sizeof what, "%s: tensor '%s'", path, name);
    if (!json_is_object(v)) return ss_fail(SS_ERR_FORMAT, "%s: entry is not an object", what);
    SS_TRY(copy_str(l->name, sizeof l->name, name, path, "tensors"));
    SS_TRY(ss_json_int(v, "N", what, &l->N));
    SS_TRY(ss_json_int(v, "K", what, &l->K));
    SS_TRY(ss_json_int(v, "K_padded", what, &l->K_padded));
    SS_TRY(ss_json_int(v, "K_slid", what, &l->K_slid));
    if (l->N <= 0 || l->K <= 0 || l->K_padded < l->K || l->K_slid <= 0)
        return ss_fail(SS_ERR_FORMAT, "%s: inconsistent geometry N=%lld K=%lld K_padded=%lld K_slid=%lld", what,
                       (long long)l->N, (long long)l->K, (long long)l->K_padded, (long long)l->K_slid);
    return parse_linear_state(what, v, m, l);
}

static ss_status parse_meta(const char *path, const json_t *j, ss_ckpt_meta *m) {
    if (!json_is_object(j)) return ss_fail(SS_ERR_FORMAT, "%s: not a JSON object", path);
    int64_t version;
    SS_TRY(ss_json_int(j, "format_version", path, &version));
    if (version != 1)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: format_version %lld is not supported (this build reads 1)", path,
                       (long long)version);
    m->format_version = 1;
    SS_TRY(opt_str(j, "source", path, m->source, sizeof m->source));
    char quant[32] = "none";
    SS_TRY(opt_str(j, "quant", path, quant, sizeof quant));
    SS_TRY_CTX(ss_quant_parse(quant, &m->quant), "%s", path);
    SS_TRY(opt_str(j, "scheme", path, m->scheme, sizeof m->scheme));
    SS_TRY(opt_str(j, "sparsity", path, m->sparsity, sizeof m->sparsity));
    SS_TRY(ss_json_bool_opt(j, "slid", path, &m->slid));
    SS_TRY(ss_json_bool_opt(j, "synthetic", path, &m->synthetic));
    SS_TRY(opt_str(j, "prune_method", path, m->prune_method, sizeof m->prune_method));
    SS_TRY(ss_json_int_opt(j, "calib_tokens", path, &m->calib_tokens));
    const json_t *recipe = json_object_get(j, "recipe");
    if (recipe && !json_is_null(recipe)) {
        if (!json_is_object(recipe)) return ss_fail(SS_ERR_FORMAT, "%s: field 'recipe' is not an object", path);
        m->recipe = json_dumps(recipe, JSON_COMPACT | JSON_SORT_KEYS);
        if (!m->recipe) return ss_fail(SS_ERR_NOMEM, "%s: no memory for the recipe", path);
    }
    const json_t *tensors = json_object_get(j, "tensors");
    if (!tensors || json_is_null(tensors)) return SS_OK;
    if (!json_is_object(tensors)) return ss_fail(SS_ERR_FORMAT, "%s: field 'tensors' is not an object", path);
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)tensors, name, v) {
        ss_ckpt_linear l;
        SS_TRY(parse_linear(path, name, v, m, &l));
        SS_TRY_CTX(ss_ckpt_meta_add_linear(m, &l), "%s", path);
    }
    for (int i = 1; i < m->n_linear; i++)
        m->mixed |= strcmp(m->linear[i].sparsity, m->linear[0].sparsity) || m->linear[i].slid != m->linear[0].slid;
    if (m->mixed && m->sparsity[0])
        return ss_fail(SS_ERR_FORMAT, "%s: 'sparsity' is \"%s\" but the tensors' sparsities differ (a mixed "
                       "checkpoint has sparsity null)", path, m->sparsity);
    return SS_OK;
}

ss_status ss_ckpt_meta_load(const char *path, ss_ckpt_meta *m) {
    memset(m, 0, sizeof *m);
    json_t *j;
    SS_TRY(ss_json_load(path, &j));
    ss_status st = parse_meta(path, j, m);
    json_decref(j);
    if (st != SS_OK) ss_ckpt_meta_free(m);
    return st;
}

ss_status ss_ckpt_meta_save(const char *path, const ss_ckpt_meta *m) {
    json_t *tensors = json_object();
    for (int i = 0; i < m->n_linear; i++) {
        const ss_ckpt_linear *l = &m->linear[i];
        json_object_set_new(tensors, l->name,
                            json_pack("{s:I, s:I, s:I, s:I, s:o, s:b}", "N", (json_int_t)l->N, "K", (json_int_t)l->K,
                                      "K_padded", (json_int_t)l->K_padded, "K_slid", (json_int_t)l->K_slid,
                                      "sparsity", l->sparsity[0] ? json_string(l->sparsity) : json_null(), "slid",
                                      l->slid != 0));
    }
    json_t *recipe = NULL;
    if (m->recipe) {
        json_error_t err;
        recipe = json_loads(m->recipe, 0, &err);
        if (!recipe) {
            json_decref(tensors);
            return ss_fail(SS_ERR_INTERNAL, "%s: the recipe to record is not JSON: %s", path, err.text);
        }
    }
    json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:o, s:b, s:b, s:o}", "format_version", 1, "source", m->source,
                          "quant", ss_quant_name(m->quant), "scheme", m->scheme, "sparsity",
                          m->sparsity[0] ? json_string(m->sparsity) : json_null(), "slid", m->slid != 0,
                          "synthetic", m->synthetic != 0, "tensors", tensors);
    if (j && recipe) json_object_set_new(j, "recipe", recipe);
    else json_decref(recipe);
    if (j && m->prune_method[0]) json_object_set_new(j, "prune_method", json_string(m->prune_method));
    if (j && m->calib_tokens > 0) json_object_set_new(j, "calib_tokens", json_integer((json_int_t)m->calib_tokens));
    if (!j) return ss_fail(SS_ERR_FORMAT, "%s: cannot build JSON (is 'source' valid UTF-8?)", path);
    ss_status st = ss_json_save(path, j);
    json_decref(j);
    return st;
}

/* ---- opening ---- */

static int shape_is(const ss_st_tensor *t, int ndim, const int64_t *shape) {
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}

static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

ss_status ss_ckpt_tensor(const ss_checkpoint *c, const char *name, ss_dtype dtype, int ndim, const int64_t *shape,
                         const ss_st_tensor **out) {
    if (out) *out = NULL;
    const ss_st_tensor *t = ss_st_find(&c->st, name);
    if (!t) return ss_fail(SS_ERR_FORMAT, "%s: no tensor '%s'", c->dir, name);
    int dtype_ok = dtype == SS_DT_UNKNOWN || t->dtype == dtype;
    int shape_ok = !shape || shape_is(t, ndim, shape);
    if (!dtype_ok || !shape_ok) {
        char have[200], want[200];
        shape_str(have, sizeof have, t->ndim, t->shape);
        if (shape) shape_str(want, sizeof want, ndim, shape);
        else snprintf(want, sizeof want, "any shape");
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' has shape %s dtype %s, expected %s %s", c->dir, name, have,
                       ss_dtype_name(t->dtype), want, dtype == SS_DT_UNKNOWN ? "any dtype" : ss_dtype_name(dtype));
    }
    if (out) *out = t;
    return SS_OK;
}

const ss_ckpt_linear *ss_ckpt_find_linear(const ss_checkpoint *c, const char *weight_name) {
    for (int i = 0; i < c->meta.n_linear; i++)
        if (!strcmp(c->meta.linear[i].name, weight_name)) return &c->meta.linear[i];
    return NULL;
}

/* "<prefix>.weight" -> "<prefix>.weight_scale" */
static ss_status scale_name(const char *weight, char *out, size_t cap) {
    size_t n = strlen(weight);
    if (n < 7 || strcmp(weight + n - 7, ".weight") != 0)
        return ss_fail(SS_ERR_FORMAT, "linear '%s' is not named '<prefix>.weight'", weight);
    if ((size_t)snprintf(out, cap, "%s_scale", weight) >= cap) return ss_fail(SS_ERR_FORMAT, "name too long: %s", weight);
    return SS_OK;
}

/* Every linear that slidesparse.json lists must be stored as it says. */
static ss_status check_linears(const ss_checkpoint *c) {
    ss_dtype qdt = ss_quant_dtype(c->meta.quant);
    for (int i = 0; i < c->meta.n_linear; i++) {
        const ss_ckpt_linear *l = &c->meta.linear[i];
        int64_t shape[2] = {l->N, l->K_slid};
        SS_TRY(ss_ckpt_tensor(c, l->name, qdt, 2, shape, NULL));
        if (c->meta.quant == SS_QUANT_NONE) continue;
        char scale[300];
        SS_TRY_CTX(scale_name(l->name, scale, sizeof scale), "%s", c->dir);
        SS_TRY(ss_ckpt_tensor(c, scale, SS_DT_F32, 1, &l->N, NULL));
    }
    return SS_OK;
}

/* Layer index of "model.layers.<i>.<rest>", -1 for other names, INT_MAX
 * for an index too long to be one. */
static int layer_index(const char *name) {
    static const char prefix[] = "model.layers.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) return -1;
    const char *p = name + sizeof prefix - 1;
    if (!isdigit((unsigned char)*p)) return -1;
    long v = 0;
    for (; isdigit((unsigned char)*p); p++)
        if ((v = v * 10 + (*p - '0')) > INT_MAX / 10) return INT_MAX;
    return *p == '.' ? (int)v : -1;
}

/* The embedding (and an untied lm_head) must be [vocab_size, hidden_size]. */
static ss_status check_vocab_matrix(const ss_checkpoint *c, const char *name) {
    const ss_model_config *cfg = &c->cfg;
    const ss_st_tensor *t = ss_st_find(&c->st, name);
    if (!t) return ss_fail(SS_ERR_FORMAT, "%s: no tensor '%s'%s", c->dir, name,
                           strcmp(name, "lm_head.weight") ? "" : " (config.json says tie_word_embeddings = false)");
    if (t->ndim != 2) return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected 2", c->dir, name, t->ndim);
    if (t->shape[0] != cfg->vocab)
        return ss_fail(SS_ERR_FORMAT, "%s: config.json says vocab_size = %d but tensor '%s' has %lld rows", c->dir,
                       cfg->vocab, name, (long long)t->shape[0]);
    if (t->shape[1] != cfg->hidden)
        return ss_fail(SS_ERR_FORMAT, "%s: config.json says hidden_size = %d but tensor '%s' has %lld columns", c->dir,
                       cfg->hidden, name, (long long)t->shape[1]);
    return SS_OK;
}

ss_status ss_ckpt_check_config(const ss_checkpoint *c) {
    const ss_model_config *cfg = &c->cfg;
    SS_TRY(check_vocab_matrix(c, "model.embed_tokens.weight"));
    if (!cfg->tie_embeddings) SS_TRY(check_vocab_matrix(c, "lm_head.weight"));
    if (cfg->n_layers < 1 || cfg->n_layers > SS_CONFIG_MAX_LAYERS)
        return ss_fail(SS_ERR_FORMAT, "%s: num_hidden_layers = %d is out of range (1..%d)", c->dir, cfg->n_layers,
                       SS_CONFIG_MAX_LAYERS);
    unsigned char seen[SS_CONFIG_MAX_LAYERS] = {0};
    for (int i = 0; i < c->st.ntensors; i++) {
        int layer = layer_index(c->st.tensors[i].name);
        if (layer < 0) continue;
        if (layer >= cfg->n_layers)
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' belongs to layer %d but config.json says num_hidden_layers = %d",
                           c->dir, c->st.tensors[i].name, layer, cfg->n_layers);
        seen[layer] = 1;
    }
    for (int l = 0; l < cfg->n_layers; l++)
        if (!seen[l])
            return ss_fail(SS_ERR_FORMAT, "%s: config.json says num_hidden_layers = %d but no tensor of layer %d is stored",
                           c->dir, cfg->n_layers, l);
    return SS_OK;
}

static const char *base_name(const char *dir, char *buf, size_t cap) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--; /* "models/x/" -> "models/x" */
    size_t start = n;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(buf, cap, "%.*s", (int)(n - start), dir + start);
    return buf;
}

static ss_status open_checkpoint(const char *dir, ss_checkpoint *c) {
    if ((size_t)snprintf(c->dir, sizeof c->dir, "%s", dir) >= sizeof c->dir)
        return ss_fail(SS_ERR_ARG, "%s: path too long", dir);
    char base[1024];
    if (ss_is_scratch_name(base_name(dir, base, sizeof base)))
        return ss_fail(SS_ERR_ARG, "%s is the temporary folder of an unfinished (or killed) write, not a checkpoint",
                       dir);
    if (!ss_is_dir(dir)) return ss_fail(SS_ERR_IO, "%s: no such checkpoint folder", dir);
    char path[4200];
    SS_TRY(ss_path_join(path, sizeof path, dir, "config.json"));
    SS_TRY(ss_config_load(path, &c->cfg));
    SS_TRY(ss_path_join(path, sizeof path, dir, "slidesparse.json"));
    if (ss_path_exists(path)) {
        SS_TRY(ss_ckpt_meta_load(path, &c->meta));
    } else {
        c->meta.format_version = 1;
        c->meta.quant = SS_QUANT_NONE;
        base_name(dir, c->meta.source, sizeof c->meta.source);
    }
    if (c->cfg.hf_quant != SS_HFQ_NONE && c->meta.quant != SS_QUANT_NONE)
        return ss_fail(SS_ERR_FORMAT, "%s: config.json has a quantization_config (%s) but slidesparse.json says quant %s",
                       dir, ss_hf_quant_name(c->cfg.hf_quant), ss_quant_name(c->meta.quant));
    SS_TRY(ss_st_open_dir(dir, &c->st));
    return check_linears(c);
}

ss_status ss_ckpt_open(const char *dir, ss_checkpoint *c) {
    memset(c, 0, sizeof *c);
    ss_status st = open_checkpoint(dir, c);
    if (st != SS_OK) ss_ckpt_close(c);
    return st;
}

void ss_ckpt_close(ss_checkpoint *c) {
    if (!c) return;
    ss_st_close(&c->st);
    ss_ckpt_meta_free(&c->meta);
    memset(c, 0, sizeof *c);
}

/* model.layers.<digits>.self_attn.{q,k,v,o}_proj.weight, model.layers.<digits>.mlp.{gate,up,down}_proj.weight */
static const char *const g_role_suffix[SS_LIN_COUNT] = {
    ".self_attn.q_proj.weight", ".self_attn.k_proj.weight", ".self_attn.v_proj.weight", ".self_attn.o_proj.weight",
    ".mlp.gate_proj.weight",    ".mlp.up_proj.weight",      ".mlp.down_proj.weight",
};

const char *ss_linear_role_name(ss_linear_role r) {
    static const char *const names[SS_LIN_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};
    return (unsigned)r < SS_LIN_COUNT ? names[r] : "?";
}

int ss_block_linear_parse(const char *name, int *layer, ss_linear_role *role) {
    static const char prefix[] = "model.layers.";
    if (!name || strncmp(name, prefix, sizeof prefix - 1) != 0) return 0;
    const char *p = name + sizeof prefix - 1;
    if (!isdigit((unsigned char)*p)) return 0;
    long v = 0;
    while (isdigit((unsigned char)*p)) {
        if (v > INT_MAX / 10) return 0;
        v = v * 10 + (*p++ - '0');
    }
    for (int r = 0; r < SS_LIN_COUNT; r++)
        if (!strcmp(p, g_role_suffix[r])) {
            if (layer) *layer = (int)v;
            if (role) *role = (ss_linear_role)r;
            return 1;
        }
    return 0;
}

int ss_is_block_linear(const char *name) { return ss_block_linear_parse(name, NULL, NULL); }

void ss_block_linear_name(int layer, ss_linear_role role, char *buf, size_t cap) {
    snprintf(buf, cap, "model.layers.%d%s", layer, (unsigned)role < SS_LIN_COUNT ? g_role_suffix[role] : ".?");
}

void ss_ckpt_linear_state(const ss_checkpoint *c, const char *weight_name, const char **sparsity, int *slid) {
    const ss_ckpt_linear *l = ss_ckpt_find_linear(c, weight_name);
    *sparsity = l ? l->sparsity : c->meta.sparsity;
    *slid = l ? l->slid : c->meta.slid;
}

/* ---- writer ---- */

struct ss_ckpt_writer {
    ss_scratch scratch; /* the folder being built, "<out>.tmp.<pid>", and its owner lock */
    const char *tmp;    /* scratch.path */
    int config_copied;  /* config.json came from the source folder */
    char out[4096];
    ss_st_writer *st;
};

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* Files of a source checkpoint that a converted one must not inherit: what
 * this writer produces itself, weights in any format (they would be stale),
 * and hidden files (download state). */
static int skip_source_file(const char *name) {
    static const char *const weight_suffixes[] = {".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json",
                                                  ".pt", ".pth", ".gguf", ".h5", ".msgpack", ".onnx"};
    if (name[0] == '.' || !strcmp(name, "config.json") || !strcmp(name, "slidesparse.json")) return 1;
    if (strstr(name, ".tmp.")) return 1; /* another writer's unfinished file */
    for (size_t i = 0; i < sizeof weight_suffixes / sizeof weight_suffixes[0]; i++)
        if (ends_with(name, weight_suffixes[i])) return 1;
    return 0;
}

static ss_status copy_side_files(const char *src_dir, const char *dst_dir) {
    DIR *d = opendir(src_dir);
    if (!d) return ss_fail_errno("cannot open source checkpoint %s", src_dir);
    ss_status st = SS_OK;
    struct dirent *e;
    while (st == SS_OK && (e = readdir(d)) != NULL) {
        if (skip_source_file(e->d_name)) continue;
        char src[4200], dst[4400];
        st = ss_path_join(src, sizeof src, src_dir, e->d_name);
        if (st != SS_OK) break;
        struct stat sb;
        if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* sub-folders (e.g. "original/") stay behind */
        st = ss_path_join(dst, sizeof dst, dst_dir, e->d_name);
        if (st == SS_OK) st = ss_copy_file(src, dst);
    }
    closedir(d);
    return st;
}

/* Scratch folders of writers killed earlier, next to `out` (see scratch.h). */
static void clean_stale_siblings(const char *out) {
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", out);
    char *slash = strrchr(parent, '/');
    if (!slash) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = '\0';
    else *slash = '\0';
    ss_scratch_clean(parent);
}

/* ---- output policy ---- */

int ss_ckpt_is_ours(const char *dir) {
    char path[4200];
    if (!ss_is_dir(dir) || ss_path_join(path, sizeof path, dir, "slidesparse.json") != SS_OK || !ss_path_exists(path))
        return 0;
    ss_ckpt_meta m;
    int ours = ss_ckpt_meta_load(path, &m) == SS_OK;
    ss_ckpt_meta_free(&m);
    ss_clear_error();
    return ours;
}

ss_status ss_ckpt_out_check(const char *out, int replace) {
    struct stat sb;
    if (!out || !*out) return ss_fail(SS_ERR_ARG, "no output folder given");
    if (stat(out, &sb) != 0) {
        if (errno == ENOENT) return SS_OK;
        return ss_fail_errno("cannot check the output %s", out);
    }
    if (!S_ISDIR(sb.st_mode))
        return ss_fail(SS_ERR_ARG, "%s exists and is not a folder; it is kept (choose another --out)", out);
    if (!ss_ckpt_is_ours(out))
        return ss_fail(SS_ERR_ARG,
                       "%s exists and is not a checkpoint written by slidesparse (no valid slidesparse.json); it is kept "
                       "(move it away or choose another --out)", out);
    if (!replace)
        return ss_fail(SS_ERR_ARG, "%s already exists (a checkpoint written by slidesparse); pass --force to replace it",
                       out);
    return SS_OK;
}

static ss_status writer_setup(ss_ckpt_writer *w, const char *src_dir, const ss_model_config *cfg,
                              const ss_st_spec *specs, int n) {
    char path[4400];
    SS_TRY(ss_path_join(path, sizeof path, w->tmp, "config.json"));
    if (src_dir) {
        char src[4200];
        SS_TRY(ss_path_join(src, sizeof src, src_dir, "config.json"));
        SS_TRY(ss_copy_file(src, path));
        w->config_copied = 1;
        SS_TRY(copy_side_files(src_dir, w->tmp));
    } else {
        if (!cfg) return ss_fail(SS_ERR_ARG, "%s: checkpoint writer needs a config or a source folder", w->out);
        SS_TRY(ss_config_save(path, cfg));
    }
    /* transformers refuses safetensors files whose metadata lacks a known "format" */
    json_t *meta = json_pack("{s:s}", "format", "pt");
    ss_status st = ss_st_writer_begin(&w->st, w->tmp, specs, n, SS_ST_DEFAULT_SHARD_BYTES, meta);
    json_decref(meta);
    return st;
}

ss_status ss_ckpt_writer_begin(ss_ckpt_writer **out, const char *out_dir, const char *src_dir,
                               const ss_model_config *cfg, const ss_st_spec *specs, int n) {
    *out = NULL;
    ss_ckpt_writer *w = calloc(1, sizeof *w);
    if (!w) return ss_fail(SS_ERR_NOMEM, "%s: out of memory", out_dir);
    if ((size_t)snprintf(w->out, sizeof w->out, "%s", out_dir) >= sizeof w->out) {
        free(w);
        return ss_fail(SS_ERR_ARG, "%s: path too long", out_dir);
    }
    /* "models/x/" must become "models/x": the temp folder is a sibling, "<out>.tmp.<pid>" */
    for (size_t len = strlen(w->out); len > 1 && w->out[len - 1] == '/'; len--) w->out[len - 1] = '\0';
    ss_status st = ss_ckpt_out_check(w->out, 1);
    if (st != SS_OK) {
        free(w);
        return st;
    }
    clean_stale_siblings(w->out);
    st = ss_scratch_begin(&w->scratch, w->out);
    w->tmp = w->scratch.path;
    if (st == SS_OK) st = ss_mkdir_p(w->tmp);
    if (st == SS_OK) ss_fault_point("ckpt-begin");
    if (st == SS_OK) st = writer_setup(w, src_dir, cfg, specs, n);
    if (st != SS_OK) {
        ss_scratch_abort(&w->scratch);
        free(w);
        return ss_context(st, "writing checkpoint %s", out_dir);
    }
    *out = w;
    return SS_OK;
}

ss_status ss_ckpt_writer_drop_config_key(ss_ckpt_writer *w, const char *key) {
    if (!w->config_copied) return SS_OK; /* written from an ss_model_config: holds only what it models */
    char path[4400];
    SS_TRY(ss_path_join(path, sizeof path, w->tmp, "config.json"));
    json_t *j;
    SS_TRY(ss_json_load(path, &j));
    ss_status st = SS_OK;
    if (json_object_get(j, key)) {
        json_object_del(j, key);
        st = ss_json_save(path, j);
    }
    json_decref(j);
    return st;
}

ss_status ss_ckpt_writer_append(ss_ckpt_writer *w, const void *data, size_t nbytes) {
    return ss_st_writer_append(w->st, data, nbytes);
}

ss_status ss_ckpt_writer_finish(ss_ckpt_writer *w, const ss_ckpt_meta *meta) {
    ss_status st = ss_st_writer_finish(w->st);
    w->st = NULL;
    char path[4400];
    if (st == SS_OK && meta) {
        st = ss_path_join(path, sizeof path, w->tmp, "slidesparse.json");
        if (st == SS_OK) st = ss_ckpt_meta_save(path, meta);
    }
    /* what sits at `out` now may have appeared while we wrote: check again */
    if (st == SS_OK) st = ss_ckpt_out_check(w->out, 1);
    if (st == SS_OK) st = ss_scratch_commit_dir(&w->scratch);
    if (st != SS_OK) {
        ss_scratch_abort(&w->scratch);
        st = ss_context(st, "writing checkpoint %s", w->out);
    }
    free(w);
    return st;
}

void ss_ckpt_writer_abort(ss_ckpt_writer *w) {
    if (!w) return;
    if (w->st) ss_st_writer_abort(w->st);
    ss_scratch_abort(&w->scratch);
    free(w);
}
