/* gen-vary.c — the vary job: img2img / SDEdit (Meng et al. 2022). */
#include "gen-job-private.h"

#include <string.h>

gboolean
gen_job_vary (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, double strength,
              GenPixels *out, GError **error)
{
  GenRun r;
  GenSpace s = { 0 };
  GenSampler *smp = NULL;
  GenRng *rng = NULL;
  float *x0 = NULL, *x = NULL, *mo = NULL, *res = NULL;
  gboolean ok = FALSE;
  gint64 n;
  int start;

  if (!gen_pipeline_need_unet (p, "vary", FALSE, error) || !gen_pixels_check (in, "vary", error)
      || !gen_pixels_same_shape (in, out, "vary", error))
    return FALSE;
  if (!(strength >= 0.0 && strength <= 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "vary: strength must be 0 to 1, not %g",
                   strength);
      return FALSE;
    }
  gen_run_init (&r, p, o, 0);
  if (!gen_run_encode_text (&r, error) || !gen_space_init (&s, &r, in->height, in->width, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  if (!(smp = gen_job_new_sampler (&r, n, error)))
    goto out;
  start = gen_sampler_start_index (smp, strength);
  r.total = MAX (1, gen_sampler_n_evals (smp) - start);
  if (!(res = gen_job_result_new (o, in, out, error)))
    goto out;
  if (start >= gen_sampler_n_evals (smp))
    memcpy (res, in->data, sizeof (float) * in->width * in->height * in->channels);
  else
    {
      GenPixels tmp = *out;

      rng = gen_rng_new (o->seed);
      if (!(x0 = p->text ? gen_job_encode_sample (&r, &s, in, rng, error)
                         : gen_job_to_model_space (&r, &s, in, error))
          || !(x = gen_job_alloc_floats (n, error)) || !(mo = gen_job_alloc_floats (n, error)))
        goto out;
      /* x_start = add_noise (x0, ε, t_start), ε drawn from the seed (after
       * the posterior's draw for a Stable Diffusion pipeline) */
      gen_rng_randn (rng, mo, n);
      gen_sampler_add_noise (smp, start, x0, mo, x, n);
      if (!gen_job_sample_loop (&r, &s, smp, start, x, mo, rng, NULL, NULL, error))
        goto out;
      tmp.data = res;
      if (!gen_job_from_model_space (&r, &s, x, in, &tmp, error))
        goto out;
    }
  gen_job_result_finish (res, in, out);
  ok = TRUE;

out:
  if (smp)
    gen_sampler_free (smp);
  if (rng)
    gen_rng_free (rng);
  g_free (x0);
  g_free (x);
  g_free (mo);
  gen_job_result_free (res, out);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}
