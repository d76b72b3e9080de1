/* gen-image-codec.h — what the image formats share behind gen-image.h.
 *
 * gen-image.c       GenImage, the format table, loading and saving by format
 * gen-image-buf.c   the growable output buffer the encoders write into
 * gen-image-samples.c  file samples (8/16-bit) to and from GenImage floats
 * gen-image-png.c, gen-image-jpeg.c, gen-image-tiff.c (+ gen-image-tiff-read.c)
 *                   one format each: a loader and an encoder
 *
 * Every file is read into memory first and decoded from there, so the
 * loaders and the fuzzer share one path.  Encoders write into a
 * GenImageBuf; gen_image_save puts its bytes on the disk.  Internal to the
 * image I/O: nothing outside core/cli/gen-image*.c includes this.
 */
#pragma once

#include "gen-image.h"

G_BEGIN_DECLS

/* The message buffers handed to libpng and libtiff. */
#define GEN_IMAGE_LIB_MSG_LEN 256

/* ---- the formats' entry points (one row each in gen-image.c's table) ---- */

/* Decodes the LEN bytes at DATA (whose magic matched the format); images of
 * more than MAX_PIXELS pixels are FORMAT errors.  NAME starts every message. */
typedef GenImage *(*GenImageLoadFunc) (const guint8 *data, gsize len, const char *name,
                                       gsize max_pixels, GError **error);

typedef struct
{
  guint8 *data;
  gsize   len, cap;
} GenImageBuf;

/* Encodes IMG (valid, with a channel count and DEPTH the format takes) into
 * a new *OUT (free its data with g_free); nothing to free on failure. */
typedef gboolean (*GenImageEncodeFunc) (const GenImage *img, int depth, GenImageBuf *out,
                                        const char *name, GError **error);

GenImage *gen_image_png_load (const guint8 *data, gsize len, const char *name,
                              gsize max_pixels, GError **error);
gboolean  gen_image_png_encode (const GenImage *img, int depth, GenImageBuf *out,
                                const char *name, GError **error);
GenImage *gen_image_jpeg_load (const guint8 *data, gsize len, const char *name,
                               gsize max_pixels, GError **error);
gboolean  gen_image_jpeg_encode (const GenImage *img, int depth, GenImageBuf *out,
                                 const char *name, GError **error);
GenImage *gen_image_tiff_load (const guint8 *data, gsize len, const char *name,
                               gsize max_pixels, GError **error);
gboolean  gen_image_tiff_encode (const GenImage *img, int depth, GenImageBuf *out,
                                 const char *name, GError **error);

/* ---- growable output buffer (gen-image-buf.c) ---- */

/* Writes N bytes at POS, zero-filling any gap after the end; FALSE when out
 * of memory. */
gboolean gen_image_buf_write_at (GenImageBuf *b, gsize pos, const void *src, gsize n);
gboolean gen_image_buf_append (GenImageBuf *b, const void *src, gsize n);

/* ---- GenImage for the loaders (gen-image.c) ---- */

/* gen_image_new for file NAME: errors name the file. */
GenImage *gen_image_new_for (const char *name, guint32 width, guint32 height, int channels,
                             int bit_depth, GError **error);

/* FORMAT error unless WIDTH×HEIGHT is a size we accept. */
gboolean  gen_image_check_size (guint64 width, guint64 height, gsize max_pixels,
                                const char *name, GError **error);

/* ---- samples (gen-image-samples.c) ---- */

/* N samples at SRC (8-bit, or 16-bit big-endian) to floats at DST, front to
 * back.  DST may overlap SRC if it never runs ahead of the sample being
 * read: float i ends at byte 4i+4 of DST, which must not pass the start of
 * sample i+1 of SRC (see gen-image-png.c). */
void    gen_image_samples_to_float (float *dst, const guint8 *src, gsize n, int depth);

/* Straight alpha from premultiplied, in place; colour with zero alpha is 0. */
void    gen_image_unpremultiply (GenImage *img);

/* X clamped to 0..1 (NaN: 0) as an integer sample 0..MAX, rounded to nearest. */
guint32 gen_image_quantize (float x, guint32 max);

/* Row Y of IMG as DEPTH-bit samples at DST, keeping channels 0..KEEP-1;
 * 16-bit big-endian when BIG_ENDIAN, else in host order. */
void    gen_image_row_to_samples (const GenImage *img, int y, int keep, int depth,
                                  gboolean big_endian, guint8 *dst);

G_END_DECLS
