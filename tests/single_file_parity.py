#!/usr/bin/python3
"""A tiny SD 1.x pipeline written twice: as diffusers folders (unet/, vae/,
text_encoder/) and as one single-file checkpoint in the original layout
(tests/reference/ldm_layout.py).  `generative forward` on each component of
each must write the same bytes (cmp), in F32 and in F16.

Then whole jobs: the same weights with a text encoder over the real CLIP
vocabulary, as a pipeline folder (model_index.json, tokenizer/ from
weights/clip-tokenizer, SD 1.5's scheduler config) and as one single file
(which names no tokenizer or scheduler: the program supplies both);
`generate --prompt` and `vary --prompt` must write the same image bytes
from each, and an inpainting single file (UNet in_channels 9) loads as one
and `inpaint --prompt` from it writes the bytes a StableDiffusionInpaintPipeline
folder of the same weights writes.

The CLI's refusals ride along: a .ckpt, a single file without --component.

Exit 0: all passed; 1: a failure; 77 (meson's skip): torch is not importable,
unless GENERATIVE_REQUIRE_REFERENCE=1 (then 1).
"""

import argparse
import filecmp
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))

try:
    import torch
    import ldm_layout  # noqa: E402
    import sd_pipeline  # noqa: E402
    import st  # noqa: E402
    import unet_cond  # noqa: E402
except ImportError:
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else 77)

VAE_CONFIG = {"_class_name": "AutoencoderKL", "block_out_channels": [32, 64],
              "down_block_types": ["DownEncoderBlock2D"] * 2,
              "up_block_types": ["UpDecoderBlock2D"] * 2, "layers_per_block": 1,
              "latent_channels": 4, "norm_num_groups": 32}
# what the single file implies for these shapes (layers_per_block 2, 8 heads)
UNET_CONFIG = {"_class_name": "UNet2DConditionModel", "in_channels": 4, "out_channels": 4,
               "block_out_channels": [32, 64],
               "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
               "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"], "layers_per_block": 2,
               "attention_head_dim": 8, "cross_attention_dim": 16, "norm_num_groups": 32,
               "sample_size": 64}
TEXT_CONFIG = {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
               "vocab_size": 13, "hidden_size": 128, "intermediate_size": 160,
               "num_hidden_layers": 2, "num_attention_heads": 2,
               "max_position_embeddings": 7, "hidden_act": "quick_gelu"}


def vae_weights(g):
    sd = {}

    def conv(name, ci, co, k):
        sd[name + ".weight"] = torch.randn(co, ci, k, k, generator=g) * 0.1
        sd[name + ".bias"] = torch.randn(co, generator=g) * 0.1

    def vec(name, c, shape=None):
        sd[name + ".weight"] = 1 + torch.randn(*(shape or (c,)), generator=g) * 0.1
        sd[name + ".bias"] = torch.randn(shape[0] if shape else c, generator=g) * 0.1

    def resnet(p, ci, co):
        vec(p + ".norm1", ci)
        conv(p + ".conv1", ci, co, 3)
        vec(p + ".norm2", co)
        conv(p + ".conv2", co, co, 3)
        if ci != co:
            conv(p + ".conv_shortcut", ci, co, 1)

    def mid(p):
        resnet(p + ".resnets.0", 64, 64)
        vec(p + ".attentions.0.group_norm", 64)
        for lin in ("to_q", "to_k", "to_v", "to_out.0"):
            vec(p + ".attentions.0." + lin, 64, (64, 64))
        resnet(p + ".resnets.1", 64, 64)

    conv("encoder.conv_in", 3, 32, 3)
    resnet("encoder.down_blocks.0.resnets.0", 32, 32)
    conv("encoder.down_blocks.0.downsamplers.0.conv", 32, 32, 3)
    resnet("encoder.down_blocks.1.resnets.0", 32, 64)
    mid("encoder.mid_block")
    vec("encoder.conv_norm_out", 64)
    conv("encoder.conv_out", 64, 8, 3)
    conv("quant_conv", 8, 8, 1)
    conv("post_quant_conv", 4, 4, 1)
    conv("decoder.conv_in", 4, 64, 3)
    mid("decoder.mid_block")
    resnet("decoder.up_blocks.0.resnets.0", 64, 64)
    resnet("decoder.up_blocks.0.resnets.1", 64, 64)
    conv("decoder.up_blocks.0.upsamplers.0.conv", 64, 64, 3)
    resnet("decoder.up_blocks.1.resnets.0", 64, 32)
    resnet("decoder.up_blocks.1.resnets.1", 32, 32)
    vec("decoder.conv_norm_out", 32)
    conv("decoder.conv_out", 32, 3, 3)
    return sd


