#!/usr/bin/env bash
# The GPU tests and a short cuSPARSELt kernel comparison against two
# cuSPARSELt versions in one device run (issue 14: the pin is the newest
# version that passes the GPU tests): the GPU machine's own (torch's wheel)
# and the pinned one (cmake/CUSPARSELT_VERSION), carried in parts made by
# `scripts/fetch-deps.sh --cusparselt DIR` and joined by --assemble.
#   1. calls that carry one part each: cp DIR/cusparselt-*.tar.gz.* /tmp/cslp/
#   2. SS_CSLT_PARTS=/tmp/cslp bash scripts/gpu-cslt-versions.sh
# Each version gets its own Release build (sm_90a) against its own header,
# then `ctest -L gpu` (summary line), `slidesparse info --gpu` (the version
# the run time decodes) and ss_kbench for cuBLASLt and cuSPARSELt at
# SS_KB_M (default 16384), INT8 and FP8, dense/2_4/2_8. Logs under $OUT.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out/gpu-cslt}
mkdir -p "$out"
parts=${SS_CSLT_PARTS:-/tmp/cslp}
ver=$(tr -d ' \n' <"$root/cmake/CUSPARSELT_VERSION")
machine=${CUSPARSELT_ROOT:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cusparselt}
bash "$root/scripts/fetch-deps.sh" --assemble "$parts" >"$out/assemble.log" 2>&1 || { cat "$out/assemble.log"; exit 1; }
pinned=$parts/cusparselt-$ver
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw,temperature.gpu --format=csv | tee "$out/nvidia-smi.txt"
for tag in machine pinned; do
  csl=$machine; [ $tag = pinned ] && csl=$pinned
  b=/tmp/bcslt-$tag
  t0=$(date +%s)
  cmake -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DCUSPARSELT_ROOT="$csl" -DSS_DEPS_DIR="$root/.deps" >"$out/cmake-$tag.log" 2>&1 &&
    cmake --build "$b" -j "$(nproc)" >"$out/build-$tag.log" 2>&1 || { echo "$tag: build failed"; tail -20 "$out/build-$tag.log"; continue; }
  echo "$tag ($csl): build $(( $(date +%s) - t0 )) s; $(grep -m1 -o 'cuSPARSELt [0-9.]* [a-z ]*' "$out/cmake-$tag.log")"
  export LD_LIBRARY_PATH="$csl/lib:$root/.deps/usr/lib/x86_64-linux-gnu"
  ctest --test-dir "$b" -L gpu --output-on-failure >"$out/gputest-$tag.log" 2>&1
  echo "$tag: gpu suite: $(grep -E 'tests passed|tests failed' "$out/gputest-$tag.log")"
  grep -E "\*\*\*|FAILED" "$out/gputest-$tag.log" | head -10
  "$b/src/cli/slidesparse" info --gpu >"$out/info-$tag.txt" 2>&1
  grep -i -m2 "cusparselt" "$out/info-$tag.txt"
  timeout 240 "$b/src/bench/ss_kbench" --backends cublaslt,cusparselt --M "${SS_KB_M:-16384}" --dtypes int8,fp8e4m3 \
    --sparsity dense,2_4,2_8 --csv "$out/kbench-$tag.csv" >"$out/kbench-$tag.log" 2>&1
  grep -v "^#" "$out/kbench-$tag.log" | grep -E "M=|cublaslt|cusparselt"
done
