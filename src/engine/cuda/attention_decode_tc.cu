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

// x -> (hi, lo) packed BF16x2 words for two values: hi = bf16(x), lo = bf16(x - hi).
__device__ __forceinline__ void split2(float x0, float x1, uint32_t &hi, uint32_t &lo) {
    const float h0 = round_bf16(x0), h1 = round_bf16(x1);
    hi = pack_bf16(h0, h1); // exact: h0, h1 are BF16 values
    lo = pack_bf16(__fsub_rn(x0, h0), __fsub_rn(x1, h1));
}

// Partial result of one (row, head, split): D unnormalised outputs, then the
// running max (log2 units) and sum.
template <int D>
__device__ __forceinline__ float *partial_at(float *partial, int j, int head, int split, int H, int n_splits) {
    return partial + (((int64_t)j * H + head) * n_splits + split) * (D + 2);
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
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g4 = lane >> 2, t4 = lane & 3;

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

    // q of the group's heads while the first tiles arrive: rotated in double
    // (the CPU's arithmetic), rounded to float, scaled for exp2, split.
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
        split2(x0[0], x0[1], h0, l0);
        split2(x0[2], x0[3], h1, l1);
        split2(x1[0], x1[1], h2, l2);
        split2(x1[2], x1[3], h3, l3);
        *(uint2 *)(Qs + swz<D>(h, jj)) = make_uint2(h0, h1);
        *(uint2 *)(Qs + swz<D>(h + 8, jj)) = make_uint2(l0, l1);
        *(uint2 *)(Qs + swz<D>(h, jj + HALF)) = make_uint2(h2, h3);
        *(uint2 *)(Qs + swz<D>(h + 8, jj + HALF)) = make_uint2(l2, l3);
    }
    for (int i = threadIdx.x; i < 16 * CH; i += THREADS) { // rows of absent heads are zero
        const int r = i / CH, ch = i - r * CH;
        if ((r & 7) >= G) *(uint4 *)(Qs + swz<D>(r, ch * 8)) = make_uint4(0u, 0u, 0u, 0u);
    }

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

    // Merge the warps: (O, m, l) per head through shared memory.
    cp_async_wait_all();
    __syncthreads(); // every warp is done with the tiles
    float *mrg = (float *)KV; // [WARPS][MAX_GROUP][D + 2]
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

} // namespace

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
