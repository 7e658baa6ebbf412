/* The final report (see report.h): the run's status tables from the state
 * file, the benchmark sections from the result tree (report_bench.c), the
 * error summary, the result layout, data completeness and the conclusion. */
#include "pipeline/report.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "gemm/arch.h"
#include "gemm/lib_version.h"
#include "pipeline/charts.h"
#include "pipeline/pipeline.h"
#include "pipeline/report_internal.h"

void ss_report_defaults(ss_report_opts *o) {
    memset(o, 0, sizeof *o);
    o->charts = 1;
}

double ss_ideal_speedup(const char *sparsity) {
    if (!sparsity || strncmp(sparsity, "2_", 2) != 0) return 1.0;
    if (!strcmp(sparsity + 2, "inf")) return 1.0;
    long L = strtol(sparsity + 2, NULL, 10); /* saturates, unlike atoi: names come from folders */
    return L > 2 ? (double)L / (double)(L - 2) : 1.0;
}

/* ---------------------------------------------------------------- helpers */

const char *rp_jstr(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

json_t *rp_find_job(const rctx *c, const char *key) {
    if (!c->state) return NULL;
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (!strcmp(rp_jstr(job, "key"), key)) return job;
        }
    }
    return NULL;
}

const char *rp_job_icon(const char *status) {
    if (!strcmp(status, "success")) return "✅";
    if (!strcmp(status, "failed")) return "❌";
    if (!strcmp(status, "skipped")) return "⏭️";
    if (!strcmp(status, "running")) return "🔄";
    return "⬜";
}

void rp_md_cell(FILE *fp, const char *s, size_t max) {
    size_t n = 0;
    for (; *s && n < max; s++, n++) {
        if (*s == '|') fputs("\\|", fp);
        else if (*s == '\n' || *s == '\r') fputc(' ', fp);
        else fputc(*s, fp);
    }
    if (*s) fputs("…", fp);
}

void rp_fmt_rate(double v, char *out, size_t cap) {
    if (v >= 1000) snprintf(out, cap, "%.0f", v);
    else if (v >= 10) snprintf(out, cap, "%.1f", v);
    else snprintf(out, cap, "%.2f", v);
}

void rp_m_range(const int64_t *m, int n, char *out, size_t cap) {
    if (n == 0) snprintf(out, cap, "—");
    else if (n == 1) snprintf(out, cap, "%lld", (long long)m[0]);
    else snprintf(out, cap, "%lld~%lld", (long long)m[0], (long long)m[n - 1]);
}

rp_category *rp_add_category(rctx *c) {
    if (c->ncats >= (int)(sizeof c->cats / sizeof c->cats[0])) return NULL;
    rp_category *cat = &c->cats[c->ncats++];
    memset(cat, 0, sizeof *cat);
    return cat;
}

/* Appends s to out (a "; "-separated list) unless already there. */
static void add_reason(char *out, size_t cap, const char *s) {
    if (!s[0] || strstr(out, s)) return;
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s", n ? "; " : "", s);
}

void rp_job_reasons(const rctx *c, const char *kind, const char *dtype, const char *lib, char *out, size_t cap) {
    out[0] = '\0';
    if (!c->state) return;
    char want[32], have[32];
    if (dtype) rp_kernel_dtype_norm(dtype, want, sizeof want);
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (strcmp(rp_jstr(job, "kind"), kind)) continue;
            if (lib && strcmp(rp_jstr(job, "lib"), lib)) continue;
            rp_kernel_dtype_norm(rp_jstr(job, "dtype"), have, sizeof have);
            if (dtype && strcmp(have, want)) continue;
            const char *st = rp_jstr(job, "status");
            if (!strcmp(st, "skipped")) add_reason(out, cap, rp_jstr(job, "reason"));
            else if (!strcmp(st, "failed")) add_reason(out, cap, rp_jstr(job, "error"));
            else if (!strcmp(st, "pending")) add_reason(out, cap, "not run yet");
        }
    }
}

static void fmt_task_time(double s, char *out, size_t cap) {
    if (s < 60) snprintf(out, cap, "%.1fs", s);
    else if (s < 3600) snprintf(out, cap, "%.1fs (%.1f min)", s, s / 60);
    else snprintf(out, cap, "%.1fs (%.2f h)", s, s / 3600);
}

static int job_count(const json_t *task, const char *status) {
    int n = 0;
    size_t i;
    json_t *job;
    json_array_foreach(json_object_get(task, "jobs"), i, job) n += !strcmp(rp_jstr(job, "status"), status);
    return n;
}

static void task_label(const json_t *task, char *out, size_t cap) {
    const char *st = rp_jstr(task, "status");
    if (!strcmp(st, "success")) snprintf(out, cap, "✅ success%s", job_count(task, "skipped") ? "*" : "");
    else if (!strcmp(st, "partial")) snprintf(out, cap, "⚠️ partial");
    else if (!strcmp(st, "failed")) snprintf(out, cap, "❌ failed");
    else if (!strcmp(st, "skipped")) snprintf(out, cap, "⏭️ skipped");
    else if (!strcmp(st, "incomplete")) snprintf(out, cap, "⚠️ incomplete");
    else if (!strcmp(st, "running")) snprintf(out, cap, "🔄 running or interrupted");
    else snprintf(out, cap, "⬜ not run");
}

static const json_t *state_task(const rctx *c, int id) {
    return c->state ? json_array_get(json_object_get(c->state, "tasks"), (size_t)id - 1) : NULL;
}

static const char *task_icon(const rctx *c, int id) {
    const char *st = rp_jstr(state_task(c, id), "status");
    if (!strcmp(st, "success")) return "✅";
    if (!strcmp(st, "partial") || !strcmp(st, "incomplete")) return "⚠️";
    if (!strcmp(st, "failed")) return "❌";
    if (!strcmp(st, "skipped")) return "⏭️";
    return "⬜";
}

