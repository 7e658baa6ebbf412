// Pieces of the prefill attention kernels that work on one warp's 16 query
// rows and are the same for the mma.sync kernels (attention_prefill.cu) and
// the warp-specialised wgmma kernel (attention_prefill_wgmma.cu): the q
// rotation, the online softmax of a tile of 64 keys, the rescale and the
// normalised store of O.
//
// Register layout (mma.m16n8 accumulators; a warp's slice of a wgmma
// m64nN accumulator is the same): lane = 4 g4 + t4 holds, of every block
// of 8 columns i, elements [4i .. 4i + 3] = (row g4, columns 8i + 2t4, +1)
// and (row g4 + 8, the same columns). S is 8 such blocks (64 keys), O is
// D / 8 (D columns).
#ifndef SS_ENGINE_CUDA_ATTENTION_TILE_CUH
#define SS_ENGINE_CUDA_ATTENTION_TILE_CUH

#include <math.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/mma.cuh"

constexpr int SS_ATTN_KEYS = 64; // keys per K/V tile

// Two BF16 in a word -> the same two values as FP16 (exact within FP16's range).
__device__ __forceinline__ uint32_t bf16x2_to_f16x2(uint32_t w) {
    return pack_f16(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}

// q of `head`, row r of the tile (r < tile.n), columns j0 .. j0 + 7 of each
// half (the rotation pairs j and j + D/2), and their (cos, sin) pairs.
template <int D>
__device__ __forceinline__ void load_q8(const ss_yview &qkv, const ss_attn_tile &tile, const float *rope_f,
                                        const ss_attn_geom &g, int head, int r, int j0, float (&qa)[8],
                                        float (&qb)[8], float4 (&cs)[4]) {
    constexpr int HALF = D / 2;
    const int64_t row = tile.row0 + r, col = g.q_col + (int64_t)head * D + j0;
    yview_load8(qkv, row, col, qa);
    yview_load8(qkv, row, col + HALF, qb);
    const float4 *t = (const float4 *)(rope_f + ((int64_t)(tile.pos0 + r) * HALF + j0) * 2);
#pragma unroll
    for (int k = 0; k < 4; k++) cs[k] = t[k];
}

// The rotation in float, rounded to FP16: w0 the first half's 8 values, w1 the second's.
__device__ __forceinline__ void rotate_q8(const float (&qa)[8], const float (&qb)[8], const float4 (&cs)[4],
                                          uint32_t (&w0)[4], uint32_t (&w1)[4]) {
    float x0[8], x1[8];
#pragma unroll
    for (int k = 0; k < 4; k++) {
        const float4 c = cs[k]; // (cos, sin) of elements 2k and 2k + 1
        x0[2 * k] = qa[2 * k] * c.x - qb[2 * k] * c.y, x1[2 * k] = qb[2 * k] * c.x + qa[2 * k] * c.y;
        x0[2 * k + 1] = qa[2 * k + 1] * c.z - qb[2 * k + 1] * c.w;
        x1[2 * k + 1] = qb[2 * k + 1] * c.z + qa[2 * k + 1] * c.w;
    }
#pragma unroll
    for (int k = 0; k < 4; k++) w0[k] = pack_f16(x0[2 * k], x0[2 * k + 1]), w1[k] = pack_f16(x1[2 * k], x1[2 * k + 1]);
}

// One warp's running softmax state of rows g4 and g4 + 8; al0/al1 are the
// factors O is to be rescaled by after the tile last taken (the wgmma kernel
// applies them only once the P V in flight has retired).
struct SoftmaxRows {
    float m0, m1, l0, l1, al0, al1;
};

// Masks (tiles that reach past pos0, the tile's first query position) and
// takes the online softmax of the 16 x 64 scores s (only read) into P, the A
// fragments of P V's 4 k-steps (BF16). Scores are scaled inside exp2's FFMA:
// the row max is taken unscaled, then scaled, the same value as scaling
// first (the scale is positive and rounding monotonic); the max is finite,
// since every row sees key 0 in its first tile.
// KV_SCALES (an FP8 cache): ks / vs are this tile's 64 K and V row scales;
// each score is scaled by its K row's scale first (no longer monotonic),
// and P by its V row's scale before rounding to FP16 (the sum takes P unscaled).
template <bool KV_SCALES>
__device__ __forceinline__ void softmax_tile(const float (&s)[32], uint32_t (&pa)[4][4], SoftmaxRows &st, int key0,
                                             int qpos0, int pos0, int t4, float scale_log2, const float *ks = nullptr,
                                             const float *vs = nullptr) {
    const int qpos1 = qpos0 + 8;
    const bool need_mask = key0 + SS_ATTN_KEYS - 1 > pos0;
    const float sc = KV_SCALES ? 1.0f : scale_log2; // the scale still to apply
    float v[32];
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int key = key0 + nt * 8 + 2 * t4 + e;
            float v0 = s[4 * nt + e], v1 = s[4 * nt + 2 + e];
            if (KV_SCALES) {
                const float k = ks[nt * 8 + 2 * t4 + e] * scale_log2;
                v0 *= k, v1 *= k;
            }
            if (need_mask) {
                if (key > qpos0) v0 = -INFINITY;
                if (key > qpos1) v1 = -INFINITY;
            }
            v[4 * nt + e] = v0;
            v[4 * nt + 2 + e] = v1;
            mx0 = fmaxf(mx0, v0);
            mx1 = fmaxf(mx1, v1);
        }
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float mn0 = fmaxf(st.m0, mx0 * sc), mn1 = fmaxf(st.m1, mx1 * sc);
    st.al0 = exp2f(st.m0 - mn0), st.al1 = exp2f(st.m1 - mn1);
    st.m0 = mn0, st.m1 = mn1;
    float rs0 = 0.0f, rs1 = 0.0f;
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
        const float p0 = exp2f(fmaf(v[4 * nt], sc, -mn0)), p1 = exp2f(fmaf(v[4 * nt + 1], sc, -mn0));
        const float p2 = exp2f(fmaf(v[4 * nt + 2], sc, -mn1)), p3 = exp2f(fmaf(v[4 * nt + 3], sc, -mn1));
        rs0 += p0 + p1;
        rs1 += p2 + p3;
        if (KV_SCALES) {
            const float v0 = vs[nt * 8 + 2 * t4], v1 = vs[nt * 8 + 2 * t4 + 1];
            pa[nt >> 1][(nt & 1) * 2 + 0] = pack_f16(p0 * v0, p1 * v1);
            pa[nt >> 1][(nt & 1) * 2 + 1] = pack_f16(p2 * v0, p3 * v1);
        } else {
            pa[nt >> 1][(nt & 1) * 2 + 0] = pack_bf16(p0, p1);
            pa[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16(p2, p3);
        }
    }
    st.l0 = st.l0 * st.al0 + rs0;
    st.l1 = st.l1 * st.al1 + rs1;
}

