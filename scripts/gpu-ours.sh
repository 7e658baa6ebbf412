#!/usr/bin/env bash
# One device call for our own Hopper GEMM (issue 15): build; its GPU tests;
# compute-sanitizer (memcheck, racecheck, synccheck) on its small cases; the
# whole GPU suite; the kernel benchmark of every backend (cuBLASLt,
# cuSPARSELt, ours, ours_dense) with SM clock and power. Every stage is
# time-boxed against a deadline so the logs always come back; logs and CSVs
# go to $OUT (the device tool returns at most 8 files: they are tarred).
#   bash scripts/gpu-ours.sh                 # on the GPU machine, .deps carried
# Env: SS_DEADLINE (seconds for the whole call, default 540), SS_KB_M,
#      SS_KB_SPARSITY, SS_KB_DTYPES (kernel benchmark lists), SS_SKIP_SUITE=1,
#      SS_SKIP_SANITIZER=1, CUSPARSELT_ROOT (default: the machine's wheel),
#      SS_DIAG_CFGS / SS_DIAG_FALLBACK_CFGS (configurations tried first; the suite's list if they fail),
#      SS_KB_CFG_TIMEOUT (seconds per configuration run), SS_NCU_ENV (env for the ncu run),
#      SS_EXP_BUILDS / SS_EXP_CFGS (timing-experiment builds of our kernel and the configurations they time).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
final=${OUT:-$root/out/gpu-ours}
out=$final/r
mkdir -p "$out"
build=${SS_GPU_BUILD:-/tmp/bgpu}
csl=${CUSPARSELT_ROOT:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cusparselt}
deadline=$(( $(date +%s) + ${SS_DEADLINE:-540} ))
t0=$(date +%s)
left() { echo $(( deadline - $(date +%s) )); }
pack() { (cd "$final" && tar czf r.tgz r && rm -rf r); }
trap pack EXIT

date -u +"%Y-%m-%dT%H:%M:%SZ" >"$out/nvidia-smi.txt"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu \
  --format=csv >>"$out/nvidia-smi.txt" 2>&1
cat "$out/nvidia-smi.txt"
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
     -DCUSPARSELT_ROOT="$csl" -DSS_DEPS_DIR="$root/.deps" >"$out/cmake.log" 2>&1; then
  echo "configure failed:"; tail -30 "$out/cmake.log"; exit 1
fi
if ! cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1; then
  echo "build failed:"; grep -E "error|Error" "$out/build.log" | head -40; exit 1
fi
echo "build: $(( $(date +%s) - t0 )) s"
export LD_LIBRARY_PATH="$csl/lib:$root/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
gemm_test=$build/tests/test_gemm_gpu

# 1. our kernels against cuBLASLt and the CPU reference (also in the suite: SS_SKIP_OURS_TESTS=1)
[ -z "${SS_SKIP_OURS_TESTS:-}" ] && SS_TEST_FILTER='test_ours*' timeout $(( $(left) > 200 ? 200 : $(left) )) "$gemm_test" >"$out/ours_tests.log" 2>&1
[ -z "${SS_SKIP_OURS_TESTS:-}" ] && { echo "ours tests rc=$? ($(( $(date +%s) - t0 )) s)";
  grep -E "FAILED|PASSED|ERROR|skipped|^ok|LINE" "$out/ours_tests.log" | head -60; }

# 1b. only some configurations, to look at (SS_DIAG_CFGS, e.g. 256x128)
if [ -n "${SS_DIAG_CFGS:-}" ]; then
  SS_TEST_OURS_CFGS=$SS_DIAG_CFGS SS_TEST_FILTER='test_ours_tiles*' timeout 60 "$gemm_test" >"$out/ours_diag.log" 2>&1
  rc=$?; echo "diag $SS_DIAG_CFGS rc=$rc"; grep -E "FAILED|^ok|PASSED" "$out/ours_diag.log" | head -8
  # a configuration that fails or hangs here is left out of the suite, which would otherwise wait on it
  if [ $rc -ne 0 ] && [ -n "${SS_DIAG_FALLBACK_CFGS:-}" ]; then
    export SS_TEST_OURS_CFGS=$SS_DIAG_FALLBACK_CFGS; echo "suite runs SS_TEST_OURS_CFGS=$SS_TEST_OURS_CFGS"
  fi
