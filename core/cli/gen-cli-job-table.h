/* gen-cli-job-table.h — what the CLI's job subcommands are: their names,
 * help texts and examples, and their own options (gen-cli-jobs.c runs them). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  JOB_GENERATE,
  JOB_DENOISE,
  JOB_INPAINT,
  JOB_VARY,
  JOB_VAE,
  JOB_INTERPOLATE
} JobKind;

/* Each job: its name, input files, arguments, one line for the command list, what
 * --help says, and one example; indexed by JobKind. */
typedef struct
{
  const char *name, *args, *usage, *line, *description, *example;
} GenCliJobHelp;

extern const GenCliJobHelp gen_cli_job_help[];
extern const guint gen_cli_n_jobs;

/* The jobs' own options; each job lists its rows in its help.  An option
 * of another job is still accepted (and ignored), as it always was. */
typedef struct
{
  char    *sigma, *mode, *quality, *patches, *mask_path, *method, *prompt, *negative;
  double   strength, refine_sigma, guidance;
  int      width, height, count, jump, resample, frames, clip_skip;
  gboolean sample;
} JobArgs;

/* KIND's options, visible, then every other job option hidden, each name
 * once, writing into A; their texts (with the defaults) go to TEXTS.
 * g_free the array (the texts belong to TEXTS). */
GOptionEntry *gen_cli_job_entries (JobKind kind, JobArgs *a, GPtrArray *texts);

G_END_DECLS
