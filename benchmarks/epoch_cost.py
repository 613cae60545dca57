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
<setting>_epoch_over_steps, <setting>_user_s, <setting>_sys_s, <setting>_images_per_s, <setting>_page_faults_k (thousands of
minor page faults, whole process), and
bfc_over_default_epoch (the default's epoch time ÷ bfc's).

With oneDNN off (``--onednn off``, figures prefixed ``onednn_off_``) TensorFlow runs as it does on
CPUs without AVX-512 VNNI/BF16/AMX, where it does not pool memory itself: the case the project's
allocator setting is for.

Usage: python benchmarks/epoch_cost.py [--data DATASET | --count 240] [--batch-size 8]
       [--settings default,bfc,glibc] [--onednn auto,off]
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
                              stdin=subprocess.PIPE, text=True) as process:  # --progress json: EOF on stdin = stop
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
            "images_per_s": batch_size / step, "page_faults_k": (after.ru_minflt - before.ru_minflt) / 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a 256² dataset (default: --count Default renders made in a temporary folder)")
    parser.add_argument("--count", type=int, default=240)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--settings", default="default,bfc,glibc")
    parser.add_argument("--onednn", default="auto,off",
                        help="auto: TensorFlow as it starts on this CPU; off: as on CPUs without AVX-512 VNNI/BF16/AMX, "
                             "where it does not turn on oneDNN and its pooled allocator (AVX2 laptops, many AMD servers)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="epoch-cost-data-")
    try:
        data = os.path.abspath(args.data) if args.data else render_dataset(os.path.join(work, "data"), args.count)
        for onednn in args.onednn.split(","):
            prefix = "" if onednn == "auto" else "onednn_off_"
            results = {}
            for name in args.settings.split(","):
                environment = {**SETTINGS[name], **({"TF_ENABLE_ONEDNN_OPTS": "0"} if onednn == "off" else {})}
                results[name] = timed_training(data, args.batch_size, environment)
                for figure, value in results[name].items():
                    print(f"{prefix}{name}_{figure}: {value:.3f}", flush=True)
            if "default" in results and "bfc" in results:
                print(f"{prefix}bfc_over_default_epoch: {results['default']['epoch_s'] / results['bfc']['epoch_s']:.2f}",
                      flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render_dataset(folder: str, count: int) -> str:
    """``count`` Default renders at 256² (seed 0) into ``folder``; returns it."""
    subprocess.run([sys.executable, "-m", "blendercnn_addon", "generate", "--out", folder, "--count", str(count),
                    "--resolution", "256", "--seed", "0"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return folder


if __name__ == "__main__":
    main()
