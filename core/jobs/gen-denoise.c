/* gen-denoise.c — the denoise job: the noise level (given or estimated,
 * gen-noise-estimate.c), then one x0 prediction (gen-denoise-fast.c) or
 * deterministic DDIM from the matching timestep — once, or averaged over the
 * image's eight flips and turns — blended by strength and mask. */
#include "gen-job-private.h"
#include "gen-denoise-wiener.h"

#include <math.h>
#include <string.h>

static const char *const quality_names[] = { "fast", "best" };

const char *
gen_denoise_quality_name (GenDenoiseQuality q)
{
  return (guint) q < G_N_ELEMENTS (quality_names) ? quality_names[q] : "";
}

gboolean
gen_denoise_quality_from_name (const char *name, GenDenoiseQuality *q, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (quality_names); i++)
    if (name && strcmp (name, quality_names[i]) == 0)
      {
        *q = (GenDenoiseQuality) i;
        return TRUE;
      }
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise quality must be fast or best, not '%s'",
               name ? name : "");
  return FALSE;
}

/* Deterministic DDIM (Song et al. 2021 eq. 12, η = 0) from the noisy image
 * Y (model space, [-1, 1]) at ᾱ ABAR, timestep T, down to 0 in STEPS equal
 * steps: X0 [n] the result; X and MO [n] its state and the model's output
 * (X may be Y: it is read once, first). */
static gboolean
denoise_sample (GenRun *r, GenSpace *s, const float *y, double abar, double t, int steps,
                float *x, float *mo, float *x0, GError **error)
{
  GenPipeline *p = r->p;
  gint64 n = s->mc * s->mh * s->mw;
  double tc = t, ac = abar;
  float a = (float) sqrt (abar);

  for (gint64 i = 0; i < n; i++)
    x[i] = y[i] * a;
  for (int k = 0; k < steps; k++)
    {
      double tn = t * (steps - 1 - k) / steps,
             an = k + 1 < steps ? gen_job_abar_at (p->sched, tn) : 1.0;

      if (gen_run_cancelled (r, error) || !gen_job_unet_eval (r, s, x, 1.0f, tc, mo, error))
        return FALSE;
      gen_job_split_output (p->sched, ac, x, mo, x0, mo, n);
      if (k + 1 < steps)
        {
          float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);
          for (gint64 i = 0; i < n; i++)
            x[i] = sa * CLAMP (x0[i], -1.0f, 1.0f) + sb * mo[i];
        }
      tc = tn, ac = an;
      gen_run_tick (r);
    }
  return TRUE;
}

/* denoise_sample of the canvas Y [mc, ph, pw] in the flips and turns KS
 * [NK], each clamped to [-1, 1], turned back and averaged into X0.  The
 * turned canvases (pw × ph) run in their own model space; ACC is one more
 * buffer. */
static gboolean
denoise_sample_ensemble (GenRun *r, GenSpace *s, const float *y, double abar, double t,
                         int steps, const int *ks, int nk, float *x, float *mo, float *x0,
                         GError **error)
{
  GenSpace turned;
  gint64 n = s->mc * s->mh * s->mw;
  float *acc;
  gboolean ok = FALSE;

  if (!gen_space_init (&turned, r, s->pw, s->ph, error))
    return FALSE;
  if (turned.mh != s->mw || turned.mw != s->mh || turned.mc != s->mc)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "denoise: the turned image does not fit the model's sizes");
      goto out;
    }
  if (!(acc = gen_job_alloc_floats (n, error)))
    goto out;
  memset (acc, 0, sizeof (float) * n);
  for (int e = 0; e < nk; e++)
    {
      int k = ks[e];

      gen_dihedral_apply (k, y, s->mc, s->mh, s->mw, x);
      if (!denoise_sample (r, gen_dihedral_swaps (k) ? &turned : s, x, abar, t, steps, x, mo, x0,
                           error))
        goto out_acc;
      for (gint64 i = 0; i < n; i++)
        x0[i] = CLAMP (x0[i], -1.0f, 1.0f);
      gen_dihedral_undo_add (k, x0, s->mc, s->mh, s->mw, acc);
    }
  for (gint64 i = 0; i < n; i++)
    x0[i] = acc[i] / nk;
  ok = TRUE;
out_acc:
  g_free (acc);
out:
  gen_space_clear (&turned);
  return ok;
}

gboolean
gen_job_denoise (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
                 GenDenoiseMode mode, double sigma, double strength, GenPixels *out,
                 double *sigma_used, GError **error)
{
  return gen_job_denoise_quality (p, o, in, mask, mode, GEN_DENOISE_QUALITY_FAST, sigma, strength,
                                  out, sigma_used, error);
}

