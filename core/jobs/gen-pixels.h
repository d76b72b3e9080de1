/* gen-pixels.h — the images the jobs take and give.
 *
 * Interleaved float pixels in 0..1 — gray, gray+alpha, RGB or RGBA — as the
 * front ends hold them (the CLI's image files, GIMP's buffers).  Alpha is
 * straight (not premultiplied).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  float *data;          /* [height][width][channels], 0..1 */
  int    width, height;
  int    channels;      /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
} GenPixels;

/* Makes PX a WIDTH×HEIGHT image of CHANNELS channels, all zeros; the sizes
 * are overflow-checked.  FALSE (PX empty) with INVALID for a size or
 * channel count out of range, NO_MEMORY when the buffer cannot be had.
 * Free with gen_pixels_clear. */
gboolean gen_pixels_init (GenPixels *px, int width, int height, int channels, GError **error);

/* Frees PX's buffer and leaves PX empty (an empty PX is fine). */
void     gen_pixels_clear (GenPixels *px);

G_END_DECLS
