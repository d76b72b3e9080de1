/* gen-resample.c — resampling (nearest upsampling and resizing, average
 * pooling) and plumbing: the timestep embedding, channel concatenation and
 * per-channel bias. */
#include "gen-ops.h"

#include <math.h>
#include <string.h>

void
gen_upsample_nearest (const GenTensor *x, GenTensor *y, int factor)
{
  int64_t h = x->ne[2], w = x->ne[3];

  g_return_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1]
                    && y->ne[2] == h * factor && y->ne[3] == w * factor);
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  for (int64_t p = 0; p < x->ne[0] * x->ne[1]; p++)
    {
      const float *src = x->data + p * h * w;
      float *dst = y->data + p * h * w * factor * factor;

      for (int64_t iy = 0; iy < h; iy++)
        {
          float *row = dst + iy * factor * w * factor;
          for (int64_t ix = 0; ix < w; ix++)
            for (int f = 0; f < factor; f++)
              row[ix * factor + f] = src[iy * w + ix];
          for (int f = 1; f < factor; f++)
            memcpy (row + f * w * factor, row, sizeof (float) * w * factor);
        }
    }
}

/* ATen's nearest_idx: identity at the same size, i >> 1 at twice the size,
 * else min (floor (i · (float) in / out), in − 1) in float. */
static int64_t
nearest_src (int64_t i, int64_t in, int64_t out)
{
  float scale;
  int64_t s;

  if (out == in)
    return i;
  if (out == 2 * in)
    return i >> 1;
  scale = (float) in / (float) out;
  s = (int64_t) floorf ((float) i * scale);
  return MIN (s, in - 1);
}

void
gen_resize_nearest (const GenTensor *x, GenTensor *y)
{
  int64_t h = x->ne[2], w = x->ne[3], oh = y->ne[2], ow = y->ne[3];
  int64_t *cols;

  g_return_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1] && oh > 0 && ow > 0);
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  cols = g_new (int64_t, ow);
  for (int64_t ox = 0; ox < ow; ox++)
    cols[ox] = nearest_src (ox, w, ow);
  for (int64_t p = 0; p < x->ne[0] * x->ne[1]; p++)
    {
      const float *src = x->data + p * h * w;
      float *dst = y->data + p * oh * ow;

      for (int64_t oy = 0; oy < oh; oy++)
        {
          const float *row = src + nearest_src (oy, h, oh) * w;

          for (int64_t ox = 0; ox < ow; ox++)
            dst[oy * ow + ox] = row[cols[ox]];
        }
    }
  g_free (cols);
}

/* One axis of ATen's antialiased bilinear resize (_compute_weights_aa) from
 * IN to OUT samples: output I reads LEN[I] inputs from LO[I] with weights
 * W[I · TAPS + j], normalised.  The arithmetic follows ATen's float32 /
 * double mix so that the weights agree to the last bit where it can. */
static int
aa_axis (int64_t in, int64_t out, int64_t *lo, int64_t *len, float **w)
{
  float scale = (float) in / (float) out;
  float support = scale >= 1.0f ? scale : 1.0f;
  float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  int taps = (int) ceil (support) * 2 + 1;

  *w = g_try_new0 (float, (gsize) out * taps);
  if (!*w)
    return 0;
  for (int64_t i = 0; i < out; i++)
    {
      float center = (float) (scale * (i + 0.5)), total = 0.0f;
      float *wi = *w + i * taps;
      int64_t xmin = MAX ((int64_t) (center - support + 0.5), 0);
      int64_t xsize = MIN ((int64_t) (center + support + 0.5), in) - xmin;

      xsize = MIN (xsize, taps);
      for (int64_t j = 0; j < xsize; j++)
        {
          float d = fabsf ((float) (((float) (j + xmin) - center + 0.5) * invscale));

          wi[j] = d < 1.0f ? 1.0f - d : 0.0f;
          total += wi[j];
        }
      for (int64_t j = 0; total != 0.0f && j < xsize; j++)
        wi[j] /= total;
      lo[i] = xmin, len[i] = MAX (xsize, 0);
    }
  return taps;
}

/* Resamples the axis of stride STRIDE (1: rows' pixels; W: a plane's rows)
 * of P planes from IN to OUT samples; the other axis has OTHER samples. */
static gboolean
aa_pass (const float *src, float *dst, int64_t planes, int64_t in, int64_t out, int64_t other,
         gboolean along_rows)
{
  int64_t *lo = g_try_new (int64_t, out), *len = g_try_new (int64_t, out);
  float *w = NULL;
  int taps = lo && len ? aa_axis (in, out, lo, len, &w) : 0;

  if (taps == 0)
    {
      g_free (lo);
      g_free (len);
      return FALSE;
    }
  for (int64_t p = 0; p < planes; p++)
    for (int64_t o = 0; o < other; o++)
      for (int64_t i = 0; i < out; i++)
        {
          const float *wi = w + i * taps;
          float t = 0.0f;

          /* along rows: plane [other][in] → [other][out]; else [in][other] → [out][other] */
          for (int64_t j = 0; j < len[i]; j++)
            t += (along_rows ? src[(p * other + o) * in + lo[i] + j]
                             : src[(p * in + lo[i] + j) * other + o]) * wi[j];
          if (along_rows)
            dst[(p * other + o) * out + i] = t;
          else
            dst[(p * out + i) * other + o] = t;
        }
  g_free (lo);
  g_free (len);
  g_free (w);
  return TRUE;
}

