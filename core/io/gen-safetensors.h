/* gen-safetensors.h — bounds-checked reading and atomic writing of safetensors.
 *
 * Format: 8-byte little-endian header length N, N bytes of JSON
 *   { "NAME": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, …,
 *     "__metadata__": {…} }
 * then the data; offsets are relative to the first byte after the header.
 * Every length, offset, shape and dtype is checked against the file before
 * use (sizes multiplied with overflow checks); "__metadata__" is ignored.
 * A "*.safetensors.index.json" (sharded checkpoint: {"weight_map": {NAME:
 * FILE}}) opens every shard it names from the same folder.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

#define GEN_SAFETENSORS_MAX_DIMS 8
/* An index file bigger than this is refused before it is read (a real one
 * names each tensor once: tens of kB even for the largest checkpoints). */
#define GEN_SAFETENSORS_MAX_INDEX (8u * 1024u * 1024u)

typedef enum
{
  GEN_DTYPE_F32,
  GEN_DTYPE_F16,
  GEN_DTYPE_BF16,
  GEN_DTYPE_OTHER  /* a valid safetensors dtype we do not compute in (I64, U8, F64, …):
                      parsed and bounds-checked, but never converted */
} GenDtype;

typedef struct
{
  const char   *name;
  GenDtype      dtype;
  int           ndim;
  int64_t       shape[GEN_SAFETENSORS_MAX_DIMS];
  int64_t       numel;
  const guint8 *data;   /* into the mapping; NOT necessarily aligned */
  gsize         nbytes;
  const char   *file;   /* the file it came from, for messages */
  const char   *dtype_name; /* as written in the header: "F32", "I64", … */
} GenSafetensorsEntry;

typedef struct _GenSafetensors GenSafetensors;

/* Opens PATH (a .safetensors file, mmapped, or a .safetensors.index.json). */
GenSafetensors *gen_safetensors_open (const char *path, GError **error);
/* Parses a safetensors image already in memory (DATA must outlive the
 * result; not copied).  NAME is used in messages.  Used by the fuzzer. */
GenSafetensors *gen_safetensors_open_bytes (const guint8 *data, gsize len,
                                            const char *name, GError **error);
void            gen_safetensors_free (GenSafetensors *st);

/* Entries are sorted by name (strcmp order), across all shards of a sharded
 * set; names, files and data stay valid until gen_safetensors_free. */
guint                      gen_safetensors_count (GenSafetensors *st);
const GenSafetensorsEntry *gen_safetensors_nth (GenSafetensors *st, guint i);
const GenSafetensorsEntry *gen_safetensors_find (GenSafetensors *st, const char *name);

/* Converts ENTRY to float32 into DST (ENTRY->numel floats). */
void gen_safetensors_to_f32 (const GenSafetensorsEntry *entry, float *dst);

/* Writes N float32 tensors atomically (temp file + rename: on failure no
 * file is left at PATH).  SHAPES[i] has NDIMS[i] dims. */
gboolean gen_safetensors_write_f32 (const char *path, guint n,
                                    const char *const *names,
                                    const float *const *data,
                                    const int *ndims,
                                    const int64_t *const *shapes,
                                    GError **error);

/* The bytes gen_safetensors_write_f32 would write to PATH (named in the
 * messages; nothing is written), in a new buffer *BYTES (g_free) of *LEN
 * bytes. */
gboolean gen_safetensors_encode_f32 (const char *path, guint n,
                                     const char *const *names,
                                     const float *const *data,
                                     const int *ndims,
                                     const int64_t *const *shapes,
                                     guint8 **bytes, gsize *len,
                                     GError **error);

/* fp16 / bf16 → f32, exact. */
float gen_f16_to_f32 (guint16 h);
float gen_bf16_to_f32 (guint16 h);

G_END_DECLS
