/* Loading tokenizer.json: every component and option is read or refused by
 * name (see tokenizer.h for what is implemented). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "text/tokenizer_internal.h"

#define UNSUPPORTED(tk, ...) ss_context(ss_fail(SS_ERR_UNSUPPORTED, __VA_ARGS__), "%s", (tk)->path)
#define BAD(tk, ...) ss_context(ss_fail(SS_ERR_FORMAT, __VA_ARGS__), "%s", (tk)->path)

static const char *type_of(const json_t *j) {
    const json_t *t = json_object_get(j, "type");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* An optional boolean option: absent or null gives def. */
static ss_status opt_bool(const ss_tokenizer *tk, const json_t *j, const char *what, const char *key, int def,
                          int *out) {
    const json_t *v = json_object_get(j, key);
    if (!v || json_is_null(v)) *out = def;
    else if (json_is_boolean(v)) *out = json_is_true(v);
    else return BAD(tk, "%s: '%s' is not a boolean", what, key);
    return SS_OK;
}

/* ---- regexes: Oniguruma (what tokenizers uses) on PCRE2 ---- */

/* Oniguruma's \s: U+0009-000D, U+0085 and the Zs/Zl/Zp separators (listed
 * by tokenizers itself). PCRE2's \s with UCP adds U+180E, which Oniguruma
 * does not count as space since Unicode 6.3, so \s is spelled out. */
#define ONIG_SPACE "\\t\\n\\x{0B}\\f\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* Rewrites an Oniguruma pattern (Ruby syntax, as the onig crate compiles
 * it) into PCRE2 with the same meaning for what these tokenizers use:
 * \s and \S as Oniguruma's (ONIG_SPACE);
 * constructs whose meaning differs between the two (\h, \w, \b, POSIX
 * classes, class set operations, inline options other than i) are refused. */
static ss_status translate_pattern(ss_tokenizer *tk, const char *p, char **out) {
    size_t n = strlen(p);
    char *o = malloc(n * sizeof ONIG_SPACE + 1), *w = o;
    if (!o) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for a pattern");
    int in_class = 0;
    size_t class_open = 0;
    for (size_t i = 0; i < n;) {
        char c = p[i];
        if (c == '\\') {
            if (i + 1 >= n) {
                free(o);
                return BAD(tk, "pattern ends with a backslash: %s", p);
            }
            char d = p[i + 1];
            if (d == 's') {
                w += sprintf(w, in_class ? "%s" : "[%s]", ONIG_SPACE);
            } else if (d == 'S' && !in_class) {
                w += sprintf(w, "[^%s]", ONIG_SPACE);
            } else if ((d == 'p' || d == 'P') && strncmp(p + i + 2, "{L}", 3) && strncmp(p + i + 2, "{N}", 3)) {
                /* a property other than L and N: characters PCRE2 does not know yet may have it */
                tk->other_props = 1;
                *w++ = c, *w++ = d;
            } else if (strchr("SwWbBhHRXKGyYk", d)) {
                free(o);
                return UNSUPPORTED(tk, "pattern escape '\\%c' (its meaning differs between Oniguruma, which "
                                       "tokenizers uses, and PCRE2) in %s", d, p);
            } else {
                *w++ = c, *w++ = d;
            }
            i += 2;
            continue;
        }
        if (in_class) {
            if (c == '[' || (c == '&' && i + 1 < n && p[i + 1] == '&')) {
                free(o);
                return UNSUPPORTED(tk, "pattern: nested class, POSIX class or class intersection at offset %zu "
                                       "(Oniguruma and PCRE2 read them differently) in %s", i, p);
            }
            if (c == ']' && i > class_open) in_class = 0;
            *w++ = c, i++;
            continue;
        }
        if (c == '[') {
            in_class = 1;
            *w++ = c, i++;
            if (i < n && p[i] == '^') *w++ = p[i++];
            class_open = i + 1; /* a ']' right after '[' or '[^' is a literal */
            if (i < n && p[i] == ']') *w++ = p[i++];
            continue;
        }
        if (c == '(' && i + 1 < n && p[i + 1] == '?') {
            static const char *ok[] = {"(?:", "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?i:", "(?i)"};
            int good = 0;
            for (size_t k = 0; k < sizeof ok / sizeof ok[0] && !good; k++) good = !strncmp(p + i, ok[k], strlen(ok[k]));
            if (!good) {
                free(o);
                return UNSUPPORTED(tk, "pattern group '%.6s' at offset %zu (only (?: (?= (?! (?<= (?<! (?> and "
                                       "(?i are implemented) in %s", p + i, i, p);
            }
        }
        *w++ = c, i++;
    }
    *w = 0;
    *out = o;
    return SS_OK;
}

