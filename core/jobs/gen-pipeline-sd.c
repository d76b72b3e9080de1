/* gen-pipeline-sd.c — loading a Stable Diffusion pipeline folder: its
 * model_index.json (checked: class names, plain component folder names),
 * then unet/, vae/, text_encoder/, tokenizer/ and scheduler/; or a
 * single-file checkpoint (gen-single-file.h) with the CLIP vocabulary
 * installed beside the program and SD 1.5's scheduler config. */
#include "gen-job-private.h"

#include "gen-model-index.h"

static GenModel *
load_component (const char *dir, const char *sub, GenModelKind kind, GenModelKind kind2,
                const char *what, GError **error)
{
  char *path = sub ? g_build_filename (dir, sub, NULL) : g_strdup (dir);
  GenModel *m = NULL;
  GenModelInfo info;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING, "%s: no %s folder", path, what);
  else if ((m = gen_model_load (path, error)))
    {
      gen_model_get_info (m, &info);
      if (info.kind != kind && info.kind != kind2)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: a %s, where a %s was expected",
                       path, info.class_name, what);
          g_clear_pointer (&m, gen_model_free);
        }
    }
  g_free (path);
  return m;
}

gboolean
gen_pipeline_is_sd (const char *dir)
{
  char *index = g_build_filename (dir, "model_index.json", NULL);
  char *text = g_build_filename (dir, "text_encoder", NULL);
  gboolean sd = g_file_test (index, G_FILE_TEST_EXISTS) || g_file_test (text, G_FILE_TEST_IS_DIR);

  g_free (index);
  g_free (text);
  return sd;
}

static gboolean
check_together (GenPipeline *p, const char *dir, GError **error)
{
  GenModelInfo ui, vi, ti;

  gen_model_get_info (p->unet, &ui);
  gen_model_get_info (p->vae, &vi);
  gen_model_get_info (p->text, &ti);
  if (ui.out_channels != vi.latent_channels
      || (ui.in_channels != vi.latent_channels && ui.in_channels != 2 * vi.latent_channels + 1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: the UNet takes %d channels and gives %d but the VAE's latents have %d: "
                   "they do not belong together", dir, ui.in_channels, ui.out_channels,
                   vi.latent_channels);
      return FALSE;
    }
  if (ui.cross_attention_dim != ti.out_channels)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: the UNet's cross_attention_dim is %d but the text encoder gives %d "
                   "values per token", dir, ui.cross_attention_dim, ti.out_channels);
      return FALSE;
    }
  return TRUE;
}

gboolean
gen_pipeline_load_sd (GenPipeline *p, const char *dir, const char *vae_dir, GError **error)
{
  char *index_path = g_build_filename (dir, "model_index.json", NULL);
  char *sched_path = g_build_filename (dir, "scheduler", "scheduler_config.json", NULL);
  GenModelIndex idx = { 0 };
  gboolean ok = FALSE;

  if (g_file_test (index_path, G_FILE_TEST_EXISTS)
      && !gen_model_index_load (index_path, &idx, error))
    goto out;
  if (!(p->unet = load_component (dir, "unet", GEN_MODEL_UNET_COND, GEN_MODEL_UNET_COND,
                                  "UNet2DConditionModel", error))
      || !(p->text = load_component (dir, "text_encoder", GEN_MODEL_CLIP_TEXT,
                                     GEN_MODEL_CLIP_TEXT, "CLIPTextModel", error))
      || !(p->vae = load_component (vae_dir ? vae_dir : dir, vae_dir ? NULL : "vae",
                                    GEN_MODEL_VAE_KL, GEN_MODEL_VAE_TINY, "VAE", error))
      || !(p->tok = gen_tokenizer_open (dir, NULL, error))
      || !check_together (p, dir, error))
    goto out;
  p->latent = TRUE;
  p->sched = gen_sched_config_load (g_file_test (sched_path, G_FILE_TEST_EXISTS) ? sched_path
                                                                                 : NULL, error);
  ok = p->sched != NULL;

out:
  gen_model_index_clear (&idx);
  g_free (index_path);
  g_free (sched_path);
  return ok;
}

/* SD 1.5's scheduler/scheduler_config.json: the scheduler diffusers'
 * single-file loader takes for an SD 1.x checkpoint from that pipeline's
 * repository, since the file itself names none. */
static const char sd1_scheduler_config[] =
  "{\"_class_name\": \"PNDMScheduler\", \"beta_end\": 0.012, "
  "\"beta_schedule\": \"scaled_linear\", \"beta_start\": 0.00085, \"clip_sample\": false, "
  "\"num_train_timesteps\": 1000, \"set_alpha_to_one\": false, \"skip_prk_steps\": true, "
  "\"steps_offset\": 1, \"trained_betas\": null, \"prediction_type\": \"epsilon\"}";

gboolean
gen_pipeline_load_single (GenPipeline *p, const char *path, const char *vae_dir,
                          const char *vocab_dir, GError **error)
{
  GenSingleFile *sf = gen_single_file_open (path, error);
  gboolean ok = FALSE;

  if (!sf)
    return FALSE;
  if (!vocab_dir)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                   "%s: a single-file checkpoint carries no tokenizer, and the CLIP vocabulary "
                   "installed with Generative (clip-tokenizer) was not found: install Generative "
                   "again, or use the model's diffusers folder", path);
      goto out;
    }
  if (!(p->unet = gen_model_load_single (sf, GEN_SINGLE_FILE_UNET, error))
      || !(p->text = gen_model_load_single (sf, GEN_SINGLE_FILE_TEXT_ENCODER, error))
      || !(p->vae = vae_dir ? load_component (vae_dir, NULL, GEN_MODEL_VAE_KL, GEN_MODEL_VAE_TINY,
                                              "VAE", error)
                            : gen_model_load_single (sf, GEN_SINGLE_FILE_VAE, error))
      || !(p->tok = gen_tokenizer_open (vocab_dir, NULL, error))
      || !check_together (p, path, error))
    goto out;
  p->latent = TRUE;
  p->sched = gen_sched_config_load_from_data (sd1_scheduler_config, strlen (sd1_scheduler_config),
                                              "SD 1.5's scheduler config", error);
  ok = p->sched != NULL;

out:
  gen_single_file_unref (sf);
  return ok;
}
