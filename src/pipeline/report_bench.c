/* The report's benchmark sections: prefill and decode (tasks 4-5) and the
 * kernels (tasks 6-8): status grids as the seed shows them, then the numbers,
 * speedups against the ideal, and charts. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "pipeline/charts.h"
#include "pipeline/report_internal.h"

/* ------------------------------------------------------------ throughput */

/* One dtype's grid: rows are backends (dense first, then sparsities). */
typedef struct tp_section {
    char dtype[16];    /* as the jobs name it: "INT8", "FP8" */
    char model[128];
    const rp_tgroup *g; /* its results, or NULL */
    char rows[RP_MAX_ROWS][16]; /* "" dense, "2_4", ... */
    int nrows;
    int64_t M[RP_MAX_M];
    int nM;
} tp_section;

static const rp_series *find_series(const rp_tgroup *g, const char *sparsity) {
    if (!g) return NULL;
    for (int i = 0; i < g->ns; i++)
        if (!strcmp(g->s[i].sparsity, sparsity)) return &g->s[i];
    return NULL;
}

static const rp_point *find_point(const rp_series *s, int64_t M) {
    if (!s) return NULL;
    for (int i = 0; i < s->n; i++)
        if (s->pts[i].M == M) return &s->pts[i];
    return NULL;
}

static const char *dense_label(const rctx *c, const tp_section *t) {
    const rp_series *s = find_series(t->g, "");
    const char *b = s ? s->backend : !strcmp(c->backend, "cpu") ? "cpu_dense" : "cublaslt";
    if (!strcmp(b, "cublaslt")) return "cuBLASLt";
    if (!strcmp(b, "cpu_dense")) return "CPU dense";
    return b;
}

static int sparse_is_cpu(const rctx *c, const tp_section *t) {
    for (int i = 0; t->g && i < t->g->ns; i++)
        if (t->g->s[i].sparsity[0]) return !strcmp(t->g->s[i].backend, "cpu_slid");
    return !strcmp(c->backend, "cpu");
}

/* The job that measured one grid row (state only). */
static json_t *tp_job(const rctx *c, int decode, const char *dtype, const char *sparsity) {
    if (!c->state) return NULL;
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (!strcmp(rp_jstr(job, "kind"), decode ? "decode" : "prefill") && !strcmp(rp_jstr(job, "dtype"), dtype) &&
                !strcmp(rp_jstr(job, "sparsity"), sparsity))
                return job;
        }
    }
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_row(const void *a, const void *b) {
    return rp_sparsity_order((const char *)a) - rp_sparsity_order((const char *)b);
}

static void add_m(int64_t *M, int *n, int64_t m) {
    for (int i = 0; i < *n; i++)
        if (M[i] == m) return;
    if (*n < RP_MAX_M) M[(*n)++] = m;
}

static void add_row(tp_section *t, const char *sp) {
    for (int i = 0; i < t->nrows; i++)
        if (!strcmp(t->rows[i], sp)) return;
    if (t->nrows < RP_MAX_ROWS) snprintf(t->rows[t->nrows++], sizeof t->rows[0], "%s", sp);
}

/* Picks the result group of a model: with several hardware folders, the one
 * of the state's backend (CPU_* for the CPU engine). */
static const rp_tgroup *pick_group(const rctx *c, int decode, const char *model) {
    const rp_tgroup *best = NULL;
    for (int i = 0; i < c->d.ntg; i++) {
        const rp_tgroup *g = &c->d.tg[i];
        if (g->decode != decode || strcmp(g->model, model) != 0) continue;
        int cpu = !strncmp(g->hw, "CPU_", 4);
        if (!best || cpu == !strcmp(c->backend, "cpu")) best = g;
    }
    return best;
}

