#!/usr/bin/env python3
"""Writes the eval fixtures: tiny Llama and Qwen2 checkpoints saved by
transformers, a Llama-3-style tokenizer, a text, its token ids, and
transformers' own losses for sliding-window perplexity (golden values).

    /work/venv/bin/python tests/data/eval/make_eval_fixture.py   # from the repo root
    /work/venv/bin/python tests/data/eval/make_eval_fixture.py --golden-only   # keep the models, redo golden.json

Nothing is downloaded. The models are trained for a few hundred steps on a
text generated from a small grammar (so their predictions are far from
uniform and a wrong forward pass shows in the loss), then saved in BF16.

Golden values (golden.json), per (ctx, stride): the Hugging Face guide's
loop ("Perplexity of fixed-length models"): windows [b, min(b + ctx, n))
for b = 0, stride, 2*stride, ... until one reaches the end; labels of the
tokens an earlier window already scored set to -100; each window's
outputs.loss (transformers' own loss function) times the number of tokens it
scored, summed, over the total scored. The model runs in float32 on the BF16
weights (the exact reference) and, for scale, in bfloat16. Per-token NLLs of
one window over the whole text (log_softmax of the float32 logits) are kept
too.
"""
import json
import os
import random
import sys

import numpy as np
import torch
import tokenizers
import transformers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tokenizer"))
import tokfix  # noqa: E402

SEED = 1234
CONFIGS = [(512, 512), (64, 64), (64, 32), (100, 37), (32, 1), (16, 16)]


def grammar_text(rng, n_sentences):
    """English-like sentences from a small grammar, with numbers and punctuation."""
    subj = ["the cat", "a dog", "the old man", "my sister", "the teacher", "a small bird", "the farmer", "our neighbour"]
    verb = ["sees", "likes", "follows", "paints", "finds", "remembers", "carries", "watches"]
    obj = ["the river", "a red apple", "the long road", "two boats", "the quiet garden", "an open window",
           "the morning train", "a paper kite"]
    tail = ["today", "at night", "in the rain", "after lunch", "near the hill", "every Sunday", "without a word", ""]
    out = []
    for _ in range(n_sentences):
        s = f"{rng.choice(subj)} {rng.choice(verb)} {rng.choice(obj)}"
        t = rng.choice(tail)
        if t:
            s += " " + t
        if rng.random() < 0.2:
            s += f", {rng.randint(2, 99)} times"
        s = s[0].upper() + s[1:] + rng.choice([".", ".", ".", "!", "?"])
        out.append(s)
    lines, i = [], 0
    while i < len(out):
        k = rng.randint(2, 5)
        lines.append(" ".join(out[i:i + k]))
        i += k
    return "\n".join(lines) + "\n"


