/* gen-sched.c — diffusers' schedulers: config, schedules, steppers.
 *
 * Every formula is written in the order and precision diffusers evaluates
 * it (see gen-sched.h): numpy float64 for schedules, torch float32 for
 * alphas_cumprod, sigmas and every per-step coefficient and tensor update.
 * The file is compiled as ISO C11, so GCC does not contract a*b+c into an
 * FMA; the one place torch does (linspace) calls fmaf() explicitly. */
#include "gen-sched.h"
#include "gen-config.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

/* ---- names --------------------------------------------------------------------- */

typedef enum { SPACING_LEADING, SPACING_TRAILING, SPACING_LINSPACE } Spacing;
typedef enum { VAR_FIXED_SMALL, VAR_FIXED_SMALL_LOG, VAR_FIXED_LARGE } VarianceType;
typedef enum { FINAL_ZERO, FINAL_SIGMA_MIN } FinalSigmas;

static const char *const sampler_names[] = { "ddpm", "ddim", "euler", "euler_a", "heun", "dpmpp_2m" };
static const struct { const char *alias; GenSamplerKind kind; } sampler_aliases[] = {
  { "euler-a", GEN_SAMPLER_EULER_A },      { "euler_ancestral", GEN_SAMPLER_EULER_A },
  { "dpm++2m", GEN_SAMPLER_DPMPP_2M },     { "dpm++_2m", GEN_SAMPLER_DPMPP_2M },
  { "dpmpp-2m", GEN_SAMPLER_DPMPP_2M },
};
static const char *const schedule_names[] = { "default", "karras", "exponential" };

gboolean
gen_sampler_kind_from_name (const char *name, GenSamplerKind *out, GError **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  for (guint i = 0; name && i < G_N_ELEMENTS (sampler_names); i++)
    if (strcmp (name, sampler_names[i]) == 0)
      {
        *out = (GenSamplerKind) i;
        return TRUE;
      }
  for (guint i = 0; name && i < G_N_ELEMENTS (sampler_aliases); i++)
    if (strcmp (name, sampler_aliases[i].alias) == 0)
      {
        *out = sampler_aliases[i].kind;
        return TRUE;
      }
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               "unknown sampler '%s' (valid: ddpm, ddim, euler, euler_a, heun, dpmpp_2m)",
               name ? name : "(null)");
  return FALSE;
}

const char *
gen_sampler_kind_name (GenSamplerKind kind)
{
  return (guint) kind < G_N_ELEMENTS (sampler_names) ? sampler_names[kind] : "?";
}

gboolean
gen_sigma_schedule_from_name (const char *name, GenSigmaSchedule *out, GError **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  for (guint i = 0; name && i < G_N_ELEMENTS (schedule_names); i++)
    if (strcmp (name, schedule_names[i]) == 0)
      {
        *out = (GenSigmaSchedule) i;
        return TRUE;
      }
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               "unknown sigma schedule '%s' (valid: default, karras, exponential)",
               name ? name : "(null)");
  return FALSE;
}

const char *
gen_sigma_schedule_name (GenSigmaSchedule schedule)
{
  return (guint) schedule < G_N_ELEMENTS (schedule_names) ? schedule_names[schedule] : "?";
}

/* ---- the config ------------------------------------------------------------------ */

/* Keys whose default depends on the sampler's diffusers class: HAS says the
 * file (or the DDPM default config) set them. */
typedef struct
{
  gboolean has_spacing, has_offset, has_clip, has_clip_range, has_alpha_one, has_variance,
           has_final, has_sigma_min, has_sigma_max, has_lambda_min, has_lower_final,
           has_euler_final;
  Spacing      spacing;
  gint64       steps_offset;
  gboolean     clip_sample;
  double       clip_sample_range;
  gboolean     set_alpha_to_one;
  VarianceType variance_type;
  FinalSigmas  final_sigmas;
  double       sigma_min, sigma_max;   /* karras / exponential range overrides */
  double       lambda_min_clipped;
  gboolean     lower_order_final, euler_at_final;
} SamplerKeys;

struct _GenSchedConfig
{
  int           n_train;
  GenPrediction prediction;
  float        *betas;          /* [n_train] */
  float        *ac;             /* [n_train] ᾱ, float32 as torch.cumprod gives it */
  double       *ac_d;           /* [n_train] the same values as double */
  gboolean      cosine;         /* beta_schedule is squaredcos_cap_v2 (DPM-Solver then
                                   leaves its karras timesteps unrounded) */
  SamplerKeys   keys;
};

/* torch.linspace (START, END, N, dtype=float32) on the CPU, as torch 1.13's
 * vectorised kernel (AVX2: 8 lanes, blocks of 16) computes it: element i is
 * fma(step, i, start) in the first half and fma(-step, N-1-i, end) in the
 * second, except that inside a vector the lanes are base + k·step from the
 * lane-0 value.  Bit-exact, so alphas_cumprod (and the timesteps derived
 * from it) match the reference exactly. */
static void
torch_linspace_f32 (double start_d, double end_d, int n, float *out)
{
  const int lanes = 8;
  float start = (float) start_d, end = (float) end_d;
  float step;
  int half = n / 2, i = 0;

  if (n == 1)
    {
      out[0] = start;
      return;
    }
  step = (end - start) / (float) (n - 1);
  for (; i + 2 * lanes <= n; i += lanes)
    {
      float base = i < half ? fmaf (step, (float) i, start) : fmaf (-step, (float) (n - i - 1), end);

      for (int k = 0; k < lanes; k++)
        {
          float d = (float) k * step;

          out[i + k] = base + d;
        }
    }
  for (; i < n; i++)
    out[i] = i < half ? fmaf (step, (float) i, start) : fmaf (-step, (float) (n - i - 1), end);
}

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
  torch_linspace_f32 (0.0001, 0.02, sc->n_train, sc->betas);
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

