/* gen-gimp3-dialog.c — the procedure dialogs of GIMP 3.0: a GimpProcedureDialog
 * over the procedure's own arguments, laid out by hand in frames (model,
 * sampling, the job's own settings with the seed, output), every label in
 * one size group so that the widgets start at one column, settings the
 * choice ignores greyed out, the model's native size where 0 means it,
 * the time estimate underneath, and for Denoise GIMP's drawable preview
 * of a fast denoise.  Shared widgets come from ui/gen-ui.c. */
#include <libgimp/gimpui.h>
#include <glib/gi18n.h>

#include "gen-gimp3.h"
#include "gen-gimp3-dialog.h"
#include "gen-ui.h"

typedef struct
{
  GimpProcedureDialog *pd;
  GimpProcedureConfig *config;
  GenPluginJob         job;
  const char          *default_dir;
  GtkSizeGroup        *labels;
  /* the noise level: a toggle "Auto (estimated: 12.3)" for -1 and a scale
   * for a level of one's own */
  GtkWidget           *noise_toggle, *noise_level;
  double               noise_estimate;     /* < 0: none */
  GtkWidget           *native_note;        /* generate: what 0 means */
  int                  native;             /* of the chosen model; ≤ 0 unknown */
  GenUiEstimate       *estimate;
  int                  width, height;      /* the region the job works on */
  GtkWidget           *preview;            /* denoise: GimpDrawablePreview */
  GtkWidget           *prompt;             /* generate, inpaint, vary: the prompt rows */
  GimpDrawable        *drawable;
} Dialog;

/* ---- what follows the settings ------------------------------------------------ */

/* Greys out what the current choices ignore: the sampling settings in a
 * one-step denoise (and the seed there), the sigma schedule and eta where
 * the scheduler's row says it reads neither, the seed of a VAE round trip
 * that takes the mean. */
static void
update_sensitive (Dialog *d)
{
  GimpProcedureDialog *pd = d->pd;
  gboolean sampling = TRUE, seed = TRUE;
  const GenSamplerInfo *info = NULL;

  if (d->job == GEN_PLUGIN_DENOISE)
    sampling = seed = gimp_procedure_config_get_choice_id (d->config, "mode") != GEN_DENOISE_FAST;
  if (d->job == GEN_PLUGIN_VAE)
    g_object_get (d->config, "sample", &seed, NULL);
  else
    {
      info = gen_sampler_info (gimp_procedure_config_get_choice_id (d->config, "scheduler"));
      gtk_widget_set_sensitive (gimp_procedure_dialog_get_widget (pd, "scheduler", G_TYPE_NONE),
                                sampling);
      gtk_widget_set_sensitive (gimp_procedure_dialog_get_widget (pd, "steps", G_TYPE_NONE),
                                sampling);
      gtk_widget_set_sensitive (gimp_procedure_dialog_get_widget (pd, "sigmas", G_TYPE_NONE),
                                sampling && info && info->uses_sigmas);
      gtk_widget_set_sensitive (gimp_procedure_dialog_get_widget (pd, "eta", G_TYPE_NONE),
                                sampling && info && info->uses_eta);
    }
  gtk_widget_set_sensitive (gimp_procedure_dialog_get_widget (pd, "seed-box", G_TYPE_NONE),
                            seed);
}

static void
update_estimate (Dialog *d)
{
  GenPluginSettings s;

  gen_gimp3_settings_from_config (d->config, d->job, &s);
  gen_ui_estimate_update (d->estimate, &s, d->width, d->height);
  gen_plugin_settings_clear (&s);
}

static void
config_notify (G_GNUC_UNUSED GObject *config, GParamSpec *pspec, Dialog *d)
{
  update_sensitive (d);
  update_estimate (d);
  if (d->preview && !g_str_equal (pspec->name, "seed"))
    gimp_preview_invalidate (GIMP_PREVIEW (d->preview));
}

static void
model_changed (const char *model, const char *vae, int native, gpointer user_data)
{
  Dialog *d = user_data;

  d->native = native;
  gen_ui_native_note (d->native_note, d->native);
  if (d->prompt)
    gen_ui_prompt_update (d->prompt, gimp_procedure_dialog_get_widget (d->pd, "guidance",
                                                                       G_TYPE_NONE), model);
  g_object_set (d->config, "model", model, "vae", vae, NULL);
}

