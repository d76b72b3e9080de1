/* gen-safetensors.c — a parsed safetensors set: opening one file (mmapped)
 * or a sharded checkpoint, looking tensors up by name, and converting their
 * data to float32.  The header is parsed in gen-safetensors-header.c, the
 * shard index in gen-safetensors-index.c, writing is gen-safetensors-write.c.
 *
 * Every byte of a file is untrusted: the header length is checked against
 * the file, the header JSON goes through gen_json_check before json-glib,
 * and every shape, dtype and offset is checked before any data pointer is
 * formed.  Entries are kept sorted by name (strcmp) for gen_safetensors_find.
 */
#include "gen-safetensors.h"
#include "gen-safetensors-private.h"
#include "gen-error.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

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


/* Sorts the entries by name; a name twice means two files hold it. */
gboolean
gen_safetensors_finish (GenSafetensors *st, const char *file, GError **error)
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
  if (!gen_safetensors_parse_into (st, data, len, name, error)
      || !gen_safetensors_finish (st, name, error))
    {
      gen_safetensors_free (st);
      return NULL;
    }
  return st;
}

/* Maps PATH read-only into ST->maps; returns the mapping (owned by ST). */
GMappedFile *
gen_safetensors_map (GenSafetensors *st, const char *path, GError **error)
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

gboolean
gen_safetensors_map_and_parse (GenSafetensors *st, const char *path, GError **error)
{
  GMappedFile *map = gen_safetensors_map (st, path, error);

  if (map == NULL)
    return FALSE;
  return gen_safetensors_parse_into (st, (const guint8 *) g_mapped_file_get_contents (map),
                                     g_mapped_file_get_length (map), path, error);
}

GenSafetensors *
gen_safetensors_open (const char *path, GError **error)
{
  GenSafetensors *st;
  gboolean ok;

  g_return_val_if_fail (path != NULL, NULL);

  st = st_new ();
  if (g_str_has_suffix (path, GEN_SAFETENSORS_INDEX_SUFFIX))
    ok = gen_safetensors_open_index (st, path, error);
  else
    ok = gen_safetensors_map_and_parse (st, path, error)
         && gen_safetensors_finish (st, path, error);
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
