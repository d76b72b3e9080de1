/* gen-plugin-pixels.h — GIMP pixels to and from the core's GenPixels.
 *
 * Shared by both GIMP front ends: it sees only GEGL buffers, babl formats
 * and plain C, so GIMP 3 (objects) and GIMP 2.10 (IDs) both hand it the
 * GeglBuffer of a drawable and of the selection. */
#pragma once

#include <gegl.h>

#include "gen-job.h"

G_BEGIN_DECLS

/* The non-linear float babl format of CHANNELS (1 Y', 2 Y'A, 3 R'G'B',
 * 4 R'G'B'A) in the colour space of BUFFER (NULL: sRGB). */
const Babl *gen_plugin_pixels_format (int channels, GeglBuffer *buffer);

/* Reads RECT of BUFFER (buffer coordinates) as CHANNELS-channel float into
 * a new PX (free with gen_pixels_clear). */
gboolean gen_plugin_pixels_read (GeglBuffer *buffer, const GeglRectangle *rect, int channels,
                                 GenPixels *px, GError **error);

/* Writes PX to BUFFER at RECT's origin, PX's size. */
void     gen_plugin_pixels_write (GeglBuffer *buffer, const GeglRectangle *rect,
                                  const GenPixels *px);

/* Reads the selection mask SELECTION (image coordinates) under RECT of a
 * drawable whose origin is at OFFSET_X, OFFSET_Y in the image: returns
 * float [rect->height][rect->width] in 0..1, owned by the caller (g_free). */
float   *gen_plugin_mask_read (GeglBuffer *selection, const GeglRectangle *rect,
                               int offset_x, int offset_y, GError **error);

/* The noise level (σ on the 0..255 scale) of RECT of BUFFER read as
 * CHANNELS channels, estimated with gen_estimate_noise on at most a
 * 512×512 crop at its centre (the dialog shows it; the job estimates again
 * on what it runs on).  -1 when it cannot be read. */
double   gen_plugin_estimate_noise (GeglBuffer *buffer, const GeglRectangle *rect, int channels);

/* TRUE when any of MASK's N values is above zero. */
gboolean gen_plugin_mask_any (const float *mask, gsize n);

/* Copies IN into a new OUT with CHANNELS channels: gray from RGB is the mean
 * of the channels (as the core does), RGB from gray repeats it, a missing
 * alpha is 1, a dropped alpha is dropped. */
gboolean gen_plugin_pixels_convert (const GenPixels *in, int channels, GenPixels *out,
                                    GError **error);

/* OUT = ORIG + MASK × (OUT − ORIG) on every colour channel (alpha stays
 * ORIG's); same shapes.  For jobs that take no mask of their own. */
void     gen_plugin_pixels_blend (GenPixels *out, const GenPixels *orig, const float *mask);

/* The mask inpaint hands the core for the pixels IN (with alpha) under the
 * selection SELECTION (0..1): 1 — fill — wherever anything is selected or
 * IN is fully transparent (nothing known there: outpainting), 0 where
 * the model must keep the picture.  How much of the fill shows is the
 * selection's business (gen_plugin_pixels_fill).  Caller frees. */
float   *gen_plugin_inpaint_mask (const GenPixels *in, const float *selection, GError **error);

/* The PART (in ORIG's coordinates) of the fill FILL laid over ORIG with
 * the selection SELECTION (both ORIG's size, with alpha) as its coverage,
 * into a new OUT of PART's size: where the selection is 0 ORIG exactly,
 * where it is 1 FILL, opaque, and in between both, per pixel — a
 * feathered selection never leaves an edge; a transparent ORIG takes
 * FILL's colour and the selection's opacity. */
gboolean gen_plugin_pixels_fill (const GenPixels *orig, const GenPixels *fill,
                                 const float *selection, const GeglRectangle *part,
                                 GenPixels *out, GError **error);

G_END_DECLS
