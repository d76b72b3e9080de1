/* fuzz-model-config.c — libFuzzer target for building a model from its
 * config.json (UNet2DModel, UNet2DConditionModel, CLIPTextModel,
 * AutoencoderKL, AutoencoderTiny): the weights
 * are every tensor the build asks for, zeros of the shape it asks
 * (fuzz-weights.c, at most 4 M floats), so the config alone decides how
 * far the build goes.  A model that builds is then run once at its
 * smallest input through a measuring arena (shapes only, no arithmetic):
 * the sizes a config implies must not overflow or crash the passes. */
#include "fuzz-weights.h"
#include "gen-model.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenModel *m;
  GenModelInfo info;
  GenArena *a;
  int64_t s;

  fuzz_write ("config.json", data, size);
  fuzz_weights_set (NULL, 0, (gsize) 4 << 20);
  m = gen_model_load (fuzz_dir (), &error);
  if (!m)
    {
      if (!error || !error->message[0])
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  gen_model_get_info (m, &info);
  if (info.kind == GEN_MODEL_CLIP_TEXT
        ? info.vocab_size < 1 || info.out_channels < 1 || info.max_tokens < 1
        : info.in_channels < 1 || info.out_channels < 1 || info.downscale < 1)
    __builtin_trap ();
  s = MIN (info.downscale, 64) * 2;
  a = gen_arena_new_measure ();
  if (info.kind == GEN_MODEL_CLIP_TEXT)
    {
      /* token ids in range: the model's max length, id 0 */
      int64_t len = MAX (1, MIN (info.max_tokens, 77));
      int32_t *ids = g_new0 (int32_t, len);
      GenTensor y = gen_tensor_view (NULL, 1, 1, len, info.out_channels);

      (void) gen_clip_text_forward (m, ids, 1, len, 0, &y, a, NULL, NULL, NULL);
      g_free (ids);
    }
  else if (info.kind == GEN_MODEL_UNET_COND)
    {
      /* a measuring pass reads the context's shape, never its values */
      GenTensor x = gen_tensor_view (NULL, 1, info.in_channels, s, s);
      GenTensor y = gen_tensor_view (NULL, 1, info.out_channels, s, s);
      float *ctx = g_new0 (float, 4 * (gsize) MAX (1, info.cross_attention_dim));
      float *cond = g_new0 (float, (gsize) MAX (1, info.time_cond_proj_dim));
      float t = 10.0f;

      (void) gen_unet_cond_forward (m, &x, &t, ctx, 4, info.time_cond_proj_dim ? cond : NULL,
                                    &y, a, NULL, NULL, NULL);
      g_free (ctx);
      g_free (cond);
    }
  else if (info.kind == GEN_MODEL_UNET)
    {
      GenTensor x = gen_tensor_view (NULL, 1, info.in_channels, s, s);
      GenTensor y = gen_tensor_view (NULL, 1, info.out_channels, s, s);
      float t = 10.0f;

      (void) gen_unet_forward (m, &x, &t, &y, a, NULL, NULL, NULL);
    }
  else
    {
      int64_t lh, lw;
      GenTensor x = gen_tensor_view (NULL, 1, info.in_channels, s, s), z;

      gen_vae_latent_size (m, s, s, &lh, &lw);
      z = gen_tensor_view (NULL, 1, info.latent_channels, MAX (1, lh), MAX (1, lw));
      (void) gen_vae_encode (m, &x, &z, NULL, a, NULL, NULL, NULL);
      (void) gen_vae_decode (m, &z, &x, a, NULL, NULL, NULL);
    }
  gen_arena_free (a);
  gen_model_free (m);
  return 0;
}
