/* gen-gimp2-run.c — one Generative procedure run in GIMP 2.10: drawable +
 * selection → GenPixels, the core job, then (only once it succeeded) new
 * layers or the drawable's pixels, in one undo group. */
#include <string.h>

#include <gegl.h>
#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-gimp2.h"
#include "gen-plugin-pixels.h"

#ifndef GEN_PLUGIN_DEFAULT_MODEL
#define GEN_PLUGIN_DEFAULT_MODEL "/usr/share/generative/generative-unet"
#endif

/* What one run reads: the source region of a drawable (in its own
 * coordinates), its pixels and the selection over it. */
typedef struct
{
  gint32         drawable;
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

static int
drawable_channels (gint32 d)
{
  return (gimp_drawable_is_gray (d) ? 1 : 3) + (gimp_drawable_has_alpha (d) ? 1 : 0);
}

/* Reads SRC->drawable: the whole of it (WHOLE) or the selection's bounds
 * within it, and the selection over that region (NULL when there is none). */
static gboolean
source_read (Source *src, gint32 image, gboolean whole, GError **error)
{
  GeglBuffer *buf;
  gint x, y, w, h, ox, oy;

  if (!gimp_drawable_mask_intersect (src->drawable, &x, &y, &w, &h))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("The selection does not touch the layer '%s'."),
                   gimp_item_get_name (src->drawable));
      return FALSE;
    }
  if (whole)
    {
      x = y = 0;
      w = gimp_drawable_width (src->drawable);
      h = gimp_drawable_height (src->drawable);
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
      buf = gimp_drawable_get_buffer (gimp_image_get_selection (image));
      gimp_drawable_offsets (src->drawable, &ox, &oy);
      src->mask = gen_plugin_mask_read (buf, &src->rect, ox, oy, error);
      g_object_unref (buf);
      if (!src->mask)
        return FALSE;
    }
  return TRUE;
}

