/* Prefill / decode throughput of the CPU reference engine (see bench_cpu.h). */
#include "bench/bench_cpu.h"

#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/rng.h"
#include "core/timer.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"
#include "engine/model.h"

void ss_bench_cpu_defaults(ss_bench_cpu_opts *o, ss_tp_stage stage) {
    memset(o, 0, sizeof *o);
    o->stage = stage;
    o->max_prompt = 1024;
    o->decode_prompt = 16;
    o->decode_output = 256;
    o->warmup = stage == SS_TP_PREFILL ? 1 : 0;
    o->repeats = stage == SS_TP_PREFILL ? 3 : 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Buffers of one point: a batch of up to n tokens and logits of up to rows rows. */
typedef struct point_bufs {
    int32_t *token, *seq, *pos, *rows; /* [n], [n], [n], [rows] */
    float *logits;                     /* [rows, vocab] */
} point_bufs;

static void bufs_free(point_bufs *b) {
    free(b->token);
    free(b->seq);
    free(b->pos);
    free(b->rows);
    free(b->logits);
    memset(b, 0, sizeof *b);
}

static ss_status bufs_alloc(point_bufs *b, int64_t n, int64_t rows, int vocab) {
    memset(b, 0, sizeof *b);
    b->token = malloc((size_t)n * sizeof(int32_t));
    b->seq = malloc((size_t)n * sizeof(int32_t));
    b->pos = malloc((size_t)n * sizeof(int32_t));
    b->rows = malloc((size_t)rows * sizeof(int32_t));
    b->logits = malloc((size_t)rows * (size_t)vocab * sizeof(float));
    if (!b->token || !b->seq || !b->pos || !b->rows || !b->logits) {
        bufs_free(b);
        return ss_fail(SS_ERR_NOMEM, "bench: no memory for a batch of %lld tokens", (long long)n);
    }
    return SS_OK;
}

/* One prefill pass of `seqs` prompts of `prompt` tokens; logits of each prompt's last token. */
static ss_status prefill_pass(ss_cpu_state *st, point_bufs *b, int seqs, int prompt) {
    ss_cpu_state_reset(st);
    ss_batch batch = {.n = seqs * prompt, .token = b->token, .seq = b->seq, .pos = b->pos, .n_logits = seqs,
                      .logit_rows = b->rows};
    return ss_cpu_forward(st, &batch, b->logits);
}

static ss_status prefill_point(const ss_model *m, const ss_bench_cpu_opts *o, int64_t M, ss_tp_point *p) {
    int prompt = (int)(M < o->max_prompt ? M : o->max_prompt);
    int seqs = (int)((M + prompt - 1) / prompt);
    int n = seqs * prompt;
    point_bufs b;
    SS_TRY(bufs_alloc(&b, n, seqs, m->cfg.vocab));
    ss_cpu_state *st = NULL;
    double *times = malloc((size_t)o->repeats * sizeof(double));
    ss_status s = times ? ss_cpu_state_new(m, seqs, prompt, &st) : ss_fail(SS_ERR_NOMEM, "bench: out of memory");
    if (s == SS_OK) {
        ss_rng rng;
        ss_rng_seed(&rng, o->seed, (uint64_t)M);
        for (int i = 0; i < n; i++) {
            b.token[i] = (int32_t)(ss_rng_u64(&rng) % (uint64_t)m->cfg.vocab);
            b.seq[i] = i / prompt;
            b.pos[i] = i % prompt;
        }
        for (int q = 0; q < seqs; q++) b.rows[q] = q * prompt + prompt - 1;
        double total = 0;
        for (int it = 0; it < o->warmup + o->repeats && s == SS_OK; it++) {
            double t0 = ss_now();
            s = prefill_pass(st, &b, seqs, prompt);
            /* the one output token of each prompt, as a server would pick it */
            for (int q = 0; q < seqs && s == SS_OK; q++) (void)ss_argmax(b.logits + (size_t)q * m->cfg.vocab, m->cfg.vocab);
            double dt = ss_now() - t0;
            if (it >= o->warmup) {
                times[it - o->warmup] = dt;
                total += dt;
            }
        }
        if (s == SS_OK) {
            *p = (ss_tp_point){.M = M, .prompt_len = prompt, .output_len = 1, .max_num_seqs = seqs,
                               .n_passes = o->repeats, .elapsed_s = total, .median_pass_s = median(times, o->repeats)};
        }
    }
    ss_cpu_state_free(st);
    free(times);
    bufs_free(&b);
    return s;
}

/* One decode pass: prefill M prompts, then out-1 steps of M tokens (greedy). */
static ss_status decode_pass(const ss_model *m, ss_cpu_state *st, point_bufs *b, int M, int prompt, int out,
                             const int32_t *prompts) {
    ss_cpu_state_reset(st);
    int n = M * prompt, V = m->cfg.vocab;
    memcpy(b->token, prompts, (size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        b->seq[i] = i / prompt;
        b->pos[i] = i % prompt;
    }
    for (int q = 0; q < M; q++) b->rows[q] = q * prompt + prompt - 1;
    ss_batch batch = {.n = n, .token = b->token, .seq = b->seq, .pos = b->pos, .n_logits = M, .logit_rows = b->rows};
    SS_TRY(ss_cpu_forward(st, &batch, b->logits));
    for (int step = 1; step < out; step++) {
        for (int q = 0; q < M; q++) {
            b->token[q] = ss_argmax(b->logits + (size_t)q * V, V);
            b->seq[q] = q;
            b->pos[q] = prompt + step - 1;
            b->rows[q] = q;
        }
        ss_batch d = {.n = M, .token = b->token, .seq = b->seq, .pos = b->pos, .n_logits = M, .logit_rows = b->rows};
        SS_TRY(ss_cpu_forward(st, &d, b->logits));
    }
    return SS_OK;
}

static ss_status decode_point(const ss_model *m, const ss_bench_cpu_opts *o, int64_t M64, ss_tp_point *p) {
    int M = (int)M64, prompt = o->decode_prompt, out = o->decode_output;
    int n = M * prompt;
    point_bufs b;
    SS_TRY(bufs_alloc(&b, n, M, m->cfg.vocab));
    int32_t *prompts = malloc((size_t)n * sizeof(int32_t));
    double *times = malloc((size_t)o->repeats * sizeof(double));
    ss_cpu_state *st = NULL;
    ss_status s = prompts && times ? ss_cpu_state_new(m, M, prompt + out, &st)
                                   : ss_fail(SS_ERR_NOMEM, "bench: out of memory");
    if (s == SS_OK) {
        ss_rng rng;
        ss_rng_seed(&rng, o->seed, (uint64_t)M);
        for (int i = 0; i < n; i++) prompts[i] = (int32_t)(ss_rng_u64(&rng) % (uint64_t)m->cfg.vocab);
        double total = 0;
        for (int it = 0; it < o->warmup + o->repeats && s == SS_OK; it++) {
            double t0 = ss_now();
            s = decode_pass(m, st, &b, M, prompt, out, prompts);
            double dt = ss_now() - t0;
            if (it >= o->warmup) {
                times[it - o->warmup] = dt;
                total += dt;
            }
        }
        if (s == SS_OK) {
            *p = (ss_tp_point){.M = M, .prompt_len = prompt, .output_len = out, .max_num_seqs = M,
                               .n_passes = o->repeats, .elapsed_s = total, .median_pass_s = median(times, o->repeats)};
        }
    }
    ss_cpu_state_free(st);
    free(prompts);
    free(times);
    bufs_free(&b);
    return s;
}

static ss_status check_opts(const ss_bench_cpu_opts *o) {
    const char *stage = ss_tp_stage_name(o->stage);
    if (!o->model_dir || !o->results_dir) return ss_fail(SS_ERR_ARG, "bench %s: model and result folders are required", stage);
    if (o->n_m <= 0) return ss_fail(SS_ERR_ARG, "bench %s: the M list is empty", stage);
    if (o->repeats < 1 || o->warmup < 0) return ss_fail(SS_ERR_ARG, "bench %s: repeats must be >= 1, warm-up >= 0", stage);
    if (o->max_prompt < 1 || o->decode_prompt < 1 || o->decode_output < 1)
        return ss_fail(SS_ERR_ARG, "bench %s: prompt and output lengths must be >= 1", stage);
    for (int i = 0; i < o->n_m; i++) {
        /* 1<<20 tokens per pass is far beyond what the CPU engine can run in a benchmark */
        if (o->m_list[i] < 1 || o->m_list[i] > (1 << 20))
            return ss_fail(SS_ERR_ARG, "bench %s: M=%lld is out of range [1, 1048576]", stage, (long long)o->m_list[i]);
        if (o->stage == SS_TP_DECODE && o->m_list[i] * ((int64_t)o->decode_prompt + o->decode_output) > (1 << 26))
            return ss_fail(SS_ERR_ARG, "bench decode: M=%lld x %d tokens does not fit the KV cache limit",
                           (long long)o->m_list[i], o->decode_prompt + o->decode_output);
    }
    return SS_OK;
}

ss_status ss_bench_cpu(const ss_bench_cpu_opts *o, char *out_dir, size_t cap) {
    SS_TRY(check_opts(o));
    const char *stage = ss_tp_stage_name(o->stage);
    ss_model m;
    memset(&m, 0, sizeof m);
    SS_TRY_CTX(ss_model_load(o->model_dir, &m), "bench %s", stage);

    char model[256], toolchain[128], dir[4096];
    ss_tp_model_name(o->model_dir, model, sizeof model);
    ss_toolchain_tag(toolchain, sizeof toolchain);
    ss_status s = ss_tp_dir(dir, sizeof dir, o->results_dir, o->stage, "CPU", ss_tp_dtype_tag(ss_quant_name(m.quant)),
                            toolchain, m.slid ? "cpu_slid" : "cpu_dense", m.slid ? m.sparsity : NULL);
    if (s == SS_OK) s = ss_mkdir_p(dir);
    ss_tp_point *pts = calloc((size_t)o->n_m, sizeof *pts);
    if (s == SS_OK && !pts) s = ss_fail(SS_ERR_NOMEM, "bench: out of memory");
    for (int i = 0; i < o->n_m && s == SS_OK; i++) {
        int64_t M = o->m_list[i];
        s = o->stage == SS_TP_PREFILL ? prefill_point(&m, o, M, &pts[i]) : decode_point(&m, o, M, &pts[i]);
        if (s != SS_OK) {
            s = ss_context(s, "bench %s %s M=%lld", stage, o->model_dir, (long long)M);
            break;
        }
        s = ss_tp_write_point_json(dir, model, o->stage, &pts[i]);
        ss_info("%s %s M=%lld: %.1f tok/s (%.1f output tok/s), median pass %.3f s", stage, model, (long long)M,
                ss_tp_tokens_per_s(&pts[i]), ss_tp_output_tokens_per_s(&pts[i]), pts[i].median_pass_s);
    }
    if (s == SS_OK) s = ss_tp_write_csv(dir, model, o->stage, pts, o->n_m);
    if (s == SS_OK && out_dir) snprintf(out_dir, cap, "%s", dir);
    free(pts);
    ss_model_free(&m);
    return s;
}
