/* gen-pixels.c — GenPixels buffers (see gen-pixels.h).  Standalone (with
 * gen-memory.c): the CLI's image files build on it without the rest of the
 * core. */
#include "gen-pixels.h"
#include "gen-error.h"
#include "gen-memory.h"

#include <string.h>

gboolean
gen_pixels_init (GenPixels *px, int width, int height, int channels, GError **error)
{
  gsize n, bytes;
  char *what;
  gboolean ok;

  memset (px, 0, sizeof *px);
  if (width < 1 || height < 1 || channels < 1 || channels > 4
      || !g_size_checked_mul (&n, (gsize) width, (gsize) height)
      || !g_size_checked_mul (&n, n, (gsize) channels)
      || !g_size_checked_mul (&bytes, n, sizeof (float)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "an image of %d×%d with %d channels cannot be held", width, height, channels);
      return FALSE;
    }
  /* the size may come from a few bytes of a file's header: ask first */
  what = g_strdup_printf ("an image of %d×%d", width, height);
  ok = gen_memory_check (bytes, what, error);
  g_free (what);
  if (!ok)
    return FALSE;
  if (!(px->data = g_try_malloc0 (bytes)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "out of memory for an image of %d×%d (%.0f MB)", width, height, bytes / 1e6);
      return FALSE;
    }
  px->width = width;
  px->height = height;
  px->channels = channels;
  return TRUE;
}

void
gen_pixels_clear (GenPixels *px)
{
  g_free (px->data);
  memset (px, 0, sizeof *px);
}
