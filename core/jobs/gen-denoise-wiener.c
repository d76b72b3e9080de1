/* gen-denoise-wiener.c — collaborative Wiener filtering guided by an
 * estimate: the second step of BM3D (Dabov, Foi, Katkovnik & Egiazarian,
 * "Image denoising by sparse 3-D transform-domain collaborative filtering",
 * IEEE TIP 16(8), 2007, sec. III-B) in the opponent colour space of CBM3D
 * (the same authors, ICIP 2007), with the model's denoised image as the
 * basic estimate.  The model knows local image structure; this step adds
 * what it cannot see through its tiles: the image's own repeated patches.
 *
 * The work goes tile by tile of reference patches.  A tile keeps the 2D
 * spectra of the patches its groups use and sums each patch's filtered,
 * weighted spectra; as the inverse 2D transform is linear, every patch
 * position is transformed back once per tile, not once per group.  Tiles
 * are grouped in stripes whose writes only reach the next stripe, so the
 * even stripes run side by side, then the odd ones, and each pixel's sums
 * come in the same order whatever the thread count. */
#include "gen-denoise-wiener.h"
#include "gen-error.h"
#include "gen-ops-private.h"   /* GEN_CLONES: the loops below vectorise */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N          GEN_WIENER_PATCH
#define NN         (N * N)
#define MAX_GROUP  32
#define MAX_SEARCH 64
#define TILE_ROWS  16   /* reference patches per tile: rows (at least; see the stripes
                         * in gen_denoise_wiener) */
#define TILE_COLS  48   /* and columns */

typedef struct
{
  const GenPixels *noisy, *est;
  const GenWiener *prm;
  int              w, h, nc;   /* image; colour channels filtered (1 or 3) */
  int              pw, ph;     /* patch positions per row and column */
  float            nvar[3 * NN]; /* the noise's variance per channel and 2D DCT frequency */
  gboolean         keep[3];    /* channels where the estimate stands (starved noise) */
  int              nf, fch[3]; /* the channels filtered (those not kept) */
  float            tau;
  int             *ry, *rx;    /* reference patches' rows and columns */
  int              nry, nrx;
  int              tile_r, tile_c; /* a tile's rows and columns of reference patches */
  int              tiles_y, tiles_x;
  int             *offs;       /* [noffs][2] dy, dx: (0, 0) first, then raster order; an
                                * offset's index there is its rank in ties */
  int             *order;      /* [noffs] the indices by distance from (0, 0): matching
                                * meets near (and mostly closer) patches first */
  int              noffs;
  float            dct[N][N];  /* orthonormal DCT-II, [frequency][sample] */
  float            dct_t[N][N]; /* its transpose, [sample][frequency] */
  float            kaiser[NN];
  float           *num, *den;  /* [nc][h][w] the weighted sums */
  int              phase;      /* the stripes of this parity run now */
  gint             next;       /* the phase's next stripe, counted from 0 */
  gint             failed;     /* 1 out of memory, 2 cancelled */
} Wiener;

/* One worker's buffers, sized for the largest tile, in one block. */
typedef struct
{
  char   *block;        /* all of the below */
  float  *z, *p;        /* [nc][rh][rw] noisy and estimate, opponent, 0..255 */
  float  *lum;          /* [rh][rw] the estimate's luma (mean of R, G, B) */
  float  *sz, *sp;      /* [pos][nf][NN] 2D spectra of the patches' filtered channels */
  float  *acc;          /* [pos][nf][NN] filtered spectra, weighted and summed */
  float  *wacc;         /* [pos][nf] their weights' sum */
  guint8 *have;         /* [pos] spectra made */
  guint8 *used;         /* [pos] acc and wacc started */
  float  *sq;           /* [span rows][span cols] squared luma differences */
  float  *vsum, *hsum;  /* [span cols] their column sums over a patch, then row sums */
  float  *best_d;       /* [tile refs][max_group] closest distances, ascending */
  int    *best_o;       /* [tile refs][max_group] their offsets */
  int    *best_n;       /* [tile refs] */
  float  *lim;          /* [tile refs] distances below this are kept */
  int    *col;          /* [tile columns] a reference column's place in hsum */
  float  *gz, *gp, *tmp; /* [max_group][nf][NN] a group */
} Work;

/* A tile's place: reference index ranges, patch positions [py0, py1] ×
 * [px0, px1] its groups may reach, and their pixels (rh × rw from py0, px0). */
typedef struct
{
  int i0, i1, j0, j1;
  int py0, py1, px0, px1;
  int lh, lw, rh, rw;
} Tile;

static double
bessel_i0 (double x)
{
  double sum = 1.0, term = 1.0;

  for (int k = 1; k < 50; k++)
    {
      term *= (x / (2.0 * k)) * (x / (2.0 * k));
      sum += term;
    }
  return sum;
}

