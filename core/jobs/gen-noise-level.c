/* gen-noise-level.c — schedule arithmetic for the jobs that leave the
 * sampler's grid: ᾱ at fractional timesteps and back, and the split of a
 * model output into x0 and ε.  Pure functions of the scheduler config. */
#include "gen-job-private.h"

#include <math.h>

/* Fractional timesteps: log σ is linear between the trained timesteps
 * (σ = sqrt((1 − ᾱ)/ᾱ); k-diffusion's convention, which the embedded
 * model is trained with). */
static double
log_sigma (double abar)
{
  return 0.5 * log ((1.0 - abar) / abar);
}

double
gen_job_abar_at (const GenSchedConfig *cfg, double t)
{
  const double *ac = gen_sched_config_alphas_cumprod (cfg);
  int n = gen_sched_config_num_train_timesteps (cfg);
  double ls;
  int i;

  if (t <= 0)
    return ac[0];
  if (t >= n - 1)
    return ac[n - 1];
  i = (int) floor (t);
  ls = log_sigma (ac[i]) * (1.0 - (t - i)) + log_sigma (ac[i + 1]) * (t - i);
  return 1.0 / (1.0 + exp (2.0 * ls));
}

/* ᾱ decreases with t. */
double
gen_job_timestep_for_abar (const GenSchedConfig *cfg, double abar)
{
  const double *ac = gen_sched_config_alphas_cumprod (cfg);
  int n = gen_sched_config_num_train_timesteps (cfg);
  double ls = log_sigma (abar);

  if (abar >= ac[0])
    return 0.0;
  for (int i = 0; i + 1 < n; i++)
    if (ac[i + 1] <= abar)
      {
        double l0 = log_sigma (ac[i]), l1 = log_sigma (ac[i + 1]);
        return i + (ls - l0) / (l1 - l0);
      }
  return n - 1;
}

/* x0 and ε from a model output at ᾱ (Ho et al. 2020 eq. 15; v: Salimans &
 * Ho 2022 §4).  Either output may be NULL. */
void
gen_job_split_output (const GenSchedConfig *cfg, double abar, const float *x, const float *out,
                      float *x0, float *eps, gint64 n)
{
  float a = (float) sqrt (abar), b = (float) sqrt (1.0 - abar);
  GenPrediction pred = gen_sched_config_prediction_type (cfg);

  for (gint64 i = 0; i < n; i++)
    {
      float px0, pe;

      if (pred == GEN_PREDICTION_EPSILON)
        pe = out[i], px0 = (x[i] - b * pe) / a;
      else if (pred == GEN_PREDICTION_V)
        px0 = a * x[i] - b * out[i], pe = b * x[i] + a * out[i];
      else
        px0 = out[i], pe = (x[i] - a * px0) / b;
      if (x0)
        x0[i] = px0;
      if (eps)
        eps[i] = pe;
    }
}
