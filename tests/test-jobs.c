/* test-jobs — the six jobs on small deterministic models: shapes, masks
 * respected exactly, seeds reproducible, tiles seamless, cancel honoured,
 * bad input refused without touching the outputs. */
#include "gen-error.h"
#include "gen-job.h"
#include "gen-ops.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

typedef struct
{
  char        *unet_dir, *unet4_dir, *vae_dir;
  GenPipeline *pixel;   /* RGB UNet, DDPM defaults */
  GenPipeline *latent;  /* 4-channel UNet + AutoencoderTiny */
  GenPipeline *vae;     /* the VAE alone */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  GError *error = NULL;
  Tensors *t;
  char *cfg;

  (void) data;
  t = tiny_unet_weights ();
  cfg = g_strdup_printf (tiny_unet_config, "");
  f->unet_dir = make_model (cfg, t);
  g_free (cfg);
  tensors_free (t);

  t = tiny_unet_weights_ch (4);
  cfg = g_strdup_printf (tiny_unet_config, ", \"sample_size\": 8");
  /* tiny_unet_config says 3 channels: replace them */
  {
    char **parts = g_strsplit (cfg, "\"in_channels\": 3, \"out_channels\": 3", 2);
    g_free (cfg);
    cfg = g_strjoinv ("\"in_channels\": 4, \"out_channels\": 4", parts);
    g_strfreev (parts);
  }
  f->unet4_dir = make_model (cfg, t);
  g_free (cfg);
  tensors_free (t);

  t = tiny_vae_weights ();
  f->vae_dir = make_model (tiny_vae_config, t);
  tensors_free (t);

  f->pixel = gen_pipeline_load (f->unet_dir, NULL, &error);
  g_assert_no_error (error);
  f->latent = gen_pipeline_load (f->unet4_dir, f->vae_dir, &error);
  g_assert_no_error (error);
  f->vae = gen_pipeline_load (f->vae_dir, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  gen_pipeline_free (f->pixel);
  gen_pipeline_free (f->latent);
  gen_pipeline_free (f->vae);
  tmp_dir_remove (f->unet_dir);
  tmp_dir_remove (f->unet4_dir);
  tmp_dir_remove (f->vae_dir);
}

/* A test image: smooth colour pattern, optional alpha. */
static GenPixels
image_new (int w, int h, int channels)
{
  GenPixels px = { g_new (float, (gsize) w * h * channels), w, h, channels };

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      for (int c = 0; c < channels; c++)
        px.data[((gsize) y * w + x) * channels + c]
          = (channels == 2 || channels == 4) && c == channels - 1
              ? (float) ((x + y) % 7) / 6.0f
              : 0.5f + 0.4f * (float) sin (0.3 * x + 0.2 * y + c);
  return px;
}

static GenPixels
image_like (const GenPixels *a, float fill)
{
  GenPixels px = *a;
  gsize n = (gsize) a->width * a->height * a->channels;

  px.data = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    px.data[i] = fill;
  return px;
}

static gboolean
same_bits (const GenPixels *a, const GenPixels *b)
{
  return memcmp (a->data, b->data, sizeof (float) * a->width * a->height * a->channels) == 0;
}

static GenJobOptions
options (int steps, guint64 seed)
{
  GenJobOptions o;

  gen_job_options_init (&o);
  o.threads = 1;
  o.steps = steps;
  o.seed = seed;
  return o;
}

/* ---- generate ------------------------------------------------------------- */

static void
test_generate (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (4, 7);
  GError *error = NULL;
  GenPixels a[2], b[2];

  (void) data;
  for (int k = 0; k < 2; k++)
    {
      a[k] = (GenPixels) { g_new (float, 24 * 20 * 3), 24, 20, 3 };
      b[k] = (GenPixels) { g_new (float, 24 * 20 * 3), 24, 20, 3 };
    }
  g_assert_true (gen_job_generate (f->pixel, &o, 24, 20, 2, a, &error));
  g_assert_no_error (error);
  g_assert_true (gen_job_generate (f->pixel, &o, 24, 20, 2, b, &error));
  /* same seed, same images, bit for bit; consecutive seeds differ */
  g_assert_true (same_bits (&a[0], &b[0]) && same_bits (&a[1], &b[1]));
  g_assert_false (same_bits (&a[0], &a[1]));
  /* image 1 of seed 7 is image 0 of seed 8 */
  o.seed = 8;
  g_assert_true (gen_job_generate (f->pixel, &o, 24, 20, 1, b, &error));
  g_assert_true (same_bits (&a[1], &b[0]));
  for (int i = 0; i < 24 * 20 * 3; i++)
    g_assert_true (a[0].data[i] >= 0.0f && a[0].data[i] <= 1.0f);

  /* latent: native size = sample_size 8 × VAE factor 2 */
  g_assert_cmpint (gen_pipeline_native_size (f->latent), ==, 16);
  {
    GenPixels l = { g_new (float, 16 * 16 * 3), 16, 16, 3 };
    g_assert_true (gen_job_generate (f->latent, &o, 0, 0, 1, &l, &error));
    g_assert_no_error (error);
    /* an odd size is not a multiple of the VAE's factor */
    g_assert_false (gen_job_generate (f->latent, &o, 15, 16, 1, &l, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
    g_free (l.data);
  }
  for (int k = 0; k < 2; k++)
    g_free (a[k].data), g_free (b[k].data);
}

/* ---- denoise ---------------------------------------------------------------- */

static void
test_denoise_mask (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (1, 1);
  GenPixels in = image_new (40, 30, 4), out = image_like (&in, -1.0f);
  float *mask = g_new (float, 40 * 30);
  GError *error = NULL;
  double used = 0;

  (void) data;
  for (int y = 0; y < 30; y++)
    for (int x = 0; x < 40; x++)
      mask[y * 40 + x] = x < 15 ? 0.0f : x < 25 ? (float) (x - 14) / 11.0f : 1.0f;
  g_assert_true (gen_job_denoise (f->pixel, &o, &in, mask, GEN_DENOISE_FAST, 20.0, 1.0, &out,
                                  &used, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (used, ==, 20.0);
  for (int y = 0; y < 30; y++)
    for (int x = 0; x < 40; x++)
      {
        const float *a = in.data + (y * 40 + x) * 4, *b = out.data + (y * 40 + x) * 4;

        g_assert_true (a[3] == b[3]); /* alpha carried through */
        if (x < 15)
          g_assert_true (memcmp (a, b, sizeof (float) * 4) == 0);
        else if (x >= 25)
          g_assert_true (a[0] != b[0] || a[1] != b[1] || a[2] != b[2]);
      }
  /* strength 0 changes nothing */
  g_assert_true (gen_job_denoise (f->pixel, &o, &in, NULL, GEN_DENOISE_SAMPLE, 20.0, 0.0, &out,
                                  NULL, &error));
  g_assert_true (same_bits (&in, &out));
  g_free (mask);
  g_free (in.data);
  g_free (out.data);
}

static void
test_noise_estimate (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  const double sigmas[] = { 5.0, 15.0, 25.0, 50.0 };

  for (guint s = 0; s < G_N_ELEMENTS (sigmas); s++)
    {
      GenPixels px = { g_new (float, 256 * 256 * 3), 256, 256, 3 };
      double est;

      /* a smooth gradient plus Gaussian noise (Box–Muller from GRand) */
      for (int i = 0; i < 256 * 256 * 3; i++)
        {
          double u1 = g_rand_double (rand), u2 = g_rand_double (rand);
          double n = sqrt (-2.0 * log (1.0 - u1)) * cos (2 * G_PI * u2);
          px.data[i] = (float) (0.25 + 0.5 * ((i / 3) % 256) / 255.0 + n * sigmas[s] / 255.0);
        }
      est = gen_estimate_noise (&px);
      if (g_test_verbose ())
        g_printerr ("sigma %.1f estimated %.2f\n", sigmas[s], est);
      g_assert_cmpfloat (fabs (est - sigmas[s]), <, 0.08 * sigmas[s] + 0.3);
      g_free (px.data);
    }
  g_rand_free (rand);
}

/* ---- tiles -------------------------------------------------------------------- */

/* The largest step between neighbours inside a margin, in 8-bit levels. */
static double
max_step (const GenPixels *px, int margin)
{
  double m = 0.0;

  for (int y = margin; y < px->height - margin; y++)
    for (int x = margin; x < px->width - margin - 1; x++)
      for (int c = 0; c < 3; c++)
        {
          double a = px->data[((gsize) y * px->width + x) * 3 + c];
          double b = px->data[((gsize) y * px->width + x + 1) * 3 + c];
          double d = px->data[((gsize) (y + 1) * px->width + x) * 3 + c];
          m = MAX (m, MAX (fabs (a - b), fabs (a - d)) * 255.0);
        }
  return m;
}

static void
test_tiles_seamless (void)
{
  GError *error = NULL;
  const int w = 160, h = 144;
  /* strong weights: the tile edges' zero padding changes the output a lot,
   * so only the blending can hide them */
  Tensors *t = tiny_unet_weights_scaled (3, 0.6f);
  char *cfg = g_strdup_printf (tiny_unet_config, "");
  char *dir = make_model (cfg, t);
  GenPipeline *p = gen_pipeline_load (dir, NULL, &error);

  g_assert_no_error (error);
  for (int kind = 0; kind < 2; kind++)
    {
      GenPixels in = { g_new (float, w * h * 3), w, h, 3 };
      GenPixels whole = image_like (&in, 0), tiled = image_like (&in, 0);
      GenJobOptions o = options (1, 1);
      double s_whole, s_tiled, s_in, diff = 0.0;

      for (int i = 0; i < w * h * 3; i++)
        in.data[i] = kind == 0 ? 0.6f : 0.2f + 0.6f * (float) ((i / 3) % w) / (float) w;
      g_assert_true (gen_job_denoise (p, &o, &in, NULL, GEN_DENOISE_FAST, 25.0, 1.0, &whole,
                                      NULL, &error));
      o.tile = 48;
      o.tile_overlap = 24;
      g_assert_true (gen_job_denoise (p, &o, &in, NULL, GEN_DENOISE_FAST, 25.0, 1.0, &tiled,
                                      NULL, &error));
      g_assert_no_error (error);
      for (int i = 0; i < w * h * 3; i++)
        diff = MAX (diff, fabs (whole.data[i] - in.data[i]) * 255.0);
      s_in = max_step (&in, 12);
      s_whole = max_step (&whole, 12);
      s_tiled = max_step (&tiled, 12);
      if (g_test_verbose ())
        g_printerr ("%s: the model changes pixels by up to %.1f levels; neighbour steps: input "
                    "%.3f, whole %.3f, tiled %.3f levels\n", kind ? "gradient" : "flat", diff, s_in,
                    s_whole, s_tiled);
      /* the model does change the image (so tiles could show) … */
      g_assert_cmpfloat (diff, >, 5.0);
      /* … yet no tile boundary adds a step of a visible size (one 8-bit level) */
      g_assert_cmpfloat (s_tiled, <=, s_whole + 1.0);
      g_free (in.data);
      g_free (whole.data);
      g_free (tiled.data);
    }
  gen_pipeline_free (p);
  tmp_dir_remove (dir);
  g_free (cfg);
  tensors_free (t);
}

/* Tiles run in parallel on the workers; the result must not depend on how
 * many (tiles commit in order, each worker has its own arena).  A shared
 * scratch buffer or a race shows up here as differing bits.  The same for
 * one whole-image tile, whose ops split between the threads instead
 * (Winograd bands, GEMM slices, norm groups). */
static void
test_tiles_threads (Fixture *f, gconstpointer data)
{
  GError *error = NULL;

  (void) data;
  for (int whole = 0; whole < 2; whole++)
    for (int channels = 1; channels <= 4; channels++)
      for (int job = 0; job < 4; job++)
        {
          GenPixels in = image_new (150, 130, channels);
          GenPixels out[4];
          GenJobOptions o = options (2, 7);

          o.tile = whole ? 256 : 48;
          o.tile_overlap = 16;
          /* 0: one thread; 1: three; 2: three, the result built in the output
           * (scratch_outputs); 3: the same with the output sharing the input's
           * memory, where the job must fall back to its own buffer */
          for (int k = 0; k < 4; k++)
            {
              gboolean ok;
              const GenPixels *src = k == 3 ? &out[3] : &in;

              out[k] = image_like (&in, -1.0f);
              if (k == 3)
                memcpy (out[3].data, in.data, sizeof (float) * in.width * in.height * channels);
              o.scratch_outputs = k >= 2;
              o.threads = k == 0 ? 1 : 3;
              if (job == 0)
                ok = gen_job_denoise (f->pixel, &o, src, NULL, GEN_DENOISE_FAST, 30.0, 1.0,
                                      &out[k], NULL, &error);
              else if (job == 1)
                ok = gen_job_denoise (f->pixel, &o, src, NULL, GEN_DENOISE_SAMPLE, 30.0, 1.0,
                                      &out[k], NULL, &error);
              else if (job == 2)
                ok = gen_job_vary (f->latent, &o, src, 0.6, &out[k], &error);
              else
                ok = gen_job_vae (f->vae, &o, src, FALSE, &out[k], &error);
              g_assert_no_error (error);
              g_assert_true (ok);
            }
          if (g_test_verbose ())
            g_printerr ("%s, channels %d job %d: %s\n", whole ? "one tile" : "tiles", channels,
                        job, same_bits (&out[0], &out[1]) ? "same bits" : "DIFFERENT");
          for (int k = 1; k < 4; k++)
            g_assert_true (same_bits (&out[0], &out[k]));
          /* and the job did something */
          g_assert_false (same_bits (&in, &out[0]));
          g_free (in.data);
          for (int k = 0; k < 4; k++)
            g_free (out[k].data);
        }
}

/* A run's threads and arenas are its own: the count before the job comes
 * back after it, and each job reports only the workers it ran. */
static void
test_run_state (Fixture *f, gconstpointer data)
{
  GenPixels in = image_new (150, 130, 3), out = image_like (&in, 0.0f);
  GenJobOptions o = options (1, 7);
  GenJobStats stats = { 0, 0 };
  GError *error = NULL;

  (void) data;
  o.tile = 48;
  o.tile_overlap = 16;
  o.stats = &stats;
  o.threads = 3;
  g_assert_true (gen_job_denoise (f->pixel, &o, &in, NULL, GEN_DENOISE_FAST, 30.0, 1.0, &out,
                                  NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (gen_get_threads (), ==, 1);
  g_assert_cmpint (stats.workers, ==, 3);
  g_assert_cmpuint (stats.activation_bytes, >, 0);
  o.threads = 1;
  g_assert_true (gen_job_denoise (f->pixel, &o, &in, NULL, GEN_DENOISE_FAST, 30.0, 1.0, &out,
                                  NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.workers, ==, 1);
  g_free (in.data);
  g_free (out.data);
}

static void
test_pixels_alloc (void)
{
  GenPixels px;
  GError *error = NULL;

  g_assert_true (gen_pixels_init (&px, 3, 5, 2, &error));
  g_assert_no_error (error);
  g_assert_cmpint (px.width, ==, 3);
  g_assert_cmpint (px.height, ==, 5);
  g_assert_cmpint (px.channels, ==, 2);
  for (int i = 0; i < 3 * 5 * 2; i++)
    g_assert_true (px.data[i] == 0.0f);
  gen_pixels_clear (&px);
  g_assert_null (px.data);
  gen_pixels_clear (&px);
  g_assert_false (gen_pixels_init (&px, 0, 5, 3, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (px.data);
  g_assert_false (gen_pixels_init (&px, 4, 4, 5, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (gen_pixels_init (&px, G_MAXINT, G_MAXINT, 4, &error));
  g_assert_true (error != NULL);
  g_clear_error (&error);
}

/* ---- inpaint -------------------------------------------------------------------- */

static void
check_inpaint (GenPipeline *p, int steps)
{
  GenJobOptions o = options (steps, 5);
  GenPixels in = image_new (48, 40, 3), out = image_like (&in, -1.0f);
  float *mask = g_new0 (float, 48 * 40);
  GError *error = NULL;
  int changed = 0;

  for (int y = 12; y < 20; y++)
    for (int x = 20; x < 30; x++)
      mask[y * 48 + x] = 1.0f;
  mask[11 * 48 + 25] = 0.5f; /* a soft edge */
  g_assert_true (gen_job_inpaint (p, &o, &in, mask, 2, 2, &out, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 48 * 40; i++)
    {
      if (mask[i] == 0.0f)
        g_assert_true (memcmp (in.data + i * 3, out.data + i * 3, sizeof (float) * 3) == 0);
      else
        changed += memcmp (in.data + i * 3, out.data + i * 3, sizeof (float) * 3) != 0;
    }
  g_assert_cmpint (changed, >, 70);

  /* an empty mask: a clear error, the output untouched */
  memset (mask, 0, sizeof (float) * 48 * 40);
  for (int i = 0; i < 48 * 40 * 3; i++)
    out.data[i] = -1.0f;
  g_assert_false (gen_job_inpaint (p, &o, &in, mask, 2, 2, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);
  g_assert_cmpfloat (out.data[0], ==, -1.0f);
  g_free (mask);
  g_free (in.data);
  g_free (out.data);
}

/* Outpainting: inside the mask a fully transparent pixel is unknown, filled
 * whole at any mask value, and the fill is opaque; a transparent pixel
 * outside the mask stays as it was. */
static void
check_inpaint_transparent (GenPipeline *p, int steps)
{
  GenJobOptions o = options (steps, 9);
  GenPixels in = image_new (48, 40, 4), a = image_like (&in, -1.0f), b = image_like (&in, -1.0f);
  float *soft = g_new0 (float, 48 * 40), *whole = g_new0 (float, 48 * 40);
  GError *error = NULL;

  for (int y = 0; y < 40; y++)
    for (int x = 0; x < 48; x++)
      {
        float *px = in.data + (y * 48 + x) * 4;

        px[3] = x < 8 || x >= 46 ? 0.0f : 1.0f;   /* transparent at both sides */
        if (px[3] == 0.0f)
          px[0] = px[1] = px[2] = 0.0f;
        if (x < 12)                              /* a soft mask over the left one */
          soft[y * 48 + x] = 0.5f, whole[y * 48 + x] = px[3] == 0.0f ? 1.0f : 0.5f;
      }
  g_assert_true (gen_job_inpaint (p, &o, &in, soft, 2, 2, &a, &error));
  g_assert_no_error (error);
  g_assert_true (gen_job_inpaint (p, &o, &in, whole, 2, 2, &b, &error));
  g_assert_no_error (error);
  /* the transparent pixels took the whole fill: as with a mask of 1 there */
  g_assert_true (same_bits (&a, &b));
  for (int y = 0; y < 40; y++)
    for (int x = 0; x < 48; x++)
      {
        const float *i = in.data + (y * 48 + x) * 4, *r = a.data + (y * 48 + x) * 4;

        if (x < 8)
          {
            g_assert_cmpfloat (r[3], ==, 1.0f);
            g_assert_true (r[0] != 0.0f || r[1] != 0.0f || r[2] != 0.0f);
          }
        else if (x < 12)
          g_assert_cmpfloat (r[3], ==, 1.0f);
        else
          g_assert_true (memcmp (i, r, sizeof (float) * 4) == 0);
      }
  g_free (soft);
  g_free (whole);
  g_free (in.data);
  g_free (a.data);
  g_free (b.data);
}

static void
test_inpaint (Fixture *f, gconstpointer data)
{
  (void) data;
  check_inpaint (f->pixel, 6);
  check_inpaint (f->latent, 4);
  check_inpaint_transparent (f->pixel, 6);
  check_inpaint_transparent (f->latent, 4);
}

/* ---- vary, vae, interpolate -------------------------------------------------------- */

static void
test_vary (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (5, 11);
  GenPixels in = image_new (32, 24, 3), out = image_like (&in, -1.0f), out2 = image_like (&in, 0);
  GError *error = NULL;

  (void) data;
  g_assert_true (gen_job_vary (f->pixel, &o, &in, 0.0, &out, &error));
  g_assert_true (same_bits (&in, &out));
  g_assert_true (gen_job_vary (f->pixel, &o, &in, 0.6, &out, &error));
  g_assert_no_error (error);
  g_assert_false (same_bits (&in, &out));
  g_assert_true (gen_job_vary (f->pixel, &o, &in, 0.6, &out2, &error));
  g_assert_true (same_bits (&out, &out2)); /* reproducible */
  g_assert_true (gen_job_vary (f->latent, &o, &in, 0.6, &out, &error));
  g_assert_no_error (error);
  g_assert_false (gen_job_vary (f->pixel, &o, &in, 1.5, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_free (in.data);
  g_free (out.data);
  g_free (out2.data);
}

static void
test_vae (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (1, 1);
  GenPixels in = image_new (31, 21, 2), out = image_like (&in, -1.0f);
  GError *error = NULL;

  (void) data;
  g_assert_true (gen_job_vae (f->vae, &o, &in, FALSE, &out, &error));
  g_assert_no_error (error);
  for (int i = 0; i < 31 * 21; i++)
    {
      g_assert_true (out.data[i * 2 + 1] == in.data[i * 2 + 1]); /* alpha */
      g_assert_true (out.data[i * 2] >= 0.0f && out.data[i * 2] <= 1.0f);
    }
  /* a tiny VAE has no posterior to sample */
  g_assert_false (gen_job_vae (f->vae, &o, &in, TRUE, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  /* and a pixel UNet alone has no VAE */
  g_assert_false (gen_job_vae (f->pixel, &o, &in, FALSE, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_free (in.data);
  g_free (out.data);
}

static void
test_interpolate (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (3, 1);
  GenPixels a = image_new (24, 16, 3), b = image_like (&a, 0.3f), out[3];
  GenPipeline *ps[3] = { f->pixel, f->latent, f->vae };
  GError *error = NULL;

  (void) data;
  for (int k = 0; k < 3; k++)
    out[k] = image_like (&a, -1.0f);
  for (int i = 0; i < 3; i++)
    {
      g_assert_true (gen_job_interpolate (ps[i], &o, &a, &b, 3, out, &error));
      g_assert_no_error (error);
      g_assert_false (same_bits (&out[0], &out[2]));
      g_assert_true (out[1].data[5] >= 0.0f && out[1].data[5] <= 1.0f);
    }
  for (int k = 0; k < 3; k++)
    g_free (out[k].data);
  g_free (a.data);
  g_free (b.data);
}

/* ---- progress and cancel ----------------------------------------------------------- */

typedef struct
{
  int   calls, last, total;
  gint  cancel;
  int   cancel_at;
} Watch;

static void
watch_progress (int step, int total, double elapsed, gpointer data)
{
  Watch *w = data;

  g_assert_cmpint (step, >, w->last);
  g_assert_cmpfloat (elapsed, >=, 0.0);
  w->calls++;
  w->last = step;
  w->total = total;
  if (w->cancel_at && step >= w->cancel_at)
    g_atomic_int_set (&w->cancel, 1);
}

static void
test_progress_cancel (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (5, 2);
  GenPixels out = { g_new (float, 16 * 16 * 3), 16, 16, 3 };
  Watch w = { 0, 0, 0, 0, 0 };
  GError *error = NULL;

  (void) data;
  o.progress = watch_progress;
  o.progress_data = &w;
  o.cancel = &w.cancel;
  g_assert_true (gen_job_generate (f->pixel, &o, 16, 16, 1, &out, &error));
  g_assert_cmpint (w.calls, ==, 5);
  g_assert_cmpint (w.last, ==, w.total);

  for (int i = 0; i < 16 * 16 * 3; i++)
    out.data[i] = -1.0f;
  w = (Watch) { 0, 0, 0, 0, 2 };
  g_assert_false (gen_job_generate (f->pixel, &o, 16, 16, 1, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpint (w.calls, ==, 2);
  for (int i = 0; i < 16 * 16 * 3; i++)
    g_assert_cmpfloat (out.data[i], ==, -1.0f);
  g_free (out.data);
}

/* ---- bad input ------------------------------------------------------------------------ */

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  GenJobOptions o = options (3, 1);
  GenPixels one = image_new (1, 1, 3), out1 = image_like (&one, -1.0f);
  GenPixels in = image_new (16, 16, 3), out = image_like (&in, -1.0f);
  GError *error = NULL;

  (void) data;
  g_assert_false (gen_job_denoise (f->pixel, &o, &one, NULL, GEN_DENOISE_FAST, 10, 1, &out1,
                                   NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  o.steps = 0;
  g_assert_false (gen_job_vary (f->pixel, &o, &in, 0.5, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  o.steps = 1000000;
  g_assert_false (gen_job_generate (f->pixel, &o, 16, 16, 1, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  o.steps = 3;
  g_assert_false (gen_job_generate (f->vae, &o, 16, 16, 1, &out, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  for (int i = 0; i < 16 * 16 * 3; i++)
    g_assert_cmpfloat (out.data[i], ==, -1.0f);

  /* a UNet whose channels match no VAE latent */
  {
    Fixture *ff = f;
    GenPipeline *bad = gen_pipeline_load (ff->unet4_dir, NULL, &error);
    g_assert_null (bad);
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "VAE folder"));
    g_clear_error (&error);
  }
  g_free (one.data);
  g_free (out1.data);
  g_free (in.data);
  g_free (out.data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gen_set_threads (1);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/jobs/generate", test_generate);
  ADD ("/jobs/denoise/mask", test_denoise_mask);
  g_test_add_func ("/jobs/denoise/noise-estimate", test_noise_estimate);
  g_test_add_func ("/jobs/tiles/seamless", test_tiles_seamless);
  ADD ("/jobs/tiles/threads", test_tiles_threads);
  ADD ("/jobs/run-state", test_run_state);
  g_test_add_func ("/jobs/pixels-alloc", test_pixels_alloc);
  ADD ("/jobs/inpaint", test_inpaint);
  ADD ("/jobs/vary", test_vary);
  ADD ("/jobs/vae", test_vae);
  ADD ("/jobs/interpolate", test_interpolate);
  ADD ("/jobs/progress-cancel", test_progress_cancel);
  ADD ("/jobs/bad-input", test_bad_input);
#undef ADD
  return g_test_run ();
}
