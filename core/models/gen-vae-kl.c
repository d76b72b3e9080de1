/* gen-vae-kl.c — diffusers AutoencoderKL (Kingma & Welling 2014; the
 * latent-diffusion autoencoder of Rombach et al. 2022), built from its
 * config.json: Encoder / Decoder of vae.py, quant convs, diagonal Gaussian. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

typedef struct
{
  int        n_layers;
  GenResnet *resnets;
  bool       has_downsampler; /* encoder: downsamplers.0 (Downsample2D) */
  GenConv2d  downsampler;     /* its conv: downsamplers.0.conv */
  bool       has_upsampler;   /* decoder: upsamplers.0 (Upsample2D) */
  GenConv2d  upsampler;       /* its conv: upsamplers.0.conv */
  int64_t    out_ch;
} GenVaeLevel;

typedef struct
{
  GenConv2d    conv_in, conv_out;
  GenVaeLevel *levels;
  GenMidBlock  mid;
  GenGroupNorm conv_norm_out;
} GenVaeHalf;

struct _GenVaeKL
{
  int        n_levels;
  int64_t    latent_ch;
  GenVaeHalf enc, dec;
  bool       has_quant_conv, has_post_quant_conv;
  GenConv2d  quant_conv, post_quant_conv;
};

static void
half_free (GenVaeHalf *h, int n)
{
  if (!h->levels)
    return;
  for (int i = 0; i < n; i++)
    g_free (h->levels[i].resnets);
  g_free (h->levels);
}

void
gen_vae_kl_free (GenVaeKL *v)
{
  if (!v)
    return;
  half_free (&v->enc, v->n_levels);
  half_free (&v->dec, v->n_levels);
  g_free (v);
}

static gboolean
check_types (GenConfig *cfg, const char *key, char **types, guint n, const char *want,
             GError **error)
{
  for (guint i = 0; i < n; i++)
    if (strcmp (types[i], want) != 0)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                     "%s: %s[%u] '%s' is not supported (supported: %s)",
                     gen_config_path (cfg), key, i, types[i], want);
        return FALSE;
      }
  return TRUE;
}

static gboolean
load_level (GenWeights *w, GenVaeLevel *l, const char *prefix, int n_layers, int64_t in_ch,
            int64_t out_ch, bool resample, bool down, int groups, GError **error)
{
  l->n_layers = n_layers;
  l->out_ch = out_ch;
  l->resnets = g_new0 (GenResnet, n_layers);
  for (int j = 0; j < n_layers; j++)
    {
      char p[96];

      g_snprintf (p, sizeof p, "%s.resnets.%d", prefix, j);
      if (!gen_resnet_load (w, &l->resnets[j], p, j == 0 ? in_ch : out_ch, out_ch, 0, groups,
                            1e-6f, false, 1.0f, error))
        return FALSE;
    }
  l->has_downsampler = resample && down;
  l->has_upsampler = resample && !down;
  if (l->has_downsampler)
    {
      /* Downsample2D with padding 0: F.pad (0, 1, 0, 1), then stride 2 */
      if (!gen_weights_conv (w, &l->downsampler, out_ch, out_ch, 3, 2, 0, true, error,
                             "%s.downsamplers.0.conv", prefix))
        return FALSE;
      l->downsampler.pad[2] = l->downsampler.pad[3] = 1;
      return TRUE;
    }
  return !l->has_upsampler
         || gen_weights_conv (w, &l->upsampler, out_ch, out_ch, 3, 1, 1, true, error,
                              "%s.upsamplers.0.conv", prefix);
}