static const char *last_component(const char *path) {
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : path;
}

/* ---------------------------------------------------------------- sections */

static void section_summary(rctx *c) {
    FILE *fp = c->md;
    fprintf(fp, "## 📊 Summary\n\n### Overall\n\n| Task | Name | Status | Time |\n|------|------|--------|------|\n");
    int ok = 0, failed = 0, skipped = 0, notrun = 0, star = 0;
    json_t *jt = json_array();
    for (int t = 1; t <= SS_N_TASKS; t++) {
        const json_t *task = state_task(c, t);
        char label[64], time[64];
        task_label(task, label, sizeof label);
        double dur = json_number_value(json_object_get(task, "duration_s"));
        const char *st = rp_jstr(task, "status");
        if (!strcmp(st, "success")) ok++;
        else if (!strcmp(st, "failed") || !strcmp(st, "partial")) failed++;
        else if (!strcmp(st, "skipped")) skipped++;
        else notrun++;
        star |= strchr(label, '*') != NULL;
        if (!strcmp(st, "pending") || !st[0]) snprintf(time, sizeof time, "—");
        else fmt_task_time(dur, time, sizeof time);
        fprintf(fp, "| Task %d | %s | %s | %s |\n", t, ss_task_name(t), label, time);
        json_array_append_new(jt, json_pack("{s:i, s:s, s:s, s:f, s:i, s:i, s:i}", "id", t, "name", ss_task_name(t),
                                            "status", st[0] ? st : "pending", "duration_s", dur, "jobs_success",
                                            job_count(task, "success"), "jobs_failed", job_count(task, "failed"),
                                            "jobs_skipped", job_count(task, "skipped")));
    }
    json_object_set_new(c->js, "tasks", jt);
    fprintf(fp, "\n**Total**: %d success, %d failed, %d skipped", ok, failed, skipped);
    if (notrun) fprintf(fp, ", %d not run", notrun);
    fprintf(fp, "\n\n");
    if (star) fprintf(fp, "\\* some jobs of the task were skipped (see the error summary)\n\n");
    fprintf(fp, "---\n\n");
}

static void base_status(const json_t *job, char *out, size_t cap) {
    const char *st = rp_jstr(job, "status"), *cmd = rp_jstr(job, "command");
    if (!strcmp(st, "success")) {
        const char *how = json_is_true(json_object_get(job, "synthetic")) ? "synthesised"
                          : strstr(cmd, " download ")                    ? "downloaded"
                          : strstr(cmd, " quantize ")                    ? "quantized"
                                                                         : "ready";
        snprintf(out, cap, "✅ %s", how);
    } else {
        snprintf(out, cap, "%s %s", rp_job_icon(st), st[0] ? st : "pending");
    }
}

static void job_note(FILE *fp, const json_t *job, const char *fallback) {
    const char *st = rp_jstr(job, "status");
    if (!strcmp(st, "failed")) rp_md_cell(fp, rp_jstr(job, "error"), 200);
    else if (!strcmp(st, "skipped")) rp_md_cell(fp, rp_jstr(job, "reason"), 200);
    else if (rp_jstr(job, "note")[0]) rp_md_cell(fp, rp_jstr(job, "note"), 200);
    else fputs(fallback, fp);
}

static void section_models(rctx *c) {
    FILE *fp = c->md;
    json_t *base = rp_find_job(c, "base"), *q8 = rp_find_job(c, "quantize-int8"), *qf = rp_find_job(c, "quantize-fp8");
    const json_t *rows[3] = {base, q8, qf};
    int ok = 0;
    for (int i = 0; i < 3; i++) ok += rows[i] && !strcmp(rp_jstr(rows[i], "status"), "success");
    fprintf(fp, "## 1. Model preparation (Task 1-2)\n\n### 1.1 Base models %s (%d/3)\n\n", ok == 3 ? "✅" : ok ? "⚠️" : "❌", ok);
    fprintf(fp, "| Model | Status | Note |\n|------|------|------|\n");
    json_t *jm = json_array();
    rp_category *cat = rp_add_category(c);
    if (cat) {
        snprintf(cat->name, sizeof cat->name, "Models");
        snprintf(cat->m_range, sizeof cat->m_range, "—");
        snprintf(cat->model, sizeof cat->model, "%s", c->base);
    }
    char src[600];
    snprintf(src, sizeof src, "source: %s", rp_jstr(c->state, "model_source"));
    const char *notes[3] = {src, "INT8 weights (the architecture's default scheme), per-token dynamic INT8 activations",
                            "FP8 E4M3 weights, per-token dynamic FP8 activations"};
    for (int i = 0; i < 3; i++) {
        if (!rows[i]) continue;
        char st[64];
        base_status(rows[i], st, sizeof st);
        fprintf(fp, "| %s | %s | ", last_component(rp_jstr(rows[i], "model")), st);
        job_note(fp, rows[i], notes[i]);
        fprintf(fp, " |\n");
        json_array_append_new(jm, json_pack("{s:s, s:s}", "model", last_component(rp_jstr(rows[i], "model")), "status",
                                            rp_jstr(rows[i], "status")));
        if (cat) {
            cat->expected++;
            if (!strcmp(rp_jstr(rows[i], "status"), "success")) cat->have++;
            else add_reason(cat->reason, sizeof cat->reason, rp_jstr(rows[i], "error")[0] ? rp_jstr(rows[i], "error") : rp_jstr(rows[i], "reason"));
        }
    }
    /* conversion grid */
    const char *sps[] = {"2_4", "2_6", "2_8", "2_10"};
    int conv_ok = 0, conv_n = 0;
    char cells[2][4][16];
    for (int d = 0; d < 2; d++)
        for (int s = 0; s < 4; s++) {
            char key[64];
            snprintf(key, sizeof key, "convert-%s-%s", d ? "fp8" : "int8", sps[s]);
            json_t *j = rp_find_job(c, key);
            snprintf(cells[d][s], sizeof cells[d][s], "%s", j ? rp_job_icon(rp_jstr(j, "status")) : "—");
            if (!j) continue;
            conv_n++;
            int good = !strcmp(rp_jstr(j, "status"), "success");
            conv_ok += good;
            json_array_append_new(jm, json_pack("{s:s, s:s}", "model", last_component(rp_jstr(j, "model")), "status",
                                                rp_jstr(j, "status")));
            if (cat) {
                cat->expected++;
                cat->have += good;
                if (!good) {
                    size_t n = strlen(cat->missing);
                    snprintf(cat->missing + n, sizeof cat->missing - n, "%s%s", n ? ", " : "", last_component(rp_jstr(j, "model")));
                    add_reason(cat->reason, sizeof cat->reason, rp_jstr(j, "error")[0] ? rp_jstr(j, "error") : rp_jstr(j, "reason"));
                }
            }
        }
    json_object_set_new(c->js, "models", jm);
    fprintf(fp, "\n### 1.2 SlideSparse conversion %s (%d/%d)\n\n", conv_ok == conv_n && conv_n ? "✅" : conv_ok ? "⚠️" : "❌",
            conv_ok, conv_n);
    fprintf(fp, "| Base model | 2_4 | 2_6 | 2_8 | 2_10 |\n|----------|-----|-----|-----|------|\n");
    for (int d = 0; d < 2; d++)
        fprintf(fp, "| %s-%s | %s | %s | %s | %s |\n", c->base, d ? "FP8" : "INT8", cells[d][0], cells[d][1], cells[d][2],
                cells[d][3]);
    fprintf(fp, "\n---\n\n");
}