static void
tile_place (const Wiener *wf, int ti, int tj, Tile *t)
{
  int R = wf->prm->search;

  t->i0 = ti * wf->tile_r, t->i1 = MIN (wf->nry, t->i0 + wf->tile_r);
  t->j0 = tj * wf->tile_c, t->j1 = MIN (wf->nrx, t->j0 + wf->tile_c);
  t->py0 = MAX (0, wf->ry[t->i0] - R), t->py1 = MIN (wf->ph - 1, wf->ry[t->i1 - 1] + R);
  t->px0 = MAX (0, wf->rx[t->j0] - R), t->px1 = MIN (wf->pw - 1, wf->rx[t->j1 - 1] + R);
  t->lh = t->py1 - t->py0 + 1, t->lw = t->px1 - t->px0 + 1;
  t->rh = t->lh + N - 1, t->rw = t->lw + N - 1;
}

static void
work_free (Work *wk)
{
  g_free (wk->block);
  memset (wk, 0, sizeof *wk);
}

/* Carves N elements of SIZE bytes from *AT (64-byte steps) and returns them;
 * with BASE NULL it only counts, from address 0. */
static void *
carve (char *base, gsize *at, gsize n, gsize size)
{
  void *p = base ? base + *at : NULL;

  *at += (n * size + 63) / 64 * 64;
  return p;
}

static gboolean
work_alloc (Work *wk, const Wiener *wf)
{
  int R = wf->prm->search, step = wf->prm->step, m = wf->prm->max_group;
  /* the largest tile: its references span at most (count − 1)·step + 1 */
  gsize span_r = (gsize) (wf->tile_r - 1) * step + 1, span_c = (gsize) (wf->tile_c - 1) * step + 1;
  gsize lh = MIN ((gsize) wf->ph, span_r + 2 * R), lw = MIN ((gsize) wf->pw, span_c + 2 * R);
  gsize pix = (lh + N - 1) * (lw + N - 1), pos = lh * lw, refs = (gsize) wf->tile_r * wf->tile_c;
  gsize srows = MIN ((gsize) wf->h, span_r + N - 1), scols = MIN ((gsize) wf->w, span_c + N - 1);
  gsize nc = (gsize) wf->nc, nf = (gsize) wf->nf, group = (gsize) m * nf * NN;
  char *base = NULL;

  memset (wk, 0, sizeof *wk);
  /* one block for all: measured on the first pass, carved on the second */
  for (int pass = 0; pass < 2; pass++)
    {
      gsize at = 0;

      wk->z = carve (base, &at, pix * nc, sizeof (float));
      wk->p = carve (base, &at, pix * nc, sizeof (float));
      wk->lum = carve (base, &at, pix, sizeof (float));
      wk->sz = carve (base, &at, pos * nf * NN, sizeof (float));
      wk->sp = carve (base, &at, pos * nf * NN, sizeof (float));
      wk->acc = carve (base, &at, pos * nf * NN, sizeof (float));
      wk->wacc = carve (base, &at, pos * nf, sizeof (float));
      wk->have = carve (base, &at, pos, 1);
      wk->used = carve (base, &at, pos, 1);
      wk->sq = carve (base, &at, srows * scols, sizeof (float));
      wk->vsum = carve (base, &at, scols, sizeof (float));
      wk->hsum = carve (base, &at, scols, sizeof (float));
      wk->best_d = carve (base, &at, refs * m, sizeof (float));
      wk->best_o = carve (base, &at, refs * m, sizeof (int));
      wk->best_n = carve (base, &at, refs, sizeof (int));
      wk->lim = carve (base, &at, refs, sizeof (float));
      wk->col = carve (base, &at, wf->tile_c, sizeof (int));
      wk->gz = carve (base, &at, group, sizeof (float));
      wk->gp = carve (base, &at, group, sizeof (float));
      wk->tmp = carve (base, &at, group, sizeof (float));
      if (pass == 0 && !(base = wk->block = g_try_malloc (at)))
        return FALSE;
    }
  return TRUE;
}

/* The H×W pixels from (Y0, X0) of IMG in opponent space, 0..255, into
 * DST [nc][h][w]; the luma (mean of R, G, B) into LUM [h][w] if not NULL. */
