/* test-half — weights kept in 16-bit floats: the conversion gives the bits
 * of gen_f16_to_f32 / gen_bf16_to_f32 for every value; convolutions (im2col,
 * 1×1, Winograd, concatenated, upsampled, fused norm) and linear layers on
 * F16/BF16 weights give the same bits as on the same weights in F32; and a
 * model from an F16 file gives what the same weights upcast to an F32 file
 * give, holding half the bytes.  Run as well with GENERATIVE_CONV=winograd
 * (tests/meson.build). */
#include "gen-error.h"
#include "gen-model.h"
#include "gen-ops.h"
#include "gen-safetensors.h"
#include "gen-text-ops.h"
#include "test-util.h"

#include <math.h>
#include <string.h>

/* A deterministic 16-bit float of moderate size (2^-9 .. 1): sign, exponent
 * and mantissa from a hash of I; BF16 when BF16. */
static guint16
half_of (guint i, gboolean bf16)
{
  guint32 x = i * 2654435761u;

  x ^= x >> 15;
  if (bf16)
    return (guint16) ((x & 0x8000) | (118 + x % 9) << 7 | ((x >> 7) & 0x7f));
  return (guint16) ((x & 0x8000) | (6 + x % 9) << 10 | ((x >> 5) & 0x3ff));
}

static float
half_value (guint16 h, gboolean bf16)
{
  return bf16 ? gen_bf16_to_f32 (h) : gen_f16_to_f32 (h);
}

static void
test_every_value (void)
{
  for (int bf16 = 0; bf16 < 2; bf16++)
    {
      guint16 *h = g_new (guint16, 65536);
      float *f = g_new (float, 65536);
      GenHalf half = { h, bf16 };

      for (guint i = 0; i < 65536; i++)
        h[i] = (guint16) GUINT16_TO_LE (i);
      gen_half_to_f32 (&half, 0, 65536, f);
      for (guint i = 0; i < 65536; i++)
        {
          float want = half_value ((guint16) i, bf16);

          if (memcmp (&f[i], &want, sizeof want) != 0)
            g_error ("%s 0x%04x: %a, want %a", bf16 ? "bf16" : "f16", i, f[i], want);
        }
      /* odd offsets and lengths: the vector loops' heads and tails */
      for (int64_t off = 0; off < 40; off += 3)
        for (int64_t n = 0; n < 70; n += 7)
          {
            float out[80];

            memset (out, 0x55, sizeof out);
            gen_half_to_f32 (&half, 31000 + off, n, out);
            g_assert_cmpmem (out, n * sizeof (float), f + 31000 + off, n * sizeof (float));
            g_assert_cmpuint (((guint32 *) out)[n], ==, 0x55555555u);
          }
      g_free (h);
      g_free (f);
    }
}

/* The same layer twice: WEIGHT in F32 (values of HALF) and in HALF. */
typedef struct
{
  guint16 *h;
  float   *f;
  int64_t  n;
} Both;

static Both
both_new (int64_t n, gboolean bf16, guint seed)
{
  Both b = { g_new (guint16, n), g_new (float, n), n };

  for (int64_t i = 0; i < n; i++)
    {
      b.h[i] = GUINT16_TO_LE (half_of ((guint) i + seed, bf16));
      b.f[i] = half_value (half_of ((guint) i + seed, bf16), bf16);
    }
  return b;
}

static void
both_free (Both *b)
{
  g_free (b->h);
  g_free (b->f);
}

static void
fill (float *x, int64_t n, guint seed)
{
  for (int64_t i = 0; i < n; i++)
    x[i] = (float) sin ((double) (i * 0.37 + seed));
}

/* A CO×CI×K×K conv (stride STRIDE, padding K/2) on [N, CI, H, W], of XB's
 * channels CB (0: none) concatenated, with the group norm + SiLU fused when
 * NORM, through nearest ×2 upsampling when UP: F32 and 16-bit weights give
 * the same bits. */
