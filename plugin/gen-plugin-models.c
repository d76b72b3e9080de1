/* gen-plugin-models.c — the models a user has (see gen-plugin-models.h). */
#include <string.h>
#include <sys/stat.h>

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "gen-error.h"
#include "gen-plugin-models.h"

/* What each _class_name is, and whether the core runs it today.  A class
 * no row names is GEN_PLUGIN_MODEL_OTHER.  Text-conditioned classes run
 * only as a pipeline folder (model_index.json: the text encoder and
 * tokenizer beside the UNet), never as a lone config.json. */
static const struct
{
  const char         *class_name;
  GenPluginModelKind  kind;
  gboolean            runnable;
} classes[] = {
  { "UNet2DModel", GEN_PLUGIN_MODEL_UNCONDITIONAL, TRUE },
  { "DDPMPipeline", GEN_PLUGIN_MODEL_UNCONDITIONAL, TRUE },
  { "DDIMPipeline", GEN_PLUGIN_MODEL_UNCONDITIONAL, TRUE },
  { "AutoencoderKL", GEN_PLUGIN_MODEL_VAE, TRUE },
  { "AutoencoderTiny", GEN_PLUGIN_MODEL_VAE, TRUE },
  { "UNet2DConditionModel", GEN_PLUGIN_MODEL_TEXT_TO_IMAGE, TRUE },
  { "StableDiffusionPipeline", GEN_PLUGIN_MODEL_TEXT_TO_IMAGE, TRUE },
  { "StableDiffusionXLPipeline", GEN_PLUGIN_MODEL_TEXT_TO_IMAGE, FALSE },
  { "LatentConsistencyModelPipeline", GEN_PLUGIN_MODEL_TEXT_TO_IMAGE, TRUE },
  { "StableDiffusionInpaintPipeline", GEN_PLUGIN_MODEL_INPAINTING, TRUE },
  { "StableDiffusionXLInpaintPipeline", GEN_PLUGIN_MODEL_INPAINTING, FALSE },
};

/* A model's config is a few kilobytes: anything much larger is not one. */
#define CONFIG_MAX_BYTES (1 << 20)

const char *
gen_plugin_model_kind_label (GenPluginModelKind kind)
{
  switch (kind)
    {
    /* TRANSLATORS: a kind of model: makes images from noise, without a prompt */
    case GEN_PLUGIN_MODEL_UNCONDITIONAL: return _("unconditional");
    /* TRANSLATORS: a kind of model: the image encoder/decoder (variational autoencoder) */
    case GEN_PLUGIN_MODEL_VAE:           return _("VAE");
    case GEN_PLUGIN_MODEL_TEXT_TO_IMAGE: return _("text-to-image");
    case GEN_PLUGIN_MODEL_INPAINTING:    return _("inpainting");
    default:                             return _("unknown kind");
    }
}

/* The root object of the JSON file PATH, or NULL (missing, too large, not
 * an object).  Unref the parser. */
static JsonObject *
read_json (const char *path, JsonParser **parser)
{
  GStatBuf st;

  *parser = NULL;
  if (g_stat (path, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > CONFIG_MAX_BYTES)
    return NULL;
  *parser = json_parser_new ();
  if (!json_parser_load_from_file (*parser, path, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (*parser)))
    return NULL;
  return json_node_get_object (json_parser_get_root (*parser));
}

/* DIR/SUB/NAME's root object (SUB may be NULL); see read_json. */
static JsonObject *
read_config (const char *dir, const char *sub, const char *name, JsonParser **parser)
{
  char *path = g_build_filename (dir, sub ? sub : name, sub ? name : NULL, NULL);
  JsonObject *o = read_json (path, parser);

  g_free (path);
  return o;
}

/* NAME's string value in O, or "" */
static const char *
string_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return "";
}

static int
int_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    return (int) CLAMP (json_node_get_int (n), 0, 1 << 20);
  if (n && JSON_NODE_HOLDS_ARRAY (n) && json_array_get_length (json_node_get_array (n)) > 0)
    {
      JsonNode *first = json_array_get_element (json_node_get_array (n), 0);

      if (JSON_NODE_HOLDS_VALUE (first) && json_node_get_value_type (first) == G_TYPE_INT64)
        return (int) CLAMP (json_node_get_int (first), 0, 1 << 20);
    }
  return 0;
}

/* A VAE's downscale: 2^(number of encoder blocks − 1). */
static int
vae_factor (JsonObject *vae)
{
  JsonNode *n = vae ? json_object_get_member (vae, "block_out_channels") : NULL;
  guint len = n && JSON_NODE_HOLDS_ARRAY (n) ? json_array_get_length (json_node_get_array (n)) : 0;

  return len >= 1 && len <= 8 ? 1 << (len - 1) : 1;
}

