#!/usr/bin/env python3
"""Writes the transformers fixtures that tests/test_hf_fixtures.c checks the
CPU engine against, so CI needs no torch. Run by hand, from the repository
root, with transformers + torch installed:

    /work/venv/bin/python tests/data/hf/make_fixtures.py

For every fixture <name> (see FIXTURES) it writes tests/data/hf/<name>/:

  checkpoint/            written by transformers' own save_pretrained: a tiny
                         random model of the family (config.json in the layout
                         the installed transformers writes: 5.x
                         "rope_parameters"), shards + index when sharded
  config.v4.json         the same config rewritten by this script into the
                         transformers 4.x layout (top-level "rope_theta",
                         "rope_scaling" with "rope_type", or the legacy "type"
                         key where the fixture says so); the script checks
                         that transformers computes bit-identical logits from
                         it before writing it
  expected.safetensors   prompt I32 [P]; ids I32 [G] (transformers' greedy
                         continuation, argmax with the lowest index on ties);
                         logits F32 [P+G, V] (teacher-forced on prompt + ids,
                         model in float32: the weights' exact values);
                         logits_bf16 F32 [P+G, V] (the same, model in
                         bfloat16: how far transformers' own BF16 run is);
                         logits_engine_rounding F32 [P+G, V] (float32, with
                         BF16 rounding where the engine rounds: see
                         EngineRounding)

and tests/data/hf/manifest.json: the fixtures, what each covers, and the
versions of python, torch, transformers and safetensors that made them.

Weights are random (fixed seeds) but not transformers' init: q/k are scaled
up so that attention is far from uniform, which makes every RoPE parameter
visible in the logits; norms are not all ones. BitNet's quantized formats are
made from the same master weights as the plain bitnet fixture:
  bitnet_online   quantization_config autobitlinear/online: loaded by
                  transformers with that config and saved again by it
  bitnet_packed   the offline 2-bit format of microsoft/bitnet-b1.58-2B-4T
                  (bitlinear): codes packed with transformers' own
                  pack_weights, weight_scale = 1/mean|W| (BitLinear divides
                  by it), loaded by transformers and saved again by it.
"""
import json
import os
import platform
import shutil
import sys
import tempfile

os.environ.setdefault("TORCH_COMPILE_DISABLE", "1")  # BitNet's @torch.compile helpers: same math, no compiler

import numpy as np
import safetensors
import safetensors.torch
import torch
import transformers
from transformers import AutoModelForCausalLM, BitNetConfig, LlamaConfig, Qwen2Config
from transformers.integrations import bitnet as hf_bitnet

# The BitNet quantizer asks for `accelerate` before loading but does not use it
# on this path (it replaces the linears on the meta device itself).
import transformers.quantizers.quantizer_bitnet as _qb

_qb.is_accelerate_available = lambda: True

HERE = os.path.dirname(os.path.abspath(__file__))
PROMPT_LEN, NEW = 8, 8

DIMS = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, bos_token_id=1, eos_token_id=2)

BITNET_ONLINE = {"quant_method": "bitnet", "linear_class": "autobitlinear", "quantization_mode": "online"}