static void
check_conv (int64_t n, int64_t ci, int64_t cb, int64_t co, int k, int stride, int64_t h,
            int64_t w, gboolean norm, gboolean up, gboolean bf16)
{
  GenArena *arena = gen_arena_new (0);
  Both wt = both_new (co * ci * k * k, bf16, (guint) (co * 7 + k));
  float *bias = g_new (float, co), *gw = g_new (float, ci), *gb = g_new (float, ci);
  int64_t ca = ci - cb, ih = up ? h / 2 : h, iw = up ? w / 2 : w;
  int64_t ho = gen_conv2d_out_size (h, k, stride, k / 2, k / 2);
  int64_t wo = gen_conv2d_out_size (w, k, stride, k / 2, k / 2);
  float *xa = g_new (float, n * ca * ih * iw), *xb = g_new (float, MAX (1, n * cb * h * w));
  float *ya = g_new (float, n * co * ho * wo), *yb = g_new (float, n * co * ho * wo);
  GenTensor txa = gen_tensor_view (xa, n, ca, ih, iw), txb = gen_tensor_view (xb, n, cb, h, w);
  GenTensor tya = gen_tensor_view (ya, n, co, ho, wo), tyb = gen_tensor_view (yb, n, co, ho, wo);
  GenConv2d f32 = { .stride = stride, .pad = { k / 2, k / 2, k / 2, k / 2 } }, f16;
  GenGroupNorm gn = { .groups = 2, .eps = 1e-5f };

  fill (bias, co, 1), fill (gw, ci, 2), fill (gb, ci, 3);
  fill (xa, n * ca * ih * iw, 4), fill (xb, n * cb * h * w, 5);
  f32.weight = gen_tensor_view (wt.f, co, ci, k, k);
  f32.bias = gen_tensor_view (bias, 1, co, 1, 1);
  f16 = f32;
  f16.weight.data = NULL;
  f16.half.data = wt.h, f16.half.bf16 = bf16;
  gn.weight = gen_tensor_view (gw, 1, ci, 1, 1), gn.bias = gen_tensor_view (gb, 1, ci, 1, 1);
  for (int pass = 0; pass < 2; pass++)
    {
      const GenConv2d *c = pass ? &f16 : &f32;
      GenTensor *y = pass ? &tyb : &tya;

      if (up)
        gen_conv2d_up2 (c, &txa, y, arena);
      else if (norm)
        gen_conv2d_cat_norm_silu (c, &gn, &txa, cb ? &txb : NULL, y, false, arena);
      else
        gen_conv2d_cat (c, &txa, cb ? &txb : NULL, y, false, arena);
    }
  g_assert_true (gen_arena_check (arena, NULL));
  g_assert_cmpmem (ya, n * co * ho * wo * sizeof (float), yb, n * co * ho * wo * sizeof (float));
  g_assert_cmpfloat (ya[0], !=, ya[1]);
  both_free (&wt);
  g_free (bias), g_free (gw), g_free (gb), g_free (xa), g_free (xb), g_free (ya), g_free (yb);
  gen_arena_free (arena);
}

static void
test_conv (void)
{
  for (int bf16 = 0; bf16 < 2; bf16++)
    {
      check_conv (2, 12, 0, 9, 3, 1, 20, 17, FALSE, FALSE, bf16);   /* Winograd (or im2col) */
      check_conv (1, 12, 5, 8, 3, 1, 16, 16, TRUE, FALSE, bf16);    /* concatenated, fused norm */
      check_conv (1, 8, 0, 8, 3, 1, 16, 18, FALSE, TRUE, bf16);     /* ×2 upsampled */
      check_conv (2, 6, 0, 5, 3, 2, 9, 11, FALSE, FALSE, bf16);     /* stride 2: im2col */
      check_conv (1, 10, 4, 7, 1, 1, 5, 3, FALSE, FALSE, bf16);     /* 1×1 direct, concatenated */
      check_conv (1, 10, 0, 7, 1, 1, 5, 3, TRUE, FALSE, bf16);      /* 1×1 direct, fused norm */
    }
}

static void
test_linear (void)
{
  enum { ROWS = 7, IN = 33, OUT = 19 };
  GenArena *arena = gen_arena_new (0);
  Both wt = both_new (OUT * IN, FALSE, 11);
  float bias[OUT], x[ROWS * IN], ya[ROWS * OUT], yb[ROWS * OUT];
  GenLinear f32 = { .weight = gen_tensor_view (wt.f, 1, 1, OUT, IN) }, f16;

  fill (bias, OUT, 6), fill (x, ROWS * IN, 7);
  f32.bias = gen_tensor_view (bias, 1, 1, 1, OUT);
  f16 = f32;
  f16.weight.data = NULL, f16.half.data = wt.h;
  gen_linear (&f32, x, ya, ROWS, arena);
  gen_linear (&f16, x, yb, ROWS, arena);
  g_assert_cmpmem (ya, sizeof ya, yb, sizeof yb);
  gen_linear_add (&f32, x, ya, ROWS, arena);
  gen_linear_add (&f16, x, yb, ROWS, arena);
  g_assert_cmpmem (ya, sizeof ya, yb, sizeof yb);
  gen_arena_free (arena);
  /* an arena that cannot give the F32 form: nothing written, the arena failed */
  arena = gen_arena_new (0);
  gen_arena_set_limit (arena, 64);
  memset (yb, 0, sizeof yb);
  gen_linear (&f16, x, yb, ROWS, arena);
  g_assert_cmpfloat (yb[0], ==, 0.0f);
  g_assert_false (gen_arena_check (arena, NULL));
  both_free (&wt);
  gen_arena_free (arena);
}

/* DIR/diffusion_pytorch_model.safetensors holding T's tensors as F16 (each
 * value made a half by half_of; T's values are set to what they hold). */
