/* Kernel benchmark jobs (tasks 6-8): one (library, dtype, sparsity) over a
 * model's (N, K) pairs, its result files, process isolation, and the
 * offline tuning search (task 3). See bench_kernel.h. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_kernel.h"
#include "bench/kbench_data.h"
#include "bench/throughput_results.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "io/config.h"
#include "tune/tune.h"

void ss_kbench_model_nk(const ss_model_config *c, int64_t N[4], int64_t K[4]) {
    const int64_t hd = c->head_dim > 0 ? c->head_dim : c->hidden / c->n_heads;
    N[0] = (int64_t)(c->n_heads + 2 * c->n_kv_heads) * hd, K[0] = c->hidden; /* qkv */
    N[1] = c->hidden, K[1] = (int64_t)c->n_heads * hd;                        /* o */
    N[2] = 2 * (int64_t)c->intermediate, K[2] = c->hidden;                    /* gate_up */
    N[3] = c->hidden, K[3] = c->intermediate;                                 /* down */
}

static const char *dt_folder(ss_gemm_dtype d) {
    static const char *const names[] = {"BF16", "FP16", "INT8", "FP8", "FP4"};
    return (unsigned)d < SS_GEMM_DTYPE_COUNT ? names[d] : "?";
}

static void mark_all(ss_kbench_point *pts, int n, const char *fmt, const char *msg) {
    for (int i = 0; i < n; i++) {
        pts[i].ok = 0;
        snprintf(pts[i].status, sizeof pts[i].status, fmt, msg);
    }
}

static void init_points(const ss_kbench_job *j, ss_kbench_point *pts) {
    for (int k = 0; k < j->n_nk; k++)
        for (int m = 0; m < j->n_m; m++) {
            ss_kbench_point *p = &pts[k * j->n_m + m];
            memset(p, 0, sizeof *p);
            p->backend = j->backend;
            p->dtype = j->dtype;
            p->L = j->L;
            p->M = j->M[m];
            p->N = j->N[k];
            p->K = j->K[k];
            snprintf(p->status, sizeof p->status, "not run");
        }
}

/* ---- result files ---- */

static ss_status job_paths(const ss_kbench_job *j, const ss_gpu_info *gpu, const char *toolchain, const char *lib,
                           ss_gemm_dtype dt, int L, char *dir, size_t dcap, char *stem, size_t scap) {
    char hw[300], sp[16] = "";
    ss_tune_hw_name(gpu, hw, sizeof hw);
    if (L) {
        sp[0] = '_';
        ss_sparsity_name(L, sp + 1, (int)sizeof sp - 1);
    }
    int n = snprintf(dir, dcap, "%s/benchmark_kernel/%s/alg_search_results/%s_%s/%s", j->results, lib, hw, toolchain,
                     dt_folder(dt));
    int m = snprintf(stem, scap, "alg_search_%s-%s%s", j->model ? j->model : "model", dt_folder(dt), sp);
    if (n < 0 || (size_t)n >= dcap || m < 0 || (size_t)m >= scap)
        return ss_fail(SS_ERR_ARG, "%s: result path too long", j->results);
    return SS_OK;
}

/* lat_us of the dense job's CSV at (M, N, K); NAN when absent. */
typedef struct dense_rows {
    int n;
    int64_t *M, *N, *K;
    double *lat;
} dense_rows;

static void dense_free(dense_rows *d) {
    free(d->M);
    free(d->N);
    free(d->K);
    free(d->lat);
    memset(d, 0, sizeof *d);
}

static int col_of(char *header, const char *name) {
    int i = 0;
    for (char *tok = strtok(header, ",\n"); tok; tok = strtok(NULL, ",\n"), i++)
        if (!strcmp(tok, name)) return i;
    return -1;
}

