/* config.json: preset parameter counts against the published models, exact
 * save/load round trips, real-style configs of each family, and errors that
 * name the file and field. */
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
#include "io/config.h"

static char g_root[256];

static int setup_root(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/ss_test_config.%ld", (long)getpid());
    ss_rm_rf(g_root);
    return ss_mkdir_p(g_root) == SS_OK ? 0 : -1;
}

static int teardown_root(void **state) {
    (void)state;
    return ss_rm_rf(g_root) == SS_OK ? 0 : -1;
}

/* Writes `text` to g_root/<name> and returns the path in buf. */
static const char *write_json(const char *name, const char *text, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    assert_int_equal(ss_write_file_atomic(buf, text, strlen(text)), SS_OK);
    return buf;
}

static const char *path_of(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    return buf;
}

static void assert_config_equal(const ss_model_config *a, const ss_model_config *b) {
    assert_int_equal(a->arch, b->arch);
    assert_int_equal(a->act, b->act);
    assert_int_equal(a->hidden, b->hidden);
    assert_int_equal(a->intermediate, b->intermediate);
    assert_int_equal(a->n_layers, b->n_layers);
    assert_int_equal(a->n_heads, b->n_heads);
    assert_int_equal(a->n_kv_heads, b->n_kv_heads);
    assert_int_equal(a->head_dim, b->head_dim);
    assert_int_equal(a->vocab, b->vocab);
    assert_int_equal(a->max_pos, b->max_pos);
    assert_true(a->rms_eps == b->rms_eps);
    assert_true(a->rope_theta == b->rope_theta);
    assert_int_equal(a->tie_embeddings, b->tie_embeddings);
    assert_int_equal(a->qkv_bias, b->qkv_bias);
    assert_int_equal(a->sub_norms, b->sub_norms);
    assert_int_equal(a->rope_type, b->rope_type);
    assert_true(a->rope_factor == b->rope_factor);
    assert_true(a->rope_low_freq == b->rope_low_freq);
    assert_true(a->rope_high_freq == b->rope_high_freq);
    assert_int_equal(a->rope_orig_max_pos, b->rope_orig_max_pos);
    assert_true(a->rope_attn_factor == b->rope_attn_factor);
    assert_true(a->rope_beta_fast == b->rope_beta_fast);
    assert_true(a->rope_beta_slow == b->rope_beta_slow);
    assert_true(a->rope_mscale == b->rope_mscale);
    assert_true(a->rope_mscale_all_dim == b->rope_mscale_all_dim);
    assert_int_equal(a->rope_untruncated, b->rope_untruncated);
    assert_int_equal(a->hf_quant, b->hf_quant);
    assert_int_equal(a->bos_id, b->bos_id);
    assert_int_equal(a->eos_id, b->eos_id);
}

static ss_model_config preset(const char *name) {
    ss_model_config c;
    assert_int_equal(ss_config_preset(name, &c), SS_OK);
    return c;
}

/* Published parameter counts (model cards / safetensors totals). */
static void test_preset_param_counts(void **state) {
    (void)state;
    static const struct { const char *name; int64_t params; } want[] = {
        {"llama-3.2-1b", INT64_C(1235814400)},
        {"llama-3.2-3b", INT64_C(3212749824)},
        {"qwen2.5-7b", INT64_C(7615616512)},
        {"qwen2.5-14b", INT64_C(14770033664)},
        {"bitnet-2b", INT64_C(2412820480)},
        /* tiny, by hand: embed 4096*512 = 2097152; per layer q,o 2*512*512 + k,v 2*128*512
         * + mlp 3*512*1376 + norms 2*512 + sub-norms 512+1376 = 2771808; 4 layers + final norm 512 */
        {"tiny", INT64_C(2097152) + 4 * INT64_C(2771808) + 512},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        ss_model_config c = preset(want[i].name);
        if (ss_config_param_count(&c) != want[i].params)
            fail_msg("%s: %lld parameters, expected %lld", want[i].name, (long long)ss_config_param_count(&c),
                     (long long)want[i].params);
    }
}

