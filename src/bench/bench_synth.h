/* In-memory synthetic models for the throughput benchmarks: the exact
 * architecture of a preset (BitNet-2B by default) with BitNet-like weights,
 * built in seconds with OpenMP instead of writing and converting checkpoints.
 *
 * Block linears are ternary, like a ternarised Gaussian: P(0) = 79/256
 * (|w| < 0.5 mean|w|), +-1 otherwise, one scale per tensor; embeddings and
 * the tied lm_head are BF16 N(0, 0.02^2); norm weights 1 +- 0.05. The same
 * base serves every variant: INT8 or FP8 E4M3 codes (+-1 and 0 exactly),
 * dense, or pruned to 2:L (ss_prune_matrix) and slid (ss_slide_matrix), the
 * order the reference system used (quantize, then prune and slide). Reports
 * that use these say "synthetic". */
#ifndef SS_BENCH_BENCH_SYNTH_H
#define SS_BENCH_BENCH_SYNTH_H

#include <stdint.h>

#include "core/status.h"
#include "engine/model.h"
#include "io/checkpoint.h"

typedef struct ss_synth_base ss_synth_base;

ss_status ss_synth_base_new(const char *preset, uint64_t seed, ss_synth_base **out);
void ss_synth_base_free(ss_synth_base *b);

typedef struct ss_synth_model {
    ss_model model;  /* points into the base and into `owned` */
    void **owned;    /* arrays this variant allocated */
    int n_owned;
} ss_synth_model;

/* q: SS_QUANT_INT8 or SS_QUANT_FP8; L: 0 dense, else 4..64 even (2_L),
 * pruned and slid. The base must outlive the variant. */
ss_status ss_synth_variant(const ss_synth_base *b, ss_quant q, int L, ss_synth_model *out);
void ss_synth_variant_free(ss_synth_model *v);

#endif
