/* gen-tokenizer-load.c — reading a CLIP tokenizer folder: vocab.json,
 * merges.txt and the special tokens, every byte checked, each bad file one
 * GError that names it. */
#include "gen-tokenizer-private.h"
#include "gen-tokenizer-text.h"
#include "gen-config.h"
#include "gen-error.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

/* CLIP's context: 75 tokens between start and end. */
#define DEFAULT_MAX_LENGTH 77
#define MAX_MAX_LENGTH 4096

static const char *const special_keys[GEN_TOK_N_SPECIAL] = { "bos_token", "eos_token",
                                                             "unk_token", "pad_token" };
static const char *const special_defaults[GEN_TOK_N_SPECIAL] = {
  "<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>",
};

static char *
clip_str (const char *s)
{
  char *head, *out;

  if (g_utf8_strlen (s, -1) <= 40)
    return g_strdup (s);
  head = g_utf8_substring (s, 0, 40);
  out = g_strconcat (head, "…", NULL);
  g_free (head);
  return out;
}

/* ---- vocab.json -------------------------------------------------------- */


/* Parses JSON bytes whose top level must be an object: the root (unref),
 * or NULL with an error naming FILE. */
static JsonNode *
parse_json_object (const char *data, gsize len, const char *file, GError **error)
{
  GError *err = NULL;
  JsonParser *parser;
  JsonNode *root = NULL;

  if (!gen_json_check (data, len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not valid JSON: %s", file,
                   err->message);
      g_error_free (err);
      return NULL;
    }
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not valid JSON: %s", file,
                   err->message);
      g_error_free (err);
    }
  else if (!(root = json_parser_steal_root (parser)) || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: the top level must be a JSON object", file);
      g_clear_pointer (&root, json_node_unref);
    }
  g_object_unref (parser);
  return root;
}

/* vocab.json: an object of symbol -> id, ids unique, from 0 to 2^31 - 1. */
static gboolean
load_vocab (GenTokenizer *tok, const char *data, gsize len, const char *file, GError **error)
{
  JsonNode *root = parse_json_object (data, len, file, error);
  GHashTable *by_id;
  JsonObjectIter it;
  const char *key;
  JsonNode *node;
  gboolean ok = TRUE;

  if (!root)
    return FALSE;
  by_id = g_hash_table_new (g_direct_hash, g_direct_equal);
  json_object_iter_init (&it, json_node_get_object (root));
  while (ok && json_object_iter_next (&it, &key, &node))
    {
      gint64 id = -1;
      const char *other;

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        id = json_node_get_int (node);
      if (id < 0 || id >= G_MAXINT32)
        {
          char *k = clip_str (key);
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: the id of \"%s\" is not an integer from 0 to %d", file, k,
                       G_MAXINT32 - 1);
          g_free (k);
          ok = FALSE;
        }
      else if ((other = g_hash_table_lookup (by_id, GINT_TO_POINTER (id + 1))))
        {
          char *a = clip_str (other), *b = clip_str (key);
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: id %" G_GINT64_FORMAT " is given to both \"%s\" and \"%s\"", file,
                       id, a, b);
          g_free (a);
          g_free (b);
          ok = FALSE;
        }
      else
        {
          g_hash_table_insert (by_id, GINT_TO_POINTER (id + 1), (gpointer) key);
          g_hash_table_insert (tok->vocab, g_strdup (key), GINT_TO_POINTER (id + 1));
        }
    }
  if (ok && g_hash_table_size (tok->vocab) == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: the vocabulary is empty", file);
      ok = FALSE;
    }
  g_hash_table_unref (by_id);
  json_node_unref (root);
  return ok;
}

/* ---- merges.txt -------------------------------------------------------- */

