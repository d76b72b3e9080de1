#!/bin/sh
# dialog-smoke-gimp2.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]] — the GIMP 2.10
# twin of dialog-smoke-gimp3.sh: opens every procedure's dialog
# (RUN-INTERACTIVE) in gimp-2.10 under Xvfb, checks that the plug-in is up
# in its dialog with no warnings of its own, and saves a screenshot of each
# as SHOTS_DIR/gimp2-JOB.png (default: a folder beside the plug-in,
# printed), with the same variants and languages as dialog-smoke-gimp3.sh.
# Nobody clicks: GIMP is killed.  Needs xvfb-run and ImageMagick (installed
# with apt-get when missing and run as root).
set -eu

PLUGIN=$(realpath "${1:?usage: dialog-smoke-gimp2.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]]}")
MODELS=$(realpath "${2:?usage: dialog-smoke-gimp2.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]]}")
SHOTS=${3:-$(dirname "$PLUGIN")/screenshots}
PO=${4:-}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$SHOTS"
SHOTS=$(realpath "$SHOTS")

. "$HERE/dialog-smoke-lib.sh"
need_tools

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export GIMP2_DIRECTORY="$TMP/config" HOME="$TMP/home" LANG=C.UTF-8 LC_ALL=C.UTF-8
PLUGDIR="$GIMP2_DIRECTORY/plug-ins/generative"
mkdir -p "$PLUGDIR" "$HOME"
for d in brushes dynamics fonts gradients mypaint-brushes palettes patterns tool-presets; do
  mkdir -p "$GIMP2_DIRECTORY/$d"
done
cp "$PLUGIN" "$PLUGDIR/generative"
# no tooltip under the pointer, which Xvfb leaves where the dialog opens
echo "(show-tooltips no)" > "$GIMP2_DIRECTORY/gimprc"
install_catalogs "$PO" "$PLUGDIR/locale"
# the models folder the dialogs list (gen-plugin-models.h)
LISTED="$GIMP2_DIRECTORY/generative/models"
make_models_folder "$LISTED" "$MODELS"

mkdir -p "$TMP/not-a-model"
echo '{"_class_name": "StableDiffusionPipeline"}' > "$TMP/not-a-model/config.json"

# The positional arguments after model and VAE (see e2e-gimp2.scm).
rest () {
  case $1 in
    generate) echo "0 0 30 0.0 0 0 0 0 \"$DIALOG_PROMPT\" \"$DIALOG_NEGATIVE\" 7.5" ;;
    denoise) echo '0 0 30 0.0 0 0 TRUE -1.0 1.0 0 0' ;;
    inpaint) echo "0 0 30 0.0 0 0 TRUE 10 10 64 \"$DIALOG_PROMPT\" \"$DIALOG_NEGATIVE\" 7.5" ;;
    vary) echo "0 0 30 0.0 0 0 TRUE 0.5 \"$DIALOG_PROMPT\" \"$DIALOG_NEGATIVE\" 7.5" ;;
    vae-reconstruct) echo '0 0 TRUE FALSE' ;;
    interpolate) echo '0 0 30 0.0 0 0 8' ;;
  esac
}

failed=0
# JOB [LANG [MODEL [NAME]]]; MODEL "-" is the built-in one
dialog () {
  job=$1 lang=${2:-} model=${3:-$MODELS/unet} name=gimp2-$1${2:+-$2}${4:+-$4}
  [ "$model" = - ] && model=   # "-": the built-in model
  log="$TMP/$name.log"
  rm -f "$log.state"
  # Two 48×40 layers: A a gradient with noise, B above it; the procedure
  # runs on A (interpolate: on B, from the layer below it).
  timeout 150 xvfb-run -a -s "-screen 0 1280x1024x24" sh -c "
    ${lang:+LOCPATH=$TMP/locale LANG=$lang.UTF-8 LC_ALL=$lang.UTF-8; export LOCPATH LANG LC_ALL;}
    gimp-2.10 -i -d -f -b '
      (let* ((img (car (gimp-image-new 48 40 RGB)))
             (a (car (gimp-layer-new img 48 40 RGB-IMAGE \"a\" 100 LAYER-MODE-NORMAL)))
             (b (car (gimp-layer-new img 48 40 RGB-IMAGE \"b\" 100 LAYER-MODE-NORMAL))))
        (gimp-image-insert-layer img a 0 0)
        (gimp-image-insert-layer img b 0 0)
        (gimp-context-set-gradient-fg-bg-rgb)
        (gimp-drawable-edit-gradient-fill a GRADIENT-LINEAR 0 FALSE 1 0 TRUE 0 0 48 40)
        (plug-in-rgb-noise RUN-NONINTERACTIVE img a FALSE FALSE 0.1 0.1 0.1 0)
        (plug-in-generative-$job RUN-INTERACTIVE img $( [ "$job" = interpolate ] && echo b || echo a)
          \"$model\" \"\" $(rest "$job")))' >'$log' 2>&1 &
    gimp=\$!
    $(wait_and_shoot_sh "$SHOTS/$name.png" "$log.state")
    kill \$gimp; sleep 1; true" >/dev/null 2>&1 || true
  # Not ours: the broken pipe of the plug-in when GIMP is killed under it.
  bad=$(grep -E '^(\(generative|Procedure .plug-in-generative)' "$log" \
          | grep -v -i -e 'broken pipe' -e 'gimp_flush(): error' || true)
  report "$name" "$log" "$bad"
}

shoot_every_dialog
echo "dialog-smoke-gimp2: screenshots in $SHOTS"
exit $failed
