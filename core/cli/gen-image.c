/* gen-image.c — PNG, JPEG and TIFF files to and from GenImage.
 *
 * Every file is read into memory first and decoded from there, so the
 * loaders and the fuzzer share one path.  libpng and libjpeg report errors
 * by longjmp: each library call sequence lives in its own small function
 * holding the setjmp, with everything it allocates kept in a context struct
 * owned by the caller, which cleans up on either outcome (so no automatic
 * variable changed after setjmp is read after a longjmp).  libjpeg's
 * default handlers print and exit; libtiff's print: all are replaced.
 *
 * Encoders write into an OutBuf in memory; the bytes then reach the disk
 * through g_file_set_contents_full (temp file in the same folder, fsync,
 * rename; the temp file is removed on failure).
 */
#include "gen-image.h"

#include "gen-error.h"
#include "gen-pixels.h"

#include <png.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <tiffio.h>

#include <glib/gstdio.h>
#include <sys/stat.h>
#ifdef G_OS_UNIX
#include <unistd.h>
#endif

#if defined(O_NONBLOCK) && defined(O_CLOEXEC)
#define OPEN_FLAGS (O_NONBLOCK | O_CLOEXEC)
#else
#define OPEN_FLAGS 0
#endif

#define LIB_MSG_LEN    256
#define JPEG_MAX_SCANS 500   /* a progressive JPEG needs ~10; thousands are a CPU bomb */

typedef enum { FMT_NONE, FMT_PNG, FMT_JPEG, FMT_TIFF } ImageFormat;

/* ---- GenImage ------------------------------------------------------------ */

GenImage *
gen_image_new (int width, int height, int channels, int bit_depth, GError **error)
{
  GenImage *img;
  GenPixels px;

  if (width < 1 || height < 1 || width > GEN_IMAGE_MAX_SIDE || height > GEN_IMAGE_MAX_SIDE
      || (gsize) width * (gsize) height > GEN_IMAGE_MAX_PIXELS)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "image size %dx%d out of range (1 to %d per side, at most %" G_GSIZE_FORMAT
                   " pixels)", width, height, GEN_IMAGE_MAX_SIDE, GEN_IMAGE_MAX_PIXELS);
      return NULL;
    }
  if (channels < 1 || channels > 4)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%d channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA)", channels);
      return NULL;
    }
  if (bit_depth != 8 && bit_depth != 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "bit depth %d (8 or 16)", bit_depth);
      return NULL;
    }
  if (!gen_pixels_init (&px, width, height, channels, error))
    return NULL;
  img = g_new0 (GenImage, 1);
  img->data = px.data;
  img->width = width;
  img->height = height;
  img->channels = channels;
  img->bit_depth = bit_depth;
  return img;
}

void
gen_image_free (GenImage *img)
{
  if (img == NULL)
    return;
  g_free (img->data);
  g_free (img);
}

/* gen_image_new for file NAME: errors name the file. */
static GenImage *
image_new_for (const char *name, guint32 width, guint32 height, int channels, int bit_depth,
               GError **error)
{
  GenImage *img = gen_image_new ((int) width, (int) height, channels, bit_depth, error);

  if (img == NULL)
    g_prefix_error (error, "%s: ", name);
  return img;
}

/* FORMAT error unless WIDTH×HEIGHT is a size we accept. */
static gboolean
check_size (guint64 width, guint64 height, gsize max_pixels, const char *name, GError **error)
{
  if (width == 0 || height == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: image has no pixels (%" G_GUINT64_FORMAT
                   "x%" G_GUINT64_FORMAT ")", name, width, height);
      return FALSE;
    }
  if (width > GEN_IMAGE_MAX_SIDE || height > GEN_IMAGE_MAX_SIDE || width * height > max_pixels)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: image too large (%" G_GUINT64_FORMAT "x%" G_GUINT64_FORMAT
                   "; at most %d per side and %" G_GSIZE_FORMAT " pixels)",
                   name, width, height, GEN_IMAGE_MAX_SIDE, max_pixels);
      return FALSE;
    }
  return TRUE;
}

/* N samples at SRC (8-bit, or 16-bit big-endian) to floats at DST, front to
 * back.  DST may overlap SRC if it never runs ahead of the sample being
 * read: float i ends at byte 4i+4 of DST, which must not pass the start of
 * sample i+1 of SRC (see png_decode). */
