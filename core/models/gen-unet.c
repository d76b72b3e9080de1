/* gen-unet.c — diffusers UNet2DModel (the unconditional DDPM UNet,
 * Ho et al. 2020, appendix B), built from its config.json. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

typedef struct
{
  bool       attn;        /* Attn{Down,Up}Block2D */
  int        n_layers;
  GenResnet *resnets;     /* [n_layers] */
  GenAttn   *attns;       /* [n_layers] when attn */
  bool       has_downsampler; /* down blocks: downsamplers.0 (Downsample2D) */
  GenConv2d  downsampler;     /* its conv: downsamplers.0.conv */
  bool       has_upsampler;   /* up blocks: upsamplers.0 (Upsample2D) */
  GenConv2d  upsampler;       /* its conv: upsamplers.0.conv */
  int64_t    out_ch;
} GenUNetBlock;

struct _GenUNet
{
  int           n_levels;
  GenUNetBlock *down;      /* [n_levels] */
  GenUNetBlock *up;        /* [n_levels] */
  GenMidBlock   mid;
  GenConv2d     conv_in, conv_out;
  GenGroupNorm  conv_norm_out;
  bool          fourier;
  GenTensor     fourier_weight; /* time_proj.weight [C0] */
  bool          flip_sin_to_cos;
  float         freq_shift;
  GenLinear     time_linear_1, time_linear_2;
  int64_t       c0, temb_ch, t_in_dim;
  bool          center_input_sample;
  int           n_skips;
};

static void
block_free (GenUNetBlock *b)
{
  g_free (b->resnets);
  g_free (b->attns);
}

void
gen_unet_free (GenUNet *u)
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
  g_free (u->down);
  g_free (u->up);
  g_free (u);
}

static gboolean
unsupported (GenConfig *cfg, GError **error, const char *key, const char *value)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s = %s is not supported by this UNet2DModel implementation",
               gen_config_path (cfg), key, value);
  return FALSE;
}

/* Keys that change the computation and that we do not implement must be
 * absent (or null / their neutral value). */
static gboolean
check_unsupported_keys (GenConfig *cfg, GError **error)
{
  static const char *const must_be_null[] = {
    "class_embed_type", "num_class_embeds",
  };
  const char *s;

  for (guint i = 0; i < G_N_ELEMENTS (must_be_null); i++)
    if (gen_config_has (cfg, must_be_null[i]))
      return unsupported (cfg, error, must_be_null[i], "(set)");
  if (!gen_config_get_string (cfg, "downsample_type", TRUE, "conv", &s, error))
    return FALSE;
  if (strcmp (s, "conv") != 0)
    return unsupported (cfg, error, "downsample_type", s);
  if (!gen_config_get_string (cfg, "upsample_type", TRUE, "conv", &s, error))
    return FALSE;
  if (strcmp (s, "conv") != 0)
    return unsupported (cfg, error, "upsample_type", s);
  if (gen_config_has (cfg, "mid_block_type"))
    {
      if (!gen_config_get_string (cfg, "mid_block_type", TRUE, NULL, &s, error))
        return FALSE;
      if (strcmp (s, "UNetMidBlock2D") != 0)
        return unsupported (cfg, error, "mid_block_type", s);
    }
  return gen_config_check_act (cfg, "act_fn", "silu", false, NULL, error);
}

