/* gen-image.h — the CLI's image files: PNG, JPEG and TIFF in, float out.
 *
 * A GenImage is the float buffer the jobs work on:
 *   data[height][width][channels], 0..1, straight (not premultiplied) alpha.
 *
 * Loading (by content, not by extension):
 *   PNG   every colour type and depth; palette, gray 1/2/4-bit and tRNS
 *         expand to 8-bit gray/RGB(A) (tRNS adds an alpha channel);
 *         16-bit stays 16-bit; interlaced files are fine.  gAMA, iCCP and
 *         sBIT are ignored: samples are taken as stored.
 *   JPEG  gray and YCbCr/RGB (8-bit); CMYK/YCCK is UNSUPPORTED.  The EXIF
 *         orientation is NOT applied and the ICC profile is ignored.  Damaged
 *         or truncated entropy data is an error, not a gray smear.
 *   TIFF  the first page; 8/16-bit unsigned gray (min-is-black or
 *         min-is-white) and RGB, contiguous or separate planes, strips or
 *         tiles, any codec libtiff has; the first extra sample is alpha
 *         (associated alpha is un-premultiplied on load).  Other 8-bit
 *         photometrics and 1/2/4-bit files (palette, bilevel, YCbCr, CMYK,
 *         CIELab) go through libtiff's RGBA reader and come back as 8-bit
 *         RGB(A) (gray for 1/2/4-bit gray).  Float and signed samples, and
 *         16-bit exotic photometrics, are UNSUPPORTED.  The Orientation tag
 *         is applied only on that RGBA path.
 * Images larger than GEN_IMAGE_MAX_SIDE on a side or GEN_IMAGE_MAX_PIXELS in
 * all are refused before anything is allocated for them.
 *
 * Errors are in GEN_ERROR (gen-error.h) and start with the file's name:
 * IO (cannot read/write), FORMAT (not an image, truncated or damaged data,
 * too large), UNSUPPORTED (a valid file of a kind not handled), INVALID (a
 * bad argument), NO_MEMORY.  No library ever prints or exits on its own.
 * Loading and saving are thread-safe.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GEN_IMAGE_MAX_SIDE   65535
#define GEN_IMAGE_MAX_PIXELS ((gsize) 1 << 28)

typedef struct
{
  int    width, height;
  int    channels;     /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
  int    bit_depth;    /* of the source file: 8 or 16 (JPEG: 8) */
  float *data;         /* [height][width][channels], 0..1, straight (not premultiplied) alpha */
} GenImage;

/* A zeroed image; INVALID for sizes out of range (1..GEN_IMAGE_MAX_SIDE,
 * at most GEN_IMAGE_MAX_PIXELS), channels not 1..4 or BIT_DEPTH not 8/16;
 * NO_MEMORY if the buffer cannot be allocated.  Free with gen_image_free. */
GenImage *gen_image_new (int width, int height, int channels, int bit_depth, GError **error);
void      gen_image_free (GenImage *img);

/* Reads the image file at PATH.  8-bit sample v becomes v/255.0f exactly,
 * 16-bit v becomes v/65535.0f. */
GenImage *gen_image_load (const char *path, GError **error);

/* The same for a file already in memory (not kept); NAME (may be NULL) is
 * used in messages. */
GenImage *gen_image_load_from_memory (const guint8 *data, gsize len, const char *name,
                                      GError **error);

/* As gen_image_load_from_memory with a lower pixel budget: images of more
 * than MAX_PIXELS pixels (capped at GEN_IMAGE_MAX_PIXELS) are FORMAT errors.
 * The fuzzer uses it so that a few bytes cannot ask for gigabytes. */
GenImage *gen_image_load_from_memory_limited (const guint8 *data, gsize len, const char *name,
                                              gsize max_pixels, GError **error);

/* Writes IMG to PATH in the format of PATH's extension (.png, .jpg/.jpeg,
 * .tif/.tiff, case-insensitive; anything else is INVALID).
 *
 * BIT_DEPTH 8 or 16, or 0 for IMG's own bit_depth (capped to 8 for JPEG);
 * 16 with JPEG is INVALID.  JPEG has no alpha: an image with alpha is
 * INVALID for JPEG unless every alpha value rounds to 255 (then it is
 * dropped).  JPEG: quality 95, no chroma subsampling (4:4:4), baseline
 * Huffman-optimised.  PNG: zlib level 6, not interlaced.  TIFF: one page,
 * contiguous, Deflate with horizontal predictor, alpha as unassociated.
 *
 * Samples are clamped to 0..1 (NaN becomes 0) and rounded to nearest:
 * floor (x * 255 + 0.5), resp. 65535, so every v/255.0f (v/65535.0f) comes
 * back as v.
 *
 * The file is written only when complete: the data go to a temporary file
 * in the same folder, which is synced and renamed over PATH; on any failure
 * neither PATH nor a temporary file is left changed or behind.  An existing
 * PATH keeps its permissions; a read-only PATH (no write permission bit, or
 * not writable by this process) is not replaced (IO error), nor is a folder. */
gboolean  gen_image_save (const GenImage *img, const char *path, int bit_depth, GError **error);

/* The parts of gen_image_save, for writers that put the bytes on the disk
 * themselves (the CLI claims its output files before the work):
 *
 * gen_image_check_format: what gen_image_save checks of PATH's extension
 * and BIT_DEPTH before it has pixels (INVALID).
 * gen_image_check_target: whether an existing PATH may be replaced (IO: a
 * folder, something other than a file, a read-only file); *MODE gets the
 * permissions for the new contents (PATH's own, else 0666).
 * gen_image_encode: IMG encoded as gen_image_save would write it, in a new
 * buffer *DATA (g_free) of *LEN bytes; nothing is written. */
gboolean  gen_image_check_format (const char *path, int bit_depth, GError **error);
gboolean  gen_image_check_target (const char *path, int *mode, GError **error);
gboolean  gen_image_encode (const GenImage *img, const char *path, int bit_depth, guint8 **data,
                            gsize *len, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GenImage, gen_image_free)

G_END_DECLS