GEN_CLONES static void
load_opponent (const Wiener *wf, const GenPixels *img, int y0, int x0, int h, int w, float *dst,
               float *lum)
{
  gsize plane = (gsize) h * w;
  const float r3 = (float) (255.0 / sqrt (3.0)), r2 = (float) (255.0 / sqrt (2.0)),
              r6 = (float) (255.0 / sqrt (6.0));

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const float *a = img->data + ((gsize) (y0 + y) * wf->w + x0 + x) * img->channels;
        gsize l = (gsize) y * w + x;

        if (wf->nc == 3)
          {
            dst[l] = r3 * (a[0] + a[1] + a[2]);
            dst[plane + l] = r2 * (a[0] - a[2]);
            dst[2 * plane + l] = r6 * (a[0] - 2.0f * a[1] + a[2]);
            if (lum)
              lum[l] = 255.0f * (a[0] + a[1] + a[2]) / 3.0f;
          }
        else
          {
            dst[l] = 255.0f * a[0];
            if (lum)
              lum[l] = dst[l];
          }
      }
}

/* The tile's pixels of NOISY and EST, and the estimate's luma. */
static void
tile_load (const Wiener *wf, const Tile *t, Work *wk)
{
  load_opponent (wf, wf->noisy, t->py0, t->px0, t->rh, t->rw, wk->z, NULL);
  load_opponent (wf, wf->est, t->py0, t->px0, t->rh, t->rw, wk->p, wk->lum);
}

/* A reference's closest candidates while they are searched: a max-heap of
 * (distance, offset), so the largest kept is at [0]. */
static inline gboolean
key_above (float da, int oa, float db, int ob)
{
  return da > db || (da == db && oa > ob);
}

/* Adds (D, O) to the heap of N entries (room for one more). */
static inline void
heap_up (float *bd, int *bo, int n, float d, int o)
{
  int k = n;

  while (k > 0 && key_above (d, o, bd[(k - 1) / 2], bo[(k - 1) / 2]))
    {
      bd[k] = bd[(k - 1) / 2], bo[k] = bo[(k - 1) / 2];
      k = (k - 1) / 2;
    }
  bd[k] = d, bo[k] = o;
}

/* Replaces the heap's (of M entries) largest with the smaller (D, O). */
static inline void
heap_down (float *bd, int *bo, int m, float d, int o)
{
  int k = 0;

  for (;;)
    {
      int c = 2 * k + 1;

      if (c >= m)
        break;
      if (c + 1 < m && key_above (bd[c + 1], bo[c + 1], bd[c], bo[c]))
        c++;
      if (!key_above (bd[c], bo[c], d, o))
        break;
      bd[k] = bd[c], bo[k] = bo[c];
      k = c;
    }
  bd[k] = d, bo[k] = o;
}

/* Block matching: for each reference of the tile, the offsets of its
 * closest patches (distance ≤ tau), the reference first, then ascending,
 * ties in offset order.  The offsets are met nearest first, so the list's
 * bar falls early and few later candidates reach the heap; ties are decided
 * by the offset's rank, not by when it comes, so the order does not change
 * the result. */
