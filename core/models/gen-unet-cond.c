/* gen-unet-cond.c — diffusers UNet2DConditionModel, the Stable Diffusion
 * UNet (Rombach et al. 2022): the DDPM UNet with a spatial transformer after
 * each resnet of the cross-attention blocks, conditioned on the text
 * encoder's states; built from its config.json as SD 1.x / 2.x, their
 * inpainting variants, LCM (time_cond_proj_dim) and BK-SDM (no mid block)
 * write it. */
#include "gen-transformer.h"
#include "gen-error.h"

#include <string.h>

typedef struct
{
  GenUNetLevel      level;       /* resnets and resampler */
  GenTransformer2D *attns;       /* [level.n_layers] for CrossAttn{Down,Up}Block2D, else NULL */
} GenCondBlock;

struct _GenUNetCond
{
  int              n_levels;
  GenCondBlock    *down;          /* [n_levels] */
  GenCondBlock    *up;            /* [n_levels] */
  bool             has_mid;       /* mid_block_type null (BK-SDM): none */
  GenResnet        mid_resnets[2];
  GenTransformer2D mid_attn;
  GenConv2d        conv_in, conv_out;
  GenGroupNorm     conv_norm_out;
  bool             flip_sin_to_cos;
  float            freq_shift;
  GenLinear        time_linear_1, time_linear_2;
  GenLinear        cond_proj;     /* time_embedding.cond_proj [c0, cond_dim], no bias */
  int64_t          cond_dim;      /* time_cond_proj_dim, 0 if none */
  int64_t          c0, temb_ch, ctx_dim;
  bool             center_input_sample;
  int              n_skips;
};

static void
block_free (GenCondBlock *b)
{
  if (b->attns)
    for (int j = 0; j < b->level.n_layers; j++)
      gen_transformer2d_clear (&b->attns[j]);
  gen_unet_level_clear (&b->level);
  g_free (b->attns);
}

void
gen_unet_cond_free (GenUNetCond *u)
{
  if (!u)
    return;
  for (int i = 0; i < u->n_levels; i++)
    {
      if (u->down)
        block_free (&u->down[i]);
      if (u->up)
        block_free (&u->up[i]);
    }
  gen_transformer2d_clear (&u->mid_attn);
  g_free (u->down);
  g_free (u->up);
  g_free (u);
}

#define CLASS "UNet2DConditionModel"

/* Keys whose non-neutral value changes the computation in a way we do not
 * implement (class labels, SDXL's added embeddings, Kandinsky's projected
 * states, GLIGEN, …): they must be absent or null / neutral.
 * resnet_skip_time_act, resnet_out_scale_factor and cross_attention_norm
 * reach only block types refused by name, so diffusers ignores them here. */
static gboolean
check_unsupported_keys (GenConfig *cfg, GError **error)
{
  static const char *const must_be_null[] = {
    "class_embed_type", "num_class_embeds", "addition_embed_type", "encoder_hid_dim",
    "encoder_hid_dim_type", "time_embedding_act_fn", "timestep_post_act",
    "reverse_transformer_layers_per_block",
  };
  static const char *const must_be_false[] = {
    "dual_cross_attention", "class_embeddings_concat",
  };
  static const struct { const char *key, *value; } strings[] = {
    { "attention_type", "default" },
    { "time_embedding_type", "positional" },
  };
  const char *s;
  gboolean b;
  gint64 k;

  if (!gen_config_check_null (cfg, CLASS, must_be_null, G_N_ELEMENTS (must_be_null), error))
    return FALSE;
  if (gen_config_has (cfg, "num_attention_heads"))
    {
      /* diffusers itself refuses it (the attention_head_dim naming issue) */
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: num_attention_heads must be null: diffusers reads the head count "
                   "from attention_head_dim", gen_config_path (cfg));
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (must_be_false); i++)
    {
      if (!gen_config_get_bool (cfg, must_be_false[i], TRUE, FALSE, &b, error))
        return FALSE;
      if (b)
        return gen_config_unsupported (cfg, CLASS, must_be_false[i], "true", error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      if (!gen_config_get_string (cfg, strings[i].key, TRUE, strings[i].value, &s, error))
        return FALSE;
      if (strcmp (s, strings[i].value) != 0)
        return gen_config_unsupported (cfg, CLASS, strings[i].key, s, error);
    }
  if (!gen_config_get_bool (cfg, "only_cross_attention", TRUE, FALSE, &b, NULL) || b)
    return gen_config_unsupported (cfg, CLASS, "only_cross_attention", "true (or a list)",
                                   error);
  for (guint i = 0; i < 2; i++)
    {
      const char *key = i ? "conv_out_kernel" : "conv_in_kernel";
      char v[32];

      if (!gen_config_get_int (cfg, key, TRUE, 3, &k, error))
        return FALSE;
      g_snprintf (v, sizeof v, "%" G_GINT64_FORMAT, k);
      if (k != 3)
        return gen_config_unsupported (cfg, CLASS, key, v, error);
    }
  if (gen_config_has (cfg, "mid_block_type"))
    {
      if (!gen_config_get_string (cfg, "mid_block_type", TRUE, NULL, &s, error))
        return FALSE;
      if (strcmp (s, "UNetMidBlock2DCrossAttn") != 0)
        return gen_config_unsupported (cfg, CLASS, "mid_block_type", s, error);
    }
  return gen_config_check_act (cfg, "act_fn", "silu", false, NULL, error);
}

