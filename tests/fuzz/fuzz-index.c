/* fuzz-index.c — libFuzzer target for a sharded model's index file
 * (diffusion_pytorch_model.safetensors.index.json): the input is the index,
 * beside two valid shards it may name (a.safetensors holds "x" [2] F32,
 * b.safetensors "y" [1, 3] F32), so weight maps that point into real files
 * are reached as well as bad ones. */
#include "fuzz-weights.h"
#include "gen-safetensors.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
write_shards (void)
{
  static gboolean done;
  const float xv[2] = { 1.0f, -2.0f }, yv[3] = { 0.5f, 0.25f, 4.0f };
  const int64_t xs[1] = { 2 }, ys[2] = { 1, 3 };
  const char *xn[1] = { "x" }, *yn[1] = { "y" };
  const float *xd[1] = { xv }, *yd[1] = { yv };
  const int64_t *xsh[1] = { xs }, *ysh[1] = { ys };
  int xdim[1] = { 1 }, ydim[1] = { 2 };
  char *a, *b;

  if (done)
    return;
  a = g_build_filename (fuzz_dir (), "a.safetensors", NULL);
  b = g_build_filename (fuzz_dir (), "b.safetensors", NULL);
  if (!gen_safetensors_write_f32 (a, 1, xn, xd, xdim, xsh, NULL)
      || !gen_safetensors_write_f32 (b, 1, yn, yd, ydim, ysh, NULL))
    __builtin_trap ();
  g_free (a);
  g_free (b);
  done = TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GenSafetensors *st;
  const char *path;

  write_shards ();
  path = fuzz_write ("diffusion_pytorch_model.safetensors.index.json", data, size);
  st = gen_safetensors_open (path, &error);
  if (!st)
    {
      if (!error || !error->message[0])
        __builtin_trap ();
      g_error_free (error);
      return 0;
    }
  for (guint i = 0; i < gen_safetensors_count (st); i++)
    {
      const GenSafetensorsEntry *e = gen_safetensors_nth (st, i);
      float *f;

      if (e != gen_safetensors_find (st, e->name))
        __builtin_trap ();
      if (e->dtype == GEN_DTYPE_OTHER)
        continue;
      f = g_new (float, MAX (1, e->numel));
      gen_safetensors_to_f32 (e, f);
      g_free (f);
    }
  gen_safetensors_free (st);
  return 0;
}
