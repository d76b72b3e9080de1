#!/usr/bin/python3
"""Writes the diffusers folder the C core loads from a training checkpoint
(its EMA weights):

  /usr/bin/python3 weights/export.py weights/runs/NAME [--out weights/generative-unet] [--dtype F16]

CKPT is a checkpoint file or a run folder (its latest checkpoint).  The folder
gets config.json, diffusion_pytorch_model.safetensors (F16 by default; the core
reads F16, BF16 and F32) and scheduler_config.json (from the run's recipe.json,
else the default schedule).  The output of the stored (rounded) weights is
checked against the F32 EMA model on a random input."""

import argparse
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import diffusion  # noqa: E402
import train  # noqa: E402


def load_checkpoint_model(path, which="ema"):
    """-> (UNet with the checkpoint's WHICH weights, scheduler config, step, file)."""
    path = train.resolve_checkpoint(path)
    state = torch.load(path, map_location="cpu")
    model = diffusion.models.UNet2DModel.from_config(state["config"])
    model.load_state_dict(state[which])
    diffusion.attach_device_hook(model)
    recipe_path = os.path.join(os.path.dirname(path), "recipe.json")
    sched = diffusion.SCHEDULER_CONFIG
    if os.path.exists(recipe_path):
        with open(recipe_path) as f:
            sched = json.load(f)["scheduler"]
    return model.eval(), sched, state["step"], path


def export(ckpt, out, dtype="F16"):
    model, sched, step, path = load_checkpoint_model(ckpt)
    torch.manual_seed(0)
    x = torch.randn(1, 3, 64, 64)
    t = torch.tensor([57.0])
    with torch.no_grad():
        ref = model(x, t)
    model.save_pretrained(out, dtype=dtype,
                          metadata={"source": os.path.basename(path), "step": str(step)})
    with open(os.path.join(out, "scheduler_config.json"), "w") as f:
        json.dump(sched, f, indent=2)
        f.write("\n")
    back = diffusion.load_unet(out)
    with torch.no_grad():
        got = back(x, t)
    err = ((got - ref).norm() / ref.norm()).item()
    n = sum(p.numel() for p in back.parameters())
    print("exported %s (step %d, %.3f M parameters, %s) to %s; relative error of the stored "
          "weights vs F32 on a random input: %.2e" % (path, step, n / 1e6, dtype, out, err))
    return err


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("ckpt", help="checkpoint file or run folder")
    ap.add_argument("--out", default=os.path.join(HERE, "generative-unet"))
    ap.add_argument("--dtype", default="F16", choices=["F16", "BF16", "F32"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    err = export(args.ckpt, args.out, args.dtype)
    if not err < 1e-2:
        sys.exit("the exported weights do not reproduce the checkpoint (error %.3g)" % err)


if __name__ == "__main__":
    main()
