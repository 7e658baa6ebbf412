/* The kernel of our own Hopper GEMM (sm_90a), as a template over the tile
 * and variant; ours_gemm_<family>.cu instantiate it per family (sparse /
 * dense x int8 / fp8) so the families compile in parallel, ours_gemm.cu is
 * the host side. Design and layout: ours_gemm.cu, ours_layout.h.
 *
 * Template parameters:
 *   RM     weight rows per tile: 128 ping-pong, 256 cooperative (ours_layout.h)
 *   CL     CTAs per cluster: 1, or 2 (RM 256, EXPERIMENTAL): the pair's weight
 *          chunks by TMA multicast, each CTA loading two of the four into both
 *   BN     tokens per tile (64 or 128; 192 with RM 256)
 *   SPARSE 2:4 weight (wgmma.sp, k64 per instruction) or dense (k32)
 *   FP8    e4m3 operands, f32 accumulators; else int8, s32
 */
#ifndef SS_GEMM_OURS_KERNEL_CUH
#define SS_GEMM_OURS_KERNEL_CUH

#include <cuda.h>
#include <cuda_bf16.h>
#include <stdint.h>

#include <type_traits>

#include "gemm/arch_guard.cuh"
#include "gemm/gemm_internal.h"
#include "gemm/ours_layout.h"
#include "gemm/ours_wgmma.cuh"

namespace ss_ours {

/* Build options for experiments (-D...): at most this many stages; no
 * wgmma group left in flight across k-steps; setmaxnreg off (every warp
 * keeps the launch's 168 registers). */
#ifndef SS_OURS_MAX_STAGES
#define SS_OURS_MAX_STAGES 8
#endif
#ifndef SS_OURS_WAIT0
#define SS_OURS_WAIT0 0
#endif
#ifndef SS_OURS_SETMAXNREG
#define SS_OURS_SETMAXNREG 1
#endif
/* Timing experiments that compute wrong sums (kernel benchmark only, never
 * a library build), bits: 1 the producer loads the first ring of stages and
 * then only arrives (the consumers' rate with no operand traffic), 2 the
 * consumers issue no wgmma (the operand delivery rate alone), 4 no
 * epilogue, 8 no pipeline at all (the producer idles, the consumers issue
 * every k-step's wgmmas on stage 0 without waiting: the wgmma rate alone). */
#ifndef SS_OURS_EXP
#define SS_OURS_EXP 0
#endif

constexpr int kThreads = 384;
constexpr int kMaxSmem = 232448; /* sm_90 opt-in limit per block */

template <int RM, int BN, bool SPARSE> struct Geometry {
    static constexpr int kChunk = SPARSE ? SS_OURS_CHUNK_SPARSE : SS_OURS_CHUNK_DENSE;
    static constexpr int kBlocks = RM / SS_OURS_ROWS; /* m64 blocks of weight a stage holds */
    static constexpr bool kCoop = RM == 256;          /* both consumers on one tile, two blocks each */
    static constexpr int kBBytes = BN * SS_OURS_BK;
    static constexpr int kStage = kBBytes + kBlocks * kChunk; /* a multiple of 1024: the B tile stays swizzle-aligned */
    static constexpr int kStagesFit = (kMaxSmem - 1024 - 256) / kStage;
    static constexpr int kStages = kStagesFit > SS_OURS_MAX_STAGES ? SS_OURS_MAX_STAGES : kStagesFit;
    static constexpr int kSmem = kStages * kStage + 1024 /* alignment slack */ + 2 * 8 * kStages + 16 /* turns */;
    /* registers after setmaxnreg (128 x (producer + 2 consumers) <= 64K): 192 accumulators a
     * thread (256 x 192 tiles) spill at 232, as CUTLASS's 256 x 208 did, not at 240 */
    static constexpr int kConsumerRegs = BN > 128 ? 240 : 232;
    static constexpr int kProducerRegs = BN > 128 ? 24 : 40;
    static_assert(kStage % 1024 == 0, "stage must keep 1024-byte alignment");
    static_assert(kStages >= 2, "at least two stages");
    static_assert(RM == 128 || RM == 256, "128 or 256 weight rows a tile");
};

struct Params {
    const uint8_t *a_img;
    int64_t k_steps;
    int64_t nb_count, tb_count, group, n_tiles;
    void *out;
    int64_t ld_out, rows_out, cols_out; /* tokens and channels written */
    const float *sx, *sw, *bias;        /* any may be NULL (1, 1, none) */
    int raw;                            /* 1: raw accumulators (int32 / f32), 0: bf16 */
};

#if SS_SM90A_DEVICE /* the device helpers exist only in the sm_90a image: no unused code elsewhere */

__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

/* wgmma shared-memory descriptor: start, leading and stride byte offsets
 * (16-byte units), layout (0 interleave, 1 128-byte swizzle). */
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo, uint32_t layout) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | (uint64_t)((lbo >> 4) & 0x3FFF) << 16 |
           (uint64_t)((sbo >> 4) & 0x3FFF) << 32 | (uint64_t)layout << 62;
}

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(bar) : "memory");
}
/* Waits for the phase of the given parity; a pipeline that never completes
 * (a bad byte count, a fault upstream) traps after ~2^36 cycles (~35 s, room
 * for compute-sanitizer's slowdown) instead of hanging. */
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
    long long t0 = 0;
    for (uint32_t spins = 0;; spins++) {
        uint32_t done;
        asm volatile("{\n.reg .pred P;\nmbarrier.try_wait.parity.shared::cta.b64 P, [%1], %2;\nselp.b32 %0, 1, 0, P;\n}\n"
                     : "=r"(done)
                     : "r"(bar), "r"(parity)
                     : "memory");
        if (done) return;
        if (spins == 64) t0 = clock64();
        else if (spins > 64 && (spins & 255) == 0 && clock64() - t0 > (1ll << 36)) __trap();
    }
}
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap *map, int x, int y, uint32_t bar) {
    asm volatile(
        "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];" ::"r"(
            dst),
        "l"(map), "r"(x), "r"(y), "r"(bar)
        : "memory");
}
__device__ __forceinline__ void bulk_load(uint32_t dst, const void *src, uint32_t bytes, uint32_t bar) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar)
                 : "memory");
}
/* The same into the CTAs of the cluster in ctas (a bit each): the chunk
 * lands at the same offset of each one's shared memory and completes the
 * barrier at the same offset in each. */