/* KEY as one integer for every level (DEF when absent or null) or a list of
 * N_LEVELS integers (diffusers accepts both for the per-level keys). */
static gboolean
get_per_level (GenConfig *cfg, const char *key, gint64 def, guint n_levels, gint64 *out,
               GError **error)
{
  gint64 one, *list = NULL;
  guint n = 0;

  if (gen_config_get_int (cfg, key, TRUE, def, &one, NULL))
    {
      for (guint i = 0; i < n_levels; i++)
        out[i] = one;
      return TRUE;
    }
  if (!gen_config_get_int_array (cfg, key, &list, &n, NULL) || n != n_levels)
    {
      g_free (list);
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %s must be an integer or a list of %u integers (one per level)",
                   gen_config_path (cfg), key, n_levels);
      return FALSE;
    }
  memcpy (out, list, sizeof (gint64) * n_levels);
  g_free (list);
  return TRUE;
}

static gboolean
load_block (GenWeights *w, GenCondBlock *b, bool up, int index, bool cross, int n_layers,
            int64_t in_ch, int64_t out_ch, int64_t prev_out_ch, bool add_resampler,
            const GenUNetLevelArgs *a, int heads, int64_t ctx_dim, GError **error)
{
  if (!gen_unet_level_load (w, &b->level, up, index, n_layers, in_ch, out_ch, prev_out_ch,
                            add_resampler, a, error))
    return FALSE;
  b->attns = cross ? g_new0 (GenTransformer2D, n_layers) : NULL;
  for (int j = 0; cross && j < n_layers; j++)
    {
      char prefix[96];

      g_snprintf (prefix, sizeof prefix, "%s.%d.attentions.%d", up ? "up_blocks" : "down_blocks",
                  index, j);
      if (!gen_transformer2d_load (w, &b->attns[j], prefix, out_ch, heads, 1, ctx_dim, a->groups,
                                   error))
        return FALSE;
    }
  return TRUE;
}

/* The block type at level I: TRUE for the cross-attention one. */
static gboolean
block_kind (GenConfig *cfg, const char *type, bool up, bool *cross, GError **error)
{
  const char *plain = up ? "UpBlock2D" : "DownBlock2D";
  const char *with = up ? "CrossAttnUpBlock2D" : "CrossAttnDownBlock2D";

  if (g_str_has_prefix (type, "UNetRes"))  /* get_down_block / get_up_block strip it */
    type += 7;
  *cross = strcmp (type, with) == 0;
  if (*cross || strcmp (type, plain) == 0)
    return TRUE;
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s block type '%s' is not supported (supported: %s, %s)",
               gen_config_path (cfg), up ? "up" : "down", type, plain, with);
  return FALSE;
}

