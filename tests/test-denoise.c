/* test-denoise — denoise's quality mode and noise estimate: the ×8
 * self-ensemble equals the mean of eight single runs on flipped and turned
 * images made here, through the public API; the noise estimate finds the
 * RMS of white, signal-dependent and demosaiced noise made here. */
#include "gen-error.h"
#include "gen-job.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

/* ---- images and their symmetries, written independently of the core ------- */

static GenPixels
pixels_new (int w, int h, int channels)
{
  GenPixels px = { g_new0 (float, (gsize) w * h * channels), w, h, channels };
  return px;
}

/* A test image with structure in every direction, alpha where there is one. */
static GenPixels
pattern (int w, int h, int channels)
{
  GenPixels px = pixels_new (w, h, channels);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < channels; c++)
        px.data[((gsize) y * w + x) * channels + c]
          = (channels == 4 && c == 3) ? (float) ((x * 3 + y) % 5) / 4.0f
                                      : 0.5f + 0.35f * (float) sin (0.37 * x + 0.11 * x * y / h
                                                                    + 0.23 * y + 1.3 * c)
                                        + 0.1f * (float) ((x * 7 + y * 13 + c) % 3 - 1);
  return px;
}

/* A quarter turn counter-clockwise: the top row becomes the left column,
 * read upwards (numpy's rot90). */
static GenPixels
turn (const GenPixels *a)
{
  GenPixels b = pixels_new (a->height, a->width, a->channels);

  for (int y = 0; y < b.height; y++)
    for (int x = 0; x < b.width; x++)
      memcpy (b.data + ((gsize) y * b.width + x) * a->channels,
              a->data + ((gsize) x * a->width + (a->width - 1 - y)) * a->channels,
              sizeof (float) * a->channels);
  return b;
}

static GenPixels
mirror (const GenPixels *a)
{
  GenPixels b = pixels_new (a->width, a->height, a->channels);

  for (int y = 0; y < a->height; y++)
    for (int x = 0; x < a->width; x++)
      memcpy (b.data + ((gsize) y * a->width + x) * a->channels,
              a->data + ((gsize) y * a->width + (a->width - 1 - x)) * a->channels,
              sizeof (float) * a->channels);
  return b;
}

/* A turned N times (a new image). */
static GenPixels
turned (const GenPixels *a, int n)
{
  GenPixels b = pixels_new (a->width, a->height, a->channels);

  memcpy (b.data, a->data, sizeof (float) * a->width * a->height * a->channels);
  for (int i = 0; i < n; i++)
    {
      GenPixels c = turn (&b);
      g_free (b.data);
      b = c;
    }
  return b;
}

/* ---- the ensemble ---------------------------------------------------------- */

typedef struct
{
  char        *dir;
  GenPipeline *p;
} Model;

static void
model_setup (Model *m, gconstpointer data)
{
  GError *error = NULL;
  /* strong weights: the model is far from equivariant, so the eight
   * orientations give different results */
  Tensors *t = tiny_unet_weights_scaled (3, 0.6f);
  char *cfg = g_strdup_printf (tiny_unet_config, "");

  (void) data;
  m->dir = make_model (cfg, t);
  m->p = gen_pipeline_load (m->dir, NULL, &error);
  g_assert_no_error (error);
  g_free (cfg);
  tensors_free (t);
}

static void
model_teardown (Model *m, gconstpointer data)
{
  (void) data;
  gen_pipeline_free (m->p);
  tmp_dir_remove (m->dir);
}

static GenJobOptions
options (int steps)
{
  GenJobOptions o;

  gen_job_options_init (&o);
  o.threads = 1;
  o.steps = steps;
  return o;
}

/* Best quality against the mean, over the four turns with and without a
 * mirror, of a fast-quality run on the flipped and turned image, turned
 * back: the same up to float rounding (one tile: the ensemble per tile is
 * the ensemble of the image). */
