/* gen-cli-demo.c — `generative demo [PHOTO]`: a test scene drawn here (or
 * the user's photo) gets camera-like noise — Gaussian, clipped and rounded
 * to 8 bits as a sensor's output would be — and is denoised by the model
 * (the embedded default unless --model) in fast mode.  Writes the noisy and
 * the denoised image side by side and prints the PSNR of both against the
 * clean image. */
#include "gen-cli-demo.h"
#include "gen-cli-help.h"
#include "gen-cli-jobs.h"
#include "gen-cli-progress.h"
#include "gen-error.h"
#include "gen-image.h"
#include "gen-job.h"

#include <math.h>
#include <string.h>

#define SCENE_W 320
#define SCENE_H 240
#define GAP     4    /* white pixels between the two halves */

const char *
gen_cli_demo_line (void)
{
  return "before/after of denoising a noisy test scene or your photo";
}

/* ---- the test scene -------------------------------------------------------------
 * Smooth gradients (sky, glow, field), hard edges (a house, a kite, fence
 * posts) and texture (bricks, furrows, wood grain): what a denoiser must keep
 * apart from noise.  Coordinates are in units of the scene's height. */

static double
clamp01 (double x)
{
  return x < 0.0 ? 0.0 : x > 1.0 ? 1.0 : x;
}

/* A value in 0..1 fixed by two integers. */
static double
hash2 (int a, int b)
{
  guint32 h = (guint32) a * 0x8da6b343u ^ (guint32) b * 0xd8163841u;

  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return (h & 0xffffff) / (double) 0x1000000;
}

static void
set (double rgb[3], double r, double g, double b)
{
  rgb[0] = r, rgb[1] = g, rgb[2] = b;
}

/* The colour at (U, V); U in 0..4/3, V in 0..1 (down). */
static void
scene_at (double u, double v, double rgb[3])
{
  double horizon = 0.6 + 0.025 * sin (u * 6.0 + 1.0);

  if (v < horizon)
    {
      double t = v / horizon, sun = hypot (u - 1.1, v - 0.18);

      set (rgb, 0.22 + 0.5 * t, 0.42 + 0.38 * t, 0.82 + 0.12 * t);
      for (int c = 0; c < 3; c++)
        rgb[c] += (c == 2 ? 0.1 : 0.35) * exp (-sun * sun / 0.02);
      if (sun < 0.06)
        set (rgb, 1.0, 0.94, 0.72);
    }
  else
    {
      double t = (v - horizon) / (1.0 - horizon);
      double furrow = sin (u * 90.0 / (0.3 + t) + 4.0 * t) * (0.03 + 0.07 * t);

      set (rgb, 0.42 - 0.15 * t + furrow, 0.56 - 0.2 * t + furrow, 0.2 + 0.5 * furrow);
    }

  /* a kite: a checkered diamond on a string */
  {
    double du = u - 0.85, dv = v - 0.3;

    if (fabs (du) + fabs (dv) * 0.8 < 0.09)
      {
        gboolean dark = ((int) floor ((du + dv) / 0.045) + (int) floor ((du - dv) / 0.045)) & 1;
        if (dark)
          set (rgb, 0.08, 0.08, 0.1);
        else
          set (rgb, 0.95, 0.2, 0.15);
      }
    else if (dv > 0.09 && v < 0.62 && fabs (du - (dv - 0.09) * 0.4) < 0.0035)
      set (rgb, 0.25, 0.25, 0.25);
  }

  /* fence: posts and two rails */
  if (u > 0.62 && v > 0.6 && v < 0.8)
    {
      double x = fmod (u - 0.62, 0.08);

      if (x < 0.018 || fabs (v - 0.65) < 0.008 || fabs (v - 0.74) < 0.008)
        {
          double shade = x < 0.018 ? 0.85 - 6.0 * x : 0.8;
          set (rgb, 0.9 * shade, 0.85 * shade, 0.75 * shade);
        }
    }

  /* house: brick wall, roof, window, door */
  if (u > 0.12 && u < 0.5 && v > 0.42 && v < 0.84)
    {
      int row = (int) floor ((v - 0.42) / 0.032);
      double off = (row & 1) * 0.03, bx = fmod (u - 0.12 + off, 0.06), by = fmod (v - 0.42, 0.032);
      int col = (int) floor ((u - 0.12 + off) / 0.06);

      if (bx < 0.006 || by < 0.006)
        set (rgb, 0.78, 0.76, 0.7);
      else
        {
          double k = 0.85 + 0.3 * hash2 (row, col);
          set (rgb, 0.62 * k, 0.3 * k, 0.2 * k);
        }
      if (u > 0.18 && u < 0.3 && v > 0.5 && v < 0.66)
        {
          if (fabs (u - 0.24) < 0.006 || fabs (v - 0.58) < 0.006 || u < 0.19 || u > 0.29
              || v < 0.51 || v > 0.65)
            set (rgb, 0.95, 0.95, 0.93);
          else
            set (rgb, 0.35 + 0.4 * (v - 0.5), 0.5 + 0.3 * (u - 0.18), 0.72);
        }
      if (u > 0.36 && u < 0.45 && v > 0.6)
        {
          double grain = 0.05 * sin (u * 400.0 + 8.0 * sin (v * 30.0));
          set (rgb, 0.42 + grain, 0.26 + grain, 0.13);
          if (hypot (u - 0.43, v - 0.72) < 0.008)
            set (rgb, 0.9, 0.8, 0.3);
        }
    }
  if (v <= 0.42 && v > 0.24 && fabs (u - 0.31) < (v - 0.24) * 1.25)
    {
      double tiles = fmod (v - 0.24, 0.03) < 0.004 ? 0.7 : 1.0;
      set (rgb, 0.45 * tiles, 0.2 * tiles, 0.17 * tiles);
    }
  for (int c = 0; c < 3; c++)
    rgb[c] = clamp01 (rgb[c]);
}

