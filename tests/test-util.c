/* test-util.c — small model folders with deterministic weights, for tests. */
#include "test-util.h"

#include "gen-error.h"
#include "gen-model.h"
#include "gen-safetensors.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

Tensors *
tensors_new (void)
{
  Tensors *t = g_new0 (Tensors, 1);

  t->names = g_ptr_array_new_with_free_func (g_free);
  t->data = g_ptr_array_new_with_free_func (g_free);
  t->shapes = g_ptr_array_new_with_free_func (g_free);
  t->ndims = g_array_new (FALSE, FALSE, sizeof (int));
  t->scale = 0.05f;
  return t;
}

void
tensors_free (Tensors *t)
{
  g_ptr_array_unref (t->names);
  g_ptr_array_unref (t->data);
  g_ptr_array_unref (t->shapes);
  g_array_unref (t->ndims);
  g_free (t);
}

void
tensors_add (Tensors *t, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d)
{
  int64_t dims[4] = { a, b, c, d }, numel = 1;
  int64_t *shape = g_new (int64_t, 4);
  float *v;

  for (int i = 0; i < ndim; i++)
    shape[i] = dims[i], numel *= dims[i];
  v = g_new (float, numel);
  for (int64_t i = 0; i < numel; i++)
    v[i] = t->scale * (float) sin ((double) (i + 7 * t->names->len));
  g_ptr_array_add (t->names, g_strdup (name));
  g_ptr_array_add (t->data, v);
  g_ptr_array_add (t->shapes, shape);
  g_array_append_val (t->ndims, ndim);
}

void
add_conv (Tensors *t, const char *p, int64_t ci, int64_t co, int k, gboolean bias)
{
  char *n = g_strdup_printf ("%s.weight", p);
  tensors_add (t, n, 4, co, ci, k, k);
  g_free (n);
  if (bias)
    {
      n = g_strdup_printf ("%s.bias", p);
      tensors_add (t, n, 1, co, 0, 0, 0);
      g_free (n);
    }
}

void
add_vec (Tensors *t, const char *p, const char *what, int64_t c)
{
  char *n = g_strdup_printf ("%s.%s", p, what);
  tensors_add (t, n, 1, c, 0, 0, 0);
  g_free (n);
}

void
add_norm (Tensors *t, const char *p, int64_t c)
{
  add_vec (t, p, "weight", c);
  add_vec (t, p, "bias", c);
}

void
add_linear (Tensors *t, const char *p, int64_t in, int64_t out)
{
  char *n = g_strdup_printf ("%s.weight", p);
  tensors_add (t, n, 2, out, in, 0, 0);
  g_free (n);
  add_vec (t, p, "bias", out);
}

void
add_resnet (Tensors *t, const char *p, int64_t in, int64_t out, int64_t temb)
{
  char *s;

#define SUB(x) (g_free (s), s = g_strdup_printf ("%s.%s", p, x))
  s = NULL;
  add_norm (t, SUB ("norm1"), in);
  add_conv (t, SUB ("conv1"), in, out, 3, TRUE);
  add_linear (t, SUB ("time_emb_proj"), temb, out);
  add_norm (t, SUB ("norm2"), out);
  add_conv (t, SUB ("conv2"), out, out, 3, TRUE);
  if (in != out)
    add_conv (t, SUB ("conv_shortcut"), in, out, 1, TRUE);
  g_free (s);
#undef SUB
}

/* A one-level UNet2DModel: 3 → 4 channels, DownBlock2D / UpBlock2D. */
Tensors *
tiny_unet_weights (void)
{
  return tiny_unet_weights_ch (3);
}

Tensors *
tiny_unet_weights_ch (int ch)
{
  return tiny_unet_weights_scaled (ch, 0.05f);
}

Tensors *
tiny_unet_weights_scaled (int ch, float scale)
{
  Tensors *t = tensors_new ();

  t->scale = scale;

  add_linear (t, "time_embedding.linear_1", 4, 16);
  add_linear (t, "time_embedding.linear_2", 16, 16);
  add_conv (t, "conv_in", ch, 4, 3, TRUE);
  add_resnet (t, "down_blocks.0.resnets.0", 4, 4, 16);
  add_resnet (t, "mid_block.resnets.0", 4, 4, 16);
  add_resnet (t, "mid_block.resnets.1", 4, 4, 16);
  add_resnet (t, "up_blocks.0.resnets.0", 8, 4, 16);
  add_resnet (t, "up_blocks.0.resnets.1", 8, 4, 16);
  add_norm (t, "conv_norm_out", 4);
  add_conv (t, "conv_out", 4, ch, 3, TRUE);
  return t;
}

