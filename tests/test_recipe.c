/* Per-layer recipes: the grammar (every key, group and layer form; every
 * refusal names what is wrong), slidesparse.json of a mixed checkpoint, and
 * the engine on it: a mixed model computes bit-identical logits and the same
 * ids as a reference assembled layer by layer from uniformly converted
 * checkpoints (dense, 2_4, 2_6, 2_8) of the same INT8 model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/recipe.h"
#include "convert/sparsity.h"
#include "core/fsutil.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "io/checkpoint.h"

#define OK(x) assert_int_equal((x), SS_OK)

static char g_tmp[256];

/* ---- grammar ---- */

static void test_grammar(void **state) {
    (void)state;
    ss_recipe r;
    OK(ss_recipe_parse("{\"default\": \"2_8\", \"rules\": ["
                       "{\"linears\": \"attn\", \"sparsity\": \"dense\"},"
                       "{\"layers\": \"1-2,4\", \"linears\": [\"o\", \"down\"], \"sparsity\": \"2_6\"},"
                       "{\"layers\": 3, \"linears\": \"gate_up\", \"sparsity\": \"2_4\"},"
                       "{\"layers\": [0], \"linears\": \"qkv\", \"sparsity\": \"2_inf\"}],"
                       "\"description\": \"test\"}",
                       "r.json", 5, &r));
    for (int l = 0; l < 5; l++) {
        const int qkv = l == 0 ? SS_L_INF : SS_RECIPE_DENSE, o = (l == 1 || l == 2 || l == 4) ? 6 : SS_RECIPE_DENSE;
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_Q), qkv);
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_K), qkv);
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_V), qkv);
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_O), o); /* a later rule overrides "attn dense" */
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_GATE), l == 3 ? 4 : 8);
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_UP), l == 3 ? 4 : 8);
        assert_int_equal(ss_recipe_L(&r, l, SS_LIN_DOWN), (l == 1 || l == 2 || l == 4) ? 6 : 8);
    }
    assert_false(ss_recipe_uniform(&r));
    assert_non_null(strstr(r.json, "\"description\":\"test\""));
    ss_recipe_free(&r);

    OK(ss_recipe_parse("{\"default\": \"2_8\"}", "d.json", 2, &r));
    assert_true(ss_recipe_uniform(&r));
    assert_int_equal(ss_recipe_L(&r, 1, SS_LIN_DOWN), 8);
    ss_recipe_free(&r);
    OK(ss_recipe_parse("{\"rules\": [{\"layers\": \"all\", \"linears\": \"all\", \"sparsity\": \"2_10\"}]}", "a.json", 2,
                       &r));
    assert_true(ss_recipe_uniform(&r));
    assert_int_equal(ss_recipe_L(&r, 0, SS_LIN_Q), 10);
    ss_recipe_free(&r);
}

static void expect_refused(const char *text, const char *needle) {
    ss_recipe r;
    ss_status st = ss_recipe_parse(text, "bad.json", 4, &r);
    if (st == SS_OK) fail_msg("accepted: %s", text);
    assert_int_equal(st, SS_ERR_FORMAT);
    if (!strstr(ss_errmsg(), needle) || !strstr(ss_errmsg(), "bad.json"))
        fail_msg("recipe %s: error '%s' lacks '%s'", text, ss_errmsg(), needle);
    assert_null(r.L);
}

static void test_refusals(void **state) {
    (void)state;
    expect_refused("{\"rules\": [], \"defualt\": \"2_8\"}", "unknown key 'defualt'");
    expect_refused("{\"rules\": [{\"linears\": \"mlp\", \"sparsity\": \"2_8\", \"layer\": 1}]}", "unknown key 'layer'");
    expect_refused("{\"rules\": [{\"linears\": \"lm_head\", \"sparsity\": \"2_8\"}]}", "unknown linear 'lm_head'");
    expect_refused("{\"rules\": [{\"layers\": \"2-9\", \"linears\": \"q\", \"sparsity\": \"2_8\"}]}",
                   "layer 9 does not exist");
    expect_refused("{\"rules\": [{\"layers\": 4, \"linears\": \"q\", \"sparsity\": \"2_8\"}]}", "layer 4 does not exist");
    expect_refused("{\"rules\": [{\"layers\": \"3-1\", \"linears\": \"q\", \"sparsity\": \"2_8\"}]}", "3-1 is empty");
    expect_refused("{\"rules\": [{\"layers\": \"1,,2\", \"linears\": \"q\", \"sparsity\": \"2_8\"}]}", "\"1,,2\"");
    expect_refused("{\"rules\": [{\"layers\": \" 1\", \"linears\": \"q\", \"sparsity\": \"2_8\"}]}", "\" 1\"");
    expect_refused("{\"rules\": [{\"layers\": [], \"linears\": \"q\", \"sparsity\": \"2_8\"}]}", "'layers' must be");
    expect_refused("{\"rules\": [{\"linears\": [], \"sparsity\": \"2_8\"}]}", "'linears' must be");
    expect_refused("{\"rules\": [{\"sparsity\": \"2_8\"}]}", "missing 'linears'");
    expect_refused("{\"rules\": [{\"linears\": \"q\"}]}", "missing 'sparsity'");
    expect_refused("{\"rules\": [{\"linears\": \"q\", \"sparsity\": \"2_7\"}]}", "2_7");
    expect_refused("{\"rules\": [{\"linears\": \"q\", \"sparsity\": 8}]}", "'sparsity' must be a string");
    expect_refused("{\"default\": \"sparse\"}", "sparse");
    expect_refused("{\"description\": \"nothing\"}", "needs 'rules', 'default' or both");
    expect_refused("{\"rules\": {}}", "'rules' is not a list");
    expect_refused("{\"default\": \"2_8\", \"default\": \"2_4\"}", "duplicate");
    expect_refused("[1]", "a recipe is a JSON object");
    expect_refused("{\"rules\": [", "bad JSON");
}