static void
write_f16 (const char *dir, Tensors *t)
{
  GString *hdr = g_string_new ("{");
  GByteArray *data = g_byte_array_new ();
  char *path = g_build_filename (dir, "diffusion_pytorch_model.safetensors", NULL);
  GString *file;
  guint64 len;
  guint seed = 0;

  for (guint i = 0; i < t->names->len; i++)
    {
      const int64_t *s = g_ptr_array_index (t->shapes, i);
      int nd = g_array_index (t->ndims, int, i);
      float *v = g_ptr_array_index (t->data, i);
      int64_t numel = 1;
      guint begin = data->len;

      g_string_append_printf (hdr, "%s\"%s\":{\"dtype\":\"F16\",\"shape\":[", i ? "," : "",
                              (const char *) g_ptr_array_index (t->names, i));
      for (int d = 0; d < nd; d++)
        {
          g_string_append_printf (hdr, "%s%" G_GINT64_FORMAT, d ? "," : "", s[d]);
          numel *= s[d];
        }
      for (int64_t j = 0; j < numel; j++)
        {
          guint16 h = half_of (seed++, FALSE);
          guint8 le[2] = { (guint8) (h & 0xff), (guint8) (h >> 8) };

          v[j] = gen_f16_to_f32 (h);
          g_byte_array_append (data, le, 2);
        }
      g_string_append_printf (hdr, "],\"data_offsets\":[%u,%u]}", begin, data->len);
    }
  g_string_append_c (hdr, '}');
  while (hdr->len % 8)
    g_string_append_c (hdr, ' ');
  len = GUINT64_TO_LE ((guint64) hdr->len);
  file = g_string_new_len ((const char *) &len, 8);
  g_string_append_len (file, hdr->str, (gssize) hdr->len);
  g_string_append_len (file, (const char *) data->data, data->len);
  g_assert_true (g_file_set_contents (path, file->str, (gssize) file->len, NULL));
  g_string_free (file, TRUE), g_string_free (hdr, TRUE), g_byte_array_unref (data);
  g_free (path);
}

static void
test_model (void)
{
  Tensors *t = tiny_unet_weights_ch (3);
  char *cfg = g_strdup_printf (tiny_unet_config, ""), *d16 = tmp_dir_new (), *d32, *c16;
  GError *error = NULL;
  GenArena *arena = gen_arena_new (0);
  float x[2 * 3 * 20 * 16], a[2 * 3 * 20 * 16], b[2 * 3 * 20 * 16], ts[2] = { 10.0f, 900.0f };
  GenTensor tx = gen_tensor_view (x, 2, 3, 20, 16);
  GenTensor ta = gen_tensor_view (a, 2, 3, 20, 16), tb = gen_tensor_view (b, 2, 3, 20, 16);
  GenModelInfo i16, i32;
  GenModel *m16, *m32;

  write_f16 (d16, t);      /* T now holds the F16 values, for the F32 file */
  c16 = g_build_filename (d16, "config.json", NULL);
  g_assert_true (g_file_set_contents (c16, cfg, -1, NULL));
  d32 = make_model (cfg, t);
  m16 = gen_model_load (d16, &error);
  g_assert_no_error (error);
  m32 = gen_model_load (d32, &error);
  g_assert_no_error (error);
  gen_model_get_info (m16, &i16), gen_model_get_info (m32, &i32);
  g_assert_cmpuint (i16.n_params, ==, i32.n_params);
  g_assert_cmpuint (i32.weight_bytes, ==, 4 * i32.n_params);
  /* the convs' and linears' weights stay F16; biases and norms are F32 */
  g_assert_cmpuint (i16.weight_bytes, <, 3 * i16.n_params);
  g_assert_cmpuint (i16.weight_bytes, >, 2 * i16.n_params);
  /* what the planner counts: the mapped part, and the F32 form of the
   * largest 16-bit weight (up_blocks.0's conv1, 8 → 4 channels, 3×3) */
  g_assert_cmpuint (i32.weight_mapped_bytes, ==, i32.weight_bytes);
  g_assert_cmpuint (i32.weight_convert_bytes, ==, 0);
  g_assert_cmpuint (i16.weight_mapped_bytes, <, i16.weight_bytes);
  g_assert_cmpuint (i16.weight_convert_bytes, ==, sizeof (float) * 4 * 8 * 3 * 3);

  fill (x, G_N_ELEMENTS (x), 8);
  g_assert_true (gen_unet_forward (m16, &tx, ts, &ta, arena, NULL, NULL, &error));
  g_assert_true (gen_unet_forward (m32, &tx, ts, &tb, arena, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (a, sizeof a, b, sizeof b);
  g_assert_cmpfloat (a[0], !=, a[1]);

  gen_model_free (m16), gen_model_free (m32);
  gen_arena_free (arena);
  tmp_dir_remove (d16), tmp_dir_remove (d32);
  tensors_free (t);
  g_free (cfg), g_free (c16);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/half/every-value", test_every_value);
  g_test_add_func ("/half/conv", test_conv);
  g_test_add_func ("/half/linear", test_linear);
  g_test_add_func ("/half/model", test_model);
  return g_test_run ();
}
