/* The Hugging Face tokenizer (text/tokenizer.h) against the `tokenizers`
 * package: byte-level BPE tokenizers trained with the Llama-3, Qwen2 and
 * GPT-2 configurations and that package's encodings and decodings of a
 * varied UTF-8 corpus (tests/data/tokenizer, make_tokenizer_fixtures.py):
 *  - ids with and without the post-processor's special tokens, byte for byte;
 *  - the decoded text, with and without special tokens; byte-level round trip;
 *  - the legacy "a b" merges form gives the same ids;
 *  - every component or option not implemented is refused by name;
 *  - invalid UTF-8, code points PCRE2 cannot class as tokenizers does, and
 *    unknown ids are errors;
 *  - transformers' add_bos_token / add_eos_token rule;
 *  - a long word without spaces (1 MB) encodes in O(n log n) and round-trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/timer.h"
#include "text/tokenizer.h"

#define OK(expr)                                                                             \
    do {                                                                                     \
        ss_status st_ = (expr);                                                              \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

static char g_tmp[256];

static void fixture(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/tokenizer/%s", getenv("SS_TEST_DATA"), name);
}

static void expect_ids(const json_t *want, const int32_t *got, int64_t n, const char *what, size_t case_no,
                       const char *text) {
    int ok = (size_t)n == json_array_size(want);
    for (int64_t i = 0; ok && i < n; i++) ok = got[i] == json_integer_value(json_array_get(want, (size_t)i));
    if (!ok) {
        fprintf(stderr, "case %zu (%s) %s differ for %.60s\n  want:", case_no, what, "ids", text);
        for (size_t i = 0; i < json_array_size(want); i++)
            fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(want, i)));
        fprintf(stderr, "\n  got: ");
        for (int64_t i = 0; i < n; i++) fprintf(stderr, " %d", got[i]);
        fprintf(stderr, "\n");
        fail();
    }
}

/* Every case of NAME/cases.json through the tokenizer of NAME (or of dir_name). */
static void check_fixture(const char *name, int lossless) {
    char dir[512], cases_path[600];
    fixture(dir, sizeof dir, name);
    snprintf(cases_path, sizeof cases_path, "%s/cases.json", dir);
    ss_tokenizer *tk;
    OK(ss_tokenizer_load(dir, &tk));
    json_error_t err;
    json_t *cases_doc = json_load_file(cases_path, 0, &err);
    assert_non_null(cases_doc);
    const json_t *cases = json_object_get(cases_doc, "cases");
    assert_true(json_array_size(cases) >= 40);
    size_t i, total = 0, refused = 0;
    const json_t *c;
    json_array_foreach(cases, i, c) {
        const json_t *text = json_object_get(c, "text");
        const char *t = json_string_value(text);
        size_t len = json_string_length(text);
        int32_t *ids;
        int64_t n;
        if (json_is_true(json_object_get(c, "refused"))) { /* characters newer than PCRE2's tables */
            assert_int_equal(ss_tokenizer_encode(tk, t, len, 1, &ids, &n), SS_ERR_UNSUPPORTED);
            assert_non_null(strstr(ss_errmsg(), "unassigned in PCRE2's Unicode tables"));
            refused++;
            continue;
        }
        OK(ss_tokenizer_encode(tk, t, len, 1, &ids, &n));
        expect_ids(json_object_get(c, "ids"), ids, n, "with special tokens", i, t);
        total += (size_t)n;
        char *dec;
        size_t dl;
        OK(ss_tokenizer_decode(tk, ids, n, 0, &dec, &dl));
        const json_t *want = json_object_get(c, "decoded");
        if (dl != json_string_length(want) || memcmp(dec, json_string_value(want), dl))
            fail_msg("case %zu: decoded '%s', want '%s'", i, dec, json_string_value(want));
        free(dec);
        OK(ss_tokenizer_decode(tk, ids, n, 1, &dec, &dl));
        want = json_object_get(c, "decoded_skip");
        if (dl != json_string_length(want) || memcmp(dec, json_string_value(want), dl))
            fail_msg("case %zu: decoded without specials '%s', want '%s'", i, dec, json_string_value(want));
        free(dec);
        free(ids);
        OK(ss_tokenizer_encode(tk, t, len, 0, &ids, &n));
        expect_ids(json_object_get(c, "ids_plain"), ids, n, "without special tokens", i, t);
        if (lossless) { /* byte-level BPE without a normalizer loses nothing */
            OK(ss_tokenizer_decode(tk, ids, n, 0, &dec, &dl));
            assert_int_equal(dl, len);
            assert_memory_equal(dec, t, len);
            free(dec);
        }
        free(ids);
    }
    printf("%s: %zu cases, %zu ids, all equal to tokenizers'; %zu refused as they must be\n", name,
           json_array_size(cases) - refused, total, refused);
    assert_true(refused >= 1);
    json_decref(cases_doc);
    ss_tokenizer_free(tk);
}

