/* gen-job.c — the six jobs over a model chain (see gen-job.h).
 *
 * Images enter as interleaved 0..1 pixels and become the model's space: an
 * NCHW tensor in [-1, 1] (RGB, or gray for a 1-channel UNet), reflected to a
 * multiple of what the models need, and — for a latent UNet — encoded by the
 * VAE ((z − shift) · scaling_factor).  Every UNet evaluation and VAE pass
 * runs through the tiler, so any size works in bounded memory.
 */
#include "gen-job.h"
#include "gen-error.h"
#include "gen-tile.h"

#include <math.h>
#include <string.h>

#define DEFAULT_TILE 512

struct _GenPipeline
{
  GenModel       *unet;
  GenModel       *vae;
  GenSchedConfig *sched;
  gboolean        latent;   /* the UNet works on the VAE's latents */
  GenArena       *arenas[64];  /* activations of the forward passes, one per tile worker */
};

/* ---- loading -------------------------------------------------------------- */

static GenModel *
load_kind (const char *dir, gboolean want_unet, GError **error)
{
  GenModel *m = gen_model_load (dir, error);
  GenModelInfo info;

  if (!m)
    return NULL;
  gen_model_get_info (m, &info);
  if ((info.kind == GEN_MODEL_UNET) != want_unet)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: a %s, where a %s was expected", dir,
                   info.class_name, want_unet ? "UNet2DModel" : "VAE (AutoencoderKL or AutoencoderTiny)");
      gen_model_free (m);
      return NULL;
    }
  return m;
}

GenPipeline *
gen_pipeline_load (const char *model_dir, const char *vae_dir, GError **error)
{
  GenPipeline *p = g_new0 (GenPipeline, 1);
  char *unet_sub = g_build_filename (model_dir, "unet", NULL);
  char *sched_path = NULL;
  gboolean is_pipeline = g_file_test (unet_sub, G_FILE_TEST_IS_DIR);

  if (is_pipeline)
    {
      char *vae_sub = g_build_filename (model_dir, "vae", NULL);

      if (!(p->unet = load_kind (unet_sub, TRUE, error)))
        goto fail;
      sched_path = g_build_filename (model_dir, "scheduler", "scheduler_config.json", NULL);
      if (!vae_dir && g_file_test (vae_sub, G_FILE_TEST_IS_DIR)
          && !(p->vae = load_kind (vae_sub, FALSE, error)))
        {
          g_free (vae_sub);
          goto fail;
        }
      p->latent = p->vae != NULL;
      g_free (vae_sub);
    }
  else
    {
      GenModel *m = gen_model_load (model_dir, error);
      GenModelInfo info;

      if (!m)
        goto fail;
      gen_model_get_info (m, &info);
      if (info.kind == GEN_MODEL_UNET)
        p->unet = m;
      else
        p->vae = m;
      sched_path = g_build_filename (model_dir, "scheduler_config.json", NULL);
    }

  if (vae_dir)
    {
      gen_model_free (p->vae);
      if (!(p->vae = load_kind (vae_dir, FALSE, error)))
        goto fail;
    }

  if (p->unet)
    {
      GenModelInfo ui, vi;

      gen_model_get_info (p->unet, &ui);
      if (p->vae)
        gen_model_get_info (p->vae, &vi);
      if (p->vae && ui.in_channels == vi.latent_channels
          && (is_pipeline || (ui.in_channels != 1 && ui.in_channels != 3)))
        p->latent = TRUE;
      else if (p->latent || (ui.in_channels != 1 && ui.in_channels != 3))
        {
          if (p->vae)
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "the UNet takes %d channels but the VAE's latents have %d: they do not "
                         "belong together", ui.in_channels, vi.latent_channels);
          else
            g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                         "%s: this UNet works on %d-channel latents; give its VAE with --vae",
                         model_dir, ui.in_channels);
          goto fail;
        }
      if (ui.out_channels != ui.in_channels)
        {
          g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                       "%s: a UNet with %d input and %d output channels is not a denoiser these "
                       "jobs can run", model_dir, ui.in_channels, ui.out_channels);
          goto fail;
        }
      p->sched = gen_sched_config_load (g_file_test (sched_path, G_FILE_TEST_EXISTS) ? sched_path
                                                                                     : NULL, error);
      if (!p->sched)
        goto fail;
    }
  p->arenas[0] = gen_arena_new (0);
  g_free (unet_sub);
  g_free (sched_path);
  return p;

fail:
  g_free (unet_sub);
  g_free (sched_path);
  gen_pipeline_free (p);
  return NULL;
}

void
gen_pipeline_free (GenPipeline *p)
{
  if (!p)
    return;
  gen_model_free (p->unet);
  gen_model_free (p->vae);
  if (p->sched)
    gen_sched_config_free (p->sched);
  for (int i = 0; i < (int) G_N_ELEMENTS (p->arenas); i++)
    gen_arena_free (p->arenas[i]);
  g_free (p);
}

GenModel *
gen_pipeline_unet (GenPipeline *p)
{
  return p->unet;
}

GenModel *
gen_pipeline_vae (GenPipeline *p)
{
  return p->vae;
}

const GenSchedConfig *
gen_pipeline_sched (GenPipeline *p)
{
  return p->sched;
}

static int
vae_factor (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->latent)
    return 1;
  gen_model_get_info (p->vae, &i);
  return i.downscale;
}

static int
unet_multiple (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->unet)
    return 1;
  gen_model_get_info (p->unet, &i);
  return i.downscale;
}

int
gen_pipeline_size_multiple (GenPipeline *p)
{
  int m = unet_multiple (p) * vae_factor (p);

  if (!p->unet && p->vae)
    {
      GenModelInfo i;
      gen_model_get_info (p->vae, &i);
      m = i.downscale;
    }
  return m;
}

gsize
gen_pipeline_activation_bytes (GenPipeline *p, int *workers)
{
  gsize most = 0;
  int n = 0;

  for (guint i = 0; i < G_N_ELEMENTS (p->arenas); i++)
    if (p->arenas[i] && gen_arena_peak_bytes (p->arenas[i]) > 0)
      {
        most = MAX (most, gen_arena_peak_bytes (p->arenas[i]));
        n++;
      }
  if (workers)
    *workers = n;
  return most;
}

int
gen_pipeline_native_size (GenPipeline *p)
{
  GenModelInfo i;

  if (!p->unet)
    return 0;
  gen_model_get_info (p->unet, &i);
  return i.sample_size * vae_factor (p);
}

void
gen_job_options_init (GenJobOptions *o)
{
  memset (o, 0, sizeof *o);
  o->sampler = GEN_SAMPLER_DDIM;
  o->sigmas = GEN_SIGMAS_DEFAULT;
  o->steps = 30;
}

/* ---- a run: progress, cancel, the clock --------------------------------------- */

typedef struct
{
  GenPipeline         *p;
  const GenJobOptions *o;
  GTimer              *timer;
  int                  done, total;
} Run;

static void
run_init (Run *r, GenPipeline *p, const GenJobOptions *o, int total)
{
  r->p = p;
  r->o = o;
  r->timer = g_timer_new ();
  r->done = 0;
  r->total = MAX (1, total);
}

static void
run_clear (Run *r)
{
  g_timer_destroy (r->timer);
}

static void
run_tick (Run *r)
{
  r->done++;
  if (r->o->progress)
    r->o->progress (MIN (r->done, r->total), r->total, g_timer_elapsed (r->timer, NULL),
                    r->o->progress_data);
}

static gboolean
run_cancelled (Run *r, GError **error)
{
  if (r->o->cancel && g_atomic_int_get (r->o->cancel))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_CANCELLED, "cancelled");
      return TRUE;
    }
  return FALSE;
}

/* ---- pixels ⇄ tensors ------------------------------------------------------------ */

