/* Wanda pruning against an independent numpy implementation
 * (scripts/wanda_reference.py -> tests/data/wanda/fixture.json): the input
 * statistics, the scores |W_ij| * ||X_j||_2 (bit-exact: the same IEEE
 * double operations) and the pruned matrices for 2_4, 2_6, 2_8 and 2_10
 * (ties, dead inputs, zero weights, K not a multiple of L, ternary I8
 * codes). Then the engine's capture: the calibration statistics of layer
 * 0's attention input equal the sum of squares of the input_layernorm
 * output computed here from the embeddings, and Wanda pruning of a whole
 * checkpoint with them is refused or accepted as it must be. */
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
#include "convert/prune.h"
#include "core/dtype.h"
#include "core/fsutil.h"
#include "engine/calib.h"
#include "engine/model.h"
#include "io/checkpoint.h"

#define OK(expr)                                                                             \
    do {                                                                                     \
        ss_status st_ = (expr);                                                              \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

static double *doubles(const json_t *a, size_t n) {
    assert_true(json_is_array(a));
    assert_int_equal(json_array_size(a), n);
    double *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++) v[i] = json_number_value(json_array_get(a, i));
    return v;
}

/* The weights in their dtype (the fixture's values are exact in it). */
static void *encode(const double *w, size_t n, ss_dtype t) {
    void *out = malloc(n * ss_dtype_size(t));
    assert_non_null(out);
    for (size_t i = 0; i < n; i++) {
        if (t == SS_DT_BF16) ((uint16_t *)out)[i] = ss_f32_to_bf16((float)w[i]);
        else if (t == SS_DT_F32) ((float *)out)[i] = (float)w[i];
        else ((int8_t *)out)[i] = (int8_t)w[i];
        assert_true(ss_load_f32(out, t, i) == (float)w[i]);
    }
    return out;
}

static void check_case(const json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const ss_dtype t = ss_dtype_from_name(json_string_value(json_object_get(c, "dtype")));
    const int64_t N = json_integer_value(json_object_get(c, "N")), K = json_integer_value(json_object_get(c, "K")),
                  T = json_integer_value(json_object_get(c, "T"));
    double *w = doubles(json_object_get(c, "w"), (size_t)(N * K));
    double *x = doubles(json_object_get(c, "x"), (size_t)(T * K));
    double *sumsq = doubles(json_object_get(c, "sumsq"), (size_t)K);
    double *want = doubles(json_object_get(c, "scores"), (size_t)(N * K));
    /* statistics: the same sum as the engine's capture (in token order); numpy sums pairwise, so to rounding */
    for (int64_t j = 0; j < K; j++) {
        double s = 0;
        for (int64_t i = 0; i < T; i++) s += (double)(float)x[i * K + j] * (float)x[i * K + j];
        assert_true(fabs(s - sumsq[j]) <= 1e-12 * (sumsq[j] + 1e-300));
    }
    void *wt = encode(w, (size_t)(N * K), t);
    double *scores = malloc((size_t)(N * K) * sizeof *scores);
    assert_non_null(scores);
    OK(ss_wanda_scores(wt, t, N, K, sumsq, scores));
    assert_memory_equal(scores, want, (size_t)(N * K) * sizeof *scores);
    int changed = 0;
    for (int L = 4; L <= 10; L += 2) {
        char key[8];
        snprintf(key, sizeof key, "%d", L);
        double *pw = doubles(json_object_get(json_object_get(c, "pruned"), key), (size_t)(N * K));
        void *got = encode(w, (size_t)(N * K), t);
        OK(ss_prune_matrix_wanda(got, t, N, K, L, sumsq, name));
        for (int64_t i = 0; i < N * K; i++)
            if (ss_load_f32(got, t, (size_t)i) != (float)pw[i])
                fail_msg("%s 2_%d: element [%lld, %lld] is %g, numpy says %g", name, L, (long long)(i / K),
                         (long long)(i % K), ss_load_f32(got, t, (size_t)i), pw[i]);
        assert_true(ss_is_pruned(got, t, N, K, L));
        /* Wanda is not magnitude pruning here: the masks differ somewhere */
        void *mag = encode(w, (size_t)(N * K), t);
        OK(ss_prune_matrix(mag, t, N, K, L, name));
        changed += memcmp(mag, got, (size_t)(N * K) * ss_dtype_size(t)) != 0;
        free(mag);
        free(got);
        free(pw);
    }
    assert_true(changed > 0);
    printf("%s: scores bit-exact, masks for 2_4..2_10 equal numpy's (%d of 4 differ from magnitude pruning)\n", name,
           changed);
    free(w), free(x), free(sumsq), free(want), free(wt), free(scores);
}

static void test_against_numpy(void **state) {
    (void)state;
    const char *d = getenv("SS_TEST_DATA");
    assert_non_null(d);
    char path[1024];
    snprintf(path, sizeof path, "%s/wanda/fixture.json", d);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("%s: %s", path, err.text);
    const json_t *cases = json_object_get(j, "cases");
    assert_true(json_array_size(cases) >= 3);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) check_case(c);
    json_decref(j);
}