__device__ __forceinline__ void bulk_load_multicast(uint32_t dst, const void *src, uint32_t bytes, uint32_t bar,
                                                    uint16_t ctas) {
    asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster [%0], [%1], %2, "
                 "[%3], %4;" ::"r"(dst),
                 "l"(src), "r"(bytes), "r"(bar), "h"(ctas)
                 : "memory");
}
/* Arrives on the barrier at this CTA's shared address bar in CTA `rank` of
 * the cluster. Default (CTA-scope) semantics, as a local arrive: the reads
 * it reports are the wgmmas' of a group already waited for, and the
 * arrival only lets the peer's TMA overwrite the stage; .release.cluster
 * would put a GPU-wide memory barrier before every stage release. */
__device__ __forceinline__ void mbar_arrive_remote(uint32_t bar, uint32_t rank) {
    uint32_t remote;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(remote) : "r"(bar), "r"(rank));
    asm volatile("mbarrier.arrive.shared::cluster.b64 _, [%0];" ::"r"(remote) : "memory");
}
/* Every thread of both CTAs of the cluster (threads may arrive apart). */
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release;\nbarrier.cluster.wait.acquire;" ::: "memory");
}
__device__ __forceinline__ uint32_t lds_u32(uint32_t addr) {
    uint32_t v;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(v) : "r"(addr));
    return v;
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(N) : "memory");
}
/* Pins a register value at this point of the instruction stream: the
 * compiler may not move a read of an accumulator above the wgmma.wait that
 * makes it valid. */
