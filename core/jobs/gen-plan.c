/* gen-plan.c — a run's memory, known before it is taken.
 *
 * Before a job allocates its images it measures what each tile worker will
 * need: one forward pass of each model through a measuring arena (no
 * memory, no arithmetic; gen_arena_new_measure) at the tile size the tiler
 * will cut, plus the tiler's own tile buffers.  With the job's image-sized
 * buffers that gives its peak, compared with what the process can still
 * take (gen-memory.h).  Too much: fewer workers (the result does not
 * depend on them), then smaller tiles; if even one worker on the smallest
 * tile does not fit, the job is refused with the figures.
 * The weights are counted by what they hold in memory.  Those converted at
 * load were taken before any job runs, so what is available is what they
 * left; those used in place from the files' mappings (F32, and the large
 * F16/BF16 matrices kept in their dtype) become resident as the passes read
 * them, pages the system may still count as available, so they are taken
 * off what is.  Each worker needs as well the F32 form of the largest
 * 16-bit weight, which a product makes in its scratch arena.
 */
#include "gen-job-private.h"
#include "gen-memory.h"

/* The smallest tile the plan shrinks to (pixels). */
#define PLAN_MIN_TILE 64
/* Model-space buffers a job holds at once, at most: the state, the model's
 * output, x0, the clean latent and the sampler's noise and history. */
#define PLAN_STATE_COPIES 8
/* Pixel-canvas buffers [3, ph, pw] beside them with a VAE: the image on its
 * way in and the decoded image on its way out. */
#define PLAN_CANVAS_COPIES 2
/* Image-sized RGBA float buffers: the job's private result and a frame. */
#define PLAN_RESULT_COPIES 2

typedef enum { PASS_UNET, PASS_ENCODE, PASS_DECODE } Pass;

/* What one worker needs for a tiler's passes of model M: its arena's peak
 * (in *ARENA) and that plus the tile buffers (returned). */
static guint64
worker_bytes (GenRun *r, GenModel *m, Pass pass, const GenTiler *t, gsize *arena)
{
  GenModelInfo info;
  GenArena *a = gen_arena_new_measure ();
  int64_t th, tw, cin, cout, oth, otw, batch = 1;
  float ts[2] = { 500.0f, 500.0f };
  GenTensor in, out;

  gen_model_get_info (m, &info);
  gen_tiler_tile_size (t, &th, &tw, &oth, &otw);
  cin = pass == PASS_DECODE ? info.latent_channels : info.in_channels;
  cout = pass == PASS_ENCODE ? info.latent_channels : info.out_channels;
  /* a text-conditioned UNet runs the guided halves as one batch */
  if (pass == PASS_UNET && info.kind == GEN_MODEL_UNET_COND)
    batch = MAX (1, r->batch);
  in = gen_tensor_view (NULL, batch, cin, th, tw);
  out = gen_tensor_view (NULL, batch, cout, oth, otw);
  /* the passes' results mean nothing: only the arena's peak is read */
  if (pass == PASS_UNET && info.kind == GEN_MODEL_UNET_COND)
    {
      /* the context's values are never read by a measuring pass, only its
       * shape: CLIP's 77 tokens unless the run has encoded its own */
      int64_t len = r->ctx ? r->ctx_len : 77;
      float *ctx = g_new0 (float, (gsize) (batch * len * MAX (1, info.cross_attention_dim)));
      float *cond = info.time_cond_proj_dim > 0 ? g_new0 (float, (gsize) info.time_cond_proj_dim)
                                                : NULL;

      (void) gen_unet_cond_forward (m, &in, ts, ctx, len, batch == 1 ? cond : NULL, &out, a,
                                    NULL, NULL, NULL);
      g_free (ctx);
      g_free (cond);
    }
  else if (pass == PASS_UNET)
    (void) gen_unet_forward (m, &in, ts, &out, a, NULL, NULL, NULL);
  else if (pass == PASS_ENCODE)
    (void) gen_vae_encode (m, &in, &out, NULL, a, NULL, NULL, NULL);
  else
    (void) gen_vae_decode (m, &in, &out, a, NULL, NULL, NULL);
  /* the peak with a margin: a real pass takes a few scratch buffers the
   * measuring one skips (up to 6 MB more on the golden models) */
  *arena = MAX (*arena, gen_arena_peak_bytes (a) + gen_arena_peak_bytes (a) / 16 + (8 << 20));
  gen_arena_free (a);
  return *arena + info.weight_convert_bytes
         + (guint64) sizeof (float) * batch * (cin * th * tw + cout * oth * otw);
}

