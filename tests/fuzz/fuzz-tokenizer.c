/* fuzz-tokenizer.c — libFuzzer target for the CLIP tokenizer: its files
 * (vocab.json, merges.txt, special_tokens_map.json) and tokenizing a prompt
 * with them.  The input is the four parts separated by NUL bytes:
 *   VOCAB \0 MERGES \0 SPECIAL \0 PROMPT
 * (a missing part is empty; an empty SPECIAL means no such file). */
#include "gen-tokenizer.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *part[4] = { "", "", "", "" };
  size_t len[4] = { 0, 0, 0, 0 };
  const char *p = (const char *) data, *end = p + size;
  char *prompt;
  GError *error = NULL;
  GenTokenizer *tok;
  gint32 *ids;

  for (int i = 0; i < 4 && p <= end; i++)
    {
      const char *nul = i < 3 ? memchr (p, 0, (size_t) (end - p)) : NULL;

      part[i] = p;
      len[i] = (size_t) ((nul ? nul : end) - p);
      if (!nul)
        break;
      p = nul + 1;
    }
  tok = gen_tokenizer_new_from_data (part[0], len[0], part[1], len[1], NULL, 0,
                                     len[2] ? part[2] : NULL, len[2], "fuzz", &error);
  if (!tok)
    {
      if (!error)
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  prompt = g_strndup (part[3], len[3]);
  ids = g_new (gint32, gen_tokenizer_max_length (tok));
  for (int round = 0; round < 2; round++) /* the second through the BPE cache */
    {
      gsize dropped = 0;

      if (gen_tokenizer_encode (tok, prompt, ids, &dropped, &error))
        {
          if (ids[0] != gen_tokenizer_bos_id (tok) || error)
            __builtin_trap ();
        }
      else
        {
          if (!error)
            __builtin_trap ();
          g_clear_error (&error);
        }
    }
  g_free (ids);
  g_free (prompt);
  gen_tokenizer_free (tok);
  return 0;
}
