/* rng-dump — consecutive draws from one GenRng, as raw float32, for
 * tests/seed_parity.py to hold against torch.
 *
 *   rng-dump [--rand] SEED OUTFILE N1 [N2 ...]
 *
 * Seeds one generator with SEED (0 .. 2^64 - 1) and makes one call per N,
 * in order: gen_rng_randn (torch.randn), or gen_rng_rand (torch.rand) with
 * --rand or for an N written with a leading 'u' ("u7").  All the values go
 * to OUTFILE, little-endian float32, one call after the other. */
#include "gen-random.h"

#include <stdio.h>
#include <string.h>

static int
usage (void)
{
  fprintf (stderr, "usage: rng-dump [--rand] SEED OUTFILE N1 [N2 ...]\n");
  return 2;
}

int
main (int argc, char **argv)
{
  gboolean all_uniform = FALSE;
  guint64  seed;
  GenRng  *rng;
  FILE    *f;
  int      a = 1, status = 0;

  if (a < argc && strcmp (argv[a], "--rand") == 0)
    {
      all_uniform = TRUE;
      a++;
    }
  if (argc - a < 3 || !g_ascii_string_to_unsigned (argv[a], 10, 0, G_MAXUINT64, &seed, NULL))
    return usage ();

  f = fopen (argv[a + 1], "wb");
  if (!f)
    {
      fprintf (stderr, "rng-dump: cannot write %s\n", argv[a + 1]);
      return 1;
    }
  rng = gen_rng_new (seed);
  for (int i = a + 2; i < argc && status == 0; i++)
    {
      const char *arg = argv[i];
      gboolean    uniform = all_uniform;
      guint64     n;
      float      *buf;

      if (arg[0] == 'u')
        {
          uniform = TRUE;
          arg++;
        }
      if (!g_ascii_string_to_unsigned (arg, 10, 0, G_MAXINT32, &n, NULL))
        {
          status = usage ();
          break;
        }
      buf = g_new (float, n ? n : 1);
      if (uniform)
        gen_rng_rand (rng, buf, (gint64) n);
      else
        gen_rng_randn (rng, buf, (gint64) n);
      if (fwrite (buf, sizeof (float), n, f) != n)
        {
          fprintf (stderr, "rng-dump: short write to %s\n", argv[a + 1]);
          status = 1;
        }
      g_free (buf);
    }
  gen_rng_free (rng);
  if (fclose (f) != 0 && status == 0)
    status = 1;
  return status;
}
