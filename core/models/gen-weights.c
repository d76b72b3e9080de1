/* gen-weights.c — a model folder's weights: finding its safetensors file (or
 * sharded index), and each tensor by name with its shape checked.  Nothing
 * else lives here: the fuzz targets link their own version of these
 * functions (tests/fuzz/fuzz-weights.c) to build models from any config. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <stdarg.h>
#include <string.h>

static const char *const weight_files[] = {
  "diffusion_pytorch_model.safetensors",
  "diffusion_pytorch_model.safetensors.index.json",
  "diffusion_pytorch_model.fp16.safetensors",
  "diffusion_pytorch_model.fp16.safetensors.index.json",
  "model.safetensors",                  /* transformers' name (a pipeline's text_encoder/) */
  "model.safetensors.index.json",
  "model.fp16.safetensors",
  "model.fp16.safetensors.index.json",
};

gboolean
gen_weights_open (GenWeights *w, const char *dir, GError **error)
{
  memset (w, 0, sizeof *w);
  for (guint i = 0; i < G_N_ELEMENTS (weight_files); i++)
    {
      char *path = g_build_filename (dir, weight_files[i], NULL);

      if (g_file_test (path, G_FILE_TEST_EXISTS))
        {
          w->st = gen_safetensors_open (path, error);
          if (!w->st)
            {
              g_free (path);
              return FALSE;
            }
          w->where = path;
          w->owned = g_ptr_array_new_with_free_func (g_free);
          w->keeps = g_ptr_array_new_with_free_func (gen_conv2d_keep_free);
          return TRUE;
        }
      g_free (path);
    }
  {
    char *bin = g_build_filename (dir, "diffusion_pytorch_model.bin", NULL);
    char *tbin = g_build_filename (dir, "pytorch_model.bin", NULL);
    gboolean has_bin = g_file_test (bin, G_FILE_TEST_EXISTS);
    gboolean has_tbin = g_file_test (tbin, G_FILE_TEST_EXISTS);

    g_free (bin);
    g_free (tbin);
    g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                 has_bin ? "%s: only a PyTorch .bin checkpoint was found; "
                           "convert it to diffusion_pytorch_model.safetensors"
                 : has_tbin ? "%s: only a PyTorch .bin checkpoint was found; "
                              "convert it to model.safetensors"
                 : "%s: no diffusion_pytorch_model.safetensors or model.safetensors (or "
                   "sharded index) in this folder",
                 dir);
  }
  return FALSE;
}

void
gen_weights_open_single (GenWeights *w, GenSingleFile *sf, GenSingleFilePart part)
{
  memset (w, 0, sizeof *w);
  w->single = gen_single_file_ref (sf);
  w->part = part;
  w->where = g_strdup (gen_single_file_where (sf));
  w->owned = g_ptr_array_new_with_free_func (g_free);
  w->keeps = g_ptr_array_new_with_free_func (gen_conv2d_keep_free);
}

void
gen_weights_clear (GenWeights *w)
{
  g_clear_pointer (&w->st, gen_safetensors_free);
  g_clear_pointer (&w->single, gen_single_file_unref);
  g_clear_pointer (&w->owned, g_ptr_array_unref);
  g_clear_pointer (&w->keeps, g_ptr_array_unref);
  g_clear_pointer (&w->where, g_free);
}