/* Compiles a pattern: literal (a Split "String") or an Oniguruma regex. */
static ss_status compile(ss_tokenizer *tk, const char *pattern, int literal, pcre2_code **out) {
    char *pat = NULL;
    if (literal) pat = strdup(pattern);
    else SS_TRY(translate_pattern(tk, pattern, &pat));
    if (!pat) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for a pattern");
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc) pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int err;
    PCRE2_SIZE at;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE | (literal ? PCRE2_LITERAL : 0);
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &err, &at, cc);
    pcre2_compile_context_free(cc);
    free(pat);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return BAD(tk, "pattern does not compile at offset %zu: %s: %s", (size_t)at, (const char *)msg, pattern);
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* without JIT support, matching falls back to the interpreter */
    *out = re;
    return SS_OK;
}

/* ---- normalizer ---- */

static ss_status load_normalizer(ss_tokenizer *tk, const json_t *j) {
    if (!j || json_is_null(j)) return SS_OK;
    const char *t = type_of(j);
    if (!t) return BAD(tk, "normalizer without a type");
    if (!strcmp(t, "NFC")) {
        tk->nfc = 1;
        return SS_OK;
    }
    if (!strcmp(t, "Sequence")) {
        const json_t *list = json_object_get(j, "normalizers");
        if (!json_is_array(list)) return BAD(tk, "normalizer Sequence without 'normalizers'");
        size_t i;
        const json_t *v;
        json_array_foreach(list, i, v) {
            if (json_is_null(v)) continue;
            if (!type_of(v) || strcmp(type_of(v), "NFC") != 0 || tk->nfc)
                return UNSUPPORTED(tk, "normalizer '%s' inside a Sequence is not implemented (only one NFC)",
                                   type_of(v) ? type_of(v) : "?");
            tk->nfc = 1;
        }
        return SS_OK;
    }
    return UNSUPPORTED(tk, "normalizer '%s' is not implemented (none, NFC, or a Sequence of NFC)", t);
}

/* ---- pre-tokenizer ---- */

static const char GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static ss_status load_split(ss_tokenizer *tk, const json_t *j) {
    if (tk->n_split == TK_MAX_SPLITS) return UNSUPPORTED(tk, "more than %d Split pre-tokenizers", TK_MAX_SPLITS);
    const json_t *pat = json_object_get(j, "pattern"), *beh = json_object_get(j, "behavior");
    const json_t *re = json_object_get(pat, "Regex"), *str = json_object_get(pat, "String");
    if (!json_is_string(re) && !json_is_string(str)) return BAD(tk, "Split pre-tokenizer without a Regex or String pattern");
    if (!json_is_string(beh)) return BAD(tk, "Split pre-tokenizer without a behavior");
    const char *b = json_string_value(beh);
    tk_split_behavior bh;
    if (!strcmp(b, "Isolated")) bh = TK_SPLIT_ISOLATED;
    else if (!strcmp(b, "Removed")) bh = TK_SPLIT_REMOVED;
    else return UNSUPPORTED(tk, "Split behavior '%s' is not implemented (Isolated, Removed)", b);
    int invert = 0;
    SS_TRY(opt_bool(tk, j, "Split", "invert", 0, &invert));
    if (invert) return UNSUPPORTED(tk, "Split with invert = true is not implemented");
    tk_split *s = &tk->split[tk->n_split];
    s->behavior = bh;
    SS_TRY(compile(tk, json_string_value(json_is_string(re) ? re : str), !json_is_string(re), &s->re));
    tk->n_split++;
    return SS_OK;
}

