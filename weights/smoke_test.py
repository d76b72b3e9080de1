#!/usr/bin/python3
"""Smoke test of the training recipe (meson test recipe-smoke), well under a minute:

  1. train.py on a tiny UNet (channels (8, 16)) for a few steps, checkpoint,
     --resume to a later step (the step count and the batches continue);
  2. export.py of the last checkpoint, reloaded with models.load_pretrained:
     its output matches the checkpoint's EMA model rounded to F16, and the
     scheduler_config.json is there;
  3. 20 optimiser steps on one fixed batch: the loss is finite and falls, in
     float32 and under bfloat16 autocast (recipe "amp": "bf16");
  4. the dead-leaves generator is deterministic given its seed;
  5. train_vae.py on a tiny AutoencoderKL (channels (8, 16)): a few steps,
     checkpoint, --resume, --export (reloaded: matches the EMA model rounded to
     F16, scaling_factor measured), and with --cli PATH the C core's
     `generative vae` round trip of a synthetic image agrees with PyTorch's.

  /usr/bin/python3 weights/smoke_test.py [--cli build/core/generative]

Exits 77 (skip) when torch is missing, unless GENERATIVE_REQUIRE_REFERENCE=1 (then 1)."""

import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy  # noqa: F401
    import torch
except ImportError as e:
    print("skip: %s (the recipe needs Debian's python3-torch)" % e)
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else 77)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import dead_leaves  # noqa: E402
import diffusion  # noqa: E402
import export  # noqa: E402
import train  # noqa: E402
import train_vae  # noqa: E402

TINY = ["unet.block_out_channels=[8, 16]", "unet.norm_num_groups=4", "batch=2", "crop=32",
        "val_images=2", "warmup=2"]


