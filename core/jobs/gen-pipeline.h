/* gen-pipeline.h — the model chain the jobs run: a UNet (pixel space, or
 * latent space when a VAE is given), its scheduler config, and optionally
 * a VAE.  The VAE alone serves the vae job and latent interpolation.
 *
 * A loaded pipeline is read-only: the weights and configs.  What a run
 * needs besides (activation arenas, threads, the clock) belongs to the run
 * and comes in through the job options (gen-job.h).
 */
#pragma once

#include "gen-model.h"
#include "gen-sched.h"

G_BEGIN_DECLS

typedef struct _GenPipeline GenPipeline;

/* MODEL_DIR: a UNet2DModel folder (scheduler_config.json beside
 * config.json, or DDPM defaults), a VAE folder, a diffusers pipeline
 * folder with unet/, scheduler/ and vae/ subfolders, or a Stable Diffusion
 * pipeline folder (model_index.json, or text_encoder/ beside unet/: see
 * gen-pipeline-sd.c) with text_encoder/ and tokenizer/ as well.  VAE_DIR (may be NULL)
 * adds or replaces the VAE.  A UNet whose channels do not match the VAE's
 * latent channels is an error naming both. */
GenPipeline *gen_pipeline_load (const char *model_dir, const char *vae_dir, GError **error);
/* The same; MODEL_DIR may also be a single-file Stable Diffusion checkpoint
 * (a .safetensors in the original layout, see gen-single-file.h), whose
 * tokenizer is the CLIP vocabulary folder VOCAB_DIR (the program installs
 * one; NULL refuses such a file with a message saying so). */
GenPipeline *gen_pipeline_load_full (const char *model_dir, const char *vae_dir,
                                     const char *vocab_dir, GError **error);
void         gen_pipeline_free (GenPipeline *p);
GenModel    *gen_pipeline_unet (GenPipeline *p);   /* NULL if none */
GenModel    *gen_pipeline_vae (GenPipeline *p);    /* NULL if none */
const GenSchedConfig *gen_pipeline_sched (GenPipeline *p);
/* The model's natural image size (UNet sample_size × VAE factor), or 0. */
int          gen_pipeline_native_size (GenPipeline *p);
/* Sizes must be multiples of this to generate (UNet downscale × VAE factor). */
int          gen_pipeline_size_multiple (GenPipeline *p);

G_END_DECLS
