"""Image → vector: how close ``invert`` gets to the vector that made a picture, and how fast.

Renders a training set at 64² (the Default preset), trains the default architecture with the real
``train`` command, then renders three evaluation sets of vectors it never saw (another seed):
clean references (Reference preset), clean references with unseen colours (uniform, pastel, dim,
near-white), and the training preset's own noisy renders of both. Each picture is inverted with
ml/invert.py (in this process; TensorFlow only, no Blender here) and compared with its vector.

Prints one ``name: value`` line per figure, per set (clean, unseen, noisy, noisy_unseen):
position_error_m_median_*, position_error_m_p95_* (metres, Euclidean in x, y),
colour_error_median_*, colour_error_p95_* (largest absolute error over r, g, b),
seconds_per_image_* (median), fit_psnr_db_median_*, poor_fits_*; and the model's validation PSNR.

Usage: python benchmarks/inversion.py [--work DIR] [--count 3000] [--budget 240] [--eval-count 100] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

SETS = {  # name: (seed, preset, colour scheme)
    "clean": (2, "reference", "vibrant"),
    "unseen": (3, "reference", "unseen"),
    "noisy": (2, "default", "vibrant"),
    "noisy_unseen": (3, "default", "unseen"),
}


def cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "blendercnn_addon", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr[-2000:]}")


def prepare(work: str, args) -> str:
    """Datasets and the trained run in ``work`` (reused when there already); returns the run folder."""
    common = ("--resolution", "64", "--quiet")
    if not os.path.exists(os.path.join(work, "train", "metadata.json")):
        cli("generate", "--out", os.path.join(work, "train"), "--count", str(args.count), "--seed", "1", *common)
    for name, (seed, preset, scheme) in SETS.items():
        folder = os.path.join(work, name)
        if not os.path.exists(os.path.join(folder, "metadata.json")):
            cli("generate", "--out", folder, "--count", str(args.eval_count), "--seed", str(seed), "--preset", preset,
                "--colour-scheme", scheme, *common)
    run = os.path.join(work, "run")
    if not os.path.exists(os.path.join(run, "model.keras")):
        cli("train", "--data", os.path.join(work, "train"), "--out", run, "--epochs", "200",
            "--time-budget", str(args.budget))
    return run


def measure(trained, folder: str) -> dict:
    from blendercnn_addon.ml.dataset import cached_images, read_index
    from blendercnn_addon.ml.invert import invert, judge
    from blendercnn_addon.vector import COLOUR, POSITION

    index = read_index(folder)
    images = cached_images(index)
    position_errors, colour_errors, seconds, fits, poor = [], [], [], [], 0
    for row in range(len(index.indices)):
        estimate = invert(trained, images[row])
        truth = index.vectors[row]
        position_errors.append(float(np.linalg.norm(estimate.vector[POSITION] - truth[POSITION])))
        colour_errors.append(float(np.abs(estimate.vector[COLOUR] - truth[COLOUR]).max()))
        seconds.append(estimate.seconds)
        fits.append(estimate.psnr_db)
        poor += judge(estimate) is not None
    return {"position_error_m_median": np.median(position_errors),
            "position_error_m_p95": np.percentile(position_errors, 95),
            "colour_error_median": np.median(colour_errors), "colour_error_p95": np.percentile(colour_errors, 95),
            "seconds_per_image": np.median(seconds), "fit_psnr_db_median": np.median(fits), "poor_fits": poor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="folder to render and train in (reused when run again)")
    parser.add_argument("--count", type=int, default=3000, help="training renders (default 3000)")
    parser.add_argument("--budget", type=float, default=240.0, help="training seconds (default 240)")
    parser.add_argument("--eval-count", type=int, default=100, help="pictures per evaluation set (default 100)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 400 renders, 60 s, 8 pictures a set")
    args = parser.parse_args()
    if args.quick:
        args.count, args.budget, args.eval_count = 400, 60.0, 8
    work = args.work or tempfile.mkdtemp(prefix="blendercnn-inversion-")
    run = prepare(work, args)
    from blendercnn_addon.ml.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()
    from blendercnn_addon.ml.inference import load_run
    from blendercnn_addon.run_folder import read_history

    trained = load_run(run)
    history = read_history(run)
    print(f"training_renders: {args.count}")
    print(f"model_best_val_psnr_db: {max(h.val_psnr for h in history):.2f}")
    for name in SETS:
        for key, value in measure(trained, os.path.join(work, name)).items():
            print(f"{key}_{name}: {value:.4f}" if isinstance(value, float) else f"{key}_{name}: {value}", flush=True)
    print(f"work: {work}")


if __name__ == "__main__":
    main()