static gboolean
load_block (GenWeights *w, GenUNetBlock *b, bool up, int index, bool attn, int n_layers,
            int64_t in_ch, int64_t out_ch, int64_t prev_out_ch, bool add_resampler,
            int64_t temb_ch, int groups, float eps, bool scale_shift, int64_t head_dim,
            int downsample_padding, GError **error)
{
  const char *kind = up ? "up_blocks" : "down_blocks";

  b->attn = attn;
  b->n_layers = n_layers;
  b->out_ch = out_ch;
  b->resnets = g_new0 (GenResnet, n_layers);
  b->attns = attn ? g_new0 (GenAttn, n_layers) : NULL;
  for (int j = 0; j < n_layers; j++)
    {
      char prefix[96];
      int64_t rin;

      if (!up)
        rin = j == 0 ? in_ch : out_ch;
      else
        {
          /* UpBlock2D: the last resnet takes the skip from the level above */
          int64_t res_skip = j == n_layers - 1 ? in_ch : out_ch;
          rin = (j == 0 ? prev_out_ch : out_ch) + res_skip;
        }
      g_snprintf (prefix, sizeof prefix, "%s.%d.resnets.%d", kind, index, j);
      if (!gen_resnet_load (w, &b->resnets[j], prefix, rin, out_ch, temb_ch, groups, eps,
                            scale_shift, 1.0f, error))
        return FALSE;
      if (attn)
        {
          g_snprintf (prefix, sizeof prefix, "%s.%d.attentions.%d", kind, index, j);
          if (!gen_attn_load (w, &b->attns[j], prefix, out_ch, head_dim > 0 ? head_dim : out_ch,
                              groups, eps, 1.0f, error))
            return FALSE;
        }
    }
  b->has_downsampler = add_resampler && !up;
  b->has_upsampler = add_resampler && up;
  if (b->has_downsampler)
    {
      /* Downsample2D: stride-2 conv; padding 0 means F.pad (0, 1, 0, 1) */
      if (!gen_weights_conv (w, &b->downsampler, out_ch, out_ch, 3, 2, downsample_padding, true,
                             error, "%s.%d.downsamplers.0.conv", kind, index))
        return FALSE;
      if (downsample_padding == 0)
        {
          b->downsampler.pad[0] = b->downsampler.pad[1] = 0;
          b->downsampler.pad[2] = b->downsampler.pad[3] = 1;
        }
    }
  else if (b->has_upsampler
           && !gen_weights_conv (w, &b->upsampler, out_ch, out_ch, 3, 1, 1, true, error,
                                 "%s.%d.upsamplers.0.conv", kind, index))
    return FALSE;
  return TRUE;
}

