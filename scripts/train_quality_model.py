#!/usr/bin/env python3
"""Trains the small model that docs/QUALITY.md measures pruning on.

Random weights say nothing about what sparsity costs in quality, and neither
the development nor the CI machines can download a trained model. This script
makes one, on the CPU, in minutes:

* Text: the King James Version of the Bible as Debian's `bible-kjv-text`
  package ships it (public domain: the 1611 translation's copyright has long
  expired, see /usr/share/doc/bible-kjv-text/copyright), printed verse by
  verse by the package's `bible` program (package bible-kjv). The
  project's setup script installs both: `bash scripts/setup.sh --quality`
  (or SS_QUALITY=1); CI does not need them.
  The books from Genesis to Jude are training text; Revelation (the last
  book, never seen in training) is the held-out text.
* Tokenizer: byte-level BPE trained on the training text with the
  `tokenizers` package, in the Llama-3 configuration (the Llama-3 split
  regex, ByteLevel pre-tokenizer without its own regex, ByteLevel decoder,
  <|begin_of_text|> / <|end_of_text|> specials, ignore_merges), so the
  project's C tokenizer reads its tokenizer.json.
* Model: BitNet b1.58 architecture (transformers' BitNetForCausalLM: squared
  ReLU, attn/ffn sub-norms, tied embeddings), a few million parameters,
  trained quantization-aware as BitNet b1.58 is: every block linear's forward
  uses the ternary weight (absmean scale per tensor) and 8-bit per-token
  activations, with straight-through gradients (the math of transformers'
  AutoBitLinear in online mode). The BF16 master weights are saved with
  save_pretrained and `quantization_config` online, so transformers runs
  them the way they were trained; `slidesparse quantize --dtype int8`
  (ternary, the BitNet default) gives the same weights.
  `--arch llama` trains a plain Llama of the same size instead (no QAT).

Outputs in --out: model/ (config.json, model.safetensors, tokenizer.json,
...), train.txt, heldout.txt, calib.txt (text from the training part for
calibration), heldout.tokens and calib.tokens (the ids, one per line, as the
Python tokenizer encodes them), train_log.json. Nothing of it is committed;
run this script again to regenerate it (deterministic from --seed, up to
thread scheduling in torch).

    bash scripts/setup.sh --quality      # the KJV text (Debian bible-kjv, bible-kjv-text)
    python3 scripts/train_quality_model.py --out /tmp/ss-quality   # with torch, transformers, tokenizers
    bash scripts/quality_eval.sh /tmp/ss-quality                    # docs/QUALITY.md's table
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def kjv_text():
    """The whole KJV as [(book, [verse, ...])], without chapter and verse numbers."""
    try:
        out = subprocess.run(["bible", "-l0", "Gen1:1-Rev22:21"], check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise SystemExit("error: no `bible` program: the KJV text is Debian's bible-kjv-text, read with bible-kjv; "
                         "install both with `bash scripts/setup.sh --quality`")
    books = []
    for raw in out.splitlines():
        verse = re.match(r"^\s+\d+ (.*)$", raw)
        chapter = re.match(r"^(\S.*) \d+$", raw)
        if verse:
            books[-1][1].append(verse.group(1).strip())
        elif chapter:
            if not books or books[-1][0] != chapter.group(1):
                books.append((chapter.group(1), []))
        elif raw.strip():
            raise SystemExit(f"unexpected line from bible: {raw!r}")
    return books


def train_tokenizer(text, vocab):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=[BOS, EOS], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(text.splitlines(keepends=True), trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


class TernaryLinear(nn.Linear):
    """BitNet b1.58 training-time linear: ternary weights, 8-bit activations, STE."""

    def forward(self, x):
        w = self.weight
        s = w.abs().mean().clamp(min=1e-5)
        wq = (w / s).round().clamp(-1, 1) * s
        w = w + (wq - w).detach()
        a = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
        xq = (x * a).round().clamp(-128, 127) / a
        x = x + (xq - x).detach()
        return F.linear(x, w, self.bias)


def make_model(arch, vocab, a):
    if arch == "bitnet":
        from transformers import BitNetConfig, BitNetForCausalLM
        cfg = BitNetConfig(vocab_size=vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                           num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                           max_position_embeddings=a.ctx * 2, rms_norm_eps=1e-5, tie_word_embeddings=True,
                           bos_token_id=0, eos_token_id=1, rope_theta=500000.0)
        model = BitNetForCausalLM(cfg)
        for layer in model.model.layers:
            for parent in (layer.self_attn, layer.mlp):
                for name, mod in list(parent.named_children()):
                    if isinstance(mod, nn.Linear):
                        q = TernaryLinear(mod.in_features, mod.out_features, bias=mod.bias is not None)
                        q.weight = mod.weight
                        setattr(parent, name, q)
    else:
        from transformers import LlamaConfig, LlamaForCausalLM
        cfg = LlamaConfig(vocab_size=vocab, hidden_size=a.hidden, intermediate_size=a.intermediate,
                          num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                          max_position_embeddings=a.ctx * 2, rms_norm_eps=1e-5, tie_word_embeddings=True,
                          bos_token_id=0, eos_token_id=1, rope_theta=500000.0)
        model = LlamaForCausalLM(cfg)
    return model


def plain_linears(model):
    """Back to nn.Linear (same parameters) before saving."""
    for layer in model.model.layers:
        for parent in (layer.self_attn, layer.mlp):
            for name, mod in list(parent.named_children()):
                if isinstance(mod, TernaryLinear):
                    p = nn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None)
                    p.weight = mod.weight
                    setattr(parent, name, p)


@torch.no_grad()
def heldout_loss(model, ids, ctx):
    """Mean NLL over non-overlapping windows of ctx tokens (each window's first token has no target)."""
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(ids) - 1, ctx):
        x = torch.tensor(ids[i:i + ctx])[None]
        if x.shape[1] < 2:
            break
        logits = model(x).logits.float()
        total += F.cross_entropy(logits[0, :-1], x[0, 1:], reduction="sum").item()
        n += x.shape[1] - 1
    model.train()
    return total / n


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--arch", choices=["bitnet", "llama"], default="bitnet")
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=192)
    p.add_argument("--intermediate", type=int, default=512)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--kv-heads", type=int, default=1)
    p.add_argument("--ctx", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--cpu-minutes", type=float, default=12.0,
                   help="stop after this much CPU time (all threads; 6 min of wall time on 2 idle cores)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--calib-lines", type=int, default=2000)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)

    books = kjv_text()
    train_books, held_books = books[:-1], books[-1:]
    train_text = "".join(line + "\n" for _, lines in train_books for line in lines)
    held_text = "".join(line + "\n" for _, lines in held_books for line in lines)
    rng = random.Random(a.seed)
    train_lines = train_text.splitlines(keepends=True)
    start = rng.randrange(0, len(train_lines) - a.calib_lines)
    calib_text = "".join(train_lines[start:start + a.calib_lines])
    for name, text in (("train.txt", train_text), ("heldout.txt", held_text), ("calib.txt", calib_text)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            f.write(text)
    print(f"text: {len(books)} books, train {len(train_text)} chars, held-out ({held_books[0][0]}) "
          f"{len(held_text)} chars", flush=True)

    tok = train_tokenizer(train_text, a.vocab)
    enc = lambda s: tok.encode(s, add_special_tokens=False).ids
    train_ids, held_ids, calib_ids = enc(train_text), enc(held_text), enc(calib_text)
    for name, ids in (("heldout.tokens", held_ids), ("calib.tokens", calib_ids)):
        with open(os.path.join(a.out, name), "w") as f:
            f.write("\n".join(map(str, ids)) + "\n")
    print(f"tokens: train {len(train_ids)}, held-out {len(held_ids)}, calib {len(calib_ids)}", flush=True)

    model = make_model(a.arch, tok.get_vocab_size(), a)
    nparam = sum(p.numel() for p in model.parameters())
    print(f"model: {a.arch}, {nparam / 1e6:.2f} M parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    data = torch.tensor(train_ids)
    warm = max(1, a.steps // 20)
    t0, c0, log = time.time(), time.process_time(), []
    model.train()
    step = 0
    for step in range(1, a.steps + 1):
        # cosine over the run, whichever ends it first: --steps or --cpu-minutes (CPU time, so a shared
        # machine trains the same model, only slower)
        progress = min(1.0, max(step / a.steps, (time.process_time() - c0) / (a.cpu_minutes * 60)))
        lr = a.lr * min(1.0, step / warm) * 0.5 * (1 + math.cos(math.pi * progress))
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - a.ctx - 1, (a.batch,))
        x = torch.stack([data[s:s + a.ctx] for s in starts])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        el, cpu = time.time() - t0, time.process_time() - c0
        if step % 10 == 0 or step == 1:
            print(f"step {step} loss {loss.item():.3f} lr {lr:.2e} {el:.0f}s wall {cpu:.0f}s cpu", flush=True)
            log.append({"step": step, "loss": loss.item(), "seconds": el, "cpu_seconds": cpu})
        if cpu > a.cpu_minutes * 60:
            print(f"CPU time limit after step {step}", flush=True)
            break
    held = heldout_loss(model, held_ids, a.ctx)
    print(f"held-out NLL {held:.4f} (perplexity {math.exp(held):.2f}) in torch, fp32, "
          f"windows of {a.ctx}", flush=True)

    if a.arch == "bitnet":
        plain_linears(model)
        model.config.quantization_config = {"quant_method": "bitnet", "linear_class": "autobitlinear",
                                            "quantization_mode": "online"}
    model = model.to(torch.bfloat16)
    mdir = os.path.join(a.out, "model")
    model.save_pretrained(mdir, safe_serialization=True)
    from transformers import PreTrainedTokenizerFast
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS).save_pretrained(mdir)
    with open(os.path.join(a.out, "train_log.json"), "w") as f:
        json.dump({"args": vars(a), "parameters": nparam, "steps": step, "train_tokens": len(train_ids),
                   "heldout_tokens": len(held_ids), "heldout_nll_torch_fp32": held,
                   "seconds": time.time() - t0, "cpu_seconds": time.process_time() - c0, "torch": torch.__version__, "log": log}, f, indent=1)
    print(f"saved {mdir}", flush=True)


if __name__ == "__main__":
    main()
