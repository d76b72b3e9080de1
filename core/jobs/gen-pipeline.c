/* gen-pipeline.c — loading the model chain (see gen-pipeline.h). */
#include "gen-job-private.h"

#include <string.h>

static GenModel *
load_kind (const char *dir, gboolean want_unet, GError **error)
{
  GenModel *m = gen_model_load (dir, error);
  GenModelInfo info;

  if (!m)
    return NULL;
  gen_model_get_info (m, &info);
  if (want_unet ? info.kind != GEN_MODEL_UNET
                : info.kind != GEN_MODEL_VAE_KL && info.kind != GEN_MODEL_VAE_TINY)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: a %s, where a %s was expected", dir,
                   info.class_name, want_unet ? "UNet2DModel" : "VAE (AutoencoderKL or AutoencoderTiny)");
      gen_model_free (m);
      return NULL;
    }
  return m;
}

GenPipeline *
gen_pipeline_load (const char *model_dir, const char *vae_dir, GError **error)
{
  return gen_pipeline_load_full (model_dir, vae_dir, NULL, error);
}

GenPipeline *
gen_pipeline_load_full (const char *model_dir, const char *vae_dir, const char *vocab_dir,
                        GError **error)
{
  GenPipeline *p = g_new0 (GenPipeline, 1);
  char *unet_sub = g_build_filename (model_dir, "unet", NULL);
  char *sched_path = NULL;
  gboolean is_pipeline = g_file_test (unet_sub, G_FILE_TEST_IS_DIR);

  if (gen_single_file_is_checkpoint (model_dir) || gen_pipeline_is_sd (model_dir))
    {
      g_free (unet_sub);
      if (gen_single_file_is_checkpoint (model_dir)
          ? gen_pipeline_load_single (p, model_dir, vae_dir, vocab_dir, error)
          : gen_pipeline_load_sd (p, model_dir, vae_dir, error))
        return p;
      gen_pipeline_free (p);
      return NULL;
    }
  if (is_pipeline)
    {
      char *vae_sub = g_build_filename (model_dir, "vae", NULL);

      if (!(p->unet = load_kind (unet_sub, TRUE, error)))
        goto fail;
      sched_path = g_build_filename (model_dir, "scheduler", "scheduler_config.json", NULL);
      if (!vae_dir && g_file_test (vae_sub, G_FILE_TEST_IS_DIR)
          && !(p->vae = load_kind (vae_sub, FALSE, error)))
        {
          g_free (vae_sub);
          goto fail;
        }
      p->latent = p->vae != NULL;
      g_free (vae_sub);
    }
  else
    {
      GenModel *m = gen_model_load (model_dir, error);
      GenModelInfo info;

      if (!m)
        goto fail;
      gen_model_get_info (m, &info);
      if (info.kind == GEN_MODEL_CLIP_TEXT)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: a text encoder (%s) runs no job "
                       "on its own", model_dir, info.class_name);
          gen_model_free (m);
          goto fail;
        }
      if (info.kind == GEN_MODEL_UNET)
        p->unet = m;
      else
        p->vae = m;
      sched_path = g_build_filename (model_dir, "scheduler_config.json", NULL);
    }

  if (vae_dir)
    {
      gen_model_free (p->vae);
      if (!(p->vae = load_kind (vae_dir, FALSE, error)))
        goto fail;
    }

  if (p->unet)
    {
      GenModelInfo ui, vi;

      gen_model_get_info (p->unet, &ui);
      if (p->vae)
        gen_model_get_info (p->vae, &vi);
      if (p->vae && ui.in_channels == vi.latent_channels
          && (is_pipeline || (ui.in_channels != 1 && ui.in_channels != 3)))
        p->latent = TRUE;
      else if (p->latent || (ui.in_channels != 1 && ui.in_channels != 3))
        {
          if (p->vae)
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "the UNet takes %d channels but the VAE's latents have %d: they do not "
                         "belong together", ui.in_channels, vi.latent_channels);
          else
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "%s: this UNet works on %d-channel latents and needs the VAE it was "
                         "trained with: give its VAE folder as well", model_dir, ui.in_channels);
          goto fail;
        }
      if (ui.out_channels != ui.in_channels)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                       "%s: a UNet with %d input and %d output channels is not a denoiser these "
                       "jobs can run", model_dir, ui.in_channels, ui.out_channels);
          goto fail;
        }
      p->sched = gen_sched_config_load (g_file_test (sched_path, G_FILE_TEST_EXISTS) ? sched_path
                                                                                     : NULL, error);
      if (!p->sched)
        goto fail;
    }
  g_free (unet_sub);
  g_free (sched_path);
  return p;

fail:
  g_free (unet_sub);
  g_free (sched_path);
  gen_pipeline_free (p);
  return NULL;
}

void
gen_pipeline_free (GenPipeline *p)
{
  if (!p)
    return;
  gen_model_free (p->unet);
  gen_model_free (p->vae);
  gen_model_free (p->text);
  if (p->tok)
    gen_tokenizer_free (p->tok);
  if (p->sched)
    gen_sched_config_free (p->sched);
  g_free (p);
}

GenModel *
gen_pipeline_unet (GenPipeline *p)
{
  return p->unet;
}

GenModel *
gen_pipeline_vae (GenPipeline *p)
{
  return p->vae;
}

const GenSchedConfig *
gen_pipeline_sched (GenPipeline *p)
{
  return p->sched;
}

int
gen_pipeline_vae_factor (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->latent)
    return 1;
  gen_model_get_info (p->vae, &i);
  return i.downscale;
}

int
gen_pipeline_unet_multiple (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->unet)
    return 1;
  gen_model_get_info (p->unet, &i);
  return i.downscale;
}

int
gen_pipeline_size_multiple (GenPipeline *p)
{
  int m = gen_pipeline_unet_multiple (p) * gen_pipeline_vae_factor (p);

  if (!p->unet && p->vae)
    {
      GenModelInfo i;
      gen_model_get_info (p->vae, &i);
      m = i.downscale;
    }
  return m;
}

int
gen_pipeline_native_size (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->unet)
    return 0;
  gen_model_get_info (p->unet, &i);
  return i.sample_size * gen_pipeline_vae_factor (p);
}

gboolean
gen_pipeline_need_unet (GenPipeline *p, const char *job, gboolean fill, GError **error)
{
  GenModelInfo i;

  if (!p->unet)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s needs a diffusion model (UNet2DModel); this model is a VAE only", job);
      return FALSE;
    }
  gen_model_get_info (p->unet, &i);
  if (i.in_channels != i.out_channels && !fill)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: this is an inpainting model (its UNet takes %d channels: the latents, "
                   "the mask and the masked image): it fills selections (inpaint) and cannot %s",
                   job, i.in_channels, job);
      return FALSE;
    }
  return TRUE;
}
