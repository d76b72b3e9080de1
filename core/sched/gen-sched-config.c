/* gen-sched-config.c — diffusers' scheduler_config.json: betas and ᾱ as
 * torch computes them in float32, and the keys the samplers read (see
 * gen-sched-config.h for which, and their defaults). */
#include "gen-sched-private.h"
#include "gen-config.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

/* betas_for_alpha_bar (cosine; Nichol & Dhariwal 2021 eq. 17, β capped at
 * 0.999), in Python double arithmetic, then float32. */
static void
betas_cosine (int n, float *betas)
{
  for (int i = 0; i < n; i++)
    {
      double t1 = (double) i / n, t2 = (double) (i + 1) / n;
      double a1 = pow (cos ((t1 + 0.008) / 1.008 * G_PI / 2), 2.0);
      double a2 = pow (cos ((t2 + 0.008) / 1.008 * G_PI / 2), 2.0);
      double b = 1 - a2 / a1;

      betas[i] = (float) (b < 0.999 ? b : 0.999);
    }
}

static gboolean
get_enum (GenConfig *cfg, const char *key, const char *const *names, guint n_names,
          gboolean *has, int *out, GError **error)
{
  const char *v;
  GString *list;

  if (gen_config_is_null (cfg, key))
    return TRUE;
  if (!gen_config_get_string (cfg, key, FALSE, NULL, &v, error))
    return FALSE;
  for (guint i = 0; i < n_names; i++)
    if (strcmp (v, names[i]) == 0)
      {
        *out = (int) i;
        if (has)
          *has = TRUE;
        return TRUE;
      }
  list = g_string_new (NULL);
  for (guint i = 0; i < n_names; i++)
    g_string_append_printf (list, "%s%s", i ? ", " : "", names[i]);
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s \"%s\" is not supported (supported: %s)", gen_config_path (cfg), key, v,
               list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

/* A boolean key that must be false (or absent) here. */
static gboolean
require_false (GenConfig *cfg, const char *key, GError **error)
{
  gboolean v;

  if (!gen_config_get_bool (cfg, key, TRUE, FALSE, &v, error))
    return FALSE;
  if (v)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED, "%s: %s true is not supported",
                   gen_config_path (cfg), key);
      return FALSE;
    }
  return TRUE;
}

/* A boolean key: JSON null is Python's None, which diffusers tests for
 * truth, so it reads as false (not as the default). */
static gboolean
get_opt_bool (GenConfig *cfg, const char *key, gboolean *has, gboolean *out, GError **error)
{
  if (!gen_config_contains (cfg, key))
    return TRUE;
  *has = TRUE;
  return gen_config_get_bool (cfg, key, TRUE, FALSE, out, error);
}

static gboolean
get_opt_double (GenConfig *cfg, const char *key, gboolean *has, double *out, GError **error)
{
  if (gen_config_is_null (cfg, key))
    return TRUE;
  *has = TRUE;
  if (!gen_config_get_double (cfg, key, FALSE, 0, out, error))
    return FALSE;
  if (!isfinite (*out))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: %s must be a finite number",
                   gen_config_path (cfg), key);
      return FALSE;
    }
  return TRUE;
}

static void
config_fill_ddpm_keys (SamplerKeys *k)
{
  /* what DDPMScheduler() saves: every key of its __init__ */
  k->has_spacing = k->has_offset = k->has_clip = k->has_clip_range = k->has_variance = TRUE;
  k->spacing = SPACING_LEADING;
  k->steps_offset = 0;
  k->clip_sample = TRUE;
  k->clip_sample_range = 1.0;
  k->variance_type = VAR_FIXED_SMALL;
}

/* Betas → alphas_cumprod, with the checks every sampler relies on:
 * 0 < β < 1 and ᾱ representable (> 0) in float32. */
static gboolean
config_finish (GenSchedConfig *sc, const char *where, GError **error)
{
  double acc = 1.0;

  for (int i = 0; i < sc->n_train; i++)
    if (!(sc->betas[i] > 0.0f && sc->betas[i] < 1.0f))
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                     "%s: beta %d is %g; every beta must lie strictly between 0 and 1", where, i,
                     (double) sc->betas[i]);
        return FALSE;
      }
  sc->ac = g_new (float, sc->n_train);
  sc->ac_d = g_new (double, sc->n_train);
  /* alphas = 1 - betas (float32); torch.cumprod accumulates in double on the CPU */
  for (int i = 0; i < sc->n_train; i++)
    {
      float alpha = 1.0f - sc->betas[i];

      acc *= alpha;
      sc->ac[i] = (float) acc;
      sc->ac_d[i] = sc->ac[i];
      if (!(sc->ac[i] > 0.0f))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: alphas_cumprod underflows to 0 at timestep %d; the betas are too large",
                       where, i);
          return FALSE;
        }
    }
  return TRUE;
}

