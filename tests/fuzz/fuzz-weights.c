/* fuzz-weights.c — the weights the model fuzzers build with: every tensor a
 * model asks for exists with the shape it asks for, filled with zeros or
 * with the fuzzer's bytes read as float32 (cycled), so any config builds
 * into a model and any byte pattern becomes its weights.  Replaces
 * core/models/gen-weights.c in the fuzz targets (all of its functions). */
#include "fuzz-weights.h"
#include "gen-error.h"
#include "gen-model-private.h"

#include <stdarg.h>
#include <string.h>

/* The fuzz target's run, one input at a time (libFuzzer is single-threaded). */
static const guint8 *fill_bytes;
static gsize         fill_len;
static gsize         budget;   /* floats left for this model */

void
fuzz_weights_set (const guint8 *bytes, gsize len, gsize max_floats)
{
  fill_bytes = bytes;
  fill_len = len;
  budget = max_floats;
}

gboolean
gen_weights_open (GenWeights *w, const char *dir, GError **error)
{
  (void) error;
  memset (w, 0, sizeof *w);
  w->where = g_build_filename (dir, "fuzz.safetensors", NULL);
  w->owned = g_ptr_array_new_with_free_func (g_free);
  w->keeps = g_ptr_array_new_with_free_func (gen_conv2d_keep_free);
  return TRUE;
}

void
gen_weights_open_single (GenWeights *w, GenSingleFile *sf, GenSingleFilePart part)
{
  (void) sf;
  (void) part;
  gen_weights_open (w, "single-file", NULL);
}

void
gen_weights_clear (GenWeights *w)
{
  g_clear_pointer (&w->owned, g_ptr_array_unref);
  g_clear_pointer (&w->keeps, g_ptr_array_unref);
  g_clear_pointer (&w->where, g_free);
}

gboolean
gen_weights_get (GenWeights *w, GenTensor *out, int ndim, const int64_t *shape,
                 GError **error, const char *fmt, ...)
{
  int64_t ne[4] = { 1, 1, 1, 1 };
  gsize numel = 1;
  float *data;

  (void) fmt;
  if (ndim < 1 || ndim > 4)
    __builtin_trap ();  /* a model asked for a tensor it cannot hold */
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0 || !g_size_checked_mul (&numel, numel, (gsize) shape[i]))
      __builtin_trap ();  /* the model's config checks let a shape overflow */
  if (numel > budget)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE, "%s: over the fuzzer's weight budget",
                   w->where);
      return FALSE;
    }
  budget -= numel;
  data = g_new0 (float, MAX (1, numel));
  if (fill_len >= sizeof (float))
    for (gsize i = 0; i < numel; i++)
      memcpy (data + i, fill_bytes + (i * sizeof (float)) % (fill_len - fill_len % 4),
              sizeof (float));
  g_ptr_array_add (w->owned, data);
  w->n_params += numel;
  for (int i = 0; i < ndim; i++)
    ne[4 - ndim + i] = shape[i];
  *out = gen_tensor_view (data, ne[0], ne[1], ne[2], ne[3]);
  return TRUE;
}

gboolean
gen_weights_get_matrix (GenWeights *w, GenTensor *out, GenHalf *half, int ndim,
                        const int64_t *shape, GError **error, const char *fmt, ...)
{
  (void) fmt;
  memset (half, 0, sizeof *half);   /* the fuzzer's weights are F32 */
  return gen_weights_get (w, out, ndim, shape, error, "%s", "matrix");
}

gboolean
gen_weights_has (GenWeights *w, const char *fmt, ...)
{
  (void) w;
  (void) fmt;
  return FALSE; /* optional and legacy names: the diffusers names are asked for */
}
