/* The eight-task pipeline: the plan (which jobs, in which order, needing
 * what), the run (child processes, resume, progress) and the state file. */
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
#include "pipeline/gpu_probe.h"
#include "pipeline/report.h"

#define MAX_ARGS 40
#define MAX_DEPS 2

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

/* ------------------------------------------------------------------ plan */

enum { OUT_NONE = 0, OUT_CKPT, OUT_CSV };

typedef struct job {
    /* what it is */
    char key[64];     /* stable across runs: matches the previous state's record */
    char title[160];
    int task;
    char kind[16];    /* base, quantize, convert, tune, prefill, decode, kernel */
    char dtype[16];   /* INT8 / FP8 for models; FP16, BF16, INT8, FP8E4M3, FP4E2M1 for kernels */
    char sparsity[16];/* "" = dense */
    char lib[16];     /* kernels: cuBLASLt / cuSPARSELt */
    char model[1024]; /* checkpoint it writes (tasks 1-2) or reads (3-8) */
    char *args[MAX_ARGS + 1];
    int nargs;
    char *fallback[MAX_ARGS + 1]; /* run when the command fails (download -> synth) */
    int nfallback;
    char fallback_note[256];
    int deps[MAX_DEPS], ndeps;
    int out_kind;
    char out_path[1200]; /* checkpoint folder or CSV glob */
    int out_rows;
    int needs_gpu;
    int needs_backend;   /* tasks 4-5: cuda or (tiny) cpu */
    char planned_skip[256];
    int synthetic_base;  /* this job makes synthetic weights */
    /* how it went */
    ss_job_status status;
    char reason[512];
    char error[1024];
    char note[512];
    int exit_code, term_signal, resumed, synthetic;
    double start_epoch, end_epoch, duration_s;
    int ran_now; /* decided in this session */
} job;

typedef struct plan {
    job *jobs;
    int n, cap;
    char out[2048], models[2048], results[2200], state_path[2200], log_path[2200];
    char preset[32], base[64], arch[32], repo[256], base_dir[2200], source[512];
    int base_is_synth;
    char synth_note[256];
    ss_device_probe gpu;
    char tune_dir[2400];      /* <results>/tuning/<HW>_<toolchain>, where task 3 writes its tables */
    char backend[8];          /* "cuda", "cpu" or "" */
    char backend_reason[256]; /* why tasks 4-5 cannot run when backend is "" */
    int64_t m_prefill[64], m_decode[64], m_kernel[64];
    int n_prefill, n_decode, n_kernel, decode_output, repeats;
    unsigned tasks;
    const ss_pipeline_opts *o;
    json_t *prev;      /* previous state (or NULL) */
    json_t *prev_jobs; /* key -> record */
    json_t *runs;      /* history of invocations */
    FILE *log;
    char started[32];
    double t0;
    /* progress: durations of jobs run in this session */
    double sum_all;
    int cnt_all;
    /* consecutive jobs skipped for one reason are reported once */
    char last_skip[512];
    int last_skip_task, quiet_skips;
} plan;

