/* gen-gimp3-run.c — one Generative procedure run in GIMP 3.0: arguments →
 * settings, the dialog, the selected drawables, then the shared run
 * (gen-plugin-run.c) through this GIMP's calls, which name images and
 * drawables by object. */
#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-gimp3.h"
#include "gen-gimp3-dialog.h"
#include "gen-plugin-run.h"
#include "gen-ui-progress.h"

void
gen_gimp3_settings_from_config (GimpProcedureConfig *config, GenPluginJob job,
                                GenPluginSettings *s)
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
  if (gen_plugin_job_takes_prompt (job))
    g_object_get (config, "prompt", &s->prompt, "negative-prompt", &s->negative_prompt,
                  "guidance", &s->opts.guidance, NULL);
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
      g_object_get (config, "jump", &s->jump, "resample", &s->resample,
                    "context", &s->context, NULL);
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

/* ---- the GenPluginHost of GIMP 3.0: items are objects ------------------------ */

static GimpImageBaseType
host_base_type (GenPluginItem image)
{
  return gimp_image_get_base_type (image);
}

static void
host_image_size (GenPluginItem image, int *width, int *height)
{
  *width = gimp_image_get_width (image);
  *height = gimp_image_get_height (image);
}

static gboolean
host_selection_bounds (GenPluginItem image, GeglRectangle *r)
{
  gboolean non_empty = FALSE;
  gint x1, y1, x2, y2;

  if (!gimp_selection_bounds (image, &non_empty, &x1, &y1, &x2, &y2) || !non_empty)
    return FALSE;
  *r = (GeglRectangle) { x1, y1, x2 - x1, y2 - y1 };
  return TRUE;
}

static GeglBuffer *
host_selection (GenPluginItem image)
{
  if (gimp_selection_is_empty (image))
    return NULL;
  return gimp_drawable_get_buffer (GIMP_DRAWABLE (gimp_image_get_selection (image)));
}

static void
host_undo_group (GenPluginItem image, gboolean start)
{
  if (start)
    gimp_image_undo_group_start (image);
  else
    gimp_image_undo_group_end (image);
}

static GenPluginItem
host_layer_new (GenPluginItem image, const char *name, int width, int height, gboolean gray,
                GError **error)
{
  GimpLayer *layer = gimp_layer_new (image, name, width, height,
                                     gray ? GIMP_GRAYA_IMAGE : GIMP_RGBA_IMAGE, 100.0,
                                     gimp_image_get_default_new_layer_mode (image));

  if (!layer || !gimp_image_insert_layer (image, layer, NULL, -1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, _("Could not add a layer: %s"),
                   gimp_pdb_get_last_error (gimp_get_pdb ()));
      return NULL;
    }
  return layer;
}

static char *
host_name (GenPluginItem drawable)
{
  return gimp_item_get_name (drawable);
}

static gboolean
host_is_gray (GenPluginItem drawable)
{
  return gimp_drawable_is_gray (drawable);
}

static gboolean
host_has_alpha (GenPluginItem drawable)
{
  return gimp_drawable_has_alpha (drawable);
}

static void
host_size (GenPluginItem drawable, int *width, int *height)
{
  *width = gimp_drawable_get_width (drawable);
  *height = gimp_drawable_get_height (drawable);
}

static gboolean
host_mask_bounds (GenPluginItem drawable, GeglRectangle *r)
{
  return gimp_drawable_mask_intersect (drawable, &r->x, &r->y, &r->width, &r->height);
}

static void
host_offsets (GenPluginItem drawable, int *x, int *y)
{
  gimp_drawable_get_offsets (drawable, x, y);
}

static void
host_set_offsets (GenPluginItem layer, int x, int y)
{
  gimp_layer_set_offsets (layer, x, y);
}

static GeglBuffer *
host_buffer (GenPluginItem drawable, gboolean shadow)
{
  return shadow ? gimp_drawable_get_shadow_buffer (drawable)
                : gimp_drawable_get_buffer (drawable);
}

static void
host_merge_shadow (GenPluginItem drawable)
{
  gimp_drawable_merge_shadow (drawable, TRUE);
}

