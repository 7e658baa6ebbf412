/* wgmma instructions of our Hopper GEMM (sm_90a only), as device functions
 * over accumulator arrays: sparse (2:4 operand A, k64) and dense (k32), INT8
 * (s32 accumulators) and FP8 E4M3 (f32 accumulators), N = 64, 128, 192 or 256.
 * A and B come from shared memory through descriptors (ours_gemm.cu);
 * scale_d 0 overwrites the accumulators (the first k-step of a tile), 1 adds.
 * The register lists are spelled out because inline PTX takes only literal
 * operand numbers. */
#ifndef SS_GEMM_OURS_WGMMA_CUH
#define SS_GEMM_OURS_WGMMA_CUH

#include <stdint.h>

#include "gemm/arch_guard.cuh"

#define SS_WG_D32 "{" \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31" "}"
#define SS_WG_OPS32(C, d) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31])

#define SS_WG_D64 "{" \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63" "}"
#define SS_WG_OPS64(C, d) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31]), \
    C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]), \
    C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]), \
    C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), \
    C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63])

#define SS_WG_D96 "{" \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
    "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95" "}"
#define SS_WG_OPS96(C, d) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31]), \
    C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]), \
    C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]), \
    C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), \
    C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63]), \
    C(d[64]), C(d[65]), C(d[66]), C(d[67]), C(d[68]), C(d[69]), C(d[70]), C(d[71]), \
    C(d[72]), C(d[73]), C(d[74]), C(d[75]), C(d[76]), C(d[77]), C(d[78]), C(d[79]), \
    C(d[80]), C(d[81]), C(d[82]), C(d[83]), C(d[84]), C(d[85]), C(d[86]), C(d[87]), \
    C(d[88]), C(d[89]), C(d[90]), C(d[91]), C(d[92]), C(d[93]), C(d[94]), C(d[95])

#define SS_WG_D128 "{" \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, " \
    "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, " \
    "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, " \
    "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, " \
    "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, " \
    "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, " \
    "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, " \
    "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127" "}"
#define SS_WG_OPS128(C, d) \
    C(d[0]), C(d[1]), C(d[2]), C(d[3]), C(d[4]), C(d[5]), C(d[6]), C(d[7]), \
    C(d[8]), C(d[9]), C(d[10]), C(d[11]), C(d[12]), C(d[13]), C(d[14]), C(d[15]), \
    C(d[16]), C(d[17]), C(d[18]), C(d[19]), C(d[20]), C(d[21]), C(d[22]), C(d[23]), \
    C(d[24]), C(d[25]), C(d[26]), C(d[27]), C(d[28]), C(d[29]), C(d[30]), C(d[31]), \
    C(d[32]), C(d[33]), C(d[34]), C(d[35]), C(d[36]), C(d[37]), C(d[38]), C(d[39]), \
    C(d[40]), C(d[41]), C(d[42]), C(d[43]), C(d[44]), C(d[45]), C(d[46]), C(d[47]), \
    C(d[48]), C(d[49]), C(d[50]), C(d[51]), C(d[52]), C(d[53]), C(d[54]), C(d[55]), \
    C(d[56]), C(d[57]), C(d[58]), C(d[59]), C(d[60]), C(d[61]), C(d[62]), C(d[63]), \
    C(d[64]), C(d[65]), C(d[66]), C(d[67]), C(d[68]), C(d[69]), C(d[70]), C(d[71]), \
    C(d[72]), C(d[73]), C(d[74]), C(d[75]), C(d[76]), C(d[77]), C(d[78]), C(d[79]), \
    C(d[80]), C(d[81]), C(d[82]), C(d[83]), C(d[84]), C(d[85]), C(d[86]), C(d[87]), \
    C(d[88]), C(d[89]), C(d[90]), C(d[91]), C(d[92]), C(d[93]), C(d[94]), C(d[95]), \
    C(d[96]), C(d[97]), C(d[98]), C(d[99]), C(d[100]), C(d[101]), C(d[102]), C(d[103]), \
    C(d[104]), C(d[105]), C(d[106]), C(d[107]), C(d[108]), C(d[109]), C(d[110]), C(d[111]), \
    C(d[112]), C(d[113]), C(d[114]), C(d[115]), C(d[116]), C(d[117]), C(d[118]), C(d[119]), \
    C(d[120]), C(d[121]), C(d[122]), C(d[123]), C(d[124]), C(d[125]), C(d[126]), C(d[127])

#define SS_WG_R(x) "+r"(x)
#define SS_WG_F(x) "+f"(x)

/* sparse: d, desc_a, desc_b, metadata e, sparsity selector 0 (8-bit types
 * take their metadata from every thread), scale-d predicate */
#define SS_DEF_WGMMA_SP(NAME, BN, NR, TYPES, C, T, EXTRA, IA, IB, IE, IP)                                          \
    __device__ __forceinline__ void NAME(T(&d)[NR], uint64_t da, uint64_t db, uint32_t e, uint32_t scale_d) {      \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #IP ", 0;\n"                                            \
                     "wgmma.mma_async.sp.sync.aligned.m64n" #BN "k64." TYPES " " SS_WG_D##NR ", %" #IA ", %" #IB  \
                     ", %" #IE ", 0, p" EXTRA ";\n}\n"                                                             \
                     : SS_WG_OPS##NR(C, d)                                                                         \
                     : "l"(da), "l"(db), "r"(e), "r"(scale_d));                                                    \
    }
