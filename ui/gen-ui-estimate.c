/* gen-ui-estimate.c — "Estimated time: about 40 s" under a dialog: one
 * model evaluation is timed on this computer at the model's native size
 * (in a thread, cancelled when the dialog closes), then a run's time is
 * that × the evaluations its settings need × its area over the native
 * area.  A text-conditioned model is timed as a one-step generate with
 * the default guidance (two UNet batch rows), so its evaluation includes
 * the guidance's second row.  Rough by design: tiles, the VAE and the
 * first touch of the weights are not modelled. */
#include <glib/gi18n.h>

#include "gen-plugin-models.h"
#include "gen-ui.h"

/* One measurement, shared by its thread and the dialog; the dialog lets
 * go of it (owner NULL) when it closes, the thread when it is done. */
typedef struct
{
  gint            ref;
  gint            cancel;        /* the core reads it */
  GenPluginJob    job;
  char           *model, *vae, *default_dir;
  gboolean        ok;
  gboolean        latent;        /* a UNet on a VAE's latents */
  gboolean        text;          /* a text-conditioned model */
  int             size;          /* the edge measured on, pixels */
  double          eval_s;        /* one UNet evaluation at SIZE², seconds; 0 none */
  double          vae_s;         /* one VAE round trip at SIZE², seconds; 0 none */
  gboolean        done;          /* main thread only, as the next */
  GenUiEstimate  *owner;
} Measure;

struct _GenUiEstimate
{
  GtkWidget         *label;
  char              *default_dir;
  Measure           *measure;    /* the latest, or NULL */
  GenPluginSettings  s;          /* the latest settings shown (model, vae owned) */
  int                width, height;
};

static void
measure_unref (Measure *m)
{
  if (!g_atomic_int_dec_and_test (&m->ref))
    return;
  g_free (m->model);
  g_free (m->vae);
  g_free (m->default_dir);
  g_free (m);
}

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1e6;
}

typedef enum { TIME_VAE, TIME_DENOISE, TIME_GENERATE } TimedJob;

/* Times JOB on PX: twice when the first was quick (the first touches the
 * weights), the faster one; generate is one step. */
static double
time_job (GenPipeline *p, GenJobOptions *o, const GenPixels *px, GenPixels *out, TimedJob job)
{
  double best = 0.0;

  for (int i = 0; i < 2; i++)
    {
      gint64 start = g_get_monotonic_time ();
      GenJobOptions one_step = *o;
      gboolean ok;

      one_step.steps = 1;
      ok = job == TIME_VAE ? gen_job_vae (p, o, px, FALSE, out, NULL)
           : job == TIME_GENERATE ? gen_job_generate (p, &one_step, px->width, px->height, 1, out,
                                                      NULL)
           : gen_job_denoise (p, o, px, NULL, GEN_DENOISE_FAST, 25.0, 1.0, out, NULL, NULL);
      double t = seconds_since (start);

      if (!ok)
        return best;
      best = i == 0 ? t : MIN (best, t);
      if (t > 0.5)
        break;
    }
  return best;
}

static gboolean
measure_done (gpointer data)
{
  Measure *m = data;

  m->done = TRUE;
  if (m->owner && m->owner->measure == m)
    gen_ui_estimate_update (m->owner, &m->owner->s, m->owner->width, m->owner->height);
  measure_unref (m);
  return G_SOURCE_REMOVE;
}

static gpointer
measure_thread (gpointer data)
{
  Measure *m = data;
  GenPluginSettings s;
  GenPipeline *p;
  GenPixels px = { 0 }, out = { 0 };
  GenJobOptions o;

  gen_plugin_settings_init (&s, m->job);
  s.model = g_strdup (m->model);
  s.vae = g_strdup (m->vae);
  p = gen_plugin_load (&s, m->default_dir, NULL, NULL);
  gen_plugin_settings_clear (&s);
  gen_job_options_init (&o);
  o.cancel = &m->cancel;
  o.scratch_outputs = TRUE;
  m->size = p && gen_pipeline_native_size (p) > 0 ? gen_pipeline_native_size (p) : 256;
  if (p && gen_pixels_init (&px, m->size, m->size, 3, NULL)
      && gen_pixels_init (&out, m->size, m->size, 3, NULL))
    {
      for (int i = 0; i < m->size * m->size * 3; i++)
        px.data[i] = 0.25f + 0.5f * (float) ((i * 7919) % 101) / 101.0f;
      m->latent = gen_pipeline_unet (p) && gen_pipeline_vae (p);
      m->text = gen_plugin_model_takes_text (m->model);
      if (gen_pipeline_vae (p))
        m->vae_s = time_job (p, &o, &px, &out, TIME_VAE);
      if (gen_pipeline_unet (p))
        /* a fast denoise is one evaluation (and, on latents, a VAE round
         * trip), so is a one-step generate (with a decoding) */
        m->eval_s = MAX (time_job (p, &o, &px, &out, m->text ? TIME_GENERATE : TIME_DENOISE)
                         - m->vae_s, 1e-4);
      m->ok = !g_atomic_int_get (&m->cancel) && (m->eval_s > 0 || m->vae_s > 0);
    }
  gen_pixels_clear (&px);
  gen_pixels_clear (&out);
  gen_pipeline_free (p);
  g_idle_add (measure_done, m);
  return NULL;
}

