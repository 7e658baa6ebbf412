/* Standalone per-token quant and fused quant+slide kernels: one block per
 * token row, the row held in registers (V chunks of 8 BF16 per thread,
 * 16-byte loads), so the input is read from global memory once and never
 * staged in shared memory. After the block's absmax:
 *   not slid: each chunk is quantized to 8 codes and stored (8 or 16 bytes);
 *   slid:     the codes go to shared memory, then are gathered window by
 *             window into 16-byte stores of X' (K_slid columns);
 *   slid 2:8 (K % 8 == 0): a thread's chunk of 8 is one group, and it stores
 *             the group's 3 windows itself.
 * Padding rows (M <= m < M_pad) are written as zeros with scale 1.
 * Memory-bound by design: at M=16384, K=2560 the BF16 read is 84 MB and the
 * INT8 write 42 MB (x1.5 for 2_8), ~40-60 us at 3 TB/s. An earlier version
 * staged the row in shared memory and read it back one element at a time:
 * ncu showed it issue-bound at 1.4-2.0 TB/s. */
#include <stdio.h>

#include "gemm/gemm_internal.h"
#include "gemm/quant_device.cuh"

/* Chunk c (elements 8c .. 8c+7) of row xr as 8 BF16 in 16 bytes, 0 beyond K.
 * Kept packed: half the registers of 8 floats, so more rows fit in flight. */
static __device__ __forceinline__ uint4 ss_load_chunk(const __nv_bfloat16 *__restrict__ xr, int c, int64_t K, int vec_ok) {
    if (vec_ok && 8 * (int64_t)c + 8 <= K) return __ldg(reinterpret_cast<const uint4 *>(xr) + c);
    union {
        uint4 u;
        unsigned short h[8];
    } v;
#pragma unroll
    for (int j = 0; j < 8; j++) v.h[j] = 8 * (int64_t)c + j < K ? __bfloat16_as_ushort(xr[8 * c + j]) : (unsigned short)0;
    return v.u;
}

/* Element j of a chunk as a float (a BF16 is the top half of an FP32). */
static __device__ __forceinline__ float ss_chunk_elem(const uint4 &u, int j) {
    const uint32_t w = (&u.x)[j >> 1];
    return __uint_as_float(j & 1 ? w & 0xffff0000u : w << 16);
}

/* How the codes leave the kernel. */
enum ss_quant_out {
    SS_QO_PLAIN = 0, /* the row, K_out columns */
    SS_QO_SLIDE,     /* slid, any 2:L: codes to shared memory, then the window gather */
    SS_QO_SLIDE8,    /* slid 2:8 with K % 8 == 0: a chunk of 8 is one group, whose 3 windows
                        (codes 0-3, 2-5, 4-7) a thread stores itself: no shared memory, no barrier */
};

