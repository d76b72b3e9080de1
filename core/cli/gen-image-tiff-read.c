/* gen-image-tiff-read.c — decoding a TIFF's first page: the structure
 * check before libtiff sees the bytes, 8/16-bit gray and RGB read directly
 * (strips or tiles, contiguous or separate planes), everything else through
 * libtiff's RGBA reader.
 */
#include "gen-image-tiff.h"

#include "gen-error.h"

#include <string.h>

static guint64
tiff_get (const guint8 *p, int bytes, gboolean le)
{
  guint64 v = 0;
  int i;

  for (i = 0; i < bytes; i++)
    v |= (guint64) p[le ? i : bytes - 1 - i] << (8 * i);
  return v;
}

gboolean
gen_image_tiff_check_structure (const guint8 *data, gsize len, const char *name,
                                GError **error)
{
  static const guint8 type_size[19] = { 0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 0, 0, 8, 8, 8 };
  gboolean le = data[0] == 'I', big = tiff_get (data + 2, 2, le) == 43;
  int osize = big ? 8 : 4, csize = big ? 8 : 2, esize = big ? 20 : 12;
  guint64 off, count, i;

  if (len < (big ? 16u : 8u))
    goto truncated;
  if (big && (tiff_get (data + 4, 2, le) != 8 || tiff_get (data + 6, 2, le) != 0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (BigTIFF header)",
                   name);
      return FALSE;
    }
  off = tiff_get (data + (big ? 8 : 4), osize, le);
  if (off < (big ? 16u : 8u))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: bad TIFF data (first directory at offset %" G_GUINT64_FORMAT ")", name,
                   off);
      return FALSE;
    }
  if (off > len || len - off < (guint64) csize)
    goto truncated;
  count = tiff_get (data + off, csize, le);
  if (count > (len - off - (guint64) csize) / (guint64) esize
      || (len - off - (guint64) csize) - count * (guint64) esize < (guint64) osize)
    goto truncated;
  for (i = 0; i < count; i++)
    {
      const guint8 *e = data + off + (guint64) csize + i * (guint64) esize;
      guint64 type = tiff_get (e + 2, 2, le);
      guint64 n = tiff_get (e + 4, osize, le);
      guint64 vsize = type < G_N_ELEMENTS (type_size) ? type_size[type] : 0;
      guint64 voff;

      if (vsize == 0 || n > G_MAXUINT64 / 8 || n * vsize <= (guint64) osize)
        continue; /* unknown type (libtiff skips it) or value inline */
      voff = tiff_get (e + 4 + osize, osize, le);
      if (voff > len || n * vsize > len - voff)
        goto truncated;
    }
  return TRUE;

truncated:
  g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated TIFF data", name);
  return FALSE;
}

/* How the samples of a directly read TIFF map to the image. */
typedef struct
{
  GenImage *img;
  int       bytes;   /* per sample: 1 or 2 */
  int       base;    /* colour samples: 1 or 3; sample BASE is alpha when img has one */
  gboolean  invert;  /* min-is-white */
} TiffLayout;

/* Puts a decoded block of ROWS×COLS pixels at (X0, Y0) into the image: its
 * rows are STRIDE samples apart, each pixel NS samples (FIRST…FIRST+NS-1). */
static void
tiff_put_block (const TiffLayout *t, const guint8 *buf, guint64 x0, guint64 y0, guint64 cols,
                guint64 rows, gsize stride, guint ns, guint first)
{
  GenImage *img = t->img;
  float max = t->bytes == 1 ? 255.0f : 65535.0f;
  guint64 r, x;
  guint k;

  for (r = 0; r < rows; r++)
    {
      const guint8 *src = buf + r * stride * (gsize) t->bytes;
      float *dst = img->data + ((y0 + r) * (gsize) img->width + x0) * (gsize) img->channels;

      for (x = 0; x < cols; x++, dst += img->channels)
        for (k = 0; k < ns; k++, src += t->bytes)
          {
            guint s = first + k;
            guint v;

            if (s >= (guint) img->channels)
              continue; /* extra samples after the alpha */
            if (t->bytes == 1)
              v = *src;
            else
              {
                guint16 v16;

                memcpy (&v16, src, 2); /* libtiff gives host order */
                v = v16;
              }
            if (t->invert && s < (guint) t->base)
              v = (guint) max - v;
            dst[s] = (float) v / max;
          }
    }
}