static int build_sections(const rctx *c, int decode, tp_section *sec, int max) {
    int n = 0;
    if (c->state) {
        const char *dts[] = {"INT8", "FP8"};
        for (int d = 0; d < 2 && n < max; d++) {
            tp_section *t = &sec[n];
            memset(t, 0, sizeof *t);
            snprintf(t->dtype, sizeof t->dtype, "%s", dts[d]);
            snprintf(t->model, sizeof t->model, "%s-%s", c->base, dts[d]);
            size_t ti, ji;
            json_t *task, *job;
            json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
                json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                    if (!strcmp(rp_jstr(job, "kind"), decode ? "decode" : "prefill") &&
                        !strcmp(rp_jstr(job, "dtype"), dts[d]))
                        add_row(t, rp_jstr(job, "sparsity"));
                }
            }
            if (t->nrows == 0) continue;
            t->g = pick_group(c, decode, t->model);
            const int64_t *m = decode ? c->m_decode : c->m_prefill;
            int nm = decode ? c->n_decode : c->n_prefill;
            for (int i = 0; i < nm; i++) add_m(t->M, &t->nM, m[i]);
            n++;
        }
        return n;
    }
    for (int i = 0; i < c->d.ntg && n < max; i++) {
        const rp_tgroup *g = &c->d.tg[i];
        if (g->decode != decode) continue;
        tp_section *t = &sec[n++];
        memset(t, 0, sizeof *t);
        snprintf(t->dtype, sizeof t->dtype, "%s", !strcmp(g->dtype, "FP8E4M3") ? "FP8" : g->dtype);
        snprintf(t->model, sizeof t->model, "%s", g->model);
        t->g = g;
        for (int s = 0; s < g->ns; s++) {
            add_row(t, g->s[s].sparsity);
            for (int k = 0; k < g->s[s].n; k++) add_m(t->M, &t->nM, g->s[s].pts[k].M);
        }
        qsort(t->rows, (size_t)t->nrows, sizeof t->rows[0], cmp_row);
        qsort(t->M, (size_t)t->nM, sizeof t->M[0], cmp_i64);
    }
    return n;
}

static int section_have(const tp_section *t) {
    int have = 0;
    for (int r = 0; r < t->nrows; r++)
        for (int m = 0; m < t->nM; m++) have += find_point(find_series(t->g, t->rows[r]), t->M[m]) != NULL;
    return have;
}

static const char *grid_icon(int have, int expected) {
    if (expected > 0 && have == expected) return "✅";
    return have > 0 ? "⚠️" : "❌";
}

static void write_grid(rctx *c, int decode, const tp_section *t, const char *numbering) {
    FILE *fp = c->md;
    const char *stage = decode ? "Decode" : "Prefill";
    int have = section_have(t), expected = t->nrows * t->nM;
    fprintf(fp, "### %s %s %s %s %d/%d\n\n", numbering, t->dtype, stage, grid_icon(have, expected), have, expected);
    if (t->g) fprintf(fp, "Results: `throughput_benchmark_results/%s/%s`\n\n", decode ? "decode" : "prefill", t->g->hw);
    fprintf(fp, "| Backend |");
    for (int m = 0; m < t->nM; m++) fprintf(fp, " M=%lld |", (long long)t->M[m]);
    fprintf(fp, " Total |\n|---------|");
    for (int m = 0; m < t->nM; m++) fprintf(fp, "------|");
    fprintf(fp, "-------|\n");
    for (int r = 0; r < t->nrows; r++) {
        const rp_series *s = find_series(t->g, t->rows[r]);
        json_t *job = tp_job(c, decode, t->dtype, t->rows[r]);
        const char *miss = job ? rp_job_icon(rp_jstr(job, "status")) : "—";
        if (job && !strcmp(rp_jstr(job, "status"), "success")) miss = "❌"; /* succeeded but the point is missing */
        fprintf(fp, "| %s |", t->rows[r][0] ? t->rows[r] : dense_label(c, t));
        int row_have = 0;
        for (int m = 0; m < t->nM; m++) {
            int ok = find_point(s, t->M[m]) != NULL;
            row_have += ok;
            fprintf(fp, " %s |", ok ? "✅" : miss);
        }
        fprintf(fp, " %d/%d |\n", row_have, t->nM);
    }
    fprintf(fp, "\n");
}

/* Draws one speedup chart; records it or the reason it is missing. */
static void draw_chart(rctx *c, const char *name, const char *title, const char *ylabel, ss_chart_series *cs, int ncs) {
    if (!c->draw || ncs == 0) return;
    char base[4400], rel[512];
    snprintf(rel, sizeof rel, "charts/%s", name);
    snprintf(base, sizeof base, "%s/%s", c->o->charts_dir, name);
    ss_chart ch = {.title = title, .xlabel = "M", .ylabel = ylabel, .series = cs, .n_series = ncs, .parity_line = 1};
    if (ss_chart_draw(c->gnuplot, &ch, base) == SS_OK) {
        char png[600], svg[600];
        snprintf(png, sizeof png, "%s.png", rel);
        snprintf(svg, sizeof svg, "%s.svg", rel);
        json_array_append_new(c->charts, json_string(png));
        json_array_append_new(c->charts, json_string(svg));
        fprintf(c->md, "![%s](%s)\n\n", title, png);
    } else {
        fprintf(c->md, "_Chart %s not drawn: %s_\n\n", name, ss_errmsg());
        ss_clear_error();
    }
}

