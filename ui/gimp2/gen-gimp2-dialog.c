/* gen-gimp2-dialog.c — the GTK 2 dialog of a Generative procedure in
 * GIMP 2.10, laid out as the 3.0 one: the model chooser, sampling, the
 * job's own settings with the seed and its dice button, output, the time
 * estimate; every label in one size group, settings the choice ignores
 * greyed out, Denoise with GIMP's drawable preview.  Labels and ranges
 * come from the argument table (plugin/gimp2/generative.c). */
#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gen-gimp2-dialog.h"
#include "gen-ui.h"

typedef struct
{
  GenGimp2Values *v;
  GenPluginJob    job;
  const char     *default_dir;
  GtkSizeGroup   *labels;
  GtkWidget      *scheduler, *sigmas;   /* combos */
  GtkObject      *steps, *eta;          /* scale entries */
  GtkObject      *seed;
  GtkWidget      *seed_row[2];          /* its label and spin box */
  GtkWidget      *noise_auto;           /* toggle: noise level -1 */
  GtkObject      *noise;                /* scale entry 0..255 */
  GtkWidget      *native_note;          /* generate: what 0 means */
  int             native;
  GenUiEstimate  *estimate;
  int             width, height;        /* the region the job works on */
  GtkWidget      *preview;              /* denoise: GimpDrawablePreview */
  gint32          drawable;
  GtkWidget      *prompt;               /* generate, inpaint, vary: the prompt's table */
} Dialog;

static void values_changed (Dialog *d);

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

/* The label gimp_table_attach_aligned made, in the size group. */
static GtkWidget *
attach (GtkWidget *table, int row, const Dialog *d, const char *text, GtkWidget *widget)
{
  GtkWidget *label = gimp_table_attach_aligned (GTK_TABLE (table), 0, row, text, 0.0, 0.5,
                                                widget, 2, FALSE);

  gtk_size_group_add_widget (d->labels, label);
  return label;
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
add_combo (GtkWidget *table, int row, Dialog *d, GenGimp2ArgId id)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  GtkWidget *combo = g_object_new (GIMP_TYPE_INT_COMBO_BOX, NULL);
  gint32 *value = field (d, id);
  const GenSamplerInfo *sampler;
  const GenSigmaScheduleInfo *sigmas;
  char *users, *tip;

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
  users = gen_plugin_sigma_samplers (TRUE);
  tip = a->widget == GEN_GIMP2_WIDGET_SIGMAS ? g_strdup_printf (_(a->desc), users)
                                             : g_strdup (_(a->desc));
  gimp_help_set_help_data (combo, tip, NULL);
  g_free (tip);
  g_free (users);
  attach (table, row, d, _(a->label), combo);
  g_signal_connect_data (combo, "changed", G_CALLBACK (values_changed), d, NULL,
                         G_CONNECT_AFTER | G_CONNECT_SWAPPED);
  return combo;
}

/* A slider with a spin button (its range clipped to 0..1000 for ints: the
 * spin button takes the rest). */
static GtkObject *
add_scale (GtkWidget *table, int row, Dialog *d, GenGimp2ArgId id)
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
  gtk_size_group_add_widget (d->labels, GIMP_SCALE_ENTRY_LABEL (adj));
  g_signal_connect (adj, "value-changed",
                    G_CALLBACK (real ? gimp_double_adjustment_update : gimp_int_adjustment_update),
                    value);
  g_signal_connect_data (adj, "value-changed", G_CALLBACK (values_changed), d, NULL,
                         G_CONNECT_AFTER | G_CONNECT_SWAPPED);
  return adj;
}

/* A spin button alone, for huge ranges (seed, sizes); EXTRA (may be NULL)
 * goes beside it; ROW (may be NULL) gets the label and the box. */
