/* gen-image-tiff.c — TIFF files to and from GenImage, through libtiff:
 * its messages, a TIFF "file" in memory, loading (the decoding itself is
 * gen-image-tiff-read.c) and encoding.  libtiff's default handlers print:
 * every message goes to the buffer of the call that caused it instead.
 */
#include "gen-image-tiff.h"

#include "gen-error.h"

#include <stdio.h>
#include <string.h>

/* libtiff 4.5 reports through the handler given to TIFFClientOpenExt; the
 * few places that still use the old process-wide handlers find the message
 * buffer of the call running on their thread in tiff_current.  Those
 * handlers are installed once and pass anything not ours on. */
static GPrivate tiff_current;
static TIFFErrorHandler tiff_prev_error, tiff_prev_warning;

static int
tiff_on_error (TIFF *tif, void *user_data, const char *module, const char *fmt, va_list ap)
{
  TiffMsg *m = user_data;

  (void) tif;
  (void) module;
  g_vsnprintf (m->msg, sizeof m->msg, fmt, ap);
  return 1;
}

static int
tiff_on_warning (TIFF *tif, void *user_data, const char *module, const char *fmt, va_list ap)
{
  (void) tif;
  (void) user_data;
  (void) module;
  (void) fmt;
  (void) ap;
  return 1;
}

static void
tiff_global_error (const char *module, const char *fmt, va_list ap)
{
  TiffMsg *m = g_private_get (&tiff_current);

  if (m != NULL)
    g_vsnprintf (m->msg, sizeof m->msg, fmt, ap);
  else if (tiff_prev_error != NULL)
    tiff_prev_error (module, fmt, ap);
}

static void
tiff_global_warning (const char *module, const char *fmt, va_list ap)
{
  if (g_private_get (&tiff_current) == NULL && tiff_prev_warning != NULL)
    tiff_prev_warning (module, fmt, ap);
}

static void
tiff_install_handlers (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      tiff_prev_error = TIFFSetErrorHandler (tiff_global_error);
      tiff_prev_warning = TIFFSetWarningHandler (tiff_global_warning);
      g_once_init_leave (&done, 1);
    }
}

/* A TIFF "file" in memory: the caller's bytes when reading (never written),
 * a GenImageBuf when writing. */
typedef struct
{
  const guint8 *rdata;
  GenImageBuf   out;
  gsize         len;   /* reading: of rdata */
  guint64       pos;
  gboolean      writing;
} TiffMem;

static tmsize_t
tiff_mem_read (thandle_t h, void *buf, tmsize_t size)
{
  TiffMem *m = h;
  const guint8 *data = m->writing ? m->out.data : m->rdata;
  gsize len = m->writing ? m->out.len : m->len;
  gsize n;

  if (size <= 0 || m->pos >= len)
    return 0;
  n = (gsize) MIN ((guint64) size, len - m->pos);
  memcpy (buf, data + m->pos, n);
  m->pos += n;
  return (tmsize_t) n;
}

static tmsize_t
tiff_mem_write (thandle_t h, void *buf, tmsize_t size)
{
  TiffMem *m = h;

  if (!m->writing || size < 0 || m->pos > G_MAXSIZE
      || !gen_image_buf_write_at (&m->out, (gsize) m->pos, buf, (gsize) size))
    return -1;
  m->pos += (guint64) size;
  return size;
}

static toff_t
tiff_mem_seek (thandle_t h, toff_t off, int whence)
{
  TiffMem *m = h;
  guint64 from = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos
                 : m->writing ? m->out.len : m->len;
  gint64 delta = (gint64) off;  /* libtiff passes negative offsets as toff_t */

  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END)
    return (toff_t) -1;
  if (whence == SEEK_SET)
    {
      if (off > G_MAXINT64)
        return (toff_t) -1;
      m->pos = off;
    }
  else if (delta < 0 ? (guint64) -(delta + 1) + 1 > from : (guint64) delta > G_MAXINT64 - from)
    return (toff_t) -1;
  else
    m->pos = from + (guint64) delta;
  return m->pos;
}

static int
tiff_mem_close (thandle_t h)
{
  (void) h;
  return 0;
}

static toff_t
tiff_mem_size (thandle_t h)
{
  TiffMem *m = h;

  return m->writing ? m->out.len : m->len;
}

static int
tiff_mem_map (thandle_t h, void **base, toff_t *size)
{
  TiffMem *m = h;

  if (m->writing)
    return 0;
  *base = (void *) m->rdata; /* read-only: libtiff copies before any bit reversal */
  *size = m->len;
  return 1;
}

static void
tiff_mem_unmap (thandle_t h, void *base, toff_t size)
{
  (void) h;
  (void) base;
  (void) size;
}

