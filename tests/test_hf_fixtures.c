/* The CPU engine against transformers, on the fixtures that
 * tests/data/hf/make_fixtures.py wrote with transformers' own save_pretrained
 * (versions in tests/data/hf/manifest.json; no torch needed here).
 *
 * For every fixture and both config layouts (checkpoint/config.json: 5.x
 * rope_parameters as transformers wrote it; config.v4.json: the 4.x
 * rope_theta + rope_scaling rewrite):
 *   - teacher-forced logits of prompt + transformers' greedy ids, every row,
 *     against transformers run in float32 on the same weights;
 *   - the engine's own greedy ids against transformers' (see ids_agree for
 *     near-ties).
 * Plus, through the slidesparse binary: BitNet's formats (quantize of the
 * packed 2-bit checkpoint, quantize --dtype int8|fp8 of the master weights
 * against transformers' AutoBitLinear online, info), generate --logits (the
 * .npy layout of the README), and every refused config variant (exit code 3
 * naming the key).
 *
 * Tolerance, derived from where the engine rounds. make_fixtures.py also
 * runs transformers in float32 with BF16 rounding inserted exactly where the
 * engine rounds (every linear's input, unless quantized, and output, lm_head
 * included; k after RoPE, the KV cache), its modeling code otherwise
 * untouched: logits_engine_rounding. The engine must match those within
 * DELTA = 1% of the row's max|logit|: what is left is float summation order
 * and double-precision RoPE, whose only visible effect is a value that sits
 * within float rounding of a BF16 boundary rounding the other way (observed:
 * 0 or exactly one BF16 ulp of a logit, 2^-8..2^-7 of its magnitude, i.e.
 * 0.4-0.8% of max|logit| at most). Against plain float32 the bound is the
 * row's own rounding gap (|logits_engine_rounding - logits|, 2-5% of
 * max|logit| here: q/k are scaled so that attention is sharp, which
 * amplifies BF16 rounding) plus DELTA. Transformers' own BF16 run is further
 * off (manifest.json), and a dropped RoPE parameter moves logits far more.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/npy.h"
#include "engine/forward_cpu.h"
#include "engine/generate.h"
#include "engine/model.h"
#include "io/safetensors.h"
#include "pipeline/pipeline.h"

#define DELTA 1e-2

static char g_data[4096], g_bin[4096], g_tmp[256];
static json_t *g_manifest;

#define OK(expr) assert_int_equal((expr), SS_OK)

static int setup(void **state) {
    (void)state;
    const char *data = getenv("SS_TEST_DATA"), *bin = getenv("SS_BIN");
    if (!data || !bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "SS_TEST_DATA / SS_BIN are not set to the test data and the slidesparse binary\n");
        return -1;
    }
    unsetenv("SS_RESIDUAL"); /* the engine's default float32 residual stream, which the tolerance assumes */
    snprintf(g_data, sizeof g_data, "%s/hf", data);
    snprintf(g_bin, sizeof g_bin, "%s", bin);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_hf_XXXXXX");
    if (!mkdtemp(g_tmp)) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.json", g_data);
    if (ss_json_load(path, &g_manifest) != SS_OK) {
        fprintf(stderr, "%s\n", ss_errmsg());
        return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    json_decref(g_manifest);
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

/* ---- fixtures ---- */

typedef struct expected {
    ss_tensors st;
    const int32_t *prompt, *ids;
    int P, G, T, V;
    const float *logits;  /* [T, V], transformers in float32 */
    const float *rounded; /* [T, V], the same with BF16 rounding where the engine rounds */
} expected;

static void expected_load(const char *name, expected *e) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/expected.safetensors", g_data, name);
    OK(ss_st_open_file(path, &e->st));
    const ss_st_tensor *p = ss_st_find(&e->st, "prompt"), *i = ss_st_find(&e->st, "ids"),
                       *l = ss_st_find(&e->st, "logits"), *r = ss_st_find(&e->st, "logits_engine_rounding");
    assert_non_null(r);
    assert_int_equal(r->dtype, SS_DT_F32);
    assert_int_equal(r->nbytes, l->nbytes);
    e->rounded = r->data;
    assert_non_null(p);
    assert_non_null(i);
    assert_non_null(l);
    assert_int_equal(p->dtype, SS_DT_I32);
    assert_int_equal(i->dtype, SS_DT_I32);
    assert_int_equal(l->dtype, SS_DT_F32);
    e->prompt = p->data, e->ids = i->data, e->logits = l->data;
    e->P = (int)p->shape[0], e->G = (int)i->shape[0], e->T = (int)l->shape[0], e->V = (int)l->shape[1];
    assert_int_equal(e->T, e->P + e->G);
}

