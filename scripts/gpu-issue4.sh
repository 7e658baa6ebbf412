#!/usr/bin/env bash
# One device session for the GEMM layer's numbers (issue 4): the GPU tests,
# the kernel benchmark with the PyTorch peer (scripts/gpu-gemm-check.sh), and
# an ncu profile of the quant + GEMM launches (scripts/gpu-profile.sh).
# Everything goes to $OUT/r.tgz (the device tool returns few files).
#   CUSPARSELT_ROOT=... bash scripts/gpu-issue4.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
final=${OUT:-$root/out}
export OUT=$final/r SS_GPU_BUILD=${SS_GPU_BUILD:-/tmp/bgpu}
mkdir -p "$OUT"
t0=$(date +%s)
bash "$root/scripts/gpu-test.sh" >"$OUT/gputest.log" 2>&1
echo "gpu-test rc=$? ($(( $(date +%s) - t0 )) s)"
grep -E "tests passed|Test +#" "$OUT/gputest.log" | tail -n 6
SS_SKIP_TESTS=1 SS_PEER_ARGS="--M ${SS_M:-1024,4096,16384}" bash "$root/scripts/gpu-gemm-check.sh" --M "${SS_M:-1024,4096,16384}" \
  >"$OUT/check.log" 2>&1
grep -v "^#" "$OUT/check.log" | head -n 80
bash "$root/scripts/gpu-profile.sh" --M 16384 --dtypes int8,fp8e4m3 --sparsity dense,2_4,2_8 --nk 13824x2560,2560x6912
echo "total $(( $(date +%s) - t0 )) s"
(cd "$final" && tar czf r.tgz r && rm -rf r)
