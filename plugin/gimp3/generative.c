/* generative.c — the GIMP 3.0 plug-in: Filters → Generative.
 *
 * Registers one image procedure per core job; each reads its arguments
 * into a GenPluginSettings and runs gen_gimp3_run. */
#include <glib/gi18n.h>

#include "gen-cpu.h"
#include "gen-gimp3.h"

typedef struct
{
  GimpPlugIn parent_instance;
} Generative;

typedef struct
{
  GimpPlugInClass parent_class;
} GenerativeClass;

#define GENERATIVE_TYPE (generative_get_type ())
GType generative_get_type (void);

G_DEFINE_TYPE (Generative, generative, GIMP_TYPE_PLUG_IN)

static GList *
generative_query_procedures (G_GNUC_UNUSED GimpPlugIn *plug_in)
{
  GList *list = NULL;

  for (int j = GEN_PLUGIN_N_JOBS - 1; j >= 0; j--)
    list = g_list_prepend (list, gen_plugin_procedure_name (j));
  return list;
}

/* The rows of the core's sampler table, in their stable order: nick the
 * name, id the GenSamplerKind. */
static GimpChoice *
sampler_choice (void)
{
  GimpChoice *choice = gimp_choice_new ();
  const GenSamplerInfo *info;

  for (int n = 0; (info = gen_sampler_info_from_number (n)); n++)
    gimp_choice_add (choice, info->name, info->kind, _(info->label), NULL);
  return choice;
}

/* The same for the sigma schedules; id the GenSigmaSchedule. */
static GimpChoice *
sigma_choice (void)
{
  GimpChoice *choice = gimp_choice_new ();
  const GenSigmaScheduleInfo *info;

  for (int n = 0; (info = gen_sigma_schedule_info_from_number (n)); n++)
    gimp_choice_add (choice, info->name, info->schedule, _(info->label), NULL);
  return choice;
}

