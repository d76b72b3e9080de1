/* gen-transformer.c — Transformer2DModel and BasicTransformerBlock of the
 * Stable Diffusion UNet (diffusers transformer_2d.py, attention.py): group
 * norm, projection to tokens, self-attention, cross-attention on the text
 * encoder's states, GEGLU feed-forward, projection back, residual. */
#include "gen-transformer.h"
#include "gen-error.h"
#include "gen-text-ops.h"

#include <math.h>
#include <string.h>

/* ---- loading ---------------------------------------------------------------- */

static gboolean
load_layer_norm (GenWeights *w, GenLayerNorm *ln, int64_t dim, const char *prefix,
                 const char *name, GError **error)
{
  int64_t s[1] = { dim };

  memset (ln, 0, sizeof *ln);
  ln->eps = 1e-5f;         /* BasicTransformerBlock's norm_eps */
  return gen_weights_get (w, &ln->weight, 1, s, error, "%s.%s.weight", prefix, name)
         && gen_weights_get (w, &ln->bias, 1, s, error, "%s.%s.bias", prefix, name);
}

static gboolean
load_xattn (GenWeights *w, GenXAttn *a, const char *prefix, const char *name, int64_t dim,
            int heads, int64_t dim_head, int64_t ctx_dim, GError **error)
{
  memset (a, 0, sizeof *a);
  a->heads = heads;
  a->dim_head = dim_head;
  a->inner = heads * dim_head;
  a->ctx_dim = ctx_dim;
  return gen_weights_linear (w, &a->to_q, dim, a->inner, false, error, "%s.%s.to_q", prefix, name)
         && gen_weights_linear (w, &a->to_k, ctx_dim, a->inner, false, error, "%s.%s.to_k",
                                prefix, name)
         && gen_weights_linear (w, &a->to_v, ctx_dim, a->inner, false, error, "%s.%s.to_v",
                                prefix, name)
         && gen_weights_linear (w, &a->to_out, a->inner, dim, true, error, "%s.%s.to_out.0",
                                prefix, name);
}

static gboolean
load_block (GenWeights *w, GenTransformerBlock *b, const char *prefix, int64_t dim, int heads,
            int64_t dim_head, int64_t ctx_dim, GError **error)
{
  memset (b, 0, sizeof *b);
  b->ff_inner = 4 * dim;   /* FeedForward mult = 4 */
  return load_layer_norm (w, &b->norm1, dim, prefix, "norm1", error)
         && load_xattn (w, &b->attn1, prefix, "attn1", dim, heads, dim_head, dim, error)
         && load_layer_norm (w, &b->norm2, dim, prefix, "norm2", error)
         && load_xattn (w, &b->attn2, prefix, "attn2", dim, heads, dim_head, ctx_dim, error)
         && load_layer_norm (w, &b->norm3, dim, prefix, "norm3", error)
         && gen_weights_linear (w, &b->ff_proj, dim, 2 * b->ff_inner, true, error,
                                "%s.ff.net.0.proj", prefix)
         && gen_weights_linear (w, &b->ff_out, b->ff_inner, dim, true, error, "%s.ff.net.2",
                                prefix);
}

gboolean
gen_transformer2d_load (GenWeights *w, GenTransformer2D *t, const char *prefix,
                        int64_t channels, int heads, int n_layers, int64_t ctx_dim,
                        int groups, GError **error)
{
  int64_t dim_head;

  memset (t, 0, sizeof *t);
  if (heads < 1 || heads > channels || ctx_dim < 1 || n_layers < 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: %s: %d attention heads for %" G_GINT64_FORMAT " channels (context %"
                   G_GINT64_FORMAT " wide) is out of range", w->where, prefix, heads, channels,
                   ctx_dim);
      return FALSE;
    }
  /* Transformer2DModel (heads, channels // heads): the inner width may be
   * below the channel count when HEADS does not divide it. */
  dim_head = channels / heads;
  t->channels = channels;
  t->inner = heads * dim_head;
  t->ctx_dim = ctx_dim;
  t->n_blocks = n_layers;
  t->blocks = g_new0 (GenTransformerBlock, n_layers);
  /* the norm's eps is Transformer2DModel's fixed 1e-6; proj_in/out are 1×1
   * convs or (use_linear_projection) Linear layers: the weights differ only
   * by trailing 1×1 dims, which the loader accepts either way */
  if (!gen_weights_group_norm (w, &t->norm, channels, groups, 1e-6f, error, "%s.norm", prefix)
      || !gen_weights_linear (w, &t->proj_in, channels, t->inner, true, error, "%s.proj_in",
                              prefix)
      || !gen_weights_linear (w, &t->proj_out, t->inner, channels, true, error, "%s.proj_out",
                              prefix))
    return FALSE;
  for (int i = 0; i < n_layers; i++)
    {
      char p[128];

      g_snprintf (p, sizeof p, "%s.transformer_blocks.%d", prefix, i);
      if (!load_block (w, &t->blocks[i], p, t->inner, heads, dim_head, ctx_dim, error))
        return FALSE;
    }
  return TRUE;
}

void
gen_transformer2d_clear (GenTransformer2D *t)
{
  g_clear_pointer (&t->blocks, g_free);
  t->n_blocks = 0;
}

/* ---- forward ------------------------------------------------------------------ */

/* ACC[Lq, D] += W_o · attention (XQ W_qᵀ, XC W_kᵀ, XC W_vᵀ) + b_o  (Vaswani
 * et al. 2017, eq. 1 per head, heads side by side as column slices).  Q, K,
 * V, O are the caller's buffers: [Lq, inner], [Lk, inner] ×2, [Lq, inner]. */
