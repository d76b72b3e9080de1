/* gen-ui-model.c — the model chooser both dialogs share (see gen-ui.h):
 * two combo boxes listing the models a user has (gen-plugin-models.h),
 * "Other folder…" and "Other checkpoint file…" for the rest, and a line
 * saying what the choice holds. */
#include <glib/gi18n.h>

#include "gen-plugin-models.h"
#include "gen-ui.h"

enum { COL_LABEL, COL_PATH, COL_SENSITIVE, COL_PICK, N_COLS };

/* COL_PICK: what a row without a path asks for */
enum { PICK_NONE, PICK_FOLDER, PICK_FILE };

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
                          info.n_params / 1e6, info.weight_bytes / (1024.0 * 1024.0));
}

char *
gen_ui_model_describe (GenPluginJob job, const char *model, const char *vae,
                       const char *default_dir, int *native, gboolean *ok)
{
  GenPluginSettings s;
  GError *error = NULL;
  GenPipeline *p;
  GString *text;
  char *plain, *markup;

  *ok = FALSE;
  *native = 0;
  gen_plugin_settings_init (&s, job);
  s.model = g_strdup (model);
  s.vae = g_strdup (vae);
  /* the folder a run would load, refused in a run's words */
  p = gen_plugin_load (&s, default_dir, NULL, &error);
  gen_plugin_settings_clear (&s);
  if (!p)
    {
      markup = g_markup_printf_escaped ("<b>%s</b>", error->message);
      g_error_free (error);
      return markup;
    }
  *ok = TRUE;
  *native = gen_pipeline_native_size (p);
  text = g_string_new (NULL);
  append_model (text, gen_pipeline_unet (p));
  append_model (text, gen_pipeline_vae (p));
  if (*native > 0)
    {
      g_string_append_c (text, '\n');
      g_string_append_printf (text, _("Native resolution: %d × %d pixels"), *native, *native);
    }
  gen_pipeline_free (p);
  plain = g_string_free (text, FALSE);
  markup = g_markup_escape_text (plain, -1);
  g_free (plain);
  return markup;
}

/* ---- the chooser -------------------------------------------------------------- */

