// Causal prefill attention on Hopper's warpgroup tensor cores (wgmma,
// sm_90a only; EXPERIMENTAL, selected with SS_ATTN_PREFILL=wgmma): the
// mma.sync flash kernel's algorithm (attention_prefill.cu: one CTA per
// (query head, tile of up to 64 rows), K/V tiles of 64 positions
// double-buffered through cp.async, online softmax in FP32, causal tiles past
// the diagonal skipped, the mask applied on diagonal tiles only), with its
// two products as warpgroup MMAs:
//   S = Q K^T   8 x wgmma.m64n64k16 FP16 (A = Q, B = K, both from shared
//               memory, K-major), FP32 accumulators;
//   O += P V    4 x wgmma.m64n{D}k16 BF16 with P from registers (the S
//               accumulators' layout is the A fragment's) and V from shared
//               memory, N-major (imm-trans-b).
// So no fragment of Q, K or V passes through registers, and each warp's
// 16 rows keep the mma.sync kernel's softmax code unchanged.
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

#include "engine/cuda/common.cuh"
#include "engine/cuda/mma.cuh"
#include "gemm/arch_guard.cuh"

#define SS_HAVE_WGMMA SS_SM90A_DEVICE

namespace {

constexpr int BM = SS_ATTN_TILE_ROWS; // query rows per CTA: the warpgroup's M of 64
constexpr int BN = 64;                // keys per tile
constexpr int THREADS = 128;          // one warpgroup; warp w owns rows 16w..16w+15
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
__device__ __forceinline__ void wg_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
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

// Two BF16 in a word -> the same two values as FP16 (exact within FP16's range).
template <int = 0> __device__ __forceinline__ uint32_t bf16x2_to_f16x2(uint32_t w) {
    return pack_f16(__uint_as_float(w << 16), __uint_as_float(w & 0xffff0000u));
}

// cp.async loads of keys [key0, key0 + BN) of one KV head into a [BN, D]
// tile; keys past `last` are zero-filled.
template <int D>
__device__ __forceinline__ void load_kv_tile(uint16_t *tile, const uint16_t *head_base, int key0, int last) {
    constexpr int CH = D / 8;
    for (int c = threadIdx.x; c < BN * CH; c += THREADS) {
        const int r = c / CH, ch = c - r * CH, key = key0 + r;
        const bool ok = key <= last;
        cp_async16(smem_u32(tile + sw128<D>(r, ch * 8)), head_base + (int64_t)(ok ? key : 0) * D + ch * 8, ok ? 16 : 0);
    }
}

// Converts in place the K chunks this thread loaded (its cp.async done).
template <int D> __device__ __forceinline__ void k_tile_to_f16(uint16_t *tile) {
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = 0; i < BN * CH / THREADS; i++) {
        const int c = threadIdx.x + i * THREADS, r = c / CH, ch = c - r * CH;
        uint4 *p = (uint4 *)(tile + sw128<D>(r, ch * 8));
        uint4 v = *p;
        v.x = bf16x2_to_f16x2(v.x), v.y = bf16x2_to_f16x2(v.y), v.z = bf16x2_to_f16x2(v.z), v.w = bf16x2_to_f16x2(v.w);
        *p = v;
    }
}

