#!/usr/bin/python3
"""Golden Stable Diffusion runs: `generative generate --prompt` on a tiny
random pipeline folder (model_index.json; tiny CLIPTextModel over the real
CLIP vocabulary in weights/clip-tokenizer, tiny UNet2DConditionModel, tiny
AutoencoderKL, SD 1.5's scheduler config) against the reference loop in
tests/reference/sd_pipeline.py; the 8-bit images must agree within one level
everywhere.  Inpaint (a 9-channel inpainting UNet and an ordinary one, hard
and grey masks, a crop at the native size and one resized to it) against
the reference's inpaint loop and crop handling, pixels outside the mask
bit-exact to the input.  Also: an LCM pipeline (time_cond_proj_dim),
guidance ≤ 1, clip skip, and hostile model_index.json files refused with a
clear error; --preview's picture of the x0 estimate (linear map, TAESD
decode, and a pixel model's subsampled x0) against the reference's
pred_original_sample.

    /usr/bin/python3 tests/golden_sd.py --cli build/core/generative [--keep DIR]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: the reference needs python3-torch, numpy and PIL ({e})")
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else SKIP)

sys.path.insert(0, os.path.join(HERE, "reference"))
import clip_text  # noqa: E402
import models  # noqa: E402
import sd_pipeline  # noqa: E402
import unet_cond  # noqa: E402

VOCAB = os.path.join(HERE, "..", "weights", "clip-tokenizer")
EMBEDDED = os.path.join(HERE, "..", "weights", "generative-unet")
HIDDEN = 16
CLIP = {"vocab_size": 49408, "hidden_size": HIDDEN, "intermediate_size": 32,
        "num_hidden_layers": 3, "num_attention_heads": 2, "max_position_embeddings": 77,
        "hidden_act": "quick_gelu", "projection_dim": 8, "bos_token_id": 49406,
        "eos_token_id": 49407, "pad_token_id": 1}
UNET = {"_class_name": "UNet2DConditionModel", "block_out_channels": [8, 16], "norm_num_groups": 4,
        "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 1,
        "cross_attention_dim": HIDDEN, "attention_head_dim": 2, "sample_size": 8,
        "in_channels": 4, "out_channels": 4}
VAE = {"_class_name": "AutoencoderKL", "block_out_channels": [8, 16], "norm_num_groups": 4,
       "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2,
       "layers_per_block": 1, "latent_channels": 4, "in_channels": 3, "out_channels": 3,
       "scaling_factor": 0.18215}
SD15_SCHED = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
              "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
              "trained_betas": None, "prediction_type": "epsilon"}
LCM_SCHED = {"_class_name": "LCMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
             "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
             "original_inference_steps": 50, "set_alpha_to_one": True, "steps_offset": 1,
             "prediction_type": "epsilon", "timestep_spacing": "leading"}


def make_pipeline(folder, pipeline_class, sched, unet_extra=None, seed=5):
    os.makedirs(folder)
    # what a real SD 1.x model_index.json carries besides the components
    sd_pipeline.write_pipeline_files(folder, sched, VOCAB, pipeline_class, index_extra={
        "_diffusers_version": "0.27.0", "safety_checker": [None, None],
        "feature_extractor": [None, None], "requires_safety_checker": True})
    text = clip_text.build(CLIP, seed=seed)
    with torch.no_grad():   # a larger embedding so prompts matter in a tiny model
        text.text_model.embeddings.token_embedding.weight.mul_(4.0)
    text.save_pretrained(os.path.join(folder, "text_encoder"), position_ids=True)
    unet_cond.build(dict(UNET, **(unet_extra or {})), seed=seed + 1).save_pretrained(
        os.path.join(folder, "unet"))
    models.build(VAE, seed=seed + 2).save_pretrained(os.path.join(folder, "vae"))


# pipeline, sampler, sigmas, steps, guidance, extra options
RUNS = [
    ("sd", "ddim", "default", 8, 7.5, {}),
    ("sd", "euler", "default", 8, 7.5, {}),
    ("sd", "dpmpp_2m", "karras", 8, 5.0, {}),
    ("sd", "pndm", "default", 10, 7.5, {}),
    ("sd", "lcm", "default", 4, 7.5, {}),
    ("sd", "euler", "default", 6, 1.0, {}),                      # guidance ≤ 1: one half
    ("sd", "ddim", "default", 6, 7.5, {"clip_skip": 1}),
    ("sd", "ddim", "default", 6, 7.5, {"negative": "blurry, low quality"}),
    ("lcm", "lcm", "default", 4, 8.0, {}),                       # guidance embedding
    ("sd", "euler", "default", 6, 7.5, {"vae": "taesd"}),          # --vae: AutoencoderTiny
]
TAESD = {"_class_name": "AutoencoderTiny", "encoder_block_out_channels": [8, 8, 8],
         "decoder_block_out_channels": [8, 8, 8], "num_encoder_blocks": [1, 1, 1],
         "num_decoder_blocks": [1, 1, 1], "latent_channels": 4}
PROMPT = "a photograph of an astronaut riding a horse, 4k"


def judge(name, ours, ref):
    """Within one 8-bit level everywhere, and not a flat image; prints the row."""
    diff = np.abs(ours - ref)
    ok = diff.max() <= 1 and float(ref.std()) > 1.0
    print(f"{'ok  ' if ok else 'FAIL'} {name}: max diff {diff.max()} levels, "
          f"{(diff > 0).mean() * 100:.2f} % of samples differ, image std {ref.std():.1f}")
    return ok


def run_cli(cli, args):
    return subprocess.run([cli] + args, capture_output=True, text=True)


def golden(cli, tmp, pipes):
    passed = failed = 0
    out = os.path.join(tmp, "out.png")
    for pipe, sampler, sigmas, steps, guidance, extra in RUNS:
        seed = 77 + steps
        w, h = 24, 16
        cmd = ["generate", "--model", pipes[pipe], "--prompt", PROMPT, "--scheduler", sampler,
               "--sigmas", sigmas, "--steps", str(steps), "--seed", str(seed),
               "--guidance", str(guidance), "--width", str(w), "--height", str(h),
               "--threads", "1", "-q", "-o", out]
        if "negative" in extra:
            cmd += ["--negative-prompt", extra["negative"]]
        if "clip_skip" in extra:
            cmd += ["--clip-skip", str(extra["clip_skip"])]
        if "vae" in extra:
            cmd += ["--vae", pipes[extra["vae"]]]
        name = f"{pipe} {sampler}/{sigmas} {steps} steps guidance {guidance} {extra}"
        r = run_cli(cli, cmd)
        if r.returncode != 0:
            print(f"FAIL {name}: {r.stderr.strip()}")
            failed += 1
            continue
        ours = np.asarray(Image.open(out).convert("RGB")).astype(np.int64)
        ref = sd_pipeline.Pipeline(pipes[pipe], pipes.get(extra.get("vae"))).txt2img(
            PROMPT, extra.get("negative", ""), guidance, sampler, steps, seed, h, w,
            extra.get("clip_skip", 0), sigmas)
        ok = judge(name, ours, ref)
        passed += ok
        failed += not ok
    return passed, failed


# The preview (--preview FILE): at each step a picture of the x0 estimate, by
# SD 1.x/2.x's published linear latent -> RGB map, or decoded by an
# AutoencoderTiny (--vae); the file left is the last step's.
SD_LATENT_RGB = [[0.3512, 0.2297, 0.3227], [0.3250, 0.4974, 0.2350],
                 [-0.2829, 0.1762, 0.2721], [-0.2120, -0.2616, -0.7177]]


def golden_preview(cli, tmp, pipes):
    passed = failed = 0
    w, h, steps, seed = 24, 16, 6, 31
    for vae in (None, "taesd"):
        prev = os.path.join(tmp, "preview.png")
        cmd = ["generate", "--model", pipes["sd"], "--prompt", PROMPT, "--scheduler", "ddim",
               "--steps", str(steps), "--seed", str(seed), "--width", str(w), "--height", str(h),
               "--threads", "1", "-q", "--preview", prev, "-o", os.path.join(tmp, "p-out.png")]
        if vae:
            cmd[3:3] = ["--vae", pipes[vae]]
        name = f"preview of the last step's x0 ({'TAESD decode' if vae else 'linear map'})"
        r = run_cli(cli, cmd)
        if r.returncode != 0:
            print(f"FAIL {name}: {r.stderr.strip()}")
            failed += 1
            continue
        pipe = sd_pipeline.Pipeline(pipes["sd"], pipes.get(vae))
        x0s = []
        with torch.no_grad():
            pipe.txt2img(PROMPT, "", 7.5, "ddim", steps, seed, h, w, x0s=x0s)
            x0 = x0s[-1]
            if vae:
                rgb = pipe.vae(x0 / pipe.vae.config["scaling_factor"], part="decode")[0]
                rgb = rgb.permute(1, 2, 0)
            else:
                rgb = torch.einsum("nlhw,lc->nhwc", x0, torch.tensor(SD_LATENT_RGB))[0]
        ref = torch.round((rgb / 2 + 0.5).clamp(0, 1) * 255).to(torch.int64).numpy()
        ours = np.asarray(Image.open(prev).convert("RGB")).astype(np.int64)
        if ours.shape != ref.shape:
            print(f"FAIL {name}: {ours.shape} where the reference is {ref.shape}")
            failed += 1
            continue
        ok = judge(name, ours, ref)
        passed += ok
        failed += not ok
    # a pixel model's preview is x0 itself, every K-th pixel when the image
    # is wider than 512 (here K = 3): after DDIM's one step it is the result
    prev, out = os.path.join(tmp, "preview-px.png"), os.path.join(tmp, "px.png")
    r = run_cli(cli, ["generate", "--model", EMBEDDED, "--scheduler", "ddim", "--steps", "1",
                      "--seed", "2", "--width", "1104", "--height", "600", "-q",
                      "--preview", prev, "-o", out])
    if r.returncode != 0:
        print(f"FAIL preview of a pixel model: {r.stderr.strip()}")
        return passed, failed + 1
    ours = np.asarray(Image.open(prev).convert("RGB")).astype(np.int64)
    ref = np.asarray(Image.open(out).convert("RGB")).astype(np.int64)[::3, ::3]
    ok = ours.shape == (200, 368, 3) and judge("preview of a 1104x600 pixel-model image "
                                               "(368x200, every 3rd pixel)", ours, ref)
    if ours.shape != (200, 368, 3):
        print(f"FAIL preview of a pixel model: {ours.shape}, not 368x200")
    return passed + ok, failed + (not ok)


# img2img: pipeline, sampler, steps, strength
VARY_RUNS = [
    ("sd", "ddim", 10, 0.6),
    ("sd", "euler", 8, 0.75),
    ("sd", "dpmpp_2m", 8, 0.5),
    ("sd", "pndm", 10, 0.7),
    ("lcm", "lcm", 4, 0.6),
]


def golden_vary(cli, tmp, pipes):
    passed = failed = 0
    rng = np.random.default_rng(3)
    h, w = 16, 24
    yy, xx = np.mgrid[0:h, 0:w]
    src = np.stack([xx * 10, yy * 14, 255 - xx * 9], -1) + rng.integers(0, 40, (h, w, 3))
    src = np.clip(src, 0, 255).astype(np.uint8)
    inp, out = os.path.join(tmp, "in.png"), os.path.join(tmp, "vary.png")
    Image.fromarray(src).save(inp)
    image = torch.from_numpy(src.astype(np.float32) / 255.0).permute(2, 0, 1)[None] * 2 - 1
    for pipe, sampler, steps, strength in VARY_RUNS:
        seed = 11 + steps
        r = run_cli(cli, ["vary", "--model", pipes[pipe], "--prompt", PROMPT, "--scheduler",
                          sampler, "--steps", str(steps), "--strength", str(strength), "--seed",
                          str(seed), "--threads", "1", "-q", "-o", out, inp])
        name = f"img2img {pipe} {sampler} {steps} steps strength {strength}"
        if r.returncode != 0:
            print(f"FAIL {name}: {r.stderr.strip()}")
            failed += 1
            continue
        ours = np.asarray(Image.open(out).convert("RGB")).astype(np.int64)
        ref = sd_pipeline.Pipeline(pipes[pipe]).img2img(image, strength, PROMPT, "", 7.5,
                                                        sampler, steps, seed)
        ok = judge(name, ours, ref)
        passed += ok
        failed += not ok
    return passed, failed


# inpaint: pipeline, sampler, steps, mask kind, image width × height.  16 is the
# tiny pipelines' native size (sample_size 8 × the VAE's 2) and 4 their size
# multiple, so a 16×16 crop runs as it is and a 24×16 one is resized to 16×12
# and back.
INPAINT_RUNS = [
    ("inpaint", "ddim", 8, "hard", 16, 16),      # 9-channel UNet
    ("inpaint", "pndm", 10, "hard", 16, 16),
    ("sd", "ddim", 8, "hard", 16, 16),           # 4-channel UNet: latent blending
    ("sd", "pndm", 10, "hard", 16, 16),
    ("inpaint", "euler", 8, "soft", 16, 16),     # grey mask: a blend by its value
    ("sd", "ddim", 8, "soft", 16, 16),
    ("inpaint", "ddim", 8, "hard", 24, 16),      # resized to native and back
    ("sd", "dpmpp_2m", 8, "soft", 24, 16),
    ("lcm", "lcm", 4, "soft", 16, 16),           # LCM: guidance embedding, no CFG batch
]
NATIVE, MULTIPLE = 16, 4


def inpaint_inputs(w, h, kind):
    """A gradient photo with texture and a mask: HARD a white rectangle, SOFT
    the same with a grey (128) frame and a faint (40) ring around it."""
    rng = np.random.default_rng(w * 100 + h)
    yy, xx = np.mgrid[0:h, 0:w]
    src = np.stack([xx * 9, yy * 13, 255 - xx * 7], -1) + rng.integers(0, 50, (h, w, 3))
    src = np.clip(src, 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), np.uint8)
    if kind == "soft":
        mask[3:h - 3, 3:w - 4] = 40
        mask[4:h - 4, 4:w - 5] = 128
    mask[5:h - 5, 5:w - 6] = 255
    return src, mask


def golden_inpaint(cli, tmp, pipes):
    passed = failed = 0
    inp, msk, out = (os.path.join(tmp, n) for n in ("inp-in.png", "inp-mask.png", "inp.png"))
    for pipe, sampler, steps, kind, w, h in INPAINT_RUNS:
        seed = 21 + steps
        src, mask = inpaint_inputs(w, h, kind)
        Image.fromarray(src).save(inp)
        Image.fromarray(mask).save(msk)
        r = run_cli(cli, ["inpaint", "--model", pipes[pipe], "--prompt", PROMPT, "--mask", msk,
                          "--scheduler", sampler, "--steps", str(steps), "--seed", str(seed),
                          "--guidance", "7.5", "--threads", "1", "-q", "-o", out, inp])
        name = f"inpaint {pipe} {sampler} {steps} steps {kind} mask {w}×{h}"
        if r.returncode != 0:
            print(f"FAIL {name}: {r.stderr.strip()}")
            failed += 1
            continue
        ours = np.asarray(Image.open(out).convert("RGB")).astype(np.int64)
        ref = sd_pipeline.inpaint_crop(sd_pipeline.Pipeline(pipes[pipe]), src / np.float32(255),
                                       mask.astype(np.float32) / np.float32(255), NATIVE,
                                       MULTIPLE, PROMPT, "", 7.5, sampler, steps, seed)
        ok = judge(name, ours, ref)
        keep = mask == 0
        same = bool((ours[keep] == src[keep]).all())
        changed = float(np.abs(ours - src)[mask == 255].mean())
        print(f"{'ok  ' if same and changed > 1 else 'FAIL'} {name}: pixels outside the mask "
              f"{'bit-exact' if same else 'CHANGED'}, inside changed by {changed:.1f} levels")
        ok = ok and same and changed > 1
        passed += ok
        failed += not ok
    # an inpainting UNet does nothing but inpaint: generate says so
    r = run_cli(cli, ["generate", "--model", pipes["inpaint"], "--prompt", PROMPT, "--steps", "2",
                      "-q", "-o", out])
    ok = r.returncode == 1 and "inpainting model" in r.stderr
    print(f"{'ok  ' if ok else 'FAIL'} generate with an inpainting UNet: "
          f"{r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}")
    return passed + ok, failed + (not ok)


def hostile(cli, tmp, good):
    """model_index.json cases that must fail with one clear message."""
    with open(os.path.join(good, "model_index.json")) as f:
        index = json.load(f)
    cases = [
        ("unknown pipeline class", dict(index, _class_name="StableDiffusionXLPipeline"),
         "not supported"),
        ("unknown unet class", dict(index, unet=["diffusers", "UNet3DConditionModel"]),
         "not a class"),
        ("component outside the folder", dict(index, **{"../unet": ["diffusers", "X"]}),
         "plain subfolder"),
        ("absolute component path", dict(index, **{"/etc": ["diffusers", "X"]}),
         "plain subfolder"),
        ("component not a pair", dict(index, vae="AutoencoderKL"), "must be"),
        ("missing text encoder", {k: v for k, v in index.items() if k != "text_encoder"},
         "needs unet"),
        ("not JSON", "{'a': 1", "model_index.json"),
        ("too big", "{" + " " * (300 * 1024) + "}", "too big"),
    ]
    passed = failed = 0
    for name, content, want in cases:
        folder = os.path.join(tmp, "hostile")
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(good, folder)
        with open(os.path.join(folder, "model_index.json"), "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        r = run_cli(cli, ["generate", "--model", folder, "--prompt", "x", "--steps", "1",
                          "-q", "-o", os.path.join(tmp, "h.png")])
        ok = r.returncode == 1 and want in r.stderr and len(r.stderr.strip().splitlines()) == 1
        print(f"{'ok  ' if ok else 'FAIL'} hostile {name}: {r.stderr.strip()}")
        passed += ok
        failed += not ok
    # pickle weights are refused with a hint
    folder = os.path.join(tmp, "pickle")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(good, folder)
    os.rename(os.path.join(folder, "unet", "diffusion_pytorch_model.safetensors"),
              os.path.join(folder, "unet", "diffusion_pytorch_model.bin"))
    r = run_cli(cli, ["generate", "--model", folder, "--prompt", "x", "-q", "-o",
                      os.path.join(tmp, "h.png")])
    ok = r.returncode == 1 and "convert it" in r.stderr
    print(f"{'ok  ' if ok else 'FAIL'} hostile pickle weights: {r.stderr.strip()}")
    return passed + ok, failed + (not ok)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--keep")
    args = ap.parse_args()
    torch.set_num_threads(1)
    tmp = args.keep or tempfile.mkdtemp()
    try:
        pipes = {"sd": os.path.join(tmp, "sd"), "lcm": os.path.join(tmp, "lcm"),
                 "taesd": os.path.join(tmp, "taesd"), "inpaint": os.path.join(tmp, "inpaint")}
        for p in pipes.values():
            shutil.rmtree(p, ignore_errors=True)
        make_pipeline(pipes["sd"], "StableDiffusionPipeline", SD15_SCHED)
        make_pipeline(pipes["lcm"], "LatentConsistencyModelPipeline", LCM_SCHED,
                      {"time_cond_proj_dim": 8})
        make_pipeline(pipes["inpaint"], "StableDiffusionInpaintPipeline", SD15_SCHED,
                      {"in_channels": 9}, seed=13)
        models.build(TAESD, seed=9).save_pretrained(pipes["taesd"])
        p1, f1 = golden(args.cli, tmp, pipes)
        p2, f2 = hostile(args.cli, tmp, pipes["sd"])
        p3, f3 = golden_vary(args.cli, tmp, pipes)
        p4, f4 = golden_preview(args.cli, tmp, pipes)
        p5, f5 = golden_inpaint(args.cli, tmp, pipes)
        p2, f2 = p2 + p3 + p4 + p5, f2 + f3 + f4 + f5
        t0 = time.monotonic()
        r = run_cli(args.cli, ["generate", "--model", pipes["sd"], "--prompt", PROMPT,
                               "--steps", "20", "--seed", "1", "--threads", "1", "-q",
                               "-o", os.path.join(tmp, "t.png")])
        print(f"timing: 20-step txt2img on the tiny pipeline (default size, 1 thread): "
              f"{time.monotonic() - t0:.2f} s wall, rc {r.returncode}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    passed, failed = p1 + p2, f1 + f2
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