static void
dice_clicked (G_GNUC_UNUSED GtkButton *button, gpointer config)
{
  g_object_set (config, "seed", gen_ui_random_seed (), NULL);
}

/* ---- the preview (denoise) ---------------------------------------------------- */

/* The fast denoise of the preview's visible crop; GIMP shows it through
 * the selection. */
static void
preview_update (GimpPreview *preview, Dialog *d)
{
  int channels = (gimp_drawable_is_gray (d->drawable) ? 1 : 3)
                 + (gimp_drawable_has_alpha (d->drawable) ? 1 : 0);
  GeglBuffer *buffer = gimp_drawable_get_buffer (d->drawable);
  GenPluginSettings s;

  gen_gimp3_settings_from_config (d->config, d->job, &s);
  s.opts.threads = MAX (1, gimp_get_num_processors ());
  gen_ui_preview_denoise (preview, &s, d->default_dir, buffer, channels);
  gen_plugin_settings_clear (&s);
  g_object_unref (buffer);
}

/* ---- the noise level ---------------------------------------------------------- */

/* Shows the config's noise level (also after the dialog's Reset). */
static void
noise_level_show (Dialog *d)
{
  double level;

  g_object_get (d->config, "noise-level", &level, NULL);
  g_signal_handlers_block_matched (d->noise_toggle, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, d);
  g_signal_handlers_block_matched (d->noise_level, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, d);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (d->noise_toggle), level < 0);
  if (level >= 0)
    gimp_label_spin_set_value (GIMP_LABEL_SPIN (d->noise_level), level);
  gtk_widget_set_sensitive (d->noise_level, level >= 0);
  g_signal_handlers_unblock_matched (d->noise_level, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, d);
  g_signal_handlers_unblock_matched (d->noise_toggle, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, d);
}

static void
noise_level_edited (G_GNUC_UNUSED GtkWidget *widget, Dialog *d)
{
  gboolean automatic = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (d->noise_toggle));

  g_object_set (d->config, "noise-level",
                automatic ? -1.0 : gimp_label_spin_get_value (GIMP_LABEL_SPIN (d->noise_level)),
                NULL);
}

static void
noise_level_notify (G_GNUC_UNUSED GObject *config, G_GNUC_UNUSED GParamSpec *pspec, Dialog *d)
{
  noise_level_show (d);
}

/* Adds the noise level's toggle and scale to BOX at POSITION. */
static void
noise_level_add (Dialog *d, GtkWidget *box, int position)
{
  double level;

  g_object_get (d->config, "noise-level", &level, NULL);
  d->noise_toggle = gen_ui_noise_auto_new (d->noise_estimate);
  /* leaving auto starts from the estimate */
  d->noise_level = gimp_scale_entry_new (_("Noise le_vel"), 0.0, 0.0, 255.0, 1);
  gimp_label_spin_set_value (GIMP_LABEL_SPIN (d->noise_level),
                             gen_ui_noise_start (level, d->noise_estimate));
  gimp_help_set_help_data (d->noise_level, _("Noise sigma on the 0..255 scale"), NULL);
  gtk_size_group_add_widget (d->labels, gimp_labeled_get_label (GIMP_LABELED (d->noise_level)));
  gtk_box_pack_start (GTK_BOX (box), d->noise_toggle, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), d->noise_toggle, position);
  gtk_box_pack_start (GTK_BOX (box), d->noise_level, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), d->noise_level, position + 1);
  gtk_widget_show (d->noise_toggle);
  gtk_widget_show (d->noise_level);
  g_signal_connect (d->noise_toggle, "toggled", G_CALLBACK (noise_level_edited), d);
  g_signal_connect (d->noise_level, "value-changed", G_CALLBACK (noise_level_edited), d);
  g_signal_connect (d->config, "notify::noise-level", G_CALLBACK (noise_level_notify), d);
  noise_level_show (d);
}

/* ---- layout ------------------------------------------------------------------- */

/* A frame titled TITLE (its label's ID is ID-title) around PROPERTIES,
 * their labels in the dialog's size group.  ID must not be a property's
 * name: the dialog would pack the property's widget instead. */