static const char *const beta_schedule_names[] = { "linear", "scaled_linear", "squaredcos_cap_v2" };
static const char *const prediction_names[] = { "epsilon", "v_prediction", "sample" };
static const char *const spacing_names[] = { "leading", "trailing", "linspace" };
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
        torch_linspace_f32 (beta_start, beta_end, sc->n_train, sc->betas);
      else if (beta_schedule == 1)
        {
          /* "scaled_linear" (latent diffusion): linspace of √β, squared in float32 */
          if (!(beta_start >= 0 && beta_end >= 0))
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_FORMAT,
                           "%s: scaled_linear needs beta_start and beta_end >= 0", path);
              return FALSE;
            }
          torch_linspace_f32 (pow (beta_start, 0.5), pow (beta_end, 0.5), sc->n_train, sc->betas);
          for (int i = 0; i < sc->n_train; i++)
            sc->betas[i] = sc->betas[i] * sc->betas[i];
        }
      else
        betas_cosine (sc->n_train, sc->betas);
      sc->cosine = beta_schedule == 2;
    }

  /* the keys whose default depends on the sampler */
  v = 0;
  if (!get_enum (cfg, "timestep_spacing", spacing_names, G_N_ELEMENTS (spacing_names),
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
      || !get_opt_bool (cfg, "euler_at_final", &k->has_euler_final, &k->euler_at_final, error))
    return FALSE;
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
  GenConfig *cfg;
  GError *err = NULL;
  char *data, *clean;
  gsize len, clean_len;

  if (path == NULL)
    return gen_sched_config_new_default ();
  if (g_file_test (path, G_FILE_TEST_EXISTS) && !g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: not a regular file", path);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, &len, &err))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO, "%s: cannot read: %s", path, err->message);
      g_error_free (err);
      return NULL;
    }
  clean = neutralise_nonfinite (data, len, &clean_len);
  g_free (data);
  cfg = gen_config_load_from_data (clean, (gssize) clean_len, path, error);
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

/* ---- numpy, as diffusers' set_timesteps uses it ---------------------------------- */

/* np.linspace (START, STOP, NUM) in float64: i·step + start, the last = stop. */
static void
np_linspace (double start, double stop, int num, double *out)
{
  int div = num - 1;
  double delta = stop - start, step;

  if (div <= 0)
    {
      if (num == 1)
        out[0] = 0.0 * delta + start;
      return;
    }
  step = delta / div;
  for (int i = 0; i < num; i++)
    {
      double y;

      if (step == 0)
        {
          y = (double) i / div;
          y = y * delta;
        }
      else
        y = (double) i * step;
      out[i] = y + start;
    }
  out[num - 1] = stop;
}

/* np.arange (START, 0, -RATIO) for an integer START: its length is
 * ceil(-START / -RATIO) and element i >= 2 is start + i·(b1 − start) with
 * b1 = start − ratio (numpy's DOUBLE_fill).  That length can be one more
 * than START / RATIO suggests.  Returns the count written to OUT (which has
 * room for MAX). */
static int
np_arange_down (double start, double ratio, double *out, int max)
{
  double len_d = ceil ((0.0 - start) / -ratio);
  int len = len_d > max ? max + 1 : (int) len_d;
  double b1 = start + -ratio, delta = b1 - start;

  if (len > max)
    return -1;
  for (int i = 0; i < len; i++)
    {
      if (i == 0)
        out[i] = start;
      else if (i == 1)
        out[i] = b1;
      else
        {
          double d = (double) i * delta;

          out[i] = start + d;
        }
    }
  return len;
}

/* np.interp (X, arange (N), FP) with float64 arithmetic. */
static double
np_interp_index (double x, const float *fp, int n)
{
  int j;
  double slope, r;

  if (isnan (x))
    return x;
  if (x < 0)
    return fp[0];
  if (x > n - 1)
    return fp[n - 1];
  j = (int) floor (x);
  if (j >= n - 1)
    return fp[n - 1];
  if (x == j)
    return fp[j];
  slope = ((double) fp[j + 1] - (double) fp[j]) / 1.0;
  r = slope * (x - j) + fp[j];
  if (isnan (r))
    {
      r = slope * (x - (j + 1)) + fp[j + 1];
      if (isnan (r) && fp[j] == fp[j + 1])
        r = fp[j];
    }
  return r;
}

/* diffusers' _sigma_to_t: the fractional timestep whose log σ is log SIGMA,
 * linear in log σ between the trained ones (LOG_SIGMAS [n], float32).
 * Dtypes as NumPy 2 promotes them (NEP 50): log σ and the distances in
 * float64, but low − high is float32 − float32.  (NumPy 1.x's value-based
 * casting would do the distances and the numerator in float32 too.) */
static double
sigma_to_t (double sigma, const float *log_sigmas, int n)
{
  double ls = log (isnan (sigma) ? sigma : (sigma > 1e-10 ? sigma : 1e-10));
  double w, a, b;
  float lo, hi, den;
  int low = 0;

  /* np.cumsum (dists >= 0).argmax (): the last index with log σ_k <= ls, or 0 */
  for (int k = 0; k < n; k++)
    if (ls - (double) log_sigmas[k] >= 0)
      low = k;
  if (low > n - 2)
    low = n - 2;
  lo = log_sigmas[low];
  hi = log_sigmas[low + 1];
  den = lo - hi;
  w = ((double) lo - ls) / (double) den;
  if (w < 0)
    w = 0;
  else if (w > 1)
    w = 1;
  a = (1 - w) * low;
  b = w * (low + 1);
  return a + b;
}

/* ---- the sampler ------------------------------------------------------------------- */

struct _GenSampler
{
  GenSamplerKind   kind;
  GenSigmaSchedule schedule;
  GenPrediction    prediction;
  int              n_train;
  float           *ac;          /* [n_train] ᾱ */
  int              steps;       /* as asked */
  int              n_evals;
  double          *timesteps;   /* [n_evals] */
  /* sigma samplers: the scheduler's sigma list — euler / euler_a / dpmpp_2m
   * [n_evals + 1], heun [n_evals + 1] (σ0, σ1, σ1, σ2, σ2, …, 0);
   * ddpm / ddim: σ(t_i) [n_evals], for reporting */
  float           *sigmas;
  gboolean         clip_sample;
  float            clip_range;
  VarianceType     variance_type;
  float            final_alpha;  /* ddim: ᾱ "before" t = 0 */
  float            eta;
  gboolean         lower_order_final, euler_at_final;
  FinalSigmas      final_sigmas;
  float            init_noise_sigma;

  /* run state */
  int              last_i;
  int              lower_order_nums;   /* dpm: steps taken in this run (capped at 2) */
  gboolean         heun_first_done;    /* heun: the first stage of a step is stored */
  float            heun_dt;
  gint64           reserved;
  float           *noise;    /* [reserved] */
  float           *buf_a;    /* [reserved] dpm: previous x0 (m1); heun: first-stage derivative */
  float           *buf_b;    /* [reserved] dpm: current x0 (m0); heun: first-stage sample */
};

static gboolean
is_sigma_sampler (GenSamplerKind k)
{
  return k != GEN_SAMPLER_DDPM && k != GEN_SAMPLER_DDIM;
}

/* The default of a sampler-dependent key, per diffusers class. */
static Spacing
default_spacing (GenSamplerKind k)
{
  return is_sigma_sampler (k) ? SPACING_LINSPACE : SPACING_LEADING;
}

static gboolean
default_clip (GenSamplerKind k)
{
  return k == GEN_SAMPLER_DDPM || k == GEN_SAMPLER_DDIM;   /* heun: False */
}

/* set_timesteps of DDPMScheduler / DDIMScheduler: integer timesteps. */
static int
timesteps_ddpm (Spacing spacing, int n_train, int steps, gint64 offset, double *ts)
{
  int n = steps;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps);

      np_linspace (0, n_train - 1, steps, lin);
      for (int i = 0; i < steps; i++)
        ts[i] = nearbyint (lin[steps - 1 - i]);
      g_free (lin);
    }
  else if (spacing == SPACING_LEADING)
    {
      int ratio = n_train / steps;

      for (int i = 0; i < steps; i++)
        ts[i] = (double) ((gint64) (steps - 1 - i) * ratio + offset);
    }
  else
    {
      n = np_arange_down (n_train, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = nearbyint (ts[i]) - 1;
    }
  return n;
}