static void
host_update (GenPluginItem drawable, const GeglRectangle *r)
{
  gimp_drawable_update (drawable, r->x, r->y, r->width, r->height);
}

static void
host_attach (GenPluginItem item, const GimpParasite *parasite)
{
  gimp_item_attach_parasite (item, parasite);
}

static const GenPluginHost host = {
  host_base_type, host_image_size, host_selection_bounds, host_selection, host_undo_group, host_layer_new,
  host_name, host_is_gray, host_has_alpha, host_size, host_mask_bounds, host_offsets,
  host_set_offsets, host_buffer, host_merge_shadow, host_update, host_attach,
};

/* ---- the run --------------------------------------------------------------------- */

/* Runs the job of S on the selected DRAWABLES.  On success the image has
 * the new layers (returned, NULL-terminated, in *LAYERS; the drawable
 * written in place when it is a layer) and nothing is changed otherwise. */
static gboolean
apply (GimpImage *image, GimpDrawable **drawables, int n_drawables, GenPluginSettings *s,
       GenPluginRunner runner, GimpLayer ***layers, GError **error)
{
  GenPluginItem sources[2] = { n_drawables > 0 ? drawables[0] : NULL,
                               n_drawables > 1 ? drawables[1] : NULL };
  GenPluginItem *items = NULL;
  int n_items = 0;

  *layers = NULL;
  if (!gen_plugin_check_image (&host, image, error))
    return FALSE;
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

  /* the thread count GIMP's preferences give (Edit > Preferences > System Resources) */
  s->opts.threads = MAX (1, gimp_get_num_processors ());
  if (!gen_plugin_apply (&host, image, sources, s, runner, &items, &n_items, error))
    return FALSE;
  *layers = g_new0 (GimpLayer *, n_items + 1);
  for (int i = 0; i < n_items; i++)
    (*layers)[i] = GIMP_IS_LAYER (items[i]) ? items[i] : NULL;
  g_free (items);
  return TRUE;
}

/* The dialog, told what the job would work on: the drawable, the size of
 * its region (for the estimate), its noise (denoise).  FALSE: cancelled. */
static gboolean
dialog (GimpProcedure *procedure, GimpProcedureConfig *config, GenPluginJob job,
        GimpImage *image, GimpDrawable **drawables, int n_drawables)
{
  GimpDrawable *drawable = n_drawables > 0 ? drawables[n_drawables - 1] : NULL;
  GeglRectangle read = { 0 }, write = { 0 };
  GenPluginSettings s;

  gen_gimp3_settings_from_config (config, job, &s);
  if (drawable && job != GEN_PLUGIN_GENERATE
      && !gen_plugin_job_region (&host, image, drawable, &s, &read, &write, NULL))
    write = (GeglRectangle) { 0, 0, 0, 0 };
  gen_plugin_settings_clear (&s);
  return gen_gimp3_dialog (procedure, config, job, GEN_GIMP3_BINARY, GEN_PLUGIN_DEFAULT_MODEL,
                           drawable, write.width, write.height,
                           job == GEN_PLUGIN_DENOISE && n_drawables == 1
                           ? gen_plugin_drawable_noise (&host, drawables[0]) : -1.0);
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

  if (run_mode == GIMP_RUN_INTERACTIVE && !dialog (procedure, config, job, image, drawables,
                                                   n_drawables))
    return gimp_procedure_new_return_values (procedure, GIMP_PDB_CANCEL, NULL);

  gen_gimp3_settings_from_config (config, job, &s);
  /* interactive: in a thread behind a window whose Cancel stops the core */
  if (!apply (image, drawables, n_drawables, &s,
              run_mode == GIMP_RUN_INTERACTIVE ? gen_ui_run_job : NULL, &layers, &error))
    {
      gen_plugin_settings_clear (&s);
      return gimp_procedure_new_return_values (procedure,
                                               g_error_matches (error, GEN_ERROR,
                                                                GEN_ERROR_CANCELLED)
                                               ? GIMP_PDB_CANCEL : GIMP_PDB_EXECUTION_ERROR,
                                               error);
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
