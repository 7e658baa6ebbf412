/* Run-time path selection per architecture (see arch.h). */
#include "gemm/arch.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm/lib_version.h"

#ifndef SS_CUDA_ARCH_LIST /* set by src/gemm/CMakeLists.txt from CMAKE_CUDA_ARCHITECTURES */
#define SS_CUDA_ARCH_LIST ""
#endif

const char *ss_gpuarch_built(void) { return SS_CUDA_ARCH_LIST; }

static ss_status parse_entry(const char *e, size_t n, ss_gpuarch_image *img) {
    char buf[32];
    if (n == 0 || n >= sizeof buf) return ss_fail(SS_ERR_ARG, "CUDA architecture '%.*s': not like 90a-real", (int)n, e);
    memcpy(buf, e, n);
    buf[n] = '\0';
    char *p = buf;
    int sm = 0, digits = 0;
    while (isdigit((unsigned char)*p)) sm = sm * 10 + (*p++ - '0'), digits++;
    if (digits < 2 || digits > 3 || sm < 10)
        return ss_fail(SS_ERR_ARG, "CUDA architecture '%s': expected a number such as 80, 90a or 120a", buf);
    char suffix = 0;
    if (*p == 'a' || *p == 'f') suffix = *p++;
    int sass = 1, ptx = 1;
    if (!strcmp(p, "-real")) ptx = 0;
    else if (!strcmp(p, "-virtual")) sass = 0;
    else if (*p) return ss_fail(SS_ERR_ARG, "CUDA architecture '%s': unknown suffix '%s' (-real or -virtual)", buf, p);
    *img = (ss_gpuarch_image){.sm = sm, .suffix = suffix, .sass = sass, .ptx = ptx};
    return SS_OK;
}

ss_status ss_gpuarch_list_parse(const char *s, ss_gpuarch_list *out) {
    memset(out, 0, sizeof *out);
    if (!s) return SS_OK;
    const char *p = s;
    while (*p) {
        while (*p == ';' || *p == ',' || *p == ' ') p++;
        if (!*p) break;
        size_t n = strcspn(p, ";, ");
        if (out->n == SS_GPUARCH_MAX) return ss_fail(SS_ERR_ARG, "CUDA architectures '%s': more than %d", s, SS_GPUARCH_MAX);
        SS_TRY(parse_entry(p, n, &out->a[out->n]));
        out->n++;
        p += n;
    }
    return SS_OK;
}

const char *ss_gpuarch_image_name(const ss_gpuarch_list *l, int i, char *buf, size_t cap) {
    const ss_gpuarch_image *a = &l->a[i];
    char sfx[2] = {a->suffix, 0};
    if (a->sass) snprintf(buf, cap, "sm_%d%s", a->sm, sfx);
    else snprintf(buf, cap, "compute_%d%s (PTX, JIT)", a->sm, sfx);
    return buf;
}

/* Can image a (SASS when sass, else its PTX) run on cc (as 10*major+minor)? */
static int image_runs(const ss_gpuarch_image *a, int sass, int cc) {
    const int major = cc / 10, amajor = a->sm / 10;
    if (a->suffix == 'a') return a->sm == cc; /* arch-specific: that cc only, SASS or PTX */
    if (sass) return amajor == major && a->sm <= cc; /* SASS (and 'f' family): same major, minor >= */
    return a->sm <= cc; /* plain PTX: any newer GPU, compiled by the driver */
}

int ss_gpuarch_pick(const ss_gpuarch_list *l, int cc_major, int cc_minor, int needs_90a) {
    const int cc = cc_major * 10 + cc_minor;
    int best = -1, best_rank = -1;
    for (int i = 0; i < l->n; i++) {
        const ss_gpuarch_image *a = &l->a[i];
        if (needs_90a && !(a->sm == 90 && a->suffix == 'a')) continue;
        /* rank: exact SASS > newest compatible SASS > newest PTX */
        int rank = -1;
        if (a->sass && image_runs(a, 1, cc)) rank = 2000 + (a->sm == cc ? 500 : 0) + a->sm;
        else if (a->ptx && image_runs(a, 0, cc)) rank = 1000 + a->sm;
        if (rank > best_rank) best_rank = rank, best = i;
    }
    return best;
}

const char *ss_gpuarch_op_name(ss_gpuarch_op op, ss_gemm_dtype d, char *buf, size_t cap) {
    switch (op) {
    case SS_OP_GEMM_DENSE: snprintf(buf, cap, "dense GEMM %s", ss_gemm_dtype_name(d)); break;
    case SS_OP_GEMM_SPARSE: snprintf(buf, cap, "sparse GEMM %s", ss_gemm_dtype_name(d)); break;
    case SS_OP_GEMM_OURS: snprintf(buf, cap, "our GEMMs (sm_90a)"); break;
    case SS_OP_QUANT:
        snprintf(buf, cap, "%s %s", d == SS_GEMM_INT8 || d == SS_GEMM_FP8E4M3 ? "quant+slide" : "convert+slide",
                 ss_gemm_dtype_name(d));
        break;
    case SS_OP_DEQUANT: snprintf(buf, cap, "dequant + bias"); break;
    case SS_OP_ENGINE: snprintf(buf, cap, "engine kernels"); break;
    case SS_OP_ENGINE_WGMMA: snprintf(buf, cap, "wgmma prefill attention"); break;
    default: snprintf(buf, cap, "?"); break;
    }
    return buf;
}