/* Euler / Euler-ancestral / Heun: float32 timesteps. */
static int
timesteps_euler (Spacing spacing, int n_train, int steps, gint64 offset, double *ts)
{
  int n = steps;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps);

      np_linspace (0, n_train - 1, steps, lin);
      for (int i = 0; i < steps; i++)
        ts[i] = (float) lin[steps - 1 - i];
      g_free (lin);
    }
  else if (spacing == SPACING_LEADING)
    {
      int ratio = n_train / steps;

      for (int i = 0; i < steps; i++)
        {
          float t = (float) ((gint64) (steps - 1 - i) * ratio);

          ts[i] = t + (float) offset;
        }
    }
  else
    {
      n = np_arange_down (n_train, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = (float) nearbyint (ts[i]) - 1.0f;
    }
  return n;
}

/* DPMSolverMultistepScheduler: integer timesteps, below LAST. */
static int
timesteps_dpm (Spacing spacing, int n_train, int last, int steps, gint64 offset, double *ts)
{
  int n = steps;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps + 1);

      np_linspace (0, last - 1, steps + 1, lin);
      for (int i = 0; i < steps; i++)
        ts[i] = nearbyint (lin[steps - i]);
      g_free (lin);
    }
  else if (spacing == SPACING_LEADING)
    {
      int ratio = last / (steps + 1);

      for (int i = 0; i < steps; i++)
        ts[i] = (double) ((gint64) (steps - i) * ratio + offset);
    }
  else
    {
      n = np_arange_down (last, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = nearbyint (ts[i]) - 1;
    }
  return n;
}

/* Karras et al. 2022 eq. 5 (rho = 7): σ_i = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ. */
static void
sigmas_karras (double sigma_min, double sigma_max, int n, double *out)
{
  const double rho = 7.0;
  double min_inv = pow (sigma_min, 1 / rho), max_inv = pow (sigma_max, 1 / rho);

  np_linspace (0, 1, n, out);
  for (int i = 0; i < n; i++)
    {
      double r = out[i] * (min_inv - max_inv);

      out[i] = pow (max_inv + r, rho);
    }
}

/* Exponential: log σ evenly spaced from log σmax to log σmin. */
static void
sigmas_exponential (double sigma_min, double sigma_max, int n, double *out)
{
  np_linspace (log (sigma_max), log (sigma_min), n, out);
  for (int i = 0; i < n; i++)
    out[i] = exp (out[i]);
}

static void
sampler_fail (GError **error, GenSampler *s, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
sampler_fail (GError **error, GenSampler *s, const char *fmt, ...)
{
  va_list args;
  char *msg;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s with %d steps: %s",
               gen_sampler_kind_name (s->kind), s->steps, msg);
  g_free (msg);
}

