#!/bin/sh
# batch-examples.sh CHROOT_DIR PLUGIN MODELS — runs the README's two GIMP 3.0
# batch examples (Script-Fu and Python-Fu: denoise every PNG of a folder
# headless) in gimp-console-3.0 inside the Debian trixie chroot made by
# tests/gimp/trixie-chroot.sh, and checks that each saved a result that
# exists and differs from its input.
#
# PLUGIN is the built GIMP 3.0 plug-in (BUILD/plugin/generative) and MODELS a
# folder with unet/ (tests/gimp/make-model.py), both as paths on this host:
# they are copied into the chroot.  The examples are the README's text with
# one addition, #:model / "model" pointing at MODELS/unet, since the chroot has
# no installed default model.  Run as root.  Exit status 0 only if both passed.
set -eu

usage="usage: batch-examples.sh CHROOT_DIR PLUGIN MODELS"
CH=$(realpath "${1:?$usage}")
PLUGIN=$(realpath "${2:?$usage}")
MODELS=$(realpath "${3:?$usage}")
[ -x "$CH/usr/bin/gimp-console-3.0" ] || { echo "no gimp-console-3.0 in $CH"; exit 1; }
[ -f "$PLUGIN" ] || { echo "no plug-in at $PLUGIN"; exit 1; }
[ -d "$MODELS/unet" ] || { echo "no model at $MODELS/unet"; exit 1; }

W=/tmp/gen-batch-examples            # inside the chroot
rm -rf "$CH$W"
mkdir -p "$CH$W/config/plug-ins/generative" "$CH$W/home" "$CH$W/models"
cp "$PLUGIN" "$CH$W/config/plug-ins/generative/generative"
cp -r "$MODELS/unet" "$CH$W/models/unet"

