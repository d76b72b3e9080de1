/* gen-sample-loop.c — the sampling loop: the options' sampler stepped over
 * the model space, one tiled UNet evaluation per step; inpaint's masked
 * latent blending as a step hook. */
#include "gen-job-private.h"

gboolean
gen_job_sample_loop (GenRun *r, GenSpace *s, GenSampler *smp, int start, float *x, float *out,
                     GenRng *rng, GenStepHook hook, gpointer hook_data, GError **error)
{
  gint64 n = s->mc * s->mh * s->mw;
  int total = gen_sampler_n_evals (smp);

  for (int i = start; i < total; i++)
    {
      if (gen_run_cancelled (r, error)
          || !gen_job_unet_eval (r, s, x, gen_sampler_input_scale (smp, i),
                                 gen_sampler_timestep (smp, i), out, error))
        return FALSE;
      gen_job_preview (r, s, smp, i, x, out);
      gen_sampler_step (smp, i, out, x, n, rng);
      if (hook)
        hook (hook_data, i, x);
      gen_run_tick (r);
    }
  return TRUE;
}

GenSampler *
gen_job_new_sampler (GenRun *r, gint64 n, GError **error)
{
  const GenJobOptions *o = r->o;
  GenSampler *smp = gen_sampler_new (r->p->sched, o->sampler, o->sigmas, o->steps, o->eta, error);

  if (smp && !gen_sampler_reserve (smp, n, error))
    g_clear_pointer (&smp, gen_sampler_free);
  return smp;
}

/* After step I the unknown region follows the sampler; the known region is
 * the original, noised to the next evaluation's level (diffusers'
 * inpaint pipeline for UNets without the mask channels). */
void
gen_job_latent_blend (gpointer data, int i, float *x)
{
  GenLatentBlend *b = data;
  const float *known = b->x0_known;

  if (i + 1 < gen_sampler_n_evals (b->smp))
    {
      gen_sampler_add_noise (b->smp, i + 1, b->x0_known, b->noise, b->tmp, b->n);
      known = b->tmp;
    }
  for (gint64 k = 0; k < b->n; k++)
    x[k] = b->mask[k] * x[k] + (1.0f - b->mask[k]) * known[k];
}