__device__ __forceinline__ void fence_reg(uint32_t &r) { asm volatile("" : "+r"(r)::"memory"); }
__device__ __forceinline__ void fence_reg(float &r) { asm volatile("" : "+f"(r)::"memory"); }

/* Epilogue of one consumer thread: channels c0 + 64m, c0 + 64m + 1 of its
 * two m64 blocks m, tokens t0 + 8j + v. The token scales are loaded a
 * chunk of 8 tokens at a time, each chunk's loads back to back before its
 * stores: a load after a store through a pointer that may alias it cannot
 * be hoisted, and one per token they stalled the epilogue on a load each
 * (SASS, 2026-12-02); all 32 at once spill registers. */
template <int BN, bool FP8, typename Acc>
__device__ __forceinline__ void epilogue(const Params &p, Acc (&d)[2][BN / 2], int64_t c0, int64_t t0) {
    /* j values (8 tokens' scales) per chunk; 192-token tiles hold 192 accumulators a thread and spilled at 4 */
    constexpr int kChunkJ = BN > 128 ? 2 : 4;
    /* tokens of the tile that exist, as a 32-bit count: the per-element tests compare with a constant */
    const int rows_left = (int)(p.rows_out - t0 < BN ? (p.rows_out - t0 > 0 ? p.rows_out - t0 : 0) : BN);
    const bool even_ld = p.ld_out % 2 == 0; /* two channels in one aligned store */
    /* one m64 block at a time: its two channels' scales and biases live, not all four (edge tiles only, so
     * the token scales loaded once per block cost nothing that matters) */
#pragma unroll
    for (int m = 0; m < 2; m++) {
        const int64_t c = c0 + (int64_t)m * SS_OURS_ROWS;
        const bool ok0 = c < p.cols_out, ok1 = c + 1 < p.cols_out, pair = ok1 && even_ld;
        if (!ok0) continue;
        const float sw0 = p.sw ? __ldg(p.sw + c) : 1.f, sw1 = p.sw && ok1 ? __ldg(p.sw + c + 1) : 1.f;
        const float b0 = p.bias ? __ldg(p.bias + c) : 0.f, b1 = p.bias && ok1 ? __ldg(p.bias + c + 1) : 0.f;
#pragma unroll
        for (int jc = 0; jc < BN / 8; jc += kChunkJ) {
            float sx[kChunkJ][2];
#pragma unroll
            for (int j = 0; j < kChunkJ; j++)
#pragma unroll
                for (int v = 0; v < 2; v++) {
                    const int r = 8 * (jc + j) + v;
                    sx[j][v] = p.sx && !p.raw && r < rows_left ? __ldg(p.sx + t0 + r) : 1.f;
                }
#pragma unroll
            for (int j = 0; j < kChunkJ; j++) {
#pragma unroll
                for (int v = 0; v < 2; v++) {
                    const int r = 8 * (jc + j) + v;
                    if (r >= rows_left) continue;
                    const int64_t t = t0 + r;
                    const Acc a0 = d[m][4 * (jc + j) + v], a1 = d[m][4 * (jc + j) + 2 + v];
                    if (p.raw) {
                        uint32_t *o = (uint32_t *)p.out + t * p.ld_out + c;
                        const uint32_t u0 = FP8 ? __float_as_uint((float)a0) : (uint32_t)a0;
                        const uint32_t u1 = FP8 ? __float_as_uint((float)a1) : (uint32_t)a1;
                        if (pair) *(uint2 *)o = make_uint2(u0, u1);
                        else {
                            o[0] = u0;
                            if (ok1) o[1] = u1;
                        }
                        continue;
                    }
                    /* ((acc * s_x) * s_w) + bias in this order, rounded once each (no
                     * contraction): the CPU reference's order, so INT8 is bit-exact */
                    float y0 = FP8 ? (float)a0 : __int2float_rn((int)a0);
                    float y1 = FP8 ? (float)a1 : __int2float_rn((int)a1);
                    if (p.sx) {
                        y0 = __fmul_rn(y0, sx[j][v]);
                        y1 = __fmul_rn(y1, sx[j][v]);
                    }
                    if (p.sw) {
                        y0 = __fmul_rn(y0, sw0);
                        y1 = __fmul_rn(y1, sw1);
                    }
                    if (p.bias) {
                        y0 = __fadd_rn(y0, b0);
                        y1 = __fadd_rn(y1, b1);
                    }
                    __nv_bfloat16 *o = (__nv_bfloat16 *)p.out + t * p.ld_out + c;
                    if (pair) *(__nv_bfloat162 *)o = __floats2bfloat162_rn(y0, y1);
                    else {
                        o[0] = __float2bfloat16_rn(y0);
                        if (ok1) o[1] = __float2bfloat16_rn(y1);
                    }
                }
            }
        }
    }
}

