#!/usr/bin/python3
"""Whole Stable Diffusion jobs as a user runs them: wall time and peak RSS.

    /usr/bin/python3 tests/bench/bench_sd_jobs.py --cli build/core/generative \
        [--dtypes F32,F16] [--pipeline /var/tmp/sd15-random] \
        [--pipeline-f16 /var/tmp/sd15-random-f16] [--threads 2] \
        [--jobs txt2img,turbo,inpaint,unet] [--steps 20]

Writes (once, then reuses) an SD 1.5-shaped pipeline folder with random
weights: runwayml/stable-diffusion-v1-5's UNet and VAE configs, CLIP
ViT-L/14's text encoder (768 wide, 12 layers, the real vocabulary in
weights/clip-tokenizer), SD 1.5's PNDM scheduler config; F32, about 4.3 GB,
and with --dtypes F16 the same weights rounded to F16 files (about 2.1 GB,
as the published fp16 variants).  Then, for each dtype, each job through
the `generative` CLI (model loading and the files included, timed by
/usr/bin/time):
  txt2img   20 PNDM steps (--steps) at 512×512, guidance 7.5 (batch 2 per step)
  turbo     1 Euler step at 512×512, guidance 0 (one half: how SD-Turbo-style
            distilled models run; SD-Turbo itself is SD 2.1-shaped)
  inpaint   a 128×128 hole in a 4000×3000 photo, 20 PNDM steps, guidance 7.5
  unet      one UNet forward as a 512² txt2img step runs it (64×64 latent,
            batch 2, 77 tokens), best of 2 timed inside the process, load
            excluded: F16 against F32 is what converting the weights costs
Random weights draw noise, not pictures: the times and memory are what
real SD 1.5 weights of the same shapes cost.

A benchmark, not a test: it reports numbers and gives no verdict.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import bench_models  # noqa: E402
import clip_text  # noqa: E402
import models  # noqa: E402
import sd_pipeline  # noqa: E402
import st  # noqa: E402
import unet_cond  # noqa: E402

# openai/clip-vit-large-patch14's text config, as SD 1.5's text_encoder/config.json
CLIP_L = {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072,
          "num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": 77,
          "hidden_act": "quick_gelu", "projection_dim": 768, "bos_token_id": 0,
          "eos_token_id": 2, "pad_token_id": 1, "layer_norm_eps": 1e-5}
SD15_SCHED = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
              "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
              "trained_betas": None, "prediction_type": "epsilon"}
PROMPT = "a lighthouse on a cliff at dusk, oil painting"


def make_pipeline(folder, dtype="F32"):
    if os.path.exists(os.path.join(folder, "model_index.json")):
        return
    tmp = folder + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with torch.no_grad():   # the same seeds whatever the dtype: the same weights, rounded
        unet_cond.build(bench_models.SD15_UNET, seed=1).save_pretrained(os.path.join(tmp, "unet"),
                                                                        dtype=dtype)
        models.build(bench_models.SD_VAE, seed=2).save_pretrained(os.path.join(tmp, "vae"),
                                                                  dtype=dtype)
        clip_text.build(CLIP_L, seed=3).save_pretrained(os.path.join(tmp, "text_encoder"),
                                                        dtype=dtype)
    sd_pipeline.write_pipeline_files(tmp, SD15_SCHED,
                                     os.path.join(ROOT, "weights", "clip-tokenizer"))
    os.rename(tmp, folder)


def photo(path, w, h):
    """A smooth photo-sized test image (gradients and a few discs)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 0.5 + 0.5 * np.sin(x / 97.0) * np.cos(y / 131.0)], axis=-1)
    Image.fromarray((img * 255).astype(np.uint8)).save(path)


def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M"] + cmd, capture_output=True,
                       text=True)
    line = [s for s in r.stderr.splitlines() if s.startswith("TIME ")]
    if r.returncode != 0 or not line:
        sys.exit("failed: " + " ".join(cmd) + "\n" + r.stderr.strip())
    wall, rss_kb = line[-1].split()[1:]
    return float(wall), int(rss_kb) / 1024.0


