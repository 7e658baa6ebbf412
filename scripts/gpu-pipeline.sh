#!/usr/bin/env bash
# The pipeline on the GPU machine (issue 6): a Release build of slidesparse,
# then `slidesparse pipeline` for a preset, stopped short of a time limit so
# that the state, log, report and results still come back; the next call
# with the same arguments continues with --resume (while the machine is warm).
#
#   CUSPARSELT_ROOT=<dir> SS_DEPS_DIR=<dir> bash scripts/gpu-pipeline.sh tiny
#   bash scripts/gpu-pipeline.sh bitnet-2b --tasks 1-2          # then 3-4, 5, 6-8 in later calls
#
# Environment: OUT (where report.md, report.json, pipeline_state.json,
# pipeline.log and results.tar.gz go; default ./out/gpu-pipeline),
# SS_RUN_DIR (the pipeline's --out, kept between calls; default /tmp/ss_pipeline_<preset>),
# SS_TIME_LIMIT (seconds for this call's pipeline, default 480),
# CUSPARSELT_ROOT (default: the nvidia-cusparselt wheel of python3), SS_DEPS_DIR,
# SS_CUDA_ARCHS (default native: only this GPU's image, not the project's all-arch default).
# The GPU machine has no network: bitnet-2b's download fails there and the
# run continues on synthetic weights of the exact architecture (the report
# says so), and no gnuplot: run `slidesparse report DIR` on the results here.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-tiny}
shift || true
out=${OUT:-$root/out/gpu-pipeline}
run=${SS_RUN_DIR:-/tmp/ss_pipeline_$preset}
build=${SS_GPU_BUILD:-$root/build-gpu-pipeline}
mkdir -p "$out"
if [ -z "${CUSPARSELT_ROOT:-}" ]; then
  CUSPARSELT_ROOT=$(python3 -c "import nvidia, os; print(os.path.join(list(nvidia.__path__)[0], 'cusparselt'))" 2>/dev/null)
fi
extra=(-DCUSPARSELT_ROOT="$CUSPARSELT_ROOT")
[ -n "${SS_DEPS_DIR:-}" ] && extra+=(-DSS_DEPS_DIR="$SS_DEPS_DIR")
extra+=(-DSS_CUDA_ARCHS="${SS_CUDA_ARCHS:-native}") # this GPU only: the fast build (all: every listed image)
t0=$(date +%s)
if [ ! -x "$build/src/cli/slidesparse" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON "${extra[@]}" >"$out/cmake.log" 2>&1 || {
    tail -30 "$out/cmake.log"; exit 1; }
  cmake --build "$build" -j "$(nproc)" --target slidesparse >"$out/build.log" 2>&1 || {
    grep -E "error|Error" "$out/build.log" | head -40; exit 1; }
  echo "build: $(( $(date +%s) - t0 )) s"
fi
export LD_LIBRARY_PATH="$CUSPARSELT_ROOT/lib${SS_DEPS_DIR:+:$SS_DEPS_DIR/usr/lib/x86_64-linux-gnu}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$build/src/cli/slidesparse" gpu-info
resume=()
[ -f "$run/pipeline_state.json" ] && resume=(--resume)
# SIGINT first: the pipeline's child job dies with it, the state says which job to rerun
timeout -s INT "${SS_TIME_LIMIT:-480}" "$build/src/cli/slidesparse" pipeline --preset "$preset" --out "$run" \
  "${resume[@]}" "$@" 2>&1 | tee "$out/pipeline_stdout.txt" | grep -E "^== task|FAILED|finished|^error"
rc=${PIPESTATUS[0]}
echo "pipeline rc=$rc ($(( $(date +%s) - t0 )) s)"
# a pipeline stopped by the time limit wrote no report: rebuild it from the state and results
"$build/src/cli/slidesparse" -q report "$run"
cp "$run"/report.md "$run"/report.json "$run"/pipeline_state.json "$run"/pipeline.log "$out"/ 2>/dev/null
tar -czf "$out/results.tar.gz" -C "$run" results 2>/dev/null
exit $rc