static const int64_t k_m_prefill_gpu[] = {512, 1024, 2048, 4096, 8192, 16384, 32768};
static const int64_t k_m_decode_gpu[] = {64, 128, 256, 512};
static const int64_t k_m_kernel[] = {64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
/* The CPU reference engine is slow: small M keep the tiny run to minutes. */
static const int64_t k_m_prefill_cpu[] = {64, 128, 256};
static const int64_t k_m_decode_cpu[] = {1, 2, 4};
#define CPU_DECODE_OUTPUT 64

static const int k_L_task2[] = {4, 6, 8, 10};
static const int k_L_task8[] = {12, 14, 16, -1};
static const char *const k_kernel_dtypes[][2] = {
    {"fp16", "FP16"}, {"bf16", "BF16"}, {"int8", "INT8"}, {"fp8e4m3", "FP8E4M3"}, {"fp4e2m1", "FP4E2M1"}};

static void now_string(char *out, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
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

static void sparsity_name(int L, char *out, size_t cap) {
    if (L < 0) snprintf(out, cap, "2_inf");
    else snprintf(out, cap, "2_%d", L);
}

static void m_list_string(const int64_t *m, int n, char *out, size_t cap) {
    size_t k = 0;
    out[0] = '\0';
    for (int i = 0; i < n && k < cap; i++) k += (size_t)snprintf(out + k, cap - k, "%s%lld", i ? "," : "", (long long)m[i]);
}

static job *add_job(plan *p, int task, const char *key, const char *kind) {
    if (p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        job *j = realloc(p->jobs, (size_t)cap * sizeof *j);
        if (!j) return NULL;
        p->jobs = j;
        p->cap = cap;
    }
    job *j = &p->jobs[p->n++];
    memset(j, 0, sizeof *j);
    j->task = task;
    snprintf(j->key, sizeof j->key, "%s", key);
    snprintf(j->kind, sizeof j->kind, "%s", kind);
    return j;
}

static ss_status push_arg(char **args, int *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static ss_status push_arg(char **args, int *n, const char *fmt, ...) {
    if (*n >= MAX_ARGS) return ss_fail(SS_ERR_INTERNAL, "pipeline: too many arguments for one job");
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&args[*n], fmt, ap);
    va_end(ap);
    if (r < 0) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
    (*n)++;
    args[*n] = NULL;
    return SS_OK;
}

/* Adds NULL-terminated string arguments to a job's command. */
static ss_status job_args(job *j, ...) {
    va_list ap;
    va_start(ap, j);
    ss_status st = SS_OK;
    const char *a;
    if (j->nargs == 0) st = push_arg(j->args, &j->nargs, "slidesparse");
    while (st == SS_OK && (a = va_arg(ap, const char *)) != NULL) st = push_arg(j->args, &j->nargs, "%s", a);
    va_end(ap);
    return st;
}

static void free_args(char **args, int n) {
    for (int i = 0; i < n; i++) free(args[i]);
}

static void plan_free(plan *p) {
    for (int i = 0; i < p->n; i++) {
        free_args(p->jobs[i].args, p->jobs[i].nargs);
        free_args(p->jobs[i].fallback, p->jobs[i].nfallback);
    }
    free(p->jobs);
    json_decref(p->prev);
    json_decref(p->prev_jobs);
    json_decref(p->runs);
    if (p->log) fclose(p->log);
    memset(p, 0, sizeof *p);
}

static int find_job(const plan *p, const char *key) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->jobs[i].key, key)) return i;
    return -1;
}

static void add_dep(plan *p, job *j, const char *key) {
    int d = find_job(p, key);
    if (d >= 0 && j->ndeps < MAX_DEPS) j->deps[j->ndeps++] = d;
}

static const char *model_dtype_lower(const char *dt) { return !strcmp(dt, "INT8") ? "int8" : "fp8"; }

static ss_status plan_task1(plan *p) {
    job *j = add_job(p, 1, "base", "base");
    if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
    snprintf(j->model, sizeof j->model, "%s", p->base_dir);
    snprintf(j->dtype, sizeof j->dtype, "BF16");
    j->out_kind = OUT_CKPT;
    snprintf(j->out_path, sizeof j->out_path, "%s", p->base_dir);
    const ss_pipeline_opts *o = p->o;
    if (o->model && ss_is_dir(o->model)) {
        snprintf(j->title, sizeof j->title, "use local model %s", o->model);
        SS_TRY(job_args(j, "info", "--model", p->base_dir, NULL));
    } else if (p->base_is_synth) {
        snprintf(j->title, sizeof j->title, "synthesise %s-BF16 (%s)", p->base, p->arch);
        SS_TRY(job_args(j, "synth", "--arch", p->arch, "--out", p->base_dir, "--seed", "0", "--force", NULL));
        j->synthetic_base = 1;
    } else {
        snprintf(j->title, sizeof j->title, "download %s", p->repo);
        SS_TRY(job_args(j, "download", "--repo", p->repo, "--out", p->base_dir, NULL));
        /* Without network (or any other download failure) the run goes on
         * with synthetic weights of the exact architecture, and says so. */
        SS_TRY(push_arg(j->fallback, &j->nfallback, "slidesparse"));
        const char *fb[] = {"synth", "--arch", p->arch, "--out", p->base_dir, "--seed", "0", "--force"};
        for (size_t i = 0; i < sizeof fb / sizeof fb[0]; i++) SS_TRY(push_arg(j->fallback, &j->nfallback, "%s", fb[i]));
    }
    for (int q = 0; q < 2; q++) {
        const char *DT = q ? "FP8" : "INT8", *dt = model_dtype_lower(DT);
        char key[64];
        snprintf(key, sizeof key, "quantize-%s", dt);
        job *k = add_job(p, 1, key, "quantize");
        if (!k) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
        snprintf(k->dtype, sizeof k->dtype, "%s", DT);
        snprintf(k->model, sizeof k->model, "%s/%s-%s", p->models, p->base, DT);
        snprintf(k->title, sizeof k->title, "quantize %s-%s", p->base, DT);
        SS_TRY(job_args(k, "quantize", "--in", p->base_dir, "--out", k->model, "--dtype", dt, "--force", NULL));
        k->out_kind = OUT_CKPT;
        snprintf(k->out_path, sizeof k->out_path, "%s", k->model);
        add_dep(p, k, "base");
    }
    return SS_OK;
}

