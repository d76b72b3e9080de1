#!/usr/bin/python3
"""Camera-like noise beside plain Gaussian noise, for training and evaluation.

Real photographs carry noise that white Gaussian noise does not describe:

- shot noise: a sensor counts photons, so the variance grows with the signal;
  with the read noise it is the Poisson-Gaussian model var(x) = a*x + b
  (Foi et al. 2008, "Practical Poissonian-Gaussian noise modeling and fitting
  for single-image raw-data", eq. 1), here in its Gaussian approximation;
- demosaicing: the sensor measures one colour per pixel (Bayer RGGB) and the
  two missing ones are interpolated from neighbours, so the noise of a
  developed image is correlated between neighbouring pixels and channels;
- JPEG: the camera or an editor compresses the noisy image, which removes part
  of the noise and shapes the rest into 8x8 block patterns.

Every function works in 0..255 units on float tensors [B, 3, H, W] (clean
images) and returns the noise N (noisy = clean + N, before the 8-bit rounding
the evaluation protocol applies).  The "effective sigma" of a noise is its
root-mean-square over the image: that is the sigma the model and the C core
use to pick a timestep, for any kind.  Gaussian, Poisson-Gaussian and
demosaiced noise are scaled so that their expected RMS is exactly the sigma
asked for; JPEG noise is measured after the compression (its RMS is what it is).

  /usr/bin/python3 weights/camera_noise.py --preview out.png   # a contact sheet of the kinds
"""

import io
import math

import numpy as np
import torch
import torch.nn.functional as F

KINDS = ("gaussian", "poisson_gaussian", "demosaic", "jpeg")

# The three camera-like levels of the evaluation: var = a*x + b in 0..255 units
# (x the clean value), from a clean low-ISO shot to a dim high-ISO one.  At mid
# grey (x = 128) they give sigma 8.0, 15.9 and 24.5.
PG_LEVELS = {"pg-low": (0.4, 12.0), "pg-mid": (1.6, 48.0), "pg-high": (4.0, 88.0)}

# Bilinear demosaicing of one channel from its samples (zero elsewhere):
# green from the 4 neighbours, red and blue from 2 or 4.
_K_GREEN = torch.tensor([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=torch.float32) / 4
_K_RB = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=torch.float32) / 4


def bayer_masks(h, w, phase=(0, 0)):
    """[3, H, W] 0/1 masks of an RGGB mosaic: which channel each pixel measures.
    PHASE (py, px): the parities of the rows and columns of the red sites."""
    py, px = phase
    m = torch.zeros(3, h, w)
    m[0, py::2, px::2] = 1
    m[1, py::2, 1 - px::2] = 1
    m[1, 1 - py::2, px::2] = 1
    m[2, 1 - py::2, 1 - px::2] = 1
    return m


def _demosaic(planes):
    """Bilinear demosaicing of [B, 3, H, W] mosaicked planes (zero off-mosaic)."""
    out = []
    for c, k in enumerate((_K_RB, _K_GREEN, _K_RB)):
        p = F.pad(planes[:, c:c + 1], (1, 1, 1, 1), mode="reflect")
        out.append(F.conv2d(p, k.view(1, 1, 3, 3)))
    return torch.cat(out, 1)


def pg_variance(clean, a, b):
    """Per-pixel variance a*x + b (0..255 units), x clamped to >= 0. A and B are
    scalars or [B] tensors."""
    a = torch.as_tensor(a, dtype=clean.dtype).reshape(-1, 1, 1, 1)
    b = torch.as_tensor(b, dtype=clean.dtype).reshape(-1, 1, 1, 1)
    return a * clean.clamp(min=0) + b


def pg_for_sigma(clean, sigma, shot_frac):
    """(a, b) [B] of a Poisson-Gaussian noise whose mean variance over each image
    is sigma^2, SHOT_FRAC of it signal-dependent."""
    sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1)
    f = torch.as_tensor(shot_frac, dtype=torch.float64).reshape(-1)
    mean = clean.double().mean(dim=(1, 2, 3)).clamp(min=8.0)
    s2 = sigma * sigma
    return (f * s2 / mean).float(), ((1 - f) * s2).float()


