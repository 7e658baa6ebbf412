/* The GPU engine (engine/cuda/engine_cuda.h) against the CPU reference
 * engine (forward_cpu.h), on the tiny preset through the real conversion
 * chain (synth -> quantize -> prune / convert 2_8) and on small in-memory
 * Llama (llama3 RoPE, untied lm_head, SiLU) and Qwen2 (q/k/v bias) models:
 *  - logits of mixed batches (prefill chunks, continued sequences, decode
 *    tokens) within a stated tolerance of the CPU engine;
 *  - INT8 dense-pruned (cuBLASLt) and slid (cuSPARSELt) models: bit-identical
 *    logits and identical generated ids (exact dequant mode), with the
 *    residual stream in float32 and in BF16 (ss_residual, both engines);
 *  - KV cache across steps: a prompt prefilled in chunks gives the same
 *    logits as in one pass (bit-identical for INT8);
 *  - decode through a CUDA graph equals eager decode, for every decode
 *    attention kind (old CUDA-core, tensor-core, tensor-core with the KV
 *    write fused: the last two give identical ids);
 *  - the FP8 KV cache: its logits against the BF16 cache's (stated), and the
 *    chunked == whole and graph == eager invariants with it;
 *  - bad batches are rejected with a message;
 *  - a model mixing dense and slid layers (a recipe) against the CPU and
 *    against its pruned-only twin.
 * Label gpu: exits 77 without a device. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/quantize.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/cuda/kernels.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "gemm/gemm.h"

#define OK(expr)                                                                                 \
    do {                                                                                         \
        ss_status st_ = (expr);                                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg());     \
    } while (0)

static char g_tmp[256];
static ss_attn_decode_kind g_attn; /* decode attention of run_gpu's engines */
static ss_residual g_residual;     /* residual precision of run_cpu's and run_gpu's engines (AUTO: default) */
static ss_attn_prefill_kind g_prefill; /* prefill attention of run_gpu's engines */
static ss_kv_cache_kind g_kv;          /* KV cache format of run_gpu's engines */

/* ---- a scripted conversation of three steps over three sequences ---- */

#define MAX_ROWS 128
typedef struct step_def {
    int n;
    int32_t tok[MAX_ROWS], seq[MAX_ROWS], pos[MAX_ROWS];
    int n_logits;
    int32_t rows[MAX_ROWS];
} step_def;

static void add_run(step_def *s, int seq, int pos0, int count, uint64_t seed, int vocab) {
    ss_rng r;
    ss_rng_seed(&r, seed, (uint64_t)seq);
    for (int i = 0; i < count; i++) {
        s->tok[s->n] = (int32_t)(ss_rng_u64(&r) % (uint64_t)vocab);
        s->seq[s->n] = seq;
        s->pos[s->n] = pos0 + i;
        s->n++;
    }
}

/* Step 1: prefill seq 0 (40 tokens) and seq 1 (70); step 2: seq 0 one
 * token, seq 1 a chunk of 5, seq 2 a new prompt of 3; step 3: one decode
 * token each. Logits: every row of steps 2 and 3, some rows of step 1. */
static int make_script(step_def *steps, int vocab) {
    memset(steps, 0, 3 * sizeof *steps);
    add_run(&steps[0], 0, 0, 40, 1, vocab);
    add_run(&steps[0], 1, 0, 70, 2, vocab);
    const int32_t r0[] = {39, 109, 0, 64, 65};
    steps[0].n_logits = 5;
    memcpy(steps[0].rows, r0, sizeof r0);
    add_run(&steps[1], 0, 40, 1, 3, vocab);
    add_run(&steps[1], 1, 70, 5, 4, vocab);
    add_run(&steps[1], 2, 0, 3, 5, vocab);
    add_run(&steps[2], 2, 3, 1, 6, vocab);
    add_run(&steps[2], 0, 41, 1, 7, vocab);
    add_run(&steps[2], 1, 75, 1, 8, vocab);
    for (int s = 1; s < 3; s++) {
        steps[s].n_logits = steps[s].n;
        for (int i = 0; i < steps[s].n; i++) steps[s].rows[i] = i;
    }
    return 3;
}

static ss_batch batch_of(const step_def *s) {
    return (ss_batch){.n = s->n, .token = s->tok, .seq = s->seq, .pos = s->pos, .n_logits = s->n_logits,
                      .logit_rows = s->rows};
}

static float *run_cpu(const ss_model *m, const step_def *steps, int n_steps) {
    ss_cpu_state *st;
    OK(ss_cpu_state_new(m, 3, 128, &st));
    if (g_residual != SS_RESIDUAL_AUTO) st->residual = g_residual;
    size_t total = 0;
    for (int s = 0; s < n_steps; s++) total += (size_t)steps[s].n_logits;
    float *out = malloc(total * (size_t)m->cfg.vocab * sizeof(float)), *p = out;
    assert_non_null(out);
    for (int s = 0; s < n_steps; s++) {
        ss_batch b = batch_of(&steps[s]);
        OK(ss_cpu_forward(st, &b, p));
        p += (size_t)steps[s].n_logits * m->cfg.vocab;
    }
    ss_cpu_state_free(st);
    return out;
}