static void
samples_to_float (float *dst, const guint8 *src, gsize n, int depth)
{
  gsize i;

  if (depth == 8)
    for (i = 0; i < n; i++)
      dst[i] = (float) src[i] / 255.0f;
  else
    for (i = 0; i < n; i++)
      dst[i] = (float) (((guint) src[2 * i] << 8) | src[2 * i + 1]) / 65535.0f;
}

/* Straight alpha from premultiplied, in place; colour with zero alpha is 0. */
static void
unpremultiply (GenImage *img)
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

/* ---- growable output buffer ---------------------------------------------- */

typedef struct
{
  guint8 *data;
  gsize   len, cap;
} OutBuf;

/* Writes N bytes at POS, zero-filling any gap after the end; FALSE when out
 * of memory. */
static gboolean
outbuf_write_at (OutBuf *b, gsize pos, const void *src, gsize n)
{
  gsize end;

  if (!g_size_checked_add (&end, pos, n))
    return FALSE;
  if (end > b->cap)
    {
      gsize cap = MAX (b->cap, 65536);
      guint8 *p;

      while (cap < end)
        if (!g_size_checked_mul (&cap, cap, 2))
          return FALSE;
      p = g_try_realloc (b->data, cap);
      if (p == NULL)
        return FALSE;
      b->data = p;
      b->cap = cap;
    }
  if (pos > b->len)
    memset (b->data + b->len, 0, pos - b->len);
  if (n > 0)
    memcpy (b->data + pos, src, n);
  b->len = MAX (b->len, end);
  return TRUE;
}

static gboolean
outbuf_append (OutBuf *b, const void *src, gsize n)
{
  return outbuf_write_at (b, b->len, src, n);
}

static guint32
quantize (float x, guint32 max)
{
  if (!(x > 0.0f))
    return 0; /* also NaN */
  if (x >= 1.0f)
    return max;
  return (guint32) ((double) x * max + 0.5);
}

/* Row Y of IMG as DEPTH-bit samples at DST, keeping channels 0..KEEP-1;
 * 16-bit big-endian when BIG_ENDIAN, else in host order. */
