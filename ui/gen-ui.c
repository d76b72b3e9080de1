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

/* A grid of rows: GtkGrid in GTK 3, GtkTable in GTK 2. */
static GtkWidget *
grid_new (void)
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

static void
grid_attach (GtkWidget *grid, GtkWidget *w, int col, int row, int width, gboolean expand)
{
#if GTK_CHECK_VERSION (3, 0, 0)
  gtk_widget_set_hexpand (w, expand);
  gtk_grid_attach (GTK_GRID (grid), w, col, row, width, 1);
#else
  gtk_table_attach (GTK_TABLE (grid), w, col, col + width, row, row + 1,
                    expand ? GTK_EXPAND | GTK_FILL : GTK_FILL, GTK_FILL, 0, 0);
#endif
}

/* ---- what a model folder holds ------------------------------------------------ */

static void
append_model (GString *text, GenModel *model)
{
  GenModelInfo info;

  if (!model)
    return;
  gen_model_get_info (model, &info);
  if (text->len)
    g_string_append (text, "\n");
  /* TRANSLATORS: "UNet2DModel: 1.2 M parameters (4.7 MB)" */
  g_string_append_printf (text, _("%s: %.2f M parameters (%.1f MB)"), info.class_name,
                          info.n_params / 1e6, info.n_params * 4.0 / (1024.0 * 1024.0));
}

char *
gen_ui_model_describe (const char *model, const char *vae, const char *default_dir,
                       gboolean *ok)
{
  const char *dir = model && *model ? model : default_dir;
  GError *error = NULL;
  GenPipeline *p;
  GString *text;
  char *plain, *markup;

  *ok = FALSE;
  if (!(model && *model) && !g_file_test (default_dir, G_FILE_TEST_IS_DIR))
    {
      plain = g_strdup_printf (_("The built-in model is not installed (%s): choose a model "
                                 "folder."), default_dir);
      markup = g_markup_printf_escaped ("<b>%s</b>", plain);
      g_free (plain);
      return markup;
    }
  p = gen_pipeline_load (dir, vae && *vae ? vae : NULL, &error);
  if (!p)
    {
      markup = g_markup_printf_escaped ("<b>%s</b>\n%s",
                                        _("This folder is not a model Generative can run:"),
                                        error->message);
      g_error_free (error);
      return markup;
    }
  *ok = TRUE;
  text = g_string_new (NULL);
  append_model (text, gen_pipeline_unet (p));
  append_model (text, gen_pipeline_vae (p));
  if (gen_pipeline_native_size (p) > 0)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, _("Native resolution: %d × %d pixels"),
                              gen_pipeline_native_size (p), gen_pipeline_native_size (p));
    }
  gen_pipeline_free (p);
  plain = g_string_free (text, FALSE);
  markup = g_markup_escape_text (plain, -1);
  g_free (plain);
  return markup;
}

/* ---- the model chooser -------------------------------------------------------- */

typedef struct
{
  GtkWidget         *builtin;      /* radio: the built-in model */
  GtkWidget         *folder;       /* GtkFileChooserButton of the model */
  GtkWidget         *vae;          /* GtkFileChooserButton of the VAE */
  GtkWidget         *info;
  char              *model_path;   /* the last folder picked, "" none */
  char              *vae_path;     /* "" = none */
  char              *default_dir;
  GenUiModelChanged  changed;
  gpointer           user_data;
} Chooser;

static void
chooser_free (Chooser *c)
{
  g_free (c->model_path);
  g_free (c->vae_path);
  g_free (c->default_dir);
  g_free (c);
}

/* Says what the chosen folders hold and tells the owner. */
static void
chooser_update (Chooser *c)
{
  gboolean builtin = gtk_toggle_button_get_active (GTK_TOGGLE_BUTTON (c->builtin));
  const char *model = builtin ? "" : c->model_path;
  gboolean ok;
  char *markup;

  gtk_widget_set_sensitive (c->folder, !builtin);
  if (!builtin && !*model)
    markup = g_markup_printf_escaped ("<b>%s</b>", _("Choose a diffusers model folder."));
  else
    markup = gen_ui_model_describe (model, c->vae_path, c->default_dir, &ok);
  gtk_label_set_markup (GTK_LABEL (c->info), markup);
  g_free (markup);
  c->changed (model, c->vae_path, c->user_data);
}

static void
chooser_toggled (GtkToggleButton *button, Chooser *c)
{
  if (gtk_toggle_button_get_active (button))
    chooser_update (c);
}

/* Only on the user's choice ("file-set"): the button loads a folder set
 * from code asynchronously, so the paths are kept here. */
static void
chooser_folder_set (GtkFileChooser *button, Chooser *c)
{
  char *path = gtk_file_chooser_get_filename (button);

  g_free (button == GTK_FILE_CHOOSER (c->folder) ? c->model_path : c->vae_path);
  if (button == GTK_FILE_CHOOSER (c->folder))
    c->model_path = path ? path : g_strdup ("");
  else
    c->vae_path = path ? path : g_strdup ("");
  chooser_update (c);
}