static int
merge_cmp (const void *a, const void *b)
{
  const GenTokMerge *x = a, *y = b;

  if (x->pair != y->pair)
    return x->pair < y->pair ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* Splits the line [P, END) at Python whitespace into at most 3 fields
 * (newly allocated, in PARTS); returns how many there were (3: 3 or more). */
static int
split_fields (const char *p, const char *end, char *parts[3])
{
  int n = 0;

  while (p < end && n < 3)
    {
      const char *q;

      while (p < end && gen_tok_is_py_space (g_utf8_get_char (p)))
        p = g_utf8_next_char (p);
      if (p >= end)
        break;
      q = p;
      while (q < end && !gen_tok_is_py_space (g_utf8_get_char (q)))
        q = g_utf8_next_char (q);
      parts[n++] = g_strndup (p, (gsize) (q - p));
      p = q;
    }
  return n;
}

/* merges.txt: a "#version" line, then one "left right" pair a line, both
 * symbols and their concatenation in the vocabulary.  As transformers does,
 * whitespace around the file is ignored and only the first
 * GEN_TOKENIZER_MAX_MERGES pairs are read. */
static gboolean
load_merges (GenTokenizer *tok, const char *data, gsize len, const char *file, GError **error)
{
  const char *p = data, *end = data + len, *bad = NULL;
  GArray *merges = g_array_new (FALSE, FALSE, sizeof (GenTokMerge));
  guint line = 1;
  gboolean ok = TRUE;

  if (len > 0 && !g_utf8_validate_len (data, len, &bad))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: not UTF-8 text (or a NUL byte) at byte %" G_GSIZE_FORMAT, file,
                   (gsize) (bad - data));
      g_array_unref (merges);
      return FALSE;
    }
  /* Python's str.strip() of the whole file */
  while (p < end && gen_tok_is_py_space (g_utf8_get_char (p)))
    {
      if (*p == '\n')
        line++;
      p = g_utf8_next_char (p);
    }
  while (end > p && gen_tok_is_py_space (g_utf8_get_char (g_utf8_prev_char (end))))
    end = g_utf8_prev_char (end);
  if (p >= end || *p != '#')
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: the first line must be the \"#version: …\" header", file);
      g_array_unref (merges);
      return FALSE;
    }
  p = memchr (p, '\n', (gsize) (end - p));
  while (ok && p && p < end && merges->len < GEN_TOKENIZER_MAX_MERGES)
    {
      const char *eol;
      char *parts[3] = { NULL, NULL, NULL }, *joined = NULL;
      int n;
      GenTokMerge m = { 0 };
      gint32 a = -1, b = -1;

      p++;
      line++;
      eol = memchr (p, '\n', (gsize) (end - p));
      n = split_fields (p, eol ? eol : end, parts);
      if (n == 2)
        {
          a = gen_tok_vocab_id (tok, parts[0]);
          b = gen_tok_vocab_id (tok, parts[1]);
          joined = g_strconcat (parts[0], parts[1], NULL);
          m.merged = gen_tok_vocab_id (tok, joined);
        }
      if (n != 2)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s line %u: a merge is two symbols separated by a space", file, line);
          ok = FALSE;
        }
      else if (a < 0 || b < 0 || m.merged < 0)
        {
          char *s = clip_str (a < 0 ? parts[0] : b < 0 ? parts[1] : joined);
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s line %u: \"%s\" is not in vocab.json", file, line, s);
          g_free (s);
          ok = FALSE;
        }
      else
        {
          m.pair = (guint64) (guint32) a << 32 | (guint32) b;
          m.rank = (gint32) merges->len;
          m.line = line;
          g_array_append_val (merges, m);
        }
      for (int i = 0; i < n; i++)
        g_free (parts[i]);
      g_free (joined);
      p = eol;
    }
  if (ok && merges->len > 1) /* (an empty GArray has no data) */
    {
      GenTokMerge *v = (GenTokMerge *) (void *) merges->data;

      qsort (v, merges->len, sizeof (GenTokMerge), merge_cmp);
      for (guint i = 1; i < merges->len && ok; i++)
        if (v[i].pair == v[i - 1].pair)
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                         "%s: the merge on line %u repeats the one on line %u", file,
                         v[i].line, v[i - 1].line);
            ok = FALSE;
          }
    }
  if (ok && merges->len == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: no merges after the header", file);
      ok = FALSE;
    }
  tok->n_merges = merges->len;
  tok->merges = (GenTokMerge *) (void *) g_array_free (merges, FALSE);
  return ok;
}

