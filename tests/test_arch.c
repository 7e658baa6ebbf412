/* The run-time path choice per architecture (src/gemm/arch.c), for every
 * compute capability the reference system ran on (A100 8.0, RTX 30xx 8.6,
 * RTX 4090 8.9, H100/H200 9.0, B200 10.0, RTX 5080 12.0, GB10 12.1) and
 * for the default and single-architecture builds. No GPU needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "gemm/arch.h"
#include "gemm/gemm.h"

/* What CMake builds by default (cmake/CudaArchs.cmake), and the fast build. */
static const char *const k_all = "80-real,86-real,89-real,90a-real,100a-real,120a-real,120-virtual";
static const char *const k_90a = "90a";

static ss_gpuarch_choice pick(int major, int minor, const char *built, ss_gpuarch_op op, ss_gemm_dtype d) {
    ss_gpuarch_gpu g = {"GPU", major, minor, 800};
    ss_gpuarch_choice c;
    ss_gpuarch_select(&g, built, op, d, &c);
    if (!c.runs) assert_true(strlen(c.why) > 0); /* a skip always says why */
    else assert_true(strlen(c.path) > 0);
    return c;
}

static void test_parse(void **s) {
    (void)s;
    ss_gpuarch_list l;
    assert_int_equal(ss_gpuarch_list_parse(k_all, &l), SS_OK);
    assert_int_equal(l.n, 7);
    assert_int_equal(l.a[3].sm, 90);
    assert_int_equal(l.a[3].suffix, 'a');
    assert_true(l.a[3].sass && !l.a[3].ptx);
    assert_true(!l.a[6].sass && l.a[6].ptx);
    assert_int_equal(ss_gpuarch_list_parse("80-real;90a", &l), SS_OK); /* CMake's own separator too */
    assert_int_equal(l.n, 2);
    assert_true(l.a[1].sass && l.a[1].ptx);
    char buf[48];
    assert_string_equal(ss_gpuarch_image_name(&l, 1, buf, sizeof buf), "sm_90a");
    assert_int_equal(ss_gpuarch_list_parse("", &l), SS_OK);
    assert_int_equal(l.n, 0);
    assert_int_equal(ss_gpuarch_list_parse("native", &l), SS_ERR_ARG);
    assert_int_equal(ss_gpuarch_list_parse("90x-real", &l), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "90x-real"));
    assert_int_equal(ss_gpuarch_list_parse("90a-fake", &l), SS_ERR_ARG);
}

/* Which image the driver runs, per the CUDA compatibility rules. */
static void test_image_pick(void **s) {
    (void)s;
    ss_gpuarch_list l;
    assert_int_equal(ss_gpuarch_list_parse(k_all, &l), SS_OK);
    char buf[48];
    const struct { int major, minor; const char *image; } cases[] = {
        {8, 0, "sm_80"},   {8, 6, "sm_86"},   {8, 7, "sm_86"}, /* Orin: sm_86 SASS runs on 8.7 */
        {8, 9, "sm_89"},   {9, 0, "sm_90a"},  {10, 0, "sm_100a"}, {12, 0, "sm_120a"},
        {12, 1, "compute_120 (PTX, JIT)"}, /* GB10: 120a is 12.0 only; the PTX runs */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int k = ss_gpuarch_pick(&l, cases[i].major, cases[i].minor, 0);
        assert_true(k >= 0);
        assert_string_equal(ss_gpuarch_image_name(&l, k, buf, sizeof buf), cases[i].image);
    }
    assert_int_equal(ss_gpuarch_pick(&l, 7, 5, 0), -1);  /* Turing: nothing at or below 7.5 */
    assert_int_equal(ss_gpuarch_pick(&l, 10, 3, 0), -1); /* B300: sm_100a is 10.0 only, PTX 120 is newer */
    assert_int_equal(ss_gpuarch_pick(&l, 9, 0, 1), 3);   /* the Hopper-only kernels: sm_90a */
    assert_int_equal(ss_gpuarch_pick(&l, 10, 0, 1), -1);
    /* a plain sm_90 image has no wgmma: it does not count for the Hopper kernels */
    assert_int_equal(ss_gpuarch_list_parse("80-real,90-real", &l), SS_OK);
    assert_int_equal(ss_gpuarch_pick(&l, 9, 0, 1), -1);
    assert_int_equal(ss_gpuarch_pick(&l, 9, 0, 0), 1);
    /* the exact SASS wins over an older SASS of the same major and over PTX */
    assert_int_equal(ss_gpuarch_list_parse("80,86-real", &l), SS_OK);
    assert_int_equal(ss_gpuarch_pick(&l, 8, 6, 0), 1);
    assert_int_equal(ss_gpuarch_pick(&l, 8, 9, 0), 1);  /* 8.9: newest compatible SASS */
    assert_int_equal(ss_gpuarch_pick(&l, 9, 0, 0), 0);  /* 9.0: compute_80 PTX */
    assert_string_equal(ss_gpuarch_image_name(&l, 0, buf, sizeof buf), "sm_80");
}

