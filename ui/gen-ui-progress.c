/* gen-ui-progress.c — an interactive run's progress window with Cancel
 * (see gen-ui-progress.h). */
#include <glib/gi18n.h>
#include <libgimp/gimp.h>
#include <libgimp/gimpui.h>

#include "gen-error.h"
#include "gen-ui.h"
#include "gen-ui-progress.h"

typedef struct
{
  GenPluginJobFunc  job;
  gpointer          data;
  const char       *title;
  gint              cancel;      /* the core reads it: nonzero = stop */
  gint              step, total, elapsed_ms;  /* the job's progress, set from its thread */
  gboolean          ok;          /* read after the thread is joined */
  GError           *error;
  GMainLoop        *loop;
  GtkWidget        *bar, *label;
  gint64            cancelled_at;   /* µs, 0: not cancelled */
} Run;

/* In the job's thread. */
static void
run_progress (int step, int total, double elapsed, gpointer user_data)
{
  Run *r = user_data;

  g_atomic_int_set (&r->step, step);
  g_atomic_int_set (&r->total, total);
  g_atomic_int_set (&r->elapsed_ms, (gint) CLAMP (elapsed * 1000.0, 0.0, G_MAXINT));
}

static gboolean
run_finished (gpointer user_data)
{
  g_main_loop_quit (((Run *) user_data)->loop);
  return G_SOURCE_REMOVE;
}

static gpointer
run_thread (gpointer user_data)
{
  Run *r = user_data;

  r->ok = r->job (r->data, &r->error);
  g_idle_add (run_finished, r);
  return NULL;
}

/* Shows the job's progress: "Inpainting: step 3 of 20", about 1 min left. */
static gboolean
run_poll (gpointer user_data)
{
  Run *r = user_data;
  int step = g_atomic_int_get (&r->step), total = g_atomic_int_get (&r->total);
  double elapsed = g_atomic_int_get (&r->elapsed_ms) / 1000.0;
  char *text, *left;

  if (g_atomic_int_get (&r->cancel) || total <= 0)
    return G_SOURCE_CONTINUE;
  gtk_progress_bar_set_fraction (GTK_PROGRESS_BAR (r->bar), CLAMP ((double) step / total, 0, 1));
  text = g_strdup_printf (_("%s: step %d of %d"), r->title, step, total);
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (r->bar), text);
  g_free (text);
  if (step > 0)
    {
      left = gen_ui_format_duration (elapsed / step * (total - step));
      /* TRANSLATORS: "about 40 s left" */
      text = g_strdup_printf (_("%s left"), left);
      gtk_label_set_text (GTK_LABEL (r->label), text);
      g_free (text);
      g_free (left);
    }
  return G_SOURCE_CONTINUE;
}

/* Cancel, or the window closed: raise the core's flag and wait for it. */
static void
run_response (GtkDialog *dialog, G_GNUC_UNUSED int response, Run *r)
{
  g_atomic_int_set (&r->cancel, 1);
  if (!r->cancelled_at)
    r->cancelled_at = g_get_monotonic_time ();
  gtk_dialog_set_response_sensitive (dialog, GTK_RESPONSE_CANCEL, FALSE);
  gtk_label_set_text (GTK_LABEL (r->label), _("Cancelling…"));
}

gboolean
gen_ui_run_job (GenPluginJobFunc job, gpointer data, GenJobOptions *opts, const char *title,
                GError **error)
{
  Run r = { job, data, title, 0, 0, 0, 0, FALSE, NULL, NULL, NULL, NULL, 0 };
  GtkWidget *dialog, *vbox;
  GThread *thread;
  guint poll;

  opts->progress = run_progress;
  opts->progress_data = &r;
  opts->cancel = &r.cancel;

  dialog = gimp_dialog_new (title, "generative-progress", NULL, 0, gimp_standard_help_func,
                            "plug-in-generative", _("_Cancel"), GTK_RESPONSE_CANCEL, NULL);
  gimp_window_set_transient (GTK_WINDOW (dialog));
  vbox = gen_ui_vbox_new (6);
  gtk_container_set_border_width (GTK_CONTAINER (vbox), 12);
  gtk_box_pack_start (GTK_BOX (gtk_dialog_get_content_area (GTK_DIALOG (dialog))), vbox,
                      TRUE, TRUE, 0);
  r.bar = gtk_progress_bar_new ();
#if GTK_CHECK_VERSION (3, 0, 0)
  gtk_progress_bar_set_show_text (GTK_PROGRESS_BAR (r.bar), TRUE);
#endif
  gtk_progress_bar_set_text (GTK_PROGRESS_BAR (r.bar), title);
  gtk_widget_set_size_request (r.bar, 320, -1);
  gtk_box_pack_start (GTK_BOX (vbox), r.bar, FALSE, FALSE, 0);
  r.label = gtk_label_new (_("Starting…"));
  gen_ui_label_align_left (r.label);
  gtk_box_pack_start (GTK_BOX (vbox), r.label, FALSE, FALSE, 0);
  g_signal_connect (dialog, "response", G_CALLBACK (run_response), &r);
  gtk_widget_show_all (dialog);

  r.loop = g_main_loop_new (NULL, FALSE);
  poll = g_timeout_add (100, run_poll, &r);
  thread = g_thread_new ("generative-job", run_thread, &r);
  g_main_loop_run (r.loop);
  g_thread_join (thread);
  if (r.cancelled_at)
    /* G_MESSAGES_DEBUG=Generative shows it: how long the core took to see the flag */
    g_log ("Generative", G_LOG_LEVEL_DEBUG, "the job stopped %.3f s after Cancel",
           (g_get_monotonic_time () - r.cancelled_at) / 1e6);
  g_source_remove (poll);
  g_main_loop_unref (r.loop);
  gtk_widget_destroy (dialog);

  opts->progress = NULL;
  opts->progress_data = NULL;
  opts->cancel = NULL;
  if (!r.ok)
    g_propagate_error (error, r.error);
  return r.ok;
}
