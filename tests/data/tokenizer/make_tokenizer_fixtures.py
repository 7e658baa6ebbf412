#!/usr/bin/env python3
"""Writes the tokenizer fixtures: byte-level BPE tokenizers trained here
with the `tokenizers` package in the Llama-3, Qwen2 and GPT-2
configurations (tokfix.py), and that package's encodings of a varied
UTF-8 corpus, which the C tokenizer must reproduce exactly (test_tokenizer).

    /work/venv/bin/python tests/data/tokenizer/make_tokenizer_fixtures.py   # from the repo root

Nothing is downloaded. For each style NAME it writes NAME/tokenizer.json
(and NAME/tokenizer_config.json as transformers saves it) and
NAME/cases.json: {"cases": [{"text", "ids" (add_special_tokens=True),
"ids_plain" (False), "decoded" (decode(ids, skip_special_tokens=False)),
"decoded_skip" (skip_special_tokens=True), "refused" (the C tokenizer
must refuse the text: see NEWER)}]}. llama3-legacy-merges is the
Llama-3 tokenizer with its merges in the older "a b" string form, which
must give the same ids. Every case is also checked against transformers'
AutoTokenizer(text).input_ids, the default that `generate --prompt` follows.
"""
import json
import os
import sys

import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import AutoTokenizer, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tokfix  # noqa: E402

# Training text: several scripts, so that the merges cover them.
TRAIN = [
    "The quick brown fox jumps over the lazy dog. It's a well-known pangram; we've used it since 1885, "
    "and they'll keep using it. I'm sure you'd agree: it's short, and it has every letter!",
    "Numbers: 0 1 2 3 42 123 4567 89012 3.14159 2,718 1e-9 -273.15 100% $19.99 #7 v2.0.1 2024-12-01 10:30:45",
    "Le cœur a ses raisons que la raison ne connaît point. Ça va très bien, merci ! Où est la bibliothèque ?",
    "Über allen Gipfeln ist Ruh. Größe, Straße, Mädchen, schön. ¿Dónde está el niño? Ñandú, acción, corazón.",
    "Москва — столица России. Съешь же ещё этих мягких французских булок, да выпей чаю. Ελληνικά: καλημέρα κόσμε.",
    "天地玄黄，宇宙洪荒。日月盈昃，辰宿列张。我们今天去公园散步吧。中文分词没有空格，所以一个词可能很长。",
    "日本語のテキストです。ひらがな、カタカナ、漢字が混ざっています。東京は日本の首都です。",
    "한국어 문장입니다. 안녕하세요, 만나서 반갑습니다. 서울은 대한민국의 수도입니다.",
    "العربية لغة جميلة. مرحبا بالعالم! السلام عليكم ورحمة الله. الكتابة من اليمين إلى اليسار.",
    "हिन्दी एक सुंदर भाषा है। नमस्ते दुनिया! भारत की राजधानी नई दिल्ली है। संस्कृत, मराठी, नेपाली।",
    "עברית נכתבת מימין לשמאל. שלום עולם! ภาษาไทยไม่มีช่องว่างระหว่างคำ สวัสดีครับ",
    "Emoji: 😀 😃 😄 👍🏽 ❤️ 🇫🇷 🇯🇵 👨‍👩‍👧‍👦 🧑🏿‍🚀 🏳️‍🌈 ✨🎉 — and symbols: © ® ™ € £ ¥ ° ± × ÷ → ⇒ ∀ ∃ ∑ √ ∞ ≠ ≤ ≥",
    "def main():\n    for i in range(10):\n        print(f\"{i:>3}\\t{i*i}\")\n\treturn 0\n\n\nif __name__ == '__main__':\n    main()\n",
    "    indented text\n\n\n   \t  mixed   whitespace    runs\r\nWindows line\r\n  trailing spaces   \n",
    "<html><body class=\"main\">Hello &amp; welcome!</body></html> {\"key\": [1, 2, 3], \"ok\": true}",
    "CONTRACTIONS: DON'T, CAN'T, WE'LL, THEY'RE, I'VE, SHE'D, IT'S. Mixed: it'S, We'Re, you'LL.",
    # U+180E is a space to PCRE2's \s but not to Oniguruma's (tokenizers'): runs of it get merges here
    "Mongolian x\u180e\u180ey x\u180e\u180e\u180ey ᠮᠣᠩᠭᠣᠯ\u180e\u180eᠪᠢᠴᠢᠭ NEL\u0085\u0085lines x\u180e\u180ey",
]

