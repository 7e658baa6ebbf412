/* Sliding-window perplexity (engine/perplexity.h) and `slidesparse eval`:
 *  - the windows: every token scored at most once, by the first window that
 *    reaches it, with the convention's context; stride == ctx skips each
 *    window's first token; a one-token last window is not run; bad
 *    arguments refused;
 *  - the windowing through a fake engine whose NLL is a known function of
 *    the whole context, so wrong context, positions or chunking show;
 *  - the log-softmax against a direct formula, stable for large logits;
 *  - the CPU engine on tiny Llama and Qwen2 checkpoints written by
 *    transformers (tests/data/eval, make_eval_fixture.py) against
 *    transformers' own loss (golden.json) within the stated tolerance;
 *  - the command: JSON and CSV results equal to the library's, bad inputs
 *    refused with the documented exit codes;
 *  - text in: `tokenize` writes the tokenizers package's ids, `eval --text`
 *    equals `eval --tokens`, `generate --prompt` prints the decoding of what
 *    `--prompt-ids` generates for the encoded prompt; `tokenize --bytes`
 *    gives one id per byte; `prune --method wanda --calib TEXT` (the
 *    checkpoint's tokenizer) equals `--calib-tokens` of the same ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/fsutil.h"
#include "engine/model.h"
#include "engine/perplexity.h"
#include "io/checkpoint.h"
#include "pipeline/eval_results.h"
#include "text/token_file.h"
#include "text/tokenizer.h"

#define OK(expr)                                                                             \
    do {                                                                                     \
        ss_status st_ = (expr);                                                              \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

static char g_tmp[256];

/* ---- the windows ---- */

static void expect_window(const ss_ppl_window *w, int64_t b, int64_t e, int64_t f) {
    assert_int_equal(w->begin, b);
    assert_int_equal(w->end, e);
    assert_int_equal(w->first_target, f);
}

static void test_plan_examples(void **state) {
    (void)state;
    ss_ppl_window *w;
    int64_t nw;
    /* disjoint windows: the first token of each is not scored */
    OK(ss_ppl_plan(10, 4, 4, &w, &nw));
    assert_int_equal(nw, 3);
    expect_window(&w[0], 0, 4, 1), expect_window(&w[1], 4, 8, 5), expect_window(&w[2], 8, 10, 9);
    free(w);
    /* overlapping windows: every token after the first is scored once */
    OK(ss_ppl_plan(10, 4, 2, &w, &nw));
    assert_int_equal(nw, 4);
    expect_window(&w[0], 0, 4, 1), expect_window(&w[1], 2, 6, 4), expect_window(&w[2], 4, 8, 6);
    expect_window(&w[3], 6, 10, 8);
    free(w);
    /* shorter than the context: one window */
    OK(ss_ppl_plan(5, 64, 16, &w, &nw));
    assert_int_equal(nw, 1);
    expect_window(&w[0], 0, 5, 1);
    free(w);
    /* n = 2 ctx + 1 with disjoint windows: the last window holds one token and scores nothing */
    OK(ss_ppl_plan(9, 4, 4, &w, &nw));
    assert_int_equal(nw, 2);
    free(w);
    /* refused */
    assert_int_equal(ss_ppl_plan(10, 1, 1, &w, &nw), SS_ERR_ARG);
    assert_int_equal(ss_ppl_plan(10, 4, 0, &w, &nw), SS_ERR_ARG);
    assert_int_equal(ss_ppl_plan(10, 4, 5, &w, &nw), SS_ERR_ARG);
    assert_int_equal(ss_ppl_plan(1, 4, 4, &w, &nw), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "nothing to score"));
}

/* For many (n, ctx, stride): each target scored at most once, in order; all
 * of 1..n-1 when stride < ctx; with stride == ctx exactly the multiples of
 * ctx are missing; a target's context (t - begin tokens) is at least
 * ctx - stride after the first window, and windows hold at most ctx. */
