#!/usr/bin/env bash
# Runs a command as on a machine without the CUDA toolkit: every PATH folder
# holding an `nvcc` is dropped and the variables CMake would follow to a CUDA
# compiler or toolkit are unset, so `SS_CUDA=AUTO` (the default) configures
# the CPU-only build. CI uses it to build and test that configuration.
#   bash scripts/without-cuda.sh bash scripts/test.sh
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
kept=()
IFS=: read -r -a dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] && [ ! -e "$d/nvcc" ] && kept+=("$d")
done
PATH=$(IFS=:; echo "${kept[*]}")
export PATH
unset CUDACXX CMAKE_CUDA_COMPILER CUDA_PATH CUDA_HOME CUDA_ROOT CUDAToolkit_ROOT CUDA_TOOLKIT_ROOT_DIR CUSPARSELT_ROOT
if command -v nvcc >/dev/null 2>&1; then
  echo "error: without-cuda: nvcc is still found at $(command -v nvcc)" >&2
  exit 1
fi
for tool in cmake cc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: without-cuda: '$tool' shares a folder with nvcc and is hidden too" >&2; exit 1; }
done
exec "$@"
