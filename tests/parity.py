#!/usr/bin/python3
"""Parity of the C core against the independent PyTorch reference in
tests/reference (models.py, unet_cond.py, st.py).

  /usr/bin/python3 tests/parity.py --cli PATH/generative --suite unet|unet-cond|vae|tiny|formats|ops
                   [--test-ops PATH/test-ops] [--quick] [--keep DIR] [--only SUBSTR] [--verbose]

Every case is generated with a fixed torch seed in a temporary folder (or
--keep DIR): a diffusers model folder with random weights, an input
IN.safetensors ("sample", and "timestep" [N] for some UNet cases; for
UNet2DConditionModel also "encoder_hidden_states" [N, L, D] and, for LCM-style
configs, "timestep_cond" [N, D']), then

  generative forward --model DIR --input IN.safetensors [--timestep T]
                     [--part encode|decode] --dump-blocks -o OUT.safetensors

and every tensor the reference produces ("sample" and the named taps) must be
in OUT with NMSE = sum((c - r)^2) / sum(r^2) <= 1e-5.  Suite "ops" writes
ops.json + ops.safetensors and hands them to the C test-ops program, whose
exit status is ours.  The last line is "N passed, M failed".

Exit 0: all passed; 1: a failure; 77 (meson's skip): torch is not importable,
unless GENERATIVE_REQUIRE_REFERENCE=1 (then 1).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))

NMSE_LIMIT = 1e-5
CLI_TIMEOUT = 240

try:
    import torch
    IMPORT_ERROR = None
except ImportError as exc:  # no torch: meson's skip (see main)
    torch = None
    IMPORT_ERROR = exc

if torch is not None:
    # not guarded: a broken reference must fail, not skip
    import models
    import ops_cases
    import st
    import unet_cond


# ---------------------------------------------------------------- cases

def unet(boc, groups, downs, ups, **kw):
    cfg = {"_class_name": "UNet2DModel", "block_out_channels": list(boc), "norm_num_groups": groups,
           "down_block_types": list(downs), "up_block_types": list(ups), "layers_per_block": 1,
           "in_channels": 3, "out_channels": 3}
    cfg.update(kw)
    return cfg


D, AD, U, AU = "DownBlock2D", "AttnDownBlock2D", "UpBlock2D", "AttnUpBlock2D"

# google/ddpm-cifar10-32 as its _diffusers_version 0.0.4 config.json writes it:
# no attention_head_dim key (so the __init__ default 8 applies), freq_shift 1,
# flip_sin_to_cos false, downsample_padding 0, norm_eps 1e-6.
DDPM_CIFAR_STYLE = {"_class_name": "UNet2DModel", "act_fn": "silu", "center_input_sample": False,
                    "downsample_padding": 0, "flip_sin_to_cos": False, "freq_shift": 1,
                    "in_channels": 3, "mid_block_scale_factor": 1, "norm_eps": 1e-06,
                    "out_channels": 3, "sample_size": 32, "time_embedding_type": "positional"}


def ddpm_style(boc, groups, downs, ups, layers, **kw):
    cfg = dict(DDPM_CIFAR_STYLE, block_out_channels=list(boc), norm_num_groups=groups,
               down_block_types=list(downs), up_block_types=list(ups), layers_per_block=layers)
    cfg.update(kw)
    return cfg


# Each case: name, config, input shape (N, C, H, W), and per kind:
#   unet: "t" a float passed as --timestep, or "ts" a list written as IN's "timestep"
#         (then "t" may also be given: the tensor must win); save options
#   vae / tiny: "parts" among None (full), "encode", "decode"; "latent" (h, w) for decode
UNET_CASES = [
    dict(name="u_12_24_g4_attn", quick=True,
         cfg=unet((12, 24), 4, [D, AD], [AU, U], attention_head_dim=None),
         shape=(1, 3, 12, 20), t=37.0),
    dict(name="u_12_24_g3_heads_in1_out2",
         cfg=unet((12, 24), 3, [AD, AD], [AU, AU], attention_head_dim=6, in_channels=1,
                  out_channels=2, flip_sin_to_cos=False, freq_shift=1),
         shape=(2, 1, 20, 12), ts=[3.0, 871.5]),
    dict(name="u_single_level_odd_size",
         cfg=unet((8,), 2, [AD], [AU], attention_head_dim=4, layers_per_block=2),
         shape=(1, 3, 7, 5), t=0.0),
    dict(name="u_three_levels_to_3x5", quick=True,
         cfg=unet((16, 24, 32), 8, [D, AD, AD], [AU, AU, U], attention_head_dim=8),
         shape=(1, 3, 12, 20), t=999.0),
    dict(name="u_fourier", quick=True,
         cfg=unet((8, 16), 4, [D, AD], [AU, U], time_embedding_type="fourier",
                  attention_head_dim=None, flip_sin_to_cos=True),
         shape=(2, 3, 16, 16), ts=[0.5, 42.0]),
    dict(name="u_fourier_single_t",
         cfg=unet((8, 16), 2, [AD, D], [U, AU], time_embedding_type="fourier", attention_head_dim=4),
         shape=(1, 3, 8, 12), t=7.25),
    dict(name="u_scale_shift", quick=True,
         cfg=unet((12, 24), 4, [AD, AD], [AU, AU], resnet_time_scale_shift="scale_shift",
                  attention_head_dim=None),
         shape=(1, 3, 12, 12), t=250.0),
    dict(name="u_scale_shift_attn_groups",
         cfg=unet((12, 24), 4, [D, AD], [AU, U], resnet_time_scale_shift="scale_shift",
                  attn_norm_num_groups=2, attention_head_dim=12),
         shape=(2, 3, 8, 8), ts=[10.0, 20.0]),
    dict(name="u_attn_norm_groups_default",
         cfg=unet((8, 16), 4, [D, D], [U, U], attn_norm_num_groups=8, attention_head_dim=8),
         shape=(1, 3, 8, 8), t=500.0),
    dict(name="u_pad0_center_midscale",
         cfg=unet((8, 16), 4, [D, AD], [AU, U], downsample_padding=0, center_input_sample=True,
                  mid_block_scale_factor=1.41421356, norm_eps=1e-6, attention_head_dim=8),
         shape=(1, 3, 16, 12), t=123.0),
    dict(name="u_no_attention_batch2_scalar_t",
         cfg=unet((8, 16), 4, [D, D], [U, U], add_attention=False, layers_per_block=2),
         shape=(2, 3, 8, 12), t=640.0),
    dict(name="u_timestep_tensor_wins",
         cfg=unet((8, 16), 4, [D, AD], [AU, U], attention_head_dim=None),
         shape=(1, 3, 8, 8), ts=[123.456], t=5.0),
    dict(name="u_odd_c0_time_dim",
         cfg=unet((9, 18), 3, [AD, D], [U, AU], attention_head_dim=3),
         shape=(1, 3, 8, 8), t=61.0),
    # heads = 24 // 16 = 1, inner dim 16 != 24 channels: to_q/k/v are [16, 24], to_out.0 [24, 16]
    dict(name="u_head_dim_not_dividing",
         cfg=unet((24,), 4, [AD], [AU], attention_head_dim=16),
         shape=(1, 3, 6, 6), t=12.0),
    # nothing but the block layout: layers_per_block 2, norm_num_groups 32, head dim 8,
    # flip_sin_to_cos true, freq_shift 0, norm_eps 1e-5 all come from the __init__ defaults
    dict(name="u_config_defaults_g32",
         cfg={"_class_name": "UNet2DModel", "block_out_channels": [32, 64],
              "down_block_types": [D, AD], "up_block_types": [AU, U]},
         shape=(1, 3, 16, 16), t=321.0),
    dict(name="u_wider_32x32",
         cfg=unet((32, 64), 32, [AD, AD], [AU, AU], attention_head_dim=32, layers_per_block=2),
         shape=(1, 3, 32, 32), ts=[17.0]),
    dict(name="u_legacy_keys_old_config", quick=True,
         cfg=ddpm_style((16, 16), 4, [D, AD], [AU, U], 1),
         shape=(1, 3, 8, 8), t=999.0, legacy=True, raw_config=True),
    dict(name="u_ddpm_cifar10_shape",
         cfg=ddpm_style((16, 32, 32, 32), 8, [D, AD, D, D], [U, U, AU, U], 2,
                        attention_head_dim=None, norm_num_groups=8),
         shape=(1, 3, 32, 32), t=50.0, legacy=True, raw_config=True),
]


def kl(boc, groups, layers, latent, **kw):
    cfg = {"_class_name": "AutoencoderKL", "block_out_channels": list(boc), "norm_num_groups": groups,
           "down_block_types": ["DownEncoderBlock2D"] * len(boc),
           "up_block_types": ["UpDecoderBlock2D"] * len(boc), "layers_per_block": layers,
           "latent_channels": latent, "in_channels": 3, "out_channels": 3}
    cfg.update(kw)
    return cfg


ALL_PARTS = [None, "encode", "decode"]

VAE_CASES = [
    dict(name="kl_1level_odd", quick=True, cfg=kl((8,), 4, 1, 4), shape=(1, 3, 13, 11),
         parts=ALL_PARTS, latent=(5, 7)),
    dict(name="kl_2level_lat3_batch2_odd_latent", quick=True, cfg=kl((8, 16), 4, 2, 3),
         shape=(2, 3, 18, 10), parts=ALL_PARTS, latent=(6, 5)),
    # 17 -> pad 18 -> 8, 12 -> pad 13 -> 6: the decoder gives 16x12, not the input size
    dict(name="kl_2level_odd_input", cfg=kl((8, 16), 4, 1, 4), shape=(1, 3, 17, 12),
         parts=[None, "encode"]),
    dict(name="kl_3level_no_mid_attn", cfg=kl((8, 16, 16), 8, 1, 4, mid_block_add_attention=False),
         shape=(1, 3, 24, 20), parts=ALL_PARTS, latent=(3, 4)),
    dict(name="kl_no_quant_conv", cfg=kl((8, 16), 2, 1, 4, use_quant_conv=False,
                                         use_post_quant_conv=False),
         shape=(2, 3, 16, 16), parts=ALL_PARTS, latent=(4, 4)),
    dict(name="kl_all_defaults", cfg={"_class_name": "AutoencoderKL"}, shape=(1, 3, 12, 16),
         parts=ALL_PARTS, latent=(6, 4)),
    dict(name="kl_sd_layout_small", cfg=kl((32, 32, 64, 64), 32, 2, 4), shape=(1, 3, 32, 24),
         parts=ALL_PARTS, latent=(3, 5)),
    dict(name="kl_odd_channels_scaling", cfg=kl((6, 12), 3, 1, 3, scaling_factor=0.13025,
                                                shift_factor=0.0609),
         shape=(1, 3, 10, 14), parts=ALL_PARTS, latent=(5, 3)),
]


def tiny(enc, dec, nenc, ndec, latent=4, **kw):
    cfg = {"_class_name": "AutoencoderTiny", "encoder_block_out_channels": list(enc),
           "decoder_block_out_channels": list(dec), "num_encoder_blocks": list(nenc),
           "num_decoder_blocks": list(ndec), "latent_channels": latent}
    cfg.update(kw)
    return cfg


TINY_CASES = [
    dict(name="tiny_small_odd_latent", quick=True, cfg=tiny((8, 8, 8), (8, 8, 8), (1, 2, 1), (1, 2, 1)),
         shape=(1, 3, 20, 12), parts=ALL_PARTS, latent=(5, 3)),
    # stride-2 convs with padding 1: 15x9 -> 8x5 -> 4x3; decoded back to 16x12
    dict(name="tiny_odd_input", cfg=tiny((8, 8, 8), (8, 8, 8), (1, 1, 1), (1, 1, 1)),
         shape=(1, 3, 15, 9), parts=[None, "encode"]),
    dict(name="tiny_widths_lat3_batch2", cfg=tiny((12, 12, 12), (10, 10, 10), (1, 1, 2), (2, 1, 1), 3),
         shape=(2, 3, 20, 12), parts=ALL_PARTS, latent=(4, 6)),
    dict(name="tiny_two_levels", cfg=tiny((16, 16), (16, 16), (1, 1), (1, 1)),
         shape=(1, 3, 8, 8), parts=ALL_PARTS, latent=(3, 3)),
    dict(name="tiny_default_config_64", quick=True, cfg={"_class_name": "AutoencoderTiny"},
         shape=(1, 3, 64, 64), parts=ALL_PARTS, latent=(8, 8)),
]

FORMAT_UNET = unet((8, 16), 4, [D, AD], [AU, U], attention_head_dim=4)
FORMAT_CASES = [
    dict(name="fmt_f32", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, seed_name="fmt"),
    dict(name="fmt_f16", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, dtype="F16", seed_name="fmt"),
    dict(name="fmt_bf16", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, dtype="BF16", seed_name="fmt"),
    dict(name="fmt_sharded", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, sharded=True,
         seed_name="fmt"),
    dict(name="fmt_metadata", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0,
         metadata={"format": "pt", "note": "ignored by readers"}, seed_name="fmt"),
    dict(name="fmt_legacy_keys", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, legacy=True,
         seed_name="fmt"),
    dict(name="fmt_bf16_sharded_legacy_metadata", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0,
         dtype="BF16", sharded=True, legacy=True, metadata={"format": "pt"}, seed_name="fmt"),
    dict(name="fmt_f16_sharded3", cfg=FORMAT_UNET, shape=(1, 3, 8, 8), t=300.0, dtype="F16",
         sharded=True, n_shards=3, seed_name="fmt"),
    dict(name="fmt_tiny_bf16", cfg=tiny((8, 8), (8, 8), (1, 1), (1, 1)), shape=(1, 3, 8, 8),
         parts=[None], dtype="BF16"),
    dict(name="fmt_kl_f16_legacy", cfg=kl((8, 16), 4, 1, 4), shape=(1, 3, 8, 8), parts=[None],
         dtype="F16", legacy=True),
]


def ucond(boc, groups, downs, ups, **kw):
    cfg = {"_class_name": "UNet2DConditionModel", "block_out_channels": list(boc),
           "norm_num_groups": groups, "down_block_types": list(downs), "up_block_types": list(ups),
           "layers_per_block": 1, "cross_attention_dim": 12, "attention_head_dim": 2}
    cfg.update(kw)
    return cfg


CD, CU = "CrossAttnDownBlock2D", "CrossAttnUpBlock2D"

# UNet2DConditionModel: "ctx" (L, D) is encoder_hidden_states' shape per item; "cond" the
# width of timestep_cond (LCM).  attention_head_dim is the per-level HEAD COUNT (diffusers'
# naming quirk).  Odd sizes make every upsampler take the size of the skip it meets.
UNET_COND_CASES = [
    dict(name="uc_sd1_like", quick=True,
         cfg=ucond((8, 16, 16), 4, [CD, CD, D], [U, CU, CU]),
         shape=(1, 4, 8, 8), t=981.0, ctx=(7, 12)),
    dict(name="uc_sd1_like_batch2_odd_5x7", quick=True,
         cfg=ucond((8, 16, 16), 4, [CD, CD, D], [U, CU, CU], layers_per_block=2),
         shape=(2, 4, 5, 7), ts=[999.0, 1.0], ctx=(5, 12)),
    dict(name="uc_sd2_like_linear_per_level_heads", quick=True,
         cfg=ucond((8, 16, 32), 4, [CD, CD, D], [U, CU, CU], use_linear_projection=True,
                   attention_head_dim=[1, 2, 4], upcast_attention=True, cross_attention_dim=16),
         shape=(2, 4, 8, 12), ts=[500.0, 250.5], ctx=(9, 16)),
    dict(name="uc_inpaint_9ch",
         cfg=ucond((8, 16), 4, [CD, D], [U, CU], in_channels=9, out_channels=4),
         shape=(1, 9, 8, 8), t=400.0, ctx=(3, 12)),
    dict(name="uc_lcm_time_cond", quick=True,
         cfg=ucond((8, 16), 4, [CD, D], [U, CU], time_cond_proj_dim=6),
         shape=(2, 4, 6, 6), ts=[759.0, 499.0], ctx=(4, 12), cond=6),
    dict(name="uc_lcm_cond_absent",
         cfg=ucond((8, 16), 4, [CD, D], [U, CU], time_cond_proj_dim=6),
         shape=(1, 4, 6, 6), t=99.0, ctx=(4, 12)),
    dict(name="uc_no_mid_block_bksdm", quick=True,
         cfg=ucond((8, 16, 16), 4, [CD, CD, D], [U, CU, CU], mid_block_type=None),
         shape=(1, 4, 6, 10), t=10.0, ctx=(6, 12)),
    dict(name="uc_no_mid_block_odd_batch2",
         cfg=ucond((8, 16), 2, [CD, CD], [CU, CU], mid_block_type=None, use_linear_projection=True),
         shape=(2, 4, 7, 3), ts=[3.0, 4.0], ctx=(2, 12)),
    # 12 channels, 5 heads: heads of 2 channels, q/k/v 10 wide, proj_in 12 -> 10
    dict(name="uc_heads_not_dividing",
         cfg=ucond((12,), 4, [CD], [CU], attention_head_dim=5),
         shape=(1, 4, 4, 6), t=50.0, ctx=(3, 12)),
    dict(name="uc_per_level_lists",
         cfg=ucond((8, 16), 4, [CD, CD], [CU, CU], layers_per_block=[1, 2],
                   cross_attention_dim=[12, 12], attention_head_dim=[2, 4],
                   transformer_layers_per_block=[1, 1]),
         shape=(1, 4, 8, 8), t=300.0, ctx=(5, 12)),
    dict(name="uc_scale_shift_pad0_center_midscale",
         cfg=ucond((8, 16), 4, [CD, D], [U, CU], resnet_time_scale_shift="scale_shift",
                   downsample_padding=0, center_input_sample=True, mid_block_scale_factor=1.41421356,
                   flip_sin_to_cos=False, freq_shift=1, norm_eps=1e-6, time_embedding_dim=24),
         shape=(1, 4, 8, 8), t=123.0, ctx=(5, 12)),
    # only the layout: groups 32, head count 8, cross_attention_dim 1280, 2 layers all defaults
    dict(name="uc_config_defaults_g32",
         cfg={"_class_name": "UNet2DConditionModel", "block_out_channels": [32, 64],
              "down_block_types": [CD, D], "up_block_types": [U, CU]},
         shape=(1, 4, 8, 8), t=700.0, ctx=(77, 1280)),
    dict(name="uc_f16_weights", cfg=ucond((8, 16), 4, [CD, D], [U, CU]), dtype="F16",
         shape=(1, 4, 8, 8), t=600.0, ctx=(5, 12)),
]

SUITES = {"unet": UNET_CASES, "vae": VAE_CASES, "tiny": TINY_CASES, "formats": FORMAT_CASES,
          "unet-cond": UNET_COND_CASES}


# ---------------------------------------------------------------- helpers

def seed_of(name):
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def summary(cfg):
    c = cfg["_class_name"]
    if c == "UNet2DConditionModel":
        r = unet_cond.UNet2DConditionModel.resolve_config(cfg)
        bt = "".join("X" if b.startswith("CrossAttn") else "-" for b in r["down_block_types"])
        ut = "".join("X" if b.startswith("CrossAttn") else "-" for b in r["up_block_types"])
        s = "ucond c=%s g=%d L=%s dn=%s up=%s heads=%s cross=%s %s" % (
            ",".join(map(str, r["block_out_channels"])), r["norm_num_groups"], r["layers_per_block"],
            bt, ut, r["attention_head_dim"], r["cross_attention_dim"],
            "linear" if r["use_linear_projection"] else "conv")
        if r["mid_block_type"] is None:
            s += " nomid"
        if r["time_cond_proj_dim"] is not None:
            s += " cond=%d" % r["time_cond_proj_dim"]
        if r["resnet_time_scale_shift"] != "default":
            s += " ss"
        return s + " in=%d out=%d" % (r["in_channels"], r["out_channels"])
    if c == "UNet2DModel":
        r = models.UNet2DModel.resolve_config(cfg)
        bt = "".join("A" if b.startswith("Attn") else "-" for b in r["down_block_types"])
        ut = "".join("A" if b.startswith("Attn") else "-" for b in r["up_block_types"])
        s = "unet c=%s g=%d L=%d dn=%s up=%s hd=%s %s" % (
            ",".join(map(str, r["block_out_channels"])), r["norm_num_groups"], r["layers_per_block"],
            bt, ut, r["attention_head_dim"], r["time_embedding_type"][:3])
        if r["time_embedding_type"] == "positional":
            s += "(flip=%d,shift=%g)" % (r["flip_sin_to_cos"], r["freq_shift"])
        if r["resnet_time_scale_shift"] != "default":
            s += " ss"
        if r["downsample_padding"] != 1:
            s += " pad=%d" % r["downsample_padding"]
        if not r["add_attention"]:
            s += " nomidattn"
        if r["center_input_sample"]:
            s += " center"
        if r["mid_block_scale_factor"] != 1:
            s += " msf=%g" % r["mid_block_scale_factor"]
        if r["attn_norm_num_groups"] is not None:
            s += " ag=%d" % r["attn_norm_num_groups"]
        return s + " in=%d out=%d" % (r["in_channels"], r["out_channels"])
    if c == "AutoencoderKL":
        r = models.AutoencoderKL.resolve_config(cfg)
        s = "kl c=%s g=%d L=%d lat=%d" % (",".join(map(str, r["block_out_channels"])),
                                         r["norm_num_groups"], r["layers_per_block"], r["latent_channels"])
        if not r["mid_block_add_attention"]:
            s += " nomidattn"
        if not r["use_quant_conv"]:
            s += " noquant"
        return s
    r = models.AutoencoderTiny.resolve_config(cfg)
    return "tiny enc=%s/%s dec=%s/%s lat=%d" % (
        ",".join(map(str, r["encoder_block_out_channels"])), ",".join(map(str, r["num_encoder_blocks"])),
        ",".join(map(str, r["decoder_block_out_channels"])), ",".join(map(str, r["num_decoder_blocks"])),
        r["latent_channels"])


def nmse(c, r):
    c = c.double()
    r = r.double()
    den = float((r * r).sum())
    num = float(((c - r) ** 2).sum())
    return num / den if den > 0 else num


def run_cli(cmd, log):
    """-> (ok, message, clean_refusal): CLEAN_REFUSAL is true for an ordinary
    non-zero exit with a short message and no sanitizer report."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, "timed out after %d s" % CLI_TIMEOUT, False
    except OSError as exc:
        return False, "cannot run %s: %s" % (cmd[0], exc), False
    err_text = p.stderr.decode(errors="replace")
    if log:
        log.write("$ %s\n%s%s\n" % (" ".join(cmd), p.stdout.decode(errors="replace"), err_text))
    if p.returncode != 0:
        err = err_text.strip().splitlines()
        clean = (0 < p.returncode < 126 and 0 < len(err) <= 2
                 and "Sanitizer" not in err_text and "runtime error" not in err_text)
        return False, "exit %d: %s" % (p.returncode, err[-1] if err else "(no message)"), clean
    return True, "", False


