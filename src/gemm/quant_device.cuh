/* Per-token quantization and sliding as __device__ building blocks, so that
 * a kernel that produces an activation row (RMSNorm, the gated activation)
 * can quantize and slide it in the same kernel instead of writing BF16 and
 * reading it back. quant.cu builds its standalone kernels from these.
 *
 * The arithmetic is the CPU reference's (gemm/linear.h) exactly:
 *   s = max(absmax / qmax, SS_ACT_SCALE_FLOOR)       IEEE division
 *   q = sat(round_to_nearest_even(x / s))            IEEE division
 * INT8 saturates to [-127, 127]; FP8 E4M3 to +-448 (cvt.rn.satfinite).
 * Sliding (convert/sparsity.h): x'[g*4W + 4w + j] = x[g*L + 2w + j].
 *
 * Use from a kernel with one block per token row (blockDim a multiple of 32):
 *
 *   __shared__ float red[32];
 *   float amax = ss_block_max(local_amax, red);   // also a __syncthreads
 *   float s = ss_act_scale(amax, ss_q_int8::qmax);
 *   q = ss_q_int8::quant(x, s);                   // per element
 *   // slid: the row's codes to shared memory first (zero in [K, K_padded)),
 *   // a barrier, then the 16-byte gather
 *   ss_block_slide_row<ss_q_int8>(codes_smem, g, out_row);
 */
#ifndef SS_GEMM_QUANT_DEVICE_CUH
#define SS_GEMM_QUANT_DEVICE_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

extern "C" {
#include "convert/sparsity.h"
#include "gemm/linear.h"
}

/* ---- element types of the activation operand ---- */

/* Each has: store (the element as stored), scaled (per-token scale or a
 * plain conversion), qmax, quant(x, s) and quant_fast(x, s, r).
 *
 * quant_fast gives quant's result bit for bit with a multiplication by
 * r = 1/s (__frcp_rn(s), once per row) instead of an IEEE division per
 * element, which made the standalone quant kernel issue-bound (ncu,
 * 2026-11-25). Why it is exact: q0 = RN(x * r) is within 2^-22 relative
 * (2 ulp) of x / s, and so is RN(x / s). Both round to the same code unless
 * x / s lies within that distance of a point where the code changes (a
 * half-integer for INT8, the midpoint of two E4M3 values for FP8); q0 then
 * lies within twice the distance of that point, which is what the test
 * looks for, with a safety factor, and those elements (and NaN) take the
 * exact division. */
struct ss_q_int8 {
    typedef int8_t store;
    static constexpr bool scaled = true;
    static constexpr float qmax = 127.0f;
    static __device__ __forceinline__ store quant(float x, float s) {
        int q = __float2int_rn(__fdiv_rn(x, s)); /* ties to even; NaN -> 0 */
        return (store)max(-127, min(127, q));
    }
    static __device__ __forceinline__ store quant_fast(float x, float s, float r) {
        const float q0 = x * r; /* |x| <= absmax, so |q0| < 127.5: no clamp needed */
        /* rint by the 1.5 * 2^23 trick: the integer lands in the low mantissa bits */
        const float t = __fadd_rn(q0, 0x1.8p23f);
        /* 2 ulp <= 2^-15 below 128; a half-integer nearer than 2^-12 (or NaN) takes the division */
        if (fabsf(fabsf(__fsub_rn(q0, __fsub_rn(t, 0x1.8p23f))) - 0.5f) > 0x1p-12f)
            return (store)(__float_as_uint(t) & 0xffu);
        return quant(x, s);
    }
};

struct ss_q_fp8e4m3 {
    typedef uint8_t store; /* OCP E4M3 code */
    static constexpr bool scaled = true;
    static constexpr float qmax = 448.0f;
    static __device__ __forceinline__ store quant(float x, float s) {
        return (store)__nv_cvt_float_to_fp8(__fdiv_rn(x, s), __NV_SATFINITE, __NV_E4M3);
    }
    static __device__ __forceinline__ store quant_fast(float x, float s, float r) {
        const float q0 = x * r;
        /* E4M3 keeps 3 of the 23 mantissa bits; a rounding midpoint has the
         * low 20 bits = 0x80000. Normal E4M3 range only (>= 2^-6; NaN fails),
         * and more than 16 ulp from a midpoint. */
        const uint32_t low = __float_as_uint(q0) & 0xfffffu;
        /* An exact zero gives the same code on both paths (+-0 * r and
         * +-0 / s are +-0), and the squared-ReLU product is about half
         * zeros, which all took the division before: the suspected cause of
         * FP8's slower slid row kernels (H200, 2026-12-02, docs/BENCHMARKS.md). */
        if ((fabsf(q0) >= 0x1p-6f && low - 0x80000u + 16u > 32u) || q0 == 0.0f)
            return (store)__nv_cvt_float_to_fp8(q0, __NV_SATFINITE, __NV_E4M3);
        return quant(x, s);
    }
};

struct ss_q_bf16 { /* no quantization: the BF16 GEMM's operand */
    typedef uint16_t store;
    static constexpr bool scaled = false;
    static constexpr float qmax = 1.0f;
    static __device__ __forceinline__ store quant(float x, float) { return __bfloat16_as_ushort(__float2bfloat16_rn(x)); }
    static __device__ __forceinline__ store quant_fast(float x, float, float) { return quant(x, 1.0f); }
};

