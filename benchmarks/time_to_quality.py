"""The user's real job at 256², timed: from an empty folder to a model that matches clean renders.

What the panel does with its defaults, measured on this machine, side by side in one run:
- references (not part of the job; rendered once, cached in --work): the clean images of 40
  held-out vectors (dataset seed 2024, Reference preset, 256²);
- the job, wall clock from the first render: Generate (Set Up Scene's scene, --preset (Default), the
  default workers, 256², --count images (default: the count the panel recommends) into an empty
  folder), then Train (radiance, its recipe, the rest of --budget as its time budget). After every
  epoch the model draws the references' vectors and is scored against them;
- the seed pipeline's estimate: the seed's render settings timed per image at 256² (marginal
  time: 8 images minus 2, one process) × 10,000, plus the seed architecture's epoch at 256² on
  9,000 training images (its batches timed on the job's renders) × 18 epochs. An estimate, labelled.

Prints one ``name: value`` line per figure: seconds_to_35db (-1: not reached), psnr_clean_256_final
(the last epoch that ended within the budget; training stops at the batch that spends it),
psnr_clean_256_best, renders_used, render_seconds, train_seconds, epochs, seconds_total,
seed_render_s_per_image, seed_epoch_s_256, seed_pipeline_hours_estimate,
speedup_vs_seed_pipeline (estimate ÷ seconds_to_35db, or ÷ seconds_total when 35 dB is not
reached, then labelled a lower bound), and psnr_clean_256_at_<s>s: the learning curve over time.

With --follow the same job runs a second time as Generate & Train (train --follow starting beside
generate: each epoch on the images finished so far), and its figures print with a follow_ prefix.

Usage: python benchmarks/time_to_quality.py [--work DIR] [--count 1000] [--budget 1800] [--preset default]
       [--follow] [--skip-seed-estimate] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from blendercnn_addon.architectures import ARCHITECTURES  # noqa: E402
from blendercnn_addon.metrics import psnr  # noqa: E402
from blendercnn_addon.recommendation import recommended_count  # noqa: E402

RESOLUTION = 256
TARGET_DB = 35.0
REFERENCE_SEED = 2024  # a dataset seed the job never renders: held-out vectors
SEED_PIPELINE_IMAGES = 10_000
SEED_PIPELINE_EPOCHS = 18  # the seed notebook's training run
SEED_TIMED_BATCHES = 12  # batches of the seed model timed (after 3 warm-up batches)


def cli(*args: str) -> float:
    """Run ``python -m blendercnn_addon ARGS``; its wall seconds. Stops the benchmark if it fails."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "blendercnn_addon", *args], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr[-2000:]}")
    return time.perf_counter() - began


def references(work: str, count: int):
    """(vectors (N, 5), clean images (N, R, R, 3) in [0, 1]), rendered once into WORK/references."""
    from blendercnn_addon.ml.dataset import cached_images, read_index

    folder = os.path.join(work, f"references_{count}")
    if not os.path.exists(os.path.join(folder, "dataset.json")):
        seconds = cli("generate", "--out", folder, "--count", str(count), "--resolution", str(RESOLUTION),
                      "--seed", str(REFERENCE_SEED), "--preset", "reference", "--quiet")
        print(f"reference_render_seconds: {seconds:.0f} (not part of the job)", flush=True)
    index = read_index(folder)
    return index.vectors, cached_images(index).astype(np.float32) / 255.0


def scorer(refs, began: float, curve: list, label: str):
    """An epoch hook scoring the model against the references: appends {"epoch", "seconds" (since
    ``began``), "psnr_clean"} to ``curve`` and prints it."""
    vectors, clean = refs

    def score(model, epoch: int) -> None:
        generated = np.clip(model.predict(vectors, batch_size=8, verbose=0), 0.0, 1.0)
        value = psnr(clean, generated)
        curve.append({"epoch": epoch, "seconds": time.perf_counter() - began, "psnr_clean": value})
        print(f"{label} {epoch}: {value:.2f} dB against the clean references at {curve[-1]['seconds']:.0f} s",
              flush=True)
    return score


def preset_arguments(preset: str) -> list[str]:
    """``generate`` arguments for a preset name, or NAME@SAMPLES for that preset at another sample count."""
    name, _, samples = preset.partition("@")
    return ["--preset", name, *(["--samples", samples] if samples else [])]


