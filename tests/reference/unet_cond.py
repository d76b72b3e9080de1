#!/usr/bin/python3
"""A plain-torch reference for diffusers' UNet2DConditionModel, the Stable
Diffusion UNet (Rombach et al. 2022), as SD 1.x / 2.x, their inpainting
variants, LCM and BK-SDM configure it.

Written from a reading of the diffusers sources (main branch, 2024-2025):
  src/diffusers/models/unets/unet_2d_condition.py   UNet2DConditionModel (__init__, _check_config,
                                                    _set_time_proj, forward)
  src/diffusers/models/unets/unet_2d_blocks.py      CrossAttnDownBlock2D, CrossAttnUpBlock2D,
                                                    UNetMidBlock2DCrossAttn, get_down/up/mid_block
  src/diffusers/models/transformers/transformer_2d.py   Transformer2DModel (continuous input)
  src/diffusers/models/attention.py                 BasicTransformerBlock, FeedForward
  src/diffusers/models/activations.py               GEGLU
  src/diffusers/models/attention_processor.py       Attention + AttnProcessor2_0
  src/diffusers/models/embeddings.py                TimestepEmbedding (cond_proj)
  src/diffusers/models/upsampling.py                Upsample2D (output_size)
No code is copied; parameter names are identical to the diffusers module tree.
ResnetBlock2D, Downsample2D, DownBlock2D, UpBlock2D, Timesteps and the
saving / random-init machinery come from models.py.

What is implemented (anything else is refused with NotImplementedError naming
the config key, as the C core refuses it):
  down blocks CrossAttnDownBlock2D / DownBlock2D, up blocks UpBlock2D /
  CrossAttnUpBlock2D, mid block UNetMidBlock2DCrossAttn or null (BK-SDM);
  conv or linear proj_in/out (use_linear_projection); attention_head_dim int
  or per-level list; cross_attention_dim int or per-level list;
  layers_per_block int or per-level list; upcast_attention (no effect in
  float32); time_cond_proj_dim (LCM); any in/out channel count;
  transformer_layers_per_block 1 only.

The head-count quirk (unet_2d_condition.py): a config's attention_head_dim is
really the NUMBER of heads per level (num_attention_heads = num_attention_heads
or attention_head_dim), and diffusers refuses a non-null num_attention_heads
outright.  A Transformer2DModel at width C with H heads has heads of
C // H channels (inner width H * (C // H), which may be < C).  The up blocks
take the reversed per-level head list; the mid block the last level's.
"""

import collections
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import models
import st
from models import DownBlock2D, Downsample2D, ResnetBlock2D, Timesteps, UpBlock2D


# ---------------------------------------------------------------- time embedding

class TimestepEmbedding(models.TimestepEmbedding):
    """embeddings.py TimestepEmbedding with cond_proj (LCM's guidance
    embedding): x = t_emb + cond_proj(cond) (cond_proj has no bias), then
    linear_1 -> act -> linear_2."""

    def __init__(self, in_channels, time_embed_dim, act_fn="silu", cond_proj_dim=None):
        super().__init__(in_channels, time_embed_dim, act_fn)
        if cond_proj_dim is not None:
            self.cond_proj = nn.Linear(cond_proj_dim, in_channels, bias=False)
        else:
            self.cond_proj = None

    def forward(self, sample, condition=None):
        if condition is not None:
            if self.cond_proj is None:
                raise ValueError("timestep_cond given to a UNet without time_cond_proj_dim")
            sample = sample + self.cond_proj(condition)
        return super().forward(sample)


# ---------------------------------------------------------------- transformer

