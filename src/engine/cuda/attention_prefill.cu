// Causal prefill attention, flash-attention style (FA2's loop): one block
// per (query head, tile of up to 64 query rows of one sequence), 4 warps of
// 16 rows each. K/V tiles of 64 positions stream from the BF16 KV cache into
// shared memory (cp.async, double-buffered); S = Q K^T and O += P V run on
// the tensor cores (mma.sync m16n8k16 BF16, FP32 accumulate); the softmax is
// online (running max and sum per row), so no M x M matrix ever exists.
//
// Shared-memory rows are head_dim BF16 wide; 16-byte chunks are XOR-swizzled
// by (row & 7) so that ldmatrix's 8 row addresses hit 8 different bank groups.
//
// Precision: S = Q K^T runs in FP16 (q rotated in float and rounded to FP16,
// 11 significant bits; K converted from the BF16 cache to FP16 exactly), since
// an error in q shifts every score of its row alike and the softmax turns
// that into a relative error of the weights: BF16 q (8 bits) cost 8x more.
// P V runs in BF16 (P rounded to BF16, V as cached); the running max, sum and
// O are FP32. (The CPU keeps q and P in float; see the engine tests for the
// tolerance this gives.) Values past FP16's range (|x| > 65504) in q or K are
// not supported.
#include <math.h>

#include "engine/cuda/attention_tile.cuh"

namespace {

constexpr int BM = SS_ATTN_TILE_ROWS; // query rows per block
constexpr int BN = SS_ATTN_KEYS;      // keys per tile
constexpr int THREADS = 128;          // 4 warps x 16 rows

// Converts, in place, the K chunks this thread loaded with load_kv_tile
// (after its cp.async completed; the block barrier that follows publishes them).
template <int D> __device__ __forceinline__ void k_tile_to_f16(uint16_t *tile) {
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = 0; i < BN * CH / THREADS; i++) {
        const int c = threadIdx.x + i * THREADS, r = c / CH, ch = c - r * CH;
        uint4 *p = (uint4 *)(tile + swz<D>(r, ch * 8));
        uint4 v = *p;
        v.x = bf16x2_to_f16x2(v.x), v.y = bf16x2_to_f16x2(v.y), v.z = bf16x2_to_f16x2(v.z), v.w = bf16x2_to_f16x2(v.w);
        *p = v;
    }
}

// Issues the cp.async loads of keys [key0, key0 + BN) of one KV head into a
// swizzled [BN, D] tile; keys past `last` are zero-filled.
template <int D>
__device__ __forceinline__ void load_kv_tile(uint16_t *tile, const uint16_t *head_base, int key0, int last) {
    constexpr int CH = D / 8; // 16-byte chunks per row
    for (int c = threadIdx.x; c < BN * CH; c += THREADS) {
        const int r = c / CH, ch = c - r * CH, key = key0 + r;
        const bool ok = key <= last;
        const uint16_t *src = head_base + (int64_t)(ok ? key : 0) * D + ch * 8;
        cp_async16(smem_u32(tile + swz<D>(r, ch * 8)), src, ok ? 16 : 0);
    }
}

// q of the tile's rows rotated, rounded to FP16 and stored swizzled into Qs
// [BM, D] (rows past tile.n zero): 8 pairs an item, every load of the
// thread's items issued before the first is used. Ends with the barrier that
// publishes Qs.
template <int D>
__device__ __forceinline__ void store_q(uint16_t *Qs, const ss_yview &qkv, const ss_attn_tile &tile,
                                        const float *rope_f, const ss_attn_geom &g, int head) {
    constexpr int HALF = D / 2, ITEMS = BM * (HALF / 8) / THREADS;
    float qa[ITEMS][8], qb[ITEMS][8];
    float4 cs[ITEMS][4];
#pragma unroll
    for (int it = 0; it < ITEMS; it++) {
        const int idx = threadIdx.x + it * THREADS, r = idx / (HALF / 8), j0 = (idx % (HALF / 8)) * 8;
        if (r < tile.n) load_q8<D>(qkv, tile, rope_f, g, head, r, j0, qa[it], qb[it], cs[it]);
    }
#pragma unroll
    for (int it = 0; it < ITEMS; it++) {
        const int idx = threadIdx.x + it * THREADS, r = idx / (HALF / 8), j0 = (idx % (HALF / 8)) * 8;
        uint32_t w0[4] = {0, 0, 0, 0}, w1[4] = {0, 0, 0, 0};
        if (r < tile.n) rotate_q8(qa[it], qb[it], cs[it], w0, w1);
        *(uint4 *)(Qs + swz<D>(r, j0)) = make_uint4(w0[0], w0[1], w0[2], w0[3]);
        *(uint4 *)(Qs + swz<D>(r, j0 + HALF)) = make_uint4(w1[0], w1[1], w1[2], w1[3]);
    }
    __syncthreads();
}

