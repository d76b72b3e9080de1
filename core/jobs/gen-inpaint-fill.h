/* gen-inpaint-fill.h — the starting fill of a hole for inpainting: the
 * harmonic interpolant of its surroundings (core/jobs and the tests). */
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

G_END_DECLS
