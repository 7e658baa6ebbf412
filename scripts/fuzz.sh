#!/usr/bin/env bash
# Runs every libFuzzer harness of tests/fuzz (clang, ASan + UBSan) for
# SECONDS each (default 60), starting from the committed seed corpora, and
# prints the executions per harness. Exits non-zero if any harness finds a
# crash, a leak, a hang (an input taking over 10 s) or a failed check; the
# input that did it is kept in build-fuzz/artifacts/<harness>/ (copy it to
# tests/fuzz/regressions/<harness>/ with the fix: ctest replays it then).
#   bash scripts/fuzz.sh            # 60 s per harness
#   bash scripts/fuzz.sh 600        # the long run
#   bash scripts/fuzz.sh --seeds    # regenerate tests/fuzz/corpus from the project's writers
# SS_FUZZ_BUILD chooses the build folder (default build-fuzz); SS_FUZZ_JOBS the make jobs;
# SS_FUZZ_PARALLEL how many harnesses run at once (default 1: one after the other).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SS_FUZZ_BUILD:-$root/build-fuzz}
jobs=${SS_FUZZ_JOBS:-$(nproc)}

if [ "${1:-}" = "--seeds" ]; then
  seeds_build=${SS_SEEDS_BUILD:-$root/build-seeds}
  cmake -S "$root" -B "$seeds_build" -DSS_CUDA=OFF >/dev/null
  cmake --build "$seeds_build" -j "$jobs" --target fuzz_make_seeds >/dev/null
  rm -rf "$root/tests/fuzz/corpus"
  "$seeds_build/tests/fuzz/fuzz_make_seeds" "$root/tests/fuzz/corpus" "$root"
  exit 0
fi
seconds=${1:-60}
case "$seconds" in ''|*[!0-9]*) echo "usage: fuzz.sh [SECONDS] | --seeds" >&2; exit 2;; esac

command -v clang >/dev/null || { echo "error: fuzz.sh needs clang (bash scripts/setup.sh installs it)" >&2; exit 1; }
CC=clang cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_CUDA=OFF -DSS_FUZZ=ON >/dev/null
cmake --build "$build" -j "$jobs" --target fuzzers >/dev/null

# the harnesses this tree builds (tests/fuzz/CMakeLists.txt)
harnesses=$(cd "$build/tests/fuzz" && ls fuzz_* | grep -v '\.' | sed 's/^fuzz_//')
parallel=${SS_FUZZ_PARALLEL:-1} # harnesses run at a time (each on one core)

run_one() { # harness -> its exit status in $build/fuzz_<h>.rc
  local h=$1 corpus="$build/corpus/$1" artifacts="$build/artifacts/$1/" log="$build/fuzz_$1.log"
  mkdir -p "$corpus" "$artifacts" # the corpus grows as the fuzzer finds new paths; seeded from the committed one
  set +e
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts" "$corpus" "$root/tests/fuzz/corpus/$h" >"$log" 2>&1
  echo $? >"$build/fuzz_$h.rc"
  set -e
}

running=0
for h in $harnesses; do
  run_one "$h" &
  running=$((running + 1))
  if [ "$running" -ge "$parallel" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

failed=0
summary=""
for h in $harnesses; do
  log="$build/fuzz_$h.log"
  rc=$(cat "$build/fuzz_$h.rc" 2>/dev/null || echo 1)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n1 || true)
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "fuzz $h: FAILED (exit $rc); input in $build/artifacts/$h/, log $log" >&2
    grep -m5 -E 'ERROR|SUMMARY|fuzz check failed|runtime error' "$log" >&2 || true
  fi
  summary+=$(printf '%-14s %12s executions in %ss%s' "$h" "${execs:-?}" "$seconds" "$([ "$rc" -ne 0 ] && echo '  FAILED')")$'\n'
done
printf 'fuzz summary:\n%s' "$summary"
exit $failed
