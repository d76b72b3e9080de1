/* gen-job.h — what users run: generate, denoise, inpaint, vary, VAE round
 * trip and interpolate, on images of any size, with progress and cancel.
 *
 * Front ends (the CLI, the GIMP plug-in) load a pipeline (gen-pipeline.h),
 * hand the jobs interleaved float pixels in 0..1 (gen-pixels.h) and get
 * the same layout back.  Alpha is carried through unchanged (inpaint's fill
 * is opaque: see gen_job_inpaint); gray images
 * run through the model as RGB and come back as the mean of its channels.
 * Nothing is written to an output until the job has succeeded.
 *
 * Before it allocates, a job measures what it will need and fits its tile
 * workers and tile size to the memory the process can take, or fails with
 * GEN_ERROR_NO_MEMORY giving the figures.  A model output holding NaN or
 * Inf fails it with GEN_ERROR_FORMAT naming the model (corrupt weights).
 *
 * A run's state — its threads, activation arenas, clock and cancel flag —
 * comes in through the options and ends with the job: the pipeline stays
 * read-only, and nothing of one run is left for the next.
 */
#pragma once

#include "gen-pipeline.h"
#include "gen-pixels.h"
#include "gen-random.h"
#include "gen-sched.h"

G_BEGIN_DECLS

/* ---- options shared by every job ---------------------------------------------- */

/* Called after each model evaluation: STEP of TOTAL done, ELAPSED seconds. */
typedef void (*GenProgressFunc) (int step, int total, double elapsed, gpointer user_data);

/* A picture of the current x0 estimate (the image the sampler now expects),
 * RGB in 0..1, its longer side at most GEN_PREVIEW_MAX_SIDE (the image's
 * aspect; a front end scales it up), before evaluation STEP of TOTAL is
 * stepped.  RGB belongs to the core and is valid during the call only. */
typedef void (*GenPreviewFunc) (const GenPixels *rgb, int step, int total, gpointer user_data);
#define GEN_PREVIEW_MAX_SIDE 512

/* What a run used, for reports and benchmarks. */
typedef struct
{
  gsize activation_bytes; /* the most activation memory one tile worker needed (the
                             high-water mark of its arena) */
  int   workers;          /* how many tile workers ran the models */
} GenJobStats;

/* How inpaint fills a hole with a pixel-space model (latent models always
 * blend latents). */
typedef enum
{
  GEN_INPAINT_REFINE,   /* an edge-guided fill of the hole refined by the model from
                           a moderate noise level (SDEdit, Meng et al. 2022): seconds */
  GEN_INPAINT_REPAINT   /* RePaint from pure noise (Lugmayr et al. 2022): minutes */
} GenInpaintMethod;

typedef struct
{
  GenSamplerKind   sampler;     /* default GEN_SAMPLER_DDIM */
  GenSigmaSchedule sigmas;      /* default GEN_SIGMAS_DEFAULT */
  int              steps;       /* default 30 */
  double           eta;         /* DDIM eta, default 0 */
  guint64          seed;
  int              tile;        /* tile edge in pixels; 0 = default (512) */
  int              tile_overlap;/* pixels; 0 = default (tile / 4) */
  int              threads;     /* the core's threads for this run; 0 = one per processor.
                                   Set for the run only: the count before it comes back */
  GenProgressFunc  progress;
  gpointer         progress_data;
  GenPreviewFunc   preview;     /* NULL, or called at each sampling step (see above): pixel
                                   models show x0, latent models its decode when the VAE is
                                   an AutoencoderTiny (TAESD), else SD's linear latent → RGB
                                   map */
  gpointer         preview_data;
  const gint      *cancel;      /* read between evaluations and tiles; nonzero = stop */
  gboolean         scratch_outputs; /* TRUE: the caller discards the outputs on failure, so
                                       denoise, vary and the VAE build their result in them
                                       directly (one image-sized buffer less) */
  GenJobStats     *stats;       /* NULL, or filled in when the job returns */
  gboolean         denoise_patches; /* fast denoise: the model's estimate refined by
                                       collaborative Wiener filtering of the image's similar
                                       patches (gen-denoise-wiener.h); default TRUE */
  GenInpaintMethod inpaint;     /* default GEN_INPAINT_REFINE */
  double           inpaint_sigma; /* refine: the noise level it starts from, 0..255 scale;
                                     0 = default (GEN_INPAINT_DEFAULT_SIGMA) */
  /* text-conditioned (Stable Diffusion) pipelines; ignored by the others */
  const char      *prompt;          /* NULL = "" */
  const char      *negative_prompt; /* NULL = "" */
  double           guidance;        /* classifier-free guidance scale, default 7.5; ≤ 1 runs
                                       the prompt alone; an LCM UNet embeds it instead */
  int              clip_skip;       /* diffusers' clip_skip: 0 = the last layer */
} GenJobOptions;

#define GEN_INPAINT_DEFAULT_SIGMA 25.0

void gen_job_options_init (GenJobOptions *opts);

/* ---- the jobs ------------------------------------------------------------------
 * Each returns FALSE with an error (GEN_ERROR_CANCELLED when cancelled) and
 * leaves its outputs untouched on failure, unless the options' scratch_outputs
 * is set (then they may hold part of a result).  Inputs are never written. */

