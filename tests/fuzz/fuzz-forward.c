/* fuzz-forward.c — libFuzzer target for hostile weight values: a tiny fixed
 * UNet (with attention) and AutoencoderKL take the input's bytes as their
 * float32 weights (cycled: NaN, Inf, subnormals, huge values).  Each runs
 * as a job (generate; the VAE round trip).  No undefined behaviour, no
 * crash, and either a result of finite pixels in 0..1 or the error that
 * names the model and says its weights may be corrupt. */
#include "fuzz-weights.h"
#include "gen-job-private.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char unet_config[] =
  "{\"_class_name\": \"UNet2DModel\", \"sample_size\": 8, \"block_out_channels\": [8, 8],"
  " \"layers_per_block\": 1, \"norm_num_groups\": 4, \"attention_head_dim\": 4,"
  " \"down_block_types\": [\"DownBlock2D\", \"AttnDownBlock2D\"],"
  " \"up_block_types\": [\"AttnUpBlock2D\", \"UpBlock2D\"]}";
static const char vae_config[] =
  "{\"_class_name\": \"AutoencoderKL\", \"block_out_channels\": [8, 8], \"latent_channels\": 2,"
  " \"layers_per_block\": 1, \"norm_num_groups\": 4,"
  " \"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"],"
  " \"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"]}";

static GenModel *
build (const char *config, const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenModel *m;

  fuzz_write ("config.json", config, strlen (config));
  fuzz_weights_set (data, size, (gsize) 1 << 20);
  if (!(m = gen_model_load (fuzz_dir (), &error)))
    __builtin_trap ();  /* the fixed configs always build */
  return m;
}

/* A job's outcome: finite pixels in 0..1, or the corrupt-weights error. */
static void
check (gboolean ok, GError *error, const GenPixels *px)
{
  if (!ok)
    {
      if (!error || !strstr (error->message, "weights may be corrupt"))
        __builtin_trap ();
      g_error_free (error);
      return;
    }
  for (gsize i = 0; i < (gsize) px->width * px->height * px->channels; i++)
    if (!(px->data[i] >= 0.0f && px->data[i] <= 1.0f))
      __builtin_trap ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GenPipeline p = { 0 };
  GenJobOptions o;
  GenPixels in, out;
  GError *error = NULL;
  gboolean ok;

  gen_job_options_init (&o);
  o.steps = 2;
  o.threads = 1;
  p.sched = gen_sched_config_new_default ();
  if (!gen_pixels_init (&out, 8, 8, 3, NULL) || !gen_pixels_init (&in, 8, 8, 3, NULL))
    __builtin_trap ();
  for (int i = 0; i < 8 * 8 * 3; i++)
    in.data[i] = (float) (i % 7) / 6.0f;

  p.unet = build (unet_config, data, size);
  ok = gen_job_generate (&p, &o, 8, 8, 1, &out, &error);
  check (ok, error, &out);
  g_clear_pointer (&p.unet, gen_model_free);

  error = NULL;
  p.vae = build (vae_config, data, size);
  ok = gen_job_vae (&p, &o, &in, FALSE, &out, &error);
  check (ok, error, &out);
  g_clear_pointer (&p.vae, gen_model_free);

  gen_pixels_clear (&in);
  gen_pixels_clear (&out);
  gen_sched_config_free (p.sched);
  return 0;
}