static GtkObject *
add_spin (GtkWidget *table, int row, Dialog *d, GenGimp2ArgId id, GtkWidget *extra,
          GtkWidget **widgets)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  gint32 *value = field (d, id);
  GtkWidget *hbox = gen_ui_hbox_new (6), *label;
  GtkObject *adj;
  GtkWidget *spin = gimp_spin_button_new (&adj, *value, a->min, a->max, 1, 10, 0, 1, 0);

  gtk_entry_set_width_chars (GTK_ENTRY (spin), 11);
  gimp_help_set_help_data (spin, _(a->desc), NULL);
  g_signal_connect (adj, "value-changed", G_CALLBACK (gimp_int_adjustment_update), value);
  g_signal_connect_data (adj, "value-changed", G_CALLBACK (values_changed), d, NULL,
                         G_CONNECT_AFTER | G_CONNECT_SWAPPED);
  gtk_box_pack_start (GTK_BOX (hbox), spin, FALSE, FALSE, 0);
  if (extra)
    gtk_box_pack_start (GTK_BOX (hbox), extra, FALSE, FALSE, 0);
  gtk_widget_show_all (hbox);
  label = attach (table, row, d, _(a->label), hbox);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), spin);
  if (widgets)
    {
      widgets[0] = label;
      widgets[1] = hbox;
    }
  return adj;
}

static GtkWidget *
add_toggle (GtkWidget *table, int row, Dialog *d, GenGimp2ArgId id)
{
  gint32 *value = field (d, id);
  GtkWidget *w = gtk_check_button_new_with_mnemonic (_(gen_gimp2_args[id].label));

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (w), *value);
  gimp_help_set_help_data (w, _(gen_gimp2_args[id].desc), NULL);
  g_signal_connect (w, "toggled", G_CALLBACK (gimp_toggle_button_update), value);
  g_signal_connect_data (w, "toggled", G_CALLBACK (values_changed), d, NULL,
                         G_CONNECT_AFTER | G_CONNECT_SWAPPED);
  gtk_table_attach (GTK_TABLE (table), w, 0, 3, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
  return w;
}

/* A dim line in the widgets' column of TABLE. */
static GtkWidget *
add_note (GtkWidget *table, int row)
{
  GtkWidget *note = gtk_label_new (NULL);

  gen_ui_label_align_left (note);
  gtk_widget_set_sensitive (note, FALSE);
  gtk_table_attach (GTK_TABLE (table), note, 1, 3, row, row + 1, GTK_FILL, GTK_FILL, 0, 0);
  return note;
}

/* ---- what the rows do --------------------------------------------------------- */

/* Greys out what the current choices ignore (as the 3.0 dialog does). */
static void
update_sensitive (Dialog *d)
{
  const GenSamplerInfo *sampler = gen_sampler_info_from_number (d->v->scheduler);
  gboolean sampling = d->job != GEN_PLUGIN_DENOISE || d->v->mode != GEN_DENOISE_FAST;
  gboolean seed = d->job == GEN_PLUGIN_VAE ? d->v->sample : sampling;

  if (d->scheduler)
    {
      gtk_widget_set_sensitive (d->scheduler, sampling);
      gimp_scale_entry_set_sensitive (d->steps, sampling);
      gtk_widget_set_sensitive (d->sigmas, sampling && sampler && sampler->uses_sigmas);
      gimp_scale_entry_set_sensitive (d->eta, sampling && sampler && sampler->uses_eta);
    }
  gtk_widget_set_sensitive (d->seed_row[0], seed);
  gtk_widget_set_sensitive (d->seed_row[1], seed);
}

/* After every edit: what is greyed out, the estimate, the preview. */
static void
values_changed (Dialog *d)
{
  GenPluginSettings s;

  if (!d->estimate)
    return;   /* still building the dialog, or closing it */
  update_sensitive (d);
  gen_gimp2_settings_from_values (d->v, d->job, &s);
  gen_ui_estimate_update (d->estimate, &s, d->width, d->height);
  gen_plugin_settings_clear (&s);
  if (d->preview)
    gimp_preview_invalidate (GIMP_PREVIEW (d->preview));
}