GEN_CLONES static void
tile_match (const Wiener *wf, const Tile *t, Work *wk)
{
  int m = wf->prm->max_group, nj = t->j1 - t->j0;
  /* the references' pixels in tile coordinates: rows [sy0, sy1), columns [sx0, sx1) */
  int sy0 = wf->ry[t->i0] - t->py0, sy1 = wf->ry[t->i1 - 1] - t->py0 + N;
  int sx0 = wf->rx[t->j0] - t->px0, sx1 = wf->rx[t->j1 - 1] - t->px0 + N;
  int sw = sx1 - sx0;

  for (int r = 0; r < (t->i1 - t->i0) * nj; r++)
    wk->best_n[r] = 0, wk->lim[r] = wf->tau;
  for (int j = t->j0; j < t->j1; j++)
    wk->col[j - t->j0] = wf->rx[j] - t->px0 - sx0;
  for (int oi = 0; oi < wf->noffs; oi++)
    {
      int o = wf->order[oi];
      int dy = wf->offs[2 * o], dx = wf->offs[2 * o + 1], ja = t->j0, jb = t->j1;

      /* the references whose candidate at this offset lies in the image */
      while (ja < jb && wf->rx[ja] + dx < 0)
        ja++;
      while (jb > ja && wf->rx[jb - 1] + dx >= wf->pw)
        jb--;
      if (ja == jb)
        continue;

      /* squared differences of the luma and its shift, 0 where the shift
       * leaves the tile (only references without a candidate read them) */
      for (int y = sy0; y < sy1; y++)
        {
          float *sq = wk->sq + (gsize) (y - sy0) * sw;
          const float *a = wk->lum + (gsize) y * t->rw, *b;
          int xa = MAX (sx0, -dx), xb = MIN (sx1, t->rw - dx);

          if (y + dy < 0 || y + dy >= t->rh || xa >= xb)
            {
              memset (sq, 0, sizeof (float) * sw);
              continue;
            }
          b = wk->lum + (gsize) (y + dy) * t->rw;
          for (int x = sx0; x < xa; x++)
            sq[x - sx0] = 0.0f;
          for (int x = xa; x < xb; x++)
            {
              float d = a[x] - b[x + dx];

              sq[x - sx0] = d * d;
            }
          for (int x = xb; x < sx1; x++)
            sq[x - sx0] = 0.0f;
        }
      for (int i = t->i0; i < t->i1; i++)
        {
          int cy = wf->ry[i] + dy;
          float *vs = wk->vsum, *hs = wk->hsum;

          if (cy < 0 || cy >= wf->ph)
            continue;
          {
            const float *q = wk->sq + (gsize) (wf->ry[i] - t->py0 - sy0) * sw;

            G_STATIC_ASSERT (N == 8);
            for (int x = 0; x < sw; x++)
              vs[x] = ((q[x] + q[sw + x]) + (q[2 * sw + x] + q[3 * sw + x]))
                      + ((q[4 * sw + x] + q[5 * sw + x]) + (q[6 * sw + x] + q[7 * sw + x]));
            /* then along the row: hs[x] = the sum of the patch at column x,
             * ((vs[x] + vs[x+1]) + (vs[x+2] + vs[x+3])) + (… x+4 .. x+7), as
             * pair sums, sums of pairs of them, and of those */
            for (int x = 0; x + 2 <= sw; x++)
              hs[x] = vs[x] + vs[x + 1];
            for (int x = 0; x + 4 <= sw; x++)
              vs[x] = hs[x] + hs[x + 2];
            for (int x = 0; x + N <= sw; x++)
              hs[x] = vs[x] + vs[x + 4];
          }
          for (int j = ja, r = (i - t->i0) * nj + (ja - t->j0); j < jb; j++, r++)
            {
              float d = hs[wk->col[j - t->j0]] * (1.0f / NN);
              float *bd = wk->best_d + (gsize) r * m;
              int *bo = wk->best_o + (gsize) r * m, n = wk->best_n[r];

              /* lim: tau while the list fills, then the largest kept; an
               * equal distance wins on a lower rank */
              if (!(d <= wk->lim[r]) || (n == m && d == wk->lim[r] && o > bo[0]))
                continue;
              if (n < m)
                heap_up (bd, bo, n, d, o), wk->best_n[r] = ++n;
              else
                heap_down (bd, bo, m, d, o);
              if (n == m)
                wk->lim[r] = bd[0];
            }
        }
    }
  /* each reference's closest, ascending (ties in offset order) */
  for (int r = 0; r < (t->i1 - t->i0) * nj; r++)
    {
      float *bd = wk->best_d + (gsize) r * m;
      int *bo = wk->best_o + (gsize) r * m;

      for (int k = 1; k < wk->best_n[r]; k++)
        {
          float d = bd[k];
          int o = bo[k], q = k;

          for (; q > 0 && key_above (bd[q - 1], bo[q - 1], d, o); q--)
            bd[q] = bd[q - 1], bo[q] = bo[q - 1];
          bd[q] = d, bo[q] = o;
        }
    }
}

/* Eight floats, one patch row, as one vector (GCC and clang's vector
 * extension: the clones make it one AVX register); V8U reads and writes
 * them in place at any float's alignment, as immintrin.h's __m256_u does. */
typedef float V8 __attribute__ ((vector_size (8 * sizeof (float))));
typedef float V8U __attribute__ ((vector_size (8 * sizeof (float)), aligned (4), may_alias));
#define LOAD8(p)     (*(const V8U *) (p))
#define STORE8(p, v) (*(V8U *) (p) = (v))

/* The 2D DCT of the patch at tile pixel (Y, X) of the planes CH[0..NCH)
 * [rh][rw] of SRC into DST [nch][NN]. */
GEN_CLONES static void
patch_dct (const Wiener *wf, const float *src, int rh, int rw, int y, int x, const int *ch,
           int nch, float *dst)
{
  G_STATIC_ASSERT (N == 8);
  for (int i = 0; i < nch; i++)
    {
      const float *s = src + (gsize) ch[i] * rh * rw + (gsize) y * rw + x;
      V8 row[N], t[N];

      for (int a = 0; a < N; a++)
        row[a] = LOAD8 (s + (gsize) a * rw);
      for (int k = 0; k < N; k++)      /* columns: t[k][b] = Σ_a C[k][a] X[a][b] */
        {
          V8 v = row[0] * wf->dct[k][0];

          for (int a = 1; a < N; a++)
            v += row[a] * wf->dct[k][a];
          t[k] = v;
        }
      for (int k = 0; k < N; k++)      /* rows: S[k][l] = Σ_b t[k][b] C[l][b] */
        {
          V8 v = LOAD8 (wf->dct_t[0]) * t[k][0];

          for (int b = 1; b < N; b++)
            v += LOAD8 (wf->dct_t[b]) * t[k][b];
          STORE8 (dst + i * NN + k * N, v);
        }
    }
}

