/* gen-random.h — seeded noise that reproduces PyTorch's CPU generator.
 *
 * A GenRng is torch.Generator() on the CPU: an mt19937 engine (Matsumoto &
 * Nishimura 1998) plus the one cached normal sample torch keeps beside it.
 * The same seed and the same sequence of calls give the same float32 values
 * as the reference pipeline, so an image made here matches one made there.
 *
 * Seeds.  torch.Generator().manual_seed(s) accepts -2^63 <= s < 2^64 and
 * keeps s modulo 2^64 as the generator's initial_seed(); pass that unsigned
 * value here (a negative s as (guint64) s).  The engine itself is seeded
 * from the low 32 bits only (state[0] = seed & 0xffffffff), so seeds that
 * differ by a multiple of 2^32 — 5 and 2^32 + 5, 2^64 - 1 and 2^32 - 1 —
 * give identical noise, in torch and here alike.
 *
 * Which torch path is matched.  torch.randn on a float32 tensor of n >= 16
 * contiguous elements fills n uniforms, then turns blocks of 16 into normals
 * by Box–Muller (element j pairs with j + 8), redoing the last 16 from fresh
 * uniforms when n % 16 != 0.  On x86-64 CPUs with AVX2 (AVX-512 ones
 * included: torch runs its AVX2 kernel there) that transform uses torch's
 * vectorised Cephes log/sincos (avx_mathfun.h); this file reproduces it
 * bit for bit.  torch's portable kernel (ARM, or ATEN_CPU_CAPABILITY=default)
 * uses libm logf/sinf/cosf and forms 2 pi u in double instead; it is not
 * reproduced: about a third of its values differ from these, by up to
 * ~2.5e-6 (one float step of the angle times the radius).
 * For n < 16 torch uses a serial double-precision Box–Muller that caches
 * its second sample in the generator; that is reproduced too, cache
 * included, so a stream of calls of mixed sizes continues as torch's does.
 *
 * A tensor of any shape is one call with n = numel: torch.randn([2,4,64,64])
 * is gen_rng_randn (rng, x, 2*4*64*64).  Per-item calls give the same
 * values only when the item size is a multiple of 16 (4*64*64 is; 4*9*9
 * is not).  Example of the cache: randn(5), randn(20), randn(1) — the 1
 * is the sixth value of the serial stream randn(5) started.
 *
 * Thread safety: no global state; one GenRng must not be used from two
 * threads at once, different ones may.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GenRng GenRng;

/* = torch.Generator().manual_seed(SEED).  Free with gen_rng_free(). */
GenRng *gen_rng_new (guint64 seed);
void    gen_rng_free (GenRng *rng);

/* = torch.randn(N, generator=g) (float32, CPU): writes N standard normals
 * to OUT, continuing RNG's stream.  N <= 0 writes and draws nothing. */
void gen_rng_randn (GenRng *rng, float *out, gint64 n);

/* = torch.rand(N, generator=g): N float32 uniforms in [0, 1), each the
 * low 24 bits of one 32-bit draw times 2^-24, continuing RNG's stream. */
void gen_rng_rand (GenRng *rng, float *out, gint64 n);

/* A fresh seed for users who give none (GLib's g_random, seeded from
 * /dev/urandom).  Below 2^32: torch's stream depends on the low 32 bits
 * only, so this reaches every distinct noise, and it fits the unsigned
 * 32-bit seed parameters GIMP's dialogs use. */
guint64 gen_rng_random_seed (void);

G_END_DECLS
