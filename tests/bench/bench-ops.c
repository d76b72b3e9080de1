/* bench-ops — per-op timings at the shapes the UNets use, against the
 * machine's sgemm ceiling (2048³ through gen_gemm at the same thread count):
 * 3×3 convs (stride 1, pad 1) and 1×1 convs through gen_conv2d (SD 1.5's
 * also with their weights kept in F16, "f16": the per-call conversion's
 * cost), group norm with and without SiLU through gen_group_norm, and
 * single-head attention
 * blocks (group norm, QKV, softmax(QKᵀ)V, output projection, residual)
 * through gen_attn_forward.  Random data, biases included, scratch from an
 * arena folded after the warm-up as in a model's later passes.
 *
 *   bench-ops [--threads N] [--reps N] [--only SUBSTR]
 *
 * --only runs the cases whose name contains SUBSTR.
 *
 * Each case runs once to warm up, then REPS timed samples (default 5); a
 * sample repeats the op until it has run ~20 ms, and the best sample counts.
 * The ceiling is measured before and after the cases; the lines use the
 * first, the closing markdown table (for RESULTS.md) the better of the two.
 * One line per case, then the same as a markdown table:
 *   conv:      GFLOP/s from 2·Cout·Cin·k²·H·W, and its share of the ceiling;
 *   attention: GFLOP/s from 4·HW·C·C (QKV and output projections, ×2) plus
 *              2·2·(HW)²·C (scores and weighted sum), and its share;
 *   group norm: GB/s of the minimal memory traffic, one read of x and one
 *              write of y (8 bytes per element); the op actually makes two
 *              reads (statistics, then normalise) and one write.
 * Not a test: numbers, no verdict. */
#include "gen-cpu.h"
#include "gen-model-private.h"
#include "gen-ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum
{
  OP_CONV,
  OP_CONV_F16,   /* the same conv with its weights kept in F16 (converted per call) */
  OP_NORM,
  OP_ATTN,
} OpKind;

typedef struct
{
  OpKind kind;
  const char *name;
  int ci, co, hw;   /* channels in/out (norm, attn: ci only), height = width */
  int k;            /* conv kernel size */
  int groups;       /* norm groups */
  bool silu;
} Case;

typedef struct
{
  char name[32], shape[40];
  double ms, rate;  /* GFLOP/s, or GB/s for a norm */
  double share;     /* % of the sgemm ceiling, < 0 for none */
} Row;

static const Case cases[] = {
  { OP_CONV, "conv3x3 conv_in", 3, 32, 512, 3, 0, false },
  { OP_CONV, "conv3x3", 32, 32, 512, 3, 0, false },
  { OP_CONV, "conv3x3", 64, 64, 256, 3, 0, false },
  { OP_CONV, "conv3x3", 128, 128, 128, 3, 0, false },
  { OP_CONV, "conv3x3", 128, 128, 64, 3, 0, false },
  { OP_CONV, "conv3x3 up concat", 160, 32, 512, 3, 0, false },
  { OP_CONV, "conv3x3 cifar", 128, 128, 32, 3, 0, false },
  { OP_CONV, "conv3x3 celebahq", 256, 256, 16, 3, 0, false },
  { OP_CONV, "conv3x3 celebahq", 512, 512, 8, 3, 0, false },
  { OP_CONV, "conv1x1 shortcut", 160, 32, 512, 1, 0, false },
  { OP_CONV, "conv1x1 shortcut", 96, 32, 512, 1, 0, false },
  { OP_CONV, "conv1x1", 64, 64, 256, 1, 0, false },
  { OP_CONV, "conv1x1", 128, 128, 64, 1, 0, false },
  { OP_CONV, "conv1x1", 256, 256, 16, 1, 0, false },
  { OP_CONV, "conv3x3 sd15", 320, 320, 64, 3, 0, false },
  { OP_CONV_F16, "conv3x3 sd15 f16", 320, 320, 64, 3, 0, false },
  { OP_CONV, "conv3x3 sd15", 1280, 1280, 16, 3, 0, false },
  { OP_CONV_F16, "conv3x3 sd15 f16", 1280, 1280, 16, 3, 0, false },
  { OP_CONV, "conv3x3 sd15", 1280, 1280, 8, 3, 0, false },
  { OP_CONV_F16, "conv3x3 sd15 f16", 1280, 1280, 8, 3, 0, false },
  { OP_CONV, "conv1x1 sd15", 640, 640, 32, 1, 0, false },
  { OP_CONV_F16, "conv1x1 sd15 f16", 640, 640, 32, 1, 0, false },
  { OP_NORM, "groupnorm", 32, 32, 512, 0, 32, false },
  { OP_NORM, "groupnorm+silu", 32, 32, 512, 0, 32, true },
  { OP_NORM, "groupnorm", 32, 32, 512, 0, 8, false },
  { OP_NORM, "groupnorm+silu", 32, 32, 512, 0, 8, true },
  { OP_NORM, "groupnorm", 128, 128, 128, 0, 32, false },
  { OP_NORM, "groupnorm+silu", 128, 128, 128, 0, 32, true },
  { OP_NORM, "groupnorm", 128, 128, 128, 0, 8, false },
  { OP_NORM, "groupnorm+silu", 128, 128, 128, 0, 8, true },
  { OP_NORM, "groupnorm", 256, 256, 16, 0, 32, false },
  { OP_NORM, "groupnorm+silu", 256, 256, 16, 0, 32, true },
  { OP_NORM, "groupnorm", 256, 256, 16, 0, 8, false },
  { OP_NORM, "groupnorm+silu", 256, 256, 16, 0, 8, true },
  { OP_ATTN, "attention celebahq", 256, 256, 16, 0, 32, false },
  { OP_ATTN, "attention cifar", 128, 128, 32, 0, 32, false },
};

