/* gen-gimp3-run.c — one Generative procedure run in GIMP 3.0: arguments →
 * settings, drawable + selection → GenPixels, the core job, then (only once
 * it succeeded) new layers or the drawable's pixels, in one undo group. */
#include <string.h>

#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-gimp3.h"
#include "gen-gimp3-dialog.h"
#include "gen-plugin-pixels.h"

#ifndef GEN_PLUGIN_DEFAULT_MODEL
#define GEN_PLUGIN_DEFAULT_MODEL "/usr/share/generative/generative-unet"
#endif

/* What one run reads and writes: the source region of the drawable (in
 * its own coordinates), its pixels and the selection over it. */
typedef struct
{
  GimpDrawable  *drawable;
  GeglRectangle  rect;
  GenPixels      in;
  float         *mask;       /* [rect.height][rect.width] or NULL = everywhere */
} Source;

static void
source_clear (Source *src)
{
  gen_pixels_clear (&src->in);
  g_clear_pointer (&src->mask, g_free);
}

static void
settings_from_config (GimpProcedureConfig *config, GenPluginJob job, GenPluginSettings *s)
{
  gint seed = 0, tile = 0;

  gen_plugin_settings_init (s, job);
  g_object_get (config, "model", &s->model, "vae", &s->vae, "seed", &seed,
                "tile-size", &tile, NULL);
  s->opts.seed = (guint64) seed;
  s->opts.tile = tile;
  if (job != GEN_PLUGIN_VAE)
    {
      s->opts.sampler = gimp_procedure_config_get_choice_id (config, "scheduler");
      s->opts.sigmas = gimp_procedure_config_get_choice_id (config, "sigmas");
      g_object_get (config, "steps", &s->opts.steps, "eta", &s->opts.eta, NULL);
    }
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    g_object_get (config, "new-layer", &s->new_layer, NULL);
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      g_object_get (config, "width", &s->width, "height", &s->height, NULL);
      break;
    case GEN_PLUGIN_DENOISE:
      g_object_get (config, "noise-level", &s->noise_level, "strength", &s->strength, NULL);
      s->denoise_mode = gimp_procedure_config_get_choice_id (config, "mode");
      s->denoise_quality = gimp_procedure_config_get_choice_id (config, "quality");
      break;
    case GEN_PLUGIN_INPAINT:
      g_object_get (config, "jump", &s->jump, "resample", &s->resample, NULL);
      break;
    case GEN_PLUGIN_VARY:
      g_object_get (config, "strength", &s->strength, NULL);
      break;
    case GEN_PLUGIN_VAE:
      g_object_get (config, "sample", &s->sample, NULL);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      g_object_get (config, "frames", &s->frames, NULL);
      break;
    default:
      break;
    }
}

static int
drawable_channels (GimpDrawable *d)
{
  return (gimp_drawable_is_gray (d) ? 1 : 3) + (gimp_drawable_has_alpha (d) ? 1 : 0);
}

/* Reads SRC->drawable: the whole of it (WHOLE) or the selection's bounds
 * within it, and the selection over that region (NULL when there is none). */
static gboolean
source_read (Source *src, GimpImage *image, gboolean whole, GError **error)
{
  GeglBuffer *buf;
  gint x, y, w, h, ox, oy;

  if (!gimp_drawable_mask_intersect (src->drawable, &x, &y, &w, &h))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("The selection does not touch the layer '%s'."),
                   gimp_item_get_name (GIMP_ITEM (src->drawable)));
      return FALSE;
    }
  if (whole)
    {
      x = y = 0;
      w = gimp_drawable_get_width (src->drawable);
      h = gimp_drawable_get_height (src->drawable);
    }
  src->rect = (GeglRectangle) { x, y, w, h };

  buf = gimp_drawable_get_buffer (src->drawable);
  if (!gen_plugin_pixels_read (buf, &src->rect, drawable_channels (src->drawable), &src->in,
                               error))
    {
      g_object_unref (buf);
      return FALSE;
    }
  g_object_unref (buf);

  if (!gimp_selection_is_empty (image))
    {
      buf = gimp_drawable_get_buffer (GIMP_DRAWABLE (gimp_image_get_selection (image)));
      gimp_drawable_get_offsets (src->drawable, &ox, &oy);
      src->mask = gen_plugin_mask_read (buf, &src->rect, ox, oy, error);
      g_object_unref (buf);
      if (!src->mask)
        return FALSE;
    }
  return TRUE;
}

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

