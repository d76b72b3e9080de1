/* gen-tokenizer-private.h — the CLIP tokenizer's state, shared by its
 * loader (gen-tokenizer-load.c) and its encoder (gen-tokenizer.c). */
#pragma once

#include "gen-tokenizer.h"

G_BEGIN_DECLS

/* Words whose BPE is remembered; the cache is emptied when it is full. */
#define GEN_TOK_CACHE_MAX 4096

enum { GEN_TOK_BOS, GEN_TOK_EOS, GEN_TOK_UNK, GEN_TOK_PAD, GEN_TOK_N_SPECIAL };

typedef struct
{
  guint64 pair;    /* left id << 32 | right id */
  gint32  rank;    /* order in merges.txt, from 0 */
  gint32  merged;  /* id of left + right */
  guint32 line;    /* in merges.txt, for messages */
} GenTokMerge;

struct _GenTokenizer
{
  char        *path;                         /* folder or name, for messages */
  GHashTable  *vocab;                        /* symbol (owned) -> GINT_TO_POINTER (id + 1) */
  GenTokMerge *merges;                       /* [n_merges], sorted by pair */
  gsize        n_merges;
  char        *special[GEN_TOK_N_SPECIAL];   /* contents of bos, eos, unk, pad */
  gint32       special_id[GEN_TOK_N_SPECIAL];
  int          max_length;                   /* model_max_length */
  GMutex       lock;                         /* guards cache */
  GHashTable  *cache;                        /* byte-level word (owned) -> gint32[1 + n]: n, ids */
};

/* The id of SYMBOL, or -1 when it is not in the vocabulary. */
static inline gint32
gen_tok_vocab_id (GenTokenizer *tok, const char *symbol)
{
  gpointer v = g_hash_table_lookup (tok->vocab, symbol);

  return v ? GPOINTER_TO_INT (v) - 1 : -1;
}

G_END_DECLS
