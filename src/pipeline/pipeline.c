/* The eight-task pipeline: the run (child processes, resume, progress) and
 * the state file; the plan (which jobs, needing what) is pipeline_plan.c. */
#include "pipeline/pipeline.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/scratch.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/checkpoint.h"
#include "pipeline/eval_results.h"
#include "pipeline/pipeline_internal.h"
#include "pipeline/report.h"
#include "text/token_file.h"

static const char *const k_task_names[SS_N_TASKS + 1] = {
    "",
    "Base models (download + quantize)",
    "SlideSparse conversion (prune + slide)",
    "Offline tuning (coarse + fine)",
    "Prefill throughput benchmark",
    "Decode throughput benchmark",
    "Kernel: cuBLASLt",
    "Kernel: cuSPARSELt high sparsity (2_4~2_10)",
    "Kernel: cuSPARSELt low sparsity (2_12~2_inf)",
};

const char *ss_task_name(int task) { return task >= 1 && task <= SS_N_TASKS ? k_task_names[task] : "?"; }

static const char *const k_status_names[] = {"pending", "running", "success", "failed", "skipped"};

const char *ss_job_status_name(ss_job_status s) { return k_status_names[s]; }

ss_status ss_job_status_parse(const char *s, ss_job_status *out) {
    for (int i = 0; i < 5; i++)
        if (s && !strcmp(s, k_status_names[i])) {
            *out = (ss_job_status)i;
            return SS_OK;
        }
    return ss_fail(SS_ERR_FORMAT, "unknown job status '%s'", s ? s : "(null)");
}

ss_status ss_pipeline_parse_tasks(const char *s, unsigned *mask) {
    *mask = 0;
    const char *p = s;
    if (!s || !*s) return ss_fail(SS_ERR_ARG, "--tasks: empty list");
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) return ss_fail(SS_ERR_ARG, "--tasks: '%s' is not a list like 1-8 or 1,2,4", s);
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1) return ss_fail(SS_ERR_ARG, "--tasks: '%s' is not a list like 1-8 or 1,2,4", s);
            p = end;
        }
        if (a < 1 || b > SS_N_TASKS || a > b) return ss_fail(SS_ERR_ARG, "--tasks: '%s': tasks are 1..8", s);
        for (long t = a; t <= b; t++) *mask |= 1u << t;
        if (*p == ',') p++;
        else if (*p) return ss_fail(SS_ERR_ARG, "--tasks: '%s' is not a list like 1-8 or 1,2,4", s);
    }
    return SS_OK;
}

static void epoch_string(double epoch, char *out, size_t cap) {
    time_t t = (time_t)epoch;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
}

static double epoch_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* --------------------------------------------------------------- state */

static void command_string(char *const *args, int n, char *out, size_t cap) {
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n && k < cap; i++) {
        int quote = strpbrk(args[i], " \t'\"") != NULL;
        k += (size_t)snprintf(out + k, cap - k, quote ? "%s'%s'" : "%s%s", i ? " " : "", args[i]);
    }
}

static json_t *job_to_json(const plan *p, const job *j) {
    char cmd[8192], start[32] = "", end[32] = "";
    command_string(j->args, j->nargs, cmd, sizeof cmd);
    if (j->start_epoch > 0) epoch_string(j->start_epoch, start, sizeof start);
    if (j->end_epoch > 0) epoch_string(j->end_epoch, end, sizeof end);
    json_t *deps = json_array();
    for (int d = 0; d < j->ndeps; d++) json_array_append_new(deps, json_string(p->jobs[j->deps[d]].key));
    json_t *r = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "key", j->key, "title", j->title,
                          "task", j->task, "kind", j->kind, "dtype", j->dtype, "sparsity", j->sparsity, "lib", j->lib,
                          "model", j->model, "command", cmd, "status", ss_job_status_name(j->status), "deps", deps);
    if (!r) return NULL;
    if (j->reason[0]) json_object_set_new(r, "reason", json_string(j->reason));
    if (j->error[0]) json_object_set_new(r, "error", json_string(j->error));
    if (j->note[0]) json_object_set_new(r, "note", json_string(j->note));
    if (j->status == SS_JOB_FAILED) {
        json_object_set_new(r, "exit_code", json_integer(j->exit_code));
        if (j->term_signal) json_object_set_new(r, "signal", json_integer(j->term_signal));
    }
    if (start[0]) json_object_set_new(r, "started", json_string(start));
    if (end[0]) json_object_set_new(r, "ended", json_string(end));
    /* whole seconds: the state's reals keep 9 digits, too few for an epoch */
    if (j->start_epoch > 0) json_object_set_new(r, "start_epoch", json_integer((json_int_t)j->start_epoch));
    if (j->end_epoch > 0) json_object_set_new(r, "end_epoch", json_integer((json_int_t)j->end_epoch));
    json_object_set_new(r, "duration_s", json_real(j->duration_s));
    if (j->resumed) json_object_set_new(r, "resumed", json_true());
    if (j->synthetic) json_object_set_new(r, "synthetic", json_true());
    if (j->out_path[0]) {
        json_t *outs = json_array();
        json_array_append_new(outs, json_string(j->out_path));
        json_object_set_new(r, "outputs", outs);
    }
    return r;
}

