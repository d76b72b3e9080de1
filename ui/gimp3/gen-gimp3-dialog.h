/* gen-gimp3-dialog.h — the dialog of a Generative procedure in GIMP 3.0. */
#pragma once

#include <libgimp/gimp.h>

#include "gen-plugin-settings.h"

G_BEGIN_DECLS

/* Shows the dialog of JOB's PROCEDURE over CONFIG (its own arguments, so
 * what a script passes and what a user sees are the same settings; GIMP
 * keeps the last values).  DEFAULT_DIR is the built-in model's folder;
 * DRAWABLE (may be NULL) the one the job reads, previewed by Denoise;
 * WIDTH × HEIGHT the region it works on, for the time estimate;
 * NOISE_ESTIMATE the estimated noise level of the layer (denoise; < 0 when
 * there is none).  BINARY is the plug-in's name for gimp_ui_init.  FALSE
 * when the user cancelled. */
gboolean gen_gimp3_dialog (GimpProcedure *procedure, GimpProcedureConfig *config,
                           GenPluginJob job, const char *binary, const char *default_dir,
                           GimpDrawable *drawable, int width, int height,
                           double noise_estimate);

G_END_DECLS
