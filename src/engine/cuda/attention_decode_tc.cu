// Decode attention on the tensor cores: one query token per batch row over
// its sequence's BF16 KV cache, built to read the cache once at memory
// bandwidth.
//
// Work: one CTA per (row, KV head, chunk of the context); contexts longer
// than a chunk are split over CTAs (flash-decoding) and merged by a second
// kernel, launched only when some row can span several chunks. A CTA
// streams its chunk in tiles of 64 positions through a 3-stage cp.async
// pipeline (16-byte loads, two tiles in flight while one is computed), K and
// V tiles XOR-swizzled for conflict-free ldmatrix. Each of the 4 warps takes
// 16 positions of every tile and keeps its own online softmax; the warps
// are merged through shared memory at the end.
//
// The tensor cores (mma.sync m16n8k16 BF16, FP32 accumulate) see the GQA
// group as the A operand's rows: rows 0-7 hold the group's q heads (up to
// 8) in BF16, rows 8-15 the BF16 rounding error of the same values, so one
// mma computes both parts and the thread holding row g also holds row g+8:
// the score is their sum, q kept to ~16 significant bits with K exactly as
// cached, at no extra instructions. P V does the same with P = hi + lo.
// Compared with the CUDA-core kernel (attention_decode.cu), each K/V element
// is read once from shared memory instead of once per query head.
//
// Fused KV write (FUSE): the CTA whose chunk ends at the row's own position
// also does ss_k_rope_kv's work for it (k rotated in double, exactly as
// rope_kv.cu, K and V rounded to BF16 and written to the cache), and uses
// the new K/V row from shared memory instead of reading it back; no other
// CTA reads that position. Valid when each row is the only token of its
// sequence in the step (the decode loop).
//
// Precision: q rotated in double and rounded to float as the CPU reference,
// scaled by log2(e)/sqrt(D) for exp2; scores, softmax statistics and O in
// FP32; q and P carried as BF16 hi + lo (relative error ~2^-17 each).
#include <math.h>

#include "engine/cuda/common.cuh"
#include "engine/cuda/mma.cuh"
extern "C" {
#include "engine/cuda/plan.h"
}

namespace {

constexpr int BN = 64;       // positions per tile
constexpr int WARPS = 4;     // each takes 16 positions of every tile
constexpr int THREADS = 32 * WARPS;
constexpr int NSTAGE = 3;    // tile buffers: two in flight while one is computed
constexpr int MAX_GROUP = 8; // query heads per KV head (A rows 0-7; their low parts 8-15)

template <int D> constexpr size_t tile_elems() { return (size_t)BN * D; }
template <int D> constexpr size_t smem_bytes() {
    return (NSTAGE * 2 * tile_elems<D>() + 16 * D + 2 * D) * sizeof(uint16_t);
}
// The warps' results are merged in the tile buffers' space.
template <int D> constexpr size_t merge_bytes() { return (size_t)WARPS * MAX_GROUP * (D + 2) * sizeof(float); }
static_assert(merge_bytes<64>() <= NSTAGE * 2 * tile_elems<64>() * 2, "merge scratch fits the tiles (D=64)");
static_assert(merge_bytes<128>() <= NSTAGE * 2 * tile_elems<128>() * 2, "merge scratch fits the tiles (D=128)");

// x -> (hi, lo) packed 16-bit pairs for two values: hi = r(x), lo = r(x - hi),
// r rounding to BF16 (F16 false) or FP16.
template <bool F16> __device__ __forceinline__ void split2(float x0, float x1, uint32_t &hi, uint32_t &lo) {
    if constexpr (F16) {
        const float h0 = __half2float(__float2half_rn(x0)), h1 = __half2float(__float2half_rn(x1));
        hi = pack_f16(h0, h1); // exact: h0, h1 are FP16 values
        lo = pack_f16(__fsub_rn(x0, h0), __fsub_rn(x1, h1));
    } else {
        const float h0 = round_bf16(x0), h1 = round_bf16(x1);
        hi = pack_bf16(h0, h1); // exact: h0, h1 are BF16 values
        lo = pack_bf16(__fsub_rn(x0, h0), __fsub_rn(x1, h1));
    }
}
__device__ __forceinline__ void split2(float x0, float x1, uint32_t &hi, uint32_t &lo) { split2<false>(x0, x1, hi, lo); }

// q of the KV head's G query heads into Qs [16, D] (swizzled): rotated in
// double (the CPU's arithmetic), rounded to float, scaled by log2(e)/sqrt(D)
// for exp2, split: rows 0..G-1 the high parts, 8..8+G-1 the low parts, the
// other rows zero. Every thread of the CTA calls it.
template <int D, bool F16>
__device__ __forceinline__ void load_q(const ss_yview &qkv, int row, int p, const double *rope,
                                       const ss_attn_geom &g, int kvh, int G, uint16_t *Qs) {
    constexpr int HALF = D / 2, CH = D / 8;
    const float qscale = 1.4426950408889634f / sqrtf((float)D);
    for (int it = threadIdx.x; it < G * (HALF / 4); it += THREADS) {
        const int h = it / (HALF / 4), jj = (it - h * (HALF / 4)) * 4;
        const int64_t col = g.q_col + (int64_t)(kvh * G + h) * D + jj;
        float a[4], b[4], x0[4], x1[4];
        yview_load4(qkv, row, col, a);
        yview_load4(qkv, row, col + HALF, b);
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const double2 cs = *(const double2 *)(rope + ((int64_t)p * HALF + jj + e) * 2);
            const double da = a[e], db = b[e];
            x0[e] = __fmul_rn((float)__dsub_rn(__dmul_rn(da, cs.x), __dmul_rn(db, cs.y)), qscale);
            x1[e] = __fmul_rn((float)__dadd_rn(__dmul_rn(db, cs.x), __dmul_rn(da, cs.y)), qscale);
        }
        uint32_t h0, l0, h1, l1, h2, l2, h3, l3;
        split2<F16>(x0[0], x0[1], h0, l0);
        split2<F16>(x0[2], x0[3], h1, l1);
        split2<F16>(x1[0], x1[1], h2, l2);
        split2<F16>(x1[2], x1[3], h3, l3);
        *(uint2 *)(Qs + swz<D>(h, jj)) = make_uint2(h0, h1);
        *(uint2 *)(Qs + swz<D>(h + 8, jj)) = make_uint2(l0, l1);
        *(uint2 *)(Qs + swz<D>(h, jj + HALF)) = make_uint2(h2, h3);
        *(uint2 *)(Qs + swz<D>(h + 8, jj + HALF)) = make_uint2(l2, l3);
    }
    for (int i = threadIdx.x; i < 16 * CH; i += THREADS) { // rows of absent heads are zero
        const int r = i / CH, ch = i - r * CH;
        if ((r & 7) >= G) *(uint4 *)(Qs + swz<D>(r, ch * 8)) = make_uint4(0u, 0u, 0u, 0u);
    }
}