static ss_status load_byte_level(ss_tokenizer *tk, const json_t *j) {
    SS_TRY(opt_bool(tk, j, "ByteLevel pre-tokenizer", "add_prefix_space", 1, &tk->prefix_space));
    SS_TRY(opt_bool(tk, j, "ByteLevel pre-tokenizer", "use_regex", 1, &tk->has_gpt2_regex));
    /* trim_offsets changes offsets only, never ids */
    if (tk->has_gpt2_regex) SS_TRY(compile(tk, GPT2_PATTERN, 0, &tk->gpt2.re));
    return SS_OK;
}

/* Splits (any number, in order) then one ByteLevel, alone or in a Sequence. */
static ss_status load_pre_tokenizer(ss_tokenizer *tk, const json_t *j) {
    if (!j || json_is_null(j))
        return UNSUPPORTED(tk, "no pre-tokenizer: only byte-level BPE (a ByteLevel pre-tokenizer) is implemented");
    const json_t *one[1] = {j};
    const json_t *const *items = one;
    size_t n = 1;
    const json_t *list = NULL;
    const char *t = type_of(j);
    if (t && !strcmp(t, "Sequence")) {
        list = json_object_get(j, "pretokenizers");
        if (!json_is_array(list)) return BAD(tk, "pre-tokenizer Sequence without 'pretokenizers'");
        n = json_array_size(list);
    }
    int seen_byte_level = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *p = list ? json_array_get(list, i) : items[i];
        const char *pt = type_of(p);
        if (!pt) return BAD(tk, "pre-tokenizer without a type");
        if (seen_byte_level)
            return UNSUPPORTED(tk, "pre-tokenizer '%s' after ByteLevel is not implemented (ByteLevel must be last)", pt);
        if (!strcmp(pt, "Split")) SS_TRY(load_split(tk, p));
        else if (!strcmp(pt, "ByteLevel")) {
            SS_TRY(load_byte_level(tk, p));
            seen_byte_level = 1;
        } else return UNSUPPORTED(tk, "pre-tokenizer '%s' is not implemented (Split, ByteLevel, Sequence)", pt);
    }
    if (!seen_byte_level)
        return UNSUPPORTED(tk, "pre-tokenizer without ByteLevel: only byte-level BPE is implemented");
    return SS_OK;
}

/* ---- model ---- */

static ss_status merges_init(tk_merges *m, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n + 16) cap *= 2;
    m->key = calloc(cap, sizeof *m->key);
    m->rank = malloc(cap * sizeof *m->rank);
    m->new_id = malloc(cap * sizeof *m->new_id);
    m->cap = cap;
    if (!m->key || !m->rank || !m->new_id) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for %zu merges", n);
    return SS_OK;
}

static size_t merges_slot(const tk_merges *m, uint64_t key) {
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 17) & (m->cap - 1);
    while (m->key[i] && m->key[i] != key) i = (i + 1) & (m->cap - 1);
    return i;
}

int64_t tk_merges_find(const tk_merges *m, int32_t a, int32_t b, int32_t *new_id) {
    if (!m->cap) return -1;
    size_t i = merges_slot(m, ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1);
    if (!m->key[i]) return -1;
    *new_id = m->new_id[i];
    return m->rank[i];
}

static ss_status vocab_id(const ss_tokenizer *tk, const char *s, size_t len, int32_t *id) {
    const json_t *v = json_object_getn(tk->vocab, s, len);
    if (!v) return BAD(tk, "merge refers to '%.*s', which is not in the vocabulary", (int)len, s);
    *id = (int32_t)json_integer_value(v);
    return SS_OK;
}

