#!/usr/bin/python3
"""Inpainting PSNR inside the hole: the embedded model (through the C CLI)
beside the classical fills a GIMP user has, on the same holed files, in one run:

  /usr/bin/python3 weights/eval_inpaint.py --cli build/core/generative \\
      [--model weights/generative-unet] [--limit N] [--sizes 32,64,96] [--jobs 2] \\
      [--ours 'refine=' --ours 'fill=--refine-sigma 0.01 --steps 1' ...] \\
      [--json OUT.json] [--markdown weights/eval-classical.md] \\
      [--sheet weights/contact-sheet-inpaint.png]

Holes: for every image and every size S of --sizes, one S×S square and one
free-form hole (thick random brush strokes inside an S×S box, covering about
half of it), each at a position drawn from numpy PCG64 seeded with
[--seed, S, shape, image index]: fixed, and the same for every method.  The
hole is painted mid-gray in the file every method gets (nothing of the
original leaks in) and is white in the mask.  PSNR is taken over the hole's
pixels (all three channels, 8-bit results against the clean image) and
averaged over the images per size and shape.

Methods (the Debian packages gmic and python3-opencv):
  - G'MIC patch-based inpainting (CImg's inpaint_patch, behind G'MIC's
    "Repair > Inpaint [Patch-Based]"): `gmic IN MASK inpaint[0] [1],P,2P,0.5,1,
    0,0,0.05,10,1`; the patch size P tuned.
  - G'MIC PDE inpainting: `inpaint_pde[0] [1],75%,T,20`; the diffusion type T
    (0 isotropic, 1 Delaunay-guided, 2 edge-guided) tuned.
  - OpenCV `cv2.inpaint` with INPAINT_TELEA and INPAINT_NS; the radius tuned.
  - ours: `generative inpaint --mask MASK` (the C core and the given model
    folder) with each --ours variant's extra arguments (NAME=ARGS; default
    'refine=', the CLI's defaults); nothing tuned on these images.

Each classical parameter is chosen per hole size from a small grid by the
mean PSNR on these same images: an upper bound for those fills.  The
timing line is one 96×96 square hole in the first 500×500 image through the
CLI with --threads 2 (the default method), wall seconds, after the PSNR pass.

--synthetic N evaluates on N dead-leaves images (dead_leaves.py, 256×256,
seed 777, a set never trained on) instead of the photographs: the set to
choose our defaults on, since the photographs are for validation only."""

import argparse
import concurrent.futures as cf
import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "testimages", "mcmaster")

import cv2  # noqa: E402
from PIL import Image  # noqa: E402

SHAPES = ("square", "free")


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                    r.stderr.decode(errors="replace")[-500:]))


def read_rgb8(path):
    a = np.asarray(Image.open(path).convert("RGB"))
    if a.dtype != np.uint8:
        raise RuntimeError("%s is not 8-bit" % path)
    return a


