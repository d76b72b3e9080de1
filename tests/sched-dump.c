/* sched-dump — runs one sampler of core/gen-sched.c on given "model outputs"
 * and writes everything it produced, for tests/sched_parity.py to hold
 * against the reference (tests/reference/schedulers.py).
 *
 *   sched-dump [--sampler NAME] [--sigmas NAME] --steps N [--eta E] [--seed S]
 *              [--config scheduler_config.json] [--strength F]
 *              --in IN.safetensors --out OUT.safetensors
 *
 * IN holds "model_outputs" [k, ...] (one per evaluation from the start on;
 * the sample shape is the rest), and either "x_T" (unit noise; the start
 * is x_T · init_noise_sigma) or, with --strength, "x0" and "noise" (the
 * start is add_noise (x0, noise) at gen_sampler_start_index).  Stochastic
 * samplers draw from gen_rng_new (S).  OUT gets
 *   timesteps, sigmas, input_scales [n_evals]; init_noise_sigma, start [1];
 *   alphas_cumprod [num_train_timesteps]; x_start [shape];
 *   scaled, x0, samples [k, shape] (per evaluation: scale_model_input (x),
 *   predict_x0, the sample after the step).
 * Without --config the DDPM defaults apply.  Without --sampler / --sigmas
 * the config's own choice applies (gen_sched_config_sampler, DDIM where it
 * names none; gen_sched_config_sigma_schedule), as the CLI does.  On a GError the program prints
 * "error <code>: <message>" and exits 3 (the code is GenErrorCode). */
#include "gen-error.h"
#include "gen-safetensors.h"
#include "gen-sched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
fail (GError *error)
{
  printf ("error %d: %s\n", error->code, error->message);
  g_error_free (error);
  return 3;
}

static int
usage (const char *why)
{
  fprintf (stderr, "sched-dump: %s\nusage: sched-dump [--sampler NAME] [--sigmas NAME] --steps N "
                   "[--eta E] [--seed S] [--config FILE] [--strength F] --in IN --out OUT\n", why);
  return 2;
}

static const GenSafetensorsEntry *
need (GenSafetensors *st, const char *name, int64_t numel, GError **error)
{
  const GenSafetensorsEntry *e = gen_safetensors_find (st, name);

  if (!e || e->dtype != GEN_DTYPE_F32 || (numel >= 0 && e->numel != numel))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE, "input: tensor '%s' missing or mis-sized",
                   name);
      return NULL;
    }
  return e;
}

