// Row-wise kernels: one block per token row builds the row in shared memory
// (embedding gather, residual add, attention output or gated activation),
// applies RMSNorm, and writes the next GEMM's operand: BF16, or quantized per
// token (+ slid) with quant_device.cuh's element functions. One read of the
// inputs, one write of the operand: no BF16 round trip between the norm and
// the quantizer.
//
// Precision (as the CPU reference, engine/forward_cpu.c):
//   sum of squares in double, inv = 1 / sqrt(ss / n + eps) in double,
//   y = (float)(x * inv) * w  (a double product rounded to float, then a float product).
#include <string.h>

#include "engine/cuda/common.cuh"

namespace {

enum RowSource { SRC_EMBED = 0, SRC_ADD, SRC_PLAIN, SRC_ACT };

struct RowArgs {
    int M, n;
    const int32_t *tokens;  // SRC_EMBED: [M]
    const uint16_t *embed;  // SRC_EMBED: [vocab, n] BF16
    void *x;                // residual [M, n]: SRC_EMBED (written), SRC_ADD (read, written back when write_x)
    int x_bf16;             // x is BF16 (rounded after every add), else float
    int write_x;
    ss_yview delta;         // SRC_ADD
    const int32_t *rows;    // SRC_ADD: source row of output row i (NULL: i)
    const float *xin;       // SRC_PLAIN: [M, n]
    ss_yview gate_up;       // SRC_ACT: [M, 2n]
    int act;                // SRC_ACT: 0 relu^2, 1 silu
    const float *w;         // norm weight [n] or NULL
    int w16;                // w is 16-byte aligned
    double eps;
    ss_xview out;
    ss_slide_params slide;
};

constexpr int ROW_THREADS = 256;

__device__ __forceinline__ float act_fn(int act, float g) {
    // relu^2 exactly as the CPU (g * g for g > 0); silu x / (1 + exp(-x)) in float
    return act == 0 ? (g > 0.0f ? __fmul_rn(g, g) : 0.0f) : __fdiv_rn(g, __fadd_rn(1.0f, expf(-g)));
}

// Fills row[0, n) from the source; returns this thread's sum of squares.
template <int SRC>
__device__ __forceinline__ double build_row(const RowArgs &a, int i, float *row) {
    double ss = 0.0;
    const int n = a.n;
    const int src_row = (SRC == SRC_ADD && a.rows) ? a.rows[i] : i;
    for (int j = threadIdx.x * 4; j < n; j += blockDim.x * 4) {
        float v[4];
        if (SRC == SRC_EMBED) {
            const int64_t tok = a.tokens[i];
            uint2 u = *(const uint2 *)(a.embed + tok * n + j);
            v[0] = __uint_as_float(u.x << 16), v[1] = __uint_as_float(u.x & 0xffff0000u);
            v[2] = __uint_as_float(u.y << 16), v[3] = __uint_as_float(u.y & 0xffff0000u);
            if (a.x_bf16) *(uint2 *)((uint16_t *)a.x + (int64_t)i * n + j) = u; // BF16 already
            else *(float4 *)((float *)a.x + (int64_t)i * n + j) = make_float4(v[0], v[1], v[2], v[3]);
        } else if (SRC == SRC_ADD) {
            float xv[4], d[4];
            if (a.x_bf16) {
                const uint2 u = *(const uint2 *)((const uint16_t *)a.x + (int64_t)src_row * n + j);
                xv[0] = __uint_as_float(u.x << 16), xv[1] = __uint_as_float(u.x & 0xffff0000u);
                xv[2] = __uint_as_float(u.y << 16), xv[3] = __uint_as_float(u.y & 0xffff0000u);
            } else {
                const float4 f = *(const float4 *)((const float *)a.x + (int64_t)src_row * n + j);
                xv[0] = f.x, xv[1] = f.y, xv[2] = f.z, xv[3] = f.w;
            }
            yview_load4(a.delta, src_row, j, d);
#pragma unroll
            for (int e = 0; e < 4; e++) {
                v[e] = __fadd_rn(xv[e], d[e]);
                if (a.x_bf16) v[e] = round_bf16(v[e]);
            }
            if (a.write_x) {
                if (a.x_bf16)
                    *(uint2 *)((uint16_t *)a.x + (int64_t)src_row * n + j) =
                        make_uint2(f32_to_bf16_bits(v[0]) | (uint32_t)f32_to_bf16_bits(v[1]) << 16,
                                   f32_to_bf16_bits(v[2]) | (uint32_t)f32_to_bf16_bits(v[3]) << 16);
                else *(float4 *)((float *)a.x + (int64_t)src_row * n + j) = make_float4(v[0], v[1], v[2], v[3]);
            }
        } else if (SRC == SRC_PLAIN) {
            float4 xv = *(const float4 *)(a.xin + (int64_t)i * n + j);
            v[0] = xv.x, v[1] = xv.y, v[2] = xv.z, v[3] = xv.w;
        } else {
            float g[4], u[4];
            yview_load4(a.gate_up, i, j, g);
            yview_load4(a.gate_up, i, n + j, u);
#pragma unroll
            for (int e = 0; e < 4; e++) v[e] = __fmul_rn(act_fn(a.act, g[e]), u[e]);
        }
        *(float4 *)(row + j) = make_float4(v[0], v[1], v[2], v[3]);
#pragma unroll
        for (int e = 0; e < 4; e++) ss += (double)v[e] * (double)v[e];
    }
    return ss;
}

// Normalises this thread's elements of row in place; returns their absmax.
__device__ __forceinline__ float norm_row(const RowArgs &a, float *row, double ss, double *red) {
    float amax = 0.0f;
    if (a.w) {
        const double total = block_sum_d(ss, red);
        const double inv = 1.0 / sqrt(total / (double)a.n + a.eps);
        for (int j = threadIdx.x * 4; j < a.n; j += blockDim.x * 4) {
            // one 16-byte load of w where it is aligned: 4 scalar loads cost the L1 4x the
            // wavefronts, and L1 throughput was at 74%, beside 73% issue (ncu, H200, 2026-12-03)
            const float4 w4 = a.w16 ? *(const float4 *)(a.w + j) : make_float4(a.w[j], a.w[j + 1], a.w[j + 2], a.w[j + 3]);
            const float wv[4] = {w4.x, w4.y, w4.z, w4.w};
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float y = __fmul_rn((float)__dmul_rn((double)row[j + e], inv), wv[e]);
                row[j + e] = y;
                amax = fmaxf(amax, fabsf(y));
            }
        }
    } else {
        for (int j = threadIdx.x * 4; j < a.n; j += blockDim.x * 4)
#pragma unroll
            for (int e = 0; e < 4; e++) amax = fmaxf(amax, fabsf(row[j + e]));
    }
    return amax;
}

