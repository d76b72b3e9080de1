/* gen-cli-output.c — the files a CLI command writes: claimed (checked, temp
 * file created) before the work, written into their temp files after it,
 * renamed over their targets all together at the end.
 *
 * Temp files are closed between the claim and the write, so a thousand
 * claimed images need no thousand open descriptors; the write opens the
 * temp file again without following links and checks it is still the file
 * created (same device and inode).
 */
#include "gen-cli-output.h"
#include "gen-cli-cleanup.h"
#include "gen-error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

typedef struct
{
  char    *path;     /* the target */
  char    *temp;     /* "PATH.XXXXXX" beside it, while it exists (else NULL) */
  int      slot;     /* temp's slot in gen-cli-cleanup, or -1 */
  int      bits;     /* an image's bits per sample (0: its own); -1: not an image */
  dev_t    dev;      /* of temp, as created */
  ino_t    ino;
  gboolean written;
} OutputFile;

struct _GenCliOutput
{
  GArray *files; /* OutputFile */
};

GenCliOutput *
gen_cli_output_new (void)
{
  GenCliOutput *o = g_new0 (GenCliOutput, 1);

  o->files = g_array_new (FALSE, TRUE, sizeof (OutputFile));
  return o;
}

/* Removes F's temp file, if any: unlinked first, then released, so a signal
 * in between finds at worst a name already gone. */
static void
drop_temp (OutputFile *f)
{
  if (f->temp == NULL)
    return;
  g_unlink (f->temp);
  gen_cli_cleanup_release (f->slot);
  f->slot = -1;
  g_clear_pointer (&f->temp, g_free);
}

/* Releases the claims from index FROM on. */
static void
drop_from (GenCliOutput *o, guint from)
{
  for (guint i = from; i < o->files->len; i++)
    {
      OutputFile *f = &g_array_index (o->files, OutputFile, i);

      drop_temp (f);
      g_free (f->path);
    }
  g_array_set_size (o->files, MIN (from, o->files->len));
}

void
gen_cli_output_free (GenCliOutput *o)
{
  if (o == NULL)
    return;
  drop_from (o, 0);
  g_array_unref (o->files);
  g_free (o);
}

/* Claims PATH: its target checked, its temp file created and held for the
 * signal cleanup.  BITS as in OutputFile. */
static int
claim (GenCliOutput *o, const char *path, int bits, GError **error)
{
  OutputFile f = { NULL, NULL, -1, bits, 0, 0, FALSE };
  struct stat st;
  sigset_t blocked;
  int mode, fd, e;

  for (guint i = 0; i < o->files->len; i++)
    if (strcmp (g_array_index (o->files, OutputFile, i).path, path) == 0)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: named twice as an output", path);
        return -1;
      }
  if ((bits >= 0 && !gen_image_check_format (path, bits, error))
      || !gen_image_check_target (path, &mode, error))
    return -1;

  f.temp = g_strdup_printf ("%s.XXXXXX", path);
  /* the cleanup signals wait while the file exists but is not held yet */
  gen_cli_cleanup_block (&blocked);
  fd = g_mkstemp_full (f.temp, O_RDWR | O_CLOEXEC, mode);
  e = errno;
  f.slot = fd >= 0 ? gen_cli_cleanup_hold (f.temp) : -1;
  gen_cli_cleanup_unblock (&blocked);
  if (fd < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write there: %s", path,
                   g_strerror (e));
      g_free (f.temp);
      return -1;
    }
  e = fstat (fd, &st) != 0 ? errno : 0;
  close (fd);
  if (e != 0 || f.slot < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot claim the file: %s", path,
                   e != 0 ? g_strerror (e) : "too many output files");
      drop_temp (&f);
      return -1;
    }
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.path = g_strdup (path);
  g_array_append_val (o->files, f);
  return (int) o->files->len - 1;
}

int
gen_cli_output_add_file (GenCliOutput *o, const char *path, GError **error)
{
  g_return_val_if_fail (o != NULL && path != NULL, -1);
  return claim (o, path, -1, error);
}

