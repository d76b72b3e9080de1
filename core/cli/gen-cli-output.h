/* gen-cli-output.h — the files a CLI command writes, claimed before its
 * work and put in place all together after it.
 *
 * Claiming a file checks what can be checked without the result (the image
 * format of its extension holds the bits asked for; an existing target is
 * a writable regular file, not a folder, device or FIFO) and creates the
 * temp file "PATH.XXXXXX" the final write will use, beside PATH: a missing
 * or read-only folder fails then, before the model is loaded, not after
 * minutes of work.  Each result is written into its temp file (synced);
 * gen_cli_output_commit renames them all over their targets only once every
 * one was written.  Until then a failure, gen_cli_output_free or a signal
 * (gen-cli-cleanup.h) removes every temp file and leaves the targets as
 * they were.
 */
#pragma once

#include "gen-image.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GenCliOutput GenCliOutput;

GenCliOutput *gen_cli_output_new (void);
/* Removes the temp files of what was not committed.  NULL is fine. */
void          gen_cli_output_free (GenCliOutput *o);

/* Claims COUNT images at PATH, numbered when COUNT > 1 ("out.png" gives
 * out-0.png, out-1.png, …), written with BITS bits per sample (8 or 16; 0:
 * each image's own).  Their indices follow the ones claimed before.  FALSE
 * (INVALID for the format or bits, IO for the place) if any of them cannot
 * be written there; what this call claimed is released again. */
gboolean gen_cli_output_add_images (GenCliOutput *o, const char *path, int count, int bits,
                                    GError **error);

/* Claims PATH for bytes of any kind (a .safetensors file).  Returns its
 * index, or -1 (IO) if it cannot be written there. */
int      gen_cli_output_add_file (GenCliOutput *o, const char *path, GError **error);

/* Writes the LEN bytes at DATA, or IMG encoded as its target's format, into
 * the temp file of claim INDEX (each once). */
gboolean gen_cli_output_write (GenCliOutput *o, guint index, const void *data, gsize len,
                               GError **error);
gboolean gen_cli_output_write_image (GenCliOutput *o, guint index, const GenImage *img,
                                     GError **error);

/* Renames every temp file over its target, after checking every target
 * again (one turned into a folder during the work fails them all, and none
 * is renamed).  All claims must have been written.  Only a rename failing
 * after that check (a race) leaves the targets before it replaced. */
gboolean gen_cli_output_commit (GenCliOutput *o, GError **error);

G_END_DECLS
