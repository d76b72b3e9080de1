#!/usr/bin/python3
"""Single-op cases for the C test-ops program: ops.json + ops.safetensors.

ops.json is a JSON array of {"name": NAME, "op": OP, ...params}; the tensors
are NAME.x, NAME.w, NAME.b, NAME.y (the expected output) and, for attention,
NAME.q, NAME.k, NAME.v.  OPs and their params:
  conv2d              x [N,Ci,H,W], w [Co,Ci,kh,kw], b [Co] (absent: no bias),
                      stride, padding [top, left, bottom, right]
  group_norm          x, w, b, groups, eps, silu (SiLU after the norm)
  layer_norm          x [rows, dim], w, b, eps (over the last dim)
  silu, gelu (exact erf form), relu, tanh     x
  linear              x [rows, in], w [out, in], b [out]
  softmax             x [rows, cols], over the last dim
  attention           q [B,H,Lq,D], k [B,H,Lk,D], v [B,H,Lk,Dv], scale -> y [B,H,Lq,Dv]
                      y = softmax(q k^T * scale) v
  upsample_nearest    x, scale (integer factor)
  avg_pool            x, kernel (stride = kernel, no padding)
  resize_bilinear_aa  x -> y (F.interpolate bilinear, antialias=True, to y's size)
  timestep_embedding  x = timesteps [n], dim, flip_sin_to_cos, downscale_freq_shift,
                      scale, max_period -> y [n, dim] (diffusers get_timestep_embedding)
  concat              x [N,C1,H,W], w [N,C2,H,W] -> y = cat([x, w], dim=1)
"""

import json
import os

import torch
import torch.nn.functional as F

import models
import st


class _Cases:
    def __init__(self):
        self.meta = []
        self.tensors = {}

    def add(self, name, op, tensors, **params):
        if any(m["name"] == name for m in self.meta):
            raise ValueError("duplicate op case " + name)
        entry = {"name": name, "op": op}
        entry.update(params)
        self.meta.append(entry)
        for k, v in tensors.items():
            if v is not None:
                self.tensors["%s.%s" % (name, k)] = v.detach().to(torch.float32).contiguous()


def _conv(c, name, x_shape, w_shape, stride=1, pad=0, asym=False, bias=True):
    x = torch.randn(*x_shape)
    fan_in = w_shape[1] * w_shape[2] * w_shape[3]
    w = torch.randn(*w_shape) / fan_in ** 0.5
    b = 0.1 * torch.randn(w_shape[0]) if bias else None
    if asym:
        # Downsample2D with padding=0: one zero column right, one zero row at the bottom
        y = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, b, stride=stride)
        padding = [0, 0, 1, 1]
    else:
        ph, pw = (pad, pad) if isinstance(pad, int) else pad
        y = F.conv2d(x, w, b, stride=stride, padding=(ph, pw))
        padding = [ph, pw, ph, pw]
    c.add(name, "conv2d", {"x": x, "w": w, "b": b, "y": y}, stride=stride, padding=padding)


def _gn(c, name, shape, groups, eps, silu, offset=0.0, spread=1.0):
    x = torch.randn(*shape) * spread + offset
    w = 1 + 0.1 * torch.randn(shape[1])
    b = 0.1 * torch.randn(shape[1])
    y = F.group_norm(x, groups, w, b, eps)
    if silu:
        y = F.silu(y)
    c.add(name, "group_norm", {"x": x, "w": w, "b": b, "y": y}, groups=groups, eps=eps, silu=silu)


