/* gen-dihedral.c — the eight symmetries of a square grid (four quarter
 * turns, each with and without a mirror) on a stack of planes, for the
 * geometric self-ensemble of denoise (Timofte et al. 2016, "Seven ways to
 * improve example-based single image super resolution", §2.2). */
#include "gen-job-private.h"

/* Where element (I, J) of transform K of an H×W plane comes from: first a
 * mirror (columns reversed) when K ≥ 4, then K mod 4 counter-clockwise
 * quarter turns (numpy's rot90).  Odd turns make the plane W×H. */
static inline void
source_of (int k, int64_t h, int64_t w, int64_t i, int64_t j, int64_t *si, int64_t *sj)
{
  int64_t a, b;

  switch (k & 3)
    {
    case 0:
      a = i, b = j;
      break;
    case 1:
      a = j, b = w - 1 - i;
      break;
    case 2:
      a = h - 1 - i, b = w - 1 - j;
      break;
    default:
      a = h - 1 - j, b = i;
      break;
    }
  *si = a;
  *sj = k >= 4 ? w - 1 - b : b;
}

gboolean
gen_dihedral_swaps (int k)
{
  return (k & 1) != 0;
}

/* Transform K of the planes [c][h][w] and the planes [c][h'][w'] it gives:
 * UNDO = FALSE writes TURNED from PLANES, UNDO = TRUE adds TURNED back into
 * PLANES at the places it came from. */
static void
map_planes (int k, float *planes, int64_t c, int64_t h, int64_t w, float *turned, gboolean undo)
{
  int64_t th = gen_dihedral_swaps (k) ? w : h, tw = gen_dihedral_swaps (k) ? h : w;

  for (int64_t ch = 0; ch < c; ch++)
    {
      float *p = planes + ch * h * w, *t = turned + ch * h * w;

      for (int64_t i = 0; i < th; i++)
        for (int64_t j = 0; j < tw; j++)
          {
            int64_t si, sj;

            source_of (k, h, w, i, j, &si, &sj);
            if (undo)
              p[si * w + sj] += t[i * tw + j];
            else
              t[i * tw + j] = p[si * w + sj];
          }
    }
}

/* The flips and turns that keep a Bayer mosaic's sites where they were on a
 * canvas whose tiles have even origins and sides: the identity and the
 * transpose (K = 5), which fixes the top-left corner. */
static const int all_ks[GEN_DIHEDRAL_N] = { 0, 1, 2, 3, 4, 5, 6, 7 }, mosaic_ks[] = { 0, 5 };

int
gen_dihedral_ensemble (gboolean mosaic, const int **ks)
{
  *ks = mosaic ? mosaic_ks : all_ks;
  return mosaic ? (int) G_N_ELEMENTS (mosaic_ks) : GEN_DIHEDRAL_N;
}

void
gen_dihedral_apply (int k, const float *src, int64_t c, int64_t h, int64_t w, float *dst)
{
  map_planes (k, (float *) src, c, h, w, dst, FALSE);
}

void
gen_dihedral_undo_add (int k, const float *src, int64_t c, int64_t h, int64_t w, float *acc)
{
  map_planes (k, acc, c, h, w, (float *) src, TRUE);
}