static void
chooser_vae_clear (G_GNUC_UNUSED GtkButton *button, Chooser *c)
{
  gtk_file_chooser_unselect_all (GTK_FILE_CHOOSER (c->vae));
  g_free (c->vae_path);
  c->vae_path = g_strdup ("");
  chooser_update (c);
}

static GtkWidget *
folder_button_new (const char *title, const char *path)
{
  GtkWidget *button = gtk_file_chooser_button_new (title, GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER);

  gtk_file_chooser_button_set_width_chars (GTK_FILE_CHOOSER_BUTTON (button), 24);
  if (path && *path)
    gtk_file_chooser_set_filename (GTK_FILE_CHOOSER (button), path);
  return button;
}

GtkWidget *
gen_ui_model_chooser_new (const char *model, const char *vae, const char *default_dir,
                          GenUiModelChanged changed, gpointer user_data)
{
  Chooser *c = g_new0 (Chooser, 1);
  GtkWidget *frame = gimp_frame_new (_("Model"));
  GtkWidget *grid = grid_new ();
  GtkWidget *radio, *label, *clear;

  c->model_path = g_strdup (model ? model : "");
  c->vae_path = g_strdup (vae ? vae : "");
  c->default_dir = g_strdup (default_dir);
  c->changed = changed;
  c->user_data = user_data;
  g_object_set_data_full (G_OBJECT (frame), "gen-ui-chooser", c, (GDestroyNotify) chooser_free);
  gtk_container_add (GTK_CONTAINER (frame), grid);

  c->builtin = gtk_radio_button_new_with_mnemonic (NULL, _("_Built-in model"));
  gimp_help_set_help_data (c->builtin, _("The small model installed with Generative"), NULL);
  grid_attach (grid, c->builtin, 0, 0, 3, TRUE);

  radio = gtk_radio_button_new_with_mnemonic_from_widget (GTK_RADIO_BUTTON (c->builtin),
                                                          _("F_older:"));
  gimp_help_set_help_data (radio, _("A diffusers folder: a UNet2DModel (with its "
                                    "scheduler_config.json), a VAE, or a pipeline with "
                                    "unet/, scheduler/ and vae/"), NULL);
  grid_attach (grid, radio, 0, 1, 1, FALSE);
  c->folder = folder_button_new (_("Choose a model folder"), c->model_path);
  grid_attach (grid, c->folder, 1, 1, 2, TRUE);

  label = gtk_label_new_with_mnemonic (_("V_AE:"));
  gen_ui_label_align_left (label);
  grid_attach (grid, label, 0, 2, 1, FALSE);
  c->vae = folder_button_new (_("Choose a VAE folder"), c->vae_path);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), c->vae);
  gimp_help_set_help_data (c->vae, _("A VAE folder that adds or replaces the model's "
                                     "(optional)"), NULL);
  grid_attach (grid, c->vae, 1, 2, 1, TRUE);
  clear = gtk_button_new_with_label (_("None"));
  gimp_help_set_help_data (clear, _("Use no separate VAE"), NULL);
  grid_attach (grid, clear, 2, 2, 1, FALSE);

  c->info = gtk_label_new (NULL);
  gen_ui_label_align_left (c->info);
  gtk_label_set_line_wrap (GTK_LABEL (c->info), TRUE);
  gtk_label_set_width_chars (GTK_LABEL (c->info), 44);
  gtk_label_set_max_width_chars (GTK_LABEL (c->info), 56);
  gtk_label_set_selectable (GTK_LABEL (c->info), TRUE);
  grid_attach (grid, c->info, 0, 3, 3, TRUE);

  gtk_toggle_button_set_active (GTK_TOGGLE_BUTTON (*c->model_path ? radio : c->builtin), TRUE);
  g_signal_connect (c->builtin, "toggled", G_CALLBACK (chooser_toggled), c);
  g_signal_connect (radio, "toggled", G_CALLBACK (chooser_toggled), c);
  g_signal_connect (c->folder, "file-set", G_CALLBACK (chooser_folder_set), c);
  g_signal_connect (c->vae, "file-set", G_CALLBACK (chooser_folder_set), c);
  g_signal_connect (clear, "clicked", G_CALLBACK (chooser_vae_clear), c);
  chooser_update (c);
  gtk_widget_show_all (frame);
  return frame;
}

/* ---- titles, seed and noise --------------------------------------------------- */

const char *const gen_ui_job_titles[GEN_PLUGIN_N_JOBS] = {
  N_("Generate"), N_("Denoise"), N_("Inpaint Selection"), N_("Vary"), N_("VAE Round Trip"),
  N_("Interpolate Two Layers"),
};

const char *const gen_ui_job_frames[GEN_PLUGIN_N_JOBS] = {
  N_("Image"), N_("Noise"), N_("RePaint"), N_("Variation"), N_("VAE"), N_("Interpolation"),
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
