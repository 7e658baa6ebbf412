/* Token files: a sequence of token ids as text, the input of `eval
 * --tokens` and `--calib` and what `tokenize` writes.
 *
 * Format: decimal integers separated by commas and/or whitespace (spaces,
 * tabs, newlines), as `generate` prints them ("5,7,9") or one per line.
 * Nothing else is accepted: a sign, a letter, an empty field between two
 * commas or a value outside [0, 2^31) is refused naming the line and
 * column. */
#ifndef SS_TEXT_TOKEN_FILE_H
#define SS_TEXT_TOKEN_FILE_H

#include <stdint.h>

#include "core/status.h"

/* Parses text[0..len) (need not be NUL-terminated); *ids malloc'd. what
 * names the source in errors. At least one id is required. */
ss_status ss_token_parse(const char *text, size_t len, const char *what, int32_t **ids, int64_t *n);
/* Reads a token file. */
ss_status ss_token_file_read(const char *path, int32_t **ids, int64_t *n);
/* Writes ids, space-separated, 32 per line (atomic). */
ss_status ss_token_file_write(const char *path, const int32_t *ids, int64_t n);

#endif