GenUiEstimate *
gen_ui_estimate_new (const char *default_dir)
{
  GenUiEstimate *e = g_new0 (GenUiEstimate, 1);

  e->label = gtk_label_new (NULL);
  gen_ui_label_align_left (e->label);
  gimp_help_set_help_data (e->label, _("Measured on this computer with one step of the model; "
                                       "a rough guide"), NULL);
  e->default_dir = g_strdup (default_dir);
  gen_plugin_settings_init (&e->s, GEN_PLUGIN_GENERATE);
  return e;
}

GtkWidget *
gen_ui_estimate_label (GenUiEstimate *e)
{
  return e->label;
}

static void
measure_drop (GenUiEstimate *e)
{
  if (!e->measure)
    return;
  g_atomic_int_set (&e->measure->cancel, 1);
  e->measure->owner = NULL;
  measure_unref (e->measure);
  e->measure = NULL;
}

void
gen_ui_estimate_free (GenUiEstimate *e)
{
  measure_drop (e);
  gen_plugin_settings_clear (&e->s);
  g_free (e->default_dir);
  g_free (e);
}

/* The model evaluations S's job makes (VAE round trips in *VAE_TRIPS) with
 * a UNet (UNET) on latents (LATENT). */
static double
evaluations (const GenPluginSettings *s, gboolean unet, gboolean latent, double *vae_trips)
{
  const GenSamplerInfo *info = gen_sampler_info (s->opts.sampler);
  double steps = MAX (1, s->opts.steps) * (info ? MAX (1, info->order) : 1);
  int jump = MAX (1, s->jump), jumps = s->opts.steps > jump
                                       ? (s->opts.steps - jump + jump - 1) / jump : 0;

  *vae_trips = 0;
  switch (s->job)
    {
    case GEN_PLUGIN_GENERATE:
      return steps;
    case GEN_PLUGIN_DENOISE:
      return s->denoise_mode == GEN_DENOISE_FAST ? 1 : steps;
    case GEN_PLUGIN_VARY:
      return MAX (1.0, steps * s->strength);
    case GEN_PLUGIN_INPAINT:
      /* RePaint goes back JUMP steps RESAMPLE − 1 times at every jump point */
      return latent ? steps : s->opts.steps + (double) jumps * (MAX (1, s->resample) - 1) * jump;
    case GEN_PLUGIN_VAE:
      *vae_trips = 1;
      return 0;
    case GEN_PLUGIN_INTERPOLATE:
      /* latents: two encodings and a decoding per frame; else two
       * inversions and a sampling per frame */
      if (latent || !unet)
        {
          *vae_trips = (s->frames + 2) / 2.0;
          return 0;
        }
      return (2.0 + s->frames) * steps;
    default:
      return 0;
    }
}

void
gen_ui_estimate_update (GenUiEstimate *e, const GenPluginSettings *s, int width, int height)
{
  Measure *m = e->measure;
  double trips, evals, area, seconds;
  char *text, *when;

  if (s != &e->s)
    {
      char *model = g_strdup (s->model ? s->model : ""), *vae = g_strdup (s->vae ? s->vae : "");

      gen_plugin_settings_clear (&e->s);
      e->s = *s;
      e->s.model = model;
      e->s.vae = vae;
      /* the caller's: the estimate does not read them */
      e->s.prompt = e->s.negative_prompt = NULL;
      e->s.opts.prompt = e->s.opts.negative_prompt = NULL;
    }
  e->width = width;
  e->height = height;
  if (!m || m->job != s->job || g_strcmp0 (m->model, e->s.model) || g_strcmp0 (m->vae, e->s.vae))
    {
      measure_drop (e);
      m = e->measure = g_new0 (Measure, 1);
      m->ref = 2;
      m->job = s->job;
      m->model = g_strdup (e->s.model);
      m->vae = g_strdup (e->s.vae);
      m->default_dir = g_strdup (e->default_dir);
      m->owner = e;
      g_thread_unref (g_thread_new ("generative-estimate", measure_thread, m));
      gtk_label_set_text (GTK_LABEL (e->label), _("Estimated time: measuring the model…"));
      return;
    }
  if (!m->done)
    return;   /* still measuring */
  if (!m->ok)
    {
      gtk_label_set_text (GTK_LABEL (e->label), "");
      return;
    }
  evals = evaluations (&e->s, m->eval_s > 0, m->latent, &trips);
  if (m->text && e->s.opts.guidance <= 1.0)
    evals *= 0.5;   /* one batch row, not two */
  if (s->job == GEN_PLUGIN_GENERATE)
    {
      width = s->width ? s->width : m->size;
      height = s->height ? s->height : m->size;
    }
  if (s->job == GEN_PLUGIN_INPAINT)
    {
      /* the model sees the selection and as much context as the core takes */
      int c = MIN (s->context, MAX (32, MAX (width, height) / 2));

      width += 2 * c;
      height += 2 * c;
    }
  area = (double) MAX (1, width) * MAX (1, height) / ((double) m->size * m->size);
  seconds = area * (evals * m->eval_s + trips * m->vae_s);
  when = gen_ui_format_duration (seconds);
  /* TRANSLATORS: before a run: "Estimated time: about 40 s" */
  text = g_strdup_printf (_("Estimated time: %s"), when);
  gtk_label_set_text (GTK_LABEL (e->label), text);
  g_free (text);
  g_free (when);
}
