/* gen-sampler-img2img.c — starting part-way down a schedule (img2img,
 * SDEdit): where diffusers' img2img pipelines start for a strength, and each
 * class's add_noise, the forward process to that start. */
#include "gen-sched-private.h"

#include <math.h>

int
gen_sampler_start_index (const GenSampler *s, double strength)
{
  int order, init, t_start, start;

  g_return_val_if_fail (s != NULL, 0);
  if (!(strength >= 0))
    strength = 0;
  if (strength > 1)
    strength = 1;
  order = s->row->info.order;
  init = (int) (s->sched->steps * strength);   /* Python int(): truncation */
  if (init > s->sched->steps)
    init = s->sched->steps;
  t_start = MAX (s->sched->steps - init, 0);
  start = t_start * order;
  return MIN (start, s->sched->n_evals);
}

/* q(x_t | x_0), Ho et al. 2020 eq. 4: √ᾱ·x0 + √(1−ᾱ)·noise (ddpm, ddim, pndm, lcm). */
void
gen_add_noise_vp (const GenSampler *s, int start, const float *x0, const float *noise, float *x,
                  gint64 n)
{
  float a = s->ac[(int) s->sched->timesteps[start]];
  float sa = sqrtf (a), sb = sqrtf (1.0f - a);

  for (gint64 j = 0; j < n; j++)
    {
      float p = sa * x0[j], q = sb * noise[j];

      x[j] = p + q;
    }
}

/* x0 + σ·noise (euler, euler_a, heun). */
void
gen_add_noise_ve (const GenSampler *s, int start, const float *x0, const float *noise, float *x,
                  gint64 n)
{
  float sigma = s->sched->sigmas[start];

  for (gint64 j = 0; j < n; j++)
    {
      float q = noise[j] * sigma;

      x[j] = x0[j] + q;
    }
}

/* α·x0 + σ_t·noise with α = 1/√(σ²+1), σ_t = σα (dpmpp_2m). */
void
gen_add_noise_dpm (const GenSampler *s, int start, const float *x0, const float *noise, float *x,
                   gint64 n)
{
  float sigma = s->sched->sigmas[start];
  float alpha_t = 1.0f / sqrtf (sigma * sigma + 1.0f), sigma_t = sigma * alpha_t;

  for (gint64 j = 0; j < n; j++)
    {
      float p = alpha_t * x0[j], q = sigma_t * noise[j];

      x[j] = p + q;
    }
}

void
gen_sampler_add_noise (const GenSampler *s, int start, const float *x0, const float *noise,
                       float *x, gint64 n)
{
  g_return_if_fail (s != NULL && start >= 0 && start < s->sched->n_evals && n >= 0);
  s->row->add_noise (s, start, x0, noise, x, n);
}
