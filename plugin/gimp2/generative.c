/* generative.c — the GIMP 2.10 plug-in: Filters → Generative.
 *
 * Registers one procedure per core job with positional GimpParamDef
 * arguments (run-mode, image, drawable first), reads them into a
 * GenPluginSettings, keeps the last values with gimp_set_data and runs
 * gen_gimp2_apply.  Errors come back as GIMP_PDB_EXECUTION_ERROR (or
 * GIMP_PDB_CALLING_ERROR for arguments out of range) with the message as
 * the second return value, as GIMP 2.10 plug-ins do. */
#include <locale.h>
#include <string.h>

#include <gegl.h>
#include <glib/gi18n.h>

#include "gen-cpu.h"
#include "gen-error.h"
#include "gen-gimp2.h"
#include "gen-gimp2-dialog.h"
#include "gen-ui-progress.h"

#ifndef GEN_PLUGIN_LOCALEDIR
#define GEN_PLUGIN_LOCALEDIR "/usr/share/locale"
#endif

/* GIMP 2.10 selects one layer: interpolate runs from the layer below it. */
static const GenPluginProcText interpolate_2_10 = {
  N_("_Interpolate Two Layers..."),
  N_("Frames between the active layer and the layer below it"),
  N_("GIMP 2.10 has no multi-layer selection: interpolates from the layer directly below "
     "the active layer (same parent) to the active layer, which must have the same size, "
     "into 'frames' new layers (latents, or inverted noise for pixel models).")
};

/* ---- the arguments after run-mode, image, drawable ---------------------------- */

#define V(f) G_STRUCT_OFFSET (GenGimp2Values, f)
#define ENTRY GEN_GIMP2_WIDGET_ENTRY
#define SCALE GEN_GIMP2_WIDGET_SCALE
#define COMBO GEN_GIMP2_WIDGET_COMBO
#define TOGGLE GEN_GIMP2_WIDGET_TOGGLE
#define SAMPLERS GEN_GIMP2_WIDGET_SAMPLERS
#define SIGMAS GEN_GIMP2_WIDGET_SIGMAS
#define TEXT GEN_GIMP2_WIDGET_TEXT

