/* Checkpoint-level conversions behind the CLI: synth, quantize, prune, convert.
 * Each reads one checkpoint folder and writes another atomically; only the
 * block linear weights change, everything else is copied as is. */
#ifndef SS_CONVERT_CONVERT_H
#define SS_CONVERT_CONVERT_H

#include <stdint.h>

#include "convert/calib.h"
#include "convert/prune.h"
#include "convert/quantize.h"
#include "core/status.h"
#include "io/checkpoint.h"

/* BF16 checkpoint with the exact architecture of a preset (ss_config_preset),
 * deterministic from seed; slidesparse.json says source "synthetic:<seed>". */
ss_status ss_synth(const char *arch, const char *out_dir, uint64_t seed);
/* The tensors of an architecture in the Hugging Face layout, as synth writes
 * them (all BF16, in file order): embeddings, per layer norms, q/k/v(+bias),
 * sub-norms, o, gate/up/down, final norm, lm_head unless tied. Also the
 * shapes quantize/prune/convert check block linears against. Names are
 * malloc'd: release with ss_synth_specs_free. */
ss_status ss_synth_specs(const ss_model_config *c, ss_st_spec **specs, int *n);
void ss_synth_specs_free(ss_st_spec *specs, int n);

/* quantize: qdtype SS_QUANT_INT8 / SS_QUANT_FP8; scheme < 0 picks the
 * architecture's default (ternary for BitNet, absmax otherwise). */
ss_status ss_quantize_checkpoint(const char *in_dir, const char *out_dir, ss_quant q, int scheme);
/* How prune/convert choose and place zeros. */
typedef struct ss_prune_opts {
    int L;                      /* one sparsity for every block linear (ignored with recipe_file) */
    const char *recipe_file;    /* per-linear sparsities (convert/recipe.h), or NULL */
    ss_prune_method method;     /* magnitude (default), wanda or sparsegpt */
    const ss_calib_stats *calib; /* wanda, sparsegpt: the block linears' input statistics (gram for sparsegpt) */
    int block;                  /* sparsegpt: columns per lazy-update block (0: 128) */
} ss_prune_opts;

/* prune only (K unchanged); L from ss_sparsity_parse (no 2_inf). */
ss_status ss_prune_checkpoint(const char *in_dir, const char *out_dir, int L);
ss_status ss_prune_checkpoint_opts(const char *in_dir, const char *out_dir, const ss_prune_opts *o);
/* prune + slide (K -> K_slid); 2_inf slides without pruning. A recipe's
 * "dense" linears are copied as they are. */
ss_status ss_convert_checkpoint(const char *in_dir, const char *out_dir, int L);
ss_status ss_convert_checkpoint_opts(const char *in_dir, const char *out_dir, const ss_prune_opts *o);

#endif