/* The noise level of the part of DRAWABLE a denoise would read (the
 * selection's bounds), for the dialog; -1 when there is none. */
static double
estimate_noise (GimpDrawable *drawable)
{
  GeglBuffer *buf;
  gint x, y, w, h;
  double sigma;

  if (!drawable || !gimp_drawable_mask_intersect (drawable, &x, &y, &w, &h))
    return -1.0;
  buf = gimp_drawable_get_buffer (drawable);
  sigma = gen_plugin_estimate_noise (buf, GEGL_RECTANGLE (x, y, w, h),
                                     drawable_channels (drawable));
  g_object_unref (buf);
  return sigma;
}

static void
attach_settings (GimpItem *item, const GenPluginSettings *s, double sigma_used)
{
  char *text = gen_plugin_settings_serialize (s, sigma_used);
  GimpParasite *par = gimp_parasite_new (GEN_PLUGIN_PARASITE,
                                         GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                         strlen (text) + 1, text);

  gimp_item_attach_parasite (item, par);
  gimp_parasite_free (par);
  g_free (text);
}

/* Adds PX as a new layer at X, Y (image coordinates), always with alpha. */
static GimpLayer *
add_layer (GimpImage *image, const GenPixels *px, int x, int y, const char *name,
           GError **error)
{
  gboolean gray = px->channels <= 2;
  GenPixels with_alpha;
  GimpLayer *layer;
  GeglBuffer *buf;

  if (!gen_plugin_pixels_convert (px, gray ? 2 : 4, &with_alpha, error))
    return NULL;
  layer = gimp_layer_new (image, name, px->width, px->height,
                          gray ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE, 100.0,
                          gimp_image_get_default_new_layer_mode (image));
  if (!layer || !gimp_image_insert_layer (image, layer, NULL, -1))
    {
      gen_pixels_clear (&with_alpha);
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("Could not add a layer: %s"),
                   gimp_pdb_get_last_error (gimp_get_pdb ()));
      return NULL;
    }
  gimp_layer_set_offsets (layer, x, y);
  buf = gimp_drawable_get_buffer (GIMP_DRAWABLE (layer));
  gen_plugin_pixels_write (buf, GEGL_RECTANGLE (0, 0, px->width, px->height), &with_alpha);
  g_object_unref (buf);
  gimp_drawable_update (GIMP_DRAWABLE (layer), 0, 0, px->width, px->height);
  gen_pixels_clear (&with_alpha);
  return layer;
}

/* Writes OUT into SRC's drawable in place, through its shadow buffer. */
static void
write_in_place (const Source *src, const GenPixels *out)
{
  GeglBuffer *shadow = gimp_drawable_get_shadow_buffer (src->drawable);

  gen_plugin_pixels_write (shadow, &src->rect, out);
  g_object_unref (shadow);
  gimp_drawable_merge_shadow (src->drawable, TRUE);
  gimp_drawable_update (src->drawable, src->rect.x, src->rect.y, src->rect.width,
                        src->rect.height);
}

static const char *const progress_text[GEN_PLUGIN_N_JOBS] = {
  N_("Generating"), N_("Denoising"), N_("Inpainting"), N_("Making a variation"),
  N_("VAE round trip"), N_("Interpolating"),
};

/* Runs the job of S.  On success the image has the new layers (returned,
 * NULL-terminated, in *LAYERS) and nothing is changed otherwise. */