/* Orthonormal Haar transform across the G rows SRC[0..g) of LANES floats
 * each, into V [g][lanes]: pair sums to the first half, pair differences to
 * the second, then again on the first half.  The first level reads the rows
 * where they are (a group's patches, gathered on the way). */
GEN_CLONES static void
haar_forward (const float *const *src, float *v, float *tmp, int g, int lanes)
{
  const float r = (float) (1.0 / G_SQRT2);

  if (g == 1)
    {
      memcpy (v, src[0], sizeof (float) * lanes);
      return;
    }
  for (int i = 0; i < g / 2; i++)
    for (int l = 0; l < lanes; l++)
      {
        float a = src[2 * i][l], b = src[2 * i + 1][l];

        v[i * lanes + l] = r * (a + b);
        v[(g / 2 + i) * lanes + l] = r * (a - b);
      }
  for (int len = g / 2; len > 1; len /= 2)
    {
      int h = len / 2;

      for (int i = 0; i < h; i++)
        for (int l = 0; l < lanes; l++)
          {
            float a = v[(2 * i) * lanes + l], b = v[(2 * i + 1) * lanes + l];

            tmp[i * lanes + l] = r * (a + b);
            tmp[(h + i) * lanes + l] = r * (a - b);
          }
      memcpy (v, tmp, sizeof (float) * len * lanes);
    }
}

GEN_CLONES static void
haar_inverse (float *v, float *tmp, int g, int lanes)
{
  const float r = (float) (1.0 / G_SQRT2);

  for (int len = 2; len <= g; len *= 2)
    {
      int h = len / 2;

      for (int i = 0; i < h; i++)
        for (int l = 0; l < lanes; l++)
          {
            float s = v[i * lanes + l], d = v[(h + i) * lanes + l];

            tmp[(2 * i) * lanes + l] = r * (s + d);
            tmp[(2 * i + 1) * lanes + l] = r * (s - d);
          }
      memcpy (v, tmp, sizeof (float) * len * lanes);
    }
}

/* Each reference's group: gathered, filtered in the 3D transform domain,
 * and its patches' weighted spectra summed per position. */
GEN_CLONES static void
tile_filter (const Wiener *wf, const Tile *t, Work *wk)
{
  int m = wf->prm->max_group, nj = t->j1 - t->j0, nf = wf->nf, lanes = nf * NN;

  memset (wk->have, 0, (gsize) t->lh * t->lw);
  memset (wk->used, 0, (gsize) t->lh * t->lw);
  for (int i = t->i0; i < t->i1; i++)
    for (int j = t->j0; j < t->j1; j++)
      {
        int r = (i - t->i0) * nj + (j - t->j0), n = wk->best_n[r], g = 1;
        const int *bo = wk->best_o + (gsize) r * m;
        int pos[MAX_GROUP];
        const float *rz[MAX_GROUP], *rp[MAX_GROUP];
        float sumw[3] = { 0.0f, 0.0f, 0.0f };

        while (2 * g <= n)
          g *= 2;
        for (int k = 0; k < g; k++)
          {
            int ly = wf->ry[i] + wf->offs[2 * bo[k]] - t->py0,
                lx = wf->rx[j] + wf->offs[2 * bo[k] + 1] - t->px0;
            int q = pos[k] = ly * t->lw + lx;

            if (!wk->have[q])
              {
                patch_dct (wf, wk->z, t->rh, t->rw, ly, lx, wf->fch, nf,
                           wk->sz + (gsize) q * lanes);
                patch_dct (wf, wk->p, t->rh, t->rw, ly, lx, wf->fch, nf,
                           wk->sp + (gsize) q * lanes);
                wk->have[q] = 1;
              }
            rz[k] = wk->sz + (gsize) q * lanes;
            rp[k] = wk->sp + (gsize) q * lanes;
          }
        haar_forward (rz, wk->gz, wk->tmp, g, lanes);
        haar_forward (rp, wk->gp, wk->tmp, g, lanes);
        for (int k = 0; k < g; k++)
          for (int c = 0; c < nf; c++)
            for (int f = 0; f < NN; f++)
              {
                gsize l = (gsize) k * lanes + c * NN + f;
                float e2 = wk->gp[l] * wk->gp[l], v = wf->nvar[wf->fch[c] * NN + f];
                float gain = e2 / (e2 + v);

                wk->gz[l] *= gain;
                sumw[c] += gain * gain * v;
              }
        haar_inverse (wk->gz, wk->tmp, g, lanes);
        for (int c = 0; c < nf; c++)
          sumw[c] = sumw[c] > 0.0f ? 1.0f / sumw[c] : 1.0f;
        for (int k = 0; k < g; k++)
          {
            int q = pos[k];
            float *acc = wk->acc + (gsize) q * lanes, *wacc = wk->wacc + (gsize) q * nf;
            const float *e = wk->gz + (gsize) k * lanes;

            if (!wk->used[q])
              {
                memset (acc, 0, sizeof (float) * lanes);
                memset (wacc, 0, sizeof (float) * nf);
                wk->used[q] = 1;
              }
            for (int c = 0; c < nf; c++)
              {
                for (int f = 0; f < NN; f++)
                  acc[c * NN + f] += sumw[c] * e[c * NN + f];
                wacc[c] += sumw[c];
              }
          }
      }
}

