// RoPE on k and the KV-cache write.
//
// k and v come from the fused qkv GEMM output (dequantized on load); k is
// rotated in double with the table's cos/sin, exactly as the CPU reference
// (x0 = a*c - b*s, x1 = b*c + a*s, each product and sum rounded separately),
// rounded to float, then to BF16 for the cache. q is rotated later, inside
// the attention kernels, so it never makes a round trip through memory.
#include "engine/cuda/common.cuh"

namespace {

constexpr int THREADS = 256;

// One item per thread: 4 rotation pairs (dims j..j+3 and j+D/2..) of one
// token's KV head, or 8 consecutive V elements; 8- and 16-byte accesses.
__global__ void __launch_bounds__(THREADS) rope_kv_kernel(ss_yview qkv, int M, const int32_t *seq, const int32_t *pos,
                                                          const double *rope, ss_attn_geom g, uint16_t *k_cache,
                                                          uint16_t *v_cache) {
    const int D = g.head_dim, half = D / 2, KVH = g.n_kv_heads;
    const int k_items = KVH * (half / 4), per_token = k_items + KVH * (D / 8);
    const int64_t item = (int64_t)blockIdx.x * THREADS + threadIdx.x;
    if (item >= (int64_t)M * per_token) return;
    const int i = (int)(item / per_token), r = (int)(item - (int64_t)i * per_token);
    const int s = seq[i], p = pos[i];
    const int64_t head0 = ((int64_t)s * KVH) * g.max_len + p; // (seq, head 0, pos) in units of D
    if (r < k_items) {
        const int h = r / (half / 4), j = (r - h * (half / 4)) * 4;
        float a[4], b[4];
        yview_load4(qkv, i, g.k_col + (int64_t)h * D + j, a);
        yview_load4(qkv, i, g.k_col + (int64_t)h * D + j + half, b);
        uint16_t x0[4], x1[4];
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const double2 cs = *(const double2 *)(rope + ((int64_t)p * half + j + e) * 2);
            const double da = a[e], db = b[e];
            x0[e] = f32_to_bf16_bits((float)__dsub_rn(__dmul_rn(da, cs.x), __dmul_rn(db, cs.y)));
            x1[e] = f32_to_bf16_bits((float)__dadd_rn(__dmul_rn(db, cs.x), __dmul_rn(da, cs.y)));
        }
        uint16_t *dst = k_cache + (head0 + (int64_t)h * g.max_len) * D;
        *(uint2 *)(dst + j) = make_uint2(x0[0] | (uint32_t)x0[1] << 16, x0[2] | (uint32_t)x0[3] << 16);
        *(uint2 *)(dst + j + half) = make_uint2(x1[0] | (uint32_t)x1[1] << 16, x1[2] | (uint32_t)x1[3] << 16);
    } else {
        const int t = (r - k_items) * 8, h = t / D, d = t - h * D; // 8 elements of V, within one head
        float v[8];
        yview_load8(qkv, i, g.v_col + t, v);
        uint32_t w[4];
#pragma unroll
        for (int e = 0; e < 4; e++) w[e] = f32_to_bf16_bits(v[2 * e]) | (uint32_t)f32_to_bf16_bits(v[2 * e + 1]) << 16;
        *(uint4 *)(v_cache + (head0 + (int64_t)h * g.max_len) * D + d) = make_uint4(w[0], w[1], w[2], w[3]);
    }
}

