/* fuzz-image.c — libFuzzer target for the CLI's image loaders (PNG, JPEG,
 * TIFF through gen_image_load_from_memory_limited, the code path of
 * gen_image_load and gen_image_load_from_memory).
 *
 * A PNG input gets its chunk CRCs recomputed before loading, so that the
 * fuzzer explores chunk contents instead of stopping at the first CRC check
 * (the loader itself keeps checking them).  Images are limited to
 * FUZZ_MAX_PIXELS so that a few bytes cannot ask for gigabytes.
 *
 * Seed mode: with GEN_FUZZ_IMAGE_SEEDS=DIR in the environment the binary
 * writes the seed corpus into DIR and exits (run-fuzz.sh uses it): small
 * valid files of every kind the loaders take, written by libpng, libjpeg
 * and libtiff directly and by gen_image_save, plus a few the loaders refuse
 * (CMYK JPEG, float TIFF).
 */
#include "gen-error.h"
#include "gen-image.h"

#include <png.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <tiffio.h>

#define FUZZ_MAX_PIXELS ((gsize) 1 << 20)
#define FUZZ_NAME       "fuzz.img"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const guint8 png_sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

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

/* Rewrites the CRC of every whole chunk of the PNG in BUF. */
static void
png_fix_crcs (guint8 *buf, gsize size)
{
  gsize pos = 8;

  while (size - pos >= 12)
    {
      guint32 len = (guint32) buf[pos] << 24 | (guint32) buf[pos + 1] << 16
                    | (guint32) buf[pos + 2] << 8 | buf[pos + 3];
      guint32 crc;

      if (len > size - pos - 12)
        break;
      crc = crc32_of (buf + pos + 4, (gsize) len + 4);
      buf[pos + 8 + len] = (guint8) (crc >> 24);
      buf[pos + 9 + len] = (guint8) (crc >> 16);
      buf[pos + 10 + len] = (guint8) (crc >> 8);
      buf[pos + 11 + len] = (guint8) crc;
      pos += (gsize) len + 12;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  guint8 *fixed = NULL;
  GenImage *img;

  if (size >= 8 && memcmp (data, png_sig, 8) == 0)
    {
      fixed = g_malloc (size);
      memcpy (fixed, data, size);
      png_fix_crcs (fixed, size);
      data = fixed;
    }
  img = gen_image_load_from_memory_limited (data, size, FUZZ_NAME, FUZZ_MAX_PIXELS, &error);
  if (img == NULL)
    {
      /* a clean error in our domain, naming the file */
      if (error == NULL || error->domain != GEN_ERROR
          || !g_str_has_prefix (error->message, FUZZ_NAME ": "))
        __builtin_trap ();
      g_error_free (error);
    }
  else
    {
      gsize i, n;

      if (error != NULL || img->width < 1 || img->height < 1
          || (gsize) img->width * (gsize) img->height > FUZZ_MAX_PIXELS
          || img->channels < 1 || img->channels > 4
          || (img->bit_depth != 8 && img->bit_depth != 16) || img->data == NULL)
        __builtin_trap ();
      n = (gsize) img->width * (gsize) img->height * (gsize) img->channels;
      for (i = 0; i < n; i++)
        if (!(img->data[i] >= 0.0f && img->data[i] <= 1.0f))
          __builtin_trap ();
      gen_image_free (img);
    }
  g_free (fixed);
  return 0;
}

/* ---- seed corpus ------------------------------------------------------------ */

/* Sample I of a seed: a spread of values up to MAX. */
static guint
seed_sample (gsize i, guint max)
{
  return (guint) ((i * 2654435761u + 977u) % ((guint64) max + 1));
}

static char *
seed_path (const char *dir, const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static void
seed_png (const char *dir, const char *name, guint32 w, guint32 h, int color_type, int depth,
          int interlace, gboolean trns, gboolean text)
{
  char *path = seed_path (dir, name);
  FILE *f = fopen (path, "wb");
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  int channels = color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_PALETTE ? 1
                 : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
                 : color_type == PNG_COLOR_TYPE_RGB ? 3 : 4;
  gsize rowbytes = ((gsize) w * channels * depth + 7) / 8, i;
  guint8 *row = g_malloc (rowbytes);
  guint32 y;

  if (f == NULL)
    abort ();
  png_init_io (png, f);
  png_set_IHDR (png, info, w, h, depth, color_type, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE)
    {
      png_color pal[256];
      png_byte alpha[3] = { 0, 128, 200 };

      for (i = 0; i < 256; i++)
        {
          pal[i].red = (png_byte) (i * 3);
          pal[i].green = (png_byte) (255 - i);
          pal[i].blue = (png_byte) (i * 7);
        }
      png_set_PLTE (png, info, pal, 1 << depth);
      if (trns)
        png_set_tRNS (png, info, alpha, MIN (3, 1 << depth), NULL);
    }
  else if (trns)
    {
      png_color_16 v = { 0, 1, 1, 1, 1 };
      png_set_tRNS (png, info, NULL, 0, &v);
    }
  if (text)
    {
      png_text t = { PNG_TEXT_COMPRESSION_zTXt, (char *) "Comment", (char *) "generative seed",
                     0, 0, NULL, NULL };
      png_set_text (png, info, &t, 1);
      png_set_gAMA (png, info, 0.45455);
    }
  png_write_info (png, info);
  if (interlace != PNG_INTERLACE_NONE)
    (void) png_set_interlace_handling (png);
  {
    int passes = interlace != PNG_INTERLACE_NONE ? 7 : 1, p;

    for (p = 0; p < passes; p++)
      for (y = 0; y < h; y++)
        {
          for (i = 0; i < rowbytes; i++)
            row[i] = (guint8) seed_sample (y * rowbytes + i, 255);
          png_write_row (png, row);
        }
  }
  png_write_end (png, info);
  png_destroy_write_struct (&png, &info);
  fclose (f);
  g_free (row);
  g_free (path);
}

static void
seed_jpeg (const char *dir, const char *name, int w, int h, J_COLOR_SPACE space,
           gboolean progressive, gboolean arith, int restart, gboolean subsample)
{
  char *path = seed_path (dir, name);
  FILE *f = fopen (path, "wb");
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  int comps = space == JCS_GRAYSCALE ? 1 : space == JCS_RGB ? 3 : 4, c;
  guint8 *row = g_malloc ((gsize) w * comps);

  if (f == NULL)
    abort ();
  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_stdio_dest (&cinfo, f);
  cinfo.image_width = (JDIMENSION) w;
  cinfo.image_height = (JDIMENSION) h;
  cinfo.input_components = comps;
  cinfo.in_color_space = space;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, 75, TRUE);
  if (!subsample)
    for (c = 0; c < cinfo.num_components; c++)
      cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  if (progressive)
    jpeg_simple_progression (&cinfo);
  cinfo.arith_code = arith;
  cinfo.restart_interval = (unsigned int) restart;
  jpeg_start_compress (&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW r = row;
      int x;

      for (x = 0; x < w * comps; x++)
        row[x] = (guint8) (x * 5 + (int) cinfo.next_scanline * 9);
      jpeg_write_scanlines (&cinfo, &r, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  fclose (f);
  g_free (row);
  g_free (path);
}

typedef struct
{
  const char *name, *mode;          /* "wl", "wb", "w8" (BigTIFF) */
  guint16     bps, spp, photometric, planar, format, compression, extra;
  guint32     tile;                 /* 0: strips of 2 rows */
} TiffSeed;

static void
seed_tiff (const char *dir, const TiffSeed *s, guint32 w, guint32 h)
{
  char *path = seed_path (dir, s->name);
  TIFF *tif = TIFFOpen (path, s->mode);
  tmsize_t size;
  guint8 *buf;
  guint32 n, k;

  if (tif == NULL)
    abort ();
  TIFFSetField (tif, TIFFTAG_IMAGEWIDTH, w);
  TIFFSetField (tif, TIFFTAG_IMAGELENGTH, h);
  TIFFSetField (tif, TIFFTAG_BITSPERSAMPLE, s->bps);
  TIFFSetField (tif, TIFFTAG_SAMPLESPERPIXEL, s->spp);
  TIFFSetField (tif, TIFFTAG_PHOTOMETRIC, s->photometric);
  TIFFSetField (tif, TIFFTAG_PLANARCONFIG, s->planar);
  TIFFSetField (tif, TIFFTAG_SAMPLEFORMAT, s->format);
  TIFFSetField (tif, TIFFTAG_COMPRESSION, s->compression);
  if (s->compression == COMPRESSION_JPEG && s->photometric == PHOTOMETRIC_YCBCR)
    TIFFSetField (tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  if (s->extra)
    TIFFSetField (tif, TIFFTAG_EXTRASAMPLES, (guint16) 1, &s->extra);
  if (s->photometric == PHOTOMETRIC_PALETTE)
    {
      guint m = 1u << s->bps, i;
      guint16 *map = g_new (guint16, 3 * m);

      for (i = 0; i < 3 * m; i++)
        map[i] = (guint16) (i * 40503u);
      TIFFSetField (tif, TIFFTAG_COLORMAP, map, map + m, map + 2 * m);
      g_free (map);
    }
  if (s->tile)
    {
      TIFFSetField (tif, TIFFTAG_TILEWIDTH, s->tile);
      TIFFSetField (tif, TIFFTAG_TILELENGTH, s->tile);
      size = TIFFTileSize (tif);
      n = TIFFNumberOfTiles (tif);
    }
  else
    {
      TIFFSetField (tif, TIFFTAG_ROWSPERSTRIP, (guint32) 2);
      size = TIFFStripSize (tif);
      n = TIFFNumberOfStrips (tif);
    }
  buf = g_malloc ((gsize) size);
  for (k = 0; k < n; k++)
    {
      tmsize_t i;

      for (i = 0; i < size; i++)
        buf[i] = (guint8) seed_sample ((gsize) k * (gsize) size + (gsize) i, 255);
      if (s->format == SAMPLEFORMAT_IEEEFP)
        for (i = 0; i + 4 <= size; i += 4)
          {
            float v = (float) buf[i] / 255.0f;
            memcpy (buf + i, &v, 4);
          }
      if (s->tile)
        TIFFWriteEncodedTile (tif, k, buf, size);
      else
        TIFFWriteEncodedStrip (tif, k, buf, size);
    }
  TIFFClose (tif);
  g_free (buf);
  g_free (path);
}

static void
write_seeds (const char *dir)
{
  static const TiffSeed tiffs[] = {
    { "t-rgb8-lzw.tif", "wl", 8, 3, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_LZW, 0, 0 },
    { "t-rgba16-sep-be.tif", "wb", 16, 4, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE,
      SAMPLEFORMAT_UINT, COMPRESSION_NONE, EXTRASAMPLE_UNASSALPHA, 0 },
    { "t-ga16-tiled.tif", "wl", 16, 2, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG,
      SAMPLEFORMAT_UINT, COMPRESSION_ADOBE_DEFLATE, EXTRASAMPLE_ASSOCALPHA, 16 },
    { "t-rgb8-tiled-sep.tif", "wb", 8, 3, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE,
      SAMPLEFORMAT_UINT, COMPRESSION_PACKBITS, 0, 16 },
    { "t-white8.tif", "wl", 8, 1, PHOTOMETRIC_MINISWHITE, PLANARCONFIG_CONTIG,
      SAMPLEFORMAT_UINT, COMPRESSION_NONE, 0, 0 },
    { "t-pal8.tif", "wl", 8, 1, PHOTOMETRIC_PALETTE, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_NONE, 0, 0 },
    { "t-pal4.tif", "wb", 4, 1, PHOTOMETRIC_PALETTE, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_LZW, 0, 0 },
    { "t-bilevel-g4.tif", "wl", 1, 1, PHOTOMETRIC_MINISWHITE, PLANARCONFIG_CONTIG,
      SAMPLEFORMAT_UINT, COMPRESSION_CCITTFAX4, 0, 0 },
    { "t-ycbcr-jpeg.tif", "wl", 8, 3, PHOTOMETRIC_YCBCR, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_JPEG, 0, 16 },
    { "t-cmyk8.tif", "wl", 8, 4, PHOTOMETRIC_SEPARATED, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_NONE, 0, 0 },
    { "t-rgba8-big.tif", "w8", 8, 4, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, SAMPLEFORMAT_UINT,
      COMPRESSION_ADOBE_DEFLATE, EXTRASAMPLE_UNASSALPHA, 0 },
    { "t-float32.tif", "wl", 32, 1, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG,
      SAMPLEFORMAT_IEEEFP, COMPRESSION_NONE, 0, 0 },
  };
  static const struct { const char *name; int w, h, channels, depth; } ours[] = {
    { "o-g8.png", 5, 3, 1, 8 },    { "o-ga16.png", 3, 5, 2, 16 }, { "o-rgb16.png", 4, 4, 3, 16 },
    { "o-rgba8.png", 7, 2, 4, 8 }, { "o-g8.jpg", 9, 9, 1, 8 },    { "o-rgb8.jpg", 17, 9, 3, 8 },
    { "o-g16.tif", 5, 3, 1, 16 },  { "o-ga8.tif", 3, 5, 2, 8 },   { "o-rgb8.tif", 6, 4, 3, 8 },
    { "o-rgba16.tif", 2, 7, 4, 16 },
  };
  gsize i;

  seed_png (dir, "p-g1.png", 13, 3, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, FALSE, FALSE);
  seed_png (dir, "p-g2-i.png", 9, 9, PNG_COLOR_TYPE_GRAY, 2, PNG_INTERLACE_ADAM7, FALSE, FALSE);
  seed_png (dir, "p-g4-t.png", 5, 4, PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, TRUE, FALSE);
  seed_png (dir, "p-g8-t.png", 4, 4, PNG_COLOR_TYPE_GRAY, 8, PNG_INTERLACE_NONE, TRUE, TRUE);
  seed_png (dir, "p-g16.png", 3, 3, PNG_COLOR_TYPE_GRAY, 16, PNG_INTERLACE_NONE, TRUE, FALSE);
  seed_png (dir, "p-ga8-i.png", 6, 5, PNG_COLOR_TYPE_GRAY_ALPHA, 8, PNG_INTERLACE_ADAM7, FALSE,
            FALSE);
  seed_png (dir, "p-rgb8-t.png", 4, 3, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_NONE, TRUE, FALSE);
  seed_png (dir, "p-rgb16-i.png", 5, 5, PNG_COLOR_TYPE_RGB, 16, PNG_INTERLACE_ADAM7, FALSE,
            TRUE);
  seed_png (dir, "p-rgba16.png", 3, 2, PNG_COLOR_TYPE_RGB_ALPHA, 16, PNG_INTERLACE_NONE, FALSE,
            FALSE);
  seed_png (dir, "p-pal1.png", 11, 2, PNG_COLOR_TYPE_PALETTE, 1, PNG_INTERLACE_NONE, TRUE,
            FALSE);
  seed_png (dir, "p-pal4-i.png", 7, 7, PNG_COLOR_TYPE_PALETTE, 4, PNG_INTERLACE_ADAM7, TRUE,
            FALSE);
  seed_png (dir, "p-pal8.png", 4, 4, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, FALSE,
            FALSE);

  seed_jpeg (dir, "j-gray.jpg", 9, 7, JCS_GRAYSCALE, FALSE, FALSE, 0, FALSE);
  seed_jpeg (dir, "j-420.jpg", 17, 9, JCS_RGB, FALSE, FALSE, 0, TRUE);
  seed_jpeg (dir, "j-prog.jpg", 16, 16, JCS_RGB, TRUE, FALSE, 0, TRUE);
  seed_jpeg (dir, "j-arith.jpg", 8, 8, JCS_RGB, FALSE, TRUE, 0, FALSE);
  seed_jpeg (dir, "j-restart.jpg", 24, 8, JCS_RGB, FALSE, FALSE, 1, TRUE);
  seed_jpeg (dir, "j-prog-gray.jpg", 8, 9, JCS_GRAYSCALE, TRUE, FALSE, 0, FALSE);
  seed_jpeg (dir, "j-cmyk.jpg", 8, 8, JCS_CMYK, FALSE, FALSE, 0, FALSE);

  for (i = 0; i < G_N_ELEMENTS (tiffs); i++)
    seed_tiff (dir, &tiffs[i], 17, 5);

  for (i = 0; i < G_N_ELEMENTS (ours); i++)
    {
      GError *error = NULL;
      GenImage *img = gen_image_new (ours[i].w, ours[i].h, ours[i].channels, ours[i].depth,
                                     &error);
      char *path = seed_path (dir, ours[i].name);
      gsize k, n;

      if (img == NULL)
        abort ();
      n = (gsize) ours[i].w * ours[i].h * ours[i].channels;
      for (k = 0; k < n; k++)
        img->data[k] = (float) seed_sample (k, 1000) / 1000.0f;
      if (ours[i].channels % 2 == 0)
        for (k = 0; k < n; k += (gsize) ours[i].channels)
          img->data[k + (gsize) ours[i].channels - 1] = 1.0f;
      if (!gen_image_save (img, path, 0, &error))
        {
          fprintf (stderr, "fuzz-image: %s\n", error->message);
          abort ();
        }
      gen_image_free (img);
      g_free (path);
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *dir = g_getenv ("GEN_FUZZ_IMAGE_SEEDS");

  (void) argc;
  (void) argv;
  if (dir != NULL)
    {
      write_seeds (dir);
      exit (0);
    }
  return 0;
}
