/* gen-ui-preview.c — what Denoise's drawable preview shows: the fast
 * denoise (one model evaluation) of the visible crop with the dialog's
 * noise level and strength, whatever mode the run will use.  The preview
 * widget itself is GIMP's (GimpDrawablePreview), and GIMP lays the result
 * over the original as the selection says. */
#include <glib/gi18n.h>

#include "gen-plugin-pixels.h"
#include "gen-ui.h"

void
gen_ui_preview_denoise (GimpPreview *preview, const GenPluginSettings *s,
                        const char *default_dir, GeglBuffer *buffer, int channels)
{
  /* a GimpPreview draws 8-bit pixels of the drawable's channels */
  static const char *const u8[] = { "Y' u8", "Y'A u8", "R'G'B' u8", "R'G'B'A u8" };
  GenPipeline *p = gen_plugin_load (s, default_dir, NULL, NULL);
  GenPixels in = { 0 }, out = { 0 };
  GenJobOptions o = s->opts;
  GeglRectangle rect;
  guchar *bytes;

  /* a model that cannot be loaded: the model line says why */
  if (!p || channels < 1 || channels > 4)
    {
      gen_pipeline_free (p);
      return;
    }
  gimp_preview_get_position (preview, &rect.x, &rect.y);
  gimp_preview_get_size (preview, &rect.width, &rect.height);
  o.progress = NULL;
  o.cancel = NULL;
  o.scratch_outputs = TRUE;
  if (gen_plugin_pixels_read (buffer, &rect, channels, &in, NULL)
      && gen_pixels_init (&out, in.width, in.height, in.channels, NULL)
      && gen_job_denoise (p, &o, &in, NULL, GEN_DENOISE_FAST, s->noise_level, s->strength,
                          &out, NULL, NULL))
    {
      bytes = g_malloc ((gsize) rect.width * rect.height * channels);
      babl_process (babl_fish (gen_plugin_pixels_format (channels, buffer),
                               babl_format (u8[channels - 1])),
                    out.data, bytes, (long) rect.width * rect.height);
      gimp_preview_draw_buffer (preview, bytes, rect.width * channels);
      g_free (bytes);
    }
  gen_pixels_clear (&in);
  gen_pixels_clear (&out);
  gen_pipeline_free (p);
}
