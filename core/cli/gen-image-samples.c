/* gen-image-samples.c — a file's integer samples to and from GenImage's
 * floats: v/255.0f (v/65535.0f) in, floor (x × 255 + 0.5) (× 65535) out,
 * so that every value read comes back as it was. */
#include "gen-image-codec.h"

#include <string.h>

void
gen_image_samples_to_float (float *dst, const guint8 *src, gsize n, int depth)
{
  gsize i;

  if (depth == 8)
    for (i = 0; i < n; i++)
      dst[i] = (float) src[i] / 255.0f;
  else
    for (i = 0; i < n; i++)
      dst[i] = (float) (((guint) src[2 * i] << 8) | src[2 * i + 1]) / 65535.0f;
}

void
gen_image_unpremultiply (GenImage *img)
{
  gsize i, n = (gsize) img->width * (gsize) img->height;
  int c, nc = img->channels - 1;

  for (i = 0; i < n; i++)
    {
      float *px = img->data + i * (gsize) img->channels;
      float a = px[nc];

      for (c = 0; c < nc; c++)
        px[c] = a > 0.0f ? MIN (px[c] / a, 1.0f) : 0.0f;
    }
}

guint32
gen_image_quantize (float x, guint32 max)
{
  if (!(x > 0.0f))
    return 0; /* also NaN */
  if (x >= 1.0f)
    return max;
  return (guint32) ((double) x * max + 0.5);
}

void
gen_image_row_to_samples (const GenImage *img, int y, int keep, int depth, gboolean big_endian,
                          guint8 *dst)
{
  const float *src = img->data + (gsize) y * (gsize) img->width * (gsize) img->channels;
  int x, c;

  for (x = 0; x < img->width; x++, src += img->channels)
    for (c = 0; c < keep; c++)
      if (depth == 8)
        *dst++ = (guint8) gen_image_quantize (src[c], 255);
      else
        {
          guint16 v = (guint16) gen_image_quantize (src[c], 65535);

          if (big_endian)
            {
              *dst++ = (guint8) (v >> 8);
              *dst++ = (guint8) v;
            }
          else
            {
              memcpy (dst, &v, 2);
              dst += 2;
            }
        }
}
