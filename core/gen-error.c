#include "gen-error.h"

G_DEFINE_QUARK (generative-error-quark, gen_error)
