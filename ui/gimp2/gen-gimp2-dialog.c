/* gen-gimp2-dialog.c — the GTK 2 dialog of a Generative procedure in
 * GIMP 2.10, laid out as the 3.0 one: the model chooser, sampling, the
 * job's own settings with the seed and its dice button, output.  Labels
 * and ranges come from the argument table (plugin/gimp2/generative.c). */
#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gen-gimp2-dialog.h"
#include "gen-ui.h"

typedef struct
{
  GenGimp2Values *v;
  GtkWidget      *sigmas;       /* combo: greyed out where the sampler ignores it */
  GtkObject      *eta;          /* scale entry: the same */
  GtkObject      *seed;
  GtkWidget      *noise_auto;   /* toggle: noise level -1 */
  GtkObject      *noise;        /* scale entry 0..255 */
} Dialog;

/* ---- rows --------------------------------------------------------------------- */

static GtkWidget *
frame_table (GtkWidget *vbox, const char *title)
{
  GtkWidget *frame = gimp_frame_new (title);
  GtkWidget *table = gtk_table_new (1, 3, FALSE);

  gtk_table_set_col_spacings (GTK_TABLE (table), 6);
  gtk_table_set_row_spacings (GTK_TABLE (table), 4);
  gtk_container_add (GTK_CONTAINER (frame), table);
  gtk_box_pack_start (GTK_BOX (vbox), frame, FALSE, FALSE, 0);
  return table;
}

static gpointer
field (const Dialog *d, GenGimp2ArgId id)
{
  return G_STRUCT_MEMBER_P (d->v, gen_gimp2_args[id].offset);
}

static void
combo_append (GtkWidget *combo, int value, const char *label)
{
  gimp_int_combo_box_append (GIMP_INT_COMBO_BOX (combo), GIMP_INT_STORE_VALUE, value,
                             GIMP_INT_STORE_LABEL, _(label), -1);
}

/* A combo of the argument's choices: its "|"-separated labels, or the rows
 * of the core's sampler / sigma schedule table by their stable numbers. */
static GtkWidget *
add_combo (GtkWidget *table, int row, const Dialog *d, GenGimp2ArgId id)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  GtkWidget *combo = g_object_new (GIMP_TYPE_INT_COMBO_BOX, NULL);
  gint32 *value = field (d, id);
  const GenSamplerInfo *sampler;
  const GenSigmaScheduleInfo *sigmas;

  if (a->widget == GEN_GIMP2_WIDGET_SAMPLERS)
    for (int n = 0; (sampler = gen_sampler_info_from_number (n)); n++)
      combo_append (combo, n, sampler->label);
  else if (a->widget == GEN_GIMP2_WIDGET_SIGMAS)
    for (int n = 0; (sigmas = gen_sigma_schedule_info_from_number (n)); n++)
      combo_append (combo, n, sigmas->label);
  else
    {
      char **labels = g_strsplit (a->choices, "|", -1);

      for (int i = 0; labels[i]; i++)
        combo_append (combo, i, labels[i]);
      g_strfreev (labels);
    }
  gimp_int_combo_box_connect (GIMP_INT_COMBO_BOX (combo), *value,
                              G_CALLBACK (gimp_int_combo_box_get_active), value);
  gimp_table_attach_aligned (GTK_TABLE (table), 0, row, _(a->label), 0.0, 0.5, combo, 2, FALSE);
  return combo;
}

/* A slider with a spin button (its range clipped to 0..1000 for ints: the
 * spin button takes the rest). */
static GtkObject *
add_scale (GtkWidget *table, int row, const Dialog *d, GenGimp2ArgId id)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  gboolean real = a->type == GIMP_PDB_FLOAT;
  gpointer value = field (d, id);
  double hi = real ? a->max : MIN (a->max, 1000.0);
  GtkObject *adj;

  adj = gimp_scale_entry_new (GTK_TABLE (table), 0, row, _(a->label), 200, 6,
                              real ? *(double *) value : *(gint32 *) value, a->min, hi,
                              real ? 0.01 : 1, real ? 0.1 : 10, real ? 2 : 0, a->max <= hi,
                              a->min, a->max, _(a->desc), NULL);
  g_signal_connect (adj, "value-changed",
                    G_CALLBACK (real ? gimp_double_adjustment_update : gimp_int_adjustment_update),
                    value);
  return adj;
}