static void
xattn_forward (const GenXAttn *a, const float *xq, int64_t lq, const float *xc, int64_t lk,
               float *acc, float *q, float *k, float *v, float *o, GenArena *arena)
{
  int64_t in = a->inner;
  float scale = 1.0f / sqrtf ((float) a->dim_head);

  gen_linear (&a->to_q, xq, q, lq, arena);
  gen_linear (&a->to_k, xc, k, lk, arena);
  gen_linear (&a->to_v, xc, v, lk, arena);
  for (int hd = 0; hd < a->heads; hd++)
    {
      int64_t off = hd * a->dim_head;

      /* one head's score band at a time (gen_attention's scratch) */
      gen_attention (q + off, (int) in, k + off, (int) in, v + off, (int) in, o + off, (int) in,
                     lq, lk, a->dim_head, a->dim_head, scale, arena);
    }
  gen_linear_add (&a->to_out, o, acc, lq, arena);
}

/* The 1×1 projections between channel-first features and tokens: with IN,
 * H[HW, inner] += X[C, HW]ᵀ · Wᵀ (proj_in, W [inner, C]); else
 * Y[C, HW] += W · X[HW, inner]ᵀ (proj_out, W [C, inner]). */
static void
project (const GenLinear *lin, bool in, const float *x, float *y, int64_t hw, int64_t c,
         int64_t inner, GenArena *arena)
{
  gsize mark = gen_arena_mark (arena);
  const float *w = gen_weight_f32 (&lin->weight, &lin->half, arena);

  if (w && in)
    gen_gemm (true, true, (int) hw, (int) inner, (int) c, 1.0f, x, (int) hw, w, (int) c, 1.0f, y,
              (int) inner);
  else if (w)
    gen_gemm (false, true, (int) c, (int) hw, (int) inner, 1.0f, w, (int) inner, x, (int) inner,
              1.0f, y, (int) hw);
  gen_arena_release (arena, mark);
}

void
gen_transformer2d_forward (const GenTransformer2D *t, const GenTensor *x, const float *ctx,
                           int64_t ctx_len, GenTensor *y, GenArena *arena)
{
  int64_t n = x->ne[0], c = t->channels, hw = x->ne[2] * x->ne[3], in = t->inner;
  int64_t ff = t->n_blocks > 0 ? t->blocks[0].ff_inner : 0, lkv = MAX (hw, ctx_len);
  gsize mark = gen_arena_mark (arena);
  GenTensor normed = gen_arena_tensor (arena, n, c, x->ne[2], x->ne[3]);
  float *h = gen_arena_alloc (arena, (gsize) (hw * in));     /* [HW, inner] the tokens */
  float *nrm = gen_arena_alloc (arena, (gsize) (hw * in));   /* [HW, inner] layer-normed */
  float *q = gen_arena_alloc (arena, (gsize) (hw * in));     /* [HW, inner] */
  float *k = gen_arena_alloc (arena, (gsize) (lkv * in));    /* [max(HW, L), inner] */
  float *v = gen_arena_alloc (arena, (gsize) (lkv * in));
  float *o = gen_arena_alloc (arena, (gsize) (hw * in));     /* [HW, inner] */
  float *proj = gen_arena_alloc (arena, (gsize) (hw * 2 * ff)); /* [HW, 2 · ff] GEGLU input */
  float *gated = gen_arena_alloc (arena, (gsize) (hw * ff)); /* [HW, ff] */

  gen_group_norm (&t->norm, x, &normed, false);
  if (!h || !nrm || !q || !k || !v || !o || !proj || !gated || !normed.data || !x->data
      || !y->data || !ctx)
    {
      gen_arena_release (arena, mark);
      return;
    }

  for (int64_t b = 0; b < n; b++)
    {
      const float *nb = normed.data + b * normed.nb[0];   /* [C, HW] */
      const float *cb = ctx + b * ctx_len * t->ctx_dim;   /* [L, ctx_dim] */
      float *yb = y->data + b * y->nb[0];                 /* [C, HW] */

      /* tokens H[HW, inner] = nᵀ · W_inᵀ + b_in */
      for (int64_t i = 0; i < hw; i++)
        memcpy (h + i * in, t->proj_in.bias.data, sizeof (float) * in);
      project (&t->proj_in, true, nb, h, hw, c, in, arena);

      for (int i = 0; i < t->n_blocks; i++)
        {
          const GenTransformerBlock *blk = &t->blocks[i];

          gen_layer_norm (&blk->norm1, h, nrm, hw, in);
          xattn_forward (&blk->attn1, nrm, hw, nrm, hw, h, q, k, v, o, arena);
          gen_layer_norm (&blk->norm2, h, nrm, hw, in);
          xattn_forward (&blk->attn2, nrm, hw, cb, ctx_len, h, q, k, v, o, arena);
          /* H += W_2 · geglu (W_1 · norm3 (H) + b_1) + b_2 */
          gen_layer_norm (&blk->norm3, h, nrm, hw, in);
          gen_linear (&blk->ff_proj, nrm, proj, hw, arena);
          gen_geglu (proj, gated, hw, blk->ff_inner);
          gen_linear_add (&blk->ff_out, gated, h, hw, arena);
        }

      /* y[C, HW] = x + W_out · Hᵀ + b_out */
      if (yb != x->data + b * x->nb[0])
        memcpy (yb, x->data + b * x->nb[0], sizeof (float) * c * hw);
      for (int64_t ch = 0; ch < c; ch++)
        {
          float bias = t->proj_out.bias.data[ch];
          float *row = yb + ch * hw;

          for (int64_t i = 0; i < hw; i++)
            row[i] += bias;
        }
      project (&t->proj_out, false, h, yb, hw, c, in, arena);
    }
  gen_arena_release (arena, mark);
}
