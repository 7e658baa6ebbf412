/* Checkpoint-level conversions on the `tiny` preset: synth (deterministic,
 * realistic values), the tensor lists of every preset, quantize, prune,
 * convert (2_8, 2_inf, BF16 input), and the error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "convert/prune.h"
#include "convert/slide.h"
#include "convert/sparsity.h"
#include "core/fsutil.h"
#include "io/checkpoint.h"

#define SEED 7

static char g_root[512];             /* temp folder of this run */
static char g_bf16[600], g_int8[600]; /* tiny synth (SEED) and its INT8 ternary quantization */

static const char *path_in(char *buf, const char *name) {
    snprintf(buf, 600, "%s/%s", g_root, name);
    return buf;
}

static int group_setup(void **state) {
    (void)state;
    const char *tmp = getenv("TMPDIR");
    snprintf(g_root, sizeof g_root, "%s/test_convert.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_root)) return -1;
    path_in(g_bf16, "bf16");
    path_in(g_int8, "int8");
    if (ss_synth("tiny", g_bf16, SEED) != SS_OK) return -1;
    if (ss_quantize_checkpoint(g_bf16, g_int8, SS_QUANT_INT8, -1) != SS_OK) return -1;
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    ss_rm_rf(g_root);
    return 0;
}

static char *read_all(const char *dir, const char *file, size_t *n) {
    char p[1200];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    char *data = NULL;
    assert_int_equal(ss_read_file(p, &data, n), SS_OK);
    return data;
}

static void assert_same_file(const char *a, const char *b, const char *file, int same) {
    size_t na, nb;
    char *da = read_all(a, file, &na), *db = read_all(b, file, &nb);
    int equal = na == nb && memcmp(da, db, na) == 0;
    assert_int_equal(equal, same);
    free(da);
    free(db);
}

/* No output folder, and no temp folder "<out>.tmp.*" left next to it. */
static void assert_no_output(const char *out) {
    assert_false(ss_path_exists(out));
    const char *base = strrchr(out, '/') + 1;
    DIR *d = opendir(g_root);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) assert_false(strncmp(e->d_name, base, strlen(base)) == 0);
    closedir(d);
}

static void test_synth_deterministic(void **state) {
    (void)state;
    char again[600], other[600], one_thread[600];
    assert_int_equal(ss_synth("tiny", path_in(again, "bf16_again"), SEED), SS_OK);
    assert_int_equal(ss_synth("tiny", path_in(other, "bf16_other"), SEED + 1), SS_OK);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    assert_int_equal(ss_synth("tiny", path_in(one_thread, "bf16_1t"), SEED), SS_OK);
    omp_set_num_threads(threads);
    assert_same_file(g_bf16, again, "model.safetensors", 1);
    assert_same_file(g_bf16, one_thread, "model.safetensors", 1);
    assert_same_file(g_bf16, again, "config.json", 1);
    assert_same_file(g_bf16, again, "slidesparse.json", 1);
    assert_same_file(g_bf16, other, "model.safetensors", 0);
    ss_rm_rf(again);
    ss_rm_rf(other);
    ss_rm_rf(one_thread);
}

/* Mean and standard deviation of a BF16 tensor. */
static void moments(const ss_st_tensor *t, double *mean, double *std) {
    const uint16_t *v = t->data;
    int64_t n = ss_st_numel(t);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = ss_bf16_to_f32(v[i]);
        s += x;
        s2 += x * x;
    }
    *mean = s / (double)n;
    *std = sqrt(s2 / (double)n - *mean * *mean);
}