static void
row_to_samples (const GenImage *img, int y, int keep, int depth, gboolean big_endian, guint8 *dst)
{
  const float *src = img->data + (gsize) y * (gsize) img->width * (gsize) img->channels;
  int x, c;

  for (x = 0; x < img->width; x++, src += img->channels)
    for (c = 0; c < keep; c++)
      if (depth == 8)
        *dst++ = (guint8) quantize (src[c], 255);
      else
        {
          guint16 v = (guint16) quantize (src[c], 65535);

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

/* ---- PNG ------------------------------------------------------------------ */

/* The error_ptr of every png struct is a char[LIB_MSG_LEN]. */
static void
png_on_error (png_structp png, png_const_charp text)
{
  char *msg = png_get_error_ptr (png);

  if (msg[0] == '\0')
    g_strlcpy (msg, text, LIB_MSG_LEN);
  png_longjmp (png, 1);
}

static void
png_on_warning (png_structp png, png_const_charp text)
{
  (void) png;
  (void) text;
}

typedef struct
{
  const guint8 *data;
  gsize         len, pos;
  gboolean      truncated;
  char          msg[LIB_MSG_LEN];
  GenImage     *img;
  png_bytep    *rows;
} PngIn;

static void
png_read_mem (png_structp png, png_bytep out, png_size_t n)
{
  PngIn *in = png_get_io_ptr (png);

  if (n > in->len - in->pos)
    {
      in->truncated = TRUE;
      png_error (png, "truncated");
    }
  memcpy (out, in->data + in->pos, n);
  in->pos += n;
}

/* Chunks we have no use for are skipped unread (no zlib work on iCCP, zTXt…). */
static const png_byte png_ignored_chunks[] =
  "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0"
  "tEXt\0tIME\0zTXt";

static gboolean
png_decode (PngIn *in, png_structp png, png_infop info, const char *name, gsize max_pixels,
            GError **error)
{
  png_uint_32 w, h;
  int depth, color, interlace, channels;
  gsize rowbytes, n, native_bytes, y;
  guint8 *base;

  if (setjmp (png_jmpbuf (png)))
    {
      if (in->truncated)
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated PNG data", name);
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad PNG data (%s)", name,
                     in->msg);
      return FALSE;
    }

  png_set_read_fn (png, in, png_read_mem);
  png_set_keep_unknown_chunks (png, PNG_HANDLE_CHUNK_NEVER, png_ignored_chunks,
                               (int) (sizeof png_ignored_chunks / 5));
  png_read_info (png, info);
  png_get_IHDR (png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
  if (!check_size (w, h, max_pixels, name, error))
    return FALSE;

  if (color == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb (png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
    png_set_expand_gray_1_2_4_to_8 (png);
  if (png_get_valid (png, info, PNG_INFO_tRNS))
    png_set_tRNS_to_alpha (png);
  if (interlace != PNG_INTERLACE_NONE)
    (void) png_set_interlace_handling (png);
  png_read_update_info (png, info);

  channels = png_get_channels (png, info);
  depth = png_get_bit_depth (png, info);
  rowbytes = png_get_rowbytes (png, info);
  if (channels < 1 || channels > 4 || (depth != 8 && depth != 16)
      || rowbytes != (gsize) w * (gsize) channels * (gsize) (depth / 8))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: unexpected PNG layout (%d channels of %d bits)", name, channels, depth);
      return FALSE;
    }

  in->img = image_new_for (name, w, h, channels, depth, error);
  if (in->img == NULL)
    return FALSE;
  in->rows = g_try_new (png_bytep, h);
  if (in->rows == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }

  /* The 8/16-bit samples go to the tail of the float buffer and are widened
   * in place, front to back: float row y ends at byte 4(y+1)wc, native row
   * y+1 starts at 4hwc - bhwc + b(y+1)wc, which is never lower. */
  n = (gsize) w * (gsize) h * (gsize) channels;
  native_bytes = n * (gsize) (depth / 8);
  base = (guint8 *) in->img->data + (n * sizeof (float) - native_bytes);
  for (y = 0; y < h; y++)
    in->rows[y] = base + y * rowbytes;

  png_read_image (png, in->rows);
  png_read_end (png, NULL);
  samples_to_float (in->img->data, base, n, depth);
  return TRUE;
}

static GenImage *
load_png (const guint8 *data, gsize len, const char *name, gsize max_pixels, GError **error)
{
  PngIn in = { data, len, 0, FALSE, "", NULL, NULL };
  png_structp png;
  png_infop info = NULL;
  GenImage *img = NULL;

  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, in.msg, png_on_error, png_on_warning);
  if (png != NULL)
    info = png_create_info_struct (png);
  if (png == NULL || info == NULL)
    {
      png_destroy_read_struct (&png, NULL, NULL);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return NULL;
    }
  if (png_decode (&in, png, info, name, max_pixels, error))
    {
      img = in.img;
      in.img = NULL;
    }
  png_destroy_read_struct (&png, &info, NULL);
  g_free (in.rows);
  gen_image_free (in.img);
  return img;
}

/* ---- JPEG ----------------------------------------------------------------- */

typedef struct
{
  struct jpeg_error_mgr pub; /* first: libjpeg hands us cinfo->err */
  jmp_buf               jmp;
  int                   code; /* the message that stopped it; -1: scan limit */
  char                  msg[JMSG_LENGTH_MAX];
} JpegErr;

G_GNUC_NORETURN static void
jpeg_on_error (j_common_ptr cinfo)
{
  JpegErr *err = (JpegErr *) cinfo->err;

  err->code = err->pub.msg_code;
  err->pub.format_message (cinfo, err->msg);
  longjmp (err->jmp, 1);
}

/* Warnings that mean the pixels are damaged stop the decoder; the others
 * (extraneous bytes between markers, unknown JFIF revision, bad ICC
 * marker…) are ignored.  Trace messages are never printed. */
static void
jpeg_on_message (j_common_ptr cinfo, int level)
{
  if (level >= 0)
    return;
  switch (cinfo->err->msg_code)
    {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_BOGUS_PROGRESSION:
      jpeg_on_error (cinfo);
    default:
      cinfo->err->num_warnings++;
    }
}

static void
jpeg_on_output (j_common_ptr cinfo)
{
  (void) cinfo;
}

static void
jpeg_on_progress (j_common_ptr cinfo)
{
  JpegErr *err = (JpegErr *) cinfo->err;

  if (cinfo->is_decompressor && ((j_decompress_ptr) cinfo)->input_scan_number > JPEG_MAX_SCANS)
    {
      err->code = -1;
      g_snprintf (err->msg, sizeof err->msg, "more than %d scans", JPEG_MAX_SCANS);
      longjmp (err->jmp, 1);
    }
}

static void
jpeg_err_init (JpegErr *err)
{
  jpeg_std_error (&err->pub);
  err->pub.error_exit = jpeg_on_error;
  err->pub.emit_message = jpeg_on_message;
  err->pub.output_message = jpeg_on_output;
  err->code = 0;
  err->msg[0] = '\0';
}

typedef struct
{
  JpegErr                       err;
  struct jpeg_progress_mgr      progress;
  struct jpeg_decompress_struct cinfo;
  GenImage                     *img;
  JSAMPLE                      *row;
} JpegIn;

static gboolean
jpeg_decode (JpegIn *in, const guint8 *data, gsize len, const char *name, gsize max_pixels,
             GError **error)
{
  j_decompress_ptr cinfo = &in->cinfo;
  int channels;
  gsize stride;

  if (setjmp (in->err.jmp))
    {
      if (in->err.code == JWRN_JPEG_EOF || in->err.code == JERR_INPUT_EOF
          || in->err.code == JERR_INPUT_EMPTY)
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated JPEG data", name);
      else if (in->err.code == JERR_OUT_OF_MEMORY)
        g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory (%s)", name,
                     in->err.msg);
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: bad JPEG data (%s)", name,
                     in->err.msg);
      return FALSE;
    }

  jpeg_create_decompress (cinfo);
  in->progress.progress_monitor = jpeg_on_progress;
  cinfo->progress = &in->progress;
  jpeg_mem_src (cinfo, data, (unsigned long) len);
  (void) jpeg_read_header (cinfo, TRUE);
  if (!check_size (cinfo->image_width, cinfo->image_height, max_pixels, name, error))
    return FALSE;

  switch (cinfo->jpeg_color_space)
    {
    case JCS_GRAYSCALE:
      cinfo->out_color_space = JCS_GRAYSCALE;
      channels = 1;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo->out_color_space = JCS_RGB;
      channels = 3;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: CMYK JPEG is not supported (gray or RGB only)", name);
      return FALSE;
    default:
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: JPEG with %d components of unknown colour space is not supported", name,
                   cinfo->num_components);
      return FALSE;
    }
  cinfo->dct_method = JDCT_ISLOW;
  (void) jpeg_start_decompress (cinfo);
  if (cinfo->output_components != channels || cinfo->output_width != cinfo->image_width
      || cinfo->output_height != cinfo->image_height)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: unexpected JPEG output layout",
                   name);
      return FALSE;
    }

  in->img = image_new_for (name, cinfo->output_width, cinfo->output_height, channels, 8, error);
  if (in->img == NULL)
    return FALSE;
  stride = (gsize) cinfo->output_width * (gsize) channels;
  in->row = g_try_malloc (stride);
  if (in->row == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }
  while (cinfo->output_scanline < cinfo->output_height)
    {
      gsize y = cinfo->output_scanline;
      JSAMPROW row = in->row;

      if (jpeg_read_scanlines (cinfo, &row, 1) != 1)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated JPEG data", name);
          return FALSE;
        }
      samples_to_float (in->img->data + y * stride, in->row, stride, 8);
    }
  (void) jpeg_finish_decompress (cinfo);
  return TRUE;
}

