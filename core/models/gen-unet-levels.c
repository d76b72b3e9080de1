/* gen-unet-levels.c — what UNet2DModel and UNet2DConditionModel share: the
 * config keys they both read, a level's resnets and its Downsample2D /
 * Upsample2D (the attention after each resnet is the model's own, passed in
 * as a function), the time embedding's MLP, conv_in, and the checks on a
 * forward's tensors. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <string.h>

gboolean
gen_unet_config_read (GenConfig *cfg, const char *class_name, gint64 io_default,
                      GenUNetConfig *c, GError **error)
{
  guint n_down = 0, n_up = 0;
  const char *shift_mode;

  memset (c, 0, sizeof *c);
  if (!gen_config_get_int (cfg, "in_channels", TRUE, io_default, &c->in_ch, error)
      || !gen_config_get_int (cfg, "out_channels", TRUE, io_default, &c->out_ch, error)
      || !gen_config_get_int (cfg, "norm_num_groups", TRUE, 32, &c->groups, error)
      || !gen_config_get_int (cfg, "downsample_padding", TRUE, 1, &c->down_pad, error)
      || !gen_config_get_int (cfg, "sample_size", TRUE, 0, &c->sample_size, error)
      || !gen_config_get_positive (cfg, "norm_eps", TRUE, 1e-5, &c->eps, error)
      || !gen_config_get_positive (cfg, "mid_block_scale_factor", TRUE, 1.0, &c->mid_scale, error)
      || !gen_config_get_double (cfg, "freq_shift", TRUE, 0.0, &c->freq_shift, error)
      || !gen_config_get_bool (cfg, "center_input_sample", TRUE, FALSE, &c->center, error)
      || !gen_config_get_bool (cfg, "flip_sin_to_cos", TRUE, TRUE, &c->flip, error)
      || !gen_config_get_string (cfg, "resnet_time_scale_shift", TRUE, "default", &shift_mode,
                                 error)
      || !gen_config_get_string_array (cfg, "down_block_types", &c->down_types, &n_down, error)
      || !gen_config_get_string_array (cfg, "up_block_types", &c->up_types, &n_up, error)
      || !gen_config_get_channels (cfg, c->groups, &c->chans, &c->n_levels, error))
    return FALSE;
  if (strcmp (shift_mode, "default") != 0 && strcmp (shift_mode, "scale_shift") != 0)
    return gen_config_unsupported (cfg, class_name, "resnet_time_scale_shift", shift_mode, error);
  c->scale_shift = strcmp (shift_mode, "scale_shift") == 0;
  if (c->n_levels == 0 || c->n_levels > GEN_UNET_MAX_LEVELS || n_down != c->n_levels
      || n_up != c->n_levels)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: block_out_channels (%u), down_block_types (%u) and up_block_types (%u) "
                   "must have the same length, 1 to %d",
                   gen_config_path (cfg), c->n_levels, n_down, n_up, GEN_UNET_MAX_LEVELS);
      return FALSE;
    }
  if (c->in_ch <= 0 || c->in_ch > 64 || c->out_ch <= 0 || c->out_ch > 64 || c->groups <= 0
      || (c->down_pad != 0 && c->down_pad != 1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: in_channels, out_channels, norm_num_groups or downsample_padding out of "
                   "the supported range", gen_config_path (cfg));
      return FALSE;
    }
  return TRUE;
}

void
gen_unet_config_clear (GenUNetConfig *c)
{
  g_clear_pointer (&c->down_types, g_strfreev);
  g_clear_pointer (&c->up_types, g_strfreev);
  g_clear_pointer (&c->chans, g_free);
}

gboolean
gen_unet_level_load (GenWeights *w, GenUNetLevel *l, bool up, int index, int n_layers,
                     int64_t in_ch, int64_t out_ch, int64_t prev_out_ch, bool add_resampler,
                     const GenUNetLevelArgs *a, GError **error)
{
  const char *kind = up ? "up_blocks" : "down_blocks";

  l->n_layers = n_layers;
  l->out_ch = out_ch;
  l->resnets = g_new0 (GenResnet, n_layers);
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
      if (!gen_resnet_load (w, &l->resnets[j], prefix, rin, out_ch, a->temb_ch, a->groups, a->eps,
                            a->scale_shift, 1.0f, error))
        return FALSE;
    }
  l->has_downsampler = add_resampler && !up;
  l->has_upsampler = add_resampler && up;
  if (l->has_downsampler)
    {
      /* Downsample2D: stride-2 conv; padding 0 means F.pad (0, 1, 0, 1) */
      if (!gen_weights_conv (w, &l->downsampler, out_ch, out_ch, 3, 2, a->downsample_padding,
                             true, error, "%s.%d.downsamplers.0.conv", kind, index))
        return FALSE;
      if (a->downsample_padding == 0)
        {
          l->downsampler.pad[0] = l->downsampler.pad[1] = 0;
          l->downsampler.pad[2] = l->downsampler.pad[3] = 1;
        }
    }
  else if (l->has_upsampler
           && !gen_weights_conv (w, &l->upsampler, out_ch, out_ch, 3, 1, 1, true, error,
                                 "%s.%d.upsamplers.0.conv", kind, index))
    return FALSE;
  return TRUE;
}

