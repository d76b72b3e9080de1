#!/usr/bin/python3
"""Job benchmarks: what a user waits for, against PyTorch in the same run.

    /usr/bin/python3 tests/bench/bench_jobs.py --cli build/core/generative \
        [--model weights/generative-unet] [--threads 1,2] [--sizes 256,512,1024,2048] \
        [--megapixels 12] [--plot tests/bench/time-per-step.png] [--skip-jobs]

1. Time per denoising step against image size: `generative denoise --mode
   fast --patches off` (one UNet evaluation, without the patch filter after
   it, tiled above the default 512-pixel tile; the
   job's own time as it reports it, without loading and the files) against the PyTorch reference UNet
   (tests/reference) with the same weights run on the whole image at once
   (best of a few runs, load excluded).  Ours should grow linearly with the
   pixel count; the plot (matplotlib, python3-matplotlib) shows both.
2. Whole jobs: fast denoise (the patch filter included: its buffers come
   after the model's arenas are freed) of a MEGAPIXELS photo-sized image and a 30-step
   generate at 512×512: wall time and peak resident memory, beside the
   memory budget: weights + one tile's activations per worker (as the job
   reports them: its tiles are up to 9/8 of the 512-pixel default) + the
   job's image-sized buffers (input and output as floats, the 8-bit file
   decoded and encoded; generate: its three latents and the output).

A benchmark, not a test: it reports numbers and gives no verdict.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

import models  # noqa: E402
import st  # noqa: E402


def run_measured(cmd):
    """Runs CMD; returns (wall seconds, peak RSS MB, stderr).  The peak comes
    from /usr/bin/time: a child's own ru_maxrss starts from this Python's
    (torch loaded) RSS at the fork."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss %M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(cmd), r.stderr.strip()))
    rss = float(re.findall(r"maxrss (\d+)", r.stderr)[-1]) / 1024.0
    return wall, rss, r.stderr


def test_image(path, w, h, seed=0):
    """A structured image with noise: smooth colour fields plus edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.3 * np.sin(x / 37.0 + c) * np.cos(y / 53.0 - c) for c in range(3)], -1)
    img += 0.2 * ((x // 97 + y // 71) % 2)[..., None]
    img = np.clip(img + rng.normal(0, 25 / 255, img.shape), 0, 1)
    Image.fromarray((img * 255 + 0.5).astype(np.uint8)).save(path)


def torch_step(model, n, threads, reps):
    torch.set_num_threads(threads)
    x = torch.randn(1, 3, n, n)
    t = torch.tensor([300.0])
    with torch.no_grad():
        model(x, t)
        best = 1e30
        for _ in range(reps):
            t0 = time.perf_counter()
            model(x, t)
            best = min(best, time.perf_counter() - t0)
    return best


def tile_activations(cli, model_dir, tile, tmp):
    """MB of activations of one tile's forward (the arena's peak)."""
    inp = os.path.join(tmp, "tile.safetensors")
    st.save(inp, {"sample": torch.randn(1, 3, tile, tile)})
    r = subprocess.run([cli, "forward", "--model", model_dir, "--input", inp, "--timestep", "300",
                        "--threads", "1", "--repeat", "2", "-o", os.path.join(tmp, "o.safetensors")],
                       capture_output=True, text=True, check=True)
    m = re.search(r"activations ([\d.]+) MB", r.stderr)
    return float(m.group(1)) if m else float("nan")


def job_activations(stderr):
    """(MB per tile worker, workers) from a job's "activations:" line."""
    m = re.search(r"activations: ([\d.]+) MB per tile worker, (\d+) worker", stderr)
    return (float(m.group(1)), int(m.group(2))) if m else (float("nan"), 0)


