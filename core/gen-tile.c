/* gen-tile.c — overlapping tiles with feathered blending (see gen-tile.h). */
#include "gen-tile.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

struct _GenTiler
{
  int64_t   h, w, cin, cout;
  int       num, den;
  int64_t   th, tw;         /* tile size (input units) */
  int       ny, nx;
  int64_t  *ys, *xs;        /* tile origins (input units) */
  float    *wy, *wx;        /* per-tile 1-D weights, output units: [ny][th·num/den], [nx][…] */
  float    *wsum;           /* [oh][ow] sum of weights */
  GenTensor tin, tout;      /* one tile */
};

/* Tile origins along an axis of LENGTH: stride TILE − OVERLAP, the last
 * tile flush with the end (all tiles the same size).  Returns the count. */
static int
axis_tiles (int64_t length, int64_t tile, int64_t overlap, int64_t **pos)
{
  int64_t stride = MAX (1, tile - overlap);
  int n = tile >= length ? 1 : (int) ((length - overlap + stride - 1) / stride);

  *pos = g_new (int64_t, n);
  for (int i = 0; i < n; i++)
    (*pos)[i] = MIN ((int64_t) i * stride, length - tile);
  return n;
}

/* Weights of each tile along an axis (output units).  Over a part shared
 * with a neighbour the weight rises from the tile's edge: (almost) zero on
 * the outer quarter, where the convolutions' zero padding corrupts the
 * output most, then a raised cosine to 1; 1 elsewhere; never 0. */
static float
ramp (int64_t d, int64_t len)
{
  int64_t skip = len / 4;
  double u;

  if (d < skip)
    return 1e-6f;
  u = (double) (d - skip + 1) / (double) (len - skip + 1);
  return (float) MAX (1e-6, 0.5 - 0.5 * cos (G_PI * MIN (u, 1.0)));
}

static float *
axis_weights (int n, const int64_t *pos, int64_t tile, int num, int den)
{
  int64_t ot = tile * num / den;
  float *wts = g_new (float, (gsize) n * ot);

  for (int i = 0; i < n; i++)
    {
      int64_t o0 = pos[i] * num / den;
      int64_t left = i > 0 ? (pos[i - 1] + tile) * num / den - o0 : 0;       /* overlap with previous */
      int64_t right = i + 1 < n ? o0 + ot - pos[i + 1] * num / den : 0;      /* overlap with next */

      for (int64_t x = 0; x < ot; x++)
        {
          float v = 1.0f;

          if (left > 0 && x < left)
            v = MIN (v, ramp (x, left));
          if (right > 0 && x >= ot - right)
            v = MIN (v, ramp (ot - 1 - x, right));
          wts[(gsize) i * ot + x] = v;
        }
    }
  return wts;
}

GenTiler *
gen_tiler_new (int64_t h, int64_t w, int64_t cin, int64_t cout, int num, int den, int multiple,
               int tile, int overlap, GError **error)
{
  GenTiler *t;
  int64_t m = MAX (1, multiple), oh = h * num / den, ow = w * num / den;
  int64_t tt, ov;
  gsize n_in, n_out, n_sum;

  if (h < 1 || w < 1 || h % m || w % m || (h * num) % den || (w * num) % den)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "internal: canvas %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                   " is not a multiple of %" G_GINT64_FORMAT, w, h, m);
      return NULL;
    }
  tt = MAX (m, (tile / m) * m);
  ov = MIN (tt / 2, ((overlap + m - 1) / m) * m);
  t = g_new0 (GenTiler, 1);
  t->h = h, t->w = w, t->cin = cin, t->cout = cout, t->num = num, t->den = den;
  t->th = MIN (tt, h);
  t->tw = MIN (tt, w);
  t->ny = axis_tiles (h, t->th, ov, &t->ys);
  t->nx = axis_tiles (w, t->tw, ov, &t->xs);
  t->wy = axis_weights (t->ny, t->ys, t->th, num, den);
  t->wx = axis_weights (t->nx, t->xs, t->tw, num, den);

  if (!g_size_checked_mul (&n_in, (gsize) cin * t->th, (gsize) t->tw)
      || !g_size_checked_mul (&n_out, (gsize) cout * (t->th * num / den), (gsize) (t->tw * num / den))
      || !g_size_checked_mul (&n_sum, (gsize) oh, (gsize) ow)
      || !(t->tin.data = g_try_new (float, n_in)) || !(t->tout.data = g_try_new (float, n_out))
      || !(t->wsum = g_try_new0 (float, n_sum)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "out of memory for tiles of a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " image",
                   w, h);
      gen_tiler_free (t);
      return NULL;
    }
  t->tin = gen_tensor_view (t->tin.data, 1, cin, t->th, t->tw);
  t->tout = gen_tensor_view (t->tout.data, 1, cout, t->th * num / den, t->tw * num / den);

  {
    int64_t oth = t->th * num / den, otw = t->tw * num / den;

    for (int iy = 0; iy < t->ny; iy++)
      for (int ix = 0; ix < t->nx; ix++)
        for (int64_t y = 0; y < oth; y++)
          for (int64_t x = 0; x < otw; x++)
            t->wsum[(t->ys[iy] * num / den + y) * ow + t->xs[ix] * num / den + x]
              += t->wy[iy * oth + y] * t->wx[ix * otw + x];
  }
  return t;
}

