/* gen-sched-private.h — what the files of core/sched share: the parsed
 * config, numpy's arithmetic, the full table rows (the public info plus the
 * class defaults and the formulas as function pointers) and the stepper's
 * state.  Not for front ends. */
#pragma once

#include "gen-sched.h"

G_BEGIN_DECLS

/* ---- the config (gen-sched-config.c) ---- */

typedef enum { SPACING_LEADING, SPACING_TRAILING, SPACING_LINSPACE } Spacing;
typedef enum { VAR_FIXED_SMALL, VAR_FIXED_SMALL_LOG, VAR_FIXED_LARGE } VarianceType;
typedef enum { FINAL_ZERO, FINAL_SIGMA_MIN } FinalSigmas;

/* timestep_spacing's values, by Spacing. */
extern const char *const gen_sched_spacing_names[3];

/* Keys whose default depends on the sampler's diffusers class: HAS says the
 * file (or the DDPM default config) set them. */
typedef struct
{
  gboolean has_spacing, has_offset, has_clip, has_clip_range, has_alpha_one, has_variance,
           has_final, has_sigma_min, has_sigma_max, has_lambda_min, has_lower_final,
           has_euler_final, has_skip_prk, has_original_steps, has_timestep_scaling;
  Spacing      spacing;
  gint64       steps_offset;
  gboolean     clip_sample;
  double       clip_sample_range;
  gboolean     set_alpha_to_one;
  VarianceType variance_type;
  FinalSigmas  final_sigmas;
  double       sigma_min, sigma_max;   /* karras / exponential range overrides */
  double       lambda_min_clipped;
  gboolean     lower_order_final, euler_at_final;
  gboolean     skip_prk_steps;         /* PNDMScheduler */
  int          original_steps;         /* LCMScheduler's original_inference_steps */
  double       timestep_scaling;       /* LCMScheduler */
} SamplerKeys;

struct _GenSchedConfig
{
  int           n_train;
  GenPrediction prediction;
  float        *betas;          /* [n_train] */
  float        *ac;             /* [n_train] ᾱ, float32 as torch.cumprod gives it */
  double       *ac_d;           /* [n_train] the same values as double */
  gboolean      cosine;         /* beta_schedule is squaredcos_cap_v2 (DPM-Solver then
                                   leaves its karras timesteps unrounded) */
  char         *class_name;     /* "_class_name", or NULL */
  gboolean      use_karras_sigmas, use_exponential_sigmas;   /* the model's sigma schedule */
  SamplerKeys   keys;
};

/* ---- numpy and torch, as diffusers' set_timesteps uses them (gen-sched-numpy.c) ---- */

void   gen_np_linspace (double start, double stop, int num, double *out);
int    gen_np_arange_down (double start, double ratio, double *out, int max);
double gen_np_interp_index (double x, const float *fp, int n);
double gen_sigma_to_t (double sigma, const float *log_sigmas, int n);
void   gen_torch_linspace_f32 (double start, double end, int n, float *out);

/* ---- the rows (gen-sampler-table.c) ---- */

typedef struct _GenSamplerRow GenSamplerRow;

/* set_timesteps: the timesteps of STEPS steps into TS (room for
 * GEN_SCHED_TS_ROOM (steps)) below LAST (n_train, or DPM-Solver's
 * lambda_min_clipped end), with CFG's spacing and keys; returns how many
 * (< 1: none), or -1 with ERROR set where the class refuses the request. */
#define GEN_SCHED_TS_ROOM(steps) (2 * (gsize) (steps) + 16)
typedef int  (*GenTimestepsFunc) (const GenSchedConfig *cfg, Spacing spacing, int last,
                                  int steps, gint64 offset, double *ts, GError **error);
typedef void (*GenX0Func) (const GenSampler *s, int i, const float *x, const float *mo,
                           float *x0, gint64 n);
typedef void (*GenStepFunc) (GenSampler *s, int i, const float *mo, float *x, gint64 n,
                             GenRng *rng);
typedef void (*GenAddNoiseFunc) (const GenSampler *s, int start, const float *x0,
                                 const float *noise, float *x, gint64 n);

