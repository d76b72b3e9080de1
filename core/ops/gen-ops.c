/* gen-ops.c — kernels: conv (im2col + GEMM), norms, activations, attention. */
#include "gen-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* OpenBLAS extension (declared in its cblas.h, but not in every cblas.h). */
extern void openblas_set_num_threads (int num_threads);

#define IM2COL_MAX_FLOATS ((int64_t) 4 << 20)   /* 16 MB band of columns */
#define ATTN_MAX_FLOATS   ((int64_t) 4 << 20)   /* 16 MB band of scores */

static int gen_threads = 1;
static int op_threads = 1;    /* parts the current context may use */
static _Thread_local bool in_part;   /* this thread runs a part of gen_parallel_for */

/* OpenBLAS's own threads stay off (one BLAS thread, always): the core
 * splits its products itself (gen_gemm), so the BLAS never has threads
 * spinning for work while the core's own loops want the cores. */
void
gen_set_threads (int n)
{
  gen_threads = MAX (1, n);
  openblas_set_num_threads (1);
  gen_set_op_threads (gen_threads);
}

int
gen_get_threads (void)
{
  return gen_threads;
}

void
gen_set_op_threads (int n)
{
  op_threads = MAX (1, n);
}

/* ---- the core's own parallel loops --------------------------------------
 * Persistent threads, started when first needed (never per op), that wait
 * for a job: a function and a part count.  Handing a job over allocates
 * nothing (a counter under one lock), so the denoising loop allocates
 * nothing here either.  The caller takes parts too, starting with part 0.
 * A part that calls gen_gemm or gen_parallel_for runs them on its own
 * thread.  One job at a time. */

#define MAX_PARTS 64

static GMutex pool_job;          /* held by the caller for a whole job */
static GMutex pool_lock;         /* guards what follows */
static GCond pool_go, pool_done;
static GenPartFunc pool_fn;
static gpointer pool_data;
static int pool_parts, pool_next, pool_left, pool_threads;

/* Runs parts of the current job until none is left to take; called and
 * returns with pool_lock held. */
static void
pool_take_parts (void)
{
  while (pool_next < pool_parts)
    {
      GenPartFunc fn = pool_fn;
      gpointer data = pool_data;
      int part = pool_next++, parts = pool_parts;

      g_mutex_unlock (&pool_lock);
      fn (part, parts, data);
      g_mutex_lock (&pool_lock);
      if (--pool_left == 0)
        g_cond_signal (&pool_done);
    }
}

static gpointer
pool_worker (gpointer unused)
{
  (void) unused;
  in_part = true;
  g_mutex_lock (&pool_lock);
  for (;;)
    {
      pool_take_parts ();
      g_cond_wait (&pool_go, &pool_lock);
    }
  return NULL;
}

int
gen_parallel_parts (void)
{
  return in_part ? 1 : op_threads;
}

void
gen_parallel_for (int parts, GenPartFunc fn, gpointer data)
{
  parts = MIN (parts, MAX_PARTS);
  if (in_part || parts <= 1)
    {
      /* nested (this thread is itself a part), or nothing to share */
      for (int i = 0; i < parts; i++)
        fn (i, parts, data);
      return;
    }
  g_mutex_lock (&pool_job);
  g_mutex_lock (&pool_lock);
  /* fewer threads if no more can be had: the caller takes their parts */
  while (pool_threads < parts - 1)
    {
      GThread *t = g_thread_try_new ("generative-ops", pool_worker, NULL, NULL);

      if (!t)
        break;
      g_thread_unref (t);
      pool_threads++;
    }
  pool_fn = fn, pool_data = data;
  pool_parts = parts, pool_next = 0, pool_left = parts;
  g_cond_broadcast (&pool_go);
  in_part = true;
  pool_take_parts ();
  in_part = false;
  while (pool_left > 0)
    g_cond_wait (&pool_done, &pool_lock);
  pool_parts = pool_next = 0;
  g_mutex_unlock (&pool_lock);
  g_mutex_unlock (&pool_job);
}

typedef struct
{
  bool trans_a, trans_b;
  int m, n, k;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int lda, ldb, ldc;
  bool split_n;
  int piece;          /* > 0: rows of C per call (thin products, see gen_gemm) */
} Gemm;

static void
gemm_rows (const Gemm *g, int lo, int hi)
{
  cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
               g->trans_b ? CblasTrans : CblasNoTrans, hi - lo, g->n, g->k, g->alpha,
               g->trans_a ? g->a + lo : g->a + (gsize) lo * g->lda, g->lda, g->b, g->ldb,
               g->beta, g->c + (gsize) lo * g->ldc, g->ldc);
}

static void
gemm_part (int part, int parts, gpointer data)
{
  const Gemm *g = data;
  /* slices of 16 columns (or rows), the kernels' register blocking */
  int units = ((g->split_n ? g->n : g->m) + 15) / 16;
  int lo = MIN (units * part / parts * 16, g->split_n ? g->n : g->m);
  int hi = MIN (units * (part + 1) / parts * 16, g->split_n ? g->n : g->m);

  if (g->piece > 0)
    {
      /* whole pieces: the same calls whatever the number of parts */
      int pieces = (g->m + g->piece - 1) / g->piece;

      for (int i = pieces * part / parts; i < pieces * (part + 1) / parts; i++)
        gemm_rows (g, i * g->piece, MIN (g->m, (i + 1) * g->piece));
    }
  else if (hi <= lo)
    return;
  else if (g->split_n)
    cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                 g->trans_b ? CblasTrans : CblasNoTrans, g->m, hi - lo, g->k, g->alpha, g->a,
                 g->lda, g->trans_b ? g->b + (gsize) lo * g->ldb : g->b + lo, g->ldb, g->beta,
                 g->c + lo, g->ldc);
  else
    gemm_rows (g, lo, hi);
}

void
gen_gemm (bool trans_a, bool trans_b, int m, int n, int k,
          float alpha, const float *a, int lda,
          const float *b, int ldb,
          float beta, float *c, int ldc)
{
  Gemm g = { trans_a, trans_b, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, true, 0 };
  double mnk = (double) m * n * k;
  int parts;

  if (m <= 0 || n <= 0)
    return;
  if (k <= 0)
    {
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          c[(gsize) i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(gsize) i * ldc + j];
      return;
    }
  /* Thin products (at most 64 columns: a batch-1 UNet at 16×16 and below)
   * run in pieces of rows of at most 10⁶ M·N·K: OpenBLAS (0.3.17 on) computes
   * such products with its small-matrix kernels, which read the weights in
   * place where its general path packs all of them for these few columns
   * (1.2–1.4× on the ddpm-cifar10 shapes at 16×16 and 8×8).  Pieces below
   * 4 rows lose; those products stay whole.  The pieces depend on the shape
   * only, and the threads take whole pieces.
   * Other products go side by side on the core's threads as slices of C's
   * columns, or of its rows when it is tall and narrow.  OpenBLAS computes
   * every element of a slice as it does in the whole product (K is never
   * split), so the bits do not depend on the thread count: test-jobs holds
   * 1 against 3 threads, tiled and whole, and test-ops every op.
   * Either way a part must be large enough to pay for the hand-over
   * (~2 MFLOP). */
  parts = gen_parallel_parts ();
  if (!trans_b && n <= 64 && mnk > 1e6 && 1e6 / ((double) n * k) >= 4)
    {
      g.piece = (int) (1e6 / ((double) n * k));
      parts = MIN (parts, (m + g.piece - 1) / g.piece);
    }
  else if (parts > 1)
    {
      g.split_n = n >= m || n >= 64 * parts;
      parts = MIN (parts, ((g.split_n ? n : m) + 15) / 16);
    }
  parts = (int) MIN ((double) parts, 2.0 * mnk / 2e6);
  if (parts > 1)
    gen_parallel_for (parts, gemm_part, &g);
  else
    gemm_part (0, 1, &g);
}

