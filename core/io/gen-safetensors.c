/* gen-safetensors.c — bounds-checked safetensors reading (single files and
 * sharded checkpoints) and atomic float32 writing.
 *
 * Every byte of a file is untrusted: the header length is checked against
 * the file, the header JSON goes through gen_json_check before json-glib,
 * and every shape, dtype and offset is checked before any data pointer is
 * formed.  Entries are kept sorted by name (strcmp) for gen_safetensors_find.
 */
#include "gen-safetensors.h"
#include "gen-config.h"
#include "gen-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>

/* A header bigger than this is a lie (the reference library's limit). */
#define GEN_SAFETENSORS_MAX_HEADER ((guint64) 100 * 1000 * 1000)
#define GEN_SAFETENSORS_INDEX_SUFFIX ".safetensors.index.json"

struct _GenSafetensors
{
  GPtrArray    *maps;    /* GMappedFile *, one per file mapped (none for _open_bytes) */
  GStringChunk *strings; /* tensor names and file names the entries point at */
  GArray       *entries; /* GenSafetensorsEntry, sorted by name once complete */
};

typedef struct
{
  const char *name;
  GenDtype    dtype;
  guint       elsize; /* bytes per element */
} GenDtypeInfo;

/* Every dtype the safetensors format defines (whole-byte ones). */
static const GenDtypeInfo st_dtypes[] = {
  { "F32", GEN_DTYPE_F32, 4 },
  { "F16", GEN_DTYPE_F16, 2 },
  { "BF16", GEN_DTYPE_BF16, 2 },
  { "F64", GEN_DTYPE_OTHER, 8 },
  { "I64", GEN_DTYPE_OTHER, 8 },
  { "I32", GEN_DTYPE_OTHER, 4 },
  { "I16", GEN_DTYPE_OTHER, 2 },
  { "I8", GEN_DTYPE_OTHER, 1 },
  { "U64", GEN_DTYPE_OTHER, 8 },
  { "U32", GEN_DTYPE_OTHER, 4 },
  { "U16", GEN_DTYPE_OTHER, 2 },
  { "U8", GEN_DTYPE_OTHER, 1 },
  { "BOOL", GEN_DTYPE_OTHER, 1 },
  { "F8_E4M3", GEN_DTYPE_OTHER, 1 },
  { "F8_E5M2", GEN_DTYPE_OTHER, 1 },
};

static const GenDtypeInfo *
st_dtype_lookup (const char *name)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (st_dtypes); i++)
    if (strcmp (st_dtypes[i].name, name) == 0)
      return &st_dtypes[i];
  return NULL;
}

static GenSafetensors *
st_new (void)
{
  GenSafetensors *st = g_new0 (GenSafetensors, 1);

  st->maps = g_ptr_array_new_with_free_func ((GDestroyNotify) g_mapped_file_unref);
  st->strings = g_string_chunk_new (4096);
  st->entries = g_array_new (FALSE, TRUE, sizeof (GenSafetensorsEntry));
  return st;
}

void
gen_safetensors_free (GenSafetensors *st)
{
  if (st == NULL)
    return;
  g_array_free (st->entries, TRUE);
  g_string_chunk_free (st->strings);
  g_ptr_array_unref (st->maps);
  g_free (st);
}

guint
gen_safetensors_count (GenSafetensors *st)
{
  g_return_val_if_fail (st != NULL, 0);
  return st->entries->len;
}

const GenSafetensorsEntry *
gen_safetensors_nth (GenSafetensors *st, guint i)
{
  g_return_val_if_fail (st != NULL, NULL);
  if (i >= st->entries->len)
    return NULL;
  return &g_array_index (st->entries, GenSafetensorsEntry, i);
}

static int
st_entry_cmp (const void *a, const void *b)
{
  return strcmp (((const GenSafetensorsEntry *) a)->name,
                 ((const GenSafetensorsEntry *) b)->name);
}

const GenSafetensorsEntry *
gen_safetensors_find (GenSafetensors *st, const char *name)
{
  GenSafetensorsEntry key = { 0 };

  g_return_val_if_fail (st != NULL && name != NULL, NULL);
  if (st->entries->len == 0)
    return NULL;
  key.name = name;
  return bsearch (&key, st->entries->data, st->entries->len, sizeof (GenSafetensorsEntry),
                  st_entry_cmp);
}

/* ---- header parsing ------------------------------------------------------ */

/* json-glib keeps the last of two equal keys; this watches the parser's
 * signals to catch a name given twice at the top level of the header. */
