#!/usr/bin/python3
"""Trains, exports and evaluates the embedded VAE (diffusers AutoencoderKL) on
synthetic dead-leaves images.

  # train (one CPU core, in the background)
  nice -n 19 /usr/bin/python3 weights/train_vae.py --run weights/runs/NAME --steps 8000
  # a second stage from another run's weights (recorded as "init" in recipe.json)
  nice -n 19 /usr/bin/python3 weights/train_vae.py --run weights/runs/NAME2 --steps 2500 \
      --set 'init="weights/runs/NAME/ckpt-0002000.pt"' --set warmup=100 --set decay_steps=2500
  nice -n 19 /usr/bin/python3 weights/train_vae.py --run weights/runs/NAME --steps 10000 --resume
  # export the EMA weights (latest checkpoint, or --ckpt FILE) to a diffusers folder,
  # with the latent scaling_factor measured on synthetic images
  /usr/bin/python3 weights/train_vae.py --run weights/runs/NAME --export weights/generative-vae
  # round-trip PSNR on McMaster (checkpoint, run folder or exported folder), optionally
  # also through the C core's `generative vae`
  /usr/bin/python3 weights/train_vae.py --eval weights/generative-vae [--cli build/core/generative]

The recipe (model, data, loss, optimiser) is the RECIPE dict below; a run
folder keeps it as recipe.json and --resume reads it back (--set KEY=JSON,
dotted keys, only when a run starts).  On --resume only the learning-rate schedule
(RESUME_KEYS) may be changed with --set, and the change is recorded with its
step in recipe.json.  Every batch is a pure function of
(seed, step), images and posterior noise, so a resumed run sees the batches it
would have seen.

Model: tests/reference/models.py's AutoencoderKL (diffusers' parameter names),
DownEncoderBlock2D / UpDecoderBlock2D, no attention in the mid blocks
(mid_block_add_attention false: fully convolutional, cost linear in the pixel
count).  Loss, per image (LDM's normalisation, divided by the number of
values 3HW):  L1(x_hat, x) + w_grad * L1(grad x_hat, grad x)
+ w_chroma * L1 of the 4x4-averaged error on the opponent-colour axes
(R-G)/sqrt2, (R+G-2B)/sqrt6 (a run stuck with a single chroma axis was the
reason; recipes without the key use 0)
+ kl_weight * KL(q(z|x) || N(0, I)) / (3HW), the KL summed over the latent, with
z drawn from the posterior (reparameterised) during training; evaluation and
export use the posterior mean, as the C core does.  EMA of the weights; the
export is the EMA model.  No adversarial or perceptual term: the target is
round-trip PSNR.
"""

import argparse
import copy
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import dead_leaves  # noqa: E402
import models  # noqa: E402  (tests/reference/models.py)
from train import (DrawnImages, checkpoints, ema_update, lr_at, resolve_checkpoint,  # noqa: E402
                   save_checkpoint)  # (the UNet recipe's)

DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "testimages", "mcmaster")
DEFAULT_OUT = os.path.join(HERE, "generative-vae")

RECIPE = {
    "seed": 0,
    "crop": 64,
    "batch": 8,
    "data_reuse": 2,                # each drawn batch serves this many steps (rotated by 90 deg)
    "vae": {"block_out_channels": [32, 64, 128], "layers_per_block": 1, "latent_channels": 4,
            "norm_num_groups": 8, "mid_block_add_attention": False},
    "dead_leaves": dead_leaves.DEFAULTS,
    "hflip": True,
    "w_l1": 1.0,
    "w_mse": 0.0,
    "w_grad": 0.25,
    "w_chroma": 1.0,                # L1 of the 4x4-pooled opponent-colour error (see losses)
    "kl_weight": 1e-6,
    "lr": 5e-4,
    "warmup": 200,
    "lr_schedule": "cosine",        # or "constant"
    "decay_steps": 8000,
    "min_lr_frac": 0.1,
    "adam_betas": [0.9, 0.999],
    "weight_decay": 0.0,
    "grad_clip": 1.0,
    "ema_decay": 0.999,
    "init": None,                   # checkpoint whose "model" weights start the run (stage 2)
    "val_images": 16,
    "val_size": 64,
    "scaling_images": 64,           # synthetic images for the latent scaling_factor
    "scaling_size": 128,
}


# recipe entries that --set may change on --resume (recorded under "changes")
RESUME_KEYS = ("lr", "lr_schedule", "decay_steps", "min_lr_frac")


