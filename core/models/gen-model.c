/* gen-model.c — loading a diffusers model folder and the public forward
 * entry points, which check their arguments before any work. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <string.h>

/* Builds the model CFG describes on the weights of the folder DIR or, if SF
 * is set, of PART of that single file; takes CFG. */
static GenModel *
model_build (GenConfig *cfg, const char *dir, GenSingleFile *sf, GenSingleFilePart part,
             GError **error)
{
  GenModel *m;
  const char *cls;
  gboolean ok;

  cls = gen_config_class_name (cfg);
  if (!cls && gen_clip_text_is_config (cfg))
    cls = "CLIPTextModel";
  if (!cls || (strcmp (cls, "UNet2DModel") != 0 && strcmp (cls, "UNet2DConditionModel") != 0
               && strcmp (cls, "AutoencoderKL") != 0 && strcmp (cls, "AutoencoderTiny") != 0
               && strcmp (cls, "CLIPTextModel") != 0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: _class_name %s%s%s is not a supported model (supported: UNet2DModel, "
                   "UNet2DConditionModel, AutoencoderKL, AutoencoderTiny, transformers' "
                   "CLIPTextModel)", gen_config_path (cfg),
                   cls ? "'" : "", cls ? cls : "is missing and", cls ? "'" : "");
      gen_config_free (cfg);
      return NULL;
    }

  m = g_new0 (GenModel, 1);
  m->class_name = g_strdup (cls);
  m->info.class_name = m->class_name;
  m->info.scaling_factor = 1.0f;
  if (sf)
    gen_weights_open_single (&m->weights, sf, part);
  else if (!gen_weights_open (&m->weights, dir, error))
    {
      gen_config_free (cfg);
      gen_model_free (m);
      return NULL;
    }
  if (strcmp (cls, "UNet2DModel") == 0)
    ok = gen_unet_build (m, cfg, error);
  else if (strcmp (cls, "UNet2DConditionModel") == 0)
    ok = gen_unet_cond_build (m, cfg, error);
  else if (strcmp (cls, "AutoencoderKL") == 0)
    ok = gen_vae_kl_build (m, cfg, error);
  else if (strcmp (cls, "CLIPTextModel") == 0)
    ok = gen_clip_text_build (m, cfg, error);
  else
    ok = gen_vae_tiny_build (m, cfg, error);
  gen_config_free (cfg);
  if (!ok)
    {
      gen_model_free (m);
      return NULL;
    }
  m->info.n_params = m->weights.n_params;
  m->info.weight_bytes = m->weights.bytes;
  m->info.weight_mapped_bytes = m->weights.mapped;
  m->info.weight_convert_bytes = m->weights.convert;
  return m;
}

GenModel *
gen_model_load (const char *dir, GError **error)
{
  GenConfig *cfg;
  char *cfg_path;

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a folder", dir);
      return NULL;
    }
  cfg_path = g_build_filename (dir, "config.json", NULL);
  cfg = gen_config_load (cfg_path, error);
  g_free (cfg_path);
  return cfg ? model_build (cfg, dir, NULL, 0, error) : NULL;
}

GenModel *
gen_model_load_single (GenSingleFile *sf, GenSingleFilePart part, GError **error)
{
  GenConfig *cfg = gen_single_file_config (sf, part, error);

  return cfg ? model_build (cfg, NULL, sf, part, error) : NULL;
}

GenModel *
gen_model_load_component (const char *path, const char *component, GError **error)
{
  static const char *const parts[] = { "unet", "vae", "text_encoder" };
  GenSingleFile *sf;
  GenModel *m;
  guint part = G_N_ELEMENTS (parts);

  if (component)
    for (part = 0; part < G_N_ELEMENTS (parts) && strcmp (component, parts[part]) != 0; part++)
      ;
  if (component && part == G_N_ELEMENTS (parts))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "unknown component '%s' (unet, vae or text_encoder)", component);
      return NULL;
    }
  if (!gen_single_file_is_checkpoint (path))
    {
      char *sub = component ? g_build_filename (path, component, NULL) : g_strdup (path);

      m = gen_model_load (sub, error);
      g_free (sub);
      return m;
    }
  if (!(sf = gen_single_file_open (path, error)))
    return NULL;
  if (!component)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s holds a whole pipeline: name the component (unet, vae or "
                   "text_encoder)", path);
      m = NULL;
    }
  else
    m = gen_model_load_single (sf, (GenSingleFilePart) part, error);
  gen_single_file_unref (sf);
  return m;
}