static void
model_changed (const char *model, const char *vae, int native, gpointer user_data)
{
  Dialog *d = user_data;

  g_strlcpy (d->v->model, model, GEN_GIMP2_PATH_MAX);
  g_strlcpy (d->v->vae, vae, GEN_GIMP2_PATH_MAX);
  d->native = native;
  gen_ui_native_note (d->native_note, d->native);
  if (d->prompt)
    gen_ui_prompt_update (d->prompt, NULL, model);
  values_changed (d);
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
  values_changed (d);
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
  gtk_size_group_add_widget (d->labels, GIMP_SCALE_ENTRY_LABEL (d->noise));
  g_signal_connect (d->noise_auto, "toggled", G_CALLBACK (noise_edited), d);
  g_signal_connect (d->noise, "value-changed", G_CALLBACK (noise_edited), d);
  gimp_scale_entry_set_sensitive (d->noise, d->v->noise_level >= 0);
  return row + 2;
}

/* The fast denoise of the preview's visible crop; GIMP shows it through
 * the selection. */
static void
preview_update (GimpPreview *preview, Dialog *d)
{
  int channels = gimp_drawable_bpp (d->drawable);
  GeglBuffer *buffer = gimp_drawable_get_buffer (d->drawable);
  GenPluginSettings s;

  gen_gimp2_settings_from_values (d->v, d->job, &s);
  gen_ui_preview_denoise (preview, &s, d->default_dir, buffer, channels);
  gen_plugin_settings_clear (&s);
  g_object_unref (buffer);
}

/* Keeps the text of VIEW's buffer in the argument's field (the text that
 * fits: a PDB call refuses longer). */
static void
text_changed (GtkTextBuffer *buffer, GtkWidget *view)
{
  char *text = gen_ui_text_view_get (view);
  char *field = g_object_get_data (G_OBJECT (buffer), "gen-field");

  g_strlcpy (field, text, GEN_GIMP2_PATH_MAX);
  g_free (text);
}

/* A multi-line text view over the string argument ID. */
static GtkWidget *
text_view (Dialog *d, GenGimp2ArgId id)
{
  GtkWidget *view = gtk_text_view_new ();
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));

  gtk_text_buffer_set_text (buffer, field (d, id), -1);
  g_object_set_data (G_OBJECT (buffer), "gen-field", field (d, id));
  g_signal_connect (buffer, "changed", G_CALLBACK (text_changed), view);
  return view;
}

/* The frame of the prompt, the negative prompt and the guidance. */
static void
add_prompt (GtkWidget *vbox, Dialog *d)
{
  int row;

  d->prompt = frame_table (vbox, _("Prompt"));
  row = gen_ui_prompt_rows (d->prompt, 0, d->labels,
                            _(gen_gimp2_args[GEN_GIMP2_ARG_PROMPT].label),
                            text_view (d, GEN_GIMP2_ARG_PROMPT),
                            _(gen_gimp2_args[GEN_GIMP2_ARG_NEGATIVE].label),
                            text_view (d, GEN_GIMP2_ARG_NEGATIVE), 2);
  add_scale (d->prompt, row, d, GEN_GIMP2_ARG_GUIDANCE);
}

/* ---- the dialog --------------------------------------------------------------- */