MOUNTED=""
cleanup () { for m in $MOUNTED; do umount -l "$CH$m" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
for m in /proc /dev /dev/pts /dev/shm; do
  if [ -d "$m" ] && ! mountpoint -q "$CH$m"; then
    mkdir -p "$CH$m"
    mount --bind "$m" "$CH$m"
    MOUNTED="$m $MOUNTED"
  fi
done

in_chroot () {
  chroot "$CH" /usr/bin/env -i PATH=/usr/bin:/bin HOME=$W/home LANG=C.UTF-8 \
    GIMP3_DIRECTORY=$W/config sh -ec "$1"
}

# Three noisy 48×40 RGB PNGs (one with alpha) per example folder.
for ex in scheme python; do
  in_chroot "mkdir -p $W/$ex && cd $W/$ex && python3 -c '
import random, struct, zlib
def png(name, w, h, alpha, seed):
    rnd = random.Random(seed)
    ch = 4 if alpha else 3
    rows = b\"\".join(b\"\\0\" + bytes(
        min(255, max(0, v + rnd.randint(-40, 40)))
        for x in range(w) for v in ((40 + 4 * x, 30 + 5 * y, 200 - 2 * x - 2 * y, 255)[:ch]))
        for y in range(h))
    def chunk(t, d):
        return struct.pack(\">I\", len(d)) + t + d + struct.pack(\">I\", zlib.crc32(t + d))
    open(name, \"wb\").write(b\"\\x89PNG\\r\\n\\x1a\\n\"
        + chunk(b\"IHDR\", struct.pack(\">IIBBBBB\", w, h, 8, 6 if alpha else 2, 0, 0, 0))
        + chunk(b\"IDAT\", zlib.compress(rows)) + chunk(b\"IEND\", b\"\"))
png(\"a.png\", 48, 40, False, 1)
png(\"b.png\", 48, 40, True, 2)
png(\"c photo.png\", 40, 48, False, 3)
'"
done

# Mean absolute difference of the RGB pixels of two 8-bit PNGs (non-interlaced,
# RGB or RGBA): not the files, which differ by encoding alone.
PNGDIFF='
import struct, sys, zlib
def rgb(path):
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        n, t = struct.unpack(">I4s", data[pos:pos + 8])
        if t == b"IHDR":
            w, h, depth, kind, _, _, lace = struct.unpack(">IIBBBBB", data[pos + 8:pos + 21])
        elif t == b"IDAT":
            idat += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    assert depth == 8 and kind in (2, 6) and lace == 0, path
    bpp = 3 if kind == 2 else 4
    raw, stride, prev, px = zlib.decompress(idat), w * bpp, bytearray(w * bpp), []
    for y in range(h):
        f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pr = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            row[i] = (row[i] + (0, a, b, (a + b) // 2, pr)[f]) & 255
        px += [row[i] for i in range(stride) if i % bpp < 3]
        prev = row
    return w, h, px
w1, h1, a = rgb(sys.argv[1])
w2, h2, b = rgb(sys.argv[2])
assert (w1, h1) == (w2, h2)
print("%.2f" % (sum(abs(x - y) for x, y in zip(a, b)) / len(a)))
'

status=0
check () {  # check FOLDER LABEL: every input has a result that differs from it
  n=0
  for f in "$CH$W/$1"/*.png; do
    out="$CH$W/$1/denoised/$(basename "$f")"
    if [ ! -s "$out" ]; then
      echo "batch-examples: FAIL $2: $(basename "$f") has no result"; status=1
    elif ! d=$(python3 -c "$PNGDIFF" "$f" "$out"); then
      echo "batch-examples: FAIL $2: $(basename "$f") unreadable or of another size"; status=1
    elif [ "$d" = 0.00 ]; then
      echo "batch-examples: FAIL $2: $(basename "$f") has the same pixels"; status=1
    else
      echo "batch-examples: $2: $(basename "$f"): mean |difference| $d (0..255)"
      n=$((n + 1))
    fi
  done
  echo "batch-examples: $2: $n of 3 images denoised"
  [ "$n" = 3 ] || status=1
}

# (a) Script-Fu (README: the same text, with mkdir, without #:model).
in_chroot "cd $W/scheme && mkdir -p denoised && gimp-console-3.0 -i --batch-interpreter=plug-in-script-fu-eval --quit -b '
(for-each
  (lambda (f)
    (let* ((img (car (gimp-file-load RUN-NONINTERACTIVE f)))
           (layer (vector-ref (car (gimp-image-get-layers img)) 0)))
      (plug-in-generative-denoise #:run-mode RUN-NONINTERACTIVE #:image img
        #:drawables (vector layer) #:new-layer FALSE #:model \"$W/models/unet\")
      (gimp-file-save RUN-NONINTERACTIVE img (string-append \"denoised/\" f))
      (gimp-image-delete img)))
  (car (file-glob \"*.png\" 0)))'" \
  > "$CH$W/scheme.log" 2>&1 || { echo "batch-examples: Script-Fu exited $?"; status=1; }
awk '{ print "  scheme| " $0 }' "$CH$W/scheme.log"
check scheme Script-Fu

# (b) Python-Fu (README: the same text without the "model" line).
in_chroot "cd $W/python && gimp-console-3.0 -i --batch-interpreter=python-fu-eval --quit -b - <<'EOF'
import glob, os
from gi.repository import Gimp, Gio
proc = Gimp.get_pdb().lookup_procedure('plug-in-generative-denoise')
os.makedirs('denoised', exist_ok=True)
for f in glob.glob('*.png'):
    img = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(f))
    cfg = proc.create_config()
    cfg.set_property('image', img)
    cfg.set_core_object_array('drawables', [img.get_layers()[0]])
    cfg.set_property('new-layer', False)
    cfg.set_property('model', '$W/models/unet')
    if proc.run(cfg).index(0) != Gimp.PDBStatusType.SUCCESS:
        raise RuntimeError('denoising failed: ' + f)
    Gimp.file_save(Gimp.RunMode.NONINTERACTIVE, img, Gio.File.new_for_path('denoised/' + f), None)
    img.delete()
EOF" > "$CH$W/python.log" 2>&1 || { echo "batch-examples: Python-Fu exited $?"; status=1; }
awk '{ print "  python| " $0 }' "$CH$W/python.log"
check python Python-Fu

[ "$status" = 0 ] && echo "batch-examples: all passed" || echo "batch-examples: FAILED"
exit "$status"
