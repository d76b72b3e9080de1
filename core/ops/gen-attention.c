/* gen-attention.c — row softmax and scaled dot-product attention. */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <math.h>

#define ATTN_MAX_FLOATS   ((int64_t) 4 << 20)   /* 16 MB band of scores */

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
