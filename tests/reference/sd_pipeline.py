"""The Stable Diffusion text-to-image loop in plain torch, as diffusers'
StableDiffusionPipeline and LatentConsistencyModelPipeline run it, over the
references beside this file (clip_tokenizer, clip_text, unet_cond, models'
AutoencoderKL, schedulers):

    ids = tokenizer(negative), tokenizer(prompt)              padded to 77
    ctx = text_encoder(ids)  (clip_skip: an earlier layer through final_layer_norm)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn([1, 4, H/8, W/8], generator=g) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        xin = scheduler.scale_model_input(cat([x, x]) if guided else x, t)
        e = unet(xin, t, ctx[, timestep_cond = w embedding for an LCM UNet])
        e = e_uncond + guidance · (e_text − e_uncond)                (guided)
        x = scheduler.step(e, t, x, generator=g).prev_sample
    image = vae.decode(x / scaling_factor); round(255 · clamp(image / 2 + 0.5, 0, 1))

Guidance is classifier-free when guidance > 1 and the UNet has no
time_cond_proj_dim; an LCM UNet gets diffusers' get_guidance_scale_embedding
of w = guidance − 1 instead.
"""
import collections
import math

import torch

import clip_text
import clip_tokenizer
import models
import schedulers
import unet_cond


def guidance_embedding(guidance, dim):
    """diffusers' LatentConsistencyModelPipeline.get_guidance_scale_embedding
    of w = guidance − 1 (batch 1): [1, dim]."""
    w = torch.tensor(guidance - 1.0).repeat(1) * 1000.0
    half = dim // 2
    emb = torch.log(torch.tensor(10000.0)) / (half - 1)
    emb = torch.exp(torch.arange(half, dtype=torch.float32) * -emb)
    emb = w.to(torch.float32)[:, None] * emb[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=1)
    if dim % 2 == 1:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb


