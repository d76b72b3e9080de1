#!/usr/bin/python3
"""Collaborative Wiener filtering parity: gen_denoise_wiener
(core/jobs/gen-denoise-wiener.c) against numpy's computation, in float64,
of the formulas of BM3D's second step as gen-denoise-wiener.h states them.

  /usr/bin/python3 tests/wiener_parity.py --dump PATH/wiener-dump [--verbose]

Written here from the definitions, group by group: the orthonormal opponent
transform (rows (1,1,1)/sqrt3, (1,0,-1)/sqrt2, (1,-2,1)/sqrt6), 0..255
units; every reference patch (8x8, every STEP pixels and the last row and
column); the mean squared difference of the estimate's luma (mean of R, G,
B) to each patch in the (2R+1)^2 window, kept when <= tau (400 up to sigma
40, else 3500), the reference first, then by distance, ties in raster
order of the offset; the largest power of two of them up to GROUP; the 3D
transform as matrices (kron(DCT8, DCT8) on each patch, the orthonormal Haar
matrix across the group); gains |E|^2 / (|E|^2 + sigma^2); weights
1 / (sigma^2 sum gain^2) per channel (1 when that sum is 0); every patch
added back under a Kaiser window (numpy.kaiser, beta 2); the weighted mean.

Cases: RGB, gray, RGBA (alpha untouched), an image smaller than the
search window, sizes that are not multiples of the step, two search radii
and group sizes, a flat estimate (every distance 0: the groups are decided
by the offsets' raster order alone), and 1 against 3 threads
(bit-identical).  The C works in
float32, so two candidates whose distances tie within rounding may swap:
the test asks for max |C - numpy| <= 1e-4 and mean <= 1e-6 (0..1 units; seen:
under 1e-6),
and for the filter to bring the estimate closer to the clean image than
the noisy one is (it denoises).
Exit 0 passed, 1 failed, 77 (skip) without numpy.
"""

import argparse
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    sys.exit(77)

N = 8
OPP = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], float) / np.array(
    [[math.sqrt(3)], [math.sqrt(2)], [math.sqrt(6)]])


def dct_matrix(n):
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2.0 / n)
    m[0] *= math.sqrt(0.5)
    return m