typedef struct
{
  GenPluginJob       job;
  GtkWidget         *model, *vae;   /* GtkComboBox over a store of COL_* */
  GtkWidget         *info;
  char              *model_path;    /* "" the built-in model */
  char              *vae_path;      /* "" none */
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

static GtkWidget *
combo_new (void)
{
  GtkListStore *store = gtk_list_store_new (N_COLS, G_TYPE_STRING, G_TYPE_STRING,
                                            G_TYPE_BOOLEAN, G_TYPE_INT);
  GtkWidget *combo = gtk_combo_box_new_with_model (GTK_TREE_MODEL (store));
  GtkCellRenderer *cell = gtk_cell_renderer_text_new ();

  g_object_unref (store);
  g_object_set (cell, "ellipsize", PANGO_ELLIPSIZE_END, "width-chars", 58, NULL);
  gtk_cell_layout_pack_start (GTK_CELL_LAYOUT (combo), cell, TRUE);
  gtk_cell_layout_set_attributes (GTK_CELL_LAYOUT (combo), cell, "text", COL_LABEL,
                                  "sensitive", COL_SENSITIVE, NULL);
  return combo;
}

/* Appends a row of a model at PATH. */
static void
combo_add (GtkWidget *combo, const char *label, const char *path, gboolean sensitive)
{
  GtkListStore *store = GTK_LIST_STORE (gtk_combo_box_get_model (GTK_COMBO_BOX (combo)));
  GtkTreeIter iter;

  gtk_list_store_append (store, &iter);
  gtk_list_store_set (store, &iter, COL_LABEL, label, COL_PATH, path, COL_SENSITIVE, sensitive,
                      COL_PICK, PICK_NONE, -1);
}

/* Appends a row that opens a file chooser (PICK a PICK_* value). */
static void
combo_add_pick (GtkWidget *combo, const char *label, int pick)
{
  GtkListStore *store = GTK_LIST_STORE (gtk_combo_box_get_model (GTK_COMBO_BOX (combo)));
  GtkTreeIter iter;

  gtk_list_store_append (store, &iter);
  gtk_list_store_set (store, &iter, COL_LABEL, label, COL_PATH, NULL, COL_SENSITIVE, TRUE,
                      COL_PICK, pick, -1);
}

/* Selects the row of PATH, adding one (before the "Other…" rows) for a
 * model not listed. */
static void
combo_select (GtkWidget *combo, const char *path, GenPluginJob job, gboolean vae)
{
  GtkTreeModel *model = gtk_combo_box_get_model (GTK_COMBO_BOX (combo));
  GtkTreeIter iter, other;
  gboolean valid, have_other = FALSE;

  for (valid = gtk_tree_model_get_iter_first (model, &iter); valid;
       valid = gtk_tree_model_iter_next (model, &iter))
    {
      char *p;

      gtk_tree_model_get (model, &iter, COL_PATH, &p, -1);
      if (!p)
        {
          if (!have_other)
            other = iter;
          have_other = TRUE;
        }
      else if (g_str_equal (p, path))
        {
          g_free (p);
          gtk_combo_box_set_active_iter (GTK_COMBO_BOX (combo), &iter);
          return;
        }
      g_free (p);
    }
  {
    GenPluginModel *m = gen_plugin_model_inspect (path, NULL);
    char *label = m ? gen_plugin_model_summary (m) : g_path_get_basename (path);

    gtk_list_store_insert_before (GTK_LIST_STORE (model), &iter, &other);
    gtk_list_store_set (GTK_LIST_STORE (model), &iter, COL_LABEL, label, COL_PATH, path,
                        COL_SENSITIVE, !m || (vae ? m->kind == GEN_PLUGIN_MODEL_VAE
                                                  : gen_plugin_model_fits (m, job)),
                        -1);
    gtk_combo_box_set_active_iter (GTK_COMBO_BOX (combo), &iter);
    g_free (label);
    gen_plugin_model_free (m);
  }
}

/* Fills the model and VAE lists: the built-in model JOB uses, then the
 * models found, each greyed out where JOB cannot use it. */
static void
chooser_fill (Chooser *c)
{
  GPtrArray *found = gen_plugin_models_find (c->default_dir, gimp_directory ());
  char *builtin = gen_plugin_builtin_dir (c->job, NULL, c->default_dir);
  gboolean have_builtin = FALSE;

  for (guint i = 0; i < found->len; i++)
    {
      GenPluginModel *m = found->pdata[i];
      char *label = gen_plugin_model_summary (m);

      if (m->builtin && g_str_equal (m->path, builtin))
        {
          combo_add (c->model, label, "", TRUE);
          have_builtin = TRUE;
        }
      else if (!m->builtin)
        combo_add (c->model, label, m->path, gen_plugin_model_fits (m, c->job));
      if (m->kind == GEN_PLUGIN_MODEL_VAE && c->vae)
        combo_add (c->vae, label, m->path, m->runnable);
      g_free (label);
    }
  if (!have_builtin)
    combo_add (c->model, _("Built-in model (not installed)"), "", TRUE);
  combo_add_pick (c->model, _("Other folder…"), PICK_FOLDER);
  combo_add_pick (c->model, _("Other checkpoint file…"), PICK_FILE);
  if (c->vae)
    combo_add_pick (c->vae, _("Other folder…"), PICK_FOLDER);
  g_free (builtin);
  g_ptr_array_unref (found);
}

/* Says what the choice holds and tells the owner. */
static void
chooser_update (Chooser *c)
{
  gboolean ok;
  int native;
  char *markup = gen_ui_model_describe (c->job, c->model_path, c->vae_path, c->default_dir,
                                        &native, &ok);

  gtk_label_set_markup (GTK_LABEL (c->info), markup);
  g_free (markup);
  c->changed (c->model_path, c->vae_path, ok ? native : -1, c->user_data);
}

/* "Other folder…" and "Other checkpoint file…": a file chooser for a
 * folder, or for a single .safetensors checkpoint; cancelled, the choice
 * stays. */
static char *
pick_path (GtkWidget *combo, const char *title, int pick)
{
  GtkWidget *dialog = gtk_file_chooser_dialog_new (title,
                                                   GTK_WINDOW (gtk_widget_get_toplevel (combo)),
                                                   pick == PICK_FILE
                                                   ? GTK_FILE_CHOOSER_ACTION_OPEN
                                                   : GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER,
                                                   _("_Cancel"), GTK_RESPONSE_CANCEL,
                                                   _("_Open"), GTK_RESPONSE_ACCEPT, NULL);
  char *path = NULL;

  if (pick == PICK_FILE)
    {
      GtkFileFilter *filter = gtk_file_filter_new ();

      gtk_file_filter_set_name (filter, _("Checkpoints (*.safetensors)"));
      gtk_file_filter_add_pattern (filter, "*.safetensors");
      gtk_file_filter_add_pattern (filter, "*.SAFETENSORS");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
      filter = gtk_file_filter_new ();
      gtk_file_filter_set_name (filter, _("All files"));
      gtk_file_filter_add_pattern (filter, "*");
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (dialog), filter);
    }
  if (gtk_dialog_run (GTK_DIALOG (dialog)) == GTK_RESPONSE_ACCEPT)
    path = gtk_file_chooser_get_filename (GTK_FILE_CHOOSER (dialog));
  gtk_widget_destroy (dialog);
  return path;
}

