/* fuzz-safetensors.c — libFuzzer target for the safetensors reader.
 *
 * Any input must give either a parsed set whose every entry lies inside the
 * input, or NULL with one GError; never a crash, a leak or an out-of-bounds
 * read.  Broken invariants of a parsed set trap, so libFuzzer reports them.
 * Each input is tried twice: as a whole file, and as "header JSON, NUL,
 * data" behind a computed length prefix.
 */
#include "gen-safetensors.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static gsize
dtype_size (const GenSafetensorsEntry *e)
{
  if (e->dtype == GEN_DTYPE_F32)
    return 4;
  if (e->dtype == GEN_DTYPE_F16 || e->dtype == GEN_DTYPE_BF16)
    return 2;
  return 0; /* OTHER: checked against the byte count only */
}

static void
check_image (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenSafetensors *st;
  guint i, n;

  st = gen_safetensors_open_bytes (data, size, "fuzz.safetensors", &error);
  if (st == NULL)
    {
      if (error == NULL || error->message == NULL || error->message[0] == '\0')
        __builtin_trap ();
      g_error_free (error);
      return;
    }
  if (error != NULL)
    __builtin_trap ();

  n = gen_safetensors_count (st);
  for (i = 0; i < n; i++)
    {
      const GenSafetensorsEntry *e = gen_safetensors_nth (st, i);
      volatile guint8 sink = 0;
      gsize k, el = dtype_size (e);

      /* sorted, findable, inside the input, sizes consistent */
      if (i > 0 && strcmp (gen_safetensors_nth (st, i - 1)->name, e->name) >= 0)
        __builtin_trap ();
      if (gen_safetensors_find (st, e->name) != e)
        __builtin_trap ();
      if (e->ndim < 0 || e->ndim > GEN_SAFETENSORS_MAX_DIMS || e->numel < 0)
        __builtin_trap ();
      if (e->data < data || e->nbytes > size || e->data + e->nbytes > data + size)
        __builtin_trap ();
      if (el != 0 && (guint64) e->numel * el != e->nbytes)
        __builtin_trap ();
      for (k = 0; k < e->nbytes; k++) /* let ASan see every byte */
        sink ^= e->data[k];
      (void) sink;

      if (e->dtype != GEN_DTYPE_OTHER && e->numel <= (1 << 16))
        {
          float *f = g_new (float, (gsize) e->numel + 1); /* [numel] */
          gen_safetensors_to_f32 (e, f);
          g_free (f);
        }
    }
  if (gen_safetensors_nth (st, n) != NULL)
    __builtin_trap ();
  gen_safetensors_free (st);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nul;
  uint8_t *img; /* [8 + hlen + rest] */
  size_t hlen, rest, k;

  /* the input as a file */
  check_image (data, size);

  /* the input as header JSON up to its first NUL byte, then data, behind a
   * length prefix that matches: mutations that grow or shrink the header
   * then still reach the per-tensor checks */
  nul = memchr (data, 0, size);
  hlen = nul != NULL ? (size_t) (nul - data) : size;
  rest = nul != NULL ? size - hlen - 1 : 0;
  img = g_malloc (8 + hlen + rest);
  for (k = 0; k < 8; k++)
    img[k] = (uint8_t) ((guint64) hlen >> (8 * k));
  memcpy (img + 8, data, hlen);
  if (rest > 0)
    memcpy (img + 8 + hlen, nul + 1, rest);
  check_image (img, 8 + hlen + rest);
  g_free (img);
  return 0;
}
