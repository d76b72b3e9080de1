/* gen-job-private.h — what the jobs' files share (core/jobs only).
 *
 * Images enter as interleaved 0..1 pixels and become the model's space: an
 * NCHW tensor in [-1, 1] (RGB, or gray for a 1-channel UNet), reflected to a
 * multiple of what the models need, and — for a latent UNet — encoded by the
 * VAE ((z − shift) · scaling_factor).  Every UNet evaluation and VAE pass
 * runs through the tiler, so any size works in bounded memory.
 *
 * Where each part lives:
 *   gen-pipeline.c      loading the model chain
 *   gen-pipeline-sd.c   loading a Stable Diffusion pipeline folder
 *   gen-text-cond.c     prompts → text embeddings; classifier-free guidance
 *   gen-run.c           a run: options, threads, arenas, progress, cancel, clock
 *   gen-finite.c        model outputs checked for NaN / Inf
 *   gen-plan.c          a run's memory, measured and fitted before it is taken
 *   gen-pixels-tensor.c pixels ⇄ tensors, result buffers, input checks
 *   gen-eval.c          model evaluations through the tiler; the model space
 *   gen-noise-level.c   schedule arithmetic for the jobs that leave the sampler's grid
 *   gen-sample-loop.c   the sampling loop over a GenSampler
 *   gen-dihedral.c      the eight flips and quarter turns (denoise's ensemble)
 *   gen-noise-estimate.c the noise level of an image (denoise's sigma auto)
 *   gen-generate.c, gen-denoise.c, gen-denoise-fast.c, gen-vary.c,
 *   gen-vae-round-trip.c, gen-inpaint.c, gen-interpolate.c   one job each
 *   gen-inpaint-fill.c, gen-inpaint-refine.c   inpaint's harmonic fill and its refinement
 *   gen-inpaint-sd.c    inpaint with a Stable Diffusion pipeline
 */
#pragma once

#include "gen-error.h"
#include "gen-job.h"
#include "gen-tokenizer.h"
#include "gen-tile.h"

G_BEGIN_DECLS

#define GEN_JOB_DEFAULT_TILE 512   /* tile edge in pixels when the options give 0 */

/* ---- the pipeline (gen-pipeline.c) --------------------------------------------- */

struct _GenPipeline
{
  GenModel       *unet;
  GenModel       *vae;
  GenSchedConfig *sched;
  gboolean        latent;   /* the UNet works on the VAE's latents */
  GenModel       *text;     /* Stable Diffusion: CLIPTextModel, else NULL */
  GenTokenizer   *tok;      /* with TEXT */
};

/* A Stable Diffusion pipeline folder (gen-pipeline-sd.c): one with
 * model_index.json, or a text_encoder/ beside unet/. */
gboolean gen_pipeline_is_sd (const char *dir);
/* Loads the SD pipeline at DIR into P (VAE_DIR, if not NULL, replaces its
 * VAE): text encoder, tokenizer, conditional UNet, VAE, scheduler config. */
gboolean gen_pipeline_load_sd (GenPipeline *p, const char *dir, const char *vae_dir,
                               GError **error);
/* Loads the single-file checkpoint PATH into P, with the tokenizer folder
 * VOCAB_DIR (the CLIP vocabulary installed with the program; NULL is an
 * error saying so) and SD 1.5's scheduler config. */
gboolean gen_pipeline_load_single (GenPipeline *p, const char *path, const char *vae_dir,
                                   const char *vocab_dir, GError **error);

/* The VAE's downscale when the UNet works on its latents, else 1. */
int      gen_pipeline_vae_factor (GenPipeline *p);
/* The UNet's downscale (sizes in its space are multiples of it), or 1. */
int      gen_pipeline_unet_multiple (GenPipeline *p);
/* FALSE with an error naming JOB when P has no UNet, or when its UNet is an
 * inpainting one (in_channels 9) and JOB does not FILL (inpaint does). */
gboolean gen_pipeline_need_unet (GenPipeline *p, const char *job, gboolean fill,
                                 GError **error);

