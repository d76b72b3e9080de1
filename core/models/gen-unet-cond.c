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
  bool              cross;       /* CrossAttn{Down,Up}Block2D */
  int               n_layers;
  GenResnet        *resnets;     /* [n_layers] */
  GenTransformer2D *attns;       /* [n_layers] when cross */
  bool              has_sampler; /* Downsample2D / Upsample2D */
  GenConv2d         sampler;
  int64_t           out_ch;
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
    for (int j = 0; j < b->n_layers; j++)
      gen_transformer2d_clear (&b->attns[j]);
  g_free (b->resnets);
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

static gboolean
unsupported (GenConfig *cfg, GError **error, const char *key, const char *value)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s = %s is not supported by this UNet2DConditionModel implementation",
               gen_config_path (cfg), key, value);
  return FALSE;
}

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

  for (guint i = 0; i < G_N_ELEMENTS (must_be_null); i++)
    if (gen_config_has (cfg, must_be_null[i]))
      return unsupported (cfg, error, must_be_null[i], "(set)");
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
        return unsupported (cfg, error, must_be_false[i], "true");
    }
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      if (!gen_config_get_string (cfg, strings[i].key, TRUE, strings[i].value, &s, error))
        return FALSE;
      if (strcmp (s, strings[i].value) != 0)
        return unsupported (cfg, error, strings[i].key, s);
    }
  if (!gen_config_get_bool (cfg, "only_cross_attention", TRUE, FALSE, &b, NULL) || b)
    return unsupported (cfg, error, "only_cross_attention", "true (or a list)");
  for (guint i = 0; i < 2; i++)
    {
      const char *key = i ? "conv_out_kernel" : "conv_in_kernel";
      char v[32];

      if (!gen_config_get_int (cfg, key, TRUE, 3, &k, error))
        return FALSE;
      g_snprintf (v, sizeof v, "%" G_GINT64_FORMAT, k);
      if (k != 3)
        return unsupported (cfg, error, key, v);
    }
  if (gen_config_has (cfg, "mid_block_type"))
    {
      if (!gen_config_get_string (cfg, "mid_block_type", TRUE, NULL, &s, error))
        return FALSE;
      if (strcmp (s, "UNetMidBlock2DCrossAttn") != 0)
        return unsupported (cfg, error, "mid_block_type", s);
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

typedef struct
{
  GenWeights *w;
  int64_t     temb_ch, ctx_dim;
  int         groups;
  float       eps;
  bool        scale_shift;
} BlockArgs;

static gboolean
load_block (const BlockArgs *a, GenCondBlock *b, bool up, int index, bool cross, int n_layers,
            int64_t in_ch, int64_t out_ch, int64_t prev_out_ch, bool add_sampler, int heads,
            int downsample_padding, GError **error)
{
  const char *kind = up ? "up_blocks" : "down_blocks";

  b->cross = cross;
  b->n_layers = n_layers;
  b->out_ch = out_ch;
  b->resnets = g_new0 (GenResnet, n_layers);
  b->attns = cross ? g_new0 (GenTransformer2D, n_layers) : NULL;
  for (int j = 0; j < n_layers; j++)
    {
      char prefix[96];
      int64_t rin;

      if (!up)
        rin = j == 0 ? in_ch : out_ch;
      else /* the last resnet takes the skip from the level above */
        rin = (j == 0 ? prev_out_ch : out_ch) + (j == n_layers - 1 ? in_ch : out_ch);
      g_snprintf (prefix, sizeof prefix, "%s.%d.resnets.%d", kind, index, j);
      if (!gen_resnet_load (a->w, &b->resnets[j], prefix, rin, out_ch, a->temb_ch, a->groups,
                            a->eps, a->scale_shift, 1.0f, error))
        return FALSE;
      g_snprintf (prefix, sizeof prefix, "%s.%d.attentions.%d", kind, index, j);
      if (cross
          && !gen_transformer2d_load (a->w, &b->attns[j], prefix, out_ch, heads, 1, a->ctx_dim,
                                      a->groups, error))
        return FALSE;
    }
  b->has_sampler = add_sampler;
  if (add_sampler && !up)
    {
      /* Downsample2D: stride-2 conv; padding 0 means F.pad (0, 1, 0, 1) */
      if (!gen_weights_conv (a->w, &b->sampler, out_ch, out_ch, 3, 2, downsample_padding, true,
                             error, "%s.%d.downsamplers.0.conv", kind, index))
        return FALSE;
      if (downsample_padding == 0)
        {
          b->sampler.pad[0] = b->sampler.pad[1] = 0;
          b->sampler.pad[2] = b->sampler.pad[3] = 1;
        }
    }
  else if (add_sampler
           && !gen_weights_conv (a->w, &b->sampler, out_ch, out_ch, 3, 1, 1, true, error,
                                 "%s.%d.upsamplers.0.conv", kind, index))
    return FALSE;
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
  char **down_types = NULL, **up_types = NULL;
  gint64 *chans = NULL;
  gint64 heads[8], cross_dim[8], layers[8], tlayers[8];
  bool down_cross[8], up_cross[8];
  guint n_down = 0, n_up = 0, n_ch = 0;
  gint64 in_ch, out_ch, groups, down_pad, sample_size, temb_dim, cond_dim;
  double eps, mid_scale, freq_shift;
  gboolean center, flip, linear, upcast;
  const char *shift_mode;
  BlockArgs a = { &m->weights, 0, 0, 0, 0.0f, false };
  gboolean ok = FALSE;

  m->unet_cond = u;
  if (!check_unsupported_keys (cfg, error)
      || !gen_config_get_int (cfg, "in_channels", TRUE, 4, &in_ch, error)
      || !gen_config_get_int (cfg, "out_channels", TRUE, 4, &out_ch, error)
      || !gen_config_get_int (cfg, "norm_num_groups", TRUE, 32, &groups, error)
      || !gen_config_get_int (cfg, "downsample_padding", TRUE, 1, &down_pad, error)
      || !gen_config_get_int (cfg, "sample_size", TRUE, 0, &sample_size, error)
      || !gen_config_get_int (cfg, "time_embedding_dim", TRUE, 0, &temb_dim, error)
      || !gen_config_get_int (cfg, "time_cond_proj_dim", TRUE, 0, &cond_dim, error)
      || !gen_config_get_double (cfg, "norm_eps", TRUE, 1e-5, &eps, error)
      || !gen_config_get_double (cfg, "mid_block_scale_factor", TRUE, 1.0, &mid_scale, error)
      || !gen_config_get_double (cfg, "freq_shift", TRUE, 0.0, &freq_shift, error)
      || !gen_config_get_bool (cfg, "center_input_sample", TRUE, FALSE, &center, error)
      || !gen_config_get_bool (cfg, "flip_sin_to_cos", TRUE, TRUE, &flip, error)
      || !gen_config_get_bool (cfg, "use_linear_projection", TRUE, FALSE, &linear, error)
      || !gen_config_get_bool (cfg, "upcast_attention", TRUE, FALSE, &upcast, error)
      || !gen_config_get_string (cfg, "resnet_time_scale_shift", TRUE, "default", &shift_mode, error)
      || !gen_config_get_string_array (cfg, "down_block_types", &down_types, &n_down, error)
      || !gen_config_get_string_array (cfg, "up_block_types", &up_types, &n_up, error)
      || !gen_config_get_channels (cfg, groups, &chans, &n_ch, error))
    goto out;
  /* use_linear_projection changes only the stored shape of proj_in/out, and
   * upcast_attention only the precision of an F16 product: both are read
   * for their type and otherwise change nothing in float32 */
  (void) linear;
  (void) upcast;

  if (n_ch == 0 || n_ch > G_N_ELEMENTS (heads) || n_down != n_ch || n_up != n_ch)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: block_out_channels (%u), down_block_types (%u) and up_block_types (%u) "
                   "must have the same length, 1 to 8",
                   gen_config_path (cfg), n_ch, n_down, n_up);
      goto out;
    }
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

      if (!block_kind (cfg, down_types[i], false, &down_cross[i], error)
          || !block_kind (cfg, up_types[i], true, &up_cross[i], error))
        goto out;
      g_snprintf (v, sizeof v, "%" G_GINT64_FORMAT, tlayers[i]);
      if (tlayers[i] != 1)
        {
          unsupported (cfg, error, "transformer_layers_per_block", v);
          goto out;
        }
      if (cross_dim[i] != cross_dim[0])
        {
          unsupported (cfg, error, "cross_attention_dim", "(different per level)");
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
  if (strcmp (shift_mode, "default") != 0 && strcmp (shift_mode, "scale_shift") != 0)
    {
      unsupported (cfg, error, "resnet_time_scale_shift", shift_mode);
      goto out;
    }
  if (in_ch <= 0 || in_ch > 64 || out_ch <= 0 || out_ch > 64 || groups <= 0
      || (down_pad != 0 && down_pad != 1) || temb_dim < 0 || temb_dim > 65536 || cond_dim < 0
      || cond_dim > 65536 || cross_dim[0] < 1 || cross_dim[0] > 65536)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: in_channels, out_channels, norm_num_groups, downsample_padding, "
                   "time_embedding_dim, time_cond_proj_dim or cross_attention_dim out of the "
                   "supported range", gen_config_path (cfg));
      goto out;
    }

  u->n_levels = (int) n_ch;
  u->c0 = chans[0];
  u->temb_ch = temb_dim > 0 ? temb_dim : 4 * chans[0];
  u->ctx_dim = cross_dim[0];
  u->cond_dim = cond_dim;
  u->center_input_sample = center;
  u->flip_sin_to_cos = flip;
  u->freq_shift = (float) freq_shift;
  u->has_mid = gen_config_has (cfg, "mid_block_type") || !gen_config_contains (cfg, "mid_block_type");
  m->info.kind = GEN_MODEL_UNET_COND;
  m->info.in_channels = (int) in_ch;
  m->info.out_channels = (int) out_ch;
  m->info.sample_size = (int) sample_size;
  m->info.downscale = 1 << (n_ch - 1);
  m->info.cross_attention_dim = (int) cross_dim[0];
  m->info.time_cond_proj_dim = (int) cond_dim;

  a.temb_ch = u->temb_ch;
  a.ctx_dim = u->ctx_dim;
  a.groups = (int) groups;
  a.eps = (float) eps;
  a.scale_shift = strcmp (shift_mode, "scale_shift") == 0;
  if (!gen_weights_linear (a.w, &u->time_linear_1, u->c0, u->temb_ch, true, error,
                           "time_embedding.linear_1")
      || !gen_weights_linear (a.w, &u->time_linear_2, u->temb_ch, u->temb_ch, true, error,
                              "time_embedding.linear_2")
      || (cond_dim > 0
          && !gen_weights_linear (a.w, &u->cond_proj, cond_dim, u->c0, false, error,
                                  "time_embedding.cond_proj"))
      || !gen_weights_conv (a.w, &u->conv_in, in_ch, u->c0, 3, 1, 1, true, error, "conv_in"))
    goto out;

  u->down = g_new0 (GenCondBlock, n_ch);
  u->up = g_new0 (GenCondBlock, n_ch);
  u->n_skips = 1;
  for (guint i = 0; i < n_ch; i++)
    {
      bool final = i == n_ch - 1;

      if (!load_block (&a, &u->down[i], false, (int) i, down_cross[i], (int) layers[i],
                          i == 0 ? chans[0] : chans[i - 1], chans[i], 0, !final, (int) heads[i],
                          (int) down_pad, error))
        goto out;
      u->n_skips += (int) layers[i] + (final ? 0 : 1);
    }

  /* UNetMidBlock2DCrossAttn: resnet, transformer (the last level's heads),
   * resnet; the resnets divide by mid_block_scale_factor */
  if (u->has_mid
      && (!gen_resnet_load (a.w, &u->mid_resnets[0], "mid_block.resnets.0", chans[n_ch - 1],
                            chans[n_ch - 1], u->temb_ch, a.groups, a.eps, a.scale_shift,
                            (float) mid_scale, error)
          || !gen_transformer2d_load (a.w, &u->mid_attn, "mid_block.attentions.0",
                                      chans[n_ch - 1], (int) heads[n_ch - 1], 1, u->ctx_dim,
                                      a.groups, error)
          || !gen_resnet_load (a.w, &u->mid_resnets[1], "mid_block.resnets.1", chans[n_ch - 1],
                               chans[n_ch - 1], u->temb_ch, a.groups, a.eps, a.scale_shift,
                               (float) mid_scale, error)))
    goto out;

  /* up blocks: widths, head counts and layer counts in reverse level order */
  for (guint i = 0; i < n_ch; i++)
    {
      guint lv = n_ch - 1 - i;
      int64_t prev_c = chans[n_ch - 1 - (i == 0 ? 0 : i - 1)];
      int64_t in_c = chans[n_ch - 1 - MIN (i + 1, n_ch - 1)];

      if (!load_block (&a, &u->up[i], true, (int) i, up_cross[i], (int) layers[lv] + 1, in_c,
                          chans[lv], prev_c, i != n_ch - 1, (int) heads[lv], 1, error))
        goto out;
    }
  if (!gen_weights_group_norm (a.w, &u->conv_norm_out, u->c0, a.groups, a.eps, error,
                               "conv_norm_out")
      || !gen_weights_conv (a.w, &u->conv_out, u->c0, out_ch, 3, 1, 1, true, error, "conv_out"))
    goto out;
  ok = TRUE;

