/* gen-inpaint-fill.c — the harmonic fill of a hole: Laplace's equation
 * inside it, its surroundings as the boundary, solved coarse to fine (a
 * cascadic multigrid: Bornemann & Deuflhard 1996) with red-black SOR on
 * each level (Young 1954). */
#include "gen-inpaint-fill.h"
#include "gen-error.h"
#include "gen-job-private.h"
#include "gen-ops.h"

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

/* ---- edge-guided diffusion ---------------------------------------------
 * The harmonic fill is smooth: an edge that enters the hole fades out in it.
 * Coherence-enhancing diffusion (Weickert 1999, "Coherence-enhancing
 * diffusion filtering", IJCV 31) moves values along the edges instead: from
 * the structure tensor J = G_ρ * Σ_c ∇u_σ,c ∇u_σ,cᵀ, with eigenvalues
 * λ1 ≥ λ2 and v1 across the edge, the diffusion tensor is
 * D = c1 v1 v1ᵀ + v2 v2ᵀ with c1 = 1 / (1 + (λ1 − λ2)/α): full diffusion
 * along the edge, little across a strong one.  u ← u + dt·(D : ∇²u) on the
 * hole's pixels (explicit, every term from the previous iterate), the
 * known ones fixed; all on the hole's bounding box plus EG_MARGIN. */

#define EG_MARGIN 24     /* context around the hole's bounding box, pixels */
#define EG_SIGMA  0.8f   /* pre-smoothing of the gradients */
#define EG_DT     0.2f   /* time step (stable: D's eigenvalues are ≤ 1) */

/* One iteration's work, split by rows over the core's threads. */
typedef struct
{
  int          w, h, colour, stage;
  gsize        n;
  const float *k;       /* the current blur's kernel, radius r */
  int          r;
  float        k_sigma[63], k_rho[63];
  int          r_sigma, r_rho;
  const float *src;     /* blur: source plane */
  float       *dst;     /* blur: destination plane (may be src) */
  float       *u, *un, *us, *j11, *j12, *j22, *tmp, *rows;
  const guint8 *unknown; /* the image's, with its stride */
  int          stride, x0, y0;
  float        alpha;
} EgPass;

enum { EG_BLUR_H, EG_BLUR_V, EG_TENSOR, EG_UPDATE };

static void
eg_rows (const EgPass *e, int part, int parts, int *ya, int *yb)
{
  *ya = (int) ((gint64) e->h * part / parts);
  *yb = (int) ((gint64) e->h * (part + 1) / parts);
}

static void
eg_part (int part, int parts, gpointer data)
{
  const EgPass *e = data;
  int w = e->w, r = e->r, ya, yb;
  gsize n = e->n;

  eg_rows (e, part, parts, &ya, &yb);
  if (e->stage == EG_BLUR_H)
    {
      float *row = e->rows + (gsize) part * (w + 64);

      for (int y = ya; y < yb; y++)
        {
          const float *sp = e->src + (gsize) y * w;
          float *t = e->tmp + (gsize) y * w;

          for (int x = -r; x < w + r; x++)
            row[x + r] = sp[(int) gen_pixels_reflect (x, w)];
          memset (t, 0, sizeof (float) * w);
          for (int j = 0; j <= 2 * r; j++)
            for (int x = 0; x < w; x++)
              t[x] += e->k[j] * row[x + j];
        }
    }
  else if (e->stage == EG_BLUR_V)
    for (int y = ya; y < yb; y++)
      {
        float *d = e->dst + (gsize) y * w;

        memset (d, 0, sizeof (float) * w);
        for (int j = 0; j <= 2 * r; j++)
          {
            const float *t = e->tmp + (gsize) (int) gen_pixels_reflect (y + j - r, e->h) * w;

            for (int x = 0; x < w; x++)
              d[x] += e->k[j] * t[x];
          }
      }
  else if (e->stage == EG_TENSOR)
    for (int y = ya; y < yb; y++)
      for (int x = 0; x < w; x++)
        {
          gsize i = (gsize) y * w + x;
          float a = 0.0f, b = 0.0f, d = 0.0f;

          for (int c = 0; c < e->colour; c++)
            {
              const float *sp = e->us + c * n;
              float p = x > 0 && x + 1 < w ? 0.5f * (sp[i + 1] - sp[i - 1]) : 0.0f;
              float q = y > 0 && y + 1 < e->h ? 0.5f * (sp[i + w] - sp[i - w]) : 0.0f;

              a += p * p, b += p * q, d += q * q;
            }
          e->j11[i] = a, e->j12[i] = b, e->j22[i] = d;
        }
  else
    for (int y = ya; y < yb; y++)
      for (int x = 0; x < w; x++)
        {
          gsize i = (gsize) y * w + x;
          float tr, det, disc, l1, l2, vx, vy, norm, c1, a, b, d;

          if (!e->unknown[(gsize) (e->y0 + y) * e->stride + e->x0 + x])
            continue;
          tr = e->j11[i] + e->j22[i];
          det = e->j11[i] * e->j22[i] - e->j12[i] * e->j12[i];
          disc = sqrtf (MAX (0.25f * tr * tr - det, 0.0f));
          l1 = 0.5f * tr + disc, l2 = 0.5f * tr - disc;
          vx = e->j12[i], vy = l1 - e->j11[i];
          norm = sqrtf (vx * vx + vy * vy);
          if (norm < 1e-12f)
            vx = 1.0f, vy = 0.0f;
          else
            vx /= norm, vy /= norm;
          c1 = 1.0f / (1.0f + (l1 - l2) / e->alpha);
          a = c1 * vx * vx + vy * vy;
          b = (c1 - 1.0f) * vx * vy;
          d = c1 * vy * vy + vx * vx;
          for (int c = 0; c < e->colour; c++)
            {
              const float *v = e->u + c * n;
              float uxx = 0.0f, uyy = 0.0f, uxy = 0.0f;

              if (x > 0 && x + 1 < w)
                uxx = v[i + 1] - 2.0f * v[i] + v[i - 1];
              if (y > 0 && y + 1 < e->h)
                uyy = v[i + w] - 2.0f * v[i] + v[i - w];
              if (x > 0 && x + 1 < w && y > 0 && y + 1 < e->h)
                uxy = 0.25f * (v[i + w + 1] - v[i + w - 1] - v[i - w + 1] + v[i - w - 1]);
              e->un[c * n + i] = v[i] + EG_DT * (a * uxx + 2.0f * b * uxy + d * uyy);
            }
        }
}