def make_hole(shape, size, h, w, seed, index):
    """-> bool mask [h, w]: a SIZE×SIZE square or free-form strokes in such a box."""
    rng = np.random.default_rng([seed, size, SHAPES.index(shape), index])
    margin = 8
    y0 = int(rng.integers(margin, h - size - margin))
    x0 = int(rng.integers(margin, w - size - margin))
    box = np.zeros((size, size), np.uint8)
    if shape == "square":
        box[:] = 1
    else:
        width = max(3, size // 6)
        r = width // 2 + 1
        while box.mean() < 0.45:
            x, y = (int(v) for v in rng.integers(r, size - r, 2))
            for _ in range(int(rng.integers(2, 5))):
                ang, length = rng.uniform(0, 2 * np.pi), rng.uniform(size / 4, size / 1.5)
                nx = int(np.clip(x + length * np.cos(ang), r, size - 1 - r))
                ny = int(np.clip(y + length * np.sin(ang), r, size - 1 - r))
                cv2.line(box, (x, y), (nx, ny), 1, width)
                x, y = nx, ny
    m = np.zeros((h, w), bool)
    m[y0:y0 + size, x0:x0 + size] = box > 0
    return m


def hole_psnr(clean, out, mask):
    d = clean[mask].astype(np.float64) - out[mask].astype(np.float64)
    return 10 * np.log10(255.0 ** 2 / max((d ** 2).mean(), 1e-10))


# Each classical method: label, parameter name, grid of a hole size, and
# apply(holed_path, mask_path, out_path, value, args).

def gmic_patch(inp, mask, out, p, args):
    run([args.gmic, "-v", "-1", inp, mask, "inpaint[0]", "[1],%d,%d,0.5,1,0,0,0.05,10,1" % (p, 2 * p),
         "rm[1]", "cut", "0,255", "round", "o", out])


def gmic_pde(inp, mask, out, t, args):
    run([args.gmic, "-v", "-1", inp, mask, "inpaint_pde[0]", "[1],75%%,%d,20" % t,
         "rm[1]", "cut", "0,255", "round", "o", out])


def opencv(flag):
    def apply(inp, mask, out, radius, args):
        img = cv2.imread(inp, cv2.IMREAD_COLOR)
        m = cv2.imread(mask, cv2.IMREAD_GRAYSCALE)
        cv2.imwrite(out, cv2.inpaint(img, m, radius, flag))
    return apply


CLASSICAL = [
    ("G'MIC patch-based", "patch size", lambda s: [7, 11, 15, 21], gmic_patch),
    ("G'MIC PDE", "diffusion type", lambda s: [0, 1, 2], gmic_pde),
    ("OpenCV Telea", "radius", lambda s: [1, 3, 5, 9, 15], opencv(cv2.INPAINT_TELEA)),
    ("OpenCV Navier-Stokes", "radius", lambda s: [1, 3, 5, 9, 15], opencv(cv2.INPAINT_NS)),
]


def ours(extra):
    def apply(inp, mask, out, _value, args):
        cmd = [args.cli, "inpaint", "-q", "--threads", str(args.threads), "--seed", "1",
               "--mask", mask, inp, "-o", out]
        if args.model:
            cmd += ["--model", args.model]
        run(cmd + shlex.split(extra))
    return apply


def synthetic_images(n, folder):
    sys.path.insert(0, HERE)
    import torch
    from dead_leaves import DeadLeaves
    torch.set_num_threads(1)
    imgs = DeadLeaves(256).batch(n, 777)
    files = []
    for i in range(n):
        arr = (imgs[i].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
        files.append(os.path.join(folder, "leaves-%02d.png" % i))
        Image.fromarray(arr).save(files[-1])
    return files


def slug(s):
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--model", default=os.path.join(HERE, "generative-unet"))
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--synthetic", type=int, default=0, metavar="N")
    ap.add_argument("--limit", type=int, default=0, help="first N images only")
    ap.add_argument("--sizes", default="32,64,96")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ours", action="append", default=None, metavar="NAME=ARGS")
    ap.add_argument("--no-classical", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads of each CLI run")
    ap.add_argument("--gmic", default="gmic")
    ap.add_argument("--work", default="")
    ap.add_argument("--json")
    ap.add_argument("--markdown", help="replace (or add) the inpainting section of this file")
    ap.add_argument("--sheet", help="contact sheet of fills (PNG)")
    args = ap.parse_args()

    work = args.work or tempfile.mkdtemp(prefix="eval-inpaint-")
    os.makedirs(work, exist_ok=True)
    if args.synthetic:
        files = synthetic_images(args.synthetic, work)
        source = "%d dead-leaves images (256×256, seed 777)" % args.synthetic
    else:
        files = sorted(glob.glob(os.path.join(args.images, "*.png")))
        if args.limit:
            files = files[:args.limit]
        if not files:
            sys.exit("no images in %s" % args.images)
        source = "%d McMaster images (%s)" % (len(files), os.path.normpath(args.images))
    sizes = [int(s) for s in args.sizes.split(",")]
    variants = [v.split("=", 1) for v in (args.ours or ["refine="])]

    # the holed inputs and masks, once
    cases = []  # (image index, size, shape, holed path, mask path)
    clean = {}
    for i, f in enumerate(files):
        img = read_rgb8(f)
        clean[i] = img
        for s in sizes:
            for shape in SHAPES:
                m = make_hole(shape, s, img.shape[0], img.shape[1], args.seed, i)
                holed = img.copy()
                holed[m] = 128
                base = os.path.join(work, "%02d-%d-%s" % (i, s, shape))
                Image.fromarray(holed).save(base + "-in.png")
                Image.fromarray(m.astype(np.uint8) * 255).save(base + "-mask.png")
                cases.append((i, s, shape, base + "-in.png", base + "-mask.png", m))

    methods = [] if args.no_classical else [(l, p, g, fn) for l, p, g, fn in CLASSICAL]
    methods += [("ours (%s)" % name, None, lambda s: [None], ours(extra)) for name, extra in variants]

    tasks = []
    for label, _, grid, fn in methods:
        for (i, s, shape, inp, mask, m) in cases:
            for v in grid(s):
                out = os.path.join(work, "%02d-%d-%s-%s-%s.png" % (i, s, shape, slug(label), v))
                tasks.append((label, v, i, s, shape, inp, mask, out, fn))
    print("%d images, %d holes, %d runs in %s" % (len(files), len(cases), len(tasks), work), flush=True)

    def one(t):
        label, v, i, s, shape, inp, mask, out, fn = t
        t0 = time.time()
        if not os.path.exists(out):
            fn(inp, mask, out, v, args)
        res = read_rgb8(out)
        m = next(c[5] for c in cases if c[0] == i and c[1] == s and c[2] == shape)
        if not np.array_equal(res[~m], clean[i][~m]):
            # a fill must keep what is outside the hole; flag it, measure it anyway
            print("  note: %s changed pixels outside the hole of %s" % (label, out), flush=True)
        return (label, v, i, s, shape, hole_psnr(clean[i], res, m), time.time() - t0)

    t0 = time.time()
    results = []
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        for k, r in enumerate(ex.map(one, tasks)):
            results.append(r)
            if (k + 1) % 50 == 0:
                print("  %d/%d (%.0f s)" % (k + 1, len(tasks), time.time() - t0), flush=True)
    pass_s = time.time() - t0

    # per method, size, shape and setting: the mean PSNR; classical settings chosen per size
    table = {}
    for label, v, i, s, shape, p, _ in results:
        table.setdefault((label, s, shape, v), []).append(p)
    mean = {k: float(np.mean(v)) for k, v in table.items()}
    best, grids = {}, []
    for label, pname, grid, _ in methods:
        for s in sizes:
            if pname is None:
                best[(label, s)] = None
                continue
            score = {v: np.mean([mean[(label, s, sh, v)] for sh in SHAPES]) for v in grid(s)}
            b = max(score, key=score.get)
            best[(label, s)] = b
            grids.append("grid %-22s size %3d  %s: %s -> best %s%s" % (
                label, s, pname, ", ".join("%s: %.2f" % (v, score[v]) for v in grid(s)), b,
                " (edge of grid)" if b in (grid(s)[0], grid(s)[-1]) else ""))
    for g in grids:
        print(g)

    # the timing of ours: 96×96 square hole, first image, 2 threads, the default method
    timing = None
    if not args.synthetic:
        i, s, shape, inp, mask, m = next(c for c in cases if c[1] == max(sizes) and c[2] == "square")
        out = os.path.join(work, "timing.png")
        cmd = [args.cli, "inpaint", "-q", "--threads", "2", "--seed", "1", "--mask", mask, inp, "-o", out]
        if args.model:
            cmd += ["--model", args.model]
        t1 = time.time()
        run(cmd)
        timing = (time.time() - t1, max(sizes), os.path.basename(files[i]))
        print("ours (default), %d×%d hole in %s, 2 threads: %.2f s wall" % (
            max(sizes), max(sizes), timing[2], timing[0]))

    rows = []
    header = ["method (setting per size)"] + ["%d %s" % (s, sh) for s in sizes for sh in SHAPES] + ["mean"]
    for label, pname, _, _ in methods:
        vals = [mean[(label, s, sh, best[(label, s)])] for s in sizes for sh in SHAPES]
        setting = "" if pname is None else " (%s %s)" % (
            pname, "/".join(str(best[(label, s)]) for s in sizes))
        rows.append((label + setting, vals, float(np.mean(vals))))
    top = [max(r[1][k] for r in rows) for k in range(len(header) - 2)]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for name, vals, mv in rows:
        cells = ["**%.2f**" % v if v >= top[k] - 1e-9 else "%.2f" % v for k, v in enumerate(vals)]
        lines.append("| %s | %s | %.2f |" % (name, " | ".join(cells), mv))
    for l in lines:
        print(l)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"source": source, "sizes": sizes, "results": results,
                       "best": {"%s|%d" % k: v for k, v in best.items()}, "timing": timing},
                      f, indent=1)

    if args.markdown:
        md = ["## Inpainting: PSNR inside the hole", "",
              "weights/eval_inpaint.py on %s, holes of %s pixels: one square and one free-form"
              " (brush strokes in a box of that size) per image and size at fixed seeds, the hole"
              " painted gray in every method's input.  PSNR (dB) over the hole's pixels, mean over"
              " the images; classical fills at their best setting per size on these same images"
              " (an upper bound for them); ours not tuned on them.  gmic %s, OpenCV %s." % (
                  source, ", ".join(map(str, sizes)), gmic_version(args), cv2.__version__), ""]
        md += lines + [""] + ["    " + g for g in grids] + [""]
        if timing:
            md.append("Time of ours (the default refine method) for a %d×%d hole in %s (500×500), "
                      "2 threads on this shared 2-core machine: %.1f s wall.  PSNR pass: %.0f s with"
                      " %d job(s)." % (timing[1], timing[1], timing[2], timing[0], pass_s, args.jobs))
        md.append("")
        text = open(args.markdown).read() if os.path.exists(args.markdown) else ""
        head = "## Inpainting: PSNR inside the hole"
        if head in text:
            start = text.index(head)
            nxt = text.find("\n## ", start + len(head))
            text = text[:start] + "\n".join(md) + (text[nxt + 1:] if nxt >= 0 else "")
        else:
            text = text.rstrip("\n") + "\n\n" + "\n".join(md)
        with open(args.markdown, "w") as f:
            f.write(text)

    if args.sheet:
        contact_sheet(args, methods, best, cases, files, work, sizes)


def gmic_version(args):
    try:
        r = subprocess.run([args.gmic, "-v", "-1", "-version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        m = re.search(r"Version ([0-9.]+)", r.stdout.decode(errors="replace"))
        return m.group(1) if m else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def contact_sheet(args, methods, best, cases, files, work, sizes):
    """Rows: four holes of the largest size (squares and free-form); columns:
    the original, the holed input, then every method at its chosen setting,
    each a crop of 1.5 times the hole's size around it."""
    from PIL import ImageDraw
    s = max(sizes)
    picks = [c for c in cases if c[1] == s][:4]
    tile = 3 * s // 2
    cols = ["original", "hole"] + [m[0].replace("ours ", "ours\n") for m in methods]
    W, top = len(cols) * (tile + 4) + 4, 30
    sheet = Image.new("RGB", (W, top + len(picks) * (tile + 4) + 4), "white")
    d = ImageDraw.Draw(sheet)
    for k, name in enumerate(cols):
        d.multiline_text((4 + k * (tile + 4), 2), name, fill="black", spacing=1)
    for r, (i, size, shape, inp, mask, m) in enumerate(picks):
        ys, xs = np.nonzero(m)
        cy, cx = (ys.min() + ys.max()) // 2, (xs.min() + xs.max()) // 2
        h, w = m.shape
        y0, x0 = int(np.clip(cy - tile // 2, 0, h - tile)), int(np.clip(cx - tile // 2, 0, w - tile))
        imgs = [files[i], inp] + [
            os.path.join(work, "%02d-%d-%s-%s-%s.png" % (i, size, shape, slug(lab), best[(lab, size)]))
            for lab, _, _, _ in methods]
        for k, f in enumerate(imgs):
            im = Image.open(f).convert("RGB").crop((x0, y0, x0 + tile, y0 + tile))
            sheet.paste(im, (4 + k * (tile + 4), top + 4 + r * (tile + 4)))
    sheet.save(args.sheet, optimize=True)
    print("wrote", args.sheet)


if __name__ == "__main__":
    main()
