/* generative — the command-line front end over the core.
 *
 *   generative demo [PHOTO] [-o before-after.png]
 *   generative generate|denoise|inpaint|vary|vae|interpolate [OPTIONS] [IN…] -o OUT
 *   generative forward --model DIR --input IN.safetensors [--timestep T]
 *   generative forward --model FILE.safetensors --component vae --input IN …
 *                      [--part encode|decode] [--clip-skip K] [--threads N]
 *                      [--dump-blocks] -o OUT.safetensors
 *                      (a UNet2DConditionModel also reads IN's encoder_hidden_states
 *                      [N, L, D] and, if present, timestep_cond [N, D'])
 *   generative tokenize [--model DIR] TEXT…
 *
 * Exit status 0 on success; otherwise 1 with a one-line reason on stderr.
 */
#include "gen-cli-demo.h"
#include "gen-cli-help.h"
#include "gen-cli-jobs.h"
#include "gen-cli-output.h"
#include "gen-cli-tokenize.h"
#include "gen-cpu.h"
#include "gen-error.h"
#include "gen-model.h"
#include "gen-ops.h"
#include "gen-safetensors.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct
{
  GPtrArray *names;   /* char* */
  GPtrArray *data;    /* float* */
  GArray    *ndims;   /* int */
  GPtrArray *shapes;  /* int64_t[4] */
} TensorList;

static void
tensor_list_init (TensorList *l)
{
  l->names = g_ptr_array_new_with_free_func (g_free);
  l->data = g_ptr_array_new_with_free_func (g_free);
  l->ndims = g_array_new (FALSE, FALSE, sizeof (int));
  l->shapes = g_ptr_array_new_with_free_func (g_free);
}

static void
tensor_list_clear (TensorList *l)
{
  g_ptr_array_unref (l->names);
  g_ptr_array_unref (l->data);
  g_array_unref (l->ndims);
  g_ptr_array_unref (l->shapes);
}

/* Copies T (any strides) into the list under NAME. */
static void
tensor_list_add (TensorList *l, const char *name, const GenTensor *t, int ndim)
{
  int64_t *shape = g_new (int64_t, 4);
  int64_t numel = gen_tensor_numel (t);
  float *copy = g_new (float, MAX (1, numel));
  GenTensor dst = gen_tensor_view (copy, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);

  gen_tensor_copy (t, &dst);
  for (int i = 0; i < ndim; i++)
    shape[i] = t->ne[4 - ndim + i];
  g_ptr_array_add (l->names, g_strdup (name));
  g_ptr_array_add (l->data, copy);
  g_array_append_val (l->ndims, ndim);
  g_ptr_array_add (l->shapes, shape);
}

/* Writes the list into OUTPUT's one claimed file (PATH) and puts it in place. */
static gboolean
tensor_list_write (TensorList *l, GenCliOutput *output, const char *path, GError **error)
{
  guint8 *bytes = NULL;
  gsize len = 0;
  gboolean ok;

  ok = gen_safetensors_encode_f32 (path, l->names->len, (const char *const *) l->names->pdata,
                                   (const float *const *) l->data->pdata,
                                   (const int *) (void *) l->ndims->data,
                                   (const int64_t *const *) l->shapes->pdata, &bytes, &len, error)
       && gen_cli_output_write (output, 0, bytes, len, error)
       && gen_cli_output_commit (output, error);
  g_free (bytes);
  return ok;
}

static void
tap_collect (const char *name, const GenTensor *t, gpointer user_data)
{
  TensorList *l = user_data;

  if (strcmp (name, "sample") == 0)
    return; /* written once at the end */
  tensor_list_add (l, name, t, t->ne[0] == 1 && t->ne[1] == 1 ? 2 : 4);
}

/* A text encoder's taps [1, N, T, hidden] as [N, T, hidden]. */
static void
tap_collect_tokens (const char *name, const GenTensor *t, gpointer user_data)
{
  tensor_list_add (user_data, name, t, 3);
}

