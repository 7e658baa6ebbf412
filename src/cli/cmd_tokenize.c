/* tokenize: a text file to a token file (text/token_file.h) with a checkpoint's tokenizer. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "text/token_file.h"
#include "text/tokenizer.h"

static const char *g_help =
    "--tokenizer PATH --text FILE [--out FILE] [--no-special]\n"
    "  Encodes a UTF-8 text with a tokenizer.json (PATH: the file or a checkpoint folder), with\n"
    "  the special tokens its post-processor adds (Llama-3: BOS first) unless --no-special, and\n"
    "  writes the ids as a token file (default: stdout), the input of eval --tokens.";

ss_status cmd_tokenize(int argc, char **argv) {
    static const struct option longopts[] = {
        {"tokenizer", required_argument, 0, 'k'}, {"text", required_argument, 0, 'x'},
        {"out", required_argument, 0, 'o'},       {"no-special", no_argument, 0, 'n'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0},
    };
    const char *tokenizer = NULL, *text_path = NULL, *out = NULL;
    int special = 1, c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': tokenizer = optarg; break;
        case 'x': text_path = optarg; break;
        case 'o': out = optarg; break;
        case 'n': special = 0; break;
        case 'h': printf("usage: slidesparse tokenize %s\n", g_help); return SS_OK;
        default: return cli_bad_usage("tokenize", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("tokenize", argc, argv);
    SS_TRY(cli_require("tokenize", "--tokenizer", tokenizer));
    SS_TRY(cli_require("tokenize", "--text", text_path));
    ss_tokenizer *tk;
    SS_TRY_CTX(ss_tokenizer_load(tokenizer, &tk), "tokenizer");
    char *text = NULL;
    size_t len = 0;
    int32_t *ids = NULL;
    int64_t n = 0;
    ss_status st = ss_read_file(text_path, &text, &len);
    if (st == SS_OK) st = ss_context(ss_tokenizer_encode(tk, text, len, special, &ids, &n), "%s", text_path);
    if (st == SS_OK && n == 0) st = ss_fail(SS_ERR_ARG, "tokenize: %s encodes to no tokens", text_path);
    if (st == SS_OK && out) st = ss_token_file_write(out, ids, n);
    if (st == SS_OK && !out)
        for (int64_t i = 0; i < n; i++) printf("%d%c", ids[i], (i % 32 == 31 || i == n - 1) ? '\n' : ' ');
    free(text);
    free(ids);
    ss_tokenizer_free(tk);
    return st;
}
