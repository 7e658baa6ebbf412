// RoPE on k and the KV-cache write, one block per token.
//
// k and v come from the fused qkv GEMM output (dequantized on load); k is
// rotated in double with the table's cos/sin, exactly as the CPU reference
// (x0 = a*c - b*s, x1 = b*c + a*s, each product and sum rounded separately),
// rounded to float, then to BF16 for the cache. q is rotated later, inside
// the attention kernels, so it never makes a round trip through memory.
#include "engine/cuda/common.cuh"

namespace {

__global__ void rope_kv_kernel(ss_yview qkv, const int32_t *seq, const int32_t *pos, const double *rope,
                               ss_attn_geom g, uint16_t *k_cache, uint16_t *v_cache) {
    const int i = blockIdx.x;
    const int D = g.head_dim, half = D / 2, KVH = g.n_kv_heads;
    const int s = seq[i], p = pos[i];
    const int64_t head0 = ((int64_t)s * KVH) * g.max_len + p; // (seq, head 0, pos) in units of D
    for (int t = threadIdx.x; t < KVH * half; t += blockDim.x) {
        const int h = t / half, j = t - h * half;
        const double a = yview_load(qkv, i, g.k_col + (int64_t)h * D + j);
        const double b = yview_load(qkv, i, g.k_col + (int64_t)h * D + j + half);
        const double2 cs = *(const double2 *)(rope + ((int64_t)p * half + j) * 2);
        const float x0 = (float)__dsub_rn(__dmul_rn(a, cs.x), __dmul_rn(b, cs.y));
        const float x1 = (float)__dadd_rn(__dmul_rn(b, cs.x), __dmul_rn(a, cs.y));
        uint16_t *dst = k_cache + (head0 + (int64_t)h * g.max_len) * D;
        dst[j] = f32_to_bf16_bits(x0);
        dst[j + half] = f32_to_bf16_bits(x1);
    }
    for (int t = threadIdx.x; t < KVH * D; t += blockDim.x) {
        const int h = t / D, d = t - h * D;
        v_cache[(head0 + (int64_t)h * g.max_len) * D + d] = f32_to_bf16_bits(yview_load(qkv, i, g.v_col + t));
    }
}

} // namespace

extern "C" ss_status ss_k_rope_kv(const ss_yview *qkv, int M, const int32_t *seq, const int32_t *pos,
                                  const double *rope, const ss_attn_geom *g, uint16_t *k_cache, uint16_t *v_cache,
                                  void *stream) {
    if (g->head_dim % 2) return ss_fail(SS_ERR_ARG, "rope_kv: head_dim %d is odd", g->head_dim);
    if (M <= 0) return SS_OK;
    rope_kv_kernel<<<M, 128, 0, ss_stream(stream)>>>(*qkv, seq, pos, rope, *g, k_cache, v_cache);
    return ss_launch_status("rope_kv");
}
