/* gen-inpaint-fill.c — the harmonic fill of a hole: Laplace's equation
 * inside it, its surroundings as the boundary, solved coarse to fine (a
 * cascadic multigrid: Bornemann & Deuflhard 1996) with red-black SOR on
 * each level (Young 1954). */
#include "gen-inpaint-fill.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

#define SETTLED   1e-6f  /* stop when no value moves more than this in a sweep (0..1 units) */
#define COARSEST  4      /* levels smaller than this on a side are solved directly */

/* One level of the pyramid: planar values and which pixels are unknown. */
typedef struct
{
  int     w, h, nc;
  float  *v;    /* [nc][h][w] */
  guint8 *unk;  /* [h][w] */
} Level;

static void
level_free (Level *l)
{
  g_free (l->v);
  g_free (l->unk);
}

static gboolean
level_alloc (Level *l, int w, int h, int nc, GError **error)
{
  gsize n = (gsize) w * h;

  l->w = w, l->h = h, l->nc = nc;
  l->v = g_try_new (float, n * nc);
  l->unk = g_try_new0 (guint8, n);
  if (!l->v || !l->unk)
    {
      level_free (l);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "inpaint: out of memory for the fill");
      return FALSE;
    }
  return TRUE;
}

/* The next coarser level: each 2×2 block is known when any of its pixels
 * is, with their mean (so the hole shrinks a little on the way down). */
static void
restrict_level (const Level *f, Level *c)
{
  gsize fn = (gsize) f->w * f->h, cn = (gsize) c->w * c->h;

  for (int y = 0; y < c->h; y++)
    for (int x = 0; x < c->w; x++)
      {
        int known = 0;

        for (int ch = 0; ch < c->nc; ch++)
          c->v[ch * cn + (gsize) y * c->w + x] = 0.0f;
        for (int dy = 0; dy < 2; dy++)
          for (int dx = 0; dx < 2; dx++)
            {
              int fy = 2 * y + dy, fx = 2 * x + dx;
              gsize i = (gsize) fy * f->w + fx;

              if (fy >= f->h || fx >= f->w || f->unk[i])
                continue;
              known++;
              for (int ch = 0; ch < c->nc; ch++)
                c->v[ch * cn + (gsize) y * c->w + x] += f->v[ch * fn + i];
            }
        c->unk[(gsize) y * c->w + x] = known == 0;
        for (int ch = 0; known > 0 && ch < c->nc; ch++)
          c->v[ch * cn + (gsize) y * c->w + x] /= (float) known;
      }
}

/* The unknown pixels of F from C, bilinearly (coarse pixel X's centre is
 * at fine 2X + 0.5). */
static void
prolong_level (const Level *c, Level *f)
{
  gsize fn = (gsize) f->w * f->h, cn = (gsize) c->w * c->h;

  for (int y = 0; y < f->h; y++)
    for (int x = 0; x < f->w; x++)
      {
        gsize i = (gsize) y * f->w + x;
        float cy = CLAMP ((y - 0.5f) * 0.5f, 0.0f, (float) (c->h - 1));
        float cx = CLAMP ((x - 0.5f) * 0.5f, 0.0f, (float) (c->w - 1));
        int y0 = (int) cy, x0 = (int) cx;
        int y1 = MIN (y0 + 1, c->h - 1), x1 = MIN (x0 + 1, c->w - 1);
        float ay = cy - y0, ax = cx - x0;

        if (!f->unk[i])
          continue;
        for (int ch = 0; ch < f->nc; ch++)
          {
            const float *cv = c->v + ch * cn;
            float top = cv[y0 * c->w + x0] + ax * (cv[y0 * c->w + x1] - cv[y0 * c->w + x0]);
            float bot = cv[y1 * c->w + x0] + ax * (cv[y1 * c->w + x1] - cv[y1 * c->w + x0]);

            f->v[ch * fn + i] = top + ay * (bot - top);
          }
      }
}

/* Red-black SOR on L's unknown pixels until no value moves more than
 * SETTLED, with the relaxation factor that is optimal for a square of the
 * hole's extent. */
