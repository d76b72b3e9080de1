/* gen-tokenizer.c — the CLIP tokenizer at work: special tokens cut out,
 * BPE by merge rank (with a cache), start/end tokens and padding.  The text
 * side is gen-tokenizer-text.c, the loading gen-tokenizer-load.c. */
#include "gen-tokenizer-private.h"
#include "gen-tokenizer-text.h"
#include "gen-error.h"

#include <string.h>

const char *
gen_tokenizer_path (GenTokenizer *tok)
{
  return tok->path;
}

int
gen_tokenizer_max_length (GenTokenizer *tok)
{
  return tok->max_length;
}

gint32
gen_tokenizer_bos_id (GenTokenizer *tok)
{
  return tok->special_id[GEN_TOK_BOS];
}

gint32
gen_tokenizer_eos_id (GenTokenizer *tok)
{
  return tok->special_id[GEN_TOK_EOS];
}

gint32
gen_tokenizer_pad_id (GenTokenizer *tok)
{
  return tok->special_id[GEN_TOK_PAD];
}

/* ---- BPE --------------------------------------------------------------- */

static const GenTokMerge *
find_merge (GenTokenizer *tok, gint32 a, gint32 b)
{
  guint64 pair = (guint64) (guint32) a << 32 | (guint32) b;
  gsize lo = 0, hi = tok->n_merges;

  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;

      if (tok->merges[mid].pair < pair)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo < tok->n_merges && tok->merges[lo].pair == pair ? &tok->merges[lo] : NULL;
}

/* The BPE of WORD (byte-level characters, NUL-terminated): as CLIP's bpe(),
 * the last character gets "</w>", then the pair of lowest rank is merged
 * everywhere, left to right, until none is left.  A symbol not in the
 * vocabulary is -1 (and never merges).  Newly allocated: n, then n ids. */
static gint32 *
bpe_word (GenTokenizer *tok, const char *word)
{
  glong n_chars = g_utf8_strlen (word, -1);
  gint32 *sym = g_new (gint32, 1 + MAX (n_chars, 1)), *s = sym + 1; /* [n_chars] */
  GString *one = g_string_new (NULL);
  const char *p = word;
  gsize n = 0;

  for (glong i = 0; i < n_chars; i++, p = g_utf8_next_char (p))
    {
      g_string_truncate (one, 0);
      g_string_append_len (one, p, g_utf8_next_char (p) - p);
      if (i == n_chars - 1)
        g_string_append (one, "</w>");
      s[n++] = gen_tok_vocab_id (tok, one->str);
    }
  g_string_free (one, TRUE);

  while (n > 1)
    {
      const GenTokMerge *best = NULL;
      gsize j = 0;

      for (gsize i = 0; i + 1 < n; i++)
        if (s[i] >= 0 && s[i + 1] >= 0)
          {
            const GenTokMerge *m = find_merge (tok, s[i], s[i + 1]);
            if (m && (!best || m->rank < best->rank))
              best = m;
          }
      if (!best)
        break;
      for (gsize i = 0; i < n;)
        if (i + 1 < n && ((guint64) (guint32) s[i] << 32 | (guint32) s[i + 1]) == best->pair)
          {
            s[j++] = best->merged;
            i += 2;
          }
        else
          s[j++] = s[i++];
      n = j;
    }
  sym[0] = (gint32) n;
  return sym;
}

/* Appends the ids of one pre-split piece (BPE through the cache). */
static void
append_word (GenTokenizer *tok, const char *word, GArray *ids)
{
  const gint32 *hit;
  gint32 *sym = NULL;

  g_mutex_lock (&tok->lock);
  hit = g_hash_table_lookup (tok->cache, word);
  if (hit)
    g_array_append_vals (ids, hit + 1, (guint) hit[0]);
  g_mutex_unlock (&tok->lock);
  if (hit)
    return;

  sym = bpe_word (tok, word);
  for (gint32 i = 1; i <= sym[0]; i++)
    if (sym[i] < 0)
      sym[i] = tok->special_id[GEN_TOK_UNK];
  g_array_append_vals (ids, sym + 1, (guint) sym[0]);
  g_mutex_lock (&tok->lock);
  if (g_hash_table_size (tok->cache) >= GEN_TOK_CACHE_MAX)
    g_hash_table_remove_all (tok->cache);
  g_hash_table_replace (tok->cache, g_strdup (word), sym);
  g_mutex_unlock (&tok->lock);
}