def text_weights(g, c=TEXT_CONFIG):
    h, f = c["hidden_size"], c["intermediate_size"]
    p = "text_model."
    sd = {p + "embeddings.token_embedding.weight": torch.randn(c["vocab_size"], h, generator=g),
          p + "embeddings.position_embedding.weight":
              torch.randn(c["max_position_embeddings"], h, generator=g) * 0.1}
    for i in range(c["num_hidden_layers"]):
        q = f"{p}encoder.layers.{i}."
        for ln in ("layer_norm1", "layer_norm2"):
            sd[q + ln + ".weight"] = 1 + torch.randn(h, generator=g) * 0.1
            sd[q + ln + ".bias"] = torch.randn(h, generator=g) * 0.1
        for name, i_, o in (("self_attn.q_proj", h, h), ("self_attn.k_proj", h, h),
                            ("self_attn.v_proj", h, h), ("self_attn.out_proj", h, h),
                            ("mlp.fc1", h, f), ("mlp.fc2", f, h)):
            sd[q + name + ".weight"] = torch.randn(o, i_, generator=g) / i_ ** 0.5
            sd[q + name + ".bias"] = torch.randn(o, generator=g) * 0.1
    sd[p + "final_layer_norm.weight"] = 1 + torch.randn(h, generator=g) * 0.1
    sd[p + "final_layer_norm.bias"] = torch.randn(h, generator=g) * 0.1
    return sd