static void test_preset_shapes(void **state) {
    (void)state;
    const char *const *names = ss_config_preset_names();
    int n = 0;
    for (; names[n]; n++) {
        ss_model_config c;
        assert_int_equal(ss_config_preset(names[n], &c), SS_OK);
        assert_int_equal(ss_config_validate(&c, names[n]), SS_OK);
    }
    assert_int_equal(n, 6);
    ss_model_config b = preset("bitnet-2b");
    assert_int_equal(b.arch, SS_ARCH_BITNET);
    assert_int_equal(b.act, SS_ACT_RELU2);
    assert_int_equal(b.head_dim * b.n_heads, b.hidden);
    assert_int_equal(b.n_kv_heads * b.head_dim, 640); /* qkv N = 2560 + 2*640 = 3840 (SPEC) */
    assert_true(b.sub_norms && b.tie_embeddings && !b.qkv_bias);
    ss_model_config t = preset("tiny");
    assert_int_equal(t.hidden, 512);
    assert_int_equal(t.n_kv_heads, 2);
    assert_int_equal(t.head_dim, 64);
    assert_int_equal(t.vocab, 4096);
    ss_model_config q = preset("qwen2.5-7b");
    assert_true(q.qkv_bias && !q.tie_embeddings && !q.sub_norms);

    ss_model_config c;
    assert_int_equal(ss_config_preset("gpt-5", &c), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "gpt-5"));
    assert_non_null(strstr(ss_errmsg(), "bitnet-2b"));
}

static void test_preset_roundtrip(void **state) {
    (void)state;
    for (const char *const *name = ss_config_preset_names(); *name; name++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s.config.json", g_root, *name);
        ss_model_config c = preset(*name), back;
        assert_int_equal(ss_config_save(path, &c), SS_OK);
        assert_int_equal(ss_config_load(path, &back), SS_OK);
        assert_config_equal(&c, &back);

        /* transformers reads model_type / architectures / hidden_act */
        json_t *j;
        assert_int_equal(ss_json_load(path, &j), SS_OK);
        assert_string_equal(json_string_value(json_object_get(j, "model_type")), ss_arch_name(c.arch));
        const char *arch = json_string_value(json_array_get(json_object_get(j, "architectures"), 0));
        assert_string_equal(arch, c.arch == SS_ARCH_BITNET  ? "BitNetForCausalLM"
                                  : c.arch == SS_ARCH_LLAMA ? "LlamaForCausalLM"
                                                            : "Qwen2ForCausalLM");
        assert_string_equal(json_string_value(json_object_get(j, "hidden_act")), c.act == SS_ACT_RELU2 ? "relu2" : "silu");
        assert_string_equal(json_string_value(json_object_get(j, "torch_dtype")), "bfloat16");
        assert_int_equal(json_is_object(json_object_get(j, "rope_scaling")), c.rope_type != SS_ROPE_DEFAULT);
        json_decref(j);
    }
}

static void test_roundtrip_odd_values(void **state) {
    (void)state;
    char path[512];
    path_of(path, sizeof path, "odd.config.json");
    ss_model_config c = preset("qwen2.5-7b"), back;
    /* every rope type and BitNet's quantization_config survive a round trip */
    c.rope_type = SS_ROPE_YARN;
    c.rope_factor = 4.0;
    c.rope_orig_max_pos = 4096;
    c.rope_attn_factor = 0.9;
    c.rope_beta_fast = 16;
    c.rope_beta_slow = 2;
    c.rope_mscale = 1.0;
    c.rope_mscale_all_dim = 0.5;
    c.rope_untruncated = 1;
    assert_int_equal(ss_config_save(path, &c), SS_OK);
    assert_int_equal(ss_config_load(path, &back), SS_OK);
    assert_config_equal(&c, &back);
    const ss_rope_type simple[] = {SS_ROPE_LINEAR, SS_ROPE_DYNAMIC};
    for (int i = 0; i < 2; i++) {
        ss_model_config d = preset("qwen2.5-7b");
        d.rope_type = simple[i];
        d.rope_factor = 2.5;
        assert_int_equal(ss_config_save(path, &d), SS_OK);
        assert_int_equal(ss_config_load(path, &back), SS_OK);
        assert_config_equal(&d, &back);
    }
    const ss_hf_quant hq[] = {SS_HFQ_BITNET_ONLINE, SS_HFQ_BITNET_PACKED_DIV, SS_HFQ_BITNET_PACKED_MUL};
    for (int i = 0; i < 3; i++) {
        ss_model_config d = preset("tiny");
        d.hf_quant = hq[i];
        assert_int_equal(ss_config_save(path, &d), SS_OK);
        assert_int_equal(ss_config_load(path, &back), SS_OK);
        assert_config_equal(&d, &back);
    }
    c = preset("llama-3.2-1b");
    c.rms_eps = 1.2345678901234567e-5; /* needs 17 digits */
    c.rope_theta = 123456.789;
    c.rope_factor = 8.0 / 3.0;
    c.eos_id = -1; /* none: written as null */
    assert_int_equal(ss_config_save(path, &c), SS_OK);
    assert_int_equal(ss_config_load(path, &back), SS_OK);
    assert_config_equal(&c, &back);

    /* the reference's BitNet variant with SiLU stays SiLU */
    c = preset("tiny");
    c.act = SS_ACT_SILU;
    assert_int_equal(ss_config_save(path, &c), SS_OK);
    assert_int_equal(ss_config_load(path, &back), SS_OK);
    assert_config_equal(&c, &back);

    /* an invalid config is not written */
    c.n_kv_heads = 3;
    snprintf(path, sizeof path, "%s/invalid.config.json", g_root);
    assert_int_equal(ss_config_save(path, &c), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "not a multiple of num_key_value_heads 3"));
    assert_false(ss_path_exists(path));
}