def poisson_gaussian(clean, a, b, gen):
    """Signal-dependent noise: N(0, a*x + b) per pixel and channel."""
    z = torch.randn(clean.shape, generator=gen)
    return pg_variance(clean, a, b).sqrt() * z


def demosaiced(clean, a, b, gen, phase=(0, 0)):
    """Poisson-Gaussian noise measured on an RGGB mosaic (its red sites at
    PHASE's row and column parities) and demosaiced bilinearly, rescaled so
    that its expected mean variance equals that of the undemosaiced noise
    (demosaicing averages, which lowers it)."""
    _, _, h, w = clean.shape
    m = bayer_masks(h, w, phase)[None]
    var = pg_variance(clean, a, b)
    n = _demosaic(m * var.sqrt() * torch.randn(clean.shape, generator=gen))
    # expected variance after demosaicing: the kernels' squares over the mosaic's variances
    ev = []
    for c, k in enumerate((_K_RB, _K_GREEN, _K_RB)):
        p = F.pad((m * var)[:, c:c + 1], (1, 1, 1, 1), mode="reflect")
        ev.append(F.conv2d(p, (k * k).view(1, 1, 3, 3)))
    ev = torch.cat(ev, 1)
    scale = (var.mean(dim=(1, 2, 3)) / ev.mean(dim=(1, 2, 3)).clamp(min=1e-12)).sqrt()
    return n * scale.view(-1, 1, 1, 1)


def jpeg_roundtrip(img8, quality):
    """[3, H, W] uint8-valued float tensor through PIL's JPEG (4:2:0, as cameras
    and GIMP's default export write) at QUALITY; returns a float tensor."""
    from PIL import Image
    arr = img8.permute(1, 2, 0).clamp(0, 255).round().to(torch.uint8).numpy()
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, "JPEG", quality=int(quality))
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).float()


def jpeg_noise(clean, noise, quality):
    """The noise left after rounding CLEAN + NOISE to 8 bits and compressing it:
    jpeg(clip(round(clean + noise))) - clean.  QUALITY: an int or one per image."""
    q = np.broadcast_to(np.asarray(quality), (clean.shape[0],))
    out = torch.empty_like(clean)
    for i in range(clean.shape[0]):
        out[i] = jpeg_roundtrip((clean[i] + noise[i]).round().clamp(0, 255), q[i]) - clean[i]
    return out


def rms(noise):
    """[B] effective sigma: the root-mean-square of each image's noise."""
    return noise.double().pow(2).mean(dim=(1, 2, 3)).sqrt().float()


def mixed(clean, sigma, kinds, gen, rng, shot_frac=(0.3, 0.95), jpeg_quality=(70, 95),
          jpeg_white=0.0):
    """Noise of kind KINDS[i] (indices into KINDS) for each image of CLEAN
    [B, 3, H, W] (0..255) at effective sigma SIGMA[i].  Returns (noise, the
    effective sigma of each image: SIGMA, except for JPEG, measured).  GEN (a
    torch.Generator) draws the noise, RNG (numpy) the per-image parameters.
    JPEG compresses demosaiced noise (a camera's JPEG) or, for a share
    JPEG_WHITE of its images, white Gaussian noise (a noisy image saved as
    JPEG); with 0 nothing more is drawn, so the draws are those of before."""
    bsz = clean.shape[0]
    sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1)
    kinds = np.asarray(kinds)
    f = rng.uniform(shot_frac[0], shot_frac[1], bsz)
    q = rng.integers(jpeg_quality[0], jpeg_quality[1] + 1, bsz)
    white = rng.random(bsz) < jpeg_white if jpeg_white > 0 else np.zeros(bsz, dtype=bool)
    a, b = pg_for_sigma(clean, sigma, f)
    gauss = torch.randn(clean.shape, generator=gen) * sigma.view(-1, 1, 1, 1)
    pg = poisson_gaussian(clean, a, b, gen)
    dm = demosaiced(clean, a, b, gen)
    out = gauss.clone()
    eff = sigma.clone()
    for i in range(bsz):
        k = KINDS[int(kinds[i])]
        if k == "poisson_gaussian":
            out[i] = pg[i]
        elif k == "demosaic":
            out[i] = dm[i]
        elif k == "jpeg":
            # a demosaiced camera image (or a white-noise one), then compressed;
            # its RMS defines its sigma
            src = gauss if white[i] else dm
            out[i] = jpeg_noise(clean[i:i + 1], src[i:i + 1], q[i])[0]
            eff[i] = rms(out[i:i + 1])[0]
    return out, eff


