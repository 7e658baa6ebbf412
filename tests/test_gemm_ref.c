/* Host side of the GPU GEMM layer (runs everywhere, no GPU): the dequant
 * and accumulator references, names, the backend x dtype x output-mode
 * table, the skip logic for a GPU that cannot run a dtype, and the clear
 * "no CUDA device" error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "gemm/gemm.h"
#include "gemm/gemm_ref.h"
#include "gemm/lib_version.h"

static void test_dequant_ref_order_and_types(void **s) {
    (void)s;
    /* ((acc * sx) * sw) + bias, rounded to BF16 */
    int32_t acc[2 * 3] = {3, -4, 100, 7, 0, 1 << 20};
    float sx[2] = {0.5f, 2.0f}, sw[3] = {2.0f, 0.25f, 1.0f}, bias[3] = {1.0f, 0.0f, -0.5f}, y[2 * 4];
    ss_dequant_ref(SS_DT_I32, acc, 3, 2, 3, sx, sw, bias, y, 4);
    assert_true(y[0] == 4.0f);          /* 3*.5*2+1 */
    assert_true(y[1] == -0.5f);         /* -4*.5*.25 */
    assert_true(y[2] == 49.5f);         /* 100*.5*1-.5 */
    assert_true(y[4 + 0] == 29.0f);     /* 7*2*2+1 */
    assert_true(y[4 + 2] == ss_round_bf16(2097152.0f - 0.5f));
    /* NULL scales and bias are skipped; BF16 rounding is to nearest even */
    float in[2] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f}; /* exactly between BF16 neighbours */
    ss_dequant_ref(SS_DT_F32, in, 2, 1, 2, NULL, NULL, NULL, y, 2);
    assert_true(y[0] == 1.0f);
    assert_true(y[1] == 1.0f + 0x1p-6f);
    uint16_t hb[2] = {ss_f32_to_bf16(3.5f), ss_f32_to_bf16(-2.0f)}, hh[2] = {ss_f32_to_f16(0.75f), ss_f32_to_f16(8.0f)};
    ss_dequant_ref(SS_DT_BF16, hb, 2, 1, 2, NULL, sw, NULL, y, 2);
    assert_true(y[0] == 7.0f && y[1] == -0.5f);
    ss_dequant_ref(SS_DT_F16, hh, 2, 1, 2, sx, NULL, bias, y, 2);
    assert_true(y[0] == 1.375f && y[1] == 4.0f);
}

static void test_acc_ref(void **s) {
    (void)s;
    int8_t x[2 * 3] = {1, 2, 3, -1, 0, 127}, w[2 * 3] = {4, 5, 6, -127, 1, 1};
    int32_t acc[4];
    double accd[4];
    ss_gemm_acc_ref(SS_DT_I8, x, w, 2, 2, 3, acc, accd);
    assert_int_equal(acc[0], 32);
    assert_int_equal(acc[1], -122);
    assert_int_equal(acc[2], 758);
    assert_int_equal(acc[3], 254);
    assert_true(accd[3] == 254.0);
    uint8_t fx[2] = {0x38, 0x40}, fw[2] = {0x40, 0xb8}; /* 1, 2 . 2, -1 */
    ss_gemm_acc_ref(SS_DT_F8_E4M3, fx, fw, 1, 1, 2, NULL, accd);
    assert_true(accd[0] == 0.0);
}