# name: (config class, config kwargs, weights dtype, options)
FIXTURES = {
    "llama_tied_bf16": (LlamaConfig, dict(tie_word_embeddings=True, max_position_embeddings=256,
                                          rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
                        torch.bfloat16, {"covers": "Llama, tied embeddings, BF16, default RoPE (theta 1e4)"}),
    "llama_untied_f32": (LlamaConfig, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                           rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
                         torch.float32, {"covers": "Llama, untied lm_head, F32, theta 5e5"}),
    "llama_sharded_f16": (LlamaConfig, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                            rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
                          torch.float16, {"covers": "Llama, F16, sharded (4 shards + index)", "shard": "60KB"}),
    "qwen2_bias_bf16": (Qwen2Config, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                          rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
                        torch.bfloat16, {"covers": "Qwen2, q/k/v bias, theta 1e6"}),
    "llama32_llama3_bf16": (LlamaConfig, dict(tie_word_embeddings=True, max_position_embeddings=512,
                                              rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                                               "factor": 8.0, "low_freq_factor": 1.0,
                                                               "high_freq_factor": 4.0,
                                                               "original_max_position_embeddings": 64}),
                            torch.bfloat16, {"covers": "Llama-3.2 style: tied, llama3 RoPE scaling (all three bands)"}),
    "llama_linear_bf16": (LlamaConfig, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                            rope_parameters={"rope_type": "linear", "rope_theta": 10000.0,
                                                             "factor": 4.0}),
                          torch.bfloat16, {"covers": "linear RoPE scaling; 4.x file uses the legacy 'type' key",
                                           "legacy_type": True}),
    "llama_dynamic_bf16": (LlamaConfig, dict(tie_word_embeddings=False, max_position_embeddings=64,
                                             rope_parameters={"rope_type": "dynamic", "rope_theta": 10000.0,
                                                              "factor": 4.0}),
                           torch.bfloat16, {"covers": "dynamic NTK RoPE within max_position_embeddings (64)",
                                            "legacy_type": True}),
    "qwen2_yarn_bf16": (Qwen2Config, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                          rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0,
                                                           "factor": 8.0, "original_max_position_embeddings": 32}),
                        torch.bfloat16, {"covers": "yarn RoPE: ramp and attention factor 0.1 ln 8 + 1",
                                         "legacy_type": True}),
    "qwen2_yarn_mscale_bf16": (Qwen2Config, dict(tie_word_embeddings=False, max_position_embeddings=256,
                                                 rope_parameters={"rope_type": "yarn", "rope_theta": 10000.0,
                                                                  "factor": 4.0, "original_max_position_embeddings": 64,
                                                                  "beta_fast": 16.0, "beta_slow": 2.0, "mscale": 1.0,
                                                                  "mscale_all_dim": 0.5, "truncate": False}),
                               torch.bfloat16, {"covers": "yarn with beta_fast/beta_slow, mscale/mscale_all_dim, "
                                                          "truncate false"}),
    "bitnet_bf16": (BitNetConfig, dict(tie_word_embeddings=True, max_position_embeddings=256,
                                       rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
                    torch.bfloat16, {"covers": "BitNet (relu2, sub-norms), tied, BF16 master weights, no "
                                               "quantization_config (the engine runs them as BF16)"}),
    "bitnet_online_bf16": (BitNetConfig, dict(tie_word_embeddings=True, max_position_embeddings=256,
                                              rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
                           torch.bfloat16, {"covers": "BitNet quantization_config autobitlinear online: the "
                                                      "bitnet_bf16 weights ternarized at load, INT8 activations",
                                            "quant": "online", "master": "bitnet_bf16"}),
    "bitnet_packed": (BitNetConfig, dict(tie_word_embeddings=True, max_position_embeddings=256,
                                         rope_parameters={"rope_type": "default", "rope_theta": 500000.0}),
                      torch.bfloat16, {"covers": "BitNet offline packed 2-bit (bitlinear, as "
                                                 "microsoft/bitnet-b1.58-2B-4T), from the bitnet_bf16 weights",
                                       "quant": "packed", "master": "bitnet_bf16"}),
}


def seed_of(name):
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(name)) % (1 << 31)


