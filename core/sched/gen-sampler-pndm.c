/* gen-sampler-pndm.c — PNDMScheduler (Liu et al. 2022, "Pseudo Numerical
 * Methods for Diffusion Models on Manifolds"), as Stable Diffusion 1.x ships
 * it: its set_timesteps, the transfer x_t → x_{t−δ} of eq. 9, the linear
 * multistep (PLMS, eq. 12) and, with skip_prk_steps false, the Runge-Kutta
 * warm-up of alg. 2 (F-PNDM).  Like diffusers it counts its own steps: the
 * k-th step of a run does the k-th thing whatever the timestep. */
#include "gen-sched-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

/* The Runge-Kutta warm-up: 3 steps of 4 evaluations each. */
#define PRK_EVALS 12

/* set_timesteps: the trained-grid timesteps in ascending order (_timesteps),
 * then, with skip_prk_steps, those reversed with the second-largest repeated
 * (the first PLMS pair); without, the Runge-Kutta evaluations over the
 * largest four followed by the rest reversed. */
int
gen_timesteps_pndm (const GenSchedConfig *cfg, Spacing spacing, int last, int steps,
                    gint64 offset, double *ts, GError **error)
{
  int m, n = 0;
  double *up = g_new (double, GEN_SCHED_TS_ROOM (steps));   /* [m] _timesteps, ascending */

  /* _timesteps are DDPMScheduler's timesteps in ascending order */
  m = gen_timesteps_ddpm (cfg, spacing, last, steps, offset, ts, error);
  for (int i = 0; i < m; i++)
    up[i] = ts[m - 1 - i];

  if (cfg->keys.has_skip_prk && cfg->keys.skip_prk_steps)
    {
      /* concat (_t[:-1], _t[-2:-1], _t[-1:])[::-1] */
      ts[n++] = up[m - 1];
      if (m >= 2)
        ts[n++] = up[m - 2];
      for (int i = m - 2; i >= 0; i--)
        ts[n++] = up[i];
    }
  else if (m < 4)
    {
      gen_sched_fail (error, GEN_SAMPLER_PNDM, steps,
                      "the Runge-Kutta warm-up (skip_prk_steps false) needs at least 4 steps "
                      "(diffusers fails there too)");
      n = -1;
    }
  else
    {
      /* the largest four a < b < c < d and h = ⌊⌊N/steps⌋/2⌋ give
       * e = a, a+h, b, b+h, c, c+h, d; the warm-up evaluates at
       * e6, e5, e5, e4, e4, …, e1, e1, e0 — then PLMS on _t[:-3][::-1] */
      int h = cfg->n_train / steps / 2;
      double e[7];

      for (int j = 0; j < 4; j++)
        {
          e[2 * j] = up[m - 4 + j];
          if (j < 3)
            e[2 * j + 1] = up[m - 4 + j] + h;
        }
      ts[n++] = e[6];
      for (int k = 5; k >= 1; k--)
        {
          ts[n++] = e[k];
          ts[n++] = e[k];
        }
      ts[n++] = e[0];
      for (int i = m - 4; i >= 0; i--)
        ts[n++] = up[i];
    }
  g_free (up);
  return n;
}

/* _get_prev_sample, eq. 9: x_{t−δ} = √(ᾱ_{t−δ}/ᾱ_t)·x − (ᾱ_{t−δ} − ᾱ_t)·e /
 * (ᾱ_t·√(1 − ᾱ_{t−δ}) + √(ᾱ_t(1 − ᾱ_t)ᾱ_{t−δ})), with e the combined model
 * output (a v prediction turned into ε first).  OUT may alias X. */
static void
pndm_transfer (const GenSampler *s, const float *x, int t, int t_prev, const float *e,
               float *out, gint64 n)
{
  float a = s->ac[t], ap = t_prev >= 0 ? s->ac[t_prev] : s->final_alpha;
  float b = 1.0f - a, bp = 1.0f - ap;
  float sa = sqrtf (a), sb = sqrtf (b);
  float c_x = sqrtf (ap / a);
  float den = a * sqrtf (bp) + sqrtf (a * b * ap);
  float c_e = ap - a;

  for (gint64 j = 0; j < n; j++)
    {
      float m = e[j], p, q;

      if (s->prediction == GEN_PREDICTION_V)
        {
          float u = sa * m, w = sb * x[j];

          m = u + w;
        }
      p = c_x * x[j];
      q = c_e * m;
      q = q / den;
      out[j] = p - q;
    }
}

/* ets.append (model_output), keeping the last four. */
static void
ets_push (GenSampler *s, const float *mo, gint64 n)
{
  if (s->n_ets == 4)
    {
      float *oldest = s->buf[0];

      memmove (s->buf, s->buf + 1, 3 * sizeof s->buf[0]);
      s->buf[3] = oldest;
      s->n_ets = 3;
    }
  memcpy (s->buf[s->n_ets++], mo, sizeof (float) * (gsize) n);
}