static void dense_load(const char *path, dense_rows *d) {
    memset(d, 0, sizeof *d);
    char *text = NULL;
    size_t len = 0;
    if (ss_read_file(path, &text, &len) != SS_OK) {
        ss_clear_error();
        return;
    }
    char *nl = strchr(text, '\n');
    if (!nl) {
        free(text);
        return;
    }
    char header[4096];
    snprintf(header, sizeof header, "%.*s", (int)(nl - text), text);
    char h1[4096], h2[4096], h3[4096];
    memcpy(h1, header, sizeof h1), memcpy(h2, header, sizeof h2), memcpy(h3, header, sizeof h3);
    int cm = col_of(header, "M"), cn = col_of(h1, "N"), ck = col_of(h2, "K"), cl = col_of(h3, "lat_us");
    int rows = 0;
    for (char *c = nl; *c; c++) rows += *c == '\n';
    d->M = calloc((size_t)rows + 1, sizeof(int64_t));
    d->N = calloc((size_t)rows + 1, sizeof(int64_t));
    d->K = calloc((size_t)rows + 1, sizeof(int64_t));
    d->lat = calloc((size_t)rows + 1, sizeof(double));
    if (cm < 0 || cn < 0 || ck < 0 || cl < 0 || !d->M || !d->N || !d->K || !d->lat) {
        free(text);
        dense_free(d);
        return;
    }
    for (char *line = nl + 1; *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = 0;
        double v[64];
        int nv = 0;
        for (char *f = line; nv < 64;) { /* the numeric columns come before the quoted status */
            v[nv++] = strtod(f, NULL);
            char *comma = strchr(f, ',');
            if (!comma) break;
            f = comma + 1;
        }
        if (cm < nv && cn < nv && ck < nv && cl < nv && v[cl] > 0) {
            d->M[d->n] = (int64_t)v[cm], d->N[d->n] = (int64_t)v[cn], d->K[d->n] = (int64_t)v[ck];
            d->lat[d->n++] = v[cl];
        }
        if (!end) break;
        line = end + 1;
    }
    free(text);
}

static double dense_at(const dense_rows *d, int64_t M, int64_t N, int64_t K) {
    for (int i = 0; i < d->n; i++)
        if (d->M[i] == M && d->N[i] == N && d->K[i] == K) return d->lat[i];
    return NAN;
}

static void csv_field(char *out, size_t cap, const char *s) { /* the status, quoted, commas and quotes made safe */
    size_t k = 0;
    out[k++] = '"';
    for (; *s && k + 2 < cap; s++) out[k++] = *s == '"' ? '\'' : *s == ',' ? ';' : *s == '\n' ? ' ' : *s;
    out[k++] = '"';
    out[k] = 0;
}

static json_t *num_or_null(double v) { return isnan(v) || v <= 0 ? json_null() : json_real(v); }

