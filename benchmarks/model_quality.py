"""Model quality: the seed architecture against ``radiance``, same data, same wall-clock budget.

Renders (or reuses, in --work) with the real CLI:
    train/        N samples, default preset, vibrant colours (the training set)
    train_noq/    the same without the quadrant x > 0, y > 0 (for the held-out-region test)
    clean/        M held-out vectors (another dataset seed), reference preset: clean references
    render/       the same M vectors with the training set's own settings (its noise)
    newcolour/    M clean references with colours never trained on (uniform, pastel, dim, near-white)
    quadrant/     M clean references with the ball inside the held-out quadrant
then trains seed and radiance on train/ (and on train_noq/) for --budget seconds each with the
real `train` command, and prints one ``name: value`` line per figure (PSNR in dB, pixels in
[0, 1], PSNR of the mean MSE over a set): psnr_clean_*, psnr_newcolour_*, psnr_quadrant_*,
psnr_mask_* (inside the ball-and-glow mask of the clean references), psnr_render_vs_clean,
psnr_model_vs_render_gap_*, time_to_seed_psnr_ratio, infer_ms_256 (radiance, CPU, one
image; infer_ms_256_seed the same for seed), params_*, and the training facts behind them.

Usage: python benchmarks/model_quality.py [--work DIR] [--resolution 64] [--count 10000]
       [--budget 360] [--eval-count 100] [--train-samples S] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from blendercnn_addon.metrics import psnr  # noqa: E402
from blendercnn_addon.run_folder import read_history  # noqa: E402

ARCHS = ("seed", "radiance")


def cli(*args: str) -> None:
    """Run ``python -m blendercnn_addon ARGS``; stop the benchmark with its stderr if it fails."""
    done = subprocess.run([sys.executable, "-m", "blendercnn_addon", *args], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(args)}\n{done.stderr[-2000:]}")


def render_sets(work: str, args) -> None:
    common = ("--resolution", str(args.resolution), "--quiet")
    sets = {
        "train": ("--count", str(args.count), "--seed", "0"),
        "train_noq": ("--count", str(args.count), "--seed", "0", "--exclude-quadrant"),
        "clean": ("--count", str(args.eval_count), "--seed", "1001", "--preset", "reference"),
        "render": ("--count", str(args.eval_count), "--seed", "1001"),
        "newcolour": ("--count", str(args.eval_count), "--seed", "1002", "--preset", "reference",
                      "--colour-scheme", "unseen"),
        "quadrant": ("--count", str(args.eval_count), "--seed", "1003", "--preset", "reference",
                     "--x-range", "0", "1", "--y-range", "0", "1"),
    }
    if args.train_samples:  # the sets rendered with the training settings
        for name in ("train", "train_noq", "render"):
            sets[name] += ("--samples", str(args.train_samples))
    for name, extra in sets.items():
        began = time.monotonic()
        cli("generate", "--out", os.path.join(work, name), *common, *extra)
        print(f"render_seconds_{name}: {time.monotonic() - began:.0f}", flush=True)


def train(work: str, data: str, arch: str, budget: float) -> str:
    run = os.path.join(work, f"run_{arch}_{data}")
    if not os.path.exists(os.path.join(run, "model.keras")):
        cli("train", "--data", os.path.join(work, data), "--out", run, "--arch", arch, "--epochs", "100000",
            "--patience", "100000", "--time-budget", str(budget))
    return run


def load_set(folder: str):
    from blendercnn_addon.ml.dataset import cached_images, read_index

    index = read_index(folder)
    return index.vectors, cached_images(index).astype(np.float32) / 255.0


def time_to_reach(history: list, target: float) -> float | None:
    """Training seconds until validation PSNR first reached ``target`` (None: never); ``history``:
    run_folder.EpochRecord per epoch."""
    for entry in history:
        if entry.val_psnr >= target:
            return entry.elapsed_s
    return None


def inference_ms_256(arch: str, data: str) -> float:
    """Median milliseconds for one 256 x 256 image (batch of one) from ``arch`` on this CPU.

    Built as `train` builds it at 256² (the recipe's width there) from the dataset ``data`` (its
    table, the card's emission strength and world radiance, its geometry). The geometry is repeated up to 256² by nearest
    neighbour: light paths and the ball's disc cost the same whatever the values, and the
    benchmark's 64² dataset has no 256² bake."""
    import tensorflow as tf

    from blendercnn_addon import scene_geometry, view_lut
    from blendercnn_addon.architectures import recipe
    from blendercnn_addon.ml.dataset import emission_strength, read_index, world_radiance
    from blendercnn_addon.ml.models import build_model

    index, geometry = read_index(data), scene_geometry.load(data)
    if geometry is not None:
        factor = 256 // geometry.resolution
        geometry = geometry._replace(**{field: np.repeat(np.repeat(getattr(geometry, field), factor, 0), factor, 1)
                                        for field in ("ray_origin", "ray_direction", "position", "normal")})
    model = build_model(arch, 256, view_lut.load(data), emission_strength(index), world_radiance(index), geometry,
                        width=recipe(arch, 256)["width"])  # as train builds it at 256²
    vector = np.array([[1.0, 0.4, 0.0, 0.3, -0.2]], np.float32)
    run = tf.function(lambda v: model(v, training=False))
    run(vector)
    times = []
    for _ in range(50):
        began = time.perf_counter()
        np.asarray(run(vector))
        times.append(time.perf_counter() - began)
    return 1000.0 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", help="folder to render and train in (reused when run again)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--count", type=int, default=10_000, help="training-set size (default 10000)")
    parser.add_argument("--eval-count", type=int, default=100, help="vectors per evaluation set (default 100)")
    parser.add_argument("--budget", type=float, default=360.0, help="training seconds per model (default 360)")
    parser.add_argument("--train-samples", type=int, metavar="S",
                        help="Cycles samples for the training sets and render/ (default: the Default preset's 3); "
                        "more samples lower the renders' bias against clean references (benchmarks/render_bias.py)")
    parser.add_argument("--quick", action="store_true", help="a few-minute smoke run: 600 samples, 16 per "
                        "evaluation set, 45 s of training per model")
    args = parser.parse_args()
    if args.quick:
        args.count, args.eval_count, args.budget = 600, 16, 45.0
    work = args.work or tempfile.mkdtemp(prefix="blendercnn-model-quality-")
    print(f"work: {work}")
    print(f"resolution: {args.resolution}")
    print(f"train_samples: {args.count}")
    print(f"budget_s: {args.budget:.0f}")
    print(f"train_render_samples: {args.train_samples or 'preset default'}", flush=True)
    render_sets(work, args)
    runs = {(arch, data): train(work, data, arch, args.budget) for data in ("train", "train_noq") for arch in ARCHS}

    import keras

    from blendercnn_addon.ml.evaluate import glow_mask
    from blendercnn_addon.ml.inference import load_run, predict

    clean_vectors, clean = load_set(os.path.join(work, "clean"))
    _, rendered = load_set(os.path.join(work, "render"))
    mask = glow_mask(clean)
    print(f"psnr_render_vs_clean: {psnr(clean, rendered):.2f}")
    print(f"psnr_mask_render_vs_clean: {psnr(clean, rendered, mask):.2f}")
    sets = {name: load_set(os.path.join(work, name)) for name in ("newcolour", "quadrant")}
    histories = {}
    for arch in ARCHS:
        trained = load_run(runs[arch, "train"])
        histories[arch] = read_history(runs[arch, "train"])
        generated = predict(trained, clean_vectors)
        print(f"psnr_clean_{arch}: {psnr(clean, generated):.2f}")
        print(f"psnr_mask_{arch}: {psnr(clean, generated, mask):.2f}")
        print(f"psnr_model_vs_render_gap_{arch}: {psnr(clean, generated) - psnr(clean, rendered):.2f}")
        vectors, images = sets["newcolour"]
        print(f"psnr_newcolour_{arch}: {psnr(images, predict(trained, vectors)):.2f}")
        held_out = load_run(runs[arch, "train_noq"])
        vectors, images = sets["quadrant"]
        print(f"psnr_quadrant_{arch}: {psnr(images, predict(held_out, vectors)):.2f}")
        print(f"params_{arch}: {trained.model.count_params()}")
        print(f"trainable_params_{arch}: {sum(int(np.prod(w.shape)) for w in trained.model.trainable_weights)}")
        print(f"epochs_{arch}: {len(histories[arch])}")
        print(f"train_seconds_{arch}: {histories[arch][-1].elapsed_s:.0f}")
        print(f"best_val_psnr_{arch}: {max(h.val_psnr for h in histories[arch]):.2f}", flush=True)
        keras.backend.clear_session()
    seed_final = histories["seed"][-1].val_psnr
    seed_seconds = time_to_reach(histories["seed"], seed_final)
    new_seconds = time_to_reach(histories["radiance"], seed_final)
    ratio = "never" if new_seconds is None else f"{new_seconds / seed_seconds:.3f}"
    print(f"seed_final_val_psnr: {seed_final:.2f}")
    print(f"time_to_seed_psnr_ratio: {ratio}")
    print(f"infer_ms_256: {inference_ms_256('radiance', os.path.join(work, 'train')):.1f}")
    print(f"infer_ms_256_seed: {inference_ms_256('seed', os.path.join(work, 'train')):.1f}")


if __name__ == "__main__":
    main()