/* Every position the tile's groups reached, back to pixels (one inverse
 * 2D DCT each) and into the image's sums under the Kaiser window. */
GEN_CLONES static void
tile_flush (Wiener *wf, const Tile *t, Work *wk)
{
  int nf = wf->nf;
  gsize plane = (gsize) wf->w * wf->h;

  for (int ly = 0; ly < t->lh; ly++)
    for (int lx = 0; lx < t->lw; lx++)
      {
        int q = ly * t->lw + lx;

        if (!wk->used[q])
          continue;
        for (int c = 0; c < nf; c++)
          {
            const float *s = wk->acc + (gsize) q * nf * NN + c * NN;
            float wsum = wk->wacc[q * nf + c];
            V8 tt[N];

            for (int k = 0; k < N; k++)   /* tt[k][b] = Σ_l S[k][l] C[l][b] */
              {
                V8 v = LOAD8 (wf->dct[0]) * s[k * N];

                for (int l = 1; l < N; l++)
                  v += LOAD8 (wf->dct[l]) * s[k * N + l];
                tt[k] = v;
              }
            for (int a = 0; a < N; a++)   /* X[a][b] = Σ_k C[k][a] tt[k][b] */
              {
                float *nu = wf->num + wf->fch[c] * plane + (gsize) (t->py0 + ly + a) * wf->w
                            + t->px0 + lx;
                float *de = wf->den + (nu - wf->num);
                V8 v = tt[0] * wf->dct_t[a][0], kw = LOAD8 (wf->kaiser + a * N);

                for (int k = 1; k < N; k++)
                  v += tt[k] * wf->dct_t[a][k];
                STORE8 (nu, LOAD8 (nu) + kw * v);
                STORE8 (de, LOAD8 (de) + kw * wsum);
              }
          }
      }
}

static void
stripes_part (int part, int parts, gpointer data)
{
  Wiener *wf = data;
  Work wk;

  (void) part, (void) parts;
  if (!work_alloc (&wk, wf))
    {
      g_atomic_int_set (&wf->failed, 1);
      return;
    }
  for (;;)
    {
      int stripe = 2 * g_atomic_int_add (&wf->next, 1) + wf->phase;

      if (stripe >= wf->tiles_y)
        break;
      for (int tj = 0; tj < wf->tiles_x; tj++)
        {
          Tile t;

          if (g_atomic_int_get (&wf->failed))
            goto out;
          if (wf->prm->cancel && g_atomic_int_get (wf->prm->cancel))
            {
              g_atomic_int_set (&wf->failed, 2);
              goto out;
            }
          tile_place (wf, stripe, tj, &t);
          tile_load (wf, &t, &wk);
          tile_match (wf, &t, &wk);
          tile_filter (wf, &t, &wk);
          tile_flush (wf, &t, &wk);
        }
    }
out:
  work_free (&wk);
}

/* WF->nvar: σ² everywhere for white noise; with SPECTRUM, the shape of
 * the mean square of the 2D spectra of NOISY − EST over the image's
 * non-overlapping patches, scaled so that its mean is σ² (the noise level
 * keeps the total power, the residual gives how it spreads over channels
 * and frequencies).  WF->keep: the channels whose highest frequencies
 * (both 6 or 7) hold under STARVED of the mean: noise smoothed before it
 * reached the image (by demosaicing, or JPEG's halved chroma), whose low
 * frequencies the residual under-counts, so filtering would keep noise the
 * estimate had removed; there the estimate stands.  FALSE when every
 * channel is kept. */
#define STARVED 0.1