def vae_config(v, sample_size=64):
    n = len(v["block_out_channels"])
    return {
        "_class_name": "AutoencoderKL",
        "_diffusers_version": models.DIFFUSERS_VERSION,
        "in_channels": 3,
        "out_channels": 3,
        "down_block_types": ["DownEncoderBlock2D"] * n,
        "up_block_types": ["UpDecoderBlock2D"] * n,
        "block_out_channels": list(v["block_out_channels"]),
        "layers_per_block": v["layers_per_block"],
        "act_fn": "silu",
        "latent_channels": v["latent_channels"],
        "norm_num_groups": v["norm_num_groups"],
        "sample_size": sample_size,
        "scaling_factor": 1.0,
        "shift_factor": None,
        "latents_mean": None,
        "latents_std": None,
        "force_upcast": False,
        "use_quant_conv": True,
        "use_post_quant_conv": True,
        "mid_block_add_attention": v["mid_block_add_attention"],
    }


def build_vae(config, seed):
    torch.manual_seed(seed)
    return models.AutoencoderKL.from_config(config)


def downscale(config):
    return 2 ** (len(config["block_out_channels"]) - 1)


def set_key(recipe, dotted, value):
    keys = dotted.split(".")
    d = recipe
    for k in keys[:-1]:
        if k not in d or not isinstance(d[k], dict):
            raise KeyError("no recipe entry %r" % dotted)
        d = d[k]
    if keys[-1] not in d:
        raise KeyError("no recipe entry %r" % dotted)
    d[keys[-1]] = value


# ---------------------------------------------------------------- data and loss

class Batches:
    """The batch of step k: (x [B,3,S,S] in [-1,1], posterior noise seed).  The
    images of step k are drawn for k // data_reuse (seeds apart from the UNet's)
    and rotated by 90 degrees (k % data_reuse) times; then random h-flips."""

    def __init__(self, recipe):
        self.r = recipe
        self.gen = dead_leaves.DeadLeaves(recipe["crop"], recipe["dead_leaves"])
        self.images = DrawnImages(self.gen, recipe["batch"], recipe["data_reuse"],
                                  lambda j: (recipe["seed"], 2 ** 20 + j))

    def __call__(self, step):
        r = self.r
        x = self.images(step)
        rng = np.random.default_rng((r["seed"], 2 ** 20 + int(step), 1))
        if r["hflip"]:
            flip = torch.from_numpy(rng.random(r["batch"]) < 0.5)
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return x, int(rng.integers(2 ** 62))


def synthetic_set(recipe, n, size, tag):
    gen = dead_leaves.DeadLeaves(size, recipe["dead_leaves"])
    return gen.batch(n, (recipe["seed"], tag)) * 2 - 1


def encode_moments(model, x):
    h = model.encoder.forward_taps(x, {})
    if model.quant_conv is not None:
        h = model.quant_conv(h)
    return models.diagonal_gaussian(h)


def losses(model, recipe, x, noise_seed):
    """-> (total loss, dict of its parts as floats)."""
    mean, logvar = encode_moments(model, x)
    std = torch.exp(0.5 * logvar)
    g = torch.Generator().manual_seed(noise_seed)
    eps = torch.randn(mean.shape, generator=g).to(mean.device)
    z = mean + std * eps
    out, _ = model.decode_taps(z)
    d = out - x
    n = d[0].numel()
    l1 = d.abs().mean()
    mse = (d * d).mean()
    gx = (d[..., :, 1:] - d[..., :, :-1]).abs().mean()
    gy = (d[..., 1:, :] - d[..., :-1, :]).abs().mean()
    grad = 0.5 * (gx + gy)
    # colour: the error projected on the two opponent axes (R-G)/sqrt2, (R+G-2B)/sqrt6,
    # averaged over 4x4 cells: low-frequency chroma, which pixel L1 under-weights
    o1 = (d[:, 0] - d[:, 1]) / math.sqrt(2.0)
    o2 = (d[:, 0] + d[:, 1] - 2.0 * d[:, 2]) / math.sqrt(6.0)
    chroma = F.avg_pool2d(torch.stack([o1, o2], 1), 4, ceil_mode=True).abs().mean()
    kl = 0.5 * (mean * mean + std * std - 1.0 - logvar).sum(dim=(1, 2, 3)).mean()
    total = (recipe["w_l1"] * l1 + recipe["w_mse"] * mse + recipe["w_grad"] * grad
             + recipe.get("w_chroma", 0.0) * chroma + recipe["kl_weight"] * kl / n)
    return total, {"l1": l1.item(), "mse": mse.item(), "grad": grad.item(),
                   "chroma": chroma.item(), "kl": kl.item()}