static void test_bad_statistics(void **state) {
    (void)state;
    uint16_t w[8];
    for (int i = 0; i < 8; i++) w[i] = ss_f32_to_bf16((float)(i + 1));
    double s[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    s[5] = NAN;
    assert_int_equal(ss_prune_matrix_wanda(w, SS_DT_BF16, 1, 8, 4, s, "w"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "statistic 5"));
    s[5] = -1;
    assert_int_equal(ss_prune_matrix_wanda(w, SS_DT_BF16, 1, 8, 4, s, "w"), SS_ERR_FORMAT);
    s[5] = 1;
    assert_int_equal(ss_prune_matrix_wanda(w, SS_DT_BF16, 1, 8, 3, s, "w"), SS_ERR_ARG);
    assert_int_equal(ss_prune_matrix_wanda(w, SS_DT_BF16, 1, 8, 4, NULL, "w"), SS_ERR_ARG);
    assert_int_equal(ss_prune_matrix_wanda(w, SS_DT_I32, 1, 8, 4, s, "w"), SS_ERR_UNSUPPORTED);
    ss_prune_method m;
    OK(ss_prune_method_parse("wanda", &m));
    assert_int_equal(m, SS_PRUNE_WANDA);
    OK(ss_prune_method_parse("sparsegpt", &m));
    assert_int_equal(m, SS_PRUNE_SPARSEGPT);
    assert_int_equal(ss_prune_method_parse("obs", &m), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'obs'"));
}

/* ---- capture in the engine, and a checkpoint pruned with it ---- */

static char g_tmp[256];

static void test_capture_and_checkpoint(void **state) {
    (void)state;
    char bf16[400], q8[400], out[400];
    snprintf(bf16, sizeof bf16, "%s/bf16", g_tmp);
    snprintf(q8, sizeof q8, "%s/int8", g_tmp);
    OK(ss_synth("tiny", bf16, 5));
    OK(ss_quantize_checkpoint(bf16, q8, SS_QUANT_INT8, -1));
    ss_model m;
    OK(ss_model_load(q8, &m));
    enum { T = 20, CTX = 8 };
    int32_t tok[T];
    for (int i = 0; i < T; i++) tok[i] = (i * 977 + 13) % m.cfg.vocab;
    ss_calib_stats cs;
    OK(ss_calib_collect(&m, tok, T, CTX, 0, &cs));
    assert_int_equal(cs.tokens, T);
    assert_int_equal(cs.n_layers, m.cfg.n_layers);
    assert_int_equal(cs.dim[SS_CALIB_DOWN_IN], m.cfg.intermediate);
    /* layer 0, q/k/v input: rmsnorm(embedding) * input_layernorm, as forward_cpu.c computes it */
    const int H = m.cfg.hidden;
    for (int j = 0; j < H; j++) {
        double want = 0;
        for (int t = 0; t < T; t++) {
            double ss = 0;
            for (int k = 0; k < H; k++) {
                const double e = ss_load_f32(m.embed, m.embed_dtype, (size_t)tok[t] * H + k);
                ss += e * e;
            }
            const double inv = 1.0 / sqrt(ss / H + m.cfg.rms_eps);
            const float y = (float)(ss_load_f32(m.embed, m.embed_dtype, (size_t)tok[t] * H + j) * inv) *
                            m.layers[0].attn_norm[j];
            want += (double)y * y;
        }
        assert_true(fabs(cs.sumsq[SS_CALIB_ATTN_IN][j] - want) <= 1e-9 * want);
    }
    for (int i = 0; i < SS_CALIB_INPUTS; i++)
        for (int64_t j = 0; j < cs.dim[i] * cs.n_layers; j++) assert_true(isfinite(cs.sumsq[i][j]) && cs.sumsq[i][j] >= 0);

    /* wanda-pruned checkpoint: pruned to 2:8, recorded, and different from magnitude pruning */
    ss_prune_opts po = {.L = 8, .method = SS_PRUNE_WANDA, .calib = &cs};
    snprintf(out, sizeof out, "%s/wanda-2_8", g_tmp);
    OK(ss_prune_checkpoint_opts(q8, out, &po));
    char mag[400];
    snprintf(mag, sizeof mag, "%s/magnitude-2_8", g_tmp);
    OK(ss_prune_checkpoint(q8, mag, 8));
    ss_checkpoint a, b;
    OK(ss_ckpt_open(out, &a));
    OK(ss_ckpt_open(mag, &b));
    assert_string_equal(a.meta.prune_method, "wanda");
    assert_int_equal(a.meta.calib_tokens, T);
    assert_string_equal(b.meta.prune_method, "magnitude");
    const ss_st_tensor *ta = ss_st_find(&a.st, "model.layers.1.mlp.down_proj.weight"),
                       *tb = ss_st_find(&b.st, "model.layers.1.mlp.down_proj.weight");
    assert_true(ss_is_pruned(ta->data, ta->dtype, ta->shape[0], ta->shape[1], 8));
    assert_memory_not_equal(ta->data, tb->data, (size_t)ta->nbytes);
    ss_ckpt_close(&a);
    ss_ckpt_close(&b);
    /* statistics of another shape are refused by name, nothing written */
    cs.dim[SS_CALIB_MLP_IN]++;
    snprintf(out, sizeof out, "%s/wanda-bad", g_tmp);
    assert_int_equal(ss_prune_checkpoint_opts(q8, out, &po), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "calibration statistics"));
    assert_false(ss_path_exists(out));
    cs.dim[SS_CALIB_MLP_IN]--;
    po.calib = NULL;
    assert_int_equal(ss_prune_checkpoint_opts(q8, out, &po), SS_ERR_ARG);
    ss_calib_stats_free(&cs);
    /* bad calibration input */
    tok[3] = m.cfg.vocab;
    assert_int_equal(ss_calib_collect(&m, tok, T, CTX, 0, &cs), SS_ERR_ARG);
    assert_int_equal(ss_calib_collect(&m, tok, 0, CTX, 0, &cs), SS_ERR_ARG);
    ss_model_free(&m);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_wanda_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_numpy),
        cmocka_unit_test(test_bad_statistics),
        cmocka_unit_test(test_capture_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
