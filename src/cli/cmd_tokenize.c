/* tokenize: a text file to a token file (text/token_file.h) with a
 * checkpoint's tokenizer, or (--bytes) one id per byte for checkpoints that
 * have no tokenizer (synthetic weights: the pipeline's quality smoke test). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "text/token_file.h"
#include "text/tokenizer.h"

static const char *g_help =
    "(--tokenizer PATH | --bytes) --text FILE [--out FILE] [--no-special]\n"
    "  Encodes a UTF-8 text with a tokenizer.json (PATH: the file or a checkpoint folder), with\n"
    "  the special tokens its post-processor adds (Llama-3: BOS first) unless --no-special, and\n"
    "  writes the ids as a token file (default: stdout), the input of eval --tokens.\n"
    "  --bytes: no tokenizer; each byte of the file is one id (0..255). For checkpoints that have\n"
    "  no tokenizer (synthetic weights); on a trained model the ids mean nothing.";

ss_status cmd_tokenize(int argc, char **argv) {
    static const struct option longopts[] = {
        {"tokenizer", required_argument, 0, 'k'}, {"text", required_argument, 0, 'x'},
        {"out", required_argument, 0, 'o'},       {"no-special", no_argument, 0, 'n'},
        {"bytes", no_argument, 0, 'B'},           {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *tokenizer = NULL, *text_path = NULL, *out = NULL;
    int special = 1, bytes = 0, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': tokenizer = optarg; break;
        case 'x': text_path = optarg; break;
        case 'o': out = optarg; break;
        case 'n': special = 0; break;
        case 'B': bytes = 1; break;
        case 'h': printf("usage: slidesparse tokenize %s\n", g_help); return SS_OK;
        default: return cli_bad_usage("tokenize", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("tokenize", argc, argv);
    if (!tokenizer == !bytes) return ss_fail(SS_ERR_ARG, "tokenize: give one of --tokenizer PATH and --bytes");
    if (bytes && !special) return ss_fail(SS_ERR_ARG, "tokenize: --no-special goes with --tokenizer (--bytes adds none)");
    SS_TRY(cli_require("tokenize", "--text", text_path));
    ss_tokenizer *tk = NULL;
    if (tokenizer) SS_TRY_CTX(ss_tokenizer_load(tokenizer, &tk), "tokenizer");
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int64_t n = 0;
    ss_status st = ss_read_file(text_path, &text, &len);
    if (st == SS_OK && tk) st = ss_context(ss_tokenizer_encode(tk, text, len, special, &ids, &n), "%s", text_path);
    if (st == SS_OK && !tk && len > 0) {
        if (!(ids = malloc(len * sizeof *ids))) st = ss_fail(SS_ERR_NOMEM, "tokenize: no memory for %zu ids", len);
        for (size_t i = 0; st == SS_OK && i < len; i++) ids[i] = (unsigned char)text[i];
        n = st == SS_OK ? (int64_t)len : 0;
    }
    if (st == SS_OK && n == 0) st = ss_fail(SS_ERR_ARG, "tokenize: %s encodes to no tokens", text_path);
    if (st == SS_OK && out) st = ss_token_file_write(out, ids, n);
    if (st == SS_OK && !out)
        for (int64_t i = 0; i < n; i++) printf("%d%c", ids[i], (i % 32 == 31 || i == n - 1) ? '\n' : ' ');
    free(text);
    free(ids);
    ss_tokenizer_free(tk);
    return st;
}
