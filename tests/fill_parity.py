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

Edge-guided diffusion (gen_inpaint_edge_guided): ITERS explicit steps of
u <- u + 0.2 (a u_xx + 2 b u_xy + c u_yy) on the unknown pixels, iterated
here with numpy from the formulas of gen-inpaint-fill.h (Gaussian kernels
of radius ceil(3 sigma), reflect-101 edges, central differences, the
structure tensor's eigenvectors in closed form) on the hole's bounding box
plus 24 pixels.  Cases: harmonic-filled holes in a structured image, 1 and
3 channels, a hole at the image's corner, a large hole on 3 threads.  Max
|C - numpy| must be <= 1e-4.
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


def gauss_blur(a, sigma):
    r = int(np.ceil(3 * sigma))
    k = np.exp(-np.arange(-r, r + 1) ** 2 / (2.0 * sigma * sigma))
    k /= k.sum()
    for axis in (1, 0):
        pad = [(0, 0), (0, 0)]
        pad[axis] = (r, r)
        p = np.pad(a, pad, mode="reflect") if a.shape[axis] > 1 else np.pad(a, pad, mode="edge")
        n = a.shape[axis]
        a = sum(k[j] * (p[:, j:j + n] if axis == 1 else p[j:j + n]) for j in range(2 * r + 1))
    return a


def edge_guided(img, unk, iters, rho, alpha, margin=24, sigma=0.8, dt=0.2):
    ys, xs = np.nonzero(unk)
    y0, y1 = max(0, ys.min() - margin), min(img.shape[0], ys.max() + 1 + margin)
    x0, x1 = max(0, xs.min() - margin), min(img.shape[1], xs.max() + 1 + margin)
    u = img[y0:y1, x0:x1].astype(np.float64).transpose(2, 0, 1).copy()
    m = unk[y0:y1, x0:x1]
    for _ in range(iters):
        us = np.stack([gauss_blur(ch, sigma) for ch in u])
        gx = np.zeros_like(us)
        gy = np.zeros_like(us)
        gx[:, :, 1:-1] = 0.5 * (us[:, :, 2:] - us[:, :, :-2])
        gy[:, 1:-1] = 0.5 * (us[:, 2:] - us[:, :-2])
        j11 = gauss_blur((gx * gx).sum(0), rho)
        j12 = gauss_blur((gx * gy).sum(0), rho)
        j22 = gauss_blur((gy * gy).sum(0), rho)
        tr, det = j11 + j22, j11 * j22 - j12 * j12
        disc = np.sqrt(np.maximum(0.25 * tr * tr - det, 0))
        l1, l2 = 0.5 * tr + disc, 0.5 * tr - disc
        vx, vy = j12, l1 - j11
        norm = np.hypot(vx, vy)
        flat = norm < 1e-12
        vx = np.where(flat, 1.0, vx / np.where(flat, 1.0, norm))
        vy = np.where(flat, 0.0, vy / np.where(flat, 1.0, norm))
        c1 = 1.0 / (1.0 + (l1 - l2) / alpha)
        a, b, c = c1 * vx * vx + vy * vy, (c1 - 1) * vx * vy, c1 * vy * vy + vx * vx
        uxx, uyy, uxy = np.zeros_like(u), np.zeros_like(u), np.zeros_like(u)
        uxx[:, :, 1:-1] = u[:, :, 2:] - 2 * u[:, :, 1:-1] + u[:, :, :-2]
        uyy[:, 1:-1] = u[:, 2:] - 2 * u[:, 1:-1] + u[:, :-2]
        uxy[:, 1:-1, 1:-1] = 0.25 * (u[:, 2:, 2:] - u[:, 2:, :-2] - u[:, :-2, 2:] + u[:, :-2, :-2])
        u = np.where(m, u + dt * (a * uxx + 2 * b * uxy + c * uyy), u)
    out = img.astype(np.float64).copy()
    out[y0:y1, x0:x1] = u.transpose(1, 2, 0)
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
        # edge-guided diffusion on harmonic-filled holes of a structured image
        # (the last is big enough for the rows to be split over 3 threads)
        eg_cases = [(60, 70, 3, (20, 45, 25, 50), 40, 3.0, 1e-4, 1),
                    (50, 40, 1, (10, 30, 8, 22), 25, 2.0, 1e-3, 1),
                    (45, 52, 3, (0, 14, 0, 18), 30, 3.0, 1e-4, 2),
                    (300, 290, 3, (40, 250, 30, 260), 4, 5.0, 1e-4, 3)]
        for h, w, c, (ya, yb, xa, xb), iters, rho, alpha, threads in eg_cases:
            yy, xx = np.mgrid[0:h, 0:w]
            img = np.stack([0.5 + 0.4 * np.tanh((xx - 0.6 * yy - 10 - 5 * k) / 2.0) for k in range(c)], -1)
            img = (img + 0.05 * rng.random((h, w, c))).astype(np.float32)
            unk = np.zeros((h, w), bool)
            unk[ya:yb, xa:xb] = True
            if unk.sum() <= 2000:  # the dense solve; a large hole keeps the image's values
                img = reference(img, unk).astype(np.float32)
            p_in, p_unk, p_out = (os.path.join(tmp, n) for n in ("in.f32", "unk.u8", "out.f32"))
            img.astype("<f4").tofile(p_in)
            unk.astype(np.uint8).tofile(p_unk)
            r = subprocess.run([args.dump, str(w), str(h), str(c), p_in, p_unk, p_out,
                                str(iters), repr(rho), repr(alpha), str(threads)],
                               capture_output=True, text=True)
            label = "%dx%dx%d edge-guided %d iterations, %d thread(s)" % (w, h, c, iters, threads)
            if r.returncode != 0:
                print("FAIL %s: fill-dump failed: %s" % (label, r.stderr.strip()))
                failed += 1
                continue
            got = np.fromfile(p_out, "<f4").reshape(h, w, c)
            want = edge_guided(img, unk, iters, rho, alpha)
            err = np.abs(got - want).max()
            moved = np.abs(want - img).max()
            known_same = np.array_equal(got[~unk], img[~unk])
            ok = err <= 1e-4 and known_same and moved > 1e-3
            failed += not ok
            print("%-4s %s: max |diff| %.2e (the diffusion moved values by up to %.3f)%s" % (
                "ok" if ok else "FAIL", label, err, moved, "" if known_same else ", known pixels changed"))
        cases += eg_cases
    print("%d passed, %d failed" % (len(cases) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
