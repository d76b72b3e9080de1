/* gen-gimp2-dialog.h — the dialog of a Generative procedure in GIMP 2.10. */
#pragma once

#include "gen-gimp2.h"

G_BEGIN_DECLS

/* Shows the dialog of JOB's procedure PROC_NAME over V (the last values,
 * written back on OK).  DEFAULT_DIR is the built-in model's folder;
 * DRAWABLE the one the job reads (previewed by Denoise; -1 none);
 * WIDTH × HEIGHT the region it works on, for the time estimate;
 * NOISE_ESTIMATE the estimated noise level of the layer (denoise; < 0 when
 * none).  FALSE when the user cancelled. */
gboolean gen_gimp2_dialog (const char *proc_name, GenPluginJob job, GenGimp2Values *v,
                           const char *default_dir, gint32 drawable, int width, int height,
                           double noise_estimate);

G_END_DECLS
