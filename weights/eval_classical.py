#!/usr/bin/python3
"""Denoising PSNR of the embedded model (through the C CLI, fast mode) beside
the classical filters a GIMP user has, on the same noisy files, in one run:

  /usr/bin/python3 weights/eval_classical.py --cli build/core/generative \
      [--model weights/generative-unet] [--sigmas 15,25,50] [--limit N] \
      [--jobs 2] [--json OUT.json] [--markdown OUT.md]

Protocol of ../shared/testimages/README.md, with the noise of eval.py
(eval.noisy_image: numpy PCG64 seeded with [seed, 1000*sigma, image index]):
noisy = clip(round(x + n), 0, 255), written once as an 8-bit RGB PNG and given,
byte for byte the same file, to every method.  Every output is read back as
8-bit RGB (GEGL is told to save 8 bits, G'MIC's float result is cut to 0..255
and rounded, as GIMP rounds a filter's float result into an 8-bit layer) and
PSNR is taken over all three channels against the clean image, averaged over
the images.

Methods (needs the Debian packages gegl, gmic and python3-opencv):
  - GEGL noise-reduction (Filters > Enhance > Noise Reduction): `gegl IN --
    gegl:noise-reduction iterations=K`; K tuned.
  - GEGL denoise-dct (Filters > Enhance > Denoise DCT): `gegl:denoise-dct
    patch-size=size8x8 sigma=S`; S tuned (16x16 patches: slower, no better in a
    probe).
  - G'MIC denoise (the non-local patch averaging behind "Repair > Smooth
    [Patch-Based]"): `gmic IN denoise 10,R,5,6,1,0`, spatial 10, patch 5,
    lookup 6, smoothness 1, exact (fast_approx 0, better than 1 in a probe);
    the patch (range) deviation R tuned.
  - OpenCV `cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)`; h tuned.
  - ours: `generative denoise --mode fast --sigma S IN -o OUT` (the C core,
    the given model folder, the true sigma; nothing tuned).
  - ours_model: the same with `--patches off`: the model's estimate alone,
    without the collaborative Wiener filtering of similar patches after it.
  - ours_best: the same with `--quality best` (the mean over the image's 8
    flips and turns: 8x the time).

Each filter's main strength parameter is chosen per sigma from a small fixed
grid by the mean PSNR on the evaluation images themselves: an upper bound for
the filters (a user does not get the best setting per image set for free).
The PSNR pass (every grid setting and ours, all images) can run --jobs
processes at once; the timings reported come from a second, sequential pass of
every method at its chosen setting, on the first --time-images images (all by
default, the same images for every method): wall seconds
per image, including each command-line tool's start-up (OpenCV runs
in-process; every tool uses its default threads, all cores), and CPU seconds
of all its threads, the steadier figure on a shared machine.  A best setting
on the edge of its grid is flagged.

--noise pg|demosaic|jpeg gives the camera-like noises of camera_noise.py
instead (levels pg-low,pg-mid,pg-high for pg and demosaic; JPEG qualities of
sigma-15 noise for jpeg); every method's sigma is then the noise's RMS, mean
over the images.
--grid-from OLD.json reuses the grid figures of an earlier run on the same
images and noise (only settings not in it are measured), so re-measuring ours
with new weights costs only the timed pass:

  /usr/bin/python3 weights/eval_classical.py --cli build/core/generative \
      --grid-from weights/eval-classical.json --json weights/eval-classical.json \
      --markdown weights/eval-classical.md"""

import argparse
import concurrent.futures as cf
import glob
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from eval import DEFAULT_IMAGES, noisy_image, psnr  # noqa: E402  (the protocol's noise)
import camera_noise  # noqa: E402

import cv2  # noqa: E402
from PIL import Image  # noqa: E402


def read_rgb8(path):
    """-> [H, W, 3] uint8 RGB; refuses anything but 8 bits."""
    a = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if a is None:
        raise RuntimeError("cannot read %s" % path)
    if a.dtype != np.uint8:
        raise RuntimeError("%s is not 8-bit (%s)" % (path, a.dtype))
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return cv2.cvtColor(a[..., :3], cv2.COLOR_BGR2RGB)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            name = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        name = "unknown CPU"
    return "%s, %d cores" % (name, os.cpu_count())


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                    r.stderr.decode(errors="replace")[-500:]))


