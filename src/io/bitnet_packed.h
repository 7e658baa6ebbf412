/* BitNet's packed ternary checkpoints (microsoft/bitnet-b1.58-2B-4T:
 * quantization_config {"quant_method": "bitnet", "linear_class":
 * "bitlinear", "quantization_mode": "offline"}), read as transformers'
 * integrations/bitnet.py writes and reads them:
 *
 *   "<prefix>.weight"        U8 [N/4, K]: byte (r, k) holds in bits 2i..2i+1
 *                            the code q + 1 (0, 1, 2) of weight (i*N/4 + r, k),
 *                            i = 0..3 (pack_weights / unpack_weights)
 *   "<prefix>.weight_scale"  one value (BF16, F16 or F32; shape [1] or []):
 *                            bitlinear: W = q / weight_scale (BitLinear divides);
 *                            autobitlinear offline: W = q * weight_scale
 *
 * Only the block linears are packed; embeddings, norms and lm_head stay BF16. */
#ifndef SS_IO_BITNET_PACKED_H
#define SS_IO_BITNET_PACKED_H

#include <stdint.h>

#include "core/status.h"
#include "io/checkpoint.h"

/* packed [N/4, K] -> q [N, K] in {-1, 0, 1}. N must be a multiple of 4. A
 * code 3 (no ternary value) is an error naming `what` and the position. */
ss_status ss_bitnet_unpack(const uint8_t *packed, int64_t N, int64_t K, int8_t *q, const char *what);

/* The block linear weight_name ("<prefix>.weight") of logical shape [N, K]
 * of a packed checkpoint (c->cfg.hf_quant SS_HFQ_BITNET_PACKED_DIV or _MUL):
 * checks both tensors, unpacks into codes [N, K] and returns the per-tensor
 * scale s with W = q * s (positive and finite). */
ss_status ss_ckpt_bitnet_linear(const ss_checkpoint *c, const char *weight_name, int64_t N, int64_t K, int8_t *codes,
                                float *scale);

/* "<block linear weight>_scale": the packed checkpoint's scale tensors, which
 * the unpacked (or re-quantized) output replaces. */
int ss_is_block_linear_scale(const char *name);

#endif