/* ---- vectorised elementwise kernels ------------------------------------ */

/* The hot elementwise loops are compiled for AVX-512, AVX2 and the
 * baseline, picked at load by the CPU (GCC function multiversioning); the
 * code is plain C the compiler vectorises. */
#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && !defined(__clang__) \
    && !defined(__SANITIZE_ADDRESS__)
#define GEN_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define GEN_CLONES
#endif

/* e^x for the SiLU: Cody–Waite reduction x = n ln 2 + r, |r| ≤ ln 2 / 2,
 * then Cephes' degree-6 polynomial for e^r (relative error < 2e-7, like
 * expf), scaled by 2^n through the exponent bits.  Branch-free, so it
 * vectorises; x is clamped to where e^x is a normal float. */
static inline float
exp_approx (float x)
{
  const float shift = 12582912.0f;          /* 1.5 · 2^23: rounds to an integer */
  float n, r, p;
  int32_t bits;
  union { int32_t i; float f; } u;

  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
  n = (x * 1.44269504088896341f + shift) - shift;
  r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  bits = ((int32_t) n + 127) << 23;
  u.i = bits;
  return p * u.f;
}

static inline float
silu1 (float v)
{
  return v / (1.0f + exp_approx (-v));
}

GEN_CLONES static void
affine_silu (const float *x, float *y, int64_t n, float a, float b)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = silu1 (x[i] * a + b);
}

GEN_CLONES static void
affine (const float *x, float *y, int64_t n, float a, float b)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] * a + b;
}

/* Σ (x − m) and Σ (x − m)² in double, from float partial sums over blocks
 * of 512 (16 lanes each, so the loop vectorises and each lane's error is
 * that of 32 terms). */
GEN_CLONES static void
sum_sq (const float *x, int64_t n, float m, double *sum, double *sq)
{
  double s = 0.0, q = 0.0;

  for (int64_t i0 = 0; i0 < n; i0 += 512)
    {
      int64_t len = MIN (512, n - i0);
      float ls[16] = { 0 }, lq[16] = { 0 };
      int64_t i = 0;

      for (; i + 16 <= len; i += 16)
        for (int k = 0; k < 16; k++)
          {
            float d = x[i0 + i + k] - m;
            ls[k] += d;
            lq[k] += d * d;
          }
      for (; i < len; i++)
        {
          float d = x[i0 + i] - m;
          ls[0] += d;
          lq[0] += d * d;
        }
      for (int k = 0; k < 16; k++)
        s += ls[k], q += lq[k];
    }
  *sum = s;
  *sq = q;
}

/* ---- convolution ------------------------------------------------------- */

int64_t
gen_conv2d_out_size (int64_t in, int k, int stride, int pad_before, int pad_after)
{
  int64_t span = in + pad_before + pad_after - k;
  return span < 0 ? 0 : span / stride + 1;
}

/* Fills COL [Ci*kh*kw, rows*Wo] for output rows [oy0, oy0 + rows) of a
 * conv over an H×W input.  Input row IY of channel C is at X + C·PLANE +
 * (IY/UP − ROW0)·W/UP: the whole image (PLANE = H·W, ROW0 = 0), a band of
 * rows the caller prepared, or with UP = 2 an image of half the size seen
 * through nearest-neighbour upsampling (which is then never made). */
static void
im2col_band (const float *x, int64_t plane, int64_t row0, int64_t ci, int64_t h, int64_t w,
             int up, int kh, int kw, int stride, int pt, int pl,
             int64_t oy0, int64_t rows, int64_t wo, float *col)
{
  int64_t ncol = rows * wo;
  int ush = up == 2 ? 1 : 0;     /* UP is 1 or 2 */

  for (int64_t c = 0; c < ci; c++)
    for (int ky = 0; ky < kh; ky++)
      for (int kx = 0; kx < kw; kx++)
        {
          float *dst = col + ((c * kh + ky) * kw + kx) * ncol;
          const float *src = x + c * plane;

          for (int64_t r = 0; r < rows; r++)
            {
              int64_t iy = (oy0 + r) * stride - pt + ky;
              float *d = dst + r * wo;

              if (iy < 0 || iy >= h)
                {
                  memset (d, 0, sizeof (float) * wo);
                  continue;
                }
              const float *s = src + ((iy >> ush) - row0) * (w >> ush);
              if (stride == 1)
                {
                  /* ix = ox - pl + kx: valid for ox in [lo, hi) */
                  int64_t lo = MAX (0, (int64_t) pl - kx);
                  int64_t hi = MIN (wo, w + pl - kx);

                  if (hi < lo)
                    hi = lo;
                  if (lo > 0)
                    memset (d, 0, sizeof (float) * lo);
                  if (hi > lo && up == 1)
                    memcpy (d + lo, s + lo - pl + kx, sizeof (float) * (hi - lo));
                  else
                    for (int64_t ox = lo; ox < hi; ox++)
                      d[ox] = s[(ox - pl + kx) >> ush];
                  if (hi < wo)
                    memset (d + hi, 0, sizeof (float) * (wo - hi));
                }
              else
                {
                  for (int64_t ox = 0; ox < wo; ox++)
                    {
                      int64_t ix = ox * stride - pl + kx;
                      d[ox] = (ix >= 0 && ix < w) ? s[ix >> ush] : 0.0f;
                    }
                }
            }
        }
}

/* Channel C of batch B of the concatenation [XA, XB] (XB may be NULL). */
static inline const float *
cat_channel (const GenTensor *xa, const GenTensor *xb, int64_t b, int64_t c)
{
  if (c < xa->ne[1])
    return xa->data + b * xa->nb[0] + c * xa->nb[1];
  return xb->data + b * xb->nb[0] + (c - xa->ne[1]) * xb->nb[1];
}

/* ---- Winograd F(4×4, 3×3) ------------------------------------------------
 *
 * A 3×3, stride-1, pad-1 conv as Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A over 4×4
 * output tiles (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks", 2016; interpolation points 0, ±1, ±2, ∞): per tile, 36
 * products per (Cout, Cin) pair instead of 144.  The products are 36 GEMMs
 * U_ξ [Cout × Cin] · V_ξ [Cin × tiles], one per position ξ of the 6×6
 * transformed tile; the input and output transforms are additions and
 * small multiples.  The input is read a band of tile rows at a time through
 * the same fusions as im2col: the group norm + SiLU pre-transform, the
 * channel concatenation and the nearest ×2 upsampling.  Error in float:
 * NMSE ~1e-12 against a double-precision direct conv. */

#define WINO_MAX_FLOATS ((int64_t) 1 << 20)   /* 4 MB of V and M per band */

typedef enum
{
  CONV_ALGO_AUTO,
  CONV_ALGO_IM2COL,
  CONV_ALGO_WINOGRAD,
} ConvAlgo;

/* GENERATIVE_CONV=im2col or winograd forces one (tests and benchmarks). */
static ConvAlgo
conv_algo (void)
{
  static gsize once = 0;
  static ConvAlgo algo = CONV_ALGO_AUTO;

  if (g_once_init_enter (&once))
    {
      const char *e = g_getenv ("GENERATIVE_CONV");

      if (e && strcmp (e, "im2col") == 0)
        algo = CONV_ALGO_IM2COL;
      else if (e && strcmp (e, "winograd") == 0)
        algo = CONV_ALGO_WINOGRAD;
      g_once_init_leave (&once, 1);
    }
  return algo;
}

/* Whether a 3×3 conv of CI input channels to HO × WO goes through Winograd. */
static bool
use_winograd (int64_t ci, int64_t ho, int64_t wo)
{
  switch (conv_algo ())
    {
    case CONV_ALGO_IM2COL:
      return false;
    case CONV_ALGO_WINOGRAD:
      return true;
    default:
      /* measured by bench-ops: from 16×16 up it wins (2.3× at 32×32 with
       * 128 channels); at 8×8 the four tiles' GEMMs are too thin, and
       * with 3 input channels the transforms outweigh the products */
      return ho >= 16 && wo >= 16 && ci >= 8;
    }
}

