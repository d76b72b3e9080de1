/* gen-noise-estimate.c — the noise level of an image, for denoise's
 * sigma auto and the plug-in's dialog: the effective σ, the root mean
 * square of the noise over the image, which is what picks the model's
 * timestep for every kind of noise.
 *
 * Two things make a camera's noise differ from white Gaussian noise, and
 * each has its own step here:
 *
 *  - its variance grows with the signal (shot noise: var = a·x + b, Foi et
 *    al. 2008): the finest diagonal Haar detail is measured per brightness
 *    band (its lower quartile, which edges disturb least) to find the shape
 *    of that line, and the level comes from the median of the whole image
 *    (Donoho & Johnstone 1994) read as a mixture of Gaussians of those
 *    variances, so the result is the mean variance rather than the median's;
 *
 *  - demosaicing (and JPEG's chroma subsampling) correlate it between
 *    neighbours, which hides most of it from the finest details.  On the
 *    flattest cells (found from the other colour channels, so that a cell's
 *    own noise does not choose it) the ratio r of the diagonal to the
 *    horizontal and vertical details gives the neighbour correlation ρ under
 *    a model with equal horizontal and vertical correlation and a diagonal
 *    one of κ·ρ² (κ = 1 is a separable process), and with it the total
 *    variance.  White noise has r = 1; r above R_HI is taken as white, since
 *    texture left on flat cells lowers r a little.
 *
 * κ, R_LO and R_HI were fitted on synthetic dead-leaves images with
 * weights/camera_noise.py's kinds; weights/eval_sigma.py measures the result. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

#define N_BANDS   16      /* brightness bands over 0..256 */
#define HIST_BINS 4096    /* histogram of |detail| over 0..256, 1/16 level a bin */
#define MIN_BAND  64      /* details a band needs to take part in the fit */
#define SLOPE_FLOOR 0.5   /* the signal-dependent share of the mean variance that texture
                             alone gives white noise: only what exceeds it counts */
#define FLAT_FRAC 0.1     /* the flattest tenth of the cells measures r */
#define BOX       5       /* activity is summed over BOX×BOX cells */
#define KAPPA     0.5
#define R_LO      0.4
#define R_HI      0.6

/* The finest Haar details of one 2×2 cell (0..255 units). */
typedef struct
{
  float hl, lh, hh, m;
} Cell;

static Cell
cell_at (const GenPixels *in, int c, int64_t i, int64_t j)
{
  const float *p0 = in->data + ((gsize) (2 * i) * in->width + 2 * j) * in->channels + c;
  const float *p1 = p0 + (gsize) in->width * in->channels;
  float a = p0[0] * 255.0f, b = p0[in->channels] * 255.0f;
  float d = p1[0] * 255.0f, e = p1[in->channels] * 255.0f;

  return (Cell) { (a - b + d - e) * 0.5f, (a + b - d - e) * 0.5f, (a - b - d + e) * 0.5f,
                  (a + b + d + e) * 0.25f };
}

/* ---- robust statistics from histograms ---------------------------------------- */

static void
hist_add (guint32 *h, float v)
{
  int k = (int) (fabsf (v) * (HIST_BINS / 256.0f));
  h[CLAMP (k, 0, HIST_BINS - 1)]++;
}

/* The Q-quantile of the values in H (N of them), linear within a bin. */
static double
hist_quantile (const guint32 *h, guint64 n, double q)
{
  double want = q * (double) n, seen = 0.0;

  for (int k = 0; k < HIST_BINS; k++)
    {
      if (h[k] && seen + h[k] >= want)
        return (k + (want - seen) / h[k]) * (256.0 / HIST_BINS);
      seen += h[k];
    }
  return 256.0;
}

/* The lower quartile of |N(0, 1)|. */
#define GAUSS_Q25 0.3186393639643752

/* Per brightness band, the histogram of |detail| of one channel. */
typedef struct
{
  guint32 hist[N_BANDS][HIST_BINS];
  guint64 count[N_BANDS];
} Bands;