/* A checkpoint folder in the tmp dir whose files link to `src`'s, with
 * config.json taken from `config` (NULL: src's own) and then edited by
 * `edit` (NULL: none). Returns the folder in dir. */
static void stage(const char *src, const char *config, void (*edit)(json_t *, const void *), const void *arg,
                  const char *tag, char *dir, size_t cap) {
    snprintf(dir, cap, "%s/%s", g_tmp, tag);
    OK(ss_rm_rf(dir));
    OK(ss_mkdir_p(dir));
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "for f in '%s'/*; do ln -s \"$f\" '%s'/; done && rm '%s/config.json'", src, dir, dir);
    assert_int_equal(system(cmd), 0);
    char from[4400], to[4400];
    if (config) snprintf(from, sizeof from, "%s", config);
    else snprintf(from, sizeof from, "%s/config.json", src);
    snprintf(to, sizeof to, "%s/config.json", dir);
    json_t *j;
    OK(ss_json_load(from, &j));
    if (edit) edit(j, arg);
    OK(ss_json_save(to, j));
    json_decref(j);
}

static void checkpoint_of(const char *name, char *out, size_t cap) { snprintf(out, cap, "%s/%s/checkpoint", g_data, name); }

/* ---- comparisons ---- */

/* Engine logits [T, V] of tokens tok[T] prefilled in one batch. */
static void engine_logits(const ss_model *m, const int32_t *tok, int T, float *logits) {
    ss_cpu_state *st;
    OK(ss_cpu_state_new(m, 1, T, &st));
    int32_t *seq = calloc((size_t)T, sizeof *seq), *pos = malloc((size_t)T * sizeof *pos);
    assert_non_null(seq);
    assert_non_null(pos);
    for (int i = 0; i < T; i++) pos[i] = i;
    ss_batch b = {.n = T, .token = tok, .seq = seq, .pos = pos, .n_logits = T, .logit_rows = pos};
    OK(ss_cpu_forward(st, &b, logits));
    free(seq);
    free(pos);
    ss_cpu_state_free(st);
}

static double row_amax(const float *row, int V) {
    double a = 0;
    for (int j = 0; j < V; j++) a = fmax(a, fabs(row[j]));
    return a;
}

/* got [T, V] against transformers: every row within DELTA * max|logit| of
 * the engine-rounding logits, and within their distance to the float32
 * logits plus DELTA * max|logit| of those (the triangle inequality: the
 * engine's error is its rounding plus what DELTA allows). Returns the
 * largest engine-rounding error relative to max|logit|; *f32_err the
 * largest float32 error, relative too. */
static double compare_logits(const char *what, const float *got, const expected *e, int row0, int T, double *f32_err) {
    const int V = e->V;
    double worst = 0, worst32 = 0;
    for (int t = 0; t < T; t++) {
        const float *g = got + (size_t)t * V, *r = e->rounded + (size_t)(row0 + t) * V, *f = e->logits + (size_t)(row0 + t) * V;
        const double amax = row_amax(f, V);
        double err = 0, err32 = 0, gap = 0;
        for (int j = 0; j < V; j++) {
            err = fmax(err, fabs((double)g[j] - r[j]));
            err32 = fmax(err32, fabs((double)g[j] - f[j]));
            gap = fmax(gap, fabs((double)r[j] - f[j]));
        }
        assert_true(amax > 0.5); /* not degenerate */
        if (err > DELTA * amax)
            fail_msg("%s: position %d: max |logit - engine-rounding logit| %.4f > %.0e * max|logit| %.3f", what,
                     row0 + t, err, DELTA, amax);
        if (err32 > gap + DELTA * amax)
            fail_msg("%s: position %d: max |logit - float32 logit| %.4f > rounding gap %.4f + %.0e * max|logit| %.3f",
                     what, row0 + t, err32, gap, DELTA, amax);
        worst = fmax(worst, err / amax);
        worst32 = fmax(worst32, err32 / amax);
    }
    if (f32_err) *f32_err = worst32;
    return worst;
}