// Q fragments of this warp's 16 rows, all of D.
template <int D> __device__ __forceinline__ void load_q_frags(uint32_t (&qf)[D / 16][4], const uint16_t *Qs, int warp, int lane) {
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        ldmatrix_x4(qf[kk], smem_u32(Qs + swz<D>(warp * 16 + (lane & 15), kk * 16 + (lane >> 4) * 8)));
}

// s = Q K^T for the tile's 64 keys (8 n-tiles of 8), K as FP16 in Kt.
template <int D>
__device__ __forceinline__ void qk_tile(float (&s)[32], const uint32_t (&qf)[D / 16][4], const uint16_t *Kt, int lane) {
#pragma unroll
    for (int i = 0; i < 32; i++) s[i] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) {
#pragma unroll
        for (int np = 0; np < 4; np++) {
            uint32_t b[4];
            const int key = np * 16 + (lane & 7) + ((lane >> 4) << 3);
            const int dim = kk * 16 + ((lane >> 3) & 1) * 8;
            ldmatrix_x4(b, smem_u32(Kt + swz<D>(key, dim)));
            mma_f16(s + 8 * np, qf[kk], b[0], b[1]);
            mma_f16(s + 8 * np + 4, qf[kk], b[2], b[3]);
        }
    }
}

// O += P V: V tiles as col-major B through ldmatrix.trans; BF16 P and V, or (F16) both FP16.
template <int D, bool F16>
__device__ __forceinline__ void pv_tile(float (&o)[D / 2], const uint32_t (&pa)[4][4], const uint16_t *Vt, int lane) {
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
#pragma unroll
        for (int dp = 0; dp < D / 16; dp++) {
            uint32_t b[4];
            const int key = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
            const int dim = dp * 16 + (lane >> 4) * 8;
            ldmatrix_x4_trans(b, smem_u32(Vt + swz<D>(key, dim)));
            if (F16) mma_f16(o + 8 * dp, pa[kk], b[0], b[1]), mma_f16(o + 8 * dp + 4, pa[kk], b[2], b[3]);
            else mma_bf16(o + 8 * dp, pa[kk], b[0], b[1]), mma_bf16(o + 8 * dp + 4, pa[kk], b[2], b[3]);
        }
    }
}

