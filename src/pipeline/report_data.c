/* Reading the result tree for the report: throughput CSVs and kernel CSVs. */
#include "pipeline/report_data.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* ---- a small CSV table: '#' comment lines, one header line, text cells ----
 *
 * Cells keep their text; the typed getters parse them with range and
 * finiteness checks, so a bad cell in a column the report uses is one error
 * naming the file, the line and the column, never a silent cast. */

#define CSV_MAX_COLS 64
#define CSV_MAX_ROWS (1 << 20)
#define CSV_MAX_BYTES ((int64_t)64 << 20)

typedef struct csv {
    const char *path;
    int ncol, nrows;
    char names[CSV_MAX_COLS][64];
    char *text;   /* the file, cut into cells in place */
    char **cells; /* [nrows, ncol]; "" where a row is short */
    int *line;    /* [nrows]: line number in the file */
} csv;

static void csv_free(csv *c) {
    free(c->text);
    free(c->cells);
    free(c->line);
    memset(c, 0, sizeof *c);
}

static int split(char *line, char **cells, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        cells[n++] = p;
        char *comma = strchr(p, ',');
        if (!comma) break;
        *comma = '\0';
        p = comma + 1;
    }
    return n;
}

static char *trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

static ss_status csv_grow(csv *c, int *cap) {
    if (c->nrows < *cap) return SS_OK;
    if (c->nrows >= CSV_MAX_ROWS) return ss_fail(SS_ERR_FORMAT, "%s: more than %d rows", c->path, CSV_MAX_ROWS);
    int ncap = *cap ? 2 * *cap : 64;
    char **cells = realloc(c->cells, (size_t)ncap * (size_t)c->ncol * sizeof *cells);
    if (cells) c->cells = cells;
    int *line = realloc(c->line, (size_t)ncap * sizeof *line);
    if (line) c->line = line;
    if (!cells || !line) return ss_fail(SS_ERR_NOMEM, "%s: out of memory", c->path);
    *cap = ncap;
    return SS_OK;
}

static ss_status csv_parse(csv *c) {
    int cap = 0, lineno = 0;
    char *next = c->text;
    while (next && *next) {
        char *line = next;
        char *nl = strchr(line, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl) *nl = '\0';
        lineno++;
        line = trim(line);
        if (!line[0] || line[0] == '#') continue;
        char *cells[CSV_MAX_COLS + 1];
        int n = split(line, cells, CSV_MAX_COLS + 1);
        if (n > CSV_MAX_COLS)
            return ss_fail(SS_ERR_FORMAT, "%s: line %d has more than %d columns", c->path, lineno, CSV_MAX_COLS);
        if (!c->ncol) { /* the header */
            c->ncol = n;
            for (int i = 0; i < n; i++) snprintf(c->names[i], sizeof c->names[i], "%s", trim(cells[i]));
            continue;
        }
        SS_TRY(csv_grow(c, &cap));
        char **row = c->cells + (size_t)c->nrows * (size_t)c->ncol;
        for (int i = 0; i < c->ncol; i++) row[i] = i < n ? trim(cells[i]) : line + strlen(line);
        c->line[c->nrows++] = lineno;
    }
    return SS_OK;
}

static ss_status csv_read(const char *path, csv *c) {
    memset(c, 0, sizeof *c);
    c->path = path;
    int64_t size = ss_file_size(path);
    if (size > CSV_MAX_BYTES)
        return ss_fail(SS_ERR_FORMAT, "%s: %lld bytes, more than a result file holds (%lld)", path, (long long)size,
                       (long long)CSV_MAX_BYTES);
    SS_TRY(ss_read_file(path, &c->text, NULL));
    ss_status st = csv_parse(c);
    if (st != SS_OK) csv_free(c);
    return st;
}

static int csv_col(const csv *c, const char *name) {
    for (int i = 0; i < c->ncol; i++)
        if (!strcmp(c->names[i], name)) return i;
    return -1;
}

static const char *csv_cell(const csv *c, int row, int col) {
    return col < 0 ? "" : c->cells[(size_t)row * (size_t)c->ncol + (size_t)col];
}

