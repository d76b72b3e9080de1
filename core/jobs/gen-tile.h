/* gen-tile.h — running a fully convolutional function over an image of any
 * size in overlapping tiles, blended with feathered weights so no tile
 * boundary shows (the overlap is averaged with a raised-cosine ramp, as in
 * MultiDiffusion, Bar-Tal et al. 2023).  Internal to the jobs.
 *
 * Tiles run in parallel on up to the workers their run allows, each with
 * its own tile buffers (and, in the jobs, its own activation arena); the
 * ops run single-threaded inside each worker meanwhile.  Results are committed in
 * tile order, so the output does not depend on the number of workers. */
#pragma once

#include "gen-ops.h"        /* GEN_MAX_THREADS: the most tiles that run side by side */
#include "gen-tensor.h"

G_BEGIN_DECLS

/* Maps IN [1, Cin, h, w] to OUT [1, Cout, h·num/den, w·num/den] on worker
 * WORKER (0 .. workers − 1; calls on different workers run concurrently). */
typedef gboolean (*GenTileFunc) (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                                 GError **error);

/* Fills TILE [1, Cin, th, tw] with the input at (Y0, X0) (input units).
 * Called concurrently from the workers. */
typedef void (*GenTileFill) (gpointer data, int64_t y0, int64_t x0, GenTensor *tile);

/* Adds OUT [1, Cout, oth, otw] at (OY0, OX0) (output units) weighted by
 * WY[y]·WX[x] into the caller's accumulator.  Called in tile order, one
 * call at a time. */
typedef void (*GenTileAccum) (gpointer data, int64_t oy0, int64_t ox0, const GenTensor *out,
                              const float *wy, const float *wx);

typedef struct _GenTiler GenTiler;

/* A tiler for an input canvas of H×W (multiples of MULTIPLE) with CIN
 * channels and output scale NUM/DEN (1/1 for a UNet, 1/8 for an encoder,
 * 8/1 for a decoder).  TILE and OVERLAP are in input pixels (rounded to
 * MULTIPLE; a canvas no larger than TILE is one tile of its own size;
 * otherwise each axis takes the fewest tiles of at most 9/8 TILE, evenly
 * split).  At most WORKERS tiles run side by side (clamped to
 * 1..GEN_MAX_THREADS and the tile count).
 * Its memory is the tile buffers and a few rows of weights: nothing of
 * the canvas' size. */
GenTiler *gen_tiler_new (int64_t h, int64_t w, int64_t cin, int64_t cout, int num, int den,
                         int multiple, int tile, int overlap, int workers, GError **error);
void      gen_tiler_free (GenTiler *t);
int       gen_tiler_n_tiles (const GenTiler *t);
/* The tile T cuts, in input units (TH×TW) and output units (OTH×OTW). */
void      gen_tiler_tile_size (const GenTiler *t, int64_t *th, int64_t *tw, int64_t *oth,
                               int64_t *otw);
/* The number of workers a run will use: min (WORKERS, tiles). */
int       gen_tiler_workers (const GenTiler *t);
/* The weights' sum at output row OY and column OX are WSUM_Y[OY]·WSUM_X[OX]
 * (the tiles form a grid); an accumulator divides by them at the end. */
const float *gen_tiler_wsum_y (const GenTiler *t);
const float *gen_tiler_wsum_x (const GenTiler *t);

/* The general run: for each tile FILL, FUNC, then ACCUM (in tile order).
 * CANCEL (may be NULL) is read before each tile.  The caller normalises. */
gboolean  gen_tiler_run_with (GenTiler *t, GenTileFill fill, gpointer fill_data,
                              GenTileFunc func, gpointer data,
                              GenTileAccum accum, gpointer accum_data,
                              const gint *cancel, GError **error);

/* OUT = blend over tiles of FUNC (IN's tile · IN_SCALE), both whole
 * tensors [1, C, H, W]. */
gboolean  gen_tiler_run (GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
                         GenTileFunc func, gpointer data, const gint *cancel, GError **error);

G_END_DECLS
