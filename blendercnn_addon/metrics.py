"""Image quality figures: PSNR, the one definition every part of the add-on uses. Blender-free.

Pixels are compared in [0, 1] (uint8 images are divided by 255 first), so PSNR is
10 · log10(1 / MSE) dB; identical images have an infinite PSNR.
"""

from __future__ import annotations

import math

import numpy as np


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error of pixels in [0, 1] (inf for 0)."""
    return float("inf") if mse <= 0 else 10.0 * math.log10(1.0 / mse)


def as_unit(image: np.ndarray) -> np.ndarray:
    """float64 pixels in [0, 1]: uint8 images divided by 255, floats as they are."""
    image = np.asarray(image)
    return image.astype(np.float64) / 255.0 if image.dtype == np.uint8 else image.astype(np.float64)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB between two images (or stacks of images) of the same shape; uint8 or [0, 1] floats.

    ``mask`` (the images' shape without the channel axis): only those pixels count."""
    squared = ((as_unit(a) - as_unit(b)) ** 2).mean(axis=-1)
    return psnr_from_mse(float(squared[mask].mean() if mask is not None else squared.mean()))


def per_image_psnr(real: np.ndarray, generated: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """(N,) PSNR in dB of each image of (N, H, W, C) stacks in [0, 1]; with ``mask`` (N, H, W) only
    masked pixels count (images with none are NaN). Identical images get 120 dB (MSE floored at 1e-12)."""
    squared = ((real - generated) ** 2).mean(axis=-1)
    if mask is None:
        mse = squared.reshape(len(real), -1).mean(axis=1)
    else:
        counts = mask.reshape(len(real), -1).sum(axis=1)
        mse = np.where(counts > 0, (squared * mask).reshape(len(real), -1).sum(axis=1) / np.maximum(counts, 1),
                       np.nan)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(1.0 / np.maximum(mse, 1e-12))