/* Task status from its jobs' statuses. */
static const char *task_status(const plan *p, int task, double *duration) {
    int cnt[5] = {0};
    *duration = 0;
    for (int i = 0; i < p->n; i++)
        if (p->jobs[i].task == task) {
            cnt[p->jobs[i].status]++;
            *duration += p->jobs[i].duration_s;
        }
    int done = cnt[SS_JOB_SUCCESS] + cnt[SS_JOB_FAILED] + cnt[SS_JOB_SKIPPED];
    if (cnt[SS_JOB_RUNNING]) return "running";
    if (done == 0) return "pending";
    if (cnt[SS_JOB_PENDING]) return "incomplete";
    if (cnt[SS_JOB_FAILED]) return cnt[SS_JOB_SUCCESS] ? "partial" : "failed";
    if (cnt[SS_JOB_SUCCESS] == 0) return "skipped";
    return "success";
}

static int base_synthetic(const plan *p) {
    int b = pl_find_job(p, "base");
    return b >= 0 && p->jobs[b].synthetic;
}

static ss_status state_save(plan *p, int finished) {
    char now[32];
    pl_now_string(now, sizeof now);
    json_t *tasks = json_array();
    for (int t = 1; t <= SS_N_TASKS; t++) {
        double dur;
        const char *st = task_status(p, t, &dur);
        json_t *jobs = json_array();
        for (int i = 0; i < p->n; i++)
            if (p->jobs[i].task == t) json_array_append_new(jobs, job_to_json(p, &p->jobs[i]));
        json_array_append_new(tasks, json_pack("{s:i, s:s, s:s, s:f, s:o}", "id", t, "name", ss_task_name(t), "status",
                                               st, "duration_s", dur, "jobs", jobs));
    }
    json_t *opts = json_pack("{s:o, s:o, s:o, s:i}", "m_prefill", json_array(), "m_decode", json_array(), "m_kernel",
                             json_array(), "decode_output", p->decode_output);
    for (int i = 0; i < p->n_prefill; i++)
        json_array_append_new(json_object_get(opts, "m_prefill"), json_integer(p->m_prefill[i]));
    for (int i = 0; i < p->n_decode; i++)
        json_array_append_new(json_object_get(opts, "m_decode"), json_integer(p->m_decode[i]));
    for (int i = 0; i < p->n_kernel; i++)
        json_array_append_new(json_object_get(opts, "m_kernel"), json_integer(p->m_kernel[i]));
    if (p->q.on) /* the report says what was evaluated and calibrated on; a later run may keep it (quality_setup) */
        json_object_set_new(opts, "quality",
                            json_pack("{s:s, s:b, s:o, s:b, s:i, s:s, s:s}", "eval", p->q.eval, "eval_is_text",
                                      p->q.eval_is_text, "calib", p->q.calib[0] ? json_string(p->q.calib) : json_null(),
                                      "calib_is_text", p->q.calib_is_text, "ctx", p->q.ctx, "eval_tokens",
                                      p->q.eval_tokens, "calib_tokens", p->q.calib_tokens));
    int synth = base_synthetic(p);
    int b = pl_find_job(p, "base");
    /* a failed download replaced by synthetic weights must not read as the repo's weights */
    char source[700];
    if (synth && !p->base_is_synth)
        snprintf(source, sizeof source, "synthetic:0 (%s architecture; the download of %s failed)", p->arch, p->repo);
    else
        snprintf(source, sizeof source, "%s", p->source);
    json_t *s = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o, s:s, s:s, s:o, s:o, s:O}",
                          "format_version", 1, "preset", p->preset, "base_name", p->base, "model_source", source,
                          "models_dir", p->models, "results_dir", p->results, "started", p->started, "updated", now,
                          "finished", finished ? now : "", "synthetic", synth, "synthetic_note",
                          synth && b >= 0 ? p->jobs[b].note : "", "gpu", ss_device_probe_to_json(&p->gpu), "backend",
                          p->backend, "backend_reason", p->backend_reason, "options", opts, "tasks", tasks, "runs",
                          p->runs);
    if (!s) return ss_fail(SS_ERR_NOMEM, "%s: cannot build the state", p->state_path);
    ss_status st = ss_json_save(p->state_path, s);
    json_decref(s);
    return st;
}

