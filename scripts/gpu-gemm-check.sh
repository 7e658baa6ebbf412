#!/usr/bin/env bash
# One GPU-machine session for the GEMM layer: build only its targets, run its
# GPU tests (verbose, so every case's line is kept), the kernel benchmark and
# the PyTorch peer; everything is logged under $OUT (or ./out).
#   CUSPARSELT_ROOT=... bash scripts/gpu-gemm-check.sh [ss_kbench args]
# Env: SS_GPU_BUILD (build folder, default /tmp/bgpu), SS_SKIP_TESTS=1,
#      SS_SKIP_BENCH=1, SS_SKIP_PEER=1, SS_PEER_ARGS.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
build=${SS_GPU_BUILD:-/tmp/bgpu}
csl=${CUSPARSELT_ROOT:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cusparselt}
mkdir -p "$out"
date -u +"%Y-%m-%dT%H:%M:%SZ" | tee "$out/nvidia-smi.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu \
  --format=csv 2>&1 | tee -a "$out/nvidia-smi.txt"
t0=$(date +%s)
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DSS_WERROR=ON -DSS_CUDA_ARCHS="${SS_CUDA_ARCHS:-native}" \
     -DCUSPARSELT_ROOT="$csl" >/tmp/ss-build.log 2>&1; then
  cp /tmp/ss-build.log "$out/build.log"; echo "configure failed:"; tail -30 /tmp/ss-build.log; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" --target test_gemm_gpu test_gemm_ref test_tune test_kbench_gpu ss_kbench >>/tmp/ss-build.log 2>&1; then
  cp /tmp/ss-build.log "$out/build.log"; echo "build failed:"; grep -E "error|Error" /tmp/ss-build.log | head -40; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
export LD_LIBRARY_PATH="$csl/lib:${LD_LIBRARY_PATH:-}"
if [ -z "${SS_SKIP_TESTS:-}" ]; then
  timeout 300 ctest --test-dir "$build" -R "${SS_TESTS:-test_(gemm_gpu|gemm_ref|tune|kbench_gpu)\$}" -V >"$out/ctest.log" 2>&1
  grep -E "^[0-9]+: (skipped|\[  FAILED|\[  PASSED|\[  ERROR)|tests passed|Passed|Failed|Skipped|\*\*\*" "$out/ctest.log" | tail -30
  grep -E "^[0-9]+: .*(reference|round trip:|exact |scale\[|X'\[|->)" "$out/ctest.log" | head -40
fi
if [ -z "${SS_SKIP_BENCH:-}" ]; then
  timeout ${SS_BENCH_TIMEOUT:-300} "$build/src/bench/ss_kbench" --csv "$out/kbench.csv" "$@" >"$out/kbench.log" 2>&1
  echo "ss_kbench rc=$?"; grep -v "^[a-z0-9]* [0-9a-z_]* N=" "$out/kbench.log"
fi
if [ -n "${SS_BENCH2_ARGS:-}" ]; then  # a second, smaller sweep (other dtypes)
  timeout 200 "$build/src/bench/ss_kbench" --csv "$out/kbench2.csv" $SS_BENCH2_ARGS >"$out/kbench2.log" 2>&1
  echo "ss_kbench (2) rc=$?"; grep -v "^[a-z0-9]* [0-9a-z_]* N=" "$out/kbench2.log"
fi
if [ -z "${SS_SKIP_PEER:-}" ]; then
  PYTHONUNBUFFERED=1 timeout ${SS_PEER_TIMEOUT:-150} python3 "$root/scripts/peer_gemm.py" --csv "$out/peer.csv" ${SS_PEER_ARGS:-} >"$out/peer.log" 2>&1
  echo "peer rc=$?"; grep -v ": done$" "$out/peer.log"
fi
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader | tee -a "$out/nvidia-smi.txt"
echo "total: $(( $(date +%s) - t0 )) s"