static void test_llama3(void **state) {
    (void)state;
    check_fixture("llama3", 1);
}
static void test_llama3_legacy_merges(void **state) {
    (void)state;
    check_fixture("llama3-legacy-merges", 1);
}
static void test_qwen2(void **state) {
    (void)state;
    check_fixture("qwen2", 0);
}
static void test_gpt2(void **state) {
    (void)state;
    check_fixture("gpt2", 0);
}

/* ---- refusals ---- */

/* Writes llama3's tokenizer.json with one change made by edit to DIR/NAME/tokenizer.json. */
static void variant(const char *name, void (*edit)(json_t *root), char *dir, size_t cap) {
    char src[512];
    fixture(src, sizeof src, "llama3/tokenizer.json");
    json_error_t err;
    json_t *root = json_load_file(src, 0, &err);
    assert_non_null(root);
    edit(root);
    snprintf(dir, cap, "%s/%s", g_tmp, name);
    OK(ss_mkdir_p(dir));
    char path[700];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
}

static void expect_refused(const char *name, void (*edit)(json_t *root), const char *words) {
    char dir[600];
    variant(name, edit, dir, sizeof dir);
    ss_tokenizer *tk = NULL;
    ss_status st = ss_tokenizer_load(dir, &tk);
    printf("  %-22s -> %s: %s\n", name, ss_status_name(st), ss_errmsg());
    assert_int_equal(st, SS_ERR_UNSUPPORTED);
    assert_null(tk);
    assert_non_null(strstr(ss_errmsg(), words));
}

static json_t *pre(json_t *r, size_t i) { return json_array_get(json_object_get(json_object_get(r, "pre_tokenizer"), "pretokenizers"), i); }
static void e_nfkc(json_t *r) { json_object_set_new(r, "normalizer", json_pack("{s:s}", "type", "NFKC")); }
static void e_lowercase_seq(json_t *r) {
    json_object_set_new(r, "normalizer", json_pack("{s:s,s:[{s:s},{s:s}]}", "type", "Sequence", "normalizers", "type",
                                                   "NFC", "type", "Lowercase"));
}
static void e_whitespace(json_t *r) { json_object_set_new(r, "pre_tokenizer", json_pack("{s:s}", "type", "Whitespace")); }
static void e_metaspace_after(json_t *r) {
    json_array_append_new(json_object_get(json_object_get(r, "pre_tokenizer"), "pretokenizers"),
                          json_pack("{s:s}", "type", "Metaspace"));
}
static void e_merged_prev(json_t *r) { json_object_set_new(pre(r, 0), "behavior", json_string("MergedWithPrevious")); }
static void e_invert(json_t *r) { json_object_set_new(pre(r, 0), "invert", json_true()); }
static void e_word_class(json_t *r) { json_object_set_new(pre(r, 0), "pattern", json_pack("{s:s}", "Regex", "\\w+|\\s+")); }
static void e_posix(json_t *r) { json_object_set_new(pre(r, 0), "pattern", json_pack("{s:s}", "Regex", "[[:alpha:]]+")); }
static void e_dotall(json_t *r) { json_object_set_new(pre(r, 0), "pattern", json_pack("{s:s}", "Regex", "(?m:.+)")); }
static void e_wordpiece(json_t *r) { json_object_set_new(json_object_get(r, "model"), "type", json_string("WordPiece")); }
static void e_dropout(json_t *r) { json_object_set_new(json_object_get(r, "model"), "dropout", json_real(0.1)); }
static void e_suffix(json_t *r) { json_object_set_new(json_object_get(r, "model"), "end_of_word_suffix", json_string("</w>")); }
static void e_metaspace_dec(json_t *r) { json_object_set_new(r, "decoder", json_pack("{s:s}", "type", "Metaspace")); }
static void e_no_decoder(json_t *r) { json_object_set_new(r, "decoder", json_null()); }
static void e_bert_post(json_t *r) { json_object_set_new(r, "post_processor", json_pack("{s:s}", "type", "BertProcessing")); }
static void e_lstrip(json_t *r) { json_object_set_new(json_array_get(json_object_get(r, "added_tokens"), 0), "lstrip", json_true()); }
static void e_truncation(json_t *r) { json_object_set_new(r, "truncation", json_pack("{s:i}", "max_length", 8)); }
static void e_padding(json_t *r) { json_object_set_new(r, "padding", json_pack("{s:s}", "strategy", "BatchLongest")); }
static void e_no_pre(json_t *r) { json_object_set_new(r, "pre_tokenizer", json_null()); }

