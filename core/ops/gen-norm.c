/* gen-norm.c — group norm (alone, or fused into the conv that follows it
 * with its SiLU) and layer norm. */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <math.h>

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

      gen_sum_sq (cat_channel (xa, xb, bi, c0 + cc), run * hw, shift, &s1, &q1);
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
              gen_affine_silu (xi, yi, hw, a, b);
            else
              gen_affine (xi, yi, hw, a, b);
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
      gen_conv2d_impl (conv, xa, xb, a, a + n * c, 1, y, accumulate, scratch);
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
