/* gen-clip-text.c — transformers' CLIPTextModel, the text encoder of the
 * Stable Diffusion 1.x / 2.x pipelines (text_encoder/config.json +
 * model.safetensors), with transformers' parameter names:
 *
 *   text_model.embeddings.{token,position}_embedding.weight
 *   text_model.encoder.layers.N.{self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1,
 *                                mlp.fc2, layer_norm2}
 *   text_model.final_layer_norm
 *
 * A pre-norm transformer with causal self-attention (Radford et al. 2021,
 * §2.4; modeling_clip.py CLIPEncoderLayer):
 *   h_0 = token_embedding[ids] + position_embedding[0 .. T)
 *   y   = h + out_proj(attn(layer_norm1(h))),  h' = y + fc2(act(fc1(layer_norm2(y))))
 *   last_hidden_state = final_layer_norm(h_L)
 * The int64 buffer text_model.embeddings.position_ids that older files carry
 * is never read (positions are 0 .. T-1, as that buffer says).
 */
#include "gen-model-private.h"
#include "gen-error.h"
#include "gen-text-ops.h"

#include <math.h>
#include <string.h>

#define P "text_model."

typedef struct
{
  GenLayerNorm layer_norm1, layer_norm2;
  GenLinear    q_proj, k_proj, v_proj, out_proj;   /* [hidden, hidden] */
  GenLinear    fc1;                                /* [intermediate, hidden] */
  GenLinear    fc2;                                /* [hidden, intermediate] */
} GenClipLayer;

struct _GenClipText
{
  int64_t       vocab, hidden, intermediate, max_pos, head_dim;
  int           layers, heads;
  bool          quick_gelu;          /* hidden_act "quick_gelu" (SD 1.x); else "gelu" (SD 2.x) */
  GenTensor     token_embedding;     /* [vocab, hidden]; data NULL when TOKEN_HALF holds it */
  GenHalf       token_half;          /* the table in F16/BF16 [vocab, hidden], or data NULL */
  GenTensor     position_embedding;  /* [max_pos, hidden] */
  GenClipLayer *layer;               /* [layers] */
  GenLayerNorm  final_layer_norm;
};

/* ---- config ------------------------------------------------------------------ */

gboolean
gen_clip_text_is_config (GenConfig *cfg)
{
  const char *type = NULL;
  char **archs = NULL;
  guint n = 0;
  gboolean yes = FALSE;

  if (gen_config_has (cfg, "architectures")
      && gen_config_get_string_array (cfg, "architectures", &archs, &n, NULL))
    for (guint i = 0; i < n; i++)
      yes |= strcmp (archs[i], "CLIPTextModel") == 0
             || strcmp (archs[i], "CLIPTextModelWithProjection") == 0;
  g_strfreev (archs);
  if (!yes && gen_config_get_string (cfg, "model_type", TRUE, NULL, &type, NULL) && type)
    yes = strcmp (type, "clip_text_model") == 0;
  return yes;
}

/* KEY as an integer in [LO, HI], CLIPTextConfig's default DEF when absent. */
static gboolean
get_size (GenConfig *cfg, const char *key, gint64 def, gint64 lo, gint64 hi, gint64 *out,
          GError **error)
{
  if (!gen_config_get_int (cfg, key, TRUE, def, out, error))
    return FALSE;
  if (*out < lo || *out > hi)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: %s = %" G_GINT64_FORMAT " is out of the supported range %" G_GINT64_FORMAT
                   " to %" G_GINT64_FORMAT, gen_config_path (cfg), key, *out, lo, hi);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_config (GenClipText *c, GenConfig *cfg, double *eps, GError **error)
{
  gint64 vocab, hidden, inter, layers, heads, max_pos;
  const char *act;

  if (!get_size (cfg, "vocab_size", 49408, 1, 1 << 24, &vocab, error)
      || !get_size (cfg, "hidden_size", 512, 1, 1 << 16, &hidden, error)
      || !get_size (cfg, "intermediate_size", 2048, 1, 1 << 18, &inter, error)
      || !get_size (cfg, "num_hidden_layers", 12, 1, 1024, &layers, error)
      || !get_size (cfg, "num_attention_heads", 8, 1, 1024, &heads, error)
      || !get_size (cfg, "max_position_embeddings", 77, 1, 1 << 16, &max_pos, error)
      || !gen_config_get_double (cfg, "layer_norm_eps", TRUE, 1e-5, eps, error)
      || !gen_config_get_string (cfg, "hidden_act", TRUE, "quick_gelu", &act, error))
    return FALSE;
  if (hidden % heads != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: hidden_size %" G_GINT64_FORMAT " is not divisible by num_attention_heads %"
                   G_GINT64_FORMAT, gen_config_path (cfg), hidden, heads);
      return FALSE;
    }
  if (!(*eps >= 0.0 && *eps < 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: layer_norm_eps %g is out of the supported range [0, 1)",
                   gen_config_path (cfg), *eps);
      return FALSE;
    }
  if (strcmp (act, "quick_gelu") != 0 && strcmp (act, "gelu") != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: hidden_act '%s' is not supported (supported: quick_gelu, gelu)",
                   gen_config_path (cfg), act);
      return FALSE;
    }
  c->vocab = vocab, c->hidden = hidden, c->intermediate = inter, c->max_pos = max_pos;
  c->layers = (int) layers, c->heads = (int) heads, c->head_dim = hidden / heads;
  c->quick_gelu = strcmp (act, "quick_gelu") == 0;
  return TRUE;
}

