/* gen-cli-jobs.c — the CLI's job subcommands: generate, denoise, inpaint,
 * vary, vae and interpolate, over the core's jobs and the image files.
 *
 * Every subcommand: options parsed, inputs read and checked, the job run
 * with a progress bar on a terminal, and only then the outputs written
 * (each atomically).  Any error is one line and exit status 1. */
#include "gen-cli-jobs.h"
#include "gen-cpu.h"
#include "gen-error.h"
#include "gen-image.h"
#include "gen-job.h"
#include "gen-safetensors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct
{
  char    *model, *vae, *scheduler, *sigmas, *seed, *output, *raw;
  int      steps, tile, threads, bits;
  double   eta;
  gboolean quiet;
} Common;

static GOptionEntry *
common_entries (Common *c)
{
  GOptionEntry e[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &c->model,
      "diffusers model folder (default: the embedded model)", "DIR" },
    { "vae", 0, 0, G_OPTION_ARG_FILENAME, &c->vae, "VAE folder (latent models, vae, interpolate)", "DIR" },
    { "scheduler", 0, 0, G_OPTION_ARG_STRING, &c->scheduler,
      "ddpm, ddim, euler, euler_a, heun or dpmpp_2m (default ddim)", "NAME" },
    { "sigmas", 0, 0, G_OPTION_ARG_STRING, &c->sigmas, "default, karras or exponential", "S" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &c->steps, "sampling steps (default 30)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &c->seed, "random seed (default: random, printed)", "N" },
    { "eta", 0, 0, G_OPTION_ARG_DOUBLE, &c->eta, "DDIM eta (default 0)", "E" },
    { "tile", 0, 0, G_OPTION_ARG_INT, &c->tile, "tile size in pixels (default 512)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &c->threads, "threads (default: all cores)", "N" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &c->bits, "output bits per sample: 8 or 16 (default: the input's)", "B" },
    { "raw", 0, 0, G_OPTION_ARG_FILENAME, &c->raw,
      "also write the result as float tensor 'sample' [N,C,H,W] before quantisation", "OUT.safetensors" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &c->output, "output image (PNG, JPEG or TIFF)", "OUT" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &c->quiet, "no progress bar", NULL },
    { NULL }
  };
  return g_memdup2 (e, sizeof e);
}

static void
common_clear (Common *c)
{
  g_free (c->model);
  g_free (c->vae);
  g_free (c->scheduler);
  g_free (c->sigmas);
  g_free (c->seed);
  g_free (c->output);
  g_free (c->raw);
}

/* The embedded default model: installed beside the program's data, or in
 * the source tree when run from a build folder. */
char *
gen_cli_model_dir (const char *name)
{
  char *exe = g_file_read_link ("/proc/self/exe", NULL);
  char *dir = exe ? g_path_get_dirname (exe) : NULL;
  char *cands[3] = {
    g_build_filename (GEN_WEIGHTS_DIR, name, NULL),
    dir ? g_build_filename (dir, "..", "..", "weights", name, NULL) : NULL,
    NULL,
  };
  char *found = NULL;

  for (int i = 0; cands[i]; i++)
    if (!found && g_file_test (cands[i], G_FILE_TEST_IS_DIR))
      found = g_strdup (cands[i]);
  for (int i = 0; i < 2; i++)
    g_free (cands[i]);
  g_free (exe);
  g_free (dir);
  return found;
}

typedef struct
{
  gboolean tty, quiet;
  gint64   last;
} Bar;

static void
progress_bar (int step, int total, double elapsed, gpointer data)
{
  Bar *bar = data;
  gint64 now = g_get_monotonic_time ();
  int width = 30, fill = total > 0 ? step * width / total : width;
  char cells[64];

  if (!bar->tty)
    {
      /* logs and batch runs: one line at the end, with the model time */
      if (!bar->quiet && step >= total)
        fprintf (stderr, "%d/%d model evaluations in %.2f s\n", step, total, elapsed);
      return;
    }
  if (step < total && now - bar->last < 100000)
    return;
  bar->last = now;
  memset (cells, '#', fill);
  memset (cells + fill, '.', width - fill);
  cells[width] = 0;
  fprintf (stderr, "\r[%s] %d/%d  %.1f s%s", cells, step, total, elapsed, step >= total ? "\n" : "");
  fflush (stderr);
}

/* Parses the common options into OPTS, loads the pipeline. */
static GenPipeline *
common_setup (Common *c, GenJobOptions *opts, Bar *bar, gboolean need_seed, gboolean vae_job,
              GError **error)
{
  GenPipeline *p;
  /* the vae job with neither --model nor --vae: the embedded VAE */
  char *model = c->model ? g_strdup (c->model)
              : vae_job && !c->vae ? gen_cli_model_dir ("generative-vae")
                                   : gen_cli_model_dir ("generative-unet");

  gen_job_options_init (opts);
  opts->scratch_outputs = TRUE; /* outputs are only written to files on success */
  if (c->scheduler && !gen_sampler_kind_from_name (c->scheduler, &opts->sampler, error))
    goto fail;
  if (c->sigmas && !gen_sigma_schedule_from_name (c->sigmas, &opts->sigmas, error))
    goto fail;
  if (c->steps != -1)
    opts->steps = c->steps;
  if (c->steps != -1 && (c->steps < 1 || c->steps > 10000))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--steps must be 1 to 10000, not %d", c->steps);
      goto fail;
    }
  if (c->tile < 0 || (c->tile > 0 && c->tile < 16) || c->tile > 16384)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--tile must be 16 to 16384");
      goto fail;
    }
  if (c->bits != 0 && c->bits != 8 && c->bits != 16)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--bits must be 8 or 16");
      goto fail;
    }
  if (c->threads < 0 || c->threads > 1024)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--threads must be 1 to 1024");
      goto fail;
    }
  if (!(c->eta >= 0.0 && c->eta <= 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--eta must be 0 to 1");
      goto fail;
    }
  opts->eta = c->eta;
  opts->tile = c->tile;
  if (c->seed)
    {
      char *end = NULL;
      guint64 v;

      errno = 0;
      v = g_ascii_strtoull (c->seed, &end, 10);
      if (errno || !end || *end || !*c->seed || c->seed[0] == '-')
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "--seed must be a whole number from 0 to 18446744073709551615, not '%s'",
                       c->seed);
          goto fail;
        }
      opts->seed = v;
    }
  else
    opts->seed = gen_rng_random_seed ();
  if (!c->output)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "no output file: give -o OUT");
      goto fail;
    }
  if (!model)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                   "no --model given and the embedded default model is not installed");
      goto fail;
    }
  opts->threads = c->threads;
  bar->tty = !c->quiet && isatty (STDERR_FILENO);
  bar->quiet = c->quiet;
  opts->progress = progress_bar;
  opts->progress_data = bar;
  p = gen_pipeline_load (model, c->vae, error);
  g_free (model);
  /* a seed the user did not give is printed so the result can be redone */
  if (p && need_seed && !c->seed)
    fprintf (stderr, "seed: %" G_GUINT64_FORMAT "\n", opts->seed);
  return p;

