/* gen-config.c — diffusers config.json reading (json-glib): loading and the
 * typed getters.  Every byte goes through gen_json_check (gen-json.c) first. */
#include "gen-config.h"
#include "gen-error.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

struct _GenConfig
{
  char       *path;  /* as given, for messages */
  JsonNode   *root;  /* owned; holds an object */
  JsonObject *obj;   /* borrowed from root */
};

static const char *
config_node_type_name (JsonNode *node)
{
  if (node == NULL)
    return "nothing";
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      return "object";
    case JSON_NODE_ARRAY:
      return "array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
      break;
    }
  switch (json_node_get_value_type (node))
    {
    case G_TYPE_INT64:
      return "integer";
    case G_TYPE_DOUBLE:
      return "number";
    case G_TYPE_BOOLEAN:
      return "boolean";
    case G_TYPE_STRING:
      return "string";
    default:
      return "value";
    }
}

GenConfig *
gen_config_load_from_data (const char *data, gssize len, const char *name, GError **error)
{
  JsonParser *parser;
  JsonNode *root;
  GError *err = NULL;
  GenConfig *cfg;
  gsize n;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (name == NULL)
    name = "<config>";
  n = len < 0 ? strlen (data) : (gsize) len;

  if (!gen_json_check (data, n, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not valid JSON: %s", name,
                   err->message);
      g_error_free (err);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, (gssize) n, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: not valid JSON: %s", name,
                   err->message);
      g_error_free (err);
      g_object_unref (parser);
      return NULL;
    }
  root = json_parser_steal_root (parser);
  g_object_unref (parser);

  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: not valid JSON: the top level must be an object (found %s)", name,
                   config_node_type_name (root));
      if (root != NULL)
        json_node_unref (root);
      return NULL;
    }

  cfg = g_new0 (GenConfig, 1);
  cfg->path = g_strdup (name);
  cfg->root = root;
  cfg->obj = json_node_get_object (root);
  return cfg;
}

GenConfig *
gen_config_load (const char *path, GError **error)
{
  GMappedFile *map;
  GError *err = NULL;
  GenConfig *cfg;
  gsize len;

  g_return_val_if_fail (path != NULL, NULL);

  if (g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file", path);
      return NULL;
    }
  map = g_mapped_file_new (path, FALSE, &err);
  if (map == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path, err->message);
      g_error_free (err);
      return NULL;
    }
  len = g_mapped_file_get_length (map);
  if (len > GEN_CONFIG_MAX_BYTES)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too big for a config file (at most %u)",
                   path, len, GEN_CONFIG_MAX_BYTES);
      g_mapped_file_unref (map);
      return NULL;
    }
  cfg = gen_config_load_from_data (len > 0 ? g_mapped_file_get_contents (map) : "",
                                   (gssize) len, path, error);
  g_mapped_file_unref (map);
  return cfg;
}

void
gen_config_free (GenConfig *cfg)
{
  if (cfg == NULL)
    return;
  json_node_unref (cfg->root);
  g_free (cfg->path);
  g_free (cfg);
}

const char *
gen_config_path (GenConfig *cfg)
{
  g_return_val_if_fail (cfg != NULL, NULL);
  return cfg->path;
}

/* The member KEY, or NULL when absent or JSON null. */
static JsonNode *
config_lookup (GenConfig *cfg, const char *key)
{
  JsonNode *node = json_object_get_member (cfg->obj, key);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return NULL;
  return node;
}

const char *
gen_config_class_name (GenConfig *cfg)
{
  JsonNode *node;

  g_return_val_if_fail (cfg != NULL, NULL);
  node = config_lookup (cfg, "_class_name");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
gen_config_has (GenConfig *cfg, const char *key)
{
  g_return_val_if_fail (cfg != NULL && key != NULL, FALSE);
  return config_lookup (cfg, key) != NULL;
}

gboolean
gen_config_is_null (GenConfig *cfg, const char *key)
{
  g_return_val_if_fail (cfg != NULL && key != NULL, TRUE);
  return config_lookup (cfg, key) == NULL;
}

/* ---- typed getters ---------------------------------------------------------- */

static gboolean
config_missing (GenConfig *cfg, const char *key, GError **error)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING, "%s: required key '%s' is missing",
               cfg->path, key);
  return FALSE;
}

