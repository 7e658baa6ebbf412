/* Inside the GPU engine (engine_cuda.c, model_cuda.c; not a public header):
 * the model's weights on the device and the views the kernels read them
 * through. */
#ifndef SS_ENGINE_CUDA_MODEL_H
#define SS_ENGINE_CUDA_MODEL_H

#include <cuda_runtime_api.h>

#include "core/status.h"
#include "engine/cuda/engine_cuda.h"
#include "engine/cuda/kernels.h"

static inline ss_status ss_engine_cuda_ok(cudaError_t e, const char *call) {
    if (e == cudaSuccess) return SS_OK;
    return ss_fail(e == cudaErrorMemoryAllocation ? SS_ERR_NOMEM : SS_ERR_CUDA, "engine: %s failed: %s (%s)", call,
                   cudaGetErrorName(e), cudaGetErrorString(e));
}
#define CU(call) SS_TRY(ss_engine_cuda_ok((call), #call))


typedef struct dev_linear {
    ss_gemm_weight *w;
    ss_gemm_weight_info info;
    ss_gemm_out mode;   /* output mode this engine asks for */
    ss_dtype act_dtype; /* of the input operand (BF16, I8, F8_E4M3) */
    ss_dtype acc_dtype; /* of the ACC output */
    int quantized;
    const float *sw, *bias; /* device [N_pad], [N] (owned by the GEMM layer) */
} dev_linear;

typedef struct dev_layer {
    dev_linear qkv, o, gate_up, down;
    const float *attn_norm, *mlp_norm, *attn_sub, *ffn_sub; /* device; sub-norms NULL unless BitNet */
} dev_layer;

struct ss_cuda_model {
    const ss_model *m;
    ss_cuda_model_opts o;
    ss_gemm_ctx *gemm;
    void *stream;
    dev_layer *layers;
    dev_linear lm_head;
    uint16_t *embed;   /* [vocab, hidden] BF16 */
    float *vectors;    /* every norm weight, one allocation */
    const float *final_norm;
    size_t weight_bytes;
};

/* Device memory of `bytes` (at least 16) added to *total (when given). */
ss_status ss_dev_alloc(void **p, size_t bytes, size_t *total);
/* Bytes of one output element of d's GEMM (2 unless it writes accumulators). */
size_t ss_dev_linear_out_elem_size(const dev_linear *d);
/* How a consumer reads d's GEMM output in buf (sx: the activation scales of the step). */
ss_yview ss_dev_linear_yview(const dev_linear *d, const void *buf, const float *sx);
/* The GEMM input view: quantized (and slid) activations xq with their scales sx. */
ss_xview ss_dev_linear_xview(const dev_linear *d, void *xq, float *sx);

#endif