class Pipeline:
    """The components of a pipeline folder, loaded with the references."""

    def __init__(self, folder, vae_folder=None):
        import os
        self.tok = clip_tokenizer.ClipTokenizer(os.path.join(folder, "tokenizer"))
        self.text = clip_text.load_pretrained(os.path.join(folder, "text_encoder"))
        self.unet = unet_cond.load_pretrained(os.path.join(folder, "unet"))
        self.vae = models.load_pretrained(vae_folder or os.path.join(folder, "vae"))
        boc = self.vae.config.get("block_out_channels") or self.vae.config["decoder_block_out_channels"]
        self.vae_scale_factor = 2 ** (len(boc) - 1)
        import json
        with open(os.path.join(folder, "scheduler", "scheduler_config.json")) as f:
            self.sched_config = json.load(f)

    def encode(self, texts, clip_skip=0):
        ids = torch.tensor([self.tok.encode(t or "")[0] for t in texts], dtype=torch.int64)
        return self.text(ids, clip_skip=clip_skip or None)

    def _setup(self, prompt, negative, guidance, sampler, steps, clip_skip, sigmas):
        cond_dim = self.unet.config.get("time_cond_proj_dim")
        guided = guidance > 1 and not cond_dim
        ctx = self.encode([negative, prompt] if guided else [prompt], clip_skip)
        tcond = guidance_embedding(guidance, cond_dim) if cond_dim else None
        s = schedulers.from_config(sampler, self.sched_config, numerics="libm", sigma_schedule=sigmas)
        s.set_timesteps(steps)
        return s, ctx, tcond, guided

    def _loop(self, s, timesteps, x, ctx, tcond, guided, guidance, g, x0s=None):
        for t in timesteps:
            xin = s.scale_model_input(torch.cat([x, x]) if guided else x, t)
            e = self.unet(xin, torch.tensor([float(t)]), ctx, tcond)
            if guided:
                eu, et = e.chunk(2)
                e = eu + guidance * (et - eu)
            stepped = s.step(e, t, x, generator=g)
            x = stepped[0]
            if x0s is not None:   # the step's pred_original_sample
                x0s.append(stepped[1])
        img = self.vae(x / self.vae.config["scaling_factor"], part="decode")
        img = (img / 2 + 0.5).clamp(0, 1)[0].permute(1, 2, 0)
        return torch.round(img * 255).to(torch.int64).numpy()

    @torch.no_grad()
    def txt2img(self, prompt, negative="", guidance=7.5, sampler="ddim", steps=10, seed=0,
                height=16, width=16, clip_skip=0, sigmas="default", x0s=None):
        """X0S, a list, gets each step's x0 estimate (the scheduler's
        pred_original_sample), UNet-space latents [1, 4, h, w]."""
        s, ctx, tcond, guided = self._setup(prompt, negative, guidance, sampler, steps, clip_skip,
                                            sigmas)
        g = torch.Generator().manual_seed(seed)
        f = self.vae_scale_factor
        shape = (1, self.unet.config["in_channels"], height // f, width // f)
        x = torch.randn(shape, generator=g, dtype=torch.float32) * s.init_noise_sigma
        return self._loop(s, s.timesteps, x, ctx, tcond, guided, guidance, g, x0s)

    @torch.no_grad()
    def img2img(self, image, strength, prompt, negative="", guidance=7.5, sampler="ddim", steps=10,
                seed=0, clip_skip=0, sigmas="default"):
        """diffusers' StableDiffusionImg2ImgPipeline: IMAGE [1, 3, H, W] in [-1, 1];
        the init latents a posterior draw (the generator's first randn), then
        add_noise at the strength's start step with the generator's next."""
        s, ctx, tcond, guided = self._setup(prompt, negative, guidance, sampler, steps, clip_skip,
                                            sigmas)
        start = schedulers.get_timesteps(s, steps, strength)
        timesteps = s.timesteps[start:]
        g = torch.Generator().manual_seed(seed)
        h = self.vae.encoder.forward_taps(image, collections.OrderedDict())
        if self.vae.quant_conv is not None:
            h = self.vae.quant_conv(h)
        mean, logvar = models.diagonal_gaussian(h)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        z = self.vae.config["scaling_factor"] * z
        noise = torch.randn(z.shape, generator=g, dtype=torch.float32)
        x = s.add_noise(z, noise, timesteps[:1]) if len(timesteps) else z
        return self._loop(s, timesteps, x, ctx, tcond, guided, guidance, g)

    def _encode_sample(self, image, g):
        """_encode_vae_image with an AutoencoderKL: a posterior draw × scaling_factor."""
        h = self.vae.encoder.forward_taps(image, collections.OrderedDict())
        if self.vae.quant_conv is not None:
            h = self.vae.quant_conv(h)
        mean, logvar = models.diagonal_gaussian(h)
        z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
        return self.vae.config["scaling_factor"] * z

    @torch.no_grad()
    def inpaint(self, image, mask_condition, prompt, negative="", guidance=7.5, sampler="ddim",
                steps=10, seed=0, clip_skip=0, sigmas="default", decode=True):
        """diffusers' StableDiffusionInpaintPipeline at strength 1: IMAGE [1, 3, H, W]
        in [-1, 1], MASK_CONDITION [1, 1, H, W] binary (the mask processor's output).

            image_latents = encode(image).sample(g) · scaling     (4-channel UNet only)
            noise = randn(g); latents = noise · init_noise_sigma
            masked_image = image · (mask_condition < 0.5)
            masked_image_latents = encode(masked_image).sample(g) · scaling
            mask = interpolate(mask_condition, size=(H/f, W/f))    (nearest)
            each step: xin = cat([scale_model_input(x), mask, masked_image_latents])
                       (9 channels) or scale_model_input(x) (4); guidance; step;
                       4 channels: x = (1 − mask)·add_noise(image_latents, noise,
                       timesteps[i + 1]) + mask·x  (image_latents after the last)
        Returns the decoded image [H, W, 3] in 0..1 (float) when DECODE."""
        s, ctx, tcond, guided = self._setup(prompt, negative, guidance, sampler, steps, clip_skip,
                                            sigmas)
        g = torch.Generator().manual_seed(seed)
        f = self.vae_scale_factor
        nine = self.unet.config["in_channels"] == 9
        image_latents = None if nine else self._encode_sample(image, g)
        shape = (1, 4, image.shape[2] // f, image.shape[3] // f)
        noise = torch.randn(shape, generator=g, dtype=torch.float32)
        x = noise * s.init_noise_sigma
        masked_image = image * (mask_condition < 0.5)
        masked_image_latents = self._encode_sample(masked_image, g)
        mask = torch.nn.functional.interpolate(mask_condition, size=shape[2:])
        timesteps = s.timesteps
        for i, t in enumerate(timesteps):
            xin = s.scale_model_input(torch.cat([x, x]) if guided else x, t)
            if nine:
                b = xin.shape[0]
                xin = torch.cat([xin, mask.repeat(b, 1, 1, 1),
                                 masked_image_latents.repeat(b, 1, 1, 1)], dim=1)
            e = self.unet(xin, torch.tensor([float(t)]), ctx, tcond)
            if guided:
                eu, et = e.chunk(2)
                e = eu + guidance * (et - eu)
            x = s.step(e, t, x, generator=g)[0]
            if not nine:
                known = image_latents
                if i < len(timesteps) - 1:
                    known = s.add_noise(image_latents, noise, timesteps[i + 1:i + 2])
                x = (1 - mask) * known + mask * x
        img = self.vae(x / self.vae.config["scaling_factor"], part="decode")
        return (img / 2 + 0.5).clamp(0, 1)


def native_size(native, mult, w, h):
    """The core's native size for a W×H crop: the longer side NATIVE, the other
    in proportion, both multiples of MULT."""
    native = max(mult, native // mult * mult)
    other = max(mult, int(math.floor(native * min(w, h) / max(w, h) / mult + 0.5)) * mult)
    return (native, other) if w >= h else (other, native)


def resize(t, h, w):
    """[N, C, H, W] resized as the core resizes crops (antialiased bilinear)."""
    if t.shape[2:] == (h, w):
        return t
    return torch.nn.functional.interpolate(t, size=(h, w), mode="bilinear", align_corners=False,
                                           antialias=True)


@torch.no_grad()
def inpaint_crop(pipe, pixels, soft_mask, native, mult, *args, **kwargs):
    """The core's inpaint of a whole crop with pipeline PIPE: PIXELS [H, W, 3] and
    SOFT_MASK [H, W] in 0..1 (numpy); the crop resized to its native size, the
    selection (mask > 0) resized the same way and binarised at 0.5, the pipeline's
    inpaint, the result resized back and composed MASK·fill + (1 − MASK)·IN.
    Returns 8-bit [H, W, 3]."""
    import numpy as np
    h, w = soft_mask.shape
    nw, nh = native_size(native, mult, w, h)
    img = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1)[None]
    sel = torch.from_numpy((soft_mask > 0).astype(np.float32))[None, None]
    img_n = resize(img, nh, nw) * 2 - 1
    cond = (resize(sel, nh, nw) >= 0.5).to(torch.float32)
    fill = resize(pipe.inpaint(img_n, cond, *args, **kwargs), h, w)[0].permute(1, 2, 0).numpy()
    m = soft_mask[..., None].astype(np.float32)
    out = np.where(m > 0, pixels + m * (fill - pixels), pixels)
    return np.round(np.clip(out, 0, 1) * 255).astype(np.int64)


def write_pipeline_files(folder, sched, vocab_dir, pipeline_class="StableDiffusionPipeline",
                         index_extra=None):
    """Beside FOLDER's unet/, vae/ and text_encoder/: tokenizer/ (vocab.json and
    merges.txt from VOCAB_DIR), scheduler/scheduler_config.json (SCHED) and
    model_index.json (with INDEX_EXTRA's entries too), as diffusers'
    save_pretrained lays a pipeline out."""
    import json
    import os
    import shutil
    os.makedirs(os.path.join(folder, "tokenizer"))
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(os.path.join(vocab_dir, name), os.path.join(folder, "tokenizer", name))
    os.makedirs(os.path.join(folder, "scheduler"))
    with open(os.path.join(folder, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(sched, f)
    with open(os.path.join(folder, "model_index.json"), "w") as f:
        json.dump({"_class_name": pipeline_class,
                   "unet": ["diffusers", "UNet2DConditionModel"],
                   "vae": ["diffusers", "AutoencoderKL"],
                   "text_encoder": ["transformers", "CLIPTextModel"],
                   "tokenizer": ["transformers", "CLIPTokenizer"],
                   "scheduler": ["diffusers", sched["_class_name"]], **(index_extra or {})}, f)


__all__ = ["Pipeline", "guidance_embedding", "inpaint_crop", "native_size", "math",
           "write_pipeline_files"]
