/* gen-schedule.c — the pure schedule: diffusers' set_timesteps for each
 * sampler's class, from the config, the sampler's row, the sigma schedule's
 * row and the step count to timesteps and sigmas (gen-schedule.h).  Numbers
 * in the precision diffusers computes them: numpy float64 for the spacing,
 * float32 for the sigmas. */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

/* set_timesteps of DDPMScheduler / DDIMScheduler: integer timesteps. */
int
gen_timesteps_ddpm (const GenSchedConfig *cfg, Spacing spacing, G_GNUC_UNUSED int last, int steps,
                    gint64 offset, double *ts, G_GNUC_UNUSED GError **error)
{
  int n = steps, n_train = cfg->n_train;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps);

      gen_np_linspace (0, n_train - 1, steps, lin);
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
      n = gen_np_arange_down (n_train, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = nearbyint (ts[i]) - 1;
    }
  return n;
}

/* Euler / Euler-ancestral / Heun: float32 timesteps. */
int
gen_timesteps_euler (const GenSchedConfig *cfg, Spacing spacing, G_GNUC_UNUSED int last, int steps,
                     gint64 offset, double *ts, G_GNUC_UNUSED GError **error)
{
  int n = steps, n_train = cfg->n_train;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps);

      gen_np_linspace (0, n_train - 1, steps, lin);
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
      n = gen_np_arange_down (n_train, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = (float) nearbyint (ts[i]) - 1.0f;
    }
  return n;
}

/* DPMSolverMultistepScheduler: integer timesteps, below LAST. */
int
gen_timesteps_dpm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps, gint64 offset,
                   double *ts, G_GNUC_UNUSED GError **error)
{
  int n = steps, n_train = cfg->n_train;

  if (spacing == SPACING_LINSPACE)
    {
      double *lin = g_new (double, steps + 1);

      gen_np_linspace (0, last - 1, steps + 1, lin);
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
      n = gen_np_arange_down (last, (double) n_train / steps, ts, steps + 1);
      for (int i = 0; i < n; i++)
        ts[i] = nearbyint (ts[i]) - 1;
    }
  return n;
}

/* Karras et al. 2022 eq. 5 (rho = 7): σ_i = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ. */
void
gen_sigmas_karras (double sigma_min, double sigma_max, int n, double *out)
{
  const double rho = 7.0;
  double min_inv = pow (sigma_min, 1 / rho), max_inv = pow (sigma_max, 1 / rho);

  gen_np_linspace (0, 1, n, out);
  for (int i = 0; i < n; i++)
    {
      double r = out[i] * (min_inv - max_inv);

      out[i] = pow (max_inv + r, rho);
    }
}

/* Exponential: log σ evenly spaced from log σmax to log σmin. */
void
gen_sigmas_exponential (double sigma_min, double sigma_max, int n, double *out)
{
  gen_np_linspace (log (sigma_max), log (sigma_min), n, out);
  for (int i = 0; i < n; i++)
    out[i] = exp (out[i]);
}

void
gen_sched_fail (GError **error, GenSamplerKind kind, int steps, const char *fmt, ...)
{
  va_list args;
  char *msg;

  va_start (args, fmt);
  msg = g_strdup_vprintf (fmt, args);
  va_end (args);
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s with %d steps: %s",
               gen_sampler_kind_name (kind), steps, msg);
  g_free (msg);
}

gboolean
gen_schedule_check_request (const GenSchedConfig *cfg, GenSamplerKind kind,
                            GenSigmaSchedule sigmas, int steps, GError **error)
{
  const GenSamplerRow *row = gen_sampler_row (kind);
  const GenSigmaRow *sigma_row = gen_sigma_row (sigmas);

  g_return_val_if_fail (cfg != NULL, FALSE);
  if (!row)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "unknown sampler kind %d", (int) kind);
      return FALSE;
    }
  if (!sigma_row)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "unknown sigma schedule %d", (int) sigmas);
      return FALSE;
    }
  if (!row->info.uses_sigmas && sigma_row->sigmas)
    {
      GString *users = g_string_new (NULL);

      for (int j = 0; j < gen_sampler_info_count (); j++)
        if (gen_sampler_info (j)->uses_sigmas)
          g_string_append_printf (users, "%s%s", users->len ? ", " : "",
                                  gen_sampler_info (j)->name);
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the %s sigma schedule needs a sigma sampler (%s); "
                   "%s steps on the trained timesteps",
                   sigma_row->info.name, users->str, row->info.name);
      g_string_free (users, TRUE);
      return FALSE;
    }
  if (steps < 1 || steps > cfg->n_train)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%d steps: the number of steps must be 1 .. %d (num_train_timesteps)", steps,
                   cfg->n_train);
      return FALSE;
    }
  return TRUE;
}