static gboolean
tiff_read_direct (TIFF *tif, const TiffLayout *t, guint16 spp, gboolean contig,
                  TiffMsg *msg, const char *name, GError **error)
{
  GenImage *img = t->img;
  guint64 w = (guint64) img->width, h = (guint64) img->height;
  guint ns = contig ? spp : 1;
  guint planes = contig ? 1 : MIN (spp, (guint) img->channels);
  guint8 *buf = NULL;
  gboolean ok = FALSE;
  guint p;

  if (TIFFIsTiled (tif))
    {
      guint32 tw = 0, th = 0;
      tmsize_t size = TIFFTileSize (tif);
      gsize stride, need;

      if (!TIFFGetField (tif, TIFFTAG_TILEWIDTH, &tw)
          || !TIFFGetField (tif, TIFFTAG_TILELENGTH, &th)
          || tw == 0 || th == 0 || size <= 0
          || !g_size_checked_mul (&stride, tw, ns)
          || !g_size_checked_mul (&need, stride, th)
          || !g_size_checked_mul (&need, need, (gsize) t->bytes) || (guint64) size < need)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (tile size)", name);
          return FALSE;
        }
      /* tiles may overhang the image, but not by gigabytes */
      if ((guint64) size > MAX (w * h * spp * (guint64) t->bytes, (guint64) 64 << 20))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: bad TIFF data (%" G_GUINT32_FORMAT "x%" G_GUINT32_FORMAT
                       " tiles for a %" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT " image)",
                       name, tw, th, w, h);
          return FALSE;
        }
      buf = g_try_malloc ((gsize) size);
      if (buf == NULL)
        goto oom;
      for (p = 0; p < planes; p++)
        for (guint64 ty = 0; ty < h; ty += th)
          for (guint64 tx = 0; tx < w; tx += tw)
            {
              ttile_t tile = TIFFComputeTile (tif, (guint32) tx, (guint32) ty, 0, (guint16) p);

              msg->msg[0] = '\0';
              if (TIFFReadEncodedTile (tif, tile, buf, size) < 0)
                goto bad;
              tiff_put_block (t, buf, tx, ty, MIN (tw, w - tx), MIN (th, h - ty), stride, ns,
                              contig ? 0 : p);
            }
    }
  else
    {
      guint32 rps = 0;
      tmsize_t size = TIFFStripSize (tif);
      gsize stride, need;

      if (!TIFFGetFieldDefaulted (tif, TIFFTAG_ROWSPERSTRIP, &rps) || rps == 0 || rps > h)
        rps = (guint32) h;
      if (size <= 0 || !g_size_checked_mul (&stride, (gsize) w, ns)
          || !g_size_checked_mul (&need, stride, rps)
          || !g_size_checked_mul (&need, need, (gsize) t->bytes) || (guint64) size < need)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (strip size)", name);
          return FALSE;
        }
      buf = g_try_malloc ((gsize) size);
      if (buf == NULL)
        goto oom;
      for (p = 0; p < planes; p++)
        for (guint64 y = 0; y < h; y += rps)
          {
            tstrip_t strip = TIFFComputeStrip (tif, (guint32) y, (guint16) p);
            guint64 rows = MIN (rps, h - y);
            tmsize_t got;

            msg->msg[0] = '\0';
            got = TIFFReadEncodedStrip (tif, strip, buf, size);

            if (got < 0 || (guint64) got < rows * stride * (guint64) t->bytes)
              goto bad;
            tiff_put_block (t, buf, 0, y, w, rows, stride, ns, contig ? 0 : p);
          }
    }
  ok = TRUE;
  goto out;

bad:
  g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (%s)", name,
               msg->msg[0] != '\0' ? msg->msg : "short strip or tile");
  goto out;
oom:
  g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
out:
  g_free (buf);
  return ok;
}

/* 1/2/4-bit and exotic 8-bit photometrics through libtiff's RGBA reader
 * (which premultiplies alpha and applies the Orientation tag). */
static GenImage *
tiff_read_rgba (TIFF *tif, guint32 w, guint32 h, gboolean gray, TiffMsg *msg,
                const char *name, GError **error)
{
  char emsg[1024] = "";
  TIFFRGBAImage rgba;
  GenImage *img;
  guint32 *raster;
  gsize i, n = (gsize) w * (gsize) h, bytes;
  int channels, ok;

  if (!TIFFRGBAImageOK (tif, emsg) || !TIFFRGBAImageBegin (&rgba, tif, 1, emsg))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED, "%s: TIFF not supported (%s)", name,
                   emsg);
      return NULL;
    }
  channels = (gray ? 1 : 3) + (rgba.alpha != 0);
  raster = g_size_checked_mul (&bytes, n, sizeof (guint32)) ? g_try_malloc (bytes) : NULL;
  img = raster != NULL ? gen_image_new_for (name, w, h, channels, 8, error) : NULL;
  if (raster == NULL && img == NULL)
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
  if (raster == NULL || img == NULL)
    {
      TIFFRGBAImageEnd (&rgba);
      g_free (raster);
      gen_image_free (img);
      return NULL;
    }
  rgba.req_orientation = ORIENTATION_TOPLEFT;
  msg->msg[0] = '\0';
  ok = TIFFRGBAImageGet (&rgba, raster, w, h);
  TIFFRGBAImageEnd (&rgba);
  if (!ok)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (%s)", name,
                   msg->msg[0] != '\0' ? msg->msg : "cannot decode");
      g_free (raster);
      gen_image_free (img);
      return NULL;
    }
  for (i = 0; i < n; i++)
    {
      float *px = img->data + i * (gsize) channels;
      guint32 v = raster[i];

      px[0] = (float) TIFFGetR (v) / 255.0f;
      if (!gray)
        {
          px[1] = (float) TIFFGetG (v) / 255.0f;
          px[2] = (float) TIFFGetB (v) / 255.0f;
        }
      if (rgba.alpha != 0)
        px[channels - 1] = (float) TIFFGetA (v) / 255.0f;
    }
  g_free (raster);
  if (rgba.alpha != 0)
    gen_image_unpremultiply (img);
  return img;
}

