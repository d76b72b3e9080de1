/* gen-model-index.c — reading model_index.json (see gen-model-index.h). */
#include "gen-model-index.h"

#include "gen-error.h"
#include "gen-json.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sys/stat.h>
#include <string.h>

static const struct
{
  const char      *name;
  GenPipelineClass cls;
} pipelines[] = {
  { "StableDiffusionPipeline", GEN_PIPELINE_SD },
  { "StableDiffusionImg2ImgPipeline", GEN_PIPELINE_SD_IMG2IMG },
  { "StableDiffusionInpaintPipeline", GEN_PIPELINE_SD_INPAINT },
  { "LatentConsistencyModelPipeline", GEN_PIPELINE_LCM },
};

/* The classes each loaded component may have (NULL-terminated lists). */
static const char *const unet_classes[] = { "UNet2DConditionModel", NULL };
static const char *const vae_classes[] = { "AutoencoderKL", "AutoencoderTiny", NULL };
static const char *const text_classes[] = { "CLIPTextModel", "CLIPTextModelWithProjection", NULL };
static const char *const tok_classes[] = { "CLIPTokenizer", "CLIPTokenizerFast", NULL };
static const char *const sched_classes[] = {
  "PNDMScheduler", "DDIMScheduler", "DDPMScheduler", "LCMScheduler", "EulerDiscreteScheduler",
  "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler", "HeunDiscreteScheduler",
  "LMSDiscreteScheduler", "UniPCMultistepScheduler", "DPMSolverSinglestepScheduler", NULL
};

static gboolean
plain_folder_name (const char *s)
{
  return s[0] != '\0' && s[0] != '.' && !strchr (s, '/') && !strchr (s, '\\')
         && !strchr (s, ':') && strlen (s) <= 128;
}

static gboolean
in_list (const char *s, const char *const *list)
{
  for (; *list; list++)
    if (strcmp (s, *list) == 0)
      return TRUE;
  return FALSE;
}

/* One component member: *CLS = its class (NULL for [null, null]). */
static gboolean
component_class (const char *name, const char *key, JsonNode *node, const char **cls,
                 GError **error)
{
  JsonArray *a;
  JsonNode *c;

  *cls = NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node) || json_array_get_length (a = json_node_get_array (node)) != 2)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: component '%s' must be [\"library\", \"ClassName\"]", name, key);
      return FALSE;
    }
  c = json_array_get_element (a, 1);
  if (JSON_NODE_HOLDS_NULL (c))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_STRING)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: component '%s' must name its class as a string", name, key);
      return FALSE;
    }
  *cls = json_node_get_string (c);
  return TRUE;
}

static gboolean
take_component (const char *name, const char *key, const char *cls, const char *const *allowed,
                char **slot, GError **error)
{
  if (!cls)
    return TRUE;
  if (!in_list (cls, allowed))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: the %s '%s' is not a class this program can run", name, key, cls);
      return FALSE;
    }
  *slot = g_strdup (cls);
  return TRUE;
}