gboolean
gen_vae_kl_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenVaeKL *v = g_new0 (GenVaeKL, 1);
  GenWeights *w = &m->weights;
  char **down_types = NULL, **up_types = NULL;
  gint64 *chans = NULL;
  guint n_down = 0, n_up = 0, n_ch = 0;
  gint64 in_ch, out_ch, layers, groups, latent, sample_size;
  double scaling, shift;
  gboolean mid_attn, use_qc, use_pqc, ok = FALSE;

  m->vae_kl = v;
  if (!gen_config_check_act (cfg, "act_fn", "silu", false, NULL, error)
      || !gen_config_get_int (cfg, "in_channels", TRUE, 3, &in_ch, error)
      || !gen_config_get_int (cfg, "out_channels", TRUE, 3, &out_ch, error)
      || !gen_config_get_int (cfg, "layers_per_block", TRUE, 1, &layers, error)
      || !gen_config_get_int (cfg, "norm_num_groups", TRUE, 32, &groups, error)
      || !gen_config_get_int (cfg, "latent_channels", TRUE, 4, &latent, error)
      || !gen_config_get_int (cfg, "sample_size", TRUE, 0, &sample_size, error)
      || !gen_config_get_positive (cfg, "scaling_factor", TRUE, 0.18215, &scaling, error)
      || !gen_config_get_double (cfg, "shift_factor", TRUE, 0.0, &shift, error)
      || !gen_config_get_bool (cfg, "mid_block_add_attention", TRUE, TRUE, &mid_attn, error)
      || !gen_config_get_bool (cfg, "use_quant_conv", TRUE, TRUE, &use_qc, error)
      || !gen_config_get_bool (cfg, "use_post_quant_conv", TRUE, TRUE, &use_pqc, error)
      || !gen_config_get_string_array (cfg, "down_block_types", &down_types, &n_down, error)
      || !gen_config_get_string_array (cfg, "up_block_types", &up_types, &n_up, error)
      || !gen_config_get_channels (cfg, groups, &chans, &n_ch, error)
      || !check_types (cfg, "down_block_types", down_types, n_down, "DownEncoderBlock2D", error)
      || !check_types (cfg, "up_block_types", up_types, n_up, "UpDecoderBlock2D", error))
    goto out;
  if (gen_config_has (cfg, "latents_mean") || gen_config_has (cfg, "latents_std"))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: latents_mean / latents_std are not supported", gen_config_path (cfg));
      goto out;
    }
  if (n_ch == 0 || n_ch > 8 || n_down != n_ch || n_up != n_ch || in_ch <= 0 || in_ch > 64
      || out_ch <= 0 || out_ch > 64 || latent <= 0 || latent > 1024 || layers <= 0
      || layers > 16 || groups <= 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: block_out_channels / block types / channel counts out of the "
                   "supported range", gen_config_path (cfg));
      goto out;
    }
  v->n_levels = (int) n_ch;
  v->latent_ch = latent;
  v->has_quant_conv = use_qc;
  v->has_post_quant_conv = use_pqc;
  m->info.kind = GEN_MODEL_VAE_KL;
  m->info.in_channels = (int) in_ch;
  m->info.out_channels = (int) out_ch;
  m->info.latent_channels = (int) latent;
  m->info.sample_size = (int) sample_size;
  m->info.downscale = 1 << (n_ch - 1);
  m->vae_downs = (int) n_ch - 1;
  m->vae_pad[0] = 0, m->vae_pad[1] = 1;
  m->info.scaling_factor = (float) scaling;
  m->info.shift_factor = (float) shift;

  /* Encoder */
  v->enc.levels = g_new0 (GenVaeLevel, n_ch);
  if (!gen_weights_conv (w, &v->enc.conv_in, in_ch, chans[0], 3, 1, 1, true, error,
                         "encoder.conv_in"))
    goto out;
  for (guint i = 0; i < n_ch; i++)
    {
      char p[64];

      g_snprintf (p, sizeof p, "encoder.down_blocks.%u", i);
      if (!load_level (w, &v->enc.levels[i], p, (int) layers, i == 0 ? chans[0] : chans[i - 1],
                       chans[i], i != n_ch - 1, true, (int) groups, error))
        goto out;
    }
  if (!gen_mid_block_load (w, &v->enc.mid, "encoder.mid_block", chans[n_ch - 1], 0, (int) groups,
                           (int) groups, 1e-6f, false, mid_attn, chans[n_ch - 1], 1.0f, error)
      || !gen_weights_group_norm (w, &v->enc.conv_norm_out, chans[n_ch - 1], (int) groups, 1e-6f,
                                  error, "encoder.conv_norm_out")
      || !gen_weights_conv (w, &v->enc.conv_out, chans[n_ch - 1], 2 * latent, 3, 1, 1, true,
                            error, "encoder.conv_out"))
    goto out;
  if (use_qc && !gen_weights_conv (w, &v->quant_conv, 2 * latent, 2 * latent, 1, 1, 0, true,
                                   error, "quant_conv"))
    goto out;
  if (use_pqc && !gen_weights_conv (w, &v->post_quant_conv, latent, latent, 1, 1, 0, true,
                                    error, "post_quant_conv"))
    goto out;

  /* Decoder */
  v->dec.levels = g_new0 (GenVaeLevel, n_ch);
  if (!gen_weights_conv (w, &v->dec.conv_in, latent, chans[n_ch - 1], 3, 1, 1, true, error,
                         "decoder.conv_in")
      || !gen_mid_block_load (w, &v->dec.mid, "decoder.mid_block", chans[n_ch - 1], 0,
                              (int) groups, (int) groups, 1e-6f, false, mid_attn,
                              chans[n_ch - 1], 1.0f, error))
    goto out;
  for (guint i = 0; i < n_ch; i++)
    {
      char p[64];
      int64_t prev = chans[n_ch - 1 - (i == 0 ? 0 : i - 1)], cur = chans[n_ch - 1 - i];

      g_snprintf (p, sizeof p, "decoder.up_blocks.%u", i);
      if (!load_level (w, &v->dec.levels[i], p, (int) layers + 1, prev, cur, i != n_ch - 1, false,
                       (int) groups, error))
        goto out;
    }
  if (!gen_weights_group_norm (w, &v->dec.conv_norm_out, chans[0], (int) groups, 1e-6f, error,
                               "decoder.conv_norm_out")
      || !gen_weights_conv (w, &v->dec.conv_out, chans[0], out_ch, 3, 1, 1, true, error,
                            "decoder.conv_out"))
    goto out;
  ok = TRUE;

