/* ss_tpbench: developer driver of the GPU throughput benchmarks (tasks 4, 5)
 * on synthetic in-memory models (bench_synth.h) or checkpoint folders. The
 * CLI's `slidesparse bench prefill|decode` calls ss_bench_cuda() per
 * checkpoint; this driver runs a whole grid in one process (one weight
 * upload per model for both stages) and prints a summary table.
 *
 *   ss_tpbench --synth bitnet-2b --dtype int8,fp8 --sparsity dense,2_4,2_6,2_8,2_10 \
 *              --prefill-m 512,1024,...,32768 --decode-m 64,128,256,512 --results out/
 *   ss_tpbench --model models/BitNet-2B-FP8 --prefill-m 4096 --decode-m 0 --results out/
 *   ss_tpbench --synth bitnet-2b --dtype fp8 --prefill-m 32768 --decode-m 512 --kernels old,new --results out/
 *
 * --kernels old,new,new-mma,new-bf16,new-wgmma,new-fp8kv runs every point with
 * the engine's earlier kernels (bench_cuda.h's old_kernels, float32
 * residual), with its defaults (the wgmma prefill attention where it runs),
 * with its defaults but the mma.sync prefill attention, with its defaults
 * plus the BF16 residual stream, with those and wgmma asked for, and with the
 * BF16 residual plus the FP8 KV cache, in this process, and
 * prints each per-kernel split (GEMM / attention / other); the first
 * variant's results go to --results, the others' to <results>/kernels_<name>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_cuda.h"
#include "bench/bench_synth.h"
#include "core/log.h"
#include "convert/sparsity.h"
#include "core/timer.h"

static int parse_list(const char *s, int64_t *out, int cap) {
    int n = 0;
    while (s && *s && n < cap) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s) return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

/* Engine variants of --kernels. */
enum { N_VARIANTS = 6 };
static const struct variant {
    const char *name;
    int old_kernels;
    ss_residual residual;
    ss_attn_prefill_kind prefill;
    ss_kv_cache_kind kv;
} VARIANTS[N_VARIANTS] = {{"old", 1, SS_RESIDUAL_F32, SS_ATTN_PREFILL_MMA, SS_KV_CACHE_BF16},
                          {"new", 0, SS_RESIDUAL_AUTO, SS_ATTN_PREFILL_AUTO, SS_KV_CACHE_AUTO},
                          {"new-mma", 0, SS_RESIDUAL_AUTO, SS_ATTN_PREFILL_MMA, SS_KV_CACHE_AUTO},
                          {"new-bf16", 0, SS_RESIDUAL_BF16, SS_ATTN_PREFILL_AUTO, SS_KV_CACHE_AUTO},
                          {"new-wgmma", 0, SS_RESIDUAL_BF16, SS_ATTN_PREFILL_WGMMA, SS_KV_CACHE_AUTO},
                          {"new-fp8kv", 0, SS_RESIDUAL_BF16, SS_ATTN_PREFILL_AUTO, SS_KV_CACHE_FP8}};

typedef struct args {
    const char *synth, *model, *results, *dtypes, *sparsities;
    const char *sparse_backends, *dense_backends; /* GEMM backends of slid / dense models */
    int64_t prefill_m[16], decode_m[16];
    int n_prefill, n_decode, warmup_p, repeats_p, warmup_d, repeats_d, search, candidates, exact, graph;
    int kernels[N_VARIANTS], n_kernels; /* variants (VARIANTS above), in the order given */
    uint64_t seed;
} args;

static int usage(void) {
    fprintf(stderr, "usage: ss_tpbench (--synth PRESET | --model DIR) [--dtype int8,fp8] [--sparsity dense,2_4,...]\n"
                    "  [--prefill-m LIST] [--decode-m LIST] [--warmup N] [--repeats N] [--decode-warmup N]\n"
                    "  [--decode-repeats N] [--cusparselt-search 0|1] [--cublaslt-candidates N] [--exact]\n"
                    "  [--no-graph] [--seed S] [--kernels old,new,new-mma,new-bf16,new-wgmma,new-fp8kv]\n"
                    "  [--sparse-backends cusparselt,ours] [--dense-backends cublaslt,ours_dense] --results DIR\n");
    return 2;
}

