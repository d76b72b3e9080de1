/* gen-sched.h — diffusion schedulers: diffusers' scheduler_config.json, the
 * timestep / sigma schedules (pure: config + step count → numbers), and a
 * stepper per sampler that mirrors the diffusers scheduler step for step.
 *
 *   sampler    diffusers class                      paper
 *   ddpm       DDPMScheduler                        Ho et al. 2020, eq. 7 / 15
 *   ddim       DDIMScheduler (eta)                  Song et al. 2021, eq. 12 / 16
 *   euler      EulerDiscreteScheduler (s_churn 0)   Karras et al. 2022, alg. 2
 *   euler_a    EulerAncestralDiscreteScheduler      k-diffusion sample_euler_ancestral
 *   heun       HeunDiscreteScheduler                Karras et al. 2022, alg. 1
 *   dpmpp_2m   DPMSolverMultistepScheduler          Lu et al. 2022 (DPM-Solver++), alg. 2
 *              (dpmsolver++, order 2, midpoint, lower_order_final)
 *   pndm       PNDMScheduler (PLMS; skip_prk_steps  Liu et al. 2022 (PNDM), eq. 9 / 12, alg. 2
 *              false: the Runge-Kutta warm-up)
 *   lcm        LCMScheduler                         Luo et al. 2023 (LCM), eq. 9, alg. 3
 *
 * Sigma schedules (the samplers that use sigmas only): default (the
 * training sigmas interpolated at the timesteps), karras (Karras et al. 2022
 * eq. 5, rho 7) and exponential, computed as diffusers does with
 * use_karras_sigmas / use_exponential_sigmas.  diffusers' Euler-ancestral
 * class has no such option; euler_a takes EulerDiscreteScheduler's sigmas.
 *
 * Numbers are computed in the precision diffusers computes them: betas and
 * alphas_cumprod as torch's CPU float32 kernels produce them (linspace as
 * torch 1.13's AVX2 kernel, cumprod accumulated in double), schedules in
 * float64 where numpy works in float64, every per-step coefficient and
 * every tensor update in float32.  Transcendentals are glibc's (diffusers'
 * numpy uses SIMD versions that differ in the last ulp between CPUs, so
 * its fractional timesteps differ by a float32 ulp from machine to machine),
 * and _sigma_to_t promotes types as NumPy 2 does (NEP 50; NumPy 1.x would
 * subtract in float32).
 *
 * The room, a header and a file per concern:
 *   gen-sched-config.h/.c   scheduler_config.json → betas, ᾱ and the keys
 *   gen-sched-numpy.c       numpy / torch arithmetic set_timesteps relies on
 *   gen-sampler-table.h/.c  the samplers and sigma schedules, a row each
 *   gen-schedule.h/.c       the pure schedule (set_timesteps)
 *   gen-sampler.h/.c        the stepper; gen-sampler-x0.c, gen-sampler-steps.c
 *                           and gen-sampler-img2img.c hold its formulas,
 *                           gen-sampler-pndm.c and gen-sampler-lcm.c those
 *                           two classes whole (schedule and step)
 *   gen-sched-private.h     what those files share
 *
 * Changes from the first sketch of this API, and why:
 *  - gen_sampler_scale_model_input: diffusers divides x by sqrt(σ²+1);
 *    multiplying by gen_sampler_input_scale() differs in the last bit.
 *  - the prediction enum is GenPrediction (the jobs already used that name);
 *    gen_sampler_kind / gen_sampler_kind_name / gen_sigma_schedule_name added
 *    for messages.
 *  - gen_sampler_start_index returns gen_sampler_n_evals when the strength
 *    leaves no step (diffusers raises there).
 *  - euler_a refuses prediction_type "sample" (UNSUPPORTED), as diffusers'
 *    EulerAncestralDiscreteScheduler does.
 *  - the schedule is a value of its own (GenSchedule), which the stepper
 *    holds; each sampler is a row of one table (gen-sampler-table.h).
 */
#pragma once

#include "gen-sched-config.h"
#include "gen-sampler-table.h"
#include "gen-schedule.h"
#include "gen-sampler.h"
