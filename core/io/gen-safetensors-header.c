/* gen-safetensors-header.c — parsing a safetensors header: the JSON (with
 * its duplicate-name watch), every entry's dtype, shape and data offsets
 * checked against the file, and no two tensors sharing bytes. */
#include "gen-safetensors.h"
#include "gen-safetensors-private.h"
#include "gen-json.h"
#include "gen-error.h"

#include <string.h>

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
JsonNode *
gen_safetensors_parse_json (const char *data, gsize len, const char *file, const char *what,
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
gboolean
gen_safetensors_parse_into (GenSafetensors *st, const guint8 *data, gsize len,
                            const char *file, GError **error)
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
                   "%s: not a safetensors file (its header length is absurd)", file);
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

  root = gen_safetensors_parse_json ((const char *) data + 8, (gsize) hlen, file, "header", TRUE,
                                     error);
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