/* Copies a previous run's record of a job. */
static void job_load_prev(job *j, const json_t *r) {
    ss_job_status st = SS_JOB_PENDING;
    if (ss_job_status_parse(json_string_value(json_object_get(r, "status")), &st) != SS_OK) st = SS_JOB_PENDING;
    ss_clear_error();
    j->status = st;
    const char *s;
    if ((s = json_string_value(json_object_get(r, "reason")))) snprintf(j->reason, sizeof j->reason, "%s", s);
    if ((s = json_string_value(json_object_get(r, "error")))) snprintf(j->error, sizeof j->error, "%s", s);
    if ((s = json_string_value(json_object_get(r, "note")))) snprintf(j->note, sizeof j->note, "%s", s);
    j->exit_code = (int)json_integer_value(json_object_get(r, "exit_code"));
    j->term_signal = (int)json_integer_value(json_object_get(r, "signal"));
    j->start_epoch = (double)json_integer_value(json_object_get(r, "start_epoch"));
    j->end_epoch = (double)json_integer_value(json_object_get(r, "end_epoch"));
    j->duration_s = json_number_value(json_object_get(r, "duration_s"));
    j->resumed = json_is_true(json_object_get(r, "resumed"));
    j->synthetic = json_is_true(json_object_get(r, "synthetic"));
    if (j->status == SS_JOB_RUNNING) { /* that run was killed in the middle of this job */
        j->status = SS_JOB_FAILED;
        snprintf(j->error, sizeof j->error, "interrupted: the pipeline stopped while this job ran");
        j->exit_code = -1;
    }
}

static void job_reset(job *j) {
    j->status = SS_JOB_PENDING;
    j->reason[0] = j->error[0] = j->note[0] = '\0';
    j->exit_code = j->term_signal = j->resumed = j->synthetic = 0;
    j->start_epoch = j->end_epoch = j->duration_s = 0;
}

static ss_status state_load_prev(plan *p) {
    p->prev_jobs = json_object();
    p->runs = json_array();
    if (!ss_path_exists(p->state_path)) return SS_OK;
    SS_TRY(ss_json_load(p->state_path, &p->prev));
    const char *preset = json_string_value(json_object_get(p->prev, "preset"));
    if (!preset || strcmp(preset, p->preset) != 0)
        return ss_fail(SS_ERR_ARG, "%s holds a run of preset '%s', not '%s': choose another --out", p->state_path,
                       preset ? preset : "?", p->preset);
    const char *started = json_string_value(json_object_get(p->prev, "started"));
    if (p->o->resume && started) snprintf(p->started, sizeof p->started, "%s", started);
    json_t *runs = json_object_get(p->prev, "runs");
    if (json_is_array(runs)) json_array_extend(p->runs, runs);
    size_t ti, ji;
    json_t *task, *rec;
    json_array_foreach(json_object_get(p->prev, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, rec) {
            const char *key = json_string_value(json_object_get(rec, "key"));
            if (key) json_object_set(p->prev_jobs, key, rec);
        }
    }
    return SS_OK;
}

/* Tasks not run now keep the M lists they ran with (the report's grids and
 * their jobs' command lines come from them). */
