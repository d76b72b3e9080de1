#!/usr/bin/python3
"""Model benchmarks: one forward pass of the core (the `generative forward`
CLI, timed inside the process, load excluded) against PyTorch's CPU forward
on the same weights and input, in the same run.

    /usr/bin/python3 tests/bench/bench_models.py --cli build/core/generative \
        [--gemm build/tests/bench/bench-gemm] [--threads 1,2] \
        [--models cifar10,celebahq,embedded-512,sd-vae-encode-512,sd-vae-decode-512,sd15-unet] \
        [--csv FILE]

Models: the google/ddpm-cifar10-32 and ddpm-celebahq-256 shapes, the embedded
default UNet's shape (weights/generative-unet/config.json) at any size
"embedded-N", and the VAEs' encoder and decoder at N×N: "sd-vae-encode-N" /
"sd-vae-decode-N" (Stable Diffusion's AutoencoderKL shape, 83.7 M parameters)
and "vae-encode-N" / "vae-decode-N" (the embedded VAE's shape, when
weights/generative-vae exists); "sd15-unet" / "sd15-unet-N": Stable Diffusion
1.5's UNet2DConditionModel (859.5 M parameters) at a 64×64 (N×N) latent,
batch 2 (classifier-free guidance's two halves), 77 text tokens of 768.  All with random weights (speed does not
depend on their values), the same for both sides.

Prints, per model and thread count: our time, PyTorch's, the ratio
(ours / PyTorch: below 1 means we are faster), our achieved GFLOP/s and its
share of the sgemm ceiling measured by bench-gemm in the same run, the
checkpoint's load time and our peak resident memory.  A benchmark, not a
test: it reports numbers and gives no verdict.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import torch  # noqa: E402

import models  # noqa: E402
import st  # noqa: E402
import unet_cond  # noqa: E402

# google/ddpm-cifar10-32's config.json (35.7 M parameters)
CIFAR10 = {
    "_class_name": "UNet2DModel", "sample_size": 32, "in_channels": 3, "out_channels": 3,
    "block_out_channels": [128, 256, 256, 256], "layers_per_block": 2,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
    "attention_head_dim": None, "norm_eps": 1e-6, "norm_num_groups": 32,
    "downsample_padding": 0, "flip_sin_to_cos": False, "freq_shift": 1,
    "act_fn": "silu", "center_input_sample": False, "mid_block_scale_factor": 1,
    "time_embedding_type": "positional",
}
# google/ddpm-celebahq-256's config.json (113.7 M parameters)
CELEBAHQ = dict(CIFAR10, sample_size=256, block_out_channels=[128, 128, 256, 256, 512, 512],
                down_block_types=["DownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D",
                                  "AttnDownBlock2D", "DownBlock2D"],
                up_block_types=["UpBlock2D", "AttnUpBlock2D", "UpBlock2D", "UpBlock2D",
                                "UpBlock2D", "UpBlock2D"])
# stabilityai/sd-vae-ft-mse's config.json (83.7 M parameters)
SD_VAE = {
    "_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "block_out_channels": [128, 256, 512, 512], "layers_per_block": 2, "norm_num_groups": 32,
    "down_block_types": ["DownEncoderBlock2D"] * 4, "up_block_types": ["UpDecoderBlock2D"] * 4,
    "act_fn": "silu", "sample_size": 256, "scaling_factor": 0.18215,
}
# runwayml/stable-diffusion-v1-5's unet/config.json
SD15_UNET = {
    "_class_name": "UNet2DConditionModel", "sample_size": 64, "in_channels": 4, "out_channels": 4,
    "block_out_channels": [320, 640, 1280, 1280], "layers_per_block": 2,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                         "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "cross_attention_dim": 768, "attention_head_dim": 8, "norm_num_groups": 32, "norm_eps": 1e-5,
    "act_fn": "silu", "center_input_sample": False, "downsample_padding": 1, "flip_sin_to_cos": True,
    "freq_shift": 0, "mid_block_scale_factor": 1,
}
ROOT = os.path.join(HERE, "..", "..")


def folder_config(name):
    path = os.path.join(ROOT, "weights", name, "config.json")
    if not os.path.exists(path):
        sys.exit("no %s: the embedded model is not there" % path)
    with open(path) as f:
        return json.load(f)


def resolve(name):
    """NAME -> (config, input shape, VAE part or None, label)."""
    if name == "cifar10":
        return CIFAR10, (1, 3, 32, 32), None, "ddpm-cifar10-32"
    if name == "celebahq":
        return CELEBAHQ, (1, 3, 256, 256), None, "ddpm-celebahq-256"
    m = re.fullmatch(r"embedded-(\d+)", name)
    if m:
        n = int(m.group(1))
        return folder_config("generative-unet"), (1, 3, n, n), None, "embedded UNet"
    m = re.fullmatch(r"sd15-unet(?:-(\d+))?", name)
    if m:
        n = int(m.group(1) or 64)
        return SD15_UNET, (2, 4, n, n), None, "SD 1.5 UNet"
    m = re.fullmatch(r"(sd-vae|vae)-(encode|decode)-(\d+)", name)
    if m:
        cfg = SD_VAE if m.group(1) == "sd-vae" else folder_config("generative-vae")
        n, part = int(m.group(3)), m.group(2)
        f = 2 ** (len(cfg["block_out_channels"]) - 1)
        shape = (1, 3, n, n) if part == "encode" else (1, cfg.get("latent_channels", 4), n // f, n // f)
        label = ("SD VAE " if m.group(1) == "sd-vae" else "embedded VAE ") + part
        return cfg, shape, part, label
    sys.exit("unknown model %r" % name)


def count_flops(fn, model):
    """Multiply-adds × 2 of every conv, linear and attention product."""
    flops = [0]

    def conv_hook(m, inp, out):
        flops[0] += 2 * out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1] // m.groups

    def lin_hook(m, inp, out):
        flops[0] += 2 * out.numel() * m.in_features

    def attn_hook(m, inp, out):
        b, c, h, w = inp[0].shape
        flops[0] += 2 * 2 * b * (h * w) ** 2 * c  # QKᵀ and ·V

    def xattn_hook(m, inp, out):
        b, lq, _ = inp[0].shape
        lk = inp[1].shape[1] if len(inp) > 1 and inp[1] is not None else lq
        flops[0] += 2 * 2 * b * lq * lk * m.inner_dim

    hooks = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
        elif isinstance(m, models.Attention):
            hooks.append(m.register_forward_hook(attn_hook))
        elif isinstance(m, unet_cond.CrossAttention):
            hooks.append(m.register_forward_hook(xattn_hook))
    with torch.no_grad():
        fn()
    for h in hooks:
        h.remove()
    return flops[0]


def time_torch(fn, threads, reps):
    torch.set_num_threads(threads)
    with torch.no_grad():
        fn()  # warm-up
        best = 1e30
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    return best * 1e3


def time_ours(cli, folder, inp, threads, reps, part):
    out = os.path.join(os.path.dirname(inp), "out.safetensors")
    cmd = [cli, "forward", "--model", folder, "--input", inp, "--timestep", "500",
           "--threads", str(threads), "--repeat", str(reps + 1), "-o", out]
    if part:
        cmd += ["--part", part]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("generative forward failed: " + r.stderr.strip())
    m = re.search(r"load ([\d.]+) ms; forward best ([\d.]+) ms.*peak RSS ([\d.]+) MB", r.stderr)
    return float(m.group(2)), float(m.group(1)), float(m.group(3)), out


def gemm_ceiling(gemm):
    if not gemm:
        return {}
    r = subprocess.run([gemm], capture_output=True, text=True, check=True)
    ceil = {}
    for line in r.stdout.splitlines():
        m = re.match(r"gemm\s+2048\s+2048\s+2048\s+threads (\d+)\s+([\d.]+)", line)
        if m:
            ceil[int(m.group(1))] = float(m.group(2))
    return ceil


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--gemm")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="cifar10,celebahq")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--csv", help="also write the rows as CSV (for plot_results.py)")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    ceiling = gemm_ceiling(args.gemm)

    print(f"torch {torch.__version__}; machine: {os.cpu_count()} cores; "
          f"date {time.strftime('%Y-%m-%d')}")
    print("| model | params | size | threads | ours ms | torch ms | ours/torch | ours GFLOP/s | "
          "% of sgemm ceiling | load ms | our peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            config, shape, part, label = resolve(name)
            cond_unet = config["_class_name"] == "UNet2DConditionModel"
            model = (unet_cond if cond_unet else models).build(config, seed=0)
            folder = os.path.join(tmp, name)
            model.save_pretrained(folder)
            n_params = sum(p.numel() for p in model.parameters())
            torch.manual_seed(1)
            x = torch.randn(*shape)
            t = torch.tensor([500.0])
            inp = os.path.join(tmp, name + "-in.safetensors")
            inputs = {"sample": x}
            if cond_unet:
                ctx = torch.randn(shape[0], 77, config["cross_attention_dim"])
                inputs["encoder_hidden_states"] = ctx
            st.save(inp, inputs)
            if cond_unet:
                def fn():
                    return model(x, t, ctx)
            elif part:
                def fn():
                    return model(x, part)
            else:
                def fn():
                    return model(x, t)
            flops = count_flops(fn, model)
            size = f"{shape[2]}×{shape[3]}" + (" latent" if part == "decode" else "")
            for th in threads:
                ours, load_ms, rss, out = time_ours(args.cli, folder, inp, th, args.reps, part)
                ref = time_torch(fn, th, args.reps)
                with torch.no_grad():
                    want = fn()
                got = st.load(out)["sample"]
                nmse = float(((got - want) ** 2).sum() / (want ** 2).sum())
                gf = flops / (ours / 1e3) / 1e9
                share = f"{100 * gf / ceiling[th]:.0f} %" if th in ceiling else "–"
                print(f"| {label} | {n_params / 1e6:.1f} M | {size} | {th} | {ours:.1f} | "
                      f"{ref:.1f} | {ours / ref:.2f} | {gf:.0f} | {share} | {load_ms:.0f} | "
                      f"{rss:.0f} |  (nmse {nmse:.1e})", flush=True)
                rows.append((name, label, shape[2] * shape[3], th, ours, ref, gf))
    if args.csv:
        with open(args.csv, "w") as f:
            f.write("model,label,pixels,threads,ours_ms,torch_ms,ours_gflops\n")
            for r in rows:
                f.write(",".join(str(v) for v in r) + "\n")
    if ceiling:
        print("sgemm ceiling (2048³): " + ", ".join(f"{k} thread(s) {v:.0f} GFLOP/s"
                                                    for k, v in sorted(ceiling.items())))


if __name__ == "__main__":
    main()
