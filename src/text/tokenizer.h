/* The Hugging Face tokenizer of a checkpoint (tokenizer.json), for the
 * byte-level BPE tokenizers that Llama-3 (and BitNet, which ships Llama-3's),
 * Qwen2 and GPT-2 use. Encoding gives the ids that the `tokenizers` package
 * gives for the same file, decoding its text; what this implementation does
 * not cover is refused by name when the file is loaded, never approximated.
 *
 * Encoding follows tokenizers' Tokenizer::encode step by step:
 *  1. added tokens (tokenizer.json "added_tokens") are cut out of the raw
 *     text first: those with "normalized": false by a leftmost-longest
 *     match on the text as given, then, in the pieces between, after the
 *     normalizer ran on them, those with "normalized": true;
 *  2. normalizer: none or NFC (utf8proc);
 *  3. pre-tokenizer: any sequence of Split (a regex, or a literal string;
 *     behaviour Isolated or Removed) followed by ByteLevel (optionally the
 *     GPT-2 regex and a prefix space); the regexes run on PCRE2 (UTF and
 *     UCP, JIT when available) with the Oniguruma semantics that tokenizers
 *     uses (its \s, spelled out; ^ and $ at line ends); text with a letter,
 *     digit or space newer than PCRE2's Unicode tables is refused;
 *  4. model: BPE over the byte-level alphabet, merges by rank (leftmost
 *     among equal ranks), "ignore_merges" honoured (a word that is itself
 *     in the vocabulary is one token);
 *  5. post-processor (add_special): TemplateProcessing's single-sequence
 *     template (Llama-3: BOS first), ByteLevel (ids unchanged), or a
 *     Sequence of those. When tokenizer_config.json sets add_bos_token or
 *     add_eos_token, or tokenizer.json has no post-processor, the template
 *     is instead bos? $A eos? from those flags, as transformers 5 rebuilds
 *     it; so add_special = 1 gives transformers' tokenizer(text) ids.
 * Decoding: each id's token (added tokens by content), the ByteLevel
 * decoder's byte mapping, then UTF-8 with invalid sequences replaced by
 * U+FFFD as Rust's from_utf8_lossy does. transformers' optional
 * clean_up_tokenization_spaces is not applied.
 *
 *     ss_tokenizer *tk;
 *     SS_TRY(ss_tokenizer_load("model_dir", &tk));   // or a path to tokenizer.json
 *     int32_t *ids; int64_t n;
 *     SS_TRY(ss_tokenizer_encode(tk, text, strlen(text), 1, &ids, &n));
 *
 * A loaded tokenizer is read-only: encode and decode may run concurrently.
 */
#ifndef SS_TEXT_TOKENIZER_H
#define SS_TEXT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ss_tokenizer ss_tokenizer;

/* path: a tokenizer.json, or a folder holding one (and optionally
 * tokenizer_config.json, read for add_bos_token / add_eos_token). */
ss_status ss_tokenizer_load(const char *path, ss_tokenizer **out);
void ss_tokenizer_free(ss_tokenizer *tk);

/* text[0..len) must be valid UTF-8 (an error names the first bad byte).
 * add_special: apply the post-processor (BOS / EOS as configured). *ids is
 * malloc'd (NULL when *n is 0). */
ss_status ss_tokenizer_encode(const ss_tokenizer *tk, const char *text, size_t len, int add_special, int32_t **ids,
                              int64_t *n);

/* skip_special: leave out added tokens marked special. *text is malloc'd and
 * NUL-terminated; an id that names no token is an error. */
ss_status ss_tokenizer_decode(const ss_tokenizer *tk, const int32_t *ids, int64_t n, int skip_special, char **text,
                              size_t *len);

/* One more than the largest id (vocabulary and added tokens). */
int32_t ss_tokenizer_vocab_size(const ss_tokenizer *tk);
/* Id of a token (an added token's content or a vocabulary entry), -1 if none. */
int32_t ss_tokenizer_token_id(const ss_tokenizer *tk, const char *token);
/* The ids add_special puts before and after the text (e.g. Llama-3: BOS before, none after). */
void ss_tokenizer_special_affixes(const ss_tokenizer *tk, const int32_t **prefix, int *n_prefix,
                                  const int32_t **suffix, int *n_suffix);

#endif
