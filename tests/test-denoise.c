/* test-denoise — denoise's quality mode and noise estimate: the ×8
 * self-ensemble equals the mean of eight single runs on flipped and turned
 * images made here, through the public API; the patch filter comes after
 * the model and before the blend; the noise estimate finds the
 * RMS of white, signal-dependent and demosaiced noise made here, and the
 * Bayer phase of demosaiced noise, which fast denoise aligns. */
#include "gen-denoise-wiener.h"
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
  o.denoise_patches = FALSE;   /* the model's part; test_patches adds the filter */
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

/* ---- the noise estimate ------------------------------------------------------ */

/* A clean test image on 0..255: smooth shading, a few flat shapes with
 * hard edges and a patch of fine stripes, in 40..215 so that no noise
 * clips. */
static double *
clean_image (int w, int h)
{
  double *img = g_new (double, (gsize) w * h * 3);

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        {
          double v = 60.0 + 80.0 * x / w + 30.0 * sin (0.02 * y + c);

          if ((x - 60) * (x - 60) + (y - 70) * (y - 70) < 40 * 40)
            v = 180.0 - 25.0 * c;
          else if (x > 150 && y > 140 && x < 230)
            v = 90.0 + 40.0 * c;
          else if (x > 170 && y < 60)
            v += 12.0 * sin (1.9 * x);
          img[((gsize) y * w + x) * 3 + c] = v;
        }
  return img;
}

static double
gauss (GRand *rand)
{
  double u1 = g_rand_double (rand), u2 = g_rand_double (rand);

  return sqrt (-2.0 * log (1.0 - u1)) * cos (2 * G_PI * u2);
}

typedef enum { WHITE, SHOT, DEMOSAIC } NoiseKind;

/* Noise of KIND on CLEAN with variance A·x + B (x the clean value): white
 * (A = 0), per pixel (shot and read noise), or measured on an RGGB mosaic
 * whose red sites are on rows of parity PY and columns of parity PX, and
 * demosaiced bilinearly, which correlates it between neighbours.  Returns
 * the noisy image in 0..1 and its effective σ in *RMS. */
static GenPixels
noisy_image_at (const double *clean, int w, int h, NoiseKind kind, double a, double b, int py,
                int px, GRand *rand, double *rms)
{
  GenPixels out = pixels_new (w, h, 3);
  double *n = g_new0 (double, (gsize) w * h * 3), sum = 0.0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < 3; c++)
        {
          gsize k = ((gsize) y * w + x) * 3 + c;
          /* which channel an RGGB mosaic measures here */
          int sy = (y + py) % 2, sx = (x + px) % 2;
          int site = sy == 0 ? (sx == 0 ? 0 : 1) : (sx == 0 ? 1 : 2);

          if (kind != DEMOSAIC || site == c)
            n[k] = sqrt (a * clean[k] + b) * gauss (rand);
        }
  if (kind == DEMOSAIC)
    {
      /* bilinear: green from its 4 neighbours, red and blue from 2 or 4 */
      static const double kg[3][3] = { { 0, .25, 0 }, { .25, 1, .25 }, { 0, .25, 0 } };
      static const double krb[3][3] = { { .25, .5, .25 }, { .5, 1, .5 }, { .25, .5, .25 } };
      double *d = g_new0 (double, (gsize) w * h * 3);

      for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
          for (int c = 0; c < 3; c++)
            for (int dy = -1; dy <= 1; dy++)
              for (int dx = -1; dx <= 1; dx++)
                {
                  int yy = y + dy < 0 ? 1 : y + dy >= h ? h - 2 : y + dy;
                  int xx = x + dx < 0 ? 1 : x + dx >= w ? w - 2 : x + dx;

                  d[((gsize) y * w + x) * 3 + c] += (c == 1 ? kg : krb)[dy + 1][dx + 1]
                                                    * n[((gsize) yy * w + xx) * 3 + c];
                }
      g_free (n);
      n = d;
    }
  for (gsize k = 0; k < (gsize) w * h * 3; k++)
    {
      out.data[k] = (float) ((clean[k] + n[k]) / 255.0);
      sum += n[k] * n[k];
    }
  *rms = sqrt (sum / ((double) w * h * 3));
  g_free (n);
  return out;
}

static GenPixels
noisy_image (const double *clean, int w, int h, NoiseKind kind, double a, double b, GRand *rand,
             double *rms)
{
  return noisy_image_at (clean, w, h, kind, a, b, 0, 0, rand, rms);
}

/* The estimate is the noise's RMS for white, signal-dependent and
 * demosaiced noise, on an image with edges and texture. */
