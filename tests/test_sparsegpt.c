/* SparseGPT 2:L (src/convert/sparsegpt.c) against an independent numpy
 * implementation of the paper's reference code (scripts/sparsegpt_reference.py
 * -> tests/data/sparsegpt/fixture.json): for 2_4..2_10, block sizes 2L and
 * 128, dead inputs and K not a multiple of L, the same masks and the same
 * updated weights (within 1e-9 of the weights' scale: the factorisations sum
 * in another order). Then the engine's X^T X capture against the sums of
 * squares it also keeps, and a checkpoint pruned with it. */
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
#include "core/fsutil.h"
#include "engine/calib.h"
#include "engine/model.h"
#include "io/checkpoint.h"
#include "prune_fixture.h"

static double num(const json_t *a, size_t i) { return json_number_value(json_array_get(a, i)); }

static void check_case(const json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    const int64_t N = json_integer_value(json_object_get(c, "N")), K = json_integer_value(json_object_get(c, "K")),
                  T = json_integer_value(json_object_get(c, "T"));
    const json_t *jw = json_object_get(c, "w"), *jx = json_object_get(c, "x");
    double *gram = calloc((size_t)(K * K), sizeof *gram);
    float *w0 = malloc((size_t)(N * K) * sizeof *w0), *w = malloc((size_t)(N * K) * sizeof *w);
    assert_true(gram && w0 && w);
    for (int64_t t = 0; t < T; t++)
        for (int64_t a = 0; a < K; a++)
            for (int64_t b = 0; b < K; b++) gram[a * K + b] += num(jx, (size_t)(t * K + a)) * num(jx, (size_t)(t * K + b));
    double scale = 0;
    for (int64_t i = 0; i < N * K; i++) {
        w0[i] = (float)num(jw, (size_t)i);
        scale = fmax(scale, fabs(w0[i]));
    }
    int n = 0;
    double worst = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(c, "pruned"), key, v) {
        int L, block;
        assert_int_equal(sscanf(key, "%d_%d", &L, &block), 2);
        memcpy(w, w0, (size_t)(N * K) * sizeof *w);
        OK(ss_prune_matrix_sparsegpt(w, SS_DT_F32, N, K, L, gram, block, name));
        const json_t *pw = json_object_get(v, "w"), *pm = json_object_get(v, "mask");
        for (int64_t i = 0; i < N * K; i++) {
            const int masked = (int)json_integer_value(json_array_get(pm, (size_t)i));
            if (masked) {
                if (w[i] != 0) fail_msg("%s 2_%d block %d: [%lld, %lld] should be pruned, is %g", name, L, block,
                                        (long long)(i / K), (long long)(i % K), w[i]);
                continue;
            }
            const double d = fabs((double)w[i] - num(pw, (size_t)i));
            worst = fmax(worst, d);
            /* float storage of the result: half an ulp of float plus the summation-order slack */
            if (d > 1e-9 * scale + 6e-8 * fabs(num(pw, (size_t)i)))
                fail_msg("%s 2_%d block %d: [%lld, %lld] is %.9g, numpy says %.9g", name, L, block, (long long)(i / K),
                         (long long)(i % K), w[i], num(pw, (size_t)i));
        }
        assert_true(ss_is_pruned(w, SS_DT_F32, N, K, L));
        n++;
    }
    assert_int_equal(n, 8);
    printf("%s: masks equal numpy's for 2_4..2_10 x 2 block sizes, kept weights within %.1e\n", name, worst);
    free(gram), free(w0), free(w);
}

static void test_against_numpy(void **state) {
    (void)state;
    json_t *j = prune_reference_load("sparsegpt");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "cases"), i, c) check_case(c);
    assert_true(i >= 3);
    json_decref(j);
}

