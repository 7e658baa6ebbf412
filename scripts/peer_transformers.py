#!/usr/bin/env python3
"""End-to-end peer (issue 5): Hugging Face transformers' BitNet, BF16, SDPA
attention, random weights from the BitNet-2B config, on the benchmark's
shapes: prefill point M = (M / 1024) prompts of 1024 tokens in one forward
pass; decode point M = batch M, prompt 16, `--decode-steps` greedy steps with
the model's KV cache. Median of repeats after a warm-up, CUDA-synchronised.

    python3 scripts/peer_transformers.py --prefill-m 4096,32768 --decode-m 512
"""
import argparse, statistics, sys, time

import torch
from transformers import BitNetConfig, BitNetForCausalLM


def bitnet_2b_config():
    return BitNetConfig(hidden_size=2560, intermediate_size=6912, num_hidden_layers=30, num_attention_heads=20,
                        num_key_value_heads=5, vocab_size=128256, max_position_embeddings=4096, rms_norm_eps=1e-5,
                        rope_theta=500000.0, hidden_act="relu2", tie_word_embeddings=True,
                        attn_implementation="sdpa", torch_dtype=torch.bfloat16)


def timed(fn, warmup, repeats):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefill-m", default="4096,32768")
    ap.add_argument("--decode-m", default="512")
    ap.add_argument("--decode-steps", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.manual_seed(0)
    cfg = bitnet_2b_config()
    model = BitNetForCausalLM(cfg).to(device="cuda", dtype=torch.bfloat16).eval()
    print(f"# transformers BitNet-2B BF16 SDPA, torch {torch.__version__}, {torch.cuda.get_device_name()}")
    print("stage,M,seconds,tokens_per_s,output_tokens_per_s")
    with torch.inference_mode():
        for m in [int(x) for x in a.prefill_m.split(",") if x]:
            p = min(m, 1024)
            ids = torch.randint(0, cfg.vocab_size, (m // p, p), device="cuda")
            # logits of the last position only, as our engine computes them
            s = timed(lambda: model(input_ids=ids, logits_to_keep=1), 1, a.repeats)
            print(f"prefill,{m},{s:.4f},{m / s:.0f},{(m // p) / s:.1f}", flush=True)
        for m in [int(x) for x in a.decode_m.split(",") if x]:
            ids = torch.randint(0, cfg.vocab_size, (m, 16), device="cuda")

            def run():
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
                for _ in range(a.decode_steps - 1):
                    out = model(input_ids=nxt, past_key_values=past, use_cache=True)
                    past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)

            s = timed(run, 1, max(1, a.repeats - 1))
            toks = m * a.decode_steps
            print(f"decode,{m},{s:.4f},{(m * 16 + toks) / s:.0f},{toks / s:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
