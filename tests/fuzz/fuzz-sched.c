/* fuzz-sched.c — libFuzzer target for scheduler_config.json: the config is
 * read, then every sampler is built from it with every sigma schedule for a
 * few step counts and stepped once over a small state (the arithmetic of
 * the schedules and the samplers on hostile betas, timestep counts, spacing
 * and offsets). */
#include "fuzz-weights.h"
#include "gen-random.h"
#include "gen-sampler.h"
#include "gen-sched-config.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const int steps[] = { 1, 2, 7, 50 };
  GError *error = NULL;
  GenSchedConfig *cfg;
  GenSamplerKind own = GEN_SAMPLER_DDIM;
  float x[8], out[8];

  cfg = gen_sched_config_load (fuzz_write ("scheduler_config.json", data, size), &error);
  if (!cfg)
    {
      if (!error || !error->message[0])
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  (void) gen_sched_config_alphas_cumprod (cfg);
  (void) gen_sched_config_prediction_type (cfg);
  if (!gen_sched_config_sampler (cfg, &own, &error))
    g_clear_error (&error);
  for (int k = 0; k < gen_sampler_info_count (); k++)
    for (int sg = GEN_SIGMAS_DEFAULT; sg <= GEN_SIGMAS_EXPONENTIAL; sg++)
      for (guint j = 0; j < G_N_ELEMENTS (steps); j++)
        {
          GenSampler *s = gen_sampler_new (cfg, (GenSamplerKind) k, (GenSigmaSchedule) sg,
                                           steps[j], 0.5, &error);
          GenRng *rng;

          if (!s)
            {
              if (!error)
                __builtin_trap ();
              g_clear_error (&error);
              continue;
            }
          if (!gen_sampler_reserve (s, 8, &error))
            __builtin_trap ();
          rng = gen_rng_new (1);
          for (int i = 0; i < 8; i++)
            x[i] = gen_sampler_init_noise_sigma (s), out[i] = 0.25f * i - 1.0f;
          for (int i = 0; i < gen_sampler_n_evals (s) && i < 4; i++)
            {
              (void) gen_sampler_timestep (s, i);
              (void) gen_sampler_sigma (s, i);
              gen_sampler_scale_model_input (s, i, x, x, 8);
              gen_sampler_step (s, i, out, x, 8, rng);
            }
          gen_rng_free (rng);
          gen_sampler_free (s);
        }
  gen_sched_config_free (cfg);
  return 0;
}
