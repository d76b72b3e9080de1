/* gen-cli-jobs.h — the CLI's job subcommands (generate, denoise, inpaint,
 * vary, vae, interpolate). */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

gboolean gen_cli_is_job (const char *name);
/* Runs subcommand NAME with ARGV (argv[0] is the subcommand). */
gboolean gen_cli_job (const char *name, int argc, char **argv, GError **error);
/* One line per job: name and what it does. */
void     gen_cli_jobs_usage (FILE *f);
/* The installed model folder NAME (weights/NAME in the source tree when run
 * from a build folder), or NULL; g_free. */
char    *gen_cli_model_dir (const char *name);

G_END_DECLS
