/* gen-ui-preview.c — what Denoise's drawable preview shows: the fast
 * denoise (one model evaluation) of the visible crop with the dialog's
 * noise level and strength, whatever mode the run will use.  The preview
 * widget itself is GIMP's (GimpDrawablePreview), and GIMP lays the result
 * over the original as the selection says. */
#include <glib/gi18n.h>

#include "gen-plugin-pixels.h"
#include "gen-ui.h"

guchar *
gen_ui_preview_denoise (const GenPluginSettings *s, const char *default_dir, GeglBuffer *buffer,
                        const GeglRectangle *rect, int channels, GError **error)
{
  static const char *const u8[] = { "Y' u8", "Y'A u8", "R'G'B' u8", "R'G'B'A u8" };
  const Babl *format = babl_format (u8[CLAMP (channels, 1, 4) - 1]);
  GenPipeline *p = gen_plugin_load (s, default_dir, NULL, error);
  GenPixels in = { 0 }, out = { 0 };
  GenJobOptions o = s->opts;
  guchar *bytes = NULL;

  if (!p)
    return NULL;
  o.progress = NULL;
  o.cancel = NULL;
  o.scratch_outputs = TRUE;
  if (gen_plugin_pixels_read (buffer, rect, channels, &in, error)
      && gen_pixels_init (&out, in.width, in.height, in.channels, error)
      && gen_job_denoise (p, &o, &in, NULL, GEN_DENOISE_FAST, s->noise_level, s->strength,
                          &out, NULL, error))
    {
      bytes = g_malloc ((gsize) rect->width * rect->height * channels);
      babl_process (babl_fish (gen_plugin_pixels_format (channels, buffer), format), out.data,
                    bytes, (long) rect->width * rect->height);
    }
  gen_pixels_clear (&in);
  gen_pixels_clear (&out);
  gen_pipeline_free (p);
  return bytes;
}
