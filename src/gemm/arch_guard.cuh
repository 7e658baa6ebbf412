// Device-code guards for kernels that use Hopper-only instructions (wgmma,
// TMA / cp.async.bulk.tensor, setmaxnreg: sm_90a's arch-specific features).
//
// A multi-architecture build compiles every kernel once per image (sm_80,
// sm_86, sm_89, sm_90a, sm_100a, sm_120a, compute_120 PTX). Such a kernel
// must still compile for the others, so its body is wrapped:
//
//   __global__ void my_wgmma_kernel(...) {
//   #if SS_SM90A_DEVICE
//       ... wgmma / TMA code ...
//   #else
//       SS_GPUARCH_TRAP();   // never launched there: gemm/arch.c does not choose it
//   #endif
//   }
//
// and its host code launches it only when ss_gpuarch_select(..., SS_OP_GEMM_OURS
// ...) says it runs (compute capability 9.0 with an sm_90a image). The trap
// is a second line of defence: a launch on another image fails loudly
// ("unspecified launch failure") instead of computing garbage.
#ifndef SS_GEMM_ARCH_GUARD_CUH
#define SS_GEMM_ARCH_GUARD_CUH

// nvcc defines __CUDA_ARCH_FEAT_SM90_ALL only while compiling the sm_90a
// image (not plain sm_90, nor the host pass).
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define SS_SM90A_DEVICE 1
#else
#define SS_SM90A_DEVICE 0
#endif

// 1 in the device passes of images with the FP8 conversion instructions (sm_89+).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
#define SS_FP8_DEVICE 1
#else
#define SS_FP8_DEVICE 0
#endif

#define SS_GPUARCH_TRAP() __trap()

#endif