static void
bands_add (Bands *b, float detail, float mean)
{
  int k = (int) (mean * (N_BANDS / 256.0f));

  k = CLAMP (k, 0, N_BANDS - 1);
  hist_add (b->hist[k], detail);
  b->count[k]++;
}

/* The mean variance of the noise in B's details, whose median absolute
 * value is MED, as described at the top: the line var = α + β·x through the
 * bands' lower quartiles (weighted least squares, β ≥ 0, its share β·x̄/α
 * less SLOPE_FLOOR) gives the shape;
 * the level λ makes the median of the mixture of N(0, λ·(α + β·x)) over the
 * bands MED. */
static double
bands_mean_variance (const Bands *b, double med)
{
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, vmax = 0, alpha = 1.0, beta = 0.0;
  double v[N_BANDS], lo = 1e-8, hi = 1e8, lam = 1.0, mean_v = 0.0;
  guint64 n = 0;
  int used = 0;

  for (int k = 0; k < N_BANDS; k++)
    {
      double x = (k + 0.5) * (256.0 / N_BANDS), q, var;

      n += b->count[k];
      if (b->count[k] < MIN_BAND)
        continue;
      q = hist_quantile (b->hist[k], b->count[k], 0.25);
      var = (q / GAUSS_Q25) * (q / GAUSS_Q25);
      sw += b->count[k], sx += b->count[k] * x, sy += b->count[k] * var;
      sxx += b->count[k] * x * x, sxy += b->count[k] * x * var;
      vmax = MAX (vmax, var);
      used++;
    }
  if (n == 0 || med <= 0.0)
    return 0.0;
  if (used >= 2 && sw * sxx - sx * sx > 0)
    {
      beta = (sw * sxy - sx * sy) / (sw * sxx - sx * sx);
      alpha = (sy - beta * sx) / sw;
      if (beta < 0)
        beta = 0.0, alpha = sy / sw;
      alpha = MAX (alpha, 1e-3 * MAX (vmax, 1e-6));
    }
  {
    double xbar = 0.0;

    for (int k = 0; k < N_BANDS; k++)
      xbar += b->count[k] * (k + 0.5) * (256.0 / N_BANDS);
    xbar /= (double) n;
    beta = MAX (0.0, beta * xbar / alpha - SLOPE_FLOOR) * alpha / xbar;
  }
  for (int k = 0; k < N_BANDS; k++)
    {
      v[k] = alpha + beta * (k + 0.5) * (256.0 / N_BANDS);
      mean_v += b->count[k] * v[k];
    }
  mean_v /= (double) n;
  /* P(|N(0, λ v)| < med) = erf (med / sqrt (2 λ v)), decreasing in λ */
  for (int it = 0; it < 100; it++)
    {
      double f = 0.0;

      lam = sqrt (lo * hi);
      for (int k = 0; k < N_BANDS; k++)
        if (b->count[k])
          f += b->count[k] * erf (med / sqrt (2.0 * lam * v[k]));
      if (f / (double) n > 0.5)
        lo = lam;
      else
        hi = lam;
    }
  return lam * mean_v;
}

/* ---- correlation ----------------------------------------------------------------- */

/* Total variance over the diagonal detail's for a ratio R of diagonal to
 * horizontal/vertical detail variance.  Cell details of noise with
 * neighbour correlation ρ (horizontal and vertical) and κρ² (diagonal) have
 * variances σ²(1 − κρ²) (horizontal, vertical) and σ²(1 − 2ρ + κρ²)
 * (diagonal); r(1 − κρ²) = 1 − 2ρ + κρ² is solved for ρ. */
static double
correlation_gain (double r)
{
  double rr = MAX (r, 0.05), rho, model;

  if (r >= R_HI)
    return 1.0;
  rho = (1.0 - sqrt (MAX (0.0, 1.0 - KAPPA * (1.0 - rr * rr)))) / (KAPPA * (1.0 + rr));
  model = 1.0 / (rr * (1.0 - KAPPA * rho * rho));
  if (r <= R_LO)
    return model;
  return model + (1.0 - model) * (r - R_LO) / (R_HI - R_LO);
}

