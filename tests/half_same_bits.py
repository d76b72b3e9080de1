#!/usr/bin/python3
"""Weights kept in their file's 16-bit floats give the bits of the same
weights in F32.  Tiny random models — UNet2DConditionModel (cross-attention,
GEGLU, conv and linear projections), AutoencoderKL (encode and decode, the
mid block's attention) and CLIPTextModel — are saved as F16 and BF16, and
the same rounded weights as F32; `generative forward` must write identical
outputs (every block's) from both, with the convs' automatic algorithm and
with GENERATIVE_CONV=winograd and im2col forced.  Then the three as
pipeline folders: a seeded txt2img from the F16 pipeline must write the
same image file as from the F32 one.

    /usr/bin/python3 tests/half_same_bits.py --cli build/core/generative [--keep DIR]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77

try:
    import torch
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: the reference needs python3-torch ({e})")
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else SKIP)

sys.path.insert(0, os.path.join(HERE, "reference"))
import clip_text  # noqa: E402
import models  # noqa: E402
import sd_pipeline  # noqa: E402
import st  # noqa: E402
import unet_cond  # noqa: E402

CD, D, CU, U = "CrossAttnDownBlock2D", "DownBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"
UNET = {"_class_name": "UNet2DConditionModel", "block_out_channels": [16, 32],
        "norm_num_groups": 8, "down_block_types": [CD, D], "up_block_types": [U, CU],
        "layers_per_block": 1, "cross_attention_dim": 24, "attention_head_dim": 8,
        "in_channels": 4, "out_channels": 4}
VAE = {"_class_name": "AutoencoderKL", "block_out_channels": [16, 32], "norm_num_groups": 8,
       "down_block_types": ["DownEncoderBlock2D"] * 2, "up_block_types": ["UpDecoderBlock2D"] * 2,
       "layers_per_block": 1, "latent_channels": 4, "in_channels": 3, "out_channels": 3}
CLIP = {"vocab_size": 1000, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 2, "max_position_embeddings": 16, "hidden_act": "quick_gelu",
        "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1}
# name, model, inputs, extra CLI arguments
CASES = [
    ("unet-conv-proj", dict(UNET), "unet", []),
    ("unet-linear-proj", dict(UNET, use_linear_projection=True), "unet", []),
    ("vae-encode", VAE, "image", ["--part", "encode"]),
    ("vae-decode", VAE, "latent", ["--part", "decode"]),
    ("clip", CLIP, "ids", []),
]
CONVS = [None, "winograd", "im2col"]
VOCAB = os.path.join(HERE, "..", "weights", "clip-tokenizer")
# a pipeline: CLIP over the real vocabulary, the UNet conditioned on its width
PIPE_CLIP = dict(CLIP, vocab_size=49408, bos_token_id=49406, eos_token_id=49407,
                 max_position_embeddings=77)
PIPE_UNET = dict(UNET, cross_attention_dim=CLIP["hidden_size"])
PIPE_SCHED = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "beta_start": 0.00085, "num_train_timesteps": 1000, "set_alpha_to_one": False,
              "skip_prk_steps": True, "steps_offset": 1, "prediction_type": "epsilon"}


def build(cfg, seed):
    kind = cfg.get("_class_name")
    if kind == "UNet2DConditionModel":
        return unet_cond.build(cfg, seed)
    if kind is None:
        return clip_text.build(cfg, seed)
    return models.build(cfg, seed)


def inputs_for(kind, gen):
    if kind == "unet":
        return {"sample": torch.rand(2, 4, 24, 20, generator=gen) * 2 - 1,
                "timestep": torch.tensor([10.0, 700.0]),
                "encoder_hidden_states": torch.randn(2, 7, 24, generator=gen)}
    if kind == "image":
        return {"sample": torch.rand(1, 3, 32, 36, generator=gen) * 2 - 1}
    if kind == "latent":
        return {"sample": torch.randn(1, 4, 16, 18, generator=gen)}
    return {"input_ids": clip_text.random_ids(gen, 2, 9, CLIP, pad_from=6)}


def forward(cli, model_dir, in_path, out_path, extra, conv):
    env = dict(os.environ)
    if conv:
        env["GENERATIVE_CONV"] = conv
    cmd = [cli, "forward", "--model", model_dir, "--input", in_path, "--dump-blocks",
           "-o", out_path] + extra
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("$ %s\n%s" % (" ".join(cmd), p.stderr.decode(errors="replace")))


def differing(a_path, b_path):
    """The names of the tensors whose bits differ between two dumps."""
    a, b = st.load(a_path), st.load(b_path)
    if set(a) != set(b):
        return sorted(set(a) ^ set(b))
    return [k for k in sorted(a) if not torch.equal(a[k].view(torch.int32), b[k].view(torch.int32))]


def same_image(cli, root):
    """A txt2img from F16 and from F32 pipeline folders of the same weights:
    the names of the differing outputs (none or one)."""
    folders = {dt: os.path.join(root, "pipeline-" + dt) for dt in ("F16", "F32")}
    parts = (("text_encoder", PIPE_CLIP, 1), ("unet", PIPE_UNET, 2), ("vae", VAE, 3))
    for name, cfg, seed in parts:
        model = build(cfg, seed)
        for dt in ("F16", "F32"):   # F16 first: saving rounds the model
            model.save_pretrained(os.path.join(folders[dt], name), dtype=dt)
    images = []
    for dt in ("F16", "F32"):
        sd_pipeline.write_pipeline_files(folders[dt], PIPE_SCHED, VOCAB)
        images.append(os.path.join(root, "txt2img-%s.png" % dt))
        cmd = [cli, "generate", "--model", folders[dt], "--prompt", "a red lighthouse at dusk",
               "--steps", "4", "--guidance", "7.5", "--seed", "3", "--width", "32",
               "--height", "32", "--threads", "2", "-q", "-o", images[-1]]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        if p.returncode != 0:
            raise RuntimeError("$ %s\n%s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    with open(images[0], "rb") as a, open(images[1], "rb") as b:
        return [] if a.read() == b.read() else ["txt2img.png"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--keep", help="write the models and dumps here and keep them")
    args = ap.parse_args()
    root = args.keep or tempfile.mkdtemp(prefix="half-same-bits-")
    failed = passed = 0
    try:
        for i, (name, cfg, kind, extra) in enumerate(CASES):
            for dtype in ("F16", "BF16"):
                folder = os.path.join(root, name + "-" + dtype)
                shutil.rmtree(folder, ignore_errors=True)
                model = build(cfg, seed=100 + i)
                # the 16-bit file first: saving rounds the model, so the F32
                # file then holds the same values, upcast
                model.save_pretrained(os.path.join(folder, "half"), dtype=dtype)
                model.save_pretrained(os.path.join(folder, "f32"), dtype="F32")
                in_path = os.path.join(folder, "in.safetensors")
                st.save(in_path, inputs_for(kind, torch.Generator().manual_seed(7 + i)))
                for conv in CONVS if kind != "ids" else [None]:
                    outs = []
                    for which in ("half", "f32"):
                        out = os.path.join(folder, "out-%s-%s.safetensors"
                                           % (which, conv or "auto"))
                        forward(args.cli, os.path.join(folder, which), in_path, out, extra, conv)
                        outs.append(out)
                    bad = differing(*outs)
                    label = "%s %s conv=%s" % (name, dtype, conv or "auto")
                    if bad:
                        failed += 1
                        print("FAIL %s: %d tensors differ (%s)"
                              % (label, len(bad), ", ".join(bad[:5])))
                    else:
                        passed += 1
                        print("ok   %s: the same bits" % label)
        bad = same_image(args.cli, root)
        failed += bool(bad)
        passed += not bad
        print("%s txt2img from F16 and F32 pipelines: %s"
              % ("FAIL" if bad else "ok  ", "images differ" if bad else "the same file"))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
