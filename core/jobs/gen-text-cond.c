/* gen-text-cond.c — text conditioning for a Stable Diffusion pipeline, as
 * diffusers' StableDiffusionPipeline and LatentConsistencyModelPipeline run
 * it: the prompts encoded once per job, then each UNet evaluation either
 * one batch-2 forward of [negative, prompt] combined by classifier-free
 * guidance, one batch-1 forward (guidance ≤ 1: turbo models), or — for an
 * LCM UNet (time_cond_proj_dim) — one batch-1 forward with the guidance
 * scale embedded as timestep_cond. */
#include "gen-job-private.h"

#include <math.h>
#include <string.h>

/* diffusers' get_guidance_scale_embedding of w = guidance − 1, in float32:
 * OUT [dim] = [sin (1000 w · f_i), cos (1000 w · f_i)], f_i = 10000^(−i/(half − 1)). */
static void
guidance_embedding (double guidance, int dim, float *out)
{
  int half = dim / 2;
  float w = (float) (guidance - 1.0) * 1000.0f;
  float step = half > 1 ? logf (10000.0f) / (float) (half - 1) : 0.0f;

  memset (out, 0, sizeof (float) * dim);
  for (int i = 0; i < half; i++)
    {
      float e = w * expf ((float) i * -step);
      out[i] = sinf (e);
      out[half + i] = cosf (e);
    }
}

static gboolean
encode_one (GenRun *r, const char *text, gint32 *ids, GError **error)
{
  gsize dropped = 0;

  if (!gen_tokenizer_encode (r->p->tok, text ? text : "", ids, &dropped, error))
    return FALSE;
  if (dropped > 0)
    g_warning ("the prompt is %" G_GSIZE_FORMAT " token%s too long: only its first %d tokens "
               "are used", dropped, dropped == 1 ? "" : "s",
               gen_tokenizer_max_length (r->p->tok) - 2);
  return TRUE;
}

gboolean
gen_run_encode_text (GenRun *r, GError **error)
{
  const GenJobOptions *o = r->o;
  GenPipeline *p = r->p;
  GenModelInfo ui, ti;
  GenArena *arena;
  GenTensor out;
  gint32 *ids;
  int len;
  gboolean ok;

  if (!p->text)
    {
      if (o->prompt && o->prompt[0])
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "this model is not text-conditioned: it takes no prompt");
          return FALSE;
        }
      return TRUE;
    }
  gen_model_get_info (p->unet, &ui);
  gen_model_get_info (p->text, &ti);
  if (o->clip_skip < 0 || o->clip_skip >= ti.num_layers)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "clip skip must be 0 to %d for this text encoder", ti.num_layers - 1);
      return FALSE;
    }
  len = gen_tokenizer_max_length (p->tok);
  if (len > ti.max_tokens)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the tokenizer's %d tokens are more than the text encoder's %d positions",
                   len, ti.max_tokens);
      return FALSE;
    }
  if (ui.time_cond_proj_dim > 0)
    {
      r->tcond = g_new (float, ui.time_cond_proj_dim);
      guidance_embedding (o->guidance, ui.time_cond_proj_dim, r->tcond);
      r->batch = 1;
    }
  else
    r->batch = o->guidance > 1.0 ? 2 : 1;

  /* ids [batch, len]: row 0 the negative prompt when guided, the last the prompt */
  ids = g_new (gint32, (gsize) 2 * len);
  if ((r->batch == 2 && !encode_one (r, o->negative_prompt, ids, error))
      || !encode_one (r, o->prompt, ids + (gsize) (r->batch - 1) * len, error))
    {
      g_free (ids);
      return FALSE;
    }
  r->ctx_len = len;
  r->ctx = g_new (float, (gsize) r->batch * len * ti.out_channels);  /* [batch, len, hidden] */
  out = gen_tensor_view (r->ctx, 1, r->batch, len, ti.out_channels);
  arena = gen_arena_new (0);
  ok = gen_clip_text_forward (p->text, ids, r->batch, len, o->clip_skip, &out, arena, NULL, NULL,
                              error);
  gen_arena_free (arena);
  g_free (ids);
  return ok;
}

gboolean
gen_job_unet_cond_tile (GenRun *r, int worker, float timestep, const GenTensor *in,
                        GenTensor *out, GError **error)
{
  GenModel *unet = r->p->unet;
  int64_t b = r->batch, n_in = gen_tensor_numel (in), n_out = gen_tensor_numel (out);
  float ts[2] = { timestep, timestep };
  float g = (float) r->o->guidance;
  float *x2, *o2;
  GenTensor xt, ot;
  gboolean ok;

  if (!r->ctx)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "this job does not run text-conditioned models yet");
      return FALSE;
    }
  if (b == 1)
    return gen_unet_cond_forward (unet, in, ts, r->ctx, r->ctx_len, r->tcond, out,
                                  r->arenas[worker], NULL, NULL, error)
           && gen_run_check_finite (r, unet, "UNet", out, error);
  /* the unconditional and conditional halves as one batch: X2 [2, C, H, W] */
  x2 = g_new (float, 2 * n_in);
  o2 = g_new (float, 2 * n_out);
  memcpy (x2, in->data, sizeof (float) * n_in);
  memcpy (x2 + n_in, in->data, sizeof (float) * n_in);
  xt = gen_tensor_view (x2, 2, in->ne[1], in->ne[2], in->ne[3]);
  ot = gen_tensor_view (o2, 2, out->ne[1], out->ne[2], out->ne[3]);
  ok = gen_unet_cond_forward (unet, &xt, ts, r->ctx, r->ctx_len, NULL, &ot, r->arenas[worker],
                              NULL, NULL, error);
  if (ok)
    for (int64_t i = 0; i < n_out; i++)
      out->data[i] = o2[i] + g * (o2[n_out + i] - o2[i]);
  g_free (x2);
  g_free (o2);
  return ok && gen_run_check_finite (r, unet, "UNet", out, error);
}