# The corpus encoded for the test: the training text, plus cases the
# training text does not contain (new words, long runs, edge cases).
CASES = TRAIN + [
    "",
    " ",
    "a",
    "Hello world",
    " Hello world",
    "Hello  world   with    spaces",
    "\t\ttabs\tand\nnewlines\n\n\nand\r\ncarriage\rreturns",
    "trailing newline\n",
    "    ",
    "\n",
    "1234567890 12 123 1234 12345 000 0.5 1,000,000",
    "٠١٢٣٤٥٦٧٨٩ ०१२३४५६७८९ ①②③ Ⅻ ½ ¾ 𝟙𝟚𝟛",
    "it's it'S IT'S it’s I'd I'll I'm you're we've they'd o'clock rock'n'roll 'tis '90s",
    "long s: it'ſ, Kelvin: 5K and 5\u212a",
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "中华人民共和国成立于一九四九年十月一日北京是中国的首都也是政治文化中心" * 3,
    "👨‍👩‍👧‍👦👨‍👩‍👧‍👦👨‍👩‍👧‍👦 🧑🏿‍🚀🧑🏻‍🚀 🏴󠁧󠁢󠁳󠁣󠁴󠁿 🇺🇳 👁️‍🗨️ 🤷🏾‍♀️",
    "e\u0301 vs \u00e9: cafe\u0301 and caf\u00e9, Å (A\u030a) and \u212b, \ufb01 ligature, \u1e9b\u0323",
    "NBSP:\u00a0here, thin\u2009space, ideographic\u3000space, NEL:\u0085x, LS:\u2028PS:\u2029end, MVS:\u180ex",
    "zero\u200bwidth\u200cjoiner\u200dand\ufeffbom",
    "control \x01\x02\x1b[31mred\x1b[0m \x7f del",
    "<|begin_of_text|>Hello<|eot_id|>",
    "Text with <|start_header_id|>user<|end_header_id|> inside <|eot_id|>and after",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>",
    "a<|endoftext|>b <|endoftext|> c<|endoftext|><|endoftext|>",
    "<tool_call>{\"name\": \"f\"}</tool_call> and cafe\u0301 caf\u00e9 café",
    "<|begin_of_text|", "<|eot_id|><|eot_id|>x",
    "mixed 日本語 and English and العربية and हिन्दी in one line 😀!",
    "!!!??? ... --- *** ((())) [[]] {{}} <<>> ''' \"\"\" ``` ~~~",
    "URL: https://example.com/path?query=1&b=2#frag email: someone@example.org",
    "x" * 300,
    "x\u180e\u180ey and a\u180e\u180e\u180eb \u180e\u180e c \u0085\u0085 d",
    " xyzzy plugh xyzzyplugh Xyzzy xyzzy's",
    " " * 50 + "y",
    "\n" * 20 + "z",
]

# Characters newer than PCRE2's Unicode tables (14.0 on Debian 12): the C
# tokenizer takes an emoji (a symbol, classed as tokenizers does under these
# patterns) except under NFC, and refuses a letter. These cases record
# which styles must refuse them ("refused"); the ids are tokenizers' anyway.
NEWER = [
    ("new emoji: \U0001FAE8 shaking face, \U0001FA77 pink heart", {"qwen2"}),
    ("new letters: \U00031350\U00031351 (CJK Extension H)", {"llama3", "qwen2", "gpt2"}),
]

STYLES = {
    "llama3": ("llama3", 800),
    "qwen2": ("qwen2", 800),
    "gpt2": ("gpt2", 600),
}


