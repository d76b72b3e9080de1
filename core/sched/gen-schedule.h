/* gen-schedule.h — the pure part of a scheduler, diffusers' set_timesteps:
 * (config, sampler, sigma schedule, steps) → timesteps and sigmas, returned
 * as a value.  Nothing here steps; a GenSampler (gen-sampler.h) holds one
 * of these beside its own step state. */
#pragma once

#include <glib.h>

#include "gen-sched-config.h"
#include "gen-sampler-table.h"

G_BEGIN_DECLS

typedef struct
{
  GenSamplerKind   kind;
  GenSigmaSchedule sigma_schedule;
  int              steps;             /* as asked */
  /* Model evaluations: steps (heun: 2·steps − 1; pndm: steps + 1, or
   * steps + 9 with its Runge-Kutta warm-up; see the trailing note below). */
  int              n_evals;
  /* [n_evals] diffusers' scheduler.timesteps: the timestep to give the model
   * at eval i (integers for ddpm / ddim / dpmpp_2m / pndm / lcm, float32
   * values for the others). */
  double          *timesteps;
  /* The noise level in VE units σ = √((1−ᾱ)/ᾱ).  Sigma samplers:
   * [n_evals + 1], the scheduler's sigmas — heun's are σ0, σ1, σ1, …,
   * σn−1, σn−1 — and last the level the last step lands on (0, or σ_min with
   * final_sigmas_type "sigma_min").  ddpm / ddim / pndm / lcm: [n_evals],
   * σ(t_i). */
  float           *sigmas;
  /* Start noise x_T = randn · this: 1 for ddpm, ddim, dpmpp_2m, pndm, lcm; max σ,
   * or √(max σ² + 1) under "leading" spacing, for the rest. */
  float            init_noise_sigma;
} GenSchedule;

/* The timesteps and sigmas of STEPS steps (set_timesteps).  STEPS must be
 * 1 .. num_train_timesteps; a non-default SIGMAS with a sampler that does
 * not use sigmas (ddpm, ddim) is INVALID.  Also INVALID: a schedule
 * diffusers would index out of range (ddpm / ddim with a timestep outside
 * 0 .. num_train_timesteps-1, e.g. from steps_offset or the
 * trailing-spacing rounding below), pndm's Runge-Kutta warm-up with fewer
 * than 4 steps, lcm with more steps than original_inference_steps (or that
 * above num_train_timesteps).  Free with gen_schedule_free.
 *
 * Evaluations are taken in order by index, as diffusers does after
 * set_begin_index(0).  (Without it diffusers looks the first timestep up and
 * takes its second occurrence when it repeats — then runs off the end of its
 * schedule.  DPM-Solver's karras / exponential timesteps on a cosine
 * schedule are truncated, not rounded, so whether the first one repeats
 * depends on the last ulp of pow().)
 *
 * Note: with timestep_spacing "trailing", numpy's arange gives diffusers
 * one timestep more than asked for some step counts (1000 train steps: 61,
 * 103, 121, …), the extra one being -1; the sigma samplers run it as
 * diffusers does (n_evals counts it), ddpm / ddim refuse it. */
GenSchedule *gen_schedule_new (const GenSchedConfig *cfg, GenSamplerKind kind,
                               GenSigmaSchedule sigmas, int steps, GError **error);
void         gen_schedule_free (GenSchedule *schedule);

G_END_DECLS
