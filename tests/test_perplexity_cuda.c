/* Sliding-window perplexity on the CUDA engine (ss_perplexity_cuda) against
 * the CPU engine (ss_perplexity_cpu), on the tiny preset (BF16, and INT8
 * slid 2_8 on cuSPARSELt) and on the transformers-written Llama fixture
 * (tests/data/eval), whose float32 transformers loss is also the reference.
 * The windows and counts must be identical; the NLLs differ only as the two
 * engines' logits do (relative L2 within 2e-2 for BF16, test_engine_cuda.c).
 * The GPU log-softmax (ss_cuda_forward_nll) equals the host's on the same logits.
 * Label gpu: exits 77 without a device. */
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

#include "convert/convert.h"
#include "convert/quantize.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/perplexity.h"
#include "gemm/gemm.h"
#include "text/token_file.h"

#define OK(expr)                                                                             \
    do {                                                                                     \
        ss_status st_ = (expr);                                                              \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

static char g_tmp[256];

/* Bounds on |CUDA - CPU|: a token's NLL moves by about the logits' error
 * (rel. L2 1e-2 of logits of order 1 on these models: ~1e-2 nats, at most
 * a few times that); the mean over a few hundred tokens of either sign
 * far less. */
#define MEAN_TOL 1e-2
#define TOKEN_TOL 0.15

static void compare(const ss_model *m, const ss_cuda_model_opts *o, const int32_t *tok, int64_t n, int ctx, int stride,
                    const char *what, double *cuda_mean) {
    ss_ppl_result rc, rg;
    double *pc = malloc((size_t)n * sizeof *pc), *pg = malloc((size_t)n * sizeof *pg);
    OK(ss_perplexity_cpu(m, tok, n, ctx, stride, &rc, pc));
    OK(ss_perplexity_cuda(m, o, tok, n, ctx, stride, &rg, pg));
    assert_int_equal(rc.n_scored, rg.n_scored);
    assert_int_equal(rc.n_windows, rg.n_windows);
    double worst = 0;
    for (int64_t t = 0; t < n; t++) {
        assert_int_equal(isnan(pc[t]), isnan(pg[t]));
        if (!isnan(pc[t])) worst = fmax(worst, fabs(pc[t] - pg[t]));
    }
    printf("  %-28s ctx %4d stride %4d: mean NLL cpu %.6f cuda %.6f (diff %.2e), worst token %.2e, %lld tokens, "
           "%lld windows, cuda %.2f s\n",
           what, ctx, stride, rc.mean_nll, rg.mean_nll, rg.mean_nll - rc.mean_nll, worst, (long long)rg.n_scored,
           (long long)rg.n_windows, rg.seconds);
    assert_true(fabs(rg.mean_nll - rc.mean_nll) < MEAN_TOL);
    assert_true(worst < TOKEN_TOL);
    if (cuda_mean) *cuda_mean = rg.mean_nll;
    free(pc), free(pg);
}

static void test_tiny(void **state) {
    (void)state;
    char bf16[300], q8[300], q8s[300];
    snprintf(bf16, sizeof bf16, "%s/tiny-bf16", g_tmp);
    snprintf(q8, sizeof q8, "%s/tiny-int8", g_tmp);
    snprintf(q8s, sizeof q8s, "%s/tiny-int8-slid-2_8", g_tmp);
    OK(ss_synth("tiny", bf16, 2024));
    OK(ss_quantize_checkpoint(bf16, q8, SS_QUANT_INT8, -1));
    OK(ss_convert_checkpoint(q8, q8s, 8));
    const char *dirs[] = {bf16, q8s}, *names[] = {"tiny bf16", "tiny int8 slid 2_8"};
    for (int d = 0; d < 2; d++) {
        ss_model m;
        OK(ss_model_load(dirs[d], &m));
        enum { N = 300 };
        int32_t tok[N];
        ss_rng r;
        ss_rng_seed(&r, 7, 0);
        for (int i = 0; i < N; i++) tok[i] = (int32_t)(ss_rng_u64(&r) % (uint64_t)m.cfg.vocab);
        ss_cuda_model_opts o;
        memset(&o, 0, sizeof o);
        compare(&m, &o, tok, N, 128, 48, names[d], NULL);
        compare(&m, &o, tok, N, 64, 64, names[d], NULL);
        ss_model_free(&m);
    }
}

/* ss_cuda_forward_nll equals ss_nll_from_logits over ss_cuda_forward's
 * logits of the same step (same BF16 logits; only the order of the double
 * sum differs), and refuses a target outside the vocabulary. */
static void test_forward_nll(void **state) {
    (void)state;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/tiny-nll", g_tmp);
    OK(ss_synth("tiny", dir, 99));
    ss_model m;
    OK(ss_model_load(dir, &m));
    ss_cuda_model *cm;
    ss_cuda_engine *e;
    OK(ss_cuda_model_load(&m, NULL, &cm));
    enum { N = 40 };
    ss_cuda_engine_opts eo = {.max_seqs = 1, .max_len = N, .max_tokens = N, .max_logits = N};
    OK(ss_cuda_engine_new(cm, &eo, &e));
    int32_t tok[N], seq[N] = {0}, pos[N], rows[N], tgt[N];
    for (int i = 0; i < N; i++) {
        tok[i] = (i * 37 + 11) % m.cfg.vocab;
        tgt[i] = (i * 101 + 5) % m.cfg.vocab;
        pos[i] = rows[i] = i;
    }
    ss_batch b = {.n = N, .token = tok, .seq = seq, .pos = pos, .n_logits = N, .logit_rows = rows};
    float *logits = malloc((size_t)N * (size_t)m.cfg.vocab * sizeof *logits);
    double nll[N];
    OK(ss_cuda_forward(e, &b, logits));
    ss_cuda_engine_reset(e);
    OK(ss_cuda_forward_nll(e, &b, tgt, nll));
    double worst = 0;
    for (int r = 0; r < N; r++) {
        double want = ss_nll_from_logits(logits + (size_t)r * (size_t)m.cfg.vocab, m.cfg.vocab, tgt[r]);
        worst = fmax(worst, fabs(nll[r] - want) / fabs(want));
    }
    printf("  GPU row NLL vs host over the same logits: worst relative difference %.2e\n", worst);
    assert_true(worst < 1e-12);
    ss_cuda_engine_reset(e);
    tgt[3] = m.cfg.vocab;
    assert_int_equal(ss_cuda_forward_nll(e, &b, tgt, nll), SS_ERR_ARG);
    free(logits);
    ss_cuda_engine_free(e);
    ss_cuda_model_free(cm);
    ss_model_free(&m);
}

/* The transformers fixture: CUDA against CPU, and against transformers' float32 loss. */
static void test_llama_fixture(void **state) {
    (void)state;
    char dir[512], tokens[512], golden[512];
    const char *data = getenv("SS_TEST_DATA");
    snprintf(dir, sizeof dir, "%s/eval/llama", data);
    snprintf(tokens, sizeof tokens, "%s/eval/tokens.txt", data);
    snprintf(golden, sizeof golden, "%s/eval/golden.json", data);
    ss_model m;
    OK(ss_model_load(dir, &m));
    int32_t *ids;
    int64_t n;
    OK(ss_token_file_read(tokens, &ids, &n));
    json_error_t err;
    json_t *g = json_load_file(golden, 0, &err);
    assert_non_null(g);
    const json_t *f32 = json_object_get(json_object_get(json_object_get(g, "models"), "llama"), "float32");
    size_t i;
    const json_t *c;
    json_array_foreach(f32, i, c) {
        int ctx = (int)json_integer_value(json_object_get(c, "ctx")), stride = (int)json_integer_value(json_object_get(c, "stride"));
        if (stride < 16) continue; /* stride 1: hundreds of windows, covered on the CPU */
        ss_cuda_model_opts o;
        memset(&o, 0, sizeof o);
        double mean;
        compare(&m, &o, ids, n, ctx, stride, "llama fixture", &mean);
        double want = json_real_value(json_object_get(c, "mean_nll"));
        printf("    transformers float32 %.6f (cuda - transformers %.2e)\n", want, mean - want);
        assert_true(fabs(mean - want) < MEAN_TOL);
    }
    json_decref(g);
    free(ids);
    ss_model_free(&m);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_perplexity_cuda_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

int main(void) {
    if (ss_gpu_count() == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_forward_nll), cmocka_unit_test(test_tiny),
                                       cmocka_unit_test(test_llama_fixture)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
