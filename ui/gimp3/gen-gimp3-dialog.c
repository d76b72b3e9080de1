/* gen-gimp3-dialog.c — the procedure dialogs of GIMP 3.0: a GimpProcedureDialog
 * over the procedure's own arguments, laid out by hand in frames (model,
 * sampling, seed, the job's own settings, output), with the model chooser,
 * the dice button and the noise estimate of ui/gen-ui.c. */
#include <libgimp/gimpui.h>
#include <glib/gi18n.h>

#include "gen-gimp3-dialog.h"
#include "gen-ui.h"

/* The noise level: a toggle "Auto (estimated: 12.3)" for -1, the value
 * the estimate in GIMP, and a scale for a level of one's own. */
typedef struct
{
  GimpProcedureConfig *config;
  GtkWidget           *toggle;
  GtkWidget           *level;    /* GimpScaleEntry, 0..255 */
  double               estimate; /* < 0: none */
} NoiseLevel;

static void
model_changed (const char *model, const char *vae, gpointer user_data)
{
  g_object_set (user_data, "model", model, "vae", vae, NULL);
}

static void
dice_clicked (G_GNUC_UNUSED GtkButton *button, gpointer config)
{
  g_object_set (config, "seed", gen_ui_random_seed (), NULL);
}

/* Shows the config's noise level (also after the dialog's Reset). */
static void
noise_level_show (NoiseLevel *nl)
{
  double level;

  g_object_get (nl->config, "noise-level", &level, NULL);
  g_signal_handlers_block_matched (nl->toggle, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, nl);
  g_signal_handlers_block_matched (nl->level, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, nl);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (nl->toggle), level < 0);
  if (level >= 0)
    gimp_label_spin_set_value (GIMP_LABEL_SPIN (nl->level), level);
  gtk_widget_set_sensitive (nl->level, level >= 0);
  g_signal_handlers_unblock_matched (nl->level, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, nl);
  g_signal_handlers_unblock_matched (nl->toggle, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, nl);
}

static void
noise_level_edited (G_GNUC_UNUSED GtkWidget *widget, NoiseLevel *nl)
{
  gboolean automatic = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (nl->toggle));

  g_object_set (nl->config, "noise-level",
                automatic ? -1.0 : gimp_label_spin_get_value (GIMP_LABEL_SPIN (nl->level)), NULL);
}

static void
noise_level_notify (G_GNUC_UNUSED GObject *config, G_GNUC_UNUSED GParamSpec *pspec,
                    NoiseLevel *nl)
{
  noise_level_show (nl);
}

/* Adds the noise level's toggle and scale to BOX at POSITION. */
static void
noise_level_add (NoiseLevel *nl, GtkWidget *box, int position)
{
  double level;

  g_object_get (nl->config, "noise-level", &level, NULL);
  nl->toggle = gen_ui_noise_auto_new (nl->estimate);
  /* leaving auto starts from the estimate */
  nl->level = gimp_scale_entry_new (_("Noise le_vel"), 0.0, 0.0, 255.0, 1);
  gimp_label_spin_set_value (GIMP_LABEL_SPIN (nl->level),
                             gen_ui_noise_start (level, nl->estimate));
  gimp_help_set_help_data (nl->level, _("Noise sigma on the 0..255 scale"), NULL);
  gtk_box_pack_start (GTK_BOX (box), nl->toggle, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), nl->toggle, position);
  gtk_box_pack_start (GTK_BOX (box), nl->level, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), nl->level, position + 1);
  gtk_widget_show (nl->toggle);
  gtk_widget_show (nl->level);
  g_signal_connect (nl->toggle, "toggled", G_CALLBACK (noise_level_edited), nl);
  g_signal_connect (nl->level, "value-changed", G_CALLBACK (noise_level_edited), nl);
  g_signal_connect (nl->config, "notify::noise-level", G_CALLBACK (noise_level_notify), nl);
  noise_level_show (nl);
}

/* Makes PROPERTY sensitive only while the scheduler's row in the core's
 * sampler table has its gboolean at USES (an offset in GenSamplerInfo) set. */
static void
sensitive_for_samplers (GimpProcedureDialog *dialog, const char *property, gsize uses)
{
  GimpValueArray *values = gimp_value_array_new (4);

  for (int i = 0; i < gen_sampler_info_count (); i++)
    {
      const GenSamplerInfo *info = gen_sampler_info (i);
      GValue v = G_VALUE_INIT;

      if (!G_STRUCT_MEMBER (gboolean, info, uses))
        continue;
      g_value_init (&v, G_TYPE_STRING);
      g_value_set_string (&v, info->name);
      gimp_value_array_append (values, &v);
      g_value_unset (&v);
    }
  gimp_procedure_dialog_set_sensitive_if_in (dialog, property, NULL, "scheduler", values, TRUE);
}