/* The bytes of P's weights used in place from their files' mappings. */
static guint64
plan_mapped_weights (GenPipeline *p)
{
  GenModel *models[3] = { p->unet, p->vae, p->text };
  guint64 bytes = 0;

  for (int i = 0; i < 3; i++)
    if (models[i])
      {
        GenModelInfo info;

        gen_model_get_info (models[i], &info);
        bytes += info.weight_mapped_bytes;
      }
  return bytes;
}

/* The peak of R's job on a PH×PW canvas (IH×IW image) at R's tile: its
 * image buffers in *IMAGES, one worker's need in *PER (and its arena in
 * *ARENA), the workers the tilers will run in *WORKERS. */
static gboolean
plan_need (GenRun *r, int64_t ih, int64_t iw, int64_t ph, int64_t pw, guint64 *images,
           guint64 *per, gsize *arena, int *workers, GError **error)
{
  GenPipeline *p = r->p;
  GenModelInfo vi = { 0 };
  guint64 model_space = 0;

  *per = 0, *arena = 0, *workers = 1;
  if (p->vae)
    {
      int f;
      GenTiler *enc, *dec;

      gen_model_get_info (p->vae, &vi);
      f = vi.downscale;
      if (!(enc = gen_job_vae_tiler (r, ph, pw, TRUE, error)))
        return FALSE;
      if (!(dec = gen_job_vae_tiler (r, ph / f, pw / f, FALSE, error)))
        {
          gen_tiler_free (enc);
          return FALSE;
        }
      *per = MAX (worker_bytes (r, p->vae, PASS_ENCODE, enc, arena),
                  worker_bytes (r, p->vae, PASS_DECODE, dec, arena));
      *workers = MAX (gen_tiler_workers (enc), gen_tiler_workers (dec));
      model_space = 2 * (guint64) vi.latent_channels * (ph / f) * (pw / f);
      gen_tiler_free (enc);
      gen_tiler_free (dec);
    }
  if (p->unet)
    {
      GenSpace s;

      if (!gen_space_tiler (&s, r, ih, iw, error))
        return FALSE;
      *per = MAX (*per, worker_bytes (r, p->unet, PASS_UNET, s.unet_tiler, arena));
      *workers = MAX (*workers, gen_tiler_workers (s.unet_tiler));
      model_space = PLAN_STATE_COPIES * (guint64) s.mc * s.mh * s.mw;
      gen_space_clear (&s);
    }
  *images = sizeof (float) * (model_space + PLAN_RESULT_COPIES * 4 * (guint64) ih * iw
                              + (p->vae ? PLAN_CANVAS_COPIES * 3 * (guint64) ph * pw : 0));
  return TRUE;
}

gboolean
gen_run_plan (GenRun *r, int64_t ih, int64_t iw, int64_t ph, int64_t pw, GError **error)
{
  guint64 avail = gen_memory_available (), images = 0, per = 0;
  guint64 mapped = plan_mapped_weights (r->p);
  gsize arena = 0;
  int workers = 1;

  avail = avail > mapped ? avail - mapped : 0;

  for (int tile = gen_run_tile (r);; tile /= 2)
    {
      r->tile = tile;
      r->workers = r->threads;
      if (!plan_need (r, ih, iw, ph, pw, &images, &per, &arena, &workers, error))
        return FALSE;
      if (images + workers * per <= avail || (avail > images && (avail - images) / per >= 1))
        {
          if (images + workers * per > avail)
            r->workers = (int) MIN ((guint64) r->threads, (avail - images) / per);
          r->arena_bytes = arena;
          return TRUE;
        }
      if (tile / 2 < PLAN_MIN_TILE)
        break;
    }
  return gen_memory_check (images + per + mapped,
                           "this job (one tile worker, the smallest tiles, the weights it maps)",
                           error);
}