static void
test_noise_estimate_kinds (void)
{
  const int w = 256, h = 256;
  const struct
  {
    NoiseKind kind;
    double    a, b, tolerance;
  } cases[] = {
    { WHITE, 0.0, 100.0, 0.06 },  { WHITE, 0.0, 625.0, 0.06 },
    { SHOT, 2.0, 30.0, 0.08 },    { SHOT, 4.0, 90.0, 0.08 },
    { DEMOSAIC, 1.6, 48.0, 0.2 }, { DEMOSAIC, 4.0, 88.0, 0.2 },
  };
  GRand *rand = g_rand_new_with_seed (11);
  double *clean = clean_image (w, h);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      double rms, est;
      GenPixels px = noisy_image (clean, w, h, cases[i].kind, cases[i].a, cases[i].b, rand, &rms);

      est = gen_estimate_noise (&px);
      if (g_test_verbose ())
        g_printerr ("kind %d, var %.1f x + %.0f: RMS %.2f, estimated %.2f\n", cases[i].kind,
                    cases[i].a, cases[i].b, rms, est);
      g_assert_cmpfloat (fabs (est / rms - 1.0), <, cases[i].tolerance);
      g_free (px.data);
    }
  g_free (clean);
  g_rand_free (rand);
}

/* Degenerate images: no noise, one cell, gray. */
static void
test_noise_estimate_edges (void)
{
  GenPixels flat = pixels_new (64, 48, 3), tiny = pixels_new (1, 1, 3), gray = pixels_new (64, 64, 1);
  GRand *rand = g_rand_new_with_seed (5);
  double est;

  for (int i = 0; i < 64 * 48 * 3; i++)
    flat.data[i] = 0.5f;
  g_assert_cmpfloat (gen_estimate_noise (&flat), ==, 0.0);
  g_assert_cmpfloat (gen_estimate_noise (&tiny), ==, 0.0);
  for (int i = 0; i < 64 * 64; i++)
    gray.data[i] = (float) (0.5 + 20.0 * gauss (rand) / 255.0);
  est = gen_estimate_noise (&gray);
  g_assert_cmpfloat (fabs (est - 20.0), <, 2.0);
  g_free (flat.data), g_free (tiny.data), g_free (gray.data);
  g_rand_free (rand);
}

/* The mosaic's phase is found for demosaiced noise at each of the four
 * places a red site can take, and not for white or signal-dependent noise,
 * gray images or images too small to tell. */
static void
test_bayer_detect (void)
{
  const int w = 128, h = 96;
  GRand *rand = g_rand_new_with_seed (21);
  double *clean = clean_image (w, h), rms;
  GenPixels gray = pixels_new (w, h, 1), tiny = pixels_new (6, 6, 3);
  int py, px;

  for (int level = 0; level < 2; level++)
    for (int q = 0; q < 4; q++)
      {
        GenPixels n = noisy_image_at (clean, w, h, DEMOSAIC, level ? 4.0 : 0.4, level ? 88.0 : 12.0,
                                      q >> 1, q & 1, rand, &rms);

        g_assert_true (gen_estimate_bayer_phase (&n, &py, &px));
        g_assert_cmpint (py, ==, q >> 1);
        g_assert_cmpint (px, ==, q & 1);
        g_free (n.data);
      }
  for (int kind = WHITE; kind <= SHOT; kind++)
    {
      GenPixels n = noisy_image (clean, w, h, kind, kind == SHOT ? 4.0 : 0.0, 88.0, rand, &rms);

      g_assert_false (gen_estimate_bayer_phase (&n, &py, &px));
      g_assert_cmpint (py, ==, 0);
      g_assert_cmpint (px, ==, 0);
      g_free (n.data);
    }
  for (int i = 0; i < w * h; i++)
    gray.data[i] = (float) (0.5 + 20.0 * gauss (rand) / 255.0);
  g_assert_false (gen_estimate_bayer_phase (&gray, &py, &px));
  g_assert_false (gen_estimate_bayer_phase (&tiny, &py, &px));
  g_free (clean), g_free (gray.data), g_free (tiny.data);
  g_rand_free (rand);
}

/* IN's rows Y0.. and columns X0.. as an image of W×H. */
static GenPixels
crop (const GenPixels *in, int y0, int x0, int w, int h)
{
  GenPixels c = pixels_new (w, h, in->channels);

  for (int y = 0; y < h; y++)
    memcpy (c.data + (gsize) y * w * in->channels,
            in->data + ((gsize) (y + y0) * in->width + x0) * in->channels,
            sizeof (float) * w * in->channels);
  return c;
}

