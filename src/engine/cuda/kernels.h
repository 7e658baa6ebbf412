/* The CUDA kernels of the GPU engine, as C entry points (device pointers,
 * asynchronous on `stream`). Each has a CPU twin in kernels_ref.h and a GPU
 * test against it (tests/test_engine_cuda_kernels.c).
 *
 * Two views connect the kernels to the GEMM layer (gemm/gemm.h):
 *  - ss_yview: a GEMM output [M_pad, ld] in any of its output modes. The
 *    consumer kernel (residual add, RoPE + KV write, attention, activation)
 *    finishes the dequantization on load, exactly as ss_gemm_dequant would:
 *      BF16          y = out                          (already final)
 *      BF16_CHANNEL  y = bf16(out * sx[m] + bias[n])  (out = bf16(acc * sw[n]))
 *      ACC (I32/F32) y = bf16(((float)acc * sx[m]) * sw[n] + bias[n])
 *      BF16_ACC      the same with acc = bf16(acc) (cuSPARSELt FP8, unscaled)
 *    each step rounded to FP32 with no fused multiply-add, as the CPU
 *    reference linear (gemm/linear.h) does.
 *  - ss_xview: the next GEMM's activation operand [M_pad, ld]: BF16 (rounded),
 *    or INT8 / FP8 E4M3 quantized per token (scale[m]), slid when the weight
 *    is. Rows M..M_pad-1 and columns past the data are written as zeros
 *    (scale 1), the GEMM layer's padding rule.
 */
#ifndef SS_ENGINE_CUDA_KERNELS_H
#define SS_ENGINE_CUDA_KERNELS_H

#include <stdint.h>

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ss_ykind { SS_Y_BF16 = 0, SS_Y_BF16_CHANNEL, SS_Y_I32, SS_Y_F32, SS_Y_BF16_ACC } ss_ykind;

typedef struct ss_yview {
    ss_ykind kind;
    const void *data;  /* [M_pad, ld] */
    int64_t ld;        /* elements per row */
    const float *sx;   /* [M_pad] token scales (BF16_CHANNEL, I32, F32); NULL = 1 */
    const float *sw;   /* [N] channel scales (I32, F32); NULL = 1 */
    const float *bias; /* [N] or NULL (BF16_CHANNEL, I32, F32) */
} ss_yview;

typedef struct ss_xview {
    ss_dtype dtype;     /* SS_DT_BF16, SS_DT_I8 or SS_DT_F8_E4M3 */
    void *data;         /* [M_pad, ld] */
    int64_t ld;         /* elements per row: >= K (or K_slid), multiple of 4 */
    float *scale;       /* [M_pad] per-token scales (quantized dtypes) */
    int slid;           /* write the slid expansion of the row (geom) */
    ss_slide_geom geom; /* valid when slid; geom.K is the row length */
} ss_xview;

/* Row-wise kernels: source row -> optional RMSNorm -> xview. All take M real
 * rows and write M_pad = ss_gemm_pad_m(M) rows of `out` (the padding rows as
 * zeros, scale 1). n % 4 == 0. RMSNorm follows the CPU reference:
 * sum of squares in double, y = (float)(x * inv_rms) * w. */

/* The residual stream x [M, n] is x_dtype SS_DT_F32 or SS_DT_BF16 (the CPU
 * reference's ss_residual: BF16 rounds x after every add). */

/* Layer 0: x[i] = embed[tokens[i]] (BF16 table [vocab, n]), written to x,
 * then y = rmsnorm(x, w). */
ss_status ss_k_embed_norm(const int32_t *tokens, const uint16_t *embed, int M, int n, void *x, ss_dtype x_dtype,
                          const float *w, double eps, const ss_xview *out, void *stream);

/* Residual add and norm: x[r] += delta[r] (r = rows ? rows[i] : i; BF16: then
 * rounded), written back to x when write_x, then y[i] = rmsnorm(x[r], w).
 * The lm_head input uses rows = the logit rows and write_x = 0. */
ss_status ss_k_add_norm(void *x, ss_dtype x_dtype, const ss_yview *delta, const int32_t *rows, int M, int n,
                        int write_x, const float *w, double eps, const ss_xview *out, void *stream);

