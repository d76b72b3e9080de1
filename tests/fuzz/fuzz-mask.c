/* fuzz-mask.c — libFuzzer target for inpaint's masks: the input's first two
 * bytes give the image's size (2..41 a side), the rest its mask as raw
 * float32 values (cycled: NaN, ±Inf, negative, above 1, subnormal).  A tiny
 * UNet with zero weights fills it.  Either the job refuses the mask (empty)
 * or it returns finite pixels in 0..1 that equal the input wherever the mask
 * is not above 0. */
#include "fuzz-weights.h"
#include "gen-job-private.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const char unet_config[] =
  "{\"_class_name\": \"UNet2DModel\", \"sample_size\": 8, \"block_out_channels\": [4, 4],"
  " \"layers_per_block\": 1, \"norm_num_groups\": 2, \"add_attention\": false,"
  " \"down_block_types\": [\"DownBlock2D\", \"DownBlock2D\"],"
  " \"up_block_types\": [\"UpBlock2D\", \"UpBlock2D\"]}";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static GenPipeline p;
  GenJobOptions o;
  GenPixels in, out;
  GError *error = NULL;
  int w, h;
  float *mask;
  gsize n, bytes;

  if (!p.unet)
    {
      fuzz_write ("config.json", unet_config, strlen (unet_config));
      fuzz_weights_set (NULL, 0, (gsize) 1 << 20);
      if (!(p.unet = gen_model_load (fuzz_dir (), NULL)))
        __builtin_trap ();
      p.sched = gen_sched_config_new_default ();
    }
  if (size < 2)
    return 0;
  w = 2 + data[0] % 40, h = 2 + data[1] % 40;
  n = (gsize) w * h;
  mask = g_new0 (float, n);
  bytes = size - 2;
  if (bytes >= sizeof (float))
    for (gsize i = 0; i < n; i++)
      memcpy (mask + i, data + 2 + (i * sizeof (float)) % (bytes - bytes % 4), sizeof (float));
  gen_job_options_init (&o);
  o.steps = 2;
  o.threads = 1;
  if (!gen_pixels_init (&in, w, h, 4, NULL) || !gen_pixels_init (&out, w, h, 4, NULL))
    __builtin_trap ();
  for (gsize i = 0; i < n * 4; i++)
    in.data[i] = (float) (i % 5) / 4.0f;
  if (!gen_job_inpaint (&p, &o, &in, mask, 1, 1, &out, &error))
    {
      if (!error || error->code != GEN_ERROR_INVALID || !strstr (error->message, "empty"))
        __builtin_trap ();
      g_error_free (error);
    }
  else
    for (gsize i = 0; i < n; i++)
      for (int c = 0; c < 4; c++)
        {
          float v = out.data[i * 4 + c];

          if (!(v >= 0.0f && v <= 1.0f) || (!(mask[i] > 0.0f) && v != in.data[i * 4 + c]))
            __builtin_trap ();
        }
  g_free (mask);
  gen_pixels_clear (&in);
  gen_pixels_clear (&out);
  return 0;
}
