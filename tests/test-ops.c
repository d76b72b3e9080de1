/* test-ops — checks every op against the PyTorch reference.
 *
 *   test-ops OPS.json OPS.safetensors
 *
 * OPS.json (written by tests/reference/ops.py) is an array of cases
 * {"name", "op", params…}; OPS.safetensors holds NAME.x, NAME.w, NAME.b,
 * NAME.q/k/v inputs and NAME.y, the reference output.  Each case passes when
 * NMSE = Σ(c − r)² / Σr² ≤ 1e-5 (and max |c − r| is printed beside it), and
 * when 3 threads give the same bits as 1 (ops split their work between the
 * threads, never changing what is summed in which order).
 */
#include "gen-ops.h"
#include "gen-safetensors.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define NMSE_MAX 1e-5

typedef struct
{
  float  *data;
  int     ndim;
  int64_t shape[4];
  int64_t numel;
} Arr;

static gboolean
get_arr (GenSafetensors *st, const char *name, const char *suffix, Arr *a)
{
  char *key = g_strdup_printf ("%s.%s", name, suffix);
  const GenSafetensorsEntry *e = gen_safetensors_find (st, key);

  g_free (key);
  memset (a, 0, sizeof *a);
  if (!e || e->dtype == GEN_DTYPE_OTHER || e->ndim > 4)
    return FALSE;
  a->ndim = e->ndim;
  a->numel = e->numel;
  for (int i = 0; i < 4; i++)
    a->shape[i] = 1;
  for (int i = 0; i < e->ndim; i++)
    a->shape[4 - e->ndim + i] = e->shape[i];
  a->data = g_new (float, MAX (1, e->numel));
  gen_safetensors_to_f32 (e, a->data);
  return TRUE;
}

static GenTensor
as_tensor (const Arr *a)
{
  return gen_tensor_view (a->data, a->shape[0], a->shape[1], a->shape[2], a->shape[3]);
}

static gint64
param_int (JsonObject *o, const char *key, gint64 def)
{
  return json_object_has_member (o, key) ? json_object_get_int_member (o, key) : def;
}

static double
param_double (JsonObject *o, const char *key, double def)
{
  return json_object_has_member (o, key) ? json_object_get_double_member (o, key) : def;
}

static gboolean
param_bool (JsonObject *o, const char *key)
{
  return json_object_has_member (o, key) && json_object_get_boolean_member (o, key);
}

/* Runs case O; fills OUT (numel of y) and returns FALSE on an unknown op. */
static gboolean
run_case (JsonObject *o, GenSafetensors *st, const char *name, const Arr *y, float *out,
          GenArena *arena)
{
  const char *op = json_object_get_string_member (o, "op");
  Arr x, w, b, q, k, v;
  gboolean ok = TRUE;

  get_arr (st, name, "x", &x);
  get_arr (st, name, "w", &w);
  get_arr (st, name, "b", &b);
  get_arr (st, name, "q", &q);
  get_arr (st, name, "k", &k);
  get_arr (st, name, "v", &v);

  if (strcmp (op, "conv2d") == 0)
    {
      GenConv2d conv = { 0 };
      JsonArray *pad = json_object_get_array_member (o, "padding");
      GenTensor xt = as_tensor (&x), yt = gen_tensor_view (out, y->shape[0], y->shape[1],
                                                            y->shape[2], y->shape[3]);

      conv.weight = as_tensor (&w);
      if (b.data)
        conv.bias = gen_tensor_view (b.data, 1, b.numel, 1, 1);
      conv.stride = (int) param_int (o, "stride", 1);
      for (int i = 0; i < 4; i++)
        conv.pad[i] = (int) json_array_get_int_element (pad, i);
      gen_conv2d (&conv, &xt, &yt, false, arena);
    }
  else if (strcmp (op, "group_norm") == 0)
    {
      GenGroupNorm gn = { as_tensor (&w), as_tensor (&b), (int) param_int (o, "groups", 1),
                          (float) param_double (o, "eps", 1e-5) };
      GenTensor xt = as_tensor (&x), yt = gen_tensor_view (out, x.shape[0], x.shape[1],
                                                            x.shape[2], x.shape[3]);
      gen_group_norm (&gn, &xt, &yt, param_bool (o, "silu"));
    }
  else if (strcmp (op, "layer_norm") == 0)
    {
      GenLayerNorm ln = { as_tensor (&w), as_tensor (&b), (float) param_double (o, "eps", 1e-5) };
      gen_layer_norm (&ln, x.data, out, x.shape[2], x.shape[3]);
    }
  else if (strcmp (op, "silu") == 0)
    gen_silu (x.data, out, x.numel);
  else if (strcmp (op, "gelu") == 0)
    gen_gelu (x.data, out, x.numel);
  else if (strcmp (op, "relu") == 0)
    gen_relu (x.data, out, x.numel);
  else if (strcmp (op, "tanh") == 0)
    gen_tanh (x.data, out, x.numel);
  else if (strcmp (op, "linear") == 0)
    {
      GenLinear lin = { .weight = as_tensor (&w) };
      if (b.data)
        lin.bias = as_tensor (&b);
      gen_linear (&lin, x.data, out, x.shape[2], arena);
    }
  else if (strcmp (op, "softmax") == 0)
    {
      memcpy (out, x.data, sizeof (float) * x.numel);
      gen_softmax_rows (out, x.numel / x.shape[3], x.shape[3]);
    }
  else if (strcmp (op, "attention") == 0)
    {
      int64_t bh = q.shape[0] * q.shape[1], lq = q.shape[2], d = q.shape[3];
      int64_t lk = k.shape[2], dv = v.shape[3];
      float scale = (float) param_double (o, "scale", 1.0 / sqrt ((double) d));

      for (int64_t i = 0; i < bh; i++)
        gen_attention (q.data + i * lq * d, (int) d, k.data + i * lk * d, (int) d,
                       v.data + i * lk * dv, (int) dv, out + i * lq * dv, (int) dv,
                       lq, lk, d, dv, scale, arena);
    }
  else if (strcmp (op, "upsample_nearest") == 0)
    {
      GenTensor xt = as_tensor (&x), yt = gen_tensor_view (out, y->shape[0], y->shape[1],
                                                            y->shape[2], y->shape[3]);
      gen_upsample_nearest (&xt, &yt, (int) param_int (o, "scale", 2));
    }
  else if (strcmp (op, "avg_pool") == 0)
    {
      GenTensor xt = as_tensor (&x), yt = gen_tensor_view (out, y->shape[0], y->shape[1],
                                                            y->shape[2], y->shape[3]);
      gen_avg_pool (&xt, &yt, (int) param_int (o, "kernel", 2));
    }
  else if (strcmp (op, "resize_bilinear_aa") == 0)
    {
      GenTensor xt = as_tensor (&x), yt = gen_tensor_view (out, y->shape[0], y->shape[1],
                                                            y->shape[2], y->shape[3]);
      ok = gen_resize_bilinear_aa (&xt, &yt);
    }
  else if (strcmp (op, "timestep_embedding") == 0)
    gen_timestep_embedding (x.data, x.numel, param_int (o, "dim", 4),
                            param_bool (o, "flip_sin_to_cos"),
                            (float) param_double (o, "downscale_freq_shift", 1.0),
                            (float) param_double (o, "scale", 1.0),
                            (float) param_double (o, "max_period", 10000.0), out);
  else if (strcmp (op, "concat") == 0)
    {
      GenTensor xt = as_tensor (&x), wt = as_tensor (&w),
                yt = gen_tensor_view (out, y->shape[0], y->shape[1], y->shape[2], y->shape[3]);
      gen_concat_channels (&xt, &wt, &yt);
    }
  else
    ok = FALSE;

  g_free (x.data);
  g_free (w.data);
  g_free (b.data);
  g_free (q.data);
  g_free (k.data);
  g_free (v.data);
  return ok;
}

