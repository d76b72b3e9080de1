/* gen-cli-job-table.c — the CLI's jobs as data: names, help texts,
 * examples and their own options (see gen-cli-job-table.h). */
#include "gen-cli-job-table.h"

#include <stddef.h>
#include <string.h>

/* Each job: its name, input files, arguments, one line for the command list, what
 * --help says, and one example. */
const GenCliJobHelp gen_cli_job_help[] = {
  { "generate", "", "-o OUT",
    "new images from noise (the embedded model: abstract textures)",
    "Generates new images from noise with the model.  The embedded default model\n"
    "makes abstract textures; a downloaded model makes what it was trained on,\n"
    "a Stable Diffusion one what --prompt says.  --count N writes OUT-0, OUT-1,\n"
    "... with seeds SEED, SEED+1, ...",
    "generative generate --model v1-5-pruned-emaonly.safetensors --prompt \"a lighthouse at dusk\" --steps 20 --seed 1 -o lighthouse.png" },
  { "denoise", "IN", "IN -o OUT",
    "removes noise from a photo or scan (the embedded model's best)",
    "Removes noise from an image.  The noise level is estimated (and printed)\n"
    "unless --sigma gives it; fast mode makes one prediction (the best PSNR)\n"
    "and then averages the image's similar patches with it (--patches off\n"
    "skips that: about 0.5 dB less on white noise, a third faster); sample mode\n"
    "runs --steps reverse steps from that level (sharper).  --quality best\n"
    "averages the model's predictions over the image's 8 flips and turns: 4x\n"
    "the time, +0.01 dB on white noise with the patch step (+0.2 dB without);\n"
    "on demosaiced noise over the 2 that keep the colour mosaic.",
    "generative denoise --sigma 25 noisy.png -o clean.png" },
  { "inpaint", "IN", "--mask M IN -o OUT",
    "fills where a mask is white, consistent with the surroundings",
    "Fills where the mask image is white, consistent with the surroundings;\n"
    "pixels outside the mask are kept exactly, gray ones blend.  Pixel models:\n"
    "--method refine (a fill that carries the surrounding colours and edges into\n"
    "the hole, refined from noise --refine-sigma; seconds) or repaint (from pure\n"
    "noise with --jump/--resample, minutes).  The embedded model continues the\n"
    "surrounding colours, shading and edges; it invents no texture or objects,\n"
    "which a model trained on such pictures does.  A Stable Diffusion\n"
    "pipeline (an inpainting model or an ordinary one) draws --prompt into the\n"
    "hole at its native size: a small hole in a big photo costs one generation.\n"
    "Outpainting: extend the canvas with transparent pixels and make the mask\n"
    "white there; transparent pixels in the mask are filled whole, opaque.",
    "generative inpaint --mask mask.png photo.png -o filled.png" },
  { "vary", "IN", "--strength S IN -o OUT",
    "a variation of an image (img2img; --strength 0..1)",
    "Makes a variation of the image (img2img, SDEdit): noise to --strength, then\n"
    "denoise from there.  From about 0.2 the embedded model lays a blotchy mosaic\n"
    "over a photo; at 0.5 little of the photo is left.",
    "generative vary --strength 0.2 photo.png -o variation.png" },
  { "vae", "IN", "IN -o OUT",
    "encodes and decodes an image through the VAE",
    "Encodes the image through the VAE and decodes it again (the embedded VAE\n"
    "by default), to see what a latent model keeps of it.",
    "generative vae photo.png -o roundtrip.png" },
  { "interpolate", "A B", "A B -o OUT",
    "frames between two images (OUT-0, OUT-1, ...)",
    "Writes --frames images between A and B (the same size) as OUT-0, OUT-1, ...:\n"
    "spherical interpolation of their VAE latents, or of their DDIM-inverted\n"
    "noise for pixel models.",
    "generative interpolate --frames 8 a.png b.png -o frame.png" },
};

const guint gen_cli_n_jobs = G_N_ELEMENTS (gen_cli_job_help);

#define FOR(k) (1u << (k))

