/* Reading the result tree for the report: throughput CSVs and kernel CSVs. */
#include "pipeline/report_data.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

/* ---- a small CSV table: '#' comment lines, one header line, numeric cells ---- */

#define CSV_MAX_COLS 64

typedef struct csv {
    int ncol, nrows;
    char names[CSV_MAX_COLS][64];
    double *v; /* [nrows, ncol]; NaN where a cell is not a number */
} csv;

static void csv_free(csv *c) {
    free(c->v);
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

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) s[--n] = '\0';
    size_t k = 0;
    while (s[k] == ' ') k++;
    if (k) memmove(s, s + k, n - k + 1);
}

static ss_status csv_read(const char *path, csv *c) {
    memset(c, 0, sizeof *c);
    char *text;
    SS_TRY(ss_read_file(path, &text, NULL));
    int cap = 0, header = 0;
    ss_status st = SS_OK;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == SS_OK; line = strtok_r(NULL, "\n", &save)) {
        trim(line);
        if (!line[0] || line[0] == '#') continue;
        char *cells[CSV_MAX_COLS];
        int n = split(line, cells, CSV_MAX_COLS);
        if (!header) {
            header = 1;
            c->ncol = n;
            for (int i = 0; i < n; i++) {
                trim(cells[i]);
                snprintf(c->names[i], sizeof c->names[i], "%s", cells[i]);
            }
            continue;
        }
        if (c->nrows == cap) {
            cap = cap ? 2 * cap : 64;
            double *v = realloc(c->v, (size_t)cap * (size_t)c->ncol * sizeof *v);
            if (!v) {
                st = ss_fail(SS_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            c->v = v;
        }
        double *row = c->v + (size_t)c->nrows * (size_t)c->ncol;
        for (int i = 0; i < c->ncol; i++) {
            row[i] = NAN;
            if (i < n) {
                char *end;
                trim(cells[i]);
                double x = strtod(cells[i], &end);
                if (end != cells[i] && *end == '\0') row[i] = x;
            }
        }
        c->nrows++;
    }
    free(text);
    if (st != SS_OK) csv_free(c);
    return st;
}

static int csv_col(const csv *c, const char *name) {
    for (int i = 0; i < c->ncol; i++)
        if (!strcmp(c->names[i], name)) return i;
    return -1;
}

static double csv_at(const csv *c, int row, int col) { return col < 0 ? NAN : c->v[(size_t)row * (size_t)c->ncol + (size_t)col]; }

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
    return atoi(sp + 2);
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

/* Reads one throughput CSV into a series; unreadable or foreign CSVs are skipped. */
static ss_status read_tp_csv(rp_data *d, int decode, const char *hw, const char *backend, const char *sparsity,
                             const char *rel, const char *model) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", d->results, rel);
    csv c;
    if (csv_read(path, &c) != SS_OK) return SS_OK;
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
    for (int r = 0; r < c.nrows; r++) {
        double M = csv_at(&c, r, cm), tps = csv_at(&c, r, ct);
        if (isnan(M) || isnan(tps)) continue;
        double out = csv_at(&c, r, co);
        if (isnan(out)) {
            double len = cl >= 0 ? csv_at(&c, r, cl) : 1.0;
            out = csv_at(&c, r, cr) * (isnan(len) ? 1.0 : len);
        }
        se->pts[se->n++] = (rp_point){.M = (int64_t)M, .tps = tps, .out_tps = out};
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
    if (csv_read(path, &c) != SS_OK) return SS_OK;
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
    for (int r = 0; r < c.nrows; r++) {
        double M = csv_at(&c, r, cm), N = csv_at(&c, r, cn), K = csv_at(&c, r, ck), lat = csv_at(&c, r, cl);
        if (isnan(M) || isnan(N) || isnan(K) || isnan(lat) || lat <= 0) continue;
        s->rows[s->n++] = (rp_krow){.M = (int64_t)M, .N = (int64_t)N, .K = (int64_t)K, .lat_us = lat};
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