# ---------------------------------------------------------------- one case

class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.cli_seconds = 0.0


def check_outputs(label, desc, ref_taps, out_path, args, res, output="sample"):
    """Compares OUT with the reference taps; prints the case line (with
    the NMSE of the tensor OUTPUT, the model's output)."""
    try:
        got = st.load(out_path)
    except Exception as exc:  # noqa: BLE001
        print("FAIL %s [%s]: cannot read %s: %s" % (label, desc, out_path, exc))
        res.failed += 1
        return
    problems = []
    lines = []
    worst, worst_name = 0.0, "exact"
    for name, ref in ref_taps.items():
        if name not in got:
            problems.append("tap %s missing from the C output" % name)
            continue
        c = got[name]
        if tuple(c.shape) != tuple(ref.shape):
            problems.append("tap %s shape %s, reference %s" % (name, list(c.shape), list(ref.shape)))
            continue
        e = nmse(c, ref)
        if not (e <= NMSE_LIMIT):
            problems.append("tap %s NMSE %.3g > %.0e" % (name, e, NMSE_LIMIT))
        if not (e <= worst):
            worst, worst_name = e, name
        lines.append("    %-28s %-18s nmse %.3g  max|err| %.3g" % (
            name, "x".join(map(str, ref.shape)), e, float((c.double() - ref.double()).abs().max())))
    out_e, max_err = float("nan"), float("nan")
    if output in got and output in ref_taps and got[output].shape == ref_taps[output].shape:
        out_e = nmse(got[output], ref_taps[output])
        max_err = float((got[output].double() - ref_taps[output].double()).abs().max())
    status = "FAIL" if problems else "PASS"
    print("%s %s [%s]: worst tap %.2e (%s), output nmse %.2e, max|err| %.2e" % (
        status, label, desc, worst, worst_name, out_e, max_err))
    if problems or args.verbose:
        for line in lines:
            print(line)
        for p in problems:
            print("    ! " + p)
    if problems:
        res.failed += 1
    else:
        res.passed += 1


