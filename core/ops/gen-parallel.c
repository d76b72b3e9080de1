/* gen-parallel.c — the core's own threads: the thread count, a pool of
 * persistent threads behind gen_parallel_for, and gen_gemm, the one GEMM
 * wrapper every matrix product goes through. */
#include "gen-ops.h"

#include <cblas.h>

/* OpenBLAS extension (declared in its cblas.h, but not in every cblas.h). */
extern void openblas_set_num_threads (int num_threads);

/* The thread count is the calling thread's: a run sets it for its own thread
 * and puts it back when it ends (core/jobs/gen-run.c), so two runs in two
 * threads never see each other's, and a thread the core did not set up (a
 * tile worker, a front end's own thread) starts at one. */
static _Thread_local int gen_threads = 1;
static _Thread_local int op_threads = 1;    /* parts the current context may use */
static _Thread_local bool in_part;   /* this thread runs a part of gen_parallel_for */

/* OpenBLAS's own threads stay off (one BLAS thread, always): the core
 * splits its products itself (gen_gemm), so the BLAS never has threads
 * spinning for work while the core's own loops want the cores. */
void
gen_set_threads (int n)
{
  gen_threads = MAX (1, n);
  openblas_set_num_threads (1);
  gen_set_op_threads (gen_threads);
}

int
gen_get_threads (void)
{
  return gen_threads;
}

void
gen_set_op_threads (int n)
{
  op_threads = MAX (1, n);
}

/* ---- the core's own parallel loops --------------------------------------
 * Persistent threads, started when first needed (never per op), that wait
 * for a job: a function and a part count.  Handing a job over allocates
 * nothing (a counter under one lock), so the denoising loop allocates
 * nothing here either.  The caller takes parts too, starting with part 0.
 * A part that calls gen_gemm or gen_parallel_for runs them on its own
 * thread.  One job at a time. */

static GMutex pool_job;          /* held by the caller for a whole job */
static GMutex pool_lock;         /* guards what follows */
static GCond pool_go, pool_done;
static GenPartFunc pool_fn;
static gpointer pool_data;
static int pool_parts, pool_next, pool_left, pool_threads;

/* Runs parts of the current job until none is left to take; called and
 * returns with pool_lock held. */
static void
pool_take_parts (void)
{
  while (pool_next < pool_parts)
    {
      GenPartFunc fn = pool_fn;
      gpointer data = pool_data;
      int part = pool_next++, parts = pool_parts;

      g_mutex_unlock (&pool_lock);
      fn (part, parts, data);
      g_mutex_lock (&pool_lock);
      if (--pool_left == 0)
        g_cond_signal (&pool_done);
    }
}

static gpointer
pool_worker (gpointer unused)
{
  (void) unused;
  in_part = true;
  g_mutex_lock (&pool_lock);
  for (;;)
    {
      pool_take_parts ();
      g_cond_wait (&pool_go, &pool_lock);
    }
  return NULL;
}

int
gen_parallel_parts (void)
{
  return in_part ? 1 : op_threads;
}

void
gen_parallel_for (int parts, GenPartFunc fn, gpointer data)
{
  parts = MIN (parts, GEN_MAX_THREADS);
  if (in_part || parts <= 1)
    {
      /* nested (this thread is itself a part), or nothing to share */
      for (int i = 0; i < parts; i++)
        fn (i, parts, data);
      return;
    }
  g_mutex_lock (&pool_job);
  g_mutex_lock (&pool_lock);
  /* fewer threads if no more can be had: the caller takes their parts */
  while (pool_threads < parts - 1)
    {
      GThread *t = g_thread_try_new ("generative-ops", pool_worker, NULL, NULL);

      if (!t)
        break;
      g_thread_unref (t);
      pool_threads++;
    }
  pool_fn = fn, pool_data = data;
  pool_parts = parts, pool_next = 0, pool_left = parts;
  g_cond_broadcast (&pool_go);
  in_part = true;
  pool_take_parts ();
  in_part = false;
  while (pool_left > 0)
    g_cond_wait (&pool_done, &pool_lock);
  pool_parts = pool_next = 0;
  g_mutex_unlock (&pool_lock);
  g_mutex_unlock (&pool_job);
}

