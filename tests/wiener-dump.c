/* wiener-dump — gen_denoise_wiener on raw images, for tests/wiener_parity.py
 * to hold against numpy's computation of the same formulas.
 *
 *   wiener-dump W H C SIGMA NOISY.f32 EST.f32 OUT.f32 SEARCH STEP GROUP SPECTRUM [THREADS]
 *
 * NOISY, EST: W·H·C little-endian float32, interleaved, 0..1; OUT: the
 * filtered EST, same layout (alpha as EST's); SPECTRUM 1 estimates the
 * noise's spectrum, 0 takes it white. */
#include "gen-denoise-wiener.h"
#include "gen-ops.h"
#include "test-util.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  guint64 w, h, c, search, step, group, spectrum, threads = 1;
  GenWiener wiener = GEN_WIENER_DEFAULT;
  GenPixels noisy, est;
  GError *error = NULL;
  double sigma = 0.0;
  FILE *f;
  int status = 0;

  if ((argc != 12 && argc != 13) || !g_ascii_string_to_unsigned (argv[1], 10, 1, 4096, &w, NULL)
      || !g_ascii_string_to_unsigned (argv[2], 10, 1, 4096, &h, NULL)
      || !g_ascii_string_to_unsigned (argv[3], 10, 1, 4, &c, NULL)
      || !((sigma = g_ascii_strtod (argv[4], NULL)) > 0.0)
      || !g_ascii_string_to_unsigned (argv[8], 10, 0, 64, &search, NULL)
      || !g_ascii_string_to_unsigned (argv[9], 10, 1, 8, &step, NULL)
      || !g_ascii_string_to_unsigned (argv[10], 10, 1, 32, &group, NULL)
      || !g_ascii_string_to_unsigned (argv[11], 10, 0, 1, &spectrum, NULL)
      || (argc == 13 && !g_ascii_string_to_unsigned (argv[12], 10, 1, 64, &threads, NULL)))
    {
      fprintf (stderr, "usage: wiener-dump W H C SIGMA NOISY.f32 EST.f32 OUT.f32 SEARCH STEP GROUP "
                       "SPECTRUM [THREADS]\n");
      return 2;
    }
  gen_set_threads ((int) threads);
  wiener.search = (int) search, wiener.step = (int) step, wiener.max_group = (int) group;
  wiener.spectrum = spectrum != 0;
  noisy = (GenPixels) { g_new (float, w * h * c), (int) w, (int) h, (int) c };
  est = (GenPixels) { g_new (float, w * h * c), (int) w, (int) h, (int) c };
  if (!read_exact (argv[5], noisy.data, sizeof (float) * w * h * c)
      || !read_exact (argv[6], est.data, sizeof (float) * w * h * c))
    {
      fprintf (stderr, "wiener-dump: %s or %s is not the size W H C say\n", argv[5], argv[6]);
      status = 1;
    }
  else if (!gen_denoise_wiener (&noisy, &est, sigma, &wiener, &error))
    {
      fprintf (stderr, "wiener-dump: %s\n", error->message);
      g_clear_error (&error);
      status = 1;
    }
  else if (!(f = fopen (argv[7], "wb"))
           || fwrite (est.data, sizeof (float), w * h * c, f) != w * h * c || fclose (f) != 0)
    {
      fprintf (stderr, "wiener-dump: cannot write %s\n", argv[7]);
      status = 1;
    }
  g_free (noisy.data);
  g_free (est.data);
  return status;
}
