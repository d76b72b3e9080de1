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
 *
 * Sigma schedules (euler, euler_a, heun, dpmpp_2m only): default (the
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
 * Config keys.  A key in the file is used as written.  A missing key takes
 * the default of the diffusers class of the chosen sampler, as current
 * diffusers' Class.from_config() / from_pretrained() do (they drop the
 * values the saving class only defaulted, "_use_default_values") — so
 * "_class_name" does not change any number.  Two exceptions: a missing file
 * (path NULL) is DDPMScheduler() written out in full (linear 1e-4..0.02,
 * 1000 steps, epsilon, clip_sample true range 1, leading spacing), and
 * beta_start / beta_end default to 1e-4 / 0.02 for every sampler
 * (HeunDiscreteScheduler's own 0.00085 / 0.012 would make the model's noise
 * schedule depend on the sampler).
 * Read: num_train_timesteps, beta_start, beta_end, beta_schedule (linear,
 * scaled_linear, squaredcos_cap_v2), trained_betas, prediction_type
 * (epsilon, v_prediction, sample), clip_sample, clip_sample_range,
 * timestep_spacing (leading, trailing, linspace), steps_offset,
 * set_alpha_to_one, variance_type (fixed_small, fixed_small_log,
 * fixed_large), final_sigmas_type (zero, sigma_min), sigma_min, sigma_max,
 * lambda_min_clipped, lower_order_final, euler_at_final.
 * UNSUPPORTED when set otherwise: thresholding, rescale_betas_zero_snr,
 * interpolation_type (linear only), timestep_type (discrete only),
 * use_flow_sigmas, other variance types.  Ignored (the sampler name and the
 * sigma schedule argument decide): algorithm_type, solver_order,
 * solver_type, use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas,
 * use_lu_lambdas, skip_prk_steps.  JSON null reads as a missing key, except
 * for the boolean keys, where diffusers tests Python's None for truth: false.
 * Bare NaN / Infinity / -Infinity (which Python's json writes, e.g.
 * "lambda_min_clipped": -Infinity in a saved DPMSolverMultistepScheduler
 * config; not JSON) read as null.
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
 */
#pragma once

#include <glib.h>

#include "gen-random.h"

G_BEGIN_DECLS

/* ---- scheduler_config.json ------------------------------------------------ */

typedef enum
{
  GEN_PREDICTION_EPSILON,
  GEN_PREDICTION_V,       /* "v_prediction" (Salimans & Ho 2022) */
  GEN_PREDICTION_SAMPLE   /* the model predicts x0 */
} GenPrediction;

/* num_train_timesteps must lie in 2 .. GEN_SCHED_MAX_TRAIN_TIMESTEPS. */
#define GEN_SCHED_MAX_TRAIN_TIMESTEPS 100000

typedef struct _GenSchedConfig GenSchedConfig;

/* Reads a diffusers scheduler_config.json; PATH NULL gives the DDPMScheduler
 * defaults (= gen_sched_config_new_default).  Errors name the file and key. */
GenSchedConfig   *gen_sched_config_load (const char *path, GError **error);
GenSchedConfig   *gen_sched_config_new_default (void);
void              gen_sched_config_free (GenSchedConfig *cfg);
int               gen_sched_config_num_train_timesteps (const GenSchedConfig *cfg);
/* ᾱ_t, t = 0 .. num_train_timesteps-1: float32 values (as torch.cumprod of
 * 1 − β) widened to double.  Owned by CFG. */
const double     *gen_sched_config_alphas_cumprod (const GenSchedConfig *cfg);
GenPrediction     gen_sched_config_prediction_type (const GenSchedConfig *cfg);

/* ---- samplers and sigma schedules ---------------------------------------- */

typedef enum
{
  GEN_SAMPLER_DDPM,
  GEN_SAMPLER_DDIM,
  GEN_SAMPLER_EULER,
  GEN_SAMPLER_EULER_A,
  GEN_SAMPLER_HEUN,
  GEN_SAMPLER_DPMPP_2M
} GenSamplerKind;

typedef enum
{
  GEN_SIGMAS_DEFAULT,
  GEN_SIGMAS_KARRAS,
  GEN_SIGMAS_EXPONENTIAL
} GenSigmaSchedule;

/* "ddpm", "ddim", "euler", "euler_a", "heun", "dpmpp_2m"; also "euler-a",
 * "euler_ancestral", "dpm++2m", "dpm++_2m", "dpmpp-2m".  An unknown name is
 * GEN_ERROR_INVALID listing the valid ones. */
gboolean    gen_sampler_kind_from_name (const char *name, GenSamplerKind *out, GError **error);
const char *gen_sampler_kind_name (GenSamplerKind kind);
/* "default", "karras", "exponential". */
gboolean    gen_sigma_schedule_from_name (const char *name, GenSigmaSchedule *out, GError **error);
const char *gen_sigma_schedule_name (GenSigmaSchedule schedule);

typedef struct _GenSampler GenSampler;