FinalSigmas
gen_sched_final_sigmas (const GenSchedConfig *cfg, const GenSamplerRow *row)
{
  return row->has_final_sigmas_type && cfg->keys.has_final ? cfg->keys.final_sigmas : FINAL_ZERO;
}

/* The set_timesteps of the classes that step on the trained grid (DDPM,
 * DDIM, PNDM, LCM): integer timesteps, σ(t_i) for reporting. */
static gboolean
schedule_trained (GenSchedule *sc, const GenSchedConfig *cfg, const GenSamplerRow *row,
                  Spacing spacing, gint64 offset, double *ts, GError **error)
{
  int n = row->timesteps (cfg, spacing, cfg->n_train, sc->steps, offset, ts, error);

  if (n < 0)
    return FALSE;
  if (n < 1)
    {
      gen_sched_fail (error, sc->kind, sc->steps, "the timestep spacing gives no timestep");
      return FALSE;
    }
  for (int i = 0; i < n; i++)
    if (ts[i] < 0 || ts[i] > cfg->n_train - 1)
      {
        gen_sched_fail (error, sc->kind, sc->steps,
                        "timestep %g is outside 0 .. %d (timestep_spacing %s, steps_offset %"
                        G_GINT64_FORMAT ")",
                        ts[i], cfg->n_train - 1, gen_sched_spacing_names[spacing], offset);
        return FALSE;
      }
  sc->n_evals = n;
  sc->timesteps = g_memdup2 (ts, sizeof (double) * n);
  sc->sigmas = g_new (float, n);
  for (int i = 0; i < n; i++)
    {
      float a = cfg->ac[(int) ts[i]];

      sc->sigmas[i] = sqrtf ((1.0f - a) / a);
    }
  return TRUE;
}

/* DPM-Solver's lambda_min_clipped: its timesteps end below the first t
 * whose λ = log α − log σ (VP) is under it.  Returns that end (N without
 * the key), or 0 after setting ERROR. */
static int
lambda_clipped_end (const GenSchedule *sc, const GenSchedConfig *cfg, GError **error)
{
  const SamplerKeys *k = &cfg->keys;
  int N = cfg->n_train, clipped = 0;

  if (!k->has_lambda_min)
    return N;
  for (int t = N - 1; t >= 0; t--)
    {
      float alpha_t = sqrtf (cfg->ac[t]), sigma_t = sqrtf (1.0f - cfg->ac[t]);
      float lambda = logf (alpha_t) - logf (sigma_t);

      if (lambda < k->lambda_min_clipped)
        clipped++;
      else
        break;
    }
  if (N - clipped < 1)
    gen_sched_fail (error, sc->kind, sc->steps, "lambda_min_clipped %g leaves no timestep",
                    k->lambda_min_clipped);
  return N - clipped;
}