static void
check_ensemble (Model *m, GenDenoiseMode mode, int channels)
{
  const int w = 20, h = 13;
  GenJobOptions o = options (3);
  GenPixels in = pattern (w, h, channels), best = pixels_new (w, h, channels);
  GenPixels single = pixels_new (w, h, channels);
  double *mean = g_new0 (double, (gsize) w * h * channels);
  double err = 0.0, gain = 0.0;
  GError *error = NULL;

  g_assert_true (gen_job_denoise_quality (m->p, &o, &in, NULL, mode, GEN_DENOISE_QUALITY_BEST,
                                          30.0, 1.0, &best, NULL, &error));
  g_assert_no_error (error);
  for (int f = 0; f < 2; f++)
    for (int r = 0; r < 4; r++)
      {
        GenPixels src = f ? mirror (&in) : turned (&in, 0);
        GenPixels t = turned (&src, r), d = pixels_new (t.width, t.height, channels), back, un;

        g_assert_true (gen_job_denoise_quality (m->p, &o, &t, NULL, mode,
                                                GEN_DENOISE_QUALITY_FAST, 30.0, 1.0, &d, NULL,
                                                &error));
        g_assert_no_error (error);
        back = turned (&d, (4 - r) % 4);
        un = f ? mirror (&back) : turned (&back, 0);
        for (gsize i = 0; i < (gsize) w * h * channels; i++)
          mean[i] += un.data[i] / 8.0;
        if (f == 0 && r == 0)
          memcpy (single.data, un.data, sizeof (float) * w * h * channels);
        g_free (src.data), g_free (t.data), g_free (d.data), g_free (back.data), g_free (un.data);
      }
  for (gsize i = 0; i < (gsize) w * h * channels; i++)
    {
      err = MAX (err, fabs (mean[i] - best.data[i]));
      gain = MAX (gain, fabs (single.data[i] - best.data[i]));
      if (channels == 4 && i % 4 == 3)
        g_assert_true (best.data[i] == in.data[i]);  /* alpha carried through */
    }
  if (g_test_verbose ())
    g_printerr ("%s, %d channels: best vs the mean of 8 runs %.2g; vs one run %.3f\n",
                mode == GEN_DENOISE_FAST ? "fast" : "sample", channels, err, gain);
  g_assert_cmpfloat (err, <, 2e-6);
  /* the orientations do differ: the ensemble is not one run */
  g_assert_cmpfloat (gain, >, 1e-3);
  g_free (in.data), g_free (best.data), g_free (single.data), g_free (mean);
}

static void
test_ensemble_fast (Model *m, gconstpointer data)
{
  (void) data;
  check_ensemble (m, GEN_DENOISE_FAST, 3);
  check_ensemble (m, GEN_DENOISE_FAST, 4);
}

static void
test_ensemble_sample (Model *m, gconstpointer data)
{
  (void) data;
  check_ensemble (m, GEN_DENOISE_SAMPLE, 3);
}

/* Tiled: the ensemble runs per tile, on any number of workers with the
 * same bits, and stays close to the whole image's. */
static void
test_ensemble_tiles (Model *m, gconstpointer data)
{
  const int w = 70, h = 45;
  GenPixels in = pattern (w, h, 3), whole = pixels_new (w, h, 3);
  GenPixels one = pixels_new (w, h, 3), four = pixels_new (w, h, 3);
  GenJobOptions o = options (1);
  GError *error = NULL;
  double diff = 0.0;

  (void) data;
  g_assert_true (gen_job_denoise_quality (m->p, &o, &in, NULL, GEN_DENOISE_FAST,
                                          GEN_DENOISE_QUALITY_BEST, 25.0, 1.0, &whole, NULL,
                                          &error));
  o.tile = 24;
  o.tile_overlap = 12;
  g_assert_true (gen_job_denoise_quality (m->p, &o, &in, NULL, GEN_DENOISE_FAST,
                                          GEN_DENOISE_QUALITY_BEST, 25.0, 1.0, &one, NULL,
                                          &error));
  o.threads = 4;
  g_assert_true (gen_job_denoise_quality (m->p, &o, &in, NULL, GEN_DENOISE_FAST,
                                          GEN_DENOISE_QUALITY_BEST, 25.0, 1.0, &four, NULL,
                                          &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (one.data, four.data, sizeof (float) * w * h * 3) == 0);
  for (int i = 0; i < w * h * 3; i++)
    {
      g_assert_true (one.data[i] >= 0.0f && one.data[i] <= 1.0f);
      diff += fabs (one.data[i] - whole.data[i]);
    }
  /* mean difference from the untiled ensemble: well under one 8-bit level */
  g_assert_cmpfloat (diff / (w * h * 3) * 255.0, <, 1.0);
  g_free (in.data), g_free (whole.data), g_free (one.data), g_free (four.data);
}

static void
test_quality_names (void)
{
  GenDenoiseQuality q = GEN_DENOISE_QUALITY_FAST;
  GError *error = NULL;

  g_assert_true (gen_denoise_quality_from_name ("best", &q, &error));
  g_assert_cmpint (q, ==, GEN_DENOISE_QUALITY_BEST);
  g_assert_cmpstr (gen_denoise_quality_name (q), ==, "best");
  g_assert_true (gen_denoise_quality_from_name ("fast", &q, &error));
  g_assert_cmpint (q, ==, GEN_DENOISE_QUALITY_FAST);
  g_assert_false (gen_denoise_quality_from_name ("better", &q, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpint (q, ==, GEN_DENOISE_QUALITY_FAST);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Model, NULL, model_setup, fn, model_teardown)
  ADD ("/denoise/ensemble/fast", test_ensemble_fast);
  ADD ("/denoise/ensemble/sample", test_ensemble_sample);
  ADD ("/denoise/ensemble/tiles", test_ensemble_tiles);
  g_test_add_func ("/denoise/quality-names", test_quality_names);
  return g_test_run ();
}