int
main (int argc, char **argv)
{
  JsonParser *parser;
  GenSafetensors *st;
  GenArena *arena;
  GError *error = NULL;
  JsonArray *cases;
  int passed = 0, failed = 0;

  if (argc != 3)
    {
      fprintf (stderr, "usage: test-ops OPS.json OPS.safetensors\n");
      return 2;
    }
  gen_set_threads (1);
  parser = json_parser_new ();
  if (!json_parser_load_from_file (parser, argv[1], &error)
      || !(st = gen_safetensors_open (argv[2], &error)))
    {
      fprintf (stderr, "test-ops: %s\n", error->message);
      return 2;
    }
  arena = gen_arena_new (0);
  cases = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (cases); i++)
    {
      JsonObject *o = json_array_get_object_element (cases, i);
      const char *name = json_object_get_string_member (o, "name");
      Arr y;
      float *out;
      double num = 0, den = 0, maxerr = 0, nmse;

      if (!get_arr (st, name, "y", &y))
        {
          printf ("FAIL %-32s no reference output\n", name);
          failed++;
          continue;
        }
      out = g_new0 (float, MAX (1, y.numel));
      for (int64_t j = 0; j < y.numel; j++)
        out[j] = NAN; /* a slot the op forgets to write fails the case */
      if (!run_case (o, st, name, &y, out, arena))
        {
          printf ("FAIL %-32s unknown op '%s'\n", name, json_object_get_string_member (o, "op"));
          failed++;
        }
      else
        {
          float *out3 = g_new0 (float, MAX (1, y.numel));
          gboolean same;

          gen_arena_reset (arena, NULL);
          gen_set_threads (3);
          run_case (o, st, name, &y, out3, arena);
          gen_set_threads (1);
          same = memcmp (out, out3, sizeof (float) * y.numel) == 0;
          g_free (out3);
          if (!same)
            {
              printf ("FAIL %-32s 3 threads differ from 1\n", name);
              failed++;
            }
          for (int64_t j = 0; j < y.numel; j++)
            {
              double d = (double) out[j] - y.data[j];
              num += d * d;
              den += (double) y.data[j] * y.data[j];
              maxerr = MAX (maxerr, fabs (d));
              if (isnan (out[j]))
                maxerr = INFINITY, num = INFINITY;
            }
          nmse = den > 0 ? num / den : num;
          if (nmse <= NMSE_MAX)
            passed++;
          else
            failed++;
          printf ("%s %-32s %-18s nmse %.3e  max|err| %.3e\n", nmse <= NMSE_MAX ? "ok  " : "FAIL",
                  name, json_object_get_string_member (o, "op"), nmse, maxerr);
        }
      gen_arena_reset (arena, NULL);
      g_free (out);
      g_free (y.data);
    }
  printf ("%d passed, %d failed\n", passed, failed);
  gen_arena_free (arena);
  gen_safetensors_free (st);
  g_object_unref (parser);
  return failed == 0 && passed > 0 ? 0 : 1;
}
