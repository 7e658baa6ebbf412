/* GPU probe through the CUDA runtime API (plain C; the runtime header is C). */
#include "pipeline/gpu_probe.h"

#include <stdio.h>
#include <string.h>

#include "bench/throughput_results.h"

#ifdef SS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

void ss_gpu_probe(ss_gpu_info *g) {
    memset(g, 0, sizeof *g);
    ss_toolchain_desc(g->toolchain, sizeof g->toolchain);
    ss_toolchain_tag(g->toolchain_tag, sizeof g->toolchain_tag);
#ifndef SS_HAVE_CUDA
    snprintf(g->reason, sizeof g->reason, "not built with CUDA");
#else
    cudaRuntimeGetVersion(&g->runtime_version);
    cudaDriverGetVersion(&g->driver_version);
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        snprintf(g->reason, sizeof g->reason, "no CUDA device (%s)",
                 g->driver_version == 0 ? "no NVIDIA driver"
                 : e != cudaSuccess     ? cudaGetErrorString(e)
                                        : "the driver lists none");
        return;
    }
    struct cudaDeviceProp p;
    e = cudaGetDeviceProperties(&p, 0);
    if (e != cudaSuccess) {
        snprintf(g->reason, sizeof g->reason, "no CUDA device (device 0: %s)", cudaGetErrorString(e));
        return;
    }
    g->available = 1;
    g->device_count = n;
    snprintf(g->name, sizeof g->name, "%s", p.name);
    g->cc_major = p.major;
    g->cc_minor = p.minor;
    g->memory_bytes = (int64_t)p.totalGlobalMem;
#endif
}

void ss_gpu_hw_tag(const ss_gpu_info *g, char *out, size_t cap) {
    if (!g->available) {
        snprintf(out, cap, "CPU");
        return;
    }
    char name[256];
    const char *s = g->name;
    if (!strncmp(s, "NVIDIA ", 7)) s += 7;
    if (!strncmp(s, "GeForce ", 8)) s += 8;
    size_t k = 0;
    for (; *s && k + 1 < sizeof name; s++) {
        char c = *s;
        int word = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (word) name[k++] = c;
        else if (k > 0 && name[k - 1] != '-') name[k++] = '-';
    }
    while (k > 0 && name[k - 1] == '-') k--;
    name[k] = '\0';
    snprintf(out, cap, "%s_cc%d%d", k ? name : "GPU", g->cc_major, g->cc_minor);
}

json_t *ss_gpu_info_to_json(const ss_gpu_info *g) {
    return json_pack("{s:b, s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:i, s:s, s:s}", "available", g->available, "reason",
                     g->reason, "name", g->name, "cc_major", g->cc_major, "cc_minor", g->cc_minor, "memory_bytes",
                     (json_int_t)g->memory_bytes, "device_count", g->device_count, "runtime_version",
                     g->runtime_version, "driver_version", g->driver_version, "toolchain", g->toolchain,
                     "toolchain_tag", g->toolchain_tag);
}

static void copy_str(const json_t *j, const char *key, char *out, size_t cap) {
    const char *s = json_string_value(json_object_get(j, key));
    if (s) snprintf(out, cap, "%s", s);
}

ss_status ss_gpu_info_from_json(const json_t *j, ss_gpu_info *g) {
    memset(g, 0, sizeof *g);
    if (!json_is_object(j)) return ss_fail(SS_ERR_FORMAT, "gpu info: not a JSON object");
    g->available = json_is_true(json_object_get(j, "available"));
    copy_str(j, "reason", g->reason, sizeof g->reason);
    copy_str(j, "name", g->name, sizeof g->name);
    copy_str(j, "toolchain", g->toolchain, sizeof g->toolchain);
    copy_str(j, "toolchain_tag", g->toolchain_tag, sizeof g->toolchain_tag);
    g->cc_major = (int)json_integer_value(json_object_get(j, "cc_major"));
    g->cc_minor = (int)json_integer_value(json_object_get(j, "cc_minor"));
    g->memory_bytes = (int64_t)json_integer_value(json_object_get(j, "memory_bytes"));
    g->device_count = (int)json_integer_value(json_object_get(j, "device_count"));
    g->runtime_version = (int)json_integer_value(json_object_get(j, "runtime_version"));
    g->driver_version = (int)json_integer_value(json_object_get(j, "driver_version"));
    return SS_OK;
}
