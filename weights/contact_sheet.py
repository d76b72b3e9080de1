#!/usr/bin/python3
"""Contact sheet of what the embedded models do, made with the C command line:

  /usr/bin/python3 weights/contact_sheet.py --cli build/core/generative \
      [--model weights/generative-unet] [--vae DIR] [--out weights/contact-sheet.png]

Three rows, every image made by `generative` (nothing by PyTorch):
  1. generate: --count N samples (seeds SEED, SEED+1, ...) at --size (default 64,
     the model's training size), DDIM, --steps;
  2. inpaint: --crops validation crops (../shared/testimages/mcmaster, fixed
     positions) with a rectangular hole, shown as original | holed | inpainted
     (the hole is filled with gray in the file given to the CLI, so nothing of
     the original leaks in; the mask is white in the hole);
  3. interpolate: two validation crops A and B and --frames frames between
     them (`generative interpolate`: slerp of the DDIM-inverted noise for a
     pixel model, of the latents with a VAE).
Small images are shown enlarged by --zoom with nearest-neighbour pixels.
Seeds and positions are fixed, so the sheet is reproducible; the run takes a
few minutes on two cores."""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageDraw, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_IMAGES = os.path.join(HERE, "..", "..", "shared", "testimages", "mcmaster")

# (image index in sorted order, x, y) of the crops; top-left corners.
INPAINT_CROPS = [(0, 300, 40), (4, 200, 200), (8, 150, 300), (12, 60, 120)]
INTERP_CROPS = [(2, 180, 180), (16, 220, 100)]


def cli(args, *cmd):
    full = [args.cli, cmd[0], "-q"]
    if args.model:
        full += ["--model", args.model]
    if args.vae:
        full += ["--vae", args.vae]
    if args.threads:
        full += ["--threads", str(args.threads)]
    full += list(cmd[1:])
    t0 = time.time()
    r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit("%s failed: %s" % (" ".join(full), r.stderr.decode(errors="replace").strip()))
    print("  %.1f s  %s" % (time.time() - t0, " ".join(full)), flush=True)