/* Adds merge (a, b) of the given rank; a later duplicate replaces the earlier, as in tokenizers. */
static ss_status add_merge(ss_tokenizer *tk, const char *a, size_t la, const char *b, size_t lb, int32_t rank) {
    int32_t ia = -1, ib = -1, inew = -1; /* set by vocab_id on success (gcc -O2 cannot see it) */
    SS_TRY(vocab_id(tk, a, la, &ia));
    SS_TRY(vocab_id(tk, b, lb, &ib));
    char buf[1024], *cat = la + lb < sizeof buf ? buf : malloc(la + lb);
    if (!cat) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for a merge");
    memcpy(cat, a, la);
    memcpy(cat + la, b, lb);
    ss_status st = vocab_id(tk, cat, la + lb, &inew);
    if (cat != buf) free(cat);
    SS_TRY(st);
    uint64_t key = ((uint64_t)(uint32_t)ia << 32 | (uint32_t)ib) + 1;
    size_t i = merges_slot(&tk->merges, key);
    if (!tk->merges.key[i]) tk->merges.n++;
    tk->merges.key[i] = key;
    tk->merges.rank[i] = rank;
    tk->merges.new_id[i] = inew;
    return SS_OK;
}

static ss_status load_merges(ss_tokenizer *tk, const json_t *merges) {
    if (!json_is_array(merges)) return BAD(tk, "model has no 'merges' list");
    SS_TRY(merges_init(&tk->merges, json_array_size(merges)));
    int32_t rank = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(merges, i, v) {
        if (json_is_string(v)) { /* legacy "a b"; "#version" lines are skipped */
            const char *s = json_string_value(v), *sp = strchr(s, ' ');
            if (!strncmp(s, "#version", 8)) continue;
            if (!sp || strchr(sp + 1, ' '))
                return BAD(tk, "merge %d '%s' is not two tokens separated by one space", rank + 1, s);
            SS_TRY(add_merge(tk, s, (size_t)(sp - s), sp + 1, strlen(sp + 1), rank));
        } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_string(json_array_get(v, 0)) &&
                   json_is_string(json_array_get(v, 1))) {
            const json_t *a = json_array_get(v, 0), *b = json_array_get(v, 1);
            SS_TRY(add_merge(tk, json_string_value(a), json_string_length(a), json_string_value(b),
                             json_string_length(b), rank));
        } else {
            return BAD(tk, "merge %zu is neither \"a b\" nor [\"a\", \"b\"]", i);
        }
        rank++;
    }
    return SS_OK;
}

static ss_status load_model(ss_tokenizer *tk, const json_t *j) {
    const char *t = type_of(j);
    if (!t) return BAD(tk, "model without a type");
    if (strcmp(t, "BPE") != 0) return UNSUPPORTED(tk, "model '%s' is not implemented (BPE)", t);
    const json_t *dropout = json_object_get(j, "dropout");
    if (dropout && !json_is_null(dropout) && !(json_is_number(dropout) && json_number_value(dropout) == 0.0))
        return UNSUPPORTED(tk, "BPE dropout (random merges) is not implemented");
    static const char *affixes[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const json_t *a = json_object_get(j, affixes[i]);
        if (a && !json_is_null(a) && !(json_is_string(a) && json_string_length(a) == 0))
            return UNSUPPORTED(tk, "BPE '%s' is not implemented", affixes[i]);
    }
    SS_TRY(opt_bool(tk, j, "BPE", "ignore_merges", 0, &tk->ignore_merges));
    tk->vocab = json_object_get(j, "vocab");
    if (!json_is_object(tk->vocab)) return BAD(tk, "BPE model has no 'vocab' object");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)tk->vocab, key, v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= INT32_MAX)
            return BAD(tk, "vocabulary entry '%s' has no valid id", key);
        if (json_integer_value(v) >= tk->vocab_size) tk->vocab_size = (int32_t)json_integer_value(v) + 1;
    }
    SS_TRY(load_merges(tk, json_object_get(j, "merges")));
    /* the byte-level alphabet; a byte without a token can only be dropped or
     * replaced by the unknown token, which tokenizers does silently: refused */
    int missing = 0;
    for (int b = 0; b < 256; b++) {
        char s[4];
        int n = tk_utf8_put(tk_byte_char((uint8_t)b), s);
        const json_t *id = json_object_getn(tk->vocab, s, (size_t)n);
        tk->byte_id[b] = id ? (int32_t)json_integer_value(id) : -1;
        missing += !id;
    }
    const json_t *unk = json_object_get(j, "unk_token");
    int byte_fallback;
    SS_TRY(opt_bool(tk, j, "BPE", "byte_fallback", 0, &byte_fallback));
    if (missing && ((unk && !json_is_null(unk)) || byte_fallback))
        return UNSUPPORTED(tk, "BPE with %d bytes missing from the byte-level alphabet and an unk_token or "
                               "byte_fallback is not implemented", missing);
    return SS_OK;
}