static gboolean
apply (GimpImage *image, GimpDrawable **drawables, int n_drawables, GenPluginSettings *s,
       GimpLayer ***layers, GError **error)
{
  Source src[2] = { { 0 }, { 0 } };
  GenPipeline *p = NULL;
  GenPixels *out = NULL;
  int n_out = 1, n_src = 0;
  double sigma_used = -1.0;
  gboolean ok = FALSE;

  *layers = NULL;
  if (gimp_image_get_base_type (image) == GIMP_INDEXED)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("Generative works on RGB and grayscale images; convert this indexed "
                     "image with Image → Mode first."));
      return FALSE;
    }
  if (s->job == GEN_PLUGIN_INTERPOLATE ? n_drawables != 2
      : s->job != GEN_PLUGIN_GENERATE && n_drawables != 1)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   s->job == GEN_PLUGIN_INTERPOLATE
                   ? _("Interpolate needs exactly two selected layers (%d selected).")
                   : _("This filter works on one selected layer (%d selected)."),
                   n_drawables);
      return FALSE;
    }

  p = gen_plugin_load (s, GEN_PLUGIN_DEFAULT_MODEL, error);
  if (!p)
    return FALSE;

  if (s->job != GEN_PLUGIN_GENERATE)
    {
      n_src = s->job == GEN_PLUGIN_INTERPOLATE ? 2 : 1;
      for (int i = 0; i < n_src; i++)
        {
          src[i].drawable = drawables[i];
          if (!source_read (&src[i], image, s->job == GEN_PLUGIN_INPAINT
                            || s->job == GEN_PLUGIN_INTERPOLATE, error))
            goto done;
        }
    }

  if (!gen_plugin_prepare_outputs (p, s, &src[0].in, src[0].mask, &out, &n_out, error))
    goto done;

  s->opts.progress = progress_cb;
  s->opts.progress_data = (gpointer) _(progress_text[s->job]);
  /* the thread count GIMP's preferences give (Edit > Preferences > System Resources) */
  s->opts.threads = MAX (1, gimp_get_num_processors ());
  gimp_progress_init (_(progress_text[s->job]));
  {
    GenPixels ins[2] = { src[0].in, n_src > 1 ? src[1].in : src[0].in };

    ok = gen_plugin_run_job (p, s, ins, src[0].mask, out, n_out, gimp_image_get_base_type (image) == GIMP_GRAY, &sigma_used, error);
  }
  if (!ok)
    goto done;

  /* The job succeeded: now, and only now, change the image. */
  gimp_progress_update (1.0);
  gimp_image_undo_group_start (image);
  *layers = g_new0 (GimpLayer *, n_out + 1);
  if (s->new_layer)
    {
      int x = 0, y = 0;

      if (n_src)
        {
          gimp_drawable_get_offsets (src[0].drawable, &x, &y);
          x += src[0].rect.x;
          y += src[0].rect.y;
        }
      for (int i = 0; i < n_out && ok; i++)
        {
          char *name = gen_plugin_settings_layer_name (s, n_out > 1 ? i : -1);

          (*layers)[i] = add_layer (image, &out[i], x, y, name, error);
          g_free (name);
          if (!(*layers)[i])
            ok = FALSE;
          else
            attach_settings (GIMP_ITEM ((*layers)[i]), s, sigma_used);
        }
    }
  else
    {
      write_in_place (&src[0], &out[0]);
      attach_settings (GIMP_ITEM (src[0].drawable), s, sigma_used);
      if (GIMP_IS_LAYER (src[0].drawable))
        (*layers)[0] = GIMP_LAYER (src[0].drawable);
    }
  gimp_image_undo_group_end (image);
  gimp_displays_flush ();

done:
  for (int i = 0; out && i < n_out; i++)
    gen_pixels_clear (&out[i]);
  g_free (out);
  source_clear (&src[0]);
  source_clear (&src[1]);
  gen_pipeline_free (p);
  if (!ok)
    g_clear_pointer (layers, g_free);
  return ok;
}

GimpValueArray *
gen_gimp3_run (GimpProcedure *procedure, GimpRunMode run_mode, GimpImage *image,
               GimpDrawable **drawables, GimpProcedureConfig *config, gpointer run_data)
{
  GenPluginJob job = GPOINTER_TO_INT (run_data);
  GenPluginSettings s;
  GimpValueArray *ret;
  GimpLayer **layers = NULL;
  GError *error = NULL;
  int n_drawables = 0;

  gegl_init (NULL, NULL);
  while (drawables && drawables[n_drawables])
    n_drawables++;

  if (run_mode == GIMP_RUN_INTERACTIVE
      && !gen_gimp3_dialog (procedure, config, job, GEN_GIMP3_BINARY, GEN_PLUGIN_DEFAULT_MODEL,
                            job == GEN_PLUGIN_DENOISE && n_drawables == 1
                            ? estimate_noise (drawables[0]) : -1.0))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  settings_from_config (config, job, &s);
  if (!apply (image, drawables, n_drawables, &s, &layers, &error))
    {
      gen_plugin_settings_clear (&s);
      return gimp_procedure_new_return_values (procedure, GIMP_PDB_EXECUTION_ERROR, error);
    }
  gen_plugin_settings_clear (&s);

  ret = gimp_procedure_new_return_values (procedure, GIMP_PDB_SUCCESS, NULL);
  if (job == GEN_PLUGIN_INTERPOLATE)
    g_value_set_boxed (gimp_value_array_index (ret, 1), layers);
  else
    g_value_set_object (gimp_value_array_index (ret, 1), layers[0]);
  g_free (layers);
  return ret;
}
