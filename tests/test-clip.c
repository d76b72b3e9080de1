/* test-clip — the CLIP text encoder (transformers' CLIPTextModel) from a
 * text_encoder folder: a tiny one loads and runs (causal, clip skip, the
 * int64 position_ids buffer tolerated), and folders that are wrong in every
 * way a download can be fail with one clear error each. */
#include "gen-error.h"
#include "gen-model.h"
#include "gen-ops.h"
#include "gen-pipeline.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

enum { VOCAB = 11, HIDDEN = 8, HEADS = 2, INTER = 12, LAYERS = 2, MAX_POS = 6 };

#define CONFIG \
  "{\"architectures\": [\"CLIPTextModel\"], \"model_type\": \"clip_text_model\", " \
  "\"vocab_size\": %d, \"hidden_size\": %d, \"intermediate_size\": %d, " \
  "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, \"max_position_embeddings\": %d, " \
  "\"hidden_act\": \"%s\", \"layer_norm_eps\": 1e-05, \"projection_dim\": 5%s}"

static char *
config (int vocab, int heads, const char *act, const char *extra)
{
  return g_strdup_printf (CONFIG, vocab, HIDDEN, INTER, LAYERS, heads, MAX_POS, act, extra);
}

static Tensors *
clip_weights (void)
{
  Tensors *t = tensors_new ();

  t->scale = 0.5f;
  tensors_add (t, "text_model.embeddings.token_embedding.weight", 2, VOCAB, HIDDEN, 0, 0);
  tensors_add (t, "text_model.embeddings.position_embedding.weight", 2, MAX_POS, HIDDEN, 0, 0);
  for (int i = 0; i < LAYERS; i++)
    {
      char *p = g_strdup_printf ("text_model.encoder.layers.%d", i), *q;

      q = g_strconcat (p, ".layer_norm1", NULL), add_norm (t, q, HIDDEN), g_free (q);
      q = g_strconcat (p, ".self_attn.q_proj", NULL), add_linear (t, q, HIDDEN, HIDDEN), g_free (q);
      q = g_strconcat (p, ".self_attn.k_proj", NULL), add_linear (t, q, HIDDEN, HIDDEN), g_free (q);
      q = g_strconcat (p, ".self_attn.v_proj", NULL), add_linear (t, q, HIDDEN, HIDDEN), g_free (q);
      q = g_strconcat (p, ".self_attn.out_proj", NULL), add_linear (t, q, HIDDEN, HIDDEN), g_free (q);
      q = g_strconcat (p, ".layer_norm2", NULL), add_norm (t, q, HIDDEN), g_free (q);
      q = g_strconcat (p, ".mlp.fc1", NULL), add_linear (t, q, HIDDEN, INTER), g_free (q);
      q = g_strconcat (p, ".mlp.fc2", NULL), add_linear (t, q, INTER, HIDDEN), g_free (q);
      g_free (p);
    }
  add_norm (t, "text_model.final_layer_norm", HIDDEN);
  return t;
}

static guint
find (Tensors *t, const char *name)
{
  for (guint i = 0; i < t->names->len; i++)
    if (strcmp (g_ptr_array_index (t->names, i), name) == 0)
      return i;
  g_assert_not_reached ();
  return 0;
}

/* Writes DIR/model.safetensors by hand: every tensor of T as F32, except
 * AS_I64 (if not NULL), written as I64 zeros; POSITION_IDS adds the int64
 * buffer text_model.embeddings.position_ids [1, MAX_POS] = 0..MAX_POS-1. */
