/* gen-tile.c — overlapping tiles with feathered blending (see gen-tile.h). */
#include "gen-tile.h"
#include "gen-error.h"
#include "gen-ops.h"

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
  float    *sy, *sx;        /* their sums along each output axis: [oh], [ow] */
  int       workers;        /* tiles that run side by side */
  int       n_bufs;         /* workers with tile buffers */
  GenTensor tin[GEN_MAX_THREADS], tout[GEN_MAX_THREADS];
};

/* The tile size along an axis of LENGTH: the fewest tiles of at most 9/8
 * TILE (multiples of M) that cover it with OVERLAP, split evenly.  A
 * 1024-pixel axis with 512-pixel tiles overlapping by 128 takes two tiles
 * of 576 instead of three of 512: 4 tiles instead of 9 on a 1024×1024
 * image, 1.27× its pixels instead of 2.25×. */
static int64_t
fit_tile (int64_t length, int64_t tile, int64_t overlap, int64_t m)
{
  int64_t stride, n;

  if (tile >= length)
    return length;
  stride = MAX (1, tile - overlap);
  n = (length - overlap + stride - 1) / stride;
  for (int64_t k = MAX (1, n - 1); k <= n; k++)
    {
      int64_t t = (length + (k - 1) * overlap + k - 1) / k;

      t = (t + m - 1) / m * m;
      if (t <= tile + tile / 8 || k == n)
        return MIN (t, length);
    }
  return tile;
}

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
               int tile, int overlap, int workers, GError **error)
{
  GenTiler *t;
  int64_t m = MAX (1, multiple), oh = h * num / den, ow = w * num / den;
  int64_t tt, ov, oth, otw;

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
  t->workers = CLAMP (workers, 1, GEN_MAX_THREADS);
  t->th = fit_tile (h, tt, ov, m);
  t->tw = fit_tile (w, tt, ov, m);
  t->ny = axis_tiles (h, t->th, ov, &t->ys);
  t->nx = axis_tiles (w, t->tw, ov, &t->xs);
  t->wy = axis_weights (t->ny, t->ys, t->th, num, den);
  t->wx = axis_weights (t->nx, t->xs, t->tw, num, den);
  oth = t->th * num / den, otw = t->tw * num / den;
  t->sy = g_new0 (float, oh);
  t->sx = g_new0 (float, ow);
  for (int iy = 0; iy < t->ny; iy++)
    for (int64_t y = 0; y < oth; y++)
      t->sy[t->ys[iy] * num / den + y] += t->wy[iy * oth + y];
  for (int ix = 0; ix < t->nx; ix++)
    for (int64_t x = 0; x < otw; x++)
      t->sx[t->xs[ix] * num / den + x] += t->wx[ix * otw + x];
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
  g_free (t->sy);
  g_free (t->sx);
  for (int i = 0; i < t->n_bufs; i++)
    {
      g_free (t->tin[i].data);
      g_free (t->tout[i].data);
    }
  g_free (t);
}

int
gen_tiler_n_tiles (const GenTiler *t)
{
  return t->ny * t->nx;
}

void
gen_tiler_tile_size (const GenTiler *t, int64_t *th, int64_t *tw, int64_t *oth, int64_t *otw)
{
  *th = t->th, *tw = t->tw;
  *oth = t->th * t->num / t->den, *otw = t->tw * t->num / t->den;
}

int
gen_tiler_workers (const GenTiler *t)
{
  return MAX (1, MIN (t->workers, t->ny * t->nx));
}

const float *
gen_tiler_wsum_y (const GenTiler *t)
{
  return t->sy;
}

const float *
gen_tiler_wsum_x (const GenTiler *t)
{
  return t->sx;
}

/* Tile buffers for N workers (kept for later runs). */
static gboolean
ensure_buffers (GenTiler *t, int n, GError **error)
{
  int64_t oth = t->th * t->num / t->den, otw = t->tw * t->num / t->den;

  for (; t->n_bufs < n; t->n_bufs++)
    {
      int i = t->n_bufs;
      float *a = g_try_new (float, (gsize) t->cin * t->th * t->tw);
      float *b = g_try_new (float, (gsize) t->cout * oth * otw);

      if (!a || !b)
        {
          g_free (a);
          g_free (b);
          g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                       "out of memory for %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " tiles",
                       t->tw, t->th);
          return FALSE;
        }
      t->tin[i] = gen_tensor_view (a, 1, t->cin, t->th, t->tw);
      t->tout[i] = gen_tensor_view (b, 1, t->cout, oth, otw);
    }
  return TRUE;
}

typedef struct
{
  GenTiler     *t;
  GenTileFill   fill;
  gpointer      fill_data;
  GenTileFunc   func;
  gpointer      data;
  GenTileAccum  accum;
  gpointer      accum_data;
  const gint   *cancel;
  gint          next;        /* next tile to take (atomic) */
  int           committed;   /* next tile to accumulate (under lock) */
  gint          failed;      /* set under lock, read atomically */
  GError       *error;       /* the first error (under lock) */
  GMutex        lock;
  GCond         turn;
} Work;

typedef struct
{
  Work *work;
  int   worker;
} Worker;

static void
work_fail (Work *k, GError *err)
{
  g_mutex_lock (&k->lock);
  if (!k->failed)
    {
      k->error = err;
      g_atomic_int_set (&k->failed, 1);
    }
  else
    g_clear_error (&err);
  g_cond_broadcast (&k->turn);
  g_mutex_unlock (&k->lock);
}