/* The sigma samplers' set_timesteps.  TS has room for steps + 1. */
static gboolean
schedule_sigma (GenSampler *s, const GenSchedConfig *cfg, Spacing spacing, gint64 offset,
                double *ts, GError **error)
{
  const SamplerKeys *k = &cfg->keys;
  int N = cfg->n_train, n;
  float *train_sigmas = g_new (float, N);  /* ((1 − ᾱ)/ᾱ)^0.5, float32 */
  float *log_sigmas = g_new (float, N);    /* np.log of those, float32 */
  double *sig = NULL;                      /* [n] float64 */
  double smin, smax;
  float sigma_last;
  gboolean ok = FALSE;

  for (int t = 0; t < N; t++)
    {
      train_sigmas[t] = sqrtf ((1.0f - s->ac[t]) / s->ac[t]);
      log_sigmas[t] = (float) log ((double) train_sigmas[t]);
    }

  if (s->kind == GEN_SAMPLER_DPMPP_2M)
    {
      /* lambda_min_clipped: timesteps end below the first t whose
       * λ = log α − log σ (VP) is under it */
      int last = N;

      if (k->has_lambda_min)
        {
          int clipped = 0;

          for (int t = N - 1; t >= 0; t--)
            {
              float alpha_t = sqrtf (s->ac[t]), sigma_t = sqrtf (1.0f - s->ac[t]);
              float lambda = logf (alpha_t) - logf (sigma_t);

              if (lambda < k->lambda_min_clipped)
                clipped++;
              else
                break;
            }
          last = N - clipped;
          if (last < 1)
            {
              sampler_fail (error, s, "lambda_min_clipped %g leaves no timestep",
                            k->lambda_min_clipped);
              goto out;
            }
        }
      n = timesteps_dpm (spacing, N, last, s->steps, offset, ts);
    }
  else
    n = timesteps_euler (spacing, N, s->steps, offset, ts);
  if (n < 1)
    {
      sampler_fail (error, s, "the timestep spacing gives no timestep");
      goto out;
    }

  sig = g_new (double, n);
  if (s->schedule == GEN_SIGMAS_DEFAULT)
    for (int i = 0; i < n; i++)
      sig[i] = np_interp_index (ts[i], train_sigmas, N);
  else
    {
      /* the range: the config's sigma_min / sigma_max, else (euler, heun)
       * the interpolated sigmas' ends or (dpm) the trained sigmas' ends */
      if (s->kind == GEN_SAMPLER_DPMPP_2M)
        {
          smin = train_sigmas[0];
          smax = train_sigmas[N - 1];
        }
      else
        {
          smin = np_interp_index (ts[n - 1], train_sigmas, N);
          smax = np_interp_index (ts[0], train_sigmas, N);
        }
      if (k->has_sigma_min)
        smin = k->sigma_min;
      if (k->has_sigma_max)
        smax = k->sigma_max;
      n = s->steps;   /* karras / exponential give exactly STEPS sigmas */
      g_free (sig);
      sig = g_new (double, n);
      if (s->schedule == GEN_SIGMAS_KARRAS)
        sigmas_karras (smin, smax, n, sig);
      else
        sigmas_exponential (smin, smax, n, sig);
      for (int i = 0; i < n; i++)
        {
          double t = sigma_to_t (sig[i], log_sigmas, N);

          if (!isfinite (t))
            {
              sampler_fail (error, s, "sigma %g has no timestep (repeated trained sigmas?)",
                            sig[i]);
              goto out;
            }
          if (s->kind == GEN_SAMPLER_DPMPP_2M)
            {
              /* karras: .round() unless the schedule is cosine; exponential:
               * never; then torch's .to(int64) truncates */
              if (s->schedule == GEN_SIGMAS_KARRAS && !cfg->cosine)
                t = nearbyint (t);
              ts[i] = (double) (gint64) t;
            }
          else
            ts[i] = (float) t;
        }
    }

  if (s->final_sigmas == FINAL_SIGMA_MIN)
    sigma_last = sqrtf ((1.0f - s->ac[0]) / s->ac[0]);
  else
    sigma_last = 0.0f;

  if (s->kind == GEN_SAMPLER_HEUN)
    {
      /* σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0 and t0, t1, t1, …, t_{n−1}, t_{n−1} */
      int m = 2 * n - 1;

      s->n_evals = m;
      s->timesteps = g_new (double, m);
      s->sigmas = g_new (float, m + 1);
      for (int i = 0; i < m; i++)
        {
          int src = (i + 1) / 2;

          s->timesteps[i] = ts[src];
          s->sigmas[i] = (float) sig[src];
        }
      s->sigmas[m] = sigma_last;
    }
  else
    {
      s->n_evals = n;
      s->timesteps = g_new (double, n);
      s->sigmas = g_new (float, n + 1);
      memcpy (s->timesteps, ts, sizeof (double) * n);
      for (int i = 0; i < n; i++)
        s->sigmas[i] = (float) sig[i];
      s->sigmas[n] = sigma_last;
    }
  ok = TRUE;

out:
  g_free (sig);
  g_free (train_sigmas);
  g_free (log_sigmas);
  return ok;
}

/* DPMSolverMultistepScheduler's lower_order_final test for eval I. */
static gboolean
dpm_final_first_order (const GenSampler *s, int i)
{
  return i == s->n_evals - 1
         && (s->euler_at_final || (s->lower_order_final && s->n_evals < 15)
             || s->final_sigmas == FINAL_ZERO);
}