static void write_numbers(rctx *c, int decode, const tp_section *t, json_t *jsec) {
    FILE *fp = c->md;
    const rp_series *dense = find_series(t->g, "");
    /* tokens/s, both ways of counting */
    for (int kind = 0; kind < 2; kind++) {
        fprintf(fp, "**%s, %s**\n\n| M |", t->dtype,
                kind == 0 ? "tokens/s (prompt + output tokens, as the reference counted)" : "output tokens/s");
        for (int r = 0; r < t->nrows; r++) fprintf(fp, " %s |", t->rows[r][0] ? t->rows[r] : dense_label(c, t));
        fprintf(fp, "\n|---|");
        for (int r = 0; r < t->nrows; r++) fprintf(fp, "---|");
        fprintf(fp, "\n");
        for (int m = 0; m < t->nM; m++) {
            fprintf(fp, "| %lld |", (long long)t->M[m]);
            for (int r = 0; r < t->nrows; r++) {
                const rp_point *p = find_point(find_series(t->g, t->rows[r]), t->M[m]);
                char v[32] = "—";
                if (p) rp_fmt_rate(kind == 0 ? p->tps : p->out_tps, v, sizeof v);
                fprintf(fp, " %s |", v);
            }
            fprintf(fp, "\n");
        }
        fprintf(fp, "\n");
    }
    /* speedups over dense, per sparsity, with the ideal */
    int nsp = 0;
    for (int r = 0; r < t->nrows; r++) nsp += t->rows[r][0] != 0;
    json_t *jrows = json_array();
    ss_chart_series cs[RP_MAX_ROWS];
    int64_t xs[RP_MAX_ROWS][RP_MAX_M];
    double ys[RP_MAX_ROWS][RP_MAX_M];
    int ncs = 0;
    for (int r = 0; r < t->nrows; r++) {
        const rp_series *s = find_series(t->g, t->rows[r]);
        json_t *pts = json_array();
        int k = 0;
        for (int m = 0; m < t->nM; m++) {
            const rp_point *p = find_point(s, t->M[m]);
            if (!p) continue;
            json_t *jp = json_pack("{s:I, s:f, s:f}", "M", (json_int_t)p->M, "tokens_per_s", p->tps,
                                   "output_tokens_per_s", p->out_tps);
            const rp_point *d = find_point(dense, t->M[m]);
            if (t->rows[r][0] && d && d->tps > 0) {
                double sp = p->tps / d->tps;
                json_object_set_new(jp, "speedup", json_real(sp));
                xs[ncs][k] = p->M;
                ys[ncs][k++] = sp;
            }
            json_array_append_new(pts, jp);
        }
        json_t *jr = json_pack("{s:s, s:s, s:o}", "backend", s ? s->backend : "", "sparsity", t->rows[r], "points", pts);
        if (t->rows[r][0]) json_object_set_new(jr, "ideal_speedup", json_real(ss_ideal_speedup(t->rows[r])));
        if (s) json_object_set_new(jr, "csv", json_string(s->path));
        json_array_append_new(jrows, jr);
        if (t->rows[r][0] && k > 0 && ncs < RP_MAX_ROWS) {
            cs[ncs] = (ss_chart_series){.label = t->rows[r], .x = xs[ncs], .y = ys[ncs], .n = k,
                                        .ideal = ss_ideal_speedup(t->rows[r])};
            ncs++;
        }
    }
    json_object_set_new(jsec, "rows", jrows);
    if (nsp == 0) return;
    fprintf(fp, "**%s, speedup over %s (tokens/s ratio)**\n\n| M |", t->dtype, dense_label(c, t));
    for (int r = 0; r < t->nrows; r++)
        if (t->rows[r][0]) fprintf(fp, " %s |", t->rows[r]);
    fprintf(fp, "\n|---|");
    for (int r = 0; r < nsp; r++) fprintf(fp, "---|");
    fprintf(fp, "\n");
    for (int m = 0; m < t->nM; m++) {
        const rp_point *d = find_point(dense, t->M[m]);
        fprintf(fp, "| %lld |", (long long)t->M[m]);
        for (int r = 0; r < t->nrows; r++) {
            if (!t->rows[r][0]) continue;
            const rp_point *p = find_point(find_series(t->g, t->rows[r]), t->M[m]);
            if (p && d && d->tps > 0) fprintf(fp, " %.2f |", p->tps / d->tps);
            else fprintf(fp, " — |");
        }
        fprintf(fp, "\n");
    }
    fprintf(fp, "| **ideal** |");
    for (int r = 0; r < t->nrows; r++)
        if (t->rows[r][0]) fprintf(fp, " %.2f |", ss_ideal_speedup(t->rows[r]));
    fprintf(fp, "\n\n");
    char name[256], title[256];
    const char *stage = decode ? "decode" : "prefill";
    snprintf(name, sizeof name, "%s_%s_speedup", stage, t->model);
    snprintf(title, sizeof title, "%s %s: sparse over dense tokens/s", decode ? "Decode" : "Prefill", t->model);
    draw_chart(c, name, title, "speedup over dense", cs, ncs);

    /* headline for the conclusion: the largest M with a dense point */
    for (int m = t->nM - 1; m >= 0; m--) {
        const rp_point *d = find_point(dense, t->M[m]);
        if (!d || d->tps <= 0) continue;
        char line[512];
        int k = snprintf(line, sizeof line, "%s %s at M=%lld: sparse/dense", decode ? "Decode" : "Prefill", t->dtype,
                         (long long)t->M[m]);
        int any = 0;
        for (int r = 0; r < t->nrows && k < (int)sizeof line; r++) {
            const rp_point *p = find_point(find_series(t->g, t->rows[r]), t->M[m]);
            if (!t->rows[r][0] || !p) continue;
            k += snprintf(line + k, sizeof line - (size_t)k, "%s %s %.2f (ideal %.2f)", any ? "," : "", t->rows[r],
                          p->tps / d->tps, ss_ideal_speedup(t->rows[r]));
            any = 1;
        }
        if (any) json_array_append_new(c->findings, json_string(line));
        break;
    }
}