/* The scene into IMG (RGB), 3×3 samples a pixel, rounded to 8 bits. */
static void
draw_scene (GenImage *img)
{
  for (int y = 0; y < img->height; y++)
    for (int x = 0; x < img->width; x++)
      {
        double sum[3] = { 0, 0, 0 }, rgb[3];

        for (int sy = 0; sy < 3; sy++)
          for (int sx = 0; sx < 3; sx++)
            {
              scene_at ((x + (sx + 0.5) / 3.0) / img->height,
                        (y + (sy + 0.5) / 3.0) / img->height, rgb);
              for (int c = 0; c < 3; c++)
                sum[c] += rgb[c] / 9.0;
            }
        for (int c = 0; c < 3; c++)
          img->data[((gsize) y * img->width + x) * 3 + c] = floorf (sum[c] * 255.0 + 0.5) / 255.0f;
      }
}

/* ---- noise, measure, picture ----------------------------------------------------- */

/* PHOTO as 8-bit RGB (gray spread to the channels, alpha dropped). */
static GenImage *
load_photo (const char *path, GError **error)
{
  g_autoptr (GenImage) in = gen_image_load (path, error);
  GenImage *rgb;

  if (!in || !(rgb = gen_image_new (in->width, in->height, 3, 8, error)))
    return NULL;
  for (gsize i = 0; i < (gsize) in->width * in->height; i++)
    for (int c = 0; c < 3; c++)
      {
        float v = in->data[i * in->channels + (in->channels >= 3 ? c : 0)];
        rgb->data[i * 3 + c] = floorf (v * 255.0f + 0.5f) / 255.0f;
      }
  return rgb;
}

/* OUT = CLEAN + SIGMA/255 · N(0, 1), clipped to 0..1 and rounded to 8 bits. */
static void
add_noise (const GenImage *clean, GenImage *out, double sigma, guint64 seed)
{
  gsize n = (gsize) clean->width * clean->height * 3;
  GenRng *rng = gen_rng_new (seed);

  gen_rng_randn (rng, out->data, (gint64) n);
  for (gsize i = 0; i < n; i++)
    {
      double v = clean->data[i] + sigma / 255.0 * out->data[i];
      out->data[i] = floor (clamp01 (v) * 255.0 + 0.5) / 255.0;
    }
  gen_rng_free (rng);
}

/* PSNR (dB) of A against REF, both RGB, on 8-bit values. */
static double
psnr (const GenImage *ref, const GenImage *a)
{
  gsize n = (gsize) ref->width * ref->height * 3;
  double se = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = floor (clamp01 (a->data[i]) * 255.0 + 0.5) - floor (ref->data[i] * 255.0 + 0.5);
      se += d * d;
    }
  return se > 0.0 ? 10.0 * log10 (255.0 * 255.0 * n / se) : INFINITY;
}

/* LEFT and RIGHT side by side with a white gap. */
static GenImage *
side_by_side (const GenImage *left, const GenImage *right, GError **error)
{
  int w = left->width, h = left->height;
  GenImage *img = gen_image_new (2 * w + GAP, h, 3, 8, error);

  if (!img)
    return NULL;
  for (gsize i = 0; i < (gsize) img->width * h * 3; i++)
    img->data[i] = 1.0f;
  for (int y = 0; y < h; y++)
    {
      memcpy (img->data + (gsize) y * img->width * 3, left->data + (gsize) y * w * 3,
              sizeof (float) * w * 3);
      memcpy (img->data + ((gsize) y * img->width + w + GAP) * 3, right->data + (gsize) y * w * 3,
              sizeof (float) * w * 3);
    }
  return img;
}

static GenPixels
pixels (GenImage *img)
{
  return (GenPixels) { img->data, img->width, img->height, img->channels };
}