static GenImage *
load_jpeg (const guint8 *data, gsize len, const char *name, gsize max_pixels, GError **error)
{
  JpegIn in;
  GenImage *img = NULL;

  memset (&in, 0, sizeof in);
  jpeg_err_init (&in.err);
  in.cinfo.err = &in.err.pub;
  if (jpeg_decode (&in, data, len, name, max_pixels, error))
    {
      img = in.img;
      in.img = NULL;
    }
  jpeg_destroy_decompress (&in.cinfo);
  g_free (in.row);
  gen_image_free (in.img);
  return img;
}

/* ---- TIFF: messages and memory I/O ---------------------------------------- */

/* libtiff 4.5 reports through the handler given to TIFFClientOpenExt; the
 * few places that still use the old process-wide handlers find the message
 * buffer of the call running on their thread in tiff_current.  Those
 * handlers are installed once and pass anything not ours on. */
typedef struct
{
  char msg[LIB_MSG_LEN]; /* the last error libtiff reported: some are only
                            complaints about a tag it then ignores */
} TiffMsg;

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
 * an OutBuf when writing. */
typedef struct
{
  const guint8 *rdata;
  OutBuf        out;
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
      || !outbuf_write_at (&m->out, (gsize) m->pos, buf, (gsize) size))
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

/* ---- TIFF: reading ---------------------------------------------------------- */