gboolean
gen_unet_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenUNet *u = g_new0 (GenUNet, 1);
  char **down_types = NULL, **up_types = NULL;
  gint64 *chans = NULL;
  guint n_down = 0, n_up = 0, n_ch = 0;
  gint64 in_ch, out_ch, layers, groups, down_pad, sample_size, head_dim = 0, attn_groups = -1;
  double eps, mid_scale, freq_shift;
  gboolean center, flip, add_attention;
  const char *temb_type, *shift_mode;
  bool scale_shift;
  gboolean ok = FALSE;

  m->unet = u;
  if (!check_unsupported_keys (cfg, error)
      || !gen_config_get_int (cfg, "in_channels", TRUE, 3, &in_ch, error)
      || !gen_config_get_int (cfg, "out_channels", TRUE, 3, &out_ch, error)
      || !gen_config_get_int (cfg, "layers_per_block", TRUE, 2, &layers, error)
      || !gen_config_get_int (cfg, "norm_num_groups", TRUE, 32, &groups, error)
      || !gen_config_get_int (cfg, "downsample_padding", TRUE, 1, &down_pad, error)
      || !gen_config_get_int (cfg, "sample_size", TRUE, 0, &sample_size, error)
      || !gen_config_get_positive (cfg, "norm_eps", TRUE, 1e-5, &eps, error)
      || !gen_config_get_positive (cfg, "mid_block_scale_factor", TRUE, 1.0, &mid_scale, error)
      || !gen_config_get_double (cfg, "freq_shift", TRUE, 0.0, &freq_shift, error)
      || !gen_config_get_bool (cfg, "center_input_sample", TRUE, FALSE, &center, error)
      || !gen_config_get_bool (cfg, "flip_sin_to_cos", TRUE, TRUE, &flip, error)
      || !gen_config_get_bool (cfg, "add_attention", TRUE, TRUE, &add_attention, error)
      || !gen_config_get_string (cfg, "time_embedding_type", TRUE, "positional", &temb_type, error)
      || !gen_config_get_string (cfg, "resnet_time_scale_shift", TRUE, "default", &shift_mode, error)
      || !gen_config_get_string_array (cfg, "down_block_types", &down_types, &n_down, error)
      || !gen_config_get_string_array (cfg, "up_block_types", &up_types, &n_up, error)
      || !gen_config_get_channels (cfg, groups, &chans, &n_ch, error))
    goto out;

  /* attention_head_dim: absent → diffusers' default 8; null → one head. */
  if (!gen_config_contains (cfg, "attention_head_dim"))
    head_dim = 8;
  else if (gen_config_has (cfg, "attention_head_dim")
           && !gen_config_get_int (cfg, "attention_head_dim", FALSE, 0, &head_dim, error))
    goto out;
  if (gen_config_has (cfg, "attn_norm_num_groups")
      && !gen_config_get_int (cfg, "attn_norm_num_groups", FALSE, 0, &attn_groups, error))
    goto out;

  if (strcmp (temb_type, "positional") != 0 && strcmp (temb_type, "fourier") != 0)
    {
      unsupported (cfg, error, "time_embedding_type", temb_type);
      goto out;
    }
  if (strcmp (shift_mode, "default") != 0 && strcmp (shift_mode, "scale_shift") != 0)
    {
      unsupported (cfg, error, "resnet_time_scale_shift", shift_mode);
      goto out;
    }
  scale_shift = strcmp (shift_mode, "scale_shift") == 0;
  if (n_ch == 0 || n_ch > 8 || n_down != n_ch || n_up != n_ch)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: block_out_channels (%u), down_block_types (%u) and up_block_types (%u) "
                   "must have the same length, 1 to 8",
                   gen_config_path (cfg), n_ch, n_down, n_up);
      goto out;
    }
  if (in_ch <= 0 || in_ch > 64 || out_ch <= 0 || out_ch > 64 || layers <= 0 || layers > 16
      || groups <= 0 || head_dim < 0 || (down_pad != 0 && down_pad != 1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: in_channels, out_channels, layers_per_block, norm_num_groups, "
                   "attention_head_dim or downsample_padding out of the supported range",
                   gen_config_path (cfg));
      goto out;
    }

  u->n_levels = (int) n_ch;
  u->c0 = chans[0];
  u->temb_ch = 4 * chans[0];
  u->center_input_sample = center;
  u->flip_sin_to_cos = flip;
  u->freq_shift = (float) freq_shift;
  u->fourier = strcmp (temb_type, "fourier") == 0;
  u->t_in_dim = u->fourier ? 2 * u->c0 : u->c0;
  m->info.kind = GEN_MODEL_UNET;
  m->info.in_channels = (int) in_ch;
  m->info.out_channels = (int) out_ch;
  m->info.sample_size = (int) sample_size;
  m->info.downscale = 1 << (n_ch - 1);

  {
    GenWeights *w = &m->weights;
    int64_t tshape[1] = { u->c0 };

    if (u->fourier
        && !gen_weights_get (w, &u->fourier_weight, 1, tshape, error, "time_proj.weight"))
      goto out;
    if (!gen_weights_linear (w, &u->time_linear_1, u->t_in_dim, u->temb_ch, true, error,
                             "time_embedding.linear_1")
        || !gen_weights_linear (w, &u->time_linear_2, u->temb_ch, u->temb_ch, true, error,
                                "time_embedding.linear_2")
        || !gen_weights_conv (w, &u->conv_in, in_ch, u->c0, 3, 1, 1, true, error, "conv_in"))
      goto out;

    u->down = g_new0 (GenUNetBlock, n_ch);
    u->up = g_new0 (GenUNetBlock, n_ch);
    u->n_skips = 1;
    for (guint i = 0; i < n_ch; i++)
      {
        bool attn;
        bool final = i == n_ch - 1;

        if (strcmp (down_types[i], "DownBlock2D") == 0)
          attn = false;
        else if (strcmp (down_types[i], "AttnDownBlock2D") == 0)
          attn = true;
        else
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                         "%s: down block type '%s' is not supported (supported: DownBlock2D, "
                         "AttnDownBlock2D)", gen_config_path (cfg), down_types[i]);
            goto out;
          }
        if (!load_block (w, &u->down[i], false, (int) i, attn, (int) layers,
                         i == 0 ? chans[0] : chans[i - 1], chans[i], 0, !final, u->temb_ch,
                         (int) groups, (float) eps, scale_shift, head_dim, (int) down_pad, error))
          goto out;
        u->n_skips += (int) layers + (final ? 0 : 1);
      }

    /* UNetMidBlock2D: its attention's norm is attn_norm_num_groups, or
     * norm_num_groups under the "default" time shift and none otherwise
     * (diffusers unet_2d_blocks.py, UNetMidBlock2D.__init__). */
    if (!gen_mid_block_load (w, &u->mid, "mid_block", chans[n_ch - 1], u->temb_ch, (int) groups,
                             attn_groups >= 0 ? (int) attn_groups : (scale_shift ? 0 : (int) groups),
                             (float) eps, scale_shift, add_attention,
                             head_dim > 0 ? head_dim : chans[n_ch - 1], (float) mid_scale, error))
      goto out;

    for (guint i = 0; i < n_ch; i++)
      {
        int64_t out_c = chans[n_ch - 1 - i];
        int64_t prev_c = chans[n_ch - 1 - (i == 0 ? 0 : i - 1)];
        int64_t in_c = chans[n_ch - 1 - MIN (i + 1, n_ch - 1)];
        bool attn;

        if (strcmp (up_types[i], "UpBlock2D") == 0)
          attn = false;
        else if (strcmp (up_types[i], "AttnUpBlock2D") == 0)
          attn = true;
        else
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                         "%s: up block type '%s' is not supported (supported: UpBlock2D, "
                         "AttnUpBlock2D)", gen_config_path (cfg), up_types[i]);
            goto out;
          }
        if (!load_block (w, &u->up[i], true, (int) i, attn, (int) layers + 1, in_c, out_c, prev_c,
                         i != n_ch - 1, u->temb_ch, (int) groups, (float) eps, scale_shift,
                         head_dim, 1, error))
          goto out;
      }
    if (!gen_weights_group_norm (w, &u->conv_norm_out, u->c0, (int) groups, (float) eps, error,
                                 "conv_norm_out")
        || !gen_weights_conv (w, &u->conv_out, u->c0, out_ch, 3, 1, 1, true, error, "conv_out"))
      goto out;
  }
  ok = TRUE;

