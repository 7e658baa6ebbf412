/* What GPU this machine has (through the GEMM layer's ss_gpu_info_get). The
 * pipeline never calls this itself (it must not initialise CUDA: a device
 * fault in a job would take it down); it runs `slidesparse gpu-info` as a
 * child process and reads the JSON line that prints. */
#ifndef SS_PIPELINE_GPU_PROBE_H
#define SS_PIPELINE_GPU_PROBE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ss_device_probe {
    int available;           /* a CUDA device answered */
    char reason[256];        /* when not available: "no CUDA device (...)" */
    char name[256];          /* e.g. "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor;  /* compute capability */
    int64_t memory_bytes;
    int device_count, sm_count;
    int runtime_version;     /* CUDA runtime, e.g. 13000 */
    int driver_version;      /* what the driver supports, e.g. 13000; 0 = no driver */
    int64_t cublaslt_version;/* e.g. 130100 */
    int cusparselt_version;  /* e.g. 800 = 0.8.0; 0 if it did not load */
    char toolchain[256];     /* ss_toolchain_desc */
    char toolchain_tag[128]; /* ss_toolchain_tag_lib: with the cuSPARSELt version that loaded */
    char cuda_archs[256];    /* the architectures the build compiled (gemm/arch.h), "" without CUDA */
} ss_device_probe;

/* Asks device 0. Never fails: a machine without a device says why in reason. */
void ss_device_probe_run(ss_device_probe *g);

/* Short hardware name for result folders: "<name without NVIDIA/GeForce, spaces as ->_cc<major><minor>",
 * e.g. "H100-80GB-HBM3_cc90"; "CPU" without a device. */
void ss_device_hw_tag(const ss_device_probe *g, char *out, size_t cap);

json_t *ss_device_probe_to_json(const ss_device_probe *g);
/* Reads what ss_device_probe_to_json wrote; fields that are absent stay zero. */
ss_status ss_device_probe_from_json(const json_t *j, ss_device_probe *g);

#endif