/* COUNT new images of WIDTH×HEIGHT (0 = the model's size), seeds SEED,
 * SEED+1, …; OUT[i] must be allocated by the caller as RGB (3 channels).
 * A Stable Diffusion pipeline draws opts->prompt (see GenJobOptions). */
gboolean gen_job_generate (GenPipeline *p, const GenJobOptions *opts, int width, int height,
                           int count, GenPixels *out, GError **error);

typedef enum
{
  GEN_DENOISE_FAST,     /* one x0 prediction: the MMSE estimate, best PSNR */
  GEN_DENOISE_SAMPLE    /* opts->steps reverse steps from the matching noise level: sharper */
} GenDenoiseMode;

/* Estimates the noise σ (0..255 scale) of IN: robust median of the finest
 * diagonal wavelet coefficients (Donoho & Johnstone 1994). */
double gen_estimate_noise (const GenPixels *in);

/* Whether IN (RGB) carries noise demosaiced from a Bayer mosaic, and if so
 * the row and column parity of its red sites in *PY, *PX (both 0 when not).
 * The built-in model learnt demosaiced noise with its red sites on even rows
 * and columns, so denoise shifts the image by this much before the
 * model sees it. */
gboolean gen_estimate_bayer_phase (const GenPixels *in, int *py, int *px);

typedef enum
{
  GEN_DENOISE_QUALITY_FAST, /* one pass */
  GEN_DENOISE_QUALITY_BEST  /* the ×8 geometric self-ensemble: the image in its four quarter
                               turns, each also mirrored, denoised, turned back and averaged
                               (per tile where the job streams tiles): 8× the time */
} GenDenoiseQuality;

/* "fast", "best". */
const char *gen_denoise_quality_name (GenDenoiseQuality q);
/* FALSE with an error for a name that is not one of them. */
gboolean    gen_denoise_quality_from_name (const char *name, GenDenoiseQuality *q,
                                           GError **error);

/* Denoises IN into OUT (same shape).  SIGMA on the 0..255 scale, or < 0 for
 * the estimate (written to *SIGMA_USED).  STRENGTH 0..1 blends the result
 * with the input; MASK [height][width] 0..1 (NULL = everywhere) blends it
 * proportionally, so feathered selections fade out.  gen_job_denoise is
 * gen_job_denoise_quality at GEN_DENOISE_QUALITY_FAST. */
gboolean gen_job_denoise (GenPipeline *p, const GenJobOptions *opts, const GenPixels *in,
                          const float *mask, GenDenoiseMode mode, double sigma, double strength,
                          GenPixels *out, double *sigma_used, GError **error);
gboolean gen_job_denoise_quality (GenPipeline *p, const GenJobOptions *opts, const GenPixels *in,
                                  const float *mask, GenDenoiseMode mode,
                                  GenDenoiseQuality quality, double sigma, double strength,
                                  GenPixels *out, double *sigma_used, GError **error);

/* Fills where MASK > 0, consistent with the surroundings: the result is
 * MASK·fill + (1 − MASK)·IN per pixel, so pixels with MASK == 0 come back
 * bit-exact and soft masks blend.  Pixel models, by opts->inpaint: the
 * hole's edge-guided fill refined with opts->steps deterministic DDIM steps
 * from opts->inpaint_sigma, the known pixels re-imposed at each step; or
 * RePaint resampling (Lugmayr et al. 2022) with JUMP_LENGTH and RESAMPLE
 * count (checked whichever the method).  With a VAE, masked latent
 * blending.  A Stable Diffusion pipeline fills the selection (every pixel
 * above 0) as diffusers' StableDiffusionInpaintPipeline does, following
 * opts->prompt: with a 9-channel inpainting UNet's mask channels, else by
 * masked latent blending; its crop is resized to the model's native size
 * (the longer side) and back.  Works on the mask's bounding box plus
 * context.  With alpha (2 or 4 channels), a fully transparent pixel inside
 * the mask is unknown, filled whole whatever its mask value (outpainting),
 * and the fill is opaque: alpha becomes MASK·1 + (1 − MASK)·alpha. */
gboolean gen_job_inpaint (GenPipeline *p, const GenJobOptions *opts, const GenPixels *in,
                          const float *mask, int jump_length, int resample, GenPixels *out,
                          GError **error);

/* img2img / SDEdit (Meng et al. 2022): noise IN to STRENGTH (0..1), then
 * denoise from there.  A Stable Diffusion pipeline starts, as diffusers'
 * img2img pipeline does, from a draw of the VAE's posterior (the seed's
 * first noise) and follows opts->prompt. */
gboolean gen_job_vary (GenPipeline *p, const GenJobOptions *opts, const GenPixels *in,
                       double strength, GenPixels *out, GError **error);

/* Encode → decode through the VAE; SAMPLE draws the latent from the
 * posterior with opts->seed instead of taking its mean. */
gboolean gen_job_vae (GenPipeline *p, const GenJobOptions *opts, const GenPixels *in,
                      gboolean sample, GenPixels *out, GError **error);

/* N_FRAMES images between A and B (same size): spherical interpolation of
 * their VAE latents, or of their DDIM-inverted noise for pixel models.
 * OUT[i] has A's shape. */
gboolean gen_job_interpolate (GenPipeline *p, const GenJobOptions *opts, const GenPixels *a,
                              const GenPixels *b, int n_frames, GenPixels *out, GError **error);

G_END_DECLS