template <int D> __device__ __forceinline__ void rescale_o(float (&o)[D / 2], const SoftmaxRows &st) {
#pragma unroll
    for (int i = 0; i < D / 8; i++)
        o[4 * i] *= st.al0, o[4 * i + 1] *= st.al0, o[4 * i + 2] *= st.al1, o[4 * i + 3] *= st.al1;
}

// Row sums over the quad, then O / l as float pairs: rows 16 warp + g4 and
// + 8 of the tile (those < tile.n), head's D columns of att.
template <int D>
__device__ __forceinline__ void store_o(float *att, const float (&o)[D / 2], const SoftmaxRows &st,
                                        const ss_attn_tile &tile, const ss_attn_geom &g, int head, int warp, int g4,
                                        int t4) {
    float l0 = st.l0, l1 = st.l1;
    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
    l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
    const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
    const int r0 = warp * 16 + g4, r1 = r0 + 8;
    const int64_t ld = (int64_t)g.n_heads * D;
    float *out0 = att + (tile.row0 + r0) * ld + (int64_t)head * D + 2 * t4;
    float *out1 = att + (tile.row0 + r1) * ld + (int64_t)head * D + 2 * t4;
#pragma unroll
    for (int i = 0; i < D / 8; i++) {
        if (r0 < tile.n) *(float2 *)(out0 + i * 8) = make_float2(o[4 * i] * inv0, o[4 * i + 1] * inv0);
        if (r1 < tile.n) *(float2 *)(out1 + i * 8) = make_float2(o[4 * i + 2] * inv1, o[4 * i + 3] * inv1);
    }
}

#endif
