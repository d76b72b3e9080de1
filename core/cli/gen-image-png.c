/* gen-image-png.c — PNG files to and from GenImage, through libpng.
 *
 * libpng reports errors by longjmp: each library call sequence lives in its
 * own small function holding the setjmp, with everything it allocates kept
 * in a context struct owned by the caller, which cleans up on either
 * outcome (so no automatic variable changed after setjmp is read after a
 * longjmp).  Warnings are dropped; nothing is printed.
 */
#include "gen-image-codec.h"

#include "gen-error.h"

#include <png.h>

#include <setjmp.h>
#include <string.h>

/* The error_ptr of every png struct is a char[GEN_IMAGE_LIB_MSG_LEN]. */
static void
png_on_error (png_structp png, png_const_charp text)
{
  char *msg = png_get_error_ptr (png);

  if (msg[0] == '\0')
    g_strlcpy (msg, text, GEN_IMAGE_LIB_MSG_LEN);
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
  char          msg[GEN_IMAGE_LIB_MSG_LEN];
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
  if (!gen_image_check_size (w, h, max_pixels, name, error))
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

  in->img = gen_image_new_for (name, w, h, channels, depth, error);
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
  gen_image_samples_to_float (in->img->data, base, n, depth);
  return TRUE;
}

GenImage *
gen_image_png_load (const guint8 *data, gsize len, const char *name, gsize max_pixels,
                    GError **error)
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

typedef struct
{
  GenImageBuf  out;
  char         msg[GEN_IMAGE_LIB_MSG_LEN];
  guint8      *row;
} PngOut;

static void
png_write_mem (png_structp png, png_bytep data, png_size_t n)
{
  PngOut *o = png_get_io_ptr (png);

  if (!gen_image_buf_append (&o->out, data, n))
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
      gen_image_row_to_samples (img, y, img->channels, depth, TRUE, o->row);
      png_write_row (png, o->row);
    }
  png_write_end (png, NULL);
  return TRUE;
}

gboolean
gen_image_png_encode (const GenImage *img, int depth, GenImageBuf *out, const char *name,
                      GError **error)
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

