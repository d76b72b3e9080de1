/* gen-inpaint.c — the inpaint job: for pixel models a refined edge-guided
 * fill (gen-inpaint-refine.c) or RePaint, masked latent blending with a
 * VAE, a Stable Diffusion pipeline as diffusers runs it (gen-inpaint-sd.c);
 * on the mask's bounding box plus context. */
#include "gen-inpaint-fill.h"
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* RePaint's time schedule with jumps (Lugmayr et al. 2022, alg. 1 and the
 * resampling of §4.2): indices into STEPS grid points, -1 last. */
static GArray *
repaint_schedule (int steps, int jump, int resample)
{
  GArray *ts = g_array_new (FALSE, FALSE, sizeof (int));
  int *jumps = g_new0 (int, steps + 1);
  int t = steps;

  for (int j = 0; j + jump < steps; j += jump)
    jumps[j] = resample - 1;
  while (t >= 1)
    {
      t--;
      g_array_append_val (ts, t);
      if (jumps[t] > 0)
        {
          jumps[t]--;
          for (int k = 0; k < jump && t < steps - 1; k++)
            {
              t++;
              g_array_append_val (ts, t);
            }
        }
    }
  t = -1;
  g_array_append_val (ts, t);
  g_free (jumps);
  return ts;
}

/* The mask in model space [mh][mw] (repeated over channels at use): the
 * average over each f×f block, 0 over the padding. */
static float *
mask_to_model_space (const float *mask, int w, int h, const GenSpace *s, GError **error)
{
  int64_t f = s->ph / s->mh;
  float *m = gen_job_alloc_floats ((gsize) s->mc * s->mh * s->mw, error);

  if (!m)
    return NULL;
  for (int64_t y = 0; y < s->mh; y++)
    for (int64_t x = 0; x < s->mw; x++)
      {
        double acc = 0.0;

        for (int64_t dy = 0; dy < f; dy++)
          for (int64_t dx = 0; dx < f; dx++)
            {
              int64_t py = y * f + dy, px = x * f + dx;
              if (py < h && px < w)
                acc += CLAMP (mask[py * w + px], 0.0f, 1.0f);
            }
        for (int64_t c = 0; c < s->mc; c++)
          m[(c * s->mh + y) * s->mw + x] = (float) (acc / (double) (f * f));
      }
  return m;
}

/* RePaint on the model space: X0K the known image, M the mask, X (out) the
 * result. */
static gboolean
repaint (GenRun *r, GenSpace *s, const float *x0k, const float *m, int jump, int resample,
         GenRng *rng, float *x, GError **error)
{
  const GenSchedConfig *sched = r->p->sched;
  const double *ac = gen_sched_config_alphas_cumprod (sched);
  int tt = gen_sched_config_num_train_timesteps (sched), steps = CLAMP (r->o->steps, 1, tt);
  gint64 n = s->mc * s->mh * s->mw;
  float *mo = NULL, *z = NULL, *x0 = NULL;
  GArray *ts = repaint_schedule (steps, MAX (1, jump), MAX (1, resample));
  gboolean ok = FALSE;

  if (!(mo = gen_job_alloc_floats (n, error)) || !(z = gen_job_alloc_floats (n, error))
      || !(x0 = gen_job_alloc_floats (n, error)))
    goto out;
  for (guint k = 0; k + 1 < ts->len; k++)
    r->total += g_array_index (ts, int, k + 1) < g_array_index (ts, int, k);
  gen_rng_randn (rng, x, n);
  for (guint k = 0; k + 1 < ts->len; k++)
    {
      int tc = g_array_index (ts, int, k), tn = g_array_index (ts, int, k + 1);
      int mc = tc * tt / steps;
      double a = ac[mc];

      if (tn > tc)
        {
          /* jump back up: q(x_tn | x_tc) = N(sqrt(ᾱn/ᾱc) x, (1 − ᾱn/ᾱc) I) */
          double ratio = ac[tn * tt / steps] / a;
          float sa = (float) sqrt (ratio), sb = (float) sqrt (1.0 - ratio);

          gen_rng_randn (rng, z, n);
          for (gint64 i = 0; i < n; i++)
            x[i] = sa * x[i] + sb * z[i];
          continue;
        }
      if (gen_run_cancelled (r, error) || !gen_job_unet_eval (r, s, x, 1.0f, mc, mo, error))
        goto out;
      gen_job_split_output (sched, a, x, mo, x0, mo, n);
      gen_job_preview_x0 (r, s, x0);
      if (tn < 0)
        {
          for (gint64 i = 0; i < n; i++)
            x[i] = m[i] * CLAMP (x0[i], -1.0f, 1.0f) + (1.0f - m[i]) * x0k[i];
        }
      else
        {
          /* DDPM posterior step between grid points (DDIM with η = 1,
           * Song et al. 2021 eq. 16), then the known region noised to
           * the same level (RePaint eq. 8) */
          double ap = ac[tn * tt / steps];
          double var = (1.0 - ap) / (1.0 - a) * (1.0 - a / ap);
          float sp = (float) sqrt (ap), sd = (float) sqrt (MAX (0.0, 1.0 - ap - var));
          float sv = (float) sqrt (MAX (0.0, var)), sk = (float) sqrt (1.0 - ap);

          gen_rng_randn (rng, z, n);
          for (gint64 i = 0; i < n; i++)
            {
              float unk = sp * CLAMP (x0[i], -1.0f, 1.0f) + sd * mo[i] + sv * z[i];
              x[i] = m[i] * unk;
            }
          gen_rng_randn (rng, z, n);
          for (gint64 i = 0; i < n; i++)
            x[i] += (1.0f - m[i]) * (sp * x0k[i] + sk * z[i]);
        }
      gen_run_tick (r);
    }
  ok = TRUE;

out:
  g_array_unref (ts);
  g_free (mo);
  g_free (z);
  g_free (x0);
  return ok;
}

