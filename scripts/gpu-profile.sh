#!/usr/bin/env bash
# Nsight Compute profile of the kernel-benchmark points: one quant (+slide)
# + GEMM call per point, bracketed by ss_kbench --profile, so ncu
# (--profile-from-start off) sees only those launches, never the tuning
# search. Two passes: clocks locked to base (per-clock efficiency of each
# kernel) and clocks free (what the power cap leaves). Text reports land in
# $OUT (or ./out).
#   CUSPARSELT_ROOT=... bash scripts/gpu-profile.sh [ss_kbench args]
# Env: SS_GPU_BUILD (build folder, default /tmp/bgpu), SS_NCU (ncu binary),
#      SS_NCU_EXTRA (more ncu arguments, e.g. --section WarpStateStats).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root/out}
build=${SS_GPU_BUILD:-/tmp/bgpu}
csl=${CUSPARSELT_ROOT:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cusparselt}
ncu=${SS_NCU:-$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || echo ncu)}
mkdir -p "$out"
if [ ! -x "$build/src/bench/ss_kbench" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DSS_CUDA_ARCHS="${SS_CUDA_ARCHS:-native}" -DCUSPARSELT_ROOT="$csl" >/dev/null &&
    cmake --build "$build" -j "$(nproc)" --target ss_kbench >/dev/null || { echo "build failed"; exit 1; }
fi
export LD_LIBRARY_PATH="$csl/lib:${LD_LIBRARY_PATH:-}"
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--M 16384 --dtypes int8 --sparsity dense,2_4,2_8 --nk 13824x2560,2560x6912)
sections=(--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis
  --section LaunchStats --section Occupancy
  --metrics sm__cycles_elapsed.avg.per_second,dram__bytes_read.sum,dram__bytes_write.sum)
"$ncu" --query-metrics --chip gh100 2>&1 | grep -iE "tensor|gmma" >"$out/ncu-tensor-metrics.txt" || true
for clock in base none; do
  rep="$out/ncu-$clock"
  timeout 280 "$ncu" --profile-from-start off --clock-control "$clock" "${sections[@]}" ${SS_NCU_EXTRA:-} -f -o "$rep" \
    "$build/src/bench/ss_kbench" --no-linear --profile --warmup 1 --repeats 3 "${args[@]}" >"$out/kbench-ncu-$clock.log" 2>&1
  echo "ncu ($clock clocks) rc=$?"
  "$ncu" --import "$rep.ncu-rep" --page details >"$out/ncu-$clock.txt" 2>&1
  "$ncu" --import "$rep.ncu-rep" --page raw --csv >"$out/ncu-$clock.csv" 2>&1
  rm -f "$rep.ncu-rep"
done
