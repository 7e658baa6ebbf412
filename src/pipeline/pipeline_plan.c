/* The pipeline's plan: every job of tasks 1-8 (and the quality jobs of
 * --eval-text) with its command, output and the jobs it needs; and the
 * setup it follows from (options, folders, GPU, backend, M lists). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/timer.h"
#include "pipeline/pipeline_internal.h"

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

void pl_now_string(char *out, size_t cap) {
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S", &tm);
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

void pl_plan_free(plan *p) {
    for (int i = 0; i < p->n; i++) {
        free_args(p->jobs[i].args, p->jobs[i].nargs);
        free_args(p->jobs[i].fallback, p->jobs[i].nfallback);
        free_args(p->jobs[i].synth_args, p->jobs[i].nsynth_args);
    }
    free(p->jobs);
    json_decref(p->prev);
    json_decref(p->prev_jobs);
    json_decref(p->runs);
    if (p->log) fclose(p->log);
    memset(p, 0, sizeof *p);
}

int pl_find_job(const plan *p, const char *key) {
    for (int i = 0; i < p->n; i++)
        if (!strcmp(p->jobs[i].key, key)) return i;
    return -1;
}

static void add_dep(plan *p, job *j, const char *key) {
    int d = pl_find_job(p, key);
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

/* ---- quality (--eval-text / --eval-tokens): see pipeline.h ---- */

/* The token file that feeds the eval (or calibration) jobs: the user's
 * token file as it is, or a `tokenize` job's output made from their text
 * with the base model's tokenizer (one id per byte when the base is
 * synthetic and has none). *key: that job's key ("" when none). */
static ss_status quality_tokens(plan *p, const char *which, const char *input, int is_text, char *tokens,
                                size_t cap, char *key, size_t kcap) {
    key[0] = '\0';
    if (!is_text) {
        snprintf(tokens, cap, "%s", input);
        return SS_OK;
    }
    snprintf(key, kcap, "tokens-%s", which);
    job *j = add_job(p, 2, key, "tokenize");
    if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
    snprintf(j->out_path, sizeof j->out_path, "%s/quality/%s.tokens", p->results, which);
    snprintf(tokens, cap, "%s", j->out_path);
    snprintf(j->model, sizeof j->model, "%s", p->base_dir);
    j->out_kind = OUT_TOKENS;
    /* the byte form, for a base that is synthetic now or turns out so (a failed download) */
    char **bytes = p->base_is_synth ? j->args : j->synth_args;
    int *nbytes = p->base_is_synth ? &j->nargs : &j->nsynth_args;
    const char *b[] = {"slidesparse", "tokenize", "--bytes", "--text", input, "--out", j->out_path};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) SS_TRY(push_arg(bytes, nbytes, "%s", b[i]));
    if (!p->base_is_synth)
        SS_TRY(job_args(j, "tokenize", "--tokenizer", p->base_dir, "--text", input, "--out", j->out_path, NULL));
    snprintf(j->title, sizeof j->title, "tokenize the %s text%s", !strcmp(which, "eval") ? "evaluation" : "calibration",
             p->base_is_synth ? " (one id per byte: a synthetic base has no tokenizer)" : "");
    add_dep(p, j, "base");
    return SS_OK;
}

