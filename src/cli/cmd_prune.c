/* prune and convert: the sparsity (one for all, or a per-layer recipe) and
 * the pruning method. For Wanda and SparseGPT the CLI wires the layers
 * together: it reads the calibration text (encoded with the checkpoint's
 * tokenizer) or token file, runs the tokens through the CPU engine
 * (engine/calib.h) and hands the statistics to the convert layer as plain
 * arrays. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "convert/convert.h"
#include "convert/sparsity.h"
#include "core/log.h"
#include "core/timer.h"
#include "engine/calib.h"
#include "engine/model.h"
#include "io/checkpoint.h"
#include "text/token_file.h"

#define DEFAULT_CALIB_N 16384
#define DEFAULT_CALIB_CTX 256

static const char *g_help_prune =
    "--in DIR --out DIR --sparsity 2_L [--method magnitude|wanda|sparsegpt (--calib FILE [--tokenizer PATH] |\n"
    "        --calib-tokens FILE) [--calib-n N] [--calib-ctx N] [--calib-model DIR]] [--force]\n";
static const char *g_help_convert =
    "--in DIR --out DIR --sparsity 2_L|2_inf|--recipe FILE [--method magnitude|wanda|sparsegpt (--calib FILE\n"
    "        [--tokenizer PATH] | --calib-tokens FILE) [--calib-n N] [--calib-ctx N] [--calib-model DIR]] [--force]\n";
static const char *g_help_common =
    "  --method     magnitude (default): keep the L-2 largest |w| of every group of L along K;\n"
    "               wanda: keep the L-2 largest |w| * ||x||_2, x the layer's input over calibration tokens\n"
    "               sparsegpt: the SparseGPT OBS update, 2:L mask per group chosen as the sweep reaches it\n"
    "               (BF16/F16/F32 weights only: prune before quantizing; keeps K x K per linear input)\n"
    "  --calib FILE         calibration text (UTF-8), encoded with the tokenizer.json of --tokenizer PATH\n"
    "                       (default: the --calib-model folder, else --in) and its special tokens\n"
    "  --calib-tokens FILE  calibration token ids instead (decimal, separated by whitespace or commas)\n"
    "  --calib-n N          use the first N of them (default 16384)\n"
    "  --calib-ctx N        window length: the tokens run as independent sequences of N (default 256)\n"
    "  --calib-model DIR    the checkpoint whose forward pass gives the statistics (default --in; e.g. the\n"
    "                       quantized model when pruning BitNet's BF16 master weights)\n"
    "  --recipe FILE        (convert, prune) per-layer sparsities, JSON: see docs/RECIPES.md\n"
    "  --force              replace an existing --out that is a checkpoint this tool wrote";

typedef struct prune_args {
    const char *in, *out, *sparsity, *recipe, *method, *calib_text, *calib_tokens, *calib_model, *tokenizer;
    int64_t calib_n, calib_ctx;
    int force; /* --force: an existing --out that is one of our checkpoints may be replaced */
} prune_args;

