#!/usr/bin/env bash
# make gui-test: the user's journey in a real Blender 4.3 window (Xvfb, in a Debian 13 root).
# Usage: tools/gui/run_journey.sh ZIP OUT
set -euo pipefail
trap 'echo "run_journey.sh: error: line $LINENO failed: $BASH_COMMAND" >&2' ERR
ZIP=$(realpath "$1")
OUT=$2
HERE=$(cd "$(dirname "$0")" && pwd)
# The prepared root is the one cache this step keeps (explicit: BLENDERCNN_GUI_ROOT).
ROOT=${BLENDERCNN_GUI_ROOT:-$HOME/.cache/blendercnn-gui/trixie}
"$HERE/prepare_root.sh" "$ROOT" "${HOST_PYTHON:-python3}"

WORK="$ROOT/root/blendercnn-journey"
# A fresh folder per run, HOME included: nothing an earlier run left in the root's home counts.
rm -rf "$WORK" && mkdir -p "$WORK/out" "$WORK/home"
cp "$ZIP" "$WORK/blendercnn_addon.zip"
cp "$HERE/drive.py" "$HERE/prepare_models.py" "$WORK/"
rm -f "$ROOT/tmp/.X98-lock" "$ROOT/tmp/.X11-unix/X98"

XVFB_PID=""; BLENDER_PID=""
cleanup() {
  [ -n "$BLENDER_PID" ] && kill "$BLENDER_PID" 2>/dev/null || true
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  sleep 0.5
  umount "$ROOT/dev" 2>/dev/null || true
  umount "$ROOT/proc" 2>/dev/null || true
}
trap cleanup EXIT
mount --bind /proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"

# The models the journey's Preview loads, trained with this root's Blender and TensorFlow (≈ 5 min).
echo "run_journey: preparing the preview's models (prepare_models.py)"
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root/blendercnn-journey/home \
  BLENDER_USER_RESOURCES=/root/blendercnn-journey/prepare-user timeout 1200 \
  blender -b --factory-startup --python-exit-code 1 --python /root/blendercnn-journey/prepare_models.py -- \
  /root/blendercnn-journey/blendercnn_addon.zip /root/blendercnn-journey/models /opt/tfenv/bin/python \
  > "$WORK/prepare.log" 2>&1 || { echo "run_journey.sh: error: preparing the models failed; its last lines:" >&2;
                                  tail -n 30 "$WORK/prepare.log" >&2; exit 1; }
grep '^prepare_models\|^training' "$WORK/prepare.log" || true

# chroot, env and timeout exec in turn, so $! is the pid of Xvfb (and of Blender's timeout) itself,
# not of a subshell: cleanup kills exactly these processes.
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root/blendercnn-journey/home Xvfb :98 -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
XVFB_PID=$!
sleep 1
# No TensorFlow Python for the window's Blender: the journey creates one with Create Environment,
# offline from the root's wheel folder (prepare_root.sh), as a user can with BLENDERCNN_WHEEL_FOLDER.
chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root/blendercnn-journey/home DISPLAY=:98 \
  BLENDER_USER_RESOURCES=/root/blendercnn-journey/user BLENDERCNN_WHEEL_FOLDER=/opt/blendercnn-wheels \
  timeout 1800 blender --factory-startup --window-geometry 0 0 1600 1000 \
  --python /root/blendercnn-journey/drive.py -- /root/blendercnn-journey/out \
  /root/blendercnn-journey/blendercnn_addon.zip /root/blendercnn-journey/models \
  > "$WORK/blender.log" 2>&1 &
BLENDER_PID=$!
wait "$BLENDER_PID" || true
BLENDER_PID=""
rm -rf "$OUT" && mkdir -p "$OUT"
cp -r "$WORK/out/." "$OUT/"
cp "$WORK/blender.log" "$WORK/prepare.log" "$OUT/"
grep '^\[journey\]' "$OUT/blender.log" || true
