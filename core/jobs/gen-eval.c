/* gen-eval.c — model evaluations through the tiler: the model space, UNet
 * evaluations, VAE passes, and images into and out of the model space. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

typedef struct
{
  GenRun *r;
  float   timestep;
} UNetCall;

gboolean
gen_job_run_tiles (GenRun *r, GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
                   GenTileFunc func, gpointer data, GError **error)
{
  gen_run_ready_arenas (r, t);
  return gen_tiler_run (t, in, in_scale, out, func, data, r->o->cancel, error);
}

static gboolean
unet_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  UNetCall *c = data;
  if (c->r->p->text)
    return gen_job_unet_cond_tile (c->r, worker, c->timestep, in, out, error);
  return gen_unet_forward (c->r->p->unet, in, &c->timestep, out, c->r->arenas[worker], NULL,
                           NULL, error)
         && gen_run_check_finite (c->r, c->r->p->unet, "UNet", out, error);
}

gboolean
gen_job_encode_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                     GError **error)
{
  GenRun *r = data;
  return gen_vae_encode (r->p->vae, in, out, NULL, r->arenas[worker], NULL, NULL, error)
         && gen_run_check_finite (r, r->p->vae, "VAE encoder", out, error);
}

static gboolean
decode_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  GenRun *r = data;
  return gen_vae_decode (r->p->vae, in, out, r->arenas[worker], NULL, NULL, error)
         && gen_run_check_finite (r, r->p->vae, "VAE decoder", out, error);
}

gboolean
gen_space_init (GenSpace *s, GenRun *r, int64_t h, int64_t w, GError **error)
{
  int mult = gen_pipeline_size_multiple (r->p);

  memset (s, 0, sizeof *s);
  return gen_run_plan (r, h, w, (h + mult - 1) / mult * mult, (w + mult - 1) / mult * mult, error)
         && gen_space_tiler (s, r, h, w, error);
}

gboolean
gen_space_tiler (GenSpace *s, GenRun *r, int64_t h, int64_t w, GError **error)
{
  GenPipeline *p = r->p;
  int mult = gen_pipeline_size_multiple (p), f = gen_pipeline_vae_factor (p);
  int tile = gen_run_tile (r);
  int overlap = r->o->tile_overlap > 0 ? r->o->tile_overlap : tile / 4;
  int um = gen_pipeline_unet_multiple (p);
  GenModelInfo ui;

  memset (s, 0, sizeof *s);
  s->ih = h, s->iw = w;
  s->ph = (h + mult - 1) / mult * mult;
  s->pw = (w + mult - 1) / mult * mult;
  s->mh = s->ph / f, s->mw = s->pw / f;
  if (!p->unet)
    return TRUE;
  gen_model_get_info (p->unet, &ui);
  s->mc = ui.out_channels;
  s->uc = ui.in_channels;
  s->unet_tiler = gen_tiler_new (s->mh, s->mw, s->uc, s->mc, 1, 1, um, MAX (tile / f, um),
                                 overlap / f, r->workers, error);
  return s->unet_tiler != NULL;
}

void
gen_space_clear (GenSpace *s)
{
  g_clear_pointer (&s->unet_tiler, gen_tiler_free);
  g_clear_pointer (&s->unet_in, g_free);
}

gboolean
gen_job_unet_eval (GenRun *r, GenSpace *s, const float *x, float in_scale, double t, float *out,
                   GError **error)
{
  UNetCall call = { r, (float) t };
  GenTensor xt = gen_tensor_view ((float *) x, 1, s->mc, s->mh, s->mw);
  GenTensor ot = gen_tensor_view (out, 1, s->mc, s->mh, s->mw);
  gint64 n = s->mc * s->mh * s->mw;

  if (s->uc != s->mc)
    {
      /* an inpainting UNet: the scaled state, then the channels the job
       * put behind it (diffusers scales the latents alone) */
      if (!s->unet_in)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                       "this UNet takes %" G_GINT64_FORMAT " channels (an inpainting model): "
                       "it only inpaints", s->uc);
          return FALSE;
        }
      for (gint64 i = 0; i < n; i++)
        s->unet_in[i] = x[i] * in_scale;
      xt = gen_tensor_view (s->unet_in, 1, s->uc, s->mh, s->mw);
      in_scale = 1.0f;
    }
  return gen_job_run_tiles (r, s->unet_tiler, &xt, in_scale, &ot, unet_tile, &call, error);
}

GenTiler *
gen_job_vae_tiler (GenRun *r, int64_t h, int64_t w, gboolean encode, GError **error)
{
  GenModelInfo vi;
  int tile = gen_run_tile (r);
  int f;

  gen_model_get_info (r->p->vae, &vi);
  f = vi.downscale;
  if (encode)
    return gen_tiler_new (h, w, vi.in_channels, vi.latent_channels, 1, f, f, tile, tile / 4,
                          r->workers, error);
  return gen_tiler_new (h, w, vi.latent_channels, vi.out_channels, f, 1, 1, MAX (1, tile / f),
                        MAX (1, tile / f / 4), r->workers, error);
}

