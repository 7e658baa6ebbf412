#!/usr/bin/env bash
# Installs what the build needs, builds SlideSparse-C (Release; CUDA layers
# when nvcc is present) and runs the main job: `slidesparse pipeline` on its
# default preset (the full BitNet-2B run on a GPU, the small `tiny` preset on
# the CPU reference backend otherwise). Extra arguments go to the pipeline,
# e.g. `bash scripts/run.sh --preset tiny --out out/tiny`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_BUILD:-$root/build-release}
extra=()
if [ -n "${CUSPARSELT_ROOT:-}" ]; then extra+=(-DCUSPARSELT_ROOT="$CUSPARSELT_ROOT"); else bash "$root/scripts/setup.sh"; fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${extra[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)" --target slidesparse
cd "$root"
exec "$build/src/cli/slidesparse" pipeline "$@"