out:
  g_strfreev (down_types);
  g_strfreev (up_types);
  g_free (chans);
  return ok;
}

gboolean
gen_unet_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                  GenTensor *out, GenArena *arena, GenTapFunc tap, gpointer tap_data,
                  GError **error)
{
  GenUNet *u = model->unet;
  int64_t n = x->ne[0], hh = x->ne[2], ww = x->ne[3];
  int64_t f = model->info.downscale;
  GenTensor h, temb, temb_silu, t_in, hid;
  GenTensor *skips = g_newa (GenTensor, MAX (1, u ? u->n_skips : 1));  /* per call: forwards may run concurrently */
  int n_skip = 0;

  if (!u)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a UNet2DModel",
                   model->class_name);
      return FALSE;
    }
  if (x->ne[1] != model->info.in_channels || out->ne[1] != model->info.out_channels
      || !gen_tensor_is_contiguous (x) || !gen_tensor_is_contiguous (out)
      || out->ne[0] != n || out->ne[2] != hh || out->ne[3] != ww)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet takes %d channels and gives %d; got an input of %" G_GINT64_FORMAT
                   " channels", model->info.in_channels, model->info.out_channels, x->ne[1]);
      return FALSE;
    }
  if (n < 1 || hh < 1 || ww < 1 || hh % f != 0 || ww % f != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet needs a size that is a multiple of %" G_GINT64_FORMAT
                   "; got %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT, f, ww, hh);
      return FALSE;
    }
  if (u->fourier)
    for (int64_t b = 0; b < n; b++)
      if (!(timesteps[b] > 0.0f))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "a Fourier-embedded UNet needs timesteps (noise levels) > 0");
          return FALSE;
        }
  if (!gen_arena_reset (arena, error))
    return FALSE;

  /* Time embedding: sinusoidal (or Gaussian Fourier, Tancik et al. 2020)
   * features → linear → SiLU → linear. */
  t_in = gen_arena_tensor (arena, 1, 1, n, u->t_in_dim);
  temb = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  temb_silu = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  hid = gen_arena_tensor (arena, 1, 1, n, u->temb_ch);
  if (!t_in.data || !temb.data || !temb_silu.data || !hid.data)
    return gen_arena_check (arena, error);
  if (u->fourier)
    {
      for (int64_t b = 0; b < n; b++)
        {
          float lt = logf (timesteps[b]);
          for (int64_t i = 0; i < u->c0; i++)
            {
              float arg = lt * u->fourier_weight.data[i];
              arg = arg * 2.0f;
              arg = arg * (float) G_PI;
              t_in.data[b * u->t_in_dim + i] = sinf (arg);
              t_in.data[b * u->t_in_dim + u->c0 + i] = cosf (arg);
            }
        }
    }
  else
    gen_timestep_embedding (timesteps, n, u->c0, u->flip_sin_to_cos, u->freq_shift, 1.0f,
                            10000.0f, t_in.data);
  gen_linear (&u->time_linear_1, t_in.data, hid.data, n);
  gen_silu (hid.data, hid.data, n * u->temb_ch);
  gen_linear (&u->time_linear_2, hid.data, temb.data, n);
  gen_silu (temb.data, temb_silu.data, n * u->temb_ch);
  gen_tap (tap, tap_data, &temb, "time_embedding");

  /* conv_in, on 2x − 1 when center_input_sample */
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
      GenUNetBlock *b = &u->down[i];

      for (int j = 0; j < b->n_layers; j++)
        {
          GenTensor y = gen_arena_tensor (arena, n, b->out_ch, h.ne[2], h.ne[3]);

          gen_resnet_forward (&b->resnets[j], &h, temb_silu.data, &y, arena);
          if (b->attn)
            gen_attn_forward (&b->attns[j], &y, &y, arena);
          h = y;
          skips[n_skip++] = h;
        }
      if (b->has_downsampler)
        {
          h = gen_downsample_forward (&b->downsampler, &h, arena);
          skips[n_skip++] = h;
        }
      gen_tap (tap, tap_data, &h, "down_blocks.%d", i);
    }

  {
    GenTensor y = gen_arena_tensor (arena, n, h.ne[1], h.ne[2], h.ne[3]);
    gen_mid_block_forward (&u->mid, &h, temb_silu.data, &y, arena);
    h = y;
    gen_tap (tap, tap_data, &h, "mid_block");
  }

  for (int i = 0; i < u->n_levels; i++)
    {
      GenUNetBlock *b = &u->up[i];

      for (int j = 0; j < b->n_layers; j++)
        {
          GenTensor skip = skips[--n_skip];
          GenTensor y = gen_arena_tensor (arena, n, b->out_ch, h.ne[2], h.ne[3]);

          /* resnet ([h, skip]) without making the concatenation */
          gen_resnet_forward_cat (&b->resnets[j], &h, &skip, temb_silu.data, &y, arena);
          if (b->attn)
            gen_attn_forward (&b->attns[j], &y, &y, arena);
          h = y;
        }
      if (b->has_upsampler)
        h = gen_upsample_forward (&b->upsampler, &h, arena);
      gen_tap (tap, tap_data, &h, "up_blocks.%d", i);
    }

  gen_conv2d_norm_silu (&u->conv_out, &u->conv_norm_out, &h, out, false, arena);
  if (!gen_arena_check (arena, error))
    return FALSE;

  /* Score-SDE UNets (Fourier embedding) predict the score scaled by σ. */
  if (u->fourier)
    for (int64_t b = 0; b < n; b++)
      gen_scale_div (out->data + b * out->nb[0], out->nb[0], timesteps[b]);
  if (tap)
    tap ("sample", out, tap_data);
  return TRUE;
}