static gpointer
work_loop (gpointer data)
{
  Worker *me = data;
  Work *k = me->work;
  GenTiler *t = k->t;
  int n = t->ny * t->nx;
  GenTensor *tin = &t->tin[me->worker], *tout = &t->tout[me->worker];
  int64_t oth = tout->ne[2], otw = tout->ne[3];

  for (;;)
    {
      int i = g_atomic_int_add (&k->next, 1), iy = i / MAX (1, t->nx), ix = i % MAX (1, t->nx);
      GError *err = NULL;

      if (i >= n || g_atomic_int_get (&k->failed))
        break;
      if (k->cancel && g_atomic_int_get (k->cancel))
        {
          work_fail (k, g_error_new_literal (GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled"));
          break;
        }
      k->fill (k->fill_data, t->ys[iy], t->xs[ix], tin);
      if (!k->func (k->data, me->worker, tin, tout, &err))
        {
          work_fail (k, err);
          break;
        }
      g_mutex_lock (&k->lock);
      while (!k->failed && k->committed != i)
        g_cond_wait (&k->turn, &k->lock);
      if (!k->failed)
        {
          k->accum (k->accum_data, t->ys[iy] * t->num / t->den, t->xs[ix] * t->num / t->den, tout,
                    t->wy + iy * oth, t->wx + ix * otw);
          k->committed++;
        }
      g_cond_broadcast (&k->turn);
      g_mutex_unlock (&k->lock);
    }
  return NULL;
}

gboolean
gen_tiler_run_with (GenTiler *t, GenTileFill fill, gpointer fill_data, GenTileFunc func,
                    gpointer data, GenTileAccum accum, gpointer accum_data, const gint *cancel,
                    GError **error)
{
  int nw = gen_tiler_workers (t);
  Work k;
  Worker ws[GEN_MAX_THREADS];
  GThread *threads[GEN_MAX_THREADS];
  int started = 1;

  if (!ensure_buffers (t, nw, error))
    return FALSE;
  memset (&k, 0, sizeof k);
  k.t = t, k.fill = fill, k.fill_data = fill_data, k.func = func, k.data = data;
  k.accum = accum, k.accum_data = accum_data, k.cancel = cancel;
  g_mutex_init (&k.lock);
  g_cond_init (&k.turn);
  /* Parallel tiles: each worker runs its ops on its own thread (splitting
   * them further would only contend for the same cores). */
  if (nw > 1)
    gen_set_op_threads (1);
  for (int i = 0; i < nw; i++)
    ws[i] = (Worker) { &k, i };
  for (int i = 1; i < nw; i++)
    {
      threads[i] = g_thread_try_new ("generative-tile", work_loop, &ws[i], NULL);
      if (!threads[i])
        break;      /* fewer workers then; the others take their tiles */
      started++;
    }
  work_loop (&ws[0]);
  for (int i = 1; i < started; i++)
    g_thread_join (threads[i]);
  if (nw > 1)
    gen_set_op_threads (gen_get_threads ());
  g_mutex_clear (&k.lock);
  g_cond_clear (&k.turn);
  if (k.error)
    {
      g_propagate_error (error, k.error);
      return FALSE;
    }
  return TRUE;
}

/* ---- whole tensors -------------------------------------------------------------- */

typedef struct
{
  const GenTensor *in;
  float            scale;
} TensorFill;

static void
tensor_fill (gpointer data, int64_t y0, int64_t x0, GenTensor *tile)
{
  TensorFill *f = data;
  int64_t c_n = tile->ne[1], th = tile->ne[2], tw = tile->ne[3], h = f->in->ne[2], w = f->in->ne[3];

  for (int64_t c = 0; c < c_n; c++)
    for (int64_t y = 0; y < th; y++)
      {
        const float *src = f->in->data + (c * h + y0 + y) * w + x0;
        float *dst = tile->data + (c * th + y) * tw;

        for (int64_t x = 0; x < tw; x++)
          dst[x] = src[x] * f->scale;
      }
}

static void
tensor_accum (gpointer data, int64_t oy0, int64_t ox0, const GenTensor *tile, const float *wy,
              const float *wx)
{
  GenTensor *out = data;
  int64_t c_n = tile->ne[1], oth = tile->ne[2], otw = tile->ne[3];
  int64_t oh = out->ne[2], ow = out->ne[3];

  for (int64_t c = 0; c < c_n; c++)
    for (int64_t y = 0; y < oth; y++)
      {
        const float *src = tile->data + (c * oth + y) * otw;
        float *dst = out->data + (c * oh + oy0 + y) * ow + ox0;

        for (int64_t x = 0; x < otw; x++)
          dst[x] += src[x] * wy[y] * wx[x];
      }
}

gboolean
gen_tiler_run (GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
               GenTileFunc func, gpointer data, const gint *cancel, GError **error)
{
  int64_t oh = t->h * t->num / t->den, ow = t->w * t->num / t->den;
  TensorFill f = { in, in_scale };

  g_return_val_if_fail (in->ne[1] == t->cin && in->ne[2] == t->h && in->ne[3] == t->w, FALSE);
  g_return_val_if_fail (out->ne[1] == t->cout && out->ne[2] == oh && out->ne[3] == ow, FALSE);

  if (t->ny * t->nx == 1 && in_scale == 1.0f)
    {
      if (cancel && g_atomic_int_get (cancel))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
          return FALSE;
        }
      return func (data, 0, in, out, error);
    }

  memset (out->data, 0, sizeof (float) * t->cout * oh * ow);
  if (!gen_tiler_run_with (t, tensor_fill, &f, func, data, tensor_accum, out, cancel, error))
    return FALSE;
  for (int64_t c = 0; c < t->cout; c++)
    for (int64_t y = 0; y < oh; y++)
      {
        float *row = out->data + (c * oh + y) * ow;

        for (int64_t x = 0; x < ow; x++)
          row[x] /= t->sy[y] * t->sx[x];
      }
  return TRUE;
}