/* The same for a tile wholly inside the output (almost every tile): BF16
 * out, an even row stride, no bounds or raw-output tests per element, and
 * row addresses stepped instead of multiplied. The general epilogue spent
 * ~20 instructions per element, mostly those tests, and was a third of the
 * consumers' time (ncu stall samples, H200, 2026-12-02). Missing scales
 * count as 1 (exact); the bias is a template flag, because adding 0 would
 * turn a -0 into +0 where the CPU reference adds nothing. */
template <int BN, bool FP8, bool BIAS, typename Acc>
__device__ __forceinline__ void epilogue_interior(const Params &p, Acc (&d)[2][BN / 2], int64_t c0, int64_t t0) {
    constexpr int kChunkJ = 4;
    float sw0[2], sw1[2], b0[2] = {0.f, 0.f}, b1[2] = {0.f, 0.f};
#pragma unroll
    for (int m = 0; m < 2; m++) {
        const int64_t c = c0 + (int64_t)m * SS_OURS_ROWS;
        sw0[m] = p.sw ? __ldg(p.sw + c) : 1.f;
        sw1[m] = p.sw ? __ldg(p.sw + c + 1) : 1.f;
        if (BIAS) {
            b0[m] = __ldg(p.bias + c);
            b1[m] = __ldg(p.bias + c + 1);
        }
    }
    const int64_t ld = p.ld_out;
    __nv_bfloat16 *row = (__nv_bfloat16 *)p.out + t0 * ld + c0; /* token t0 + 8j (+ v: one row further) */
#pragma unroll
    for (int jc = 0; jc < BN / 8; jc += kChunkJ) {
        float sx[kChunkJ][2];
#pragma unroll
        for (int j = 0; j < kChunkJ; j++)
#pragma unroll
            for (int v = 0; v < 2; v++) sx[j][v] = p.sx ? __ldg(p.sx + t0 + 8 * (jc + j) + v) : 1.f;
#pragma unroll
        for (int j = 0; j < kChunkJ; j++, row += 8 * ld)
#pragma unroll
            for (int v = 0; v < 2; v++)
#pragma unroll
                for (int m = 0; m < 2; m++) {
                    const Acc a0 = d[m][4 * (jc + j) + v], a1 = d[m][4 * (jc + j) + 2 + v];
                    float y0 = FP8 ? (float)a0 : __int2float_rn((int)a0);
                    float y1 = FP8 ? (float)a1 : __int2float_rn((int)a1);
                    y0 = __fmul_rn(__fmul_rn(y0, sx[j][v]), sw0[m]);
                    y1 = __fmul_rn(__fmul_rn(y1, sx[j][v]), sw1[m]);
                    if (BIAS) {
                        y0 = __fadd_rn(y0, b0[m]);
                        y1 = __fadd_rn(y1, b1[m]);
                    }
                    *(__nv_bfloat162 *)(row + v * ld + m * SS_OURS_ROWS) = __floats2bfloat162_rn(y0, y1);
                }
    }
}

#endif /* SS_SM90A_DEVICE */