static float *run_gpu(ss_cuda_model *cm, const step_def *steps, int n_steps) {
    const ss_model *m = ss_cuda_model_host(cm);
    ss_cuda_engine *e;
    ss_cuda_engine_opts eo = {.max_seqs = 3, .max_len = 128, .max_tokens = MAX_ROWS, .max_logits = MAX_ROWS,
                              .attn_decode = g_attn, .residual = g_residual, .attn_prefill = g_prefill,
                              .kv_cache = g_kv};
    OK(ss_cuda_engine_new(cm, &eo, &e));
    size_t total = 0;
    for (int s = 0; s < n_steps; s++) total += (size_t)steps[s].n_logits;
    float *out = malloc(total * (size_t)m->cfg.vocab * sizeof(float)), *p = out;
    assert_non_null(out);
    for (int s = 0; s < n_steps; s++) {
        ss_batch b = batch_of(&steps[s]);
        OK(ss_cuda_forward(e, &b, p));
        p += (size_t)steps[s].n_logits * m->cfg.vocab;
    }
    assert_int_equal(ss_cuda_engine_seq_len(e, 1), 76);
    ss_cuda_engine_free(e);
    return out;
}

typedef struct diff_stats {
    double rel_l2, max_abs, scale;
    int argmax_agree, rows;
} diff_stats;

static diff_stats compare_logits(const float *got, const float *want, int rows, int vocab) {
    diff_stats d = {0};
    double num = 0, den = 0;
    for (int r = 0; r < rows; r++) {
        const float *g = got + (size_t)r * vocab, *w = want + (size_t)r * vocab;
        for (int j = 0; j < vocab; j++) {
            double e = (double)g[j] - w[j];
            if (!isfinite(g[j])) e = INFINITY;
            num += e * e;
            den += (double)w[j] * w[j];
            if (fabs(e) > d.max_abs) d.max_abs = fabs(e);
            if (fabs(w[j]) > d.scale) d.scale = fabs(w[j]);
        }
        d.argmax_agree += ss_argmax(g, vocab) == ss_argmax(w, vocab);
    }
    d.rows = rows;
    d.rel_l2 = sqrt(num / (den > 0 ? den : 1));
    return d;
}

/* GPU vs CPU on the script; the bound is on the relative L2 error of all logits. */
static void check_vs_cpu(const ss_model *m, const ss_cuda_model_opts *mo, double bound, const char *what) {
    step_def steps[3];
    int ns = make_script(steps, m->cfg.vocab);
    ss_cuda_model *cm;
    OK(ss_cuda_model_load(m, mo, &cm));
    float *want = run_cpu(m, steps, ns), *got = run_gpu(cm, steps, ns);
    int rows = 0;
    for (int s = 0; s < ns; s++) rows += steps[s].n_logits;
    diff_stats d = compare_logits(got, want, rows, m->cfg.vocab);
    printf("  %-34s vs CPU: rel L2 %.2e, max |diff| %.3g of max |logit| %.3g, argmax agrees %d/%d (bound %.2g)\n",
           what, d.rel_l2, d.max_abs, d.scale, d.argmax_agree, d.rows, bound);
    assert_true(d.rel_l2 < bound);
    free(want), free(got);
    ss_cuda_model_free(cm);
}

/* ---- the tiny preset through the conversion chain ---- */

