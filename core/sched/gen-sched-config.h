/* gen-sched-config.h — diffusers' scheduler_config.json: the model's noise
 * schedule (betas → ᾱ), its prediction type, and the keys the samplers read.
 *
 * Config keys.  A key in the file is used as written.  A missing key takes
 * the default of the diffusers class of the chosen sampler, as current
 * diffusers' Class.from_config() / from_pretrained() do (they drop the
 * values the saving class only defaulted, "_use_default_values") — so
 * "_class_name" does not change any number.  Two exceptions: a missing file
 * (path NULL) is DDPMScheduler() written out in full (linear 1e-4..0.02,
 * 1000 steps, epsilon, clip_sample true range 1, leading spacing), and
 * beta_schedule / beta_start / beta_end default to linear / 1e-4 / 0.02
 * for every sampler (HeunDiscreteScheduler's own 0.00085 / 0.012 and
 * LCMScheduler's scaled_linear 0.00085 / 0.012 would make the model's noise
 * schedule depend on the sampler).
 * Read: num_train_timesteps, beta_start, beta_end, beta_schedule (linear,
 * scaled_linear, squaredcos_cap_v2), trained_betas, prediction_type
 * (epsilon, v_prediction, sample), clip_sample, clip_sample_range,
 * timestep_spacing (leading, trailing, linspace), steps_offset,
 * set_alpha_to_one, variance_type (fixed_small, fixed_small_log,
 * fixed_large), final_sigmas_type (zero, sigma_min), sigma_min, sigma_max,
 * lambda_min_clipped, lower_order_final, euler_at_final, skip_prk_steps
 * (PNDM: false runs the Runge-Kutta warm-up), original_inference_steps and
 * timestep_scaling (LCM; LCMScheduler reads no timestep_spacing or
 * steps_offset, and neither do we for it).
 * The model's own choice, for front ends whose user picked none
 * (gen_sched_config_sampler / gen_sched_config_sigma_schedule below):
 * "_class_name", use_karras_sigmas, use_exponential_sigmas (both true is
 * FORMAT, as diffusers refuses it).  They change no number of a sampler
 * that was picked: the sampler name and the sigma schedule argument decide.
 * UNSUPPORTED when set otherwise: thresholding, rescale_betas_zero_snr (its
 * last ᾱ is 0, which each class patches its own way), interpolation_type
 * (linear only), timestep_type (discrete only), use_flow_sigmas, other
 * variance types.  Ignored: algorithm_type, solver_order, solver_type,
 * use_beta_sigmas, use_lu_lambdas.  JSON null reads as a missing key, except
 * for the boolean keys, where diffusers tests Python's None for truth: false.
 * Bare NaN / Infinity / -Infinity (which Python's json writes, e.g.
 * "lambda_min_clipped": -Infinity in a saved DPMSolverMultistepScheduler
 * config; not JSON) read as null. */
#pragma once

#include <glib.h>

#include "gen-sampler-table.h"

G_BEGIN_DECLS

typedef enum
{
  GEN_PREDICTION_EPSILON,
  GEN_PREDICTION_V,       /* "v_prediction" (Salimans & Ho 2022) */
  GEN_PREDICTION_SAMPLE   /* the model predicts x0 */
} GenPrediction;

/* num_train_timesteps must lie in 2 .. GEN_SCHED_MAX_TRAIN_TIMESTEPS. */
#define GEN_SCHED_MAX_TRAIN_TIMESTEPS 100000

/* A scheduler_config.json is a few hundred bytes (a few dozen KiB with
 * trained_betas); a bigger file is refused before it is read. */
#define GEN_SCHED_CONFIG_MAX_BYTES (1024u * 1024u)

typedef struct _GenSchedConfig GenSchedConfig;

/* Reads a diffusers scheduler_config.json; PATH NULL gives the DDPMScheduler
 * defaults (= gen_sched_config_new_default).  Errors name the file and key. */
GenSchedConfig   *gen_sched_config_load (const char *path, GError **error);
/* The same from LEN bytes of JSON; NAME stands for the file in messages. */
GenSchedConfig   *gen_sched_config_load_from_data (const char *data, gsize len,
                                                   const char *name, GError **error);
GenSchedConfig   *gen_sched_config_new_default (void);
void              gen_sched_config_free (GenSchedConfig *cfg);
int               gen_sched_config_num_train_timesteps (const GenSchedConfig *cfg);
/* ᾱ_t, t = 0 .. num_train_timesteps-1: float32 values (as torch.cumprod of
 * 1 − β) widened to double.  Owned by CFG. */
const double     *gen_sched_config_alphas_cumprod (const GenSchedConfig *cfg);
GenPrediction     gen_sched_config_prediction_type (const GenSchedConfig *cfg);

/* The sampler the model's config names: the row of the sampler table whose
 * diffusers class is its "_class_name".  *KIND stays as the caller set it
 * (its default) when the config names no class, or names DDPMScheduler:
 * diffusers' training scripts save that class with every model, so it says
 * how the model was trained, not how to sample it.  A class no row has
 * (LMSDiscreteScheduler, UniPCMultistepScheduler, …) is UNSUPPORTED, naming
 * it and the samplers there are. */
gboolean          gen_sched_config_sampler (const GenSchedConfig *cfg, GenSamplerKind *kind,
                                            GError **error);
/* The sigma schedule the config asks KIND for: karras with
 * use_karras_sigmas, exponential with use_exponential_sigmas, where KIND's
 * class reads those keys (euler, heun, dpmpp_2m); default otherwise. */
GenSigmaSchedule  gen_sched_config_sigma_schedule (const GenSchedConfig *cfg,
                                                   GenSamplerKind kind);

G_END_DECLS