gboolean
gen_job_vae_pass (GenRun *r, gboolean encode, const float *in, int64_t h, int64_t w, float *out,
                  GError **error)
{
  GenModelInfo vi;
  GenTiler *t = gen_job_vae_tiler (r, h, w, encode, error);
  GenTensor it, ot;
  gboolean ok;

  if (!t)
    return FALSE;
  gen_model_get_info (r->p->vae, &vi);
  if (encode)
    {
      it = gen_tensor_view ((float *) in, 1, vi.in_channels, h, w);
      ot = gen_tensor_view (out, 1, vi.latent_channels, h / vi.downscale, w / vi.downscale);
    }
  else
    {
      it = gen_tensor_view ((float *) in, 1, vi.latent_channels, h, w);
      ot = gen_tensor_view (out, 1, vi.out_channels, h * vi.downscale, w * vi.downscale);
    }
  ok = gen_job_run_tiles (r, t, &it, 1.0f, &ot, encode ? gen_job_encode_tile : decode_tile, r,
                          error);
  gen_tiler_free (t);
  return ok;
}

float *
gen_job_to_model_space (GenRun *r, GenSpace *s, const GenPixels *in, GError **error)
{
  GenModelInfo vi;
  float *img, *z;
  gsize n;

  if (!r->p->latent)
    return gen_pixels_to_tensor (in, (int) s->mc, s->ph, s->pw, error);
  gen_model_get_info (r->p->vae, &vi);
  if (!(img = gen_pixels_to_tensor (in, vi.in_channels, s->ph, s->pw, error)))
    return NULL;
  n = (gsize) vi.latent_channels * s->mh * s->mw;
  if (!(z = gen_job_alloc_floats (n, error))
      || !gen_job_vae_pass (r, TRUE, img, s->ph, s->pw, z, error))
    {
      g_free (img);
      g_free (z);
      return NULL;
    }
  g_free (img);
  for (gsize i = 0; i < n; i++)
    z[i] = (z[i] - vi.shift_factor) * vi.scaling_factor;
  return z;
}

gboolean
gen_job_from_model_space (GenRun *r, GenSpace *s, const float *x0, const GenPixels *alpha_src,
                          GenPixels *out, GError **error)
{
  GenModelInfo vi;
  float *z, *img;
  gsize n;

  if (!r->p->latent)
    {
      gen_pixels_from_tensor (x0, (int) s->mc, s->ph, s->pw, alpha_src, out);
      return TRUE;
    }
  gen_model_get_info (r->p->vae, &vi);
  n = (gsize) vi.latent_channels * s->mh * s->mw;
  if (!(z = gen_job_alloc_floats (n, error)))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    z[i] = x0[i] / vi.scaling_factor + vi.shift_factor;
  img = gen_job_alloc_floats ((gsize) vi.out_channels * s->ph * s->pw, error);
  if (!img || !gen_job_vae_pass (r, FALSE, z, s->mh, s->mw, img, error))
    {
      g_free (z);
      g_free (img);
      return FALSE;
    }
  gen_pixels_from_tensor (img, vi.out_channels, s->ph, s->pw, alpha_src, out);
  g_free (z);
  g_free (img);
  return TRUE;
}

float *
gen_job_encode_sample (GenRun *r, GenSpace *s, const GenPixels *in, GenRng *rng, GError **error)
{
  GenModelInfo vi;
  GenTensor it, mt, lt;
  GenArena *arena;
  float *img, *mean = NULL, *logvar = NULL, *eps = NULL;
  gsize n;
  gboolean ok;

  gen_model_get_info (r->p->vae, &vi);
  if (vi.kind != GEN_MODEL_VAE_KL)
    return gen_job_to_model_space (r, s, in, error);
  n = (gsize) vi.latent_channels * s->mh * s->mw;
  if (!(img = gen_pixels_to_tensor (in, vi.in_channels, s->ph, s->pw, error))
      || !(mean = gen_job_alloc_floats (n, error)) || !(logvar = gen_job_alloc_floats (n, error))
      || !(eps = gen_job_alloc_floats (n, error)))
    {
      ok = FALSE;
      goto out;
    }
  it = gen_tensor_view (img, 1, vi.in_channels, s->ph, s->pw);          /* [1, 3, PH, PW] */
  mt = gen_tensor_view (mean, 1, vi.latent_channels, s->mh, s->mw);    /* [1, L, MH, MW] */
  lt = gen_tensor_view (logvar, 1, vi.latent_channels, s->mh, s->mw);
  arena = gen_arena_new (0);
  ok = gen_vae_encode (r->p->vae, &it, &mt, &lt, arena, NULL, NULL, error);
  gen_arena_free (arena);
  if (ok)
    {
      gen_rng_randn (rng, eps, n);
      for (gsize i = 0; i < n; i++)
        {
          float lv = CLAMP (logvar[i], -30.0f, 20.0f);
          float z = mean[i] + expf (0.5f * lv) * eps[i];
          mean[i] = (z - vi.shift_factor) * vi.scaling_factor;
        }
    }
out:
  g_free (img);
  g_free (logvar);
  g_free (eps);
  if (!ok)
    g_clear_pointer (&mean, g_free);
  return mean;
}
