#!/bin/sh
# e2e-gimp2.sh PLUGIN MODELS_DIR [OUT_DIR] — end-to-end test of the GIMP 2.10
# plug-in in a real gimp-console-2.10 (Debian bookworm: apt-get install gimp).
#
# PLUGIN is the built plug-in (BUILD/plugin/gimp2/generative), MODELS_DIR holds
# a small UNet (unet/), VAE (vae/) and SD pipeline (sd/) made by
# tests/gimp/make-model.py.  The
# plug-in is installed into a fresh GIMP2_DIRECTORY; the checks in
# e2e-gimp2.scm run as a Script-Fu script calling the procedures with
# positional arguments.  Results are saved to OUT_DIR.
# Exit status 0 only if every check passed.
set -eu

PLUGIN=$(realpath "${1:?usage: e2e-gimp2.sh PLUGIN MODELS_DIR [OUT_DIR]}")
MODELS=$(realpath "${2:?usage: e2e-gimp2.sh PLUGIN MODELS_DIR [OUT_DIR]}")
HERE=$(dirname "$(realpath "$0")")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
OUT=${3:-$TMP/out}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
rm -f "$OUT/results.txt"

export GIMP2_DIRECTORY="$TMP/config"
export HOME="$TMP/home"
export LANG=C.UTF-8 LC_ALL=C.UTF-8
mkdir -p "$GIMP2_DIRECTORY/plug-ins/generative" "$HOME"
# the data folders GIMP writes to on exit (else it complains in the log)
for d in brushes dynamics fonts gradients mypaint-brushes palettes patterns tool-presets; do
  mkdir -p "$GIMP2_DIRECTORY/$d"
done
cp "$PLUGIN" "$GIMP2_DIRECTORY/plug-ins/generative/generative"

# A 40×32 test image: smooth gradients plus a checker, as binary PPM.
awk 'BEGIN { printf "P6\n40 32\n255\n";
  for (y = 0; y < 32; y++) for (x = 0; x < 40; x++) {
    c = (int (x / 8) + int (y / 8)) % 2 ? 60 : 0;
    printf "%c%c%c", 40 + x * 4 + c, 30 + y * 5, 200 - x * 2 - y * 2 + c } }' \
  > "$TMP/input.ppm"

# Not a model: a folder whose config names a class the core does not run,
# and a folder with no config at all.
mkdir -p "$TMP/not-a-model" "$TMP/empty-folder"
echo '{"_class_name": "StableDiffusionPipeline"}' > "$TMP/not-a-model/config.json"

# On an AVX-512 CPU, start the plug-in with OpenBLAS's AVX2 kernels, so
# that every call goes through its re-exec onto the AVX-512 ones
# (gen_cpu_use_fast_blas in main, before any word with GIMP).
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then
  export OPENBLAS_CORETYPE=Haswell
fi

LOG="$TMP/log"
status=0
gimp-console-2.10 -i -b "
  (begin
    (define e2e-model \"$MODELS/unet\")
    (define e2e-vae \"$MODELS/vae\")
    (define e2e-sd \"$MODELS/sd\")
    (define e2e-bad-model \"$TMP/not-a-model\")
    (define e2e-empty-folder \"$TMP/empty-folder\")
    (define e2e-here \"$HERE\")
    (define e2e-input \"$TMP/input.ppm\")
    (define e2e-out \"$OUT\")
    (load \"$HERE/e2e-gimp2.scm\"))" -b '(gimp-quit 0)' > "$LOG" 2>&1 || status=$?
cat "$LOG"
[ -f "$OUT/results.txt" ] && cat "$OUT/results.txt"

fail () { echo "e2e-gimp2: FAIL $*"; exit 1; }
[ "$status" = 0 ] || fail "gimp-console-2.10 exited $status"
grep -q 'batch command experienced an execution error' "$LOG" && fail "the script raised an error"
[ -f "$OUT/results.txt" ] || fail "the script wrote no results"
summary=$(grep '^e2e: ' "$OUT/results.txt" || true)
[ -n "$summary" ] || fail "the script did not run to its end"
echo "$summary" | grep -q ' 0 failed$' || fail "$summary"
# The errors reached the script with the core's and the plug-in's messages.
grep -q 'error: .*StableDiffusionPipeline' "$OUT/results.txt" \
  || fail "no error message naming the bad model's class"
grep -q 'error: .*default model is not installed at /.*/generative/generative-unet' "$OUT/results.txt" \
  || fail "no message naming the default model's path"
grep -q 'error: .*indexed' "$OUT/results.txt" || fail "no message about indexed images"
grep -q 'error: .*no layer below' "$OUT/results.txt" || fail "no message about the layer below"
grep -q 'error: .*empty-folder is not a model: a model is a diffusers folder' "$OUT/results.txt" \
  || fail "no clear message for a folder that is not a model"
grep -q "error: .*does not touch the layer" "$OUT/results.txt" \
  || fail "no message for a selection beside the layer"
grep -q 'text-to-image models (StableDiffusionPipeline) cannot be used for this filter' \
  "$OUT/results.txt" || fail "no message refusing the text-to-image model in denoise"
# SD inpaint ran, or the core's refusal reached the caller
if grep -q 'sd inpaint: refused' "$OUT/results.txt"; then
  grep -q 'text-conditioned' "$OUT/results.txt" || fail "SD inpaint refused without the core's message"
else
  [ -s "$OUT/sd-inpaint.png" ] || fail "sd-inpaint.png was not saved"
fi
for f in sd-generate.png denoise.png inpaint.png inpaint-feathered.png outpaint.png generate.png gray16.png \
         vae.png interpolate.png; do
  [ -s "$OUT/$f" ] || fail "$f was not saved"
done
echo "e2e-gimp2: all passed ($summary)"