struct _GenSamplerRow
{
  GenSamplerInfo   info;
  const char      *diffusers_class;
  /* the class's keys and their defaults, for keys the config leaves out */
  Spacing          default_spacing;
  gboolean         has_clip_sample, default_clip;
  gboolean         default_alpha_to_one;  /* set_alpha_to_one (ddim, pndm, lcm) */
  gboolean         has_final_sigmas_type;
  gboolean         reads_sigma_keys;      /* use_karras_sigmas / use_exponential_sigmas */
  gboolean         refuses_sample_prediction;
  /* diffusers' training scripts save this class with every model: naming it
   * says how the model was trained, not how to sample it */
  gboolean         training_class;
  /* its set_timesteps (gen-schedule.c) */
  GenTimestepsFunc timesteps;
  gboolean         clips_lambda;          /* reads lambda_min_clipped */
  gboolean         trained_sigma_range;   /* karras / exponential span the trained sigmas,
                                             else the interpolated ones' ends */
  gboolean         int_timesteps;         /* karras / exponential timesteps as integers */
  gboolean         unit_init_noise;       /* init_noise_sigma is 1 */
  /* its step (gen-sampler.c, gen-sampler-x0.c, gen-sampler-steps.c) */
  gboolean         scales_input;          /* scale_model_input divides by √(σ²+1) */
  int              n_buffers;             /* sample-sized buffers of step state */
  GenX0Func        predict_x0;
  GenStepFunc      step;
  gboolean       (*draws_noise) (const GenSampler *s, int i);    /* NULL: never */
  gboolean       (*check) (const GenSampler *s, GError **error);  /* NULL: steps any schedule */
  /* img2img (gen-sampler-img2img.c) */
  GenAddNoiseFunc  add_noise;
};

/* KIND's row; NULL when KIND is none. */
const GenSamplerRow *gen_sampler_row (GenSamplerKind kind);

typedef struct
{
  GenSigmaScheduleInfo info;
  /* N sigmas from SIGMA_MAX down to SIGMA_MIN into OUT; NULL: the trained
   * sigmas interpolated at the timesteps */
  void               (*sigmas) (double sigma_min, double sigma_max, int n, double *out);
  gboolean             rounds_int_timesteps;   /* .round() before the int64 cast (not for
                                                  cosine betas) */
} GenSigmaRow;

const GenSigmaRow *gen_sigma_row (GenSigmaSchedule schedule);

/* ---- the schedule (gen-schedule.c) ---- */

/* INVALID "<sampler> with <steps> steps: <message>". */
void gen_sched_fail (GError **error, GenSamplerKind kind, int steps, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);
/* The checks of gen_schedule_new that need no computing: KIND and SIGMAS
 * exist and go together, STEPS is in range. */
gboolean gen_schedule_check_request (const GenSchedConfig *cfg, GenSamplerKind kind,
                                     GenSigmaSchedule sigmas, int steps, GError **error);
/* final_sigmas_type as ROW's class reads it. */
FinalSigmas gen_sched_final_sigmas (const GenSchedConfig *cfg, const GenSamplerRow *row);

int  gen_timesteps_ddpm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                         gint64 offset, double *ts, GError **error);
int  gen_timesteps_euler (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                          gint64 offset, double *ts, GError **error);
int  gen_timesteps_dpm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                        gint64 offset, double *ts, GError **error);
int  gen_timesteps_pndm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                         gint64 offset, double *ts, GError **error);
int  gen_timesteps_lcm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                        gint64 offset, double *ts, GError **error);
void gen_sigmas_karras (double sigma_min, double sigma_max, int n, double *out);
void gen_sigmas_exponential (double sigma_min, double sigma_max, int n, double *out);

/* ---- the stepper (gen-sampler.c) ---- */

#define GEN_SAMPLER_MAX_BUFFERS 6

struct _GenSampler
{
  const GenSamplerRow *row;
  GenSchedule         *sched;       /* owned */
  GenPrediction        prediction;
  int                  n_train;
  float               *ac;          /* [n_train] ᾱ */
  gboolean             clip_sample; /* FALSE where the class has no clip_sample */
  float                clip_range;
  VarianceType         variance_type;
  float                final_alpha;  /* ddim: ᾱ "before" t = 0 */
  float                eta;          /* 0 where the sampler has no eta */
  gboolean             lower_order_final, euler_at_final;
  FinalSigmas          final_sigmas;
  gboolean             skip_prk_steps;   /* pndm */
  float                timestep_scaling; /* lcm */