static gboolean
parse_object (JsonObject *obj, const char *name, GenModelIndex *out, GError **error)
{
  JsonNode *cn = json_object_get_member (obj, "_class_name");
  GList *members = json_object_get_members (obj);
  gboolean ok = TRUE, known = FALSE;
  const char *pname;

  if (!cn || !JSON_NODE_HOLDS_VALUE (cn) || json_node_get_value_type (cn) != G_TYPE_STRING)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: no \"_class_name\" string", name);
      g_list_free (members);
      return FALSE;
    }
  pname = json_node_get_string (cn);
  for (gsize i = 0; i < G_N_ELEMENTS (pipelines); i++)
    if (strcmp (pname, pipelines[i].name) == 0)
      out->pipeline = pipelines[i].cls, known = TRUE;
  if (!known)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: the pipeline class '%s' is not supported (supported: "
                   "StableDiffusionPipeline, StableDiffusionImg2ImgPipeline, "
                   "StableDiffusionInpaintPipeline, LatentConsistencyModelPipeline)", name, pname);
      g_list_free (members);
      return FALSE;
    }
  out->pipeline_name = g_strdup (pname);

  for (GList *l = members; l && ok; l = l->next)
    {
      const char *key = l->data, *cls;
      gboolean loaded = strcmp (key, "unet") == 0 || strcmp (key, "vae") == 0
                        || strcmp (key, "text_encoder") == 0 || strcmp (key, "tokenizer") == 0
                        || strcmp (key, "scheduler") == 0;

      /* a member that is not a pair is a pipeline setting
       * (requires_safety_checker), unless it names a component we load */
      if (key[0] == '_' || (!loaded && !JSON_NODE_HOLDS_ARRAY (json_object_get_member (obj, key))))
        continue;
      if (!plain_folder_name (key))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: the component '%s' is not a plain subfolder name (components must "
                       "lie inside the pipeline folder)", name, key);
          ok = FALSE;
          break;
        }
      if (!(ok = component_class (name, key, json_object_get_member (obj, key), &cls, error)))
        break;
      if (strcmp (key, "unet") == 0)
        ok = take_component (name, key, cls, unet_classes, &out->unet, error);
      else if (strcmp (key, "vae") == 0)
        ok = take_component (name, key, cls, vae_classes, &out->vae, error);
      else if (strcmp (key, "text_encoder") == 0)
        ok = take_component (name, key, cls, text_classes, &out->text_encoder, error);
      else if (strcmp (key, "tokenizer") == 0)
        ok = take_component (name, key, cls, tok_classes, &out->tokenizer, error);
      else if (strcmp (key, "scheduler") == 0)
        ok = take_component (name, key, cls, sched_classes, &out->scheduler, error);
      /* others (safety_checker, feature_extractor, image_encoder) are not loaded */
    }
  g_list_free (members);
  if (ok && (!out->unet || !out->vae || !out->text_encoder || !out->tokenizer))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: a %s needs unet, vae, text_encoder and tokenizer components", name, pname);
      ok = FALSE;
    }
  return ok;
}

gboolean
gen_model_index_parse (const char *data, gsize len, const char *name, GenModelIndex *out,
                       GError **error)
{
  JsonParser *parser;
  JsonNode *root;
  GError *err = NULL;
  gboolean ok = FALSE;

  memset (out, 0, sizeof *out);
  if (len > GEN_MODEL_INDEX_MAX_BYTES)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too big for a model_index.json", name, len);
      return FALSE;
    }
  if (!gen_json_check (data, len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s", name, err->message);
      g_error_free (err);
      return FALSE;
    }
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, data, (gssize) len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s", name, err->message);
      g_error_free (err);
    }
  else if (!(root = json_parser_get_root (parser)) || !JSON_NODE_HOLDS_OBJECT (root))
    g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not a JSON object", name);
  else
    ok = parse_object (json_node_get_object (root), name, out, error);
  g_object_unref (parser);
  if (!ok)
    gen_model_index_clear (out);
  return ok;
}

gboolean
gen_model_index_load (const char *path, GenModelIndex *out, GError **error)
{
  char *data = NULL;
  gsize len = 0;
  GError *err = NULL;
  gboolean ok;
  GStatBuf st;

  memset (out, 0, sizeof *out);
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a readable file", path);
      return FALSE;
    }
  if ((guint64) st.st_size > GEN_MODEL_INDEX_MAX_BYTES)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GUINT64_FORMAT " bytes is too big for a model_index.json", path,
                   (guint64) st.st_size);
      return FALSE;
    }
  if (!g_file_get_contents (path, &data, &len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path, err->message);
      g_error_free (err);
      return FALSE;
    }
  ok = gen_model_index_parse (data, len, path, out, error);
  g_free (data);
  return ok;
}

void
gen_model_index_clear (GenModelIndex *idx)
{
  g_free (idx->pipeline_name);
  g_free (idx->unet);
  g_free (idx->vae);
  g_free (idx->text_encoder);
  g_free (idx->tokenizer);
  g_free (idx->scheduler);
  memset (idx, 0, sizeof *idx);
}