static guint64
tiff_get (const guint8 *p, int bytes, gboolean le)
{
  guint64 v = 0;
  int i;

  for (i = 0; i < bytes; i++)
    v |= (guint64) p[le ? i : bytes - 1 - i] << (8 * i);
  return v;
}

/* The header and the first directory, with every value it points to, must
 * lie inside the file: libtiff would take a cut-off directory for a short
 * one.  MAGIC was checked by the caller. */
static gboolean
tiff_check_structure (const guint8 *data, gsize len, const char *name, GError **error)
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
  img = raster != NULL ? image_new_for (name, w, h, channels, 8, error) : NULL;
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
    unpremultiply (img);
  return img;
}

static GenImage *
tiff_decode (TIFF *tif, TiffMsg *msg, const char *name, gsize max_pixels, GError **error)
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
  if (!check_size (w, h, max_pixels, name, error))
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
      img = image_new_for (name, w, h, t.base + alpha, bps, error);
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
        unpremultiply (img);
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

static GenImage *
load_tiff (const guint8 *data, gsize len, const char *name, gsize max_pixels, GError **error)
{
  TiffMem mem = { data, { NULL, 0, 0 }, len, 0, FALSE };
  TiffMsg msg = { "" };
  gpointer outer;
  GenImage *img = NULL;
  TIFF *tif;
  gsize limit;

  if (!tiff_check_structure (data, len, name, error))
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
      img = tiff_decode (tif, &msg, name, max_pixels, error);
      TIFFClose (tif);
    }
  g_private_set (&tiff_current, outer);
  return img;
}

/* ---- loading ----------------------------------------------------------------- */

static ImageFormat
format_from_magic (const guint8 *data, gsize len, gboolean *truncated)
{
  static const struct { ImageFormat format; guint8 n; guint8 bytes[8]; } magics[] = {
    { FMT_PNG, 8, { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' } },
    { FMT_JPEG, 3, { 0xff, 0xd8, 0xff } },
    { FMT_TIFF, 4, { 'I', 'I', 42, 0 } },
    { FMT_TIFF, 4, { 'M', 'M', 0, 42 } },
    { FMT_TIFF, 4, { 'I', 'I', 43, 0 } }, /* BigTIFF */
    { FMT_TIFF, 4, { 'M', 'M', 0, 43 } },
  };
  gsize i;

  *truncated = FALSE;
  for (i = 0; i < G_N_ELEMENTS (magics); i++)
    if (memcmp (data, magics[i].bytes, MIN (len, magics[i].n)) == 0)
      {
        *truncated = len < magics[i].n;
        return magics[i].format;
      }
  return FMT_NONE;
}

GenImage *
gen_image_load_from_memory_limited (const guint8 *data, gsize len, const char *name,
                                    gsize max_pixels, GError **error)
{
  static const char *const format_names[] = { "", "PNG", "JPEG", "TIFF" };
  ImageFormat format;
  gboolean truncated;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = "(memory)";
  max_pixels = MIN (max_pixels, GEN_IMAGE_MAX_PIXELS);
  if (len == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: empty file, not a PNG, JPEG or TIFF image", name);
      return NULL;
    }
  format = format_from_magic (data, len, &truncated);
  if (truncated)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated %s data", name,
                   format_names[format]);
      return NULL;
    }
  switch (format)
    {
    case FMT_PNG:
      return load_png (data, len, name, max_pixels, error);
    case FMT_JPEG:
      return load_jpeg (data, len, name, max_pixels, error);
    case FMT_TIFF:
      return load_tiff (data, len, name, max_pixels, error);
    case FMT_NONE:
    default:
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not a PNG, JPEG or TIFF image", name);
      return NULL;
    }
}