def check(cond, what):
    if not cond:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "run")
        args = ["--run", run, "--ckpt-every", "3", "--log-every", "3", "--val-every", "3"]
        for s in TINY:
            args += ["--set", s]
        train.train(train.parse_args(args + ["--steps", "3"]))
        check([os.path.basename(p) for p in train.checkpoints(run)] == ["ckpt-0000003.pt"],
              "a checkpoint at step 3")
        train.train(train.parse_args(["--run", run, "--steps", "5", "--resume"]))
        state = torch.load(train.checkpoints(run)[-1], map_location="cpu")
        check(state["step"] == 5 and "opt" in state and "ema" in state,
              "resumed to step 5 with optimiser state and EMA")

        # the committed resume state: a new run started from it continues at its step
        # with the same model and EMA weights, the same recipe, and a warm-up from there
        resume = os.path.join(tmp, "resume.safetensors")
        train.train(train.parse_args(["--run", run, "--save-resume", resume]))
        run2 = os.path.join(tmp, "run2")
        train.train(train.parse_args(["--run", run2, "--steps", "7", "--init", resume,
                                      "--ckpt-every", "7", "--log-every", "7",
                                      "--val-every", "7"]))
        s2 = torch.load(train.checkpoints(run2)[-1], map_location="cpu")
        with open(os.path.join(run2, "recipe.json")) as f:
            r2 = json.load(f)
        check(s2["step"] == 7 and r2["start_step"] == 5 and r2["crop"] == 32
              and train.lr_at(r2, 5) == r2["lr"] / r2["warmup"],
              "--init from a resume state: steps 5..7, the run's recipe, warm-up from step 5")
        m1 = train.diffusion.build_unet(state["config"], 0)
        train.load_init(resume, m1, m1)
        check(all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(),
                                                    state["ema"].values())),
              "the resume state holds the checkpoint's EMA weights in F32")

        out = os.path.join(tmp, "generative-unet")
        export.export(run, out, "F16")
        for name in ("config.json", "diffusion_pytorch_model.safetensors", "scheduler_config.json"):
            check(os.path.exists(os.path.join(out, name)), "export wrote " + name)
        loaded = diffusion.models.load_pretrained(out)
        ema, _, _, _ = export.load_checkpoint_model(run)
        ema.round_weights("F16")
        torch.manual_seed(3)
        x = torch.randn(2, 3, 24, 40)
        t = torch.tensor([5.0, 700.5])
        with torch.no_grad():
            a, b = loaded(x, t), ema(x, t)
        err = ((a - b).norm() / b.norm()).item()
        check(err < 1e-5, "reloaded export matches the trained EMA model (relative error %.1e)" % err)
        check(loaded.config["block_out_channels"] == [8, 16] and not loaded.config["add_attention"],
              "exported config: channels (8, 16), no attention")

    # a fixed batch: the loss must fall, in float32 and under bfloat16 autocast
    # ("amp": "bf16"), whose first loss is float32's to within 1 %
    firsts = []
    for amp in ("", "bf16"):
        recipe = train.RECIPE.copy()
        recipe.update(crop=32, batch=4, amp=amp)
        x0, t, eps = train.Batches(recipe)(0)
        model = diffusion.build_unet(diffusion.unet_config((8, 16), 1, 4, 32), seed=0)
        autocast = train.amp_context(recipe, model, "cpu")
        opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
        sched = diffusion.VPSchedule(recipe["scheduler"])
        losses = []
        for _ in range(20):
            with autocast():
                per, _ = train.sample_losses(model, sched, x0, t, eps)
            loss = per.float().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        firsts.append(losses[0])
        what = "bf16 autocast" if amp else "float32"
        check(all(map(lambda v: v == v and abs(v) < float("inf"), losses)), "losses finite (%s)" % what)
        check(sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3,
              "loss falls on a fixed batch, %s (%.4f -> %.4f)" % (what, losses[0], losses[-1]))
    check(abs(firsts[1] / firsts[0] - 1) < 0.01 and firsts[1] != firsts[0],
          "bf16 autocast: the first loss within 1%% of float32's, not equal (%.5f, %.5f)"
          % tuple(firsts))

    # reuse: a drawn batch serves REUSE steps, turned by a quarter each time;
    # a batch does not depend on which batches were drawn before it
    r2 = train.RECIPE.copy()
    r2.update(crop=32, batch=2, reuse=2, hflip=False)
    b2, b3 = train.Batches(r2)(2), train.Batches(r2)(3)
    seq = train.Batches(r2)
    seq(0), seq(1), seq(2)
    check(torch.equal(b3[0], torch.rot90(b2[0], 1, dims=(2, 3))) and torch.equal(seq(3)[0], b3[0])
          and not torch.equal(b3[2], b2[2]),
          "reuse 2: step 3 is step 2's images turned, with its own noise")
    # camera noise: off by default (the same batches as a recipe that predates it);
    # on, the chosen samples get unit-RMS camera noise and JPEG's measured timestep
    r4 = dict(train.RECIPE, crop=32, batch=8, p_photo=1.0)
    old = dict(r4)
    del old["camera"]
    check(all(torch.equal(a, b) for a, b in zip(train.Batches(r4)(4), train.Batches(old)(4))),
          "camera noise off: the batches of a recipe without it")
    r5 = dict(r4, camera=dict(r4["camera"], p=1.0, kinds=[0, 0, 0, 1]))
    x0, t5, eps5 = train.Batches(r5)(4)
    _, t4, eps4 = train.Batches(r4)(4)
    e_rms = eps5.pow(2).mean(dim=(1, 2, 3)).sqrt()
    check(not torch.equal(eps5, eps4) and torch.allclose(e_rms, torch.ones(8), atol=1e-4)
          and not torch.equal(t5, t4) and bool((t5 >= 0).all()),
          "camera noise on (JPEG): unit-RMS noise, timesteps moved to its measured sigma")
    # JPEG of white noise for a share of them: other noise, the same RMS; a recipe
    # from before the key (or with it at 0) draws the same batches
    r7 = dict(r4, camera=dict(r5["camera"], jpeg_white=1.0))
    _, t7, eps7 = train.Batches(r7)(4)
    old5 = dict(r5, camera={k: v for k, v in r5["camera"].items() if k != "jpeg_white"})
    e7 = eps7.pow(2).mean(dim=(1, 2, 3)).sqrt()
    check(not torch.equal(eps7, eps5) and torch.allclose(e7, torch.ones(8), atol=1e-4)
          and all(torch.equal(a, b) for a, b in zip(train.Batches(old5)(4), (x0, t5, eps5))),
          "JPEG of white noise (jpeg_white 1): other unit-RMS noise; without the key, as before")
    r6 = dict(r4, camera=dict(r4["camera"], p=1.0, kinds=[0, 1, 1, 0]))
    _, t6, eps6 = train.Batches(r6)(4)
    e6 = eps6.pow(2).mean(dim=(1, 2, 3)).sqrt()
    check(torch.equal(t6, t4) and bool(((e6 - 1).abs() < 0.25).all()) and not torch.equal(eps6, eps4),
          "camera noise on (Poisson-Gaussian, demosaiced): same timesteps, RMS about 1")

    # a cosine that starts at decay_start (constant before it)
    r3 = dict(train.RECIPE, lr=1.0, warmup=2, lr_schedule="cosine", decay_start=10,
              decay_steps=20, min_lr_frac=0.1)
    check(train.lr_at(r3, 5) == 1.0 and train.lr_at(r3, 10) == 1.0
          and abs(train.lr_at(r3, 15) - 0.55) < 1e-9 and abs(train.lr_at(r3, 20) - 0.1) < 1e-9,
          "cosine from decay_start to decay_steps")

    g = dead_leaves.DeadLeaves(32)
    a, b = g.batch(2, (7, 1)), g.batch(2, (7, 1))
    check(torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and a.std() > 0.02,
          "dead leaves deterministic, in [0, 1], not flat")
    vae_smoke(cli_path())
    print("recipe smoke test passed")