static int64_t
reflect (int64_t i, int64_t n)
{
  if (n == 1)
    return 0;
  while (i < 0 || i >= n)
    i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

static float *
alloc_floats (gsize n, GError **error)
{
  float *p = g_try_new (float, MAX (n, 1));

  if (!p)
    g_set_error (error, GEN_ERROR, GEN_ERROR_NO_MEMORY,
                 "out of memory (%.0f MB needed); try a smaller image", n * 4.0 / 1e6);
  return p;
}

/* Where a job builds its image-sized result: in OUT itself when the caller
 * lets it (scratch_outputs) and OUT does not share IN's memory, else in a new
 * buffer copied to OUT on success (see finish_result). */
static float *
result_buffer (const GenJobOptions *o, const GenPixels *in, GenPixels *out, GError **error)
{
  if (o->scratch_outputs && out->data != in->data)
    return out->data;
  return alloc_floats ((gsize) in->width * in->height * in->channels, error);
}

static void
finish_result (float *res, const GenPixels *in, GenPixels *out)
{
  if (res != out->data)
    memcpy (out->data, res, sizeof (float) * in->width * in->height * in->channels);
}

static void
free_result (float *res, const GenPixels *out)
{
  if (res != out->data)
    g_free (res);
}

static gboolean
check_pixels (const GenPixels *px, const char *what, GError **error)
{
  if (!px || !px->data || px->width < 1 || px->height < 1 || px->channels < 1 || px->channels > 4)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: an empty image or an unsupported "
                   "channel count", what);
      return FALSE;
    }
  if (px->width < 2 || px->height < 2)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s is %d×%d: images must be at least 2×2 pixels", what, px->width, px->height);
      return FALSE;
    }
  return TRUE;
}

/* IN as a [1, MC, PH, PW] tensor in [-1, 1]: RGB (gray replicated) or, for
 * MC == 1, the mean of the colour channels; reflected beyond IN's edges. */
static float *
pixels_to_tensor (const GenPixels *in, int mc, int64_t ph, int64_t pw, GError **error)
{
  float *t = alloc_floats ((gsize) mc * ph * pw, error);
  int colour = in->channels >= 3 ? 3 : 1;

  if (!t)
    return NULL;
  for (int64_t y = 0; y < ph; y++)
    for (int64_t x = 0; x < pw; x++)
      {
        const float *s = in->data + (reflect (y, in->height) * in->width + reflect (x, in->width))
                                      * in->channels;
        for (int c = 0; c < mc; c++)
          {
            float v;

            if (mc == 1)
              v = colour == 3 ? (s[0] + s[1] + s[2]) / 3.0f : s[0];
            else
              v = s[colour == 3 ? c : 0];
            t[(c * ph + y) * pw + x] = 2.0f * v - 1.0f;
          }
      }
  return t;
}

/* The top-left W×H of T [1, MC, PH, PW] into OUT's layout, clamped to
 * 0..1; alpha from ALPHA_SRC (same size) or opaque. */
static void
tensor_to_pixels (const float *t, int mc, int64_t ph, int64_t pw, const GenPixels *alpha_src,
                  GenPixels *out)
{
  int colour = out->channels >= 3 ? 3 : 1;
  gboolean has_alpha = out->channels == 2 || out->channels == 4;

  (void) ph;
  for (int y = 0; y < out->height; y++)
    for (int x = 0; x < out->width; x++)
      {
        float *d = out->data + ((gsize) y * out->width + x) * out->channels;
        float v[3];

        for (int c = 0; c < 3; c++)
          v[c] = t[((mc == 1 ? 0 : c) * ph + y) * pw + x] * 0.5f + 0.5f;
        if (colour == 1)
          d[0] = CLAMP ((v[0] + v[1] + v[2]) / 3.0f, 0.0f, 1.0f);
        else
          for (int c = 0; c < 3; c++)
            d[c] = CLAMP (v[c], 0.0f, 1.0f);
        if (has_alpha)
          {
            const GenPixels *a = alpha_src;
            gboolean src_alpha = a && (a->channels == 2 || a->channels == 4);
            d[colour] = src_alpha ? a->data[((gsize) y * a->width + x) * a->channels + a->channels - 1]
                                  : 1.0f;
          }
      }
}

/* ---- model evaluations through the tiler -------------------------------------- */

typedef struct
{
  GenPipeline *p;
  float        timestep;
} UNetCall;

/* An arena for each of the tiler's workers (made before the workers start;
 * each grows to one tile's activations). */
static void
ensure_arenas (GenPipeline *p, const GenTiler *t)
{
  int n = MIN (gen_tiler_workers (t), (int) G_N_ELEMENTS (p->arenas));

  for (int i = 0; i < n; i++)
    if (!p->arenas[i])
      p->arenas[i] = gen_arena_new (0);
}

/* gen_tiler_run with an arena ready for each of its workers: every tiled
 * model evaluation of the jobs goes through here. */
static gboolean
tiles_run (GenPipeline *p, GenTiler *t, const GenTensor *in, float in_scale, GenTensor *out,
           GenTileFunc func, gpointer data, const gint *cancel, GError **error)
{
  ensure_arenas (p, t);
  return gen_tiler_run (t, in, in_scale, out, func, data, cancel, error);
}

static gboolean
unet_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  UNetCall *c = data;
  return gen_unet_forward (c->p->unet, in, &c->timestep, out, c->p->arenas[worker], NULL, NULL,
                           error);
}

static gboolean
encode_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  GenPipeline *p = data;
  return gen_vae_encode (p->vae, in, out, NULL, p->arenas[worker], NULL, NULL, error);
}

static gboolean
decode_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  GenPipeline *p = data;
  return gen_vae_decode (p->vae, in, out, p->arenas[worker], NULL, NULL, error);
}

/* Model space: a canvas of the UNet's (or VAE's) space. */
typedef struct
{
  int64_t   ih, iw;     /* the image */
  int64_t   ph, pw;     /* padded image canvas (pixels) */
  int64_t   mh, mw, mc; /* model space */
  GenTiler *unet_tiler; /* over the model space, 1:1 */
} Space;

static gboolean
space_init (Space *s, GenPipeline *p, const GenJobOptions *o, int64_t h, int64_t w, GError **error)
{
  int mult = gen_pipeline_size_multiple (p), f = vae_factor (p);
  int tile = o->tile > 0 ? o->tile : DEFAULT_TILE;
  int overlap = o->tile_overlap > 0 ? o->tile_overlap : tile / 4;
  GenModelInfo ui;

  memset (s, 0, sizeof *s);
  s->ih = h, s->iw = w;
  s->ph = (h + mult - 1) / mult * mult;
  s->pw = (w + mult - 1) / mult * mult;
  s->mh = s->ph / f, s->mw = s->pw / f;
  if (!p->unet)
    return TRUE;
  gen_model_get_info (p->unet, &ui);
  s->mc = ui.in_channels;
  s->unet_tiler = gen_tiler_new (s->mh, s->mw, s->mc, s->mc, 1, 1, unet_multiple (p),
                                 MAX (tile / f, unet_multiple (p)), overlap / f, error);
  return s->unet_tiler != NULL;
}

static void
space_clear (Space *s)
{
  g_clear_pointer (&s->unet_tiler, gen_tiler_free);
}

/* OUT = unet (X · IN_SCALE, T) over the tiles. */
static gboolean
unet_eval (Run *r, Space *s, const float *x, float in_scale, double t, float *out, GError **error)
{
  UNetCall call = { r->p, (float) t };
  GenTensor xt = gen_tensor_view ((float *) x, 1, s->mc, s->mh, s->mw);
  GenTensor ot = gen_tensor_view (out, 1, s->mc, s->mh, s->mw);

  return tiles_run (r->p, s->unet_tiler, &xt, in_scale, &ot, unet_tile, &call, r->o->cancel,
                    error);
}