static gboolean
config_wrong_type (GenConfig *cfg, const char *key, const char *expected, JsonNode *node,
                   GError **error)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: key '%s' must be %s (found %s)",
               cfg->path, key, expected, config_node_type_name (node));
  return FALSE;
}

static gboolean
config_node_is (JsonNode *node, GType type)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* An integer, or a double that is exactly one (32.0) and fits in int64. */
static gboolean
config_node_int (JsonNode *node, gint64 *out)
{
  double d;

  if (config_node_is (node, G_TYPE_INT64))
    {
      *out = json_node_get_int (node);
      return TRUE;
    }
  if (!config_node_is (node, G_TYPE_DOUBLE))
    return FALSE;
  d = json_node_get_double (node);
  /* -2^63 is exact in a double; 2^63 is the first value that is out of range */
  if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != floor (d))
    return FALSE;
  *out = (gint64) d;
  return TRUE;
}

static gboolean
config_node_double (JsonNode *node, double *out)
{
  if (config_node_is (node, G_TYPE_DOUBLE))
    {
      *out = json_node_get_double (node);
      return TRUE;
    }
  if (config_node_is (node, G_TYPE_INT64))
    {
      *out = (double) json_node_get_int (node);
      return TRUE;
    }
  return FALSE;
}

/* The node at KEY in *NODE, or NULL when absent / null and HAS_DEFAULT;
 * FALSE (error set) when absent / null and required. */
static gboolean
config_lookup_required (GenConfig *cfg, const char *key, gboolean has_default, JsonNode **node,
                        GError **error)
{
  *node = config_lookup (cfg, key);
  if (*node == NULL && !has_default)
    return config_missing (cfg, key, error);
  return TRUE;
}

gboolean
gen_config_get_int (GenConfig *cfg, const char *key, gboolean has_default, gint64 def,
                    gint64 *out, GError **error)
{
  JsonNode *node;
  gint64 v;

  g_return_val_if_fail (cfg != NULL && key != NULL && out != NULL, FALSE);
  if (!config_lookup_required (cfg, key, has_default, &node, error))
    return FALSE;
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!config_node_int (node, &v))
    {
      if (config_node_is (node, G_TYPE_DOUBLE))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: key '%s' must be an integer (found %g)", cfg->path, key,
                       json_node_get_double (node));
          return FALSE;
        }
      return config_wrong_type (cfg, key, "an integer", node, error);
    }
  *out = v;
  return TRUE;
}

gboolean
gen_config_get_double (GenConfig *cfg, const char *key, gboolean has_default, double def,
                       double *out, GError **error)
{
  JsonNode *node;
  double v;

  g_return_val_if_fail (cfg != NULL && key != NULL && out != NULL, FALSE);
  if (!config_lookup_required (cfg, key, has_default, &node, error))
    return FALSE;
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!config_node_double (node, &v))
    return config_wrong_type (cfg, key, "a number", node, error);
  if (!isfinite (v))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: key '%s' must be a finite number "
                   "(found %g)", cfg->path, key, v);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

gboolean
gen_config_get_positive (GenConfig *cfg, const char *key, gboolean has_default, double def,
                         double *out, GError **error)
{
  if (!gen_config_get_double (cfg, key, has_default, def, out, error))
    return FALSE;
  if (!(*out > 0.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: key '%s' must be greater than 0 "
                   "(found %g)", cfg->path, key, *out);
      return FALSE;
    }
  return TRUE;
}

gboolean
gen_config_get_bool (GenConfig *cfg, const char *key, gboolean has_default, gboolean def,
                     gboolean *out, GError **error)
{
  JsonNode *node;

  g_return_val_if_fail (cfg != NULL && key != NULL && out != NULL, FALSE);
  if (!config_lookup_required (cfg, key, has_default, &node, error))
    return FALSE;
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!config_node_is (node, G_TYPE_BOOLEAN))
    return config_wrong_type (cfg, key, "a boolean", node, error);
  *out = json_node_get_boolean (node);
  return TRUE;
}

