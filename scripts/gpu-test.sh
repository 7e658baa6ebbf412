#!/usr/bin/env bash
# The GPU tests in one command, for a machine with an NVIDIA GPU (sm_90a for
# the 8-bit sparse paths). Optimised build without sanitizers (ASan and the
# CUDA driver do not mix well); pass CUSPARSELT_ROOT to use an installed
# cuSPARSELt instead of the one scripts/setup.sh unpacks.
#   bash scripts/gpu-test.sh [ctest args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_GPU_BUILD:-$root/build-gpu}
extra=()
if [ -n "${CUSPARSELT_ROOT:-}" ]; then extra+=(-DCUSPARSELT_ROOT="$CUSPARSELT_ROOT"); else bash "$root/scripts/setup.sh"; fi
# Default SS_CUDA_ARCHS=native: only this GPU's architecture, so the device build stays fast;
# SS_CUDA_ARCHS=all tests the project's default build, every listed image (README "GPUs")
extra+=(-DSS_CUDA_ARCHS="${SS_CUDA_ARCHS:-native}")
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON "${extra[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
ctest --test-dir "$build" --output-on-failure -L gpu "$@"