/* The layer below LAYER in its stack, or -1. */
static gint32
layer_below (gint32 image, gint32 layer)
{
  gint32 parent = gimp_item_get_parent (layer);
  gint n = 0, pos = gimp_image_get_item_position (image, layer);
  gint32 *stack = parent > 0 ? gimp_item_get_children (parent, &n)
                             : gimp_image_get_layers (image, &n);
  gint32 below = pos >= 0 && pos + 1 < n ? stack[pos + 1] : -1;

  g_free (stack);
  return below;
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

double
gen_gimp2_estimate_noise (gint32 drawable)
{
  GeglBuffer *buf;
  gint x, y, w, h;
  double sigma;

  if (!gimp_item_is_valid (drawable) || !gimp_item_is_drawable (drawable)
      || !gimp_drawable_mask_intersect (drawable, &x, &y, &w, &h))
    return -1.0;
  buf = gimp_drawable_get_buffer (drawable);
  sigma = gen_plugin_estimate_noise (buf, GEGL_RECTANGLE (x, y, w, h),
                                     drawable_channels (drawable));
  g_object_unref (buf);
  return sigma;
}

static void
attach_settings (gint32 item, const GenPluginSettings *s, double sigma_used)
{
  char *text = gen_plugin_settings_serialize (s, sigma_used);
  GimpParasite *par = gimp_parasite_new (GEN_PLUGIN_PARASITE,
                                         GIMP_PARASITE_PERSISTENT | GIMP_PARASITE_UNDOABLE,
                                         strlen (text) + 1, text);

  gimp_item_attach_parasite (item, par);
  gimp_parasite_free (par);
  g_free (text);
}

/* Adds PX as a new layer at X, Y (image coordinates), always with alpha;
 * -1 on failure. */
static gint32
add_layer (gint32 image, const GenPixels *px, int x, int y, const char *name, GError **error)
{
  gboolean gray = px->channels <= 2;
  GenPixels with_alpha;
  GeglBuffer *buf;
  gint32 layer;

  if (!gen_plugin_pixels_convert (px, gray ? 2 : 4, &with_alpha, error))
    return -1;
  layer = gimp_layer_new (image, name, px->width, px->height,
                          gray ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE, 100.0,
                          gimp_image_get_default_new_layer_mode (image));
  if (layer < 0 || !gimp_image_insert_layer (image, layer, -1, -1))
    {
      gen_pixels_clear (&with_alpha);
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("Could not add a layer: %s"),
                   gimp_get_pdb_error ());
      return -1;
    }
  gimp_layer_set_offsets (layer, x, y);
  buf = gimp_drawable_get_buffer (layer);
  gen_plugin_pixels_write (buf, GEGL_RECTANGLE (0, 0, px->width, px->height), &with_alpha);
  g_object_unref (buf);
  gimp_drawable_update (layer, 0, 0, px->width, px->height);
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

gboolean
gen_gimp2_apply (gint32 image, gint32 drawable, GenPluginSettings *s, gint32 **layers,
                 int *n_layers, GError **error)
{
  Source src[2] = { { 0 }, { 0 } };
  GenPipeline *p = NULL;
  GenPixels *out = NULL;
  int n_out = 1, n_src = 0;
  double sigma_used = -1.0;
  gboolean ok = FALSE;

  *layers = NULL;
  *n_layers = 0;
  if (gimp_image_base_type (image) == GIMP_INDEXED)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("Generative works on RGB and grayscale images; convert this indexed "
                     "image with Image → Mode first."));
      return FALSE;
    }
  if (s->job != GEN_PLUGIN_GENERATE)
    {
      n_src = s->job == GEN_PLUGIN_INTERPOLATE ? 2 : 1;
      src[n_src - 1].drawable = drawable;
      if (!gimp_item_is_valid (drawable) || !gimp_item_is_drawable (drawable))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("No layer to work on."));
          return FALSE;
        }
      if (s->job == GEN_PLUGIN_INTERPOLATE)
        {
          src[0].drawable = gimp_item_is_layer (drawable) ? layer_below (image, drawable) : -1;
          if (src[0].drawable < 0)
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                           _("Interpolate runs from the layer below the active layer to the "
                             "active layer: there is no layer below '%s'."),
                           gimp_item_get_name (drawable));
              return FALSE;
            }
        }
    }

  p = gen_plugin_load (s, GEN_PLUGIN_DEFAULT_MODEL, error);
  if (!p)
    return FALSE;

  for (int i = 0; i < n_src; i++)
    if (!source_read (&src[i], image, s->job == GEN_PLUGIN_INPAINT
                      || s->job == GEN_PLUGIN_INTERPOLATE, error))
      goto done;

  if (!gen_plugin_prepare_outputs (p, s, &src[0].in, src[0].mask, &out, &n_out, error))
    goto done;

  s->opts.progress = progress_cb;
  s->opts.progress_data = (gpointer) _(progress_text[s->job]);
  gimp_progress_init (_(progress_text[s->job]));
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
  {
    GenPixels ins[2] = { src[0].in, n_src > 1 ? src[1].in : src[0].in };

    ok = gen_plugin_run_job (p, s, ins, src[0].mask, out, n_out, gimp_image_base_type (image) == GIMP_GRAY, &sigma_used, error);
  }
  if (!ok)
    goto done;

  /* The job succeeded: now, and only now, change the image. */
  gimp_progress_update (1.0);
  gimp_image_undo_group_start (image);
  *layers = g_new0 (gint32, n_out);
  if (s->new_layer)
    {
      int x = 0, y = 0;

      if (n_src)
        {
          gimp_drawable_offsets (src[0].drawable, &x, &y);
          x += src[0].rect.x;
          y += src[0].rect.y;
        }
      for (int i = 0; i < n_out && ok; i++)
        {
          char *name = gen_plugin_settings_layer_name (s, n_out > 1 ? i : -1);

          (*layers)[i] = add_layer (image, &out[i], x, y, name, error);
          g_free (name);
          if ((*layers)[i] < 0)
            ok = FALSE;
          else
            attach_settings ((*layers)[i], s, sigma_used);
        }
      *n_layers = n_out;
    }
  else
    {
      write_in_place (&src[0], &out[0]);
      attach_settings (src[0].drawable, s, sigma_used);
      (*layers)[0] = src[0].drawable;
      *n_layers = 1;
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
    {
      g_clear_pointer (layers, g_free);
      *n_layers = 0;
    }
  return ok;
}
