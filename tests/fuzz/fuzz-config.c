/* fuzz-config.c — libFuzzer target for the config.json reader (and so for
 * gen_json_check, which every untrusted JSON byte goes through first). */
#include "gen-config.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char *const keys[] = {
  "_class_name", "block_out_channels", "layers_per_block", "norm_eps", "sample_size",
  "down_block_types", "act_fn", "scaling_factor", "force_upcast", "attention_head_dim", "",
};

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenConfig *cfg;
  gsize i;

  cfg = gen_config_load_from_data ((const char *) data, (gssize) size, "fuzz/config.json",
                                   &error);
  if (cfg == NULL)
    {
      if (error == NULL)
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }

  (void) gen_config_class_name (cfg);
  (void) gen_config_path (cfg);
  for (i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const char *k = keys[i];
      gint64 iv, *ia = NULL;
      double dv, *da = NULL;
      gboolean bv;
      const char *sv;
      char **sa = NULL;
      guint n = 0;
      int req;

      if (gen_config_has (cfg, k) == gen_config_is_null (cfg, k))
        __builtin_trap ();
      for (req = 0; req < 2; req++)
        {
          gboolean has_default = req == 0;

          if (!gen_config_get_int (cfg, k, has_default, 1, &iv, &error))
            g_clear_error (&error);
          if (!gen_config_get_double (cfg, k, has_default, 0.5, &dv, &error))
            g_clear_error (&error);
          if (!gen_config_get_bool (cfg, k, has_default, TRUE, &bv, &error))
            g_clear_error (&error);
          if (!gen_config_get_string (cfg, k, has_default, NULL, &sv, &error))
            g_clear_error (&error);
        }
      if (gen_config_get_int_array (cfg, k, &ia, &n, &error))
        g_free (ia);
      else
        g_clear_error (&error);
      if (gen_config_get_double_array (cfg, k, &da, &n, &error))
        g_free (da);
      else
        g_clear_error (&error);
      if (gen_config_get_string_array (cfg, k, &sa, &n, &error))
        {
          if (sa == NULL || sa[n] != NULL)
            __builtin_trap ();
          g_strfreev (sa);
        }
      else
        g_clear_error (&error);
      if (error != NULL)
        __builtin_trap ();
    }
  gen_config_free (cfg);
  return 0;
}