/* Cell (row, col) as a finite number in [lo, hi]; an empty cell (or an
 * absent column) is *present = 0 when allow_empty, an error otherwise. */
static ss_status csv_num(const csv *c, int row, int col, double lo, double hi, int allow_empty, double *out,
                         int *present) {
    const char *s = csv_cell(c, row, col);
    *present = 0;
    *out = NAN;
    if (!*s) {
        if (allow_empty) return SS_OK;
        return ss_fail(SS_ERR_FORMAT, "%s: line %d, column '%s': empty cell", c->path, c->line[row],
                       col < 0 ? "?" : c->names[col]);
    }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || !isfinite(x) || x < lo || x > hi)
        return ss_fail(SS_ERR_FORMAT, "%s: line %d, column '%s': '%.40s' is not a number in [%g, %g]", c->path,
                       c->line[row], c->names[col], s, lo, hi);
    *out = x;
    *present = 1;
    return SS_OK;
}

/* Cell (row, col) as an integer in [lo, hi] (required). */
static ss_status csv_int(const csv *c, int row, int col, int64_t lo, int64_t hi, int64_t *out) {
    double x;
    int present;
    SS_TRY(csv_num(c, row, col, (double)lo, (double)hi, 0, &x, &present));
    if (x != floor(x))
        return ss_fail(SS_ERR_FORMAT, "%s: line %d, column '%s': '%s' is not an integer", c->path, c->line[row],
                       c->names[col], csv_cell(c, row, col));
    *out = (int64_t)x; /* in range: checked above */
    return SS_OK;
}

/* Bounds of what the benchmarks write. */
#define MAX_M (INT64_C(1) << 24)      /* the largest M the CLI accepts */
#define MAX_DIM (INT64_C(1) << 31)    /* N, K */
#define MAX_RATE 1e15                 /* tokens or requests per second */
#define MAX_LATENCY_US 1e12

/* ---- folders ---- */

typedef struct names {
    char **v;
    int n;
} names;

static void names_free(names *s) {
    for (int i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* natural order, so 2_4 < 2_6 < 2_10 */
static int cmp_str(const void *a, const void *b) { return strverscmp(*(char *const *)a, *(char *const *)b); }

/* Entries of dir, sorted; want_dirs selects folders or regular files. */
static void list_dir(const char *dir, int want_dirs, names *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (strstr(e->d_name, ".tmp.")) continue; /* a file being written */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (ss_is_dir(path) != want_dirs) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = realloc(out->v, (size_t)cap * sizeof *v);
            if (!v) break;
            out->v = v;
        }
        if (!(out->v[out->n] = strdup(e->d_name))) break;
        out->n++;
    }
    closedir(d);
    if (out->n) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* "2_4".."2_64", "2_inf" */
static int is_sparsity(const char *s) {
    if (strncmp(s, "2_", 2) != 0) return 0;
    if (!strcmp(s + 2, "inf")) return 1;
    if (!s[2]) return 0;
    for (const char *p = s + 2; *p; p++)
        if (!isdigit((unsigned char)*p)) return 0;
    return 1;
}

int rp_sparsity_order(const char *sp) {
    if (!sp || !*sp) return 0;
    if (!strcmp(sp, "2_inf")) return 1000000000;
    long L = strtol(sp + 2, NULL, 10); /* saturates, unlike atoi: names come from folders */
    return L < 0 ? 0 : L >= 1000000000 ? 999999999 : (int)L;
}

/* ---- throughput ---- */

static const char *const k_dtypes[] = {"FP8E4M3", "FP4E2M1", "INT8", "FP8", "FP4", "BF16", "FP16", NULL};

static void dtype_from_folder(const char *hw, char *out, size_t cap) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", hw);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "_", &save); tok; tok = strtok_r(NULL, "_", &save))
        for (int i = 0; k_dtypes[i]; i++)
            if (!strcmp(tok, k_dtypes[i])) {
                snprintf(out, cap, "%s", tok);
                return;
            }
    snprintf(out, cap, "?");
}