def crop(files, spec, size):
    i, x, y = spec
    im = Image.open(files[i]).convert("RGB")
    x, y = min(x, im.width - size), min(y, im.height - size)
    return im.crop((x, y, x + size, y + size))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the generative program (build/core/generative)")
    ap.add_argument("--model", default=os.path.join(HERE, "generative-unet"),
                    help="UNet (or pipeline) folder; '' = the CLI's embedded default")
    ap.add_argument("--vae", default="", help="VAE folder, passed on to every command")
    ap.add_argument("--out", default=os.path.join(HERE, "contact-sheet.png"))
    ap.add_argument("--images", default=DEFAULT_IMAGES)
    ap.add_argument("--size", type=int, default=64, help="generated samples: width = height")
    ap.add_argument("--count", type=int, default=8, help="generated samples")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--steps", type=int, default=30, help="DDIM steps for every job")
    ap.add_argument("--crop", type=int, default=64, help="inpainting and interpolation crops")
    ap.add_argument("--hole", type=int, default=24, help="side of the square hole")
    ap.add_argument("--crops", type=int, default=3, help="inpainting examples (up to 4)")
    ap.add_argument("--frames", type=int, default=6, help="interpolation frames between A and B")
    ap.add_argument("--zoom", type=int, default=2, help="display enlargement of each tile")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--keep", help="keep the intermediate files in this folder")
    args = ap.parse_args()

    files = sorted(glob.glob(os.path.join(args.images, "*.png")))
    if not files:
        sys.exit("no PNG images in %s" % args.images)
    work = args.keep or tempfile.mkdtemp(prefix="contact-sheet-")
    os.makedirs(work, exist_ok=True)
    p = lambda name: os.path.join(work, name)  # noqa: E731
    t_all = time.time()

    # 1. generated samples
    print("generate", flush=True)
    cli(args, "generate", "--seed", str(args.seed), "--count", str(args.count),
        "--width", str(args.size), "--height", str(args.size), "--steps", str(args.steps),
        "-o", p("gen.png"))
    gen = [Image.open(p("gen-%d.png" % k) if args.count > 1 else p("gen.png")).convert("RGB")
           for k in range(args.count)]

    # 2. inpainting
    print("inpaint", flush=True)
    inp = []
    c, h = args.crop, args.hole
    for k, spec in enumerate(INPAINT_CROPS[:args.crops]):
        orig = crop(files, spec, c)
        a = np.asarray(orig).copy()
        y0 = x0 = (c - h) // 2
        mask = np.zeros((c, c), np.uint8)
        mask[y0:y0 + h, x0:x0 + h] = 255
        a[mask > 0] = 128
        holed = Image.fromarray(a)
        holed.save(p("holed-%d.png" % k))
        Image.fromarray(mask).save(p("mask-%d.png" % k))
        cli(args, "inpaint", "--seed", str(args.seed + k), "--steps", str(args.steps),
            "--mask", p("mask-%d.png" % k), p("holed-%d.png" % k), "-o", p("inpainted-%d.png" % k))
        done = Image.open(p("inpainted-%d.png" % k)).convert("RGB")
        inp.append((orig, holed, done))

    # 3. interpolation
    print("interpolate", flush=True)
    ia, ib = (crop(files, s, c) for s in INTERP_CROPS)
    ia.save(p("A.png"))
    ib.save(p("B.png"))
    cli(args, "interpolate", "--seed", str(args.seed), "--steps", str(args.steps),
        "--frames", str(args.frames), p("A.png"), p("B.png"), "-o", p("interp.png"))
    frames = [Image.open(p("interp-%d.png" % k) if args.frames > 1 else p("interp.png")).convert("RGB")
              for k in range(args.frames)]

    # Layout
    z, pad, gap, lab = args.zoom, 6, 14, 16
    try:  # DejaVu where present (Debian: fonts-dejavu-core), else PIL's latin-1 bitmap font
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 11)
        ascii_only = False
    except OSError:
        font = ImageFont.load_default()
        ascii_only = True
    def text(xy, s, fill):
        if ascii_only:
            s = s.replace("\u2013", "-").replace("\u2192", "->").replace("\u00d7", "x")
        d.text(xy, s, fill=fill, font=font)
    T = lambda im: im.resize((im.width * z, im.height * z), Image.NEAREST)  # noqa: E731
    rows = []
    rows.append(("generate: %d samples, %d×%d, seeds %d–%d, DDIM %d steps"
                 % (args.count, args.size, args.size, args.seed, args.seed + args.count - 1, args.steps),
                 [(T(g), "seed %d" % (args.seed + k)) for k, g in enumerate(gen)], []))
    tiles, seps = [], []
    for k, (o, hd, dn) in enumerate(inp):
        tiles += [(T(o), "original"), (T(hd), "hole %d×%d" % (h, h)), (T(dn), "inpainted")]
        seps.append(len(tiles))
    rows.append(("inpaint (the default: an edge-guided fill refined by the model, DDIM %d steps): "
                 "McMaster crops %d×%d, original | holed | inpainted"
                 % (args.steps, c, c), tiles, seps[:-1]))
    tiles = [(T(ia), "A")] + [(T(f), "%d/%d" % (k + 1, args.frames + 1)) for k, f in enumerate(frames)] \
        + [(T(ib), "B")]
    rows.append(("interpolate: McMaster crops A → B, %d frames (%s)"
                 % (args.frames, "slerp of VAE latents" if args.vae else "slerp of DDIM-inverted noise, %d steps"
                    % args.steps), tiles, []))
    width = max(sum(t.width for t, _ in r[1]) + pad * (len(r[1]) - 1) + gap * len(r[2]) for r in rows) + 2 * pad
    title = "Generative: %s" % (os.path.basename(os.path.normpath(args.model)) if args.model else "embedded model")
    height = pad + lab + sum(lab + max(t.height for t, _ in r[1]) + lab + pad for r in rows) + pad
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    text((pad, pad), title, (0, 0, 0))
    y = pad + lab
    for heading, tiles, seps in rows:
        text((pad, y + 2), heading, (0, 0, 0))
        y += lab
        x = pad
        for k, (t, cap) in enumerate(tiles):
            if k in seps:
                x += gap
            sheet.paste(t, (x, y))
            text((x + 2, y + t.height + 2), cap, (80, 80, 80))
            x += t.width + pad
        y += max(t.height for t, _ in tiles) + lab + pad
    sheet.save(args.out, optimize=True)
    print("wrote %s (%d×%d, %.0f kB) in %.0f s" % (args.out, width, height,
                                                  os.path.getsize(args.out) / 1024, time.time() - t_all))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