/* Y_a[x] = (G (X_0[x], X_1[x], X_2[x]))_a for x < N: G's rows are ¼·g0;
 * −(g0+g1+g2)/6; −(g0−g1+g2)/6; g0/24+g1/12+g2/6; g0/24−g1/12+g2/6; g2.
 * Y_a is Y0 + a·YS. */
static inline void
wino_g (const float *restrict x0, const float *restrict x1, const float *restrict x2,
        float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
        float *restrict y4, float *restrict y5, int64_t n)
{
  for (int64_t x = 0; x < n; x++)
    {
      float g0 = x0[x], g1 = x1[x], g2 = x2[x];
      float e = (g0 + g2) * (-1.0f / 6), f = g1 * (1.0f / 6);
      float p = g0 * (1.0f / 24) + g2 * (1.0f / 6), q = g1 * (1.0f / 12);

      y0[x] = g0 * 0.25f;
      y1[x] = e - f;
      y2[x] = e + f;
      y3[x] = p + q;
      y4[x] = p - q;
      y5[x] = g2;
    }
}

/* U [36][CO_ALL][Ci]: G g Gᵀ of every 3×3 kernel g of W [Co, Ci, 3, 3]
 * (CO of the CO_ALL output channels, from W and U on).  The kernels of one
 * output channel are split into their nine taps first (TAPS [9][Ci], then
 * G g in TAPS + 9·Ci [6][3][Ci]), so that the transforms run across them. */
GEN_CLONES static void
wino_weights (const float *w, int64_t co, int64_t ci, int64_t co_all, float *u, float *taps)
{
  int64_t plane = co_all * ci;
  float *t = taps + 9 * ci;

  for (int64_t o = 0; o < co; o++)
    {
      const float *wo = w + o * ci * 9;
      float *uo = u + o * ci;

      for (int64_t i = 0; i < ci; i++)
        for (int k = 0; k < 9; k++)
          taps[k * ci + i] = wo[i * 9 + k];
      /* G g, column k of every kernel: T[a][k] = t + (a·3 + k)·Ci */
      for (int k = 0; k < 3; k++)
        wino_g (taps + k * ci, taps + (3 + k) * ci, taps + (6 + k) * ci,
                t + k * ci, t + (3 + k) * ci, t + (6 + k) * ci, t + (9 + k) * ci,
                t + (12 + k) * ci, t + (15 + k) * ci, ci);
      /* (G g) Gᵀ, row a */
      for (int a = 0; a < 6; a++)
        {
          float *ua = uo + (int64_t) (a * 6) * plane;
          const float *ta = t + a * 3 * ci;

          wino_g (ta, ta + ci, ta + 2 * ci, ua, ua + plane, ua + 2 * plane, ua + 3 * plane,
                  ua + 4 * plane, ua + 5 * plane, ci);
        }
    }
}

/* Row IY (may be outside the image: zeros) of input channel C as the conv
 * sees it — transformed, concatenated, upsampled — padded with one zero
 * column on the left and zeros after, WP = 4·L values, stored split into
 * its four phases: position p at DST[(p % 4)·L + p / 4], so that the
 * transforms read every tile's columns with unit stride.  NAT [WP] is
 * scratch. */
static void
wino_load_row (const GenTensor *xa, const GenTensor *xb, const float *pre_a, const float *pre_b,
               int up, int64_t b, int64_t c, int64_t ci, int64_t iy, int64_t h, int64_t w,
               int64_t wp, float *nat, float *dst)
{
  int64_t L = wp / 4;

  if (iy < 0 || iy >= h)
    {
      memset (dst, 0, sizeof (float) * wp);
      return;
    }
  nat[0] = 0.0f;
  if (up == 2)
    {
      const float *s = xa->data + b * xa->nb[0] + c * xa->nb[1] + (iy >> 1) * (w >> 1);

      for (int64_t x = 0; x < w; x++)
        nat[1 + x] = s[x >> 1];
    }
  else
    {
      const float *s = cat_channel (xa, xb, b, c) + iy * w;

      if (pre_a)
        affine_silu (s, nat + 1, w, pre_a[b * ci + c], pre_b[b * ci + c]);
      else
        memcpy (nat + 1, s, sizeof (float) * w);
    }
  memset (nat + 1 + w, 0, sizeof (float) * (wp - 1 - w));
  for (int64_t j = 0; j < L; j++)
    {
      dst[j] = nat[4 * j];
      dst[L + j] = nat[4 * j + 1];
      dst[2 * L + j] = nat[4 * j + 2];
      dst[3 * L + j] = nat[4 * j + 3];
    }
}

/* Y_k[x] = (Bᵀ (X_0[x] … X_5[x]))_k for x < N: one 6-point input
 * transform across N columns.  The rows are separate restrict pointers so
 * that GCC 12 vectorises it (six offsets from one base defeat it). */
static inline void
wino_bt (const float *restrict x0, const float *restrict x1, const float *restrict x2,
         const float *restrict x3, const float *restrict x4, const float *restrict x5,
         float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
         float *restrict y4, float *restrict y5, int64_t n)
{
  for (int64_t x = 0; x < n; x++)
    {
      float a = x1[x], bb = x2[x], c = x3[x], d = x4[x];

      y0[x] = 4.0f * x0[x] - 5.0f * bb + d;
      y1[x] = -4.0f * (a + bb) + c + d;
      y2[x] = 4.0f * (a - bb) - c + d;
      y3[x] = 2.0f * (c - a) - bb + d;
      y4[x] = 2.0f * (a - c) - bb + d;
      y5[x] = 4.0f * a - 5.0f * c + x5[x];
    }
}

/* Y_k[x] = (Aᵀ (X_0[x] … X_5[x]))_k for x < N: one output transform. */
static inline void
wino_at (const float *restrict x0, const float *restrict x1, const float *restrict x2,
         const float *restrict x3, const float *restrict x4, const float *restrict x5,
         float *restrict y0, float *restrict y1, float *restrict y2, float *restrict y3,
         int64_t n)
{
  for (int64_t x = 0; x < n; x++)
    {
      float a = x1[x] + x2[x], bb = x1[x] - x2[x], c = x3[x] + x4[x], d = x3[x] - x4[x];

      y0[x] = x0[x] + a + c;
      y1[x] = bb + 2.0f * d;
      y2[x] = a + 4.0f * c;
      y3[x] = bb + 8.0f * d + x5[x];
    }
}

/* V[ξ·VS + t] for the NTX tiles of one tile row whose six input rows are
 * P (row stride WP, phase-split): Bᵀ d B, first down the columns (all of
 * the row at once) into TMP [6][WP], then along each tile. */
GEN_CLONES static void
wino_input_row (const float *p, int64_t wp, int64_t ntx, float *tmp, float *v, int64_t vs)
{
  int64_t L = wp / 4;

  wino_bt (p, p + wp, p + 2 * wp, p + 3 * wp, p + 4 * wp, p + 5 * wp,
           tmp, tmp + wp, tmp + 2 * wp, tmp + 3 * wp, tmp + 4 * wp, tmp + 5 * wp, wp);
  for (int i = 0; i < 6; i++)
    {
      /* column 4·tx + l of the tile row: phases 0-3 at tx, then 0-1 at tx + 1 */
      const float *q = tmp + i * wp;
      float *vi = v + (int64_t) (i * 6) * vs;

      wino_bt (q, q + L, q + 2 * L, q + 3 * L, q + 1, q + L + 1,
               vi, vi + vs, vi + 2 * vs, vi + 3 * vs, vi + 4 * vs, vi + 5 * vs, ntx);
    }
}