/* K = the Gaussian kernel of SIGMA: radius ceil(3σ) (at most 31), weights
 * normalised; returns the radius. */
static int
eg_kernel (float *k, float sigma)
{
  float sum = 0.0f;
  int r = MIN ((int) ceilf (3.0f * sigma), 31);

  for (int i = -r; i <= r; i++)
    sum += k[i + r] = expf (-(float) (i * i) / (2.0f * sigma * sigma));
  for (int i = 0; i <= 2 * r; i++)
    k[i] /= sum;
  return r;
}

/* Gaussian blur (kernel K of radius R) of the plane SRC into DST (may be
 * SRC) through E's TMP: separable, reflect-101 edges; each pass runs over
 * whole rows, so the compiler vectorises it. */
static void
eg_blur (EgPass *e, int parts, const float *src, float *dst, const float *k, int r)
{
  e->k = k, e->r = r, e->src = src, e->dst = dst;
  e->stage = EG_BLUR_H;
  gen_parallel_for (parts, eg_part, e);
  e->stage = EG_BLUR_V;
  gen_parallel_for (parts, eg_part, e);
  e->k = NULL;
}

gboolean
gen_inpaint_edge_guided (GenPixels *img, int colour, const guint8 *unknown,
                         const GenEdgeGuided *eg, GError **error)
{
  int x0 = img->width, y0 = img->height, x1 = -1, y1 = -1, w, h, parts;
  gsize n;
  float *buf;
  EgPass e;

  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      if (unknown[(gsize) y * img->width + x])
        x0 = MIN (x0, x), y0 = MIN (y0, y), x1 = MAX (x1, x), y1 = MAX (y1, y);
  if (x1 < 0 || eg->iterations <= 0)
    return TRUE;
  colour = CLAMP (colour, 1, img->channels);
  x0 = MAX (0, x0 - EG_MARGIN), y0 = MAX (0, y0 - EG_MARGIN);
  x1 = MIN (img->width - 1, x1 + EG_MARGIN), y1 = MIN (img->height - 1, y1 + EG_MARGIN);
  w = x1 - x0 + 1, h = y1 - y0 + 1, n = (gsize) w * h;
  /* small holes are not worth the threads' start-up every pass */
  parts = n < 65536 ? 1 : MAX (1, MIN (gen_parallel_parts (), h));
  /* u, un, us: COLOUR planes each; j11, j12, j22, tmp: one; a padded row
   * per part */
  buf = g_try_new (float, n * (3 * (gsize) colour + 4) + (gsize) parts * (w + 64));
  if (!buf)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "inpaint: out of memory for the fill");
      return FALSE;
    }
  e = (EgPass) { .w = w, .h = h, .colour = colour, .n = n, .unknown = unknown,
                 .stride = img->width, .x0 = x0, .y0 = y0, .alpha = eg->alpha };
  e.u = buf, e.un = e.u + n * colour, e.us = e.un + n * colour;
  e.j11 = e.us + n * colour, e.j12 = e.j11 + n, e.j22 = e.j12 + n, e.tmp = e.j22 + n;
  e.rows = e.tmp + n;
  e.r_sigma = eg_kernel (e.k_sigma, EG_SIGMA);
  e.r_rho = eg_kernel (e.k_rho, eg->rho);
  for (int c = 0; c < colour; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        e.u[c * n + (gsize) y * w + x]
          = img->data[((gsize) (y0 + y) * img->width + x0 + x) * img->channels + c];

  /* the known pixels never change: both buffers hold them from here on,
   * and each step writes every unknown pixel of the next iterate */
  memcpy (e.un, e.u, sizeof (float) * n * colour);
  for (int it = 0; it < eg->iterations; it++)
    {
      if (eg->cancel && g_atomic_int_get (eg->cancel))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
          g_free (buf);
          return FALSE;
        }
      for (int c = 0; c < colour; c++)
        eg_blur (&e, parts, e.u + c * n, e.us + c * n, e.k_sigma, e.r_sigma);
      e.stage = EG_TENSOR;
      gen_parallel_for (parts, eg_part, &e);
      eg_blur (&e, parts, e.j11, e.j11, e.k_rho, e.r_rho);
      eg_blur (&e, parts, e.j12, e.j12, e.k_rho, e.r_rho);
      eg_blur (&e, parts, e.j22, e.j22, e.k_rho, e.r_rho);
      e.stage = EG_UPDATE;
      gen_parallel_for (parts, eg_part, &e);
      {
        float *t = e.u;

        e.u = e.un, e.un = t;
      }
    }

  for (int c = 0; c < colour; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        if (unknown[(gsize) (y0 + y) * img->width + x0 + x])
          img->data[((gsize) (y0 + y) * img->width + x0 + x) * img->channels + c]
            = e.u[c * n + (gsize) y * w + x];
  g_free (buf);
  return TRUE;
}