/* Plain float input [M, n] (attention output) -> optional RMSNorm (w NULL:
 * none, BitNet's attn_sub_norm otherwise) -> xview. */
ss_status ss_k_norm(const float *xin, int M, int n, const float *w, double eps, const ss_xview *out, void *stream);

/* Gated MLP activation: gate_up is the fused GEMM output [M, 2I] (gate
 * columns [0, I), up [I, 2I)); h = act(gate) * up in float (act 0: relu^2,
 * 1: silu), then optional RMSNorm (BitNet's ffn_sub_norm) -> xview. */
ss_status ss_k_act_norm(const ss_yview *gate_up, int M, int I, int act, const float *w, double eps,
                        const ss_xview *out, void *stream);

/* Geometry of the attention and the KV cache. The cache of one layer is
 * [max_seqs, n_kv_heads, max_len, head_dim] BF16, K and V separately. */
typedef struct ss_attn_geom {
    int n_heads, n_kv_heads, head_dim; /* head_dim 64 or 128 */
    int max_seqs, max_len;
    int64_t q_col, k_col, v_col;       /* column offsets of q, k, v in the fused qkv output */
} ss_attn_geom;

/* RoPE on k and the KV-cache write for M tokens: k (rotated, then rounded to
 * BF16) and v (BF16) of token i go to cache position (seq[i], pos[i]).
 * rope: [max_len, head_dim/2, 2] doubles (cos, sin of pos * inv_freq). */
ss_status ss_k_rope_kv(const ss_yview *qkv, int M, const int32_t *seq, const int32_t *pos, const double *rope,
                       const ss_attn_geom *g, uint16_t *k_cache, uint16_t *v_cache, void *stream);

/* The FP8 KV cache (SS_KV_CACHE=fp8): per layer, K and V as E4M3 codes
 * [max_seqs, n_kv_heads, max_len, head_dim] with one float scale per row
 * (one position of one KV head) [max_seqs, n_kv_heads, max_len]; each row
 * is quantized as activations are (s = max(absmax / 448, floor), code =
 * E4M3(x / s): gemm/linear.h's ss_quant_act_ref), K after RoPE in float, V
 * as the dequantized GEMM output. Half the bytes of the BF16 cache. */
typedef struct ss_kv_f8 {
    uint8_t *k, *v;
    float *k_scale, *v_scale;
} ss_kv_f8;

/* ss_k_rope_kv into an FP8 cache: one warp per (token, KV head) row. */
ss_status ss_k_rope_kv_f8(const ss_yview *qkv, int M, const int32_t *seq, const int32_t *pos, const double *rope,
                          const ss_attn_geom *g, const ss_kv_f8 *kv, void *stream);

/* A tile of up to 64 query rows of one sequence at consecutive positions,
 * for the prefill (flash) attention kernel. */
typedef struct ss_attn_tile {
    int32_t row0; /* first batch row */
    int32_t n;    /* rows, 1..64 */
    int32_t seq;  /* sequence slot */
    int32_t pos0; /* position of row0 */
} ss_attn_tile;

#define SS_ATTN_TILE_ROWS 64

/* Causal attention of the tiles' query rows over their sequences' cached K/V
 * (positions 0..pos, written by ss_k_rope_kv first). q is read from the qkv
 * output and rotated here in float (rope_f: the RoPE table as floats,
 * [max_len, head_dim/2, 2]), then S = q K^T runs on the tensor cores in FP16
 * and P V in BF16 (mma.sync m16n8k16, online softmax in float). att: [M,
 * n_heads * head_dim] float. Grid: n_heads x n_tiles. */
ss_status ss_k_attention_prefill(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope_f,
                                 const ss_attn_geom *g, const uint16_t *k_cache, const uint16_t *v_cache, float *att,
                                 void *stream);

/* The same on Hopper's warpgroup tensor cores (attention_prefill_wgmma.cu,
 * EXPERIMENTAL): wgmma for both products, Q, K and V from shared memory
 * (P from registers), the same precision. SS_ERR_UNSUPPORTED unless
 * ss_attn_prefill_wgmma_available(). */
