/* gen-cli-progress.c — the CLI's progress bar and log lines (see
 * gen-cli-progress.h). */
#include "gen-cli-progress.h"
#include "gen-cli-help.h"
#include "gen-image.h"
#include "gen-tile.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_TILE 512  /* the jobs' default tile edge (gen-job.h) */

void
gen_cli_progress_init (GenCliProgress *pr, gboolean quiet)
{
  memset (pr, 0, sizeof *pr);
  pr->quiet = quiet;
  pr->tty = !quiet && isatty (STDERR_FILENO);
  pr->last_twentieth = -1;
}

/* The jobs run the UNet over the image padded to the pipeline's size
 * multiple, in its (latent) space, in overlapping tiles of TILE / factor
 * overlapping by a quarter; a VAE-only pipeline tiles the image itself. */
int
gen_cli_progress_tiles (GenPipeline *p, int tile, int width, int height)
{
  GenModel *unet = gen_pipeline_unet (p);
  int mult = MAX (1, gen_pipeline_size_multiple (p)), down = 1, f;
  int64_t ph = ((int64_t) height + mult - 1) / mult * mult;
  int64_t pw = ((int64_t) width + mult - 1) / mult * mult;
  GenTiler *t;
  int n;

  tile = tile > 0 ? tile : DEFAULT_TILE;
  if (unet)
    {
      GenModelInfo i;

      gen_model_get_info (unet, &i);
      down = MAX (1, i.downscale);
      f = MAX (1, mult / down);
      t = gen_tiler_new (ph / f, pw / f, 1, 1, 1, 1, down, MAX (tile / f, down), tile / 4 / f, 1,
                         NULL);
    }
  else
    t = gen_tiler_new (ph, pw, 1, 1, 1, mult, mult, tile, tile / 4, 1, NULL);
  n = t ? gen_tiler_n_tiles (t) : 0;
  gen_tiler_free (t);
  return n;
}

/* "12 s", "3 min 05 s", "2 h 07 min" */
static char *
duration (double s)
{
  long v = (long) (s + 0.5);

  if (v < 60)
    return g_strdup_printf ("%ld s", v);
  if (v < 3600)
    return g_strdup_printf ("%ld min %02ld s", v / 60, v % 60);
  return g_strdup_printf ("%ld h %02ld min", v / 3600, v / 60 % 60);
}

/* "step 12/30, 4 tiles, 12.3 s, ETA 18 s" (or "…, done in 30.1 s") */
static char *
facts (int step, int total, int tiles, double elapsed)
{
  char *tiles_text = tiles > 0 ? g_strdup_printf (", %d tile%s", tiles, tiles == 1 ? "" : "s")
                               : g_strdup ("");
  char *eta = step > 0 ? duration (elapsed / step * (total - step)) : g_strdup ("?");
  char *text = step >= total
    ? g_strdup_printf ("step %d/%d%s, done in %.1f s", step, total, tiles_text, elapsed)
    : g_strdup_printf ("step %d/%d%s, %.1f s, ETA %s", step, total, tiles_text, elapsed, eta);

  g_free (tiles_text);
  g_free (eta);
  return text;
}

void
gen_cli_progress (int step, int total, double elapsed, gpointer data)
{
  GenCliProgress *pr = data;
  int pct = total > 0 ? (int) ((gint64) step * 100 / total) : 100;
  char *text;

  if (pr->quiet || pr->last_twentieth >= 20)
    return; /* silent, or the end was shown */
  if (pr->tty)
    {
      enum { WIDTH = 24 };
      gint64 now = g_get_monotonic_time ();
      int fill = total > 0 ? step * WIDTH / total : WIDTH;
      char cells[WIDTH + 1];

      if (step < total && now - pr->last_draw < 100000)
        return;
      pr->last_draw = now;
      if (step >= total)
        pr->last_twentieth = 20;
      memset (cells, '#', fill);
      memset (cells + fill, '.', WIDTH - fill);
      cells[WIDTH] = 0;
      text = facts (step, total, pr->tiles, elapsed);
      gen_cli_print (stderr, "\r[%s] %3d%% %s   %s", cells, pct, text, step >= total ? "\n" : "");
      fflush (stderr);
    }
  else
    {
      /* a log: a line whenever another twentieth is done, and at the end */
      int twentieth = total > 0 ? (int) ((gint64) step * 20 / total) : 20;

      if (twentieth <= pr->last_twentieth)
        return;
      pr->last_twentieth = twentieth;
      text = facts (step, total, pr->tiles, elapsed);
      gen_cli_print (stderr, "progress: %d%% (%s)\n", pct, text);
    }
  g_free (text);
}

void
gen_cli_preview (const GenPixels *rgb, int step, int total, gpointer data)
{
  static gboolean said;
  GenImage img = { rgb->width, rgb->height, rgb->channels, 8, rgb->data };
  GError *err = NULL;

  (void) step;
  (void) total;
  if (!gen_image_save (&img, data, 8, &err))
    {
      if (!said)
        fprintf (stderr, "\ngenerative: no preview: %s\n", err->message);
      said = TRUE;
      g_error_free (err);
    }
}
