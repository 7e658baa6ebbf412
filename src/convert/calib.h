/* Calibration statistics of the block linears' inputs, as plain arrays:
 * what activation-aware pruning (Wanda) needs from a model's forward pass.
 * The engine computes them (engine/calib.h); the convert layer only reads
 * them, so pruning never runs a model itself.
 *
 * Four inputs per layer, each shared by the linears that read it:
 *   SS_CALIB_ATTN_IN  q, k, v   the input_layernorm output        [hidden]
 *   SS_CALIB_O_IN     o         attention output (after attn_sub_norm for BitNet) [q_dim]
 *   SS_CALIB_MLP_IN   gate, up  the post_attention_layernorm output [hidden]
 *   SS_CALIB_DOWN_IN  down      act(gate)*up (after ffn_sub_norm for BitNet) [intermediate]
 * sumsq[i][l * dim[i] + j] = sum over the calibration tokens of x_j^2 for
 * input i of layer l, accumulated in double; Wanda's ||X_j||_2 is its root.
 * gram[i][(l * dim[i] + a) * dim[i] + b] = sum over tokens of x_a x_b
 * (SparseGPT's Hessian up to a factor; only when asked for: K^2 doubles per
 * input and layer). */
#ifndef SS_CONVERT_CALIB_H
#define SS_CONVERT_CALIB_H

#include <stdint.h>

#include "io/checkpoint.h"

typedef enum ss_calib_input { SS_CALIB_ATTN_IN = 0, SS_CALIB_O_IN, SS_CALIB_MLP_IN, SS_CALIB_DOWN_IN, SS_CALIB_INPUTS } ss_calib_input;

typedef struct ss_calib_stats {
    int n_layers;
    int64_t tokens;                      /* calibration tokens that went through every layer */
    int64_t dim[SS_CALIB_INPUTS];        /* K of each input */
    double *sumsq[SS_CALIB_INPUTS];      /* [n_layers * dim[i]] */
    double *gram[SS_CALIB_INPUTS];       /* SparseGPT: X^T X, [n_layers * dim[i] * dim[i]], or NULL */
} ss_calib_stats;

/* The input a block linear reads. */
static inline ss_calib_input ss_calib_input_of(ss_linear_role r) {
    return r <= SS_LIN_V ? SS_CALIB_ATTN_IN : r == SS_LIN_O ? SS_CALIB_O_IN : r == SS_LIN_DOWN ? SS_CALIB_DOWN_IN : SS_CALIB_MLP_IN;
}

#endif