void
gen_model_free (GenModel *m)
{
  if (!m)
    return;
  gen_unet_free (m->unet);
  gen_unet_cond_free (m->unet_cond);
  gen_vae_kl_free (m->vae_kl);
  gen_vae_tiny_free (m->vae_tiny);
  gen_clip_text_free (m->clip_text);
  gen_weights_clear (&m->weights);
  g_free (m->class_name);
  g_free (m);
}

void
gen_model_get_info (GenModel *m, GenModelInfo *info)
{
  *info = m->info;
}

void
gen_vae_latent_size (GenModel *m, int64_t h, int64_t w, int64_t *lh, int64_t *lw)
{
  for (int i = 0; i < m->vae_downs; i++)
    {
      h = gen_conv2d_out_size (h, 3, 2, m->vae_pad[0], m->vae_pad[1]);
      w = gen_conv2d_out_size (w, 3, 2, m->vae_pad[0], m->vae_pad[1]);
    }
  *lh = h;
  *lw = w;
}

static gboolean
check_vae (GenModel *m, const GenTensor *in, int64_t in_ch, const GenTensor *out,
           int64_t out_ch, bool encode, GError **error)
{
  int64_t f = m->info.downscale;
  int64_t want_h, want_w;

  if (m->info.kind != GEN_MODEL_VAE_KL && m->info.kind != GEN_MODEL_VAE_TINY)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s is not a VAE", m->class_name);
      return FALSE;
    }
  if (in->ne[0] < 1 || in->ne[2] < 1 || in->ne[3] < 1 || in->ne[1] != in_ch)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the %s %s takes %" G_GINT64_FORMAT " channels; got %" G_GINT64_FORMAT,
                   m->class_name, encode ? "encoder" : "decoder", in_ch, in->ne[1]);
      return FALSE;
    }
  if (encode)
    gen_vae_latent_size (m, in->ne[2], in->ne[3], &want_h, &want_w);
  else
    want_h = in->ne[2] * f, want_w = in->ne[3] * f;
  if (want_h < 1 || want_w < 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT " image is too small for the %s "
                   "encoder", in->ne[3], in->ne[2], m->class_name);
      return FALSE;
    }
  if (out->ne[0] != in->ne[0] || out->ne[1] != out_ch || out->ne[2] != want_h
      || out->ne[3] != want_w || !gen_tensor_is_contiguous (in) || !gen_tensor_is_contiguous (out))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "output tensor of the wrong shape for the %s %s", m->class_name,
                   encode ? "encoder" : "decoder");
      return FALSE;
    }
  return TRUE;
}

gboolean
gen_vae_encode (GenModel *m, const GenTensor *x, GenTensor *mean, GenTensor *logvar,
                GenArena *arena, GenTapFunc tap, gpointer tap_data, GError **error)
{
  gboolean ok;

  if (!check_vae (m, x, m->info.in_channels, mean, m->info.latent_channels, true, error)
      || (logvar && !check_vae (m, x, m->info.in_channels, logvar, m->info.latent_channels,
                                true, error)))
    return FALSE;
  if (logvar && m->info.kind == GEN_MODEL_VAE_TINY)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "AutoencoderTiny has no latent variance to sample from");
      return FALSE;
    }
  if (!gen_arena_reset (arena, error))
    return FALSE;
  if (m->info.kind == GEN_MODEL_VAE_KL)
    ok = gen_vae_kl_encode (m, x, mean, logvar, arena, tap, tap_data);
  else
    ok = gen_vae_tiny_encode (m, x, mean, arena, tap, tap_data);
  if (!gen_arena_check (arena, error))
    return FALSE;
  if (!ok)
    g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "the %s encoder failed", m->class_name);
  return ok;
}

gboolean
gen_vae_decode (GenModel *m, const GenTensor *z, GenTensor *out, GenArena *arena,
                GenTapFunc tap, gpointer tap_data, GError **error)
{
  gboolean ok;

  if (!check_vae (m, z, m->info.latent_channels, out, m->info.out_channels, false, error))
    return FALSE;
  if (!gen_arena_reset (arena, error))
    return FALSE;
  if (m->info.kind == GEN_MODEL_VAE_KL)
    ok = gen_vae_kl_decode (m, z, out, arena, tap, tap_data);
  else
    ok = gen_vae_tiny_decode (m, z, out, arena, tap, tap_data);
  if (!gen_arena_check (arena, error))
    return FALSE;
  if (!ok)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "the %s decoder failed", m->class_name);
      return FALSE;
    }
  if (tap)
    tap ("sample", out, tap_data);
  return TRUE;
}
