#!/usr/bin/env bash
# Issue 16's device run: builds the engine, its tests and benchmarks
# (Release, sm_90a), then
#   1. the engine's GPU tests (every kernel against its CPU twin, the
#      end-to-end checks), and the end-to-end test again with the old decode
#      kernel as the engine default (SS_ATTN_DECODE=old);
#   2. ss_attnbench: the attention kernels alone, old against new, against
#      the measured copy bandwidth (decode) and in TFLOP/s (prefill);
#   3. ss_tpbench --kernels old,new,new-mma,new-bf16,new-wgmma,new-fp8kv: prefill
#      M=32768 and decode M=512 on synthetic BitNet-2B (FP8 dense by
#      default), tokens/s and the GEMM / attention / other split of each.
# Logs under $OUT (or ./out); the last lines printed are the summary. Each
# step fits a 10-minute device call; run them in separate calls if the
# build is cold (the build folder is kept between calls of a warm machine):
#   CUSPARSELT_ROOT=... SS_I16_STEPS="1 2" bash scripts/gpu-i16.sh
#   CUSPARSELT_ROOT=... SS_I16_STEPS=3 bash scripts/gpu-i16.sh
#   SS_I16_DTYPES=fp8,int8 SS_I16_SPARSITY=dense,2_4 ...   # more points for step 3
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_GPU_BUILD:-$root/build-gpu-i16}
out=${OUT:-$root/out}
steps=${SS_I16_STEPS:-1 2 3}
mkdir -p "$out"
extra=()
[ -n "${CUSPARSELT_ROOT:-}" ] && extra+=(-DCUSPARSELT_ROOT="$CUSPARSELT_ROOT")
t0=$(date +%s)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a "${extra[@]}" \
  >"$out/cmake.log" 2>&1 || { tail -30 "$out/cmake.log"; exit 1; }
targets=(test_engine_plan test_engine_kernels_ref test_engine_cuda_kernels test_engine_cuda ss_attnbench ss_tpbench)
cmake --build "$build" -j "${SS_JOBS:-$(nproc)}" --target "${targets[@]}" >"$out/build.log" 2>&1 || {
  grep -E "error|Error" "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
rm -f "$out/cmake.log" "$out/build.log"
nvidia-smi --query-gpu=name,compute_cap,clocks.sm,clocks.max.sm,power.draw,power.limit,memory.used,memory.total \
  --format=csv >"$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
rc=0
if [[ " $steps " == *" 1 "* ]]; then
  export SS_TEST_DATA="$root/tests/data" SS_SRC="$root"
  for t in test_engine_plan test_engine_kernels_ref test_engine_cuda_kernels test_engine_cuda; do
    timeout 400 "$build/tests/$t" >"$out/$t.txt" 2>&1 || { rc=1; echo "FAILED: $t (see $t.txt)"; }
  done
  SS_ATTN_DECODE=old timeout 300 "$build/tests/test_engine_cuda" >"$out/test_engine_cuda_old_decode.txt" 2>&1 ||
    { rc=1; echo "FAILED: test_engine_cuda with SS_ATTN_DECODE=old"; }
  grep -hE "rel L2|identical|==|differ\)|not available|FAILED|PASSED" "$out"/test_engine_*.txt | head -150 \
    >"$out/tests_detail.txt"
  grep -hE "^\[  (PASSED|FAILED) |ERROR" "$out"/test_engine_*.txt
  echo "tests rc=$rc ($(( $(date +%s) - t0 )) s)"
fi
if [[ " $steps " == *" 2 "* ]]; then
  timeout 300 "$build/src/bench/ss_attnbench" --csv "$out/attnbench.csv" >"$out/attnbench.txt" 2>&1 || rc=1
  echo "attnbench done ($(( $(date +%s) - t0 )) s)"
fi
if [[ " $steps " == *" 3 "* ]]; then
  res=/tmp/ss_i16_results; rm -rf "$res"
  # stops short of a 10-minute device call, so the results so far come back
  timeout "${SS_BENCH_TIMEOUT:-480}" "$build/src/bench/ss_tpbench" --results "$res" --synth bitnet-2b \
    --dtype "${SS_I16_DTYPES:-fp8}" --sparsity "${SS_I16_SPARSITY:-dense}" --prefill-m 32768 --decode-m 512 \
    --kernels "${SS_I16_KERNELS:-old,new,new-mma,new-bf16,new-wgmma,new-fp8kv}" >"$out/tpbench.txt" 2>"$out/tpbench.log" || rc=1
  tar -czf "$out/tpbench_results.tar.gz" -C "$res" . 2>/dev/null
  echo "tpbench done ($(( $(date +%s) - t0 )) s)"
  grep -E "error|warning" "$out/tpbench.log" | head -10
fi
echo "== summary =="
[ -f "$out/attnbench.txt" ] && cat "$out/attnbench.txt"
[ -f "$out/tpbench.txt" ] && sed -n '/throughput summary/,$p' "$out/tpbench.txt"
# if the benchmark was stopped by the timeout, its per-point lines are in the log
[ -f "$out/tpbench.log" ] && grep -E "M=[0-9]+: |kernels\): " "$out/tpbench.log" | tail -20
exit $rc