static void test_refusals(void **state) {
    (void)state;
    expect_refused("nfkc", e_nfkc, "normalizer 'NFKC'");
    expect_refused("lowercase", e_lowercase_seq, "normalizer 'Lowercase'");
    expect_refused("whitespace", e_whitespace, "pre-tokenizer 'Whitespace'");
    expect_refused("metaspace-after", e_metaspace_after, "'Metaspace' after ByteLevel");
    expect_refused("merged-previous", e_merged_prev, "Split behavior 'MergedWithPrevious'");
    expect_refused("invert", e_invert, "invert");
    expect_refused("word-class", e_word_class, "\\w");
    expect_refused("posix-class", e_posix, "POSIX class");
    expect_refused("inline-m", e_dotall, "(?m:");
    expect_refused("wordpiece", e_wordpiece, "model 'WordPiece'");
    expect_refused("dropout", e_dropout, "dropout");
    expect_refused("suffix", e_suffix, "end_of_word_suffix");
    expect_refused("metaspace-decoder", e_metaspace_dec, "decoder 'Metaspace'");
    expect_refused("no-decoder", e_no_decoder, "decoder 'none'");
    expect_refused("bert-post", e_bert_post, "post-processor 'BertProcessing'");
    expect_refused("lstrip", e_lstrip, "lstrip = true");
    expect_refused("truncation", e_truncation, "'truncation'");
    expect_refused("padding", e_padding, "'padding'");
    expect_refused("no-pre-tokenizer", e_no_pre, "no pre-tokenizer");
}

/* ---- bad inputs ---- */

static void test_bad_inputs(void **state) {
    (void)state;
    char dir[512];
    fixture(dir, sizeof dir, "llama3");
    ss_tokenizer *tk, *qw;
    OK(ss_tokenizer_load(dir, &tk));
    fixture(dir, sizeof dir, "qwen2");
    OK(ss_tokenizer_load(dir, &qw));
    int32_t *ids;
    int64_t n;
    const char *bad[] = {"ab\xff", "a\xc3", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong", "\xf4\x90\x80\x80 > U+10FFFF"};
    const size_t at[] = {2, 1, 0, 0, 0};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ss_tokenizer_encode(tk, bad[i], strlen(bad[i]), 1, &ids, &n), SS_ERR_ARG);
        char want[64];
        snprintf(want, sizeof want, "at byte %zu", at[i]);
        assert_non_null(strstr(ss_errmsg(), want));
    }
    /* U+1C89 (Unicode 16) is a letter to tokenizers' Oniguruma but unassigned to PCRE2 here: refused */
    const char *newer = "abc \xe1\xb2\x89 def";
    assert_int_equal(ss_tokenizer_encode(tk, newer, strlen(newer), 1, &ids, &n), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "U+1C89"));
    /* U+0898 (a Unicode 14 combining mark): tokenizers' NFC tables predate it */
    const char *mark = "a\xe0\xa2\x98\xcc\x81";
    OK(ss_tokenizer_encode(tk, mark, strlen(mark), 1, &ids, &n)); /* no normalizer: fine */
    free(ids);
    assert_int_equal(ss_tokenizer_encode(qw, mark, strlen(mark), 1, &ids, &n), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "U+0898"));
    /* embedded NUL is text like any other */
    OK(ss_tokenizer_encode(tk, "a\0b", 3, 0, &ids, &n));
    char *dec;
    size_t dl;
    OK(ss_tokenizer_decode(tk, ids, n, 0, &dec, &dl));
    assert_int_equal(dl, 3);
    assert_memory_equal(dec, "a\0b", 3);
    free(dec), free(ids);
    /* unknown ids */
    int32_t unknown[] = {5, ss_tokenizer_vocab_size(tk)};
    assert_int_equal(ss_tokenizer_decode(tk, unknown, 2, 0, &dec, &dl), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "position 1"));
    unknown[1] = -3;
    assert_int_equal(ss_tokenizer_decode(tk, unknown, 2, 0, &dec, &dl), SS_ERR_ARG);
    /* a lone byte token decodes to U+FFFD (from_utf8_lossy), as tokenizers does */
    OK(ss_tokenizer_encode(tk, "\xc3\xa9", 2, 0, &ids, &n));
    assert_int_equal(n >= 1, 1);
    int32_t byte_ids[2] = {ss_tokenizer_token_id(tk, "\xc3\x83"), ss_tokenizer_token_id(tk, "x")}; /* 'Ã' stands for byte 0xC3 */
    assert_true(byte_ids[0] >= 0 && byte_ids[1] >= 0);
    OK(ss_tokenizer_decode(tk, byte_ids, 2, 0, &dec, &dl));
    assert_int_equal(dl, 4);
    assert_memory_equal(dec, "\xef\xbf\xbdx", 4);
    free(dec), free(ids);
    ss_tokenizer_free(tk);
    ss_tokenizer_free(qw);
    /* missing files */
    assert_int_equal(ss_tokenizer_load("/nonexistent/dir", &tk), SS_ERR_IO);
    assert_null(tk);
}

