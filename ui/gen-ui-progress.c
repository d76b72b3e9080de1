/* gen-ui-progress.c — an interactive run's progress window with Cancel
 * and a picture of where a sampling job is heading (see gen-ui-progress.h). */
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
  GtkWidget        *bar, *label, *image;
  gint64            cancelled_at;   /* µs, 0: not cancelled */
  /* the latest picture of the x0 estimate, handed from the job's thread */
  GMutex            lock;
  guchar           *rgb;            /* [h][w][3], NULL: none new */
  int               rgb_w, rgb_h;
} Run;

/* The picture is shown at most this big (pixels, its longer side). */
#define PREVIEW_SIDE 256

/* In the job's thread. */
static void
run_progress (int step, int total, double elapsed, gpointer user_data)
{
  Run *r = user_data;

  g_atomic_int_set (&r->step, step);
  g_atomic_int_set (&r->total, total);
  g_atomic_int_set (&r->elapsed_ms, (gint) CLAMP (elapsed * 1000.0, 0.0, G_MAXINT));
}

/* In the job's thread: the core's picture of where the job is heading,
 * kept as 8-bit RGB for the window's next poll. */
static void
run_preview (const GenPixels *rgb, G_GNUC_UNUSED int step, G_GNUC_UNUSED int total,
             gpointer user_data)
{
  Run *r = user_data;
  gsize n = (gsize) rgb->width * rgb->height * 3;
  guchar *b = g_try_malloc (n);

  if (!b)
    return;
  for (gsize i = 0; i < n; i++)
    b[i] = (guchar) (CLAMP (rgb->data[i], 0.0f, 1.0f) * 255.0f + 0.5f);
  g_mutex_lock (&r->lock);
  g_free (r->rgb);
  r->rgb = b;
  r->rgb_w = rgb->width;
  r->rgb_h = rgb->height;
  g_mutex_unlock (&r->lock);
}

static void
free_rgb (guchar *pixels, G_GNUC_UNUSED gpointer data)
{
  g_free (pixels);
}

/* In the main thread: the newest picture into the window, scaled to fit. */
static void
show_preview (Run *r)
{
  guchar *b;
  int w, h, sw, sh;
  GdkPixbuf *pb, *scaled;

  g_mutex_lock (&r->lock);
  b = r->rgb, w = r->rgb_w, h = r->rgb_h;
  r->rgb = NULL;
  g_mutex_unlock (&r->lock);
  if (!b)
    return;
  pb = gdk_pixbuf_new_from_data (b, GDK_COLORSPACE_RGB, FALSE, 8, w, h, w * 3, free_rgb, NULL);
  sw = w >= h ? PREVIEW_SIDE : MAX (1, PREVIEW_SIDE * w / h);
  sh = w >= h ? MAX (1, PREVIEW_SIDE * h / w) : PREVIEW_SIDE;
  scaled = gdk_pixbuf_scale_simple (pb, sw, sh, GDK_INTERP_BILINEAR);
  if (scaled)
    {
      gtk_image_set_from_pixbuf (GTK_IMAGE (r->image), scaled);
      gtk_widget_show (r->image);
      g_object_unref (scaled);
    }
  g_object_unref (pb);
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
  show_preview (r);
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
  Run r = { 0 };
  GtkWidget *dialog, *vbox;
  GThread *thread;
  guint poll;

  r.job = job, r.data = data, r.title = title;
  opts->progress = run_progress;
  opts->progress_data = &r;
  opts->cancel = &r.cancel;
  opts->preview = run_preview;
  opts->preview_data = &r;
  g_mutex_init (&r.lock);

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
  /* where a sampling job is heading, once its first step is done */
  r.image = gtk_image_new ();
  gtk_box_pack_start (GTK_BOX (vbox), r.image, FALSE, FALSE, 0);
  g_signal_connect (dialog, "response", G_CALLBACK (run_response), &r);
  gtk_widget_show_all (dialog);
  gtk_widget_hide (r.image);

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
  opts->preview = NULL;
  opts->preview_data = NULL;
  g_free (r.rgb);
  g_mutex_clear (&r.lock);
  if (!r.ok)
    g_propagate_error (error, r.error);
  return r.ok;
}