ss_status ss_kbench_write(const ss_kbench_job *j, const ss_gpu_info *gpu, const char *toolchain,
                          const ss_kbench_opts *o, const ss_kbench_point *pts, char *csv_path, size_t cap) {
    if (!j->results) return SS_OK;
    const char *lib = j->backend == SS_BACKEND_CUSPARSELT ? "cuSPARSELt"
                      : j->backend == SS_BACKEND_CUBLASLT ? "cuBLASLt"
                                                          : ss_backend_name(j->backend); /* ours, ours_dense */
    char dir[2048], stem[512], ddir[2048], dstem[512], path[2600], jpath[2600], dpath[2600];
    SS_TRY(job_paths(j, gpu, toolchain, lib, j->dtype, j->L, dir, sizeof dir, stem, sizeof stem));
    SS_TRY(ss_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/%s.csv", dir, stem);
    snprintf(jpath, sizeof jpath, "%s/%s.json", dir, stem);
    dense_rows dense = {0};
    if (j->L) { /* the dense baseline of the same model, dtype and hardware, if it ran */
        SS_TRY(job_paths(j, gpu, toolchain, "cuBLASLt", j->dtype, 0, ddir, sizeof ddir, dstem, sizeof dstem));
        snprintf(dpath, sizeof dpath, "%s/%s.csv", ddir, dstem);
        dense_load(dpath, &dense);
    }
    const int n = j->n_nk * j->n_m;
    ss_afile f;
    ss_status st = ss_afile_open(&f, path);
    if (!st)
        st = ss_afile_printf(&f, "M,N,K,K_used,lat_us,lat_us_min,lat_us_max,fused_us,linear_us,tops,speedup,alg_id,"
                                 "split_k,candidate,candidates,from_table,sm_mhz,power_w,status\n");
    json_t *jpts = json_array();
    for (int i = 0; !st && i < n; i++) {
        const ss_kbench_point *p = &pts[i];
        double sp = p->ok && j->L ? dense_at(&dense, p->M, p->N, p->K) / p->gemm_us : NAN;
        double tops = p->ok ? 2.0 * p->M * p->N * p->K / (p->gemm_us * 1e6) : NAN;
        char status[400], spb[32] = "", topb[32] = "";
        csv_field(status, sizeof status, p->status);
        if (!isnan(sp)) snprintf(spb, sizeof spb, "%.4f", sp);
        if (!isnan(tops)) snprintf(topb, sizeof topb, "%.1f", tops);
        if (p->ok)
            st = ss_afile_printf(&f, "%lld,%lld,%lld,%lld,%.2f,%.2f,%.2f,%.2f,%.2f,%s,%s,%d,%d,%d,%d,%d,%.0f,%.1f,%s\n",
                                 (long long)p->M, (long long)p->N, (long long)p->K, (long long)p->K_act, p->gemm_us,
                                 p->gemm_us_min, p->gemm_us_max, p->fused_us, p->linear_us, topb, spb, p->alg_id,
                                 p->split_k, p->candidate, p->candidates, p->from_table, p->sm_mhz, p->power_w, status);
        else
            st = ss_afile_printf(&f, "%lld,%lld,%lld,%lld,,,,,,,,,,,,,,,%s\n", (long long)p->M, (long long)p->N,
                                 (long long)p->K, (long long)p->K_act, status);
        json_t *jp = json_pack("{s:I, s:I, s:I, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:b, s:f, s:f}",
                               "M", (json_int_t)p->M, "N", (json_int_t)p->N, "K", (json_int_t)p->K, "K_used",
                               (json_int_t)p->K_act, "status", p->status, "lat_us", num_or_null(p->ok ? p->gemm_us : 0),
                               "fused_us", num_or_null(p->ok ? p->fused_us : 0), "linear_us",
                               num_or_null(p->ok ? p->linear_us : 0), "tops", num_or_null(tops), "speedup",
                               num_or_null(sp), "alg_id", p->alg_id, "split_k", p->split_k, "candidate", p->candidate,
                               "candidates", p->candidates, "from_table", p->from_table, "sm_mhz", p->sm_mhz,
                               "power_w", p->power_w);
        if (jp && jpts) json_array_append_new(jpts, jp);
    }
    if (!st) st = ss_afile_commit(&f);
    else ss_afile_abort(&f);

    /* JSON: meta, points, and per-M totals over the (N, K) pairs */
    json_t *totals = json_array();
    for (int m = 0; totals && m < j->n_m; m++) {
        double lat = 0, fu = 0, li = 0, dl = 0;
        int ok = 1;
        for (int k = 0; k < j->n_nk; k++) {
            const ss_kbench_point *p = &pts[k * j->n_m + m];
            ok &= p->ok;
            lat += p->gemm_us, fu += p->fused_us, li += p->linear_us;
            dl += j->L ? dense_at(&dense, p->M, p->N, p->K) : NAN;
        }
        json_array_append_new(totals, json_pack("{s:I, s:b, s:o, s:o, s:o, s:o}", "M", (json_int_t)j->M[m], "ok", ok,
                                                "lat_us", num_or_null(ok ? lat : 0), "fused_us",
                                                num_or_null(ok ? fu : 0), "linear_us", num_or_null(ok ? li : 0),
                                                "speedup", num_or_null(ok ? dl / lat : NAN)));
    }
    dense_free(&dense);
    char sp[16], cc[16];
    ss_kbench_sparsity_name(j->L, sp, sizeof sp);
    snprintf(cc, sizeof cc, "%d.%d", gpu->cc_major, gpu->cc_minor);
    json_t *root = json_pack(
        "{s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:f, s:s}, s:o, s:o}", "meta", "gpu_name", gpu->name, "cc",
        cc, "toolchain", toolchain, "lib", lib, "dtype", ss_gemm_dtype_name(j->dtype), "sparsity", sp, "model",
        j->model ? j->model : "model", "cublaslt_version", (json_int_t)gpu->cublaslt_version, "cusparselt_version",
        gpu->cusparselt_version, "repeats", o ? o->repeats : 0, "batch_us", o ? o->batch_us : 0.0, "method",
        "median of CUDA-event-timed batches after warm-up; lat_us = the GEMM alone (see bench_kernel.h)", "points",
        jpts ? jpts : json_array(), "totals", totals ? totals : json_array());
    if (!st && !root) st = ss_fail(SS_ERR_NOMEM, "%s: no memory for the JSON", jpath);
    if (!st) st = ss_json_save(jpath, root);
    json_decref(root);
    if (!st && csv_path) snprintf(csv_path, cap, "%s", path);
    return st;
}

/* ---- running a job ---- */

ss_status ss_kbench_job_run(const ss_kbench_job *j, const ss_kbench_opts *o, ss_kbench_point *pts, char *csv_path,
                            size_t cap) {
    const int n = j->n_nk * j->n_m;
    init_points(j, pts);
    if (ss_backend_sparse(j->backend) != (j->L != 0))
        return ss_fail(SS_ERR_ARG, "kernel job: %s runs %s", ss_backend_name(j->backend),
                       ss_backend_sparse(j->backend) ? "a sparsity (2_L)" : "dense");
    ss_gpu_info gpu;
    ss_status st = ss_gpu_info_get(0, &gpu);
    if (st) {
        mark_all(pts, n, "skipped: %s", ss_errmsg());
        return st;
    }
    char toolchain[128];
    ss_toolchain_tag_lib(gpu.cusparselt_version, toolchain, sizeof toolchain);
    st = ss_gemm_supported(&gpu, j->backend, j->dtype);
    if (st == SS_ERR_UNSUPPORTED) { /* recorded as skipped, with the reason */
        char why[320];
        snprintf(why, sizeof why, "%s", ss_errmsg());
        mark_all(pts, n, "skipped: %s", why);
        SS_TRY(ss_kbench_write(j, &gpu, toolchain, o, pts, csv_path, cap));
        return ss_fail(SS_ERR_UNSUPPORTED, "%s", why);
    }
    SS_TRY(st);
    ss_gemm_ctx *ctx = NULL;
    SS_TRY(ss_gemm_ctx_create(0, NULL, NULL, &ctx));
    ss_tune_table table;
    ss_tune_table_init(&table);
    if (j->tune_dir) {
        st = ss_tune_load_dir(&table, j->tune_dir);
        if (!st) ss_tune_attach(ctx, &table);
    }
    if (!st && j->planted_fault) st = ss_gpu_plant_fault(ctx);
    if (st) mark_all(pts, n, "error: %s", ss_errmsg());
    for (int k = 0; !st && k < j->n_nk; k++) {
        st = ss_kbench_run(ctx, j->backend, j->dtype, j->L, j->N[k], j->K[k], j->M, j->n_m, o, &pts[k * j->n_m]);
        if (st) { /* the context is broken: the rest cannot run */
            char why[320];
            snprintf(why, sizeof why, "%s", ss_errmsg());
            for (int i = (k + 1) * j->n_m; i < n; i++)
                snprintf(pts[i].status, sizeof pts[i].status, "error: not run after a device fault: %s", why);
            ss_fail(st, "%s", why);
        }
    }
    if (!st) /* the first failed point, if any */
        for (int i = 0; i < n && !st; i++)
            if (!pts[i].ok) st = ss_fail(strncmp(pts[i].status, "skipped", 7) ? SS_ERR_LIB : SS_ERR_UNSUPPORTED,
                                         "M=%lld N=%lld K=%lld: %s", (long long)pts[i].M, (long long)pts[i].N,
                                         (long long)pts[i].K, pts[i].status);
    char why[400];
    snprintf(why, sizeof why, "%s", st ? ss_errmsg() : "");
    ss_gemm_ctx_destroy(ctx);
    ss_tune_table_free(&table);
    ss_status wst = ss_kbench_write(j, &gpu, toolchain, o, pts, csv_path, cap);
    if (st) return ss_fail(st, "%s", why);
    return wst;
}

/* ---- process isolation ---- */

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static size_t read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    return got;
}