/* Twice the largest difference between the engine-rounding and float32
 * logits of a row, plus DELTA: the most two logits can swap order by. */
static double near_tie_bound(const expected *e, int row) {
    const float *r = e->rounded + (size_t)row * e->V, *f = e->logits + (size_t)row * e->V;
    double gap = 0;
    for (int j = 0; j < e->V; j++) gap = fmax(gap, fabs((double)r[j] - f[j]));
    return 2 * (gap + DELTA * row_amax(f, e->V));
}

/* The engine's greedy ids against transformers'. Where they differ, the two
 * candidates must be a near-tie in transformers' own logits (within twice the
 * logit tolerance of each other), and the comparison stops there: the
 * continuations then follow different histories. Returns the number of ids
 * compared. */
static int ids_agree(const char *what, const expected *e, const int32_t *got, int n_got) {
    assert_int_equal(n_got, e->G);
    for (int t = 0; t < e->G; t++) {
        if (got[t] == e->ids[t]) continue;
        const float *row = e->logits + (size_t)(e->P - 1 + t) * e->V;
        const double gap = (double)row[e->ids[t]] - row[got[t]], tol = near_tie_bound(e, e->P - 1 + t);
        if (!(gap >= 0 && gap <= tol))
            fail_msg("%s: generated id %d is %d, transformers %d (logit gap %.4f > near-tie bound %.4f)", what, t,
                     got[t], e->ids[t], gap, tol);
        printf("  %s: near-tie at generated id %d (%d vs transformers %d, gap %.4f <= %.4f): ids compared up to it\n",
               what, t, got[t], e->ids[t], gap, tol);
        return t;
    }
    return e->G;
}

/* Loads dir with the engine and checks it against the fixture's expectations. */
static double check_model_dir(const char *what, const char *dir, const expected *e) {
    ss_model m;
    ss_status st = ss_model_load(dir, &m);
    if (st != SS_OK) fail_msg("%s: %s", what, ss_errmsg());
    assert_int_equal(m.cfg.vocab, e->V);
    int32_t *tok = malloc((size_t)e->T * sizeof *tok), out[64];
    float *got = malloc((size_t)e->T * e->V * sizeof *got);
    assert_non_null(tok);
    assert_non_null(got);
    memcpy(tok, e->prompt, (size_t)e->P * sizeof *tok);
    memcpy(tok + e->P, e->ids, (size_t)e->G * sizeof *tok);
    engine_logits(&m, tok, e->T, got);
    double worst32;
    const double worst = compare_logits(what, got, e, 0, e->T, &worst32);
    int n_out = 0;
    assert_true(e->G <= 64);
    OK(ss_generate_cpu(&m, e->prompt, e->P, e->G, 0, out, &n_out));
    const int same = ids_agree(what, e, out, n_out);
    printf("%-36s error %.3f%% (engine rounding), %.2f%% (float32) of max|logit|; greedy ids %d/%d as transformers\n",
           what, 100 * worst, 100 * worst32, same, e->G);
    free(tok);
    free(got);
    ss_model_free(&m);
    return worst;
}

/* ---- the fixtures, both layouts ---- */

static void test_fixtures_both_layouts(void **state) {
    (void)state;
    size_t i;
    json_t *f;
    int n = 0;
    json_array_foreach(json_object_get(g_manifest, "fixtures"), i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        assert_non_null(name);
        expected e;
        expected_load(name, &e);
        char ckpt[4400], v4[4400], dir[4400], what[256];
        checkpoint_of(name, ckpt, sizeof ckpt);
        snprintf(what, sizeof what, "%s (5.x config)", name);
        check_model_dir(what, ckpt, &e);
        snprintf(v4, sizeof v4, "%s/%s/config.v4.json", g_data, name);
        stage(ckpt, v4, NULL, NULL, "v4", dir, sizeof dir);
        snprintf(what, sizeof what, "%s (4.x config)", name);
        check_model_dir(what, dir, &e);
        ss_st_close(&e.st);
        n++;
    }
    assert_true(n >= 12);
}

/* ---- BitNet's formats through the binary ---- */

static int run_bin(char *out, size_t cap, ...) {
    char *argv[32];
    int n = 0;
    argv[n++] = "slidesparse";
    va_list ap;
    va_start(ap, cap);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 31) argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    ss_child_result r;
    OK(ss_run_child(g_bin, argv, NULL, 600, out, cap, &r));
    return r.term_signal ? 128 + r.term_signal : r.exit_code;
}

