"""What an epoch of `train` costs beyond its training steps, for each memory allocator, side by side.

Runs the real command (``python -m blendercnn_addon train --progress json``, radiance's recipe, 2
epochs) once per allocator setting on the same dataset, in a fresh process each, and times the
second epoch (the first includes tracing) from the events it prints:
- steps: the epoch's training steps — the time between its first and last "batch" event, per step,
  times the steps in the epoch;
- epoch: the time between the first and the second "epoch" event (steps, validation, the
  TensorBoard grid, checkpoints, history);
- user / sys: the whole process's CPU seconds (start-up and both epochs; the kernel's share is memory
  mapped, unmapped and faulted in).

Settings: ``default`` (what TensorFlow does unless told: large tensors come from glibc's malloc,
which maps and unmaps them each step), ``bfc`` (TF_CPU_ALLOCATOR_USE_BFC=true: TensorFlow's own
best-fit allocator keeps the memory it has used), ``glibc`` (glibc told to keep its blocks:
MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_, MALLOC_MMAP_THRESHOLD_ at its 32 MiB ceiling). Each is
set explicitly, so the project's own choice (ml/tensorflow_import.py) does not mask the others.

Prints one ``name: value`` line per figure: <setting>_step_s, <setting>_epoch_s,
<setting>_epoch_over_steps, <setting>_user_s, <setting>_sys_s, <setting>_images_per_s, and
bfc_over_default_epoch (the default's epoch time ÷ bfc's).

Usage: python benchmarks/epoch_cost.py --data DATASET [--batch-size 8] [--settings default,bfc,glibc]
       (DATASET: e.g. `python -m blendercnn_addon generate --out DATASET --count 200 --resolution 256`)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SETTINGS = {
    "default": {"TF_CPU_ALLOCATOR_USE_BFC": "false"},
    "bfc": {"TF_CPU_ALLOCATOR_USE_BFC": "true"},
    "glibc": {"TF_CPU_ALLOCATOR_USE_BFC": "false", "MALLOC_TRIM_THRESHOLD_": str(4 << 30),
              "MALLOC_TOP_PAD_": str(256 << 20), "MALLOC_MMAP_THRESHOLD_": str(32 << 20)},
}


def timed_training(data: str, batch_size: int, environment: dict[str, str]) -> dict[str, float]:
    """Train 2 epochs in a fresh process; the second epoch's figures (seconds, CPU seconds)."""
    out = tempfile.mkdtemp(prefix="epoch-cost-")
    command = [sys.executable, "-m", "blendercnn_addon", "train", "--data", data, "--out", out, "--arch", "radiance",
               "--epochs", "2", "--batch-size", str(batch_size), "--progress", "json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    batches, epochs = [], []
    try:
        with subprocess.Popen(command, cwd=ROOT, env={**os.environ, **environment}, stdout=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True) as process:
            for line in process.stdout:
                if not line.startswith("{"):
                    continue
                event, now = json.loads(line), time.perf_counter()
                if event["event"] == "batch" and event["epoch"] == 2:
                    batches.append((now, event["batches"]))
                elif event["event"] == "epoch":
                    epochs.append(now)
        if process.returncode != 0 or len(epochs) != 2 or len(batches) < 3:
            sys.exit(f"train failed (exit {process.returncode}) with {environment}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    step = (batches[-1][0] - batches[0][0]) / (len(batches) - 1)
    steps = batches[0][1]
    epoch = epochs[1] - epochs[0]
    return {"step_s": step, "epoch_s": epoch, "epoch_over_steps": epoch / (step * steps),
            "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime,
            "images_per_s": batch_size / step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--settings", default="default,bfc,glibc")
    args = parser.parse_args()
    results = {}
    for name in args.settings.split(","):
        results[name] = timed_training(os.path.abspath(args.data), args.batch_size, SETTINGS[name])
        for figure, value in results[name].items():
            print(f"{name}_{figure}: {value:.3f}", flush=True)
    if "default" in results and "bfc" in results:
        print(f"bfc_over_default_epoch: {results['default']['epoch_s'] / results['bfc']['epoch_s']:.2f}")


if __name__ == "__main__":
    main()