  /* run state */
  int                  last_i;
  int                  lower_order_nums;   /* dpm: steps taken in this run (capped at 2) */
  gboolean             heun_first_done;    /* heun: the first stage of a step is stored */
  float                heun_dt;
  int                  counter;            /* pndm: steps taken in this run */
  int                  n_ets;              /* pndm: model outputs kept (at most 4) */
  gint64               reserved;
  float               *noise;    /* [reserved] */
  /* [row->n_buffers][reserved]
   *   dpm:  0 previous x0 (m1), 1 current x0 (m0)
   *   heun: 0 first-stage derivative, 1 first-stage sample
   *   pndm: 0..3 the last model outputs (ets, oldest first), 4 the sample a
   *         Runge-Kutta step or the first PLMS pair starts from, 5 the
   *         Runge-Kutta sum of model outputs */
  float               *buf[GEN_SAMPLER_MAX_BUFFERS];
};

/* ---- the formulas (gen-sampler-x0.c, gen-sampler-steps.c, gen-sampler-img2img.c) ---- */

static inline float
gen_sched_clamp (float v, float r)
{
  /* torch.clamp (-r, r); NaN stays NaN */
  return v < -r ? -r : (v > r ? r : v);
}

/* One element of x0 from √ᾱ = SA, √(1−ᾱ) = SB (Ho et al. 2020 eq. 15; v:
 * Salimans & Ho 2022), clipped where S's class clips. */
static inline float
gen_x0_vp_one (const GenSampler *s, float sa, float sb, float x, float mo)
{
  float v;

  if (s->prediction == GEN_PREDICTION_EPSILON)
    {
      float e = sb * mo;

      v = (x - e) / sa;
    }
  else if (s->prediction == GEN_PREDICTION_V)
    {
      float p = sa * x, q = sb * mo;

      v = p - q;
    }
  else
    v = mo;
  return s->clip_sample ? gen_sched_clamp (v, s->clip_range) : v;
}

/* x0 from ᾱ = A (ddpm, ddim), at VE level SIGMA (euler, euler_a, heun), or
 * DPM-Solver++'s data prediction at SIGMA; each clips as S's class does. */
void gen_x0_vp (const GenSampler *s, float a, const float *x, const float *mo, float *x0,
                gint64 n);
void gen_x0_ve (const GenSampler *s, float sigma, const float *x, const float *mo, float *x0,
                gint64 n);
void gen_x0_dpm (const GenSampler *s, float sigma, const float *x, const float *mo, float *x0,
                 gint64 n);
/* The same at eval I, as the rows' predict_x0. */
void gen_predict_x0_vp (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                        gint64 n);
void gen_predict_x0_ve (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                        gint64 n);
void gen_predict_x0_dpm (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                         gint64 n);

void gen_step_ddpm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_ddim (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_euler (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_euler_a (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_heun (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_dpm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_pndm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_step_lcm (GenSampler *s, int i, const float *mo, float *x, gint64 n, GenRng *rng);
void gen_predict_x0_lcm (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                         gint64 n);
gboolean gen_draws_noise_lcm (const GenSampler *s, int i);
gboolean gen_check_pndm (const GenSampler *s, GError **error);
gboolean gen_draws_noise_ddpm (const GenSampler *s, int i);
gboolean gen_draws_noise_ddim (const GenSampler *s, int i);
gboolean gen_draws_noise_always (const GenSampler *s, int i);
gboolean gen_check_dpm (const GenSampler *s, GError **error);

void gen_add_noise_vp (const GenSampler *s, int start, const float *x0, const float *noise,
                       float *x, gint64 n);
void gen_add_noise_ve (const GenSampler *s, int start, const float *x0, const float *noise,
                       float *x, gint64 n);
void gen_add_noise_dpm (const GenSampler *s, int start, const float *x0, const float *noise,
                        float *x, gint64 n);

G_END_DECLS
