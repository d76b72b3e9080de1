/* gen-memory.c — the memory a process can still take (see gen-memory.h). */
#include "gen-memory.h"
#include "gen-error.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* KEY's value in kB from a /proc file of "Key:   123 kB" lines, or 0. */
static guint64
proc_kb (const char *path, const char *key)
{
  char line[256];
  gsize klen = strlen (key);
  guint64 kb = 0;
  FILE *f = fopen (path, "r");

  if (!f)
    return 0;
  while (fgets (line, sizeof line, f))
    if (strncmp (line, key, klen) == 0 && line[klen] == ':')
      {
        kb = g_ascii_strtoull (line + klen + 1, NULL, 10);
        break;
      }
  fclose (f);
  return kb;
}

/* What the limit RES leaves above USED_KB (the process's use of it now). */
static guint64
limit_left (int res, guint64 used_kb)
{
  struct rlimit rl;
  guint64 used = used_kb * 1024;

  if (getrlimit (res, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return G_MAXUINT64;
  return (guint64) rl.rlim_cur > used ? (guint64) rl.rlim_cur - used : 0;
}

guint64
gen_memory_available (void)
{
  guint64 avail = proc_kb ("/proc/meminfo", "MemAvailable") * 1024;
  const char *cap = g_getenv ("GEN_MEMORY_AVAILABLE");

  if (avail == 0)
    avail = G_MAXUINT64;
  avail = MIN (avail, limit_left (RLIMIT_AS, proc_kb ("/proc/self/status", "VmSize")));
  avail = MIN (avail, limit_left (RLIMIT_DATA, proc_kb ("/proc/self/status", "VmData")));
  if (cap && *cap)
    avail = MIN (avail, g_ascii_strtoull (cap, NULL, 10));
  return avail;
}

gboolean
gen_memory_check (guint64 need, const char *what, GError **error)
{
  guint64 avail = gen_memory_available ();
  char *n, *a;

  if (need <= avail)
    return TRUE;
  n = g_format_size (need);
  a = g_format_size (avail);
  g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "not enough memory: %s needs %s, %s available",
               what, n, a);
  g_free (n);
  g_free (a);
  return FALSE;
}