template <int RM, int BN, bool SPARSE, bool FP8, int CL>
__global__ void __launch_bounds__(kThreads, 1) ours_gemm_kernel(const __grid_constant__ CUtensorMap tmap_b, const Params p) {
#if SS_SM90A_DEVICE
    using G = Geometry<RM, BN, SPARSE>;
    static_assert(CL == 1 || (CL == 2 && G::kCoop), "clusters of 2 take cooperative 256-row tiles");
    /* with clusters: p.n_tiles counts cluster tiles (ss_ours_cluster_tile), the pair walks them together */
    const int rank = CL == 2 ? (int)(blockIdx.x % 2) : 0;
    const int64_t cluster = blockIdx.x / CL, clusters = gridDim.x / CL;
    using Acc = typename std::conditional<FP8, float, uint32_t>::type;
    extern __shared__ uint8_t smem_raw[];
    uint8_t *smem = (uint8_t *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    /* full[s] at +8s, empty[s] at +8(S+s), turn[c] at +8(2S+c) */
    const uint32_t bars = smem_u32(smem + G::kStages * G::kStage), turns = bars + 16 * G::kStages;
    const int wg = threadIdx.x / 128;

    if (threadIdx.x == 0) {
        for (int s = 0; s < G::kStages; s++) {
            mbar_init(bars + 8 * s, 1);                   /* the producer's expect_tx arrival */
            /* one per warp of the consumer(s) that read it, in both CTAs of a cluster (each fills the other's stage) */
            mbar_init(bars + 8 * (G::kStages + s), (G::kCoop ? 8 : 4) * CL);
        }
        mbar_init(turns, 4);     /* the other consumer's warps: "my main loop is done" */
        mbar_init(turns + 8, 4);
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        asm volatile("prefetch.tensormap [%0];" ::"l"(&tmap_b) : "memory");
    }
    __syncthreads();
    if (CL == 2) cluster_sync(); /* the peer's barriers are initialised before anything lands in them */

    if (wg == 0) { /* producer: the stages of this CTA's tiles, in tile order */
        if (SS_OURS_SETMAXNREG) asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(G::kProducerRegs));
        if (threadIdx.x == 0) {
            int stage = 0;
            uint32_t phase = 0;
            int64_t issued = 0; /* stages so far (SS_OURS_EXP 1) */
            for (int64_t tile = (SS_OURS_EXP & 8) ? p.n_tiles : cluster; tile < p.n_tiles; tile += clusters) {
                int64_t nb, tb, load_tb;
                int store;
                if (CL == 2) ss_ours_cluster_tile(tile, p.nb_count, p.tb_count, p.group, rank, &nb, &tb, &load_tb, &store);
                else ss_ours_tile(tile, p.nb_count, p.tb_count, p.group, &nb, &load_tb);
                const uint8_t *a0 = p.a_img + (size_t)(G::kBlocks * nb) * p.k_steps * G::kChunk;
                for (int64_t ks = 0; ks < p.k_steps; ks++) {
                    /* with clusters, empty means free in both CTAs: this producer writes into the peer's stage too */
                    const uint32_t full = bars + 8 * stage, empty = bars + 8 * (G::kStages + stage);
                    mbar_wait(empty, phase ^ 1);
                    if ((SS_OURS_EXP & 1) && issued++ >= G::kStages) {
                        mbar_arrive(full);
                        if (++stage == G::kStages) stage = 0, phase ^= 1;
                        continue;
                    }
                    mbar_expect_tx(full, G::kStage); /* the peer's multicast chunks count here too */
                    uint8_t *st = smem + stage * G::kStage;
                    tma_load_2d(smem_u32(st), &tmap_b, (int)(ks * SS_OURS_BK), (int)(load_tb * BN), full);
#pragma unroll
                    for (int j = 0; j < G::kBlocks; j++) { /* block j's chunks are k_steps apart in the image */
                        const uint32_t dst = smem_u32(st + G::kBBytes + j * G::kChunk);
                        const uint8_t *src = a0 + ((size_t)j * p.k_steps + ks) * G::kChunk;
                        if (CL == 1) bulk_load(dst, src, G::kChunk, full);
                        else if (j / 2 == rank) bulk_load_multicast(dst, src, G::kChunk, full, 3);
                    }
                    if (++stage == G::kStages) stage = 0, phase ^= 1;
                }
            }
        }
        if (CL == 2) cluster_sync(); /* no CTA leaves while its peer may still write or arrive into it */
        return;
    }

    /* consumers. Ping-pong (RM 128): warpgroup c takes every other tile of
     * the CTA (all 128 rows, as two m64 blocks), so one warpgroup's epilogue
     * runs while the other's wgmmas keep the tensor cores busy; a tile's
     * stages sit at ring positions ordinal * k_steps + ks, and a warpgroup
     * starts its main loop only once the other finished the previous
     * tile's, so that its parity waits are never two phases ahead of a
     * stage barrier (a parity wait cannot tell phase n from phase n - 2).
     * Cooperative (RM 256): both warpgroups on every tile of the CTA,
     * warpgroup c on blocks 2c and 2c + 1; a stage is free once both read
     * it (8 warps), which also keeps them within a ring of each other. */
    if (SS_OURS_SETMAXNREG) asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(G::kConsumerRegs));
    const int c = wg - 1, ct = threadIdx.x - 128 * wg, warp = ct / 32, lane = ct % 32;
    const int mb0 = G::kCoop ? 2 * c : 0; /* this warpgroup's first m64 block of the tile */
    const int64_t tile_step = G::kCoop ? clusters : 2 * (int64_t)gridDim.x;
    /* a stage is read: free it here and, with clusters, in the peer, whose producer fills this CTA's copy too */
    auto release = [&](int stage) {
        if (lane != 0) return;
        mbar_arrive(bars + 8 * (G::kStages + stage));
        if (CL == 2) mbar_arrive_remote(bars + 8 * (G::kStages + stage), (uint32_t)(rank ^ 1));
    };
    Acc d[2][BN / 2]; /* [m-block][fragment] */
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int i = 0; i < BN / 2; i++) d[m][i] = 0; /* never read: each tile's first wgmma overwrites (scale-d 0) */
    int64_t ordinal = G::kCoop ? 0 : c;
    uint32_t keep = 0; /* the metadata words, folded in after their groups completed (below) */
    uint32_t turn_phase = 0;
    for (int64_t tile = cluster + (G::kCoop ? 0 : (int64_t)c * gridDim.x); tile < p.n_tiles;
         tile += tile_step, ordinal += G::kCoop ? 1 : 2) {
        int64_t nb, tb, load_tb;
        int store = 1;
        if (CL == 2) ss_ours_cluster_tile(tile, p.nb_count, p.tb_count, p.group, rank, &nb, &tb, &load_tb, &store);
        else ss_ours_tile(tile, p.nb_count, p.tb_count, p.group, &nb, &tb);
        const int64_t g0 = ordinal * p.k_steps;
        if (!G::kCoop && ordinal > 0) { /* the other warpgroup's previous tile has all its stages */
            mbar_wait(turns + 8 * c, turn_phase);
            turn_phase ^= 1;
        }
        int prev = -1;
        /* One k-step: wait for its stage, issue its wgmmas (sparse: with the
         * metadata words e loaded from the stage), wait until the step
         * before has completed, release that step's stage. The metadata
         * registers of a group in flight must not be written: the tensor
         * cores read them after issue (256 x 128 tiles, where the two
         * consumers' n128 groups queue behind each other, gave wrong sums
         * in whole warps' rows while the next step's loads overwrote the
         * words; correct with no group left in flight; H200, 2026-12-02).
         * ptxas treats them as read at issue, so the steps alternate between
         * two register sets and the set of the step before is used (folded
         * into `keep`) only after the wait that completes its group. */
        uint32_t e0[2][2] = {{0, 0}, {0, 0}}, e1[2][2] = {{0, 0}, {0, 0}}; /* [m-block][k64] */
        auto fold = [](const uint32_t(&e)[2][2]) { return e[0][0] ^ e[0][1] ^ e[1][0] ^ e[1][1]; };
        auto step = [&](int64_t ks, uint32_t(&e)[2][2], const uint32_t(&e_before)[2][2]) {
            const int stage = (SS_OURS_EXP & 8) ? 0 : (int)((g0 + ks) % G::kStages);
            if (!(SS_OURS_EXP & 8)) mbar_wait(bars + 8 * stage, (uint32_t)(((g0 + ks) / G::kStages) & 1));
            uint8_t *st = smem + stage * G::kStage;
            const uint32_t b_addr = smem_u32(st), a_addr = smem_u32(st + G::kBBytes + mb0 * G::kChunk);
            if (SS_OURS_EXP & 2) {
                /* timing experiment: no wgmma (the stage is only waited for and released) */
            } else if (SPARSE) {
#pragma unroll
                for (int m = 0; m < 2; m++)
#pragma unroll
                    for (int k = 0; k < 2; k++)
                        e[m][k] = lds_u32(a_addr + m * G::kChunk + 2 * SS_OURS_SUB_BYTES + k * SS_OURS_META_BYTES +
                                          4 * ct);
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 2; k++)
#pragma unroll
                    for (int m = 0; m < 2; m++)
                        ss_wgmma<BN, true, FP8>::run(d[m], make_desc(a_addr + m * G::kChunk + k * SS_OURS_SUB_BYTES, 128, 256, 0),
                                                     make_desc(b_addr + 64 * k, 16, 1024, 1), e[m][k], ks > 0 || k > 0);
            } else {
                wgmma_fence();
#pragma unroll
                for (int k = 0; k < 4; k++)
#pragma unroll
                    for (int m = 0; m < 2; m++)
                        ss_wgmma<BN, false, FP8>::run(d[m], make_desc(a_addr + m * G::kChunk + k * SS_OURS_SUB_BYTES, 128, 256, 0),
                                                      make_desc(b_addr + 32 * k, 16, 1024, 1), 0, ks > 0 || k > 0);
            }
            wgmma_commit();
            if (SS_OURS_WAIT0) wgmma_wait<0>();
            else wgmma_wait<1>();
            if (SPARSE) keep ^= fold(e_before);
            if (prev >= 0 && !(SS_OURS_EXP & 8)) release(prev); /* the stage before is read */
            prev = stage;
        };
        int64_t ks = 0;
        for (; ks + 1 < p.k_steps; ks += 2) {
            step(ks, e0, e1);
            step(ks + 1, e1, e0);
        }
        if (ks < p.k_steps) step(ks, e0, e1);
        if (!G::kCoop && lane == 0) mbar_arrive(turns + 8 * (1 - c)); /* the other warpgroup may start its next tile */
        wgmma_wait<0>();
        if (SPARSE) keep ^= fold(e0) ^ fold(e1);
