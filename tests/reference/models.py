#!/usr/bin/python3
"""An independent plain-torch reference for the diffusers models the C core
runs: UNet2DModel, AutoencoderKL and AutoencoderTiny.

Written from a reading of the diffusers sources (main branch, 2024-2025):
  src/diffusers/models/unets/unet_2d.py            UNet2DModel
  src/diffusers/models/unets/unet_2d_blocks.py     DownBlock2D, AttnDownBlock2D, UpBlock2D,
                                                   AttnUpBlock2D, UNetMidBlock2D,
                                                   DownEncoderBlock2D, UpDecoderBlock2D,
                                                   AutoencoderTinyBlock, get_down_block/get_up_block
  src/diffusers/models/resnet.py                   ResnetBlock2D
  src/diffusers/models/downsampling.py             Downsample2D
  src/diffusers/models/upsampling.py               Upsample2D
  src/diffusers/models/attention_processor.py      Attention + AttnProcessor2_0
  src/diffusers/models/embeddings.py               get_timestep_embedding, Timesteps,
                                                   GaussianFourierProjection, TimestepEmbedding
  src/diffusers/models/autoencoders/vae.py         Encoder, Decoder, EncoderTiny, DecoderTiny,
                                                   DiagonalGaussianDistribution
  src/diffusers/models/autoencoders/autoencoder_kl.py, autoencoder_tiny.py
  src/diffusers/models/modeling_utils.py           _convert_deprecated_attention_blocks
No code is copied; parameter names are identical to the diffusers module tree,
so a state dict saved here loads into diffusers and the other way round.

Every model has
  Model.from_config(dict)       missing keys take the diffusers __init__ defaults
  model.forward_taps(...)       -> (output, OrderedDict of named intermediate tensors)
  model.save_pretrained(folder, dtype="F32", sharded=False, legacy_attention_keys=False,
                        metadata=None, raw_config=False)
and the module functions
  init_random(model)            every parameter random (see its comment)
  load_pretrained(folder)       -> model (config.json + safetensors, legacy keys converted)
"""

import collections
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import st

DIFFUSERS_VERSION = "0.32.0"


# ---------------------------------------------------------------- helpers

def get_activation(name):
    """diffusers activations.get_activation: swish/silu, mish, gelu, relu."""
    if name in ("swish", "silu"):
        return nn.SiLU()
    if name == "mish":
        return nn.Mish()
    if name == "gelu":
        return nn.GELU()
    if name == "relu":
        return nn.ReLU()
    raise ValueError("unsupported activation %r" % (name,))


def get_timestep_embedding(timesteps, embedding_dim, flip_sin_to_cos=False,
                           downscale_freq_shift=1.0, scale=1.0, max_period=10000):
    """Sinusoidal embedding [N, embedding_dim] of 1-D TIMESTEPS (embeddings.py).

    half = dim // 2;  freq_j = exp(-ln(max_period) * j / (half - shift)), j < half
    arg = scale * t * freq;  out = [sin(arg), cos(arg)]  ([cos, sin] if flipped);
    an odd dim gets one zero column appended at the end.  Computed in float32
    in this order, as diffusers does."""
    if timesteps.dim() != 1:
        raise ValueError("timesteps must be 1-D")
    half = embedding_dim // 2
    exponent = -math.log(max_period) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - downscale_freq_shift)
    freqs = torch.exp(exponent)
    args = timesteps[:, None].float() * freqs[None, :]
    args = scale * args
    emb = torch.cat([torch.sin(args), torch.cos(args)], dim=-1)
    if flip_sin_to_cos:
        emb = torch.cat([emb[:, half:], emb[:, :half]], dim=-1)
    if embedding_dim % 2 == 1:
        emb = F.pad(emb, (0, 1, 0, 0))
    return emb


class Timesteps(nn.Module):
    def __init__(self, num_channels, flip_sin_to_cos, downscale_freq_shift, scale=1):
        super().__init__()
        self.num_channels = num_channels
        self.flip_sin_to_cos = flip_sin_to_cos
        self.downscale_freq_shift = downscale_freq_shift
        self.scale = scale

    def forward(self, timesteps):
        return get_timestep_embedding(timesteps, self.num_channels,
                                      flip_sin_to_cos=self.flip_sin_to_cos,
                                      downscale_freq_shift=self.downscale_freq_shift,
                                      scale=self.scale)


class GaussianFourierProjection(nn.Module):
    """embeddings.py GaussianFourierProjection as UNet2DModel builds it
    (embedding_size=C0, scale=16, log=True, flip_sin_to_cos=False): a single
    frozen parameter `weight` [C0] (diffusers' set_W_to_weight path deletes
    `W`, leaving only `weight` in the state dict).  Output [N, 2*C0] =
    [sin(x), cos(x)] with x = log(t)[:, None] * weight[None, :] * 2 * pi.
    UNet2DModel's flip_sin_to_cos config does NOT reach this module."""

    def __init__(self, embedding_size=256, scale=1.0, log=True, flip_sin_to_cos=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(embedding_size) * scale, requires_grad=False)
        self.scale = scale
        self.log = log
        self.flip_sin_to_cos = flip_sin_to_cos

    def forward(self, x):
        if self.log:
            x = torch.log(x)
        x_proj = x[:, None] * self.weight[None, :] * 2 * math.pi
        if self.flip_sin_to_cos:
            return torch.cat([torch.cos(x_proj), torch.sin(x_proj)], dim=-1)
        return torch.cat([torch.sin(x_proj), torch.cos(x_proj)], dim=-1)