gboolean
gen_gimp2_dialog (const char *proc_name, GenPluginJob job, GenGimp2Values *v,
                  const char *default_dir, gint32 drawable, int width, int height,
                  double noise_estimate)
{
  GenGimp2Values edited = *v;
  Dialog d = { .v = &edited, .job = job, .default_dir = default_dir };
  GtkWidget *dialog, *vbox, *table;
  int row = 0;
  gboolean ok;

  d.width = width;
  d.height = height;
  d.drawable = drawable;
  gimp_ui_init (GEN_GIMP2_BINARY, FALSE);
  dialog = gimp_dialog_new (_(gen_ui_job_titles[job]), "generative", NULL, 0,
                            gimp_standard_help_func, proc_name, _("_Cancel"), GTK_RESPONSE_CANCEL, _("_OK"),
                            GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_alternative_button_order (GTK_DIALOG (dialog), GTK_RESPONSE_OK,
                                           GTK_RESPONSE_CANCEL, -1);
  gimp_window_set_transient (GTK_WINDOW (dialog));
  d.labels = gtk_size_group_new (GTK_SIZE_GROUP_HORIZONTAL);

  vbox = gen_ui_vbox_new (12);
  gtk_container_set_border_width (GTK_CONTAINER (vbox), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), vbox,
                      TRUE, TRUE, 0);

  if (job == GEN_PLUGIN_DENOISE && drawable > 0)
    {
      d.preview = gimp_drawable_preview_new_from_drawable_id (drawable);
      gtk_box_pack_start (GTK_BOX (vbox), d.preview, TRUE, TRUE, 0);
      g_signal_connect (d.preview, "invalidated", G_CALLBACK (preview_update), &d);
    }

  gtk_box_pack_start (GTK_BOX (vbox),
                      gen_ui_model_chooser_new (job, edited.model, edited.vae, default_dir,
                                                d.labels, model_changed, &d),
                      FALSE, FALSE, 0);

  if (gen_plugin_job_takes_prompt (job))
    add_prompt (vbox, &d);

  if (job != GEN_PLUGIN_VAE)
    {
      table = frame_table (vbox, _("Sampling"));
      d.scheduler = add_combo (table, 0, &d, GEN_GIMP2_ARG_SCHEDULER);
      d.sigmas = add_combo (table, 1, &d, GEN_GIMP2_ARG_SIGMAS);
      d.steps = add_scale (table, 2, &d, GEN_GIMP2_ARG_STEPS);
      d.eta = add_scale (table, 3, &d, GEN_GIMP2_ARG_ETA);
    }

  table = frame_table (vbox, _(gen_ui_job_frames[job]));
  switch (job)
    {
    case GEN_PLUGIN_DENOISE:
      add_combo (table, row++, &d, GEN_GIMP2_ARG_MODE);
      gimp_help_set_help_data (add_combo (table, row++, &d, GEN_GIMP2_ARG_QUALITY),
                               _(gen_gimp2_args[GEN_GIMP2_ARG_QUALITY].desc), NULL);
      row = add_noise_level (table, row, &d, noise_estimate);
      add_scale (table, row++, &d, GEN_GIMP2_ARG_STRENGTH);
      break;
    case GEN_PLUGIN_VAE:
      add_toggle (table, row++, &d, GEN_GIMP2_ARG_SAMPLE);
      break;
    default:
      break;
    }
  d.seed = add_spin (table, row++, &d, GEN_GIMP2_ARG_SEED,
                     gen_ui_dice_button_new (G_CALLBACK (dice_clicked), &d), d.seed_row);
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      add_spin (table, row++, &d, GEN_GIMP2_ARG_WIDTH, NULL, NULL);
      add_spin (table, row++, &d, GEN_GIMP2_ARG_HEIGHT, NULL, NULL);
      d.native_note = add_note (table, row++);
      gen_ui_native_note (d.native_note, d.native);
      break;
    case GEN_PLUGIN_INPAINT:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_RESAMPLE);
      add_scale (table, row++, &d, GEN_GIMP2_ARG_JUMP);
      add_scale (table, row++, &d, GEN_GIMP2_ARG_CONTEXT);
      break;
    case GEN_PLUGIN_VARY:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_STRENGTH);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      add_scale (table, row++, &d, GEN_GIMP2_ARG_FRAMES);
      break;
    default:
      break;
    }

  table = frame_table (vbox, _("Output"));
  row = 0;
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    add_toggle (table, row++, &d, GEN_GIMP2_ARG_NEW_LAYER);
  add_spin (table, row++, &d, GEN_GIMP2_ARG_TILE, NULL, NULL);

  d.estimate = gen_ui_estimate_new (default_dir);
  gtk_box_pack_start (GTK_BOX (vbox), gen_ui_estimate_label (d.estimate), FALSE, FALSE, 0);

  gtk_widget_show_all (dialog);
  if (d.prompt)
    gen_ui_prompt_update (d.prompt, NULL, edited.model);
  values_changed (&d);
  ok = gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK;
  if (ok)
    *v = edited;
  gen_ui_estimate_free (d.estimate);
  d.estimate = NULL;
  d.preview = NULL;
  gtk_widget_destroy (dialog);
  g_object_unref (d.labels);
  return ok;
}