def psnr_t(a, b):
    """PSNR (dB, 0..255) of two tensors in [-1, 1] after 8-bit rounding."""
    a8 = ((a.clamp(-1, 1) + 1) * 127.5).round()
    b8 = ((b.clamp(-1, 1) + 1) * 127.5).round()
    mse = ((a8 - b8) ** 2).mean().item()
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-12))


@torch.no_grad()
def round_trip(model, x):
    """decode(encode(x).mean); X [N,3,H,W] in [-1,1], reflection-padded to a
    multiple of the down-scaling factor and cropped back."""
    f = downscale(model.config)
    h, w = x.shape[-2:]
    ph, pw = (-h) % f, (-w) % f
    xp = F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x
    return model(xp)[..., :h, :w]


# ---------------------------------------------------------------- checkpoints

# checkpoints(), save_checkpoint(), lr_at() and ema_update() are train.py's (imported above).


# ---------------------------------------------------------------- training

def train(args):
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    recipe_path = os.path.join(args.run, "recipe.json")
    ck = checkpoints(args.run)
    if args.resume:
        if not os.path.exists(recipe_path):
            sys.exit("--resume: no recipe.json in %s" % args.run)
        with open(recipe_path) as f:
            recipe = json.load(f)
        if args.set:
            # only the learning-rate schedule may change on a resume (e.g. to anneal a run
            # whose time ran short); the change and its step are recorded in recipe.json
            start_step = (int(os.path.basename(ck[-1])[5:12]) if ck else 0)
            changed = {}
            for item in args.set:
                k, _, v = item.partition("=")
                if k not in RESUME_KEYS:
                    sys.exit("--set %s: on --resume only %s may change" % (k, ", ".join(RESUME_KEYS)))
                set_key(recipe, k, json.loads(v))
                changed[k] = json.loads(v)
            recipe.setdefault("changes", []).append({"step": start_step, "set": changed})
            with open(recipe_path, "w") as f:
                json.dump(recipe, f, indent=2)
                f.write("\n")
            print("schedule changed at step %d: %s" % (start_step, changed), flush=True)
    else:
        if ck:
            sys.exit("%s already has checkpoints: pass --resume or use a new --run" % args.run)
        recipe = copy.deepcopy(RECIPE)
        for item in args.set or []:
            k, _, v = item.partition("=")
            set_key(recipe, k, json.loads(v))
        with open(recipe_path, "w") as f:
            json.dump(recipe, f, indent=2)
            f.write("\n")

    dev = torch.device(args.device)
    cfg = vae_config(recipe["vae"], recipe["crop"])
    model = build_vae(cfg, recipe["seed"])
    ema = build_vae(cfg, recipe["seed"])
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt_state = None
    start = 0
    if recipe.get("init") and not ck:
        init = torch.load(resolve_checkpoint(recipe["init"]), map_location="cpu")
        model.load_state_dict(init["model"])
        ema.load_state_dict(init["model"])
        print("initialised from %s (step %d, its model weights)" % (recipe["init"], init["step"]),
              flush=True)
    if args.resume and ck:
        state = torch.load(ck[-1], map_location="cpu")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt_state = state["opt"]
        start = state["step"]
        print("resumed from %s (step %d)" % (ck[-1], start), flush=True)
    model.to(dev).train()
    ema.to(dev).eval()
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], betas=tuple(recipe["adam_betas"]),
                            weight_decay=recipe["weight_decay"])
    if opt_state is not None:
        opt.load_state_dict(opt_state)

    batches = Batches(recipe)
    val = synthetic_set(recipe, recipe["val_images"], recipe["val_size"], 10 ** 9 + 1)
    n_par = sum(p.numel() for p in model.parameters())
    print("AutoencoderKL %s, %.3f M parameters, down-scaling %d, batch %d x %dx%d, device %s, "
          "%d thread(s)" % (recipe["vae"], n_par / 1e6, downscale(cfg), recipe["batch"],
                            recipe["crop"], recipe["crop"], dev, args.threads), flush=True)

    metrics = open(os.path.join(args.run, "metrics.jsonl"), "a")
    acc, n_acc = {}, 0
    t_data = t_step = 0.0
    t0 = t_last = t_mark = time.time()
    for step in range(start, args.steps):
        x, noise_seed = batches(step)
        t_got = time.time()
        t_data += t_got - t_mark
        lr = lr_at(recipe, step)
        for gr in opt.param_groups:
            gr["lr"] = lr
        loss, parts = losses(model, recipe, x.to(dev), noise_seed)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if recipe["grad_clip"] > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), recipe["grad_clip"])
        opt.step()
        ema_update(ema, model, recipe["ema_decay"], step)
        if not math.isfinite(loss.item()):
            sys.exit("loss is %r at step %d" % (loss.item(), step))
        t_mark = time.time()
        t_step += t_mark - t_got
        parts["loss"] = loss.item()
        for k, v in parts.items():
            acc[k] = acc.get(k, 0.0) + v
        n_acc += 1
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            now = time.time()
            rec = {"step": done, "lr": lr}
            rec.update({k: v / n_acc for k, v in acc.items()})
            rec["train_psnr"] = 10 * math.log10(4.0 / max(rec["mse"], 1e-12))
            rec.update(samples_per_s=n_acc * recipe["batch"] / max(now - t_last, 1e-9),
                       data_frac=t_data / max(t_data + t_step, 1e-9), elapsed_s=now - t0)
            if done % args.val_every == 0 or done == args.steps:
                rec["val_psnr_synthetic"] = psnr_t(round_trip(ema, val.to(dev)).cpu(), val)
            print("step %d loss %.5f (l1 %.5f grad %.5f chroma %.5f kl %.1f) train %.2f dB lr %.2e "
                  "%.1f samples/s (data %.0f%%)%s elapsed %.0f s"
                  % (done, rec["loss"], rec["l1"], rec["grad"], rec["chroma"], rec["kl"],
                     rec["train_psnr"], lr,
                     rec["samples_per_s"], 100 * rec["data_frac"],
                     " val %.2f dB" % rec["val_psnr_synthetic"] if "val_psnr_synthetic" in rec
                     else "", rec["elapsed_s"]), flush=True)
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            acc, n_acc = {}, 0
            t_data = t_step = 0.0
            t_last = time.time()
        if done % args.ckpt_every == 0 or done == args.steps:
            path = save_checkpoint(args.run, done, model, ema, opt, args.keep)
            print("saved %s" % path, flush=True)
    metrics.close()
    return model, ema


