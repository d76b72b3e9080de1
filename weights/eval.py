#!/usr/bin/python3
"""Denoising PSNR of a checkpoint or an exported folder on the McMaster
validation images, under the protocol of ../shared/testimages/README.md:

  nice -n 19 /usr/bin/python3 weights/eval.py weights/runs/NAME [--sigmas 15,25,50]
  /usr/bin/python3 weights/eval.py weights/generative-unet

noisy = clip(round(x + n), 0, 255), n ~ N(0, sigma^2) per channel and pixel
from a fixed seed (numpy PCG64 seeded with [seed, sigma, image index]); PSNR over
all channels of the 8-bit result, averaged over the images.  Fast mode: one x0
prediction at the timestep whose noise level is sigma (train.denoise_fast),
each 500x500 image whole, reflection-padded to a multiple of 2^(levels-1) and
cropped back.  With the PyTorch model.  For monitoring only: never pick a
checkpoint image by image on these figures."""

import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import camera_noise  # noqa: E402
import diffusion  # noqa: E402
import export  # noqa: E402
import train  # noqa: E402

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "testimages", "mcmaster")


def load_model(path):
    """-> (model, scheduler config, description)."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json")):
        model = diffusion.load_unet(path)
        with open(os.path.join(path, "scheduler_config.json")) as f:
            sched = json.load(f)
        return model, sched, "exported folder %s" % path
    model, sched, step, ck = export.load_checkpoint_model(path)
    return model, sched, "%s (EMA weights, step %d)" % (ck, step)


def noisy_image(clean, sigma, seed, index):
    rng = np.random.default_rng([seed, int(round(sigma * 1000)), index])
    n = rng.normal(0.0, sigma, clean.shape)
    return np.clip(np.round(clean + n), 0, 255)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / mse)


def denoise_image(model, sched, noisy, sigma, multiple, shift=(0, 0)):
    """NOISY [H, W, 3] float 0..255 -> [H, W, 3] uint8.  SHIFT (rows, columns):
    reflected ones put in front, as the C core does to line a Bayer mosaic's
    red sites up with the even rows and columns the model learnt them on."""
    h, w, _ = noisy.shape
    sy, sx = shift
    x = torch.from_numpy(noisy).float().permute(2, 0, 1)[None]
    ph, pw = (-(h + sy)) % multiple, (-(w + sx)) % multiple
    if sy or sx or ph or pw:
        x = F.pad(x, (sx, pw, sy, ph), mode="reflect")
    y = train.denoise_fast(model, sched, x, sigma)[0, :, sy:sy + h, sx:sx + w]
    return y.round().clamp(0, 255).permute(1, 2, 0).numpy().astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", help="checkpoint file, run folder (latest checkpoint) or exported folder")
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--sigmas", default="15,25,50",
                    help="Gaussian noise levels; with --noise, that kind's levels (pg/demosaic: "
                         "pg-low,pg-mid,pg-high; jpeg: qualities of sigma-15 noise)")
    ap.add_argument("--noise", default="gaussian", choices=["gaussian", "pg", "demosaic", "jpeg"],
                    help="noise kind (camera_noise.py); the model is given the noise's RMS as sigma")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from PIL import Image

    files = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not files:
        sys.exit("no PNG images in %s" % args.images)
    if args.limit:
        files = files[:args.limit]
    model, sched_cfg, desc = load_model(args.model)
    sched = diffusion.VPSchedule(sched_cfg)
    multiple = 2 ** (diffusion.levels(model.config) - 1)
    print("model: %s" % desc)
    print("images: %d from %s, noise seed %d" % (len(files), args.images, args.seed))
    results = {"model": desc, "images": len(files), "seed": args.seed, "sigmas": {}}
    results["noise"] = args.noise
    for level in args.sigmas.split(","):
        t0 = time.time()
        p_noisy, p_out = [], []
        sigma = float(level) if args.noise == "gaussian" else 0.0
        for i, path in enumerate(files):
            clean = np.asarray(Image.open(path).convert("RGB")).astype(np.float64)
            if args.noise == "gaussian":
                noisy = noisy_image(clean, sigma, args.seed, i)
                s_i = sigma
            else:
                noisy, s_i = camera_noise.eval_noisy(clean, args.noise, level, args.seed, i)
                sigma += s_i / len(files)
            # demosaiced noise: its known phase lined up (the C core finds it)
            shift = camera_noise.eval_phase(i) if args.noise == "demosaic" else (0, 0)
            out = denoise_image(model, sched, noisy, s_i, multiple, shift)
            p_noisy.append(psnr(noisy, clean))
            p_out.append(psnr(out, clean))
        dt = time.time() - t0
        t = float(sched.t_of_sigma(2 * sigma / 255))
        if args.noise != "gaussian":
            print("%s %s: mean effective sigma %.2f" % (args.noise, level, sigma))
        print("sigma %g (timestep %.2f): noisy input %.2f dB, fast denoise %.2f dB  (%.1f s)"
              % (sigma, t, np.mean(p_noisy), np.mean(p_out), dt), flush=True)
        results["sigmas"][level] = {"sigma": sigma, "noisy_psnr": float(np.mean(p_noisy)),
                                          "denoised_psnr": float(np.mean(p_out)),
                                          "per_image": [float(p) for p in p_out],
                                          "timestep": t, "seconds": dt}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