static ss_status add_eval_job(plan *p, const char *DT, const char *sp, const char *method, const char *model,
                              const char *dep) {
    char key[64];
    const char *dt = model_dtype_lower(DT);
    snprintf(key, sizeof key, "eval-%s-%s-%s", dt, sp[0] ? sp : "dense", method);
    job *j = add_job(p, 2, key, "eval");
    if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
    snprintf(j->dtype, sizeof j->dtype, "%s", DT);
    snprintf(j->sparsity, sizeof j->sparsity, "%s", sp);
    snprintf(j->model, sizeof j->model, "%s", model);
    snprintf(j->title, sizeof j->title, "perplexity %s-%s %s%s%s", p->base, DT, sp[0] ? sp : "dense",
             sp[0] ? " " : "", sp[0] ? method : "");
    snprintf(j->out_path, sizeof j->out_path, "%s/quality/%s-%s/%s_%s.json", p->results, p->base, DT,
             sp[0] ? sp : "dense", method);
    /* the CUDA engine where tasks 4-5 use it (a 2B model on the CPU takes hours), else the CPU reference */
    SS_TRY(job_args(j, "eval", "--model", model, "--tokens", p->q.eval_tokens, "--backend",
                    !strcmp(p->backend, "cuda") ? "cuda" : "cpu", "--out", j->out_path, NULL));
    if (p->q.ctx > 0) SS_TRY(push_arg(j->args, &j->nargs, "--ctx=%d", p->q.ctx));
    j->out_kind = OUT_JSON;
    add_dep(p, j, dep);
    add_dep(p, j, p->q.eval_key);
    return SS_OK;
}

/* A Wanda-pruned twin of task 2's magnitude model of the same dtype and sparsity. */
static ss_status add_wanda_job(plan *p, const char *DT, const char *sp, const char *model, char *key, size_t kcap) {
    const char *dt = model_dtype_lower(DT);
    char dense[2300], dep[64];
    snprintf(dense, sizeof dense, "%s/%s-%s", p->models, p->base, DT);
    snprintf(dep, sizeof dep, "quantize-%s", dt);
    snprintf(key, kcap, "wanda-%s-%s", dt, sp);
    job *j = add_job(p, 2, key, "convert");
    if (!j) return ss_fail(SS_ERR_NOMEM, "pipeline: out of memory");
    snprintf(j->dtype, sizeof j->dtype, "%s", DT);
    snprintf(j->sparsity, sizeof j->sparsity, "%s", sp);
    snprintf(j->model, sizeof j->model, "%s", model);
    snprintf(j->title, sizeof j->title, "convert %s-%s -> %s (wanda)", p->base, DT, sp);
    SS_TRY(job_args(j, "convert", "--in", dense, "--out", j->model, "--sparsity", sp, "--method", "wanda",
                    "--calib-tokens", p->q.calib_tokens, "--force", NULL));
    if (p->q.ctx > 0) SS_TRY(push_arg(j->args, &j->nargs, "--calib-ctx=%d", p->q.ctx));
    j->out_kind = OUT_CKPT;
    snprintf(j->out_path, sizeof j->out_path, "%s", j->model);
    add_dep(p, j, dep);
    add_dep(p, j, p->q.calib_key);
    return SS_OK;
}

static ss_status plan_quality(plan *p) {
    quality_opts *q = &p->q;
    for (int d = 0; d < 2; d++) { /* where the tokenize and eval jobs write (they make no folders) */
        char dir[2400];
        snprintf(dir, sizeof dir, "%s/quality/%s-%s", p->results, p->base, d ? "FP8" : "INT8");
        SS_TRY(ss_mkdir_p(dir));
    }
    SS_TRY(quality_tokens(p, "eval", q->eval, q->eval_is_text, q->eval_tokens, sizeof q->eval_tokens, q->eval_key,
                          sizeof q->eval_key));
    if (q->calib[0]) {
        SS_TRY(quality_tokens(p, "calib", q->calib, q->calib_is_text, q->calib_tokens, sizeof q->calib_tokens,
                              q->calib_key, sizeof q->calib_key));
    } else { /* the default slice: convert's first --calib-n tokens of the evaluated text */
        snprintf(q->calib_tokens, sizeof q->calib_tokens, "%s", q->eval_tokens);
        snprintf(q->calib_key, sizeof q->calib_key, "%s", q->eval_key);
    }
    for (int d = 0; d < 2; d++) {
        const char *DT = d ? "FP8" : "INT8", *dt = model_dtype_lower(DT);
        char dense[2300], dep[64];
        snprintf(dense, sizeof dense, "%s/%s-%s", p->models, p->base, DT);
        snprintf(dep, sizeof dep, "quantize-%s", dt);
        SS_TRY(add_eval_job(p, DT, "", "magnitude", dense, dep));
        for (size_t l = 0; l < sizeof k_L_task2 / sizeof k_L_task2[0]; l++) {
            char sp[16], key[64], mag[2300], wanda[2400];
            sparsity_name(k_L_task2[l], sp, sizeof sp);
            snprintf(mag, sizeof mag, "%s/%s-%s-SlideSparse-%s", p->models, p->base, DT, sp);
            snprintf(key, sizeof key, "convert-%s-%s", dt, sp);
            SS_TRY(add_eval_job(p, DT, sp, "magnitude", mag, key));
            snprintf(wanda, sizeof wanda, "%s-wanda", mag);
            SS_TRY(add_wanda_job(p, DT, sp, wanda, key, sizeof key));
            SS_TRY(add_eval_job(p, DT, sp, "wanda", wanda, key));
        }
    }
    return SS_OK;
}

