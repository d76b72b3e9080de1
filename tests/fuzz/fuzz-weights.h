/* fuzz-weights.h — the model fuzzers' weights (see fuzz-weights.c) and
 * what they share. */
#pragma once

#include <glib.h>

/* The next models' weights: BYTES (LEN) read as float32, cycled, or zeros
 * when LEN < 4; at most MAX_FLOATS in all (then a SHAPE error). */
void fuzz_weights_set (const guint8 *bytes, gsize len, gsize max_floats);

/* A fresh folder for this process's inputs (deleted at exit). */
const char *fuzz_dir (void);
/* Writes DATA (LEN) to fuzz_dir ()/NAME; returns the path (static). */
const char *fuzz_write (const char *name, const void *data, gsize len);
