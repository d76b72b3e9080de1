/* test-single-file-load.c — a tiny SD 1.x checkpoint written in the
 * original CompVis/LDM key layout (the pairs below are an independent,
 * hand-written converter) gives bit for bit what the same weights give
 * from diffusers folders: the VAE (encode and decode) and the CLIP text
 * encoder, each loaded through the key map with a config synthesised from
 * the shapes.  Mis-shaped tensors fail naming the original tensor. */
#include "gen-error.h"
#include "gen-model.h"
#include "gen-single-file.h"
#include "test-util.h"

#include <string.h>

enum { CH0 = 32, CH1 = 64, LATENT = 4, HIDDEN = 64, INTER = 96, VOCAB = 11, MAX_POS = 6 };

/* Both layouts of the same tensors: ORIG gets new deterministic values
 * under the original name, DIFF a copy under the diffusers name (NDIM
 * dims: the VAE attention's 1×1 convs are linears in diffusers). */
typedef struct
{
  Tensors *orig, *diff;
} Pair;

/* Bytes of tensor I of T. */
static gsize
tensor_bytes (Tensors *t, guint i)
{
  const int64_t *shape = g_ptr_array_index (t->shapes, i);
  gsize n = sizeof (float);

  for (int d = 0; d < g_array_index (t->ndims, int, i); d++)
    n *= (gsize) shape[d];
  return n;
}

static void
pair_add (Pair *p, const char *orig, const char *diff, int ndim, int64_t a, int64_t b,
          int64_t c, int64_t d, int diff_ndim)
{
  guint i = p->orig->names->len;

  tensors_add (p->orig, orig, ndim, a, b, c, d);
  tensors_add (p->diff, diff, diff_ndim, a, b, c, d);
  memcpy (g_ptr_array_index (p->diff->data, i), g_ptr_array_index (p->orig->data, i),
          tensor_bytes (p->orig, i));
}

static void
pair_conv (Pair *p, const char *orig, const char *diff, int64_t ci, int64_t co, int k)
{
  char *ow = g_strdup_printf ("%s.weight", orig), *dw = g_strdup_printf ("%s.weight", diff);
  char *ob = g_strdup_printf ("%s.bias", orig), *db = g_strdup_printf ("%s.bias", diff);

  pair_add (p, ow, dw, 4, co, ci, k, k, 4);
  pair_add (p, ob, db, 1, co, 1, 1, 1, 1);
  g_free (ow), g_free (dw), g_free (ob), g_free (db);
}

/* A 1×1 conv in the original file, a linear (or a norm: K 0) in diffusers. */
static void
pair_vec (Pair *p, const char *orig, const char *diff, int64_t ci, int64_t co, int k)
{
  char *ow = g_strdup_printf ("%s.weight", orig), *dw = g_strdup_printf ("%s.weight", diff);
  char *ob = g_strdup_printf ("%s.bias", orig), *db = g_strdup_printf ("%s.bias", diff);

  if (k)
    pair_add (p, ow, dw, 4, co, ci, 1, 1, 2);
  else
    pair_add (p, ow, dw, 1, co, 1, 1, 1, 1);
  pair_add (p, ob, db, 1, co, 1, 1, 1, 1);
  g_free (ow), g_free (dw), g_free (ob), g_free (db);
}

#define V "first_stage_model."

static void
pair_resnet (Pair *p, const char *orig, const char *diff, int64_t ci, int64_t co)
{
  char *o, *d;

#define PART(os, ds, CALL) \
  o = g_strconcat (orig, os, NULL), d = g_strconcat (diff, ds, NULL), CALL, g_free (o), g_free (d)
  PART (".norm1", ".norm1", pair_vec (p, o, d, 0, ci, 0));
  PART (".conv1", ".conv1", pair_conv (p, o, d, ci, co, 3));
  PART (".norm2", ".norm2", pair_vec (p, o, d, 0, co, 0));
  PART (".conv2", ".conv2", pair_conv (p, o, d, co, co, 3));
  if (ci != co)
    PART (".nin_shortcut", ".conv_shortcut", pair_conv (p, o, d, ci, co, 1));
#undef PART
}