class TimestepEmbedding(nn.Module):
    """linear_1 -> SiLU -> linear_2 (UNet2DModel uses the default act "silu")."""

    def __init__(self, in_channels, time_embed_dim, act_fn="silu"):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, time_embed_dim)
        self.act = get_activation(act_fn)
        self.linear_2 = nn.Linear(time_embed_dim, time_embed_dim)

    def forward(self, sample):
        return self.linear_2(self.act(self.linear_1(sample)))


# ---------------------------------------------------------------- layers

class Attention(nn.Module):
    """The spatial self-attention of the UNet2D / VAE blocks (attention_processor.py
    Attention built with residual_connection=True, bias=True,
    _from_deprecated_attn_block=True, run by AttnProcessor2_0).

    heads = query_dim // dim_head;  inner = heads * dim_head (may be < query_dim
    when dim_head does not divide it: to_q/k/v are then [inner, C], to_out.0 is
    [C, inner]).  On x [B, C, H, W]:
      h = group_norm(x) if present (over [B, C, H*W]);  h -> [B, L, C]
      q, k, v = to_q(h), to_k(h), to_v(h), split into heads
      o = softmax(q k^T * dim_head^-0.5) v  -> [B, L, inner] -> to_out.0 -> [B, C, H, W]
      out = (o + x) / rescale_output_factor"""

    def __init__(self, query_dim, heads, dim_head, rescale_output_factor=1.0, eps=1e-5,
                 norm_num_groups=None, residual_connection=True, bias=True):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.inner_dim = heads * dim_head
        self.scale = dim_head ** -0.5
        self.rescale_output_factor = rescale_output_factor
        self.residual_connection = residual_connection
        if norm_num_groups is not None:
            self.group_norm = nn.GroupNorm(num_channels=query_dim, num_groups=norm_num_groups,
                                           eps=eps, affine=True)
        else:
            self.group_norm = None
        self.to_q = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_k = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_v = nn.Linear(query_dim, self.inner_dim, bias=bias)
        self.to_out = nn.ModuleList([nn.Linear(self.inner_dim, query_dim, bias=True), nn.Dropout(0.0)])

    def forward(self, x, temb=None):
        residual = x
        b, c, hgt, wid = x.shape
        h = x.reshape(b, c, hgt * wid)
        if self.group_norm is not None:
            h = self.group_norm(h)
        h = h.transpose(1, 2)
        q, k, v = self.to_q(h), self.to_k(h), self.to_v(h)

        def split(t):
            return t.reshape(b, -1, self.heads, self.dim_head).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        probs = scores.float().softmax(dim=-1).to(q.dtype)
        o = torch.matmul(probs, v)
        o = o.transpose(1, 2).reshape(b, -1, self.inner_dim)
        o = self.to_out[1](self.to_out[0](o))
        o = o.transpose(-1, -2).reshape(b, c, hgt, wid)
        if self.residual_connection:
            o = o + residual
        return o / self.rescale_output_factor


class ResnetBlock2D(nn.Module):
    """resnet.py ResnetBlock2D (pre-norm, no up/down, conv_shortcut 1x1 when
    in != out):
      h = conv1(act(norm1(x)))
      t = time_emb_proj(act(temb))[:, :, None, None]          (if temb_channels)
      default:      h = norm2(h + t)
      scale_shift:  scale, shift = chunk(t, 2, dim=1); h = norm2(h) * (1 + scale) + shift
      h = conv2(act(h));  out = (shortcut(x) + h) / output_scale_factor"""

    def __init__(self, in_channels, out_channels=None, temb_channels=512, eps=1e-6,
                 groups=32, groups_out=None, time_embedding_norm="default",
                 non_linearity="swish", output_scale_factor=1.0):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if time_embedding_norm not in ("default", "scale_shift"):
            raise NotImplementedError("time_embedding_norm %r" % (time_embedding_norm,))
        self.time_embedding_norm = time_embedding_norm
        self.output_scale_factor = output_scale_factor
        groups_out = groups if groups_out is None else groups_out
        self.norm1 = nn.GroupNorm(num_groups=groups, num_channels=in_channels, eps=eps, affine=True)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        if temb_channels is not None:
            mult = 2 if time_embedding_norm == "scale_shift" else 1
            self.time_emb_proj = nn.Linear(temb_channels, mult * out_channels)
        else:
            self.time_emb_proj = None
        self.norm2 = nn.GroupNorm(num_groups=groups_out, num_channels=out_channels, eps=eps, affine=True)
        self.dropout = nn.Dropout(0.0)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.nonlinearity = get_activation(non_linearity)
        if in_channels != out_channels:
            self.conv_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=1, padding=0)
        else:
            self.conv_shortcut = None

    def forward(self, x, temb=None):
        h = self.conv1(self.nonlinearity(self.norm1(x)))
        t = None
        if self.time_emb_proj is not None and temb is not None:
            t = self.time_emb_proj(self.nonlinearity(temb))[:, :, None, None]
        if self.time_embedding_norm == "default":
            if t is not None:
                h = h + t
            h = self.norm2(h)
        else:
            if t is None:
                raise ValueError("scale_shift needs a time embedding")
            scale, shift = torch.chunk(t, 2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(self.nonlinearity(h)))
        shortcut = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        return (shortcut + h) / self.output_scale_factor