/* ---- tokenizer_config.json, special_tokens_map.json ------------------- */

/* Reads the special tokens (a string or an object with "content") and, from
 * tokenizer_config.json, model_max_length. */
static gboolean
load_config (GenTokenizer *tok, const char *data, gsize len, const char *file,
             gboolean is_config, GError **error)
{
  JsonNode *root = parse_json_object (data, len, file, error);
  JsonObject *obj;
  JsonNode *node;
  gboolean ok = TRUE;

  if (!root)
    return FALSE;
  obj = json_node_get_object (root);
  for (int s = 0; s < GEN_TOK_N_SPECIAL && ok; s++)
    {
      const char *content = NULL;

      node = json_object_get_member (obj, special_keys[s]);
      if (!node || JSON_NODE_HOLDS_NULL (node))
        continue;
      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
        content = json_node_get_string (node);
      else if (JSON_NODE_HOLDS_OBJECT (node))
        {
          JsonNode *c = json_object_get_member (json_node_get_object (node), "content");

          if (c && JSON_NODE_HOLDS_VALUE (c) && json_node_get_value_type (c) == G_TYPE_STRING)
            content = json_node_get_string (c);
        }
      if (!content || !*content)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: \"%s\" must be a token: a string or an object with a "
                       "\"content\" string", file, special_keys[s]);
          ok = FALSE;
          break;
        }
      g_free (tok->special[s]);
      tok->special[s] = g_strdup (content);
    }
  node = is_config ? json_object_get_member (obj, "model_max_length") : NULL;
  if (ok && node && !JSON_NODE_HOLDS_NULL (node))
    {
      gint64 n = 0;

      if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64)
        n = json_node_get_int (node);
      if (n < 3 || n > MAX_MAX_LENGTH)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                       "%s: model_max_length must be an integer from 3 to %d", file,
                       MAX_MAX_LENGTH);
          ok = FALSE;
        }
      else
        tok->max_length = (int) n;
    }
  json_node_unref (root);
  return ok;
}

/* ---- building ---------------------------------------------------------- */

GenTokenizer *
gen_tokenizer_new_from_data (const char *vocab, gsize vocab_len, const char *merges,
                             gsize merges_len, const char *config, gsize config_len,
                             const char *special, gsize special_len, const char *name,
                             GError **error)
{
  GenTokenizer *tok = g_new0 (GenTokenizer, 1);
  char *f_vocab, *f_merges, *f_config, *f_special;
  gboolean ok;

  g_return_val_if_fail (vocab != NULL && merges != NULL, NULL);
  if (!name)
    name = "tokenizer";
  tok->path = g_strdup (name);
  tok->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&tok->lock);
  tok->max_length = DEFAULT_MAX_LENGTH;
  for (int s = 0; s < GEN_TOK_N_SPECIAL; s++)
    tok->special[s] = g_strdup (special_defaults[s]);

  f_vocab = g_build_filename (name, "vocab.json", NULL);
  f_merges = g_build_filename (name, "merges.txt", NULL);
  f_config = g_build_filename (name, "tokenizer_config.json", NULL);
  f_special = g_build_filename (name, "special_tokens_map.json", NULL);
  /* special_tokens_map.json, read last, wins over tokenizer_config.json */
  ok = load_vocab (tok, vocab, vocab_len, f_vocab, error)
       && load_merges (tok, merges, merges_len, f_merges, error)
       && (!config || load_config (tok, config, config_len, f_config, TRUE, error))
       && (!special || load_config (tok, special, special_len, f_special, FALSE, error));
  for (int s = 0; s < GEN_TOK_N_SPECIAL && ok; s++)
    if ((tok->special_id[s] = gen_tok_vocab_id (tok, tok->special[s])) < 0)
      {
        char *c = clip_str (tok->special[s]);
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: the %s \"%s\" is not in vocab.json",
                     f_vocab, special_keys[s], c);
        g_free (c);
        ok = FALSE;
      }
  g_free (f_vocab);
  g_free (f_merges);
  g_free (f_config);
  g_free (f_special);
  if (!ok)
    {
      gen_tokenizer_free (tok);
      return NULL;
    }
  return tok;
}