static rp_tgroup *tgroup_get(rp_data *d, int decode, const char *hw, const char *model) {
    for (int i = 0; i < d->ntg; i++)
        if (d->tg[i].decode == decode && !strcmp(d->tg[i].hw, hw) && !strcmp(d->tg[i].model, model)) return &d->tg[i];
    rp_tgroup *tg = realloc(d->tg, (size_t)(d->ntg + 1) * sizeof *tg);
    if (!tg) return NULL;
    d->tg = tg;
    rp_tgroup *g = &d->tg[d->ntg++];
    memset(g, 0, sizeof *g);
    g->decode = decode;
    snprintf(g->hw, sizeof g->hw, "%s", hw);
    snprintf(g->model, sizeof g->model, "%s", model);
    dtype_from_folder(hw, g->dtype, sizeof g->dtype);
    return g;
}

static int cmp_point(const void *a, const void *b) {
    int64_t x = ((const rp_point *)a)->M, y = ((const rp_point *)b)->M;
    return (x > y) - (x < y);
}

/* Reads one throughput CSV into a series; a CSV without the columns the
 * report needs is skipped, a bad cell in one of them is an error. */
static ss_status read_tp_csv(rp_data *d, int decode, const char *hw, const char *backend, const char *sparsity,
                             const char *rel, const char *model) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", d->results, rel);
    csv c;
    SS_TRY(csv_read(path, &c));
    int cm = csv_col(&c, decode ? "M_decode" : "M_prefill");
    if (cm < 0) cm = csv_col(&c, "M");
    int ct = csv_col(&c, "tokens_per_s"), co = csv_col(&c, "output_tokens_per_s");
    int cr = csv_col(&c, "requests_per_s"), cl = csv_col(&c, "output_len");
    if (cm < 0 || ct < 0) {
        csv_free(&c);
        return SS_OK;
    }
    rp_tgroup *g = tgroup_get(d, decode, hw, model);
    rp_series *s = g ? realloc(g->s, (size_t)(g->ns + 1) * sizeof *s) : NULL;
    rp_point *pts = malloc((size_t)(c.nrows ? c.nrows : 1) * sizeof *pts);
    if (!g || !s || !pts) {
        free(pts);
        if (s) g->s = s;
        csv_free(&c);
        return ss_fail(SS_ERR_NOMEM, "report: out of memory");
    }
    g->s = s;
    rp_series *se = &g->s[g->ns++];
    memset(se, 0, sizeof *se);
    snprintf(se->backend, sizeof se->backend, "%s", backend);
    snprintf(se->sparsity, sizeof se->sparsity, "%s", sparsity);
    snprintf(se->path, sizeof se->path, "%s", rel);
    se->pts = pts;
    ss_status st = SS_OK;
    for (int r = 0; r < c.nrows && st == SS_OK; r++) {
        int64_t M = 0;
        double tps, out, rps, len;
        int has_tps, has_out, has_rps, has_len;
        st = csv_int(&c, r, cm, 1, MAX_M, &M);
        if (st == SS_OK) st = csv_num(&c, r, ct, 0, MAX_RATE, 1, &tps, &has_tps);
        if (st == SS_OK) st = csv_num(&c, r, co, 0, MAX_RATE, 1, &out, &has_out);
        if (st == SS_OK) st = csv_num(&c, r, cr, 0, MAX_RATE, 1, &rps, &has_rps);
        if (st == SS_OK) st = csv_num(&c, r, cl, 0, (double)(1 << 24), 1, &len, &has_len);
        if (st != SS_OK || !has_tps) continue; /* a point without a rate was not measured */
        if (!has_out) out = has_rps ? rps * (has_len ? len : 1.0) : NAN;
        se->pts[se->n++] = (rp_point){.M = M, .tps = tps, .out_tps = out};
    }
    if (st != SS_OK) {
        csv_free(&c);
        return st;
    }
    qsort(se->pts, (size_t)se->n, sizeof *se->pts, cmp_point);
    csv_free(&c);
    return SS_OK;
}

