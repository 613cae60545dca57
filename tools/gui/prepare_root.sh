#!/usr/bin/env bash
# Prepare, once, a Debian 13 ("trixie") root folder holding Blender 4.3, Xvfb, xdotool, ImageMagick,
# a TensorFlow environment for that Blender's Python 3.13 (/opt/tfenv: prepare_models.py trains with
# it) and a folder of the add-on's pinned wheels (/opt/blendercnn-wheels: the journey's Create
# Environment installs from it). Cached: a finished root
# carries a stamp and is reused. Needs root (debootstrap, chroot, mount).
#
# Usage: tools/gui/prepare_root.sh ROOT HOST_PYTHON
#   HOST_PYTHON: a Python with pip, used to download the cp313 wheels on the host (the chroot's own
#   Python 3.13 rejects some TLS proxies' certificates, so it installs offline from those wheels).
set -euo pipefail
ROOT=$1
HOST_PYTHON=$2
STAMP="$ROOT/.blendercnn-root-v1"
WHEELS=/opt/blendercnn-wheels  # inside the root: what Create Environment installs from in the journey
RETRY="$(cd "$(dirname "$0")/.." && pwd)/retry.sh 3"  # downloads: a dropped connection is tried again
trap 'echo "prepare_root.sh: error: line $LINENO failed: $BASH_COMMAND" >&2' ERR

# The cp313 wheels of the add-on's pinned packages (processes/interpreter.VARIANT_PACKAGES, read from the
# repository), downloaded on the host into ROOT$WHEELS once: the journey's Create Environment
# installs from them offline (BLENDERCNN_WHEEL_FOLDER), as an offline studio would.
download_wheels() {
  local root=$1 platforms="" p packages
  [ -f "$root$WHEELS/.complete" ] && return 0
  for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 linux_x86_64; do
    platforms="$platforms --platform $p"
  done
  packages=$(cd "$(dirname "$0")/../.." && "$HOST_PYTHON" -c \
    'from blendercnn_addon.processes.interpreter import VARIANT_PACKAGES; print(" ".join(VARIANT_PACKAGES["cpu"]))')
  echo "prepare_root: wheels for Create Environment: $packages"
  rm -rf "$root$WHEELS" && mkdir -p "$root$WHEELS"
  # shellcheck disable=SC2086
  $RETRY "$HOST_PYTHON" -m pip download -q --only-binary=:all: --python-version 3.13 --implementation cp \
    --abi cp313 --abi abi3 --abi none $platforms -d "$root$WHEELS" $packages
  touch "$root$WHEELS/.complete"
}

if [ -f "$STAMP" ]; then
  download_wheels "$ROOT"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "prepare_root.sh: error: needs root (debootstrap, chroot, mount)" >&2; exit 1; }

# The Debian mirror this machine's own apt sources name (one-line .list or deb822 .sources form;
# comments and the security archive skipped), else deb.debian.org. Never fails: a missing file or
# no match just falls through to the default.
apt_mirror() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null | awk '
      /^[[:space:]]*#/ { next }
      $1 == "URIs:" || $1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\/.*debian\/?$/ && $i !~ /security/) { print $i; exit } }'
}
MIRROR=${DEBIAN_MIRROR:-$(apt_mirror || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PARTIAL="$ROOT.partial"
LOG=$(mktemp /tmp/prepare_root.XXXXXX.log)
# Run a noisy step with its output in $LOG; on failure show the step's last lines and stop.
quietly() {
  "$@" >"$LOG" 2>&1 || { echo "prepare_root.sh: error: '$*' failed; its last lines:" >&2; tail -n 25 "$LOG" >&2; exit 1; }
}
if ! command -v debootstrap >/dev/null; then
  echo "prepare_root: apt-get install debootstrap"
  quietly apt-get update -q
  quietly apt-get install -y -q debootstrap
fi

cleanup() { umount "$PARTIAL/dev" 2>/dev/null || true; umount "$PARTIAL/proc" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
rm -rf "$PARTIAL"
mkdir -p "$(dirname "$ROOT")"
echo "prepare_root: debootstrap trixie from $MIRROR"
quietly debootstrap --variant=minbase trixie "$PARTIAL" "$MIRROR"
mount --bind /proc "$PARTIAL/proc"
mount --bind /dev "$PARTIAL/dev"
cp /etc/resolv.conf "$PARTIAL/etc/resolv.conf"
in_root() { chroot "$PARTIAL" env -i PATH=/usr/bin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }
echo "prepare_root: apt-get install blender xvfb xdotool imagemagick"
quietly in_root apt-get update -o Acquire::Retries=5 -q
quietly in_root apt-get install -o Acquire::Retries=5 -y -q --no-install-recommends blender python3-numpy python3-venv xvfb \
  libgl1-mesa-dri libglx-mesa0 xdotool imagemagick

echo "prepare_root: TensorFlow environment for Python 3.13"
mkdir -p "$PARTIAL/opt/wheels"
platforms=""
for p in manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_27_x86_64 manylinux_2_28_x86_64 linux_x86_64; do
  platforms="$platforms --platform $p"
done
# shellcheck disable=SC2086
$RETRY "$HOST_PYTHON" -m pip download -q --only-binary=:all: --python-version 3.13 --implementation cp \
  --abi cp313 --abi abi3 --abi none $platforms -d "$PARTIAL/opt/wheels" \
  tensorflow-cpu==2.21.0 tensorboard 'numpy<2.3' pillow
in_root python3 -m venv /opt/tfenv
in_root /opt/tfenv/bin/pip install -q --no-index --find-links /opt/wheels tensorflow-cpu==2.21.0 tensorboard \
  'numpy<2.3' pillow
in_root TF_CPP_MIN_LOG_LEVEL=3 /opt/tfenv/bin/python -c 'import tensorflow, tensorboard, numpy, PIL' 2>/dev/null \
  || { echo "prepare_root.sh: error: TensorFlow does not import in /opt/tfenv" >&2; exit 1; }
rm -rf "$PARTIAL/opt/wheels"
download_wheels "$PARTIAL"
cleanup
trap - EXIT
rm -rf "$ROOT"
mv "$PARTIAL" "$ROOT"
touch "$STAMP"
echo "prepare_root: ready: $ROOT"