def run_case(case, suite, args, root, res, log):
    cfg = case["cfg"]
    kind = cfg["_class_name"]
    folder = os.path.join(root, suite, case["name"])
    model_dir = os.path.join(folder, "model")
    os.makedirs(model_dir, exist_ok=True)
    seed = seed_of(case.get("seed_name", case["name"]))
    cond_unet = kind == "UNet2DConditionModel"
    model = unet_cond.build(cfg, seed) if cond_unet else models.build(cfg, seed)
    model.save_pretrained(model_dir, dtype=case.get("dtype", "F32"), sharded=case.get("sharded", False),
                          legacy_attention_keys=case.get("legacy", False),
                          metadata=case.get("metadata"), raw_config=case.get("raw_config", False),
                          n_shards=case.get("n_shards", 2))
    desc = summary(cfg)
    if case.get("dtype", "F32") != "F32":
        desc += " " + case["dtype"]
    if case.get("sharded"):
        desc += " sharded%d" % case.get("n_shards", 2)
    if case.get("legacy"):
        desc += " legacy-keys"
    if case.get("metadata"):
        desc += " metadata"

    gen = torch.Generator().manual_seed(seed + 1)
    if kind in ("UNet2DModel", "UNet2DConditionModel"):
        runs = [None]
    else:
        runs = case.get("parts", [None])
    for part in runs:
        label = "%s/%s%s" % (suite, case["name"], ("/" + part) if part else "")
        n, c, h, w = case["shape"]
        if part == "decode":
            lh, lw = case["latent"]
            lc = models.MODEL_CLASSES[kind].resolve_config(cfg)["latent_channels"]
            x = torch.randn(n, lc, lh, lw, generator=gen)
        else:
            x = torch.rand(n, c, h, w, generator=gen) * 2 - 1
        inputs = {"sample": x}
        cmd = [args.cli, "forward", "--model", model_dir]
        with torch.no_grad():
            if kind in ("UNet2DModel", "UNet2DConditionModel"):
                if "ts" in case:
                    tt = torch.tensor(case["ts"], dtype=torch.float32)
                    inputs["timestep"] = tt
                    ref_t = tt
                    desc_t = "t=" + ",".join("%g" % v for v in case["ts"])
                else:
                    ref_t = torch.tensor([case["t"]], dtype=torch.float32)
                    desc_t = "t=%g" % case["t"]
                if "t" in case:
                    cmd += ["--timestep", "%.9g" % case["t"]]
                if cond_unet:
                    ctx = torch.randn(n, *case["ctx"], generator=gen)
                    inputs["encoder_hidden_states"] = ctx
                    cond = None
                    if "cond" in case:
                        cond = torch.randn(n, case["cond"], generator=gen) * 4
                        inputs["timestep_cond"] = cond
                    _, taps = model.forward_taps(x, ref_t, ctx, cond)
                    desc_t += " ctx=%dx%d" % case["ctx"]
                else:
                    _, taps = model.forward_taps(x, ref_t)
                extra = " %s %s" % ("x".join(map(str, x.shape)), desc_t)
            else:
                _, taps = model.forward_taps(x, part)
                extra = " %s" % "x".join(map(str, x.shape))
                if part:
                    cmd += ["--part", part]
        in_path = os.path.join(folder, "in%s.safetensors" % ("-" + part if part else ""))
        out_path = os.path.join(folder, "out%s.safetensors" % ("-" + part if part else ""))
        st.save(in_path, inputs)
        st.save(os.path.join(folder, "ref%s.safetensors" % ("-" + part if part else "")),
                {k: v.contiguous() for k, v in taps.items()})
        cmd += ["--input", in_path, "--dump-blocks", "-o", out_path]
        if args.threads:
            cmd += ["--threads", str(args.threads)]
        t0 = time.time()
        ok, msg, clean = run_cli(cmd, log)
        dt = time.time() - t0
        res.cli_seconds += dt
        if not ok:
            print("FAIL %s [%s%s]: CLI %s" % (label, desc, extra, msg))
            print("    $ " + " ".join(cmd))
            res.failed += 1
            continue
        check_outputs(label, desc + extra + " %.1fs" % dt, taps, out_path, args, res)