static void
add_common_arguments (GimpProcedure *p, GenPluginJob job)
{
  gboolean sampling = job != GEN_PLUGIN_VAE;

  gimp_procedure_add_string_argument (p, "model", _("_Model folder"),
                                      _("A diffusers model folder; empty for the installed default"),
                                      "", G_PARAM_READWRITE);
  gimp_procedure_add_string_argument (p, "vae", _("V_AE folder"),
                                      _("A VAE folder that adds or replaces the model's; empty for none"),
                                      "", G_PARAM_READWRITE);
  if (sampling)
    {
      GenJobOptions defaults;
      char *users = gen_plugin_sigma_samplers (TRUE);
      char *blurb = g_strdup_printf (_("How the noise levels are spaced over the steps "
                                       "(the sigma schedule; %s only)"), users);

      gen_job_options_init (&defaults);
      gimp_procedure_add_choice_argument (p, "scheduler", _("Sched_uler"),
                                          _("How the picture is stepped out of the noise "
                                            "(the scheduler)"),
                                          sampler_choice (),
                                          gen_sampler_kind_name (defaults.sampler),
                                          G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument (p, "sigmas", _("Step spacin_g"), blurb,
                                          sigma_choice (),
                                          gen_sigma_schedule_name (defaults.sigmas),
                                          G_PARAM_READWRITE);
      g_free (blurb);
      g_free (users);
      gimp_procedure_add_int_argument (p, "steps", _("S_teps"),
                                       _("Denoising steps: more are finer and slower"),
                                       1, 1000, 30, G_PARAM_READWRITE);
      gimp_procedure_add_double_argument (p, "eta", _("Randomn_ess"),
                                          _("Fresh noise added at each step (DDIM's eta; "
                                            "0 = none)"),
                                          0.0, 1.0, 0.0, G_PARAM_READWRITE);
    }
  gimp_procedure_add_int_argument (p, "seed", _("See_d"),
                                   _("Where the random noise starts: the same seed gives "
                                     "the same result"),
                                   0, G_MAXINT, 0, G_PARAM_READWRITE);
  gimp_procedure_add_int_argument (p, "tile-size", _("Tile si_ze"),
                                   _("Large images are worked in square tiles of this many "
                                     "pixels (0 = 512)"),
                                   0, 8192, 0, G_PARAM_READWRITE);
  if (job != GEN_PLUGIN_GENERATE && job != GEN_PLUGIN_INTERPOLATE)
    gimp_procedure_add_boolean_argument (p, "new-layer", _("Ne_w layer"),
                                         _("Put the result on a new layer (else replace the pixels)"),
                                         TRUE, G_PARAM_READWRITE);
}

static GimpProcedure *
generative_create_procedure (GimpPlugIn *plug_in, const gchar *name)
{
  GenPluginJob job = gen_plugin_job_from_procedure (name);
  GimpProcedure *p;

  if (job == GEN_PLUGIN_N_JOBS)
    return NULL;

  p = gimp_image_procedure_new (plug_in, name, GIMP_PDB_PROC_TYPE_PLUGIN, gen_gimp3_run,
                                GINT_TO_POINTER (job), NULL);
  gimp_procedure_set_image_types (p, "RGB*, GRAY*");
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      gimp_procedure_set_sensitivity_mask (p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE
                                              | GIMP_PROCEDURE_SENSITIVE_DRAWABLES
                                              | GIMP_PROCEDURE_SENSITIVE_NO_DRAWABLES);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      gimp_procedure_set_sensitivity_mask (p, GIMP_PROCEDURE_SENSITIVE_DRAWABLES);
      break;
    default:
      gimp_procedure_set_sensitivity_mask (p, GIMP_PROCEDURE_SENSITIVE_DRAWABLE);
    }
  gimp_procedure_set_menu_label (p, _(gen_plugin_proc_text[job].label));
  gimp_procedure_add_menu_path (p, "<Image>/Filters/Generative");
  gimp_procedure_set_documentation (p, _(gen_plugin_proc_text[job].blurb), _(gen_plugin_proc_text[job].help), name);
  gimp_procedure_set_attribution (p, "The Generative authors", "The Generative authors", "2025");

  add_common_arguments (p, job);
  switch (job)
    {
    case GEN_PLUGIN_GENERATE:
      gimp_procedure_add_int_argument (p, "width", _("_Width"),
                                       _("Width in pixels (0 = the model's native size)"),
                                       0, 16384, 0, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (p, "height", _("He_ight"),
                                       _("Height in pixels (0 = the model's native size)"),
                                       0, 16384, 0, G_PARAM_READWRITE);
      break;
    case GEN_PLUGIN_DENOISE:
      gimp_procedure_add_double_argument (p, "noise-level", _("Noise le_vel"),
                                          _("Noise sigma on the 0..255 scale (-1 = estimate)"),
                                          -1.0, 255.0, -1.0, G_PARAM_READWRITE);
      gimp_procedure_add_double_argument (p, "strength", _("Stre_ngth"),
                                          _("Blend of the result with the original (1 = all result)"),
                                          0.0, 1.0, 1.0, G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument (p, "mode", _("Deno_ise mode"), _("Denoising method"),
                                          gimp_choice_new_with_values (
                                            "fast", GEN_DENOISE_FAST, _("One step (best PSNR)"), NULL,
                                            "sample", GEN_DENOISE_SAMPLE, _("Sample (sharper)"), NULL,
                                            NULL),
                                          "fast", G_PARAM_READWRITE);
      gimp_procedure_add_choice_argument (p, "quality", _("_Quality"),
                                          _("Best averages the model's estimates of the image in "
                                            "its 8 flips and turns: 4× slower, next to no better "
                                            "than Fast"),
                                          gimp_choice_new_with_values (
                                            "fast", GEN_DENOISE_QUALITY_FAST, _("Fast"), NULL,
                                            "best", GEN_DENOISE_QUALITY_BEST, _("Best (4× slower)"), NULL,
                                            NULL),
                                          "fast", G_PARAM_READWRITE);
      break;
    case GEN_PLUGIN_INPAINT:
      gimp_procedure_add_int_argument (p, "jump", _("Pass le_ngth"),
                                       _("How many steps each blending pass goes back "
                                         "(RePaint's jump length)"),
                                       1, 1000, 10, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (p, "resample", _("Blending _passes"),
                                       _("How often each stretch of steps is redone so that "
                                         "the fill matches its surroundings (RePaint's "
                                         "resamplings): more blend better and take longer"),
                                       1, 100, 10, G_PARAM_READWRITE);
      gimp_procedure_add_int_argument (p, "context", _("Conte_xt"),
                                       _("How many pixels of the picture around the "
                                         "selection the model may look at to fill it"),
                                       0, 1024, 64, G_PARAM_READWRITE);
      break;
    case GEN_PLUGIN_VARY:
      gimp_procedure_add_double_argument (p, "strength", _("Stre_ngth"),
                                          _("How much noise to add before denoising (0..1)"),
                                          0.0, 1.0, 0.5, G_PARAM_READWRITE);
      break;
    case GEN_PLUGIN_VAE:
      gimp_procedure_add_boolean_argument (p, "sample", _("Random _encoding"),
                                           _("Draw the encoding at random with the seed (a "
                                             "posterior sample) instead of taking its mean"),
                                           FALSE, G_PARAM_READWRITE);
      break;
    case GEN_PLUGIN_INTERPOLATE:
      gimp_procedure_add_int_argument (p, "frames", _("_Frames"), _("Number of frames"),
                                       1, 256, 8, G_PARAM_READWRITE);
      break;
    default:
      break;
    }

  if (gen_plugin_job_takes_prompt (job))
    {
      GenJobOptions defaults;

      gen_job_options_init (&defaults);
      gimp_procedure_add_string_argument (p, "prompt", _("Prompt"),
                                          _("What the picture should show, in words (models "
                                            "that take text only; others ignore it)"),
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_string_argument (p, "negative-prompt", _("A_void"),
                                          _("What the picture should not show (the negative "
                                            "prompt)"),
                                          "", G_PARAM_READWRITE);
      gimp_procedure_add_double_argument (p, "guidance", _("_Follow the prompt"),
                                          _("How closely to follow the prompt (the guidance "
                                            "scale; 1 or less: the prompt alone, for turbo "
                                            "models)"),
                                          0.0, 30.0, defaults.guidance, G_PARAM_READWRITE);
    }

  if (job == GEN_PLUGIN_INTERPOLATE)
    gimp_procedure_add_core_object_array_return_value (p, "layers", _("Layers"), _("The new layers"),
                                                       GIMP_TYPE_LAYER, G_PARAM_READWRITE);
  else
    gimp_procedure_add_layer_return_value (p, "layer", _("Layer"),
                                           _("The new layer (or the drawable written in place)"),
                                           FALSE, G_PARAM_READWRITE);
  return p;
}

/* The default domain "generative" (the plug-in's folder name), catalogs in
 * <plug-in dir>/locale where po/ installs them; no localization (and no
 * warning) when that folder is missing, e.g. a plug-in copied alone. */
static gboolean
generative_set_i18n (G_GNUC_UNUSED GimpPlugIn  *plug_in,
                     G_GNUC_UNUSED const gchar *procedure_name,
                     G_GNUC_UNUSED gchar      **gettext_domain,
                     G_GNUC_UNUSED gchar      **catalog_dir)
{
  gchar    *locale = gen_plugin_locale_dir (gimp_get_progname ());
  gboolean  found = locale != NULL;

  g_free (locale);
  return found;
}

static void
generative_class_init (GenerativeClass *klass)
{
  GimpPlugInClass *plug_in_class = GIMP_PLUG_IN_CLASS (klass);

  plug_in_class->query_procedures = generative_query_procedures;
  plug_in_class->create_procedure = generative_create_procedure;
  plug_in_class->set_i18n = generative_set_i18n;
}

static void
generative_init (G_GNUC_UNUSED Generative *self)
{
}

/* GIMP_MAIN, spelled out: first re-execute with OpenBLAS's AVX-512 kernels
 * where OpenBLAS picked slower ones.  exec keeps the process and the pipe
 * descriptors GIMP passed on ARGV, and nothing has talked to GIMP yet. */
int
main (int argc, char *argv[])
{
  gen_cpu_use_fast_blas (argv);
  return gimp_main (GENERATIVE_TYPE, argc, argv);
}
