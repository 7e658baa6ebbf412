// Causal prefill attention on Hopper's warpgroup tensor cores (wgmma,
// sm_90a only): the mma.sync flash kernel's algorithm (attention_prefill.cu:
// tiles of up to 64 query rows, K/V tiles of 64 positions, online softmax in
// FP32, causal tiles past the diagonal skipped, the mask applied on diagonal
// tiles only), warp-specialised as FlashAttention-3 lays it out:
//   - a producer warpgroup streams K/V tiles through a 3-stage ring
//     (cp.async; K converted to FP16 in place), named barriers between it and
//   - two consumer warpgroups, one query head each: the heads of a GQA group
//     pair up, so one K/V tile in shared memory serves two heads;
//   - a consumer issues the next tile's S = Q K^T before the softmax of the
//     current one, so the MMAs overlap the exponentials.
// The products:
//   S = Q K^T   8 x wgmma.m64n64k16 FP16 (A = Q, B = K, both from shared
//               memory, K-major), FP32 accumulators;
//   O += P V    4 x wgmma.m64n{D}k16 BF16 with P from registers (the S
//               accumulators' layout is the A fragment's) and V from shared
//               memory, N-major (imm-trans-b).
// So no fragment of Q, K or V passes through registers, and each warp's
// 16 rows run the mma.sync kernels' softmax and store (attention_tile.cuh).
//
// Shared-memory tiles are [64 rows, D] 16-bit, stored as D/64 panels of
// [64][64] with the 128-byte swizzle (16-byte chunk c of row r at chunk
// c ^ (r & 7)), 1024-byte aligned: the canonical layout the descriptors
// name (swizzle mode 1; K-major: stride byte offset 1024 between 8-row
// groups, leading byte offset unused; N-major V: leading byte offset = the
// panel stride, 8192 bytes, stride byte offset 1024 between 8-key groups).
// A k-step of 16 moves a K-major descriptor 32 bytes within a panel.
// Ordinary stores and cp.async fill the tiles, so each thread fences the
// async proxy (fence.proxy.async) before the barrier that precedes the MMAs.
//
// Precision as attention_prefill.cu: q rotated in float and rounded to FP16,
// K converted from the BF16 cache to FP16 (exact within FP16's range), P in
// BF16, V as cached; max, sum and O in FP32.
#include <math.h>

#include "engine/cuda/attention_tile.cuh"
#include "gemm/arch_guard.cuh"

#define SS_HAVE_WGMMA SS_SM90A_DEVICE