/* ---- a run (gen-run.c) ------------------------------------------------------------
 * Everything one job call needs besides the read-only pipeline; it ends with
 * the call. */

typedef struct
{
  GenPipeline         *p;
  const GenJobOptions *o;
  int                  threads;       /* the core's threads while the run lasts */
  int                  outer_threads; /* theirs before it, given back by gen_run_clear */
  GTimer              *timer;
  int                  done, total;   /* model evaluations, for the progress callback */
  GenArena            *arenas[GEN_MAX_THREADS]; /* each tile worker's activations,
                                                         made before the workers start */
  gsize                arena_peak;    /* the most one released arena held, for the stats */
  int                  arena_workers; /* how many arenas were released */
  /* text conditioning (gen-text-cond.c); NULL / 0 without a text encoder */
  float               *ctx;           /* [batch, ctx_len, hidden]: [negative,] prompt */
  int64_t              ctx_len;
  int                  batch;         /* 2: classifier-free guidance, else 1 */
  float               *tcond;         /* LCM: [time_cond_proj_dim] guidance embedding */
  /* memory (gen-plan.c) */
  int                  tile;          /* tile edge in pixels (the options', or the plan's) */
  int                  workers;       /* tiles side by side (the threads, or the plan's) */
  gsize                arena_bytes;   /* each worker's arena as the plan measured it, or 0 */
} GenRun;

/* Starts a run of TOTAL evaluations (at least 1; may be set later) and sets
 * the core's threads for it. */
void     gen_run_init (GenRun *r, GenPipeline *p, const GenJobOptions *o, int total);
/* Fills the options' stats, frees the arenas, gives the threads back. */
void     gen_run_clear (GenRun *r);
/* Frees the arenas now (a job's model work is done), keeping their figures
 * for the stats. */
void     gen_run_release_arenas (GenRun *r);
/* One evaluation done: the progress callback. */
void     gen_run_tick (GenRun *r);
/* TRUE with GEN_ERROR_CANCELLED when the options' cancel flag is set. */
gboolean gen_run_cancelled (GenRun *r, GError **error);
/* The tile edge the options ask for (pixels). */
int      gen_run_tile (const GenRun *r);
/* An arena for each of T's workers (each grows to one tile's activations). */
void     gen_run_ready_arenas (GenRun *r, const GenTiler *t);

/* ---- text conditioning (gen-text-cond.c) --------------------------------------- */

/* Encodes the options' prompts once for the run when the pipeline has a
 * text encoder (an error if a prompt is given to one without). */
gboolean gen_run_encode_text (GenRun *r, GError **error);
/* OUT = the guided UNet output for the tile IN at TIMESTEP (needs the
 * run's encoded text). */
gboolean gen_job_unet_cond_tile (GenRun *r, int worker, float timestep, const GenTensor *in,
                                 GenTensor *out, GError **error);

/* ---- a run's memory (gen-plan.c) ----------------------------------------------
 * Fits the run's workers and tile to the memory the process can take for an
 * IH×IW image on a PH×PW canvas, before the job allocates its images:
 * fewer workers first, then smaller tiles; FALSE with a NO_MEMORY error
 * giving the figures when nothing fits.  Sets R's tile, workers and
 * arena_bytes; called by gen_space_init. */
gboolean gen_run_plan (GenRun *r, int64_t ih, int64_t iw, int64_t ph, int64_t pw, GError **error);

/* FALSE with an error naming MODEL, its PART ("UNet", "VAE decoder", …) and
 * the step when the tile T it produced holds a NaN or an Inf (gen-finite.c).
 * Every tile function calls it on its output. */
gboolean gen_run_check_finite (GenRun *r, GenModel *model, const char *part, const GenTensor *t,
                               GError **error);

/* ---- pixels ⇄ tensors (gen-pixels-tensor.c) ------------------------------------ */

