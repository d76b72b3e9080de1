#!/bin/sh
# dialog-smoke-gimp3.sh PLUGIN MODELS_DIR — opens each procedure's dialog
# (RUN-INTERACTIVE) in gimp-3.0 under Xvfb and checks that the plug-in is
# up and waiting in its dialog after a while, with no warnings of its own
# (duplicate mnemonics, GTK criticals).  Nobody clicks: GIMP is killed.
set -eu

PLUGIN=$(realpath "${1:?usage: dialog-smoke-gimp3.sh PLUGIN MODELS_DIR}")
MODELS=$(realpath "${2:?usage: dialog-smoke-gimp3.sh PLUGIN MODELS_DIR}")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
export GIMP3_DIRECTORY="$TMP/config" HOME="$TMP/home"
mkdir -p "$GIMP3_DIRECTORY/plug-ins/generative" "$HOME"
cp "$PLUGIN" "$GIMP3_DIRECTORY/plug-ins/generative/generative"

failed=0
for job in generate denoise inpaint vary vae-reconstruct interpolate; do
  log="$TMP/$job.log"
  timeout 90 xvfb-run -a sh -c "
    gimp-3.0 -i -d -f --batch-interpreter=plug-in-script-fu-eval -b '
      (let* ((img (car (gimp-image-new 32 32 RGB)))
             (a (car (gimp-layer-new img \"a\" 32 32 RGB-IMAGE 100 LAYER-MODE-NORMAL)))
             (b (car (gimp-layer-new img \"b\" 32 32 RGB-IMAGE 100 LAYER-MODE-NORMAL))))
        (gimp-image-insert-layer img a 0 0)
        (gimp-image-insert-layer img b 0 0)
        (plug-in-generative-$job #:run-mode RUN-INTERACTIVE #:image img
          #:drawables (vector a b) #:model \"$MODELS/unet\"))' >'$log' 2>&1 &
    gimp=\$!
    sleep 12
    if pgrep -f 'plug-ins/generative/generative' >/dev/null; then echo up >>'$log.state'; fi
    kill \$gimp; sleep 1; true" >/dev/null 2>&1 || true
  # Not ours: GIMP 3.0.4's CRITICAL about transient windows under Xvfb, and
  # the broken pipe of the plug-in when GIMP is killed under it.
  bad=$(grep -E '^(\(generative|Procedure .plug-in-generative)' "$log" \
          | grep -v -e 'gimp_window_transient_on_mapped' -e 'Broken pipe' || true)
  if [ -f "$log.state" ] && [ -z "$bad" ]; then
    echo "ok   dialog $job"
  else
    echo "FAIL dialog $job: $( [ -f "$log.state" ] || echo 'plug-in not running;') $bad"
    failed=1
  fi
done
exit $failed