/* The K-th smallest of N values of A (reordered). */
static float
select_kth (float *a, gint64 n, gint64 k)
{
  gint64 lo = 0, hi = n - 1;

  while (lo < hi)
    {
      float pivot = a[(lo + hi) / 2];
      gint64 i = lo, j = hi;

      while (i <= j)
        {
          while (a[i] < pivot)
            i++;
          while (a[j] > pivot)
            j--;
          if (i <= j)
            {
              float t = a[i];
              a[i] = a[j], a[j] = t;
              i++, j--;
            }
        }
      if (k <= j)
        hi = j;
      else if (k >= i)
        lo = i;
      else
        break;
    }
  return a[k];
}

/* DST [ch][cw] = the sum of SRC over the BOX×BOX cells around each cell
 * (edges repeated), less the cell itself when RING. */
static void
box_sum (const float *src, int64_t ch, int64_t cw, gboolean ring, float *dst)
{
  for (int64_t i = 0; i < ch; i++)
    for (int64_t j = 0; j < cw; j++)
      {
        float s = 0.0f;

        for (int di = -BOX / 2; di <= BOX / 2; di++)
          for (int dj = -BOX / 2; dj <= BOX / 2; dj++)
            s += src[CLAMP (i + di, 0, ch - 1) * cw + CLAMP (j + dj, 0, cw - 1)];
        dst[i * cw + j] = ring ? s - src[i * cw + j] : s;
      }
}

/* The median of the N values of A (reordered), as the element at N / 2. */
static double
median (float *a, gint64 n)
{
  return n > 0 ? select_kth (a, n, n / 2) : 0.0;
}

double
gen_estimate_noise (const GenPixels *in)
{
  int colour = in->channels >= 3 ? 3 : 1;
  int64_t ch = in->height / 2, cw = in->width / 2;
  gint64 nc = ch * cw;
  double wd[3], wv[3], total = 0.0;
  float *act, *a, *sorted, *dd, *dv;
  Bands *b;

  if (nc < 1)
    return 0.0;
  b = g_new (Bands, 1);
  act = g_new (float, (gsize) nc * colour);  /* [colour][ch][cw] detail energy / W */
  dd = g_new (float, nc);                    /* |diagonal details| */
  dv = g_new (float, 2 * (gsize) nc);        /* |horizontal and vertical details| */
  for (int c = 0; c < colour; c++)
    {
      memset (b, 0, sizeof *b);
      for (gint64 k = 0; k < nc; k++)
        {
          Cell e = cell_at (in, c, k / cw, k % cw);

          bands_add (b, e.hh, e.m);
          dd[k] = fabsf (e.hh);
        }
      wd[c] = bands_mean_variance (b, median (dd, nc));
      memset (b, 0, sizeof *b);
      for (gint64 k = 0; k < nc; k++)
        {
          Cell e = cell_at (in, c, k / cw, k % cw);

          bands_add (b, e.hl, e.m);
          bands_add (b, e.lh, e.m);
          dv[2 * k] = fabsf (e.hl), dv[2 * k + 1] = fabsf (e.lh);
          act[c * nc + k] = (e.hl * e.hl + e.lh * e.lh + e.hh * e.hh) / 3.0f
                            / (float) MAX (wd[c], 1e-6);
        }
      wv[c] = bands_mean_variance (b, median (dv, 2 * nc));
    }
  g_free (b);

  a = g_new (float, nc);       /* [ch][cw] activity around each cell */
  sorted = g_new (float, nc);
  for (int c = 0; c < colour; c++)
    {
      gint64 n = 0;
      double r = 1.0, gain, thr, qd, qv;

      /* the flat cells: by the other channels' activity (which the cell's own
       * noise does not touch), or for gray by the cells around it */
      if (colour == 3)
        for (gint64 k = 0; k < nc; k++)
          sorted[k] = act[((c + 1) % 3) * nc + k] + act[((c + 2) % 3) * nc + k];
      else
        memcpy (sorted, act, sizeof (float) * nc);
      box_sum (sorted, ch, cw, colour == 1, a);
      memcpy (sorted, a, sizeof (float) * nc);
      thr = select_kth (sorted, nc, (gint64) (FLAT_FRAC * (nc - 1)));
      for (gint64 k = 0; k < nc; k++)
        if (a[k] <= thr)
          {
            Cell e = cell_at (in, c, k / cw, k % cw);

            dd[n] = fabsf (e.hh);
            dv[2 * n] = fabsf (e.hl), dv[2 * n + 1] = fabsf (e.lh);
            n++;
          }
      qd = median (dd, n);
      qv = median (dv, 2 * n);
      if (qv > 0)
        r = (qd / qv) * (qd / qv);
      gain = correlation_gain (r);
      /* the variance through the diagonal details, or through the horizontal
       * and vertical ones (HV = HH / r), whichever texture raised less */
      total += r >= R_HI ? MIN (wd[c], wv[c]) : MIN (wd[c] * gain, wv[c] * gain * r);
    }
  g_free (a);
  g_free (sorted);
  g_free (act);
  g_free (dd);
  g_free (dv);
  return sqrt (total / colour);
}

