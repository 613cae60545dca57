"""Evaluate a trained run on its held-out validation samples, and predict images. No bpy.

Metrics (pixels in [0, 1], over the validation split recorded in the run's config.json):
    mse             mean squared error over all pixels and samples
    psnr_db         mean of per-image PSNR (dB)
    ssim            mean SSIM (TensorFlow's, 11x11 Gaussian window)
    psnr_mask_db    mean per-image PSNR inside the ball-and-glow mask: PSNR on mostly
                    black images flatters, so this one looks where the content is
"""

from __future__ import annotations

import os

import numpy as np

from ..errors import UserError
from ..metrics import per_image_psnr
from ..run_folder import COMPARISON_NAME, Metrics, write_metrics
from .dataset import cached_images, check_same_dataset, read_index, save_png
from .inference import load_run, predict, to_uint8

MASK_THRESHOLD = 0.25  # brightest channel of the real image, on [0, 1]
MASK_GROW_PIXELS = 2
GRID_ROWS = 8


def glow_mask(real: np.ndarray) -> np.ndarray:
    """(N, H, W) bool: pixels whose brightest channel reaches MASK_THRESHOLD, grown by MASK_GROW_PIXELS."""
    mask = real.max(axis=-1) >= MASK_THRESHOLD
    grown = mask.copy()
    for dy in range(-MASK_GROW_PIXELS, MASK_GROW_PIXELS + 1):
        for dx in range(-MASK_GROW_PIXELS, MASK_GROW_PIXELS + 1):
            grown |= np.roll(mask, (dy, dx), axis=(1, 2))
    return grown


def comparison_grid(real: np.ndarray, generated: np.ndarray, out_path: str) -> None:
    """PNG with one row per sample: real | generated | |difference| x 4."""
    difference = np.clip(np.abs(real - generated) * 4.0, 0.0, 1.0)
    rows = [np.concatenate([r, g, d], axis=1) for r, g, d in zip(real, generated, difference)]
    save_png(out_path, to_uint8(np.concatenate(rows, axis=0)))


def evaluate(data: str, run: str, out_dir: str | None = None) -> Metrics:
    """Metrics on the run's validation split of ``data``; writes metrics.json and comparison.png to out_dir."""
    trained = load_run(run)
    index = read_index(data)
    check_same_dataset(index, trained.config, run)
    position = {int(sample): row for row, sample in enumerate(index.indices)}
    wanted = list(trained.config.validation_indices)
    missing = [i for i in wanted if i not in position]
    if not wanted or missing:
        raise UserError(f"dataset {data} lacks validation samples of this run (e.g. sample_{missing[0]}); "
                        "evaluate on the dataset the model was trained on" if missing else
                        f"run {run} records no validation samples")
    images = cached_images(index)
    if images.shape[1] != trained.resolution:
        raise UserError(f"dataset images are {images.shape[1]} px, the model makes {trained.resolution} px")
    rows = np.array([position[i] for i in wanted])
    real = images[rows].astype(np.float32) / 255.0
    generated = predict(trained, index.vectors[rows])

    import tensorflow as tf

    mask = glow_mask(real)
    out_dir = out_dir or (run if os.path.isdir(run) else os.path.dirname(run))
    metrics = Metrics(
        samples=int(len(rows)), mse=float(((real - generated) ** 2).mean()),
        psnr_db=float(per_image_psnr(real, generated).mean()),
        ssim=float(tf.reduce_mean(tf.image.ssim(real, generated, max_val=1.0))),
        psnr_mask_db=float(np.nanmean(per_image_psnr(real, generated, mask))), mask_fraction=float(mask.mean()),
        grid=os.path.join(out_dir, COMPARISON_NAME))
    os.makedirs(out_dir, exist_ok=True)
    comparison_grid(real[:GRID_ROWS], generated[:GRID_ROWS], metrics.grid)
    write_metrics(out_dir, metrics)
    return metrics
