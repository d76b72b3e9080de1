/* fuzz-files.c — a scratch folder for the fuzzers that read files. */
#include "fuzz-weights.h"

#include <glib/gstdio.h>
#include <stdlib.h>

static char *dir;

static void
remove_dir (void)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d)))
    {
      char *p = g_build_filename (dir, name, NULL);
      g_unlink (p);
      g_free (p);
    }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

const char *
fuzz_dir (void)
{
  if (!dir)
    {
      dir = g_dir_make_tmp ("gen-fuzz-XXXXXX", NULL);
      if (!dir)
        __builtin_trap ();
      atexit (remove_dir);
    }
  return dir;
}

const char *
fuzz_write (const char *name, const void *data, gsize len)
{
  static char *path;

  g_free (path);
  path = g_build_filename (fuzz_dir (), name, NULL);
  if (!g_file_set_contents (path, data, (gssize) len, NULL))
    __builtin_trap ();
  return path;
}