def weights_mb(model):
    return sum(p.numel() for p in model.parameters()) * 4 / 1048576.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", default=os.path.join(ROOT, "weights", "generative-unet"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--sizes", default="256,512,1024,2048")
    ap.add_argument("--torch-max", type=int, default=2048, help="largest size PyTorch runs whole")
    ap.add_argument("--megapixels", type=float, default=12.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--plot", help="write the time-per-step plot (PNG) here")
    ap.add_argument("--skip-jobs", action="store_true")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    model = models.load_pretrained(args.model).eval()

    print(f"torch {torch.__version__}; machine: {os.cpu_count()} cores; date {time.strftime('%Y-%m-%d')}")
    print("\n| size | threads | ours s/step (tiled job) | torch s/step (forward) | ours/torch | ours µs/pixel |")
    print("|---|---|---|---|---|---|")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            img = os.path.join(tmp, f"in{n}.png")
            test_image(img, n, n)
            for th in threads:
                best = 1e30
                for _ in range(args.reps):
                    _, _, err = run_measured([args.cli, "denoise", "--model", args.model,
                                              "--mode", "fast", "--patches", "off", "--sigma", "25",
                                              "--threads", str(th), img,
                                              "-o", os.path.join(tmp, "out.png")])
                    best = min(best, float(re.search(r"evaluations in ([\d.]+) s", err).group(1)))
                ref = torch_step(model, n, th, args.reps) if n <= args.torch_max else float("nan")
                rows.append((n, th, best, ref))
                print(f"| {n}×{n} | {th} | {best:.3f} | {ref:.3f} | {best / ref:.2f} | "
                      f"{best / (n * n) * 1e6:.2f} |", flush=True)

        if args.plot:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
            for th in threads:
                pts = [(n * n / 1e6, b, r) for n, t, b, r in rows if t == th]
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"ours, {th} thread(s)")
                ax.plot([p[0] for p in pts if p[2] == p[2]], [p[2] for p in pts if p[2] == p[2]],
                        "s--", label=f"PyTorch {torch.__version__.split('a')[0]}, {th} thread(s)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("megapixels")
            ax.set_ylabel("seconds per step")
            ax.set_title("Embedded UNet, one denoising step (ours: tiled job)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            fig.tight_layout()
            fig.savefig(args.plot)
            print(f"\nplot: {args.plot}")

        if args.skip_jobs:
            return
        th = max(threads)
        act = tile_activations(args.cli, args.model, 512, tmp)
        wmb = weights_mb(model)
        w = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
        h = int(round(args.megapixels * 1e6 / w))
        img = os.path.join(tmp, "photo.png")
        test_image(img, w, h)
        px = w * h
        image_mb = px * 3 * 4 * 2 / 1048576.0 + px * 3 * 2 / 1048576.0
        # the process' fixed part (program, libraries, OpenBLAS' buffers): a
        # 16×16 denoise's peak less its weights and activations
        tiny = os.path.join(tmp, "tiny.png")
        test_image(tiny, 16, 16)
        _, rss, err = run_measured([args.cli, "denoise", "--model", args.model, "--mode", "fast",
                                    "--sigma", "25", "--threads", "1", tiny,
                                    "-o", os.path.join(tmp, "tiny-out.png")])
        fixed = rss - wmb - job_activations(err)[0]
        print(f"\nWhole jobs, {th} thread(s); weights {wmb:.1f} MB as float32; a 512×512 tile's "
              f"activations {act:.1f} MB (`generative forward`); the process' fixed part "
              f"{fixed:.0f} MB (a 16×16 denoise's peak RSS less weights and activations)")
        print("\n| job | wall s | peak RSS MB | budget MB (weights + workers × tile activations + "
              "image buffers) | peak − fixed part |")
        print("|---|---|---|---|---|")
        wall, rss, err = run_measured([args.cli, "denoise", "--model", args.model, "--mode", "fast",
                                       "--sigma", "25", "--threads", str(th), img,
                                       "-o", os.path.join(tmp, "photo-out.png")])
        jact, nw = job_activations(err)
        budget = wmb + nw * jact + image_mb
        print(f"| denoise fast, {w}×{h} ({px / 1e6:.1f} MP) | {wall:.1f} | {rss:.0f} | "
              f"{budget:.0f} ({wmb:.0f} + {nw} × {jact:.0f} + {image_mb:.0f}) | {rss - fixed:.0f} |",
              flush=True)
        wall, rss, err = run_measured([args.cli, "generate", "--model", args.model, "--steps", "30",
                                       "--seed", "1", "--width", "512", "--height", "512",
                                       "--threads", str(th), "-o", os.path.join(tmp, "gen.png")])
        jact, nw = job_activations(err)
        gen_img_mb = 512 * 512 * 3 * 4 * 4 / 1048576.0
        budget = wmb + nw * jact + gen_img_mb
        ref = 30 * torch_step(model, 512, th, 1)
        print(f"| generate 512×512, 30 DDIM steps | {wall:.1f} (PyTorch's 30 forwards: {ref:.1f}) | "
              f"{rss:.0f} | {budget:.0f} ({wmb:.0f} + {nw} × {jact:.0f} + {gen_img_mb:.0f}) | "
              f"{rss - fixed:.0f} |")


if __name__ == "__main__":
    main()
