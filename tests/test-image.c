/* test-image.c — the CLI's PNG, JPEG and TIFF files: exact round trips in
 * every format × bit depth × channel count on odd sizes, files written by
 * libpng/libjpeg/libtiff themselves in the shapes users bring (palette,
 * 1/2/4-bit, tRNS, interlaced, separate planes, tiles, premultiplied alpha,
 * min-is-white), the saver's refusals and atomicity, and bad files.
 *
 * Expected values are built from the integer samples the test wrote: an
 * 8-bit sample v must load as (float) v / 255.0f, a 16-bit one as
 * (float) v / 65535.0f, bit for bit.  What the saver writes is read back with
 * the libraries directly, not only through gen_image_load.
 */
#include "gen-error.h"
#include "gen-image.h"

#include <png.h>

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <tiffio.h>

#include <glib/gstdio.h>
#include "test-util.h"
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static guint8 *
read_bytes (const char *path, gsize *len)
{
  GError *error = NULL;
  char *data = NULL;

  g_file_get_contents (path, &data, len, &error);
  g_assert_no_error (error);
  return (guint8 *) data;
}

static void
write_bytes (const char *path, const void *data, gsize len)
{
  GError *error = NULL;

  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

/* Asserts ERROR is GEN_ERROR/CODE, names the file NAME first, and holds NEEDLE. */
static void
assert_error (GError *error, int code, const char *name, const char *needle)
{
  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_test_message ("error: %s", error->message);
  g_assert_error (error, GEN_ERROR, code);
  if (name != NULL && !g_str_has_prefix (error->message, name))
    g_error ("message \"%s\" does not start with \"%s\"", error->message, name);
  if (needle != NULL && strstr (error->message, needle) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, needle);
}

/* The sample the tests write at flat index I of an image with samples up to
 * MAX: 0 and MAX first, then a spread of values. */
static guint
pattern (gsize i, guint max)
{
  if (i == 0)
    return 0;
  if (i == 1)
    return max;
  return (guint) ((i * 2654435761u + 12345u) % ((guint64) max + 1));
}

static float
sample_float (guint v, guint max)
{
  return (float) v / (max == 255 ? 255.0f : 65535.0f);
}

static GenImage *
pattern_image (int w, int h, int channels, int depth)
{
  GError *error = NULL;
  GenImage *img = gen_image_new (w, h, channels, depth, &error);
  guint max = depth == 8 ? 255 : 65535;
  gsize i, n = (gsize) w * h * channels;

  g_assert_no_error (error);
  for (i = 0; i < n; i++)
    img->data[i] = sample_float (pattern (i, max), max);
  return img;
}

/* Asserts IMG is W×H×CHANNELS at DEPTH bits with the floats of SAMPLES. */
static void
assert_image (const GenImage *img, int w, int h, int channels, int depth, const guint *samples)
{
  guint max = depth == 8 ? 255 : 65535;
  gsize i, n = (gsize) w * h * channels;

  g_assert_nonnull (img);
  g_assert_cmpint (img->width, ==, w);
  g_assert_cmpint (img->height, ==, h);
  g_assert_cmpint (img->channels, ==, channels);
  g_assert_cmpint (img->bit_depth, ==, depth);
  for (i = 0; i < n; i++)
    if (img->data[i] != sample_float (samples[i], max))
      g_error ("sample %" G_GSIZE_FORMAT ": %.9g, expected %u/%u", i, img->data[i], samples[i],
               max);
}

static guint *
pattern_samples (gsize n, guint max)
{
  guint *s = g_new (guint, n);
  gsize i;

  for (i = 0; i < n; i++)
    s[i] = pattern (i, max);
  return s;
}

static GenImage *
load_ok (const char *path)
{
  GError *error = NULL;
  GenImage *img = gen_image_load (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (img);
  return img;
}

/* ---- writing and reading with the libraries themselves ------------------- */

static void
png_test_error (png_structp png, png_const_charp msg)
{
  (void) png;
  g_error ("libpng: %s", msg);
}

static void
png_test_warning (png_structp png, png_const_charp msg)
{
  (void) png;
  (void) msg;
}

typedef struct
{
  int              color_type, bit_depth, interlace;
  const png_color *palette;
  int              npalette;
  const png_byte  *trns;       /* palette alpha */
  int              ntrns;
  int              trns_gray;  /* gray/RGB tRNS value, or -1 */
} PngSpec;

/* Writes a PNG of W×H whose samples (unpacked, one per guint) are SAMPLES. */
static void
write_png (const char *path, guint32 w, guint32 h, const PngSpec *spec, const guint *samples)
{
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, png_test_error,
                                             png_test_warning);
  png_infop info = png_create_info_struct (png);
  int channels = spec->color_type == PNG_COLOR_TYPE_GRAY ? 1
                 : spec->color_type == PNG_COLOR_TYPE_PALETTE ? 1
                 : spec->color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                 : spec->color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
  gsize rowbytes = ((gsize) w * channels * spec->bit_depth + 7) / 8;
  guint8 *image = g_malloc0 (rowbytes * h);
  png_bytep *rows = g_new (png_bytep, h);
  FILE *f = fopen (path, "wb");
  guint32 x, y;
  int c;

  g_assert_nonnull (f);
  for (y = 0; y < h; y++)
    {
      guint8 *row = rows[y] = image + y * rowbytes;

      for (x = 0; x < w; x++)
        for (c = 0; c < channels; c++)
          {
            gsize k = (gsize) x * channels + c;
            guint v = samples[((gsize) y * w + x) * channels + c];

            if (spec->bit_depth == 16)
              {
                row[2 * k] = (guint8) (v >> 8);
                row[2 * k + 1] = (guint8) v;
              }
            else if (spec->bit_depth == 8)
              row[k] = (guint8) v;
            else /* packed, most significant bits first */
              row[k * spec->bit_depth / 8] |= (guint8) (v << (8 - spec->bit_depth
                                                              - (k * spec->bit_depth) % 8));
          }
    }
  png_init_io (png, f);
  png_set_IHDR (png, info, w, h, spec->bit_depth, spec->color_type, spec->interlace,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (spec->palette != NULL)
    png_set_PLTE (png, info, spec->palette, spec->npalette);
  if (spec->trns != NULL)
    png_set_tRNS (png, info, spec->trns, spec->ntrns, NULL);
  if (spec->trns_gray >= 0)
    {
      png_color_16 value = { 0, (png_uint_16) spec->trns_gray, (png_uint_16) spec->trns_gray,
                             (png_uint_16) spec->trns_gray, (png_uint_16) spec->trns_gray };
      png_set_tRNS (png, info, NULL, 0, &value);
    }
  png_write_info (png, info);
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  fclose (f);
  g_free (rows);
  g_free (image);
}

/* Reads a PNG with libpng, no transformations; returns its samples. */
static guint *
read_png_raw (const char *path, guint32 *w, guint32 *h, int *channels, int *depth,
              int *interlace)
{
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, png_test_error,
                                            png_test_warning);
  png_infop info = png_create_info_struct (png);
  FILE *f = fopen (path, "rb");
  png_bytep *rows;
  guint8 *image;
  guint *samples;
  gsize rowbytes, i, n;
  guint32 y;

  g_assert_nonnull (f);
  png_init_io (png, f);
  png_read_info (png, info);
  *w = png_get_image_width (png, info);
  *h = png_get_image_height (png, info);
  *channels = png_get_channels (png, info);
  *depth = png_get_bit_depth (png, info);
  *interlace = png_get_interlace_type (png, info);
  rowbytes = png_get_rowbytes (png, info);
  image = g_malloc (rowbytes * *h);
  rows = g_new (png_bytep, *h);
  for (y = 0; y < *h; y++)
    rows[y] = image + y * rowbytes;
  png_read_image (png, rows);
  png_read_end (png, NULL);
  png_destroy_read_struct (&png, &info, NULL);
  fclose (f);
  n = (gsize) *w * *h * *channels;
  samples = g_new (guint, n);
  for (i = 0; i < n; i++)
    samples[i] = *depth == 16 ? (guint) image[2 * i] << 8 | image[2 * i + 1] : image[i];
  g_free (rows);
  g_free (image);
  return samples;
}

typedef struct
{
  guint16        bps, spp, photometric, planar, format, compression;
  guint16        nextra, extra[2];
  guint32        tile;        /* tile width and height, or 0 for strips */
  guint32        rps;         /* rows per strip */
  gboolean       big_endian;
  const guint16 *colormap;    /* 3 << bps entries */
} TiffSpec;

/* Writes a TIFF of W×H whose samples ([h][w][spp]) are SAMPLES. */
static void
write_tiff (const char *path, guint32 w, guint32 h, const TiffSpec *s, const guint *samples)
{
  TIFF *tif = TIFFOpen (path, s->big_endian ? "wb" : "wl");
  gboolean contig = s->planar == PLANARCONFIG_CONTIG;
  guint ns = contig ? s->spp : 1, planes = contig ? 1 : s->spp, p;
  guint32 bw = s->tile ? s->tile : w, bh = s->tile ? s->tile : 1;
  gsize bytes = ((gsize) bw * ns * s->bps + 7) / 8 * bh;
  guint8 *buf = g_malloc (bytes);
  guint32 x0, y0;

  g_assert_nonnull (tif);
  TIFFSetField (tif, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField (tif, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField (tif, TIFFTAG_BITSPERSAMPLE, s->bps);
  TIFFSetField (tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
  TIFFSetField (tif, TIFFTAG_PHOTOMETRIC, s->photometric);
  TIFFSetField (tif, TIFFTAG_PLANARCONFIG, s->planar);
  TIFFSetField (tif, TIFFTAG_SAMPLEFORMAT, s->format);
  TIFFSetField (tif, TIFFTAG_COMPRESSION, s->compression);
  if (s->nextra > 0)
    TIFFSetField (tif, TIFFTAG_EXTRASAMPLES, s->nextra, s->extra);
  if (s->colormap != NULL)
    {
      guint n = 1u << s->bps;
      TIFFSetField (tif, TIFFTAG_COLORMAP, s->colormap, s->colormap + n, s->colormap + 2 * n);
    }
  if (s->tile)
    {
      TIFFSetField (tif, TIFFTAG_TILEWIDTH, s->tile);
      TIFFSetField (tif, TIFFTAG_TILELENGTH, s->tile);
    }
  else
    TIFFSetField (tif, TIFFTAG_ROWSPERSTRIP, s->rps);

  for (p = 0; p < planes; p++)
    for (y0 = 0; y0 < h; y0 += bh)
      for (x0 = 0; x0 < w; x0 += bw)
        {
          guint32 x, y;
          guint k;

          memset (buf, 0, bytes);
          for (y = 0; y < bh && y0 + y < h; y++)
            for (x = 0; x < bw && x0 + x < w; x++)
              for (k = 0; k < ns; k++)
                {
                  guint v = samples[(((gsize) (y0 + y) * w + x0 + x) * s->spp) + (contig ? k : p)];
                  gsize i = ((gsize) y * bw + x) * ns + k; /* sample index in the block */

                  if (s->bps == 8)
                    buf[i] = (guint8) v;
                  else if (s->bps == 16)
                    ((guint16 *) (void *) buf)[i] = (guint16) v;
                  else if (s->bps == 32)
                    ((float *) (void *) buf)[i] = (float) v / 65535.0f;
                  else
                    {
                      gsize row_bytes = ((gsize) bw * ns * s->bps + 7) / 8;
                      gsize bit = ((gsize) x * ns + k) * s->bps;

                      buf[y * row_bytes + bit / 8] |= (guint8) (v << (8 - s->bps - bit % 8));
                    }
                }
          if (s->tile)
            g_assert_cmpint (TIFFWriteTile (tif, buf, x0, y0, 0, (guint16) p), >=, 0);
          else
            g_assert_cmpint (TIFFWriteScanline (tif, buf, y0, (guint16) p), >=, 0);
        }
  TIFFClose (tif);
  g_free (buf);
}

/* A JPEG of W×H written by libjpeg: SPACE JCS_GRAYSCALE, JCS_RGB or
 * JCS_CMYK; default 4:2:0 sampling; SAMPLES [h][w][components]. */
static void
write_jpeg (const char *path, int w, int h, J_COLOR_SPACE space, gboolean progressive,
            const guint *samples)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  int comps = space == JCS_GRAYSCALE ? 1 : space == JCS_RGB ? 3 : 4;
  guint8 *row = g_malloc ((gsize) w * comps);
  FILE *f = fopen (path, "wb");
  int x;

  g_assert_nonnull (f);
  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, f);
  cinfo.image_width = (JDIMENSION) w;
  cinfo.image_height = (JDIMENSION) h;
  cinfo.input_components = comps;
  cinfo.in_color_space = space;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, 90, TRUE);
  if (progressive)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW r = row;

      for (x = 0; x < w * comps; x++)
        row[x] = (guint8) samples[(gsize) cinfo.next_scanline * w * comps + x];
      jpeg_write_scanlines (&cinfo, &r, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  fclose (f);
  g_free (row);
}

/* A smooth 8-bit sample, kind to JPEG. */
static guint
smooth (int x, int y, int c)
{
  return (guint) (40 + 2 * x + 3 * y + 30 * c); /* at most 192 on 29×13 */
}

/* ---- GenImage -------------------------------------------------------------- */

static void
test_new (void)
{
  static const int bad[][4] = {
    { 0, 1, 1, 8 }, { 1, 0, 1, 8 }, { -3, 5, 1, 8 }, { 65536, 1, 1, 8 }, { 1, 65536, 1, 8 },
    { 65535, 65535, 1, 8 }, { 16385, 16385, 1, 8 }, { 3, 5, 0, 8 }, { 3, 5, 5, 8 },
    { 3, 5, 3, 0 }, { 3, 5, 3, 12 }, { 3, 5, 3, 32 },
  };
  GError *error = NULL;
  GenImage *img;
  gsize i;

  img = gen_image_new (17, 2, 3, 16, &error);
  g_assert_no_error (error);
  g_assert_cmpint (img->width, ==, 17);
  g_assert_cmpint (img->height, ==, 2);
  g_assert_cmpint (img->channels, ==, 3);
  g_assert_cmpint (img->bit_depth, ==, 16);
  for (i = 0; i < 17 * 2 * 3; i++)
    g_assert_cmpfloat (img->data[i], ==, 0.0f);
  gen_image_free (img);
  gen_image_free (NULL);

  img = gen_image_new (65535, 1, 4, 8, &error); /* the widest */
  g_assert_no_error (error);
  gen_image_free (img);

  for (i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      img = gen_image_new (bad[i][0], bad[i][1], bad[i][2], bad[i][3], &error);
      g_assert_null (img);
      assert_error (error, GEN_ERROR_INVALID, NULL, NULL);
      g_clear_error (&error);
    }
}

/* ---- exact round trips ----------------------------------------------------- */

static const int sizes[][2] = { { 1, 1 }, { 3, 5 }, { 17, 2 } };

/* PNG and TIFF, 8 and 16 bits, 1-4 channels, odd sizes: saved by us, read
 * back by libpng/libtiff directly and by gen_image_load, bit for bit. */
static void
test_round_trip_lossless (gconstpointer data)
{
  const char *ext = data;
  gboolean tiff = strcmp (ext, "tif") == 0;
  char *dir = tmp_dir_new ();
  char *path = g_strdup_printf ("%s/rt.%s", dir, ext);
  gsize s;
  int depth, channels;

  for (s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (depth = 8; depth <= 16; depth += 8)
      for (channels = 1; channels <= 4; channels++)
        {
          int w = sizes[s][0], h = sizes[s][1];
          guint max = depth == 8 ? 255 : 65535;
          gsize n = (gsize) w * h * channels;
          guint *expect = pattern_samples (n, max);
          GenImage *img;
          GError *error = NULL;
          gsize i;

          /* written from an image of the other depth with an explicit
           * BIT_DEPTH half the time, from its own (0) otherwise */
          if (channels % 2 == 0)
            {
              GenImage *src = pattern_image (w, h, channels, depth);

              src->bit_depth = depth == 8 ? 16 : 8;
              g_assert_true (gen_image_save (src, path, depth, &error));
              gen_image_free (src);
            }
          else
            {
              GenImage *src = pattern_image (w, h, channels, depth);

              g_assert_true (gen_image_save (src, path, 0, &error));
              gen_image_free (src);
            }
          g_assert_no_error (error);
          g_assert_cmpuint (tmp_dir_count (dir), ==, 1);

          if (!tiff)
            {
              guint32 rw, rh;
              int rc, rd, ri;
              guint *raw = read_png_raw (path, &rw, &rh, &rc, &rd, &ri);

              g_assert_cmpuint (rw, ==, (guint) w);
              g_assert_cmpuint (rh, ==, (guint) h);
              g_assert_cmpint (rc, ==, channels);
              g_assert_cmpint (rd, ==, depth);
              for (i = 0; i < n; i++)
                g_assert_cmpuint (raw[i], ==, expect[i]);
              g_free (raw);
            }
          else
            {
              TIFF *tif = TIFFOpen (path, "r");
              guint32 rw = 0, rh = 0;
              guint16 spp = 0, bps = 0, photometric = 0, planar = 0, nextra = 0, *extra = NULL;
              tmsize_t sl = 0;
              guint8 *row;
              guint32 y;

              g_assert_nonnull (tif);
              TIFFGetField (tif, TIFFTAG_IMAGEWIDTH, &rw);
              TIFFGetField (tif, TIFFTAG_IMAGELENGTH, &rh);
              TIFFGetField (tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
              TIFFGetField (tif, TIFFTAG_BITSPERSAMPLE, &bps);
              TIFFGetField (tif, TIFFTAG_PHOTOMETRIC, &photometric);
              TIFFGetField (tif, TIFFTAG_PLANARCONFIG, &planar);
              TIFFGetFieldDefaulted (tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
              g_assert_cmpuint (rw, ==, (guint) w);
              g_assert_cmpuint (rh, ==, (guint) h);
              g_assert_cmpuint (spp, ==, (guint) channels);
              g_assert_cmpuint (bps, ==, (guint) depth);
              g_assert_cmpuint (photometric, ==, channels >= 3 ? PHOTOMETRIC_RGB
                                                               : PHOTOMETRIC_MINISBLACK);
              g_assert_cmpuint (planar, ==, PLANARCONFIG_CONTIG);
              g_assert_cmpuint (nextra, ==, channels % 2 == 0 ? 1 : 0);
              if (nextra == 1)
                g_assert_cmpuint (extra[0], ==, EXTRASAMPLE_UNASSALPHA);
              sl = TIFFScanlineSize (tif);
              row = g_malloc ((gsize) sl);
              for (y = 0; y < rh; y++)
                {
                  gsize k, m = (gsize) w * channels;

                  g_assert_cmpint (TIFFReadScanline (tif, row, y, 0), ==, 1);
                  for (k = 0; k < m; k++)
                    g_assert_cmpuint (depth == 8 ? row[k] : ((guint16 *) (void *) row)[k], ==,
                                      expect[y * m + k]);
                }
              g_free (row);
              TIFFClose (tif);
            }

          img = load_ok (path);
          assert_image (img, w, h, channels, depth, expect);
          gen_image_free (img);
          g_free (expect);
        }
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* JPEG: close, not exact; right size and channels; 4:4:4 as promised;
 * opaque alpha dropped. */
static void
test_round_trip_jpeg (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "rt.jpg", NULL);
  gsize s;
  int channels;

  for (s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (channels = 1; channels <= 4; channels++)
      {
        int w = sizes[s][0], h = sizes[s][1], color = channels >= 3 ? 3 : 1;
        GError *error = NULL;
        GenImage *src = NULL, *img;
        struct jpeg_decompress_struct cinfo;
        struct jpeg_error_mgr jerr;
        FILE *f;
        float worst = 0.0f;
        int x, y, c;

        src = gen_image_new (w, h, channels, 16, &error);
        g_assert_no_error (error);
        for (y = 0; y < h; y++)
          for (x = 0; x < w; x++)
            for (c = 0; c < channels; c++)
              src->data[((gsize) y * w + x) * channels + c] =
                c == color ? 1.0f : (float) smooth (x, y, c) / 255.0f;
        if (channels % 2 == 0)
          src->data[channels - 1] = 254.6f / 255.0f; /* still rounds to 255 */
        g_assert_true (gen_image_save (src, path, 0, &error)); /* 16-bit source: capped to 8 */
        g_assert_no_error (error);
        g_assert_cmpuint (tmp_dir_count (dir), ==, 1);

        f = fopen (path, "rb");
        g_assert_nonnull (f);
        cinfo.err = jpeg_std_error (&jerr);
        jpeg_create_decompress (&cinfo);
        jpeg_stdio_src (&cinfo, f);
        g_assert_cmpint (jpeg_read_header (&cinfo, TRUE), ==, JPEG_HEADER_OK);
        g_assert_cmpint (cinfo.num_components, ==, color);
        g_assert_cmpuint (cinfo.image_width, ==, (guint) w);
        g_assert_cmpuint (cinfo.image_height, ==, (guint) h);
        g_assert_false (cinfo.progressive_mode);
        for (c = 0; c < cinfo.num_components; c++)
          {
            g_assert_cmpint (cinfo.comp_info[c].h_samp_factor, ==, 1);
            g_assert_cmpint (cinfo.comp_info[c].v_samp_factor, ==, 1);
          }
        jpeg_destroy_decompress (&cinfo);
        fclose (f);

        img = load_ok (path);
        g_assert_cmpint (img->width, ==, w);
        g_assert_cmpint (img->height, ==, h);
        g_assert_cmpint (img->channels, ==, color);
        g_assert_cmpint (img->bit_depth, ==, 8);
        for (y = 0; y < h; y++)
          for (x = 0; x < w; x++)
            for (c = 0; c < color; c++)
              {
                float v = img->data[((gsize) y * w + x) * color + c];

                worst = MAX (worst, fabsf (v - (float) smooth (x, y, c) / 255.0f));
                g_assert_cmpfloat (v * 255.0f, ==, rintf (v * 255.0f)); /* an 8-bit value */
              }
        if (g_test_verbose ())
          g_test_message ("%dx%dx%d: worst error %.2f/255", w, h, channels, worst * 255.0f);
        g_assert_cmpfloat (worst, <=, 3.0f / 255.0f);
        gen_image_free (img);
        gen_image_free (src);
      }
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* Clamping to 0..1 and rounding to nearest, read back with libpng. */
static void
test_quantize (void)
{
  static const struct { float x; guint v8, v16; } cases[] = {
    { 0.0f, 0, 0 },
    { -0.0f, 0, 0 },
    { -0.25f, 0, 0 },
    { -INFINITY, 0, 0 },
    { NAN, 0, 0 },
    { 1.0f, 255, 65535 },
    { 1.5f, 255, 65535 },
    { INFINITY, 255, 65535 },
    { 0.49f / 255.0f, 0, 126 },          /* × 65535 = 125.93 */
    { 0.51f / 255.0f, 1, 131 },          /* 131.07 */
    { 100.49f / 255.0f, 100, 25826 },    /* 25825.93 */
    { 100.51f / 255.0f, 101, 25831 },    /* 25831.07 */
    { 0.5f, 128, 32768 },                /* ties round up: 127.5, 32767.5 */
    { 254.49f / 255.0f, 254, 65404 },    /* 65403.93 */
    { 254.51f / 255.0f, 255, 65409 },    /* 65409.07 */
  };
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "q.png", NULL);
  gsize n = G_N_ELEMENTS (cases), i;
  int depth;

  for (depth = 8; depth <= 16; depth += 8)
    {
      GError *error = NULL;
      GenImage *img = gen_image_new ((int) n, 1, 1, depth, &error);
      guint32 w, h;
      int c, d, il;
      guint *raw;

      g_assert_no_error (error);
      for (i = 0; i < n; i++)
        img->data[i] = cases[i].x;
      g_assert_true (gen_image_save (img, path, 0, &error));
      g_assert_no_error (error);
      raw = read_png_raw (path, &w, &h, &c, &d, &il);
      g_assert_cmpuint (w, ==, n);
      g_assert_cmpint (d, ==, depth);
      for (i = 0; i < n; i++)
        g_assert_cmpuint (raw[i], ==, depth == 8 ? cases[i].v8 : cases[i].v16);
      g_free (raw);
      gen_image_free (img);
    }
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- PNG as users bring it ---------------------------------------------------- */

static void
test_png_kinds (void)
{
  static const png_color palette[4] = {
    { 255, 0, 0 }, { 0, 128, 255 }, { 7, 8, 9 }, { 250, 251, 252 },
  };
  static const png_byte trns[2] = { 0, 100 };
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "k.png", NULL);
  const int w = 17, h = 5;
  gsize n = (gsize) w * h, i;
  guint *idx = g_new (guint, n * 4), *expect = g_new (guint, n * 4);
  GenImage *img;
  int depth;

  /* palette 2-bit with tRNS for the first two entries → RGBA 8-bit */
  {
    PngSpec spec = { PNG_COLOR_TYPE_PALETTE, 2, PNG_INTERLACE_NONE, palette, 4, trns, 2, -1 };

    for (i = 0; i < n; i++)
      idx[i] = pattern (i, 3);
    write_png (path, w, h, &spec, idx);
    for (i = 0; i < n; i++)
      {
        expect[4 * i] = palette[idx[i]].red;
        expect[4 * i + 1] = palette[idx[i]].green;
        expect[4 * i + 2] = palette[idx[i]].blue;
        expect[4 * i + 3] = idx[i] < 2 ? trns[idx[i]] : 255;
      }
    img = load_ok (path);
    assert_image (img, w, h, 4, 8, expect);
    gen_image_free (img);
  }

  /* palette 8-bit, no tRNS, interlaced → RGB */
  {
    PngSpec spec = { PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_ADAM7, palette, 4, NULL, 0, -1 };

    write_png (path, w, h, &spec, idx);
    for (i = 0; i < n; i++)
      {
        expect[3 * i] = palette[idx[i]].red;
        expect[3 * i + 1] = palette[idx[i]].green;
        expect[3 * i + 2] = palette[idx[i]].blue;
      }
    img = load_ok (path);
    assert_image (img, w, h, 3, 8, expect);
    gen_image_free (img);
  }

  /* gray 1/2/4-bit → 8-bit by bit replication: v × 255/(2^d - 1) */
  for (depth = 1; depth <= 4; depth *= 2)
    {
      PngSpec spec = { PNG_COLOR_TYPE_GRAY, depth, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, -1 };
      guint top = (1u << depth) - 1;

      for (i = 0; i < n; i++)
        {
          idx[i] = pattern (i, top);
          expect[i] = idx[i] * (255 / top);
        }
      write_png (path, w, h, &spec, idx);
      img = load_ok (path);
      assert_image (img, w, h, 1, 8, expect);
      gen_image_free (img);
    }

  /* gray 4-bit interlaced with tRNS → gray+alpha 8-bit */
  {
    PngSpec spec = { PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, 5 };

    for (i = 0; i < n; i++)
      {
        idx[i] = pattern (i, 15);
        expect[2 * i] = idx[i] * 17;
        expect[2 * i + 1] = idx[i] == 5 ? 0 : 255;
      }
    write_png (path, w, h, &spec, idx);
    img = load_ok (path);
    assert_image (img, w, h, 2, 8, expect);
    gen_image_free (img);
  }

  /* gray 16-bit with tRNS → gray+alpha 16-bit */
  {
    PngSpec spec = { PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, 40000 };

    for (i = 0; i < n; i++)
      {
        idx[i] = i == 7 ? 40000 : pattern (i, 65535);
        expect[2 * i] = idx[i];
        expect[2 * i + 1] = idx[i] == 40000 ? 0 : 65535;
      }
    write_png (path, w, h, &spec, idx);
    img = load_ok (path);
    assert_image (img, w, h, 2, 16, expect);
    gen_image_free (img);
  }

  /* RGB 8-bit with tRNS → RGBA */
  {
    PngSpec spec = { PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, 9 };

    for (i = 0; i < n * 3; i++)
      idx[i] = i < 3 ? 9 : pattern (i, 255) | 16; /* only pixel 0 is (9, 9, 9) */
    for (i = 0; i < n; i++)
      {
        memcpy (expect + 4 * i, idx + 3 * i, 3 * sizeof (guint));
        expect[4 * i + 3] = i == 0 ? 0 : 255;
      }
    write_png (path, w, h, &spec, idx);
    img = load_ok (path);
    assert_image (img, w, h, 4, 8, expect);
    gen_image_free (img);
  }

  /* interlaced 16-bit RGBA and GA written by libpng, odd sizes */
  for (i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      int ct;

      for (ct = 0; ct < 2; ct++)
        {
          int sw = sizes[i][0], sh = sizes[i][1], ch = ct ? 4 : 2;
          PngSpec spec = { ct ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_GRAY_ALPHA, 16,
                           PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, -1 };
          guint *s = pattern_samples ((gsize) sw * sh * ch, 65535);

          write_png (path, (guint32) sw, (guint32) sh, &spec, s);
          img = load_ok (path);
          assert_image (img, sw, sh, ch, 16, s);
          gen_image_free (img);
          g_free (s);
        }
    }

  g_free (idx);
  g_free (expect);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- TIFF as users bring it ----------------------------------------------------- */

static void
test_tiff_kinds (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "k.tif", NULL);
  const guint32 w = 37, h = 19;
  gsize n = (gsize) w * h, i;
  guint *s, *expect = g_new (guint, n * 4);
  GenImage *img;
  GError *error = NULL;

  /* RGBA 16-bit, separate planes, strips of 2 rows, big-endian, LZW */
  {
    TiffSpec spec = { 16, 4, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE, SAMPLEFORMAT_UINT,
                      COMPRESSION_LZW, 1, { EXTRASAMPLE_UNASSALPHA, 0 }, 0, 2, TRUE, NULL };

    s = pattern_samples (n * 4, 65535);
    write_tiff (path, w, h, &spec, s);
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 4, 16, s);
    gen_image_free (img);
    g_free (s);
  }

  /* RGB 8-bit, 16×16 tiles over 37×19 (partial tiles), Deflate */
  {
    TiffSpec spec = { 8, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                      COMPRESSION_ADOBE_DEFLATE, 0, { 0, 0 }, 16, 0, FALSE, NULL };

    s = pattern_samples (n * 3, 255);
    write_tiff (path, w, h, &spec, s);
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 3, 8, s);
    gen_image_free (img);
    g_free (s);
  }

  /* gray+alpha 16-bit, tiles, separate planes, PackBits, little-endian */
  {
    TiffSpec spec = { 16, 2, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_SEPARATE, SAMPLEFORMAT_UINT,
                      COMPRESSION_PACKBITS, 1, { EXTRASAMPLE_UNASSALPHA, 0 }, 16, 0, FALSE, NULL };

    s = pattern_samples (n * 2, 65535);
    write_tiff (path, w, h, &spec, s);
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 2, 16, s);
    gen_image_free (img);
    g_free (s);
  }

  /* min-is-white 8-bit and 16-bit: v loads as max - v */
  {
    int depth;

    for (depth = 8; depth <= 16; depth += 8)
      {
        guint max = depth == 8 ? 255 : 65535;
        TiffSpec spec = { (guint16) depth, 1, PHOTOMETRIC_MINISWHITE, PLANARCONFIG_CONTIG,
                          SAMPLEFORMAT_UINT, COMPRESSION_NONE, 0, { 0, 0 }, 0, 5, FALSE, NULL };

        s = pattern_samples (n, max);
        for (i = 0; i < n; i++)
          expect[i] = max - s[i];
        write_tiff (path, w, h, &spec, s);
        img = load_ok (path);
        assert_image (img, (int) w, (int) h, 1, depth, expect);
        gen_image_free (img);
        g_free (s);
      }
  }

  /* RGB with a fourth sample and no ExtraSamples tag: straight alpha;
   * gray with three extra samples: alpha, then two dropped */
  {
    TiffSpec rgbx = { 8, 4, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                      COMPRESSION_NONE, 0, { 0, 0 }, 0, 19, FALSE, NULL };
    TiffSpec gray3 = { 8, 4, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                       COMPRESSION_NONE, 2, { EXTRASAMPLE_UNSPECIFIED, EXTRASAMPLE_UNSPECIFIED },
                       0, 3, FALSE, NULL };

    s = pattern_samples (n * 4, 255);
    write_tiff (path, w, h, &rgbx, s);
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 4, 8, s);
    gen_image_free (img);

    write_tiff (path, w, h, &gray3, s);
    for (i = 0; i < n; i++)
      {
        expect[2 * i] = s[4 * i];
        expect[2 * i + 1] = s[4 * i + 1];
      }
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 2, 8, expect);
    gen_image_free (img);
    g_free (s);
  }

  /* associated (premultiplied) alpha is un-premultiplied: c/a */
  {
    static const guint px[][4] = {
      { 10, 20, 30, 255 }, { 0, 0, 0, 0 }, { 64, 32, 128, 128 }, { 51, 0, 51, 51 },
      { 200, 100, 7, 200 }, { 1, 2, 3, 3 }, { 0, 0, 0, 255 },
    };
    TiffSpec spec = { 8, 4, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                      COMPRESSION_NONE, 1, { EXTRASAMPLE_ASSOCALPHA, 0 }, 0, 1, FALSE, NULL };
    guint flat[G_N_ELEMENTS (px) * 4];
    int c;

    memcpy (flat, px, sizeof flat);
    write_tiff (path, G_N_ELEMENTS (px), 1, &spec, flat);
    img = load_ok (path);
    g_assert_cmpint (img->channels, ==, 4);
    for (i = 0; i < G_N_ELEMENTS (px); i++)
      {
        double a = px[i][3] / 255.0;

        g_assert_cmpfloat_with_epsilon (img->data[4 * i + 3], a, 1e-7);
        for (c = 0; c < 3; c++)
          g_assert_cmpfloat_with_epsilon (img->data[4 * i + c],
                                          a > 0 ? MIN (px[i][c] / 255.0 / a, 1.0) : 0.0, 1e-6);
      }
    gen_image_free (img);
  }

  /* palette 8-bit (16-bit colormap v × 257) and bilevel 1-bit: libtiff's
   * RGBA reader, 8-bit out */
  {
    guint16 *cmap = g_new (guint16, 3 * 256);
    TiffSpec pal = { 8, 1, PHOTOMETRIC_PALETTE, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                     COMPRESSION_NONE, 0, { 0, 0 }, 0, 4, FALSE, cmap };
    TiffSpec bilevel = { 1, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                         COMPRESSION_NONE, 0, { 0, 0 }, 0, 4, FALSE, NULL };
    int c;

    for (i = 0; i < 256; i++)
      for (c = 0; c < 3; c++)
        cmap[c * 256 + i] = (guint16) (((i * 7 + (gsize) c * 50) % 256) * 257);
    s = pattern_samples (n, 255);
    write_tiff (path, w, h, &pal, s);
    for (i = 0; i < n; i++)
      for (c = 0; c < 3; c++)
        expect[3 * i + c] = (guint) ((s[i] * 7 + (gsize) c * 50) % 256);
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 3, 8, expect);
    gen_image_free (img);
    g_free (s);
    g_free (cmap);

    s = pattern_samples (n, 1);
    write_tiff (path, w, h, &bilevel, s);
    for (i = 0; i < n; i++)
      expect[i] = s[i] * 255;
    img = load_ok (path);
    assert_image (img, (int) w, (int) h, 1, 8, expect);
    gen_image_free (img);
    g_free (s);
  }

  /* float and signed samples are refused, naming the file */
  {
    TiffSpec f32 = { 32, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_IEEEFP,
                     COMPRESSION_NONE, 0, { 0, 0 }, 0, 4, FALSE, NULL };
    TiffSpec s16 = { 16, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, SAMPLEFORMAT_INT,
                     COMPRESSION_NONE, 0, { 0, 0 }, 0, 4, FALSE, NULL };

    s = pattern_samples (n * 3, 65535);
    write_tiff (path, w, h, &f32, s);
    g_assert_null (gen_image_load (path, &error));
    assert_error (error, GEN_ERROR_UNSUPPORTED, path,
                  "32-bit float TIFF is not supported (8 or 16 bits per sample)");
    g_clear_error (&error);
    write_tiff (path, w, h, &s16, s);
    g_assert_null (gen_image_load (path, &error));
    assert_error (error, GEN_ERROR_UNSUPPORTED, path, "signed 16-bit");
    g_clear_error (&error);
    g_free (s);
  }

  g_free (expect);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- JPEG as users bring it -------------------------------------------------------- */

static void
test_jpeg_kinds (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "k.jpg", NULL);
  const int w = 29, h = 13;
  guint *s = g_new (guint, (gsize) w * h * 4);
  GError *error = NULL;
  GenImage *img;
  int prog, gray, x, y, c;

  for (gray = 0; gray < 2; gray++)
    for (prog = 0; prog < 2; prog++)
      {
        int comps = gray ? 1 : 3;
        float worst = 0.0f;

        for (y = 0; y < h; y++)
          for (x = 0; x < w; x++)
            for (c = 0; c < comps; c++)
              s[((gsize) y * w + x) * comps + c] = smooth (x, y, c);
        write_jpeg (path, w, h, gray ? JCS_GRAYSCALE : JCS_RGB, prog, s);
        img = load_ok (path);
        g_assert_cmpint (img->width, ==, w);
        g_assert_cmpint (img->height, ==, h);
        g_assert_cmpint (img->channels, ==, comps);
        g_assert_cmpint (img->bit_depth, ==, 8);
        for (x = 0; x < w * h * comps; x++)
          worst = MAX (worst, fabsf (img->data[x] - (float) s[x] / 255.0f));
        /* libjpeg's default 4:2:0 at quality 90 on a smooth ramp */
        g_assert_cmpfloat (worst, <=, 6.0f / 255.0f);
        gen_image_free (img);
      }

  for (x = 0; x < w * h * 4; x++)
    s[x] = (guint) (x % 256);
  write_jpeg (path, w, h, JCS_CMYK, FALSE, s);
  g_assert_null (gen_image_load (path, &error));
  assert_error (error, GEN_ERROR_UNSUPPORTED, path, "CMYK");
  g_clear_error (&error);

  g_free (s);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

/* ---- the saver's refusals and its atomicity ------------------------------------------ */

static void
test_save_refuses (void)
{
  static const char *const bad_names[] = { "x.bmp", "x", "x.png.txt", ".png", "x.jp", "x.tiff2" };
  char *dir = tmp_dir_new ();
  GenImage *img = pattern_image (3, 5, 3, 8), *rgba = pattern_image (3, 5, 4, 8);
  GError *error = NULL;
  GenImage bogus = { 3, 5, 5, 8, img->data };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (bad_names); i++)
    {
      char *path = g_build_filename (dir, bad_names[i], NULL);

      g_assert_false (gen_image_save (img, path, 0, &error));
      assert_error (error, GEN_ERROR_INVALID, path, ".png, .jpg, .jpeg, .tif or .tiff");
      g_clear_error (&error);
      g_free (path);
    }
  {
    char *jpg = g_build_filename (dir, "x.jpg", NULL);
    char *png = g_build_filename (dir, "x.png", NULL);

    g_assert_false (gen_image_save (img, jpg, 16, &error));
    assert_error (error, GEN_ERROR_INVALID, jpg, "8 bits");
    g_clear_error (&error);
    g_assert_false (gen_image_save (img, png, 12, &error));
    assert_error (error, GEN_ERROR_INVALID, png, "bit depth 12");
    g_clear_error (&error);
    g_assert_false (gen_image_save (NULL, png, 0, &error));
    assert_error (error, GEN_ERROR_INVALID, png, NULL);
    g_clear_error (&error);
    g_assert_false (gen_image_save (&bogus, png, 0, &error));
    assert_error (error, GEN_ERROR_INVALID, png, NULL);
    g_clear_error (&error);

    /* alpha in a JPEG: refused while any of it is below 254.5/255 */
    for (i = 0; i < 15; i++)
      rgba->data[4 * i + 3] = 1.0f;
    rgba->data[4 * 7 + 3] = 254.4f / 255.0f;
    g_assert_false (gen_image_save (rgba, jpg, 0, &error));
    assert_error (error, GEN_ERROR_INVALID, jpg, "alpha");
    g_clear_error (&error);
    rgba->data[4 * 7 + 3] = NAN;
    g_assert_false (gen_image_save (rgba, jpg, 0, &error));
    assert_error (error, GEN_ERROR_INVALID, jpg, "alpha");
    g_clear_error (&error);
    g_assert_cmpuint (tmp_dir_count (dir), ==, 0);
    g_free (jpg);
    g_free (png);
  }

  /* case-insensitive extensions pick the format; the content says which */
  {
    static const struct { const char *name; guint8 magic[4]; } ok[] = {
      { "UP.PNG", { 0x89, 'P', 'N', 'G' } }, { "a.Jpeg", { 0xff, 0xd8, 0xff, 0 } },
      { "b.JPG", { 0xff, 0xd8, 0xff, 0 } }, { "c.TiF", { 'I', 'I', 42, 0 } },
      { "d.tiff", { 'I', 'I', 42, 0 } }, { "e.jpeg", { 0xff, 0xd8, 0xff, 0 } },
    };

    for (i = 0; i < G_N_ELEMENTS (ok); i++)
      {
        char *path = g_build_filename (dir, ok[i].name, NULL);
        gboolean jpeg = ok[i].magic[0] == 0xff;
        gsize len;
        guint8 *bytes;

        g_assert_true (gen_image_save (img, path, 0, &error));
        g_assert_no_error (error);
        bytes = read_bytes (path, &len);
        g_assert_cmpuint (len, >, 4);
        g_assert_cmpmem (bytes, jpeg ? 3 : 4, ok[i].magic, jpeg ? 3 : 4);
        g_free (bytes);
        g_assert_cmpint (g_remove (path), ==, 0);
        g_free (path);
      }
  }
  gen_image_free (img);
  gen_image_free (rgba);
  tmp_dir_remove (dir);
}

