/* gen-config.h — reading a diffusers config.json (json-glib), with messages
 * that name the file and the key.
 *
 * Getters take a default used when the key is absent or JSON null (pass
 * has_default = FALSE to make the key required); a present key of the wrong
 * JSON type is an error naming the file, the key and the expected type.
 * Numbers must be finite (a JSON 1e999 is Inf): no model or scheduler
 * value is meaningful as NaN or ±Inf.
 */
#pragma once

#include "gen-json.h"

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GenConfig GenConfig;

/* A config.json bigger than this is not a config (diffusers' and
 * transformers' are a few kB): gen_config_load refuses it before reading. */
#define GEN_CONFIG_MAX_BYTES (1024u * 1024u)

GenConfig  *gen_config_load (const char *path, GError **error);
GenConfig  *gen_config_load_from_data (const char *data, gssize len,
                                       const char *name, GError **error);
void        gen_config_free (GenConfig *cfg);

const char *gen_config_path (GenConfig *cfg);
/* "_class_name", or NULL if absent. */
const char *gen_config_class_name (GenConfig *cfg);

gboolean gen_config_has (GenConfig *cfg, const char *key);       /* present and not null */
gboolean gen_config_contains (GenConfig *cfg, const char *key);  /* present, null or not */
gboolean gen_config_is_null (GenConfig *cfg, const char *key);   /* absent or null */

gboolean gen_config_get_int (GenConfig *cfg, const char *key, gboolean has_default,
                             gint64 def, gint64 *out, GError **error);
gboolean gen_config_get_double (GenConfig *cfg, const char *key, gboolean has_default,
                                double def, double *out, GError **error);
/* A number > 0 (epsilons, scale factors): zero, a negative value and — as
 * for every number read — NaN or ±Inf are errors naming the key. */
gboolean gen_config_get_positive (GenConfig *cfg, const char *key, gboolean has_default,
                                  double def, double *out, GError **error);
gboolean gen_config_get_bool (GenConfig *cfg, const char *key, gboolean has_default,
                              gboolean def, gboolean *out, GError **error);
/* *OUT points into the config (valid until gen_config_free); DEF may be NULL. */
gboolean gen_config_get_string (GenConfig *cfg, const char *key, gboolean has_default,
                                const char *def, const char **out, GError **error);
/* Arrays: a newly allocated array in *OUT (g_free) and its length in *N. */
gboolean gen_config_get_int_array (GenConfig *cfg, const char *key,
                                   gint64 **out, guint *n, GError **error);
gboolean gen_config_get_double_array (GenConfig *cfg, const char *key,
                                      double **out, guint *n, GError **error);
/* NULL-terminated; g_strfreev. */
gboolean gen_config_get_string_array (GenConfig *cfg, const char *key,
                                      char ***out, guint *n, GError **error);

G_END_DECLS