namespace {

constexpr int BM = SS_ATTN_TILE_ROWS; // query rows per CTA: the warpgroup's M of 64
constexpr int BN = SS_ATTN_KEYS;      // keys per tile
constexpr int WG = 128;               // threads of a warpgroup; a consumer's warp w owns rows 16w..16w+15
static_assert(BM == 64 && BN == 64, "tiles are 64 rows: one panel height");

// Element (r, c) of a [64, D] tile: panel c / 64, 128-byte rows, chunks swizzled by r & 7.
template <int D> __device__ __forceinline__ int sw128(int r, int c) {
    return (c >> 6) * (64 * 64) + r * 64 + ((((c & 63) >> 3) ^ (r & 7)) << 3) + (c & 7);
}

#if SS_HAVE_WGMMA
constexpr uint32_t PANEL_BYTES = 64 * 128;
__device__ __forceinline__ uint64_t desc_field(uint32_t x) { return (uint64_t)((x & 0x3FFFFu) >> 4); }
// Shared-memory matrix descriptor, 128-byte swizzle; lbo and sbo in bytes.
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return desc_field(addr) | desc_field(lbo) << 16 | desc_field(sbo) << 32 | (uint64_t)1 << 62;
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wg_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Orders the compiler's uses of an accumulator after the wait that completes it.
template <int N> __device__ __forceinline__ void fence_regs(float (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// D (64x64 FP32) = (scale_d ? D : 0) + A (64x16, smem, K-major) * B^T (B: 64x16, smem, K-major)
__device__ __forceinline__ void wgmma_m64n64k16_f16_ss(float d[32], uint64_t da, uint64_t db, int scale_d) {
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %34, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                 " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
                 "%32, %33, p, 1, 1, 0, 0;\n"
                 "}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "l"(da), "l"(db), "r"(scale_d));
}

// D (64x64 FP32) += A (64x16 in registers: each warp's 16 rows as the m16n8k16 A fragment) * B
// (16x64, smem, N-major: imm-trans-b 1)
__device__ __forceinline__ void wgmma_m64n64k16_bf16_rs_tb(float d[32], const uint32_t a[4], uint64_t db) {
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                 " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, "
                 "{%32, %33, %34, %35}, %36, p, 1, 1, 1;\n"
                 "}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(1));
}

// D (64x128 FP32) += A (64x16 in registers: each warp's 16 rows as the m16n8k16 A fragment) * B
// (16x128, smem, N-major: imm-trans-b 1)
__device__ __forceinline__ void wgmma_m64n128k16_bf16_rs_tb(float d[64], const uint32_t a[4], uint64_t db) {
    asm volatile("{\n"
                 ".reg .pred p;\n"
                 "setp.ne.b32 p, %69, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                 " %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
                 " %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                 " %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
                 "{%64, %65, %66, %67}, %68, p, 1, 1, 1;\n"
                 "}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
                   "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
                   "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
                   "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
                   "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
                   "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
                   "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
                   "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "n"(1));
}

#endif

// Named barriers (bar.sync / bar.arrive, ids 1..15; 0 is __syncthreads) of
// the producer -> consumer ring: FULL(c, s) stage s loaded for consumer c,
// EMPTY(s) stage s read by every consumer, QRDY(c) consumer c's Q stored.
constexpr int STAGES = 3;
__device__ __forceinline__ int bar_full(int c, int s) { return 1 + c * STAGES + s; }
__device__ __forceinline__ int bar_empty(int s) { return 1 + 2 * STAGES + s; }
__device__ __forceinline__ int bar_qrdy(int c) { return 1 + 3 * STAGES + c; }
__device__ __forceinline__ void bar_sync(int id, int n) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void bar_arrive(int id, int n) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }

// The producer warpgroup's cp.async loads of keys [key0, key0 + BN) of one
// KV head into a [BN, D] tile; keys past `last` are zero-filled.
template <int D>
__device__ __forceinline__ void load_kv_tile(uint16_t *tile, const uint16_t *head_base, int key0, int last, int t) {
    constexpr int CH = D / 8;
#pragma unroll 4
    for (int c = t; c < BN * CH; c += WG) {
        const int r = c / CH, ch = c - r * CH, key = key0 + r;
        const bool ok = key <= last;
        cp_async16(smem_u32(tile + sw128<D>(r, ch * 8)), head_base + (int64_t)(ok ? key : 0) * D + ch * 8, ok ? 16 : 0);
    }
}

// Converts in place the K chunks producer thread t loaded (its cp.async done).
template <int D> __device__ __forceinline__ void k_tile_to_f16(uint16_t *tile, int t) {
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = 0; i < BN * CH / WG; i++) {
        const int c = t + i * WG, r = c / CH, ch = c - r * CH;
        uint4 *p = (uint4 *)(tile + sw128<D>(r, ch * 8));
        uint4 v = *p;
        v.x = bf16x2_to_f16x2(v.x), v.y = bf16x2_to_f16x2(v.y), v.z = bf16x2_to_f16x2(v.z), v.w = bf16x2_to_f16x2(v.w);
        *p = v;
    }
}

#if SS_HAVE_WGMMA
// q of `head` for the tile's rows, rotated in float, rounded to FP16 and stored swizzled (thread t of 128).
template <int D>
__device__ __forceinline__ void store_q(uint16_t *Qs, const ss_yview &qkv, const ss_attn_tile &tile,
                                        const float *rope_f, const ss_attn_geom &g, int head, int t) {
    constexpr int HALF = D / 2, ITEMS = BM * (HALF / 8) / WG;
#pragma unroll
    for (int it = 0; it < ITEMS; it++) {
        const int idx = t + it * WG, r = idx / (HALF / 8), j0 = (idx % (HALF / 8)) * 8;
        uint32_t w0[4] = {0, 0, 0, 0}, w1[4] = {0, 0, 0, 0};
        if (r < tile.n) {
            float qa[8], qb[8];
            float4 cs[4];
            load_q8<D>(qkv, tile, rope_f, g, head, r, j0, qa, qb, cs);
            rotate_q8(qa, qb, cs, w0, w1);
        }
        *(uint4 *)(Qs + sw128<D>(r, j0)) = make_uint4(w0[0], w0[1], w0[2], w0[3]);
        *(uint4 *)(Qs + sw128<D>(r, j0 + HALF)) = make_uint4(w1[0], w1[1], w1[2], w1[3]);
    }
}

// Issues S = Q K^T (64 x 64, k over D in steps of 16) into s; not waited for.
template <int D> __device__ __forceinline__ void issue_qk(float (&s)[32], uint32_t q_addr, uint32_t k_addr) {
    wg_fence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ks++) {
        const uint32_t off = (uint32_t)(ks >> 2) * PANEL_BYTES + (uint32_t)(ks & 3) * 32;
        wgmma_m64n64k16_f16_ss(s, make_desc(q_addr + off, 16, 1024), make_desc(k_addr + off, 16, 1024), ks > 0);
    }
    wg_commit();
}

// Issues O += P V (k over the tile's 64 keys in steps of 16); not waited for.
template <int D> __device__ __forceinline__ void issue_pv(float (&o)[D / 2], const uint32_t (&pa)[4][4], uint32_t v_addr) {
    wg_fence();
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
        const uint64_t dv = make_desc(v_addr + (uint32_t)kk * 16 * 128, PANEL_BYTES, 1024);
        if constexpr (D == 128) wgmma_m64n128k16_bf16_rs_tb(o, pa[kk], dv);
        else wgmma_m64n64k16_bf16_rs_tb(o, pa[kk], dv);
    }
    wg_commit();
}
#endif

