// Decode attention: one query token per batch row over its sequence's KV
// cache. Memory-bound, so the design is about bytes: one block per (row, KV
// head, chunk of SS_ATTN_DECODE_CHUNK positions) loads that chunk's K and V
// once (cp.async, all in flight at once) and serves every query head of the
// GQA group from shared memory. Contexts longer than one chunk are split
// across blocks (flash-decoding) and merged by a second kernel from each
// chunk's (max, sum, unnormalised output).
//
// Precision as the CPU reference: q rotated in double and kept in float,
// scores q.k in float times 1/sqrt(D), softmax in float with the max
// subtracted, P V in float.
#include <math.h>

#include "engine/cuda/common.cuh"

namespace {

constexpr int CHUNK = SS_ATTN_DECODE_CHUNK;
constexpr int THREADS = 128;
constexpr int MAX_GROUP = 8; // query heads per KV head

template <int D> constexpr int kv_stride() { return D + 8; } // 16-byte pad: conflict-free 16-byte row reads

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src));
}

__device__ __forceinline__ void bf16x8_to_f32(uint4 u, float f[8]) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        f[2 * i] = __uint_as_float(w[i] << 16);
        f[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
    }
}

// Partial result of one (row, head, chunk): D outputs, then max and sum.
template <int D> __device__ __forceinline__ float *partial_at(float *partial, int j, int head, int c, int H, int nc) {
    return partial + (((int64_t)j * H + head) * nc + c) * (D + 2);
}

template <int D>
__global__ void __launch_bounds__(THREADS)
    decode_kernel(ss_yview qkv, const int32_t *rows, const int32_t *seq, const int32_t *pos, const double *rope,
                  ss_attn_geom g, const uint16_t *k_cache, const uint16_t *v_cache, float *partial, float *att) {
    constexpr int S = kv_stride<D>(), HALF = D / 2;
    extern __shared__ float4 smem4[];
    uint16_t *Ks = (uint16_t *)smem4;       // [CHUNK, S]
    uint16_t *Vs = Ks + CHUNK * S;          // [CHUNK, S]
    float *qs = (float *)(Vs + CHUNK * S);  // [G, D]
    float *ps = qs + MAX_GROUP * D;         // [G, CHUNK] scores, then probabilities
    __shared__ float m_s[MAX_GROUP], l_s[MAX_GROUP];

    const int j = blockIdx.x, kvh = blockIdx.y, c = blockIdx.z;
    const int G = g.n_heads / g.n_kv_heads, nc = gridDim.z;
    const int row = rows[j], sq = seq[row], p = pos[row];
    const int ctx = p + 1, start = c * CHUNK;
    if (start >= ctx) return;
    const int T = min(CHUNK, ctx - start);
    const int64_t off = (((int64_t)sq * g.n_kv_heads + kvh) * g.max_len + start) * D;

    // K and V of the chunk: every load in flight before any is used; K in
    // the first group, so the scores start while V is still arriving.
    for (int i = threadIdx.x; i < T * (D / 8); i += THREADS) {
        const int t = i / (D / 8), ch = i - t * (D / 8);
        cp_async16(smem_u32(Ks + t * S + ch * 8), k_cache + off + (int64_t)t * D + ch * 8);
    }
    asm volatile("cp.async.commit_group;\n" ::);
    for (int i = threadIdx.x; i < T * (D / 8); i += THREADS) {
        const int t = i / (D / 8), ch = i - t * (D / 8);
        cp_async16(smem_u32(Vs + t * S + ch * 8), v_cache + off + (int64_t)t * D + ch * 8);
    }
    asm volatile("cp.async.commit_group;\n" ::);

    // q of the group's heads, rotated (double) and kept in float.
    for (int i = threadIdx.x; i < G * HALF; i += THREADS) {
        const int h = i / HALF, jj = i - h * HALF;
        const int64_t col = g.q_col + (int64_t)(kvh * G + h) * D + jj;
        const double a = yview_load(qkv, row, col), b = yview_load(qkv, row, col + HALF);
        const double2 cs = *(const double2 *)(rope + ((int64_t)p * HALF + jj) * 2);
        qs[h * D + jj] = (float)__dsub_rn(__dmul_rn(a, cs.x), __dmul_rn(b, cs.y));
        qs[h * D + jj + HALF] = (float)__dadd_rn(__dmul_rn(b, cs.x), __dmul_rn(a, cs.y));
    }
    asm volatile("cp.async.wait_group 1;\n" ::: "memory"); // K landed
    __syncthreads();

    // Scores: one (head, position) dot product per thread step.
    const float scale = 1.0f / sqrtf((float)D);
    for (int i = threadIdx.x; i < G * T; i += THREADS) {
        const int h = i / T, t = i - h * T;
        const float *q = qs + h * D;
        const uint16_t *k = Ks + t * S;
        float dot = 0.0f;
#pragma unroll 4
        for (int d = 0; d < D; d += 8) {
            float kf[8];
            bf16x8_to_f32(*(const uint4 *)(k + d), kf);
            const float4 qa = *(const float4 *)(q + d), qb = *(const float4 *)(q + d + 4);
            dot += qa.x * kf[0] + qa.y * kf[1] + qa.z * kf[2] + qa.w * kf[3];
            dot += qb.x * kf[4] + qb.y * kf[5] + qb.z * kf[6] + qb.w * kf[7];
        }
        ps[h * CHUNK + t] = dot * scale;
    }
    __syncthreads();

    // Softmax per head (a warp per head): max, exp, sum.
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int h = warp; h < G; h += THREADS / 32) {
        float *sc = ps + h * CHUNK;
        float mx = -INFINITY;
        for (int t = lane; t < T; t += 32) mx = fmaxf(mx, sc[t]);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int t = lane; t < T; t += 32) {
            const float e = expf(sc[t] - mx);
            sc[t] = e;
            sum += e;
        }
        sum = warp_sum(sum);
        if (lane == 0) m_s[h] = mx, l_s[h] = sum;
    }
    asm volatile("cp.async.wait_group 0;\n" ::: "memory"); // V landed
    __syncthreads();                                         // and the softmax done

    // O = P V: 4 consecutive dims of one head per thread step.
    const bool whole = ctx <= CHUNK; // a single chunk: write the final output
    for (int i = threadIdx.x; i < G * (D / 4); i += THREADS) {
        const int h = i / (D / 4), d = (i - h * (D / 4)) * 4;
        const float *pr = ps + h * CHUNK;
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
        for (int t = 0; t < T; t++) {
            const uint2 u = *(const uint2 *)(Vs + t * S + d);
            const float pt = pr[t];
            a0 += pt * __uint_as_float(u.x << 16);
            a1 += pt * __uint_as_float(u.x & 0xffff0000u);
            a2 += pt * __uint_as_float(u.y << 16);
            a3 += pt * __uint_as_float(u.y & 0xffff0000u);
        }
        const int head = kvh * G + h;
        if (whole) {
            const float inv = 1.0f / l_s[h];
            *(float4 *)(att + (int64_t)row * g.n_heads * D + (int64_t)head * D + d) =
                make_float4(a0 * inv, a1 * inv, a2 * inv, a3 * inv);
        } else {
            float *pp = partial_at<D>(partial, j, head, c, g.n_heads, nc);
            pp[d] = a0, pp[d + 1] = a1, pp[d + 2] = a2, pp[d + 3] = a3;
            if (d == 0) pp[D] = m_s[h], pp[D + 1] = l_s[h];
        }
    }
}