static ss_status scan_tp_folder(rp_data *d, int decode, const char *hw, const char *backend, const char *sparsity,
                                const char *rel_dir) {
    const char *stage = decode ? "decode" : "prefill";
    char dir[4400], suffix[32];
    snprintf(dir, sizeof dir, "%s/%s", d->results, rel_dir);
    snprintf(suffix, sizeof suffix, "_%s.csv", stage);
    names files;
    list_dir(dir, 0, &files);
    ss_status st = SS_OK;
    for (int i = 0; i < files.n && st == SS_OK; i++) {
        if (!ends_with(files.v[i], suffix)) continue;
        char model[128], rel[2048];
        snprintf(model, sizeof model, "%.*s", (int)(strlen(files.v[i]) - strlen(suffix)), files.v[i]);
        snprintf(rel, sizeof rel, "%s/%s", rel_dir, files.v[i]);
        st = read_tp_csv(d, decode, hw, backend, sparsity, rel, model);
    }
    names_free(&files);
    return st;
}

static ss_status scan_throughput(rp_data *d) {
    for (int decode = 0; decode < 2; decode++) {
        char base[256], dir[4400];
        snprintf(base, sizeof base, "throughput_benchmark_results/%s", decode ? "decode" : "prefill");
        snprintf(dir, sizeof dir, "%s/%s", d->results, base);
        names hws;
        list_dir(dir, 1, &hws);
        ss_status st = SS_OK;
        for (int h = 0; h < hws.n && st == SS_OK; h++) {
            char hwdir[2048], hwrel[1024];
            snprintf(hwrel, sizeof hwrel, "%s/%s", base, hws.v[h]);
            snprintf(hwdir, sizeof hwdir, "%s/%s", d->results, hwrel);
            names backs;
            list_dir(hwdir, 1, &backs);
            for (int b = 0; b < backs.n && st == SS_OK; b++) {
                char rel[2048], subdir[4400];
                snprintf(rel, sizeof rel, "%s/%s", hwrel, backs.v[b]);
                st = scan_tp_folder(d, decode, hws.v[h], backs.v[b], "", rel);
                snprintf(subdir, sizeof subdir, "%s/%s", d->results, rel);
                names sps;
                list_dir(subdir, 1, &sps);
                for (int s = 0; s < sps.n && st == SS_OK; s++) {
                    if (!is_sparsity(sps.v[s])) continue;
                    char rel2[2200];
                    snprintf(rel2, sizeof rel2, "%s/%s", rel, sps.v[s]);
                    st = scan_tp_folder(d, decode, hws.v[h], backs.v[b], sps.v[s], rel2);
                }
                names_free(&sps);
            }
            names_free(&backs);
        }
        names_free(&hws);
        SS_TRY(st);
    }
    return SS_OK;
}

/* ---- kernels ---- */

void rp_kernel_dtype_norm(const char *in, char *out, size_t cap) {
    char up[32];
    size_t k = 0;
    for (; in[k] && k + 1 < sizeof up; k++) up[k] = (char)toupper((unsigned char)in[k]);
    up[k] = '\0';
    if (!strncmp(up, "FP8", 3)) snprintf(out, cap, "FP8");
    else if (!strncmp(up, "FP4", 3)) snprintf(out, cap, "FP4");
    else snprintf(out, cap, "%s", up);
}

static int known_kernel_dtype(const char *norm) {
    return !strcmp(norm, "FP16") || !strcmp(norm, "BF16") || !strcmp(norm, "INT8") || !strcmp(norm, "FP8") ||
           !strcmp(norm, "FP4");
}