typedef struct
{
  int         depth; /* containers open */
  GHashTable *seen;  /* top-level keys so far */
  char       *dup;   /* first top-level key seen twice */
} StDupWatch;

static void
st_watch_open (JsonParser *parser, gpointer user_data)
{
  (void) parser;
  ((StDupWatch *) user_data)->depth++;
}

static void
st_watch_close (JsonParser *parser, gpointer container, gpointer user_data)
{
  (void) parser;
  (void) container;
  ((StDupWatch *) user_data)->depth--;
}

static void
st_watch_member (JsonParser *parser, JsonObject *object, const char *name, gpointer user_data)
{
  StDupWatch *w = user_data;

  (void) parser;
  (void) object;
  if (w->depth != 1)
    return;
  if (g_hash_table_contains (w->seen, name))
    {
      if (w->dup == NULL)
        w->dup = g_strdup (name);
      return;
    }
  g_hash_table_add (w->seen, g_strdup (name));
}

/* Parses LEN bytes of untrusted JSON; the root must be an object.  WHAT
 * ("header", "index") is for messages; DUP_WATCH asks for the duplicate-key
 * check.  Returns the root (json_node_unref) or NULL with ERROR set. */
static JsonNode *
st_parse_json (const char *data, gsize len, const char *file, const char *what,
               gboolean dup_watch, GError **error)
{
  StDupWatch w = { 0, NULL, NULL };
  JsonParser *parser;
  JsonNode *root = NULL;
  GError *err = NULL;

  if (!gen_json_check (data, len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s is not valid JSON: %s", file,
                   what, err->message);
      g_error_free (err);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (dup_watch)
    {
      w.seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      g_signal_connect (parser, "object-start", G_CALLBACK (st_watch_open), &w);
      g_signal_connect (parser, "array-start", G_CALLBACK (st_watch_open), &w);
      g_signal_connect (parser, "object-end", G_CALLBACK (st_watch_close), &w);
      g_signal_connect (parser, "array-end", G_CALLBACK (st_watch_close), &w);
      g_signal_connect (parser, "object-member", G_CALLBACK (st_watch_member), &w);
    }
  if (!json_parser_load_from_data (parser, data, (gssize) len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s is not valid JSON: %s", file,
                   what, err->message);
      g_error_free (err);
      goto out;
    }
  root = json_parser_steal_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s must be a JSON object", file,
                   what);
      g_clear_pointer (&root, json_node_unref);
      goto out;
    }
  if (w.dup != NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: tensor '%s' appears twice in the %s",
                   file, w.dup, what);
      g_clear_pointer (&root, json_node_unref);
    }

out:
  g_object_unref (parser);
  if (w.seen != NULL)
    g_hash_table_unref (w.seen);
  g_free (w.dup);
  return root;
}