def build():
    torch.manual_seed(20240607)
    c = _Cases()

    # convolution
    _conv(c, "conv_1x1", (1, 3, 5, 7), (4, 3, 1, 1))
    _conv(c, "conv_3x3_p1", (1, 4, 9, 11), (6, 4, 3, 3), pad=1)
    _conv(c, "conv_3x3_s2_p1", (2, 5, 12, 10), (5, 5, 3, 3), stride=2, pad=1)
    _conv(c, "conv_3x3_s2_p1_odd", (1, 3, 13, 9), (4, 3, 3, 3), stride=2, pad=1)
    _conv(c, "conv_3x3_s2_asym", (1, 4, 12, 10), (4, 4, 3, 3), stride=2, asym=True)
    _conv(c, "conv_3x3_s2_asym_odd", (2, 3, 13, 9), (5, 3, 3, 3), stride=2, asym=True)
    _conv(c, "conv_5x5_p2", (1, 3, 11, 8), (4, 3, 5, 5), pad=2)
    _conv(c, "conv_7x1_p3x0", (1, 3, 10, 6), (5, 3, 7, 1), pad=(3, 0))
    _conv(c, "conv_3x3_p0_valid", (1, 2, 6, 7), (3, 2, 3, 3), pad=0)
    _conv(c, "conv_img_1x1", (1, 3, 1, 1), (4, 3, 3, 3), pad=1)
    _conv(c, "conv_img_3x5_ci1", (1, 1, 3, 5), (2, 1, 3, 3), pad=1)
    _conv(c, "conv_img_17x23", (1, 3, 17, 23), (8, 3, 3, 3), pad=1)
    _conv(c, "conv_nobias_batch2", (2, 4, 6, 6), (3, 4, 3, 3), pad=1, bias=False)
    _conv(c, "conv_s2_nobias_odd", (2, 8, 15, 9), (8, 8, 3, 3), stride=2, pad=1, bias=False)
    _conv(c, "conv_1x1_nobias", (1, 6, 4, 5), (3, 6, 1, 1), bias=False)
    _conv(c, "conv_wide_64to32", (1, 64, 8, 8), (32, 64, 3, 3), pad=1)
    _conv(c, "conv_1x1_s1_big", (2, 32, 9, 7), (48, 32, 1, 1))
    # thin products (a batch-1 UNet's low levels): run in row pieces, for
    # OpenBLAS' small-matrix kernels (Winograd at 16x16, im2col at 8x8)
    _conv(c, "conv_3x3_thin_16x16", (1, 256, 16, 16), (256, 256, 3, 3), pad=1)
    _conv(c, "conv_3x3_thin_8x8", (1, 256, 8, 8), (256, 256, 3, 3), pad=1)
    # large enough for Winograd F(4x4, 3x3), in two bands of tile rows, with
    # edge tiles
    _conv(c, "conv_3x3_winograd_bands", (1, 256, 130, 130), (24, 256, 3, 3), pad=1)
    _conv(c, "conv_3x3_winograd_batch2", (2, 16, 129, 133), (8, 16, 3, 3), pad=1, bias=False)

    # group norm
    _gn(c, "gn_groups1", (2, 6, 5, 7), 1, 1e-5, False)
    _gn(c, "gn_groups_eq_channels", (1, 8, 4, 4), 8, 1e-6, False)
    _gn(c, "gn_odd_channels_silu", (1, 9, 3, 5), 3, 1e-5, True)
    _gn(c, "gn_silu_batch2", (2, 16, 8, 8), 4, 1e-6, True)
    _gn(c, "gn_1x1_image", (1, 4, 1, 1), 2, 1e-5, False)
    _gn(c, "gn_large_mean", (1, 8, 16, 16), 2, 1e-6, False, offset=50.0, spread=0.1)
    _gn(c, "gn_3d_tokens", (2, 12, 10, 1), 4, 1e-5, False)

    # layer norm
    for name, shape, eps in (("ln_5x12", (5, 12), 1e-5), ("ln_3x7", (3, 7), 1e-6),
                             ("ln_1x64_offset", (1, 64), 1e-5)):
        x = torch.randn(*shape) + (20.0 if "offset" in name else 0.0)
        w = 1 + 0.1 * torch.randn(shape[1])
        b = 0.1 * torch.randn(shape[1])
        c.add(name, "layer_norm", {"x": x, "w": w, "b": b, "y": F.layer_norm(x, (shape[1],), w, b, eps)},
              eps=eps)

    # pointwise
    x = torch.cat([torch.randn(3, 17) * 3, torch.tensor([[-30.0, -10.0, -1e-3, 0.0, 1e-3, 10.0, 30.0]
                                                         + [0.5] * 10])])
    for op, fn in (("silu", F.silu), ("gelu", lambda t: F.gelu(t)), ("relu", F.relu), ("tanh", torch.tanh)):
        c.add(op + "_mixed", op, {"x": x, "y": fn(x)})
    x1 = torch.randn(1, 1)
    c.add("silu_single", "silu", {"x": x1, "y": F.silu(x1)})

    # linear
    for name, rows, fin, fout in (("linear_4x12_7", 4, 12, 7), ("linear_1x48_192", 1, 48, 192),
                                  ("linear_2x9_9", 2, 9, 9), ("linear_1x1_1", 1, 1, 1)):
        x = torch.randn(rows, fin)
        w = torch.randn(fout, fin) / fin ** 0.5
        b = 0.1 * torch.randn(fout)
        c.add(name, "linear", {"x": x, "w": w, "b": b, "y": F.linear(x, w, b)})

    # softmax (rows with 80.0: a naive exp overflows float32 only past ~88, but
    # exp(80) * cols does; and a row of equal large values; a very negative row)
    x = torch.randn(5, 9)
    x[0, 3] = 80.0
    x[1, :] = 80.0
    x[2, :] = -80.0
    x[3, 0] = 80.0
    x[3, 1] = 79.0
    c.add("softmax_large", "softmax", {"x": x, "y": torch.softmax(x, dim=-1)})
    x = torch.randn(3, 1)
    c.add("softmax_one_col", "softmax", {"x": x, "y": torch.softmax(x, dim=-1)})
    x = torch.randn(2, 300) * 4
    c.add("softmax_wide", "softmax", {"x": x, "y": torch.softmax(x, dim=-1)})

    # attention
    for name, (b, h, lq, lk, d, dv), scale in (
            ("attn_one_token", (1, 1, 1, 1, 8, 8), 8 ** -0.5),
            ("attn_lq_ne_lk_dv", (2, 3, 5, 7, 4, 6), 0.5),
            ("attn_heads4_l64", (1, 4, 64, 64, 16, 16), 0.25),
            ("attn_one_key", (1, 2, 6, 1, 5, 3), 5 ** -0.5),
            ("attn_large_scores", (1, 1, 4, 9, 8, 8), 2.0)):
        q = torch.randn(b, h, lq, d)
        k = torch.randn(b, h, lk, d)
        v = torch.randn(b, h, lk, dv)
        y = torch.matmul(torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * scale, dim=-1), v)
        c.add(name, "attention", {"q": q, "k": k, "v": v, "y": y}, scale=scale)

    # resampling
    for name, shape, s in (("up_nearest_2_3x5", (1, 3, 3, 5), 2), ("up_nearest_3_1x1", (2, 2, 1, 1), 3),
                           ("up_nearest_2_batch2", (2, 4, 6, 7), 2)):
        x = torch.randn(*shape)
        c.add(name, "upsample_nearest", {"x": x, "y": F.interpolate(x, scale_factor=s, mode="nearest")},
              scale=s)
    for name, shape, kk in (("avg_pool_2", (1, 3, 8, 6), 2), ("avg_pool_3", (1, 2, 9, 9), 3),
                            ("avg_pool_2_odd_floor", (2, 2, 7, 5), 2)):
        x = torch.randn(*shape)
        c.add(name, "avg_pool", {"x": x, "y": F.avg_pool2d(x, kk, stride=kk)}, kernel=kk)

    # antialiased bilinear resize (inpaint's crops to a model's native size and back)
    for name, shape, size in (("resize_aa_down_37x53_to_16x12", (1, 3, 37, 53), (12, 16)),
                              ("resize_aa_up_5x7_to_16x12", (1, 3, 5, 7), (16, 12)),
                              ("resize_aa_down_w_only", (2, 1, 6, 40), (6, 9)),
                              ("resize_aa_odd_3x1_to_1x4", (1, 2, 3, 1), (1, 4))):
        x = torch.rand(*shape)
        y = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        c.add(name, "resize_bilinear_aa", {"x": x, "y": y})

    # timestep embedding
    for name, ts, dim, flip, shift, scale, maxp in (
            ("temb_dim8_flip_shift0", [0.0, 1.5, 999.0], 8, True, 0.0, 1.0, 10000),
            ("temb_dim8_noflip_shift1", [0.0, 1.5, 999.0], 8, False, 1.0, 1.0, 10000),
            ("temb_dim9_odd", [3.0, 250.0], 9, True, 0.0, 1.0, 10000),
            ("temb_dim9_odd_noflip", [3.0, 250.0], 9, False, 1.0, 1.0, 10000),
            ("temb_dim64_arange128", list(range(128)), 64, False, 1.0, 1.0, 10000),
            ("temb_scale1000", [0.25, 0.5], 32, False, 1.0, 1000.0, 10000),
            ("temb_max_period_100", [7.0], 16, True, 0.0, 1.0, 100),
            ("temb_dim3_tiny", [42.0], 3, False, 0.0, 1.0, 10000)):
        x = torch.tensor(ts, dtype=torch.float32)
        y = models.get_timestep_embedding(x, dim, flip_sin_to_cos=flip, downscale_freq_shift=shift,
                                          scale=scale, max_period=maxp)
        c.add(name, "timestep_embedding", {"x": x, "y": y}, dim=dim, flip_sin_to_cos=flip,
              downscale_freq_shift=shift, scale=scale, max_period=maxp)

    # concat
    for name, s1, s2 in (("concat_3_5", (2, 3, 4, 5), (2, 5, 4, 5)), ("concat_1_1_1x1", (1, 1, 1, 1),
                                                                      (1, 1, 1, 1))):
        x = torch.randn(*s1)
        w = torch.randn(*s2)
        c.add(name, "concat", {"x": x, "w": w, "y": torch.cat([x, w], dim=1)})
    return c


def write(folder):
    """Writes FOLDER/ops.json and FOLDER/ops.safetensors; returns the case count."""
    c = build()
    with open(os.path.join(folder, "ops.json"), "w") as f:
        json.dump(c.meta, f, indent=1)
        f.write("\n")
    st.save(os.path.join(folder, "ops.safetensors"), c.tensors)
    return len(c.meta)