// Partial result of one (row, head, split): D unnormalised outputs, then the
// running max (log2 units) and sum.
template <int D>
__device__ __forceinline__ float *partial_at(float *partial, int j, int head, int split, int H, int n_splits) {
    return partial + (((int64_t)j * H + head) * n_splits + split) * (D + 2);
}

// The end of a CTA: the warps' (O, m, l) per head merged through shared
// memory (mrg: WARPS * MAX_GROUP * (D + 2) floats, free), then the row's
// output (the context fits in one chunk) or the chunk's partial result.
// Every thread calls it, after a barrier.
template <int D>
__device__ __forceinline__ void merge_store(float *mrg, float m_run, float l_run, const float (&o)[D / 8][4], int G,
                                            int kvh, int j, int row, int p, int chunk, int split, int n_splits,
                                            const ss_attn_geom &g, float *partial, float *att) {
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g4 = lane >> 2, t4 = lane & 3;
    l_run += __shfl_xor_sync(0xffffffffu, l_run, 1);
    l_run += __shfl_xor_sync(0xffffffffu, l_run, 2);
    if (g4 < G) {
        float *w = mrg + (warp * MAX_GROUP + g4) * (D + 2);
#pragma unroll
        for (int i = 0; i < D / 8; i++)
            *(float2 *)(w + i * 8 + 2 * t4) = make_float2(__fadd_rn(o[i][0], o[i][2]), __fadd_rn(o[i][1], o[i][3]));
        if (t4 == 0) w[D] = m_run, w[D + 1] = l_run;
    }
    __syncthreads();
    const bool whole = p < chunk; // one chunk holds the context: the final output is written here
    for (int it = threadIdx.x; it < G * (D / 4); it += THREADS) {
        const int h = it / (D / 4), d = (it - h * (D / 4)) * 4;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < WARPS; w++) M = fmaxf(M, mrg[(w * MAX_GROUP + h) * (D + 2) + D]);
        float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f}, l = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; w++) {
            const float *src = mrg + (w * MAX_GROUP + h) * (D + 2);
            const float wt = exp2f(src[D] - M); // a warp without positions: exp2(-inf) = 0
            l += wt * src[D + 1];
#pragma unroll
            for (int e = 0; e < 4; e++) acc[e] += wt * src[d + e];
        }
        const int head = kvh * G + h;
        if (whole) {
            const float inv = 1.0f / l;
            *(float4 *)(att + (int64_t)row * g.n_heads * D + (int64_t)head * D + d) =
                make_float4(acc[0] * inv, acc[1] * inv, acc[2] * inv, acc[3] * inv);
        } else {
            float *pp = partial_at<D>(partial, j, head, split, g.n_heads, n_splits);
#pragma unroll
            for (int e = 0; e < 4; e++) pp[d + e] = acc[e];
            if (d == 0) pp[D] = M, pp[D + 1] = l;
        }
    }
}