static void test_names_roundtrip(void **s) {
    (void)s;
    for (int d = 0; d < SS_GEMM_DTYPE_COUNT; d++) {
        ss_gemm_dtype p;
        assert_int_equal(ss_gemm_dtype_parse(ss_gemm_dtype_name((ss_gemm_dtype)d), &p), SS_OK);
        assert_int_equal(p, d);
    }
    for (int b = 0; b < SS_BACKEND_COUNT; b++) {
        ss_backend p;
        assert_int_equal(ss_backend_parse(ss_backend_name((ss_backend)b), &p), SS_OK);
        assert_int_equal(p, b);
    }
    ss_gemm_dtype d;
    assert_int_equal(ss_gemm_dtype_parse("fp8", &d), SS_OK);
    assert_int_equal(d, SS_GEMM_FP8E4M3);
    assert_int_equal(ss_gemm_dtype_parse("int4", &d), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "int4"));
    ss_backend b;
    assert_int_equal(ss_backend_parse("cutlass", &b), SS_ERR_ARG);
    assert_int_equal(ss_gemm_dtype_of_weight(SS_DT_F32, &d), SS_ERR_UNSUPPORTED);
    assert_int_equal(ss_gemm_dtype_of_weight(SS_DT_F8_E4M3, &d), SS_OK);
    assert_int_equal(d, SS_GEMM_FP8E4M3);
    assert_int_equal(ss_gemm_pad_m(1), 16);
    assert_int_equal(ss_gemm_pad_m(16), 16);
    assert_int_equal(ss_gemm_pad_m(17), 32);
}

static void test_output_mode_table(void **s) {
    (void)s;
    /* what gemm.h's table promises */
    assert_int_equal(ss_gemm_acc_dtype(SS_BACKEND_CUBLASLT, SS_GEMM_INT8), SS_DT_I32);
    assert_int_equal(ss_gemm_acc_dtype(SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3), SS_DT_F32);
    assert_int_equal(ss_gemm_acc_dtype(SS_BACKEND_CUBLASLT, SS_GEMM_BF16), SS_DT_F32);
    assert_int_equal(ss_gemm_acc_dtype(SS_BACKEND_CUSPARSELT, SS_GEMM_BF16), SS_DT_BF16);
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUBLASLT, SS_GEMM_INT8, SS_GEMM_OUT_BF16_CHANNEL),
                     SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "INT32"));
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, SS_GEMM_OUT_BF16_CHANNEL), SS_OK);
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16_CHANNEL), SS_OK);
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUSPARSELT, SS_GEMM_BF16, SS_GEMM_OUT_BF16_CHANNEL),
                     SS_ERR_UNSUPPORTED);
    for (int b = 0; b <= SS_BACKEND_CUSPARSELT; b++) /* the libraries: every dtype */
        for (int d = 0; d < SS_GEMM_FP4E2M1; d++) {
            assert_int_equal(ss_gemm_out_supported((ss_backend)b, (ss_gemm_dtype)d, SS_GEMM_OUT_ACC), SS_OK);
            assert_int_equal(ss_gemm_out_supported((ss_backend)b, (ss_gemm_dtype)d, SS_GEMM_OUT_BF16), SS_OK);
            assert_int_equal(ss_gemm_out_fused((ss_backend)b, (ss_gemm_dtype)d, SS_GEMM_OUT_ACC, 0), 1);
        }
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16, 0), 1);
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16, 1), 0);
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, SS_GEMM_OUT_BF16, 0), 0);
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, SS_GEMM_OUT_BF16_CHANNEL, 0), 1);
    /* bf16_acc: only where nothing else scales per channel (cuSPARSELt FP8) */
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16_ACC), SS_OK);
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUSPARSELT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16_ACC, 1), 1);
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUSPARSELT, SS_GEMM_INT8, SS_GEMM_OUT_BF16_ACC), SS_ERR_UNSUPPORTED);
    assert_int_equal(ss_gemm_out_supported(SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3, SS_GEMM_OUT_BF16_ACC), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "bf16_acc"));
    assert_string_equal(ss_gemm_out_name(SS_GEMM_OUT_BF16_ACC), "bf16_acc");
    assert_int_equal(ss_gemm_out_fused(SS_BACKEND_CUBLASLT, SS_GEMM_INT8, SS_GEMM_OUT_BF16_CHANNEL, 0), 0);
    /* our kernels: 8-bit only, every output mode in the epilogue, the bias included */
    for (int b = SS_BACKEND_OURS; b <= SS_BACKEND_OURS_DENSE; b++) {
        for (int o = 0; o < SS_GEMM_OUT_COUNT; o++)
            for (int d = SS_GEMM_INT8; d <= SS_GEMM_FP8E4M3; d++) {
                assert_int_equal(ss_gemm_out_supported((ss_backend)b, (ss_gemm_dtype)d, (ss_gemm_out)o), SS_OK);
                assert_int_equal(ss_gemm_out_fused((ss_backend)b, (ss_gemm_dtype)d, (ss_gemm_out)o, 1), 1);
            }
        assert_int_equal(ss_gemm_out_supported((ss_backend)b, SS_GEMM_BF16, SS_GEMM_OUT_ACC), SS_ERR_UNSUPPORTED);
        assert_non_null(strstr(ss_errmsg(), "8-bit"));
    }
    assert_int_equal(ss_backend_sparse(SS_BACKEND_OURS), 1);
    assert_int_equal(ss_backend_sparse(SS_BACKEND_OURS_DENSE), 0);
    assert_int_equal(ss_backend_sparse(SS_BACKEND_CUSPARSELT), 1);
}