def cli_path():
    if "--cli" in sys.argv[1:]:
        return sys.argv[sys.argv.index("--cli") + 1]
    return None


TINY_VAE = ["vae.block_out_channels=[8, 16]", "vae.norm_num_groups=4", "batch=2", "crop=32",
            "val_images=2", "warmup=2", "scaling_images=4", "scaling_size=32"]


def vae_smoke(cli):
    with tempfile.TemporaryDirectory() as tmp:
        run = os.path.join(tmp, "vae-run")
        args = ["--run", run, "--ckpt-every", "3", "--log-every", "3", "--val-every", "3"]
        for s in TINY_VAE:
            args += ["--set", s]
        train_vae.train(train_vae.parse_args(args + ["--steps", "3"]))
        check([os.path.basename(p) for p in train_vae.checkpoints(run)] == ["ckpt-0000003.pt"],
              "VAE: a checkpoint at step 3")
        train_vae.train(train_vae.parse_args(["--run", run, "--steps", "5", "--resume"]))
        state = torch.load(train_vae.checkpoints(run)[-1], map_location="cpu")
        check(state["step"] == 5 and "opt" in state and "ema" in state,
              "VAE: resumed to step 5 with optimiser state and EMA")

        out = os.path.join(tmp, "generative-vae")
        err = train_vae.export(run, out, "F16")
        check(err < 1e-2, "VAE: export reproduces the checkpoint (%.1e)" % err)
        loaded = diffusion.models.load_pretrained(out)
        ema, _, _, _ = train_vae.load_checkpoint_model(run)
        ema.round_weights("F16")
        torch.manual_seed(3)
        x = torch.rand(2, 3, 24, 40) * 2 - 1
        with torch.no_grad():
            a, b = loaded(x), ema(x)
        err = ((a - b).norm() / b.norm()).item()
        check(err < 1e-5, "VAE: reloaded export matches the trained EMA model (relative error %.1e)"
              % err)
        cfg = loaded.config
        check(cfg["block_out_channels"] == [8, 16] and not cfg["mid_block_add_attention"]
              and cfg["scaling_factor"] > 0 and cfg["scaling_factor"] != 1.0,
              "VAE: exported config: channels (8, 16), no attention, scaling_factor %g"
              % cfg["scaling_factor"])

        if cli:
            from PIL import Image
            img = (dead_leaves.DeadLeaves(48).batch(1, (5, 5))[0] * 255).round().byte()
            img = img.permute(1, 2, 0).numpy()
            src, dst = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.png")
            Image.fromarray(img).save(src)
            subprocess.run([cli, "vae", "-q", "--threads", "1", "--model", out, src, "-o", dst],
                           check=True)
            got = numpy.asarray(Image.open(dst).convert("RGB")).astype(int)
            want = train_vae.torch_round_trip_png(loaded, img).astype(int)
            diff = numpy.abs(got - want)
            check(got.shape == want.shape and diff.max() <= 1 and (diff > 0).mean() < 0.01,
                  "VAE: the C core's round trip matches PyTorch (max %d LSB, %.2f %% differ)"
                  % (diff.max(), 100 * (diff > 0).mean()))


if __name__ == "__main__":
    main()