template <int D, bool FUSE>
__global__ void __launch_bounds__(THREADS, 2)
    decode_tc_kernel(ss_yview qkv, const int32_t *rows, const int32_t *seq, const int32_t *pos, const double *rope,
                     ss_attn_geom g, int chunk, uint16_t *k_cache, uint16_t *v_cache, float *partial, float *att) {
    constexpr int CH = D / 8, HALF = D / 2, TILE = BN * D;
    extern __shared__ float4 smem4[];
    uint16_t *KV = (uint16_t *)smem4;         // [NSTAGE][K tile, V tile], each [BN, D] swizzled
    uint16_t *Qs = KV + NSTAGE * 2 * TILE;    // [16, D] swizzled: rows 0-7 q (hi), 8-15 q (lo)
    uint16_t *KN = Qs + 16 * D, *VN = KN + D; // FUSE: the new position's K and V

    const int split = blockIdx.x, kvh = blockIdx.y, j = blockIdx.z, n_splits = gridDim.x;
    const int G = g.n_heads / g.n_kv_heads;
    const int row = rows[j], sq = seq[row], p = pos[row];
    const int begin = split * chunk;
    if (begin > p) return; // the context is 0..p
    const int last = min(p, begin + chunk - 1);
    const int n_tiles = (last - begin) / BN + 1;
    const bool own_new = FUSE && last == p; // this CTA writes and uses position p
    const int64_t off = ((int64_t)sq * g.n_kv_heads + kvh) * g.max_len * D;
    const uint16_t *kb = k_cache + off, *vb = v_cache + off;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;

    // Issues tile t's loads into buffer t % NSTAGE; keys past `last` are
    // zero-filled (P is 0 there, and 0 * garbage could be NaN). Position p
    // of a fused CTA is never loaded: copy_new copies it from KN/VN (tiles
    // issued in the loop, after KN/VN are published), otherwise the
    // prologue writes it.
    auto load_tile = [&](int t, bool copy_new) {
        uint16_t *Kt = KV + (t % NSTAGE) * 2 * TILE, *Vt = Kt + TILE;
        const int key0 = begin + t * BN;
#pragma unroll
        for (int i = 0; i < BN * CH / THREADS; i++) {
            const int c = threadIdx.x + i * THREADS, r = c / CH, ch = c - r * CH, key = key0 + r;
            const int e = swz<D>(r, ch * 8);
            if (own_new && key == p) {
                if (copy_new) {
                    *(uint4 *)(Kt + e) = *(const uint4 *)(KN + ch * 8);
                    *(uint4 *)(Vt + e) = *(const uint4 *)(VN + ch * 8);
                }
                continue;
            }
            const bool ok = key <= last;
            const int64_t src = (int64_t)(ok ? key : begin) * D + ch * 8;
            cp_async16(smem_u32(Kt + e), kb + src, ok ? 16 : 0);
            cp_async16(smem_u32(Vt + e), vb + src, ok ? 16 : 0);
        }
    };

#pragma unroll
    for (int t = 0; t < NSTAGE - 1; t++) {
        if (t < n_tiles) load_tile(t, false);
        cp_async_commit(); // empty groups too: the wait count below stays uniform
    }

    load_q<D, false>(qkv, row, p, rope, g, kvh, G, Qs); // while the first tiles arrive

    if (own_new) { // rope_kv.cu's arithmetic for this row and KV head
        const int t_new = (p - begin) / BN, r_new = p - begin - t_new * BN;
        const bool issued = t_new < NSTAGE - 1; // its tile is loading already, without row p
        uint16_t *Kt = KV + (t_new % NSTAGE) * 2 * TILE, *Vt = Kt + TILE;
        uint16_t *kdst = k_cache + off + (int64_t)p * D, *vdst = v_cache + off + (int64_t)p * D;
        for (int jj = threadIdx.x; jj < HALF; jj += THREADS) {
            const double a = yview_load(qkv, row, g.k_col + (int64_t)kvh * D + jj);
            const double b = yview_load(qkv, row, g.k_col + (int64_t)kvh * D + jj + HALF);
            const double2 cs = *(const double2 *)(rope + ((int64_t)p * HALF + jj) * 2);
            const uint16_t x0 = f32_to_bf16_bits((float)__dsub_rn(__dmul_rn(a, cs.x), __dmul_rn(b, cs.y)));
            const uint16_t x1 = f32_to_bf16_bits((float)__dadd_rn(__dmul_rn(b, cs.x), __dmul_rn(a, cs.y)));
            kdst[jj] = x0, kdst[jj + HALF] = x1;
            KN[jj] = x0, KN[jj + HALF] = x1;
            if (issued) Kt[swz<D>(r_new, jj)] = x0, Kt[swz<D>(r_new, jj + HALF)] = x1;
        }
        for (int d = threadIdx.x; d < D; d += THREADS) {
            const uint16_t v = f32_to_bf16_bits(yview_load(qkv, row, g.v_col + (int64_t)kvh * D + d));
            vdst[d] = v;
            VN[d] = v;
            if (issued) Vt[swz<D>(r_new, d)] = v;
        }
    }

    float m_run = -INFINITY, l_run = 0.0f; // of head g4 (rows g4 and g4 + 8), this warp's positions
    float o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    uint32_t qf[D / 16][4];
    const int wrow = warp * 16; // this warp's rows of every tile

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<NSTAGE - 2>(); // this thread's part of tile t has landed
        __syncthreads();             // all of it; tile t-1's buffer is free; (t = 0) Qs, KN, VN written
        if (t == 0) {
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
                ldmatrix_x4(qf[kk], smem_u32(Qs + swz<D>(lane & 15, kk * 16 + (lane >> 4) * 8)));
        }
        if (t + NSTAGE - 1 < n_tiles) load_tile(t + NSTAGE - 1, true);
        cp_async_commit();
        const int key0 = begin + t * BN + wrow;
        if (key0 > last) continue; // warp-uniform: none of this warp's positions is in the context
        const uint16_t *Kt = KV + (t % NSTAGE) * 2 * TILE, *Vt = Kt + TILE;

        // S = Q K^T for the warp's 16 positions (2 n-tiles of 8).
        float s[2][4];
#pragma unroll
        for (int nt = 0; nt < 2; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t b[4];
            ldmatrix_x4(b,
                        smem_u32(Kt + swz<D>(wrow + (lane & 7) + ((lane >> 4) << 3), kk * 16 + ((lane >> 3) & 1) * 8)));
            mma_bf16(s[0], qf[kk], b[0], b[1]);
            mma_bf16(s[1], qf[kk], b[2], b[3]);
        }

        // Scores of head g4 at positions key0 + 8 nt + 2 t4 + e: the hi row
        // plus the lo row; positions past the context masked.
        float sc[4], mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                float v = __fadd_rn(s[nt][e], s[nt][2 + e]);
                if (key0 + nt * 8 + 2 * t4 + e > last) v = -INFINITY;
                sc[nt * 2 + e] = v;
                mx = fmaxf(mx, v);
            }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // finite: position key0 <= last is one of the quad's (t4 = 0, nt = 0, e = 0)
        const float m_new = fmaxf(m_run, mx);
        const float alpha = exp2f(m_run - m_new); // 0 on the warp's first tile
        m_run = m_new;
        float pr[4], rs = 0.0f;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            pr[i] = exp2f(sc[i] - m_new);
            rs += pr[i];
        }
        // P as the A operand of the 16-position k-step: a0/a1 = rows g4/g4+8
        // (hi/lo) of positions 2t4.. (n-tile 0), a2/a3 of 8+2t4.. (n-tile 1).
        uint32_t pa[4];
        split2(pr[0], pr[1], pa[0], pa[1]);
        split2(pr[2], pr[3], pa[2], pa[3]);
        l_run = l_run * alpha + rs;