def fill_weights(model, seed):
    """Deterministic random weights with visible attention (see the module doc)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            shape = p.shape
            if name.endswith("norm.weight"):
                v = 1.0 + 0.2 * torch.randn(shape, generator=g)
            elif name.endswith(".bias"):
                v = 0.5 * torch.randn(shape, generator=g)
            elif "embed_tokens" in name:
                # small against the layers' outputs, so a tied lm_head does not just repeat the input token
                v = 0.1 * torch.randn(shape, generator=g)
            else:
                gain = 3.0 if ("q_proj" in name or "k_proj" in name) else 1.0
                v = gain / shape[1] ** 0.5 * torch.randn(shape, generator=g)
            p.copy_(v.to(p.dtype))


def build(cls, kwargs, dtype, seed):
    cfg = cls(**DIMS, **kwargs)
    model = transformers.AutoModelForCausalLM.from_config(cfg)
    fill_weights(model, seed)
    return model.to(dtype)


def bf16(x):
    return x.to(torch.bfloat16).to(x.dtype)


class EngineRounding:
    """transformers in float32, with values rounded to BF16 exactly where the engine rounds them: the
    input (unquantized linears only: quantized ones quantize their float input per token) and output of
    every linear, lm_head included, and k after RoPE (the BF16 KV cache; v is a linear output already).
    Nothing else changes: the modeling code, its order of operations and its float32 arithmetic are
    transformers' own. The gap between these logits and plain float32 ones is what the engine's BF16
    rounding alone does to this model; tests/test_hf_fixtures.c derives its tolerance from it."""

    MODULES = ("llama", "qwen2", "bitnet")

    def __init__(self, model):
        self.model, self.hooks, self.saved = model, [], {}

    def __enter__(self):
        for name in self.MODULES:
            mod = __import__(f"transformers.models.{name}.modeling_{name}", fromlist=["apply_rotary_pos_emb"])
            rope = mod.apply_rotary_pos_emb
            self.saved[mod] = rope

            def rounded(q, k, cos, sin, *a, _rope=rope, **kw):
                q_embed, k_embed = _rope(q, k, cos, sin, *a, **kw)
                return q_embed, bf16(k_embed)

            mod.apply_rotary_pos_emb = rounded
        for module in self.model.modules():
            kind = type(module).__name__
            if not isinstance(module, torch.nn.Linear) and kind != "BitLinear":
                continue
            if kind not in ("AutoBitLinear", "BitLinear"):
                self.hooks.append(module.register_forward_pre_hook(lambda m, args: (bf16(args[0]),) + args[1:]))
            self.hooks.append(module.register_forward_hook(lambda m, args, out: bf16(out)))
        return self

    def __exit__(self, *exc):
        for h in self.hooks:
            h.remove()
        for mod, rope in self.saved.items():
            mod.apply_rotary_pos_emb = rope


def greedy_and_logits(model_dir, prompt, dtype):
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.eval()
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(NEW):
            logits = model(torch.tensor([ids])).logits[0, -1].float()
            ids.append(int(torch.argmax(logits)))  # first maximal index on ties
        full = model(torch.tensor([ids])).logits[0].float()
    return ids[len(prompt):], full


def to_v4(cfg, legacy_type):
    """The 4.x layout of a config transformers 5 wrote: rope_theta on top, rope_scaling for the rest."""
    c = dict(cfg)
    rp = dict(c.pop("rope_parameters"))
    c["rope_theta"] = rp.pop("rope_theta")
    if rp.get("rope_type", "default") == "default":
        c["rope_scaling"] = None
    else:
        if legacy_type:
            rp["type"] = rp.pop("rope_type")
        c["rope_scaling"] = rp
    return dict(sorted(c.items()))


def same_logits_with_config(ckpt, cfg, prompt, ids, want):
    """transformers' logits with another config.json next to the same weights."""
    with tempfile.TemporaryDirectory() as tmp:
        for f in os.listdir(ckpt):
            if f != "config.json":
                os.symlink(os.path.join(ckpt, f), os.path.join(tmp, f))
        with open(os.path.join(tmp, "config.json"), "w") as fh:
            json.dump(cfg, fh, indent=2)
        model = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)
        with torch.no_grad():
            got = model(torch.tensor([list(prompt) + ids])).logits[0].float()
    return torch.equal(got, want)


def with_quant_config(master_dir, out_dir, quantization_config):
    """The master checkpoint with a quantization_config in its config.json (transformers then loads it
    as pre-quantized; it cannot add a BitNet config to an unquantized model itself)."""
    shutil.copytree(master_dir, out_dir)
    with open(os.path.join(out_dir, "config.json")) as fh:
        cfg = json.load(fh)
    cfg["quantization_config"] = quantization_config
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)