out:
  g_strfreev (down_types);
  g_strfreev (up_types);
  g_free (chans);
  return ok;
}

/* Runs one level (resnets, then its Downsample2D or Upsample2D) on H;
 * returns the new H.  Each output replaces its input in the arena (gen_arena_keep). */
static GenTensor
level_forward (const GenVaeLevel *l, GenTensor h, GenArena *arena)
{
  int64_t n = h.ne[0];
  gsize mark = gen_arena_mark (arena);

  for (int j = 0; j < l->n_layers; j++)
    {
      GenTensor y = gen_arena_tensor (arena, n, l->out_ch, h.ne[2], h.ne[3]);
      gen_resnet_forward (&l->resnets[j], &h, NULL, &y, arena);
      h = gen_arena_keep (arena, mark, &y);
    }
  if (l->has_downsampler || l->has_upsampler)
    {
      GenTensor y = l->has_downsampler ? gen_downsample_forward (&l->downsampler, &h, arena)
                                       : gen_upsample_forward (&l->upsampler, &h, arena);
      h = gen_arena_keep (arena, mark, &y);
    }
  return h;
}

/* Encoder → moments [N, 2L]; mean = first L channels, log-variance the
 * rest, clamped to [−30, 20] (diffusers DiagonalGaussianDistribution). */