// Writes row (published to the block) to output row i: 4 elements per
// thread per step, plain or one slid window at a time. Codes come from
// quant_fast (gemm/quant_device.cuh), which equals quant bit for bit.
template <class Q>
__device__ __forceinline__ void write_row(const RowArgs &a, int64_t i, const float *row, float s) {
    typedef typename Q::store T;
    T *out = (T *)a.out.data + i * a.out.ld;
    const int n = a.n;
    const float r = __frcp_rn(s); // quant_fast: x * (1/s), exact (|row| <= the absmax s came from)
    if (!a.out.slid) {
        for (int64_t j = threadIdx.x * 4; j < a.out.ld; j += blockDim.x * 4) {
            T q[4];
            if (j + 4 <= n) {
                float4 v = *(const float4 *)(row + j);
                q[0] = Q::quant_fast(v.x, s, r), q[1] = Q::quant_fast(v.y, s, r), q[2] = Q::quant_fast(v.z, s, r), q[3] = Q::quant_fast(v.w, s, r);
            } else {
#pragma unroll
                for (int e = 0; e < 4; e++) q[e] = j + e < n ? Q::quant_fast(row[j + e], s, r) : (T)0;
            }
            if (sizeof(T) == 1) *(uint32_t *)(out + j) = *(const uint32_t *)q;
            else *(uint2 *)(out + j) = *(const uint2 *)q;
        }
        return;
    }
    // Slid: each element is quantized once, then placed in every window that
    // holds it (a 2:8 row repeats half its codes). Quantizing per window, as
    // before, cost the FP8 2_8 prefill 15 ms a pass over dense in these
    // kernels (H200, 2026-12-02, docs/BENCHMARKS.md).
    const ss_slide_params &g = a.slide;
    int64_t written; // slid columns stored; zeros after them up to the stride
    if (g.L == 8 && n % 8 == 0) {
        // 2:8: a thread's 8 elements are one group, whose 3 windows it stores itself
        for (int64_t c = threadIdx.x; c < g.groups; c += blockDim.x) {
            const float4 v0 = *(const float4 *)(row + 8 * c), v1 = *(const float4 *)(row + 8 * c + 4);
            ss_codes8<Q> q;
            q.e[0] = Q::quant_fast(v0.x, s, r), q.e[1] = Q::quant_fast(v0.y, s, r);
            q.e[2] = Q::quant_fast(v0.z, s, r), q.e[3] = Q::quant_fast(v0.w, s, r);
            q.e[4] = Q::quant_fast(v1.x, s, r), q.e[5] = Q::quant_fast(v1.y, s, r);
            q.e[6] = Q::quant_fast(v1.z, s, r), q.e[7] = Q::quant_fast(v1.w, s, r);
            ss_store_windows8<Q>(out + 12 * c, q);
        }
        written = 12 * g.groups;
    } else {
        // any 2:L: the codes to shared memory after the row (zero in [n, K_padded)), then the window gather
        T *codes = (T *)(row + n);
        for (int64_t j = threadIdx.x * 4; j < g.K_padded; j += blockDim.x * 4) {
            T q[4];
            if (j + 4 <= n) {
                const float4 v = *(const float4 *)(row + j);
                q[0] = Q::quant_fast(v.x, s, r), q[1] = Q::quant_fast(v.y, s, r), q[2] = Q::quant_fast(v.z, s, r), q[3] = Q::quant_fast(v.w, s, r);
            } else {
#pragma unroll
                for (int e = 0; e < 4; e++) q[e] = j + e < n ? Q::quant_fast(row[j + e], s, r) : (T)0;
            }
            if (sizeof(T) == 1) *(uint32_t *)(codes + j) = *(const uint32_t *)q;
            else *(uint2 *)(codes + j) = *(const uint2 *)q;
        }
        __syncthreads();
        ss_block_slide_row<Q>(codes, g, out);
        written = g.K_slid;
    }
    for (int64_t p = written + threadIdx.x * 4; p < a.out.ld; p += blockDim.x * 4) {
        if (sizeof(T) == 1) *(uint32_t *)(out + p) = 0u;
        else *(uint2 *)(out + p) = make_uint2(0u, 0u);
    }
}