GenImage *
gen_image_load_from_memory (const guint8 *data, gsize len, const char *name, GError **error)
{
  return gen_image_load_from_memory_limited (data, len, name, GEN_IMAGE_MAX_PIXELS, error);
}

GenImage *
gen_image_load (const char *path, GError **error)
{
  GStatBuf st;
  guint8 *data = NULL;
  gsize len = 0;
  GenImage *img;
  int fd, e;

  g_return_val_if_fail (path != NULL, NULL);

  /* non-blocking so that a FIFO cannot hang us before the S_ISREG check;
   * it changes nothing for a regular file */
  fd = g_open (path, O_RDONLY | OPEN_FLAGS, 0);
  if (fd < 0)
    {
      e = errno;
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot open: %s", path, g_strerror (e));
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      e = errno;
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path, g_strerror (e));
      g_close (fd, NULL);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO,
                   S_ISDIR (st.st_mode) ? "%s: is a folder, not an image file"
                                        : "%s: not a regular file", path);
      g_close (fd, NULL);
      return NULL;
    }
  if ((guint64) st.st_size > G_MAXSIZE
      || (st.st_size > 0 && (data = g_try_malloc ((gsize) st.st_size)) == NULL))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: file too large to read (%"
                   G_GUINT64_FORMAT " bytes)", path, (guint64) st.st_size);
      g_close (fd, NULL);
      return NULL;
    }
  while (len < (gsize) st.st_size)
    {
      gssize got = read (fd, data + len, MIN ((gsize) st.st_size - len, (gsize) 1 << 30));

      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        {
          e = errno;
          g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path,
                       g_strerror (e));
          g_close (fd, NULL);
          g_free (data);
          return NULL;
        }
      if (got == 0)
        break; /* shrank while we read: judge what is there */
      len += (gsize) got;
    }
  g_close (fd, NULL);
  img = gen_image_load_from_memory (data, len, path, error);
  g_free (data);
  return img;
}

/* ---- encoders ---------------------------------------------------------------- */

typedef struct
{
  OutBuf  out;
  char    msg[LIB_MSG_LEN];
  guint8 *row;
} PngOut;

static void
png_write_mem (png_structp png, png_bytep data, png_size_t n)
{
  PngOut *o = png_get_io_ptr (png);

  if (!outbuf_append (&o->out, data, n))
    png_error (png, "out of memory");
}

static void
png_flush_mem (png_structp png)
{
  (void) png;
}

static gboolean
png_encode (PngOut *o, png_structp png, png_infop info, const GenImage *img, int depth)
{
  static const int color_types[5] = { 0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA,
                                      PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA };
  int y;

  if (setjmp (png_jmpbuf (png)))
    return FALSE;
  png_set_write_fn (png, o, png_write_mem, png_flush_mem);
  png_set_IHDR (png, info, (png_uint_32) img->width, (png_uint_32) img->height, depth,
                color_types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (y = 0; y < img->height; y++)
    {
      row_to_samples (img, y, img->channels, depth, TRUE, o->row);
      png_write_row (png, o->row);
    }
  png_write_end (png, NULL);
  return TRUE;
}

static gboolean
encode_png (const GenImage *img, int depth, OutBuf *out, const char *name, GError **error)
{
  PngOut o = { { NULL, 0, 0 }, "", NULL };
  png_structp png;
  png_infop info = NULL;
  gboolean ok;

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, o.msg, png_on_error, png_on_warning);
  if (png != NULL)
    info = png_create_info_struct (png);
  o.row = g_try_malloc ((gsize) img->width * (gsize) img->channels * (gsize) (depth / 8));
  if (png == NULL || info == NULL || o.row == NULL)
    {
      png_destroy_write_struct (&png, &info);
      g_free (o.row);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }
  ok = png_encode (&o, png, info, img, depth);
  png_destroy_write_struct (&png, &info);
  g_free (o.row);
  if (!ok)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: cannot encode PNG (%s)", name,
                   o.msg);
      g_free (o.out.data);
      return FALSE;
    }
  *out = o.out;
  return TRUE;
}

