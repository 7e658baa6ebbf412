/* safetensors: write/read round trips of every dtype we use, metadata,
 * appends spanning tensors, sharding through the index; a suite of corrupt
 * files, each rejected with its own message; writer failures leave nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "io/safetensors.h"

static char g_root[256]; /* per-run scratch folder under /tmp */

static int setup_root(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/ss_test_safetensors.%ld", (long)getpid());
    ss_rm_rf(g_root);
    return ss_mkdir_p(g_root) == SS_OK ? 0 : -1;
}

static int teardown_root(void **state) {
    (void)state;
    return ss_rm_rf(g_root) == SS_OK ? 0 : -1;
}

/* A fresh, empty folder g_root/<name>. */
static const char *fresh_dir(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", g_root, name);
    assert_int_equal(ss_rm_rf(buf), SS_OK);
    assert_int_equal(ss_mkdir_p(buf), SS_OK);
    return buf;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void fill_bytes(uint8_t *p, size_t n, uint32_t seed) {
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

static uint64_t spec_bytes(const ss_st_spec *s) {
    uint64_t n = ss_dtype_size(s->dtype);
    for (int d = 0; d < s->ndim; d++) n *= (uint64_t)s->shape[d];
    return n;
}

/* Declaration order puts an odd-sized I8 tensor first, so every later tensor
 * starts misaligned for its element type: the reader must hand out aligned
 * copies (UBSan checks the typed loads below). */
static const ss_st_spec g_specs[] = {
    {"odd.i8", SS_DT_I8, 1, {7}},
    {"w.bf16", SS_DT_BF16, 2, {3, 5}},
    {"w.f16", SS_DT_F16, 1, {4}},
    {"w.f32", SS_DT_F32, 2, {2, 3}},
    {"w.fp8", SS_DT_F8_E4M3, 2, {5, 2}},
    {"ids.i64", SS_DT_I64, 1, {3}},
    {"scalar.f32", SS_DT_F32, 0, {0}},
    {"empty.bf16", SS_DT_BF16, 2, {0, 4}},
    {"a.after_empty", SS_DT_F32, 1, {2}},
};
#define N_SPECS ((int)(sizeof g_specs / sizeof g_specs[0]))

/* All tensors' bytes, concatenated in declaration order. */
static uint8_t *make_payload(const ss_st_spec *specs, int n, size_t *total) {
    size_t t = 0;
    for (int i = 0; i < n; i++) t += spec_bytes(&specs[i]);
    uint8_t *p = malloc(t ? t : 1);
    assert_non_null(p);
    fill_bytes(p, t, 7);
    *total = t;
    return p;
}

/* Appends `payload` in pieces of `chunk` bytes, crossing tensor boundaries. */
static void append_chunks(ss_st_writer *w, const uint8_t *payload, size_t total, size_t chunk) {
    for (size_t off = 0; off < total; off += chunk) {
        size_t n = total - off < chunk ? total - off : chunk;
        assert_int_equal(ss_st_writer_append(w, payload + off, n), SS_OK);
    }
}

static void check_tensors(const ss_tensors *t, const ss_st_spec *specs, int n, const uint8_t *payload) {
    assert_int_equal(t->ntensors, n);
    for (int i = 1; i < t->ntensors; i++) assert_true(strcmp(t->tensors[i - 1].name, t->tensors[i].name) < 0);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const ss_st_tensor *x = ss_st_find(t, specs[i].name);
        assert_non_null(x);
        assert_string_equal(x->name, specs[i].name);
        assert_int_equal(x->dtype, specs[i].dtype);
        assert_int_equal(x->ndim, specs[i].ndim);
        for (int d = 0; d < x->ndim; d++) assert_int_equal(x->shape[d], specs[i].shape[d]);
        uint64_t nb = spec_bytes(&specs[i]);
        assert_int_equal(x->nbytes, nb);
        if (nb) {
            assert_int_equal((uintptr_t)x->data % ss_dtype_size(x->dtype), 0);
            assert_memory_equal(x->data, payload + off, nb);
        }
        off += nb;
    }
    assert_null(ss_st_find(t, "no.such.tensor"));
}

static void test_roundtrip_all_dtypes(void **state) {
    (void)state;
    char dir[512];
    fresh_dir("roundtrip", dir, sizeof dir);
    size_t total;
    uint8_t *payload = make_payload(g_specs, N_SPECS, &total);
    ss_st_writer *w;
    assert_int_equal(ss_st_writer_begin(&w, dir, g_specs, N_SPECS, 0, NULL), SS_OK);
    append_chunks(w, payload, total, 3); /* 3-byte pieces straddle every boundary */
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    assert_int_equal(count_entries(dir), 1); /* model.safetensors, no temp file, no index */

    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    /* The header is space-padded so the data section starts 8-aligned. */
    char *raw;
    size_t rawn;
    assert_int_equal(ss_read_file(path, &raw, &rawn), SS_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | (uint8_t)raw[i];
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(rawn, 8 + hlen + total);
    free(raw);

    ss_tensors t;
    assert_int_equal(ss_st_open_file(path, &t), SS_OK);
    check_tensors(&t, g_specs, N_SPECS, payload);
    assert_true(t.ncopies > 0); /* misaligned tensors were copied */
    assert_null(t.metadata);
    const ss_st_tensor *s = ss_st_find(&t, "scalar.f32");
    assert_int_equal(ss_st_numel(s), 1);
    assert_int_equal(ss_st_numel(ss_st_find(&t, "empty.bf16")), 0);
    /* typed access through the returned pointer (aligned, so UBSan-clean) */
    const float *f = ss_st_find(&t, "w.f32")->data;
    float want;
    size_t off = 0;
    for (int i = 0; i < 3; i++) off += spec_bytes(&g_specs[i]);
    memcpy(&want, payload + off + 4, 4);
    assert_memory_equal(&f[1], &want, 4);
    ss_st_close(&t);

    /* the same through ss_st_open_dir */
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    check_tensors(&t, g_specs, N_SPECS, payload);
    ss_st_close(&t);
    free(payload);
}

static void test_large_append_and_no_tensors(void **state) {
    (void)state;
    char dir[512];
    fresh_dir("large", dir, sizeof dir);
    ss_st_spec specs[] = {{"big", SS_DT_BF16, 2, {1024, 1536}}, {"small", SS_DT_F32, 1, {5}}};
    size_t total;
    uint8_t *payload = make_payload(specs, 2, &total);
    ss_st_writer *w;
    assert_int_equal(ss_st_writer_begin(&w, dir, specs, 2, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_append(w, payload, total), SS_OK); /* one call covers both tensors */
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    ss_tensors t;
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    check_tensors(&t, specs, 2, payload);
    assert_int_equal(t.ncopies, 0); /* 8-aligned data section, even-sized first tensor */
    ss_st_close(&t);
    free(payload);

    /* a file with no tensors at all is valid */
    fresh_dir("none", dir, sizeof dir);
    assert_int_equal(ss_st_writer_begin(&w, dir, NULL, 0, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    assert_int_equal(t.ntensors, 0);
    assert_null(ss_st_find(&t, "x"));
    ss_st_close(&t);
}

static void test_metadata_roundtrip(void **state) {
    (void)state;
    char dir[512];
    fresh_dir("meta", dir, sizeof dir);
    json_t *meta = json_pack("{s:s, s:s}", "format", "pt", "note", "synthetic: seed 7");
    ss_st_spec spec = {"x", SS_DT_F32, 1, {2}};
    float data[2] = {1.5f, -2.0f};
    ss_st_writer *w;
    assert_int_equal(ss_st_writer_begin(&w, dir, &spec, 1, 0, meta), SS_OK);
    assert_int_equal(ss_st_writer_append(w, data, sizeof data), SS_OK);
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    ss_tensors t;
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    assert_non_null(t.metadata);
    assert_true(json_equal(t.metadata, meta));
    assert_int_equal(t.ntensors, 1);
    ss_st_close(&t);
    json_decref(meta);

    /* metadata values must be strings */
    json_t *bad = json_pack("{s:i}", "n", 3);
    fresh_dir("meta_bad", dir, sizeof dir);
    assert_int_equal(ss_st_writer_begin(&w, dir, &spec, 1, 0, bad), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'n'"));
    assert_null(w);
    assert_int_equal(count_entries(dir), 0);
    json_decref(bad);
}

static void test_sharded_write_read(void **state) {
    (void)state;
    char dir[512];
    fresh_dir("sharded", dir, sizeof dir);
    ss_st_spec specs[5];
    char names[5][32];
    for (int i = 0; i < 5; i++) {
        snprintf(names[i], sizeof names[i], "layer.%d.weight", i);
        specs[i] = (ss_st_spec){names[i], SS_DT_BF16, 2, {5, 10}}; /* 100 bytes each */
    }
    size_t total;
    uint8_t *payload = make_payload(specs, 5, &total);
    json_t *meta = json_pack("{s:s}", "format", "pt");
    ss_st_writer *w;
    /* 250-byte shards: [0,1] [2,3] [4] */
    assert_int_equal(ss_st_writer_begin(&w, dir, specs, 5, 250, meta), SS_OK);
    append_chunks(w, payload, total, 64);
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    assert_int_equal(count_entries(dir), 4); /* 3 shards + index */
    char path[600];
    for (int s = 1; s <= 3; s++) {
        snprintf(path, sizeof path, "%s/model-%05d-of-00003.safetensors", dir, s);
        assert_true(ss_path_exists(path));
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_false(ss_path_exists(path));

    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    json_t *index;
    assert_int_equal(ss_json_load(path, &index), SS_OK);
    int64_t total_size = 0;
    assert_int_equal(ss_json_int(json_object_get(index, "metadata"), "total_size", "index", &total_size), SS_OK);
    assert_int_equal(total_size, 500);
    const json_t *map = json_object_get(index, "weight_map");
    assert_int_equal(json_object_size(map), 5);
    assert_string_equal(json_string_value(json_object_get(map, "layer.1.weight")), "model-00001-of-00003.safetensors");
    assert_string_equal(json_string_value(json_object_get(map, "layer.2.weight")), "model-00002-of-00003.safetensors");
    assert_string_equal(json_string_value(json_object_get(map, "layer.4.weight")), "model-00003-of-00003.safetensors");
    json_decref(index);

    ss_tensors t;
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    assert_int_equal(t.nfiles, 3);
    check_tensors(&t, specs, 5, payload);
    assert_true(json_equal(t.metadata, meta));
    const char *shard = t.files[ss_st_find(&t, "layer.4.weight")->file].path;
    assert_non_null(strstr(shard, "/model-00003-of-00003.safetensors"));
    ss_st_close(&t);
    json_decref(meta);
    free(payload);
}

static void test_open_dir_single_other_name(void **state) {
    (void)state;
    char dir[512], path[600];
    fresh_dir("other_name", dir, sizeof dir);
    ss_st_spec spec = {"x", SS_DT_I8, 1, {4}};
    ss_st_writer *w;
    assert_int_equal(ss_st_writer_begin(&w, dir, &spec, 1, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_append(w, "abcd", 4), SS_OK);
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    char from[600];
    snprintf(from, sizeof from, "%s/model.safetensors", dir);
    snprintf(path, sizeof path, "%s/weights.safetensors", dir);
    assert_int_equal(rename(from, path), 0);
    ss_tensors t;
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    assert_memory_equal(ss_st_find(&t, "x")->data, "abcd", 4);
    ss_st_close(&t);

    /* two candidates and no index: ambiguous */
    snprintf(from, sizeof from, "%s/second.safetensors", dir);
    assert_int_equal(ss_copy_file(path, from), SS_OK);
    assert_int_equal(ss_st_open_dir(dir, &t), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "no model.safetensors.index.json"));

    fresh_dir("empty_dir", dir, sizeof dir);
    assert_int_equal(ss_st_open_dir(dir, &t), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), dir));
}

/* ---- corrupt files ---- */

/* Writes <u64 header_len><header><data_len bytes of data> (header_len may lie). */
static void write_raw(const char *path, uint64_t header_len, const char *header, size_t data_len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    uint8_t le[8];
    for (int i = 0; i < 8; i++) le[i] = (uint8_t)(header_len >> (8 * i));
    assert_int_equal(fwrite(le, 1, 8, fp), 8);
    size_t hl = strlen(header);
    assert_int_equal(fwrite(header, 1, hl, fp), hl);
    for (size_t i = 0; i < data_len; i++) fputc((int)(i & 0xff), fp);
    fclose(fp);
}

static void write_file(const char *path, const char *header, size_t data_len) {
    write_raw(path, strlen(header), header, data_len);
}

static void expect_open_fails(const char *path, ss_status code, const char *substr) {
    ss_tensors t;
    memset(&t, 0xab, sizeof t);
    ss_status st = ss_st_open_file(path, &t);
    if (st != code || !strstr(ss_errmsg(), substr) || !strstr(ss_errmsg(), path))
        fail_msg("%s: got status %d message '%s', expected %d containing '%s'", path, st, ss_errmsg(), code, substr);
    assert_int_equal(t.ntensors, 0); /* the table is left empty, nothing to close */
    assert_null(t.tensors);
}

typedef struct corrupt_case {
    const char *name;
    const char *header;
    size_t data_len;
    const char *expect;
} corrupt_case;

static void test_corrupt_headers(void **state) {
    (void)state;
    static const corrupt_case cases[] = {
        {"bad_json", "{\"a\": {\"dtype\": ", 0, "not valid JSON"},
        {"duplicate_key",
         "{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"I8\",\"shape\":[1],"
         "\"data_offsets\":[0,1]}}",
         1, "duplicate"},
        {"not_object", "[1, 2, 3]", 0, "header is not a JSON object"},
        {"entry_not_object", "{\"a\": 5}", 0, "tensor 'a': entry is not a JSON object"},
        {"unknown_dtype", "{\"a\":{\"dtype\":\"X99\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
         "tensor 'a': unknown dtype 'X99'"},
        {"missing_dtype", "{\"a\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'a': missing or non-string 'dtype'"},
        {"negative_dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4,
         "tensor 'a': dimension 0 is not a non-negative integer"},
        {"float_dim", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4,
         "tensor 'a': dimension 0 is not a non-negative integer"},
        {"too_many_dims", "{\"a\":{\"dtype\":\"I8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1,
         "tensor 'a': 9 dimensions"},
        {"shape_overflow",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         "tensor 'a': shape overflows"},
        {"shape_length_mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,40]}}", 40,
         "tensor 'w': shape [3,4] x F32 = 48 bytes but data_offsets span 40"},
        {"offsets_not_pair", "{\"a\":{\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
         "tensor 'a': 'data_offsets' is not [begin, end]"},
        {"offsets_reversed", "{\"a\":{\"dtype\":\"I8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4,
         "tensor 'a': data_offsets [4, 0] end before begin"},
        {"offsets_out_of_bounds", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
         "tensor 'a': data_offsets [0, 16] past the data section (8 bytes)"},
        {"overlap",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensor 'b' (bytes 4..12) overlaps tensor 'a'"},
        {"hole",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "hole of 4 bytes before tensor 'b'"},
        {"hole_at_start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
         "hole of 4 bytes before tensor 'a'"},
        {"trailing_bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
         "tensors cover 4 bytes but the data section holds 8"},
        {"metadata_not_object", "{\"__metadata__\": [1]}", 0, "'__metadata__' is not a JSON object"},
        {"metadata_not_string", "{\"__metadata__\": {\"format\": 1}}", 0, "'__metadata__' value 'format' is not a string"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s.safetensors", g_root, cases[i].name);
        write_file(path, cases[i].header, cases[i].data_len);
        expect_open_fails(path, SS_ERR_FORMAT, cases[i].expect);
    }
}

static void test_corrupt_lengths(void **state) {
    (void)state;
    char path[600];
    /* shorter than the 8-byte length field */
    snprintf(path, sizeof path, "%s/truncated.safetensors", g_root);
    assert_int_equal(ss_write_file_atomic(path, "abcde", 5), SS_OK);
    expect_open_fails(path, SS_ERR_FORMAT, "file is 5 bytes, too short");
    assert_int_equal(ss_write_file_atomic(path, "", 0), SS_OK);
    expect_open_fails(path, SS_ERR_FORMAT, "file is 0 bytes");

    /* header length runs past the end of the file */
    snprintf(path, sizeof path, "%s/past_end.safetensors", g_root);
    write_raw(path, 100, "{}", 0);
    expect_open_fails(path, SS_ERR_FORMAT, "header length 100 runs past the end of the 10-byte file");

    /* header length above the limit (the file need not be that big) */
    snprintf(path, sizeof path, "%s/huge_header.safetensors", g_root);
    write_raw(path, (uint64_t)SS_ST_MAX_HEADER + 1, "{}", 0);
    expect_open_fails(path, SS_ERR_FORMAT, "exceeds the");
    write_raw(path, UINT64_MAX, "{}", 0);
    expect_open_fails(path, SS_ERR_FORMAT, "exceeds the");

    /* a valid file cut short: the data section no longer matches */
    char dir[512];
    fresh_dir("cut", dir, sizeof dir);
    ss_st_spec spec = {"x", SS_DT_F32, 1, {16}};
    float data[16] = {0};
    ss_st_writer *w;
    assert_int_equal(ss_st_writer_begin(&w, dir, &spec, 1, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_append(w, data, sizeof data), SS_OK);
    assert_int_equal(ss_st_writer_finish(w), SS_OK);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(truncate(path, ss_file_size(path) - 10), 0);
    expect_open_fails(path, SS_ERR_FORMAT, "tensor 'x': data_offsets [0, 64] past the data section (54 bytes)");

    /* missing file */
    snprintf(path, sizeof path, "%s/does_not_exist.safetensors", g_root);
    expect_open_fails(path, SS_ERR_IO, "cannot open");
}

/* ---- index problems ---- */

static void write_index(const char *dir, const char *weight_map_json) {
    char path[600], text[1024];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    snprintf(text, sizeof text, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": %s}", weight_map_json);
    assert_int_equal(ss_write_file_atomic(path, text, strlen(text)), SS_OK);
}

static void write_shard(const char *dir, const char *file, const char *tensor) {
    char path[600], header[256];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(header, sizeof header, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", tensor);
    write_file(path, header, 8);
}

static void expect_dir_fails(const char *dir, ss_status code, const char *s1, const char *s2) {
    ss_tensors t;
    ss_status st = ss_st_open_dir(dir, &t);
    if (st != code || !strstr(ss_errmsg(), s1) || (s2 && !strstr(ss_errmsg(), s2)))
        fail_msg("%s: got status %d message '%s', expected %d containing '%s'", dir, st, ss_errmsg(), code, s1);
    assert_int_equal(t.ntensors, 0);
    assert_int_equal(t.nfiles, 0);
}

static void test_index_errors(void **state) {
    (void)state;
    char dir[512];
    ss_tensors t;

    fresh_dir("idx_ok", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_shard(dir, "s2.safetensors", "b");
    write_index(dir, "{\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}");
    assert_int_equal(ss_st_open_dir(dir, &t), SS_OK);
    assert_int_equal(t.nfiles, 2);
    assert_int_equal(t.ntensors, 2);
    assert_string_equal(t.files[ss_st_find(&t, "b")->file].path + strlen(dir), "/s2.safetensors");
    ss_st_close(&t);

    fresh_dir("idx_missing_shard", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_index(dir, "{\"a\": \"s1.safetensors\", \"b\": \"s9.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_IO, "s9.safetensors (holding tensor 'b') is missing", NULL);

    fresh_dir("idx_missing_tensor", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_index(dir, "{\"a\": \"s1.safetensors\", \"b\": \"s1.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "tensor 'b' is listed in", "s1.safetensors");

    fresh_dir("idx_wrong_shard", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_shard(dir, "s2.safetensors", "b");
    write_index(dir, "{\"a\": \"s2.safetensors\", \"b\": \"s2.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "tensor 'a' is listed in", "missing from");

    fresh_dir("idx_duplicate", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_shard(dir, "s2.safetensors", "a");
    write_index(dir, "{\"a\": \"s1.safetensors\", \"x\": \"s2.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "tensor 'a' is present in both", "s2.safetensors");

    fresh_dir("idx_unlisted", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    write_shard(dir, "s2.safetensors", "b");
    write_index(dir, "{\"a\": \"s1.safetensors\", \"c\": \"s2.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "tensor 'c' is listed in", NULL);

    /* a shard holding a tensor the index does not list */
    fresh_dir("idx_extra", dir, sizeof dir);
    char path[600];
    snprintf(path, sizeof path, "%s/s1.safetensors", dir);
    write_file(path,
               "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"extra\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
               16);
    write_index(dir, "{\"a\": \"s1.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "tensor 'extra' of", "is not listed in");

    fresh_dir("idx_corrupt_shard", dir, sizeof dir);
    write_shard(dir, "s1.safetensors", "a");
    snprintf(path, sizeof path, "%s/s2.safetensors", dir);
    write_file(path, "{\"b\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    write_index(dir, "{\"a\": \"s1.safetensors\", \"b\": \"s2.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "s2.safetensors: tensor 'b': unknown dtype 'Q4'", NULL);

    fresh_dir("idx_escape", dir, sizeof dir);
    write_index(dir, "{\"a\": \"../x.safetensors\"}");
    expect_dir_fails(dir, SS_ERR_FORMAT, "outside the folder", NULL);

    fresh_dir("idx_no_map", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    assert_int_equal(ss_write_file_atomic(path, "{\"metadata\": {}}", 16), SS_OK);
    expect_dir_fails(dir, SS_ERR_FORMAT, "missing or non-object 'weight_map'", NULL);
}

/* ---- writer failures leave nothing behind ---- */

static void test_writer_failures(void **state) {
    (void)state;
    char dir[512];
    ss_st_spec specs[] = {{"a", SS_DT_F32, 1, {4}}, {"b", SS_DT_BF16, 1, {3}}};
    uint8_t bytes[64] = {0};
    ss_st_writer *w;

    /* finish with bytes missing */
    fresh_dir("w_short", dir, sizeof dir);
    assert_int_equal(ss_st_writer_begin(&w, dir, specs, 2, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_append(w, bytes, 16 + 4), SS_OK);
    assert_int_equal(ss_st_writer_finish(w), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "tensor 'b' got 4 of its 6 bytes"));
    assert_int_equal(count_entries(dir), 0);

    /* appending past the end */
    fresh_dir("w_long", dir, sizeof dir);
    assert_int_equal(ss_st_writer_begin(&w, dir, specs, 2, 0, NULL), SS_OK);
    assert_int_equal(ss_st_writer_append(w, bytes, 23), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "past the last declared tensor"));
    assert_int_equal(ss_st_writer_append(w, bytes, 1), SS_ERR_IO); /* stays failed */
    assert_int_equal(ss_st_writer_finish(w), SS_ERR_IO);
    assert_int_equal(count_entries(dir), 0);

    /* abort of a sharded write in progress */
    fresh_dir("w_abort", dir, sizeof dir);
    assert_int_equal(ss_st_writer_begin(&w, dir, specs, 2, 8, NULL), SS_OK);
    assert_int_equal(count_entries(dir), 4); /* two temp shards and their owner locks exist while writing */
    assert_int_equal(ss_st_writer_append(w, bytes, 10), SS_OK);
    ss_st_writer_abort(w);
    assert_int_equal(count_entries(dir), 0);

    /* a folder that does not exist */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such/folder", g_root);
    assert_int_equal(ss_st_writer_begin(&w, missing, specs, 2, 0, NULL), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "no/such/folder"));
    assert_null(w);
    assert_false(ss_path_exists(missing));

    /* bad declarations */
    fresh_dir("w_bad", dir, sizeof dir);
    ss_st_spec dup[] = {{"a", SS_DT_F32, 1, {4}}, {"a", SS_DT_F32, 1, {4}}};
    assert_int_equal(ss_st_writer_begin(&w, dir, dup, 2, 0, NULL), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'a' declared twice"));
    ss_st_spec neg = {"n", SS_DT_F32, 2, {4, -1}};
    assert_int_equal(ss_st_writer_begin(&w, dir, &neg, 1, 0, NULL), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'n' dimension 1 is negative"));
    ss_st_spec nodt = {"u", SS_DT_UNKNOWN, 1, {4}};
    assert_int_equal(ss_st_writer_begin(&w, dir, &nodt, 1, 0, NULL), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'u' has no valid dtype"));
    ss_st_spec reserved = {"__metadata__", SS_DT_F32, 1, {4}};
    assert_int_equal(ss_st_writer_begin(&w, dir, &reserved, 1, 0, NULL), SS_ERR_ARG);
    assert_int_equal(count_entries(dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_dtypes),
        cmocka_unit_test(test_large_append_and_no_tensors),
        cmocka_unit_test(test_metadata_roundtrip),
        cmocka_unit_test(test_sharded_write_read),
        cmocka_unit_test(test_open_dir_single_other_name),
        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_corrupt_lengths),
        cmocka_unit_test(test_index_errors),
        cmocka_unit_test(test_writer_failures),
    };
    return cmocka_run_group_tests(tests, setup_root, teardown_root);
}