/* The sigma samplers' set_timesteps. */
static gboolean
schedule_sigma (GenSchedule *sc, const GenSchedConfig *cfg, const GenSamplerRow *row,
                Spacing spacing, gint64 offset, double *ts, GError **error)
{
  const SamplerKeys *k = &cfg->keys;
  const GenSigmaRow *sigma_row = gen_sigma_row (sc->sigma_schedule);
  int N = cfg->n_train, last = N, n;
  float *train_sigmas = g_new (float, N);  /* ((1 − ᾱ)/ᾱ)^0.5, float32 */
  float *log_sigmas = g_new (float, N);    /* np.log of those, float32 */
  double *sig = NULL;                      /* [n] float64 */
  double smin, smax;
  float sigma_last;
  gboolean ok = FALSE;

  for (int t = 0; t < N; t++)
    {
      train_sigmas[t] = sqrtf ((1.0f - cfg->ac[t]) / cfg->ac[t]);
      log_sigmas[t] = (float) log ((double) train_sigmas[t]);
    }

  if (row->clips_lambda && (last = lambda_clipped_end (sc, cfg, error)) < 1)
    goto out;
  n = row->timesteps (cfg, spacing, last, sc->steps, offset, ts, error);
  if (n < 0)
    goto out;
  if (n < 1)
    {
      gen_sched_fail (error, sc->kind, sc->steps, "the timestep spacing gives no timestep");
      goto out;
    }

  sig = g_new (double, n);
  if (!sigma_row->sigmas)
    for (int i = 0; i < n; i++)
      sig[i] = gen_np_interp_index (ts[i], train_sigmas, N);
  else
    {
      /* the range: the config's sigma_min / sigma_max, else the trained
       * sigmas' ends (dpm) or the interpolated sigmas' ends (euler, heun) */
      if (row->trained_sigma_range)
        {
          smin = train_sigmas[0];
          smax = train_sigmas[N - 1];
        }
      else
        {
          smin = gen_np_interp_index (ts[n - 1], train_sigmas, N);
          smax = gen_np_interp_index (ts[0], train_sigmas, N);
        }
      if (k->has_sigma_min)
        smin = k->sigma_min;
      if (k->has_sigma_max)
        smax = k->sigma_max;
      n = sc->steps;   /* karras / exponential give exactly STEPS sigmas */
      g_free (sig);
      sig = g_new (double, n);
      sigma_row->sigmas (smin, smax, n, sig);
      for (int i = 0; i < n; i++)
        {
          double t = gen_sigma_to_t (sig[i], log_sigmas, N);

          if (!isfinite (t))
            {
              gen_sched_fail (error, sc->kind, sc->steps,
                              "sigma %g has no timestep (repeated trained sigmas?)", sig[i]);
              goto out;
            }
          if (row->int_timesteps)
            {
              /* karras: .round() unless the schedule is cosine; exponential:
               * never; then torch's .to(int64) truncates */
              if (sigma_row->rounds_int_timesteps && !cfg->cosine)
                t = nearbyint (t);
              ts[i] = (double) (gint64) t;
            }
          else
            ts[i] = (float) t;
        }
    }

  if (gen_sched_final_sigmas (cfg, row) == FINAL_SIGMA_MIN)
    sigma_last = sqrtf ((1.0f - cfg->ac[0]) / cfg->ac[0]);
  else
    sigma_last = 0.0f;

  if (row->info.order == 2)
    {
      /* two evaluations a step but one at the start:
       * σ0, σ1, σ1, …, σ_{n−1}, σ_{n−1}, 0 and t0, t1, t1, …, t_{n−1}, t_{n−1} */
      int m = 2 * n - 1;

      sc->n_evals = m;
      sc->timesteps = g_new (double, m);
      sc->sigmas = g_new (float, m + 1);
      for (int i = 0; i < m; i++)
        {
          int src = (i + 1) / 2;

          sc->timesteps[i] = ts[src];
          sc->sigmas[i] = (float) sig[src];
        }
      sc->sigmas[m] = sigma_last;
    }
  else
    {
      sc->n_evals = n;
      sc->timesteps = g_new (double, n);
      sc->sigmas = g_new (float, n + 1);
      memcpy (sc->timesteps, ts, sizeof (double) * n);
      for (int i = 0; i < n; i++)
        sc->sigmas[i] = (float) sig[i];
      sc->sigmas[n] = sigma_last;
    }
  ok = TRUE;

out:
  g_free (sig);
  g_free (train_sigmas);
  g_free (log_sigmas);
  return ok;
}

/* init_noise_sigma: 1, or the largest sigma (under "leading" spacing
 * √(max σ² + 1)). */
static float
init_noise_sigma (const GenSchedule *sc, const GenSamplerRow *row, Spacing spacing)
{
  float max;

  if (row->unit_init_noise)
    return 1.0f;
  max = sc->sigmas[0];
  for (int i = 1; i <= sc->n_evals; i++)
    if (sc->sigmas[i] > max)
      max = sc->sigmas[i];
  if (spacing == SPACING_LINSPACE || spacing == SPACING_TRAILING)
    return max;
  return sqrtf (max * max + 1.0f);
}

GenSchedule *
gen_schedule_new (const GenSchedConfig *cfg, GenSamplerKind kind, GenSigmaSchedule sigmas,
                  int steps, GError **error)
{
  const GenSamplerRow *row;
  const SamplerKeys *k;
  GenSchedule *sc;
  Spacing spacing;
  gint64 offset;
  double *ts;
  gboolean ok;

  if (!gen_schedule_check_request (cfg, kind, sigmas, steps, error))
    return NULL;
  row = gen_sampler_row (kind);
  k = &cfg->keys;
  spacing = k->has_spacing ? k->spacing : row->default_spacing;
  offset = k->has_offset ? k->steps_offset : 0;

  sc = g_new0 (GenSchedule, 1);
  sc->kind = kind;
  sc->sigma_schedule = sigmas;
  sc->steps = steps;
  ts = g_new (double, GEN_SCHED_TS_ROOM (steps));
  if (row->info.uses_sigmas)
    ok = schedule_sigma (sc, cfg, row, spacing, offset, ts, error);
  else
    ok = schedule_trained (sc, cfg, row, spacing, offset, ts, error);
  g_free (ts);
  if (!ok)
    {
      gen_schedule_free (sc);
      return NULL;
    }
  sc->init_noise_sigma = init_noise_sigma (sc, row, spacing);
  return sc;
}

void
gen_schedule_free (GenSchedule *schedule)
{
  if (!schedule)
    return;
  g_free (schedule->timesteps);
  g_free (schedule->sigmas);
  g_free (schedule);
}