// Merges the chunks of rows whose context spans more than one.
template <int D>
__global__ void combine_kernel(const int32_t *rows, const int32_t *pos, ss_attn_geom g, const float *partial,
                               int nc, float *att) {
    const int j = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
    const int row = rows[j], ctx = pos[row] + 1;
    if (ctx <= CHUNK) return;
    const int used = (ctx + CHUNK - 1) / CHUNK;
    float M = -INFINITY;
    for (int c = 0; c < used; c++) M = fmaxf(M, partial_at<D>((float *)partial, j, head, c, g.n_heads, nc)[D]);
    float o = 0.0f, l = 0.0f;
    for (int c = 0; c < used; c++) {
        const float *pp = partial_at<D>((float *)partial, j, head, c, g.n_heads, nc);
        const float w = expf(pp[D] - M);
        o += w * pp[d];
        l += w * pp[D + 1];
    }
    att[(int64_t)row * g.n_heads * D + (int64_t)head * D + d] = o / l;
}

int n_chunks(const ss_attn_geom *g) { return (g->max_len + CHUNK - 1) / CHUNK; }

template <int D>
ss_status launch(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq, const int32_t *pos,
                 const double *rope, const ss_attn_geom *g, const uint16_t *kc, const uint16_t *vc, float *partial,
                 float *att, void *stream) {
    const size_t smem = (size_t)2 * CHUNK * kv_stride<D>() * sizeof(uint16_t) +
                        (size_t)MAX_GROUP * (D + CHUNK) * sizeof(float);
    cudaFuncSetAttribute(decode_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    const int nc = n_chunks(g);
    dim3 grid((unsigned)n_rows, (unsigned)g->n_kv_heads, (unsigned)nc);
    cudaStream_t st = ss_stream(stream);
    decode_kernel<D><<<grid, THREADS, smem, st>>>(*qkv, rows, seq, pos, rope, *g, kc, vc, partial, att);
    SS_TRY(ss_launch_status("attention_decode"));
    if (nc > 1) {
        combine_kernel<D><<<dim3((unsigned)n_rows, (unsigned)g->n_heads), D, 0, st>>>(rows, pos, *g, partial, nc, att);
        SS_TRY(ss_launch_status("attention_decode_combine"));
    }
    return SS_OK;
}

} // namespace

extern "C" size_t ss_attn_decode_partial_floats(int n_rows, const ss_attn_geom *g) {
    return (size_t)(n_rows > 0 ? n_rows : 1) * g->n_heads * n_chunks(g) * (g->head_dim + 2);
}

extern "C" ss_status ss_k_attention_decode(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq,
                                           const int32_t *pos, const double *rope, const ss_attn_geom *g,
                                           const uint16_t *k_cache, const uint16_t *v_cache, float *partial,
                                           float *att, void *stream) {
    if (g->n_heads % g->n_kv_heads || g->n_heads / g->n_kv_heads > MAX_GROUP)
        return ss_fail(SS_ERR_UNSUPPORTED, "attention: %d heads over %d KV heads (groups of at most %d supported)",
                       g->n_heads, g->n_kv_heads, MAX_GROUP);
    if (n_rows <= 0) return SS_OK;
    switch (g->head_dim) {
    case 64: return launch<64>(qkv, rows, n_rows, seq, pos, rope, g, k_cache, v_cache, partial, att, stream);
    case 128: return launch<128>(qkv, rows, n_rows, seq, pos, rope, g, k_cache, v_cache, partial, att, stream);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "attention: head_dim %d is not supported on the GPU (64 or 128)",
                       g->head_dim);
    }
}
