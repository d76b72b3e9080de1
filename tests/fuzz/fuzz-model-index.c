/* fuzz-model-index.c — libFuzzer target for the model_index.json reader
 * (pipeline class, component classes, component folder names). */
#include "gen-model-index.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenModelIndex idx;

  if (!gen_model_index_parse ((const char *) data, size, "fuzz/model_index.json", &idx, &error))
    {
      if (error == NULL)
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  /* a parsed index names only the folders it may: each loaded component is set */
  if (!idx.pipeline_name || !idx.unet || !idx.vae || !idx.text_encoder || !idx.tokenizer)
    __builtin_trap ();
  (void) strlen (idx.pipeline_name);
  gen_model_index_clear (&idx);
  return 0;
}
