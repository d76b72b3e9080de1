/* test-inpaint — inpaint's refine method on a small deterministic pixel
 * model: pixels outside the mask bit-exact, soft masks blended per pixel,
 * seeds reproducible; and its harmonic fill against a linear ramp, which is
 * harmonic, so the fill must give it back. */
#include "gen-error.h"
#include "gen-inpaint-fill.h"
#include "gen-job.h"
#include "gen-ops.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

#define W 40
#define H 36

static GenPixels
scene (void)
{
  GenPixels px = { g_new (float, W * H * 3), W, H, 3 };

  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++)
        px.data[(y * W + x) * 3 + c] = 0.5f + 0.35f * (float) sin (0.25 * x - 0.15 * y + c);
  return px;
}

static gboolean
run_inpaint (GenPipeline *p, guint64 seed, const GenPixels *in, const float *mask, GenPixels *out)
{
  GenJobOptions o;
  GError *error = NULL;
  gboolean ok;

  gen_job_options_init (&o);
  g_assert_cmpint (o.inpaint, ==, GEN_INPAINT_REFINE);
  o.threads = 1;
  o.steps = 3;
  o.seed = seed;
  ok = gen_job_inpaint (p, &o, in, mask, 10, 10, out, &error);
  g_assert_no_error (error);
  return ok;
}

static void
test_refine (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = g_strdup_printf (tiny_unet_config, ""), *dir = make_model (cfg, t);
  GError *error = NULL;
  GenPipeline *p = gen_pipeline_load (dir, NULL, &error);
  GenPixels in = scene (), hard_out = scene (), soft_out = scene (), again = scene ();
  float *hard = g_new0 (float, W * H), *soft = g_new0 (float, W * H);
  int changed = 0;

  g_assert_no_error (error);
  /* a hard square, a feathered ring around it (0.25 .. 0.75) and one lone
   * soft pixel */
  for (int y = 10; y < 26; y++)
    for (int x = 12; x < 30; x++)
      {
        gboolean core = y >= 12 && y < 24 && x >= 14 && x < 28;
        soft[y * W + x] = core ? 1.0f : 0.25f + 0.5f * (float) ((x + y) % 3) / 2.0f;
      }
  soft[3 * W + 5] = 0.4f;
  for (int i = 0; i < W * H; i++)
    hard[i] = soft[i] > 0.0f ? 1.0f : 0.0f;

  g_assert_true (run_inpaint (p, 9, &in, hard, &hard_out));
  g_assert_true (run_inpaint (p, 9, &in, soft, &soft_out));
  for (int i = 0; i < W * H; i++)
    for (int c = 0; c < 3; c++)
      {
        float a = in.data[i * 3 + c], g = hard_out.data[i * 3 + c], s = soft_out.data[i * 3 + c];

        if (soft[i] == 0.0f)
          {
            /* outside the mask: the input, bit for bit, in both runs */
            g_assert_true (memcmp (&a, &g, sizeof a) == 0);
            g_assert_true (memcmp (&a, &s, sizeof a) == 0);
          }
        else
          {
            /* inside: mask·fill + (1 − mask)·input, the fill the same as the
             * hard mask's (refine fills the selection's whole support) */
            g_assert_cmpfloat (fabsf (s - (a + soft[i] * (g - a))), <=, 1e-6f);
            g_assert_true (g >= 0.0f && g <= 1.0f);
            changed += fabsf (g - a) > 1e-4f;
          }
      }
  g_assert_cmpint (changed, >, 3 * 16 * 18 / 2);

  /* the same seed again: the same bits */
  g_assert_true (run_inpaint (p, 9, &in, soft, &again));
  g_assert_true (memcmp (again.data, soft_out.data, sizeof (float) * W * H * 3) == 0);

  gen_pipeline_free (p);
  tmp_dir_remove (dir);
  g_free (cfg);
  tensors_free (t);
  g_free (hard);
  g_free (soft);
  g_free (in.data);
  g_free (hard_out.data);
  g_free (soft_out.data);
  g_free (again.data);
}

/* u = a + b·x + c·y has Δu = 0 exactly (also the 5-point discrete Δ), so
 * the fill of any hole away from the image's edges must reproduce it. */