static ss_status plan_task2(plan *p) {
    for (int q = 0; q < 2; q++) {
        const char *DT = q ? "FP8" : "INT8", *dt = model_dtype_lower(DT);
        for (size_t l = 0; l < sizeof k_L_task2 / sizeof k_L_task2[0]; l++) {
            char sp[16], key[64], dep[64];
            sparsity_name(k_L_task2[l], sp, sizeof sp);
            snprintf(key, sizeof key, "convert-%s-%s", dt, sp);
            job *j = add_job(p, 2, key, "convert");
            if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
            snprintf(j->dtype, sizeof j->dtype, "%s", DT);
            snprintf(j->sparsity, sizeof j->sparsity, "%s", sp);
            snprintf(j->model, sizeof j->model, "%s/%s-%s-SlideSparse-%s", p->models, p->base, DT, sp);
            snprintf(j->title, sizeof j->title, "convert %s-%s -> %s", p->base, DT, sp);
            char in[2300];
            snprintf(in, sizeof in, "%s/%s-%s", p->models, p->base, DT);
            SS_TRY(job_args(j, "convert", "--in", in, "--out", j->model, "--sparsity", sp, "--force", NULL));
            j->out_kind = OUT_CKPT;
            snprintf(j->out_path, sizeof j->out_path, "%s", j->model);
            snprintf(dep, sizeof dep, "quantize-%s", dt);
            add_dep(p, j, dep);
        }
    }
    return SS_OK;
}

static ss_status plan_task3(plan *p) {
    for (int q = 0; q < 2; q++) {
        const char *DT = q ? "FP8" : "INT8", *dt = model_dtype_lower(DT);
        char key[64], dep[64];
        snprintf(key, sizeof key, "tune-%s", dt);
        job *j = add_job(p, 3, key, "tune");
        if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
        snprintf(j->dtype, sizeof j->dtype, "%s", DT);
        snprintf(j->model, sizeof j->model, "%s/%s-%s", p->models, p->base, DT);
        snprintf(j->title, sizeof j->title, "tune cuBLASLt + cuSPARSELt + kernels for %s-%s", p->base, DT);
        SS_TRY(job_args(j, "tune", "--model", j->model, "--out", p->results, NULL));
        j->needs_gpu = 1;
        snprintf(dep, sizeof dep, "quantize-%s", dt);
        add_dep(p, j, dep);
    }
    return SS_OK;
}

