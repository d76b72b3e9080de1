/* test-single-file.c — single-file SD checkpoints: layout recognition, the
 * refusals (SD 2.x, SDXL, pickles, missing or mis-shaped tensors) and the
 * key map from diffusers names to the original CompVis/LDM names. */
#include "gen-single-file.h"
#include "gen-error.h"
#include "test-util.h"

#include <string.h>

/* The tensors detection reads, in a file of the given UNet IN_CHANNELS. */
static Tensors *
sd1_core (int64_t in_channels)
{
  Tensors *t = tensors_new ();

  tensors_add (t, "model.diffusion_model.input_blocks.0.0.weight", 4, 8, in_channels, 3, 3);
  tensors_add (t, "first_stage_model.decoder.conv_in.weight", 4, 8, 4, 3, 3);
  tensors_add (t, "first_stage_model.decoder.up.0.block.0.conv1.weight", 4, 8, 8, 3, 3);
  tensors_add (t, "first_stage_model.decoder.up.1.block.0.conv1.weight", 4, 8, 8, 3, 3);
  tensors_add (t, "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
               2, 10, 8, 1, 1);
  /* an up level with attention: its upsampler sits in slot 2 */
  tensors_add (t, "model.diffusion_model.output_blocks.5.1.norm.weight", 1, 8, 1, 1, 1);
  tensors_add (t, "model.diffusion_model.output_blocks.5.2.conv.weight", 4, 8, 8, 3, 3);
  /* one without: slot 1 */
  tensors_add (t, "model.diffusion_model.output_blocks.2.1.conv.weight", 4, 8, 8, 3, 3);
  return t;
}

/* Writes T to a .safetensors in DIR and opens it as a single file. */
static GenSingleFile *
open_tensors (const char *dir, Tensors *t, GError **error)
{
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  GenSingleFile *sf;

  g_assert_true (gen_safetensors_write_f32 (path, t->names->len,
                                            (const char *const *) t->names->pdata,
                                            (const float *const *) t->data->pdata,
                                            (const int *) (void *) t->ndims->data,
                                            (const int64_t *const *) t->shapes->pdata, NULL));
  sf = gen_single_file_open (path, error);
  g_free (path);
  return sf;
}

static void
expect_refused (Tensors *t, int code, const char *needle)
{
  char *dir = tmp_dir_new ();
  GError *error = NULL;

  g_assert_null (open_tensors (dir, t, &error));
  g_assert_error (error, GEN_ERROR, code);
  if (!strstr (error->message, needle))
    g_error ("'%s' not in '%s'", needle, error->message);
  g_error_free (error);
  tensors_free (t);
  tmp_dir_remove (dir);
}

static void
test_kinds (void)
{
  const int64_t ins[2] = { 4, 9 };
  const GenSingleFileKind kinds[2] = { GEN_SINGLE_FILE_SD1, GEN_SINGLE_FILE_SD1_INPAINT };

  for (int i = 0; i < 2; i++)
    {
      char *dir = tmp_dir_new ();
      Tensors *t = sd1_core (ins[i]);
      GError *error = NULL;
      GenSingleFile *sf = open_tensors (dir, t, &error);

      g_assert_no_error (error);
      g_assert_cmpint (gen_single_file_kind (sf), ==, kinds[i]);
      gen_single_file_unref (sf);
      tensors_free (t);
      tmp_dir_remove (dir);
    }
  expect_refused (sd1_core (5), GEN_ERROR_UNSUPPORTED, "5 input channels");
}

static void
test_refusals (void)
{
  Tensors *t;
  GError *error = NULL;

  t = sd1_core (4);
  tensors_add (t, "cond_stage_model.model.positional_embedding", 2, 77, 8, 1, 1);
  expect_refused (t, GEN_ERROR_UNSUPPORTED,
                  "SD 2.x single-file checkpoints are not supported yet: use the diffusers "
                  "folder");
  t = sd1_core (4);
  tensors_add (t, "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
               1, 8, 1, 1, 1);
  expect_refused (t, GEN_ERROR_UNSUPPORTED, "SDXL single-file checkpoints are not supported");

  /* missing and mis-shaped tensors */
  t = tensors_new ();
  tensors_add (t, "first_stage_model.decoder.conv_in.weight", 4, 8, 4, 3, 3);
  expect_refused (t, GEN_ERROR_MISSING, "model.diffusion_model.input_blocks.0.0.weight");
  t = tensors_new ();
  tensors_add (t, "model.diffusion_model.input_blocks.0.0.weight", 4, 8, 4, 3, 3);
  tensors_add (t, "first_stage_model.decoder.conv_in.weight", 4, 8, 4, 3, 3);
  expect_refused (t, GEN_ERROR_MISSING, "token_embedding");
  t = tensors_new ();
  tensors_add (t, "model.diffusion_model.input_blocks.0.0.weight", 2, 8, 4, 1, 1);
  expect_refused (t, GEN_ERROR_SHAPE, "has 2 dimensions, expected 4");

  /* never unpickled, whatever the bytes */
  g_assert_null (gen_single_file_open ("/nonexistent/v1-5-pruned.ckpt", &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "use the .safetensors"));
  g_clear_error (&error);
  g_assert_true (gen_single_file_is_checkpoint ("a/b.safetensors"));
  g_assert_true (gen_single_file_is_checkpoint ("a/b.ckpt"));
  g_assert_false (gen_single_file_is_checkpoint ("a/stable-diffusion-v1-5"));
}