template <class Q, int OUT, int V>
__global__ void __launch_bounds__(512) ss_quant_kernel(const __nv_bfloat16 *__restrict__ x, int64_t M, int64_t K,
                                                       int64_t ldx, typename Q::store *__restrict__ out, int64_t K_out,
                                                       float *__restrict__ scale, ss_slide_params g, int vec_ok) {
    typedef typename Q::store T;
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ float red[32];
    T *codes = reinterpret_cast<T *>(smem); /* SLIDE: [round_up(K_padded, 8)] */
    const int64_t m = blockIdx.x;
    T *orow = out + m * K_out;

    if (m >= M) { /* padding row: block-uniform */
        for (int64_t c = threadIdx.x; c < K_out * (int64_t)sizeof(T) / 16; c += blockDim.x)
            reinterpret_cast<uint4 *>(orow)[c] = make_uint4(0, 0, 0, 0);
        if (scale && threadIdx.x == 0) scale[m] = 1.0f;
        return;
    }

    const __nv_bfloat16 *xr = x + m * ldx;
    const int chunks = (int)((K + 7) / 8); /* <= 512 * SS_QUANT_MAX_V */
    uint4 raw[V];
    float amax = 0.0f;
#pragma unroll
    for (int v = 0; v < V; v++) { /* every load issued before the first use */
        const int c = threadIdx.x + v * blockDim.x;
        raw[v] = c < chunks ? ss_load_chunk(xr, c, K, vec_ok) : make_uint4(0, 0, 0, 0);
    }
    /* absmax on BF16 pairs: a comparison is exact in any format */
    __nv_bfloat162 m2 = __float2bfloat162_rn(0.0f);
#pragma unroll
    for (int v = 0; v < V; v++) {
        const __nv_bfloat162 *h = reinterpret_cast<const __nv_bfloat162 *>(&raw[v]);
#pragma unroll
        for (int j = 0; j < 4; j++) m2 = __hmax2(m2, __habs2(h[j]));
    }
    amax = fmaxf(__low2float(m2), __high2float(m2));
    const float s = Q::scaled ? ss_act_scale(ss_block_max(amax, red), Q::qmax) : 1.0f;
    if (Q::scaled && scale && threadIdx.x == 0) scale[m] = s;

    const float r = __frcp_rn(s);
    T *dst = OUT == SS_QO_SLIDE ? codes : orow;
#pragma unroll
    for (int v = 0; v < V; v++) {
        const int c = threadIdx.x + v * blockDim.x;
        if (c < chunks) {
            ss_codes8<Q> q;
            if (8 * (int64_t)c + 8 <= K) {
#pragma unroll
                for (int j = 0; j < 8; j++) q.e[j] = Q::quant_fast(ss_chunk_elem(raw[v], j), s, r);
            } else { /* the row's last, partial chunk */
#pragma unroll
                for (int j = 0; j < 8; j++) q.e[j] = 8 * (int64_t)c + j < K ? Q::quant(ss_chunk_elem(raw[v], j), s) : (T)0;
            }
            if constexpr (OUT == SS_QO_SLIDE8) ss_store_windows8<Q>(orow + 12 * c, q);
            else ss_store_codes8<Q>(dst + 8 * c, q);
        }
    }
    if constexpr (OUT == SS_QO_SLIDE8) { /* zeros in [12 groups, K_slid), 4 codes at a time */
        for (int64_t p = 12 * (int64_t)chunks + 4 * (int64_t)threadIdx.x; p < g.K_slid; p += 4 * (int64_t)blockDim.x) {
            if constexpr (sizeof(T) == 1) *reinterpret_cast<uint32_t *>(orow + p) = 0u;
            else *reinterpret_cast<uint2 *>(orow + p) = make_uint2(0, 0);
        }
        return;
    }
    /* zeros after the row's last chunk: output padding, or the slide's last group */
    const int64_t tail_end = OUT == SS_QO_SLIDE ? (g.K_padded + 7) / 8 : K_out / 8;
    for (int64_t c = chunks + (int64_t)threadIdx.x; c < tail_end; c += blockDim.x) ss_store_codes8<Q>(dst + 8 * c, ss_codes8<Q>{});
    if constexpr (OUT == SS_QO_SLIDE) {
        __syncthreads();
        ss_block_slide_row<Q>(codes, g, orow);
    }
}

/* Rows of up to 8 * 512 * SS_QUANT_MAX_V elements. */
#define SS_QUANT_MAX_V 8

template <class Q, int OUT, int V>
static ss_status launch_v(const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out, int64_t K_out,
                          float *scale, const ss_slide_params &g, int threads, cudaStream_t stream, const char *what) {
    typedef typename Q::store T;
    const size_t smem = OUT == SS_QO_SLIDE ? (size_t)ss_gemm_round_up(g.K_padded, 8) * sizeof(T) : 0;
    auto kernel = ss_quant_kernel<Q, OUT, V>;
    if constexpr (OUT == SS_QO_SLIDE) { /* the only user of shared memory beyond the reduction */
        if (smem > 48 * 1024) {
            int dev = 0, max_optin = 0;
            CUDA_TRY(cudaGetDevice(&dev), what);
            CUDA_TRY(cudaDeviceGetAttribute(&max_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev), what);
            if (smem > (size_t)max_optin)
                return ss_fail(SS_ERR_UNSUPPORTED,
                               "%s: quant+slide kernel needs %zu bytes of shared memory for K=%lld, the GPU has %d",
                               what, smem, (long long)K, max_optin);
            CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem), what);
        }
    }
    const int vec_ok = ldx % 8 == 0 && (uintptr_t)x % 16 == 0;
    kernel<<<(unsigned)M_pad, threads, smem, stream>>>((const __nv_bfloat16 *)x, M, K, ldx, (T *)out, K_out, scale, g,
                                                       vec_ok);
    CUDA_TRY_LAUNCH(OUT == SS_QO_PLAIN ? "ss_quant_kernel" : "ss_quant_kernel<slide>", what);
    return SS_OK;
}

/* Picks V (chunks of 8 per thread) so that a block has at most 128 threads
 * where it can: small blocks put many rows in flight per SM, which is what
 * hides the memory latency here; at most 512. */
template <class Q, int OUT>
static ss_status launch_out(const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out, int64_t K_out,
                            float *scale, const ss_slide_params &g, cudaStream_t stream, const char *what) {
    const int64_t chunks = (K + 7) / 8;
    if (chunks > 512 * SS_QUANT_MAX_V)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: quant kernel handles rows of up to %d elements, not K=%lld", what,
                       8 * 512 * SS_QUANT_MAX_V, (long long)K);
    int V = 1;
    while (V < SS_QUANT_MAX_V && (chunks + V - 1) / V > 128) V *= 2;
    int threads = (int)ss_gemm_round_up((chunks + V - 1) / V, 32);
    switch (V) {
    case 1: return launch_v<Q, OUT, 1>(x, M, M_pad, K, ldx, out, K_out, scale, g, threads, stream, what);
    case 2: return launch_v<Q, OUT, 2>(x, M, M_pad, K, ldx, out, K_out, scale, g, threads, stream, what);
    case 4: return launch_v<Q, OUT, 4>(x, M, M_pad, K, ldx, out, K_out, scale, g, threads, stream, what);
    default: return launch_v<Q, OUT, 8>(x, M, M_pad, K, ldx, out, K_out, scale, g, threads, stream, what);
    }
}

