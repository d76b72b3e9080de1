/* gen-tokenizer.h — the CLIP byte-level BPE tokenizer of Stable Diffusion
 * pipelines, read from a diffusers `tokenizer/` folder: vocab.json +
 * merges.txt, and the special tokens and model_max_length from
 * tokenizer_config.json / special_tokens_map.json when present.
 *
 * Ids are those of transformers' CLIPTokenizer (the Python one, which is
 * what diffusers pipelines load) as it runs without ftfy installed — its
 * usual setup:
 *   1. the special tokens (bos, eos, unk, pad: "<|startoftext|>",
 *      "<|endoftext|>", and SD 2.x's pad "!") are cut out of the text first,
 *      exactly as written, leftmost and longest first;
 *   2. every other piece goes through BERT's basic cleaning with
 *      strip_accents=False and no punctuation split: NUL, U+FFFD and every
 *      C* character but \t \n \r dropped, whitespace (and Zs) to a space,
 *      CJK ideographs spaced apart, NFC, split at whitespace, each word
 *      lower-cased as Python's str.lower does, words joined by one space;
 *   3. CLIP's pattern splits that: <|startoftext|> | <|endoftext|> | 's | 't
 *      | 're | 've | 'm | 'll | 'd | \p{L}+ | \p{N} | [^\s\p{L}\p{N}]+;
 *   4. each piece's UTF-8 bytes go through GPT-2's bytes-to-unicode table and
 *      BPE by merge rank, the last symbol ending in "</w>"; a symbol not in
 *      vocab.json becomes the unk token.
 * Notably there is no HTML unescaping: transformers does that only through
 * ftfy, and so "&amp;" stays three tokens as it does in diffusers.
 * Character classes come from GLib's Unicode tables (CPython's may be an
 * older Unicode version: a character assigned in one and not the other can
 * tokenize differently).
 *
 * A tokenizer is read-only once loaded, apart from an internal cache of BPE
 * results behind a lock: one tokenizer may be used from several threads.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GenTokenizer GenTokenizer;

/* Refused at once, before reading, when a file is bigger (the real CLIP
 * vocab.json is 0.9 MB, merges.txt 0.5 MB). */
#define GEN_TOKENIZER_MAX_FILE_BYTES   (16u * 1024u * 1024u)
#define GEN_TOKENIZER_MAX_CONFIG_BYTES (1u * 1024u * 1024u)
/* A longer prompt is refused: a prompt's first 75 tokens are ~400 bytes,
 * and BPE is quadratic in a word's length (a 16 KiB word of random
 * letters takes ~0.5 s). */
#define GEN_TOKENIZER_MAX_TEXT_BYTES   (16u * 1024u)
/* transformers reads at most this many merges (CLIP's 49152-entry vocab
 * less 256 bytes and 2 special tokens); later lines are ignored. */
#define GEN_TOKENIZER_MAX_MERGES       48894

/* Opens the tokenizer of PATH: a tokenizer folder (with vocab.json), or a
 * pipeline folder with a tokenizer/ subfolder.  When PATH has neither (a
 * single-file checkpoint, a folder without a tokenizer), FALLBACK_DIR is
 * opened instead if it is not NULL (the CLIP vocabulary installed with the
 * program).  Each bad file is a GError naming it. */
GenTokenizer *gen_tokenizer_open (const char *path, const char *fallback_dir, GError **error);

/* The same from bytes: VOCAB (vocab.json) and MERGES (merges.txt) are
 * required; CONFIG (tokenizer_config.json) and SPECIAL (special_tokens_map.json)
 * may be NULL.  NAME prefixes messages (the folder). */
GenTokenizer *gen_tokenizer_new_from_data (const char *vocab, gsize vocab_len,
                                           const char *merges, gsize merges_len,
                                           const char *config, gsize config_len,
                                           const char *special, gsize special_len,
                                           const char *name, GError **error);
void          gen_tokenizer_free (GenTokenizer *tok);

/* The folder the tokenizer was read from (for messages). */
const char   *gen_tokenizer_path (GenTokenizer *tok);
/* model_max_length: the length of every encoded sequence (77 for CLIP). */
int           gen_tokenizer_max_length (GenTokenizer *tok);
gint32        gen_tokenizer_bos_id (GenTokenizer *tok);
gint32        gen_tokenizer_eos_id (GenTokenizer *tok);
gint32        gen_tokenizer_pad_id (GenTokenizer *tok);

/* The ids of TEXT (UTF-8) without start, end or padding: a newly allocated
 * array (g_free) of *N_IDS ids, never NULL on success.  Fails on invalid
 * UTF-8 or a text over GEN_TOKENIZER_MAX_TEXT_BYTES. */
gint32       *gen_tokenizer_tokenize (GenTokenizer *tok, const char *text, gsize *n_ids,
                                      GError **error);

/* What the text encoder reads: bos, TEXT's ids, eos, then the pad id up to
 * gen_tokenizer_max_length() ids in IDS (the caller's array of that many).
 * A TEXT of more than max_length - 2 tokens keeps its first ones; *DROPPED
 * (may be NULL) says how many were cut, 0 when none: callers warn with it. */
gboolean      gen_tokenizer_encode (GenTokenizer *tok, const char *text, gint32 *ids,
                                    gsize *dropped, GError **error);

G_END_DECLS
