/* gen-image.c — GenImage, and PNG, JPEG and TIFF files to and from it: the
 * table of formats, and loading and saving by format (the formats
 * themselves are gen-image-png.c, gen-image-jpeg.c and gen-image-tiff.c;
 * gen-image-codec.h says what they share).
 *
 * A file is read into memory whole and its format found by its first
 * bytes.  An image is saved by the format of its file name's extension:
 * encoded into memory, the bytes then reach the disk through
 * g_file_set_contents_full (temp file in the same folder, fsync, rename;
 * the temp file is removed on failure).
 */
#include "gen-image.h"

#include "gen-error.h"
#include "gen-image-codec.h"
#include "gen-pixels.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

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

/* One row per file format.  Every list a user sees in a message (the
 * formats loaded, the extensions saved, where 16 bits or alpha can go) is
 * read from here. */
typedef struct
{
  const char         *name;           /* "PNG", in messages */
  const char         *extensions[3];  /* lower case, NULL-ended; the first is the one suggested */
  struct
  {
    guint8 n;                         /* 0: no more */
    guint8 bytes[8];
  }                   magics[4];      /* how the file starts */
  int                 max_depth;      /* 8 or 16 bits per sample */
  gboolean            alpha;          /* can hold an alpha channel */
  GenImageLoadFunc    load;
  GenImageEncodeFunc  encode;
} ImageFormat;

static const ImageFormat formats[] = {
  { "PNG", { ".png" }, { { 8, { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' } } },
    16, TRUE, gen_image_png_load, gen_image_png_encode },
  { "JPEG", { ".jpg", ".jpeg" }, { { 3, { 0xff, 0xd8, 0xff } } },
    8, FALSE, gen_image_jpeg_load, gen_image_jpeg_encode },
  { "TIFF", { ".tif", ".tiff" },
    { { 4, { 'I', 'I', 42, 0 } }, { 4, { 'M', 'M', 0, 42 } },
      { 4, { 'I', 'I', 43, 0 } }, { 4, { 'M', 'M', 0, 43 } } }, /* classic, BigTIFF */
    16, TRUE, gen_image_tiff_load, gen_image_tiff_encode },
};

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

GenImage *
gen_image_new_for (const char *name, guint32 width, guint32 height, int channels, int bit_depth,
                   GError **error)
{
  GenImage *img = gen_image_new ((int) width, (int) height, channels, bit_depth, error);

  if (img == NULL)
    g_prefix_error (error, "%s: ", name);
  return img;
}

gboolean
gen_image_check_size (guint64 width, guint64 height, gsize max_pixels, const char *name,
                      GError **error)
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

/* ---- the formats, as users read them ------------------------------------- */

/* "A, B or C" of the formats that KEEP (NULL: all): their names (NAMES),
 * else their extensions (all of each format's when ALL_EXTENSIONS, else its
 * first).  Caller frees. */
static char *
format_list (gboolean (*keep) (const ImageFormat *f), gboolean names, gboolean all_extensions)
{
  GPtrArray *items = g_ptr_array_new ();
  GString *s = g_string_new (NULL);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    if (keep == NULL || keep (&formats[i]))
      {
        if (names)
          g_ptr_array_add (items, (gpointer) formats[i].name);
        else
          for (int e = 0; formats[i].extensions[e] != NULL && (e == 0 || all_extensions); e++)
            g_ptr_array_add (items, (gpointer) formats[i].extensions[e]);
      }
  for (i = 0; i < items->len; i++)
    {
      if (i > 0)
        g_string_append (s, i + 1 == items->len ? " or " : ", ");
      g_string_append (s, g_ptr_array_index (items, i));
    }
  g_ptr_array_free (items, TRUE);
  return g_string_free (s, FALSE);
}

static gboolean
holds_16_bits (const ImageFormat *f)
{
  return f->max_depth == 16;
}

static gboolean
holds_alpha (const ImageFormat *f)
{
  return f->alpha;
}

/* ---- loading ----------------------------------------------------------------- */

/* The format whose magic DATA starts with (or, when LEN is short, starts
 * to), or NULL; *TRUNCATED when LEN is shorter than that magic. */
static const ImageFormat *
format_from_magic (const guint8 *data, gsize len, gboolean *truncated)
{
  gsize i, m;

  *truncated = FALSE;
  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    for (m = 0; m < G_N_ELEMENTS (formats[i].magics) && formats[i].magics[m].n > 0; m++)
      if (memcmp (data, formats[i].magics[m].bytes, MIN (len, formats[i].magics[m].n)) == 0)
        {
          *truncated = len < formats[i].magics[m].n;
          return &formats[i];
        }
  return NULL;
}

GenImage *
gen_image_load_from_memory_limited (const guint8 *data, gsize len, const char *name,
                                    gsize max_pixels, GError **error)
{
  const ImageFormat *format;
  gboolean truncated;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = "(memory)";
  max_pixels = MIN (max_pixels, GEN_IMAGE_MAX_PIXELS);
  format = len > 0 ? format_from_magic (data, len, &truncated) : NULL;
  if (format == NULL)
    {
      g_autofree char *names = format_list (NULL, TRUE, FALSE);

      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   len == 0 ? "%s: empty file, not a %s image" : "%s: not a %s image", name,
                   names);
      return NULL;
    }
  if (truncated)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: truncated %s data", name,
                   format->name);
      return NULL;
    }
  return format->load (data, len, name, max_pixels, error);
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


/* ---- saving ------------------------------------------------------------------ */

static const ImageFormat *
format_from_extension (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  const char *dot = strrchr (base, '.');
  gsize i;

  if (dot == NULL || dot == base)
    return NULL;
  for (i = 0; i < G_N_ELEMENTS (formats); i++)
    for (int e = 0; formats[i].extensions[e] != NULL; e++)
      if (g_ascii_strcasecmp (dot, formats[i].extensions[e]) == 0)
        return &formats[i];
  return NULL;
}

gboolean
gen_image_check_target (const char *path, int *mode, GError **error)
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
    if (gen_image_quantize (img->data[i * (gsize) img->channels + (gsize) img->channels - 1], 255) != 255)
      return FALSE;
  return TRUE;
}


