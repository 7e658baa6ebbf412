/* Prefill and decode throughput on the GPU engine (see bench_cuda.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_cuda.h"
#include "bench/gpu_monitor.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "tune/tune.h"
#include "gemm/gemm.h"

void ss_bench_cuda_defaults(ss_bench_cuda_opts *o, ss_tp_stage stage) {
    memset(o, 0, sizeof *o);
    o->stage = stage;
    o->max_prompt = 1024;
    o->decode_prompt = 16;
    o->decode_output = 256;
    o->warmup = stage == SS_TP_PREFILL ? 2 : 1;
    o->repeats = stage == SS_TP_PREFILL ? 5 : 3;
    o->use_graph = 1;
    o->profile = 1;
    o->seed = 1234;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One batch of `seqs` prompts of `prompt` random tokens, logits at each last token. */
typedef struct workload {
    int seqs, prompt;
    int32_t *tok, *seq, *pos, *rows, *ids, *out;
} workload;

static void workload_free(workload *w) {
    free(w->tok), free(w->seq), free(w->pos), free(w->rows), free(w->ids), free(w->out);
    memset(w, 0, sizeof *w);
}

static ss_status workload_make(workload *w, int seqs, int prompt, int out_steps, int vocab, uint64_t seed) {
    memset(w, 0, sizeof *w);
    const size_t n = (size_t)seqs * (size_t)prompt;
    w->seqs = seqs;
    w->prompt = prompt;
    w->tok = malloc(n * 4), w->seq = malloc(n * 4), w->pos = malloc(n * 4);
    w->rows = malloc((size_t)seqs * 4), w->ids = malloc((size_t)seqs * 4);
    w->out = malloc((size_t)seqs * (size_t)(out_steps > 0 ? out_steps : 1) * 4);
    if (!w->tok || !w->seq || !w->pos || !w->rows || !w->ids || !w->out) {
        workload_free(w);
        return ss_fail(SS_ERR_NOMEM, "benchmark: no memory for %d prompts of %d tokens", seqs, prompt);
    }
    ss_rng r;
    ss_rng_seed(&r, seed, (uint64_t)n);
    for (int s = 0; s < seqs; s++) {
        for (int p = 0; p < prompt; p++) {
            size_t i = (size_t)s * prompt + p;
            w->tok[i] = (int32_t)(ss_rng_u64(&r) % (uint64_t)vocab);
            w->seq[i] = s;
            w->pos[i] = p;
        }
        w->rows[s] = (s + 1) * prompt - 1;
    }
    return SS_OK;
}

/* One pass: prefill every prompt; decode steps - 1 more tokens when steps > 1. */
static ss_status pass(ss_cuda_engine *e, workload *w, int steps, int use_graph, double *prefill_s) {
    ss_cuda_engine_reset(e);
    ss_batch b = {.n = w->seqs * w->prompt, .token = w->tok, .seq = w->seq, .pos = w->pos, .n_logits = w->seqs,
                  .logit_rows = w->rows};
    double t0 = ss_now();
    SS_TRY(ss_cuda_forward_ids(e, &b, w->ids));
    if (prefill_s) *prefill_s = ss_now() - t0;
    if (steps > 1) SS_TRY(ss_cuda_decode_greedy(e, w->seqs, w->ids, steps - 1, use_graph, w->out));
    return SS_OK;
}

/* A pass with CUDA events between the launches (eager: a graph replay
 * cannot be split into kernels): prefill points profile the forward pass;
 * decode points replay the graph for half the steps, then profile
 * PROFILE_STEPS eager steps there, at about the mean context length, and
 * report one step. (Eager steps may add host launch gaps to the small
 * kernels' share at small batches.) */
enum { PROFILE_STEPS = 2 };
static ss_status profile_pass(ss_cuda_engine *e, workload *w, int steps, int use_graph, double ms[SS_PROF_COUNT]) {
    if (steps <= 1) {
        SS_TRY(ss_cuda_engine_profile(e, 1));
        ss_status st = pass(e, w, 1, 0, NULL);
        ss_cuda_engine_profile_read(e, ms);
        ss_cuda_engine_profile(e, 0);
        return st;
    }
    SS_TRY(pass(e, w, 1, 0, NULL));
    const int half = (steps - 1) / 2;
    if (half > 0) SS_TRY(ss_cuda_decode_greedy(e, w->seqs, w->ids, half, use_graph, w->out));
    const int32_t *next = half > 0 ? w->out + (size_t)(half - 1) * w->seqs : w->ids;
    SS_TRY(ss_cuda_engine_profile(e, 1));
    ss_status st = ss_cuda_decode_greedy(e, w->seqs, next, PROFILE_STEPS, 0, w->out + (size_t)half * w->seqs);
    ss_cuda_engine_profile_read(e, ms);
    ss_cuda_engine_profile(e, 0);
    for (int k = 0; k < SS_PROF_COUNT; k++) ms[k] /= PROFILE_STEPS;
    return st;
}

