"""Training at 256² on whole images against training on tiles (ml/crop_steps.py), side by side.

On one dataset (--data, or --count Default renders at 256² made into --work once) and 40 clean
references of held-out vectors (Reference preset, cached in --work as time_to_quality.py makes
them), each variant trains radiance with its recipe (batch, rate) for the same wall time
(--budget seconds of training, the budget ending at the batch that spends it), each in a fresh
process, one after the other. Per variant:
- images_per_s: training images per second over the training steps after the first epoch
  (the first includes tracing): batch size × steps ÷ their seconds, from the batch events;
- epoch_over_steps: the mean epoch (steps, validation, checkpoints, summaries) over its steps' time;
- psnr_clean_256: the model train saved (its best epoch), scored against the clean references;
- epochs: how many the budget allowed.
Prints one ``name: value`` line per figure, ``<variant>_<figure>``, and for each variant beside
``whole``: ``<variant>_over_whole_images_per_s`` (the throughput ratio) and
``<variant>_minus_whole_psnr_db``.

Variants (NAME, or NAME:BATCH:RATE for another recipe): ``whole`` (--tile-fraction 1: every pixel
of every image in each step, the recipe), ``halves`` (--tile-fraction 2: one (R/2)² tile of each
image per step), ``tiles`` (--tile-fraction 4: one (R/4)² tile).

Usage: python benchmarks/train_throughput.py --work DIR [--data DATASET] [--count 1000] [--budget 600]
       [--variants whole,halves,tiles]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from blendercnn_addon.metrics import psnr  # noqa: E402

RESOLUTION = 256
VARIANTS = {"whole": 1, "halves": 2, "tiles": 4}


def dataset(work: str, count: int) -> str:
    """WORK/dataset_<count>: ``count`` Default renders at 256², made once."""
    from time_to_quality import cli

    folder = os.path.join(work, f"dataset_{count}")
    if not os.path.exists(os.path.join(folder, "dataset.json")):
        seconds = cli("generate", "--out", folder, "--count", str(count), "--resolution", str(RESOLUTION), "--quiet")
        print(f"render_seconds: {seconds:.0f} (not part of the comparison)", flush=True)
    return folder


def measure(data: str, tile_fraction: int, budget: float, batch_size: int | None = None,
            learning_rate: float | None = None) -> dict:
    """In this process: train radiance for ``budget`` seconds; steps' and epochs' times, the saved model."""
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    events = []
    run = tempfile.mkdtemp(prefix="throughput-")

    def report(event: str, **fields) -> None:
        events.append((time.perf_counter(), event, fields))

    recipe = TrainingRecipe(arch="radiance", epochs=100_000, early_stopping_patience=100_000, time_budget_s=budget,
                            tile_fraction=tile_fraction, batch_size=batch_size, learning_rate=learning_rate)
    done = train(TrainRequest(data, run, recipe), report)
    batch_size = json.load(open(os.path.join(run, "config.json")))["batch_size"]
    return {**_timings(events, batch_size), "model": done["model"], "run": run, "batch_size": batch_size,
            "epochs": done["epochs_done"], "best_val_psnr": done["best_val_psnr"]}


def _timings(events: list, batch_size: int) -> dict:
    """images/s over the steps of epochs 2 on, and their mean epoch time (from the previous epoch's
    end) over the time of its steps (its per-step time × its batches)."""
    step_seconds, steps, ratios = 0.0, 0, []
    epoch_end, batch_times = None, []
    for moment, event, fields in events:
        if event == "batch":
            batch_times = [moment] if fields["batch"] == 1 else [*batch_times, moment]
        elif event == "epoch":
            if fields["epoch"] >= 2 and epoch_end is not None and len(batch_times) > 1:
                seconds = batch_times[-1] - batch_times[0]
                step_seconds, steps = step_seconds + seconds, steps + len(batch_times) - 1
                ratios.append((moment - epoch_end) / (seconds / (len(batch_times) - 1) * len(batch_times)))
            epoch_end = moment
    return {"images_per_s": batch_size * steps / step_seconds if steps else float("nan"),
            "epoch_over_steps": float(np.mean(ratios)) if ratios else float("nan")}


def score(model_path: str, refs) -> float:
    import keras

    from blendercnn_addon.ml import models  # noqa: F401  (registers the custom layers)

    vectors, clean = refs
    model = keras.saving.load_model(model_path, safe_mode=True)
    return psnr(clean, np.clip(model.predict(vectors, batch_size=8, verbose=0), 0.0, 1.0))


def run_variant(data: str, variant: str, budget: float) -> dict:
    """Train variant ``NAME[:BATCH[:RATE]]`` in a fresh process (the recipe's batch and rate unless given)."""
    name, *recipe = variant.split(":")
    tile_fraction = VARIANTS[name]
    extra = [*(["--batch-size", recipe[0]] if recipe else []), *(["--learning-rate", recipe[1]] if len(recipe) > 1 else [])]
    done = subprocess.run([sys.executable, __file__, "--measure", data, "--tile-fraction", str(tile_fraction),
                           "--budget", str(budget), *extra], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: the variant with tile fraction {tile_fraction}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="folder for the references and the dataset (reused)")
    parser.add_argument("--data", help="a 256² dataset to train on (default: --count renders made in --work)")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--references", type=int, default=40)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per variant")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--measure", metavar="DATA", help=argparse.SUPPRESS)  # the child's part
    parser.add_argument("--tile-fraction", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--learning-rate", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.tile_fraction, args.budget, args.batch_size, args.learning_rate)))
        return
    if not args.work:
        parser.error("--work is required")
    from time_to_quality import references

    os.makedirs(args.work, exist_ok=True)
    refs = references(args.work, args.references)
    data = args.data or dataset(args.work, args.count)
    print(f"resolution: {RESOLUTION}\nbudget_s: {args.budget:.0f}\ncpu: {_cpu()}", flush=True)
    results = {}
    for name in args.variants.split(","):
        result = run_variant(data, name, args.budget)
        result["psnr_clean_256"] = score(result["model"], refs)
        shutil.rmtree(result["run"], ignore_errors=True)
        results[name] = result
        for figure in ("batch_size", "images_per_s", "epoch_over_steps", "epochs", "best_val_psnr", "psnr_clean_256"):
            value = result[figure]
            print(f"{name}_{figure}: {value:.2f}" if isinstance(value, float) else f"{name}_{figure}: {value}",
                  flush=True)
    whole = results.get("whole")
    for name, result in results.items():
        if whole is not None and name != "whole":
            print(f"{name}_over_whole_images_per_s: {result['images_per_s'] / whole['images_per_s']:.2f}")
            print(f"{name}_minus_whole_psnr_db: {result['psnr_clean_256'] - whole['psnr_clean_256']:.2f}")


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            name = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        name = "unknown"
    return f"{name}, {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
