/* gen-winograd-transform.c — the transforms of Winograd F(4×4, 3×3) (see
 * gen-winograd.c): G g Gᵀ of the weights, Bᵀ d B of the input tiles and
 * Aᵀ m A of the products, each run across many columns at once so that it
 * vectorises. */
#include "gen-ops.h"
#include "gen-ops-private.h"

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
GEN_CLONES void
gen_wino_weights (const float *w, int64_t co, int64_t ci, int64_t co_all, float *u,
                  float *taps)
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
GEN_CLONES void
gen_wino_input_row (const float *p, int64_t wp, int64_t ntx, float *tmp, float *v,
                    int64_t vs)
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
GEN_CLONES void
gen_wino_output_row (const float *m, int64_t ms, int64_t ntx, float *s, float *out)
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
GEN_CLONES void
gen_wino_put_row (float *dst, const float *src, int64_t ntx, int64_t w, float b,
                  bool accumulate)
{
  int64_t full = w / 4;

  if (accumulate)
    add_interleaved (dst, src, src + ntx, src + 2 * ntx, src + 3 * ntx, b, full);
  else
    set_interleaved (dst, src, src + ntx, src + 2 * ntx, src + 3 * ntx, b, full);
  for (int64_t x = 4 * full; x < w; x++)
    dst[x] = (accumulate ? dst[x] : 0.0f) + src[(x & 3) * ntx + (x >> 2)] + b;
}