/* A mirrored, then turned: its transpose (a new image). */
static GenPixels
transpose (const GenPixels *a)
{
  GenPixels m = mirror (a), t = turn (&m);

  g_free (m.data);
  return t;
}

/* Denoise (fast and sample, fast and best quality) of an image whose mosaic
 * has its red sites on odd rows and columns is, bit for bit, the denoise of
 * the image with one more row and column in front (reflected), whose red
 * sites are on even ones: the model sees the same pixels.  On a mosaic, best
 * quality is the mean of the image's run and its transpose's, the flips and
 * turns that keep the sites. */
static void
test_bayer_shift (Model *m, gconstpointer data)
{
  const int w = 48, h = 40;
  GRand *rand = g_rand_new_with_seed (23);
  double *clean = clean_image (w + 1, h + 1), rms, err = 0.0, gain = 0.0;
  GenPixels big = noisy_image_at (clean, w + 1, h + 1, DEMOSAIC, 4.0, 88.0, 0, 0, rand, &rms);
  GenJobOptions o = options (2);
  GError *error = NULL;
  int py, px, c = 3;

  (void) data;
  /* row 0 and column 0 as the reflection of rows and columns 1.. would give them */
  memcpy (big.data, big.data + (gsize) 2 * (w + 1) * c, sizeof (float) * (w + 1) * c);
  for (int y = 0; y < h + 1; y++)
    memcpy (big.data + (gsize) y * (w + 1) * c, big.data + ((gsize) y * (w + 1) + 2) * c,
            sizeof (float) * c);
  {
    GenPixels in = crop (&big, 1, 1, w, h);

    g_assert_true (gen_estimate_bayer_phase (&in, &py, &px));
    g_assert_true (py == 1 && px == 1);
    g_assert_true (gen_estimate_bayer_phase (&big, &py, &px));
    g_assert_true (py == 0 && px == 0);
    for (int k = 0; k < 4; k++)
      {
        GenDenoiseMode mode = k < 2 ? GEN_DENOISE_FAST : GEN_DENOISE_SAMPLE;
        GenDenoiseQuality q = k % 2 ? GEN_DENOISE_QUALITY_BEST : GEN_DENOISE_QUALITY_FAST;
        GenPixels a = pixels_new (w, h, c), b = pixels_new (w + 1, h + 1, c), bc;

        g_assert_true (gen_job_denoise_quality (m->p, &o, &in, NULL, mode, q, 20.0, 1.0, &a, NULL,
                                                &error));
        g_assert_true (gen_job_denoise_quality (m->p, &o, &big, NULL, mode, q, 20.0, 1.0, &b, NULL,
                                                &error));
        g_assert_no_error (error);
        bc = crop (&b, 1, 1, w, h);
        g_assert_true (memcmp (a.data, bc.data, sizeof (float) * w * h * c) == 0);
        g_free (a.data), g_free (b.data), g_free (bc.data);
      }
    g_free (in.data);
  }
  for (int k = 0; k < 2; k++)
    {
      GenDenoiseMode mode = k ? GEN_DENOISE_SAMPLE : GEN_DENOISE_FAST;
      GenPixels best = pixels_new (w + 1, h + 1, c), one = pixels_new (w + 1, h + 1, c);
      GenPixels t = transpose (&big), td = pixels_new (h + 1, w + 1, c), back;

      err = gain = 0.0;
      g_assert_true (gen_job_denoise_quality (m->p, &o, &big, NULL, mode, GEN_DENOISE_QUALITY_BEST,
                                              20.0, 1.0, &best, NULL, &error));
      g_assert_true (gen_job_denoise_quality (m->p, &o, &big, NULL, mode, GEN_DENOISE_QUALITY_FAST,
                                              20.0, 1.0, &one, NULL, &error));
      g_assert_true (gen_job_denoise_quality (m->p, &o, &t, NULL, mode, GEN_DENOISE_QUALITY_FAST,
                                              20.0, 1.0, &td, NULL, &error));
      g_assert_no_error (error);
      back = transpose (&td);
      for (gsize i = 0; i < (gsize) (w + 1) * (h + 1) * c; i++)
        {
          err = MAX (err, fabs ((one.data[i] + back.data[i]) / 2.0 - best.data[i]));
          gain = MAX (gain, fabs (one.data[i] - best.data[i]));
        }
      if (g_test_verbose ())
        g_printerr ("mosaic, %s mode: best vs the mean of 2 runs %.2g; vs one run %.3f\n",
                    k ? "sample" : "fast", err, gain);
      g_assert_cmpfloat (err, <, 2e-6);
      g_assert_cmpfloat (gain, >, 1e-3);
      g_free (best.data), g_free (one.data), g_free (t.data), g_free (td.data),
        g_free (back.data);
    }
  g_free (clean), g_free (big.data);
  g_rand_free (rand);
}