/* The table of issue 12: cc 8.0, 8.6, 8.9, 9.0, 10.0, 12.0 with the default build. */
static void test_default_build_per_cc(void **s) {
    (void)s;
    const struct {
        int major, minor;
        int fp8, fp4, sparse_fp16, ours;
        const char *image;
    } cases[] = {
        {8, 0, 0, 0, 1, 0, "ours (sm_80)"},   {8, 6, 0, 0, 1, 0, "ours (sm_86)"},
        {8, 9, 1, 0, 1, 0, "ours (sm_89)"},   {9, 0, 1, 0, 0, 1, "ours (sm_90a)"},
        {10, 0, 1, 1, 1, 0, "ours (sm_100a)"}, {12, 0, 1, 1, 1, 0, "ours (sm_120a)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int M = cases[i].major, m = cases[i].minor;
        ss_gpuarch_choice c;
        for (int d = SS_GEMM_BF16; d <= SS_GEMM_INT8; d++) {
            c = pick(M, m, k_all, SS_OP_GEMM_DENSE, (ss_gemm_dtype)d);
            assert_true(c.runs);
            assert_string_equal(c.path, "cuBLASLt");
        }
        c = pick(M, m, k_all, SS_OP_GEMM_DENSE, SS_GEMM_FP8E4M3);
        assert_int_equal(c.runs, cases[i].fp8);
        if (!c.runs) assert_non_null(strstr(c.why, "8.9"));
        c = pick(M, m, k_all, SS_OP_GEMM_DENSE, SS_GEMM_FP4E2M1);
        assert_int_equal(c.runs, cases[i].fp4);
        if (c.runs) assert_non_null(strstr(c.path, "cuBLASLt"));
        else assert_non_null(strstr(c.why, "10.0"));
        /* cuSPARSELt: INT8 and BF16 everywhere, FP8 with the hardware, FP16 not on Hopper, FP4 never */
        assert_true(pick(M, m, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_INT8).runs);
        assert_true(pick(M, m, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_BF16).runs);
        assert_int_equal(pick(M, m, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_FP8E4M3).runs, cases[i].fp8);
        c = pick(M, m, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_FP16);
        assert_int_equal(c.runs, cases[i].sparse_fp16);
        if (!c.runs) assert_non_null(strstr(c.why, "illegal instruction"));
        c = pick(M, m, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_FP4E2M1);
        assert_false(c.runs);
        assert_non_null(strstr(c.why, "paired 4:8"));
        /* our kernels run everywhere, from the image of that cc */
        c = pick(M, m, k_all, SS_OP_ENGINE, SS_GEMM_INT8);
        assert_true(c.runs);
        assert_string_equal(c.path, cases[i].image);
        assert_true(pick(M, m, k_all, SS_OP_DEQUANT, SS_GEMM_INT8).runs);
        assert_true(pick(M, m, k_all, SS_OP_QUANT, SS_GEMM_INT8).runs);
        assert_int_equal(pick(M, m, k_all, SS_OP_QUANT, SS_GEMM_FP8E4M3).runs, cases[i].fp8);
        /* our own GEMMs (wgmma + TMA): sm_90a only */
        c = pick(M, m, k_all, SS_OP_GEMM_OURS, SS_GEMM_INT8);
        assert_int_equal(c.runs, cases[i].ours);
        if (c.runs) assert_string_equal(c.path, "ours (sm_90a)");
        else assert_non_null(strstr(c.why, "9.0"));
        /* the engine's wgmma attention (built): the same rule */
        c = pick(M, m, k_all, SS_OP_ENGINE_WGMMA, SS_GEMM_BF16);
        assert_int_equal(c.runs, cases[i].ours);
        if (c.runs) assert_string_equal(c.path, "ours (sm_90a)");
        else assert_non_null(strstr(c.why, "wgmma"));
    }
}

/* The fast build (one arch): every other GPU is told to rebuild, not crashed. */
static void test_single_arch_build(void **s) {
    (void)s;
    ss_gpuarch_choice c = pick(9, 0, k_90a, SS_OP_ENGINE, SS_GEMM_INT8);
    assert_true(c.runs);
    assert_string_equal(c.path, "ours (sm_90a)");
    /* plain sm_90 code has no wgmma: the Hopper-only kernels are skipped, the rest runs */
    c = pick(9, 0, "80-real,90-real", SS_OP_ENGINE_WGMMA, SS_GEMM_BF16);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "sm_90a"));
    c = pick(9, 0, "80-real,90-real", SS_OP_ENGINE, SS_GEMM_BF16);
    assert_true(c.runs);
    assert_string_equal(c.path, "ours (sm_90)");
    const int others[][2] = {{8, 0}, {8, 6}, {8, 9}, {10, 0}, {12, 0}};
    for (int i = 0; i < 5; i++) {
        c = pick(others[i][0], others[i][1], k_90a, SS_OP_ENGINE, SS_GEMM_INT8);
        assert_false(c.runs);
        assert_non_null(strstr(c.why, "no kernel image"));
        assert_non_null(strstr(c.why, "CMAKE_CUDA_ARCHITECTURES"));
        /* the libraries still run there, but the layer needs its quant kernels: the GEMM is skipped */
        assert_true(pick(others[i][0], others[i][1], k_90a, SS_OP_GEMM_DENSE, SS_GEMM_INT8).runs);
        ss_gpu_info gi = {.name = "GPU", .cc_major = others[i][0], .cc_minor = others[i][1], .cusparselt_version = 800};
        assert_int_equal(ss_gemm_supported_on(&gi, k_90a, SS_BACKEND_CUBLASLT, SS_GEMM_INT8), SS_ERR_UNSUPPORTED);
        assert_non_null(strstr(ss_errmsg(), "quant kernels"));
        assert_int_equal(ss_gemm_supported_on(&gi, k_all, SS_BACKEND_CUBLASLT, SS_GEMM_INT8), SS_OK);
    }
    c = pick(12, 0, "", SS_OP_ENGINE, SS_GEMM_INT8);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "without CUDA"));
    c = pick(7, 5, k_all, SS_OP_ENGINE, SS_GEMM_INT8);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "8.0"));
}