#pragma unroll
        for (int m = 0; m < 2; m++)
#pragma unroll
            for (int i = 0; i < BN / 2; i++) fence_reg(d[m][i]);
        if (!(SS_OURS_EXP & 8)) release(prev);
        if (store && !(SS_OURS_EXP & 4)) {
            const int64_t c0 = nb * RM + mb0 * SS_OURS_ROWS + 16 * warp + 2 * (lane / 4), t0 = tb * BN + 2 * (lane % 4);
            /* the same for every thread of the warpgroup: its 128 channels and the tile's tokens all exist */
            const bool interior = !p.raw && p.ld_out % 2 == 0 && (tb + 1) * BN <= p.rows_out &&
                                  nb * RM + (mb0 + 2) * SS_OURS_ROWS <= p.cols_out;
            if (interior && p.bias) epilogue_interior<BN, FP8, true>(p, d, c0, t0);
            else if (interior) epilogue_interior<BN, FP8, false>(p, d, c0, t0);
            else epilogue<BN, FP8>(p, d, c0, t0);
        }
    }
    if (CL == 2) cluster_sync(); /* no CTA leaves while its peer may still write or arrive into it */
    /* `keep` has to reach a side effect, or the folds above (and with them
     * the registers' lifetimes) are dropped; raw is 0 or 1, so this never stores */
    if (SPARSE && p.raw == 2 && ct == 0) *(volatile uint32_t *)p.out = keep;
