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
#include "prune_fixture.h"

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
    json_t *j = prune_reference_load("wanda");
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

static void test_capture_and_checkpoint(void **state) {
    (void)state;
    enum { T = 20, CTX = 8 };
    char out[400];
    prune_fixture f;
    prune_fixture_make(&f, &(prune_fixture_opts){.seed = 5, .tokens = T, .ctx = CTX, .tok_step = 977, .tok_offset = 13});
    assert_int_equal(f.cs.tokens, T);
    assert_int_equal(f.cs.n_layers, f.m.cfg.n_layers);
    assert_int_equal(f.cs.dim[SS_CALIB_DOWN_IN], f.m.cfg.intermediate);
    /* layer 0, q/k/v input: rmsnorm(embedding) * input_layernorm, as forward_cpu.c computes it */
    const int H = f.m.cfg.hidden;
    for (int j = 0; j < H; j++) {
        double want = 0;
        for (int t = 0; t < T; t++) {
            double ss = 0;
            for (int k = 0; k < H; k++) {
                const double e = ss_load_f32(f.m.embed, f.m.embed_dtype, (size_t)f.tok[t] * H + k);
                ss += e * e;
            }
            const double inv = 1.0 / sqrt(ss / H + f.m.cfg.rms_eps);
            const float y = (float)(ss_load_f32(f.m.embed, f.m.embed_dtype, (size_t)f.tok[t] * H + j) * inv) *
                            f.m.layers[0].attn_norm[j];
            want += (double)y * y;
        }
        assert_true(fabs(f.cs.sumsq[SS_CALIB_ATTN_IN][j] - want) <= 1e-9 * want);
    }
    for (int i = 0; i < SS_CALIB_INPUTS; i++)
        for (int64_t j = 0; j < f.cs.dim[i] * f.cs.n_layers; j++)
            assert_true(isfinite(f.cs.sumsq[i][j]) && f.cs.sumsq[i][j] >= 0);

    /* wanda-pruned checkpoint: pruned to 2:8, recorded, and different from magnitude pruning */
    ss_prune_opts po = {.L = 8, .method = SS_PRUNE_WANDA, .calib = &f.cs};
    snprintf(out, sizeof out, "%s/wanda-2_8", g_tmp);
    OK(ss_prune_checkpoint_opts(f.q8, out, &po));
    char mag[400];
    snprintf(mag, sizeof mag, "%s/magnitude-2_8", g_tmp);
    OK(ss_prune_checkpoint(f.q8, mag, 8));
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
    f.cs.dim[SS_CALIB_MLP_IN]++;
    snprintf(out, sizeof out, "%s/wanda-bad", g_tmp);
    assert_int_equal(ss_prune_checkpoint_opts(f.q8, out, &po), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "calibration statistics"));
    assert_false(ss_path_exists(out));
    f.cs.dim[SS_CALIB_MLP_IN]--;
    po.calib = NULL;
    assert_int_equal(ss_prune_checkpoint_opts(f.q8, out, &po), SS_ERR_ARG);
    ss_calib_stats_free(&f.cs);
    /* bad calibration input */
    f.tok[3] = f.m.cfg.vocab;
    assert_int_equal(ss_calib_collect(&f.m, f.tok, T, CTX, 0, &f.cs), SS_ERR_ARG);
    assert_int_equal(ss_calib_collect(&f.m, f.tok, 0, CTX, 0, &f.cs), SS_ERR_ARG);
    ss_model_free(&f.m);
}

static int setup(void **state) {
    (void)state;
    return prune_tmp_create("wanda");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_numpy),
        cmocka_unit_test(test_bad_statistics),
        cmocka_unit_test(test_capture_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, prune_tmp_remove);
}
