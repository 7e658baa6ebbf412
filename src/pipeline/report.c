/* The final report (see report.h): the options' defaults, the helpers the
 * report's files share (report_internal.h), the title block, and the
 * driver that writes the sections in order (the run's jobs:
 * report_jobs.c; benchmarks: report_bench.c; quality: report_quality.c;
 * result layout: report_layout.c; completeness and conclusion:
 * report_conclusion.c) into report.md and report.json. */
#include "pipeline/report.h"

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
void rp_add_reason(char *out, size_t cap, const char *s) {
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
            if (!strcmp(st, "skipped")) rp_add_reason(out, cap, rp_jstr(job, "reason"));
            else if (!strcmp(st, "failed")) rp_add_reason(out, cap, rp_jstr(job, "error"));
            else if (!strcmp(st, "pending")) rp_add_reason(out, cap, "not run yet");
        }
    }
}

const json_t *rp_state_task(const rctx *c, int id) {
    return c->state ? json_array_get(json_object_get(c->state, "tasks"), (size_t)id - 1) : NULL;
}

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

/* The title block, written last (it says whether charts were drawn). */
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
        for (int t = 1; t <= SS_N_TASKS; t++) total += json_number_value(json_object_get(rp_state_task(c, t), "duration_s"));
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
        rp_section_summary(c);
        rp_section_models(c);
        rp_section_tuning(c);
    }
    st = rp_section_throughput(c, 0, 3);
    if (st == SS_OK) st = rp_section_throughput(c, 1, 4);
    if (st == SS_OK) st = rp_section_kernels(c, 5);
    if (st == SS_OK) {
        const int q = rp_has_quality(c); /* a numbered section only in runs with --eval-text */
        if (q) rp_section_quality(c, 6);
        fprintf(c->md, "---\n\n");
        rp_section_errors(c, 6 + q);
        rp_section_layout(c, 7 + q);
        rp_section_completeness(c, 8 + q);
        rp_section_conclusion(c, 9 + q);
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