#else
    SS_GPUARCH_TRAP(); /* not the sm_90a image: never silently return nothing (the host refuses other GPUs first) */
#endif
}

/* Launches one variant: a persistent grid, at most one CTA per SM; with
 * clusters, as many pairs as can be resident at once (a grid of more would
 * run its last pairs in a second wave: the persistent loop assumes one). */
template <int RM, int BN, bool SPARSE, bool FP8, int CL>
ss_status launch(const CUtensorMap &map, const Params &p, int sm_count, cudaStream_t stream, const char *what) {
    using G = Geometry<RM, BN, SPARSE>;
    auto kern = ours_gemm_kernel<RM, BN, SPARSE, FP8, CL>;
    static bool attr_set = false; /* per instantiation; setting it again is harmless */
    if (!attr_set) {
        CUDA_TRY(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, G::kSmem), what);
        attr_set = true;
    }
    if (CL == 1) {
        const int grid = (int)(p.n_tiles < sm_count ? p.n_tiles : sm_count);
        kern<<<grid, kThreads, G::kSmem, stream>>>(map, p);
        CUDA_TRY(cudaGetLastError(), what);
        return SS_OK;
    }
    cudaLaunchConfig_t cfg = {};
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = CL;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.blockDim = dim3(kThreads);
    cfg.dynamicSmemBytes = G::kSmem;
    cfg.stream = stream;
    cfg.attrs = attr;
    cfg.numAttrs = 1;
    cfg.gridDim = dim3((unsigned)(sm_count / CL * CL));
    static int resident = 0; /* pairs that fit at once, asked once per instantiation */
    if (!resident) CUDA_TRY(cudaOccupancyMaxActiveClusters(&resident, kern, &cfg), what);
    if (resident < 1) return ss_fail(SS_ERR_UNSUPPORTED, "%s: no cluster of %d CTAs of this kernel fits the GPU", what, CL);
    const int64_t pairs = p.n_tiles < resident ? p.n_tiles : resident;
    cfg.gridDim = dim3((unsigned)(pairs * CL));
    CUDA_TRY(cudaLaunchKernelEx(&cfg, kern, map, p), what);
    return SS_OK;
}

