/* The byte-level alphabet, UTF-8 helpers and NFC (utf8proc) for the tokenizer. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tokenizer_internal.h"

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes ('!'..'~', 0xA1..0xAC,
 * 0xAE..0xFF) stand for themselves, the other 68 take 256, 257, ... in
 * byte order. */
static int printable(unsigned b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE); }

uint32_t tk_byte_char(uint8_t b) {
    if (printable(b)) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++) n += !printable(x);
    return 256 + n;
}

int tk_char_byte(uint32_t cp) {
    if (cp < 256) return printable(cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = 256;
    for (unsigned x = 0; x < 256; x++)
        if (!printable(x) && n++ == cp) return (int)x;
    return -1;
}

int tk_utf8_put(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

int tk_utf8_get(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    int n = u[0] < 0x80 ? 1 : u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4;
    if ((size_t)n > len) n = (int)len;
    uint32_t v = n == 1 ? u[0] : n == 2 ? u[0] & 0x1Fu : n == 3 ? u[0] & 0x0Fu : u[0] & 0x07u;
    for (int i = 1; i < n; i++) v = (v << 6) | (u[i] & 0x3Fu);
    *cp = v;
    return n;
}

/* What a lead byte of a multi-byte sequence allows (RFC 3629): the
 * sequence's length (2..4) and the range of its second byte, narrowed after
 * E0 and F0 (no overlongs), ED (no surrogates) and F4 (nothing above
 * U+10FFFF); 0 for a byte that cannot lead one. Both the validator and the
 * lossy decoder's maximal subpart follow the same table. */
static int utf8_lead(unsigned c, unsigned *lo, unsigned *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s, 0 if it is not one (RFC 3629:
 * no overlongs, no surrogates, nothing above U+10FFFF). */
static int utf8_valid_len(const unsigned char *s, size_t len) {
    if (s[0] < 0x80) return 1;
    unsigned lo, hi;
    const int n = utf8_lead(s[0], &lo, &hi);
    if (!n || (size_t)n > len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

size_t tk_utf8_check(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        int n = utf8_valid_len(u + i, len - i);
        if (!n) return i;
        i += (size_t)n;
    }
    return len;
}

/* Length of the longest prefix of s that could begin a valid sequence (the
 * "maximal subpart" that Rust's from_utf8_lossy replaces by one U+FFFD), at least 1. */
static size_t maximal_subpart(const unsigned char *s, size_t len) {
    unsigned lo, hi;
    const int n = utf8_lead(s[0], &lo, &hi);
    if (!n) return 1;
    size_t k = 1;
    if (k < len && s[k] >= lo && s[k] <= hi) {
        k++;
        while ((int)k < n && k < len && (s[k] & 0xC0) == 0x80) k++;
    }
    return k;
}

ss_status tk_utf8_lossy(const char *s, size_t len, char **out, size_t *out_len) {
    /* each invalid byte grows to at most 3 (U+FFFD) */
    char *o = malloc(3 * len + 1);
    if (!o) return ss_fail(SS_ERR_NOMEM, "decode: no memory for %zu bytes of text", 3 * len);
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, k = 0;
    while (i < len) {
        int n = utf8_valid_len(u + i, len - i);
        if (n) {
            memcpy(o + k, s + i, (size_t)n);
            k += (size_t)n, i += (size_t)n;
        } else {
            i += maximal_subpart(u + i, len - i);
            memcpy(o + k, "\xEF\xBF\xBD", 3);
            k += 3;
        }
    }
    o[k] = 0;
    *out = o;
    *out_len = k;
    return SS_OK;
}

ss_status tk_nfc(const char *s, size_t len, char **out, size_t *out_len) {
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (n < 0) {
        free(dst);
        return ss_fail(SS_ERR_FORMAT, "NFC: %s", utf8proc_errmsg(n));
    }
    *out = (char *)dst;
    *out_len = (size_t)n;
    return SS_OK;
}

/* Found by tests/data/tokenizer/nfc_differences.py: every assigned code
 * point c (Unicode 14) for which tokenizers' NFC of c, a+c+U+0301,
 * a+U+0301+c, a+c+U+0323 or U+1100+c differs from Unicode's. All are
 * combining marks assigned in Unicode 11-14, whose combining class the
 * older tables lack. */
static const uint32_t g_nfc_newer[][2] = {
    {0x7FD, 0x7FD},     {0x898, 0x89F},     {0x8CA, 0x8D3},     {0x9FE, 0x9FE},     {0xC3C, 0xC3C},
    {0xD3B, 0xD3C},     {0xEBA, 0xEBA},     {0x1715, 0x1715},   {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10F46, 0x10F50}, {0x10F82, 0x10F85},
    {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A}, {0x1193D, 0x1193E},
    {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99},
    {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x16FF0, 0x16FF1}, {0x1E130, 0x1E136},
    {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
};

int tk_nfc_newer_mark(uint32_t cp) {
    if (cp < 0x7FD) return 0;
    for (size_t i = 0; i < sizeof g_nfc_newer / sizeof g_nfc_newer[0]; i++)
        if (cp >= g_nfc_newer[i][0] && cp <= g_nfc_newer[i][1]) return 1;
    return 0;
}