def pack_from_master(master_dir, out_dir):
    """The offline packed format, made with transformers' pack_weights from the master weights."""
    tensors = {}
    for f in sorted(os.listdir(master_dir)):
        if f.endswith(".safetensors"):
            tensors.update(safetensors.torch.load_file(os.path.join(master_dir, f)))
    packed = {}
    for name, t in tensors.items():
        if ".layers." in name and name.endswith("_proj.weight"):
            w = t.float()
            scale = 1.0 / w.abs().mean().clamp(min=1e-5)  # WeightQuant's scale
            q = (w * scale).round().clamp(-1, 1).to(torch.int8)
            packed[name] = hf_bitnet.pack_weights(q.clone())
            packed[name + "_scale"] = scale.reshape(1).to(torch.bfloat16)  # BitLinear: y / weight_scale
        else:
            packed[name] = t
    os.makedirs(out_dir)
    safetensors.torch.save_file(packed, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(master_dir, "config.json")) as fh:
        cfg = json.load(fh)
    cfg["quantization_config"] = {"quant_method": "bitnet", "linear_class": "bitlinear",
                                  "quantization_mode": "offline"}
    with open(os.path.join(out_dir, "config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)


def write_fixture(name, spec, masters):
    cls, kwargs, dtype, opts = spec
    root = os.path.join(HERE, name)
    shutil.rmtree(root, ignore_errors=True)
    ckpt = os.path.join(root, "checkpoint")
    os.makedirs(root)
    quant = opts.get("quant")
    if quant is None:
        model = build(cls, kwargs, dtype, seed_of(name))
        model.save_pretrained(ckpt, max_shard_size=opts.get("shard", "50GB"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, quant)
            if quant == "online":
                with_quant_config(masters[opts["master"]], src, BITNET_ONLINE)
            else:
                pack_from_master(masters[opts["master"]], src)
            model = AutoModelForCausalLM.from_pretrained(src, dtype=dtype)
            cls_name = "AutoBitLinear" if quant == "online" else "BitLinear"
            assert type(model.model.layers[0].mlp.down_proj).__name__ == cls_name
            assert type(model.lm_head).__name__ == "Linear", "lm_head must stay unquantized"
            model.save_pretrained(ckpt)
    if quant is None and name in ("bitnet_bf16",):
        masters[name] = ckpt

    rng = np.random.default_rng(seed_of(opts.get("master", name)))  # quantized variants: the master's prompt
    prompt = [int(x) for x in rng.integers(3, DIMS["vocab_size"], PROMPT_LEN)]
    ids, logits = greedy_and_logits(ckpt, prompt, torch.float32)
    ids_bf16, logits_bf16 = greedy_and_logits(ckpt, prompt, torch.bfloat16)
    with torch.no_grad():
        model_bf16 = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.bfloat16)
        logits_bf16 = model_bf16(torch.tensor([prompt + ids])).logits[0].float()  # teacher-forced on the F32 ids
        model_f32 = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
        with EngineRounding(model_f32):
            logits_rounded = model_f32(torch.tensor([prompt + ids])).logits[0].float()

    with open(os.path.join(ckpt, "config.json")) as fh:
        cfg5 = json.load(fh)
    assert "rope_parameters" in cfg5 and "rope_scaling" not in cfg5, "expected the 5.x layout from save_pretrained"
    cfg4 = to_v4(cfg5, opts.get("legacy_type", False))
    assert same_logits_with_config(ckpt, cfg4, prompt, ids, logits), f"{name}: the 4.x rewrite changes the logits"
    with open(os.path.join(root, "config.v4.json"), "w") as fh:
        json.dump(cfg4, fh, indent=2)
        fh.write("\n")

    safetensors.torch.save_file(
        {"prompt": torch.tensor(prompt, dtype=torch.int32), "ids": torch.tensor(ids, dtype=torch.int32),
         "logits": logits.contiguous(), "logits_bf16": logits_bf16.contiguous(),
         "logits_engine_rounding": logits_rounded.contiguous()},
        os.path.join(root, "expected.safetensors"), metadata={"format": "pt"})
    gap = float((logits_bf16 - logits).abs().max())
    rgap = float((logits_rounded - logits).abs().max())
    top2 = torch.topk(logits[PROMPT_LEN - 1:PROMPT_LEN - 1 + NEW], 2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    print(f"{name}: ids {ids}, max|logit| {float(logits.abs().max()):.2f}, transformers BF16 vs F32 {gap:.3f}, "
          f"engine-point rounding vs F32 {rgap:.3f}, "
          f"smallest top-2 gap {margin:.3f}, bf16 greedy {'same' if ids_bf16 == ids else 'differs'}")
    entry = {"name": name, "model_type": cfg5["model_type"], "dtype": str(dtype).replace("torch.", ""),
             "covers": opts["covers"], "rope_parameters": cfg5["rope_parameters"],
             "quantization_config": cfg5.get("quantization_config"),
             "shards": sum(f.endswith(".safetensors") for f in os.listdir(ckpt)),
             "prompt_len": PROMPT_LEN, "new_tokens": NEW, "hf_bf16_vs_f32_max_abs": round(gap, 4),
             "engine_rounding_vs_f32_max_abs": round(rgap, 4)}
    return entry


def main():
    torch.set_num_threads(1)  # deterministic reductions
    masters = {}
    entries = [write_fixture(name, spec, masters) for name, spec in FIXTURES.items()]
    manifest = {
        "generator": "tests/data/hf/make_fixtures.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "safetensors": safetensors.__version__,
                     "numpy": np.__version__},
        "layouts": {"checkpoint/config.json": "as transformers' save_pretrained wrote it (5.x rope_parameters)",
                    "config.v4.json": "rewritten by make_fixtures.py into the 4.x layout (rope_theta + rope_scaling)"},
        "fixtures": entries,
    }
    with open(os.path.join(HERE, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2)
        fh.write("\n")


if __name__ == "__main__":
    sys.exit(main())
