/* gen-gimp2-run.c — one Generative procedure run in GIMP 2.10: which
 * drawables it reads (the active one; interpolate starts from the layer
 * below it), then the shared run (gen-plugin-run.c) through this GIMP's
 * calls, which name images and drawables by ID. */
#include <gegl.h>
#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-gimp2.h"
#include "gen-plugin-run.h"

/* ---- the GenPluginHost of GIMP 2.10: items are IDs -------------------------- */

#define ID(item) GPOINTER_TO_INT (item)

static GimpImageBaseType
host_base_type (GenPluginItem image)
{
  return gimp_image_base_type (ID (image));
}

static void
host_image_size (GenPluginItem image, int *width, int *height)
{
  *width = gimp_image_width (ID (image));
  *height = gimp_image_height (ID (image));
}

static gboolean
host_selection_bounds (GenPluginItem image, GeglRectangle *r)
{
  gboolean non_empty = FALSE;
  gint x1, y1, x2, y2;

  if (!gimp_selection_bounds (ID (image), &non_empty, &x1, &y1, &x2, &y2) || !non_empty)
    return FALSE;
  *r = (GeglRectangle) { x1, y1, x2 - x1, y2 - y1 };
  return TRUE;
}

static GeglBuffer *
host_selection (GenPluginItem image)
{
  if (gimp_selection_is_empty (ID (image)))
    return NULL;
  return gimp_drawable_get_buffer (gimp_image_get_selection (ID (image)));
}

static void
host_undo_group (GenPluginItem image, gboolean start)
{
  if (start)
    gimp_image_undo_group_start (ID (image));
  else
    gimp_image_undo_group_end (ID (image));
}

static GenPluginItem
host_layer_new (GenPluginItem image, const char *name, int width, int height, gboolean gray,
                GError **error)
{
  gint32 layer = gimp_layer_new (ID (image), name, width, height,
                                 gray ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE, 100.0,
                                 gimp_image_get_default_new_layer_mode (ID (image)));

  if (layer < 0 || !gimp_image_insert_layer (ID (image), layer, -1, -1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("Could not add a layer: %s"),
                   gimp_get_pdb_error ());
      return NULL;
    }
  return GINT_TO_POINTER (layer);
}

static char *
host_name (GenPluginItem drawable)
{
  return gimp_item_get_name (ID (drawable));
}

static gboolean
host_is_gray (GenPluginItem drawable)
{
  return gimp_drawable_is_gray (ID (drawable));
}

static gboolean
host_has_alpha (GenPluginItem drawable)
{
  return gimp_drawable_has_alpha (ID (drawable));
}

static void
host_size (GenPluginItem drawable, int *width, int *height)
{
  *width = gimp_drawable_width (ID (drawable));
  *height = gimp_drawable_height (ID (drawable));
}

static gboolean
host_mask_bounds (GenPluginItem drawable, GeglRectangle *r)
{
  return gimp_drawable_mask_intersect (ID (drawable), &r->x, &r->y, &r->width, &r->height);
}

static void
host_offsets (GenPluginItem drawable, int *x, int *y)
{
  gimp_drawable_offsets (ID (drawable), x, y);
}

static void
host_set_offsets (GenPluginItem layer, int x, int y)
{
  gimp_layer_set_offsets (ID (layer), x, y);
}

static GeglBuffer *
host_buffer (GenPluginItem drawable, gboolean shadow)
{
  return shadow ? gimp_drawable_get_shadow_buffer (ID (drawable))
                : gimp_drawable_get_buffer (ID (drawable));
}

static void
host_merge_shadow (GenPluginItem drawable)
{
  gimp_drawable_merge_shadow (ID (drawable), TRUE);
}

static void
host_update (GenPluginItem drawable, const GeglRectangle *r)
{
  gimp_drawable_update (ID (drawable), r->x, r->y, r->width, r->height);
}

static void
host_attach (GenPluginItem item, const GimpParasite *parasite)
{
  gimp_item_attach_parasite (ID (item), parasite);
}

static const GenPluginHost host = {
  host_base_type, host_image_size, host_selection_bounds, host_selection, host_undo_group, host_layer_new,
  host_name, host_is_gray, host_has_alpha, host_size, host_mask_bounds, host_offsets,
  host_set_offsets, host_buffer, host_merge_shadow, host_update, host_attach,
};

/* ---- the run --------------------------------------------------------------------- */

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

void
gen_gimp2_region_size (gint32 image, gint32 drawable, const GenPluginSettings *s, int *width,
                       int *height)
{
  GeglRectangle read, write = { 0, 0, 0, 0 };

  if (s->job != GEN_PLUGIN_GENERATE && gimp_item_is_valid (drawable)
      && gimp_item_is_drawable (drawable)
      && !gen_plugin_job_region (&host, GINT_TO_POINTER (image), GINT_TO_POINTER (drawable), s,
                                 &read, &write, NULL))
    write = (GeglRectangle) { 0, 0, 0, 0 };
  *width = write.width;
  *height = write.height;
}

double
gen_gimp2_estimate_noise (gint32 drawable)
{
  if (!gimp_item_is_valid (drawable) || !gimp_item_is_drawable (drawable))
    return -1.0;
  return gen_plugin_drawable_noise (&host, GINT_TO_POINTER (drawable));
}

gboolean
gen_gimp2_apply (gint32 image, gint32 drawable, GenPluginSettings *s, GenPluginRunner runner,
                 gint32 **layers, int *n_layers, GError **error)
{
  GenPluginItem sources[2] = { NULL, NULL }, *items = NULL;
  int n_src = 0;

  *layers = NULL;
  *n_layers = 0;
  if (!gen_plugin_check_image (&host, GINT_TO_POINTER (image), error))
    return FALSE;
  if (s->job != GEN_PLUGIN_GENERATE)
    {
      n_src = s->job == GEN_PLUGIN_INTERPOLATE ? 2 : 1;
      sources[n_src - 1] = GINT_TO_POINTER (drawable);
      if (!gimp_item_is_valid (drawable) || !gimp_item_is_drawable (drawable))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("No layer to work on."));
          return FALSE;
        }
      if (s->job == GEN_PLUGIN_INTERPOLATE)
        {
          gint32 below = gimp_item_is_layer (drawable) ? layer_below (image, drawable) : -1;

          if (below < 0)
            {
              char *name = gimp_item_get_name (drawable);

              g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                           _("Interpolate runs from the layer below the active layer to the "
                             "active layer: there is no layer below '%s'."), name);
              g_free (name);
              return FALSE;
            }
          sources[0] = GINT_TO_POINTER (below);
        }
    }

  if (!gen_plugin_apply (&host, GINT_TO_POINTER (image), sources, s, runner, &items, n_layers,
                         error))
    return FALSE;
  *layers = g_new0 (gint32, *n_layers);
  for (int i = 0; i < *n_layers; i++)
    (*layers)[i] = ID (items[i]);
  g_free (items);
  return TRUE;
}
