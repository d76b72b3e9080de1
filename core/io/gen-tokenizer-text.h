/* gen-tokenizer-text.h — the text side of the CLIP tokenizer (see
 * gen-tokenizer.h): the cleaning transformers runs without ftfy, CLIP's
 * pre-split pattern and GPT-2's bytes-to-unicode table.  Private to
 * gen-tokenizer.c; every input is valid UTF-8 (checked there). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Python's str.isspace(). */
gboolean gen_tok_is_py_space (gunichar c);

/* BERT's basic cleaning of LEN bytes of TEXT (no accent stripping, no
 * punctuation split): control characters dropped, whitespace to spaces,
 * CJK ideographs spaced, NFC, lower-cased word by word as Python's
 * str.lower(), words joined by single spaces.  Newly allocated. */
char    *gen_tok_clean (const char *text, gsize len);

/* Calls FUNC on each match of CLIP's pattern in TEXT (a cleaned text),
 * left to right; SPECIAL is TRUE for <|startoftext|> and <|endoftext|>. */
typedef void (*GenTokPieceFunc) (const char *piece, gsize len, gboolean special,
                                 gpointer user_data);
void     gen_tok_split (const char *text, GenTokPieceFunc func, gpointer user_data);

/* Appends to OUT the byte-level form of LEN bytes at S: each byte as the
 * character GPT-2's bytes_to_unicode() gives it, in UTF-8. */
void     gen_tok_bytes_encode (const char *s, gsize len, GString *out);

G_END_DECLS