gboolean
gen_vae_kl_encode (GenModel *m, const GenTensor *x, GenTensor *mean, GenTensor *logvar,
                   GenArena *arena, GenTapFunc tap, gpointer tap_data)
{
  GenVaeKL *v = m->vae_kl;
  int64_t n = x->ne[0];
  gsize mark = gen_arena_mark (arena);
  GenTensor h = gen_arena_tensor (arena, n, v->enc.conv_in.weight.ne[0], x->ne[2], x->ne[3]);
  GenTensor moments, y;

  gen_conv2d (&v->enc.conv_in, x, &h, false, arena);
  gen_tap (tap, tap_data, &h, "encoder.conv_in");
  for (int i = 0; i < v->n_levels; i++)
    {
      GenTensor o = level_forward (&v->enc.levels[i], h, arena);
      h = gen_arena_keep (arena, mark, &o);
      gen_tap (tap, tap_data, &h, "encoder.down_blocks.%d", i);
    }
  y = gen_arena_tensor (arena, n, h.ne[1], h.ne[2], h.ne[3]);
  gen_mid_block_forward (&v->enc.mid, &h, NULL, &y, arena);
  gen_tap (tap, tap_data, &y, "encoder.mid_block");
  moments = gen_arena_tensor (arena, n, 2 * v->latent_ch, y.ne[2], y.ne[3]);
  gen_conv2d_norm_silu (&v->enc.conv_out, &v->enc.conv_norm_out, &y, &moments, false, arena);
  gen_tap (tap, tap_data, &moments, "encoder");
  if (v->has_quant_conv)
    {
      GenTensor q = gen_arena_tensor (arena, n, 2 * v->latent_ch, y.ne[2], y.ne[3]);
      gen_conv2d (&v->quant_conv, &moments, &q, false, arena);
      moments = q;
      gen_tap (tap, tap_data, &moments, "quant_conv");
    }
  if (!moments.data)
    return FALSE;
  {
    GenTensor mv = gen_tensor_channels (&moments, 0, v->latent_ch);
    gen_tensor_copy (&mv, mean);
    gen_tap (tap, tap_data, mean, "latent");
  }
  if (logvar)
    {
      GenTensor lv = gen_tensor_channels (&moments, v->latent_ch, v->latent_ch);
      gen_tensor_copy (&lv, logvar);
      for (int64_t i = 0; i < gen_tensor_numel (logvar); i++)
        logvar->data[i] = CLAMP (logvar->data[i], -30.0f, 20.0f);
    }
  return TRUE;
}

gboolean
gen_vae_kl_decode (GenModel *m, const GenTensor *z, GenTensor *out, GenArena *arena,
                   GenTapFunc tap, gpointer tap_data)
{
  GenVaeKL *v = m->vae_kl;
  int64_t n = z->ne[0];
  GenTensor zz = *z, h, y;
  gsize mark;

  if (v->has_post_quant_conv)
    {
      zz = gen_arena_tensor (arena, n, v->latent_ch, z->ne[2], z->ne[3]);
      gen_conv2d (&v->post_quant_conv, z, &zz, false, arena);
    }
  mark = gen_arena_mark (arena);
  h = gen_arena_tensor (arena, n, v->dec.conv_in.weight.ne[0], z->ne[2], z->ne[3]);
  gen_conv2d (&v->dec.conv_in, &zz, &h, false, arena);
  gen_tap (tap, tap_data, &h, "decoder.conv_in");
  y = gen_arena_tensor (arena, n, h.ne[1], h.ne[2], h.ne[3]);
  gen_mid_block_forward (&v->dec.mid, &h, NULL, &y, arena);
  h = gen_arena_keep (arena, mark, &y);
  gen_tap (tap, tap_data, &h, "decoder.mid_block");
  for (int i = 0; i < v->n_levels; i++)
    {
      GenTensor o = level_forward (&v->dec.levels[i], h, arena);
      h = gen_arena_keep (arena, mark, &o);
      gen_tap (tap, tap_data, &h, "decoder.up_blocks.%d", i);
    }
  gen_conv2d_norm_silu (&v->dec.conv_out, &v->dec.conv_norm_out, &h, out, false, arena);
  return out->data != NULL;
}
