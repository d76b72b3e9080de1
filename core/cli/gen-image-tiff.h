/* gen-image-tiff.h — what the two TIFF files share: gen-image-tiff.c
 * (libtiff's messages, the file in memory, loading and encoding) and
 * gen-image-tiff-read.c (checking the structure, decoding the pixels). */
#pragma once

#include "gen-image-codec.h"

#include <tiffio.h>

G_BEGIN_DECLS

/* Where libtiff's messages for one call go. */
typedef struct
{
  char msg[GEN_IMAGE_LIB_MSG_LEN]; /* the last error libtiff reported: some are only
                                      complaints about a tag it then ignores */
} TiffMsg;

/* The header and the first directory, with every value it points to, must
 * lie inside the LEN bytes at DATA: libtiff would take a cut-off directory
 * for a short one.  The magic was checked by the caller. */
gboolean  gen_image_tiff_check_structure (const guint8 *data, gsize len, const char *name,
                                          GError **error);

/* The first page of the open TIF as a new image; MSG is the buffer its
 * handlers write into. */
GenImage *gen_image_tiff_decode (TIFF *tif, TiffMsg *msg, const char *name, gsize max_pixels,
                                 GError **error);

G_END_DECLS