static guint32 rng_state = 0x9e3779b9u;

/* Uniform in [-scale, scale) (xorshift32: fast, reproducible). */
static float *
random_floats (gsize n, float scale)
{
  float *p = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    {
      rng_state ^= rng_state << 13;
      rng_state ^= rng_state >> 17;
      rng_state ^= rng_state << 5;
      p[i] = ((float) (rng_state >> 8) / 8388608.0f - 1.0f) * scale;
    }
  return p;
}

static void
fill_random (float *p, gsize n, float scale)
{
  float *r = random_floats (n, scale);

  memcpy (p, r, n * sizeof (float));
  g_free (r);
}

/* N values of F as F16 bits (truncated; below 2^-14 flushed to zero: a
 * weight's timing does not need more), owned by OWNED. */
static guint16 *
to_f16 (const float *f, gsize n, GPtrArray *owned)
{
  guint16 *h = g_new (guint16, n);

  for (gsize i = 0; i < n; i++)
    {
      guint32 b;
      int e;

      memcpy (&b, &f[i], sizeof b);
      e = (int) ((b >> 23) & 0xff) - 127 + 15;
      h[i] = (guint16) ((b >> 16) & 0x8000);
      if (e >= 1 && e <= 30)
        h[i] |= (guint16) (e << 10 | ((b >> 13) & 0x3ff));
    }
  g_ptr_array_add (owned, h);
  return h;
}

typedef struct
{
  const Case *c;
  GenConv2d conv;
  GenGroupNorm gn;
  GenAttn *attn;
  GenTensor x, y;
  GenArena *scratch;
} Op;

static void
op_run (Op *op)
{
  gsize mark = gen_arena_mark (op->scratch);

  switch (op->c->kind)
    {
    case OP_CONV:
    case OP_CONV_F16:
      gen_conv2d (&op->conv, &op->x, &op->y, false, op->scratch);
      break;
    case OP_NORM:
      gen_group_norm (&op->gn, &op->x, &op->y, op->c->silu);
      break;
    case OP_ATTN:
      gen_attn_forward (op->attn, &op->x, &op->y, op->scratch);
      break;
    }
  gen_arena_release (op->scratch, mark);
}

/* Best seconds per call over REPS samples of >= ~20 ms, after a warm-up. */
static double
time_op (void (*fn) (gpointer), gpointer data, int reps)
{
  gint64 t0 = g_get_monotonic_time ();
  double once, best = 1e30;
  int inner;

  fn (data); /* warm-up */
  once = MAX (1e-6, (g_get_monotonic_time () - t0) / 1e6);
  inner = (int) CLAMP (0.02 / once, 1, 10000);
  for (int r = 0; r < reps; r++)
    {
      t0 = g_get_monotonic_time ();
      for (int i = 0; i < inner; i++)
        fn (data);
      best = MIN (best, (g_get_monotonic_time () - t0) / 1e6 / inner);
    }
  return best;
}

static void
op_run_cb (gpointer data)
{
  op_run (data);
}

static void
fold_scratch (Op *op)
{
  GError *error = NULL;

  if (!gen_arena_reset (op->scratch, &error))
    {
      fprintf (stderr, "bench-ops: %s\n", error->message);
      exit (1);
    }
}

/* Warm-up run (grows the scratch), fold it, then time. */
static double
time_case (Op *op, int reps)
{
  op_run (op);
  fold_scratch (op);
  return time_op (op_run_cb, op, reps);
}

