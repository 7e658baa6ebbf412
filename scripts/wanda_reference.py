#!/usr/bin/env python3
"""Independent numpy reference for Wanda pruning; writes the fixture that
tests/test_wanda.c checks the C implementation (src/convert/prune.c) against.

For each case: a weight matrix W [N, K] (values exact in its dtype), calibration
activations X [T, K] (float32), and from them, in float64:
  sumsq[j]   = sum_t X[t, j]^2                     (Wanda's ||X_j||_2^2)
  score[i,j] = |W[i,j]| * sqrt(sumsq[j])
  for each L: in every group of L columns along K (K padded with zero columns
  of score 0), the two columns with the smallest (score, -index) are zeroed,
  i.e. the L-2 largest scores are kept and ties keep the lower index.
Cases cover ties in |W| and in ||X_j||, dead inputs (a zero column of X),
zero weights, K not a multiple of L, and I8 codes.

    python3 scripts/wanda_reference.py   # rewrites tests/data/wanda/fixture.json
"""
import json
import os

import numpy as np


def bf16(a):
    """Round float32 values to bfloat16 (ties to even) and back, as exact float32."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return u.astype(np.uint32).view(np.float32)


def wanda_prune(w, score, L):
    n, k = w.shape
    kp = (k + L - 1) // L * L
    s = np.zeros((n, kp))
    s[:, :k] = score
    out = w.copy()
    for r in range(n):
        for g in range(0, kp, L):
            idx = np.arange(g, g + L)
            # lexsort: last key is primary; smallest score first, then the higher index first
            order = np.lexsort((-idx, s[r, idx]))
            for c in idx[order[:2]]:
                if c < k:
                    out[r, c] = 0
    return out


def case(name, dtype, w, x):
    w = np.asarray(w, dtype=np.float64)
    x = np.asarray(x, dtype=np.float32)
    sumsq = (x.astype(np.float64) ** 2).sum(axis=0)
    score = np.abs(w) * np.sqrt(sumsq)[None, :]
    pruned = {str(L): wanda_prune(w, score, L).ravel().tolist() for L in (4, 6, 8, 10)}
    return {"name": name, "dtype": dtype, "N": w.shape[0], "K": w.shape[1], "T": x.shape[0],
            "w": w.ravel().tolist(), "x": x.astype(np.float64).ravel().tolist(),
            "sumsq": sumsq.tolist(), "scores": score.ravel().tolist(), "pruned": pruned}


def main():
    rng = np.random.default_rng(13)
    cases = []
    # BF16 weights, K = 30 (no L divides it except none of 4, 8; 6 and 10 do), random activations
    n, k, t = 6, 30, 9
    w = bf16(rng.normal(0, 0.05, (n, k)))
    w[0, :8] = bf16(np.float32(0.03))           # a run of equal |w| ...
    w[0, 3] = -w[0, 3]                           # ... with mixed signs
    w[1, 5:12] = 0                               # zero weights
    x = rng.normal(0, 1, (t, k)).astype(np.float32)
    x[:, 7] = x[:, 6]                            # equal input norms
    x[:, 20] = 0                                 # a dead input
    x[:, 3] = 4 * x[:, 3]                        # one large input
    cases.append(case("bf16_ties_dead_inputs", "BF16", w, x))
    # F32 weights with a sign-symmetric row, K = 40
    n, k, t = 4, 40, 5
    w = rng.normal(0, 1, (n, k)).astype(np.float32)
    w[2] = np.abs(w[2]) * np.where(np.arange(k) % 2, -1, 1)
    x = rng.uniform(-2, 2, (t, k)).astype(np.float32)
    cases.append(case("f32_random", "F32", w, x))
    # I8 codes (ternary, as a quantized BitNet checkpoint holds them), K = 24: magnitude alone cannot choose
    n, k, t = 5, 24, 7
    w = rng.integers(-1, 2, (n, k)).astype(np.float64)
    w[4] = 1
    x = rng.normal(0, 1, (t, k)).astype(np.float32) * np.linspace(0.2, 2.0, k).astype(np.float32)
    x[:, 9] = x[:, 8]
    cases.append(case("i8_ternary", "I8", w, x))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "wanda", "fixture.json")
    with open(out, "w") as f:
        json.dump({"made_by": "scripts/wanda_reference.py", "numpy": np.__version__, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {os.path.normpath(out)}: {len(cases)} cases")


if __name__ == "__main__":
    main()
