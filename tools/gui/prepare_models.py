"""Before the window journey: the two models it loads, made with the journey's own Blender and TensorFlow.

Runs as ``blender -b --factory-startup --python prepare_models.py -- ZIP OUT TF_PYTHON`` inside the
Debian root (Blender 4.3, /opt/tfenv): installs the zip as Preferences does, renders two datasets
with the add-on's own generate command in this Blender, and trains each with the add-on's train
command in the TensorFlow Python — exactly what a user's panel runs, minus the clicks.

- OUT/run64: a radiance model good enough to be recognisably the ball (64², 32-sample renders
  without denoising, the settings Render Real reproduces in this Blender, which has no
  OpenImageDenoise): the journey checks its image against Render Real at ≥ 28 dB.
- OUT/run256: a radiance model at the user's default resolution, 256², for the preview's latency
  and Follow Scene in the window (what it has learnt does not change its speed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import bpy

ZIP, OUT, TF_PYTHON = sys.argv[sys.argv.index("--") + 1:][:3]
ADDON = "bl_ext.user_default.blendercnn_addon"
QUALITY_IMAGES = 1200
QUALITY_TRAIN_SECONDS = 60  # 31.7 dB validation PSNR by 40 s in the first runs (1200 renders)


def generate(name: str, *args: str) -> str:
    """The add-on's ``generate`` command in this Blender's process; returns the dataset folder."""
    folder = os.path.join(OUT, name)
    code = sys.modules[ADDON + ".cli"].main(["generate", "--out", folder, "--quiet", *args])
    if code != 0:
        raise SystemExit(f"prepare_models: generate {name} failed (exit code {code})")
    return folder


def train(data: str, run: str, *args: str) -> None:
    """The add-on's ``train`` command in the TensorFlow Python, on the installed copy of the code."""
    package_parent = os.path.dirname(os.path.dirname(sys.modules[ADDON].__file__))
    env = {**os.environ, "PYTHONPATH": package_parent, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([TF_PYTHON, "-m", "blendercnn_addon", "train", "--data", data, "--out", run, *args],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"prepare_models: training {run} failed:\n{done.stderr[-3000:]}")
    print(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", flush=True)


def main() -> None:
    began = time.monotonic()
    result = bpy.ops.extensions.package_install_files(filepath=ZIP, repo="user_default", enable_on_install=True)
    if result != {"FINISHED"}:
        raise SystemExit(f"prepare_models: installing {ZIP} failed ({result})")
    quality = generate("data64", "--count", str(QUALITY_IMAGES), "--resolution", "64", "--preset", "seed",
                       "--seed", "11", "--workers", "1")
    print(f"prepare_models: {QUALITY_IMAGES} renders at 64² in {time.monotonic() - began:.0f} s", flush=True)
    train(quality, os.path.join(OUT, "run64"), "--epochs", "40", "--time-budget", str(QUALITY_TRAIN_SECONDS))
    speed = generate("data256", "--count", "8", "--resolution", "256", "--seed", "12", "--workers", "1")
    train(speed, os.path.join(OUT, "run256"), "--epochs", "1", "--batch-size", "4")
    print(f"prepare_models: done in {time.monotonic() - began:.0f} s", flush=True)


try:
    main()
except SystemExit as stop:
    print(stop, file=sys.stderr, flush=True)
    sys.exit(1)