static ss_status read_kernel_csv(rp_data *d, const char *lib, const char *rel, const char *hw, const char *dtype_dir,
                                 const char *file) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", d->results, rel);
    csv c;
    SS_TRY(csv_read(path, &c));
    int cm = csv_col(&c, "M"), cn = csv_col(&c, "N"), ck = csv_col(&c, "K");
    int cl = csv_col(&c, "lat_us_1");
    if (cl < 0) cl = csv_col(&c, "lat_us");
    if (cl < 0) cl = csv_col(&c, "gemm_us");
    if (cl < 0) cl = csv_col(&c, "latency_us");
    if (cm < 0 || cn < 0 || ck < 0 || cl < 0) {
        csv_free(&c);
        return SS_OK;
    }
    rp_kseries *ks = realloc(d->ks, (size_t)(d->nks + 1) * sizeof *ks);
    rp_krow *rows = malloc((size_t)(c.nrows ? c.nrows : 1) * sizeof *rows);
    if (!ks || !rows) {
        free(rows);
        if (ks) d->ks = ks;
        csv_free(&c);
        return ss_fail(SS_ERR_NOMEM, "report: out of memory");
    }
    d->ks = ks;
    rp_kseries *s = &d->ks[d->nks++];
    memset(s, 0, sizeof *s);
    snprintf(s->lib, sizeof s->lib, "%s", lib);
    snprintf(s->hw, sizeof s->hw, "%s", hw);
    rp_kernel_dtype_norm(dtype_dir, s->dtype, sizeof s->dtype);
    snprintf(s->path, sizeof s->path, "%s", rel);
    /* sparsity: the file name's "_2_L" suffix */
    char stem[512];
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(file) - 4), file);
    char *u = strstr(stem, "_2_");
    while (u && strstr(u + 1, "_2_")) u = strstr(u + 1, "_2_");
    if (u && is_sparsity(u + 1) && strcmp(lib, "cuBLASLt") != 0) snprintf(s->sparsity, sizeof s->sparsity, "%s", u + 1);
    s->rows = rows;
    ss_status st = SS_OK;
    for (int r = 0; r < c.nrows && st == SS_OK; r++) {
        int64_t M = 0, N = 0, K = 0;
        double lat;
        int has_lat;
        st = csv_int(&c, r, cm, 1, MAX_M, &M);
        if (st == SS_OK) st = csv_int(&c, r, cn, 1, MAX_DIM, &N);
        if (st == SS_OK) st = csv_int(&c, r, ck, 1, MAX_DIM, &K);
        if (st == SS_OK) st = csv_num(&c, r, cl, 0, MAX_LATENCY_US, 1, &lat, &has_lat);
        if (st != SS_OK || !has_lat || lat <= 0) continue; /* a failed or skipped point has no latency */
        s->rows[s->n++] = (rp_krow){.M = M, .N = N, .K = K, .lat_us = lat};
    }
    if (st != SS_OK) {
        csv_free(&c);
        return st;
    }
    csv_free(&c);
    return SS_OK;
}

/* Walks lib's folder for <...>/<hw>/<DTYPE>/<file>.csv. */
static ss_status scan_kernel_dir(rp_data *d, const char *lib, const char *rel, const char *parent, int depth) {
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/%s", d->results, rel);
    const char *here = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
    char norm[32];
    rp_kernel_dtype_norm(here, norm, sizeof norm);
    ss_status st = SS_OK;
    if (known_kernel_dtype(norm)) {
        names files;
        list_dir(dir, 0, &files);
        for (int i = 0; i < files.n && st == SS_OK; i++) {
            if (!ends_with(files.v[i], ".csv")) continue;
            char frel[2400];
            snprintf(frel, sizeof frel, "%s/%s", rel, files.v[i]);
            st = read_kernel_csv(d, lib, frel, parent, here, files.v[i]);
        }
        names_free(&files);
    }
    if (depth >= 6) return st;
    names subs;
    list_dir(dir, 1, &subs);
    for (int i = 0; i < subs.n && st == SS_OK; i++) {
        char srel[2400];
        snprintf(srel, sizeof srel, "%s/%s", rel, subs.v[i]);
        st = scan_kernel_dir(d, lib, srel, here, depth + 1);
    }
    names_free(&subs);
    return st;
}

ss_status rp_scan(const char *results, rp_data *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->results, sizeof d->results, "%s", results);
    ss_status st = scan_throughput(d);
    if (st == SS_OK) st = scan_kernel_dir(d, "cuBLASLt", "benchmark_kernel/cuBLASLt", "", 0);
    if (st == SS_OK) st = scan_kernel_dir(d, "cuSPARSELt", "benchmark_kernel/cuSPARSELt", "", 0);
    if (st != SS_OK) rp_free(d);
    return st;
}

void rp_free(rp_data *d) {
    for (int i = 0; i < d->ntg; i++) {
        for (int s = 0; s < d->tg[i].ns; s++) free(d->tg[i].s[s].pts);
        free(d->tg[i].s);
    }
    free(d->tg);
    for (int i = 0; i < d->nks; i++) free(d->ks[i].rows);
    free(d->ks);
    memset(d, 0, sizeof *d);
}