GenSampler *
gen_sampler_new (const GenSchedConfig *cfg, GenSamplerKind kind, GenSigmaSchedule sigmas,
                 int steps, double eta, GError **error)
{
  const SamplerKeys *k;
  GenSampler *s;
  Spacing spacing;
  gint64 offset;
  double *ts;

  g_return_val_if_fail (cfg != NULL, NULL);
  if ((guint) kind >= G_N_ELEMENTS (sampler_names))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "unknown sampler kind %d", (int) kind);
      return NULL;
    }
  if ((guint) sigmas >= G_N_ELEMENTS (schedule_names))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "unknown sigma schedule %d", (int) sigmas);
      return NULL;
    }
  if (!is_sigma_sampler (kind) && sigmas != GEN_SIGMAS_DEFAULT)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the %s sigma schedule needs a sigma sampler (euler, euler_a, heun, dpmpp_2m); "
                   "%s steps on the trained timesteps",
                   gen_sigma_schedule_name (sigmas), gen_sampler_kind_name (kind));
      return NULL;
    }
  if (steps < 1 || steps > cfg->n_train)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%d steps: the number of steps must be 1 .. %d (num_train_timesteps)", steps,
                   cfg->n_train);
      return NULL;
    }
  if (kind == GEN_SAMPLER_DDIM && !(eta >= 0 && eta <= 1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "ddim: eta must be 0 .. 1, not %g", eta);
      return NULL;
    }
  if (kind == GEN_SAMPLER_EULER_A && cfg->prediction == GEN_PREDICTION_SAMPLE)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "euler_a: prediction_type \"sample\" is not implemented (diffusers' "
                   "EulerAncestralDiscreteScheduler refuses it too)");
      return NULL;
    }

  k = &cfg->keys;
  s = g_new0 (GenSampler, 1);
  s->kind = kind;
  s->schedule = sigmas;
  s->prediction = cfg->prediction;
  s->n_train = cfg->n_train;
  s->ac = g_memdup2 (cfg->ac, sizeof (float) * cfg->n_train);
  s->steps = steps;
  s->eta = kind == GEN_SAMPLER_DDIM ? (float) eta : 0.0f;
  s->last_i = -2;
  spacing = k->has_spacing ? k->spacing : default_spacing (kind);
  offset = k->has_offset ? k->steps_offset : 0;
  s->clip_sample = k->has_clip ? k->clip_sample : default_clip (kind);
  s->clip_range = (float) (k->has_clip_range ? k->clip_sample_range : 1.0);
  s->variance_type = k->has_variance ? k->variance_type : VAR_FIXED_SMALL;
  /* only EulerDiscrete and DPMSolverMultistep have final_sigmas_type */
  s->final_sigmas = k->has_final && (kind == GEN_SAMPLER_EULER || kind == GEN_SAMPLER_DPMPP_2M)
                      ? k->final_sigmas : FINAL_ZERO;
  s->lower_order_final = k->has_lower_final ? k->lower_order_final : TRUE;
  s->euler_at_final = k->has_euler_final ? k->euler_at_final : FALSE;
  if (kind == GEN_SAMPLER_DDIM)
    s->final_alpha = (k->has_alpha_one ? k->set_alpha_to_one : TRUE) ? 1.0f : s->ac[0];

  ts = g_new (double, steps + 1);
  if (!is_sigma_sampler (kind))
    {
      int n = timesteps_ddpm (spacing, s->n_train, steps, offset, ts);

      if (n < 1)
        {
          sampler_fail (error, s, "the timestep spacing gives no timestep");
          g_free (ts);
          gen_sampler_free (s);
          return NULL;
        }
      for (int i = 0; i < n; i++)
        if (ts[i] < 0 || ts[i] > s->n_train - 1)
          {
            sampler_fail (error, s,
                          "timestep %g is outside 0 .. %d (timestep_spacing %s, steps_offset %"
                          G_GINT64_FORMAT ")",
                          ts[i], s->n_train - 1, spacing_names[spacing], offset);
            g_free (ts);
            gen_sampler_free (s);
            return NULL;
          }
      s->n_evals = n;
      s->timesteps = g_memdup2 (ts, sizeof (double) * n);
      s->sigmas = g_new (float, n);
      for (int i = 0; i < n; i++)
        {
          float a = s->ac[(int) ts[i]];

          s->sigmas[i] = sqrtf ((1.0f - a) / a);
        }
      s->init_noise_sigma = 1.0f;
    }
  else
    {
      float max;

      if (!schedule_sigma (s, cfg, spacing, offset, ts, error))
        {
          g_free (ts);
          gen_sampler_free (s);
          return NULL;
        }
      /* A second-order DPM-Solver step divides by r0 = h_0/h: with the
       * previous two sigmas equal (h_0 = 0) it makes inf / NaN, in
       * diffusers too.  (h = 0 alone is harmless: 1/r0 = 0.) */
      for (int i = 1; kind == GEN_SAMPLER_DPMPP_2M && i < s->n_evals; i++)
        if (!dpm_final_first_order (s, i) && !(s->sigmas[i - 1] != s->sigmas[i]))
          {
            sampler_fail (error, s,
                          "sigmas %d and %d are both %g (repeated timestep %g), which makes "
                          "DPM-Solver's second-order step divide by zero; use fewer steps",
                          i - 1, i, (double) s->sigmas[i], s->timesteps[i]);
            g_free (ts);
            gen_sampler_free (s);
            return NULL;
          }
      if (kind == GEN_SAMPLER_DPMPP_2M)
        s->init_noise_sigma = 1.0f;
      else
        {
          max = s->sigmas[0];
          for (int i = 1; i <= s->n_evals; i++)
            if (s->sigmas[i] > max)
              max = s->sigmas[i];
          if (spacing == SPACING_LINSPACE || spacing == SPACING_TRAILING)
            s->init_noise_sigma = max;
          else
            s->init_noise_sigma = sqrtf (max * max + 1.0f);
        }
    }
  g_free (ts);
  return s;
}

void
gen_sampler_free (GenSampler *s)
{
  if (!s)
    return;
  g_free (s->ac);
  g_free (s->timesteps);
  g_free (s->sigmas);
  g_free (s->noise);
  g_free (s->buf_a);
  g_free (s->buf_b);
  g_free (s);
}

GenSamplerKind
gen_sampler_kind (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, GEN_SAMPLER_DDPM);
  return s->kind;
}

int
gen_sampler_n_evals (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->n_evals;
}

double
gen_sampler_timestep (const GenSampler *s, int i)
{
  g_return_val_if_fail (s != NULL && i >= 0 && i < s->n_evals, 0.0);
  return s->timesteps[i];
}

double
gen_sampler_sigma (const GenSampler *s, int i)
{
  g_return_val_if_fail (s != NULL && i >= 0 && i < s->n_evals, 0.0);
  return s->sigmas[i];
}

float
gen_sampler_init_noise_sigma (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, 1.0f);
  return s->init_noise_sigma;
}

static gboolean
scales_input (const GenSampler *s)
{
  return s->kind == GEN_SAMPLER_EULER || s->kind == GEN_SAMPLER_EULER_A
         || s->kind == GEN_SAMPLER_HEUN;
}

float
gen_sampler_input_scale (const GenSampler *s, int i)
{
  float sigma;

  g_return_val_if_fail (s != NULL && i >= 0 && i < s->n_evals, 1.0f);
  if (!scales_input (s))
    return 1.0f;
  sigma = s->sigmas[i];
  return 1.0f / sqrtf (sigma * sigma + 1.0f);
}

void
gen_sampler_scale_model_input (const GenSampler *s, int i, const float *x, float *out, gint64 n)
{
  float sigma, d;

  g_return_if_fail (s != NULL && i >= 0 && i < s->n_evals && n >= 0);
  if (!scales_input (s))
    {
      if (out != x)
        memmove (out, x, sizeof (float) * (gsize) n);
      return;
    }
  /* x / (σ² + 1)^0.5 (Karras et al. 2022 table 1, c_in for VE) */
  sigma = s->sigmas[i];
  d = sqrtf (sigma * sigma + 1.0f);
  for (gint64 j = 0; j < n; j++)
    out[j] = x[j] / d;
}