/* Reads the token ids NAME, I64 or I32, [N, T] (or [T]: N = 1), as int32. */
static int32_t *
read_ids (GenSafetensors *st, const char *file, const char *name, int64_t ne[2], GError **error)
{
  const GenSafetensorsEntry *e = gen_safetensors_find (st, name);
  gboolean i64;
  int32_t *ids;

  if (!e)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING, "%s: no tensor '%s'", file, name);
      return NULL;
    }
  i64 = strcmp (e->dtype_name, "I64") == 0;
  if ((!i64 && strcmp (e->dtype_name, "I32") != 0) || (e->ndim != 1 && e->ndim != 2)
      || e->numel == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                   "%s: tensor '%s' must be a non-empty I64 or I32 tensor [N, T]", file, name);
      return NULL;
    }
  ne[0] = e->ndim == 2 ? e->shape[0] : 1;
  ne[1] = e->shape[e->ndim - 1];
  if (!(ids = g_try_new (int32_t, e->numel)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", file);
      return NULL;
    }
  for (int64_t i = 0; i < e->numel; i++)
    {
      gint64 v64;
      gint32 v32;

      if (i64)
        memcpy (&v64, e->data + 8 * i, 8), v64 = GINT64_FROM_LE (v64);
      else
        memcpy (&v32, e->data + 4 * i, 4), v64 = GINT32_FROM_LE (v32);
      if (v64 < 0 || v64 > G_MAXINT32)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "%s: '%s' holds the token id %" G_GINT64_FORMAT, file, name, v64);
          g_free (ids);
          return NULL;
        }
      ids[i] = (int32_t) v64;
    }
  return ids;
}

/* Reads tensor NAME as float32 NCHW (a 3-d [C,H,W] tensor gets N = 1). */
static float *
read_nchw (GenSafetensors *st, const char *file, const char *name, int64_t ne[4], GError **error)
{
  const GenSafetensorsEntry *e = gen_safetensors_find (st, name);
  float *data;

  if (!e)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING, "%s: no tensor '%s'", file, name);
      return NULL;
    }
  if (e->dtype == GEN_DTYPE_OTHER || (e->ndim != 4 && e->ndim != 3) || e->numel == 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                   "%s: tensor '%s' must be a non-empty float NCHW (or CHW) tensor", file, name);
      return NULL;
    }
  ne[0] = e->ndim == 4 ? e->shape[0] : 1;
  for (int i = 1; i < 4; i++)
    ne[i] = e->shape[e->ndim - 4 + i];
  data = g_try_new (float, e->numel);
  if (!data)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", file);
      return NULL;
    }
  gen_safetensors_to_f32 (e, data);
  return data;
}

/* Tensor NAME of IN as float32 [N, …, WIDTH] with NDIM dims (WIDTH 0: any);
 * *MID gets the product of the dims between the first and the last. */
static float *
read_batched (GenSafetensors *st, const char *file, const char *name, int ndim, int64_t n,
              int64_t width, int64_t *mid, GError **error)
{
  const GenSafetensorsEntry *e = gen_safetensors_find (st, name);
  float *data;

  if (!e)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING, "%s: no tensor '%s'", file, name);
      return NULL;
    }
  if (e->dtype == GEN_DTYPE_OTHER || e->ndim != ndim || e->numel == 0 || e->shape[0] != n
      || (width > 0 && e->shape[ndim - 1] != width))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                   "%s: tensor '%s' must be a float tensor of %d dims [%" G_GINT64_FORMAT
                   ", …, %" G_GINT64_FORMAT "]", file, name, ndim, n, width);
      return NULL;
    }
  *mid = e->numel / (n * e->shape[ndim - 1]);
  data = g_try_new (float, e->numel);
  if (!data)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "%s: out of memory", file);
      return NULL;
    }
  gen_safetensors_to_f32 (e, data);
  return data;
}

static float *
alloc_tensor (GenTensor *t, int64_t n, int64_t c, int64_t h, int64_t w, GError **error)
{
  gsize numel;
  float *data = NULL;

  if (g_size_checked_mul (&numel, (gsize) n, (gsize) c)
      && g_size_checked_mul (&numel, numel, (gsize) h)
      && g_size_checked_mul (&numel, numel, (gsize) w)
      && g_size_checked_mul (&numel, numel, sizeof (float)))
    data = g_try_malloc (MAX (numel, 1));
  if (!data)
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                 "out of memory for a %" G_GINT64_FORMAT "×%" G_GINT64_FORMAT "×%" G_GINT64_FORMAT
                 "×%" G_GINT64_FORMAT " tensor", n, c, h, w);
  *t = gen_tensor_view (data, n, c, h, w);
  return data;
}