/* OUT [4 rows][4 phases][NTX] = Aᵀ m A for the NTX tiles of one tile row,
 * M[ξ·MS + t]; S [6][4][NTX] is scratch.  Row k of the output, column
 * 4·t + j, is OUT[(k·4 + j)·NTX + t]. */
GEN_CLONES static void
wino_output_row (const float *m, int64_t ms, int64_t ntx, float *s, float *out)
{
  for (int i = 0; i < 6; i++)
    {
      const float *mi = m + (int64_t) (i * 6) * ms;
      float *si = s + (int64_t) (i * 4) * ntx;

      wino_at (mi, mi + ms, mi + 2 * ms, mi + 3 * ms, mi + 4 * ms, mi + 5 * ms,
               si, si + ntx, si + 2 * ntx, si + 3 * ntx, ntx);
    }
  for (int j = 0; j < 4; j++)
    {
      const float *sj = s + (int64_t) j * ntx;
      int64_t d = 4 * ntx;

      wino_at (sj, sj + d, sj + 2 * d, sj + 3 * d, sj + 4 * d, sj + 5 * d,
               out + j * ntx, out + (4 + j) * ntx, out + (8 + j) * ntx, out + (12 + j) * ntx,
               ntx);
    }
}

/* One band of tile rows of one batch image, in parts: the input transform
 * by input channels, the 36 GEMMs by position, the output transform by
 * output channels.  Part P's buffers are ROWS + P·ROWS_N and TMP + P·TMP_N. */
typedef struct
{
  const GenTensor *wt, *xa, *xb;
  const float *pre_a, *pre_b;
  int up;
  GenTensor *y;
  const float *bias;     /* or NULL */
  bool accumulate;       /* Y += conv + bias, else Y = conv + bias */
  int64_t ci, co, h, w, ntx, wp;   /* WP: a loaded row, 4·(NTX + 1) ≥ 1 + W + 1 */
  int64_t b, ty0, nr, T;
  float *u, *v, *m, *rows, *tmp;
  int64_t rows_n, tmp_n;
} Wino;

static inline void
add_interleaved (float *restrict dst, const float *restrict s0, const float *restrict s1,
                 const float *restrict s2, const float *restrict s3, float b, int64_t n)
{
  for (int64_t t = 0; t < n; t++)
    {
      dst[4 * t] += s0[t] + b;
      dst[4 * t + 1] += s1[t] + b;
      dst[4 * t + 2] += s2[t] + b;
      dst[4 * t + 3] += s3[t] + b;
    }
}

static inline void
set_interleaved (float *restrict dst, const float *restrict s0, const float *restrict s1,
                 const float *restrict s2, const float *restrict s3, float b, int64_t n)
{
  for (int64_t t = 0; t < n; t++)
    {
      dst[4 * t] = s0[t] + b;
      dst[4 * t + 1] = s1[t] + b;
      dst[4 * t + 2] = s2[t] + b;
      dst[4 * t + 3] = s3[t] + b;
    }
}

/* DST[x] (+)= B + the output row SRC [4 phases][NTX] (x = 4·t + j at
 * SRC[j·NTX + t]), for x < W. */
GEN_CLONES static void
wino_put_row (float *dst, const float *src, int64_t ntx, int64_t w, float b, bool accumulate)
{
  int64_t full = w / 4;

  if (accumulate)
    add_interleaved (dst, src, src + ntx, src + 2 * ntx, src + 3 * ntx, b, full);
  else
    set_interleaved (dst, src, src + ntx, src + 2 * ntx, src + 3 * ntx, b, full);
  for (int64_t x = 4 * full; x < w; x++)
    dst[x] = (accumulate ? dst[x] : 0.0f) + src[(x & 3) * ntx + (x >> 2)] + b;
}

static inline void
part_range (int64_t n, int part, int parts, int64_t *lo, int64_t *hi)
{
  *lo = n * part / parts;
  *hi = n * (part + 1) / parts;
}

static void
wino_weights_part (int part, int parts, gpointer data)
{
  Wino *k = data;
  int64_t lo, hi;

  part_range (k->co, part, parts, &lo, &hi);
  if (hi > lo)
    wino_weights (k->wt->data + lo * k->ci * 9, hi - lo, k->ci, k->co, k->u + lo * k->ci,
                  k->tmp + part * k->tmp_n);
}

/* Input channel C of the band into V (ROWS, TMP: the part's scratch). */
static void
wino_input_channel (const Wino *k, int64_t c, float *rows, float *tmp)
{
  for (int64_t r = 0; r < 4 * k->nr + 2; r++)
    wino_load_row (k->xa, k->xb, k->pre_a, k->pre_b, k->up, k->b, c, k->ci, 4 * k->ty0 - 1 + r,
                   k->h, k->w, k->wp, tmp, rows + r * k->wp);
  for (int64_t r = 0; r < k->nr; r++)
    wino_input_row (rows + 4 * r * k->wp, k->wp, k->ntx, tmp, k->v + c * k->T + r * k->ntx,
                    k->ci * k->T);
}

/* Output channel O of the band from M into Y (OUT, TMP: the part's scratch). */
static void
wino_output_channel (const Wino *k, int64_t o, float *out, float *tmp)
{
  float *yo = k->y->data + k->b * k->y->nb[0] + o * k->y->nb[1];

  for (int64_t r = 0; r < k->nr; r++)
    {
      int64_t oy = 4 * (k->ty0 + r), nrow = MIN (4, k->h - oy);

      wino_output_row (k->m + o * k->T + r * k->ntx, k->co * k->T, k->ntx, tmp, out);
      for (int64_t j = 0; j < nrow; j++)
        wino_put_row (yo + (oy + j) * k->w, out + j * 4 * k->ntx, k->ntx, k->w,
                      k->bias ? k->bias[o] : 0.0f, k->accumulate);
    }
}

/* FN for the part's share of N channels, with the part's scratch. */
static void
wino_channels (const Wino *k, void (*fn) (const Wino *, int64_t, float *, float *), int64_t n,
               int part, int parts)
{
  int64_t lo, hi;

  part_range (n, part, parts, &lo, &hi);
  for (int64_t c = lo; c < hi; c++)
    fn (k, c, k->rows + part * k->rows_n, k->tmp + part * k->tmp_n);
}

static void
wino_input_part (int part, int parts, gpointer data)
{
  const Wino *k = data;

  wino_channels (k, wino_input_channel, k->ci, part, parts);
}

static void
wino_gemm_part (int part, int parts, gpointer data)
{
  Wino *k = data;
  int64_t lo, hi;

  part_range (36, part, parts, &lo, &hi);
  for (int64_t xi = lo; xi < hi; xi++)
    gen_gemm (false, false, (int) k->co, (int) k->T, (int) k->ci, 1.0f,
              k->u + xi * k->co * k->ci, (int) k->ci, k->v + xi * k->ci * k->T, (int) k->T,
              0.0f, k->m + xi * k->co * k->T, (int) k->T);
}

static void
wino_output_part (int part, int parts, gpointer data)
{
  const Wino *k = data;

  wino_channels (k, wino_output_channel, k->co, part, parts);
}

/* Bands side by side: each part runs whole bands (input transform, GEMMs,
 * output transform) with its own buffers; the bands' output rows are
 * disjoint.  One hand-over per conv instead of three per band. */
typedef struct
{
  const Wino *k;
  int64_t R, nty, bands, v_n, m_n;
} WinoBands;

static void
wino_bands_part (int part, int parts, gpointer data)
{
  const WinoBands *wb = data;
  Wino l = *wb->k;
  int64_t per_image = (wb->nty + wb->R - 1) / wb->R;

  l.v = wb->k->v + part * wb->v_n;
  l.m = wb->k->m + part * wb->m_n;
  l.rows = wb->k->rows + part * wb->k->rows_n;
  l.tmp = wb->k->tmp + part * wb->k->tmp_n;
  for (int64_t band = wb->bands * part / parts; band < wb->bands * (part + 1) / parts; band++)
    {
      l.b = band / per_image;
      l.ty0 = (band % per_image) * wb->R;
      l.nr = MIN (wb->R, wb->nty - l.ty0), l.T = l.nr * l.ntx;
      wino_input_part (0, 1, &l);
      wino_gemm_part (0, 1, &l);
      wino_output_part (0, 1, &l);
    }
}

