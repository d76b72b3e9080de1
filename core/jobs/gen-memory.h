/* gen-memory.h — how much memory this process can still take, and a
 * refusal that gives the figures, for the jobs and the front ends' loaders.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The bytes this process can still allocate: the least of the machine's
 * MemAvailable (/proc/meminfo) and what the address-space and data limits
 * (RLIMIT_AS, RLIMIT_DATA) leave above what it uses now; G_MAXUINT64 when
 * none of them is known.  GEN_MEMORY_AVAILABLE (bytes) in the environment
 * caps it further, for tests. */
guint64  gen_memory_available (void);

/* TRUE when NEED bytes fit in gen_memory_available (), else FALSE with a
 * NO_MEMORY error "not enough memory: WHAT needs 9.1 GB, 3.2 GB available"
 * (sizes as g_format_size writes them). */
gboolean gen_memory_check (guint64 need, const char *what, GError **error);

G_END_DECLS