/* ---- added tokens ---- */

static int cmp_added(const void *a, const void *b) {
    const tk_added *x = *(const tk_added *const *)a, *y = *(const tk_added *const *)b;
    unsigned char fx = (unsigned char)x->match[0], fy = (unsigned char)y->match[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    return x->match_len > y->match_len ? -1 : x->match_len < y->match_len;
}

static ss_status build_set(ss_tokenizer *tk, tk_added_set *set, int normalized) {
    set->tok = malloc((size_t)(tk->n_added + 1) * sizeof *set->tok);
    if (!set->tok) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for added tokens");
    set->n = 0;
    for (int i = 0; i < tk->n_added; i++)
        if (tk->added[i].normalized == normalized && tk->added[i].match_len > 0) set->tok[set->n++] = &tk->added[i];
    qsort(set->tok, (size_t)set->n, sizeof *set->tok, cmp_added);
    int k = 0;
    for (int b = 0; b <= 256; b++) {
        while (k < set->n && (unsigned char)set->tok[k]->match[0] < b) k++;
        set->first[b] = k;
    }
    return SS_OK;
}

/* The id tokenizers gives an added token when it loads the file (it does
 * not take the listed id): an earlier added token's or the vocabulary's id
 * for the same content, else the next free one, counting from the number of
 * vocabulary entries. For the files models ship the two agree. */
static int32_t tokenizers_id(const ss_tokenizer *tk, const char *content, int64_t *next_id) {
    for (int i = tk->n_added - 1; i >= 0; i--)
        if (!strcmp(tk->added[i].content, content)) return tk->added[i].id;
    const json_t *v = json_object_get(tk->vocab, content);
    if (v) return (int32_t)json_integer_value(v);
    return (int32_t)(*next_id)++;
}

static ss_status load_added(ss_tokenizer *tk, const json_t *list) {
    if (!list || json_is_null(list)) return SS_OK;
    if (!json_is_array(list)) return BAD(tk, "'added_tokens' is not a list");
    int64_t next_id = (int64_t)json_object_size(tk->vocab);
    tk->added = calloc(json_array_size(list) + 1, sizeof *tk->added);
    if (!tk->added) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for added tokens");
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        tk_added *a = &tk->added[tk->n_added];
        const json_t *id = json_object_get(v, "id"), *content = json_object_get(v, "content");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= INT32_MAX ||
            !json_is_string(content) || json_string_length(content) == 0)
            return BAD(tk, "added token %zu has no valid id or content", i);
        a->content = json_string_value(content);
        a->id = tokenizers_id(tk, a->content, &next_id);
        if (a->id != json_integer_value(id))
            ss_warn("%s: added token '%s' is listed with id %lld, but tokenizers gives it id %d on loading (as it "
                    "does, so do we)", tk->path, a->content, (long long)json_integer_value(id), a->id);
        static const char *strip[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++) {
            int on = 0;
            SS_TRY(opt_bool(tk, v, "added token", strip[k], 0, &on));
            if (on) return UNSUPPORTED(tk, "added token '%s': %s = true is not implemented", a->content, strip[k]);
        }
        SS_TRY(opt_bool(tk, v, "added token", "special", 0, &a->special));
        SS_TRY(opt_bool(tk, v, "added token", "normalized", !a->special, &a->normalized));
        if (a->normalized && tk->nfc) SS_TRY(tk_nfc(a->content, strlen(a->content), &a->match, &a->match_len));
        else {
            a->match = strdup(a->content);
            a->match_len = strlen(a->content);
            if (!a->match) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for added tokens");
        }
        if (a->id >= tk->vocab_size) tk->vocab_size = a->id + 1;
        tk->n_added++;
    }
    SS_TRY(build_set(tk, &tk->raw_set, 0));
    return build_set(tk, &tk->normalized_set, 1);
}

