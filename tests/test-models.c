/* test-models — the arena, and model folders that are wrong in every way a
 * user's download can be: each must fail with one clear error that names
 * the file and the tensor or key, and never crash. */
#include "gen-error.h"
#include "gen-model.h"
#include "gen-ops.h"
#include "gen-safetensors.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static char *
unet_config (const char *extra)
{
  return g_strdup_printf (tiny_unet_config, extra);
}

/* ---- tests --------------------------------------------------------------- */

static void
test_arena (void)
{
  GenArena *a = gen_arena_new (1024);
  GError *error = NULL;
  float *p, *q;
  gsize mark;

  p = gen_arena_alloc (a, 10);
  g_assert_nonnull (p);
  g_assert_cmpuint ((guintptr) p % 64, ==, 0);
  mark = gen_arena_mark (a);
  q = gen_arena_alloc (a, 1000000); /* overflows into a second block */
  g_assert_nonnull (q);
  q[999999] = 1.0f;
  gen_arena_release (a, mark);
  g_assert_true (gen_arena_reset (a, &error));
  g_assert_cmpuint (gen_arena_peak_bytes (a), >=, 4000000);
  /* After the fold, the same pass fits in one block: same address twice. */
  p = gen_arena_alloc (a, 10);
  q = gen_arena_alloc (a, 1000000);
  g_assert_true (gen_arena_reset (a, &error));
  g_assert_true (gen_arena_alloc (a, 10) == p);
  g_assert_true (gen_arena_alloc (a, 1000000) == q);

  gen_arena_set_limit (a, 1);
  g_assert_true (gen_arena_reset (a, NULL));
  g_assert_null (gen_arena_alloc (a, (gsize) 1 << 40));
  g_assert_false (gen_arena_check (a, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY);
  g_clear_error (&error);
  gen_arena_free (a);
}

static void
test_arena_keep (void)
{
  GenArena *a = gen_arena_new (1 << 20);
  GenTensor x = gen_arena_tensor (a, 1, 2, 8, 8), y, z, kept;
  gsize mark = gen_arena_mark (a);

  for (int i = 0; i < 128; i++)
    x.data[i] = (float) i;
  y = gen_arena_tensor (a, 1, 4, 16, 16);   /* a dead intermediate */
  z = gen_arena_tensor (a, 1, 3, 5, 7);     /* the result to keep */
  for (int i = 0; i < 105; i++)
    z.data[i] = 1000.0f + (float) i;
  kept = gen_arena_keep (a, mark, &z);
  g_assert_true (kept.data == y.data);      /* moved down over the dead one */
  g_assert_cmpint (kept.ne[1], ==, 3);
  for (int i = 0; i < 105; i++)
    g_assert_cmpfloat (kept.data[i], ==, 1000.0f + (float) i);
  for (int i = 0; i < 128; i++)
    g_assert_cmpfloat (x.data[i], ==, (float) i); /* below the mark: untouched */
  /* the next allocation comes right after the kept tensor */
  g_assert_true (gen_arena_alloc (a, 1) >= kept.data + 105);
  gen_arena_free (a);
}

typedef struct
{
  gint flag;
  int  taps;
} CancelAt;

/* A GenTapFunc: counts the taps and sets the cancel flag at the first. */
static void
cancel_at_first_tap (const char *name, const GenTensor *t, gpointer data)
{
  CancelAt *c = data;

  (void) name;
  (void) t;
  if (c->taps++ == 0)
    g_atomic_int_set (&c->flag, 1);
}

static void
test_unet_loads_and_runs (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = unet_config ("");
  char *dir = make_model (cfg, t);
  GError *error = NULL;
  GenModel *m = gen_model_load (dir, &error);
  GenModelInfo info;
  GenArena *arena = gen_arena_new (0);
  float xin[2 * 3 * 5 * 3], yout[2 * 3 * 5 * 3], ts[2] = { 10.0f, 500.0f };
  GenTensor x = gen_tensor_view (xin, 2, 3, 5, 3), y = gen_tensor_view (yout, 2, 3, 5, 3);
  GenTensor bad = gen_tensor_view (xin, 1, 2, 5, 3);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  gen_model_get_info (m, &info);
  g_assert_cmpint (info.kind, ==, GEN_MODEL_UNET);
  g_assert_cmpint (info.downscale, ==, 1);
  g_assert_cmpuint (info.n_params, >, 1000);
  for (guint i = 0; i < G_N_ELEMENTS (xin); i++)
    xin[i] = (float) cos (i);
  g_assert_true (gen_unet_forward (m, &x, ts, &y, arena, NULL, NULL, &error));
  for (guint i = 0; i < G_N_ELEMENTS (yout); i++)
    g_assert_true (isfinite (yout[i]));
  /* the two batch items differ (different timesteps and inputs) */
  g_assert_cmpfloat (fabsf (yout[0] - yout[45]), >, 0.0f);

  /* wrong channel count: a clear error, nothing written */
  g_assert_false (gen_unet_forward (m, &bad, ts, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);

  /* out of memory while running: an error, not a crash */
  gen_arena_free (arena);
  arena = gen_arena_new (0);
  gen_arena_set_limit (arena, 4096);
  g_assert_false (gen_unet_forward (m, &x, ts, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY);
  g_clear_error (&error);

  /* cancelled during the pass (the first tap sets the flag): nothing after
   * it is computed and the pass says CANCELLED */
  gen_arena_free (arena);
  arena = gen_arena_new (0);
  {
    CancelAt c = { 0, 0 };

    gen_arena_set_cancel (arena, &c.flag);
    g_assert_false (gen_unet_forward (m, &x, ts, &y, arena, cancel_at_first_tap, &c, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_cmpint (c.taps, ==, 1);
    c.flag = 0;
    /* the arena's reset reports the cancelled pass once, then it is ready */
    g_assert_false (gen_arena_reset (arena, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_CANCELLED);
    g_clear_error (&error);
    g_assert_true (gen_unet_forward (m, &x, ts, &y, arena, cancel_at_first_tap, &c, &error));
    g_assert_no_error (error);
  }

  gen_arena_free (arena);
  gen_model_free (m);
  tensors_free (t);
  g_free (cfg);
  tmp_dir_remove (dir);
}

static void
test_not_a_folder (void)
{
  GError *error = NULL;

  g_assert_null (gen_model_load ("/nonexistent/model", &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model"));
  g_clear_error (&error);
}

static void
test_no_config (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("gen-test-XXXXXX", &error);

  expect_load_error (dir, GEN_ERROR_IO, "config.json", NULL);
}

static void
test_config_not_json (void)
{
  expect_load_error (make_model ("{\"_class_name\": \"UNet2DModel\",", NULL),
                     GEN_ERROR_FORMAT, "config.json", NULL);
}

static void
test_config_wrong_class (void)
{
  expect_load_error (make_model ("{\"_class_name\": \"UNet3DConditionModel\"}", NULL),
                     GEN_ERROR_UNSUPPORTED, "UNet3DConditionModel", "config.json");
  expect_load_error (make_model ("{\"in_channels\": 3}", NULL),
                     GEN_ERROR_UNSUPPORTED, "_class_name", NULL);
}

static void
test_no_weights (void)
{
  char *cfg = unet_config ("");

  expect_load_error (make_model (cfg, NULL), GEN_ERROR_MISSING,
                     "diffusion_pytorch_model.safetensors", NULL);
  g_free (cfg);
}

static void
test_bin_only (void)
{
  char *cfg = unet_config ("");
  char *dir = make_model (cfg, NULL);
  char *bin = g_build_filename (dir, "diffusion_pytorch_model.bin", NULL);

  g_assert_true (g_file_set_contents (bin, "PK", 2, NULL));
  expect_load_error (dir, GEN_ERROR_MISSING, ".bin", "convert");
  g_free (bin);
  g_free (cfg);
}

static void
test_missing_tensor (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = unet_config ("");
  guint victim = 0;

  for (guint i = 0; i < t->names->len; i++)
    if (strcmp (g_ptr_array_index (t->names, i), "up_blocks.0.resnets.1.conv2.weight") == 0)
      victim = i;
  g_assert_cmpuint (victim, >, 0);
  g_ptr_array_remove_index (t->names, victim);
  g_ptr_array_remove_index (t->data, victim);
  g_ptr_array_remove_index (t->shapes, victim);
  g_array_remove_index (t->ndims, victim);
  expect_load_error (make_model (cfg, t), GEN_ERROR_MISSING,
                     "up_blocks.0.resnets.1.conv2.weight", "diffusion_pytorch_model.safetensors");
  tensors_free (t);
  g_free (cfg);
}

static void
test_misshaped_tensor (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = unet_config ("");

  for (guint i = 0; i < t->names->len; i++)
    if (strcmp (g_ptr_array_index (t->names, i), "conv_in.weight") == 0)
      {
        int64_t *s = g_ptr_array_index (t->shapes, i);
        s[0] = 2, s[1] = 6; /* same element count, wrong shape */
      }
  expect_load_error (make_model (cfg, t), GEN_ERROR_SHAPE, "conv_in.weight", "[4, 3, 3, 3]");
  tensors_free (t);
  g_free (cfg);
}

static void
test_unsupported_config (void)
{
  static const struct
  {
    const char *extra, *needle;
  } cases[] = {
    { ", \"time_embedding_type\": \"learned\"", "learned" },
    { ", \"resnet_time_scale_shift\": \"spatial\"", "spatial" },
    { ", \"act_fn\": \"gelu\"", "gelu" },
    { ", \"class_embed_type\": \"timestep\"", "class_embed_type" },
    { ", \"num_class_embeds\": 10", "num_class_embeds" },
    { ", \"norm_num_groups\": 3", "norm_num_groups" },
    { ", \"downsample_type\": \"resnet\"", "downsample_type" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Tensors *t = tiny_unet_weights ();
      char *cfg = unet_config (cases[i].extra);

      expect_load_error (make_model (cfg, t), GEN_ERROR_UNSUPPORTED, cases[i].needle,
                         "config.json");
      tensors_free (t);
      g_free (cfg);
    }
}

static void
test_unsupported_block_type (void)
{
  Tensors *t = tiny_unet_weights ();
  const char *cfg =
    "{\"_class_name\": \"UNet2DModel\", \"block_out_channels\": [4], \"layers_per_block\": 1,"
    " \"norm_num_groups\": 2, \"down_block_types\": [\"CrossAttnDownBlock2D\"],"
    " \"up_block_types\": [\"UpBlock2D\"], \"add_attention\": false}";

  expect_load_error (make_model (cfg, t), GEN_ERROR_UNSUPPORTED, "CrossAttnDownBlock2D", NULL);
  tensors_free (t);
}

/* A UNet2DConditionModel of one level without cross-attention blocks and
 * without a mid block (BK-SDM's layout), on tiny_unet_weights' tensors. */
static const char *tiny_cond_config =
  "{\"_class_name\": \"UNet2DConditionModel\", \"in_channels\": 3, \"out_channels\": 3,"
  " \"block_out_channels\": [4], \"layers_per_block\": 1, \"norm_num_groups\": 2,"
  " \"down_block_types\": [\"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\"],"
  " \"mid_block_type\": null, \"cross_attention_dim\": 8, \"attention_head_dim\": 1 %s}";

static void
test_unet_cond_loads_and_runs (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = g_strdup_printf (tiny_cond_config, ", \"time_cond_proj_dim\": 5");
  char *dir;
  GError *error = NULL;
  GenModel *m;
  GenModelInfo info;
  GenArena *arena = gen_arena_new (0);
  float xin[2 * 3 * 5 * 3], yout[2 * 3 * 5 * 3], ts[2] = { 10.0f, 500.0f };
  float ctx[2 * 7 * 8], cond[2 * 5];
  GenTensor x = gen_tensor_view (xin, 2, 3, 5, 3), y = gen_tensor_view (yout, 2, 3, 5, 3);

  add_linear (t, "time_embedding.cond_proj", 5, 4);
  dir = make_model (cfg, t);
  m = gen_model_load (dir, &error);
  g_assert_no_error (error);
  gen_model_get_info (m, &info);
  g_assert_cmpint (info.kind, ==, GEN_MODEL_UNET_COND);
  g_assert_cmpint (info.cross_attention_dim, ==, 8);
  g_assert_cmpint (info.time_cond_proj_dim, ==, 5);
  for (guint i = 0; i < G_N_ELEMENTS (xin); i++)
    xin[i] = (float) cos (i);
  for (guint i = 0; i < G_N_ELEMENTS (ctx); i++)
    ctx[i] = (float) sin (i);
  for (guint i = 0; i < G_N_ELEMENTS (cond); i++)
    cond[i] = (float) i;
  g_assert_true (gen_unet_cond_forward (m, &x, ts, ctx, 7, cond, &y, arena, NULL, NULL, &error));
  g_assert_true (gen_unet_cond_forward (m, &x, ts, ctx, 7, NULL, &y, arena, NULL, NULL, &error));
  for (guint i = 0; i < G_N_ELEMENTS (yout); i++)
    g_assert_true (isfinite (yout[i]));

  /* no encoder_hidden_states: a clear error */
  g_assert_false (gen_unet_cond_forward (m, &x, ts, NULL, 0, NULL, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "encoder_hidden_states"));
  g_clear_error (&error);
  /* the plain UNet entry point refuses it */
  g_assert_false (gen_unet_forward (m, &x, ts, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  /* out of memory while running: an error, not a crash */
  gen_arena_free (arena);
  arena = gen_arena_new (0);
  gen_arena_set_limit (arena, 4096);
  g_assert_false (gen_unet_cond_forward (m, &x, ts, ctx, 7, NULL, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY);
  g_clear_error (&error);
  gen_model_free (m);
  tmp_dir_remove (dir);
  g_free (cfg);

  /* timestep_cond for a UNet without time_cond_proj_dim */
  cfg = g_strdup_printf (tiny_cond_config, "");
  dir = make_model (cfg, t);
  m = gen_model_load (dir, &error);
  g_assert_no_error (error);
  gen_arena_set_limit (arena, 0);
  g_assert_false (gen_unet_cond_forward (m, &x, ts, ctx, 7, cond, &y, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "time_cond_proj_dim"));
  g_clear_error (&error);

  gen_arena_free (arena);
  gen_model_free (m);
  tmp_dir_remove (dir);
  tensors_free (t);
  g_free (cfg);
}

/* What the Stable Diffusion family has and this core does not run: one clear
 * error each, naming the key (checked before any tensor is read). */
static void
test_unet_cond_unsupported_config (void)
{
  static const struct
  {
    const char *extra, *needle;
    int         code;
  } cases[] = {
    /* SDXL's text_time embedding */
    { ", \"addition_embed_type\": \"text_time\", \"addition_time_embed_dim\": 256",
      "addition_embed_type", GEN_ERROR_UNSUPPORTED },
    { ", \"only_cross_attention\": true", "only_cross_attention", GEN_ERROR_UNSUPPORTED },
    { ", \"transformer_layers_per_block\": 2",
      "transformer_layers_per_block", GEN_ERROR_UNSUPPORTED },
    { ", \"transformer_layers_per_block\": [10]",
      "transformer_layers_per_block", GEN_ERROR_UNSUPPORTED },
    { ", \"class_embed_type\": \"timestep\"", "class_embed_type", GEN_ERROR_UNSUPPORTED },
    { ", \"num_class_embeds\": 1000", "num_class_embeds", GEN_ERROR_UNSUPPORTED },
    { ", \"num_attention_heads\": 2", "num_attention_heads", GEN_ERROR_UNSUPPORTED },
    { ", \"encoder_hid_dim\": 32", "encoder_hid_dim", GEN_ERROR_UNSUPPORTED },
    { ", \"attention_type\": \"gated\"", "gated", GEN_ERROR_UNSUPPORTED },
    { ", \"time_embedding_type\": \"fourier\"", "fourier", GEN_ERROR_UNSUPPORTED },
    { ", \"timestep_post_act\": \"silu\"", "timestep_post_act", GEN_ERROR_UNSUPPORTED },
    { ", \"dual_cross_attention\": true", "dual_cross_attention", GEN_ERROR_UNSUPPORTED },
    { ", \"conv_in_kernel\": 7", "conv_in_kernel", GEN_ERROR_UNSUPPORTED },
    { ", \"act_fn\": \"gelu\"", "gelu", GEN_ERROR_UNSUPPORTED },
    { ", \"attention_head_dim\": [1, 2]", "attention_head_dim", GEN_ERROR_FORMAT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Tensors *t = tiny_unet_weights ();
      char *cfg = g_strdup_printf (tiny_cond_config, cases[i].extra);

      expect_load_error (make_model (cfg, t), cases[i].code, cases[i].needle, "config.json");
      tensors_free (t);
      g_free (cfg);
    }
  {
    Tensors *t = tiny_unet_weights ();
    const char *cfg =
      "{\"_class_name\": \"UNet2DConditionModel\", \"block_out_channels\": [4],"
      " \"norm_num_groups\": 2, \"down_block_types\": [\"SimpleCrossAttnDownBlock2D\"],"
      " \"up_block_types\": [\"UpBlock2D\"], \"mid_block_type\": null}";

    expect_load_error (make_model (cfg, t), GEN_ERROR_UNSUPPORTED, "SimpleCrossAttnDownBlock2D",
                       NULL);
    tensors_free (t);
  }
  {
    Tensors *t = tiny_unet_weights ();
    const char *cfg =
      "{\"_class_name\": \"UNet2DConditionModel\", \"block_out_channels\": [4],"
      " \"norm_num_groups\": 2, \"down_block_types\": [\"DownBlock2D\"],"
      " \"up_block_types\": [\"UpBlock2D\"],"
      " \"mid_block_type\": \"UNetMidBlock2DSimpleCrossAttn\"}";

    expect_load_error (make_model (cfg, t), GEN_ERROR_UNSUPPORTED, "UNetMidBlock2DSimpleCrossAttn",
                       NULL);
    tensors_free (t);
  }
}

static void
test_config_wrong_type (void)
{
  Tensors *t = tiny_unet_weights ();
  char *cfg = unet_config (", \"norm_eps\": \"small\"");

  expect_load_error (make_model (cfg, t), GEN_ERROR_FORMAT, "norm_eps", "config.json");
  tensors_free (t);
  g_free (cfg);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gen_set_threads (1);
  g_test_add_func ("/arena/alloc-release-fold", test_arena);
  g_test_add_func ("/arena/keep", test_arena_keep);
  g_test_add_func ("/model/unet-loads-and-runs", test_unet_loads_and_runs);
  g_test_add_func ("/model/bad/not-a-folder", test_not_a_folder);
  g_test_add_func ("/model/bad/no-config", test_no_config);
  g_test_add_func ("/model/bad/config-not-json", test_config_not_json);
  g_test_add_func ("/model/bad/config-wrong-class", test_config_wrong_class);
  g_test_add_func ("/model/bad/config-wrong-type", test_config_wrong_type);
  g_test_add_func ("/model/bad/no-weights", test_no_weights);
  g_test_add_func ("/model/bad/bin-only", test_bin_only);
  g_test_add_func ("/model/bad/missing-tensor", test_missing_tensor);
  g_test_add_func ("/model/bad/misshaped-tensor", test_misshaped_tensor);
  g_test_add_func ("/model/bad/unsupported-config", test_unsupported_config);
  g_test_add_func ("/model/bad/unsupported-block-type", test_unsupported_block_type);
  g_test_add_func ("/model/unet-cond-loads-and-runs", test_unet_cond_loads_and_runs);
  g_test_add_func ("/model/bad/unet-cond-unsupported-config", test_unet_cond_unsupported_config);
  return g_test_run ();
}