/* ---- weights ----------------------------------------------------------------- */

static gboolean
load_layer_norm (GenWeights *w, GenLayerNorm *ln, int64_t dim, float eps, GError **error,
                 const char *prefix)
{
  int64_t shape[1] = { dim };

  ln->eps = eps;
  return gen_weights_get (w, &ln->weight, 1, shape, error, "%s.weight", prefix)
         && gen_weights_get (w, &ln->bias, 1, shape, error, "%s.bias", prefix);
}

static gboolean
load_layer (GenWeights *w, GenClipText *c, int i, float eps, GError **error)
{
  GenClipLayer *l = &c->layer[i];
  int64_t hd = c->hidden, in = c->intermediate;
  char *p = g_strdup_printf (P "encoder.layers.%d", i);
  char *ln1 = g_strconcat (p, ".layer_norm1", NULL), *ln2 = g_strconcat (p, ".layer_norm2", NULL);
  gboolean ok;

  ok = load_layer_norm (w, &l->layer_norm1, hd, eps, error, ln1)
       && gen_weights_linear (w, &l->q_proj, hd, hd, true, error, "%s.self_attn.q_proj", p)
       && gen_weights_linear (w, &l->k_proj, hd, hd, true, error, "%s.self_attn.k_proj", p)
       && gen_weights_linear (w, &l->v_proj, hd, hd, true, error, "%s.self_attn.v_proj", p)
       && gen_weights_linear (w, &l->out_proj, hd, hd, true, error, "%s.self_attn.out_proj", p)
       && load_layer_norm (w, &l->layer_norm2, hd, eps, error, ln2)
       && gen_weights_linear (w, &l->fc1, hd, in, true, error, "%s.mlp.fc1", p)
       && gen_weights_linear (w, &l->fc2, in, hd, true, error, "%s.mlp.fc2", p);
  g_free (ln1);
  g_free (ln2);
  g_free (p);
  return ok;
}

gboolean
gen_clip_text_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenClipText *c = g_new0 (GenClipText, 1);
  GenWeights *w = &m->weights;
  double eps;
  int64_t tok[2], pos[2];

  m->clip_text = c;
  if (!read_config (c, cfg, &eps, error))
    return FALSE;
  tok[0] = c->vocab, tok[1] = c->hidden;
  pos[0] = c->max_pos, pos[1] = c->hidden;
  if (!gen_weights_get_matrix (w, &c->token_embedding, &c->token_half, 2, tok, error,
                               P "embeddings.token_embedding.weight")
      || !gen_weights_get (w, &c->position_embedding, 2, pos, error,
                           P "embeddings.position_embedding.weight"))
    return FALSE;
  c->layer = g_new0 (GenClipLayer, c->layers);
  for (int i = 0; i < c->layers; i++)
    if (!load_layer (w, c, i, (float) eps, error))
      return FALSE;
  if (!load_layer_norm (w, &c->final_layer_norm, c->hidden, (float) eps, error,
                        P "final_layer_norm"))
    return FALSE;

  m->info.kind = GEN_MODEL_CLIP_TEXT;
  m->info.out_channels = (int) c->hidden;
  m->info.downscale = 1;
  m->info.vocab_size = (int) c->vocab;
  m->info.max_tokens = (int) c->max_pos;
  m->info.num_layers = c->layers;
  return TRUE;
}

void
gen_clip_text_free (GenClipText *c)
{
  if (!c)
    return;
  g_free (c->layer);
  g_free (c);
}

/* ---- forward ----------------------------------------------------------------- */

