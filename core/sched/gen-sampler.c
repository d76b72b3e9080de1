/* gen-sampler.c — the stepper: a schedule plus what a run keeps between
 * steps.  The sampler's row (gen-sampler-table.c) supplies its class's
 * defaults and its formulas (gen-sampler-x0.c, gen-sampler-steps.c,
 * gen-sampler-pndm.c, gen-sampler-lcm.c, gen-sampler-img2img.c). */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

GenSampler *
gen_sampler_new (const GenSchedConfig *cfg, GenSamplerKind kind, GenSigmaSchedule sigmas,
                 int steps, double eta, GError **error)
{
  const GenSamplerRow *row;
  const SamplerKeys *k;
  GenSchedule *sched;
  GenSampler *s;

  g_return_val_if_fail (cfg != NULL, NULL);
  if (!gen_schedule_check_request (cfg, kind, sigmas, steps, error))
    return NULL;
  row = gen_sampler_row (kind);
  if (row->info.uses_eta && !(eta >= 0 && eta <= 1))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: eta must be 0 .. 1, not %g",
                   row->info.name, eta);
      return NULL;
    }
  if (row->refuses_sample_prediction && cfg->prediction == GEN_PREDICTION_SAMPLE)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: prediction_type \"sample\" is not implemented (diffusers' "
                   "%s refuses it too)", row->info.name, row->diffusers_class);
      return NULL;
    }
  if (!(sched = gen_schedule_new (cfg, kind, sigmas, steps, error)))
    return NULL;

  k = &cfg->keys;
  s = g_new0 (GenSampler, 1);
  s->row = row;
  s->sched = sched;
  s->prediction = cfg->prediction;
  s->n_train = cfg->n_train;
  s->ac = g_memdup2 (cfg->ac, sizeof (float) * cfg->n_train);
  s->eta = row->info.uses_eta ? (float) eta : 0.0f;
  s->last_i = -2;
  s->clip_sample = row->has_clip_sample && (k->has_clip ? k->clip_sample : row->default_clip);
  s->clip_range = (float) (k->has_clip_range ? k->clip_sample_range : 1.0);
  s->variance_type = k->has_variance ? k->variance_type : VAR_FIXED_SMALL;
  s->final_sigmas = gen_sched_final_sigmas (cfg, row);
  s->lower_order_final = k->has_lower_final ? k->lower_order_final : TRUE;
  s->euler_at_final = k->has_euler_final ? k->euler_at_final : FALSE;
  s->final_alpha = (k->has_alpha_one ? k->set_alpha_to_one : row->default_alpha_to_one)
                   ? 1.0f : s->ac[0];
  s->skip_prk_steps = k->has_skip_prk && k->skip_prk_steps;
  s->timestep_scaling = (float) (k->has_timestep_scaling ? k->timestep_scaling : 10.0);
  if (row->check && !row->check (s, error))
    {
      gen_sampler_free (s);
      return NULL;
    }
  return s;
}

void
gen_sampler_free (GenSampler *s)
{
  if (!s)
    return;
  gen_schedule_free (s->sched);
  g_free (s->ac);
  g_free (s->noise);
  for (int b = 0; b < GEN_SAMPLER_MAX_BUFFERS; b++)
    g_free (s->buf[b]);
  g_free (s);
}

const GenSchedule *
gen_sampler_schedule (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, NULL);
  return s->sched;
}

GenSamplerKind
gen_sampler_kind (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, GEN_SAMPLER_DDPM);
  return s->row->info.kind;
}

int
gen_sampler_n_evals (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, 0);
  return s->sched->n_evals;
}

double
gen_sampler_timestep (const GenSampler *s, int i)
{
  g_return_val_if_fail (s != NULL && i >= 0 && i < s->sched->n_evals, 0.0);
  return s->sched->timesteps[i];
}

double
gen_sampler_sigma (const GenSampler *s, int i)
{
  g_return_val_if_fail (s != NULL && i >= 0 && i < s->sched->n_evals, 0.0);
  return s->sched->sigmas[i];
}

float
gen_sampler_init_noise_sigma (const GenSampler *s)
{
  g_return_val_if_fail (s != NULL, 1.0f);
  return s->sched->init_noise_sigma;
}

float
gen_sampler_input_scale (const GenSampler *s, int i)
{
  float sigma;

  g_return_val_if_fail (s != NULL && i >= 0 && i < s->sched->n_evals, 1.0f);
  if (!s->row->scales_input)
    return 1.0f;
  sigma = s->sched->sigmas[i];
  return 1.0f / sqrtf (sigma * sigma + 1.0f);
}

void
gen_sampler_scale_model_input (const GenSampler *s, int i, const float *x, float *out, gint64 n)
{
  float sigma, d;

  g_return_if_fail (s != NULL && i >= 0 && i < s->sched->n_evals && n >= 0);
  if (!s->row->scales_input)
    {
      if (out != x)
        memmove (out, x, sizeof (float) * (gsize) n);
      return;
    }
  /* x / (σ² + 1)^0.5 (Karras et al. 2022 table 1, c_in for VE) */
  sigma = s->sched->sigmas[i];
  d = sqrtf (sigma * sigma + 1.0f);
  for (gint64 j = 0; j < n; j++)
    out[j] = x[j] / d;
}

gboolean
gen_sampler_reserve (GenSampler *s, gint64 n, GError **error)
{
  gsize bytes;
  gboolean ok;

  g_return_val_if_fail (s != NULL, FALSE);
  if (n < 0 || !g_size_checked_mul (&bytes, (gsize) (n > 0 ? n : 1), sizeof (float)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "cannot reserve %" G_GINT64_FORMAT
                   " floats", n);
      return FALSE;
    }
  if (n <= s->reserved && s->noise)
    return TRUE;
  g_free (s->noise);
  for (int b = 0; b < GEN_SAMPLER_MAX_BUFFERS; b++)
    g_clear_pointer (&s->buf[b], g_free);
  s->reserved = 0;
  s->noise = g_try_malloc (bytes);
  ok = s->noise != NULL;
  for (int b = 0; b < s->row->n_buffers; b++)
    ok = ok && (s->buf[b] = g_try_malloc (bytes)) != NULL;
  if (!ok)
    {
      g_clear_pointer (&s->noise, g_free);
      for (int b = 0; b < GEN_SAMPLER_MAX_BUFFERS; b++)
        g_clear_pointer (&s->buf[b], g_free);
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                   "out of memory for %" G_GINT64_FORMAT " floats of sampler state", n);
      return FALSE;
    }
  s->reserved = n;
  return TRUE;
}

void
gen_sampler_step (GenSampler *s, int i, const float *model_output, float *x, gint64 n,
                  GenRng *rng)
{
  g_return_if_fail (s != NULL && model_output != NULL && x != NULL);
  g_return_if_fail (i >= 0 && i < s->sched->n_evals);
  g_return_if_fail (n >= 0 && n <= s->reserved && s->noise != NULL);
  g_return_if_fail (rng != NULL || !s->row->draws_noise || !s->row->draws_noise (s, i));

  if (i != s->last_i + 1)
    {
      /* a new run: set_timesteps (or set_begin_index) clears the history */
      s->lower_order_nums = 0;
      s->heun_first_done = FALSE;
      s->counter = 0;
      s->n_ets = 0;
    }
  s->last_i = i;
  s->row->step (s, i, model_output, x, n, rng);
}
