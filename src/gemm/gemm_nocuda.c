/* The GPU layer's entry points in a build without CUDA: each reports that
 * with SS_ERR_UNSUPPORTED (exit code 3: "unsupported on this build"), so the
 * CLI and the pipeline link and say "skipped" instead of crashing. */
#include <stdlib.h>

#include "gemm/gemm.h"
#include "gemm/fp4.h"
#include "gemm/lib_version.h"

#define NO_CUDA() ss_fail(SS_ERR_UNSUPPORTED, "built without CUDA")

int ss_gpu_count(void) { return 0; }
int ss_cusparselt_build_version(void) { return 0; }
ss_status ss_gpu_info_get(int device, ss_gpu_info *info) {
    (void)device;
    *info = (ss_gpu_info){0};
    return ss_fail(SS_ERR_UNSUPPORTED, "no CUDA device (this build has no CUDA support)");
}
ss_status ss_gpu_alloc(size_t bytes, void **ptr) { (void)bytes; *ptr = NULL; return NO_CUDA(); }
void ss_gpu_free(void *ptr) { (void)ptr; }
ss_status ss_gpu_upload(void *dst, const void *src, size_t bytes) { (void)dst, (void)src, (void)bytes; return NO_CUDA(); }
ss_status ss_gpu_download(void *dst, const void *src, size_t bytes) { (void)dst, (void)src, (void)bytes; return NO_CUDA(); }
ss_status ss_gpu_memset(void *dst, int byte, size_t bytes) { (void)dst, (void)byte, (void)bytes; return NO_CUDA(); }

ss_status ss_gemm_ctx_create(int device, void *stream, const ss_gemm_options *opts, ss_gemm_ctx **out) {
    (void)device, (void)stream, (void)opts;
    *out = NULL;
    return ss_fail(SS_ERR_UNSUPPORTED, "no CUDA device (this build has no CUDA support)");
}
void ss_gemm_ctx_destroy(ss_gemm_ctx *ctx) { (void)ctx; }
void *ss_gemm_ctx_stream(ss_gemm_ctx *ctx) { (void)ctx; return NULL; }
ss_status ss_gemm_ctx_sync(ss_gemm_ctx *ctx) { (void)ctx; return NO_CUDA(); }

ss_status ss_gemm_weight_create(ss_gemm_ctx *ctx, const ss_linear_weight *w, ss_backend backend, ss_gemm_weight **out) {
    (void)ctx, (void)w, (void)backend;
    *out = NULL;
    return NO_CUDA();
}
void ss_gemm_weight_destroy(ss_gemm_weight *w) { (void)w; }
void ss_gemm_weight_get_info(const ss_gemm_weight *w, ss_gemm_weight_info *info) { (void)w; *info = (ss_gemm_weight_info){0}; }
const float *ss_gemm_weight_scale(const ss_gemm_weight *w) { (void)w; return NULL; }
const float *ss_gemm_weight_bias(const ss_gemm_weight *w) { (void)w; return NULL; }

ss_status ss_gemm_linear(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *y) {
    (void)ctx, (void)w, (void)x, (void)M, (void)y;
    return NO_CUDA();
}
ss_status ss_gemm_quantize(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *x, int64_t M, void *xq, float *sx) {
    (void)ctx, (void)w, (void)x, (void)M, (void)xq, (void)sx;
    return NO_CUDA();
}
ss_status ss_gemm_matmul(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, const float *sx, int64_t M,
                         ss_gemm_out mode, void *out) {
    (void)ctx, (void)w, (void)xq, (void)sx, (void)M, (void)mode, (void)out;
    return NO_CUDA();
}
ss_status ss_gemm_dequant(ss_gemm_ctx *ctx, ss_dtype in_dtype, const void *in, int64_t ld_in, int64_t M, int64_t N,
                          const float *sx, const float *sw, const float *bias, void *y, int64_t ld_y) {
    (void)ctx, (void)in_dtype, (void)in, (void)ld_in, (void)M, (void)N, (void)sx, (void)sw, (void)bias, (void)y, (void)ld_y;
    return NO_CUDA();
}
ss_status ss_gemm_plan_get_info(ss_gemm_ctx *ctx, const ss_gemm_weight *w, int64_t M, ss_gemm_out mode,
                                ss_gemm_plan_info *info) {
    (void)ctx, (void)w, (void)M, (void)mode;
    *info = (ss_gemm_plan_info){0};
    return NO_CUDA();
}
ss_status ss_gpu_event_create(ss_gpu_event **ev) { *ev = NULL; return NO_CUDA(); }
void ss_gpu_event_destroy(ss_gpu_event *ev) { (void)ev; }
ss_status ss_gpu_event_record(ss_gpu_event *ev, ss_gemm_ctx *ctx) { (void)ev, (void)ctx; return NO_CUDA(); }
ss_status ss_gpu_event_elapsed(ss_gpu_event *start, ss_gpu_event *end, float *ms) {
    (void)start, (void)end;
    *ms = 0;
    return NO_CUDA();
}

void ss_gemm_ctx_set_alg_lookup(ss_gemm_ctx *ctx, ss_gemm_alg_lookup fn, void *user) { (void)ctx, (void)fn, (void)user; }
void ss_gemm_ctx_each_plan(ss_gemm_ctx *ctx, ss_gemm_plan_visit fn, void *user) { (void)ctx, (void)fn, (void)user; }
ss_status ss_gpu_plant_fault(ss_gemm_ctx *ctx) { (void)ctx; return NO_CUDA(); }
ss_status ss_gemm_weight_out_supported(const ss_gemm_weight *w, ss_gemm_out mode) { (void)w, (void)mode; return NO_CUDA(); }
ss_status ss_gpu_selftest_quant(ss_gemm_ctx *ctx, ss_gemm_dtype d, int n_scales, uint64_t seed,
                                unsigned long long *checked, unsigned long long *mismatched) {
    (void)ctx, (void)d, (void)n_scales, (void)seed;
    *checked = 0;
    *mismatched = 0;
    return NO_CUDA();
}
ss_status ss_gpu_profiler(int on) { (void)on; return NO_CUDA(); }

ss_status ss_fp4_gemm(ss_gemm_ctx *ctx, const ss_fp4_dev *w, const ss_fp4_dev *x, int64_t M, void *y) {
    (void)ctx, (void)w, (void)x, (void)M, (void)y;
    return NO_CUDA();
}
ss_status ss_fp4_gemm_info(ss_gemm_ctx *ctx, const ss_fp4_dev *w, int64_t M, ss_gemm_plan_info *info) {
    (void)ctx, (void)w, (void)M;
    *info = (ss_gemm_plan_info){0};
    return NO_CUDA();
}