/* quantize reads the packed 2-bit checkpoint (the small download): its
 * INT8 / FP8 output holds the same ternary codes and per-tensor scale, so
 * it computes exactly what the packed checkpoint loaded directly computes;
 * info names the format. */
static void test_bitnet_packed_quantize_info(void **state) {
    (void)state;
    char ckpt[4400], out[8192];
    checkpoint_of("bitnet_packed", ckpt, sizeof ckpt);
    assert_int_equal(run_bin(out, sizeof out, "info", "--model", ckpt, NULL), 0);
    assert_non_null(strstr(out, "bitnet packed 2-bit (bitlinear)"));
    expected e;
    expected_load("bitnet_packed", &e);
    int32_t *tok = malloc((size_t)e.T * sizeof *tok);
    float *direct = malloc((size_t)e.T * e.V * sizeof *direct), *via = malloc((size_t)e.T * e.V * sizeof *via);
    assert_non_null(tok);
    assert_non_null(direct);
    assert_non_null(via);
    memcpy(tok, e.prompt, (size_t)e.P * sizeof *tok);
    memcpy(tok + e.P, e.ids, (size_t)e.G * sizeof *tok);
    ss_model m;
    OK(ss_model_load(ckpt, &m));
    assert_int_equal(m.quant, SS_QUANT_INT8);
    engine_logits(&m, tok, e.T, direct);
    ss_model_free(&m);
    const char *dtypes[] = {"int8", "fp8"};
    ss_tensors st8 = {0};
    for (int d = 0; d < 2; d++) {
        char q[512];
        snprintf(q, sizeof q, "%s/packed-%s", g_tmp, dtypes[d]);
        if (run_bin(out, sizeof out, "quantize", "--in", ckpt, "--out", q, "--dtype", dtypes[d], NULL) != 0)
            fail_msg("quantize of the packed checkpoint: %s", out);
        char cfg[600];
        snprintf(cfg, sizeof cfg, "%s/config.json", q);
        json_t *j;
        OK(ss_json_load(cfg, &j));
        assert_null(json_object_get(j, "quantization_config")); /* the output is our format, not BitNet's */
        json_decref(j);
        assert_int_equal(run_bin(out, sizeof out, "info", "--model", q, NULL), 0);
        assert_non_null(strstr(out, "scheme ternary"));
        if (d == 0) {
            /* INT8: the same codes and scales as the direct load, so the same logits, bit for bit */
            OK(ss_model_load(q, &m));
            engine_logits(&m, tok, e.T, via);
            ss_model_free(&m);
            for (size_t k = 0; k < (size_t)e.T * e.V; k++)
                if (via[k] != direct[k]) fail_msg("quantize --dtype int8 of the packed checkpoint: logit %zu differs", k);
            OK(ss_st_open_dir(q, &st8));
            continue;
        }
        /* FP8: every code the E4M3 twin of the INT8 one (+-1.0 or 0), the same scales */
        ss_tensors st;
        OK(ss_st_open_dir(q, &st));
        int linears = 0;
        for (int i = 0; i < st.ntensors; i++) {
            const ss_st_tensor *t = &st.tensors[i], *t8 = ss_st_find(&st8, t->name);
            assert_non_null(t8);
            if (t->dtype == SS_DT_F8_E4M3) {
                const uint8_t *c = t->data;
                const int8_t *c8 = t8->data;
                for (uint64_t k = 0; k < t->nbytes; k++)
                    assert_int_equal(c[k], c8[k] == 1 ? 0x38 : c8[k] == -1 ? 0xb8 : 0x00);
                linears++;
            } else {
                assert_int_equal(t->nbytes, t8->nbytes);
                assert_memory_equal(t->data, t8->data, t->nbytes);
            }
        }
        assert_int_equal(linears, 2 * 7);
        ss_st_close(&st);
    }
    ss_st_close(&st8);
    /* the packed format is quantize's input only */
    char p[512];
    snprintf(p, sizeof p, "%s/packed-pruned", g_tmp);
    assert_int_equal(run_bin(out, sizeof out, "prune", "--in", ckpt, "--out", p, "--sparsity", "2_8", NULL), 2);
    assert_non_null(strstr(out, "run quantize first"));
    free(tok);
    free(direct);
    free(via);
    ss_st_close(&e.st);
}