# ---------------------------------------------------------------- export

def load_checkpoint_model(path, which="ema"):
    """-> (AutoencoderKL with the checkpoint's WHICH weights, recipe, step, file)."""
    path = resolve_checkpoint(path)
    state = torch.load(path, map_location="cpu")
    model = models.AutoencoderKL.from_config(state["config"])
    model.load_state_dict(state[which])
    recipe = copy.deepcopy(RECIPE)
    rp = os.path.join(os.path.dirname(path), "recipe.json")
    if os.path.exists(rp):
        with open(rp) as f:
            recipe = json.load(f)
    return model.eval(), recipe, state["step"], path


def load_model(path):
    """Exported folder, checkpoint or run folder -> (model, description)."""
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "config.json")):
        return models.load_pretrained(path).eval(), "exported folder %s" % path
    model, _, step, ck = load_checkpoint_model(path)
    return model, "%s (EMA weights, step %d)" % (ck, step)


@torch.no_grad()
def latent_std(model, recipe):
    """Standard deviation of the posterior means over synthetic images (all
    channels and positions together, as for Stable Diffusion's 0.18215)."""
    x = synthetic_set(recipe, recipe["scaling_images"], recipe["scaling_size"], 10 ** 9 + 2)
    zs = [encode_moments(model, x[i:i + 8])[0] for i in range(0, x.shape[0], 8)]
    z = torch.cat(zs).double()
    return z.std().item(), z.mean().item()


def export(ckpt, out, dtype="F16"):
    model, recipe, step, path = load_checkpoint_model(ckpt)
    std, mean = latent_std(model, recipe)
    model.config["scaling_factor"] = float("%.6g" % (1.0 / std))
    model.config["sample_size"] = 512
    torch.manual_seed(0)
    x = torch.rand(1, 3, 64, 96) * 2 - 1
    with torch.no_grad():
        ref = model(x)
    model.save_pretrained(out, dtype=dtype,
                          metadata={"source": os.path.basename(path), "step": str(step)})
    back = models.load_pretrained(out).eval()
    with torch.no_grad():
        got = back(x)
    err = ((got - ref).norm() / ref.norm()).item()
    n = sum(p.numel() for p in back.parameters())
    size = os.path.getsize(os.path.join(out, "diffusion_pytorch_model.safetensors"))
    print("exported %s (step %d, %.3f M parameters, %s, %.2f MB) to %s; latent std %.4f "
          "(mean %.4f) -> scaling_factor %s; relative error of the stored weights vs F32: %.2e"
          % (path, step, n / 1e6, dtype, size / 1e6, out, std, mean,
             back.config["scaling_factor"], err))
    return err


# ---------------------------------------------------------------- evaluation

def read_png(path):
    from PIL import Image
    return np.asarray(Image.open(path).convert("RGB"))


def psnr8(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-12))