out:
  g_strfreev (down_types);
  g_strfreev (up_types);
  g_free (chans);
  return ok;
}

/* Upsample2D to OH×OW: nearest ×2 through the fused conv, or (diffusers'
 * forwarded upsample size, for sizes that do not halve evenly) PyTorch's
 * nearest resize to the skip's size, then the conv. */
static GenTensor
upsample_to (const GenConv2d *conv, const GenTensor *h, int64_t oh, int64_t ow, GenArena *arena)
{
  GenTensor y, big;
  gsize mark;

  if (oh == 2 * h->ne[2] && ow == 2 * h->ne[3])
    return gen_upsample_forward (conv, h, arena);
  y = gen_arena_tensor (arena, h->ne[0], conv->weight.ne[0], oh, ow);
  mark = gen_arena_mark (arena);
  big = gen_arena_tensor (arena, h->ne[0], h->ne[1], oh, ow);
  gen_resize_nearest (h, &big);
  gen_conv2d (conv, &big, &y, false, arena);
  gen_arena_release (arena, mark);
  return y;
}

gboolean
gen_unet_cond_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                       const float *ctx, int64_t ctx_len, const float *timestep_cond,
                       GenTensor *out, GenArena *arena, GenTapFunc tap, gpointer tap_data,
                       GError **error)
{
  GenUNetCond *u = model->unet_cond;
  int64_t n = x->ne[0], hh = x->ne[2], ww = x->ne[3];
  GenTensor h, temb, temb_silu, t_in, hid;
  GenTensor *skips;
  bool forward_size;
  int n_skip = 0;

  if (!u)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a UNet2DConditionModel",
                   model->class_name);
      return FALSE;
    }
  if (x->ne[1] != model->info.in_channels || out->ne[1] != model->info.out_channels
      || !gen_tensor_is_contiguous (x) || !gen_tensor_is_contiguous (out)
      || out->ne[0] != n || out->ne[2] != hh || out->ne[3] != ww || n < 1 || hh < 1 || ww < 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet takes %d channels and gives %d; got an input of %" G_GINT64_FORMAT
                   " channels", model->info.in_channels, model->info.out_channels, x->ne[1]);
      return FALSE;
    }
  if (!ctx || ctx_len < 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet2DConditionModel needs encoder_hidden_states [N, L, %" G_GINT64_FORMAT
                   "]", u->ctx_dim);
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
  forward_size = hh % model->info.downscale != 0 || ww % model->info.downscale != 0;

  /* time embedding: sinusoidal features (+ cond_proj (timestep_cond), LCM's
   * guidance embedding) → linear → SiLU → linear */
  t_in = gen_arena_tensor (arena, 1, 1, n, u->c0);
  temb = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  temb_silu = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  hid = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  if (!t_in.data || !temb.data || !temb_silu.data || !hid.data)
    return gen_arena_check (arena, error);
  gen_timestep_embedding (timesteps, n, u->c0, u->flip_sin_to_cos, u->freq_shift, 1.0f,
                          10000.0f, t_in.data);
  if (timestep_cond)
    {
      gen_linear (&u->cond_proj, timestep_cond, hid.data, n);
      for (int64_t i = 0; i < n * u->c0; i++)
        t_in.data[i] += hid.data[i];
    }
  gen_linear (&u->time_linear_1, t_in.data, hid.data, n);
  gen_silu (hid.data, hid.data, n * u->temb_ch);
  gen_linear (&u->time_linear_2, hid.data, temb.data, n);
  gen_silu (temb.data, temb_silu.data, n * u->temb_ch);
  gen_tap (tap, tap_data, &temb, "time_embedding");

  h = gen_arena_tensor (arena, n, u->c0, hh, ww);
  if (u->center_input_sample)
    {
      GenTensor xc = gen_arena_tensor (arena, n, x->ne[1], hh, ww);
      if (xc.data && x->data)
        for (int64_t i = 0; i < gen_tensor_numel (x); i++)
          xc.data[i] = 2.0f * x->data[i] - 1.0f;
      gen_conv2d (&u->conv_in, &xc, &h, false, arena);
    }
  else
    gen_conv2d (&u->conv_in, x, &h, false, arena);
  gen_tap (tap, tap_data, &h, "conv_in");
  skips[n_skip++] = h;

  for (int i = 0; i < u->n_levels; i++)
    {
      GenCondBlock *b = &u->down[i];

      for (int j = 0; j < b->n_layers; j++)
        {
          GenTensor y = gen_arena_tensor (arena, n, b->out_ch, h.ne[2], h.ne[3]);

          gen_resnet_forward (&b->resnets[j], &h, temb_silu.data, &y, arena);
          if (b->cross)
            gen_transformer2d_forward (&b->attns[j], &y, ctx, ctx_len, &y, arena);
          h = y;
          skips[n_skip++] = h;
        }
      if (b->has_sampler)
        {
          h = gen_downsample_forward (&b->sampler, &h, arena);
          skips[n_skip++] = h;
        }
      gen_tap (tap, tap_data, &h, "down_blocks.%d", i);
    }

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
      GenCondBlock *b = &u->up[i];

      for (int j = 0; j < b->n_layers; j++)
        {
          GenTensor skip = skips[--n_skip];
          GenTensor y = gen_arena_tensor (arena, n, b->out_ch, h.ne[2], h.ne[3]);

          /* resnet ([h, skip]) without making the concatenation */
          gen_resnet_forward_cat (&b->resnets[j], &h, &skip, temb_silu.data, &y, arena);
          if (b->cross)
            gen_transformer2d_forward (&b->attns[j], &y, ctx, ctx_len, &y, arena);
          h = y;
        }
      if (b->has_sampler)
        {
          const GenTensor *next = &skips[n_skip - 1];   /* the skip the next level meets */

          h = upsample_to (&b->sampler, &h, forward_size ? next->ne[2] : 2 * h.ne[2],
                           forward_size ? next->ne[3] : 2 * h.ne[3], arena);
        }
      gen_tap (tap, tap_data, &h, "up_blocks.%d", i);
    }

  gen_conv2d_norm_silu (&u->conv_out, &u->conv_norm_out, &h, out, false, arena);
  if (!gen_arena_check (arena, error))
    return FALSE;
  if (tap)
    tap ("sample", out, tap_data);
  return TRUE;
}