/* ---- real-style config.json files ---- */

static const char *BITNET_2B4T =
    "{\n"
    "  \"architectures\": [\"BitNetForCausalLM\"],\n"
    "  \"auto_map\": {\"AutoConfig\": \"configuration_bitnet.BitNetConfig\",\n"
    "               \"AutoModelForCausalLM\": \"modeling_bitnet.BitNetForCausalLM\"},\n"
    "  \"attention_bias\": false,\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 128000,\n"
    "  \"eos_token_id\": 128001,\n"
    "  \"hidden_act\": \"relu2\",\n"
    "  \"hidden_size\": 2560,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 6912,\n"
    "  \"max_position_embeddings\": 4096,\n"
    "  \"model_type\": \"bitnet\",\n"
    "  \"num_attention_heads\": 20,\n"
    "  \"num_hidden_layers\": 30,\n"
    "  \"num_key_value_heads\": 5,\n"
    "  \"rms_norm_eps\": 1e-05,\n"
    "  \"rope_theta\": 500000.0,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.40.0\",\n"
    "  \"use_cache\": true,\n"
    "  \"vocab_size\": 128256\n"
    "}\n";

/* Llama-3.2-1B-Instruct: eos is a list, llama3 RoPE scaling. */
static const char *LLAMA_32_1B =
    "{\n"
    "  \"architectures\": [\"LlamaForCausalLM\"],\n"
    "  \"attention_bias\": false,\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 128000,\n"
    "  \"eos_token_id\": [128001, 128008, 128009],\n"
    "  \"head_dim\": 64,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 2048,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 8192,\n"
    "  \"max_position_embeddings\": 131072,\n"
    "  \"mlp_bias\": false,\n"
    "  \"model_type\": \"llama\",\n"
    "  \"num_attention_heads\": 32,\n"
    "  \"num_hidden_layers\": 16,\n"
    "  \"num_key_value_heads\": 8,\n"
    "  \"pretraining_tp\": 1,\n"
    "  \"rms_norm_eps\": 1e-05,\n"
    "  \"rope_scaling\": {\n"
    "    \"factor\": 32.0,\n"
    "    \"high_freq_factor\": 4.0,\n"
    "    \"low_freq_factor\": 1.0,\n"
    "    \"original_max_position_embeddings\": 8192,\n"
    "    \"rope_type\": \"llama3\"\n"
    "  },\n"
    "  \"rope_theta\": 500000.0,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.45.0.dev0\",\n"
    "  \"use_cache\": true,\n"
    "  \"vocab_size\": 128256\n"
    "}\n";

static const char *QWEN25_7B =
    "{\n"
    "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151643,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 3584,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 18944,\n"
    "  \"max_position_embeddings\": 131072,\n"
    "  \"max_window_layers\": 28,\n"
    "  \"model_type\": \"qwen2\",\n"
    "  \"num_attention_heads\": 28,\n"
    "  \"num_hidden_layers\": 28,\n"
    "  \"num_key_value_heads\": 4,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_scaling\": null,\n"
    "  \"rope_theta\": 1000000.0,\n"
    "  \"sliding_window\": 131072,\n"
    "  \"tie_word_embeddings\": false,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.43.1\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_mrope\": false,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 152064\n"
    "}\n";

static void test_real_configs(void **state) {
    (void)state;
    char path[512];
    ss_model_config c;

    assert_int_equal(ss_config_load(write_json("bitnet.json", BITNET_2B4T, path, sizeof path), &c), SS_OK);
    ss_model_config want = preset("bitnet-2b");
    assert_config_equal(&c, &want);

    assert_int_equal(ss_config_load(write_json("llama.json", LLAMA_32_1B, path, sizeof path), &c), SS_OK);
    want = preset("llama-3.2-1b");
    assert_config_equal(&c, &want); /* eos = first entry of the list */

    assert_int_equal(ss_config_load(write_json("qwen.json", QWEN25_7B, path, sizeof path), &c), SS_OK);
    want = preset("qwen2.5-7b");
    want.max_pos = 131072; /* the published file says 131072; our preset keeps 32768 */
    assert_config_equal(&c, &want);
}

