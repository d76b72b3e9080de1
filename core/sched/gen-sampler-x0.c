/* gen-sampler-x0.c — the samplers' predictions of the clean sample x0 from
 * the model's output (diffusers' pred_original_sample; DPM-Solver++'s data
 * prediction), in float32 in diffusers' order of operations. */
#include "gen-sched-private.h"

#include <math.h>

/* ddpm / ddim: x0 from ᾱ_t (gen_x0_vp_one). */
void
gen_x0_vp (const GenSampler *s, float a, const float *x, const float *mo, float *x0, gint64 n)
{
  float b = 1.0f - a, sa = sqrtf (a), sb = sqrtf (b);

  for (gint64 j = 0; j < n; j++)
    x0[j] = gen_x0_vp_one (s, sa, sb, x[j], mo[j]);
}

/* euler / euler_a / heun: x0 at VE level σ (Karras et al. 2022 table 1:
 * ε: x − σε; v: c_out·v + c_skip·x with c_out = −σ/√(σ²+1), c_skip = 1/(σ²+1)),
 * clipped where the class clips (heun). */
void
gen_x0_ve (const GenSampler *s, float sigma, const float *x, const float *mo, float *x0, gint64 n)
{
  float s2 = sigma * sigma + 1.0f;
  float c_out = -sigma / sqrtf (s2);

  for (gint64 j = 0; j < n; j++)
    {
      float v;

      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sigma * mo[j];

          v = x[j] - e;
        }
      else if (s->prediction == GEN_PREDICTION_V)
        {
          float p = mo[j] * c_out, q = x[j] / s2;

          v = p + q;
        }
      else
        v = mo[j];
      x0[j] = s->clip_sample ? gen_sched_clamp (v, s->clip_range) : v;
    }
}

/* dpmpp_2m: DPM-Solver++'s data prediction (Lu et al. 2022, sec. 3) with the
 * VP α_t = 1/√(σ²+1), σ_t = σ·α_t. */
void
gen_x0_dpm (const GenSampler *s, float sigma, const float *x, const float *mo, float *x0, gint64 n)
{
  float alpha_t = 1.0f / sqrtf (sigma * sigma + 1.0f), sigma_t = sigma * alpha_t;

  for (gint64 j = 0; j < n; j++)
    {
      if (s->prediction == GEN_PREDICTION_EPSILON)
        {
          float e = sigma_t * mo[j];

          x0[j] = (x[j] - e) / alpha_t;
        }
      else if (s->prediction == GEN_PREDICTION_V)
        {
          float p = alpha_t * x[j], q = sigma_t * mo[j];

          x0[j] = p - q;
        }
      else
        x0[j] = mo[j];
    }
}

void
gen_predict_x0_vp (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                   gint64 n)
{
  gen_x0_vp (s, s->ac[(int) s->sched->timesteps[i]], x, mo, x0, n);
}

void
gen_predict_x0_ve (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                   gint64 n)
{
  gen_x0_ve (s, s->sched->sigmas[i], x, mo, x0, n);
}

void
gen_predict_x0_dpm (const GenSampler *s, int i, const float *x, const float *mo, float *x0,
                    gint64 n)
{
  gen_x0_dpm (s, s->sched->sigmas[i], x, mo, x0, n);
}

void
gen_sampler_predict_x0 (const GenSampler *s, int i, const float *x, const float *model_output,
                        float *x0, gint64 n)
{
  g_return_if_fail (s != NULL && i >= 0 && i < s->sched->n_evals && n >= 0);
  s->row->predict_x0 (s, i, x, model_output, x0, n);
}
