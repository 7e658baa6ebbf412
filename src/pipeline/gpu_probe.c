/* GPU probe: the GEMM layer's device description plus what the driver says
 * when there is no device. */
#include "pipeline/gpu_probe.h"

#include <stdio.h>
#include <string.h>

#include "bench/throughput_results.h"
#include "gemm/arch.h"
#include "gemm/gemm.h"

#ifdef SS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

void ss_device_probe_run(ss_device_probe *g) {
    memset(g, 0, sizeof *g);
    ss_toolchain_desc(g->toolchain, sizeof g->toolchain);
    ss_toolchain_tag(g->toolchain_tag, sizeof g->toolchain_tag);
    snprintf(g->cuda_archs, sizeof g->cuda_archs, "%s", ss_gpuarch_built());
#ifdef SS_HAVE_CUDA
    cudaRuntimeGetVersion(&g->runtime_version);
    cudaDriverGetVersion(&g->driver_version);
    if (g->driver_version == 0) {
        snprintf(g->reason, sizeof g->reason, "no CUDA device (no NVIDIA driver)");
        return;
    }
#endif
    ss_gpu_info info;
    if (ss_gpu_info_get(0, &info) != SS_OK) {
        snprintf(g->reason, sizeof g->reason, "%s", ss_errmsg());
        ss_clear_error();
        return;
    }
    g->available = 1;
    g->device_count = ss_gpu_count();
    snprintf(g->name, sizeof g->name, "%s", info.name);
    g->cc_major = info.cc_major;
    g->cc_minor = info.cc_minor;
    g->memory_bytes = (int64_t)info.mem_total;
    g->sm_count = info.sm_count;
    g->runtime_version = info.runtime_version;
    g->driver_version = info.driver_version;
    g->cublaslt_version = (int64_t)info.cublaslt_version;
    g->cusparselt_version = info.cusparselt_version;
    ss_toolchain_tag_lib(info.cusparselt_version, g->toolchain_tag, sizeof g->toolchain_tag);
}

void ss_device_hw_tag(const ss_device_probe *g, char *out, size_t cap) {
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

json_t *ss_device_probe_to_json(const ss_device_probe *g) {
    return json_pack("{s:b, s:s, s:s, s:i, s:i, s:I, s:i, s:i, s:i, s:i, s:I, s:i, s:s, s:s, s:s}", "available",
                     g->available, "reason", g->reason, "name", g->name, "cc_major", g->cc_major, "cc_minor",
                     g->cc_minor, "memory_bytes", (json_int_t)g->memory_bytes, "device_count", g->device_count,
                     "sm_count", g->sm_count, "runtime_version", g->runtime_version, "driver_version",
                     g->driver_version, "cublaslt_version", (json_int_t)g->cublaslt_version, "cusparselt_version",
                     g->cusparselt_version, "toolchain", g->toolchain, "toolchain_tag", g->toolchain_tag,
                     "cuda_archs", g->cuda_archs);
}

static void copy_str(const json_t *j, const char *key, char *out, size_t cap) {
    const char *s = json_string_value(json_object_get(j, key));
    if (s) snprintf(out, cap, "%s", s);
}

ss_status ss_device_probe_from_json(const json_t *j, ss_device_probe *g) {
    memset(g, 0, sizeof *g);
    if (!json_is_object(j)) return ss_fail(SS_ERR_FORMAT, "gpu info: not a JSON object");
    g->available = json_is_true(json_object_get(j, "available"));
    copy_str(j, "reason", g->reason, sizeof g->reason);
    copy_str(j, "name", g->name, sizeof g->name);
    copy_str(j, "toolchain", g->toolchain, sizeof g->toolchain);
    copy_str(j, "toolchain_tag", g->toolchain_tag, sizeof g->toolchain_tag);
    copy_str(j, "cuda_archs", g->cuda_archs, sizeof g->cuda_archs);
    g->cc_major = (int)json_integer_value(json_object_get(j, "cc_major"));
    g->cc_minor = (int)json_integer_value(json_object_get(j, "cc_minor"));
    g->memory_bytes = (int64_t)json_integer_value(json_object_get(j, "memory_bytes"));
    g->device_count = (int)json_integer_value(json_object_get(j, "device_count"));
    g->sm_count = (int)json_integer_value(json_object_get(j, "sm_count"));
    g->runtime_version = (int)json_integer_value(json_object_get(j, "runtime_version"));
    g->driver_version = (int)json_integer_value(json_object_get(j, "driver_version"));
    g->cublaslt_version = (int64_t)json_integer_value(json_object_get(j, "cublaslt_version"));
    g->cusparselt_version = (int)json_integer_value(json_object_get(j, "cusparselt_version"));
    return SS_OK;
}