/* Kept Winograd weights.  U is 4× the conv's weights; made per call it
 * costs about as much as the products when the image has few tiles (16×16
 * on 256 channels: 16 tiles), so for images of at most WINO_KEEP_TILES
 * tiles a conv keeps its U after the first call, within WINO_KEEP_BYTES for
 * the process (over that, U is made per call as before).  Kept or not, U is
 * the same bits. */
#define WINO_KEEP_TILES 64
#define WINO_KEEP_BYTES ((gsize) 256 << 20)

static GMutex wino_keep_lock;
static gsize  wino_kept_bytes;    /* under wino_keep_lock */
static float  wino_not_kept;      /* a full slot that holds nothing */

/* Counts BYTES more (or fewer, negative) kept; FALSE, counting nothing,
 * when that would pass WINO_KEEP_BYTES. */
static gboolean
wino_keep_count (gssize bytes)
{
  gboolean room;

  g_mutex_lock (&wino_keep_lock);
  room = bytes <= 0 || wino_kept_bytes + (gsize) bytes <= WINO_KEEP_BYTES;
  if (room)
    wino_kept_bytes += bytes;
  g_mutex_unlock (&wino_keep_lock);
  return room;
}

gpointer *
gen_conv2d_keep_new (void)
{
  return g_new0 (gpointer, 2);    /* [0] U or &wino_not_kept, [1] its bytes */
}

void
gen_conv2d_keep_free (gpointer slot)
{
  gpointer *s = slot;

  if (s[0] && s[0] != (gpointer) &wino_not_kept)
    {
      wino_keep_count (-(gssize) GPOINTER_TO_SIZE (s[1]));
      g_free (s[0]);
    }
  g_free (s);
}

/* K's U from KEEP, made there on the first call (the first caller makes
 * it, others wait); NULL when it is not kept. */
static float *
wino_kept (gpointer *keep, Wino *k, int parts)
{
  if (g_once_init_enter (&keep[0]))
    {
      gsize n = (gsize) 36 * k->co * k->ci, bytes = n * sizeof (float);
      float *u = NULL;

      if (wino_keep_count ((gssize) bytes) && !(u = g_try_new (float, n)))
        wino_keep_count (-(gssize) bytes);
      if (u)
        {
          Wino w = *k;

          w.u = u;
          w.tmp = g_new (float, (gsize) parts * w.tmp_n);
          gen_parallel_for ((int) MIN (parts, w.co), wino_weights_part, &w);
          g_free (w.tmp);
          keep[1] = GSIZE_TO_POINTER (bytes);
        }
      g_once_init_leave (&keep[0], u ? (gpointer) u : (gpointer) &wino_not_kept);
    }
  return keep[0] == (gpointer) &wino_not_kept ? NULL : keep[0];
}

/* Y (=, or += with ACCUMULATE) the 3×3 / stride 1 / pad 1 conv with BIAS
 * (or none) of the input conv2d_impl describes (XA, XB, PRE_A, PRE_B, UP),
 * by Winograd F(4×4, 3×3).  False (nothing done) when the scratch arena is
 * too small. */
static bool
conv3x3_winograd (const GenTensor *wt, const float *bias, gpointer *keep, const GenTensor *xa,
                  const GenTensor *xb, const float *pre_a, const float *pre_b, int up,
                  GenTensor *y, bool accumulate, GenArena *scratch)
{
  Wino k = { .wt = wt, .xa = xa, .xb = xb, .pre_a = pre_a, .pre_b = pre_b, .up = up, .y = y,
             .bias = bias, .accumulate = accumulate };
  WinoBands wb = { .k = &k };
  int64_t n = y->ne[0];
  int parts = gen_parallel_parts (), sets;
  gsize mark = gen_arena_mark (scratch);
  float *kept;

  k.co = wt->ne[0], k.ci = wt->ne[1], k.h = y->ne[2], k.w = y->ne[3];
  wb.nty = (k.h + 3) / 4, k.ntx = (k.w + 3) / 4, k.wp = 4 * (k.ntx + 1);
  /* bands of V and M within WINO_MAX_FLOATS (cache-sized: smaller bands
   * measured faster, down to thin GEMMs).  The bands, and so the GEMMs'
   * shapes, depend on the sizes only, never on the thread count: results
   * are the same bits for any number of threads. */
  wb.R = MIN (wb.nty, MAX (1, WINO_MAX_FLOATS / (36 * (k.ci + k.co) * k.ntx)));
  wb.bands = n * ((wb.nty + wb.R - 1) / wb.R);
  sets = parts > 1 && wb.bands >= parts ? parts : 1;   /* V and M buffers */
  wb.v_n = 36 * k.ci * wb.R * k.ntx, wb.m_n = 36 * k.co * wb.R * k.ntx;
  k.rows_n = MAX ((4 * wb.R + 2) * k.wp, 16 * k.ntx);   /* input rows, or output rows */
  k.tmp_n = MAX (6 * k.wp, 27 * k.ci);                   /* ≥ 24·NTX too */
  kept = keep && wb.nty * k.ntx <= WINO_KEEP_TILES ? wino_kept (keep, &k, parts) : NULL;
  k.u = kept ? kept : gen_arena_alloc (scratch, (gsize) (36 * k.co * k.ci));
  k.v = gen_arena_alloc (scratch, (gsize) (sets * wb.v_n));
  k.m = gen_arena_alloc (scratch, (gsize) (sets * wb.m_n));
  k.rows = gen_arena_alloc (scratch, (gsize) (parts * k.rows_n));
  k.tmp = gen_arena_alloc (scratch, (gsize) (parts * k.tmp_n));
  if (!k.u || !k.v || !k.m || !k.rows || !k.tmp)
    {
      gen_arena_release (scratch, mark);
      return false;
    }
  if (!kept)
    gen_parallel_for ((int) MIN (parts, k.co), wino_weights_part, &k);
  if (sets > 1)
    gen_parallel_for (parts, wino_bands_part, &wb);
  else
    for (k.b = 0; k.b < n; k.b++)
      for (k.ty0 = 0; k.ty0 < wb.nty; k.ty0 += wb.R)
        {
          /* one band at a time, each stage split between the parts */
          k.nr = MIN (wb.R, wb.nty - k.ty0), k.T = k.nr * k.ntx;
          gen_parallel_for ((int) MIN (parts, k.ci), wino_input_part, &k);   /* V [36][Ci][T] */
          gen_parallel_for (MIN (parts, 36), wino_gemm_part, &k);           /* M_ξ = U_ξ V_ξ */
          gen_parallel_for ((int) MIN (parts, k.co), wino_output_part, &k);  /* Y = Aᵀ M A */
        }
  gen_arena_release (scratch, mark);
  return true;
}

/* The im2col columns of one band, for the input channels of a part (each
 * channel transformed first when PRE_A is given). */
typedef struct
{
  const GenConv2d *conv;
  const GenTensor *xa, *xb;
  const float *pre_a, *pre_b;
  int up;
  int64_t b, ci, h, w, wo;
  int kh, kw;
  int64_t oy0, rows, in_rows;
  float *band, *col;
} Im2col;