static void
test_save_atomic (void)
{
  static const char old[] = "old contents, not an image";
  char *dir = tmp_dir_new ();
  char *missing = g_build_filename (dir, "no-such-folder", "x.png", NULL);
  char *target = g_build_filename (dir, "keep.png", NULL);
  char *folder = g_build_filename (dir, "folder.tif", NULL);
  GenImage *img = pattern_image (17, 2, 3, 16);
  GError *error = NULL;
  GStatBuf st;
  guint8 *bytes;
  gsize len;

  /* into a missing folder: an IO error, nothing created */
  g_assert_false (gen_image_save (img, missing, 0, &error));
  assert_error (error, GEN_ERROR_IO, missing, NULL);
  g_clear_error (&error);
  g_assert_cmpuint (tmp_dir_count (dir), ==, 0);

  /* over a read-only file: refused, the old file untouched, no temp file */
  write_bytes (target, old, sizeof old);
  g_assert_cmpint (g_chmod (target, 0444), ==, 0);
  g_assert_false (gen_image_save (img, target, 0, &error));
  assert_error (error, GEN_ERROR_IO, target, "read-only");
  g_clear_error (&error);
  bytes = read_bytes (target, &len);
  g_assert_cmpmem (bytes, len, old, sizeof old);
  g_free (bytes);
  g_assert_cmpuint (tmp_dir_count (dir), ==, 1);

  /* over a folder: refused, nothing else left */
  g_assert_cmpint (g_mkdir (folder, 0755), ==, 0);
  g_assert_false (gen_image_save (img, folder, 0, &error));
  assert_error (error, GEN_ERROR_IO, folder, NULL);
  g_clear_error (&error);
  g_assert_cmpuint (tmp_dir_count (dir), ==, 2);
  g_assert_cmpuint (tmp_dir_count (folder), ==, 0);
  g_assert_cmpint (g_rmdir (folder), ==, 0);

  /* over a writable file: replaced, its permissions kept, no temp file */
  g_assert_cmpint (g_chmod (target, 0640), ==, 0);
  g_assert_true (gen_image_save (img, target, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (g_stat (target, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0640);
  g_assert_cmpuint (tmp_dir_count (dir), ==, 1);
  {
    GenImage *back = load_ok (target);
    guint *s = pattern_samples (17 * 2 * 3, 65535);

    assert_image (back, 17, 2, 3, 16, s);
    g_free (s);
    gen_image_free (back);
  }

  /* a folder we may not write to (only meaningful when not root) */
  if (geteuid () != 0)
    {
      char *locked = g_build_filename (dir, "locked", NULL);
      char *inside = g_build_filename (locked, "x.jpg", NULL);

      g_assert_cmpint (g_mkdir (locked, 0555), ==, 0);
      g_assert_false (gen_image_save (img, inside, 0, &error));
      assert_error (error, GEN_ERROR_IO, inside, NULL);
      g_clear_error (&error);
      g_assert_cmpuint (tmp_dir_count (locked), ==, 0);
      g_free (inside);
      g_free (locked);
    }

  gen_image_free (img);
  g_free (missing);
  g_free (target);
  g_free (folder);
  tmp_dir_remove (dir);
}

/* ---- bad files -------------------------------------------------------------------------- */

static guint32
crc32_of (const guint8 *p, gsize n)
{
  guint32 c = 0xffffffffu;
  gsize i;
  int k;

  for (i = 0; i < n; i++)
    {
      c ^= p[i];
      for (k = 0; k < 8; k++)
        c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
  return c ^ 0xffffffffu;
}

static void
put_be32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { (guint8) (v >> 24), (guint8) (v >> 16), (guint8) (v >> 8), (guint8) v };

  g_byte_array_append (b, x, 4);
}

static void
put_chunk (GByteArray *b, const char *type, const guint8 *data, guint32 len)
{
  guint start;

  put_be32 (b, len);
  start = b->len;
  g_byte_array_append (b, (const guint8 *) type, 4);
  if (len > 0)
    g_byte_array_append (b, data, len);
  put_be32 (b, crc32_of (b->data + start, len + 4));
}

/* A PNG of only a signature, IHDR (W×H, 8-bit gray), an empty IDAT and IEND. */
static GByteArray *
png_header_only (guint32 w, guint32 h)
{
  static const guint8 sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  GByteArray *b = g_byte_array_new (), *ihdr = g_byte_array_new ();
  guint8 rest[5] = { 8, 0, 0, 0, 0 };

  g_byte_array_append (b, sig, 8);
  put_be32 (ihdr, w);
  put_be32 (ihdr, h);
  g_byte_array_append (ihdr, rest, 5);
  put_chunk (b, "IHDR", ihdr->data, ihdr->len);
  put_chunk (b, "IDAT", NULL, 0);
  put_chunk (b, "IEND", NULL, 0);
  g_byte_array_unref (ihdr);
  return b;
}

static void
test_bad_files (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "bad.png", NULL);
  char *gone = g_build_filename (dir, "missing.png", NULL);
  GError *error = NULL;
  GByteArray *b;
  GenImage *img;

  /* empty, wrong magic, missing, a folder */
  write_bytes (path, "", 0);
  g_assert_null (gen_image_load (path, &error));
  assert_error (error, GEN_ERROR_FORMAT, path, "empty");
  g_clear_error (&error);
  write_bytes (path, "GIF89a\x01\x00\x01\x00", 10);
  g_assert_null (gen_image_load (path, &error));
  assert_error (error, GEN_ERROR_FORMAT, path, "not a PNG, JPEG or TIFF image");
  g_clear_error (&error);
  g_assert_null (gen_image_load (gone, &error));
  assert_error (error, GEN_ERROR_IO, gone, NULL);
  g_clear_error (&error);
  g_assert_null (gen_image_load (dir, &error));
  assert_error (error, GEN_ERROR_IO, dir, NULL);
  g_clear_error (&error);
  g_assert_null (gen_image_load_from_memory ((const guint8 *) "x", 1, NULL, &error));
  assert_error (error, GEN_ERROR_FORMAT, "(memory)", "not a PNG");
  g_clear_error (&error);

  /* a PNG claiming 100000×100000 (and others past the limits): refused
   * from the header, before any allocation */
  {
    static const guint32 dims[][2] = { { 100000, 100000 }, { 65536, 1 }, { 1, 65536 },
                                       { 16385, 16385 } };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS (dims); i++)
      {
        b = png_header_only (dims[i][0], dims[i][1]);
        write_bytes (path, b->data, b->len);
        g_assert_null (gen_image_load (path, &error));
        assert_error (error, GEN_ERROR_FORMAT, path, "too large");
        g_clear_error (&error);
        g_byte_array_unref (b);
      }
    /* the same header at a legal size fails later, for the missing data */
    b = png_header_only (3, 5);
    write_bytes (path, b->data, b->len);
    g_assert_null (gen_image_load (path, &error));
    assert_error (error, GEN_ERROR_FORMAT, path, "bad PNG data");
    g_clear_error (&error);
    g_byte_array_unref (b);
  }

  /* a TIFF 70000 wide */
  {
    char *wide = g_build_filename (dir, "wide.tif", NULL);
    TiffSpec spec = { 8, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                      COMPRESSION_ADOBE_DEFLATE, 0, { 0, 0 }, 0, 1, FALSE, NULL };
    guint *zero = g_new0 (guint, 70000);

    write_tiff (wide, 70000, 1, &spec, zero);
    g_assert_null (gen_image_load (wide, &error));
    assert_error (error, GEN_ERROR_FORMAT, wide, "too large");
    g_clear_error (&error);
    g_assert_cmpint (g_remove (wide), ==, 0);
    g_free (zero);
    g_free (wide);
  }

  /* tiles claimed 65520×65520 on a 17×5 image (found by the fuzzer): refused
   * before a buffer for one such tile is asked for */
  {
    char *tiled = g_build_filename (dir, "tiled.tif", NULL);
    TiffSpec spec = { 8, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                      COMPRESSION_NONE, 0, { 0, 0 }, 16, 0, FALSE, NULL };
    guint *s = pattern_samples (17 * 5, 255);
    guint8 *bytes;
    gsize len, off, i, patched = 0;

    write_tiff (tiled, 17, 5, &spec, s);
    bytes = read_bytes (tiled, &len);
    img = gen_image_load_from_memory (bytes, len, "tiled.tif", &error);
    assert_image (img, 17, 5, 1, 8, s);
    gen_image_free (img);
    off = bytes[4] | (gsize) bytes[5] << 8 | (gsize) bytes[6] << 16 | (gsize) bytes[7] << 24;
    for (i = 0; i < (gsize) (bytes[off] | bytes[off + 1] << 8); i++)
      {
        guint8 *e = bytes + off + 2 + 12 * i;
        guint tag = e[0] | e[1] << 8;

        if (tag == TIFFTAG_TILEWIDTH || tag == TIFFTAG_TILELENGTH)
          {
            e[8] = 0xf0; /* 65520, SHORT or LONG */
            e[9] = 0xff;
            patched++;
          }
      }
    g_assert_cmpuint (patched, ==, 2);
    g_assert_null (gen_image_load_from_memory (bytes, len, "tiled.tif", &error));
    assert_error (error, GEN_ERROR_FORMAT, "tiled.tif", "65520x65520 tiles for a 17x5 image");
    g_clear_error (&error);
    g_free (bytes);
    g_free (s);
    g_assert_cmpint (g_remove (tiled), ==, 0);
    g_free (tiled);
  }

  /* the pixel budget of the _limited variant, in every format */
  {
    static const char *const exts[] = { "png", "jpg", "tif" };
    GenImage *big = pattern_image (40, 30, 3, 8);
    gsize i;

    for (i = 0; i < G_N_ELEMENTS (exts); i++)
      {
        char *p = g_strdup_printf ("%s/budget.%s", dir, exts[i]);
        guint8 *bytes;
        gsize len;

        g_assert_true (gen_image_save (big, p, 0, &error));
        g_assert_no_error (error);
        bytes = read_bytes (p, &len);
        g_assert_null (gen_image_load_from_memory_limited (bytes, len, "budget", 1199, &error));
        assert_error (error, GEN_ERROR_FORMAT, "budget", "too large");
        g_clear_error (&error);
        img = gen_image_load_from_memory_limited (bytes, len, "budget", 1200, &error);
        g_assert_no_error (error);
        g_assert_cmpint (img->width * img->height, ==, 1200);
        gen_image_free (img);
        g_free (bytes);
        g_assert_cmpint (g_remove (p), ==, 0);
        g_free (p);
      }
    gen_image_free (big);
  }

  /* a damaged CRC in a critical chunk */
  {
    GenImage *small = pattern_image (3, 5, 3, 8);
    guint8 *bytes;
    gsize len;

    g_assert_true (gen_image_save (small, path, 0, &error));
    g_assert_no_error (error);
    bytes = read_bytes (path, &len);
    bytes[8 + 8 + 13] ^= 1; /* IHDR's CRC */
    g_assert_null (gen_image_load_from_memory (bytes, len, "crc.png", &error));
    assert_error (error, GEN_ERROR_FORMAT, "crc.png", "bad PNG data");
    g_clear_error (&error);
    g_free (bytes);
    gen_image_free (small);
  }

  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  g_free (gone);
  tmp_dir_remove (dir);
}

static void
put_le16 (GByteArray *b, guint16 v)
{
  guint8 x[2] = { (guint8) v, (guint8) (v >> 8) };

  g_byte_array_append (b, x, 2);
}

static void
put_le32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { (guint8) v, (guint8) (v >> 8), (guint8) (v >> 16), (guint8) (v >> 24) };

  g_byte_array_append (b, x, 4);
}

