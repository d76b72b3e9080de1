/* gen-cpu.h — picking the fastest correct BLAS kernels for this CPU. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The BLAS kernel set in use ("Haswell", "SkylakeX", …, or "unknown"). */
const char *gen_cpu_blas_kernels (void);

/* OpenBLAS may run its AVX2 ("Haswell") kernels on a CPU with AVX-512: it
 * does not recognise every AVX-512 part, and an OPENBLAS_CORETYPE=Haswell
 * left in the environment forces them.  They run sgemm at about half the
 * speed.  OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so when the
 * CPU has AVX-512 F/BW/VL/DQ and OpenBLAS chose a non-AVX-512 kernel set,
 * this re-executes the program (ARGV, from main) once with
 * OPENBLAS_CORETYPE=SkylakeX.  GENERATIVE_KEEP_BLAS=1 keeps whatever
 * OpenBLAS chose.  Returns only if no re-exec was needed or it failed. */
void gen_cpu_use_fast_blas (char **argv);

G_END_DECLS
