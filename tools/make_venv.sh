#!/usr/bin/env bash
# Usage: tools/make_venv.sh PYTHON VENV "MODULE..." PIP_INSTALL_ARGUMENT...
# One attempt at a virtual environment: VENV deleted and created anew with PYTHON, pip upgraded,
# PIP_INSTALL_ARGUMENTs installed, then each MODULE imported in its own process (bpy and
# TensorFlow never share one). Run it through tools/retry.sh: because every attempt starts from
# an empty VENV, a package half-written by a failed attempt (a dropped connection, a full disk)
# is never taken as installed by the next one, and a broken install fails here, not in a test.
set -euo pipefail
python=$1
venv=$2
modules=$3
shift 3
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$@"
for module in $modules; do
  TF_CPP_MIN_LOG_LEVEL=3 "$venv/bin/python" -c "import $module" \
    || { echo "make_venv.sh: error: $module does not import in $venv" >&2; exit 1; }
done