class CrossAttention(nn.Module):
    """attention_processor.py Attention as BasicTransformerBlock builds it
    (bias=False for q/k/v, out_bias=True, no norm, no residual) run by
    AttnProcessor2_0.  Q from X [B, L, query_dim]; K, V from CONTEXT
    [B, Lc, cross_dim] (X itself for self-attention):
      o = softmax(q k^T * dim_head^-0.5) v per head -> to_out.0.
    upcast_attention computes q k^T in float32: a no-op for float32 weights."""

    def __init__(self, query_dim, heads, dim_head, cross_attention_dim=None, upcast_attention=False):
        super().__init__()
        self.heads = heads
        self.dim_head = dim_head
        self.inner_dim = heads * dim_head
        self.scale = dim_head ** -0.5
        self.upcast_attention = upcast_attention
        ctx_dim = cross_attention_dim if cross_attention_dim is not None else query_dim
        self.to_q = nn.Linear(query_dim, self.inner_dim, bias=False)
        self.to_k = nn.Linear(ctx_dim, self.inner_dim, bias=False)
        self.to_v = nn.Linear(ctx_dim, self.inner_dim, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(self.inner_dim, query_dim, bias=True), nn.Dropout(0.0)])

    def forward(self, x, context=None):
        ctx = x if context is None else context
        b = x.shape[0]
        q, k, v = self.to_q(x), self.to_k(ctx), self.to_v(ctx)

        def split(t):
            return t.reshape(b, -1, self.heads, self.dim_head).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        if self.upcast_attention:
            q, k = q.float(), k.float()
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        probs = scores.float().softmax(dim=-1).to(v.dtype)
        o = torch.matmul(probs, v).transpose(1, 2).reshape(b, -1, self.inner_dim)
        return self.to_out[1](self.to_out[0](o))


