/* Standalone per-token quant and fused quant+slide kernels: one block per
 * token row. The row is read once from global memory with 16-byte loads into
 * shared memory (its absmax on the way), then
 *   not slid: quantized straight to global memory in 16-byte stores;
 *   slid:     quantized into shared memory, then gathered window by window
 *             into 16-byte stores of X' (K_slid columns).
 * Padding rows (M <= m < M_pad) are written as zeros with scale 1.
 * Memory-bound: at M=16384, K=2560 the BF16 read is 84 MB and the INT8 write
 * 42 MB (x1.5 for 2_8), ~40-60 us at 3 TB/s. */
#include <stdio.h>

#include "gemm/gemm_internal.h"
#include "gemm/quant_device.cuh"

template <class Q, bool SLIDE>
__global__ void __launch_bounds__(512) ss_quant_kernel(const __nv_bfloat16 *__restrict__ x, int64_t M, int64_t K,
                                                       int64_t ldx, typename Q::store *__restrict__ out, int64_t K_out,
                                                       float *__restrict__ scale, ss_slide_params g, int vec_ok,
                                                       int64_t xs_elems) {
    typedef typename Q::store T;
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ float red[32];
    __nv_bfloat16 *xs = reinterpret_cast<__nv_bfloat16 *>(smem); /* [xs_elems] */
    T *codes = reinterpret_cast<T *>(smem + xs_elems * sizeof(__nv_bfloat16));
    const int64_t m = blockIdx.x;
    T *orow = out + m * K_out;

    if (m >= M) { /* padding row: block-uniform */
        for (int64_t c = threadIdx.x; c < K_out * (int64_t)sizeof(T) / 16; c += blockDim.x)
            reinterpret_cast<uint4 *>(orow)[c] = make_uint4(0, 0, 0, 0);
        if (scale && threadIdx.x == 0) scale[m] = 1.0f;
        return;
    }

    const __nv_bfloat16 *xr = x + m * ldx;
    float amax = 0.0f;
    int64_t kv = 0;
    if (vec_ok) {
        kv = K / 8 * 8;
        for (int64_t i = threadIdx.x; i < K / 8; i += blockDim.x) {
            uint4 u = __ldg(reinterpret_cast<const uint4 *>(xr) + i);
            reinterpret_cast<uint4 *>(xs)[i] = u;
            const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&u);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float2 f = __bfloat1622float2(h[j]);
                amax = fmaxf(amax, fmaxf(fabsf(f.x), fabsf(f.y)));
            }
        }
    }
    for (int64_t k = kv + threadIdx.x; k < K; k += blockDim.x) {
        __nv_bfloat16 v = xr[k];
        xs[k] = v;
        amax = fmaxf(amax, fabsf(__bfloat162float(v)));
    }
    amax = ss_block_max(amax, red); /* its barriers publish xs */
    const float s = Q::scaled ? ss_act_scale(amax, Q::qmax) : 1.0f;
    if (Q::scaled && scale && threadIdx.x == 0) scale[m] = s;

    auto load = [&](int64_t k) { return __bfloat162float(xs[k]); };
    if constexpr (!SLIDE) {
        ss_block_quant_row<Q>(load, K, K_out, s, orow);
    } else {
        ss_block_quant_codes<Q>(load, K, g.K_padded, s, codes);
        __syncthreads();
        ss_block_slide_row<Q>(codes, g, orow);
    }
}

