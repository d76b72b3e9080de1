/* bench-gemm — the machine's sgemm ceiling through the core's GEMM wrapper:
 * GFLOP/s for a large square product and for the shapes a 3×3 conv of the
 * UNets makes, at 1 thread and at all threads.  Prints one line per shape:
 *   gemm M N K threads GFLOP/s
 * and the BLAS kernel set in use.  Not a test: numbers, no verdict. */
#include "gen-cpu.h"
#include "gen-ops.h"

#include <stdio.h>
#include <stdlib.h>

static double
bench (int m, int n, int k, int threads)
{
  float *a = g_new (float, (gsize) m * k), *b = g_new (float, (gsize) k * n);
  float *c = g_new0 (float, (gsize) m * n);
  double flop = 2.0 * m * n * k, best = 1e30;
  int reps;

  for (gsize i = 0; i < (gsize) m * k; i++)
    a[i] = (float) (i % 7) * 0.01f;
  for (gsize i = 0; i < (gsize) k * n; i++)
    b[i] = (float) (i % 5) * 0.01f;
  gen_set_threads (threads);
  gen_gemm (false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n); /* warm-up */
  reps = (int) CLAMP (2e10 / flop, 3, 200);
  for (int r = 0; r < 5; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      for (int i = 0; i < reps; i++)
        gen_gemm (false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
      best = MIN (best, (g_get_monotonic_time () - t0) / 1e6 / reps);
    }
  g_free (a);
  g_free (b);
  g_free (c);
  return flop / best / 1e9;
}

int
main (int argc, char **argv)
{
  static const int shapes[][3] = {
    { 2048, 2048, 2048 },  /* the ceiling */
    { 128, 4096, 1152 },   /* 3×3 conv, 128 → 128 channels, 64×64 */
    { 256, 1024, 2304 },   /* 3×3 conv, 256 → 256 channels, 32×32 */
    { 128, 65536, 1152 },  /* 3×3 conv, 128 → 128 channels, 256×256 (one band) */
  };
  int all = (int) g_get_num_processors ();

  gen_cpu_use_fast_blas (argv);
  (void) argc;
  printf ("BLAS kernels: %s, %d cores\n", gen_cpu_blas_kernels (), all);
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int t = 1; t <= all; t = t == all ? all + 1 : all)
      printf ("gemm %5d %6d %5d  threads %d  %7.1f GFLOP/s\n", shapes[s][0], shapes[s][1],
              shapes[s][2], t, bench (shapes[s][0], shapes[s][1], shapes[s][2], t));
  return 0;
}