static int parse(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->dtypes = "int8,fp8";
    a->sparsities = "dense";
    a->warmup_p = 2, a->repeats_p = 5, a->warmup_d = 1, a->repeats_d = 3;
    a->search = 1, a->candidates = 32, a->graph = 1, a->seed = 2025;
    a->sparse_backends = "cusparselt";
    a->dense_backends = "cublaslt";
    a->n_prefill = parse_list("512,1024,2048,4096,8192,16384,32768", a->prefill_m, 16);
    a->n_decode = parse_list("64,128,256,512", a->decode_m, 16);
    a->n_kernels = 1; /* new */
    a->kernels[0] = 1;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--exact")) { a->exact = 1; continue; }
        if (!strcmp(k, "--no-graph")) { a->graph = 0; continue; }
        if (!v) return usage();
        i++;
        if (!strcmp(k, "--synth")) a->synth = v;
        else if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--results")) a->results = v;
        else if (!strcmp(k, "--dtype")) a->dtypes = v;
        else if (!strcmp(k, "--sparsity")) a->sparsities = v;
        else if (!strcmp(k, "--prefill-m")) a->n_prefill = strcmp(v, "0") ? parse_list(v, a->prefill_m, 16) : 0;
        else if (!strcmp(k, "--decode-m")) a->n_decode = strcmp(v, "0") ? parse_list(v, a->decode_m, 16) : 0;
        else if (!strcmp(k, "--warmup")) a->warmup_p = atoi(v);
        else if (!strcmp(k, "--repeats")) a->repeats_p = atoi(v);
        else if (!strcmp(k, "--decode-warmup")) a->warmup_d = atoi(v);
        else if (!strcmp(k, "--decode-repeats")) a->repeats_d = atoi(v);
        else if (!strcmp(k, "--cusparselt-search")) a->search = atoi(v);
        else if (!strcmp(k, "--cublaslt-candidates")) a->candidates = atoi(v);
        else if (!strcmp(k, "--seed")) a->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--kernels")) {
            a->n_kernels = 0;
            char buf[32];
            snprintf(buf, sizeof buf, "%s", v);
            for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
                int vi = 0;
                while (vi < N_VARIANTS && strcmp(t, VARIANTS[vi].name)) vi++;
                if (a->n_kernels == N_VARIANTS || vi == N_VARIANTS) {
                    fprintf(stderr, "error: --kernels takes old, new, new-mma, new-bf16, new-wgmma, new-fp8kv, not '%s'\n", v);
                    return 2;
                }
                a->kernels[a->n_kernels++] = vi;
            }
        }
        else if (!strcmp(k, "--sparse-backends")) a->sparse_backends = v;
        else if (!strcmp(k, "--dense-backends")) a->dense_backends = v;
        else return usage();
    }
    if ((!a->synth == !a->model) || !a->results || a->n_prefill < 0 || a->n_decode < 0) return usage();
    return 0;
}

/* Summary lines, printed again at the end. */
static char g_summary[64][220];
static int g_nsum;

static void summarize(const char *model, const char *sp, const char *kern, ss_tp_stage stage,
                      const ss_bench_cuda_point *p, int n) {
    for (int i = 0; i < n && g_nsum < 64; i++)
        snprintf(g_summary[g_nsum++], sizeof g_summary[0],
                 "%-8s %-22s %-17s %-9s M=%-6lld %9.0f tok/s %9.0f out/s  %8.2f ms  %5.1f GiB  g/a/o %.1f/%.1f/%.1f ms",
                 ss_tp_stage_name(stage), model, sp, kern, (long long)p[i].tp.M, ss_tp_tokens_per_s(&p[i].tp),
                 ss_tp_output_tokens_per_s(&p[i].tp), 1e3 * p[i].tp.median_pass_s,
                 (double)p[i].mem_used / (1 << 30), p[i].prof_ms[0], p[i].prof_ms[1], p[i].prof_ms[2]);
}

static ss_status run_model_on(const args *a, const ss_model *m, const char *name, const char *sp, ss_backend be) {
    ss_cuda_model_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.backend = be;
    mo.backend_set = 1;
    mo.dequant = a->exact ? SS_DEQUANT_EXACT : SS_DEQUANT_FAST;
    ss_gemm_options_default(&mo.gemm);
    mo.gemm.cusparselt_search = a->search;
    mo.gemm.cublaslt_candidates = a->candidates;
    mo.gemm_set = 1;
    ss_cuda_model *cm;
    double t0 = ss_now();
    SS_TRY(ss_cuda_model_load(m, &mo, &cm));
    ss_info("%s %s: weights on the GPU in %.1f s (%.2f GiB, %s)", name, sp, ss_now() - t0,
            (double)ss_cuda_model_weight_bytes(cm) / (1 << 30), ss_backend_name(ss_cuda_model_backend(cm)));
    ss_status st = SS_OK;
    for (int kk = 0; kk < a->n_kernels && st == SS_OK; kk++)
    for (int stage = 0; stage < 2 && st == SS_OK; stage++) {
        ss_bench_cuda_opts o;
        ss_bench_cuda_defaults(&o, (ss_tp_stage)stage);
        const struct variant *vr = &VARIANTS[a->kernels[kk]];
        o.old_kernels = vr->old_kernels;
        o.residual = vr->residual;
        o.attn_prefill = vr->prefill;
        o.kv_cache = vr->kv;
        const char *kern = vr->name;
        char results[4096];
        if (kk == 0) snprintf(results, sizeof results, "%s", a->results);
        else snprintf(results, sizeof results, "%s/kernels_%s", a->results, kern);
        o.m_list = stage == 0 ? a->prefill_m : a->decode_m;
        o.n_m = stage == 0 ? a->n_prefill : a->n_decode;
        if (o.n_m == 0) continue;
        o.warmup = stage == 0 ? a->warmup_p : a->warmup_d;
        o.repeats = stage == 0 ? a->repeats_p : a->repeats_d;
        o.use_graph = a->graph;
        ss_bench_cuda_point pts[16];
        t0 = ss_now();
        st = ss_bench_cuda_run(cm, &o, pts);
        char dir[4096];
        if (st == SS_OK) st = ss_bench_cuda_dir(cm, results, o.stage, dir, sizeof dir);
        if (st == SS_OK) st = ss_bench_cuda_write(dir, name, o.stage, pts, o.n_m);
        if (st == SS_OK) {
            char label[64];
            snprintf(label, sizeof label, "%s/%s", ss_backend_name(be), sp);
            summarize(name, label, kern, o.stage, pts, o.n_m);
            ss_info("%s %s %s %s (%s kernels): %d points in %.1f s -> %s", name, ss_backend_name(be), sp,
                    ss_tp_stage_name(o.stage), kern, o.n_m, ss_now() - t0, dir);
        }
    }
    ss_cuda_model_free(cm);
    return st;
}

