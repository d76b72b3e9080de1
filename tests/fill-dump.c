/* fill-dump — gen_inpaint_harmonic on a raw image, for tests/fill_parity.py
 * to hold against a direct solve of the same equations; with ITERS RHO
 * ALPHA, gen_inpaint_edge_guided instead (IN already filled), held against
 * numpy's iteration of the same formulas.
 *
 *   fill-dump W H C IN.f32 UNKNOWN.u8 OUT.f32 [ITERS RHO ALPHA [THREADS]]
 *
 * IN: W·H·C little-endian float32, interleaved; UNKNOWN: W·H bytes (nonzero
 * = fill); OUT: the filled image, same layout (every channel filled). */
#include "gen-inpaint-fill.h"
#include "gen-ops.h"
#include "test-util.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
  guint64 w, h, c;
  GenPixels img;
  guint8 *unknown;
  GError *error = NULL;
  FILE *f;
  int status = 0;

  GenEdgeGuided eg = { 0, 0.0f, 0.0f, NULL };
  guint64 iters = 0, threads = 1;

  if (argc == 11 && g_ascii_string_to_unsigned (argv[10], 10, 1, 64, &threads, NULL))
    argc = 10;
  gen_set_threads ((int) threads);
  if (argc == 10
      && (!g_ascii_string_to_unsigned (argv[7], 10, 1, 100000, &iters, NULL)
          || (eg.rho = (float) g_ascii_strtod (argv[8], NULL)) <= 0.0f
          || (eg.alpha = (float) g_ascii_strtod (argv[9], NULL)) <= 0.0f))
    argc = 0;
  eg.iterations = (int) iters;
  if ((argc != 7 && argc != 10) || !g_ascii_string_to_unsigned (argv[1], 10, 1, 4096, &w, NULL)
      || !g_ascii_string_to_unsigned (argv[2], 10, 1, 4096, &h, NULL)
      || !g_ascii_string_to_unsigned (argv[3], 10, 1, 4, &c, NULL))
    {
      fprintf (stderr, "usage: fill-dump W H C IN.f32 UNKNOWN.u8 OUT.f32 [ITERS RHO ALPHA [THREADS]]\n");
      return 2;
    }
  img = (GenPixels) { g_new (float, w * h * c), (int) w, (int) h, (int) c };
  unknown = g_new (guint8, w * h);
  if (!read_exact (argv[4], img.data, sizeof (float) * w * h * c)
      || !read_exact (argv[5], unknown, w * h))
    {
      fprintf (stderr, "fill-dump: %s or %s is not the size W H C say\n", argv[4], argv[5]);
      status = 1;
    }
  else if (!(eg.iterations ? gen_inpaint_edge_guided (&img, (int) c, unknown, &eg, &error)
                            : gen_inpaint_harmonic (&img, (int) c, unknown, &error)))
    {
      fprintf (stderr, "fill-dump: %s\n", error->message);
      g_clear_error (&error);
      status = 1;
    }
  else if (!(f = fopen (argv[6], "wb")) || fwrite (img.data, sizeof (float), w * h * c, f) != w * h * c
           || fclose (f) != 0)
    {
      fprintf (stderr, "fill-dump: cannot write %s\n", argv[6]);
      status = 1;
    }
  g_free (img.data);
  g_free (unknown);
  return status;
}
