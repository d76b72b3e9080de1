/* gen-plugin-settings.c — shared by the GIMP front ends. */
#include <string.h>

#include <glib/gi18n.h>

#include "gen-error.h"
#include "gen-plugin-models.h"
#include "gen-plugin-settings.h"
#include "gen-plugin-pixels.h"

#define PROCEDURE_PREFIX "plug-in-generative-"

static const char *const job_names[GEN_PLUGIN_N_JOBS] = {
  "generate", "denoise", "inpaint", "vary", "vae-reconstruct", "interpolate"
};

/* The first word of a new layer's name. */
static const char *const job_titles[GEN_PLUGIN_N_JOBS] = {
  N_("Generated"), N_("Denoised"), N_("Inpainted"), N_("Variation"), N_("VAE"),
  N_("Interpolated")
};

void
gen_plugin_settings_init (GenPluginSettings *s, GenPluginJob job)
{
  *s = (GenPluginSettings) { 0 };
  s->job = job;
  gen_job_options_init (&s->opts);
  s->strength = job == GEN_PLUGIN_VARY ? 0.5 : 1.0;
  s->noise_level = -1.0;
  s->denoise_mode = GEN_DENOISE_FAST;
  s->denoise_quality = GEN_DENOISE_QUALITY_FAST;
  s->jump = 10;
  s->resample = 10;
  s->context = 64;
  s->frames = 8;
  s->new_layer = TRUE;
}

void
gen_plugin_settings_clear (GenPluginSettings *s)
{
  g_clear_pointer (&s->model, g_free);
  g_clear_pointer (&s->vae, g_free);
  g_clear_pointer (&s->prompt, g_free);
  g_clear_pointer (&s->negative_prompt, g_free);
  s->opts.prompt = s->opts.negative_prompt = NULL;
}

gboolean
gen_plugin_job_takes_prompt (GenPluginJob job)
{
  return job == GEN_PLUGIN_GENERATE || job == GEN_PLUGIN_INPAINT || job == GEN_PLUGIN_VARY;
}

void
gen_plugin_settings_forget_prompt (GenPluginSettings *s)
{
  GenJobOptions defaults;

  gen_job_options_init (&defaults);
  g_clear_pointer (&s->prompt, g_free);
  g_clear_pointer (&s->negative_prompt, g_free);
  s->opts.prompt = s->opts.negative_prompt = NULL;
  s->opts.guidance = defaults.guidance;
}

/* TEXT on one line: line breaks and tabs as spaces.  Caller frees. */
static char *
one_line (const char *text)
{
  char *line = g_strdup (text);

  g_strdelimit (line, "\r\n\t", ' ');
  return line;
}

char *
gen_plugin_settings_prompt_short (const GenPluginSettings *s, int max_chars)
{
  char *line, *end;

  if (!s->prompt || !s->prompt[0])
    return NULL;
  line = g_strstrip (one_line (s->prompt));
  if (!line[0] || !g_utf8_validate (line, -1, NULL))
    {
      g_free (line);
      return NULL;
    }
  if (g_utf8_strlen (line, -1) <= max_chars)
    return line;
  end = g_utf8_offset_to_pointer (line, max_chars);
  *end = '\0';
  g_strchomp (line);
  end = g_strconcat (line, "…", NULL);
  g_free (line);
  return end;
}

const char *
gen_plugin_job_name (GenPluginJob job)
{
  g_return_val_if_fail (job < GEN_PLUGIN_N_JOBS, "");
  return job_names[job];
}

char *
gen_plugin_sigma_samplers (gboolean translate)
{
  GString *list = g_string_new (NULL);
  const GenSamplerInfo *info;

  for (int n = 0; (info = gen_sampler_info_from_number (n)); n++)
    if (info->uses_sigmas)
      g_string_append_printf (list, "%s%s", list->len ? ", " : "",
                              translate ? _(info->label) : info->label);
  return g_string_free (list, FALSE);
}

char *
gen_plugin_procedure_name (GenPluginJob job)
{
  return g_strconcat (PROCEDURE_PREFIX, gen_plugin_job_name (job), NULL);
}

GenPluginJob
gen_plugin_job_from_procedure (const char *name)
{
  GenPluginJob job;

  if (!g_str_has_prefix (name, PROCEDURE_PREFIX))
    return GEN_PLUGIN_N_JOBS;
  for (job = 0; job < GEN_PLUGIN_N_JOBS; job++)
    if (g_str_equal (name + strlen (PROCEDURE_PREFIX), job_names[job]))
      break;
  return job;
}

