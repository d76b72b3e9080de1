/* gen-sched-numpy.c — the numpy and torch arithmetic diffusers' schedules
 * rely on, reproduced to the bit: np.linspace, np.arange, np.interp and
 * _sigma_to_t in float64 as numpy computes them, torch.linspace in float32
 * as its CPU kernel does.  The file is compiled as ISO C11, so GCC does not
 * contract a*b+c into an FMA; the one place torch does (linspace) calls
 * fmaf() explicitly. */
#include "gen-sched-private.h"

#include <math.h>

/* np.linspace (START, STOP, NUM) in float64: i·step + start, the last = stop. */
void
gen_np_linspace (double start, double stop, int num, double *out)
{
  int div = num - 1;
  double delta = stop - start, step;

  if (div <= 0)
    {
      if (num == 1)
        out[0] = 0.0 * delta + start;
      return;
    }
  step = delta / div;
  for (int i = 0; i < num; i++)
    {
      double y;

      if (step == 0)
        {
          y = (double) i / div;
          y = y * delta;
        }
      else
        y = (double) i * step;
      out[i] = y + start;
    }
  out[num - 1] = stop;
}

/* np.arange (START, 0, -RATIO) for an integer START: its length is
 * ceil(-START / -RATIO) and element i >= 2 is start + i·(b1 − start) with
 * b1 = start − ratio (numpy's DOUBLE_fill).  That length can be one more
 * than START / RATIO suggests.  Returns the count written to OUT (which has
 * room for MAX). */
int
gen_np_arange_down (double start, double ratio, double *out, int max)
{
  double len_d = ceil ((0.0 - start) / -ratio);
  int len = len_d > max ? max + 1 : (int) len_d;
  double b1 = start + -ratio, delta = b1 - start;

  if (len > max)
    return -1;
  for (int i = 0; i < len; i++)
    {
      if (i == 0)
        out[i] = start;
      else if (i == 1)
        out[i] = b1;
      else
        {
          double d = (double) i * delta;

          out[i] = start + d;
        }
    }
  return len;
}

/* np.interp (X, arange (N), FP) with float64 arithmetic. */
double
gen_np_interp_index (double x, const float *fp, int n)
{
  int j;
  double slope, r;

  if (isnan (x))
    return x;
  if (x < 0)
    return fp[0];
  if (x > n - 1)
    return fp[n - 1];
  j = (int) floor (x);
  if (j >= n - 1)
    return fp[n - 1];
  if (x == j)
    return fp[j];
  slope = ((double) fp[j + 1] - (double) fp[j]) / 1.0;
  r = slope * (x - j) + fp[j];
  if (isnan (r))
    {
      r = slope * (x - (j + 1)) + fp[j + 1];
      if (isnan (r) && fp[j] == fp[j + 1])
        r = fp[j];
    }
  return r;
}

/* diffusers' _sigma_to_t: the fractional timestep whose log σ is log SIGMA,
 * linear in log σ between the trained ones (LOG_SIGMAS [n], float32).
 * Dtypes as NumPy 2 promotes them (NEP 50): log σ and the distances in
 * float64, but low − high is float32 − float32.  (NumPy 1.x's value-based
 * casting would do the distances and the numerator in float32 too.) */
double
gen_sigma_to_t (double sigma, const float *log_sigmas, int n)
{
  double ls = log (isnan (sigma) ? sigma : (sigma > 1e-10 ? sigma : 1e-10));
  double w, a, b;
  float lo, hi, den;
  int low = 0;

  /* np.cumsum (dists >= 0).argmax (): the last index with log σ_k <= ls, or 0 */
  for (int k = 0; k < n; k++)
    if (ls - (double) log_sigmas[k] >= 0)
      low = k;
  if (low > n - 2)
    low = n - 2;
  lo = log_sigmas[low];
  hi = log_sigmas[low + 1];
  den = lo - hi;
  w = ((double) lo - ls) / (double) den;
  if (w < 0)
    w = 0;
  else if (w > 1)
    w = 1;
  a = (1 - w) * low;
  b = w * (low + 1);
  return a + b;
}

/* torch.linspace (START, END, N, dtype=float32) on the CPU, as torch 1.13's
 * vectorised kernel (AVX2: 8 lanes, blocks of 16) computes it: element i is
 * fma(step, i, start) in the first half and fma(-step, N-1-i, end) in the
 * second, except that inside a vector the lanes are base + k·step from the
 * lane-0 value.  Its loop (cpu_serial_kernel_vec) stores two vectors at a
 * time while 16 elements remain, so the last N mod 16 elements are scalar.
 * Bit-exact, so alphas_cumprod (and the timesteps derived from it) match the
 * reference exactly.  (Newer torch computes every element with the scalar
 * formula: tests/sched_parity.py says what that changes.) */
void
gen_torch_linspace_f32 (double start_d, double end_d, int n, float *out)
{
  const int lanes = 8;
  float start = (float) start_d, end = (float) end_d;
  float step;
  int half = n / 2, i = 0;
  int vec_end = n - n % (2 * lanes);   /* [0, vec_end) in vectors */

  if (n == 1)
    {
      out[0] = start;
      return;
    }
  step = (end - start) / (float) (n - 1);
  for (; i < vec_end; i += lanes)
    {
      float base = i < half ? fmaf (step, (float) i, start) : fmaf (-step, (float) (n - i - 1), end);

      for (int k = 0; k < lanes; k++)
        {
          float d = (float) k * step;

          out[i + k] = base + d;
        }
    }
  for (; i < n; i++)
    out[i] = i < half ? fmaf (step, (float) i, start) : fmaf (-step, (float) (n - i - 1), end);
}
