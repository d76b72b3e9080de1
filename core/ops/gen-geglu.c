/* gen-geglu.c — the gated GELU of the transformer feed-forward (GEGLU,
 * Shazeer 2020; diffusers activations.py GEGLU). */
#include "gen-ops.h"

#include <math.h>

typedef struct
{
  const float *x;    /* [rows, 2 · dim] */
  float       *y;    /* [rows, dim] */
  int64_t      rows, dim;
} Geglu;

static void
geglu_part (int part, int parts, gpointer data)
{
  const Geglu *k = data;

  for (int64_t r = k->rows * part / parts; r < k->rows * (part + 1) / parts; r++)
    {
      const float *a = k->x + r * 2 * k->dim, *gate = a + k->dim;
      float *yr = k->y + r * k->dim;

      /* exact (erf) GELU on the gate, as torch's F.gelu */
      for (int64_t i = 0; i < k->dim; i++)
        yr[i] = a[i] * (0.5f * gate[i] * (1.0f + erff (gate[i] * (float) M_SQRT1_2)));
    }
}

void
gen_geglu (const float *x, float *y, int64_t rows, int64_t dim)
{
  Geglu k = { x, y, rows, dim };

  if (!x || !y || rows <= 0 || dim <= 0)
    return;
  gen_parallel_for ((int) MIN (gen_parallel_parts (), MAX (1, rows * dim / 16384)), geglu_part, &k);
}
