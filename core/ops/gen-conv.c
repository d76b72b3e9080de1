/* gen-conv.c — 2-d convolution: the algorithm choice, im2col + GEMM (with
 * the group norm + SiLU, concatenation and ×2 upsampling fused into the
 * column fill), the direct 1×1 path; and the linear layer. */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <string.h>

#define IM2COL_MAX_FLOATS ((int64_t) 4 << 20)   /* 16 MB band of columns */

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
            gen_affine_silu (cat_channel (k->xa, k->xb, k->b, c) + r0 * w, band, (r1 - r0) * w,
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
    gen_affine_silu (cat_channel (k->xa, k->xb, k->b, c), k->tx + c * k->hw, k->hw,
                     k->pre_a[k->b * k->ci + c], k->pre_b[k->b * k->ci + c]);
}

/* One call's sizes: the batch, the input channels (CA of XA and CB of XB
 * make CI), the output channels, the input as the conv reads it (after
 * upsampling), the output and the kernel. */
typedef struct
{
  int64_t n, ci, ca, cb, co, h, w, ho, wo;
  int kh, kw;
} ConvDims;

static void conv_gemm (const GenConv2d *conv, const ConvDims *d, const float *wd,
                       const GenTensor *xa, const GenTensor *xb, const float *pre_a,
                       const float *pre_b, int up, GenTensor *y, bool accumulate,
                       GenArena *scratch);

/* The convolution of the channel concatenation [XA, XB] (XB may be NULL),
 * or of silu ([XA, XB] · PRE_A + PRE_B) per (batch, channel) when PRE_A is
 * given.  Neither the concatenation nor the transformed input is ever made
 * whole: the transform is applied to a band of rows at a time (a group
 * norm + SiLU fused into the conv that follows it), and the two inputs
 * feed im2col (or, for 1×1, the GEMM) directly. */
void
gen_conv2d_impl (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb,
                 const float *pre_a, const float *pre_b, int up, GenTensor *y, bool accumulate,
                 GenArena *scratch)
{
  const GenTensor *wt = &conv->weight;
  ConvDims d = { .n = xa->ne[0], .ci = wt->ne[1], .ca = xa->ne[1], .cb = xb ? xb->ne[1] : 0,
                 .co = wt->ne[0], .h = xa->ne[2] * up, .w = xa->ne[3] * up,
                 .kh = (int) wt->ne[2], .kw = (int) wt->ne[3] };
  gsize mark;
  const float *wd;   /* [Co, Ci·kh·kw] */

  d.ho = gen_conv2d_out_size (d.h, d.kh, conv->stride, conv->pad[0], conv->pad[2]);
  d.wo = gen_conv2d_out_size (d.w, d.kw, conv->stride, conv->pad[1], conv->pad[3]);
  g_return_if_fail (d.ca + d.cb == d.ci && y->ne[0] == d.n && y->ne[1] == d.co
                    && y->ne[2] == d.ho && y->ne[3] == d.wo);
  g_return_if_fail (!xb || (xb->ne[0] == d.n && xb->ne[2] == d.h && xb->ne[3] == d.w));
  g_return_if_fail (up == 1 || (!xb && !pre_a));
  g_return_if_fail (gen_tensor_is_contiguous (xa) && gen_tensor_is_contiguous (y)
                    && (!xb || gen_tensor_is_contiguous (xb)));
  if (!xa->data || (xb && !xb->data) || !y->data || (!wt->data && !conv->half.data))
    return;

  if (d.kh == 3 && d.kw == 3 && conv->stride == 1 && conv->pad[0] == 1 && conv->pad[1] == 1
      && conv->pad[2] == 1 && conv->pad[3] == 1 && use_winograd (d.ci, d.ho, d.wo)
      && gen_conv3x3_winograd (wt, &conv->half, conv->bias.data, conv->keep, xa, xb, pre_a,
                               pre_b, up, y, accumulate, scratch))
    return;

  mark = gen_arena_mark (scratch);
  if ((wd = gen_weight_f32 (wt, &conv->half, scratch)))
    conv_gemm (conv, &d, wd, xa, xb, pre_a, pre_b, up, y, accumulate, scratch);
  gen_arena_release (scratch, mark);
}

/* The im2col (or direct 1×1) half of gen_conv2d_impl, with the weight's
 * F32 values WD. */
static void
conv_gemm (const GenConv2d *conv, const ConvDims *d, const float *wd, const GenTensor *xa,
           const GenTensor *xb, const float *pre_a, const float *pre_b, int up, GenTensor *y,
           bool accumulate, GenArena *scratch)
{
  int64_t n = d->n, ci = d->ci, ca = d->ca, cb = d->cb, co = d->co, h = d->h, w = d->w;
  int64_t ho = d->ho, wo = d->wo, K = ci * d->kh * d->kw;
  int kh = d->kh, kw = d->kw;
  bool direct;

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
                        wd, (int) ci, tx, (int) (h * w), 1.0f, yb, (int) (ho * wo));
              continue;
            }
          /* W = [Wa | Wb] column blocks: y += Wa·xa + Wb·xb */
          gen_gemm (false, false, (int) co, (int) (ho * wo), (int) ca, 1.0f,
                    wd, (int) ci, xa->data + b * xa->nb[0], (int) (h * w),
                    1.0f, yb, (int) (ho * wo));
          if (xb)
            gen_gemm (false, false, (int) co, (int) (ho * wo), (int) cb, 1.0f,
                      wd + ca, (int) ci, xb->data + b * xb->nb[0], (int) (h * w),
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
                    wd, (int) K, col, (int) (rows * wo),
                    1.0f, y->data + b * y->nb[0] + oy0 * wo, (int) (ho * wo));
        }
    gen_arena_release (scratch, mark);
  }
}

void
gen_conv2d (const GenConv2d *conv, const GenTensor *x, GenTensor *y,
            bool accumulate, GenArena *scratch)
{
  gen_conv2d_impl (conv, x, NULL, NULL, NULL, 1, y, accumulate, scratch);
}

void
gen_conv2d_cat (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb, GenTensor *y,
                bool accumulate, GenArena *scratch)
{
  gen_conv2d_impl (conv, xa, xb, NULL, NULL, 1, y, accumulate, scratch);
}

void
gen_conv2d_up2 (const GenConv2d *conv, const GenTensor *x, GenTensor *y, GenArena *scratch)
{
  gen_conv2d_impl (conv, x, NULL, NULL, NULL, 2, y, false, scratch);
}

void
gen_linear (const GenLinear *lin, const float *x, float *y, int64_t rows, GenArena *scratch)
{
  int64_t out = lin->weight.ne[2], in = lin->weight.ne[3];
  gsize mark;
  const float *wd;   /* [out, in] */

  if (!x || !y)
    return;
  mark = gen_arena_mark (scratch);
  if ((wd = gen_weight_f32 (&lin->weight, &lin->half, scratch)))
    {
      for (int64_t r = 0; r < rows; r++)
        for (int64_t o = 0; o < out; o++)
          y[r * out + o] = lin->bias.data ? lin->bias.data[o] : 0.0f;
      gen_gemm (false, true, (int) rows, (int) out, (int) in, 1.0f,
                x, (int) in, wd, (int) in, 1.0f, y, (int) out);
    }
  gen_arena_release (scratch, mark);
}