static gboolean
relax_level (Level *l, GError **error)
{
  gsize n = (gsize) l->w * l->h, count[2] = { 0, 0 };
  gsize *idx[2];
  int x0 = l->w, y0 = l->h, x1 = -1, y1 = -1, extent, max_sweeps;
  float omega;

  for (int y = 0; y < l->h; y++)
    for (int x = 0; x < l->w; x++)
      if (l->unk[(gsize) y * l->w + x])
        {
          count[(x + y) & 1]++;
          x0 = MIN (x0, x), y0 = MIN (y0, y), x1 = MAX (x1, x), y1 = MAX (y1, y);
        }
  if (x1 < 0)
    return TRUE;
  idx[0] = g_try_new (gsize, count[0] + 1);
  idx[1] = g_try_new (gsize, count[1] + 1);
  if (!idx[0] || !idx[1])
    {
      g_free (idx[0]);
      g_free (idx[1]);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "inpaint: out of memory for the fill");
      return FALSE;
    }
  count[0] = count[1] = 0;
  for (int y = 0; y < l->h; y++)
    for (int x = 0; x < l->w; x++)
      if (l->unk[(gsize) y * l->w + x])
        idx[(x + y) & 1][count[(x + y) & 1]++] = (gsize) y * l->w + x;

  extent = MAX (x1 - x0 + 1, y1 - y0 + 1);
  omega = (float) (2.0 / (1.0 + sin (G_PI / (extent + 1))));
  max_sweeps = 100 + 6 * extent;
  for (int sweep = 0; sweep < max_sweeps; sweep++)
    {
      float moved = 0.0f;

      for (int colour = 0; colour < 2; colour++)
        for (gsize k = 0; k < count[colour]; k++)
          {
            gsize i = idx[colour][k];
            int y = (int) (i / l->w), x = (int) (i % l->w);
            gsize nb[4];
            int m = 0;

            /* the image's edges reflect: only neighbours inside count */
            if (x > 0)
              nb[m++] = i - 1;
            if (x + 1 < l->w)
              nb[m++] = i + 1;
            if (y > 0)
              nb[m++] = i - l->w;
            if (y + 1 < l->h)
              nb[m++] = i + l->w;
            for (int ch = 0; ch < l->nc; ch++)
              {
                float *v = l->v + ch * n, sum = 0.0f, d;

                for (int j = 0; j < m; j++)
                  sum += v[nb[j]];
                d = sum / (float) m - v[i];
                v[i] += omega * d;
                moved = MAX (moved, fabsf (d));
              }
          }
      if (moved < SETTLED)
        break;
    }
  g_free (idx[0]);
  g_free (idx[1]);
  return TRUE;
}

/* Solves L (its known values set, its unknown ones anything), coarser
 * levels first. */
static gboolean
solve_level (Level *l, GError **error)
{
  gsize n = (gsize) l->w * l->h, n_known = 0;
  gboolean ok = TRUE;

  for (gsize i = 0; i < n; i++)
    n_known += !l->unk[i];
  if (n_known == n)
    return TRUE;
  if (l->w >= COARSEST && l->h >= COARSEST && n_known > 0)
    {
      Level c;

      if (!level_alloc (&c, (l->w + 1) / 2, (l->h + 1) / 2, l->nc, error))
        return FALSE;
      restrict_level (l, &c);
      ok = solve_level (&c, error);
      if (ok)
        prolong_level (&c, l);
      level_free (&c);
    }
  else
    for (int ch = 0; ch < l->nc; ch++)
      {
        float *v = l->v + ch * n;
        double mean = 0.0;

        for (gsize i = 0; i < n; i++)
          mean += l->unk[i] ? 0.0 : v[i];
        mean = n_known > 0 ? mean / (double) n_known : 0.5;
        for (gsize i = 0; i < n; i++)
          if (l->unk[i])
            v[i] = (float) mean;
      }
  return ok && (n_known == 0 || relax_level (l, error));
}

gboolean
gen_inpaint_harmonic (GenPixels *img, int colour, const guint8 *unknown, GError **error)
{
  gsize n = (gsize) img->width * img->height;
  Level l;
  gboolean ok;

  colour = CLAMP (colour, 1, img->channels);
  if (!level_alloc (&l, img->width, img->height, colour, error))
    return FALSE;
  memcpy (l.unk, unknown, n);
  for (gsize i = 0; i < n; i++)
    for (int c = 0; c < colour; c++)
      l.v[c * n + i] = img->data[i * img->channels + c];
  ok = solve_level (&l, error);
  for (gsize i = 0; ok && i < n; i++)
    for (int c = 0; unknown[i] && c < colour; c++)
      img->data[i * img->channels + c] = l.v[c * n + i];
  level_free (&l);
  return ok;
}
