/* Our own Hopper GEMM (sm_90a): Y = X' . W^T with the weight 2:4 sparse
 * (wgmma.mma_async.sp, the "ours" backend) or dense (the "ours_dense" twin,
 * same pipeline with dense wgmma), INT8 or FP8 E4M3, the dequant epilogue
 * fused: y = bf16(((acc * s_x[token]) * s_w[channel]) + bias[channel]).
 *
 * Roles (384 threads, one CTA per SM, persistent over tiles):
 *   warpgroup 0  producer: one thread moves each pipeline stage in, the
 *                X' tile by TMA (128-byte swizzle, rows past M zero-filled)
 *                and the two weight chunks by bulk copies (the weight image
 *                is stored as shared memory wants it: ours_layout.h);
 *                registers given back (setmaxnreg 40)
 *   warpgroups 1, 2  consumers: 64 weight rows each of the tile's 128, all
 *                BN tokens: m64nBNk64 sparse (k32 dense) wgmmas, one group
 *                in flight, then the epilogue straight from registers
 * Stage s: [X' tile: BN rows x 128 bytes][weight chunk of rows 0-63][of
 * rows 64-127], full[s] / empty[s] mbarriers.
 *
 * Why this shape: at the sparse rate one m64nNk64 8-bit wgmma reads N*64
 * bytes of B per N/2 cycles, 128 B/clk, the shared-memory port's width;
 * larger N cannot lower that (bytes and cycles both scale with N), so the
 * weight, the operand the instruction reads per 64 rows only, is the one to
 * keep small (compressed, 2 KB a sub-tile) and the tile keeps BN as large as
 * the token count allows to amortise the epilogue and the pipeline fill.
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>

#include <type_traits>

#include "gemm/gemm_internal.h"
#include "gemm/ours_layout.h"
#include "gemm/ours_wgmma.cuh"

namespace {

constexpr int kThreads = 384;
constexpr int kMaxSmem = 232448; /* sm_90 opt-in limit per block */

template <int BN, bool SPARSE> struct Geometry {
    static constexpr int kChunk = SPARSE ? SS_OURS_CHUNK_SPARSE : SS_OURS_CHUNK_DENSE;
    static constexpr int kBBytes = BN * SS_OURS_BK;
    static constexpr int kStage = kBBytes + 2 * kChunk; /* a multiple of 1024: the B tile stays swizzle-aligned */
    static constexpr int kStagesFit = (kMaxSmem - 1024 - 256) / kStage;
    static constexpr int kStages = kStagesFit > 8 ? 8 : kStagesFit;
    static constexpr int kSmem = kStages * kStage + 1024 /* alignment slack */ + 2 * 8 * kStages;
    static_assert(kStage % 1024 == 0, "stage must keep 1024-byte alignment");
    static_assert(kStages >= 2, "at least two stages");
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

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)

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

/* Epilogue of one consumer thread: channels c0, c0 + 1 for tokens t0 + 8j + v. */
template <int BN, bool FP8, typename Acc>
__device__ __forceinline__ void epilogue(const Params &p, Acc (&d)[BN / 2], int64_t c0, int64_t t0) {
    const bool ok0 = c0 < p.cols_out, ok1 = c0 + 1 < p.cols_out;
    float sw0 = 1.f, sw1 = 1.f, b0 = 0.f, b1 = 0.f;
    if (p.sw && ok0) sw0 = p.sw[c0];
    if (p.sw && ok1) sw1 = p.sw[c0 + 1];
    if (p.bias && ok0) b0 = p.bias[c0];
    if (p.bias && ok1) b1 = p.bias[c0 + 1];
    const bool pair = ok1 && (p.ld_out % 2 == 0); /* two channels in one aligned store */
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
        for (int v = 0; v < 2; v++) {
            const int64_t t = t0 + 8 * j + v;
            if (t >= p.rows_out || !ok0) continue;
            const Acc a0 = d[4 * j + v], a1 = d[4 * j + 2 + v];
            if (p.raw) {
                uint32_t *o = (uint32_t *)p.out + t * p.ld_out + c0;
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
            float y0 = FP8 ? (float)a0 : __int2float_rn((int)a0), y1 = FP8 ? (float)a1 : __int2float_rn((int)a1);
            if (p.sx) {
                const float s = p.sx[t];
                y0 = __fmul_rn(y0, s);
                y1 = __fmul_rn(y1, s);
            }
            if (p.sw) {
                y0 = __fmul_rn(y0, sw0);
                y1 = __fmul_rn(y1, sw1);
            }
            if (p.bias) {
                y0 = __fadd_rn(y0, b0);
                y1 = __fadd_rn(y1, b1);
            }
            __nv_bfloat16 *o = (__nv_bfloat16 *)p.out + t * p.ld_out + c0;
            if (pair) *(__nv_bfloat162 *)o = __floats2bfloat162_rn(y0, y1);
            else {
                o[0] = __float2bfloat16_rn(y0);
                if (ok1) o[1] = __float2bfloat16_rn(y1);
            }
        }
    }
}

