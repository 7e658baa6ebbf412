/* Calibration for activation-aware pruning: runs calibration tokens through
 * the CPU reference engine and collects each block linear input's statistics
 * (convert/calib.h), which prune/convert then take as plain arrays.
 *
 * The tokens are cut into windows of ctx tokens (the last one may be
 * shorter), each run as a fresh sequence from position 0, so a window sees
 * no context from the one before it (as Wanda's and SparseGPT's calibration
 * samples do). Statistics come from one pass of the model as given: layer l's
 * inputs are those of the unpruned layers before it (not the papers'
 * layer-by-layer pass that feeds pruned outputs forward). */
#ifndef SS_ENGINE_CALIB_H
#define SS_ENGINE_CALIB_H

#include <stdint.h>

#include "convert/calib.h"
#include "core/status.h"
#include "engine/model.h"

/* tokens: [n_tokens] ids; ctx: window length (1..cfg.max_pos); with_gram:
 * also X^T X per input (SparseGPT; K^2 doubles per input and layer: for
 * BitNet-2B that is 16 GB, so it is refused above SS_CALIB_GRAM_MAX_BYTES).
 * out is allocated here; release with ss_calib_stats_free. */
ss_status ss_calib_collect(const ss_model *m, const int32_t *tokens, int64_t n_tokens, int ctx, int with_gram,
                           ss_calib_stats *out);
/* Zeroed statistics for m's shapes (what ss_calib_collect starts from). */
ss_status ss_calib_stats_alloc(const ss_model_config *cfg, int with_gram, ss_calib_stats *out);
#define SS_CALIB_GRAM_MAX_BYTES ((int64_t)4 << 30)
void ss_calib_stats_free(ss_calib_stats *s);

#endif