def unet_forward(cli, unet, tmp, threads):
    """One UNet forward of a 512² txt2img step: (best forward ms, peak RSS MB)."""
    inp = os.path.join(tmp, "unet-in.safetensors")
    if not os.path.exists(inp):
        g = torch.Generator().manual_seed(0)
        st.save(inp, {"sample": torch.randn(2, 4, 64, 64, generator=g),
                      "encoder_hidden_states": torch.randn(2, 77, 768, generator=g)})
    cmd = [cli, "forward", "--model", unet, "--input", inp, "--timestep", "500",
           "--threads", str(threads), "--repeat", "2",
           "-o", os.path.join(tmp, "unet-out.safetensors")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"forward best ([\d.]+) ms.*peak RSS ([\d.]+) MB", r.stderr)
    if r.returncode != 0 or not m:
        sys.exit("generative forward failed: " + r.stderr.strip())
    return float(m.group(1)), float(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--dtypes", default="F32", help="F32, F16 or both (F32,F16)")
    ap.add_argument("--pipeline", default="/var/tmp/sd15-random", help="the F32 pipeline")
    ap.add_argument("--pipeline-f16", default="/var/tmp/sd15-random-f16", help="the F16 one")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--jobs", default="txt2img,turbo,inpaint")
    ap.add_argument("--steps", default="20", help="txt2img and inpaint steps")
    args = ap.parse_args()
    pipes = {"F32": args.pipeline, "F16": args.pipeline_f16}
    dtypes = args.dtypes.split(",")
    for dt in dtypes:
        make_pipeline(pipes[dt], dt)
    print(f"machine: {os.cpu_count()} cores; pipelines "
          + ", ".join(f"{pipes[dt]} ({dt})" for dt in dtypes) + ", random weights")
    print("| job | weights | threads | wall s | peak RSS MB |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        src, mask = os.path.join(tmp, "photo.png"), os.path.join(tmp, "mask.png")
        photo(src, 4000, 3000)
        m = np.zeros((3000, 4000), np.uint8)
        m[1436:1564, 1936:2064] = 255
        Image.fromarray(m).save(mask)
        jobs = {
            "txt2img": (f"{args.steps}-step txt2img 512×512 (PNDM, guidance 7.5)",
                        ["generate", "--steps", args.steps, "--guidance", "7.5",
                         "--width", "512", "--height", "512"]),
            "turbo": ("1-step txt2img 512×512 (Euler, guidance 0)",
                      ["generate", "--scheduler", "euler", "--steps", "1", "--guidance", "0",
                       "--width", "512", "--height", "512"]),
            "inpaint": (f"inpaint: 128×128 hole in a 4000×3000 photo ({args.steps} PNDM steps)",
                        ["inpaint", "--steps", args.steps, "--guidance", "7.5", "--mask", mask,
                         src]),
        }
        for th in args.threads.split(","):
            for name in args.jobs.split(","):
                for dt in dtypes:
                    if name == "unet":
                        ms, rss = unet_forward(args.cli, os.path.join(pipes[dt], "unet"), tmp, th)
                        print(f"| UNet forward 64×64 latent, batch 2 (best of 2, load excluded) "
                              f"| {dt} | {th} | {ms / 1e3:.2f} | {rss:.0f} |", flush=True)
                        continue
                    label, cmd = jobs[name]
                    out = os.path.join(tmp, name + ".png")
                    wall, rss = timed([args.cli] + cmd[:1] + ["--model", pipes[dt], "--prompt",
                                                              PROMPT, "--seed", "1", "--threads",
                                                              th, "-q"] + cmd[1:] + ["-o", out])
                    print(f"| {label} | {dt} | {th} | {wall:.1f} | {rss:.0f} |", flush=True)


if __name__ == "__main__":
    main()
