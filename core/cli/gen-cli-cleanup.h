/* gen-cli-cleanup.h — files removed when a signal ends the program.
 *
 * The CLI's output files live as temp files beside their targets from
 * before the work until they are renamed at the end (gen-cli-output.c).
 * While any is held here, SIGINT, SIGTERM, SIGHUP and SIGXFSZ (a write past
 * `ulimit -f`) unlink them all and then end the program with the signal's
 * default action, so the exit status still names the signal.  A signal
 * that was ignored when the program started stays ignored.
 */
#pragma once

#include <glib.h>
#include <signal.h>

G_BEGIN_DECLS

/* How many files may be held at once (a --count 1000 job's images and its
 * --raw tensor fit). */
#define GEN_CLI_CLEANUP_SLOTS 1024

/* Holds PATH, an existing file of ours, for removal on a signal; PATH must
 * stay valid and unchanged until it is released.  Returns its slot, or -1
 * when all slots are taken.  Installs the handlers on first use. */
int  gen_cli_cleanup_hold (const char *path);

/* Forgets SLOT (from gen_cli_cleanup_hold; -1 is ignored).  Call it after
 * the file is removed or renamed, never before: a signal in between then
 * unlinks a name that is already gone, which is harmless. */
void gen_cli_cleanup_release (int slot);

/* Blocks the cleanup signals (the previous mask into OLD) until
 * gen_cli_cleanup_unblock (OLD): around creating a file and holding it, so
 * a signal between the two is handled once the file is held. */
void gen_cli_cleanup_block (sigset_t *old);
void gen_cli_cleanup_unblock (const sigset_t *old);

G_END_DECLS
