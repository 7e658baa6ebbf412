#!/usr/bin/env bash
# What sparsity costs in quality, measured with the project's own CLI on the
# model that scripts/train_quality_model.py trains (docs/QUALITY.md shows the
# result). For a BitNet model:
#   dense:  quantize --dtype int8 (ternary, the BitNet default)
#   for 2_4, 2_6, 2_8, 2_10, each of
#     magnitude, after quantization:  quantize -> prune (the reference's order)
#     wanda,     after quantization:  quantize -> prune --method wanda
#     magnitude, before quantization: prune the BF16 master weights -> quantize
#     wanda,     before quantization: prune --method wanda (statistics from the
#                                     quantized model's forward pass) -> quantize
#     sparsegpt, before quantization: the same with --method sparsegpt (it updates
#                                     the kept weights, so it cannot run after)
#   then eval (held-out perplexity, CPU engine) of every model, and one check
#   that convert (prune + slide) gives the pruned model's perplexity exactly.
#   Noise: every eval also writes each token's NLL (--per-token); the summary
#   gives each change of perplexity with +- 2 standard errors of the paired
#   difference, over the evaluation windows as independent blocks (what the
#   held-out text's sampling allows; not training-run variation).
#
#   bash scripts/quality_eval.sh DATA_DIR [OUT_DIR]
#     DATA_DIR: the --out of train_quality_model.py (model/, heldout.tokens, calib.tokens)
#     OUT_DIR:  default DATA_DIR/eval; results in OUT_DIR/results/*.json (+ *.pertoken.csv) and OUT_DIR/quality.md
# Env: SS_BIN (default build-rel/src/cli/slidesparse; built here with -O2 if missing), EVAL_BIN (default SS_BIN),
#      EVAL_TOKENS (held-out tokens used, default all), CTX (default 128, the training context), CALIB_N (default 16384).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data=${1:?usage: quality_eval.sh DATA_DIR [OUT_DIR]}
out=${2:-$data/eval}
ctx=${CTX:-128}
calib_n=${CALIB_N:-16384}
bin=${SS_BIN:-$root/build-rel/src/cli/slidesparse}
if [ ! -x "$bin" ]; then
    cmake -S "$root" -B "$root/build-rel" -DCMAKE_BUILD_TYPE=Release -DSS_CUDA=OFF >/dev/null
    cmake --build "$root/build-rel" -j 2 --target slidesparse >/dev/null
fi
models=$out/models results=$out/results
mkdir -p "$models" "$results"
heldout=$data/heldout.tokens
if [ -n "${EVAL_TOKENS:-}" ]; then
    head -n "$EVAL_TOKENS" "$data/heldout.tokens" > "$out/heldout.tokens"
    heldout=$out/heldout.tokens
fi
eval_bin=${EVAL_BIN:-$bin}
ss() { "$bin" -q "$@"; }
# make DIR CMD...: runs the command unless DIR exists already (a rerun continues)
make_model() { local dir=$1; shift; [ -d "$dir" ] || "$@"; }
evaluate() { # evaluate NAME DIR
    [ -f "$results/$1.json" ] && [ -f "$results/$1.pertoken.csv" ] || { echo "eval $1" >&2; "$eval_bin" -q eval \
        --model "$2" --tokens "$heldout" --ctx "$ctx" --out "$results/$1.json" --per-token "$results/$1.pertoken.csv"; }
}

bf16=$data/model
int8=$models/int8
make_model "$int8" ss quantize --in "$bf16" --out "$int8" --dtype int8
evaluate dense "$int8"
calib=(--calib-tokens "$data/calib.tokens" --calib-n "$calib_n" --calib-ctx "$ctx")
for L in 4 6 8 10; do
    sp=2_$L
    make_model "$models/after-magnitude-$sp" ss prune --in "$int8" --out "$models/after-magnitude-$sp" --sparsity $sp
    make_model "$models/after-wanda-$sp" ss prune --in "$int8" --out "$models/after-wanda-$sp" --sparsity $sp \
        --method wanda "${calib[@]}"
    make_model "$models/bf16-magnitude-$sp" ss prune --in "$bf16" --out "$models/bf16-magnitude-$sp" --sparsity $sp
    make_model "$models/before-magnitude-$sp" ss quantize --in "$models/bf16-magnitude-$sp" \
        --out "$models/before-magnitude-$sp" --dtype int8
    make_model "$models/bf16-wanda-$sp" ss prune --in "$bf16" --out "$models/bf16-wanda-$sp" --sparsity $sp \
        --method wanda "${calib[@]}" --calib-model "$int8"
    make_model "$models/before-wanda-$sp" ss quantize --in "$models/bf16-wanda-$sp" --out "$models/before-wanda-$sp" \
        --dtype int8
    make_model "$models/bf16-sparsegpt-$sp" ss prune --in "$bf16" --out "$models/bf16-sparsegpt-$sp" --sparsity $sp \
        --method sparsegpt "${calib[@]}" --calib-model "$int8"
    make_model "$models/before-sparsegpt-$sp" ss quantize --in "$models/bf16-sparsegpt-$sp" \
        --out "$models/before-sparsegpt-$sp" --dtype int8
    for v in after-magnitude after-wanda before-magnitude before-wanda before-sparsegpt; do
        evaluate "$v-$sp" "$models/$v-$sp"
    done
