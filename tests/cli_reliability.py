#!/usr/bin/python3
"""Hostile models, images and limits end to end: corrupt weights and
out-of-domain configs, images and configs that ask for more memory than
the machine has, and weights files reached through symbolic links.  Each
must either work or fail with one clear line, exit 1 and no output file.

    /usr/bin/python3 tests/cli_reliability.py --cli build/core/generative
"""
import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print(f"skipped: needs python3-torch and numpy ({e})")
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else 77)
sys.path.insert(0, os.path.join(HERE, "reference"))
import models  # noqa: E402
import st  # noqa: E402

UNET = {"_class_name": "UNet2DModel", "sample_size": 16, "block_out_channels": [8, 16],
        "layers_per_block": 1, "norm_num_groups": 4, "add_attention": True,
        "attention_head_dim": 8,
        "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
        "up_block_types": ["AttnUpBlock2D", "UpBlock2D"]}
WEIGHTS = "diffusion_pytorch_model.safetensors"


def copy_model(src, dst, config=None, tensors=None, dtype="F32"):
    """SRC's folder as DST, with CONFIG's keys changed and TENSORS rewritten."""
    os.makedirs(dst)
    with open(os.path.join(src, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(config or {})
    with open(os.path.join(dst, "config.json"), "w") as f:
        json.dump(cfg, f)
    sd = st.load(os.path.join(src, WEIGHTS))
    if tensors:
        sd = tensors(sd)
    st.save(os.path.join(dst, WEIGHTS), sd, dtype=dtype)
    return dst


def png_bomb(path, width, height):
    """A valid PNG header declaring WIDTH×HEIGHT RGBA16 with a tiny IDAT: the
    loader must refuse it before it allocates the image."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, 6, 0, 0, 0)
    row = b"\x00" + b"\x00" * (width * 8)
    idat = zlib.compress(row * 4, 9)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    cli = os.path.abspath(ap.parse_args().cli)
    passed = failed = 0
    with open(cli, "rb") as f:
        asan = b"__asan_" in f.read()

    def check(name, ok, detail):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        passed += ok
        failed += not ok

    with tempfile.TemporaryDirectory() as tmp:
        unet = os.path.join(tmp, "unet")
        models.build(UNET, seed=1).save_pretrained(unet)
        out = os.path.join(tmp, "out.png")

        def run(args, limit_bytes=None):
            if os.path.exists(out):
                os.remove(out)

            def limit():
                resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
            return subprocess.run([cli] + args, capture_output=True, text=True, cwd=tmp,
                                  preexec_fn=limit if limit_bytes else None)

        def refused(name, args, needles, limit_bytes=None):
            r = run(args, limit_bytes)
            msg = r.stderr.strip()
            ok = (r.returncode == 1 and len(msg.splitlines()) == 1 and not os.path.exists(out)
                  and all(n in msg for n in needles))
            check(name, ok, f"exit {r.returncode}: {msg[:200]}")
            return msg

        gen = ["generate", "--steps", "3", "--seed", "1", "-q", "--width", "16", "--height", "16",
               "-o", out]

        # ---- NaN and Inf: refused in the config, caught in the model's output ----
        def nan_weight(sd):
            sd["conv_in.weight"][0, 0, 1, 1] = float("nan")
            return sd

        def all_65504(sd):
            return {k: torch.full_like(v, 65504.0) for k, v in sd.items()}

        nan = copy_model(unet, os.path.join(tmp, "nan"), tensors=nan_weight)
        big = copy_model(unet, os.path.join(tmp, "f16max"), tensors=all_65504, dtype="F16")
        eps = copy_model(unet, os.path.join(tmp, "eps"), config={"norm_eps": -1})
        refused("NaN weights", gen + ["--model", nan],
                ["UNet2DModel", "NaN", "step 1 of 3", "weights may be corrupt"])
        refused("F16 weights of 65504", gen + ["--model", big], ["UNet2DModel", "weights may be corrupt"])
        refused("norm_eps -1", gen + ["--model", eps], ["norm_eps", "greater than 0"])
        with open(os.path.join(eps, "config.json")) as f:
            text = f.read().replace('"norm_eps": -1', '"norm_eps": 1e999')
        with open(os.path.join(eps, "config.json"), "w") as f:
            f.write(text)
        refused("norm_eps 1e999", gen + ["--model", eps], ["norm_eps", "finite"])

        # ---- memory: asked for before it is taken ----
        # Under a 2 GB address-space limit (AddressSanitizer reserves terabytes
        # of address space, so there the same cap comes from the environment):
        # a 2 MB PNG declaring 16384×16384 RGBA16, and a model whose
        # sample_size asks for a 16384×16384 image, are refused with the
        # figures, well before they are allocated.
        cap = 2 << 30
        env_cap = {"GEN_MEMORY_AVAILABLE": str(cap)} if asan else {}
        bomb = os.path.join(tmp, "bomb.png")
        png_bomb(bomb, 16384, 16384)
        huge = copy_model(unet, os.path.join(tmp, "huge"), config={"sample_size": 16384})
        m_ = ["--model", unet, "--steps", "3", "--seed", "1", "-q"]
        os.environ.update(env_cap)
        for name, args in (("16384² RGBA16 PNG bomb", ["denoise"] + m_ + [bomb, "-o", out]),
                           ("sample_size 16384", ["generate", "--model", huge, "--steps", "3", "--seed", "1",
                                                  "-q", "-o", out])):
            refused(name, args, ["not enough memory", "needs", "available"],
                    None if asan else cap)
        for k in env_cap:
            del os.environ[k]
        # A job that fits only with fewer workers and smaller tiles runs, and
        # says so in its report.
        flat = os.path.join(tmp, "flat")
        models.build(dict(UNET, add_attention=False, down_block_types=["DownBlock2D"] * 2,
                          up_block_types=["UpBlock2D"] * 2), seed=1).save_pretrained(flat)
        os.environ["GEN_MEMORY_AVAILABLE"] = str(40 << 20)
        r = run(["generate", "--model", flat, "--steps", "1", "--seed", "1", "--width", "256",
                 "--height", "256", "--threads", "4", "-o", out])
        check("a job under a memory cap runs with smaller tiles",
              r.returncode == 0 and os.path.exists(out), f"exit {r.returncode}: {r.stderr.strip()[-200:]}")
        # Its image fits in 4 MB, its activations do not even on the smallest tile.
        os.environ["GEN_MEMORY_AVAILABLE"] = str(4 << 20)
        refused("a job that cannot fit", ["generate", "--model", flat, "--steps", "1", "--seed", "1",
                                          "--width", "256", "--height", "256", "-q", "-o", out],
                ["not enough memory: this job", "smallest tiles", "needs", "available"])
        # Weights count by the bytes they hold: 256-channel levels (68 MB as F32, 34 MB as
        # F16, which stays F16 in memory) on an 8×8 image, where the weights are most of
        # the need (78 MB from F32, 52 MB from F16): under a 64 MB cap the F32 file's job
        # is refused naming them, the same weights as F16 run.
        wide = dict(UNET, sample_size=8, block_out_channels=[256, 256], norm_num_groups=8,
                    add_attention=False, down_block_types=["DownBlock2D"] * 2,
                    up_block_types=["UpBlock2D"] * 2)
        wide_model = models.build(wide, seed=1)
        wide16, wide32 = os.path.join(tmp, "wide16"), os.path.join(tmp, "wide32")
        wide_model.save_pretrained(wide16, dtype="F16")
        wide_model.save_pretrained(wide32, dtype="F32")
        os.environ["GEN_MEMORY_AVAILABLE"] = str(64 << 20)
        wide_job = ["generate", "--steps", "1", "--seed", "1", "-q", "-o", out]
        refused("F32 weights that do not fit beside the job", wide_job + ["--model", wide32],
                ["not enough memory", "the weights it maps", "needs", "available"])
        r = run(wide_job + ["--model", wide16])
        check("the same weights as F16 fit (kept F16 in memory)",
              r.returncode == 0 and os.path.exists(out), f"exit {r.returncode}: {r.stderr.strip()[-200:]}")
        del os.environ["GEN_MEMORY_AVAILABLE"]

        # ---- symbolic links: the Hugging Face cache is made of them ----
        # snapshots/main/{config.json, weights} -> ../../blobs/<hash>, relative
        hub = os.path.join(tmp, "hub")
        snap = os.path.join(hub, "snapshots", "main")
        os.makedirs(os.path.join(hub, "blobs"))
        os.makedirs(snap)
        for name, blob in (("config.json", "c0ffee"), (WEIGHTS, "5eed")):
            shutil.copy(os.path.join(unet, name), os.path.join(hub, "blobs", blob))
            os.symlink(os.path.join("..", "..", "blobs", blob), os.path.join(snap, name))
        r = run(gen + ["--model", snap])
        check("symlinked weights load", r.returncode == 0 and os.path.exists(out),
              f"exit {r.returncode}: {r.stderr.strip()[:200]}")
        text = b"Once upon a time, this was a README and not a weights file.\n"
        with open(os.path.join(hub, "blobs", "text"), "wb") as f:
            f.write(text)
        os.remove(os.path.join(snap, WEIGHTS))
        os.symlink(os.path.join("..", "..", "blobs", "text"), os.path.join(snap, WEIGHTS))
        msg = refused("symlink to a text file", gen + ["--model", snap], ["not a safetensors file"])
        leaked = [str(struct.unpack("<Q", text[:8])[0]), "Once", "upon", "README"]
        check("no bytes of the text file in the message", not any(w in msg for w in leaked), msg[:200])

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