void
gen_unet_level_clear (GenUNetLevel *l)
{
  g_clear_pointer (&l->resnets, g_free);
}

GenTensor
gen_unet_level_down (const GenUNetLevel *l, GenTensor h, const float *temb_silu,
                     GenUNetAttnFunc attn, gpointer attn_data, GenTensor *skips, int *n_skip,
                     GenArena *arena)
{
  for (int j = 0; j < l->n_layers; j++)
    {
      GenTensor y = gen_arena_tensor (arena, h.ne[0], l->out_ch, h.ne[2], h.ne[3]);

      gen_resnet_forward (&l->resnets[j], &h, temb_silu, &y, arena);
      if (attn)
        attn (j, &y, arena, attn_data);
      h = y;
      skips[(*n_skip)++] = h;
    }
  if (l->has_downsampler)
    {
      h = gen_downsample_forward (&l->downsampler, &h, arena);
      skips[(*n_skip)++] = h;
    }
  return h;
}

/* Upsample2D to OH×OW: nearest ×2 through the fused conv, or PyTorch's
 * nearest resize to another size, then the conv. */
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

GenTensor
gen_unet_level_up (const GenUNetLevel *l, GenTensor h, const float *temb_silu,
                   GenUNetAttnFunc attn, gpointer attn_data, const GenTensor *skips, int *n_skip,
                   bool skip_size, GenArena *arena)
{
  for (int j = 0; j < l->n_layers; j++)
    {
      GenTensor skip = skips[--(*n_skip)];
      GenTensor y = gen_arena_tensor (arena, h.ne[0], l->out_ch, h.ne[2], h.ne[3]);

      /* resnet ([h, skip]) without making the concatenation */
      gen_resnet_forward_cat (&l->resnets[j], &h, &skip, temb_silu, &y, arena);
      if (attn)
        attn (j, &y, arena, attn_data);
      h = y;
    }
  if (l->has_upsampler)
    {
      const GenTensor *next = &skips[*n_skip - 1];   /* the skip the next level meets */

      h = upsample_to (&l->upsampler, &h, skip_size ? next->ne[2] : 2 * h.ne[2],
                       skip_size ? next->ne[3] : 2 * h.ne[3], arena);
    }
  return h;
}

void
gen_unet_time_mlp (const GenLinear *linear_1, const GenLinear *linear_2, const float *t_in,
                   int64_t n, GenTensor *temb, GenTensor *temb_silu, GenArena *arena)
{
  int64_t dim = temb->ne[3];
  GenTensor hid = gen_arena_tensor (arena, 1, 1, n, dim);

  gen_linear (linear_1, t_in, hid.data, n, arena);
  gen_silu (hid.data, hid.data, n * dim);
  gen_linear (linear_2, hid.data, temb->data, n, arena);
  gen_silu (temb->data, temb_silu->data, n * dim);
}

void
gen_unet_conv_in (const GenConv2d *conv, const GenTensor *x, bool center, GenTensor *h,
                  GenArena *arena)
{
  if (center)
    {
      GenTensor xc = gen_arena_tensor (arena, x->ne[0], x->ne[1], x->ne[2], x->ne[3]);
      if (xc.data && x->data)
        for (int64_t i = 0; i < gen_tensor_numel (x); i++)
          xc.data[i] = 2.0f * x->data[i] - 1.0f;
      gen_conv2d (conv, &xc, h, false, arena);
    }
  else
    gen_conv2d (conv, x, h, false, arena);
}

gboolean
gen_unet_check_io (GenModel *m, const GenTensor *x, const GenTensor *out, GError **error)
{
  if (x->ne[1] != m->info.in_channels || out->ne[1] != m->info.out_channels
      || !gen_tensor_is_contiguous (x) || !gen_tensor_is_contiguous (out)
      || out->ne[0] != x->ne[0] || out->ne[2] != x->ne[2] || out->ne[3] != x->ne[3])
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the UNet takes %d channels and gives %d; got an input of %" G_GINT64_FORMAT
                   " channels", m->info.in_channels, m->info.out_channels, x->ne[1]);
      return FALSE;
    }
  return TRUE;
}
