#!/usr/bin/python3
"""Scheduler parity: core/gen-sched.c (through tests/sched-dump) against the
plain-torch diffusers reference tests/reference/schedulers.py.

  /usr/bin/python3 tests/sched_parity.py --dump PATH/sched-dump [--only SUBSTR]
                   [--keep DIR] [--verbose]

For each sampler x each sigma schedule it supports x each config x steps
(1, 2, 10, 50) the same sequence of random "model outputs" (a fixed torch
seed) goes into the reference loop (as a diffusers pipeline drives the
scheduler: x_T * init_noise_sigma, then scale_model_input / step per
timestep; stochastic samplers draw from torch.Generator().manual_seed(S))
and into sched-dump (GenRng seeded with S).  Required:
  - timesteps, sigmas, init_noise_sigma and alphas_cumprod bit-identical
    (the reference in numerics="libm" mode, see schedulers.py);
  - every intermediate tensor (scale_model_input output, x0 prediction, the
    sample after each step) within NMSE = sum((c - r)^2) / sum(r^2) <= 1e-10
    (the max |c - r| is printed beside it).
First the reference itself is held against the numbers diffusers' own
scheduler tests assert (their dummy model and samples, which need no
download).  Also: img2img start index + add_noise + the rest of the loop for several
strengths; the torch.linspace kernel the reference pins (torch 1.13's, as
the C core does) against the torch this runs on, and the core's
alphas_cumprod for every trained-step count mod 16; the schedules against
the reference in numerics="numpy" mode (literally diffusers' numpy and
torch.linspace calls, whose SIMD log / exp / pow differ from glibc in the
last ulp: fractional timesteps within 1e-3, integer ones within 1, sigmas
within 1e-6 relative, alphas_cumprod within AC_ULPS); and bad input (exit
status 3, the GError code and a message naming the problem).

One line per case; the last line is "N passed, M failed".  Exit 0: all
passed; 1: a failure; 77 (meson's skip): torch is not importable, unless
GENERATIVE_REQUIRE_REFERENCE=1 (then 1).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))

NMSE_LIMIT = 1e-10
# torch.linspace's float32 kernel changed after torch 1.x (Debian 12's 1.13,
# whose vectorised kernel the C core pins): trixie's torch 2.6 rounds each
# element once, 1.13 rounds a vector lane twice more (k·step, then the sum).
# Measured on 2.6 for the betas below: at most 2 ulp per linspace value, and
# after cumprod at most 3 ulp in alphas_cumprod.  Only the numpy-mode suite
# (diffusers' calls on this torch) needs them; everywhere else the reference
# takes the pinned kernel and the schedules stay bit-identical.
LINSPACE_ULPS = 2
AC_ULPS = 3

try:
    import numpy as np
    import torch
    IMPORT_ERROR = None
except ImportError as exc:  # no torch: meson's skip (see main)
    torch = None
    IMPORT_ERROR = exc

if torch is not None:
    # not guarded: a broken reference must fail, not skip
    import schedulers as ref
    import st

# GenErrorCode
IO, FORMAT, MISSING, SHAPE, UNSUPPORTED, INVALID = range(6)

SAMPLERS = [("ddpm", ["default"]), ("ddim", ["default"]),
            ("euler", ["default", "karras", "exponential"]),
            ("euler_a", ["default", "karras", "exponential"]),
            ("heun", ["default", "karras", "exponential"]),
            ("dpmpp_2m", ["default", "karras", "exponential"]),
            ("pndm", ["default"]), ("lcm", ["default"])]
STOCHASTIC = {"ddpm", "euler_a", "ddim-eta", "lcm"}
STEPS = [1, 2, 10, 50]


def trained_betas(n):
    # a smooth, not quite linear schedule, written as a JSON list of doubles
    t = np.linspace(0.0, 1.0, n)
    return [float(v) for v in 0.00012 + 0.018 * t ** 1.3 + 0.0005 * np.sin(7 * t) ** 2]


def configs():
    sd = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000)
    return {
        # no file: DDPMScheduler's defaults (linear, epsilon, clip on, leading)
        "missing": None,
        # Stable Diffusion 1.x as shipped: saved for PNDM, no timestep_spacing
        "sd15-pndm": dict(sd, _class_name="PNDMScheduler", set_alpha_to_one=False, skip_prk_steps=True,
                          steps_offset=1, trained_betas=None, clip_sample=False),
        "sd2-v-leading": dict(sd, _class_name="DDIMScheduler", prediction_type="v_prediction",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1,
                              timestep_spacing="leading"),
        "cos-sample-trailing": dict(_class_name="DDPMScheduler", beta_schedule="squaredcos_cap_v2",
                                    prediction_type="sample", clip_sample=True, clip_sample_range=1.0,
                                    timestep_spacing="trailing", steps_offset=1, set_alpha_to_one=True,
                                    variance_type="fixed_small_log"),
        "trained-linspace": dict(_class_name="DDIMScheduler", num_train_timesteps=1000,
                                 trained_betas=trained_betas(1000), timestep_spacing="linspace",
                                 steps_offset=1, clip_sample=True, clip_sample_range=2.0,
                                 set_alpha_to_one=False, variance_type="fixed_large"),
        # (beta_start / beta_end given: HeunDiscreteScheduler's own defaults,
        # 0.00085 / 0.012, are the one default the C core does not follow)
        "linear-v-clip-linspace": dict(_class_name="DDPMScheduler", beta_schedule="linear",
                                       beta_start=0.0001, beta_end=0.02,
                                       prediction_type="v_prediction", clip_sample=True,
                                       timestep_spacing="linspace", steps_offset=1),
        "scaled-eps-trailing": dict(sd, _class_name="EulerDiscreteScheduler", timestep_spacing="trailing",
                                    steps_offset=1, interpolation_type="linear", use_karras_sigmas=False,
                                    final_sigmas_type="sigma_min", sigma_min=None, sigma_max=None),
        "small-n50-leading": dict(num_train_timesteps=50, beta_start=0.001, beta_end=0.2, beta_schedule="linear",
                                  timestep_spacing="leading", steps_offset=0, clip_sample=False),
        # DPM-Solver / Euler extras: Python's json writes -inf bare
        "dpm-extras": dict(sd, _class_name="DPMSolverMultistepScheduler", algorithm_type="dpmsolver++",
                           solver_order=2, lambda_min_clipped=float("-inf"), final_sigmas_type="zero",
                           euler_at_final=False, lower_order_final=True, timestep_spacing="leading",
                           steps_offset=1, prediction_type="epsilon", variance_type=None),
        "cos-lambda-clip": dict(_class_name="DPMSolverMultistepScheduler", beta_schedule="squaredcos_cap_v2",
                                lambda_min_clipped=-5.1, prediction_type="v_prediction",
                                final_sigmas_type="sigma_min", euler_at_final=True,
                                timestep_spacing="linspace"),
        # JSON null: None in diffusers, false for the boolean keys
        "nulls": dict(_class_name="DDIMScheduler", beta_start=0.0001, beta_end=0.02, clip_sample=None,
                      set_alpha_to_one=None, variance_type=None, sigma_min=None, trained_betas=None,
                      lower_order_final=None, timestep_spacing="trailing", prediction_type="v_prediction"),
        "sigma-range": dict(sd, _class_name="EulerDiscreteScheduler", sigma_min=0.05, sigma_max=10.0,
                            timestep_spacing="linspace", final_sigmas_type="zero"),
    }


# ---------------------------------------------------------------- helpers

def nmse(c, r):
    c = np.asarray(c, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    d = float(((c - r) ** 2).sum())
    den = float((r ** 2).sum())
    if den == 0.0:
        return 0.0 if d == 0.0 else float("inf"), float(np.abs(c - r).max(initial=0.0))
    return d / den, float(np.abs(c - r).max(initial=0.0))


def write_config(tmp, name, cfg):
    if cfg is None:
        return None
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)   # allow_nan: -inf becomes -Infinity, as diffusers writes it
    return path


def run_dump(args, cfgpath, sampler, sigmas, steps, tmp, tensors, eta=0.0, seed=0, strength=None):
    inp = os.path.join(tmp, "in.safetensors")
    out = os.path.join(tmp, "out.safetensors")
    if os.path.exists(out):
        os.unlink(out)
    st.save(inp, tensors)
    # sampler / sigmas None: the config's own choice
    cmd = [args.dump, "--steps", str(steps), "--eta", repr(eta), "--seed", str(seed), "--in", inp,
           "--out", out]
    if sampler is not None:
        cmd += ["--sampler", sampler]
    if sigmas is not None:
        cmd += ["--sigmas", sigmas]
    if cfgpath:
        cmd += ["--config", cfgpath]
    if strength is not None:
        cmd += ["--strength", repr(strength)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None, "sched-dump exit %d: %s%s" % (p.returncode, p.stdout.strip(), p.stderr.strip())
    return st.load(out), None


def reference_run(name, file_cfg, sigmas, steps, mo_seed, shape, eta=0.0, seed=0, strength=None,
                  numerics="libm"):
    """Drives the reference as a diffusers pipeline drives its scheduler.
    Returns a dict like sched-dump's output, plus the inputs to give it."""
    if name == "lcm" and file_cfg is not None:
        # the one default the C core does not take from LCMScheduler: the noise
        # schedule is the model's, linear 1e-4 .. 0.02 for every sampler
        # where the file names none (gen-sched-config.h)
        file_cfg = dict(dict(beta_schedule="linear", beta_start=0.0001, beta_end=0.02), **file_cfg)
    sched = ref.from_config(name, file_cfg, numerics=numerics, sigma_schedule=sigmas)
    sched.set_timesteps(steps)
    ts = sched.timesteps
    n_evals = len(ts)
    g_in = torch.Generator().manual_seed(mo_seed)
    res = {}
    inputs = {}
    if strength is None:
        start = 0
        x_t = torch.randn(shape, generator=g_in)
        inputs["x_T"] = x_t
        x = x_t * sched.init_noise_sigma
    else:
        x0 = torch.randn(shape, generator=g_in).clamp(-1, 1)
        noise = torch.randn(shape, generator=g_in)
        inputs["x0"] = x0
        inputs["noise"] = noise
        start = ref.get_timesteps(sched, steps, strength)
        x = sched.add_noise(x0, noise, ts[start:start + 1]) if start < n_evals else x0.clone()
    if strength is None and isinstance(sched, ref._SigmaBase) and bool((ts[1:] == ts[0]).any()):
        # diffusers' lookup would take the repeated first timestep's second
        # occurrence and run off the end; the C core steps by index, as
        # diffusers does after set_begin_index(0)
        sched.set_begin_index(0)
        res["begin_index_0"] = True
    k = n_evals - start
    mos = torch.randn((max(k, 1),) + tuple(shape), generator=g_in)
    inputs["model_outputs"] = mos
    res["x_start"] = x.clone()
    gen = torch.Generator().manual_seed(seed)
    scaled, x0s, samples = [], [], []
    for j, i in enumerate(range(start, n_evals)):
        t = ts[i]
        inp = sched.scale_model_input(x, t)
        if name == "ddim":
            x_new, x0 = sched.step(mos[j], t, x, eta=eta, generator=gen)
        else:
            x_new, x0 = sched.step(mos[j], t, x, generator=gen)
        scaled.append(inp.clone())
        x0s.append(x0.clone())
        samples.append(x_new.clone())
        x = x_new
    res["timesteps"] = ts.to(torch.float32)
    if isinstance(sched, ref._SigmaBase):
        res["sigmas"] = sched.sigmas[:n_evals].clone()
    else:
        ac = sched.alphas_cumprod[ts.long()]
        res["sigmas"] = ((1 - ac) / ac) ** 0.5
    res["init_noise_sigma"] = torch.tensor([float(sched.init_noise_sigma)], dtype=torch.float32)
    res["alphas_cumprod"] = sched.alphas_cumprod.clone()
    res["start"] = torch.tensor([float(start)])
    if k > 0:
        res["scaled"] = torch.stack(scaled)
        res["x0"] = torch.stack(x0s)
        res["samples"] = torch.stack(samples)
    return res, inputs


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.worst = {}   # sampler -> (nmse, maxabs)

    def line(self, ok, text):
        print("%s %s" % ("ok  " if ok else "FAIL", text), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def exact(a, b):
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def first_diff(a, b):
    a = np.asarray(a, dtype=np.float32).ravel()
    b = np.asarray(b, dtype=np.float32).ravel()
    if a.shape != b.shape:
        return "shapes %s vs %s" % (a.shape, b.shape)
    i = int(np.nonzero(a != b)[0][0])
    return "[%d] %r vs %r" % (i, float(a[i]), float(b[i]))


def compare(r, c, label, res, tag):
    """Checks sched-dump output C against reference output R."""
    problems = []
    n_evals = len(r["timesteps"])
    # "no step left": the reference's start may point past the end, the C's
    # start is n_evals then
    r = dict(r, start=torch.clamp(r["start"], max=float(n_evals)))
    for key in ("timesteps", "sigmas", "init_noise_sigma", "alphas_cumprod", "start"):
        if not exact(c[key], r[key].numpy()):
            problems.append("%s differ %s" % (key, first_diff(c[key], r[key].numpy())))
    worst_n, worst_a = 0.0, 0.0
    keys = ["x_start"] + (["scaled", "x0", "samples"] if "samples" in r else [])
    for key in keys:
        if key not in c:
            problems.append("%s missing" % key)
            continue
        rr = r[key].numpy()
        cc = c[key].numpy()
        if rr.shape != cc.shape:
            problems.append("%s shape %s vs %s" % (key, cc.shape, rr.shape))
            continue
        rows = rr.reshape(rr.shape[0], -1) if key != "x_start" else rr.reshape(1, -1)
        crow = cc.reshape(rows.shape)
        for i in range(rows.shape[0]):
            e, a = nmse(crow[i], rows[i])
            worst_n, worst_a = max(worst_n, e), max(worst_a, a)
            if not e <= NMSE_LIMIT:
                problems.append("%s[%d] nmse %.3g max|d| %.3g" % (key, i, e, a))
                break
    n_evals = len(r["timesteps"])
    prev = res.worst.get(tag, (0.0, 0.0))
    res.worst[tag] = (max(prev[0], worst_n), max(prev[1], worst_a))
    if problems:
        res.line(False, "%s: %s" % (label, "; ".join(problems[:3])))
    else:
        res.line(True, "%s: %d evals, schedule exact, worst nmse %.2g max|d| %.2g"
                 % (label, n_evals, worst_n, worst_a))


# ---------------------------------------------------------------- suites

def suite_matrix(args, tmp, res):
    cfgs = configs()
    case = 0
    for cname, cfg in cfgs.items():
        cpath = write_config(tmp, cname, cfg)
        for sampler, schedules in SAMPLERS:
            for sig in schedules:
                for steps in STEPS:
                    n_train = (cfg or {}).get("num_train_timesteps", 1000)
                    if steps > n_train:
                        continue
                    variants = [(sampler, 0.0)]
                    if sampler == "ddim":
                        variants.append(("ddim", 0.6))
                    for smp, eta in variants:
                        case += 1
                        label = "%s/%s eta=%g %s steps=%d" % (smp, sig, eta, cname, steps) if smp == "ddim" \
                            else "%s/%s %s steps=%d" % (smp, sig, cname, steps)
                        if args.only and args.only not in label:
                            continue
                        shape = (1, 4, 5, 7) if case % 3 else (1, 1, 3, 3)
                        seed = 1000 + case
                        try:
                            r, inputs = reference_run(smp, cfg, sig, steps, mo_seed=case, shape=shape,
                                                      eta=eta, seed=seed)
                        except (NotImplementedError, IndexError, ValueError) as exc:
                            # diffusers refuses it (NotImplementedError; ValueError: a
                            # step count the class refuses) or runs off the end of its
                            # schedule (IndexError): the C side must refuse
                            code = UNSUPPORTED if isinstance(exc, NotImplementedError) else INVALID
                            c, err = run_dump(args, cpath, smp, sig, steps, tmp,
                                              {"model_outputs": torch.zeros((1,) + shape),
                                               "x_T": torch.zeros(shape)}, eta=eta, seed=seed)
                            ok = bool(c is None and err and ("error %d:" % code) in err)
                            res.line(ok, "%s: reference %s (%s) -> %s"
                                     % (label, type(exc).__name__, exc, err))
                            continue
                        c, err = run_dump(args, cpath, smp, sig, steps, tmp, inputs, eta=eta, seed=seed)
                        if r.get("begin_index_0"):
                            label += " (repeated first timestep: begin_index 0)"
                        if c is None:
                            # refusing is right only where diffusers computes NaN
                            nan = "samples" in r and not bool(torch.isfinite(r["samples"]).all())
                            ok = nan and ("error %d:" % INVALID) in err
                            res.line(ok, "%s: %s%s" % (label, err, " (reference: NaN)" if nan else ""))
                            continue
                        compare(r, c, label, res, smp if eta == 0 else "ddim eta>0")


SD_STEPS = [1, 2, 4, 20, 50]


def sd_configs():
    """Stable Diffusion-class scheduler configs as the models ship them."""
    sd = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", num_train_timesteps=1000,
              trained_betas=None, clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    out = {}
    for pred in ("epsilon", "v_prediction"):
        for spacing in ("leading", "trailing", "linspace"):
            # SD 1.x (PNDMScheduler, PLMS) / SD 2.x (v), with each spacing
            out["sd-%s-%s" % (pred, spacing)] = dict(sd, _class_name="PNDMScheduler", skip_prk_steps=True,
                                                     prediction_type=pred, timestep_spacing=spacing)
    # LCM Dreamshaper v7 / LCM-LoRA
    out["lcm-dreamshaper-v7"] = dict(sd, _class_name="LCMScheduler", original_inference_steps=50,
                                     timestep_scaling=10.0, set_alpha_to_one=True, timestep_spacing="leading",
                                     prediction_type="epsilon", rescale_betas_zero_snr=False, thresholding=False)
    # SD-Turbo: Euler, trailing, one step
    out["sd-turbo"] = dict(sd, _class_name="EulerDiscreteScheduler", timestep_spacing="trailing",
                           interpolation_type="linear", use_karras_sigmas=False, skip_prk_steps=True,
                           prediction_type="epsilon")
    # DPM++ 2M Karras as a model's default
    out["dpm-karras"] = dict(sd, _class_name="DPMSolverMultistepScheduler", use_karras_sigmas=True,
                             algorithm_type="dpmsolver++", solver_order=2, lower_order_final=True,
                             euler_at_final=False, final_sigmas_type="zero", timestep_spacing="leading",
                             lambda_min_clipped=float("-inf"), prediction_type="epsilon")
    return out


# the sampler and sigma schedule each config's _class_name / use_karras_sigmas asks for
SD_MODEL_CHOICE = {"PNDMScheduler": ("pndm", "default"), "LCMScheduler": ("lcm", "default"),
                   "EulerDiscreteScheduler": ("euler", "default"),
                   "DPMSolverMultistepScheduler": ("dpmpp_2m", "karras")}


def suite_sd(args, tmp, res):
    """Stable Diffusion-class configs, step for step, 1 .. 50 steps; and the
    model's own sampler (no --sampler / --sigmas) against the class it names."""
    case = 0
    sd_samplers = [("pndm", "default"), ("ddim", "default"), ("euler", "default"), ("euler_a", "default"),
                   ("heun", "default"), ("dpmpp_2m", "default"), ("dpmpp_2m", "karras"), ("lcm", "default")]
    for cname, cfg in sd_configs().items():
        cpath = write_config(tmp, "sd-" + cname, cfg)
        model = SD_MODEL_CHOICE[cfg["_class_name"]]
        for sampler, sig in sd_samplers + [(None, None)]:
            if sampler == "lcm" and cfg["timestep_spacing"] != "leading":
                continue   # LCMScheduler reads no spacing: one config is enough
            for steps in SD_STEPS:
                case += 1
                name, sname = (sampler, sig) if sampler else model
                label = "sd %s/%s %s steps=%d" % (sampler or "(model's: %s" % name,
                                                  sig or "%s)" % sname, cname, steps)
                if args.only and args.only not in label:
                    continue
                seed = 4000 + case
                try:
                    r, inputs = reference_run(name, cfg, sname, steps, mo_seed=3000 + case, shape=(1, 4, 3, 5),
                                              seed=seed)
                except (NotImplementedError, IndexError, ValueError) as exc:
                    c, err = run_dump(args, cpath, sampler, sig, steps, tmp,
                                      {"model_outputs": torch.zeros(1, 4), "x_T": torch.zeros(4)}, seed=seed)
                    ok = bool(c is None and err and ("error %d:" % INVALID) in err)
                    res.line(ok, "%s: reference %s (%s) -> %s" % (label, type(exc).__name__, exc, err))
                    continue
                c, err = run_dump(args, cpath, sampler, sig, steps, tmp, inputs, seed=seed)
                if c is None:
                    res.line(False, "%s: %s" % (label, err))
                    continue
                compare(r, c, label, res, "sd " + name)
    # DDPMScheduler (what training scripts save) and no class leave the
    # product's default, ddim
    for cname, cfg in (("DDPMScheduler", dict(configs()["linear-v-clip-linspace"])),
                       ("no _class_name", {k: v for k, v in configs()["sd2-v-leading"].items()
                                           if k != "_class_name"})):
        label = "sd (model's: ddim, %s) steps=20" % cname
        if args.only and args.only not in label:
            continue
        cpath = write_config(tmp, "sd-default-ddim", cfg)
        r, inputs = reference_run("ddim", cfg, "default", 20, mo_seed=77, shape=(1, 4, 3, 5))
        c, err = run_dump(args, cpath, None, None, 20, tmp, inputs)
        if c is None:
            res.line(False, "%s: %s" % (label, err))
        else:
            compare(r, c, label, res, "sd ddim")


def suite_img2img(args, tmp, res):
    cfgs = configs()
    cases = [("sd15-pndm", 10), ("sd2-v-leading", 7), ("cos-sample-trailing", 10)]
    k = 0
    for cname, steps in cases:
        cfg = cfgs[cname]
        cpath = write_config(tmp, cname, cfg)
        for sampler, schedules in SAMPLERS:
            for sig in (schedules if sampler == "heun" else schedules[:1]):
                for strength in (0.0, 0.05, 0.3, 0.5, 0.75, 1.0):
                    k += 1
                    label = "img2img %s/%s %s steps=%d strength=%g" % (sampler, sig, cname, steps, strength)
                    if args.only and args.only not in label:
                        continue
                    if sampler in ("euler_a", "pndm") and (cfg or {}).get("prediction_type") == "sample":
                        continue   # refused (see the matrix)
                    r, inputs = reference_run(sampler, cfg, sig, steps, mo_seed=500 + k, shape=(1, 3, 4, 6),
                                              eta=0.3, seed=77 + k, strength=strength)
                    c, err = run_dump(args, cpath, sampler, sig, steps, tmp, inputs, eta=0.3, seed=77 + k,
                                      strength=strength)
                    if c is None:
                        res.line(False, "%s: %s" % (label, err))
                        continue
                    compare(r, c, label + " start=%d" % int(r["start"].item()), res, "img2img")


def ulps(a, b):
    """Distance in float32 ulps, element by element (finite values of one sign)."""
    a = np.asarray(a, dtype=np.float32).view(np.int32).astype(np.int64)
    b = np.asarray(b, dtype=np.float32).view(np.int32).astype(np.int64)
    return np.abs(a - b)


def suite_linspace(args, tmp, res):
    """The linear / scaled_linear betas: torch.linspace's kernel the core pins
    (schedulers.linspace_torch113) against the torch this runs on, then the
    core's alphas_cumprod for every N mod 16 (the kernel's vector blocks)."""
    major = int(torch.__version__.split(".")[0])
    ranges = [("linear", 0.0001, 0.02), ("linear", 0.001, 0.2), ("scaled_linear", 0.00085, 0.012)]
    for kind, lo, hi in ranges:
        label = "torch %s linspace vs the pinned torch 1.13 kernel, %s %g .. %g" % (torch.__version__, kind, lo, hi)
        if args.only and args.only not in label:
            continue
        if kind == "scaled_linear":
            lo, hi = lo ** 0.5, hi ** 0.5
        worst, n_diff, n_all = 0, 0, 0
        for n in list(range(32, 48)) + [1000]:
            d = ulps(ref.linspace_torch113(lo, hi, n), torch.linspace(lo, hi, n, dtype=torch.float32))
            worst, n_diff, n_all = max(worst, int(d.max())), n_diff + int((d > 0).sum()), n_all + n
        # torch 1.x is the pinned kernel itself; newer torch is within
        # LINSPACE_ULPS of it
        ok = worst == 0 if major < 2 else worst <= LINSPACE_ULPS
        res.line(ok, "%s: %d of %d values differ, by at most %d ulp" % (label, n_diff, n_all, worst))
    zeros = {"model_outputs": torch.zeros(1, 4), "x_T": torch.zeros(4)}
    for kind, lo, hi in ranges[1:]:
        for n in range(32, 48):
            cfg = dict(num_train_timesteps=n, beta_start=lo, beta_end=hi, beta_schedule=kind)
            label = "alphas_cumprod %s %g .. %g, %d trained steps" % (kind, lo, hi, n)
            if args.only and args.only not in label:
                continue
            want = ref.from_config("ddim", cfg).alphas_cumprod.numpy()
            c, err = run_dump(args, write_config(tmp, "lin%d" % n, cfg), "ddim", "default", 1, tmp, zeros)
            if c is None:
                res.line(False, "%s: %s" % (label, err))
            else:
                ok = exact(c["alphas_cumprod"], want)
                res.line(ok, "%s: %s" % (label, "bit-identical" if ok else
                                         "differ " + first_diff(c["alphas_cumprod"], want)))


def suite_numpy_mode(args, tmp, res):
    """The C schedules against the reference calling numpy exactly as diffusers does."""
    cfgs = configs()
    for cname in ("missing", "sd15-pndm", "cos-sample-trailing", "trained-linspace", "sigma-range",
                  "cos-lambda-clip"):
        cfg = cfgs[cname]
        cpath = write_config(tmp, cname, cfg)
        for sampler, schedules in SAMPLERS[2:]:
            for sig in schedules[1:]:
                for steps in (10, 50):
                    label = "numpy-mode %s/%s %s steps=%d" % (sampler, sig, cname, steps)
                    if args.only and args.only not in label:
                        continue
                    try:
                        r, inputs = reference_run(sampler, cfg, sig, steps, mo_seed=3, shape=(1, 1, 2, 2),
                                                  numerics="numpy")
                    except NotImplementedError as exc:
                        res.line(True, "%s: reference refuses (%s), skipped" % (label, exc))
                        continue
                    c, err = run_dump(args, cpath, sampler, sig, steps, tmp, inputs)
                    if c is None:
                        res.line(False, "%s: %s" % (label, err))
                        continue
                    # this torch's linspace against the pinned one (AC_ULPS)
                    d_ac = int(ulps(c["alphas_cumprod"], r["alphas_cumprod"]).max())
                    ct = c["timesteps"].numpy().astype(np.float64)
                    rt = r["timesteps"].numpy().astype(np.float64)
                    cs = c["sigmas"].numpy().astype(np.float64)
                    rs = r["sigmas"].numpy().astype(np.float64)
                    if ct.shape != rt.shape:
                        res.line(False, "%s: %d vs %d timesteps" % (label, len(ct), len(rt)))
                        continue
                    dt = float(np.abs(ct - rt).max())
                    ds = float((np.abs(cs - rs) / np.maximum(np.abs(rs), 1e-30)).max())
                    tol = 1.0 if sampler == "dpmpp_2m" else 1e-3
                    n_diff = int((ct != rt).sum())
                    res.line(dt <= tol and ds <= 1e-6 and d_ac <= AC_ULPS,
                             "%s: max|dt| %.3g (%d of %d timesteps not bit-equal), max rel dsigma %.3g, "
                             "alphas_cumprod within %d ulp" % (label, dt, n_diff, len(ct), ds, d_ac))


def suite_special(args, tmp, res):
    """diffusers quirks the C side mirrors, checked explicitly."""
    cfgs = configs()
    cfg = dict(cfgs["sd15-pndm"], timestep_spacing="trailing")
    cpath = write_config(tmp, "trailing61", cfg)
    for sampler, sig in (("euler", "default"), ("heun", "default"), ("dpmpp_2m", "default"),
                         ("euler_a", "karras")):
        label = "quirk %s/%s trailing steps=61 (numpy arange gives 62 timesteps, the last -1)" % (sampler, sig)
        if args.only and args.only not in label:
            continue
        r, inputs = reference_run(sampler, cfg, sig, 61, mo_seed=9, shape=(1, 2, 3, 3), seed=5)
        c, err = run_dump(args, cpath, sampler, sig, 61, tmp, inputs, seed=5)
        if c is None:
            res.line(False, "%s: %s" % (label, err))
        else:
            compare(r, c, label, res, sampler)
    for sampler in ("ddpm", "ddim"):
        label = "quirk %s trailing steps=61 refused (timestep -1)" % sampler
        if args.only and args.only not in label:
            continue
        c, err = run_dump(args, cpath, sampler, "default", 61, tmp,
                          {"model_outputs": torch.zeros(1, 4), "x_T": torch.zeros(4)})
        res.line(c is None and err and ("error %d:" % INVALID) in err and "-1" in err, "%s -> %s" % (label, err))


def suite_bad_input(args, tmp, res):
    def cfg_file(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    good = {"model_outputs": torch.zeros(2, 4), "x_T": torch.zeros(4)}
    cases = [
        ("steps 0", None, "ddim", "default", 0, INVALID, "steps"),
        ("steps 1000000", None, "euler", "default", 1000000, INVALID, "1 .. 1000"),
        ("unknown sampler", None, "plms", "default", 10, INVALID,
         "ddpm, ddim, euler, euler_a, heun, dpmpp_2m"),
        ("unknown sigma schedule", None, "euler", "beta", 10, INVALID, "default, karras, exponential"),
        ("karras with ddim", None, "ddim", "karras", 10, INVALID, "karras"),
        ("exponential with ddpm", None, "ddpm", "exponential", 10, INVALID, "exponential"),
        ("thresholding true", cfg_file("thr.json", '{"thresholding": true}'), "ddpm", "default", 10,
         UNSUPPORTED, "thresholding"),
        ("unknown beta_schedule", cfg_file("bs.json", '{"beta_schedule": "cosine"}'), "euler", "default", 10,
         UNSUPPORTED, "beta_schedule"),
        ("non-JSON config", cfg_file("nj.json", "num_train_timesteps = 1000\n"), "euler", "default", 10,
         FORMAT, "nj.json"),
        ("truncated JSON", cfg_file("tj.json", '{"beta_start": 0.00085, "beta_end"'), "ddim", "default", 10,
         FORMAT, "tj.json"),
        ("rescale_betas_zero_snr", cfg_file("zs.json", '{"rescale_betas_zero_snr": true}'), "euler",
         "default", 10, UNSUPPORTED, "rescale_betas_zero_snr"),
        ("variance_type learned_range", cfg_file("vt.json", '{"variance_type": "learned_range"}'), "ddpm",
         "default", 10, UNSUPPORTED, "variance_type"),
        ("prediction_type flow", cfg_file("pf.json", '{"prediction_type": "flow_prediction"}'), "dpmpp_2m",
         "default", 10, UNSUPPORTED, "prediction_type"),
        ("timestep_spacing unknown", cfg_file("ts.json", '{"timestep_spacing": "uniform"}'), "ddim",
         "default", 10, UNSUPPORTED, "timestep_spacing"),
        ("trained_betas length", cfg_file("tb.json", '{"num_train_timesteps": 10, "trained_betas": [0.1, 0.2]}'),
         "ddim", "default", 2, FORMAT, "trained_betas"),
        ("beta out of range", cfg_file("br.json", '{"beta_start": 0.5, "beta_end": 1.5}'), "euler",
         "default", 10, FORMAT, "beta"),
        ("num_train_timesteps 0", cfg_file("n0.json", '{"num_train_timesteps": 0}'), "euler", "default", 1,
         FORMAT, "num_train_timesteps"),
        ("num_train_timesteps a string", cfg_file("ns.json", '{"num_train_timesteps": "1000"}'), "euler",
         "default", 1, FORMAT, "num_train_timesteps"),
        ("steps_offset past the end", cfg_file("so.json", '{"steps_offset": 1, "timestep_spacing": "leading"}'),
         "ddim", "default", 1000, INVALID, "1000"),
        ("eta 2", None, "ddim", "default", 10, INVALID, "eta"),
        ("euler_a with sample prediction", cfg_file("ps.json", '{"prediction_type": "sample"}'), "euler_a",
         "default", 10, UNSUPPORTED, "sample"),
        ("missing config file", os.path.join(tmp, "no-such-file.json"), "euler", "default", 10, IO,
         "no-such-file.json"),
    ]
    cases += [
        ("pndm with sample prediction", cfg_file("pps.json", '{"prediction_type": "sample"}'), "pndm",
         "default", 10, UNSUPPORTED, "sample"),
        ("pndm Runge-Kutta warm-up with 3 steps", None, "pndm", "default", 3, INVALID, "at least 4"),
        ("pndm trailing steps=61 (timestep -1)", cfg_file("pt.json", '{"timestep_spacing": "trailing"}'),
         "pndm", "default", 61, INVALID, "-1"),
        ("lcm steps past original_inference_steps", None, "lcm", "default", 51, INVALID,
         "original_inference_steps"),
        ("lcm original_inference_steps past num_train_timesteps",
         cfg_file("lo.json", '{"num_train_timesteps": 40}'), "lcm", "default", 4, INVALID, "40"),
        ("lcm original_inference_steps 0", cfg_file("l0.json", '{"original_inference_steps": 0}'), "lcm",
         "default", 4, FORMAT, "original_inference_steps"),
        ("karras and exponential both", cfg_file("ke.json", '{"use_karras_sigmas": true, '
                                                           '"use_exponential_sigmas": true}'),
         "euler", "default", 4, FORMAT, "use_exponential_sigmas"),
        # the model's own sampler (no --sampler): a class there is no row for
        ("model's scheduler LMSDiscreteScheduler", cfg_file("lms.json", '{"_class_name": "LMSDiscreteScheduler"}'),
         None, None, 4, UNSUPPORTED, "LMSDiscreteScheduler"),
        ("model's scheduler UniPCMultistepScheduler",
         cfg_file("unipc.json", '{"_class_name": "UniPCMultistepScheduler"}'), None, None, 4, UNSUPPORTED,
         "PNDMScheduler, LCMScheduler"),
    ]
    for label, cpath, sampler, sig, steps, code, needle in cases:
        if args.only and args.only not in label:
            continue
        eta = 2.0 if label == "eta 2" else 0.0
        c, err = run_dump(args, cpath, sampler, sig, steps, tmp, good, eta=eta)
        ok = c is None and err is not None and ("error %d:" % code) in err and needle in err
        res.line(ok, "bad input: %s -> %s" % (label, err if err else "accepted"))

    # diffusers' own refusals, for the same inputs, where it has one
    for label, fn in [
        ("reference refuses steps > num_train_timesteps (ddim)",
         lambda: ref.from_config("ddim", None).set_timesteps(1000000)),
        ("reference refuses an unknown beta_schedule",
         lambda: ref.from_config("euler", {"beta_schedule": "cosine"})),
        ("reference refuses pndm's Runge-Kutta warm-up with 3 steps",
         lambda: ref.from_config("pndm", None).set_timesteps(3)),
        ("reference refuses lcm with more steps than original_inference_steps",
         lambda: ref.from_config("lcm", None).set_timesteps(51)),
        ("reference refuses euler_a with sample prediction",
         lambda: ref.from_config("euler_a", {"prediction_type": "sample"}).step(
             torch.zeros(4), 999.0, torch.zeros(4))),
    ]:
        if args.only and args.only not in label:
            continue
        try:
            fn()
            res.line(False, label + ": accepted")
        except (ValueError, NotImplementedError) as exc:
            res.line(True, "%s: %s" % (label, exc))

    # Python's json writes -Infinity for lambda_min_clipped; it must load
    label = "config with -Infinity (as diffusers saves DPMSolverMultistepScheduler)"
    if not args.only or args.only in label:
        cpath = cfg_file("inf.json", '{"_class_name": "DPMSolverMultistepScheduler", '
                                     '"lambda_min_clipped": -Infinity, "name": "NaN -Infinity"}')
        c, err = run_dump(args, cpath, "dpmpp_2m", "default", 3, tmp,
                          {"model_outputs": torch.zeros(3, 4), "x_T": torch.zeros(4)})
        res.line(c is not None, "%s -> %s" % (label, err or "loaded"))


# ---------------------------------------------------------------- pins

def _dummy_sample():
    # diffusers' tests/schedulers: SchedulerCommonTest.dummy_sample_deter
    n = 4 * 3 * 8 * 8
    return (torch.arange(n).reshape(3, 8, 8, 4) / n).permute(3, 0, 1, 2)


def _dummy_noise():
    n = 4 * 3 * 8 * 8
    return (torch.arange(n).flip(-1).reshape(3, 8, 8, 4) / n).permute(3, 0, 1, 2)


def _dummy_model(sample, t):
    if isinstance(t, torch.Tensor):
        t = t.reshape(-1, *(1,) * (sample.dim() - 1)).to(sample.dtype)
    return sample * t / (t + 1)


def _pin_sigma_loop(name, cfg, sigmas="default", noise_start=None):
    """Euler / Euler-ancestral / Heun tests: x_T = sample * init_noise_sigma,
    the sample overwritten by scale_model_input, generator torch.manual_seed(0)."""
    sched = ref.from_config(name, cfg, sigma_schedule=sigmas)
    sched.set_timesteps(10)
    sample = _dummy_sample() * sched.init_noise_sigma
    ts = sched.timesteps
    if noise_start is not None:
        ts = ts[noise_start * sched.order:]
        sample = sched.add_noise(sample, _dummy_noise(), ts[:1])
    gen = torch.manual_seed(0)
    for t in ts:
        sample = sched.scale_model_input(sample, t)
        sample = sched.step(_dummy_model(sample, t), t, sample, generator=gen)[0]
    return sample


def _pin_vp_loop(name, cfg, steps=10, noise_start=None, all_trained=False):
    """DDPM / DDIM / DPM-Solver tests: x_T = the sample itself."""
    sched = ref.from_config(name, cfg)
    if not all_trained:
        sched.set_timesteps(steps)
    sample = _dummy_sample()
    ts = sched.timesteps
    if noise_start is not None:
        ts = ts[noise_start * sched.order:]
        sample = sched.add_noise(sample, _dummy_noise(), ts[:1])
    gen = torch.manual_seed(0)
    for t in ts:
        t_model = t if not all_trained else int(t)
        sample = sched.step(_dummy_model(sample, t_model), t, sample, generator=gen)[0]
    return sample


def _pin_vp_loop_sched(name, cfg, sigmas):
    sched = ref.from_config(name, cfg, sigma_schedule=sigmas)
    sched.set_timesteps(10)
    sample = _dummy_sample()
    for t in sched.timesteps:
        sample = sched.step(_dummy_model(sample, t), t, sample)[0]
    return sample


def _pin_pndm_loop(cfg):
    """test_scheduler_pndm.py's full_loop: the warm-up then PLMS, 10 steps."""
    sched = ref.from_config("pndm", cfg)
    sched.set_timesteps(10)
    sample = _dummy_sample()
    for t in sched.timesteps.tolist():
        sample = sched.step(_dummy_model(sample, t), t, sample)[0]
    return sample


def _pin_lcm_loop(steps):
    """test_scheduler_lcm.py's full_loop (generator torch.manual_seed(0))."""
    cfg = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
               prediction_type="epsilon")
    sched = ref.from_config("lcm", cfg)
    sched.set_timesteps(steps)
    sample = _dummy_sample()
    gen = torch.manual_seed(0)
    for t in sched.timesteps:
        sample = sched.step(_dummy_model(sample, t), t, sample, generator=gen)[0]
    return sample


def suite_pins(args, tmp, res):
    """The reference against the numbers diffusers' own scheduler tests assert
    (tests/schedulers/test_scheduler_*.py: |sum|, |mean| of the last sample,
    with their tolerances 1e-2 / 1e-3)."""
    k_cfg = dict(num_train_timesteps=1100, beta_start=0.0001, beta_end=0.02, beta_schedule="linear")
    ddim_cfg = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                    clip_sample=True)
    ddpm_cfg = dict(ddim_cfg, variance_type="fixed_small")
    dpm_cfg = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
                   solver_order=2, prediction_type="epsilon", lower_order_final=False, euler_at_final=False,
                   lambda_min_clipped=-float("inf"), variance_type=None, final_sigmas_type="sigma_min")
    k_cfg_1000 = dict(k_cfg, num_train_timesteps=1000)
    v = dict(prediction_type="v_prediction")
    pins = [
        ("euler", lambda: _pin_sigma_loop("euler", k_cfg), 10.0807, 0.0131),
        ("euler v", lambda: _pin_sigma_loop("euler", dict(k_cfg, **v)), 0.0002, 2.2676e-06),
        ("euler karras", lambda: _pin_sigma_loop("euler", k_cfg, "karras"), 124.52299499511719,
         0.16213932633399963),
        ("euler_a", lambda: _pin_sigma_loop("euler_a", k_cfg), 152.3192, 0.1983),
        ("euler_a v", lambda: _pin_sigma_loop("euler_a", dict(k_cfg, **v)), 108.4439, 0.1412),
        ("heun", lambda: _pin_sigma_loop("heun", k_cfg), 0.1233, 0.0002),
        ("heun v", lambda: _pin_sigma_loop("heun", dict(k_cfg, **v)), 4.6934e-07, 6.1112e-10),
        ("heun karras", lambda: _pin_sigma_loop("heun", k_cfg, "karras"), 0.00015, 1.9869554535034695e-07),
        ("heun with noise", lambda: _pin_sigma_loop("heun", k_cfg, noise_start=8), 75074.8906, 97.7538),
        ("dpmpp_2m", lambda: _pin_vp_loop("dpmpp_2m", dpm_cfg), None, 0.3301),
        ("dpmpp_2m v", lambda: _pin_vp_loop("dpmpp_2m", dict(dpm_cfg, **v)), None, 0.2251),
        ("dpmpp_2m karras v", lambda: _pin_vp_loop_sched("dpmpp_2m", dict(dpm_cfg, **v), "karras"), None, 0.2096),
        ("dpmpp_2m with noise", lambda: _pin_vp_loop("dpmpp_2m", dpm_cfg, noise_start=5), 318.4111, 0.4146),
        ("ddim", lambda: _pin_vp_loop("ddim", ddim_cfg), 172.0067, 0.223967),
        ("ddim v", lambda: _pin_vp_loop("ddim", dict(ddim_cfg, **v)), 52.5302, 0.0684),
        ("ddim set_alpha_to_one", lambda: _pin_vp_loop("ddim", dict(ddim_cfg, set_alpha_to_one=True,
                                                                    beta_start=0.01)), 149.8295, 0.1951),
        ("ddim no set_alpha_to_one", lambda: _pin_vp_loop("ddim", dict(ddim_cfg, set_alpha_to_one=False,
                                                                       beta_start=0.01)), 149.0784, 0.1941),
        ("ddim with noise", lambda: _pin_vp_loop("ddim", ddim_cfg, noise_start=8), 354.5418, 0.4616),
        ("ddpm (1000 trained steps)", lambda: _pin_vp_loop("ddpm", ddpm_cfg, all_trained=True), 258.9606, 0.3372),
        ("ddpm v", lambda: _pin_vp_loop("ddpm", dict(ddpm_cfg, **v), all_trained=True), 202.0296, 0.2631),
        ("ddpm with noise", lambda: _pin_vp_loop("ddpm", ddpm_cfg, noise_start=998, all_trained=True),
         387.9466, 0.5051),
        ("pndm (Runge-Kutta warm-up, then PLMS)", lambda: _pin_pndm_loop(k_cfg_1000), 198.1318, 0.2580),
        ("pndm v", lambda: _pin_pndm_loop(dict(k_cfg_1000, **v)), 67.3986, 0.0878),
        ("pndm set_alpha_to_one", lambda: _pin_pndm_loop(dict(k_cfg_1000, set_alpha_to_one=True, beta_start=0.01)),
         230.0399, 0.2995),
        ("pndm no set_alpha_to_one",
         lambda: _pin_pndm_loop(dict(k_cfg_1000, set_alpha_to_one=False, beta_start=0.01)), 186.9482, 0.2434),
        ("lcm one step", lambda: _pin_lcm_loop(1), 18.7097, 0.0244),
        ("lcm 10 steps", lambda: _pin_lcm_loop(10), 197.7616, 0.2575),
    ]
    for label, run, want_sum, want_mean in pins:
        label = "pin reference " + label
        if args.only and args.only not in label:
            continue
        x = run()
        got_sum = float(torch.sum(torch.abs(x)))
        got_mean = float(torch.mean(torch.abs(x)))
        ok = (want_sum is None or abs(got_sum - want_sum) < 1e-2) and abs(got_mean - want_mean) < 1e-3
        res.line(ok, "%s: sum %.6g (diffusers %s), mean %.6g (diffusers %.6g)"
                 % (label, got_sum, "-" if want_sum is None else "%.6g" % want_sum, got_mean, want_mean))
    label = "pin reference ddim steps_offset=1, 5 steps"
    if not args.only or args.only in label:
        sched = ref.from_config("ddim", dict(ddim_cfg, steps_offset=1))
        sched.set_timesteps(5)
        got = sched.timesteps.tolist()
        res.line(got == [801, 601, 401, 201, 1], "%s: %s (diffusers [801, 601, 401, 201, 1])" % (label, got))
    label = "pin reference pndm steps_offset=1, 10 steps"
    if not args.only or args.only in label:
        sched = ref.from_config("pndm", dict(k_cfg_1000, steps_offset=1))
        sched.set_timesteps(10)
        got = sched.timesteps.tolist()
        want = [901, 851, 851, 801, 801, 751, 751, 701, 701, 651, 651, 601, 601, 501, 401, 301, 201, 101, 1]
        res.line(got == want, "%s: %s (diffusers %s)" % (label, got, want))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dump", required=True, help="the sched-dump program")
    ap.add_argument("--only", default=None, help="run the cases whose label contains this")
    ap.add_argument("--keep", default=None, help="work in this folder and keep it")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    if torch is None:
        print("sched_parity: cannot import numpy / torch (%s); needs Debian's python3-torch"
              % IMPORT_ERROR)
        sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else 77)
    torch.set_num_threads(1)

    tmp = args.keep or tempfile.mkdtemp(prefix="sched-parity-")
    os.makedirs(tmp, exist_ok=True)
    res = Result()
    try:
        suite_pins(args, tmp, res)
        suite_matrix(args, tmp, res)
        suite_sd(args, tmp, res)
        suite_img2img(args, tmp, res)
        suite_linspace(args, tmp, res)
        suite_numpy_mode(args, tmp, res)
        suite_special(args, tmp, res)
        suite_bad_input(args, tmp, res)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    for tag, (e, a) in sorted(res.worst.items()):
        print("worst %-12s nmse %.3g  max|d| %.3g" % (tag, e, a))
    print("%d passed, %d failed" % (res.passed, res.failed))
    sys.exit(0 if res.failed == 0 else 1)


if __name__ == "__main__":
    main()