/* N floats (uninitialised), or NULL with NO_MEMORY. */
float   *gen_job_alloc_floats (gsize n, GError **error);
/* I reflected into 0..N−1 (whole-sample symmetric, as numpy's 'reflect'). */
int64_t  gen_pixels_reflect (int64_t i, int64_t n);
/* FALSE with an error naming WHAT for an empty, too small or odd image. */
gboolean gen_pixels_check (const GenPixels *px, const char *what, GError **error);
/* FALSE with an error naming WHAT unless B is allocated with A's shape. */
gboolean gen_pixels_same_shape (const GenPixels *a, const GenPixels *b, const char *what,
                                GError **error);
/* IN as a [1, MC, PH, PW] tensor in [-1, 1] (see gen-pixels-tensor.c). */
float   *gen_pixels_to_tensor (const GenPixels *in, int mc, int64_t ph, int64_t pw,
                               GError **error);
/* The top-left of T [1, MC, PH, PW] into OUT, clamped to 0..1; alpha from
 * ALPHA_SRC (same size) or opaque. */
void     gen_pixels_from_tensor (const float *t, int mc, int64_t ph, int64_t pw,
                                 const GenPixels *alpha_src, GenPixels *out);
/* The same with IN's pixel (y, x) at (y + OY, x + OX) of the tensor, IN
 * reflected around it; and OUT read from there. */
float   *gen_pixels_to_tensor_at (const GenPixels *in, int mc, int64_t ph, int64_t pw, int oy,
                                  int ox, GError **error);
void     gen_pixels_from_tensor_at (const float *t, int mc, int64_t ph, int64_t pw, int oy, int ox,
                                    const GenPixels *alpha_src, GenPixels *out);

/* Where a job builds its image-sized result (IN's shape): OUT's own buffer
 * when the options allow it and OUT does not share IN's memory, else a new
 * one.  gen_job_result_finish copies it to OUT on success;
 * gen_job_result_free frees it if it was new. */
float   *gen_job_result_new (const GenJobOptions *o, const GenPixels *in, GenPixels *out,
                             GError **error);
void     gen_job_result_finish (float *res, const GenPixels *in, GenPixels *out);
void     gen_job_result_free (float *res, const GenPixels *out);

/* ---- model evaluations through the tiler (gen-eval.c) -------------------------- */

/* Model space: a canvas of the UNet's (or VAE's) space. */
typedef struct
{
  int64_t   ih, iw;     /* the image */
  int64_t   ph, pw;     /* padded image canvas (pixels) */
  int64_t   mh, mw, mc; /* model space (mc: the state's channels, the UNet's output) */
  int64_t   uc;         /* the UNet's input channels: mc, or 2·mc + 1 for an inpainting UNet */
  float    *unet_in;    /* [uc, mh, mw] when uc > mc, else NULL: the UNet's input, the state
                           (scaled) then the channels an inpaint job fills in; owned, freed
                           by gen_space_clear */
  GenTiler *unet_tiler; /* over the model space, uc channels in, mc out; NULL without a UNet */
} GenSpace;

/* The model space of an H×W image for R's pipeline (without a UNet only
 * the padded canvas: mc 0, no tiler), after the run's plan. */
gboolean gen_space_init (GenSpace *s, GenRun *r, int64_t h, int64_t w, GError **error);
/* The same without the plan: the model space at R's tile and workers. */
gboolean gen_space_tiler (GenSpace *s, GenRun *r, int64_t h, int64_t w, GError **error);
/* The tiler of R's VAE over an H×W canvas (pixels to encode, else latents). */
GenTiler *gen_job_vae_tiler (GenRun *r, int64_t h, int64_t w, gboolean encode, GError **error);
void     gen_space_clear (GenSpace *s);

/* gen_tiler_run (with the options' cancel flag) once an arena is ready for
 * each of T's workers: every tiled model evaluation of the jobs but the
 * streamed fast denoise goes through here. */
gboolean gen_job_run_tiles (GenRun *r, GenTiler *t, const GenTensor *in, float in_scale,
                            GenTensor *out, GenTileFunc func, gpointer data, GError **error);