/* id -> vocabulary token and id -> added token, for decoding. */
static ss_status build_id_tables(ss_tokenizer *tk) {
    tk->id_token = calloc((size_t)tk->vocab_size + 1, sizeof *tk->id_token);
    tk->id_added = malloc(((size_t)tk->vocab_size + 1) * sizeof *tk->id_added);
    if (!tk->id_token || !tk->id_added) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for %d ids", tk->vocab_size);
    for (int32_t i = 0; i < tk->vocab_size; i++) tk->id_added[i] = -1;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)tk->vocab, key, v) {
        int32_t id = (int32_t)json_integer_value(v);
        if (tk->id_token[id]) return BAD(tk, "vocabulary entries '%s' and '%s' share id %d", tk->id_token[id], key, id);
        tk->id_token[id] = key;
    }
    for (int i = 0; i < tk->n_added; i++) tk->id_added[tk->added[i].id] = i;
    return SS_OK;
}

/* ---- post-processor ---- */

static ss_status append_ids(ss_tokenizer *tk, int32_t **list, int *n, const int32_t *ids, int k) {
    int32_t *w = realloc(*list, (size_t)(*n + k + 1) * sizeof *w);
    if (!w) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory for the template");
    memcpy(w + *n, ids, (size_t)k * sizeof *w);
    *list = w;
    *n += k;
    return SS_OK;
}

static ss_status load_template(ss_tokenizer *tk, const json_t *j) {
    const json_t *single = json_object_get(j, "single"), *specials = json_object_get(j, "special_tokens");
    if (!json_is_array(single)) return BAD(tk, "TemplateProcessing without a 'single' template");
    int seen_a = 0;
    size_t i;
    const json_t *item;
    json_array_foreach(single, i, item) {
        const json_t *seq = json_object_get(item, "Sequence"), *sp = json_object_get(item, "SpecialToken");
        if (seq) {
            const json_t *id = json_object_get(seq, "id");
            if (!json_is_string(id) || strcmp(json_string_value(id), "A") != 0 || seen_a)
                return UNSUPPORTED(tk, "TemplateProcessing single template: only one sequence $A is implemented");
            seen_a = 1;
        } else if (sp) {
            const json_t *name = json_object_get(sp, "id");
            const json_t *entry = json_is_string(name) ? json_object_get(specials, json_string_value(name)) : NULL;
            const json_t *ids = json_object_get(entry, "ids");
            if (!json_is_array(ids) || json_array_size(ids) == 0)
                return BAD(tk, "TemplateProcessing: special token '%s' has no ids",
                           json_is_string(name) ? json_string_value(name) : "?");
            size_t k;
            const json_t *idv;
            json_array_foreach(ids, k, idv) {
                if (!json_is_integer(idv) || json_integer_value(idv) < 0 || json_integer_value(idv) >= INT32_MAX)
                    return BAD(tk, "TemplateProcessing: special token '%s' has a bad id", json_string_value(name));
                int32_t id = (int32_t)json_integer_value(idv);
                SS_TRY(seen_a ? append_ids(tk, &tk->suffix, &tk->n_suffix, &id, 1)
                              : append_ids(tk, &tk->prefix, &tk->n_prefix, &id, 1));
            }
        } else {
            return BAD(tk, "TemplateProcessing: template item %zu is neither Sequence nor SpecialToken", i);
        }
    }
    if (!seen_a) return BAD(tk, "TemplateProcessing single template has no $A");
    return SS_OK;
}