#pragma unroll
        for (int i = 0; i < D / 8; i++) o[i][0] *= alpha, o[i][1] *= alpha, o[i][2] *= alpha, o[i][3] *= alpha;

        // O += P V: V as col-major B through ldmatrix.trans.
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            ldmatrix_x4_trans(
                b, smem_u32(Vt + swz<D>(wrow + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 16 + (lane >> 4) * 8)));
            mma_bf16(o[2 * dp], pa, b[0], b[1]);
            mma_bf16(o[2 * dp + 1], pa, b[2], b[3]);
        }
    }

    cp_async_wait_all();
    __syncthreads(); // every warp is done with the tiles: their space becomes the merge scratch
    merge_store<D>((float *)KV, m_run, l_run, o, G, kvh, j, row, p, chunk, split, n_splits, g, partial, att);
}

// FP8 cache (kernels.h's ss_kv_f8): the same schedule, with the tiles staged
// as E4M3 codes (half the bytes) plus one scale per position, converted to
// FP16 in shared memory (exact) once landed; FP16 tensor cores with q and P
// as FP16 hi + lo; each score times its K row's scale, each P times its V
// row's scale (the softmax sum takes P unscaled). Fused: the new position
// is quantized as rope_kv_f8 does, and the conversion takes its codes and
// scales from shared memory instead of the tile.
template <int D> constexpr size_t smem_bytes_f8() {
    return (size_t)NSTAGE * 2 * BN * D + NSTAGE * 2 * BN * sizeof(float) + (2 * BN * D + 16 * D) * sizeof(uint16_t) +
           2 * D;
}
static_assert(merge_bytes<128>() <= NSTAGE * 2 * BN * 128, "merge scratch fits the FP8 tiles (D=128)");
static_assert(merge_bytes<64>() <= NSTAGE * 2 * BN * 64, "merge scratch fits the FP8 tiles (D=64)");

