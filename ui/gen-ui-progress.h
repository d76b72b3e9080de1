/* gen-ui-progress.h — an interactive run's progress window: the job runs
 * in a thread while a small dialog shows its steps and the time left, and
 * Cancel sets the core's cancel flag, which the job reads between model
 * evaluations and tiles: it stops within a second and the plug-in returns
 * with the image untouched.  (GIMP's own progress cancel kills the
 * plug-in's process, which leaves the image untouched too, but only this
 * one lets the plug-in end cleanly.)  GTK 2 and 3. */
#pragma once

#include "gen-plugin-run.h"

G_BEGIN_DECLS

/* A GenPluginRunner: runs JOB (DATA) in a thread behind a window titled
 * TITLE with a progress bar and Cancel, setting OPTS->progress and
 * OPTS->cancel.  Cancelled: FALSE with GEN_ERROR_CANCELLED. */
gboolean gen_ui_run_job (GenPluginJobFunc job, gpointer data, GenJobOptions *opts,
                         const char *title, GError **error);

G_END_DECLS