GenSchedConfig *
gen_sched_config_new_default (void)
{
  GenSchedConfig *sc = g_new0 (GenSchedConfig, 1);

  sc->n_train = 1000;
  sc->prediction = GEN_PREDICTION_EPSILON;
  sc->betas = g_new (float, sc->n_train);
  gen_torch_linspace_f32 (0.0001, 0.02, sc->n_train, sc->betas);
  config_fill_ddpm_keys (&sc->keys);
  if (!config_finish (sc, "(defaults)", NULL))
    g_assert_not_reached ();
  return sc;
}

/* Python's json writes NaN, Infinity and -Infinity bare (diffusers saves
 * lambda_min_clipped = -inf that way); they are not JSON.  Returns a copy of
 * DATA in which each of them outside strings is "null" (the infinities
 * padded with spaces, so later line / column numbers stay right). */
static char *
neutralise_nonfinite (const char *data, gsize len, gsize *out_len)
{
  static const char *const words[] = { "-Infinity", "Infinity", "NaN" };
  GString *out = g_string_sized_new (len + 16);
  gboolean in_string = FALSE;

  for (gsize i = 0; i < len; i++)
    {
      gboolean replaced = FALSE;

      if (in_string)
        {
          if (data[i] == '\\' && i + 1 < len)
            g_string_append_c (out, data[i++]);
          else if (data[i] == '"')
            in_string = FALSE;
          g_string_append_c (out, data[i]);
          continue;
        }
      if (data[i] == '"')
        in_string = TRUE;
      for (guint w = 0; w < G_N_ELEMENTS (words) && !replaced; w++)
        {
          gsize wl = strlen (words[w]);

          if (len - i >= wl && memcmp (data + i, words[w], wl) == 0)
            {
              g_string_append (out, "null");
              for (gsize k = 4; k < wl; k++)
                g_string_append_c (out, ' ');
              i += wl - 1;
              replaced = TRUE;
            }
        }
      if (!replaced)
        g_string_append_c (out, data[i]);
    }
  *out_len = out->len;
  return g_string_free (out, FALSE);
}

/* What the file says about sampling: the class that saved it, and whether
 * it asks for Karras or exponential sigmas. */
static gboolean
config_model_choice (GenConfig *cfg, GenSchedConfig *sc, GError **error)
{
  const char *name = gen_config_class_name (cfg);
  gboolean dummy = FALSE;

  sc->class_name = g_strdup (name);
  if (!get_opt_bool (cfg, "use_karras_sigmas", &dummy, &sc->use_karras_sigmas, error)
      || !get_opt_bool (cfg, "use_exponential_sigmas", &dummy, &sc->use_exponential_sigmas, error))
    return FALSE;
  if (sc->use_karras_sigmas && sc->use_exponential_sigmas)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: use_karras_sigmas and use_exponential_sigmas are both true; only one "
                   "sigma schedule can be used", gen_config_path (cfg));
      return FALSE;
    }
  return TRUE;
}

static const char *const beta_schedule_names[] = { "linear", "scaled_linear", "squaredcos_cap_v2" };
static const char *const prediction_names[] = { "epsilon", "v_prediction", "sample" };
const char *const gen_sched_spacing_names[3] = { "leading", "trailing", "linspace" };
static const char *const variance_names[] = { "fixed_small", "fixed_small_log", "fixed_large" };
static const char *const final_names[] = { "zero", "sigma_min" };
static const char *const interpolation_names[] = { "linear" };
static const char *const timestep_type_names[] = { "discrete" };

