/* Tuning tables: JSON files, lookup, and the bridge to the GEMM context. */
#include "tune/tune.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"

void ss_tune_table_init(ss_tune_table *t) { memset(t, 0, sizeof *t); }

void ss_tune_table_free(ss_tune_table *t) {
    free(t->e);
    ss_tune_table_init(t);
}

static int same_key(const ss_tune_entry *a, const ss_tune_entry *b) {
    return a->backend == b->backend && a->dtype == b->dtype && !strcmp(a->kind, b->kind) && a->N == b->N && a->K == b->K;
}

ss_status ss_tune_add(ss_tune_table *t, const ss_tune_entry *e) {
    for (int i = 0; i < t->n; i++)
        if (same_key(&t->e[i], e) && t->e[i].M == e->M) {
            t->e[i] = *e;
            return SS_OK;
        }
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        ss_tune_entry *ne = realloc(t->e, (size_t)cap * sizeof *ne);
        if (!ne) return ss_fail(SS_ERR_NOMEM, "no memory for %d tuning entries", cap);
        t->e = ne;
        t->cap = cap;
    }
    t->e[t->n++] = *e;
    return SS_OK;
}

void ss_tune_hw_name(const ss_gpu_info *gpu, char *out, size_t cap) {
    const char *n = gpu->name;
    if (!strncmp(n, "NVIDIA ", 7)) n += 7;
    if (!strncmp(n, "GeForce ", 8)) n += 8;
    char name[256];
    size_t k = 0;
    for (; n[k] && k + 1 < sizeof name; k++) name[k] = n[k] == ' ' || n[k] == '/' ? '-' : n[k];
    name[k] = 0;
    snprintf(out, cap, "%s_cc%d%d", name, gpu->cc_major, gpu->cc_minor);
}

ss_status ss_tune_dir(const char *root, const ss_gpu_info *gpu, const char *toolchain, char *out, size_t cap) {
    char hw[300];
    ss_tune_hw_name(gpu, hw, sizeof hw);
    int n = snprintf(out, cap, "%s/tuning/%s_%s", root, hw, toolchain);
    if (n < 0 || (size_t)n >= cap) return ss_fail(SS_ERR_ARG, "%s: tuning folder path too long", root);
    return SS_OK;
}

/* ---- JSON ---- */

static void hex_of(const uint64_t *w, char *out) {
    const unsigned char *b = (const unsigned char *)w;
    for (int i = 0; i < 64; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[128] = 0;
}

static int hex_to(const char *s, uint64_t *w) {
    unsigned char *b = (unsigned char *)w;
    if (strlen(s) != 128) return 0;
    for (int i = 0; i < 64; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) return 0;
        b[i] = (unsigned char)v;
    }
    return 1;
}

/* A small integer field of a tuning entry, range-checked before it becomes an int. */
static ss_status int_field(const char *what, const char *key, int64_t v, int64_t lo, int64_t hi, int *out) {
    if (v < lo || v > hi)
        return ss_fail(SS_ERR_FORMAT, "%s: %s = %lld is out of range (%lld..%lld)", what, key, (long long)v, (long long)lo,
                       (long long)hi);
    *out = (int)v;
    return SS_OK;
}

