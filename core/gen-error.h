/* gen-error.h — the core's GError domain. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GEN_ERROR (gen_error_quark ())
GQuark gen_error_quark (void);

typedef enum
{
  GEN_ERROR_IO,          /* a file could not be opened, read or written */
  GEN_ERROR_FORMAT,      /* a file's bytes are not what they claim (bad header, offsets, JSON) */
  GEN_ERROR_MISSING,     /* a tensor or config key that must be there is not */
  GEN_ERROR_SHAPE,       /* a tensor has the wrong shape or dtype */
  GEN_ERROR_UNSUPPORTED, /* a valid config value or block type this core does not implement */
  GEN_ERROR_INVALID,     /* a bad argument from the caller (size, steps, strength, …) */
  GEN_ERROR_NO_MEMORY,   /* an allocation failed */
  GEN_ERROR_CANCELLED    /* the caller's cancel flag was raised */
} GenErrorCode;

G_END_DECLS
