/* Checkpoint folders: writer + reopen of a small quantized checkpoint,
 * slidesparse.json round trips, tensor checks with their messages, block
 * linear names, and folders that must not appear or must not open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/bitnet_packed.h"
#include "io/checkpoint.h"

static char g_root[256];

static int setup_root(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/ss_test_checkpoint.%ld", (long)getpid());
    ss_rm_rf(g_root);
    return ss_mkdir_p(g_root) == SS_OK ? 0 : -1;
}

static int teardown_root(void **state) {
    (void)state;
    return ss_rm_rf(g_root) == SS_OK ? 0 : -1;
}

static const char *root_path(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    return buf;
}

static void assert_msg_has(const char *substr) {
    if (!strstr(ss_errmsg(), substr)) fail_msg("message '%s' lacks '%s'", ss_errmsg(), substr);
}

static void test_quant_names(void **state) {
    (void)state;
    ss_quant q;
    for (int i = SS_QUANT_NONE; i <= SS_QUANT_FP8; i++) {
        assert_int_equal(ss_quant_parse(ss_quant_name((ss_quant)i), &q), SS_OK);
        assert_int_equal(q, i);
    }
    assert_string_equal(ss_quant_name(SS_QUANT_FP8), "fp8_e4m3");
    assert_int_equal(ss_quant_parse("fp8", &q), SS_OK);
    assert_int_equal(q, SS_QUANT_FP8);
    assert_int_equal(ss_quant_parse("int4", &q), SS_ERR_ARG);
    assert_msg_has("'int4'");
    assert_int_equal(ss_quant_dtype(SS_QUANT_INT8), SS_DT_I8);
    assert_int_equal(ss_quant_dtype(SS_QUANT_FP8), SS_DT_F8_E4M3);
    assert_int_equal(ss_quant_dtype(SS_QUANT_NONE), SS_DT_UNKNOWN);
}

static void test_block_linear_names(void **state) {
    (void)state;
    static const char *const yes[] = {
        "model.layers.0.self_attn.q_proj.weight",  "model.layers.0.self_attn.k_proj.weight",
        "model.layers.7.self_attn.v_proj.weight",  "model.layers.29.self_attn.o_proj.weight",
        "model.layers.123.mlp.gate_proj.weight",   "model.layers.1.mlp.up_proj.weight",
        "model.layers.1.mlp.down_proj.weight",
    };
    static const char *const no[] = {
        "model.embed_tokens.weight",
        "lm_head.weight",
        "model.norm.weight",
        "model.layers.0.input_layernorm.weight",
        "model.layers.0.self_attn.attn_sub_norm.weight",
        "model.layers.0.mlp.ffn_sub_norm.weight",
        "model.layers.0.self_attn.q_proj.bias",
        "model.layers.0.self_attn.q_proj.weight_scale",
        "model.layers.0.mlp.up_proj.weight.x",
        "model.layers..mlp.up_proj.weight",
        "model.layers.x.mlp.up_proj.weight",
        "model.layers.1a.mlp.up_proj.weight",
        "model.layers.-1.mlp.up_proj.weight",
        "model.layers.0.mlp.gate_up_proj.weight",
        "model.layers.0.self_attn.qkv_proj.weight",
        "xmodel.layers.0.mlp.up_proj.weight",
        "layers.0.mlp.up_proj.weight",
        "",
    };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!ss_is_block_linear(yes[i])) fail_msg("'%s' should be a block linear", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (ss_is_block_linear(no[i])) fail_msg("'%s' should not be a block linear", no[i]);
}

static ss_ckpt_linear linear(const char *name, int64_t N, int64_t K, int64_t K_padded, int64_t K_slid) {
    ss_ckpt_linear l = {.N = N, .K = K, .K_padded = K_padded, .K_slid = K_slid};
    snprintf(l.name, sizeof l.name, "%s", name);
    return l;
}

static void test_meta_roundtrip(void **state) {
    (void)state;
    char path[512];
    root_path("meta.json", path, sizeof path);
    ss_ckpt_meta m = {.format_version = 1, .quant = SS_QUANT_FP8, .slid = 1, .synthetic = 1};
    snprintf(m.source, sizeof m.source, "synthetic:42");
    snprintf(m.scheme, sizeof m.scheme, "ternary");
    snprintf(m.sparsity, sizeof m.sparsity, "2_8");
    /* enough entries to grow the table several times */
    for (int i = 0; i < 100; i++) {
        char name[128];
        snprintf(name, sizeof name, "model.layers.%d.mlp.down_proj.weight", i);
        ss_ckpt_linear l = linear(name, 64 + i, 96, 96, 144);
        assert_int_equal(ss_ckpt_meta_add_linear(&m, &l), SS_OK);
    }
    ss_ckpt_linear dup = linear("model.layers.3.mlp.down_proj.weight", 1, 1, 1, 1);
    assert_int_equal(ss_ckpt_meta_add_linear(&m, &dup), SS_ERR_ARG);
    assert_msg_has("recorded twice");
    assert_int_equal(m.n_linear, 100);
    assert_int_equal(ss_ckpt_meta_save(path, &m), SS_OK);

    ss_ckpt_meta back;
    assert_int_equal(ss_ckpt_meta_load(path, &back), SS_OK);
    assert_int_equal(back.format_version, 1);
    assert_string_equal(back.source, "synthetic:42");
    assert_int_equal(back.quant, SS_QUANT_FP8);
    assert_string_equal(back.scheme, "ternary");
    assert_string_equal(back.sparsity, "2_8");
    assert_int_equal(back.slid, 1);
    assert_int_equal(back.synthetic, 1);
    assert_int_equal(back.n_linear, 100);
    for (int i = 0; i < m.n_linear; i++) {
        const ss_ckpt_linear *want = &m.linear[i];
        int found = 0;
        for (int k = 0; k < back.n_linear; k++) {
            const ss_ckpt_linear *got = &back.linear[k];
            if (strcmp(got->name, want->name)) continue;
            found = 1;
            assert_int_equal(got->N, want->N);
            assert_int_equal(got->K, want->K);
            assert_int_equal(got->K_padded, want->K_padded);
            assert_int_equal(got->K_slid, want->K_slid);
        }
        assert_true(found);
    }
    ss_ckpt_meta_free(&back);

    /* the file says what SPEC section 5 says */
    json_t *j;
    assert_int_equal(ss_json_load(path, &j), SS_OK);
    assert_int_equal(json_integer_value(json_object_get(j, "format_version")), 1);
    assert_string_equal(json_string_value(json_object_get(j, "quant")), "fp8_e4m3");
    assert_string_equal(json_string_value(json_object_get(j, "sparsity")), "2_8");
    assert_true(json_is_object(json_object_get(json_object_get(j, "tensors"), "model.layers.0.mlp.down_proj.weight")));
    json_decref(j);

    /* empty sparsity is JSON null, and reads back empty */
    m.sparsity[0] = '\0';
    m.slid = 0;
    assert_int_equal(ss_ckpt_meta_save(path, &m), SS_OK);
    assert_int_equal(ss_json_load(path, &j), SS_OK);
    assert_true(json_is_null(json_object_get(j, "sparsity")));
    assert_true(json_is_false(json_object_get(j, "slid")));
    json_decref(j);
    assert_int_equal(ss_ckpt_meta_load(path, &back), SS_OK);
    assert_string_equal(back.sparsity, "");
    assert_int_equal(back.slid, 0);
    ss_ckpt_meta_free(&back);
    ss_ckpt_meta_free(&m);
    assert_null(m.linear);
}