/* ---- a mixed checkpoint on the CPU engine ---- */

static const char *g_recipe = "{\"default\": \"2_8\", \"rules\": ["
                              "{\"layers\": \"0\", \"linears\": \"attn\", \"sparsity\": \"dense\"},"
                              "{\"layers\": \"1-2\", \"linears\": \"o\", \"sparsity\": \"2_6\"},"
                              "{\"layers\": 3, \"linears\": \"mlp\", \"sparsity\": \"2_4\"}]}";

/* What g_recipe gives linear (l, r) of the 4-layer tiny model: 0 dense, else L. */
static int recipe_L(int l, ss_linear_role r) {
    if (l == 0 && r <= SS_LIN_O) return 0;
    if ((l == 1 || l == 2) && r == SS_LIN_O) return 6;
    if (l == 3 && r >= SS_LIN_GATE) return 4;
    return 8;
}

static ss_linear_weight *linear_of(ss_layer_weights *lw, ss_linear_role r) {
    ss_linear_weight *all[SS_LIN_COUNT] = {&lw->q, &lw->k, &lw->v, &lw->o, &lw->gate, &lw->up, &lw->down};
    return all[r];
}

static void path(char *buf, const char *name) { snprintf(buf, 600, "%s/%s", g_tmp, name); }

static float *prefill_logits(const ss_model *m, const int32_t *tok, int T) {
    float *logits = malloc((size_t)T * (size_t)m->cfg.vocab * sizeof(float));
    assert_non_null(logits);
    int32_t seq[16] = {0}, pos[16], rows[16];
    for (int i = 0; i < T; i++) pos[i] = rows[i] = i;
    ss_cpu_state *st;
    OK(ss_cpu_state_new(m, 1, 32, &st));
    ss_batch b = {.n = T, .token = tok, .seq = seq, .pos = pos, .n_logits = T, .logit_rows = rows};
    OK(ss_cpu_forward(st, &b, logits));
    ss_cpu_state_free(st);
    return logits;
}

