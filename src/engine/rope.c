/* RoPE frequencies (see rope.h). Each function mirrors the transformers
 * function named in its comment; variable names follow that code. */
#include "engine/rope.h"

#include <math.h>

static void default_freq(const ss_model_config *cfg, double *inv_freq) {
    const int D = cfg->head_dim;
    for (int i = 0; i < D / 2; i++) inv_freq[i] = pow(cfg->rope_theta, -2.0 * i / D);
}

/* _compute_llama3_parameters */
static void llama3(const ss_model_config *cfg, double *inv_freq) {
    const double old_len = cfg->rope_orig_max_pos, factor = cfg->rope_factor;
    const double low_wavelen = old_len / cfg->rope_low_freq, high_wavelen = old_len / cfg->rope_high_freq;
    for (int i = 0; i < cfg->head_dim / 2; i++) {
        double f = inv_freq[i];
        const double wavelen = 2.0 * M_PI / f;
        if (wavelen > low_wavelen) {
            f = f / factor;
        } else if (wavelen >= high_wavelen) {
            double smooth = (old_len / wavelen - cfg->rope_low_freq) / (cfg->rope_high_freq - cfg->rope_low_freq);
            f = (1.0 - smooth) * f / factor + smooth * f;
        }
        inv_freq[i] = f;
    }
}

/* get_mscale of _compute_yarn_parameters */
static double yarn_mscale(double scale, double mscale) { return scale <= 1 ? 1.0 : 0.1 * mscale * log(scale) + 1.0; }

/* find_correction_dim: the dimension whose wavelength fits num_rotations times into the original context */
static double correction_dim(double num_rotations, int dim, double base, double orig) {
    return (dim * log(orig / (num_rotations * 2.0 * M_PI))) / (2.0 * log(base));
}

/* _compute_yarn_parameters; returns attention_factor */
static double yarn(const ss_model_config *cfg, double *inv_freq) {
    const int dim = cfg->head_dim;
    const double base = cfg->rope_theta, factor = cfg->rope_factor, orig = cfg->rope_orig_max_pos;
    double attention_factor = cfg->rope_attn_factor;
    if (!(attention_factor > 0)) {
        if (cfg->rope_mscale != 0 && cfg->rope_mscale_all_dim != 0)
            attention_factor = yarn_mscale(factor, cfg->rope_mscale) / yarn_mscale(factor, cfg->rope_mscale_all_dim);
        else
            attention_factor = yarn_mscale(factor, 1.0);
    }
    const double beta_fast = cfg->rope_beta_fast != 0 ? cfg->rope_beta_fast : 32.0;
    const double beta_slow = cfg->rope_beta_slow != 0 ? cfg->rope_beta_slow : 1.0;
    /* find_correction_range */
    double low = correction_dim(beta_fast, dim, base, orig), high = correction_dim(beta_slow, dim, base, orig);
    if (!cfg->rope_untruncated) low = floor(low), high = ceil(high);
    if (low < 0) low = 0;
    if (high > dim - 1) high = dim - 1;
    if (low == high) high += 0.001; /* linear_ramp_factor: prevent a singularity */
    for (int i = 0; i < dim / 2; i++) {
        double ramp = (i - low) / (high - low);
        ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
        const double extrapolation_factor = 1.0 - ramp;
        const double extrapolation = inv_freq[i], interpolation = inv_freq[i] / factor;
        inv_freq[i] = interpolation * (1.0 - extrapolation_factor) + extrapolation * extrapolation_factor;
    }
    return attention_factor;
}

ss_status ss_rope_frequencies(const ss_model_config *cfg, int max_len, double *inv_freq, double *cos_sin_scale) {
    *cos_sin_scale = 1.0;
    default_freq(cfg, inv_freq);
    switch (cfg->rope_type) {
    case SS_ROPE_DEFAULT: return SS_OK;
    case SS_ROPE_LINEAR:
        for (int i = 0; i < cfg->head_dim / 2; i++) inv_freq[i] /= cfg->rope_factor;
        return SS_OK;
    case SS_ROPE_DYNAMIC:
        /* _compute_dynamic_ntk_parameters at seq_len <= max_position_embeddings is the default */
        if (max_len > cfg->max_pos)
            return ss_fail(SS_ERR_UNSUPPORTED,
                           "rope_type 'dynamic' beyond max_position_embeddings (%d positions asked, %d allowed) is not "
                           "supported: transformers rescales theta per forward call there",
                           max_len, cfg->max_pos);
        return SS_OK;
    case SS_ROPE_YARN: *cos_sin_scale = yarn(cfg, inv_freq); return SS_OK;
    case SS_ROPE_LLAMA3: llama3(cfg, inv_freq); return SS_OK;
    }
    return ss_fail(SS_ERR_INTERNAL, "RoPE: unknown rope type %d", (int)cfg->rope_type);
}