static void
im2col_part (int part, int parts, gpointer data)
{
  const Im2col *k = data;
  const GenConv2d *conv = k->conv;
  int64_t lo = k->ci * part / parts, hi = k->ci * (part + 1) / parts;
  int64_t ncol = k->rows * k->wo, h = k->h, w = k->w;

  for (int64_t c = lo; c < hi; c++)
    {
      float *col = k->col + c * k->kh * k->kw * ncol;

      if (k->pre_a)
        {
          /* the input rows this band reads, transformed */
          int64_t r0 = MAX (0, k->oy0 * conv->stride - conv->pad[0]);
          int64_t r1 = MIN (h, (k->oy0 + k->rows - 1) * conv->stride - conv->pad[0] + k->kh);
          float *band = k->band + c * k->in_rows * w;

          if (r1 > r0)
            affine_silu (cat_channel (k->xa, k->xb, k->b, c) + r0 * w, band, (r1 - r0) * w,
                         k->pre_a[k->b * k->ci + c], k->pre_b[k->b * k->ci + c]);
          im2col_band (band, k->in_rows * w, r0, 1, h, w, 1, k->kh, k->kw, conv->stride,
                       conv->pad[0], conv->pad[1], k->oy0, k->rows, k->wo, col);
        }
      else
        im2col_band (cat_channel (k->xa, k->xb, k->b, c), h * w / (k->up * k->up), 0, 1, h, w,
                     k->up, k->kh, k->kw, conv->stride, conv->pad[0], conv->pad[1], k->oy0,
                     k->rows, k->wo, col);
    }
}

/* TX [Ci][HW] = silu (x · PRE_A + PRE_B) of batch B, a part's channels. */
typedef struct
{
  const GenTensor *xa, *xb;
  const float *pre_a, *pre_b;
  int64_t b, ci, hw;
  float *tx;
} Affine;

static void
affine_part (int part, int parts, gpointer data)
{
  const Affine *k = data;

  for (int64_t c = k->ci * part / parts; c < k->ci * (part + 1) / parts; c++)
    affine_silu (cat_channel (k->xa, k->xb, k->b, c), k->tx + c * k->hw, k->hw,
                 k->pre_a[k->b * k->ci + c], k->pre_b[k->b * k->ci + c]);
}

/* The convolution of the channel concatenation [XA, XB] (XB may be NULL),
 * or of silu ([XA, XB] · PRE_A + PRE_B) per (batch, channel) when PRE_A is
 * given.  Neither the concatenation nor the transformed input is ever made
 * whole: the transform is applied to a band of rows at a time (a group
 * norm + SiLU fused into the conv that follows it), and the two inputs
 * feed im2col (or, for 1×1, the GEMM) directly. */
static void
conv2d_impl (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb, const float *pre_a,
             const float *pre_b, int up, GenTensor *y, bool accumulate, GenArena *scratch)
{
  const GenTensor *wt = &conv->weight;
  int64_t co = wt->ne[0], ci = wt->ne[1];
  int kh = (int) wt->ne[2], kw = (int) wt->ne[3];
  int64_t n = xa->ne[0], h = xa->ne[2] * up, w = xa->ne[3] * up;
  int64_t ca = xa->ne[1], cb = xb ? xb->ne[1] : 0;
  int64_t ho = gen_conv2d_out_size (h, kh, conv->stride, conv->pad[0], conv->pad[2]);
  int64_t wo = gen_conv2d_out_size (w, kw, conv->stride, conv->pad[1], conv->pad[3]);
  int64_t K = ci * kh * kw;
  bool direct;

  g_return_if_fail (ca + cb == ci && y->ne[0] == n && y->ne[1] == co
                    && y->ne[2] == ho && y->ne[3] == wo);
  g_return_if_fail (!xb || (xb->ne[0] == n && xb->ne[2] == h && xb->ne[3] == w));
  g_return_if_fail (up == 1 || (!xb && !pre_a));
  g_return_if_fail (gen_tensor_is_contiguous (xa) && gen_tensor_is_contiguous (y)
                    && (!xb || gen_tensor_is_contiguous (xb)));
  if (!xa->data || (xb && !xb->data) || !y->data || !wt->data)
    return;

  if (kh == 3 && kw == 3 && conv->stride == 1 && conv->pad[0] == 1 && conv->pad[1] == 1
      && conv->pad[2] == 1 && conv->pad[3] == 1 && use_winograd (ci, ho, wo)
      && conv3x3_winograd (wt, conv->bias.data, conv->keep, xa, xb, pre_a, pre_b, up, y,
                           accumulate, scratch))
    return;

  /* Start from the bias (or zero), then accumulate the products. */
  if (!accumulate)
    {
      for (int64_t b = 0; b < n; b++)
        for (int64_t c = 0; c < co; c++)
          {
            float *dst = y->data + b * y->nb[0] + c * y->nb[1];
            float v = conv->bias.data ? conv->bias.data[c] : 0.0f;
            for (int64_t i = 0; i < ho * wo; i++)
              dst[i] = v;
          }
    }
  else if (conv->bias.data)
    {
      gen_add_channel_bias (y, conv->bias.data, 0);
    }

  direct = kh == 1 && kw == 1 && conv->stride == 1 && up == 1
           && conv->pad[0] == 0 && conv->pad[1] == 0 && conv->pad[2] == 0 && conv->pad[3] == 0;

  if (direct)
    {
      gsize mark = gen_arena_mark (scratch);
      float *tx = pre_a ? gen_arena_alloc (scratch, (gsize) (ci * h * w)) : NULL;

      if (pre_a && !tx)
        return;
      for (int64_t b = 0; b < n; b++)
        {
          float *yb = y->data + b * y->nb[0];

          if (pre_a)
            {
              Affine k = { xa, xb, pre_a, pre_b, b, ci, h * w, tx };

              gen_parallel_for ((int) MIN (ci, gen_parallel_parts ()), affine_part, &k);
              gen_gemm (false, false, (int) co, (int) (ho * wo), (int) ci, 1.0f,
                        wt->data, (int) ci, tx, (int) (h * w), 1.0f, yb, (int) (ho * wo));
              continue;
            }
          /* W = [Wa | Wb] column blocks: y += Wa·xa + Wb·xb */
          gen_gemm (false, false, (int) co, (int) (ho * wo), (int) ca, 1.0f,
                    wt->data, (int) ci, xa->data + b * xa->nb[0], (int) (h * w),
                    1.0f, yb, (int) (ho * wo));
          if (xb)
            gen_gemm (false, false, (int) co, (int) (ho * wo), (int) cb, 1.0f,
                      wt->data + ca, (int) ci, xb->data + b * xb->nb[0], (int) (h * w),
                      1.0f, yb, (int) (ho * wo));
        }
      gen_arena_release (scratch, mark);
      return;
    }

  {
    int64_t rows_per_band = MAX (1, IM2COL_MAX_FLOATS / MAX (1, K * wo));
    int64_t in_rows = 0;
    gsize mark = gen_arena_mark (scratch);
    float *col, *band = NULL;

    rows_per_band = MIN (rows_per_band, ho);
    col = gen_arena_alloc (scratch, (gsize) (K * rows_per_band * wo));
    if (pre_a)
      {
        in_rows = MIN (h, (rows_per_band - 1) * conv->stride + kh);
        band = gen_arena_alloc (scratch, (gsize) (ci * in_rows * w));
      }
    if (!col || (pre_a && !band))
      return;
    for (int64_t b = 0; b < n; b++)
      for (int64_t oy0 = 0; oy0 < ho; oy0 += rows_per_band)
        {
          int64_t rows = MIN (rows_per_band, ho - oy0);

          Im2col k = { conv, xa, xb, pre_a, pre_b, up, b, ci, h, w, wo, kh, kw, oy0, rows,
                       in_rows, band, col };

          gen_parallel_for ((int) MIN (ci, gen_parallel_parts ()), im2col_part, &k);
          gen_gemm (false, false, (int) co, (int) (rows * wo), (int) K, 1.0f,
                    wt->data, (int) K, col, (int) (rows * wo),
                    1.0f, y->data + b * y->nb[0] + oy0 * wo, (int) (ho * wo));
        }
    gen_arena_release (scratch, mark);
  }
}

