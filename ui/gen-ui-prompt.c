/* gen-ui-prompt.c — the prompt rows both dialogs show in Generate, Inpaint
 * Selection and Variation (see gen-ui.h): the prompt and the negative
 * prompt as wrapped multi-line text, the guidance scale beside them, all
 * hidden behind one note when the chosen model takes no text. */
#include <glib/gi18n.h>

#include "gen-plugin-models.h"
#include "gen-ui.h"

#define NOTE_KEY "gen-ui-prompt-note"

/* VIEW wrapped at words in a scrolled window LINES lines high. */
static GtkWidget *
scrolled (GtkWidget *view, int lines)
{
  GtkWidget *sw = gtk_scrolled_window_new (NULL, NULL);
  PangoLayout *layout = gtk_widget_create_pango_layout (view, "Xy");
  int height = 0;

  pango_layout_get_pixel_size (layout, NULL, &height);
  g_object_unref (layout);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
  gtk_text_view_set_accepts_tab (GTK_TEXT_VIEW (view), FALSE);
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (sw), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_shadow_type (GTK_SCROLLED_WINDOW (sw), GTK_SHADOW_IN);
  gtk_widget_set_size_request (sw, -1, lines * height + 8);
  gtk_container_add (GTK_CONTAINER (sw), view);
  return sw;
}

static void
row (GtkWidget *grid, int at, GtkSizeGroup *labels, const char *text, GtkWidget *view,
     int lines, const char *tip, int span)
{
  GtkWidget *label = gtk_label_new_with_mnemonic (text);

  gen_ui_label_align_left (label);
#if !GTK_CHECK_VERSION (3, 0, 0)
  gtk_misc_set_alignment (GTK_MISC (label), 0.0, 0.0);
#else
  gtk_widget_set_valign (label, GTK_ALIGN_START);
#endif
  gtk_label_set_mnemonic_widget (GTK_LABEL (label), view);
  if (labels)
    gtk_size_group_add_widget (labels, label);
  gimp_help_set_help_data (view, tip, NULL);
  gen_ui_grid_attach (grid, label, 0, at, 1, FALSE);
  gen_ui_grid_attach (grid, scrolled (view, lines), 1, at, span, TRUE);
}

int
gen_ui_prompt_rows (GtkWidget *grid, int at, GtkSizeGroup *labels, const char *prompt_label,
                    GtkWidget *prompt_view, const char *negative_label,
                    GtkWidget *negative_view, int span)
{
  GtkWidget *note = gtk_label_new (_("The chosen model takes no prompt: it makes pictures "
                                     "without words, and ignores the text below."));

  gen_ui_label_align_left (note);
  gtk_label_set_line_wrap (GTK_LABEL (note), TRUE);
#if GTK_CHECK_VERSION (3, 0, 0)
  gtk_label_set_max_width_chars (GTK_LABEL (note), 56);
#else
  /* GTK 2 wraps at a width it is given only */
  gtk_widget_set_size_request (note, 420, -1);
#endif
  gtk_widget_set_sensitive (note, FALSE);
  g_object_set_data (G_OBJECT (grid), NOTE_KEY, note);
  gen_ui_grid_attach (grid, note, 0, at++, span + 1, TRUE);
  row (grid, at++, labels, prompt_label, prompt_view, 3,
       _("What the picture should show, in words"), span);
  row (grid, at++, labels, negative_label, negative_view, 2,
       _("What the picture should not show (the negative prompt)"), span);
  return at;
}

void
gen_ui_prompt_update (GtkWidget *grid, GtkWidget *also, const char *model)
{
  GtkWidget *note = g_object_get_data (G_OBJECT (grid), NOTE_KEY);
  gboolean text = gen_plugin_model_takes_text (model);
  GList *children = gtk_container_get_children (GTK_CONTAINER (grid));

  /* the rows greyed (their text kept) and the note shown for a model
   * without text */
  for (GList *c = children; c; c = c->next)
    if (c->data != note)
      gtk_widget_set_sensitive (c->data, text);
  if (also)
    gtk_widget_set_sensitive (also, text);
  gtk_widget_set_visible (note, !text);
  g_list_free (children);
}

char *
gen_ui_text_view_get (GtkWidget *view)
{
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}