/* A spin button alone, for huge ranges (seed, sizes); EXTRA (may be NULL)
 * goes beside it. */
static GtkObject *
add_spin (GtkWidget *table, int row, const Dialog *d, GenGimp2ArgId id, GtkWidget *extra)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  gint32 *value = field (d, id);
  GtkWidget *hbox = gen_ui_hbox_new (6);
  GtkObject *adj;
  GtkWidget *spin = gimp_spin_button_new (&adj, *value, a->min, a->max, 1, 10, 0, 1, 0);

  gtk_entry_set_width_chars (GTK_ENTRY (spin), 11);
  gimp_help_set_help_data (spin, _(a->desc), NULL);
  g_signal_connect (adj, "value-changed", G_CALLBACK (gimp_int_adjustment_update), value);
  gtk_box_pack_start (GTK_BOX (hbox), spin, FALSE, FALSE, 0);
  if (extra)
    gtk_box_pack_start (GTK_BOX (hbox), extra, FALSE, FALSE, 0);
  gtk_widget_show_all (hbox);
  gtk_label_set_mnemonic_widget (GTK_LABEL (gimp_table_attach_aligned (GTK_TABLE (table), 0, row,
                                                                      _(a->label), 0.0, 0.5,
                                                                      hbox, 2, FALSE)),
                                 spin);
  return adj;
}

static GtkWidget *
add_toggle (GtkWidget *table, int row, const Dialog *d, GenGimp2ArgId id)
{
  gint32 *value = field (d, id);
  GtkWidget *w = gtk_check_button_new_with_mnemonic (_(gen_gimp2_args[id].label));

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (w), *value);
  gimp_help_set_help_data (w, _(gen_gimp2_args[id].desc), NULL);
  g_signal_connect (w, "toggled", G_CALLBACK (gimp_toggle_button_update), value);
  gtk_table_attach (GTK_TABLE (table), w, 0, 3, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
  return w;
}

/* ---- what the rows do --------------------------------------------------------- */

static void
model_changed (const char *model, const char *vae, gpointer user_data)
{
  Dialog *d = user_data;

  g_strlcpy (d->v->model, model, GEN_GIMP2_PATH_MAX);
  g_strlcpy (d->v->vae, vae, GEN_GIMP2_PATH_MAX);
}

/* the sigma schedule and eta where the sampler's row says it reads them */
static void
scheduler_changed (G_GNUC_UNUSED GtkWidget *combo, Dialog *d)
{
  const GenSamplerInfo *sampler = gen_sampler_info_from_number (d->v->scheduler);

  gtk_widget_set_sensitive (d->sigmas, sampler && sampler->uses_sigmas);
  gimp_scale_entry_set_sensitive (d->eta, sampler && sampler->uses_eta);
}

static void
dice_clicked (G_GNUC_UNUSED GtkButton *button, Dialog *d)
{
  gtk_adjustment_set_value (GTK_ADJUSTMENT (d->seed), gen_ui_random_seed ());
}

static void
noise_edited (G_GNUC_UNUSED GtkWidget *widget, Dialog *d)
{
  gboolean automatic = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (d->noise_auto));

  d->v->noise_level = automatic ? -1.0 : gtk_adjustment_get_value (GTK_ADJUSTMENT (d->noise));
  gimp_scale_entry_set_sensitive (d->noise, !automatic);
}

/* "Auto (estimated: 12.3)" for -1, and a slider for a level of one's own
 * that starts from the estimate. */
static int
add_noise_level (GtkWidget *table, int row, Dialog *d, double estimate)
{
  const GenGimp2Arg *a = &gen_gimp2_args[GEN_GIMP2_ARG_NOISE_LEVEL];

  d->noise_auto = gen_ui_noise_auto_new (estimate);
  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (d->noise_auto), d->v->noise_level < 0);
  gtk_table_attach (GTK_TABLE (table), d->noise_auto, 0, 3, row, row + 1, GTK_FILL, GTK_FILL,
                    0, 0);
  d->noise = gimp_scale_entry_new (GTK_TABLE (table), 0, row + 1, _("Noise le_vel:"), 200, 6,
                                   gen_ui_noise_start (d->v->noise_level, estimate), 0.0,
                                   a->max, 0.1, 1.0, 1, TRUE, 0.0, a->max,
                                   _("Noise sigma on the 0..255 scale"), NULL);
  g_signal_connect (d->noise_auto, "toggled", G_CALLBACK (noise_edited), d);
  g_signal_connect (d->noise, "value-changed", G_CALLBACK (noise_edited), d);
  gimp_scale_entry_set_sensitive (d->noise, d->v->noise_level >= 0);
  return row + 2;
}

