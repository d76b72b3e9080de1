/* gen-plugin-run.h — one run of a Generative procedure, the same in GIMP
 * 2.10 and 3.0: check the image, load the model, read the drawables and
 * the selection, run the job with progress, and — only once it succeeded —
 * write new layers or the drawable's pixels in one undo group, each with a
 * name from the settings and the settings parasite.
 *
 * The few calls whose API differs between the two GIMPs (2.10 names images
 * and drawables by ID, 3.0 by object) come from the front end as a
 * GenPluginHost of one-line adapters (gen-gimp2-run.c, gen-gimp3-run.c);
 * progress, parasites and display flushes are the same libgimp call in
 * both and are made here. */
#pragma once

#include <libgimp/gimp.h>

#include "gen-plugin-settings.h"

G_BEGIN_DECLS

/* An image, drawable or layer as the front end names it: its GimpImage *,
 * GimpDrawable * or GimpLayer * in 3.0, GINT_TO_POINTER of its ID in 2.10.
 * NULL is none. */
typedef gpointer GenPluginItem;

typedef struct
{
  /* the image */
  GimpImageBaseType (*base_type)    (GenPluginItem image);
  void              (*image_size)   (GenPluginItem image, int *width, int *height);
  /* the selection's bounds in image coordinates; FALSE when it is empty */
  gboolean          (*selection_bounds) (GenPluginItem image, GeglRectangle *bounds);
  /* the selection mask's buffer (a new reference), or NULL when the
   * selection is empty */
  GeglBuffer       *(*selection)    (GenPluginItem image);
  void              (*undo_group)   (GenPluginItem image, gboolean start);
  /* a new RGBA (GRAYA when GRAY) layer of WIDTH×HEIGHT named NAME, on top
   * of the stack at 0, 0; NULL with the error set when GIMP refuses */
  GenPluginItem     (*layer_new)    (GenPluginItem image, const char *name, int width,
                                     int height, gboolean gray, GError **error);

  /* a drawable (or a layer) */
  char             *(*name)         (GenPluginItem drawable);   /* caller frees */
  gboolean          (*is_gray)      (GenPluginItem drawable);
  gboolean          (*has_alpha)    (GenPluginItem drawable);
  void              (*size)         (GenPluginItem drawable, int *width, int *height);
  /* the bounds of the selection within DRAWABLE (in its coordinates; all
   * of it when nothing is selected); FALSE when they do not meet */
  gboolean          (*mask_bounds)  (GenPluginItem drawable, GeglRectangle *bounds);
  void              (*offsets)      (GenPluginItem drawable, int *x, int *y);
  void              (*set_offsets)  (GenPluginItem layer, int x, int y);
  /* its pixels, or its shadow buffer (SHADOW), as a new reference */
  GeglBuffer       *(*buffer)       (GenPluginItem drawable, gboolean shadow);
  void              (*merge_shadow) (GenPluginItem drawable);
  void              (*update)       (GenPluginItem drawable, const GeglRectangle *rect);
  void              (*attach)       (GenPluginItem item, const GimpParasite *parasite);
} GenPluginHost;

/* Runs a job: JOB (DATA, ERROR) is the core's work, with OPTS its options.
 * A runner sets OPTS->progress and OPTS->cancel as it shows progress and
 * cancels (ui/gen-ui-progress.c: in a thread, behind a window with Cancel);
 * gen_plugin_apply without one runs the job here with GIMP's progress. */
typedef gboolean (*GenPluginJobFunc) (gpointer data, GError **error);
typedef gboolean (*GenPluginRunner)  (GenPluginJobFunc job, gpointer data, GenJobOptions *opts,
                                      const char *title, GError **error);

/* FALSE with a message when IMAGE is of a kind the jobs do not take
 * (indexed).  The front ends check this before anything else. */
gboolean gen_plugin_check_image (const GenPluginHost *host, GenPluginItem image,
                                 GError **error);

/* The noise level of the part of DRAWABLE a denoise would read (the
 * selection's bounds), for the dialog; -1 when there is none. */
double   gen_plugin_drawable_noise (const GenPluginHost *host, GenPluginItem drawable);

/* The part of DRAWABLE (its coordinates) S's job reads and the part it
 * writes: the selection's bounds within it; for inpaint the selection's
 * bounds in the image (outside the layer too, when the result is a new
 * layer: outpainting) and S->context pixels around them to read.  FALSE
 * with a message when there is nothing to work on. */
gboolean gen_plugin_job_region (const GenPluginHost *host, GenPluginItem image,
                                GenPluginItem drawable, const GenPluginSettings *s,
                                GeglRectangle *read, GeglRectangle *write, GError **error);

/* Runs S's job in IMAGE on SOURCES: none for generate, the start and the
 * end for interpolate, else one drawable (gen_plugin_job_region), through
 * RUNNER (NULL: here, with GIMP's progress).  On success the image has the
 * results in one undo group — new layers over the part written, or
 * SOURCES[0] rewritten when S->new_layer is FALSE — returned in *LAYERS
 * (*N_LAYERS of them, NULL-terminated, g_free; the drawable itself when
 * written in place); on failure, cancel included, nothing in the image
 * has changed. */
gboolean gen_plugin_apply (const GenPluginHost *host, GenPluginItem image,
                           const GenPluginItem *sources, GenPluginSettings *s,
                           GenPluginRunner runner, GenPluginItem **layers, int *n_layers,
                           GError **error);

G_END_DECLS