static ss_status parse_entry(const json_t *j, const char *what, ss_tune_entry *e) {
    memset(e, 0, sizeof *e);
    const char *be, *dt, *kind;
    int64_t v;
    SS_TRY(ss_json_str(j, "backend", what, &be));
    SS_TRY(ss_json_str(j, "dtype", what, &dt));
    SS_TRY(ss_json_str(j, "kind", what, &kind));
    SS_TRY_CTX(ss_backend_parse(be, &e->backend), "%s", what);
    SS_TRY_CTX(ss_gemm_dtype_parse(dt, &e->dtype), "%s", what);
    if (strlen(kind) >= sizeof e->kind) return ss_fail(SS_ERR_FORMAT, "%s: kind '%s' too long", what, kind);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    SS_TRY(ss_json_int(j, "N", what, &e->N));
    SS_TRY(ss_json_int(j, "K", what, &e->K));
    SS_TRY(ss_json_int(j, "M", what, &e->M));
    if (e->N <= 0 || e->K <= 0 || e->M <= 0 || e->N > INT32_MAX || e->K > INT32_MAX || e->M > INT32_MAX)
        return ss_fail(SS_ERR_FORMAT, "%s: shape N=%lld K=%lld M=%lld must be positive (and below 2^31)", what, (long long)e->N,
                       (long long)e->K, (long long)e->M);
    v = 0;
    SS_TRY(ss_json_int_opt(j, "alg_id", what, &v));
    SS_TRY(int_field(what, "alg_id", v, -1, 1 << 20, &e->alg.alg_id));
    v = 1;
    SS_TRY(ss_json_int_opt(j, "split_k", what, &v));
    SS_TRY(int_field(what, "split_k", v, -1, 1 << 16, &e->alg.split_k));
    v = 0;
    SS_TRY(ss_json_int_opt(j, "split_k_mode", what, &v));
    SS_TRY(int_field(what, "split_k_mode", v, -1, 1 << 16, &e->alg.split_k_mode));
    SS_TRY(ss_json_num_opt(j, "us", what, &e->us));
    const json_t *h = json_object_get(j, "lt_algo");
    if (h && json_is_string(h)) {
        if (!hex_to(json_string_value(h), e->alg.lt_algo))
            return ss_fail(SS_ERR_FORMAT, "%s: lt_algo must be 128 hex digits", what);
        e->alg.has_lt_algo = 1;
    } else if (h && !json_is_null(h)) {
        return ss_fail(SS_ERR_FORMAT, "%s: lt_algo must be a string or null", what);
    }
    if (e->backend == SS_BACKEND_CUBLASLT && !e->alg.has_lt_algo)
        return ss_fail(SS_ERR_FORMAT, "%s: a cublaslt entry needs lt_algo", what);
    return SS_OK;
}

static ss_status load_file(ss_tune_table *t, const char *path) {
    json_t *root = NULL;
    SS_TRY(ss_json_load(path, &root));
    ss_status st = SS_OK;
    int64_t ver = 0;
    const json_t *entries = json_object_get(root, "entries");
    st = ss_json_int(root, "format_version", path, &ver);
    if (!st && ver != 1) st = ss_fail(SS_ERR_FORMAT, "%s: format_version %lld, this build reads 1", path, (long long)ver);
    if (!st && !json_is_array(entries)) st = ss_fail(SS_ERR_FORMAT, "%s: missing or non-array field 'entries'", path);
    for (size_t i = 0; !st && i < json_array_size(entries); i++) {
        char what[1200];
        snprintf(what, sizeof what, "%s: entries[%zu]", path, i);
        ss_tune_entry e;
        st = parse_entry(json_array_get(entries, i), what, &e);
        if (!st) st = ss_tune_add(t, &e);
    }
    json_decref(root);
    return st;
}

ss_status ss_tune_load_dir(ss_tune_table *t, const char *dir) {
    snprintf(t->source, sizeof t->source, "%s", dir);
    DIR *d = opendir(dir);
    int files = 0;
    ss_status st = SS_OK;
    if (d) {
        struct dirent *de;
        while (!st && (de = readdir(d))) {
            size_t len = strlen(de->d_name);
            if (len < 6 || strcmp(de->d_name + len - 5, ".json")) continue;
            char path[2048];
            if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
            st = load_file(t, path);
            files++;
        }
        closedir(d);
    }
    if (!st && t->n == 0)
        ss_warn("no tuning tables in %s: the GEMMs use the libraries' heuristics, timed on first use", dir);
    (void)files;
    return st;
}