/* A JSON integer >= 0. */
static gboolean
st_node_uint (JsonNode *node, guint64 *out)
{
  gint64 v;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  v = json_node_get_int (node);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

/* "[2, 3]" for messages. */
static char *
st_shape_string (const int64_t *shape, int ndim)
{
  GString *s = g_string_new ("[");
  int d;

  for (d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", (gint64) shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

typedef struct
{
  guint64 begin, end;
  guint   idx; /* into the entries array */
} StSpan;

static int
st_span_cmp (const void *a, const void *b)
{
  const StSpan *x = a, *y = b;

  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end < y->end ? -1 : 1;
  return 0;
}

/* Checks one header entry and fills E (name and file set by the caller). */
static gboolean
st_parse_entry (JsonNode *node, const char *file, const char *name, const guint8 *body,
                gsize body_len, GenSafetensorsEntry *e, StSpan *span, GError **error)
{
  JsonObject *obj;
  JsonNode *dn, *sn, *on;
  JsonArray *shape, *offs;
  const GenDtypeInfo *dt;
  const char *dname;
  guint64 product = 1, numel, nbytes, begin, end;
  gboolean has_zero = FALSE;
  guint ndim, d;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': header entry is not an object", file, name);
      return FALSE;
    }
  obj = json_node_get_object (node);

  dn = json_object_get_member (obj, "dtype");
  if (dn == NULL || !JSON_NODE_HOLDS_VALUE (dn) || json_node_get_value_type (dn) != G_TYPE_STRING)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': \"dtype\" is missing or not a string", file, name);
      return FALSE;
    }
  dname = json_node_get_string (dn);
  dt = st_dtype_lookup (dname);
  if (dt == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: unknown dtype '%s' for tensor '%s'",
                   file, dname, name);
      return FALSE;
    }

  sn = json_object_get_member (obj, "shape");
  if (sn == NULL || !JSON_NODE_HOLDS_ARRAY (sn))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': \"shape\" is missing or not an array", file, name);
      return FALSE;
    }
  shape = json_node_get_array (sn);
  ndim = json_array_get_length (shape);
  if (ndim > GEN_SAFETENSORS_MAX_DIMS)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': %u dimensions (at most %d supported)", file, name, ndim,
                   GEN_SAFETENSORS_MAX_DIMS);
      return FALSE;
    }
  for (d = 0; d < ndim; d++)
    {
      guint64 v;

      if (!st_node_uint (json_array_get_element (shape, d), &v))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensor '%s': \"shape\" must hold non-negative integers", file, name);
          return FALSE;
        }
      e->shape[d] = (int64_t) v;
      /* the product of the non-zero dims must fit in int64, so that any
       * stride computed from this shape later does too */
      if (v == 0)
        has_zero = TRUE;
      else if (!g_uint64_checked_mul (&product, product, v) || product > (guint64) G_MAXINT64)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensor '%s': shape has too many elements (overflow)", file, name);
          return FALSE;
        }
    }
  e->ndim = (int) ndim;
  numel = has_zero ? 0 : product;

  on = json_object_get_member (obj, "data_offsets");
  offs = on != NULL && JSON_NODE_HOLDS_ARRAY (on) ? json_node_get_array (on) : NULL;
  if (offs == NULL || json_array_get_length (offs) != 2
      || !st_node_uint (json_array_get_element (offs, 0), &begin)
      || !st_node_uint (json_array_get_element (offs, 1), &end))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': \"data_offsets\" must be two non-negative integers "
                   "[begin, end]", file, name);
      return FALSE;
    }
  if (begin > end)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': data_offsets begin %" G_GUINT64_FORMAT
                   " is after end %" G_GUINT64_FORMAT, file, name, begin, end);
      return FALSE;
    }
  if (!g_uint64_checked_mul (&nbytes, numel, dt->elsize))
    {
      char *s = st_shape_string (e->shape, e->ndim);
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': shape %s of %s needs more bytes than 64 bits can count",
                   file, name, s, dt->name);
      g_free (s);
      return FALSE;
    }
  if (nbytes != end - begin)
    {
      char *s = st_shape_string (e->shape, e->ndim);
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': shape %s of %s needs %" G_GUINT64_FORMAT " bytes but "
                   "data_offsets [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT "] hold %"
                   G_GUINT64_FORMAT, file, name, s, dt->name, nbytes, begin, end, end - begin);
      g_free (s);
      return FALSE;
    }
  if (end > (guint64) body_len)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: tensor '%s': data_offsets end %" G_GUINT64_FORMAT
                   " is past the end of the data (%" G_GSIZE_FORMAT " bytes; truncated file?)",
                   file, name, end, body_len);
      return FALSE;
    }

  e->dtype = dt->dtype;
  e->dtype_name = dt->name;
  e->numel = (int64_t) numel;
  e->nbytes = (gsize) nbytes;
  e->data = body + begin; /* begin <= end <= body_len */
  span->begin = begin;
  span->end = end;
  return TRUE;
}

/* Parses the safetensors image DATA[LEN] named FILE and appends its entries
 * to ST (not yet sorted).  DATA must outlive ST. */
