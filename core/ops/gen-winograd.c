/* gen-winograd.c — 3×3 stride-1 convolution by Winograd F(4×4, 3×3): the
 * input rows as the conv sees them, the bands, the 36 GEMMs, the parts, and
 * the conv's kept transformed weights.
 * The transforms themselves are in gen-winograd-transform.c. */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <string.h>

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
/* The scratch gen_wino_weights uses for CI input channels (its taps). */
#define WINO_TAPS(ci) (27 * (ci))

/* One band of tile rows of one batch image, in parts: the input transform
 * by input channels, the 36 GEMMs by position, the output transform by
 * output channels.  Part P's buffers are ROWS + P·ROWS_N and TMP + P·TMP_N. */
typedef struct
{
  const GenTensor *wt, *xa, *xb;
  const GenHalf *half;   /* the weights when WT's data is NULL */
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
        gen_affine_silu (s, nat + 1, w, pre_a[b * ci + c], pre_b[b * ci + c]);
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

static inline void
part_range (int64_t n, int part, int parts, int64_t *lo, int64_t *hi)
{
  *lo = n * part / parts;
  *hi = n * (part + 1) / parts;
}

/* U for the part's output channels.  Weights in 16-bit floats are made F32
 * one output channel at a time, in the part's scratch after the taps (each
 * channel's U depends on its own weights only: the same bits). */
static void
wino_weights_part (int part, int parts, gpointer data)
{
  Wino *k = data;
  float *tmp = k->tmp + part * k->tmp_n;
  int64_t lo, hi;

  part_range (k->co, part, parts, &lo, &hi);
  if (hi <= lo)
    return;
  if (k->wt->data)
    {
      gen_wino_weights (k->wt->data + lo * k->ci * 9, hi - lo, k->ci, k->co, k->u + lo * k->ci,
                        tmp);
      return;
    }
  for (int64_t o = lo; o < hi; o++)
    {
      float *wo = tmp + WINO_TAPS (k->ci);   /* [Ci, 3, 3] */
      int64_t len = k->ci * 9;

      gen_half_to_f32 (k->half, o * len, len, wo);
      gen_wino_weights (wo, 1, k->ci, k->co, k->u + o * k->ci, tmp);
    }
}

/* Input channel C of the band into V (ROWS, TMP: the part's scratch). */
static void
wino_input_channel (const Wino *k, int64_t c, float *rows, float *tmp)
{
  for (int64_t r = 0; r < 4 * k->nr + 2; r++)
    wino_load_row (k->xa, k->xb, k->pre_a, k->pre_b, k->up, k->b, c, k->ci, 4 * k->ty0 - 1 + r,
                   k->h, k->w, k->wp, tmp, rows + r * k->wp);
  for (int64_t r = 0; r < k->nr; r++)
    gen_wino_input_row (rows + 4 * r * k->wp, k->wp, k->ntx, tmp,
                        k->v + c * k->T + r * k->ntx, k->ci * k->T);
}

/* Output channel O of the band from M into Y (OUT, TMP: the part's scratch). */
static void
wino_output_channel (const Wino *k, int64_t o, float *out, float *tmp)
{
  float *yo = k->y->data + k->b * k->y->nb[0] + o * k->y->nb[1];

  for (int64_t r = 0; r < k->nr; r++)
    {
      int64_t oy = 4 * (k->ty0 + r), nrow = MIN (4, k->h - oy);

      gen_wino_output_row (k->m + o * k->T + r * k->ntx, k->co * k->T, k->ntx, tmp, out);
      for (int64_t j = 0; j < nrow; j++)
        gen_wino_put_row (yo + (oy + j) * k->w, out + j * 4 * k->ntx, k->ntx, k->w,
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
 * the same bits.
 * A conv whose weights stay in 16-bit floats keeps nothing: its U would be
 * 8× the bytes it holds, and such weights are chosen to halve the model's
 * memory (an SD 1.5 UNet: 1.7 GB instead of 3.4), which up to 256 MB of
 * kept U (15% more) would undo for a gain on small images only; its U is
 * made per call, from the 16-bit weights directly. */
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
 * (or none) of the input gen_conv2d_impl describes (XA, XB, PRE_A, PRE_B, UP),
 * by Winograd F(4×4, 3×3).  False (nothing done) when the scratch arena is
 * too small. */
bool
gen_conv3x3_winograd (const GenTensor *wt, const GenHalf *half, const float *bias,
                      gpointer *keep, const GenTensor *xa, const GenTensor *xb,
                      const float *pre_a, const float *pre_b, int up, GenTensor *y,
                      bool accumulate, GenArena *scratch)
{
  Wino k = { .wt = wt, .half = half, .xa = xa, .xb = xb, .pre_a = pre_a, .pre_b = pre_b, .up = up, .y = y,
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
  k.tmp_n = MAX (6 * k.wp, WINO_TAPS (k.ci));           /* ≥ 24·NTX too */
  if (!wt->data)
    k.tmp_n += 9 * k.ci;                                 /* one output channel's weights */
  kept = keep && wt->data && wb.nty * k.ntx <= WINO_KEEP_TILES ? wino_kept (keep, &k, parts) : NULL;
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
