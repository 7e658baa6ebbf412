/* eval: sliding-window perplexity of a token sequence (engine/perplexity.h
 * states the convention); prints one summary line, writes JSON/CSV results. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/model.h"
#include "engine/perplexity.h"
#include "pipeline/eval_results.h"
#include "text/token_file.h"
#include "text/tokenizer.h"

static const char *g_help =
    "--model DIR (--text FILE [--tokenizer PATH] | --tokens FILE) [--ctx N] [--stride S] [--backend cpu|cuda]\n"
    "       [--out FILE.json|FILE.csv]...\n"
    "  Perplexity with the Hugging Face sliding-window convention: windows of N tokens\n"
    "  (default: the model's max_position_embeddings) starting every S tokens (default N);\n"
    "  each token is scored once, by the first window that reaches it, with that window's\n"
    "  tokens before it as context; a window's first token is never scored. Prints\n"
    "  perplexity, mean NLL (nats), tokens evaluated and time; --out (repeatable) writes the\n"
    "  result as JSON or CSV by the file's extension; --per-token FILE writes each token's NLL (CSV).\n"
    "  --text FILE: UTF-8 text, encoded with the model's tokenizer.json (or --tokenizer PATH) and the\n"
    "  special tokens its post-processor adds (Llama-3: BOS first), as transformers' tokenizer(text).\n"
    "  --tokens FILE: token ids, decimal, separated by commas or whitespace.";

#define MAX_OUT 8

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void base_name(const char *dir, char *out, size_t cap) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/') start--;
    snprintf(out, cap, "%.*s", (int)(len - start), dir + start);
}

/* position, token id, NLL (nats; "-" where not scored), one line each. */
static ss_status write_per_token(const char *path, const int32_t *ids, int64_t n, const double *nll) {
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    ss_afile_printf(&f, "position,token,nll\n");
    for (int64_t i = 0; i < n; i++) {
        if (isnan(nll[i])) ss_afile_printf(&f, "%lld,%d,-\n", (long long)i, ids[i]);
        else ss_afile_printf(&f, "%lld,%d,%.17g\n", (long long)i, ids[i], nll[i]);
    }
    return ss_afile_commit(&f);
}