def train(model, ids, steps, seq, batch, lr):
    torch.manual_seed(SEED)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    data = torch.tensor(ids)
    model.train()
    for step in range(steps):
        starts = torch.randint(0, len(ids) - seq - 1, (batch,))
        x = torch.stack([data[s:s + seq] for s in starts])
        loss = model(input_ids=x, labels=x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == steps - 1:
            print(f"  step {step}: loss {loss.item():.3f}")
    model.eval()


def windows(n, ctx, stride):
    """The guide's loop; yields (begin, end, n_new) with n_new = end - prev_end."""
    prev_end = 0
    for begin in range(0, n, stride):
        end = min(begin + ctx, n)
        yield begin, end, end - prev_end
        prev_end = end
        if end == n:
            break


@torch.no_grad()
def hf_perplexity(model, ids, ctx, stride):
    ids = torch.tensor([ids])
    n = ids.size(1)
    nll_sum, scored, n_windows = 0.0, 0, 0
    for begin, end, trg_len in windows(n, ctx, stride):
        input_ids = ids[:, begin:end]
        target = input_ids.clone()
        target[:, :-trg_len] = -100
        # after transformers' internal shift, the window's first label never counts
        n_scored = int((target[:, 1:] != -100).sum())
        if n_scored == 0:
            continue  # a one-token window scores nothing (the guide's loop would add NaN * 0)
        loss = model(input_ids=input_ids, labels=target).loss
        nll_sum += float(loss.double()) * n_scored
        scored += n_scored
        n_windows += 1
    return {"ctx": ctx, "stride": stride, "n_tokens": n, "tokens_evaluated": scored, "windows": n_windows,
            "nll_sum": nll_sum, "mean_nll": nll_sum / scored, "perplexity": float(np.exp(nll_sum / scored))}


@torch.no_grad()
def per_token_nll(model, ids):
    logits = model(input_ids=torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    tgt = torch.tensor(ids[1:])
    return (-lp[:-1].gather(1, tgt[:, None])[:, 0]).tolist(), float(logits.abs().max())


def make_model(kind, vocab, bos, eos):
    common = dict(vocab_size=vocab, max_position_embeddings=512, rms_norm_eps=1e-5, rope_theta=10000.0,
                  bos_token_id=bos, eos_token_id=eos, attn_implementation="eager")
    if kind == "llama":
        cfg = LlamaConfig(hidden_size=128, intermediate_size=192, num_hidden_layers=2, num_attention_heads=2,
                          num_key_value_heads=1, head_dim=64, tie_word_embeddings=True, **common)
        return LlamaForCausalLM(cfg)
    cfg = Qwen2Config(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, tie_word_embeddings=False, use_sliding_window=False, **common)
    return Qwen2ForCausalLM(cfg)


def main(golden_only):
    rng = random.Random(SEED)
    torch.manual_seed(SEED)
    train_text = grammar_text(rng, 1500)
    eval_text = grammar_text(random.Random(SEED + 1), 20)
    tok = tokfix.llama3_style([train_text], vocab_size=320)
    bos, eos = tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>")
    vocab = tok.get_vocab_size()
    train_ids = tok.encode(train_text).ids
    eval_ids = tok.encode(eval_text).ids  # with the BOS the post-processor adds, as tokenizer(text) gives
    assert eval_ids[0] == bos and len(eval_ids) <= 512, len(eval_ids)

    with open(os.path.join(HERE, "text.txt"), "w", encoding="utf-8") as f:
        f.write(eval_text)
    with open(os.path.join(HERE, "tokens.txt"), "w") as f:
        for i in range(0, len(eval_ids), 32):
            f.write(" ".join(str(t) for t in eval_ids[i:i + 32]) + "\n")

    golden = {"made_by": "tests/data/eval/make_eval_fixture.py", "torch": torch.__version__,
              "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
              "n_tokens": len(eval_ids), "bos_id": bos, "models": {}}
    for kind in ("llama", "qwen2"):
        out = os.path.join(HERE, kind)
        if not golden_only:
            print(f"{kind}: training")
            model = make_model(kind, vocab, bos, eos)
            train(model, train_ids, steps=300, seq=64, batch=16, lr=3e-3)
            model.to(torch.bfloat16).save_pretrained(out)
            hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|begin_of_text|>",
                                             eos_token="<|end_of_text|>")
            hf_tok.save_pretrained(out)
        assert transformers.AutoTokenizer.from_pretrained(out)(eval_text).input_ids == eval_ids
        ref = {"float32": [], "bfloat16": []}
        for dtype, key in ((torch.float32, "float32"), (torch.bfloat16, "bfloat16")):
            cls = LlamaForCausalLM if kind == "llama" else Qwen2ForCausalLM
            m = cls.from_pretrained(out, dtype=dtype, attn_implementation="eager")
            for ctx, stride in CONFIGS:
                r = hf_perplexity(m, eval_ids, ctx, stride)
                ref[key].append(r)
                print(f"  {key} ctx {ctx} stride {stride}: mean NLL {r['mean_nll']:.6f} over "
                      f"{r['tokens_evaluated']} tokens, {r['windows']} windows")
            ref[f"per_token_nll_{key}"], ref[f"max_abs_logit_{key}"] = per_token_nll(m, eval_ids)
        golden["models"][kind] = ref
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main("--golden-only" in sys.argv[1:])