void
gen_tiler_free (GenTiler *t)
{
  if (!t)
    return;
  g_free (t->ys);
  g_free (t->xs);
  g_free (t->wy);
  g_free (t->wx);
  g_free (t->wsum);
  g_free (t->tin.data);
  g_free (t->tout.data);
  g_free (t);
}

int
gen_tiler_n_tiles (const GenTiler *t)
{
  return t->ny * t->nx;
}

gboolean
gen_tiler_run (GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
               GenTileFunc func, gpointer data, const gint *cancel, GError **error)
{
  int64_t oh = t->h * t->num / t->den, ow = t->w * t->num / t->den;
  int64_t oth = t->tout.ne[2], otw = t->tout.ne[3];

  g_return_val_if_fail (in->ne[1] == t->cin && in->ne[2] == t->h && in->ne[3] == t->w, FALSE);
  g_return_val_if_fail (out->ne[1] == t->cout && out->ne[2] == oh && out->ne[3] == ow, FALSE);

  if (t->ny * t->nx == 1 && in_scale == 1.0f)
    {
      if (cancel && g_atomic_int_get (cancel))
        goto cancelled;
      return func (data, in, out, error);
    }

  memset (out->data, 0, sizeof (float) * t->cout * oh * ow);
  for (int iy = 0; iy < t->ny; iy++)
    for (int ix = 0; ix < t->nx; ix++)
      {
        int64_t y0 = t->ys[iy], x0 = t->xs[ix];
        int64_t oy0 = y0 * t->num / t->den, ox0 = x0 * t->num / t->den;

        if (cancel && g_atomic_int_get (cancel))
          goto cancelled;
        for (int64_t c = 0; c < t->cin; c++)
          for (int64_t y = 0; y < t->th; y++)
            {
              const float *src = in->data + (c * t->h + y0 + y) * t->w + x0;
              float *dst = t->tin.data + (c * t->th + y) * t->tw;

              for (int64_t x = 0; x < t->tw; x++)
                dst[x] = src[x] * in_scale;
            }
        if (!func (data, &t->tin, &t->tout, error))
          return FALSE;
        for (int64_t c = 0; c < t->cout; c++)
          for (int64_t y = 0; y < oth; y++)
            {
              const float *src = t->tout.data + (c * oth + y) * otw;
              float *dst = out->data + (c * oh + oy0 + y) * ow + ox0;
              float wy = t->wy[iy * oth + y];
              const float *wx = t->wx + ix * otw;

              for (int64_t x = 0; x < otw; x++)
                dst[x] += src[x] * wy * wx[x];
            }
      }
  for (int64_t c = 0; c < t->cout; c++)
    for (int64_t i = 0; i < oh * ow; i++)
      out->data[c * oh * ow + i] /= t->wsum[i];
  return TRUE;

cancelled:
  g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
  return FALSE;
}