static void
add_tiny_block (Tensors *t, const char *half, int idx, int ch)
{
  for (int k = 0; k <= 4; k += 2)
    {
      char *p = g_strdup_printf ("%s.layers.%d.conv.%d", half, idx, k);
      add_conv (t, p, ch, ch, 3, TRUE);
      g_free (p);
    }
}

Tensors *
tiny_vae_weights (void)
{
  Tensors *t = tensors_new ();

  add_conv (t, "encoder.layers.0", 3, 4, 3, TRUE);
  add_tiny_block (t, "encoder", 1, 4);
  add_conv (t, "encoder.layers.2", 4, 4, 3, FALSE);
  add_tiny_block (t, "encoder", 3, 4);
  add_conv (t, "encoder.layers.4", 4, 4, 3, TRUE);
  add_conv (t, "decoder.layers.0", 4, 4, 3, TRUE);
  add_tiny_block (t, "decoder", 2, 4);
  add_conv (t, "decoder.layers.4", 4, 4, 3, FALSE);
  add_tiny_block (t, "decoder", 5, 4);
  add_conv (t, "decoder.layers.6", 4, 3, 3, TRUE);
  return t;
}

const char *tiny_vae_config =
  "{\"_class_name\": \"AutoencoderTiny\", \"encoder_block_out_channels\": [4, 4],"
  " \"decoder_block_out_channels\": [4, 4], \"num_encoder_blocks\": [1, 1],"
  " \"num_decoder_blocks\": [1, 1], \"latent_channels\": 4}";

const char *tiny_unet_config =
  "{\"_class_name\": \"UNet2DModel\", \"in_channels\": 3, \"out_channels\": 3,"
  " \"block_out_channels\": [4], \"layers_per_block\": 1, \"norm_num_groups\": 2,"
  " \"down_block_types\": [\"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\"],"
  " \"add_attention\": false %s}";

char *
make_model (const char *config_json, Tensors *t)
{
  GError *error = NULL;
  char *dir = tmp_dir_new ();
  char *cfg, *st;

  cfg = g_build_filename (dir, "config.json", NULL);
  g_assert_true (g_file_set_contents (cfg, config_json, -1, &error));
  if (t)
    {
      st = g_build_filename (dir, "diffusion_pytorch_model.safetensors", NULL);
      g_assert_true (gen_safetensors_write_f32 (st, t->names->len,
                                                (const char *const *) t->names->pdata,
                                                (const float *const *) t->data->pdata,
                                                (const int *) (void *) t->ndims->data,
                                                (const int64_t *const *) t->shapes->pdata,
                                                &error));
      g_assert_no_error (error);
      g_free (st);
    }
  g_free (cfg);
  return dir;
}

void
expect_load_error (char *dir, int code, const char *needle1, const char *needle2)
{
  GError *error = NULL;
  GenModel *m = gen_model_load (dir, &error);

  g_assert_null (m);
  g_assert_nonnull (error);
  if (g_test_verbose ())
    g_printerr ("  -> %s\n", error->message);
  g_assert_cmpint (error->domain, ==, GEN_ERROR);
  g_assert_cmpint (error->code, ==, code);
  if (needle1)
    g_assert_nonnull (strstr (error->message, needle1));
  if (needle2)
    g_assert_nonnull (strstr (error->message, needle2));
  g_error_free (error);
  tmp_dir_remove (dir);
}

char *
tmp_dir_new (void)
{
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("gen-test-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

guint
tmp_dir_count (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  guint n = 0;

  g_assert_nonnull (d);
  while (g_dir_read_name (d) != NULL)
    n++;
  g_dir_close (d);
  return n;
}

void
tmp_dir_remove (char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      char *path = g_build_filename (dir, name, NULL);

      g_chmod (path, 0755);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        g_assert_cmpint (g_rmdir (path), ==, 0);
      else
        g_assert_cmpint (g_remove (path), ==, 0);
      g_free (path);
    }
  g_dir_close (d);
  g_assert_cmpint (g_rmdir (dir), ==, 0);
  g_free (dir);
}

gboolean
read_exact (const char *path, void *buf, gsize n)
{
  FILE *f = fopen (path, "rb");
  gboolean ok = f && fread (buf, 1, n, f) == n && fgetc (f) == EOF;

  if (f)
    fclose (f);
  return ok;
}
