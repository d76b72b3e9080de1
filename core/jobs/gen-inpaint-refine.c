/* gen-inpaint-refine.c — inpaint's default for pixel models: the hole's
 * harmonic fill with its edges carried on by edge-guided diffusion
 * (gen-inpaint-fill.c), which continues the surroundings' colours and
 * edges but not their texture, refined by the diffusion prior from a
 * moderate noise level only (SDEdit, Meng et al. 2022), the known pixels
 * re-imposed at every step (RePaint, Lugmayr et al. 2022, eq. 8).  A small
 * prior cannot invent a photo's content from pure noise, but it is a strong
 * denoiser: started this close to the answer it adds edges and shading
 * that agree with the border instead of inventing colours. */
#include "gen-inpaint-fill.h"
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

float *
gen_inpaint_fill (const GenPixels *in, const float *mask, const gint *cancel, GError **error)
{
  gsize n = (gsize) in->width * in->height;
  GenPixels filled = *in;
  guint8 *unknown = g_try_malloc (n);
  gboolean ok;

  filled.data = gen_job_alloc_floats (n * in->channels, error);
  if (!filled.data || !unknown)
    {
      if (filled.data && !unknown)
        g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "inpaint: out of memory for the fill");
      g_free (filled.data);
      g_free (unknown);
      return NULL;
    }
  memcpy (filled.data, in->data, sizeof (float) * n * in->channels);
  for (gsize i = 0; i < n; i++)
    unknown[i] = mask[i] > 0.0f;
  {
    GenEdgeGuided eg = GEN_EDGE_GUIDED_DEFAULT;
    int colour = in->channels >= 3 ? 3 : 1;

    eg.cancel = cancel;

    ok = gen_inpaint_harmonic (&filled, colour, unknown, error)
         && gen_inpaint_edge_guided (&filled, colour, unknown, &eg, error);
  }
  g_free (unknown);
  if (!ok)
    g_clear_pointer (&filled.data, g_free);
  return filled.data;
}

gboolean
gen_job_inpaint_refine (GenRun *r, GenSpace *s, const float *xf, const float *m, GenRng *rng,
                        float *x, GError **error)
{
  const GenSchedConfig *sched = r->p->sched;
  double sigma = r->o->inpaint_sigma > 0.0 ? r->o->inpaint_sigma : GEN_INPAINT_DEFAULT_SIGMA;
  /* σ on the 0..255 scale is σ' = 2σ/255 in [-1, 1] units, the VP state at
   * ᾱ = 1 / (1 + σ'²) (as the denoise job) */
  double abar = 1.0 / (1.0 + pow (2.0 * sigma / 255.0, 2)), ac = abar;
  double t = gen_job_timestep_for_abar (sched, abar), tc = t;
  int steps = MAX (1, r->o->steps);
  gint64 n = s->mc * s->mh * s->mw;
  float *eps = NULL, *mo = NULL, *x0 = NULL;
  gboolean ok = FALSE;

  if (!(eps = gen_job_alloc_floats (n, error)) || !(mo = gen_job_alloc_floats (n, error))
      || !(x0 = gen_job_alloc_floats (n, error)))
    goto out;
  r->total = steps;
  /* one noise for the whole run: the known region's at every level */
  gen_rng_randn (rng, eps, n);
  {
    float sa = (float) sqrt (abar), sb = (float) sqrt (1.0 - abar);

    for (gint64 i = 0; i < n; i++)
      x[i] = sa * xf[i] + sb * eps[i];
  }
  /* Deterministic DDIM (Song et al. 2021 eq. 12, η = 0) from t down to 0 in
   * STEPS equal steps; after each the known region is XF noised to the
   * next level with that same noise, the hole the model's step, blended by
   * the mask. */
  for (int k = 0; k < steps; k++)
    {
      double tn = t * (steps - 1 - k) / steps,
             an = k + 1 < steps ? gen_job_abar_at (sched, tn) : 1.0;
      float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);

      if (gen_run_cancelled (r, error) || !gen_job_unet_eval (r, s, x, 1.0f, tc, mo, error))
        goto out;
      gen_job_split_output (sched, ac, x, mo, x0, mo, n);
      gen_job_preview_x0 (r, s, x0);
      for (gint64 i = 0; i < n; i++)
        {
          float hole = sa * CLAMP (x0[i], -1.0f, 1.0f) + sb * mo[i];
          float known = sa * xf[i] + sb * eps[i];

          x[i] = m[i] * hole + (1.0f - m[i]) * known;
        }
      tc = tn, ac = an;
      gen_run_tick (r);
    }
  ok = TRUE;

out:
  g_free (eps);
  g_free (mo);
  g_free (x0);
  return ok;
}