static void test_family_defaults(void **state) {
    (void)state;
    char path[512];
    ss_model_config c;
    /* Absent fields take the transformers class defaults. */
    const char *llama = "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 512,"
                        " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"vocab_size\": 1000}";
    assert_int_equal(ss_config_load(write_json("llama_min.json", llama, path, sizeof path), &c), SS_OK);
    assert_int_equal(c.arch, SS_ARCH_LLAMA);
    assert_int_equal(c.act, SS_ACT_SILU);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.head_dim, 64);
    assert_int_equal(c.max_pos, 2048);
    assert_true(c.rms_eps == 1e-6);
    assert_true(c.rope_theta == 10000.0);
    assert_int_equal(c.tie_embeddings, 0);
    assert_true(c.rope_factor == 0);
    assert_int_equal(c.bos_id, 1);
    assert_int_equal(c.eos_id, 2);

    const char *qwen = "{\"model_type\": \"qwen2\", \"hidden_size\": 256, \"intermediate_size\": 512,"
                       " \"num_hidden_layers\": 2, \"num_attention_heads\": 64, \"head_dim\": 8,"
                       " \"vocab_size\": 1000, \"bos_token_id\": null}";
    assert_int_equal(ss_config_load(write_json("qwen_min.json", qwen, path, sizeof path), &c), SS_OK);
    assert_int_equal(c.arch, SS_ARCH_QWEN2);
    assert_int_equal(c.qkv_bias, 1);
    assert_int_equal(c.sub_norms, 0);
    assert_int_equal(c.bos_id, -1);
    assert_int_equal(c.eos_id, -1);
    assert_int_equal(c.max_pos, 32768);
    assert_int_equal(c.n_kv_heads, 32); /* Qwen2Config's default, not num_attention_heads */
    assert_int_equal(c.head_dim, 8);
    assert_true(c.rope_theta == 10000.0);

    const char *bitnet = "{\"model_type\": \"bitnet\", \"hidden_size\": 320, \"intermediate_size\": 512,"
                         " \"num_hidden_layers\": 2, \"num_attention_heads\": 10, \"vocab_size\": 130000}";
    assert_int_equal(ss_config_load(write_json("bitnet_min.json", bitnet, path, sizeof path), &c), SS_OK);
    assert_int_equal(c.n_kv_heads, 5); /* BitNetConfig's default */
    assert_int_equal(c.hf_quant, SS_HFQ_NONE);
    assert_int_equal(c.act, SS_ACT_RELU2);
    assert_int_equal(c.sub_norms, 1);
    assert_int_equal(c.tie_embeddings, 0); /* BitNetConfig's default */
    assert_true(c.rope_theta == 500000.0);

    /* num_key_value_heads: null means num_attention_heads in every family */
    const char *kv_null = "{\"model_type\": \"qwen2\", \"hidden_size\": 256, \"intermediate_size\": 512,"
                          " \"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": null,"
                          " \"vocab_size\": 1000, \"hidden_act\": \"swish\"}";
    assert_int_equal(ss_config_load(write_json("kv_null.json", kv_null, path, sizeof path), &c), SS_OK);
    assert_int_equal(c.n_kv_heads, 4);
    assert_int_equal(c.act, SS_ACT_SILU);
}

/* Loads `text` and expects `code` with every given substring in the message. */
static void expect_load_fails(const char *name, const char *text, ss_status code, const char *s1, const char *s2) {
    char path[512];
    ss_model_config c;
    write_json(name, text, path, sizeof path);
    ss_status st = ss_config_load(path, &c);
    if (st != code || !strstr(ss_errmsg(), path) || !strstr(ss_errmsg(), s1) || (s2 && !strstr(ss_errmsg(), s2)))
        fail_msg("%s: got %d '%s', expected %d with '%s'", name, st, ss_errmsg(), code, s1);
}

#define BASE "\"hidden_size\": 256, \"intermediate_size\": 512, \"num_hidden_layers\": 2, \"vocab_size\": 1000"

