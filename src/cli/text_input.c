/* Text given to a command: read, then encoded with a checkpoint's tokenizer. */
#include <stdlib.h>

#include "cli/cli.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "text/tokenizer.h"

ss_status cli_encode_text(const char *text, size_t len, const char *tokenizer_path, int32_t **ids, int64_t *n,
                          int *special_added) {
    ss_tokenizer *tk;
    SS_TRY_CTX(ss_tokenizer_load(tokenizer_path, &tk), "tokenizer");
    const int32_t *pre, *suf;
    int np, ns;
    ss_tokenizer_special_affixes(tk, &pre, &np, &suf, &ns);
    ss_status st = ss_tokenizer_encode(tk, text, len, 1, ids, n);
    if (st == SS_OK) {
        if (special_added) *special_added = np > 0;
        ss_debug("tokenizer %s: %lld tokens, %d special before and %d after the text", tokenizer_path, (long long)*n,
                 np, ns);
    }
    ss_tokenizer_free(tk);
    return st;
}

ss_status cli_encode_file(const char *path, const char *tokenizer_path, int32_t **ids, int64_t *n,
                          int *special_added) {
    char *text;
    size_t len;
    SS_TRY(ss_read_file(path, &text, &len));
    ss_status st = cli_encode_text(text, len, tokenizer_path, ids, n, special_added);
    free(text);
    return ss_context(st, "%s", path);
}
