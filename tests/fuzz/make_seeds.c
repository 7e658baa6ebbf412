/* Writes the seed corpora of the fuzz harnesses from the project's own
 * writers and results:
 *     fuzz_make_seeds OUT_CORPUS_DIR REPO_ROOT
 * A micro checkpoint (a Llama of hidden 32, one layer, vocabulary 16) is
 * written with the checkpoint writer, quantized to INT8 and converted to
 * 2_8 by the library's own quantize and convert; its files become the
 * config, slidesparse.json, safetensors and checkpoint seeds; every preset's
 * config.json is a config seed; the shard index comes from the sharded
 * writer; the report seeds are result files of a real run
 * (docs/reports/bitnet-2b-h100). scripts/fuzz.sh --seeds runs this. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/convert.h"
#include "core/dtype.h"
#include "core/fsutil.h"
#include "fuzz_common.h"

#define CHECK(expr)                                                              \
    do {                                                                         \
        if ((expr) != SS_OK) {                                                   \
            fprintf(stderr, "make_seeds: %s: %s\n", #expr, ss_errmsg());          \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

static const char *g_out, *g_repo;

/* Writes parts (concatenated, each but the last with a 4-byte length) to corpus/<harness>/<name>. */
static void seed(const char *harness, const char *name, const void *const *parts, const size_t *lens, int n,
                 int length_prefixed) {
    char dir[4096], path[4400];
    snprintf(dir, sizeof dir, "%s/%s", g_out, harness);
    CHECK(ss_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) exit(1);
    for (int i = 0; i < n; i++) {
        if (length_prefixed && i < n - 1) {
            unsigned char le[4] = {(unsigned char)lens[i], (unsigned char)(lens[i] >> 8), (unsigned char)(lens[i] >> 16),
                                   (unsigned char)(lens[i] >> 24)};
            fwrite(le, 1, 4, fp);
        }
        fwrite(parts[i], 1, lens[i], fp);
    }
    if (fclose(fp) != 0) exit(1);
}

static char *slurp(const char *dir, const char *file, size_t *n) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *d;
    CHECK(ss_read_file(path, &d, n));
    return d;
}

/* The seeds of one checkpoint folder. */
static void checkpoint_seeds(const char *dir, const char *tag) {
    size_t nc, nm, ns;
    char *cfg = slurp(dir, "config.json", &nc), *meta = slurp(dir, "slidesparse.json", &nm),
         *st = slurp(dir, "model.safetensors", &ns);
    char name[64];
    snprintf(name, sizeof name, "%s.json", tag);
    if (!strcmp(tag, "micro-bf16")) seed("config", name, (const void *[]){cfg}, &nc, 1, 0); /* the others are the same */
    seed("ckpt_meta", name, (const void *[]){meta}, &nm, 1, 0);
    snprintf(name, sizeof name, "%s.bin", tag);
    static const char plain = 0, sharded = 1;
    seed("safetensors", name, (const void *[]){&plain, st}, (size_t[]){1, ns}, 2, 0);
    snprintf(name, sizeof name, "%s-sharded.bin", tag);
    seed("safetensors", name, (const void *[]){&sharded, st}, (size_t[]){1, ns}, 2, 0);
    snprintf(name, sizeof name, "%s.bin", tag);
    seed("checkpoint", name, (const void *[]){cfg, meta, st}, (size_t[]){nc, nm, ns}, 3, 1);
    free(cfg);
    free(meta);
    free(st);
}

static void micro_checkpoints(const char *work) {
    ss_model_config c = {.arch = SS_ARCH_LLAMA, .act = SS_ACT_SILU, .hidden = 32, .intermediate = 64, .n_layers = 1,
                         .n_heads = 2, .n_kv_heads = 1, .head_dim = 16, .vocab = 16, .max_pos = 128, .rms_eps = 1e-5,
                         .rope_theta = 10000.0, .tie_embeddings = 1, .bos_id = 1, .eos_id = 2};
    ss_st_spec *specs;
    int n;
    CHECK(ss_synth_specs(&c, &specs, &n));
    char bf16[4200], int8[4200], slid[4200];
    snprintf(bf16, sizeof bf16, "%s/micro-bf16", work);
    snprintf(int8, sizeof int8, "%s/micro-int8", work);
    snprintf(slid, sizeof slid, "%s/micro-int8-2_8", work);
    ss_ckpt_meta meta = {.format_version = 1, .quant = SS_QUANT_NONE, .synthetic = 1};
    snprintf(meta.source, sizeof meta.source, "synthetic:fuzz");
    ss_ckpt_writer *w;
    CHECK(ss_ckpt_writer_begin(&w, bf16, NULL, &c, specs, n));
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        int64_t numel = specs[i].shape[0] * (specs[i].ndim == 2 ? specs[i].shape[1] : 1);
        uint16_t *v = malloc((size_t)numel * sizeof *v);
        for (int64_t k = 0; k < numel; k++) {
            x = x * 1664525u + 1013904223u;
            v[k] = ss_f32_to_bf16(((float)(x >> 8) / 16777216.0f - 0.5f) * 0.08f);
        }
        CHECK(ss_ckpt_writer_append(w, v, (size_t)numel * sizeof *v));
        free(v);
        if (!ss_is_block_linear(specs[i].name)) continue;
        ss_ckpt_linear l = {.N = specs[i].shape[0], .K = specs[i].shape[1]};
        l.K_padded = l.K_slid = l.K;
        snprintf(l.name, sizeof l.name, "%s", specs[i].name);
        CHECK(ss_ckpt_meta_add_linear(&meta, &l));
    }
    CHECK(ss_ckpt_writer_finish(w, &meta));
    ss_ckpt_meta_free(&meta);
    ss_synth_specs_free(specs, n);
    CHECK(ss_quantize_checkpoint(bf16, int8, SS_QUANT_INT8, -1));
    CHECK(ss_convert_checkpoint(int8, slid, 8));
    checkpoint_seeds(bf16, "micro-bf16");
    checkpoint_seeds(int8, "micro-int8");
    checkpoint_seeds(slid, "micro-int8-2_8");
}

