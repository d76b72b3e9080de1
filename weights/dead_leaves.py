#!/usr/bin/python3
"""Synthetic training images: an extended "dead leaves" model.

The classical dead leaves model (Matheron; Lee, Mumford & Huang 2001) drops
occluding shapes with radii from a power law p(r) ~ r^-3 between rmin and
rmax until the canvas is covered; it is scale invariant and has the edge and
occlusion statistics of natural images.  This generator adds what later work
found brings it closer to natural images for training denoisers
(Achddou et al. 2021-2023, "vibrant leaves"; Madhusudana et al.; Baradad et
al. 2021, "Learning to see by looking at noise"):
  * shapes: disks/ellipses, rotated rectangles and (near-)convex polygons;
  * textured shapes: two-colour 1/f^a noise, sinusoid / stripe patterns,
    two-colour linear gradients, as well as flat colours;
  * depth of field: a blurred background layer behind the first shapes, and
    sometimes a blurred foreground layer in front of them;
  * random smooth warps of the whole canvas;
  * random down-scaling: every image is drawn larger (factor d) and reduced
    with an antialiased filter, which turns hard pixel edges into realistic
    ones and spreads the radii over scales;
  * a synthetic colour model (nothing sampled from photographs): HSV with a
    per-image dominant hue, saturation skewed low (Beta(1, 3)) and
    occasional saturated shapes; a slow illumination gradient.

Shapes are painted front to back: a pixel takes the colour of the first shape
that covers it (the equivalent of painting back to front until covered); the
pixels no shape reaches after `coverage` canvas areas of shapes take a
textured background leaf.

Everything is deterministic given a seed (numpy PCG64 for the parameters,
torch CPU ops for the pixels).  Rendering is vectorised: shapes are grouped by
size into buckets whose windows are tested all at once, and the first-hit
label is a scatter-min.

  /usr/bin/python3 weights/dead_leaves.py --preview sheet.png [--size 128] [--seed 0]
  /usr/bin/python3 weights/dead_leaves.py --bench [--size 64]
"""

import argparse
import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F

# The generator settings, recorded with every training run (train.py dumps them).
DEFAULTS = {
    "rmin": 2.5,              # smallest radius, in drawing pixels (before down-scaling)
    "rmax_frac": 1.0,         # largest radius as a fraction of the drawing size
    "coverage": 5.0,          # shapes drawn until their summed area is this many canvases
    "max_shapes": 4000,
    "downscale": [1.0, 3.0],  # drawing size = size * d, d log-uniform in this range
    "p_kind": [0.45, 0.25, 0.30],           # ellipse/disk, rectangle, polygon
    "p_texture": [0.30, 0.35, 0.15, 0.20],  # flat, 1/f noise, stripes, gradient
    "noise_alpha": [0.8, 2.0],  # amplitude spectrum 1/f^a of the noise textures
    "n_noise_fields": 3,
    "p_saturated": 0.12,      # shapes with a saturated colour
    "p_palette": 0.6,         # images with a dominant hue
    "p_dof": 0.3,             # depth of field (blurred background)
    "p_foreground_blur": 0.5,  # ... and, given that, a blurred foreground too
    "dof_sigma": [1.0, 6.0],  # background blur, in drawing pixels
    "p_warp": 0.3,
    "warp_amp": [0.01, 0.05],  # warp displacement, fraction of the drawing size
    "p_illumination": 0.4,
}

warnings.filterwarnings("ignore", message="scatter_reduce")

KIND_ELLIPSE, KIND_RECT, KIND_POLY = 0, 1, 2
TEX_FLAT, TEX_NOISE, TEX_STRIPES, TEX_GRADIENT = 0, 1, 2, 3
POLY_MAX = 7


def hsv_to_rgb(h, s, v):
    """Vectorised HSV -> RGB; arrays of the same shape in [0, 1] -> [..., 3]."""
    h = (h % 1.0) * 6.0
    i = np.floor(h).astype(np.int64) % 6
    f = h - np.floor(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = np.stack([np.stack(c, -1) for c in
                      ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))], 0)
    return np.take_along_axis(table, i[None, ..., None].repeat(3, -1), 0)[0]


