/* gen-unet.c — diffusers UNet2DModel (the unconditional DDPM UNet,
 * Ho et al. 2020, appendix B), built from its config.json. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

typedef struct
{
  GenUNetLevel level;     /* resnets and resampler */
  GenAttn     *attns;     /* [level.n_layers] for Attn{Down,Up}Block2D, else NULL */
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
  gen_unet_level_clear (&b->level);
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

#define CLASS "UNet2DModel"

/* Keys that change the computation and that we do not implement must be
 * absent (or null / their neutral value). */
static gboolean
check_unsupported_keys (GenConfig *cfg, GError **error)
{
  static const char *const must_be_null[] = {
    "class_embed_type", "num_class_embeds",
  };
  const char *s;

  if (!gen_config_check_null (cfg, CLASS, must_be_null, G_N_ELEMENTS (must_be_null), error))
    return FALSE;
  if (!gen_config_get_string (cfg, "downsample_type", TRUE, "conv", &s, error))
    return FALSE;
  if (strcmp (s, "conv") != 0)
    return gen_config_unsupported (cfg, CLASS, "downsample_type", s, error);
  if (!gen_config_get_string (cfg, "upsample_type", TRUE, "conv", &s, error))
    return FALSE;
  if (strcmp (s, "conv") != 0)
    return gen_config_unsupported (cfg, CLASS, "upsample_type", s, error);
  if (gen_config_has (cfg, "mid_block_type"))
    {
      if (!gen_config_get_string (cfg, "mid_block_type", TRUE, NULL, &s, error))
        return FALSE;
      if (strcmp (s, "UNetMidBlock2D") != 0)
        return gen_config_unsupported (cfg, CLASS, "mid_block_type", s, error);
    }
  return gen_config_check_act (cfg, "act_fn", "silu", false, NULL, error);
}

static gboolean
load_block (GenWeights *w, GenUNetBlock *b, bool up, int index, bool attn, int n_layers,
            int64_t in_ch, int64_t out_ch, int64_t prev_out_ch, bool add_resampler,
            const GenUNetLevelArgs *a, int64_t head_dim, GError **error)
{
  if (!gen_unet_level_load (w, &b->level, up, index, n_layers, in_ch, out_ch, prev_out_ch,
                            add_resampler, a, error))
    return FALSE;
  b->attns = attn ? g_new0 (GenAttn, n_layers) : NULL;
  for (int j = 0; attn && j < n_layers; j++)
    {
      char prefix[96];

      g_snprintf (prefix, sizeof prefix, "%s.%d.attentions.%d", up ? "up_blocks" : "down_blocks",
                  index, j);
      if (!gen_attn_load (w, &b->attns[j], prefix, out_ch, head_dim > 0 ? head_dim : out_ch,
                          a->groups, a->eps, 1.0f, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
gen_unet_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenUNet *u = g_new0 (GenUNet, 1);
  GenUNetConfig c = { 0 };
  guint n_ch;
  gint64 *chans;
  gint64 layers, head_dim = 0, attn_groups = -1;
  gboolean add_attention;
  const char *temb_type;
  gboolean ok = FALSE;

  m->unet = u;
  if (!check_unsupported_keys (cfg, error)
      || !gen_unet_config_read (cfg, CLASS, 3, &c, error)
      || !gen_config_get_int (cfg, "layers_per_block", TRUE, 2, &layers, error)
      || !gen_config_get_bool (cfg, "add_attention", TRUE, TRUE, &add_attention, error)
      || !gen_config_get_string (cfg, "time_embedding_type", TRUE, "positional", &temb_type, error))
    goto out;
  n_ch = c.n_levels;
  chans = c.chans;

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
      gen_config_unsupported (cfg, CLASS, "time_embedding_type", temb_type, error);
      goto out;
    }
  if (layers <= 0 || layers > 16 || head_dim < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: layers_per_block or attention_head_dim out of the supported range",
                   gen_config_path (cfg));
      goto out;
    }

  u->n_levels = (int) n_ch;
  u->c0 = chans[0];
  u->temb_ch = 4 * chans[0];
  u->center_input_sample = c.center;
  u->flip_sin_to_cos = c.flip;
  u->freq_shift = (float) c.freq_shift;
  u->fourier = strcmp (temb_type, "fourier") == 0;
  u->t_in_dim = u->fourier ? 2 * u->c0 : u->c0;
  m->info.kind = GEN_MODEL_UNET;
  m->info.in_channels = (int) c.in_ch;
  m->info.out_channels = (int) c.out_ch;
  m->info.sample_size = (int) c.sample_size;
  m->info.downscale = 1 << (n_ch - 1);

  {
    GenWeights *w = &m->weights;
    int64_t tshape[1] = { u->c0 };
    GenUNetLevelArgs la = { u->temb_ch, (int) c.groups, (float) c.eps, c.scale_shift,
                            (int) c.down_pad };

    if (u->fourier
        && !gen_weights_get (w, &u->fourier_weight, 1, tshape, error, "time_proj.weight"))
      goto out;
    if (!gen_weights_linear (w, &u->time_linear_1, u->t_in_dim, u->temb_ch, true, error,
                             "time_embedding.linear_1")
        || !gen_weights_linear (w, &u->time_linear_2, u->temb_ch, u->temb_ch, true, error,
                                "time_embedding.linear_2")
        || !gen_weights_conv (w, &u->conv_in, c.in_ch, u->c0, 3, 1, 1, true, error, "conv_in"))
      goto out;

    u->down = g_new0 (GenUNetBlock, n_ch);
    u->up = g_new0 (GenUNetBlock, n_ch);
    u->n_skips = 1;
    for (guint i = 0; i < n_ch; i++)
      {
        bool attn;
        bool final = i == n_ch - 1;

        if (strcmp (c.down_types[i], "DownBlock2D") == 0)
          attn = false;
        else if (strcmp (c.down_types[i], "AttnDownBlock2D") == 0)
          attn = true;
        else
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                         "%s: down block type '%s' is not supported (supported: DownBlock2D, "
                         "AttnDownBlock2D)", gen_config_path (cfg), c.down_types[i]);
            goto out;
          }
        if (!load_block (w, &u->down[i], false, (int) i, attn, (int) layers,
                         i == 0 ? chans[0] : chans[i - 1], chans[i], 0, !final, &la, head_dim,
                         error))
          goto out;
        u->n_skips += (int) layers + (final ? 0 : 1);
      }

    /* UNetMidBlock2D: its attention's norm is attn_norm_num_groups, or
     * norm_num_groups under the "default" time shift and none otherwise
     * (diffusers unet_2d_blocks.py, UNetMidBlock2D.__init__). */
    if (!gen_mid_block_load (w, &u->mid, "mid_block", chans[n_ch - 1], u->temb_ch,
                             (int) c.groups,
                             attn_groups >= 0 ? (int) attn_groups
                                              : (c.scale_shift ? 0 : (int) c.groups),
                             (float) c.eps, c.scale_shift, add_attention,
                             head_dim > 0 ? head_dim : chans[n_ch - 1], (float) c.mid_scale, error))
      goto out;

    for (guint i = 0; i < n_ch; i++)
      {
        int64_t out_c = chans[n_ch - 1 - i];
        int64_t prev_c = chans[n_ch - 1 - (i == 0 ? 0 : i - 1)];
        int64_t in_c = chans[n_ch - 1 - MIN (i + 1, n_ch - 1)];
        bool attn;

        if (strcmp (c.up_types[i], "UpBlock2D") == 0)
          attn = false;
        else if (strcmp (c.up_types[i], "AttnUpBlock2D") == 0)
          attn = true;
        else
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                         "%s: up block type '%s' is not supported (supported: UpBlock2D, "
                         "AttnUpBlock2D)", gen_config_path (cfg), c.up_types[i]);
            goto out;
          }
        if (!load_block (w, &u->up[i], true, (int) i, attn, (int) layers + 1, in_c, out_c, prev_c,
                         i != n_ch - 1, &la, head_dim, error))
          goto out;
      }
    if (!gen_weights_group_norm (w, &u->conv_norm_out, u->c0, (int) c.groups, (float) c.eps, error,
                                 "conv_norm_out")
        || !gen_weights_conv (w, &u->conv_out, u->c0, c.out_ch, 3, 1, 1, true, error, "conv_out"))
      goto out;
  }
  ok = TRUE;