void
gen_conv2d (const GenConv2d *conv, const GenTensor *x, GenTensor *y,
            bool accumulate, GenArena *scratch)
{
  conv2d_impl (conv, x, NULL, NULL, NULL, 1, y, accumulate, scratch);
}

void
gen_conv2d_cat (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb, GenTensor *y,
                bool accumulate, GenArena *scratch)
{
  conv2d_impl (conv, xa, xb, NULL, NULL, 1, y, accumulate, scratch);
}

void
gen_conv2d_up2 (const GenConv2d *conv, const GenTensor *x, GenTensor *y, GenArena *scratch)
{
  conv2d_impl (conv, x, NULL, NULL, NULL, 2, y, false, scratch);
}

/* ---- normalisation ---------------------------------------------------- */

/* The mean and 1/std of group G of batch BI of the channel concatenation
 * [XA, XB] (XB may be NULL): one pass about a shift (the first value), so
 * the variance does not cancel when the mean is large against the spread;
 * a group's channels are contiguous within each input. */
static void
group_stats (const GenGroupNorm *gn, const GenTensor *xa, const GenTensor *xb, int64_t bi, int g,
             double *mean, float *rstd)
{
  int64_t c = xa->ne[1] + (xb ? xb->ne[1] : 0), hw = xa->ne[2] * xa->ne[3];
  int64_t cpg = c / gn->groups, cnt = cpg * hw, c0 = g * cpg;
  double sum = 0.0, sq = 0.0, d;
  float shift = cnt > 0 ? cat_channel (xa, xb, bi, c0)[0] : 0.0f;

  for (int64_t cc = 0; cc < cpg;)
    {
      int64_t run = c0 + cc < xa->ne[1] ? MIN (cpg - cc, xa->ne[1] - (c0 + cc)) : cpg - cc;
      double s1, q1;

      sum_sq (cat_channel (xa, xb, bi, c0 + cc), run * hw, shift, &s1, &q1);
      sum += s1, sq += q1;
      cc += run;
    }
  d = sum / (double) cnt;
  *mean = shift + d;
  *rstd = (float) (1.0 / sqrt (MAX (0.0, sq / (double) cnt - d * d) + gn->eps));
}

typedef struct
{
  const GenGroupNorm *gn;
  const GenTensor *xa, *xb;
  float *a, *b;           /* coefficients out (group_norm_coeffs), or NULL */
  GenTensor *y;           /* normalised out (gen_group_norm), or NULL */
  bool silu;
} NormJob;

/* The (batch, group) pairs of PART: their statistics, then A and B or Y. */
static void
norm_part (int part, int parts, gpointer data)
{
  const NormJob *k = data;
  const GenGroupNorm *gn = k->gn;
  int64_t c = k->xa->ne[1] + (k->xb ? k->xb->ne[1] : 0), cpg = c / gn->groups;
  int64_t hw = k->xa->ne[2] * k->xa->ne[3], pairs = k->xa->ne[0] * gn->groups;
  int64_t lo = pairs * part / parts, hi = pairs * (part + 1) / parts;

  for (int64_t pi = lo; pi < hi; pi++)
    {
      int64_t bi = pi / gn->groups;
      int g = (int) (pi % gn->groups);
      double mean;
      float rstd;

      group_stats (gn, k->xa, k->xb, bi, g, &mean, &rstd);
      for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++)
        {
          float a = rstd * gn->weight.data[ch], b = gn->bias.data[ch] - (float) mean * a;

          if (k->a)
            {
              k->a[bi * c + ch] = a;
              k->b[bi * c + ch] = b;
              continue;
            }
          {
            const float *xi = k->xa->data + bi * k->xa->nb[0] + ch * hw;
            float *yi = k->y->data + bi * k->y->nb[0] + ch * hw;

            if (k->silu)
              affine_silu (xi, yi, hw, a, b);
            else
              affine (xi, yi, hw, a, b);
          }
        }
    }
}

/* Per (batch, channel) A and B such that norm (x) = x · A + B. */
static void
group_norm_coeffs (const GenGroupNorm *gn, const GenTensor *xa, const GenTensor *xb, float *a,
                   float *b)
{
  NormJob k = { gn, xa, xb, a, b, NULL, false };
  int64_t pairs = xa->ne[0] * gn->groups;

  gen_parallel_for ((int) MIN (pairs, gen_parallel_parts ()), norm_part, &k);
}

void
gen_group_norm (const GenGroupNorm *gn, const GenTensor *x, GenTensor *y, bool silu)
{
  NormJob k = { gn, x, NULL, NULL, NULL, y, silu };
  int64_t c = x->ne[1];

  g_return_if_fail (gn->groups > 0 && c % gn->groups == 0);
  g_return_if_fail (gen_tensor_same_shape (x, y));
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  /* no allocation: each group's coefficients are applied as they come */
  gen_parallel_for ((int) MIN (x->ne[0] * gn->groups, gen_parallel_parts ()), norm_part, &k);
}

void
gen_conv2d_norm_silu (const GenConv2d *conv, const GenGroupNorm *gn, const GenTensor *x,
                      GenTensor *y, bool accumulate, GenArena *scratch)
{
  gen_conv2d_cat_norm_silu (conv, gn, x, NULL, y, accumulate, scratch);
}

void
gen_conv2d_cat_norm_silu (const GenConv2d *conv, const GenGroupNorm *gn, const GenTensor *xa,
                          const GenTensor *xb, GenTensor *y, bool accumulate, GenArena *scratch)
{
  int64_t n = xa->ne[0], c = xa->ne[1] + (xb ? xb->ne[1] : 0);
  gsize mark;
  float *a;

  g_return_if_fail (gn->groups > 0 && c % gn->groups == 0);
  g_return_if_fail (gen_tensor_is_contiguous (xa) && (!xb || gen_tensor_is_contiguous (xb)));
  if (!xa->data || (xb && !xb->data) || !y->data)
    return;
  mark = gen_arena_mark (scratch);
  if ((a = gen_arena_alloc (scratch, (gsize) (2 * n * c))))
    {
      group_norm_coeffs (gn, xa, xb, a, a + n * c);
      conv2d_impl (conv, xa, xb, a, a + n * c, 1, y, accumulate, scratch);
    }
  gen_arena_release (scratch, mark);
}

void
gen_layer_norm (const GenLayerNorm *ln, const float *x, float *y, int64_t rows, int64_t dim)
{
  if (!x || !y)
    return;
  for (int64_t r = 0; r < rows; r++)
    {
      const float *xr = x + r * dim;
      float *yr = y + r * dim;
      double sum = 0.0, sq = 0.0, mean;
      float rstd;

      for (int64_t i = 0; i < dim; i++)
        sum += xr[i];
      mean = sum / (double) dim;
      for (int64_t i = 0; i < dim; i++)
        sq += (xr[i] - mean) * (xr[i] - mean);
      rstd = (float) (1.0 / sqrt (sq / (double) dim + ln->eps));
      for (int64_t i = 0; i < dim; i++)
        yr[i] = (float) (xr[i] - mean) * rstd * ln->weight.data[i] + ln->bias.data[i];
    }
}

void
gen_linear (const GenLinear *lin, const float *x, float *y, int64_t rows)
{
  int64_t out = lin->weight.ne[2], in = lin->weight.ne[3];

  if (!x || !y)
    return;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t o = 0; o < out; o++)
      y[r * out + o] = lin->bias.data ? lin->bias.data[o] : 0.0f;
  gen_gemm (false, true, (int) rows, (int) out, (int) in, 1.0f,
            x, (int) in, lin->weight.data, (int) in, 1.0f, y, (int) out);
}

/* ---- elementwise ------------------------------------------------------- */

void
gen_silu (const float *x, float *y, int64_t n)
{
  if (!x || !y)
    return;
  affine_silu (x, y, n, 1.0f, 0.0f);
}

