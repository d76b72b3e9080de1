/* gen-denoise-fast.c — fast denoise, streamed tile by tile: the x0
 * prediction of a noisy image at its noise level (the MMSE estimate), or
 * the mean of the predictions of each tile's eight flips and turns. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* One x0 prediction per tile, read straight from the pixels and blended
 * straight into the result: the job's memory is the result image and the
 * tiles', nothing else of the image's size. */
typedef struct
{
  GenRun          *r;
  const GenPixels *in;
  int              mc;          /* model channels (1 or 3) */
  float            scale;       /* sqrt (ᾱ) */
  double           abar, t;
  float           *res;         /* [h][w][in->channels] accumulator */
  int              oy, ox;      /* the image's place on the tiles' canvas */
  const int       *ks;          /* ensemble: the flips and turns averaged */
  int              nk;
  float           *scratch[GEN_MAX_THREADS]; /* ensemble: each worker's three tile
                                                      buffers, made on its first tile */
} FastDenoise;

static void
fast_fill (gpointer data, int64_t y0, int64_t x0, GenTensor *tile)
{
  FastDenoise *f = data;
  const GenPixels *in = f->in;
  int64_t th = tile->ne[2], tw = tile->ne[3];
  int colour = in->channels >= 3 ? 3 : 1;

  for (int64_t y = 0; y < th; y++)
    {
      const float *row = in->data
                         + gen_pixels_reflect (y0 + y - f->oy, in->height) * in->width
                               * in->channels;

      for (int64_t x = 0; x < tw; x++)
        {
          const float *s = row + gen_pixels_reflect (x0 + x - f->ox, in->width) * in->channels;

          for (int c = 0; c < f->mc; c++)
            {
              float v = f->mc == 1 ? (colour == 3 ? (s[0] + s[1] + s[2]) / 3.0f : s[0])
                                   : s[colour == 3 ? c : 0];
              tile->data[(c * th + y) * tw + x] = (2.0f * v - 1.0f) * f->scale;
            }
        }
    }
}

static gboolean
fast_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  FastDenoise *f = data;
  float ts = (float) f->t;

  if (!gen_unet_forward (f->r->p->unet, in, &ts, out, f->r->arenas[worker], NULL, NULL, error)
      || !gen_run_check_finite (f->r, f->r->p->unet, "UNet", out, error))
    return FALSE;
  gen_job_split_output (f->r->p->sched, f->abar, in->data, out->data, out->data, NULL,
                        gen_tensor_numel (out));
  return TRUE;
}

/* The x0 prediction of the tile IN into OUT, as the mean of its flips and
 * turns F->ks, each clamped to [-1, 1] as a single pass's result is. */
static gboolean
fast_tile_ensemble (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                    GError **error)
{
  FastDenoise *f = data;
  int64_t c = in->ne[1], h = in->ne[2], w = in->ne[3], n = gen_tensor_numel (in);
  float ts = (float) f->t;
  float *tin, *tout, *acc;  /* [c][h'][w'] transformed tile and its output, [c][h][w] sum */

  if (!f->scratch[worker] && !(f->scratch[worker] = gen_job_alloc_floats (3 * (gsize) n, error)))
    return FALSE;
  tin = f->scratch[worker], tout = tin + n, acc = tout + n;
  memset (acc, 0, sizeof (float) * n);
  for (int e = 0; e < f->nk; e++)
    {
      int k = f->ks[e];
      gboolean swap = gen_dihedral_swaps (k);
      GenTensor ti = gen_tensor_view (tin, 1, c, swap ? w : h, swap ? h : w);
      GenTensor to = gen_tensor_view (tout, 1, c, swap ? w : h, swap ? h : w);

      gen_dihedral_apply (k, in->data, c, h, w, tin);
      if (!gen_unet_forward (f->r->p->unet, &ti, &ts, &to, f->r->arenas[worker], NULL, NULL,
                             error)
          || !gen_run_check_finite (f->r, f->r->p->unet, "UNet", &to, error))
        return FALSE;
      gen_job_split_output (f->r->p->sched, f->abar, tin, tout, tout, NULL, n);
      for (int64_t i = 0; i < n; i++)
        tout[i] = CLAMP (tout[i], -1.0f, 1.0f);
      gen_dihedral_undo_add (k, tout, c, h, w, acc);
    }
  for (int64_t i = 0; i < n; i++)
    out->data[i] = acc[i] / f->nk;
  return TRUE;
}

static void
fast_accum (gpointer data, int64_t oy0, int64_t ox0, const GenTensor *tile, const float *wy,
            const float *wx)
{
  FastDenoise *f = data;
  const GenPixels *in = f->in;
  int64_t th = tile->ne[2], tw = tile->ne[3];
  int colour = in->channels >= 3 ? 3 : 1;

  for (int64_t y = MAX (0, f->oy - oy0); y < th && oy0 + y - f->oy < in->height; y++)
    for (int64_t x = MAX (0, f->ox - ox0); x < tw && ox0 + x - f->ox < in->width; x++)
      {
        float *d = f->res + ((oy0 + y - f->oy) * in->width + ox0 + x - f->ox) * in->channels;
        float w = wy[y] * wx[x], v[3];

        for (int c = 0; c < 3; c++)
          v[c] = tile->data[((f->mc == 1 ? 0 : c) * th + y) * tw + x] * 0.5f + 0.5f;
        if (colour == 1)
          d[0] += w * ((v[0] + v[1] + v[2]) / 3.0f);
        else
          for (int c = 0; c < 3; c++)
            d[c] += w * v[c];
      }
}

gboolean
gen_job_denoise_fast (GenRun *r, GenSpace *s, const GenPixels *in, double abar, double t,
                      gboolean ensemble, int oy, int ox, gboolean mosaic, float *res,
                      GError **error)
{
  FastDenoise f = { r, in, (int) s->mc, (float) sqrt (abar), abar, t, res, oy, ox, NULL, 0,
                    { NULL } };
  const float *sy = gen_tiler_wsum_y (s->unet_tiler), *sx = gen_tiler_wsum_x (s->unet_tiler);
  int colour = in->channels >= 3 ? 3 : 1;
  gsize n = (gsize) in->width * in->height * in->channels;
  gboolean ok;

  f.nk = gen_dihedral_ensemble (mosaic, &f.ks);
  memset (res, 0, sizeof (float) * n);
  gen_run_ready_arenas (r, s->unet_tiler);
  ok = gen_tiler_run_with (s->unet_tiler, fast_fill, &f, ensemble ? fast_tile_ensemble : fast_tile,
                           &f, fast_accum, &f, r->o->cancel, error);
  for (int i = 0; i < GEN_MAX_THREADS; i++)
    g_free (f.scratch[i]);
  if (!ok)
    return FALSE;
  for (int64_t y = 0; y < in->height; y++)
    for (int64_t x = 0; x < in->width; x++)
      {
        gsize k = ((gsize) y * in->width + x) * in->channels;

        for (int c = 0; c < colour; c++)
          res[k + c] = CLAMP (res[k + c] / (sy[y + oy] * sx[x + ox]), 0.0f, 1.0f);
        if (in->channels == 2 || in->channels == 4)
          res[k + colour] = in->data[k + colour];
      }
  return TRUE;
}