static void test_config_errors(void **state) {
    (void)state;
    expect_load_fails("gpt2.json", "{\"model_type\": \"gpt2\", " BASE ", \"num_attention_heads\": 4}",
                      SS_ERR_UNSUPPORTED, "model_type 'gpt2'", NULL);
    expect_load_fails("no_type.json", "{" BASE ", \"num_attention_heads\": 4}", SS_ERR_FORMAT, "'model_type'", NULL);
    expect_load_fails("no_hidden.json",
                      "{\"model_type\": \"llama\", \"intermediate_size\": 512, \"num_hidden_layers\": 2,"
                      " \"vocab_size\": 1000, \"num_attention_heads\": 4}",
                      SS_ERR_FORMAT, "missing field 'hidden_size'", NULL);
    expect_load_fails("str_layers.json",
                      "{\"model_type\": \"llama\", \"hidden_size\": 256, \"intermediate_size\": 512,"
                      " \"num_hidden_layers\": \"2\", \"vocab_size\": 1000, \"num_attention_heads\": 4}",
                      SS_ERR_FORMAT, "field 'num_hidden_layers' is not an integer", NULL);
    expect_load_fails("float_heads.json", "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4.5}",
                      SS_ERR_FORMAT, "field 'num_attention_heads' is not an integer", NULL);
    expect_load_fails("float_kv.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2.0}",
                      SS_ERR_FORMAT, "field 'num_key_value_heads' is not an integer", NULL);
    expect_load_fails("neg_hidden.json",
                      "{\"model_type\": \"llama\", \"hidden_size\": -5, \"intermediate_size\": 512,"
                      " \"num_hidden_layers\": 2, \"vocab_size\": 1000, \"num_attention_heads\": 4}",
                      SS_ERR_FORMAT, "'hidden_size' = -5 is out of range", NULL);
    expect_load_fails("str_eps.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"rms_norm_eps\": \"1e-5\"}",
                      SS_ERR_FORMAT, "field 'rms_norm_eps' is not a number", NULL);
    expect_load_fails("kv_heads.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": 3}",
                      SS_ERR_FORMAT, "num_key_value_heads 3", NULL);
    expect_load_fails("llama3_partial.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4,"
                      " \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}",
                      SS_ERR_FORMAT, "rope_scaling", "'low_freq_factor'");
    expect_load_fails("gelu.json", "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"hidden_act\": \"gelu\"}",
                      SS_ERR_UNSUPPORTED, "hidden_act 'gelu'", NULL);
    expect_load_fails("llama_bias.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"attention_bias\": true}",
                      SS_ERR_UNSUPPORTED, "attention_bias", NULL);
    expect_load_fails("sliding.json",
                      "{\"model_type\": \"qwen2\", " BASE ", \"num_attention_heads\": 4, \"use_sliding_window\": true}",
                      SS_ERR_UNSUPPORTED, "use_sliding_window", NULL);
    expect_load_fails("eos_range.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"eos_token_id\": 5000}",
                      SS_ERR_FORMAT, "eos_token_id 5000", NULL);
    expect_load_fails("eos_str.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4, \"eos_token_id\": \"</s>\"}",
                      SS_ERR_FORMAT, "'eos_token_id' is not a token id", NULL);
    expect_load_fails("array.json", "[1, 2]", SS_ERR_FORMAT, "not a JSON object", NULL);
    expect_load_fails("bad.json", "{\"model_type\": \"llama\",", SS_ERR_FORMAT, "bad JSON", NULL);

    ss_model_config c;
    char path[512];
    snprintf(path, sizeof path, "%s/missing/config.json", g_root);
    assert_int_equal(ss_config_load(path, &c), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), path));
}


/* ---- RoPE in both layouts ---- */

/* A minimal config of model_type `type` plus `extra` (JSON members), loaded. */
static ss_status load_with(const char *name, const char *type, const char *extra, ss_model_config *c) {
    char text[2048], path[512];
    snprintf(text, sizeof text,
             "{\"model_type\": \"%s\", " BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
             " \"max_position_embeddings\": 4096, \"bos_token_id\": 1, \"eos_token_id\": 2%s%s}",
             type, extra[0] ? ", " : "", extra);
    return ss_config_load(write_json(name, text, path, sizeof path), c);
}

static ss_model_config load_ok(const char *name, const char *type, const char *extra) {
    ss_model_config c;
    ss_status st = load_with(name, type, extra, &c);
    if (st != SS_OK) fail_msg("%s: %s", name, ss_errmsg());
    return c;
}