static TIFF *
tiff_open (TiffMem *mem, TiffMsg *msg, const char *name, const char *mode, tmsize_t max_alloc)
{
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc ();
  TIFF *tif;

  if (opts == NULL)
    return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR (opts, tiff_on_error, msg);
  TIFFOpenOptionsSetWarningHandlerExtR (opts, tiff_on_warning, msg);
  if (max_alloc > 0)
    TIFFOpenOptionsSetMaxSingleMemAlloc (opts, max_alloc);
  tif = TIFFClientOpenExt (name, mode, (thandle_t) mem, tiff_mem_read, tiff_mem_write,
                           tiff_mem_seek, tiff_mem_close, tiff_mem_size, tiff_mem_map,
                           tiff_mem_unmap, opts);
  TIFFOpenOptionsFree (opts);
  return tif;
}


GenImage *
gen_image_tiff_load (const guint8 *data, gsize len, const char *name, gsize max_pixels,
                     GError **error)
{
  TiffMem mem = { data, { NULL, 0, 0 }, len, 0, FALSE };
  TiffMsg msg = { "" };
  gpointer outer;
  GenImage *img = NULL;
  TIFF *tif;
  gsize limit;

  if (!gen_image_tiff_check_structure (data, len, name, error))
    return NULL;

  /* No single allocation in libtiff needs more than a whole image's raw
   * samples (at most 16 bits × 4 used samples; extra samples are rare). */
  if (!g_size_checked_mul (&limit, max_pixels, 16) || limit > G_MAXSSIZE)
    limit = G_MAXSSIZE;
  limit = MAX (limit, (gsize) 16 << 20);

  tiff_install_handlers ();
  outer = g_private_get (&tiff_current);
  g_private_set (&tiff_current, &msg);
  tif = tiff_open (&mem, &msg, name, "r", (tmsize_t) limit);
  if (tif == NULL)
    g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad TIFF data (%s)", name,
                 msg.msg[0] != '\0' ? msg.msg : "cannot open");
  else
    {
      img = gen_image_tiff_decode (tif, &msg, name, max_pixels, error);
      TIFFClose (tif);
    }
  g_private_set (&tiff_current, outer);
  return img;
}

gboolean
gen_image_tiff_encode (const GenImage *img, int depth, GenImageBuf *out, const char *name,
                       GError **error)
{
  TiffMem mem = { NULL, { NULL, 0, 0 }, 0, 0, TRUE };
  TiffMsg msg = { "" };
  gpointer outer;
  TIFF *tif;
  guint8 *row = NULL;
  gsize rowbytes = (gsize) img->width * (gsize) img->channels * (gsize) (depth / 8);
  guint32 rps = (guint32) CLAMP (262144 / rowbytes, 1, (gsize) img->height);
  gboolean ok = FALSE;
  int y;

  tiff_install_handlers ();
  outer = g_private_get (&tiff_current);
  g_private_set (&tiff_current, &msg);
  tif = tiff_open (&mem, &msg, name, "w", 0);
  row = g_try_malloc (rowbytes);
  if (tif != NULL && row != NULL)
    {
      ok = TIFFSetField (tif, TIFFTAG_IMAGEWIDTH, (guint32) img->width)
           && TIFFSetField (tif, TIFFTAG_IMAGELENGTH, (guint32) img->height)
           && TIFFSetField (tif, TIFFTAG_SAMPLESPERPIXEL, (guint16) img->channels)
           && TIFFSetField (tif, TIFFTAG_BITSPERSAMPLE, (guint16) depth)
           && TIFFSetField (tif, TIFFTAG_SAMPLEFORMAT, (guint16) SAMPLEFORMAT_UINT)
           && TIFFSetField (tif, TIFFTAG_PHOTOMETRIC,
                            (guint16) (img->channels >= 3 ? PHOTOMETRIC_RGB
                                                          : PHOTOMETRIC_MINISBLACK))
           && TIFFSetField (tif, TIFFTAG_PLANARCONFIG, (guint16) PLANARCONFIG_CONTIG)
           && TIFFSetField (tif, TIFFTAG_ORIENTATION, (guint16) ORIENTATION_TOPLEFT)
           && TIFFSetField (tif, TIFFTAG_COMPRESSION, (guint16) COMPRESSION_ADOBE_DEFLATE)
           && TIFFSetField (tif, TIFFTAG_PREDICTOR, (guint16) PREDICTOR_HORIZONTAL)
           && TIFFSetField (tif, TIFFTAG_ROWSPERSTRIP, rps);
      if (ok && img->channels % 2 == 0)
        {
          guint16 extra = EXTRASAMPLE_UNASSALPHA;

          ok = TIFFSetField (tif, TIFFTAG_EXTRASAMPLES, (guint16) 1, &extra);
        }
      for (y = 0; ok && y < img->height; y++)
        {
          gen_image_row_to_samples (img, y, img->channels, depth, FALSE, row);
          ok = TIFFWriteScanline (tif, row, (guint32) y, 0) >= 0;
        }
      ok = ok && TIFFFlush (tif);
    }
  if (tif != NULL)
    TIFFClose (tif);
  g_private_set (&tiff_current, outer);
  g_free (row);
  if (!ok)
    {
      if (row == NULL || msg.msg[0] == '\0')
        g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: cannot encode TIFF: out of memory",
                     name);
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot encode TIFF (%s)", name,
                     msg.msg);
      g_free (mem.out.data);
      return FALSE;
    }
  *out = mem.out;
  return TRUE;
}