static void
test_harmonic_ramp (void)
{
  const int w = 61, h = 47, ch = 4;  /* RGBA: alpha must not be touched */
  GenPixels img = { g_new (float, w * h * ch), w, h, ch };
  guint8 *unknown = g_new0 (guint8, w * h);
  GError *error = NULL;
  double worst = 0.0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        /* a 40×30 rectangle, a disc and a one-pixel line */
        gboolean hole = (x >= 5 && x < 45 && y >= 4 && y < 34)
                        || (x - 50) * (x - 50) + (y - 30) * (y - 30) < 36
                        || (y == 40 && x > 10 && x < 55);
        unknown[y * w + x] = hole;
        for (int c = 0; c < 3; c++)
          img.data[(y * w + x) * ch + c] = hole ? 0.9f * (c == 1)
                                                : 0.1f + 0.01f * (c + 1) * x + 0.006f * y * (c == 2 ? -1 : 1) + 0.3f * (c == 2);
        img.data[(y * w + x) * ch + 3] = hole ? 0.25f : 1.0f;
      }
  g_assert_true (gen_inpaint_harmonic (&img, 3, unknown, &error));
  g_assert_no_error (error);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        const float *px = img.data + (y * w + x) * ch;

        for (int c = 0; c < 3; c++)
          {
            double want = 0.1 + 0.01 * (c + 1) * x + 0.006 * y * (c == 2 ? -1 : 1) + 0.3 * (c == 2);
            worst = MAX (worst, fabs (px[c] - want));
          }
        g_assert_cmpfloat (px[3], ==, unknown[y * w + x] ? 0.25f : 1.0f);
      }
  g_test_message ("harmonic fill of a ramp: max error %.2g", worst);
  g_assert_cmpfloat (worst, <, 2e-4);

  /* nothing known at all: mid-gray, no error */
  memset (unknown, 1, w * h);
  g_assert_true (gen_inpaint_harmonic (&img, 3, unknown, &error));
  g_assert_cmpfloat (img.data[5 * ch + 1], ==, 0.5f);
  g_free (img.data);
  g_free (unknown);
}

/* A straight, sharp edge crossing a square hole: the harmonic fill blurs it
 * into a ramp; the edge-guided diffusion (the defaults the inpaint job
 * uses) must carry it across, much closer to the true image. */
static void
test_edge_guided_line (void)
{
  const int w = 96, h = 80, ch = 3;
  GenPixels img = { g_new (float, w * h * ch), w, h, ch };
  float *truth = g_new (float, w * h * ch);
  guint8 *unknown = g_new0 (guint8, w * h);
  const GenEdgeGuided eg = GEN_EDGE_GUIDED_DEFAULT;
  GError *error = NULL;
  double err_h = 0.0, err_e = 0.0;

  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        /* dark below the line 0.5x − y + 20 = 0, light above; a 32×32 hole */
        float side = tanhf (0.5f * x - y + 20.0f) > 0.0f ? 1.0f : 0.0f;

        unknown[y * w + x] = x >= 32 && x < 64 && y >= 24 && y < 56;
        for (int c = 0; c < ch; c++)
          truth[(y * w + x) * ch + c] = img.data[(y * w + x) * ch + c]
            = 0.2f + 0.6f * side - 0.05f * c;
      }
  g_assert_true (gen_inpaint_harmonic (&img, ch, unknown, &error));
  for (int i = 0; i < w * h * ch; i++)
    err_h += unknown[i / ch] ? (img.data[i] - truth[i]) * (img.data[i] - truth[i]) : 0.0;
  g_assert_true (gen_inpaint_edge_guided (&img, ch, unknown, &eg, &error));
  g_assert_no_error (error);
  for (int i = 0; i < w * h * ch; i++)
    {
      err_e += unknown[i / ch] ? (img.data[i] - truth[i]) * (img.data[i] - truth[i]) : 0.0;
      if (!unknown[i / ch])
        g_assert_cmpfloat (img.data[i], ==, truth[i]);
    }
  g_test_message ("line across a hole: squared error harmonic %.2f, edge-guided %.2f", err_h, err_e);
  g_assert_cmpfloat (err_e, <, 0.5 * err_h);
  g_free (img.data);
  g_free (truth);
  g_free (unknown);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gen_set_threads (1);
  g_test_add_func ("/inpaint/refine", test_refine);
  g_test_add_func ("/inpaint/harmonic-ramp", test_harmonic_ramp);
  g_test_add_func ("/inpaint/edge-guided-line", test_edge_guided_line);
  return g_test_run ();
}
