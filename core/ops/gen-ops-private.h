/* gen-ops-private.h — what the kernel files share: the CPU clones of the hot
 * loops, the vectorised exp, the fused conv entry point and Winograd's
 * transforms.  Not installed; models use gen-ops.h. */
#pragma once

#include "gen-ops.h"

#include <stdbool.h>

G_BEGIN_DECLS

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
 * vectorises; x is clamped to where e^x is a normal float, and a NaN
 * comes out NaN (so silu and softmax pass it on rather than hide it). */
static inline float
exp_approx (float x)
{
  const float shift = 12582912.0f;          /* 1.5 · 2^23: rounds to an integer */
  float t, n, r, p;
  union { uint32_t i; float f; } u;

  x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;   /* ±Inf clamped, NaN kept */
  t = x * 1.44269504088896341f + shift;
  n = t - shift;
  r = x - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  /* 2^n from t's bits, with no float-to-int conversion: t = 1.5 · 2^23 + n
   * is stored as 0x4B400000 + n (n in −126..127).  Unsigned, so a NaN's
   * bits give some scale and no undefined behaviour; p (NaN) carries it. */
  u.f = t;
  u.i = (u.i + (127u - 0x4B400000u)) << 23;
  return p * u.f;
}

static inline float
silu1 (float v)
{
  return v / (1.0f + exp_approx (-v));
}

/* Y[i] = silu (X[i] · A + B), and Y[i] = X[i] · A + B, for i < N (in place
 * allowed). */
void gen_affine_silu (const float *x, float *y, int64_t n, float a, float b);
void gen_affine (const float *x, float *y, int64_t n, float a, float b);
/* Σ (x − m) and Σ (x − m)² over N floats, in double, from float partial
 * sums over blocks of 512. */
void gen_sum_sq (const float *x, int64_t n, float m, double *sum, double *sq);

/* ---- convolution ------------------------------------------------------- */

/* Channel C of batch B of the concatenation [XA, XB] (XB may be NULL). */
static inline const float *
cat_channel (const GenTensor *xa, const GenTensor *xb, int64_t b, int64_t c)
{
  if (c < xa->ne[1])
    return xa->data + b * xa->nb[0] + c * xa->nb[1];
  return xb->data + b * xb->nb[0] + (c - xa->ne[1]) * xb->nb[1];
}

/* The convolution of the channel concatenation [XA, XB] (XB may be NULL),
 * or of silu ([XA, XB] · PRE_A + PRE_B) per (batch, channel) when PRE_A is
 * given, or with UP = 2 of XA seen through nearest ×2 upsampling; Y =, or
 * += with ACCUMULATE (gen-conv.c). */
void gen_conv2d_impl (const GenConv2d *conv, const GenTensor *xa, const GenTensor *xb,
                      const float *pre_a, const float *pre_b, int up, GenTensor *y,
                      bool accumulate, GenArena *scratch);

/* ---- Winograd F(4×4, 3×3) ------------------------------------------------ */

/* Y (=, or += with ACCUMULATE) the 3×3 / stride 1 / pad 1 conv of weight
 * WT (or, when its data is NULL, HALF) with BIAS (or none) of the input
 * gen_conv2d_impl describes (XA, XB, PRE_A, PRE_B, UP), by Winograd
 * F(4×4, 3×3).  False (nothing done) when the scratch arena is too small
 * (gen-winograd.c). */
bool gen_conv3x3_winograd (const GenTensor *wt, const GenHalf *half, const float *bias,
                           gpointer *keep, const GenTensor *xa, const GenTensor *xb, const float *pre_a,
                           const float *pre_b, int up, GenTensor *y, bool accumulate,
                           GenArena *scratch);

/* The transforms (gen-winograd-transform.c). */
void gen_wino_weights (const float *w, int64_t co, int64_t ci, int64_t co_all, float *u,
                       float *taps);
void gen_wino_input_row (const float *p, int64_t wp, int64_t ntx, float *tmp, float *v,
                         int64_t vs);
void gen_wino_output_row (const float *m, int64_t ms, int64_t ntx, float *s, float *out);
void gen_wino_put_row (float *dst, const float *src, int64_t ntx, int64_t w, float b,
                       bool accumulate);

G_END_DECLS
