/* gen-denoise-wiener.h — collaborative Wiener filtering of a noisy image
 * guided by a first estimate of it: the second step of BM3D / CBM3D, with
 * the model's denoised image as the "basic estimate" (core/jobs and the
 * tests). */
#pragma once

#include "gen-pixels.h"

G_BEGIN_DECLS

#define GEN_WIENER_PATCH 8   /* patch side N */

typedef struct
{
  int         search;    /* half-width R of the block-matching window: (2R+1)² offsets */
  int         step;      /* stride of the reference patches (the last row and column
                          * always have one) */
  int         max_group; /* at most this many patches in a group: 1, 2, 4, 8, 16 or 32 */
  double      tau;       /* matching threshold on the mean squared luma difference of two
                          * patches of the estimate, 0..255 units; < 0 = the published
                          * one for the noise: 400 up to σ 40, 3500 above */
  double      beta;      /* Kaiser window's β for the aggregation */
  gboolean    spectrum;  /* the noise's spectrum from NOISY − EST (below), else white */
  const gint *cancel;    /* read between tiles; nonzero = stop (or NULL) */
} GenWiener;

/* The published normal profile of the Wiener step (Dabov et al. 2007):
 * 8×8 patches every 3 pixels, a 39×39 search window, groups of up to 32;
 * and the noise's spectrum estimated. */
#define GEN_WIENER_DEFAULT { 19, 3, 32, -1.0, 2.0, TRUE, NULL }

/* Filters NOISY, whose noise has the RMS SIGMA (0..255 scale) per
 * channel, with EST, a first estimate of the clean image of the same shape
 * ([height][width][channels], 0..1), and writes the result over EST's
 * colour channels (clamped to 0..1; alpha is not read or written).
 *
 * The noise's variance per channel and 2D DCT frequency is σ² (white), or
 * with WIENER->spectrum the shape of the residual NOISY − EST's power over
 * the image's non-overlapping patches scaled to a mean of σ² (coloured
 * noise such as JPEG's).  Where a channel of that residual holds almost
 * nothing at the highest frequencies (under 0.1 of the mean power in the
 * 2×2 of frequencies 6 and 7: noise smoothed by demosaicing, or JPEG's
 * halved chroma, whose power the residual under-counts where it matters),
 * that channel of EST is left as it is; EST as a whole when every channel
 * is.
 *
 * Colour images work in an orthonormal opponent space (the luma (R+G+B)/√3
 * and two chroma differences), so the noise stays SIGMA in each channel.
 * For every reference patch, the patches of EST's luma within the search
 * window closest to it (mean squared difference ≤ tau, the reference
 * first, then by distance and raster order of the offset) form a group of
 * the largest power of two that many; the group of NOISY and of EST goes
 * through the 3D transform (2D DCT of each patch, Haar across the group),
 * NOISY's coefficients are scaled by the empirical Wiener gain
 * |E|² / (|E|² + v) from EST's (v the noise's variance at that channel and
 * frequency), transformed back, and every patch is added where it came
 * from with the weight 1 / Σ gain²·v of its group and channel (1 where that
 * is 0) times a Kaiser window; the result is the weighted mean.
 *
 * Tiles of reference patches run on the core's threads (gen_parallel_for),
 * and the result does not depend on how many.  FALSE with INVALID for
 * bad parameters or a shape mismatch, NO_MEMORY, or CANCELLED (EST
 * unchanged). */
gboolean gen_denoise_wiener (const GenPixels *noisy, GenPixels *est, double sigma,
                             const GenWiener *wiener, GError **error);

G_END_DECLS