typedef struct
{
  GenSingleFilePart part;
  const char       *diffusers, *original;   /* ORIGINAL NULL: outside the map */
} MapCase;

#define U "model.diffusion_model."
#define V "first_stage_model."
static const MapCase map_cases[] = {
  { GEN_SINGLE_FILE_UNET, "conv_in.weight", U "input_blocks.0.0.weight" },
  { GEN_SINGLE_FILE_UNET, "time_embedding.linear_2.bias", U "time_embed.2.bias" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.0.resnets.0.norm1.weight", U "input_blocks.1.0.in_layers.0.weight" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.1.resnets.0.conv1.weight", U "input_blocks.4.0.in_layers.2.weight" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.1.resnets.0.conv_shortcut.bias", U "input_blocks.4.0.skip_connection.bias" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.2.resnets.1.time_emb_proj.weight", U "input_blocks.8.0.emb_layers.1.weight" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k.weight",
    U "input_blocks.5.1.transformer_blocks.0.attn2.to_k.weight" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.2.downsamplers.0.conv.weight", U "input_blocks.9.0.op.weight" },
  { GEN_SINGLE_FILE_UNET, "mid_block.resnets.1.conv2.weight", U "middle_block.2.out_layers.3.weight" },
  { GEN_SINGLE_FILE_UNET, "mid_block.attentions.0.proj_in.weight", U "middle_block.1.proj_in.weight" },
  { GEN_SINGLE_FILE_UNET, "up_blocks.0.resnets.2.norm2.bias", U "output_blocks.2.0.out_layers.0.bias" },
  { GEN_SINGLE_FILE_UNET, "up_blocks.0.upsamplers.0.conv.weight", U "output_blocks.2.1.conv.weight" },
  { GEN_SINGLE_FILE_UNET, "up_blocks.1.upsamplers.0.conv.weight", U "output_blocks.5.2.conv.weight" },
  { GEN_SINGLE_FILE_UNET, "up_blocks.3.attentions.2.norm.bias", U "output_blocks.11.1.norm.bias" },
  { GEN_SINGLE_FILE_UNET, "conv_norm_out.weight", U "out.0.weight" },
  { GEN_SINGLE_FILE_UNET, "conv_out.bias", U "out.2.bias" },
  { GEN_SINGLE_FILE_UNET, "down_blocks.0.resnets.2.norm1.weight", NULL },
  { GEN_SINGLE_FILE_UNET, "down_blocks.x.resnets.0.norm1.weight", NULL },
  { GEN_SINGLE_FILE_UNET, "down_blocks.1234.resnets.0.norm1.weight", NULL },
  { GEN_SINGLE_FILE_UNET, "up_blocks.0.resnets.0.bogus.weight", NULL },
  { GEN_SINGLE_FILE_VAE, "encoder.conv_in.weight", V "encoder.conv_in.weight" },
  { GEN_SINGLE_FILE_VAE, "encoder.down_blocks.1.resnets.0.conv_shortcut.weight", V "encoder.down.1.block.0.nin_shortcut.weight" },
  { GEN_SINGLE_FILE_VAE, "encoder.down_blocks.0.downsamplers.0.conv.bias", V "encoder.down.0.downsample.conv.bias" },
  { GEN_SINGLE_FILE_VAE, "encoder.mid_block.resnets.1.norm2.weight", V "encoder.mid.block_2.norm2.weight" },
  { GEN_SINGLE_FILE_VAE, "decoder.mid_block.attentions.0.group_norm.bias", V "decoder.mid.attn_1.norm.bias" },
  { GEN_SINGLE_FILE_VAE, "decoder.mid_block.attentions.0.to_q.weight", V "decoder.mid.attn_1.q.weight" },
  { GEN_SINGLE_FILE_VAE, "decoder.mid_block.attentions.0.to_out.0.bias", V "decoder.mid.attn_1.proj_out.bias" },
  { GEN_SINGLE_FILE_VAE, "decoder.up_blocks.0.resnets.2.conv1.weight", V "decoder.up.1.block.2.conv1.weight" },
  { GEN_SINGLE_FILE_VAE, "decoder.up_blocks.0.upsamplers.0.conv.weight", V "decoder.up.1.upsample.conv.weight" },
  { GEN_SINGLE_FILE_VAE, "decoder.up_blocks.1.resnets.0.norm1.bias", V "decoder.up.0.block.0.norm1.bias" },
  { GEN_SINGLE_FILE_VAE, "decoder.up_blocks.2.resnets.0.norm1.bias", NULL },
  { GEN_SINGLE_FILE_VAE, "decoder.conv_norm_out.weight", V "decoder.norm_out.weight" },
  { GEN_SINGLE_FILE_VAE, "post_quant_conv.weight", V "post_quant_conv.weight" },
  { GEN_SINGLE_FILE_VAE, "conv_in.weight", NULL },
  { GEN_SINGLE_FILE_TEXT_ENCODER, "text_model.final_layer_norm.weight",
    "cond_stage_model.transformer.text_model.final_layer_norm.weight" },
  { GEN_SINGLE_FILE_TEXT_ENCODER, "logit_scale", NULL },
};

static void
test_map (void)
{
  char *dir = tmp_dir_new ();
  Tensors *t = sd1_core (4);
  GError *error = NULL;
  GenSingleFile *sf = open_tensors (dir, t, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (map_cases); i++)
    {
      char *got = gen_single_file_map (sf, map_cases[i].part, map_cases[i].diffusers);

      if (g_strcmp0 (got, map_cases[i].original) != 0)
        g_error ("%s → %s, expected %s", map_cases[i].diffusers, got ? got : "(none)",
                 map_cases[i].original ? map_cases[i].original : "(none)");
      g_free (got);
    }
  g_assert_nonnull (gen_single_file_find (sf, GEN_SINGLE_FILE_UNET, "conv_in.weight"));
  g_assert_null (gen_single_file_find (sf, GEN_SINGLE_FILE_UNET, "conv_out.weight"));
  gen_single_file_unref (sf);
  tensors_free (t);
  tmp_dir_remove (dir);
}

/* The UNet config SD 1.x implies, read from the shapes of a sketch:
 * levels of 8 and 16 channels, attention in the first only. */
static void
test_unet_config (void)
{
  char *dir = tmp_dir_new ();
  Tensors *t = sd1_core (9);
  GError *error = NULL;
  GenSingleFile *sf;
  GenConfig *cfg;
  gint64 *chans = NULL, v;
  guint n = 0;
  char **types = NULL;

  tensors_add (t, "model.diffusion_model.input_blocks.1.0.in_layers.2.weight", 4, 8, 8, 3, 3);
  tensors_add (t, "model.diffusion_model.input_blocks.4.0.in_layers.2.weight", 4, 16, 8, 3, 3);
  tensors_add (t, "model.diffusion_model.input_blocks.1.1.proj_in.weight", 4, 8, 8, 1, 1);
  tensors_add (t, "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight",
               2, 8, 12, 1, 1);
  tensors_add (t, "model.diffusion_model.output_blocks.3.1.proj_in.weight", 4, 8, 8, 1, 1);
  tensors_add (t, "model.diffusion_model.out.2.weight", 4, 4, 8, 3, 3);
  sf = open_tensors (dir, t, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gen_single_file_kind (sf), ==, GEN_SINGLE_FILE_SD1_INPAINT);
  cfg = gen_single_file_config (sf, GEN_SINGLE_FILE_UNET, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (gen_config_class_name (cfg), ==, "UNet2DConditionModel");
  g_assert_true (gen_config_get_int (cfg, "in_channels", FALSE, 0, &v, NULL));
  g_assert_cmpint (v, ==, 9);
  g_assert_true (gen_config_get_int (cfg, "out_channels", FALSE, 0, &v, NULL));
  g_assert_cmpint (v, ==, 4);
  g_assert_true (gen_config_get_int (cfg, "cross_attention_dim", FALSE, 0, &v, NULL));
  g_assert_cmpint (v, ==, 12);
  g_assert_true (gen_config_get_int (cfg, "attention_head_dim", FALSE, 0, &v, NULL));
  g_assert_cmpint (v, ==, 8);
  g_assert_true (gen_config_get_int_array (cfg, "block_out_channels", &chans, &n, NULL));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpint (chans[0], ==, 8);
  g_assert_cmpint (chans[1], ==, 16);
  g_assert_true (gen_config_get_string_array (cfg, "down_block_types", &types, &n, NULL));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpstr (types[0], ==, "CrossAttnDownBlock2D");
  g_assert_cmpstr (types[1], ==, "DownBlock2D");
  g_strfreev (types);
  g_assert_true (gen_config_get_string_array (cfg, "up_block_types", &types, &n, NULL));
  g_assert_cmpstr (types[0], ==, "UpBlock2D");
  g_assert_cmpstr (types[1], ==, "CrossAttnUpBlock2D");
  g_strfreev (types);
  g_free (chans);
  gen_config_free (cfg);
  gen_single_file_unref (sf);
  tensors_free (t);
  tmp_dir_remove (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/single-file/kinds", test_kinds);
  g_test_add_func ("/single-file/refusals", test_refusals);
  g_test_add_func ("/single-file/map", test_map);
  g_test_add_func ("/single-file/unet-config", test_unet_config);
  return g_test_run ();
}