/* The model on each listed backend of its kind (sparse for slid weights). */
static ss_status run_model(const args *a, const ss_model *m, const char *name, const char *sp) {
    char list[128];
    snprintf(list, sizeof list, "%s", m->slid ? a->sparse_backends : a->dense_backends);
    char *save = NULL;
    ss_status st = SS_OK;
    for (char *b = strtok_r(list, ",", &save); b && st == SS_OK; b = strtok_r(NULL, ",", &save)) {
        ss_backend be;
        SS_TRY(ss_backend_parse(b, &be));
        if (ss_backend_sparse(be) != (m->slid != 0))
            return ss_fail(SS_ERR_ARG, "backend %s does not take %s weights", b, m->slid ? "slid" : "dense");
        st = run_model_on(a, m, name, sp, be);
    }
    return st;
}

int main(int argc, char **argv) {
    args a;
    if (parse(argc, argv, &a)) return 2;
    ss_log_set_level(SS_LOG_INFO);
    ss_status st = SS_OK;
    int failures = 0;
    if (a.model) {
        ss_model m;
        st = ss_model_load(a.model, &m);
        if (st == SS_OK) {
            char name[512];
            ss_tp_model_name(a.model, name, sizeof name);
            st = run_model(&a, &m, name, m.sparsity[0] ? m.sparsity : "dense");
            ss_model_free(&m);
        }
        failures += st != SS_OK;
        if (st != SS_OK) fprintf(stderr, "error: %s\n", ss_errmsg());
    } else {
        ss_synth_base *base;
        double t0 = ss_now();
        st = ss_synth_base_new(a.synth, a.seed, &base);
        if (st != SS_OK) {
            fprintf(stderr, "error: %s\n", ss_errmsg());
            return 1;
        }
        ss_info("synthetic %s: base weights in %.1f s", a.synth, ss_now() - t0);
        char dt_list[64];
        snprintf(dt_list, sizeof dt_list, "%s", a.dtypes);
        for (char *dt = strtok(dt_list, ","); dt; dt = strtok(NULL, ",")) {
            ss_quant q;
            if (ss_quant_parse(dt, &q) != SS_OK || q == SS_QUANT_NONE) {
                fprintf(stderr, "error: dtype '%s' is not int8 or fp8\n", dt);
                failures++;
                continue;
            }
            char sp_list[128];
            snprintf(sp_list, sizeof sp_list, "%s", a.sparsities);
            char *save = NULL;
            for (char *sp = strtok_r(sp_list, ",", &save); sp; sp = strtok_r(NULL, ",", &save)) {
                int L = 0;
                if (strcmp(sp, "dense") && ss_sparsity_parse(sp, 1, &L) != SS_OK) {
                    fprintf(stderr, "error: %s\n", ss_errmsg());
                    failures++;
                    continue;
                }
                ss_synth_model v;
                t0 = ss_now();
                st = ss_synth_variant(base, q, L, &v);
                char name[128];
                snprintf(name, sizeof name, "BitNet-2B-%s-synthetic", q == SS_QUANT_INT8 ? "INT8" : "FP8");
                if (strcmp(a.synth, "bitnet-2b")) snprintf(name, sizeof name, "%s-%s-synthetic", a.synth, dt);
                if (st == SS_OK) {
                    ss_info("%s %s: variant built in %.1f s", name, sp, ss_now() - t0);
                    st = run_model(&a, &v.model, name, sp);
                    ss_synth_variant_free(&v);
                }
                if (st != SS_OK) {
                    fprintf(stderr, "error: %s %s: %s\n", name, sp, ss_errmsg());
                    failures++;
                }
            }
        }
        ss_synth_base_free(base);
    }
    printf("\n== throughput summary (tokens/s as the reference counted: prompt + output) ==\n");
    for (int i = 0; i < g_nsum; i++) printf("%s\n", g_summary[i]);
    return failures ? 1 : 0;
}
