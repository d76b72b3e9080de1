/* gen-single-file-config.c — the config a single-file SD 1.x checkpoint
 * implies: SD 1.x's v1-inference.yaml (num_res_blocks 2, num_heads 8,
 * CLIP ViT-L/14 with 64-wide heads, scale_factor 0.18215), every size read
 * from the tensor shapes as diffusers' single-file loader derives it.  The
 * result is diffusers' config.json text handed to the ordinary config
 * reader, so a single file and a folder are read by the same code. */
#include "gen-single-file.h"
#include "gen-error.h"

#include <stdarg.h>

#define UNET "model.diffusion_model."
#define VAE  "first_stage_model."
#define TEXT "cond_stage_model.transformer.text_model."
#define MAX_LEVELS 8

/* Dimension DIM of the tensor NAME (printf-style), or -1 if absent. */
static gint64 G_GNUC_PRINTF (3, 4)
dim_of (const GenSingleFile *sf, int dim, const char *fmt, ...)
{
  va_list ap;
  char *name;
  const GenSafetensorsEntry *e;

  va_start (ap, fmt);
  name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  e = gen_single_file_find_original (sf, name);
  g_free (name);
  return e && dim < e->ndim ? e->shape[dim] : -1;
}

/* The first dim of every tensor FMT % 0, 1, … that exists, as a JSON
 * array into S (the level's width); returns how many. */
static guint
levels (const GenSingleFile *sf, GString *s, const char *fmt, guint stride, guint first)
{
  guint n = 0;

  g_string_append_c (s, '[');
  for (; n < MAX_LEVELS; n++)
    {
      char *name = g_strdup_printf (fmt, first + n * stride);
      const GenSafetensorsEntry *e = gen_single_file_find_original (sf, name);

      g_free (name);
      if (!e || e->ndim < 1)
        break;
      g_string_append_printf (s, "%s%" G_GINT64_FORMAT, n ? ", " : "", e->shape[0]);
    }
  g_string_append (s, "], ");
  return n;
}

static void
block_types (GString *s, const char *key, guint n, const char *plain, const char *attn,
             const gboolean *has_attn)
{
  g_string_append_printf (s, "\"%s\": [", key);
  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s\"%s\"", i ? ", " : "", has_attn[i] ? attn : plain);
  g_string_append (s, "], ");
}

static guint
count (const GenSingleFile *sf, const char *fmt)
{
  guint n = 0;

  while (n < 1024 && dim_of (sf, 0, fmt, n) > 0)
    n++;
  return n;
}

static void
unet_config (const GenSingleFile *sf, GString *s)
{
  gboolean down_attn[MAX_LEVELS], up_attn[MAX_LEVELS];
  guint n;

  g_string_append_printf (s, "{\"_class_name\": \"UNet2DConditionModel\", "
                          "\"in_channels\": %" G_GINT64_FORMAT ", "
                          "\"out_channels\": %" G_GINT64_FORMAT ", \"block_out_channels\": ",
                          dim_of (sf, 1, UNET "input_blocks.0.0.weight"),
                          dim_of (sf, 0, UNET "out.2.weight"));
  /* a level's width: its first resnet's conv1, input block 3·i + 1 */
  n = levels (sf, s, UNET "input_blocks.%u.0.in_layers.2.weight", 3, 1);
  for (guint i = 0; i < n; i++)
    {
      down_attn[i] = dim_of (sf, 0, UNET "input_blocks.%u.1.proj_in.weight", 3 * i + 1) > 0;
      up_attn[i] = dim_of (sf, 0, UNET "output_blocks.%u.1.proj_in.weight", 3 * i) > 0;
    }
  block_types (s, "down_block_types", n, "DownBlock2D", "CrossAttnDownBlock2D", down_attn);
  block_types (s, "up_block_types", n, "UpBlock2D", "CrossAttnUpBlock2D", up_attn);
  g_string_append_printf (s, "\"layers_per_block\": 2, \"attention_head_dim\": 8, "
                          "\"cross_attention_dim\": %" G_GINT64_FORMAT ", "
                          "\"norm_num_groups\": 32, \"sample_size\": 64}",
                          dim_of (sf, 1,
                                  UNET "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight"));
}

static void
vae_config (const GenSingleFile *sf, GString *s)
{
  gboolean none[MAX_LEVELS] = { FALSE };
  guint n;

  g_string_append_printf (s, "{\"_class_name\": \"AutoencoderKL\", "
                          "\"in_channels\": %" G_GINT64_FORMAT ", "
                          "\"out_channels\": %" G_GINT64_FORMAT ", "
                          "\"latent_channels\": %" G_GINT64_FORMAT ", "
                          "\"layers_per_block\": %u, \"block_out_channels\": ",
                          dim_of (sf, 1, VAE "encoder.conv_in.weight"),
                          dim_of (sf, 0, VAE "decoder.conv_out.weight"),
                          dim_of (sf, 0, VAE "post_quant_conv.weight"),
                          count (sf, VAE "encoder.down.0.block.%u.conv1.weight"));
  n = levels (sf, s, VAE "encoder.down.%u.block.0.conv2.weight", 1, 0);
  block_types (s, "down_block_types", n, "DownEncoderBlock2D", NULL, none);
  block_types (s, "up_block_types", n, "UpDecoderBlock2D", NULL, none);
  g_string_append (s, "\"norm_num_groups\": 32, \"sample_size\": 512, "
                      "\"scaling_factor\": 0.18215}");
}

static void
text_config (const GenSingleFile *sf, GString *s)
{
  gint64 hidden = dim_of (sf, 1, TEXT "embeddings.token_embedding.weight");

  /* ViT-L/14's heads are 64 wide: 12 of them at hidden_size 768 */
  g_string_append_printf (s, "{\"architectures\": [\"CLIPTextModel\"], "
                          "\"model_type\": \"clip_text_model\", "
                          "\"vocab_size\": %" G_GINT64_FORMAT ", "
                          "\"hidden_size\": %" G_GINT64_FORMAT ", "
                          "\"intermediate_size\": %" G_GINT64_FORMAT ", "
                          "\"num_hidden_layers\": %u, "
                          "\"num_attention_heads\": %" G_GINT64_FORMAT ", "
                          "\"max_position_embeddings\": %" G_GINT64_FORMAT ", "
                          "\"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-05}",
                          dim_of (sf, 0, TEXT "embeddings.token_embedding.weight"), hidden,
                          dim_of (sf, 0, TEXT "encoder.layers.0.mlp.fc1.weight"),
                          count (sf, TEXT "encoder.layers.%u.layer_norm1.weight"),
                          MAX (hidden / 64, 1),
                          dim_of (sf, 0, TEXT "embeddings.position_embedding.weight"));
}

GenConfig *
gen_single_file_config (const GenSingleFile *sf, GenSingleFilePart part, GError **error)
{
  static const char *const parts[] = { "unet", "vae", "text_encoder" };
  GString *s = g_string_new (NULL);
  char *name;
  GenConfig *cfg;

  if (part == GEN_SINGLE_FILE_UNET)
    unet_config (sf, s);
  else if (part == GEN_SINGLE_FILE_VAE)
    vae_config (sf, s);
  else
    text_config (sf, s);
  /* a size the file lacks is -1 here: the model's own range checks name it */
  name = g_strdup_printf ("%s (%s)", gen_single_file_where (sf), parts[part]);
  cfg = gen_config_load_from_data (s->str, (gssize) s->len, name, error);
  g_free (name);
  g_string_free (s, TRUE);
  return cfg;
}
