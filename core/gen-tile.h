/* gen-tile.h — running a fully convolutional function over an image of any
 * size in overlapping tiles, blended with feathered weights so no tile
 * boundary shows (the overlap is averaged with a linear ramp, as in
 * MultiDiffusion, Bar-Tal et al. 2023).  Internal to the jobs. */
#pragma once

#include "gen-tensor.h"

G_BEGIN_DECLS

/* Maps IN [1, Cin, h, w] to OUT [1, Cout, h·num/den, w·num/den]. */
typedef gboolean (*GenTileFunc) (gpointer data, const GenTensor *in, GenTensor *out, GError **error);

typedef struct _GenTiler GenTiler;

/* A tiler for an input canvas of H×W (multiples of MULTIPLE) with CIN
 * channels and output scale NUM/DEN (1/1 for a UNet, 1/8 for an encoder,
 * 8/1 for a decoder).  TILE and OVERLAP are in input pixels (rounded to
 * MULTIPLE; a canvas no larger than TILE is one tile of its own size).
 * All buffers are allocated here, none per tile. */
GenTiler *gen_tiler_new (int64_t h, int64_t w, int64_t cin, int64_t cout, int num, int den,
                         int multiple, int tile, int overlap, GError **error);
void      gen_tiler_free (GenTiler *t);
int       gen_tiler_n_tiles (const GenTiler *t);

/* OUT = blend over tiles of FUNC (IN's tile · IN_SCALE).  CANCEL (may be
 * NULL) is read before each tile. */
gboolean  gen_tiler_run (GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
                         GenTileFunc func, gpointer data, const gint *cancel, GError **error);

G_END_DECLS
