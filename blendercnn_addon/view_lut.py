"""The scene's view transform as a 3-D lookup table: its grid, and lookup in numpy. No bpy.

Blender's display images are ``ViewTransform(linear RGB)``. Filmic and AgX mix channels, so
the transform is a 3-D table, baked by Blender itself (renderer.bake_view_transform) on a
grid of linear values per channel: 0, then ``LUT_SIZE - 1`` values log-spaced from
``LUT_MIN`` to ``LUT_MAX`` (above that the transforms are flat white). The dataset keeps it
as ``view_transform_lut.npy``: float32, shape (LUT_SIZE, LUT_SIZE, LUT_SIZE, 3), indexed
[r, g, b], display values in [0, 1]. The Keras layer that uses it lives in ml/models.py.
"""

from __future__ import annotations

import math
import os

import numpy as np

from .dataset_card import ViewTableRecord

LUT_SIZE = 65
LUT_MIN = 2.0**-14  # linear; below it the table interpolates linearly to 0
LUT_MAX = 2.0**8  # linear; Filmic and AgX are saturated well before
LUT_FILE = "view_transform_lut.npy"


def card_record() -> ViewTableRecord:
    """What the dataset card says about the table."""
    return ViewTableRecord(size=LUT_SIZE, min=LUT_MIN, max=LUT_MAX,
                           nodes="0, then log-uniform from min to max, per channel",
                           layout="float32 [r, g, b, 3]: display RGB in [0, 1] of linear RGB",
                           baked_by="Blender: image.save_render with the scene's colour management, "
                                    "16-bit PNG, no dither")


def grid(size: int = LUT_SIZE, low: float = LUT_MIN, high: float = LUT_MAX) -> np.ndarray:
    """(size,) float64 linear values of the table's nodes: 0, then log-spaced low .. high."""
    return np.concatenate([[0.0], np.exp(np.linspace(math.log(low), math.log(high), size - 1))])


def coordinate(linear: np.ndarray, size: int = LUT_SIZE, low: float = LUT_MIN, high: float = LUT_MAX) -> np.ndarray:
    """Continuous node coordinate in [0, size - 1] of linear values (clipped to [0, high])."""
    v = np.clip(linear, 0.0, high)
    log_part = 1.0 + (np.log(np.maximum(v, low)) - math.log(low)) / (math.log(high) - math.log(low)) * (size - 2)
    return np.where(v < low, v / low, log_part)


def apply(table: np.ndarray, linear: np.ndarray) -> np.ndarray:
    """Display RGB (..., 3) in [0, 1] of linear RGB (..., 3), by trilinear interpolation in ``table``."""
    size = table.shape[0]
    t = coordinate(linear, size)
    i0 = np.clip(np.floor(t).astype(np.int64), 0, size - 2)
    f = np.clip(t - i0, 0.0, 1.0)
    out = np.zeros(linear.shape, dtype=np.float64)
    for corner in range(8):
        offset = [(corner >> axis) & 1 for axis in range(3)]
        weight = np.ones(linear.shape[:-1])
        for axis in range(3):
            weight = weight * (f[..., axis] if offset[axis] else 1.0 - f[..., axis])
        out += weight[..., None] * table[i0[..., 0] + offset[0], i0[..., 1] + offset[1], i0[..., 2] + offset[2]]
    return out


def linear_grid_image(size: int = LUT_SIZE) -> np.ndarray:
    """(size, size * size, 3) float32 image whose pixel (y=b, x=r + size*g) holds grid (r, g, b)."""
    values = grid(size).astype(np.float32)
    r, g, b = np.meshgrid(values, values, values, indexing="ij")  # each (size, size, size) [r, g, b]
    image = np.stack([r, g, b], axis=-1)  # [r, g, b, 3]
    return image.transpose(2, 1, 0, 3).reshape(size, size * size, 3)  # rows b, columns g*size + r


def table_from_image(image: np.ndarray, size: int = LUT_SIZE) -> np.ndarray:
    """Inverse of :func:`linear_grid_image`'s layout: (size, size*size, 3) → [r, g, b, 3] float32."""
    return image.reshape(size, size, size, 3).transpose(2, 1, 0, 3).astype(np.float32)


def present(folder: str) -> bool:
    """Whether the dataset in ``folder`` has its baked table (datasets made before it existed do not)."""
    return os.path.isfile(os.path.join(folder, LUT_FILE))


def load(folder: str) -> np.ndarray | None:
    """The dataset's baked table, or None when it has none (see present)."""
    return np.load(os.path.join(folder, LUT_FILE)) if present(folder) else None