static void test_synth_checkpoint(void **state) {
    (void)state;
    ss_checkpoint c;
    assert_int_equal(ss_ckpt_open(g_bf16, &c), SS_OK);
    assert_int_equal(c.cfg.hidden, 512);
    assert_int_equal(c.cfg.n_layers, 4);
    assert_string_equal(c.meta.source, "synthetic:7");
    assert_true(c.meta.synthetic);
    assert_int_equal(c.meta.quant, SS_QUANT_NONE);
    assert_int_equal(c.meta.sparsity[0], '\0');
    assert_int_equal(c.meta.n_linear, 4 * 7);
    for (int i = 0; i < c.meta.n_linear; i++) {
        const ss_ckpt_linear *l = &c.meta.linear[i];
        assert_true(l->K_padded == l->K && l->K_slid == l->K);
    }
    /* the file holds exactly the specs, in BF16 */
    ss_st_spec *specs;
    int n;
    assert_int_equal(ss_synth_specs(&c.cfg, &specs, &n), SS_OK);
    assert_int_equal(c.st.ntensors, n);
    for (int i = 0; i < n; i++) assert_int_equal(ss_ckpt_tensor(&c, specs[i].name, SS_DT_BF16, specs[i].ndim, specs[i].shape, NULL), SS_OK);
    ss_synth_specs_free(specs, n);
    /* realistic values: weights N(0, 0.02), norms 1 + N(0, 0.02) */
    double mean, std;
    const ss_st_tensor *t = ss_st_find(&c.st, "model.layers.1.mlp.down_proj.weight");
    assert_non_null(t);
    moments(t, &mean, &std);
    assert_true(fabs(mean) < 1e-3 && fabs(std - 0.02) < 1e-3);
    t = ss_st_find(&c.st, "model.embed_tokens.weight");
    moments(t, &mean, &std);
    assert_true(fabs(mean) < 1e-3 && fabs(std - 0.02) < 1e-3);
    t = ss_st_find(&c.st, "model.layers.2.mlp.ffn_sub_norm.weight");
    moments(t, &mean, &std);
    assert_true(fabs(mean - 1.0) < 3e-3 && std > 0.01 && std < 0.03);
    ss_ckpt_close(&c);
}

static const ss_st_spec *find_spec(const ss_st_spec *s, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s[i].name, name)) return &s[i];
    return NULL;
}

static void assert_spec(const ss_st_spec *s, int n, const char *name, int64_t d0, int64_t d1) {
    const ss_st_spec *p = find_spec(s, n, name);
    if (!p) fail_msg("no tensor %s", name);
    assert_int_equal(p->shape[0], d0);
    if (d1 > 0) {
        assert_int_equal(p->ndim, 2);
        assert_int_equal(p->shape[1], d1);
    } else {
        assert_int_equal(p->ndim, 1);
    }
}

static void test_specs_every_preset(void **state) {
    (void)state;
    for (const char *const *name = ss_config_preset_names(); *name; name++) {
        ss_model_config c;
        assert_int_equal(ss_config_preset(*name, &c), SS_OK);
        ss_st_spec *s;
        int n;
        assert_int_equal(ss_synth_specs(&c, &s, &n), SS_OK);
        int64_t total = 0, linears = 0;
        for (int i = 0; i < n; i++) {
            int64_t e = s[i].shape[0] * (s[i].ndim == 2 ? s[i].shape[1] : 1);
            total += e;
            linears += ss_is_block_linear(s[i].name);
            assert_int_equal(s[i].dtype, SS_DT_BF16);
        }
        assert_int_equal(total, ss_config_param_count(&c));
        assert_int_equal(linears, 7 * c.n_layers);
        const int64_t h = c.hidden, q = (int64_t)c.n_heads * c.head_dim, kv = (int64_t)c.n_kv_heads * c.head_dim;
        const int last = c.n_layers - 1;
        char nm[200];
        snprintf(nm, sizeof nm, "model.layers.%d.self_attn.q_proj.weight", last), assert_spec(s, n, nm, q, h);
        snprintf(nm, sizeof nm, "model.layers.%d.self_attn.k_proj.weight", last), assert_spec(s, n, nm, kv, h);
        snprintf(nm, sizeof nm, "model.layers.%d.self_attn.v_proj.weight", last), assert_spec(s, n, nm, kv, h);
        snprintf(nm, sizeof nm, "model.layers.%d.self_attn.o_proj.weight", last), assert_spec(s, n, nm, h, q);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.gate_proj.weight", 0), assert_spec(s, n, nm, c.intermediate, h);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.up_proj.weight", 0), assert_spec(s, n, nm, c.intermediate, h);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.down_proj.weight", 0), assert_spec(s, n, nm, h, c.intermediate);
        snprintf(nm, sizeof nm, "model.layers.%d.input_layernorm.weight", 0), assert_spec(s, n, nm, h, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.post_attention_layernorm.weight", 0), assert_spec(s, n, nm, h, 0);
        snprintf(nm, sizeof nm, "model.layers.%d.self_attn.q_proj.bias", 0);
        assert_int_equal(find_spec(s, n, nm) != NULL, c.qkv_bias);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.ffn_sub_norm.weight", 0);
        assert_int_equal(find_spec(s, n, nm) != NULL, c.sub_norms);
        snprintf(nm, sizeof nm, "model.layers.%d.mlp.gate_proj.weight", c.n_layers);
        assert_null(find_spec(s, n, nm));
        assert_spec(s, n, "model.embed_tokens.weight", c.vocab, h);
        assert_spec(s, n, "model.norm.weight", h, 0);
        assert_int_equal(find_spec(s, n, "lm_head.weight") != NULL, !c.tie_embeddings);

        if (!strcmp(*name, "bitnet-2b")) { /* SPEC section 2's numbers */
            assert_int_equal(n, 1 + 30 * 11 + 1);
            assert_spec(s, n, "model.layers.29.self_attn.q_proj.weight", 2560, 2560);
            assert_spec(s, n, "model.layers.29.self_attn.k_proj.weight", 640, 2560);
            assert_spec(s, n, "model.layers.29.mlp.gate_proj.weight", 6912, 2560);
            assert_spec(s, n, "model.layers.29.mlp.down_proj.weight", 2560, 6912);
            assert_spec(s, n, "model.layers.29.self_attn.attn_sub_norm.weight", 2560, 0);
            assert_spec(s, n, "model.layers.29.mlp.ffn_sub_norm.weight", 6912, 0);
            assert_null(find_spec(s, n, "lm_head.weight"));
            assert_null(find_spec(s, n, "model.layers.30.self_attn.q_proj.weight"));
        }
        if (!strcmp(*name, "qwen2.5-7b")) {
            assert_spec(s, n, "model.layers.27.self_attn.q_proj.bias", 3584, 0);
            assert_spec(s, n, "model.layers.27.self_attn.k_proj.bias", 512, 0);
            assert_spec(s, n, "model.layers.27.self_attn.v_proj.bias", 512, 0);
            assert_spec(s, n, "lm_head.weight", 152064, 3584);
            assert_spec(s, n, "model.layers.0.mlp.down_proj.weight", 3584, 18944);
        }
        ss_synth_specs_free(s, n);
    }
}