/* quantize --dtype int8 of the BF16 master weights against transformers'
 * AutoBitLinear online, which ternarizes the same weights per tensor and
 * quantizes activations per token to INT8. (--dtype fp8 stores the same
 * ternary values but quantizes activations to FP8 E4M3, which is this
 * project's FP8 path, not AutoBitLinear's math: test_bitnet_packed_quantize_info
 * checks its codes instead.) */
static void test_bitnet_quantize_matches_autobitlinear(void **state) {
    (void)state;
    char master[4400], out[8192];
    checkpoint_of("bitnet_bf16", master, sizeof master);
    expected e;
    expected_load("bitnet_online_bf16", &e); /* same master weights and prompt */
    char q[512];
    snprintf(q, sizeof q, "%s/master-int8", g_tmp);
    if (run_bin(out, sizeof out, "quantize", "--in", master, "--out", q, "--dtype", "int8", NULL) != 0)
        fail_msg("quantize: %s", out);
    check_model_dir("bitnet_bf16 quantize --dtype int8", q, &e);
    /* sliding the online format's master weights would change its per-tensor mean: quantize first */
    char online[4400], slid[512];
    checkpoint_of("bitnet_online_bf16", online, sizeof online);
    snprintf(slid, sizeof slid, "%s/online-slid", g_tmp);
    assert_int_equal(run_bin(out, sizeof out, "convert", "--in", online, "--out", slid, "--sparsity", "2_8", NULL), 3);
    assert_non_null(strstr(out, "run quantize first"));
    assert_false(ss_path_exists(slid));
    ss_st_close(&e.st);
}

/* ---- generate --logits ---- */

static void test_generate_logits_file(void **state) {
    (void)state;
    expected e;
    expected_load("qwen2_bias_bf16", &e);
    char ckpt[4400], ids[512] = "", npy[512], out[8192], max_new[16];
    checkpoint_of("qwen2_bias_bf16", ckpt, sizeof ckpt);
    for (int i = 0; i < e.P; i++) snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%s%d", i ? "," : "", e.prompt[i]);
    snprintf(npy, sizeof npy, "%s/logits.npy", g_tmp);
    snprintf(max_new, sizeof max_new, "%d", e.G);
    if (run_bin(out, sizeof out, "generate", "--model", ckpt, "--prompt-ids", ids, "--max-new", max_new, "--ignore-eos",
                "--logits", npy, NULL) != 0)
        fail_msg("generate --logits: %s", out);
    char *data;
    size_t n;
    OK(ss_read_file(npy, &data, &n));
    /* the README's layout: .npy 1.0, '<f4', C order, [n_generated, vocab] */
    char want[128];
    snprintf(want, sizeof want, "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", e.G, e.V);
    assert_true(n == SS_NPY_HEADER_BYTES + (size_t)e.G * e.V * sizeof(float));
    assert_memory_equal(data, "\x93NUMPY\x01\x00", 8);
    assert_int_equal((unsigned char)data[8] | (unsigned char)data[9] << 8, SS_NPY_HEADER_BYTES - 10);
    assert_memory_equal(data + 10, want, strlen(want));
    assert_int_equal(data[SS_NPY_HEADER_BYTES - 1], '\n');
    const float *rows = (const float *)(data + SS_NPY_HEADER_BYTES);
    /* row k: the logits generated id k was chosen from, i.e. the position before it */
    int printed[64], np = 0;
    for (char *line = out; line && *line && np == 0; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strspn(line, "0123456789,") != strcspn(line, "\n")) continue; /* not the ids line (timings, logs) */
        for (char *p = line; np < 64;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            printed[np++] = (int)v;
            if (*end != ',') break;
            p = end + 1;
        }
    }
    assert_int_equal(np, e.G);
    for (int k = 0; k < e.G; k++) assert_int_equal(ss_argmax(rows + (size_t)k * e.V, e.V), printed[k]);
    const int same = ids_agree("generate --logits", &e, printed, np);
    /* up to the ids that match transformers' the rows are teacher-forced rows */
    compare_logits("generate --logits rows", rows, &e, e.P - 1, same, NULL);
    free(data);
    ss_st_close(&e.st);
}

/* ---- refused variants: exit code 3, the key named ---- */