/* Tasks 4-5: dtype x (dense, 2_4..2_10). */
static ss_status plan_throughput(plan *p, int task) {
    int decode = task == 5;
    const char *stage = decode ? "decode" : "prefill";
    char mlist[1024];
    if (decode) m_list_string(p->m_decode, p->n_decode, mlist, sizeof mlist);
    else m_list_string(p->m_prefill, p->n_prefill, mlist, sizeof mlist);
    int cpu = !strcmp(p->backend, "cpu");
    for (int q = 0; q < 2; q++) {
        const char *DT = q ? "FP8" : "INT8", *dt = model_dtype_lower(DT);
        for (int l = -1; l < (int)(sizeof k_L_task2 / sizeof k_L_task2[0]); l++) {
            char sp[16] = "", key[64], dep[64];
            if (l >= 0) sparsity_name(k_L_task2[l], sp, sizeof sp);
            snprintf(key, sizeof key, "%s-%s-%s", stage, dt, l >= 0 ? sp : "dense");
            job *j = add_job(p, task, key, stage);
            if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
            snprintf(j->dtype, sizeof j->dtype, "%s", DT);
            snprintf(j->sparsity, sizeof j->sparsity, "%s", sp);
            if (l >= 0) snprintf(j->model, sizeof j->model, "%s/%s-%s-SlideSparse-%s", p->models, p->base, DT, sp);
            else snprintf(j->model, sizeof j->model, "%s/%s-%s", p->models, p->base, DT);
            snprintf(j->title, sizeof j->title, "%s %s-%s %s", stage, p->base, DT, l >= 0 ? sp : "dense");
            SS_TRY(job_args(j, "bench", stage, "--model", j->model, "--backend", p->backend[0] ? p->backend : "cuda",
                            "--m", mlist, "--out", p->results, NULL));
            if (decode) SS_TRY(push_arg(j->args, &j->nargs, "--output-len=%d", p->decode_output));
            if (p->repeats > 0) SS_TRY(push_arg(j->args, &j->nargs, "--repeats=%d", p->repeats));
            /* task 3's tables steer the engine's GEMM plans as they do the kernel benchmark's */
            if (!cpu && p->gpu.available) SS_TRY(push_arg(j->args, &j->nargs, "--tune-dir=%s", p->tune_dir));
            j->needs_backend = 1;
            /* the result CSV, wherever the GPU and toolchain name the folder */
            const char *dense = cpu ? "cpu_dense" : "cublaslt", *sparse = cpu ? "cpu_slid" : "cusparselt";
            j->out_kind = OUT_CSV;
            j->out_rows = decode ? p->n_decode : p->n_prefill;
            snprintf(j->out_path, sizeof j->out_path, "%s/throughput_benchmark_results/%s/*_%s_*/%s%s%s/%s-%s_%s.csv",
                     p->results, stage, !strcmp(DT, "FP8") ? "FP8E4M3" : DT, l >= 0 ? sparse : dense, l >= 0 ? "/" : "",
                     sp, p->base, DT, stage);
            if (l >= 0) snprintf(dep, sizeof dep, "convert-%s-%s", dt, sp);
            else snprintf(dep, sizeof dep, "quantize-%s", dt);
            add_dep(p, j, dep);
        }
    }
    return SS_OK;
}

static ss_status plan_kernels(plan *p, int task) {
    char mlist[1024];
    m_list_string(p->m_kernel, p->n_kernel, mlist, sizeof mlist);
    int nL = task == 6 ? 1 : 4;
    for (size_t d = 0; d < sizeof k_kernel_dtypes / sizeof k_kernel_dtypes[0]; d++) {
        const char *dt = k_kernel_dtypes[d][0], *DT = k_kernel_dtypes[d][1];
        for (int l = 0; l < nL; l++) {
            char sp[16] = "", key[64];
            if (task == 7) sparsity_name(k_L_task2[l], sp, sizeof sp);
            if (task == 8) sparsity_name(k_L_task8[l], sp, sizeof sp);
            const char *lib = task == 6 ? "cublaslt" : "cusparselt";
            if (task == 6) snprintf(key, sizeof key, "kernel-%s-%s", lib, dt);
            else snprintf(key, sizeof key, "kernel-%s-%s-%s", lib, dt, sp);
            job *j = add_job(p, task, key, "kernel");
            if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
            snprintf(j->dtype, sizeof j->dtype, "%s", DT);
            snprintf(j->sparsity, sizeof j->sparsity, "%s", sp);
            snprintf(j->lib, sizeof j->lib, "%s", task == 6 ? "cuBLASLt" : "cuSPARSELt");
            snprintf(j->model, sizeof j->model, "%s", p->base_dir);
            snprintf(j->title, sizeof j->title, "%s %s%s%s", j->lib, DT, sp[0] ? " " : "", sp);
            /* the (N,K) pairs come from the preset's architecture, or from a local model's config */
            int local = p->o->model && ss_is_dir(p->o->model);
            SS_TRY(job_args(j, "bench", "kernel", "--backend", lib, "--dtype", dt, local ? "--model" : "--arch",
                            local ? p->base_dir : p->arch, "--m", mlist, "--out", p->results, NULL));
            if (sp[0]) SS_TRY(job_args(j, "--sparsity", sp, NULL));
            /* task 3's tables for this GPU and toolchain (a missing folder means the library heuristics) */
            if (p->gpu.available) SS_TRY(push_arg(j->args, &j->nargs, "--tune-dir=%s", p->tune_dir));
            j->needs_gpu = 1;
            /* FP4 E2M1 tensor-core GEMMs exist from Blackwell (cc 10.0) on. */
            if (!strcmp(dt, "fp4e2m1") && p->gpu.available && p->gpu.cc_major < 10)
                snprintf(j->planned_skip, sizeof j->planned_skip,
                         "FP4 (e2m1) needs Blackwell (cc 10.0+); this GPU is cc %d.%d", p->gpu.cc_major,
                         p->gpu.cc_minor);
            if (local) add_dep(p, j, "base");
        }
    }
    return SS_OK;
}