/* A little-endian TIFF built byte by byte, directory first, then the
 * pixels: 8-bit gray W×H, uncompressed, one strip at STRIP_OFFSET (0: right
 * after the directory) of STRIP_BYTES bytes (0: W×H). */
static GByteArray *
tiff_by_hand (guint32 w, guint32 h, guint32 strip_offset, guint32 strip_bytes)
{
  static const guint16 tags[9] = { 256, 257, 258, 259, 262, 273, 277, 278, 279 };
  guint32 data_at = 8 + 2 + 9 * 12 + 4;
  guint32 values[9];
  GByteArray *b = g_byte_array_new ();
  guint32 i;

  values[0] = w;
  values[1] = h;
  values[2] = 8;                                        /* BitsPerSample */
  values[3] = 1;                                        /* Compression: none */
  values[4] = 1;                                        /* min-is-black */
  values[5] = strip_offset ? strip_offset : data_at;    /* StripOffsets */
  values[6] = 1;                                        /* SamplesPerPixel */
  values[7] = h;                                        /* RowsPerStrip */
  values[8] = strip_bytes ? strip_bytes : w * h;        /* StripByteCounts */
  g_byte_array_append (b, (const guint8 *) "II*\0", 4);
  put_le32 (b, 8);
  put_le16 (b, 9);
  for (i = 0; i < 9; i++)
    {
      put_le16 (b, tags[i]);
      put_le16 (b, 4); /* LONG */
      put_le32 (b, 1);
      put_le32 (b, values[i]);
    }
  put_le32 (b, 0);
  g_assert_cmpuint (b->len, ==, data_at);
  for (i = 0; i < w * h; i++)
    {
      guint8 v = (guint8) pattern (i, 255);

      g_byte_array_append (b, &v, 1);
    }
  return b;
}