/* The folder NAME beside PATH, or NULL when there is none.  Caller frees. */
static char *
folder_beside (const char *path, const char *name)
{
  char *parent = g_path_get_dirname (path);
  char *dir = g_build_filename (parent, name, NULL);

  g_free (parent);
  if (g_file_test (dir, G_FILE_TEST_IS_DIR))
    return dir;
  g_free (dir);
  return NULL;
}

char *
gen_plugin_locale_dir (const char *progname)
{
  return folder_beside (progname, "locale");
}

char *
gen_plugin_builtin_vae_dir (const char *default_dir)
{
  return folder_beside (default_dir, "generative-vae");
}

char *
gen_plugin_builtin_dir (GenPluginJob job, const char *vae, const char *default_dir)
{
  /* VAE Reconstruct with nothing chosen: the embedded VAE */
  if (job == GEN_PLUGIN_VAE && !(vae && vae[0]))
    {
      char *dir = gen_plugin_builtin_vae_dir (default_dir);

      if (dir)
        return dir;
    }
  return g_strdup (default_dir);
}

char *
gen_plugin_model_dir (const GenPluginSettings *s, const char *default_dir, GError **error)
{
  char *dir;

  if (s->model && s->model[0])
    {
      if (!g_file_test (s->model, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_IO, _("The model folder %s does not exist."),
                       s->model);
          return NULL;
        }
      return g_strdup (s->model);
    }
  dir = gen_plugin_builtin_dir (s->job, s->vae, default_dir);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_IO,
                   _("No model folder given and the default model is not installed at %s."),
                   dir);
      g_free (dir);
      return NULL;
    }
  return dir;
}

/* FALSE, in the dialog's words, when DIR is not a model (no config), a
 * model of a kind the core does not run (yet), a text-conditioned model
 * outside its pipeline folder, or one that cannot do JOB; loading it says
 * what else is wrong. */
static gboolean
check_model (const char *dir, GenPluginJob job, GError **error)
{
  GenPluginModel *m = gen_plugin_model_inspect (dir, error);
  const char *class_name;
  gboolean text;

  if (!m)
    return FALSE;
  class_name = m->class_name ? m->class_name : "?";
  text = gen_plugin_model_kind_takes_text (m->kind);
  if (m->kind == GEN_PLUGIN_MODEL_OTHER
      || (m->runnable && (!text || gen_plugin_model_fits (m, job))))
    {
      gen_plugin_model_free (m);
      return TRUE;
    }
  if (m->runnable)
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 /* TRANSLATORS: "/path: text-to-image models (StableDiffusionPipeline) cannot …" */
                 _("%s: %s models (%s) cannot be used for this filter."), dir,
                 gen_plugin_model_kind_label (m->kind), class_name);
  else if (text && !m->class_name)
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 _("%s: .ckpt files are not read (they can run code when loaded): use the "
                   "model's .safetensors file or its diffusers folder."), dir);
  else if (text && !m->pipeline)
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 /* TRANSLATORS: "/path: text-to-image models (StableDiffusionPipeline) run …" */
                 _("%s: %s models (%s) run from their whole pipeline folder: model_index.json "
                   "with unet/, vae/, text_encoder/ and tokenizer/ beside it."), dir,
                 gen_plugin_model_kind_label (m->kind), class_name);
  else
    g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                 _("%s: %s models (%s) are not supported by this version of Generative."),
                 dir, gen_plugin_model_kind_label (m->kind), class_name);
  gen_plugin_model_free (m);
  return FALSE;
}

GenPipeline *
gen_plugin_load (const GenPluginSettings *s, const char *default_dir, char **model_used,
                 GError **error)
{
  char *dir = gen_plugin_model_dir (s, default_dir, error);
  GenPipeline *p = NULL;

  if (model_used)
    *model_used = NULL;
  if (!dir)
    return NULL;
  if (check_model (dir, s->job, error))
    {
      /* a single-file checkpoint's tokenizer: the CLIP vocabulary installed
       * beside the built-in models */
      char *root = g_path_get_dirname (default_dir);
      char *vocab = g_build_filename (root, "clip-tokenizer", NULL);

      p = gen_pipeline_load_full (dir, s->vae && s->vae[0] ? s->vae : NULL,
                                  g_file_test (vocab, G_FILE_TEST_IS_DIR) ? vocab : NULL, error);
      g_free (root);
      g_free (vocab);
      if (!p)
        /* TRANSLATORS: the reason (the core's words, in English) follows */
        g_prefix_error (error, _("This folder is not a model Generative can run: "));
    }
  if (p && model_used)
    *model_used = g_steal_pointer (&dir);
  g_free (dir);
  return p;
}