static gboolean
run_forward (int argc, char **argv, GError **error)
{
  char *model_dir = NULL, *input = NULL, *output = NULL, *part = NULL, *component = NULL;
  double timestep = 0.0;
  int threads = 0, repeat = 1, clip_skip = 0;
  gboolean dump = FALSE, help = FALSE;
  gint64 t_start = g_get_monotonic_time (), t_loaded;
  double best_ms = 1e30, sum_ms = 0.0;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_dir,
      "diffusers model folder, or a pipeline folder or single-file checkpoint with --component",
      "DIR" },
    { "component", 0, 0, G_OPTION_ARG_STRING, &component,
      "the pipeline's unet, vae or text_encoder", "NAME" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input, "input tensors (tensor 'sample', NCHW)", "IN" },
    { "timestep", 0, 0, G_OPTION_ARG_DOUBLE, &timestep,
      "UNet timestep (a tensor 'timestep' [N] in IN wins)", "T" },
    { "part", 0, 0, G_OPTION_ARG_STRING, &part, "VAE part: encode or decode (default both)", "PART" },
    { "clip-skip", 0, 0, G_OPTION_ARG_INT, &clip_skip,
      "text encoder: stop K layers before the last (diffusers' clip_skip)", "K" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default: all cores)", "N" },
    { "dump-blocks", 0, 0, G_OPTION_ARG_NONE, &dump, "also write every block's output", NULL },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat,
      "run the pass N times and print load and pass times to stderr (benchmarks)", "N" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "output .safetensors (tensor 'sample')", "OUT" },
    { "help", 'h', G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &help, NULL, NULL },
    { NULL }
  };
  GenCliOutput *claimed = gen_cli_output_new ();
  GenSafetensors *in_st = NULL;
  GenModel *model = NULL;
  GenArena *arena = NULL;
  GenModelInfo info;
  TensorList outs;
  float *x = NULL, *ts = NULL, *y = NULL, *z = NULL, *text = NULL, *cond = NULL;
  int32_t *ids = NULL;
  int64_t ne[4] = { 0 }, text_len = 0, one;
  gboolean ok = FALSE, shown;
  static const GenCliCommand command = {
    "forward", "--model DIR --input IN -o OUT",
    "Runs one raw forward pass of a model, for checking: reads tensor 'sample'\n"
    "(float32 NCHW) from IN, runs the UNet (with the timestep) or the VAE part,\n"
    "and writes tensor 'sample' to OUT.  A VAE without --part runs\n"
    "decode(encode(x).mean).  A text encoder (CLIPTextModel) reads 'input_ids'\n"
    "[N, T] (I64 or I32) and writes 'last_hidden_state' [N, T, hidden].  A\n"
    "UNet2DConditionModel also reads 'encoder_hidden_states' [N, L, D] and, if\n"
    "present, 'timestep_cond' [N, D'] (LCM) from IN.",
    "generative forward --model unet/ --input x.safetensors --timestep 500 -o y.safetensors"
  };
  GenCliHelpSection section = { "Options:", entries };

  tensor_list_init (&outs);
  if (!gen_cli_parse (&command, &section, 1, &help, &argc, &argv, &shown, error) || shown)
    {
      ok = shown;
      goto out;
    }
  if (!model_dir || !input || !output)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "forward needs --model, --input and -o (see generative forward --help)");
      goto out;
    }
  if (part && strcmp (part, "encode") != 0 && strcmp (part, "decode") != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "--part must be encode or decode, not '%s'", part);
      goto out;
    }
  if (repeat < 1 || repeat > 10000)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--repeat must be 1 to 10000");
      goto out;
    }
  if (threads < 0 || threads > 1024)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--threads must be 1 to 1024");
      goto out;
    }
  gen_set_threads (threads > 0 ? threads : (int) g_get_num_processors ());

  /* before the model: an output that cannot be written fails now */
  if (gen_cli_output_add_file (claimed, output, error) < 0)
    goto out;
  if (!(model = gen_model_load_component (model_dir, component, error)))
    goto out;
  gen_model_get_info (model, &info);
  if (clip_skip != 0 && info.kind != GEN_MODEL_CLIP_TEXT)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--clip-skip is for a text encoder");
      goto out;
    }
  if (!(in_st = gen_safetensors_open (input, error))
      || (info.kind == GEN_MODEL_CLIP_TEXT ? !(ids = read_ids (in_st, input, "input_ids", ne, error))
                                           : !(x = read_nchw (in_st, input, "sample", ne, error))))
    goto out;
  if (info.kind == GEN_MODEL_UNET_COND
      && (!(text = read_batched (in_st, input, "encoder_hidden_states", 3, ne[0],
                                info.cross_attention_dim, &text_len, error))
          || (gen_safetensors_find (in_st, "timestep_cond")
              && !(cond = read_batched (in_st, input, "timestep_cond", 2, ne[0],
                                        info.time_cond_proj_dim, &one, error)))))
    goto out;
  arena = gen_arena_new (0);
  t_loaded = g_get_monotonic_time ();

  for (int rep = 0; rep < repeat; rep++)
  {
    gint64 t0 = g_get_monotonic_time ();
    GenTensor xt = gen_tensor_view (x, ne[0], ne[1], ne[2], ne[3]), yt;
    GenTapFunc tap = dump ? tap_collect : NULL;

    if (info.kind == GEN_MODEL_CLIP_TEXT)
      {
        if (!(y = alloc_tensor (&yt, 1, ne[0], ne[1], info.out_channels, error))
            || !gen_clip_text_forward (model, ids, ne[0], ne[1], clip_skip, &yt, arena,
                                       dump ? tap_collect_tokens : NULL, &outs, error))
          goto out;
      }
    else if (info.kind == GEN_MODEL_UNET || info.kind == GEN_MODEL_UNET_COND)
      {
        const GenSafetensorsEntry *te = gen_safetensors_find (in_st, "timestep");

        ts = g_new (float, ne[0]);
        if (te)
          {
            float *tv;

            if (te->dtype == GEN_DTYPE_OTHER || (te->numel != ne[0] && te->numel != 1))
              {
                g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                             "%s: tensor 'timestep' must hold 1 or N = %" G_GINT64_FORMAT
                             " float values", input, ne[0]);
                goto out;
              }
            tv = g_new (float, te->numel);
            gen_safetensors_to_f32 (te, tv);
            for (int64_t b = 0; b < ne[0]; b++)
              ts[b] = tv[te->numel == 1 ? 0 : b];
            g_free (tv);
          }
        else
          for (int64_t b = 0; b < ne[0]; b++)
            ts[b] = (float) timestep;
        if (!(y = alloc_tensor (&yt, ne[0], info.out_channels, ne[2], ne[3], error))
            || (info.kind == GEN_MODEL_UNET
                ? !gen_unet_forward (model, &xt, ts, &yt, arena, tap, &outs, error)
                : !gen_unet_cond_forward (model, &xt, ts, text, text_len, cond, &yt, arena, tap,
                                          &outs, error)))
          goto out;
      }
    else if (part && strcmp (part, "decode") == 0)
      {
        if (!(y = alloc_tensor (&yt, ne[0], info.out_channels, ne[2] * info.downscale,
                                ne[3] * info.downscale, error))
            || !gen_vae_decode (model, &xt, &yt, arena, tap, &outs, error))
          goto out;
      }
    else
      {
        GenTensor zt;

        int64_t lh, lw;

        gen_vae_latent_size (model, ne[2], ne[3], &lh, &lw);
        if (!(z = alloc_tensor (&zt, ne[0], info.latent_channels, MAX (lh, 1), MAX (lw, 1), error))
            || !gen_vae_encode (model, &xt, &zt, NULL, arena, tap, &outs, error))
          goto out;
        if (part)
          yt = zt;
        else if (!(y = alloc_tensor (&yt, ne[0], info.out_channels, lh * info.downscale,
                                     lw * info.downscale, error))
                 || !gen_vae_decode (model, &zt, &yt, arena, tap, &outs, error))
          goto out;
      }
    {
      double ms = (g_get_monotonic_time () - t0) / 1e3;
      best_ms = MIN (best_ms, ms);
      sum_ms += ms;
    }
    if (rep + 1 < repeat)
      {
        /* keep only the last pass's outputs */
        g_clear_pointer (&ts, g_free);
        g_clear_pointer (&y, g_free);
        g_clear_pointer (&z, g_free);
        tensor_list_clear (&outs);
        tensor_list_init (&outs);
        continue;
      }
    if (info.kind == GEN_MODEL_CLIP_TEXT)
      tensor_list_add (&outs, "last_hidden_state", &yt, 3);
    else
      tensor_list_add (&outs, "sample", &yt, 4);
  }
  if (repeat > 1)
    {
      struct rusage ru;
      double peak_mb;
      char *status = NULL, *hwm;

      /* VmHWM: this program's own peak; ru_maxrss also keeps the peak of
       * whatever forked us (a Python benchmark with torch loaded) */
      getrusage (RUSAGE_SELF, &ru);
      peak_mb = ru.ru_maxrss / 1024.0;
      if (g_file_get_contents ("/proc/self/status", &status, NULL, NULL)
          && (hwm = strstr (status, "VmHWM:")))
        peak_mb = g_ascii_strtod (hwm + 6, NULL) / 1024.0;
      g_free (status);
      fprintf (stderr, "load %.1f ms; forward best %.2f ms, mean %.2f ms over %d runs "
               "(%d threads, BLAS %s); peak RSS %.1f MB; activations %.1f MB\n",
               (t_loaded - t_start) / 1e3, best_ms, sum_ms / repeat, repeat, gen_get_threads (),
               gen_cpu_blas_kernels (), peak_mb,
               gen_arena_peak_bytes (arena) / 1048576.0);
    }
  ok = tensor_list_write (&outs, claimed, output, error);

