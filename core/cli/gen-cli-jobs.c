/* gen-cli-jobs.c — the CLI's job subcommands: generate, denoise, inpaint,
 * vary, vae and interpolate, over the core's jobs and the image files.
 *
 * Every subcommand: options parsed, inputs read and checked, the output
 * files claimed (gen-cli-output.h), the job run with a progress bar on a
 * terminal, and only then the outputs written and put in place all
 * together.  Any error is one line and exit status 1. */
#include "gen-cli-jobs.h"
#include "gen-cli-help.h"
#include "gen-cli-job-table.h"
#include "gen-cli-progress.h"
#include "gen-cli-output.h"
#include "gen-cpu.h"
#include "gen-error.h"
#include "gen-image.h"
#include "gen-job.h"
#include "gen-safetensors.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  char    *model, *vae, *scheduler, *sigmas, *seed, *output, *raw, *preview;
  char    *scheduler_help, *sigmas_help;   /* from the sampler table */
  int      steps, tile, threads, bits;
  double   eta;
  gboolean quiet, help;
} Common;

/* "ddpm, ddim, … or lcm (default: the model's, else ddim)", from the
 * sampler table. */
static char *
scheduler_help (void)
{
  GenJobOptions defaults;
  char *names = gen_sampler_names (" or "), *help;

  gen_job_options_init (&defaults);
  help = g_strdup_printf ("%s (default: the model's scheduler, else %s)", names,
                          gen_sampler_kind_name (defaults.sampler));
  g_free (names);
  return help;
}

