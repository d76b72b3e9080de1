#!/usr/bin/python3
"""Trains the default pixel-space diffusion UNet on synthetic dead-leaves images.

  nice -n 19 /usr/bin/python3 weights/train.py --run weights/runs/NAME --steps 200000
  nice -n 19 /usr/bin/python3 weights/train.py --run weights/runs/NAME --steps 400000 --resume
  /usr/bin/python3 weights/train.py --run ... --device cuda --workers 12 --set batch=64
  nice -n 19 /usr/bin/python3 weights/train.py --run weights/runs/NAME --steps 60000 \
      --init weights/resume/dl-unet32.safetensors      # continue on a new machine

--init starts a new run from weights instead of PyTorch's initialisation: a
resume state (model and EMA in F32, the step, the recipe; written by
--save-resume, small enough to commit) or an exported diffusers folder (its
weights become both the model and the EMA).  The run then starts at the state's
step (or --init-step), so it draws the batches a longer run would have drawn
there; the optimiser starts afresh with the recipe's warm-up counted from that
step.  --save-resume FILE writes the latest checkpoint's resume state and exits.

The recipe (model, schedule, data, optimiser) is the RECIPE dict below; a run
folder keeps it as recipe.json, and --resume reads it back from there (the
command line then only changes run-time things: --steps, --device, --workers,
--threads, checkpoint and log intervals).  --set key=JSON overrides a recipe
entry when a run starts (dotted keys reach into the nested dicts:
--set unet.block_out_channels=[8,16]).

Every batch is a pure function of (seed, step): images, flips, timesteps and
noise, so a resumed run sees exactly the batches it would have seen.

Loss: mean squared error on v (prediction_type v_prediction), which is the x0
error weighted by 1 + SNR (Salimans & Ho 2022): at photographic noise levels v
is close to the noise, the residual parameterisation of DnCNN-style denoisers,
and at high noise close to x0, which generation needs.

Timesteps: with probability p_photo the noise level sigma (0..255 scale) is
log-uniform on photo_sigma and mapped to its fractional timestep; otherwise the
timestep is uniform on [0, T-1].  With the defaults (0.5, [2, 100]) about 43 %
of the samples fall in the photographic range sigma = 5..75 (t = 7.7..167.2 of
1000 with the linear betas: 16 % of a uniform draw), and every timestep keeps
at least half the density of a uniform draw.
"""

import argparse
import copy
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import camera_noise  # noqa: E402
import dead_leaves  # noqa: E402
import diffusion  # noqa: E402
import st  # noqa: E402  (tests/reference/st.py, on the path diffusion set)

RECIPE = {
    "seed": 0,
    "crop": 64,
    "batch": 16,
    "unet": {"block_out_channels": [32, 64, 128, 128], "layers_per_block": 1, "norm_num_groups": 8},
    "scheduler": diffusion.SCHEDULER_CONFIG,
    "dead_leaves": dead_leaves.DEFAULTS,
    "p_photo": 0.5,
    "photo_sigma": [2.0, 100.0],
    "hflip": True,
    "lr": 3e-4,
    "warmup": 200,
    "lr_schedule": "constant",      # or "cosine" (to min_lr_frac * lr at decay_steps)
    "decay_start": 0,               # the cosine starts here (or at the end of the warm-up)
    "decay_steps": 0,
    "reuse": 1,                     # steps per drawn image batch (each reuse rotated by 90 deg)
    "min_lr_frac": 0.1,
    "adam_betas": [0.9, 0.999],
    "weight_decay": 0.01,
    "grad_clip": 1.0,
    "ema_decay": 0.999,
    "amp": "",                      # "bf16": the training pass under bfloat16 autocast
    "val_images": 16,
    # camera-like noise (camera_noise.py) in place of the Gaussian noise for a
    # share P of the photographic-range samples: Poisson-Gaussian, demosaiced,
    # and demosaiced + JPEG, drawn with the weights KINDS (gaussian, poisson_gaussian,
    # demosaic, jpeg); the noise is scaled to unit RMS, JPEG's timestep follows its
    # measured RMS; JPEG_WHITE: the share of the JPEG samples that compress white
    # Gaussian noise instead of demosaiced noise
    "camera": {"p": 0.0, "kinds": [0, 1, 1, 1], "shot_frac": [0.3, 0.95],
               "jpeg_quality": [70, 95], "jpeg_white": 0.0},
}


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