out:
  gen_cli_output_free (claimed);
  tensor_list_clear (&outs);
  gen_arena_free (arena);
  gen_model_free (model);
  if (in_st)
    gen_safetensors_free (in_st);
  g_free (x);
  g_free (ids);
  g_free (y);
  g_free (z);
  g_free (ts);
  g_free (text);
  g_free (cond);
  g_free (model_dir);
  g_free (component);
  g_free (input);
  g_free (output);
  g_free (part);
  return ok;
}

static void
usage (FILE *f)
{
  gen_cli_print (f,
                 "Usage: generative COMMAND [OPTIONS] [IN…] -o OUT\n"
                 "\n"
                 "Commands:\n"
                 "  %-12s %s\n", "demo", gen_cli_demo_line ());
  gen_cli_jobs_usage (f);
  gen_cli_print (f,
                 "  %-12s %s\n"
                 "  %-12s %s\n"
                 "\n"
                 "generative COMMAND --help lists a command's options, their defaults and an\n"
                 "example; generative --version says the version and the BLAS kernels in use.\n",
                 "forward", "one raw forward pass of a UNet or VAE (for checking)",
                 "tokenize", "prints the CLIP token ids of prompts");
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  gboolean ok;

  gen_cpu_use_fast_blas (argv);
  /* the locale's charset decides UTF-8 or ASCII text; numbers stay C */
  setlocale (LC_ALL, "");
  setlocale (LC_NUMERIC, "C");

  if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      usage (argc < 2 ? stderr : stdout);
      return argc < 2 ? 1 : 0;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("generative %s (BLAS kernels: %s, %u cores)\n", GEN_VERSION,
              gen_cpu_blas_kernels (), g_get_num_processors ());
      return 0;
    }
  if (strcmp (argv[1], "forward") == 0)
    ok = run_forward (argc - 1, argv + 1, &error);
  else if (strcmp (argv[1], "tokenize") == 0)
    ok = gen_cli_tokenize (argc - 1, argv + 1, &error);
  else if (strcmp (argv[1], "demo") == 0)
    ok = gen_cli_demo (argc - 1, argv + 1, &error);
  else if (gen_cli_is_job (argv[1]))
    ok = gen_cli_job (argv[1], argc - 1, argv + 1, &error);
  else
    {
      gen_cli_print (stderr, "generative: unknown command '%s' (try generative --help)\n", argv[1]);
      return 1;
    }
  if (!ok)
    {
      gen_cli_print (stderr, "generative: %s\n", error ? error->message : "failed");
      g_clear_error (&error);
      return 1;
    }
  return 0;
}
