/* gen-cli-tokenize.h — the CLI's tokenize subcommand. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* generative tokenize [--model DIR] TEXT…: prints each TEXT's ids (argv[0]
 * is the subcommand). */
gboolean gen_cli_tokenize (int argc, char **argv, GError **error);

G_END_DECLS