static GOptionEntry *
common_entries (Common *c)
{
  char *sampler_names = scheduler_help (), *sigma_list = gen_sigma_schedule_names (" or ");
  char *sigma_names = g_strdup_printf ("%s (default: the model's, else \"default\")", sigma_list);
  GOptionEntry e[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &c->model,
      "diffusers model folder, or a single-file SD 1.x .safetensors checkpoint "
      "(default: the embedded model)", "PATH" },
    { "vae", 0, 0, G_OPTION_ARG_FILENAME, &c->vae,
      "VAE folder, for latent models, vae and interpolate (default: the model's own, if any)",
      "DIR" },
    { "scheduler", 0, 0, G_OPTION_ARG_STRING, &c->scheduler, sampler_names, "NAME" },
    { "sigmas", 0, 0, G_OPTION_ARG_STRING, &c->sigmas, sigma_names, "S" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &c->steps, "sampling steps (default: 30)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_STRING, &c->seed, "random seed (default: random, printed)", "N" },
    { "eta", 0, 0, G_OPTION_ARG_DOUBLE, &c->eta, "DDIM eta, 0..1 (default: 0)", "E" },
    { "tile", 0, 0, G_OPTION_ARG_INT, &c->tile, "tile size in pixels (default: 512)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &c->threads, "threads (default: all cores)", "N" },
    { "bits", 0, 0, G_OPTION_ARG_INT, &c->bits,
      "output bits per sample: 8 or 16 (default: the input's, 8 for generate)", "B" },
    { "raw", 0, 0, G_OPTION_ARG_FILENAME, &c->raw,
      "also write the result as float tensor 'sample' [N,C,H,W] before quantisation "
      "(default: none)", "OUT.safetensors" },
    { "preview", 0, 0, G_OPTION_ARG_FILENAME, &c->preview,
      "while sampling, keep writing a small picture of the image the model now expects "
      "(default: none)", "FILE.png" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &c->output,
      "output image: PNG, JPEG or TIFF (required)", "OUT" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &c->quiet, "no progress on stderr", NULL },
    { "help", 'h', G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &c->help, NULL, NULL },
    /* GOption's names for its help, kept */
    { "help-all", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &c->help, NULL, NULL },
    { "help-job", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &c->help, NULL, NULL },
    { NULL }
  };

  g_free (sigma_list);
  c->scheduler_help = sampler_names;
  c->sigmas_help = sigma_names;
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
  g_free (c->preview);
  g_free (c->scheduler_help);
  g_free (c->sigmas_help);
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

/* What the user left out of --scheduler / --sigmas: the model's own choice
 * (its scheduler_config.json's class and use_karras_sigmas), else the job
 * defaults. */
static gboolean
model_sampler (Common *c, GenPipeline *p, GenJobOptions *opts, GError **error)
{
  const GenSchedConfig *sc = gen_pipeline_sched (p);

  if (!sc)
    return TRUE;
  if (!c->scheduler && !gen_sched_config_sampler (sc, &opts->sampler, error))
    {
      g_prefix_error (error, "no --scheduler given, and ");
      return FALSE;
    }
  if (!c->sigmas)
    opts->sigmas = gen_sched_config_sigma_schedule (sc, opts->sampler);
  return TRUE;
}

/* Claims the outputs: N_OUT images at -o with BITS bits per sample
 * (indices 0 .. N_OUT-1), then --raw if given (index N_OUT). */
static gboolean
claim_outputs (Common *c, GenCliOutput *outputs, int n_out, int bits, GError **error)
{
  return gen_cli_output_add_images (outputs, c->output, n_out, bits, error)
         && (!c->raw || gen_cli_output_add_file (outputs, c->raw, error) >= 0);
}

/* Parses the common options into OPTS, claims the outputs (N_OUT images,
 * IN_BITS bits unless --bits), loads the pipeline. */
static GenPipeline *
common_setup (Common *c, GenJobOptions *opts, GenCliProgress *pr, gboolean need_seed,
              gboolean vae_job, GenCliOutput *outputs, int n_out, int in_bits, GError **error)
{
  GenPipeline *p;
  char *vocab;
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
  /* before the model: a path that cannot be written fails now, not after
   * the work */
  if (!claim_outputs (c, outputs, n_out, c->bits ? c->bits : in_bits, error))
    goto fail;
  opts->threads = c->threads;
  gen_cli_progress_init (pr, c->quiet);
  opts->progress = gen_cli_progress;
  opts->progress_data = pr;
  if (c->preview && !gen_image_check_format (c->preview, 8, error))
    goto fail;
  opts->preview = c->preview ? gen_cli_preview : NULL;
  opts->preview_data = c->preview;
  vocab = gen_cli_model_dir ("clip-tokenizer");
  p = gen_pipeline_load_full (model, c->vae, vocab, error);
  g_free (vocab);
  if (p && !model_sampler (c, p, opts, error))
    g_clear_pointer (&p, gen_pipeline_free);
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

/* Writes the images and --raw (all images as one [N, C, H, W] tensor) into
 * the claimed OUTPUTS, and puts them in place. */
static gboolean
write_outputs (Common *c, GenCliOutput *outputs, GenImage **imgs, int count, GError **error)
{
  for (int k = 0; k < count; k++)
    if (!gen_cli_output_write_image (outputs, k, imgs[k], error))
      return FALSE;
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
      guint8 *bytes = NULL;
      gsize len = 0;
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
      ok = gen_safetensors_encode_f32 (c->raw, 1, names, data, ndims, shapes, &bytes, &len, error)
           && gen_cli_output_write (outputs, count, bytes, len, error);
      g_free (bytes);
      g_free (t);
      if (!ok)
        return FALSE;
    }
  return gen_cli_output_commit (outputs, error);
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


static gboolean
run_job (JobKind kind, int argc, char **argv, GError **error)
{
  Common c = { .steps = -1 };
  JobArgs a = { .strength = -1.0, .count = 1, .jump = 10, .resample = 10, .frames = 8,
                .guidance = NAN };
  GPtrArray *texts = g_ptr_array_new_with_free_func (g_free);
  GOptionEntry *own = gen_cli_job_entries (kind, &a, texts);
  GOptionEntry *common = common_entries (&c);
  GenJobOptions opts;
  GenJobStats stats = { 0, 0 };
  GenPipeline *p = NULL;
  GenImage *in[2] = { NULL, NULL }, **outs = NULL;
  GenCliOutput *outputs = gen_cli_output_new ();
  float *mask = NULL;
  int n_in = kind == JOB_GENERATE ? 0 : kind == JOB_INTERPOLATE ? 2 : 1, n_out = 1;
  GenCliProgress progress;
  gboolean ok = FALSE;

  {
    GenCliCommand command = { gen_cli_job_help[kind].name, gen_cli_job_help[kind].usage,
                              gen_cli_job_help[kind].description, gen_cli_job_help[kind].example };
    char *title = g_strdup_printf ("Options of %s:", gen_cli_job_help[kind].name);
    GenCliHelpSection sections[] = { { title, own }, { "Common options:", common } };
    gboolean parsed, shown;

    parsed = gen_cli_parse (&command, sections, G_N_ELEMENTS (sections), &c.help, &argc, &argv,
                            &shown, error);
    g_free (title);
    if (!parsed || shown)
      {
        ok = shown;
        goto out;
      }
  }
  if (argc - 1 != n_in)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s takes %s (see generative %s --help)",
                   gen_cli_job_help[kind].name, n_in ? gen_cli_job_help[kind].args : "no input file",
                   gen_cli_job_help[kind].name);
      goto out;
    }
  for (int i = 0; i < n_in; i++)
    if (!(in[i] = gen_image_load (argv[1 + i], error)))
      goto out;
  if ((kind == JOB_VARY && !(a.strength >= 0.0 && a.strength <= 1.0))
      || (kind == JOB_DENOISE && a.strength != -1.0 && !(a.strength >= 0.0 && a.strength <= 1.0)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--strength must be 0 to 1%s",
                   kind == JOB_VARY ? " (and vary needs it)" : "");
      goto out;
    }
  if (kind == JOB_INPAINT && !a.mask_path)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "inpaint needs --mask FILE");
      goto out;
    }
  if (a.mask_path && n_in > 0 && !(mask = load_mask (a.mask_path, in[0]->width, in[0]->height, error)))
    goto out;
  if ((kind == JOB_GENERATE && (a.count < 1 || a.count > 1000))
      || (kind == JOB_INTERPOLATE && (a.frames < 1 || a.frames > 1000)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s must be 1 to 1000",
                   kind == JOB_GENERATE ? "--count" : "--frames");
      goto out;
    }
  n_out = kind == JOB_GENERATE ? a.count : kind == JOB_INTERPOLATE ? a.frames : 1;
  if (!(p = common_setup (&c, &opts, &progress, kind != JOB_DENOISE && kind != JOB_VAE,
                          kind == JOB_VAE, outputs, n_out, n_in ? in[0]->bit_depth : 8, error)))
    goto out;
  opts.stats = &stats;
  opts.prompt = a.prompt;
  opts.negative_prompt = a.negative;
  opts.clip_skip = a.clip_skip;
  if (!isnan (a.guidance))
    {
      if (!(a.guidance >= 0.0 && a.guidance <= 100.0))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "--guidance must be 0 to 100");
          goto out;
        }
      opts.guidance = a.guidance;
    }

  if (kind == JOB_GENERATE)
    {
      if (a.width == 0 && a.height == 0)
        a.width = a.height = gen_pipeline_native_size (p);
      if (a.width == 0 || a.height == 0)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                       "generate: give --width and --height (the model has no native size)");
          goto out;
        }
      if (a.width < 2 || a.height < 2 || a.width > 65535 || a.height > 65535)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: a size of %d×%d is not possible",
                       a.width, a.height);
          goto out;
        }
    }

  outs = g_new0 (GenImage *, n_out);
  for (int k = 0; k < n_out; k++)
    if (!(outs[k] = n_in ? gen_image_new (in[0]->width, in[0]->height, in[0]->channels,
                                          in[0]->bit_depth, error)
                         : gen_image_new (a.width, a.height, 3, 8, error)))
      goto out;
  {
    GenPixels *po = g_new (GenPixels, n_out);
    GenPixels pa = n_in ? pixels_of (in[0]) : (GenPixels) { 0 };

    progress.tiles = gen_cli_progress_tiles (p, c.tile, n_in ? in[0]->width : a.width,
                                             n_in ? in[0]->height : a.height);

    for (int k = 0; k < n_out; k++)
      po[k] = pixels_of (outs[k]);
    switch (kind)
      {
      case JOB_GENERATE:
        ok = gen_job_generate (p, &opts, a.width, a.height, a.count, po, error);
        break;
      case JOB_DENOISE:
        {
          double sig = -1.0, used = 0.0;
          GenDenoiseMode dm = GEN_DENOISE_FAST;
          GenDenoiseQuality dq = GEN_DENOISE_QUALITY_FAST;

          if (a.sigma && strcmp (a.sigma, "auto") != 0)
            {
              char *end = NULL;
              sig = g_ascii_strtod (a.sigma, &end);
              if (!end || *end || !(sig >= 0.0 && sig <= 255.0))
                {
                  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                               "--sigma must be a number from 0 to 255 or auto, not '%s'", a.sigma);
                  ok = FALSE;
                  break;
                }
            }
          if (a.mode && strcmp (a.mode, "fast") != 0 && strcmp (a.mode, "sample") != 0)
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                           "--mode must be fast or sample, not '%s'", a.mode);
              ok = FALSE;
              break;
            }
          if (a.mode && strcmp (a.mode, "sample") == 0)
            dm = GEN_DENOISE_SAMPLE;
          if (a.quality && !gen_denoise_quality_from_name (a.quality, &dq, error))
            {
              ok = FALSE;
              break;
            }
          if (a.patches && strcmp (a.patches, "on") != 0 && strcmp (a.patches, "off") != 0)
            {
              g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                           "--patches must be on or off, not '%s'", a.patches);
              ok = FALSE;
              break;
            }
          opts.denoise_patches = !(a.patches && strcmp (a.patches, "off") == 0);
          ok = gen_job_denoise_quality (p, &opts, &pa, mask, dm, dq, sig,
                                        a.strength < 0 ? 1.0 : a.strength, &po[0],
                                        &used, error);
          if (ok)
            fprintf (stderr, "noise sigma: %.2f%s\n", used, sig < 0 ? " (estimated)" : "");
        }
        break;
      case JOB_INPAINT:
        if (a.method && strcmp (a.method, "refine") != 0 && strcmp (a.method, "repaint") != 0)
          {
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "--method must be refine or repaint, not '%s'", a.method);
            ok = FALSE;
            break;
          }
        opts.inpaint = a.method && strcmp (a.method, "repaint") == 0 ? GEN_INPAINT_REPAINT
                                                                 : GEN_INPAINT_REFINE;
        opts.inpaint_sigma = a.refine_sigma;
        ok = gen_job_inpaint (p, &opts, &pa, mask, a.jump, a.resample, &po[0], error);
        break;
      case JOB_VARY:
        ok = gen_job_vary (p, &opts, &pa, a.strength, &po[0], error);
        break;
      case JOB_VAE:
        ok = gen_job_vae (p, &opts, &pa, a.sample, &po[0], error);
        break;
      case JOB_INTERPOLATE:
        {
          GenPixels pb = pixels_of (in[1]);
          ok = gen_job_interpolate (p, &opts, &pa, &pb, a.frames, po, error);
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
  ok = write_outputs (&c, outputs, outs, n_out, error);

out:
  if (outs)
    for (int k = 0; k < n_out; k++)
      gen_image_free (outs[k]);
  g_free (outs);
  gen_cli_output_free (outputs);
  gen_image_free (in[0]);
  gen_image_free (in[1]);
  g_free (mask);
  gen_pipeline_free (p);
  g_free (common);
  g_free (own);
  g_ptr_array_unref (texts);
  common_clear (&c);
  g_free (a.sigma);
  g_free (a.mode);
  g_free (a.quality);
  g_free (a.patches);
  g_free (a.mask_path);
  g_free (a.method);
  g_free (a.prompt);
  g_free (a.negative);
  return ok;
}

gboolean
gen_cli_job (const char *name, int argc, char **argv, GError **error)
{
  for (guint k = 0; k < gen_cli_n_jobs; k++)
    if (strcmp (name, gen_cli_job_help[k].name) == 0)
      return run_job ((JobKind) k, argc, argv, error);
  return FALSE;
}

gboolean
gen_cli_is_job (const char *name)
{
  for (guint k = 0; k < gen_cli_n_jobs; k++)
    if (strcmp (name, gen_cli_job_help[k].name) == 0)
      return TRUE;
  return FALSE;
}

void
gen_cli_jobs_usage (FILE *f)
{
  for (guint k = 0; k < gen_cli_n_jobs; k++)
    gen_cli_print (f, "  %-12s %s\n", gen_cli_job_help[k].name, gen_cli_job_help[k].line);
}
