#!/bin/sh
# trixie-chroot.sh DIR — create (or reuse) a Debian trixie chroot with GIMP 3.0
# and everything needed to build and test the GIMP 3 front end.
#
#   sudo tests/gimp/trixie-chroot.sh /srv/trixie
#
# Idempotent: a chroot that finished before (DIR/.generative-ready, which
# lists its packages) is reused; a half-made one, or one made with fewer
# packages, is completed.  /proc, /sys, /dev and /dev/pts are bind-mounted
# only while apt runs and unmounted on exit.  Needs root and Debian's mirror.
set -eu

DIR=${1:?usage: trixie-chroot.sh DIR}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES="gimp libgimp-3.0-dev libopenblas-dev libjson-glib-dev libglib2.0-dev
  meson ninja-build gcc pkg-config libgegl-dev libbabl-dev gettext xvfb xauth
  libpng-dev libjpeg-dev libtiff-dev ca-certificates procps imagemagick locales
  xdotool fonts-nanum"
STAMP="$DIR/.generative-ready"

now () { date +%s; }
t0=$(now)

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(echo $PACKAGES)" ]; then
  echo "trixie-chroot: $DIR is ready (reused)"
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "trixie-chroot: installing debootstrap on the host"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi

MOUNTED=""
cleanup () {
  for m in $MOUNTED; do umount -l "$DIR$m" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM

if [ ! -x "$DIR/usr/bin/apt-get" ] || [ ! -f "$DIR/.debootstrap-done" ]; then
  mkdir -p "$DIR"
  debootstrap --variant=minbase trixie "$DIR" "$MIRROR"
  touch "$DIR/.debootstrap-done"
fi
t1=$(now)
echo "trixie-chroot: debootstrap $((t1 - t0)) s"

for m in /proc /sys /dev /dev/pts; do
  mkdir -p "$DIR$m"
  if ! mountpoint -q "$DIR$m"; then
    mount --bind "$m" "$DIR$m"
    MOUNTED="$m $MOUNTED"
  fi
done
cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true

# shellcheck disable=SC2086
chroot "$DIR" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive sh -ec "
    apt-get update -q
    apt-get install -y -q --no-install-recommends $(echo $PACKAGES)
    apt-get clean"
t2=$(now)
echo "trixie-chroot: packages $((t2 - t1)) s"

chroot "$DIR" gimp-console-3.0 --version
echo $PACKAGES > "$STAMP"
echo "trixie-chroot: ready in $((t2 - t0)) s"
