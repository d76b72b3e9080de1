/* gen-text-ops.h — kernels over token sequences (the text encoder's
 * transformer): causal multi-head self-attention, quick_gelu, a linear layer
 * added onto a residual stream.
 *
 * Sequences are row-major [N, T, C] float arrays (N sequences of T tokens,
 * C features each).  As in gen-ops.h, an op whose input or output is NULL (a
 * failed arena allocation) does nothing.
 */
#pragma once

#include "gen-ops.h"

G_BEGIN_DECLS

/* Causal multi-head self-attention (Vaswani et al. 2017, eq. 1, with the
 * decoder's mask): for every sequence n < N and head h < HEADS,
 *   O_h[T, D] = softmax(scale · Q_h · K_hᵀ + M) · V_h,  M[i, j] = -inf for j > i,
 * where Q, K, V, O are [N, T, HEADS·D] and head h is columns [h·D, (h+1)·D).
 * Query i only ever looks at keys 0..i: the masked scores are never made.
 * Sequences × heads are shared among the core's threads; SCRATCH holds one
 * band of scores per thread. */
void gen_attention_causal (const float *q, const float *k, const float *v, float *o,
                           int64_t n, int64_t t, int heads, int64_t d, float scale,
                           GenArena *scratch);

/* y = x · sigmoid(1.702 x) over N floats (CLIP's "quick_gelu"), in place allowed. */
void gen_quick_gelu (const float *x, float *y, int64_t n);

/* Y[rows, out] += X[rows, in] · Wᵀ + b: a linear layer onto a residual
 * stream, without the layer's output ever existing on its own (SCRATCH as
 * gen_linear's). */
void gen_linear_add (const GenLinear *lin, const float *x, float *y, int64_t rows,
                     GenArena *scratch);

G_END_DECLS