def model_config(recipe):
    u = recipe["unet"]
    return diffusion.unet_config(u["block_out_channels"], u["layers_per_block"],
                                 u["norm_num_groups"], recipe["crop"])


# ---------------------------------------------------------------- data

class DrawnImages:
    """Dead-leaves batches that each serve REUSE consecutive steps: the images
    of step k are those drawn for j = k // REUSE (SEED_OF(j) seeds them),
    turned by 90 degrees k % REUSE times.  The last drawn batch is kept."""

    def __init__(self, gen, n, reuse, seed_of):
        self.gen, self.n, self.reuse, self.seed_of = gen, n, max(1, reuse), seed_of
        self.cache = (None, None)

    def __call__(self, step):
        j = int(step) // self.reuse
        if self.cache[0] != j:
            self.cache = (j, self.gen.batch(self.n, self.seed_of(j)) * 2 - 1)
        return torch.rot90(self.cache[1], int(step) % self.reuse, dims=(-2, -1))


class Batches:
    """The batch of step k: (x0 [B,3,S,S] in [-1,1], t [B] float, eps [B,3,S,S])."""

    def __init__(self, recipe):
        self.r = recipe
        self.gen = dead_leaves.DeadLeaves(recipe["crop"], recipe["dead_leaves"])
        self.sched = diffusion.VPSchedule(recipe["scheduler"])
        # with reuse k, steps k*j .. k*j+k-1 share the images of step k*j
        # (noise, timesteps and flips stay per step)
        k = max(1, recipe.get("reuse", 1))
        self.images = DrawnImages(self.gen, recipe["batch"], k, lambda j: (recipe["seed"], j * k))

    def timesteps(self, rng, n):
        """-> (t [n], which samples are at a photographic noise level, their sigma 0..255)."""
        r, sc = self.r, self.sched
        t = rng.uniform(0, sc.T - 1, n)
        photo = rng.random(n) < r["p_photo"]
        lo, hi = r["photo_sigma"]
        s255 = np.exp(rng.uniform(math.log(lo), math.log(hi), n))
        t_photo = np.clip(sc.t_of_sigma(2.0 * s255 / 255.0), 0, sc.T - 1)
        return np.where(photo, t_photo, t), photo, s255

    def camera(self, step, x0, t, photo, s255, eps):
        """Replaces the Gaussian EPS of a share of the photographic samples by
        camera-like noise of unit RMS (in place); returns the timesteps, moved
        for JPEG to the noise's measured sigma.  Its own random stream, so a
        recipe without camera noise draws exactly the batches it drew before."""
        c = self.r.get("camera", {})
        if c.get("p", 0.0) <= 0:
            return t
        rng = np.random.default_rng((self.r["seed"], int(step), 2))
        pick = photo & (rng.random(len(t)) < c["p"])
        if not pick.any():
            return t
        w = np.asarray(c["kinds"], dtype=np.float64)
        kinds = rng.choice(len(w), size=len(t), p=w / w.sum())
        g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        idx = np.flatnonzero(pick)
        clean = (x0[idx] + 1) * 127.5
        noise, eff = camera_noise.mixed(clean, torch.from_numpy(s255[idx]).float(), kinds[idx], g,
                                        rng, c["shot_frac"], c["jpeg_quality"],
                                        c.get("jpeg_white", 0.0))
        eff = eff.clamp(min=0.5)
        eps[idx] = noise / eff.view(-1, 1, 1, 1)
        jpeg = idx[kinds[idx] == camera_noise.KINDS.index("jpeg")]
        if len(jpeg):
            e = eff[np.isin(idx, jpeg)].double().numpy()
            t = t.copy()
            t[jpeg] = np.clip(self.sched.t_of_sigma(2.0 * e / 255.0), 0, self.sched.T - 1)
        return t

    def __call__(self, step):
        r = self.r
        seed = (r["seed"], int(step))
        x0 = self.images(step)
        rng = np.random.default_rng(seed + (1,))
        if r["hflip"]:
            flip = torch.from_numpy(rng.random(r["batch"]) < 0.5)
            x0 = torch.where(flip[:, None, None, None], x0.flip(-1), x0)
        t, photo, s255 = self.timesteps(rng, r["batch"])
        g = torch.Generator().manual_seed(int(rng.integers(2 ** 62)))
        eps = torch.randn(x0.shape, generator=g)
        t = self.camera(step, x0, t, photo, s255, eps)
        return x0, torch.from_numpy(t).float(), eps