/* The same Llama-3.2 file written by transformers 5.x: rope_parameters, no top-level rope_theta. */
static void test_rope_v5_layout(void **state) {
    (void)state;
    char text[4096], path[512];
    const char *from = strstr(LLAMA_32_1B, "  \"rope_scaling\"");
    const char *to = strstr(LLAMA_32_1B, "  \"tie_word_embeddings\"");
    snprintf(text, sizeof text,
             "%.*s  \"rope_parameters\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, \"low_freq_factor\": 1.0,"
             " \"original_max_position_embeddings\": 8192, \"rope_theta\": 500000.0, \"rope_type\": \"llama3\"},\n%s",
             (int)(from - LLAMA_32_1B), LLAMA_32_1B, to);
    ss_model_config c, want = preset("llama-3.2-1b");
    assert_int_equal(ss_config_load(write_json("llama_v5.json", text, path, sizeof path), &c), SS_OK);
    assert_config_equal(&c, &want);

    /* Qwen2 5.x: theta only inside rope_parameters */
    c = load_ok("qwen_v5.json", "qwen2", "\"rope_parameters\": {\"rope_theta\": 1000000.0, \"rope_type\": \"default\"}");
    assert_true(c.rope_theta == 1e6);
    assert_int_equal(c.rope_type, SS_ROPE_DEFAULT);
    /* the dict's theta wins over a top-level one (transformers: setdefault) */
    c = load_ok("qwen_both.json", "qwen2", "\"rope_theta\": 10000.0, \"rope_parameters\": {\"rope_theta\": 2e6}");
    assert_true(c.rope_theta == 2e6);
    /* a non-empty rope_scaling replaces rope_parameters; an empty one does not */
    c = load_ok("scaling_wins.json", "llama",
                "\"rope_theta\": 3e5, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0},"
                " \"rope_parameters\": {\"rope_theta\": 9e5, \"rope_type\": \"default\"}");
    assert_int_equal(c.rope_type, SS_ROPE_LINEAR);
    assert_true(c.rope_theta == 3e5 && c.rope_factor == 2.0);
    c = load_ok("empty_scaling.json", "llama",
                "\"rope_scaling\": {}, \"rope_parameters\": {\"rope_theta\": 9e5, \"rope_type\": \"linear\", \"factor\": 3}");
    assert_int_equal(c.rope_type, SS_ROPE_LINEAR);
    assert_true(c.rope_theta == 9e5 && c.rope_factor == 3.0);
    /* no RoPE keys at all: the class's default_theta */
    assert_true(load_ok("bitnet_theta.json", "bitnet", "").rope_theta == 500000.0);
    assert_true(load_ok("llama_theta.json", "llama", "").rope_theta == 10000.0);
    /* partial_rotary_factor 1 is the whole head: accepted */
    load_ok("prf_one.json", "llama", "\"partial_rotary_factor\": 1.0");
}

static void test_rope_types(void **state) {
    (void)state;
    /* the legacy "type" key, and rope_type winning over it */
    ss_model_config c = load_ok("legacy_type.json", "llama", "\"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 2}");
    assert_int_equal(c.rope_type, SS_ROPE_DYNAMIC);
    assert_true(c.rope_factor == 2.0);
    c = load_ok("both_types.json", "llama",
                "\"rope_scaling\": {\"type\": \"dynamic\", \"rope_type\": \"linear\", \"factor\": 2}");
    assert_int_equal(c.rope_type, SS_ROPE_LINEAR);
    c = load_ok("default_type.json", "qwen2", "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 5e5}");
    assert_int_equal(c.rope_type, SS_ROPE_DEFAULT);
    assert_true(c.rope_factor == 0);

    /* yarn with every key */
    c = load_ok("yarn_full.json", "qwen2",
                "\"rope_parameters\": {\"rope_type\": \"yarn\", \"rope_theta\": 1e6, \"factor\": 4.0,"
                " \"original_max_position_embeddings\": 1024, \"attention_factor\": 0.8, \"beta_fast\": 16,"
                " \"beta_slow\": 2, \"mscale\": 1.0, \"mscale_all_dim\": 0.5, \"truncate\": false}");
    assert_int_equal(c.rope_type, SS_ROPE_YARN);
    assert_true(c.rope_factor == 4.0 && c.rope_theta == 1e6 && c.rope_attn_factor == 0.8);
    assert_true(c.rope_beta_fast == 16 && c.rope_beta_slow == 2 && c.rope_mscale == 1.0 && c.rope_mscale_all_dim == 0.5);
    assert_int_equal(c.rope_orig_max_pos, 1024);
    assert_int_equal(c.rope_untruncated, 1);
    /* yarn (Qwen2.5 style, 4.x): defaults; original_max_position_embeddings from
     * max_position_embeddings when absent; factor null = max / original */
    c = load_ok("yarn_min.json", "qwen2", "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}");
    assert_int_equal(c.rope_orig_max_pos, 4096);
    assert_true(c.rope_attn_factor == 0 && c.rope_beta_fast == 0 && c.rope_mscale == 0);
    assert_int_equal(c.rope_untruncated, 0);
    c = load_ok("yarn_null_factor.json", "qwen2",
                "\"rope_scaling\": {\"type\": \"yarn\", \"factor\": null, \"original_max_position_embeddings\": 1024}");
    assert_true(c.rope_factor == 4.0);
    /* a top-level original_max_position_embeddings wins (transformers' Phi3 rule) */
    c = load_ok("yarn_top_orig.json", "qwen2",
                "\"original_max_position_embeddings\": 512, \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 2.0,"
                " \"original_max_position_embeddings\": 1024}");
    assert_int_equal(c.rope_orig_max_pos, 512);
    /* llama3 without original_max_position_embeddings: max_position_embeddings */
    c = load_ok("llama3_no_orig.json", "llama",
                "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8, \"low_freq_factor\": 1,"
                " \"high_freq_factor\": 4}");
    assert_int_equal(c.rope_type, SS_ROPE_LLAMA3);
    assert_int_equal(c.rope_orig_max_pos, 4096);
}