/* Masked latent blending: the options' sampler from pure noise, X (out). */
static gboolean
latent_blend (GenRun *r, GenSpace *s, const float *x0k, const float *m, GenRng *rng, float *x,
              GError **error)
{
  gint64 n = s->mc * s->mh * s->mw;
  GenSampler *smp = NULL;
  float *mo = NULL, *z = NULL, *tmp = NULL, scale;
  GenLatentBlend blend = { NULL, x0k, NULL, m, NULL, n };
  gboolean ok = FALSE;

  if (!(mo = gen_job_alloc_floats (n, error)) || !(z = gen_job_alloc_floats (n, error))
      || !(tmp = gen_job_alloc_floats (n, error)) || !(smp = gen_job_new_sampler (r, n, error)))
    goto out;
  r->total = gen_sampler_n_evals (smp);
  scale = gen_sampler_init_noise_sigma (smp);
  gen_rng_randn (rng, x, n);
  for (gint64 i = 0; i < n; i++)
    x[i] *= scale;
  gen_rng_randn (rng, z, n); /* the noise of the known region, fixed */
  blend.smp = smp, blend.noise = z, blend.tmp = tmp;
  ok = gen_job_sample_loop (r, s, smp, 0, x, mo, rng, gen_job_latent_blend, &blend, error);

out:
  if (smp)
    gen_sampler_free (smp);
  g_free (mo);
  g_free (z);
  g_free (tmp);
  return ok;
}

/* The crop IN with its MASK filled into RES. */
static gboolean
inpaint_crop (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
              int jump, int resample, GenPixels *res, GError **error)
{
  GenRun r;
  GenSpace s;
  GenRng *rng = NULL;
  GenPixels filled = *in;
  float *x0k = NULL, *m = NULL, *x = NULL;
  gboolean refine = !p->latent && o->inpaint == GEN_INPAINT_REFINE, ok = FALSE;
  gint64 n;

  filled.data = NULL;
  gen_run_init (&r, p, o, 0);
  if (!gen_space_init (&s, &r, in->height, in->width, error))
    goto out;
  n = s.mc * s.mh * s.mw;
  if (refine && !(filled.data = gen_inpaint_fill (in, mask, o->cancel, error)))
    goto out;
  if (!(x0k = gen_job_to_model_space (&r, &s, refine ? &filled : in, error))
      || !(m = mask_to_model_space (mask, in->width, in->height, &s, error))
      || !(x = gen_job_alloc_floats (n, error)))
    goto out;
  /* refine fills the whole selection, soft or not; the mask's values weigh
   * the result only when it is composed (gen_job_inpaint) */
  for (gint64 i = 0; refine && i < n; i++)
    m[i] = m[i] > 0.0f ? 1.0f : 0.0f;
  rng = gen_rng_new (o->seed);
  if (refine)
    ok = gen_job_inpaint_refine (&r, &s, x0k, m, rng, x, error);
  else if (!p->latent)
    ok = repaint (&r, &s, x0k, m, jump, resample, rng, x, error);
  else
    ok = latent_blend (&r, &s, x0k, m, rng, x, error);
  ok = ok && gen_job_from_model_space (&r, &s, x, in, res, error);

out:
  if (rng)
    gen_rng_free (rng);
  g_free (filled.data);
  g_free (x0k);
  g_free (m);
  g_free (x);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}