typedef struct child_head {
    int status;
    char msg[1024];
} child_head;

/* Runs fn(arg, out, out_bytes) in a child; its status, message and out
 * come back through a pipe. */
static ss_status in_child(ss_status (*fn)(void *arg, void *out), void *arg, void *out, size_t out_bytes,
                          const char *what, int *signaled) {
    int fd[2];
    *signaled = 0;
    if (pipe(fd) != 0) return ss_fail_errno("%s: pipe", what);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd[0]), close(fd[1]);
        return ss_fail_errno("%s: fork", what);
    }
    if (pid == 0) {
        close(fd[0]);
        child_head h;
        memset(&h, 0, sizeof h);
        h.status = fn(arg, out);
        snprintf(h.msg, sizeof h.msg, "%s", h.status ? ss_errmsg() : "");
        int bad = write_all(fd[1], &h, sizeof h) || write_all(fd[1], out, out_bytes);
        close(fd[1]);
        fflush(stdout);
        fflush(stderr);
        _exit(bad ? 3 : h.status ? 1 : 0);
    }
    close(fd[1]);
    child_head h;
    size_t got = read_all(fd[0], &h, sizeof h);
    if (got == sizeof h) got += read_all(fd[0], out, out_bytes);
    close(fd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(ws)) {
        *signaled = 1;
        return ss_fail(SS_ERR_CUDA, "%s: job process killed by signal %d (%s)", what, WTERMSIG(ws),
                       strsignal(WTERMSIG(ws)));
    }
    if (got != sizeof h + out_bytes)
        return ss_fail(SS_ERR_INTERNAL, "%s: job process ended (exit %d) without its results", what,
                       WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    if (h.status) return ss_fail((ss_status)h.status, "%s", h.msg);
    return SS_OK;
}

