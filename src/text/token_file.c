#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "text/token_file.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

ss_status ss_token_parse(const char *text, size_t len, const char *what, int32_t **ids, int64_t *n) {
    *ids = NULL;
    *n = 0;
    size_t cap = 1024, k = 0, line = 1, line_start = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return ss_fail(SS_ERR_NOMEM, "%s: no memory for token ids", what);
    int after_comma = 0; /* a comma was seen since the last id: another comma is an empty field */
    size_t i = 0;
    while (i < len) {
        char c = text[i];
        if (is_space(c)) {
            if (c == '\n') line++, line_start = i + 1;
            i++;
            continue;
        }
        if (c == ',') {
            if (after_comma || k == 0) {
                free(v);
                return ss_fail(SS_ERR_FORMAT, "%s:%zu:%zu: empty field before ','", what, line, i - line_start + 1);
            }
            after_comma = 1;
            i++;
            continue;
        }
        if (c < '0' || c > '9') {
            free(v);
            return ss_fail(SS_ERR_FORMAT, "%s:%zu:%zu: '%c' is not part of a token id (decimal ids separated by "
                           "commas or whitespace)", what, line, i - line_start + 1, (c >= 32 && c < 127) ? c : '?');
        }
        int64_t val = 0;
        size_t col = i - line_start + 1;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            val = val * 10 + (text[i++] - '0');
            if (val > INT32_MAX) {
                free(v);
                return ss_fail(SS_ERR_FORMAT, "%s:%zu:%zu: token id is out of range [0, 2^31)", what, line, col);
            }
        }
        if (i < len && !is_space(text[i]) && text[i] != ',') {
            free(v);
            return ss_fail(SS_ERR_FORMAT, "%s:%zu:%zu: '%c' after a token id", what, line, i - line_start + 1,
                           (text[i] >= 32 && text[i] < 127) ? text[i] : '?');
        }
        if (k == cap) {
            int32_t *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                return ss_fail(SS_ERR_NOMEM, "%s: no memory for %zu token ids", what, 2 * cap);
            }
            v = w, cap *= 2;
        }
        v[k++] = (int32_t)val;
        after_comma = 0;
    }
    if (after_comma) {
        free(v);
        return ss_fail(SS_ERR_FORMAT, "%s: ends with ','", what);
    }
    if (k == 0) {
        free(v);
        return ss_fail(SS_ERR_FORMAT, "%s: no token ids", what);
    }
    *ids = v;
    *n = (int64_t)k;
    return SS_OK;
}

ss_status ss_token_file_read(const char *path, int32_t **ids, int64_t *n) {
    char *data;
    size_t len;
    SS_TRY(ss_read_file(path, &data, &len));
    ss_status st = ss_token_parse(data, len, path, ids, n);
    free(data);
    return st;
}

ss_status ss_token_file_write(const char *path, const int32_t *ids, int64_t n) {
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    for (int64_t i = 0; i < n; i++) ss_afile_printf(&f, "%d%c", ids[i], (i % 32 == 31 || i == n - 1) ? '\n' : ' ');
    return ss_afile_commit(&f);
}
