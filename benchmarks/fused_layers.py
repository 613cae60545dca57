"""The radiance model at 256² with its per-pixel layers fused by XLA, against op by op, side by side.

The view-transform lookup and the coloured light (ml/models.py, ``_FusedCall``) are chains of
elementwise ops on every pixel. This benchmark makes a small dataset with the CLI (32 Default
renders at 256²: the model needs the dataset's view table and geometry; what the pictures show
does not change the speed), then times the same model twice, each in its own process: once
with ``BLENDERCNN_XLA=0`` (op by op), once as shipped (fused). Per variant: one training step
(batch 16, Adam, MSE, the training pipeline's batches; after warm-up), and one image's forward
pass as the preview worker traces it (ml/serve.compile_forward). Prints one ``name: value``
line per figure; ``*_speedup`` are unfused / fused.

Usage: python benchmarks/fused_layers.py [--resolution 256] [--steps 12] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def make_dataset(folder: str, resolution: int) -> str:
    data = os.path.join(folder, "data")
    subprocess.run([sys.executable, "-m", "blendercnn_addon", "generate", "--out", data, "--count", "32",
                    "--resolution", str(resolution), "--quiet"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return data


def measure(data: str, steps: int, batch_size: int) -> dict:
    """In this process: ms per training step and per one-image forward pass (best of 3 rounds)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from blendercnn_addon.ml.tensorflow_import import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    import keras
    import numpy as np

    from blendercnn_addon import scene_geometry, view_lut
    from blendercnn_addon.ml import models
    from blendercnn_addon.ml.dataset import cached_images, emission_strength, read_index, world_radiance
    from blendercnn_addon.ml.serve import compile_forward
    from blendercnn_addon.ml.train import _make_batches

    index = read_index(data)
    images = cached_images(index)
    keras.utils.set_random_seed(0)
    model = models.build_model("radiance", images.shape[1], view_lut.load(data), emission_strength(index),
                               world_radiance(index), scene_geometry.load(data))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    batches = _make_batches(images, index.vectors, np.arange(len(index.indices)), batch_size, seed=0)
    first = batches[0]
    for _ in range(3):
        model.train_on_batch(*first)  # warm-up: tracing, compiling
    step_ms = min(_timed(lambda: model.train_on_batch(*first), steps) for _ in range(3))
    forward = compile_forward(model, images.shape[1], rgba_bottom_up=True)
    vector = tf.constant(index.vectors[:1])
    forward(vector)
    forward_ms = min(_timed(lambda: forward(vector).numpy(), 20) for _ in range(3))
    return {"fused": models._xla_available(), "train_step_ms": step_ms, "forward_ms": forward_ms}


def _timed(action, repeats: int) -> float:
    began = time.perf_counter()
    for _ in range(repeats):
        action()
    return (time.perf_counter() - began) / repeats * 1000


def run_variant(data: str, fused: bool, steps: int, batch_size: int) -> dict:
    env = {**os.environ, "BLENDERCNN_XLA": "1" if fused else "0"}
    out = subprocess.run([sys.executable, __file__, "--measure", data, "--steps", str(steps),
                          "--batch-size", str(batch_size)], env=env, cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if result["fused"] != fused:
        sys.exit(f"failed: asked for fused={fused}, the model ran fused={result['fused']} (is XLA available?)")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--measure", metavar="DATA", help=argparse.SUPPRESS)  # the child's part
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.steps, args.batch_size)))
        return
    with tempfile.TemporaryDirectory() as folder:
        data = make_dataset(folder, args.resolution)
        unfused = run_variant(data, False, args.steps, args.batch_size)
        fused = run_variant(data, True, args.steps, args.batch_size)
    print(f"resolution: {args.resolution}")
    print(f"batch_size: {args.batch_size}")
    for name in ("train_step_ms", "forward_ms"):
        print(f"{name}_unfused: {unfused[name]:.1f}")
        print(f"{name}_fused: {fused[name]:.1f}")
        print(f"{name.removesuffix('_ms')}_speedup: {unfused[name] / fused[name]:.2f}")
    print(f"train_images_per_second_fused: {args.batch_size / fused['train_step_ms'] * 1000:.1f}")


if __name__ == "__main__":
    main()
