#!/usr/bin/env python3
"""Lists the code points for which the `tokenizers` package's NFC normalizer
(unicode-normalization-alignments, with older Unicode tables) differs from
Unicode's NFC as Python's unicodedata gives it, for the table g_nfc_newer in
src/text/tokenizer_unicode.c (text with these characters is refused under NFC).

    /work/venv/bin/python tests/data/tokenizer/nfc_differences.py

Each assigned code point c is tried alone and next to combining marks of
class 230 and 220 and after a Hangul leading consonant.
"""
import unicodedata

from tokenizers import normalizers

nfc = normalizers.NFC()
diff = []
for c in range(0x110000):
    if 0xD800 <= c < 0xE000:
        continue
    ch = chr(c)
    if unicodedata.category(ch) == "Cn":
        continue
    for s in (ch, "a" + ch + "\u0301", "a\u0301" + ch, "a" + ch + "\u0323", "\u1100" + ch):
        if nfc.normalize_str(s) != unicodedata.normalize("NFC", s):
            diff.append(c)
            break
ranges = []
for c in diff:
    if ranges and ranges[-1][1] == c - 1:
        ranges[-1][1] = c
    else:
        ranges.append([c, c])
print(f"# Unicode {unicodedata.unidata_version}: {len(diff)} code points")
print(", ".join("{0x%X, 0x%X}" % (a, b) for a, b in ranges))