const GenGimp2Arg gen_gimp2_args[GEN_GIMP2_N_ARGS] = {
  [GEN_GIMP2_ARG_MODEL] = { GIMP_PDB_STRING, "model",
    N_("A diffusers model folder; empty for the installed default"),
    N_("_Model folder (empty: default):"), V (model), 0, 0, ENTRY, NULL },
  [GEN_GIMP2_ARG_VAE] = { GIMP_PDB_STRING, "vae",
    N_("A VAE folder that adds or replaces the model's; empty for none"),
    N_("V_AE folder (optional):"), V (vae), 0, 0, ENTRY, NULL },
  [GEN_GIMP2_ARG_SCHEDULER] = { GIMP_PDB_INT32, "scheduler",
    N_("How the picture is stepped out of the noise (the scheduler)"),
    N_("Sched_uler:"), V (scheduler), 0, 0, SAMPLERS, NULL },
  [GEN_GIMP2_ARG_SIGMAS] = { GIMP_PDB_INT32, "sigmas",
    N_("How the noise levels are spaced over the steps (the sigma schedule; %s only)"),
    N_("Step spacin_g:"), V (sigmas), 0, 0, SIGMAS, NULL },
  [GEN_GIMP2_ARG_STEPS] = { GIMP_PDB_INT32, "steps",
    N_("Denoising steps: more are finer and slower (1..1000)"),
    N_("S_teps:"), V (steps), 1, 1000, SCALE, NULL },
  [GEN_GIMP2_ARG_ETA] = { GIMP_PDB_FLOAT, "eta",
    N_("Fresh noise added at each step (DDIM's eta; 0 = none, 0..1)"),
    N_("Randomn_ess:"), V (eta), 0, 1, SCALE, NULL },
  [GEN_GIMP2_ARG_SEED] = { GIMP_PDB_INT32, "seed",
    N_("Where the random noise starts: the same seed gives the same result "
       "(0..2147483647; -1 = a random one)"),
    N_("See_d (-1: random):"), V (seed), -1, G_MAXINT, SCALE, NULL },
  [GEN_GIMP2_ARG_TILE] = { GIMP_PDB_INT32, "tile-size",
    N_("Large images are worked in square tiles of this many pixels (0 = 512, ..8192)"),
    N_("Tile si_ze:"), V (tile), 0, 8192, SCALE, NULL },
  [GEN_GIMP2_ARG_NEW_LAYER] = { GIMP_PDB_INT32, "new-layer",
    N_("Put the result on a new layer (TRUE) or replace the pixels (FALSE)"),
    N_("Ne_w layer"), V (new_layer), 0, 1, TOGGLE, NULL },
  [GEN_GIMP2_ARG_WIDTH] = { GIMP_PDB_INT32, "width",
    N_("Width in pixels (0 = the model's native size, ..16384)"),
    N_("_Width:"), V (width), 0, 16384, SCALE, NULL },
  [GEN_GIMP2_ARG_HEIGHT] = { GIMP_PDB_INT32, "height",
    N_("Height in pixels (0 = the model's native size, ..16384)"),
    N_("He_ight:"), V (height), 0, 16384, SCALE, NULL },
  [GEN_GIMP2_ARG_NOISE_LEVEL] = { GIMP_PDB_FLOAT, "noise-level",
    N_("Noise sigma on the 0..255 scale (-1 = estimate)"),
    N_("Noise le_vel (-1: estimate):"), V (noise_level), -1, 255, SCALE, NULL },
  [GEN_GIMP2_ARG_STRENGTH] = { GIMP_PDB_FLOAT, "strength",
    N_("Denoise: blend with the original (1 = all result); vary: noise added (0..1)"),
    N_("Stre_ngth:"), V (strength), 0, 1, SCALE, NULL },
  [GEN_GIMP2_ARG_MODE] = { GIMP_PDB_INT32, "mode",
    N_("Denoise mode { one step, best PSNR (0), sample, sharper (1) }"),
    N_("Deno_ise mode:"), V (mode), 0, 1, COMBO,
    N_("One step (best PSNR)|Sample (sharper)") },
  [GEN_GIMP2_ARG_JUMP] = { GIMP_PDB_INT32, "jump",
    N_("How many steps each blending pass goes back (RePaint's jump length, 1..1000)"),
    N_("Pass le_ngth:"), V (jump), 1, 1000, SCALE, NULL },
  [GEN_GIMP2_ARG_RESAMPLE] = { GIMP_PDB_INT32, "resample",
    N_("How often each stretch of steps is redone so that the fill matches its "
       "surroundings (RePaint's resamplings, 1..100): more blend better and take longer"),
    N_("Blending _passes:"), V (resample), 1, 100, SCALE, NULL },
  [GEN_GIMP2_ARG_SAMPLE] = { GIMP_PDB_INT32, "sample",
    N_("Draw the encoding at random with the seed (a posterior sample) instead of "
       "taking its mean (TRUE, FALSE)"),
    N_("Random _encoding"), V (sample), 0, 1, TOGGLE, NULL },
  [GEN_GIMP2_ARG_FRAMES] = { GIMP_PDB_INT32, "frames", N_("Number of frames (1..256)"),
    N_("_Frames:"), V (frames), 1, 256, SCALE, NULL },
  [GEN_GIMP2_ARG_QUALITY] = { GIMP_PDB_INT32, "quality",
    N_("Denoise quality { fast (0), best: the model's estimate averaged over the image's 8 "
       "flips and turns, 4× slower and next to no better than fast (1) }"),
    N_("_Quality:"), V (quality), 0, 1, COMBO, N_("Fast|Best (4× slower)") },
  [GEN_GIMP2_ARG_CONTEXT] = { GIMP_PDB_INT32, "context",
    N_("How many pixels of the picture around the selection the model may look at "
       "to fill it (0..1024)"),
    N_("Conte_xt:"), V (context), 0, 1024, SCALE, NULL },
  [GEN_GIMP2_ARG_PROMPT] = { GIMP_PDB_STRING, "prompt",
    N_("What the picture should show, in words (models that take text only; others "
       "ignore it)"),
    N_("Descri_be:"), V (prompt), 0, 0, TEXT, NULL },
  [GEN_GIMP2_ARG_NEGATIVE] = { GIMP_PDB_STRING, "negative-prompt",
    N_("What the picture should not show (the negative prompt)"),
    N_("A_void:"), V (negative), 0, 0, TEXT, NULL },
  [GEN_GIMP2_ARG_GUIDANCE] = { GIMP_PDB_FLOAT, "guidance",
    N_("How closely to follow the prompt (the guidance scale, 0..30; 1 or less: the prompt "
       "alone, for turbo models)"),
    N_("_Follow the prompt:"), V (guidance), 0, 30, SCALE, NULL },
};