template <class Q, bool SLIDE>
static ss_status launch(const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out, int64_t K_out,
                        float *scale, const ss_slide_params &g, cudaStream_t stream, const char *what) {
    typedef typename Q::store T;
    const int64_t NE = 16 / sizeof(T);
    const int64_t xs_elems = ss_gemm_round_up(K, 8);
    const int64_t codes_elems = SLIDE ? ss_gemm_round_up(g.K_padded, 8) : 0;
    size_t smem = (size_t)xs_elems * 2 + (size_t)codes_elems * sizeof(T);
    smem = (size_t)ss_gemm_round_up((int64_t)smem, 16);
    /* Enough threads that each handles one or two 16-byte chunks of the row. */
    int64_t chunks = K_out / NE;
    int threads = (int)ss_gemm_round_up(chunks < 512 ? chunks : 512, 32);
    if (threads < 64) threads = 64;

    auto kernel = ss_quant_kernel<Q, SLIDE>;
    if (smem > 48 * 1024) {
        int dev = 0, max_optin = 0;
        CUDA_TRY(cudaGetDevice(&dev), what);
        CUDA_TRY(cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), what);
        if (smem > (size_t)max_optin)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: quant kernel needs %zu bytes of shared memory for K=%lld, the GPU has %d",
                           what, smem, (long long)K, max_optin);
        CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem), what);
    }
    int vec_ok = (K % 8 == 0) && (ldx % 8 == 0) && ((uintptr_t)x % 16 == 0);
    kernel<<<(unsigned)M_pad, threads, smem, stream>>>((const __nv_bfloat16 *)x, M, K, ldx, (T *)out, K_out, scale, g,
                                                       vec_ok, xs_elems);
    CUDA_TRY_LAUNCH(SLIDE ? "ss_quant_kernel<slide>" : "ss_quant_kernel", what);
    return SS_OK;
}

ss_status ss_launch_quant(ss_gemm_dtype d, const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out,
                          int64_t K_out, float *scale, const ss_slide_geom *geom, cudaStream_t stream, const char *what) {
    if (M < 0 || M_pad < M || M_pad % SS_GEMM_ALIGN_M || K <= 0 || ldx < K || K_out % 16 || M_pad >= (1ll << 31))
        return ss_fail(SS_ERR_ARG, "%s: bad quant shape M=%lld (padded %lld) K=%lld ldx=%lld K_out=%lld", what,
                       (long long)M, (long long)M_pad, (long long)K, (long long)ldx, (long long)K_out);
    if ((uintptr_t)out % 16)
        return ss_fail(SS_ERR_ARG, "%s: quantized activation buffer is not 16-byte aligned", what);
    ss_slide_params g = {};
    if (geom && geom->L == 4 && geom->K_slid == ss_gemm_round_up(K, SS_GEMM_ALIGN_NK))
        geom = NULL; /* 2_4 slides nothing: x'[p] = x[p] (one window per group of 4) */
    if (geom && geom->K_slid >= (1ll << 32))
        return ss_fail(SS_ERR_ARG, "%s: K_slid=%lld too large", what, (long long)geom->K_slid);
    if (geom) {
        g = ss_slide_params_of(geom);
        if (geom->K != K || geom->K_slid != K_out)
            return ss_fail(SS_ERR_ARG, "%s: slide geometry (K=%lld, K_slid=%lld) does not match K=%lld, K_out=%lld", what,
                           (long long)geom->K, (long long)geom->K_slid, (long long)K, (long long)K_out);
    } else if (K_out < K) {
        return ss_fail(SS_ERR_ARG, "%s: K_out=%lld < K=%lld", what, (long long)K_out, (long long)K);
    }
    switch (d) {
    case SS_GEMM_INT8:
        return geom ? launch<ss_q_int8, true>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what)
                    : launch<ss_q_int8, false>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what);
    case SS_GEMM_FP8E4M3:
        return geom ? launch<ss_q_fp8e4m3, true>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what)
                    : launch<ss_q_fp8e4m3, false>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what);
    case SS_GEMM_BF16:
        return geom ? launch<ss_q_bf16, true>(x, M, M_pad, K, ldx, out, K_out, NULL, g, stream, what)
                    : launch<ss_q_bf16, false>(x, M, M_pad, K, ldx, out, K_out, NULL, g, stream, what);
    case SS_GEMM_FP16:
        return geom ? launch<ss_q_fp16, true>(x, M, M_pad, K, ldx, out, K_out, NULL, g, stream, what)
                    : launch<ss_q_fp16, false>(x, M, M_pad, K, ldx, out, K_out, NULL, g, stream, what);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: no activation quantization for %s", what, ss_gemm_dtype_name(d));
    }
}