/* Directory first, pixels after: cutting the pixels is libtiff's to catch;
 * lying offsets and counts too. */
static void
test_tiff_by_hand (void)
{
  const guint32 w = 7, h = 3;
  GByteArray *b = tiff_by_hand (w, h, 0, 0);
  guint *expect = pattern_samples (w * h, 255);
  GError *error = NULL;
  GenImage *img;
  gsize cut;

  img = gen_image_load_from_memory (b->data, b->len, "hand.tif", &error);
  g_assert_no_error (error);
  assert_image (img, (int) w, (int) h, 1, 8, expect);
  gen_image_free (img);
  for (cut = 0; cut < b->len; cut++)
    {
      img = gen_image_load_from_memory (b->data, cut, "hand.tif", &error);
      if (img != NULL)
        g_error ("hand.tif cut to %" G_GSIZE_FORMAT " bytes loaded", cut);
      assert_error (error, GEN_ERROR_FORMAT, "hand.tif", NULL);
      g_clear_error (&error);
    }
  g_byte_array_unref (b);

  {
    static const guint32 lies[][4] = {
      { 7, 3, 1000, 0 },          /* strip past the end */
      { 7, 3, 0xfffffff0u, 100 }, /* offset + count wraps */
      { 0, 3, 0, 21 },            /* no width */
      { 7, 0, 0, 21 },            /* no height */
      { 70000, 3, 0, 21 },        /* too wide */
    };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS (lies); i++)
      {
        guint had;

        b = tiff_by_hand (lies[i][0], lies[i][1], lies[i][2], lies[i][3]);
        had = b->len;
        g_byte_array_set_size (b, 8 + 2 + 9 * 12 + 4 + 21); /* the pixels of 7×3 */
        if (b->len > had)
          memset (b->data + had, 0, b->len - had);
        img = gen_image_load_from_memory (b->data, b->len, "lie.tif", &error);
        if (img != NULL)
          g_error ("lie %" G_GSIZE_FORMAT " loaded", i);
        assert_error (error, GEN_ERROR_FORMAT, "lie.tif", NULL);
        g_clear_error (&error);
        g_byte_array_unref (b);
      }
  }

  /* a StripByteCounts of an uncompressed image that is too small or runs
   * past the end is one libtiff repairs from the image size: fine while
   * the file holds the pixels, an error when it does not */
  {
    static const guint32 repaired[] = { 5, 0x7fffffff };
    gsize i;

    for (i = 0; i < G_N_ELEMENTS (repaired); i++)
      {
        b = tiff_by_hand (w, h, 0, repaired[i]);
        img = gen_image_load_from_memory (b->data, b->len, "repaired.tif", &error);
        g_assert_no_error (error);
        assert_image (img, (int) w, (int) h, 1, 8, expect);
        gen_image_free (img);
        g_byte_array_set_size (b, b->len - 1);
        g_assert_null (gen_image_load_from_memory (b->data, b->len, "repaired.tif", &error));
        assert_error (error, GEN_ERROR_FORMAT, "repaired.tif", NULL);
        g_clear_error (&error);
        g_byte_array_unref (b);
      }
  }
  g_free (expect);
}