/* Every non-linear tensor of `out` is byte-identical to `in`'s. */
static void assert_others_copied(const ss_checkpoint *in, const ss_checkpoint *out) {
    int copied = 0;
    for (int i = 0; i < in->st.ntensors; i++) {
        const ss_st_tensor *a = &in->st.tensors[i];
        if (ss_is_block_linear(a->name)) continue;
        const ss_st_tensor *b = ss_st_find(&out->st, a->name);
        assert_non_null(b);
        assert_int_equal(a->dtype, b->dtype);
        assert_int_equal(a->ndim, b->ndim);
        assert_int_equal(a->nbytes, b->nbytes);
        assert_memory_equal(a->data, b->data, a->nbytes);
        copied++;
    }
    assert_true(copied > 0);
}

static void check_quantized(const char *dir, ss_quant q, const char *scheme) {
    ss_checkpoint in, c;
    assert_int_equal(ss_ckpt_open(g_bf16, &in), SS_OK);
    assert_int_equal(ss_ckpt_open(dir, &c), SS_OK);
    assert_int_equal(c.meta.quant, q);
    assert_string_equal(c.meta.scheme, scheme);
    assert_string_equal(c.meta.source, "synthetic:7");
    assert_true(c.meta.synthetic);
    assert_false(c.meta.slid);
    assert_int_equal(c.meta.sparsity[0], '\0');
    assert_int_equal(c.meta.n_linear, 28);
    for (int i = 0; i < c.meta.n_linear; i++) {
        const ss_ckpt_linear *l = &c.meta.linear[i];
        assert_true(l->K_padded == l->K && l->K_slid == l->K);
        const ss_st_tensor *w, *s, *src;
        int64_t shape[2] = {l->N, l->K};
        char sname[300];
        snprintf(sname, sizeof sname, "%s_scale", l->name);
        assert_int_equal(ss_ckpt_tensor(&c, l->name, ss_quant_dtype(q), 2, shape, &w), SS_OK);
        assert_int_equal(ss_ckpt_tensor(&c, sname, SS_DT_F32, 1, &l->N, &s), SS_OK);
        assert_int_equal(ss_ckpt_tensor(&in, l->name, SS_DT_BF16, 2, shape, &src), SS_OK);
        const float *scale = s->data;
        const uint8_t *codes = w->data;
        const uint16_t *x = src->data;
        if (!strcmp(scheme, "ternary")) {
            double sum = 0;
            for (int64_t k = 0; k < l->N * l->K; k++) sum += fabsf(ss_bf16_to_f32(x[k]));
            const float want = fmaxf((float)(sum / (double)(l->N * l->K)), 1e-5f);
            int zeros = 0;
            for (int64_t n = 0; n < l->N; n++) assert_true(scale[n] == want);
            for (int64_t k = 0; k < l->N * l->K; k++) {
                int v = q == SS_QUANT_INT8 ? (int8_t)codes[k] : (int)ss_fp8e4m3_to_f32(codes[k]);
                assert_true(v >= -1 && v <= 1);
                if (q == SS_QUANT_FP8) assert_true(codes[k] == 0 || codes[k] == 0x38 || codes[k] == 0xb8);
                int want_v = (int)nearbyintf(ss_bf16_to_f32(x[k]) / want);
                want_v = want_v > 1 ? 1 : want_v < -1 ? -1 : want_v;
                assert_int_equal(v, want_v);
                zeros += v == 0;
            }
            /* N(0, s) weights with s ~ 0.8 std: about 40% zeros, as in real BitNet */
            assert_true(zeros > l->N * l->K / 4 && zeros < l->N * l->K * 3 / 5);
        } else {
            for (int64_t n = 0; n < l->N; n++) {
                float amax = 0;
                for (int64_t k = 0; k < l->K; k++) amax = fmaxf(amax, fabsf(ss_bf16_to_f32(x[n * l->K + k])));
                assert_true(scale[n] == amax / (q == SS_QUANT_INT8 ? 127.0f : 448.0f));
            }
        }
    }
    assert_others_copied(&in, &c);
    ss_ckpt_close(&c);
    ss_ckpt_close(&in);
}

