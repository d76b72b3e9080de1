/* gen-plugin-pixels.c — GIMP pixels to and from GenPixels through GEGL. */
#include <string.h>

#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-plugin-pixels.h"

static const char *const formats[] = { "Y' float", "Y'A float", "R'G'B' float", "R'G'B'A float" };

const Babl *
gen_plugin_pixels_format (int channels, GeglBuffer *buffer)
{
  const Babl *space = NULL;

  g_return_val_if_fail (channels >= 1 && channels <= 4, NULL);
  if (buffer)
    space = babl_format_get_space (gegl_buffer_get_format (buffer));
  return babl_format_with_space (formats[channels - 1], space);
}

gboolean
gen_plugin_pixels_read (GeglBuffer *buffer, const GeglRectangle *rect, int channels,
                        GenPixels *px, GError **error)
{
  if (!gen_pixels_init (px, rect->width, rect->height, channels, error))
    return FALSE;
  gegl_buffer_get (buffer, rect, 1.0, gen_plugin_pixels_format (channels, buffer), px->data,
                   GEGL_AUTO_ROWSTRIDE, GEGL_ABYSS_NONE);
  return TRUE;
}

void
gen_plugin_pixels_write (GeglBuffer *buffer, const GeglRectangle *rect, const GenPixels *px)
{
  GeglRectangle r = { rect->x, rect->y, px->width, px->height };

  gegl_buffer_set (buffer, &r, 0, gen_plugin_pixels_format (px->channels, buffer), px->data,
                   GEGL_AUTO_ROWSTRIDE);
}

float *
gen_plugin_mask_read (GeglBuffer *selection, const GeglRectangle *rect, int offset_x,
                      int offset_y, GError **error)
{
  GeglRectangle r = { rect->x + offset_x, rect->y + offset_y, rect->width, rect->height };
  gsize n, bytes;
  float *mask;

  if (!g_size_checked_mul (&n, (gsize) rect->width, (gsize) rect->height)
      || !g_size_checked_mul (&bytes, n, sizeof (float))
      || !(mask = g_try_malloc0 (bytes)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   _("Out of memory for a %d×%d selection."), rect->width, rect->height);
      return NULL;
    }
  /* Outside the image the selection is empty: GEGL_ABYSS_NONE reads zeros. */
  gegl_buffer_get (selection, &r, 1.0, babl_format ("Y float"), mask, GEGL_AUTO_ROWSTRIDE,
                   GEGL_ABYSS_NONE);
  return mask;
}

double
gen_plugin_estimate_noise (GeglBuffer *buffer, const GeglRectangle *rect, int channels)
{
  GeglRectangle crop = *rect;
  GenPixels px;
  double sigma;

  crop.width = MIN (rect->width, 512);
  crop.height = MIN (rect->height, 512);
  crop.x += (rect->width - crop.width) / 2;
  crop.y += (rect->height - crop.height) / 2;
  if (!gen_plugin_pixels_read (buffer, &crop, channels, &px, NULL))
    return -1.0;
  sigma = gen_estimate_noise (&px);
  gen_pixels_clear (&px);
  return sigma;
}

gboolean
gen_plugin_mask_any (const float *mask, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (mask[i] > 0.0f)
      return TRUE;
  return FALSE;
}

gboolean
gen_plugin_pixels_convert (const GenPixels *in, int channels, GenPixels *out, GError **error)
{
  int ic = in->channels, icol = (ic == 2 || ic == 4) ? ic - 1 : ic;
  int ocol = (channels == 2 || channels == 4) ? channels - 1 : channels;
  gsize n = (gsize) in->width * (gsize) in->height;

  if (!gen_pixels_init (out, in->width, in->height, channels, error))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    {
      const float *s = in->data + i * ic;
      float *d = out->data + i * channels;

      if (ocol == icol)
        memcpy (d, s, icol * sizeof (float));
      else if (ocol == 1)
        d[0] = (s[0] + s[1] + s[2]) / 3.0f;
      else
        d[0] = d[1] = d[2] = s[0];
      if (ocol != channels)
        d[ocol] = icol != ic ? s[icol] : 1.0f;
    }
  return TRUE;
}

void
gen_plugin_pixels_blend (GenPixels *out, const GenPixels *orig, const float *mask)
{
  int c = out->channels, col = (c == 2 || c == 4) ? c - 1 : c;
  gsize n = (gsize) out->width * (gsize) out->height;

  g_return_if_fail (orig->channels == c && orig->width == out->width
                    && orig->height == out->height);
  for (gsize i = 0; i < n; i++)
    {
      float *d = out->data + i * c;
      const float *s = orig->data + i * c;

      for (int k = 0; k < col; k++)
        d[k] = s[k] + mask[i] * (d[k] - s[k]);
      if (col != c)
        d[col] = s[col];
    }
}

float *
gen_plugin_inpaint_mask (const GenPixels *in, const float *selection, GError **error)
{
  gsize n = (gsize) in->width * (gsize) in->height;
  int c = in->channels, alpha = c == 2 || c == 4;
  float *mask = g_try_new (float, n);

  if (!mask)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   _("Out of memory for a %d×%d selection."), in->width, in->height);
      return NULL;
    }
  for (gsize i = 0; i < n; i++)
    mask[i] = selection[i] > 0.0f || (alpha && in->data[i * c + c - 1] <= 0.0f) ? 1.0f : 0.0f;
  return mask;
}

gboolean
gen_plugin_pixels_fill (const GenPixels *orig, const GenPixels *fill, const float *selection,
                        const GeglRectangle *part, GenPixels *out, GError **error)
{
  int c = orig->channels, col = c - 1;

  g_return_val_if_fail ((c == 2 || c == 4) && fill->channels == c && fill->width == orig->width
                        && fill->height == orig->height, FALSE);
  if (!gen_pixels_init (out, part->width, part->height, c, error))
    return FALSE;
  for (int y = 0; y < part->height; y++)
    for (int x = 0; x < part->width; x++)
      {
        gsize i = (gsize) (part->y + y) * orig->width + part->x + x;
        const float *o = orig->data + i * c, *f = fill->data + i * c;
        float *d = out->data + ((gsize) y * part->width + x) * c;
        float s = CLAMP (selection[i], 0.0f, 1.0f), a = o[col] + s * (1.0f - o[col]);

        if (s <= 0.0f || a <= 0.0f)
          memcpy (d, o, c * sizeof (float));
        else
          {
            /* FILL (opaque) over ORIG with coverage S, in premultiplied terms */
            for (int k = 0; k < col; k++)
              d[k] = s >= 1.0f ? f[k] : (o[col] * (1.0f - s) * o[k] + s * f[k]) / a;
            d[col] = a;
          }
      }
  return TRUE;
}
