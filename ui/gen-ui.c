/* gen-ui.c — widgets shared by the GIMP 2.10 and 3.0 dialogs (see gen-ui.h). */
#include <math.h>

#include <glib/gi18n.h>

#include "gen-job.h"
#include "gen-ui.h"

GtkWidget *
gen_ui_hbox_new (int spacing)
{
#if GTK_CHECK_VERSION (3, 0, 0)
  return gtk_box_new (GTK_ORIENTATION_HORIZONTAL, spacing);
#else
  return gtk_hbox_new (FALSE, spacing);
#endif
}

GtkWidget *
gen_ui_vbox_new (int spacing)
{
#if GTK_CHECK_VERSION (3, 0, 0)
  return gtk_box_new (GTK_ORIENTATION_VERTICAL, spacing);
#else
  return gtk_vbox_new (FALSE, spacing);
#endif
}

GtkWidget *
gen_ui_grid_new (void)
{
#if GTK_CHECK_VERSION (3, 0, 0)
  GtkWidget *grid = gtk_grid_new ();

  gtk_grid_set_row_spacing (GTK_GRID (grid), 4);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 6);
#else
  GtkWidget *grid = gtk_table_new (1, 3, FALSE);

  gtk_table_set_row_spacings (GTK_TABLE (grid), 4);
  gtk_table_set_col_spacings (GTK_TABLE (grid), 6);
#endif
  return grid;
}

void
gen_ui_label_align_left (GtkWidget *label)
{
#if GTK_CHECK_VERSION (3, 16, 0)
  gtk_label_set_xalign (GTK_LABEL (label), 0.0);
#else
  gtk_misc_set_alignment (GTK_MISC (label), 0.0, 0.5);
#endif
}

void
gen_ui_grid_attach (GtkWidget *grid, GtkWidget *w, int col, int row, int width, gboolean expand)
{
#if GTK_CHECK_VERSION (3, 0, 0)
  gtk_widget_set_hexpand (w, expand);
  gtk_grid_attach (GTK_GRID (grid), w, col, row, width, 1);
#else
  gtk_table_attach (GTK_TABLE (grid), w, col, col + width, row, row + 1,
                    expand ? GTK_EXPAND | GTK_FILL : GTK_FILL, GTK_FILL, 0, 0);
#endif
}

/* ---- titles, seed and noise --------------------------------------------------- */

const char *const gen_ui_job_titles[GEN_PLUGIN_N_JOBS] = {
  N_("Generate"), N_("Denoise"), N_("Inpaint Selection"), N_("Vary"), N_("VAE Round Trip"),
  N_("Interpolate Two Layers"),
};

const char *const gen_ui_job_frames[GEN_PLUGIN_N_JOBS] = {
  N_("Image"), N_("Noise"), N_("Fill"), N_("Variation"), N_("VAE"), N_("Interpolation"),
};

GtkWidget *
gen_ui_dice_button_new (GCallback clicked, gpointer user_data)
{
  /* U+2684 DIE FACE-5: GIMP's icon themes have no die. */
  GtkWidget *button = gtk_button_new_with_label ("");

  gtk_label_set_markup (GTK_LABEL (gtk_bin_get_child (GTK_BIN (button))),
                        "<span size=\"x-large\">\xe2\x9a\x84</span>");

  gimp_help_set_help_data (button, _("Put a random seed in"), NULL);
  g_signal_connect (button, "clicked", clicked, user_data);
  return button;
}

int
gen_ui_random_seed (void)
{
  return g_random_int_range (0, G_MAXINT);
}

GtkWidget *
gen_ui_noise_auto_new (double estimate)
{
  char *label = estimate < 0 ? g_strdup (_("Auto (e_stimate from the layer)"))
    /* TRANSLATORS: the noise level GIMP estimated on the layer, on the 0..255 scale */
                             : g_strdup_printf (_("Auto (e_stimated: %.1f)"), estimate);
  GtkWidget *toggle = gtk_check_button_new_with_mnemonic (label);

  g_free (label);
  gimp_help_set_help_data (toggle, _("Estimate the noise level from the pixels "
                                     "(noise level -1)"), NULL);
  return toggle;
}

double
gen_ui_noise_start (double level, double estimate)
{
  return level >= 0 ? level : estimate >= 0 ? floor (estimate * 10 + 0.5) / 10 : 25.0;
}

char *
gen_ui_format_duration (double seconds)
{
  if (seconds < 1.0)
    return g_strdup (_("less than a second"));
  if (seconds < 90.0)
    /* TRANSLATORS: a rough duration */
    return g_strdup_printf (_("about %d s"), (int) (seconds + 0.5));
  if (seconds < 90.0 * 60.0)
    /* TRANSLATORS: a rough duration in minutes */
    return g_strdup_printf (_("about %d min"), (int) (seconds / 60.0 + 0.5));
  /* TRANSLATORS: a rough duration in hours */
  return g_strdup_printf (_("about %.1f h"), seconds / 3600.0);
}

void
gen_ui_native_note (GtkWidget *label, int native)
{
  char *text = native > 0
    /* TRANSLATORS: under Width and Height: what 0 stands for */
    ? g_strdup_printf (_("0 = the model's native size, %d × %d pixels"), native, native)
    : g_strdup (_("0 = the model's native size"));

  if (label)
    gtk_label_set_text (GTK_LABEL (label), text);
  g_free (text);
}
