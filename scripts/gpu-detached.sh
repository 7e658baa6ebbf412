#!/usr/bin/env bash
# A GPU round longer than one 10-minute device call: `start` runs
# scripts/gpu-round.sh detached (setsid) with its results in a folder that
# stays on the machine while it is warm, and follows its log for a while;
# `wait` follows the log again until the round ends or the call's time is
# nearly up, then copies what the round packed (r-*.tgz) and its log to $OUT.
#   SS_STAGES="build suite kbench peer tfpeer extra" SS_DEADLINE=1500 \
#     SS_EXTRA_CMD='bash scripts/gpu-pipeline.sh bitnet-2b --synthetic' bash scripts/gpu-detached.sh start 560
#   bash scripts/gpu-detached.sh wait 560          # in the next calls, until it says "round finished"
# The environment of `start` (SS_STAGES, SS_DEADLINE, SS_KB_M, SS_EXTRA_CMD, ...)
# goes to gpu-round.sh unchanged.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
job=${SS_DETACHED_DIR:-/tmp/ss_detached}
mode=${1:?usage: gpu-detached.sh start|wait [seconds]}
follow_s=${2:-540}
case "$mode" in
start)
  if [ -f "$job/pid" ] && kill -0 "$(cat "$job/pid")" 2>/dev/null; then
    echo "a round is already running (pid $(cat "$job/pid")); use wait" >&2; exit 2
  fi
  rm -rf "$job" && mkdir -p "$job/out"
  # the round's own stdout is the log; `done` is written whatever its exit status
  setsid bash -c "OUT='$job/out' bash '$root/scripts/gpu-round.sh' >'$job/log' 2>&1; echo \$? >'$job/done'" \
    </dev/null >/dev/null 2>&1 &
  echo $! >"$job/pid"
  echo "round started (pid $!), results in $job/out"
  ;;
wait) ;;
*) echo "usage: gpu-detached.sh start|wait [seconds]" >&2; exit 2 ;;
esac
end=$(( $(date +%s) + follow_s ))
shown=0
while :; do
  if [ -f "$job/log" ]; then
    n=$(wc -l <"$job/log")
    [ "$n" -gt "$shown" ] && sed -n "$((shown + 1)),${n}p" "$job/log" && shown=$n
  fi
  [ -f "$job/done" ] && break
  [ "$(date +%s)" -ge "$end" ] && { echo "round still running after ${follow_s} s of this call; call wait again"; exit 0; }
  sleep 5
done
echo "round finished rc=$(cat "$job/done")"
if [ -n "${OUT:-}" ]; then
  cp "$job"/out/r-*.tgz "$OUT"/ 2>/dev/null
  cp "$job/log" "$OUT/round.log"
  ls -la "$OUT"
fi
