#!/usr/bin/python3
"""How well `--sigma auto` finds the effective sigma (the noise's RMS) of each
noise kind of camera_noise.py, for the C core's estimate and for the one it
replaced (the median of the finest diagonal Haar details / 0.6745, per colour
channel, averaged: right for white Gaussian noise only):

  /usr/bin/python3 weights/eval_sigma.py --dump build/tests/noise-dump \
      [--images DIR] [--dead-leaves N] [--limit N] [--markdown OUT.md]

Every noisy image is camera_noise.eval_noisy's (the evaluation protocol:
seeded per kind, level and image, rounded to 8 bits) written as an 8-bit PNG;
the C estimate is read back from tests/noise-dump.  The true effective sigma
is the RMS of noisy - clean.  Printed per kind and level: the mean true sigma,
each estimator's mean estimate, its bias (mean of estimate / true - 1) and
its mean absolute relative error.

The estimator's few constants were fitted on dead-leaves images
(--dead-leaves N reports on N of them, 256 x 256, seed 12345); the McMaster
images (the default) only report."""

import argparse
import glob
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import camera_noise  # noqa: E402
from eval import DEFAULT_IMAGES  # noqa: E402
from PIL import Image  # noqa: E402

KINDS = [("gaussian", "5"), ("gaussian", "15"), ("gaussian", "25"), ("gaussian", "50"),
         ("pg", "pg-low"), ("pg", "pg-mid"), ("pg", "pg-high"),
         ("demosaic", "pg-low"), ("demosaic", "pg-mid"), ("demosaic", "pg-high"),
         ("jpeg", "90"), ("jpeg", "75")]


def white_estimate(noisy):
    """The estimate sigma auto gave before: per colour channel the median
    (element n // 2) of |a - b - c + e| / 2 over 2x2 cells, / 0.6745."""
    h, w = noisy.shape[0] // 2 * 2, noisy.shape[1] // 2 * 2
    x = noisy.astype(np.float32) / np.float32(255.0)
    a, b, c, e = x[0:h:2, 0:w:2], x[0:h:2, 1:w:2], x[1:h:2, 0:w:2], x[1:h:2, 1:w:2]
    d = np.abs(a - b - c + e) * np.float32(0.5)
    return float(np.mean([np.sort(d[..., k].ravel())[d[..., k].size // 2] / 0.6745 * 255.0
                          for k in range(3)]))


def clean_images(args):
    if args.dead_leaves:
        import torch
        import dead_leaves
        torch.set_num_threads(1)
        x = dead_leaves.DeadLeaves(256).batch(args.dead_leaves, (12345, 0)) * 255
        return "%d dead-leaves images (256 x 256)" % args.dead_leaves, \
            list(x.permute(0, 2, 3, 1).double().numpy())
    files = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if args.limit:
        files = files[:args.limit]
    if not files:
        sys.exit("no PNG images in %s" % args.images)
    return "%d images from %s" % (len(files), args.images), \
        [np.asarray(Image.open(p).convert("RGB")).astype(np.float64) for p in files]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True, help="tests/noise-dump of a build")
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--dead-leaves", type=int, default=0, help="N synthetic images instead")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--markdown", help="also write the table here")
    args = ap.parse_args()

    what, cleans = clean_images(args)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    say("Noise-level estimates (`--sigma auto`) on %s, noise seed %d (camera_noise.eval_noisy);"
        " σ = the noise's RMS:" % (what, args.seed))
    say()
    say("| noise | level | true σ | before: mean | bias | mean abs. error | now: mean | bias "
        "| mean abs. error |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="eval-sigma-") as tmp:
        for kind, level in KINDS:
            true, before, paths = [], [], []
            for i, c in enumerate(cleans):
                noisy, eff = camera_noise.eval_noisy(c, kind, float(level) if kind == "gaussian"
                                                     else level, args.seed, i)
                p = os.path.join(tmp, "%s-%s-%02d.png" % (kind, level, i))
                Image.fromarray(noisy.astype(np.uint8)).save(p)
                paths.append(p)
                true.append(eff)
                before.append(white_estimate(noisy))
            out = subprocess.run([args.dump] + paths, check=True, stdout=subprocess.PIPE)
            now = [float(v) for v in out.stdout.split()]
            true, before, now = map(np.array, (true, before, now))
            cells = []
            for est in (before, now):
                rel = est / true - 1
                cells.append("%.2f | %+.1f%% | %.1f%%" % (est.mean(), 100 * rel.mean(),
                                                         100 * np.abs(rel).mean()))
            say("| %s | %s | %.2f | %s |" % (kind, level, true.mean(), " | ".join(cells)))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