static GenTiler *
vae_tiler (Run *r, int64_t h, int64_t w, gboolean encode, GError **error)
{
  GenModelInfo vi;
  int tile = r->o->tile > 0 ? r->o->tile : DEFAULT_TILE;
  int f;

  gen_model_get_info (r->p->vae, &vi);
  f = vi.downscale;
  if (encode)
    return gen_tiler_new (h, w, vi.in_channels, vi.latent_channels, 1, f, f, tile, tile / 4, error);
  return gen_tiler_new (h, w, vi.latent_channels, vi.out_channels, f, 1, 1, MAX (1, tile / f),
                        MAX (1, tile / f / 4), error);
}

/* One tiled VAE pass: ENCODE maps IMG [1, 3, H, W] (pixels, [-1, 1]) to the
 * mean latent (unscaled), else the latent [1, L, H, W] to pixels. */
static gboolean
vae_pass (Run *r, gboolean encode, const float *in, int64_t h, int64_t w, float *out,
          GError **error)
{
  GenModelInfo vi;
  GenTiler *t = vae_tiler (r, h, w, encode, error);
  GenTensor it, ot;
  gboolean ok;

  if (!t)
    return FALSE;
  gen_model_get_info (r->p->vae, &vi);
  if (encode)
    {
      it = gen_tensor_view ((float *) in, 1, vi.in_channels, h, w);
      ot = gen_tensor_view (out, 1, vi.latent_channels, h / vi.downscale, w / vi.downscale);
    }
  else
    {
      it = gen_tensor_view ((float *) in, 1, vi.latent_channels, h, w);
      ot = gen_tensor_view (out, 1, vi.out_channels, h * vi.downscale, w * vi.downscale);
    }
  ok = tiles_run (r->p, t, &it, 1.0f, &ot, encode ? encode_tile : decode_tile, r->p,
                  r->o->cancel, error);
  gen_tiler_free (t);
  return ok;
}

/* Image pixels → model space X0 [mc, mh, mw]. */
static float *
to_model_space (Run *r, Space *s, const GenPixels *in, GError **error)
{
  GenModelInfo vi;
  float *img, *z;
  gsize n;

  if (!r->p->latent)
    return pixels_to_tensor (in, (int) s->mc, s->ph, s->pw, error);
  gen_model_get_info (r->p->vae, &vi);
  if (!(img = pixels_to_tensor (in, vi.in_channels, s->ph, s->pw, error)))
    return NULL;
  n = (gsize) vi.latent_channels * s->mh * s->mw;
  if (!(z = alloc_floats (n, error)) || !vae_pass (r, TRUE, img, s->ph, s->pw, z, error))
    {
      g_free (img);
      g_free (z);
      return NULL;
    }
  g_free (img);
  for (gsize i = 0; i < n; i++)
    z[i] = (z[i] - vi.shift_factor) * vi.scaling_factor;
  return z;
}

/* Model space X0 → OUT pixels (alpha from ALPHA_SRC). */
static gboolean
from_model_space (Run *r, Space *s, const float *x0, const GenPixels *alpha_src, GenPixels *out,
                  GError **error)
{
  GenModelInfo vi;
  float *z, *img;
  gsize n;

  if (!r->p->latent)
    {
      tensor_to_pixels (x0, (int) s->mc, s->ph, s->pw, alpha_src, out);
      return TRUE;
    }
  gen_model_get_info (r->p->vae, &vi);
  n = (gsize) vi.latent_channels * s->mh * s->mw;
  if (!(z = alloc_floats (n, error)))
    return FALSE;
  for (gsize i = 0; i < n; i++)
    z[i] = x0[i] / vi.scaling_factor + vi.shift_factor;
  img = alloc_floats ((gsize) vi.out_channels * s->ph * s->pw, error);
  if (!img || !vae_pass (r, FALSE, z, s->mh, s->mw, img, error))
    {
      g_free (z);
      g_free (img);
      return FALSE;
    }
  tensor_to_pixels (img, vi.out_channels, s->ph, s->pw, alpha_src, out);
  g_free (z);
  g_free (img);
  return TRUE;
}

/* ---- schedule arithmetic for the jobs that leave the sampler's grid ------------ */

/* Fractional timesteps: log σ is linear between the trained timesteps
 * (σ = sqrt((1 − ᾱ)/ᾱ); k-diffusion's convention, which the embedded
 * model is trained with). */
static double
log_sigma (double abar)
{
  return 0.5 * log ((1.0 - abar) / abar);
}

/* ᾱ at a fractional timestep. */
static double
abar_at (const GenSchedConfig *cfg, double t)
{
  const double *ac = gen_sched_config_alphas_cumprod (cfg);
  int n = gen_sched_config_num_train_timesteps (cfg);
  double ls;
  int i;

  if (t <= 0)
    return ac[0];
  if (t >= n - 1)
    return ac[n - 1];
  i = (int) floor (t);
  ls = log_sigma (ac[i]) * (1.0 - (t - i)) + log_sigma (ac[i + 1]) * (t - i);
  return 1.0 / (1.0 + exp (2.0 * ls));
}

/* The fractional timestep whose ᾱ is ABAR (ᾱ decreases with t). */
static double
timestep_for_abar (const GenSchedConfig *cfg, double abar)
{
  const double *ac = gen_sched_config_alphas_cumprod (cfg);
  int n = gen_sched_config_num_train_timesteps (cfg);
  double ls = log_sigma (abar);

  if (abar >= ac[0])
    return 0.0;
  for (int i = 0; i + 1 < n; i++)
    if (ac[i + 1] <= abar)
      {
        double l0 = log_sigma (ac[i]), l1 = log_sigma (ac[i + 1]);
        return i + (ls - l0) / (l1 - l0);
      }
  return n - 1;
}

/* x0 and ε from a model output at ᾱ (Ho et al. 2020 eq. 15; v: Salimans &
 * Ho 2022 §4).  Either output may be NULL. */
static void
split_output (const GenSchedConfig *cfg, double abar, const float *x, const float *out, float *x0,
              float *eps, gint64 n)
{
  float a = (float) sqrt (abar), b = (float) sqrt (1.0 - abar);
  GenPrediction pred = gen_sched_config_prediction_type (cfg);

  for (gint64 i = 0; i < n; i++)
    {
      float px0, pe;

      if (pred == GEN_PREDICTION_EPSILON)
        pe = out[i], px0 = (x[i] - b * pe) / a;
      else if (pred == GEN_PREDICTION_V)
        px0 = a * x[i] - b * out[i], pe = b * x[i] + a * out[i];
      else
        px0 = out[i], pe = (x[i] - a * px0) / b;
      if (x0)
        x0[i] = px0;
      if (eps)
        eps[i] = pe;
    }
}

/* ---- the sampling loop ------------------------------------------------------------ */

/* Runs evaluations START.. of S on X (model space, N floats), with OUT as
 * the model-output buffer.  HOOK, if any, runs after each step (inpaint's
 * blending of the known region). */
typedef void (*StepHook) (gpointer data, int i, float *x);

static gboolean
sample_loop (Run *r, Space *s, GenSampler *smp, int start, float *x, float *out, GenRng *rng,
             StepHook hook, gpointer hook_data, GError **error)
{
  gint64 n = s->mc * s->mh * s->mw;
  int total = gen_sampler_n_evals (smp);

  for (int i = start; i < total; i++)
    {
      if (run_cancelled (r, error)
          || !unet_eval (r, s, x, gen_sampler_input_scale (smp, i), gen_sampler_timestep (smp, i),
                         out, error))
        return FALSE;
      gen_sampler_step (smp, i, out, x, n, rng);
      if (hook)
        hook (hook_data, i, x);
      run_tick (r);
    }
  return TRUE;
}

static GenSampler *
new_sampler (Run *r, gint64 n, GError **error)
{
  const GenJobOptions *o = r->o;
  GenSampler *smp = gen_sampler_new (r->p->sched, o->sampler, o->sigmas, o->steps, o->eta, error);

  if (smp && !gen_sampler_reserve (smp, n, error))
    g_clear_pointer (&smp, gen_sampler_free);
  return smp;
}