/* step_prk: the k-th of the 4 evaluations of a Runge-Kutta step (weights
 * 1/6, 1/3, 1/3, 1/6) moves the stored sample from the step's first
 * timestep to t − (k even ? h : 0). */
static void
pndm_prk (GenSampler *s, int t, const float *mo, float *x, gint64 n)
{
  int h = s->n_train / s->sched->steps / 2;
  int t_prev = t - (s->counter % 2 ? 0 : h);
  int t_from = (int) s->sched->timesteps[s->counter / 4 * 4];
  float *cur = s->buf[4], *sum = s->buf[5], *e = s->noise;
  const float c6 = (float) (1.0 / 6), c3 = (float) (1.0 / 3);

  switch (s->counter % 4)
    {
    case 0:
      for (gint64 j = 0; j < n; j++)
        sum[j] = c6 * mo[j];
      ets_push (s, mo, n);
      memcpy (cur, x, sizeof (float) * (gsize) n);
      memcpy (e, mo, sizeof (float) * (gsize) n);
      break;
    case 1:
    case 2:
      for (gint64 j = 0; j < n; j++)
        {
          float q = c3 * mo[j];

          sum[j] = sum[j] + q;
        }
      memcpy (e, mo, sizeof (float) * (gsize) n);
      break;
    default:
      for (gint64 j = 0; j < n; j++)
        {
          float q = c6 * mo[j];

          e[j] = sum[j] + q;
        }
      break;
    }
  pndm_transfer (s, cur, t_from, t_prev, e, x, n);
}

/* step_plms: Adams-Bashforth over the kept model outputs (orders 1 to 4);
 * the second step of a run redoes the first from its start with the mean of
 * the first two outputs (a Heun step, Liu et al. 2022 eq. 12's start). */
static void
pndm_plms (GenSampler *s, int t, const float *mo, float *x, gint64 n)
{
  int ratio = s->n_train / s->sched->steps, t_prev = t - ratio;
  float *e = s->noise, *cur = s->buf[4];
  const float *from = x;
  const float *e1, *e2, *e3, *e4;

  if (s->counter != 1)
    ets_push (s, mo, n);
  else
    {
      t_prev = t;
      t = t + ratio;
    }
  e1 = s->buf[s->n_ets - 1];
  e2 = s->n_ets >= 2 ? s->buf[s->n_ets - 2] : NULL;
  e3 = s->n_ets >= 3 ? s->buf[s->n_ets - 3] : NULL;
  e4 = s->n_ets >= 4 ? s->buf[s->n_ets - 4] : NULL;
  if (s->n_ets == 1 && s->counter == 0)
    {
      memcpy (e, mo, sizeof (float) * (gsize) n);
      memcpy (cur, x, sizeof (float) * (gsize) n);
    }
  else if (s->n_ets == 1 && s->counter == 1)
    {
      for (gint64 j = 0; j < n; j++)
        e[j] = (mo[j] + e1[j]) / 2.0f;
      from = cur;
    }
  else if (s->n_ets == 2)
    for (gint64 j = 0; j < n; j++)
      {
        float p = 3.0f * e1[j];

        e[j] = (p - e2[j]) / 2.0f;
      }
  else if (s->n_ets == 3)
    for (gint64 j = 0; j < n; j++)
      {
        float p = 23.0f * e1[j], q = 16.0f * e2[j], r = 5.0f * e3[j];

        e[j] = (p - q + r) / 12.0f;
      }
  else
    {
      const float c24 = (float) (1.0 / 24);

      for (gint64 j = 0; j < n; j++)
        {
          float p = 55.0f * e1[j], q = 59.0f * e2[j], r = 37.0f * e3[j], u = 9.0f * e4[j];

          e[j] = c24 * (p - q + r - u);
        }
    }
  pndm_transfer (s, from, t, t_prev, e, x, n);
}

void
gen_step_pndm (GenSampler *s, int i, const float *mo, float *x, gint64 n,
               G_GNUC_UNUSED GenRng *rng)
{
  int t = (int) s->sched->timesteps[i];

  if (!s->skip_prk_steps && s->counter < PRK_EVALS)
    pndm_prk (s, t, mo, x, n);
  else
    pndm_plms (s, t, mo, x, n);
  s->counter++;
}

/* The first PLMS pair looks up ᾱ at t + ⌊N/steps⌋; a run may begin at any
 * evaluation (img2img), so every later timestep must leave room for that. */
gboolean
gen_check_pndm (const GenSampler *s, GError **error)
{
  const GenSchedule *sc = s->sched;
  int ratio = s->n_train / sc->steps;

  for (int i = 1; s->skip_prk_steps && i < sc->n_evals; i++)
    if (sc->timesteps[i] + ratio > s->n_train - 1)
      {
        gen_sched_fail (error, sc->kind, sc->steps,
                        "timestep %g + %d is past the last trained timestep %d", sc->timesteps[i],
                        ratio, s->n_train - 1);
        return FALSE;
      }
  return TRUE;
}