static ss_status plan_build(plan *p) {
    SS_TRY(plan_task1(p));
    SS_TRY(plan_task2(p));
    SS_TRY(plan_task3(p));
    SS_TRY(plan_throughput(p, 4));
    SS_TRY(plan_throughput(p, 5));
    for (int t = 6; t <= 8; t++) SS_TRY(plan_kernels(p, t));
    /* test hook: plant a bad argument in one job (see pipeline.h) */
    const char *brk = p->o->break_job;
    if (brk && *brk) {
        int b = find_job(p, brk);
        if (b < 0) return ss_fail(SS_ERR_ARG, "SS_PIPELINE_BREAK: no job '%s'", brk);
        job *j = &p->jobs[b];
        int done = 0;
        for (int i = 1; i + 1 < j->nargs; i++)
            if (!strcmp(j->args[i], "--sparsity")) {
                free(j->args[i + 1]);
                j->args[i + 1] = strdup("2_5");
                if (!j->args[i + 1]) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
                done = 1;
            }
        if (!done) SS_TRY(push_arg(j->args, &j->nargs, "--planted-fault"));
        ss_warn("SS_PIPELINE_BREAK: job %s runs with a planted bad argument", brk);
    }
    return SS_OK;
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
    int b = find_job(p, "base");
    return b >= 0 && p->jobs[b].synthetic;
}