_WORKER_BATCHES = None


def _worker_init(recipe):
    global _WORKER_BATCHES
    torch.set_num_threads(1)
    _WORKER_BATCHES = Batches(recipe)


def _worker_batch(step):
    return _WORKER_BATCHES(step)


def batch_stream(recipe, start, stop, workers):
    """An iterator over batches start..stop-1 in order; WORKERS > 0 draws them
    in processes, forked here (call this before any CUDA work)."""
    if workers <= 0:
        b = Batches(recipe)
        return (b(k) for k in range(start, stop))
    import multiprocessing as mp
    pool = mp.get_context("fork").Pool(workers, _worker_init, (recipe,))
    return pool.imap(_worker_batch, range(start, stop), chunksize=1)


def validation_set(recipe, sigma255=25.0):
    """A fixed synthetic validation batch (not the McMaster images): clean in
    [0,255], noisy by the README protocol (round, clip to 8 bit)."""
    gen = dead_leaves.DeadLeaves(recipe["crop"], recipe["dead_leaves"])
    clean = (gen.batch(recipe["val_images"], (recipe["seed"], 10 ** 9)) * 255).round()
    g = torch.Generator().manual_seed(recipe["seed"] + 12345)
    noisy = (clean + sigma255 * torch.randn(clean.shape, generator=g)).round().clamp(0, 255)
    return clean, noisy


@torch.no_grad()
def denoise_fast(model, sched, noisy255, sigma255):
    """One x0 prediction at the timestep of SIGMA255: noisy [N,3,H,W] in 0..255
    (H, W multiples of 2^(levels-1)) -> x0 estimate in 0..255 (unrounded)."""
    s = 2.0 * sigma255 / 255.0
    ab = 1.0 / (1.0 + s * s)
    t = float(sched.t_of_sigma(s))
    dev = next(model.parameters()).device
    y = (noisy255.to(dev) / 127.5 - 1.0)
    x_t = math.sqrt(ab) * y
    out = model(x_t, torch.full((y.shape[0],), t))
    x0 = diffusion.x0_from_output(out, x_t, torch.tensor(ab, device=dev), sched.prediction_type)
    return ((x0.clamp(-1, 1) + 1) * 127.5).cpu()


def psnr(a, b):
    mse = ((a - b) ** 2).mean().item()
    return 10 * math.log10(255.0 ** 2 / max(mse, 1e-12))


# ---------------------------------------------------------------- checkpoints

def checkpoints(run):
    return sorted(glob.glob(os.path.join(run, "ckpt-*.pt")))


def resolve_checkpoint(path):
    """A checkpoint file, or a run folder's latest checkpoint."""
    if os.path.isdir(path):
        ck = checkpoints(path)
        if not ck:
            raise FileNotFoundError("no ckpt-*.pt in %s" % path)
        return ck[-1]
    return path


