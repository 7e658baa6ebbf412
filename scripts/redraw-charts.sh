#!/usr/bin/env bash
# Redraws the charts (PNG + SVG, gnuplot) of a pipeline run folder brought
# back from the GPU machine, which has no gnuplot: its report.md says
# "Charts: not drawn: gnuplot was not found". The folder is what
# scripts/gpu-pipeline.sh leaves in $OUT (report.md, report.json,
# pipeline_state.json, pipeline.log, results.tar.gz) or a run folder with
# results/ already unpacked; results.tar.gz is unpacked first when results/
# is missing. Then `slidesparse report DIR` rebuilds report.md, report.json
# and charts/ from the state file and the result tree (the numbers come from
# the result files, so the report's tables do not change; its "Report
# generated" time does).
#
#   bash scripts/redraw-charts.sh DIR...           # these folders
#   bash scripts/redraw-charts.sh                  # every docs/reports/*/ whose report has no charts
#   bash scripts/redraw-charts.sh --all            # every docs/reports/*/ that has its results
#
# Builds the CPU-only slidesparse (no CUDA needed to draw) in build-charts/
# unless SS_BIN names a slidesparse binary. Exits non-zero when a folder has
# no results to draw from or gnuplot drew nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

all=0
dirs=()
for a in "$@"; do
  case "$a" in
    --all) all=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "error: redraw-charts: unknown option '$a'" >&2; exit 2 ;;
    *) dirs+=("$a") ;;
  esac
done

has_charts() { # the report says it drew charts and the files are there
  grep -q '^\*\*Charts\*\*: [0-9][0-9]* files' "$1/report.md" 2>/dev/null \
    && [ -n "$(ls "$1"/charts/*.png 2>/dev/null)" ]
}

if [ ${#dirs[@]} -eq 0 ]; then
  for d in "$root"/docs/reports/*/; do
    d=${d%/}
    [ -f "$d/pipeline_state.json" ] || [ -d "$d/results" ] || [ -f "$d/results.tar.gz" ] || continue
    if [ $all = 1 ] || ! has_charts "$d"; then dirs+=("$d"); fi
  done
  if [ ${#dirs[@]} -eq 0 ]; then
    echo "redraw-charts: every report under docs/reports/ has its charts (--all redraws them anyway)" >&2
    exit 0
  fi
fi

command -v gnuplot >/dev/null || { echo "error: redraw-charts: gnuplot not found (bash scripts/setup.sh installs gnuplot-nox)" >&2; exit 1; }

bin=${SS_BIN:-}
if [ -z "$bin" ]; then
  build=$root/build-charts
  cmake -S "$root" -B "$build" -DSS_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j 2 --target slidesparse >/dev/null
  bin=$build/src/cli/slidesparse
fi

rc=0
for d in "${dirs[@]}"; do
  if [ ! -d "$d/results" ] && [ -f "$d/results.tar.gz" ]; then
    tar -xzf "$d/results.tar.gz" -C "$d"
  fi
  if [ ! -d "$d/results" ] && [ ! -d "$d/throughput_benchmark_results" ] && [ ! -d "$d/benchmark_kernel" ]; then
    echo "error: redraw-charts: $d has no results/ (nor results.tar.gz) to draw from" >&2
    rc=1
    continue
  fi
  "$bin" -q report "$d"
  n=$(ls "$d"/charts/*.png 2>/dev/null | wc -l)
  if [ "$n" -eq 0 ] || ! has_charts "$d"; then
    echo "error: redraw-charts: no charts drawn for $d (nothing to plot?)" >&2
    rc=1
  else
    echo "redraw-charts: $d: $n PNG charts (and SVG) in charts/"
  fi
done
exit $rc