class Downsample2D(nn.Module):
    """downsampling.py Downsample2D(use_conv=True, name="op"): 3x3 conv, stride 2,
    padding P; with P == 0 the input is first zero-padded by one column on the
    right and one row at the bottom (F.pad (0, 1, 0, 1)).  The weight is `conv`."""

    def __init__(self, channels, out_channels=None, padding=1):
        super().__init__()
        self.padding = padding
        self.conv = nn.Conv2d(channels, out_channels or channels, kernel_size=3, stride=2, padding=padding)

    def forward(self, x):
        if self.padding == 0:
            x = F.pad(x, (0, 1, 0, 1), mode="constant", value=0)
        return self.conv(x)


class Upsample2D(nn.Module):
    """upsampling.py Upsample2D(use_conv=True): nearest x2 (scale_factor=2.0, no
    output_size from UNet2DModel) then a 3x3 conv `conv`, padding 1."""

    def __init__(self, channels, out_channels=None):
        super().__init__()
        self.conv = nn.Conv2d(channels, out_channels or channels, kernel_size=3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


def _attn(channels, head_dim, eps, groups, rescale):
    if head_dim is None:
        head_dim = channels
    heads = channels // head_dim
    if heads < 1:
        raise ValueError("attention_head_dim %d > channels %d gives no head" % (head_dim, channels))
    return Attention(channels, heads=heads, dim_head=head_dim, rescale_output_factor=rescale,
                     eps=eps, norm_num_groups=groups, residual_connection=True, bias=True)


# ---------------------------------------------------------------- blocks

class DownBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, temb_channels, num_layers, eps, act, groups,
                 add_downsample, downsample_padding, time_scale_shift, with_attention=False,
                 attention_head_dim=None):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, temb_channels, eps,
                          groups, time_embedding_norm=time_scale_shift, non_linearity=act)
            for i in range(num_layers)])
        if with_attention:
            self.attentions = nn.ModuleList([
                _attn(out_channels, attention_head_dim, eps, groups, 1.0) for _ in range(num_layers)])
        else:
            self.attentions = None
        if add_downsample:
            self.downsamplers = nn.ModuleList([Downsample2D(out_channels, out_channels, downsample_padding)])
        else:
            self.downsamplers = None

    def forward(self, x, temb):
        states = []
        for i, resnet in enumerate(self.resnets):
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class AttnDownBlock2D(DownBlock2D):
    """DownBlock2D with an Attention after every resnet; the attention group
    norm always has the resnet group count (unet_2d_blocks.py)."""

    def __init__(self, **kw):
        super().__init__(with_attention=True, **kw)


class UpBlock2D(nn.Module):
    """Resnet i takes cat([h, skip], dim=1) with the skips popped from the end;
    resnet i input = (prev_output_channel if i == 0 else out) +
    (in_channels if i == last else out)."""

    def __init__(self, in_channels, prev_output_channel, out_channels, temb_channels, num_layers,
                 eps, act, groups, add_upsample, time_scale_shift, with_attention=False,
                 attention_head_dim=None):
        super().__init__()
        resnets = []
        for i in range(num_layers):
            skip = in_channels if i == num_layers - 1 else out_channels
            res_in = prev_output_channel if i == 0 else out_channels
            resnets.append(ResnetBlock2D(res_in + skip, out_channels, temb_channels, eps, groups,
                                         time_embedding_norm=time_scale_shift, non_linearity=act))
        self.resnets = nn.ModuleList(resnets)
        if with_attention:
            self.attentions = nn.ModuleList([
                _attn(out_channels, attention_head_dim, eps, groups, 1.0) for _ in range(num_layers)])
        else:
            self.attentions = None
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels, out_channels)]) if add_upsample else None

    def forward(self, x, skips, temb):
        skips = list(skips)
        for i, resnet in enumerate(self.resnets):
            x = torch.cat([x, skips.pop()], dim=1)
            x = resnet(x, temb)
            if self.attentions is not None:
                x = self.attentions[i](x)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class AttnUpBlock2D(UpBlock2D):
    def __init__(self, **kw):
        super().__init__(with_attention=True, **kw)