typedef struct
{
  struct jpeg_destination_mgr pub; /* first: libjpeg hands us cinfo->dest */
  OutBuf                      out;
  JOCTET                      buf[16384];
} JpegDest;

static void
jpeg_dest_init (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
}

static boolean
jpeg_dest_empty (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  if (!outbuf_append (&d->out, d->buf, sizeof d->buf))
    ERREXIT1 (cinfo, JERR_OUT_OF_MEMORY, 0);
  d->pub.next_output_byte = d->buf;
  d->pub.free_in_buffer = sizeof d->buf;
  return TRUE;
}

static void
jpeg_dest_term (j_compress_ptr cinfo)
{
  JpegDest *d = (JpegDest *) cinfo->dest;

  if (!outbuf_append (&d->out, d->buf, sizeof d->buf - d->pub.free_in_buffer))
    ERREXIT1 (cinfo, JERR_OUT_OF_MEMORY, 0);
}

typedef struct
{
  JpegErr                     err;
  JpegDest                    dest;
  struct jpeg_compress_struct cinfo;
  JSAMPLE                    *row;
} JpegOut;

static gboolean
jpeg_encode (JpegOut *o, const GenImage *img)
{
  j_compress_ptr cinfo = &o->cinfo;
  int color = img->channels >= 3 ? 3 : 1;
  int c;

  if (setjmp (o->err.jmp))
    return FALSE;
  jpeg_create_compress (cinfo);
  o->dest.pub.init_destination = jpeg_dest_init;
  o->dest.pub.empty_output_buffer = jpeg_dest_empty;
  o->dest.pub.term_destination = jpeg_dest_term;
  cinfo->dest = &o->dest.pub;
  cinfo->image_width = (JDIMENSION) img->width;
  cinfo->image_height = (JDIMENSION) img->height;
  cinfo->input_components = color;
  cinfo->in_color_space = color == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults (cinfo);
  jpeg_set_quality (cinfo, 95, TRUE);
  for (c = 0; c < cinfo->num_components; c++)
    {
      cinfo->comp_info[c].h_samp_factor = 1; /* 4:4:4 */
      cinfo->comp_info[c].v_samp_factor = 1;
    }
  cinfo->optimize_coding = TRUE;
  cinfo->dct_method = JDCT_ISLOW;
  jpeg_start_compress (cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height)
    {
      JSAMPROW row = o->row;

      row_to_samples (img, (int) cinfo->next_scanline, color, 8, TRUE, o->row);
      (void) jpeg_write_scanlines (cinfo, &row, 1);
    }
  jpeg_finish_compress (cinfo);
  return TRUE;
}

static gboolean
encode_jpeg (const GenImage *img, OutBuf *out, const char *name, GError **error)
{
  JpegOut *o = g_try_new0 (JpegOut, 1);
  gboolean ok;

  if (o != NULL)
    o->row = g_try_malloc ((gsize) img->width * 3);
  if (o == NULL || o->row == NULL)
    {
      g_free (o);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", name);
      return FALSE;
    }
  jpeg_err_init (&o->err);
  o->cinfo.err = &o->err.pub;
  ok = jpeg_encode (o, img);
  jpeg_destroy_compress (&o->cinfo);
  g_free (o->row);
  if (ok)
    *out = o->dest.out;
  else
    {
      g_set_error (error, GEN_ERROR,
                   o->err.code == JERR_OUT_OF_MEMORY ? GEN_ERROR_NO_MEMORY : GEN_ERROR_IO,
                   "%s: cannot encode JPEG (%s)", name, o->err.msg);
      g_free (o->dest.out.data);
    }
  g_free (o);
  return ok;
}

static gboolean
encode_tiff (const GenImage *img, int depth, OutBuf *out, const char *name, GError **error)
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
          row_to_samples (img, y, img->channels, depth, FALSE, row);
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

/* ---- saving ------------------------------------------------------------------ */

