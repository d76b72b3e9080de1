#!/usr/bin/python3
"""Harmonic fill parity: gen_inpaint_harmonic (core/jobs/gen-inpaint-fill.c,
coarse-to-fine SOR) against a direct dense solve of the same discrete
Laplace equation with numpy.

  /usr/bin/python3 tests/fill_parity.py --dump PATH/fill-dump [--verbose]

The equations, written here from their definition: for every unknown pixel
i, n_i·u_i − Σ u_j over its n_i neighbours inside the image = 0, known
neighbours moved to the right-hand side (Dirichlet values), the image's
edges reflecting (a missing neighbour is no term: a zero normal derivative).
Cases: random images and holes of odd sizes, a hole touching the edges, a
hole of one pixel, 1 to 4 channels.  Max |C − numpy| must be ≤ 2e-4 (the
solver stops when no value moves more than 1e-6 per sweep).
Exit 0 passed, 1 failed, 77 (skip) without numpy.
"""

import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    sys.exit(77)


def reference(img, unk):
    h, w, c = img.shape
    idx = -np.ones((h, w), int)
    ys, xs = np.nonzero(unk)
    idx[ys, xs] = np.arange(len(ys))
    n = len(ys)
    a = np.zeros((n, n))
    b = np.zeros((n, c))
    for k, (y, x) in enumerate(zip(ys, xs)):
        for dy, dx in ((0, -1), (0, 1), (-1, 0), (1, 0)):
            yy, xx = y + dy, x + dx
            if not (0 <= yy < h and 0 <= xx < w):
                continue
            a[k, k] += 1
            if unk[yy, xx]:
                a[k, idx[yy, xx]] -= 1
            else:
                b[k] += img[yy, xx]
    out = img.astype(np.float64).copy()
    out[ys, xs] = np.linalg.solve(a, b)
    return out


def case(rng, h, w, c, kind):
    img = rng.random((h, w, c)).astype(np.float32)
    img = (img + np.roll(img, 1, 0) + np.roll(img, 1, 1)) / 3  # some structure
    unk = np.zeros((h, w), bool)
    if kind == "rect":
        unk[h // 4:3 * h // 4, w // 3:w - 2] = True
    elif kind == "edge":
        unk[:h // 2, :w // 2] = True  # touches two edges: reflecting there
    elif kind == "pixel":
        unk[h // 2, w // 2] = True
    else:
        unk = rng.random((h, w)) < 0.35
        unk[h // 2 - 3:h // 2 + 3, w // 2 - 5:w // 2 + 5] = True
    img[unk] = 0.0
    return img, unk


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dump", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(5)
    cases = [(17, 23, 3, "rect"), (31, 19, 1, "edge"), (9, 7, 4, "pixel"),
             (24, 30, 3, "scatter"), (3, 5, 2, "scatter"), (40, 33, 3, "rect")]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for h, w, c, kind in cases:
            img, unk = case(rng, h, w, c, kind)
            p_in, p_unk, p_out = (os.path.join(tmp, n) for n in ("in.f32", "unk.u8", "out.f32"))
            img.astype("<f4").tofile(p_in)
            unk.astype(np.uint8).tofile(p_unk)
            r = subprocess.run([args.dump, str(w), str(h), str(c), p_in, p_unk, p_out],
                               capture_output=True, text=True)
            if r.returncode != 0:
                print("%dx%dx%d %s: fill-dump failed: %s" % (w, h, c, kind, r.stderr.strip()))
                failed += 1
                continue
            got = np.fromfile(p_out, "<f4").reshape(h, w, c)
            want = reference(img, unk)
            err = np.abs(got - want).max()
            known_same = np.array_equal(got[~unk], img[~unk])
            ok = err <= 2e-4 and known_same
            failed += not ok
            print("%-4s %dx%dx%d %-7s %4d unknown: max |diff| %.2e%s" % (
                "ok" if ok else "FAIL", w, h, c, kind, unk.sum(), err,
                "" if known_same else ", known pixels changed"))
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
