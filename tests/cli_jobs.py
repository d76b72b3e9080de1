#!/usr/bin/python3
"""The CLI's jobs end to end on a small random UNet: each job writes an image of
the right size and kind, and every bad input is one line on stderr, exit 1,
and no output file.

    /usr/bin/python3 tests/cli_jobs.py --cli build/core/generative
"""
import argparse
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import numpy as np
    import torch  # noqa: F401  (the reference models need it)
    from PIL import Image
except ImportError as e:  # pragma: no cover
    print(f"skipped: needs python3-torch, numpy and PIL ({e})")
    sys.exit(1 if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1" else 77)
sys.path.insert(0, os.path.join(HERE, "reference"))
import models  # noqa: E402

UNET = {"_class_name": "UNet2DModel", "sample_size": 16, "block_out_channels": [8, 16],
        "layers_per_block": 1, "norm_num_groups": 4, "add_attention": False,
        "down_block_types": ["DownBlock2D", "DownBlock2D"],
        "up_block_types": ["UpBlock2D", "UpBlock2D"]}


PNG_COLOUR = {0: "gray", 2: "RGB", 3: "palette", 4: "gray+alpha", 6: "RGBA"}


def png_kind(path):
    """What a PNG holds, from its IHDR: ((width, height), "16-bit gray").
    Pillow's mode names it differently across versions (16-bit gray is "I"
    in Debian 12's Pillow 9, "I;16" in trixie's 11), the header does not."""
    with open(path, "rb") as f:
        head = f.read(26)
    if len(head) < 26 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None, "not a PNG"
    width, height, depth, colour = struct.unpack(">IIBB", head[16:26])
    return (width, height), "%d-bit %s" % (depth, PNG_COLOUR.get(colour, "colour type %d" % colour))


def gray16(path):
    """A 16-bit gray PNG's samples as uint16 [H, W], whichever mode Pillow
    reads it in ("I" is int32, "I;16" uint16; both hold 0 .. 65535)."""
    size, kind = png_kind(path)
    if kind != "16-bit gray":
        raise ValueError("%s: %s, not 16-bit gray" % (path, kind))
    return np.asarray(Image.open(path)).astype(np.uint16)


def synthetic_scene():
    """A 128×96 test scene: smooth shading, edges, stripes and a red block."""
    yy, xx = np.mgrid[0:96, 0:128].astype(np.float64)
    scene = np.stack([80 + 100 * (xx / 128), 60 + 120 * ((yy // 24) % 2),
                      120 + 60 * np.sin(xx / 6.0)], axis=2)
    scene[30:70, 40:90] = (200, 40, 60)
    return scene


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    cli = os.path.abspath(ap.parse_args().cli)
    passed = failed = 0

    def check(name, ok, detail):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        passed += ok
        failed += not ok

    with tempfile.TemporaryDirectory() as tmp:
        unet = os.path.join(tmp, "unet")
        models.build(UNET, seed=1).save_pretrained(unet)
        rng = np.random.RandomState(0)
        Image.fromarray((rng.rand(30, 41, 3) * 255).astype(np.uint8)).save(os.path.join(tmp, "rgb.png"))
        Image.fromarray((rng.rand(30, 41, 4) * 255).astype(np.uint8), "RGBA").save(os.path.join(tmp, "rgba.png"))
        Image.fromarray((rng.rand(30, 41) * 65535).astype(np.uint16)).save(os.path.join(tmp, "gray16.png"))
        m = np.zeros((30, 41), np.uint8)
        m[10:20, 12:30] = 255
        Image.fromarray(m).save(os.path.join(tmp, "mask.png"))
        Image.fromarray(m[:20]).save(os.path.join(tmp, "smallmask.png"))
        with open(os.path.join(tmp, "broken.png"), "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00")
        out = os.path.join(tmp, "out.png")

        def run(args):
            if os.path.exists(out):
                os.remove(out)
            return subprocess.run([cli] + args, capture_output=True, text=True, cwd=tmp)

        m_ = ["--model", unet, "--steps", "3", "--seed", "1", "-q"]
        good = [
            ("generate", ["generate"] + m_ + ["--width", "24", "--height", "16", "-o", out], (16, 24), "8-bit RGB"),
            ("denoise rgba", ["denoise"] + m_ + ["rgba.png", "-o", out], (30, 41), "8-bit RGBA"),
            ("denoise gray16 sample", ["denoise"] + m_ + ["--sigma", "10", "--mode", "sample", "gray16.png", "-o", out], (30, 41), "16-bit gray"),
            ("inpaint", ["inpaint"] + m_ + ["--mask", "mask.png", "--jump", "1", "--resample", "1", "rgb.png", "-o", out], (30, 41), "8-bit RGB"),
            ("vary", ["vary"] + m_ + ["--strength", "0.5", "rgb.png", "-o", out], (30, 41), "8-bit RGB"),
        ]
        for name, args, shape, want in good:
            r = run(args)
            ok = r.returncode == 0 and os.path.exists(out)
            detail = r.stderr.strip().replace("\n", " | ")
            if ok:
                size, kind = png_kind(out)
                ok = size == (shape[1], shape[0]) and kind == want
                detail = f"{size} {kind}; {detail}"
            check(name, ok, detail)
        # inpaint keeps every pixel outside the mask
        run(["inpaint"] + m_ + ["--mask", "mask.png", "--jump", "1", "--resample", "1", "rgb.png", "-o", out])
        a = np.asarray(Image.open(os.path.join(tmp, "rgb.png"))).astype(int)
        b = np.asarray(Image.open(out)).astype(int)
        check("inpaint outside the mask", np.array_equal(a[m == 0], b[m == 0]) and not np.array_equal(a[m > 0], b[m > 0]),
              f"max diff outside {np.abs(a - b)[m == 0].max()}, inside {np.abs(a - b)[m > 0].max()}")

        bad = [
            ("missing input", ["denoise"] + m_ + ["nothere.png", "-o", out], "nothere.png"),
            ("corrupt input", ["vary"] + m_ + ["--strength", "0.3", "broken.png", "-o", out], "broken.png"),
            ("mask of another size", ["inpaint"] + m_ + ["--mask", "smallmask.png", "rgb.png", "-o", out], "41×20"),
            ("empty mask", ["inpaint"] + m_ + ["--mask", "rgb.png", "rgb.png", "-o", out], None),
            ("steps 0", ["vary"] + ["--model", unet, "--steps", "0", "--strength", "0.5", "rgb.png", "-o", out], "--steps"),
            ("steps 1000000", ["generate", "--model", unet, "--steps", "1000000", "--width", "16", "--height", "16", "-o", out], "steps"),
            ("strength 1.5", ["vary"] + m_ + ["--strength", "1.5", "rgb.png", "-o", out], "--strength"),
            ("unknown scheduler", ["generate"] + m_ + ["--scheduler", "lms", "-o", out], "lms"),
            ("sigmas with ddim", ["generate"] + m_ + ["--sigmas", "karras", "-o", out], "karras"),
            ("size not a multiple", ["generate"] + m_ + ["--width", "23", "--height", "16", "-o", out], "multiple"),
            ("too large an image", ["generate"] + m_ + ["--width", "60000", "--height", "60000", "-o", out], "60000"),
            ("bad seed", ["generate"] + ["--model", unet, "--seed", "-4", "-o", out], "--seed"),
            ("unknown format", ["vary"] + m_ + ["--strength", "0.3", "rgb.png", "-o", os.path.join(tmp, "o.bmp")], "o.bmp"),
            ("vae without a VAE", ["vae", "--model", unet, "rgb.png", "-o", out], "VAE"),
        ]
        for name, args, needle in bad:
            r = run(args)
            msg = r.stderr.strip()
            ok = (r.returncode == 1 and len(msg.splitlines()) == 1 and not os.path.exists(out)
                  and (needle is None or needle in msg))
            if name == "empty mask":
                # rgb.png as a mask is not empty: check the real empty one
                Image.fromarray(np.zeros((30, 41), np.uint8)).save(os.path.join(tmp, "empty.png"))
                r = run(["inpaint"] + m_ + ["--mask", "empty.png", "rgb.png", "-o", out])
                msg = r.stderr.strip()
                ok = r.returncode == 1 and "empty" in msg and not os.path.exists(out)
            check(name, ok, f"exit {r.returncode}: {msg[:150]}")
        # Out of memory: 8000×8000 (the image fits, the job's buffers do not) under a 1.5 GB address-space limit must be a
        # clean error.  AddressSanitizer reserves terabytes of address space, so
        # this case cannot run in an ASan build.
        with open(cli, "rb") as f:
            asan = b"__asan_" in f.read()
        if not asan:
            import resource

            def limit():
                resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))
            if os.path.exists(out):
                os.remove(out)
            r = subprocess.run([cli, "generate"] + m_ + ["--width", "8000", "--height", "8000", "-o", out],
                               capture_output=True, text=True, cwd=tmp, preexec_fn=limit)
            msg = r.stderr.strip()
            check("out of memory", r.returncode == 1 and "memory" in msg and len(msg.splitlines()) == 1
                  and not os.path.exists(out), f"exit {r.returncode}: {msg[:150]}")
        # No --scheduler: the model's own (its scheduler_config.json's class), and a
        # class there is no sampler for is refused, naming it
        import json
        import shutil
        for cls in ("LMSDiscreteScheduler", "PNDMScheduler"):
            folder = os.path.join(tmp, "unet-" + cls)
            shutil.copytree(unet, folder)
            with open(os.path.join(folder, "scheduler_config.json"), "w") as f:
                json.dump({"_class_name": cls, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                           "beta_end": 0.012, "skip_prk_steps": True, "steps_offset": 1}, f)
        g = ["generate", "--steps", "3", "--seed", "2", "-q", "--width", "16", "--height", "16"]
        r = run(g + ["--model", os.path.join(tmp, "unet-LMSDiscreteScheduler"), "-o", out])
        msg = r.stderr.strip()
        check("model's scheduler not implemented", r.returncode == 1 and "LMSDiscreteScheduler" in msg
              and "--scheduler" in msg and len(msg.splitlines()) == 1 and not os.path.exists(out), msg[:150])
        r = run(g + ["--model", os.path.join(tmp, "unet-LMSDiscreteScheduler"), "--scheduler", "ddim", "-o", out])
        check("model's scheduler not implemented, --scheduler given", r.returncode == 0, r.stderr.strip()[:150])
        pngs = []
        for extra in ([], ["--scheduler", "pndm"], ["--scheduler", "ddim"]):
            o = os.path.join(tmp, "pndm-%d.png" % len(pngs))
            r = run(g + ["--model", os.path.join(tmp, "unet-PNDMScheduler"), "-o", o] + extra)
            pngs.append(np.asarray(Image.open(o)) if r.returncode == 0 else None)
        check("model's scheduler PNDMScheduler is pndm", pngs[0] is not None and np.array_equal(pngs[0], pngs[1])
              and not np.array_equal(pngs[0], pngs[2]), "")
        # 16-bit in, 16-bit out
        arr = gray16(os.path.join(tmp, "gray16.png"))
        r = run(["denoise"] + m_ + ["--sigma", "10", "gray16.png", "-o", out])
        size, kind = png_kind(out) if r.returncode == 0 else (None, r.stderr.strip()[:150])
        res = gray16(out) if kind == "16-bit gray" else np.zeros(0, np.uint16)
        check("16-bit stays 16-bit", res.shape == arr.shape and res.max(initial=0) > 255,
              f"{kind}, max {res.max(initial=0)}")
        # The embedded default model denoises: a synthetic scene (smooth shading,
        # edges, stripes) with σ = 25 noise must gain at least 4 dB.
        embedded = os.path.join(HERE, "..", "weights", "generative-unet")
        if os.path.isdir(embedded):
            clean = synthetic_scene()
            noisy = np.clip(np.round(clean + np.random.RandomState(1).randn(*clean.shape) * 25), 0, 255)
            Image.fromarray(noisy.astype(np.uint8)).save(os.path.join(tmp, "noisy.png"))
            r = run(["denoise", "--model", embedded, "--sigma", "25", "-q", "noisy.png", "-o", out])
            psnr = lambda a: 10 * np.log10(255.0 ** 2 / ((a - np.round(clean)) ** 2).mean())
            if r.returncode == 0:
                den = np.asarray(Image.open(out)).astype(np.float64)
                gain = psnr(den) - psnr(noisy)
                check("embedded model denoises", gain >= 4.0,
                      f"PSNR {psnr(noisy):.2f} -> {psnr(den):.2f} dB (+{gain:.2f})")
            else:
                check("embedded model denoises", False, r.stderr.strip())
            r = run(["generate", "--model", embedded, "--steps", "10", "--seed", "4", "-q", "-o", out])
            check("embedded model generates", r.returncode == 0 and Image.open(out).size == (64, 64),
                  r.stderr.strip())
            # every other job on the embedded model (no --model: the default)
            src = np.asarray(Image.open(os.path.join(tmp, "rgb.png"))).astype(int)
            for name, args in (
                    ("inpaint", ["inpaint", "--model", embedded, "--steps", "8", "--jump", "2",
                                 "--resample", "2", "--seed", "1", "--mask", "mask.png", "rgb.png"]),
                    ("vary", ["vary", "--model", embedded, "--steps", "8", "--strength", "0.4",
                              "--seed", "1", "rgb.png"]),
                    ("denoise sample mode", ["denoise", "--model", embedded, "--mode", "sample",
                                             "--steps", "4", "rgb.png"])):
                r = run(args + ["-q", "-o", out])
                ok = r.returncode == 0 and os.path.exists(out)
                if ok:
                    res = np.asarray(Image.open(out)).astype(int)
                    ok = res.shape == src.shape and not np.array_equal(res, src)
                    if name == "inpaint":
                        ok = ok and np.array_equal(res[m == 0], src[m == 0])
                check(f"embedded model: {name}", ok, r.stderr.strip()[:120])
            fr = os.path.join(tmp, "frame.png")
            r = run(["interpolate", "--model", embedded, "--steps", "4", "--frames", "2", "-q",
                     "rgb.png", "rgb.png", "-o", fr])
            check("embedded model: interpolate (DDIM inversion)", r.returncode == 0
                  and all(os.path.exists(os.path.join(tmp, f"frame-{k}.png")) for k in range(2)),
                  r.stderr.strip()[:120])

        # The embedded VAE: the vae job's default (no --model), a round trip that keeps
        # the picture, and latent interpolation through it.
        embedded_vae = os.path.join(HERE, "..", "weights", "generative-vae")
        if os.path.isdir(embedded_vae):
            scene = synthetic_scene()
            Image.fromarray(np.round(scene).astype(np.uint8)).save(os.path.join(tmp, "scene.png"))
            Image.fromarray(np.round(scene[::-1]).astype(np.uint8)).save(os.path.join(tmp, "scene2.png"))
            rt = os.path.join(tmp, "vae-rt.png")
            # the default is found beside a build folder inside the source tree (or
            # installed); a build folder elsewhere names the folder
            beside = os.path.realpath(os.path.join(os.path.dirname(os.path.realpath(cli)),
                                                   "..", "..", "weights", "generative-vae"))
            default = beside == os.path.realpath(embedded_vae)
            r = run(["vae", "-q", "scene.png", "-o", rt] + ([] if default else ["--model", embedded_vae]))
            ok = r.returncode == 0 and os.path.exists(rt)
            if ok:
                a = np.asarray(Image.open(os.path.join(tmp, "scene.png")).convert("RGB"), np.float64)
                b = np.asarray(Image.open(rt).convert("RGB"), np.float64)
                psnr = 10 * np.log10(255.0 ** 2 / max(1e-9, ((a - b) ** 2).mean()))
                ok = a.shape == b.shape and psnr > 15.0
                print(f"   embedded VAE round trip: {psnr:.2f} dB")
            check("embedded VAE: the vae job's default", ok, r.stderr.strip()[:120])
            r = run(["interpolate", "--model", embedded_vae, "--frames", "2", "-q",
                     "scene.png", "scene2.png", "-o", os.path.join(tmp, "vframe.png")])
            check("embedded VAE: interpolate (latent slerp)", r.returncode == 0
                  and all(os.path.exists(os.path.join(tmp, f"vframe-{k}.png")) for k in range(2)),
                  r.stderr.strip()[:120])

        # A latent UNet with a VAE whose latents have other channels: one clear error.
        unet4 = os.path.join(tmp, "unet4")
        models.build(dict(UNET, in_channels=4, out_channels=4), seed=2).save_pretrained(unet4)
        vae3 = os.path.join(tmp, "vae3")
        models.build({"_class_name": "AutoencoderKL", "block_out_channels": [8, 8],
                      "down_block_types": ["DownEncoderBlock2D"] * 2,
                      "up_block_types": ["UpDecoderBlock2D"] * 2, "latent_channels": 3,
                      "norm_num_groups": 4, "layers_per_block": 1}, seed=3).save_pretrained(vae3)
        r = run(["vary", "--model", unet4, "--vae", vae3, "--strength", "0.5", "rgb.png", "-o", out])
        check("model/VAE latent mismatch", r.returncode == 1 and "4 channels" in r.stderr
              and len(r.stderr.strip().splitlines()) == 1
              and "3" in r.stderr and not os.path.exists(out), r.stderr.strip()[:150])
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 else 1)


if __name__ == "__main__":
    main()
