#!/usr/bin/python3
"""Real-weights test: TAESD (AutoencoderTiny, real trained BF16 weights) encodes
and decodes the validation images through `generative forward`, and through
the PyTorch reference on the same weights.

    /usr/bin/python3 tests/realweights.py --cli build/core/generative [--all]

Checks, per image: the C latent and round trip match the reference
(NMSE ≤ 1e-5), and the round-trip PSNR (8-bit, all channels) is the
reference's to within 0.05 dB.  Prints the PSNR of each image and the mean.
Reads ../shared/weights/taesd and ../shared/testimages/mcmaster beside the
source tree (or GENERATIVE_SHARED); skips (exit 77) when they are absent.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77


def require_reference():
    return os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1"


try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"skipped: the reference needs python3-torch, python3-numpy and python3-pil ({e})")
    sys.exit(1 if require_reference() else SKIP)

sys.path.insert(0, os.path.join(HERE, "reference"))
import models  # noqa: E402
import st  # noqa: E402

NMSE_MAX = 1e-5


def nmse(a, b):
    return float(((a - b) ** 2).sum() / max(float((b ** 2).sum()), 1e-30))


def psnr8(x, ref):
    """PSNR in dB of two [-1, 1] images quantised to 8 bits."""
    q = lambda t: torch.clamp(torch.round((t + 1) * 127.5), 0, 255)
    mse = float(((q(x) - q(ref)) ** 2).mean())
    return 10 * math.log10(255.0 ** 2 / mse) if mse > 0 else float("inf")


def load_image(path, crop):
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    h, w = img.shape[:2]
    img = img[: h - h % crop, : w - w % crop]
    return torch.from_numpy(img).permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--all", action="store_true", help="all 18 images (default: 6)")
    args = ap.parse_args()

    shared = os.environ.get("GENERATIVE_SHARED", os.path.join(HERE, "..", "..", "shared"))
    taesd = os.path.join(shared, "weights", "taesd")
    images = os.path.join(shared, "testimages", "mcmaster")
    if not os.path.isdir(taesd) or not os.path.isdir(images):
        print(f"skipped: no TAESD weights or validation images under {shared}")
        sys.exit(SKIP)

    torch.set_num_threads(1)
    ref = models.load_pretrained(taesd)
    names = sorted(f for f in os.listdir(images) if f.endswith(".png"))
    if not args.all:
        names = names[::3]
    passed = failed = 0
    psnr_c, psnr_r = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            x = load_image(os.path.join(images, name), 8)
            inp, lat, out = (os.path.join(tmp, f) for f in ("in.st", "lat.st", "out.st"))
            st.save(inp, {"sample": x})
            for part, dst in (("encode", lat), (None, out)):
                cmd = [args.cli, "forward", "--model", taesd, "--input", inp, "-o", dst]
                r = subprocess.run(cmd + (["--part", part] if part else []),
                                   capture_output=True, text=True)
                if r.returncode != 0:
                    print(f"FAIL {name}: generative forward failed: {r.stderr.strip()}")
                    failed += 1
                    break
            else:
                with torch.no_grad():
                    want_lat = ref.forward(x, part="encode")
                    want = ref.forward(x)
                got_lat = st.load(lat)["sample"]
                got = st.load(out)["sample"]
                e_lat, e_out = nmse(got_lat, want_lat), nmse(got, want)
                p_c, p_r = psnr8(got, x), psnr8(want, x)
                ok = e_lat <= NMSE_MAX and e_out <= NMSE_MAX and abs(p_c - p_r) <= 0.05
                psnr_c.append(p_c)
                psnr_r.append(p_r)
                print(f"{'ok  ' if ok else 'FAIL'} {name} {x.shape[3]}x{x.shape[2]}: "
                      f"latent nmse {e_lat:.2e}, round trip nmse {e_out:.2e}, "
                      f"PSNR ours {p_c:.2f} dB, reference {p_r:.2f} dB")
                passed += ok
                failed += not ok
    if psnr_c:
        print(f"TAESD round-trip PSNR over {len(psnr_c)} images: ours {np.mean(psnr_c):.2f} dB, "
              f"reference {np.mean(psnr_r):.2f} dB")
    print(f"{passed} passed, {failed} failed")
    sys.exit(0 if failed == 0 and passed > 0 else 1)


if __name__ == "__main__":
    main()
