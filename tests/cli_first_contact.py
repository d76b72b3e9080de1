#!/usr/bin/python3
"""What a new user of `generative` sees: each job's --help lists its own
options with their defaults and an example; the command list is one line a
command; text is plain ASCII under LC_ALL=C and UTF-8 under C.UTF-8;
progress reaches a log file as lines when stderr is not a terminal (and
--quiet silences it); `generative demo` denoises its test scene (and a photo)
with a measured gain.

    python3 tests/cli_first_contact.py --cli build/core/generative

Needs no torch: it uses the embedded default model of the source tree."""
import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import zlib

JOB_OPTIONS = {
    "generate": [("--width", "(default: the model's size)"), ("--height", "(default: "),
                 ("--count", "(default: 1)")],
    "denoise": [("--sigma", "(default: auto)"), ("--mode", "(default: fast)"),
                ("--strength", "(default: 1)"), ("--mask", "(default: everywhere)")],
    "inpaint": [("--mask", "(required)"), ("--jump", "(default: 10)"),
                ("--resample", "(default: 10)")],
    "vary": [("--strength", "(required)")],
    "vae": [("--sample", "(default: the mean)")],
    "interpolate": [("--frames", "(default: 8)")],
    "demo": [("--sigma", "(default: 25)"), ("--seed", "(default: 1)"),
             ("--output", "(default: before-after.png)")],
}
COMMON = [("--steps", "(default: 30)"), ("--scheduler", "else ddim)"),
          ("--tile", "(default: 512)"), ("--quiet", "no progress")]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def write_png(path, w, h):
    """A smooth RGB gradient with a bright square."""
    rows = b""
    for y in range(h):
        row = bytearray(b"\0")
        for x in range(w):
            inside = w // 4 <= x < w // 2 and h // 4 <= y < h // 2
            row += bytes((250, 240, 200) if inside else
                         ((40 + 4 * x) % 256, (30 + 5 * y) % 256, (200 + 2 * x) % 256))
        rows += bytes(row)

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()
    cli = os.path.abspath(args.cli)
    counts = [0, 0]

    def check(name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail and not ok else ''}")
        counts[0 if ok else 1] += 1

    def run(argv, locale="C.UTF-8", **kw):
        env = dict(os.environ, LC_ALL=locale, LANG=locale)
        return subprocess.run([cli] + argv, capture_output=True, env=env, **kw)

    # ---- help ---------------------------------------------------------------------
    r = run(["--help"])
    top = r.stdout.decode()
    check("top-level help exits 0", r.returncode == 0, r.stderr.decode())
    for cmd in list(JOB_OPTIONS) + ["forward", "tokenize"]:
        lines = [l for l in top.splitlines() if re.match(r"  %s +\S" % cmd, l)]
        check(f"top-level help: {cmd} on one line", len(lines) == 1, top)
    long = [l for l in top.splitlines() if len(l) > 79]
    check("top-level help: no line past 79 columns", not long, repr(long))

    for job, options in JOB_OPTIONS.items():
        r = run([job, "--help"])
        text = r.stdout.decode()
        check(f"{job} --help exits 0 and writes nothing else", r.returncode == 0 and not r.stderr,
              r.stderr.decode())
        for opt, default in options + (COMMON if job != "demo" else []):
            # the option's line and its wrapped continuation, as one line
            m = re.search(r"^  (-\w, |    )%s\b.*\n(^ {26}.*\n)*" % re.escape(opt), text, re.M)
            block = " ".join(m.group(0).split()) if m else ""
            check(f"{job} --help: {opt} with {default!r}", default in block, text)
        check(f"{job} --help: an example", re.search(r"Example:\n  generative %s " % job, text)
              is not None, text)
        others = {o for j, opts in JOB_OPTIONS.items() if j not in (job, "demo")
                  for o, _ in opts} - {o for o, _ in options}
        shown = [o for o in others if re.search(r"^\s+%s\b" % re.escape(o), text, re.M)]
        check(f"{job} --help: no other job's options", not shown, repr(shown))
    r = run(["denoise", "--help-job"])
    check("--help-job still works", r.returncode == 0 and b"--sigma" in r.stdout)

    # ---- text in every locale ----------------------------------------------------------
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ba.png")
        for locale in ("C", "POSIX"):
            for argv in (["--help"], ["generate", "--help"], ["interpolate", "--help"],
                         ["forward", "--help"], ["tokenize", "--help"], ["demo", "-q", "-o", out],
                         ["denoise", "--mask", os.path.join(tmp, "none.png"), "x.png", "-o", out]):
                r = run(argv, locale)
                data = r.stdout + r.stderr
                check(f"LC_ALL={locale} {' '.join(argv[:2])}: plain ASCII",
                      data and all(b < 128 for b in data), repr(data[:200]))
        r = run(["demo", "-q", "-o", out], "C.UTF-8")
        text = r.stdout.decode("utf-8", errors="strict")
        check("C.UTF-8 demo: UTF-8 with σ and ×", "σ 25" in text and "320×240" in text, text)
        r = run(["generate", "--help"], "C.UTF-8")
        check("C.UTF-8 help: … as itself", "SEED+1, … (default: 1)" in r.stdout.decode(),
              r.stdout.decode())
        r = run(["generate", "--help"], "C")
        check("LC_ALL=C help: … as ...", "SEED+1, ... (default: 1)" in r.stdout.decode(),
              r.stdout.decode())

        # ---- progress --------------------------------------------------------------------
        log = os.path.join(tmp, "log")
        with open(log, "wb") as f:
            r = subprocess.run([cli, "generate", "--seed", "1", "--steps", "20", "--width", "32",
                                "--height", "32", "--threads", "1", "-o", out], stderr=f)
        with open(log) as f:
            lines = f.read().splitlines()
        prog = [l for l in lines if l.startswith("progress: ")]
        check("progress: generate ran", r.returncode == 0)
        check("progress: a line per 5 % in a log file (20 steps: 20 lines)", len(prog) == 20,
              "\n".join(lines))
        check("progress: steps, tiles and ETA on each line",
              all(re.match(r"progress: \d+% \(step \d+/20, 1 tile, ([\d.]+ s, ETA \d+ s|done in [\d.]+ s)\)$",
                           l) for l in prog), "\n".join(prog))
        check("progress: the last line says done", prog and prog[-1].startswith("progress: 100% (step 20/20")
              and "done in" in prog[-1], "\n".join(prog))
        check("progress: no terminal codes in a log", all("\r" not in l and "\x1b" not in l for l in lines))
        with open(log, "wb") as f:
            subprocess.run([cli, "generate", "--seed", "1", "--steps", "20", "--width", "32",
                            "--height", "32", "--threads", "1", "--quiet", "-o", out], stderr=f)
        with open(log) as f:
            quiet = f.read()
        check("progress: --quiet silences it", "progress" not in quiet and quiet == "", quiet)
        big = os.path.join(tmp, "big.png")
        write_png(big, 200, 72)
        with open(log, "wb") as f:
            subprocess.run([cli, "denoise", "--sigma", "10", "--tile", "64", "--threads", "1",
                            big, "-o", out], stderr=f)
        with open(log) as f:
            text = f.read()
        m = re.search(r"progress: 100% \(step 1/1, (\d+) tiles, done", text)
        check("progress: the tiles of a tiled run", m is not None and int(m.group(1)) > 1, text)

        # ---- demo ---------------------------------------------------------------------------
        r = run(["demo", "-o", out, "--threads", "2"], "C")
        text = r.stdout.decode()
        m = re.search(r"a gain of \+([\d.]+) dB", text)
        check("demo: runs", r.returncode == 0, r.stderr.decode())
        check("demo: reports a gain above 3 dB on its scene", m is not None and float(m.group(1)) > 3.0,
              text)
        check("demo: before/after side by side", os.path.exists(out) and png_size(out) == (644, 240))
        r2 = run(["demo", "-q", "-o", out, "--threads", "1"], "C")
        check("demo: the same numbers again (seeded)",
              re.sub(r"in [\d.]+ s", "", r2.stdout.decode()) == re.sub(r"in [\d.]+ s", "", text),
              r2.stdout.decode())
        photo = os.path.join(tmp, "photo.png")
        write_png(photo, 48, 40)
        r = run(["demo", photo, "-q", "--sigma", "30", "-o", out], "C")
        check("demo PHOTO: the photo with noise beside it denoised",
              r.returncode == 0 and png_size(out) == (2 * 48 + 4, 40) and "photo.png, 48x40" in
              r.stdout.decode() and "a gain of +" in r.stdout.decode(), r.stderr.decode())
        r = run(["demo", photo, photo, "-o", out], "C")
        check("demo: two photos refused", r.returncode == 1 and b"at most one photo" in r.stderr)
        r = run(["demo", "--sigma", "0", "-o", out], "C")
        check("demo: --sigma 0 refused", r.returncode == 1 and b"--sigma" in r.stderr)

    print(f"{counts[0]} passed, {counts[1]} failed")
    sys.exit(1 if counts[1] else 0)


if __name__ == "__main__":
    main()
