#!/usr/bin/python3
"""`generative` on bad input: every error is one line on stderr naming what is
wrong, the exit status is 1, and no output file is left behind.

    python3 tests/test_cli.py --cli build/core/generative

Needs no torch: it writes its own tiny files."""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile


def write_st(path, tensors):
    """tensors: {name: (shape, [floats])} as F32."""
    header, blobs, off = {}, [], 0
    for name, (shape, values) in tensors.items():
        b = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    passed = failed = 0

    with tempfile.TemporaryDirectory() as tmp:
        good = os.path.join(tmp, "in.safetensors")
        write_st(good, {"sample": ([1, 1, 2, 2], [0.0, 1.0, 2.0, 3.0])})
        nosample = os.path.join(tmp, "nosample.safetensors")
        write_st(nosample, {"other": ([1], [0.0])})
        corrupt = os.path.join(tmp, "corrupt.safetensors")
        with open(corrupt, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        notmodel = os.path.join(tmp, "notmodel")
        os.mkdir(notmodel)
        with open(os.path.join(notmodel, "config.json"), "w") as f:
            f.write('{"_class_name": "StableDiffusionPipeline"}')
        out = os.path.join(tmp, "out.safetensors")

        cases = [
            ("no command", [], "Usage"),
            ("unknown command", ["frobnicate"], "unknown command 'frobnicate'"),
            ("forward without arguments", ["forward"], "--model"),
            ("missing model folder", ["forward", "--model", os.path.join(tmp, "nope"),
                                      "--input", good, "-o", out], "nope"),
            ("not a model", ["forward", "--model", notmodel, "--input", good, "-o", out],
             "StableDiffusionPipeline"),
            ("bad --part", ["forward", "--model", notmodel, "--input", good, "--part", "middle",
                            "-o", out], "middle"),
            ("bad --threads", ["forward", "--model", notmodel, "--input", good, "--threads", "-3",
                               "-o", out], "--threads"),
            ("unknown option", ["forward", "--bogus"], "bogus"),
        ]
        for name, argv, needle in cases:
            r = subprocess.run([args.cli] + argv, capture_output=True, text=True)
            msg = r.stderr.strip()
            ok = (r.returncode != 0 and needle in (msg + r.stdout)
                  and not os.path.exists(out))
            print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode}: {msg[:160]}")
            passed += ok
            failed += not ok

        # Input-file errors need a real model: a one-tensor-short config fails
        # earlier, so use the missing/corrupt input with a model that loads.
        model = os.path.join(tmp, "tiny")
        os.mkdir(model)
        cfg = {"_class_name": "AutoencoderTiny", "encoder_block_out_channels": [4],
               "decoder_block_out_channels": [4], "num_encoder_blocks": [0],
               "num_decoder_blocks": [0], "latent_channels": 2, "in_channels": 1,
               "out_channels": 1}
        with open(os.path.join(model, "config.json"), "w") as f:
            json.dump(cfg, f)
        w = {
            "encoder.layers.0.weight": ([4, 1, 3, 3], [0.1] * 36),
            "encoder.layers.0.bias": ([4], [0.0] * 4),
            "encoder.layers.1.weight": ([2, 4, 3, 3], [0.1] * 72),
            "encoder.layers.1.bias": ([2], [0.0] * 2),
            "decoder.layers.0.weight": ([4, 2, 3, 3], [0.1] * 72),
            "decoder.layers.0.bias": ([4], [0.0] * 4),
            "decoder.layers.2.weight": ([1, 4, 3, 3], [0.1] * 36),
            "decoder.layers.2.bias": ([1], [0.0]),
        }
        write_st(os.path.join(model, "diffusion_pytorch_model.safetensors"), w)
        cases = [
            ("missing input", ["--input", os.path.join(tmp, "none.safetensors")], "none.safetensors"),
            ("corrupt input", ["--input", corrupt], "corrupt.safetensors"),
            ("input without sample", ["--input", nosample], "'sample'"),
            ("wrong channel count", ["--input", good, "--part", "decode"], "channels"),
            ("output in a missing folder", ["--input", good, "-o",
                                            os.path.join(tmp, "no", "dir", "o.safetensors")], "o.safetensors"),
        ]
        for name, argv, needle in cases:
            cmd = [args.cli, "forward", "--model", model] + argv
            if "-o" not in argv:
                cmd += ["-o", out]
            r = subprocess.run(cmd, capture_output=True, text=True)
            msg = r.stderr.strip()
            ok = (r.returncode == 1 and needle in msg and len(msg.splitlines()) == 1
                  and not os.path.exists(out))
            print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode}: {msg[:160]}")
            passed += ok
            failed += not ok

        # and the good case works, so the cases above fail for their reason
        r = subprocess.run([args.cli, "forward", "--model", model, "--input", good, "-o", out],
                           capture_output=True, text=True)
        ok = r.returncode == 0 and os.path.exists(out)
        print(f"{'ok  ' if ok else 'FAIL'} valid run: exit {r.returncode} {r.stderr.strip()}")
        passed += ok
        failed += not ok

        p, f = cond_unet_cases(args.cli, tmp, good, out)
        passed += p
        failed += f

    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