gboolean
gen_sampler_reserve (GenSampler *s, gint64 n, GError **error)
{
  gsize bytes;

  g_return_val_if_fail (s != NULL, FALSE);
  if (n < 0 || !g_size_checked_mul (&bytes, (gsize) (n > 0 ? n : 1), sizeof (float)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "cannot reserve %" G_GINT64_FORMAT
                   " floats", n);
      return FALSE;
    }
  if (n <= s->reserved && s->noise)
    return TRUE;
  g_free (s->noise);
  g_free (s->buf_a);
  g_free (s->buf_b);
  s->buf_a = s->buf_b = NULL;
  s->reserved = 0;
  s->noise = g_try_malloc (bytes);
  if (s->kind == GEN_SAMPLER_DPMPP_2M || s->kind == GEN_SAMPLER_HEUN)
    {
      s->buf_a = g_try_malloc (bytes);
      s->buf_b = g_try_malloc (bytes);
    }
  if (!s->noise
      || ((s->kind == GEN_SAMPLER_DPMPP_2M || s->kind == GEN_SAMPLER_HEUN)
          && (!s->buf_a || !s->buf_b)))
    {
      g_clear_pointer (&s->noise, g_free);
      g_clear_pointer (&s->buf_a, g_free);
      g_clear_pointer (&s->buf_b, g_free);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "out of memory for %" G_GINT64_FORMAT " floats of sampler state", n);
      return FALSE;
    }
  s->reserved = n;
  return TRUE;
}

/* ---- x0 predictions --------------------------------------------------------------- */

static inline float
clampf (float v, float r)
{
  /* torch.clamp (-r, r); NaN stays NaN */
  return v < -r ? -r : (v > r ? r : v);
}

/* ddpm / ddim: x0 from ᾱ_t (Ho et al. 2020 eq. 15; v: Salimans & Ho 2022). */
static void
x0_vp (const GenSampler *s, float a, const float *x, const float *mo, float *x0, gint64 n)
{
  float b = 1.0f - a, sa = sqrtf (a), sb = sqrtf (b);

  for (gint64 j = 0; j < n; j++)
    {
      float v;

      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sb * mo[j];

          v = (x[j] - e) / sa;
        }
      else if (s->prediction == GEN_PREDICTION_V)
        {
          float p = sa * x[j], q = sb * mo[j];

          v = p - q;
        }
      else
        v = mo[j];
      x0[j] = s->clip_sample ? clampf (v, s->clip_range) : v;
    }
}

/* euler / euler_a / heun: x0 at VE level σ (Karras et al. 2022 table 1:
 * ε: x − σε; v: c_out·v + c_skip·x with c_out = −σ/√(σ²+1), c_skip = 1/(σ²+1)). */
static void
x0_ve (const GenSampler *s, float sigma, gboolean clip, const float *x, const float *mo, float *x0,
       gint64 n)
{
  float s2 = sigma * sigma + 1.0f;
  float c_out = -sigma / sqrtf (s2);

  for (gint64 j = 0; j < n; j++)
    {
      float v;

      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sigma * mo[j];

          v = x[j] - e;
        }
      else if (s->prediction == GEN_PREDICTION_V)
        {
          float p = mo[j] * c_out, q = x[j] / s2;

          v = p + q;
        }
      else
        v = mo[j];
      x0[j] = clip ? clampf (v, s->clip_range) : v;
    }
}

/* dpmpp_2m: DPM-Solver++'s data prediction (Lu et al. 2022, sec. 3) with the
 * VP α_t = 1/√(σ²+1), σ_t = σ·α_t. */
static void
x0_dpm (const GenSampler *s, float sigma, const float *x, const float *mo, float *x0, gint64 n)
{
  float alpha_t = 1.0f / sqrtf (sigma * sigma + 1.0f), sigma_t = sigma * alpha_t;

  for (gint64 j = 0; j < n; j++)
    {
      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sigma_t * mo[j];

          x0[j] = (x[j] - e) / alpha_t;
        }
      else if (s->prediction == GEN_PREDICTION_V)
        {
          float p = alpha_t * x[j], q = sigma_t * mo[j];

          x0[j] = p - q;
        }
      else
        x0[j] = mo[j];
    }
}

void
gen_sampler_predict_x0 (const GenSampler *s, int i, const float *x, const float *model_output,
                        float *x0, gint64 n)
{
  g_return_if_fail (s != NULL && i >= 0 && i < s->n_evals && n >= 0);
  switch (s->kind)
    {
    case GEN_SAMPLER_DDPM:
    case GEN_SAMPLER_DDIM:
      x0_vp (s, s->ac[(int) s->timesteps[i]], x, model_output, x0, n);
      break;
    case GEN_SAMPLER_EULER:
    case GEN_SAMPLER_EULER_A:
      x0_ve (s, s->sigmas[i], FALSE, x, model_output, x0, n);
      break;
    case GEN_SAMPLER_HEUN:
      x0_ve (s, s->sigmas[i], s->clip_sample, x, model_output, x0, n);
      break;
    case GEN_SAMPLER_DPMPP_2M:
      x0_dpm (s, s->sigmas[i], x, model_output, x0, n);
      break;
    }
}

/* ---- the steps --------------------------------------------------------------------- */

/* DDPMScheduler.step: the posterior mean (Ho et al. 2020 eq. 7) plus, for
 * t > 0, its standard deviation times fresh noise (eq. 11 / alg. 2). */
