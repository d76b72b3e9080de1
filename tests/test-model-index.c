/* test-model-index.c — model_index.json: the pipelines and components we
 * load, and one clear error for each hostile file. */
#include "gen-error.h"
#include "gen-model-index.h"

#include <string.h>

#define COMPONENTS \
  "\"text_encoder\": [\"transformers\", \"CLIPTextModel\"], " \
  "\"tokenizer\": [\"transformers\", \"CLIPTokenizer\"], " \
  "\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], "

static void
test_valid (void)
{
  const char *sd15 = "{\"_class_name\": \"StableDiffusionPipeline\", \"_diffusers_version\": "
                     "\"0.6.0\", " COMPONENTS "\"vae\": [\"diffusers\", \"AutoencoderKL\"], "
                     "\"scheduler\": [\"diffusers\", \"PNDMScheduler\"], "
                     "\"safety_checker\": [null, null], \"requires_safety_checker\": false}";
  const char *lcm = "{\"_class_name\": \"LatentConsistencyModelPipeline\", " COMPONENTS
                    "\"vae\": [\"diffusers\", \"AutoencoderTiny\"], "
                    "\"scheduler\": [\"diffusers\", \"LCMScheduler\"]}";
  GenModelIndex idx;
  GError *error = NULL;

  g_assert_true (gen_model_index_parse (sd15, strlen (sd15), "sd15", &idx, &error));
  g_assert_no_error (error);
  g_assert_cmpint (idx.pipeline, ==, GEN_PIPELINE_SD);
  g_assert_cmpstr (idx.vae, ==, "AutoencoderKL");
  g_assert_cmpstr (idx.scheduler, ==, "PNDMScheduler");
  gen_model_index_clear (&idx);
  g_assert_true (gen_model_index_parse (lcm, strlen (lcm), "lcm", &idx, &error));
  g_assert_cmpint (idx.pipeline, ==, GEN_PIPELINE_LCM);
  g_assert_cmpstr (idx.vae, ==, "AutoencoderTiny");
  gen_model_index_clear (&idx);
}

static void
test_hostile (void)
{
  static const struct
  {
    const char *json, *want;
    int         code;
  } cases[] = {
    { "{\"_class_name\": \"StableDiffusionXLPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", \"AutoencoderKL\"]}", "not supported", GEN_ERROR_UNSUPPORTED },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", \"ConsistencyDecoderVAE\"]}", "not a class", GEN_ERROR_UNSUPPORTED },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", \"AutoencoderKL\"], \"../x\": [\"a\", \"B\"]}", "plain subfolder",
      GEN_ERROR_INVALID },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", \"AutoencoderKL\"], \"/etc\": [\"a\", \"B\"]}", "plain subfolder",
      GEN_ERROR_INVALID },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", \"AutoencoderKL\"], \"a\\\\b\": [\"a\", \"B\"]}", "plain subfolder",
      GEN_ERROR_INVALID },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": \"AutoencoderKL\"}", "must be", GEN_ERROR_FORMAT },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS
      "\"vae\": [\"diffusers\", 3]}", "string", GEN_ERROR_FORMAT },
    { "{\"_class_name\": \"StableDiffusionPipeline\", " COMPONENTS "\"vae\": [null, null]}",
      "needs unet", GEN_ERROR_INVALID },
    { "{\"_class_name\": 7}", "_class_name", GEN_ERROR_FORMAT },
    { "[1, 2]", "not a JSON object", GEN_ERROR_FORMAT },
    { "{'a': 1}", "line 1", GEN_ERROR_FORMAT },
    { "", "line 1", GEN_ERROR_FORMAT },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GenModelIndex idx;
      GError *error = NULL;

      g_assert_false (gen_model_index_parse (cases[i].json, strlen (cases[i].json), "mi", &idx,
                                             &error));
      g_assert_error (error, GEN_ERROR, cases[i].code);
      if (!strstr (error->message, cases[i].want))
        g_error ("case %" G_GSIZE_FORMAT ": '%s' lacks '%s'", i, error->message, cases[i].want);
      g_assert_null (idx.unet);
      g_error_free (error);
    }
}

static void
test_too_big (void)
{
  gsize n = GEN_MODEL_INDEX_MAX_BYTES + 1;
  char *big = g_malloc (n);
  GenModelIndex idx;
  GError *error = NULL;

  memset (big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  g_assert_false (gen_model_index_parse (big, n, "big", &idx, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "too big"));
  g_error_free (error);
  g_free (big);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/model-index/valid", test_valid);
  g_test_add_func ("/model-index/hostile", test_hostile);
  g_test_add_func ("/model-index/too-big", test_too_big);
  return g_test_run ();
}