fail:
  g_free (model);
  return NULL;
}

static GenPixels
pixels_of (GenImage *img)
{
  GenPixels px = { img->data, img->width, img->height, img->channels };
  return px;
}

/* OUT with "-N" before the extension for item K of COUNT (unless 1). */
static char *
numbered (const char *out, int k, int count)
{
  const char *dot = strrchr (out, '.'), *slash = strrchr (out, '/');

  if (count == 1)
    return g_strdup (out);
  if (!dot || (slash && dot < slash))
    return g_strdup_printf ("%s-%d", out, k);
  return g_strdup_printf ("%.*s-%d%s", (int) (dot - out), out, k, dot);
}

/* Writes --raw (all images as one [N, C, H, W] tensor) and the images. */
static gboolean
write_outputs (Common *c, GenImage **imgs, int count, int bits, GError **error)
{
  if (c->raw)
    {
      int w = imgs[0]->width, h = imgs[0]->height, ch = imgs[0]->channels;
      gsize per = (gsize) w * h * ch;
      float *t = g_try_new (float, per * count);
      int64_t shape[4] = { count, ch, h, w };
      const int64_t *shapes[1] = { shape };
      const char *names[1] = { "sample" };
      const float *data[1];
      int ndims[1] = { 4 };
      gboolean ok;

      if (!t)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY, "out of memory writing --raw");
          return FALSE;
        }
      for (int k = 0; k < count; k++)
        for (int c2 = 0; c2 < ch; c2++)
          for (gsize i = 0; i < (gsize) w * h; i++)
            t[per * k + (gsize) c2 * w * h + i] = imgs[k]->data[i * ch + c2];
      data[0] = t;
      ok = gen_safetensors_write_f32 (c->raw, 1, names, data, ndims, shapes, error);
      g_free (t);
      if (!ok)
        return FALSE;
    }
  for (int k = 0; k < count; k++)
    {
      char *path = numbered (c->output, k, count);
      gboolean ok = gen_image_save (imgs[k], path, bits, error);

      g_free (path);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* A mask file: luminance of a gray or colour image (white = 1), the same
 * size as the image. */
static float *
load_mask (const char *path, int width, int height, GError **error)
{
  GenImage *m = gen_image_load (path, error);
  float *mask;

  if (!m)
    return NULL;
  if (m->width != width || m->height != height)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s: the mask is %d×%d but the image is %d×%d", path, m->width, m->height,
                   width, height);
      gen_image_free (m);
      return NULL;
    }
  mask = g_new (float, (gsize) width * height);
  for (gsize i = 0; i < (gsize) width * height; i++)
    {
      const float *p = m->data + i * m->channels;
      mask[i] = m->channels >= 3 ? (p[0] + p[1] + p[2]) / 3.0f : p[0];
    }
  gen_image_free (m);
  return mask;
}

