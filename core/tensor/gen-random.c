/* gen-random.c — torch-compatible seeded noise (see gen-random.h).
 *
 * Three pieces, each matching what PyTorch's CPU generator does
 * (aten/src/ATen/core/MT19937RNGEngine.h, CPUGeneratorImpl.cpp,
 * core/TransformationHelper.h, core/DistributionsHelper.h,
 * native/cpu/DistributionTemplates.h and avx_mathfun.h), written anew:
 *
 *  - the engine: mt19937, M. Matsumoto and T. Nishimura, "Mersenne Twister:
 *    a 623-dimensionally equidistributed uniform pseudo-random number
 *    generator", ACM TOMACS 8(1), 1998, with the 2002 initialisation
 *    (state[i] = 1812433253 * (state[i-1] ^ state[i-1] >> 30) + i);
 *  - uniforms: float = (draw & (2^24 - 1)) * 2^-24, exact; double =
 *    (draw1 << 32 | draw2) & (2^53 - 1), times 2^-53;
 *  - normals: G. E. P. Box and M. E. Muller, "A Note on the Generation of
 *    Random Normal Deviates", Ann. Math. Statist. 29(2), 1958:
 *    z0 = sqrt(-2 ln u1) cos(2 pi u2), z1 = sqrt(-2 ln u1) sin(2 pi u2).
 *
 * The 16-block transform must round exactly as torch's AVX2 kernel does:
 * Cephes-style float log and sincos (via J. Pommier's sse_mathfun), as
 * GCC compiles them with -mfma, which fuses every multiply whose only use
 * is an add into one fused multiply-add.  Those fusions are written out
 * below with fmaf() and each remaining product feeds no add (or adds +0,
 * which rounds the same fused or not), so the bits do not depend on the
 * compiler's contraction setting; the pragma only says so to clang.  The
 * arithmetic must be plain IEEE single and double (FLT_EVAL_METHOD 0: SSE
 * or NEON, not x87).  Checked bit for bit by tests/seed_parity.py.
 */
#include "gen-random.h"

#include <float.h>
#include <math.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
#error "gen-random.c needs FLT_EVAL_METHOD == 0 to round as PyTorch does"
#endif

#define MT_N 624
#define MT_M 397

struct _GenRng
{
  guint32  mt[MT_N];     /* mt19937 state words */
  int      left;         /* draws until the next twist, plus one (torch's left_) */
  int      next;         /* index of the next word to temper */
  gboolean have_normal;  /* serial path: a second Box–Muller sample is cached */
  double   next_normal;  /* that sample */
};

/* ---- mt19937 ------------------------------------------------------------ */

static void
mt_seed (GenRng *rng, guint64 seed)
{
  rng->mt[0] = (guint32) (seed & 0xffffffffu);
  for (int i = 1; i < MT_N; i++)
    rng->mt[i] = 1812433253u * (rng->mt[i - 1] ^ (rng->mt[i - 1] >> 30)) + (guint32) i;
  rng->left = 1;
  rng->next = 0;
}

static inline guint32
mt_twist (guint32 u, guint32 v)
{
  return (((u & 0x80000000u) | (v & 0x7fffffffu)) >> 1) ^ ((v & 1u) ? 0x9908b0dfu : 0u);
}

static void
mt_regenerate (GenRng *rng)
{
  guint32 *s = rng->mt;
  int      i;

  for (i = 0; i < MT_N - MT_M; i++)
    s[i] = s[i + MT_M] ^ mt_twist (s[i], s[i + 1]);
  for (; i < MT_N - 1; i++)
    s[i] = s[i + MT_M - MT_N] ^ mt_twist (s[i], s[i + 1]);
  s[MT_N - 1] = s[MT_M - 1] ^ mt_twist (s[MT_N - 1], s[0]);
  rng->left = MT_N;
  rng->next = 0;
}

