/* generate: greedy decoding; prints the new token ids on one line (stdout),
 * or with --prompt TEXT the decoded text of the new tokens. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "core/npy.h"
#include "engine/generate.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/model.h"
#include "text/tokenizer.h"

static const char *g_help =
    "--model DIR (--prompt-ids 1,2,3 | --prompt TEXT [--tokenizer PATH]) --max-new N [--backend cpu|cuda]\n"
    "       [--ignore-eos] [--logits FILE]\n"
    "  Greedy decoding. With --prompt-ids, prints the generated ids, comma-separated, on one line.\n"
    "  With --prompt, the text is encoded with the model's tokenizer.json (or --tokenizer PATH)\n"
    "  and the special tokens its post-processor adds (Llama-3: BOS first), as transformers'\n"
    "  tokenizer(text) does, and the generated tokens are printed as text (special tokens\n"
    "  included, as tokenizers' decode(ids) without skip_special_tokens).\n"
    "  Timings go to stderr. Stops at the model's eos token unless --ignore-eos.\n"
    "  --logits FILE writes the logits every generated id was chosen from as a NumPy\n"
    "  .npy file: float32 (little-endian) [n_generated, vocab], C order; row 0 holds\n"
    "  the logits at the prompt's last position, row k those after feeding id k-1,\n"
    "  so argmax(row k) is generated id k. Written to FILE.tmp.<pid>, renamed when complete.\n"
    "  With --backend cuda every step then runs eagerly (no CUDA graph).";

/* --logits: each step's row appended to the .npy file. */
static ss_status write_logits_row(void *ctx, int step, const float *logits, int vocab) {
    (void)step, (void)vocab;
    return ss_npy_f32_append(ctx, logits);
}

ss_status cmd_generate(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},    {"prompt-ids", required_argument, 0, 'p'},
        {"max-new", required_argument, 0, 'n'},  {"backend", required_argument, 0, 'b'},
        {"ignore-eos", no_argument, 0, 'e'},     {"logits", required_argument, 0, 'l'},
        {"prompt", required_argument, 0, 't'},   {"tokenizer", required_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    const char *model_dir = NULL, *prompt = NULL, *backend = "cpu", *logits_path = NULL;
    const char *text = NULL, *tokenizer = NULL;
    int64_t max_new = -1;
    int ignore_eos = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_dir = optarg; break;
        case 'p': prompt = optarg; break;
        case 'n': SS_TRY(cli_parse_i64("--max-new", optarg, 1, 1 << 20, &max_new)); break;
        case 'b': backend = optarg; break;
        case 'e': ignore_eos = 1; break;
        case 'l': logits_path = optarg; break;
        case 't': text = optarg; break;
        case 'k': tokenizer = optarg; break;
        case 'h': printf("usage: slidesparse generate %s\n", g_help); return SS_OK;
        default: return cli_bad_usage("generate", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("generate", argc, argv);
    SS_TRY(cli_require("generate", "--model", model_dir));
    if (!prompt == !text)
        return ss_fail(SS_ERR_ARG, "generate: give one of --prompt-ids and --prompt (see slidesparse generate --help)");
    if (tokenizer && !text) return ss_fail(SS_ERR_ARG, "generate: --tokenizer goes with --prompt");
    if (!tokenizer) tokenizer = model_dir;
    if (max_new < 0) return ss_fail(SS_ERR_ARG, "generate: missing --max-new (see slidesparse generate --help)");
    if (strcmp(backend, "cpu") != 0 && strcmp(backend, "cuda") != 0)
        return ss_fail(SS_ERR_ARG, "generate: unknown backend '%s' (cpu or cuda)", backend);
    const int on_gpu = strcmp(backend, "cuda") == 0;

    int32_t *ids = NULL;
    int n_prompt = 0;
    ss_tokenizer *tk = NULL; /* --prompt: encodes the prompt, decodes the output */
    if (text) {
        int64_t n = 0;
        SS_TRY_CTX(ss_tokenizer_load(tokenizer, &tk), "tokenizer");
        ss_status est = ss_tokenizer_encode(tk, text, strlen(text), 1, &ids, &n);
        if (est == SS_OK && (n == 0 || n > INT32_MAX / 2))
            est = ss_fail(SS_ERR_ARG, "generate: the prompt encodes to %lld tokens", (long long)n);
        if (est != SS_OK) {
            free(ids);
            ss_tokenizer_free(tk);
            return est;
        }
        n_prompt = (int)n;
    } else {
        int64_t *ids64;
        SS_TRY(cli_parse_int_list("--prompt-ids", prompt, 0, INT32_MAX, &ids64, &n_prompt));
        ids = malloc((size_t)n_prompt * sizeof *ids);
        for (int i = 0; ids && i < n_prompt; i++) ids[i] = (int32_t)ids64[i];
        free(ids64);
    }
    int32_t *out = malloc((size_t)max_new * sizeof *out);
    ss_model m;
    ss_status st = (ids && out) ? SS_OK : ss_fail(SS_ERR_NOMEM, "generate: out of memory");
    if (st == SS_OK) st = ss_model_load(model_dir, &m);
    if (st == SS_OK) {
        int n_out = 0;
        ss_gen_stats gs;
        ss_npy_writer npy;
        if (logits_path) {
            st = ss_npy_f32_open(&npy, logits_path, m.cfg.vocab);
            if (st == SS_OK && on_gpu)
                st = ss_generate_cuda_logits(&m, NULL, ids, n_prompt, (int)max_new, !ignore_eos, out, &n_out, &gs,
                                             write_logits_row, &npy);
            else if (st == SS_OK)
                st = ss_generate_cpu_logits(&m, ids, n_prompt, (int)max_new, !ignore_eos, out, &n_out, &gs,
                                            write_logits_row, &npy);
            if (st == SS_OK) st = ss_npy_f32_commit(&npy);
            else ss_npy_f32_abort(&npy);
        } else {
            st = on_gpu ? ss_generate_cuda_opts(&m, NULL, ids, n_prompt, (int)max_new, !ignore_eos, out, &n_out, &gs)
                        : ss_generate_cpu_stats(&m, ids, n_prompt, (int)max_new, !ignore_eos, out, &n_out, &gs);
        }
        if (st == SS_OK && tk) {
            char *decoded;
            size_t len;
            st = ss_tokenizer_decode(tk, out, n_out, 0, &decoded, &len);
            if (st == SS_OK) {
                fwrite(decoded, 1, len, stdout);
                printf("\n");
                free(decoded);
            }
            if (ss_log_get_level() >= SS_LOG_DEBUG) {
                fprintf(stderr, "prompt ids:");
                for (int i = 0; i < n_prompt; i++) fprintf(stderr, "%s%d", i ? "," : " ", ids[i]);
                fprintf(stderr, "\ngenerated ids:");
                for (int i = 0; i < n_out; i++) fprintf(stderr, "%s%d", i ? "," : " ", out[i]);
                fprintf(stderr, "\n");
            }
        } else if (st == SS_OK) {
            for (int i = 0; i < n_out; i++) printf("%s%d", i ? "," : "", out[i]);
            printf("\n");
        }
        if (st == SS_OK)
            ss_info("%s: prefill %d tokens %.3f s, decode %d tokens %.3f s (%.1f tok/s)", backend, gs.n_prompt, gs.prefill_s,
                    gs.n_new > 0 ? gs.n_new - 1 : 0, gs.decode_s,
                    gs.decode_s > 0 ? (gs.n_new - 1) / gs.decode_s : 0.0);
        ss_model_free(&m);
    }
    ss_tokenizer_free(tk);
    free(ids);
    free(out);
    return st;
}