static GenLinear
make_linear (int in, int out, GPtrArray *owned)
{
  GenLinear lin;
  float *w = random_floats ((gsize) in * out, 1.0f / sqrtf ((float) in));
  float *b = random_floats ((gsize) out, 0.1f);

  g_ptr_array_add (owned, w);
  g_ptr_array_add (owned, b);
  lin.weight = gen_tensor_view (w, 1, 1, out, in);
  lin.bias = gen_tensor_view (b, 1, 1, 1, out);
  return lin;
}

static GenGroupNorm
make_norm (int c, int groups, GPtrArray *owned)
{
  GenGroupNorm gn;
  float *w = random_floats ((gsize) c, 1.0f), *b = random_floats ((gsize) c, 0.1f);

  for (int i = 0; i < c; i++)
    w[i] += 1.5f;
  g_ptr_array_add (owned, w);
  g_ptr_array_add (owned, b);
  gn.weight = gen_tensor_view (w, 1, c, 1, 1);
  gn.bias = gen_tensor_view (b, 1, c, 1, 1);
  gn.groups = groups;
  gn.eps = 1e-6f;
  return gn;
}

static Row
bench_case (const Case *c, int reps, double ceiling)
{
  GPtrArray *owned = g_ptr_array_new_with_free_func (g_free);
  int64_t hw = (int64_t) c->hw * c->hw;
  int co = c->kind == OP_CONV || c->kind == OP_CONV_F16 ? c->co : c->ci;
  gsize nx = (gsize) c->ci * hw, ny = (gsize) co * hw;
  GenArena *act = gen_arena_new ((nx + ny) * sizeof (float) + 4096);
  Op op = { .c = c, .scratch = gen_arena_new (1 << 20) };
  double flop = 0.0, sec;
  Row row = { .share = -1.0 };

  op.x = gen_arena_tensor (act, 1, c->ci, c->hw, c->hw);
  op.y = gen_arena_tensor (act, 1, co, c->hw, c->hw);
  if (!op.x.data || !op.y.data)
    {
      fprintf (stderr, "bench-ops: out of memory\n");
      exit (1);
    }
  fill_random (op.x.data, nx, 1.0f);
  memset (op.y.data, 0, ny * sizeof (float));

  switch (c->kind)
    {
    case OP_CONV:
    case OP_CONV_F16:
      {
        int kk = c->k * c->k, p = c->k / 2;
        float *w = random_floats ((gsize) c->co * c->ci * kk, 1.0f / sqrtf ((float) (c->ci * kk)));
        float *b = random_floats ((gsize) c->co, 0.1f);

        g_ptr_array_add (owned, w);
        g_ptr_array_add (owned, b);
        op.conv.weight = gen_tensor_view (w, c->co, c->ci, c->k, c->k);
        op.conv.bias = gen_tensor_view (b, 1, c->co, 1, 1);
        op.conv.stride = 1;
        for (int i = 0; i < 4; i++)
          op.conv.pad[i] = p;
        if (c->kind == OP_CONV_F16)
          {
            op.conv.half.data = to_f16 (w, (gsize) c->co * c->ci * kk, owned);
            op.conv.weight.data = NULL;
          }
        flop = 2.0 * c->co * c->ci * kk * (double) hw;
        g_snprintf (row.shape, sizeof row.shape, "%d→%d @%d×%d", c->ci, c->co, c->hw, c->hw);
        break;
      }
    case OP_NORM:
      op.gn = make_norm (c->ci, c->groups, owned);
      g_snprintf (row.shape, sizeof row.shape, "%dch @%d×%d, %d groups", c->ci, c->hw, c->hw,
                  c->groups);
      break;
    case OP_ATTN:
      op.attn = g_new0 (GenAttn, 1);
      op.attn->channels = c->ci;
      op.attn->dim_head = c->ci;
      op.attn->heads = 1;
      op.attn->inner = c->ci;
      op.attn->has_norm = true;
      op.attn->group_norm = make_norm (c->ci, c->groups, owned);
      op.attn->to_q = make_linear (c->ci, c->ci, owned);
      op.attn->to_k = make_linear (c->ci, c->ci, owned);
      op.attn->to_v = make_linear (c->ci, c->ci, owned);
      op.attn->to_out = make_linear (c->ci, c->ci, owned);
      op.attn->rescale_output_factor = 1.0f;
      flop = 4 * 2.0 * hw * c->ci * c->ci + 2 * 2.0 * (double) hw * hw * c->ci;
      g_snprintf (row.shape, sizeof row.shape, "%dch @%d×%d, 1 head", c->ci, c->hw, c->hw);
      break;
    }

  sec = time_case (&op, reps);
  g_strlcpy (row.name, c->name, sizeof row.name);
  row.ms = sec * 1e3;
  if (c->kind == OP_NORM)
    row.rate = 2.0 * sizeof (float) * (double) nx / sec / 1e9;
  else
    {
      row.rate = flop / sec / 1e9;
      row.share = 100.0 * row.rate / ceiling;
    }

  g_free (op.attn);
  gen_arena_free (op.scratch);
  gen_arena_free (act);
  g_ptr_array_unref (owned);
  return row;
}