static const struct
{
  guint       jobs;       /* FOR (JOB_…) bits */
  const char *name;
  GOptionArg  arg;
  gsize       offset;     /* in JobArgs */
  const char *arg_name, *text, *deflt;
} job_options[] = {
  { FOR (JOB_GENERATE), "width", G_OPTION_ARG_INT, offsetof (JobArgs, width), "W",
    "image width in pixels", "the model's size" },
  { FOR (JOB_GENERATE), "height", G_OPTION_ARG_INT, offsetof (JobArgs, height), "H",
    "image height in pixels", "the model's size" },
  { FOR (JOB_GENERATE), "count", G_OPTION_ARG_INT, offsetof (JobArgs, count), "N",
    "images, with seeds SEED, SEED+1, …", "1" },
  { FOR (JOB_DENOISE), "sigma", G_OPTION_ARG_STRING, offsetof (JobArgs, sigma), "N|auto",
    "noise level on the 0..255 scale, or auto: estimated and printed", "auto" },
  { FOR (JOB_DENOISE), "mode", G_OPTION_ARG_STRING, offsetof (JobArgs, mode), "fast|sample",
    "fast: one prediction, the best PSNR; sample: --steps reverse steps, sharper", "fast" },
  { FOR (JOB_DENOISE), "quality", G_OPTION_ARG_STRING, offsetof (JobArgs, quality), "fast|best",
    "best: the model's mean over the image's 8 flips and turns (4x slower; +0.01 dB with the "
    "patch step, +0.2 dB without; on demosaiced noise the 2 that keep the mosaic)", "fast" },
  { FOR (JOB_DENOISE), "patches", G_OPTION_ARG_STRING, offsetof (JobArgs, patches), "on|off",
    "fast mode: after the model, average the image's similar patches (collaborative Wiener "
    "filtering, BM3D's second step; not where the noise was smoothed: demosaiced noise, JPEG's "
    "chroma)", "on" },
  { FOR (JOB_DENOISE), "strength", G_OPTION_ARG_DOUBLE, offsetof (JobArgs, strength), "S",
    "how much of the result to apply, 0..1", "1" },
  { FOR (JOB_VARY), "strength", G_OPTION_ARG_DOUBLE, offsetof (JobArgs, strength), "S",
    "how far from the input, 0..1", NULL },
  { FOR (JOB_DENOISE), "mask", G_OPTION_ARG_FILENAME, offsetof (JobArgs, mask_path), "FILE",
    "denoise where this image is white; gray blends", "everywhere" },
  { FOR (JOB_INPAINT), "mask", G_OPTION_ARG_FILENAME, offsetof (JobArgs, mask_path), "FILE",
    "fill where this image is white", NULL },
  { FOR (JOB_INPAINT), "method", G_OPTION_ARG_STRING, offsetof (JobArgs, method), "M",
    "pixel models: refine (an edge-guided fill refined from noise, seconds) or repaint (from pure "
    "noise, minutes)", "refine" },
  { FOR (JOB_INPAINT), "refine-sigma", G_OPTION_ARG_DOUBLE, offsetof (JobArgs, refine_sigma), "N",
    "the noise level refine starts from, 0..255", "25" },
  { FOR (JOB_INPAINT), "jump", G_OPTION_ARG_INT, offsetof (JobArgs, jump), "N",
    "RePaint jump length", "10" },
  { FOR (JOB_INPAINT), "resample", G_OPTION_ARG_INT, offsetof (JobArgs, resample), "N",
    "RePaint resamplings", "10" },
  { FOR (JOB_VAE), "sample", G_OPTION_ARG_NONE, offsetof (JobArgs, sample), NULL,
    "draw the latent from the posterior instead of taking its mean", "the mean" },
  { FOR (JOB_INTERPOLATE), "frames", G_OPTION_ARG_INT, offsetof (JobArgs, frames), "N",
    "images between A and B", "8" },
  { FOR (JOB_GENERATE) | FOR (JOB_VARY) | FOR (JOB_INPAINT), "prompt", G_OPTION_ARG_STRING,
    offsetof (JobArgs, prompt), "TEXT", "text-to-image models: what to draw", "none" },
  { FOR (JOB_GENERATE) | FOR (JOB_VARY) | FOR (JOB_INPAINT), "negative-prompt", G_OPTION_ARG_STRING,
    offsetof (JobArgs, negative), "TEXT", "text-to-image models: what to steer away from", "none" },
  { FOR (JOB_GENERATE) | FOR (JOB_VARY) | FOR (JOB_INPAINT), "guidance", G_OPTION_ARG_DOUBLE,
    offsetof (JobArgs, guidance), "G",
    "text-to-image models: guidance scale, 1 or less for turbo models", "7.5" },
  { FOR (JOB_GENERATE) | FOR (JOB_VARY) | FOR (JOB_INPAINT), "clip-skip", G_OPTION_ARG_INT,
    offsetof (JobArgs, clip_skip), "K", "text-to-image models: skip the text encoder's last K layers",
    "0" },
};

GOptionEntry *
gen_cli_job_entries (JobKind kind, JobArgs *a, GPtrArray *texts)
{
  GOptionEntry *e = g_new0 (GOptionEntry, G_N_ELEMENTS (job_options) + 1);
  int n = 0;

  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < G_N_ELEMENTS (job_options); i++)
      {
        gboolean mine = (job_options[i].jobs & FOR (kind)) != 0, taken = FALSE;
        char *text;

        if (mine != (pass == 0))
          continue;
        for (int k = 0; k < n; k++)
          taken |= strcmp (e[k].long_name, job_options[i].name) == 0;
        if (taken)
          continue;
        text = job_options[i].deflt
          ? g_strdup_printf ("%s (default: %s)", job_options[i].text, job_options[i].deflt)
          : g_strdup_printf ("%s (required)", job_options[i].text);
        g_ptr_array_add (texts, text);
        e[n++] = (GOptionEntry) { job_options[i].name, 0, mine ? 0 : G_OPTION_FLAG_HIDDEN,
                                  job_options[i].arg, (char *) a + job_options[i].offset,
                                  text, job_options[i].arg_name };
      }
  return e;
}