out:
  gen_unet_config_clear (&c);
  return ok;
}

/* GenUNetAttnFunc: the AttnDownBlock2D / AttnUpBlock2D attention. */
static void
attn_after (int layer, GenTensor *h, GenArena *arena, gpointer data)
{
  const GenAttn *attns = data;

  gen_attn_forward (&attns[layer], h, h, arena);
}

gboolean
gen_unet_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                  GenTensor *out, GenArena *arena, GenTapFunc tap, gpointer tap_data,
                  GError **error)
{
  GenUNet *u = model->unet;
  int64_t n = x->ne[0], hh = x->ne[2], ww = x->ne[3];
  int64_t f = model->info.downscale;
  GenTensor h, temb, temb_silu, t_in;
  GenTensor *skips = g_newa (GenTensor, MAX (1, u ? u->n_skips : 1));  /* per call: forwards may run concurrently */
  int n_skip = 0;

  if (!u)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a UNet2DModel",
                   model->class_name);
      return FALSE;
    }
  if (!gen_unet_check_io (model, x, out, error))
    return FALSE;
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
  if (!t_in.data || !temb.data || !temb_silu.data)
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
  gen_unet_time_mlp (&u->time_linear_1, &u->time_linear_2, t_in.data, n, &temb, &temb_silu,
                     arena);
  gen_tap (tap, tap_data, &temb, "time_embedding");

  h = gen_arena_tensor (arena, n, u->c0, hh, ww);
  gen_unet_conv_in (&u->conv_in, x, u->center_input_sample, &h, arena);
  gen_tap (tap, tap_data, &h, "conv_in");
  skips[n_skip++] = h;

  for (int i = 0; i < u->n_levels; i++)
    {
      GenUNetBlock *b = &u->down[i];

      h = gen_unet_level_down (&b->level, h, temb_silu.data, b->attns ? attn_after : NULL,
                               b->attns, skips, &n_skip, arena);
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

      h = gen_unet_level_up (&b->level, h, temb_silu.data, b->attns ? attn_after : NULL, b->attns,
                             skips, &n_skip, false, arena);
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