static void keep_prev_lists(plan *p) {
    json_t *opt = json_object_get(p->prev, "options");
    if (!json_is_object(opt)) return;
    struct {
        const char *key;
        unsigned tasks;
        int64_t *m;
        int *n;
    } lists[] = {{"m_prefill", 1u << 4, p->m_prefill, &p->n_prefill},
                 {"m_decode", 1u << 5, p->m_decode, &p->n_decode},
                 {"m_kernel", 7u << 6, p->m_kernel, &p->n_kernel}};
    for (size_t l = 0; l < sizeof lists / sizeof lists[0]; l++) {
        json_t *arr = json_object_get(opt, lists[l].key);
        if ((p->tasks & lists[l].tasks) || !json_is_array(arr) || json_array_size(arr) == 0 ||
            json_array_size(arr) > 64)
            continue;
        size_t i;
        json_t *v;
        int valid = 1; /* the state file is an input: an M the CLI would refuse keeps the defaults */
        json_array_foreach(arr, i, v) valid &= json_is_integer(v) && json_integer_value(v) >= 1 &&
                                               json_integer_value(v) <= (1 << 24);
        if (!valid) continue;
        *lists[l].n = 0;
        json_array_foreach(arr, i, v) lists[l].m[(*lists[l].n)++] = json_integer_value(v);
    }
    json_int_t out = json_integer_value(json_object_get(opt, "decode_output"));
    if (!(p->tasks & (1u << 5)) && out > 0 && out <= (1 << 16)) p->decode_output = (int)out;
}

/* ----------------------------------------------------------- verifying */

/* Do the job's outputs exist and look complete? why: what is wrong. */
static int outputs_ok(const job *j, char *why, size_t cap) {
    if (why && cap) why[0] = '\0';
    if (j->out_kind == OUT_NONE) return 1;
    if (j->out_kind == OUT_CKPT) {
        ss_checkpoint c;
        if (ss_ckpt_open(j->out_path, &c) != SS_OK) {
            if (why) snprintf(why, cap, "%s", ss_errmsg());
            ss_clear_error();
            return 0;
        }
        ss_ckpt_close(&c);
        return 1;
    }
    if (j->out_kind == OUT_JSON) { /* an eval result that reads back (a finite perplexity of some tokens) */
        ss_eval_record rec;
        if (ss_eval_read_json(j->out_path, &rec) != SS_OK) {
            if (why) snprintf(why, cap, "%s", ss_errmsg());
            ss_clear_error();
            return 0;
        }
        return 1;
    }
    if (j->out_kind == OUT_TOKENS) {
        int32_t *ids;
        int64_t n;
        if (ss_token_file_read(j->out_path, &ids, &n) != SS_OK) {
            if (why) snprintf(why, cap, "%s", ss_errmsg());
            ss_clear_error();
            return 0;
        }
        free(ids);
        return 1;
    }
    glob_t g;
    int ok = 0, best = -1;
    if (glob(j->out_path, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            int rows = ss_csv_data_rows(g.gl_pathv[i]);
            if (rows > best) best = rows;
            if (rows >= j->out_rows) ok = 1;
        }
        globfree(&g);
    }
    if (!ok && why) {
        if (best < 0) snprintf(why, cap, "no result file %s", j->out_path);
        else snprintf(why, cap, "%s holds %d of %d rows", j->out_path, best, j->out_rows);
    }
    return ok;
}

/* ------------------------------------------------------------ progress */