static gboolean
config_parse (GenConfig *cfg, GenSchedConfig *sc, GError **error)
{
  const char *path = gen_config_path (cfg);
  SamplerKeys *k = &sc->keys;
  gint64 n_train, offset;
  double beta_start, beta_end;
  int beta_schedule = 0, prediction = 0, dummy = 0, v;

  if (!gen_config_get_int (cfg, "num_train_timesteps", TRUE, 1000, &n_train, error))
    return FALSE;
  if (n_train < 2 || n_train > GEN_SCHED_MAX_TRAIN_TIMESTEPS)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: num_train_timesteps %" G_GINT64_FORMAT " is out of range (2 .. %d)", path,
                   n_train, GEN_SCHED_MAX_TRAIN_TIMESTEPS);
      return FALSE;
    }
  sc->n_train = (int) n_train;

  /* refused settings first: their message is the useful one */
  if (!require_false (cfg, "thresholding", error)
      || !require_false (cfg, "rescale_betas_zero_snr", error)
      || !require_false (cfg, "use_flow_sigmas", error)
      || !get_enum (cfg, "interpolation_type", interpolation_names,
                    G_N_ELEMENTS (interpolation_names), NULL, &dummy, error)
      || !get_enum (cfg, "timestep_type", timestep_type_names, G_N_ELEMENTS (timestep_type_names),
                    NULL, &dummy, error))
    return FALSE;

  if (!get_enum (cfg, "prediction_type", prediction_names, G_N_ELEMENTS (prediction_names), NULL,
                 &prediction, error))
    return FALSE;
  sc->prediction = (GenPrediction) prediction;

  sc->betas = g_new (float, sc->n_train);
  if (!gen_config_is_null (cfg, "trained_betas"))
    {
      double *tb;
      guint n;

      if (!gen_config_get_double_array (cfg, "trained_betas", &tb, &n, error))
        return FALSE;
      if (n != (guint) sc->n_train)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: trained_betas has %u values but num_train_timesteps is %d", path, n,
                       sc->n_train);
          g_free (tb);
          return FALSE;
        }
      for (guint i = 0; i < n; i++)
        sc->betas[i] = (float) tb[i];   /* torch.tensor (trained_betas, dtype=float32) */
      g_free (tb);
      /* diffusers ignores beta_schedule then, except that DPM-Solver reads it */
      if (gen_config_has (cfg, "beta_schedule"))
        {
          const char *bs;

          if (!gen_config_get_string (cfg, "beta_schedule", FALSE, NULL, &bs, error))
            return FALSE;
          sc->cosine = strcmp (bs, "squaredcos_cap_v2") == 0;
        }
    }
  else
    {
      if (!gen_config_get_double (cfg, "beta_start", TRUE, 0.0001, &beta_start, error)
          || !gen_config_get_double (cfg, "beta_end", TRUE, 0.02, &beta_end, error)
          || !get_enum (cfg, "beta_schedule", beta_schedule_names,
                        G_N_ELEMENTS (beta_schedule_names), NULL, &beta_schedule, error))
        return FALSE;
      if (beta_schedule == 0)
        gen_torch_linspace_f32 (beta_start, beta_end, sc->n_train, sc->betas);
      else if (beta_schedule == 1)
        {
          /* "scaled_linear" (latent diffusion): linspace of √β, squared in float32 */
          if (!(beta_start >= 0 && beta_end >= 0))
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                           "%s: scaled_linear needs beta_start and beta_end >= 0", path);
              return FALSE;
            }
          gen_torch_linspace_f32 (pow (beta_start, 0.5), pow (beta_end, 0.5), sc->n_train, sc->betas);
          for (int i = 0; i < sc->n_train; i++)
            sc->betas[i] = sc->betas[i] * sc->betas[i];
        }
      else
        betas_cosine (sc->n_train, sc->betas);
      sc->cosine = beta_schedule == 2;
    }

  /* the keys whose default depends on the sampler */
  v = 0;
  if (!get_enum (cfg, "timestep_spacing", gen_sched_spacing_names,
                 G_N_ELEMENTS (gen_sched_spacing_names),
                 &k->has_spacing, &v, error))
    return FALSE;
  k->spacing = (Spacing) v;
  if (!gen_config_is_null (cfg, "steps_offset"))
    {
      if (!gen_config_get_int (cfg, "steps_offset", FALSE, 0, &offset, error))
        return FALSE;
      if (offset < 0 || offset > GEN_SCHED_MAX_TRAIN_TIMESTEPS)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: steps_offset %" G_GINT64_FORMAT " is out of range (0 .. %d)", path,
                       offset, GEN_SCHED_MAX_TRAIN_TIMESTEPS);
          return FALSE;
        }
      k->has_offset = TRUE;
      k->steps_offset = offset;
    }
  if (!get_opt_bool (cfg, "clip_sample", &k->has_clip, &k->clip_sample, error)
      || !get_opt_double (cfg, "clip_sample_range", &k->has_clip_range, &k->clip_sample_range,
                          error)
      || !get_opt_bool (cfg, "set_alpha_to_one", &k->has_alpha_one, &k->set_alpha_to_one, error)
      || !get_opt_double (cfg, "sigma_min", &k->has_sigma_min, &k->sigma_min, error)
      || !get_opt_double (cfg, "sigma_max", &k->has_sigma_max, &k->sigma_max, error)
      || !get_opt_double (cfg, "lambda_min_clipped", &k->has_lambda_min, &k->lambda_min_clipped,
                          error)
      || !get_opt_bool (cfg, "lower_order_final", &k->has_lower_final, &k->lower_order_final,
                        error)
      || !get_opt_bool (cfg, "euler_at_final", &k->has_euler_final, &k->euler_at_final, error)
      || !get_opt_bool (cfg, "skip_prk_steps", &k->has_skip_prk, &k->skip_prk_steps, error)
      || !get_opt_double (cfg, "timestep_scaling", &k->has_timestep_scaling,
                          &k->timestep_scaling, error)
      || !config_model_choice (cfg, sc, error))
    return FALSE;
  if (!gen_config_is_null (cfg, "original_inference_steps"))
    {
      gint64 v64;

      if (!gen_config_get_int (cfg, "original_inference_steps", FALSE, 0, &v64, error))
        return FALSE;
      if (v64 < 1 || v64 > GEN_SCHED_MAX_TRAIN_TIMESTEPS)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                       "%s: original_inference_steps %" G_GINT64_FORMAT " is out of range (1 .. %d)",
                       path, v64, GEN_SCHED_MAX_TRAIN_TIMESTEPS);
          return FALSE;
        }
      k->has_original_steps = TRUE;
      k->original_steps = (int) v64;
    }
  if (k->has_clip_range && k->clip_sample_range < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: clip_sample_range must be >= 0",
                   path);
      return FALSE;
    }
  if ((k->has_sigma_min && !(k->sigma_min > 0)) || (k->has_sigma_max && !(k->sigma_max > 0)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT, "%s: sigma_min and sigma_max must be > 0",
                   path);
      return FALSE;
    }
  v = 0;
  if (!get_enum (cfg, "variance_type", variance_names, G_N_ELEMENTS (variance_names),
                 &k->has_variance, &v, error))
    return FALSE;
  k->variance_type = (VarianceType) v;
  v = 0;
  if (!get_enum (cfg, "final_sigmas_type", final_names, G_N_ELEMENTS (final_names), &k->has_final,
                 &v, error))
    return FALSE;
  k->final_sigmas = (FinalSigmas) v;

  return config_finish (sc, path, error);
}

