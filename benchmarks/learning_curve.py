"""Renders needed: the model's quality against clean references as a function of how many renders it trained on.

One dataset of max(--counts) renders (Set Up Scene's scene, Default preset, --resolution) is made
once; for each count N the radiance model trains (its recipe, early stopping as the panel's Train
does) on samples 0 .. N-1 (the same first N a dataset of --count N holds: vectors are a pure
function of seed and index) and is scored against the clean references of 40 held-out vectors
(Reference preset, dataset seed 2024, never rendered for training); counts measured before in the
same --work folder (same resolution and --epochs) are reused. Prints one ``name: value``
line per figure: psnr_clean_<N> (dB), train_seconds_<N>, epochs_<N>, then
``recommended_count``: the smallest N within --tolerance dB of the best — what
blendercnn_addon/recommendation.py records for the panel and the CLI.

With --presets P1,P2,… (and --preset-count N) it also renders N images with each preset and
trains on each, side by side: psnr_clean_<preset>, render_seconds_<preset> — which renders train
the best model per second of rendering (the model, not the render, judged against clean images).

Usage: python benchmarks/learning_curve.py [--resolution 64] [--counts 250,500,1000,2000,4000] [--work DIR]
       [--presets draft,default,balanced --preset-count 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from time_to_quality import REFERENCE_SEED, cli, preset_arguments  # noqa: E402

from blendercnn_addon.dataset_format import (METADATA_NAME, SCENE_TABLE_NAMES, metadata_bytes,  # noqa: E402
                                             write_atomically)
from blendercnn_addon.dataset_card import CARD_NAME  # noqa: E402
from blendercnn_addon.metrics import psnr  # noqa: E402
from blendercnn_addon.recommendation import smallest_within  # noqa: E402


def references(work: str, resolution: int, count: int):
    """(vectors (N, 5), clean images (N, R, R, 3) in [0, 1]) of held-out vectors, rendered once."""
    from blendercnn_addon.ml.dataset import cached_images, read_index

    folder = os.path.join(work, f"references_{resolution}_{count}")
    if not os.path.exists(os.path.join(folder, CARD_NAME)):
        seconds = cli("generate", "--out", folder, "--count", str(count), "--resolution", str(resolution),
                      "--seed", str(REFERENCE_SEED), "--preset", "reference", "--quiet")
        print(f"reference_render_seconds: {seconds:.0f} (not part of the curve)", flush=True)
    index = read_index(folder)
    return index.vectors, cached_images(index).astype(np.float32) / 255.0


def first_samples(data: str, count: int, folder: str) -> str:
    """A dataset folder holding the first ``count`` samples of ``data`` (links to its images, its tables)."""
    from blendercnn_addon.dataset_format import read_metadata

    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    everything = read_metadata(os.path.join(data, METADATA_NAME))
    vectors = {i: everything[i] for i in sorted(everything)[:count]}
    for name in (CARD_NAME, *SCENE_TABLE_NAMES):
        shutil.copy(os.path.join(data, name), folder)
    for i in vectors:
        os.symlink(os.path.join(data, f"sample_{i}.png"), os.path.join(folder, f"sample_{i}.png"))
    with open(os.path.join(folder, METADATA_NAME), "wb") as handle:
        handle.write(metadata_bytes(vectors))
    return folder


def train_and_score(data: str, run: str, refs, epochs: int) -> dict:
    from blendercnn_addon.ml.inference import load_run, predict
    from blendercnn_addon.ml.train import train
    from blendercnn_addon.run_config import TrainingRecipe, TrainRequest

    shutil.rmtree(run, ignore_errors=True)
    began = time.perf_counter()
    result = train(TrainRequest(data, run, TrainingRecipe(arch="radiance", epochs=epochs)),
                   lambda event, **fields: None)
    seconds = time.perf_counter() - began
    vectors, clean = refs
    generated = np.clip(predict(load_run(run), vectors, batch_size=8), 0.0, 1.0)
    return {"psnr_clean": psnr(clean, generated), "train_seconds": seconds, "epochs": result["epochs_done"],
            "best_val_psnr": result["best_val_psnr"]}


def compare_presets(work: str, args, refs) -> None:
    """Render --preset-count images with each preset (one folder each, reused), train and score each."""
    for preset in args.presets.split(","):  # a preset name, or NAME@SAMPLES for it at another sample count
        data = os.path.join(work, f"preset_{preset}_{args.resolution}_{args.preset_count}")
        shutil.rmtree(data, ignore_errors=True)
        seconds = cli("generate", "--out", data, "--count", str(args.preset_count), "--resolution",
                      str(args.resolution), *preset_arguments(preset), "--quiet")
        figures = train_and_score(data, os.path.join(work, f"run_preset_{preset}"), refs, args.epochs)
        print(f"render_seconds_{preset}: {seconds:.0f}", flush=True)
        print(f"psnr_clean_{preset}: {figures['psnr_clean']:.2f} ({figures['epochs']} epochs, "
              f"{figures['train_seconds']:.0f} s training)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--counts", default="250,500,1000,2000,4000")
    parser.add_argument("--epochs", type=int, default=60, help="most epochs per count (early stopping ends most runs sooner)")
    parser.add_argument("--tolerance", type=float, default=0.5, help="dB below the best that still counts as the same model")
    parser.add_argument("--work", help="folder for the references and the dataset (reused)")
    parser.add_argument("--presets", default="", help="also compare these training presets (comma-separated; "
                        "NAME@SAMPLES: that preset at another sample count)")
    parser.add_argument("--preset-count", type=int, default=500, help="renders per preset compared (default 500)")
    parser.add_argument("--skip-curve", action="store_true", help="only the preset comparison")
    args = parser.parse_args()
    counts = sorted(int(c) for c in args.counts.split(","))
    work = args.work or tempfile.mkdtemp(prefix="blendercnn-learning-curve-")
    print(f"work: {work}\nresolution: {args.resolution}\ncounts: {','.join(map(str, counts))}", flush=True)
    refs = references(work, args.resolution, 40)
    if args.presets:
        compare_presets(work, args, refs)
    if args.skip_curve:
        return
    data = os.path.join(work, f"dataset_{args.resolution}")
    seconds = cli("generate", "--out", data, "--count", str(counts[-1]), "--resolution", str(args.resolution),
                  "--quiet")
    print(f"render_seconds_{counts[-1]}: {seconds:.0f}", flush=True)
    curve_file = os.path.join(work, f"learning_curve_{args.resolution}.json")
    curve = measured_before(curve_file, args.resolution, args.epochs)
    for count in counts:
        if count in curve:
            print(f"psnr_clean_{count}: {curve[count]['psnr_clean']:.2f} (measured before, {curve_file})", flush=True)
            continue
        subset = first_samples(data, count, os.path.join(work, f"first_{count}"))
        curve[count] = train_and_score(subset, os.path.join(work, f"run_{count}"), refs, args.epochs)
        print(f"psnr_clean_{count}: {curve[count]['psnr_clean']:.2f}", flush=True)
        print(f"train_seconds_{count}: {curve[count]['train_seconds']:.0f}", flush=True)
        print(f"epochs_{count}: {curve[count]['epochs']}", flush=True)
        save_curve(curve_file, args.resolution, args.epochs, curve)
    scores = {c: f["psnr_clean"] for c, f in curve.items() if c in counts}
    recommended = smallest_within(scores, args.tolerance)
    print(f"recommended_count: {recommended} (within {args.tolerance} dB of the best, {args.resolution}²)")


def measured_before(path: str, resolution: int, epochs: int) -> dict[int, dict]:
    """The counts a previous run in this work folder already measured with the same settings."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        saved = json.load(handle)
    if saved.get("resolution") != resolution or saved.get("epochs") != epochs:
        return {}
    return {int(count): figures for count, figures in saved["curve"].items()}


def save_curve(path: str, resolution: int, epochs: int, curve: dict[int, dict]) -> None:
    """Every count measured so far, so that a stopped run keeps them and a longer one reuses them."""
    saved = {"resolution": resolution, "epochs": epochs, "curve": {str(c): curve[c] for c in sorted(curve)}}
    write_atomically(path, json.dumps(saved, indent=2).encode("utf-8"))  # a run killed mid-save keeps the last


if __name__ == "__main__":
    main()