static void
step_ddpm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  int t = (int) s->timesteps[i], first = i, prev_t;
  float a, ap, bp, bpp, ca, cb, c_x0, c_xt;

  /* previous_timestep: the entry after the first one equal to t */
  for (int j = 0; j < s->n_evals; j++)
    if (s->timesteps[j] == t)
      {
        first = j;
        break;
      }
  prev_t = first == s->n_evals - 1 ? -1 : (int) s->timesteps[first + 1];
  a = s->ac[t];
  ap = prev_t >= 0 ? s->ac[prev_t] : 1.0f;
  bp = 1.0f - a;
  bpp = 1.0f - ap;
  ca = a / ap;
  cb = 1.0f - ca;
  c_x0 = (sqrtf (ap) * cb) / bp;
  c_xt = (sqrtf (ca) * bpp) / bp;

  x0_vp (s, a, x, mo, s->noise, n);   /* clipped x0, in the noise buffer until drawn */
  for (gint64 j = 0; j < n; j++)
    {
      float p = c_x0 * s->noise[j], q = c_xt * x[j];

      x[j] = p + q;
    }
  if (t > 0)
    {
      float var = (1.0f - ap) / (1.0f - a) * cb, sd;

      var = var < 1e-20f ? 1e-20f : var;
      if (s->variance_type == VAR_FIXED_SMALL)
        sd = sqrtf (var);
      else if (s->variance_type == VAR_FIXED_SMALL_LOG)
        sd = expf (0.5f * logf (var));
      else
        sd = sqrtf (cb);
      gen_rng_randn (rng, s->noise, n);
      for (gint64 j = 0; j < n; j++)
        {
          float v = sd * s->noise[j];

          x[j] = x[j] + v;
        }
    }
}

/* DDIMScheduler.step (Song et al. 2021 eq. 12, σ_t(η) of eq. 16). */
static void
step_ddim (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  int t = (int) s->timesteps[i];
  int prev_t = t - s->n_train / s->steps;
  float a = s->ac[t], ap = prev_t >= 0 ? s->ac[prev_t] : s->final_alpha;
  float b = 1.0f - a, bp = 1.0f - ap;
  float sa = sqrtf (a), sb = sqrtf (b), sap = sqrtf (ap);
  float var = (bp / b) * (1.0f - a / ap);
  float sd = s->eta * sqrtf (var);
  float c_dir = sqrtf (1.0f - ap - sd * sd);

  for (gint64 j = 0; j < n; j++)
    {
      float x0, eps, p, q;

      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sb * mo[j];

          x0 = (x[j] - e) / sa;
          eps = mo[j];
        }
      else if (s->prediction == GEN_PREDICTION_SAMPLE)
        {
          float e = sa * mo[j];

          x0 = mo[j];
          eps = (x[j] - e) / sb;
        }
      else
        {
          float u = sa * x[j], w = sb * mo[j], u2 = sa * mo[j], w2 = sb * x[j];

          x0 = u - w;
          eps = u2 + w2;
        }
      if (s->clip_sample)
        x0 = clampf (x0, s->clip_range);
      p = sap * x0;
      q = c_dir * eps;
      x[j] = p + q;
    }
  if (s->eta > 0)
    {
      gen_rng_randn (rng, s->noise, n);
      for (gint64 j = 0; j < n; j++)
        {
          float v = sd * s->noise[j];

          x[j] = x[j] + v;
        }
    }
}

/* EulerDiscreteScheduler.step, s_churn = 0 (Karras et al. 2022 alg. 2 without
 * the churn: d = (x − x0)/σ, x ← x + d·(σ_next − σ)). */
static void
step_euler (GenSampler *s, int i, const float *mo, float *x, gint64 n)
{
  float sigma = s->sigmas[i], sigma_next = s->sigmas[i + 1];
  float dt = sigma_next - sigma;

  x0_ve (s, sigma, FALSE, x, mo, s->noise, n);
  for (gint64 j = 0; j < n; j++)
    {
      float d = (x[j] - s->noise[j]) / sigma, v = d * dt;

      x[j] = x[j] + v;
    }
}

/* EulerAncestralDiscreteScheduler.step (k-diffusion sample_euler_ancestral:
 * σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = √(σ_to² − σ_up²),
 * x ← x + d·(σ_down − σ) + σ_up·z). */
static void
step_euler_a (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  float sigma = s->sigmas[i], sigma_to = s->sigmas[i + 1];
  float from2 = sigma * sigma, to2 = sigma_to * sigma_to;
  float up = sqrtf (to2 * (from2 - to2) / from2);
  float down = sqrtf (to2 - up * up);
  float dt = down - sigma;

  x0_ve (s, sigma, FALSE, x, mo, s->noise, n);   /* x0, in the noise buffer until drawn */
  for (gint64 j = 0; j < n; j++)
    {
      float d = (x[j] - s->noise[j]) / sigma, v = d * dt;

      x[j] = x[j] + v;
    }
  gen_rng_randn (rng, s->noise, n);
  for (gint64 j = 0; j < n; j++)
    {
      float v = s->noise[j] * up;

      x[j] = x[j] + v;
    }
}

/* HeunDiscreteScheduler.step (Karras et al. 2022 alg. 1, γ = 0): the first
 * stage is an Euler step to σ_next whose derivative is kept; the second
 * evaluates there and averages the two derivatives from the stored sample.
 * The last step (σ_next = 0) is first stage only. */
static void
step_heun (GenSampler *s, int i, const float *mo, float *x, gint64 n)
{
  float *d1 = s->buf_a, *x_first = s->buf_b;

  if (!s->heun_first_done)
    {
      float sigma = s->sigmas[i], sigma_next = s->sigmas[i + 1];
      float dt = sigma_next - sigma;

      x0_ve (s, sigma, s->clip_sample, x, mo, s->noise, n);
      for (gint64 j = 0; j < n; j++)
        {
          float d = (x[j] - s->noise[j]) / sigma, v;

          d1[j] = d;
          x_first[j] = x[j];
          v = d * dt;
          x[j] = x[j] + v;
        }
      s->heun_dt = dt;
      s->heun_first_done = TRUE;
    }
  else
    {
      float sigma_next = s->sigmas[i];
      float dt = s->heun_dt;

      x0_ve (s, sigma_next, s->clip_sample, x, mo, s->noise, n);
      for (gint64 j = 0; j < n; j++)
        {
          float d = (x[j] - s->noise[j]) / sigma_next, v;

          d = (d1[j] + d) / 2.0f;
          v = d * dt;
          x[j] = x_first[j] + v;
        }
      s->heun_first_done = FALSE;
    }
}

/* DPMSolverMultistepScheduler.step, dpmsolver++ (Lu et al. 2022 alg. 2,
 * "2M"): with λ = log α − log σ, h = λ_t − λ_s0,
 *   first order  x_t = (σ_t/σ_s0)·x − α_t(e^{−h} − 1)·D0                (eq. 9)
 *   second order x_t = (σ_t/σ_s0)·x − α_t(e^{−h} − 1)·D0 − ½α_t(e^{−h} − 1)·D1,
 *                D0 = m0, D1 = (m0 − m1)/r0, r0 = h_0/h   (midpoint form). */