static void test_plan_properties(void **state) {
    (void)state;
    for (int64_t n = 2; n <= 40; n++)
        for (int ctx = 2; ctx <= 12; ctx++)
            for (int stride = 1; stride <= ctx; stride++) {
                ss_ppl_window *w;
                int64_t nw;
                OK(ss_ppl_plan(n, ctx, stride, &w, &nw));
                int64_t next = 1, scored = 0;
                for (int64_t k = 0; k < nw; k++) {
                    assert_true(w[k].end - w[k].begin <= ctx);
                    assert_true(w[k].begin < w[k].first_target && w[k].first_target < w[k].end);
                    assert_true(w[k].first_target >= next); /* never scored twice */
                    if (stride < ctx) assert_int_equal(w[k].first_target, next);
                    else assert_int_equal(w[k].first_target, w[k].begin + 1);
                    if (k > 0) assert_true(w[k].first_target - w[k].begin >= ctx - stride);
                    scored += w[k].end - w[k].first_target;
                    next = w[k].end;
                }
                /* the last window reaches the end, unless it would have held one token only */
                if (next != n) assert_true(stride == ctx && next == n - 1 && (n - 1) % ctx == 0);
                if (stride < ctx) assert_int_equal(scored, n - 1);
                else assert_int_equal(scored, n - 1 - (n - 1) / ctx);
                free(w);
            }
}

/* ---- the windowing through a fake engine ---- */

/* NLL of target y after the context c[0..len): a hash of everything, in [0, 8). */
static double fake_nll(const int32_t *c, int len, int32_t y) {
    uint64_t h = 1469598103934665603ull ^ (uint64_t)len;
    for (int i = 0; i < len; i++) h = (h ^ (uint64_t)c[i]) * 1099511628211ull;
    h = (h ^ (uint64_t)y) * 1099511628211ull;
    return (double)(h >> 11) * 0x1.0p-53 * 8.0;
}

typedef struct fake_engine {
    int32_t cache[256]; /* the sequence so far */
    int len, steps, max_rows_seen;
} fake_engine;

static ss_status fake_step(void *engine, const ss_batch *b, const int32_t *targets, double *nll) {
    fake_engine *f = engine;
    f->steps++;
    for (int i = 0; i < b->n; i++) {
        if (b->seq[i] != 0 || b->pos[i] != f->len) return ss_fail(SS_ERR_ARG, "fake: row %d at %d, expected %d", i, b->pos[i], f->len);
        f->cache[f->len++] = b->token[i];
    }
    if (b->n_logits > f->max_rows_seen) f->max_rows_seen = b->n_logits;
    for (int r = 0; r < b->n_logits; r++) {
        int row = b->logit_rows[r];
        nll[r] = fake_nll(f->cache, b->pos[row] + 1, targets[r]);
    }
    return SS_OK;
}

static void fake_reset(void *engine) { ((fake_engine *)engine)->len = 0; }

static void test_windowing_fake_engine(void **state) {
    (void)state;
    enum { N = 50 };
    int32_t tok[N];
    for (int i = 0; i < N; i++) tok[i] = (i * 7 + 3) % 11;
    const int cases[][4] = {{16, 16, 16, 16}, {16, 5, 16, 16}, {16, 5, 3, 2}, {16, 1, 16, 4}, {64, 8, 7, 64}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const int ctx = cases[c][0], stride = cases[c][1], max_tokens = cases[c][2], chunk = cases[c][3];
        fake_engine f = {0};
        ss_nll_engine e = {.engine = &f, .step = fake_step, .reset = fake_reset, .max_tokens = max_tokens,
                           .chunk = chunk > max_tokens ? max_tokens : chunk};
        ss_ppl_result r;
        double per[N];
        OK(ss_perplexity(&e, tok, N, 11, ctx, stride, &r, per));
        /* the convention, directly: window begins b = 0, stride, ...; target t scored by the first window reaching it */
        double want = 0;
        int64_t scored = 0, prev_end = 0;
        for (int64_t b = 0; b < N; b += stride) {
            int64_t end = b + ctx < N ? b + ctx : N;
            for (int64_t t = (prev_end > b + 1 ? prev_end : b + 1); t < end; t++) {
                double v = fake_nll(tok + b, (int)(t - b), tok[t]);
                assert_true(per[t] == v);
                want += v;
                scored++;
            }
            prev_end = end;
            if (end == N) break;
        }
        assert_int_equal(r.n_scored, scored);
        assert_true(fabs(r.nll_sum - want) < 1e-12 * want);
        assert_true(fabs(r.mean_nll - want / (double)scored) < 1e-12);
        assert_true(fabs(r.perplexity - exp(want / (double)scored)) < 1e-9 * r.perplexity);
        assert_true(f.max_rows_seen <= e.chunk);
        assert_true(isnan(per[0]));
    }
    /* an id outside the vocabulary is refused naming its position */
    fake_engine f = {0};
    ss_nll_engine e = {.engine = &f, .step = fake_step, .reset = fake_reset, .max_tokens = 8, .chunk = 8};
    ss_ppl_result r;
    tok[17] = 11;
    assert_int_equal(ss_perplexity(&e, tok, N, 11, 8, 8, &r, NULL), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "position 17"));
}

