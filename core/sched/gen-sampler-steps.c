/* gen-sampler-steps.c — one step of each sampler, as its diffusers class's
 * step() computes it (the paper equation beside each), every coefficient
 * and tensor update in float32; and what the rows say about them: when a
 * step draws noise, which schedules DPM-Solver can step. */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <math.h>

/* DPMSolverMultistepScheduler's lower_order_final test for eval I. */
static gboolean
dpm_final_first_order (const GenSampler *s, int i)
{
  return i == s->sched->n_evals - 1
         && (s->euler_at_final || (s->lower_order_final && s->sched->n_evals < 15)
             || s->final_sigmas == FINAL_ZERO);
}

/* DDPMScheduler.step: the posterior mean (Ho et al. 2020 eq. 7) plus, for
 * t > 0, its standard deviation times fresh noise (eq. 11 / alg. 2). */
void
gen_step_ddpm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  int t = (int) s->sched->timesteps[i], first = i, prev_t;
  float a, ap, bp, bpp, ca, cb, c_x0, c_xt;

  /* previous_timestep: the entry after the first one equal to t */
  for (int j = 0; j < s->sched->n_evals; j++)
    if (s->sched->timesteps[j] == t)
      {
        first = j;
        break;
      }
  prev_t = first == s->sched->n_evals - 1 ? -1 : (int) s->sched->timesteps[first + 1];
  a = s->ac[t];
  ap = prev_t >= 0 ? s->ac[prev_t] : 1.0f;
  bp = 1.0f - a;
  bpp = 1.0f - ap;
  ca = a / ap;
  cb = 1.0f - ca;
  c_x0 = (sqrtf (ap) * cb) / bp;
  c_xt = (sqrtf (ca) * bpp) / bp;

  gen_x0_vp (s, a, x, mo, s->noise, n);   /* clipped x0, in the noise buffer until drawn */
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
void
gen_step_ddim (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  int t = (int) s->sched->timesteps[i];
  int prev_t = t - s->n_train / s->sched->steps;
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
        x0 = gen_sched_clamp (x0, s->clip_range);
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
void
gen_step_euler (GenSampler *s, int i, const float *mo, float *x, gint64 n,
                G_GNUC_UNUSED GenRng *rng)
{
  float sigma = s->sched->sigmas[i], sigma_next = s->sched->sigmas[i + 1];
  float dt = sigma_next - sigma;

  gen_x0_ve (s, sigma, x, mo, s->noise, n);
  for (gint64 j = 0; j < n; j++)
    {
      float d = (x[j] - s->noise[j]) / sigma, v = d * dt;

      x[j] = x[j] + v;
    }
}

/* EulerAncestralDiscreteScheduler.step (k-diffusion sample_euler_ancestral:
 * σ_up = √(σ_to²(σ_from² − σ_to²)/σ_from²), σ_down = √(σ_to² − σ_up²),
 * x ← x + d·(σ_down − σ) + σ_up·z). */
void
gen_step_euler_a (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  float sigma = s->sched->sigmas[i], sigma_to = s->sched->sigmas[i + 1];
  float from2 = sigma * sigma, to2 = sigma_to * sigma_to;
  float up = sqrtf (to2 * (from2 - to2) / from2);
  float down = sqrtf (to2 - up * up);
  float dt = down - sigma;

  gen_x0_ve (s, sigma, x, mo, s->noise, n);   /* x0, in the noise buffer until drawn */
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
void
gen_step_heun (GenSampler *s, int i, const float *mo, float *x, gint64 n,
               G_GNUC_UNUSED GenRng *rng)
{
  float *d1 = s->buf[0], *x_first = s->buf[1];

  if (!s->heun_first_done)
    {
      float sigma = s->sched->sigmas[i], sigma_next = s->sched->sigmas[i + 1];
      float dt = sigma_next - sigma;

      gen_x0_ve (s, sigma, x, mo, s->noise, n);
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
      float sigma_next = s->sched->sigmas[i];
      float dt = s->heun_dt;

      gen_x0_ve (s, sigma_next, x, mo, s->noise, n);
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
void
gen_step_dpm (GenSampler *s, int i, const float *mo, float *x, gint64 n,
              G_GNUC_UNUSED GenRng *rng)
{
  gboolean final = dpm_final_first_order (s, i);
  float *m1 = s->buf[0], *m0 = s->buf[1];
  float sig_t = s->sched->sigmas[i + 1], sig_s0 = s->sched->sigmas[i];
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

    s->buf[0] = m0;
    s->buf[1] = tmp;
    m1 = s->buf[0];
    m0 = s->buf[1];
  }
  gen_x0_dpm (s, sig_s0, x, mo, m0, n);

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
      float sig_s1 = s->sched->sigmas[i - 1];
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

gboolean
gen_draws_noise_ddpm (const GenSampler *s, int i)
{
  return s->sched->timesteps[i] != 0;
}

gboolean
gen_draws_noise_ddim (const GenSampler *s, G_GNUC_UNUSED int i)
{
  return s->eta != 0;
}

gboolean
gen_draws_noise_always (G_GNUC_UNUSED const GenSampler *s, G_GNUC_UNUSED int i)
{
  return TRUE;
}

/* A second-order DPM-Solver step divides by r0 = h_0/h: with the previous
 * two sigmas equal (h_0 = 0) it makes inf / NaN, in diffusers too.  (h = 0
 * alone is harmless: 1/r0 = 0.) */
gboolean
gen_check_dpm (const GenSampler *s, GError **error)
{
  const GenSchedule *sc = s->sched;

  for (int i = 1; i < sc->n_evals; i++)
    if (!dpm_final_first_order (s, i) && !(sc->sigmas[i - 1] != sc->sigmas[i]))
      {
        gen_sched_fail (error, sc->kind, sc->steps,
                        "sigmas %d and %d are both %g (repeated timestep %g), which makes "
                        "DPM-Solver's second-order step divide by zero; use fewer steps",
                        i - 1, i, (double) sc->sigmas[i], sc->timesteps[i]);
        return FALSE;
      }
  return TRUE;
}