#endif /* __CUDA_ARCH_FEAT_SM90_ALL */

template <int BN, bool SPARSE, bool FP8>
__global__ void __launch_bounds__(kThreads, 1) ours_gemm_kernel(const __grid_constant__ CUtensorMap tmap_b, const Params p) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    using G = Geometry<BN, SPARSE>;
    using Acc = typename std::conditional<FP8, float, uint32_t>::type;
    extern __shared__ uint8_t smem_raw[];
    uint8_t *smem = (uint8_t *)(((uintptr_t)smem_raw + 1023) & ~(uintptr_t)1023);
    const uint32_t bars = smem_u32(smem + G::kStages * G::kStage); /* full[s] at +8s, empty[s] at +8(S+s) */
    const int wg = threadIdx.x / 128;

    if (threadIdx.x == 0) {
        for (int s = 0; s < G::kStages; s++) {
            mbar_init(bars + 8 * s, 1);                        /* the producer's expect_tx arrival */
            mbar_init(bars + 8 * (G::kStages + s), 2 * 128);   /* every consumer thread */
        }
        asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
        asm volatile("prefetch.tensormap [%0];" ::"l"(&tmap_b) : "memory");
    }
    __syncthreads();

    if (wg == 0) {
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;");
        if (threadIdx.x != 0) return;
        int stage = 0;
        uint32_t phase = 0;
        for (int64_t tile = blockIdx.x; tile < p.n_tiles; tile += gridDim.x) {
            int64_t nb, tb;
            ss_ours_tile(tile, p.nb_count, p.tb_count, p.group, &nb, &tb);
            const uint8_t *a0 = p.a_img + (size_t)(2 * nb) * p.k_steps * G::kChunk;
            const uint8_t *a1 = a0 + (size_t)p.k_steps * G::kChunk;
            for (int64_t ks = 0; ks < p.k_steps; ks++) {
                const uint32_t full = bars + 8 * stage, empty = bars + 8 * (G::kStages + stage);
                mbar_wait(empty, phase ^ 1);
                mbar_expect_tx(full, G::kStage);
                uint8_t *st = smem + stage * G::kStage;
                tma_load_2d(smem_u32(st), &tmap_b, (int)(ks * SS_OURS_BK), (int)(tb * BN), full);
                bulk_load(smem_u32(st + G::kBBytes), a0 + ks * G::kChunk, G::kChunk, full);
                bulk_load(smem_u32(st + G::kBBytes + G::kChunk), a1 + ks * G::kChunk, G::kChunk, full);
                if (++stage == G::kStages) stage = 0, phase ^= 1;
            }
        }
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;");
    const int c = wg - 1, ct = threadIdx.x - 128 * wg, warp = ct / 32, lane = ct % 32;
    int stage = 0;
    uint32_t phase = 0;
    Acc d[BN / 2];
#pragma unroll
    for (int i = 0; i < BN / 2; i++) d[i] = 0; /* never read: each tile's first wgmma overwrites (scale-d 0) */
    for (int64_t tile = blockIdx.x; tile < p.n_tiles; tile += gridDim.x) {
        int64_t nb, tb;
        ss_ours_tile(tile, p.nb_count, p.tb_count, p.group, &nb, &tb);
        int prev = -1;
        for (int64_t ks = 0; ks < p.k_steps; ks++) {
            mbar_wait(bars + 8 * stage, phase);
            uint8_t *st = smem + stage * G::kStage;
            const uint32_t b_addr = smem_u32(st), a_addr = smem_u32(st + G::kBBytes + c * G::kChunk);
            if (SPARSE) {
                const uint32_t e0 = lds_u32(a_addr + 2 * SS_OURS_SUB_BYTES + 4 * ct);
                const uint32_t e1 = lds_u32(a_addr + 2 * SS_OURS_SUB_BYTES + SS_OURS_META_BYTES + 4 * ct);
                wgmma_fence();
                ss_wgmma<BN, SPARSE, FP8>::run(d, make_desc(a_addr, 128, 256, 0), make_desc(b_addr, 16, 1024, 1), e0,
                                                ks > 0);
                ss_wgmma<BN, SPARSE, FP8>::run(d, make_desc(a_addr + SS_OURS_SUB_BYTES, 128, 256, 0),
                                                make_desc(b_addr + 64, 16, 1024, 1), e1, 1);
                wgmma_commit();
                wgmma_wait<1>();
            } else {
                wgmma_fence();
#pragma unroll
                for (int s = 0; s < 4; s++)
                    ss_wgmma<BN, SPARSE, FP8>::run(d, make_desc(a_addr + s * SS_OURS_SUB_BYTES, 128, 256, 0),
                                                    make_desc(b_addr + 32 * s, 16, 1024, 1), 0, ks > 0 || s > 0);
                wgmma_commit();
                wgmma_wait<1>();
            }
            if (prev >= 0) mbar_arrive(bars + 8 * (G::kStages + prev)); /* the stage before is read */
            prev = stage;
            if (++stage == G::kStages) stage = 0, phase ^= 1;
        }
        wgmma_wait<0>();
#pragma unroll
        for (int i = 0; i < BN / 2; i++) fence_reg(d[i]);
        mbar_arrive(bars + 8 * (G::kStages + prev));
        const int64_t c0 = nb * SS_OURS_BLOCK_ROWS + c * SS_OURS_ROWS + 16 * warp + 2 * (lane / 4);
        epilogue<BN, FP8>(p, d, c0, tb * BN + 2 * (lane % 4));
    }
#else
    __trap(); /* built without sm_90a code: never silently return nothing (the host refuses other GPUs first) */
#endif
}

