// Device helpers shared by the engine's kernels: launch checks, BF16 bits,
// loading a GEMM output through an ss_yview, block reductions.
#ifndef SS_ENGINE_CUDA_COMMON_CUH
#define SS_ENGINE_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "engine/cuda/kernels.h"
#include "gemm/gemm.h"
}
// After the extern "C" block: its C headers are already included there.
#include "gemm/quant_device.cuh"

// Launch-error check for the extern "C" launchers (asynchronous faults
// surface at the next synchronisation, where the engine reports them).
static inline ss_status ss_launch_status(const char *kernel) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) return SS_OK;
    return ss_fail(SS_ERR_CUDA, "%s: launch failed: %s (%s)", kernel, cudaGetErrorName(e), cudaGetErrorString(e));
}

static inline cudaStream_t ss_stream(void *s) { return (cudaStream_t)s; }

__device__ __forceinline__ float bf16_bits_to_f32(uint16_t h) { return __uint_as_float((uint32_t)h << 16); }

// Round to nearest even, NaN kept quiet: the same bits as ss_f32_to_bf16.
__device__ __forceinline__ uint16_t f32_to_bf16_bits(float f) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}
__device__ __forceinline__ float round_bf16(float f) { return bf16_bits_to_f32(f32_to_bf16_bits(f)); }

// Element (m, n) of a GEMM output, dequantized as kernels.h describes.
__device__ __forceinline__ float yview_load(const ss_yview &y, int64_t m, int64_t n) {
    const int64_t i = m * y.ld + n;
    switch (y.kind) {
    case SS_Y_BF16:
        return bf16_bits_to_f32(((const uint16_t *)y.data)[i]);
    case SS_Y_BF16_CHANNEL: {
        float v = bf16_bits_to_f32(((const uint16_t *)y.data)[i]);
        if (y.sx) v = __fmul_rn(v, y.sx[m]);
        if (y.bias) v = __fadd_rn(v, y.bias[n]);
        return round_bf16(v);
    }
    default: {
        float acc = y.kind == SS_Y_I32      ? (float)((const int32_t *)y.data)[i]
                    : y.kind == SS_Y_F32    ? ((const float *)y.data)[i]
                                            : bf16_bits_to_f32(((const uint16_t *)y.data)[i]); // BF16_ACC
        float v = acc;
        if (y.sx) v = __fmul_rn(v, y.sx[m]);
        if (y.sw) v = __fmul_rn(v, y.sw[n]);
        if (y.bias) v = __fadd_rn(v, y.bias[n]);
        return round_bf16(v);
    }
    }
}

// Four consecutive elements (n % 4 == 0, ld % 4 == 0): one 8- or 16-byte load.
__device__ __forceinline__ void yview_load4(const ss_yview &y, int64_t m, int64_t n, float out[4]) {
    const int64_t i = m * y.ld + n;
    if (y.kind == SS_Y_BF16) {
        uint2 u = *(const uint2 *)((const uint16_t *)y.data + i);
        out[0] = __uint_as_float(u.x << 16);
        out[1] = __uint_as_float(u.x & 0xffff0000u);
        out[2] = __uint_as_float(u.y << 16);
        out[3] = __uint_as_float(u.y & 0xffff0000u);
        return;
    }
    float raw[4];
    if (y.kind == SS_Y_BF16_CHANNEL || y.kind == SS_Y_BF16_ACC) { // BF16_CHANNEL views carry no sw
        uint2 u = *(const uint2 *)((const uint16_t *)y.data + i);
        raw[0] = __uint_as_float(u.x << 16);
        raw[1] = __uint_as_float(u.x & 0xffff0000u);
        raw[2] = __uint_as_float(u.y << 16);
        raw[3] = __uint_as_float(u.y & 0xffff0000u);
    } else if (y.kind == SS_Y_I32) {
        int4 u = *(const int4 *)((const int32_t *)y.data + i);
        raw[0] = (float)u.x, raw[1] = (float)u.y, raw[2] = (float)u.z, raw[3] = (float)u.w;
    } else {
        float4 u = *(const float4 *)((const float *)y.data + i);
        raw[0] = u.x, raw[1] = u.y, raw[2] = u.z, raw[3] = u.w;
    }
    for (int j = 0; j < 4; j++) {
        float v = raw[j];
        if (y.sx) v = __fmul_rn(v, y.sx[m]);
        if (y.sw) v = __fmul_rn(v, y.sw[n + j]);
        if (y.bias) v = __fadd_rn(v, y.bias[n + j]);
        out[j] = round_bf16(v);
    }
}

// Eight consecutive elements (col % 8 == 0, ld % 8 == 0 for BF16) of a GEMM output row.
__device__ __forceinline__ void yview_load8(const ss_yview &y, int64_t m, int64_t col, float out[8]) {
    if (y.kind == SS_Y_BF16) {
        const uint4 u = *(const uint4 *)((const uint16_t *)y.data + m * y.ld + col);
        const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
        for (int i = 0; i < 4; i++) out[2 * i] = __uint_as_float(w[i] << 16), out[2 * i + 1] = __uint_as_float(w[i] & 0xffff0000u);
        return;
    }
    yview_load4(y, m, col, out);
    yview_load4(y, m, col + 4, out + 4);
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Block-wide sum in double (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `red` is shared scratch of 32 elements. (The max is
// quant_device.cuh's ss_block_max.)
__device__ __forceinline__ double block_sum_d(double v, double *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = warp_sum_d(v);
    __syncthreads(); // red may still be read from a previous reduction
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0;
    return warp_sum_d(v);
}

static inline int64_t ss_pad_rows(int64_t M) { return ss_gemm_pad_m(M); }

#endif