static ss_status run_point(ss_cuda_model *cm, const ss_bench_cuda_opts *o, int64_t M, ss_bench_cuda_point *pt) {
    const ss_model *m = ss_cuda_model_host(cm);
    memset(pt, 0, sizeof *pt);
    int prompt, seqs, steps;
    if (o->stage == SS_TP_PREFILL) {
        prompt = (int)(M < o->max_prompt ? M : o->max_prompt);
        seqs = (int)((M + prompt - 1) / prompt);
        steps = 1;
    } else {
        prompt = o->decode_prompt;
        seqs = (int)M;
        steps = o->decode_output;
    }
    ss_cuda_engine_opts eo = {.max_seqs = seqs, .max_len = prompt + steps, .max_tokens = seqs * prompt,
                              .max_logits = seqs, .attn_decode = o->old_kernels ? SS_ATTN_DECODE_OLD : SS_ATTN_DECODE_AUTO,
                              .residual = o->residual, .attn_prefill = o->attn_prefill, .kv_cache = o->kv_cache};
    ss_cuda_engine *e = NULL;
    workload w;
    SS_TRY(workload_make(&w, seqs, prompt, steps - 1, m->cfg.vocab, o->seed));
    ss_status st = ss_cuda_engine_new(cm, &eo, &e);
    double *times = calloc((size_t)(o->repeats > 0 ? o->repeats : 1), sizeof(double)),
           *pre = calloc((size_t)(o->repeats > 0 ? o->repeats : 1), sizeof(double));
    if (st == SS_OK && (!times || !pre)) st = ss_fail(SS_ERR_NOMEM, "benchmark: no memory for timings");
    for (int i = 0; i < o->warmup && st == SS_OK; i++) st = pass(e, &w, steps, o->use_graph, NULL);
    ss_gpu_monitor *mon = st == SS_OK ? ss_gpu_monitor_start(0, 20) : NULL;
    for (int i = 0; i < o->repeats && st == SS_OK; i++) {
        double t0 = ss_now();
        st = pass(e, &w, steps, o->use_graph, &pre[i]);
        times[i] = ss_now() - t0;
    }
    ss_gpu_reading rd;
    memset(&rd, 0, sizeof rd);
    if (mon) {
        ss_gpu_monitor_stop(mon, &rd);
        ss_gpu_monitor_free(mon);
    }
    if (st == SS_OK && o->profile) st = profile_pass(e, &w, steps, o->use_graph, pt->prof_ms);
    if (st == SS_OK) {
        ss_gpu_info gi;
        if (ss_gpu_info_get(0, &gi) == SS_OK) pt->mem_used = gi.mem_total - gi.mem_free;
        pt->engine_bytes = ss_cuda_engine_bytes(e);
        double sum = 0;
        for (int i = 0; i < o->repeats; i++) sum += times[i];
        /* median pass, and the prefill time of that same pass */
        int med = 0;
        double *sorted = malloc((size_t)o->repeats * sizeof(double));
        if (sorted) {
            memcpy(sorted, times, (size_t)o->repeats * sizeof(double));
            qsort(sorted, (size_t)o->repeats, sizeof(double), cmp_double);
            for (int i = 0; i < o->repeats; i++)
                if (times[i] == sorted[o->repeats / 2]) med = i;
            free(sorted);
        }
        pt->tp = (ss_tp_point){.M = M, .prompt_len = prompt, .output_len = steps, .max_num_seqs = seqs,
                               .n_passes = o->repeats, .elapsed_s = sum, .median_pass_s = times[med]};
        pt->prefill_s = pre[med];
        pt->sm_mhz = rd.sm_mhz_mean;
        pt->power_w = rd.power_w_mean;
    }
    free(times), free(pre);
    ss_cuda_engine_free(e);
    workload_free(&w);
    return st == SS_OK ? SS_OK : ss_context(st, "%s point M=%lld", ss_tp_stage_name(o->stage), (long long)M);
}

ss_status ss_bench_cuda_run(ss_cuda_model *cm, const ss_bench_cuda_opts *o, ss_bench_cuda_point *pts) {
    if (o->repeats <= 0 || o->n_m <= 0)
        return ss_fail(SS_ERR_ARG, "benchmark: %d repeats and %d points: both must be positive", o->repeats, o->n_m);
    for (int i = 0; i < o->n_m; i++) {
        if (o->m_list[i] <= 0) return ss_fail(SS_ERR_ARG, "benchmark: M=%lld is not positive", (long long)o->m_list[i]);
        SS_TRY(run_point(cm, o, o->m_list[i], &pts[i]));
        const ss_bench_cuda_point *p = &pts[i];
        ss_info("%s M=%lld: %.0f tok/s (%.0f output tok/s), median pass %.2f ms, %.1f GiB in use, %.0f MHz %.0f W",
                ss_tp_stage_name(o->stage), (long long)p->tp.M, ss_tp_tokens_per_s(&p->tp),
                ss_tp_output_tokens_per_s(&p->tp), 1e3 * p->tp.median_pass_s, (double)p->mem_used / (1 << 30),
                p->sm_mhz, p->power_w);
    }
    return SS_OK;
}