#undef V
#undef ENTRY
#undef SCALE
#undef COMBO
#undef TOGGLE
#undef SAMPLERS
#undef SIGMAS
#undef TEXT

char *
gen_gimp2_arg_desc (GenGimp2ArgId id)
{
  const GenGimp2Arg *a = &gen_gimp2_args[id];
  const GenSamplerInfo *sampler;
  const GenSigmaScheduleInfo *sigmas;
  GString *desc = g_string_new (NULL);
  char *users;

  switch (a->widget)
    {
    case GEN_GIMP2_WIDGET_SAMPLERS:
      g_string_append_printf (desc, "%s {", a->desc);
      for (int n = 0; (sampler = gen_sampler_info_from_number (n)); n++)
        g_string_append_printf (desc, "%s %s (%d)", n ? "," : "", sampler->label, n);
      g_string_append (desc, " }");
      break;
    case GEN_GIMP2_WIDGET_SIGMAS:
      users = gen_plugin_sigma_samplers (FALSE);
      g_string_append_printf (desc, a->desc, users);
      g_free (users);
      g_string_append (desc, " {");
      for (int n = 0; (sigmas = gen_sigma_schedule_info_from_number (n)); n++)
        g_string_append_printf (desc, "%s %s (%d)", n ? "," : "", sigmas->label, n);
      g_string_append (desc, " }");
      break;
    default:
      g_string_append (desc, a->desc);
    }
  return g_string_free (desc, FALSE);
}

int
gen_gimp2_job_args (GenPluginJob job, GenGimp2ArgId ids[GEN_GIMP2_N_ARGS])
{
  int n = 0;

  ids[n++] = GEN_GIMP2_ARG_MODEL;
  ids[n++] = GEN_GIMP2_ARG_VAE;
  if (job != GEN_PLUGIN_VAE)
    {
      ids[n++] = GEN_GIMP2_ARG_SCHEDULER;
      ids[n++] = GEN_GIMP2_ARG_SIGMAS;
      ids[n++] = GEN_GIMP2_ARG_STEPS;
      ids[n++] = GEN_GIMP2_ARG_ETA;
    }
  ids[n++] = GEN_GIMP2_ARG_SEED;
  ids[n++] = GEN_GIMP2_ARG_TILE;
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    ids[n++] = GEN_GIMP2_ARG_NEW_LAYER;
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      ids[n++] = GEN_GIMP2_ARG_WIDTH;
      ids[n++] = GEN_GIMP2_ARG_HEIGHT;
      break;
    case GEN_PLUGIN_DENOISE:
      ids[n++] = GEN_GIMP2_ARG_NOISE_LEVEL;
      ids[n++] = GEN_GIMP2_ARG_STRENGTH;
      ids[n++] = GEN_GIMP2_ARG_MODE;
      ids[n++] = GEN_GIMP2_ARG_QUALITY;
      break;
    case GEN_PLUGIN_INPAINT:
      ids[n++] = GEN_GIMP2_ARG_JUMP;
      ids[n++] = GEN_GIMP2_ARG_RESAMPLE;
      ids[n++] = GEN_GIMP2_ARG_CONTEXT;
      break;
    case GEN_PLUGIN_VARY:
      ids[n++] = GEN_GIMP2_ARG_STRENGTH;
      break;
    case GEN_PLUGIN_VAE:
      ids[n++] = GEN_GIMP2_ARG_SAMPLE;
      break;
    case GEN_PLUGIN_INTERPOLATE:
      ids[n++] = GEN_GIMP2_ARG_FRAMES;
      break;
    default:
      break;
    }
  if (gen_plugin_job_takes_prompt (job))
    {
      ids[n++] = GEN_GIMP2_ARG_PROMPT;
      ids[n++] = GEN_GIMP2_ARG_NEGATIVE;
      ids[n++] = GEN_GIMP2_ARG_GUIDANCE;
    }
  return n;
}

static void
last_values_init (GenGimp2Values *v, GenPluginJob job)
{
  GenPluginSettings s;

  gen_plugin_settings_init (&s, job);
  *v = (GenGimp2Values) {
    .scheduler = gen_sampler_info (s.opts.sampler)->number,
    .sigmas = gen_sigma_schedule_info (s.opts.sigmas)->number, .steps = s.opts.steps, .eta = s.opts.eta,
    .seed = 0, .tile = s.opts.tile, .new_layer = s.new_layer, .width = s.width,
    .height = s.height, .noise_level = s.noise_level, .strength = s.strength,
    .mode = s.denoise_mode, .jump = s.jump, .resample = s.resample, .sample = s.sample,
    .frames = s.frames, .quality = s.denoise_quality, .context = s.context,
    .guidance = s.opts.guidance,
  };
  gen_plugin_settings_clear (&s);
}