static const GenCliCommand demo_command = {
  "demo", "[PHOTO]",
  "Shows what the model does for a photograph: adds camera-like noise (Gaussian,\n"
  "σ 25 by default, seeded) to a test scene drawn here, or to PHOTO, denoises it\n"
  "with the embedded default model (fast mode), writes the noisy and the\n"
  "denoised image side by side and prints the PSNR gain.",
  "generative demo holiday.jpg -o before-after.png"
};

gboolean
gen_cli_demo (int argc, char **argv, GError **error)
{
  char *output = NULL, *model = NULL;
  double sigma = 25.0, used = 0.0;
  gint64 seed = 1;
  int threads = 0, tile = 0;
  gboolean quiet = FALSE, help = FALSE, ok = FALSE;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "the before/after picture: PNG, JPEG or TIFF (default: before-after.png)", "OUT" },
    { "sigma", 0, 0, G_OPTION_ARG_DOUBLE, &sigma,
      "noise level to add, on the 0..255 scale (default: 25)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "seed of the noise (default: 1)", "N" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model,
      "diffusers UNet folder (default: the embedded model)", "DIR" },
    { "tile", 0, 0, G_OPTION_ARG_INT, &tile, "tile size in pixels (default: 512)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default: all cores)", "N" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no progress on stderr", NULL },
    { "help", 'h', G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL }
  };
  g_autoptr (GenImage) clean = NULL;
  g_autoptr (GenImage) noisy = NULL;
  g_autoptr (GenImage) denoised = NULL;
  g_autoptr (GenImage) picture = NULL;
  GenPipeline *p = NULL;
  GenJobOptions opts;
  GenCliProgress progress;
  GenPixels in, out;
  char *dir = NULL;
  gint64 t0;
  GenCliHelpSection section = { "Options:", entries };
  gboolean shown;

  if (!gen_cli_parse (&demo_command, &section, 1, &help, &argc, &argv, &shown, error))
    goto out;
  if (shown)
    {
      ok = TRUE;
      goto out;
    }
  if (argc > 2)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "demo takes at most one photo (see generative demo --help)");
      goto out;
    }
  if (!(sigma > 0.0 && sigma <= 255.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--sigma must be above 0 and at most 255");
      goto out;
    }
  if (seed < 0 || threads < 0 || threads > 1024 || tile < 0 || (tile > 0 && tile < 16))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "--seed must be 0 or more, --threads 1 to 1024, --tile 16 or more");
      goto out;
    }
  if (!(dir = model ? g_strdup (model) : gen_cli_model_dir ("generative-unet")))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                   "no --model given and the embedded default model is not installed");
      goto out;
    }
  if (argc == 2)
    clean = load_photo (argv[1], error);
  else if ((clean = gen_image_new (SCENE_W, SCENE_H, 3, 8, error)))
    draw_scene (clean);
  if (!clean
      || !(noisy = gen_image_new (clean->width, clean->height, 3, 8, error))
      || !(denoised = gen_image_new (clean->width, clean->height, 3, 8, error)))
    goto out;
  add_noise (clean, noisy, sigma, (guint64) seed);

  if (!(p = gen_pipeline_load (dir, NULL, error)))
    goto out;
  gen_job_options_init (&opts);
  opts.seed = (guint64) seed;
  opts.tile = tile;
  opts.threads = threads;
  gen_cli_progress_init (&progress, quiet);
  progress.tiles = gen_cli_progress_tiles (p, tile, clean->width, clean->height);
  opts.progress = gen_cli_progress;
  opts.progress_data = &progress;
  in = pixels (noisy);
  out = pixels (denoised);
  t0 = g_get_monotonic_time ();
  if (!gen_job_denoise (p, &opts, &in, NULL, GEN_DENOISE_FAST, sigma, 1.0, &out, &used, error))
    goto out;
  if (!(picture = side_by_side (noisy, denoised, error))
      || !gen_image_save (picture, output ? output : "before-after.png", 8, error))
    goto out;
  {
    double before = psnr (clean, noisy), after = psnr (clean, denoised);

    gen_cli_print (stdout,
                   "demo: %s, %d×%d, with Gaussian noise σ %g (seed %" G_GINT64_FORMAT ")\n"
                   "before: %.2f dB PSNR\n"
                   "after:  %.2f dB PSNR, a gain of %+.2f dB in %.1f s (%s, fast mode)\n"
                   "wrote %s: the noisy image on the left, the denoised one on the right\n",
                   argc == 2 ? argv[1] : "the test scene", clean->width, clean->height, sigma,
                   seed, before, after, after - before,
                   (g_get_monotonic_time () - t0) / 1e6,
                   model ? model : "the embedded model", output ? output : "before-after.png");
  }
  ok = TRUE;

out:
  gen_pipeline_free (p);
  g_free (dir);
  g_free (output);
  g_free (model);
  return ok;
}
