#!/bin/sh
# ci-gimp3.sh CHROOT_DIR — the whole GIMP 3.0 check from a bare Debian host
# (root, network to Debian's mirror, /usr/bin/python3 with torch):
#
#   1. tests/gimp/trixie-chroot.sh CHROOT_DIR   (reused when already made)
#   2. a small random UNet and VAE made on the host       (tests/gimp/make-model.py)
#   3. the source tree copied in and built there  (meson -Dgimp3=enabled), with
#      a throw-away prefix under /tmp/gen-e2e, where nothing is ever installed:
#      the e2e test checks the error for a missing default model, which a
#      'meson install' into the chroot's /usr/local would otherwise satisfy
#      (GIMP takes the plug-in under test, in its GIMP3_DIRECTORY, before an
#      installed one of the same name)
#   4. tests/gimp/e2e-gimp3.sh inside the chroot
#   5. tests/gimp/dialog-smoke-gimp3.sh (Xvfb) unless GEN_SKIP_DIALOGS=1, with
#      a screenshot of every dialog in CHROOT_DIR/tmp/gen-e2e/screenshots, and
#      tests/gimp/gui-cancel-gimp3.sh: cancel and undo driven with xdotool,
#      and a checkpoint file chosen in a dialog
#
# Prints the time of each stage; exit status 0 only if all passed.
set -eu

CH=$(realpath -m "${1:?usage: ci-gimp3.sh CHROOT_DIR}")
SRC=$(realpath "$(dirname "$0")/../..")
W=/tmp/gen-e2e                      # inside the chroot
now () { date +%s; }
t0=$(now)

"$SRC/tests/gimp/trixie-chroot.sh" "$CH"
t1=$(now)

rm -rf "$CH$W"
mkdir -p "$CH$W/src"
/usr/bin/python3 "$SRC/tests/gimp/make-model.py" "$CH$W/models" >/dev/null
(cd "$SRC" && tar --exclude=.git --exclude='./build*' --exclude=__pycache__ -cf - .) \
  | tar -xf - -C "$CH$W/src"
t2=$(now)

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
  chroot "$CH" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 sh -ec "$1"
}
in_chroot "cd $W/src && meson setup $W/build --prefix=$W/prefix -Dgimp3=enabled >$W/setup.log \
           || { cat $W/setup.log; exit 1; }
           ninja -C $W/build plugin/generative"
t3=$(now)
in_chroot "$W/src/tests/gimp/e2e-gimp3.sh $W/build/plugin/generative $W/models $W/out"
t4=$(now)
if [ "${GEN_SKIP_DIALOGS:-0}" != 1 ]; then
  in_chroot "ninja -C $W/build generative-gmo >/dev/null
             $W/src/tests/gimp/dialog-smoke-gimp3.sh $W/build/plugin/generative $W/models \
               $W/screenshots $W/build/po"
  echo "ci-gimp3: screenshots in $CH$W/screenshots"
  # a single-file checkpoint's tokenizer, where an installed plug-in finds it
  # (beside the built-in models, which stay missing for the e2e test above)
  in_chroot "mkdir -p $W/prefix/share/generative
             cp -r $W/src/weights/clip-tokenizer $W/prefix/share/generative/"
  in_chroot "$W/src/tests/gimp/gui-cancel-gimp3.sh $W/build/plugin/generative $W/models $W/gui"
fi
t5=$(now)
echo "ci-gimp3: chroot $((t1 - t0)) s, model+copy $((t2 - t1)) s, build $((t3 - t2)) s," \
     "e2e $((t4 - t3)) s, dialogs $((t5 - t4)) s, total $((t5 - t0)) s"