static void write_text(const char *path, const char *text) {
    assert_int_equal(ss_write_file_atomic(path, text, strlen(text)), SS_OK);
}

static void test_meta_load_rules(void **state) {
    (void)state;
    char path[512];
    ss_ckpt_meta m;
    root_path("meta_rules.json", path, sizeof path);

    /* unknown keys are ignored; minimal file */
    write_text(path, "{\"format_version\": 1, \"quant\": \"int8\", \"future_key\": [1, 2], \"sparsity\": null}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_OK);
    assert_int_equal(m.quant, SS_QUANT_INT8);
    assert_int_equal(m.n_linear, 0);
    assert_string_equal(m.sparsity, "");
    ss_ckpt_meta_free(&m);

    write_text(path, "{\"format_version\": 2, \"quant\": \"int8\"}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_UNSUPPORTED);
    assert_msg_has("format_version 2");
    assert_msg_has(path);

    write_text(path, "{\"quant\": \"int8\"}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_FORMAT);
    assert_msg_has("'format_version'");

    write_text(path, "{\"format_version\": 1, \"quant\": \"int3\"}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_ARG);
    assert_msg_has("'int3'");
    assert_msg_has(path);

    write_text(path, "{\"format_version\": 1, \"tensors\": {\"w.weight\": {\"N\": 4, \"K\": 8, \"K_padded\": 8}}}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_FORMAT);
    assert_msg_has("tensor 'w.weight'");
    assert_msg_has("'K_slid'");
    assert_null(m.linear);

    write_text(path, "{\"format_version\": 1, \"tensors\": {\"w.weight\": {\"N\": 4, \"K\": 8, \"K_padded\": 4, \"K_slid\": 8}}}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_FORMAT);
    assert_msg_has("inconsistent geometry");

    write_text(path, "{\"format_version\": 1, \"sparsity\": 8}");
    assert_int_equal(ss_ckpt_meta_load(path, &m), SS_ERR_FORMAT);
    assert_msg_has("'sparsity' is not a string");
}

/* ---- a small checkpoint written with the writer ---- */

#define UP "model.layers.0.mlp.up_proj.weight"
#define UP_SCALE "model.layers.0.mlp.up_proj.weight_scale"
enum { N_UP = 8, K_UP = 16, K_SLID = 24, EMB_ROWS = 4, HID = 32 };

typedef struct small_ckpt {
    uint16_t embed[EMB_ROWS * HID]; /* BF16 [4, 32] */
    uint16_t norm[HID];             /* BF16 [32] */
    int8_t up[N_UP * K_SLID];       /* I8 [8, 24] */
    float up_scale[N_UP];           /* F32 [8] */
} small_ckpt;

static void make_small(small_ckpt *s) {
    for (int i = 0; i < EMB_ROWS * HID; i++) s->embed[i] = ss_f32_to_bf16((float)i * 0.25f - 3.0f);
    for (int i = 0; i < HID; i++) s->norm[i] = ss_f32_to_bf16(1.0f + (float)i / 64.0f);
    for (int i = 0; i < N_UP * K_SLID; i++) s->up[i] = (int8_t)((i * 37) % 255 - 127);
    for (int i = 0; i < N_UP; i++) s->up_scale[i] = 0.01f * (float)(i + 1);
}

static const ss_st_spec g_small_specs[] = {
    {"model.embed_tokens.weight", SS_DT_BF16, 2, {EMB_ROWS, HID}},
    {"model.norm.weight", SS_DT_BF16, 1, {HID}},
    {UP, SS_DT_I8, 2, {N_UP, K_SLID}},
    {UP_SCALE, SS_DT_F32, 1, {N_UP}},
};

static ss_ckpt_meta small_meta(int64_t k_slid_stated) {
    ss_ckpt_meta m = {.format_version = 1, .quant = SS_QUANT_INT8, .slid = 1};
    snprintf(m.source, sizeof m.source, "test/small");
    snprintf(m.scheme, sizeof m.scheme, "absmax");
    snprintf(m.sparsity, sizeof m.sparsity, "2_8");
    ss_ckpt_linear l = linear(UP, N_UP, K_UP, K_UP, k_slid_stated);
    assert_int_equal(ss_ckpt_meta_add_linear(&m, &l), SS_OK);
    return m;
}

/* Writes the small checkpoint to out (from cfg, or copying src_dir), with meta. */
static ss_status write_small(const char *out, const char *src_dir, const ss_ckpt_meta *meta, const small_ckpt *s,
                             const ss_st_spec *specs, int nspecs) {
    ss_model_config cfg;
    assert_int_equal(ss_config_preset("tiny", &cfg), SS_OK);
    ss_ckpt_writer *w;
    SS_TRY(ss_ckpt_writer_begin(&w, out, src_dir, src_dir ? NULL : &cfg, specs, nspecs));
    /* the struct's fields are the tensors' bytes in declaration order */
    const void *parts[] = {s->embed, s->norm, s->up, s->up_scale};
    const size_t sizes[] = {sizeof s->embed, sizeof s->norm, sizeof s->up, sizeof s->up_scale};
    for (int i = 0; i < nspecs; i++) {
        ss_status st = ss_ckpt_writer_append(w, parts[i], sizes[i]);
        if (st != SS_OK) {
            ss_ckpt_writer_abort(w);
            return st;
        }
    }
    return ss_ckpt_writer_finish(w, meta);
}

static int tmp_leftovers(const char *out) {
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    return ss_path_exists(tmp);
}

static void test_write_and_open(void **state) {
    (void)state;
    char out[512];
    root_path("small-INT8", out, sizeof out);
    small_ckpt s;
    make_small(&s);
    ss_ckpt_meta meta = small_meta(K_SLID);
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 4), SS_OK);
    assert_false(tmp_leftovers(out));

    ss_checkpoint c;
    assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
    ss_model_config tiny;
    assert_int_equal(ss_config_preset("tiny", &tiny), SS_OK);
    assert_int_equal(c.cfg.hidden, tiny.hidden);
    assert_int_equal(c.cfg.arch, SS_ARCH_BITNET);
    assert_int_equal(c.cfg.n_kv_heads, 2);
    assert_int_equal(c.meta.quant, SS_QUANT_INT8);
    assert_string_equal(c.meta.source, "test/small");
    assert_string_equal(c.meta.scheme, "absmax");
    assert_string_equal(c.meta.sparsity, "2_8");
    assert_int_equal(c.meta.slid, 1);
    assert_int_equal(c.meta.synthetic, 0);
    const ss_ckpt_linear *l = ss_ckpt_find_linear(&c, UP);
    assert_non_null(l);
    assert_int_equal(l->K_slid, K_SLID);
    assert_null(ss_ckpt_find_linear(&c, "model.norm.weight"));

    const ss_st_tensor *t;
    int64_t up_shape[2] = {N_UP, K_SLID};
    assert_int_equal(ss_ckpt_tensor(&c, UP, SS_DT_I8, 2, up_shape, &t), SS_OK);
    assert_memory_equal(t->data, s.up, sizeof s.up);
    assert_int_equal(ss_ckpt_tensor(&c, UP_SCALE, SS_DT_F32, 1, (int64_t[]){N_UP}, &t), SS_OK);
    assert_memory_equal(t->data, s.up_scale, sizeof s.up_scale);
    assert_int_equal(ss_ckpt_tensor(&c, "model.embed_tokens.weight", SS_DT_BF16, 2, (int64_t[]){EMB_ROWS, HID}, &t),
                     SS_OK);
    assert_memory_equal(t->data, s.embed, sizeof s.embed);
    assert_int_equal(ss_ckpt_tensor(&c, "model.norm.weight", SS_DT_UNKNOWN, 0, NULL, &t), SS_OK);
    assert_memory_equal(t->data, s.norm, sizeof s.norm);
    /* the safetensors metadata transformers expects */
    assert_string_equal(json_string_value(json_object_get(c.st.metadata, "format")), "pt");

    /* mismatch messages name checkpoint, tensor, actual and expected */
    char want[1024];
    int64_t wrong_shape[2] = {N_UP, 16};
    assert_int_equal(ss_ckpt_tensor(&c, UP, SS_DT_I8, 2, wrong_shape, &t), SS_ERR_FORMAT);
    assert_null(t);
    snprintf(want, sizeof want, "%s: tensor '%s' has shape [8,24] dtype I8, expected [8,16] I8", out, UP);
    assert_string_equal(ss_errmsg(), want);
    assert_int_equal(ss_ckpt_tensor(&c, UP, SS_DT_F8_E4M3, 2, up_shape, &t), SS_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: tensor '%s' has shape [8,24] dtype I8, expected [8,24] F8_E4M3", out, UP);
    assert_string_equal(ss_errmsg(), want);
    assert_int_equal(ss_ckpt_tensor(&c, UP, SS_DT_I8, 1, (int64_t[]){N_UP * K_SLID}, &t), SS_ERR_FORMAT);
    assert_msg_has("expected [192] I8");
    assert_int_equal(ss_ckpt_tensor(&c, "lm_head.weight", SS_DT_BF16, 0, NULL, &t), SS_ERR_FORMAT);
    snprintf(want, sizeof want, "%s: no tensor 'lm_head.weight'", out);
    assert_string_equal(ss_errmsg(), want);
    ss_ckpt_close(&c);

    /* writing again over an existing checkpoint replaces it */
    s.up[0] = 99;
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 4), SS_OK);
    assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
    assert_int_equal(((const int8_t *)ss_st_find(&c.st, UP)->data)[0], 99);
    ss_ckpt_close(&c);
    ss_ckpt_meta_free(&meta);
}

static void test_copy_from_source(void **state) {
    (void)state;
    char src[512], out[512], path[700];
    root_path("src-BF16", src, sizeof src);
    root_path("from-src", out, sizeof out);
    assert_int_equal(ss_mkdir_p(src), SS_OK);
    /* a config with a field we do not model must survive verbatim */
    const char *config = "{\"model_type\": \"bitnet\", \"hidden_size\": 512, \"intermediate_size\": 1376,"
                         " \"num_hidden_layers\": 4, \"num_attention_heads\": 8, \"num_key_value_heads\": 2,"
                         " \"vocab_size\": 4096, \"bos_token_id\": 1, \"eos_token_id\": 2, \"custom_field\": \"keep me\"}";
    snprintf(path, sizeof path, "%s/config.json", src);
    write_text(path, config);
    snprintf(path, sizeof path, "%s/tokenizer.json", src);
    write_text(path, "{\"version\": \"1.0\"}");
    snprintf(path, sizeof path, "%s/generation_config.json", src);
    write_text(path, "{\"do_sample\": false}");
    snprintf(path, sizeof path, "%s/model.safetensors", src);
    write_text(path, "stale weights");
    snprintf(path, sizeof path, "%s/slidesparse.json", src);
    write_text(path, "{\"format_version\": 1}");
    snprintf(path, sizeof path, "%s/pytorch_model.bin", src);
    write_text(path, "stale weights");
    snprintf(path, sizeof path, "%s/.download-state", src);
    write_text(path, "x");
    snprintf(path, sizeof path, "%s/original", src);
    assert_int_equal(ss_mkdir_p(path), SS_OK);

    small_ckpt s;
    make_small(&s);
    ss_ckpt_meta meta = small_meta(K_SLID);
    assert_int_equal(write_small(out, src, &meta, &s, g_small_specs, 4), SS_OK);

    char *text;
    snprintf(path, sizeof path, "%s/config.json", out);
    assert_int_equal(ss_read_file(path, &text, NULL), SS_OK);
    assert_string_equal(text, config);
    free(text);
    snprintf(path, sizeof path, "%s/tokenizer.json", out);
    assert_int_equal(ss_read_file(path, &text, NULL), SS_OK);
    assert_string_equal(text, "{\"version\": \"1.0\"}");
    free(text);
    snprintf(path, sizeof path, "%s/generation_config.json", out);
    assert_true(ss_path_exists(path));
    static const char *const absent[] = {"pytorch_model.bin", ".download-state", "original"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", out, absent[i]);
        if (ss_path_exists(path)) fail_msg("%s should not have been copied", absent[i]);
    }
    ss_checkpoint c;
    assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
    assert_int_equal(c.meta.quant, SS_QUANT_INT8); /* ours, not the source's */
    assert_int_equal(c.st.ntensors, 4);
    ss_ckpt_close(&c);
    ss_ckpt_meta_free(&meta);

    /* a source folder without config.json: clean error, nothing left */
    char bad_src[512], bad_out[512];
    root_path("no-config", bad_src, sizeof bad_src);
    root_path("from-no-config", bad_out, sizeof bad_out);
    assert_int_equal(ss_mkdir_p(bad_src), SS_OK);
    ss_ckpt_writer *w;
    assert_int_equal(ss_ckpt_writer_begin(&w, bad_out, bad_src, NULL, g_small_specs, 4), SS_ERR_IO);
    assert_msg_has("config.json");
    assert_false(ss_path_exists(bad_out));
    assert_false(tmp_leftovers(bad_out));
}

static void test_abort_and_failed_finish(void **state) {
    (void)state;
    char out[512];
    root_path("aborted", out, sizeof out);
    ss_model_config cfg;
    assert_int_equal(ss_config_preset("tiny", &cfg), SS_OK);
    small_ckpt s;
    make_small(&s);
    ss_ckpt_writer *w;
    assert_int_equal(ss_ckpt_writer_begin(&w, out, NULL, &cfg, g_small_specs, 4), SS_OK);
    assert_true(tmp_leftovers(out)); /* work happens in the temp folder */
    assert_int_equal(ss_ckpt_writer_append(w, s.embed, sizeof s.embed), SS_OK);
    ss_ckpt_writer_abort(w);
    assert_false(ss_path_exists(out));
    assert_false(tmp_leftovers(out));

    /* finish with a tensor short: error naming it, no folder */
    assert_int_equal(ss_ckpt_writer_begin(&w, out, NULL, &cfg, g_small_specs, 4), SS_OK);
    assert_int_equal(ss_ckpt_writer_append(w, s.embed, sizeof s.embed), SS_OK);
    ss_ckpt_meta meta = small_meta(K_SLID);
    assert_int_equal(ss_ckpt_writer_finish(w, &meta), SS_ERR_ARG);
    assert_msg_has("model.norm.weight");
    assert_false(ss_path_exists(out));
    assert_false(tmp_leftovers(out));
    ss_ckpt_meta_free(&meta);
}

static void test_open_rejects_disagreeing_meta(void **state) {
    (void)state;
    char out[512];
    small_ckpt s;
    make_small(&s);
    ss_checkpoint c;

    /* meta states K_slid 20, the tensor holds 24 columns */
    root_path("bad-shape", out, sizeof out);
    ss_ckpt_meta meta = small_meta(20);
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 4), SS_OK);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_FORMAT);
    assert_msg_has(out);
    assert_msg_has("tensor '" UP "' has shape [8,24] dtype I8, expected [8,20] I8");
    assert_null(c.st.tensors); /* closed on failure */
    ss_ckpt_meta_free(&meta);

    /* quantized, but the weight_scale is missing */
    root_path("no-scale", out, sizeof out);
    meta = small_meta(K_SLID);
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 3), SS_OK);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_FORMAT);
    assert_msg_has("no tensor '" UP_SCALE "'");
    ss_ckpt_meta_free(&meta);

    /* meta says FP8 but the weight is stored as I8 */
    root_path("wrong-dtype", out, sizeof out);
    meta = small_meta(K_SLID);
    meta.quant = SS_QUANT_FP8;
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 4), SS_OK);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_FORMAT);
    assert_msg_has("expected [8,24] F8_E4M3");
    ss_ckpt_meta_free(&meta);

    /* a weight_scale of the wrong dtype */
    root_path("scale-dtype", out, sizeof out);
    ss_st_spec specs[4];
    memcpy(specs, g_small_specs, sizeof specs);
    specs[3].dtype = SS_DT_I32; /* same byte count as F32 */
    meta = small_meta(K_SLID);
    assert_int_equal(write_small(out, NULL, &meta, &s, specs, 4), SS_OK);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_FORMAT);
    assert_msg_has("tensor '" UP_SCALE "' has shape [8] dtype I32, expected [8] F32");
    ss_ckpt_meta_free(&meta);

    /* no config.json */
    char path[700];
    root_path("no-config-ckpt", out, sizeof out);
    meta = small_meta(K_SLID);
    assert_int_equal(write_small(out, NULL, &meta, &s, g_small_specs, 4), SS_OK);
    snprintf(path, sizeof path, "%s/config.json", out);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_IO);
    assert_msg_has(path);
    ss_ckpt_meta_free(&meta);

    /* not a folder */
    root_path("nowhere", out, sizeof out);
    assert_int_equal(ss_ckpt_open(out, &c), SS_ERR_IO);
    assert_msg_has(out);
}