ss_status rp_section_throughput(rctx *c, int decode, int number) {
    FILE *fp = c->md;
    tp_section sec[8];
    int n = build_sections(c, decode, sec, 8);
    const char *Stage = decode ? "Decode" : "Prefill";
    int task = decode ? 5 : 4;
    json_t *jstage = json_array();
    json_object_set_new(c->js, decode ? "decode" : "prefill", jstage);

    int have = 0, expected = 0;
    for (int i = 0; i < n; i++) {
        have += section_have(&sec[i]);
        expected += sec[i].nrows * sec[i].nM;
    }
    fprintf(fp, "## %d. %s Benchmark (Task %d) %s\n\n", number, Stage, task,
            n == 0 ? "⬜" : grid_icon(have, expected));
    if (n == 0) {
        fprintf(fp, "No %s results and no %s jobs.\n\n", decode ? "decode" : "prefill", decode ? "decode" : "prefill");
        return SS_OK;
    }
    /* configuration */
    const tp_section *t0 = &sec[0];
    fprintf(fp, "### Configuration\n\n- **M list**: ");
    for (int m = 0; m < t0->nM; m++) fprintf(fp, "%s%lld", m ? ", " : "", (long long)t0->M[m]);
    fprintf(fp, " (%d values)\n- **Models**: ", t0->nM);
    for (int i = 0; i < n; i++) fprintf(fp, "%s%s", i ? ", " : "", sec[i].model);
    fprintf(fp, "\n- **Backend**: %s (dense baseline), %s (", dense_label(c, t0),
            sparse_is_cpu(c, t0) ? "CPU reference on slid weights" : "cuSPARSELt");
    int first = 1;
    for (int r = 0; r < t0->nrows; r++)
        if (t0->rows[r][0]) {
            fprintf(fp, "%s%s", first ? "" : ", ", t0->rows[r]);
            first = 0;
        }
    fprintf(fp, ")\n");
    if (decode) {
        json_t *opts = c->state ? json_object_get(c->state, "options") : NULL;
        json_int_t out = json_integer_value(json_object_get(opts, "decode_output"));
        fprintf(fp, "- **Method**: batch of M sequences, 16-token prompts, %lld output tokens each (prefill + decode "
                    "timed together); tokens/s counts prompt and output tokens (as vLLM, and so the reference, "
                    "counted them), output tokens/s the generated ones\n",
                out > 0 ? (long long)out : 256LL);
    } else {
        fprintf(fp, "- **Method**: M tokens per forward pass: prompts of min(M, 1024) tokens, ceil(M / 1024) of "
                    "them, one output token each; median of the timed passes after warm-up\n");
    }
    if (sparse_is_cpu(c, t0))
        fprintf(fp, "- **Note**: the CPU reference engine computes a slid layer densely over K_slid, so its "
                    "sparse/dense ratios show the cost of the expansion, not SlideSparse's GPU speed\n");
    fprintf(fp, "\n");

    for (int i = 0; i < n; i++) {
        char num[16];
        snprintf(num, sizeof num, "%d.%d", number, i + 1);
        write_grid(c, decode, &sec[i], num);
    }
    fprintf(fp, "**%s total**: %d/%d %s\n\n", Stage, have, expected, grid_icon(have, expected));

    fprintf(fp, "### %d.%d Throughput and speedup\n\n", number, n + 1);
    for (int i = 0; i < n; i++) {
        json_t *jsec = json_pack("{s:s, s:s, s:s, s:o}", "dtype", sec[i].dtype, "model", sec[i].model, "hw",
                                 sec[i].g ? sec[i].g->hw : "", "m", json_array());
        for (int m = 0; m < sec[i].nM; m++) json_array_append_new(json_object_get(jsec, "m"), json_integer(sec[i].M[m]));
        json_object_set_new(jsec, "points_present", json_integer(section_have(&sec[i])));
        json_object_set_new(jsec, "points_expected", json_integer(sec[i].nrows * sec[i].nM));
        if (!sec[i].g) fprintf(fp, "**%s**: no results.\n\n", sec[i].dtype);
        else write_numbers(c, decode, &sec[i], jsec);
        json_array_append_new(jstage, jsec);

        /* completeness */
        rp_category *cat = rp_add_category(c);
        if (!cat) continue;
        snprintf(cat->name, sizeof cat->name, "%s %s", Stage, sec[i].dtype);
        snprintf(cat->model, sizeof cat->model, "%s", sec[i].model);
        rp_m_range(sec[i].M, sec[i].nM, cat->m_range, sizeof cat->m_range);
        cat->have = section_have(&sec[i]);
        cat->expected = sec[i].nrows * sec[i].nM;
        size_t k = 0;
        for (int r = 0; r < sec[i].nrows && k < sizeof cat->missing; r++) {
            int miss = 0;
            for (int m = 0; m < sec[i].nM; m++) miss += !find_point(find_series(sec[i].g, sec[i].rows[r]), sec[i].M[m]);
            if (miss)
                k += (size_t)snprintf(cat->missing + k, sizeof cat->missing - k, "%s%s: %d of %d", k ? ", " : "",
                                      sec[i].rows[r][0] ? sec[i].rows[r] : dense_label(c, &sec[i]), miss, sec[i].nM);
        }
        rp_job_reasons(c, decode ? "decode" : "prefill", sec[i].dtype, NULL, cat->reason, sizeof cat->reason);
    }
    return SS_OK;
}

