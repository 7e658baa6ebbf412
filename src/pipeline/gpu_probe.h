/* What GPU this machine has, asked of the CUDA runtime. The pipeline never
 * calls this itself (it must not initialise CUDA: a device fault in a job
 * would take it down); it runs `slidesparse gpu-info` as a child process and
 * reads the JSON line that prints. */
#ifndef SS_PIPELINE_GPU_PROBE_H
#define SS_PIPELINE_GPU_PROBE_H

#include <jansson.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ss_gpu_info {
    int available;          /* a CUDA device answered */
    char reason[256];       /* when not available: "not built with CUDA", "no CUDA device (...)" */
    char name[256];         /* e.g. "NVIDIA H100 80GB HBM3" */
    int cc_major, cc_minor; /* compute capability */
    int64_t memory_bytes;
    int device_count;
    int runtime_version;    /* CUDA runtime, e.g. 13000 */
    int driver_version;     /* what the driver supports, e.g. 13000 */
    char toolchain[256];    /* ss_toolchain_desc */
    char toolchain_tag[128];/* ss_toolchain_tag */
} ss_gpu_info;

/* Asks device 0. Never fails: a machine without a device says why in reason. */
void ss_gpu_probe(ss_gpu_info *g);

/* Short hardware name for result folders: "<name without NVIDIA/GeForce, spaces as ->_cc<major><minor>",
 * e.g. "H100-80GB-HBM3_cc90"; "CPU" without a device. */
void ss_gpu_hw_tag(const ss_gpu_info *g, char *out, size_t cap);

json_t *ss_gpu_info_to_json(const ss_gpu_info *g);
/* Reads what ss_gpu_info_to_json wrote; fields that are absent stay zero. */
ss_status ss_gpu_info_from_json(const json_t *j, ss_gpu_info *g);

#endif
