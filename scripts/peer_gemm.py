#!/usr/bin/env python3
"""The PyTorch peer of our kernel benchmark: the same (N, K) pairs, M list
and data distribution through what the reference system built on:
  dense   torch._int_mm (INT8 -> INT32), torch._scaled_mm (FP8 -> BF16)
  sparse  torch._cslt_compress + torch._cslt_sparse_mm on 2:4 weights of
          K_slid columns (the slid weight's shape), INT8 -> BF16 / FP8 -> BF16
Weights are BitNet-style ternary codes (about 31% zeros), activations
quantized Gaussian; layout TN (both operands K-contiguous, weight = sparse
operand). Times are medians of CUDA-event-timed batches after warm-up.

  python3 scripts/peer_gemm.py [--M 1024,4096,16384] [--csv FILE]
"""
import argparse
import math
import sys

import torch

NK = [(3840, 2560), (2560, 2560), (13824, 2560), (2560, 6912)]


def k_slid(K, L):
    """Columns of the slid weight (convert/sparsity.h): groups * (L/2-1) * 4, rounded up to 32."""
    if L is None:  # 2_inf: the whole row is one group
        return -(-2 * K // 32) * 32
    groups = -(-K // L)
    return -(-groups * (L // 2 - 1) * 4 // 32) * 32


def ternary(shape, gen):
    g = torch.randn(shape, generator=gen, device="cuda")
    return torch.where(g.abs() < 0.399, torch.zeros_like(g), torch.sign(g))


def two_four(t, gen):
    """Keep 2 random positions of every aligned group of 4 along the last dim."""
    n, k = t.shape
    r = torch.rand((n, k // 4, 4), generator=gen, device="cuda")
    keep = r.argsort(dim=-1)[..., :2]
    mask = torch.zeros((n, k // 4, 4), dtype=torch.bool, device="cuda").scatter_(-1, keep, True)
    return t * mask.view(n, k)


def bench(fn, warmup=3, repeats=10, batch_us=300.0):
    for _ in range(warmup):
        fn()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    e0.record()
    fn()
    e1.record()
    e1.synchronize()
    batch = max(1, min(1000, math.ceil(batch_us / (e0.elapsed_time(e1) * 1000.0))))
    times = []
    for _ in range(repeats):
        e0.record()
        for _ in range(batch):
            fn()
        e1.record()
        e1.synchronize()
        times.append(e0.elapsed_time(e1) * 1000.0 / batch)
    times.sort()
    return times[len(times) // 2]


def as_dtype(t, dtype):
    return t.to(torch.int8) if dtype == "int8" else t.to(torch.float8_e4m3fn)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--M", default="1024,4096,16384")
    ap.add_argument("--dtypes", default="int8,fp8e4m3")
    ap.add_argument("--sparsity", default="dense,2_4,2_6,2_8,2_10,2_inf")
    ap.add_argument("--csv", default=None)
    a = ap.parse_args()
    Ms = [int(x) for x in a.M.split(",")]
    gen = torch.Generator(device="cuda").manual_seed(20261125)
    rows = []
    print(f"# {torch.cuda.get_device_name()} torch {torch.__version__} cuda {torch.version.cuda}", flush=True)
    for dtype in a.dtypes.split(","):
        for sp in a.sparsity.split(","):
            for (N, K) in NK:
                L = None if sp in ("dense", "2_inf") else int(sp.split("_")[1])
                Kw = K if sp == "dense" else k_slid(K, L)
                w = ternary((N, Kw), gen)
                if sp != "dense":
                    w = two_four(w, gen)
                w = as_dtype(w, dtype)
                for M in Ms:
                    x = torch.randn((M, Kw), generator=gen, device="cuda")
                    x = (x / x.abs().amax(dim=1, keepdim=True) * (127 if dtype == "int8" else 448)).round()
                    x = as_dtype(x.clamp(-127, 127) if dtype == "int8" else x, dtype)
                    status, us, alg = "ok", float("nan"), -1
                    try:
                        if sp == "dense" and dtype == "int8":
                            fn = lambda: torch._int_mm(x, w.t())
                        elif sp == "dense":
                            one = torch.ones((), device="cuda")
                            fn = lambda: torch._scaled_mm(x, w.t(), scale_a=one, scale_b=one, out_dtype=torch.bfloat16)
                        else:
                            wc = torch._cslt_compress(w)
                            xt = x.t()
                            variants = {"default": lambda: torch._cslt_sparse_mm(wc, xt, out_dtype=torch.bfloat16)}
                            try:  # PyTorch's own search: (alg_id, split_k, split_k_mode, max_alg_id) or an alg id
                                r = torch._C._cusparselt.mm_search(wc, xt, None, None, None, False)
                                if isinstance(r, (tuple, list)) and len(r) >= 3:
                                    a_, sk, skm = int(r[0]), int(r[1]), int(r[2])
                                    variants["search"] = lambda: torch._cslt_sparse_mm(
                                        wc, xt, out_dtype=torch.bfloat16, alg_id=a_, split_k=sk, split_k_mode=skm)
                                else:
                                    a_ = int(r[0] if isinstance(r, (tuple, list)) else r)
                                    variants["search"] = lambda: torch._cslt_sparse_mm(
                                        wc, xt, out_dtype=torch.bfloat16, alg_id=a_)
                                alg = a_
                            except Exception as e:
                                if (N, M) == NK[0][0:1] + (Ms[0],):
                                    print(f"mm_search unavailable: {e}", file=sys.stderr)
                            best = None
                            for name, f in variants.items():
                                try:
                                    t = bench(f, repeats=5)
                                except Exception as e:
                                    print(f"{dtype} {sp} N={N} M={M} {name}: {str(e).splitlines()[0][:120]}",
                                          file=sys.stderr)
                                    continue
                                if best is None or t < best[1]:
                                    best = (name, t, f)
                            if best is None:
                                raise RuntimeError("no cuSPARSELt variant ran")
                            status = "ok:" + best[0]
                            fn = best[2]
                        us = bench(fn)
                    except Exception as e:  # record, never crash the sweep
                        status = "error: " + str(e).splitlines()[0][:200].replace(",", ";")
                    rows.append((dtype, sp, M, N, K, Kw, status, us, alg))
                print(f"{dtype} {sp} N={N} K={K}: done", file=sys.stderr, flush=True)
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("dtype,sparsity,M,N,K,K_used,status,us,alg_id\n")
            for r in rows:
                f.write(",".join(str(v) for v in r) + "\n")
    # summary: sums over the 4 (N, K) pairs, dense / sparse
    for dtype in a.dtypes.split(","):
        for M in Ms:
            base = None
            print(f"\npeer {dtype} M={M} (sum over 4 (N,K), us)")
            for sp in a.sparsity.split(","):
                sel = [r for r in rows if r[0] == dtype and r[1] == sp and r[2] == M]
                if any(not r[6].startswith("ok") for r in sel):
                    print(f"  {sp:8s} {next(r[6] for r in sel if not r[6].startswith('ok'))}")
                    continue
                s = sum(r[7] for r in sel)
                if sp == "dense":
                    base = s
                how = ",".join(sorted(set(r[6][3:] for r in sel if r[6].startswith("ok:"))))
                print(f"  {sp:8s} {s:10.1f} {base / s if base else float('nan'):6.2f} {how}")


if __name__ == "__main__":
    main()