/* --------------------------------------------------------------- kernels */

static const char *const k_kernel_order[] = {"FP16", "BF16", "INT8", "FP8", "FP4"};

/* The series of (lib, dtype, sparsity) with the most rows. */
static const rp_kseries *find_kseries(const rctx *c, const char *lib, const char *dtype, const char *sparsity) {
    char norm[32];
    rp_kernel_dtype_norm(dtype, norm, sizeof norm);
    const rp_kseries *best = NULL;
    for (int i = 0; i < c->d.nks; i++) {
        const rp_kseries *s = &c->d.ks[i];
        if (strcmp(s->lib, lib) || strcmp(s->dtype, norm) || strcmp(s->sparsity, sparsity)) continue;
        if (!best || s->n > best->n) best = s;
    }
    return best;
}

static json_t *kernel_job(const rctx *c, const char *lib, const char *dtype, const char *sparsity) {
    if (!c->state) return NULL;
    char norm[32], jn[32];
    rp_kernel_dtype_norm(dtype, norm, sizeof norm);
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (strcmp(rp_jstr(job, "kind"), "kernel") || strcmp(rp_jstr(job, "lib"), lib) ||
                strcmp(rp_jstr(job, "sparsity"), sparsity))
                continue;
            rp_kernel_dtype_norm(rp_jstr(job, "dtype"), jn, sizeof jn);
            if (!strcmp(jn, norm)) return job;
        }
    }
    return NULL;
}

/* Distinct (N,K) pairs of a series. */
static int nk_pairs(const rp_kseries *s) {
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        int seen = 0;
        for (int k = 0; k < i && !seen; k++) seen = s->rows[k].N == s->rows[i].N && s->rows[k].K == s->rows[i].K;
        n += !seen;
    }
    return n;
}

/* Sum of a series' latencies at M, and how many rows it summed. */
static double lat_sum(const rp_kseries *s, int64_t M, int *rows) {
    double sum = 0;
    *rows = 0;
    for (int i = 0; s && i < s->n; i++)
        if (s->rows[i].M == M) {
            sum += s->rows[i].lat_us;
            (*rows)++;
        }
    return sum;
}

typedef struct kernel_plan {
    char dtypes[8][16]; /* as jobs name them (FP8E4M3) or folders (FP8) */
    int ndt;
    char sp7[8][16], sp8[8][16];
    int n7, n8;
    int64_t M[RP_MAX_M];
    int nM;
    int nk;             /* (N,K) pairs per M */
} kernel_plan;

static void add_str(char (*v)[16], int *n, int max, const char *s) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(v[i], s)) return;
    if (*n < max) snprintf(v[(*n)++], 16, "%s", s);
}