class UNetMidBlock2D(nn.Module):
    """resnets.0 -> attentions.0 -> resnets.1 (num_layers=1).

    attn_groups None -> resnet_groups under "default", but NO group norm in the
    attention under "scale_shift" (unet_2d_blocks.py UNetMidBlock2D.__init__).
    All resnets and the attention use output_scale_factor = mid_block_scale_factor
    (the attention as rescale_output_factor).  add_attention=False keeps a None
    placeholder so resnets are still resnets.0 / resnets.1."""

    def __init__(self, in_channels, temb_channels, eps, act, groups, time_scale_shift,
                 attention_head_dim, attn_groups=None, add_attention=True, output_scale_factor=1.0):
        super().__init__()
        if attn_groups is None:
            attn_groups = groups if time_scale_shift == "default" else None
        if attention_head_dim is None:
            attention_head_dim = in_channels

        def resnet():
            return ResnetBlock2D(in_channels, in_channels, temb_channels, eps, groups,
                                 time_embedding_norm=time_scale_shift, non_linearity=act,
                                 output_scale_factor=output_scale_factor)

        self.add_attention = add_attention
        self.resnets = nn.ModuleList([resnet(), resnet()])
        if add_attention:
            self.attentions = nn.ModuleList([
                _attn(in_channels, attention_head_dim, eps, attn_groups, output_scale_factor)])
        else:
            self.attentions = nn.ModuleList([None])

    def forward(self, x, temb=None):
        x = self.resnets[0](x, temb)
        if self.attentions[0] is not None:
            x = self.attentions[0](x)
        return self.resnets[1](x, temb)


class DownEncoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, eps, act, groups, add_downsample,
                 downsample_padding):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, None, eps, groups,
                          non_linearity=act) for i in range(num_layers)])
        if add_downsample:
            self.downsamplers = nn.ModuleList([Downsample2D(out_channels, out_channels, downsample_padding)])
        else:
            self.downsamplers = None

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x, None)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
        return x


class UpDecoderBlock2D(nn.Module):
    def __init__(self, in_channels, out_channels, num_layers, eps, act, groups, add_upsample):
        super().__init__()
        self.resnets = nn.ModuleList([
            ResnetBlock2D(in_channels if i == 0 else out_channels, out_channels, None, eps, groups,
                          non_linearity=act) for i in range(num_layers)])
        self.upsamplers = nn.ModuleList([Upsample2D(out_channels, out_channels)]) if add_upsample else None

    def forward(self, x):
        for resnet in self.resnets:
            x = resnet(x, None)
        if self.upsamplers is not None:
            x = self.upsamplers[0](x)
        return x


class AutoencoderTinyBlock(nn.Module):
    """conv = [conv3x3, act, conv3x3, act, conv3x3]; skip = 1x1 no-bias conv if
    in != out else identity; out = relu(conv(x) + skip(x))."""

    def __init__(self, in_channels, out_channels, act_fn):
        super().__init__()
        act = get_activation(act_fn)
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), act,
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1), act,
            nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1))
        self.skip = (nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)
                     if in_channels != out_channels else nn.Identity())
        self.fuse = nn.ReLU()

    def forward(self, x):
        return self.fuse(self.conv(x) + self.skip(x))


def _strip_unetres(name):
    return name[7:] if name.startswith("UNetRes") else name


# ---------------------------------------------------------------- models

class _Model(nn.Module):
    class_name = None
    defaults = {}

    @classmethod
    def resolve_config(cls, config):
        cfg = dict(cls.defaults)
        for k, v in config.items():
            if k.startswith("_") or k not in cfg:
                continue          # diffusers ignores unexpected keys too (with a warning)
            cfg[k] = v
        return cfg

    @classmethod
    def from_config(cls, config):
        model = cls(cls.resolve_config(config))
        model.raw_config = {k: v for k, v in config.items() if not k.startswith("_")}
        return model

    def config_json(self, raw=False):
        cfg = dict(self.raw_config) if raw else dict(self.config)
        out = {"_class_name": self.class_name, "_diffusers_version": DIFFUSERS_VERSION}
        for k in sorted(cfg):
            v = cfg[k]
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def attention_paths(self):
        return [name for name, m in self.named_modules() if isinstance(m, Attention)]

    def round_weights(self, dtype):
        """Rounds every parameter in place to what DTYPE stores."""
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(st.round_to(p, dtype))

    def export_state_dict(self, legacy_attention_keys=False):
        sd = collections.OrderedDict((k, v.detach().clone()) for k, v in self.state_dict().items())
        if legacy_attention_keys:
            sd = to_legacy_attention_keys(sd, self.attention_paths())
        return sd

    def save_pretrained(self, folder, dtype="F32", sharded=False, legacy_attention_keys=False,
                        metadata=None, raw_config=False, n_shards=2):
        """Writes FOLDER/config.json + the weights.  The in-memory model is first
        rounded to DTYPE so that its output is the output of the stored weights."""
        os.makedirs(folder, exist_ok=True)
        self.round_weights(dtype)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(self.config_json(raw=raw_config), f, indent=2)
            f.write("\n")
        sd = self.export_state_dict(legacy_attention_keys)
        if sharded:
            st.save_sharded(folder, sd, n_shards=n_shards, dtype=dtype, metadata=metadata)
        else:
            st.save(os.path.join(folder, "diffusion_pytorch_model.safetensors"), sd, dtype=dtype,
                    metadata=metadata)