// FP8 cache: one warp per (token, KV head) row, lanes over the row's
// elements; the row's absmax by shuffles, then quant_device.cuh's exact
// per-token quantization (the CPU's ss_quant_act_ref, bit for bit).
template <int D>
__global__ void __launch_bounds__(THREADS) rope_kv_f8_kernel(ss_yview qkv, int M, const int32_t *seq,
                                                             const int32_t *pos, const double *rope, ss_attn_geom g,
                                                             ss_kv_f8 kv) {
    constexpr int HALF = D / 2, PL = HALF / 32, VL = D / 32; // pairs and V elements per lane
    const int KVH = g.n_kv_heads, lane = threadIdx.x & 31;
    const int64_t w = ((int64_t)blockIdx.x * THREADS + threadIdx.x) >> 5;
    if (w >= (int64_t)M * KVH) return; // warp-uniform
    const int i = (int)(w / KVH), h = (int)(w - (int64_t)i * KVH);
    const int p = pos[i];
    const int64_t r = ((int64_t)seq[i] * KVH + h) * g.max_len + p; // cache row
    float x0[PL], x1[PL], amax = 0.0f;
#pragma unroll
    for (int e = 0; e < PL; e++) {
        const int j = lane + 32 * e;
        const double a = yview_load(qkv, i, g.k_col + (int64_t)h * D + j);
        const double b = yview_load(qkv, i, g.k_col + (int64_t)h * D + j + HALF);
        const double2 cs = *(const double2 *)(rope + ((int64_t)p * HALF + j) * 2);
        x0[e] = (float)__dsub_rn(__dmul_rn(a, cs.x), __dmul_rn(b, cs.y));
        x1[e] = (float)__dadd_rn(__dmul_rn(b, cs.x), __dmul_rn(a, cs.y));
        amax = fmaxf(amax, fmaxf(fabsf(x0[e]), fabsf(x1[e])));
    }
    const float sk = ss_act_scale(warp_max(amax), ss_q_fp8e4m3::qmax);
#pragma unroll
    for (int e = 0; e < PL; e++) {
        const int j = lane + 32 * e;
        kv.k[r * D + j] = ss_q_fp8e4m3::quant(x0[e], sk);
        kv.k[r * D + j + HALF] = ss_q_fp8e4m3::quant(x1[e], sk);
    }
    float v[VL];
    amax = 0.0f;
#pragma unroll
    for (int e = 0; e < VL; e++) {
        v[e] = yview_load(qkv, i, g.v_col + (int64_t)h * D + lane + 32 * e);
        amax = fmaxf(amax, fabsf(v[e]));
    }
    const float sv = ss_act_scale(warp_max(amax), ss_q_fp8e4m3::qmax);
#pragma unroll
    for (int e = 0; e < VL; e++) kv.v[r * D + lane + 32 * e] = ss_q_fp8e4m3::quant(v[e], sv);
    if (lane == 0) kv.k_scale[r] = sk, kv.v_scale[r] = sv;
}

} // namespace

extern "C" ss_status ss_k_rope_kv(const ss_yview *qkv, int M, const int32_t *seq, const int32_t *pos,
                                  const double *rope, const ss_attn_geom *g, uint16_t *k_cache, uint16_t *v_cache,
                                  void *stream) {
    if (g->head_dim % 8) return ss_fail(SS_ERR_ARG, "rope_kv: head_dim %d is not a multiple of 8", g->head_dim);
    if (qkv->ld % 8 || g->k_col % 4 || g->v_col % 8)
        return ss_fail(SS_ERR_ARG, "rope_kv: qkv stride %lld, k column %lld, v column %lld not aligned (8, 4, 8)",
                       (long long)qkv->ld, (long long)g->k_col, (long long)g->v_col);
    if (M <= 0) return SS_OK;
    const int64_t items = (int64_t)M * g->n_kv_heads * (g->head_dim / 8 + g->head_dim / 8);
    rope_kv_kernel<<<(unsigned)((items + THREADS - 1) / THREADS), THREADS, 0, ss_stream(stream)>>>(
        *qkv, M, seq, pos, rope, *g, k_cache, v_cache);
    return ss_launch_status("rope_kv");
}

extern "C" ss_status ss_k_rope_kv_f8(const ss_yview *qkv, int M, const int32_t *seq, const int32_t *pos,
                                     const double *rope, const ss_attn_geom *g, const ss_kv_f8 *kv, void *stream) {
    if (M <= 0) return SS_OK;
    const int64_t threads = (int64_t)M * g->n_kv_heads * 32;
    const unsigned blocks = (unsigned)((threads + THREADS - 1) / THREADS);
    switch (g->head_dim) {
    case 64: rope_kv_f8_kernel<64><<<blocks, THREADS, 0, ss_stream(stream)>>>(*qkv, M, seq, pos, rope, *g, *kv); break;
    case 128:
        rope_kv_f8_kernel<128><<<blocks, THREADS, 0, ss_stream(stream)>>>(*qkv, M, seq, pos, rope, *g, *kv);
        break;
    default: return ss_fail(SS_ERR_UNSUPPORTED, "rope_kv (FP8 cache): head_dim %d is not 64 or 128", g->head_dim);
    }
    return ss_launch_status("rope_kv_f8");
}
