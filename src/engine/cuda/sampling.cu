// Greedy sampling and the small bookkeeping kernels of a decode step.
#include <math.h>

#include "engine/cuda/common.cuh"

namespace {

// The better of two candidates: larger value; NaN loses to any number; ties
// and two NaNs go to the lower index (ss_argmax's rule).
__device__ __forceinline__ void better(float &v, int &i, float v2, int i2) {
    const bool nan1 = v != v, nan2 = v2 != v2;
    bool take;
    if (nan1 || nan2) take = nan1 && (!nan2 || i2 < i);
    else take = v2 > v || (v2 == v && i2 < i);
    if (take) v = v2, i = i2;
}

constexpr int ARGMAX_THREADS = 1024;

__global__ void __launch_bounds__(ARGMAX_THREADS) argmax_kernel(const uint16_t *logits, int64_t ld, int vocab,
                                                                int32_t *ids) {
    const uint16_t *row = logits + (int64_t)blockIdx.x * ld;
    float v = __int_as_float(0x7fc00000); // NaN: loses to every number
    int idx = 0x7fffffff;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) better(v, idx, bf16_bits_to_f32(row[j]), j);
    for (int o = 16; o > 0; o >>= 1) {
        float v2 = __shfl_xor_sync(0xffffffffu, v, o);
        int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
        better(v, idx, v2, i2);
    }
    __shared__ float sv[32];
    __shared__ int si[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sv[warp] = v, si[warp] = idx;
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x >> 5;
        v = lane < nw ? sv[lane] : __int_as_float(0x7fc00000);
        idx = lane < nw ? si[lane] : 0x7fffffff;
        for (int o = 16; o > 0; o >>= 1) {
            float v2 = __shfl_xor_sync(0xffffffffu, v, o);
            int i2 = __shfl_xor_sync(0xffffffffu, idx, o);
            better(v, idx, v2, i2);
        }
        if (lane == 0) ids[blockIdx.x] = idx < vocab ? idx : 0;
    }
}

constexpr int NLL_THREADS = 1024;

// Block-wide reductions over NLL_THREADS threads (max of floats, sum of doubles).
__device__ float block_max(float v, float *sh) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x >> 5) ? sh[lane] : -INFINITY;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    return v;
}

__device__ double block_sum(double v, double *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < (int)(blockDim.x >> 5) ? sh[lane] : 0.0;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// -ln softmax(row)[target] per row, as ss_nll_from_logits: the max in
// float, exp(l - max) and the sum in double. A NaN logit makes it NaN.
__global__ void __launch_bounds__(NLL_THREADS) row_nll_kernel(const uint16_t *logits, int64_t ld, int vocab,
                                                              const int32_t *targets, double *out) {
    const uint16_t *row = logits + (int64_t)blockIdx.x * ld;
    __shared__ float shf[32];
    __shared__ double shd[32];
    float m = -INFINITY;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) m = fmaxf(m, bf16_bits_to_f32(row[j]));
    m = block_max(m, shf);
    double s = 0.0;
    for (int j = threadIdx.x; j < vocab; j += blockDim.x) s += exp((double)bf16_bits_to_f32(row[j]) - (double)m);
    s = block_sum(s, shd);
    if (threadIdx.x == 0) out[blockIdx.x] = log(s) + (double)m - (double)bf16_bits_to_f32(row[targets[blockIdx.x]]);
}

__global__ void bf16_to_f32_kernel(const uint16_t *in, int64_t ld, int vocab, float *out) {
    const uint16_t *row = in + (int64_t)blockIdx.y * ld;
    float *o = out + (int64_t)blockIdx.y * vocab;
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < vocab; j += gridDim.x * blockDim.x)
        o[j] = bf16_bits_to_f32(row[j]);
}

__global__ void decode_advance_kernel(const int32_t *ids, int n, int32_t *token, int32_t *pos) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        token[i] = ids[i];
        pos[i] += 1;
    }
}

} // namespace

extern "C" ss_status ss_k_argmax(const uint16_t *logits, int64_t ld, int n_rows, int vocab, int32_t *ids,
                                 void *stream) {
    if (n_rows <= 0) return SS_OK;
    argmax_kernel<<<n_rows, ARGMAX_THREADS, 0, ss_stream(stream)>>>(logits, ld, vocab, ids);
    return ss_launch_status("argmax");
}

extern "C" ss_status ss_k_row_nll(const uint16_t *logits, int64_t ld, int n_rows, int vocab, const int32_t *targets,
                                  double *out, void *stream) {
    if (n_rows <= 0) return SS_OK;
    row_nll_kernel<<<n_rows, NLL_THREADS, 0, ss_stream(stream)>>>(logits, ld, vocab, targets, out);
    return ss_launch_status("row_nll");
}

extern "C" ss_status ss_k_bf16_to_f32(const uint16_t *in, int64_t ld, int n_rows, int vocab, float *out,
                                      void *stream) {
    if (n_rows <= 0) return SS_OK;
    dim3 grid((unsigned)((vocab + 255) / 256 < 64 ? (vocab + 255) / 256 : 64), (unsigned)n_rows);
    bf16_to_f32_kernel<<<grid, 256, 0, ss_stream(stream)>>>(in, ld, vocab, out);
    return ss_launch_status("bf16_to_f32");
}

extern "C" ss_status ss_k_decode_advance(const int32_t *ids, int n, int32_t *token, int32_t *pos, void *stream) {
    if (n <= 0) return SS_OK;
    decode_advance_kernel<<<(n + 255) / 256, 256, 0, ss_stream(stream)>>>(ids, n, token, pos);
    return ss_launch_status("decode_advance");
}
