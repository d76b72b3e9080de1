/* gen-inpaint-sd.c — inpaint with a Stable Diffusion pipeline, as diffusers'
 * StableDiffusionInpaintPipeline runs it (strength 1), on the crop the
 * inpaint job cut (gen-inpaint.c) resized to the model's native size:
 *
 *   image   the crop, resized (antialiased bilinear) to native, in [-1, 1]
 *   mask    1 where the selection is above 0, resized the same way, then
 *           binarised at 0.5 (the pipeline's mask processor)
 *   masked  image · (mask < 0.5); its latents a posterior draw × scaling
 *   latent mask  the mask at latent size, nearest (F.interpolate's default)
 *   x_T     randn · init_noise_sigma
 *
 * The generator's draws come in the pipeline's order: for a 4-channel UNet
 * the image's posterior draw, the noise, then the masked image's draw (made
 * and unused, as diffusers makes it); for a 9-channel inpainting UNet the
 * noise, then the masked image's draw.  Each step a 9-channel UNet sees
 * cat ([scaled x, mask, masked latents]) (both guidance halves the same); a
 * 4-channel one sees x alone and after each step the known region is the
 * image's latents noised to the next timestep with that same noise.  The
 * result is resized back to the crop; the caller composes it by the soft
 * mask, so pixels outside the selection are the input's own. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* The native size for a W×H crop: the longer side the model's native size,
 * the other in proportion, both multiples of the pipeline's size multiple. */
static void
native_size (GenPipeline *p, int w, int h, int *nw, int *nh)
{
  int mult = gen_pipeline_size_multiple (p), native = gen_pipeline_native_size (p);
  int longer = MAX (w, h), shorter = MIN (w, h), other;

  native = native > 0 ? MAX (mult, native / mult * mult) : 64 * mult;
  other = (int) floor ((double) native * shorter / longer / mult + 0.5) * mult;
  other = MAX (mult, other);
  *nw = w >= h ? native : other;
  *nh = w >= h ? other : native;
}

/* OUT (allocated, OUT's size and IN's channels) = IN resized. */
static gboolean
resize_pixels (const GenPixels *in, GenPixels *out, GError **error)
{
  int c = in->channels;
  gsize n_in = (gsize) in->width * in->height, n_out = (gsize) out->width * out->height;
  float *a = gen_job_alloc_floats (c * n_in, error), *b = NULL;  /* [1, c, h, w] each */
  GenTensor at, bt;
  gboolean ok = FALSE;

  if (!a || !(b = gen_job_alloc_floats (c * n_out, error)))
    goto out;
  for (gsize i = 0; i < n_in; i++)
    for (int k = 0; k < c; k++)
      a[k * n_in + i] = in->data[i * c + k];
  at = gen_tensor_view (a, 1, c, in->height, in->width);
  bt = gen_tensor_view (b, 1, c, out->height, out->width);
  if (!gen_resize_bilinear_aa (&at, &bt))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "inpaint: out of memory resizing");
      goto out;
    }
  for (gsize i = 0; i < n_out; i++)
    for (int k = 0; k < c; k++)
      out->data[i * c + k] = b[k * n_out + i];
  ok = TRUE;
out:
  g_free (a);
  g_free (b);
  return ok;
}

/* A W×H copy of IN (IN itself, not copied, when it has that size already:
 * then *OWNED is NULL). */
static gboolean
at_size (const GenPixels *in, int w, int h, GenPixels *out, float **owned, GError **error)
{
  *out = *in;
  *owned = NULL;
  if (in->width == w && in->height == h)
    return TRUE;
  out->width = w, out->height = h;
  if (!(out->data = *owned = gen_job_alloc_floats ((gsize) w * h * in->channels, error)))
    return FALSE;
  return resize_pixels (in, out, error);
}

