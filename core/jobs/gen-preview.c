/* gen-preview.c — a cheap RGB picture of the sampler's current x0 estimate
 * for the options' preview callback (front ends show it while a job runs).
 *
 * The estimate is read on a grid every K-th model-space position (K so
 * that the picture's longer side is at most GEN_PREVIEW_MAX_SIDE), so
 * neither a full-size x0 buffer nor a full decode is ever made:
 *   pixel models   x0 itself, [-1, 1] → 0..1
 *   latent models  the pipeline's VAE decodes the subsampled latents when it
 *                  is an AutoencoderTiny (TAESD: SDXS ships one, --vae
 *                  gives one); else, for the 4-channel latents of SD 1.x /
 *                  2.x's VAE, a fixed linear latent → RGB map.
 * Other latent spaces get no preview (the callback is not called). */
#include "gen-job-private.h"

#include <math.h>

/* The linear approximation of SD 1.x / 2.x's VAE decoder on UNet-space
 * latents (scaled by 0.18215), RGB in [-1, 1]: the least-squares fit Keturn
 * published in 2022 ("latent_rgb_factors"), which most front ends use for
 * their live previews.  [latent channel][R, G, B]. */
static const float sd_latent_rgb[4][3] = {
  {  0.3512f,  0.2297f,  0.3227f },
  {  0.3250f,  0.4974f,  0.2350f },
  { -0.2829f,  0.1762f,  0.2721f },
  { -0.2120f, -0.2616f, -0.7177f },
};

static float
unit (float v)
{
  v = 0.5f * v + 0.5f;
  return isfinite (v) ? CLAMP (v, 0.0f, 1.0f) : 0.5f;
}

/* The pipeline's VAE when it is an AutoencoderTiny (TAESD), or NULL. */
static GenModel *
tiny_vae (GenRun *r)
{
  GenModelInfo i;

  if (!r->p->vae)
    return NULL;
  gen_model_get_info (r->p->vae, &i);
  return i.kind == GEN_MODEL_VAE_TINY ? r->p->vae : NULL;
}

/* SUB [mc][ph][pw] (the x0 estimate on the grid) into RGB PX. */
static gboolean
to_rgb (GenRun *r, GenModel *tiny, float *sub, int mc, int ph, int pw, GenPixels *px)
{
  GenModelInfo vi;

  if (tiny)
    {
      GenTensor z = gen_tensor_view (sub, 1, mc, ph, pw), out;
      GenArena *a = gen_arena_new (0);
      float *rgb;
      gboolean ok;

      gen_model_get_info (tiny, &vi);
      if (vi.latent_channels != mc)
        {
          gen_arena_free (a);
          return FALSE;
        }
      for (gint64 j = 0; j < (gint64) mc * ph * pw; j++)
        sub[j] = sub[j] / vi.scaling_factor + vi.shift_factor;
      rgb = g_try_new (float, (gsize) 3 * ph * vi.downscale * pw * vi.downscale);
      out = gen_tensor_view (rgb, 1, 3, (int64_t) ph * vi.downscale, (int64_t) pw * vi.downscale);
      ok = rgb && gen_pixels_init (px, pw * vi.downscale, ph * vi.downscale, 3, NULL)
           && gen_vae_decode (tiny, &z, &out, a, NULL, NULL, NULL);
      for (gint64 j = 0; ok && j < (gint64) px->width * px->height; j++)
        for (int c = 0; c < 3; c++)
          px->data[j * 3 + c] = unit (rgb[c * (gint64) px->width * px->height + j]);
      gen_arena_free (a);
      g_free (rgb);
      if (!ok)
        gen_pixels_clear (px);
      return ok;
    }
  if (!gen_pixels_init (px, pw, ph, 3, NULL))
    return FALSE;
  for (gint64 j = 0; j < (gint64) ph * pw; j++)
    for (int c = 0; c < 3; c++)
      {
        float v = 0.0f;

        if (!r->p->latent)
          v = sub[(mc == 3 ? c : 0) * (gint64) ph * pw + j];
        else
          for (int l = 0; l < 4; l++)
            v += sd_latent_rgb[l][c] * sub[l * (gint64) ph * pw + j];
        px->data[j * 3 + c] = unit (v);
      }
  return TRUE;
}

/* The estimate on the grid: X0 when given, else predicted by SMP at eval I
 * from X and MO. */
static void
preview (GenRun *r, GenSpace *s, GenSampler *smp, int i, const float *x, const float *mo,
         const float *x0)
{
  const GenJobOptions *o = r->o;
  GenModel *tiny = r->p->latent ? tiny_vae (r) : NULL;
  int f = gen_pipeline_vae_factor (r->p), mc = (int) s->mc;
  int64_t rh = (s->ih + f - 1) / f, rw = (s->iw + f - 1) / f;
  int limit = tiny ? GEN_PREVIEW_MAX_SIDE / 8 : GEN_PREVIEW_MAX_SIDE, k, ph, pw;
  GenPixels px = { 0 };
  float *sub, *row;

  if (!o->preview)
    return;
  if (r->p->latent && !tiny)
    {
      GenModelInfo vi;

      gen_model_get_info (r->p->vae, &vi);
      if (mc != 4 || vi.kind != GEN_MODEL_VAE_KL)
        return;
    }
  else if (!r->p->latent && mc != 1 && mc != 3)
    return;
  k = (int) ((MAX (rh, rw) + limit - 1) / limit);
  ph = (int) ((rh + k - 1) / k), pw = (int) ((rw + k - 1) / k);
  sub = g_try_new (float, (gsize) mc * ph * pw);
  row = g_try_new (float, (gsize) s->mw);
  if (sub && row)
    {
      for (int c = 0; c < mc; c++)
        for (int y = 0; y < ph; y++)
          {
            gint64 at = ((gint64) c * s->mh + (gint64) y * k) * s->mw;
            const float *from = x0 ? x0 + at : row;

            if (!x0)
              gen_sampler_predict_x0 (smp, i, x + at, mo + at, row, s->mw);
            for (int xx = 0; xx < pw; xx++)
              sub[((gint64) c * ph + y) * pw + xx] = from[(gint64) xx * k];
          }
      if (to_rgb (r, tiny, sub, mc, ph, pw, &px))
        o->preview (&px, r->done + 1, r->total, o->preview_data);
    }
  gen_pixels_clear (&px);
  g_free (sub);
  g_free (row);
}

void
gen_job_preview (GenRun *r, GenSpace *s, GenSampler *smp, int i, const float *x,
                 const float *mo)
{
  preview (r, s, smp, i, x, mo, NULL);
}

void
gen_job_preview_x0 (GenRun *r, GenSpace *s, const float *x0)
{
  preview (r, s, NULL, 0, NULL, NULL, x0);
}