static void test_quantize(void **state) {
    (void)state;
    check_quantized(g_int8, SS_QUANT_INT8, "ternary"); /* BitNet's default scheme */
    char fp8[600], absmax[600];
    assert_int_equal(ss_quantize_checkpoint(g_bf16, path_in(fp8, "fp8"), SS_QUANT_FP8, -1), SS_OK);
    check_quantized(fp8, SS_QUANT_FP8, "ternary");
    assert_int_equal(ss_quantize_checkpoint(g_bf16, path_in(absmax, "absmax"), SS_QUANT_INT8, SS_SCHEME_ABSMAX), SS_OK);
    check_quantized(absmax, SS_QUANT_INT8, "absmax");
    ss_rm_rf(fp8);
    ss_rm_rf(absmax);
}

/* prune 2_8, then convert 2_8 and 2_inf of the INT8 model: convert's weight
 * is exactly the slide of prune's. */
static void test_prune_and_convert(void **state) {
    (void)state;
    char pruned[600], conv[600], inf[600];
    assert_int_equal(ss_prune_checkpoint(g_int8, path_in(pruned, "int8_p28"), 8), SS_OK);
    assert_int_equal(ss_convert_checkpoint(g_int8, path_in(conv, "int8_s28"), 8), SS_OK);
    assert_int_equal(ss_convert_checkpoint(g_int8, path_in(inf, "int8_sinf"), SS_L_INF), SS_OK);
    ss_checkpoint in, p, s, si;
    assert_int_equal(ss_ckpt_open(g_int8, &in), SS_OK);
    assert_int_equal(ss_ckpt_open(pruned, &p), SS_OK);
    assert_int_equal(ss_ckpt_open(conv, &s), SS_OK);
    assert_int_equal(ss_ckpt_open(inf, &si), SS_OK);
    assert_string_equal(p.meta.sparsity, "2_8");
    assert_false(p.meta.slid);
    assert_string_equal(s.meta.sparsity, "2_8");
    assert_true(s.meta.slid);
    assert_string_equal(si.meta.sparsity, "2_inf");
    assert_true(si.meta.slid);
    const ss_checkpoint *outs[] = {&p, &s, &si};
    for (int k = 0; k < 3; k++) {
        const ss_checkpoint *c = outs[k];
        assert_int_equal(c->meta.quant, SS_QUANT_INT8);
        assert_string_equal(c->meta.scheme, "ternary");
        assert_string_equal(c->meta.source, "synthetic:7");
        assert_int_equal(c->meta.n_linear, 28);
        assert_others_copied(&in, c); /* weight_scale included */
    }
    for (int i = 0; i < p.meta.n_linear; i++) {
        const ss_ckpt_linear *lp = &p.meta.linear[i], *ls = ss_ckpt_find_linear(&s, lp->name),
                             *li = ss_ckpt_find_linear(&si, lp->name);
        assert_non_null(ls);
        assert_non_null(li);
        assert_int_equal(lp->K_padded, (lp->K + 7) / 8 * 8);
        assert_int_equal(lp->K_slid, lp->K);
        ss_slide_geom g, gi;
        assert_int_equal(ss_slide_geometry(lp->K, 8, &g), SS_OK);
        assert_int_equal(ss_slide_geometry(lp->K, SS_L_INF, &gi), SS_OK);
        assert_true(ls->N == lp->N && ls->K == lp->K && ls->K_padded == g.K_padded && ls->K_slid == g.K_slid);
        assert_true(li->K_padded == gi.K_padded && li->K_slid == 2 * lp->K);
        const ss_st_tensor *wp, *ws, *wi, *w0;
        int64_t shp[2] = {lp->N, lp->K}, shs[2] = {lp->N, g.K_slid}, shi[2] = {lp->N, gi.K_slid};
        assert_int_equal(ss_ckpt_tensor(&p, lp->name, SS_DT_I8, 2, shp, &wp), SS_OK);
        assert_int_equal(ss_ckpt_tensor(&s, lp->name, SS_DT_I8, 2, shs, &ws), SS_OK);
        assert_int_equal(ss_ckpt_tensor(&si, lp->name, SS_DT_I8, 2, shi, &wi), SS_OK);
        assert_int_equal(ss_ckpt_tensor(&in, lp->name, SS_DT_I8, 2, shp, &w0), SS_OK);
        assert_true(ss_is_pruned(wp->data, SS_DT_I8, lp->N, lp->K, 8));
        int8_t *slid = malloc((size_t)(lp->N * g.K_slid)), *slid_inf = malloc((size_t)(lp->N * gi.K_slid));
        assert_non_null(slid);
        assert_non_null(slid_inf);
        assert_int_equal(ss_slide_matrix(&g, wp->data, lp->N, 1, slid, "p"), SS_OK);
        assert_int_equal(ss_slide_matrix(&gi, w0->data, lp->N, 1, slid_inf, "w0"), SS_OK);
        assert_memory_equal(ws->data, slid, (size_t)(lp->N * g.K_slid));
        assert_memory_equal(wi->data, slid_inf, (size_t)(lp->N * gi.K_slid));
        for (int64_t n = 0; n < lp->N; n++) {
            assert_true(ss_row_is_2_4((const int8_t *)ws->data + n * g.K_slid, g.K_slid, 1));
            assert_true(ss_row_is_2_4((const int8_t *)wi->data + n * gi.K_slid, gi.K_slid, 1));
        }
        free(slid);
        free(slid_inf);
    }
    ss_ckpt_close(&in);
    ss_ckpt_close(&p);
    ss_ckpt_close(&s);
    ss_ckpt_close(&si);
    ss_rm_rf(pruned);
    ss_rm_rf(conv);
    ss_rm_rf(inf);
}

