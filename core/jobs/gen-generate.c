/* gen-generate.c — the generate job: new images from noise, one sampling
 * loop per seed, decoded to pixels. */
#include "gen-job-private.h"

#include <string.h>

gboolean
gen_job_generate (GenPipeline *p, const GenJobOptions *o, int width, int height, int count,
                  GenPixels *out, GError **error)
{
  int mult = gen_pipeline_size_multiple (p), native = gen_pipeline_native_size (p);
  GenRun r;
  GenSpace s = { 0 };
  GenSampler *smp = NULL;
  float *x = NULL, *mo = NULL;
  GPtrArray *results;
  gboolean ok = FALSE;
  gint64 n;

  if (!gen_pipeline_need_unet (p, "generate", FALSE, error))
    return FALSE;
  if (width == 0 && height == 0)
    width = height = native > 0 ? native : 64 * mult;
  if (width < 2 || height < 2 || width % mult || height % mult || width > 65535 || height > 65535)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "generate: the size %d×%d must be a multiple of %d (the model's downsampling)",
                   width, height, mult);
      return FALSE;
    }
  if (count < 1 || count > 1000)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: count must be 1 to 1000");
      return FALSE;
    }
  for (int k = 0; k < count; k++)
    if (out[k].width != width || out[k].height != height || out[k].channels < 1 || !out[k].data)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: output %d has the wrong size", k);
        return FALSE;
      }
  results = g_ptr_array_new_with_free_func (g_free);
  gen_run_init (&r, p, o, 0);
  if (!gen_run_encode_text (&r, error) || !gen_space_init (&s, &r, height, width, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  if (!(smp = gen_job_new_sampler (&r, n, error)) || !(x = gen_job_alloc_floats (n, error))
      || !(mo = gen_job_alloc_floats (n, error)))
    goto out;
  r.total = count * gen_sampler_n_evals (smp);

  for (int k = 0; k < count; k++)
    {
      GenRng *rng = gen_rng_new (o->seed + (guint64) k);
      GenPixels tmp = out[k];
      float scale = gen_sampler_init_noise_sigma (smp);

      /* x_T ~ N(0, σ_max² I), drawn as torch.randn with this seed */
      gen_rng_randn (rng, x, n);
      for (gint64 i = 0; i < n; i++)
        x[i] *= scale;
      if (k > 0)
        {
          gen_sampler_free (smp);
          if (!(smp = gen_job_new_sampler (&r, n, error)))
            {
              gen_rng_free (rng);
              goto out;
            }
        }
      ok = gen_job_sample_loop (&r, &s, smp, 0, x, mo, rng, NULL, NULL, error);
      gen_rng_free (rng);
      if (!ok)
        goto out;
      /* decode into a private buffer: outputs are written only on success */
      tmp.data = gen_job_alloc_floats ((gsize) width * height * out[k].channels, error);
      if (!tmp.data || !gen_job_from_model_space (&r, &s, x, NULL, &tmp, error))
        {
          g_free (tmp.data);
          ok = FALSE;
          goto out;
        }
      g_ptr_array_add (results, tmp.data);
    }
  for (int k = 0; k < count; k++)
    memcpy (out[k].data, g_ptr_array_index (results, k),
            sizeof (float) * width * height * out[k].channels);
  ok = TRUE;

out:
  if (smp)
    gen_sampler_free (smp);
  g_free (x);
  g_free (mo);
  g_ptr_array_unref (results);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}
