#!/usr/bin/env bash
# The GPU engine's device run in one command (issue 5): builds only what the
# engine and its benchmark need (Release, no sanitizers), runs their tests
# (GPU and CPU), then the throughput benchmark on synthetic BitNet-2B models.
# Logs and a tarball of the result tree go to $OUT (or ./out).
#   SS_GPU_BUILD=/tmp/beng CUSPARSELT_ROOT=... bash scripts/gpu-engine.sh [ss_tpbench args]
# Without arguments the benchmark is skipped (tests only).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_GPU_BUILD:-$root/build-gpu-engine}
out=${OUT:-$root/out}
mkdir -p "$out"
extra=()
[ -n "${CUSPARSELT_ROOT:-}" ] && extra+=(-DCUSPARSELT_ROOT="$CUSPARSELT_ROOT")
t0=$(date +%s)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DSS_CUDA_ARCHS="${SS_CUDA_ARCHS:-native}" "${extra[@]}" >"$out/cmake.log" 2>&1 || {
  tail -30 "$out/cmake.log"; exit 1; }
targets=(test_engine_plan test_bench_cuda test_engine_cuda_kernels test_engine_cuda ss_tpbench)
cmake --build "$build" -j "${SS_JOBS:-$(nproc)}" --target "${targets[@]}" >"$out/build.log" 2>&1 || {
  grep -E "error|Error" "$out/build.log" | head -40; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
nvidia-smi --query-gpu=name,compute_cap,clocks.sm,clocks.max.sm,power.draw,power.limit,memory.used,memory.total \
  --format=csv >"$out/gpu.txt" 2>&1; cat "$out/gpu.txt"
ctest --test-dir "$build" --output-on-failure -R "test_engine_plan|test_bench_cuda|test_engine_cuda" \
  >"$out/tests.log" 2>&1
rc=$?
grep -E "^ +[a-z].* ok |rel L2|bit-identical|identical|==|tests passed|Failed|FAILED|Error|error" "$out/tests.log" | head -80
echo "tests rc=$rc ($(( $(date +%s) - t0 )) s)"
# The GPU tests' own lines (measured tolerances), verbose
for t in test_engine_cuda_kernels test_engine_cuda; do "$build/tests/$t" >"$out/$t.txt" 2>&1; done
grep -hE "rel L2|identical|==|differ\)" "$out"/test_engine_cuda*.txt | head -40 >"$out/tests_detail.txt"
rm -f "$out"/test_engine_cuda*.txt "$out/cmake.log" "$out/build.log" # at most 8 files come back
if [ $# -gt 0 ]; then
  res=/tmp/ss_tpbench_results; rm -rf "$res"
  deadline=$(( $(date +%s) + ${SS_BENCH_TIMEOUT:-3000} ))
  if [ "$1" = "--jobs" ]; then
    # --jobs "dtype:sparsity:stages ..." (stages p, d or pd), then common ss_tpbench args;
    # each job its own process, stopped at the deadline so the results so far come back
    jobs=$2; shift 2
    for job in $jobs; do
      IFS=: read -r dt sp stg <<<"$job"
      left=$(( deadline - $(date +%s) )); [ "$left" -le 5 ] && { echo "skipped (time): $job"; continue; }
      pm=(); dm=()
      [[ $stg == *p* ]] || pm=(--prefill-m 0)
      [[ $stg == *d* ]] || dm=(--decode-m 0)
      timeout "$left" "$build/src/bench/ss_tpbench" --results "$res" --synth "${SS_SYNTH:-bitnet-2b}" --dtype "$dt" \
        --sparsity "$sp" "${pm[@]}" "${dm[@]}" "$@" 2>>"$out/bench.log" | grep -E "^(prefill|decode) " |
        tee -a "$out/bench_summary.txt"
    done
  else
    # stop short of the device call's limit, so the results so far still come back
    timeout "$(( deadline - $(date +%s) ))" "$build/src/bench/ss_tpbench" --results "$res" "$@" 2>"$out/bench.log" |
      tee "$out/bench_summary.txt"
  fi
  echo "bench done ($(( $(date +%s) - t0 )) s)"
  grep -E "error|warning" "$out/bench.log" | head -20
  tar -czf "$out/results.tar.gz" -C "$res" . 2>/dev/null
fi
exit $rc