/* BF16 sparse kernels: an unquantized input prunes and slides as well. */
static void test_convert_bf16(void **state) {
    (void)state;
    char conv[600];
    assert_int_equal(ss_convert_checkpoint(g_bf16, path_in(conv, "bf16_s26"), 6), SS_OK);
    ss_checkpoint in, c;
    assert_int_equal(ss_ckpt_open(g_bf16, &in), SS_OK);
    assert_int_equal(ss_ckpt_open(conv, &c), SS_OK);
    assert_int_equal(c.meta.quant, SS_QUANT_NONE);
    assert_string_equal(c.meta.sparsity, "2_6");
    assert_true(c.meta.slid);
    assert_int_equal(c.meta.n_linear, 28);
    for (int i = 0; i < c.meta.n_linear; i++) {
        const ss_ckpt_linear *l = &c.meta.linear[i];
        ss_slide_geom g;
        assert_int_equal(ss_slide_geometry(l->K, 6, &g), SS_OK);
        assert_int_equal(l->K_slid, g.K_slid);
        const ss_st_tensor *w;
        int64_t shape[2] = {l->N, g.K_slid};
        assert_int_equal(ss_ckpt_tensor(&c, l->name, SS_DT_BF16, 2, shape, &w), SS_OK);
        /* exactly slide(prune(input)) */
        const ss_st_tensor *src;
        int64_t in_shape[2] = {l->N, l->K};
        assert_int_equal(ss_ckpt_tensor(&in, l->name, SS_DT_BF16, 2, in_shape, &src), SS_OK);
        uint16_t *pr = malloc(src->nbytes), *sl = malloc((size_t)(l->N * g.K_slid) * 2);
        assert_non_null(pr);
        assert_non_null(sl);
        memcpy(pr, src->data, src->nbytes);
        assert_int_equal(ss_prune_matrix(pr, SS_DT_BF16, l->N, l->K, 6, "pr"), SS_OK);
        assert_int_equal(ss_slide_matrix(&g, pr, l->N, 2, sl, "pr"), SS_OK);
        assert_memory_equal(w->data, sl, (size_t)(l->N * g.K_slid) * 2);
        int64_t nonzero = 0;
        for (int64_t n = 0; n < l->N; n++) {
            const uint16_t *row = (const uint16_t *)w->data + n * g.K_slid;
            assert_true(ss_row_is_2_4(row, g.K_slid, 2));
            for (int64_t k = 0; k < g.K_slid; k++) nonzero += row[k] != 0;
        }
        /* 2 of every 6 dropped (padding counts): about K_padded * 4/6 nonzeros per row */
        assert_true(nonzero <= l->N * g.K_padded * 4 / 6 && nonzero > l->N * g.K_padded * 4 / 6 * 99 / 100);
        free(pr);
        free(sl);
    }
    assert_others_copied(&in, &c);
    ss_ckpt_close(&in);
    ss_ckpt_close(&c);
    ss_rm_rf(conv);
}

