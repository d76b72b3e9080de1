/* gen-elementwise.c — the vectorised elementwise kernels the other ops
 * share (affine + SiLU, affine, shifted sums for the norms) and the
 * activations over N floats. */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <math.h>

GEN_CLONES void
gen_affine_silu (const float *x, float *y, int64_t n, float a, float b)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = silu1 (x[i] * a + b);
}

GEN_CLONES void
gen_affine (const float *x, float *y, int64_t n, float a, float b)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] * a + b;
}

/* Σ (x − m) and Σ (x − m)² in double, from float partial sums over blocks
 * of 512 (16 lanes each, so the loop vectorises and each lane's error is
 * that of 32 terms). */
GEN_CLONES void
gen_sum_sq (const float *x, int64_t n, float m, double *sum, double *sq)
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

void
gen_silu (const float *x, float *y, int64_t n)
{
  if (!x || !y)
    return;
  gen_affine_silu (x, y, n, 1.0f, 0.0f);
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