/* Every proper prefix of a valid file is refused with a clean error naming
 * the file; a few of them also through a real file. */
static void
test_truncated (void)
{
  static const struct { const char *ext; int channels, depth; } kinds[] = {
    { "png", 3, 8 }, { "png", 2, 16 }, { "jpg", 3, 8 }, { "jpg", 1, 8 },
    { "tif", 3, 8 }, { "tif", 4, 16 }, { "tif", 1, 8 }, { "tif", 2, 16 },
  };
  char *dir = tmp_dir_new ();
  gsize k;

  for (k = 0; k < G_N_ELEMENTS (kinds) + 2; k++)
    {
      gboolean extra = k >= G_N_ELEMENTS (kinds);
      const char *ext = extra ? (k == G_N_ELEMENTS (kinds) ? "jpg" : "tif") : kinds[k].ext;
      char *path = g_strdup_printf ("%s/cut.%s", dir, ext);
      char *name = g_strdup_printf ("cut-%" G_GSIZE_FORMAT ".%s", k, ext);
      GError *error = NULL;
      GenImage *img;
      guint8 *bytes;
      gsize len, cut;

      if (!extra)
        {
          img = pattern_image (17, 5, kinds[k].channels, kinds[k].depth);
          g_assert_true (gen_image_save (img, path, 0, &error));
          g_assert_no_error (error);
          gen_image_free (img);
        }
      else if (k == G_N_ELEMENTS (kinds))
        {
          /* a progressive JPEG from libjpeg */
          guint *s = g_new (guint, 17 * 9 * 3);

          for (cut = 0; cut < 17 * 9 * 3; cut++)
            s[cut] = (guint) (cut * 37 % 256);
          write_jpeg (path, 17, 9, JCS_RGB, TRUE, s);
          g_free (s);
        }
      else
        {
          /* a big-endian tiled TIFF from libtiff, two tiles */
          TiffSpec spec = { 16, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
                            COMPRESSION_LZW, 0, { 0, 0 }, 16, 0, TRUE, NULL };
          guint *s = pattern_samples (20 * 3 * 3, 65535);

          write_tiff (path, 20, 3, &spec, s);
          g_free (s);
        }

      bytes = read_bytes (path, &len);
      img = gen_image_load_from_memory (bytes, len, name, &error);
      g_assert_no_error (error);
      gen_image_free (img);
      for (cut = 0; cut < len; cut++)
        {
          img = gen_image_load_from_memory (bytes, cut, name, &error);
          if (img != NULL)
            g_error ("%s cut to %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes loaded", name,
                     cut, len);
          assert_error (error, GEN_ERROR_FORMAT, name, NULL);
          g_clear_error (&error);
        }
      /* through files: a few cuts */
      for (cut = 1; cut < len; cut += len / 5)
        {
          write_bytes (path, bytes, cut);
          g_assert_null (gen_image_load (path, &error));
          assert_error (error, GEN_ERROR_FORMAT, path, NULL);
          g_clear_error (&error);
        }
      g_free (bytes);
      g_assert_cmpint (g_remove (path), ==, 0);
      g_free (path);
      g_free (name);
    }
  tmp_dir_remove (dir);
}