/* The bytes of the weight files in DIR and, one level down, in its
 * subfolders (a pipeline's components). */
static guint64
weights_bytes (const char *dir, int depth)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *entry;
  guint64 total = 0;

  if (!d)
    return 0;
  while ((entry = g_dir_read_name (d)))
    {
      char *path = g_build_filename (dir, entry, NULL);
      GStatBuf st;

      if (g_stat (path, &st) == 0)
        {
          if (S_ISDIR (st.st_mode) && depth > 0)
            total += weights_bytes (path, depth - 1);
          else if (S_ISREG (st.st_mode)
                   && (g_str_has_suffix (entry, ".safetensors") || g_str_has_suffix (entry, ".bin")
                       || g_str_has_suffix (entry, ".ckpt")))
            total += (guint64) st.st_size;
        }
      g_free (path);
    }
  g_dir_close (d);
  return total;
}

static void
set_class (GenPluginModel *m, const char *class_name)
{
  m->class_name = g_strdup (class_name);
  m->kind = GEN_PLUGIN_MODEL_OTHER;
  for (gsize i = 0; class_name && i < G_N_ELEMENTS (classes); i++)
    if (g_str_equal (class_name, classes[i].class_name))
      {
        m->kind = classes[i].kind;
        m->runnable = classes[i].runnable;
      }
}

/* A diffusers folder: a pipeline (model_index.json, or unet/ beside) or
 * one model (config.json).  FALSE when it is neither. */
static gboolean
inspect_folder (GenPluginModel *m)
{
  JsonParser *index_p, *unet_p = NULL, *vae_p = NULL;
  JsonObject *index = read_config (m->path, NULL, "model_index.json", &index_p);
  JsonObject *unet, *vae;
  gboolean pipeline = index != NULL;

  if (!pipeline)
    {
      g_clear_object (&index_p);
      index = read_config (m->path, NULL, "config.json", &index_p);
    }
  if (!index)
    {
      g_clear_object (&index_p);
      return FALSE;
    }
  set_class (m, string_member (index, "_class_name"));
  m->pipeline = pipeline;
  unet = pipeline ? read_config (m->path, "unet", "config.json", &unet_p) : NULL;
  vae = pipeline ? read_config (m->path, "vae", "config.json", &vae_p) : NULL;
  if (pipeline && m->kind == GEN_PLUGIN_MODEL_OTHER && unet)
    /* a pipeline class no row names, over a UNet some row does */
    set_class (m, string_member (unet, "_class_name"));
  if (!pipeline && gen_plugin_model_kind_takes_text (m->kind))
    m->runnable = FALSE;
  if (m->kind == GEN_PLUGIN_MODEL_UNCONDITIONAL || m->kind == GEN_PLUGIN_MODEL_TEXT_TO_IMAGE
      || m->kind == GEN_PLUGIN_MODEL_INPAINTING)
    m->native = int_member (pipeline ? unet : index, "sample_size")
                * (vae ? vae_factor (vae) : 1);
  m->bytes = weights_bytes (m->path, pipeline ? 1 : 0);
  g_clear_object (&index_p);
  g_clear_object (&unet_p);
  g_clear_object (&vae_p);
  return TRUE;
}

GenPluginModel *
gen_plugin_model_inspect (const char *path, GError **error)
{
  GenPluginModel *m = g_new0 (GenPluginModel, 1);
  GStatBuf st;

  m->path = g_strdup (path);
  m->name = g_path_get_basename (path);
  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, _("%s does not exist."), path);
      gen_plugin_model_free (m);
      return NULL;
    }
  if (S_ISDIR (st.st_mode) && inspect_folder (m))
    return m;
  if (S_ISREG (st.st_mode)
      && (g_str_has_suffix (path, ".safetensors") || g_str_has_suffix (path, ".ckpt")))
    {
      /* a single-file checkpoint: a Stable Diffusion-class model in practice;
       * the core reads .safetensors, never a pickle */
      m->kind = GEN_PLUGIN_MODEL_TEXT_TO_IMAGE;
      m->runnable = g_str_has_suffix (path, ".safetensors");
      m->bytes = (guint64) st.st_size;
      return m;
    }
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               _("%s is not a model: a model is a diffusers folder (with config.json or "
                 "model_index.json) or a checkpoint file."), path);
  gen_plugin_model_free (m);
  return NULL;
}

void
gen_plugin_model_free (GenPluginModel *m)
{
  if (!m)
    return;
  g_free (m->path);
  g_free (m->name);
  g_free (m->class_name);
  g_free (m);
}