static ss_status load_post_processor(ss_tokenizer *tk, const json_t *j) {
    if (!j || json_is_null(j)) return SS_OK;
    const char *t = type_of(j);
    if (!t) return BAD(tk, "post-processor without a type");
    if (!strcmp(t, "ByteLevel")) return SS_OK; /* offsets only */
    if (!strcmp(t, "TemplateProcessing")) {
        if (tk->n_prefix || tk->n_suffix) return UNSUPPORTED(tk, "two TemplateProcessing post-processors");
        return load_template(tk, j);
    }
    if (!strcmp(t, "Sequence")) {
        const json_t *list = json_object_get(j, "processors");
        if (!json_is_array(list)) return BAD(tk, "post-processor Sequence without 'processors'");
        size_t i;
        const json_t *v;
        json_array_foreach(list, i, v) {
            if (type_of(v) && !strcmp(type_of(v), "Sequence"))
                return UNSUPPORTED(tk, "nested post-processor Sequence is not implemented");
            SS_TRY(load_post_processor(tk, v));
        }
        return SS_OK;
    }
    return UNSUPPORTED(tk, "post-processor '%s' is not implemented (TemplateProcessing, ByteLevel, Sequence)", t);
}

/* A token named in tokenizer_config.json: a string or {"content": ...}. */
static ss_status config_token(ss_tokenizer *tk, const json_t *cfg, const char *key, const char *cfg_path,
                              int32_t *id) {
    const json_t *v = json_object_get(cfg, key);
    if (json_is_object(v)) v = json_object_get(v, "content");
    if (!json_is_string(v))
        return ss_fail(SS_ERR_FORMAT, "%s: add_%s is true but '%s' names no token", cfg_path, key, key);
    *id = ss_tokenizer_token_id(tk, json_string_value(v));
    if (*id < 0) return ss_fail(SS_ERR_FORMAT, "%s: %s '%s' is not a token of %s", cfg_path, key, json_string_value(v), tk->path);
    return SS_OK;
}

/* transformers 5: add_bos_token / add_eos_token in tokenizer_config.json
 * (or no post-processor at all) make it rebuild the template as
 * "bos? $A eos?", replacing tokenizer.json's post-processor. */
static ss_status apply_tokenizer_config(ss_tokenizer *tk, const char *cfg_path, int had_post_processor) {
    json_t *cfg = NULL;
    if (ss_path_exists(cfg_path)) { /* model_max_length is often 1e30, written as an integer */
        json_error_t err;
        cfg = json_load_file(cfg_path, JSON_DECODE_INT_AS_REAL, &err);
        if (!cfg) return ss_fail(SS_ERR_FORMAT, "%s:%d:%d: bad JSON: %s", cfg_path, err.line, err.column, err.text);
    }
    const json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
    ss_status st = SS_OK;
    if ((ab && !json_is_boolean(ab)) || (ae && !json_is_boolean(ae)))
        st = ss_fail(SS_ERR_FORMAT, "%s: add_bos_token / add_eos_token must be booleans", cfg_path);
    if (st == SS_OK && (ab || ae || !had_post_processor)) {
        free(tk->prefix), free(tk->suffix);
        tk->prefix = tk->suffix = NULL;
        tk->n_prefix = tk->n_suffix = 0;
        int32_t id;
        if (json_is_true(ab)) {
            st = config_token(tk, cfg, "bos_token", cfg_path, &id);
            if (st == SS_OK) st = append_ids(tk, &tk->prefix, &tk->n_prefix, &id, 1);
        }
        if (st == SS_OK && json_is_true(ae)) {
            st = config_token(tk, cfg, "eos_token", cfg_path, &id);
            if (st == SS_OK) st = append_ids(tk, &tk->suffix, &tk->n_suffix, &id, 1);
        }
    }
    json_decref(cfg);
    return st;
}

/* ---- decoder and top level ---- */

static ss_status load_decoder(ss_tokenizer *tk, const json_t *j) {
    const char *t = j && !json_is_null(j) ? type_of(j) : "none";
    if (t && !strcmp(t, "ByteLevel")) return SS_OK; /* its options change offsets only */
    if (t && !strcmp(t, "Sequence")) {
        const json_t *list = json_object_get(j, "decoders");
        if (json_is_array(list) && json_array_size(list) == 1) return load_decoder(tk, json_array_get(list, 0));
    }
    return UNSUPPORTED(tk, "decoder '%s' is not implemented (ByteLevel)", t ? t : "?");
}