// Sixteen E4M3 codes -> sixteen FP16 values (exact), as two 16-byte words.
__device__ __forceinline__ void f8x16_to_f16(uint4 u, uint4 &lo, uint4 &hi) {
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
    uint32_t h[8];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        __half2_raw a = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] & 0xffffu), __NV_E4M3);
        __half2_raw b = __nv_cvt_fp8x2_to_halfraw2((__nv_fp8x2_storage_t)(w[i] >> 16), __NV_E4M3);
        h[2 * i] = (uint32_t)a.x | (uint32_t)a.y << 16;
        h[2 * i + 1] = (uint32_t)b.x | (uint32_t)b.y << 16;
    }
    lo = make_uint4(h[0], h[1], h[2], h[3]);
    hi = make_uint4(h[4], h[5], h[6], h[7]);
}

// Block-wide max of v (every thread calls it; red: 4 floats of shared memory).
__device__ __forceinline__ float block_max4(float v, float *red) {
    v = warp_max(v);
    __syncthreads(); // red may still be read by an earlier call
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    return fmaxf(fmaxf(red[0], red[1]), fmaxf(red[2], red[3]));
}

template <int D, bool FUSE>
__global__ void __launch_bounds__(THREADS, 2)
    decode_tc_f8_kernel(ss_yview qkv, const int32_t *rows, const int32_t *seq, const int32_t *pos, const double *rope,
                        ss_attn_geom g, int chunk, ss_kv_f8 kv, float *partial, float *att) {
    constexpr int CHB = D / 16, HALF = D / 2, TB = BN * D; // 16-byte chunks per code row; bytes per code tile
    extern __shared__ float4 smem4[];
    uint8_t *ST = (uint8_t *)smem4;                     // [NSTAGE][K, V] codes, rows of D bytes
    float *SC = (float *)(ST + NSTAGE * 2 * TB);        // [NSTAGE][K, V][BN] row scales
    uint16_t *CK = (uint16_t *)(SC + NSTAGE * 2 * BN);  // [BN, D] K as FP16, swizzled
    uint16_t *CV = CK + BN * D;                         // [BN, D] V as FP16
    uint16_t *Qs = CV + BN * D;                         // [16, D] q: FP16 hi rows 0-7, lo rows 8-15
    uint8_t *KN = (uint8_t *)(Qs + 16 * D), *VN = KN + D; // FUSE: the new position's codes
    __shared__ float red[4], new_scale[2];

    const int split = blockIdx.x, kvh = blockIdx.y, j = blockIdx.z, n_splits = gridDim.x;
    const int G = g.n_heads / g.n_kv_heads;
    const int row = rows[j], sq = seq[row], p = pos[row];
    const int begin = split * chunk;
    if (begin > p) return;
    const int last = min(p, begin + chunk - 1);
    const int n_tiles = (last - begin) / BN + 1;
    const bool own_new = FUSE && last == p;
    const int64_t rbase = ((int64_t)sq * g.n_kv_heads + kvh) * g.max_len; // cache row of position 0
    const uint8_t *kb = kv.k + rbase * D, *vb = kv.v + rbase * D;
    const float *ksb = kv.k_scale + rbase, *vsb = kv.v_scale + rbase;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, t4 = lane & 3;

    // Tile t's codes and scales into stage t % NSTAGE; past `last` zero-filled.
    // (Position p of a fused CTA loads whatever the cache held: the
    // conversion replaces it.)
    auto load_tile = [&](int t) {
        uint8_t *Kt = ST + (t % NSTAGE) * 2 * TB, *Vt = Kt + TB;
        float *Ks = SC + (t % NSTAGE) * 2 * BN, *Vs = Ks + BN;
        const int key0 = begin + t * BN;
#pragma unroll
        for (int i = 0; i < BN * CHB / THREADS; i++) {
            const int c = threadIdx.x + i * THREADS, r = c / CHB, ch = c - r * CHB, key = key0 + r;
            const bool ok = key <= last;
            const int64_t src = (int64_t)(ok ? key : begin) * D + ch * 16;
            cp_async16(smem_u32(Kt + r * D + ch * 16), kb + src, ok ? 16 : 0);
            cp_async16(smem_u32(Vt + r * D + ch * 16), vb + src, ok ? 16 : 0);
        }
        if (threadIdx.x < 2 * BN / 4) { // 4 scales per 16-byte copy
            const int which = threadIdx.x / (BN / 4), q4 = (threadIdx.x % (BN / 4)) * 4, key = key0 + q4;
            const int n_ok = max(0, min(4, last - key + 1));
            const float *src = (which ? vsb : ksb) + (n_ok ? key : begin);
            cp_async16(smem_u32((which ? Vs : Ks) + q4), src, 4 * n_ok);
        }
    };

#pragma unroll
    for (int t = 0; t < NSTAGE - 1; t++) {
        if (t < n_tiles) load_tile(t);
        cp_async_commit();
    }
    load_q<D, true>(qkv, row, p, rope, g, kvh, G, Qs);

    if (own_new) { // rope_kv_f8's arithmetic for this row and KV head
        float x0 = 0.0f, x1 = 0.0f, amax = 0.0f;
        const int jj = threadIdx.x; // THREADS >= D >= HALF
        if (jj < HALF) {
            const double a = yview_load(qkv, row, g.k_col + (int64_t)kvh * D + jj);
            const double b = yview_load(qkv, row, g.k_col + (int64_t)kvh * D + jj + HALF);
            const double2 cs = *(const double2 *)(rope + ((int64_t)p * HALF + jj) * 2);
            x0 = (float)__dsub_rn(__dmul_rn(a, cs.x), __dmul_rn(b, cs.y));
            x1 = (float)__dadd_rn(__dmul_rn(b, cs.x), __dmul_rn(a, cs.y));
            amax = fmaxf(fabsf(x0), fabsf(x1));
        }
        const float sk = ss_act_scale(block_max4(amax, red), ss_q_fp8e4m3::qmax);
        if (jj < HALF) {
            const uint8_t c0 = ss_q_fp8e4m3::quant(x0, sk), c1 = ss_q_fp8e4m3::quant(x1, sk);
            kv.k[(rbase + p) * D + jj] = c0, kv.k[(rbase + p) * D + jj + HALF] = c1;
            KN[jj] = c0, KN[jj + HALF] = c1;
        }
        const float v = threadIdx.x < D ? yview_load(qkv, row, g.v_col + (int64_t)kvh * D + threadIdx.x) : 0.0f;
        const float sv = ss_act_scale(block_max4(fabsf(v), red), ss_q_fp8e4m3::qmax);
        if (threadIdx.x < D) {
            const uint8_t c = ss_q_fp8e4m3::quant(v, sv);
            kv.v[(rbase + p) * D + threadIdx.x] = c;
            VN[threadIdx.x] = c;
        }
        if (threadIdx.x == 0) kv.k_scale[rbase + p] = sk, kv.v_scale[rbase + p] = sv, new_scale[0] = sk, new_scale[1] = sv;
    }

    float m_run = -INFINITY, l_run = 0.0f;
    float o[D / 8][4];
#pragma unroll
    for (int i = 0; i < D / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.0f;
    uint32_t qf[D / 16][4];
    const int wrow = warp * 16;

    for (int t = 0; t < n_tiles; t++) {
        cp_async_wait<NSTAGE - 2>();
        __syncthreads(); // tile t landed; everyone is done with CK/CV of tile t-1 and with stage t-1
        if (t + NSTAGE - 1 < n_tiles) load_tile(t + NSTAGE - 1);
        cp_async_commit();
        const uint8_t *Kt = ST + (t % NSTAGE) * 2 * TB, *Vt = Kt + TB;
        const float *Ks = SC + (t % NSTAGE) * 2 * BN, *Vs = Ks + BN;
        const int tile0 = begin + t * BN;
#pragma unroll
        for (int i = 0; i < BN * CHB / THREADS; i++) { // codes -> FP16
            const int c = threadIdx.x + i * THREADS, r = c / CHB, ch = c - r * CHB;
            const bool is_new = own_new && tile0 + r == p;
            uint4 lo, hi;
            f8x16_to_f16(*(const uint4 *)((is_new ? KN : Kt + r * D) + ch * 16), lo, hi);
            *(uint4 *)(CK + swz<D>(r, ch * 16)) = lo;
            *(uint4 *)(CK + swz<D>(r, ch * 16 + 8)) = hi;
            f8x16_to_f16(*(const uint4 *)((is_new ? VN : Vt + r * D) + ch * 16), lo, hi);
            *(uint4 *)(CV + swz<D>(r, ch * 16)) = lo;
            *(uint4 *)(CV + swz<D>(r, ch * 16 + 8)) = hi;
        }
        __syncthreads(); // CK, CV (and at t = 0 Qs) complete
        if (t == 0) {
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++)
                ldmatrix_x4(qf[kk], smem_u32(Qs + swz<D>(lane & 15, kk * 16 + (lane >> 4) * 8)));
        }
        const int key0 = tile0 + wrow;
        if (key0 > last) continue;

        float s[2][4];
#pragma unroll
        for (int nt = 0; nt < 2; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            uint32_t b[4];
            const int r = wrow + (lane & 7) + ((lane >> 4) << 3);
            ldmatrix_x4(b, smem_u32(CK + swz<D>(r, kk * 16 + ((lane >> 3) & 1) * 8)));
            mma_f16(s[0], qf[kk], b[0], b[1]);
            mma_f16(s[1], qf[kk], b[2], b[3]);
        }
        // score = (hi row + lo row) * the K row's scale; masked past `last`
        float sc[4], vsc[4], mx = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 2; nt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int r = wrow + nt * 8 + 2 * t4 + e, key = tile0 + r;
                const bool is_new = own_new && key == p;
                const float ks = is_new ? new_scale[0] : Ks[r];
                vsc[nt * 2 + e] = is_new ? new_scale[1] : Vs[r];
                float v = __fmul_rn(__fadd_rn(s[nt][e], s[nt][2 + e]), ks);
                if (key > last) v = -INFINITY;
                sc[nt * 2 + e] = v;
                mx = fmaxf(mx, v);
            }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        const float m_new = fmaxf(m_run, mx);
        const float alpha = exp2f(m_run - m_new);
        m_run = m_new;
        float pv[4], rs = 0.0f;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const float pr = exp2f(sc[i] - m_new);
            rs += pr;
            pv[i] = __fmul_rn(pr, vsc[i]); // 0 past `last` (zero-filled scales, P = 0)
        }
        uint32_t pa[4];
        split2<true>(pv[0], pv[1], pa[0], pa[1]);
        split2<true>(pv[2], pv[3], pa[2], pa[3]);
        l_run = l_run * alpha + rs;