static ImageFormat
format_from_extension (const char *path)
{
  static const struct { const char *ext; ImageFormat format; } exts[] = {
    { ".png", FMT_PNG }, { ".jpg", FMT_JPEG }, { ".jpeg", FMT_JPEG },
    { ".tif", FMT_TIFF }, { ".tiff", FMT_TIFF },
  };
  char *base = g_path_get_basename (path);
  const char *dot = strrchr (base, '.');
  ImageFormat format = FMT_NONE;
  gsize i;

  for (i = 0; dot != NULL && dot != base && i < G_N_ELEMENTS (exts); i++)
    if (g_ascii_strcasecmp (dot, exts[i].ext) == 0)
      format = exts[i].format;
  g_free (base);
  return format;
}

/* The permissions for PATH's new contents; FALSE (IO) if PATH must not be
 * replaced: a folder, something other than a file, or a read-only file. */
static gboolean
check_target (const char *path, int *mode, GError **error)
{
  GStatBuf st;

  *mode = 0666;
  if (g_stat (path, &st) != 0)
    return TRUE;
  if (S_ISDIR (st.st_mode))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: is a folder", path);
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file; not replaced", path);
      return FALSE;
    }
  if ((st.st_mode & 0222) == 0 || g_access (path, W_OK) != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: read-only file; not replaced", path);
      return FALSE;
    }
  *mode = (int) (st.st_mode & 0777);
  return TRUE;
}

static gboolean
image_is_valid (const GenImage *img)
{
  return img != NULL && img->data != NULL && img->width >= 1 && img->height >= 1
         && img->width <= GEN_IMAGE_MAX_SIDE && img->height <= GEN_IMAGE_MAX_SIDE
         && (gsize) img->width * (gsize) img->height <= GEN_IMAGE_MAX_PIXELS
         && img->channels >= 1 && img->channels <= 4;
}

/* TRUE if every alpha value of IMG (which has alpha) rounds to 255. */
static gboolean
alpha_is_opaque (const GenImage *img)
{
  gsize i, n = (gsize) img->width * (gsize) img->height;

  for (i = 0; i < n; i++)
    if (quantize (img->data[i * (gsize) img->channels + (gsize) img->channels - 1], 255) != 255)
      return FALSE;
  return TRUE;
}

gboolean
gen_image_save (const GenImage *img, const char *path, int bit_depth, GError **error)
{
  ImageFormat format;
  OutBuf out = { NULL, 0, 0 };
  GError *err = NULL;
  int depth, mode;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  format = format_from_extension (path);
  if (format == FMT_NONE)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: unknown image file extension (use .png, .jpg, .jpeg, .tif or .tiff)",
                   path);
      return FALSE;
    }
  if (!image_is_valid (img))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: not a valid image to save", path);
      return FALSE;
    }
  if (bit_depth != 0 && bit_depth != 8 && bit_depth != 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: bit depth %d (8 or 16, or 0 for the image's own)", path, bit_depth);
      return FALSE;
    }
  if (format == FMT_JPEG && bit_depth == 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: JPEG holds 8 bits per sample; save 16-bit images as .png or .tif", path);
      return FALSE;
    }
  depth = bit_depth != 0 ? bit_depth : img->bit_depth == 16 && format != FMT_JPEG ? 16 : 8;
  if (format == FMT_JPEG && img->channels % 2 == 0 && !alpha_is_opaque (img))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: JPEG has no alpha channel and the image is not fully opaque; "
                   "save it as .png or .tif", path);
      return FALSE;
    }
  if (!check_target (path, &mode, error))
    return FALSE;

  switch (format)
    {
    case FMT_PNG:
      ok = encode_png (img, depth, &out, path, error);
      break;
    case FMT_JPEG:
      ok = encode_jpeg (img, &out, path, error);
      break;
    case FMT_TIFF:
    case FMT_NONE:
    default:
      ok = encode_tiff (img, depth, &out, path, error);
      break;
    }
  if (!ok)
    return FALSE;

  /* temp file in the same folder, fsync, rename; GLib removes the temp
   * file on failure */
  if (out.len > G_MAXSSIZE
      || !g_file_set_contents_full (path, (const char *) out.data, (gssize) out.len,
                                    G_FILE_SET_CONTENTS_CONSISTENT, mode, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", path,
                   err != NULL ? err->message : "file too large");
      g_clear_error (&err);
      ok = FALSE;
    }
  g_free (out.data);
  return ok;
}