static void test_nll_from_logits(void **state) {
    (void)state;
    float l[5] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f};
    double z = 0;
    for (int j = 0; j < 5; j++) z += exp((double)l[j]);
    for (int t = 0; t < 5; t++) assert_true(fabs(ss_nll_from_logits(l, 5, t) - (log(z) - l[t])) < 1e-12);
    float big[3] = {1000.0f, 999.0f, -1000.0f}; /* exp(1000) overflows without the max subtracted */
    double want = log(1.0 + exp(-1.0) + exp(-2000.0));
    assert_true(fabs(ss_nll_from_logits(big, 3, 0) - want) < 1e-12);
    big[1] = NAN;
    assert_true(isnan(ss_nll_from_logits(big, 3, 0)));
    big[1] = INFINITY;
    assert_false(isfinite(ss_nll_from_logits(big, 3, 0)));
}

/* ---- the CPU engine against transformers ---- */

static json_t *g_golden;

static void fixture(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/eval/%s", getenv("SS_TEST_DATA"), name);
}

/* Tolerances against transformers in float32 on the same BF16 weights (the
 * exact reference). The engine rounds every linear input and output to BF16
 * and keeps its logits within LOGIT_RTOL = 2e-2 of the largest |logit| of
 * the double-precision reference (test_engine.c). A token's NLL is a
 * log-sum-exp minus one logit, so it moves by at most twice the largest
 * logit error: per token, 2 * LOGIT_RTOL * max|logit|. Token by token the
 * engine must also be at least as close to float32 as transformers' own
 * bfloat16 run is (rms over the tokens of one window over the whole text).
 * The mean over ~480 tokens of errors of either sign (rms ~3e-2) stays
 * within a few 1e-3: MEAN_NLL_TOL = 1e-2 (measured: 4e-3 at most; printed).
 * A wrong forward pass (RoPE, norms, a layer skipped) moves the mean NLL of
 * these trained models by 0.1-2 nats. */
#define LOGIT_RTOL 2e-2
#define MEAN_NLL_TOL 1e-2

static double rms_diff(const double *a, const json_t *b, int64_t n) {
    double s = 0;
    for (int64_t t = 1; t < n; t++) {
        double d = a[t] - json_real_value(json_array_get(b, (size_t)(t - 1)));
        s += d * d;
    }
    return sqrt(s / (double)(n - 1));
}