#pragma unroll
        for (int i = 0; i < D / 8; i++) o[i][0] *= alpha, o[i][1] *= alpha, o[i][2] *= alpha, o[i][3] *= alpha;
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            const int r = wrow + (lane & 7) + ((lane >> 3) & 1) * 8;
            ldmatrix_x4_trans(b, smem_u32(CV + swz<D>(r, dp * 16 + (lane >> 4) * 8)));
            mma_f16(o[2 * dp], pa, b[0], b[1]);
            mma_f16(o[2 * dp + 1], pa, b[2], b[3]);
        }
    }

    cp_async_wait_all();
    __syncthreads();
    merge_store<D>((float *)ST, m_run, l_run, o, G, kvh, j, row, p, chunk, split, n_splits, g, partial, att);
}

// Merges the splits of rows whose context spans more than one chunk.
template <int D>
__global__ void combine_tc_kernel(const int32_t *rows, const int32_t *pos, ss_attn_geom g, const float *partial,
                                  int chunk, int n_splits, float *att) {
    const int j = blockIdx.x, head = blockIdx.y, d = threadIdx.x;
    const int row = rows[j], p = pos[row];
    if (p < chunk) return; // written whole by its only CTA
    const int used = p / chunk + 1;
    float *base = partial_at<D>((float *)partial, j, head, 0, g.n_heads, n_splits);
    float M = -INFINITY;
    for (int c = 0; c < used; c++) M = fmaxf(M, base[c * (D + 2) + D]);
    float o = 0.0f, l = 0.0f;
    for (int c = 0; c < used; c++) {
        const float *pp = base + c * (D + 2);
        const float w = exp2f(pp[D] - M);
        o += w * pp[d];
        l += w * pp[D + 1];
    }
    att[(int64_t)row * g.n_heads * D + (int64_t)head * D + d] = o / l;
}

