#!/usr/bin/env bash
# Where a command's GPU time goes, by kernel: Nsight Compute collects only
# gpu__time_duration for the first N launches (one replay pass each, cheap),
# then the launches are summed per kernel name (count, ms, share).
#   bash scripts/gpu-kernel-times.sh N OUT.csv -- command args...
# Env: SS_NCU (ncu binary), SS_NCU_SKIP (launches to skip first, e.g. a warm-up pass).
set -uo pipefail
n=$1 csv=$2
shift 2
[ "${1:-}" = "--" ] && shift
ncu=${SS_NCU:-$(command -v ncu || ls /usr/local/cuda/bin/ncu 2>/dev/null || echo ncu)}
timeout 300 "$ncu" --metrics gpu__time_duration.sum --launch-skip "${SS_NCU_SKIP:-0}" --launch-count "$n" \
  --csv --page raw "$@" >"$csv.raw" 2>"$csv.log"
echo "ncu rc=$? ($(grep -c '^"' "$csv.raw") lines)"
python3 - "$csv.raw" "$csv" <<'EOF'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 3]
hdr = rows[0]
ki, ti = hdr.index("Kernel Name"), hdr.index("gpu__time_duration.sum")
unit = rows[1][ti]
scale = {"ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0}.get(unit, 1e-3)
tot, cnt = collections.defaultdict(float), collections.Counter()
for r in rows[2:]:
    name = r[ki].split("(")[0].replace("void ", "")[:90]
    tot[name] += float(r[ti].replace(",", "")) * scale
    cnt[name] += 1
all_ms = sum(tot.values())
with open(sys.argv[2], "w") as f:
    f.write("kernel,launches,ms,share\n")
    for name, ms in sorted(tot.items(), key=lambda kv: -kv[1]):
        f.write(f'"{name}",{cnt[name]},{ms:.3f},{ms / all_ms:.4f}\n')
        print(f"{ms:9.3f} ms {100 * ms / all_ms:5.1f}% {cnt[name]:5d}x  {name}")
print(f"{all_ms:9.3f} ms in {sum(cnt.values())} launches")
EOF