static void
write_weights (const char *dir, Tensors *t, const char *as_i64, gboolean position_ids)
{
  GString *hdr = g_string_new ("{\"__metadata__\": {\"format\": \"pt\"}");
  GByteArray *body = g_byte_array_new ();
  GByteArray *file = g_byte_array_new ();
  char *path = g_build_filename (dir, "model.safetensors", NULL);
  guint64 len;

  for (guint i = 0; i < t->names->len + (position_ids ? 1 : 0); i++)
    {
      gboolean pos = i == t->names->len;
      const char *name = pos ? "text_model.embeddings.position_ids" : g_ptr_array_index (t->names, i);
      int ndim = pos ? 2 : g_array_index (t->ndims, int, i);
      const int64_t *shape = pos ? (const int64_t[]) { 1, MAX_POS } : g_ptr_array_index (t->shapes, i);
      gboolean i64 = pos || (as_i64 && strcmp (name, as_i64) == 0);
      int64_t numel = 1;
      guint begin = body->len;

      for (int d = 0; d < ndim; d++)
        numel *= shape[d];
      for (int64_t k = 0; k < numel; k++)
        {
          if (i64)
            {
              gint64 v = GINT64_TO_LE (pos ? k : 0);
              g_byte_array_append (body, (const guint8 *) &v, 8);
            }
          else
            {
              float f = ((const float *) g_ptr_array_index (t->data, i))[k];
              g_byte_array_append (body, (const guint8 *) &f, 4);   /* little-endian host */
            }
        }
      g_string_append_printf (hdr, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [", name,
                              i64 ? "I64" : "F32");
      for (int d = 0; d < ndim; d++)
        g_string_append_printf (hdr, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
      g_string_append_printf (hdr, "], \"data_offsets\": [%u, %u]}", begin, body->len);
    }
  g_string_append_c (hdr, '}');
  while (hdr->len % 8)
    g_string_append_c (hdr, ' ');
  len = GUINT64_TO_LE ((guint64) hdr->len);
  g_byte_array_append (file, (const guint8 *) &len, 8);
  g_byte_array_append (file, (const guint8 *) hdr->str, hdr->len);
  g_byte_array_append (file, body->data, body->len);
  g_assert_true (g_file_set_contents (path, (const char *) file->data, file->len, NULL));
  g_string_free (hdr, TRUE);
  g_byte_array_unref (body);
  g_byte_array_unref (file);
  g_free (path);
}

static char *
make_clip (const char *cfg, Tensors *t, const char *as_i64, gboolean position_ids)
{
  char *dir = make_model (cfg, NULL);

  write_weights (dir, t, as_i64, position_ids);
  return dir;
}

/* ---- tests --------------------------------------------------------------- */

static void
test_loads_and_runs (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");
  char *dir = make_clip (cfg, t, NULL, TRUE);   /* with the position_ids buffer */
  GError *error = NULL;
  GenModel *m = gen_model_load (dir, &error);
  GenModelInfo info;
  GenArena *arena = gen_arena_new (0);
  int32_t ids[2 * 5] = { 9, 3, 4, 10, 10, 9, 1, 7, 2, 10 };
  float a[2 * 5 * HIDDEN], b[2 * 5 * HIDDEN], s[2 * 5 * HIDDEN];
  GenTensor ta = gen_tensor_view (a, 1, 2, 5, HIDDEN), tb = gen_tensor_view (b, 1, 2, 5, HIDDEN);
  GenTensor ts = gen_tensor_view (s, 1, 2, 5, HIDDEN), small = gen_tensor_view (s, 1, 2, 4, HIDDEN);

  g_assert_no_error (error);
  gen_model_get_info (m, &info);
  g_assert_cmpint (info.kind, ==, GEN_MODEL_CLIP_TEXT);
  g_assert_cmpstr (info.class_name, ==, "CLIPTextModel");
  g_assert_cmpint (info.out_channels, ==, HIDDEN);
  g_assert_cmpint (info.vocab_size, ==, VOCAB);
  g_assert_cmpint (info.max_tokens, ==, MAX_POS);
  g_assert_cmpint (info.num_layers, ==, LAYERS);
  g_assert_true (gen_clip_text_forward (m, ids, 2, 5, 0, &ta, arena, NULL, NULL, &error));
  for (guint i = 0; i < G_N_ELEMENTS (a); i++)
    g_assert_true (isfinite (a[i]));

  /* causal: a different last token changes only the last position */
  ids[4] = 0;
  g_assert_true (gen_clip_text_forward (m, ids, 2, 5, 0, &tb, arena, NULL, NULL, &error));
  for (int i = 0; i < 2 * 5 * HIDDEN; i++)
    {
      int pos = (i / HIDDEN) % 5, seq = i / (5 * HIDDEN);

      if (seq == 0 && pos == 4)
        continue;
      g_assert_cmpfloat (fabsf (a[i] - b[i]), <=, 1e-6f);
    }
  g_assert_cmpfloat (fabsf (a[4 * HIDDEN] - b[4 * HIDDEN]), >, 0.0f);

  /* clip skip: 1 and all layers run; past the layers, a clear error */
  g_assert_true (gen_clip_text_forward (m, ids, 2, 5, 1, &ts, arena, NULL, NULL, &error));
  g_assert_cmpfloat (fabsf (s[0] - b[0]), >, 0.0f);
  g_assert_true (gen_clip_text_forward (m, ids, 2, 5, LAYERS, &ts, arena, NULL, NULL, &error));
  g_assert_false (gen_clip_text_forward (m, ids, 2, 5, LAYERS + 1, &ts, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (gen_clip_text_forward (m, ids, 2, 5, -1, &ts, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);

  /* a token outside the vocabulary; more tokens than positions; a wrong output */
  ids[7] = VOCAB;
  g_assert_false (gen_clip_text_forward (m, ids, 2, 5, 0, &ta, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "vocabulary"));
  g_clear_error (&error);
  ids[7] = 7;
  {
    int32_t many[MAX_POS + 1] = { 0 };
    float o[(MAX_POS + 1) * HIDDEN];
    GenTensor to = gen_tensor_view (o, 1, 1, MAX_POS + 1, HIDDEN);

    g_assert_false (gen_clip_text_forward (m, many, 1, MAX_POS + 1, 0, &to, arena, NULL, NULL,
                                           &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_false (gen_clip_text_forward (m, ids, 2, 5, 0, &small, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_clear_error (&error);

  /* the other models' entry points refuse it */
  {
    float x[4 * 4 * 3];
    GenTensor tx = gen_tensor_view (x, 1, 3, 4, 4), tz = gen_tensor_view (x, 1, 3, 4, 4);
    float tsteps[1] = { 1.0f };

    memset (x, 0, sizeof x);
    g_assert_false (gen_vae_decode (m, &tx, &tz, arena, NULL, NULL, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (gen_vae_encode (m, &tx, &tz, NULL, arena, NULL, NULL, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (gen_unet_forward (m, &tx, tsteps, &tz, arena, NULL, NULL, &error));
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_clear_error (&error);
  }

  /* out of memory while running: an error, not a crash */
  gen_arena_free (arena);
  arena = gen_arena_new (0);
  gen_arena_set_limit (arena, 512);
  g_assert_false (gen_clip_text_forward (m, ids, 2, 5, 0, &ta, arena, NULL, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY);
  g_clear_error (&error);

  gen_arena_free (arena);
  gen_model_free (m);
  tensors_free (t);
  g_free (cfg);
  tmp_dir_remove (dir);
}

static void
test_model_type_only (void)
{
  Tensors *t = clip_weights ();
  char *cfg = g_strdup_printf ("{\"model_type\": \"clip_text_model\", \"vocab_size\": %d, "
                               "\"hidden_size\": %d, \"intermediate_size\": %d, "
                               "\"num_hidden_layers\": %d, \"num_attention_heads\": %d, "
                               "\"max_position_embeddings\": %d}",
                               VOCAB, HIDDEN, INTER, LAYERS, HEADS, MAX_POS);
  char *dir = make_clip (cfg, t, NULL, FALSE);
  GError *error = NULL;
  GenModel *m = gen_model_load (dir, &error);

  g_assert_no_error (error);
  gen_model_free (m);
  tmp_dir_remove (dir);
  g_free (cfg);
  tensors_free (t);
}

static void
test_missing_tensor (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "gelu", "");
  guint victim = find (t, "text_model.encoder.layers.1.mlp.fc2.bias");

  g_ptr_array_remove_index (t->names, victim);
  g_ptr_array_remove_index (t->data, victim);
  g_ptr_array_remove_index (t->shapes, victim);
  g_array_remove_index (t->ndims, victim);
  expect_load_error (make_clip (cfg, t, NULL, TRUE), GEN_ERROR_MISSING,
                     "text_model.encoder.layers.1.mlp.fc2.bias", "model.safetensors");
  tensors_free (t);
  g_free (cfg);
}

static void
test_misshaped_tensor (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");
  int64_t *s = g_ptr_array_index (t->shapes, find (t, "text_model.encoder.layers.0.self_attn.k_proj.weight"));

  s[0] = 4, s[1] = 16;   /* same element count, wrong shape */
  expect_load_error (make_clip (cfg, t, NULL, FALSE), GEN_ERROR_SHAPE,
                     "text_model.encoder.layers.0.self_attn.k_proj.weight", "[8, 8]");
  tensors_free (t);
  /* a vocabulary the embedding does not have */
  t = clip_weights ();
  g_free (cfg);
  cfg = config (VOCAB + 1, HEADS, "quick_gelu", "");
  expect_load_error (make_clip (cfg, t, NULL, FALSE), GEN_ERROR_SHAPE,
                     "token_embedding", "[12, 8]");
  tensors_free (t);
  g_free (cfg);
}

static void
test_int_tensor_where_used (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");

  expect_load_error (make_clip (cfg, t, "text_model.embeddings.position_embedding.weight", TRUE),
                     GEN_ERROR_SHAPE, "position_embedding.weight", "I64");
  tensors_free (t);
  g_free (cfg);
}

static void
test_bad_config (void)
{
  static const struct
  {
    int         vocab, heads;
    const char *act, *extra, *needle;
    int         code;
  } cases[] = {
    { VOCAB, 3, "quick_gelu", "", "divisible", GEN_ERROR_UNSUPPORTED },
    { 0, HEADS, "quick_gelu", "", "vocab_size", GEN_ERROR_UNSUPPORTED },
    { VOCAB, 0, "quick_gelu", "", "num_attention_heads", GEN_ERROR_UNSUPPORTED },
    { VOCAB, HEADS, "relu", "", "relu", GEN_ERROR_UNSUPPORTED },
    { VOCAB, HEADS, "gelu", ", \"layer_norm_eps\": -1", "layer_norm_eps", GEN_ERROR_UNSUPPORTED },
    { VOCAB, HEADS, "gelu", ", \"num_hidden_layers\": 1e9", "num_hidden_layers", GEN_ERROR_UNSUPPORTED },
    { VOCAB, HEADS, "gelu", ", \"hidden_size\": \"wide\"", "hidden_size", GEN_ERROR_FORMAT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Tensors *t = clip_weights ();
      char *cfg = config (cases[i].vocab, cases[i].heads, cases[i].act, cases[i].extra);

      expect_load_error (make_clip (cfg, t, NULL, FALSE), cases[i].code, cases[i].needle,
                         "config.json");
      tensors_free (t);
      g_free (cfg);
    }
  /* a transformers config of another architecture */
  expect_load_error (make_model ("{\"architectures\": [\"BertModel\"], \"model_type\": \"bert\"}",
                                 NULL), GEN_ERROR_UNSUPPORTED, "_class_name", NULL);
}

/* A text encoder is no job's model, nor a VAE. */
static void
test_not_a_job_model (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");
  char *dir = make_clip (cfg, t, NULL, FALSE);
  GError *error = NULL;

  g_assert_null (gen_pipeline_load (dir, NULL, &error));
  g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "text encoder"));
  g_clear_error (&error);
  {
    Tensors *ut = tiny_unet_weights ();
    char *ucfg = g_strdup_printf (tiny_unet_config, "");
    char *udir = make_model (ucfg, ut);

    g_assert_null (gen_pipeline_load (udir, dir, &error));   /* as --vae */
    g_assert_error (error, GEN_ERROR, GEN_ERROR_INVALID);
    g_assert_nonnull (strstr (error->message, "VAE"));
    g_clear_error (&error);
    tmp_dir_remove (udir);
    g_free (ucfg);
    tensors_free (ut);
  }
  tmp_dir_remove (dir);
  g_free (cfg);
  tensors_free (t);
}

static void
test_no_weights (void)
{
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");
  char *dir = make_model (cfg, NULL);
  char *bin = g_build_filename (dir, "pytorch_model.bin", NULL);

  expect_load_error (make_model (cfg, NULL), GEN_ERROR_MISSING, "model.safetensors", NULL);
  g_assert_true (g_file_set_contents (bin, "PK", 2, NULL));
  expect_load_error (dir, GEN_ERROR_MISSING, ".bin", "convert it to model.safetensors");
  g_free (bin);
  g_free (cfg);
}

static void
test_fp16_variant_name (void)
{
  Tensors *t = clip_weights ();
  char *cfg = config (VOCAB, HEADS, "quick_gelu", "");
  char *dir = make_clip (cfg, t, NULL, TRUE);
  char *from = g_build_filename (dir, "model.safetensors", NULL);
  char *to = g_build_filename (dir, "model.fp16.safetensors", NULL);
  GError *error = NULL;
  GenModel *m;

  g_assert_cmpint (g_rename (from, to), ==, 0);
  m = gen_model_load (dir, &error);
  g_assert_no_error (error);
  gen_model_free (m);
  tmp_dir_remove (dir);
  g_free (from);
  g_free (to);
  g_free (cfg);
  tensors_free (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gen_set_threads (1);
  g_test_add_func ("/clip/loads-and-runs", test_loads_and_runs);
  g_test_add_func ("/clip/model-type-only", test_model_type_only);
  g_test_add_func ("/clip/fp16-variant-name", test_fp16_variant_name);
  g_test_add_func ("/clip/bad/no-weights", test_no_weights);
  g_test_add_func ("/clip/bad/not-a-job-model", test_not_a_job_model);
  g_test_add_func ("/clip/bad/missing-tensor", test_missing_tensor);
  g_test_add_func ("/clip/bad/misshaped-tensor", test_misshaped_tensor);
  g_test_add_func ("/clip/bad/int-tensor-where-used", test_int_tensor_where_used);
  g_test_add_func ("/clip/bad/config", test_bad_config);
  return g_test_run ();
}