/* Reads argument ID of PARAM into V; FALSE when out of range or of the
 * wrong type (2.10 checks no ranges). */
static gboolean
read_arg (GenGimp2ArgId id, const GimpParam *param, GenGimp2Values *v)
{
  const GenGimp2Arg *def = &gen_gimp2_args[id];
  gpointer field = G_STRUCT_MEMBER_P (v, def->offset);
  double x;

  if (param->type != def->type)
    return FALSE;
  if (def->type == GIMP_PDB_STRING)
    return g_strlcpy (field, param->data.d_string ? param->data.d_string : "",
                      GEN_GIMP2_PATH_MAX) < GEN_GIMP2_PATH_MAX;
  x = def->type == GIMP_PDB_FLOAT ? param->data.d_float : param->data.d_int32;
  if (def->widget == GEN_GIMP2_WIDGET_SAMPLERS ? !gen_sampler_info_from_number ((int) x)
      : def->widget == GEN_GIMP2_WIDGET_SIGMAS ? !gen_sigma_schedule_info_from_number ((int) x)
      : !(x >= def->min && x <= def->max))
    return FALSE;
  if (def->type == GIMP_PDB_FLOAT)
    *(double *) field = x;
  else
    *(gint32 *) field = (gint32) x;
  return TRUE;
}

void
gen_gimp2_settings_from_values (const GenGimp2Values *v, GenPluginJob job, GenPluginSettings *s)
{
  const GenSamplerInfo *sampler = gen_sampler_info_from_number (v->scheduler);
  const GenSigmaScheduleInfo *sigmas = gen_sigma_schedule_info_from_number (v->sigmas);

  gen_plugin_settings_init (s, job);
  s->model = g_strdup (v->model);
  s->vae = g_strdup (v->vae);
  /* numbers no row has (stale last values) keep the defaults */
  if (sampler)
    s->opts.sampler = sampler->kind;
  if (sigmas)
    s->opts.sigmas = sigmas->schedule;
  s->opts.steps = v->steps;
  s->opts.eta = v->eta;
  s->opts.seed = v->seed >= 0 ? (guint64) v->seed : (guint64) g_random_int_range (0, G_MAXINT);
  s->opts.tile = v->tile;
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    s->new_layer = v->new_layer;
  s->width = v->width;
  s->height = v->height;
  s->noise_level = v->noise_level;
  s->strength = v->strength;
  s->denoise_mode = v->mode ? GEN_DENOISE_SAMPLE : GEN_DENOISE_FAST;
  s->denoise_quality = v->quality ? GEN_DENOISE_QUALITY_BEST : GEN_DENOISE_QUALITY_FAST;
  s->jump = v->jump;
  s->resample = v->resample;
  s->context = v->context;
  s->sample = v->sample;
  s->frames = v->frames;
  if (gen_plugin_job_takes_prompt (job))
    {
      s->prompt = g_strdup (v->prompt);
      s->negative_prompt = g_strdup (v->negative);
      s->opts.guidance = v->guidance;
    }
}

/* ---- query and run ------------------------------------------------------------ */

/* Where the catalogs are: a locale/ folder beside the plug-in (a plug-in
 * installed by hand with its translations, as GIMP 3 expects them), else
 * where meson installed them.  Caller frees. */
static char *
locale_dir (void)
{
  char *dir = gen_plugin_locale_dir (gimp_get_progname ());

  return dir ? dir : g_strdup (GEN_PLUGIN_LOCALEDIR);
}

/* The plug-in's own strings (dialog, messages, layer names) in the user's
 * language. */
static void
i18n_init (void)
{
  char *dir = locale_dir ();

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, dir);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_free (dir);
}