static void test_refusals(void **state) {
    (void)state;
    int8_t q[16] = {1, -1, 1, 1, 0, 1, -1, 1, 1, 1, 1, -1, 1, 0, 1, 1};
    double g[16 * 16] = {0};
    for (int i = 0; i < 16; i++) g[i * 16 + i] = 1;
    assert_int_equal(ss_prune_matrix_sparsegpt(q, SS_DT_I8, 1, 16, 4, g, 0, "q"), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "prune before quantizing"));
    float w[16];
    for (int i = 0; i < 16; i++) w[i] = (float)i - 7.5f;
    assert_int_equal(ss_prune_matrix_sparsegpt(w, SS_DT_F32, 1, 16, 5, g, 0, "w"), SS_ERR_ARG);
    assert_int_equal(ss_prune_matrix_sparsegpt(w, SS_DT_F32, 1, 16, 4, NULL, 0, "w"), SS_ERR_ARG);
    g[3 * 16 + 3] = NAN;
    assert_int_equal(ss_prune_matrix_sparsegpt(w, SS_DT_F32, 1, 16, 4, g, 0, "w"), SS_ERR_FORMAT);
    g[3 * 16 + 3] = 1;
    g[2 * 16 + 5] = g[5 * 16 + 2] = 50; /* not positive definite */
    assert_int_equal(ss_prune_matrix_sparsegpt(w, SS_DT_F32, 1, 16, 4, g, 0, "w"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "positive definite"));
}

static void test_capture_and_checkpoint(void **state) {
    (void)state;
    char out[400];
    prune_fixture f;
    prune_fixture_make(&f, &(prune_fixture_opts){.seed = 9, .tokens = 12, .ctx = 6, .tok_step = 613, .tok_offset = 5,
                                                  .with_gram = 1});
    for (int i = 0; i < SS_CALIB_INPUTS; i++) { /* diag(X^T X) is the sum of squares; X^T X is symmetric */
        const int64_t K = f.cs.dim[i];
        for (int l = 0; l < f.cs.n_layers; l++) {
            const double *g = f.cs.gram[i] + (int64_t)l * K * K, *s = f.cs.sumsq[i] + (int64_t)l * K;
            for (int64_t a = 0; a < K; a++) {
                assert_true(fabs(g[a * K + a] - s[a]) <= 1e-9 * (s[a] + 1e-30));
                if (a > 0) assert_true(g[a * K + a - 1] == g[(a - 1) * K + a]);
            }
        }
    }
    ss_model_free(&f.m);
    /* the BF16 master weights pruned with the quantized model's statistics (the attention of one layer,
     * through a recipe: SparseGPT factorises K x K per linear, slow in a sanitized build) */
    char recipe[400];
    snprintf(recipe, sizeof recipe, "%s/recipe.json", g_tmp);
    const char *rtext = "{\"rules\": [{\"layers\": 2, \"linears\": [\"qkv\", \"o\"], \"sparsity\": \"2_8\"}]}";
    OK(ss_write_file_atomic(recipe, rtext, strlen(rtext)));
    ss_prune_opts po = {.recipe_file = recipe, .method = SS_PRUNE_SPARSEGPT, .calib = &f.cs};
    snprintf(out, sizeof out, "%s/sparsegpt-2_8", g_tmp);
    OK(ss_prune_checkpoint_opts(f.bf16, out, &po));
    ss_checkpoint a;
    OK(ss_ckpt_open(out, &a));
    assert_string_equal(a.meta.prune_method, "sparsegpt");
    static const char *const pruned[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"};
    for (int i = 0; i < 4; i++) {
        char name[128];
        snprintf(name, sizeof name, "model.layers.2.%s.weight", pruned[i]);
        const ss_st_tensor *t = ss_st_find(&a.st, name);
        assert_true(ss_is_pruned(t->data, t->dtype, t->shape[0], t->shape[1], 8));
    }
    const ss_st_tensor *t = ss_st_find(&a.st, "model.layers.1.mlp.down_proj.weight");
    assert_false(ss_is_pruned(t->data, t->dtype, t->shape[0], t->shape[1], 8)); /* not in the recipe */
    ss_ckpt_close(&a);
    /* on the quantized checkpoint it is refused, naming the tensor, and nothing is written */
    snprintf(out, sizeof out, "%s/sparsegpt-int8", g_tmp);
    po.recipe_file = NULL;
    po.L = 8;
    assert_int_equal(ss_prune_checkpoint_opts(f.q8, out, &po), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "prune before quantizing"));
    assert_false(ss_path_exists(out));
    ss_calib_stats_free(&f.cs);
}

static int setup(void **state) {
    (void)state;
    return prune_tmp_create("sparsegpt");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_numpy),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_capture_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, prune_tmp_remove);
}