# Each method: a label, the parameter name, the grid as a function of sigma,
# and apply(noisy_path, out_path, value, sigma) -> writes an 8-bit PNG.

def gegl_nr(inp, out, k, sigma, args):
    run([args.gegl, inp, "--", "gegl:noise-reduction", "iterations=%d" % k,
         "gegl:png-save", "path=%s" % out, "bitdepth=8"])


def gegl_dct(inp, out, s, sigma, args):
    run([args.gegl, inp, "--", "gegl:denoise-dct", "patch-size=size8x8", "sigma=%g" % s,
         "gegl:png-save", "path=%s" % out, "bitdepth=8"])


def gmic_denoise(inp, out, r, sigma, args):
    run([args.gmic, "-v", "-", inp, "denoise", "10,%g,5,6,1,0" % r, "cut", "0,255", "round",
         "-o", out])


def opencv_nlm(inp, out, h, sigma, args):
    img = cv2.imread(inp, cv2.IMREAD_COLOR)
    res = cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)
    cv2.imwrite(out, res)


def ours(inp, out, _, sigma, args, quality="fast", patches="on"):
    cmd = [args.cli, "denoise", "-q", "--mode", "fast", "--sigma", "%g" % sigma, inp, "-o", out]
    if quality != "fast":
        cmd[3:3] = ["--quality", quality]
    if patches != "on":
        cmd[3:3] = ["--patches", patches]
    if args.model:
        cmd[2:2] = ["--model", args.model]
    run(cmd)


def ours_best(inp, out, _, sigma, args):
    ours(inp, out, _, sigma, args, "best")


def ours_model(inp, out, _, sigma, args):
    ours(inp, out, _, sigma, args, "fast", "off")


def r1(xs):
    return [round(x, 1) for x in xs]