static gboolean
need_unet (GenPipeline *p, const char *job, GError **error)
{
  if (p->unet)
    return TRUE;
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
               "%s needs a diffusion model (UNet2DModel); this model is a VAE only", job);
  return FALSE;
}

static gboolean
same_shape (const GenPixels *a, const GenPixels *b, const char *what, GError **error)
{
  if (a->width == b->width && a->height == b->height && a->channels == b->channels && b->data)
    return TRUE;
  g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "%s: the output must have the input's shape",
               what);
  return FALSE;
}

/* ---- generate ------------------------------------------------------------------- */

gboolean
gen_job_generate (GenPipeline *p, const GenJobOptions *o, int width, int height, int count,
                  GenPixels *out, GError **error)
{
  int mult = gen_pipeline_size_multiple (p), native = gen_pipeline_native_size (p);
  Run r;
  Space s;
  GenSampler *smp = NULL;
  float *x = NULL, *mo = NULL;
  GPtrArray *results;
  gboolean ok = FALSE;
  gint64 n;

  if (!need_unet (p, "generate", error))
    return FALSE;
  if (width == 0 && height == 0)
    width = height = native > 0 ? native : 64 * mult;
  if (width < 2 || height < 2 || width % mult || height % mult || width > 65535 || height > 65535)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "generate: the size %d×%d must be a multiple of %d (the model's downsampling)",
                   width, height, mult);
      return FALSE;
    }
  if (count < 1 || count > 1000)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: count must be 1 to 1000");
      return FALSE;
    }
  for (int k = 0; k < count; k++)
    if (out[k].width != width || out[k].height != height || out[k].channels < 1 || !out[k].data)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "generate: output %d has the wrong size", k);
        return FALSE;
      }
  if (!space_init (&s, p, o, height, width, error))
    return FALSE;
  n = s.mc * s.mh * s.mw;
  results = g_ptr_array_new_with_free_func (g_free);
  run_init (&r, p, o, 0);
  if (!(smp = new_sampler (&r, n, error)) || !(x = alloc_floats (n, error))
      || !(mo = alloc_floats (n, error)))
    goto out;
  r.total = count * gen_sampler_n_evals (smp);

  for (int k = 0; k < count; k++)
    {
      GenRng *rng = gen_rng_new (o->seed + (guint64) k);
      GenPixels tmp = out[k];
      float scale = gen_sampler_init_noise_sigma (smp);

      /* x_T ~ N(0, σ_max² I), drawn as torch.randn with this seed */
      gen_rng_randn (rng, x, n);
      for (gint64 i = 0; i < n; i++)
        x[i] *= scale;
      if (k > 0)
        {
          gen_sampler_free (smp);
          if (!(smp = new_sampler (&r, n, error)))
            {
              gen_rng_free (rng);
              goto out;
            }
        }
      ok = sample_loop (&r, &s, smp, 0, x, mo, rng, NULL, NULL, error);
      gen_rng_free (rng);
      if (!ok)
        goto out;
      /* decode into a private buffer: outputs are written only on success */
      tmp.data = alloc_floats ((gsize) width * height * out[k].channels, error);
      if (!tmp.data || !from_model_space (&r, &s, x, NULL, &tmp, error))
        {
          g_free (tmp.data);
          ok = FALSE;
          goto out;
        }
      g_ptr_array_add (results, tmp.data);
    }
  for (int k = 0; k < count; k++)
    memcpy (out[k].data, g_ptr_array_index (results, k),
            sizeof (float) * width * height * out[k].channels);
  ok = TRUE;

out:
  if (smp)
    gen_sampler_free (smp);
  g_free (x);
  g_free (mo);
  g_ptr_array_unref (results);
  space_clear (&s);
  run_clear (&r);
  return ok;
}

/* ---- denoise ------------------------------------------------------------------- */

/* Finest diagonal Haar detail d = (a − b − c + e) / 2 over 2×2 blocks has
 * the noise's σ for white noise; the median absolute value / 0.6745 is
 * robust to edges (Donoho & Johnstone 1994).  Per colour channel, averaged. */
double
gen_estimate_noise (const GenPixels *in)
{
  int colour = in->channels >= 3 ? 3 : 1;
  gint64 nb = (gint64) (in->width / 2) * (in->height / 2);
  float *d;
  double sum = 0.0;

  if (nb < 1)
    return 0.0;
  d = g_new (float, nb);
  for (int c = 0; c < colour; c++)
    {
      gint64 k = 0;

      for (int y = 0; y + 1 < in->height; y += 2)
        for (int x = 0; x + 1 < in->width; x += 2)
          {
            const float *p0 = in->data + ((gsize) y * in->width + x) * in->channels + c;
            const float *p1 = p0 + (gsize) in->width * in->channels;
            d[k++] = fabsf (p0[0] - p0[in->channels] - p1[0] + p1[in->channels]) * 0.5f;
          }
      /* median by selection */
      {
        gint64 lo = 0, hi = k - 1, mid = k / 2;

        while (lo < hi)
          {
            float pivot = d[(lo + hi) / 2];
            gint64 i = lo, j = hi;

            while (i <= j)
              {
                while (d[i] < pivot)
                  i++;
                while (d[j] > pivot)
                  j--;
                if (i <= j)
                  {
                    float t = d[i];
                    d[i] = d[j], d[j] = t;
                    i++, j--;
                  }
              }
            if (mid <= j)
              hi = j;
            else if (mid >= i)
              lo = i;
            else
              break;
          }
        sum += d[mid] / 0.6745 * 255.0;
      }
    }
  g_free (d);
  return sum / colour;
}

/* ---- fast denoise, streamed tile by tile ------------------------------------------ */

/* One x0 prediction per tile, read straight from the pixels and blended
 * straight into the result: the job's memory is the result image and the
 * tiles', nothing else of the image's size. */
typedef struct
{
  GenPipeline     *p;
  const GenPixels *in;
  int              mc;          /* model channels (1 or 3) */
  float            scale;       /* sqrt (ᾱ) */
  double           abar, t;
  float           *res;         /* [h][w][in->channels] accumulator */
} FastDenoise;

static void
fast_fill (gpointer data, int64_t y0, int64_t x0, GenTensor *tile)
{
  FastDenoise *f = data;
  const GenPixels *in = f->in;
  int64_t th = tile->ne[2], tw = tile->ne[3];
  int colour = in->channels >= 3 ? 3 : 1;

  for (int64_t y = 0; y < th; y++)
    {
      const float *row = in->data + reflect (y0 + y, in->height) * in->width * in->channels;

      for (int64_t x = 0; x < tw; x++)
        {
          const float *s = row + reflect (x0 + x, in->width) * in->channels;

          for (int c = 0; c < f->mc; c++)
            {
              float v = f->mc == 1 ? (colour == 3 ? (s[0] + s[1] + s[2]) / 3.0f : s[0])
                                   : s[colour == 3 ? c : 0];
              tile->data[(c * th + y) * tw + x] = (2.0f * v - 1.0f) * f->scale;
            }
        }
    }
}

static gboolean
fast_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out, GError **error)
{
  FastDenoise *f = data;
  float ts = (float) f->t;

  if (!gen_unet_forward (f->p->unet, in, &ts, out, f->p->arenas[worker], NULL, NULL, error))
    return FALSE;
  split_output (f->p->sched, f->abar, in->data, out->data, out->data, NULL,
                gen_tensor_numel (out));
  return TRUE;
}