/* ---- the dialog --------------------------------------------------------------- */

gboolean
gen_gimp2_dialog (const char *proc_name, GenPluginJob job, GenGimp2Values *v,
                  const char *default_dir, double noise_estimate)
{
  GenGimp2Values edited = *v;
  Dialog d = { &edited, NULL, NULL, NULL, NULL, NULL };
  GtkWidget *dialog, *vbox, *table, *combo;
  int row = 0;
  gboolean ok;

  gimp_ui_init (GEN_GIMP2_BINARY, FALSE);
  dialog = gimp_dialog_new (_(gen_ui_job_titles[job]), "generative", NULL, 0,
                            gimp_standard_help_func, proc_name, _("_Cancel"), GTK_RESPONSE_CANCEL, _("_OK"),
                            GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_alternative_button_order (GTK_DIALOG (dialog), GTK_RESPONSE_OK,
                                           GTK_RESPONSE_CANCEL, -1);
  gimp_window_set_transient (GTK_WINDOW (dialog));

  vbox = gen_ui_vbox_new (12);
  gtk_container_set_border_width (GTK_CONTAINER (vbox), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), vbox,
                      TRUE, TRUE, 0);

  gtk_box_pack_start (GTK_BOX (vbox),
                      gen_ui_model_chooser_new (edited.model, edited.vae, default_dir,
                                                model_changed, &d),
                      FALSE, FALSE, 0);

  if (job != GEN_PLUGIN_VAE)
    {
      table = frame_table (vbox, _("Sampling"));
      combo = add_combo (table, 0, &d, GEN_GIMP2_ARG_SCHEDULER);
      d.sigmas = add_combo (table, 1, &d, GEN_GIMP2_ARG_SIGMAS);
      add_scale (table, 2, &d, GEN_GIMP2_ARG_STEPS);
      d.eta = add_scale (table, 3, &d, GEN_GIMP2_ARG_ETA);
      g_signal_connect_after (combo, "changed", G_CALLBACK (scheduler_changed), &d);
      scheduler_changed (combo, &d);
    }

  table = frame_table (vbox, _(gen_ui_job_frames[job]));
  d.seed = add_spin (table, row++, &d, GEN_GIMP2_ARG_SEED,
                     gen_ui_dice_button_new (G_CALLBACK (dice_clicked), &d));
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      add_spin (table, row++, &d, GEN_GIMP2_ARG_WIDTH, NULL);
      add_spin (table, row++, &d, GEN_GIMP2_ARG_HEIGHT, NULL);
      break;
    case GEN_PLUGIN_DENOISE:
      add_combo (table, row++, &d, GEN_GIMP2_ARG_MODE);
      gimp_help_set_help_data (add_combo (table, row++, &d, GEN_GIMP2_ARG_QUALITY),
                               _(gen_gimp2_args[GEN_GIMP2_ARG_QUALITY].desc), NULL);
      row = add_noise_level (table, row, &d, noise_estimate);
      add_scale (table, row++, &d, GEN_GIMP2_ARG_STRENGTH);
      break;
    case GEN_PLUGIN_INPAINT:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_JUMP);
      add_scale (table, row++, &d, GEN_GIMP2_ARG_RESAMPLE);
      break;
    case GEN_PLUGIN_VARY:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_STRENGTH);
      break;
    case GEN_PLUGIN_VAE:
      add_toggle (table, row++, &d, GEN_GIMP2_ARG_SAMPLE);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_FRAMES);
      break;
    default:
      g_assert_not_reached ();
    }

  table = frame_table (vbox, _("Output"));
  row = 0;
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    add_toggle (table, row++, &d, GEN_GIMP2_ARG_NEW_LAYER);
  add_spin (table, row++, &d, GEN_GIMP2_ARG_TILE, NULL);

  gtk_widget_show_all (dialog);
  ok = gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK;
  if (ok)
    *v = edited;
  gtk_widget_destroy (dialog);
  return ok;
}