typedef struct edit_arg {
    const char *key;   /* top-level key, or "rope_parameters.<k>" */
    const char *json;  /* its new value */
} edit_arg;

static void set_key(json_t *j, const void *arg) {
    const edit_arg *a = arg;
    json_error_t err;
    json_t *v = json_loads(a->json, JSON_DECODE_ANY, &err);
    assert_non_null(v);
    if (!strncmp(a->key, "rope_parameters.", 16)) json_object_set_new(json_object_get(j, "rope_parameters"), a->key + 16, v);
    else json_object_set_new(j, a->key, v);
}

static void expect_info_refused(const char *fixture, const edit_arg *a, const char *named) {
    char ckpt[4400], dir[4400], out[8192];
    checkpoint_of(fixture, ckpt, sizeof ckpt);
    stage(ckpt, NULL, set_key, a, "refused", dir, sizeof dir);
    const int rc = run_bin(out, sizeof out, "info", "--model", dir, NULL);
    if (rc != 3 || !strstr(out, named) || !strstr(out, "error:"))
        fail_msg("%s with %s = %s: exit %d, expected 3 naming '%s': %s", fixture, a->key, a->json, rc, named, out);
    printf("refused (exit 3): %s = %s\n", a->key, a->json);
}

static void test_refused_variants(void **state) {
    (void)state;
    static const struct { const char *fixture; edit_arg edit; const char *named; } cases[] = {
        {"llama_tied_bf16", {"rope_parameters.rope_type", "\"longrope\""}, "longrope"},
        {"llama_tied_bf16", {"rope_parameters.rope_type", "\"proportional\""}, "proportional"},
        {"llama_tied_bf16", {"rope_parameters.partial_rotary_factor", "0.5"}, "partial_rotary_factor"},
        {"llama_tied_bf16", {"partial_rotary_factor", "0.5"}, "partial_rotary_factor"},
        {"llama_linear_bf16", {"rope_parameters.mrope_section", "[2, 2, 4]"}, "mrope_section"},
        {"llama_tied_bf16", {"attention_bias", "true"}, "attention_bias"},
        {"llama_tied_bf16", {"mlp_bias", "true"}, "mlp_bias"},
        {"bitnet_bf16", {"attention_bias", "true"}, "attention_bias"},
        {"qwen2_bias_bf16", {"use_sliding_window", "true"}, "use_sliding_window"},
        {"qwen2_bias_bf16", {"layer_types", "[\"full_attention\", \"sliding_attention\"]"}, "layer_types"},
        {"llama_tied_bf16", {"hidden_act", "\"gelu\""}, "hidden_act"},
        {"llama_tied_bf16", {"quantization_config", "{\"quant_method\": \"gptq\", \"bits\": 4}"}, "gptq"},
        {"bitnet_bf16", {"quantization_config", "{\"quant_method\": \"bitnet\", \"use_rms_norm\": true}"}, "use_rms_norm"},
        {"bitnet_bf16",
         {"quantization_config", "{\"quant_method\": \"bitnet\", \"linear_class\": \"autobitlinear\", "
                                 "\"quantization_mode\": \"online\", \"modules_to_not_convert\": []}"},
         "modules_to_not_convert"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_info_refused(cases[i].fixture, &cases[i].edit, cases[i].named);

    /* dynamic RoPE beyond max_position_embeddings (64): transformers rescales there; refused when asked */
    char ckpt[4400], out[8192];
    checkpoint_of("llama_dynamic_bf16", ckpt, sizeof ckpt);
    int rc = run_bin(out, sizeof out, "generate", "--model", ckpt, "--prompt-ids", "5,6,7,8", "--max-new", "61",
                     "--ignore-eos", NULL);
    if (rc != 3 || !strstr(out, "dynamic") || !strstr(out, "max_position_embeddings"))
        fail_msg("dynamic beyond max_position_embeddings: exit %d: %s", rc, out);
    assert_int_equal(run_bin(out, sizeof out, "generate", "--model", ckpt, "--prompt-ids", "5,6,7,8", "--max-new", "60",
                             "--ignore-eos", NULL),
                     0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures_both_layouts),
        cmocka_unit_test(test_bitnet_packed_quantize_info),
        cmocka_unit_test(test_bitnet_quantize_matches_autobitlinear),
        cmocka_unit_test(test_generate_logits_file),
        cmocka_unit_test(test_refused_variants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