ss_status cmd_eval(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},  {"tokens", required_argument, 0, 't'},
        {"ctx", required_argument, 0, 'c'},    {"stride", required_argument, 0, 's'},
        {"backend", required_argument, 0, 'b'}, {"out", required_argument, 0, 'o'},
        {"text", required_argument, 0, 'x'},  {"tokenizer", required_argument, 0, 'k'},
        {"per-token", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    const char *text_path = NULL, *tokenizer_path = NULL, *per_token_path = NULL;
    const char *model_dir = NULL, *tokens_path = NULL, *backend = "cpu", *outs[MAX_OUT];
    int n_out = 0, c;
    int64_t ctx = 0, stride = 0;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 't': tokens_path = optarg; break;
        case 'x': text_path = optarg; break;
        case 'k': tokenizer_path = optarg; break;
        case 'p': per_token_path = optarg; break;
        case 'c': SS_TRY(cli_parse_i64("--ctx", optarg, 2, 1 << 24, &ctx)); break;
        case 's': SS_TRY(cli_parse_i64("--stride", optarg, 1, 1 << 24, &stride)); break;
        case 'b': backend = optarg; break;
        case 'o':
            if (n_out == MAX_OUT) return ss_fail(SS_ERR_ARG, "eval: at most %d --out files", MAX_OUT);
            outs[n_out++] = optarg;
            break;
        case 'h': printf("usage: slidesparse eval %s\n", g_help); return SS_OK;
        default: return cli_bad_usage("eval", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("eval", argc, argv);
    SS_TRY(cli_require("eval", "--model", model_dir));
    if (!text_path == !tokens_path)
        return ss_fail(SS_ERR_ARG, "eval: give one of --text FILE and --tokens FILE (see slidesparse eval --help)");
    if (tokenizer_path && !text_path) return ss_fail(SS_ERR_ARG, "eval: --tokenizer goes with --text");
    if (strcmp(backend, "cpu") != 0 && strcmp(backend, "cuda") != 0)
        return ss_fail(SS_ERR_ARG, "eval: unknown backend '%s' (cpu or cuda)", backend);
    for (int i = 0; i < n_out; i++)
        if (!ends_with(outs[i], ".json") && !ends_with(outs[i], ".csv"))
            return ss_fail(SS_ERR_ARG, "eval: --out %s: the name must end in .json or .csv (the format)", outs[i]);

    ss_model m;
    SS_TRY(ss_model_load(model_dir, &m));
    ss_eval_record rec;
    memset(&rec, 0, sizeof rec);
    int32_t *ids = NULL;
    int64_t n = 0;
    ss_status st = text_path ? cli_encode_file(text_path, tokenizer_path ? tokenizer_path : model_dir, &ids, &n,
                                               &rec.bos_added)
                             : ss_token_file_read(tokens_path, &ids, &n);
    if (st == SS_OK) {
        if (ctx == 0) ctx = m.cfg.max_pos;
        if (stride == 0) stride = ctx;
        if (ctx > m.cfg.max_pos)
            st = ss_fail(SS_ERR_ARG, "eval: --ctx %lld exceeds the model's max_position_embeddings %d", (long long)ctx,
                         m.cfg.max_pos);
        else if (stride > ctx)
            st = ss_fail(SS_ERR_ARG, "eval: --stride %lld is longer than the context %lld (tokens would be skipped)",
                         (long long)stride, (long long)ctx);
    }
    double *per_token = NULL;
    if (st == SS_OK && per_token_path && !(per_token = malloc((size_t)n * sizeof *per_token)))
        st = ss_fail(SS_ERR_NOMEM, "eval: no memory for %lld NLLs", (long long)n);
    if (st == SS_OK) {
        st = strcmp(backend, "cuda") == 0 ? ss_perplexity_cuda(&m, NULL, ids, n, (int)ctx, (int)stride, &rec.r, per_token)
                                          : ss_perplexity_cpu(&m, ids, n, (int)ctx, (int)stride, &rec.r, per_token);
    }
    if (st == SS_OK && per_token_path) st = write_per_token(per_token_path, ids, n, per_token);
    free(per_token);
    if (st == SS_OK) {
        snprintf(rec.model, sizeof rec.model, "%s", model_dir);
        base_name(model_dir, rec.model_name, sizeof rec.model_name);
        snprintf(rec.arch, sizeof rec.arch, "%s", ss_arch_name(m.cfg.arch));
        snprintf(rec.quant, sizeof rec.quant, "%s", ss_quant_name(m.quant));
        snprintf(rec.sparsity, sizeof rec.sparsity, "%s", m.sparsity);
        rec.synthetic = m.ckpt ? m.ckpt->meta.synthetic : 0;
        if (m.ckpt) {
            snprintf(rec.prune_method, sizeof rec.prune_method, "%s", m.ckpt->meta.prune_method);
            rec.calib_tokens = m.ckpt->meta.calib_tokens;
        }
        snprintf(rec.backend, sizeof rec.backend, "%s", backend);
        snprintf(rec.input, sizeof rec.input, "%s", text_path ? "text" : "tokens");
        snprintf(rec.input_path, sizeof rec.input_path, "%s", text_path ? text_path : tokens_path);
        const ss_ppl_result *r = &rec.r;
        printf("perplexity %.6f mean_nll %.6f tokens_evaluated %lld of %lld windows %lld ctx %d stride %d seconds %.3f\n",
               r->perplexity, r->mean_nll, (long long)r->n_scored, (long long)r->n_tokens, (long long)r->n_windows,
               r->ctx, r->stride, r->seconds);
        if (rec.synthetic) ss_warn("%s has synthetic weights: its perplexity says nothing about quality", model_dir);
        for (int i = 0; i < n_out && st == SS_OK; i++) st = ss_eval_write(outs[i], &rec);
        ss_info("%s: %.1f tokens/s", backend, r->seconds > 0 ? (double)r->n_scored / r->seconds : 0.0);
    }
    free(ids);
    ss_model_free(&m);
    return st;
}