typedef struct job_arg {
    const ss_kbench_job *job;
    const ss_kbench_opts *o;
} job_arg;

static ss_status job_fn(void *arg, void *out) {
    job_arg *a = arg;
    return ss_kbench_job_run(a->job, a->o, out, NULL, 0);
}

ss_status ss_kbench_job_isolated(const ss_kbench_job *job, const ss_kbench_opts *o, ss_kbench_point *pts) {
    const int n = job->n_nk * job->n_m;
    init_points(job, pts);
    job_arg a = {job, o};
    char what[128], sp[16];
    snprintf(what, sizeof what, "kernel job %s %s %s", ss_backend_name(job->backend), ss_gemm_dtype_name(job->dtype),
             ss_kbench_sparsity_name(job->L, sp, sizeof sp));
    int signaled = 0;
    ss_status st = in_child(job_fn, &a, pts, (size_t)n * sizeof *pts, what, &signaled);
    if (st && (signaled || st == SS_ERR_INTERNAL)) mark_all(pts, n, "error: %s", ss_errmsg());
    return st;
}

static ss_status count_fn(void *arg, void *out) {
    (void)arg;
    *(int *)out = ss_gpu_count();
    return SS_OK;
}

int ss_gpu_count_isolated(void) {
    int n = 0, sig;
    if (in_child(count_fn, NULL, &n, sizeof n, "GPU count", &sig) != SS_OK) {
        ss_clear_error();
        return 0;
    }
    return n;
}

static ss_status info_fn(void *arg, void *out) {
    (void)arg;
    return ss_gpu_info_get(0, out);
}

ss_status ss_gpu_info_isolated(ss_gpu_info *info) {
    int sig;
    return in_child(info_fn, NULL, info, sizeof *info, "GPU info", &sig);
}

/* ---- offline tuning (task 3) ---- */

