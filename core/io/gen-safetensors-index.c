/* gen-safetensors-index.c — a sharded checkpoint's
 * "*.safetensors.index.json": its weight_map opens every shard it names
 * from the same folder, and each tensor must be in the shard it names. */
#include "gen-safetensors.h"
#include "gen-safetensors-private.h"
#include "gen-error.h"

#include <string.h>


/* A shard name from an index must be a plain file name in the same folder. */
static gboolean
st_shard_name_ok (const char *shard)
{
  return shard[0] != '\0' && strchr (shard, '/') == NULL && strchr (shard, '\\') == NULL
         && strstr (shard, "..") == NULL && !g_path_is_absolute (shard);
}

gboolean
gen_safetensors_open_index (GenSafetensors *st, const char *path, GError **error)
{
  GMappedFile *map;
  JsonNode *root;
  JsonNode *wm;
  JsonObject *weight_map;
  GList *tensors = NULL, *l;
  GHashTable *shards; /* shard file name -> full path (in st->strings) */
  char *dir = NULL;
  gsize len;
  gboolean ok = FALSE;

  map = gen_safetensors_map (st, path, error);
  if (map == NULL)
    return FALSE;
  len = g_mapped_file_get_length (map);
  if (len > GEN_SAFETENSORS_MAX_INDEX)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too big for an index file (at most %u)",
                   path, len, GEN_SAFETENSORS_MAX_INDEX);
      return FALSE;
    }
  root = gen_safetensors_parse_json (len > 0 ? g_mapped_file_get_contents (map) : "", len,
                                     path, "index", FALSE, error);
  if (root == NULL)
    return FALSE;

  shards = g_hash_table_new (g_str_hash, g_str_equal);
  wm = json_object_get_member (json_node_get_object (root), "weight_map");
  if (wm == NULL || !JSON_NODE_HOLDS_OBJECT (wm))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: \"weight_map\" is missing or not an "
                   "object", path);
      goto out;
    }
  weight_map = json_node_get_object (wm);
  dir = g_path_get_dirname (path);

  /* every shard once, in the order first named */
  tensors = json_object_get_members (weight_map);
  for (l = tensors; l != NULL; l = l->next)
    {
      const char *tensor = l->data;
      JsonNode *node = json_object_get_member (weight_map, tensor);
      const char *shard;
      char *full;

      if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: weight_map entry for tensor '%s' is not a file name", path, tensor);
          goto out;
        }
      shard = json_node_get_string (node);
      if (g_hash_table_contains (shards, shard))
        continue;
      if (!st_shard_name_ok (shard))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: shard '%s' (for tensor '%s') is not a plain file name in the same "
                       "folder; refusing the path traversal", path, shard, tensor);
          goto out;
        }
      full = g_build_filename (dir, shard, NULL);
      g_hash_table_insert (shards, (gpointer) shard,
                           g_string_chunk_insert_const (st->strings, full));
      g_free (full);
      if (!gen_safetensors_map_and_parse (st, g_hash_table_lookup (shards, shard), error))
        {
          g_prefix_error (error, "%s: shard '%s': ", path, shard);
          goto out;
        }
    }
  if (!gen_safetensors_finish (st, path, error))
    goto out;

  /* each tensor is where the map says */
  for (l = tensors; l != NULL; l = l->next)
    {
      const char *tensor = l->data;
      JsonNode *node = json_object_get_member (weight_map, tensor);
      const char *full = g_hash_table_lookup (shards, json_node_get_string (node));
      const GenSafetensorsEntry *e = gen_safetensors_find (st, tensor);

      if (e == NULL)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensor '%s' is listed in the weight_map for shard %s, which does "
                       "not contain it", path, tensor, full);
          goto out;
        }
      if (strcmp (e->file, full) != 0)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensor '%s' is listed in the weight_map for shard %s but is in %s",
                       path, tensor, full, e->file);
          goto out;
        }
    }
  ok = TRUE;

out:
  g_list_free (tensors);
  g_free (dir);
  g_hash_table_unref (shards);
  json_node_unref (root);
  return ok;
}