static void
pair_mid (Pair *p, const char *coder)
{
  char *o = g_strdup_printf (V "%s.mid", coder), *d = g_strdup_printf ("%s.mid_block", coder);
  char *a, *b;

  a = g_strconcat (o, ".block_1", NULL), b = g_strconcat (d, ".resnets.0", NULL);
  pair_resnet (p, a, b, CH1, CH1), g_free (a), g_free (b);
  a = g_strconcat (o, ".attn_1.norm", NULL), b = g_strconcat (d, ".attentions.0.group_norm", NULL);
  pair_vec (p, a, b, 0, CH1, 0), g_free (a), g_free (b);
  {
    static const char *const qkv[4][2] = { { "q", "to_q" }, { "k", "to_k" }, { "v", "to_v" },
                                           { "proj_out", "to_out.0" } };

    for (int i = 0; i < 4; i++)
      {
        a = g_strdup_printf ("%s.attn_1.%s", o, qkv[i][0]);
        b = g_strdup_printf ("%s.attentions.0.%s", d, qkv[i][1]);
        pair_vec (p, a, b, CH1, CH1, 1), g_free (a), g_free (b);
      }
  }
  a = g_strconcat (o, ".block_2", NULL), b = g_strconcat (d, ".resnets.1", NULL);
  pair_resnet (p, a, b, CH1, CH1), g_free (a), g_free (b);
  g_free (o), g_free (d);
}

/* AutoencoderKL, block_out_channels [CH0, CH1], layers_per_block 1. */
static void
pair_vae (Pair *p)
{
  pair_conv (p, V "encoder.conv_in", "encoder.conv_in", 3, CH0, 3);
  pair_resnet (p, V "encoder.down.0.block.0", "encoder.down_blocks.0.resnets.0", CH0, CH0);
  pair_conv (p, V "encoder.down.0.downsample.conv", "encoder.down_blocks.0.downsamplers.0.conv",
             CH0, CH0, 3);
  pair_resnet (p, V "encoder.down.1.block.0", "encoder.down_blocks.1.resnets.0", CH0, CH1);
  pair_mid (p, "encoder");
  pair_vec (p, V "encoder.norm_out", "encoder.conv_norm_out", 0, CH1, 0);
  pair_conv (p, V "encoder.conv_out", "encoder.conv_out", CH1, 2 * LATENT, 3);
  pair_conv (p, V "quant_conv", "quant_conv", 2 * LATENT, 2 * LATENT, 1);
  pair_conv (p, V "post_quant_conv", "post_quant_conv", LATENT, LATENT, 1);
  pair_conv (p, V "decoder.conv_in", "decoder.conv_in", LATENT, CH1, 3);
  pair_mid (p, "decoder");
  /* diffusers counts the decoder's levels from the bottom */
  pair_resnet (p, V "decoder.up.1.block.0", "decoder.up_blocks.0.resnets.0", CH1, CH1);
  pair_resnet (p, V "decoder.up.1.block.1", "decoder.up_blocks.0.resnets.1", CH1, CH1);
  pair_conv (p, V "decoder.up.1.upsample.conv", "decoder.up_blocks.0.upsamplers.0.conv",
             CH1, CH1, 3);
  pair_resnet (p, V "decoder.up.0.block.0", "decoder.up_blocks.1.resnets.0", CH1, CH0);
  pair_resnet (p, V "decoder.up.0.block.1", "decoder.up_blocks.1.resnets.1", CH0, CH0);
  pair_vec (p, V "decoder.norm_out", "decoder.conv_norm_out", 0, CH0, 0);
  pair_conv (p, V "decoder.conv_out", "decoder.conv_out", CH0, 3, 3);
}

#define T "cond_stage_model.transformer."

/* CLIPTextModel: 2 layers, 64-wide heads (the width SD 1.x implies). */
static void
pair_clip (Pair *p)
{
  pair_add (p, T "text_model.embeddings.token_embedding.weight",
            "text_model.embeddings.token_embedding.weight", 2, VOCAB, HIDDEN, 1, 1, 2);
  pair_add (p, T "text_model.embeddings.position_embedding.weight",
            "text_model.embeddings.position_embedding.weight", 2, MAX_POS, HIDDEN, 1, 1, 2);
  for (int l = 0; l < 2; l++)
    {
      static const char *const lin[6] = { "self_attn.q_proj", "self_attn.k_proj",
                                          "self_attn.v_proj", "self_attn.out_proj",
                                          "mlp.fc1", "mlp.fc2" };

      for (int i = 0; i < 2; i++)
        {
          char *d = g_strdup_printf ("text_model.encoder.layers.%d.layer_norm%d", l, i + 1);
          char *o = g_strconcat (T, d, NULL);

          pair_vec (p, o, d, 0, HIDDEN, 0), g_free (o), g_free (d);
        }
      for (int i = 0; i < 6; i++)
        {
          char *d = g_strdup_printf ("text_model.encoder.layers.%d.%s", l, lin[i]);
          char *o = g_strconcat (T, d, NULL), *ow = g_strconcat (o, ".weight", NULL);
          char *dw = g_strconcat (d, ".weight", NULL), *ob = g_strconcat (o, ".bias", NULL);
          char *db = g_strconcat (d, ".bias", NULL);
          int64_t in = i == 5 ? INTER : HIDDEN, out = i == 4 ? INTER : HIDDEN;

          pair_add (p, ow, dw, 2, out, in, 1, 1, 2);
          pair_add (p, ob, db, 1, out, 1, 1, 1, 1);
          g_free (o), g_free (d), g_free (ow), g_free (dw), g_free (ob), g_free (db);
        }
    }
  pair_vec (p, T "text_model.final_layer_norm", "text_model.final_layer_norm", 0, HIDDEN, 0);
}