template <class Q>
__device__ __forceinline__ void write_pad_row(const RowArgs &a, int64_t i) {
    typedef typename Q::store T;
    T *out = (T *)a.out.data + i * a.out.ld;
    for (int64_t j = threadIdx.x * 4; j < a.out.ld; j += blockDim.x * 4) {
        if (sizeof(T) == 1) *(uint32_t *)(out + j) = 0u;
        else *(uint2 *)(out + j) = make_uint2(0u, 0u);
    }
    if (Q::scaled && threadIdx.x == 0) a.out.scale[i] = 1.0f;
}

template <int SRC, class Q>
__global__ void __launch_bounds__(ROW_THREADS) rowwise_kernel(RowArgs a) {
    extern __shared__ float4 smem4[];
    float *row = (float *)smem4; // [n]
    __shared__ double red_d[32];
    __shared__ float red_f[32];
    const int i = blockIdx.x;
    if (i >= a.M) { // GEMM padding row
        write_pad_row<Q>(a, i);
        return;
    }
    const double ss = build_row<SRC>(a, i, row);
    const float amax = norm_row(a, row, ss, red_d);
    float s = 1.0f;
    if (Q::scaled) {
        s = ss_act_scale(ss_block_max(amax, red_f), Q::qmax); // the max's barriers publish row
        if (threadIdx.x == 0) a.out.scale[i] = s;
    } else {
        __syncthreads();
    }
    write_row<Q>(a, i, row, s);
}

