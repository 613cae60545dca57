"""How far a preset's renders sit from clean references: noise, and bias that no model can average away.

A model trained on noisy renders learns their mean. Noise averages out; bias (what the denoiser
does to the ball's rim and reflection, the view transform bending noisy light) does not, so
it caps the PSNR any model trained on that preset can reach against clean references. For each
preset this renders --count vectors --noise-seeds times with different Cycles seeds and
compares one render and the mean of all of them with a Reference-preset render of the same vector
(PSNR over the set, pixels in [0, 1]). With MSE(one) = bias² + noise² and
MSE(mean of K) = bias² + noise²/K, it prints per preset:
    psnr_one_<preset>, psnr_mean_<preset>, psnr_bias_floor_<preset> (dB), seconds_per_image_<preset>

--demo-scene measures a demonstration scene (demo_scenes.py) over its own parameters instead of
the ball room.

Usage: python benchmarks/render_bias.py [--resolution 64] [--count 16] [--noise-seeds 4]
       [--default-samples S ...] [--demo-scene ball_room|ball_plus|turntable|orbit]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import bpy  # noqa: E402
import numpy as np  # noqa: E402

from blendercnn_addon.blender import renderer  # noqa: E402
from blendercnn_addon.metrics import psnr_from_mse  # noqa: E402
from blendercnn_addon.ml.dataset import load_image  # noqa: E402
from blendercnn_addon.randomization import VectorSpec, sample_vector  # noqa: E402
from blendercnn_addon.blender.scene_setup import build_demo_scene  # noqa: E402
from blendercnn_addon.demo_scenes import DEFAULT_DEMO, DEMO_SCENES, demo_scene  # noqa: E402
from blendercnn_addon.settings import GenerationSettings  # noqa: E402
from blendercnn_addon.vector import DEFAULT_LAYOUT  # noqa: E402

PRESETS = ("default", "balanced", "seed")


def render_set(scene, preset: str, vectors, noise_seeds, folder: str, resolution: int,
               samples: int | None = None, layout=DEFAULT_LAYOUT) -> tuple[np.ndarray, float]:
    """(len(noise_seeds), len(vectors), R, R, 3) images in [0, 1], and seconds per image.
    ``samples`` replaces the preset's Cycles samples when given; ``layout``: what the vectors set."""
    overrides = {} if samples is None else {"samples": samples}
    settings = GenerationSettings.from_preset(preset, out_dir=folder, resolution=resolution, **overrides)
    target = renderer.resolve_target(scene, settings.target, layout)
    denoiser, _ = renderer.resolve_denoiser(scene, settings.denoiser)
    renderer.configure_render(scene, settings, denoiser)
    images = np.zeros((len(noise_seeds), len(vectors), resolution, resolution, 3), np.float32)
    began = time.monotonic()
    for k, noise in enumerate(noise_seeds):
        for i, vector in enumerate(vectors):
            path = os.path.join(folder, f"{preset}_{samples}_{k}_{i}.png")
            renderer.apply_vector(target, vector)
            renderer.render_still(scene, path, noise + i, quiet=True)
            images[k, i] = load_image(path)[..., :3] / 255.0
    return images, (time.monotonic() - began) / images.shape[0] / images.shape[1]


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--count", type=int, default=16, help="vectors (default 16)")
    parser.add_argument("--noise-seeds", type=int, default=4, help="renders of each vector (default 4)")
    parser.add_argument("--default-samples", type=int, nargs="*", default=[], metavar="S",
                        help="also measure the Default preset with S samples (printed as default_<S>spp)")
    parser.add_argument("--demo-scene", default=DEFAULT_DEMO, choices=sorted(DEMO_SCENES),
                        help=f"the scene and its parameters (default {DEFAULT_DEMO})")
    args = parser.parse_args()
    scene = bpy.context.scene
    build_demo_scene(scene, args.demo_scene)
    layout = demo_scene(args.demo_scene).layout()
    vectors = [sample_vector(1001, i, VectorSpec(layout=layout)) for i in range(args.count)]
    folder = tempfile.mkdtemp(prefix="blendercnn-render-bias-")
    clean, _ = render_set(scene, "reference", vectors, [7], folder, args.resolution, layout=layout)
    noise_seeds = [1000 + 100 * k for k in range(args.noise_seeds)]
    print(f"scene: {args.demo_scene}\nresolution: {args.resolution}\nvectors: {args.count}\n"
          f"noise_seeds: {args.noise_seeds}")
    runs = [(preset, preset, None) for preset in PRESETS]
    runs += [(f"default_{samples}spp", "default", samples) for samples in args.default_samples]
    for name, preset, samples in runs:
        images, seconds = render_set(scene, preset, vectors, noise_seeds, folder, args.resolution, samples, layout)
        one = float(np.mean([mse(images[k], clean[0]) for k in range(len(noise_seeds))]))
        mean = mse(images.mean(axis=0), clean[0])
        k = len(noise_seeds)
        bias = max(mean - (one - mean) / (k - 1), 1e-12)  # solve the two equations above for bias²
        print(f"psnr_one_{name}: {psnr_from_mse(one):.2f}")
        print(f"psnr_mean_{name}: {psnr_from_mse(mean):.2f}")
        print(f"psnr_bias_floor_{name}: {psnr_from_mse(bias):.2f}")
        print(f"seconds_per_image_{name}: {seconds:.3f}", flush=True)


if __name__ == "__main__":
    main()
