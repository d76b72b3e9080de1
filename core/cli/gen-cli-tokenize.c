/* gen-cli-tokenize.c — `generative tokenize`: the ids the CLIP tokenizer of
 * a pipeline gives each prompt, as the text encoder reads them (start token,
 * tokens, end token, padding to model_max_length), one line per prompt. */
#include "gen-cli-tokenize.h"
#include "gen-cli-help.h"
#include "gen-cli-jobs.h"
#include "gen-error.h"
#include "gen-tokenizer.h"

#include <stdio.h>

gboolean
gen_cli_tokenize (int argc, char **argv, GError **error)
{
  char *model = NULL, **texts = NULL, *installed = gen_cli_model_dir ("clip-tokenizer");
  gboolean help = FALSE;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model,
      "pipeline or tokenizer folder (default, and for a model without a tokenizer: "
      "the CLIP vocabulary installed with the program)", "DIR" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &texts, NULL, "TEXT…" },
    { "help", 'h', G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL }
  };
  GenTokenizer *tok = NULL;
  gint32 *ids = NULL;
  gboolean ok = FALSE;

  static const GenCliCommand command = {
    "tokenize", "TEXT…",
    "Prints one line per TEXT: the ids the text encoder reads (start, tokens, end,\n"
    "padding).  Put -- before a TEXT that starts with '-'.",
    "generative tokenize 'a photo of a cat'"
  };
  GenCliHelpSection section = { "Options:", entries };
  gboolean shown;

  if (!gen_cli_parse (&command, &section, 1, &help, &argc, &argv, &shown, error) || shown)
    {
      ok = shown;
      goto out;
    }
  if (!texts || !texts[0])
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "tokenize needs a TEXT (see generative tokenize --help)");
      goto out;
    }
  if (!model && !installed)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                   "no --model, and the CLIP vocabulary is not installed");
      goto out;
    }
  if (!(tok = gen_tokenizer_open (model ? model : installed, installed, error)))
    goto out;
  ids = g_new (gint32, gen_tokenizer_max_length (tok));
  for (int t = 0; texts[t]; t++)
    {
      gsize dropped = 0;

      if (!gen_tokenizer_encode (tok, texts[t], ids, &dropped, error))
        goto out;
      if (dropped > 0)
        fprintf (stderr, "generative: warning: the prompt is too long; its last %" G_GSIZE_FORMAT
                 " token%s past the %d that fit were dropped\n", dropped,
                 dropped == 1 ? "" : "s", gen_tokenizer_max_length (tok) - 2);
      for (int i = 0; i < gen_tokenizer_max_length (tok); i++)
        printf (i ? " %d" : "%d", ids[i]);
      printf ("\n");
    }
  ok = TRUE;

out:
  gen_tokenizer_free (tok);
  g_free (ids);
  g_free (model);
  g_free (installed);
  g_strfreev (texts);
  return ok;
}
