"""Byte-level BPE tokenizers configured as Llama-3 (BitNet), Qwen2 and GPT-2
ship theirs, trained locally with the `tokenizers` package (nothing is
downloaded). Shared by make_tokenizer_fixtures.py and ../eval/make_eval_fixture.py.

The pre-tokenizer patterns, added-token flags, post-processors and decoders
are copied from the tokenizer.json files those models publish; only the
vocabulary and merges are ours (trained on the text given).
"""
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# Meta Llama-3 (and microsoft/bitnet-b1.58-2B-4T, which ships Llama-3's tokenizer)
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
# Qwen2 / Qwen2.5: digits one by one
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                   "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>",
                   "<|reserved_special_token_2|>", "<|eot_id|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>"]


def _train(tok, texts, vocab_size, min_frequency=2):
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)


def llama3_style(texts, vocab_size, min_frequency=2):
    """Llama-3: Split(pattern, Isolated) + ByteLevel(no prefix space, no regex),
    ignore_merges, specials appended after the BPE vocabulary (as 128000+),
    a template post-processor that prepends <|begin_of_text|>, ByteLevel decoder."""
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.normalizer = None
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    _train(tok, texts, vocab_size, min_frequency)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in LLAMA3_SPECIALS])
    bos = LLAMA3_SPECIALS[0]
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1",
                                      special_tokens=[(bos, tok.token_to_id(bos))]),
    ])
    return tok


def qwen2_style(texts, vocab_size, min_frequency=2):
    """Qwen2: NFC normalizer, Split(pattern with single digits) + ByteLevel,
    no ignore_merges, no BOS (ByteLevel post-processor), specials plus a
    non-special added token and a normalized one (matched after NFC)."""
    tok = Tokenizer(models.BPE(ignore_merges=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    _train(tok, texts, vocab_size, min_frequency)
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in QWEN2_SPECIALS])
    tok.add_tokens([AddedToken("<tool_call>", special=False, normalized=False),
                    AddedToken("</tool_call>", special=False, normalized=False),
                    AddedToken("caf\u00e9", special=False, normalized=True)])
    tok.post_processor = processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    return tok


def gpt2_style(texts, vocab_size, min_frequency=2):
    """GPT-2: ByteLevel pre-tokenizer with its own regex and a prefix space, no
    Split; <|endoftext|>; ByteLevel decoder and post-processor."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    _train(tok, texts, vocab_size, min_frequency)
    tok.add_special_tokens([AddedToken("<|endoftext|>", special=True, normalized=False)])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


STYLES = {"llama3": llama3_style, "qwen2": qwen2_style, "gpt2": gpt2_style}
