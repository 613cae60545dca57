"""Training throughput of the ``seed`` architecture at 64 x 64 and 256 x 256 (images per second).

Runs Keras ``fit`` on the same batch pipeline training uses (uint8 images in a
memory-mapped array, converted to float one batch at a time), on random pixels:
speed does not depend on what the images show. The first epoch (graph tracing)
is not timed. Prints one ``name: value`` line per figure.

Usage: python benchmarks/train_speed.py [--batches 20] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from blendercnn_addon.ml.models import build_model  # noqa: E402
from blendercnn_addon.ml.train import _device, _make_batches  # noqa: E402
from blendercnn_addon.vector import VECTOR_SIZE  # noqa: E402


def images_per_second(resolution: int, batches: int, batch_size: int, folder: str) -> float:
    """Training images per second over ``batches`` batches, after one untimed warm-up epoch."""
    count = batches * batch_size
    images = np.lib.format.open_memmap(os.path.join(folder, f"images_{resolution}.npy"), mode="w+",
                                       dtype=np.uint8, shape=(count, resolution, resolution, 3))
    images[:] = np.random.default_rng(0).integers(0, 256, images.shape, dtype=np.uint8)
    vectors = np.random.default_rng(1).random((count, VECTOR_SIZE), dtype=np.float32)
    keras.utils.set_random_seed(0)
    model = build_model("seed", resolution)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    data = _make_batches(images, vectors, np.arange(count), batch_size, seed=0)
    model.fit(data, epochs=1, verbose=0)  # warm-up: tracing and memory allocation
    began = time.perf_counter()
    model.fit(data, epochs=1, verbose=0)
    return count / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    print(f"device: {_device()}")
    print(f"batch_size: {args.batch_size}")
    with tempfile.TemporaryDirectory() as folder:
        for resolution in (64, 256):
            speed = images_per_second(resolution, args.batches, args.batch_size, folder)
            print(f"train_images_per_second_{resolution}: {speed:.1f}")
            print(f"seconds_per_epoch_9000_{resolution}: {9000 / speed:.0f}")


if __name__ == "__main__":
    main()