static void
step_dpm (GenSampler *s, int i, const float *mo, float *x, gint64 n)
{
  gboolean final = dpm_final_first_order (s, i);
  float *m1 = s->buf_a, *m0 = s->buf_b;
  float sig_t = s->sigmas[i + 1], sig_s0 = s->sigmas[i];
  float alpha_t = 1.0f / sqrtf (sig_t * sig_t + 1.0f), sigma_t = sig_t * alpha_t;
  float alpha_s0 = 1.0f / sqrtf (sig_s0 * sig_s0 + 1.0f), sigma_s0 = sig_s0 * alpha_s0;
  float lambda_t = logf (alpha_t) - logf (sigma_t);
  float lambda_s0 = logf (alpha_s0) - logf (sigma_s0);
  float h = lambda_t - lambda_s0;
  float c_x = sigma_t / sigma_s0;
  float c_d0 = alpha_t * (expf (-h) - 1.0f);

  /* model_outputs shift: m1 ← m0, m0 ← this x0 */
  {
    float *tmp = m1;

    s->buf_a = m0;
    s->buf_b = tmp;
    m1 = s->buf_a;
    m0 = s->buf_b;
  }
  x0_dpm (s, sig_s0, x, mo, m0, n);

  if (s->lower_order_nums < 1 || final)
    {
      for (gint64 j = 0; j < n; j++)
        {
          float p = c_x * x[j], q = c_d0 * m0[j];

          x[j] = p - q;
        }
    }
  else
    {
      float sig_s1 = s->sigmas[i - 1];
      float alpha_s1 = 1.0f / sqrtf (sig_s1 * sig_s1 + 1.0f), sigma_s1 = sig_s1 * alpha_s1;
      float lambda_s1 = logf (alpha_s1) - logf (sigma_s1);
      float h_0 = lambda_s0 - lambda_s1;
      float r0 = h_0 / h;
      float c_r = 1.0f / r0;
      float c_d1 = 0.5f * c_d0;

      for (gint64 j = 0; j < n; j++)
        {
          float d1 = c_r * (m0[j] - m1[j]);
          float p = c_x * x[j], q = c_d0 * m0[j], r = c_d1 * d1;

          x[j] = p - q - r;
        }
    }
  if (s->lower_order_nums < 2)
    s->lower_order_nums++;
}

void
gen_sampler_step (GenSampler *s, int i, const float *model_output, float *x, gint64 n,
                  GenRng *rng)
{
  g_return_if_fail (s != NULL && model_output != NULL && x != NULL);
  g_return_if_fail (i >= 0 && i < s->n_evals);
  g_return_if_fail (n >= 0 && n <= s->reserved && s->noise != NULL);
  g_return_if_fail (rng != NULL || s->kind == GEN_SAMPLER_EULER || s->kind == GEN_SAMPLER_HEUN
                    || s->kind == GEN_SAMPLER_DPMPP_2M
                    || (s->kind == GEN_SAMPLER_DDIM && s->eta == 0)
                    || (s->kind == GEN_SAMPLER_DDPM && s->timesteps[i] == 0));

  if (i != s->last_i + 1)
    {
      /* a new run: set_timesteps (or set_begin_index) clears the history */
      s->lower_order_nums = 0;
      s->heun_first_done = FALSE;
    }
  s->last_i = i;

  switch (s->kind)
    {
    case GEN_SAMPLER_DDPM:
      step_ddpm (s, i, model_output, x, n, rng);
      break;
    case GEN_SAMPLER_DDIM:
      step_ddim (s, i, model_output, x, n, rng);
      break;
    case GEN_SAMPLER_EULER:
      step_euler (s, i, model_output, x, n);
      break;
    case GEN_SAMPLER_EULER_A:
      step_euler_a (s, i, model_output, x, n, rng);
      break;
    case GEN_SAMPLER_HEUN:
      step_heun (s, i, model_output, x, n);
      break;
    case GEN_SAMPLER_DPMPP_2M:
      step_dpm (s, i, model_output, x, n);
      break;
    }
}

/* ---- img2img ----------------------------------------------------------------------- */

int
gen_sampler_start_index (const GenSampler *s, double strength)
{
  int order, init, t_start, start;

  g_return_val_if_fail (s != NULL, 0);
  if (!(strength >= 0))
    strength = 0;
  if (strength > 1)
    strength = 1;
  order = s->kind == GEN_SAMPLER_HEUN ? 2 : 1;
  init = (int) (s->steps * strength);   /* Python int(): truncation */
  if (init > s->steps)
    init = s->steps;
  t_start = MAX (s->steps - init, 0);
  start = t_start * order;
  return MIN (start, s->n_evals);
}

void
gen_sampler_add_noise (const GenSampler *s, int start, const float *x0, const float *noise,
                       float *x, gint64 n)
{
  g_return_if_fail (s != NULL && start >= 0 && start < s->n_evals && n >= 0);
  if (!is_sigma_sampler (s->kind))
    {
      /* q(x_t | x_0), Ho et al. 2020 eq. 4 */
      float a = s->ac[(int) s->timesteps[start]];
      float sa = sqrtf (a), sb = sqrtf (1.0f - a);

      for (gint64 j = 0; j < n; j++)
        {
          float p = sa * x0[j], q = sb * noise[j];

          x[j] = p + q;
        }
    }
  else if (s->kind == GEN_SAMPLER_DPMPP_2M)
    {
      float sigma = s->sigmas[start];
      float alpha_t = 1.0f / sqrtf (sigma * sigma + 1.0f), sigma_t = sigma * alpha_t;

      for (gint64 j = 0; j < n; j++)
        {
          float p = alpha_t * x0[j], q = sigma_t * noise[j];

          x[j] = p + q;
        }
    }
  else
    {
      float sigma = s->sigmas[start];

      for (gint64 j = 0; j < n; j++)
        {
          float q = noise[j] * sigma;

          x[j] = x0[j] + q;
        }
    }
}