static void check_model(const char *kind) {
    char dir[512], tokens[512];
    fixture(dir, sizeof dir, kind);
    fixture(tokens, sizeof tokens, "tokens.txt");
    ss_model m;
    OK(ss_model_load(dir, &m));
    int32_t *ids;
    int64_t n;
    OK(ss_token_file_read(tokens, &ids, &n));
    const json_t *gm = json_object_get(json_object_get(g_golden, "models"), kind);
    assert_non_null(gm);
    assert_int_equal(n, json_integer_value(json_object_get(g_golden, "n_tokens")));
    const json_t *f32 = json_object_get(gm, "float32"), *b16 = json_object_get(gm, "bfloat16");
    size_t i;
    const json_t *g;
    json_array_foreach(f32, i, g) {
        int ctx = (int)json_integer_value(json_object_get(g, "ctx")), stride = (int)json_integer_value(json_object_get(g, "stride"));
        double want = json_real_value(json_object_get(g, "mean_nll"));
        double hf_bf16 = json_real_value(json_object_get(json_array_get(b16, i), "mean_nll"));
        /* stride 1 (451 windows) costs 30 single windows; its windowing is tested on the fake engine above */
        if (json_integer_value(json_object_get(g, "windows")) > 100) continue;
        ss_ppl_result r;
        double *per = malloc((size_t)n * sizeof *per);
        OK(ss_perplexity_cpu(&m, ids, n, ctx, stride, &r, per));
        printf("%s ctx %d stride %d: mean NLL %.6f, transformers fp32 %.6f (diff %.2e), bf16 %.6f (diff %.2e); "
               "%lld tokens, %lld windows\n",
               kind, ctx, stride, r.mean_nll, want, r.mean_nll - want, hf_bf16, hf_bf16 - want, (long long)r.n_scored,
               (long long)r.n_windows);
        assert_int_equal(r.n_scored, json_integer_value(json_object_get(g, "tokens_evaluated")));
        assert_int_equal(r.n_windows, json_integer_value(json_object_get(g, "windows")));
        assert_true(fabs(r.mean_nll - want) < MEAN_NLL_TOL);
        /* the models learnt something: far from a uniform guess over the vocabulary */
        assert_true(r.mean_nll < 0.6 * log((double)m.cfg.vocab));
        if (ctx >= n) { /* one window: compare token by token */
            const json_t *pt = json_object_get(gm, "per_token_nll_float32"), *pb = json_object_get(gm, "per_token_nll_bfloat16");
            assert_int_equal(json_array_size(pt), n - 1);
            assert_int_equal(json_array_size(pb), n - 1);
            double worst = 0, hf_bf16_sq = 0;
            for (int64_t t = 1; t < n; t++) {
                double want_t = json_real_value(json_array_get(pt, (size_t)(t - 1)));
                worst = fmax(worst, fabs(per[t] - want_t));
                double e = json_real_value(json_array_get(pb, (size_t)(t - 1))) - want_t;
                hf_bf16_sq += e * e;
            }
            double ours_rms = rms_diff(per, pt, n), hf_rms = sqrt(hf_bf16_sq / (double)(n - 1));
            double bound = 2 * LOGIT_RTOL * json_real_value(json_object_get(gm, "max_abs_logit_float32"));
            printf("%s one window, per token vs transformers fp32: rms %.2e (transformers bf16: %.2e), largest %.2e "
                   "(bound %.2e)\n", kind, ours_rms, hf_rms, worst, bound);
            assert_true(ours_rms <= hf_rms);
            assert_true(worst < bound);
        }
        free(per);
    }
    free(ids);
    ss_model_free(&m);
}

static void test_cpu_llama_vs_transformers(void **state) {
    (void)state;
    check_model("llama");
}

static void test_cpu_qwen2_vs_transformers(void **state) {
    (void)state;
    check_model("qwen2");
}

