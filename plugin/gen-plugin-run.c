/* gen-plugin-run.c — one run of a Generative procedure, shared by both
 * GIMP front ends through their GenPluginHost (gen-plugin-run.h). */
#include <string.h>

#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-plugin-pixels.h"
#include "gen-plugin-models.h"
#include "gen-plugin-run.h"

/* What one run reads and writes: the region of a drawable it reads (in
 * the drawable's coordinates; for inpaint it may reach past the layer), the
 * part of it written, its pixels and the selection over the region. */
typedef struct
{
  GenPluginItem  drawable;
  GeglRectangle  rect;
  GeglRectangle  fill;       /* within rect */
  GenPixels      in;
  float         *mask;       /* [rect.height][rect.width] or NULL = everywhere */
} Source;

static void
source_clear (Source *src)
{
  gen_pixels_clear (&src->in);
  g_clear_pointer (&src->mask, g_free);
}

/* The channels read: the drawable's, and alpha always for inpaint, where
 * transparency means "unknown" (outpainting) */
static int
drawable_channels (const GenPluginHost *host, GenPluginItem d, gboolean alpha)
{
  return (host->is_gray (d) ? 1 : 3) + (alpha || host->has_alpha (d) ? 1 : 0);
}

static gboolean
no_touch (const GenPluginHost *host, GenPluginItem drawable, GError **error)
{
  char *name = host->name (drawable);

  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               _("The selection does not touch the layer '%s'."), name);
  g_free (name);
  return FALSE;
}

gboolean
gen_plugin_job_region (const GenPluginHost *host, GenPluginItem image, GenPluginItem drawable,
                       const GenPluginSettings *s, GeglRectangle *read, GeglRectangle *write,
                       GError **error)
{
  GeglRectangle layer, img = { 0, 0, 0, 0 }, sel;
  int c = s->context;

  if (s->job != GEN_PLUGIN_INPAINT)
    {
      if (!host->mask_bounds (drawable, read))
        return no_touch (host, drawable, error);
      if (s->job == GEN_PLUGIN_INTERPOLATE)
        {
          read->x = read->y = 0;
          host->size (drawable, &read->width, &read->height);
        }
      *write = *read;
      return TRUE;
    }
  /* inpaint: the selection's bounds in the image, with the context around */
  host->offsets (drawable, &layer.x, &layer.y);
  host->size (drawable, &layer.width, &layer.height);
  host->image_size (image, &img.width, &img.height);
  if (!host->selection_bounds (image, &sel) || !gegl_rectangle_intersect (&sel, &sel, &img))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("Inpaint fills the selection: select the area to fill first."));
      return FALSE;
    }
  /* written in place, only the layer's own pixels can change */
  if (!s->new_layer && !gegl_rectangle_intersect (&sel, &sel, &layer))
    return no_touch (host, drawable, error);
  *read = (GeglRectangle) { sel.x - c, sel.y - c, sel.width + 2 * c, sel.height + 2 * c };
  gegl_rectangle_intersect (read, read, &img);
  read->x -= layer.x;
  read->y -= layer.y;
  *write = (GeglRectangle) { sel.x - layer.x, sel.y - layer.y, sel.width, sel.height };
  return TRUE;
}

/* Reads SRC->drawable's region for S's job and the selection over it
 * (NULL when there is none). */
static gboolean
source_read (const GenPluginHost *host, Source *src, GenPluginItem image,
             const GenPluginSettings *s, GError **error)
{
  GeglBuffer *buf;
  int ox, oy;

  if (!gen_plugin_job_region (host, image, src->drawable, s, &src->rect, &src->fill, error))
    return FALSE;
  buf = host->buffer (src->drawable, FALSE);
  if (!gen_plugin_pixels_read (buf, &src->rect,
                               drawable_channels (host, src->drawable,
                                                  s->job == GEN_PLUGIN_INPAINT),
                               &src->in, error))
    {
      g_object_unref (buf);
      return FALSE;
    }
  g_object_unref (buf);

  buf = host->selection (image);
  if (buf)
    {
      host->offsets (src->drawable, &ox, &oy);
      src->mask = gen_plugin_mask_read (buf, &src->rect, ox, oy, error);
      g_object_unref (buf);
      if (!src->mask)
        return FALSE;
    }
  return TRUE;
}

gboolean
gen_plugin_check_image (const GenPluginHost *host, GenPluginItem image, GError **error)
{
  if (host->base_type (image) != GIMP_INDEXED)
    return TRUE;
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               _("Generative works on RGB and grayscale images; convert this indexed "
                 "image with Image → Mode first."));
  return FALSE;
}