/* The variants of one family (SPARSE, FP8). */
template <bool SPARSE, bool FP8>
ss_status launch_family(int rows, int bn, int cluster, const CUtensorMap &map, const Params &p, int sm, cudaStream_t s,
                        const char *what) {
    if (cluster == 1) {
        if (rows == 128 && bn == 64) return launch<128, 64, SPARSE, FP8, 1>(map, p, sm, s, what);
        if (rows == 128 && bn == 128) return launch<128, 128, SPARSE, FP8, 1>(map, p, sm, s, what);
        if (rows == 256 && bn == 64) return launch<256, 64, SPARSE, FP8, 1>(map, p, sm, s, what);
        if (rows == 256 && bn == 128) return launch<256, 128, SPARSE, FP8, 1>(map, p, sm, s, what);
        if (rows == 256 && bn == 192) return launch<256, 192, SPARSE, FP8, 1>(map, p, sm, s, what);
    }
    if (cluster == 2 && rows == 256 && bn == 128) return launch<256, 128, SPARSE, FP8, 2>(map, p, sm, s, what);
    return ss_fail(SS_ERR_ARG, "%s: no ours kernel for %d-row x %d-token tiles in clusters of %d", what, rows, bn,
                   cluster);
}

} // namespace ss_ours

/* One entry point per family, in ours_gemm_<family>.cu. */
#define SS_OURS_FAMILY_DECL(NAME)                                                                                  \
    ss_status NAME(int rows, int bn, int cluster, const CUtensorMap &map, const ss_ours::Params &p, int sm,        \
                   cudaStream_t s, const char *what)
SS_OURS_FAMILY_DECL(ss_ours_launch_sparse_int8);
SS_OURS_FAMILY_DECL(ss_ours_launch_sparse_fp8);
SS_OURS_FAMILY_DECL(ss_ours_launch_dense_int8);
SS_OURS_FAMILY_DECL(ss_ours_launch_dense_fp8);

#endif