class GEGLU(nn.Module):
    """activations.py GEGLU (Shazeer 2020): h, gate = proj(x).chunk(2, -1);
    out = h * gelu(gate) (exact erf GELU)."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    """attention.py FeedForward(dim, activation_fn="geglu", mult=4):
    net = [GEGLU(dim, 4 dim), Dropout, Linear(4 dim, dim)]."""

    def __init__(self, dim, mult=4):
        super().__init__()
        inner = int(dim * mult)
        self.net = nn.ModuleList([GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class BasicTransformerBlock(nn.Module):
    """attention.py BasicTransformerBlock, norm_type "layer_norm" (eps 1e-5,
    affine), only_cross_attention False, double_self_attention False:
      x = attn1(norm1(x)) + x                       self-attention
      x = attn2(norm2(x), encoder_hidden_states) + x   cross-attention
      x = ff(norm3(x)) + x                          GEGLU feed-forward"""

    def __init__(self, dim, heads, dim_head, cross_attention_dim, upcast_attention):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.attn1 = CrossAttention(dim, heads, dim_head, None, upcast_attention)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.attn2 = CrossAttention(dim, heads, dim_head, cross_attention_dim, upcast_attention)
        self.norm3 = nn.LayerNorm(dim, eps=1e-5, elementwise_affine=True)
        self.ff = FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class Transformer2DModel(nn.Module):
    """transformers/transformer_2d.py, continuous input: on X [B, C, H, W]
      h = GroupNorm(groups, C, eps 1e-6)(x)
      conv:   h = proj_in(h) (1x1 conv C -> inner), then [B, H*W, inner]
      linear: h -> [B, H*W, C], then proj_in (Linear C -> inner)
      h = transformer_blocks.N(h, encoder_hidden_states) for each N
      proj_out back to C (before the reshape for linear, after it for conv)
      out = h + x"""

    def __init__(self, heads, dim_head, in_channels, num_layers, cross_attention_dim, norm_num_groups,
                 use_linear_projection, upcast_attention):
        super().__init__()
        inner = heads * dim_head
        self.use_linear_projection = use_linear_projection
        self.norm = nn.GroupNorm(num_groups=norm_num_groups, num_channels=in_channels, eps=1e-6, affine=True)
        if use_linear_projection:
            self.proj_in = nn.Linear(in_channels, inner)
            self.proj_out = nn.Linear(inner, in_channels)
        else:
            self.proj_in = nn.Conv2d(in_channels, inner, kernel_size=1, stride=1, padding=0)
            self.proj_out = nn.Conv2d(inner, in_channels, kernel_size=1, stride=1, padding=0)
        self.transformer_blocks = nn.ModuleList([
            BasicTransformerBlock(inner, heads, dim_head, cross_attention_dim, upcast_attention)
            for _ in range(num_layers)])

    def forward(self, x, context):
        b, c, hgt, wid = x.shape
        residual = x
        h = self.norm(x)
        if not self.use_linear_projection:
            h = self.proj_in(h)
            inner = h.shape[1]
            h = h.permute(0, 2, 3, 1).reshape(b, hgt * wid, inner)
        else:
            h = h.permute(0, 2, 3, 1).reshape(b, hgt * wid, c)
            h = self.proj_in(h)
            inner = h.shape[-1]
        for block in self.transformer_blocks:
            h = block(h, context)
        if not self.use_linear_projection:
            h = h.reshape(b, hgt, wid, inner).permute(0, 3, 1, 2).contiguous()
            h = self.proj_out(h)
        else:
            h = self.proj_out(h)
            h = h.reshape(b, hgt, wid, c).permute(0, 3, 1, 2).contiguous()
        return h + residual


def _transformer(channels, heads, num_layers, cross_dim, groups, linear, upcast):
    if heads < 1 or heads > channels:
        raise ValueError("%d attention heads for %d channels" % (heads, channels))
    return Transformer2DModel(heads, channels // heads, channels, num_layers, cross_dim, groups, linear,
                              upcast)


def _upsample(up, x, size):
    """Upsample2D.forward: nearest x2, or to SIZE (the skip's size) when the
    UNet forwards an upsample size; then the 3x3 conv."""
    if size is None:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    else:
        x = F.interpolate(x, size=size, mode="nearest")
    return up.conv(x)


# ---------------------------------------------------------------- blocks

class CrossAttnDownBlock2D(DownBlock2D):
    """unet_2d_blocks.py CrossAttnDownBlock2D: resnets.i -> attentions.i
    (Transformer2DModel) per layer, every output a skip; then downsamplers.0."""

    def __init__(self, heads, cross_dim, linear, upcast, transformer_layers, **kw):
        super().__init__(**kw)
        out_ch = kw["out_channels"]
        self.attentions = nn.ModuleList([
            _transformer(out_ch, heads, transformer_layers, cross_dim, kw["groups"], linear, upcast)
            for _ in range(kw["num_layers"])])

    def forward(self, x, temb, context):
        states = []
        for resnet, attn in zip(self.resnets, self.attentions):
            x = attn(resnet(x, temb), context)
            states.append(x)
        if self.downsamplers is not None:
            x = self.downsamplers[0](x)
            states.append(x)
        return x, states


class PlainDownBlock2D(DownBlock2D):
    """DownBlock2D with the cross-attention blocks' call signature."""

    def forward(self, x, temb, context=None):
        return super().forward(x, temb)


class PlainUpBlock2D(UpBlock2D):
    """UpBlock2D that takes the UNet's forwarded upsample size."""

    def forward(self, x, skips, temb, context=None, upsample_size=None):
        skips = list(skips)
        for resnet in self.resnets:
            x = resnet(torch.cat([x, skips.pop()], dim=1), temb)
        if self.upsamplers is not None:
            x = _upsample(self.upsamplers[0], x, upsample_size)
        return x


class CrossAttnUpBlock2D(PlainUpBlock2D):
    """unet_2d_blocks.py CrossAttnUpBlock2D: resnet on cat([h, skip]) then the
    transformer, per layer; then upsamplers.0."""

    def __init__(self, heads, cross_dim, linear, upcast, transformer_layers, **kw):
        super().__init__(**kw)
        out_ch = kw["out_channels"]
        self.attentions = nn.ModuleList([
            _transformer(out_ch, heads, transformer_layers, cross_dim, kw["groups"], linear, upcast)
            for _ in range(kw["num_layers"])])

    def forward(self, x, skips, temb, context=None, upsample_size=None):
        skips = list(skips)
        for resnet, attn in zip(self.resnets, self.attentions):
            x = attn(resnet(torch.cat([x, skips.pop()], dim=1), temb), context)
        if self.upsamplers is not None:
            x = _upsample(self.upsamplers[0], x, upsample_size)
        return x


class UNetMidBlock2DCrossAttn(nn.Module):
    """unet_2d_blocks.py UNetMidBlock2DCrossAttn (num_layers 1):
    resnets.0 -> attentions.0 -> resnets.1; the resnets divide by
    output_scale_factor (mid_block_scale_factor), the transformer does not;
    heads of in_channels // heads channels."""

    def __init__(self, channels, temb, eps, act, groups, tss, heads, cross_dim, linear, upcast,
                 transformer_layers, output_scale_factor):
        super().__init__()

        def resnet():
            return ResnetBlock2D(channels, channels, temb, eps, groups, time_embedding_norm=tss,
                                 non_linearity=act, output_scale_factor=output_scale_factor)

        self.resnets = nn.ModuleList([resnet(), resnet()])
        self.attentions = nn.ModuleList([
            _transformer(channels, heads, transformer_layers, cross_dim, groups, linear, upcast)])

    def forward(self, x, temb, context):
        x = self.resnets[0](x, temb)
        x = self.attentions[0](x, context)
        return self.resnets[1](x, temb)


# ---------------------------------------------------------------- the model

def _per_level(cfg, key, n):
    v = cfg[key]
    if isinstance(v, (list, tuple)):
        if len(v) != n:
            raise ValueError("%s has %d entries for %d levels" % (key, len(v), n))
        return list(v)
    return [v] * n


class UNet2DConditionModel(models._Model):
    class_name = "UNet2DConditionModel"
    defaults = {
        "sample_size": None, "in_channels": 4, "out_channels": 4, "center_input_sample": False,
        "flip_sin_to_cos": True, "freq_shift": 0,
        "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                             "DownBlock2D"],
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        "only_cross_attention": False, "block_out_channels": [320, 640, 1280, 1280],
        "layers_per_block": 2, "downsample_padding": 1, "mid_block_scale_factor": 1, "dropout": 0.0,
        "act_fn": "silu", "norm_num_groups": 32, "norm_eps": 1e-5, "cross_attention_dim": 1280,
        "transformer_layers_per_block": 1, "reverse_transformer_layers_per_block": None,
        "encoder_hid_dim": None, "encoder_hid_dim_type": None, "attention_head_dim": 8,
        "num_attention_heads": None, "dual_cross_attention": False, "use_linear_projection": False,
        "class_embed_type": None, "addition_embed_type": None, "addition_time_embed_dim": None,
        "num_class_embeds": None, "upcast_attention": False, "resnet_time_scale_shift": "default",
        "resnet_skip_time_act": False, "resnet_out_scale_factor": 1.0,
        "time_embedding_type": "positional", "time_embedding_dim": None, "time_embedding_act_fn": None,
        "timestep_post_act": None, "time_cond_proj_dim": None, "conv_in_kernel": 3, "conv_out_kernel": 3,
        "projection_class_embeddings_input_dim": None, "attention_type": "default",
        "class_embeddings_concat": False, "mid_block_only_cross_attention": None,
        "cross_attention_norm": None, "addition_embed_type_num_heads": 64,
    }
    # keys whose non-default value changes the computation in a way not
    # implemented here (resnet_skip_time_act, resnet_out_scale_factor and
    # cross_attention_norm only reach the SimpleCrossAttn / ResnetDownsample
    # blocks, which are refused by name anyway)
    REFUSED = (("class_embed_type", None), ("num_class_embeds", None), ("addition_embed_type", None),
               ("encoder_hid_dim", None), ("encoder_hid_dim_type", None),
               ("time_embedding_act_fn", None), ("timestep_post_act", None),
               ("dual_cross_attention", False), ("attention_type", "default"),
               ("class_embeddings_concat", False), ("time_embedding_type", "positional"),
               ("conv_in_kernel", 3), ("conv_out_kernel", 3), ("act_fn", "silu"),
               ("reverse_transformer_layers_per_block", None))

    def __init__(self, cfg):
        super().__init__()
        self.config = cfg
        self.raw_config = dict(cfg)
        for key, ok in self.REFUSED:
            if cfg[key] != ok and not (key == "act_fn" and cfg[key] == "swish"):
                raise NotImplementedError("%s=%r is not supported" % (key, cfg[key]))
        if cfg["num_attention_heads"] is not None:
            # diffusers: "not possible to define the number of attention heads via num_attention_heads"
            raise ValueError("num_attention_heads must be null (diffusers reads heads from attention_head_dim)")
        if cfg["resnet_time_scale_shift"] not in ("default", "scale_shift"):
            raise NotImplementedError("resnet_time_scale_shift=%r" % (cfg["resnet_time_scale_shift"],))
        if cfg["norm_num_groups"] is None:
            raise NotImplementedError("norm_num_groups=None is not supported")
        if cfg["mid_block_type"] not in ("UNetMidBlock2DCrossAttn", None):
            raise NotImplementedError("mid_block_type=%r is not supported" % (cfg["mid_block_type"],))

        boc = list(cfg["block_out_channels"])
        n = len(boc)
        downs = [models._strip_unetres(t) for t in cfg["down_block_types"]]
        ups = [models._strip_unetres(t) for t in cfg["up_block_types"]]
        if not (len(downs) == len(ups) == n):
            raise ValueError("block_out_channels / down_block_types / up_block_types lengths differ")
        only_cross = _per_level(cfg, "only_cross_attention", n)
        if any(only_cross):
            raise NotImplementedError("only_cross_attention=%r is not supported" % (cfg["only_cross_attention"],))
        tlayers = _per_level(cfg, "transformer_layers_per_block", n)
        if any(t != 1 for t in tlayers):
            raise NotImplementedError("transformer_layers_per_block=%r is not supported (only 1)"
                                      % (cfg["transformer_layers_per_block"],))
        heads = _per_level(cfg, "attention_head_dim", n)  # the naming quirk: these are head counts
        cross = _per_level(cfg, "cross_attention_dim", n)
        layers = _per_level(cfg, "layers_per_block", n)
        eps, act, groups, tss = cfg["norm_eps"], cfg["act_fn"], cfg["norm_num_groups"], \
            cfg["resnet_time_scale_shift"]
        linear, upcast = cfg["use_linear_projection"], cfg["upcast_attention"]
        temb = cfg["time_embedding_dim"] or boc[0] * 4

        self.conv_in = nn.Conv2d(cfg["in_channels"], boc[0], kernel_size=3, padding=1)
        self.time_proj = Timesteps(boc[0], cfg["flip_sin_to_cos"], cfg["freq_shift"])
        self.time_embedding = TimestepEmbedding(boc[0], temb, act, cfg["time_cond_proj_dim"])

        self.down_blocks = nn.ModuleList()
        out_ch = boc[0]
        for i, kind in enumerate(downs):
            in_ch, out_ch = out_ch, boc[i]
            kw = dict(in_channels=in_ch, out_channels=out_ch, temb_channels=temb, num_layers=layers[i],
                      eps=eps, act=act, groups=groups, add_downsample=i != n - 1,
                      downsample_padding=cfg["downsample_padding"], time_scale_shift=tss)
            if kind == "CrossAttnDownBlock2D":
                if cross[i] is None:
                    raise ValueError("CrossAttnDownBlock2D needs cross_attention_dim")
                self.down_blocks.append(CrossAttnDownBlock2D(heads[i], cross[i], linear, upcast, 1, **kw))
            elif kind == "DownBlock2D":
                self.down_blocks.append(PlainDownBlock2D(**kw))
            else:
                raise NotImplementedError("down block %r is not supported" % (kind,))

        if cfg["mid_block_type"] is None:
            self.mid_block = None
        else:
            self.mid_block = UNetMidBlock2DCrossAttn(boc[-1], temb, eps, act, groups, tss, heads[-1],
                                                     cross[-1], linear, upcast, 1,
                                                     cfg["mid_block_scale_factor"])

        self.up_blocks = nn.ModuleList()
        rev, rheads, rcross, rlayers = boc[::-1], heads[::-1], cross[::-1], layers[::-1]
        out_ch = rev[0]
        self.num_upsamplers = 0
        for i, kind in enumerate(ups):
            prev, out_ch = out_ch, rev[i]
            in_ch = rev[min(i + 1, n - 1)]
            add_up = i != n - 1
            self.num_upsamplers += int(add_up)
            kw = dict(in_channels=in_ch, prev_output_channel=prev, out_channels=out_ch, temb_channels=temb,
                      num_layers=rlayers[i] + 1, eps=eps, act=act, groups=groups, add_upsample=add_up,
                      time_scale_shift=tss)
            if kind == "CrossAttnUpBlock2D":
                if rcross[i] is None:
                    raise ValueError("CrossAttnUpBlock2D needs cross_attention_dim")
                self.up_blocks.append(CrossAttnUpBlock2D(rheads[i], rcross[i], linear, upcast, 1, **kw))
            elif kind == "UpBlock2D":
                self.up_blocks.append(PlainUpBlock2D(**kw))
            else:
                raise NotImplementedError("up block %r is not supported" % (kind,))

        self.conv_norm_out = nn.GroupNorm(num_channels=boc[0], num_groups=groups, eps=eps)
        self.conv_act = nn.SiLU()
        self.conv_out = nn.Conv2d(boc[0], cfg["out_channels"], kernel_size=3, padding=1)

    def forward_taps(self, sample, timestep, encoder_hidden_states, timestep_cond=None):
        """SAMPLE [N, C, H, W]; TIMESTEP a float or a tensor [1] / [N] (float,
        not truncated); ENCODER_HIDDEN_STATES [N, L, cross_dim]; TIMESTEP_COND
        [N, time_cond_proj_dim] or None.  Any H, W: when one is not a multiple
        of 2^(upsamplers), every upsampler is given the size of the skip it
        meets (diffusers' forward_upsample_size).  Returns (output, taps)."""
        taps = collections.OrderedDict()
        if not torch.is_tensor(timestep):
            timestep = torch.tensor([float(timestep)], dtype=torch.float32)
        timesteps = timestep.reshape(-1).to(torch.float32) * torch.ones(sample.shape[0])
        factor = 2 ** self.num_upsamplers
        forward_upsample_size = any(s % factor != 0 for s in sample.shape[-2:])
        if self.config["center_input_sample"]:
            sample = 2 * sample - 1.0
        emb = self.time_embedding(self.time_proj(timesteps), timestep_cond)
        taps["time_embedding"] = emb
        h = self.conv_in(sample)
        taps["conv_in"] = h
        skips = [h]
        for i, block in enumerate(self.down_blocks):
            h, states = block(h, emb, encoder_hidden_states)
            skips += states
            taps["down_blocks.%d" % i] = h
        if self.mid_block is not None:
            h = self.mid_block(h, emb, encoder_hidden_states)
            taps["mid_block"] = h
        for i, block in enumerate(self.up_blocks):
            k = len(block.resnets)
            res, skips = skips[-k:], skips[:-k]
            size = None
            if i != len(self.up_blocks) - 1 and forward_upsample_size:
                size = skips[-1].shape[2:]
            h = block(h, res, emb, encoder_hidden_states, size)
            taps["up_blocks.%d" % i] = h
        h = self.conv_out(self.conv_act(self.conv_norm_out(h)))
        taps["sample"] = h
        return h, taps

    def forward(self, sample, timestep, encoder_hidden_states, timestep_cond=None):
        return self.forward_taps(sample, timestep, encoder_hidden_states, timestep_cond)[0]


# ---------------------------------------------------------------- build / load

def init_random(model):
    """models.init_random, plus LayerNorm weight 1 + 0.1 N(0, 1) and bias
    0.1 N(0, 1) (every parameter random, so a missing affine shows)."""
    models.init_random(model)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape))
    return model


def build(config, seed=0):
    """UNet2DConditionModel of CONFIG with random weights from SEED."""
    torch.manual_seed(seed)
    model = UNet2DConditionModel.from_config(config)
    torch.manual_seed(seed)
    init_random(model)
    return model.eval()


def load_pretrained(folder):
    """config.json + safetensors (strict key match) -> model."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model = UNet2DConditionModel.from_config(config)
    model.load_state_dict(st.load(folder), strict=True)
    return model.eval()


__all__ = ["UNet2DConditionModel", "Transformer2DModel", "BasicTransformerBlock", "CrossAttention",
           "GEGLU", "FeedForward", "CrossAttnDownBlock2D", "CrossAttnUpBlock2D", "UNetMidBlock2DCrossAttn",
           "TimestepEmbedding", "init_random", "build", "load_pretrained"]