static void tiny_paths(char *bf16, char *q8, char *q8p, char *q8s, char *f8, char *f8s, size_t cap) {
    snprintf(bf16, cap, "%s/tiny-bf16", g_tmp);
    snprintf(q8, cap, "%s/tiny-int8", g_tmp);
    snprintf(q8p, cap, "%s/tiny-int8-pruned-2_8", g_tmp);
    snprintf(q8s, cap, "%s/tiny-int8-slid-2_8", g_tmp);
    snprintf(f8, cap, "%s/tiny-fp8", g_tmp);
    snprintf(f8s, cap, "%s/tiny-fp8-slid-2_8", g_tmp);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_engine_cuda_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char bf16[300], q8[300], q8p[300], q8s[300], f8[300], f8s[300];
    tiny_paths(bf16, q8, q8p, q8s, f8, f8s, sizeof bf16);
    if (ss_synth("tiny", bf16, 2024) || ss_quantize_checkpoint(bf16, q8, SS_QUANT_INT8, -1) ||
        ss_prune_checkpoint(q8, q8p, 8) || ss_convert_checkpoint(q8, q8s, 8) ||
        ss_quantize_checkpoint(bf16, f8, SS_QUANT_FP8, -1) || ss_convert_checkpoint(f8, f8s, 8)) {
        fprintf(stderr, "setup: %s\n", ss_errmsg());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

static ss_cuda_model_opts exact_opts(void) {
    ss_cuda_model_opts o;
    memset(&o, 0, sizeof o);
    o.dequant = SS_DEQUANT_EXACT;
    return o;
}

static void test_tiny_vs_cpu(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    const char *names[6] = {"tiny bf16", "tiny int8 ternary", "tiny int8 pruned 2_8 (cublaslt)",
                            "tiny int8 slid 2_8 (cusparselt)", "tiny fp8 ternary", "tiny fp8 slid 2_8 (cusparselt)"};
    /* measured 2026-11-25 on an H100 (BF16 q): 1.0e-2, 3.7e-2 (int8), 8.3e-2 (fp8) */
    const double bounds[6] = {2e-2, 6e-2, 6e-2, 6e-2, 1.2e-1, 1.2e-1};
    for (int i = 0; i < 6; i++) {
        ss_model m;
        OK(ss_model_load(p[i], &m));
        ss_cuda_model_opts o = exact_opts();
        check_vs_cpu(&m, &o, bounds[i], names[i]);
        if (i == 1) { /* the CUDA-core decode kernel too: same bound */
            g_attn = SS_ATTN_DECODE_OLD;
            check_vs_cpu(&m, &o, bounds[i], "tiny int8 ternary, old decode kernel");
            g_attn = SS_ATTN_DECODE_AUTO;
        }
        if (i == 1 || i == 4) { /* the prefill kernel the default does not take here (wgmma where the GPU has it): same bound */
            g_prefill = ss_attn_prefill_wgmma_available() ? SS_ATTN_PREFILL_MMA : SS_ATTN_PREFILL_WGMMA;
            char what[96];
            snprintf(what, sizeof what, "%s, %s prefill", names[i],
                     ss_attn_prefill_wgmma_available() ? "mma" : "wgmma asked for (mma: no wgmma here)");
            check_vs_cpu(&m, &o, bounds[i], what);
            g_prefill = SS_ATTN_PREFILL_AUTO;
        }
        if (i <= 1 || i == 5) {
            /* the BF16 residual, both engines: one more rounding per add, so
             * a GPU-vs-CPU difference can flip a BF16 step of x; bound 1.5x
             * (not yet measured on a GPU) */
            g_residual = SS_RESIDUAL_BF16;
            char what[96];
            snprintf(what, sizeof what, "%s, BF16 residual", names[i]);
            check_vs_cpu(&m, &o, 1.5 * bounds[i], what);
            g_residual = SS_RESIDUAL_AUTO;
        }
        if (m.quant != SS_QUANT_NONE) {
            o.dequant = SS_DEQUANT_FAST;
            char what[96];
            snprintf(what, sizeof what, "%s, fast dequant", names[i]);
            check_vs_cpu(&m, &o, bounds[i], what);
        }
        ss_model_free(&m);
    }
}

/* INT8: pruned on cuBLASLt and slid on cuSPARSELt give bit-identical logits
 * (exact dequant), and the same ids from ss_generate_cuda; FP8 within FP32
 * accumulation-order tolerance. */
static void test_tiny_pruned_equals_slid(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model mp, ms;
    OK(ss_model_load(p[2], &mp));
    OK(ss_model_load(p[3], &ms));
    assert_true(ms.slid);
    step_def steps[3];
    int ns = make_script(steps, mp.cfg.vocab);
    ss_cuda_model_opts o = exact_opts();
    ss_cuda_model *cp, *cs;
    OK(ss_cuda_model_load(&mp, &o, &cp));
    OK(ss_cuda_model_load(&ms, &o, &cs));
    assert_int_equal(ss_cuda_model_backend(cp), SS_BACKEND_CUBLASLT);
    assert_int_equal(ss_cuda_model_backend(cs), SS_BACKEND_CUSPARSELT);
    int rows = 0;
    for (int s = 0; s < ns; s++) rows += steps[s].n_logits;
    for (int r = 0; r < 2; r++) { /* residual F32, BF16 */
        g_residual = r ? SS_RESIDUAL_BF16 : SS_RESIDUAL_F32;
        float *lp = run_gpu(cp, steps, ns), *ls = run_gpu(cs, steps, ns);
        assert_memory_equal(ls, lp, (size_t)rows * mp.cfg.vocab * sizeof(float));
        printf("  int8 pruned (cublaslt) vs slid (cusparselt), %s residual: %d x %d logits bit-identical\n",
               ss_residual_name(g_residual), rows, mp.cfg.vocab);
        free(lp), free(ls);
    }
    g_residual = SS_RESIDUAL_AUTO;
    ss_cuda_model_free(cp);
    ss_cuda_model_free(cs);

    static const int32_t prompt[6] = {1, 517, 2048, 33, 4000, 9};
    int32_t ip[24], is[24], ic[24];
    int np, nsl, nc;
    OK(ss_generate_cuda(&mp, prompt, 6, 24, 0, ip, &np));
    OK(ss_generate_cuda(&ms, prompt, 6, 24, 0, is, &nsl));
    OK(ss_generate_cpu(&mp, prompt, 6, 24, 0, ic, &nc));
    assert_int_equal(np, 24);
    assert_int_equal(nsl, 24);
    assert_memory_equal(ip, is, sizeof ip);
    int agree = 0;
    while (agree < 24 && ip[agree] == ic[agree]) agree++;
    printf("  generate int8 2_8: GPU pruned == GPU slid (24 ids); GPU == CPU for the first %d of 24 ids\n", agree);
    printf("  ids:");
    for (int i = 0; i < 24; i++) printf(" %d", ip[i]);
    printf("\n");
    ss_model_free(&mp);
    ss_model_free(&ms);
}

/* The prompt in one pass, in chunks, and with its last tokens decoded one by
 * one: same cache, same final logits (INT8 exact: bit-identical for the
 * chunked prefill; the decode kernel keeps q and P in float while the flash
 * kernel rounds them to BF16, so that one is within tolerance). */
static void kv_cache_across_steps(void);

static void test_kv_cache_across_steps(void **state) {
    (void)state;
    g_prefill = SS_ATTN_PREFILL_MMA;
    kv_cache_across_steps();
    if (ss_attn_prefill_wgmma_available()) {
        g_prefill = SS_ATTN_PREFILL_WGMMA;
        printf("  (again with the wgmma prefill kernel)\n");
        kv_cache_across_steps();
    }
    g_prefill = SS_ATTN_PREFILL_AUTO;
}

static void kv_cache_across_steps(void) {
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model m;
    OK(ss_model_load(p[1], &m));
    ss_cuda_model_opts o = exact_opts();
    ss_cuda_model *cm;
    OK(ss_cuda_model_load(&m, &o, &cm));
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = 200, .max_tokens = 150, .max_logits = 1,
                              .attn_prefill = g_prefill};
    const int P = 150, V = m.cfg.vocab;
    int32_t tok[150], seq[150] = {0}, pos[150];
    ss_rng r;
    ss_rng_seed(&r, 99, 0);
    for (int i = 0; i < P; i++) tok[i] = (int32_t)(ss_rng_u64(&r) % (uint64_t)V), pos[i] = i;
    float *whole = malloc((size_t)V * 4), *chunked = malloc((size_t)V * 4), *decoded = malloc((size_t)V * 4);
    int32_t last = P - 1;
    ss_cuda_engine *e;
    OK(ss_cuda_engine_new(cm, &eo, &e));
    ss_batch b = {.n = P, .token = tok, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last};
    OK(ss_cuda_forward(e, &b, whole));
    /* chunks of 70, 50, 30 */
    ss_cuda_engine_reset(e);
    const int cuts[4] = {0, 70, 120, 150};
    for (int c = 0; c < 3; c++) {
        int32_t lr = cuts[c + 1] - cuts[c] - 1;
        ss_batch bc = {.n = cuts[c + 1] - cuts[c], .token = tok + cuts[c], .seq = seq, .pos = pos + cuts[c],
                       .n_logits = 1, .logit_rows = &lr};
        OK(ss_cuda_forward(e, &bc, chunked));
    }
    assert_memory_equal(chunked, whole, (size_t)V * 4);
    /* 146 in one pass, then 4 single tokens */
    ss_cuda_engine_reset(e);
    int32_t lr = 145;
    ss_batch bp = {.n = 146, .token = tok, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &lr};
    OK(ss_cuda_forward(e, &bp, decoded));
    for (int i = 146; i < P; i++) {
        int32_t zero = 0;
        ss_batch bd = {.n = 1, .token = tok + i, .seq = seq, .pos = pos + i, .n_logits = 1, .logit_rows = &zero};
        OK(ss_cuda_forward(e, &bd, decoded));
    }
    diff_stats d = compare_logits(decoded, whole, 1, V);
    printf("  kv cache: chunked prefill bit-identical; 4 decode steps vs one pass: rel L2 %.2e, argmax %s\n", d.rel_l2,
           d.argmax_agree ? "agrees" : "differs");
    assert_true(d.rel_l2 < 1e-1);
    /* a rewind (position 0 again) restarts the sequence */
    int32_t zero = 0;
    ss_batch br = {.n = P, .token = tok, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last};
    OK(ss_cuda_forward(e, &br, decoded));
    assert_memory_equal(decoded, whole, (size_t)V * 4);
    (void)zero;
    free(whole), free(chunked), free(decoded);
    ss_cuda_engine_free(e);
    ss_cuda_model_free(cm);
    ss_model_free(&m);
}

/* Decode of 3 sequences for 20 steps: CUDA graph replay == eager, for each
 * decode attention kind; the tensor-core kernel with and without the fused
 * KV write computes the same bits, so their ids are identical; the old
 * kernel differs from them by rounding (relative ~1e-6), so its agreement
 * is reported. */
static void test_graph_equals_eager(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model m;
    OK(ss_model_load(p[5], &m)); /* fp8 slid: cuSPARSELt inside the graph */
    ss_cuda_model *cm;
    ss_cuda_model_opts o;
    memset(&o, 0, sizeof o);
    o.dequant = SS_DEQUANT_FAST;
    OK(ss_cuda_model_load(&m, &o, &cm));
    const ss_attn_decode_kind kinds[3] = {SS_ATTN_DECODE_OLD, SS_ATTN_DECODE_TC, SS_ATTN_DECODE_FUSED};
    int32_t out[3][2][20 * 3];
    for (int k = 0; k < 3; k++) {
        ss_cuda_engine_opts eo = {.max_seqs = 3, .max_len = 64, .max_tokens = 48, .max_logits = 3, .attn_decode = kinds[k]};
        for (int g = 0; g < 2; g++) {
            ss_cuda_engine *e;
            OK(ss_cuda_engine_new(cm, &eo, &e));
            assert_int_equal(ss_cuda_engine_attn_decode(e), kinds[k]);
            step_def s;
            memset(&s, 0, sizeof s);
            add_run(&s, 0, 0, 16, 11, m.cfg.vocab);
            add_run(&s, 1, 0, 9, 12, m.cfg.vocab);
            add_run(&s, 2, 0, 20, 13, m.cfg.vocab);
            s.n_logits = 3;
            s.rows[0] = 15, s.rows[1] = 24, s.rows[2] = 44;
            ss_batch b = batch_of(&s);
            int32_t first[3];
            OK(ss_cuda_forward_ids(e, &b, first));
            OK(ss_cuda_decode_greedy(e, 3, first, 20, g, out[k][g]));
            assert_int_equal(ss_cuda_engine_seq_len(e, 1), 9 + 20);
            ss_cuda_engine_free(e);
        }
        assert_memory_equal(out[k][1], out[k][0], sizeof out[k][0]);
        printf("  decode 3 x 20 steps, %s attention: CUDA graph replay == eager\n", ss_attn_decode_name(kinds[k]));
    }
    assert_memory_equal(out[2][1], out[1][1], sizeof out[1][1]);
    int agree = 0;
    while (agree < 60 && out[0][1][agree] == out[1][1][agree]) agree++;
    /* (not asserted: the logits are BF16, so a difference of rounding between
     * the kernels can flip a near tie; test_tiny_vs_cpu bounds both against
     * the CPU) */
    printf("  decode: fused == tc (60 ids); old == tc for the first %d of 60 ids (step-major)\n", agree);
    ss_cuda_model_free(cm);
    ss_model_free(&m);
}

/* The FP8 KV cache (E4M3, one scale per position and KV head): its accuracy
 * against the BF16 cache on the whole model, everything else equal (tiny
 * INT8, exact dequant: the same GEMMs bit for bit), stated; and it keeps
 * the engine's invariants: a prompt prefilled in chunks gives the
 * bit-identical logits of one pass, graph decode == eager decode. */
static void test_kv_cache_fp8(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model m;
    OK(ss_model_load(p[1], &m));
    ss_cuda_model_opts o = exact_opts();
    ss_cuda_model *cm;
    OK(ss_cuda_model_load(&m, &o, &cm));
    step_def steps[3];
    const int ns = make_script(steps, m.cfg.vocab);
    int rows = 0;
    for (int i = 0; i < ns; i++) rows += steps[i].n_logits;
    g_kv = SS_KV_CACHE_BF16;
    float *lb = run_gpu(cm, steps, ns);
    g_kv = SS_KV_CACHE_FP8;
    float *l8 = run_gpu(cm, steps, ns);
    float *lc = run_cpu(&m, steps, ns);
    diff_stats d = compare_logits(l8, lb, rows, m.cfg.vocab), dc = compare_logits(l8, lc, rows, m.cfg.vocab);
    printf("  FP8 KV cache vs BF16 KV cache (tiny int8, GPU): logits rel L2 %.2e, argmax agrees %d/%d; vs CPU %.2e\n",
           d.rel_l2, d.argmax_agree, d.rows, dc.rel_l2);
    assert_true(d.rel_l2 > 0 && d.rel_l2 < 0.15);
    assert_true(dc.rel_l2 < 0.2);
    free(lb), free(l8), free(lc);

    /* chunked prefill == one pass, bit for bit */
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = 198, .max_tokens = 150, .max_logits = 1,
                              .kv_cache = SS_KV_CACHE_FP8}; /* max_len not a multiple of 4: rounded inside */
    const int P = 150, V = m.cfg.vocab;
    int32_t tok[150], seq[150] = {0}, pos[150];
    ss_rng r;
    ss_rng_seed(&r, 99, 0);
    for (int i = 0; i < P; i++) tok[i] = (int32_t)(ss_rng_u64(&r) % (uint64_t)V), pos[i] = i;
    float *whole = malloc((size_t)V * 4), *chunked = malloc((size_t)V * 4);
    int32_t last = P - 1;
    ss_cuda_engine *e;
    OK(ss_cuda_engine_new(cm, &eo, &e));
    assert_int_equal(ss_cuda_engine_kv_cache(e), SS_KV_CACHE_FP8);
    ss_batch b = {.n = P, .token = tok, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &last};
    OK(ss_cuda_forward(e, &b, whole));
    ss_cuda_engine_reset(e);
    const int cuts[4] = {0, 70, 120, 150};
    for (int c = 0; c < 3; c++) {
        int32_t lr = cuts[c + 1] - cuts[c] - 1;
        ss_batch bc = {.n = cuts[c + 1] - cuts[c], .token = tok + cuts[c], .seq = seq, .pos = pos + cuts[c],
                       .n_logits = 1, .logit_rows = &lr};
        OK(ss_cuda_forward(e, &bc, chunked));
    }
    assert_memory_equal(chunked, whole, (size_t)V * 4);
    printf("  FP8 KV cache: chunked prefill bit-identical to one pass\n");
    ss_cuda_engine_free(e);
    free(whole), free(chunked);

    /* graph decode == eager decode (the fused FP8 write inside the graph) */
    int32_t out[2][20 * 3];
    ss_cuda_engine_opts eo2 = {.max_seqs = 3, .max_len = 64, .max_tokens = 48, .max_logits = 3,
                               .kv_cache = SS_KV_CACHE_FP8, .attn_decode = SS_ATTN_DECODE_FUSED};
    for (int g = 0; g < 2; g++) {
        OK(ss_cuda_engine_new(cm, &eo2, &e));
        step_def st;
        memset(&st, 0, sizeof st);
        add_run(&st, 0, 0, 16, 11, m.cfg.vocab);
        add_run(&st, 1, 0, 9, 12, m.cfg.vocab);
        add_run(&st, 2, 0, 20, 13, m.cfg.vocab);
        st.n_logits = 3;
        st.rows[0] = 15, st.rows[1] = 24, st.rows[2] = 44;
        ss_batch bb = batch_of(&st);
        int32_t first[3];
        OK(ss_cuda_forward_ids(e, &bb, first));
        OK(ss_cuda_decode_greedy(e, 3, first, 20, g, out[g]));
        ss_cuda_engine_free(e);
    }
    assert_memory_equal(out[1], out[0], sizeof out[0]);
    printf("  FP8 KV cache: decode 3 x 20 steps, CUDA graph replay == eager\n");

    /* the old decode kernel reads BF16 caches only */
    ss_cuda_engine_opts eo3 = {.max_seqs = 1, .max_len = 8, .max_tokens = 8, .kv_cache = SS_KV_CACHE_FP8,
                               .attn_decode = SS_ATTN_DECODE_OLD};
    assert_int_equal(ss_cuda_engine_new(cm, &eo3, &e), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "FP8 KV cache"));
    g_kv = SS_KV_CACHE_AUTO;
    ss_cuda_model_free(cm);
    ss_model_free(&m);
}

