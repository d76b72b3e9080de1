/* gen-cli-cleanup.c — files removed when a signal ends the program.
 *
 * A signal handler may only call async-signal-safe functions (unlink,
 * raise) and reach memory it cannot race with, so the paths sit in one
 * fixed table of slots, each an atomic pointer: the handler reads every
 * slot and unlinks what it finds.  The table is this program's one piece
 * of process-wide state, as a signal handler's must be; it belongs to the
 * CLI, never to the core.
 *
 * A slot is filled only once its file exists and emptied only once the file
 * is gone or renamed, so the handler never removes a file that is not ours.
 */
#include "gen-cli-cleanup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGXFSZ };

static const char *cleanup_slots[GEN_CLI_CLEANUP_SLOTS]; /* atomic; NULL: free */

static void
on_signal (int sig)
{
  int saved = errno;

  for (guint i = 0; i < G_N_ELEMENTS (cleanup_slots); i++)
    {
      const char *path = g_atomic_pointer_get (&cleanup_slots[i]);

      if (path != NULL)
        unlink (path);
    }
  errno = saved;
  /* SA_RESETHAND put back the default action; the signal is blocked while
   * we run, so it ends the program as soon as we return */
  raise (sig);
}

static void
install_handlers (void)
{
  struct sigaction sa = { 0 };

  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND | SA_RESTART;
  sigemptyset (&sa.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (cleanup_signals); i++)
    sigaddset (&sa.sa_mask, cleanup_signals[i]); /* one handler at a time */
  for (guint i = 0; i < G_N_ELEMENTS (cleanup_signals); i++)
    {
      struct sigaction old;

      if (sigaction (cleanup_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction (cleanup_signals[i], &sa, NULL);
    }
}

int
gen_cli_cleanup_hold (const char *path)
{
  static gsize installed = 0;

  g_return_val_if_fail (path != NULL, -1);

  if (g_once_init_enter (&installed))
    {
      install_handlers ();
      g_once_init_leave (&installed, 1);
    }
  for (int i = 0; i < GEN_CLI_CLEANUP_SLOTS; i++)
    if (g_atomic_pointer_compare_and_exchange (&cleanup_slots[i], NULL, path))
      return i;
  return -1;
}

void
gen_cli_cleanup_release (int slot)
{
  g_return_if_fail (slot >= -1 && slot < GEN_CLI_CLEANUP_SLOTS);

  if (slot >= 0)
    g_atomic_pointer_set (&cleanup_slots[slot], NULL);
}

void
gen_cli_cleanup_block (sigset_t *old)
{
  sigset_t set;

  sigemptyset (&set);
  for (guint i = 0; i < G_N_ELEMENTS (cleanup_signals); i++)
    sigaddset (&set, cleanup_signals[i]);
  pthread_sigmask (SIG_BLOCK, &set, old);
}

void
gen_cli_cleanup_unblock (const sigset_t *old)
{
  pthread_sigmask (SIG_SETMASK, old, NULL);
}