static char *
shape_str (int ndim, const int64_t *shape)
{
  GString *s = g_string_new ("[");

  for (int i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* Equal up to trailing dims of size 1 on either side. */
static gboolean
shape_matches (int ndim, const int64_t *shape, int fdim, const int64_t *fshape)
{
  int n = MAX (ndim, fdim);

  for (int i = 0; i < n; i++)
    {
      int64_t a = i < ndim ? shape[i] : 1, b = i < fdim ? fshape[i] : 1;

      if (a != b)
        return FALSE;
      if (i >= MIN (ndim, fdim) && a != 1)
        return FALSE;
    }
  return TRUE;
}

/* NAME (a diffusers name) in the folder's file or through the single
 * file's key map. */
static const GenSafetensorsEntry *
weights_find (GenWeights *w, const char *name)
{
  return w->single ? gen_single_file_find (w->single, w->part, name)
                   : gen_safetensors_find (w->st, name);
}

/* Whether E can be used in place as 16-bit floats: F16 or BF16, 2-byte
 * aligned in the mapping, on a little-endian CPU (as the file is). */
static gboolean
half_in_place (const GenSafetensorsEntry *e)
{
  return (e->dtype == GEN_DTYPE_F16 || e->dtype == GEN_DTYPE_BF16)
         && G_BYTE_ORDER == G_LITTLE_ENDIAN && ((guintptr) e->data % sizeof (guint16)) == 0;
}

/* HALF non-NULL: an F16/BF16 tensor that can stay in the file does (HALF
 * views it, OUT's data is NULL). */
static gboolean
weights_get_v (GenWeights *w, GenTensor *out, GenHalf *half, int ndim, const int64_t *shape,
               GError **error, const char *fmt, va_list ap)
{
  char *name = g_strdup_vprintf (fmt, ap);
  const GenSafetensorsEntry *e = weights_find (w, name);
  int64_t ne[4] = { 1, 1, 1, 1 };
  float *data;

  if (!e)
    {
      char *orig = w->single ? gen_single_file_map (w->single, w->part, name) : NULL;

      if (orig)
        g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                     "%s: tensor '%s' (diffusers' '%s') is missing", w->where, orig, name);
      else
        g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                     "%s: tensor '%s' is missing", w->where, name);
      g_free (orig);
      g_free (name);
      return FALSE;
    }
  if (e->dtype == GEN_DTYPE_OTHER || !shape_matches (ndim, shape, e->ndim, e->shape))
    {
      char *want = shape_str (ndim, shape), *got = shape_str (e->ndim, e->shape);

      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                   "%s: tensor '%s' is %s %s, expected F32/F16/BF16 %s",
                   e->file ? e->file : w->where, e->name, e->dtype_name, got, want);
      g_free (want);
      g_free (got);
      g_free (name);
      return FALSE;
    }
  g_free (name);

  if (half)
    memset (half, 0, sizeof *half);
  if (half && half_in_place (e))
    {
      half->data = (const guint16 *) e->data; /* read-only mapping, used in place */
      half->bf16 = e->dtype == GEN_DTYPE_BF16;
      data = NULL;
      w->bytes += e->nbytes, w->mapped += e->nbytes;
    }
  else if (e->dtype == GEN_DTYPE_F32 && ((guintptr) e->data % sizeof (float)) == 0)
    {
      data = (float *) e->data; /* read-only mapping, used in place */
      w->bytes += e->nbytes, w->mapped += e->nbytes;
    }
  else
    {
      data = g_try_new (float, MAX (1, e->numel));
      if (!data)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                       "%s: out of memory converting tensor '%s'", w->where, e->name);
          return FALSE;
        }
      gen_safetensors_to_f32 (e, data);
      g_ptr_array_add (w->owned, data);
      w->bytes += sizeof (float) * e->numel;
    }
  w->n_params += e->numel;

  /* Right-align the shape into [N, C, H, W]. */
  for (int i = 0; i < ndim && i < 4; i++)
    ne[4 - ndim + i] = shape[i];
  *out = gen_tensor_view (data, ne[0], ne[1], ne[2], ne[3]);
  return TRUE;
}

gboolean
gen_weights_get (GenWeights *w, GenTensor *out, int ndim, const int64_t *shape,
                 GError **error, const char *fmt, ...)
{
  va_list ap;
  gboolean ok;

  va_start (ap, fmt);
  ok = weights_get_v (w, out, NULL, ndim, shape, error, fmt, ap);
  va_end (ap);
  return ok;
}

gboolean
gen_weights_get_matrix (GenWeights *w, GenTensor *out, GenHalf *half, int ndim,
                        const int64_t *shape, GError **error, const char *fmt, ...)
{
  va_list ap;
  gboolean ok;

  va_start (ap, fmt);
  ok = weights_get_v (w, out, half, ndim, shape, error, fmt, ap);
  va_end (ap);
  return ok;
}

gboolean
gen_weights_has (GenWeights *w, const char *fmt, ...)
{
  va_list ap;
  char *name;
  gboolean has;

  va_start (ap, fmt);
  name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  has = weights_find (w, name) != NULL;
  g_free (name);
  return has;
}
