/* gen-cli-progress.h — the CLI's progress on stderr: on a terminal a bar
 * with the steps, the tiles and an ETA; otherwise (a log file, a pipe) a
 * plain line per ~5 % with the same facts; nothing with --quiet. */
#pragma once

#include "gen-job.h"

G_BEGIN_DECLS

typedef struct
{
  gboolean tty, quiet;
  int      tiles;          /* per model evaluation; 0 = not said */
  gint64   last_draw;      /* µs, of the bar */
  int      last_twentieth; /* of the last plain line; -1 = none yet */
} GenCliProgress;

/* Progress on stderr (a bar if it is a terminal); QUIET: none. */
void gen_cli_progress_init (GenCliProgress *pr, gboolean quiet);
/* The tiles a model evaluation of a WIDTH×HEIGHT image runs in, with the
 * tile size TILE (0 = the jobs' default), for pipeline P. */
int  gen_cli_progress_tiles (GenPipeline *p, int tile, int width, int height);
/* A GenProgressFunc; DATA is the GenCliProgress. */
void gen_cli_progress (int step, int total, double elapsed, gpointer data);
/* A GenPreviewFunc: writes the picture to the PNG file DATA (a path),
 * replacing it whole each time, so a viewer can watch the job; a failed
 * write is said once on stderr and the job goes on. */
void gen_cli_preview (const GenPixels *rgb, int step, int total, gpointer data);

G_END_DECLS
