#!/usr/bin/env bash
# Issue 16's device run in one command: builds the engine, its tests and
# benchmarks (Release, sm_90a), runs
#   1. the engine's GPU tests (every kernel against its CPU twin, the
#      end-to-end checks), then the end-to-end test again with the old
#      decode kernel as the engine default (SS_ATTN_DECODE=old);
#   2. ss_attnbench: the attention kernels alone, old against new, against
#      the measured copy bandwidth (decode) and in TFLOP/s (prefill);
#   3. ss_tpbench --kernels old,new,new-bf16,new-wgmma,new-fp8kv: prefill M=32768 and decode M=512 on
#      synthetic BitNet-2B (FP8 dense by default), the per-kernel split
#      (GEMM / attention / other) of both in one process.
# Logs under $OUT (or ./out); the last lines printed are the summary table.
#   CUSPARSELT_ROOT=... bash scripts/gpu-i16.sh            # all three
#   SS_I16_STEPS="1 2" bash scripts/gpu-i16.sh             # a subset
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
nvidia-smi --query-gpu=name,compute_cap,clocks.sm,clocks.max.sm,power.draw,power.limit,memory.used,memory.total \
  --format=csv >"$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
rc=0
if [[ " $steps " == *" 1 "* ]]; then
  ctest --test-dir "$build" --output-on-failure -R "test_engine_(plan|kernels_ref|cuda)" >"$out/tests.log" 2>&1 || rc=1
  grep -E "tests passed|Failed|FAILED|\*\*\*" "$out/tests.log" | head -20
  for t in test_engine_cuda_kernels test_engine_cuda; do "$build/tests/$t" >"$out/$t.txt" 2>&1 || rc=1; done
  SS_ATTN_DECODE=old "$build/tests/test_engine_cuda" >"$out/test_engine_cuda_old_decode.txt" 2>&1 || rc=1
  grep -hE "rel L2|identical|==|FAILED|PASSED" "$out"/test_engine_cuda*.txt | head -80 >"$out/tests_detail.txt"
  grep -hE "FAILED|PASSED" "$out"/test_engine_cuda*.txt
  echo "tests rc=$rc ($(( $(date +%s) - t0 )) s)"
fi
if [[ " $steps " == *" 2 "* ]]; then
  "$build/src/bench/ss_attnbench" --csv "$out/attnbench.csv" >"$out/attnbench.txt" 2>&1 || rc=1
  echo "attnbench done ($(( $(date +%s) - t0 )) s)"
fi
if [[ " $steps " == *" 3 "* ]]; then
  res=/tmp/ss_i16_results; rm -rf "$res"
  timeout "${SS_BENCH_TIMEOUT:-1500}" "$build/src/bench/ss_tpbench" --results "$res" --synth bitnet-2b \
    --dtype "${SS_I16_DTYPES:-fp8}" --sparsity "${SS_I16_SPARSITY:-dense}" --prefill-m 32768 --decode-m 512 \
    --kernels old,new,new-bf16,new-wgmma,new-fp8kv >"$out/tpbench.txt" 2>"$out/tpbench.log" || rc=1
  tar -czf "$out/tpbench_results.tar.gz" -C "$res" . 2>/dev/null
  echo "tpbench done ($(( $(date +%s) - t0 )) s)"
  grep -E "error|warning" "$out/tpbench.log" | head -10
fi
rm -f "$out/cmake.log"
echo "== summary =="
[ -f "$out/attnbench.txt" ] && cat "$out/attnbench.txt"
[ -f "$out/tpbench.txt" ] && sed -n '/throughput summary/,$p' "$out/tpbench.txt"
exit $rc