/* ALL gets the UNet's conv_in (which detection reads), then A and B. */
static void
append_single (Tensors *all, Tensors *a, Tensors *b)
{
  tensors_add (all, "model.diffusion_model.input_blocks.0.0.weight", 4, 8, 4, 3, 3);
  for (Tensors **src = (Tensors *[]) { a, b, NULL }; *src; src++)
    for (guint i = 0; i < (*src)->names->len; i++)
      {
        int64_t *s = g_ptr_array_index ((*src)->shapes, i);
        int nd = g_array_index ((*src)->ndims, int, i);

        tensors_add (all, g_ptr_array_index ((*src)->names, i), nd, s[0], s[1], s[2], s[3]);
        memcpy (g_ptr_array_index (all->data, all->names->len - 1),
                g_ptr_array_index ((*src)->data, i), tensor_bytes (*src, i));
      }
}

static char *
write_single (Tensors *t)
{
  char *dir = tmp_dir_new (), *path = g_build_filename (dir, "sd.safetensors", NULL);

  g_assert_true (gen_safetensors_write_f32 (path, t->names->len,
                                            (const char *const *) t->names->pdata,
                                            (const float *const *) t->data->pdata,
                                            (const int *) (void *) t->ndims->data,
                                            (const int64_t *const *) t->shapes->pdata, NULL));
  g_free (dir);
  return path;
}

static void
remove_single (char *path)
{
  tmp_dir_remove (g_path_get_dirname (path));
  g_free (path);
}

