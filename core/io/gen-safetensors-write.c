/* gen-safetensors-write.c — float32 tensors as a safetensors file: encoded
 * in memory, and written atomically (temp file + rename). */
#include "gen-safetensors.h"
#include "gen-error.h"

#include <json-glib/json-glib.h>
#include <string.h>

gboolean
gen_safetensors_encode_f32 (const char *path, guint n, const char *const *names,
                            const float *const *data, const int *ndims,
                            const int64_t *const *shapes, guint8 **bytes, gsize *len,
                            GError **error)
{
  JsonBuilder *builder;
  JsonGenerator *gen;
  JsonNode *root;
  GHashTable *seen;
  guint64 *nbytes; /* [n] */
  char *json = NULL;
  guint8 *buf = NULL;
  gsize json_len, hlen, total, offset = 0, pos;
  gboolean ok = FALSE;
  guint i;

  g_return_val_if_fail (path != NULL && bytes != NULL && len != NULL, FALSE);
  g_return_val_if_fail (n == 0 || (names != NULL && data != NULL && ndims != NULL
                                   && shapes != NULL), FALSE);

  nbytes = g_new0 (guint64, n);
  seen = g_hash_table_new (g_str_hash, g_str_equal);
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  for (i = 0; i < n; i++)
    {
      guint64 numel = 1, end;
      int d;

      if (names[i] == NULL || !g_utf8_validate (names[i], -1, NULL))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: tensor %u: the name is missing or not UTF-8", path, i);
          goto out;
        }
      if (strcmp (names[i], "__metadata__") == 0 || g_hash_table_contains (seen, names[i]))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: tensor '%s': the name is reserved or given twice", path, names[i]);
          goto out;
        }
      g_hash_table_add (seen, (gpointer) names[i]);
      if (ndims[i] < 0 || ndims[i] > GEN_SAFETENSORS_MAX_DIMS
          || (ndims[i] > 0 && shapes[i] == NULL))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: tensor '%s': %d dimensions (0 to %d supported)", path, names[i],
                       ndims[i], GEN_SAFETENSORS_MAX_DIMS);
          goto out;
        }
      for (d = 0; d < ndims[i]; d++)
        if (shapes[i][d] < 0 || !g_uint64_checked_mul (&numel, numel, (guint64) shapes[i][d])
            || numel > (guint64) G_MAXINT64)
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "%s: tensor '%s': bad or overflowing shape", path, names[i]);
            goto out;
          }
      if (!g_uint64_checked_mul (&nbytes[i], numel, sizeof (float))
          || !g_uint64_checked_add (&end, offset, nbytes[i]) || end > G_MAXSIZE / 2
          || (nbytes[i] > 0 && data[i] == NULL))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: tensor '%s': data missing or too big", path, names[i]);
          goto out;
        }

      json_builder_set_member_name (builder, names[i]);
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "dtype");
      json_builder_add_string_value (builder, "F32");
      json_builder_set_member_name (builder, "shape");
      json_builder_begin_array (builder);
      for (d = 0; d < ndims[i]; d++)
        json_builder_add_int_value (builder, shapes[i][d]);
      json_builder_end_array (builder);
      json_builder_set_member_name (builder, "data_offsets");
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) offset);
      json_builder_add_int_value (builder, (gint64) end);
      json_builder_end_array (builder);
      json_builder_end_object (builder);
      offset = (gsize) end;
    }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  json = json_generator_to_data (gen, &json_len);
  g_object_unref (gen);
  json_node_unref (root);

  /* pad the header with spaces so the data starts 8-byte aligned */
  hlen = (json_len + 7) / 8 * 8;
  if (!g_size_checked_add (&total, 8 + hlen, offset))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: file would be too big", path);
      goto out;
    }
  buf = g_try_malloc (total);
  if (buf == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "%s: cannot allocate %" G_GSIZE_FORMAT " bytes to write", path, total);
      goto out;
    }
  for (i = 0; i < 8; i++)
    buf[i] = (guint8) ((guint64) hlen >> (8 * i));
  memcpy (buf + 8, json, json_len);
  memset (buf + 8 + json_len, ' ', hlen - json_len);
  pos = 8 + hlen;
  for (i = 0; i < n; i++)
    {
      guint64 k, count = nbytes[i] / sizeof (float);

      for (k = 0; k < count; k++, pos += 4)
        {
          guint32 bits;
          memcpy (&bits, &data[i][k], sizeof bits);
          buf[pos] = (guint8) bits;
          buf[pos + 1] = (guint8) (bits >> 8);
          buf[pos + 2] = (guint8) (bits >> 16);
          buf[pos + 3] = (guint8) (bits >> 24);
        }
    }

  *bytes = g_steal_pointer (&buf);
  *len = total;
  ok = TRUE;

out:
  g_free (buf);
  g_free (json);
  g_object_unref (builder);
  g_hash_table_unref (seen);
  g_free (nbytes);
  return ok;
}

gboolean
gen_safetensors_write_f32 (const char *path, guint n, const char *const *names,
                           const float *const *data, const int *ndims,
                           const int64_t *const *shapes, GError **error)
{
  guint8 *buf;
  gsize total;
  GError *err = NULL;
  gboolean ok;

  if (!gen_safetensors_encode_f32 (path, n, names, data, ndims, shapes, &buf, &total, error))
    return FALSE;
  /* temp file in the same folder, fsync, rename; GLib removes the temp
   * file on failure */
  ok = g_file_set_contents_full (path, (const char *) buf, (gssize) total,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0666, &err);
  if (!ok)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", path, err->message);
      g_error_free (err);
    }
  g_free (buf);
  return ok;
}
