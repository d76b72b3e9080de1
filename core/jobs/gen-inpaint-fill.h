/* gen-inpaint-fill.h — the starting fill of a hole for inpainting: the
 * harmonic interpolant of its surroundings, then edge-guided diffusion
 * that carries the edges entering the hole on into it (core/jobs and the
 * tests). */
#pragma once

#include "gen-pixels.h"

G_BEGIN_DECLS

/* Fills the first COLOUR channels of IMG where UNKNOWN [height][width] is
 * nonzero with the solution of Laplace's equation Δu = 0 inside, the other
 * pixels as its (Dirichlet) boundary and the image's edges reflecting
 * (Neumann).  Solved coarse to fine: each level starts from the next
 * coarser one's solution and runs red-black SOR until it settles, so a
 * 96×96 hole takes milliseconds.  Known pixels and the other channels are
 * not written.  With no known pixel at all the hole becomes mid-gray.
 * FALSE with NO_MEMORY when its work buffers cannot be had. */
gboolean gen_inpaint_harmonic (GenPixels *img, int colour, const guint8 *unknown,
                               GError **error);

/* Edge-guided (coherence-enhancing) diffusion of a filled hole. */
typedef struct
{
  int         iterations; /* explicit steps of dt 0.2; 0 = none */
  float       rho;        /* the structure tensor's smoothing σ, pixels */
  float       alpha;      /* edge strength (λ1 − λ2, in 0..1 units² summed over
                           * the channels) at which diffusion across an edge halves */
  const gint *cancel;     /* read before every step; nonzero = stop (or NULL) */
} GenEdgeGuided;

#define GEN_EDGE_GUIDED_DEFAULT { 600, 5.0f, 1e-4f, NULL }

/* Runs EG's iterations of u ← u + 0.2·(D : ∇²u) on the first COLOUR
 * channels of IMG where UNKNOWN is nonzero (IMG already filled there, e.g.
 * by gen_inpaint_harmonic), D from the structure tensor of the gradients
 * (smoothed at σ 0.8) smoothed at EG->rho: D = c1 v1 v1ᵀ + v2 v2ᵀ, v1 across
 * the local edge, c1 = 1 / (1 + (λ1 − λ2)/EG->alpha).  Works on the
 * hole's bounding box plus 24 pixels (blurs reflect at its edges; the
 * difference stencils leave out its outermost rows and columns).  Known
 * pixels and the other channels are not written.  Rows are split over the
 * core's threads (gen_parallel_for) on holes of 64K pixels or more; the
 * result does not depend on the thread count.  FALSE with NO_MEMORY, or
 * CANCELLED (IMG unchanged) when EG->cancel is set. */
gboolean gen_inpaint_edge_guided (GenPixels *img, int colour, const guint8 *unknown,
                                  const GenEdgeGuided *eg, GError **error);

G_END_DECLS