int device_sms() {
    int dev = 0, n = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
        n = 1;
    return n;
}

template <int D, bool FUSE>
ss_status launch_tc(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq, const int32_t *pos,
                    const double *rope, const ss_attn_geom *g, int chunk, uint16_t *kc, uint16_t *vc, float *partial,
                    float *att, void *stream) {
    const size_t smem = smem_bytes<D>();
    cudaError_t e =
        cudaFuncSetAttribute(decode_tc_kernel<D, FUSE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_decode_tc: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    const int n_splits = (g->max_len + chunk - 1) / chunk;
    cudaStream_t st = ss_stream(stream);
    dim3 grid((unsigned)n_splits, (unsigned)g->n_kv_heads, (unsigned)n_rows);
    decode_tc_kernel<D, FUSE><<<grid, THREADS, smem, st>>>(*qkv, rows, seq, pos, rope, *g, chunk, kc, vc, partial, att);
    SS_TRY(ss_launch_status("attention_decode_tc"));
    if (n_splits > 1) {
        combine_tc_kernel<D><<<dim3((unsigned)n_rows, (unsigned)g->n_heads), D, 0, st>>>(rows, pos, *g, partial, chunk,
                                                                                         n_splits, att);
        SS_TRY(ss_launch_status("attention_decode_tc_combine"));
    }
    return SS_OK;
}

template <int D, bool FUSE>
ss_status launch_tc_f8(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq, const int32_t *pos,
                       const double *rope, const ss_attn_geom *g, int chunk, const ss_kv_f8 *kv, float *partial,
                       float *att, void *stream) {
    const size_t smem = smem_bytes_f8<D>();
    cudaError_t e =
        cudaFuncSetAttribute(decode_tc_f8_kernel<D, FUSE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_decode_tc_f8: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    const int n_splits = (g->max_len + chunk - 1) / chunk;
    cudaStream_t st = ss_stream(stream);
    dim3 grid((unsigned)n_splits, (unsigned)g->n_kv_heads, (unsigned)n_rows);
    decode_tc_f8_kernel<D, FUSE><<<grid, THREADS, smem, st>>>(*qkv, rows, seq, pos, rope, *g, chunk, *kv, partial, att);
    SS_TRY(ss_launch_status("attention_decode_tc_f8"));
    if (n_splits > 1) {
        combine_tc_kernel<D>
            <<<dim3((unsigned)n_rows, (unsigned)g->n_heads), D, 0, st>>>(rows, pos, *g, partial, chunk, n_splits, att);
        SS_TRY(ss_launch_status("attention_decode_tc_combine"));
    }
    return SS_OK;
}

// The checks both cache formats share; fills *chunk when it is 0.
ss_status check_decode_args(const char *name, const ss_yview *qkv, int n_rows, const ss_attn_geom *g, int *chunk) {
    if (g->n_kv_heads <= 0 || g->n_heads % g->n_kv_heads || g->n_heads / g->n_kv_heads > MAX_GROUP)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: %d heads over %d KV heads (groups of at most %d supported)", name,
                       g->n_heads, g->n_kv_heads, MAX_GROUP);
    if (*chunk < 0 || *chunk % BN)
        return ss_fail(SS_ERR_ARG, "%s: chunk %d is not a positive multiple of %d (0: automatic)", name, *chunk, BN);
    if (qkv->ld % 4 || g->q_col % 4)
        return ss_fail(SS_ERR_ARG, "%s: qkv stride %lld and q column %lld must be multiples of 4", name,
                       (long long)qkv->ld, (long long)g->q_col);
    if (g->head_dim != 64 && g->head_dim != 128)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: head_dim %d is not supported on the GPU (64 or 128)", name,
                       g->head_dim);
    if (n_rows > 65535) return ss_fail(SS_ERR_ARG, "%s: %d rows exceed a grid's 65535", name, n_rows);
    if (n_rows > 0 && *chunk == 0) *chunk = ss_attn_decode_chunk(n_rows, g->n_kv_heads, g->max_len, device_sms());
    return SS_OK;
}

} // namespace