/* FP4 (NVFP4, cuBLASLt only): one plan per M, its candidates timed. */
static ss_status tune_fp4(ss_gemm_ctx *ctx, const ss_kbench_tune_spec *s, int64_t N, int64_t K) {
    int64_t Mmax = 0;
    for (int m = 0; m < s->n_m; m++) Mmax = s->M[m] > Mmax ? s->M[m] : Mmax;
    if (Mmax == 0) return SS_OK;
    const int64_t Mp = ss_gemm_pad_m(Mmax);
    ss_fp4_matrix hw, hx;
    ss_fp4_dev w4 = {0}, x4 = {0};
    void *out = NULL;
    ss_status st = ss_kbench_make_fp4(N, K, Mp, 20261125 ^ (uint64_t)(N * 131 + K), &hw, &hx);
    if (!st) st = ss_fp4_upload(&hw, &w4);
    if (!st) st = ss_fp4_upload(&hx, &x4);
    if (!st) st = ss_gpu_alloc((size_t)(Mp * N) * 2, &out);
    ss_fp4_free(&hw);
    ss_fp4_free(&hx);
    for (int m = 0; !st && m < s->n_m; m++) {
        st = ss_fp4_gemm(ctx, &w4, &x4, s->M[m], out);
        if (!st) st = ss_gemm_ctx_sync(ctx);
    }
    ss_gpu_free(out);
    ss_fp4_dev_free(&w4);
    ss_fp4_dev_free(&x4);
    return st;
}

/* One weight: every M up to max_m, every output mode the engine may ask for;
 * per_channel: distinct channel scales and the channel-scaled mode only
 * (the other modes do not depend on the scales). */
static ss_status tune_weight(ss_gemm_ctx *ctx, const ss_kbench_tune_spec *s, ss_gemm_dtype dt, ss_backend be, int L,
                             int64_t N, int64_t K, int per_channel, int64_t max_m) {
    ss_linear_weight lw;
    void *hw = NULL;
    float *hs = NULL;
    ss_gemm_weight *w = NULL;
    void *x = NULL, *xq = NULL, *out = NULL;
    float *sx = NULL;
    uint16_t *hx = NULL;
    if (dt == SS_GEMM_FP4E2M1) return be == SS_BACKEND_CUBLASLT ? tune_fp4(ctx, s, N, K) : SS_OK;
    int64_t Mmax = 0;
    for (int m = 0; m < s->n_m; m++)
        if (s->M[m] <= max_m && s->M[m] > Mmax) Mmax = s->M[m];
    if (Mmax == 0) return SS_OK;
    const int64_t Mp = ss_gemm_pad_m(Mmax);
    ss_status st = ss_kbench_make_weight(dt, L, N, K, 20261125 ^ (uint64_t)(N * 131 + K), &lw, &hw, &hs);
    if (!st && per_channel)
        for (int64_t n = 0; n < N; n++) hs[n] = 0.02f * (float)(1 + n % 3);
    if (!st) st = ss_gemm_weight_create(ctx, &lw, be, &w);
    free(hw);
    free(hs);
    ss_gemm_weight_info wi = {0};
    if (!st) {
        ss_gemm_weight_get_info(w, &wi);
        hx = malloc((size_t)(Mmax * K) * 2);
        if (!hx) st = ss_fail(SS_ERR_NOMEM, "no memory for a [%lld, %lld] activation", (long long)Mmax, (long long)K);
    }
    if (!st) {
        ss_kbench_fill_x(hx, Mmax * K, 99);
        st = ss_gpu_alloc((size_t)(Mmax * K) * 2, &x);
    }
    if (!st) st = ss_gpu_upload(x, hx, (size_t)(Mmax * K) * 2);
    if (!st) st = ss_gpu_alloc((size_t)(Mp * wi.K_act) * ss_dtype_size(ss_gemm_act_dtype(dt)), &xq);
    if (!st) st = ss_gpu_alloc((size_t)Mp * sizeof(float), (void **)&sx);
    if (!st) st = ss_gpu_alloc((size_t)(Mp * wi.N_pad) * 4, &out);
    free(hx);
    for (int m = 0; !st && m < s->n_m; m++) {
        if (s->M[m] > max_m) continue;
        st = ss_gemm_quantize(ctx, w, x, s->M[m], xq, sx);
        for (int mode = 0; !st && mode < SS_GEMM_OUT_COUNT; mode++) {
            if (per_channel && mode != SS_GEMM_OUT_BF16_CHANNEL) continue;
            if (ss_gemm_weight_out_supported(w, (ss_gemm_out)mode) != SS_OK) {
                ss_clear_error();
                continue;
            }
            st = ss_gemm_matmul(ctx, w, xq, sx, s->M[m], (ss_gemm_out)mode, out);
            if (st == SS_ERR_UNSUPPORTED || st == SS_ERR_LIB) { /* this mode only: say so and go on */
                ss_warn("tune: %s", ss_errmsg());
                st = SS_OK;
            }
        }
        if (!st) st = ss_gemm_ctx_sync(ctx);
    }
    ss_gpu_free(x);
    ss_gpu_free(xq);
    ss_gpu_free(sx);
    ss_gpu_free(out);
    ss_gemm_weight_destroy(w);
    return st;
}