/* "<name without NVIDIA/GeForce, spaces as ->_cc<major><minor>", the
 * pipeline's ss_gpu_hw_tag rule (that one lives in a layer above). */
static void hw_tag(const ss_gpu_info *g, char *out, size_t cap) {
    const char *n = g->name;
    if (!strncmp(n, "NVIDIA ", 7)) n += 7;
    if (!strncmp(n, "GeForce ", 8)) n += 8;
    size_t k = 0;
    for (; *n && k + 1 < cap; n++) out[k++] = *n == ' ' ? '-' : *n;
    out[k] = 0;
    char cc[32];
    snprintf(cc, sizeof cc, "_cc%d%d", g->cc_major, g->cc_minor);
    if (k + strlen(cc) < cap) strcat(out, cc);
}

ss_status ss_bench_cuda_dir(ss_cuda_model *cm, const char *results, ss_tp_stage stage, char *out, size_t cap) {
    const ss_model *m = ss_cuda_model_host(cm);
    ss_gpu_info gi;
    SS_TRY(ss_gpu_info_get(0, &gi));
    char hw[300], tool[128];
    hw_tag(&gi, hw, sizeof hw);
    ss_toolchain_tag_lib(gi.cusparselt_version, tool, sizeof tool);
    const int sparse = ss_backend_sparse(ss_cuda_model_backend(cm));
    return ss_tp_dir(out, cap, results, stage, hw, ss_tp_dtype_tag(ss_quant_name(m->quant)), tool,
                     ss_backend_name(ss_cuda_model_backend(cm)), sparse ? m->sparsity : NULL);
}

ss_status ss_bench_cuda_write(const char *dir, const char *model_name, ss_tp_stage stage,
                              const ss_bench_cuda_point *pts, int n) {
    ss_tp_point *tp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tp);
    if (!tp) return ss_fail(SS_ERR_NOMEM, "benchmark: no memory for %d points", n);
    ss_status st = SS_OK;
    for (int i = 0; i < n && st == SS_OK; i++) {
        tp[i] = pts[i].tp;
        st = ss_tp_write_point_json(dir, model_name, stage, &tp[i]);
    }
    if (st == SS_OK) st = ss_tp_write_csv(dir, model_name, stage, tp, n);
    free(tp);
    SS_TRY(st);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s_%s_gpu.csv", dir, model_name, ss_tp_stage_name(stage));
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    st = ss_afile_printf(&f, "M,mem_used_bytes,engine_bytes,sm_mhz_mean,power_w_mean,prefill_s,profile_gemm_ms,"
                             "profile_attention_ms,profile_other_ms\n");
    for (int i = 0; i < n && st == SS_OK; i++) {
        const ss_bench_cuda_point *p = &pts[i];
        st = ss_afile_printf(&f, "%lld,%zu,%zu,%.0f,%.1f,%.6f,%.3f,%.3f,%.3f\n", (long long)p->tp.M, p->mem_used,
                             p->engine_bytes, p->sm_mhz, p->power_w, p->prefill_s, p->prof_ms[SS_PROF_GEMM],
                             p->prof_ms[SS_PROF_ATTENTION], p->prof_ms[SS_PROF_OTHER]);
    }
    if (st != SS_OK) {
        ss_afile_abort(&f);
        return st;
    }
    return ss_afile_commit(&f);
}

ss_status ss_bench_cuda(const char *model_dir, const char *results_dir, const ss_bench_cuda_opts *o, char *out_dir,
                        size_t cap) {
    ss_model m;
    SS_TRY(ss_model_load(model_dir, &m));
    ss_cuda_model_opts mo;
    memset(&mo, 0, sizeof mo);
    mo.dequant = SS_DEQUANT_FAST;
    ss_cuda_model *cm = NULL;
    ss_bench_cuda_point *pts = calloc((size_t)(o->n_m > 0 ? o->n_m : 1), sizeof *pts);
    ss_status st = pts ? ss_cuda_model_load(&m, &mo, &cm) : ss_fail(SS_ERR_NOMEM, "benchmark: no memory");
    ss_tune_table table;
    ss_tune_table_init(&table);
    if (st == SS_OK && o->tune_dir) {
        st = ss_tune_load_dir(&table, o->tune_dir);
        if (st == SS_OK) ss_tune_attach(ss_cuda_model_gemm(cm), &table);
    }
    if (st == SS_OK) st = ss_bench_cuda_run(cm, o, pts);
    char dir[4096], name[512];
    if (st == SS_OK) st = ss_bench_cuda_dir(cm, results_dir, o->stage, dir, sizeof dir);
    if (st == SS_OK) {
        ss_tp_model_name(model_dir, name, sizeof name);
        st = ss_bench_cuda_write(dir, name, o->stage, pts, o->n_m);
    }
    if (st == SS_OK && out_dir) snprintf(out_dir, cap, "%s", dir);
    free(pts);
    ss_cuda_model_free(cm); /* before the table it points to */
    ss_tune_table_free(&table);
    ss_model_free(&m);
    return st;
}