static ss_status state_save(plan *p, int finished) {
    char now[32];
    now_string(now, sizeof now);
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
    int synth = base_synthetic(p);
    int b = find_job(p, "base");
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

static ss_status run_job(plan *p, int idx) {
    job *j = &p->jobs[idx];
    char why[700];
    j->ran_now = 1;

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

/* GPU presence, asked of a child process (see gpu_probe.h). */
static void probe_gpu(plan *p) {
    if (p->o->cpu_only) {
        memset(&p->gpu, 0, sizeof p->gpu);
        snprintf(p->gpu.reason, sizeof p->gpu.reason, "no CUDA device used (--cpu-only)");
        return;
    }
    char out[8192];
    char *argv[] = {"slidesparse", "gpu-info", NULL};
    ss_child_result r;
    json_t *j = NULL;
    if (ss_run_child(p->o->bin, argv, p->log, 120, out, sizeof out, &r) == SS_OK) {
        for (char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
            if (*line == '{' && (j = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL)) != NULL) break;
    }
    ss_clear_error();
    if (j && ss_device_probe_from_json(j, &p->gpu) == SS_OK) {
        if (!p->gpu.available && !p->gpu.reason[0]) snprintf(p->gpu.reason, sizeof p->gpu.reason, "no CUDA device");
    } else {
        memset(&p->gpu, 0, sizeof p->gpu);
        snprintf(p->gpu.reason, sizeof p->gpu.reason, "no CUDA device (the probe failed: %s)",
                 r.error[0] ? r.error : "no answer");
    }
    json_decref(j);
}

static ss_status copy_m_list(int64_t *dst, int *n, const int64_t *src, int nsrc, const int64_t *def, int ndef) {
    if (!src) {
        src = def;
        nsrc = ndef;
    }
    if (nsrc > 64) return ss_fail(SS_ERR_ARG, "pipeline: at most 64 M values per list");
    memcpy(dst, src, (size_t)nsrc * sizeof *dst);
    *n = nsrc;
    return SS_OK;
}

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

static ss_status plan_setup(plan *p, const ss_pipeline_opts *o) {
    p->o = o;
    p->t0 = ss_now();
    p->tasks = o->tasks ? o->tasks : 0x1feu;
    if (!o->bin) return ss_fail(SS_ERR_ARG, "pipeline: the slidesparse binary is not known");
    now_string(p->started, sizeof p->started);

    /* The GPU is asked before the preset is chosen; its answer is logged
     * once the log is open. */
    probe_gpu(p);
    const char *preset = o->preset ? o->preset : p->gpu.available ? "bitnet-2b" : "tiny";
    if (!strcmp(preset, "bitnet-2b")) {
        snprintf(p->base, sizeof p->base, "BitNet-2B");
        snprintf(p->arch, sizeof p->arch, "bitnet-2b");
        snprintf(p->repo, sizeof p->repo, "microsoft/bitnet-b1.58-2B-4T-bf16");
    } else if (!strcmp(preset, "tiny")) {
        snprintf(p->base, sizeof p->base, "Tiny");
        snprintf(p->arch, sizeof p->arch, "tiny");
    } else {
        return ss_fail(SS_ERR_ARG, "pipeline: unknown preset '%s' (bitnet-2b or tiny)", preset);
    }
    snprintf(p->preset, sizeof p->preset, "%s", preset);

    if (o->out_dir) snprintf(p->out, sizeof p->out, "%s", o->out_dir);
    else snprintf(p->out, sizeof p->out, "out/%s", preset);
    if (o->models_dir) snprintf(p->models, sizeof p->models, "%s", o->models_dir);
    else snprintf(p->models, sizeof p->models, "%s/models", p->out);
    snprintf(p->results, sizeof p->results, "%s/results", p->out);
    char hw[300];
    ss_device_hw_tag(&p->gpu, hw, sizeof hw);
    snprintf(p->tune_dir, sizeof p->tune_dir, "%s/tuning/%s_%s", p->results, hw, p->gpu.toolchain_tag);
    snprintf(p->state_path, sizeof p->state_path, "%s/pipeline_state.json", p->out);
    snprintf(p->log_path, sizeof p->log_path, "%s/pipeline.log", p->out);
    SS_TRY(ss_mkdir_p(p->out));
    SS_TRY(ss_mkdir_p(p->models));
    SS_TRY(ss_mkdir_p(p->results));
    p->log = fopen(p->log_path, "a");
    if (!p->log) return ss_fail_errno("cannot open %s", p->log_path);

    /* where the BF16 base comes from */
    if (o->model && ss_is_dir(o->model)) {
        snprintf(p->base_dir, sizeof p->base_dir, "%s", o->model);
        snprintf(p->source, sizeof p->source, "%s (local folder)", o->model);
    } else {
        snprintf(p->base_dir, sizeof p->base_dir, "%s/%s-BF16", p->models, p->base);
        if (o->model) snprintf(p->repo, sizeof p->repo, "%s", o->model);
        p->base_is_synth = !p->repo[0] || o->synthetic;
        if (p->base_is_synth) {
            snprintf(p->source, sizeof p->source, "synthetic:0 (%s architecture)", p->arch);
            snprintf(p->synth_note, sizeof p->synth_note, "synthetic weights (%s)",
                     o->synthetic ? "--synthetic" : "the tiny preset has no published checkpoint");
        } else {
            snprintf(p->source, sizeof p->source, "%s", p->repo);
        }
    }

    /* tasks 4-5: the CUDA engine, or the CPU reference for the tiny preset */
    if (p->gpu.available) {
        snprintf(p->backend, sizeof p->backend, "cuda");
    } else if (!strcmp(preset, "tiny")) {
        snprintf(p->backend, sizeof p->backend, "cpu");
    } else {
        snprintf(p->backend_reason, sizeof p->backend_reason,
                 "%s; the CPU reference engine runs tasks 4-5 for --preset tiny only", p->gpu.reason);
    }
    int cpu = !strcmp(p->backend, "cpu");
    SS_TRY(copy_m_list(p->m_prefill, &p->n_prefill, o->m_prefill, o->n_prefill, cpu ? k_m_prefill_cpu : k_m_prefill_gpu,
                       cpu ? COUNT(k_m_prefill_cpu) : COUNT(k_m_prefill_gpu)));
    SS_TRY(copy_m_list(p->m_decode, &p->n_decode, o->m_decode, o->n_decode, cpu ? k_m_decode_cpu : k_m_decode_gpu,
                       cpu ? COUNT(k_m_decode_cpu) : COUNT(k_m_decode_gpu)));
    SS_TRY(copy_m_list(p->m_kernel, &p->n_kernel, o->m_kernel, o->n_kernel, k_m_kernel, COUNT(k_m_kernel)));
    p->decode_output = o->decode_output > 0 ? o->decode_output : cpu ? CPU_DECODE_OUTPUT : 256;
    p->repeats = o->repeats;
    return SS_OK;
}

static void log_header(plan *p) {
    char now[32];
    now_string(now, sizeof now);
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
    ss_status st = plan_setup(&p, o);
    if (st == SS_OK) {
        log_header(&p);
        st = state_load_prev(&p);
    }
    if (st == SS_OK && p.prev) keep_prev_lists(&p);
    if (st == SS_OK) st = plan_build(&p);
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
            now_string(now, sizeof now);
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
    plan_free(&p);
    return st;
}
