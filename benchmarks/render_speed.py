"""Render speed of dataset generation with the default settings, at 32 x 32 and 256 x 256.

Prints one ``name: value`` line per figure. The first image of each resolution is
a warm-up (kernel and scene sync) and is not timed.

Usage: python benchmarks/render_speed.py [--images-32 20] [--images-256 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bpy  # noqa: E402

from blendercnn_addon.blender.generator import DatasetJob  # noqa: E402
from blendercnn_addon.blender.scene_setup import build_seed_scene  # noqa: E402
from blendercnn_addon.settings import GenerationSettings  # noqa: E402


def seconds_per_image(resolution: int, images: int, folder: str) -> float:
    """Mean seconds per image over ``images`` renders after one warm-up render."""
    settings = GenerationSettings(out_dir=os.path.join(folder, f"r{resolution}"), count=images + 1,
                                  resolution=resolution)
    job = DatasetJob(bpy.context.scene, settings, quiet=True)
    job.start()
    job.render_next()
    began = time.perf_counter()
    while not job.finished:
        job.render_next()
    elapsed = time.perf_counter() - began
    job.finish()
    return elapsed / images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-32", type=int, default=20)
    parser.add_argument("--images-256", type=int, default=5)
    args = parser.parse_args()
    build_seed_scene(bpy.context.scene)
    defaults = GenerationSettings(out_dir="-")
    print(f"render_samples: {defaults.samples}")
    print(f"denoiser: {defaults.denoiser}")
    with tempfile.TemporaryDirectory() as folder:
        for resolution, images in ((32, args.images_32), (256, args.images_256)):
            seconds = seconds_per_image(resolution, images, folder)
            print(f"seconds_per_image_{resolution}: {seconds:.4f}")
            print(f"images_per_second_{resolution}: {1.0 / seconds:.3f}")


if __name__ == "__main__":
    main()