def run_job(work: str, count: int, budget: float, refs, preset: str = "default",
            batch_size: int | None = None, learning_rate: float | None = None) -> dict:
    """Generate (with ``preset``) then Train (radiance's recipe, or ``batch_size`` / ``learning_rate``)
    from an empty folder; the per-epoch scores against the references."""
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    job = os.path.join(work, "job")
    shutil.rmtree(job, ignore_errors=True)
    data, run = os.path.join(job, "dataset"), os.path.join(job, "run")
    began = time.perf_counter()
    render_seconds = cli("generate", "--out", data, "--count", str(count), "--resolution", str(RESOLUTION),
                         *preset_arguments(preset), "--quiet")
    print(f"render_seconds: {render_seconds:.0f}", flush=True)
    curve = []
    score = scorer(refs, began, curve, "epoch")
    config = TrainRequest(data, run, TrainingRecipe(arch="radiance", epochs=100_000, early_stopping_patience=100_000,
                                                    time_budget_s=max(1.0, budget - render_seconds),
                                                    batch_size=batch_size, learning_rate=learning_rate))
    train_began = time.perf_counter()
    train(config, lambda event, **fields: None, epoch_hook=score)
    return {"render_seconds": render_seconds, "train_seconds": time.perf_counter() - train_began,
            "seconds_total": time.perf_counter() - began, "curve": curve, "data": data}


