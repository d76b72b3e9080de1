/* gen-plugin-settings.h — one run of a Generative procedure, as plain C.
 *
 * Both GIMP front ends fill a GenPluginSettings from their arguments
 * (GimpProcedureConfig in 3.0, GimpParam in 2.10) and share the rest:
 * finding the model, naming the new layer, the settings parasite. */
#pragma once

#include "gen-job.h"

G_BEGIN_DECLS

typedef enum
{
  GEN_PLUGIN_GENERATE,
  GEN_PLUGIN_DENOISE,
  GEN_PLUGIN_INPAINT,
  GEN_PLUGIN_VARY,
  GEN_PLUGIN_VAE,
  GEN_PLUGIN_INTERPOLATE,
  GEN_PLUGIN_N_JOBS
} GenPluginJob;

/* The installed default model (meson sets it from the prefix). */
#ifndef GEN_PLUGIN_DEFAULT_MODEL
#define GEN_PLUGIN_DEFAULT_MODEL "/usr/share/generative/generative-unet"
#endif

/* The name of the job's parasite, attached to every new layer. */
#define GEN_PLUGIN_PARASITE "generative-settings"

typedef struct
{
  GenPluginJob   job;
  char          *model;         /* folder; "" or NULL = the installed default */
  char          *vae;           /* folder or NULL */
  GenJobOptions  opts;          /* sampler, sigmas, steps, eta, seed, tile, guidance;
                                   its prompt strings point at the two below for a run */
  char          *prompt;        /* generate, inpaint, vary: NULL or "" = none; only models
                                   that take text read it (gen_plugin_model_takes_text) */
  char          *negative_prompt;
  double         strength;      /* denoise, vary: 0..1 */
  double         noise_level;   /* denoise: σ on 0..255, < 0 = estimate */
  GenDenoiseMode denoise_mode;
  GenDenoiseQuality denoise_quality;
  int            width, height; /* generate: 0 = the model's size */
  int            jump, resample;/* inpaint: RePaint */
  int            context;       /* inpaint: pixels around the selection the model may see */
  int            frames;        /* interpolate */
  gboolean       sample;        /* vae: sample the posterior */
  gboolean       new_layer;     /* FALSE = write into the drawable */
} GenPluginSettings;

/* Defaults for JOB; free the strings with gen_plugin_settings_clear. */
void  gen_plugin_settings_init (GenPluginSettings *s, GenPluginJob job);
void  gen_plugin_settings_clear (GenPluginSettings *s);

/* Menu label, blurb and help of each procedure (N_() strings: translate
 * with _() where shown). */
typedef struct
{
  const char *label;
  const char *blurb;
  const char *help;
} GenPluginProcText;

extern const GenPluginProcText gen_plugin_proc_text[GEN_PLUGIN_N_JOBS];

/* TRUE when JOB has the prompt, negative prompt and guidance settings. */
gboolean gen_plugin_job_takes_prompt (GenPluginJob job);

/* Forgets S's prompt, negative prompt and guidance (back to the
 * defaults): what a run does for a model that takes no text, so that
 * they are ignored and recorded nowhere. */
void gen_plugin_settings_forget_prompt (GenPluginSettings *s);

/* The prompt as a layer name shows it: its first line, cut to about
 * MAX_CHARS characters with "…"; NULL when S has none.  Caller frees. */
char *gen_plugin_settings_prompt_short (const GenPluginSettings *s, int max_chars);

/* "generate", "denoise", … as in the procedure names. */
const char *gen_plugin_job_name (GenPluginJob job);

/* The labels of the samplers a sigma schedule applies to, ", "-separated in
 * the dialogs' order (the stable numbers of gen-sampler-table.h),
 * translated when TRANSLATE: for the blurb N_("Sigma spacing (%s only)").
 * Caller frees. */
char *gen_plugin_sigma_samplers (gboolean translate);

/* The PDB procedure of JOB, "plug-in-generative-denoise" (caller frees),
 * and the job of procedure NAME (GEN_PLUGIN_N_JOBS when none). */
char         *gen_plugin_procedure_name (GenPluginJob job);
GenPluginJob  gen_plugin_job_from_procedure (const char *name);

/* The locale/ folder beside the plug-in's binary PROGNAME
 * (gimp_get_progname), where translations installed with it live (as
 * GIMP 3 expects them); NULL when there is none.  Caller frees. */
char         *gen_plugin_locale_dir (const char *progname);

/* The built-in VAE, installed beside the built-in model DEFAULT_DIR; NULL
 * when it is not there.  Caller frees. */
char *gen_plugin_builtin_vae_dir (const char *default_dir);

/* The folder "the built-in model" stands for in JOB with the VAE folder
 * VAE ("" or NULL: none): DEFAULT_DIR, but the built-in VAE for a VAE
 * round trip given no VAE of its own.  Caller frees. */
char *gen_plugin_builtin_dir (GenPluginJob job, const char *vae, const char *default_dir);

/* The model folder to load: S->model, or the built-in one
 * (gen_plugin_builtin_dir) when that is empty.  NULL with an error naming
 * the folder when it does not exist.  Caller frees. */
char *gen_plugin_model_dir (const GenPluginSettings *s, const char *default_dir, GError **error);

/* Checks what S's job needs of its first input IN0 (inpaint: a non-empty
 * selection MASK0, aligned with IN0) and allocates its outputs: *N_OUT
 * buffers in *OUT (generate: the requested or the model's size, RGB;
 * otherwise IN0's shape).  Free each with gen_pixels_clear, then
 * *OUT with g_free (also on failure). */
gboolean gen_plugin_prepare_outputs (GenPipeline *p, const GenPluginSettings *s,
                                     const GenPixels *in0, const float *mask0, GenPixels **out,
                                     int *n_out, GError **error);

/* Runs S's job on IN (IN[1] too for interpolate) with MASK (may be NULL)
 * into OUT[0..N_OUT): the core's job, then what GIMP adds — vary and the VAE
 * fade into a soft selection, inpaint fills all that is selected (the
 * front end lays it over the picture as the selection says), and a
 * generated layer of a gray image becomes gray.  *SIGMA_USED gets denoise's noise level.  OUT is replaced on the
 * gray conversion (the old buffer cleared). */
gboolean gen_plugin_run_job (GenPipeline *p, GenPluginSettings *s, const GenPixels *in,
                             const float *mask, GenPixels *out, int n_out, gboolean gray_image,
                             double *sigma_used, GError **error);

/* Loads the pipeline S names; *MODEL_USED (may be NULL) gets the folder
 * loaded (caller frees).  A folder that is not a model the core runs is
 * an error saying so in the dialog's words, with the reason after it. */
GenPipeline *gen_plugin_load (const GenPluginSettings *s, const char *default_dir,
                              char **model_used, GError **error);

/* A short layer name: "Denoise (seed 7, ddim 30 steps)", with the prompt
 * (short) in quotes after the first word where there is one; FRAME ≥ 0
 * adds "frame N".  Caller frees. */
char *gen_plugin_settings_layer_name (const GenPluginSettings *s, int frame);

/* Every setting as "key=value" lines, for the parasite, with MODEL_USED
 * (the folder loaded) as the model; a prompt (its line breaks as spaces),
 * negative prompt and guidance where S has a prompt.  Caller frees. */
char *gen_plugin_settings_serialize (const GenPluginSettings *s, const char *model_used,
                                     double sigma_used);

G_END_DECLS
