/* gen-safetensors-private.h — what the safetensors files share: the set
 * itself, and the steps of opening one.  Not installed. */
#pragma once

#include "gen-safetensors.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A header bigger than this is a lie (the reference library's limit). */
#define GEN_SAFETENSORS_MAX_HEADER ((guint64) 100 * 1000 * 1000)
#define GEN_SAFETENSORS_INDEX_SUFFIX ".safetensors.index.json"

struct _GenSafetensors
{
  GPtrArray    *maps;    /* GMappedFile *, one per file mapped (none for _open_bytes) */
  GStringChunk *strings; /* tensor names and file names the entries point at */
  GArray       *entries; /* GenSafetensorsEntry, sorted by name once complete */
};

/* Header parsing (gen-safetensors-header.c): untrusted JSON whose root must
 * be an object, and one file's image appended to ST's entries. */
JsonNode *gen_safetensors_parse_json (const char *data, gsize len, const char *file,
                                      const char *what, gboolean dup_watch, GError **error);
gboolean  gen_safetensors_parse_into (GenSafetensors *st, const guint8 *data, gsize len,
                                      const char *file, GError **error);

/* Opening (gen-safetensors.c): sorting the entries once all files are in,
 * and mapping a file (then parsing it into ST). */
gboolean     gen_safetensors_finish (GenSafetensors *st, const char *file, GError **error);
GMappedFile *gen_safetensors_map (GenSafetensors *st, const char *path, GError **error);
gboolean     gen_safetensors_map_and_parse (GenSafetensors *st, const char *path,
                                            GError **error);

/* Every shard a "*.safetensors.index.json" names, into ST
 * (gen-safetensors-index.c). */
gboolean gen_safetensors_open_index (GenSafetensors *st, const char *path, GError **error);

G_END_DECLS