def save_checkpoint(run, step, model, ema, opt, keep):
    path = os.path.join(run, "ckpt-%07d.pt" % step)
    tmp = path + ".tmp"
    torch.save({"step": step, "model": model.state_dict(), "ema": ema.state_dict(),
                "opt": opt.state_dict(), "config": model.config_json()}, tmp)
    os.replace(tmp, path)
    # keep the last KEEP checkpoints and every 10000th
    for old in checkpoints(run)[:-keep]:
        s = int(os.path.basename(old)[5:12])
        if s % 10000 != 0:
            os.remove(old)
    return path


def lr_at(recipe, step):
    base = recipe["lr"]
    into = step - recipe.get("start_step", 0)     # the warm-up of a run started from weights
    if into < recipe["warmup"]:
        return base * (into + 1) / recipe["warmup"]
    if recipe["lr_schedule"] == "cosine" and recipe["decay_steps"] > 0:
        t0 = max(recipe["warmup"], recipe.get("decay_start", 0))
        if step < t0:
            return base
        p = min(1.0, (step - t0) / max(1, recipe["decay_steps"] - t0))
        lo = recipe["min_lr_frac"]
        return base * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * p)))
    return base


def save_resume(run, path):
    """The resume state of RUN's latest checkpoint: model and EMA weights in F32
    (keys "model.NAME" / "ema.NAME"), its step and the run's recipe as metadata.
    The optimiser's moments are left out (twice the weights again); --init
    restarts it with a warm-up."""
    ck = resolve_checkpoint(run)
    state = torch.load(ck, map_location="cpu")
    tensors = {"model." + k: v.float() for k, v in state["model"].items()}
    tensors.update({"ema." + k: v.float() for k, v in state["ema"].items()})
    with open(os.path.join(run, "recipe.json")) as f:
        recipe = f.read()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    st.save(path, tensors, dtype="F32",
                      metadata={"step": state["step"], "recipe": recipe,
                                "config": json.dumps(state["config"])})
    return ck, state["step"]


def load_init(path, model, ema):
    """Loads --init PATH into MODEL and EMA; -> (step, recipe or None)."""
    if os.path.isdir(path):
        sd = st.load(path)
        model.load_state_dict(sd, strict=True)
        ema.load_state_dict(sd, strict=True)
        return 0, None
    raw, meta = st.load_raw(path)
    meta = meta or {}
    for prefix, m in (("model.", model), ("ema.", ema)):
        m.load_state_dict({k[len(prefix):]: v.float() for k, v in raw.items()
                           if k.startswith(prefix)}, strict=True)
    return int(meta.get("step", 0)), (json.loads(meta["recipe"]) if "recipe" in meta else None)


def sample_losses(model, sched, x0, t, eps):
    """Per-sample MSE [B] between the model output and its target (v, eps or
    x0) on x_t = sqrt(ab) x0 + sqrt(1 - ab) eps, and the noise levels sigma [B]
    (CPU, [-1, 1] units) of the fractional timesteps T (CPU)."""
    dev = next(model.parameters()).device
    s = torch.from_numpy(sched.sigma(t.double().numpy())).float()
    ab = (1.0 / (1.0 + s * s)).view(-1, 1, 1, 1).to(dev)
    x0, eps = x0.to(dev), eps.to(dev)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    target = diffusion.target_for(x0, eps, ab, sched.prediction_type)
    out = model(x_t, t)
    return ((out - target) ** 2).mean(dim=(1, 2, 3)), s