gboolean
gen_config_get_string (GenConfig *cfg, const char *key, gboolean has_default, const char *def,
                       const char **out, GError **error)
{
  JsonNode *node;

  g_return_val_if_fail (cfg != NULL && key != NULL && out != NULL, FALSE);
  if (!config_lookup_required (cfg, key, has_default, &node, error))
    return FALSE;
  if (node == NULL)
    {
      *out = def;
      return TRUE;
    }
  if (!config_node_is (node, G_TYPE_STRING))
    return config_wrong_type (cfg, key, "a string", node, error);
  *out = json_node_get_string (node);
  return TRUE;
}

/* The array at KEY (required), or NULL with the error set. */
static JsonArray *
config_array (GenConfig *cfg, const char *key, const char *expected, GError **error)
{
  JsonNode *node = config_lookup (cfg, key);

  if (node == NULL)
    {
      config_missing (cfg, key, error);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    {
      config_wrong_type (cfg, key, expected, node, error);
      return NULL;
    }
  return json_node_get_array (node);
}

static gboolean
config_bad_element (GenConfig *cfg, const char *key, const char *expected, guint i,
                    JsonNode *node, GError **error)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
               "%s: key '%s' must be %s (found %s at index %u)", cfg->path, key, expected,
               config_node_type_name (node), i);
  return FALSE;
}

/* Element converters for config_get_array: write element I of the array
 * at DST, FALSE if it has the wrong type. */
typedef gboolean (*ConfigElementFunc) (JsonNode *el, gpointer dst, guint i);

static gboolean
element_int (JsonNode *el, gpointer dst, guint i)
{
  return config_node_int (el, (gint64 *) dst + i);
}

static gboolean
element_double (JsonNode *el, gpointer dst, guint i)
{
  return config_node_double (el, (double *) dst + i) && isfinite (((double *) dst)[i]);
}

static gboolean
element_string (JsonNode *el, gpointer dst, guint i)
{
  if (!config_node_is (el, G_TYPE_STRING))
    return FALSE;
  ((char **) dst)[i] = g_strdup (json_node_get_string (el));
  return TRUE;
}

/* The array at KEY (required) converted element by element into a new
 * zero-filled buffer of LEN + 1 elements of ELEM_SIZE (the extra one
 * NULL-terminates string arrays); FREE_FUNC frees it on failure. */
static gboolean
config_get_array (GenConfig *cfg, const char *key, const char *expected, gsize elem_size,
                  ConfigElementFunc convert, GDestroyNotify free_func, gpointer *out,
                  guint *n, GError **error)
{
  JsonArray *arr;
  gpointer v;
  guint len;

  g_return_val_if_fail (cfg != NULL && key != NULL && out != NULL, FALSE);
  arr = config_array (cfg, key, expected, error);
  if (arr == NULL)
    return FALSE;
  len = json_array_get_length (arr);
  v = g_malloc0_n ((gsize) len + 1, elem_size);
  for (guint i = 0; i < len; i++)
    {
      JsonNode *el = json_array_get_element (arr, i);

      if (!convert (el, v, i))
        {
          free_func (v);
          return config_bad_element (cfg, key, expected, i, el, error);
        }
    }
  *out = v;
  if (n != NULL)
    *n = len;
  return TRUE;
}

gboolean
gen_config_get_int_array (GenConfig *cfg, const char *key, gint64 **out, guint *n,
                          GError **error)
{
  return config_get_array (cfg, key, "an array of integers", sizeof (gint64), element_int,
                           g_free, (gpointer *) out, n, error);
}

gboolean
gen_config_get_double_array (GenConfig *cfg, const char *key, double **out, guint *n,
                             GError **error)
{
  return config_get_array (cfg, key, "an array of numbers", sizeof (double), element_double,
                           g_free, (gpointer *) out, n, error);
}

gboolean
gen_config_get_string_array (GenConfig *cfg, const char *key, char ***out, guint *n,
                             GError **error)
{
  return config_get_array (cfg, key, "an array of strings", sizeof (char *), element_string,
                           (GDestroyNotify) g_strfreev, (gpointer *) out, n, error);
}

gboolean
gen_config_contains (GenConfig *cfg, const char *key)
{
  g_return_val_if_fail (cfg != NULL && key != NULL, FALSE);
  return json_object_has_member (cfg->obj, key);
}
