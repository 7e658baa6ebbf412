/* The report's sections drawn from the pipeline state's tasks and jobs:
 * the summary table, model preparation (tasks 1-2), offline tuning (task 3)
 * and the error summary of failed and skipped jobs. */
#include <stdio.h>
#include <string.h>

#include "core/jsonutil.h"
#include "pipeline/pipeline.h"
#include "pipeline/report_internal.h"

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

static const char *task_icon(const rctx *c, int id) {
    const char *st = rp_jstr(rp_state_task(c, id), "status");
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

void rp_section_summary(rctx *c) {
    FILE *fp = c->md;
    fprintf(fp, "## 📊 Summary\n\n### Overall\n\n| Task | Name | Status | Time |\n|------|------|--------|------|\n");
    int ok = 0, failed = 0, skipped = 0, notrun = 0, star = 0;
    json_t *jt = json_array();
    for (int t = 1; t <= SS_N_TASKS; t++) {
        const json_t *task = rp_state_task(c, t);
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

void rp_section_models(rctx *c) {
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
            else rp_add_reason(cat->reason, sizeof cat->reason, rp_jstr(rows[i], "error")[0] ? rp_jstr(rows[i], "error") : rp_jstr(rows[i], "reason"));
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
                    rp_add_reason(cat->reason, sizeof cat->reason, rp_jstr(j, "error")[0] ? rp_jstr(j, "error") : rp_jstr(j, "reason"));
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

/* The tables task 3 wrote (<results>/tuning/<HW>_<toolchain>/<model>.json): entries per library. */
static void tuning_tables(rctx *c) {
    FILE *fp = c->md;
    json_t *jt = json_array();
    json_object_set_new(c->js, "tuning_tables", jt);
    char root[4400];
    snprintf(root, sizeof root, "%s/tuning", c->results);
    char **hws, **files;
    int *hd, *fd;
    int nh = rp_list_names(root, &hws, &hd), shown = 0;
    for (int h = 0; h < nh; h++) {
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/%s", root, hws[h]);
        int nf = hd[h] ? rp_list_names(dir, &files, &fd) : 0;
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
        if (hd[h]) rp_free_names(files, fd, nf);
    }
    rp_free_names(hws, hd, nh);
    if (shown) fprintf(fp, "\n");
}

void rp_section_tuning(rctx *c) {
    FILE *fp = c->md;
    fprintf(fp, "## 2. Offline tuning (Task 3) %s\n\n", task_icon(c, 3));
    fprintf(fp, "Each job searches, for one model's (N,K) pairs and M buckets, the fastest cuBLASLt algorithm (dense, "
                "the reference's coarse pass) and the fastest cuSPARSELt algorithm and split-K on the slid shapes of "
                "2_4..2_10 (its fine pass).\n\n");
    fprintf(fp, "| Job | Model | Status |\n|-----|-------|--------|\n");
    const json_t *task = rp_state_task(c, 3);
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
                rp_add_reason(cat->reason, sizeof cat->reason, rp_jstr(job, "error")[0] ? rp_jstr(job, "error") : rp_jstr(job, "reason"));
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

void rp_section_errors(rctx *c, int number) {
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