static gboolean
noise_spectrum (Wiener *wf, double sigma, gboolean spectrum)
{
  double sum[3 * NN] = { 0.0 }, mean = 0.0;
  float z[3 * NN], p[3 * NN], dz[3 * NN], dp[3 * NN];
  static const int every[3] = { 0, 1, 2 };
  int kept = 0;

  for (int f = 0; f < wf->nc * NN; f++)
    wf->nvar[f] = (float) (sigma * sigma);
  for (int c = 0; c < 3; c++)
    wf->keep[c] = FALSE;
  if (!spectrum)
    return TRUE;
  for (int y = 0; y + N <= wf->h; y += N)
    for (int x = 0; x + N <= wf->w; x += N)
      {
        load_opponent (wf, wf->noisy, y, x, N, N, z, NULL);
        load_opponent (wf, wf->est, y, x, N, N, p, NULL);
        patch_dct (wf, z, N, N, 0, 0, every, wf->nc, dz);
        patch_dct (wf, p, N, N, 0, 0, every, wf->nc, dp);
        for (int f = 0; f < wf->nc * NN; f++)
          sum[f] += (double) (dz[f] - dp[f]) * (dz[f] - dp[f]);
      }
  for (int f = 0; f < wf->nc * NN; f++)
    mean += sum[f] / (wf->nc * NN);
  if (!(mean > 0.0))
    return TRUE;
  for (int c = 0; c < wf->nc; c++)
    {
      double high = 0.0;

      for (int k = N - 2; k < N; k++)
        for (int l = N - 2; l < N; l++)
          high += sum[c * NN + k * N + l] / 4.0;
      wf->keep[c] = high < STARVED * mean;
      kept += wf->keep[c];
    }
  if (kept == wf->nc)
    return FALSE;
  for (int f = 0; f < wf->nc * NN; f++)
    wf->nvar[f] = (float) (sigma * sigma * sum[f] / mean);
  return TRUE;
}