GenImage *
gen_image_tiff_decode (TIFF *tif, TiffMsg *msg, const char *name, gsize max_pixels,
                       GError **error)
{
  guint32 w = 0, h = 0;
  guint16 bps = 1, spp = 1, format = SAMPLEFORMAT_UINT, photometric, planar = PLANARCONFIG_CONTIG;
  guint16 extra_count = 0, *extra_types = NULL;
  TiffLayout t;

  if (!TIFFGetField (tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField (tif, TIFFTAG_IMAGELENGTH, &h))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (no image size)", name);
      return NULL;
    }
  if (!gen_image_check_size (w, h, max_pixels, name, error))
    return NULL;
  TIFFGetFieldDefaulted (tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted (tif, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFGetFieldDefaulted (tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted (tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra_types);
  if (!TIFFGetField (tif, TIFFTAG_PHOTOMETRIC, &photometric))
    photometric = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;

  if (format == SAMPLEFORMAT_IEEEFP || format == SAMPLEFORMAT_COMPLEXIEEEFP)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: %u-bit float TIFF is not supported (8 or 16 bits per sample)", name,
                   (guint) bps);
      return NULL;
    }
  if (format != SAMPLEFORMAT_UINT && format != SAMPLEFORMAT_VOID)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: signed %u-bit TIFF is not supported (unsigned 8 or 16 bits per sample)",
                   name, (guint) bps);
      return NULL;
    }
  if (spp == 0 || spp > 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: TIFF with %u samples per pixel is not supported", name, (guint) spp);
      return NULL;
    }

  if ((bps == 8 || bps == 16)
      && (photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE
          || photometric == PHOTOMETRIC_RGB))
    {
      gboolean alpha;
      GenImage *img;

      t.base = photometric == PHOTOMETRIC_RGB ? 3 : 1;
      if (spp < t.base)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: bad TIFF data (RGB with %u samples per pixel)", name, (guint) spp);
          return NULL;
        }
      if (planar != PLANARCONFIG_CONTIG && planar != PLANARCONFIG_SEPARATE)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: bad TIFF data (planar configuration %u)", name, (guint) planar);
          return NULL;
        }
      /* The first sample past the colour is alpha, tagged or not (as GIMP
       * reads it); only an associated-alpha tag makes it premultiplied. */
      alpha = spp > t.base;
      t.bytes = bps / 8;
      t.invert = photometric == PHOTOMETRIC_MINISWHITE;
      img = gen_image_new_for (name, w, h, t.base + alpha, bps, error);
      if (img == NULL)
        return NULL;
      t.img = img;
      if (!tiff_read_direct (tif, &t, spp, planar == PLANARCONFIG_CONTIG, msg, name, error))
        {
          gen_image_free (img);
          return NULL;
        }
      if (alpha && extra_count > 0 && extra_types != NULL
          && extra_types[0] == EXTRASAMPLE_ASSOCALPHA)
        gen_image_unpremultiply (img);
      return img;
    }

  if (bps < 8 || (bps == 8 && photometric != PHOTOMETRIC_MINISBLACK
                  && photometric != PHOTOMETRIC_MINISWHITE && photometric != PHOTOMETRIC_RGB))
    return tiff_read_rgba (tif, w, h,
                           photometric == PHOTOMETRIC_MINISBLACK
                           || photometric == PHOTOMETRIC_MINISWHITE,
                           msg, name, error);

  if (bps == 16)
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 "%s: 16-bit TIFF of photometric %u is not supported (gray or RGB only)", name,
                 (guint) photometric);
  else
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 "%s: %u-bit TIFF is not supported (8 or 16 bits per sample)", name, (guint) bps);
  return NULL;
}