static void test_errors(void **state) {
    (void)state;
    int L;
    assert_int_equal(ss_sparsity_parse("2_5", 1, &L), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "unknown sparsity '2_5'"));
    assert_int_equal(ss_sparsity_parse("3_8", 1, &L), SS_ERR_ARG);
    assert_int_equal(ss_sparsity_parse("2_inf", 0, &L), SS_ERR_ARG);
    assert_int_equal(ss_sparsity_parse("2_8", 0, &L), SS_OK);
    assert_int_equal(L, 8);

    char out[600], conv[600], bad[600];
    path_in(out, "err_out");
    /* already quantized */
    assert_int_equal(ss_quantize_checkpoint(g_int8, out, SS_QUANT_FP8, -1), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "already quantized"));
    assert_non_null(strstr(ss_errmsg(), g_int8));
    assert_no_output(out);
    /* already slid */
    assert_int_equal(ss_convert_checkpoint(g_int8, path_in(conv, "err_slid"), 4), SS_OK);
    assert_int_equal(ss_convert_checkpoint(conv, out, 8), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "already slid"));
    assert_no_output(out);
    assert_int_equal(ss_prune_checkpoint(conv, out, 8), SS_ERR_ARG);
    assert_no_output(out);
    ss_rm_rf(conv);
    /* missing input folder */
    char missing[600];
    path_in(missing, "no_such_model");
    assert_int_equal(ss_convert_checkpoint(missing, out, 8), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "no_such_model"));
    assert_no_output(out);
    assert_int_equal(ss_quantize_checkpoint(missing, out, SS_QUANT_INT8, -1), SS_ERR_IO);
    assert_no_output(out);
    /* prune refuses 2_inf and odd L; output == input */
    assert_int_equal(ss_prune_checkpoint(g_int8, out, SS_L_INF), SS_ERR_ARG);
    assert_int_equal(ss_convert_checkpoint(g_int8, out, 7), SS_ERR_ARG);
    assert_no_output(out);
    assert_int_equal(ss_prune_checkpoint(g_int8, g_int8, 8), SS_ERR_ARG);
    assert_true(ss_is_dir(g_int8));
    /* a weight whose shape disagrees with config.json */
    path_in(bad, "bad_config");
    assert_int_equal(ss_synth("tiny", bad, 1), SS_OK);
    ss_model_config cfg;
    char cpath[700];
    snprintf(cpath, sizeof cpath, "%s/config.json", bad);
    assert_int_equal(ss_config_load(cpath, &cfg), SS_OK);
    cfg.intermediate = 1344;
    assert_int_equal(ss_config_save(cpath, &cfg), SS_OK);
    assert_int_equal(ss_convert_checkpoint(bad, out, 8), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "model.layers.0.mlp.gate_proj.weight"));
    assert_non_null(strstr(ss_errmsg(), "config.json"));
    assert_no_output(out);
    assert_int_equal(ss_quantize_checkpoint(bad, out, SS_QUANT_INT8, -1), SS_ERR_FORMAT);
    assert_no_output(out);
    ss_rm_rf(bad);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_synth_deterministic), cmocka_unit_test(test_synth_checkpoint),
        cmocka_unit_test(test_specs_every_preset),  cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_prune_and_convert),   cmocka_unit_test(test_convert_bf16),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