double
gen_plugin_drawable_noise (const GenPluginHost *host, GenPluginItem drawable)
{
  GeglRectangle rect;
  GeglBuffer *buf;
  double sigma;

  if (!drawable || !host->mask_bounds (drawable, &rect))
    return -1.0;
  buf = host->buffer (drawable, FALSE);
  sigma = gen_plugin_estimate_noise (buf, &rect, drawable_channels (host, drawable, FALSE));
  g_object_unref (buf);
  return sigma;
}

/* ---- progress ------------------------------------------------------------------ */

static const char *const progress_text[GEN_PLUGIN_N_JOBS] = {
  N_("Generating"), N_("Denoising"), N_("Inpainting"), N_("Making a variation"),
  N_("VAE round trip"), N_("Interpolating"),
};

/* "Denoising: step 3 of 20"; USER_DATA is the translated "Denoising". */
static void
progress_cb (int step, int total, G_GNUC_UNUSED double elapsed, gpointer user_data)
{
  if (total <= 0)
    return;
  /* TRANSLATORS: progress text, "Denoising: step 3 of 20" */
  gimp_progress_set_text_printf (_("%s: step %d of %d"), (const char *) user_data, step, total);
  gimp_progress_update ((double) step / total);
}

/* ---- writing the results ----------------------------------------------------- */

static void
attach_settings (const GenPluginHost *host, GenPluginItem item, const GenPluginSettings *s,
                 const char *model_used, double sigma_used)
{
  char *text = gen_plugin_settings_serialize (s, model_used, sigma_used);
  GimpParasite *par = gimp_parasite_new (GEN_PLUGIN_PARASITE,
                                         GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                         strlen (text) + 1, text);

  host->attach (item, par);
  gimp_parasite_free (par);
  g_free (text);
}

/* Adds PX as a new layer at X, Y (image coordinates), always with alpha;
 * NULL on failure. */
static GenPluginItem
add_layer (const GenPluginHost *host, GenPluginItem image, const GenPixels *px, int x, int y,
           const char *name, GError **error)
{
  gboolean gray = px->channels <= 2;
  GenPixels with_alpha;
  GenPluginItem layer;
  GeglBuffer *buf;

  if (!gen_plugin_pixels_convert (px, gray ? 2 : 4, &with_alpha, error))
    return NULL;
  layer = host->layer_new (image, name, px->width, px->height, gray, error);
  if (!layer)
    {
      gen_pixels_clear (&with_alpha);
      return NULL;
    }
  host->set_offsets (layer, x, y);
  buf = host->buffer (layer, FALSE);
  gen_plugin_pixels_write (buf, GEGL_RECTANGLE (0, 0, px->width, px->height), &with_alpha);
  g_object_unref (buf);
  host->update (layer, GEGL_RECTANGLE (0, 0, px->width, px->height));
  gen_pixels_clear (&with_alpha);
  return layer;
}

/* Writes OUT into SRC's drawable in place at SRC->fill, through its
 * shadow buffer. */
static void
write_in_place (const GenPluginHost *host, const Source *src, const GenPixels *out)
{
  GeglBuffer *shadow = host->buffer (src->drawable, TRUE);

  gen_plugin_pixels_write (shadow, &src->fill, out);
  g_object_unref (shadow);
  host->merge_shadow (src->drawable);
  host->update (src->drawable, &src->fill);
}

/* The job succeeded: now, and only now, change the image — OUT[0..N_OUT)
 * as new layers over the part written (at the image's origin for
 * generate), or OUT[0] into the source drawable — in one undo group. */
static gboolean
write_results (const GenPluginHost *host, GenPluginItem image, const Source *src, int n_src,
               const GenPluginSettings *s, const GenPixels *out, int n_out,
               const char *model_used, double sigma_used, GenPluginItem *layers, GError **error)
{
  gboolean ok = TRUE;

  gimp_progress_update (1.0);
  host->undo_group (image, TRUE);
  if (s->new_layer)
    {
      int x = 0, y = 0;

      if (n_src)
        {
          host->offsets (src[0].drawable, &x, &y);
          x += src[0].fill.x;
          y += src[0].fill.y;
        }
      for (int i = 0; i < n_out && ok; i++)
        {
          char *name = gen_plugin_settings_layer_name (s, n_out > 1 ? i : -1);

          layers[i] = add_layer (host, image, &out[i], x, y, name, error);
          g_free (name);
          if (!layers[i])
            ok = FALSE;
          else
            attach_settings (host, layers[i], s, model_used, sigma_used);
        }
    }
  else
    {
      write_in_place (host, &src[0], &out[0]);
      attach_settings (host, src[0].drawable, s, model_used, sigma_used);
      layers[0] = src[0].drawable;
    }
  host->undo_group (image, FALSE);
  gimp_displays_flush ();
  return ok;
}