static GtkWidget *
frame (Dialog *d, const char *id, const char *title, GList *properties)
{
  char *title_id = g_strconcat (id, "-title", NULL);
  char *box_id = g_strconcat (id, "-box", NULL);
  GtkWidget *box;

  for (GList *p = properties; p; p = p->next)
    {
      GtkWidget *w = gimp_procedure_dialog_get_widget (d->pd, p->data, G_TYPE_NONE);

      if (g_str_equal (p->data, "seed-box"))
        w = gimp_procedure_dialog_get_widget (d->pd, "seed", G_TYPE_NONE);
      if (w && GIMP_IS_LABELED (w))
        gtk_size_group_add_widget (d->labels, gimp_labeled_get_label (GIMP_LABELED (w)));
    }
  gimp_procedure_dialog_get_label (d->pd, title_id, title, FALSE, FALSE);
  box = gimp_procedure_dialog_fill_box_list (d->pd, box_id, properties);
  gtk_box_set_spacing (GTK_BOX (box), 4);
  gimp_procedure_dialog_fill_frame (d->pd, id, title_id, FALSE, box_id);
  g_free (title_id);
  g_free (box_id);
  g_list_free (properties);
  return box;
}

static GList *
names (const char *first, ...)
{
  GList *list = NULL;
  va_list ap;

  va_start (ap, first);
  for (const char *n = first; n; n = va_arg (ap, const char *))
    list = g_list_append (list, (gpointer) n);
  va_end (ap);
  return list;
}

/* A text view over the string property NAME.  Made here rather than by
 * the procedure dialog, which checks a widget's mnemonic as it makes it,
 * before its label (gen_ui_prompt_rows) exists. */
static GtkWidget *
text_view (Dialog *d, const char *name)
{
  GtkTextBuffer *buffer = gimp_prop_text_buffer_new (G_OBJECT (d->config), name, -1);
  GtkWidget *view = gtk_text_view_new_with_buffer (buffer);

  g_object_unref (buffer);
  return view;
}

/* The frame of the prompt, the negative prompt (multi-line) and the
 * guidance. */
static void
prompt_frame (Dialog *d)
{
  GtkWidget *box;

  /* a slider, as in 2.10 */
  gimp_procedure_dialog_get_widget (d->pd, "guidance", GIMP_TYPE_SCALE_ENTRY);
  box = frame (d, "text", _("Prompt"), names ("guidance", NULL));

  d->prompt = gen_ui_grid_new ();
  gen_ui_prompt_rows (d->prompt, 0, d->labels, _("Descri_be"), text_view (d, "prompt"),
                      _("A_void"), text_view (d, "negative-prompt"), 1);
  gtk_box_pack_start (GTK_BOX (box), d->prompt, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), d->prompt, 0);
  gtk_widget_show_all (d->prompt);
}

/* A dim line in the widgets' column of BOX. */
static GtkWidget *
note_add (Dialog *d, GtkWidget *box)
{
  GtkWidget *row = gen_ui_hbox_new (0), *indent = gtk_label_new (NULL);
  GtkWidget *note = gtk_label_new (NULL);

  gtk_size_group_add_widget (d->labels, indent);
  gen_ui_label_align_left (note);
  gtk_widget_set_sensitive (note, FALSE);
  gtk_box_pack_start (GTK_BOX (row), indent, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (row), note, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), row, FALSE, FALSE, 0);
  gtk_widget_show_all (row);
  return note;
}

