/* gen-gimp3-dialog.c — the procedure dialogs: GimpProcedureDialog over the
 * procedure's own arguments, so what a script passes and what a user sees
 * are the same settings. */
#include <libgimp/gimpui.h>
#include <glib/gi18n.h>

#include "gen-gimp3.h"

static const char *const titles[GEN_PLUGIN_N_JOBS] = {
  N_("Generate"), N_("Denoise"), N_("Inpaint Selection"), N_("Vary"),
  N_("VAE Round Trip"), N_("Interpolate Two Layers"),
};

gboolean
gen_gimp3_dialog (GimpProcedure *procedure, GimpProcedureConfig *config, GenPluginJob job)
{
  GtkWidget *dialog;
  gboolean ok;

  gimp_ui_init (GEN_GIMP3_BINARY);
  /* A string argument a script left unset arrives as NULL, which the
   * dialog's text entries do not take. */
  for (const char *const *name = (const char *const[]) { "model", "vae", NULL }; *name; name++)
    {
      char *value = NULL;

      g_object_get (config, *name, &value, NULL);
      if (!value)
        g_object_set (config, *name, "", NULL);
      g_free (value);
    }
  dialog = gimp_procedure_dialog_new (procedure, config, _(titles[job]));
  gimp_procedure_dialog_fill (GIMP_PROCEDURE_DIALOG (dialog), NULL);
  ok = gimp_procedure_dialog_run (GIMP_PROCEDURE_DIALOG (dialog));
  gtk_widget_destroy (dialog);
  return ok;
}