class UNet2DModel(_Model):
    class_name = "UNet2DModel"
    defaults = {
        "sample_size": None, "in_channels": 3, "out_channels": 3, "center_input_sample": False,
        "time_embedding_type": "positional", "time_embedding_dim": None, "freq_shift": 0,
        "flip_sin_to_cos": True,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"],
        "mid_block_type": "UNetMidBlock2D",
        "up_block_types": ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"],
        "block_out_channels": [224, 448, 672, 896], "layers_per_block": 2,
        "mid_block_scale_factor": 1, "downsample_padding": 1, "downsample_type": "conv",
        "upsample_type": "conv", "dropout": 0.0, "act_fn": "silu",
        # a config.json WITHOUT this key gets 8 (the __init__ default), not "one head"
        "attention_head_dim": 8, "norm_num_groups": 32, "attn_norm_num_groups": None,
        "norm_eps": 1e-5, "resnet_time_scale_shift": "default", "add_attention": True,
        "class_embed_type": None, "num_class_embeds": None, "num_train_timesteps": None,
    }

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.raw_config = dict(cfg)
        for key, ok in (("mid_block_type", ("UNetMidBlock2D",)), ("downsample_type", ("conv",)),
                        ("upsample_type", ("conv",)), ("class_embed_type", (None,)),
                        ("num_class_embeds", (None,)),
                        ("time_embedding_type", ("positional", "fourier")),
                        ("resnet_time_scale_shift", ("default", "scale_shift"))):
            if cfg[key] not in ok:
                raise NotImplementedError("%s=%r" % (key, cfg[key]))
        boc = list(cfg["block_out_channels"])
        downs = [_strip_unetres(t) for t in cfg["down_block_types"]]
        ups = [_strip_unetres(t) for t in cfg["up_block_types"]]
        if not (len(boc) == len(downs) == len(ups)):
            raise ValueError("block_out_channels / down_block_types / up_block_types lengths differ")
        head_dim = cfg["attention_head_dim"]
        eps, act, groups, tss = cfg["norm_eps"], cfg["act_fn"], cfg["norm_num_groups"], \
            cfg["resnet_time_scale_shift"]
        temb = cfg["time_embedding_dim"] or boc[0] * 4

        self.conv_in = nn.Conv2d(cfg["in_channels"], boc[0], kernel_size=3, padding=(1, 1))
        if cfg["time_embedding_type"] == "fourier":
            self.time_proj = GaussianFourierProjection(embedding_size=boc[0], scale=16)
            t_in = 2 * boc[0]
        else:
            self.time_proj = Timesteps(boc[0], cfg["flip_sin_to_cos"], cfg["freq_shift"])
            t_in = boc[0]
        self.time_embedding = TimestepEmbedding(t_in, temb)

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(downs):
            in_ch, out_ch = out_ch, boc[i]
            kw = dict(in_channels=in_ch, out_channels=out_ch, temb_channels=temb,
                      num_layers=cfg["layers_per_block"], eps=eps, act=act, groups=groups,
                      add_downsample=i != len(boc) - 1,
                      downsample_padding=cfg["downsample_padding"], time_scale_shift=tss)
            if kind == "DownBlock2D":
                self.down_blocks.append(DownBlock2D(**kw))
            elif kind == "AttnDownBlock2D":
                self.down_blocks.append(AttnDownBlock2D(
                    attention_head_dim=head_dim if head_dim is not None else out_ch, **kw))
            else:
                raise NotImplementedError("down block %r" % (kind,))

        self.mid_block = UNetMidBlock2D(
            boc[-1], temb, eps, act, groups, tss,
            attention_head_dim=head_dim if head_dim is not None else boc[-1],
            attn_groups=cfg["attn_norm_num_groups"], add_attention=cfg["add_attention"],
            output_scale_factor=cfg["mid_block_scale_factor"])

        self.up_blocks = nn.ModuleList()
        rev = list(reversed(boc))
        out_ch = rev[0]
        for i, kind in enumerate(ups):
            prev, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, len(boc) - 1)]
            kw = dict(in_channels=in_ch, prev_output_channel=prev, out_channels=out_ch,
                      temb_channels=temb, num_layers=cfg["layers_per_block"] + 1, eps=eps, act=act,
                      groups=groups, add_upsample=i != len(boc) - 1, time_scale_shift=tss)
            if kind == "UpBlock2D":
                self.up_blocks.append(UpBlock2D(**kw))
            elif kind == "AttnUpBlock2D":
                self.up_blocks.append(AttnUpBlock2D(
                    attention_head_dim=head_dim if head_dim is not None else out_ch, **kw))
            else:
                raise NotImplementedError("up block %r" % (kind,))

        out_groups = groups if groups is not None else min(boc[0] // 4, 32)
        self.conv_norm_out = nn.GroupNorm(num_channels=boc[0], num_groups=out_groups, eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], cfg["out_channels"], kernel_size=3, padding=1)

    def forward_taps(self, sample, timestep):
        """SAMPLE [N, C, H, W] float32; TIMESTEP a float, a 0-d tensor, or a
        tensor [1] or [N] (float: no truncation to integer).  Returns
        (output, taps)."""
        taps = collections.OrderedDict()
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([float(timestep)], dtype=torch.float32)
        timesteps = timestep.reshape(-1).to(torch.float32)
        timesteps = timesteps * torch.ones(sample.shape[0], dtype=timesteps.dtype)
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        emb = self.time_embedding(self.time_proj(timesteps))
        taps["time_embedding"] = emb
        h = self.conv_in(sample)
        taps["conv_in"] = h
        skips = [h]
        for i, block in enumerate(self.down_blocks):
            h, states = block(h, emb)
            skips += states
            taps["down_blocks.%d" % i] = h
        h = self.mid_block(h, emb)
        taps["mid_block"] = h
        for i, block in enumerate(self.up_blocks):
            n = len(block.resnets)
            res, skips = skips[-n:], skips[:-n]
            h = block(h, res, emb)
            taps["up_blocks.%d" % i] = h
        h = self.conv_out(self.conv_act(self.conv_norm_out(h)))
        if self.config["time_embedding_type"] == "fourier":
            h = h / timesteps.reshape(h.shape[0], 1, 1, 1)
        taps["sample"] = h
        return h, taps

    def forward(self, sample, timestep):
        return self.forward_taps(sample, timestep)[0]