extern "C" ss_status ss_k_attention_decode_tc_f8(const ss_yview *qkv, const int32_t *rows, int n_rows,
                                                 const int32_t *seq, const int32_t *pos, const double *rope,
                                                 const ss_attn_geom *g, int chunk, int fuse_kv, const ss_kv_f8 *kv,
                                                 float *partial, float *att, void *stream) {
    SS_TRY(check_decode_args("attention_decode_tc_f8", qkv, n_rows, g, &chunk));
    if (g->max_len % 4)
        return ss_fail(SS_ERR_ARG, "attention_decode_tc_f8: max_len %d is not a multiple of 4 (scale rows)",
                       g->max_len);
    if (n_rows <= 0) return SS_OK;
    if (g->head_dim == 64)
        return fuse_kv ? launch_tc_f8<64, true>(qkv, rows, n_rows, seq, pos, rope, g, chunk, kv, partial, att, stream)
                       : launch_tc_f8<64, false>(qkv, rows, n_rows, seq, pos, rope, g, chunk, kv, partial, att, stream);
    return fuse_kv ? launch_tc_f8<128, true>(qkv, rows, n_rows, seq, pos, rope, g, chunk, kv, partial, att, stream)
                   : launch_tc_f8<128, false>(qkv, rows, n_rows, seq, pos, rope, g, chunk, kv, partial, att, stream);
}

extern "C" ss_status ss_k_attention_decode_tc(const ss_yview *qkv, const int32_t *rows, int n_rows, const int32_t *seq,
                                              const int32_t *pos, const double *rope, const ss_attn_geom *g, int chunk,
                                              int fuse_kv, uint16_t *k_cache, uint16_t *v_cache, float *partial,
                                              float *att, void *stream) {
    if (g->n_kv_heads <= 0 || g->n_heads % g->n_kv_heads || g->n_heads / g->n_kv_heads > MAX_GROUP)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "attention_decode_tc: %d heads over %d KV heads (groups of at most %d supported)", g->n_heads,
                       g->n_kv_heads, MAX_GROUP);
    if (chunk < 0 || chunk % BN)
        return ss_fail(SS_ERR_ARG, "attention_decode_tc: chunk %d is not a positive multiple of %d (0: automatic)",
                       chunk, BN);
    if (qkv->ld % 4 || g->q_col % 4)
        return ss_fail(SS_ERR_ARG, "attention_decode_tc: qkv stride %lld and q column %lld must be multiples of 4",
                       (long long)qkv->ld, (long long)g->q_col);
    if (n_rows <= 0) return SS_OK;
    if (n_rows > 65535) return ss_fail(SS_ERR_ARG, "attention_decode_tc: %d rows exceed a grid's 65535", n_rows);
    if (chunk == 0) chunk = ss_attn_decode_chunk(n_rows, g->n_kv_heads, g->max_len, device_sms());
#define SS_DECODE_TC_ARGS qkv, rows, n_rows, seq, pos, rope, g, chunk, k_cache, v_cache, partial, att, stream
    switch (g->head_dim * 2 + (fuse_kv ? 1 : 0)) {
    case 128: return launch_tc<64, false>(SS_DECODE_TC_ARGS);
    case 129: return launch_tc<64, true>(SS_DECODE_TC_ARGS);
    case 256: return launch_tc<128, false>(SS_DECODE_TC_ARGS);
    case 257: return launch_tc<128, true>(SS_DECODE_TC_ARGS);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "attention_decode_tc: head_dim %d is not supported on the GPU (64 or 128)",
                       g->head_dim);
    }
#undef SS_DECODE_TC_ARGS
}