def power_law_radii(rng, n, rmin, rmax):
    """Inverse CDF of p(r) ~ r^-3 on [rmin, rmax]."""
    u = rng.random(n)
    return (rmin ** -2 - u * (rmin ** -2 - rmax ** -2)) ** -0.5


class DeadLeaves:
    """Draws SIZE x SIZE RGB images in [0, 1] as float32 tensors [3, SIZE, SIZE]."""

    def __init__(self, size=64, settings=None):
        self.size = int(size)
        self.s = dict(DEFAULTS)
        if settings:
            unknown = set(settings) - set(DEFAULTS)
            if unknown:
                raise ValueError("unknown dead-leaves settings: %s" % sorted(unknown))
            self.s.update(settings)

    # ------------------------------------------------------------ parameters
    def _colours(self, rng, n, palette_hue):
        s = self.s
        if palette_hue is not None:
            hue = palette_hue + rng.normal(0, 0.07, n)
            wild = rng.random(n) < 0.2
            hue[wild] = rng.random(wild.sum())
        else:
            hue = rng.random(n)
        sat = rng.beta(1.0, 3.0, n)
        hot = rng.random(n) < s["p_saturated"]
        sat[hot] = rng.uniform(0.55, 1.0, hot.sum())
        val = rng.beta(1.6, 1.6, n) * 0.95 + 0.03
        c1 = hsv_to_rgb(hue, sat, val)
        # the second colour of a texture: usually a shade of the first, sometimes another colour
        hue2 = hue + rng.normal(0, 0.04, n)
        sat2 = np.clip(sat * rng.uniform(0.5, 1.5, n), 0, 1)
        val2 = np.clip(val + rng.normal(0, 0.3, n), 0.02, 1.0)
        c2 = hsv_to_rgb(hue2, sat2, val2)
        other = rng.random(n) < 0.25
        c2[other] = hsv_to_rgb(rng.random(other.sum()), rng.beta(1.0, 3.0, other.sum()),
                               rng.beta(1.6, 1.6, other.sum()))
        return c1, c2

    def _shapes(self, rng, G):
        """Front-to-back shape parameters for a G x G drawing (numpy arrays)."""
        s = self.s
        rmax = max(s["rmax_frac"] * G, s["rmin"] * 2)
        # enough shapes for `coverage` canvases, drawn in chunks until the area is reached
        r = np.empty(0)
        area = 0.0
        while area < s["coverage"] * G * G and r.size < s["max_shapes"]:
            chunk = power_law_radii(rng, 256, s["rmin"], rmax)
            r = np.concatenate([r, chunk])
            area = float(np.sum(np.pi * r * r * 0.75))
        cum = np.cumsum(np.pi * r * r * 0.75)
        n = min(int(np.searchsorted(cum, s["coverage"] * G * G)) + 1, r.size, s["max_shapes"])
        r = r[:n]
        sh = {"r": r, "cx": rng.uniform(0, G, n), "cy": rng.uniform(0, G, n),
              "kind": rng.choice(3, n, p=s["p_kind"]),
              "theta": rng.uniform(0, np.pi, n), "aspect": rng.uniform(0.35, 1.0, n)}
        disk = rng.random(n) < 0.5
        sh["aspect"][disk & (sh["kind"] == KIND_ELLIPSE)] = 1.0
        # polygons: K vertices near evenly spaced angles, radius r * [0.75, 1]
        k = rng.integers(3, POLY_MAX + 1, n)
        base = np.arange(POLY_MAX)[None, :] * (2 * np.pi / k[:, None])
        ang = base + rng.uniform(-0.3, 0.3, (n, POLY_MAX)) * (np.pi / k[:, None])
        rad = r[:, None] * rng.uniform(0.75, 1.0, (n, POLY_MAX))
        vx, vy = rad * np.cos(ang), rad * np.sin(ang)
        last = (k - 1)[:, None]
        pad = np.arange(POLY_MAX)[None, :] > last      # repeat the last vertex: empty edges
        vx = np.where(pad, np.take_along_axis(vx, last, 1), vx)
        vy = np.where(pad, np.take_along_axis(vy, last, 1), vy)
        sh["vx"], sh["vy"] = vx, vy
        return sh

    # ------------------------------------------------------------ rendering
    @staticmethod
    def _labels(sh, idx, G):
        """First-hit label map [G*G] (int64) of the shapes IDX (ascending =
        front to back); pixels no shape covers get len(sh['r'])."""
        n_all = sh["r"].size
        lab = torch.full((G * G,), n_all, dtype=torch.int64)
        if idx.size == 0:
            return lab
        r = sh["r"][idx]
        hb_all = 2 ** np.ceil(np.log2(np.ceil(r) + 1)).astype(np.int64)
        for hb in np.unique(hb_all):
            sel = idx[hb_all == hb]
            W = int(min(2 * hb, G))
            cx = torch.from_numpy(sh["cx"][sel]).float()
            cy = torch.from_numpy(sh["cy"][sel]).float()
            x0 = (torch.floor(cx) - hb).clamp(0, G - W).long()
            y0 = (torch.floor(cy) - hb).clamp(0, G - W).long()
            off = torch.arange(W)
            px = x0[:, None, None] + off[None, None, :]      # [n, 1, W]
            py = y0[:, None, None] + off[None, :, None]      # [n, W, 1]
            X = px.float() + 0.5 - cx[:, None, None]
            Y = py.float() + 0.5 - cy[:, None, None]
            th = torch.from_numpy(sh["theta"][sel]).float()[:, None, None]
            c, s_ = torch.cos(th), torch.sin(th)
            u = X * c + Y * s_                               # [n, W, W]
            v = -X * s_ + Y * c
            a = torch.from_numpy(sh["r"][sel]).float()[:, None, None]
            b = a * torch.from_numpy(sh["aspect"][sel]).float()[:, None, None]
            kind = torch.from_numpy(sh["kind"][sel])[:, None, None]
            inside = torch.where(kind == KIND_ELLIPSE, (u / a) ** 2 + (v / b) ** 2 <= 1.0,
                                 (u.abs() <= a) & (v.abs() <= b))
            poly = (sh["kind"][sel] == KIND_POLY)
            if poly.any():
                pi = np.nonzero(poly)[0]
                vx = torch.from_numpy(sh["vx"][sel][pi]).float()[:, None, None, :]
                vy = torch.from_numpy(sh["vy"][sel][pi]).float()[:, None, None, :]
                ex = torch.roll(vx, -1, -1) - vx
                ey = torch.roll(vy, -1, -1) - vy
                up, vp = u[pi][..., None], v[pi][..., None]
                cross = ex * (vp - vy) - ey * (up - vx)
                inside[pi] = (cross >= 0).all(-1)
            flat = (py * G + px).expand(-1, W, W)
            ids = torch.from_numpy(sel).long()[:, None, None].expand(-1, W, W)
            lab.scatter_reduce_(0, flat[inside], ids[inside], reduce="amin", include_self=True)
        return lab

    def _noise_fields(self, rng, G):
        s = self.s
        k = s["n_noise_fields"]
        fy = np.fft.fftfreq(G)[:, None]
        fx = np.fft.rfftfreq(G)[None, :]
        f = np.sqrt(fx * fx + fy * fy)
        f[0, 0] = 1.0 / G
        out = np.empty((k, G, G), np.float32)
        for i in range(k):
            a = rng.uniform(*s["noise_alpha"])
            spec = (rng.normal(size=f.shape) + 1j * rng.normal(size=f.shape)) / f ** a
            spec[0, 0] = 0
            z = np.fft.irfft2(spec, s=(G, G))
            z = (z - z.mean()) / (z.std() + 1e-12)
            out[i] = 0.5 + 0.5 * np.tanh(rng.uniform(0.5, 1.2) * z)
        return torch.from_numpy(out)

    def _colour(self, rng, sh, lab, G, fields, palette_hue):
        """Per-shape textures evaluated at every pixel: [3, G, G]."""
        s = self.s
        n = sh["r"].size + 1          # the last entry is the background leaf
        c1, c2 = self._colours(rng, n, palette_hue)
        tex = rng.choice(4, n, p=s["p_texture"])
        tex[-1] = rng.choice([TEX_NOISE, TEX_GRADIENT])
        ang = rng.uniform(0, 2 * np.pi, n)
        # stripes: period 3 px .. 1.5 radius (drawing pixels), sharpened sinusoids
        r_ext = np.concatenate([sh["r"], [G]])
        period = np.exp(rng.uniform(np.log(3.0), np.log(np.maximum(3.5, 1.5 * r_ext))))
        phase = rng.uniform(0, 2 * np.pi, n)
        sharp = np.exp(rng.uniform(0, np.log(8.0), n))
        field = rng.integers(0, fields.shape[0], n)
        ox, oy = rng.integers(0, G, n), rng.integers(0, G, n)
        cx = np.concatenate([sh["cx"], [G / 2]])
        cy = np.concatenate([sh["cy"], [G / 2]])

        T = lambda a, dt=torch.float32: torch.from_numpy(np.ascontiguousarray(a)).to(dt)[lab]
        yy, xx = torch.meshgrid(torch.arange(G, dtype=torch.float32) + 0.5,
                                torch.arange(G, dtype=torch.float32) + 0.5, indexing="ij")
        x, y = xx.reshape(-1), yy.reshape(-1)
        ca, sa = T(np.cos(ang)), T(np.sin(ang))
        proj = x * ca + y * sa
        t = torch.zeros(G * G)
        tx = T(tex, torch.int64)
        # noise
        m = tx == TEX_NOISE
        if m.any():
            fi, fx_, fy_ = T(field, torch.int64)[m], T(ox, torch.int64)[m], T(oy, torch.int64)[m]
            xi = (x[m].long() + fx_) % G
            yi = (y[m].long() + fy_) % G
            t[m] = fields.reshape(-1)[fi * G * G + yi * G + xi]
        m = tx == TEX_STRIPES
        if m.any():
            k = T(sharp)[m]
            w = torch.sin(2 * np.pi * proj[m] / T(period)[m] + T(phase)[m])
            t[m] = 0.5 + 0.5 * torch.tanh(k * w) / torch.tanh(k)
        m = tx == TEX_GRADIENT
        if m.any():
            rel = (x[m] - T(cx)[m]) * ca[m] + (y[m] - T(cy)[m]) * sa[m]
            t[m] = (0.5 + rel / (2 * T(r_ext)[m])).clamp(0, 1)
        c1t = torch.from_numpy(c1.astype(np.float32))[lab]        # [G*G, 3]
        c2t = torch.from_numpy(c2.astype(np.float32))[lab]
        img = c1t + (c2t - c1t) * t[:, None]
        return img.t().reshape(3, G, G)

    @staticmethod
    def _blur(x, sigma):
        """Separable Gaussian blur of [C, H, W], reflect padding."""
        if sigma <= 0.3:
            return x
        rad = int(math.ceil(3 * sigma))
        rad = min(rad, x.shape[-1] - 1, x.shape[-2] - 1)
        g = torch.exp(-0.5 * (torch.arange(-rad, rad + 1, dtype=torch.float32) / sigma) ** 2)
        g = g / g.sum()
        c = x.shape[0]
        y = F.pad(x[None], (rad, rad, rad, rad), mode="reflect")
        y = F.conv2d(y, g.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        y = F.conv2d(y, g.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
        return y[0]

    def _smooth_field(self, rng, G, grid, amp):
        z = torch.from_numpy(rng.normal(size=(1, 2, grid, grid)).astype(np.float32)) * amp
        return F.interpolate(z, size=(G, G), mode="bicubic", align_corners=True)[0]

    # ------------------------------------------------------------ one image
    def sample(self, rng):
        """One image [3, size, size] in [0, 1] from the numpy Generator RNG."""
        s, S = self.s, self.size
        lo, hi = s["downscale"]
        d = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        G = max(S, int(round(S * d)))
        sh = self._shapes(rng, G)
        n = sh["r"].size
        palette_hue = rng.random() if rng.random() < s["p_palette"] else None
        fields = self._noise_fields(rng, G)
        lab = self._labels(sh, np.arange(n), G)
        img = self._colour(rng, sh, lab, G, fields, palette_hue)

        if rng.random() < s["p_dof"]:
            area = np.cumsum(np.pi * sh["r"] ** 2 * 0.75) / (G * G)
            kb = int(np.searchsorted(area, rng.uniform(0.3, 1.2))) + 1
            lab_bg = self._labels(sh, np.arange(kb, n), G)
            bg = self._colour(rng, sh, lab_bg, G, fields, palette_hue)
            bg = self._blur(bg, rng.uniform(*s["dof_sigma"]))
            front = (lab < kb).float().reshape(1, G, G)
            out = front * img + (1 - front) * bg
            if rng.random() < s["p_foreground_blur"] and kb > 1:
                kf = int(np.searchsorted(area, rng.uniform(0.03, 0.25))) + 1
                kf = min(kf, kb - 1)
                m = (lab < kf).float().reshape(1, G, G)
                sig = rng.uniform(*s["dof_sigma"])
                alpha = self._blur(m, sig)
                col = self._blur(img * m, sig) / alpha.clamp_min(1e-3)
                out = alpha * col + (1 - alpha) * out
            img = out

        if rng.random() < s["p_illumination"]:
            shade = 1.0 + self._smooth_field(rng, G, 3, rng.uniform(0.1, 0.35))[:1]
            img = img * shade.clamp(0.3, 1.7)

        if rng.random() < s["p_warp"]:
            disp = self._smooth_field(rng, G, int(rng.integers(3, 7)),
                                      2 * rng.uniform(*s["warp_amp"]))
            lin = torch.linspace(-1 + 1.0 / G, 1 - 1.0 / G, G)
            gy, gx = torch.meshgrid(lin, lin, indexing="ij")
            grid = torch.stack([gx + disp[0], gy + disp[1]], -1)[None]
            img = F.grid_sample(img[None], grid, mode="bilinear", padding_mode="reflection",
                                align_corners=False)[0]

        if G != S:
            img = F.interpolate(img[None], size=(S, S), mode="bilinear", antialias=True,
                                align_corners=False)[0]
        return img.clamp(0, 1).contiguous()

    def batch(self, n, seed):
        """N images [n, 3, size, size] in [0, 1]; SEED an int or a tuple of ints
        (e.g. (run_seed, step)) so any batch can be redrawn exactly."""
        rng = np.random.default_rng(seed)
        return torch.stack([self.sample(rng) for _ in range(n)])


def contact_sheet(images, cols):
    """[N, 3, H, W] in [0, 1] -> uint8 HxWx3 numpy sheet with 2 px gaps."""
    n, _, h, w = images.shape
    rows = (n + cols - 1) // cols
    sheet = np.full((rows * (h + 2) + 2, cols * (w + 2) + 2, 3), 255, np.uint8)
    arr = (images.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        sheet[2 + r * (h + 2):2 + r * (h + 2) + h, 2 + c * (w + 2):2 + c * (w + 2) + w] = arr[i]
    return sheet


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preview", metavar="OUT.png", help="write a contact sheet of samples")
    ap.add_argument("--bench", action="store_true", help="measure images/s on one thread")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = DeadLeaves(args.size)
    if args.preview:
        from PIL import Image
        imgs = gen.batch(args.count, args.seed)
        Image.fromarray(contact_sheet(imgs, cols=min(8, args.count))).save(args.preview)
        print("wrote %s (%d images of %dx%d, seed %d)" % (args.preview, args.count, args.size,
                                                          args.size, args.seed))
    if args.bench:
        gen.batch(4, 12345)
        t0 = time.perf_counter()
        n = args.count
        gen.batch(n, args.seed)
        dt = time.perf_counter() - t0
        print("%dx%d: %.1f images/s on one thread (%d images, %.2f s)" % (
            args.size, args.size, n / dt, n, dt))
    if not args.preview and not args.bench:
        ap.print_help()


if __name__ == "__main__":
    main()