static void
fast_accum (gpointer data, int64_t oy0, int64_t ox0, const GenTensor *tile, const float *wy,
            const float *wx)
{
  FastDenoise *f = data;
  const GenPixels *in = f->in;
  int64_t th = tile->ne[2], tw = tile->ne[3];
  int colour = in->channels >= 3 ? 3 : 1;

  for (int64_t y = 0; y < th && oy0 + y < in->height; y++)
    for (int64_t x = 0; x < tw && ox0 + x < in->width; x++)
      {
        float *d = f->res + ((oy0 + y) * in->width + ox0 + x) * in->channels;
        float w = wy[y] * wx[x], v[3];

        for (int c = 0; c < 3; c++)
          v[c] = tile->data[((f->mc == 1 ? 0 : c) * th + y) * tw + x] * 0.5f + 0.5f;
        if (colour == 1)
          d[0] += w * ((v[0] + v[1] + v[2]) / 3.0f);
        else
          for (int c = 0; c < 3; c++)
            d[c] += w * v[c];
      }
}

/* RES = the x0 prediction of IN at ᾱ (clamped 0..1, alpha from IN). */
static gboolean
denoise_fast (Run *r, Space *s, const GenPixels *in, double abar, double t, float *res,
              GError **error)
{
  FastDenoise f = { r->p, in, (int) s->mc, (float) sqrt (abar), abar, t, res };
  const float *sy = gen_tiler_wsum_y (s->unet_tiler), *sx = gen_tiler_wsum_x (s->unet_tiler);
  int colour = in->channels >= 3 ? 3 : 1;
  gsize n = (gsize) in->width * in->height * in->channels;

  memset (res, 0, sizeof (float) * n);
  ensure_arenas (r->p, s->unet_tiler);
  if (!gen_tiler_run_with (s->unet_tiler, fast_fill, &f, fast_tile, &f, fast_accum, &f,
                           r->o->cancel, error))
    return FALSE;
  for (int64_t y = 0; y < in->height; y++)
    for (int64_t x = 0; x < in->width; x++)
      {
        gsize k = ((gsize) y * in->width + x) * in->channels;

        for (int c = 0; c < colour; c++)
          res[k + c] = CLAMP (res[k + c] / (sy[y] * sx[x]), 0.0f, 1.0f);
        if (in->channels == 2 || in->channels == 4)
          res[k + colour] = in->data[k + colour];
      }
  return TRUE;
}

gboolean
gen_job_denoise (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
                 GenDenoiseMode mode, double sigma, double strength, GenPixels *out,
                 double *sigma_used, GError **error)
{
  Run r;
  Space s;
  float *y = NULL, *x = NULL, *mo = NULL, *x0 = NULL, *res = NULL;
  double abar, t;
  gint64 n;
  gboolean ok = FALSE;

  if (!need_unet (p, "denoise", error) || !check_pixels (in, "denoise", error)
      || !same_shape (in, out, "denoise", error))
    return FALSE;
  if (p->latent)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "denoise needs a pixel-space diffusion model (its noise model is the image's); "
                   "this one works on VAE latents — use vary instead");
      return FALSE;
    }
  if (!(strength >= 0.0 && strength <= 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise: strength must be 0 to 1");
      return FALSE;
    }
  if (sigma < 0)
    sigma = gen_estimate_noise (in);
  if (!(sigma <= 255.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "denoise: sigma must be 0 to 255");
      return FALSE;
    }
  if (sigma_used)
    *sigma_used = sigma;

  /* In [-1, 1] units the noise is σ' = 2σ/255; y = x + σ'ε is the VP state
   * x_t = y·sqrt(ᾱ) at ᾱ = 1 / (1 + σ'²) (Ho et al. 2020 eq. 4). */
  abar = 1.0 / (1.0 + pow (2.0 * sigma / 255.0, 2));
  t = timestep_for_abar (p->sched, abar);
  if (!space_init (&s, p, o, in->height, in->width, error))
    return FALSE;
  n = s.mc * s.mh * s.mw;
  run_init (&r, p, o, mode == GEN_DENOISE_FAST ? 1 : MAX (1, o->steps));
  if (!(res = result_buffer (o, in, out, error)))
    goto out;

  if (sigma > 0.0 && mode == GEN_DENOISE_FAST)
    {
      if (run_cancelled (&r, error) || !denoise_fast (&r, &s, in, abar, t, res, error))
        goto out;
      run_tick (&r);
    }
  else
    {
      if (!(y = pixels_to_tensor (in, (int) s.mc, s.ph, s.pw, error))
          || !(x = alloc_floats (n, error)) || !(mo = alloc_floats (n, error))
          || !(x0 = alloc_floats (n, error)))
        goto out;
      if (sigma > 0.0)
        {
          int steps = MAX (1, o->steps);
          double tc = t, ac = abar;
          float a = (float) sqrt (abar);

          for (gint64 i = 0; i < n; i++)
            x[i] = y[i] * a;
          /* Deterministic DDIM (Song et al. 2021 eq. 12, η = 0) from t down to 0
           * in STEPS equal steps. */
          for (int k = 0; k < steps; k++)
            {
              double tn = t * (steps - 1 - k) / steps,
                     an = k + 1 < steps ? abar_at (p->sched, tn) : 1.0;

              if (run_cancelled (&r, error) || !unet_eval (&r, &s, x, 1.0f, tc, mo, error))
                goto out;
              split_output (p->sched, ac, x, mo, x0, mo, n);
              if (k + 1 < steps)
                {
                  float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);
                  for (gint64 i = 0; i < n; i++)
                    x[i] = sa * CLAMP (x0[i], -1.0f, 1.0f) + sb * mo[i];
                }
              tc = tn, ac = an;
              run_tick (&r);
            }
        }
      else
        memcpy (x0, y, sizeof (float) * n);
      {
        GenPixels den = *out;

        den.data = res;
        tensor_to_pixels (x0, (int) s.mc, s.ph, s.pw, in, &den);
      }
    }

  /* blend: strength, then the (feathered) mask, on the image's pixels */
  {
    for (gint64 i = 0; i < (gint64) in->width * in->height; i++)
      {
        float m = (float) strength * (mask ? CLAMP (mask[i], 0.0f, 1.0f) : 1.0f);
        for (int c = 0; c < in->channels; c++)
          {
            gint64 k = i * in->channels + c;
            res[k] = m >= 1.0f ? res[k] : m <= 0.0f ? in->data[k]
                                                   : in->data[k] + m * (res[k] - in->data[k]);
          }
      }
  }
  finish_result (res, in, out);
  ok = TRUE;

out:
  g_free (y);
  g_free (x);
  g_free (mo);
  g_free (x0);
  free_result (res, out);
  space_clear (&s);
  run_clear (&r);
  return ok;
}

/* ---- vary (SDEdit) ------------------------------------------------------------------ */

gboolean
gen_job_vary (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, double strength,
              GenPixels *out, GError **error)
{
  Run r;
  Space s;
  GenSampler *smp = NULL;
  GenRng *rng = NULL;
  float *x0 = NULL, *x = NULL, *mo = NULL, *res = NULL;
  gboolean ok = FALSE;
  gint64 n;
  int start;

  if (!need_unet (p, "vary", error) || !check_pixels (in, "vary", error)
      || !same_shape (in, out, "vary", error))
    return FALSE;
  if (!(strength >= 0.0 && strength <= 1.0))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "vary: strength must be 0 to 1, not %g",
                   strength);
      return FALSE;
    }
  if (!space_init (&s, p, o, in->height, in->width, error))
    return FALSE;
  n = s.mc * s.mh * s.mw;
  run_init (&r, p, o, 0);
  if (!(smp = new_sampler (&r, n, error)))
    goto out;
  start = gen_sampler_start_index (smp, strength);
  r.total = MAX (1, gen_sampler_n_evals (smp) - start);
  if (!(res = result_buffer (o, in, out, error)))
    goto out;
  if (start >= gen_sampler_n_evals (smp))
    memcpy (res, in->data, sizeof (float) * in->width * in->height * in->channels);
  else
    {
      GenPixels tmp = *out;

      if (!(x0 = to_model_space (&r, &s, in, error)) || !(x = alloc_floats (n, error))
          || !(mo = alloc_floats (n, error)))
        goto out;
      /* x_start = add_noise (x0, ε, t_start), ε drawn first from the seed */
      rng = gen_rng_new (o->seed);
      gen_rng_randn (rng, mo, n);
      gen_sampler_add_noise (smp, start, x0, mo, x, n);
      if (!sample_loop (&r, &s, smp, start, x, mo, rng, NULL, NULL, error))
        goto out;
      tmp.data = res;
      if (!from_model_space (&r, &s, x, in, &tmp, error))
        goto out;
    }
  finish_result (res, in, out);
  ok = TRUE;

