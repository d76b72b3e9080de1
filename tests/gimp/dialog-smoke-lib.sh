# dialog-smoke-lib.sh — shared by dialog-smoke-gimp3.sh and
# dialog-smoke-gimp2.sh (sourced): tools, catalogs, screenshots, reports.

# xvfb-run and ImageMagick (import, identify); installs ImageMagick with
# apt-get when it is missing and we are root.
need_tools () {
  command -v xvfb-run >/dev/null || { echo "dialog-smoke: needs xvfb-run (xvfb, xauth)" >&2; exit 1; }
  if ! command -v import >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "dialog-smoke: installing imagemagick for the screenshots"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends imagemagick \
      >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive \
             apt-get install -y -q --no-install-recommends imagemagick >/dev/null 2>&1; } || true
  fi
  command -v import >/dev/null && command -v identify >/dev/null \
    || { echo "dialog-smoke: needs ImageMagick's import and identify (apt-get install imagemagick)" >&2; exit 1; }
}

# LANG_CODE DIR: compiles the locale LANG_CODE.UTF-8 (de_DE) into DIR for
# LOCPATH (the chroots and CI machines have only C.UTF-8, which makes
# gettext ignore LANGUAGE); installs Debian's locales when missing and root.
make_locale () {
  if [ ! -f "/usr/share/i18n/locales/$1" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends locales \
      >/dev/null 2>&1 || true
  fi
  mkdir -p "$2"
  localedef -i "$1" -f UTF-8 "$2/$1.UTF-8" >/dev/null 2>&1 || [ -d "$2/$1.UTF-8" ] \
    || { echo "dialog-smoke: cannot make the locale $1.UTF-8 (apt-get install locales)" >&2; exit 1; }
}

# PO_DIR DEST: copies PO_DIR/<lang>/LC_MESSAGES/generative.mo to
# DEST/<lang>/LC_MESSAGES/ (a plug-in folder's locale/); nothing without PO_DIR.
install_catalogs () {
  [ -n "$1" ] || return 0
  for mo in "$1"/*/LC_MESSAGES/generative.mo; do
    [ -f "$mo" ] || { echo "dialog-smoke: no catalogs in $1 (ninja generative-gmo)" >&2; exit 1; }
    lang=$(basename "$(dirname "$(dirname "$mo")")")
    mkdir -p "$2/$lang/LC_MESSAGES"
    cp "$mo" "$2/$lang/LC_MESSAGES/"
  done
}

# OUT.png STATE_FILE: prints shell code (for the sh under xvfb-run) that
# waits up to 100 s for the plug-in and a window of some size on the
# screen, lets it settle, saves the screen trimmed to the windows as
# OUT.png and writes "up" to STATE_FILE if the plug-in is still running.
wait_and_shoot_sh () {
  cat <<EOF
i=0
while [ \$i -lt 100 ]; do
  i=\$((i + 1)); sleep 1
  pgrep -f '[p]lug-ins/generative/generative' >/dev/null || continue
  import -window root -trim +repage '$1' 2>/dev/null || continue
  w=\$(identify -format '%w' '$1' 2>/dev/null || echo 0)
  [ "\$w" -gt 200 ] && break
done
sleep 3
import -window root -trim +repage '$1' 2>/dev/null || true
if pgrep -f '[p]lug-ins/generative/generative' >/dev/null; then echo up >>'$2'; fi
EOF
}

# NAME LOG BAD: one line for the dialog; sets failed=1 when the plug-in was
# not up in its dialog, its screenshot is missing, or BAD (its warnings) is
# not empty.
report () {
  shot="$SHOTS/$1.png"
  size=$( [ -s "$shot" ] && identify -format '%wx%h' "$shot" 2>/dev/null || echo none)
  if [ -f "$2.state" ] && [ -z "$3" ] && [ "$size" != none ]; then
    echo "ok   dialog $1 (screenshot $size)"
  else
    echo "FAIL dialog $1: $( [ -f "$2.state" ] || echo 'plug-in not running;') screenshot $size; $3"
    sed 's/^/     | /' "$2" | tail -20
    failed=1
  fi
}

# DIR MODELS_DIR: a models folder as a user would have one, for the model
# list: the test UNet, VAE and Stable Diffusion pipeline of MODELS_DIR
# (make-model.py), and an SDXL pipeline (its JSON only: the list reads no
# weights) that the core does not run.
make_models_folder () {
  mkdir -p "$1/sdxl-base/unet"
  cp -r "$2/unet" "$1/test-unet"
  cp -r "$2/vae" "$1/test-vae"
  cp -r "$2/sd" "$1/tiny-sd"
  echo '{"_class_name": "StableDiffusionXLPipeline", "unet": ["diffusers", "UNet2DConditionModel"]}' \
    > "$1/sdxl-base/model_index.json"
  echo '{"_class_name": "UNet2DConditionModel", "sample_size": 128}' > "$1/sdxl-base/unet/config.json"
  head -c 300000 /dev/zero > "$1/sdxl-base/unet/diffusion_pytorch_model.safetensors"
}

# What the dialogs of generate, inpaint and vary start with in the prompt
# fields (both GIMPs pass them as arguments).
DIALOG_PROMPT="a red fox in the snow, morning light"
DIALOG_NEGATIVE="blurry"

# Every dialog through the caller's "dialog JOB [LANG [MODEL [NAME]]]", on
# the models of the folder $LISTED (make_models_folder): each job, a folder
# that is not a model ($TMP/not-a-model), the text-to-image pipeline in
# generate, inpaint and vary, the built-in models; then all again in each
# language (needs $PO, $TMP).
shoot_every_dialog () {
  # GEN_DIALOG_JOBS: a subset, e.g. "denoise" (default: all six); with PO_DIR
  # every dialog again in each of GEN_DIALOG_LANGS (default: German, Korean)
  LANGS=""
  if [ -n "$PO" ]; then
    LANGS=${GEN_DIALOG_LANGS:-de_DE ko_KR}
    for lang in $LANGS; do make_locale "$lang" "$TMP/locale"; done
  fi
  for lang in "" $LANGS; do
    for job in ${GEN_DIALOG_JOBS:-generate denoise inpaint vary vae-reconstruct interpolate}; do
      if [ "$job" = vae-reconstruct ]; then dialog "$job" "$lang" "$LISTED/test-vae"
      else dialog "$job" "$lang" "$LISTED/test-unet"; fi
    done
    dialog denoise "$lang" "$TMP/not-a-model" not-a-model
    # a text-to-image pipeline from the models folder, and the built-in models
    # (or what the dialog says when they are not installed)
    for job in generate inpaint vary; do dialog "$job" "$lang" "$LISTED/tiny-sd" text-to-image; done
    dialog denoise "$lang" - builtin
    dialog vae-reconstruct "$lang" - builtin
  done
}
