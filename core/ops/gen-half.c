/* gen-half.c — weights kept in their file's 16-bit floats (F16, BF16): the
 * exact conversion to F32, vectorised, and a weight's F32 form for one
 * product (see gen-ops.h). */
#include "gen-ops.h"
#include "gen-ops-private.h"

#include <string.h>

/* Below this many values a conversion is not worth a hand-over to the
 * threads (~0.1 ms of work). */
#define HALF_PART_MIN ((int64_t) 1 << 18)

/* IEEE binary16 → binary32 without a branch or a subnormal operation, so
 * that the loop vectorises and a CPU flushing subnormals changes nothing:
 * the exponent and mantissa are moved into place and rebiased (15 → 127);
 * infinities and NaNs (exponent 31) get the F32 all-ones exponent, payload
 * kept; zeros and subnormals (exponent 0) are built as 2^-14 · (1 + m/1024)
 * and the 2^-14 subtracted, which is exact.  The same bits as
 * gen_f16_to_f32 for every one of the 65536 inputs (test-ops holds that). */
static inline guint32
f16_bits (guint16 h)
{
  guint32 em = (guint32) (h & 0x7fff) << 13;   /* exponent and mantissa, F32 places */
  guint32 exp = em & 0x0f800000u;
  guint32 normal = em + ((127u - 15u) << 23);
  guint32 special = em + ((255u - 31u) << 23);
  union { guint32 u; float f; } sub, magic = { .u = 113u << 23 };   /* 2^-14 */

  sub.u = normal + (1u << 23);
  sub.f -= magic.f;
  return ((guint32) (h & 0x8000) << 16)
         | (exp == 0x0f800000u ? special : exp == 0 ? sub.u : normal);
}

GEN_CLONES static void
f16_run (const guint16 *src, float *dst, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      guint32 b = f16_bits (GUINT16_FROM_LE (src[i]));

      memcpy (dst + i, &b, sizeof b);
    }
}

GEN_CLONES static void
bf16_run (const guint16 *src, float *dst, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    {
      guint32 b = (guint32) GUINT16_FROM_LE (src[i]) << 16;

      memcpy (dst + i, &b, sizeof b);
    }
}

typedef struct
{
  const GenHalf *half;
  int64_t offset, n;
  float *dst;
} HalfJob;

static void
half_part (int part, int parts, gpointer data)
{
  const HalfJob *j = data;
  int64_t lo = j->n * part / parts, hi = j->n * (part + 1) / parts;
  const guint16 *src = j->half->data + j->offset + lo;

  if (j->half->bf16)
    bf16_run (src, j->dst + lo, hi - lo);
  else
    f16_run (src, j->dst + lo, hi - lo);
}

void
gen_half_to_f32 (const GenHalf *half, int64_t offset, int64_t n, float *dst)
{
  HalfJob j = { half, offset, n, dst };

  if (n <= 0 || !half->data || !dst)
    return;
  gen_parallel_for ((int) MIN (gen_parallel_parts (), MAX (1, n / HALF_PART_MIN)), half_part, &j);
}

const float *
gen_weight_f32 (const GenTensor *w, const GenHalf *half, GenArena *scratch)
{
  int64_t n = gen_tensor_numel (w);
  float *f;

  if (w->data || !half->data)
    return w->data;
  f = gen_arena_alloc (scratch, (gsize) n);   /* W's shape, contiguous */
  gen_half_to_f32 (half, 0, n, f);
  return f;
}