/* PATH with "-K" before its extension (or at its end). */
static char *
numbered (const char *path, int k)
{
  const char *dot = strrchr (path, '.'), *slash = strrchr (path, '/');

  if (!dot || (slash && dot < slash))
    return g_strdup_printf ("%s-%d", path, k);
  return g_strdup_printf ("%.*s-%d%s", (int) (dot - path), path, k, dot);
}

gboolean
gen_cli_output_add_images (GenCliOutput *o, const char *path, int count, int bits,
                           GError **error)
{
  guint first;

  g_return_val_if_fail (o != NULL && path != NULL && count >= 1, FALSE);

  first = o->files->len;
  for (int k = 0; k < count; k++)
    {
      char *p = count == 1 ? g_strdup (path) : numbered (path, k);
      int index = claim (o, p, bits, error);

      g_free (p);
      if (index < 0)
        {
          drop_from (o, first);
          return FALSE;
        }
    }
  return TRUE;
}

/* Opens F's temp file again for writing: no link followed, and it must be
 * the very file created. */
static int
reopen_temp (const OutputFile *f, GError **error)
{
  struct stat st;
  int fd = open (f->temp, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW), e;

  if (fd < 0)
    {
      e = errno;
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", f->path,
                   g_strerror (e));
      return -1;
    }
  if (fstat (fd, &st) != 0 || st.st_dev != f->dev || st.st_ino != f->ino)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO,
                   "%s: cannot write: its temp file %s was replaced", f->path, f->temp);
      close (fd);
      return -1;
    }
  return fd;
}

gboolean
gen_cli_output_write (GenCliOutput *o, guint index, const void *data, gsize len,
                      GError **error)
{
  OutputFile *f;
  const guint8 *p = data;
  int fd, e = 0;

  g_return_val_if_fail (o != NULL && index < o->files->len && (data != NULL || len == 0), FALSE);
  f = &g_array_index (o->files, OutputFile, index);
  g_return_val_if_fail (f->temp != NULL && !f->written, FALSE);

  if ((fd = reopen_temp (f, error)) < 0)
    return FALSE;
  while (len > 0 && e == 0)
    {
      ssize_t n = write (fd, p, MIN (len, (gsize) 1 << 30));

      if (n < 0 && errno != EINTR)
        e = errno;
      else if (n > 0)
        {
          p += n;
          len -= (gsize) n;
        }
    }
  if (e == 0 && fsync (fd) != 0)
    e = errno;
  if (close (fd) != 0 && e == 0 && errno != EINTR)
    e = errno;
  if (e != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", f->path,
                   g_strerror (e));
      return FALSE;
    }
  f->written = TRUE;
  return TRUE;
}

gboolean
gen_cli_output_write_image (GenCliOutput *o, guint index, const GenImage *img, GError **error)
{
  const OutputFile *f;
  guint8 *data = NULL;
  gsize len = 0;
  gboolean ok;

  g_return_val_if_fail (o != NULL && index < o->files->len, FALSE);
  f = &g_array_index (o->files, OutputFile, index);
  g_return_val_if_fail (f->bits >= 0, FALSE);

  ok = gen_image_encode (img, f->path, f->bits, &data, &len, error)
       && gen_cli_output_write (o, index, data, len, error);
  g_free (data);
  return ok;
}

gboolean
gen_cli_output_commit (GenCliOutput *o, GError **error)
{
  int mode;

  g_return_val_if_fail (o != NULL, FALSE);

  /* the targets may have changed during the work: all still fine, or none
   * is touched */
  for (guint i = 0; i < o->files->len; i++)
    {
      const OutputFile *f = &g_array_index (o->files, OutputFile, i);

      g_return_val_if_fail (f->written && f->temp != NULL, FALSE);
      if (!gen_image_check_target (f->path, &mode, error))
        return FALSE;
    }
  for (guint i = 0; i < o->files->len; i++)
    {
      OutputFile *f = &g_array_index (o->files, OutputFile, i);
      int e;

      if (g_rename (f->temp, f->path) != 0)
        {
          e = errno;
          g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot write: %s", f->path,
                       g_strerror (e));
          return FALSE;
        }
      /* renamed, then released: see drop_temp */
      gen_cli_cleanup_release (f->slot);
      f->slot = -1;
      g_clear_pointer (&f->temp, g_free);
    }
  return TRUE;
}