static inline guint32
mt_draw (GenRng *rng)
{
  guint32 y;

  if (--rng->left == 0)
    mt_regenerate (rng);
  y = rng->mt[rng->next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

static inline float
uniform_float (GenRng *rng)
{
  return (float) (mt_draw (rng) & 0xffffffu) * (1.0f / 16777216.0f);
}

static inline double
uniform_double (GenRng *rng)
{
  guint64 hi = mt_draw (rng);
  guint64 lo = mt_draw (rng);

  return (double) (((hi << 32) | lo) & ((G_GUINT64_CONSTANT (1) << 53) - 1))
         * (1.0 / 9007199254740992.0);
}

/* ---- float log and sincos as torch's AVX2 kernel rounds them ------------ */

static inline float
bits_to_float (guint32 u)
{
  float f;

  memcpy (&f, &u, sizeof f);
  return f;
}

static inline guint32
float_to_bits (float f)
{
  guint32 u;

  memcpy (&u, &f, sizeof u);
  return u;
}

/* X, or +0 where MASK is 0: a select without a branch, as the vector code
 * makes it (and which compilers vectorise: a branch on a float that could
 * trap stops them). */
static inline float
masked (float x, guint32 mask)
{
  return bits_to_float (float_to_bits (x) & mask);
}

/* ln(x) for x in [2^-24, 1]: x = m 2^e with m in [sqrt(1/2), sqrt(2)),
 * ln x = ln m + e ln 2, ln m by the Cephes logf polynomial in m - 1 and
 * ln 2 split in two (0.693359375 - 2.12194440e-4) so e ln 2 adds exactly.
 * (The vector original also maps x <= 0 to NaN and clamps denormals; the
 * uniforms here never reach either.) */
static inline float
cephes_logf (float x)
{
  guint32 b = float_to_bits (x);
  guint32 small;
  float   e, z, y, low, keep;

  e = (float) ((int) (b >> 23) - 0x7f);
  e = e + 1.0f;
  x = bits_to_float ((b & ~0x7f800000u) | 0x3f000000u); /* mantissa, in [0.5, 1) */
  small = x < 0.707106781186547524f ? 0xffffffffu : 0u; /* sqrt(1/2): fold to [-0.29, 0.41] */
  keep = masked (x, small);
  x = x - 1.0f;
  e = e - masked (1.0f, small);
  x = x + keep;
  z = x * x;
  y = 7.0376836292E-2f;
  y = fmaf (y, x, -1.1514610310E-1f);
  y = fmaf (y, x, 1.1676998740E-1f);
  y = fmaf (y, x, -1.2420140846E-1f);
  y = fmaf (y, x, 1.4249322787E-1f);
  y = fmaf (y, x, -1.6668057665E-1f);
  y = fmaf (y, x, 2.0000714765E-1f);
  y = fmaf (y, x, -2.4999993993E-1f);
  y = fmaf (y, x, 3.3333331174E-1f);
  y = y * x;
  low = e * -2.12194440e-4f;
  y = fmaf (y, z, low);          /* y z + e q1: the first product is the fused one */
  y = fmaf (-z, 0.5f, y);        /* y - z / 2 */
  x = x + y;
  return fmaf (e, 0.693359375f, x);
}

/* sin and cos of x >= 0 (here x = 2 pi u < 2 pi): reduce by multiples of
 * pi/4 in three parts (Cody–Waite, the Cephes DP1..DP3), then one
 * polynomial for sin and one for cos on [-pi/4, pi/4], swapped and signed
 * by the octant. */
static inline void
cephes_sincosf (float x, float *s, float *c)
{
  guint32 sign_sin = float_to_bits (x) & 0x80000000u;
  guint32 sign_cos;
  float   y, z, yc, ys, pick_c, pick_s;
  guint32 first_octant_pair; /* all ones where sin takes the sin polynomial */
  int     j;

  x = bits_to_float (float_to_bits (x) & 0x7fffffffu);
  j = (int) (x * 1.27323954473516f); /* 4 / pi, truncated as cvttps does */
  j = (j + 1) & ~1;
  y = (float) j;
  sign_sin ^= (guint32) (j & 4) << 29;
  sign_cos = (guint32) (~(j - 2) & 4) << 29;
  first_octant_pair = (j & 2) == 0 ? 0xffffffffu : 0u;

  x = fmaf (y, -0.78515625f, x);
  x = fmaf (y, -2.4187564849853515625e-4f, x);
  x = fmaf (y, -3.77489497744594108e-8f, x);

  z = x * x;
  yc = 2.443315711809948E-005f;
  yc = fmaf (yc, z, -1.388731625493765E-003f);
  yc = fmaf (yc, z, 4.166664568298827E-002f);
  yc = yc * z;
  yc = fmaf (yc, z, -(z * 0.5f)); /* yc z - z / 2 */
  yc = yc + 1.0f;                 /* cos on the reduced range */

  ys = -1.9515295891E-4f;
  ys = fmaf (ys, z, 8.3321608736E-3f);
  ys = fmaf (ys, z, -1.6666654611E-1f);
  ys = ys * z;
  ys = fmaf (ys, x, x);           /* sin on the reduced range */

  /* The vector code selects with masks and adds the masked-off zero; keep
   * those additions: they turn a -0 into +0 as it does. */
  pick_s = masked (ys, first_octant_pair);
  pick_c = masked (yc, ~first_octant_pair);
  ys = ys - pick_s;
  yc = yc - pick_c;
  *s = bits_to_float (float_to_bits (pick_c + pick_s) ^ sign_sin);
  *c = bits_to_float (float_to_bits (yc + ys) ^ sign_cos);
}

/* D [16]: uniforms in [0, 1) in, normals out; element j pairs with j + 8.
 * The first loop is the costly one and has no branch, so that compilers
 * can run its 8 lanes as one vector; sqrtf stays out of it (errno). */
static inline void
box_muller_16_body (float *d)
{
  static const float two_pi = (float) (2.0 * G_PI);
  float              r2[8], sn[8], cs[8];

  for (int j = 0; j < 8; j++)
    {
      r2[j] = -2.0f * cephes_logf (1.0f - d[j]); /* 1 - u in (0, 1] */
      cephes_sincosf (two_pi * d[j + 8], &sn[j], &cs[j]);
    }
  for (int j = 0; j < 8; j++)
    {
      float radius = sqrtf (r2[j]);

      d[j] = radius * cs[j] + 0.0f; /* torch: fma (n, std = 1, mean = 0) */
      d[j + 8] = radius * sn[j] + 0.0f;
    }
}

typedef void (*BoxMuller16) (float *d);

/* flatten: inline the log and sincos so that the first loop can become a
 * vector where fmaf is an instruction (aarch64, -march with FMA). */
#if defined(__GNUC__) || defined(__clang__)
#define FLATTEN __attribute__ ((flatten))
#else
#define FLATTEN
#endif

FLATTEN static void
box_muller_16 (float *d)
{
  box_muller_16_body (d);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
/* The same code where the CPU has FMA: fmaf becomes one instruction instead
 * of a libm call and the first loop becomes one AVX2 vector (about 7x
 * faster).  fmaf is exact, so both give the same bits. */
FLATTEN __attribute__ ((target ("avx2,fma"))) static void
box_muller_16_fma (float *d)
{
  box_muller_16_body (d);
}
#endif

static BoxMuller16
pick_box_muller_16 (void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return box_muller_16_fma;
#endif
  return box_muller_16;
}

/* ---- the public calls ---------------------------------------------------- */

GenRng *
gen_rng_new (guint64 seed)
{
  GenRng *rng = g_new (GenRng, 1);

  mt_seed (rng, seed);
  rng->have_normal = FALSE;
  rng->next_normal = 0.0;
  return rng;
}

void
gen_rng_free (GenRng *rng)
{
  g_free (rng);
}

/* torch's serial path (n < 16): at::normal_distribution<double>, whose
 * second sample waits in the generator for the next call.  Later torch
 * sources write log1p (-u2); 1 - u2 is exact here, and the two agree on
 * every float this returns that was tried (160 000). */
static double
serial_normal (GenRng *rng)
{
  double u1, u2, r, theta;

  if (rng->have_normal)
    {
      rng->have_normal = FALSE;
      return rng->next_normal;
    }
  u1 = uniform_double (rng);
  u2 = uniform_double (rng);
  r = sqrt (-2.0 * log (1.0 - u2));
  theta = 2.0 * G_PI * u1;
  rng->next_normal = r * sin (theta);
  rng->have_normal = TRUE;
  return r * cos (theta);
}

void
gen_rng_randn (GenRng *rng, float *out, gint64 n)
{
  BoxMuller16 transform;
  gint64      i;

  g_return_if_fail (rng != NULL);
  if (n <= 0)
    return;
  g_return_if_fail (out != NULL);

  if (n < 16)
    {
      for (i = 0; i < n; i++)
        out[i] = (float) (serial_normal (rng) + 0.0); /* val * std + mean */
      return;
    }

  /* torch draws all n uniforms first, then transforms whole blocks; the
   * draws come in the same order when each block is transformed as soon as
   * it is drawn, which keeps the data in cache. */
  transform = pick_box_muller_16 ();
  for (i = 0; i + 16 <= n; i += 16)
    {
      for (int k = 0; k < 16; k++)
        out[i + k] = uniform_float (rng);
      transform (out + i);
    }
  if (i < n)
    {
      /* The n % 16 uniforms torch drew for the tail are overwritten unused;
       * the last 16 elements are redone from 16 fresh ones. */
      for (; i < n; i++)
        (void) mt_draw (rng);
      for (int k = 0; k < 16; k++)
        out[n - 16 + k] = uniform_float (rng);
      transform (out + n - 16);
    }
}

void
gen_rng_rand (GenRng *rng, float *out, gint64 n)
{
  g_return_if_fail (rng != NULL);
  if (n <= 0)
    return;
  g_return_if_fail (out != NULL);

  for (gint64 i = 0; i < n; i++)
    out[i] = uniform_float (rng);
}

guint64
gen_rng_random_seed (void)
{
  return g_random_int ();
}