static int list_names(const char *dir, char ***names, int **is_dir);
static void free_names(char **names, int *is_dir, int n);

/* The tables task 3 wrote (<results>/tuning/<HW>_<toolchain>/<model>.json): entries per library. */
static void tuning_tables(rctx *c) {
    FILE *fp = c->md;
    json_t *jt = json_array();
    json_object_set_new(c->js, "tuning_tables", jt);
    char root[4400];
    snprintf(root, sizeof root, "%s/tuning", c->results);
    char **hws, **files;
    int *hd, *fd;
    int nh = list_names(root, &hws, &hd), shown = 0;
    for (int h = 0; h < nh; h++) {
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", root, hws[h]);
        int nf = hd[h] ? list_names(dir, &files, &fd) : 0;
        for (int f = 0; f < nf; f++) {
            char path[4800];
            snprintf(path, sizeof path, "%s/%s", dir, files[f]);
            json_t *t = NULL;
            if (fd[f] || strlen(files[f]) < 6 || strcmp(files[f] + strlen(files[f]) - 5, ".json") ||
                ss_json_load(path, &t) != SS_OK) {
                ss_clear_error();
                continue;
            }
            int dense = 0, sparse = 0;
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(t, "entries"), i, e) {
                dense += !strcmp(rp_jstr(e, "backend"), "cublaslt");
                sparse += !strcmp(rp_jstr(e, "backend"), "cusparselt");
            }
            if (!shown++)
                fprintf(fp, "Tables written (looked up by the kernel benchmarks at run time):\n\n"
                            "| Table | Model | cuBLASLt entries | cuSPARSELt entries |\n|-------|-------|------|------|\n");
            fprintf(fp, "| `tuning/%s/%s` | %s | %d | %d |\n", hws[h], files[f], rp_jstr(t, "model"), dense, sparse);
            json_array_append_new(jt, json_pack("{s:s, s:s, s:i, s:i}", "table", path + strlen(c->results) + 1, "model",
                                                rp_jstr(t, "model"), "cublaslt_entries", dense, "cusparselt_entries",
                                                sparse));
            json_decref(t);
        }
        if (hd[h]) free_names(files, fd, nf);
    }
    free_names(hws, hd, nh);
    if (shown) fprintf(fp, "\n");
}

static void section_tuning(rctx *c) {
    FILE *fp = c->md;
    fprintf(fp, "## 2. Offline tuning (Task 3) %s\n\n", task_icon(c, 3));
    fprintf(fp, "Each job searches, for one model's (N,K) pairs and M buckets, the fastest cuBLASLt algorithm (dense, "
                "the reference's coarse pass) and the fastest cuSPARSELt algorithm and split-K on the slid shapes of "
                "2_4..2_10 (its fine pass).\n\n");
    fprintf(fp, "| Job | Model | Status |\n|-----|-------|--------|\n");
    const json_t *task = state_task(c, 3);
    size_t i;
    json_t *job;
    rp_category *cat = rp_add_category(c);
    if (cat) {
        snprintf(cat->name, sizeof cat->name, "Tuning tables");
        snprintf(cat->model, sizeof cat->model, "%s", c->base);
        snprintf(cat->m_range, sizeof cat->m_range, "—");
    }
    json_array_foreach(json_object_get(task, "jobs"), i, job) {
        const char *st = rp_jstr(job, "status");
        fprintf(fp, "| %s | %s | %s %s", rp_jstr(job, "title"), last_component(rp_jstr(job, "model")), rp_job_icon(st),
                st);
        if (!strcmp(st, "failed") || !strcmp(st, "skipped")) {
            fputs(": ", fp);
            job_note(fp, job, "");
        }
        fprintf(fp, " |\n");
        if (cat) {
            cat->expected++;
            cat->have += !strcmp(st, "success");
            if (strcmp(st, "success")) {
                size_t n = strlen(cat->missing);
                snprintf(cat->missing + n, sizeof cat->missing - n, "%s%s", n ? ", " : "", rp_jstr(job, "dtype"));
                add_reason(cat->reason, sizeof cat->reason, rp_jstr(job, "error")[0] ? rp_jstr(job, "error") : rp_jstr(job, "reason"));
            }
        }
    }
    fprintf(fp, "\n");
    tuning_tables(c);
    fprintf(fp, "---\n\n");
}