out:
  if (smp)
    gen_sampler_free (smp);
  if (rng)
    gen_rng_free (rng);
  g_free (x0);
  g_free (x);
  g_free (mo);
  free_result (res, out);
  space_clear (&s);
  run_clear (&r);
  return ok;
}

/* ---- VAE round trip ---------------------------------------------------------------- */

/* Tile function writing [mean, logvar] as 2·L channels. */
static gboolean
encode_moments_tile (gpointer data, int worker, const GenTensor *in, GenTensor *out,
                     GError **error)
{
  GenPipeline *p = data;
  int64_t l = out->ne[1] / 2, hw = out->ne[2] * out->ne[3];
  GenTensor mt = gen_tensor_view (out->data, 1, l, out->ne[2], out->ne[3]);
  GenTensor lt = gen_tensor_view (out->data + l * hw, 1, l, out->ne[2], out->ne[3]);

  return gen_vae_encode (p->vae, in, &mt, &lt, p->arenas[worker], NULL, NULL, error);
}

gboolean
gen_job_vae (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, gboolean sample,
             GenPixels *out, GError **error)
{
  GenModelInfo vi;
  Run r;
  int f, tile = o->tile > 0 ? o->tile : DEFAULT_TILE;
  int64_t ph, pw, lh, lw, l;
  float *img = NULL, *mom = NULL, *dec = NULL, *res = NULL;
  GenTiler *t = NULL;
  gboolean ok = FALSE;

  if (!p->vae)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "the VAE round trip needs a VAE (AutoencoderKL or AutoencoderTiny): give one "
                   "with --vae or as the model");
      return FALSE;
    }
  if (!check_pixels (in, "vae", error) || !same_shape (in, out, "vae", error))
    return FALSE;
  gen_model_get_info (p->vae, &vi);
  if (sample && vi.kind != GEN_MODEL_VAE_KL)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "%s has no latent distribution to sample from; use the mean", vi.class_name);
      return FALSE;
    }
  f = vi.downscale;
  l = vi.latent_channels;
  ph = (in->height + f - 1) / f * f, pw = (in->width + f - 1) / f * f;
  lh = ph / f, lw = pw / f;
  run_init (&r, p, o, 2);
  if (!(img = pixels_to_tensor (in, vi.in_channels, ph, pw, error))
      || !(mom = alloc_floats ((gsize) 2 * l * lh * lw, error)))
    goto out;

  /* encode: mean (and log-variance) through the tiler */
  {
    if (!(t = gen_tiler_new (ph, pw, vi.in_channels, 2 * l, 1, f, f, tile, tile / 4, error)))
      goto out;
    {
      GenTensor it = gen_tensor_view (img, 1, vi.in_channels, ph, pw);
      GenTensor mt = gen_tensor_view (mom, 1, 2 * l, lh, lw);

      if (vi.kind == GEN_MODEL_VAE_KL)
        {
          if (!tiles_run (p, t, &it, 1.0f, &mt, encode_moments_tile, p, o->cancel, error))
            goto out;
        }
      else
        {
          GenTensor m1 = gen_tensor_view (mom, 1, l, lh, lw);
          gen_tiler_free (t);
          if (!(t = gen_tiler_new (ph, pw, vi.in_channels, l, 1, f, f, tile, tile / 4, error)))
            goto out;
          if (!tiles_run (p, t, &it, 1.0f, &m1, encode_tile, p, o->cancel, error))
            goto out;
        }
    }
  }
  run_tick (&r);
  if (sample)
    {
      /* z = μ + exp(½ log σ²) · ε (Kingma & Welling 2014, eq. 10) */
      GenRng *rng = gen_rng_new (o->seed);
      float *eps = mom + l * lh * lw; /* overwritten in place below */
      float *tmp = alloc_floats ((gsize) l * lh * lw, error);

      if (!tmp)
        {
          gen_rng_free (rng);
          goto out;
        }
      gen_rng_randn (rng, tmp, l * lh * lw);
      for (int64_t i = 0; i < l * lh * lw; i++)
        mom[i] += expf (0.5f * eps[i]) * tmp[i];
      g_free (tmp);
      gen_rng_free (rng);
    }
  if (!(dec = alloc_floats ((gsize) vi.out_channels * ph * pw, error))
      || !vae_pass (&r, FALSE, mom, lh, lw, dec, error))
    goto out;
  run_tick (&r);
  if (!(res = result_buffer (o, in, out, error)))
    goto out;
  {
    GenPixels tmp = *out;
    tmp.data = res;
    tensor_to_pixels (dec, vi.out_channels, ph, pw, in, &tmp);
  }
  finish_result (res, in, out);
  ok = TRUE;

out:
  gen_tiler_free (t);
  g_free (img);
  g_free (mom);
  g_free (dec);
  free_result (res, out);
  run_clear (&r);
  return ok;
}

/* ---- inpaint ------------------------------------------------------------------------ */

/* RePaint's time schedule with jumps (Lugmayr et al. 2022, alg. 1 and the
 * resampling of §4.2): indices into STEPS grid points, -1 last. */
static GArray *
repaint_schedule (int steps, int jump, int resample)
{
  GArray *ts = g_array_new (FALSE, FALSE, sizeof (int));
  int *jumps = g_new0 (int, steps + 1);
  int t = steps;

  for (int j = 0; j + jump < steps; j += jump)
    jumps[j] = resample - 1;
  while (t >= 1)
    {
      t--;
      g_array_append_val (ts, t);
      if (jumps[t] > 0)
        {
          jumps[t]--;
          for (int k = 0; k < jump && t < steps - 1; k++)
            {
              t++;
              g_array_append_val (ts, t);
            }
        }
    }
  t = -1;
  g_array_append_val (ts, t);
  g_free (jumps);
  return ts;
}

typedef struct
{
  GenSampler  *smp;
  const float *x0_known, *noise, *mask;
  float       *tmp;
  gint64       n;
} LatentBlend;

/* After step I the unknown region follows the sampler; the known region is
 * the original, noised to the next evaluation's level (the legacy diffusers
 * inpaint pipeline for non-inpainting UNets). */
static void
latent_blend_hook (gpointer data, int i, float *x)
{
  LatentBlend *b = data;
  const float *known = b->x0_known;

  if (i + 1 < gen_sampler_n_evals (b->smp))
    {
      gen_sampler_add_noise (b->smp, i + 1, b->x0_known, b->noise, b->tmp, b->n);
      known = b->tmp;
    }
  for (gint64 k = 0; k < b->n; k++)
    x[k] = b->mask[k] * x[k] + (1.0f - b->mask[k]) * known[k];
}

/* The mask in model space [mh][mw] (repeated over channels at use): the
 * average over each f×f block, 0 over the padding. */
static float *
mask_to_model_space (const float *mask, int w, int h, const Space *s, GError **error)
{
  int64_t f = s->ph / s->mh;
  float *m = alloc_floats ((gsize) s->mc * s->mh * s->mw, error);

  if (!m)
    return NULL;
  for (int64_t y = 0; y < s->mh; y++)
    for (int64_t x = 0; x < s->mw; x++)
      {
        double acc = 0.0;

        for (int64_t dy = 0; dy < f; dy++)
          for (int64_t dx = 0; dx < f; dx++)
            {
              int64_t py = y * f + dy, px = x * f + dx;
              if (py < h && px < w)
                acc += CLAMP (mask[py * w + px], 0.0f, 1.0f);
            }
        for (int64_t c = 0; c < s->mc; c++)
          m[(c * s->mh + y) * s->mw + x] = (float) (acc / (double) (f * f));
      }
  return m;
}