def eval_phase(index):
    """The evaluation's Bayer phase for image INDEX: (row, column) parities of
    the red sites, (INDEX mod 4)-th of the four, so that every phase is measured
    (a photo's mosaic can start on any of its sites)."""
    return (index % 4) >> 1, index % 2


def eval_noisy(clean, kind, level, seed, index):
    """The evaluation protocol's noisy image for KIND at LEVEL: clean [H, W, 3]
    float64 0..255 (numpy) -> noisy uint8-valued float64 [H, W, 3] and the
    effective sigma (RMS of noisy - clean).  KIND: "gaussian" (LEVEL = sigma),
    "pg" (LEVEL a key of PG_LEVELS), "demosaic" (PG_LEVELS key; the mosaic's
    phase eval_phase(INDEX)), "jpeg" (LEVEL =
    quality; Gaussian sigma 15 then JPEG).  Seeded by (seed, kind, level, index)."""
    tag = sum(ord(c) * 31 ** i for i, c in enumerate("%s/%s" % (kind, level))) % (2 ** 31)
    gen = torch.Generator().manual_seed(int(np.random.default_rng([seed, tag, index]).integers(2 ** 62)))
    x = torch.from_numpy(clean).float().permute(2, 0, 1)[None]
    if kind == "gaussian":
        n = torch.randn(x.shape, generator=gen) * float(level)
    elif kind == "pg":
        n = poisson_gaussian(x, *PG_LEVELS[level], gen)
    elif kind == "demosaic":
        n = demosaiced(x, *PG_LEVELS[level], gen, phase=eval_phase(index))
    elif kind == "jpeg":
        n = jpeg_noise(x, torch.randn(x.shape, generator=gen) * 15.0, int(level))
    else:
        raise ValueError("unknown noise kind %r" % kind)
    noisy = (x + n).round().clamp(0, 255)[0].permute(1, 2, 0).double().numpy()
    return noisy, float(np.sqrt(np.mean((noisy - clean) ** 2)))


def _preview(path):
    import dead_leaves
    from PIL import Image
    g = dead_leaves.DeadLeaves(128)
    clean = g.batch(2, (0, 5)) * 255
    rows = []
    for i in range(2):
        c = clean[i].permute(1, 2, 0).double().numpy()
        tiles = [c]
        for kind, level in (("gaussian", 25), ("pg", "pg-high"), ("demosaic", "pg-high"), ("jpeg", 90)):
            tiles.append(eval_noisy(c, kind, level, 0, i)[0])
        rows.append(np.concatenate(tiles, 1))
    Image.fromarray(np.concatenate(rows, 0).clip(0, 255).astype(np.uint8)).save(path)


if __name__ == "__main__":
    import argparse
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preview", required=True, help="write a contact sheet: clean, Gaussian 25, "
                    "PG high, demosaiced PG high, JPEG 90 of sigma 15")
    _preview(ap.parse_args().preview)
    print("levels at mid grey: " + ", ".join("%s sigma %.1f" % (k, math.sqrt(a * 128 + b))
                                           for k, (a, b) in PG_LEVELS.items()))