template <int D>
__global__ void __launch_bounds__(THREADS, 2)
    flash_wgmma_kernel(ss_yview qkv, const ss_attn_tile *tiles, const float *rope_f, ss_attn_geom g,
                       const uint16_t *k_cache, const uint16_t *v_cache, float *att) {
#if SS_HAVE_WGMMA
    constexpr int TILE = BM * D;
    extern __shared__ float4 smem4[];
    const uint32_t pad = (1024u - (smem_u32(smem4) & 1023u)) & 1023u; // the swizzle pattern starts at 1024 B
    uint16_t *Qs = (uint16_t *)((char *)smem4 + pad); // [BM, D] FP16
    uint16_t *Ks = Qs + TILE;                          // [2][BN, D] BF16, then FP16
    uint16_t *Vs = Ks + 2 * TILE;                      // [2][BN, D] BF16

    const int head = blockIdx.x;
    const ss_attn_tile tile = tiles[blockIdx.y];
    const int kvh = head / (g.n_heads / g.n_kv_heads);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int last = tile.pos0 + tile.n - 1;
    const int n_kt = last / BN + 1;
    const int64_t kv_off = ((int64_t)tile.seq * g.n_kv_heads + kvh) * g.max_len * D;
    const uint16_t *kbase = k_cache + kv_off, *vbase = v_cache + kv_off;

    load_kv_tile<D>(Ks, kbase, 0, last);
    load_kv_tile<D>(Vs, vbase, 0, last);
    cp_async_commit();

    // q: rotate pairs (j, j + D/2) in float, round to FP16, store swizzled.
    constexpr int HALF = D / 2, ITEMS = BM * (HALF / 8) / THREADS;
    float qa[ITEMS][8], qb[ITEMS][8];
    float4 cs[ITEMS][4];
#pragma unroll
    for (int it = 0; it < ITEMS; it++) {
        const int idx = threadIdx.x + it * THREADS, r = idx / (HALF / 8), j0 = (idx % (HALF / 8)) * 8;
        if (r < tile.n) {
            const int64_t row = tile.row0 + r, col = g.q_col + (int64_t)head * D + j0;
            yview_load8(qkv, row, col, qa[it]);
            yview_load8(qkv, row, col + HALF, qb[it]);
            const float4 *t = (const float4 *)(rope_f + ((int64_t)(tile.pos0 + r) * HALF + j0) * 2);
#pragma unroll
            for (int k = 0; k < 4; k++) cs[it][k] = t[k];
        }
    }
#pragma unroll
    for (int it = 0; it < ITEMS; it++) {
        const int idx = threadIdx.x + it * THREADS, r = idx / (HALF / 8), j0 = (idx % (HALF / 8)) * 8;
        uint32_t w0[4] = {0, 0, 0, 0}, w1[4] = {0, 0, 0, 0};
        if (r < tile.n) {
            const float *c = (const float *)cs[it];
            float x0[8], x1[8];
#pragma unroll
            for (int e = 0; e < 8; e++) {
                const float co = c[2 * e], si = c[2 * e + 1], a = qa[it][e], b = qb[it][e];
                x0[e] = a * co - b * si;
                x1[e] = b * co + a * si;
            }
#pragma unroll
            for (int k = 0; k < 4; k++)
                w0[k] = pack_f16(x0[2 * k], x0[2 * k + 1]), w1[k] = pack_f16(x1[2 * k], x1[2 * k + 1]);
        }
        *(uint4 *)(Qs + sw128<D>(r, j0)) = make_uint4(w0[0], w0[1], w0[2], w0[3]);
        *(uint4 *)(Qs + sw128<D>(r, j0 + HALF)) = make_uint4(w1[0], w1[1], w1[2], w1[3]);
    }

    const int g4 = lane >> 2, t4 = lane & 3;
    const int qpos0 = tile.pos0 + warp * 16 + g4, qpos1 = qpos0 + 8;
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)D);
    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f;
    float o[D / 2]; // 8-column block i: o[4i..4i+3] = rows g4, g4+8 x columns 8i+2t4, +1
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;
    const uint32_t q_addr = smem_u32(Qs);

    for (int kt = 0; kt < n_kt; kt++) {
        cp_async_wait_all();
        k_tile_to_f16<D>(Ks + (kt & 1) * TILE);
        fence_proxy_async(); // this thread's Q, K and V stores, before the MMAs read them
        __syncthreads();     // tile kt complete; tile kt-1's buffer is free (its MMAs waited for)
        if (kt + 1 < n_kt) {
            const int nb = (kt + 1) & 1;
            load_kv_tile<D>(Ks + nb * TILE, kbase, (kt + 1) * BN, last);
            load_kv_tile<D>(Vs + nb * TILE, vbase, (kt + 1) * BN, last);
            cp_async_commit();
        }
        const uint32_t k_addr = smem_u32(Ks + (kt & 1) * TILE), v_addr = smem_u32(Vs + (kt & 1) * TILE);

        // S = Q K^T: 64 x 64, k over D in steps of 16.
        float s[32];
#pragma unroll
        for (int i = 0; i < 32; i++) s[i] = 0.0f;
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < D / 16; ks++) {
            const uint32_t off = (uint32_t)(ks >> 2) * PANEL_BYTES + (uint32_t)(ks & 3) * 32;
            wgmma_m64n64k16_f16_ss(s, make_desc(q_addr + off, 16, 1024), make_desc(k_addr + off, 16, 1024), ks > 0);
        }
        wg_commit();
        wg_wait_all();
        fence_regs(s);

        // Causal mask (diagonal tiles) and the online softmax, rows g4 and g4 + 8.
        const int key0 = kt * BN;
        const bool need_mask = key0 + BN - 1 > tile.pos0;
        float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int key = key0 + nt * 8 + 2 * t4 + e;
                float v0 = s[4 * nt + e] * scale_log2, v1 = s[4 * nt + 2 + e] * scale_log2;
                if (need_mask) {
                    if (key > qpos0) v0 = -INFINITY;
                    if (key > qpos1) v1 = -INFINITY;
                }
                s[4 * nt + e] = v0;
                s[4 * nt + 2 + e] = v1;
                mx0 = fmaxf(mx0, v0);
                mx1 = fmaxf(mx1, v1);
            }
        }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
        mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        const float mn0 = fmaxf(m0, mx0), mn1 = fmaxf(m1, mx1); // finite: key 0 is in every row's first tile
        const float al0 = exp2f(m0 - mn0), al1 = exp2f(m1 - mn1);
        m0 = mn0, m1 = mn1;
        float rs0 = 0.0f, rs1 = 0.0f;
        uint32_t pa[4][4]; // P as the A fragments of the 4 k-steps of P V
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
            const float p0 = exp2f(s[4 * nt] - mn0), p1 = exp2f(s[4 * nt + 1] - mn0);
            const float p2 = exp2f(s[4 * nt + 2] - mn1), p3 = exp2f(s[4 * nt + 3] - mn1);
            rs0 += p0 + p1;
            rs1 += p2 + p3;
            pa[nt >> 1][(nt & 1) * 2 + 0] = pack_bf16(p0, p1);
            pa[nt >> 1][(nt & 1) * 2 + 1] = pack_bf16(p2, p3);
        }
        l0 = l0 * al0 + rs0;
        l1 = l1 * al1 + rs1;