/* Jobs skipped because they need `key`'s output. */
static int dependents(const rctx *c, const char *key) {
    int n = 0;
    size_t ti, ji, di;
    json_t *task, *job, *dep;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            if (strcmp(rp_jstr(job, "status"), "skipped")) continue;
            json_array_foreach(json_object_get(job, "deps"), di, dep) n += !strcmp(json_string_value(dep), key);
        }
    }
    return n;
}

static void error_type(const json_t *job, char *out, size_t cap) {
    const char *err = rp_jstr(job, "error");
    int sig = (int)json_integer_value(json_object_get(job, "signal"));
    if (!strncmp(err, "interrupted", 11)) snprintf(out, cap, "interrupted");
    else if (strstr(err, "timed out")) snprintf(out, cap, "timeout");
    else if (sig) snprintf(out, cap, "signal %d", sig);
    else if (!strncmp(err, "exited 0 but", 12)) snprintf(out, cap, "incomplete output");
    else snprintf(out, cap, "exit %lld", (long long)json_integer_value(json_object_get(job, "exit_code")));
}

static void section_errors(rctx *c, int number) {
    FILE *fp = c->md;
    fprintf(fp, "## %d. Error summary\n\n", number);
    json_t *jf = json_array(), *js = json_array();
    json_object_set_new(c->js, "failed_jobs", jf);
    json_object_set_new(c->js, "skipped_jobs", js);
    size_t ti, ji;
    json_t *task, *job;
    int nfail = 0;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) nfail += !strcmp(rp_jstr(job, "status"), "failed");
    }
    if (!c->state) fprintf(fp, "No pipeline state: job errors are unknown.\n\n");
    else if (nfail == 0) fprintf(fp, "### ✅ No failed jobs\n\n");
    else {
        fprintf(fp, "### ❌ Failed jobs (%d)\n\n| Task | Job | dtype | Error type | Impact |\n"
                    "|------|-----|-------|------------|--------|\n", nfail);
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                if (strcmp(rp_jstr(job, "status"), "failed")) continue;
                char type[64];
                error_type(job, type, sizeof type);
                int dep = dependents(c, rp_jstr(job, "key"));
                fprintf(fp, "| Task %lld | %s | %s | %s | ", (long long)json_integer_value(json_object_get(job, "task")),
                        rp_jstr(job, "title"), rp_jstr(job, "dtype")[0] ? rp_jstr(job, "dtype") : "—", type);
                if (dep) fprintf(fp, "its results are missing; %d dependent job%s skipped", dep, dep > 1 ? "s" : "");
                else fprintf(fp, "its results are missing");
                fprintf(fp, " |\n");
                json_array_append_new(jf, json_pack("{s:s, s:I, s:s, s:s, s:s}", "key", rp_jstr(job, "key"), "task",
                                                    json_integer_value(json_object_get(job, "task")), "error_type", type,
                                                    "error", rp_jstr(job, "error"), "command", rp_jstr(job, "command")));
            }
        }
        fprintf(fp, "\n**Details**:\n\n");
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                if (strcmp(rp_jstr(job, "status"), "failed")) continue;
                fprintf(fp, "- **%s** (`%s`)\n\n```\n$ %s\nerror: %s\n```\n\n", rp_jstr(job, "title"), rp_jstr(job, "key"),
                        rp_jstr(job, "command"), rp_jstr(job, "error"));
            }
        }
    }
    /* skipped, grouped by task and reason */
    int nskip = 0;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) nskip += !strcmp(rp_jstr(job, "status"), "skipped");
    }
    if (nskip) {
        fprintf(fp, "### ⏭️ Skipped jobs (%d)\n\n| Task | Jobs | Reason |\n|------|------|--------|\n", nskip);
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            /* distinct reasons in this task, in order of first appearance */
            size_t n = json_array_size(json_object_get(task, "jobs"));
            for (size_t a = 0; a < n; a++) {
                json_t *ja = json_array_get(json_object_get(task, "jobs"), a);
                if (strcmp(rp_jstr(ja, "status"), "skipped")) continue;
                int first = 1, count = 0;
                for (size_t b = 0; b < n; b++) {
                    json_t *jb = json_array_get(json_object_get(task, "jobs"), b);
                    if (strcmp(rp_jstr(jb, "status"), "skipped") || strcmp(rp_jstr(jb, "reason"), rp_jstr(ja, "reason")))
                        continue;
                    if (b < a) first = 0;
                    count++;
                }
                if (!first) continue;
                fprintf(fp, "| Task %lld | %d | ", (long long)json_integer_value(json_object_get(task, "id")), count);
                rp_md_cell(fp, rp_jstr(ja, "reason"), 300);
                fprintf(fp, " |\n");
                json_array_append_new(js, json_pack("{s:I, s:i, s:s}", "task", json_integer_value(json_object_get(task, "id")),
                                                    "jobs", count, "reason", rp_jstr(ja, "reason")));
            }
        }
        fprintf(fp, "\n");
    }
    fprintf(fp, "---\n\n");
}

/* ---- result layout: a tree of the folders, files summarised ---- */

typedef struct tree_out {
    FILE *fp;
    int lines;
} tree_out;