static void build_kernel_plan(const rctx *c, kernel_plan *kp) {
    memset(kp, 0, sizeof *kp);
    if (c->state) {
        size_t ti, ji;
        json_t *task, *job;
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                if (strcmp(rp_jstr(job, "kind"), "kernel")) continue;
                int t = (int)json_integer_value(json_object_get(job, "task"));
                add_str(kp->dtypes, &kp->ndt, 8, rp_jstr(job, "dtype"));
                if (t == 7) add_str(kp->sp7, &kp->n7, 8, rp_jstr(job, "sparsity"));
                if (t == 8) add_str(kp->sp8, &kp->n8, 8, rp_jstr(job, "sparsity"));
            }
        }
        for (int i = 0; i < c->n_kernel; i++) add_m(kp->M, &kp->nM, c->m_kernel[i]);
    } else {
        for (size_t o = 0; o < sizeof k_kernel_order / sizeof k_kernel_order[0]; o++)
            for (int i = 0; i < c->d.nks; i++)
                if (!strcmp(c->d.ks[i].dtype, k_kernel_order[o])) add_str(kp->dtypes, &kp->ndt, 8, k_kernel_order[o]);
        char sps[16][16];
        int nsp = 0;
        for (int i = 0; i < c->d.nks; i++) {
            if (c->d.ks[i].sparsity[0]) add_str(sps, &nsp, 16, c->d.ks[i].sparsity);
            for (int r = 0; r < c->d.ks[i].n; r++) add_m(kp->M, &kp->nM, c->d.ks[i].rows[r].M);
        }
        qsort(sps, (size_t)nsp, sizeof sps[0], cmp_row);
        for (int i = 0; i < nsp; i++) {
            if (rp_sparsity_order(sps[i]) <= 10) add_str(kp->sp7, &kp->n7, 8, sps[i]);
            else add_str(kp->sp8, &kp->n8, 8, sps[i]);
        }
        qsort(kp->M, (size_t)kp->nM, sizeof kp->M[0], cmp_i64);
    }
    kp->nk = 0;
    for (int i = 0; i < c->d.nks; i++) {
        int k = nk_pairs(&c->d.ks[i]);
        if (k > kp->nk) kp->nk = k;
    }
    if (kp->nk == 0) kp->nk = 4; /* a model's q/k/v, o, gate/up, down */
}

static int kernel_points(const rp_kseries *s, const kernel_plan *kp) {
    int n = 0;
    for (int i = 0; s && i < s->n; i++)
        for (int m = 0; m < kp->nM; m++) n += s->rows[i].M == kp->M[m];
    return n;
}

/* "✅ 36/36", "⏭️ skipped", ... for one (lib, dtype, sparsity). */
static void kernel_cell(const rctx *c, const kernel_plan *kp, const char *lib, const char *dtype, const char *sp,
                        char *out, size_t cap, int *have, int *expected) {
    const rp_kseries *s = find_kseries(c, lib, dtype, sp);
    json_t *job = kernel_job(c, lib, dtype, sp);
    int pts = kernel_points(s, kp), exp = kp->nM * kp->nk;
    *have += pts;
    *expected += exp;
    if (s && pts > 0) snprintf(out, cap, "%s %d/%d", pts == exp ? "✅" : "⚠️", pts, exp);
    else if (job) snprintf(out, cap, "%s %s", rp_job_icon(rp_jstr(job, "status")), rp_jstr(job, "status"));
    else snprintf(out, cap, "—");
}

static void kernel_grid(rctx *c, const kernel_plan *kp, const char (*sps)[16], int nsp, const char *title, int task) {
    FILE *fp = c->md;
    int have = 0, expected = 0;
    char cells[8][8][64];
    for (int d = 0; d < kp->ndt; d++)
        for (int s = 0; s < nsp; s++)
            kernel_cell(c, kp, "cuSPARSELt", kp->dtypes[d], sps[s], cells[d][s], sizeof cells[d][s], &have, &expected);
    fprintf(fp, "### %s (Task %d) %s\n\n| dtype |", title, task, nsp && kp->ndt ? grid_icon(have, expected) : "⬜");
    for (int s = 0; s < nsp; s++) fprintf(fp, " %s |", sps[s]);
    fprintf(fp, "\n|-------|");
    for (int s = 0; s < nsp; s++) fprintf(fp, "-----|");
    fprintf(fp, "\n");
    for (int d = 0; d < kp->ndt; d++) {
        fprintf(fp, "| %s |", kp->dtypes[d]);
        for (int s = 0; s < nsp; s++) fprintf(fp, " %s |", cells[d][s]);
        fprintf(fp, "\n");
    }
    fprintf(fp, "\n");
}