GenSchedConfig *
gen_sched_config_load (const char *path, GError **error)
{
  GenSchedConfig *sc;
  GMappedFile *map;
  GError *err = NULL;
  gsize len;

  if (path == NULL)
    return gen_sched_config_new_default ();
  if (g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file", path);
      return NULL;
    }
  /* mapped, not read: a huge file is refused before any of it is touched */
  if (!(map = g_mapped_file_new (path, FALSE, &err)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path, err->message);
      g_error_free (err);
      return NULL;
    }
  len = g_mapped_file_get_length (map);
  sc = gen_sched_config_load_from_data (len > 0 ? g_mapped_file_get_contents (map) : "", len,
                                        path, error);
  g_mapped_file_unref (map);
  return sc;
}

GenSchedConfig *
gen_sched_config_load_from_data (const char *data, gsize len, const char *name, GError **error)
{
  GenSchedConfig *sc;
  GenConfig *cfg;
  char *clean;
  gsize clean_len;

  if (len > GEN_SCHED_CONFIG_MAX_BYTES)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes is too big for a scheduler config (at most %u)",
                   name, len, GEN_SCHED_CONFIG_MAX_BYTES);
      return NULL;
    }
  clean = neutralise_nonfinite (data, len, &clean_len);
  cfg = gen_config_load_from_data (clean, (gssize) clean_len, name, error);
  g_free (clean);
  if (!cfg)
    return NULL;
  sc = g_new0 (GenSchedConfig, 1);
  if (!config_parse (cfg, sc, error))
    g_clear_pointer (&sc, gen_sched_config_free);
  gen_config_free (cfg);
  return sc;
}

void
gen_sched_config_free (GenSchedConfig *cfg)
{
  if (!cfg)
    return;
  g_free (cfg->betas);
  g_free (cfg->ac);
  g_free (cfg->ac_d);
  g_free (cfg->class_name);
  g_free (cfg);
}

int
gen_sched_config_num_train_timesteps (const GenSchedConfig *cfg)
{
  g_return_val_if_fail (cfg != NULL, 0);
  return cfg->n_train;
}

const double *
gen_sched_config_alphas_cumprod (const GenSchedConfig *cfg)
{
  g_return_val_if_fail (cfg != NULL, NULL);
  return cfg->ac_d;
}

GenPrediction
gen_sched_config_prediction_type (const GenSchedConfig *cfg)
{
  g_return_val_if_fail (cfg != NULL, GEN_PREDICTION_EPSILON);
  return cfg->prediction;
}
