/* gen-model-index.h — a diffusers pipeline's model_index.json: which
 * pipeline class it is and which component classes its subfolders hold.
 *
 * Every member not starting with '_' whose value is an array names a
 * component subfolder and maps to ["library", "ClassName"] (or [null, null]:
 * no such component); other members are pipeline settings
 * (requires_safety_checker) and are ignored.  The
 * names become paths, so each must be one plain folder name: no '/', '\',
 * "..", leading '.', or absolute path.  Unknown pipeline classes and unknown
 * classes of the components the jobs load are refused, naming them.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GEN_MODEL_INDEX_MAX_BYTES (256u * 1024u)

typedef enum
{
  GEN_PIPELINE_SD,          /* StableDiffusionPipeline */
  GEN_PIPELINE_SD_IMG2IMG,  /* StableDiffusionImg2ImgPipeline */
  GEN_PIPELINE_SD_INPAINT,  /* StableDiffusionInpaintPipeline */
  GEN_PIPELINE_LCM          /* LatentConsistencyModelPipeline */
} GenPipelineClass;

typedef struct
{
  GenPipelineClass pipeline;
  char            *pipeline_name;  /* "_class_name" */
  /* class names of the loaded components, NULL when absent or null */
  char            *unet, *vae, *text_encoder, *tokenizer, *scheduler;
} GenModelIndex;

/* Parses the LEN bytes at DATA (NAME prefixes messages) into OUT (cleared
 * first; gen_model_index_clear frees it). */
gboolean gen_model_index_parse (const char *data, gsize len, const char *name,
                                GenModelIndex *out, GError **error);
/* The same from a file, refusing one over GEN_MODEL_INDEX_MAX_BYTES. */
gboolean gen_model_index_load (const char *path, GenModelIndex *out, GError **error);
void     gen_model_index_clear (GenModelIndex *idx);

G_END_DECLS