gboolean
gen_job_inpaint_sd (GenPipeline *p, const GenJobOptions *o, const GenPixels *crop,
                    const float *cmask, GenPixels *res, GError **error)
{
  GenRun r;
  GenSpace s = { 0 };
  GenSampler *smp = NULL;
  GenRng *rng = NULL;
  GenModelInfo vi;
  GenPixels bin = { NULL, crop->width, crop->height, 1 }, img, mask, masked, gen;
  float *img_own = NULL, *mask_own = NULL, *gen_own = NULL, *masked_px = NULL;
  float *known = NULL, *noise = NULL, *x = NULL, *mo = NULL, *tmp = NULL, *lmask = NULL;
  float *masked_lat = NULL;
  gsize npx = (gsize) crop->width * crop->height;
  int nw, nh, f, colour = crop->channels >= 3 ? 3 : 1;
  gint64 n, hw;
  gboolean nine, ok = FALSE;

  gen_run_init (&r, p, o, 0);
  native_size (p, crop->width, crop->height, &nw, &nh);
  /* the hole: every pixel the selection touches (a soft mask weighs the
   * result only when it is composed) */
  if (!(bin.data = gen_job_alloc_floats (npx, error)))
    goto out;
  for (gsize i = 0; i < npx; i++)
    bin.data[i] = cmask[i] > 0.0f ? 1.0f : 0.0f;
  if (!at_size (crop, nw, nh, &img, &img_own, error)
      || !at_size (&bin, nw, nh, &mask, &mask_own, error))
    goto out;
  for (gsize i = 0; i < (gsize) nw * nh; i++)
    mask.data[i] = mask.data[i] >= 0.5f ? 1.0f : 0.0f;   /* mask_own, or bin's own buffer */
  /* the masked image: 0 in [-1, 1] (grey) under the mask */
  masked = img;
  if (!(masked.data = masked_px = gen_job_alloc_floats ((gsize) nw * nh * img.channels, error)))
    goto out;
  memcpy (masked_px, img.data, sizeof (float) * nw * nh * img.channels);
  for (gsize i = 0; i < (gsize) nw * nh; i++)
    for (int k = 0; mask.data[i] >= 0.5f && k < colour; k++)
      masked_px[i * img.channels + k] = 0.5f;

  if (!gen_run_encode_text (&r, error) || !gen_space_init (&s, &r, nh, nw, error))
    goto out;
  n = s.mc * s.mh * s.mw, hw = s.mh * s.mw;
  nine = s.uc == 2 * s.mc + 1;
  f = nw / (int) s.mw;
  gen_model_get_info (p->vae, &vi);
  if (!(smp = gen_job_new_sampler (&r, n, error)) || !(noise = gen_job_alloc_floats (n, error))
      || !(x = gen_job_alloc_floats (n, error)) || !(mo = gen_job_alloc_floats (n, error))
      || !(lmask = gen_job_alloc_floats (n, error)))
    goto out;
  r.total = gen_sampler_n_evals (smp);
  /* the latent mask [mc, mh, mw]: F.interpolate (nearest) to latent size
   * reads pixel (f·y, f·x) */
  for (gint64 y = 0; y < s.mh; y++)
    for (gint64 xx = 0; xx < s.mw; xx++)
      for (gint64 c = 0; c < s.mc; c++)
        lmask[(c * s.mh + y) * s.mw + xx] = mask.data[(gsize) y * f * nw + (gsize) xx * f];

  rng = gen_rng_new (o->seed);
  if (!nine && !(known = gen_job_encode_sample (&r, &s, &img, rng, error)))
    goto out;
  gen_rng_randn (rng, noise, n);
  {
    float sigma = gen_sampler_init_noise_sigma (smp);

    for (gint64 i = 0; i < n; i++)
      x[i] = noise[i] * sigma;
  }
  if (nine || vi.kind == GEN_MODEL_VAE_KL)
    {
      /* the masked image's latents: the UNet's last channels, or (a
       * 4-channel UNet) made and unused, as diffusers makes them */
      if (!(masked_lat = gen_job_encode_sample (&r, &s, &masked, rng, error)))
        goto out;
    }
  if (nine)
    {
      if (!(s.unet_in = gen_job_alloc_floats ((gsize) s.uc * hw, error)))
        goto out;
      memcpy (s.unet_in + n, lmask, sizeof (float) * hw);
      memcpy (s.unet_in + n + hw, masked_lat, sizeof (float) * n);
      ok = gen_job_sample_loop (&r, &s, smp, 0, x, mo, rng, NULL, NULL, error);
    }
  else
    {
      GenLatentBlend blend = { smp, known, noise, lmask, NULL, n };

      if (!(tmp = blend.tmp = gen_job_alloc_floats (n, error)))
        goto out;
      ok = gen_job_sample_loop (&r, &s, smp, 0, x, mo, rng, gen_job_latent_blend, &blend, error);
    }
  if (!ok)
    goto out;
  ok = FALSE;

  /* decode at the native size, then back to the crop's */
  gen = img;
  if (nw == crop->width && nh == crop->height)
    gen.data = res->data;
  else if (!(gen.data = gen_own = gen_job_alloc_floats ((gsize) nw * nh * img.channels, error)))
    goto out;
  if (!gen_job_from_model_space (&r, &s, x, &img, &gen, error)
      || (gen_own && !resize_pixels (&gen, res, error)))
    goto out;
  ok = TRUE;

out:
  if (smp)
    gen_sampler_free (smp);
  if (rng)
    gen_rng_free (rng);
  g_free (bin.data);
  g_free (img_own);
  g_free (mask_own);
  g_free (gen_own);
  g_free (masked_px);
  g_free (known);
  g_free (noise);
  g_free (x);
  g_free (mo);
  g_free (tmp);
  g_free (lmask);
  g_free (masked_lat);
  gen_space_clear (&s);
  gen_run_clear (&r);
  return ok;
}
