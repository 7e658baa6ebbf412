#!/usr/bin/env bash
# A round's GPU run in time-boxed stages (one device call or two back to
# back: the build in /tmp stays while the machine is warm). Stages, in order
# (SS_STAGES, default all): build suite kbench peer tp tfpeer extra
#   build   Release build, sm_90a (CUSPARSELT_ROOT: the machine's wheel)
#   suite   the whole GPU test suite (ctest -L gpu); its summary line
#   kbench  ss_kbench, every backend, BitNet's 4 (N, K) (SS_KB_M)
#   peer    scripts/peer_gemm.py: PyTorch's _int_mm / _scaled_mm / _cslt_sparse_mm
#   tp      ss_tpbench end to end on synthetic BitNet-2B (SS_TP_ARGS)
#   tfpeer  scripts/peer_transformers.py: Hugging Face transformers BF16
#   extra   SS_EXTRA_CMD (e.g. scripts/gpu-pipeline.sh), run from the repo root, with
#           SS_GPU_BUILD (the build) and SS_ROUND_LEFT_S (seconds the round has left)
# Everything lands in $OUT/r.tgz (the device tool returns few files).
#   SS_STAGES="build suite kbench" SS_DEADLINE=540 bash scripts/gpu-round.sh
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
final=${OUT:-$root/out/gpu-round}
out=$final/r
mkdir -p "$out"
build=${SS_GPU_BUILD:-/tmp/bgpu}
csl=${CUSPARSELT_ROOT:-/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cusparselt}
stages=" ${SS_STAGES:-build suite kbench peer tp tfpeer extra} "
deadline=$(( $(date +%s) + ${SS_DEADLINE:-540} ))
t0=$(date +%s)
left() { echo $(( deadline - $(date +%s) )); }
want() { [[ "$stages" == *" $1 "* ]] && [ "$(left)" -gt "${2:-30}" ]; }
# SM clock, power and temperature every 5 s for the whole round (METHOD.md: a number without them is not a measurement)
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,utilization.gpu \
  --format=csv -l 5 >"$out/smi-trace.csv" 2>/dev/null &
smi_pid=$!
pack() { kill "$smi_pid" 2>/dev/null; (cd "$final" && tar czf "r-$(date +%H%M%S).tgz" r && rm -rf r); }
trap pack EXIT
export LD_LIBRARY_PATH="$csl/lib:$root/.deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
export PYTHONUNBUFFERED=1

{ date -u +"%Y-%m-%dT%H:%M:%SZ"; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu \
  --format=csv; } >"$out/nvidia-smi.txt" 2>&1
cat "$out/nvidia-smi.txt"
if want build; then
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90a \
       -DCUSPARSELT_ROOT="$csl" -DSS_DEPS_DIR="$root/.deps" >"$out/cmake.log" 2>&1; then
    echo "configure failed:"; tail -30 "$out/cmake.log"; exit 1
  fi
  if ! cmake --build "$build" -j "$(nproc)" >"$out/build.log" 2>&1; then
    echo "build failed:"; grep -E "error|Error" "$out/build.log" | head -40; exit 1
  fi
  echo "build: $(( $(date +%s) - t0 )) s"
fi
if want suite 60; then
  timeout $(( $(left) - 30 )) ctest --test-dir "$build" -L gpu --output-on-failure >"$out/gputest.log" 2>&1
  echo "gpu suite rc=$?: $(grep -E "tests passed|tests failed" "$out/gputest.log")"
  grep -E "Test +#|\*\*\*|FAILED|LINE" "$out/gputest.log" | head -30
fi
if want kbench 60; then
  timeout $(( $(left) - 30 )) "$build/src/bench/ss_kbench" --backends cublaslt,cusparselt,ours,ours_dense \
    --M "${SS_KB_M:-1024,4096,16384}" --dtypes int8,fp8e4m3 --sparsity dense,2_4,2_6,2_8,2_10 \
    --csv "$out/kbench.csv" >"$out/kbench.log" 2>"$out/kbench.err"
  echo "kbench rc=$?"; grep -v "^#" "$out/kbench.log"
fi
if want peer 60; then
  timeout $(( $(left) - 20 )) python3 "$root/scripts/peer_gemm.py" --csv "$out/peer.csv" ${SS_PEER_ARGS:-} \
    >"$out/peer.log" 2>&1
  echo "peer rc=$?"; grep -v ": done$" "$out/peer.log" | tail -40
fi
if want tp 90; then
  # shellcheck disable=SC2086
  timeout $(( $(left) - 40 )) "$build/src/bench/ss_tpbench" --synth bitnet-2b --results "$out/tp" \
    ${SS_TP_ARGS:---dtype int8,fp8 --sparsity dense,2_4,2_8 --prefill-m 32768 --decode-m 512 --sparse-backends cusparselt,ours} \
    >"$out/tpbench.log" 2>"$out/tpbench.err"
  echo "tpbench rc=$?"; sed -n '/throughput summary/,$p' "$out/tpbench.log"; tail -3 "$out/tpbench.err"
  (cd "$out" && tar czf tp.tgz tp && rm -rf tp)
fi
if want tfpeer 60; then
  timeout $(( $(left) - 15 )) python3 "$root/scripts/peer_transformers.py" ${SS_TF_ARGS:-} >"$out/tfpeer.log" 2>&1
  echo "transformers peer rc=$?"; tail -15 "$out/tfpeer.log"
fi
if want extra 40 && [ -n "${SS_EXTRA_CMD:-}" ]; then
  # SS_ROUND_LEFT_S: what the round has left, for a command that sizes its own time limit
  (cd "$root" && SS_GPU_BUILD=$build SS_ROUND_LEFT_S=$(( $(left) - 10 )) OUT=$out/extra timeout $(( $(left) - 10 )) bash -c "$SS_EXTRA_CMD") >"$out/extra.log" 2>&1
  echo "extra rc=$?"; tail -40 "$out/extra.log"
fi
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader | tee -a "$out/nvidia-smi.txt"
echo "total $(( $(date +%s) - t0 )) s"
