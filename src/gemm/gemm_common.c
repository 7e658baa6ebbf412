/* Host-side rules of the GPU linear layer: names, dtype mapping, which
 * backend x dtype x output mode exists and where it is fused. No CUDA here,
 * so the CLI, the benchmarks' skip logic and the CPU tests share it. */
#include <stdlib.h>
#include <string.h>

#include "gemm/gemm.h"
#include "gemm/arch.h"
#include "gemm/lib_version.h"

static const char *const backend_names[SS_BACKEND_COUNT] = {"cublaslt", "cusparselt", "ours", "ours_dense"};
static const char *const dtype_names[SS_GEMM_DTYPE_COUNT] = {"bf16", "fp16", "int8", "fp8e4m3", "fp4e2m1"};
static const char *const out_names[SS_GEMM_OUT_COUNT] = {"acc", "bf16_channel", "bf16", "bf16_acc"};

const char *ss_backend_name(ss_backend b) { return (unsigned)b < SS_BACKEND_COUNT ? backend_names[b] : "?"; }
const char *ss_gemm_dtype_name(ss_gemm_dtype d) { return (unsigned)d < SS_GEMM_DTYPE_COUNT ? dtype_names[d] : "?"; }
/* In the order of ss_gemm_kind (gemm_internal.h). */
const char *ss_gemm_kind_name(int kind) {
    static const char *const names[] = {"acc", "channel", "channel_scalar", "token_channel", "bf16"};
    return kind >= 0 && kind < (int)(sizeof names / sizeof names[0]) ? names[kind] : "?";
}

const char *ss_gemm_out_name(ss_gemm_out o) { return (unsigned)o < SS_GEMM_OUT_COUNT ? out_names[o] : "?"; }

ss_status ss_backend_parse(const char *s, ss_backend *b) {
    for (int i = 0; i < SS_BACKEND_COUNT; i++)
        if (s && strcmp(s, backend_names[i]) == 0) {
            *b = (ss_backend)i;
            return SS_OK;
        }
    return ss_fail(SS_ERR_ARG, "unknown GEMM backend '%s': expected cublaslt, cusparselt, ours or ours_dense", s ? s : "(null)");
}

ss_status ss_gemm_dtype_parse(const char *s, ss_gemm_dtype *d) {
    for (int i = 0; i < SS_GEMM_DTYPE_COUNT; i++)
        if (s && strcmp(s, dtype_names[i]) == 0) {
            *d = (ss_gemm_dtype)i;
            return SS_OK;
        }
    /* the spellings users reach for first */
    if (s && (strcmp(s, "fp8") == 0 || strcmp(s, "e4m3") == 0)) return *d = SS_GEMM_FP8E4M3, SS_OK;
    if (s && strcmp(s, "f16") == 0) return *d = SS_GEMM_FP16, SS_OK;
    return ss_fail(SS_ERR_ARG, "unknown GEMM dtype '%s': expected bf16, fp16, int8, fp8e4m3 or fp4e2m1",
                   s ? s : "(null)");
}

ss_status ss_gemm_dtype_of_weight(ss_dtype w, ss_gemm_dtype *d) {
    switch (w) {
    case SS_DT_BF16: *d = SS_GEMM_BF16; return SS_OK;
    case SS_DT_F16: *d = SS_GEMM_FP16; return SS_OK;
    case SS_DT_I8: *d = SS_GEMM_INT8; return SS_OK;
    case SS_DT_F8_E4M3: *d = SS_GEMM_FP8E4M3; return SS_OK;
    default:
        return ss_fail(SS_ERR_UNSUPPORTED, "weights of dtype %s have no GPU GEMM: quantize to I8/F8_E4M3 or cast to BF16",
                       ss_dtype_name(w));
    }
}

ss_dtype ss_gemm_act_dtype(ss_gemm_dtype d) {
    switch (d) {
    case SS_GEMM_BF16: return SS_DT_BF16;
    case SS_GEMM_FP16: return SS_DT_F16;
    case SS_GEMM_INT8: return SS_DT_I8;
    case SS_GEMM_FP8E4M3: return SS_DT_F8_E4M3;
    default: return SS_DT_UNKNOWN;
    }
}

ss_dtype ss_gemm_acc_dtype(ss_backend b, ss_gemm_dtype d) {
    switch (d) {
    case SS_GEMM_INT8: return SS_DT_I32;
    case SS_GEMM_FP8E4M3: return SS_DT_F32;
    case SS_GEMM_BF16: return b == SS_BACKEND_CUSPARSELT ? SS_DT_BF16 : SS_DT_F32;
    case SS_GEMM_FP16: return b == SS_BACKEND_CUSPARSELT ? SS_DT_F16 : SS_DT_F32;
    default: return SS_DT_UNKNOWN;
    }
}