def save_transformers(tok, out, style):
    kw = {}
    if style == "llama3":
        kw = dict(bos_token="<|begin_of_text|>", eos_token="<|end_of_text|>")
    elif style == "qwen2":
        kw = dict(eos_token="<|im_end|>", pad_token="<|endoftext|>")
    else:
        kw = dict(bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    PreTrainedTokenizerFast(tokenizer_object=tok, **kw).save_pretrained(out)
    # transformers may rewrite tokenizer.json; the fixture is the tokenizers file
    tok.save(os.path.join(out, "tokenizer.json"))


def cases_for(tok, hf, style):
    out = []
    for text, refused_in in [(t, set()) for t in CASES] + NEWER:
        enc = tok.encode(text)
        ids = enc.ids
        plain = tok.encode(text, add_special_tokens=False).ids
        assert hf(text).input_ids == ids, f"transformers differs on {text!r}"
        out.append({"text": text, "ids": ids, "ids_plain": plain,
                    "decoded": tok.decode(ids, skip_special_tokens=False),
                    "decoded_skip": tok.decode(ids, skip_special_tokens=True),
                    "refused": style in refused_in})
    return out


# Vocabulary entries that no merge sequence builds, as Llama-3's (converted
# from tiktoken) has: with ignore_merges a word equal to one is one token,
# without it the merges split it.
UNREACHABLE = ["\u0120xyzzy", "\u0120plugh", "xyzzy"]


def add_unreachable(path, shift_added):
    """shift_added: the words take the ids where the added tokens began, and
    those (and the template's) move up, so that the file stays as
    tokenizers writes it. Otherwise the words go after the added tokens: the
    vocabulary's ids are then not contiguous and tokenizers, on loading,
    gives the added tokens other ids than the file lists (Qwen2 fixture:
    that rule is tested too)."""
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    vocab = j["model"]["vocab"]
    k = len(UNREACHABLE)
    if shift_added:
        first = min(t["id"] for t in j["added_tokens"])
        for t in j["added_tokens"]:
            t["id"] += k
        post = j["post_processor"]
        for p in post.get("processors", [post]):
            for sp in p.get("special_tokens", {}).values():
                sp["ids"] = [i + k for i in sp["ids"]]
        next_id = first
    else:
        next_id = max(list(vocab.values()) + [t["id"] for t in j["added_tokens"]]) + 1
    for w in UNREACHABLE:
        vocab[w] = next_id
        next_id += 1
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


def legacy_merges(src, dst):
    """The same tokenizer.json with merges as "a b" strings (the pre-0.20 form)."""
    with open(src, encoding="utf-8") as f:
        j = json.load(f)
    assert all(" " not in a and " " not in b for a, b in j["model"]["merges"])
    j["model"]["merges"] = [f"{a} {b}" for a, b in j["model"]["merges"]]
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


def main():
    meta = {"made_by": "tests/data/tokenizer/make_tokenizer_fixtures.py", "tokenizers": tokenizers.__version__,
            "transformers": transformers.__version__}
    for name, (style, vocab) in STYLES.items():
        out = os.path.join(HERE, name)
        os.makedirs(out, exist_ok=True)
        tok = tokfix.STYLES[style](TRAIN, vocab, min_frequency=1)
        save_transformers(tok, out, style)
        if style in ("llama3", "qwen2"):
            add_unreachable(os.path.join(out, "tokenizer.json"), shift_added=style == "llama3")
        tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
        hf = AutoTokenizer.from_pretrained(out)
        cases = cases_for(tok, hf, style)
        with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
            json.dump({**meta, "style": style, "cases": cases}, f, ensure_ascii=False, indent=0)
            f.write("\n")
        print(f"{name}: vocabulary {tok.get_vocab_size()}, {len(cases)} cases, "
              f"{sum(len(c['ids']) for c in cases)} ids")
        if style == "llama3":
            leg = os.path.join(HERE, "llama3-legacy-merges")
            os.makedirs(leg, exist_ok=True)
            legacy_merges(os.path.join(out, "tokenizer.json"), os.path.join(leg, "tokenizer.json"))
            ltok = Tokenizer.from_file(os.path.join(leg, "tokenizer.json"))
            assert all(ltok.encode(c["text"]).ids == c["ids"] for c in cases)
            with open(os.path.join(leg, "cases.json"), "w", encoding="utf-8") as f:
                json.dump({**meta, "style": style, "cases": cases}, f, ensure_ascii=False, indent=0)
                f.write("\n")


if __name__ == "__main__":
    main()