template <int SRC>
ss_status launch_src(const RowArgs &a, void *stream, const char *name) {
    if (a.n % 4 || a.out.ld % 4 || a.M < 0)
        return ss_fail(SS_ERR_ARG, "%s: row length %d and output stride %lld must be multiples of 4 (M=%d)", name, a.n,
                       (long long)a.out.ld, a.M);
    if (a.out.slid ? a.out.ld < a.out.geom.K_slid || a.out.geom.K != a.n : a.out.ld < a.n)
        return ss_fail(SS_ERR_ARG, "%s: output stride %lld is too small for a row of %d (%s)", name,
                       (long long)a.out.ld, a.n, a.out.slid ? "slid" : "plain");
    if (a.M == 0) return SS_OK;
    const int64_t M_pad = ss_pad_rows(a.M);
    // the row as floats; slid rows other than 2:8 also their codes after it (K_padded, a multiple of 4)
    const size_t codes = a.out.slid && !(a.slide.L == 8 && a.n % 8 == 0)
                             ? (size_t)ss_gemm_round_up(a.slide.K_padded, 4) * ss_dtype_size(a.out.dtype) : 0;
    const size_t smem = (size_t)a.n * sizeof(float) + codes;
    cudaStream_t st = ss_stream(stream);
    switch (a.out.dtype) {
    case SS_DT_BF16:
        if (smem > 48 * 1024)
            cudaFuncSetAttribute(rowwise_kernel<SRC, ss_q_bf16>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        rowwise_kernel<SRC, ss_q_bf16><<<(unsigned)M_pad, ROW_THREADS, smem, st>>>(a);
        break;
    case SS_DT_I8:
        if (smem > 48 * 1024)
            cudaFuncSetAttribute(rowwise_kernel<SRC, ss_q_int8>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        rowwise_kernel<SRC, ss_q_int8><<<(unsigned)M_pad, ROW_THREADS, smem, st>>>(a);
        break;
    case SS_DT_F8_E4M3:
        if (smem > 48 * 1024)
            cudaFuncSetAttribute(rowwise_kernel<SRC, ss_q_fp8e4m3>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 (int)smem);
        rowwise_kernel<SRC, ss_q_fp8e4m3><<<(unsigned)M_pad, ROW_THREADS, smem, st>>>(a);
        break;
    default:
        return ss_fail(SS_ERR_ARG, "%s: output dtype %s is not BF16, I8 or F8_E4M3", name, ss_dtype_name(a.out.dtype));
    }
    return ss_launch_status(name);
}

RowArgs base_args(int M, int n, const float *w, double eps, const ss_xview *out) {
    RowArgs a;
    memset(&a, 0, sizeof a);
    a.M = M;
    a.n = n;
    a.w = w;
    a.w16 = ((uintptr_t)w & 15u) == 0;
    a.eps = eps;
    a.out = *out;
    if (out->slid) a.slide = ss_slide_params_of(&out->geom);
    return a;
}

} // namespace

static ss_status residual_dtype(ss_dtype t, const char *name, int *bf16) {
    if (t != SS_DT_F32 && t != SS_DT_BF16)
        return ss_fail(SS_ERR_ARG, "%s: residual dtype %s is not F32 or BF16", name, ss_dtype_name(t));
    *bf16 = t == SS_DT_BF16;
    return SS_OK;
}

extern "C" ss_status ss_k_embed_norm(const int32_t *tokens, const uint16_t *embed, int M, int n, void *x,
                                     ss_dtype x_dtype, const float *w, double eps, const ss_xview *out, void *stream) {
    int bf16 = 0;
    SS_TRY(residual_dtype(x_dtype, "embed_norm", &bf16)); /* before anything is read through the arguments */
    if (!out) return ss_fail(SS_ERR_ARG, "embed_norm: no output view");
    RowArgs a = base_args(M, n, w, eps, out);
    a.x_bf16 = bf16;
    a.tokens = tokens;
    a.embed = embed;
    a.x = x;
    return launch_src<SRC_EMBED>(a, stream, "embed_norm");
}

extern "C" ss_status ss_k_add_norm(void *x, ss_dtype x_dtype, const ss_yview *delta, const int32_t *rows, int M, int n,
                                   int write_x, const float *w, double eps, const ss_xview *out, void *stream) {
    int bf16 = 0;
    SS_TRY(residual_dtype(x_dtype, "add_norm", &bf16));
    if (!out || !delta) return ss_fail(SS_ERR_ARG, "add_norm: no output or delta view");
    RowArgs a = base_args(M, n, w, eps, out);
    a.x_bf16 = bf16;
    a.x = x;
    a.delta = *delta;
    a.rows = rows;
    a.write_x = write_x;
    if (delta->ld % 4) return ss_fail(SS_ERR_ARG, "add_norm: delta stride %lld is not a multiple of 4", (long long)delta->ld);
    return launch_src<SRC_ADD>(a, stream, "add_norm");
}

extern "C" ss_status ss_k_norm(const float *xin, int M, int n, const float *w, double eps, const ss_xview *out,
                               void *stream) {
    RowArgs a = base_args(M, n, w, eps, out);
    a.xin = xin;
    return launch_src<SRC_PLAIN>(a, stream, "norm");
}

extern "C" ss_status ss_k_act_norm(const ss_yview *gate_up, int M, int I, int act, const float *w, double eps,
                                   const ss_xview *out, void *stream) {
    RowArgs a = base_args(M, I, w, eps, out);
    a.gate_up = *gate_up;
    a.act = act;
    if (gate_up->ld % 4) return ss_fail(SS_ERR_ARG, "act_norm: gate_up stride %lld is not a multiple of 4", (long long)gate_up->ld);
    return launch_src<SRC_ACT>(a, stream, "act_norm");
}