static void
query (void)
{
  static const GimpParamDef ret_layer[] = {
    { GIMP_PDB_LAYER, "layer", "The new layer (or the drawable written in place)" },
  };
  /* The message of an error goes where "layer" is: the INT32 count must
   * not be there, or GIMP 2.10 reads the string as the array's length. */
  static const GimpParamDef ret_layers[] = {
    { GIMP_PDB_LAYER, "layer", "The first new layer" },
    { GIMP_PDB_INT32, "num-layers", "The number of new layers" },
    { GIMP_PDB_INT32ARRAY, "layers", "The new layers' IDs" },
  };
  gimp_plugin_domain_register (GETTEXT_PACKAGE, locale_dir ());

  for (GenPluginJob job = 0; job < GEN_PLUGIN_N_JOBS; job++)
    {
      GenGimp2ArgId ids[GEN_GIMP2_N_ARGS];
      int n = gen_gimp2_job_args (job, ids);
      GimpParamDef params[3 + GEN_GIMP2_N_ARGS] = {
        { GIMP_PDB_INT32, "run-mode", "The run mode { RUN-INTERACTIVE (0), RUN-NONINTERACTIVE (1), RUN-WITH-LAST-VALS (2) }" },
        { GIMP_PDB_IMAGE, "image", "Input image" },
        { GIMP_PDB_DRAWABLE, "drawable", job == GEN_PLUGIN_INTERPOLATE
          ? "The end layer (the start is the layer below it)" : "Input drawable" },
      };
      char *name = gen_plugin_procedure_name (job);
      const GenPluginProcText *text = job == GEN_PLUGIN_INTERPOLATE ? &interpolate_2_10
                                                                    : &gen_plugin_proc_text[job];

      for (int i = 0; i < n; i++)
        params[3 + i] = (GimpParamDef) { gen_gimp2_args[ids[i]].type, (gchar *) gen_gimp2_args[ids[i]].name,
                                         gen_gimp2_arg_desc (ids[i]) };

      gimp_install_procedure (name, text->blurb, text->help,
                              "The Generative authors", "The Generative authors", "2025",
                              text->label, "RGB*, GRAY*", GIMP_PLUGIN, 3 + n,
                              job == GEN_PLUGIN_INTERPOLATE ? 3 : 1, params,
                              job == GEN_PLUGIN_INTERPOLATE ? ret_layers : ret_layer);
      gimp_plugin_menu_register (name, "<Image>/Filters/Generative");
      for (int i = 0; i < n; i++)
        g_free (params[3 + i].description);
      g_free (name);
    }
}