ss_status ss_tune_save(const ss_tune_table *t, const char *dir, const char *model, const ss_gpu_info *gpu,
                       const char *toolchain) {
    SS_TRY(ss_mkdir_p(dir));
    char path[2048], cc[16];
    if (snprintf(path, sizeof path, "%s/%s.json", dir, model) >= (int)sizeof path)
        return ss_fail(SS_ERR_ARG, "%s: tuning file path too long", dir);
    snprintf(cc, sizeof cc, "%d.%d", gpu->cc_major, gpu->cc_minor);
    json_t *root = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:i}", "format_version", 1, "model", model, "gpu",
                             gpu->name, "cc", cc, "toolchain", toolchain, "cublaslt_version",
                             (json_int_t)gpu->cublaslt_version, "cusparselt_version", gpu->cusparselt_version);
    json_t *arr = json_array();
    if (!root || !arr) {
        json_decref(root);
        json_decref(arr);
        return ss_fail(SS_ERR_NOMEM, "%s: no memory for the tuning table", path);
    }
    for (int i = 0; i < t->n; i++) {
        const ss_tune_entry *e = &t->e[i];
        char hex[129];
        if (e->alg.has_lt_algo) hex_of(e->alg.lt_algo, hex);
        json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:i, s:i, s:o, s:f}", "backend",
                              ss_backend_name(e->backend), "dtype", ss_gemm_dtype_name(e->dtype), "kind", e->kind, "N",
                              (json_int_t)e->N, "K", (json_int_t)e->K, "M", (json_int_t)e->M, "alg_id", e->alg.alg_id,
                              "split_k", e->alg.split_k, "split_k_mode", e->alg.split_k_mode, "lt_algo",
                              e->alg.has_lt_algo ? json_string(hex) : json_null(), "us", e->us);
        if (j) json_array_append_new(arr, j);
    }
    json_object_set_new(root, "entries", arr);
    ss_status st = ss_json_save(path, root);
    json_decref(root);
    return st;
}

/* ---- lookup ---- */

int ss_tune_find(const ss_tune_table *t, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad, int64_t N_pad,
                 int64_t K_act, ss_gemm_alg *alg) {
    const ss_tune_entry *above = NULL, *largest = NULL;
    for (int i = 0; i < t->n; i++) {
        const ss_tune_entry *e = &t->e[i];
        if (e->backend != b || e->dtype != d || strcmp(e->kind, kind) || e->N != N_pad || e->K != K_act) continue;
        if (e->M >= M_pad && (!above || e->M < above->M)) above = e;
        if (!largest || e->M > largest->M) largest = e;
    }
    const ss_tune_entry *hit = above ? above : largest;
    if (hit) *alg = hit->alg;
    return hit != NULL;
}

static int lookup_cb(void *user, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad, int64_t N_pad,
                     int64_t K_act, ss_gemm_alg *alg) {
    ss_tune_table *t = user;
    if (ss_tune_find(t, b, d, kind, M_pad, N_pad, K_act, alg)) return 1;
    if (t->n > 0 && !t->warned_miss) {
        t->warned_miss = 1;
        ss_warn("tuning tables in %s have no entry for %s %s %s N=%lld K=%lld: using the library heuristic (said once)",
                t->source, ss_backend_name(b), ss_gemm_dtype_name(d), kind, (long long)N_pad, (long long)K_act);
    }
    return 0;
}

void ss_tune_attach(ss_gemm_ctx *ctx, ss_tune_table *t) { ss_gemm_ctx_set_alg_lookup(ctx, t ? lookup_cb : NULL, t); }

typedef struct collect_ctx {
    ss_tune_table *t;
    ss_status st;
} collect_ctx;

static void collect_cb(void *user, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad, int64_t N_pad,
                       int64_t K_act, const ss_gemm_alg *alg, int from_table) {
    collect_ctx *c = user;
    if (from_table || c->st) return;
    ss_tune_entry e;
    memset(&e, 0, sizeof e);
    e.backend = b;
    e.dtype = d;
    snprintf(e.kind, sizeof e.kind, "%s", kind);
    e.N = N_pad;
    e.K = K_act;
    e.M = M_pad;
    e.alg = *alg;
    c->st = ss_tune_add(c->t, &e);
}

void ss_tune_collect(ss_tune_table *t, ss_gemm_ctx *ctx) {
    collect_ctx c = {t, SS_OK};
    ss_gemm_ctx_each_plan(ctx, collect_cb, &c);
}