typedef struct
{
  float *a, *b, *c;
} Gemm;

static void
gemm_cb (gpointer data)
{
  Gemm *g = data;

  gen_gemm (false, false, 2048, 2048, 2048, 1.0f, g->a, 2048, g->b, 2048, 0.0f, g->c, 2048);
}

static double
sgemm_ceiling (int reps)
{
  gsize n = (gsize) 2048 * 2048;
  Gemm g = { random_floats (n, 1.0f), random_floats (n, 1.0f), g_new0 (float, n) };
  /* 3× the samples: on a busy machine a low ceiling inflates every share */
  double sec = time_op (gemm_cb, &g, 3 * reps);

  g_free (g.a);
  g_free (g.b);
  g_free (g.c);
  return 2.0 * 2048.0 * 2048.0 * 2048.0 / sec / 1e9;
}

/* Pads S to WIDTH display columns (the shapes hold multi-byte → and ×). */
static void
print_padded (const char *s, int width)
{
  long len = g_utf8_strlen (s, -1);

  fputs (s, stdout);
  for (long i = len; i < width; i++)
    putchar (' ');
}

static void
usage (void)
{
  fprintf (stderr, "usage: bench-ops [--threads N] [--reps N] [--only SUBSTR]\n");
  exit (2);
}

int
main (int argc, char **argv)
{
  int threads = 1, reps = 5;
  const char *only = NULL;
  double ceiling, again;
  Row rows[G_N_ELEMENTS (cases)];

  gen_cpu_use_fast_blas (argv);
  for (int i = 1; i < argc; i++)
    {
      if (i + 1 < argc && strcmp (argv[i], "--threads") == 0)
        threads = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (argv[i], "--reps") == 0)
        reps = atoi (argv[++i]);
      else if (i + 1 < argc && strcmp (argv[i], "--only") == 0)
        only = argv[++i];
      else
        usage ();
    }
  if (threads < 1 || reps < 1)
    usage ();

  gen_set_threads (threads);
  printf ("BLAS kernels: %s, %u cores, threads %d, reps %d\n", gen_cpu_blas_kernels (),
          g_get_num_processors (), threads, reps);
  ceiling = sgemm_ceiling (reps);
  printf ("sgemm 2048³ ceiling: %.1f GFLOP/s (measured again at the end)\n", ceiling);
  fflush (stdout);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Row *r = &rows[i];

      if (only && !strstr (cases[i].name, only))
        {
          r->ms = -1.0;
          continue;
        }
      *r = bench_case (&cases[i], reps, ceiling);
      print_padded (r->name, 20);
      print_padded (r->shape, 26);
      if (r->share < 0)
        printf (" %9.3f ms  %8.1f GB/s\n", r->ms, r->rate);
      else
        printf (" %9.3f ms  %8.1f GFLOP/s  %5.1f%% of sgemm\n", r->ms, r->rate, r->share);
      fflush (stdout);
    }

  /* The machine may be busy: the ceiling is the better of two runs, and
   * the shares are recomputed against it for the table. */
  again = sgemm_ceiling (reps);
  printf ("sgemm 2048³ ceiling at the end: %.1f GFLOP/s\n", again);
  if (again > ceiling)
    {
      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        if (rows[i].ms >= 0 && rows[i].share >= 0)
          rows[i].share *= ceiling / again;
      ceiling = again;
    }

  printf ("\n%d thread%s, sgemm 2048³ ceiling %.1f GFLOP/s (BLAS %s)\n\n", threads,
          threads == 1 ? "" : "s", ceiling, gen_cpu_blas_kernels ());
  printf ("| op | shape | ms | GFLOP/s | GB/s | %% of sgemm |\n");
  printf ("|---|---|--:|--:|--:|--:|\n");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Row *r = &rows[i];

      if (r->ms < 0)
        continue;
      if (r->share < 0)
        printf ("| %s | %s | %.3f | | %.1f | |\n", r->name, r->shape, r->ms, r->rate);
      else
        printf ("| %s | %s | %.3f | %.1f | | %.1f%% |\n", r->name, r->shape, r->ms, r->rate,
                r->share);
    }
  return 0;
}
