/* Dequant + bias: y[m, n] = bf16(((float)acc[m, n] * s_x[m]) * s_w[n] + bias[n]).
 * Explicit _rn intrinsics keep every step rounded to FP32 in the CPU
 * reference's order (nvcc would otherwise contract the multiply-add into an
 * FMA), so the INT8 path is bit-exact. Each thread does 8 consecutive
 * columns: two 16-byte loads of INT32/FP32 (one of BF16/FP16) and one
 * 16-byte store; grid-stride over the [M, N/8] tiles. */
#include "gemm/gemm_internal.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

/* Input element types by their raw bits (unions need trivial members). */
struct ss_in_i32 {
    typedef int32_t raw;
    static __device__ __forceinline__ float f32(raw v) { return __int2float_rn(v); }
};
struct ss_in_f32 {
    typedef float raw;
    static __device__ __forceinline__ float f32(raw v) { return v; }
};
struct ss_in_bf16 {
    typedef uint16_t raw;
    static __device__ __forceinline__ float f32(raw v) { return __bfloat162float(__ushort_as_bfloat16(v)); }
};
struct ss_in_f16 {
    typedef uint16_t raw;
    static __device__ __forceinline__ float f32(raw v) { return __half2float(__ushort_as_half(v)); }
};

template <class T, typename In = typename T::raw>
__global__ void __launch_bounds__(256)
    ss_dequant_kernel(const In *__restrict__ in, int64_t ld_in, int64_t M, int64_t N, const float *__restrict__ sx,
                      const float *__restrict__ sw, const float *__restrict__ bias, uint16_t *__restrict__ y,
                      int64_t ld_y, int vec_ok) {
    const int64_t groups = (N + 7) / 8, total = M * groups;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = i / groups, n0 = (i - m * groups) * 8;
        const In *src = in + m * ld_in + n0;
        const bool full = vec_ok && n0 + 8 <= N;
        float a[8];
        if (full) {
            union {
                uint4 u[sizeof(In) * 8 / 16];
                In e[8];
            } v;
#pragma unroll
            for (int j = 0; j < (int)(sizeof(In) * 8 / 16); j++) v.u[j] = __ldg(reinterpret_cast<const uint4 *>(src) + j);
#pragma unroll
            for (int j = 0; j < 8; j++) a[j] = T::f32(v.e[j]);
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) a[j] = n0 + j < N ? T::f32(src[j]) : 0.0f;
        }
        const float xs = sx ? sx[m] : 1.0f;
        union {
            uint4 u;
            uint16_t h[8];
        } o;
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int64_t n = n0 + j < N ? n0 + j : N - 1;
            float v = a[j];
            if (sx) v = __fmul_rn(v, xs);
            if (sw) v = __fmul_rn(v, sw[n]);
            if (bias) v = __fadd_rn(v, bias[n]);
            o.h[j] = __bfloat16_as_ushort(__float2bfloat16_rn(v));
        }
        uint16_t *dst = y + m * ld_y + n0;
        if (full) {
            *reinterpret_cast<uint4 *>(dst) = o.u;
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++)
                if (n0 + j < N) dst[j] = o.h[j];
        }
    }
}

template <class T>
static ss_status launch(const void *in, int64_t ld_in, int64_t M, int64_t N, const float *sx, const float *sw,
                        const float *bias, void *y, int64_t ld_y, int sm_count, cudaStream_t stream, const char *what) {
    const int64_t total = M * ((N + 7) / 8);
    if (total == 0) return SS_OK;
    const int threads = 256;
    int64_t blocks = (total + threads - 1) / threads, cap = (int64_t)(sm_count > 0 ? sm_count : 132) * 8;
    if (blocks > cap) blocks = cap;
    typedef typename T::raw In;
    int vec_ok = (uintptr_t)in % 16 == 0 && (ld_in * (int64_t)sizeof(In)) % 16 == 0 && (uintptr_t)y % 16 == 0 &&
                 ld_y % 8 == 0;
    ss_dequant_kernel<T><<<(unsigned)blocks, threads, 0, stream>>>((const In *)in, ld_in, M, N, sx, sw, bias,
                                                                   (uint16_t *)y, ld_y, vec_ok);
    CUDA_TRY_LAUNCH("ss_dequant_kernel", what);
    return SS_OK;
}

ss_status ss_launch_dequant(ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N, const float *sx,
                            const float *sw, const float *bias, void *y, int64_t ld_y, int sm_count,
                            cudaStream_t stream, const char *what) {
    if (M < 0 || N <= 0 || ld_in < N || ld_y < N)
        return ss_fail(SS_ERR_ARG, "%s: bad dequant shape M=%lld N=%lld ld_in=%lld ld_y=%lld", what, (long long)M,
                       (long long)N, (long long)ld_in, (long long)ld_y);
    switch (in_dtype) {
    case SS_DT_I32: return launch<ss_in_i32>(in, ld_in, M, N, sx, sw, bias, y, ld_y, sm_count, stream, what);
    case SS_DT_F32: return launch<ss_in_f32>(in, ld_in, M, N, sx, sw, bias, y, ld_y, sm_count, stream, what);
    case SS_DT_BF16: return launch<ss_in_bf16>(in, ld_in, M, N, sx, sw, bias, y, ld_y, sm_count, stream, what);
    case SS_DT_F16: return launch<ss_in_f16>(in, ld_in, M, N, sx, sw, bias, y, ld_y, sm_count, stream, what);
    default:
        return ss_fail(SS_ERR_ARG, "%s: dequant input must be I32, F32, BF16 or F16, not %s", what,
                       ss_dtype_name(in_dtype));
    }
}