#pragma unroll
        for (int i = 0; i < D / 8; i++) o[4 * i] *= al0, o[4 * i + 1] *= al0, o[4 * i + 2] *= al1, o[4 * i + 3] *= al1;

        // O += P V: k over the tile's 64 keys in steps of 16.
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            const uint64_t dv = make_desc(v_addr + (uint32_t)kk * 16 * 128, PANEL_BYTES, 1024);
            if constexpr (D == 128) wgmma_m64n128k16_bf16_rs_tb(o, pa[kk], dv);
            else wgmma_m64n64k16_bf16_rs_tb(o, pa[kk], dv);
        }
        wg_commit();
        wg_wait_all();
        fence_regs(o);
    }

    // Row sums over the quad, normalise, store float pairs.
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
#else
    SS_GPUARCH_TRAP(); // never launched here: ss_attn_prefill_wgmma_available() says no
#endif
}

// 1 in a build whose code for this device has the sm_90a kernel.
__global__ void wgmma_probe_kernel(int *out) { *out = SS_HAVE_WGMMA; }

template <int D> ss_status launch(const ss_yview *qkv, const ss_attn_tile *tiles, int n_tiles, const float *rope,
                                  const ss_attn_geom *g, const uint16_t *kc, const uint16_t *vc, float *att,
                                  void *stream) {
    const size_t smem = (size_t)5 * BM * D * sizeof(uint16_t) + 1024; // Q, 2 x K, 2 x V, alignment
    cudaError_t e = cudaFuncSetAttribute(flash_wgmma_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess)
        return ss_fail(SS_ERR_CUDA, "attention_prefill_wgmma: %zu bytes of shared memory refused: %s", smem,
                       cudaGetErrorString(e));
    dim3 grid((unsigned)g->n_heads, (unsigned)n_tiles);
    flash_wgmma_kernel<D><<<grid, THREADS, smem, ss_stream(stream)>>>(*qkv, tiles, rope, *g, kc, vc, att);
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