/* The build's default architectures (cmake/CudaArchs.cmake): the rules below
 * hold for it whatever this build compiled (test_arch.c covers the rest). */
static const char *const k_all = "80-real,86-real,89-real,90a-real,100a-real,120a-real,120-virtual";

static void test_skip_logic(void **s) {
    (void)s;
    ss_gpu_info h100 = {.name = "NVIDIA H100 80GB HBM3", .cc_major = 9, .cc_minor = 0, .cusparselt_version = 800};
    assert_int_equal(ss_gemm_supported_on(&h100, k_all, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "Blackwell"));
    assert_non_null(strstr(ss_errmsg(), "H100"));
    for (int d = 0; d < SS_GEMM_FP4E2M1; d++)
        for (int b = 0; b < SS_BACKEND_COUNT; b++) {
            ss_status want = b == SS_BACKEND_CUSPARSELT && d == SS_GEMM_FP16 ? SS_ERR_UNSUPPORTED : SS_OK;
            if (ss_backend_ours((ss_backend)b) && d != SS_GEMM_INT8 && d != SS_GEMM_FP8E4M3) want = SS_ERR_UNSUPPORTED;
            assert_int_equal(ss_gemm_supported_on(&h100, k_all, (ss_backend)b, (ss_gemm_dtype)d), want);
        }
    assert_int_equal(ss_gemm_supported_on(&h100, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_FP16), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "illegal instruction"));
    ss_gpu_info a100 = {.name = "A100", .cc_major = 8, .cc_minor = 0, .cusparselt_version = 800};
    assert_int_equal(ss_gemm_supported_on(&a100, k_all, SS_BACKEND_CUBLASLT, SS_GEMM_FP8E4M3), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "8.9"));
    assert_int_equal(ss_gemm_supported_on(&a100, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8), SS_OK);
    assert_int_equal(ss_gemm_supported_on(&a100, k_all, SS_BACKEND_OURS, SS_GEMM_INT8), SS_ERR_UNSUPPORTED); /* Hopper code */
    assert_non_null(strstr(ss_errmsg(), "sm_90a"));
    ss_gpu_info old = h100;
    old.cusparselt_version = 510;
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "0.5.10"));
    old.cusparselt_version = 0;
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8), SS_ERR_UNSUPPORTED);
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUBLASLT, SS_GEMM_INT8), SS_OK);
    ss_gpu_info b200 = {.name = "B200", .cc_major = 10, .cc_minor = 0, .cusparselt_version = 800};
    /* FP4 (NVFP4 through cuBLASLt) on Blackwell; cuSPARSELt's FP4 is paired 4:8, which slid weights are not */
    assert_int_equal(ss_gemm_supported_on(&b200, k_all, SS_BACKEND_CUBLASLT, SS_GEMM_FP4E2M1), SS_OK);
    assert_int_equal(ss_gemm_supported_on(&b200, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_FP4E2M1), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "paired 4:8"));
}

