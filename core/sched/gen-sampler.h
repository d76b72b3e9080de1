/* gen-sampler.h — the stepper: a schedule (gen-schedule.h) plus the state
 * one run of a sampler keeps (noise buffer, DPM-Solver's previous x0,
 * Heun's first stage), stepping as the diffusers scheduler steps. */
#pragma once

#include <glib.h>

#include "gen-random.h"
#include "gen-schedule.h"

G_BEGIN_DECLS

typedef struct _GenSampler GenSampler;

/* The schedule of gen_schedule_new (CFG, KIND, SIGMAS, STEPS) and a stepper
 * over it, which copies what it needs from CFG.  ETA (samplers that use it,
 * ignored by the others) must be 0 .. 1.  Besides gen_schedule_new's
 * errors: INVALID for a dpmpp_2m schedule where a second-order step follows
 * two equal sigmas (repeated timesteps, e.g. far more steps than the
 * spacing can separate; diffusers computes inf / NaN), INVALID for a pndm
 * schedule whose first PLMS pair would look past the last trained timestep,
 * UNSUPPORTED for euler_a and pndm with prediction_type "sample" (diffusers
 * refuses it too). */
GenSampler *gen_sampler_new (const GenSchedConfig *cfg, GenSamplerKind kind,
                             GenSigmaSchedule sigmas, int steps, double eta, GError **error);
void        gen_sampler_free (GenSampler *s);

/* The schedule S steps on; owned by S. */
const GenSchedule *gen_sampler_schedule (const GenSampler *s);
GenSamplerKind     gen_sampler_kind (const GenSampler *s);
/* The schedule's n_evals, timesteps[i], sigmas[i] and init_noise_sigma. */
int    gen_sampler_n_evals (const GenSampler *s);
double gen_sampler_timestep (const GenSampler *s, int i);
double gen_sampler_sigma (const GenSampler *s, int i);
float  gen_sampler_init_noise_sigma (const GenSampler *s);
/* scale_model_input as a factor: 1/sqrt(σ_i² + 1) for euler, euler_a, heun,
 * 1 for the others. */
float  gen_sampler_input_scale (const GenSampler *s, int i);
/* OUT = scale_model_input(X) exactly as diffusers computes it (X / sqrt(σ²+1));
 * OUT may be X.  (Multiplying by gen_sampler_input_scale differs in the last
 * bit.) */
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
 * eta > 0, lcm before its last step); RNG may be NULL otherwise.  The
 * caller passes I = start, start+1, … in order; a call whose I is not the
 * previous I + 1 begins a new run (DPM-Solver's history, Heun's first stage
 * and PNDM's step count and kept outputs are cleared). */
void gen_sampler_step (GenSampler *s, int i, const float *model_output, float *x, gint64 n,
                       GenRng *rng);

/* X0 = the sampler's prediction of the clean sample from MODEL_OUTPUT at eval
 * I for the current sample X (diffusers' pred_original_sample, clipped where
 * the sampler clips; DPM-Solver++'s data prediction; pndm, which has none:
 * Ho et al. eq. 15; lcm: its denoised sample c_skip·x + c_out·x0).  X0 may
 * alias X. */
void gen_sampler_predict_x0 (const GenSampler *s, int i, const float *x, const float *model_output,
                             float *x0, gint64 n);

/* img2img / SDEdit.  The eval index to start at for STRENGTH the way diffusers' img2img
 * pipelines choose it (get_timesteps): init = min(int(steps·strength),
 * steps), t_start = max(steps − init, 0), start = t_start · order (the
 * row's order: heun's is 2).  STRENGTH is clamped to [0, 1] (NaN counts as
 * 0; diffusers refuses values outside).  A strength that leaves no step
 * returns gen_sampler_n_evals (diffusers raises an error there). */
int  gen_sampler_start_index (const GenSampler *s, double strength);
/* X = the scheduler's add_noise(X0, NOISE) at eval START: √ᾱ·x0 + √(1−ᾱ)·noise
 * (ddpm, ddim, pndm, lcm; Ho et al. eq. 4), x0 + σ·noise (euler, euler_a, heun),
 * α·x0 + σ_t·noise with α = 1/√(σ²+1), σ_t = σα (dpmpp_2m).  X may alias. */
void gen_sampler_add_noise (const GenSampler *s, int start, const float *x0, const float *noise,
                            float *x, gint64 n);

G_END_DECLS
