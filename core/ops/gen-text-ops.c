/* gen-text-ops.c — kernels over token sequences: causal self-attention,
 * quick_gelu, linear onto a residual stream. */
#include "gen-text-ops.h"
#include "gen-ops-private.h"

#include <string.h>

#define CAUSAL_BAND_FLOATS ((int64_t) 1 << 20)   /* 4 MB of scores per thread */

/* ---- causal attention ------------------------------------------------------ */

typedef struct
{
  const float *q, *k, *v;   /* [N, T, heads·D] */
  float       *o;           /* [N, T, heads·D] */
  float       *scores;      /* [parts][band, T] */
  int64_t      n, t, d, band;
  int          heads;
  float        scale;
} Causal;

static void
causal_part (int part, int parts, gpointer data)
{
  const Causal *c = data;
  int64_t pairs = c->n * c->heads, ld = c->heads * c->d;
  float *s = c->scores + (int64_t) part * c->band * c->t;   /* [band, T] */

  for (int64_t p = pairs * part / parts; p < pairs * (part + 1) / parts; p++)
    {
      int64_t b = p / c->heads, h = p % c->heads;
      int64_t off = b * c->t * ld + h * c->d;
      const float *q = c->q + off, *k = c->k + off, *v = c->v + off;
      float *o = c->o + off;

      for (int64_t r0 = 0; r0 < c->t; r0 += c->band)
        {
          int64_t rows = MIN (c->band, c->t - r0), lk = r0 + rows;

          /* S[rows, lk] = scale · Q[r0 .. r0+rows) · K[0 .. lk)ᵀ: the keys past
           * the band's last query are never scored */
          gen_gemm (false, true, (int) rows, (int) lk, (int) c->d, c->scale,
                    q + r0 * ld, (int) ld, k, (int) ld, 0.0f, s, (int) lk);
          for (int64_t i = 0; i < rows; i++)
            {
              float *row = s + i * lk;
              int64_t seen = r0 + i + 1;   /* query r0 + i sees keys 0 .. r0 + i */

              gen_softmax_rows (row, 1, seen);
              memset (row + seen, 0, sizeof (float) * (size_t) (lk - seen));
            }
          gen_gemm (false, false, (int) rows, (int) c->d, (int) lk, 1.0f,
                    s, (int) lk, v, (int) ld, 0.0f, o + r0 * ld, (int) ld);
        }
    }
}

void
gen_attention_causal (const float *q, const float *k, const float *v, float *o,
                      int64_t n, int64_t t, int heads, int64_t d, float scale,
                      GenArena *scratch)
{
  Causal c = { q, k, v, o, NULL, n, t, d, 0, heads, scale };
  int parts;
  gsize mark;

  if (!q || !k || !v || !o || n < 1 || t < 1 || heads < 1 || d < 1)
    return;
  c.band = MAX (1, MIN (t, CAUSAL_BAND_FLOATS / t));
  parts = (int) MIN ((int64_t) gen_parallel_parts (), n * heads);
  mark = gen_arena_mark (scratch);
  c.scores = gen_arena_alloc (scratch, (gsize) (parts * c.band * t));
  if (c.scores)
    gen_parallel_for (parts, causal_part, &c);
  gen_arena_release (scratch, mark);
}

/* ---- elementwise ----------------------------------------------------------- */

typedef struct
{
  const float *x;
  float       *y;
  int64_t      n;
} Elementwise;

/* QuickGELU (Hendrycks & Gimpel 2016, §2: x · σ(1.702 x)), by the
 * vectorised exp. */
GEN_CLONES static void
quick_gelu_run (const float *x, float *y, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    y[i] = x[i] / (1.0f + exp_approx (-1.702f * x[i]));
}

static void
quick_gelu_part (int part, int parts, gpointer data)
{
  const Elementwise *e = data;
  int64_t i0 = e->n * part / parts, i1 = e->n * (part + 1) / parts;

  quick_gelu_run (e->x + i0, e->y + i0, i1 - i0);
}

void
gen_quick_gelu (const float *x, float *y, int64_t n)
{
  Elementwise e = { x, y, n };

  if (!x || !y || n <= 0)
    return;
  gen_parallel_for ((int) MIN (gen_parallel_parts (), MAX (1, n / 65536)), quick_gelu_part, &e);
}

/* ---- linear ---------------------------------------------------------------- */

void
gen_linear_add (const GenLinear *lin, const float *x, float *y, int64_t rows, GenArena *scratch)
{
  int64_t out = lin->weight.ne[2], in = lin->weight.ne[3];
  gsize mark;
  const float *wd;   /* [out, in] */

  if (!x || !y)
    return;
  mark = gen_arena_mark (scratch);
  if ((wd = gen_weight_f32 (&lin->weight, &lin->half, scratch)))
    {
      if (lin->bias.data)
        for (int64_t r = 0; r < rows; r++)
          for (int64_t o = 0; o < out; o++)
            y[r * out + o] += lin->bias.data[o];
      gen_gemm (false, true, (int) rows, (int) out, (int) in, 1.0f,
                x, (int) in, wd, (int) in, 1.0f, y, (int) out);
    }
  gen_arena_release (scratch, mark);
}