/* A frame titled TITLE (its label's ID is ID-title) around PROPERTIES. */
static GtkWidget *
frame (GimpProcedureDialog *dialog, const char *id, const char *title, GList *properties)
{
  char *title_id = g_strconcat (id, "-title", NULL);
  char *box_id = g_strconcat (id, "-box", NULL);
  GtkWidget *box;

  gimp_procedure_dialog_get_label (dialog, title_id, title, FALSE, FALSE);
  box = gimp_procedure_dialog_fill_box_list (dialog, box_id, properties);
  gtk_box_set_spacing (GTK_BOX (box), 4);
  gimp_procedure_dialog_fill_frame (dialog, id, title_id, FALSE, box_id);
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

gboolean
gen_gimp3_dialog (GimpProcedure *procedure, GimpProcedureConfig *config, GenPluginJob job,
                  const char *binary, const char *default_dir, double noise_estimate)
{
  GimpProcedureDialog *pd;
  GtkWidget *dialog, *box, *seed_box, *chooser;
  NoiseLevel nl = { config, NULL, NULL, noise_estimate };
  GList *own = NULL, *frames = NULL;
  char *model = NULL, *vae = NULL;
  gboolean ok;

  gimp_ui_init (binary);
  g_object_get (config, "model", &model, "vae", &vae, NULL);
  /* a string argument a script left unset arrives as NULL, which the
   * dialog's widgets do not take */
  g_object_set (config, "model", model ? model : "", "vae", vae ? vae : "", NULL);
  dialog = gimp_procedure_dialog_new (procedure, config, _(gen_ui_job_titles[job]));
  pd = GIMP_PROCEDURE_DIALOG (dialog);

  /* the model: the chooser writes "model" and "vae" (a script's NULL
   * becomes ""); packed above the rest once that is filled in */
  chooser = gen_ui_model_chooser_new (model, vae, default_dir, model_changed, config);
  g_free (model);
  g_free (vae);

  if (job != GEN_PLUGIN_VAE)
    {
      frame (pd, "sampling", _("Sampling"), names ("scheduler", "sigmas", "steps", "eta", NULL));
      sensitive_for_samplers (pd, "sigmas", G_STRUCT_OFFSET (GenSamplerInfo, uses_sigmas));
      sensitive_for_samplers (pd, "eta", G_STRUCT_OFFSET (GenSamplerInfo, uses_eta));
      frames = g_list_append (frames, "sampling");
    }

  /* the seed, with a die beside it; spin buttons for the huge ranges */
  gimp_procedure_dialog_get_widget (pd, "seed", GIMP_TYPE_LABEL_SPIN);
  gimp_procedure_dialog_get_widget (pd, "tile-size", GIMP_TYPE_LABEL_SPIN);
  seed_box = gimp_procedure_dialog_fill_box (pd, "seed-box", "seed", NULL);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (seed_box), GTK_ORIENTATION_HORIZONTAL);
  gtk_box_set_spacing (GTK_BOX (seed_box), 6);
  gtk_box_pack_start (GTK_BOX (seed_box), gen_ui_dice_button_new (G_CALLBACK (dice_clicked),
                                                                  config),
                      FALSE, FALSE, 0);
  gtk_widget_show_all (seed_box);

  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      gimp_procedure_dialog_get_widget (pd, "width", GIMP_TYPE_LABEL_SPIN);
      gimp_procedure_dialog_get_widget (pd, "height", GIMP_TYPE_LABEL_SPIN);
      own = names ("seed-box", "width", "height", NULL);
      break;
    case GEN_PLUGIN_DENOISE:
      own = names ("seed-box", "mode", "quality", "strength", NULL);
      break;
    case GEN_PLUGIN_INPAINT:
      own = names ("seed-box", "jump", "resample", NULL);
      break;
    case GEN_PLUGIN_VARY:
      own = names ("seed-box", "strength", NULL);
      break;
    case GEN_PLUGIN_VAE:
      own = names ("seed-box", "sample", NULL);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      own = names ("seed-box", "frames", NULL);
      break;
    default:
      g_assert_not_reached ();
    }
  box = frame (pd, "job", _(gen_ui_job_frames[job]), own);
  frames = g_list_append (frames, "job");

  if (job == GEN_PLUGIN_DENOISE)
    noise_level_add (&nl, box, 2);

  if (job == GEN_PLUGIN_GENERATE || job == GEN_PLUGIN_INTERPOLATE)
    frame (pd, "output", _("Output"), names ("tile-size", NULL));
  else
    frame (pd, "output", _("Output"), names ("new-layer", "tile-size", NULL));
  frames = g_list_append (frames, "output");

  gimp_procedure_dialog_fill_list (pd, frames);
  g_list_free (frames);
  box = gtk_dialog_get_content_area (GTK_DIALOG (dialog));
  gtk_box_pack_start (GTK_BOX (box), chooser, FALSE, FALSE, 0);
  gtk_box_reorder_child (GTK_BOX (box), chooser, 0);
  ok = gimp_procedure_dialog_run (pd);
  if (job == GEN_PLUGIN_DENOISE)
    g_signal_handlers_disconnect_by_func (config, noise_level_notify, &nl);
  gtk_widget_destroy (dialog);
  return ok;
}