static void
run (const gchar *name, gint nparams, const GimpParam *param, gint *nreturn_vals,
     GimpParam **return_vals)
{
  static GimpParam values[4];
  static char *message;
  static gint32 *layers;
  GimpPDBStatusType status = GIMP_PDB_SUCCESS;
  GenPluginJob job = gen_plugin_job_from_procedure (name);
  GimpRunMode run_mode = nparams > 0 ? param[0].data.d_int32 : GIMP_RUN_NONINTERACTIVE;
  GenPluginSettings s;
  GenGimp2Values v;
  GError *error = NULL;
  GenGimp2ArgId ids[GEN_GIMP2_N_ARGS];
  int n = 0, n_layers = 0;

  i18n_init ();
  g_clear_pointer (&message, g_free);
  g_clear_pointer (&layers, g_free);
  *nreturn_vals = 1;
  *return_vals = values;
  values[0].type = GIMP_PDB_STATUS;

  if (job == GEN_PLUGIN_N_JOBS)
    {
      values[0].data.d_status = GIMP_PDB_CALLING_ERROR;
      return;
    }
  n = gen_gimp2_job_args (job, ids);
  last_values_init (&v, job);
  gimp_get_data (name, &v);
  if (nparams < 3)
    {
      status = GIMP_PDB_CALLING_ERROR;
      message = g_strdup_printf (_("%s takes %d arguments, got %d"), name, 3 + n, nparams);
    }
  else if (run_mode == GIMP_RUN_NONINTERACTIVE)
    {
      /* a libgimp caller that leaves off trailing appended arguments
       * (denoise's quality, inpaint's context, the prompt's three) gets
       * their defaults; Script-Fu and Python-Fu check the count themselves */
      GenGimp2Values defaults;

      last_values_init (&defaults, job);
      while (n > 0 && nparams < 3 + n && ids[n - 1] >= GEN_GIMP2_ARG_QUALITY)
        {
          gsize offset = gen_gimp2_args[ids[n - 1]].offset;
          gsize size = gen_gimp2_args[ids[n - 1]].type == GIMP_PDB_STRING ? GEN_GIMP2_PATH_MAX
                       : gen_gimp2_args[ids[n - 1]].type == GIMP_PDB_FLOAT ? sizeof (double)
                       : sizeof (gint32);

          memcpy (G_STRUCT_MEMBER_P (&v, offset), G_STRUCT_MEMBER_P (&defaults, offset), size);
          n--;
        }
      if (nparams != 3 + n)
        {
          status = GIMP_PDB_CALLING_ERROR;
          message = g_strdup_printf (_("%s takes %d arguments, got %d"), name, 3 + n, nparams);
        }
      for (int i = 0; i < n && status == GIMP_PDB_SUCCESS; i++)
        if (!read_arg (ids[i], &param[3 + i], &v))
          {
            status = GIMP_PDB_CALLING_ERROR;
            message = g_strdup_printf (_("Argument '%s' is out of range or of the wrong type"),
                                       gen_gimp2_args[ids[i]].name);
          }
    }
  else if (run_mode == GIMP_RUN_INTERACTIVE)
    {
      double estimate = -1.0;
      int w, h;

      /* a script's RUN-INTERACTIVE call with all arguments: its model and
       * VAE folders and its prompts, when given, are what the dialog
       * starts from */
      for (int i = 0; i < n && nparams == 3 + n; i++)
        if (gen_gimp2_args[ids[i]].type == GIMP_PDB_STRING
            && param[3 + i].type == GIMP_PDB_STRING && param[3 + i].data.d_string
            && param[3 + i].data.d_string[0])
          read_arg (ids[i], &param[3 + i], &v);
      gegl_init (NULL, NULL);
      if (job == GEN_PLUGIN_DENOISE)
        estimate = gen_gimp2_estimate_noise (param[2].data.d_drawable);
      gen_gimp2_settings_from_values (&v, job, &s);
      gen_gimp2_region_size (param[1].data.d_image, param[2].data.d_drawable, &s, &w, &h);
      gen_plugin_settings_clear (&s);
      if (!gen_gimp2_dialog (name, job, &v, GEN_PLUGIN_DEFAULT_MODEL, param[2].data.d_drawable,
                             w, h, estimate))
        status = GIMP_PDB_CANCEL;
    }

  if (status == GIMP_PDB_SUCCESS)
    {
      gegl_init (NULL, NULL);
      gen_gimp2_settings_from_values (&v, job, &s);
      /* interactive: in a thread behind a window whose Cancel stops the core */
      if (gen_gimp2_apply (param[1].data.d_image, param[2].data.d_drawable, &s,
                           run_mode == GIMP_RUN_INTERACTIVE ? gen_ui_run_job : NULL, &layers,
                           &n_layers, &error))
        {
          if (run_mode != GIMP_RUN_NONINTERACTIVE)
            gimp_set_data (name, &v, sizeof v);
        }
      else
        {
          status = g_error_matches (error, GEN_ERROR, GEN_ERROR_CANCELLED)
                   ? GIMP_PDB_CANCEL : GIMP_PDB_EXECUTION_ERROR;
          message = g_strdup (error->message);
          g_clear_error (&error);
        }
      gen_plugin_settings_clear (&s);
    }

  values[0].data.d_status = status;
  if (status != GIMP_PDB_SUCCESS)
    {
      if (message)
        {
          *nreturn_vals = 2;
          values[1].type = GIMP_PDB_STRING;
          values[1].data.d_string = message;
        }
    }
  else if (job == GEN_PLUGIN_INTERPOLATE)
    {
      *nreturn_vals = 4;
      values[1].type = GIMP_PDB_LAYER;
      values[1].data.d_layer = layers[0];
      values[2].type = GIMP_PDB_INT32;
      values[2].data.d_int32 = n_layers;
      values[3].type = GIMP_PDB_INT32ARRAY;
      values[3].data.d_int32array = layers;
    }
  else
    {
      *nreturn_vals = 2;
      values[1].type = GIMP_PDB_LAYER;
      values[1].data.d_layer = n_layers ? layers[0] : -1;
    }
}

const GimpPlugInInfo PLUG_IN_INFO = { NULL, NULL, query, run };

/* MAIN (), spelled out: first re-execute with OpenBLAS's AVX-512 kernels
 * where OpenBLAS picked slower ones.  exec keeps the process and the pipe
 * descriptors GIMP passed on ARGV, and nothing has talked to GIMP yet. */
int
main (int argc, char *argv[])
{
  gen_cpu_use_fast_blas (argv);
  return gimp_main (&PLUG_IN_INFO, argc, argv);
}