/* natural order, so 2_4 < 2_6 < 2_10 */
static int cmp_name(const void *a, const void *b) { return strverscmp(*(char *const *)a, *(char *const *)b); }

static int list_names(const char *dir, char ***names, int **is_dir) {
    *names = NULL;
    *is_dir = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp.")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = realloc(*names, (size_t)cap * sizeof *v);
            if (!v) break;
            *names = v;
        }
        if (!((*names)[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(*names, (size_t)n, sizeof **names, cmp_name);
    *is_dir = calloc((size_t)(n ? n : 1), sizeof **is_dir);
    for (int i = 0; i < n && *is_dir; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, (*names)[i]);
        (*is_dir)[i] = ss_is_dir(path);
    }
    return *is_dir ? n : 0;
}

static void free_names(char **names, int *is_dir, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(is_dir);
}

static void tree(tree_out *t, const char *dir, const char *prefix, int depth, int checkpoints) {
    char **names;
    int *is_dir;
    int n = list_names(dir, &names, &is_dir);
    int ndirs = 0, nfiles = 0;
    for (int i = 0; i < n; i++) {
        if (is_dir[i]) ndirs++;
        else nfiles++;
    }
    /* files of a folder on one line: a few by name, else counted */
    int shown = 0;
    if (nfiles && !checkpoints) {
        fprintf(t->fp, "%s%s ", prefix, ndirs ? "├──" : "└──");
        if (nfiles <= 4) {
            for (int i = 0; i < n; i++)
                if (!is_dir[i]) fprintf(t->fp, "%s%s", shown++ ? ", " : "", names[i]);
        } else {
            const char *first = NULL, *last = NULL;
            for (int i = 0; i < n; i++)
                if (!is_dir[i]) {
                    if (!first) first = names[i];
                    last = names[i];
                }
            fprintf(t->fp, "%d files: %s … %s", nfiles, first, last);
        }
        fputc('\n', t->fp);
        t->lines++;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!is_dir[i]) continue;
        int last = ++k == ndirs;
        char path[4400], sub[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!strcmp(names[i], "json") || checkpoints) {
            char **nn;
            int *dd;
            int m = list_names(path, &nn, &dd);
            free_names(nn, dd, m);
            fprintf(t->fp, "%s%s %s/ (%d files)\n", prefix, last ? "└──" : "├──", names[i], m);
            t->lines++;
            continue;
        }
        fprintf(t->fp, "%s%s %s/\n", prefix, last ? "└──" : "├──", names[i]);
        t->lines++;
        if (depth >= 8 || t->lines > 400) continue;
        snprintf(sub, sizeof sub, "%s%s", prefix, last ? "    " : "│   ");
        tree(t, path, sub, depth + 1, 0);
    }
    free_names(names, is_dir, n);
}

static void section_layout(rctx *c, int number) {
    FILE *fp = c->md;
    fprintf(fp, "## %d. Result file layout\n\n", number);
    if (!ss_is_dir(c->results)) {
        fprintf(fp, "No result folder.\n\n---\n\n");
        return;
    }
    const char *rel = strcmp(c->results, c->dir) ? "results" : ".";
    fprintf(fp, "```\n%s/\n", rel);
    tree_out t = {.fp = fp};
    tree(&t, c->results, "", 0, 0);
    fprintf(fp, "```\n\n");
    const char *models = rp_jstr(c->state, "models_dir");
    char mdir[4400];
    snprintf(mdir, sizeof mdir, "%s/models", c->dir);
    if (ss_is_dir(mdir)) {
        fprintf(fp, "Checkpoints:\n\n```\nmodels/\n");
        tree(&t, mdir, "", 0, 1);
        fprintf(fp, "```\n\n");
    } else if (models[0]) {
        fprintf(fp, "Checkpoints: `%s`\n\n", models);
    }
    fprintf(fp, "---\n\n");
}

static void section_completeness(rctx *c, int number) {
    FILE *fp = c->md;
    fprintf(fp, "## %d. Data completeness\n\n### ✅ Complete data\n\n", number);
    json_t *jc = json_array();
    json_object_set_new(c->js, "completeness", jc);
    int ncomplete = 0, nmissing = 0;
    for (int i = 0; i < c->ncats; i++) {
        const rp_category *k = &c->cats[i];
        json_array_append_new(jc, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "category", k->name, "model", k->model,
                                            "m_range", k->m_range, "have", k->have, "expected", k->expected, "missing",
                                            k->missing, "reason", k->reason));
        if (k->expected > 0 && k->have == k->expected) ncomplete++;
        else nmissing++;
    }
    if (ncomplete) {
        fprintf(fp, "| Category | Model | M range | Points |\n|----------|-------|---------|--------|\n");
        for (int i = 0; i < c->ncats; i++) {
            const rp_category *k = &c->cats[i];
            if (k->expected > 0 && k->have == k->expected)
                fprintf(fp, "| %s | %s | %s | ✅ %d/%d |\n", k->name, k->model, k->m_range, k->have, k->expected);
        }
    } else {
        fprintf(fp, "None.\n");
    }
    fprintf(fp, "\n### ⚠️ Missing data\n\n");
    if (nmissing) {
        fprintf(fp, "| Category | Have | Missing points | Reason |\n|----------|------|----------------|--------|\n");
        for (int i = 0; i < c->ncats; i++) {
            const rp_category *k = &c->cats[i];
            if (k->expected > 0 && k->have == k->expected) continue;
            fprintf(fp, "| %s | %d/%d | ", k->name, k->have, k->expected);
            rp_md_cell(fp, k->have == 0 || !k->missing[0] ? "all" : k->missing, 300);
            fprintf(fp, " | ");
            rp_md_cell(fp, k->reason[0] ? k->reason : "no job produced it", 400);
            fprintf(fp, " |\n");
        }
    } else {
        fprintf(fp, "Nothing is missing.\n");
    }
    fprintf(fp, "\n---\n\n");
}