typedef struct
{
  GenTokenizer *tok;
  GArray       *ids;
  GString      *word;
} PieceCtx;

static void
on_piece (const char *piece, gsize len, gboolean special, gpointer user_data)
{
  PieceCtx *c = user_data;

  g_string_truncate (c->word, 0);
  if (special)
    {
      /* CLIP's bpe() maps the two special tokens to themselves */
      gint32 id;

      g_string_append_len (c->word, piece, len);
      id = gen_tok_vocab_id (c->tok, c->word->str);
      if (id < 0)
        id = c->tok->special_id[GEN_TOK_UNK];
      g_array_append_val (c->ids, id);
      return;
    }
  gen_tok_bytes_encode (piece, len, c->word);
  append_word (c->tok, c->word->str, c->ids);
}

/* The ids of LEN bytes of TEXT that hold no special token. */
static void
tokenize_plain (PieceCtx *c, const char *text, gsize len)
{
  char *clean;

  if (len == 0)
    return;
  clean = gen_tok_clean (text, len);
  gen_tok_split (clean, on_piece, c);
  g_free (clean);
}

gint32 *
gen_tokenizer_tokenize (GenTokenizer *tok, const char *text, gsize *n_ids, GError **error)
{
  gsize len, pos = 0;
  PieceCtx c;

  g_return_val_if_fail (tok != NULL && text != NULL && n_ids != NULL, NULL);
  len = strlen (text);
  if (len > GEN_TOKENIZER_MAX_TEXT_BYTES)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the prompt is %" G_GSIZE_FORMAT " bytes long; at most %u are read", len,
                   GEN_TOKENIZER_MAX_TEXT_BYTES);
      return NULL;
    }
  if (!g_utf8_validate (text, (gssize) len, NULL))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "the prompt is not valid UTF-8");
      return NULL;
    }

  c.tok = tok;
  c.ids = g_array_sized_new (FALSE, FALSE, sizeof (gint32), 16); /* data never NULL */
  c.word = g_string_new (NULL);
  /* transformers cuts out its special tokens first, exactly as written:
   * the leftmost, and the longest there */
  while (pos < len)
    {
      gsize at = pos, best = 0;
      int which = -1;

      for (; at < len && which < 0; at++)
        for (int s = 0; s < GEN_TOK_N_SPECIAL; s++)
          {
            gsize n = strlen (tok->special[s]);

            if (n > best && n <= len - at && memcmp (text + at, tok->special[s], n) == 0)
              {
                best = n;
                which = s;
              }
          }
      if (which < 0)
        {
          tokenize_plain (&c, text + pos, len - pos);
          break;
        }
      at--;
      tokenize_plain (&c, text + pos, at - pos);
      g_array_append_val (c.ids, tok->special_id[which]);
      pos = at + best;
    }
  g_string_free (c.word, TRUE);
  *n_ids = c.ids->len;
  return (gint32 *) (void *) g_array_free (c.ids, FALSE);
}

gboolean
gen_tokenizer_encode (GenTokenizer *tok, const char *text, gint32 *ids, gsize *dropped,
                      GError **error)
{
  gsize n, keep, max = (gsize) tok->max_length;
  gint32 *t = gen_tokenizer_tokenize (tok, text, &n, error);

  if (!t)
    return FALSE;
  keep = MIN (n, max - 2);
  ids[0] = tok->special_id[GEN_TOK_BOS];
  memcpy (ids + 1, t, keep * sizeof (gint32));
  ids[keep + 1] = tok->special_id[GEN_TOK_EOS];
  for (gsize i = keep + 2; i < max; i++)
    ids[i] = tok->special_id[GEN_TOK_PAD];
  if (dropped)
    *dropped = n - keep;
  g_free (t);
  return TRUE;
}
