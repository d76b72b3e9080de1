/* gen-tensor.c — strided tensor views and the activation arena. */
#include "gen-tensor.h"
#include "gen-error.h"

#include <string.h>

#define GEN_ARENA_ALIGN 64

GenTensor
gen_tensor_view (float *data, int64_t n, int64_t c, int64_t h, int64_t w)
{
  GenTensor t = { data, { n, c, h, w }, { c * h * w, h * w, w, 1 } };
  return t;
}

GenTensor
gen_tensor_channels (const GenTensor *t, int64_t c0, int64_t nc)
{
  GenTensor v = *t;

  g_return_val_if_fail (c0 >= 0 && nc >= 0 && c0 + nc <= t->ne[1], v);
  v.data = t->data ? t->data + c0 * t->nb[1] : NULL;
  v.ne[1] = nc;
  return v;
}

GenTensor
gen_tensor_batch (const GenTensor *t, int64_t i)
{
  GenTensor v = *t;

  g_return_val_if_fail (i >= 0 && i < t->ne[0], v);
  v.data = t->data ? t->data + i * t->nb[0] : NULL;
  v.ne[0] = 1;
  return v;
}

gboolean
gen_tensor_is_contiguous (const GenTensor *t)
{
  int64_t expect = 1;

  for (int d = 3; d >= 0; d--)
    {
      if (t->ne[d] != 1 && t->nb[d] != expect)
        return FALSE;
      expect *= t->ne[d];
    }
  return TRUE;
}