static void
test_same_bits (void)
{
  Pair vae = { tensors_new (), tensors_new () }, clip = { tensors_new (), tensors_new () };
  Tensors *all = tensors_new ();
  char *vae_dir, *clip_dir, *cfg, *path;
  GError *error = NULL;
  GenSingleFile *sf;
  GenModel *fv, *sv, *fc, *sc;
  GenArena *arena = gen_arena_new (0);
  float x[3 * 8 * 8], z[LATENT * 4 * 4], a[3 * 8 * 8], b[3 * 8 * 8];
  float ma[LATENT * 4 * 4], mb[LATENT * 4 * 4], ha[2 * 3 * HIDDEN], hb[2 * 3 * HIDDEN];
  GenTensor tx = gen_tensor_view (x, 1, 3, 8, 8), tz = gen_tensor_view (z, 1, LATENT, 4, 4);
  GenTensor ta = gen_tensor_view (a, 1, 3, 8, 8), tb = gen_tensor_view (b, 1, 3, 8, 8);
  GenTensor tma = gen_tensor_view (ma, 1, LATENT, 4, 4), tmb = gen_tensor_view (mb, 1, LATENT, 4, 4);
  GenTensor tha = gen_tensor_view (ha, 1, 2, 3, HIDDEN), thb = gen_tensor_view (hb, 1, 2, 3, HIDDEN);
  const int32_t ids[6] = { 9, 3, 10, 1, 7, 10 };

  pair_vae (&vae);
  pair_clip (&clip);
  vae_dir = make_model ("{\"_class_name\": \"AutoencoderKL\", \"block_out_channels\": [32, 64], "
                        "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\"], "
                        "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\"], "
                        "\"layers_per_block\": 1, \"latent_channels\": 4}", vae.diff);
  cfg = g_strdup_printf ("{\"architectures\": [\"CLIPTextModel\"], \"vocab_size\": %d, "
                         "\"hidden_size\": %d, \"intermediate_size\": %d, "
                         "\"num_hidden_layers\": 2, \"num_attention_heads\": 1, "
                         "\"max_position_embeddings\": %d}", VOCAB, HIDDEN, INTER, MAX_POS);
  clip_dir = make_model (cfg, clip.diff);

  append_single (all, vae.orig, clip.orig);
  path = write_single (all);
  sf = gen_single_file_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (gen_single_file_kind (sf), ==, GEN_SINGLE_FILE_SD1);

  fv = gen_model_load (vae_dir, &error);
  g_assert_no_error (error);
  sv = gen_model_load_single (sf, GEN_SINGLE_FILE_VAE, &error);
  g_assert_no_error (error);
  fc = gen_model_load (clip_dir, &error);
  g_assert_no_error (error);
  sc = gen_model_load_single (sf, GEN_SINGLE_FILE_TEXT_ENCODER, &error);
  g_assert_no_error (error);
  gen_single_file_unref (sf);   /* the models hold theirs */
  {
    GenModelInfo i1, i2;

    gen_model_get_info (fv, &i1), gen_model_get_info (sv, &i2);
    g_assert_cmpuint (i1.n_params, ==, i2.n_params);
    g_assert_cmpfloat (i2.scaling_factor, ==, 0.18215f);
    gen_model_get_info (fc, &i1), gen_model_get_info (sc, &i2);
    g_assert_cmpuint (i1.n_params, ==, i2.n_params);
    g_assert_cmpint (i2.num_layers, ==, 2);
  }

  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    x[i] = (float) ((i * 37) % 19) / 9.0f - 1.0f;
  for (guint i = 0; i < G_N_ELEMENTS (z); i++)
    z[i] = (float) ((i * 11) % 13) / 6.0f - 1.0f;
  g_assert_true (gen_vae_encode (fv, &tx, &tma, NULL, arena, NULL, NULL, &error));
  g_assert_true (gen_vae_encode (sv, &tx, &tmb, NULL, arena, NULL, NULL, &error));
  g_assert_cmpmem (ma, sizeof ma, mb, sizeof mb);
  g_assert_true (gen_vae_decode (fv, &tz, &ta, arena, NULL, NULL, &error));
  g_assert_true (gen_vae_decode (sv, &tz, &tb, arena, NULL, NULL, &error));
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_cmpfloat (a[0], !=, a[1]);
  g_assert_true (gen_clip_text_forward (fc, ids, 2, 3, 0, &tha, arena, NULL, NULL, &error));
  g_assert_true (gen_clip_text_forward (sc, ids, 2, 3, 0, &thb, arena, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (ha, sizeof ha, hb, sizeof hb);

  gen_model_free (fv), gen_model_free (sv), gen_model_free (fc), gen_model_free (sc);
  gen_arena_free (arena);
  tmp_dir_remove (vae_dir), tmp_dir_remove (clip_dir), remove_single (path);
  tensors_free (vae.orig), tensors_free (vae.diff), tensors_free (clip.orig);
  tensors_free (clip.diff), tensors_free (all);
  g_free (cfg);
}

/* The VAE of a file whose tensor NAME is renamed (RENAME) or, if RENAME
 * is NULL, one element shorter fails with CODE naming NEEDLE. */
static void
expect_vae_error (const char *name, const char *rename, int code, const char *needle)
{
  Pair vae = { tensors_new (), tensors_new () }, clip = { tensors_new (), tensors_new () };
  Tensors *all = tensors_new ();
  GError *error = NULL;
  GenSingleFile *sf;
  char *path;

  pair_vae (&vae);
  pair_clip (&clip);
  for (guint i = 0; i < vae.orig->names->len; i++)
    if (strcmp (g_ptr_array_index (vae.orig->names, i), name) == 0)
      {
        if (rename)
          {
            g_free (g_ptr_array_index (vae.orig->names, i));
            g_ptr_array_index (vae.orig->names, i) = g_strdup (rename);
          }
        else
          ((int64_t *) g_ptr_array_index (vae.orig->shapes, i))[0] -= 1;
      }
  append_single (all, vae.orig, clip.orig);
  path = write_single (all);
  sf = gen_single_file_open (path, &error);
  g_assert_no_error (error);
  g_assert_null (gen_model_load_single (sf, GEN_SINGLE_FILE_VAE, &error));
  g_assert_error (error, GEN_ERROR, code);
  if (!strstr (error->message, needle))
    g_error ("'%s' not in '%s'", needle, error->message);
  g_error_free (error);
  gen_single_file_unref (sf);
  remove_single (path);
  tensors_free (vae.orig), tensors_free (vae.diff), tensors_free (clip.orig);
  tensors_free (clip.diff), tensors_free (all);
}

static void
test_bad_tensors (void)
{
  expect_vae_error (V "decoder.up.1.block.0.conv1.bias", NULL, GEN_ERROR_SHAPE,
                    "'" V "decoder.up.1.block.0.conv1.bias' is F32 [63]");
  expect_vae_error (V "decoder.mid.attn_1.q.weight", V "decoder.mid.attn_1.query_x.weight",
                    GEN_ERROR_MISSING, "'" V "decoder.mid.attn_1.q.weight' (diffusers' "
                    "'decoder.mid_block.attentions.0.to_q.weight') is missing");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/single-file/same-bits", test_same_bits);
  g_test_add_func ("/single-file/bad-tensors", test_bad_tensors);
  return g_test_run ();
}