gboolean
gen_job_inpaint (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
                 int jump_length, int resample, GenPixels *out, GError **error)
{
  int x0 = in->width, y0 = in->height, x1 = -1, y1 = -1, ctx;
  GenPixels crop = { NULL, 0, 0, in->channels }, res;
  gboolean alpha = in->channels == 2 || in->channels == 4;
  float *cmask = NULL, *result = NULL;
  gboolean ok = FALSE;

  if (!gen_pipeline_need_unet (p, "inpaint", TRUE, error) || !gen_pixels_check (in, "inpaint", error)
      || !gen_pixels_same_shape (in, out, "inpaint", error))
    return FALSE;
  if (!mask)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "inpaint needs a mask");
      return FALSE;
    }
  if (jump_length < 1 || jump_length > 1000 || resample < 1 || resample > 100)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "inpaint: jump length must be 1 to 1000 and resample count 1 to 100");
      return FALSE;
    }
  if ((o->inpaint != GEN_INPAINT_REFINE && o->inpaint != GEN_INPAINT_REPAINT)
      || !(o->inpaint_sigma >= 0.0 && o->inpaint_sigma <= 255.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "inpaint: unknown method, or a refine sigma outside 0 to 255");
      return FALSE;
    }
  for (int y = 0; y < in->height; y++)
    for (int x = 0; x < in->width; x++)
      if (mask[(gsize) y * in->width + x] > 0.0f)
        x0 = MIN (x0, x), y0 = MIN (y0, y), x1 = MAX (x1, x), y1 = MAX (y1, y);
  if (x1 < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "inpaint: the mask (selection) is empty: there is nothing to fill");
      return FALSE;
    }
  /* The hole's bounding box plus context on every side. */
  ctx = MAX (32, MAX (x1 - x0 + 1, y1 - y0 + 1) / 2);
  x0 = MAX (0, x0 - ctx), y0 = MAX (0, y0 - ctx);
  x1 = MIN (in->width - 1, x1 + ctx), y1 = MIN (in->height - 1, y1 + ctx);
  crop.width = MAX (2, x1 - x0 + 1), crop.height = MAX (2, y1 - y0 + 1);
  x0 = MIN (x0, in->width - crop.width), y0 = MIN (y0, in->height - crop.height);

  crop.data = gen_job_alloc_floats ((gsize) crop.width * crop.height * in->channels, error);
  cmask = gen_job_alloc_floats ((gsize) crop.width * crop.height, error);
  result = gen_job_alloc_floats ((gsize) crop.width * crop.height * in->channels, error);
  if (!crop.data || !cmask || !result)
    goto out;
  for (int y = 0; y < crop.height; y++)
    {
      memcpy (crop.data + (gsize) y * crop.width * in->channels,
              in->data + ((gsize) (y0 + y) * in->width + x0) * in->channels,
              sizeof (float) * crop.width * in->channels);
      /* into 0..1, NaN as 0: a mask value that is not above 0 keeps its
       * pixel; inside the mask a fully transparent pixel is unknown, all
       * fill (outpainting) */
      for (int x = 0; x < crop.width; x++)
        {
          float v = mask[(gsize) (y0 + y) * in->width + x0 + x];
          const float *px = crop.data + ((gsize) y * crop.width + x) * in->channels;

          cmask[(gsize) y * crop.width + x]
            = !(v > 0.0f) ? 0.0f : alpha && px[in->channels - 1] <= 0.0f ? 1.0f : MIN (v, 1.0f);
        }
    }
  res = crop;
  res.data = result;
  if (p->text ? !gen_job_inpaint_sd (p, o, &crop, cmask, &res, error)
              : !inpaint_crop (p, o, &crop, cmask, jump_length, resample, &res, error))
    goto out;

  /* Compose: outside the mask the input, bit for bit. */
  if (out->data != in->data)
    memcpy (out->data, in->data, sizeof (float) * in->width * in->height * in->channels);
  for (int y = 0; y < crop.height; y++)
    for (int x = 0; x < crop.width; x++)
      {
        float mv = CLAMP (cmask[(gsize) y * crop.width + x], 0.0f, 1.0f);
        float *d = out->data + ((gsize) (y0 + y) * in->width + x0 + x) * in->channels;
        const float *g = result + ((gsize) y * crop.width + x) * in->channels;
        int colour = in->channels >= 3 ? 3 : 1;

        if (mv <= 0.0f)
          continue;
        for (int c = 0; c < colour; c++)
          d[c] = mv >= 1.0f ? g[c] : d[c] + mv * (g[c] - d[c]);
        /* the fill is opaque */
        if (alpha)
          d[colour] = mv >= 1.0f ? 1.0f : d[colour] + mv * (1.0f - d[colour]);
      }
  ok = TRUE;

out:
  g_free (crop.data);
  g_free (cmask);
  g_free (result);
  return ok;
}