/* One CLIPEncoderLayer on the residual stream H [rows, hidden], in place. */
static void
layer_forward (const GenClipText *c, const GenClipLayer *l, float *h, int64_t n, int64_t t,
               GenArena *arena)
{
  int64_t rows = n * t, hd = c->hidden;
  gsize mark = gen_arena_mark (arena);
  float *x = gen_arena_alloc (arena, (gsize) (rows * hd));                 /* [rows, hidden] */
  float *q = gen_arena_alloc (arena, (gsize) (rows * hd));                 /* [rows, hidden] */
  float *k = gen_arena_alloc (arena, (gsize) (rows * hd));                 /* [rows, hidden] */
  float *v = gen_arena_alloc (arena, (gsize) (rows * hd));                 /* [rows, hidden] */
  float *a = gen_arena_alloc (arena, (gsize) (rows * hd));                 /* [rows, hidden] */
  float *m;                                                                /* [rows, intermediate] */

  if (!a)
    goto out;
  gen_layer_norm (&l->layer_norm1, h, x, rows, hd);
  gen_linear (&l->q_proj, x, q, rows, arena);
  gen_linear (&l->k_proj, x, k, rows, arena);
  gen_linear (&l->v_proj, x, v, rows, arena);
  gen_attention_causal (q, k, v, a, n, t, c->heads, c->head_dim,
                        (float) (1.0 / sqrt ((double) c->head_dim)), arena);
  gen_linear_add (&l->out_proj, a, h, rows, arena);
  gen_arena_release (arena, mark);

  x = gen_arena_alloc (arena, (gsize) (rows * hd));
  m = gen_arena_alloc (arena, (gsize) (rows * c->intermediate));
  if (!m)
    goto out;
  gen_layer_norm (&l->layer_norm2, h, x, rows, hd);
  gen_linear (&l->fc1, x, m, rows, arena);
  if (c->quick_gelu)
    gen_quick_gelu (m, m, rows * c->intermediate);
  else
    gen_gelu (m, m, rows * c->intermediate);
  gen_linear_add (&l->fc2, m, h, rows, arena);
out:
  gen_arena_release (arena, mark);
}

gboolean
gen_clip_text_forward (GenModel *model, const int32_t *ids, int64_t n, int64_t t, int clip_skip,
                       GenTensor *out, GenArena *arena, GenTapFunc tap, gpointer tap_data,
                       GError **error)
{
  const GenClipText *c = model->clip_text;
  int64_t rows, hd;
  float *h;                          /* [N, T, hidden]: the residual stream */
  GenTensor ht;

  if (!c)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a CLIPTextModel",
                   model->class_name);
      return FALSE;
    }
  if (n < 1 || t < 1 || t > c->max_pos || n > G_MAXINT32 / t)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the text encoder takes 1 to %" G_GINT64_FORMAT " tokens per prompt; got %"
                   G_GINT64_FORMAT " prompts of %" G_GINT64_FORMAT, c->max_pos, n, t);
      return FALSE;
    }
  if (clip_skip < 0 || clip_skip > c->layers)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "clip skip %d is out of range 0 to %d (the encoder's layers)", clip_skip,
                   c->layers);
      return FALSE;
    }
  hd = c->hidden;
  rows = n * t;
  if (out->ne[0] != 1 || out->ne[1] != n || out->ne[2] != t || out->ne[3] != hd
      || !gen_tensor_is_contiguous (out))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "output tensor of the wrong shape for the text encoder");
      return FALSE;
    }
  for (int64_t r = 0; r < rows; r++)
    if (ids[r] < 0 || ids[r] >= c->vocab)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                     "token id %d (prompt %" G_GINT64_FORMAT ", position %" G_GINT64_FORMAT
                     ") is outside the vocabulary of %" G_GINT64_FORMAT, ids[r], r / t, r % t,
                     c->vocab);
        return FALSE;
      }
  if (!gen_arena_reset (arena, error))
    return FALSE;

  h = gen_arena_alloc (arena, (gsize) (rows * hd));
  ht = gen_tensor_view (h, 1, n, t, hd);
  if (h)
    for (int64_t r = 0; r < rows; r++)
      {
        const float *pe = c->position_embedding.data + (r % t) * hd;

        /* the token's row of the table, made F32 in place when it is F16/BF16 */
        if (c->token_half.data)
          gen_half_to_f32 (&c->token_half, (int64_t) ids[r] * hd, hd, h + r * hd);
        else
          memcpy (h + r * hd, c->token_embedding.data + (int64_t) ids[r] * hd,
                  sizeof (float) * hd);
        for (int64_t i = 0; i < hd; i++)
          h[r * hd + i] += pe[i];
      }
  gen_tap (tap, tap_data, &ht, P "embeddings");
  /* diffusers' clip_skip k: the output of layer L - k (hidden_states[-(k + 1)]),
   * so the last k layers need not run */
  for (int i = 0; i < c->layers - clip_skip; i++)
    {
      layer_forward (c, &c->layer[i], h, n, t, arena);
      gen_tap (tap, tap_data, &ht, P "encoder.layers.%d", i);
    }
  gen_layer_norm (&c->final_layer_norm, h, out->data, rows, hd);
  return gen_arena_check (arena, error);
}