static void preset_configs(const char *work) {
    for (const char *const *p = ss_config_preset_names(); *p; p++) {
        ss_model_config c;
        CHECK(ss_config_preset(*p, &c));
        char path[4200], name[64];
        snprintf(path, sizeof path, "%s/%s.json", work, *p);
        CHECK(ss_config_save(path, &c));
        size_t len;
        char *text = slurp(work, strrchr(path, '/') + 1, &len);
        snprintf(name, sizeof name, "preset-%s.json", *p);
        seed("config", name, (const void *[]){text}, &len, 1, 0);
        free(text);
    }
}

static void shard_index(const char *work) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/shards", work);
    CHECK(ss_mkdir_p(dir));
    ss_st_writer *w;
    CHECK(ss_st_writer_begin(&w, dir, k_fuzz_shard_specs, 4, FUZZ_SHARD_MAX_BYTES, NULL));
    uint8_t bytes[FUZZ_SHARD_DATA_BYTES] = {0};
    CHECK(ss_st_writer_append(w, bytes, sizeof bytes));
    CHECK(ss_st_writer_finish(w));
    size_t n;
    char *text = slurp(dir, "model.safetensors.index.json", &n);
    seed("shard_index", "index.json", (const void *[]){text}, &n, 1, 0);
    free(text);
}

/* Result files of the H100 run in docs/reports: kernel, prefill and decode CSVs, and the state. */
static void report_seeds(void) {
    static const struct {
        unsigned char place; /* fuzz_report_csv's k_places index */
        const char *rel, *name;
    } csvs[] = {
        {0, "benchmark_kernel/cuBLASLt/alg_search_results/H100-80GB-HBM3_cc90_gcc13_cu130_x86_64/INT8/"
            "alg_search_BitNet-2B-INT8.csv", "kernel-cublaslt-int8.bin"},
        {1, "benchmark_kernel/cuSPARSELt/alg_search_results/H100-80GB-HBM3_cc90_gcc13_cu130_x86_64/FP8/"
            "alg_search_BitNet-2B-FP8_2_6.csv", "kernel-cusparselt-fp8-2_6.bin"},
        {2, "throughput_benchmark_results/prefill/H100-80GB-HBM3_cc90_INT8_gcc13_cu130_x86_64/cublaslt/"
            "BitNet-2B-INT8_prefill.csv", "prefill-int8.bin"},
        {3, "throughput_benchmark_results/decode/H100-80GB-HBM3_cc90_FP8E4M3_gcc13_cu130_x86_64/cusparselt/2_8/"
            "BitNet-2B-FP8_decode.csv", "decode-fp8-2_8.bin"},
    };
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/docs/reports/bitnet-2b-h100/results", g_repo);
    for (size_t i = 0; i < sizeof csvs / sizeof csvs[0]; i++) {
        size_t n;
        char *text = slurp(dir, csvs[i].rel, &n);
        seed("report_csv", csvs[i].name, (const void *[]){&csvs[i].place, text}, (size_t[]){1, n}, 2, 0);
        free(text);
    }
    snprintf(dir, sizeof dir, "%s/docs/reports/bitnet-2b-h100", g_repo);
    size_t n;
    char *text = slurp(dir, "pipeline_state.json", &n);
    seed("report_state", "bitnet-2b-h100.json", (const void *[]){text}, &n, 1, 0);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_make_seeds OUT_CORPUS_DIR REPO_ROOT\n");
        return 2;
    }
    g_out = argv[1];
    g_repo = argv[2];
    char work[4200];
    snprintf(work, sizeof work, "%s/work", fuzz_dir());
    CHECK(ss_mkdir_p(work));
    micro_checkpoints(work);
    preset_configs(work);
    shard_index(work);
    report_seeds();
    printf("seeds written to %s\n", g_out);
    return 0;
}
