/* The device: its description, plain memory helpers and event timing. */
#include <cuda_profiler_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/gemm_internal.h"
#include "gemm/lib_version.h"

int ss_gpu_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky "no device" error */
        return 0;
    }
    return n;
}

ss_status ss_gpu_info_get(int device, ss_gpu_info *info) {
    memset(info, 0, sizeof *info);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError();
        return ss_fail(SS_ERR_CUDA, "no CUDA device (cudaGetDeviceCount: %s)",
                       e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    }
    if (device < 0 || device >= n) return ss_fail(SS_ERR_ARG, "CUDA device %d does not exist (%d found)", device, n);
    char what[64];
    snprintf(what, sizeof what, "CUDA device %d", device);
    cudaDeviceProp p;
    CUDA_TRY(cudaGetDeviceProperties(&p, device), what);
    info->device = device;
    snprintf(info->name, sizeof info->name, "%s", p.name);
    info->cc_major = p.major;
    info->cc_minor = p.minor;
    info->sm_count = p.multiProcessorCount;
    info->l2_bytes = (size_t)p.l2CacheSize;
    info->mem_total = p.totalGlobalMem;
    CUDA_TRY(cudaDeviceGetAttribute(&info->clock_khz, cudaDevAttrClockRate, device), what);
    CUDA_TRY(cudaDriverGetVersion(&info->driver_version), what);
    CUDA_TRY(cudaRuntimeGetVersion(&info->runtime_version), what);
    int prev = 0;
    CUDA_TRY(cudaGetDevice(&prev), what);
    CUDA_TRY(cudaSetDevice(device), what);
    size_t free_b = 0, total_b = 0;
    e = cudaMemGetInfo(&free_b, &total_b);
    cudaSetDevice(prev);
    CUDA_TRY(e, what);
    info->mem_free = free_b;
    info->cublaslt_version = cublasLtGetVersion();
    int maj = 0, min = 0, pat = 0;
    if (cusparseLtGetProperty(MAJOR_VERSION, &maj) == CUSPARSE_STATUS_SUCCESS &&
        cusparseLtGetProperty(MINOR_VERSION, &min) == CUSPARSE_STATUS_SUCCESS &&
        cusparseLtGetProperty(PATCH_LEVEL, &pat) == CUSPARSE_STATUS_SUCCESS)
        info->cusparselt_version = SS_CUSPARSELT_VERSION_OF(maj, min, pat);
    return SS_OK;
}

int ss_cusparselt_build_version(void) {
    return SS_CUSPARSELT_VERSION_OF(CUSPARSELT_VER_MAJOR, CUSPARSELT_VER_MINOR, CUSPARSELT_VER_PATCH);
}

ss_status ss_gpu_alloc(size_t bytes, void **ptr) {
    *ptr = NULL;
    char what[64];
    snprintf(what, sizeof what, "allocating %zu bytes on the GPU", bytes);
    CUDA_TRY(cudaMalloc(ptr, bytes ? bytes : 16), what);
    return SS_OK;
}

void ss_gpu_free(void *ptr) {
    if (ptr) cudaFree(ptr);
}

ss_status ss_gpu_upload(void *dst, const void *src, size_t bytes) {
    CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload to the GPU");
    return SS_OK;
}

ss_status ss_gpu_download(void *dst, const void *src, size_t bytes) {
    CUDA_TRY(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download from the GPU");
    return SS_OK;
}

ss_status ss_gpu_memset(void *dst, int byte, size_t bytes) {
    CUDA_TRY(cudaMemset(dst, byte, bytes), "GPU memset");
    return SS_OK;
}

struct ss_gpu_event {
    cudaEvent_t ev;
};

ss_status ss_gpu_event_create(ss_gpu_event **out) {
    *out = NULL;
    ss_gpu_event *e = (ss_gpu_event *)calloc(1, sizeof *e);
    if (!e) return ss_fail(SS_ERR_NOMEM, "no memory for a CUDA event");
    cudaError_t st = cudaEventCreate(&e->ev);
    if (st != cudaSuccess) {
        free(e);
        return ss_cuda_status(st, "cudaEventCreate", "timing");
    }
    *out = e;
    return SS_OK;
}

void ss_gpu_event_destroy(ss_gpu_event *e) {
    if (!e) return;
    cudaEventDestroy(e->ev);
    free(e);
}

ss_status ss_gpu_event_record(ss_gpu_event *e, ss_gemm_ctx *ctx) {
    CUDA_TRY(cudaEventRecord(e->ev, ctx->stream), "timing");
    return SS_OK;
}

ss_status ss_gpu_event_elapsed(ss_gpu_event *start, ss_gpu_event *end, float *ms) {
    CUDA_TRY(cudaEventSynchronize(end->ev), "timing");
    CUDA_TRY(cudaEventElapsedTime(ms, start->ev, end->ev), "timing");
    return SS_OK;
}

ss_status ss_gpu_profiler(int on) {
    CUDA_TRY(on ? cudaProfilerStart() : cudaProfilerStop(), on ? "cudaProfilerStart" : "cudaProfilerStop");
    return SS_OK;
}

/* Test hook (see gemm.h): a store through a pointer no allocation owns. */
__global__ void ss_planted_fault_kernel(int *p) { p[threadIdx.x] = 1; }

ss_status ss_gpu_plant_fault(ss_gemm_ctx *ctx) {
    ss_planted_fault_kernel<<<1, 32, 0, ctx->stream>>>((int *)(uintptr_t)0x10);
    CUDA_TRY(cudaGetLastError(), "planted faulting kernel (test hook)");
    CUDA_TRY(cudaStreamSynchronize(ctx->stream), "planted faulting kernel (test hook)");
    return SS_OK;
}
