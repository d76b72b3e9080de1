/* gen-ui.h — the widgets both dialogs share, in plain GTK that builds
 * against GTK 2 (GIMP 2.10) and GTK 3 (GIMP 3.0): the model chooser with
 * what the chosen folder holds, the dice button of the seed, and the
 * wording of the noise estimate.  Each front end binds them to its own
 * store of values (GimpProcedureConfig in 3.0, a plain struct in 2.10). */
#pragma once

#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gen-plugin-settings.h"

G_BEGIN_DECLS

/* Each job's dialog title, and the title of the frame of its own settings
 * (N_() strings: show them with _()). */
extern const char *const gen_ui_job_titles[GEN_PLUGIN_N_JOBS];
extern const char *const gen_ui_job_frames[GEN_PLUGIN_N_JOBS];

/* A short description of the pipeline in MODEL ("" or NULL: DEFAULT_DIR,
 * the built-in model) with VAE ("" or NULL: none), as Pango markup: model
 * class, parameters and size in MB, native resolution; or, with *OK set to
 * FALSE, why the folder is not a model Generative can run.  Loads the
 * folder with gen_pipeline_load (weights are mmapped, so this is cheap).
 * Caller frees. */
char      *gen_ui_model_describe (const char *model, const char *vae, const char *default_dir,
                                  gboolean *ok);

/* Called when the user picks another model or VAE folder; MODEL is "" for
 * the built-in model, VAE "" for none. */
typedef void (*GenUiModelChanged) (const char *model, const char *vae, gpointer user_data);

/* A frame "Model": the built-in model or a diffusers folder, an optional
 * VAE folder, and a line saying what they hold (gen_ui_model_describe),
 * kept up to date.  MODEL and VAE are the current values. */
GtkWidget *gen_ui_model_chooser_new (const char *model, const char *vae, const char *default_dir,
                                     GenUiModelChanged changed, gpointer user_data);

/* A button with a die on it that calls CLICKED (a GtkButton "clicked"
 * handler) with USER_DATA: put gen_ui_random_seed () in the seed there. */
GtkWidget *gen_ui_dice_button_new (GCallback clicked, gpointer user_data);
int        gen_ui_random_seed (void);

/* The "estimate the noise level" toggle (noise level -1), its label
 * showing the estimate of the layer (ESTIMATE < 0: none, e.g. no single
 * layer). */
GtkWidget *gen_ui_noise_auto_new (double estimate);

/* Where the slider of a noise level of one's own starts: LEVEL when it is
 * one (≥ 0), else the estimate to 0.1, else 25. */
double     gen_ui_noise_start (double level, double estimate);

/* GTK 2 / GTK 3 boxes. */
GtkWidget *gen_ui_hbox_new (int spacing);
GtkWidget *gen_ui_vbox_new (int spacing);
void       gen_ui_label_align_left (GtkWidget *label);

G_END_DECLS