typedef enum
{
  JOB_GENERATE,
  JOB_DENOISE,
  JOB_INPAINT,
  JOB_VARY,
  JOB_VAE,
  JOB_INTERPOLATE
} JobKind;

static const struct
{
  const char *name, *args, *summary;
} job_help[] = {
  { "generate", "", "Generates new images from noise (--width/--height, --count with consecutive seeds)." },
  { "denoise", "IN", "Removes noise: --sigma N (0..255) or auto (estimated and printed); --mode fast\n"
                     "(one MMSE prediction, best PSNR) or sample (--steps, sharper); --quality best\n"
                     "(8 flips and turns averaged: 8× slower, a little better); --strength;\n"
                     "--mask FILE (white = denoise; gray blends)." },
  { "inpaint", "IN", "Fills where --mask FILE is white, consistent with the surroundings; pixels\n"
                     "outside the mask are kept exactly." },
  { "vary", "IN", "A variation of the image (img2img): --strength 0..1 (how far from the input)." },
  { "vae", "IN", "Encodes and decodes the image through the VAE (--sample draws the latent)." },
  { "interpolate", "A B", "--frames N images between A and B, written as OUT-0, OUT-1, …" },
};

static gboolean
run_job (JobKind kind, int argc, char **argv, GError **error)
{
  Common c = { .steps = -1 };
  char *sigma = NULL, *mode = NULL, *quality = NULL, *mask_path = NULL;
  double strength = -1.0;
  int width = 0, height = 0, count = 1, jump = 10, resample = 10, frames = 8;
  gboolean sample = FALSE;
  GOptionEntry job_entries[] = {
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "generate: width (default: the model's)", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "generate: height", "H" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "generate: images, seeds SEED, SEED+1, …", "N" },
    { "sigma", 0, 0, G_OPTION_ARG_STRING, &sigma, "denoise: noise level 0..255 or auto", "N|auto" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "denoise: fast or sample", "MODE" },
    { "quality", 0, 0, G_OPTION_ARG_STRING, &quality,
      "denoise: fast, or best (the mean over the image's 8 flips and turns: 8× slower)", "Q" },
    { "strength", 0, 0, G_OPTION_ARG_DOUBLE, &strength, "vary: 0..1; denoise: how much to apply", "S" },
    { "mask", 0, 0, G_OPTION_ARG_FILENAME, &mask_path, "inpaint/denoise: mask image", "FILE" },
    { "jump", 0, 0, G_OPTION_ARG_INT, &jump, "inpaint: RePaint jump length (default 10)", "N" },
    { "resample", 0, 0, G_OPTION_ARG_INT, &resample, "inpaint: RePaint resamplings (default 10)", "N" },
    { "sample", 0, 0, G_OPTION_ARG_NONE, &sample, "vae: sample the latent instead of its mean", NULL },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "interpolate: frames between (default 8)", "N" },
    { NULL }
  };
  GOptionEntry *common = common_entries (&c);
  GOptionContext *ctx = g_option_context_new (job_help[kind].args);
  GOptionGroup *grp = g_option_group_new ("job", "Options of this job:", "job options", NULL, NULL);
  GenJobOptions opts;
  GenJobStats stats = { 0, 0 };
  GenPipeline *p = NULL;
  GenImage *in[2] = { NULL, NULL }, **outs = NULL;
  float *mask = NULL;
  int n_in = kind == JOB_GENERATE ? 0 : kind == JOB_INTERPOLATE ? 2 : 1, n_out = 1, bits;
  Bar bar = { FALSE, FALSE, 0 };
  gboolean ok = FALSE;

  g_option_context_add_main_entries (ctx, common, NULL);
  g_option_group_add_entries (grp, job_entries);
  g_option_context_add_group (ctx, grp);
  g_option_context_set_summary (ctx, job_help[kind].summary);
  if (!g_option_context_parse (ctx, &argc, &argv, error))
    goto out;
  if (argc - 1 != n_in)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s takes %s (see generative %s --help)",
                   job_help[kind].name, n_in ? job_help[kind].args : "no input file",
                   job_help[kind].name);
      goto out;
    }
  for (int i = 0; i < n_in; i++)
    if (!(in[i] = gen_image_load (argv[1 + i], error)))
      goto out;
  if ((kind == JOB_VARY && !(strength >= 0.0 && strength <= 1.0))
      || (kind == JOB_DENOISE && strength != -1.0 && !(strength >= 0.0 && strength <= 1.0)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--strength must be 0 to 1%s",
                   kind == JOB_VARY ? " (and vary needs it)" : "");
      goto out;
    }
  if (kind == JOB_INPAINT && !mask_path)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "inpaint needs --mask FILE");
      goto out;
    }
  if (mask_path && n_in > 0 && !(mask = load_mask (mask_path, in[0]->width, in[0]->height, error)))
    goto out;
  if (!(p = common_setup (&c, &opts, &bar, kind != JOB_DENOISE && kind != JOB_VAE,
                          kind == JOB_VAE, error)))
    goto out;
  opts.stats = &stats;

  if (kind == JOB_GENERATE)
    {
      if (width == 0 && height == 0)
        width = height = gen_pipeline_native_size (p);
      if (width == 0 || height == 0)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "generate: give --width and --height (the model has no native size)");
          goto out;
        }
      if (count < 1 || count > 1000)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--count must be 1 to 1000");
          goto out;
        }
      if (width < 2 || height < 2 || width > 65535 || height > 65535)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: a size of %d×%d is not possible",
                       width, height);
          goto out;
        }
      n_out = count;
    }
  else if (kind == JOB_INTERPOLATE)
    {
      if (frames < 1 || frames > 1000)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--frames must be 1 to 1000");
          goto out;
        }
      n_out = frames;
    }

  outs = g_new0 (GenImage *, n_out);
  for (int k = 0; k < n_out; k++)
    if (!(outs[k] = n_in ? gen_image_new (in[0]->width, in[0]->height, in[0]->channels,
                                          in[0]->bit_depth, error)
                         : gen_image_new (width, height, 3, 8, error)))
      goto out;
  {
    GenPixels *po = g_new (GenPixels, n_out);
    GenPixels pa = n_in ? pixels_of (in[0]) : (GenPixels) { 0 };

    for (int k = 0; k < n_out; k++)
      po[k] = pixels_of (outs[k]);
    switch (kind)
      {
      case JOB_GENERATE:
        ok = gen_job_generate (p, &opts, width, height, count, po, error);
        break;
      case JOB_DENOISE:
        {
          double sig = -1.0, used = 0.0;
          GenDenoiseMode dm = GEN_DENOISE_FAST;
          GenDenoiseQuality dq = GEN_DENOISE_QUALITY_FAST;

          if (sigma && strcmp (sigma, "auto") != 0)
            {
              char *end = NULL;
              sig = g_ascii_strtod (sigma, &end);
              if (!end || *end || !(sig >= 0.0 && sig <= 255.0))
                {
                  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                               "--sigma must be a number from 0 to 255 or auto, not '%s'", sigma);
                  ok = FALSE;
                  break;
                }
            }
          if (mode && strcmp (mode, "fast") != 0 && strcmp (mode, "sample") != 0)
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                           "--mode must be fast or sample, not '%s'", mode);
              ok = FALSE;
              break;
            }
          if (mode && strcmp (mode, "sample") == 0)
            dm = GEN_DENOISE_SAMPLE;
          if (quality && !gen_denoise_quality_from_name (quality, &dq, error))
            {
              ok = FALSE;
              break;
            }
          ok = gen_job_denoise_quality (p, &opts, &pa, mask, dm, dq, sig,
                                        strength < 0 ? 1.0 : strength, &po[0], &used, error);
          if (ok)
            fprintf (stderr, "noise sigma: %.2f%s\n", used, sig < 0 ? " (estimated)" : "");
        }
        break;
      case JOB_INPAINT:
        ok = gen_job_inpaint (p, &opts, &pa, mask, jump, resample, &po[0], error);
        break;
      case JOB_VARY:
        ok = gen_job_vary (p, &opts, &pa, strength, &po[0], error);
        break;
      case JOB_VAE:
        ok = gen_job_vae (p, &opts, &pa, sample, &po[0], error);
        break;
      case JOB_INTERPOLATE:
        {
          GenPixels pb = pixels_of (in[1]);
          ok = gen_job_interpolate (p, &opts, &pa, &pb, frames, po, error);
        }
        break;
      }
    g_free (po);
  }
  if (!ok)
    goto out;
  if (!c.quiet)
    {
      fprintf (stderr, "activations: %.1f MB per tile worker, %d worker%s\n",
               stats.activation_bytes / 1048576.0, stats.workers, stats.workers == 1 ? "" : "s");
    }
  bits = c.bits ? c.bits : (n_in ? in[0]->bit_depth : 8);
  ok = write_outputs (&c, outs, n_out, bits, error);

