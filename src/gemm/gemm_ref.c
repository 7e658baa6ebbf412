/* CPU references of the dequant pass and of raw GEMM accumulators. */
#include "gemm/gemm_ref.h"

static float load_acc(ss_dtype t, const void *in, int64_t i) {
    switch (t) {
    case SS_DT_I32: return (float)((const int32_t *)in)[i]; /* round to nearest even, as __int2float_rn */
    case SS_DT_F32: return ((const float *)in)[i];
    case SS_DT_BF16: return ss_bf16_to_f32(((const uint16_t *)in)[i]);
    case SS_DT_F16: return ss_f16_to_f32(((const uint16_t *)in)[i]);
    default: return 0.0f;
    }
}

void ss_dequant_ref(ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N, const float *sx,
                    const float *sw, const float *bias, float *y, int64_t ld_y) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            /* volatile keeps each product rounded to FP32 even where the
             * compiler could contract a*b+c into an FMA */
            volatile float v = load_acc(in_dtype, in, m * ld_in + n);
            if (sx) v = v * sx[m];
            if (sw) v = v * sw[n];
            if (bias) v = v + bias[n];
            y[m * ld_y + n] = ss_round_bf16(v);
        }
}

void ss_gemm_acc_ref(ss_dtype qdtype, const void *xq, const void *w, int64_t M, int64_t N, int64_t K,
                     int32_t *acc_i32, double *acc_f64) {
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            if (qdtype == SS_DT_I8) {
                const int8_t *a = (const int8_t *)xq + m * K, *b = (const int8_t *)w + n * K;
                int32_t acc = 0;
                for (int64_t k = 0; k < K; k++) acc += (int32_t)a[k] * b[k];
                if (acc_i32) acc_i32[m * N + n] = acc;
                if (acc_f64) acc_f64[m * N + n] = acc;
            } else {
                const uint8_t *a = (const uint8_t *)xq + m * K, *b = (const uint8_t *)w + n * K;
                double acc = 0;
                for (int64_t k = 0; k < K; k++) acc += (double)ss_fp8e4m3_to_f32(a[k]) * ss_fp8e4m3_to_f32(b[k]);
                if (acc_f64) acc_f64[m * N + n] = acc;
            }
        }
}