class Encoder(nn.Module):
    """vae.py Encoder: resnet eps 1e-6, downsample padding 0 (the asymmetric pad),
    one attention head of all channels in the mid block, SiLU before conv_out."""

    def __init__(self, in_channels, out_channels, down_block_types, block_out_channels,
                 layers_per_block, norm_num_groups, act_fn, double_z, mid_block_add_attention):
        super().__init__()
        boc = list(block_out_channels)
        self.conv_in = nn.Conv2d(in_channels, boc[0], kernel_size=3, stride=1, padding=1)
        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(down_block_types):
            if _strip_unetres(kind) != "DownEncoderBlock2D":
                raise NotImplementedError("encoder block %r" % (kind,))
            in_ch, out_ch = out_ch, boc[i]
            self.down_blocks.append(DownEncoderBlock2D(in_ch, out_ch, layers_per_block, 1e-6, act_fn,
                                                       norm_num_groups, i != len(boc) - 1, 0))
        self.mid_block = UNetMidBlock2D(boc[-1], None, 1e-6, act_fn, norm_num_groups, "default",
                                        attention_head_dim=boc[-1],
                                        add_attention=mid_block_add_attention)
        self.conv_norm_out = nn.GroupNorm(num_channels=boc[-1], num_groups=norm_num_groups, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[-1], 2 * out_channels if double_z else out_channels, 3, padding=1)

    def forward_taps(self, x, taps, prefix="encoder"):
        x = self.conv_in(x)
        taps[prefix + ".conv_in"] = x
        for i, block in enumerate(self.down_blocks):
            x = block(x)
            taps["%s.down_blocks.%d" % (prefix, i)] = x
        x = self.mid_block(x)
        taps[prefix + ".mid_block"] = x
        x = self.conv_out(self.conv_act(self.conv_norm_out(x)))
        taps[prefix] = x
        return x


class Decoder(nn.Module):
    """vae.py Decoder (norm_type "group"): conv_in to the last width, mid block,
    up blocks in reversed width order with layers_per_block + 1 resnets."""

    def __init__(self, in_channels, out_channels, up_block_types, block_out_channels,
                 layers_per_block, norm_num_groups, act_fn, mid_block_add_attention):
        super().__init__()
        boc = list(block_out_channels)
        self.conv_in = nn.Conv2d(in_channels, boc[-1], kernel_size=3, stride=1, padding=1)
        self.mid_block = UNetMidBlock2D(boc[-1], None, 1e-6, act_fn, norm_num_groups, "default",
                                        attention_head_dim=boc[-1],
                                        add_attention=mid_block_add_attention)
        self.up_blocks = nn.ModuleList()
        rev = list(reversed(boc))
        out_ch = rev[0]
        for i, kind in enumerate(up_block_types):
            if _strip_unetres(kind) != "UpDecoderBlock2D":
                raise NotImplementedError("decoder block %r" % (kind,))
            prev, out_ch = out_ch, rev[i]
            self.up_blocks.append(UpDecoderBlock2D(prev, out_ch, layers_per_block + 1, 1e-6, act_fn,
                                                   norm_num_groups, i != len(boc) - 1))
        self.conv_norm_out = nn.GroupNorm(num_channels=boc[0], num_groups=norm_num_groups, eps=1e-6)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], out_channels, 3, padding=1)

    def forward_taps(self, z, taps, prefix="decoder"):
        z = self.conv_in(z)
        taps[prefix + ".conv_in"] = z
        z = self.mid_block(z)
        taps[prefix + ".mid_block"] = z
        for i, block in enumerate(self.up_blocks):
            z = block(z)
            taps["%s.up_blocks.%d" % (prefix, i)] = z
        return self.conv_out(self.conv_act(self.conv_norm_out(z)))


def diagonal_gaussian(moments):
    """vae.py DiagonalGaussianDistribution: mean, logvar = chunk(moments, 2, dim=1),
    logvar clamped to [-30, 20].  Returns (mean, logvar)."""
    mean, logvar = torch.chunk(moments, 2, dim=1)
    return mean, torch.clamp(logvar, -30.0, 20.0)