static gboolean
st_parse_into (GenSafetensors *st, const guint8 *data, gsize len, const char *file,
               GError **error)
{
  JsonNode *root;
  GList *members, *l;
  const guint8 *body;
  gsize body_len;
  guint64 hlen;
  GArray *spans; /* StSpan, one per non-empty tensor of this file */
  guint first = st->entries->len, i;
  gboolean ok = FALSE;

  file = g_string_chunk_insert_const (st->strings, file);

  if (len < 8)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too short for a safetensors file", file,
                   len);
      return FALSE;
    }
  hlen = (guint64) data[0] | (guint64) data[1] << 8 | (guint64) data[2] << 16
         | (guint64) data[3] << 24 | (guint64) data[4] << 32 | (guint64) data[5] << 40
         | (guint64) data[6] << 48 | (guint64) data[7] << 56;
  if (hlen > GEN_SAFETENSORS_MAX_HEADER)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: header length %" G_GUINT64_FORMAT " is absurd (not a safetensors file?)",
                   file, hlen);
      return FALSE;
    }
  if (hlen > (guint64) (len - 8))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: header length %" G_GUINT64_FORMAT " is beyond the end of the file (%"
                   G_GSIZE_FORMAT " bytes)", file, hlen, len);
      return FALSE;
    }
  body = data + 8 + hlen;
  body_len = len - 8 - (gsize) hlen;

  root = st_parse_json ((const char *) data + 8, (gsize) hlen, file, "header", TRUE, error);
  if (root == NULL)
    return FALSE;

  spans = g_array_new (FALSE, FALSE, sizeof (StSpan));
  members = json_object_get_members (json_node_get_object (root)); /* file order */
  for (l = members; l != NULL; l = l->next)
    {
      const char *member = l->data;
      JsonNode *node = json_object_get_member (json_node_get_object (root), member);
      GenSafetensorsEntry e = { 0 };
      StSpan span = { 0, 0, 0 };

      if (strcmp (member, "__metadata__") == 0)
        continue;
      if (!st_parse_entry (node, file, member, body, body_len, &e, &span, error))
        goto out;
      e.name = g_string_chunk_insert (st->strings, member);
      e.file = file;
      span.idx = st->entries->len;
      g_array_append_val (st->entries, e);
      if (span.end > span.begin)
        g_array_append_val (spans, span);
    }

  /* empty tensors occupy no bytes; the others must not share any */
  g_array_sort (spans, st_span_cmp);
  for (i = 1; i < spans->len; i++)
    {
      const StSpan *a = &g_array_index (spans, StSpan, i - 1);
      const StSpan *b = &g_array_index (spans, StSpan, i);

      if (b->begin < a->end)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensors '%s' [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT
                       ") and '%s' [%" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT ") overlap",
                       file, g_array_index (st->entries, GenSafetensorsEntry, a->idx).name,
                       a->begin, a->end,
                       g_array_index (st->entries, GenSafetensorsEntry, b->idx).name,
                       b->begin, b->end);
          goto out;
        }
    }
  ok = TRUE;

out:
  if (!ok)
    g_array_set_size (st->entries, first);
  g_list_free (members);
  g_array_unref (spans);
  json_node_unref (root);
  return ok;
}

/* Sorts the entries by name; a name twice means two files hold it. */
static gboolean
st_finish (GenSafetensors *st, const char *file, GError **error)
{
  guint i;

  g_array_sort (st->entries, st_entry_cmp);
  for (i = 1; i < st->entries->len; i++)
    {
      const GenSafetensorsEntry *a = &g_array_index (st->entries, GenSafetensorsEntry, i - 1);
      const GenSafetensorsEntry *b = &g_array_index (st->entries, GenSafetensorsEntry, i);

      if (strcmp (a->name, b->name) == 0)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: tensor '%s' is in two shards: %s and %s", file, a->name, a->file,
                       b->file);
          return FALSE;
        }
    }
  return TRUE;
}

GenSafetensors *
gen_safetensors_open_bytes (const guint8 *data, gsize len, const char *name, GError **error)
{
  GenSafetensors *st;

  g_return_val_if_fail (data != NULL || len == 0, NULL);
  if (name == NULL)
    name = "<memory>";

  st = st_new ();
  if (!st_parse_into (st, data, len, name, error) || !st_finish (st, name, error))
    {
      gen_safetensors_free (st);
      return NULL;
    }
  return st;
}

/* Maps PATH read-only into ST->maps; returns the mapping (owned by ST). */
static GMappedFile *
st_map (GenSafetensors *st, const char *path, GError **error)
{
  GMappedFile *map;
  GError *err = NULL;
  int fd;

  /* before opening: opening a FIFO would block */
  if (g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file", path);
      return NULL;
    }
  fd = g_open (path, O_RDONLY, 0);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot open: %s", path, g_strerror (e));
      return NULL;
    }
  map = g_mapped_file_new_from_fd (fd, FALSE, &err);
  g_close (fd, NULL);
  if (map == NULL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot map: %s", path, err->message);
      g_error_free (err);
      return NULL;
    }
  g_ptr_array_add (st->maps, map);
  return map;
}

static gboolean
st_map_and_parse (GenSafetensors *st, const char *path, GError **error)
{
  GMappedFile *map = st_map (st, path, error);

  if (map == NULL)
    return FALSE;
  return st_parse_into (st, (const guint8 *) g_mapped_file_get_contents (map),
                        g_mapped_file_get_length (map), path, error);
}

/* A shard name from an index must be a plain file name in the same folder. */
static gboolean
st_shard_name_ok (const char *shard)
{
  return shard[0] != '\0' && strchr (shard, '/') == NULL && strchr (shard, '\\') == NULL
         && strstr (shard, "..") == NULL && !g_path_is_absolute (shard);
}