/* Sums the categories whose name starts with prefix. */
static void cat_sum(const rctx *c, const char *prefix, int *have, int *expected) {
    *have = *expected = 0;
    for (int i = 0; i < c->ncats; i++)
        if (!strncmp(c->cats[i].name, prefix, strlen(prefix))) {
            *have += c->cats[i].have;
            *expected += c->cats[i].expected;
        }
}

static void section_conclusion(rctx *c, int number) {
    FILE *fp = c->md;
    int failed = 0, skipped = 0, success = 0, pending = 0;
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            const char *st = rp_jstr(job, "status");
            failed += !strcmp(st, "failed");
            skipped += !strcmp(st, "skipped");
            success += !strcmp(st, "success");
            pending += !strcmp(st, "pending") || !strcmp(st, "running");
        }
    }
    const char *name = c->base[0] ? c->base : "SlideSparse";
    fprintf(fp, "## %d. Conclusion\n\n", number);
    if (!c->state) fprintf(fp, "### Results only (no pipeline state)\n\n");
    else if (!failed && !skipped && !pending)
        fprintf(fp, "### ✅ %s benchmark fully successful (%d job%s)\n\n", name, success, success == 1 ? "" : "s");
    else if (!failed && !pending) fprintf(fp, "### ✅ %s benchmark completed; %d jobs skipped (see the error summary)\n\n", name, skipped);
    else if (!failed) fprintf(fp, "### ⚠️ %s benchmark incomplete: %d jobs not run\n\n", name, pending);
    else fprintf(fp, "### ⚠️ %s benchmark completed with %d failed job%s\n\n", name, failed, failed > 1 ? "s" : "");

    int h, e;
    cat_sum(c, "Models", &h, &e);
    fprintf(fp, "1. **Model preparation**: %d/%d models (base, INT8, FP8 and the SlideSparse conversions)\n", h, e);
    cat_sum(c, "Tuning", &h, &e);
    fprintf(fp, "2. **Offline tuning**: %d/%d tuning jobs", h, e);
    if (h < e) {
        json_t *t = rp_find_job(c, "tune-int8");
        if (t && rp_jstr(t, "reason")[0]) fprintf(fp, " (%s)", rp_jstr(t, "reason"));
    }
    fprintf(fp, "\n");
    cat_sum(c, "Prefill", &h, &e);
    fprintf(fp, "3. **Prefill throughput**: %d/%d points\n", h, e);
    cat_sum(c, "Decode", &h, &e);
    fprintf(fp, "4. **Decode throughput**: %d/%d points\n", h, e);
    int h1, e1;
    cat_sum(c, "Kernel cuBLASLt", &h, &e);
    cat_sum(c, "Kernel cuSPARSELt", &h1, &e1);
    fprintf(fp, "5. **Kernel benchmark**: cuBLASLt %d/%d points, cuSPARSELt %d/%d points\n\n", h, e, h1, e1);

    fprintf(fp, "### 🔑 Key findings\n\n");
    if (c->state) {
        if (json_is_true(json_object_get(c->state, "synthetic")))
            fprintf(fp, "- ⚠️ **Synthetic weights**: %s. Throughput does not depend on the weights' values; generated "
                        "text does, and is not meaningful.\n",
                    rp_jstr(c->state, "synthetic_note"));
        else
            fprintf(fp, "- Weights: %s\n", rp_jstr(c->state, "model_source"));
    }
    size_t i;
    json_t *f;
    json_array_foreach(c->findings, i, f) fprintf(fp, "- %s\n", json_string_value(f));
    if (!strcmp(c->backend, "cpu"))
        fprintf(fp, "- Tasks 4-5 ran on the CPU reference engine (no CUDA device): a correctness run of the whole "
                    "flow, not a measure of SlideSparse's speed\n");
    if (failed) {
        fprintf(fp, "- **Rerun needed** for the failed jobs (`slidesparse pipeline --resume` reruns exactly those):");
        int k = 0;
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                if (!strcmp(rp_jstr(job, "status"), "failed")) fprintf(fp, "%s `%s`", k++ ? "," : "", rp_jstr(job, "key"));
            }
        }
        fprintf(fp, "\n");
    } else if (c->state) {
        fprintf(fp, "- **No reruns needed**\n");
    }
    fprintf(fp, "\n---\n\n");
}

/* The title block, written last (it says whether charts were drawn). */
/* The run-time path of each GPU operation on the run's GPU (gemm/arch.h),
 * from the architectures the run's build compiled: what ran through which
 * library or kernel image, and what was skipped there and why. */
typedef struct paths_acc {
    FILE *runs, *skips;
    int n_runs, n_skips;
} paths_acc;

static void path_row(void *user, ss_gpuarch_op op, ss_gemm_dtype d, const ss_gpuarch_choice *ch) {
    paths_acc *a = user;
    char name[64];
    ss_gpuarch_op_name(op, d, name, sizeof name);
    if (ch->runs) fprintf(a->runs, "%s%s: %s", a->n_runs++ ? "; " : "", name, ch->path);
    else fprintf(a->skips, "%s%s (%s)", a->n_skips++ ? "; " : "", name, ch->why);
}