/* Fast denoise with the patch filter on is the model's estimate, then
 * gen_denoise_wiener at the sigma used (given or estimated), then the
 * strength and mask blend; the filter is on by default, off in sample
 * mode; RGBA keeps its alpha. */
static void
test_patches (Model *m, gconstpointer data)
{
  const int w = 40, h = 33;
  GenJobOptions o = options (1), dflt;
  GenPixels in = pattern (w, h, 4), plain = pixels_new (w, h, 4), on = pixels_new (w, h, 4);
  GenPixels half = pixels_new (w, h, 4), samp = pixels_new (w, h, 4);
  GenPixels samp_on = pixels_new (w, h, 4);
  GenWiener wiener = GEN_WIENER_DEFAULT;
  GError *error = NULL;
  GRand *rand = g_rand_new_with_seed (5);
  double used = 0.0, used_on = 0.0, moved = 0.0;

  (void) data;
  /* white noise of σ 60 on the colour channels: the filter's kind of noise, strong
   * enough to stand out of the residual against this tiny random model's estimate */
  for (int i = 0; i < w * h * 4; i++)
    if (i % 4 != 3)
      in.data[i] = CLAMP (in.data[i] + (float) (60.0 * gauss (rand) / 255.0), 0.0f, 1.0f);
  g_rand_free (rand);
  gen_job_options_init (&dflt);
  g_assert_true (dflt.denoise_patches);
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_FAST, -1.0, 1.0, &plain, &used,
                                  &error));
  o.denoise_patches = TRUE;
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_FAST, -1.0, 1.0, &on, &used_on,
                                  &error));
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_FAST, -1.0, 0.5, &half, NULL,
                                  &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (used, ==, used_on);
  g_assert_cmpfloat (used, >, 0.0);
  for (int i = 0; i < w * h * 4; i++)
    moved = MAX (moved, fabs (on.data[i] - plain.data[i]));
  g_assert_cmpfloat (moved, >, 1e-3);   /* the filter ran */
  moved = 0.0;
  g_assert_true (gen_denoise_wiener (&in, &plain, used, &wiener, &error));
  g_assert_no_error (error);
  for (int i = 0; i < w * h * 4; i++)
    {
      g_assert_cmpfloat (fabs (plain.data[i] - on.data[i]), <, 1e-6);
      g_assert_cmpfloat (fabs (half.data[i] - (in.data[i] + 0.5f * (on.data[i] - in.data[i]))), <,
                         1e-6);
      if (i % 4 == 3)
        g_assert_true (on.data[i] == in.data[i]);
    }
  /* sample mode is left alone */
  o.denoise_patches = FALSE;
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_SAMPLE, 20.0, 1.0, &samp, NULL,
                                  &error));
  o.denoise_patches = TRUE;
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_SAMPLE, 20.0, 1.0, &samp_on,
                                  NULL, &error));
  g_assert_no_error (error);
  g_assert_true (memcmp (samp.data, samp_on.data, sizeof (float) * w * h * 4) == 0);
  /* and the filter did something */
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_FAST, 20.0, 1.0, &on, NULL,
                                  &error));
  o.denoise_patches = FALSE;
  g_assert_true (gen_job_denoise (m->p, &o, &in, NULL, GEN_DENOISE_FAST, 20.0, 1.0, &plain, NULL,
                                  &error));
  g_assert_no_error (error);
  for (int i = 0; i < w * h * 4; i++)
    moved = MAX (moved, fabs (on.data[i] - plain.data[i]));
  g_assert_cmpfloat (moved, >, 1e-3);
  g_free (in.data), g_free (plain.data), g_free (on.data), g_free (half.data);
  g_free (samp.data), g_free (samp_on.data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Model, NULL, model_setup, fn, model_teardown)
  ADD ("/denoise/ensemble/fast", test_ensemble_fast);
  ADD ("/denoise/ensemble/sample", test_ensemble_sample);
  ADD ("/denoise/ensemble/tiles", test_ensemble_tiles);
  ADD ("/denoise/patches", test_patches);
  ADD ("/denoise/bayer/shift", test_bayer_shift);
  g_test_add_func ("/denoise/bayer/detect", test_bayer_detect);
  g_test_add_func ("/denoise/quality-names", test_quality_names);
  g_test_add_func ("/denoise/noise-estimate/kinds", test_noise_estimate_kinds);
  g_test_add_func ("/denoise/noise-estimate/edges", test_noise_estimate_edges);
  return g_test_run ();
}