# the pipeline runs: CLIP's real vocabulary and 77 positions; 128 wide (2 heads of 64)
PIPE_TEXT = dict(TEXT_CONFIG, vocab_size=49408, max_position_embeddings=77,
                 bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
PIPE_UNET = dict(UNET_CONFIG, cross_attention_dim=128)
# what diffusers writes for SD 1.5, and what a single file gets
SD15_SCHED = {"_class_name": "PNDMScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
              "beta_start": 0.00085, "clip_sample": False, "num_train_timesteps": 1000,
              "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1,
              "trained_betas": None, "prediction_type": "epsilon"}
VOCAB = os.path.join(HERE, "..", "weights", "clip-tokenizer")


def pipeline_jobs(cli, tmp, g):
    """generate, vary and (an inpainting checkpoint) inpaint from a folder and from
    the single file: same bytes."""
    failed = 0
    vae, text = vae_weights(g), text_weights(g, PIPE_TEXT)
    unet = {k: v.detach() for k, v in unet_cond.build(PIPE_UNET, seed=4).state_dict().items()}
    pipe = os.path.join(tmp, "sd-pipe")
    folder(os.path.join(pipe, "vae"), VAE_CONFIG, vae, "F32")
    folder(os.path.join(pipe, "text_encoder"), PIPE_TEXT, text, "F32")
    folder(os.path.join(pipe, "unet"), PIPE_UNET, unet, "F32")
    sd_pipeline.write_pipeline_files(pipe, SD15_SCHED, VOCAB)
    one = os.path.join(tmp, "sd-whole.safetensors")
    st.save(one, dict(ldm_layout.vae_to_ldm(vae), **ldm_layout.text_to_ldm(text),
                      **ldm_layout.unet_to_ldm(unet)))
    src = os.path.join(tmp, "photo.png")
    subprocess.run([cli, "generate", "--model", pipe, "--prompt", "a stone wall", "--seed", "9",
                    "--steps", "2", "--width", "32", "--height", "32", "-q", "-o", src],
                   check=True, capture_output=True)
    for job, extra in (("generate", ["--width", "32", "--height", "32"]),
                       ("vary", ["--strength", "0.6", src])):
        failed += same_bytes(cli, tmp, job, (pipe, one), extra, "pipeline folder")
    # an inpainting checkpoint: the UNet's first conv takes 9 channels
    unet9 = {k: v.detach() for k, v in
             unet_cond.build(dict(PIPE_UNET, in_channels=9), seed=4).state_dict().items()}
    nine = os.path.join(tmp, "sd-inpainting.safetensors")
    st.save(nine, dict(ldm_layout.vae_to_ldm(vae), **ldm_layout.text_to_ldm(text),
                       **ldm_layout.unet_to_ldm(unet9)))
    r = subprocess.run([cli, "generate", "--model", nine, "--prompt", "x", "--steps", "1",
                        "--width", "32", "--height", "32", "-q",
                        "-o", os.path.join(tmp, "nine.png")], capture_output=True, text=True)
    ok = r.returncode != 0 and "inpainting model" in r.stderr
    print(f"{'PASS' if ok else 'FAIL'} an inpainting single file loads, and generate says what "
          f"it is: {r.stderr.strip()}")
    failed += not ok
    # and it inpaints as the same weights in a StableDiffusionInpaintPipeline folder do
    pipe9 = os.path.join(tmp, "sd-inpaint-pipe")
    shutil.copytree(pipe, pipe9, ignore=shutil.ignore_patterns("unet"))
    folder(os.path.join(pipe9, "unet"), dict(PIPE_UNET, in_channels=9), unet9, "F32")
    with open(os.path.join(pipe9, "model_index.json")) as f:
        index = dict(json.load(f), _class_name="StableDiffusionInpaintPipeline")
    with open(os.path.join(pipe9, "model_index.json"), "w") as f:
        json.dump(index, f)
    mask = os.path.join(tmp, "mask.png")
    write_gray_png(mask, 32, 32, lambda x, y: 255 if 8 <= x < 20 and 10 <= y < 24 else 0)
    failed += same_bytes(cli, tmp, "inpaint", (pipe9, nine), ["--mask", mask, src],
                         "StableDiffusionInpaintPipeline folder")
    return failed


def same_bytes(cli, tmp, job, models, extra, what):
    """JOB --prompt from the folder and the single file in MODELS: 0 when both
    write the same image bytes, else the failures (printed)."""
    failed, outs = 0, []
    for model in models:
        out = os.path.join(tmp, f"{job}-{len(outs)}.png")
        r = subprocess.run([cli, job, "--model", model, "--prompt", "a red fox in the snow",
                            "--negative-prompt", "blurry", "--guidance", "5", "--seed", "3",
                            "--steps", "4", "-q", *extra, "-o", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL {job} from {os.path.basename(model)}: {r.stderr.strip()}")
            failed += 1
        outs.append(out)
    same = all(os.path.exists(o) for o in outs) and filecmp.cmp(*outs, shallow=False)
    print(f"{'PASS' if same else 'FAIL'} {job} --prompt: single file "
          f"{'=' if same else '!='} {what}, byte for byte")
    return failed + (not same)


def write_gray_png(path, w, h, value):
    """An 8-bit gray PNG of VALUE(x, y), written with the standard library."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\0" + bytes(value(x, y) for x in range(w)) for y in range(h))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def folder(path, config, sd, dtype):
    os.makedirs(path)
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    st.save(os.path.join(path, "diffusion_pytorch_model.safetensors"), sd, dtype=dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    g = torch.Generator().manual_seed(5)
    vae, text = vae_weights(g), text_weights(g)
    unet = {k: v.detach() for k, v in unet_cond.build(UNET_CONFIG, seed=3).state_dict().items()}
    sample = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    ids = torch.tensor([[12, 3, 5, 7, 12, 12, 12], [12, 1, 12, 12, 12, 12, 12]])
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        st.save(os.path.join(tmp, "sample.safetensors"), {"sample": sample})
        st.save(os.path.join(tmp, "ids.safetensors"), {"input_ids": ids})
        st.save(os.path.join(tmp, "latents.safetensors"),
                {"sample": torch.randn(1, 4, 8, 8, generator=g),
                 "timestep": torch.tensor([501.0]),
                 "encoder_hidden_states": torch.randn(1, 5, 16, generator=g)})
        for dtype in ("F32", "F16"):
            pipe = os.path.join(tmp, "pipe-" + dtype)
            folder(os.path.join(pipe, "vae"), VAE_CONFIG, vae, dtype)
            folder(os.path.join(pipe, "text_encoder"), TEXT_CONFIG, text, dtype)
            folder(os.path.join(pipe, "unet"), UNET_CONFIG, unet, dtype)
            single = dict(ldm_layout.vae_to_ldm(vae), **ldm_layout.text_to_ldm(text),
                          **ldm_layout.unet_to_ldm(unet))
            one = os.path.join(tmp, f"sd-{dtype}.safetensors")
            st.save(one, single, dtype=dtype)
            for comp, inp in (("vae", "sample"), ("text_encoder", "ids"), ("unet", "latents")):
                outs = []
                for model in (pipe, one):
                    out = os.path.join(tmp, f"{comp}-{dtype}-{len(outs)}.safetensors")
                    r = subprocess.run([args.cli, "forward", "--model", model, "--component", comp,
                                        "--input", os.path.join(tmp, inp + ".safetensors"),
                                        "-o", out], capture_output=True, text=True)
                    if r.returncode != 0:
                        print(f"FAIL {comp} {dtype} {model}: {r.stderr.strip()}")
                        failed += 1
                    outs.append(out)
                same = all(os.path.exists(o) for o in outs) and filecmp.cmp(*outs, shallow=False)
                print(f"{'PASS' if same else 'FAIL'} {comp} {dtype}: single file "
                      f"{'=' if same else '!='} diffusers folder, byte for byte")
                failed += not same
        failed += pipeline_jobs(args.cli, tmp, g)
        for model, comp, needle in ((os.path.join(tmp, "v1-5.ckpt"), "vae", "never opened"),
                                    (os.path.join(tmp, "sd-F32.safetensors"), None,
                                     "name the component")):
            r = subprocess.run([args.cli, "forward", "--model", model,
                                *(["--component", comp] if comp else []),
                                "--input", os.path.join(tmp, "sample.safetensors"),
                                "-o", os.path.join(tmp, "x.safetensors")],
                               capture_output=True, text=True)
            ok = r.returncode != 0 and needle in r.stderr
            print(f"{'PASS' if ok else 'FAIL'} refused {os.path.basename(model)}: "
                  f"{r.stderr.strip()}")
            failed += not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