static gboolean
st_open_index (GenSafetensors *st, const char *path, GError **error)
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

  map = st_map (st, path, error);
  if (map == NULL)
    return FALSE;
  len = g_mapped_file_get_length (map);
  if (len > GEN_SAFETENSORS_MAX_HEADER)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too big for an index file", path, len);
      return FALSE;
    }
  root = st_parse_json (len > 0 ? g_mapped_file_get_contents (map) : "", len, path,
                        "index", FALSE, error);
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
      if (!st_map_and_parse (st, g_hash_table_lookup (shards, shard), error))
        {
          g_prefix_error (error, "%s: shard '%s': ", path, shard);
          goto out;
        }
    }
  if (!st_finish (st, path, error))
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

GenSafetensors *
gen_safetensors_open (const char *path, GError **error)
{
  GenSafetensors *st;
  gboolean ok;

  g_return_val_if_fail (path != NULL, NULL);

  st = st_new ();
  if (g_str_has_suffix (path, GEN_SAFETENSORS_INDEX_SUFFIX))
    ok = st_open_index (st, path, error);
  else
    ok = st_map_and_parse (st, path, error) && st_finish (st, path, error);
  if (!ok)
    {
      gen_safetensors_free (st);
      return NULL;
    }
  return st;
}

/* ---- conversion ------------------------------------------------------------ */

float
gen_bf16_to_f32 (guint16 h)
{
  guint32 bits = (guint32) h << 16;
  float f;

  memcpy (&f, &bits, sizeof f);
  return f;
}

float
gen_f16_to_f32 (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exp = (h >> 10) & 0x1f;
  guint32 mant = h & 0x3ff;
  guint32 bits;
  float f;

  if (exp == 0x1f) /* inf, nan (payload kept) */
    bits = sign | 0x7f800000u | mant << 13;
  else if (exp != 0) /* normal: rebias 15 -> 127 */
    bits = sign | (exp + 112) << 23 | mant << 13;
  else if (mant == 0) /* signed zero */
    bits = sign;
  else
    {
      /* subnormal mant * 2^-24: shift the leading 1 up to bit 10 */
      exp = 113; /* 127 - 14 */
      while ((mant & 0x400) == 0)
        {
          mant <<= 1;
          exp--;
        }
      bits = sign | exp << 23 | (mant & 0x3ff) << 13;
    }
  memcpy (&f, &bits, sizeof f);
  return f;
}

void
gen_safetensors_to_f32 (const GenSafetensorsEntry *entry, float *dst)
{
  const guint8 *p;
  int64_t i;

  g_return_if_fail (entry != NULL && (dst != NULL || entry->numel == 0));
  g_return_if_fail (entry->dtype != GEN_DTYPE_OTHER);

  p = entry->data; /* little-endian, any alignment */
  switch (entry->dtype)
    {
    case GEN_DTYPE_F32:
      for (i = 0; i < entry->numel; i++, p += 4)
        {
          guint32 bits = (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16
                         | (guint32) p[3] << 24;
          memcpy (&dst[i], &bits, sizeof bits);
        }
      break;
    case GEN_DTYPE_F16:
      for (i = 0; i < entry->numel; i++, p += 2)
        dst[i] = gen_f16_to_f32 ((guint16) (p[0] | p[1] << 8));
      break;
    case GEN_DTYPE_BF16:
      for (i = 0; i < entry->numel; i++, p += 2)
        dst[i] = gen_bf16_to_f32 ((guint16) (p[0] | p[1] << 8));
      break;
    case GEN_DTYPE_OTHER:
      break;
    }
}

/* ---- writing --------------------------------------------------------------- */

gboolean
gen_safetensors_write_f32 (const char *path, guint n, const char *const *names,
                           const float *const *data, const int *ndims,
                           const int64_t *const *shapes, GError **error)
{
  JsonBuilder *builder;
  JsonGenerator *gen;
  JsonNode *root;
  GHashTable *seen;
  guint64 *nbytes; /* [n] */
  char *json = NULL;
  guint8 *buf = NULL;
  gsize json_len, hlen, total, offset = 0, pos;
  GError *err = NULL;
  gboolean ok = FALSE;
  guint i;

  g_return_val_if_fail (path != NULL, FALSE);
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

  /* temp file in the same folder, fsync, rename; GLib removes the temp
   * file on failure */
  if (!g_file_set_contents_full (path, (const char *) buf, (gssize) total,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0666, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", path, err->message);
      g_error_free (err);
      goto out;
    }
  ok = TRUE;

out:
  g_free (buf);
  g_free (json);
  g_object_unref (builder);
  g_hash_table_unref (seen);
  g_free (nbytes);
  return ok;
}