static void test_bad_batches(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model m;
    OK(ss_model_load(p[1], &m));
    ss_cuda_model *cm;
    OK(ss_cuda_model_load(&m, NULL, &cm));
    ss_cuda_engine *e;
    ss_cuda_engine_opts eo = {.max_seqs = 2, .max_len = 16, .max_tokens = 8, .max_logits = 2};
    OK(ss_cuda_engine_new(cm, &eo, &e));
    int32_t tok[9] = {0}, seq[9] = {0}, pos[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, row = 0;
    float *lg = malloc((size_t)m.cfg.vocab * 4);
    ss_batch b = {.n = 9, .token = tok, .seq = seq, .pos = pos, .n_logits = 1, .logit_rows = &row};
    assert_int_equal(ss_cuda_forward(e, &b, lg), SS_ERR_ARG); /* more tokens than planned */
    assert_non_null(strstr(ss_errmsg(), "exceed"));
    b.n = 2;
    pos[1] = 5; /* a gap */
    assert_int_equal(ss_cuda_forward(e, &b, lg), SS_ERR_ARG);
    pos[1] = 1;
    tok[0] = m.cfg.vocab; /* out of range */
    assert_int_equal(ss_cuda_forward(e, &b, lg), SS_ERR_ARG);
    tok[0] = 0;
    int32_t first = 0, out[4];
    assert_int_equal(ss_cuda_decode_greedy(e, 1, &first, 4, 1, out), SS_ERR_ARG); /* not prefilled */
    OK(ss_cuda_forward(e, &b, lg));
    assert_int_equal(ss_cuda_decode_greedy(e, 1, &first, 15, 1, out), SS_ERR_ARG); /* past max_len */
    free(lg);
    ss_cuda_engine_free(e);
    ss_cuda_model_free(cm);
    ss_model_free(&m);
}

/* ---- small in-memory Llama and Qwen2 models ---- */

typedef struct mem_model {
    ss_model m;
    void *blocks[64];
    int nb;
} mem_model;

static void *keep(mem_model *mm, void *p) {
    assert_non_null(p);
    assert_true(mm->nb < 64);
    mm->blocks[mm->nb++] = p;
    return p;
}

static float *vals(mem_model *mm, ss_rng *r, int64_t n, double mean, double std) {
    float *v = keep(mm, malloc((size_t)n * sizeof(float)));
    for (int64_t i = 0; i < n; i++) v[i] = ss_round_bf16((float)(mean + std * ss_rng_normal(r)));
    return v;
}

static uint16_t *bf16_vals(mem_model *mm, ss_rng *r, int64_t n, double std) {
    uint16_t *v = keep(mm, malloc((size_t)n * 2));
    for (int64_t i = 0; i < n; i++) v[i] = ss_f32_to_bf16((float)(std * ss_rng_normal(r)));
    return v;
}

/* hidden 256, 4 heads of 64 over 2 KV heads, intermediate 512, 2 layers, vocab 384. */
static void mem_build(mem_model *mm, ss_arch arch, ss_quant quant, uint64_t seed) {
    memset(mm, 0, sizeof *mm);
    ss_model_config c = {.arch = arch, .act = SS_ACT_SILU, .hidden = 256, .intermediate = 512, .n_layers = 2,
                         .n_heads = 4, .n_kv_heads = 2, .head_dim = 64, .vocab = 384, .max_pos = 512, .rms_eps = 1e-6,
                         .rope_theta = 500000.0, .tie_embeddings = 0, .bos_id = 1, .eos_id = 2};
    if (arch == SS_ARCH_LLAMA)
        c.rope_type = SS_ROPE_LLAMA3, c.rope_factor = 32.0, c.rope_low_freq = 1.0, c.rope_high_freq = 4.0,
        c.rope_orig_max_pos = 64;
    if (arch == SS_ARCH_QWEN2) c.qkv_bias = 1, c.rope_theta = 1000000.0;
    ss_rng r;
    ss_rng_seed(&r, seed, 0);
    ss_model *m = &mm->m;
    OK(ss_model_init(m, &c));
    m->quant = quant;
    m->embed = bf16_vals(mm, &r, (int64_t)c.vocab * c.hidden, 1.0);
    m->embed_dtype = SS_DT_BF16;
    m->final_norm = vals(mm, &r, c.hidden, 1.0, 0.1);
    m->lm_head = (ss_linear_weight){.name = "lm_head.weight", .N = c.vocab, .K = c.hidden, .dtype = SS_DT_BF16,
                                    .w = bf16_vals(mm, &r, (int64_t)c.vocab * c.hidden, 0.06)};
    const int64_t H = c.hidden, I = c.intermediate, Q = 256, KV = 128;
    for (int l = 0; l < c.n_layers; l++) {
        ss_layer_weights *lw = &m->layers[l];
        lw->attn_norm = vals(mm, &r, H, 1.0, 0.1);
        lw->mlp_norm = vals(mm, &r, H, 1.0, 0.1);
        ss_linear_weight *lin[7] = {&lw->q, &lw->k, &lw->v, &lw->o, &lw->gate, &lw->up, &lw->down};
        const int64_t N[7] = {Q, KV, KV, H, I, I, H}, K[7] = {H, H, H, Q, H, H, I};
        for (int j = 0; j < 7; j++) {
            uint16_t *w = bf16_vals(mm, &r, N[j] * K[j], 1.0 / sqrt((double)K[j]));
            *lin[j] = (ss_linear_weight){.name = "w", .N = N[j], .K = K[j], .dtype = SS_DT_BF16, .w = w};
            if (j < 3 && c.qkv_bias) lin[j]->bias = vals(mm, &r, N[j], 0.0, 0.3);
            if (quant != SS_QUANT_NONE) {
                ss_dtype qd = ss_quant_dtype(quant);
                void *wq = keep(mm, malloc((size_t)(N[j] * K[j])));
                float *sc = keep(mm, malloc((size_t)N[j] * sizeof(float)));
                OK(ss_quantize_weight(w, SS_DT_BF16, N[j], K[j], SS_SCHEME_ABSMAX, qd, wq, sc, "w"));
                lin[j]->dtype = qd;
                lin[j]->w = wq;
                lin[j]->scale = sc;
            }
        }
    }
}

static void mem_free(mem_model *mm) {
    for (int i = 0; i < mm->nb; i++) free(mm->blocks[i]);
    ss_model_free(&mm->m);
}

static void test_llama_qwen_vs_cpu(void **state) {
    (void)state;
    const ss_arch archs[2] = {SS_ARCH_LLAMA, SS_ARCH_QWEN2};
    const ss_quant quants[2] = {SS_QUANT_NONE, SS_QUANT_INT8};
    for (int a = 0; a < 2; a++)
        for (int q = 0; q < 2; q++) {
            mem_model mm;
            mem_build(&mm, archs[a], quants[q], 40 + (uint64_t)(a * 2 + q));
            ss_cuda_model_opts o = exact_opts();
            char what[96];
            snprintf(what, sizeof what, "%s %s (in memory)", ss_arch_name(archs[a]), ss_quant_name(quants[q]));
            check_vs_cpu(&mm.m, &o, q ? 5e-2 : 2e-2, what);
            mem_free(&mm);
        }
}

/* A per-layer recipe (engine_cuda.c: each linear on its own backend and
 * geometry): the mixed INT8 model on the GPU within the tolerance of the CPU
 * engine, and bit-identical (exact dequant) to its pruned-only twin, which
 * runs every linear dense on cuBLASLt; same generated ids. q/k/v with
 * different sparsities are refused by name (they run as one GEMM). */
static void write_recipe(const char *file, const char *text) { OK(ss_write_file_atomic(file, text, strlen(text))); }

static void test_tiny_mixed_recipe(void **state) {
    (void)state;
    char p[6][300], recipe[300], mixed[300], pruned[300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    snprintf(recipe, sizeof recipe, "%s/recipe.json", g_tmp);
    snprintf(mixed, sizeof mixed, "%s/tiny-int8-mixed", g_tmp);
    snprintf(pruned, sizeof pruned, "%s/tiny-int8-mixed-pruned", g_tmp);
    write_recipe(recipe, "{\"default\": \"2_8\", \"rules\": ["
                         "{\"layers\": \"0\", \"linears\": \"attn\", \"sparsity\": \"dense\"},"
                         "{\"layers\": \"1-2\", \"linears\": \"o\", \"sparsity\": \"2_6\"},"
                         "{\"layers\": 3, \"linears\": \"mlp\", \"sparsity\": \"2_4\"}]}");
    ss_prune_opts po = {.recipe_file = recipe};
    OK(ss_convert_checkpoint_opts(p[1], mixed, &po));
    OK(ss_prune_checkpoint_opts(p[1], pruned, &po));
    ss_model mm, mp;
    OK(ss_model_load(mixed, &mm));
    OK(ss_model_load(pruned, &mp));
    assert_true(mm.mixed);
    assert_false(mm.layers[0].q.slid);
    assert_true(mm.layers[1].o.slid);
    ss_cuda_model_opts o = exact_opts();
    check_vs_cpu(&mm, &o, 6e-2, "tiny int8 mixed recipe");
    o.dequant = SS_DEQUANT_FAST;
    check_vs_cpu(&mm, &o, 6e-2, "tiny int8 mixed recipe, fast dequant");

    step_def steps[3];
    int ns = make_script(steps, mm.cfg.vocab);
    o = exact_opts();
    ss_cuda_model *cm, *cp;
    OK(ss_cuda_model_load(&mm, &o, &cm));
    OK(ss_cuda_model_load(&mp, &o, &cp));
    assert_int_equal(ss_cuda_model_backend(cm), SS_BACKEND_CUSPARSELT);
    assert_int_equal(ss_cuda_model_backend(cp), SS_BACKEND_CUBLASLT);
    float *lm = run_gpu(cm, steps, ns), *lp = run_gpu(cp, steps, ns);
    int rows = 0;
    for (int s = 0; s < ns; s++) rows += steps[s].n_logits;
    assert_memory_equal(lm, lp, (size_t)rows * mm.cfg.vocab * sizeof(float));
    printf("  int8 mixed recipe (slid, mixed backends) vs its pruned twin (cublaslt): %d x %d logits bit-identical\n",
           rows, mm.cfg.vocab);
    free(lm), free(lp);
    ss_cuda_model_free(cm);
    ss_cuda_model_free(cp);
    static const int32_t prompt[6] = {1, 517, 2048, 33, 4000, 9};
    int32_t im[16], ip[16];
    int nm, np;
    OK(ss_generate_cuda(&mm, prompt, 6, 16, 0, im, &nm));
    OK(ss_generate_cuda(&mp, prompt, 6, 16, 0, ip, &np));
    assert_int_equal(nm, 16);
    assert_memory_equal(im, ip, sizeof im);
    ss_model_free(&mm);
    ss_model_free(&mp);

    /* k dense, q and v 2_8 in layer 1: the fused q/k/v GEMM cannot take it */
    char split[300];
    snprintf(split, sizeof split, "%s/tiny-int8-split-qkv", g_tmp);
    write_recipe(recipe, "{\"default\": \"2_8\", \"rules\": [{\"layers\": 1, \"linears\": \"k\", \"sparsity\": \"dense\"}]}");
    OK(ss_convert_checkpoint_opts(p[1], split, &po));
    ss_model ms;
    OK(ss_model_load(split, &ms));
    o = exact_opts();
    assert_int_equal(ss_cuda_model_load(&ms, &o, &cm), SS_ERR_UNSUPPORTED);
    if (!strstr(ss_errmsg(), "model.layers.1.self_attn.k_proj.weight") || !strstr(ss_errmsg(), "one GEMM"))
        fail_msg("error: %s", ss_errmsg());
    printf("  split q/k/v sparsities refused: %s\n", ss_errmsg());
    ss_model_free(&ms);
}

/* generate --logits on the GPU (eager steps, logits copied back): the ids
 * of the graph path, and every step's logits close to the CPU engine's. */
typedef struct logit_rows {
    float *rows;
    int n, vocab;
} logit_rows;

static ss_status keep_rows(void *ctx, int step, const float *logits, int vocab) {
    logit_rows *r = ctx;
    assert_int_equal(step, r->n);
    assert_int_equal(vocab, r->vocab);
    memcpy(r->rows + (size_t)r->n++ * vocab, logits, (size_t)vocab * sizeof(float));
    return SS_OK;
}

static void test_generate_logits_vs_cpu(void **state) {
    (void)state;
    char p[6][300];
    tiny_paths(p[0], p[1], p[2], p[3], p[4], p[5], sizeof p[0]);
    ss_model m;
    OK(ss_model_load(p[1], &m)); /* int8 */
    enum { NEW = 12 };
    const int32_t prompt[] = {5, 17, 300, 1024, 9, 77, 3000, 42};
    int32_t ids_graph[NEW], ids_gpu[NEW], ids_cpu[NEW];
    int n_graph, n_gpu, n_cpu;
    const int V = m.cfg.vocab;
    logit_rows gpu = {malloc((size_t)NEW * V * sizeof(float)), 0, V}, cpu = {malloc((size_t)NEW * V * sizeof(float)), 0, V};
    assert_non_null(gpu.rows);
    assert_non_null(cpu.rows);
    OK(ss_generate_cuda(&m, prompt, 8, NEW, 0, ids_graph, &n_graph));
    OK(ss_generate_cuda_logits(&m, NULL, prompt, 8, NEW, 0, ids_gpu, &n_gpu, NULL, keep_rows, &gpu));
    OK(ss_generate_cpu_logits(&m, prompt, 8, NEW, 0, ids_cpu, &n_cpu, NULL, keep_rows, &cpu));
    assert_int_equal(n_gpu, NEW);
    assert_int_equal(gpu.n, NEW);
    assert_int_equal(cpu.n, NEW);
    assert_memory_equal(ids_gpu, ids_graph, sizeof ids_gpu);
    for (int k = 0; k < NEW; k++) assert_int_equal(ss_argmax(gpu.rows + (size_t)k * V, V), ids_gpu[k]);
    int same = 0;
    while (same < NEW && ids_cpu[same] == ids_gpu[same]) same++;
    diff_stats d = compare_logits(gpu.rows, cpu.rows, same + (same < NEW), V); /* rows up to the first divergence */
    printf("  generate logits GPU vs CPU: %d/%d ids equal, rel L2 %.2e over %d rows\n", same, NEW, d.rel_l2, d.rows);
    assert_true(d.rel_l2 < 5e-2);
    free(gpu.rows);
    free(cpu.rows);
    ss_model_free(&m);
}

/* linear and yarn RoPE (yarn scales cos/sin by its attention factor, baked
 * into the GPU engine's table): the same frequencies (engine/rope.h) on
 * both engines, so the GPU follows the CPU engine as for the default. */
static void test_rope_scalings_vs_cpu(void **state) {
    (void)state;
    const ss_rope_type types[2] = {SS_ROPE_LINEAR, SS_ROPE_YARN};
    for (int t = 0; t < 2; t++) {
        mem_model mm;
        mem_build(&mm, SS_ARCH_QWEN2, SS_QUANT_NONE, 60 + (uint64_t)t);
        ss_model_config *c = &mm.m.cfg;
        c->rope_type = types[t];
        c->rope_factor = 8.0;
        c->rope_orig_max_pos = 32;
        c->rope_theta = 10000.0;
        OK(ss_config_validate(c, "rope test"));
        double inv[32], scale;
        OK(ss_rope_frequencies(c, 64, inv, &scale));
        assert_true(t == 0 ? scale == 1.0 : scale > 1.2); /* yarn: 0.1 ln 8 + 1 */
        ss_cuda_model_opts o = exact_opts();
        char what[96];
        snprintf(what, sizeof what, "qwen2 rope %s (in memory)", ss_rope_type_name(types[t]));
        check_vs_cpu(&mm.m, &o, 2e-2, what);
        mem_free(&mm);
    }
}

int main(void) {
    if (ss_gpu_count() == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_vs_cpu),           cmocka_unit_test(test_tiny_pruned_equals_slid),
        cmocka_unit_test(test_kv_cache_across_steps), cmocka_unit_test(test_graph_equals_eager),
        cmocka_unit_test(test_bad_batches),           cmocka_unit_test(test_llama_qwen_vs_cpu),
        cmocka_unit_test(test_tiny_mixed_recipe),
        cmocka_unit_test(test_kv_cache_fp8),
        cmocka_unit_test(test_rope_scalings_vs_cpu),  cmocka_unit_test(test_generate_logits_vs_cpu),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
