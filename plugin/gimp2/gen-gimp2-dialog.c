/* gen-gimp2-dialog.c — the GTK 2 dialog of a Generative procedure in
 * GIMP 2.10, built from the argument table: one row per argument. */
#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gen-gimp2.h"

static GtkWidget *
make_combo (const char *choices, gint32 *value)
{
  char **labels = g_strsplit (choices, "|", -1);
  GtkWidget *combo = g_object_new (GIMP_TYPE_INT_COMBO_BOX, NULL);

  for (int i = 0; labels[i]; i++)
    gimp_int_combo_box_append (GIMP_INT_COMBO_BOX (combo), GIMP_INT_STORE_VALUE, i,
                               GIMP_INT_STORE_LABEL, _(labels[i]), -1);
  g_strfreev (labels);
  gimp_int_combo_box_connect (GIMP_INT_COMBO_BOX (combo), *value,
                              G_CALLBACK (gimp_int_combo_box_get_active), value);
  return combo;
}

gboolean
gen_gimp2_dialog (const char *proc_name, GenPluginJob job, GenGimp2Values *v)
{
  static const char *const titles[GEN_PLUGIN_N_JOBS] = {
    N_("Generate"), N_("Denoise"), N_("Inpaint Selection"), N_("Vary"), N_("VAE Round Trip"),
    N_("Interpolate Two Layers"),
  };
  GenGimp2ArgId ids[GEN_GIMP2_N_ARGS];
  GtkWidget *entries[GEN_GIMP2_N_ARGS] = { NULL };
  int n = gen_gimp2_job_args (job, ids);
  GtkWidget *dialog, *table;
  gboolean ok;

  gimp_ui_init (GEN_GIMP2_BINARY, FALSE);
  dialog = gimp_dialog_new (_(titles[job]), "generative", NULL, 0, gimp_standard_help_func,
                            proc_name, _("_Cancel"), GTK_RESPONSE_CANCEL, _("_OK"),
                            GTK_RESPONSE_OK, NULL);
  gtk_dialog_set_alternative_button_order (GTK_DIALOG (dialog), GTK_RESPONSE_OK,
                                           GTK_RESPONSE_CANCEL, -1);
  gimp_window_set_transient (GTK_WINDOW (dialog));

  table = gtk_table_new (n, 3, FALSE);
  gtk_table_set_col_spacings (GTK_TABLE (table), 6);
  gtk_table_set_row_spacings (GTK_TABLE (table), 4);
  gtk_container_set_border_width (GTK_CONTAINER (table), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), table,
                      TRUE, TRUE, 0);

  for (int i = 0; i < n; i++)
    {
      const GenGimp2Arg *a = &gen_gimp2_args[ids[i]];
      gpointer field = G_STRUCT_MEMBER_P (v, a->offset);
      GtkWidget *w;
      GtkObject *adj;

      switch (a->widget)
        {
        case GEN_GIMP2_WIDGET_ENTRY:
          w = entries[i] = gtk_entry_new ();
          gtk_entry_set_text (GTK_ENTRY (w), field);
          gtk_entry_set_width_chars (GTK_ENTRY (w), 40);
          gimp_table_attach_aligned (GTK_TABLE (table), 0, i, _(a->label), 0.0, 0.5, w, 2,
                                     FALSE);
          break;
        case GEN_GIMP2_WIDGET_COMBO:
          w = make_combo (a->choices, field);
          gimp_table_attach_aligned (GTK_TABLE (table), 0, i, _(a->label), 0.0, 0.5, w, 2,
                                     FALSE);
          break;
        case GEN_GIMP2_WIDGET_TOGGLE:
          w = gtk_check_button_new_with_mnemonic (_(a->label));
          gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (w), *(gint32 *) field);
          g_signal_connect (w, "toggled", G_CALLBACK (gimp_toggle_button_update), field);
          gtk_table_attach (GTK_TABLE (table), w, 0, 3, i, i + 1, GTK_FILL, GTK_FILL, 0, 0);
          break;
        case GEN_GIMP2_WIDGET_SCALE:
          {
            gboolean real = a->type == GIMP_PDB_FLOAT;
            /* seeds and sizes have huge ranges: the slider covers the usual
             * part, the spin button the rest */
            double hi = MIN (a->max, real ? a->max : 1000.0);

            adj = gimp_scale_entry_new (GTK_TABLE (table), 0, i, _(a->label), 200, 8,
                                        real ? *(double *) field : *(gint32 *) field,
                                        a->min, hi, real ? 0.01 : 1, real ? 0.1 : 10,
                                        real ? 2 : 0, a->max <= hi, a->min, a->max,
                                        a->desc, NULL);
            g_signal_connect (adj, "value-changed",
                              G_CALLBACK (real ? gimp_double_adjustment_update
                                               : gimp_int_adjustment_update),
                              field);
          }
          break;
        }
    }
  gtk_widget_show_all (dialog);

  ok = gimp_dialog_run (GIMP_DIALOG (dialog)) == GTK_RESPONSE_OK;
  if (ok)
    for (int i = 0; i < n; i++)
      if (entries[i])
        g_strlcpy (G_STRUCT_MEMBER_P (v, gen_gimp2_args[ids[i]].offset),
                   gtk_entry_get_text (GTK_ENTRY (entries[i])), GEN_GIMP2_PATH_MAX);
  gtk_widget_destroy (dialog);
  return ok;
}