void
gen_gelu (const float *x, float *y, int64_t n)
{
  if (!x || !y)
    return;
  for (int64_t i = 0; i < n; i++)
    y[i] = 0.5f * x[i] * (1.0f + erff (x[i] * (float) M_SQRT1_2));
}

void
gen_relu (const float *x, float *y, int64_t n)
{
  if (!x || !y)
    return;
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void
gen_tanh (const float *x, float *y, int64_t n)
{
  if (!x || !y)
    return;
  for (int64_t i = 0; i < n; i++)
    y[i] = tanhf (x[i]);
}

void
gen_scale_div (float *y, int64_t n, float div)
{
  if (!y || div == 1.0f)
    return;
  for (int64_t i = 0; i < n; i++)
    y[i] /= div;
}

/* One row in place: the maximum, e^(x − max) by the vectorised exp
 * (relative error < 2e-7, like expf) summed in 16 lanes, then scaled. */
GEN_CLONES static void
softmax_row (float *restrict row, int64_t cols)
{
  float mx = -INFINITY, lane[16] = { 0 }, sum = 0.0f, inv;
  int64_t i;

  for (i = 0; i < cols; i++)
    mx = row[i] > mx ? row[i] : mx;
  for (i = 0; i < cols; i++)
    row[i] = exp_approx (row[i] - mx);
  for (i = 0; i + 16 <= cols; i += 16)
    for (int l = 0; l < 16; l++)
      lane[l] += row[i + l];
  for (; i < cols; i++)
    sum += row[i];
  for (int l = 0; l < 16; l++)
    sum += lane[l];
  inv = 1.0f / sum;
  for (i = 0; i < cols; i++)
    row[i] *= inv;
}

typedef struct
{
  float *x;
  int64_t rows, cols;
} Softmax;

static void
softmax_part (int part, int parts, gpointer data)
{
  const Softmax *k = data;

  for (int64_t r = k->rows * part / parts; r < k->rows * (part + 1) / parts; r++)
    softmax_row (k->x + r * k->cols, k->cols);
}

void
gen_softmax_rows (float *x, int64_t rows, int64_t cols)
{
  Softmax k = { x, rows, cols };

  if (!x || rows <= 0 || cols <= 0)
    return;
  /* whole rows to a part, when there is enough to pay for the hand-over */
  gen_parallel_for ((int) MIN (gen_parallel_parts (), MAX (1, rows * cols / 16384)),
                    softmax_part, &k);
}

/* ---- attention --------------------------------------------------------- */

void
gen_attention (const float *q, int ldq, const float *k, int ldk,
               const float *v, int ldv, float *o, int ldo,
               int64_t lq, int64_t lk, int64_t d, int64_t dv,
               float scale, GenArena *scratch)
{
  int64_t band = MAX (1, MIN (lq, ATTN_MAX_FLOATS / MAX (1, lk)));
  gsize mark;
  float *s;

  if (!q || !k || !v || !o)
    return;
  mark = gen_arena_mark (scratch);
  s = gen_arena_alloc (scratch, (gsize) (band * lk));
  if (!s)
    return;
  for (int64_t r0 = 0; r0 < lq; r0 += band)
    {
      int64_t rows = MIN (band, lq - r0);

      /* S[rows, Lk] = scale · Q_band · Kᵀ   (Vaswani et al. 2017, eq. 1) */
      gen_gemm (false, true, (int) rows, (int) lk, (int) d, scale,
                q + r0 * ldq, ldq, k, ldk, 0.0f, s, (int) lk);
      gen_softmax_rows (s, rows, lk);
      gen_gemm (false, false, (int) rows, (int) dv, (int) lk, 1.0f,
                s, (int) lk, v, ldv, 0.0f, o + r0 * ldo, ldo);
    }
  gen_arena_release (scratch, mark);
}

/* ---- resampling and plumbing --------------------------------------------- */

void
gen_upsample_nearest (const GenTensor *x, GenTensor *y, int factor)
{
  int64_t h = x->ne[2], w = x->ne[3];

  g_return_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1]
                    && y->ne[2] == h * factor && y->ne[3] == w * factor);
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  for (int64_t p = 0; p < x->ne[0] * x->ne[1]; p++)
    {
      const float *src = x->data + p * h * w;
      float *dst = y->data + p * h * w * factor * factor;

      for (int64_t iy = 0; iy < h; iy++)
        {
          float *row = dst + iy * factor * w * factor;
          for (int64_t ix = 0; ix < w; ix++)
            for (int f = 0; f < factor; f++)
              row[ix * factor + f] = src[iy * w + ix];
          for (int f = 1; f < factor; f++)
            memcpy (row + f * w * factor, row, sizeof (float) * w * factor);
        }
    }
}

void
gen_avg_pool (const GenTensor *x, GenTensor *y, int k)
{
  int64_t h = x->ne[2], w = x->ne[3], ho = h / k, wo = w / k;
  float inv = 1.0f / (float) (k * k);

  g_return_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1] && y->ne[2] == ho && y->ne[3] == wo);
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  for (int64_t p = 0; p < x->ne[0] * x->ne[1]; p++)
    {
      const float *src = x->data + p * h * w;
      float *dst = y->data + p * ho * wo;

      for (int64_t oy = 0; oy < ho; oy++)
        for (int64_t ox = 0; ox < wo; ox++)
          {
            float acc = 0.0f;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++)
                acc += src[(oy * k + ky) * w + ox * k + kx];
            dst[oy * wo + ox] = acc * inv;
          }
    }
}

/* diffusers' get_timestep_embedding (after "Attention Is All You Need",
 * §3.5): freq_i = exp(-ln(max_period) · i / (half - shift)), emb = [sin(t·f),
 * cos(t·f)] (or [cos, sin] when flipped), zero-padded to an odd DIM.  The
 * arguments are rounded to float32 as torch computes them. */
void
gen_timestep_embedding (const float *t, int64_t n, int64_t dim,
                        bool flip_sin_to_cos, float downscale_freq_shift,
                        float scale, float max_period, float *out)
{
  int64_t half = dim / 2;

  for (int64_t b = 0; b < n; b++)
    {
      float *row = out + b * dim;

      for (int64_t i = 0; i < half; i++)
        {
          float exponent = (float) -log ((double) max_period) * (float) i;
          float freq, arg;

          exponent = exponent / ((float) half - downscale_freq_shift);
          freq = expf (exponent);
          arg = t[b] * freq;
          arg = scale * arg;
          if (flip_sin_to_cos)
            {
              row[i] = cosf (arg);
              row[half + i] = sinf (arg);
            }
          else
            {
              row[i] = sinf (arg);
              row[half + i] = cosf (arg);
            }
        }
      if (dim % 2 == 1)
        row[dim - 1] = 0.0f;
    }
}

void
gen_concat_channels (const GenTensor *a, const GenTensor *b, GenTensor *y)
{
  GenTensor ya, yb;

  g_return_if_fail (a->ne[1] + b->ne[1] == y->ne[1]);
  ya = gen_tensor_channels (y, 0, a->ne[1]);
  yb = gen_tensor_channels (y, a->ne[1], b->ne[1]);
  gen_tensor_copy (a, &ya);
  gen_tensor_copy (b, &yb);
}

void
gen_add_channel_bias (GenTensor *y, const float *v, int64_t ldv)
{
  int64_t hw = y->ne[2] * y->ne[3];

  g_return_if_fail (gen_tensor_is_contiguous (y));
  if (!y->data || !v)
    return;
  for (int64_t b = 0; b < y->ne[0]; b++)
    for (int64_t c = 0; c < y->ne[1]; c++)
      {
        float *dst = y->data + b * y->nb[0] + c * hw;
        float add = v[b * ldv + c];
        for (int64_t i = 0; i < hw; i++)
          dst[i] += add;
      }
}
