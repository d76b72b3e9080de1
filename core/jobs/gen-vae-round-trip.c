/* gen-vae-round-trip.c — the vae job: encode to the latent's mean (or a
 * sample of the posterior), decode again, both through the tiler. */
#include "gen-job-private.h"

#include <math.h>

/* Tile function writing [mean, logvar] as 2·L channels. */
static gboolean
encode_moments_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                     GError **error)
{
  GenRun *r = data;
  int64_t l = out->ne[1] / 2, hw = out->ne[2] * out->ne[3];
  GenTensor mt = gen_tensor_view (out->data, 1, l, out->ne[2], out->ne[3]);
  GenTensor lt = gen_tensor_view (out->data + l * hw, 1, l, out->ne[2], out->ne[3]);

  return gen_vae_encode (r->p->vae, in, &mt, &lt, r->arenas[worker], NULL, NULL, error)
         && gen_run_check_finite (r, r->p->vae, "VAE encoder", out, error);
}

gboolean
gen_job_vae (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, gboolean sample,
             GenPixels *out, GError **error)
{
  GenModelInfo vi;
  GenRun r;
  int f, tile;
  int64_t ph, pw, lh, lw, l;
  float *img = NULL, *mom = NULL, *dec = NULL, *res = NULL;
  GenTiler *t = NULL;
  gboolean ok = FALSE;

  if (!p->vae)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the VAE round trip needs a VAE (AutoencoderKL or AutoencoderTiny): give a VAE "
                   "folder, or a VAE as the model");
      return FALSE;
    }
  if (!gen_pixels_check (in, "vae", error) || !gen_pixels_same_shape (in, out, "vae", error))
    return FALSE;
  gen_model_get_info (p->vae, &vi);
  if (sample && vi.kind != GEN_MODEL_VAE_KL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s has no latent distribution to sample from; use the mean", vi.class_name);
      return FALSE;
    }
  f = vi.downscale;
  l = vi.latent_channels;
  ph = (in->height + f - 1) / f * f, pw = (in->width + f - 1) / f * f;
  lh = ph / f, lw = pw / f;
  gen_run_init (&r, p, o, 2);
  if (!gen_run_plan (&r, in->height, in->width, ph, pw, error))
    goto out;
  tile = gen_run_tile (&r);
  if (!(img = gen_pixels_to_tensor (in, vi.in_channels, ph, pw, error))
      || !(mom = gen_job_alloc_floats ((gsize) 2 * l * lh * lw, error)))
    goto out;

  /* encode: mean (and log-variance) through the tiler */
  {
    if (!(t = gen_tiler_new (ph, pw, vi.in_channels, 2 * l, 1, f, f, tile, tile / 4, r.workers,
                             error)))
      goto out;
    {
      GenTensor it = gen_tensor_view (img, 1, vi.in_channels, ph, pw);
      GenTensor mt = gen_tensor_view (mom, 1, 2 * l, lh, lw);

      if (vi.kind == GEN_MODEL_VAE_KL)
        {
          if (!gen_job_run_tiles (&r, t, &it, 1.0f, &mt, encode_moments_tile, &r, error))
            goto out;
        }
      else
        {
          GenTensor m1 = gen_tensor_view (mom, 1, l, lh, lw);
          gen_tiler_free (t);
          if (!(t = gen_tiler_new (ph, pw, vi.in_channels, l, 1, f, f, tile, tile / 4, r.workers,
                                   error)))
            goto out;
          if (!gen_job_run_tiles (&r, t, &it, 1.0f, &m1, gen_job_encode_tile, &r, error))
            goto out;
        }
    }
  }
  gen_run_tick (&r);
  if (sample)
    {
      /* z = μ + exp(½ log σ²) · ε (Kingma & Welling 2014, eq. 10) */
      GenRng *rng = gen_rng_new (o->seed);
      float *eps = mom + l * lh * lw; /* overwritten in place below */
      float *tmp = gen_job_alloc_floats ((gsize) l * lh * lw, error);

      if (!tmp)
        {
          gen_rng_free (rng);
          goto out;
        }
      gen_rng_randn (rng, tmp, l * lh * lw);
      for (int64_t i = 0; i < l * lh * lw; i++)
        mom[i] += expf (0.5f * eps[i]) * tmp[i];
      g_free (tmp);
      gen_rng_free (rng);
    }
  if (!(dec = gen_job_alloc_floats ((gsize) vi.out_channels * ph * pw, error))
      || !gen_job_vae_pass (&r, FALSE, mom, lh, lw, dec, error))
    goto out;
  gen_run_tick (&r);
  if (!(res = gen_job_result_new (o, in, out, error)))
    goto out;
  {
    GenPixels tmp = *out;
    tmp.data = res;
    gen_pixels_from_tensor (dec, vi.out_channels, ph, pw, in, &tmp);
  }
  gen_job_result_finish (res, in, out);
  ok = TRUE;

out:
  gen_tiler_free (t);
  g_free (img);
  g_free (mom);
  g_free (dec);
  gen_job_result_free (res, out);
  gen_run_clear (&r);
  return ok;
}