/* ---- the command ---- */

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_command(void **state) {
    (void)state;
    const char *bin = getenv("SS_BIN");
    char dir[512], tokens[512], json_path[512], csv_path[512], bad[512];
    fixture(dir, sizeof dir, "llama");
    fixture(tokens, sizeof tokens, "tokens.txt");
    snprintf(json_path, sizeof json_path, "%s/r.json", g_tmp);
    snprintf(csv_path, sizeof csv_path, "%s/r.csv", g_tmp);
    assert_int_equal(run("%s -q eval --model %s --tokens %s --ctx 64 --stride 32 --out %s --out %s > %s/stdout", bin,
                         dir, tokens, json_path, csv_path, g_tmp),
                     0);
    ss_eval_record rec;
    OK(ss_eval_read_json(json_path, &rec));
    ss_model m;
    OK(ss_model_load(dir, &m));
    int32_t *ids;
    int64_t n;
    OK(ss_token_file_read(tokens, &ids, &n));
    ss_ppl_result r;
    OK(ss_perplexity_cpu(&m, ids, n, 64, 32, &r, NULL));
    assert_int_equal(rec.r.ctx, 64);
    assert_int_equal(rec.r.stride, 32);
    assert_int_equal(rec.r.n_tokens, n);
    assert_int_equal(rec.r.n_scored, r.n_scored);
    assert_int_equal(rec.r.n_windows, r.n_windows);
    assert_true(fabs(rec.r.mean_nll - r.mean_nll) < 1e-8 * r.mean_nll); /* JSON keeps 9 digits */
    assert_true(fabs(rec.r.perplexity - r.perplexity) < 1e-8 * r.perplexity);
    assert_string_equal(rec.backend, "cpu");
    assert_string_equal(rec.input, "tokens");
    assert_string_equal(rec.arch, "llama");
    assert_string_equal(rec.model_name, "llama");
    /* the CSV: a header and one row whose tokens_evaluated and mean_nll agree */
    char *csv;
    size_t len;
    OK(ss_read_file(csv_path, &csv, &len));
    char *row = strchr(csv, '\n');
    assert_non_null(row);
    assert_int_equal(strncmp(csv, "model,model_name,arch,quant,sparsity,synthetic,backend,input,", 61), 0);
    char want_part[128];
    snprintf(want_part, sizeof want_part, ",64,32,%lld,%lld,%lld,", (long long)n, (long long)r.n_scored,
             (long long)r.n_windows);
    assert_non_null(strstr(row, want_part));
    assert_true(fabs(atof(strstr(row, want_part) + strlen(want_part)) - r.nll_sum) < 1e-9 * r.nll_sum);
    free(csv);
    /* stdout names perplexity and the tokens evaluated */
    char so[600], *out;
    snprintf(so, sizeof so, "%s/stdout", g_tmp);
    OK(ss_read_file(so, &out, &len));
    char want_line[128];
    snprintf(want_line, sizeof want_line, "tokens_evaluated %lld of %lld", (long long)r.n_scored, (long long)n);
    assert_non_null(strstr(out, want_line));
    free(out);

    /* refusals: 2 for bad arguments, 1 for a malformed file */
    assert_int_equal(run("%s -q eval --model %s --tokens %s --ctx 64 --stride 65 2>/dev/null", bin, dir, tokens), 2);
    assert_int_equal(run("%s -q eval --model %s --tokens %s --ctx 100000 2>/dev/null", bin, dir, tokens), 2);
    assert_int_equal(run("%s -q eval --model %s --tokens %s --out %s/r.txt 2>/dev/null", bin, dir, tokens, g_tmp), 2);
    assert_int_equal(run("%s -q eval --model %s 2>/dev/null", bin, dir), 2);
    snprintf(bad, sizeof bad, "%s/bad.txt", g_tmp);
    OK(ss_write_file_atomic(bad, "1, 2, x3\n", 9));
    assert_int_equal(run("%s -q eval --model %s --tokens %s 2>%s/err", bin, dir, bad, g_tmp), 1);
    snprintf(so, sizeof so, "%s/err", g_tmp);
    OK(ss_read_file(so, &out, &len));
    assert_non_null(strstr(out, "bad.txt:1:7"));
    free(out);
    OK(ss_write_file_atomic(bad, "1 2 99999\n", 10)); /* outside the vocabulary */
    assert_int_equal(run("%s -q eval --model %s --tokens %s 2>/dev/null", bin, dir, bad), 2);
    /* no result file is left behind by a failed run */
    assert_int_equal(run("%s -q eval --model %s --tokens %s --out %s/none.json 2>/dev/null", bin, dir, bad, g_tmp), 2);
    snprintf(so, sizeof so, "%s/none.json", g_tmp);
    assert_false(ss_path_exists(so));
    free(ids);
    ss_model_free(&m);
}

/* ---- text in: tokenize, eval --text, generate --prompt ---- */

static char *read_all(const char *path) {
    char *data;
    size_t len;
    OK(ss_read_file(path, &data, &len));
    return data;
}

