/* gen-pixels-tensor.c — the jobs' images and the model's tensors: pixels ⇄
 * tensors, result buffers and input checks. */
#include "gen-job-private.h"

#include <string.h>

int64_t
gen_pixels_reflect (int64_t i, int64_t n)
{
  if (n == 1)
    return 0;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

float *
gen_job_alloc_floats (gsize n, GError **error)
{
  float *p = g_try_new (float, MAX (n, 1));

  if (!p)
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                 "out of memory (%.0f MB needed); try a smaller image", n * 4.0 / 1e6);
  return p;
}

float *
gen_job_result_new (const GenJobOptions *o, const GenPixels *in, GenPixels *out,
                    GError **error)
{
  if (o->scratch_outputs && out->data != in->data)
    return out->data;
  return gen_job_alloc_floats ((gsize) in->width * in->height * in->channels, error);
}

void
gen_job_result_finish (float *res, const GenPixels *in, GenPixels *out)
{
  if (res != out->data)
    memcpy (out->data, res, sizeof (float) * in->width * in->height * in->channels);
}

void
gen_job_result_free (float *res, const GenPixels *out)
{
  if (res != out->data)
    g_free (res);
}

gboolean
gen_pixels_check (const GenPixels *px, const char *what, GError **error)
{
  if (!px || !px->data || px->width < 1 || px->height < 1 || px->channels < 1 || px->channels > 4)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: an empty image or an unsupported "
                   "channel count", what);
      return FALSE;
    }
  if (px->width < 2 || px->height < 2)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s is %d×%d: images must be at least 2×2 pixels", what, px->width, px->height);
      return FALSE;
    }
  return TRUE;
}

/* IN as a [1, MC, PH, PW] tensor in [-1, 1]: RGB (gray replicated) or, for
 * MC == 1, the mean of the colour channels; reflected beyond IN's edges. */
float *
gen_pixels_to_tensor (const GenPixels *in, int mc, int64_t ph, int64_t pw, GError **error)
{
  return gen_pixels_to_tensor_at (in, mc, ph, pw, 0, 0, error);
}

float *
gen_pixels_to_tensor_at (const GenPixels *in, int mc, int64_t ph, int64_t pw, int oy, int ox,
                         GError **error)
{
  float *t = gen_job_alloc_floats ((gsize) mc * ph * pw, error);
  int colour = in->channels >= 3 ? 3 : 1;

  if (!t)
    return NULL;
  for (int64_t y = 0; y < ph; y++)
    for (int64_t x = 0; x < pw; x++)
      {
        const float *s = in->data + (gen_pixels_reflect (y - oy, in->height) * in->width
                                     + gen_pixels_reflect (x - ox, in->width)) * in->channels;
        for (int c = 0; c < mc; c++)
          {
            float v;

            if (mc == 1)
              v = colour == 3 ? (s[0] + s[1] + s[2]) / 3.0f : s[0];
            else
              v = s[colour == 3 ? c : 0];
            t[(c * ph + y) * pw + x] = 2.0f * v - 1.0f;
          }
      }
  return t;
}

/* The top-left W×H of T [1, MC, PH, PW] into OUT's layout, clamped to
 * 0..1; alpha from ALPHA_SRC (same size) or opaque. */
void
gen_pixels_from_tensor (const float *t, int mc, int64_t ph, int64_t pw,
                        const GenPixels *alpha_src, GenPixels *out)
{
  gen_pixels_from_tensor_at (t, mc, ph, pw, 0, 0, alpha_src, out);
}

void
gen_pixels_from_tensor_at (const float *t, int mc, int64_t ph, int64_t pw, int oy, int ox,
                           const GenPixels *alpha_src, GenPixels *out)
{
  int colour = out->channels >= 3 ? 3 : 1;
  gboolean has_alpha = out->channels == 2 || out->channels == 4;

  (void) ph;
  for (int y = 0; y < out->height; y++)
    for (int x = 0; x < out->width; x++)
      {
        float *d = out->data + ((gsize) y * out->width + x) * out->channels;
        float v[3];

        for (int c = 0; c < 3; c++)
          v[c] = t[((mc == 1 ? 0 : c) * ph + y + oy) * pw + x + ox] * 0.5f + 0.5f;
        if (colour == 1)
          d[0] = CLAMP ((v[0] + v[1] + v[2]) / 3.0f, 0.0f, 1.0f);
        else
          for (int c = 0; c < 3; c++)
            d[c] = CLAMP (v[c], 0.0f, 1.0f);
        if (has_alpha)
          {
            const GenPixels *a = alpha_src;
            gboolean src_alpha = a && (a->channels == 2 || a->channels == 4);
            d[colour] = src_alpha ? a->data[((gsize) y * a->width + x) * a->channels + a->channels - 1]
                                  : 1.0f;
          }
      }
}

gboolean
gen_pixels_same_shape (const GenPixels *a, const GenPixels *b, const char *what,
                       GError **error)
{
  if (a->width == b->width && a->height == b->height && a->channels == b->channels && b->data)
    return TRUE;
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: the output must have the input's shape",
               what);
  return FALSE;
}