void
gen_tokenizer_free (GenTokenizer *tok)
{
  if (!tok)
    return;
  g_hash_table_unref (tok->vocab);
  g_hash_table_unref (tok->cache);
  g_mutex_clear (&tok->lock);
  for (int s = 0; s < GEN_TOK_N_SPECIAL; s++)
    g_free (tok->special[s]);
  g_free (tok->merges);
  g_free (tok->path);
  g_free (tok);
}

/* ---- reading a folder -------------------------------------------------- */

/* The bytes of FILE (g_free) in *DATA, refusing at once a file over CAP
 * bytes.  A missing OPTIONAL file gives TRUE with *DATA NULL. */
static gboolean
read_capped (const char *file, gsize cap, gboolean optional, char **data, gsize *len,
             GError **error)
{
  GStatBuf st;
  GError *err = NULL;

  *data = NULL;
  *len = 0;
  if (g_stat (file, &st) != 0)
    {
      if (optional)
        return TRUE;
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: missing (a tokenizer needs vocab.json "
                   "and merges.txt)", file);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file", file);
      return FALSE;
    }
  if ((guint64) st.st_size > cap)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GUINT64_FORMAT " bytes is too big for a tokenizer file (at most %"
                   G_GSIZE_FORMAT ")", file, (guint64) st.st_size, cap);
      return FALSE;
    }
  if (!g_file_get_contents (file, data, len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", file, err->message);
      g_error_free (err);
      return FALSE;
    }
  if (*len > cap) /* it grew since */
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: too big for a tokenizer file", file);
      g_clear_pointer (data, g_free);
      return FALSE;
    }
  return TRUE;
}

static gboolean
has_file (const char *dir, const char *name)
{
  char *f = g_build_filename (dir, name, NULL);
  gboolean yes = g_file_test (f, G_FILE_TEST_EXISTS);

  g_free (f);
  return yes;
}

static GenTokenizer *
open_folder (const char *dir, GError **error)
{
  static const char *const names[4] = { "vocab.json", "merges.txt", "tokenizer_config.json",
                                        "special_tokens_map.json" };
  char *data[4] = { NULL }, *file;
  gsize len[4] = { 0 };
  GenTokenizer *tok = NULL;
  gboolean ok = TRUE;

  for (int i = 0; i < 4 && ok; i++)
    {
      file = g_build_filename (dir, names[i], NULL);
      ok = read_capped (file, i < 2 ? GEN_TOKENIZER_MAX_FILE_BYTES : GEN_TOKENIZER_MAX_CONFIG_BYTES,
                        i >= 2, &data[i], &len[i], error);
      g_free (file);
    }
  if (ok)
    tok = gen_tokenizer_new_from_data (data[0], len[0], data[1], len[1], data[2], len[2],
                                       data[3], len[3], dir, error);
  for (int i = 0; i < 4; i++)
    g_free (data[i]);
  return tok;
}

GenTokenizer *
gen_tokenizer_open (const char *path, const char *fallback_dir, GError **error)
{
  char *sub = NULL;
  GenTokenizer *tok;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: no such file or folder", path);
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR)
      && (has_file (path, "vocab.json") || has_file (path, "merges.txt")))
    return open_folder (path, error);
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && has_file (path, "tokenizer"))
    {
      sub = g_build_filename (path, "tokenizer", NULL);
      tok = open_folder (sub, error);
      g_free (sub);
      return tok;
    }
  if (fallback_dir)
    return open_folder (fallback_dir, error);
  g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
               "%s: no tokenizer (vocab.json and merges.txt, or a tokenizer/ folder)", path);
  return NULL;
}

