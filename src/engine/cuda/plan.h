/* Host-side scheduling of one batch's attention onto the GPU kernels (pure C,
 * tested on the CPU): batch rows are cut into runs (adjacent rows of one
 * sequence at consecutive positions). Runs of two or more rows become
 * prefill tiles of up to SS_ATTN_TILE_ROWS rows for the flash kernel, largest
 * context first so the longest blocks start first; single rows (decode
 * tokens) go to the decode kernel, which splits long contexts instead. */
#ifndef SS_ENGINE_CUDA_PLAN_H
#define SS_ENGINE_CUDA_PLAN_H

#include <stdint.h>

#include "engine/cuda/kernels.h"
#include "engine/forward_cpu.h"

/* Most tiles a batch of n rows can need: a run of r >= 2 rows takes
 * ceil(r / 64) <= r / 2 tiles, so n bounds the total. */
static inline int ss_attn_plan_max_tiles(int n) { return n > 0 ? n : 1; }

/* tiles: room for ss_attn_plan_max_tiles(b->n); decode_rows: room for b->n.
 * The batch must already satisfy ss_batch's rules (checked by the engine). */
void ss_attn_plan(const ss_batch *b, ss_attn_tile *tiles, int *n_tiles, int32_t *decode_rows, int *n_decode);

#endif