/* The format of PATH's extension, if it holds BIT_DEPTH (0: any); else NULL
 * (INVALID). */
static const ImageFormat *
format_for_path (const char *path, int bit_depth, GError **error)
{
  const ImageFormat *format = format_from_extension (path);

  if (format == NULL)
    {
      g_autofree char *exts = format_list (NULL, FALSE, TRUE);

      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: unknown image file extension (use %s)", path, exts);
      return NULL;
    }
  if (bit_depth != 0 && bit_depth != 8 && bit_depth != 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: bit depth %d (8 or 16, or 0 for the image's own)", path, bit_depth);
      return NULL;
    }
  if (bit_depth > format->max_depth)
    {
      g_autofree char *exts = format_list (holds_16_bits, FALSE, FALSE);

      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: %s holds %d bits per sample; save %d-bit images as %s", path,
                   format->name, format->max_depth, bit_depth, exts);
      return NULL;
    }
  return format;
}

gboolean
gen_image_check_format (const char *path, int bit_depth, GError **error)
{
  g_return_val_if_fail (path != NULL, FALSE);
  return format_for_path (path, bit_depth, error) != NULL;
}

/* The checks of gen_image_save that need IMG: its format, and the depth
 * to write (*DEPTH); NULL (INVALID) if IMG cannot be saved at PATH. */
static const ImageFormat *
format_for_image (const GenImage *img, const char *path, int bit_depth, int *depth,
                  GError **error)
{
  const ImageFormat *format = format_for_path (path, bit_depth, error);

  if (format == NULL)
    return NULL;
  if (!image_is_valid (img))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: not a valid image to save", path);
      return NULL;
    }
  *depth = bit_depth != 0 ? bit_depth : MIN (img->bit_depth == 16 ? 16 : 8, format->max_depth);
  if (!format->alpha && img->channels % 2 == 0 && !alpha_is_opaque (img))
    {
      g_autofree char *exts = format_list (holds_alpha, FALSE, FALSE);

      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: %s has no alpha channel and the image is not fully opaque; "
                   "save it as %s", path, format->name, exts);
      return NULL;
    }
  return format;
}

gboolean
gen_image_encode (const GenImage *img, const char *path, int bit_depth, guint8 **data,
                  gsize *len, GError **error)
{
  const ImageFormat *format;
  GenImageBuf out = { NULL, 0, 0 };
  int depth;

  g_return_val_if_fail (path != NULL && data != NULL && len != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!(format = format_for_image (img, path, bit_depth, &depth, error))
      || !format->encode (img, depth, &out, path, error))
    return FALSE;
  *data = out.data;
  *len = out.len;
  return TRUE;
}

gboolean
gen_image_save (const GenImage *img, const char *path, int bit_depth, GError **error)
{
  const ImageFormat *format;
  GenImageBuf out = { NULL, 0, 0 };
  GError *err = NULL;
  int depth, mode;
  gboolean ok;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!(format = format_for_image (img, path, bit_depth, &depth, error))
      || !gen_image_check_target (path, &mode, error)
      || !format->encode (img, depth, &out, path, error))
    return FALSE;

  /* temp file in the same folder, fsync, rename; GLib removes the temp
   * file on failure */
  ok = TRUE;
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