static void kernel_numbers(rctx *c, const kernel_plan *kp, json_t *jk) {
    FILE *fp = c->md;
    char sps[16][16];
    int nsp = 0;
    for (int i = 0; i < kp->n7; i++) add_str(sps, &nsp, 16, kp->sp7[i]);
    for (int i = 0; i < kp->n8; i++) add_str(sps, &nsp, 16, kp->sp8[i]);
    int any = 0;
    for (int d = 0; d < kp->ndt; d++) {
        const rp_kseries *dense = find_kseries(c, "cuBLASLt", kp->dtypes[d], "");
        const rp_kseries *sp[16];
        int nsp_have = 0;
        for (int s = 0; s < nsp; s++) {
            sp[s] = find_kseries(c, "cuSPARSELt", kp->dtypes[d], sps[s]);
            nsp_have += sp[s] != NULL;
        }
        if (!dense && !nsp_have) continue;
        if (!any) {
            fprintf(fp, "Latency in µs of the best algorithm, summed over the model's (N,K) pairs; in parentheses the "
                        "speedup over cuBLASLt of the same dtype (the sparse GEMM runs on the slid K).\n\n");
            any = 1;
        }
        json_t *jd = json_pack("{s:s, s:o}", "dtype", kp->dtypes[d], "points", json_array());
        fprintf(fp, "**%s**\n\n| M | cuBLASLt |", kp->dtypes[d]);
        for (int s = 0; s < nsp; s++) fprintf(fp, " %s |", sps[s]);
        fprintf(fp, "\n|---|---|");
        for (int s = 0; s < nsp; s++) fprintf(fp, "---|");
        fprintf(fp, "\n");
        ss_chart_series cs[16];
        int64_t xs[16][RP_MAX_M];
        double ys[16][RP_MAX_M];
        int cnt[16] = {0};
        for (int m = 0; m < kp->nM; m++) {
            int dr;
            double dl = lat_sum(dense, kp->M[m], &dr);
            char v[48] = "—";
            if (dr) snprintf(v, sizeof v, "%.1f", dl);
            fprintf(fp, "| %lld | %s |", (long long)kp->M[m], v);
            json_t *jp = json_pack("{s:I}", "M", (json_int_t)kp->M[m]);
            if (dr) json_object_set_new(jp, "cublaslt_us", json_real(dl));
            for (int s = 0; s < nsp; s++) {
                int sr;
                double sl = lat_sum(sp[s], kp->M[m], &sr);
                if (!sr) {
                    fprintf(fp, " — |");
                    continue;
                }
                json_t *js = json_pack("{s:f}", "lat_us", sl);
                if (dr == sr && sl > 0) {
                    fprintf(fp, " %.1f (%.2f) |", sl, dl / sl);
                    json_object_set_new(js, "speedup", json_real(dl / sl));
                    xs[s][cnt[s]] = kp->M[m];
                    ys[s][cnt[s]++] = dl / sl;
                } else {
                    fprintf(fp, " %.1f |", sl);
                }
                json_object_set_new(jp, sps[s], js);
            }
            fprintf(fp, "\n");
            json_array_append_new(json_object_get(jd, "points"), jp);
        }
        fprintf(fp, "| **ideal** | |");
        for (int s = 0; s < nsp; s++) fprintf(fp, " %.2f |", ss_ideal_speedup(sps[s]));
        fprintf(fp, "\n\n");
        json_array_append_new(jk, jd);
        int ncs = 0;
        for (int s = 0; s < nsp; s++)
            if (cnt[s]) cs[ncs++] = (ss_chart_series){.label = sps[s], .x = xs[s], .y = ys[s], .n = cnt[s],
                                                      .ideal = ss_ideal_speedup(sps[s])};
        char name[128], title[256];
        snprintf(name, sizeof name, "kernel_%s_speedup", kp->dtypes[d]);
        snprintf(title, sizeof title, "GEMM %s: cuSPARSELt on slid weights over cuBLASLt (summed over (N,K))",
                 kp->dtypes[d]);
        draw_chart(c, name, title, "speedup over cuBLASLt", cs, ncs);
        /* headline: the largest M with a dense sum */
        for (int m = kp->nM - 1; m >= 0; m--) {
            int dr;
            double dl = lat_sum(dense, kp->M[m], &dr);
            if (!dr) continue;
            char line[512];
            int k = snprintf(line, sizeof line, "Kernel %s at M=%lld: cuSPARSELt/cuBLASLt", kp->dtypes[d],
                             (long long)kp->M[m]);
            int n = 0;
            for (int s = 0; s < nsp && k < (int)sizeof line; s++) {
                int sr;
                double sl = lat_sum(sp[s], kp->M[m], &sr);
                if (sr != dr || sl <= 0) continue;
                k += snprintf(line + k, sizeof line - (size_t)k, "%s %s %.2f (ideal %.2f)", n ? "," : "", sps[s],
                              dl / sl, ss_ideal_speedup(sps[s]));
                n++;
            }
            if (n) json_array_append_new(c->findings, json_string(line));
            break;
        }
    }
    if (!any) fprintf(fp, "No kernel latencies to compare.\n\n");
}