ss_status ss_kbench_tune(const ss_kbench_tune_spec *s, char *table_path, size_t cap) {
    ss_gpu_info gpu;
    SS_TRY(ss_gpu_info_get(0, &gpu));
    char toolchain[128], dir[2048];
    ss_toolchain_tag_lib(gpu.cusparselt_version, toolchain, sizeof toolchain);
    SS_TRY(ss_tune_dir(s->results, &gpu, toolchain, dir, sizeof dir));
    ss_gemm_ctx *ctx = NULL;
    SS_TRY(ss_gemm_ctx_create(0, NULL, NULL, &ctx));
    ss_tune_table t;
    ss_tune_table_init(&t);
    ss_status st = SS_OK;
    for (int l = 0; !st && l < s->n_L; l++)
        for (int which = 0; !st && which < 2; which++) { /* the library, then our kernel of the same kind */
            const ss_backend be = s->L[l] ? (which ? SS_BACKEND_OURS : SS_BACKEND_CUSPARSELT)
                                          : (which ? SS_BACKEND_OURS_DENSE : SS_BACKEND_CUBLASLT);
            char sp[16];
            if (ss_gemm_supported(&gpu, be, s->dtype) != SS_OK) {
                ss_warn("tune: skipping %s %s: %s", ss_backend_name(be), ss_kbench_sparsity_name(s->L[l], sp, sizeof sp),
                        ss_errmsg());
                ss_clear_error();
                continue;
            }
            for (int k = 0; !st && k < s->n_nk; k++)
                for (int pc = 0; !st && pc < (be == SS_BACKEND_CUSPARSELT ? 2 : 1); pc++) {
                    st = tune_weight(ctx, s, s->dtype, be, s->L[l], s->N[k], s->K[k], pc, INT64_MAX);
                    if (st)
                        ss_context(st, "tune %s %s %s %s N=%lld K=%lld", s->model, ss_backend_name(be),
                                   ss_gemm_dtype_name(s->dtype), ss_kbench_sparsity_name(s->L[l], sp, sizeof sp),
                                   (long long)s->N[k], (long long)s->K[k]);
                }
        }
    if (!st && s->head_N > 0) {
        st = tune_weight(ctx, s, SS_GEMM_BF16, SS_BACKEND_CUBLASLT, 0, s->head_N, s->head_K, 0, SS_TUNE_HEAD_MAX_M);
        if (st) ss_context(st, "tune %s lm_head bf16 N=%lld K=%lld", s->model, (long long)s->head_N, (long long)s->head_K);
    }
    if (!st) ss_tune_collect(&t, ctx);
    ss_gemm_ctx_destroy(ctx);
    if (!st) st = ss_tune_save(&t, dir, s->model, &gpu, toolchain);
    if (!st && table_path) snprintf(table_path, cap, "%s/%s.json", dir, s->model);
    ss_tune_table_free(&t);
    return st;
}

typedef struct tune_arg {
    const ss_kbench_tune_spec *s;
} tune_arg;

static ss_status tune_fn(void *arg, void *out) {
    tune_arg *a = arg;
    return ss_kbench_tune(a->s, out, 2048);
}

ss_status ss_kbench_tune_isolated(const ss_kbench_tune_spec *s, char *table_path, size_t cap) {
    char path[2048] = "";
    tune_arg a = {s};
    int sig;
    SS_TRY(in_child(tune_fn, &a, path, sizeof path, "tuning search", &sig));
    if (table_path) snprintf(table_path, cap, "%s", path);
    return SS_OK;
}
