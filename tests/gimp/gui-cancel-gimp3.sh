#!/bin/sh
# gui-cancel-gimp3.sh PLUGIN MODELS_DIR [OUT_DIR] — cancel and undo in the
# real GIMP 3 GUI, under Xvfb, driven with xdotool (no window manager: the
# windows are found by their titles and given the focus by hand):
#
#   1. Inpaint Selection runs on an elliptical selection (its dialog's OK
#      pressed) and finishes; one Ctrl+Z in the image window takes all of
#      it away: the exported pixels equal those before, one layer is left.
#   2. Filters → Generative → Inpaint Selection… (the menu bar, by
#      keyboard) opens the dialog.
#   3. A long inpaint is cancelled mid-way in its progress window: the
#      plug-in is gone within a second, GIMP reports a cancel (the core's
#      cancel flag stopped the job; the process was not killed), and the
#      image is as before, pixels, layers and dirty state.
#   4. Filters → Generative → Generate… from the menu; in the model
#      list "Other checkpoint file…" opens a file chooser, the tiny
#      single-file SD checkpoint MODELS_DIR/sd-single.safetensors is typed
#      in, and OK runs it: one layer more, whose settings parasite names
#      that file.  (The plug-in takes a single file's tokenizer from
#      clip-tokenizer/ beside its built-in models, installed by the caller.)
#
# A Script-Fu batch builds the image and calls the procedures
# RUN-INTERACTIVE; between the steps it waits in a Vary dialog that the
# driver closes when it is done with the image window.  Screenshots and
# the exported images go to OUT_DIR.  Needs xvfb-run, xdotool, ImageMagick.
# Exit status 0 only if every check passed.
set -eu