/* The pure part: the timesteps and sigmas of STEPS steps (set_timesteps).
 * STEPS must be 1 .. num_train_timesteps; ETA (ddim only, ignored by the
 * others) 0 .. 1; a non-default SIGMAS with ddpm / ddim is INVALID.  Also
 * INVALID: a schedule diffusers would index out of range (ddpm / ddim with
 * a timestep outside 0 .. num_train_timesteps-1, e.g. from steps_offset or
 * the trailing-spacing rounding below), and a dpmpp_2m schedule where a
 * second-order step follows two equal sigmas (repeated timesteps, e.g. far
 * more steps than the spacing can separate; diffusers computes inf / NaN).
 * The sampler copies what it needs from CFG.
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
 * diffusers does (gen_sampler_n_evals counts it), ddpm / ddim refuse it. */
GenSampler *gen_sampler_new (const GenSchedConfig *cfg, GenSamplerKind kind,
                             GenSigmaSchedule sigmas, int steps, double eta, GError **error);
void        gen_sampler_free (GenSampler *s);

GenSamplerKind gen_sampler_kind (const GenSampler *s);
/* Model evaluations: steps (heun: 2·steps − 1; see the trailing note). */
int    gen_sampler_n_evals (const GenSampler *s);
/* diffusers' scheduler.timesteps[i]: the timestep to give the model at eval I
 * (integers for ddpm / ddim / dpmpp_2m, float32 values for the others). */
double gen_sampler_timestep (const GenSampler *s, int i);
/* The noise level of the model input at eval I in VE units σ = sqrt((1−ᾱ)/ᾱ):
 * the scheduler's sigmas[i] for the sigma samplers, σ(t_i) for ddpm / ddim. */
double gen_sampler_sigma (const GenSampler *s, int i);
/* Start noise x_T = randn · this (init_noise_sigma: 1 for ddpm, ddim and
 * dpmpp_2m; max σ, or sqrt(max σ² + 1) under "leading" spacing, for the rest). */
float  gen_sampler_init_noise_sigma (const GenSampler *s);
/* scale_model_input as a factor: 1/sqrt(σ_i² + 1) for euler, euler_a, heun,
 * 1 for the others. */
float  gen_sampler_input_scale (const GenSampler *s, int i);
/* OUT = scale_model_input(X) exactly as diffusers computes it (X / sqrt(σ²+1));
 * OUT may be X. */
void   gen_sampler_scale_model_input (const GenSampler *s, int i, const float *x, float *out,
                                      gint64 n);

/* Buffers for tensors of up to N floats (noise, DPM-Solver's previous x0,
 * Heun's first stage).  Call before stepping; gen_sampler_step then
 * allocates nothing.  NO_MEMORY on failure. */
gboolean gen_sampler_reserve (GenSampler *s, gint64 n, GError **error);

/* One step: X (n floats, n <= reserved) is updated in place from
 * MODEL_OUTPUT (the model's output at eval I for the input of
 * gen_sampler_scale_model_input).  Stochastic samplers draw their noise from
 * RNG as diffusers draws it from its generator (randn_tensor of the sample's
 * shape, one call per step: ddpm when t > 0, euler_a every step, ddim when
 * eta > 0); RNG may be NULL otherwise.  The caller passes I = start,
 * start+1, … in order; a call whose I is not the previous I + 1 begins a new
 * run (DPM-Solver's history and Heun's first stage are cleared). */
void gen_sampler_step (GenSampler *s, int i, const float *model_output, float *x, gint64 n,
                       GenRng *rng);

/* img2img / SDEdit.  The eval index to start at for STRENGTH the way
 * diffusers' img2img pipelines choose it (get_timesteps): init =
 * min(int(steps·strength), steps), t_start = max(steps − init, 0), start =
 * t_start · order (heun's order is 2).  STRENGTH is clamped to [0, 1] (NaN
 * counts as 0; diffusers refuses values outside).  A strength that leaves no
 * step returns gen_sampler_n_evals (diffusers raises an error there). */
int  gen_sampler_start_index (const GenSampler *s, double strength);
/* X = the scheduler's add_noise(X0, NOISE) at eval START: √ᾱ·x0 + √(1−ᾱ)·noise
 * (ddpm, ddim; Ho et al. eq. 4), x0 + σ·noise (euler, euler_a, heun),
 * α·x0 + σ_t·noise with α = 1/√(σ²+1), σ_t = σα (dpmpp_2m).  X may alias. */
void gen_sampler_add_noise (const GenSampler *s, int start, const float *x0, const float *noise,
                            float *x, gint64 n);

/* X0 = the sampler's prediction of the clean sample from MODEL_OUTPUT at eval
 * I for the current sample X (diffusers' pred_original_sample, clipped where
 * the sampler clips; DPM-Solver++'s data prediction).  X0 may alias X. */
void gen_sampler_predict_x0 (const GenSampler *s, int i, const float *x, const float *model_output,
                             float *x0, gint64 n);

G_END_DECLS