template <int D>
__global__ void __launch_bounds__(THREADS, 2)
    flash_prefill_kernel(ss_yview qkv, const ss_attn_tile *tiles, const float *rope_f, ss_attn_geom g,
                         const uint16_t *k_cache, const uint16_t *v_cache, float *att) {
    extern __shared__ float4 smem4[];
    uint16_t *Qs = (uint16_t *)smem4;  // [BM, D]
    uint16_t *Ks = Qs + BM * D;        // [2][BN, D]
    uint16_t *Vs = Ks + 2 * BN * D;    // [2][BN, D]

    const int head = blockIdx.x;
    const ss_attn_tile tile = tiles[blockIdx.y];
    const int kvh = head / (g.n_heads / g.n_kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int last = tile.pos0 + tile.n - 1; // last key any row of the tile sees
    const int n_kt = last / BN + 1;
    const int64_t kv_off = ((int64_t)tile.seq * g.n_kv_heads + kvh) * g.max_len * D;
    const uint16_t *kbase = k_cache + kv_off, *vbase = v_cache + kv_off;

    // First K/V tile in flight while q is rotated.
    load_kv_tile<D>(Ks, kbase, 0, last);
    load_kv_tile<D>(Vs, vbase, 0, last);
    cp_async_commit();
    store_q<D>(Qs, qkv, tile, rope_f, g, head);
    uint32_t qf[D / 16][4];
    load_q_frags<D>(qf, Qs, warp, lane);

    const int g4 = lane >> 2, t4 = lane & 3; // fragment row group and column pair
    const int qpos0 = tile.pos0 + warp * 16 + g4;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    SoftmaxRows st = {-INFINITY, -INFINITY, 0.0f, 0.0f, 0.0f, 0.0f};
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;

    for (int kt = 0; kt < n_kt; kt++) {
        cp_async_wait_all();
        k_tile_to_f16<D>(Ks + (kt & 1) * BN * D); // this thread's chunks of K, now landed
        __syncthreads(); // tile kt visible; everyone is done with tile kt-1's buffer
        if (kt + 1 < n_kt) {
            const int nb = (kt + 1) & 1;
            load_kv_tile<D>(Ks + nb * BN * D, kbase, (kt + 1) * BN, last);
            load_kv_tile<D>(Vs + nb * BN * D, vbase, (kt + 1) * BN, last);
            cp_async_commit();
        }
        float s[32];
        qk_tile<D>(s, qf, Ks + (kt & 1) * BN * D, lane);
        uint32_t pa[4][4];
        softmax_tile<false>(s, pa, st, kt * BN, qpos0, tile.pos0, t4, scale_log2);
        rescale_o<D>(o, st);
        pv_tile<D, false>(o, pa, Vs + (kt & 1) * BN * D, lane);
    }
    store_o<D>(att, o, st, tile, g, head, warp, g4, t4);
}

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

// The same over an FP8 cache (kernels.h's ss_kv_f8): K/V staged as E4M3
// codes plus row scales (cp.async), converted to FP16 once landed; each
// score times its K row's scale, P times its V row's scale before the FP16
// P V (the softmax sum takes P unscaled).
template <int D>
__global__ void __launch_bounds__(THREADS, 2)
    flash_prefill_f8_kernel(ss_yview qkv, const ss_attn_tile *tiles, const float *rope_f, ss_attn_geom g, ss_kv_f8 kv,
                            float *att) {
    constexpr int CHB = D / 16, TB = BN * D;
    extern __shared__ float4 smem4[];
    uint16_t *Qs = (uint16_t *)smem4;              // [BM, D] FP16
    uint16_t *Ks = Qs + BM * D;                    // [BN, D] K as FP16 (the tile being computed)
    uint16_t *Vs = Ks + BN * D;                    // [BN, D] V as FP16
    uint8_t *ST = (uint8_t *)(Vs + BN * D);        // [2][K, V] codes, rows of D bytes
    float *SC = (float *)(ST + 2 * 2 * TB);        // [2][K, V][BN] row scales

    const int head = blockIdx.x;
    const ss_attn_tile tile = tiles[blockIdx.y];
    const int kvh = head / (g.n_heads / g.n_kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int last = tile.pos0 + tile.n - 1; // last key any row of the tile sees
    const int n_kt = last / BN + 1;
    const int64_t rbase = ((int64_t)tile.seq * g.n_kv_heads + kvh) * g.max_len; // cache row of position 0
    const uint8_t *kbase = kv.k + rbase * D, *vbase = kv.v + rbase * D;
    const float *ksb = kv.k_scale + rbase, *vsb = kv.v_scale + rbase;

    // Tile kt's codes and scales into stage kt & 1; keys past `last` zero-filled.
    auto load_tile = [&](int kt) {
        uint8_t *Kt = ST + (kt & 1) * 2 * TB, *Vt = Kt + TB;
        float *Kc = SC + (kt & 1) * 2 * BN, *Vc = Kc + BN;
        const int key0 = kt * BN;
        for (int c = threadIdx.x; c < BN * CHB; c += THREADS) {
            const int r = c / CHB, ch = c - r * CHB, key = key0 + r;
            const bool ok = key <= last;
            const int64_t src = (int64_t)(ok ? key : 0) * D + ch * 16;
            cp_async16(smem_u32(Kt + r * D + ch * 16), kbase + src, ok ? 16 : 0);
            cp_async16(smem_u32(Vt + r * D + ch * 16), vbase + src, ok ? 16 : 0);
        }
        if (threadIdx.x < 2 * BN / 4) {
            const int which = threadIdx.x / (BN / 4), q4 = (threadIdx.x % (BN / 4)) * 4, key = key0 + q4;
            const int n_ok = max(0, min(4, last - key + 1));
            cp_async16(smem_u32((which ? Vc : Kc) + q4), (which ? vsb : ksb) + (n_ok ? key : 0), 4 * n_ok);
        }
    };

    // First K/V tile in flight while q is rotated.
    load_tile(0);
    cp_async_commit();
    store_q<D>(Qs, qkv, tile, rope_f, g, head);
    uint32_t qf[D / 16][4];
    load_q_frags<D>(qf, Qs, warp, lane);

    const int g4 = lane >> 2, t4 = lane & 3; // fragment row group and column pair
    const int qpos0 = tile.pos0 + warp * 16 + g4;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    SoftmaxRows st = {-INFINITY, -INFINITY, 0.0f, 0.0f, 0.0f, 0.0f};
    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;

    for (int kt = 0; kt < n_kt; kt++) {
        cp_async_wait_all();
        __syncthreads(); // tile kt landed; everyone is done with Ks/Vs and the other stage
        if (kt + 1 < n_kt) {
            load_tile(kt + 1);
            cp_async_commit();
        }
        const uint8_t *Kq = ST + (kt & 1) * 2 * TB, *Vq = Kq + TB;
        const float *Kc = SC + (kt & 1) * 2 * BN, *Vc = Kc + BN;
        for (int c = threadIdx.x; c < BN * CHB; c += THREADS) { // codes -> FP16, swizzled
            const int r = c / CHB, ch = c - r * CHB;
            uint4 lo, hi;
            f8x16_to_f16(*(const uint4 *)(Kq + r * D + ch * 16), lo, hi);
            *(uint4 *)(Ks + swz<D>(r, ch * 16)) = lo;
            *(uint4 *)(Ks + swz<D>(r, ch * 16 + 8)) = hi;
            f8x16_to_f16(*(const uint4 *)(Vq + r * D + ch * 16), lo, hi);
            *(uint4 *)(Vs + swz<D>(r, ch * 16)) = lo;
            *(uint4 *)(Vs + swz<D>(r, ch * 16 + 8)) = hi;
        }
        __syncthreads();
        float s[32];
        qk_tile<D>(s, qf, Ks, lane);
        uint32_t pa[4][4];
        softmax_tile<true>(s, pa, st, kt * BN, qpos0, tile.pos0, t4, scale_log2, Kc, Vc);
        rescale_o<D>(o, st);
        pv_tile<D, true>(o, pa, Vs, lane);
    }
    store_o<D>(att, o, st, tile, g, head, warp, g4, t4);
}

template <int D> ss_status launch(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope,
                                  const ss_attn_geom *g, const uint16_t *kc, const uint16_t *vc, float *att,
                                  void *stream) {
    const size_t smem = (size_t)(BM + 4 * BN) * D * sizeof(uint16_t);
    cudaError_t e = cudaFuncSetAttribute(flash_prefill_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_prefill: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    dim3 grid((unsigned)g->n_heads, (unsigned)n_tiles);
    flash_prefill_kernel<D><<<grid, THREADS, smem, ss_stream(stream)>>>(*qkv, tiles, rope, *g, kc, vc, att);
    return ss_launch_status("attention_prefill");
}

template <int D>
ss_status launch_f8(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope,
                    const ss_attn_geom *g, const ss_kv_f8 *kv, float *att, void *stream) {
    const size_t smem = (size_t)3 * BM * D * sizeof(uint16_t) + (size_t)4 * BN * D + (size_t)4 * BN * sizeof(float);
    cudaError_t e = cudaFuncSetAttribute(flash_prefill_f8_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_prefill_f8: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    dim3 grid((unsigned)g->n_heads, (unsigned)n_tiles);
    flash_prefill_f8_kernel<D><<<grid, THREADS, smem, ss_stream(stream)>>>(*qkv, tiles, rope, *g, *kv, att);
    return ss_launch_status("attention_prefill_f8");
}

} // namespace

extern "C" ss_status ss_k_attention_prefill_f8(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles,
                                               const float *rope, const ss_attn_geom *g, const ss_kv_f8 *kv, float *att,
                                               void *stream) {
    if (g->n_heads % g->n_kv_heads)
        return ss_fail(SS_ERR_ARG, "attention: %d heads do not divide into %d KV heads", g->n_heads, g->n_kv_heads);
    if (g->max_len % 4)
        return ss_fail(SS_ERR_ARG, "attention_prefill_f8: max_len %d is not a multiple of 4 (scale rows)", g->max_len);
    if (n_tiles <= 0) return SS_OK;
    switch (g->head_dim) {
    case 64: return launch_f8<64>(qkv, tiles, n_tiles, rope, g, kv, att, stream);
    case 128: return launch_f8<128>(qkv, tiles, n_tiles, rope, g, kv, att, stream);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "attention: head_dim %d is not supported on the GPU (64 or 128)",
                       g->head_dim);
    }
}

extern "C" ss_status ss_k_attention_prefill(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles,
                                            const float *rope, const ss_attn_geom *g, const uint16_t *k_cache,
                                            const uint16_t *v_cache, float *att, void *stream) {
    if (g->n_heads % g->n_kv_heads)
        return ss_fail(SS_ERR_ARG, "attention: %d heads do not divide into %d KV heads", g->n_heads, g->n_kv_heads);
    if (n_tiles <= 0) return SS_OK;
    switch (g->head_dim) {
    case 64: return launch<64>(qkv, tiles, n_tiles, rope, g, k_cache, v_cache, att, stream);
    case 128: return launch<128>(qkv, tiles, n_tiles, rope, g, k_cache, v_cache, att, stream);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "attention: head_dim %d is not supported on the GPU (64 or 128)",
                       g->head_dim);
    }
}