PLUGIN=$(realpath "${1:?usage: gui-cancel-gimp3.sh PLUGIN MODELS_DIR [OUT_DIR]}")
MODELS=$(realpath "${2:?usage: gui-cancel-gimp3.sh PLUGIN MODELS_DIR [OUT_DIR]}")
HERE=$(dirname "$(realpath "$0")")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
OUT=${3:-$TMP/out}
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
rm -f "$OUT"/*.png "$OUT/status.txt" "$OUT/results.txt"

. "$HERE/dialog-smoke-lib.sh"
need_tools
command -v xdotool >/dev/null || { echo "gui-cancel: needs xdotool" >&2; exit 1; }

export GIMP3_DIRECTORY="$TMP/config" HOME="$TMP/home" LANG=C.UTF-8 LC_ALL=C.UTF-8
mkdir -p "$GIMP3_DIRECTORY/plug-ins/generative" "$HOME"
cp "$PLUGIN" "$GIMP3_DIRECTORY/plug-ins/generative/generative"

cat > "$TMP/gui.scm" <<EOF
(define out "$OUT")
(define model "$MODELS/unet")
(define status (open-output-file (string-append out "/status.txt")))
(define (note . words)
  (for-each (lambda (w) (display w status) (display " " status)) words)
  (newline status))
(define (export img name)
  (let ((copy (car (gimp-image-duplicate img))))
    (gimp-image-flatten copy)
    (gimp-file-save RUN-NONINTERACTIVE copy (string-append out "/" name))
    (gimp-image-delete copy)))
(define (state img name)
  (note name "layers" (vector-length (car (gimp-image-get-layers img)))
        "dirty" (car (gimp-image-is-dirty img))))
(define (wait-for-driver img)
  (catch 'closed (plug-in-generative-vary #:run-mode RUN-INTERACTIVE #:image img
                   #:drawables (car (gimp-image-get-selected-drawables img)) #:model model)))

(let* ((img (car (gimp-image-new 256 192 RGB)))
       (bg (car (gimp-layer-new img "bg" 256 192 RGB-IMAGE 100 LAYER-MODE-NORMAL))))
  (gimp-image-insert-layer img bg 0 0)
  (gimp-context-set-gradient-fg-bg-rgb)
  (gimp-drawable-edit-gradient-fill bg GRADIENT-LINEAR 0 FALSE 1 0 TRUE 0 0 256 192)
  (gimp-drawable-merge-new-filter bg "gegl:noise-rgb" 0 LAYER-MODE-REPLACE 1.0
    "red" 0.1 "green" 0.1 "blue" 0.1)
  (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 40 36 8 8)
  (gimp-image-clean-all img)
  (gimp-display-new img)
  (export img "before.png")
  (state img "before")
  ; 1. a run on a small selection, finished, then undone in the GUI.  Its
  ; settings become the last values, which GIMP gives every later
  ; interactive call: the long run of step 3 is long by its larger area
  ; (some 40 s on two cores; 8 s, as once, let a run end before Cancel).
  (note "run" (if (eq? 'failed (catch 'failed
              (plug-in-generative-inpaint #:run-mode RUN-INTERACTIVE #:image img
                #:drawables (vector bg) #:model model #:steps 200 #:jump 10 #:resample 10
                #:context 0)))
              "failed" "done"))
  (export img "after-run.png")
  (state img "after-run")
  (wait-for-driver img)
  (export img "after-undo.png")
  (state img "after-undo")
  ; 2. the dialog from the menu, opened and closed by the driver
  (wait-for-driver img)
  ; 3. a long run on a large selection, cancelled in its progress window; a
  ; cancelled call returns no layer (GIMP_PDB_CANCEL is no error to Script-Fu)
  (gimp-image-select-ellipse img CHANNEL-OP-REPLACE 16 16 224 160)
  (state img "before-long")
  (note "long-run" (catch 'failed
              (plug-in-generative-inpaint #:run-mode RUN-INTERACTIVE #:image img
                #:drawables (vector bg) #:model model)))
  (export img "after-cancel.png")
  (state img "after-cancel")
  ; 4. the driver runs Generate from the menu with a checkpoint file
  ; chosen in its dialog, then closes this wait
  (wait-for-driver img)
  (state img "after-file")
  (let* ((top (vector-ref (car (gimp-image-get-layers img)) 0))
         (p (catch #f (car (gimp-item-get-parasite top "generative-settings")))))
    (note "file-parasite"
          (if p (let ((data (caddr p)))
                  (if (string? data) data (list->string (map integer->char (vector->list data)))))
              "none")))
  (close-output-port status)
  (gimp-quit TRUE))
EOF

cat > "$TMP/driver.sh" <<'EOF'
# runs under xvfb-run: GIMP with the batch, and the driver
OUT=$1 TMP=$2
gimp-3.0 -d -f --batch-interpreter=plug-in-script-fu-eval -b "(load \"$TMP/gui.scm\")" \
  > "$TMP/gimp.log" 2>&1 &
# (G_MESSAGES_DEBUG, set by the caller, lets the plug-in say when its job stopped)
gimp=$!
say () { echo "$*" >> "$OUT/results.txt"; }
# the id of a visible window titled exactly $1, waiting up to $2 s
window () {
  i=0
  while [ $i -lt $(($2 * 5)) ]; do
    w=$(xdotool search --onlyvisible --name "^$1\$" 2>/dev/null | tail -1)
    # found: let it finish mapping and settle before keys go to it
    [ -n "$w" ] && { sleep 2; echo "$w"; return 0; }
    i=$((i + 1)); sleep 0.2
  done
  return 1
}
file () { i=0; while [ ! -s "$OUT/$1" ] && [ $i -lt $(($2 * 5)) ]; do i=$((i + 1)); sleep 0.2; done; [ -s "$OUT/$1" ]; }
# keys to window $1: with no window manager the keyboard goes where the
# pointer is, so the pointer goes there too
press () {
  # the image window's canvas, a dialog's top left
  if [ "$1" = "$(image_window)" ]; then at="350 300"; else at="30 30"; fi
  xdotool mousemove --window "$1" $at 2>/dev/null || true
  xdotool windowfocus "$1" 2>/dev/null || true
  sleep 1; shift; xdotool key "$@"
}
image_window () { xdotool search --onlyvisible --name ' GIMP$' 2>/dev/null | head -1; }
shoot () { import -window root "$OUT/$1" 2>/dev/null || true; }
plugin_up () { pgrep -f 'plug-ins/generative/generative' >/dev/null; }
# Filters → Generative open in the image window, by keyboard (F10 opens
# File, three to the left is Filters, whose last entry is Generative), a
# screenshot $1, then the entry of mnemonic $2
generative_menu () {
  press "$(image_window)" F10
  sleep 1
  xdotool key Left Left Left
  sleep 1
  xdotool key Up Right
  sleep 2
  shoot "$1"
  xdotool key "$2" Return
}

file before.png 120 || { say "FAIL the script did not start"; kill $gimp; exit 0; }
# 1. OK in the dialog; the run finishes; Ctrl+Z in the image window
d=$(window 'Inpaint Selection' 180) || { say "FAIL no inpaint dialog"; kill $gimp; exit 0; }
shoot gui-1-dialog.png
press "$d" alt+o
sleep 3
shoot gui-1b-after-ok.png
file after-run.png 120 || { say "FAIL the first run did not end"; kill $gimp; exit 0; }
v=$(window 'Vary' 60) || { say "FAIL no wait dialog"; kill $gimp; exit 0; }
img=$(image_window)
shoot gui-2-after-run.png
press "$img" ctrl+z
sleep 2
shoot gui-3-after-undo.png
press "$v" Escape
# 2. Filters → Generative → Inpaint Selection… from the menu bar, by
# keyboard
file after-undo.png 60
v=$(window 'Vary' 60) || { say "FAIL no second wait dialog"; kill $gimp; exit 0; }
generative_menu gui-4-menu.png i
if d=$(window 'Inpaint Selection' 60); then
  say "ok   the menu opens the Inpaint Selection dialog"
  shoot gui-5-menu-dialog.png
  press "$d" Escape
else
  say "FAIL the menu opened no Inpaint Selection dialog"
fi
sleep 2
press "$v" Escape
# 3. a long run, cancelled mid-way in its progress window
d=$(window 'Inpaint Selection' 60) || { say "FAIL no third dialog"; kill $gimp; exit 0; }
press "$d" alt+o
p=$(window 'Inpainting' 60) || { say "FAIL no progress window"; kill $gimp; exit 0; }
sleep 4
shoot gui-6-progress.png
plugin_up && say "ok   the job is running after 4 s"
xdotool mousemove --window "$p" 30 30 2>/dev/null || true
xdotool windowfocus "$p" 2>/dev/null || true
sleep 1
plugin_up || say "FAIL the job had ended before Cancel was pressed: the long run is too short"
t0=$(date +%s%N)
xdotool key alt+c
while plugin_up; do
  [ $(( ($(date +%s%N) - t0) / 1000000 )) -gt 10000 ] && break
  sleep 0.05
done
t1=$(date +%s%N)
say "cancel-ms $(( (t1 - t0) / 1000000 ))"
file after-cancel.png 60
shoot gui-7-after-cancel.png
# 4. Generate from the menu; its model a checkpoint file chosen with
# "Other checkpoint file…" (the last row of the model list: End selects it)
v=$(window 'Vary' 60) || { say "FAIL no fourth wait dialog"; kill $gimp; exit 0; }
generative_menu gui-8-menu.png g
if d=$(window 'Generate' 60); then
  press "$d" alt+m
  sleep 1
  xdotool key End
  if f=$(window 'Choose a checkpoint file' 30); then
    say "ok   Other checkpoint file… opens a file chooser"
    press "$f" ctrl+l
    sleep 1
    xdotool type --delay 20 "$MODELS/sd-single.safetensors"
    sleep 1
    shoot gui-9-file-chooser.png
    xdotool key Return
    sleep 4
    shoot gui-10-file-chosen.png
    press "$d" alt+o
    n=0; while [ -n "$(xdotool search --onlyvisible --name '^Generate$' 2>/dev/null)" ] \
                && [ $n -lt 300 ]; do n=$((n + 1)); sleep 0.2; done
    n=0; while plugin_up && [ $n -lt 600 ]; do n=$((n + 1)); sleep 0.2; done
    sleep 2
    shoot gui-11-file-run.png
  else
    say "FAIL no file chooser from Other checkpoint file…"
    shoot gui-9-file-chooser.png
    press "$d" Escape
  fi
else
  say "FAIL the menu opened no Generate dialog"
fi
sleep 2
press "$v" Escape
i=0; while kill -0 $gimp 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.2; done
kill $gimp 2>/dev/null || true
EOF

G_MESSAGES_DEBUG=Generative MODELS=$MODELS timeout 600 xvfb-run -a -s "-screen 0 1280x1024x24" sh "$TMP/driver.sh" "$OUT" "$TMP" \
  > "$TMP/driver.log" 2>&1 || true
cat "$OUT/status.txt" 2>/dev/null || true
cat "$OUT/results.txt" 2>/dev/null || true

failed=0
# NAME COMMAND...: ok when COMMAND succeeds
check () {
  name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failed=1; fi
}
same () { # A.png B.png: identical pixels
  [ -s "$OUT/$1" ] && [ -s "$OUT/$2" ] \
    && [ "$(compare -metric AE "$OUT/$1" "$OUT/$2" null: 2>&1 || true)" = 0 ]
}
has () { grep -q "$1" "$OUT/$2" 2>/dev/null; }
not () { ! "$@"; }
state () { sed -n "s/^$1 //p" "$OUT/status.txt" 2>/dev/null; }
ms=$(sed -n 's/^cancel-ms //p' "$OUT/results.txt" 2>/dev/null)
stopped=$(sed -n 's/.*the job stopped \([0-9.]*\) s after Cancel.*/\1/p' "$TMP/gimp.log" | tail -1)