/* cuSPARSELt's version numbers as cusparseLtGetVersion returns them: 0.8.0
 * and 0.9.1 from headers of the old form (major*1000 + minor*100 + patch),
 * 0.10.0 of the new (major*1000000 + ...), which the old decoding printed as
 * "1.0.0"; the folder tag carries the decoded version. */
static void test_cusparselt_version(void **s) {
    (void)s;
    char buf[32];
    const struct { int v; const char *s; int major, minor, patch; } cases[] = {
        {800, "0.8.0", 0, 8, 0},  {801, "0.8.1", 0, 8, 1},        {901, "0.9.1", 0, 9, 1},
        {1000, "0.10.0", 0, 10, 0}, {510, "0.5.10", 0, 5, 10}, {1000000, "1.0.0", 1, 0, 0},
        {1002003, "1.20.3", 1, 20, 3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int a = -1, b = -1, c = -1;
        ss_cusparselt_version_split(cases[i].v, &a, &b, &c);
        assert_int_equal(a, cases[i].major);
        assert_int_equal(b, cases[i].minor);
        assert_int_equal(c, cases[i].patch);
        assert_string_equal(ss_cusparselt_version_str(cases[i].v, buf, sizeof buf), cases[i].s);
        assert_int_equal(SS_CUSPARSELT_VERSION_OF(a, b, c), cases[i].v);
    }
    assert_string_equal(ss_cusparselt_version_str(0, buf, sizeof buf), "none");
    assert_string_equal(ss_cublaslt_version_str(130100, buf, sizeof buf), "13.1.0");
    /* the 0.10.0 number read by the old decoding: what the H200 report showed */
    assert_string_not_equal(ss_cusparselt_version_str(1000, buf, sizeof buf), "1.0.0");
    ss_gpu_info old = {.name = "H200", .cc_major = 9, .cc_minor = 0, .cusparselt_version = 510};
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "cuSPARSELt 0.5.10 predates"));
    old.cusparselt_version = 1000; /* 0.10.0 is newer than 0.6.0 */
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_INT8), SS_OK);
    assert_int_equal(ss_gemm_supported_on(&old, k_all, SS_BACKEND_CUSPARSELT, SS_GEMM_FP16), SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "not retried with 0.10.0"));
}

/* Without a device every GPU entry point says so instead of crashing. */
static void test_no_device_message(void **s) {
    (void)s;
    if (ss_gpu_count() > 0) {
        print_message("a CUDA device is present; the no-device path is not exercised here\n");
        return;
    }
#ifdef SS_HAVE_CUDA
    const ss_status want = SS_ERR_CUDA; /* a build with CUDA on a machine without a device */
#else
    const ss_status want = SS_ERR_UNSUPPORTED; /* exit code 3: unsupported on this build */
#endif
    ss_gemm_ctx *ctx = (ss_gemm_ctx *)1;
    assert_int_equal(ss_gemm_ctx_create(0, NULL, NULL, &ctx), want);
    assert_null(ctx);
    assert_non_null(strstr(ss_errmsg(), "no CUDA device"));
    ss_gpu_info info;
    assert_int_equal(ss_gpu_info_get(0, &info), want);
    assert_non_null(strstr(ss_errmsg(), "no CUDA device"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dequant_ref_order_and_types), cmocka_unit_test(test_acc_ref),
        cmocka_unit_test(test_names_roundtrip),             cmocka_unit_test(test_output_mode_table),
        cmocka_unit_test(test_skip_logic),                  cmocka_unit_test(test_no_device_message),
        cmocka_unit_test(test_cusparselt_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
