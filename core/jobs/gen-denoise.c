/* gen-denoise.c — the denoise job: the noise level (given or estimated),
 * then one x0 prediction (gen-denoise-fast.c) or deterministic DDIM from
 * the matching timestep, blended by strength and mask. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* Finest diagonal Haar detail d = (a − b − c + e) / 2 over 2×2 blocks has
 * the noise's σ for white noise; the median absolute value / 0.6745 is
 * robust to edges (Donoho & Johnstone 1994).  Per colour channel, averaged. */
double
gen_estimate_noise (const GenPixels *in)
{
  int colour = in->channels >= 3 ? 3 : 1;
  gint64 nb = (gint64) (in->width / 2) * (in->height / 2);
  float *d;
  double sum = 0.0;

  if (nb < 1)
    return 0.0;
  d = g_new (float, nb);
  for (int c = 0; c < colour; c++)
    {
      gint64 k = 0;

      for (int y = 0; y + 1 < in->height; y += 2)
        for (int x = 0; x + 1 < in->width; x += 2)
          {
            const float *p0 = in->data + ((gsize) y * in->width + x) * in->channels + c;
            const float *p1 = p0 + (gsize) in->width * in->channels;
            d[k++] = fabsf (p0[0] - p0[in->channels] - p1[0] + p1[in->channels]) * 0.5f;
          }
      /* median by selection */
      {
        gint64 lo = 0, hi = k - 1, mid = k / 2;

        while (lo < hi)
          {
            float pivot = d[(lo + hi) / 2];
            gint64 i = lo, j = hi;

            while (i <= j)
              {
                while (d[i] < pivot)
                  i++;
                while (d[j] > pivot)
                  j--;
                if (i <= j)
                  {
                    float t = d[i];
                    d[i] = d[j], d[j] = t;
                    i++, j--;
                  }
              }
            if (mid <= j)
              hi = j;
            else if (mid >= i)
              lo = i;
            else
              break;
          }
        sum += d[mid] / 0.6745 * 255.0;
      }
    }
  g_free (d);
  return sum / colour;
}

gboolean
gen_job_denoise (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
                 GenDenoiseMode mode, double sigma, double strength, GenPixels *out,
                 double *sigma_used, GError **error)
{
  GenRun r;
  GenSpace s;
  float *y = NULL, *x = NULL, *mo = NULL, *x0 = NULL, *res = NULL;
  double abar, t;
  gint64 n;
  gboolean ok = FALSE;

  if (!gen_pipeline_need_unet (p, "denoise", error) || !gen_pixels_check (in, "denoise", error)
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
  gen_run_init (&r, p, o, mode == GEN_DENOISE_FAST ? 1 : MAX (1, o->steps));
  if (!gen_space_init (&s, &r, in->height, in->width, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  if (!(res = gen_job_result_new (o, in, out, error)))
    goto out;

  if (sigma > 0.0 && mode == GEN_DENOISE_FAST)
    {
      if (gen_run_cancelled (&r, error) || !gen_job_denoise_fast (&r, &s, in, abar, t, res, error))
        goto out;
      gen_run_tick (&r);
    }
  else
    {
      if (!(y = gen_pixels_to_tensor (in, (int) s.mc, s.ph, s.pw, error))
          || !(x = gen_job_alloc_floats (n, error)) || !(mo = gen_job_alloc_floats (n, error))
          || !(x0 = gen_job_alloc_floats (n, error)))
        goto out;
      if (sigma > 0.0)
        {
          int steps = MAX (1, o->steps);
          double tc = t, ac = abar;
          float a = (float) sqrt (abar);

          for (gint64 i = 0; i < n; i++)
            x[i] = y[i] * a;
          /* Deterministic DDIM (Song et al. 2021 eq. 12, η = 0) from t down to 0
           * in STEPS equal steps. */
          for (int k = 0; k < steps; k++)
            {
              double tn = t * (steps - 1 - k) / steps,
                     an = k + 1 < steps ? gen_job_abar_at (p->sched, tn) : 1.0;

              if (gen_run_cancelled (&r, error)
                  || !gen_job_unet_eval (&r, &s, x, 1.0f, tc, mo, error))
                goto out;
              gen_job_split_output (p->sched, ac, x, mo, x0, mo, n);
              if (k + 1 < steps)
                {
                  float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);
                  for (gint64 i = 0; i < n; i++)
                    x[i] = sa * CLAMP (x0[i], -1.0f, 1.0f) + sb * mo[i];
                }
              tc = tn, ac = an;
              gen_run_tick (&r);
            }
        }
      else
        memcpy (x0, y, sizeof (float) * n);
      {
        GenPixels den = *out;

        den.data = res;
        gen_pixels_from_tensor (x0, (int) s.mc, s.ph, s.pw, in, &den);
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