gboolean
gen_resize_bilinear_aa (const GenTensor *x, GenTensor *y)
{
  int64_t h = x->ne[2], w = x->ne[3], oh = y->ne[2], ow = y->ne[3], planes = x->ne[0] * x->ne[1];
  float *mid;   /* [planes, h, ow] */
  gboolean ok;

  g_return_val_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1] && oh > 0 && ow > 0, FALSE);
  g_return_val_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y), FALSE);
  if (!x->data || !y->data)
    return TRUE;
  /* the rows first, then the columns, as ATen runs the passes */
  if (ow == w)
    mid = x->data;
  else if (!(mid = g_try_new (float, (gsize) planes * h * ow))
           || !aa_pass (x->data, mid, planes, w, ow, h, TRUE))
    {
      g_free (mid);
      return FALSE;
    }
  if (oh == h)
    {
      memcpy (y->data, mid, sizeof (float) * planes * h * ow);
      ok = TRUE;
    }
  else
    ok = aa_pass (mid, y->data, planes, h, oh, ow, FALSE);
  if (mid != x->data)
    g_free (mid);
  return ok;
}

void
gen_avg_pool (const GenTensor *x, GenTensor *y, int k)
{
  int64_t h = x->ne[2], w = x->ne[3], ho = h / k, wo = w / k;
  float inv = 1.0f / (float) (k * k);

  g_return_if_fail (y->ne[0] == x->ne[0] && y->ne[1] == x->ne[1] && y->ne[2] == ho && y->ne[3] == wo);
  g_return_if_fail (gen_tensor_is_contiguous (x) && gen_tensor_is_contiguous (y));
  if (!x->data || !y->data)
    return;
  for (int64_t p = 0; p < x->ne[0] * x->ne[1]; p++)
    {
      const float *src = x->data + p * h * w;
      float *dst = y->data + p * ho * wo;

      for (int64_t oy = 0; oy < ho; oy++)
        for (int64_t ox = 0; ox < wo; ox++)
          {
            float acc = 0.0f;
            for (int ky = 0; ky < k; ky++)
              for (int kx = 0; kx < k; kx++)
                acc += src[(oy * k + ky) * w + ox * k + kx];
            dst[oy * wo + ox] = acc * inv;
          }
    }
}

/* diffusers' get_timestep_embedding (after "Attention Is All You Need",
 * §3.5): freq_i = exp(-ln(max_period) · i / (half - shift)), emb = [sin(t·f),
 * cos(t·f)] (or [cos, sin] when flipped), zero-padded to an odd DIM.  The
 * arguments are rounded to float32 as torch computes them. */
void
gen_timestep_embedding (const float *t, int64_t n, int64_t dim,
                        bool flip_sin_to_cos, float downscale_freq_shift,
                        float scale, float max_period, float *out)
{
  int64_t half = dim / 2;

  for (int64_t b = 0; b < n; b++)
    {
      float *row = out + b * dim;

      for (int64_t i = 0; i < half; i++)
        {
          float exponent = (float) -log ((double) max_period) * (float) i;
          float freq, arg;

          exponent = exponent / ((float) half - downscale_freq_shift);
          freq = expf (exponent);
          arg = t[b] * freq;
          arg = scale * arg;
          if (flip_sin_to_cos)
            {
              row[i] = cosf (arg);
              row[half + i] = sinf (arg);
            }
          else
            {
              row[i] = sinf (arg);
              row[half + i] = cosf (arg);
            }
        }
      if (dim % 2 == 1)
        row[dim - 1] = 0.0f;
    }
}

void
gen_concat_channels (const GenTensor *a, const GenTensor *b, GenTensor *y)
{
  GenTensor ya, yb;

  g_return_if_fail (a->ne[1] + b->ne[1] == y->ne[1]);
  ya = gen_tensor_channels (y, 0, a->ne[1]);
  yb = gen_tensor_channels (y, a->ne[1], b->ne[1]);
  gen_tensor_copy (a, &ya);
  gen_tensor_copy (b, &yb);
}

void
gen_add_channel_bias (GenTensor *y, const float *v, int64_t ldv)
{
  int64_t hw = y->ne[2] * y->ne[3];

  g_return_if_fail (gen_tensor_is_contiguous (y));
  if (!y->data || !v)
    return;
  for (int64_t b = 0; b < y->ne[0]; b++)
    for (int64_t c = 0; c < y->ne[1]; c++)
      {
        float *dst = y->data + b * y->nb[0] + c * hw;
        float add = v[b * ldv + c];
        for (int64_t i = 0; i < hw; i++)
          dst[i] += add;
      }
}
