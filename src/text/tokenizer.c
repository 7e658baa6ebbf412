/* Encoding and decoding (the steps are listed in tokenizer.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "text/tokenizer_internal.h"

/* ---- output ids ---- */

typedef struct idbuf {
    int32_t *v;
    int64_t n, cap;
} idbuf;

static ss_status push(idbuf *b, int32_t id) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 256;
        int32_t *w = realloc(b->v, (size_t)cap * sizeof *w);
        if (!w) return ss_fail(SS_ERR_NOMEM, "encode: no memory for %lld ids", (long long)cap);
        b->v = w, b->cap = cap;
    }
    b->v[b->n++] = id;
    return SS_OK;
}

/* State of one encode call. */
typedef struct enc {
    const ss_tokenizer *tk;
    idbuf out;
    pcre2_match_data *md;
    /* BPE scratch, grown as needed */
    int32_t *sym, *prev, *next;
    int64_t *heap_rank;
    int32_t *heap_pos, *heap_new;
    size_t sym_cap, heap_cap;
    char *mapped;  /* byte-level string of a word */
    size_t mapped_cap;
} enc;

static ss_status grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return SS_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *w = realloc(*p, c * elem);
    if (!w) return ss_fail(SS_ERR_NOMEM, "encode: no memory for a word of %zu bytes", need);
    *p = w;
    *cap = c;
    return SS_OK;
}

/* Room for a word of n symbols and its candidate merges (at most n - 1 at
 * first, then two per merge). */
static ss_status reserve_word(enc *e, size_t n) {
    if (n > e->sym_cap) {
        size_t c = e->sym_cap;
        SS_TRY(grow((void **)&e->sym, &c, n, sizeof *e->sym));
        c = e->sym_cap;
        SS_TRY(grow((void **)&e->prev, &c, n, sizeof *e->prev));
        c = e->sym_cap;
        SS_TRY(grow((void **)&e->next, &c, n, sizeof *e->next));
        e->sym_cap = c;
    }
    if (3 * n > e->heap_cap) {
        size_t c = e->heap_cap;
        SS_TRY(grow((void **)&e->heap_rank, &c, 3 * n, sizeof *e->heap_rank));
        c = e->heap_cap;
        SS_TRY(grow((void **)&e->heap_pos, &c, 3 * n, sizeof *e->heap_pos));
        c = e->heap_cap;
        SS_TRY(grow((void **)&e->heap_new, &c, 3 * n, sizeof *e->heap_new));
        e->heap_cap = c;
    }
    return SS_OK;
}

/* ---- BPE ---- */

/* A min-heap of candidate merges ordered by (rank, position). */
static int heap_less(const enc *e, size_t a, size_t b) {
    return e->heap_rank[a] != e->heap_rank[b] ? e->heap_rank[a] < e->heap_rank[b] : e->heap_pos[a] < e->heap_pos[b];
}

static void heap_swap(enc *e, size_t a, size_t b) {
    int64_t r = e->heap_rank[a];
    int32_t p = e->heap_pos[a], w = e->heap_new[a];
    e->heap_rank[a] = e->heap_rank[b], e->heap_pos[a] = e->heap_pos[b], e->heap_new[a] = e->heap_new[b];
    e->heap_rank[b] = r, e->heap_pos[b] = p, e->heap_new[b] = w;
}