def amp_context(recipe, model, device_type):
    """The training pass's autocast, as a context factory: bfloat16 when the
    recipe's "amp" is "bf16" (on a CPU with AVX512-BF16, 1.6x the samples per
    hour), else none.  GroupNorm runs in float32, its input cast back: CPU
    autocast in torch 1.13 leaves it out and it fails on bfloat16 input with
    float32 weights.  The weights, the optimiser and the EMA stay float32."""
    amp = recipe.get("amp", "")
    if amp not in ("", "bf16"):
        sys.exit('recipe "amp" must be "" or "bf16", not %r' % amp)
    if amp:
        for mod in model.modules():
            if isinstance(mod, torch.nn.GroupNorm):
                mod.register_forward_pre_hook(lambda _m, a: (a[0].float(),) + tuple(a[1:]))
    return lambda: torch.autocast(device_type, dtype=torch.bfloat16, enabled=bool(amp))


@torch.no_grad()
def ema_update(ema, model, decay, step):
    d = min(decay, (1 + step) / (10 + step))
    for pe, pm in zip(ema.parameters(), model.parameters()):
        pe.mul_(d).add_(pm.detach(), alpha=1 - d)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


# ---------------------------------------------------------------- training

def train(args):
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    recipe_path = os.path.join(args.run, "recipe.json")
    ck = checkpoints(args.run)
    if args.save_resume:
        path, step = save_resume(args.run, args.save_resume)
        print("wrote %s (step %d, from %s)" % (args.save_resume, step, path), flush=True)
        return None, None
    if args.steps <= 0:
        sys.exit("--steps: give the total optimiser step count to reach")
    init_recipe = None
    if args.init:
        if args.resume:
            sys.exit("--init starts a new run; --resume continues one: pass one of them")
        if os.path.isfile(args.init):
            init_recipe = json.loads(st.load_raw(args.init)[1].get("recipe", "null"))
    if args.resume:
        if not os.path.exists(recipe_path):
            sys.exit("--resume: no recipe.json in %s" % args.run)
        with open(recipe_path) as f:
            recipe = json.load(f)
        if args.set:
            print("note: --set is ignored on --resume; the run's recipe.json wins", flush=True)
    else:
        if ck:
            sys.exit("%s already has checkpoints: pass --resume or use a new --run" % args.run)
        recipe = copy.deepcopy(init_recipe or RECIPE)
        for item in args.set or []:
            k, _, v = item.partition("=")
            set_key(recipe, k, json.loads(v))
        with open(recipe_path, "w") as f:
            json.dump(recipe, f, indent=2)
            f.write("\n")

    dev = torch.device(args.device)
    cfg = model_config(recipe)
    model = diffusion.build_unet(cfg, recipe["seed"])
    ema = diffusion.build_unet(cfg, recipe["seed"])
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    state = None
    start = 0
    if args.init:
        start, _ = load_init(args.init, model, ema)
        if args.init_step is not None:
            start = args.init_step
        if start >= args.steps:
            sys.exit("--init: the weights are at step %d, --steps %d is not past it"
                     % (start, args.steps))
        recipe["start_step"] = start
        with open(recipe_path, "w") as f:
            json.dump(recipe, f, indent=2)
            f.write("\n")
        print("started from %s at step %d (optimiser afresh, warm-up %d steps)"
              % (args.init, start, recipe["warmup"]), flush=True)
    elif args.resume and ck:
        state = torch.load(ck[-1], map_location="cpu")
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        start = state["step"]
        print("resumed from %s (step %d)" % (ck[-1], start), flush=True)

    # the data processes are forked before anything touches the device
    stream = batch_stream(recipe, start, args.steps, args.workers)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    model.to(dev).train()
    ema.to(dev).eval()
    autocast = amp_context(recipe, model, dev.type)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe["lr"], betas=tuple(recipe["adam_betas"]),
                            weight_decay=recipe["weight_decay"])
    if state is not None:
        opt.load_state_dict(state["opt"])     # moves the moments to the parameters' device
        state = None

    sched = diffusion.VPSchedule(recipe["scheduler"])
    val_clean, val_noisy = validation_set(recipe)
    n_par = sum(p.numel() for p in model.parameters())
    print("UNet %s, %.3f M parameters, batch %d x %dx%d, device %s, %d thread(s), %d worker(s)"
          % (recipe["unet"], n_par / 1e6, recipe["batch"], recipe["crop"], recipe["crop"], dev,
             args.threads, args.workers), flush=True)
    print("validation (synthetic, sigma 25): noisy %.2f dB" % psnr(val_noisy, val_clean), flush=True)

    metrics = open(os.path.join(args.run, "metrics.jsonl"), "a")
    t_data = t_step = 0.0
    acc, acc_photo, n_acc, n_photo = 0.0, 0.0, 0, 0
    t_last = time.time()
    t0 = time.time()
    step = start
    t_mark = time.time()
    for step in range(start, args.steps):
        x0, t, eps = next(stream)
        t_got = time.time()
        t_data += t_got - t_mark
        lr = lr_at(recipe, step)
        for gr in opt.param_groups:
            gr["lr"] = lr
        with autocast():
            per, s = sample_losses(model, sched, x0, t, eps)
        per = per.float()
        loss = per.mean()
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

        s255 = s * 127.5
        photo = (s255 >= 5) & (s255 <= 75)
        acc += loss.item()
        n_acc += 1
        if photo.any():
            acc_photo += per.detach().cpu()[photo].mean().item()
            n_photo += 1
        done = step + 1
        if done % args.log_every == 0 or done == args.steps:
            now = time.time()
            rate = n_acc * recipe["batch"] / max(now - t_last, 1e-9)
            rec = {"step": done, "loss": acc / n_acc,
                   "loss_photo": acc_photo / n_photo if n_photo else None, "lr": lr,
                   "samples_per_s": rate, "data_frac": t_data / max(t_data + t_step, 1e-9),
                   "elapsed_s": now - t0}
            if done % args.val_every == 0 or done == args.steps:
                den = denoise_fast(ema, sched, val_noisy, 25.0).round().clamp(0, 255)
                rec["val_psnr25_synthetic"] = psnr(den, val_clean)
            photo_txt = "%.5f" % rec["loss_photo"] if n_photo else "-"
            print("step %d loss %.5f (sigma 5..75: %s) lr %.2e %.1f samples/s (data %.0f%%)%s"
                  " elapsed %.0f s" % (done, rec["loss"], photo_txt, lr, rate,
                                       100 * rec["data_frac"],
                                       " val25 %.2f dB" % rec["val_psnr25_synthetic"]
                                       if "val_psnr25_synthetic" in rec else "",
                                       rec["elapsed_s"]), flush=True)
            metrics.write(json.dumps(rec) + "\n")
            metrics.flush()
            acc, acc_photo, n_acc, n_photo = 0.0, 0.0, 0, 0
            t_data = t_step = 0.0
            t_last = time.time()
        if done % args.ckpt_every == 0 or done == args.steps:
            path = save_checkpoint(args.run, done, model, ema, opt, args.keep)
            print("saved %s" % path, flush=True)
    metrics.close()
    return model, ema


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--run", required=True, help="run folder: recipe.json, checkpoints, metrics")
    ap.add_argument("--steps", type=int, default=0, help="total optimiser steps to reach")
    ap.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    ap.add_argument("--init", help="start a new run from a resume state or a diffusers folder")
    ap.add_argument("--init-step", type=int, help="the step a run started with --init is at")
    ap.add_argument("--save-resume", metavar="FILE",
                    help="write the latest checkpoint's resume state (F32 model + EMA) and exit")
    ap.add_argument("--set", action="append", metavar="KEY=JSON", help="override a recipe entry")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--workers", type=int, default=0, help="data processes (0: in the loop)")
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--log-every", type=int, default=50)
    ap.add_argument("--val-every", type=int, default=250)
    ap.add_argument("--keep", type=int, default=3, help="checkpoints kept (plus every 10000th)")
    return ap.parse_args(argv)


if __name__ == "__main__":
    train(parse_args())
