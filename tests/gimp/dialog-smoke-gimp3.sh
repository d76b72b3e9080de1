#!/bin/sh
# dialog-smoke-gimp3.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]] — opens every
# procedure's dialog (RUN-INTERACTIVE) in gimp-3.0 under Xvfb, checks that
# the plug-in is up and waiting in its dialog with no warnings of its own
# (duplicate mnemonics, GTK criticals), and saves a screenshot of each as
# SHOTS_DIR/gimp3-JOB.png (default: a folder beside the plug-in, printed),
# with a models folder that lists the test models and a text-to-image
# pipeline; gimp3-denoise-not-a-model.png shows the message for a folder that
# is not a model, gimp3-generate-text-to-image.png a model the core does not
# run yet, gimp3-*-builtin.png the built-in models.  PO_DIR (a build's po/
# with <lang>/LC_MESSAGES/generative.mo) adds all of them in German and
# Korean (gimp3-JOB-de_DE.png, …).  Nobody clicks: GIMP is killed.  Needs xvfb-run and ImageMagick's import (installed with apt-get
# when missing and run as root).
set -eu

PLUGIN=$(realpath "${1:?usage: dialog-smoke-gimp3.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]]}")
MODELS=$(realpath "${2:?usage: dialog-smoke-gimp3.sh PLUGIN MODELS_DIR [SHOTS_DIR [PO_DIR]]}")
SHOTS=${3:-$(dirname "$PLUGIN")/screenshots}
PO=${4:-}
HERE=$(dirname "$(realpath "$0")")
mkdir -p "$SHOTS"
SHOTS=$(realpath "$SHOTS")

. "$HERE/dialog-smoke-lib.sh"
need_tools

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export GIMP3_DIRECTORY="$TMP/config" HOME="$TMP/home"
PLUGDIR="$GIMP3_DIRECTORY/plug-ins/generative"
mkdir -p "$PLUGDIR" "$HOME"
cp "$PLUGIN" "$PLUGDIR/generative"
# no tooltip under the pointer, which Xvfb leaves where the dialog opens
echo "(show-tooltips no)" > "$GIMP3_DIRECTORY/gimprc"
install_catalogs "$PO" "$PLUGDIR/locale"
# the models folder the dialogs list (gen-plugin-models.h)
LISTED="$GIMP3_DIRECTORY/generative/models"
make_models_folder "$LISTED" "$MODELS"

failed=0
# Not a model: a folder whose config names a class the core does not run.
mkdir -p "$TMP/not-a-model"
echo '{"_class_name": "StableDiffusionPipeline"}' > "$TMP/not-a-model/config.json"

# JOB [LANG [MODEL [NAME]]]; MODEL "-" is the built-in one
dialog () {
  job=$1 lang=${2:-} model=${3:-$MODELS/unet} name=gimp3-$1${2:+-$2}${4:+-$4}
  [ "$model" = - ] && model=   # "-": the built-in model
  log="$TMP/$name.log"
  prompt=""
  case $job in generate|inpaint|vary)
    prompt="#:prompt \"$DIALOG_PROMPT\" #:negative-prompt \"$DIALOG_NEGATIVE\"" ;;
  esac
  rm -f "$log.state"
  # Two 48×40 layers: A a gradient with noise (something for the noise
  # estimate), B above it; A selected (both for interpolate).
  timeout 150 xvfb-run -a -s "-screen 0 1280x1024x24" sh -c "
    ${lang:+LOCPATH=$TMP/locale LANG=$lang.UTF-8 LC_ALL=$lang.UTF-8; export LOCPATH LANG LC_ALL;}
    gimp-3.0 -i -d -f --batch-interpreter=plug-in-script-fu-eval -b '
      (let* ((img (car (gimp-image-new 48 40 RGB)))
             (a (car (gimp-layer-new img \"a\" 48 40 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
             (b (car (gimp-layer-new img \"b\" 48 40 RGB-IMAGE 100 LAYER-MODE-NORMAL))))
        (gimp-image-insert-layer img a 0 0)
        (gimp-image-insert-layer img b 0 0)
        (gimp-context-set-gradient-fg-bg-rgb)
        (gimp-drawable-edit-gradient-fill a GRADIENT-LINEAR 0 FALSE 1 0 TRUE 0 0 48 40)
        (gimp-drawable-merge-new-filter a \"gegl:noise-rgb\" 0 LAYER-MODE-REPLACE 1.0
          \"red\" 0.1 \"green\" 0.1 \"blue\" 0.1)
        (plug-in-generative-$job #:run-mode RUN-INTERACTIVE #:image img
          #:drawables (if (string=? \"$job\" \"interpolate\") (vector a b) (vector a)) #:model \"$model\" $prompt))' >'$log' 2>&1 &
    gimp=\$!
    $(wait_and_shoot_sh "$SHOTS/$name.png" "$log.state")
    kill \$gimp; sleep 1; true" >/dev/null 2>&1 || true
  # Not ours: GIMP 3.0.4's CRITICAL about transient windows under Xvfb, and
  # the broken pipe of the plug-in when GIMP is killed under it.
  bad=$(grep -E '^(\(generative|Procedure .plug-in-generative)' "$log" \
          | grep -v -i -e 'gimp_window_transient_on_mapped' -e 'broken pipe' -e 'gimp_flush(): error' || true)
  report "$name" "$log" "$bad"
}

shoot_every_dialog
echo "dialog-smoke-gimp3: screenshots in $SHOTS"
exit $failed