class AutoencoderKL(_Model):
    class_name = "AutoencoderKL"
    defaults = {
        "in_channels": 3, "out_channels": 3, "down_block_types": ["DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D"], "block_out_channels": [64], "layers_per_block": 1,
        "act_fn": "silu", "latent_channels": 4, "norm_num_groups": 32, "sample_size": 32,
        "scaling_factor": 0.18215, "shift_factor": None, "latents_mean": None, "latents_std": None,
        "force_upcast": True, "use_quant_conv": True, "use_post_quant_conv": True,
        "mid_block_add_attention": True,
    }

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.raw_config = dict(cfg)
        lc = cfg["latent_channels"]
        self.encoder = Encoder(cfg["in_channels"], lc, cfg["down_block_types"],
                               cfg["block_out_channels"], cfg["layers_per_block"],
                               cfg["norm_num_groups"], cfg["act_fn"], True,
                               cfg["mid_block_add_attention"])
        self.decoder = Decoder(lc, cfg["out_channels"], cfg["up_block_types"],
                               cfg["block_out_channels"], cfg["layers_per_block"],
                               cfg["norm_num_groups"], cfg["act_fn"], cfg["mid_block_add_attention"])
        self.quant_conv = nn.Conv2d(2 * lc, 2 * lc, 1) if cfg["use_quant_conv"] else None
        self.post_quant_conv = nn.Conv2d(lc, lc, 1) if cfg["use_post_quant_conv"] else None

    def encode_taps(self, x, taps=None):
        """-> (unscaled mean latent, taps).  Taps: encoder.*, encoder, quant_conv, latent."""
        taps = collections.OrderedDict() if taps is None else taps
        h = self.encoder.forward_taps(x, taps)
        if self.quant_conv is not None:
            h = self.quant_conv(h)
            taps["quant_conv"] = h
        mean, _ = diagonal_gaussian(h)
        taps["latent"] = mean
        return mean, taps

    def decode_taps(self, z, taps=None):
        """Z is the unscaled latent (no scaling_factor / shift_factor here: those
        belong to the pipeline).  -> (sample, taps)."""
        taps = collections.OrderedDict() if taps is None else taps
        if self.post_quant_conv is not None:
            z = self.post_quant_conv(z)
        out = self.decoder.forward_taps(z, taps)
        return out, taps

    def forward_taps(self, x, part=None):
        """PART None: decode(encode(x).mean); "encode": the mean; "decode": X is a latent.
        The taps always end with "sample" = the returned tensor."""
        if part == "encode":
            out, taps = self.encode_taps(x)
        elif part == "decode":
            out, taps = self.decode_taps(x)
        else:
            z, taps = self.encode_taps(x)
            out, taps = self.decode_taps(z, taps)
        taps["sample"] = out
        return out, taps

    def forward(self, x, part=None):
        return self.forward_taps(x, part)[0]