done
# slid == pruned: the converted twin of one model gives the same perplexity to the last digit
make_model "$models/slid-after-wanda-2_8" ss convert --in "$models/after-wanda-2_8" --out "$models/slid-after-wanda-2_8" \
    --sparsity 2_8
evaluate slid-after-wanda-2_8 "$models/slid-after-wanda-2_8"

python3 - "$results" "$out/quality.md" "$data" <<'EOF'
import csv, json, math, os, sys
res, md, data = sys.argv[1], sys.argv[2], sys.argv[3]
r = {f[:-5]: json.load(open(os.path.join(res, f))) for f in os.listdir(res) if f.endswith(".json")}
log = json.load(open(os.path.join(data, "train_log.json")))
d = r["dense"]
ctx = d["ctx"]


def window_sums(name):
    """Each window's NLL sum (the windows are disjoint: stride == ctx)."""
    sums = {}
    for row in csv.DictReader(open(os.path.join(res, name + ".pertoken.csv"))):
        if row["nll"] != "-":
            w = int(row["position"]) // ctx
            sums[w] = sums.get(w, 0.0) + float(row["nll"])
    return sums


def change(a, b):
    """Perplexity of a over b in %, and 2 SE of it (paired, the windows as blocks)."""
    sa, sb = window_sums(a), window_sums(b)
    assert sa.keys() == sb.keys() and r[a]["tokens_evaluated"] == r[b]["tokens_evaluated"]
    for name, sums in ((a, sa), (b, sb)):  # the per-token file is the result file's run
        assert abs(sum(sums.values()) - r[name]["nll_sum"]) <= 1e-7 * r[name]["nll_sum"], name
    n, diffs = r[a]["tokens_evaluated"], [sa[w] - sb[w] for w in sa]
    mean = sum(diffs) / len(diffs)
    var = sum((x - mean) ** 2 for x in diffs) / (len(diffs) - 1)
    m, se = sum(diffs) / n, math.sqrt(len(diffs) * var) / n
    return 100 * (math.exp(m) - 1), 200 * se


variants = ("after-magnitude", "after-wanda", "before-magnitude", "before-wanda", "before-sparsegpt")
lines = [f"Held-out perplexity (CPU engine, INT8 ternary weights, {d['tokens_evaluated']} tokens, windows of "
         f"{ctx}); the model: {log['parameters'] / 1e6:.2f} M parameters, {log['steps']} steps, "
         f"held-out NLL in torch {log['heldout_nll_torch_fp32']:.4f}. In brackets: the change against dense, "
         f"+- 2 standard errors (paired, over the {len(window_sums('dense'))} windows).", "",
         "| sparsity | magnitude, after quantization | Wanda, after quantization | magnitude, before quantization "
         "| Wanda, before quantization | SparseGPT, before quantization |", "|---|---|---|---|---|---|",
         "| dense |" + f" {d['perplexity']:.2f} |" * 5]
for L in (4, 6, 8, 10):
    cells = []
    for v in variants:
        c, e = change(f"{v}-2_{L}", "dense")
        cells.append(f"{r[f'{v}-2_{L}']['perplexity']:.2f} ({c:+.2f}% ± {e:.2f})")
    lines.append(f"| 2_{L} | " + " | ".join(cells) + " |")
lines += ["", "Paired differences (perplexity of the first over the second, ± 2 SE):", "",
          "| sparsity | magnitude: after over before | Wanda: after over before | after: Wanda over magnitude |",
          "|---|---|---|---|"]
for L in (4, 6, 8, 10):
    cells = [change(f"after-magnitude-2_{L}", f"before-magnitude-2_{L}"),
             change(f"after-wanda-2_{L}", f"before-wanda-2_{L}"),
             change(f"after-wanda-2_{L}", f"after-magnitude-2_{L}")]
    lines.append(f"| 2_{L} | " + " | ".join(f"{c:+.2f}% ± {e:.2f}" for c, e in cells) + " |")
s, p = r["slid-after-wanda-2_8"], r["after-wanda-2_8"]
lines += ["", f"Slid twin of Wanda-after 2_8: perplexity {s['perplexity']!r} vs pruned {p['perplexity']!r} "
          f"({'identical' if s['nll_sum'] == p['nll_sum'] else 'DIFFERENT'})."]
open(md, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