struct ss_q_fp16 {
    typedef uint16_t store;
    static constexpr bool scaled = false;
    static constexpr float qmax = 1.0f;
    static __device__ __forceinline__ store quant(float x, float) { return __half_as_ushort(__float2half_rn(x)); }
    static __device__ __forceinline__ store quant_fast(float x, float, float) { return quant(x, 1.0f); }
};

/* ---- the slide geometry in a kernel-argument-friendly form ---- */

struct ss_slide_params {
    int L;            /* group length */
    int out_group;    /* 4 * windows: slid columns per group */
    int64_t groups;
    int64_t K, K_padded, K_slid;
};

static inline ss_slide_params ss_slide_params_of(const ss_slide_geom *g) {
    ss_slide_params p;
    p.L = g->L;
    p.out_group = 4 * g->windows;
    p.groups = g->groups;
    p.K = g->K;
    p.K_padded = g->K_padded;
    p.K_slid = g->K_slid;
    return p;
}

/* ---- scalar pieces ---- */

static __device__ __forceinline__ float ss_act_scale(float amax, float qmax) {
    return fmaxf(__fdiv_rn(amax, qmax), SS_ACT_SCALE_FLOOR);
}

/* ---- block-wide pieces (every thread of the block must call them) ---- */

/* Maximum of v over the block, returned to every thread. red: 32 floats of
 * shared memory. Starts and ends with a barrier, so it also publishes shared
 * memory written before it. */
static __device__ __forceinline__ float ss_block_max(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads(); /* red may still be read by a previous call */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float w = lane < nwarps ? red[lane] : 0.0f;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) w = fmaxf(w, __shfl_xor_sync(0xffffffffu, w, o));
        if (lane == 0) red[0] = w;
    }
    __syncthreads();
    return red[0];
}

/* 8 elements in, 8 codes out (8 or 16 bytes). */
template <class Q> union ss_codes8 {
    typename Q::store e[8];
    uint2 u2;
    uint4 u4;
};

template <class Q>
static __device__ __forceinline__ void ss_store_codes8(typename Q::store *dst, const ss_codes8<Q> &c) {
    if constexpr (sizeof(typename Q::store) == 1) *reinterpret_cast<uint2 *>(dst) = c.u2;
    else *reinterpret_cast<uint4 *>(dst) = c.u4;
}

/* The 3 windows of a 2:8 group: 12 codes at dst (4-code aligned). */
template <class Q>
static __device__ __forceinline__ void ss_store_windows8(typename Q::store *dst, const ss_codes8<Q> &c) {
    if constexpr (sizeof(typename Q::store) == 1) {
        uint32_t *d = reinterpret_cast<uint32_t *>(dst);
        d[0] = c.u2.x, d[1] = __byte_perm(c.u2.x, c.u2.y, 0x5432), d[2] = c.u2.y;
    } else {
        uint2 *d = reinterpret_cast<uint2 *>(dst);
        d[0] = make_uint2(c.u4.x, c.u4.y), d[1] = make_uint2(c.u4.y, c.u4.z), d[2] = make_uint2(c.u4.z, c.u4.w);
    }
}

/* Four consecutive elements starting at an even index, as one word. */
static __device__ __forceinline__ uint32_t ss_load4(const uint8_t *c, int64_t i) {
    const uint16_t *h = reinterpret_cast<const uint16_t *>(c + i); /* i even: 2-byte aligned */
    return (uint32_t)h[0] | ((uint32_t)h[1] << 16);
}
static __device__ __forceinline__ uint2 ss_load4(const uint16_t *c, int64_t i) {
    const uint32_t *w = reinterpret_cast<const uint32_t *>(c + i); /* i even: 4-byte aligned */
    return make_uint2(w[0], w[1]);
}

/* Writes the slid row out[0, g.K_slid) (K_slid < 2^32) from the quantized row codes[0,
 * g.K_padded) (zero in [K, K_padded)), in 16-byte stores: each store holds
 * NW = 16/(4*elem) whole windows, so each window is one aligned load pair.
 * One integer division per store finds its first window's group; the next
 * windows step through the group (a division per window made this gather
 * the larger half of the quant+slide kernel's instructions). */
template <class Q>
static __device__ __forceinline__ void ss_block_slide_row(const typename Q::store *codes, const ss_slide_params &g,
                                                          typename Q::store *out) {
    typedef typename Q::store T;
    constexpr int NE = 16 / sizeof(T), NW = NE / 4;
    const uint8_t *cb = reinterpret_cast<const uint8_t *>(codes);
    const uint32_t W = (uint32_t)g.out_group / 4; /* windows per group */
    for (int64_t c = threadIdx.x; c < g.K_slid / NE; c += blockDim.x) {
        union {
            uint4 u;
            uint32_t w1[4];
            uint2 w2[2];
        } v;
        const uint32_t w0 = (uint32_t)c * NW; /* first window of this store */
        uint32_t grp = w0 / W, wi = w0 - grp * W;
#pragma unroll
        for (int t = 0; t < NW; t++) {
            const int64_t src = (int64_t)grp * g.L + 2 * wi; /* window wi of group grp starts at 2 wi */
            if constexpr (sizeof(T) == 1) v.w1[t] = grp < g.groups ? ss_load4(cb, src) : 0u;
            else v.w2[t] = grp < g.groups ? ss_load4(reinterpret_cast<const uint16_t *>(codes), src) : make_uint2(0, 0);
            if (++wi == W) wi = 0, grp++;
        }
        reinterpret_cast<uint4 *>(out)[c] = v.u;
    }
}

#endif