gboolean
gen_job_denoise_quality (GenPipeline *p, const GenJobOptions *o, const GenPixels *in,
                         const float *mask, GenDenoiseMode mode, GenDenoiseQuality quality,
                         double sigma, double strength, GenPixels *out, double *sigma_used,
                         GError **error)
{
  GenRun r;
  GenSpace s;
  float *y = NULL, *x = NULL, *mo = NULL, *x0 = NULL, *res = NULL;
  gboolean ensemble = quality == GEN_DENOISE_QUALITY_BEST;
  double abar, t;
  gint64 n;
  int steps, py = 0, px = 0, nk;
  const int *ks;
  gboolean mosaic = FALSE, ok = FALSE;

  if (!gen_pipeline_need_unet (p, "denoise", FALSE, error) || !gen_pixels_check (in, "denoise", error)
      || !gen_pixels_same_shape (in, out, "denoise", error))
    return FALSE;
  if (p->latent)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "denoise needs a pixel-space diffusion model (its noise model is the image's); "
                   "this one works on VAE latents — use vary instead");
      return FALSE;
    }
  if (!(strength >= 0.0 && strength <= 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise: strength must be 0 to 1");
      return FALSE;
    }
  if (quality != GEN_DENOISE_QUALITY_FAST && quality != GEN_DENOISE_QUALITY_BEST)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise: unknown quality %d", quality);
      return FALSE;
    }
  if (sigma < 0)
    sigma = gen_estimate_noise (in);
  if (!(sigma <= 255.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise: sigma must be 0 to 255");
      return FALSE;
    }
  if (sigma_used)
    *sigma_used = sigma;

  /* In [-1, 1] units the noise is σ' = 2σ/255; y = x + σ'ε is the VP state
   * x_t = y·sqrt(ᾱ) at ᾱ = 1 / (1 + σ'²) (Ho et al. 2020 eq. 4). */
  abar = 1.0 / (1.0 + pow (2.0 * sigma / 255.0, 2));
  t = gen_job_timestep_for_abar (p->sched, abar);
  steps = MAX (1, o->steps);
  /* noise demosaiced from a Bayer mosaic: the image moves on the model's
   * canvas so that its red sites fall where the model learnt them, on even
   * rows and columns of the tiles; the ensemble keeps to the flips and
   * turns that leave them there */
  if (sigma > 0.0)
    mosaic = gen_estimate_bayer_phase (in, &py, &px);
  nk = gen_dihedral_ensemble (mosaic, &ks);
  gen_run_init (&r, p, o, mode == GEN_DENOISE_FAST ? 1 : ensemble ? nk * steps : steps);
  if (!gen_space_init (&s, &r, in->height + py, in->width + px, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  if (!(res = gen_job_result_new (o, in, out, error)))
    goto out;

  if (sigma > 0.0 && mode == GEN_DENOISE_FAST)
    {
      if (gen_run_cancelled (&r, error)
          || !gen_job_denoise_fast (&r, &s, in, abar, t, ensemble, py, px, mosaic, res, error))
        goto out;
      if (o->denoise_patches)
        {
          GenWiener wiener = GEN_WIENER_DEFAULT;
          GenPixels est = *out;

          /* the model is done: its tile arenas go before the filter's buffers
           * (24 bytes a pixel) come, so the job's peak stays the model's */
          gen_run_release_arenas (&r);
          wiener.cancel = o->cancel;
          est.data = res;
          if (!gen_denoise_wiener (in, &est, sigma, &wiener, error))
            goto out;
        }
      gen_run_tick (&r);
    }
  else
    {
      if (!(y = gen_pixels_to_tensor_at (in, (int) s.mc, s.ph, s.pw, py, px, error))
          || !(x = gen_job_alloc_floats (n, error)) || !(mo = gen_job_alloc_floats (n, error))
          || !(x0 = gen_job_alloc_floats (n, error)))
        goto out;
      if (sigma > 0.0)
        {
          if (ensemble ? !denoise_sample_ensemble (&r, &s, y, abar, t, steps, ks, nk, x, mo, x0,
                                                   error)
                       : !denoise_sample (&r, &s, y, abar, t, steps, x, mo, x0, error))
            goto out;
        }
      else
        memcpy (x0, y, sizeof (float) * n);
      {
        GenPixels den = *out;

        den.data = res;
        gen_pixels_from_tensor_at (x0, (int) s.mc, s.ph, s.pw, py, px, in, &den);
      }
    }

  /* blend: strength, then the (feathered) mask, on the image's pixels */
  {
    for (gint64 i = 0; i < (gint64) in->width * in->height; i++)
      {
        float m = (float) strength * (mask ? CLAMP (mask[i], 0.0f, 1.0f) : 1.0f);
        for (int c = 0; c < in->channels; c++)
          {
            gint64 k = i * in->channels + c;
            res[k] = m >= 1.0f ? res[k] : m <= 0.0f ? in->data[k]
                                                   : in->data[k] + m * (res[k] - in->data[k]);
          }
      }
  }
  gen_job_result_finish (res, in, out);
  ok = TRUE;

out:
  g_free (y);
  g_free (x);
  g_free (mo);
  g_free (x0);
  gen_job_result_free (res, out);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}