check "the driver found every window" not has '^FAIL' results.txt
check "the first run finished" has '^run done' status.txt
check "it added one layer" has '^after-run layers 2 ' status.txt
check "it changed the picture" not same before.png after-run.png
check "one Ctrl+Z removes all of it (one layer, clean)" has '^after-undo layers 1 dirty 0' status.txt
check "after Ctrl+Z the pixels are as before" same before.png after-undo.png
check "the menu opens the dialog" has '^ok   the menu opens' results.txt
check "the job was running when cancelled" has '^ok   the job is running' results.txt
check "the core's cancel flag stopped the job (${stopped:-?} s after Cancel)" \
  test -n "$stopped"
check "the plug-in ended within a second of Cancel (${ms:-?} ms)" test "${ms:-99999}" -lt 1000
check "no crash or kill of the plug-in" \
  not grep -q -i -e 'crashed' -e 'plug-in-generative-inpaint.*failed' "$TMP/gimp.log"
check "the cancelled run added nothing, the image as clean as before" \
  test "$(state after-cancel)" = "$(state before-long)"
check "after the cancel the pixels are as before" same before.png after-cancel.png
check "Other checkpoint file… opens a file chooser" has '^ok   Other checkpoint file' results.txt
check "the chosen checkpoint file ran: one layer more" has '^after-file layers 2 ' status.txt
check "its layer's settings name the checkpoint file" has '^model=.*/sd-single.safetensors$' status.txt
if [ $failed != 0 ]; then
  echo "--- gimp log"; grep -v -e '^$' -e 'LibGimp-WARNING' "$TMP/gimp.log" | tail -30
  echo "--- driver log"; tail -20 "$TMP/driver.log"
fi
echo "gui-cancel-gimp3: screenshots in $OUT"
exit $failed
