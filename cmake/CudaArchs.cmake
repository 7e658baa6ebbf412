# Which GPU architectures the CUDA code is compiled for (README: "GPUs").
#   default (SS_CUDA_ARCHS=all): every architecture nvcc 13 supports that has
#     the tensor-core features we use, as SASS, plus PTX of the newest so the
#     driver can compile it for later GPUs:
#       sm_80 (A100), sm_86 (RTX 30xx, A10/A40), sm_89 (RTX 40xx, L4/L40: FP8),
#       sm_90a (H100/H200: wgmma, TMA), sm_100a (B200/GB200), sm_120a
#       (RTX 50xx / RTX PRO 6000), compute_120 PTX (e.g. GB10's cc 12.1).
#     Arch-specific images ("a") run only on their own compute capability;
#     kernels with Hopper-only instructions (our GEMMs ours_gemm*.cu, the
#     wgmma prefill attention) get a real body only in sm_90a and a trap in
#     the others (src/gemm/arch_guard.cuh). The slow build: every .cu is
#     compiled seven times.
#   SS_CUDA_ARCHS=native: only the GPU of this machine (asked of nvidia-smi),
#     e.g. 90a-real on an H100/H200: the fast build (scripts/gpu-*.sh use it).
#   SS_CUDA_ARCHS=hopper: sm_90a only (SASS + PTX), without asking a GPU.
#   -DCMAKE_CUDA_ARCHITECTURES=LIST overrides all three (e.g. 90a for one arch).
# The list is compiled into the run time (src/gemm/arch.c), which reports a
# GPU the build has no image for as skipped, and scripts/check-cuda-archs.sh
# (the ctest check_cuda_archs) checks that every kernel object holds every
# listed image.
set(SS_CUDA_ARCHS_ALL "80-real;86-real;89-real;90a-real;100a-real;120a-real;120-virtual")

function(ss_native_cuda_archs out)
  find_program(_nvsmi nvidia-smi)
  if(_nvsmi)
    execute_process(COMMAND ${_nvsmi} --query-gpu=compute_cap --format=csv,noheader
      OUTPUT_VARIABLE _caps RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  endif()
  if(NOT _nvsmi OR NOT _rc EQUAL 0 OR NOT _caps MATCHES "^[0-9]+\\.[0-9]+")
    message(FATAL_ERROR "SS_CUDA_ARCHS=native: no GPU answered nvidia-smi on this machine; "
      "name the architecture instead, e.g. -DCMAKE_CUDA_ARCHITECTURES=90a (H100/H200)")
  endif()
  string(REPLACE "\n" ";" _caps "${_caps}")
  set(_list "")
  foreach(_c ${_caps})
    string(STRIP "${_c}" _c)
    string(REPLACE "." "" _sm "${_c}")
    # arch-specific features exist (and our Hopper kernels need them) on 9.0 and later
    if(_sm GREATER_EQUAL 90)
      set(_sm "${_sm}a")
    endif()
    list(APPEND _list "${_sm}-real")
  endforeach()
  list(REMOVE_DUPLICATES _list)
  set(${out} "${_list}" PARENT_SCOPE)
endfunction()

if(CMAKE_CUDA_ARCHITECTURES STREQUAL "native" OR (NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND SS_CUDA_ARCHS STREQUAL "native"))
  ss_native_cuda_archs(_native)
  set(CMAKE_CUDA_ARCHITECTURES "${_native}") # not cached: the next configure asks the GPU again
elseif(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  if(SS_CUDA_ARCHS STREQUAL "all")
    set(CMAKE_CUDA_ARCHITECTURES "${SS_CUDA_ARCHS_ALL}")
  elseif(SS_CUDA_ARCHS STREQUAL "hopper")
    set(CMAKE_CUDA_ARCHITECTURES "90a") # SASS + PTX, as before
  else()
    message(FATAL_ERROR "SS_CUDA_ARCHS='${SS_CUDA_ARCHS}': expected all, native or hopper "
      "(or give the list as -DCMAKE_CUDA_ARCHITECTURES=...)")
  endif()
elseif(CMAKE_CUDA_ARCHITECTURES MATCHES "^all")
  message(FATAL_ERROR "CMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES}: name the architectures "
    "(the default is ${SS_CUDA_ARCHS_ALL}), so the run time knows which images it has")
endif()
message(STATUS "CUDA architectures: ${CMAKE_CUDA_ARCHITECTURES}")