ss_status rp_section_kernels(rctx *c, int number) {
    FILE *fp = c->md;
    kernel_plan kp;
    build_kernel_plan(c, &kp);
    json_t *jk = json_array();
    json_object_set_new(c->js, "kernels", jk);
    fprintf(fp, "## %d. Kernel Benchmark (Task 6-8)\n\n", number);
    if (kp.ndt == 0) {
        fprintf(fp, "No kernel results and no kernel jobs.\n\n");
        return SS_OK;
    }
    /* 5.1 cuBLASLt */
    int have = 0, expected = 0;
    char cells[8][64];
    for (int d = 0; d < kp.ndt; d++) kernel_cell(c, &kp, "cuBLASLt", kp.dtypes[d], "", cells[d], sizeof cells[d], &have, &expected);
    fprintf(fp, "### %d.1 cuBLASLt Kernel (Task 6) %s\n\n**Configuration**:\n- M list: ", number, grid_icon(have, expected));
    for (int m = 0; m < kp.nM; m++) fprintf(fp, "%s%lld", m ? ", " : "", (long long)kp.M[m]);
    fprintf(fp, "\n- (N,K) pairs per M: %d (the model's linear layers)\n- dtype: ", kp.nk);
    for (int d = 0; d < kp.ndt; d++) fprintf(fp, "%s%s", d ? ", " : "", kp.dtypes[d]);
    fprintf(fp, "\n\n| dtype | Status | Note |\n|-------|--------|------|\n");
    for (int d = 0; d < kp.ndt; d++) {
        json_t *job = kernel_job(c, "cuBLASLt", kp.dtypes[d], "");
        const rp_kseries *s = find_kseries(c, "cuBLASLt", kp.dtypes[d], "");
        int pts = kernel_points(s, &kp), exp = kp.nM * kp.nk;
        const char *st = job ? rp_jstr(job, "status") : s ? "success" : "pending";
        fprintf(fp, "| %s | %s %s | ", kp.dtypes[d], rp_job_icon(st), st);
        if (pts) fprintf(fp, "%d/%d (M, N, K) points", pts, exp);
        else if (job && rp_jstr(job, "error")[0]) rp_md_cell(fp, rp_jstr(job, "error"), 160);
        else if (job && rp_jstr(job, "reason")[0]) rp_md_cell(fp, rp_jstr(job, "reason"), 160);
        else fprintf(fp, "no results");
        fprintf(fp, " |\n");
    }
    fprintf(fp, "\n");
    char t7[64], t8[64];
    snprintf(t7, sizeof t7, "%d.2 cuSPARSELt high sparsity", number);
    snprintf(t8, sizeof t8, "%d.3 cuSPARSELt low sparsity", number);
    kernel_grid(c, &kp, (const char(*)[16])kp.sp7, kp.n7, t7, 7);
    kernel_grid(c, &kp, (const char(*)[16])kp.sp8, kp.n8, t8, 8);
    fprintf(fp, "### %d.4 GEMM latency and speedup\n\n", number);
    kernel_numbers(c, &kp, jk);

    /* completeness: one category per (lib, dtype) */
    for (int lib = 0; lib < 2; lib++) {
        const char *L = lib ? "cuSPARSELt" : "cuBLASLt";
        for (int d = 0; d < kp.ndt; d++) {
            rp_category *cat = rp_add_category(c);
            if (!cat) break;
            snprintf(cat->name, sizeof cat->name, "Kernel %s %s", L, kp.dtypes[d]);
            snprintf(cat->model, sizeof cat->model, "%s", c->base[0] ? c->base : "—");
            rp_m_range(kp.M, kp.nM, cat->m_range, sizeof cat->m_range);
            size_t k = 0;
            int ns = lib ? kp.n7 + kp.n8 : 1;
            for (int s = 0; s < ns; s++) {
                const char *sp = !lib ? "" : s < kp.n7 ? kp.sp7[s] : kp.sp8[s - kp.n7];
                int pts = kernel_points(find_kseries(c, L, kp.dtypes[d], sp), &kp), exp = kp.nM * kp.nk;
                cat->have += pts;
                cat->expected += exp;
                if (pts < exp && k < sizeof cat->missing)
                    k += (size_t)snprintf(cat->missing + k, sizeof cat->missing - k, "%s%s%s%d of %d", k ? ", " : "",
                                          sp, sp[0] ? ": " : "", exp - pts, exp);
            }
            rp_job_reasons(c, "kernel", kp.dtypes[d], L, cat->reason, sizeof cat->reason);
        }
    }
    return SS_OK;
}
