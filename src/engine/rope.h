/* RoPE frequencies of every rope_type this project implements, computed once
 * on the host and used by both engines (the CPU engine rotates with them,
 * the CUDA engine builds its cos/sin table from them), so the two can only
 * differ in the rotation arithmetic, never in the frequencies.
 *
 * Follows transformers' modeling_rope_utils.py (5.x), in double precision:
 *   default  inv_freq[i] = theta^(-2i/D), i < D/2 (D = head_dim)
 *   linear   default / factor
 *   dynamic  default while every position is below max_position_embeddings
 *            (transformers rescales theta per forward call beyond it, from
 *            the largest position of that call; not implemented: refused)
 *   yarn     ramp between default / factor and default over the correction
 *            range of beta_fast..beta_slow rotations; cos and sin scaled by
 *            attention_factor (given, or 0.1 * mscale * ln(factor) + 1,
 *            or the mscale / mscale_all_dim ratio)
 *   llama3   wavelengths above original/low_freq_factor slowed by factor,
 *            below original/high_freq_factor kept, smoothed between
 */
#ifndef SS_ENGINE_ROPE_H
#define SS_ENGINE_ROPE_H

#include "core/status.h"
#include "io/config.h"

/* inv_freq [head_dim/2] and *cos_sin_scale (transformers' attention_scaling,
 * multiplying both cos and sin; 1 except for yarn) for positions below
 * max_len. SS_ERR_UNSUPPORTED when max_len needs what is not implemented. */
ss_status ss_rope_frequencies(const ss_model_config *cfg, int max_len, double *inv_freq, double *cos_sin_scale);

#endif