# ---------------------------------------------------------------- main

def finish(suite, total, res, kept):
    """Prints the suite's summary lines; returns the exit status."""
    print("suite %s: %.1f s (reference %.1f s, CLI %.1f s)%s" % (
        suite, total, total - res.cli_seconds, res.cli_seconds,
        (", files kept in " + kept) if kept else ""))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 0 if res.failed == 0 and res.passed > 0 else 1


def run_ops(args, root):
    if not args.test_ops:
        print("suite ops needs --test-ops PATH")
        return 1
    folder = os.path.join(root, "ops")
    os.makedirs(folder, exist_ok=True)
    n = ops_cases.write(folder)
    print("ops: %d cases in %s" % (n, folder))
    sys.stdout.flush()
    p = subprocess.run([args.test_ops, os.path.join(folder, "ops.json"),
                        os.path.join(folder, "ops.safetensors")], timeout=CLI_TIMEOUT)
    return p.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the generative executable")
    ap.add_argument("--suite", required=True, choices=sorted(list(SUITES) + ["ops"]))
    ap.add_argument("--test-ops", help="the C test-ops executable (suite ops)")
    ap.add_argument("--quick", action="store_true", help="only the cases marked quick")
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    ap.add_argument("--only", metavar="SUBSTR", help="only cases whose name contains SUBSTR")
    ap.add_argument("--threads", type=int, default=0, help="pass --threads N to the CLI")
    ap.add_argument("--verbose", action="store_true", help="print every tap")
    args = ap.parse_args()

    if torch is None:
        print("parity: the PyTorch reference cannot be imported (%s: %s); "
              "needs Debian's python3-torch" % (type(IMPORT_ERROR).__name__, IMPORT_ERROR))
        if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1":
            print("0 passed, 1 failed")
            return 1
        return 77
    torch.set_num_threads(1)  # the tensors are tiny: threads only add overhead

    if args.keep:
        root = os.path.abspath(args.keep)
        os.makedirs(root, exist_ok=True)
    else:
        root = tempfile.mkdtemp(prefix="generative-parity-")
    try:
        if args.suite == "ops":
            return run_ops(args, root)
        cases = SUITES[args.suite]
        if args.quick:
            cases = [c for c in cases if c.get("quick")]
        if args.only:
            cases = [c for c in cases if args.only in c["name"]]
        res = Result()
        t0 = time.time()
        with open(os.path.join(root, "cli-%s.log" % args.suite), "w") as log:
            for case in cases:
                try:
                    run_case(case, args.suite, args, root, res, log)
                except Exception as exc:  # noqa: BLE001 — report and go on with the next case
                    print("FAIL %s/%s: reference error %s: %s" % (args.suite, case["name"],
                                                                  type(exc).__name__, exc))
                    res.failed += 1
                sys.stdout.flush()
        return finish(args.suite, time.time() - t0, res, root if args.keep else None)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
