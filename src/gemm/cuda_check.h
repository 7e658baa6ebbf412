/* Turning CUDA, cuBLASLt and cuSPARSELt statuses into ss_status messages
 * that name the call and what it was doing ("linear 'q' int8 cusparselt
 * M=4096 N=2560 K=3840"). Internal to the .cu files of this folder. */
#ifndef SS_GEMM_CUDA_CHECK_H
#define SS_GEMM_CUDA_CHECK_H

#include <cuda_runtime.h>

extern "C" {
#include "core/status.h"
}

static inline ss_status ss_cuda_status(cudaError_t e, const char *call, const char *what) {
    if (e == cudaSuccess) return SS_OK;
    ss_status code = (e == cudaErrorMemoryAllocation) ? SS_ERR_NOMEM : SS_ERR_CUDA;
    return ss_fail(code, "%s: %s failed: %s (%s)", what, call, cudaGetErrorName(e), cudaGetErrorString(e));
}

/* CUDA_TRY(cudaMalloc(&p, n), what): returns from the calling function on error. */
#define CUDA_TRY(call, what) SS_TRY(ss_cuda_status((call), #call, (what)))

/* After a kernel launch: the launch error, if any (not asynchronous faults). */
#define CUDA_TRY_LAUNCH(kernel_name, what) SS_TRY(ss_cuda_status(cudaGetLastError(), kernel_name, (what)))

#endif
