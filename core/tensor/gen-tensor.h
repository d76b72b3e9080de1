/* gen-tensor.h — the one float32 strided tensor and the activation arena.
 *
 * A GenTensor is a view: it never owns its data.  Data lives either in a
 * model's weights (mmapped or converted once at load) or in a GenArena that
 * a forward pass allocates from.  Shapes are NCHW: ne[0]=N, ne[1]=C,
 * ne[2]=H, ne[3]=W; strides nb[] are in elements.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct
{
  float  *data;
  int64_t ne[4]; /* sizes  [N, C, H, W] */
  int64_t nb[4]; /* strides in elements */
} GenTensor;

/* A contiguous NCHW view over DATA (not copied, not owned). */
GenTensor gen_tensor_view (float *data, int64_t n, int64_t c, int64_t h, int64_t w);

/* Channels [c0, c0 + nc) of T, as a (possibly non-contiguous) view. */
GenTensor gen_tensor_channels (const GenTensor *t, int64_t c0, int64_t nc);

/* Batch item I of T, as a view with ne[0] = 1. */
GenTensor gen_tensor_batch (const GenTensor *t, int64_t i);

gboolean gen_tensor_is_contiguous (const GenTensor *t);
int64_t  gen_tensor_numel (const GenTensor *t);
gboolean gen_tensor_same_shape (const GenTensor *a, const GenTensor *b);

/* Copies SRC into DST (same shape, any strides). */
void gen_tensor_copy (const GenTensor *src, GenTensor *dst);

/* ---- arena --------------------------------------------------------------
 * A stack allocator for activations.  Allocations are 64-byte aligned and
 * released in LIFO order with mark/release.  The first pass may grow the
 * arena through extra blocks; gen_arena_reset() then folds them into one
 * block of the high-water size, so later passes of the same shapes allocate
 * nothing.  An allocation that cannot be satisfied returns NULL and makes
 * the arena "failed": ops skip tensors whose data is NULL, and the caller
 * asks gen_arena_check() once at the end of the pass.
 */
typedef struct _GenArena GenArena;

GenArena *gen_arena_new (gsize initial_bytes);
/* An arena that only measures (ggml sizes its arena from such a pass): it
 * hands out no memory beyond its first megabyte, so past that every
 * tensor's data is NULL and the ops skip their work; a forward pass through
 * it costs next to nothing, and gen_arena_peak_bytes () is then what an
 * arena needs for those shapes.  The pass's own result means nothing. */
GenArena *gen_arena_new_measure (void);
void      gen_arena_free (GenArena *arena);

float    *gen_arena_alloc (GenArena *arena, gsize n_floats);
/* A contiguous tensor from the arena (data NULL if the arena failed). */
GenTensor gen_arena_tensor (GenArena *arena, int64_t n, int64_t c, int64_t h, int64_t w);

gsize     gen_arena_mark (GenArena *arena);
void      gen_arena_release (GenArena *arena, gsize mark);
/* For chains of layers: releases everything allocated since MARK except T
 * (contiguous, allocated after MARK), which is moved down to MARK.  Returns
 * the moved view; if moving is not possible without a new block, T itself
 * (nothing released). */
GenTensor gen_arena_keep (GenArena *arena, gsize mark, const GenTensor *t);
/* Releases everything; folds overflow blocks into one.  FALSE (error set)
 * if the arena failed during the pass or cannot be folded. */
gboolean  gen_arena_reset (GenArena *arena, GError **error);
/* FALSE with an "out of memory" error if any allocation failed. */
gboolean  gen_arena_check (GenArena *arena, GError **error);
gsize     gen_arena_peak_bytes (GenArena *arena);
/* A job's cancel flag (NULL = none): once it is nonzero, every allocation
 * fails and gen_arena_check says CANCELLED, so a forward pass stops within
 * one op instead of running to its end. */
void      gen_arena_set_cancel (GenArena *arena, const gint *cancel);
/* Limits the arena to LIMIT bytes in total (0 = no limit); used by tests to
 * exercise the out-of-memory path. */
void      gen_arena_set_limit (GenArena *arena, gsize limit);

G_END_DECLS