/* ---- host ---- */

PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void *f = nullptr;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) !=
                cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            f = nullptr;
        return (PFN_cuTensorMapEncodeTiled_v12000)f;
    }();
    return fn;
}

template <int BN, bool SPARSE, bool FP8>
ss_status launch(const CUtensorMap &map, const Params &p, int sm_count, cudaStream_t stream, const char *what) {
    using G = Geometry<BN, SPARSE>;
    auto kern = ours_gemm_kernel<BN, SPARSE, FP8>;
    static bool attr_set = false; /* per instantiation; setting it twice is harmless */
    if (!attr_set) {
        CUDA_TRY(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, G::kSmem), what);
        attr_set = true;
    }
    const int grid = (int)(p.n_tiles < sm_count ? p.n_tiles : sm_count);
    kern<<<grid, kThreads, G::kSmem, stream>>>(map, p);
    CUDA_TRY(cudaGetLastError(), what);
    return SS_OK;
}

template <bool SPARSE, bool FP8>
ss_status launch_bn(int bn, const CUtensorMap &map, const Params &p, int sm, cudaStream_t s, const char *what) {
    switch (bn) {
    case 256: return launch<256, SPARSE, FP8>(map, p, sm, s, what);
    case 128: return launch<128, SPARSE, FP8>(map, p, sm, s, what);
    default: return launch<64, SPARSE, FP8>(map, p, sm, s, what);
    }
}

} // namespace