/* Loads a variant and expects SS_ERR_UNSUPPORTED (exit code 3) naming `key`. */
static void expect_refused(const char *name, const char *type, const char *extra, const char *key) {
    ss_model_config c;
    ss_status st = load_with(name, type, extra, &c);
    if (st != SS_ERR_UNSUPPORTED || !strstr(ss_errmsg(), key) || !strstr(ss_errmsg(), name))
        fail_msg("%s: got %d '%s', expected %d naming '%s'", name, st, ss_errmsg(), SS_ERR_UNSUPPORTED, key);
}

static void test_rope_refused(void **state) {
    (void)state;
    expect_refused("longrope.json", "llama",
                   "\"rope_scaling\": {\"rope_type\": \"longrope\", \"short_factor\": [1], \"long_factor\": [1]}",
                   "rope_type 'longrope'");
    expect_refused("proportional.json", "llama", "\"rope_parameters\": {\"rope_type\": \"proportional\"}",
                   "rope_type 'proportional'");
    expect_refused("su.json", "qwen2", "\"rope_scaling\": {\"type\": \"su\", \"factor\": 2}", "type 'su'");
    expect_refused("per_layer.json", "qwen2",
                   "\"rope_parameters\": {\"full_attention\": {\"rope_type\": \"default\", \"rope_theta\": 1e4}}",
                   "full_attention");
    expect_refused("prf_top.json", "llama", "\"partial_rotary_factor\": 0.5", "partial_rotary_factor");
    expect_refused("prf_dict.json", "llama",
                   "\"rope_parameters\": {\"rope_type\": \"default\", \"partial_rotary_factor\": 0.25}",
                   "partial_rotary_factor");
    expect_refused("unknown_key.json", "llama",
                   "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 2, \"mrope_section\": [1, 2]}",
                   "'mrope_section'");
    expect_refused("llama3_key_in_yarn.json", "llama",
                   "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2, \"low_freq_factor\": 1}",
                   "'low_freq_factor'");
    /* malformed values are format errors (exit code 1) */
    expect_load_fails("factor_missing.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4,"
                      " \"rope_parameters\": {\"rope_type\": \"linear\"}}",
                      SS_ERR_FORMAT, "rope_parameters has no 'factor'", NULL);
    expect_load_fails("factor_zero.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4,"
                      " \"rope_scaling\": {\"type\": \"dynamic\", \"factor\": 0}}",
                      SS_ERR_FORMAT, "'factor' = 0 must be positive", NULL);
    expect_load_fails("theta_neg.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4,"
                      " \"rope_parameters\": {\"rope_theta\": -1}}",
                      SS_ERR_FORMAT, "rope_theta", NULL);
    expect_load_fails("type_num.json",
                      "{\"model_type\": \"llama\", " BASE ", \"num_attention_heads\": 4,"
                      " \"rope_scaling\": {\"rope_type\": 3}}",
                      SS_ERR_FORMAT, "'rope_type' is not a string", NULL);
    expect_load_fails("truncate_str.json",
                      "{\"model_type\": \"qwen2\", " BASE ", \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                      " \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2, \"truncate\": \"no\"}}",
                      SS_ERR_FORMAT, "'truncate' is not a boolean", NULL);
}

