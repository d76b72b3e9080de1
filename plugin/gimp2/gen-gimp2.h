/* gen-gimp2.h — the GIMP 2.10 front end: registration, arguments and main
 * (generative.c), running a job (gen-gimp2-run.c); the dialog is
 * ui/gimp2/gen-gimp2-dialog.c. */
#pragma once

#include <libgimp/gimp.h>

#include "gen-plugin-run.h"

G_BEGIN_DECLS

#define GEN_GIMP2_BINARY "generative"
#define GEN_GIMP2_PATH_MAX 1024

/* The arguments after run-mode, image, drawable; each procedure takes the
 * subset gen_gimp2_job_args lists, in this order.  Those from QUALITY on
 * were appended in later versions: a libgimp call may leave them off. */
typedef enum
{
  GEN_GIMP2_ARG_MODEL, GEN_GIMP2_ARG_VAE, GEN_GIMP2_ARG_SCHEDULER, GEN_GIMP2_ARG_SIGMAS,
  GEN_GIMP2_ARG_STEPS, GEN_GIMP2_ARG_ETA, GEN_GIMP2_ARG_SEED, GEN_GIMP2_ARG_TILE,
  GEN_GIMP2_ARG_NEW_LAYER, GEN_GIMP2_ARG_WIDTH, GEN_GIMP2_ARG_HEIGHT,
  GEN_GIMP2_ARG_NOISE_LEVEL, GEN_GIMP2_ARG_STRENGTH, GEN_GIMP2_ARG_MODE, GEN_GIMP2_ARG_JUMP,
  GEN_GIMP2_ARG_RESAMPLE, GEN_GIMP2_ARG_SAMPLE, GEN_GIMP2_ARG_FRAMES,
  GEN_GIMP2_ARG_QUALITY,  /* appended: a call without it means fast */
  GEN_GIMP2_ARG_CONTEXT,  /* appended: a call without it means the default */
  GEN_GIMP2_ARG_PROMPT,   /* appended to generate, inpaint and vary, with the two below */
  GEN_GIMP2_ARG_NEGATIVE,
  GEN_GIMP2_ARG_GUIDANCE,
  GEN_GIMP2_N_ARGS
} GenGimp2ArgId;

/* Every argument's value, flat, so that gimp_get_data/gimp_set_data can
 * keep the last ones. */
typedef struct
{
  char   model[GEN_GIMP2_PATH_MAX], vae[GEN_GIMP2_PATH_MAX];
  gint32 scheduler, sigmas, steps, seed, tile, new_layer, width, height, mode, jump,
         resample, sample, frames, context;
  double eta, noise_level, strength;
  gint32 quality;   /* from here on: older saved values lack them */
  char   prompt[GEN_GIMP2_PATH_MAX], negative[GEN_GIMP2_PATH_MAX];
  double guidance;
} GenGimp2Values;

/* SAMPLERS and SIGMAS are combos of the core's sampler / sigma schedule
 * rows, whose stable numbers (gen-sampler-table.h) are the INT32 values. */
typedef enum
{
  GEN_GIMP2_WIDGET_ENTRY, GEN_GIMP2_WIDGET_SCALE, GEN_GIMP2_WIDGET_COMBO,
  GEN_GIMP2_WIDGET_TOGGLE, GEN_GIMP2_WIDGET_SAMPLERS, GEN_GIMP2_WIDGET_SIGMAS,
  GEN_GIMP2_WIDGET_TEXT     /* multi-line text */
} GenGimp2Widget;

typedef struct
{
  GimpPDBArgType  type;         /* STRING: char[GEN_GIMP2_PATH_MAX] (longer is refused);
                                   INT32: gint32; FLOAT: double */
  const char     *name;
  const char     *desc;         /* SIGMAS: a format for gen_plugin_sigma_samplers () */
  const char     *label;        /* N_() */
  gsize           offset;       /* of the value in GenGimp2Values */
  double          min, max;     /* checked on every call: 2.10 checks no ranges
                                   (SAMPLERS, SIGMAS: a row's number) */
  GenGimp2Widget  widget;
  const char     *choices;      /* COMBO: "|"-separated N_() labels of 0, 1, … */
} GenGimp2Arg;

extern const GenGimp2Arg gen_gimp2_args[GEN_GIMP2_N_ARGS];

/* The arguments of JOB, in order, into IDS; returns how many. */
int gen_gimp2_job_args (GenPluginJob job, GenGimp2ArgId ids[GEN_GIMP2_N_ARGS]);

/* The PDB description of argument ID, in English: its desc, and for the
 * table combos their rows' labels and numbers.  Caller frees. */
char *gen_gimp2_arg_desc (GenGimp2ArgId id);

/* The size of the region S's job would work on in DRAWABLE_ID (0 × 0 for
 * generate, or when there is none), for the dialog's estimate. */
void gen_gimp2_region_size (gint32 image_ID, gint32 drawable_ID, const GenPluginSettings *s,
                            int *width, int *height);

/* The noise level of DRAWABLE_ID where a denoise would read it, for the
 * dialog; -1 when it cannot be read. */
double gen_gimp2_estimate_noise (gint32 drawable_ID);

/* Runs S->job on DRAWABLE_ID of IMAGE_ID (for interpolate: from the layer
 * below DRAWABLE_ID to DRAWABLE_ID) through RUNNER (NULL: with GIMP's
 * progress).  On success the image has the new layers, whose IDs are
 * returned in *LAYERS (*N_LAYERS of them, g_free); on failure nothing in
 * the image has changed. */
gboolean gen_gimp2_apply (gint32 image_ID, gint32 drawable_ID, GenPluginSettings *s,
                          GenPluginRunner runner, gint32 **layers, int *n_layers,
                          GError **error);

/* The settings of JOB's run from V (for the dialog's estimate and
 * preview too).  Clear with gen_plugin_settings_clear. */
void gen_gimp2_settings_from_values (const GenGimp2Values *v, GenPluginJob job,
                                     GenPluginSettings *s);

G_END_DECLS