int64_t
gen_tensor_numel (const GenTensor *t)
{
  return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

gboolean
gen_tensor_same_shape (const GenTensor *a, const GenTensor *b)
{
  return memcmp (a->ne, b->ne, sizeof a->ne) == 0;
}

void
gen_tensor_copy (const GenTensor *src, GenTensor *dst)
{
  g_return_if_fail (gen_tensor_same_shape (src, dst));
  if (!src->data || !dst->data)
    return;

  if (gen_tensor_is_contiguous (src) && gen_tensor_is_contiguous (dst))
    {
      memmove (dst->data, src->data, sizeof (float) * gen_tensor_numel (src));
      return;
    }
  for (int64_t n = 0; n < src->ne[0]; n++)
    for (int64_t c = 0; c < src->ne[1]; c++)
      {
        const float *s = src->data + n * src->nb[0] + c * src->nb[1];
        float *d = dst->data + n * dst->nb[0] + c * dst->nb[1];

        if (src->nb[3] == 1 && dst->nb[3] == 1 && src->nb[2] == src->ne[3]
            && dst->nb[2] == dst->ne[3])
          {
            memmove (d, s, sizeof (float) * src->ne[2] * src->ne[3]);
            continue;
          }
        for (int64_t y = 0; y < src->ne[2]; y++)
          for (int64_t x = 0; x < src->ne[3]; x++)
            d[y * dst->nb[2] + x * dst->nb[3]] = s[y * src->nb[2] + x * src->nb[3]];
      }
}

/* ---- arena ------------------------------------------------------------ */

typedef struct
{
  guint8 *base;
  gsize   size;
  gsize   used;
} GenArenaBlock;

struct _GenArena
{
  GArray  *blocks;  /* GenArenaBlock; blocks[0] is the main one */
  guint    cur;     /* the block taking allocations; later ones are empty spares */
  gsize    peak;    /* high-water mark of bytes in use across blocks */
  gsize    limit;   /* 0 = none */
  gsize    total;   /* bytes allocated from the system */
  gboolean failed;
  gsize    failed_bytes;
  const gint *cancel;   /* set: every later allocation fails, as cancelled */
  gboolean cancelled;
  /* a measuring arena (gen_arena_new_measure): a stack of offsets only */
  gboolean measure;
  gsize    m_used;  /* bytes on the stack */
  guint8  *m_head;  /* real memory for its first GEN_ARENA_MEASURE_HEAD bytes */
};

/* A measuring arena backs the bottom of its stack with real memory, so the
 * small tensors a pass makes first (time embeddings) hold numbers and the
 * code that fills them runs as usual; everything above is NULL. */
#define GEN_ARENA_MEASURE_HEAD ((gsize) 1 << 20)

static gboolean
arena_add_block (GenArena *arena, gsize size)
{
  GenArenaBlock b = { NULL, size, 0 };

  if (arena->limit && arena->total + size > arena->limit)
    return FALSE;
  b.base = g_try_malloc (size + GEN_ARENA_ALIGN);
  if (!b.base)
    return FALSE;
  arena->total += size;
  g_array_append_val (arena->blocks, b);
  return TRUE;
}

static gsize
arena_in_use (GenArena *arena)
{
  gsize sum = 0;

  for (guint i = 0; i <= arena->cur && i < arena->blocks->len; i++)
    sum += g_array_index (arena->blocks, GenArenaBlock, i).used;
  return sum;
}

GenArena *
gen_arena_new (gsize initial_bytes)
{
  GenArena *arena = g_new0 (GenArena, 1);

  arena->blocks = g_array_new (FALSE, FALSE, sizeof (GenArenaBlock));
  if (initial_bytes && !arena_add_block (arena, initial_bytes))
    arena->failed = TRUE, arena->failed_bytes = initial_bytes;
  return arena;
}

GenArena *
gen_arena_new_measure (void)
{
  GenArena *arena = gen_arena_new (0);

  arena->measure = TRUE;
  arena->m_head = g_malloc0 (GEN_ARENA_MEASURE_HEAD);
  return arena;
}

void
gen_arena_free (GenArena *arena)
{
  if (!arena)
    return;
  g_free (arena->m_head);
  for (guint i = 0; i < arena->blocks->len; i++)
    g_free (g_array_index (arena->blocks, GenArenaBlock, i).base);
  g_array_free (arena->blocks, TRUE);
  g_free (arena);
}

static guint8 *
block_aligned (GenArenaBlock *b, gsize offset)
{
  guintptr p = (guintptr) b->base + offset;
  return (guint8 *) ((p + GEN_ARENA_ALIGN - 1) & ~(guintptr) (GEN_ARENA_ALIGN - 1));
}

float *
gen_arena_alloc (GenArena *arena, gsize n_floats)
{
  gsize bytes;
  GenArenaBlock *b;

  if (arena->failed)
    return NULL;
  if (arena->cancel && !arena->measure && g_atomic_int_get (arena->cancel))
    {
      arena->failed = arena->cancelled = TRUE;
      return NULL;
    }
  if (!g_size_checked_mul (&bytes, n_floats, sizeof (float)))
    goto fail;
  bytes = (bytes + GEN_ARENA_ALIGN - 1) & ~(gsize) (GEN_ARENA_ALIGN - 1);
  if (bytes == 0)
    bytes = GEN_ARENA_ALIGN;
  if (arena->measure)
    {
      gsize at = arena->m_used;

      arena->m_used += bytes;
      arena->peak = MAX (arena->peak, arena->m_used);
      return arena->m_used <= GEN_ARENA_MEASURE_HEAD ? (float *) (arena->m_head + at) : NULL;
    }

  /* Stack discipline: only blocks[cur] takes allocations; when it is full,
   * move on to the next (spare) block if it is big enough, else replace the
   * spares by one new block of at least the arena's current total. */
  b = arena->blocks->len ? &g_array_index (arena->blocks, GenArenaBlock, arena->cur) : NULL;
  if (!b || b->size - b->used < bytes)
    {
      guint next = arena->blocks->len ? arena->cur + 1 : 0;

      if (next < arena->blocks->len
          && g_array_index (arena->blocks, GenArenaBlock, next).size >= bytes)
        {
          arena->cur = next;
          b = &g_array_index (arena->blocks, GenArenaBlock, next);
          b->used = 0;
        }
      else
        {
          gsize size = MAX (bytes, MAX ((gsize) 16 << 20, arena->total));

          while (arena->blocks->len > next)
            {
              GenArenaBlock *last = &g_array_index (arena->blocks, GenArenaBlock,
                                                    arena->blocks->len - 1);
              arena->total -= last->size;
              g_free (last->base);
              g_array_set_size (arena->blocks, arena->blocks->len - 1);
            }
          if (!arena_add_block (arena, size))
            goto fail;
          arena->cur = arena->blocks->len - 1;
          b = &g_array_index (arena->blocks, GenArenaBlock, arena->cur);
        }
    }
  {
    float *p = (float *) block_aligned (b, b->used);
    b->used += bytes;
    arena->peak = MAX (arena->peak, arena_in_use (arena));
    return p;
  }

fail:
  arena->failed = TRUE;
  arena->failed_bytes = n_floats * sizeof (float);
  return NULL;
}

GenTensor
gen_arena_tensor (GenArena *arena, int64_t n, int64_t c, int64_t h, int64_t w)
{
  gsize numel = 0;
  float *data = NULL;

  if (n >= 0 && c >= 0 && h >= 0 && w >= 0
      && g_size_checked_mul (&numel, (gsize) n, (gsize) c)
      && g_size_checked_mul (&numel, numel, (gsize) h)
      && g_size_checked_mul (&numel, numel, (gsize) w))
    data = gen_arena_alloc (arena, numel);
  else
    arena->failed = TRUE, arena->failed_bytes = G_MAXSIZE;
  return gen_tensor_view (data, n, c, h, w);
}

/* A mark encodes (block index, used). */
gsize
gen_arena_mark (GenArena *arena)
{
  if (arena->measure)
    return arena->m_used;
  if (arena->blocks->len == 0)
    return 0;
  return ((gsize) arena->cur << 48) | g_array_index (arena->blocks, GenArenaBlock, arena->cur).used;
}

void
gen_arena_release (GenArena *arena, gsize mark)
{
  guint idx = (guint) (mark >> 48);
  gsize used = mark & (((gsize) 1 << 48) - 1);

  if (arena->measure)
    {
      arena->m_used = mark;
      return;
    }
  if (arena->blocks->len == 0)
    return;
  /* Blocks after the mark's stay allocated as spares for the next
   * allocations (reset folds them into one). */
  for (guint i = idx + 1; i < arena->blocks->len; i++)
    g_array_index (arena->blocks, GenArenaBlock, i).used = 0;
  g_array_index (arena->blocks, GenArenaBlock, idx).used = used;
  arena->cur = idx;
}

GenTensor
gen_arena_keep (GenArena *arena, gsize mark, const GenTensor *t)
{
  guint idx = (guint) (mark >> 48);
  gsize used = mark & (((gsize) 1 << 48) - 1);
  gsize bytes = (gsize) gen_tensor_numel (t) * sizeof (float);
  GenArenaBlock *b;
  GenTensor moved;

  if (arena->measure)
    {
      gen_arena_release (arena, mark);
      moved = gen_arena_tensor (arena, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
      if (moved.data && t->data)
        memmove (moved.data, t->data, (gsize) gen_tensor_numel (t) * sizeof (float));
      return moved;
    }
  if (!t->data || arena->blocks->len == 0 || arena->failed)
    return *t;
  b = &g_array_index (arena->blocks, GenArenaBlock, idx);
  bytes = (bytes + GEN_ARENA_ALIGN - 1) & ~(gsize) (GEN_ARENA_ALIGN - 1);
  if (b->size - used < MAX (bytes, (gsize) GEN_ARENA_ALIGN))
    return *t; /* T would not fit where MARK is: keep everything */
  gen_arena_release (arena, mark);
  moved = gen_arena_tensor (arena, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
  /* same block, at or below T (or T in a later spare block, still intact) */
  memmove (moved.data, t->data, (gsize) gen_tensor_numel (t) * sizeof (float));
  return moved;
}

gboolean
gen_arena_check (GenArena *arena, GError **error)
{
  if (!arena->failed)
    return TRUE;
  if (arena->cancelled)
    g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
  else if (arena->failed_bytes == G_MAXSIZE)
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                 "out of memory: the requested size is too large");
  else
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                 "out of memory: could not allocate %.1f MB for activations "
                 "(try a smaller tile size or image)",
                 arena->failed_bytes / 1e6);
  return FALSE;
}

gboolean
gen_arena_reset (GenArena *arena, GError **error)
{
  gboolean ok = gen_arena_check (arena, error);
  gsize peak = arena->peak;

  arena->cancelled = FALSE;
  if (arena->measure)
    {
      arena->m_used = 0;
      arena->failed = FALSE;
      return ok;
    }
  arena->failed = FALSE;
  if (arena->blocks->len > 1
      || (arena->blocks->len == 1 && g_array_index (arena->blocks, GenArenaBlock, 0).size < peak))
    {
      /* Fold: one block big enough for the whole high-water mark (plus
       * alignment slack for every allocation, bounded by 1 % + 1 MB). */
      gsize want = peak + peak / 100 + ((gsize) 1 << 20);

      for (guint i = 0; i < arena->blocks->len; i++)
        g_free (g_array_index (arena->blocks, GenArenaBlock, i).base);
      g_array_set_size (arena->blocks, 0);
      arena->total = 0;
      if (!arena_add_block (arena, want))
        {
          g_clear_error (error);
          arena->failed_bytes = want;
          arena->failed = TRUE;
          ok = gen_arena_check (arena, error);
          arena->failed = FALSE;
          return ok;
        }
    }
  for (guint i = 0; i < arena->blocks->len; i++)
    g_array_index (arena->blocks, GenArenaBlock, i).used = 0;
  arena->cur = 0;
  return ok;
}

gsize
gen_arena_peak_bytes (GenArena *arena)
{
  return arena->peak;
}

void
gen_arena_set_cancel (GenArena *arena, const gint *cancel)
{
  arena->cancel = cancel;
}

void
gen_arena_set_limit (GenArena *arena, gsize limit)
{
  arena->limit = limit;
}