static void test_mixed_equals_per_layer_reference(void **state) {
    (void)state;
    char bf16[600], q8[600], mixed[600], recipe[600], u[4][600];
    path(bf16, "bf16");
    path(q8, "int8");
    path(mixed, "mixed");
    path(recipe, "recipe.json");
    OK(ss_synth("tiny", bf16, 31));
    OK(ss_quantize_checkpoint(bf16, q8, SS_QUANT_INT8, -1));
    OK(ss_write_file_atomic(recipe, g_recipe, strlen(g_recipe)));
    ss_prune_opts po = {.recipe_file = recipe};
    OK(ss_convert_checkpoint_opts(q8, mixed, &po));
    const int Ls[3] = {4, 6, 8};
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "int8-2_%d", Ls[i]);
        path(u[i], name);
        OK(ss_convert_checkpoint(q8, u[i], Ls[i]));
    }

    /* slidesparse.json: top level null + recipe, each tensor its own sparsity */
    ss_checkpoint ck;
    OK(ss_ckpt_open(mixed, &ck));
    assert_true(ck.meta.mixed);
    assert_true(ck.meta.slid);
    assert_string_equal(ck.meta.sparsity, "");
    assert_non_null(ck.meta.recipe);
    assert_non_null(strstr(ck.meta.recipe, "\"2_6\""));
    assert_string_equal(ck.meta.prune_method, "magnitude");
    for (int l = 0; l < 4; l++)
        for (int r = 0; r < SS_LIN_COUNT; r++) {
            char name[128];
            ss_block_linear_name(l, (ss_linear_role)r, name, sizeof name);
            const ss_ckpt_linear *e = ss_ckpt_find_linear(&ck, name);
            assert_non_null(e);
            const int L = recipe_L(l, (ss_linear_role)r);
            char want[16] = "";
            if (L) ss_sparsity_name(L, want, sizeof want);
            assert_string_equal(e->sparsity, want);
            assert_int_equal(e->slid, L != 0);
            ss_slide_geom g;
            if (L) OK(ss_slide_geometry(e->K, L, &g));
            assert_int_equal(e->K_slid, L ? g.K_slid : e->K);
        }
    ss_ckpt_close(&ck);

    /* the reference: the dense INT8 model with each linear swapped for its twin in a uniform checkpoint */
    ss_model mm, md, mu[3], ref;
    OK(ss_model_load(mixed, &mm));
    OK(ss_model_load(q8, &md));
    for (int i = 0; i < 3; i++) OK(ss_model_load(u[i], &mu[i]));
    assert_true(mm.mixed);
    ref = md;
    ref.layers = calloc((size_t)md.cfg.n_layers, sizeof *ref.layers);
    assert_non_null(ref.layers);
    for (int l = 0; l < md.cfg.n_layers; l++) {
        ref.layers[l] = md.layers[l];
        for (int r = 0; r < SS_LIN_COUNT; r++) {
            const int L = recipe_L(l, (ss_linear_role)r);
            const ss_model *src = L == 4 ? &mu[0] : L == 6 ? &mu[1] : L == 8 ? &mu[2] : &md;
            *linear_of(&ref.layers[l], (ss_linear_role)r) = *linear_of(&src->layers[l], (ss_linear_role)r);
            const ss_linear_weight *w = linear_of(&mm.layers[l], (ss_linear_role)r);
            assert_int_equal(w->slid, L != 0);
            if (L) assert_int_equal(w->slide.L, L);
        }
    }
    static const int32_t tok[6] = {1, 517, 2048, 33, 4000, 9};
    float *lm = prefill_logits(&mm, tok, 6), *lr = prefill_logits(&ref, tok, 6), *ld = prefill_logits(&md, tok, 6);
    const size_t bytes = 6 * (size_t)md.cfg.vocab * sizeof(float);
    assert_memory_equal(lm, lr, bytes);
    assert_memory_not_equal(lm, ld, bytes); /* the recipe changed the model: the comparison is not vacuous */
    int32_t im[8], ir[8];
    int nm, nr;
    OK(ss_generate_cpu(&mm, tok, 6, 8, 0, im, &nm));
    OK(ss_generate_cpu(&ref, tok, 6, 8, 0, ir, &nr));
    assert_int_equal(nm, 8);
    assert_int_equal(nr, 8);
    assert_memory_equal(im, ir, sizeof im);
    printf("mixed recipe == per-layer reference: 6 x %d logits bit-identical, ids", md.cfg.vocab);
    for (int i = 0; i < 8; i++) printf(" %d", im[i]);
    printf("\n");
    free(lm), free(lr), free(ld);
    free(ref.layers);
    ss_model_free(&mm);
    ss_model_free(&md);
    for (int i = 0; i < 3; i++) ss_model_free(&mu[i]);
}

/* A recipe over a model with fewer layers than it names is refused before
 * anything is written; a uniform recipe gives an unmixed checkpoint. */
static void test_convert_with_recipe_errors(void **state) {
    (void)state;
    char q8[600], out[600], recipe[600];
    path(q8, "int8");
    path(out, "bad-out");
    path(recipe, "bad-recipe.json");
    const char *bad = "{\"rules\": [{\"layers\": \"0-7\", \"linears\": \"mlp\", \"sparsity\": \"2_8\"}]}";
    OK(ss_write_file_atomic(recipe, bad, strlen(bad)));
    ss_prune_opts po = {.recipe_file = recipe};
    assert_int_equal(ss_convert_checkpoint_opts(q8, out, &po), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "layer 7 does not exist"));
    assert_false(ss_path_exists(out));
    path(recipe, "missing.json");
    assert_int_equal(ss_convert_checkpoint_opts(q8, out, &po), SS_ERR_IO);
    assert_false(ss_path_exists(out));

    const char *uni = "{\"default\": \"2_8\"}";
    path(recipe, "uniform.json");
    OK(ss_write_file_atomic(recipe, uni, strlen(uni)));
    path(out, "uniform");
    OK(ss_convert_checkpoint_opts(q8, out, &po));
    ss_checkpoint ck;
    OK(ss_ckpt_open(out, &ck));
    assert_false(ck.meta.mixed);
    assert_string_equal(ck.meta.sparsity, "2_8");
    assert_true(ck.meta.slid);
    ss_ckpt_close(&ck);
    /* prune refuses 2_inf in a recipe (no pruning is convert's) */
    const char *inf = "{\"rules\": [{\"linears\": \"q\", \"sparsity\": \"2_inf\"}]}";
    path(recipe, "inf.json");
    OK(ss_write_file_atomic(recipe, inf, strlen(inf)));
    path(out, "pruned-inf");
    assert_int_equal(ss_prune_checkpoint_opts(q8, out, &po), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "2_inf"));
    assert_false(ss_path_exists(out));
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_recipe_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grammar),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_mixed_equals_per_layer_reference),
        cmocka_unit_test(test_convert_with_recipe_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