def haar_matrix(n):
    if n == 1:
        return np.ones((1, 1))
    coarse = np.kron(haar_matrix(n // 2), [1.0, 1.0]) / math.sqrt(2)
    detail = np.kron(np.eye(n // 2), [1.0, -1.0]) / math.sqrt(2)
    return np.vstack([coarse, detail])


def grid(length, step):
    r = list(range(0, length - N + 1, step))
    if r[-1] != length - N:
        r.append(length - N)
    return r


def noise_variance(z, p, nc, sigma, t2):
    """([nc][64] the noise's variance per channel and frequency, [nc] kept):
    the mean square of the 2D spectra of z - p over the non-overlapping
    patches from (0, 0), scaled to mean sigma^2; a channel is kept (the
    estimate stands there) when its four highest frequencies (both indices 6
    or 7) hold under 0.1 of that mean."""
    h, w = z.shape[:2]
    r = (z - p)[:h // N * N, :w // N * N]
    blocks = r.reshape(h // N, N, w // N, N, nc).transpose(0, 2, 4, 1, 3).reshape(-1, nc, N * N)
    power = ((blocks @ t2.T) ** 2).mean(0)
    mean = power.mean()
    if mean <= 0:
        return np.full((nc, N * N), sigma ** 2), np.zeros(nc, bool)
    high = power.reshape(nc, N, N)[:, N - 2:, N - 2:].mean((1, 2))
    return sigma ** 2 * power / mean, high < 0.1 * mean


def reference(noisy, est, sigma, search, step, group, spectrum, beta=2.0):
    h, w, c = noisy.shape
    nc = 3 if c >= 3 else 1
    if nc == 3:
        z = 255.0 * noisy[..., :3] @ OPP.T
        p = 255.0 * est[..., :3] @ OPP.T
        lum = 255.0 * est[..., :3].mean(-1)
    else:
        z = 255.0 * noisy[..., :1]
        p = 255.0 * est[..., :1]
        lum = p[..., 0]
    tau = 400.0 if sigma <= 40 else 3500.0
    offs = [(0, 0)] + [(dy, dx) for dy in range(-search, search + 1)
                       for dx in range(-search, search + 1) if dy or dx]
    t2 = np.kron(dct_matrix(N), dct_matrix(N))
    kw = np.kaiser(N, beta)
    kwin = np.outer(kw, kw)
    var, keep = (noise_variance(z, p, nc, sigma, t2) if spectrum
                 else (np.full((nc, N * N), sigma ** 2), np.zeros(nc, bool)))
    if keep.all():
        return est.copy()
    num = np.zeros((h, w, nc))
    den = np.zeros((h, w, nc))
    for y in grid(h, step):
        for x in grid(w, step):
            ref = lum[y:y + N, x:x + N]
            cands = []
            for o, (dy, dx) in enumerate(offs):
                cy, cx = y + dy, x + dx
                if not (0 <= cy <= h - N and 0 <= cx <= w - N):
                    continue
                d = np.mean((ref - lum[cy:cy + N, cx:cx + N]) ** 2)
                if d <= tau:
                    cands.append((d, o, cy, cx))
            cands.sort(key=lambda t: (t[0], t[1]))
            n = min(len(cands), group)
            g = 1
            while 2 * g <= n:
                g *= 2
            members = cands[:g]
            hm = haar_matrix(g)
            gz = np.stack([z[cy:cy + N, cx:cx + N].reshape(-1, nc).T @ t2.T for _, _, cy, cx in members])
            gp = np.stack([p[cy:cy + N, cx:cx + N].reshape(-1, nc).T @ t2.T for _, _, cy, cx in members])
            sz = np.einsum('kg,gcf->kcf', hm, gz)
            sp = np.einsum('kg,gcf->kcf', hm, gp)
            gain = sp ** 2 / (sp ** 2 + var)
            back = np.einsum('kg,kcf->gcf', hm, gain * sz) @ t2     # [g][c][64] pixels
            s = (gain ** 2 * var).sum(axis=(0, 2))
            wgt = np.where(s > 0, 1.0 / np.where(s > 0, s, 1.0), 1.0)
            for k, (_, _, cy, cx) in enumerate(members):
                patch = back[k].T.reshape(N, N, nc)
                num[cy:cy + N, cx:cx + N] += kwin[..., None] * wgt * patch
                den[cy:cy + N, cx:cx + N] += kwin[..., None] * wgt
    o = num / den
    o[..., keep] = p[..., keep]
    out = est.copy()
    if nc == 3:
        out[..., :3] = np.clip((o @ OPP) / 255.0, 0.0, 1.0)
    else:
        out[..., 0] = np.clip(o[..., 0] / 255.0, 0.0, 1.0)
    return out


def scene(h, w, rng):
    """A clean image with repeated structure (what the step uses): stripes,
    a few flat blocks and a smooth ramp, in 0..1."""
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    img = np.stack([0.5 + 0.3 * np.sin(xx * 0.9 + c) * np.cos(yy * 0.35) for c in range(3)], -1)
    img[h // 3:h // 3 + 6, w // 4:w // 4 + 9] = [0.9, 0.2, 0.1]
    img += 0.2 * (yy / h)[..., None]
    img += 0.02 * rng.standard_normal(img.shape)
    return np.clip(img, 0.0, 1.0)


def run_c(dump, noisy, est, sigma, search, step, group, spectrum, threads, tmp):
    h, w, c = noisy.shape
    paths = [os.path.join(tmp, n) for n in ("noisy.f32", "est.f32", "out.f32")]
    noisy.astype("<f4").tofile(paths[0])
    est.astype("<f4").tofile(paths[1])
    subprocess.run([dump, str(w), str(h), str(c), repr(sigma), *paths, str(search), str(step),
                    str(group), str(int(spectrum)), str(threads)], check=True)
    return np.fromfile(paths[2], "<f4").reshape(h, w, c).astype(np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(7)
    cases = [  # h, w, channels, sigma, search, step, group, spectrum, noise
        (37, 41, 3, 25.0, 6, 3, 32, False, "white"),
        (37, 41, 3, 25.0, 6, 3, 32, True, "white"),
        (29, 34, 1, 15.0, 5, 3, 16, True, "white"),
        (26, 23, 4, 50.0, 7, 2, 8, False, "white"),
        (12, 9, 3, 25.0, 19, 3, 32, True, "white"),    # smaller than the search window
        (130, 70, 3, 25.0, 6, 3, 32, True, "white"),   # three stripes of tiles: 1 and 3 threads
        (40, 48, 3, 20.0, 6, 3, 32, True, "chroma"),   # coloured: low-pass chroma noise
        (40, 48, 3, 20.0, 6, 3, 32, True, "smooth"),   # starved of high frequencies: unchanged
        (40, 48, 3, 20.0, 6, 3, 32, True, "luma"),     # white luma, starved chroma: chroma kept
        (40, 48, 3, 20.0, 6, 3, 16, False, "flat"),    # a flat estimate: distances tie at 0
    ]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for h, w, c, sigma, search, step, group, spectrum, kind in cases:
            clean = scene(h, w, rng)
            if c == 1:
                clean = clean.mean(-1, keepdims=True)
            elif c == 4:
                clean = np.concatenate([clean, np.ones((h, w, 1))], -1)
            noise = sigma / 255.0 * rng.standard_normal(clean.shape)
            if kind == "chroma":     # the same low-passed noise on R and B, white on G
                lp = (noise + np.roll(noise, 1, 0) + np.roll(noise, 1, 1) + np.roll(noise, (1, 1), (0, 1))) / 2
                noise[..., 0] = noise[..., 2] = lp[..., 0]
            elif kind == "smooth":   # every channel low-passed three times over
                for axis in (0, 1, 0, 1, 0, 1):
                    noise = (noise + np.roll(noise, 1, axis)) / math.sqrt(2)
            elif kind == "luma":     # white on the luma, low-passed twice over on the chroma
                smooth = noise.copy()
                for axis in (0, 1, 0, 1):
                    smooth = (smooth + np.roll(smooth, 1, axis)) / math.sqrt(2)
                noise = (noise @ OPP.T)[..., :1] * OPP[0] + (smooth @ OPP.T)[..., 1:] @ OPP[1:]
            noisy = np.clip(np.round((clean + noise) * 255) / 255.0, 0, 1)
            # a first estimate: the noisy image pulled halfway to the clean one, blurred a little
            est = 0.5 * (noisy + clean)
            est = (est + np.roll(est, 1, 0) + np.roll(est, 1, 1)) / 3.0
            if kind == "flat":       # ties decided by the offsets' raster order alone
                est[...] = 0.375
            if c == 4:
                noisy[..., 3] = rng.random((h, w))
                est[..., 3] = rng.random((h, w))
            want = reference(noisy, est, sigma, search, step, group, spectrum)
            got = run_c(args.dump, noisy, est, sigma, search, step, group, spectrum, 1, tmp)
            got3 = run_c(args.dump, noisy, est, sigma, search, step, group, spectrum, 3, tmp)
            kept = np.array_equal(got, est.astype("<f4").astype(np.float64))
            err = np.abs(got - want)
            cc = 3 if c >= 3 else 1
            mse = lambda a: float(np.mean((a[..., :cc] - clean[..., :cc]) ** 2))
            # the chroma kept: the output's equals the estimate's, where nothing was clipped
            chroma = (np.abs((got - est)[..., :3] @ OPP[1:].T)[(got[..., :3] > 0).all(-1)
                                                                & (got[..., :3] < 1).all(-1)].max()
                      if kind == "luma" else 0.0)
            ok = (err.max() <= 1e-4 and err.mean() <= 1e-6 and np.array_equal(got, got3)
                  and chroma <= 1e-5
                  and (c != 4 or np.array_equal(got[..., 3], est[..., 3].astype("<f4")))
                  and (kept if kind == "smooth" else not kept if kind == "flat"
                       else (mse(got) < mse(est) and not kept)))
            if args.verbose or not ok:
                print("%dx%dx%d sigma %g R %d step %d group %d, %s noise%s: max %.2e mean %.2e, "
                      "3 threads %s, mse noisy %.5f est %.5f out %.5f%s"
                      % (w, h, c, sigma, search, step, group, kind,
                         " (spectrum)" if spectrum else "", err.max(), err.mean(),
                         "same" if np.array_equal(got, got3) else "DIFFERENT", mse(noisy), mse(est),
                         mse(got), "" if ok else "  FAILED"))
            failed += not ok
    # a parameter out of range is refused with a message
    with tempfile.TemporaryDirectory() as tmp:
        z = np.zeros((16, 16, 3))
        z.astype("<f4").tofile(os.path.join(tmp, "a"))
        z.astype("<f4").tofile(os.path.join(tmp, "b"))
        r = subprocess.run([args.dump, "16", "16", "3", "25", *[os.path.join(tmp, n) for n in ("a", "b", "c")],
                            "4", "3", "12", "0"], capture_output=True, text=True)
        if r.returncode != 1 or "power of two" not in r.stderr:
            print("a group size of 12 was not refused: rc %d, %r" % (r.returncode, r.stderr))
            failed += 1
    print("wiener parity: %s" % ("passed" if not failed else "%d failed" % failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