gboolean
gen_unet_cond_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenUNetCond *u = g_new0 (GenUNetCond, 1);
  GenUNetConfig c = { 0 };
  guint n_ch;
  gint64 *chans;
  gint64 heads[GEN_UNET_MAX_LEVELS], cross_dim[GEN_UNET_MAX_LEVELS];
  gint64 layers[GEN_UNET_MAX_LEVELS], tlayers[GEN_UNET_MAX_LEVELS];
  bool down_cross[GEN_UNET_MAX_LEVELS], up_cross[GEN_UNET_MAX_LEVELS];
  gint64 temb_dim, cond_dim;
  gboolean linear, upcast;
  GenWeights *w = &m->weights;
  GenUNetLevelArgs a;
  gboolean ok = FALSE;

  m->unet_cond = u;
  if (!check_unsupported_keys (cfg, error)
      || !gen_unet_config_read (cfg, CLASS, 4, &c, error)
      || !gen_config_get_int (cfg, "time_embedding_dim", TRUE, 0, &temb_dim, error)
      || !gen_config_get_int (cfg, "time_cond_proj_dim", TRUE, 0, &cond_dim, error)
      || !gen_config_get_bool (cfg, "use_linear_projection", TRUE, FALSE, &linear, error)
      || !gen_config_get_bool (cfg, "upcast_attention", TRUE, FALSE, &upcast, error))
    goto out;
  /* use_linear_projection changes only the stored shape of proj_in/out, and
   * upcast_attention only the precision of an F16 product: both are read
   * for their type and otherwise change nothing in float32 */
  (void) linear;
  (void) upcast;
  n_ch = c.n_levels;
  chans = c.chans;

  /* diffusers' naming quirk: attention_head_dim holds the number of heads
   * (num_attention_heads = num_attention_heads or attention_head_dim) */
  if (!get_per_level (cfg, "attention_head_dim", 8, n_ch, heads, error)
      || !get_per_level (cfg, "cross_attention_dim", 1280, n_ch, cross_dim, error)
      || !get_per_level (cfg, "layers_per_block", 2, n_ch, layers, error)
      || !get_per_level (cfg, "transformer_layers_per_block", 1, n_ch, tlayers, error))
    goto out;
  for (guint i = 0; i < n_ch; i++)
    {
      char v[32];

      if (!block_kind (cfg, c.down_types[i], false, &down_cross[i], error)
          || !block_kind (cfg, c.up_types[i], true, &up_cross[i], error))
        goto out;
      g_snprintf (v, sizeof v, "%" G_GINT64_FORMAT, tlayers[i]);
      if (tlayers[i] != 1)
        {
          gen_config_unsupported (cfg, CLASS, "transformer_layers_per_block", v, error);
          goto out;
        }
      if (cross_dim[i] != cross_dim[0])
        {
          gen_config_unsupported (cfg, CLASS, "cross_attention_dim", "(different per level)",
                                  error);
          goto out;
        }
      /* (heads above a transformer's width are refused where one is loaded) */
      if (layers[i] < 1 || layers[i] > 16 || heads[i] < 1 || heads[i] > 65536)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                       "%s: layers_per_block or attention_head_dim (the head count) of level %u "
                       "out of range", gen_config_path (cfg), i);
          goto out;
        }
    }
  if (temb_dim < 0 || temb_dim > 65536 || cond_dim < 0 || cond_dim > 65536 || cross_dim[0] < 1
      || cross_dim[0] > 65536)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: time_embedding_dim, time_cond_proj_dim or cross_attention_dim out of the "
                   "supported range", gen_config_path (cfg));
      goto out;
    }

  u->n_levels = (int) n_ch;
  u->c0 = chans[0];
  u->temb_ch = temb_dim > 0 ? temb_dim : 4 * chans[0];
  u->ctx_dim = cross_dim[0];
  u->cond_dim = cond_dim;
  u->center_input_sample = c.center;
  u->flip_sin_to_cos = c.flip;
  u->freq_shift = (float) c.freq_shift;
  u->has_mid = gen_config_has (cfg, "mid_block_type")
               || !gen_config_contains (cfg, "mid_block_type");   /* null: BK-SDM */
  m->info.kind = GEN_MODEL_UNET_COND;
  m->info.in_channels = (int) c.in_ch;
  m->info.out_channels = (int) c.out_ch;
  m->info.sample_size = (int) c.sample_size;
  m->info.downscale = 1 << (n_ch - 1);
  m->info.cross_attention_dim = (int) cross_dim[0];
  m->info.time_cond_proj_dim = (int) cond_dim;

  a.temb_ch = u->temb_ch;
  a.groups = (int) c.groups;
  a.eps = (float) c.eps;
  a.scale_shift = c.scale_shift;
  a.downsample_padding = (int) c.down_pad;
  if (!gen_weights_linear (w, &u->time_linear_1, u->c0, u->temb_ch, true, error,
                           "time_embedding.linear_1")
      || !gen_weights_linear (w, &u->time_linear_2, u->temb_ch, u->temb_ch, true, error,
                              "time_embedding.linear_2")
      || (cond_dim > 0
          && !gen_weights_linear (w, &u->cond_proj, cond_dim, u->c0, false, error,
                                  "time_embedding.cond_proj"))
      || !gen_weights_conv (w, &u->conv_in, c.in_ch, u->c0, 3, 1, 1, true, error, "conv_in"))
    goto out;

  u->down = g_new0 (GenCondBlock, n_ch);
  u->up = g_new0 (GenCondBlock, n_ch);
  u->n_skips = 1;
  for (guint i = 0; i < n_ch; i++)
    {
      bool final = i == n_ch - 1;

      if (!load_block (w, &u->down[i], false, (int) i, down_cross[i], (int) layers[i],
                       i == 0 ? chans[0] : chans[i - 1], chans[i], 0, !final, &a, (int) heads[i],
                       u->ctx_dim, error))
        goto out;
      u->n_skips += (int) layers[i] + (final ? 0 : 1);
    }

  /* UNetMidBlock2DCrossAttn: resnet, transformer (the last level's heads),
   * resnet; the resnets divide by mid_block_scale_factor */
  if (u->has_mid
      && (!gen_resnet_load (w, &u->mid_resnets[0], "mid_block.resnets.0", chans[n_ch - 1],
                            chans[n_ch - 1], u->temb_ch, a.groups, a.eps, a.scale_shift,
                            (float) c.mid_scale, error)
          || !gen_transformer2d_load (w, &u->mid_attn, "mid_block.attentions.0",
                                      chans[n_ch - 1], (int) heads[n_ch - 1], 1, u->ctx_dim,
                                      a.groups, error)
          || !gen_resnet_load (w, &u->mid_resnets[1], "mid_block.resnets.1", chans[n_ch - 1],
                               chans[n_ch - 1], u->temb_ch, a.groups, a.eps, a.scale_shift,
                               (float) c.mid_scale, error)))
    goto out;

  /* up blocks: widths, head counts and layer counts in reverse level order */
  for (guint i = 0; i < n_ch; i++)
    {
      guint lv = n_ch - 1 - i;
      int64_t prev_c = chans[n_ch - 1 - (i == 0 ? 0 : i - 1)];
      int64_t in_c = chans[n_ch - 1 - MIN (i + 1, n_ch - 1)];

      if (!load_block (w, &u->up[i], true, (int) i, up_cross[i], (int) layers[lv] + 1, in_c,
                       chans[lv], prev_c, i != n_ch - 1, &a, (int) heads[lv], u->ctx_dim, error))
        goto out;
    }
  if (!gen_weights_group_norm (w, &u->conv_norm_out, u->c0, a.groups, a.eps, error,
                               "conv_norm_out")
      || !gen_weights_conv (w, &u->conv_out, u->c0, c.out_ch, 3, 1, 1, true, error, "conv_out"))
    goto out;
  ok = TRUE;

