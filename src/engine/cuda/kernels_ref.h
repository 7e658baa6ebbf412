/* CPU twins of the GPU engine's kernels (kernels.h), written like the CPU
 * reference engine (engine/forward_cpu.c) so each GPU kernel can be tested
 * alone. GEMM outputs are dequantized with ss_dequant_ref (gemm/gemm_ref.h)
 * and quantization is ss_quant_act_ref / ss_quant_slide_act_ref
 * (gemm/linear.h): the same formulas the kernels use. */
#ifndef SS_ENGINE_CUDA_KERNELS_REF_H
#define SS_ENGINE_CUDA_KERNELS_REF_H

#include <stdint.h>

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/status.h"
#include "engine/cuda/kernels.h"

#define SS_REF_MAX_HEAD_DIM 256

/* out[M, n] = x / sqrt(mean(x^2) + eps) * w (w NULL: out = x). */
void ss_ref_rmsnorm(float *out, const float *x, const float *w, int64_t M, int64_t n, double eps);

/* The rows y[M, n] written as a kernel's xview: data [M_pad, ld] of dtype
 * (BF16, I8, F8_E4M3; slid when slide != NULL), scale [M_pad] for the
 * quantized dtypes; padding rows zero with scale 1, padding columns zero. */
ss_status ss_ref_xview(const float *y, int64_t M, int64_t n, ss_dtype dtype, const ss_slide_geom *slide, int64_t ld,
                       void *data, float *scale);

/* h[M, I] = act(gate) * up from a gate_up [M, 2I] of floats (act 0 relu^2, 1 silu). */
void ss_ref_act(const float *gate_up, int64_t M, int64_t I, int act, float *h);

/* RoPE table: [max_len, head_dim/2, 2] doubles (cos, sin of pos * inv_freq, each
 * times scale; inv_freq and scale from ss_rope_frequencies, engine/rope.h). */
void ss_ref_rope_table(const double *inv_freq, double scale, int head_dim, int max_len, double *rope);

/* ss_k_rope_kv's twin: qkv [M, ld] floats (the dequantized GEMM output);
 * caches [max_seqs, n_kv_heads, max_len, head_dim] BF16. */
ss_status ss_ref_rope_kv(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                         const double *rope, const ss_attn_geom *g, uint16_t *k_cache, uint16_t *v_cache);

/* Attention of M tokens (any mix of prefill and decode) over the caches, as
 * the CPU engine computes it: q rotated in double, kept in float. att: [M,
 * n_heads * head_dim]. */
ss_status ss_ref_attention(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                           const double *rope, const ss_attn_geom *g, const uint16_t *k_cache,
                           const uint16_t *v_cache, float *att);

/* ss_k_attention_decode_tc's twin, step for step: rows[j] of the batch
 * (one token each, at pos[rows[j]]) over contexts cut into chunks of
 * `chunk` positions (> 0, a multiple of 64), tiles of 64, 16 positions per
 * warp; q (rotated, scaled by log2(e)/sqrt(D)) and P as BF16 hi + lo parts
 * whose products are summed separately in float, online softmax in log2
 * units per warp, warps merged, then the chunks. att rows other than
 * rows[j] are left as they are. (The tensor cores sum in another order;
 * everything else is the same arithmetic.) */
ss_status ss_ref_attention_decode_tc(const float *qkv, int64_t ld, const int32_t *rows, int n_rows, const int32_t *seq,
                                     const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                                     const uint16_t *k_cache, const uint16_t *v_cache, float *att);

/* The FP8 cache (kernels.h's ss_kv_f8, host pointers): ss_k_rope_kv_f8's
 * twin (rows quantized with ss_quant_act_ref), the CPU engine's attention
 * over it (K/V dequantized: code value times row scale), and the
 * tensor-core decode kernel's twin over it (FP16 hi + lo parts, the K scale
 * on each score, the V scale folded into P). */
ss_status ss_ref_rope_kv_f8(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                            const double *rope, const ss_attn_geom *g, const ss_kv_f8 *kv);
ss_status ss_ref_attention_f8(const float *qkv, int64_t ld, int M, const int32_t *seq, const int32_t *pos,
                              const double *rope, const ss_attn_geom *g, const ss_kv_f8 *kv, float *att);
ss_status ss_ref_attention_decode_tc_f8(const float *qkv, int64_t ld, const int32_t *rows, int n_rows,
                                        const int32_t *seq, const int32_t *pos, const double *rope,
                                        const ss_attn_geom *g, int chunk, const ss_kv_f8 *kv, float *att);

#endif