/* Keys beyond RoPE that change the forward pass and are not implemented. */
static void test_other_keys_refused(void **state) {
    (void)state;
    expect_refused("llama_bias.json", "llama", "\"attention_bias\": true", "attention_bias");
    expect_refused("bitnet_bias.json", "bitnet", "\"attention_bias\": true", "attention_bias");
    expect_refused("mlp_bias.json", "llama", "\"mlp_bias\": true", "mlp_bias");
    expect_refused("sliding.json", "qwen2", "\"use_sliding_window\": true, \"sliding_window\": 64", "use_sliding_window");
    expect_refused("layer_types.json", "qwen2", "\"layer_types\": [\"full_attention\", \"sliding_attention\"]",
                   "layer_types[1]");
    expect_refused("gelu.json", "llama", "\"hidden_act\": \"gelu\"", "hidden_act 'gelu'");
    expect_refused("relu2_llama.json", "llama", "\"hidden_act\": \"relu2\"", "hidden_act 'relu2'");
    expect_refused("gptq.json", "llama", "\"quantization_config\": {\"quant_method\": \"gptq\", \"bits\": 4}",
                   "quant_method 'gptq'");
    expect_refused("fp8.json", "qwen2", "\"quantization_config\": {\"quant_method\": \"fp8\"}", "quant_method 'fp8'");
    expect_refused("bitnet_llama.json", "llama", "\"quantization_config\": {\"quant_method\": \"bitnet\"}",
                   "model_type bitnet only");
    expect_refused("bitnet_rmsnorm.json", "bitnet",
                   "\"quantization_config\": {\"quant_method\": \"bitnet\", \"use_rms_norm\": true}", "use_rms_norm");
    expect_refused("bitnet_skip_none.json", "bitnet",
                   "\"quantization_config\": {\"quant_method\": \"bitnet\", \"modules_to_not_convert\": []}",
                   "modules_to_not_convert");
    expect_refused("bitnet_skip_layer.json", "bitnet",
                   "\"quantization_config\": {\"quant_method\": \"bitnet\", \"modules_to_not_convert\":"
                   " [\"lm_head\", \"model.layers.0\"]}",
                   "model.layers.0");
    expect_refused("bitnet_class.json", "bitnet",
                   "\"quantization_config\": {\"quant_method\": \"bitnet\", \"linear_class\": \"ternarylinear\"}",
                   "linear_class");
    /* keys the transformers classes ignore load (and change nothing) */
    ss_model_config c = load_ok("qwen_ignored.json", "qwen2",
                                "\"attention_bias\": false, \"sliding_window\": 4096, \"max_window_layers\": 28,"
                                " \"use_sliding_window\": false, \"layer_types\": [\"full_attention\", \"full_attention\"],"
                                " \"pretraining_tp\": 1, \"attention_dropout\": 0.1");
    assert_int_equal(c.qkv_bias, 1);
}

static void test_quantization_config(void **state) {
    (void)state;
    ss_model_config c = load_ok("bitnet_online.json", "bitnet",
                                "\"quantization_config\": {\"quant_method\": \"bitnet\", \"linear_class\":"
                                " \"autobitlinear\", \"quantization_mode\": \"online\"}");
    assert_int_equal(c.hf_quant, SS_HFQ_BITNET_ONLINE);
    /* microsoft/bitnet-b1.58-2B-4T: bitlinear, offline (also the defaults) */
    c = load_ok("bitnet_packed.json", "bitnet",
                "\"quantization_config\": {\"quant_method\": \"bitnet\", \"linear_class\": \"bitlinear\","
                " \"quantization_mode\": \"offline\", \"use_rms_norm\": false, \"rms_norm_eps\": 1e-6,"
                " \"modules_to_not_convert\": [\"lm_head$\"]}");
    assert_int_equal(c.hf_quant, SS_HFQ_BITNET_PACKED_DIV);
    c = load_ok("bitnet_defaults.json", "bitnet", "\"quantization_config\": {\"quant_method\": \"bitnet\"}");
    assert_int_equal(c.hf_quant, SS_HFQ_BITNET_PACKED_DIV);
    c = load_ok("bitnet_auto_offline.json", "bitnet",
                "\"quantization_config\": {\"quant_method\": \"bitnet\", \"linear_class\": \"autobitlinear\","
                " \"modules_to_not_convert\": [\"lm_head\"]}");
    assert_int_equal(c.hf_quant, SS_HFQ_BITNET_PACKED_MUL);
    c = load_ok("quant_null.json", "bitnet", "\"quantization_config\": null");
    assert_int_equal(c.hf_quant, SS_HFQ_NONE);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preset_param_counts), cmocka_unit_test(test_preset_shapes),
        cmocka_unit_test(test_preset_roundtrip),    cmocka_unit_test(test_roundtrip_odd_values),
        cmocka_unit_test(test_real_configs),        cmocka_unit_test(test_family_defaults),
        cmocka_unit_test(test_config_errors),       cmocka_unit_test(test_rope_v5_layout),
        cmocka_unit_test(test_rope_types),          cmocka_unit_test(test_rope_refused),
        cmocka_unit_test(test_other_keys_refused),  cmocka_unit_test(test_quantization_config),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