static void say(plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(plan *p, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    if (ss_log_get_level() != SS_LOG_QUIET) {
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    if (p->log) {
        vfprintf(p->log, fmt, ap2);
        fputc('\n', p->log);
        fflush(p->log);
    }
    va_end(ap2);
    va_end(ap);
}

/* Estimated seconds for the jobs after index `from` that will run (< 0: unknown). */
static double eta(const plan *p, int from) {
    if (p->cnt_all == 0) return -1;
    double mean = p->sum_all / p->cnt_all, left = 0;
    for (int i = from; i < p->n; i++) {
        const job *j = &p->jobs[i];
        if (!(p->tasks & (1u << j->task)) || j->ran_now) continue;
        if ((j->needs_gpu && !p->gpu.available) || (j->needs_backend && !p->backend[0]) || j->planned_skip[0]) continue;
        /* a job of a kind already seen takes about as long as those did */
        double sum = 0;
        int cnt = 0;
        for (int k = 0; k < p->n; k++)
            if (p->jobs[k].ran_now && p->jobs[k].status != SS_JOB_SKIPPED && !strcmp(p->jobs[k].kind, j->kind)) {
                sum += p->jobs[k].duration_s;
                cnt++;
            }
        left += cnt ? sum / cnt : mean;
    }
    return left;
}

static void progress(plan *p, int idx, const char *what) {
    const job *j = &p->jobs[idx];
    int pos = 0, total = 0;
    for (int i = 0; i < p->n; i++)
        if (p->jobs[i].task == j->task) {
            total++;
            if (i <= idx) pos++;
        }
    char el[32], left[32] = "?";
    ss_format_duration(ss_now() - p->t0, el, sizeof el);
    double e = eta(p, idx + 1);
    if (e >= 0) ss_format_duration(e, left, sizeof left);
    say(p, "[task %d/%d, job %d/%d | elapsed %s | left ~%s] %s: %s", j->task, SS_N_TASKS, pos, total, el, left,
        j->title, what);
}

/* ----------------------------------------------------------------- run */

/* Ends a run of jobs skipped for the same reason: says how many more there were. */
static void flush_skips(plan *p) {
    if (p->quiet_skips > 1)
        say(p, "  ... and %d more job%s of task %d skipped for the same reason", p->quiet_skips - 1,
            p->quiet_skips > 2 ? "s" : "", p->last_skip_task);
    p->quiet_skips = 0;
    p->last_skip[0] = '\0';
}

static int dep_ok(const plan *p, const job *d, char *why, size_t cap) {
    if ((p->tasks & (1u << d->task)) && d->ran_now) {
        if (d->status == SS_JOB_SUCCESS) return 1;
        snprintf(why, cap, "needs %s, which %s", d->title,
                 d->status == SS_JOB_FAILED ? "failed" : d->status == SS_JOB_SKIPPED ? "was skipped" : "did not run");
        return 0;
    }
    /* from an earlier run (or made by hand): its output must be there */
    char w[600];
    if (d->out_kind != OUT_NONE) {
        if (outputs_ok(d, w, sizeof w)) return 1;
        snprintf(why, cap, "needs the output of %s (task %d): %s", d->title, d->task, w);
        return 0;
    }
    if (d->status == SS_JOB_SUCCESS) return 1;
    snprintf(why, cap, "needs %s (task %d), which has not succeeded", d->title, d->task);
    return 0;
}

/* Exit status of a subcommand asked for something this build or GPU cannot
 * run (SS_ERR_UNSUPPORTED, src/cli/main.c): the job is skipped, not failed. */
#define EXIT_UNSUPPORTED 3

static void finish_job(plan *p, job *j, const ss_child_result *r) {
    j->end_epoch = epoch_now();
    j->duration_s = r->duration_s;
    j->exit_code = r->exit_code;
    j->term_signal = r->term_signal;
    if (r->exit_code == 0 && !r->term_signal) {
        j->status = SS_JOB_SUCCESS;
    } else if (r->exit_code == EXIT_UNSUPPORTED && !r->term_signal) {
        j->status = SS_JOB_SKIPPED;
        /* the subcommand's own "skipped: <why>" says more than its summary error */
        snprintf(j->reason, sizeof j->reason, "%s", r->skipped[0] ? r->skipped : r->error);
    } else {
        j->status = SS_JOB_FAILED;
        snprintf(j->error, sizeof j->error, "%s", r->error);
    }
}

/* Runs a job in the byte-id form it was given for a synthetic base, when the base turned out synthetic. */
static void use_synth_args(plan *p, job *j) {
    if (!j->nsynth_args || !base_synthetic(p)) return;
    for (int i = 0; i <= MAX_ARGS; i++) {
        char *t = j->args[i];
        j->args[i] = j->synth_args[i];
        j->synth_args[i] = t;
    }
    int n = j->nargs;
    j->nargs = j->nsynth_args;
    j->nsynth_args = n;
    snprintf(j->title, sizeof j->title, "tokenize the %s text (one id per byte: the base is synthetic)",
             strstr(j->key, "eval") ? "evaluation" : "calibration");
}

static ss_status run_job(plan *p, int idx) {
    job *j = &p->jobs[idx];
    char why[700];
    j->ran_now = 1;
    use_synth_args(p, j);

    if (p->o->resume && j->status == SS_JOB_SUCCESS) {
        json_t *rec = json_object_get(p->prev_jobs, j->key);
        char cmd[8192];
        command_string(j->args, j->nargs, cmd, sizeof cmd);
        const char *prev_cmd = json_string_value(json_object_get(rec, "command"));
        if (prev_cmd && !strcmp(prev_cmd, cmd) && outputs_ok(j, why, sizeof why)) {
            j->resumed = 1;
            flush_skips(p);
            progress(p, idx, "done in an earlier run (outputs verified)");
            return state_save(p, 0);
        }
        if (prev_cmd && strcmp(prev_cmd, cmd) != 0) say(p, "  %s: options changed since the earlier run; running again", j->key);
        else say(p, "  %s: earlier output does not verify (%s); running again", j->key, why);
    }
    job_reset(j);

    const char *skip = NULL;
    if (j->needs_gpu && !p->gpu.available) skip = p->gpu.reason;
    else if (j->needs_backend && !p->backend[0]) skip = p->backend_reason;
    else if (j->planned_skip[0]) skip = j->planned_skip;
    for (int d = 0; !skip && d < j->ndeps; d++)
        if (!dep_ok(p, &p->jobs[j->deps[d]], why, sizeof why)) skip = why;
    if (skip) {
        j->status = SS_JOB_SKIPPED;
        snprintf(j->reason, sizeof j->reason, "%s", skip);
        /* a run of jobs skipped for one reason (no GPU: 47 of them) prints one line and a count */
        if (p->quiet_skips && !strcmp(p->last_skip, j->reason) && p->last_skip_task == j->task) {
            p->quiet_skips++;
        } else {
            flush_skips(p);
            char what[600];
            snprintf(what, sizeof what, "skipped: %s", j->reason);
            progress(p, idx, what);
            snprintf(p->last_skip, sizeof p->last_skip, "%s", j->reason);
            p->last_skip_task = j->task;
            p->quiet_skips = 1;
        }
        return state_save(p, 0);
    }

    flush_skips(p);
    ss_fault_point("pipeline-job");
    j->status = SS_JOB_RUNNING;
    j->start_epoch = epoch_now();
    SS_TRY(state_save(p, 0));
    char cmd[8192];
    command_string(j->args, j->nargs, cmd, sizeof cmd);
    progress(p, idx, "running");
    say(p, "  $ %s", cmd);
    ss_child_result r;
    SS_TRY(ss_run_child(p->o->bin, j->args, p->log, p->o->job_timeout_s, NULL, 0, &r));
    finish_job(p, j, &r);
    if (j->status == SS_JOB_FAILED && j->nfallback) {
        char first_error[1024];
        snprintf(first_error, sizeof first_error, "%s", j->error);
        command_string(j->fallback, j->nfallback, cmd, sizeof cmd);
        say(p, "  download failed (%s); synthesising the architecture instead\n  $ %s", first_error, cmd);
        double first = r.duration_s;
        SS_TRY(ss_run_child(p->o->bin, j->fallback, p->log, p->o->job_timeout_s, NULL, 0, &r));
        finish_job(p, j, &r);
        j->duration_s += first;
        if (j->status == SS_JOB_SUCCESS) {
            j->synthetic = 1;
            j->error[0] = '\0';
            snprintf(j->note, sizeof j->note, "download failed (%s); synthetic weights of the same architecture used",
                     first_error);
        }
    } else if (j->status == SS_JOB_SUCCESS && j->synthetic_base) {
        j->synthetic = 1;
        snprintf(j->note, sizeof j->note, "%s", p->synth_note);
    }
    /* exit 0 is not enough: the promised output must be there */
    if (j->status == SS_JOB_SUCCESS && !outputs_ok(j, why, sizeof why)) {
        j->status = SS_JOB_FAILED;
        snprintf(j->error, sizeof j->error, "exited 0 but its output is incomplete: %s", why);
    }
    p->sum_all += j->duration_s;
    p->cnt_all++;
    char dur[32];
    ss_format_duration(j->duration_s, dur, sizeof dur);
    if (j->status == SS_JOB_SUCCESS) say(p, "  success in %s%s%s", dur, j->note[0] ? ": " : "", j->note);
    else if (j->status == SS_JOB_SKIPPED) say(p, "  skipped after %s: %s", dur, j->reason);
    else say(p, "  FAILED after %s: %s", dur, j->error);
    return state_save(p, 0);
}

static void log_header(plan *p) {
    char now[32];
    pl_now_string(now, sizeof now);
    fprintf(p->log, "\n=== slidesparse pipeline %s at %s%s\n", p->preset, now, p->o->resume ? " (resume)" : "");
    if (p->o->command_line) fprintf(p->log, "=== command: %s\n", p->o->command_line);
    fflush(p->log);
    if (p->gpu.available)
        say(p, "GPU: %s (cc %d.%d, %.0f GiB); tasks 4-5 on the CUDA engine", p->gpu.name, p->gpu.cc_major,
            p->gpu.cc_minor, (double)p->gpu.memory_bytes / (1024.0 * 1024 * 1024));
    else
        say(p, "GPU: none: %s; %s", p->gpu.reason,
            p->backend[0] ? "tasks 4-5 on the CPU reference engine, GPU-only tasks skipped"
                          : "GPU-only tasks and tasks 4-5 skipped");
    say(p, "preset %s, base %s from %s, output %s", p->preset, p->base, p->source, p->out);
}

ss_status ss_pipeline_run(const ss_pipeline_opts *o) {
    plan p;
    memset(&p, 0, sizeof p);
    ss_status st = pl_plan_setup(&p, o);
    if (st == SS_OK) {
        log_header(&p);
        st = state_load_prev(&p);
    }
    if (st == SS_OK && p.prev) keep_prev_lists(&p);
    if (st == SS_OK) st = pl_plan_build(&p);
    if (st == SS_OK) {
        /* earlier records: kept for unselected tasks, candidates for --resume in selected ones */
        for (int i = 0; i < p.n; i++) {
            json_t *rec = json_object_get(p.prev_jobs, p.jobs[i].key);
            if (rec) job_load_prev(&p.jobs[i], rec);
            if ((p.tasks & (1u << p.jobs[i].task)) && !o->resume) job_reset(&p.jobs[i]);
        }
        char tl[64] = "";
        for (int t = 1, k = 0; t <= SS_N_TASKS; t++)
            if (p.tasks & (1u << t)) k += snprintf(tl + k, sizeof tl - (size_t)k, "%s%d", k ? "," : "", t);
        json_array_append_new(p.runs, json_pack("{s:s, s:b, s:s, s:s}", "started", p.started, "resume", o->resume,
                                                "tasks", tl, "command", o->command_line ? o->command_line : ""));
        if (o->resume) {
            char now[32];
            pl_now_string(now, sizeof now);
            json_object_set_new(json_array_get(p.runs, json_array_size(p.runs) - 1), "started", json_string(now));
        }
        /* scratch of jobs killed in an earlier run (their owner lock is free): see core/scratch.h */
        int removed = ss_scratch_clean(p.models) + ss_scratch_clean_tree(p.results, 8);
        if (removed) say(&p, "removed %d unfinished output%s left by killed jobs", removed, removed == 1 ? "" : "s");
        st = state_save(&p, 0);
    }
    for (int t = 1; t <= SS_N_TASKS && st == SS_OK; t++) {
        if (!(p.tasks & (1u << t))) continue;
        say(&p, "== task %d/%d: %s", t, SS_N_TASKS, ss_task_name(t));
        for (int i = 0; i < p.n && st == SS_OK; i++)
            if (p.jobs[i].task == t) st = run_job(&p, i);
        flush_skips(&p);
        double dur;
        const char *ts = task_status(&p, t, &dur);
        char d[32];
        ss_format_duration(dur, d, sizeof d);
        say(&p, "== task %d: %s (%s)", t, ts, d);
    }
    int failed = 0, ran = 0;
    for (int i = 0; i < p.n; i++)
        if (p.tasks & (1u << p.jobs[i].task)) {
            ran++;
            failed += p.jobs[i].status == SS_JOB_FAILED;
        }
    if (st == SS_OK) st = state_save(&p, 1);
    char report[2300] = "";
    if (st == SS_OK && !o->no_report) {
        ss_report_opts ro;
        ss_report_defaults(&ro);
        ro.dir = p.out;
        ss_status rs = ss_report_write(&ro);
        snprintf(report, sizeof report, "%s/report.md", p.out);
        if (rs == SS_OK) say(&p, "report: %s", report);
        else say(&p, "warning: the report could not be written: %s", ss_errmsg());
        ss_clear_error();
    }
    if (st == SS_OK) {
        char el[32];
        ss_format_duration(ss_now() - p.t0, el, sizeof el);
        say(&p, "pipeline finished in %s: %d of %d jobs failed", el, failed, ran);
        if (failed)
            st = ss_fail(SS_ERR_IO, "pipeline: %d of %d jobs failed (see %s and %s)", failed, ran,
                         report[0] ? report : p.state_path, p.log_path);
    }
    pl_plan_free(&p);
    return st;
}