out:
  if (outs)
    for (int k = 0; k < n_out; k++)
      gen_image_free (outs[k]);
  g_free (outs);
  gen_image_free (in[0]);
  gen_image_free (in[1]);
  g_free (mask);
  gen_pipeline_free (p);
  g_option_context_free (ctx);
  g_free (common);
  common_clear (&c);
  g_free (sigma);
  g_free (mode);
  g_free (quality);
  g_free (mask_path);
  return ok;
}

gboolean
gen_cli_job (const char *name, int argc, char **argv, GError **error)
{
  for (guint k = 0; k < G_N_ELEMENTS (job_help); k++)
    if (strcmp (name, job_help[k].name) == 0)
      return run_job ((JobKind) k, argc, argv, error);
  return FALSE;
}

gboolean
gen_cli_is_job (const char *name)
{
  for (guint k = 0; k < G_N_ELEMENTS (job_help); k++)
    if (strcmp (name, job_help[k].name) == 0)
      return TRUE;
  return FALSE;
}

void
gen_cli_jobs_usage (FILE *f)
{
  for (guint k = 0; k < G_N_ELEMENTS (job_help); k++)
    {
      const char *nl = strchr (job_help[k].summary, '\n');
      fprintf (f, "  %-12s%.*s\n", job_help[k].name,
               (int) (nl ? nl - job_help[k].summary : (long) strlen (job_help[k].summary)),
               job_help[k].summary);
    }
}