typedef struct
{
  bool trans_a, trans_b;
  int m, n, k;
  float alpha, beta;
  const float *a, *b;
  float *c;
  int lda, ldb, ldc;
  bool split_n;
  int piece;          /* > 0: rows of C per call (thin products, see gen_gemm) */
} Gemm;

static void
gemm_rows (const Gemm *g, int lo, int hi)
{
  cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
               g->trans_b ? CblasTrans : CblasNoTrans, hi - lo, g->n, g->k, g->alpha,
               g->trans_a ? g->a + lo : g->a + (gsize) lo * g->lda, g->lda, g->b, g->ldb,
               g->beta, g->c + (gsize) lo * g->ldc, g->ldc);
}

static void
gemm_part (int part, int parts, gpointer data)
{
  const Gemm *g = data;
  /* slices of 16 columns (or rows), the kernels' register blocking */
  int units = ((g->split_n ? g->n : g->m) + 15) / 16;
  int lo = MIN (units * part / parts * 16, g->split_n ? g->n : g->m);
  int hi = MIN (units * (part + 1) / parts * 16, g->split_n ? g->n : g->m);

  if (g->piece > 0)
    {
      /* whole pieces: the same calls whatever the number of parts */
      int pieces = (g->m + g->piece - 1) / g->piece;

      for (int i = pieces * part / parts; i < pieces * (part + 1) / parts; i++)
        gemm_rows (g, i * g->piece, MIN (g->m, (i + 1) * g->piece));
    }
  else if (hi <= lo)
    return;
  else if (g->split_n)
    cblas_sgemm (CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                 g->trans_b ? CblasTrans : CblasNoTrans, g->m, hi - lo, g->k, g->alpha, g->a,
                 g->lda, g->trans_b ? g->b + (gsize) lo * g->ldb : g->b + lo, g->ldb, g->beta,
                 g->c + lo, g->ldc);
  else
    gemm_rows (g, lo, hi);
}

void
gen_gemm (bool trans_a, bool trans_b, int m, int n, int k,
          float alpha, const float *a, int lda,
          const float *b, int ldb,
          float beta, float *c, int ldc)
{
  Gemm g = { trans_a, trans_b, m, n, k, alpha, beta, a, b, c, lda, ldb, ldc, true, 0 };
  double mnk = (double) m * n * k;
  int parts;

  if (m <= 0 || n <= 0)
    return;
  if (k <= 0)
    {
      for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
          c[(gsize) i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(gsize) i * ldc + j];
      return;
    }
  /* Thin products (at most 64 columns: a batch-1 UNet at 16×16 and below)
   * run in pieces of rows of at most 10⁶ M·N·K: OpenBLAS (0.3.17 on) computes
   * such products with its small-matrix kernels, which read the weights in
   * place where its general path packs all of them for these few columns
   * (1.2–1.4× on the ddpm-cifar10 shapes at 16×16 and 8×8).  Pieces below
   * 4 rows lose; those products stay whole.  The pieces depend on the shape
   * only, and the threads take whole pieces.
   * Other products go side by side on the core's threads as slices of C's
   * columns, or of its rows when it is tall and narrow.  OpenBLAS computes
   * every element of a slice as it does in the whole product (K is never
   * split), so the bits do not depend on the thread count: test-jobs holds
   * 1 against 3 threads, tiled and whole, and test-ops every op.
   * Either way a part must be large enough to pay for the hand-over
   * (~2 MFLOP). */
  parts = gen_parallel_parts ();
  if (!trans_b && n <= 64 && mnk > 1e6 && 1e6 / ((double) n * k) >= 4)
    {
      g.piece = (int) (1e6 / ((double) n * k));
      parts = MIN (parts, (m + g.piece - 1) / g.piece);
    }
  else if (parts > 1)
    {
      g.split_n = n >= m || n >= 64 * parts;
      parts = MIN (parts, ((g.split_n ? n : m) + 15) / 16);
    }
  parts = (int) MIN ((double) parts, 2.0 * mnk / 2e6);
  if (parts > 1)
    gen_parallel_for (parts, gemm_part, &g);
  else
    gemm_part (0, 1, &g);
}
