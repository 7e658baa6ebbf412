/* Which code path each GPU operation takes on a given GPU: the one place
 * that decides it, from the GPU's compute capability, the cuSPARSELt that
 * loaded and the architectures this build compiled. Plain C, no CUDA, so it
 * is unit-tested on the CPU for every compute capability (tests/test_arch.c)
 * and the CLI shows it (`slidesparse info --gpu`, the report header).
 *
 * The rules (NVIDIA's CUDA compatibility rules for kernel images, and the
 * libraries' documented support):
 *   - an image sm_XY (SASS) runs on cc X.Z for Z >= Y; sm_XYa only on cc X.Y
 *     (arch-specific features: wgmma / TMA on 9.0, tcgen05 on 10.0, ...);
 *     sm_XYf on cc X.Z, Z >= Y (family); compute_XY (PTX) is compiled by the
 *     driver on any cc >= X.Y; compute_XYa PTX only on cc X.Y. The driver
 *     prefers SASS of the exact cc, then the newest compatible SASS, then PTX.
 *   - our kernels (quant / quant+slide, dequant, the engine's norms, RoPE,
 *     attention with mma.sync BF16 and cp.async, sampling) need cc >= 8.0 and
 *     an image of this build that the GPU can run;
 *   - kernels using Hopper-only instructions (wgmma, TMA; our own sparse GEMM)
 *     are compiled only into the sm_90a image (src/gemm/arch_guard.cuh gives
 *     every other image a trapping body) and are chosen only on cc 9.0 with
 *     an sm_90a image in the build;
 *   - cuBLASLt: BF16, FP16, INT8 on cc >= 8.0; FP8 E4M3 on cc >= 8.9;
 *     FP4 E2M1 (block-scaled, NVFP4) on cc >= 10.0;
 *   - cuSPARSELt (2:4 on slid weights): BF16, INT8 on cc >= 8.0; FP16 the
 *     same except cc 9.x (cuSPARSELt 0.8 faults there); FP8 on cc >= 9.0, and
 *     on 8.9 from cuSPARSELt 0.8.0; cc >= 9.0 needs cuSPARSELt >= 0.6.0;
 *     FP4 never: its E2M1 kernels take paired 4:8 sparsity (values kept or
 *     dropped in pairs), not the element 2:4 pattern sliding makes;
 *   - the dtype's own GEMM must exist for its quant kernel to be used.
 * What cannot run is "skipped" with the reason, never a launch failure. */
#ifndef SS_GEMM_ARCH_H
#define SS_GEMM_ARCH_H

#include <stddef.h>

#include "gemm/gemm.h" /* declares its own C linkage */

#ifdef __cplusplus /* the core headers are C: keep their linkage */
extern "C" {
#endif

#include "core/status.h"

typedef enum ss_gpuarch_op {
    SS_OP_GEMM_DENSE = 0, /* cuBLASLt, per dtype */
    SS_OP_GEMM_SPARSE,    /* cuSPARSELt 2:4 on slid weights, per dtype */
    SS_OP_GEMM_OURS,      /* our own GEMMs, sparse and dense (sm_90a only) */
    SS_OP_QUANT,          /* our quant / quant+slide kernels, per dtype (int8, fp8e4m3; bf16/fp16: convert) */
    SS_OP_DEQUANT,        /* our dequant + bias pass */
    SS_OP_ENGINE,         /* the CUDA engine's kernels (norm, RoPE + KV, attention, sampling) */
    SS_OP_ENGINE_WGMMA,   /* the engine's wgmma prefill attention (sm_90a only; SS_ATTN_PREFILL=wgmma) */
    SS_OP_COUNT
} ss_gpuarch_op;

/* Our own GEMMs (backends ours, ours_dense: ours_gemm.cu, wgmma + TMA) are
 * SS_OP_GEMM_OURS: gemm_common.c maps a backend to its operation, and their
 * kernels keep a real body only in the sm_90a image (SS_SM90A_DEVICE of
 * arch_guard.cuh, a trap in every other image). */
#define SS_GPUARCH_MAX 24

/* One entry of the build's CMAKE_CUDA_ARCHITECTURES. */
typedef struct ss_gpuarch_image {
    int sm;      /* 90 for sm_90a */
    char suffix; /* 0, 'a' (arch-specific) or 'f' (family) */
    int sass;    /* a real image (cubin) */
    int ptx;     /* a virtual image (PTX, compiled by the driver) */
} ss_gpuarch_image;

typedef struct ss_gpuarch_list {
    int n;
    ss_gpuarch_image a[SS_GPUARCH_MAX];
} ss_gpuarch_list;

/* Parses a CMake architecture list: "80-real;90a;120-virtual" (a bare entry
 * is SASS + PTX, as CMake builds it); ';' or ',' separated. "" gives an
 * empty list (a build without CUDA). Unknown forms fail with SS_ERR_ARG. */
ss_status ss_gpuarch_list_parse(const char *s, ss_gpuarch_list *out);
/* What this build compiled (CMAKE_CUDA_ARCHITECTURES as configured), e.g.
 * "80-real;86-real;89-real;90a-real;100a-real;120a-real;120-virtual"; ""
 * without CUDA. */
const char *ss_gpuarch_built(void);

/* The kernel image the driver picks for cc major.minor, or -1 when none can
 * run there; needs_90a: only an sm_90a image (SASS or PTX) counts. */
int ss_gpuarch_pick(const ss_gpuarch_list *l, int cc_major, int cc_minor, int needs_90a);
/* "sm_90a" / "compute_120 (PTX, JIT)" for entry i. */
const char *ss_gpuarch_image_name(const ss_gpuarch_list *l, int i, char *buf, size_t cap);

typedef struct ss_gpuarch_gpu {
    const char *name;       /* for messages; may be NULL */
    int cc_major, cc_minor;
    int cusparselt_version; /* gemm/lib_version.h; 0: cuSPARSELt did not load */
} ss_gpuarch_gpu;

typedef struct ss_gpuarch_choice {
    int runs;           /* 1: the operation runs on this GPU */
    char path[96];      /* runs: "cuBLASLt", "cuSPARSELt", "ours (sm_90a)", "ours (compute_120 (PTX, JIT))" */
    char why[320];      /* !runs: the reason, never empty */
} ss_gpuarch_choice;

/* Which path op takes for dtype d (ignored for DEQUANT, ENGINE and OURS)
 * on gpu, given the build's architectures (built == NULL: this build's).
 * Never fails: a malformed `built` makes every kernel of ours "skipped". */
void ss_gpuarch_select(const ss_gpuarch_gpu *gpu, const char *built, ss_gpuarch_op op, ss_gemm_dtype d, ss_gpuarch_choice *out);

/* Short name of an operation and dtype for tables: "dense GEMM int8",
 * "sparse GEMM fp8e4m3", "our GEMMs (sm_90a)", "quant+slide int8", "dequant",
 * "engine kernels". */
const char *ss_gpuarch_op_name(ss_gpuarch_op op, ss_gemm_dtype d, char *buf, size_t cap);

/* Every (operation, dtype) row in display order: fn is called once per row. */
typedef void (*ss_gpuarch_row_fn)(void *user, ss_gpuarch_op op, ss_gemm_dtype d, const ss_gpuarch_choice *c);
void ss_gpuarch_each(const ss_gpuarch_gpu *gpu, const char *built, ss_gpuarch_row_fn fn, void *user);

#ifdef __cplusplus
}
#endif

#endif