/* ---- transformers' add_bos_token / add_eos_token ---- */

static void write_config(const char *dir, const char *json) {
    char path[700];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    OK(ss_write_file_atomic(path, json, strlen(json)));
}

static void noop(json_t *r) { (void)r; }

static void test_bos_eos_rule(void **state) {
    (void)state;
    char dir[600];
    variant("bos-rule", noop, dir, sizeof dir);
    ss_tokenizer *tk;
    const int32_t *pre_ids, *suf_ids;
    int np, ns;
    OK(ss_tokenizer_load(dir, &tk)); /* no config: tokenizer.json's template, BOS first */
    ss_tokenizer_special_affixes(tk, &pre_ids, &np, &suf_ids, &ns);
    int32_t bos = ss_tokenizer_token_id(tk, "<|begin_of_text|>"), eos = ss_tokenizer_token_id(tk, "<|end_of_text|>");
    assert_int_equal(np, 1);
    assert_int_equal(pre_ids[0], bos);
    assert_int_equal(ns, 0);
    ss_tokenizer_free(tk);
    write_config(dir, "{\"add_bos_token\": false, \"bos_token\": \"<|begin_of_text|>\"}");
    OK(ss_tokenizer_load(dir, &tk)); /* transformers 5 rebuilds the template: no BOS */
    ss_tokenizer_special_affixes(tk, &pre_ids, &np, &suf_ids, &ns);
    assert_int_equal(np, 0);
    assert_int_equal(ns, 0);
    ss_tokenizer_free(tk);
    write_config(dir, "{\"add_bos_token\": true, \"add_eos_token\": true, \"bos_token\": {\"content\": "
                      "\"<|begin_of_text|>\"}, \"eos_token\": \"<|end_of_text|>\"}");
    OK(ss_tokenizer_load(dir, &tk));
    ss_tokenizer_special_affixes(tk, &pre_ids, &np, &suf_ids, &ns);
    assert_int_equal(np, 1);
    assert_int_equal(pre_ids[0], bos);
    assert_int_equal(ns, 1);
    assert_int_equal(suf_ids[0], eos);
    int32_t *ids;
    int64_t n;
    OK(ss_tokenizer_encode(tk, "hi", 2, 1, &ids, &n));
    assert_true(n >= 3 && ids[0] == bos && ids[n - 1] == eos);
    free(ids);
    ss_tokenizer_free(tk);
    write_config(dir, "{\"add_eos_token\": true, \"eos_token\": \"<|nope|>\"}");
    assert_int_equal(ss_tokenizer_load(dir, &tk), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "<|nope|>"));
}

/* ---- a long word ---- */

static void test_long_word(void **state) {
    (void)state;
    char dir[512];
    fixture(dir, sizeof dir, "llama3");
    ss_tokenizer *tk;
    OK(ss_tokenizer_load(dir, &tk));
    const char *unit = "中华人民共和国成立于一九四九年"; /* letters only: one pre-token */
    size_t ul = strlen(unit), reps = (1u << 20) / ul, len = reps * ul;
    char *text = malloc(len);
    for (size_t i = 0; i < reps; i++) memcpy(text + i * ul, unit, ul);
    int32_t *ids;
    int64_t n;
    double t0 = ss_now();
    OK(ss_tokenizer_encode(tk, text, len, 0, &ids, &n));
    double dt = ss_now() - t0;
    printf("1 MiB word without spaces: %lld ids in %.2f s\n", (long long)n, dt);
    assert_true(dt < 20.0);
    char *dec;
    size_t dl;
    OK(ss_tokenizer_decode(tk, ids, n, 0, &dec, &dl));
    assert_int_equal(dl, len);
    assert_memory_equal(dec, text, len);
    free(dec), free(ids), free(text);
    ss_tokenizer_free(tk);
}

static int setup(void **state) {
    (void)state;
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_tokenizer_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama3),     cmocka_unit_test(test_llama3_legacy_merges),
        cmocka_unit_test(test_qwen2),      cmocka_unit_test(test_gpt2),
        cmocka_unit_test(test_refusals),   cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_bos_eos_rule), cmocka_unit_test(test_long_word),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