/* ---- the run --------------------------------------------------------------------- */

/* The core's part of a run, for a GenPluginRunner. */
typedef struct
{
  GenPipeline       *p;
  GenPluginSettings *s;
  GenPixels         *ins;       /* [2] */
  const float       *mask;
  GenPixels         *out;
  int                n_out;
  gboolean           gray_image;
  double            *sigma_used;
} Job;

static gboolean
job_run (gpointer data, GError **error)
{
  Job *j = data;

  return gen_plugin_run_job (j->p, j->s, j->ins, j->mask, j->out, j->n_out, j->gray_image,
                             j->sigma_used, error);
}

/* The runner without a window: here, with GIMP's progress. */
static gboolean
run_here (GenPluginJobFunc job, gpointer data, GenJobOptions *opts, const char *title,
          GError **error)
{
  opts->progress = progress_cb;
  opts->progress_data = (gpointer) title;
  gimp_progress_init (title);
  return job (data, error);
}

/* Inpaint's fill over the source, per pixel as the selection says, cut to
 * the part written (OUT is replaced). */
static gboolean
inpaint_compose (const Source *src, GenPixels *out, GError **error)
{
  GeglRectangle part = { src->fill.x - src->rect.x, src->fill.y - src->rect.y,
                         src->fill.width, src->fill.height };
  GenPixels composed;

  if (!gen_plugin_pixels_fill (&src->in, out, src->mask, &part, &composed, error))
    return FALSE;
  gen_pixels_clear (out);
  *out = composed;
  return TRUE;
}

gboolean
gen_plugin_apply (const GenPluginHost *host, GenPluginItem image, const GenPluginItem *sources,
                  GenPluginSettings *s, GenPluginRunner runner, GenPluginItem **layers,
                  int *n_layers, GError **error)
{
  Source src[2] = { { 0 }, { 0 } };
  GenPipeline *p = NULL;
  GenPixels *out = NULL;
  char *model_used = NULL;
  int n_out = 1;
  int n_src = s->job == GEN_PLUGIN_GENERATE ? 0 : s->job == GEN_PLUGIN_INTERPOLATE ? 2 : 1;
  double sigma_used = -1.0;
  gboolean ok = FALSE;

  *layers = NULL;
  *n_layers = 0;
  p = gen_plugin_load (s, GEN_PLUGIN_DEFAULT_MODEL, &model_used, error);
  if (!p)
    return FALSE;
  /* a model that takes no text ignores the prompt, as the dialog says */
  if (!gen_plugin_model_takes_text (model_used))
    gen_plugin_settings_forget_prompt (s);

  for (int i = 0; i < n_src; i++)
    {
      src[i].drawable = sources[i];
      if (!source_read (host, &src[i], image, s, error))
        goto done;
    }
  if (s->job == GEN_PLUGIN_INTERPOLATE
      && (src[0].in.width != src[1].in.width || src[0].in.height != src[1].in.height
          || src[0].in.channels != src[1].in.channels))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("Interpolate needs two layers of the same size and type "
                     "(%d×%d and %d×%d)."), src[0].in.width, src[0].in.height,
                   src[1].in.width, src[1].in.height);
      goto done;
    }

  if (!gen_plugin_prepare_outputs (p, s, &src[0].in, src[0].mask, &out, &n_out, error))
    goto done;

  {
    GenPixels ins[2] = { src[0].in, n_src > 1 ? src[1].in : src[0].in };
    Job job = { p, s, ins, src[0].mask, out, n_out, host->base_type (image) == GIMP_GRAY,
                &sigma_used };

    ok = (runner ? runner : run_here) (job_run, &job, &s->opts, _(progress_text[s->job]),
                                       error);
  }
  if (ok && s->job == GEN_PLUGIN_INPAINT)
    ok = inpaint_compose (&src[0], &out[0], error);
  if (ok)
    {
      *layers = g_new0 (GenPluginItem, n_out + 1);
      *n_layers = s->new_layer ? n_out : 1;
      ok = write_results (host, image, src, n_src, s, out, n_out, model_used, sigma_used,
                          *layers, error);
    }

done:
  for (int i = 0; out && i < n_out; i++)
    gen_pixels_clear (&out[i]);
  g_free (out);
  source_clear (&src[0]);
  source_clear (&src[1]);
  gen_pipeline_free (p);
  g_free (model_used);
  if (!ok)
    {
      g_clear_pointer (layers, g_free);
      *n_layers = 0;
    }
  return ok;
}