/* ---- the Bayer phase of demosaiced noise ---------------------------------------- */

/* Where a mosaic measured a colour, the developed image has that colour's raw
 * sample (its whole noise); elsewhere it has an interpolation of neighbouring
 * samples (less noise, and smoother).  So the median |Laplacian| of the red
 * channel is highest on the red sites, and of blue on the blue sites, which
 * sit diagonally across from them.  White, signal-dependent and JPEG noise
 * give the four sites the same median (ratios 1.00–1.03 on McMaster);
 * bilinearly demosaiced noise 1.17–2.3. */
#define PHASE_RATIO 1.1

gboolean
gen_estimate_bayer_phase (const GenPixels *in, int *py, int *px)
{
  guint32 *hist;
  guint64 count[8] = { 0 };
  int best[2] = { 0, 0 };
  gboolean found = TRUE;

  *py = *px = 0;
  if (in->channels < 3 || in->width < 8 || in->height < 8)
    return FALSE;
  hist = g_new0 (guint32, 8 * (gsize) HIST_BINS);  /* [red, blue][y & 1][x & 1] */
  for (int64_t y = 1; y + 1 < in->height; y++)
    {
      const float *row = in->data + (gsize) y * in->width * in->channels;
      gsize up = (gsize) in->width * in->channels;

      for (int64_t x = 1; x + 1 < in->width; x++)
        for (int i = 0; i < 2; i++)
          {
            const float *p = row + (gsize) x * in->channels + 2 * i;
            /* a quarter of the Laplacian, so that it stays within 0..255 */
            float l = (p[0] - 0.25f * (p[-(gssize) up] + p[up] + p[-in->channels] + p[in->channels]))
                      * 255.0f;
            int k = i * 4 + (int) (y & 1) * 2 + (int) (x & 1);

            hist_add (hist + (gsize) k * HIST_BINS, l);
            count[k]++;
          }
    }
  for (int i = 0; i < 2; i++)
    {
      double med[4], second = 0.0;

      for (int k = 0; k < 4; k++)
        {
          med[k] = hist_quantile (hist + (gsize) (i * 4 + k) * HIST_BINS, count[i * 4 + k], 0.5);
          if (med[k] > med[best[i]])
            best[i] = k;
        }
      for (int k = 0; k < 4; k++)
        if (k != best[i])
          second = MAX (second, med[k]);
      if (!(med[best[i]] >= PHASE_RATIO * second && med[best[i]] > 0.0))
        found = FALSE;
    }
  g_free (hist);
  /* blue's sites are red's, one row and one column over */
  if (!found || best[1] != (best[0] ^ 3))
    return FALSE;
  *py = best[0] >> 1, *px = best[0] & 1;
  return TRUE;
}