def torch_round_trip_png(model, img):
    x = torch.from_numpy(np.array(img, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    y = round_trip(model, x)[0]
    return ((y.clamp(-1, 1) + 1) * 127.5).round().permute(1, 2, 0).numpy().astype(np.uint8)


@torch.no_grad()
def synthetic_eval(model, recipe):
    """Round-trip PSNR on held-out synthetic images (never trained on: seeds
    10^9+3, 10^9+4): 64 images of 64x64 and 32 of 128x128, the mean of the
    PSNRs of batches of 8.  The criterion for choosing between checkpoints."""
    out = {}
    for size, n, tag in [(64, 64, 10 ** 9 + 3), (128, 32, 10 ** 9 + 4)]:
        x = synthetic_set(recipe, n, size, tag)
        out["%dpx" % size] = float(np.mean([psnr_t(round_trip(model, x[i:i + 8]), x[i:i + 8])
                                            for i in range(0, n, 8)]))
    return out


def evaluate(args):
    torch.set_num_threads(args.threads)
    if args.synthetic:
        model, desc = load_model(args.eval)
        r = synthetic_eval(model, RECIPE)
        print("%s: synthetic round trip %s" % (desc, ", ".join(
            "%s %.2f dB" % kv for kv in r.items())))
        return r
    files = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not files:
        sys.exit("no PNG images in %s" % args.images)
    if args.limit:
        files = files[:args.limit]
    model, desc = load_model(args.eval)
    print("model: %s" % desc)
    print("images: %d from %s (whole images, round trip decode(encode(x).mean), 8-bit)"
          % (len(files), args.images))
    cli_dir = None
    if args.cli:
        if not (os.path.isdir(args.eval) and os.path.exists(os.path.join(args.eval, "config.json"))):
            sys.exit("--cli needs an exported folder (run --export first)")
        cli_dir = tempfile.mkdtemp(prefix="vae-eval-")
    res = {"model": desc, "images": len(files), "torch": [], "cli": []}
    t0 = time.time()
    for path in files:
        img = read_png(path)
        out = torch_round_trip_png(model, img)
        res["torch"].append(psnr8(out, img))
        line = "%s  torch %.2f dB" % (os.path.basename(path), res["torch"][-1])
        if cli_dir:
            o = os.path.join(cli_dir, os.path.basename(path))
            subprocess.run([args.cli, "vae", "--model", args.eval, path, "-o", o], check=True,
                           stdout=subprocess.DEVNULL)
            c = read_png(o)
            res["cli"].append(psnr8(c, img))
            line += "  C core %.2f dB (torch vs C core %.1f dB)" % (res["cli"][-1], psnr8(c, out))
        print(line, flush=True)
    print("round-trip PSNR, mean over %d images: torch %.2f dB%s  (%.0f s)"
          % (len(files), np.mean(res["torch"]),
             ", C core %.2f dB" % np.mean(res["cli"]) if res["cli"] else "", time.time() - t0))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
            f.write("\n")
    return res


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--run", help="run folder: recipe.json, checkpoints, metrics")
    ap.add_argument("--steps", type=int, help="total optimiser steps to reach")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    ap.add_argument("--set", action="append", metavar="KEY=JSON", help="override a recipe entry")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--keep", type=int, default=3, help="checkpoints kept (plus every 10000th)")
    ap.add_argument("--export", metavar="OUT", help="export the EMA weights of --ckpt (default: "
                    "the latest checkpoint of --run) to the diffusers folder OUT")
    ap.add_argument("--ckpt", help="checkpoint file for --export")
    ap.add_argument("--dtype", default="F16", choices=["F16", "BF16", "F32"])
    ap.add_argument("--eval", metavar="MODEL", help="round-trip PSNR of MODEL (exported folder, "
                    "checkpoint or run folder) on --images")
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all)")
    ap.add_argument("--cli", help="the `generative` binary: also round-trip through the C core")
    ap.add_argument("--json", help="--eval: also write the figures here")
    ap.add_argument("--synthetic", action="store_true",
                    help="--eval on held-out dead-leaves images instead of --images")
    return ap.parse_args(argv)


def main():
    args = parse_args()
    if args.export:
        torch.set_num_threads(args.threads)
        src = args.ckpt or args.run
        if not src:
            sys.exit("--export needs --run or --ckpt")
        err = export(src, args.export, args.dtype)
        if not err < 1e-2:
            sys.exit("the exported weights do not reproduce the checkpoint (error %.3g)" % err)
    elif args.eval:
        evaluate(args)
    else:
        if not args.run or args.steps is None:
            sys.exit("training needs --run and --steps")
        train(args)


if __name__ == "__main__":
    main()
