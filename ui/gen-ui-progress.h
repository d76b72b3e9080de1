/* gen-ui-progress.h — an interactive run's progress window: the job runs
 * in a thread while a small dialog shows its steps, the time left and, for
 * the jobs that sample (generate, inpaint, vary), the core's picture of the
 * current x0 estimate; Cancel sets the core's cancel flag, which the job
 * reads between model evaluations and tiles and its forward passes at
 * every allocation: it stops within a second and the plug-in returns with
 * the image untouched (the picture lives in the window, never the image).  (GIMP's own progress cancel kills the
 * plug-in's process, which leaves the image untouched too, but only this
 * one lets the plug-in end cleanly.)  GTK 2 and 3. */
#pragma once

#include "gen-plugin-run.h"

G_BEGIN_DECLS

/* A GenPluginRunner: runs JOB (DATA) in a thread behind a window titled
 * TITLE with a progress bar, a preview and Cancel, setting OPTS->progress,
 * OPTS->preview and OPTS->cancel.  Cancelled: FALSE with GEN_ERROR_CANCELLED. */
gboolean gen_ui_run_job (GenPluginJobFunc job, gpointer data, GenJobOptions *opts,
                         const char *title, GError **error);

G_END_DECLS