/* The quality inputs of this run: its options, or (task 2 not run now and
 * none given) the earlier run's, so their jobs keep their records as the
 * other unselected tasks' jobs do. Paths are made absolute: the jobs'
 * command lines (what --resume compares) must not depend on the cwd. */
static ss_status quality_setup(plan *p) {
    const ss_pipeline_opts *o = p->o;
    quality_opts *q = &p->q;
    memset(q, 0, sizeof *q);
    const char *ev = o->eval_text ? o->eval_text : o->eval_tokens;
    const char *cb = o->calib_text ? o->calib_text : o->calib_tokens;
    if (!ev) {
        const json_t *prev = json_object_get(json_object_get(p->prev, "options"), "quality");
        const char *pe = json_string_value(json_object_get(prev, "eval"));
        if ((p->tasks & (1u << 2)) || !pe) return SS_OK;
        snprintf(q->eval, sizeof q->eval, "%s", pe);
        q->eval_is_text = json_is_true(json_object_get(prev, "eval_is_text"));
        const char *pc = json_string_value(json_object_get(prev, "calib"));
        if (pc) snprintf(q->calib, sizeof q->calib, "%s", pc);
        q->calib_is_text = json_is_true(json_object_get(prev, "calib_is_text"));
        json_int_t ctx = json_integer_value(json_object_get(prev, "ctx"));
        q->ctx = ctx > 0 && ctx <= (1 << 20) ? (int)ctx : 0;
        q->on = 1;
        return SS_OK;
    }
    char abs[PATH_MAX];
    if (!realpath(ev, abs)) return ss_fail_errno("--eval-%s %s", o->eval_text ? "text" : "tokens", ev);
    snprintf(q->eval, sizeof q->eval, "%s", abs);
    q->eval_is_text = o->eval_text != NULL;
    if (cb) {
        if (!realpath(cb, abs)) return ss_fail_errno("--calib-%s %s", o->calib_text ? "text" : "tokens", cb);
        snprintf(q->calib, sizeof q->calib, "%s", abs);
        q->calib_is_text = o->calib_text != NULL;
    }
    q->ctx = o->eval_ctx;
    q->on = 1;
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

ss_status pl_plan_build(plan *p) {
    SS_TRY(plan_task1(p));
    SS_TRY(plan_task2(p));
    SS_TRY(quality_setup(p));
    if (p->q.on) SS_TRY(plan_quality(p));
    SS_TRY(plan_task3(p));
    SS_TRY(plan_throughput(p, 4));
    SS_TRY(plan_throughput(p, 5));
    for (int t = 6; t <= 8; t++) SS_TRY(plan_kernels(p, t));
    /* test hook: plant a bad argument in one job (see pipeline.h) */
    const char *brk = p->o->break_job;
    if (brk && *brk) {
        int b = pl_find_job(p, brk);
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

ss_status pl_plan_setup(plan *p, const ss_pipeline_opts *o) {
    p->o = o;
    p->t0 = ss_now();
    p->tasks = o->tasks ? o->tasks : 0x1feu;
    if (!o->bin) return ss_fail(SS_ERR_ARG, "pipeline: the slidesparse binary is not known");
    pl_now_string(p->started, sizeof p->started);

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