static void
chooser_changed (GtkComboBox *combo, Chooser *c)
{
  gboolean is_vae = GTK_WIDGET (combo) == c->vae;
  char **current = is_vae ? &c->vae_path : &c->model_path;
  GtkTreeIter iter;
  char *path = NULL;
  int pick;

  if (!gtk_combo_box_get_active_iter (combo, &iter))
    return;
  gtk_tree_model_get (gtk_combo_box_get_model (combo), &iter, COL_PATH, &path, COL_PICK, &pick,
                      -1);
  if (pick != PICK_NONE)
    path = pick_path (GTK_WIDGET (combo), is_vae ? _("Choose a VAE folder")
                                          : pick == PICK_FILE ? _("Choose a checkpoint file")
                                          : _("Choose a model folder"), pick);
  g_signal_handlers_block_by_func (combo, chooser_changed, c);
  combo_select (GTK_WIDGET (combo), path ? path : *current, c->job, is_vae);
  g_signal_handlers_unblock_by_func (combo, chooser_changed, c);
  if (path && !g_str_equal (path, *current))
    {
      g_free (*current);
      *current = g_steal_pointer (&path);
      chooser_update (c);
    }
  g_free (path);
}

/* "_Model:" before WIDGET in row ROW of GRID, its label in LABELS. */
static void
chooser_row (GtkWidget *grid, int row, const char *text, GtkWidget *widget, GtkSizeGroup *labels)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gen_ui_label_align_left (label);
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), widget);
  if (labels)
    gtk_size_group_add_widget (labels, label);
  gen_ui_grid_attach (grid, label, 0, row, 1, FALSE);
  gen_ui_grid_attach (grid, widget, 1, row, 1, TRUE);
}

GtkWidget *
gen_ui_model_chooser_new (GenPluginJob job, const char *model, const char *vae,
                          const char *default_dir, GtkSizeGroup *labels,
                          GenUiModelChanged changed, gpointer user_data)
{
  Chooser *c = g_new0 (Chooser, 1);
  GtkWidget *frame = gimp_frame_new (_("Model"));
  GtkWidget *grid = gen_ui_grid_new ();

  c->job = job;
  c->model_path = g_strdup (model ? model : "");
  c->vae_path = g_strdup (vae ? vae : "");
  c->default_dir = g_strdup (default_dir);
  c->changed = changed;
  c->user_data = user_data;
  g_object_set_data_full (G_OBJECT (frame), "gen-ui-chooser", c, (GDestroyNotify) chooser_free);
  gtk_container_add (GTK_CONTAINER (frame), grid);

  c->model = combo_new ();
  gimp_help_set_help_data (c->model, _("The models installed with Generative and those in "
                                       "the models folders (generative/models in GIMP's "
                                       "folder and in your data folder); greyed out what "
                                       "this filter cannot use"), NULL);
  chooser_row (grid, 0, _("_Model:"), c->model, labels);
  /* the VAE round trip chooses its VAE above, unless a script gave one */
  if (job != GEN_PLUGIN_VAE || *c->vae_path)
    {
      c->vae = combo_new ();
      combo_add (c->vae, _("None (the model's own)"), "", TRUE);
      gimp_help_set_help_data (c->vae, _("A VAE that adds or replaces the model's "
                                         "(optional)"), NULL);
      chooser_row (grid, 1, _("V_AE:"), c->vae, labels);
    }
  chooser_fill (c);

  c->info = gtk_label_new (NULL);
  gen_ui_label_align_left (c->info);
  gtk_label_set_line_wrap (GTK_LABEL (c->info), TRUE);
  gtk_label_set_width_chars (GTK_LABEL (c->info), 44);
  gtk_label_set_max_width_chars (GTK_LABEL (c->info), 56);
  gtk_label_set_selectable (GTK_LABEL (c->info), TRUE);
  gen_ui_grid_attach (grid, c->info, 0, 2, 2, TRUE);

  combo_select (c->model, c->model_path, job, FALSE);
  g_signal_connect (c->model, "changed", G_CALLBACK (chooser_changed), c);
  if (c->vae)
    {
      combo_select (c->vae, c->vae_path, job, TRUE);
      g_signal_connect (c->vae, "changed", G_CALLBACK (chooser_changed), c);
    }
  chooser_update (c);
  gtk_widget_show_all (frame);
  return frame;
}