ss_status ss_ours_upload(const ss_gemm_weight_info *i, ss_dtype dt, const uint8_t *w_staged, void **d_img,
                         size_t *bytes, const char *what) {
    ss_ours_geom g;
    SS_TRY_CTX(ss_ours_geometry(i->N_pad, i->K_act, i->backend == SS_BACKEND_OURS, &g), "%s", what);
    uint8_t *h = (uint8_t *)malloc(g.bytes);
    if (!h) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a %zu-byte weight image", what, g.bytes);
    ss_status st = ss_ours_pack(&g, dt, w_staged, h, what);
    cudaError_t e = cudaSuccess;
    if (st == SS_OK) {
        e = cudaMalloc(d_img, g.bytes);
        if (e == cudaSuccess) e = cudaMemcpy(*d_img, h, g.bytes, cudaMemcpyHostToDevice);
    }
    free(h);
    SS_TRY(st);
    if (e != cudaSuccess) {
        cudaFree(*d_img);
        *d_img = NULL;
        return ss_cuda_status(e, "cudaMalloc/cudaMemcpy of the weight image", what);
    }
    *bytes = g.bytes;
    return SS_OK;
}

ss_status ss_ours_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, int64_t M_rows, const float *sx,
                      const float *sw, const float *bias, int raw, void *out, int64_t ld_out, int64_t rows_out,
                      int64_t cols_out, int bn, const char *what) {
    const ss_gemm_weight_info *i = &w->info;
    if (ctx->gpu.cc_major != 9 || ctx->gpu.cc_minor != 0)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: the ours GEMM is sm_90a (Hopper) code; this GPU is %d.%d", what,
                       ctx->gpu.cc_major, ctx->gpu.cc_minor);
    PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
    if (!encode) return ss_fail(SS_ERR_CUDA, "%s: the driver has no cuTensorMapEncodeTiled", what);
    ss_ours_geom g;
    SS_TRY_CTX(ss_ours_geometry(i->N_pad, i->K_act, i->backend == SS_BACKEND_OURS, &g), "%s", what);
    if (bn != 64 && bn != 128 && bn != 256) bn = ss_ours_pick_bn(g.rows_img / SS_OURS_BLOCK_ROWS, M_rows, ctx->gpu.sm_count);

    CUtensorMap map;
    const cuuint64_t dims[2] = {(cuuint64_t)i->K_act, (cuuint64_t)M_rows};
    const cuuint64_t strides[1] = {(cuuint64_t)i->K_act};
    const cuuint32_t box[2] = {SS_OURS_BK, (cuuint32_t)bn}, estr[2] = {1, 1};
    CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, (void *)xq, dims, strides, box, estr,
                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return ss_fail(SS_ERR_CUDA, "%s: cuTensorMapEncodeTiled of X' [%lld, %lld] failed (%d)", what, (long long)M_rows,
                       (long long)i->K_act, (int)r);

    Params p;
    p.a_img = (const uint8_t *)w->d_w;
    p.k_steps = g.k_steps;
    p.nb_count = g.rows_img / SS_OURS_BLOCK_ROWS;
    p.tb_count = (M_rows + bn - 1) / bn;
    p.group = SS_OURS_GROUP;
    p.n_tiles = p.nb_count * p.tb_count;
    p.out = out;
    p.ld_out = ld_out;
    p.rows_out = rows_out;
    p.cols_out = cols_out;
    p.sx = sx;
    p.sw = sw;
    p.bias = bias;
    p.raw = raw;
    const int fp8 = i->dtype == SS_GEMM_FP8E4M3, sparse = i->backend == SS_BACKEND_OURS;
    if (sparse && fp8) return launch_bn<true, true>(bn, map, p, ctx->gpu.sm_count, ctx->stream, what);
    if (sparse) return launch_bn<true, false>(bn, map, p, ctx->gpu.sm_count, ctx->stream, what);
    if (fp8) return launch_bn<false, true>(bn, map, p, ctx->gpu.sm_count, ctx->stream, what);
    return launch_bn<false, false>(bn, map, p, ctx->gpu.sm_count, ctx->stream, what);
}
