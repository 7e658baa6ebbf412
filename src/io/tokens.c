/* Token-id files (see tokens.h). */
#include "io/tokens.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"

ss_status ss_tokens_load(const char *path, int32_t **ids, int64_t *n) {
    *ids = NULL;
    *n = 0;
    char *text;
    size_t len;
    SS_TRY(ss_read_file(path, &text, &len));
    int64_t cap = 1;
    for (size_t i = 0; i < len; i++) cap += text[i] == ',' || isspace((unsigned char)text[i]);
    int32_t *v = malloc((size_t)cap * sizeof *v);
    ss_status st = v ? SS_OK : ss_fail(SS_ERR_NOMEM, "%s: no memory for %lld ids", path, (long long)cap);
    int64_t k = 0, line = 1;
    for (size_t i = 0; i < len && st == SS_OK;) {
        const unsigned char c = (unsigned char)text[i];
        if (c == ',' || isspace(c)) {
            line += c == '\n';
            i++;
            continue;
        }
        if (!isdigit(c)) {
            st = ss_fail(SS_ERR_FORMAT, "%s:%lld: '%c' is not part of a token id (decimal ids separated by "
                         "whitespace or commas)", path, (long long)line, isprint(c) ? c : '?');
            break;
        }
        int64_t id = 0;
        while (i < len && isdigit((unsigned char)text[i]) && id <= INT32_MAX) id = id * 10 + (text[i++] - '0');
        if (id > INT32_MAX) {
            st = ss_fail(SS_ERR_FORMAT, "%s:%lld: token id too large", path, (long long)line);
            break;
        }
        if (i < len && !(text[i] == ',' || isspace((unsigned char)text[i]))) {
            st = ss_fail(SS_ERR_FORMAT, "%s:%lld: a token id runs into '%c'", path, (long long)line,
                         isprint((unsigned char)text[i]) ? text[i] : '?');
            break;
        }
        v[k++] = (int32_t)id;
    }
    free(text);
    if (st == SS_OK && k == 0) st = ss_fail(SS_ERR_FORMAT, "%s: no token ids", path);
    if (st != SS_OK) {
        free(v);
        return st;
    }
    *ids = v;
    *n = k;
    return SS_OK;
}