/* geom == NULL: not slid. */
template <class Q>
static ss_status launch(const void *x, int64_t M, int64_t M_pad, int64_t K, int64_t ldx, void *out, int64_t K_out,
                        float *scale, const ss_slide_geom *geom, const ss_slide_params &g, cudaStream_t stream,
                        const char *what) {
    if (!geom) return launch_out<Q, SS_QO_PLAIN>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what);
    if (geom->L == 8 && K % 8 == 0)
        return launch_out<Q, SS_QO_SLIDE8>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what);
    return launch_out<Q, SS_QO_SLIDE>(x, M, M_pad, K, ldx, out, K_out, scale, g, stream, what);
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
        return launch<ss_q_int8>(x, M, M_pad, K, ldx, out, K_out, scale, geom, g, stream, what);
    case SS_GEMM_FP8E4M3:
        return launch<ss_q_fp8e4m3>(x, M, M_pad, K, ldx, out, K_out, scale, geom, g, stream, what);
    case SS_GEMM_BF16:
        return launch<ss_q_bf16>(x, M, M_pad, K, ldx, out, K_out, NULL, geom, g, stream, what);
    case SS_GEMM_FP16:
        return launch<ss_q_fp16>(x, M, M_pad, K, ldx, out, K_out, NULL, geom, g, stream, what);
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: no activation quantization for %s", what, ss_gemm_dtype_name(d));
    }
}

/* ---- test hook: quant_fast against quant (see gemm.h) ---- */

template <class Q>
__global__ void ss_quant_selftest_kernel(uint64_t seed, unsigned long long *counts) {
    const int si = blockIdx.y;
    /* absmax: a BF16 from a hash of (seed, si), exponents -30 .. 20; scale 0 is the floor */
    uint64_t h = (seed + (uint64_t)si) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    const float amax = si == 0 ? 0.0f : ldexpf(1.0f + (float)(h & 0x7f) / 128.0f, (int)((h >> 8) % 51) - 30);
    const float s = ss_act_scale(amax, Q::qmax), r = __frcp_rn(s);
    unsigned long long checked = 0, bad = 0;
    for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < 65536; b += gridDim.x * blockDim.x) {
        const float x = __bfloat162float(__ushort_as_bfloat16((unsigned short)b));
        if (!(fabsf(x) <= fmaxf(amax, 1e-30f))) continue; /* NaN, Inf and |x| > absmax: not a row's value */
        checked++;
        bad += Q::quant_fast(x, s, r) != Q::quant(x, s);
    }
    atomicAdd(&counts[0], checked);
    if (bad) atomicAdd(&counts[1], bad);
}

ss_status ss_gpu_selftest_quant(ss_gemm_ctx *ctx, ss_gemm_dtype d, int n_scales, uint64_t seed,
                                unsigned long long *checked, unsigned long long *mismatched) {
    const char *what = "quant self-test";
    if (n_scales < 1 || n_scales > 65535) return ss_fail(SS_ERR_ARG, "%s: n_scales=%d", what, n_scales);
    if (d != SS_GEMM_INT8 && d != SS_GEMM_FP8E4M3)
        return ss_fail(SS_ERR_ARG, "%s: %s is not a quantized dtype", what, ss_gemm_dtype_name(d));
    unsigned long long *dc = NULL, hc[2] = {0, 0};
    CUDA_TRY(cudaMalloc(&dc, sizeof hc), what);
    cudaError_t e = cudaMemsetAsync(dc, 0, sizeof hc, ctx->stream);
    dim3 grid(64, (unsigned)n_scales);
    if (e == cudaSuccess) {
        if (d == SS_GEMM_INT8) ss_quant_selftest_kernel<ss_q_int8><<<grid, 256, 0, ctx->stream>>>(seed, dc);
        else ss_quant_selftest_kernel<ss_q_fp8e4m3><<<grid, 256, 0, ctx->stream>>>(seed, dc);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpyAsync(hc, dc, sizeof hc, cudaMemcpyDeviceToHost, ctx->stream);
    if (e == cudaSuccess) e = cudaStreamSynchronize(ctx->stream);
    cudaFree(dc);
    CUDA_TRY(e, what);
    *checked = hc[0];
    *mismatched = hc[1];
    return SS_OK;
}