static void skip(ss_gpuarch_choice *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(ss_gpuarch_choice *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    c->runs = 0;
    c->path[0] = '\0';
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
}

static const char *gname(const ss_gpuarch_gpu *g) { return g->name && *g->name ? g->name : "this GPU"; }

static void runs(ss_gpuarch_choice *c, const char *path) {
    c->runs = 1;
    snprintf(c->path, sizeof c->path, "%s", path);
    c->why[0] = '\0';
}

/* Our kernels: an image of the build for this cc (only sm_90a when hopper). */
static void ours(const ss_gpuarch_gpu *g, const char *built, int hopper, ss_gpuarch_choice *c) {
    const int cc = g->cc_major * 10 + g->cc_minor;
    if (!*built) {
        skip(c, "built without CUDA");
        return;
    }
    ss_gpuarch_list l;
    if (ss_gpuarch_list_parse(built, &l) != SS_OK) {
        skip(c, "this build's CUDA architecture list is unreadable: %s", ss_errmsg());
        ss_clear_error();
        return;
    }
    if (hopper && cc != 90) {
        skip(c, "uses Hopper-only instructions (wgmma, TMA): needs compute capability 9.0 (sm_90a); %s is %d.%d",
             gname(g), g->cc_major, g->cc_minor);
        return;
    }
    if (!hopper && cc < 80) {
        skip(c, "our kernels need compute capability >= 8.0 (mma.sync BF16, cp.async); %s is %d.%d",
             gname(g), g->cc_major, g->cc_minor);
        return;
    }
    int i = ss_gpuarch_pick(&l, g->cc_major, g->cc_minor, hopper);
    if (i < 0) {
        skip(c, "this build has no kernel image for compute capability %d.%d%s (built for %s); rebuild with "
                "-DCMAKE_CUDA_ARCHITECTURES=%d%s",
             g->cc_major, g->cc_minor, hopper ? " with sm_90a" : "", built, cc,
             cc == 90 || cc == 100 || cc == 120 ? "a" : "");
        return;
    }
    char img[48], path[96];
    snprintf(path, sizeof path, "ours (%s)", ss_gpuarch_image_name(&l, i, img, sizeof img));
    runs(c, path);
}

static void dense(const ss_gpuarch_gpu *g, ss_gemm_dtype d, ss_gpuarch_choice *c) {
    const int cc = g->cc_major * 10 + g->cc_minor;
    if (cc < 80) {
        skip(c, "needs compute capability >= 8.0; %s is %d.%d", gname(g), g->cc_major, g->cc_minor);
        return;
    }
    if (d == SS_GEMM_FP8E4M3 && cc < 89) {
        skip(c, "FP8 needs compute capability >= 8.9; %s is %d.%d", gname(g), g->cc_major, g->cc_minor);
        return;
    }
    if (d == SS_GEMM_FP4E2M1 && cc < 100) {
        skip(c, "FP4 (E2M1, block-scaled) needs compute capability >= 10.0 (Blackwell); %s is %d.%d",
             gname(g), g->cc_major, g->cc_minor);
        return;
    }
    runs(c, d == SS_GEMM_FP4E2M1 ? "cuBLASLt (NVFP4: E2M1, UE4M3 scales per 16)" : "cuBLASLt");
}

static void sparse(const ss_gpuarch_gpu *g, ss_gemm_dtype d, ss_gpuarch_choice *c) {
    const int cc = g->cc_major * 10 + g->cc_minor, v = g->cusparselt_version;
    char ver[32];
    ss_cusparselt_version_str(v, ver, sizeof ver);
    if (d == SS_GEMM_FP4E2M1) {
        skip(c, "cuSPARSELt's FP4 (E2M1) kernels take paired 4:8 sparsity (values kept or dropped in pairs), not "
                "the element-wise 2:4 pattern sliding makes%s",
             cc < 100 ? "; and FP4 needs compute capability >= 10.0 (Blackwell)" : "");
        return;
    }
    if (cc < 80) {
        skip(c, "sparse tensor cores need compute capability >= 8.0; %s is %d.%d", gname(g), g->cc_major, g->cc_minor);
        return;
    }
    if (v <= 0) {
        skip(c, "the cuSPARSELt library did not initialise on this GPU");
        return;
    }
    if (cc >= 90 && v < SS_CUSPARSELT_VERSION_OF(0, 6, 0)) {
        skip(c, "cuSPARSELt %s predates Hopper support (0.6.0)", ver);
        return;
    }
    if (cc >= 100 && v < SS_CUSPARSELT_VERSION_OF(0, 7, 0)) {
        skip(c, "cuSPARSELt %s predates Blackwell support (0.7.0)", ver);
        return;
    }
    if (d == SS_GEMM_FP8E4M3 && cc < 89) {
        skip(c, "FP8 needs compute capability >= 8.9; %s is %d.%d", gname(g), g->cc_major, g->cc_minor);
        return;
    }
    if (d == SS_GEMM_FP8E4M3 && cc == 89 && v < SS_CUSPARSELT_VERSION_OF(0, 8, 0)) {
        skip(c, "cuSPARSELt %s has no FP8 kernels for compute capability 8.9 (from 0.8.0)", ver);
        return;
    }
    if (d == SS_GEMM_FP16 && g->cc_major == 9 && !getenv("SS_ALLOW_CUSPARSELT_FP16")) {
        skip(c, "cuSPARSELt 0.8.0's FP16 search failed on cc 9.x with an internal error and an illegal instruction "
                "that poisons the CUDA context (not retried with %s on %s; SS_ALLOW_CUSPARSELT_FP16=1 tries); use bf16",
             ver, gname(g));
        return;
    }
    runs(c, "cuSPARSELt");
}

void ss_gpuarch_select(const ss_gpuarch_gpu *g, const char *built, ss_gpuarch_op op, ss_gemm_dtype d, ss_gpuarch_choice *c) {
    memset(c, 0, sizeof *c);
    if (!built) built = ss_gpuarch_built();
    if (!*built) { /* no CUDA code at all: the libraries are not linked either */
        skip(c, "built without CUDA");
        return;
    }
    switch (op) {
    case SS_OP_GEMM_DENSE: dense(g, d, c); break;
    case SS_OP_GEMM_SPARSE: sparse(g, d, c); break;
    case SS_OP_GEMM_OURS: ours(g, built, 1, c); break;
    case SS_OP_ENGINE_WGMMA: ours(g, built, 1, c); break;
    case SS_OP_QUANT:
    case SS_OP_DEQUANT:
    case SS_OP_ENGINE:
        if (op == SS_OP_QUANT) { /* a quant kernel serves its dtype's GEMM: pointless where no GEMM takes it */
            ss_gpuarch_choice gemm;
            dense(g, d, &gemm);
            if (!gemm.runs) {
                *c = gemm;
                return;
            }
            if (d == SS_GEMM_FP4E2M1) {
                skip(c, "no FP4 quant kernel: the FP4 kernel benchmark quantizes on the host");
                return;
            }
        }
        ours(g, built, 0, c);
        break;
    default: skip(c, "unknown operation %d", (int)op); break;
    }
}

void ss_gpuarch_each(const ss_gpuarch_gpu *g, const char *built, ss_gpuarch_row_fn fn, void *user) {
    static const ss_gemm_dtype dts[] = {SS_GEMM_BF16, SS_GEMM_FP16, SS_GEMM_INT8, SS_GEMM_FP8E4M3, SS_GEMM_FP4E2M1};
    const int n = (int)(sizeof dts / sizeof dts[0]);
    ss_gpuarch_choice c;
    for (int op = SS_OP_GEMM_DENSE; op <= SS_OP_GEMM_SPARSE; op++)
        for (int i = 0; i < n; i++) {
            ss_gpuarch_select(g, built, (ss_gpuarch_op)op, dts[i], &c);
            fn(user, (ss_gpuarch_op)op, dts[i], &c);
        }
    ss_gpuarch_select(g, built, SS_OP_GEMM_OURS, SS_GEMM_INT8, &c);
    fn(user, SS_OP_GEMM_OURS, SS_GEMM_INT8, &c);
    for (int i = 0; i < n; i++) {
        if (dts[i] == SS_GEMM_FP4E2M1) continue;
        ss_gpuarch_select(g, built, SS_OP_QUANT, dts[i], &c);
        fn(user, SS_OP_QUANT, dts[i], &c);
    }
    ss_gpuarch_select(g, built, SS_OP_DEQUANT, SS_GEMM_INT8, &c);
    fn(user, SS_OP_DEQUANT, SS_GEMM_INT8, &c);
    ss_gpuarch_select(g, built, SS_OP_ENGINE, SS_GEMM_INT8, &c);
    fn(user, SS_OP_ENGINE, SS_GEMM_INT8, &c);
    ss_gpuarch_select(g, built, SS_OP_ENGINE_WGMMA, SS_GEMM_BF16, &c);
    fn(user, SS_OP_ENGINE_WGMMA, SS_GEMM_BF16, &c);
}