/* dense: d, desc_a, desc_b, scale-d predicate */
#define SS_DEF_WGMMA_DN(NAME, BN, NR, TYPES, C, T, EXTRA, IA, IB, IP)                                              \
    __device__ __forceinline__ void NAME(T(&d)[NR], uint64_t da, uint64_t db, uint32_t scale_d) {                  \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %" #IP ", 0;\n"                                            \
                     "wgmma.mma_async.sync.aligned.m64n" #BN "k32." TYPES " " SS_WG_D##NR ", %" #IA ", %" #IB     \
                     ", p" EXTRA ";\n}\n"                                                                          \
                     : SS_WG_OPS##NR(C, d)                                                                         \
                     : "l"(da), "l"(db), "r"(scale_d));                                                            \
    }

#if SS_SM90A_DEVICE
/* FP8 takes the input scales (+1: no negation) as immediates; INT8 has none */
SS_DEF_WGMMA_SP(wgmma_sp_s8_256, 256, 128, "s32.s8.s8", SS_WG_R, uint32_t, "", 128, 129, 130, 131)
SS_DEF_WGMMA_SP(wgmma_sp_s8_192, 192, 96, "s32.s8.s8", SS_WG_R, uint32_t, "", 96, 97, 98, 99)
SS_DEF_WGMMA_SP(wgmma_sp_s8_128, 128, 64, "s32.s8.s8", SS_WG_R, uint32_t, "", 64, 65, 66, 67)
SS_DEF_WGMMA_SP(wgmma_sp_s8_64, 64, 32, "s32.s8.s8", SS_WG_R, uint32_t, "", 32, 33, 34, 35)
SS_DEF_WGMMA_SP(wgmma_sp_e4m3_256, 256, 128, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 128, 129, 130, 131)
SS_DEF_WGMMA_SP(wgmma_sp_e4m3_192, 192, 96, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 96, 97, 98, 99)
SS_DEF_WGMMA_SP(wgmma_sp_e4m3_128, 128, 64, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 64, 65, 66, 67)
SS_DEF_WGMMA_SP(wgmma_sp_e4m3_64, 64, 32, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 32, 33, 34, 35)
SS_DEF_WGMMA_DN(wgmma_s8_256, 256, 128, "s32.s8.s8", SS_WG_R, uint32_t, "", 128, 129, 130)
SS_DEF_WGMMA_DN(wgmma_s8_192, 192, 96, "s32.s8.s8", SS_WG_R, uint32_t, "", 96, 97, 98)
SS_DEF_WGMMA_DN(wgmma_s8_128, 128, 64, "s32.s8.s8", SS_WG_R, uint32_t, "", 64, 65, 66)
SS_DEF_WGMMA_DN(wgmma_s8_64, 64, 32, "s32.s8.s8", SS_WG_R, uint32_t, "", 32, 33, 34)
SS_DEF_WGMMA_DN(wgmma_e4m3_256, 256, 128, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 128, 129, 130)
SS_DEF_WGMMA_DN(wgmma_e4m3_192, 192, 96, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 96, 97, 98)
SS_DEF_WGMMA_DN(wgmma_e4m3_128, 128, 64, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 64, 65, 66)
SS_DEF_WGMMA_DN(wgmma_e4m3_64, 64, 32, "f32.e4m3.e4m3", SS_WG_F, float, ", 1, 1", 32, 33, 34)

/* One call per (sparse, fp8, BN). */
template <int BN, bool SPARSE, bool FP8> struct ss_wgmma;
#define SS_WGMMA_SP_CASE(BN, FP8, T, FN)                                                                           \
    template <> struct ss_wgmma<BN, true, FP8> {                                                                    \
        __device__ __forceinline__ static void run(T(&d)[BN / 2], uint64_t da, uint64_t db, uint32_t e,            \
                                                   uint32_t sd) { FN(d, da, db, e, sd); }                           \
    };
#define SS_WGMMA_DN_CASE(BN, FP8, T, FN)                                                                           \
    template <> struct ss_wgmma<BN, false, FP8> {                                                                   \
        __device__ __forceinline__ static void run(T(&d)[BN / 2], uint64_t da, uint64_t db, uint32_t,              \
                                                   uint32_t sd) { FN(d, da, db, sd); }                              \
    };
SS_WGMMA_SP_CASE(256, false, uint32_t, wgmma_sp_s8_256)
SS_WGMMA_SP_CASE(192, false, uint32_t, wgmma_sp_s8_192)
SS_WGMMA_SP_CASE(128, false, uint32_t, wgmma_sp_s8_128)
SS_WGMMA_SP_CASE(64, false, uint32_t, wgmma_sp_s8_64)
SS_WGMMA_SP_CASE(256, true, float, wgmma_sp_e4m3_256)
SS_WGMMA_SP_CASE(192, true, float, wgmma_sp_e4m3_192)
SS_WGMMA_SP_CASE(128, true, float, wgmma_sp_e4m3_128)
SS_WGMMA_SP_CASE(64, true, float, wgmma_sp_e4m3_64)
SS_WGMMA_DN_CASE(256, false, uint32_t, wgmma_s8_256)
SS_WGMMA_DN_CASE(192, false, uint32_t, wgmma_s8_192)
SS_WGMMA_DN_CASE(128, false, uint32_t, wgmma_s8_128)
SS_WGMMA_DN_CASE(64, false, uint32_t, wgmma_s8_64)
SS_WGMMA_DN_CASE(256, true, float, wgmma_e4m3_256)
SS_WGMMA_DN_CASE(192, true, float, wgmma_e4m3_192)
SS_WGMMA_DN_CASE(128, true, float, wgmma_e4m3_128)
SS_WGMMA_DN_CASE(64, true, float, wgmma_e4m3_64)
#endif

#endif