fi

# 2. compute-sanitizer on the small cases
if [ -z "${SS_SKIP_SANITIZER:-}" ]; then
  for tool in ${SS_SANITIZERS:-memcheck racecheck synccheck}; do
    [ "$(left)" -lt 240 ] && { echo "sanitizer $tool: skipped (time)"; continue; }
    SS_TEST_FILTER='test_ours_int8' timeout 90 compute-sanitizer --tool $tool --error-exitcode 9 "$gemm_test" \
      >"$out/sanitizer_$tool.log" 2>&1
    echo "compute-sanitizer $tool rc=$?: $(grep -E "ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED" "$out/sanitizer_$tool.log" | tr '\n' ' ')"
  done
fi

# 3. the whole GPU suite
if [ -z "${SS_SKIP_SUITE:-}" ] && [ "$(left)" -gt 200 ]; then
  timeout $(( $(left) - 150 )) ctest --test-dir "$build" -L gpu --output-on-failure >"$out/gputest.log" 2>&1
  echo "gpu suite rc=$?: $(grep -E "tests passed|tests failed" "$out/gputest.log")"
  grep -E "Test +#|\*\*\*" "$out/gputest.log" | head -12
fi

# 4. the kernel benchmark, every backend, BitNet's 4 (N, K); then our kernel
#    under each launch configuration of SS_KB_OURS_CFGS (ROWSxTOKENS[cCLUSTER], e.g. "128x128 256x128 256x128c2")
kb() { # name, env..., -- ss_kbench args
  local name=$1; shift
  [ "$(left)" -lt 50 ] && { echo "kbench $name: skipped (time)"; return; }
  local t=$(( $(left) - 40 )); [ -n "${SS_KB_CFG_TIMEOUT:-}" ] && [ "$name" != all ] && [ "$t" -gt "$SS_KB_CFG_TIMEOUT" ] && t=$SS_KB_CFG_TIMEOUT
  env "$@" timeout "$t" "$build/src/bench/ss_kbench" --M "${SS_KB_M:-512,16384}" \
    --dtypes "${SS_KB_DTYPES:-int8,fp8e4m3}" --csv "$out/kbench_$name.csv" "${kbargs[@]}" \
    >"$out/kbench_$name.log" 2>"$out/kbench_$name.err"
  echo "kbench $name rc=$?"; grep -v "^#" "$out/kbench_$name.log"
}
nvidia-smi dmon -s pc -d 1 >"$out/dmon.log" 2>&1 &
dmon=$!
kbargs=(--backends cublaslt,cusparselt,ours,ours_dense --sparsity "${SS_KB_SPARSITY:-dense,2_4,2_6,2_8,2_10}")
[ "${SS_KB_ALL:-1}" = 1 ] && kb all
for cfg in ${SS_KB_OURS_CFGS:-}; do # ROWSxTOKENS[cCLUSTER]
  IFS=x read -r rows rest <<<"$cfg"
  bn=${rest%%c*}; cl=1; [[ "$rest" == *c* ]] && cl=${rest#*c}
  kbargs=(--backends ours,ours_dense --sparsity "${SS_KB_OURS_SPARSITY:-dense,2_4,2_8}")
  kb "ours_$cfg" SS_OURS_ROWS="$rows" SS_OURS_BN="$bn" SS_OURS_CLUSTER="$cl"
done
# 4a. timing experiments (SS_EXP_BUILDS, e.g. "1 2": ours_kernel.cuh's SS_OURS_EXP; wrong sums, timing only)
for e in ${SS_EXP_BUILDS:-}; do
  [ "$(left)" -lt 120 ] && { echo "exp $e: skipped (time)"; continue; }
  eb=$build-exp$e
  cmake -S "$root" -B "$eb" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
    -DCMAKE_CUDA_FLAGS="-DSS_OURS_EXP=$e" -DCUSPARSELT_ROOT="$csl" -DSS_DEPS_DIR="$root/.deps" >"$out/cmake-exp$e.log" 2>&1 &&
    cmake --build "$eb" -j "$(nproc)" --target ss_kbench >"$out/build-exp$e.log" 2>&1 || { echo "exp $e build failed"; continue; }
  for cfg in ${SS_EXP_CFGS:-256x128}; do
    IFS=x read -r rows bn <<<"$cfg"
    kbargs=(--backends ours,ours_dense --sparsity "${SS_KB_OURS_SPARSITY:-dense,2_4,2_8}")
    saved=$build; build=$eb; kb "exp${e}_$cfg" SS_OURS_ROWS="$rows" SS_OURS_BN="$bn" SS_OURS_CLUSTER=1; build=$saved
  done
done
kill $dmon 2>/dev/null

# 4b. end to end: ss_tpbench on synthetic BitNet-2B, sparse on cuSPARSELt and ours (SS_TP_ARGS)
if [ -n "${SS_TP_ARGS:-}" ] && [ "$(left)" -gt 90 ]; then
  # shellcheck disable=SC2086
  timeout $(( $(left) - 60 )) "$build/src/bench/ss_tpbench" --synth bitnet-2b --results "$out/tp" $SS_TP_ARGS \
    >"$out/tpbench.log" 2>"$out/tpbench.err"
  echo "tpbench rc=$?"; sed -n '/throughput summary/,$p' "$out/tpbench.log"; tail -3 "$out/tpbench.err"
  (cd "$out" && tar czf tp.tgz tp && rm -rf tp)
fi

# 5. Nsight Compute on one point of our kernel and cuBLASLt (clocks left alone)
if [ -n "${SS_NCU_ARGS:-}" ] && [ "$(left)" -gt 100 ]; then
  ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || echo ncu)
  # shellcheck disable=SC2086
  env ${SS_NCU_ENV:-} timeout $(( $(left) - 30 )) "$ncu" --profile-from-start off --clock-control none --section SpeedOfLight \
    --section MemoryWorkloadAnalysis --section ComputeWorkloadAnalysis ${SS_NCU_SECTIONS:-} -f -o "$out/ncu" \
    "$build/src/bench/ss_kbench" --no-linear --profile --warmup 1 --repeats 3 $SS_NCU_ARGS >"$out/ncu-run.log" 2>&1
  echo "ncu rc=$?"
  "$ncu" --import "$out/ncu.ncu-rep" --page details >"$out/ncu.txt" 2>&1
  # the stall reasons and pipe loads, per kernel (the raw page, filtered)
  "$ncu" --import "$out/ncu.ncu-rep" --page raw 2>&1 | grep -E "^  [a-zA-Z_]+.*\(|stall|pipe_tensor|pipe_shared|lsu_mem_shared|l1tex__data_pipe|smsp__inst_executed.sum |sm__cycles_elapsed.avg " \
    >"$out/ncu-raw.txt"
  # per SASS instruction: the warp stall samples (where the time goes), compressed
  "$ncu" --import "$out/ncu.ncu-rep" --page source --csv --print-source sass 2>&1 | gzip >"$out/ncu-source.csv.gz"
  rm -f "$out/ncu.ncu-rep"
  grep -E "^  [a-z_]+.*\(|Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Cache Throughput|DRAM Throughput|Shared" "$out/ncu.txt" | head -60
fi
echo "total $(( $(date +%s) - t0 )) s"