static void heap_push(enc *e, size_t *n, int64_t rank, int32_t pos, int32_t new_id) {
    size_t i = (*n)++;
    e->heap_rank[i] = rank, e->heap_pos[i] = pos, e->heap_new[i] = new_id;
    while (i > 0 && heap_less(e, i, (i - 1) / 2)) {
        heap_swap(e, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_pop(enc *e, size_t *n) {
    heap_swap(e, 0, --*n);
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && heap_less(e, l, m)) m = l;
        if (r < *n && heap_less(e, r, m)) m = r;
        if (m == i) break;
        heap_swap(e, i, m);
        i = m;
    }
}

/* Candidate merge of symbol pos with the one after it, if the pair has a rule. */
static void consider(enc *e, size_t *hn, int32_t pos) {
    if (pos < 0 || e->next[pos] < 0) return;
    int32_t new_id;
    int64_t rank = tk_merges_find(&e->tk->merges, e->sym[pos], e->sym[e->next[pos]], &new_id);
    if (rank >= 0) heap_push(e, hn, rank, pos, new_id);
}

/* The BPE of one pre-token s[0..n) (raw bytes; the byte-level alphabet maps them). */
static ss_status bpe_word(enc *e, const char *s, size_t n) {
    const ss_tokenizer *tk = e->tk;
    if (tk->ignore_merges) { /* a word that is itself a token is taken whole */
        SS_TRY(grow((void **)&e->mapped, &e->mapped_cap, 2 * n + 1, 1));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += (size_t)tk_utf8_put(tk_byte_char((uint8_t)s[i]), e->mapped + k);
        const json_t *id = json_object_getn(tk->vocab, e->mapped, k);
        if (id) return push(&e->out, (int32_t)json_integer_value(id));
    }
    SS_TRY(reserve_word(e, n));
    for (size_t i = 0; i < n; i++) {
        e->sym[i] = tk->byte_id[(uint8_t)s[i]];
        if (e->sym[i] < 0)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: byte 0x%02X has no token and BPE has no unk_token (tokenizers "
                           "would drop it)", tk->path, (unsigned)(uint8_t)s[i]);
        e->prev[i] = (int32_t)i - 1;
        e->next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    size_t hn = 0;
    for (size_t i = 0; i + 1 < n; i++) consider(e, &hn, (int32_t)i);
    while (hn > 0) {
        int32_t pos = e->heap_pos[0], new_id = e->heap_new[0];
        heap_pop(e, &hn);
        if (e->sym[pos] < 0 || e->next[pos] < 0) continue; /* merged away, or now the last symbol */
        int32_t nx = e->next[pos], cur;
        if (tk_merges_find(&tk->merges, e->sym[pos], e->sym[nx], &cur) < 0 || cur != new_id) continue; /* stale */
        e->sym[pos] = new_id;
        e->sym[nx] = -1;
        e->next[pos] = e->next[nx];
        if (e->next[nx] >= 0) e->prev[e->next[nx]] = pos;
        consider(e, &hn, e->prev[pos]);
        consider(e, &hn, pos);
    }
    for (int32_t i = 0; i >= 0; i = e->next[i]) SS_TRY(push(&e->out, e->sym[i]));
    return SS_OK;
}

/* ---- pre-tokenization ---- */

static ss_status pre_tokenize(enc *e, int level, const char *s, size_t n);

/* Runs re over s[0..n) and passes the pieces on (Isolated: the gaps and the
 * matches; Removed: the gaps), as tokenizers' find_matches does: an empty
 * match yields no piece and the search resumes one character later. */
static ss_status split_by(enc *e, const tk_split *sp, int level, const char *s, size_t n) {
    size_t prev = 0, at = 0;
    while (at <= n) {
        int rc = pcre2_match(sp->re, (PCRE2_SPTR)s, n, at, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: pre-tokenizer regex failed at byte %zu: %s", e->tk->path, at,
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
        size_t ms = ov[0], me = ov[1];
        if (ms > prev) SS_TRY(pre_tokenize(e, level, s + prev, ms - prev));
        if (me > ms && sp->behavior == TK_SPLIT_ISOLATED) SS_TRY(pre_tokenize(e, level, s + ms, me - ms));
        prev = me;
        if (me > ms) at = me;
        else if (me >= n) break;
        else {
            uint32_t cp;
            at = me + (size_t)tk_utf8_get(s + me, n - me, &cp);
        }
    }
    if (prev < n) SS_TRY(pre_tokenize(e, level, s + prev, n - prev));
    return SS_OK;
}

/* ByteLevel: the prefix space, the GPT-2 regex, then BPE (level n_split + 1: after the regex). */
static ss_status byte_level(enc *e, const char *s, size_t n) {
    const ss_tokenizer *tk = e->tk;
    if (tk->prefix_space && s[0] != ' ') {
        char *w = malloc(n + 1);
        if (!w) return ss_fail(SS_ERR_NOMEM, "encode: no memory for a word of %zu bytes", n + 1);
        w[0] = ' ';
        memcpy(w + 1, s, n);
        ss_status st = tk->has_gpt2_regex ? split_by(e, &tk->gpt2, tk->n_split + 1, w, n + 1) : bpe_word(e, w, n + 1);
        free(w);
        return st;
    }
    return tk->has_gpt2_regex ? split_by(e, &tk->gpt2, tk->n_split + 1, s, n) : bpe_word(e, s, n);
}

/* A piece at pre-tokenizer step `level`: splits 0..n_split-1, then ByteLevel, then (after its regex) BPE. */
static ss_status pre_tokenize(enc *e, int level, const char *s, size_t n) {
    if (n == 0) return SS_OK; /* empty pieces are dropped */
    const ss_tokenizer *tk = e->tk;
    if (level < tk->n_split) return split_by(e, &tk->split[level], level + 1, s, n);
    if (level == tk->n_split) return byte_level(e, s, n);
    return bpe_word(e, s, n);
}

/* ---- added tokens, normalizer ---- */

typedef ss_status (*gap_fn)(enc *e, const char *s, size_t n);

/* Cuts the tokens of set out of s, leftmost-longest; the text between goes to gap. */
static ss_status split_added(enc *e, const tk_added_set *set, const char *s, size_t n, gap_fn gap) {
    size_t start = 0, pos = 0;
    while (set->n > 0 && pos < n) {
        unsigned b = (unsigned char)s[pos];
        const tk_added *hit = NULL;
        for (int k = set->first[b]; k < set->first[b + 1] && !hit; k++) /* longest first */
            if (set->tok[k]->match_len <= n - pos && !memcmp(s + pos, set->tok[k]->match, set->tok[k]->match_len))
                hit = set->tok[k];
        if (!hit) {
            pos++;
            continue;
        }
        if (pos > start) SS_TRY(gap(e, s + start, pos - start));
        SS_TRY(push(&e->out, hit->id));
        pos += hit->match_len;
        start = pos;
    }
    if (n > start) SS_TRY(gap(e, s + start, n - start));
    return SS_OK;
}

static ss_status normalized_gap(enc *e, const char *s, size_t n) { return pre_tokenize(e, 0, s, n); }

/* Text between two raw-matched added tokens: normalize, then the normalized added tokens. */
static ss_status raw_gap(enc *e, const char *s, size_t n) {
    if (!e->tk->nfc) return split_added(e, &e->tk->normalized_set, s, n, normalized_gap);
    char *norm;
    size_t len;
    SS_TRY(tk_nfc(s, n, &norm, &len));
    ss_status st = split_added(e, &e->tk->normalized_set, norm, len, normalized_gap);
    free(norm);
    return st;
}

/* A code point PCRE2's Unicode tables (older than Oniguruma's) leave
 * unassigned splits as tokenizers splits it when the patterns ask only for
 * \p{L}, \p{N} and \s and it is none of them: utf8proc (a later Unicode)
 * knows it as, say, an emoji (So) or a mark. A letter, digit or space, one
 * neither library knows, any such code point under NFC (whose tables would
 * differ too), or a pattern with other properties: refused. */
static int unassigned_is_safe(const ss_tokenizer *tk, uint32_t cp) {
    if (tk->nfc || tk->other_props) return 0;
    switch (utf8proc_category((utf8proc_int32_t)cp)) {
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
    case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP: return 0;
    default: return 1;
    }
}

/* Code points whose handling would differ from tokenizers': see
 * unassigned_is_safe, and with NFC, combining marks newer than tokenizers'
 * normalization tables. */
static ss_status check_code_points(enc *e, const char *text, size_t len) {
    const ss_tokenizer *tk = e->tk;
    for (size_t from = 0; tk->unassigned && from < len;) {
        int rc = pcre2_match(tk->unassigned, (PCRE2_SPTR)text, len, from, PCRE2_NO_UTF_CHECK, e->md, NULL);
        if (rc < 0) break;
        size_t at = pcre2_get_ovector_pointer(e->md)[0];
        uint32_t cp;
        int k = tk_utf8_get(text + at, len - at, &cp);
        if (!unassigned_is_safe(tk, cp))
            return ss_fail(SS_ERR_UNSUPPORTED, "encode: U+%04X at byte %zu is unassigned in PCRE2's Unicode tables "
                           "(older than tokenizers'), which may class it differently, so it is refused",
                           (unsigned)cp, at);
        from = at + (size_t)k;
    }
    if (tk->nfc)
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            int k = tk_utf8_get(text + i, len - i, &cp);
            if (tk_nfc_newer_mark(cp))
                return ss_fail(SS_ERR_UNSUPPORTED, "encode: U+%04X at byte %zu is a combining mark newer than the "
                               "NFC tables of tokenizers, which would normalize it differently", (unsigned)cp, i);
            i += (size_t)k;
        }
    return SS_OK;
}

ss_status ss_tokenizer_encode(const ss_tokenizer *tk, const char *text, size_t len, int add_special, int32_t **ids,
                              int64_t *n) {
    *ids = NULL;
    *n = 0;
    size_t bad = tk_utf8_check(text, len);
    if (bad < len) return ss_fail(SS_ERR_ARG, "encode: the text is not valid UTF-8 at byte %zu", bad);
    enc e = {.tk = tk};
    e.md = pcre2_match_data_create(1, NULL);
    ss_status st = e.md ? SS_OK : ss_fail(SS_ERR_NOMEM, "encode: no memory for regex matching");
    if (st == SS_OK) st = check_code_points(&e, text, len);
    for (int i = 0; st == SS_OK && add_special && i < tk->n_prefix; i++) st = push(&e.out, tk->prefix[i]);
    if (st == SS_OK) st = split_added(&e, &tk->raw_set, text, len, raw_gap);
    for (int i = 0; st == SS_OK && add_special && i < tk->n_suffix; i++) st = push(&e.out, tk->suffix[i]);
    pcre2_match_data_free(e.md);
    free(e.sym), free(e.prev), free(e.next), free(e.heap_rank), free(e.heap_pos), free(e.heap_new), free(e.mapped);
    if (st != SS_OK) {
        free(e.out.v);
        return st;
    }
    *ids = e.out.v;
    *n = e.out.n;
    return SS_OK;
}

/* ---- decoding ---- */

ss_status ss_tokenizer_decode(const ss_tokenizer *tk, const int32_t *ids, int64_t n, int skip_special, char **text,
                              size_t *len) {
    *text = NULL;
    *len = 0;
    size_t cap = 256, k = 0;
    char *bytes = malloc(cap);
    if (!bytes) return ss_fail(SS_ERR_NOMEM, "decode: no memory");
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        const char *tok = NULL;
        if (id >= 0 && id < tk->vocab_size) {
            int a = tk->id_added[id];
            if (a >= 0) {
                if (skip_special && tk->added[a].special) continue;
                tok = tk->added[a].content;
            } else {
                tok = tk->id_token[id];
            }
        }
        if (!tok) {
            free(bytes);
            return ss_fail(SS_ERR_ARG, "decode: id %d (position %lld) is not a token of %s", id, (long long)i, tk->path);
        }
        size_t tl = strlen(tok);
        if (k + tl + 1 > cap) {
            while (k + tl + 1 > cap) cap *= 2;
            char *w = realloc(bytes, cap);
            if (!w) {
                free(bytes);
                return ss_fail(SS_ERR_NOMEM, "decode: no memory for %zu bytes", cap);
            }
            bytes = w;
        }
        /* ByteLevel decoder: a token all of whose characters stand for bytes
         * gives those bytes; any other (an added token's own text) its UTF-8 */
        size_t start = k;
        int all_bytes = 1;
        for (size_t j = 0; j < tl && all_bytes;) {
            uint32_t cp;
            j += (size_t)tk_utf8_get(tok + j, tl - j, &cp);
            int b = tk_char_byte(cp);
            if (b < 0) all_bytes = 0;
            else bytes[k++] = (char)b;
        }
        if (!all_bytes) {
            memcpy(bytes + start, tok, tl);
            k = start + tl;
        }
    }
    ss_status st = tk_utf8_lossy(bytes, k, text, len);
    free(bytes);
    return st;
}

int32_t ss_tokenizer_vocab_size(const ss_tokenizer *tk) { return tk->vocab_size; }

int32_t ss_tokenizer_token_id(const ss_tokenizer *tk, const char *token) {
    for (int i = 0; i < tk->n_added; i++)
        if (!strcmp(tk->added[i].content, token)) return tk->added[i].id;
    const json_t *v = json_object_get(tk->vocab, token);
    return v ? (int32_t)json_integer_value(v) : -1;
}

void ss_tokenizer_special_affixes(const ss_tokenizer *tk, const int32_t **prefix, int *n_prefix,
                                  const int32_t **suffix, int *n_suffix) {
    *prefix = tk->prefix, *n_prefix = tk->n_prefix;
    *suffix = tk->suffix, *n_suffix = tk->n_suffix;
}