gboolean
gen_plugin_model_kind_takes_text (GenPluginModelKind kind)
{
  return kind == GEN_PLUGIN_MODEL_TEXT_TO_IMAGE || kind == GEN_PLUGIN_MODEL_INPAINTING;
}

gboolean
gen_plugin_model_takes_text (const char *path)
{
  GenPluginModel *m = path && path[0] ? gen_plugin_model_inspect (path, NULL) : NULL;
  gboolean text = m && gen_plugin_model_kind_takes_text (m->kind);

  gen_plugin_model_free (m);
  return text;
}

gboolean
gen_plugin_model_fits (const GenPluginModel *m, GenPluginJob job)
{
  if (!m->runnable)
    return FALSE;
  switch (m->kind)
    {
    case GEN_PLUGIN_MODEL_TEXT_TO_IMAGE:
      return gen_plugin_job_takes_prompt (job);
    case GEN_PLUGIN_MODEL_INPAINTING:
      return job == GEN_PLUGIN_INPAINT;
    default:
      break;
    }
  switch (job)
    {
    case GEN_PLUGIN_VAE:
      return m->kind == GEN_PLUGIN_MODEL_VAE;
    case GEN_PLUGIN_INTERPOLATE:
      return TRUE;
    default:
      return m->kind == GEN_PLUGIN_MODEL_UNCONDITIONAL;
    }
}

char *
gen_plugin_model_summary (const GenPluginModel *m)
{
  GString *s = g_string_new (m->name);
  char *size = g_format_size (m->bytes);

  /* TRANSLATORS: in the model list, "name — unconditional, 7.8 MB" */
  g_string_append_printf (s, _(" — %s, %s"), gen_plugin_model_kind_label (m->kind), size);
  if (m->native > 0)
    /* TRANSLATORS: in the model list: the model's native resolution */
    g_string_append_printf (s, _(", %d × %d px"), m->native, m->native);
  if (!m->runnable && gen_plugin_model_kind_takes_text (m->kind))
    g_string_append_printf (s, " %s", m->class_name
                            ? _("(not supported yet)")
                            : _("(.ckpt files are not read: use its .safetensors)"));
  else if (!m->runnable)
    g_string_append_printf (s, " (%s)", m->class_name ? m->class_name : "?");
  g_free (size);
  return g_string_free (s, FALSE);
}

char **
gen_plugin_models_dirs (const char *gimp_dir)
{
  GPtrArray *dirs = g_ptr_array_new ();

  if (gimp_dir)
    g_ptr_array_add (dirs, g_build_filename (gimp_dir, "generative", "models", NULL));
  g_ptr_array_add (dirs, g_build_filename (g_get_user_data_dir (), "generative", "models", NULL));
  g_ptr_array_add (dirs, NULL);
  return (char **) g_ptr_array_free (dirs, FALSE);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  const GenPluginModel *ma = *(GenPluginModel *const *) a, *mb = *(GenPluginModel *const *) b;

  return g_utf8_collate (ma->name, mb->name);
}

/* Adds the models in DIR to LIST, by name. */
static void
find_in (GPtrArray *list, const char *dir)
{
  GPtrArray *found = g_ptr_array_new ();
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *entry;

  while (d && (entry = g_dir_read_name (d)))
    {
      char *path = g_build_filename (dir, entry, NULL);
      GenPluginModel *m = entry[0] != '.' ? gen_plugin_model_inspect (path, NULL) : NULL;

      if (m)
        g_ptr_array_add (found, m);
      g_free (path);
    }
  if (d)
    g_dir_close (d);
  g_ptr_array_sort (found, by_name);
  for (guint i = 0; i < found->len; i++)
    g_ptr_array_add (list, found->pdata[i]);
  g_ptr_array_free (found, TRUE);
}

static void
add_builtin (GPtrArray *list, const char *dir, const char *title)
{
  GenPluginModel *m = dir ? gen_plugin_model_inspect (dir, NULL) : NULL;

  if (!m)
    return;
  g_free (m->name);
  m->name = g_strdup (title);
  m->builtin = TRUE;
  g_ptr_array_add (list, m);
}

GPtrArray *
gen_plugin_models_find (const char *default_dir, const char *gimp_dir)
{
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) gen_plugin_model_free);
  char *vae = gen_plugin_builtin_vae_dir (default_dir);
  char **dirs = gen_plugin_models_dirs (gimp_dir);

  add_builtin (list, default_dir, _("Built-in image model"));
  add_builtin (list, vae, _("Built-in VAE"));
  for (int i = 0; dirs[i]; i++)
    find_in (list, dirs[i]);
  g_strfreev (dirs);
  g_free (vae);
  return list;
}