METHODS = [
    # key, column label, parameter, grid(sigma), apply
    ("gegl_nr", "GEGL noise-reduction", "iterations",
     lambda s: [1, 2, 3, 4, 6, 8, 12, 16] + ([24, 32] if s >= 40 else []), gegl_nr),
    ("gegl_dct", "GEGL denoise-dct", "sigma",
     lambda s: r1([s * m for m in (0.6, 0.7, 0.8, 0.9, 1.0)]), gegl_dct),
    ("gmic", "G'MIC denoise", "patch deviation",
     lambda s: r1([s * m for m in (0.2, 0.28, 0.4, 0.56, 0.8)]), gmic_denoise),
    ("opencv", "OpenCV NL-means", "h",
     lambda s: r1([s * m for m in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]), opencv_nlm),
    ("ours_model", "ours (model only)", None, lambda s: [None], ours_model),
    ("ours", "ours (fast)", None, lambda s: [None], ours),
    ("ours_best", "ours (best)", None, lambda s: [None], ours_best),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the generative program (build/core/generative)")
    ap.add_argument("--model", default=os.path.join(HERE, "generative-unet"),
                    help="model folder for ours (default weights/generative-unet; '' = the CLI's embedded default)")
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--sigmas", default="15,25,50",
                    help="Gaussian sigmas; with --noise, that kind's levels (eval.py --help)")
    ap.add_argument("--noise", default="gaussian", choices=["gaussian", "pg", "demosaic", "jpeg"],
                    help="noise kind (camera_noise.eval_noisy); every method's sigma (grid and "
                         "ours) is the noise's mean RMS over the images")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N images only (0: all), for every method")
    ap.add_argument("--methods", default=",".join(m[0] for m in METHODS))
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes in the PSNR pass")
    ap.add_argument("--time-images", type=int, default=0,
                    help="time every method on the first N images only (0: all)")
    ap.add_argument("--gegl", default="gegl")
    ap.add_argument("--gmic", default="gmic")
    ap.add_argument("--workdir", help="keep the noisy and denoised files here (default: a temporary folder)")
    ap.add_argument("--json", help="write all figures here")
    ap.add_argument("--grid-from", help="reuse the grid figures of an earlier --json (same images and seed); "
                    "e.g. to re-measure only ours with new weights")
    ap.add_argument("--markdown", help="also write the tables here")
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not files:
        sys.exit("no PNG images in %s" % args.images)
    if args.limit:
        files = files[:args.limit]
    levels = args.sigmas.split(",")
    methods = [m for m in METHODS if m[0] in args.methods.split(",")]
    for tool in (args.gegl, args.gmic, args.cli):
        if not shutil.which(tool):
            sys.exit("not found: %s" % tool)
    work = args.workdir or tempfile.mkdtemp(prefix="eval-classical-")
    os.makedirs(work, exist_ok=True)

    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    version = subprocess.run([args.cli, "--version"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT).stdout.decode().strip()
    say("images: %d from %s, noise seed %d (eval.noisy_image), work folder %s"
        % (len(files), args.images, args.seed, work))
    say("ours: %s, model %s" % (version, args.model or "(embedded default)"))
    say("OpenCV %s, %s" % (cv2.__version__, subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version}; ", "gegl", "gmic"],
        stdout=subprocess.PIPE).stdout.decode()))

    # The noisy files, once, shared by every method.
    clean, noisy_files, noisy_psnr = {}, {}, {}
    for i, path in enumerate(files):
        clean[i] = np.asarray(Image.open(path).convert("RGB")).astype(np.uint8)
    # each level's sigma: Gaussian's own, else the mean RMS of the noise made
    sigmas, level_of, folder = [], {}, {}
    for level in levels:
        made = []
        for i in range(len(files)):
            c = clean[i].astype(np.float64)
            if args.noise == "gaussian":
                made.append((noisy_image(c, float(level), args.seed, i), float(level)))
            else:
                made.append(camera_noise.eval_noisy(c, args.noise, level, args.seed, i))
        s = float(level) if args.noise == "gaussian" else round(float(np.mean([m[1] for m in made])), 2)
        sigmas.append(s)
        level_of[s] = level
        d = folder[s] = os.path.join(work, "sigma%g" % s if args.noise == "gaussian"
                                     else "%s-%s" % (args.noise, level))
        os.makedirs(d, exist_ok=True)
        ps = []
        for i, path in enumerate(files):
            n = made[i][0].astype(np.uint8)
            p = os.path.join(d, "noisy-%02d.png" % i)
            Image.fromarray(n).save(p)
            assert np.array_equal(read_rgb8(p), n)
            noisy_files[s, i] = p
            ps.append(psnr(n, clean[i]))
        noisy_psnr[s] = float(np.mean(ps))

    def one(key, apply, value, s, i):
        out = os.path.join(folder[s], "%s-%s-%02d.png" % (key, value, i))
        t0, c0, r0 = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        apply(noisy_files[s, i], out, value, s, args)
        dt, r1 = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU seconds (all threads) of this process and of the finished children:
        # meaningful in the sequential pass only
        cpu = time.process_time() - c0 + (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return psnr(read_rgb8(out), clean[i]), dt, cpu

    # PSNR pass: every setting of every grid (ours: one) on all the images,
    # --jobs at a time.
    results = {"images": len(files), "image_folder": args.images, "seed": args.seed,
               "noise": args.noise,
               "model": args.model, "cli": version, "sigmas": {}}
    # Grid figures of an earlier run (its --json) on the same images, seed and
    # filter versions are taken as they are; only what is missing is measured.
    cached = {}
    if args.grid_from:
        with open(args.grid_from) as f:
            prev = json.load(f)
        if (prev["images"], os.path.realpath(prev["image_folder"]), prev["seed"],
                prev.get("noise", "gaussian")) != \
                (len(files), os.path.realpath(args.images), args.seed, args.noise):
            sys.exit("%s was measured on other images or noise" % args.grid_from)
        for s_, d in prev["sigmas"].items():
            for key, m in d["methods"].items():
                if key.startswith("ours"):  # always measured afresh
                    continue
                for v, p in (m.get("grid") or {}).items():
                    cached[key, float(d.get("sigma", s_)), v] = p
        say("grid figures from %s (%d)" % (args.grid_from, len(cached)))
    t_grid = time.time()
    grid = {}
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for key, label, param, gridf, apply in methods:
            for s in sigmas:
                t0 = time.time()
                futs = {v: [pool.submit(one, key, apply, v, s, i) for i in range(len(files))]
                        for v in gridf(s) if (key, s, str(v)) not in cached}
                grid[key, s] = {v: cached[key, s, str(v)] if v not in futs
                                else float(np.mean([f.result()[0] for f in futs[v]])) for v in gridf(s)}
                best = max(grid[key, s], key=grid[key, s].get)
                if not key.startswith("ours"):
                    say("grid %-22s sigma %-3g %s: %s -> best %s (%d measured, %.1f s)" % (
                    label, s, param, ", ".join("%s: %.2f" % (v, p) for v, p in grid[key, s].items()),
                    best, len(futs), time.time() - t0))
    t_grid = time.time() - t_grid

    # Timed pass: every method at its chosen setting, one at a time, on the
    # first --time-images images (the same for every method).
    nt = min(args.time_images or len(files), len(files))
    table, times, cputimes, chosen = {}, {}, {}, {}
    for key, label, param, gridf, apply in methods:
        for s in sigmas:
            g = grid[key, s]
            v = max(g, key=g.get)
            table[key, s] = g[v]
            if not key.startswith("ours"):
                vals = list(g)
                chosen[key, s] = "%s%s" % (v, " (grid edge!)" if v in (vals[0], vals[-1]) else "")
            rs = [one(key, apply, v, s, i) for i in range(nt)]
            times[key, s] = float(np.mean([r[1] for r in rs]))
            cputimes[key, s] = float(np.mean([r[2] for r in rs]))
            if nt == len(files) and abs(float(np.mean([r[0] for r in rs])) - g[v]) > 0.005:
                say("warning: %s sigma %g not reproducible: %.4f vs %.4f"
                    % (label, s, float(np.mean([r[0] for r in rs])), g[v]))

    say()
    say("PSNR (dB), mean over %d images; classical filters at their best setting per sigma "
        "on these same images (an upper bound for them):" % len(files))
    say()
    if args.noise != "gaussian":
        say("Noise: %s (camera_noise.eval_noisy); σ is the noise's RMS, mean over the images."
            % args.noise)
        say()
    lv = (lambda s: "%g" % s) if args.noise == "gaussian" else (lambda s: "%s (σ %g)" % (level_of[s], s))
    say("| σ | noisy | " + " | ".join(m[1] for m in methods) + " |")
    say("| --- | --- | " + " | ".join("---" for _ in methods) + " |")
    for s in sigmas:
        best = max(table[m[0], s] for m in methods)
        cells = [("**%.2f**" if table[m[0], s] == best else "%.2f") % table[m[0], s] for m in methods]
        say("| %s | %.2f | %s |" % (lv(s), noisy_psnr[s], " | ".join(cells)))
    say()
    say("Chosen settings (grid searched per sigma):")
    say()
    classical = [m for m in methods if not m[0].startswith("ours")]
    say("| σ | " + " | ".join("%s (%s)" % (m[1], m[2]) for m in classical) + " |")
    say("| --- | " + " | ".join("---" for m in classical) + " |")
    for s in sigmas:
        say("| %s | %s |" % (lv(s), " | ".join(chosen[m[0], s] for m in classical)))
    say()
    say("Time per 500×500 image, mean over %d image(s) × %d sigma(s), one method at a time at "
        "its chosen setting: wall seconds / CPU seconds of all threads (%s):" % (nt, len(sigmas), cpu_name()))
    say()
    say("| σ | " + " | ".join(m[1] for m in methods) + " |")
    say("| --- | " + " | ".join("---" for _ in methods) + " |")
    for s in sigmas:
        say("| %s | %s |" % (lv(s), " | ".join("%.2f / %.2f" % (times[m[0], s], cputimes[m[0], s])
                                            for m in methods)))
    say()
    say("load average at the end: %s; PSNR pass: %.0f s with %d job(s)"
        % (" ".join("%.2f" % x for x in os.getloadavg()), t_grid, args.jobs))

    for s in sigmas:
        results["sigmas"]["%g" % s if args.noise == "gaussian" else level_of[s]] = {
            "sigma": s,
            "noisy_psnr": noisy_psnr[s],
            "methods": {m[0]: {"label": m[1], "psnr": table[m[0], s], "seconds_per_image": times[m[0], s],
                               "cpu_seconds_per_image": cputimes[m[0], s],
                               "param": m[2], "chosen": chosen.get((m[0], s)),
                               "grid": {str(v): p for v, p in grid.get((m[0], s), {}).items()}}
                        for m in methods}}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
