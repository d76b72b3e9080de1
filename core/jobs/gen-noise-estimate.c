/* gen-noise-estimate.c — the noise level of an image, for denoise's
 * sigma auto and the plug-in's dialog. */
#include "gen-job-private.h"

#include <math.h>

/* Finest diagonal Haar detail d = (a − b − c + e) / 2 over 2×2 blocks has
 * the noise's σ for white noise; the median absolute value / 0.6745 is
 * robust to edges (Donoho & Johnstone 1994).  Per colour channel, averaged. */
double
gen_estimate_noise (const GenPixels *in)
{
  int colour = in->channels >= 3 ? 3 : 1;
  gint64 nb = (gint64) (in->width / 2) * (in->height / 2);
  float *d;
  double sum = 0.0;

  if (nb < 1)
    return 0.0;
  d = g_new (float, nb);
  for (int c = 0; c < colour; c++)
    {
      gint64 k = 0;

      for (int y = 0; y + 1 < in->height; y += 2)
        for (int x = 0; x + 1 < in->width; x += 2)
          {
            const float *p0 = in->data + ((gsize) y * in->width + x) * in->channels + c;
            const float *p1 = p0 + (gsize) in->width * in->channels;
            d[k++] = fabsf (p0[0] - p0[in->channels] - p1[0] + p1[in->channels]) * 0.5f;
          }
      /* median by selection */
      {
        gint64 lo = 0, hi = k - 1, mid = k / 2;

        while (lo < hi)
          {
            float pivot = d[(lo + hi) / 2];
            gint64 i = lo, j = hi;

            while (i <= j)
              {
                while (d[i] < pivot)
                  i++;
                while (d[j] > pivot)
                  j--;
                if (i <= j)
                  {
                    float t = d[i];
                    d[i] = d[j], d[j] = t;
                    i++, j--;
                  }
              }
            if (mid <= j)
              hi = j;
            else if (mid >= i)
              lo = i;
            else
              break;
          }
        sum += d[mid] / 0.6745 * 255.0;
      }
    }
  g_free (d);
  return sum / colour;
}
