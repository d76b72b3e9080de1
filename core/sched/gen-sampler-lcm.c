/* gen-sampler-lcm.c — LCMScheduler (Luo et al. 2023, "Latent Consistency
 * Models"): its schedule, a subset of the distillation schedule, and its
 * step — the consistency function's boundary-condition parameterisation
 * f(x, t) = c_skip(t)·x + c_out(t)·x0 (eq. 9 / 10), then fresh noise to the
 * next timestep (alg. 3, multistep sampling). */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <math.h>

/* set_timesteps (strength 1): the distillation schedule k·j − 1, j = 1 ..
 * original_inference_steps with k = ⌊N / original_inference_steps⌋,
 * reversed, at the indices ⌊linspace (0, original, steps, endpoint=False)⌋.
 * LCMScheduler reads neither timestep_spacing nor steps_offset. */
int
gen_timesteps_lcm (const GenSchedConfig *cfg, G_GNUC_UNUSED Spacing spacing,
                   G_GNUC_UNUSED int last, int steps, G_GNUC_UNUSED gint64 offset, double *ts,
                   GError **error)
{
  int orig = cfg->keys.has_original_steps ? cfg->keys.original_steps : 50;
  int k;
  double step;

  if (orig > cfg->n_train)
    {
      gen_sched_fail (error, GEN_SAMPLER_LCM, steps,
                      "original_inference_steps %d is more than num_train_timesteps %d", orig,
                      cfg->n_train);
      return -1;
    }
  if (steps > orig)
    {
      gen_sched_fail (error, GEN_SAMPLER_LCM, steps,
                      "LCM takes at most original_inference_steps (%d) steps", orig);
      return -1;
    }
  k = cfg->n_train / orig;
  step = (double) orig / steps;
  for (int i = 0; i < steps; i++)
    {
      gint64 index = (gint64) floor ((double) i * step + 0.0);

      ts[i] = (double) ((orig - index) * k - 1);
    }
  return steps;
}

/* get_scalings_for_boundary_condition_discrete: with σ_data = 0.5 and
 * s = t·timestep_scaling, c_skip = σ_data²/(s² + σ_data²),
 * c_out = s/√(s² + σ_data²). */
static void
lcm_scalings (const GenSampler *s, int t, float *c_skip, float *c_out)
{
  float st = (float) t * s->timestep_scaling;
  float den = st * st + 0.25f;

  *c_skip = 0.25f / den;
  *c_out = st / sqrtf (den);
}

/* DENOISED = c_out·x0 + c_skip·x at eval I (LCMSchedulerOutput.denoised),
 * x0 clipped where clip_sample says.  DENOISED may alias X. */
static void
lcm_denoised (const GenSampler *s, int i, const float *x, const float *mo, float *denoised,
              gint64 n)
{
  int t = (int) s->sched->timesteps[i];
  float a = s->ac[t], sa = sqrtf (a), sb = sqrtf (1.0f - a);
  float c_skip, c_out;

  lcm_scalings (s, t, &c_skip, &c_out);
  for (gint64 j = 0; j < n; j++)
    {
      float x0 = gen_x0_vp_one (s, sa, sb, x[j], mo[j]);
      float p = c_out * x0, q = c_skip * x[j];

      denoised[j] = p + q;
    }
}

void
gen_predict_x0_lcm (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                    gint64 n)
{
  lcm_denoised (s, i, x, mo, x0, n);
}

/* LCMScheduler.step: the denoised sample; before the last step, noised to
 * the next timestep: √ᾱ_prev·denoised + √(1 − ᾱ_prev)·z. */
void
gen_step_lcm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng)
{
  const GenSchedule *sc = s->sched;
  int t_prev;
  float ap, sa, sb;

  lcm_denoised (s, i, x, mo, x, n);
  if (!gen_draws_noise_lcm (s, i))
    return;
  t_prev = (int) sc->timesteps[i + 1];
  ap = t_prev >= 0 ? s->ac[t_prev] : s->final_alpha;
  sa = sqrtf (ap);
  sb = sqrtf (1.0f - ap);
  gen_rng_randn (rng, s->noise, n);
  for (gint64 j = 0; j < n; j++)
    {
      float p = sa * x[j], q = sb * s->noise[j];

      x[j] = p + q;
    }
}

gboolean
gen_draws_noise_lcm (const GenSampler *s, int i)
{
  return i != s->sched->n_evals - 1;
}