out:
  gen_unet_config_clear (&c);
  return ok;
}

/* GenUNetAttnFunc: the CrossAttn{Down,Up}Block2D transformer. */
typedef struct
{
  const GenTransformer2D *attns;
  const float            *ctx;       /* [N, ctx_len, ctx_dim] */
  int64_t                 ctx_len;
} CrossArgs;

static void
cross_after (int layer, GenTensor *h, GenArena *arena, gpointer data)
{
  const CrossArgs *c = data;

  gen_transformer2d_forward (&c->attns[layer], h, c->ctx, c->ctx_len, h, arena);
}

gboolean
gen_unet_cond_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                       const float *ctx, int64_t ctx_len, const float *timestep_cond,
                       GenTensor *out, GenArena *arena, GenTapFunc tap, gpointer tap_data,
                       GError **error)
{
  GenUNetCond *u = model->unet_cond;
  int64_t n = x->ne[0], hh = x->ne[2], ww = x->ne[3];
  GenTensor h, temb, temb_silu, t_in, cond;
  GenTensor *skips;
  bool skip_size;
  int n_skip = 0;

  if (!u)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a UNet2DConditionModel",
                   model->class_name);
      return FALSE;
    }
  if (!gen_unet_check_io (model, x, out, error))
    return FALSE;
  if (n < 1 || hh < 1 || ww < 1 || !ctx || ctx_len < 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet2DConditionModel needs a non-empty sample and encoder_hidden_states "
                   "[N, L, %" G_GINT64_FORMAT "]", u->ctx_dim);
      return FALSE;
    }
  if (timestep_cond && u->cond_dim == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "timestep_cond given to a UNet without time_cond_proj_dim");
      return FALSE;
    }
  if (!gen_arena_reset (arena, error))
    return FALSE;
  skips = g_newa (GenTensor, u->n_skips);   /* per call: forwards may run concurrently */

  /* diffusers forwards each skip's size to the upsamplers when the input is
   * not a multiple of 2^(levels - 1) */
  skip_size = hh % model->info.downscale != 0 || ww % model->info.downscale != 0;

  /* time embedding: sinusoidal features (+ cond_proj (timestep_cond), LCM's
   * guidance embedding, Luo et al. 2023) → linear → SiLU → linear */
  t_in = gen_arena_tensor (arena, 1, 1, n, u->c0);
  cond = gen_arena_tensor (arena, 1, 1, n, u->c0);
  temb = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  temb_silu = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  if (!t_in.data || !cond.data || !temb.data || !temb_silu.data)
    return gen_arena_check (arena, error);
  gen_timestep_embedding (timesteps, n, u->c0, u->flip_sin_to_cos, u->freq_shift, 1.0f,
                          10000.0f, t_in.data);
  if (timestep_cond)
    {
      gen_linear (&u->cond_proj, timestep_cond, cond.data, n, arena);
      for (int64_t i = 0; i < n * u->c0; i++)
        t_in.data[i] += cond.data[i];
    }
  gen_unet_time_mlp (&u->time_linear_1, &u->time_linear_2, t_in.data, n, &temb, &temb_silu,
                     arena);
  gen_tap (tap, tap_data, &temb, "time_embedding");

  h = gen_arena_tensor (arena, n, u->c0, hh, ww);
  gen_unet_conv_in (&u->conv_in, x, u->center_input_sample, &h, arena);
  gen_tap (tap, tap_data, &h, "conv_in");
  skips[n_skip++] = h;

  for (int i = 0; i < u->n_levels; i++)
    {
      CrossArgs c = { u->down[i].attns, ctx, ctx_len };

      h = gen_unet_level_down (&u->down[i].level, h, temb_silu.data, c.attns ? cross_after : NULL,
                               &c, skips, &n_skip, arena);
      gen_tap (tap, tap_data, &h, "down_blocks.%d", i);
    }

  /* UNetMidBlock2DCrossAttn: resnet, transformer, resnet */
  if (u->has_mid)
    {
      GenTensor y = gen_arena_tensor (arena, n, h.ne[1], h.ne[2], h.ne[3]);
      gsize mark = gen_arena_mark (arena);
      GenTensor t = gen_arena_tensor (arena, n, h.ne[1], h.ne[2], h.ne[3]);

      gen_resnet_forward (&u->mid_resnets[0], &h, temb_silu.data, &t, arena);
      gen_transformer2d_forward (&u->mid_attn, &t, ctx, ctx_len, &t, arena);
      gen_resnet_forward (&u->mid_resnets[1], &t, temb_silu.data, &y, arena);
      gen_arena_release (arena, mark);
      h = y;
      gen_tap (tap, tap_data, &h, "mid_block");
    }

  for (int i = 0; i < u->n_levels; i++)
    {
      CrossArgs c = { u->up[i].attns, ctx, ctx_len };

      h = gen_unet_level_up (&u->up[i].level, h, temb_silu.data, c.attns ? cross_after : NULL, &c,
                             skips, &n_skip, skip_size, arena);
      gen_tap (tap, tap_data, &h, "up_blocks.%d", i);
    }

  gen_conv2d_norm_silu (&u->conv_out, &u->conv_norm_out, &h, out, false, arena);
  if (!gen_arena_check (arena, error))
    return FALSE;
  if (tap)
    tap ("sample", out, tap_data);
  return TRUE;
}
