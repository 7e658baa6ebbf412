/* Token-id files: decimal ids separated by whitespace and/or commas (one per
 * line, as scripts/train_quality_model.py writes them, or "1,2,3"). What
 * `--calib-tokens FILE` reads. */
#ifndef SS_IO_TOKENS_H
#define SS_IO_TOKENS_H

#include <stdint.h>

#include "core/status.h"

/* ids malloc'd; every id must be in [0, INT32_MAX]. An empty file is an error. */
ss_status ss_tokens_load(const char *path, int32_t **ids, int64_t *n);

#endif