static ss_status load(ss_tokenizer *tk, const char *dir_for_config) {
    SS_TRY(ss_json_load(tk->path, &tk->root));
    if (!json_is_object(tk->root)) return BAD(tk, "not a JSON object");
    static const char *must_be_null[] = {"truncation", "padding"};
    for (int i = 0; i < 2; i++) {
        const json_t *v = json_object_get(tk->root, must_be_null[i]);
        if (v && !json_is_null(v))
            return UNSUPPORTED(tk, "'%s' is set: it changes the ids of every encoding and is not implemented",
                               must_be_null[i]);
    }
    const json_t *model = json_object_get(tk->root, "model");
    if (!json_is_object(model)) return BAD(tk, "no 'model'");
    SS_TRY(load_normalizer(tk, json_object_get(tk->root, "normalizer")));
    SS_TRY(load_pre_tokenizer(tk, json_object_get(tk->root, "pre_tokenizer")));
    SS_TRY(load_model(tk, model));
    SS_TRY(load_added(tk, json_object_get(tk->root, "added_tokens")));
    SS_TRY(build_id_tables(tk));
    const json_t *post = json_object_get(tk->root, "post_processor");
    SS_TRY(load_post_processor(tk, post));
    SS_TRY(load_decoder(tk, json_object_get(tk->root, "decoder")));
    if (tk->n_split > 0 || tk->has_gpt2_regex) {
        int err;
        PCRE2_SIZE at;
        tk->unassigned = pcre2_compile((PCRE2_SPTR) "\\p{Cn}", PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err, &at, NULL);
        if (!tk->unassigned) return ss_fail(SS_ERR_INTERNAL, "tokenizer: \\p{Cn} does not compile");
        pcre2_jit_compile(tk->unassigned, PCRE2_JIT_COMPLETE);
    }
    char cfg_path[4200];
    snprintf(cfg_path, sizeof cfg_path, "%s/tokenizer_config.json", dir_for_config);
    SS_TRY(apply_tokenizer_config(tk, cfg_path, post && !json_is_null(post)));
    for (int i = 0; i < tk->n_prefix; i++)
        if (tk->prefix[i] >= tk->vocab_size) return BAD(tk, "post-processor id %d is beyond the vocabulary", tk->prefix[i]);
    for (int i = 0; i < tk->n_suffix; i++)
        if (tk->suffix[i] >= tk->vocab_size) return BAD(tk, "post-processor id %d is beyond the vocabulary", tk->suffix[i]);
    return SS_OK;
}

ss_status ss_tokenizer_load(const char *path, ss_tokenizer **out) {
    *out = NULL;
    ss_tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk) return ss_fail(SS_ERR_NOMEM, "tokenizer: no memory");
    char dir[4096];
    if (ss_is_dir(path)) {
        snprintf(dir, sizeof dir, "%s", path);
        if (snprintf(tk->path, sizeof tk->path, "%s/tokenizer.json", path) >= (int)sizeof tk->path) {
            free(tk);
            return ss_fail(SS_ERR_ARG, "tokenizer: path too long: %s", path);
        }
    } else {
        snprintf(tk->path, sizeof tk->path, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
    }
    if (!ss_path_exists(tk->path)) {
        ss_status st = ss_fail(SS_ERR_IO, "%s: no tokenizer.json", tk->path);
        free(tk);
        return st;
    }
    ss_status st = load(tk, dir);
    if (st != SS_OK) {
        ss_tokenizer_free(tk);
        return st;
    }
    *out = tk;
    return SS_OK;
}

void ss_tokenizer_free(ss_tokenizer *tk) {
    if (!tk) return;
    for (int i = 0; i < tk->n_split; i++) pcre2_code_free(tk->split[i].re);
    pcre2_code_free(tk->gpt2.re);
    pcre2_code_free(tk->unassigned);
    free(tk->merges.key), free(tk->merges.rank), free(tk->merges.new_id);
    for (int i = 0; i < tk->n_added; i++) free(tk->added[i].match);
    free(tk->added);
    free(tk->raw_set.tok), free(tk->normalized_set.tok);
    free(tk->id_token), free(tk->id_added);
    free(tk->prefix), free(tk->suffix);
    json_decref(tk->root);
    free(tk);
}
