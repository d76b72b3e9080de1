/* gen-ui.h — the widgets both dialogs share, in plain GTK that builds
 * against GTK 2 (GIMP 2.10) and GTK 3 (GIMP 3.0): the model chooser with
 * what the chosen model holds, the dice button of the seed, the wording
 * of the noise estimate and of durations, the time estimate before a run
 * (gen-ui-estimate.c).  Each front end binds them to its own
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

/* A short description of what JOB would load for MODEL ("" or NULL: the
 * built-in model of DEFAULT_DIR) with VAE ("" or NULL: none), as Pango
 * markup: model class, parameters and size in MB, native resolution (in
 * *NATIVE, 0 unknown); or, with *OK FALSE, why it cannot be run, in a
 * run's words (gen_plugin_load: the weights are mmapped, so this is
 * cheap).  Caller frees. */
char      *gen_ui_model_describe (GenPluginJob job, const char *model, const char *vae,
                                  const char *default_dir, int *native, gboolean *ok);

/* Called when the user picks another model or VAE; MODEL is "" for the
 * built-in model, VAE "" for none; NATIVE the native resolution of what
 * they make (0 unknown, -1 when they cannot be run). */
typedef void (*GenUiModelChanged) (const char *model, const char *vae, int native,
                                   gpointer user_data);

/* A frame "Model" (gen-ui-model.c): a list of the built-in model and the
 * models found in the models folders (gen-plugin-models.h), greyed out
 * where JOB cannot use them, with "Other folder…"; a VAE list like it;
 * and a line saying what the choice holds (gen_ui_model_describe), kept up
 * to date.  MODEL and VAE are the current values; the row labels join
 * LABELS (may be NULL), the dialog's size group.  Calls CHANGED once now. */
GtkWidget *gen_ui_model_chooser_new (GenPluginJob job, const char *model, const char *vae,
                                     const char *default_dir, GtkSizeGroup *labels,
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

/* The time estimate under a dialog (gen-ui-estimate.c): a label that says
 * "Estimated time: about 40 s" for the settings last given, from one
 * model evaluation timed in a thread whenever the model changes.  Free
 * (which stops a measurement) before the label goes. */
typedef struct _GenUiEstimate GenUiEstimate;

GenUiEstimate *gen_ui_estimate_new (const char *default_dir);
GtkWidget     *gen_ui_estimate_label (GenUiEstimate *e);
/* S's job on WIDTH × HEIGHT pixels (for inpaint the selection's bounds:
 * the context is added here; generate takes S's size, 0 the model's). */
void           gen_ui_estimate_update (GenUiEstimate *e, const GenPluginSettings *s, int width,
                                       int height);
void           gen_ui_estimate_free (GenUiEstimate *e);

/* Draws in PREVIEW (a drawable preview over BUFFER, the drawable's pixels
 * of CHANNELS channels) S's fast denoise of what it shows
 * (gen-ui-preview.c); nothing when the model cannot be loaded. */
void           gen_ui_preview_denoise (GimpPreview *preview, const GenPluginSettings *s,
                                       const char *default_dir, GeglBuffer *buffer,
                                       int channels);

/* Puts "0 = the model's native size, 64 × 64 pixels" (NATIVE ≤ 0: unknown)
 * in LABEL, the note under Width and Height (NULL: none). */
void           gen_ui_native_note (GtkWidget *label, int native);

/* The prompt rows of Generate, Inpaint Selection and Variation
 * (gen-ui-prompt.c), put in GRID (gen_ui_grid_new) from row AT: a dim
 * note for models that take no text, then PROMPT_VIEW and NEGATIVE_VIEW
 * (GtkTextViews, wrapped and scrolled here, 3 and 2 lines high) under the
 * mnemonic labels PROMPT_LABEL and NEGATIVE_LABEL (joining LABELS, may be
 * NULL), spanning SPAN columns.  Returns the next free row: the caller
 * adds the guidance there. */
int        gen_ui_prompt_rows (GtkWidget *grid, int at, GtkSizeGroup *labels,
                               const char *prompt_label, GtkWidget *prompt_view,
                               const char *negative_label, GtkWidget *negative_view, int span);

/* Greys GRID's rows and ALSO (may be NULL), and shows GRID's note,
 * unless MODEL ("" the built-in one) takes text
 * (gen_plugin_model_takes_text): what the run ignores. */
void       gen_ui_prompt_update (GtkWidget *grid, GtkWidget *also, const char *model);

/* The text of the GtkTextView VIEW.  Caller frees. */
char      *gen_ui_text_view_get (GtkWidget *view);

/* "about 40 s", "about 3 min", "less than a second".  Caller frees. */
char      *gen_ui_format_duration (double seconds);

/* GTK 2 / GTK 3 boxes, and a grid of rows (GtkGrid in GTK 3, GtkTable in
 * GTK 2) with its attach. */
GtkWidget *gen_ui_grid_new (void);
void       gen_ui_grid_attach (GtkWidget *grid, GtkWidget *w, int col, int row, int width,
                               gboolean expand);
GtkWidget *gen_ui_hbox_new (int spacing);
GtkWidget *gen_ui_vbox_new (int spacing);
void       gen_ui_label_align_left (GtkWidget *label);

G_END_DECLS