/* TIFF messages go through a per-call buffer: threads loading bad TIFFs at
 * once each get their own file's message. */
typedef struct
{
  const guint8 *bytes;
  gsize         len;
  int           id;
} ThreadJob;

static gpointer
load_bad_tiff (gpointer data)
{
  const ThreadJob *job = data;
  char *name = g_strdup_printf ("thread-%d.tif", job->id);
  int i;

  for (i = 0; i < 50; i++)
    {
      GError *error = NULL;

      g_assert_null (gen_image_load_from_memory (job->bytes, job->len - 1 - (gsize) (i % 7),
                                                 name, &error));
      assert_error (error, GEN_ERROR_FORMAT, name, NULL);
      g_clear_error (&error);
    }
  g_free (name);
  return NULL;
}

static void
test_threads (void)
{
  char *dir = tmp_dir_new ();
  char *path = g_build_filename (dir, "t.tif", NULL);
  GenImage *img = pattern_image (17, 5, 3, 8);
  GError *error = NULL;
  GThread *threads[4];
  ThreadJob jobs[4];
  guint8 *bytes;
  gsize len;
  int t;

  g_assert_true (gen_image_save (img, path, 0, &error));
  g_assert_no_error (error);
  bytes = read_bytes (path, &len);
  for (t = 0; t < 4; t++)
    {
      jobs[t] = (ThreadJob) { bytes, len, t };
      threads[t] = g_thread_new ("load", load_bad_tiff, &jobs[t]);
    }
  for (t = 0; t < 4; t++)
    g_thread_join (threads[t]);
  g_free (bytes);
  gen_image_free (img);
  g_assert_cmpint (g_remove (path), ==, 0);
  g_free (path);
  tmp_dir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/image/new", test_new);
  g_test_add_data_func ("/image/round-trip/png", "png", test_round_trip_lossless);
  g_test_add_data_func ("/image/round-trip/tiff", "tif", test_round_trip_lossless);
  g_test_add_func ("/image/round-trip/jpeg", test_round_trip_jpeg);
  g_test_add_func ("/image/quantize", test_quantize);
  g_test_add_func ("/image/png-kinds", test_png_kinds);
  g_test_add_func ("/image/tiff-kinds", test_tiff_kinds);
  g_test_add_func ("/image/jpeg-kinds", test_jpeg_kinds);
  g_test_add_func ("/image/save/refuses", test_save_refuses);
  g_test_add_func ("/image/save/atomic", test_save_atomic);
  g_test_add_func ("/image/bad/files", test_bad_files);
  g_test_add_func ("/image/bad/truncated", test_truncated);
  g_test_add_func ("/image/bad/tiff-by-hand", test_tiff_by_hand);
  g_test_add_func ("/image/threads", test_threads);

  return g_test_run ();
}