static ss_status parse_args(const char *cmd, int argc, char **argv, prune_args *a, int *help) {
    static const struct option longopts[] = {
        {"in", required_argument, 0, 'i'},          {"out", required_argument, 0, 'o'},
        {"sparsity", required_argument, 0, 's'},    {"recipe", required_argument, 0, 'r'},
        {"method", required_argument, 0, 'M'},      {"calib", required_argument, 0, 'c'},
        {"calib-tokens", required_argument, 0, 't'}, {"calib-n", required_argument, 0, 'n'},
        {"calib-ctx", required_argument, 0, 'x'},   {"calib-model", required_argument, 0, 'm'},
        {"tokenizer", required_argument, 0, 'k'},   {"force", no_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->calib_n = DEFAULT_CALIB_N;
    a->calib_ctx = DEFAULT_CALIB_CTX;
    *help = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': a->in = optarg; break;
        case 'o': a->out = optarg; break;
        case 's': a->sparsity = optarg; break;
        case 'r': a->recipe = optarg; break;
        case 'M': a->method = optarg; break;
        case 'c': a->calib_text = optarg; break;
        case 't': a->calib_tokens = optarg; break;
        case 'n': SS_TRY(cli_parse_i64("--calib-n", optarg, 1, (int64_t)1 << 40, &a->calib_n)); break;
        case 'x': SS_TRY(cli_parse_i64("--calib-ctx", optarg, 1, 1 << 20, &a->calib_ctx)); break;
        case 'm': a->calib_model = optarg; break;
        case 'k': a->tokenizer = optarg; break;
        case 'f': a->force = 1; break;
        case 'h':
            printf("usage: slidesparse %s %s%s\n", cmd, strcmp(cmd, "prune") ? g_help_convert : g_help_prune,
                   g_help_common);
            *help = 1;
            return SS_OK;
        default: return cli_bad_usage(cmd, argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage(cmd, argc, argv);
    return SS_OK;
}

/* Statistics of the calibration tokens through the CPU engine. */
static ss_status calibrate(const char *cmd, const prune_args *a, int with_gram, ss_calib_stats *stats) {
    if (!a->calib_text == !a->calib_tokens)
        return ss_fail(SS_ERR_ARG, "%s: --method %s needs one of --calib FILE (text) and --calib-tokens FILE", cmd,
                       a->method);
    const char *dir = a->calib_model ? a->calib_model : a->in;
    const char *source = a->calib_text ? a->calib_text : a->calib_tokens;
    int32_t *ids;
    int64_t n;
    if (a->calib_text) SS_TRY(cli_encode_file(a->calib_text, a->tokenizer ? a->tokenizer : dir, &ids, &n, NULL));
    else SS_TRY(ss_token_file_read(a->calib_tokens, &ids, &n));
    if (n > a->calib_n) n = a->calib_n;
    ss_model m;
    ss_status st = ss_model_load(dir, &m);
    if (st == SS_OK) {
        const int ctx = a->calib_ctx < m.cfg.max_pos ? (int)a->calib_ctx : m.cfg.max_pos;
        double t0 = ss_now();
        st = ss_calib_collect(&m, ids, n, ctx, with_gram, stats);
        if (st == SS_OK)
            ss_info("calibration: %lld tokens of %s through %s in windows of %d, %.1f s", (long long)n,
                    source, dir, ctx, ss_now() - t0);
        else
            st = ss_context(st, "calibrating on %s", dir);
        ss_model_free(&m);
    }
    free(ids);
    return st;
}

static ss_status prune_or_convert(const char *cmd, int argc, char **argv, int slide) {
    prune_args a;
    int help;
    SS_TRY(parse_args(cmd, argc, argv, &a, &help));
    if (help) return SS_OK;
    SS_TRY(cli_require(cmd, "--in", a.in));
    SS_TRY(cli_require(cmd, "--out", a.out));
    SS_TRY(ss_ckpt_out_check(a.out, a.force));
    if (!a.sparsity == !a.recipe) return ss_fail(SS_ERR_ARG, "%s: give one of --sparsity and --recipe", cmd);
    ss_prune_opts po = {.recipe_file = a.recipe};
    if (a.sparsity) SS_TRY(ss_sparsity_parse(a.sparsity, slide, &po.L));
    if (a.method) SS_TRY(ss_prune_method_parse(a.method, &po.method));
    if (a.tokenizer && !a.calib_text) return ss_fail(SS_ERR_ARG, "%s: --tokenizer goes with --calib FILE (text)", cmd);
    if (po.method == SS_PRUNE_MAGNITUDE && (a.calib_text || a.calib_tokens || a.calib_model))
        return ss_fail(SS_ERR_ARG, "%s: calibration options need --method wanda or sparsegpt (magnitude pruning uses "
                       "none)", cmd);
    ss_calib_stats stats = {0};
    if (po.method != SS_PRUNE_MAGNITUDE) {
        SS_TRY(calibrate(cmd, &a, po.method == SS_PRUNE_SPARSEGPT, &stats));
        po.calib = &stats;
    }
    double t0 = ss_now();
    ss_status st = slide ? ss_convert_checkpoint_opts(a.in, a.out, &po) : ss_prune_checkpoint_opts(a.in, a.out, &po);
    ss_calib_stats_free(&stats);
    SS_TRY(st);
    ss_info("%s %s -> %s (%s, %s) in %.1f s", slide ? "converted" : "pruned", a.in, a.out,
            a.sparsity ? a.sparsity : a.recipe, ss_prune_method_name(po.method), ss_now() - t0);
    return SS_OK;
}

ss_status cmd_prune(int argc, char **argv) { return prune_or_convert("prune", argc, argv, 0); }
ss_status cmd_convert(int argc, char **argv) { return prune_or_convert("convert", argc, argv, 1); }
