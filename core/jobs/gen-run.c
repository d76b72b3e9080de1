/* gen-run.c — a run: the options, the core's threads, the tile workers'
 * arenas, progress, cancel and the clock (see gen-job-private.h).
 *
 * The threads are set when a run starts and given back when it ends, so
 * one run's count never carries over to the next (or to a caller that
 * runs the models itself); the arenas are made for the run and freed with
 * it, so a loaded pipeline holds nothing of a run. */
#include "gen-job-private.h"
#include "gen-ops.h"

#include <string.h>

void
gen_job_options_init (GenJobOptions *o)
{
  memset (o, 0, sizeof *o);
  o->sampler = GEN_SAMPLER_DDIM;
  o->sigmas = GEN_SIGMAS_DEFAULT;
  o->steps = 30;
  o->inpaint = GEN_INPAINT_REFINE;
  o->denoise_patches = TRUE;
  o->guidance = 7.5;
}

void
gen_run_init (GenRun *r, GenPipeline *p, const GenJobOptions *o, int total)
{
  memset (r, 0, sizeof *r);
  r->p = p;
  r->o = o;
  r->threads = o->threads > 0 ? o->threads : MAX (1, (int) g_get_num_processors ());
  r->workers = r->threads;
  r->tile = o->tile > 0 ? o->tile : GEN_JOB_DEFAULT_TILE;
  r->outer_threads = gen_get_threads ();
  gen_set_threads (r->threads);
  r->timer = g_timer_new ();
  r->done = 0;
  r->total = MAX (1, total);
}

void
gen_run_release_arenas (GenRun *r)
{
  int workers = 0;

  for (int i = 0; i < GEN_MAX_THREADS; i++)
    if (r->arenas[i])
      {
        /* every worker the tilers started counts, whether or not a tile
         * was left for it when its thread came up */
        r->arena_peak = MAX (r->arena_peak, gen_arena_peak_bytes (r->arenas[i]));
        workers++;
        g_clear_pointer (&r->arenas[i], gen_arena_free);
      }
  r->arena_workers = MAX (r->arena_workers, workers);
}

void
gen_run_clear (GenRun *r)
{
  g_clear_pointer (&r->ctx, g_free);
  g_clear_pointer (&r->tcond, g_free);

  gen_run_release_arenas (r);
  if (r->o->stats)
    {
      r->o->stats->activation_bytes = r->arena_peak;
      r->o->stats->workers = r->arena_workers;
    }
  g_timer_destroy (r->timer);
  gen_set_threads (r->outer_threads);
}

void
gen_run_tick (GenRun *r)
{
  r->done++;
  if (r->o->progress)
    r->o->progress (MIN (r->done, r->total), r->total, g_timer_elapsed (r->timer, NULL),
                    r->o->progress_data);
}

gboolean
gen_run_cancelled (GenRun *r, GError **error)
{
  if (r->o->cancel && g_atomic_int_get (r->o->cancel))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
      return TRUE;
    }
  return FALSE;
}

int
gen_run_tile (const GenRun *r)
{
  return r->tile;
}

void
gen_run_ready_arenas (GenRun *r, const GenTiler *t)
{
  int n = gen_tiler_workers (t);

  for (int i = 0; i < n; i++)
    if (!r->arenas[i])
      {
        r->arenas[i] = gen_arena_new (r->arena_bytes);
        gen_arena_set_cancel (r->arenas[i], r->o->cancel);
      }
}