/* OUT = unet (X · IN_SCALE, T) over the tiles; both [1, mc, mh, mw]. */
gboolean gen_job_unet_eval (GenRun *r, GenSpace *s, const float *x, float in_scale, double t,
                            float *out, GError **error);
/* One tiled VAE pass: ENCODE maps IN [1, 3, H, W] (pixels, [-1, 1]) to the
 * mean latent (unscaled), else the latent [1, L, H, W] to pixels. */
gboolean gen_job_vae_pass (GenRun *r, gboolean encode, const float *in, int64_t h, int64_t w,
                           float *out, GError **error);
/* A GenTileFunc for the VAE's encoder (DATA: the GenRun): the mean latent. */
gboolean gen_job_encode_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                              GError **error);
/* Image pixels → model space X0 [mc, mh, mw] (new; g_free). */
float   *gen_job_to_model_space (GenRun *r, GenSpace *s, const GenPixels *in, GError **error);
/* The latents of IN as diffusers' pipelines take them from a KL VAE
 * (retrieve_latents with sample_mode "sample"): a draw from the posterior,
 * mean + exp(logvar / 2)·ε (logvar clamped to −30..20, ε RNG's next randn
 * of the latent's size), then (z − shift)·scaling_factor; the mean, and no
 * draw, for a VAE without variance.  One untiled encoder pass: [mc, mh, mw]
 * (g_free). */
float   *gen_job_encode_sample (GenRun *r, GenSpace *s, const GenPixels *in, GenRng *rng,
                                GError **error);
/* Model space X0 → OUT pixels (alpha from ALPHA_SRC). */
gboolean gen_job_from_model_space (GenRun *r, GenSpace *s, const float *x0,
                                   const GenPixels *alpha_src, GenPixels *out, GError **error);

/* ---- schedule arithmetic off the sampler's grid (gen-noise-level.c) ------------ */

/* ᾱ at a fractional timestep T. */
double   gen_job_abar_at (const GenSchedConfig *cfg, double t);
/* The fractional timestep whose ᾱ is ABAR. */
double   gen_job_timestep_for_abar (const GenSchedConfig *cfg, double abar);
/* x0 and ε (either may be NULL) of N values from the model's OUT at state X
 * and ᾱ ABAR, by the config's prediction type. */
void     gen_job_split_output (const GenSchedConfig *cfg, double abar, const float *x,
                               const float *out, float *x0, float *eps, gint64 n);

/* ---- the sampling loop (gen-sample-loop.c) ------------------------------------- */

/* Runs after step I of the loop on the state X (inpaint's blending). */
typedef void (*GenStepHook) (gpointer data, int i, float *x);

/* The options' sampler, with room for N-value states. */
GenSampler *gen_job_new_sampler (GenRun *r, gint64 n, GError **error);
/* Runs evaluations START.. of SMP on X (model space), with OUT as the
 * model-output buffer; HOOK (may be NULL) after each step. */
gboolean    gen_job_sample_loop (GenRun *r, GenSpace *s, GenSampler *smp, int start, float *x,
                                 float *out, GenRng *rng, GenStepHook hook, gpointer hook_data,
                                 GError **error);

/* The options' preview of the x0 estimate at eval I of SMP, from the state
 * X and the model's output MO (gen-preview.c); nothing without a preview
 * callback, or for a latent space it cannot picture. */
void        gen_job_preview (GenRun *r, GenSpace *s, GenSampler *smp, int i, const float *x,
                             const float *mo);
/* The same from an estimate X0 the caller computed (inpaint's own loops). */
void        gen_job_preview_x0 (GenRun *r, GenSpace *s, const float *x0);

/* Masked latent blending (a GenStepHook on a GenLatentBlend): after step I,
 * X = M·X + (1 − M)·known, known being X0_KNOWN noised with NOISE to
 * evaluation I + 1 (gen_sampler_add_noise), X0_KNOWN itself after the
 * last.  All buffers N values; TMP scratch. */