static void test_open_without_meta(void **state) {
    (void)state;
    char out[512];
    root_path("Downloaded-BF16/", out, sizeof out); /* trailing slash on purpose */
    small_ckpt s;
    make_small(&s);
    assert_int_equal(write_small(out, NULL, NULL, &s, g_small_specs, 4), SS_OK);
    ss_checkpoint c;
    assert_int_equal(ss_ckpt_open(out, &c), SS_OK);
    assert_int_equal(c.meta.format_version, 1);
    assert_int_equal(c.meta.quant, SS_QUANT_NONE);
    assert_string_equal(c.meta.source, "Downloaded-BF16");
    assert_int_equal(c.meta.synthetic, 0);
    assert_int_equal(c.meta.n_linear, 0);
    assert_string_equal(c.meta.sparsity, "");
    assert_int_equal(c.st.ntensors, 4);
    ss_ckpt_close(&c);
}

/* transformers' pack_weights layout: byte (r, k) bits 2i..2i+1 = q[i*N/4 + r][k] + 1. */
static void test_bitnet_unpack(void **state) {
    (void)state;
    enum { N = 8, K = 3 };
    int8_t q[N * K], back[N * K];
    uint8_t packed[N / 4 * K] = {0};
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) q[n * K + k] = (int8_t)((n * 7 + k * 5) % 3 - 1);
    for (int i = 0; i < 4; i++)
        for (int r = 0; r < N / 4; r++)
            for (int k = 0; k < K; k++) packed[r * K + k] |= (uint8_t)((q[(i * N / 4 + r) * K + k] + 1) << (2 * i));
    assert_int_equal(ss_bitnet_unpack(packed, N, K, back, "t"), SS_OK);
    assert_memory_equal(back, q, sizeof q);
    /* the example in transformers' unpack_weights docstring: [2, 2] bytes -> [8, 2] */
    const uint8_t ex[4] = {0xa1, 0x18, 0x90, 0x0a};
    int8_t u[16];
    assert_int_equal(ss_bitnet_unpack(ex, 8, 2, u, "doc"), SS_OK);
    const int8_t want[16] = {0, -1, -1, 1, -1, 1, -1, 1, 1, 0, 0, -1, 1, -1, 1, -1};
    assert_memory_equal(u, want, sizeof want);
    /* code 3 is no ternary value; N must split into 4 */
    packed[1] |= 0x30;
    assert_int_equal(ss_bitnet_unpack(packed, N, K, back, "bad"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "bad: packed byte [0, 1] holds the 2-bit code 3"));
    assert_int_equal(ss_bitnet_unpack(packed, 6, K, back, "odd"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "multiple of 4"));
    assert_true(ss_is_block_linear_scale("model.layers.3.mlp.down_proj.weight_scale"));
    assert_false(ss_is_block_linear_scale("model.layers.3.mlp.down_proj.weight"));
    assert_false(ss_is_block_linear_scale("lm_head.weight_scale"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quant_names),
        cmocka_unit_test(test_bitnet_unpack),
        cmocka_unit_test(test_block_linear_names),
        cmocka_unit_test(test_meta_roundtrip),
        cmocka_unit_test(test_meta_load_rules),
        cmocka_unit_test(test_write_and_open),
        cmocka_unit_test(test_copy_from_source),
        cmocka_unit_test(test_abort_and_failed_finish),
        cmocka_unit_test(test_open_rejects_disagreeing_meta),
        cmocka_unit_test(test_open_without_meta),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
