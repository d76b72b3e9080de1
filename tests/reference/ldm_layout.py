#!/usr/bin/python3
"""Diffusers names -> the original CompVis/LDM names of a single-file Stable
Diffusion 1.x checkpoint, for the UNet, the VAE and the CLIP text encoder: the inverse
of what diffusers' single-file loader applies, written independently of the
C key map (core/io/gen-single-file.c) so each checks the other.

Public functions
  unet_to_ldm(sd)  -> {ldm name: tensor}  (UNet2DConditionModel with
                      layers_per_block 2, as SD 1.x)
  vae_to_ldm(sd)   -> {ldm name: tensor}  (diffusers AutoencoderKL state dict;
                      the mid attention's linears become 1x1 convs)
  text_to_ldm(sd)  -> {ldm name: tensor}  (transformers CLIPTextModel)
"""

import re

UNET = "model.diffusion_model."
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


_RES = {"norm1": "in_layers.0", "conv1": "in_layers.2", "time_emb_proj": "emb_layers.1",
        "norm2": "out_layers.0", "conv2": "out_layers.3", "conv_shortcut": "skip_connection"}
_TOP = {"conv_in": "input_blocks.0.0", "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2", "conv_norm_out": "out.0", "conv_out": "out.2"}


def _res(rest):
    head, _, tail = rest.rpartition(".")
    return f"{_RES[head]}.{tail}"


def unet_to_ldm(sd):
    attn_up = {int(k.split(".")[1]) for k in sd if re.match(r"up_blocks\.\d+\.attentions\.", k)}
    rules = [
        (r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)",
         lambda m: f"input_blocks.{3 * int(m[1]) + int(m[2]) + 1}.0.{_res(m[3])}"),
        (r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)",
         lambda m: f"input_blocks.{3 * int(m[1]) + int(m[2]) + 1}.1.{m[3]}"),
        (r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)",
         lambda m: f"input_blocks.{3 * int(m[1]) + 3}.0.op.{m[2]}"),
        (r"mid_block\.resnets\.(\d+)\.(.*)", lambda m: f"middle_block.{2 * int(m[1])}.{_res(m[2])}"),
        (r"mid_block\.attentions\.0\.(.*)", lambda m: f"middle_block.1.{m[1]}"),
        (r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)",
         lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.0.{_res(m[3])}"),
        (r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)",
         lambda m: f"output_blocks.{3 * int(m[1]) + int(m[2])}.1.{m[3]}"),
        # the level's last block: [resnet, upsample] or [resnet, attention, upsample]
        (r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)",
         lambda m: f"output_blocks.{3 * int(m[1]) + 2}.{2 if int(m[1]) in attn_up else 1}.conv.{m[2]}"),
    ]
    out = {}
    for name, t in sd.items():
        head, _, tail = name.rpartition(".")
        ldm = f"{_TOP[head]}.{tail}" if head in _TOP else None
        for pattern, fn in rules if ldm is None else ():
            m = re.fullmatch(pattern, name)
            if m:
                ldm = fn(m)
                break
        assert ldm, name
        out[UNET + ldm] = t
    return out