// Grid: (n_heads / hpc, n_tiles); 3 warpgroups. Warpgroup 0 is the producer:
// it streams the K/V tiles of the CTA's KV head through a STAGES-deep ring
// (cp.async, K converted to FP16 in place) and keeps few registers.
// Warpgroups 1 and 2 are consumers: consumer c owns query head
// blockIdx.x * hpc + c (hpc = 2 where the heads of a KV group pair up, so two
// query heads share every K/V tile they load; else 1 and consumer 1 idles).
// A consumer issues the next tile's S = Q K^T before the softmax of this
// one, so the tensor cores run while it computes exponentials.
template <int D>
__global__ void __launch_bounds__(3 * WG, 1)
    flash_wgmma_kernel(ss_yview qkv, const ss_attn_tile *tiles, const float *rope_f, ss_attn_geom g,
                       const uint16_t *k_cache, const uint16_t *v_cache, float *att, int hpc) {
#if SS_HAVE_WGMMA
    constexpr int TILE = BM * D;
    extern __shared__ float4 smem4[];
    const uint32_t pad = (1024u - (smem_u32(smem4) & 1023u)) & 1023u; // the swizzle pattern starts at 1024 B
    uint16_t *Qs = (uint16_t *)((char *)smem4 + pad); // [2][BM, D] FP16, one per consumer
    uint16_t *Ks = Qs + 2 * TILE;                      // [STAGES][BN, D] BF16, then FP16
    uint16_t *Vs = Ks + STAGES * TILE;                 // [STAGES][BN, D] BF16

    const ss_attn_tile tile = tiles[blockIdx.y];
    const int kvh = blockIdx.x * hpc / (g.n_heads / g.n_kv_heads);
    const int last = tile.pos0 + tile.n - 1;
    const int n_kt = last / BN + 1;
    const int wg = threadIdx.x / WG, t = threadIdx.x % WG;

    if (wg == 0) { // producer
        const int64_t kv_off = ((int64_t)tile.seq * g.n_kv_heads + kvh) * g.max_len * D;
        const uint16_t *kbase = k_cache + kv_off, *vbase = v_cache + kv_off;
        load_kv_tile<D>(Ks, kbase, 0, last, t);
        load_kv_tile<D>(Vs, vbase, 0, last, t);
        cp_async_commit();
        for (int kt = 0; kt < n_kt; kt++) {
            const int nk = kt + 1, ns = nk % STAGES;
            if (nk < n_kt) {
                if (nk >= STAGES) bar_sync(bar_empty(ns), WG * (1 + hpc)); // tile nk - STAGES read by every consumer
                load_kv_tile<D>(Ks + ns * TILE, kbase, nk * BN, last, t);
                load_kv_tile<D>(Vs + ns * TILE, vbase, nk * BN, last, t);
            }
            cp_async_commit(); // possibly empty: tile kt is then always the older group
            cp_async_wait<1>();
            k_tile_to_f16<D>(Ks + (kt % STAGES) * TILE, t);
            fence_proxy_async(); // this thread's K and V stores, before the consumers' MMAs read them
            for (int c = 0; c < hpc; c++) bar_arrive(bar_full(c, kt % STAGES), 2 * WG);
        }
        return;
    }

    const int c = wg - 1;
    if (c >= hpc) return;
    const int head = blockIdx.x * hpc + c;
    uint16_t *Qc = Qs + c * TILE;
    store_q<D>(Qc, qkv, tile, rope_f, g, head, t);
    fence_proxy_async();
    bar_sync(bar_qrdy(c), WG);

    const int warp = t >> 5, lane = t & 31, g4 = lane >> 2, t4 = lane & 3;
    const int qpos0 = tile.pos0 + warp * 16 + g4;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    SoftmaxRows st = {-INFINITY, -INFINITY, 0.0f, 0.0f, 0.0f, 0.0f};
    float o[D / 2]; // 8-column block i: o[4i..4i+3] = rows g4, g4+8 x columns 8i+2t4, +1
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;
    const uint32_t q_addr = smem_u32(Qc), k_addr0 = smem_u32(Ks), v_addr0 = smem_u32(Vs);
    constexpr uint32_t TILE_BYTES = TILE * 2;

    // The pipeline: P of tile kt is ready when its step starts; the step
    // issues S of tile kt + 1, then P V of tile kt, takes the softmax of
    // kt + 1 while P V runs, and only then rescales O (a register no other
    // instruction may write while a wgmma on it is in flight).
    float s[32];
#pragma unroll
    for (int i = 0; i < 32; i++) s[i] = 0.0f;
    uint32_t pa[4][4], pb[4][4];
    bar_sync(bar_full(c, 0), 2 * WG);
    issue_qk<D>(s, q_addr, k_addr0);
    wg_wait<0>();
    fence_regs(s);
    softmax_tile<false>(s, pa, st, 0, qpos0, tile.pos0, t4, scale_log2);

    // Tile kt (not the last): S of kt + 1 issued, then P V of kt, the softmax of kt + 1 while it runs.
    auto step = [&](int kt, const uint32_t(&cur)[4][4], uint32_t(&nxt)[4][4]) {
        const int ns = (kt + 1) % STAGES;
        bar_sync(bar_full(c, ns), 2 * WG);
        issue_qk<D>(s, q_addr, k_addr0 + ns * TILE_BYTES);
        issue_pv<D>(o, cur, v_addr0 + (kt % STAGES) * TILE_BYTES);
        wg_wait<1>();
        fence_regs(s);
        softmax_tile<false>(s, nxt, st, (kt + 1) * BN, qpos0, tile.pos0, t4, scale_log2);
        wg_wait<0>();
        fence_regs(o);
        if (kt + STAGES < n_kt) bar_arrive(bar_empty(kt % STAGES), WG * (1 + hpc));
        rescale_o<D>(o, st);
    };
    auto last_tile = [&](int kt, const uint32_t(&cur)[4][4]) {
        issue_pv<D>(o, cur, v_addr0 + (kt % STAGES) * TILE_BYTES);
        wg_wait<0>();
        fence_regs(o);
    };
    for (int kt = 0;; kt += 2) {
        if (kt + 1 >= n_kt) {
            last_tile(kt, pa);
            break;
        }
        step(kt, pa, pb);
        if (kt + 2 >= n_kt) {
            last_tile(kt + 1, pb);
            break;
        }
        step(kt + 1, pb, pa);
    }

    store_o<D>(att, o, st, tile, g, head, warp, g4, t4);
#else
    SS_GPUARCH_TRAP(); // never launched here: ss_attn_prefill_wgmma_available() says no
#endif
}