static gboolean
inpaint_crop (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
              int jump, int resample, GenPixels *res, GError **error)
{
  Run r;
  Space s;
  GenRng *rng = NULL;
  GenSampler *smp = NULL;
  float *x0k = NULL, *m = NULL, *x = NULL, *mo = NULL, *z = NULL, *x0 = NULL;
  GArray *ts = NULL;
  gboolean ok = FALSE;
  gint64 n;

  if (!space_init (&s, p, o, in->height, in->width, error))
    return FALSE;
  n = s.mc * s.mh * s.mw;
  run_init (&r, p, o, 0);
  if (!(x0k = to_model_space (&r, &s, in, error))
      || !(m = mask_to_model_space (mask, in->width, in->height, &s, error))
      || !(x = alloc_floats (n, error)) || !(mo = alloc_floats (n, error))
      || !(z = alloc_floats (n, error)) || !(x0 = alloc_floats (n, error)))
    goto out;
  rng = gen_rng_new (o->seed);

  if (!p->latent)
    {
      const double *ac = gen_sched_config_alphas_cumprod (p->sched);
      int tt = gen_sched_config_num_train_timesteps (p->sched), steps = CLAMP (o->steps, 1, tt);

      ts = repaint_schedule (steps, MAX (1, jump), MAX (1, resample));
      for (guint k = 0; k + 1 < ts->len; k++)
        r.total += g_array_index (ts, int, k + 1) < g_array_index (ts, int, k);
      gen_rng_randn (rng, x, n);
      for (guint k = 0; k + 1 < ts->len; k++)
        {
          int tc = g_array_index (ts, int, k), tn = g_array_index (ts, int, k + 1);
          int mc = tc * tt / steps;
          double a = ac[mc];

          if (tn > tc)
            {
              /* jump back up: q(x_tn | x_tc) = N(sqrt(ᾱn/ᾱc) x, (1 − ᾱn/ᾱc) I) */
              double ratio = ac[tn * tt / steps] / a;
              float sa = (float) sqrt (ratio), sb = (float) sqrt (1.0 - ratio);

              gen_rng_randn (rng, z, n);
              for (gint64 i = 0; i < n; i++)
                x[i] = sa * x[i] + sb * z[i];
              continue;
            }
          if (run_cancelled (&r, error) || !unet_eval (&r, &s, x, 1.0f, mc, mo, error))
            goto out;
          split_output (p->sched, a, x, mo, x0, mo, n);
          if (tn < 0)
            {
              for (gint64 i = 0; i < n; i++)
                x[i] = m[i] * CLAMP (x0[i], -1.0f, 1.0f) + (1.0f - m[i]) * x0k[i];
            }
          else
            {
              /* DDPM posterior step between grid points (DDIM with η = 1,
               * Song et al. 2021 eq. 16), then the known region noised to
               * the same level (RePaint eq. 8) */
              double ap = ac[tn * tt / steps];
              double var = (1.0 - ap) / (1.0 - a) * (1.0 - a / ap);
              float sp = (float) sqrt (ap), sd = (float) sqrt (MAX (0.0, 1.0 - ap - var));
              float sv = (float) sqrt (MAX (0.0, var)), sk = (float) sqrt (1.0 - ap);

              gen_rng_randn (rng, z, n);
              for (gint64 i = 0; i < n; i++)
                {
                  float unk = sp * CLAMP (x0[i], -1.0f, 1.0f) + sd * mo[i] + sv * z[i];
                  x[i] = m[i] * unk;
                }
              gen_rng_randn (rng, z, n);
              for (gint64 i = 0; i < n; i++)
                x[i] += (1.0f - m[i]) * (sp * x0k[i] + sk * z[i]);
            }
          run_tick (&r);
        }
    }
  else
    {
      LatentBlend blend = { NULL, x0k, z, m, x0, n };
      float scale;

      if (!(smp = new_sampler (&r, n, error)))
        goto out;
      r.total = gen_sampler_n_evals (smp);
      scale = gen_sampler_init_noise_sigma (smp);
      gen_rng_randn (rng, x, n);
      for (gint64 i = 0; i < n; i++)
        x[i] *= scale;
      gen_rng_randn (rng, z, n); /* the noise of the known region, fixed */
      blend.smp = smp;
      if (!sample_loop (&r, &s, smp, 0, x, mo, rng, latent_blend_hook, &blend, error))
        goto out;
    }
  ok = from_model_space (&r, &s, x, in, res, error);

out:
  if (ts)
    g_array_unref (ts);
  if (smp)
    gen_sampler_free (smp);
  if (rng)
    gen_rng_free (rng);
  g_free (x0k);
  g_free (m);
  g_free (x);
  g_free (mo);
  g_free (z);
  g_free (x0);
  space_clear (&s);
  run_clear (&r);
  return ok;
}

gboolean
gen_job_inpaint (GenPipeline *p, const GenJobOptions *o, const GenPixels *in, const float *mask,
                 int jump_length, int resample, GenPixels *out, GError **error)
{
  int x0 = in->width, y0 = in->height, x1 = -1, y1 = -1, ctx;
  GenPixels crop = { NULL, 0, 0, in->channels }, res;
  float *cmask = NULL, *result = NULL;
  gboolean ok = FALSE;

  if (!need_unet (p, "inpaint", error) || !check_pixels (in, "inpaint", error)
      || !same_shape (in, out, "inpaint", error))
    return FALSE;
  if (!mask)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "inpaint needs a mask");
      return FALSE;
    }
  if (jump_length < 1 || jump_length > 1000 || resample < 1 || resample > 100)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "inpaint: jump length must be 1 to 1000 and resample count 1 to 100");
      return FALSE;
    }
  for (int y = 0; y < in->height; y++)
    for (int x = 0; x < in->width; x++)
      if (mask[(gsize) y * in->width + x] > 0.0f)
        x0 = MIN (x0, x), y0 = MIN (y0, y), x1 = MAX (x1, x), y1 = MAX (y1, y);
  if (x1 < 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "inpaint: the mask (selection) is empty: there is nothing to fill");
      return FALSE;
    }
  /* The hole's bounding box plus context on every side. */
  ctx = MAX (32, MAX (x1 - x0 + 1, y1 - y0 + 1) / 2);
  x0 = MAX (0, x0 - ctx), y0 = MAX (0, y0 - ctx);
  x1 = MIN (in->width - 1, x1 + ctx), y1 = MIN (in->height - 1, y1 + ctx);
  crop.width = MAX (2, x1 - x0 + 1), crop.height = MAX (2, y1 - y0 + 1);
  x0 = MIN (x0, in->width - crop.width), y0 = MIN (y0, in->height - crop.height);

  crop.data = alloc_floats ((gsize) crop.width * crop.height * in->channels, error);
  cmask = alloc_floats ((gsize) crop.width * crop.height, error);
  result = alloc_floats ((gsize) crop.width * crop.height * in->channels, error);
  if (!crop.data || !cmask || !result)
    goto out;
  for (int y = 0; y < crop.height; y++)
    {
      memcpy (crop.data + (gsize) y * crop.width * in->channels,
              in->data + ((gsize) (y0 + y) * in->width + x0) * in->channels,
              sizeof (float) * crop.width * in->channels);
      memcpy (cmask + (gsize) y * crop.width, mask + (gsize) (y0 + y) * in->width + x0,
              sizeof (float) * crop.width);
    }
  res = crop;
  res.data = result;
  if (!inpaint_crop (p, o, &crop, cmask, jump_length, resample, &res, error))
    goto out;

  /* Compose: outside the mask the input, bit for bit. */
  if (out->data != in->data)
    memcpy (out->data, in->data, sizeof (float) * in->width * in->height * in->channels);
  for (int y = 0; y < crop.height; y++)
    for (int x = 0; x < crop.width; x++)
      {
        float mv = CLAMP (cmask[(gsize) y * crop.width + x], 0.0f, 1.0f);
        float *d = out->data + ((gsize) (y0 + y) * in->width + x0 + x) * in->channels;
        const float *g = result + ((gsize) y * crop.width + x) * in->channels;
        int colour = in->channels >= 3 ? 3 : 1;

        if (mv <= 0.0f)
          continue;
        for (int c = 0; c < colour; c++)
          d[c] = mv >= 1.0f ? g[c] : d[c] + mv * (g[c] - d[c]);
      }
  ok = TRUE;