char *
gen_plugin_settings_layer_name (const GenPluginSettings *s, int frame)
{
  GString *name = g_string_new (_(job_titles[s->job]));
  char *prompt = gen_plugin_settings_prompt_short (s, 32);
  char seed[24];

  if (prompt)
    /* TRANSLATORS: in a layer name, the prompt: Generated “a red fox…” (seed 7, …) */
    g_string_append_printf (name, _(" “%s”"), prompt);
  g_free (prompt);

  if (frame >= 0)
    {
      g_string_append_c (name, ' ');
      /* TRANSLATORS: in a layer name, "Interpolated frame 3 (seed 7, …)" */
      g_string_append_printf (name, _("frame %d"), frame + 1);
    }
  g_snprintf (seed, sizeof seed, "%" G_GUINT64_FORMAT, s->opts.seed);
  g_string_append (name, " (");
  /* TRANSLATORS: in a layer name, "Denoised (seed 7, one step)" */
  g_string_append_printf (name, _("seed %s"), seed);
  switch (s->job)
    {
    case GEN_PLUGIN_VAE:
      break;
    case GEN_PLUGIN_DENOISE:
      if (s->denoise_mode == GEN_DENOISE_FAST)
        {
          g_string_append (name, ", ");
          /* TRANSLATORS: in a layer name: denoised in one model evaluation */
          g_string_append (name, _("one step"));
          break;
        }
      G_GNUC_FALLTHROUGH;
    default:
      g_string_append (name, ", ");
      /* TRANSLATORS: in a layer name, "ddim 30 steps": the sampler, then the steps */
      g_string_append_printf (name, _("%s %d steps"), gen_sampler_kind_name (s->opts.sampler),
                              s->opts.steps);
    }
  if (s->job == GEN_PLUGIN_VARY || (s->job == GEN_PLUGIN_DENOISE && s->strength < 1.0))
    {
      g_string_append (name, ", ");
      /* TRANSLATORS: in a layer name, "strength 0.50" */
      g_string_append_printf (name, _("strength %.2f"), s->strength);
    }
  g_string_append_c (name, ')');
  return g_string_free (name, FALSE);
}