def cond_unet_cases(cli, tmp, good, out):
    """A one-level UNet2DConditionModel (no cross-attention block, no mid
    block): forward reads encoder_hidden_states [N, L, D] (and timestep_cond)."""
    model = os.path.join(tmp, "cond")
    os.mkdir(model)
    cfg = {"_class_name": "UNet2DConditionModel", "in_channels": 1, "out_channels": 1,
           "block_out_channels": [2], "layers_per_block": 1, "norm_num_groups": 1,
           "down_block_types": ["DownBlock2D"], "up_block_types": ["UpBlock2D"],
           "mid_block_type": None, "cross_attention_dim": 3, "attention_head_dim": 1}
    with open(os.path.join(model, "config.json"), "w") as f:
        json.dump(cfg, f)
    w = {}

    def add(name, *shape):
        n = 1
        for d in shape:
            n *= d
        w[name] = (list(shape), [0.05 * ((i % 7) - 3) for i in range(n)])

    def resnet(p, cin, cout):
        for nm, c in (("norm1", cin), ("norm2", cout)):
            add(p + "." + nm + ".weight", c)
            add(p + "." + nm + ".bias", c)
        add(p + ".conv1.weight", cout, cin, 3, 3)
        add(p + ".conv1.bias", cout)
        add(p + ".conv2.weight", cout, cout, 3, 3)
        add(p + ".conv2.bias", cout)
        add(p + ".time_emb_proj.weight", cout, 8)
        add(p + ".time_emb_proj.bias", cout)
        if cin != cout:
            add(p + ".conv_shortcut.weight", cout, cin, 1, 1)
            add(p + ".conv_shortcut.bias", cout)

    add("conv_in.weight", 2, 1, 3, 3)
    add("conv_in.bias", 2)
    add("time_embedding.linear_1.weight", 8, 2)
    add("time_embedding.linear_1.bias", 8)
    add("time_embedding.linear_2.weight", 8, 8)
    add("time_embedding.linear_2.bias", 8)
    resnet("down_blocks.0.resnets.0", 2, 2)
    resnet("up_blocks.0.resnets.0", 4, 2)
    resnet("up_blocks.0.resnets.1", 4, 2)
    add("conv_norm_out.weight", 2)
    add("conv_norm_out.bias", 2)
    add("conv_out.weight", 1, 2, 3, 3)
    add("conv_out.bias", 1)
    write_st(os.path.join(model, "diffusion_pytorch_model.safetensors"), w)

    ctx_ok = os.path.join(tmp, "ctx-ok.safetensors")
    write_st(ctx_ok, {"sample": ([1, 1, 3, 5], [0.1] * 15), "timestep": ([1], [10.0]),
                      "encoder_hidden_states": ([1, 4, 3], [0.5] * 12)})
    ctx_wide = os.path.join(tmp, "ctx-wide.safetensors")
    write_st(ctx_wide, {"sample": ([1, 1, 2, 2], [0.0] * 4),
                        "encoder_hidden_states": ([1, 4, 5], [0.5] * 20)})
    with_cond = os.path.join(tmp, "cond.safetensors")
    write_st(with_cond, {"sample": ([1, 1, 2, 2], [0.0] * 4),
                         "encoder_hidden_states": ([1, 4, 3], [0.5] * 12),
                         "timestep_cond": ([1, 2], [1.0, 2.0])})
    passed = failed = 0
    if os.path.exists(out):
        os.remove(out)
    for name, inp, needle in (("conditional UNet without encoder_hidden_states", good,
                               "encoder_hidden_states"),
                              ("encoder_hidden_states of the wrong width", ctx_wide,
                               "encoder_hidden_states"),
                              ("timestep_cond without time_cond_proj_dim", with_cond,
                               "timestep_cond")):
        r = subprocess.run([cli, "forward", "--model", model, "--input", inp, "-o", out],
                           capture_output=True, text=True)
        msg = r.stderr.strip()
        ok = (r.returncode == 1 and needle in msg and len(msg.splitlines()) == 1
              and not os.path.exists(out))
        print(f"{'ok  ' if ok else 'FAIL'} {name}: exit {r.returncode}: {msg[:160]}")
        passed += ok
        failed += not ok
    r = subprocess.run([cli, "forward", "--model", model, "--input", ctx_ok, "--dump-blocks",
                        "-o", out], capture_output=True, text=True)
    ok = r.returncode == 0 and os.path.exists(out)
    print(f"{'ok  ' if ok else 'FAIL'} conditional UNet, odd size 3x5: exit {r.returncode} "
          f"{r.stderr.strip()}")
    if os.path.exists(out):
        os.remove(out)
    return passed + ok, failed + (not ok)


if __name__ == "__main__":
    main()