// 1 in a build whose code for this device has the sm_90a kernel.
__global__ void wgmma_probe_kernel(int *out) { *out = SS_HAVE_WGMMA; }

template <int D> ss_status launch(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope,
                                  const ss_attn_geom *g, const uint16_t *kc, const uint16_t *vc, float *att,
                                  void *stream) {
    const size_t smem = (size_t)(2 + 2 * STAGES) * BM * D * sizeof(uint16_t) + 1024; // 2 x Q, the K/V ring, alignment
    cudaError_t e = cudaFuncSetAttribute(flash_wgmma_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_prefill_wgmma: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    const int hpc = (g->n_heads / g->n_kv_heads) % 2 == 0 ? 2 : 1; // query heads per CTA: a pair shares its K/V tiles
    dim3 grid((unsigned)(g->n_heads / hpc), (unsigned)n_tiles);
    flash_wgmma_kernel<D><<<grid, 3 * WG, smem, ss_stream(stream)>>>(*qkv, tiles, rope, *g, kc, vc, att, hpc);
    return ss_launch_status("attention_prefill_wgmma");
}

} // namespace

extern "C" int ss_attn_prefill_wgmma_available(void) {
    static int cached = -1;
    if (cached >= 0) return cached;
    int dev = 0, major = 0, *d_flag = NULL, flag = 0;
    cached = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess || major != 9) {
        cudaGetLastError();
        return cached;
    }
    if (cudaMalloc((void **)&d_flag, sizeof(int)) == cudaSuccess) {
        wgmma_probe_kernel<<<1, 1>>>(d_flag);
        if (cudaMemcpy(&flag, d_flag, sizeof(int), cudaMemcpyDeviceToHost) == cudaSuccess) cached = flag == 1;
        cudaFree(d_flag);
    }
    cudaGetLastError();
    return cached;
}

extern "C" ss_status ss_k_attention_prefill_wgmma(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles,
                                                  const float *rope, const ss_attn_geom *g, const uint16_t *k_cache,
                                                  const uint16_t *v_cache, float *att, void *stream) {
    if (g->n_heads % g->n_kv_heads)
        return ss_fail(SS_ERR_ARG, "attention: %d heads do not divide into %d KV heads", g->n_heads, g->n_kv_heads);
    if (n_tiles <= 0) return SS_OK;
    if (!ss_attn_prefill_wgmma_available())
        return ss_fail(SS_ERR_UNSUPPORTED, "attention_prefill_wgmma: needs an sm_90 GPU and a build with sm_90a code");
    switch (g->head_dim) {
    case 64: return launch<64>(qkv, tiles, n_tiles, rope, g, k_cache, v_cache, att, stream);
    case 128: return launch<128>(qkv, tiles, n_tiles, rope, g, k_cache, v_cache, att, stream);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "attention: head_dim %d is not supported on the GPU (64 or 128)",
                       g->head_dim);
    }
}