char *
gen_plugin_settings_serialize (const GenPluginSettings *s, const char *model_used,
                               double sigma_used)
{
  GString *t = g_string_new (NULL);
  char num[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (t, "job=%s\nmodel=%s\nvae=%s\n", job_names[s->job],
                          model_used ? model_used : s->model ? s->model : "",
                          s->vae ? s->vae : "");
  g_string_append_printf (t, "sampler=%s\nsigmas=%s\nsteps=%d\nseed=%" G_GUINT64_FORMAT "\n",
                          gen_sampler_kind_name (s->opts.sampler),
                          gen_sigma_schedule_name (s->opts.sigmas), s->opts.steps, s->opts.seed);
  g_string_append_printf (t, "eta=%s\n", g_ascii_dtostr (num, sizeof num, s->opts.eta));
  g_string_append_printf (t, "tile=%d\n", s->opts.tile);
  g_string_append_printf (t, "strength=%s\n", g_ascii_dtostr (num, sizeof num, s->strength));
  g_string_append_printf (t, "noise-level=%s\n",
                          g_ascii_dtostr (num, sizeof num, s->noise_level));
  if (sigma_used >= 0)
    g_string_append_printf (t, "noise-level-used=%s\n",
                            g_ascii_dtostr (num, sizeof num, sigma_used));
  g_string_append_printf (t, "denoise-mode=%s\n",
                          s->denoise_mode == GEN_DENOISE_FAST ? "fast" : "sample");
  g_string_append_printf (t, "denoise-quality=%s\n", gen_denoise_quality_name (s->denoise_quality));
  g_string_append_printf (t, "width=%d\nheight=%d\njump=%d\nresample=%d\nframes=%d\nsample=%d\n",
                          s->width, s->height, s->jump, s->resample, s->frames, s->sample);
  if (s->job == GEN_PLUGIN_INPAINT)
    g_string_append_printf (t, "context=%d\n", s->context);
  if ((s->prompt && s->prompt[0]) || (s->negative_prompt && s->negative_prompt[0]))
    {
      char *prompt = one_line (s->prompt ? s->prompt : "");
      char *negative = one_line (s->negative_prompt ? s->negative_prompt : "");

      g_string_append_printf (t, "prompt=%s\nnegative-prompt=%s\nguidance=%s\n", prompt,
                              negative, g_ascii_dtostr (num, sizeof num, s->opts.guidance));
      g_free (prompt);
      g_free (negative);
    }
  return g_string_free (t, FALSE);
}

gboolean
gen_plugin_run_job (GenPipeline *p, GenPluginSettings *s, const GenPixels *in, const float *mask,
                    GenPixels *out, int n_out, gboolean gray_image, double *sigma_used,
                    GError **error)
{
  gboolean ok = FALSE;

  /* the outputs are this run's own buffers, dropped on failure */
  s->opts.scratch_outputs = TRUE;
  s->opts.prompt = s->prompt;
  s->opts.negative_prompt = s->negative_prompt;
  switch (s->job)
    {
    case GEN_PLUGIN_GENERATE:
      ok = gen_job_generate (p, &s->opts, out[0].width, out[0].height, 1, out, error);
      break;
    case GEN_PLUGIN_DENOISE:
      ok = gen_job_denoise_quality (p, &s->opts, &in[0], mask, s->denoise_mode,
                                    s->denoise_quality, s->noise_level, s->strength, &out[0],
                                    sigma_used, error);
      break;
    case GEN_PLUGIN_INPAINT:
      {
        /* the model fills all of the selection (and what is transparent);
         * how much of that shows, the front end's compose decides */
        float *fill = gen_plugin_inpaint_mask (&in[0], mask, error);

        ok = fill && gen_job_inpaint (p, &s->opts, &in[0], fill, s->jump, s->resample,
                                      &out[0], error);
        g_free (fill);
      }
      break;
    case GEN_PLUGIN_VARY:
      ok = gen_job_vary (p, &s->opts, &in[0], s->strength, &out[0], error);
      break;
    case GEN_PLUGIN_VAE:
      ok = gen_job_vae (p, &s->opts, &in[0], s->sample, &out[0], error);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      ok = gen_job_interpolate (p, &s->opts, &in[0], &in[1], n_out, out, error);
      break;
    default:
      g_assert_not_reached ();
    }
  if (!ok)
    return FALSE;
  /* Vary and the VAE take no mask: fade their result into the selection here. */
  if ((s->job == GEN_PLUGIN_VARY || s->job == GEN_PLUGIN_VAE) && mask)
    gen_plugin_pixels_blend (&out[0], &in[0], mask);
  if (s->job == GEN_PLUGIN_GENERATE && gray_image)
    {
      GenPixels gray;

      if (!gen_plugin_pixels_convert (&out[0], 1, &gray, error))
        return FALSE;
      gen_pixels_clear (&out[0]);
      out[0] = gray;
    }
  return TRUE;
}

gboolean
gen_plugin_prepare_outputs (GenPipeline *p, const GenPluginSettings *s, const GenPixels *in0,
                            const float *mask0, GenPixels **out, int *n_out, GError **error)
{
  if (s->job == GEN_PLUGIN_INPAINT
      && (!mask0 || !gen_plugin_mask_any (mask0, (gsize) in0->width * in0->height)))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   _("Inpaint fills the selection: select the area to fill first."));
      return FALSE;
    }
  *n_out = s->job == GEN_PLUGIN_INTERPOLATE ? s->frames : 1;
  *out = g_new0 (GenPixels, *n_out);
  if (s->job == GEN_PLUGIN_GENERATE)
    {
      int w = s->width ? s->width : gen_pipeline_native_size (p);
      int h = s->height ? s->height : gen_pipeline_native_size (p);

      return gen_pixels_init (&(*out)[0], w, h, 3, error);
    }
  for (int i = 0; i < *n_out; i++)
    if (!gen_pixels_init (&(*out)[i], in0->width, in0->height, in0->channels, error))
      return FALSE;
  return TRUE;
}

const GenPluginProcText gen_plugin_proc_text[GEN_PLUGIN_N_JOBS] = {
  [GEN_PLUGIN_GENERATE] = { N_("_Generate..."), N_("Generate a new image with a diffusion model"),
    N_("Samples a new layer from a diffusion model, seeded by 'seed'.") },
  [GEN_PLUGIN_DENOISE] = { N_("_Denoise..."), N_("Remove noise with a diffusion model"),
    N_("Estimates (or takes) the noise level and denoises the selection with a diffusion "
       "model; 'strength' blends the result with the original.") },
  [GEN_PLUGIN_INPAINT] = { N_("_Inpaint Selection..."), N_("Fill the selection with a diffusion model"),
    N_("Fills the selected area consistently with its surroundings; unselected "
       "pixels stay exactly as they are.") },
  [GEN_PLUGIN_VARY] = { N_("_Vary..."), N_("Make a variation of the image (img2img)"),
    N_("Noises the selection to 'strength' and denoises it again (SDEdit).") },
  [GEN_PLUGIN_VAE] = { N_("VAE _Round Trip..."), N_("Encode and decode through a VAE"),
    N_("Encodes the selection with a VAE and decodes it again.") },
  [GEN_PLUGIN_INTERPOLATE] = { N_("_Interpolate Two Layers..."),
    N_("Frames between two selected layers"),
    N_("Interpolates the latents (or inverted noise) of two selected layers of the same "
       "size into new layers.") },
};