gboolean
gen_gimp3_dialog (GimpProcedure *procedure, GimpProcedureConfig *config, GenPluginJob job,
                  const char *binary, const char *default_dir, GimpDrawable *drawable,
                  int width, int height, double noise_estimate)
{
  Dialog d = { NULL, config, job, default_dir, NULL, NULL, NULL, noise_estimate, NULL, 0,
               NULL, width, height, NULL, NULL, drawable };
  GtkWidget *dialog, *box, *seed_box, *chooser, *content;
  GList *own = NULL, *frames = NULL;
  char *model = NULL, *vae = NULL;
  gboolean ok;

  gimp_ui_init (binary);
  g_object_get (config, "model", &model, "vae", &vae, NULL);
  /* a string argument a script left unset arrives as NULL, which the
   * dialog's widgets do not take */
  g_object_set (config, "model", model ? model : "", "vae", vae ? vae : "", NULL);
  if (gen_plugin_job_takes_prompt (job))
    {
      char *prompt = NULL, *negative = NULL;

      g_object_get (config, "prompt", &prompt, "negative-prompt", &negative, NULL);
      g_object_set (config, "prompt", prompt ? prompt : "", "negative-prompt",
                    negative ? negative : "", NULL);
      g_free (prompt);
      g_free (negative);
    }
  dialog = gimp_procedure_dialog_new (procedure, config, _(gen_ui_job_titles[job]));
  d.pd = GIMP_PROCEDURE_DIALOG (dialog);
  d.labels = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);
  d.estimate = gen_ui_estimate_new (default_dir);

  if (job == GEN_PLUGIN_DENOISE && drawable)
    {
      d.preview = gimp_procedure_dialog_get_drawable_preview (d.pd, "preview", drawable);
      g_signal_connect (d.preview, "invalidated", G_CALLBACK (preview_update), &d);
      frames = g_list_append (frames, "preview");
    }

  if (gen_plugin_job_takes_prompt (job))
    {
      prompt_frame (&d);
      frames = g_list_append (frames, "text");
    }

  if (job != GEN_PLUGIN_VAE)
    {
      frame (&d, "sampling", _("Sampling"), names ("scheduler", "sigmas", "steps", "eta", NULL));
      frames = g_list_append (frames, "sampling");
    }

  /* the seed, with a die beside it; spin buttons for the huge ranges */
  gimp_procedure_dialog_get_widget (d.pd, "seed", GIMP_TYPE_LABEL_SPIN);
  gimp_procedure_dialog_get_widget (d.pd, "tile-size", GIMP_TYPE_LABEL_SPIN);
  seed_box = gimp_procedure_dialog_fill_box (d.pd, "seed-box", "seed", NULL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (seed_box), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_set_spacing (GTK_BOX (seed_box), 6);
  gtk_box_pack_start (GTK_BOX (seed_box), gen_ui_dice_button_new (G_CALLBACK (dice_clicked),
                                                                  config),
                      FALSE, FALSE, 0);
  gtk_widget_show_all (seed_box);

  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      gimp_procedure_dialog_get_widget (d.pd, "width", GIMP_TYPE_LABEL_SPIN);
      gimp_procedure_dialog_get_widget (d.pd, "height", GIMP_TYPE_LABEL_SPIN);
      own = names ("seed-box", "width", "height", NULL);
      break;
    case GEN_PLUGIN_DENOISE:
      own = names ("mode", "quality", "strength", "seed-box", NULL);
      break;
    case GEN_PLUGIN_INPAINT:
      gimp_procedure_dialog_get_widget (d.pd, "context", GIMP_TYPE_LABEL_SPIN);
      own = names ("seed-box", "resample", "jump", "context", NULL);
      break;
    case GEN_PLUGIN_VARY:
      own = names ("seed-box", "strength", NULL);
      break;
    case GEN_PLUGIN_VAE:
      own = names ("sample", "seed-box", NULL);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      own = names ("seed-box", "frames", NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  box = frame (&d, "job", _(gen_ui_job_frames[job]), own);
  frames = g_list_append (frames, "job");

  if (job == GEN_PLUGIN_DENOISE)
    noise_level_add (&d, box, 1);
  if (job == GEN_PLUGIN_GENERATE)
    d.native_note = note_add (&d, box);

  if (job == GEN_PLUGIN_GENERATE || job == GEN_PLUGIN_INTERPOLATE)
    frame (&d, "output", _("Output"), names ("tile-size", NULL));
  else
    frame (&d, "output", _("Output"), names ("new-layer", "tile-size", NULL));
  frames = g_list_append (frames, "output");

  gimp_procedure_dialog_fill_list (d.pd, frames);
  g_list_free (frames);

  /* the model on top, the estimate underneath: the chooser writes "model"
   * and "vae" (a script's NULL becomes "") and says the native size */
  chooser = gen_ui_model_chooser_new (job, model, vae, default_dir, d.labels, model_changed, &d);
  g_free (model);
  g_free (vae);
  content = gtk_dialog_get_content_area (GTK_DIALOG (dialog));
  gtk_box_pack_start (GTK_BOX (content), chooser, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (content), chooser, 0);
  gtk_box_pack_end (GTK_BOX (content), gen_ui_estimate_label (d.estimate), FALSE, FALSE, 0);
  gtk_widget_show (gen_ui_estimate_label (d.estimate));

  update_sensitive (&d);
  update_estimate (&d);
  g_signal_connect (config, "notify", G_CALLBACK (config_notify), &d);
  ok = gimp_procedure_dialog_run (d.pd);
  g_signal_handlers_disconnect_by_data (config, &d);
  gen_ui_estimate_free (d.estimate);
  g_object_unref (d.labels);
  gtk_widget_destroy (dialog);
  return ok;
}
