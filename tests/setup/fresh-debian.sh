#!/bin/sh
# fresh-debian.sh [SUITE] — the README's two commands (set-up, then tests),
# exactly as README.md's "## Set up" section writes them, as root without
# sudo on a fresh minimal Debian SUITE (default bookworm; trixie works too);
# with AS=user, as a user with sudo instead (sudo is installed first):
#
#   1. debootstrap --variant=minbase SUITE into a temporary root (the bare
#      root is cached as a tarball in /var/cache/generative-fresh-debian and
#      made again when a week old; apt-get update in the command refreshes it)
#   2. git clone of this checkout's HEAD into the home folder
#   3. each command run there with sh, as root with no sudo installed (or as
#      the user)
#   4. checks: both exit 0; `generative --version` runs; the plug-in is in
#      the plug-in folder of the GIMP the command installed; the installed
#      CLI found the models (its demo ran and reported a gain) and the
#      plug-in's default model path is where the models were installed
#
# Needs root, debootstrap and Debian's mirror.  Prints the time of each
# stage; exit status 0 only if everything passed.  KEEP=1 keeps the root.
set -eu

SUITE=${1:-bookworm}
AS=${AS:-root}
HOMEDIR=/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SRC=$(realpath "$(dirname "$0")/../..")
CACHE=/var/cache/generative-fresh-debian
TARBALL=$CACHE/$SUITE-minbase.tar
now () { date +%s; }
t0=$(now)
LOGS=/var/tmp/fresh-debian-$SUITE-$AS.logs   # the commands' logs, kept after a failure
fail () {
  if [ -n "${ROOT:-}" ] && [ -d "$ROOT/tmp" ]; then
    rm -rf "$LOGS" && mkdir -p "$LOGS"
    cp "$ROOT"/tmp/readme-command-*.log "$ROOT$HOMEDIR"/generative/build/meson-logs/*.txt \
       "$LOGS" 2>/dev/null || true
    echo "fresh-debian: logs in $LOGS"
  fi
  echo "fresh-debian: FAIL $*"
  exit 1
}

[ "$(id -u)" = 0 ] || fail "needs root (debootstrap, chroot)"
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
fi

ROOT=$(mktemp -d "/var/tmp/generative-fresh-$SUITE.XXXXXX")
MOUNTED=""
cleanup () {
  for m in $MOUNTED; do umount -l "$ROOT$m" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "fresh-debian: kept $ROOT"; else rm -rf "$ROOT"; fi
}
trap cleanup EXIT INT TERM

# 1. a bare minimal Debian
if [ -f "$TARBALL" ] && [ -n "$(find "$TARBALL" -mtime -7)" ]; then
  tar -xf "$TARBALL" -C "$ROOT"
  echo "fresh-debian: bare $SUITE from $TARBALL"
else
  debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT.debootstrap.log"; fail "debootstrap $SUITE"; }
  rm -f "$ROOT.debootstrap.log"
  mkdir -p "$CACHE"
  tar -cf "$TARBALL.tmp" -C "$ROOT" . && mv "$TARBALL.tmp" "$TARBALL"
fi
chmod 755 "$ROOT"   # it is /, which every user reads (mktemp made it 0700)
! chroot "$ROOT" sh -c 'command -v sudo' >/dev/null || fail "the bare root has sudo"

for m in /proc /sys /dev /dev/pts; do
  mkdir -p "$ROOT$m"
  mount --bind "$m" "$ROOT$m"
  MOUNTED="$m $MOUNTED"
done
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

# a login's environment (root's, or the user's); no terminal, so apt asks nothing
in_root () {
  chroot "$ROOT" /usr/bin/env -i HOME=/root TERM=dumb DEBIAN_FRONTEND=noninteractive \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@" </dev/null
}
if [ "$AS" = user ]; then
  in_root sh -ec 'apt-get update -q >/dev/null; apt-get install -y -q sudo >/dev/null
                  useradd -m -s /bin/sh tester
                  echo "tester ALL=(ALL) NOPASSWD: ALL" >/etc/sudoers.d/tester'
  HOMEDIR=/home/tester
  as_user () {
    chroot --userspec=tester:tester "$ROOT" /usr/bin/env -i HOME=$HOMEDIR TERM=dumb \
      DEBIAN_FRONTEND=noninteractive PATH=/usr/local/bin:/usr/bin:/bin "$@" </dev/null
  }
else
  as_user () { in_root "$@"; }
fi
t1=$(now)

# 2. the project, as a clone of this checkout
git clone -q "$SRC" "$ROOT$HOMEDIR/generative"
echo "fresh-debian: cloned $(git -C "$ROOT$HOMEDIR/generative" log -1 --format='%h %s')"
[ "$AS" = root ] || chroot "$ROOT" chown -R tester:tester $HOMEDIR/generative
t2=$(now)

# 3. the README's commands: the sh blocks of its "## Set up" section
awk '/^## / { inside = ($0 == "## Set up") }
     inside && /^```sh$/ { block++; code = 1; next }
     code && /^```$/ { code = 0; next }
     code { print > (dir "/readme-command-" block) }' \
  dir="$ROOT/tmp" "$ROOT$HOMEDIR/generative/README.md"
[ -s "$ROOT/tmp/readme-command-1" ] && [ -s "$ROOT/tmp/readme-command-2" ] \
  && [ ! -e "$ROOT/tmp/readme-command-3" ] \
  || fail "README.md's Set up section does not hold exactly two sh blocks"

run_command () {
  n=$1
  echo "fresh-debian: README command $n, as $AS:"
  cat "$ROOT/tmp/readme-command-$n"
  status=0
  as_user sh -c "cd $HOMEDIR/generative && sh /tmp/readme-command-$n" \
    >"$ROOT/tmp/readme-command-$n.log" 2>&1 || status=$?
  tail -25 "$ROOT/tmp/readme-command-$n.log"
  [ "$status" = 0 ] || fail "README command $n exited $status"
}
run_command 1
t3=$(now)

# 4. what the set-up command promised, then the test command
as_user generative --version || fail "generative --version"
grep -q 'a gain of +' "$ROOT/tmp/readme-command-1.log" || fail "the demo reported no gain"
[ -s "$ROOT$HOMEDIR/generative/before-after.png" ] || fail "the demo wrote no before-after.png"
if in_root sh -c 'command -v gimptool-2.0' >/dev/null; then
  plugindir=$(in_root gimptool-2.0 --gimpplugindir)
else
  plugindir=$(in_root pkg-config --variable=gimplibdir gimp-3.0)
fi
plugin=$ROOT$plugindir/plug-ins/generative/generative
[ -x "$plugin" ] || fail "no plug-in at $plugindir/plug-ins/generative/generative"
model=$(grep -a -o '/[[:print:]]*/generative/generative-unet' "$plugin" | head -1)
[ -f "$ROOT$model/config.json" ] || fail "the plug-in's default model ($model) is not installed"
echo "fresh-debian: the set-up is right: plug-in $plugindir/plug-ins/generative/generative," \
     "its default model $model installed"
t4=$(now)
run_command 2
t5=$(now)

echo "fresh-debian: all passed on $SUITE as $AS"
echo "fresh-debian: root $((t1 - t0)) s, clone $((t2 - t1)) s, set-up command $((t3 - t2)) s," \
     "checks $((t4 - t3)) s, test command $((t5 - t4)) s, total $((t5 - t0)) s"
