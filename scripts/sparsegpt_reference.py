#!/usr/bin/env python3
"""Independent numpy reference for SparseGPT 2:L pruning; writes the fixture
that tests/test_sparsegpt.c checks src/convert/sparsegpt.c against.

It follows the SparseGPT paper's reference code (sparsegpt.py, fasterprune
with prunen = 2, prunem = L), in float64 with numpy's linear algebra:
  H = X^T X; dead = diag(H) == 0 -> H[dead, dead] = 1, W[:, dead] = 0
  H += 0.01 * mean(diag(H)) * I;  Hinv = upper Cholesky factor of H^-1
  per block of B columns, per column i: at i % L == 0 choose, per row, the 2
  columns of the group with the smallest W^2 / diag(Hinv)^2 (ties: the higher
  index); q = w with them zeroed; err = (w - q) / Hinv[i, i];
  W[:, i:block end] -= err Hinv[i, i:block end]; after the block
  W[:, block end:] -= Err Hinv[block, block end:].
(The paper's code computes the damping from the diagonal after the dead
inputs are set to 1; so does this, and so does the C code.) K is padded with
zero columns to a multiple of L (identity rows of H), as the C code does.

    python3 scripts/sparsegpt_reference.py   # rewrites tests/data/sparsegpt/fixture.json
"""
import json
import os

import numpy as np


def sparsegpt(w, x, L, block):
    n, k = w.shape
    kp = (k + L - 1) // L * L
    W = np.zeros((n, kp))
    W[:, :k] = w
    H = np.zeros((kp, kp))
    H[:k, :k] = x.T.astype(np.float64) @ x.astype(np.float64)
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += 0.01 * np.mean(np.diag(H)[:k]) * np.eye(kp) if k else 0
    Hinv = np.linalg.cholesky(np.linalg.inv(H)).T  # upper: Hinv_full = U^T U
    mask = np.zeros((n, kp), dtype=bool)
    for i1 in range(0, kp, block):
        i2 = min(i1 + block, kp)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        H1 = Hinv[i1:i2, i1:i2]
        for i in range(i2 - i1):
            if i % L == 0:
                tmp = W1[:, i:i + L] ** 2 / np.diag(H1)[i:i + L][None, :] ** 2
                idx = np.arange(L)
                for r in range(n):
                    order = np.lexsort((-idx, tmp[r]))  # smallest first, ties: higher index first
                    mask[r, i1 + i + order[:2]] = True
            w_ = W1[:, i]
            q = w_.copy()
            q[mask[:, i1 + i]] = 0
            err = (w_ - q) / H1[i, i]
            W1[:, i:] -= np.outer(err, H1[i, i:])
            W1[:, i] = q
            Err1[:, i] = err
        W[:, i1:i2] = W1
        W[:, i2:] -= Err1 @ Hinv[i1:i2, i2:]
    W[mask] = 0
    return W[:, :k], mask[:, :k]


def main():
    rng = np.random.default_rng(5)
    cases = []
    for name, n, k, t, dead in (("k24", 6, 24, 40, [5]), ("k30_dead", 5, 30, 50, [0, 17]), ("k64", 4, 64, 80, [])):
        w = rng.normal(0, 0.1, (n, k)).astype(np.float32)
        x = rng.normal(0, 1, (t, k)).astype(np.float32)
        x[:, 1] = 0.9 * x[:, 0] + 0.1 * x[:, 1]  # correlated inputs: the update matters
        for d in dead:
            x[:, d] = 0
        out = {}
        for L in (4, 6, 8, 10):
            for block in (2 * L, 128):
                pw, m = sparsegpt(w.astype(np.float64), x, L, block)
                out[f"{L}_{block}"] = {"w": pw.ravel().tolist(), "mask": m.ravel().astype(int).tolist()}
        cases.append({"name": name, "N": n, "K": k, "T": t, "w": w.astype(np.float64).ravel().tolist(),
                      "x": x.astype(np.float64).ravel().tolist(), "pruned": out})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "sparsegpt", "fixture.json")
    with open(path, "w") as f:
        json.dump({"made_by": "scripts/sparsegpt_reference.py", "numpy": np.__version__, "cases": cases}, f)
        f.write("\n")
    print(f"wrote {os.path.normpath(path)}: {len(cases)} cases")


if __name__ == "__main__":
    main()