static void test_cusparselt_versions(void **s) {
    (void)s;
    ss_gpuarch_gpu g = {"RTX 4090", 8, 9, 710};
    ss_gpuarch_choice c;
    ss_gpuarch_select(&g, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_FP8E4M3, &c);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "0.7.10"));
    g.cusparselt_version = 800;
    ss_gpuarch_select(&g, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_FP8E4M3, &c);
    assert_true(c.runs);
    g = (ss_gpuarch_gpu){"B200", 10, 0, 603};
    ss_gpuarch_select(&g, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_INT8, &c);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "Blackwell"));
    g = (ss_gpuarch_gpu){"H200", 9, 0, 0};
    ss_gpuarch_select(&g, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_INT8, &c);
    assert_false(c.runs);
    assert_non_null(strstr(c.why, "did not initialise"));
    g.cusparselt_version = 1000; /* 0.10.0 */
    ss_gpuarch_select(&g, k_all, SS_OP_GEMM_SPARSE, SS_GEMM_INT8, &c);
    assert_true(c.runs);
}

/* Every row of the listing, once, with a path or a reason. */
static void row(void *user, ss_gpuarch_op op, ss_gemm_dtype d, const ss_gpuarch_choice *c) {
    int *n = user;
    char name[64];
    assert_true(strlen(ss_gpuarch_op_name(op, d, name, sizeof name)) > 0);
    assert_true(c->runs ? strlen(c->path) > 0 : strlen(c->why) > 0);
    (*n)++;
}

static void test_listing(void **s) {
    (void)s;
    ss_gpuarch_gpu g = {"H200", 9, 0, 800};
    int n = 0;
    ss_gpuarch_each(&g, k_all, row, &n);
    assert_int_equal(n, 5 + 5 + 1 + 4 + 1 + 1 + 1);
    char name[64];
    assert_string_equal(ss_gpuarch_op_name(SS_OP_QUANT, SS_GEMM_FP8E4M3, name, sizeof name), "quant+slide fp8e4m3");
    assert_string_equal(ss_gpuarch_op_name(SS_OP_GEMM_SPARSE, SS_GEMM_INT8, name, sizeof name), "sparse GEMM int8");
    /* this build's list parses (CMake wrote it) */
    ss_gpuarch_list l;
    assert_int_equal(ss_gpuarch_list_parse(ss_gpuarch_built(), &l), SS_OK);
#ifdef SS_HAVE_CUDA
    assert_true(l.n > 0);
#else
    assert_int_equal(l.n, 0);
#endif
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),           cmocka_unit_test(test_image_pick),
        cmocka_unit_test(test_default_build_per_cc), cmocka_unit_test(test_single_arch_build),
        cmocka_unit_test(test_cusparselt_versions), cmocka_unit_test(test_listing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
