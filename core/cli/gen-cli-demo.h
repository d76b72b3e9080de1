/* gen-cli-demo.h — `generative demo`: what the embedded model does for a
 * photograph, shown and measured. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Runs `generative demo [PHOTO] [OPTIONS]` (ARGV[0] is "demo"). */
gboolean    gen_cli_demo (int argc, char **argv, GError **error);
/* Its line in the command list. */
const char *gen_cli_demo_line (void);

G_END_DECLS