out:
  g_free (crop.data);
  g_free (cmask);
  g_free (result);
  return ok;
}

/* ---- interpolate -------------------------------------------------------------------- */

/* Spherical interpolation (Shoemake 1985) of A and B at T; linear when they
 * are nearly parallel. */
static void
slerp (const float *a, const float *b, float *out, gint64 n, double t)
{
  double dot = 0.0, na = 0.0, nb = 0.0, theta, wa, wb;

  for (gint64 i = 0; i < n; i++)
    dot += (double) a[i] * b[i], na += (double) a[i] * a[i], nb += (double) b[i] * b[i];
  theta = acos (CLAMP (dot / (sqrt (na * nb) + 1e-30), -1.0, 1.0));
  if (theta < 1e-4)
    wa = 1.0 - t, wb = t;
  else
    wa = sin ((1.0 - t) * theta) / sin (theta), wb = sin (t * theta) / sin (theta);
  for (gint64 i = 0; i < n; i++)
    out[i] = (float) (wa * a[i] + wb * b[i]);
}

/* Deterministic DDIM over the grid g_k = k·(T−1)/steps: INVERT runs k = 0 →
 * steps (image to noise, Song et al. 2021 eq. 13 read backwards), otherwise
 * steps → 0, ending with the x0 prediction. */
static gboolean
ddim_walk (Run *r, Space *s, float *x, float *mo, float *x0, gboolean invert, GError **error)
{
  const GenSchedConfig *cfg = r->p->sched;
  int steps = MAX (1, r->o->steps), tt = gen_sched_config_num_train_timesteps (cfg);
  gint64 n = s->mc * s->mh * s->mw;

  for (int k = 0; k < steps; k++)
    {
      int from = invert ? k : steps - k, to = invert ? k + 1 : steps - k - 1;
      double tf = (double) from * (tt - 1) / steps, tn = (double) to * (tt - 1) / steps;
      double af = abar_at (cfg, tf), an = abar_at (cfg, tn);
      float sa = (float) sqrt (an), sb = (float) sqrt (1.0 - an);

      if (run_cancelled (r, error) || !unet_eval (r, s, x, 1.0f, tf, mo, error))
        return FALSE;
      split_output (cfg, af, x, mo, x0, mo, n);
      if (!invert && to == 0)
        for (gint64 i = 0; i < n; i++)
          x[i] = CLAMP (x0[i], -1.0f, 1.0f);
      else
        for (gint64 i = 0; i < n; i++)
          x[i] = sa * x0[i] + sb * mo[i];
      run_tick (r);
    }
  return TRUE;
}

gboolean
gen_job_interpolate (GenPipeline *p, const GenJobOptions *o, const GenPixels *a,
                     const GenPixels *b, int n_frames, GenPixels *out, GError **error)
{
  Run r;
  Space s;
  gboolean via_vae = p->vae != NULL && (p->latent || !p->unet);
  float *za = NULL, *zb = NULL, *z = NULL, *mo = NULL, *x0 = NULL;
  GPtrArray *frames = NULL;
  gint64 n;
  gboolean ok = FALSE;

  if (!check_pixels (a, "interpolate (first image)", error)
      || !check_pixels (b, "interpolate (second image)", error))
    return FALSE;
  if (a->width != b->width || a->height != b->height)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID,
                   "interpolate: the two images must have the same size (%d×%d and %d×%d)",
                   a->width, a->height, b->width, b->height);
      return FALSE;
    }
  if (n_frames < 1 || n_frames > 1000)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "interpolate: frames must be 1 to 1000");
      return FALSE;
    }
  if (!via_vae && !p->unet)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_INVALID, "interpolate needs a VAE or a UNet");
      return FALSE;
    }
  for (int k = 0; k < n_frames; k++)
    if (!same_shape (a, &out[k], "interpolate", error))
      return FALSE;

  if (via_vae && !p->latent)
    {
      /* a VAE alone: its latent space, unscaled */
      GenModelInfo vi;
      int f;

      gen_model_get_info (p->vae, &vi);
      f = vi.downscale;
      memset (&s, 0, sizeof s);
      s.ih = a->height, s.iw = a->width;
      s.ph = (a->height + f - 1) / f * f, s.pw = (a->width + f - 1) / f * f;
      s.mh = s.ph / f, s.mw = s.pw / f, s.mc = vi.latent_channels;
    }
  else if (!space_init (&s, p, o, a->height, a->width, error))
    return FALSE;
  n = s.mc * s.mh * s.mw;
  run_init (&r, p, o, via_vae ? 2 + n_frames : (2 + n_frames) * MAX (1, o->steps));
  frames = g_ptr_array_new_with_free_func (g_free);
  if (!(mo = alloc_floats (n, error)) || !(x0 = alloc_floats (n, error))
      || !(z = alloc_floats (n, error)))
    goto out;

  if (via_vae && !p->latent)
    {
      GenModelInfo vi;
      float *img;

      gen_model_get_info (p->vae, &vi);
      za = alloc_floats (n, error);
      zb = alloc_floats (n, error);
      if (!za || !zb)
        goto out;
      for (int which = 0; which < 2; which++)
        {
          img = pixels_to_tensor (which ? b : a, vi.in_channels, s.ph, s.pw, error);
          if (!img || !vae_pass (&r, TRUE, img, s.ph, s.pw, which ? zb : za, error))
            {
              g_free (img);
              goto out;
            }
          g_free (img);
          run_tick (&r);
        }
    }
  else
    {
      if (!(za = to_model_space (&r, &s, a, error)) || !(zb = to_model_space (&r, &s, b, error)))
        goto out;
      if (!via_vae)
        if (!ddim_walk (&r, &s, za, mo, x0, TRUE, error) || !ddim_walk (&r, &s, zb, mo, x0, TRUE, error))
          goto out;
    }

  for (int k = 0; k < n_frames; k++)
    {
      GenPixels tmp = out[k];

      slerp (za, zb, z, n, (double) (k + 1) / (n_frames + 1));
      if (!via_vae && !ddim_walk (&r, &s, z, mo, x0, FALSE, error))
        goto out;
      if (!(tmp.data = alloc_floats ((gsize) a->width * a->height * a->channels, error)))
        goto out;
      g_ptr_array_add (frames, tmp.data);
      if (via_vae && !p->latent)
        {
          GenModelInfo vi;
          float *img;

          gen_model_get_info (p->vae, &vi);
          if (!(img = alloc_floats ((gsize) vi.out_channels * s.ph * s.pw, error)))
            goto out;
          if (!vae_pass (&r, FALSE, z, s.mh, s.mw, img, error))
            {
              g_free (img);
              goto out;
            }
          tensor_to_pixels (img, vi.out_channels, s.ph, s.pw, a, &tmp);
          g_free (img);
        }
      else if (!from_model_space (&r, &s, z, a, &tmp, error))
        goto out;
      if (via_vae)
        run_tick (&r);
    }
  for (int k = 0; k < n_frames; k++)
    memcpy (out[k].data, g_ptr_array_index (frames, k),
            sizeof (float) * a->width * a->height * a->channels);
  ok = TRUE;

out:
  if (frames)
    g_ptr_array_unref (frames);
  g_free (za);
  g_free (zb);
  g_free (z);
  g_free (mo);
  g_free (x0);
  space_clear (&s);
  run_clear (&r);
  return ok;
}
