/* gen-cpu.c — BLAS kernel selection (see gen-cpu.h). */
#include "gen-cpu.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* OpenBLAS extension; weak so that another CBLAS links too. */
extern char *openblas_get_corename (void) __attribute__ ((weak));

#define REEXEC_MARK "GENERATIVE_BLAS_REEXEC"

const char *
gen_cpu_blas_kernels (void)
{
  return openblas_get_corename ? openblas_get_corename () : "unknown";
}

static gboolean
cpu_has_avx512 (void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init ();
  return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
         && __builtin_cpu_supports ("avx512vl") && __builtin_cpu_supports ("avx512dq");
#else
  return FALSE;
#endif
}

static gboolean
is_avx512_kernel (const char *name)
{
  return name && (g_ascii_strcasecmp (name, "SkylakeX") == 0
                  || g_ascii_strcasecmp (name, "Cooperlake") == 0
                  || g_ascii_strcasecmp (name, "SapphireRapids") == 0);
}

void
gen_cpu_use_fast_blas (char **argv)
{
  const char *keep = g_getenv ("GENERATIVE_KEEP_BLAS");

  if (!openblas_get_corename || !argv || !argv[0])
    return;
  if (g_getenv (REEXEC_MARK))
    {
      /* We are the re-executed process (or it did not help): never loop. */
      g_unsetenv (REEXEC_MARK);
      return;
    }
  if ((keep && *keep && strcmp (keep, "0") != 0) || is_avx512_kernel (openblas_get_corename ())
      || !cpu_has_avx512 ())
    return;
  g_setenv ("OPENBLAS_CORETYPE", "SkylakeX", TRUE);
  g_setenv (REEXEC_MARK, "1", TRUE);
  execv ("/proc/self/exe", argv);
  g_unsetenv (REEXEC_MARK); /* exec failed: go on with what we have */
}