static void test_text_commands(void **state) {
    (void)state;
    const char *bin = getenv("SS_BIN");
    char dir[512], text[512], tokens[512], out[600];
    fixture(dir, sizeof dir, "llama");
    fixture(text, sizeof text, "text.txt");
    fixture(tokens, sizeof tokens, "tokens.txt");
    /* tokenize writes what the tokenizers package wrote (BOS included) */
    snprintf(out, sizeof out, "%s/t.txt", g_tmp);
    assert_int_equal(run("%s -q tokenize --tokenizer %s --text %s --out %s", bin, dir, text, out), 0);
    char *got = read_all(out), *want = read_all(tokens);
    assert_string_equal(got, want);
    free(got), free(want);
    /* eval --text == eval --tokens, and says the BOS was added */
    char j1[600], j2[600];
    snprintf(j1, sizeof j1, "%s/text.json", g_tmp);
    snprintf(j2, sizeof j2, "%s/tokens.json", g_tmp);
    assert_int_equal(run("%s -q eval --model %s --text %s --ctx 512 --out %s >/dev/null", bin, dir, text, j1), 0);
    assert_int_equal(run("%s -q eval --model %s --tokens %s --ctx 512 --out %s >/dev/null", bin, dir, tokens, j2), 0);
    ss_eval_record a, b;
    OK(ss_eval_read_json(j1, &a));
    OK(ss_eval_read_json(j2, &b));
    assert_string_equal(a.input, "text");
    assert_true(a.bos_added);
    assert_int_equal(a.r.n_tokens, b.r.n_tokens);
    assert_true(a.r.nll_sum == b.r.nll_sum);
    assert_int_equal(run("%s -q eval --model %s --text %s --tokens %s 2>/dev/null", bin, dir, text, tokens), 2);
    /* generate --prompt prints the decoded text of what --prompt-ids generates for the encoded prompt */
    const char *prompt = "The old man paints";
    ss_tokenizer *tk;
    OK(ss_tokenizer_load(dir, &tk));
    int32_t *ids;
    int64_t n;
    OK(ss_tokenizer_encode(tk, prompt, strlen(prompt), 1, &ids, &n));
    char list[1024] = "";
    for (int64_t i = 0; i < n; i++) snprintf(list + strlen(list), sizeof list - strlen(list), "%s%d", i ? "," : "", ids[i]);
    snprintf(out, sizeof out, "%s/gen_ids", g_tmp);
    assert_int_equal(run("%s -q generate --model %s --prompt-ids %s --max-new 10 --ignore-eos > %s", bin, dir, list, out), 0);
    got = read_all(out);
    int64_t k;
    int32_t *gen;
    OK(ss_token_parse(got, strlen(got), "generated", &gen, &k));
    assert_int_equal(k, 10);
    free(got);
    char *dec;
    size_t dl;
    OK(ss_tokenizer_decode(tk, gen, k, 0, &dec, &dl));
    snprintf(out, sizeof out, "%s/gen_text", g_tmp);
    assert_int_equal(run("%s -q generate --model %s --prompt '%s' --max-new 10 --ignore-eos > %s", bin, dir, prompt, out), 0);
    got = read_all(out);
    printf("generate --prompt '%s' -> '%s'\n", prompt, dec);
    assert_int_equal(strlen(got), dl + 1); /* the text and a newline */
    assert_memory_equal(got, dec, dl);
    assert_true(strlen(dec) > 0);
    free(got), free(dec), free(gen), free(ids);
    ss_tokenizer_free(tk);
    /* a tokenizer that is not there: error naming it */
    assert_int_equal(run("%s -q generate --model %s --prompt hi --tokenizer /nonexistent --max-new 2 2>/dev/null", bin, dir), 1);
    /* tokenize --bytes: one id per byte, for checkpoints without a tokenizer; not with --tokenizer too */
    snprintf(out, sizeof out, "%s/bytes.txt", g_tmp);
    assert_int_equal(run("%s -q tokenize --bytes --text %s --out %s", bin, text, out), 0);
    char *raw = read_all(text);
    OK(ss_token_file_read(out, &ids, &n));
    assert_int_equal(n, (int64_t)strlen(raw));
    for (int64_t i = 0; i < n; i++) assert_int_equal(ids[i], (unsigned char)raw[i]);
    free(ids), free(raw);
    assert_int_equal(run("%s -q tokenize --bytes --tokenizer %s --text %s 2>/dev/null", bin, dir, text), 2);
    /* Wanda calibrated on a text (the checkpoint's tokenizer) == on the same text's token file */
    char pa[600], pb[600];
    snprintf(pa, sizeof pa, "%s/wanda_text", g_tmp);
    snprintf(pb, sizeof pb, "%s/wanda_tokens", g_tmp);
    assert_int_equal(run("%s -q prune --in %s --out %s --sparsity 2_8 --method wanda --calib %s --calib-ctx 64", bin,
                         dir, pa, text), 0);
    assert_int_equal(run("%s -q prune --in %s --out %s --sparsity 2_8 --method wanda --calib-tokens %s --calib-ctx 64",
                         bin, dir, pb, tokens), 0);
    ss_checkpoint ca, cb;
    OK(ss_ckpt_open(pa, &ca));
    OK(ss_ckpt_open(pb, &cb));
    assert_string_equal(ca.meta.prune_method, "wanda");
    assert_true(ca.meta.calib_tokens > 0);
    assert_int_equal(ca.meta.calib_tokens, cb.meta.calib_tokens);
    ss_ckpt_close(&ca), ss_ckpt_close(&cb);
    snprintf(pa + strlen(pa), sizeof pa - strlen(pa), "/model.safetensors");
    snprintf(pb + strlen(pb), sizeof pb - strlen(pb), "/model.safetensors");
    char *wa, *wb;
    size_t la, lb;
    OK(ss_read_file(pa, &wa, &la)); /* binary: compare by length and bytes */
    OK(ss_read_file(pb, &wb, &lb));
    assert_int_equal(la, lb);
    assert_memory_equal(wa, wb, la);
    free(wa), free(wb);
    /* both, or a --tokenizer without a text, are refused */
    assert_int_equal(run("%s -q prune --in %s --out %s/x --sparsity 2_8 --method wanda --calib %s --calib-tokens %s "
                         "2>/dev/null", bin, dir, g_tmp, text, tokens), 2);
    assert_int_equal(run("%s -q prune --in %s --out %s/x --sparsity 2_8 --method wanda --calib-tokens %s --tokenizer %s "
                         "2>/dev/null", bin, dir, g_tmp, tokens, dir), 2);
}

