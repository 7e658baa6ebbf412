/* The tokenizer's parts, shared by the loader (tokenizer_load.c) and the
 * encoder / decoder (tokenizer.c). Not a public interface. */
#ifndef SS_TEXT_TOKENIZER_INTERNAL_H
#define SS_TEXT_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <jansson.h>
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "text/tokenizer.h"

/* An entry of "added_tokens". match is what is searched for: the content,
 * or for normalized tokens the normalizer's output of it. */
typedef struct tk_added {
    const char *content;
    int32_t id;
    int special, normalized;
    char *match;
    size_t match_len;
} tk_added;

/* A set of added tokens searched leftmost-longest: by first byte, longest first. */
typedef struct tk_added_set {
    const tk_added **tok; /* sorted by (first byte, length descending) */
    int n;
    int first[257];       /* tok[first[b] .. first[b+1]) start with byte b */
} tk_added_set;

typedef enum tk_split_behavior { TK_SPLIT_ISOLATED = 0, TK_SPLIT_REMOVED } tk_split_behavior;

/* A Split pre-tokenizer (or the ByteLevel GPT-2 regex). */
typedef struct tk_split {
    pcre2_code *re;
    tk_split_behavior behavior;
} tk_split;

#define TK_MAX_SPLITS 8

/* Pair of symbol ids -> (rank, merged id), open addressing on a 64-bit key. */
typedef struct tk_merges {
    uint64_t *key; /* (a << 32 | b) + 1; 0 = empty slot */
    int32_t *rank, *new_id;
    size_t cap;    /* a power of two */
    int64_t n;
} tk_merges;

struct ss_tokenizer {
    char path[4096];
    json_t *root;               /* tokenizer.json; vocabulary keys point into it */
    /* normalizer */
    int nfc;
    /* pre-tokenizer: splits in order, then ByteLevel */
    tk_split split[TK_MAX_SPLITS];
    int n_split;
    int prefix_space;           /* ByteLevel add_prefix_space */
    int has_gpt2_regex;         /* ByteLevel use_regex */
    tk_split gpt2;
    pcre2_code *unassigned;     /* \p{Cn}, when any regex runs: see check_code_points */
    int other_props;            /* a pattern uses \p{X} for an X other than L and N */
    /* model */
    json_t *vocab;              /* token string -> id (the "vocab" object) */
    int ignore_merges;
    tk_merges merges;
    int32_t byte_id[256];       /* the id of each byte's byte-level character, -1 if absent */
    /* added tokens */
    tk_added *added;
    int n_added;
    tk_added_set raw_set, normalized_set;
    /* id -> token (vocabulary), and id -> added token (or -1) */
    const char **id_token;
    int32_t *id_added;
    int32_t vocab_size;
    /* post-processor */
    int32_t *prefix, *suffix;
    int n_prefix, n_suffix;
};

/* GPT-2's byte <-> unicode table: the character standing for each byte, and
 * for a code point below 324 the byte it stands for (-1 if none). */
uint32_t tk_byte_char(uint8_t b);
int tk_char_byte(uint32_t cp);
/* Appends the UTF-8 of cp to out (room for 4 bytes); returns the length. */
int tk_utf8_put(uint32_t cp, char *out);
/* Decodes one code point of valid UTF-8 at s (len > 0 bytes left); returns its length. */
int tk_utf8_get(const char *s, size_t len, uint32_t *cp);
/* Offset of the first invalid UTF-8 byte in s, or len if all valid. */
size_t tk_utf8_check(const char *s, size_t len);
/* s[0..len) as valid UTF-8: each maximal invalid subpart replaced by U+FFFD,
 * as Rust's String::from_utf8_lossy does; malloc'd, NUL-terminated. */
ss_status tk_utf8_lossy(const char *s, size_t len, char **out, size_t *out_len);
/* Combining marks that tokenizers' NFC (unicode-normalization-alignments,
 * older Unicode tables) normalizes differently from Unicode 14+. */
int tk_nfc_newer_mark(uint32_t cp);
/* NFC of s[0..len) (utf8proc), malloc'd, NUL-terminated. */
ss_status tk_nfc(const char *s, size_t len, char **out, size_t *out_len);

int64_t tk_merges_find(const tk_merges *m, int32_t a, int32_t b, int32_t *new_id); /* rank or -1 */

#endif