def run_job_following(work: str, count: int, budget: float, refs) -> dict:
    """Generate & Train: generate in its process, train --follow beside it from the start (the
    panel's Generate & Train); the per-epoch scores against the references."""
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    job = os.path.join(work, "job_follow")
    shutil.rmtree(job, ignore_errors=True)
    data, run = os.path.join(job, "dataset"), os.path.join(job, "run")
    began = time.perf_counter()
    generate = subprocess.Popen([sys.executable, "-m", "blendercnn_addon", "generate", "--out", data, "--count",
                                 str(count), "--resolution", str(RESOLUTION), "--quiet"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rendered = {}

    def wait_for_generate() -> None:
        generate.wait()
        rendered["seconds"] = time.perf_counter() - began

    waiter = threading.Thread(target=wait_for_generate, daemon=True)
    waiter.start()
    curve = []
    score = scorer(refs, began, curve, "follow epoch")
    config = TrainRequest(data, run, TrainingRecipe(arch="radiance", epochs=100_000, early_stopping_patience=100_000,
                                                    time_budget_s=budget), follow=True)
    train(config, lambda event, **fields: None, epoch_hook=score)
    waiter.join()
    if generate.returncode != 0:
        sys.exit(f"failed: generate\n{generate.stderr.read()[-2000:]}")
    return {"render_seconds": rendered["seconds"], "seconds_total": time.perf_counter() - began, "curve": curve}


def seed_render_seconds_per_image(work: str) -> float:
    """Marginal seconds per 256² image at the seed's settings in one process (8 images minus 2)."""
    times = {}
    for count in (2, 8):
        folder = os.path.join(work, f"seed_render_{count}")
        shutil.rmtree(folder, ignore_errors=True)
        times[count] = cli("generate", "--out", folder, "--count", str(count), "--resolution", str(RESOLUTION),
                           "--preset", "seed", "--workers", "1", "--quiet")
    return (times[8] - times[2]) / 6


def seed_epoch_seconds(work: str, data: str) -> float:
    """Seconds for one epoch of the seed architecture on 9,000 images at 256², from SEED_TIMED_BATCHES
    timed batches on the job's renders (their batch size is the seed's)."""
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    stop, stamps, intervals = threading.Event(), [], []

    def report(event: str, **fields) -> None:
        if event != "batch":
            return
        now = time.perf_counter()
        if stamps and stamps[-1][0] == fields["epoch"]:  # within an epoch: validation never in between
            intervals.append(now - stamps[-1][1])
        stamps.append((fields["epoch"], now))
        if len(intervals) >= 2 + SEED_TIMED_BATCHES:
            stop.set()

    run = os.path.join(work, "seed_epoch_run")
    shutil.rmtree(run, ignore_errors=True)
    train(TrainRequest(data, run, TrainingRecipe(arch="seed", epochs=1000, early_stopping_patience=1000)), report,
          stop_requested=stop)
    per_batch = float(np.mean(intervals[2:]))  # the first two: tracing and warm-up
    batch_size = ARCHITECTURES["seed"].batch_size
    return per_batch * -(-int(0.9 * SEED_PIPELINE_IMAGES) // batch_size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="folder for the references (reused) and the job (replaced)")
    count = recommended_count(RESOLUTION) or 1200
    parser.add_argument("--count", type=int, default=count, help=f"renders the job makes (default {count}: what "
                        f"the panel recommends at {RESOLUTION}², recommendation.py)")
    parser.add_argument("--budget", type=float, default=1800.0, help="wall seconds for the job (default 1800)")
    parser.add_argument("--references", type=int, default=40, help="held-out clean references (default 40)")
    parser.add_argument("--follow", action="store_true",
                        help="also run the job as Generate & Train (train --follow beside generate), side by "
                             "side: its figures print with a follow_ prefix")
    parser.add_argument("--follow-only", action="store_true",
                        help="with --follow: only the Generate & Train job (no sequential job, no seed estimate)")
    parser.add_argument("--preset", default="default",
                        help="the job's render preset (default: Default); NAME@SAMPLES for it at another sample count")
    parser.add_argument("--batch-size", type=int, help="the job's batch size (default: radiance's recipe)")
    parser.add_argument("--learning-rate", type=float, help="the job's initial Adam rate (default: radiance's recipe)")
    parser.add_argument("--skip-seed-estimate", action="store_true",
                        help="no seed pipeline estimate (its renders and timed batches take a few minutes)")
    parser.add_argument("--quick", action="store_true",
                        help="a few-minute smoke run: 96 renders, 8 references, a 150 s job")
    args = parser.parse_args()
    if args.quick:
        args.count, args.references, args.budget = 96, 8, 150.0
    work = args.work or tempfile.mkdtemp(prefix="blendercnn-time-to-quality-")
    print(f"work: {work}\nresolution: {RESOLUTION}\nbudget_s: {args.budget:.0f}\nrenders_used: {args.count}\n"
          f"references: {args.references}\npreset: {args.preset}", flush=True)
    recipe = ARCHITECTURES["radiance"].recipe(RESOLUTION)  # what train fills in where the arguments are None
    print(f"batch_size: {args.batch_size or recipe['batch_size']}\n"
          f"learning_rate: {args.learning_rate or recipe['learning_rate']}", flush=True)
    refs = references(work, args.references)
    if not (args.follow and args.follow_only):
        job = run_job(work, args.count, args.budget, refs, args.preset, args.batch_size, args.learning_rate)
        print(f"train_seconds: {job['train_seconds']:.0f}")
        reached = report_curve(job, args.budget, "")
    if args.follow:
        following = run_job_following(work, args.count, args.budget, refs)
        print(f"follow_render_seconds: {following['render_seconds']:.0f}")
        report_curve(following, args.budget, "follow_")
    if (args.follow and args.follow_only) or args.skip_seed_estimate:
        return
    seed_render = seed_render_seconds_per_image(work)
    seed_epoch = seed_epoch_seconds(work, job["data"])
    hours = (seed_render * SEED_PIPELINE_IMAGES + seed_epoch * SEED_PIPELINE_EPOCHS) / 3600
    print(f"seed_render_s_per_image: {seed_render:.2f}")
    print(f"seed_epoch_s_256: {seed_epoch:.0f}")
    print(f"seed_pipeline_hours_estimate: {hours:.1f} (estimate: {SEED_PIPELINE_IMAGES:,} renders + "
          f"{SEED_PIPELINE_EPOCHS} epochs, from timed samples)")
    ours = reached if reached is not None else job["seconds_total"]
    bound = "" if reached is not None else " (lower bound: 35 dB not reached; against the whole job)"
    print(f"speedup_vs_seed_pipeline: {hours * 3600 / ours:.1f}{bound}")
    with open(os.path.join(work, "time_to_quality.json"), "w", encoding="utf-8") as handle:
        json.dump({**{k: v for k, v in job.items() if k != "data"}, "seconds_to_35db": reached,
                   "seed_pipeline_hours_estimate": hours}, handle, indent=2)


def report_curve(job: dict, budget: float, prefix: str) -> float | None:
    """Print a job's figures (names prefixed by ``prefix``); returns its seconds to 35 dB (None: never)."""
    curve = job["curve"]
    reached = next((point["seconds"] for point in curve if point["psnr_clean"] >= TARGET_DB), None)
    print(f"{prefix}seconds_total: {job['seconds_total']:.0f}")
    print(f"{prefix}epochs: {len(curve)}")
    print(f"{prefix}seconds_to_35db: {reached:.0f}" if reached is not None else f"{prefix}seconds_to_35db: -1")
    in_budget = [point for point in curve if point["seconds"] <= budget]
    if in_budget:  # the model a user has when the budget is up: the last epoch that ended in time
        print(f"{prefix}psnr_clean_256_final: {in_budget[-1]['psnr_clean']:.2f} (epoch {in_budget[-1]['epoch']}, "
              f"{in_budget[-1]['seconds']:.0f} s)")
    if curve:
        print(f"{prefix}psnr_clean_256_best: {max(p['psnr_clean'] for p in curve):.2f}")
    for point in curve:
        print(f"{prefix}psnr_clean_256_at_{point['seconds']:.0f}s: {point['psnr_clean']:.2f}", flush=True)
    return reached

if __name__ == "__main__":
    main()