static int
key_cmp (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Reference positions along a side of L pixels: every STEP, and the last. */
static int *
ref_grid (int l, int step, int *count)
{
  int n = (l - N) / step + 1, *r;
  gboolean extra = (n - 1) * step != l - N;

  r = g_new (int, n + extra);
  for (int i = 0; i < n; i++)
    r[i] = i * step;
  if (extra)
    r[n] = l - N;
  *count = n + extra;
  return r;
}

gboolean
gen_denoise_wiener (const GenPixels *noisy, GenPixels *est, double sigma, const GenWiener *prm,
                    GError **error)
{
  Wiener wf = { 0 };
  int R = prm->search, m = prm->max_group;
  gsize plane, total;
  gboolean ok = FALSE;

  if (noisy->width != est->width || noisy->height != est->height
      || noisy->channels != est->channels)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "denoise: the estimate's shape differs from the image's");
      return FALSE;
    }
  if (!(sigma > 0.0 && sigma <= 255.0) || R < 0 || R > MAX_SEARCH || prm->step < 1
      || prm->step > N || m < 1 || m > MAX_GROUP || (m & (m - 1)) || !(prm->tau < 1e12)
      || !(prm->beta >= 0.0 && prm->beta <= 50.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "denoise: collaborative filtering needs a sigma in (0, 255], a search "
                   "radius 0..%d, a step 1..%d and a group size that is a power of two "
                   "up to %d",
                   MAX_SEARCH, N, MAX_GROUP);
      return FALSE;
    }
  if (noisy->width < N || noisy->height < N)
    return TRUE;   /* no whole patch: the estimate stands */

  wf.noisy = noisy, wf.est = est, wf.prm = prm;
  wf.w = noisy->width, wf.h = noisy->height, wf.nc = noisy->channels >= 3 ? 3 : 1;
  wf.pw = wf.w - N + 1, wf.ph = wf.h - N + 1;
  wf.tau = (float) (prm->tau >= 0.0 ? prm->tau : sigma <= 40.0 ? 400.0 : 3500.0);
  for (int k = 0; k < N; k++)
    for (int a = 0; a < N; a++)
      wf.dct[k][a] = wf.dct_t[a][k]
        = (float) (cos (G_PI * (a + 0.5) * k / N) * sqrt ((k == 0 ? 1.0 : 2.0) / N));
  {
    double kw[N];

    for (int a = 0; a < N; a++)
      {
        double u = 2.0 * a / (N - 1) - 1.0;

        kw[a] = bessel_i0 (prm->beta * sqrt (MAX (0.0, 1.0 - u * u))) / bessel_i0 (prm->beta);
      }
    for (int a = 0; a < N; a++)
      for (int b = 0; b < N; b++)
        wf.kaiser[a * N + b] = (float) (kw[a] * kw[b]);
  }
  if (!noise_spectrum (&wf, sigma, prm->spectrum))
    return TRUE;   /* demosaiced noise in every channel: the estimate stands */
  for (int c = 0; c < wf.nc; c++)
    if (!wf.keep[c])
      wf.fch[wf.nf++] = c;
  wf.noffs = (2 * R + 1) * (2 * R + 1);
  wf.offs = g_new (int, 2 * wf.noffs);
  wf.offs[0] = wf.offs[1] = 0;
  for (int dy = -R, o = 1; dy <= R; dy++)
    for (int dx = -R; dx <= R; dx++)
      if (dy || dx)
        wf.offs[2 * o] = dy, wf.offs[2 * o + 1] = dx, o++;
  {
    gint64 *key = g_new (gint64, wf.noffs);

    for (int o = 0; o < wf.noffs; o++)
      key[o] = (gint64) (wf.offs[2 * o] * wf.offs[2 * o] + wf.offs[2 * o + 1] * wf.offs[2 * o + 1])
                 * wf.noffs + o;
    qsort (key, wf.noffs, sizeof *key, key_cmp);
    wf.order = g_new (int, wf.noffs);
    for (int i = 0; i < wf.noffs; i++)
      wf.order[i] = (int) (key[i] % wf.noffs);
    g_free (key);
  }
  wf.ry = ref_grid (wf.h, prm->step, &wf.nry);
  wf.rx = ref_grid (wf.w, prm->step, &wf.nrx);
  /* stripes at least 2R + N rows high, so stripe k's writes miss stripe k + 2's;
   * as many as fit, in a multiple of 4 when there are 4 or more, so that each
   * phase has an even count and two threads take equal shares (11 stripes of
   * a 500-pixel side made 6 + 5, 3 + 3 rounds on 2 threads; 8 make 2 + 2:
   * 14% faster).  The stripes depend on the image, never on the threads. */
  {
    int least = MAX (TILE_ROWS, (2 * R + N + prm->step - 1) / prm->step);
    int stripes = wf.nry / least / 4 * 4;

    wf.tile_r = stripes >= 4 ? (wf.nry + stripes - 1) / stripes : least;
  }
  wf.tile_c = TILE_COLS;
  wf.tiles_y = (wf.nry + wf.tile_r - 1) / wf.tile_r;
  wf.tiles_x = (wf.nrx + wf.tile_c - 1) / wf.tile_c;

  plane = (gsize) wf.w * wf.h;
  if (!g_size_checked_mul (&total, plane, (gsize) wf.nc)
      || !(wf.num = g_try_new0 (float, total)) || !(wf.den = g_try_new0 (float, total)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "denoise: out of memory for collaborative filtering");
      goto out;
    }
  for (wf.phase = 0; wf.phase < 2 && !wf.failed; wf.phase++)
    {
      int stripes = (wf.tiles_y - wf.phase + 1) / 2;

      wf.next = 0;
      if (stripes > 0)
        gen_parallel_for (MAX (1, MIN (gen_parallel_parts (), stripes)), stripes_part, &wf);
    }
  if (wf.failed)
    {
      if (wf.failed == 2)
        g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                     "denoise: out of memory for collaborative filtering");
      goto out;
    }
  {
    const float r3 = (float) (1.0 / (255.0 * sqrt (3.0))),
                r2 = (float) (1.0 / (255.0 * sqrt (2.0))),
                r6 = (float) (1.0 / (255.0 * sqrt (6.0)));

    for (gsize i = 0; i < plane; i++)
      {
        float *d = est->data + i * est->channels;

        if (wf.nc == 3)
          {
            /* a kept channel: the estimate's, as load_opponent makes it */
            float o0 = wf.keep[0] ? (float) (255.0 / sqrt (3.0)) * (d[0] + d[1] + d[2])
                                  : wf.num[i] / wf.den[i];
            float o1 = wf.keep[1] ? (float) (255.0 / sqrt (2.0)) * (d[0] - d[2])
                                  : wf.num[plane + i] / wf.den[plane + i];
            float o2 = wf.keep[2] ? (float) (255.0 / sqrt (6.0)) * (d[0] - 2.0f * d[1] + d[2])
                                  : wf.num[2 * plane + i] / wf.den[2 * plane + i];

            d[0] = CLAMP (r3 * o0 + r2 * o1 + r6 * o2, 0.0f, 1.0f);
            d[1] = CLAMP (r3 * o0 - 2.0f * r6 * o2, 0.0f, 1.0f);
            d[2] = CLAMP (r3 * o0 - r2 * o1 + r6 * o2, 0.0f, 1.0f);
          }
        else
          d[0] = CLAMP (wf.num[i] / (255.0f * wf.den[i]), 0.0f, 1.0f);
      }
  }
  ok = TRUE;
out:
  g_free (wf.num);
  g_free (wf.den);
  g_free (wf.offs);
  g_free (wf.order);
  g_free (wf.ry);
  g_free (wf.rx);
  return ok;
}