ss_status ss_gemm_out_supported(ss_backend b, ss_gemm_dtype d, ss_gemm_out o) {
    if ((unsigned)b >= SS_BACKEND_COUNT || (unsigned)d >= SS_GEMM_DTYPE_COUNT || (unsigned)o >= SS_GEMM_OUT_COUNT)
        return ss_fail(SS_ERR_ARG, "bad GEMM backend/dtype/output mode (%d, %d, %d)", (int)b, (int)d, (int)o);
    if (d == SS_GEMM_FP4E2M1)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s fp4e2m1: not implemented in this build", ss_backend_name(b));
    if (ss_backend_ours(b)) {
        if (d == SS_GEMM_INT8 || d == SS_GEMM_FP8E4M3) return SS_OK; /* every mode, in the epilogue */
        return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: our kernels are 8-bit (int8, fp8e4m3) only", ss_backend_name(b),
                       ss_gemm_dtype_name(d));
    }
    if (o == SS_GEMM_OUT_BF16_ACC) {
        if (b == SS_BACKEND_CUSPARSELT && d == SS_GEMM_FP8E4M3) return SS_OK;
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s %s: output mode bf16_acc is for cusparselt fp8e4m3 (elsewhere bf16_channel or acc does it)",
                       ss_backend_name(b), ss_gemm_dtype_name(d));
    }
    if (o != SS_GEMM_OUT_BF16_CHANNEL) return SS_OK;
    if (d == SS_GEMM_BF16 || d == SS_GEMM_FP16)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: output mode bf16_channel needs a quantized (int8/fp8e4m3) weight",
                       ss_backend_name(b), ss_gemm_dtype_name(d));
    if (b == SS_BACKEND_CUBLASLT && d == SS_GEMM_INT8)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "cublaslt int8: output mode bf16_channel is unsupported (cuBLASLt's INT8 kernels on Hopper "
                       "take INT32 scales and give INT32 output only); use acc");
    return SS_OK;
}

int ss_gemm_out_fused(ss_backend b, ss_gemm_dtype d, ss_gemm_out o, int has_bias) {
    if (ss_gemm_out_supported(b, d, o) != SS_OK) {
        ss_clear_error();
        return 0;
    }
    switch (o) {
    case SS_GEMM_OUT_ACC:
    case SS_GEMM_OUT_BF16_CHANNEL:
    case SS_GEMM_OUT_BF16_ACC: return 1;
    case SS_GEMM_OUT_BF16:
        if (ss_backend_ours(b)) return 1;
        if (has_bias) return 0;
        if (d == SS_GEMM_BF16) return 1;
        return b == SS_BACKEND_CUBLASLT && d == SS_GEMM_FP8E4M3;
    default: return 0;
    }
}

void ss_gemm_options_default(ss_gemm_options *o) {
    o->cublaslt_candidates = 32;
    o->cusparselt_search = 1;
    o->workspace_limit = (size_t)64 << 20;
}

ss_status ss_gemm_supported(const ss_gpu_info *gpu, ss_backend b, ss_gemm_dtype d) {
    return ss_gemm_supported_on(gpu, NULL, b, d);
}

/* The arch.c operation each backend runs. A new backend adds its case here
 * (our own GEMMs: SS_OP_GEMM_OURS, chosen only on cc 9.0 with an sm_90a
 * image); one without a case is reported unsupported, never run as another. */
static ss_gpuarch_op backend_op(ss_backend b) {
    switch (b) {
    case SS_BACKEND_CUBLASLT: return SS_OP_GEMM_DENSE;
    case SS_BACKEND_CUSPARSELT: return SS_OP_GEMM_SPARSE;
    case SS_BACKEND_OURS:
    case SS_BACKEND_OURS_DENSE: return SS_OP_GEMM_OURS;
    default: return SS_OP_COUNT;
    }
}

/* The rules are arch.c's (one table for every operation); this adds that
 * the layer's own quant and dequant kernels must run too, except for FP4,
 * whose operands the kernel benchmark quantizes on the host. */
ss_status ss_gemm_supported_on(const ss_gpu_info *gpu, const char *built, ss_backend b, ss_gemm_dtype d) {
    const char *bn = ss_backend_name(b), *dn = ss_gemm_dtype_name(d);
    if ((unsigned)b >= SS_BACKEND_COUNT || (unsigned)d >= SS_GEMM_DTYPE_COUNT)
        return ss_fail(SS_ERR_ARG, "bad GEMM backend/dtype (%d, %d)", (int)b, (int)d);
    const ss_gpuarch_gpu g = {gpu->name, gpu->cc_major, gpu->cc_minor, gpu->cusparselt_version};
    ss_gpuarch_choice c;
    ss_gpuarch_select(&g, built, backend_op(b), d, &c);
    if (!c.runs) return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: %s", bn, dn, c.why);
    if (ss_backend_ours(b) && d != SS_GEMM_INT8 && d != SS_GEMM_FP8E4M3)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: our kernels are 8-bit (int8, fp8e4m3) only", bn, dn);
    if (d == SS_GEMM_FP4E2M1) return SS_OK; /* ss_fp4_gemm (fp4.h): host-quantized operands, no kernel of ours */
    ss_gpuarch_select(&g, built, SS_OP_QUANT, d, &c);
    if (!c.runs) return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: our quant kernels: %s", bn, dn, c.why);
    ss_gpuarch_select(&g, built, SS_OP_DEQUANT, d, &c);
    if (!c.runs) return ss_fail(SS_ERR_UNSUPPORTED, "%s %s: our dequant kernel: %s", bn, dn, c.why);
    return SS_OK;
}