class EncoderTiny(nn.Module):
    """vae.py EncoderTiny: layers = [conv(in, c0)] + c0 blocks, then per level
    [conv stride 2 no bias] + blocks, then conv(c_last, latent).  Input mapped
    [-1, 1] -> [0, 1] by x.add(1).div(2)."""

    def __init__(self, in_channels, out_channels, num_blocks, block_out_channels, act_fn):
        super().__init__()
        layers = []
        for i, nb in enumerate(num_blocks):
            ch = block_out_channels[i]
            if i == 0:
                layers.append(nn.Conv2d(in_channels, ch, kernel_size=3, padding=1))
            else:
                layers.append(nn.Conv2d(ch, ch, kernel_size=3, padding=1, stride=2, bias=False))
            for _ in range(nb):
                layers.append(AutoencoderTinyBlock(ch, ch, act_fn))
        layers.append(nn.Conv2d(block_out_channels[-1], out_channels, kernel_size=3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x.add(1).div(2))


class DecoderTiny(nn.Module):
    """vae.py DecoderTiny: x = tanh(x / 3) * 3; layers = [conv(latent, c0), act] +
    per level blocks, [Upsample(factor, mode) + conv no bias] except the last
    level, whose conv (with bias) maps to out_channels; output mul(2).sub(1).
    Note the level conv uses the level's width: a level i conv is (c_i -> c_i)."""

    def __init__(self, in_channels, out_channels, num_blocks, block_out_channels,
                 upsampling_scaling_factor, act_fn, upsample_fn):
        super().__init__()
        layers = [nn.Conv2d(in_channels, block_out_channels[0], kernel_size=3, padding=1),
                  get_activation(act_fn)]
        for i, nb in enumerate(num_blocks):
            last = i == len(num_blocks) - 1
            ch = block_out_channels[i]
            for _ in range(nb):
                layers.append(AutoencoderTinyBlock(ch, ch, act_fn))
            if not last:
                layers.append(nn.Upsample(scale_factor=upsampling_scaling_factor, mode=upsample_fn))
            layers.append(nn.Conv2d(ch, out_channels if last else ch, kernel_size=3, padding=1, bias=last))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        x = torch.tanh(x / 3) * 3
        return self.layers(x).mul(2).sub(1)


class AutoencoderTiny(_Model):
    class_name = "AutoencoderTiny"
    defaults = {
        "in_channels": 3, "out_channels": 3, "encoder_block_out_channels": [64, 64, 64, 64],
        "decoder_block_out_channels": [64, 64, 64, 64], "act_fn": "relu", "upsample_fn": "nearest",
        "latent_channels": 4, "upsampling_scaling_factor": 2, "num_encoder_blocks": [1, 3, 3, 3],
        "num_decoder_blocks": [3, 3, 3, 1], "latent_magnitude": 3, "latent_shift": 0.5,
        "force_upcast": False, "scaling_factor": 1.0, "shift_factor": 0.0,
    }

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.raw_config = dict(cfg)
        if len(cfg["encoder_block_out_channels"]) != len(cfg["num_encoder_blocks"]) or \
                len(cfg["decoder_block_out_channels"]) != len(cfg["num_decoder_blocks"]):
            raise ValueError("block_out_channels and num_*_blocks lengths differ")
        self.encoder = EncoderTiny(cfg["in_channels"], cfg["latent_channels"], cfg["num_encoder_blocks"],
                                   cfg["encoder_block_out_channels"], cfg["act_fn"])
        self.decoder = DecoderTiny(cfg["latent_channels"], cfg["out_channels"], cfg["num_decoder_blocks"],
                                   cfg["decoder_block_out_channels"], cfg["upsampling_scaling_factor"],
                                   cfg["act_fn"], cfg["upsample_fn"])

    def config_json(self, raw=False):
        out = super().config_json(raw)
        if not raw:
            # autoencoder_tiny.py registers these two as well
            out["block_out_channels"] = list(self.config["decoder_block_out_channels"])
            out["force_upcast"] = False
        return out

    def scale_latents(self, x):
        return x.div(2 * self.config["latent_magnitude"]).add(self.config["latent_shift"]).clamp(0, 1)

    def unscale_latents(self, x):
        return x.sub(self.config["latent_shift"]).mul(2 * self.config["latent_magnitude"])

    def forward_taps(self, x, part=None):
        """PART None: decoder(encoder(x)) WITHOUT diffusers' uint8 latent
        quantisation; "encode": the latents; "decode": X is a latent."""
        taps = collections.OrderedDict()
        if part == "decode":
            out = self.decoder(x)
        else:
            out = self.encoder(x)
            taps["encoder"] = out
            if part != "encode":
                out = self.decoder(out)
        taps["sample"] = out
        return out, taps

    def forward_diffusers(self, x):
        """diffusers AutoencoderTiny.forward: latents go through a uint8 round trip."""
        enc = self.encoder(x)
        q = self.scale_latents(enc).mul(255).round().byte()
        return self.decoder(self.unscale_latents(q / 255.0))

    def forward(self, x, part=None):
        return self.forward_taps(x, part)[0]


MODEL_CLASSES = {c.class_name: c for c in (UNet2DModel, AutoencoderKL, AutoencoderTiny)}


# ---------------------------------------------------------------- weights

_LEGACY = (("to_q.", "query."), ("to_k.", "key."), ("to_v.", "value."), ("to_out.0.", "proj_attn."))


def to_legacy_attention_keys(sd, attention_paths):
    """Renames attention weights to the pre-0.14 AttentionBlock names
    (query/key/value/proj_attn) that modeling_utils._convert_deprecated_attention_blocks
    maps back; `group_norm` keeps its name (the conversion leaves it alone)."""
    prefixes = [p + "." for p in attention_paths]
    out = collections.OrderedDict()
    for k, v in sd.items():
        nk = k
        for p in prefixes:
            if k.startswith(p):
                rest = k[len(p):]
                for new, old in _LEGACY:
                    if rest.startswith(new):
                        nk = p + old + rest[len(new):]
                break
        out[nk] = v
    return out


def from_legacy_attention_keys(sd, attention_paths):
    """The inverse: what diffusers does on load for deprecated attention blocks."""
    prefixes = [p + "." for p in attention_paths]
    out = collections.OrderedDict()
    for k, v in sd.items():
        nk = k
        for p in prefixes:
            if k.startswith(p):
                rest = k[len(p):]
                for new, old in _LEGACY:
                    if rest.startswith(old):
                        nk = p + new + rest[len(old):]
                break
        out[nk] = v
    return out


def init_random(model, fourier_scale=16.0):
    """Every parameter random, so a missing affine, a swapped weight or a wrong
    transpose changes the output:
      conv / linear weights ~ N(0, 1/fan_in), biases 0.1 * N(0, 1)
      group / layer norm weight 1 + 0.1 * N(0, 1), bias 0.1 * N(0, 1)
      embedding tables N(0, 1)
      GaussianFourierProjection weight N(0, 1) * 16 (diffusers' own init, scale=16)
    Uses torch's global generator (seed it first)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape) / math.sqrt(fan_in))
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape))
            elif isinstance(m, (nn.GroupNorm, nn.LayerNorm)):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape))
            elif isinstance(m, nn.Embedding):
                m.weight.copy_(torch.randn(m.weight.shape))
            elif isinstance(m, GaussianFourierProjection):
                m.weight.copy_(torch.randn(m.weight.shape) * fourier_scale)
    return model


def build(config, seed=0, cls=None):
    """Builds the model of CONFIG["_class_name"] (or of class CLS) with
    random weights from SEED."""
    cls = cls or MODEL_CLASSES[config["_class_name"]]
    torch.manual_seed(seed)
    model = cls.from_config(config)
    torch.manual_seed(seed)
    init_random(model)
    return model.eval()


def load_pretrained(folder):
    """Loads a diffusers model folder (config.json + diffusion_pytorch_model.safetensors
    or a sharded .index.json); legacy attention names are converted; the key set
    must match exactly."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model = MODEL_CLASSES[config["_class_name"]].from_config(config)
    sd = st.load(folder)
    sd = from_legacy_attention_keys(sd, model.attention_paths())
    model.load_state_dict(sd, strict=True)
    return model.eval()