int
main (int argc, char **argv)
{
  const char *sampler_name = NULL, *sigmas_name = NULL, *config = NULL, *in = NULL,
             *out = NULL;
  gint64 steps = -1;
  guint64 seed = 0;
  double eta = 0, strength = -1;
  GError *error = NULL;
  GenSamplerKind kind;
  GenSigmaSchedule schedule;
  GenSchedConfig *cfg;
  GenSampler *s;
  GenSafetensors *st;
  const GenSafetensorsEntry *emo;
  GenRng *rng;
  int n_evals, start, k, n_train, ndim;
  int64_t n;
  float *mo, *x, *tmp, *ts, *sig, *scales, *ac, *scaled, *x0s, *samples, *x_start;
  float init_sigma, start_f;
  int status = 0;

  for (int a = 1; a < argc; a++)
    {
      const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;

      if (!val)
        return usage ("missing value");
      a++;
      if (strcmp (opt, "--sampler") == 0)
        sampler_name = val;
      else if (strcmp (opt, "--sigmas") == 0)
        sigmas_name = val;
      else if (strcmp (opt, "--steps") == 0)
        {
          if (!g_ascii_string_to_signed (val, 10, G_MININT32, G_MAXINT32, &steps, NULL))
            return usage ("bad --steps");
        }
      else if (strcmp (opt, "--eta") == 0)
        eta = g_ascii_strtod (val, NULL);
      else if (strcmp (opt, "--seed") == 0)
        {
          if (!g_ascii_string_to_unsigned (val, 10, 0, G_MAXUINT64, &seed, NULL))
            return usage ("bad --seed");
        }
      else if (strcmp (opt, "--config") == 0)
        config = val;
      else if (strcmp (opt, "--strength") == 0)
        strength = g_ascii_strtod (val, NULL);
      else if (strcmp (opt, "--in") == 0)
        in = val;
      else if (strcmp (opt, "--out") == 0)
        out = val;
      else
        return usage ("unknown option");
    }
  if (!in || !out)
    return usage ("--in and --out are needed");

  if (!(cfg = gen_sched_config_load (config, &error)))
    return fail (error);
  kind = GEN_SAMPLER_DDIM;
  if (sampler_name ? !gen_sampler_kind_from_name (sampler_name, &kind, &error)
                   : !gen_sched_config_sampler (cfg, &kind, &error))
    {
      gen_sched_config_free (cfg);
      return fail (error);
    }
  schedule = gen_sched_config_sigma_schedule (cfg, kind);
  if (sigmas_name && !gen_sigma_schedule_from_name (sigmas_name, &schedule, &error))
    {
      gen_sched_config_free (cfg);
      return fail (error);
    }
  s = gen_sampler_new (cfg, kind, schedule, (int) steps, eta, &error);
  if (!s)
    {
      gen_sched_config_free (cfg);
      return fail (error);
    }
  if (!(st = gen_safetensors_open (in, &error)) || !(emo = need (st, "model_outputs", -1, &error)))
    {
      gen_sampler_free (s);
      gen_sched_config_free (cfg);
      return fail (error);
    }
  ndim = emo->ndim;
  n = 1;
  for (int d = 1; d < ndim; d++)
    n *= emo->shape[d];
  n_evals = gen_sampler_n_evals (s);
  n_train = gen_sched_config_num_train_timesteps (cfg);
  start = strength >= 0 ? gen_sampler_start_index (s, strength) : 0;
  k = n_evals - start;
  if (ndim < 2 || emo->shape[0] < k || !gen_sampler_reserve (s, n, &error))
    {
      if (!error)
        g_set_error (&error, GEN_ERROR, GEN_ERROR_SHAPE,
                     "input: model_outputs needs [%d, ...], the sampler has %d evaluations", k,
                     n_evals);
      status = fail (error);
      goto out_early;
    }

  mo = g_new (float, emo->numel);
  gen_safetensors_to_f32 (emo, mo);
  x = g_new (float, n);
  tmp = g_new (float, n);
  ts = g_new (float, n_evals);
  sig = g_new (float, n_evals);
  scales = g_new (float, n_evals);
  ac = g_new (float, n_train);
  scaled = g_new (float, (gsize) (k > 0 ? k : 1) * n);
  x0s = g_new (float, (gsize) (k > 0 ? k : 1) * n);
  samples = g_new (float, (gsize) (k > 0 ? k : 1) * n);
  x_start = g_new (float, n);

  for (int i = 0; i < n_evals; i++)
    {
      ts[i] = (float) gen_sampler_timestep (s, i);
      sig[i] = (float) gen_sampler_sigma (s, i);
      scales[i] = gen_sampler_input_scale (s, i);
    }
  for (int t = 0; t < n_train; t++)
    ac[t] = (float) gen_sched_config_alphas_cumprod (cfg)[t];
  init_sigma = gen_sampler_init_noise_sigma (s);
  start_f = (float) start;

  if (strength >= 0)
    {
      const GenSafetensorsEntry *e0 = need (st, "x0", n, &error), *en = e0 ? need (st, "noise", n, &error) : NULL;

      if (!en)
        {
          status = fail (error);
          goto out;
        }
      gen_safetensors_to_f32 (e0, x);
      gen_safetensors_to_f32 (en, tmp);
      if (start < n_evals)
        gen_sampler_add_noise (s, start, x, tmp, x, n);
    }
  else
    {
      const GenSafetensorsEntry *ex = need (st, "x_T", n, &error);

      if (!ex)
        {
          status = fail (error);
          goto out;
        }
      gen_safetensors_to_f32 (ex, x);
      for (int64_t j = 0; j < n; j++)
        x[j] = x[j] * init_sigma;
    }
  memcpy (x_start, x, sizeof (float) * n);

  rng = gen_rng_new (seed);
  for (int i = start; i < n_evals; i++)
    {
      const float *m = mo + (gsize) (i - start) * n;

      gen_sampler_scale_model_input (s, i, x, scaled + (gsize) (i - start) * n, n);
      gen_sampler_predict_x0 (s, i, x, m, x0s + (gsize) (i - start) * n, n);
      gen_sampler_step (s, i, m, x, n, rng);
      memcpy (samples + (gsize) (i - start) * n, x, sizeof (float) * n);
    }
  gen_rng_free (rng);

  {
    const char *names[] = { "timesteps", "sigmas", "input_scales", "init_noise_sigma", "start",
                            "alphas_cumprod", "x_start", "scaled", "x0", "samples" };
    const float *data[] = { ts, sig, scales, &init_sigma, &start_f, ac, x_start, scaled, x0s,
                            samples };
    int64_t s_evals[] = { n_evals }, s_one[] = { 1 }, s_train[] = { n_train };
    int64_t s_sample[GEN_SAFETENSORS_MAX_DIMS], s_k[GEN_SAFETENSORS_MAX_DIMS + 1];
    const int64_t *shapes[10];
    int ndims[10];

    for (int d = 1; d < ndim; d++)
      {
        s_sample[d - 1] = emo->shape[d];
        s_k[d] = emo->shape[d];
      }
    s_k[0] = k;
    shapes[0] = shapes[1] = shapes[2] = s_evals;
    shapes[3] = shapes[4] = s_one;
    shapes[5] = s_train;
    shapes[6] = s_sample;
    shapes[7] = shapes[8] = shapes[9] = s_k;
    ndims[0] = ndims[1] = ndims[2] = ndims[3] = ndims[4] = ndims[5] = 1;
    ndims[6] = ndim - 1;
    ndims[7] = ndims[8] = ndims[9] = ndim;
    if (k == 0)
      {
        /* nothing stepped: write the per-step tensors as [0, ...] is not
         * possible with an empty buffer view, so leave them out */
        if (!gen_safetensors_write_f32 (out, 7, names, data, ndims, shapes, &error))
          status = fail (error);
      }
    else if (!gen_safetensors_write_f32 (out, 10, names, data, ndims, shapes, &error))
      status = fail (error);
  }

out:
  g_free (mo);
  g_free (x);
  g_free (tmp);
  g_free (ts);
  g_free (sig);
  g_free (scales);
  g_free (ac);
  g_free (scaled);
  g_free (x0s);
  g_free (samples);
  g_free (x_start);
out_early:
  gen_safetensors_free (st);
  gen_sampler_free (s);
  gen_sched_config_free (cfg);
  return status;
}
