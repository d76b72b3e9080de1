/* gen-plugin-models.h — the models a user has: the built-in ones and what
 * lies in the models folders (generative/models under GIMP's user folder
 * and under the XDG data folder), each with its kind, size on disk and
 * native resolution, for the dialogs' model chooser and for the plug-in's
 * own error messages.
 *
 * A model is read from its JSON only (config.json, or a pipeline's
 * model_index.json and its unet/ and vae/ configs), never loaded: listing a
 * folder of multi-gigabyte checkpoints stays cheap.  What a _class_name
 * means is one table row each (gen-plugin-models.c). */
#pragma once

#include "gen-plugin-settings.h"

G_BEGIN_DECLS

typedef enum
{
  GEN_PLUGIN_MODEL_UNCONDITIONAL,   /* a UNet2DModel (pixel space, or with its VAE) */
  GEN_PLUGIN_MODEL_VAE,             /* AutoencoderKL, AutoencoderTiny */
  GEN_PLUGIN_MODEL_TEXT_TO_IMAGE,   /* Stable Diffusion-class pipelines, checkpoint files */
  GEN_PLUGIN_MODEL_INPAINTING,      /* Stable Diffusion inpainting pipelines */
  GEN_PLUGIN_MODEL_OTHER            /* a _class_name no row knows */
} GenPluginModelKind;

typedef struct
{
  char               *path;       /* the folder or file */
  char               *name;       /* its base name, or the built-in model's title */
  char               *class_name; /* the _class_name read, or NULL (a checkpoint file) */
  GenPluginModelKind  kind;
  gboolean            runnable;   /* the core runs this kind today (text-conditioned
                                     ones: as a pipeline folder only) */
  gboolean            builtin;
  gboolean            pipeline;   /* a folder with model_index.json */
  guint64             bytes;      /* its weights on disk */
  int                 native;     /* native resolution in pixels; 0 unknown */
} GenPluginModel;

/* What PATH (a diffusers folder or a single-file checkpoint) is; NULL with
 * an error when it is neither (no config.json or model_index.json; a
 * file that is not .safetensors or .ckpt).  Free with gen_plugin_model_free. */
GenPluginModel *gen_plugin_model_inspect (const char *path, GError **error);
void            gen_plugin_model_free (GenPluginModel *m);

/* "unconditional", "VAE", "text-to-image", … translated. */
const char     *gen_plugin_model_kind_label (GenPluginModelKind kind);

/* TRUE for the kinds that take a prompt (text-to-image, inpainting). */
gboolean        gen_plugin_model_kind_takes_text (GenPluginModelKind kind);

/* TRUE when the model at PATH ("" or NULL: the built-in one, which does
 * not) takes a prompt: what the dialogs show the prompt for, and what a
 * run reads it for (others ignore it). */
gboolean        gen_plugin_model_takes_text (const char *path);

/* TRUE when M can run JOB: an unconditional diffusion model for the
 * sampling jobs, a VAE for the VAE round trip, either for interpolate; a
 * text-to-image pipeline for generate, vary and inpaint, an inpainting
 * pipeline for inpaint. */
gboolean        gen_plugin_model_fits (const GenPluginModel *m, GenPluginJob job);

/* One line for a list: "name — unconditional, 7.8 MB, 64 × 64 px", and
 * why it cannot be chosen where it cannot.  Caller frees. */
char           *gen_plugin_model_summary (const GenPluginModel *m);

/* The folders searched for models: GIMP_DIR/generative/models (GIMP's
 * user folder; NULL skips it) and $XDG_DATA_HOME/generative/models.
 * NULL-terminated, g_strfreev. */
char          **gen_plugin_models_dirs (const char *gimp_dir);

/* The built-in models (the UNet at DEFAULT_DIR and the VAE installed
 * beside it, where installed), then every model found in
 * gen_plugin_models_dirs (GIMP_DIR), by name.  An array of GenPluginModel
 * that frees them. */
GPtrArray      *gen_plugin_models_find (const char *default_dir, const char *gimp_dir);

G_END_DECLS