static void header_paths(FILE *fp, const json_t *gpu) {
    const char *archs = rp_jstr(gpu, "cuda_archs");
    const ss_gpuarch_gpu g = {rp_jstr(gpu, "name"), (int)json_integer_value(json_object_get(gpu, "cc_major")),
                              (int)json_integer_value(json_object_get(gpu, "cc_minor")),
                              (int)json_integer_value(json_object_get(gpu, "cusparselt_version"))};
    char *runs = NULL, *skips = NULL;
    size_t rn = 0, sn = 0;
    paths_acc a = {open_memstream(&runs, &rn), open_memstream(&skips, &sn), 0, 0};
    if (a.runs && a.skips) ss_gpuarch_each(&g, archs, path_row, &a);
    if (a.runs) fclose(a.runs);
    if (a.skips) fclose(a.skips);
    fprintf(fp, "**CUDA build**: architectures `%s`  \n", *archs ? archs : "none");
    if (runs && *runs) fprintf(fp, "**Paths on this GPU**: %s  \n", runs);
    if (skips && *skips) fprintf(fp, "**Skipped on this GPU**: %s  \n", skips);
    free(runs);
    free(skips);
}

static void header(rctx *c, FILE *fp, const char *now) {
    const json_t *gpu = json_object_get(c->state, "gpu");
    int has_gpu = json_is_true(json_object_get(gpu, "available"));
    if (!c->state) fprintf(fp, "# SlideSparse Benchmark Report\n\n");
    else if (has_gpu) fprintf(fp, "# %s %s Benchmark Report\n\n", rp_jstr(gpu, "name"), c->base);
    else fprintf(fp, "# %s Benchmark Report (CPU, no CUDA device)\n\n", c->base);
    if (c->state) {
        fprintf(fp, "**Log file**: `pipeline.log`  \n");
        const char *end = rp_jstr(c->state, "finished");
        fprintf(fp, "**Time**: %s ~ %s%s  \n", rp_jstr(c->state, "started"), end[0] ? end : rp_jstr(c->state, "updated"),
                end[0] ? "" : " (not finished)");
        double total = 0;
        for (int t = 1; t <= SS_N_TASKS; t++) total += json_number_value(json_object_get(state_task(c, t), "duration_s"));
        char tt[64];
        ss_format_duration(total, tt, sizeof tt);
        fprintf(fp, "**Total time**: %s (%.0f s, sum of the tasks' times)  \n", tt, total);
        if (has_gpu)
            fprintf(fp, "**GPU**: %s (%.0f GB, cc %lld.%lld)  \n", rp_jstr(gpu, "name"),
                    (double)json_integer_value(json_object_get(gpu, "memory_bytes")) / 1e9,
                    (long long)json_integer_value(json_object_get(gpu, "cc_major")),
                    (long long)json_integer_value(json_object_get(gpu, "cc_minor")));
        else
            fprintf(fp, "**GPU**: none (%s)  \n", rp_jstr(gpu, "reason"));
        fprintf(fp, "**Toolchain**: %s", rp_jstr(gpu, "toolchain"));
        json_int_t rt = json_integer_value(json_object_get(gpu, "runtime_version"));
        json_int_t dv = json_integer_value(json_object_get(gpu, "driver_version"));
        if (rt) fprintf(fp, "; CUDA runtime %lld.%lld", (long long)rt / 1000, (long long)(rt % 1000) / 10);
        if (dv) fprintf(fp, ", driver supports CUDA %lld.%lld", (long long)dv / 1000, (long long)(dv % 1000) / 10);
        json_int_t blt = json_integer_value(json_object_get(gpu, "cublaslt_version"));
        json_int_t slt = json_integer_value(json_object_get(gpu, "cusparselt_version"));
        char ver[32];
        if (blt) fprintf(fp, ", cuBLASLt %s", ss_cublaslt_version_str((size_t)blt, ver, sizeof ver));
        if (slt) fprintf(fp, ", cuSPARSELt %s", ss_cusparselt_version_str((int)slt, ver, sizeof ver));
        fprintf(fp, "  \n");
        if (has_gpu && json_is_string(json_object_get(gpu, "cuda_archs"))) header_paths(fp, gpu);
        fprintf(fp, "**Preset**: `%s`, base model %s from %s  \n", rp_jstr(c->state, "preset"), c->base,
                rp_jstr(c->state, "model_source"));
        if (json_is_true(json_object_get(c->state, "synthetic")))
            fprintf(fp, "**Weights**: ⚠️ synthetic: %s  \n", rp_jstr(c->state, "synthetic_note"));
        else
            fprintf(fp, "**Weights**: real (%s)  \n", rp_jstr(c->state, "model_source"));
        fprintf(fp, "**Backend of tasks 4-5**: %s  \n",
                !strcmp(c->backend, "cuda") ? "CUDA engine (cuBLASLt dense, cuSPARSELt 2:4 on slid weights)"
                : !strcmp(c->backend, "cpu") ? "CPU reference engine"
                                             : "none");
    }
    fprintf(fp, "**Charts**: %s  \n**Report generated**: %s\n\n---\n\n", c->charts_note, now);
}

/* ------------------------------------------------------------------ main */

/* An M list of the state file's options: integers in the range the CLI accepts. */
static ss_status load_m(const char *state, const json_t *opts, const char *key, int64_t *m, int *n) {
    *n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(opts, key), i, v) {
        json_int_t x = json_integer_value(v);
        if (!json_is_integer(v) || x < 1 || x > (1 << 24))
            return ss_fail(SS_ERR_FORMAT, "%s: options.%s[%zu] is not an M in [1, %d]", state, key, i, 1 << 24);
        if (*n < RP_MAX_M) m[(*n)++] = x;
    }
    return SS_OK;
}