/* ---- token files ---- */

static void test_token_files(void **state) {
    (void)state;
    int32_t *ids;
    int64_t n;
    const char *good = "5,7, 9\n10\t11\r\n 12 ,13";
    OK(ss_token_parse(good, strlen(good), "t", &ids, &n));
    assert_int_equal(n, 7);
    const int32_t want[] = {5, 7, 9, 10, 11, 12, 13};
    for (int i = 0; i < 7; i++) assert_int_equal(ids[i], want[i]);
    char path[512];
    snprintf(path, sizeof path, "%s/t.txt", g_tmp);
    int32_t many[100];
    for (int i = 0; i < 100; i++) many[i] = i * 1000003 % 2147483647;
    OK(ss_token_file_write(path, many, 100));
    free(ids);
    OK(ss_token_file_read(path, &ids, &n));
    assert_int_equal(n, 100);
    assert_memory_equal(ids, many, sizeof many);
    free(ids);
    const char *bad[] = {"", " \n", "1,,2", ",1", "1,", "-1", "1 2a", "2147483648", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ss_token_parse(bad[i], strlen(bad[i]), "t", &ids, &n), SS_ERR_FORMAT);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_perplexity_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char path[512];
    fixture(path, sizeof path, "golden.json");
    json_error_t err;
    g_golden = json_load_file(path, 0, &err);
    if (!g_golden) fprintf(stderr, "%s: %s\n", path, err.text);
    return g_golden ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    json_decref(g_golden);
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_examples),       cmocka_unit_test(test_plan_properties),
        cmocka_unit_test(test_windowing_fake_engine), cmocka_unit_test(test_nll_from_logits),
        cmocka_unit_test(test_token_files),         cmocka_unit_test(test_cpu_llama_vs_transformers),
        cmocka_unit_test(test_cpu_qwen2_vs_transformers), cmocka_unit_test(test_command),
        cmocka_unit_test(test_text_commands),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
