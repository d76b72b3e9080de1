#!/usr/bin/python3
"""Diffusers names -> the original CompVis/LDM names of a single-file Stable
Diffusion 1.x checkpoint, for the VAE and the CLIP text encoder: the inverse
of what diffusers' single-file loader applies, written independently of the
C key map (core/io/gen-single-file.c) so each checks the other.

Public functions
  vae_to_ldm(sd)   -> {ldm name: tensor}  (diffusers AutoencoderKL state dict;
                      the mid attention's linears become 1x1 convs)
  text_to_ldm(sd)  -> {ldm name: tensor}  (transformers CLIPTextModel)
"""

import re

VAE = "first_stage_model."
TEXT = "cond_stage_model.transformer."

_ATTN = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def _vae_name(name, n_up):
    rules = [
        (r"^(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)$",
         lambda m: f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"),
        (r"^(encoder|decoder)\.mid_block\.attentions\.0\.(group_norm|to_q|to_k|to_v|to_out\.0)\.(.*)$",
         lambda m: f"{m[1]}.mid.attn_1.{_ATTN[m[2]]}.{m[3]}"),
        (r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$",
         lambda m: f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}"),
        (r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)$",
         lambda m: f"encoder.down.{m[1]}.downsample.conv.{m[2]}"),
        (r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)$",
         lambda m: f"decoder.up.{n_up - 1 - int(m[1])}.block.{m[2]}.{m[3]}"),
        (r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)$",
         lambda m: f"decoder.up.{n_up - 1 - int(m[1])}.upsample.conv.{m[2]}"),
        (r"^(encoder|decoder)\.conv_norm_out\.(.*)$", lambda m: f"{m[1]}.norm_out.{m[2]}"),
        (r"^(.*)$", lambda m: m[1]),
    ]
    for pattern, fn in rules:
        m = re.match(pattern, name)
        if m:
            return VAE + fn(m).replace("conv_shortcut", "nin_shortcut")
    raise AssertionError(name)


def vae_to_ldm(sd):
    n_up = 1 + max(int(k.split(".")[2]) for k in sd if k.startswith("decoder.up_blocks."))
    out = {}
    for name, t in sd.items():
        ldm = _vae_name(name, n_up)
        if ".mid.attn_1." in ldm and ldm.endswith(".weight") and t.dim() == 2:
            t = t.reshape(*t.shape, 1, 1)
        out[ldm] = t
    return out


def text_to_ldm(sd):
    return {TEXT + k: t for k, t in sd.items() if k.startswith("text_model.")}
