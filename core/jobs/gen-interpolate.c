/* gen-interpolate.c — the interpolate job: frames between two images by
 * spherical interpolation of their latents or DDIM-inverted noise. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* Spherical interpolation (Shoemake 1985) of A and B at T; linear when they
 * are nearly parallel. */
static void
slerp (const float *a, const float *b, float *out, gint64 n, double t)
{
  double dot = 0.0, na = 0.0, nb = 0.0, theta, wa, wb;

  for (gint64 i = 0; i < n; i++)
    dot += (double) a[i] * b[i], na += (double) a[i] * a[i], nb += (double) b[i] * b[i];
  theta = acos (CLAMP (dot / (sqrt (na * nb) + 1e-30), -1.0, 1.0));
  if (theta < 1e-4)
    wa = 1.0 - t, wb = t;
  else
    wa = sin ((1.0 - t) * theta) / sin (theta), wb = sin (t * theta) / sin (theta);
  for (gint64 i = 0; i < n; i++)
    out[i] = (float) (wa * a[i] + wb * b[i]);
}

/* Deterministic DDIM over the grid g_k = k·(T−1)/steps: INVERT runs k = 0 →
 * steps (image to noise, Song et al. 2021 eq. 13 read backwards), otherwise
 * steps → 0, ending with the x0 prediction. */
static gboolean
ddim_walk (GenRun *r, GenSpace *s, float *x, float *mo, float *x0, gboolean invert,
           GError **error)
{
  const GenSchedConfig *cfg = r->p->sched;
  int steps = MAX (1, r->o->steps), tt = gen_sched_config_num_train_timesteps (cfg);
  gint64 n = s->mc * s->mh * s->mw;

  for (int k = 0; k < steps; k++)
    {
      int from = invert ? k : steps - k, to = invert ? k + 1 : steps - k - 1;
      double tf = (double) from * (tt - 1) / steps, tn = (double) to * (tt - 1) / steps;
      double af = gen_job_abar_at (cfg, tf), an = gen_job_abar_at (cfg, tn);
      float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);

      if (gen_run_cancelled (r, error) || !gen_job_unet_eval (r, s, x, 1.0f, tf, mo, error))
        return FALSE;
      gen_job_split_output (cfg, af, x, mo, x0, mo, n);
      if (!invert && to == 0)
        for (gint64 i = 0; i < n; i++)
          x[i] = CLAMP (x0[i], -1.0f, 1.0f);
      else
        for (gint64 i = 0; i < n; i++)
          x[i] = sa * x0[i] + sb * mo[i];
      gen_run_tick (r);
    }
  return TRUE;
}

gboolean
gen_job_interpolate (GenPipeline *p, const GenJobOptions *o, const GenPixels *a,
                     const GenPixels *b, int n_frames, GenPixels *out, GError **error)
{
  GenRun r;
  GenSpace s;
  gboolean via_vae = p->vae != NULL && (p->latent || !p->unet);
  float *za = NULL, *zb = NULL, *z = NULL, *mo = NULL, *x0 = NULL;
  GPtrArray *frames = NULL;
  gint64 n;
  gboolean ok = FALSE;

  if (!gen_pixels_check (a, "interpolate (first image)", error)
      || !gen_pixels_check (b, "interpolate (second image)", error))
    return FALSE;
  if (a->width != b->width || a->height != b->height)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "interpolate: the two images must have the same size (%d×%d and %d×%d)",
                   a->width, a->height, b->width, b->height);
      return FALSE;
    }
  if (n_frames < 1 || n_frames > 1000)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "interpolate: frames must be 1 to 1000");
      return FALSE;
    }
  if (!via_vae && !p->unet)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "interpolate needs a VAE or a UNet");
      return FALSE;
    }
  for (int k = 0; k < n_frames; k++)
    if (!gen_pixels_same_shape (a, &out[k], "interpolate", error))
      return FALSE;

  gen_run_init (&r, p, o, via_vae ? 2 + n_frames : (2 + n_frames) * MAX (1, o->steps));
  if (via_vae && !p->latent)
    {
      /* a VAE alone: its latent space, unscaled */
      GenModelInfo vi;
      int f;

      gen_model_get_info (p->vae, &vi);
      f = vi.downscale;
      memset (&s, 0, sizeof s);
      s.ih = a->height, s.iw = a->width;
      s.ph = (a->height + f - 1) / f * f, s.pw = (a->width + f - 1) / f * f;
      s.mh = s.ph / f, s.mw = s.pw / f, s.mc = vi.latent_channels;
    }
  else if (!gen_space_init (&s, &r, a->height, a->width, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  frames = g_ptr_array_new_with_free_func (g_free);
  if (!(mo = gen_job_alloc_floats (n, error)) || !(x0 = gen_job_alloc_floats (n, error))
      || !(z = gen_job_alloc_floats (n, error)))
    goto out;

  if (via_vae && !p->latent)
    {
      GenModelInfo vi;
      float *img;

      gen_model_get_info (p->vae, &vi);
      za = gen_job_alloc_floats (n, error);
      zb = gen_job_alloc_floats (n, error);
      if (!za || !zb)
        goto out;
      for (int which = 0; which < 2; which++)
        {
          img = gen_pixels_to_tensor (which ? b : a, vi.in_channels, s.ph, s.pw, error);
          if (!img || !gen_job_vae_pass (&r, TRUE, img, s.ph, s.pw, which ? zb : za, error))
            {
              g_free (img);
              goto out;
            }
          g_free (img);
          gen_run_tick (&r);
        }
    }
  else
    {
      if (!(za = gen_job_to_model_space (&r, &s, a, error))
          || !(zb = gen_job_to_model_space (&r, &s, b, error)))
        goto out;
      if (!via_vae
          && (!ddim_walk (&r, &s, za, mo, x0, TRUE, error)
              || !ddim_walk (&r, &s, zb, mo, x0, TRUE, error)))
        goto out;
    }

  for (int k = 0; k < n_frames; k++)
    {
      GenPixels tmp = out[k];

      slerp (za, zb, z, n, (double) (k + 1) / (n_frames + 1));
      if (!via_vae && !ddim_walk (&r, &s, z, mo, x0, FALSE, error))
        goto out;
      if (!(tmp.data = gen_job_alloc_floats ((gsize) a->width * a->height * a->channels, error)))
        goto out;
      g_ptr_array_add (frames, tmp.data);
      if (via_vae && !p->latent)
        {
          GenModelInfo vi;
          float *img;

          gen_model_get_info (p->vae, &vi);
          if (!(img = gen_job_alloc_floats ((gsize) vi.out_channels * s.ph * s.pw, error)))
            goto out;
          if (!gen_job_vae_pass (&r, FALSE, z, s.mh, s.mw, img, error))
            {
              g_free (img);
              goto out;
            }
          gen_pixels_from_tensor (img, vi.out_channels, s.ph, s.pw, a, &tmp);
          g_free (img);
        }
      else if (!gen_job_from_model_space (&r, &s, z, a, &tmp, error))
        goto out;
      if (via_vae)
        gen_run_tick (&r);
    }
  for (int k = 0; k < n_frames; k++)
    memcpy (out[k].data, g_ptr_array_index (frames, k),
            sizeof (float) * a->width * a->height * a->channels);
  ok = TRUE;

out:
  if (frames)
    g_ptr_array_unref (frames);
  g_free (za);
  g_free (zb);
  g_free (z);
  g_free (mo);
  g_free (x0);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}