static ss_status write_all(rctx *c) {
    const ss_report_opts *o = c->o;
    char now[64];
    if (o->now) snprintf(now, sizeof now, "%s", o->now);
    else {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", &tm);
    }
    /* charts: gnuplot present? */
    if (!o->charts) {
        snprintf(c->charts_note, sizeof c->charts_note, "not drawn (disabled)");
    } else if (!ss_gnuplot_find(o->gnuplot, c->gnuplot, sizeof c->gnuplot)) {
        snprintf(c->charts_note, sizeof c->charts_note,
                 "not drawn: gnuplot was not found (install gnuplot-nox and rerun `slidesparse report DIR`)");
    } else {
        SS_TRY(ss_mkdir_p(o->charts_dir));
        c->draw = 1;
    }

    char *body = NULL, *head = NULL;
    size_t body_n = 0, head_n = 0;
    c->md = open_memstream(&body, &body_n);
    if (!c->md) return ss_fail(SS_ERR_NOMEM, "report: out of memory");
    ss_status st = SS_OK;
    if (c->state) {
        section_summary(c);
        section_models(c);
        section_tuning(c);
    }
    st = rp_section_throughput(c, 0, 3);
    if (st == SS_OK) st = rp_section_throughput(c, 1, 4);
    if (st == SS_OK) st = rp_section_kernels(c, 5);
    if (st == SS_OK) {
        const int q = rp_has_quality(c); /* a numbered section only in runs with --eval-text */
        if (q) rp_section_quality(c, 6);
        fprintf(c->md, "---\n\n");
        section_errors(c, 6 + q);
        section_layout(c, 7 + q);
        section_completeness(c, 8 + q);
        section_conclusion(c, 9 + q);
        fprintf(c->md, "*Report generated: %s*  \n*Log file: %s*\n", now, c->state ? "pipeline.log" : "—");
    }
    fclose(c->md);
    c->md = NULL;
    if (st != SS_OK) {
        free(body);
        return st;
    }
    if (c->draw) {
        size_t n = json_array_size(c->charts);
        snprintf(c->charts_note, sizeof c->charts_note, "%zu files (PNG and SVG) in `charts/`", n);
    }
    FILE *hf = open_memstream(&head, &head_n);
    if (!hf) {
        free(body);
        return ss_fail(SS_ERR_NOMEM, "report: out of memory");
    }
    header(c, hf, now);
    fwrite(body, 1, body_n, hf);
    fclose(hf);
    free(body);

    char md_path[4400], json_path[4400];
    snprintf(md_path, sizeof md_path, "%s", o->out_md);
    snprintf(json_path, sizeof json_path, "%s", o->out_json);
    st = ss_write_file_atomic(md_path, head, head_n);
    free(head);
    if (st != SS_OK) return st;

    json_object_set_new(c->js, "generated", json_string(now));
    json_object_set_new(c->js, "charts", json_incref(c->charts));
    json_object_set_new(c->js, "charts_note", json_string(c->charts_note));
    json_object_set_new(c->js, "findings", json_incref(c->findings));
    if (c->state) {
        json_t *run = json_object();
        const char *keys[] = {"preset", "base_name", "model_source", "started", "finished", "synthetic_note", "backend"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            json_object_set_new(run, keys[i], json_string(rp_jstr(c->state, keys[i])));
        json_object_set(run, "synthetic", json_object_get(c->state, "synthetic"));
        json_object_set(run, "gpu", json_object_get(c->state, "gpu"));
        json_object_set(run, "options", json_object_get(c->state, "options"));
        json_object_set_new(c->js, "run", run);
    }
    return ss_json_save(json_path, c->js);
}

ss_status ss_report_write(const ss_report_opts *opts) {
    if (!opts->dir) return ss_fail(SS_ERR_ARG, "report: no folder given");
    if (!ss_is_dir(opts->dir)) return ss_fail(SS_ERR_IO, "report: %s is not a folder", opts->dir);
    ss_report_opts o = *opts;
    rctx *c = calloc(1, sizeof *c);
    if (!c) return ss_fail(SS_ERR_NOMEM, "report: out of memory");
    c->o = &o;
    snprintf(c->dir, sizeof c->dir, "%s", opts->dir);
    char md[4400], js[4400], charts[4400], state[4400];
    snprintf(md, sizeof md, "%s/report.md", c->dir);
    snprintf(js, sizeof js, "%s/report.json", c->dir);
    snprintf(charts, sizeof charts, "%s/charts", c->dir);
    if (!o.out_md) o.out_md = md;
    if (!o.out_json) o.out_json = js;
    if (!o.charts_dir) o.charts_dir = charts;

    ss_status st = SS_OK;
    snprintf(state, sizeof state, "%s/pipeline_state.json", c->dir);
    if (ss_path_exists(state)) st = ss_json_load(state, &c->state);
    /* the result root: <dir>/results of a pipeline folder, else <dir> itself */
    snprintf(c->results, sizeof c->results, "%s/results", c->dir);
    if (!ss_is_dir(c->results)) snprintf(c->results, sizeof c->results, "%s", c->dir);
    if (st == SS_OK) {
        snprintf(c->base, sizeof c->base, "%s", rp_jstr(c->state, "base_name"));
        snprintf(c->backend, sizeof c->backend, "%s", rp_jstr(c->state, "backend"));
        const json_t *opt = json_object_get(c->state, "options");
        st = load_m(state, opt, "m_prefill", c->m_prefill, &c->n_prefill);
        if (st == SS_OK) st = load_m(state, opt, "m_decode", c->m_decode, &c->n_decode);
        if (st == SS_OK) st = load_m(state, opt, "m_kernel", c->m_kernel, &c->n_kernel);
        if (st == SS_OK) st = rp_scan(c->results, &c->d);
    }
    if (st == SS_OK) {
        c->js = json_object();
        c->charts = json_array();
        c->findings = json_array();
        st = write_all(c);
    }
    json_decref(c->js);
    json_decref(c->charts);
    json_decref(c->findings);
    json_decref(c->state);
    rp_free(&c->d);
    free(c);
    return st;
}