ss_status ss_k_attention_prefill_wgmma(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles,
                                       const float *rope_f, const ss_attn_geom *g, const uint16_t *k_cache,
                                       const uint16_t *v_cache, float *att, void *stream);
/* ss_k_attention_prefill over an FP8 cache: K and V tiles converted to FP16
 * in shared memory (exact), the row scales applied to the scores (K) and
 * folded into P (V); P V in FP16. */
ss_status ss_k_attention_prefill_f8(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope_f,
                                    const ss_attn_geom *g, const ss_kv_f8 *kv, float *att, void *stream);

/* 1 when the current device is compute capability 9.x and this build's code
 * for it has the wgmma kernel (an sm_90a target); probed once. */
int ss_attn_prefill_wgmma_available(void);

/* Single-token (decode) attention for n_rows batch rows: rows[j] is the batch
 * row, seq/pos are indexed by batch row (device arrays, so a CUDA graph
 * replays with new positions). q stays float. Each CTA takes one sequence,
 * one KV head (its group of query heads share each K/V load) and one chunk
 * of SS_ATTN_DECODE_CHUNK positions; longer contexts split across chunks and
 * are merged by a second kernel. partial: scratch of
 * ss_attn_decode_partial_floats(n_rows, g) floats. */
#define SS_ATTN_DECODE_CHUNK 64
size_t ss_attn_decode_partial_floats(int n_rows, const ss_attn_geom *g);
ss_status ss_k_attention_decode(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq,
                                const int32_t *pos, const double *rope, const ss_attn_geom *g,
                                const uint16_t *k_cache, const uint16_t *v_cache, float *partial, float *att,
                                void *stream);

/* The same attention on the tensor cores (attention_decode_tc.cu), reading
 * the KV cache once: mma.sync BF16 with q and P carried as BF16 hi + lo
 * parts (~16 significant bits each; K and V as cached), FP32 softmax. One
 * CTA per (row, KV head, chunk of `chunk` context positions, a multiple of
 * 64; 0: ss_attn_decode_chunk's choice for this batch and GPU); rows whose
 * context spans several chunks are merged by a second kernel (partial: as
 * above). fuse_kv 1: also does ss_k_rope_kv's work for these rows (the same
 * bits into the caches), so rope_kv must not run for them; only when each
 * row is the one token of its sequence in the step. */
ss_status ss_k_attention_decode_tc(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq,
                                   const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                                   int fuse_kv, uint16_t *k_cache, uint16_t *v_cache, float *partial, float *att,
                                   void *stream);

/* ss_k_attention_decode_tc over an FP8 cache (fuse_kv: the row written as
 * ss_k_rope_kv_f8 writes it): K and V converted to FP16 in shared memory
 * (exact), FP16 tensor cores with q and P as FP16 hi + lo, the K scale on
 * each score and the V scale folded into P. */
ss_status ss_k_attention_decode_tc_f8(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq,
                                      const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                                      int fuse_kv, const ss_kv_f8 *kv, float *partial, float *att, void *stream);

/* Greedy pick per row of BF16 logits [n_rows, ld] over vocab columns: the
 * lowest index of the largest value (NaN never wins), like ss_argmax. */
ss_status ss_k_argmax(const uint16_t *logits, int64_t ld, int n_rows, int vocab, int32_t *ids, void *stream);

/* -ln softmax(row r)[targets[r]] of n_rows BF16 logit rows (row stride ld),
 * as ss_nll_from_logits (engine/perplexity.h): the max in float, exp and
 * sum in double. targets: device, [n_rows], in [0, vocab). */
ss_status ss_k_row_nll(const uint16_t *logits, int64_t ld, int n_rows, int vocab, const int32_t *targets,
                       double *out, void *stream);
/* BF16 [n_rows, ld] -> float [n_rows, vocab] (the logits the host asked for). */
ss_status ss_k_bf16_to_f32(const uint16_t *in, int64_t ld, int n_rows, int vocab, float *out, void *stream);

/* Decode loop bookkeeping inside a CUDA graph: token[i] = ids[i] and
 * pos[i] += 1 for i < n. */
ss_status ss_k_decode_advance(const int32_t *ids, int n, int32_t *token, int32_t *pos, void *stream);

#ifdef __cplusplus
}
#endif

#endif
