/* gen-gimp3.h — the GIMP 3.0 front end: registration and main
 * (generative.c), running a job (gen-gimp3-run.c); the dialog is
 * ui/gimp3/gen-gimp3-dialog.c. */
#pragma once

#include <libgimp/gimp.h>

#include "gen-plugin-settings.h"

G_BEGIN_DECLS

#define GEN_GIMP3_BINARY "generative"

/* The run function of every procedure; RUN_DATA is the GenPluginJob. */
GimpValueArray *gen_gimp3_run (GimpProcedure        *procedure,
                               GimpRunMode           run_mode,
                               GimpImage            *image,
                               GimpDrawable        **drawables,
                               GimpProcedureConfig  *config,
                               gpointer              run_data);

/* The settings of JOB's run from CONFIG, its procedure's arguments (also
 * for the dialog's estimate and preview).  Clear with
 * gen_plugin_settings_clear. */
void gen_gimp3_settings_from_config (GimpProcedureConfig *config, GenPluginJob job,
                                     GenPluginSettings *s);

G_END_DECLS