typedef struct
{
  GenSampler  *smp;
  const float *x0_known, *noise, *mask;
  float       *tmp;
  gint64       n;
} GenLatentBlend;
void        gen_job_latent_blend (gpointer data, int i, float *x);

/* ---- the eight symmetries of the grid (gen-dihedral.c) ------------------------ */

/* How many transforms the geometric self-ensemble averages. */
#define GEN_DIHEDRAL_N 8

/* TRUE when transform K (0..7) makes an H×W plane W×H (odd quarter turns). */
gboolean gen_dihedral_swaps (int k);
/* DST [c][h'][w'] = transform K of SRC [c][h][w]: a mirror (columns
 * reversed) when K ≥ 4, then K mod 4 counter-clockwise quarter turns; h', w'
 * are h, w swapped when gen_dihedral_swaps (K).  DST must not overlap SRC. */
void     gen_dihedral_apply (int k, const float *src, int64_t c, int64_t h, int64_t w,
                             float *dst);
/* ACC [c][h][w] += the inverse of transform K of SRC [c][h'][w']. */
void     gen_dihedral_undo_add (int k, const float *src, int64_t c, int64_t h, int64_t w,
                                float *acc);
/* The transforms the ensemble averages into *KS, and their count: all eight,
 * or with MOSAIC the two that keep a Bayer mosaic's sites on a canvas
 * anchored at its top-left corner (the identity and the transpose). */
int      gen_dihedral_ensemble (gboolean mosaic, const int **ks);

/* ---- fast denoise (gen-denoise-fast.c) ----------------------------------------- */

/* RES (IN's layout) = the x0 prediction of IN at ᾱ ABAR, timestep T, clamped
 * to 0..1, alpha from IN; streamed tile by tile from the pixels.  The tiles
 * cover a canvas of IN's size plus OY rows and OX columns (S was made for
 * it), with IN's pixel (y, x) at (y + OY, x + OX) and reflected around it.
 * ENSEMBLE: each tile is denoised in its eight flips and turns, each
 * clamped, turned back and averaged (eight times the work; three more tile
 * buffers per worker, nothing of the image's size); with MOSAIC only in
 * the two that keep a Bayer mosaic's sites (the identity and the
 * transpose: the tiles' sides are even). */
gboolean gen_job_denoise_fast (GenRun *r, GenSpace *s, const GenPixels *in, double abar, double t,
                               gboolean ensemble, int oy, int ox, gboolean mosaic, float *res,
                               GError **error);

/* ---- inpaint's refined fill (gen-inpaint-refine.c) ----------------------------- */

/* IN (a crop) with its colour channels filled where MASK > 0 (the harmonic
 * fill, then edge-guided diffusion: gen-inpaint-fill.h): a new buffer of
 * IN's layout (g_free), or NULL with an error (CANCELLED once *CANCEL is
 * nonzero, if CANCEL is not NULL). */
float   *gen_inpaint_fill (const GenPixels *in, const float *mask, const gint *cancel,
                           GError **error);
/* X (out) = the fill XF [mc, mh, mw] refined by the model: noised to the
 * options' inpaint σ with a noise drawn from RNG, then the options' steps of
 * deterministic DDIM down to 0, with XF re-imposed outside the mask M
 * (noised to each step's level) as X = M·model + (1 − M)·known. */
gboolean gen_job_inpaint_refine (GenRun *r, GenSpace *s, const float *xf, const float *m,
                                 GenRng *rng, float *x, GError **error);

/* ---- inpaint with a Stable Diffusion pipeline (gen-inpaint-sd.c) -------------- */

/* RES (CROP's layout) = CROP filled where CMASK [h][w] > 0 as diffusers'
 * StableDiffusionInpaintPipeline fills it, at the model's native size and
 * resized back; the caller composes it by CMASK. */
gboolean gen_job_inpaint_sd (GenPipeline *p, const GenJobOptions *o, const GenPixels *crop,
                             const float *cmask, GenPixels *res, GError **error);

G_END_DECLS
