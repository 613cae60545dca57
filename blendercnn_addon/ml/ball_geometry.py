"""Where the ball's image is: the image-coordinate grid and a fit of it from pictures. numpy only.

Image coordinates (u, v) run from -1 at the left / top pixel centre to 1 at the right / bottom
one, whatever the resolution; models.BallChannels gives the same grid to the convolutions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..vector import POSITION


def pixel_grid(height: int, width: int) -> np.ndarray:
    """(height, width, 2) float32: each pixel's (u, v), both from -1 (left / top) to 1."""
    u, v = np.meshgrid(np.linspace(-1.0, 1.0, width), np.linspace(-1.0, 1.0, height), indexing="xy")
    return np.stack([u, v], axis=-1).astype(np.float32)


BALL_CORE_FRACTION = 0.95  # pixels this close to an image's brightest belong to the ball's core
BALL_FIT_MAX_RESIDUAL = 0.1  # uv units (the image is 2 wide); worse than this, the fit is not used
BALL_FIT_MIN_EXPLAINED = 0.9  # share of the centres' variance the map must explain


class BallFit(NamedTuple):
    """coefficients (k + 1, 2): rows x, y [, z], 1 → columns u, v; residual: rms error in uv units;
    explained: share of the found centres' variance the map accounts for (1: all of it)."""

    coefficients: np.ndarray
    residual: float
    explained: float

    @property
    def usable(self) -> bool:
        """The ball really is the brightest thing and really moves with the position."""
        return self.residual <= BALL_FIT_MAX_RESIDUAL and self.explained >= BALL_FIT_MIN_EXPLAINED


CHUNK = 64  # images per step: a thousand 256² float copies at once would take 0.8 GB


def core_centres(images: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """(n, 2) centroid (u, v) of each image's pixels at least BALL_CORE_FRACTION as bright as its brightest."""
    brightness = images.sum(axis=-1, dtype=np.float32)  # (n, H, W)
    peak = brightness.reshape(len(images), -1).max(axis=1)[:, None, None]
    core = brightness >= BALL_CORE_FRACTION * peak
    return np.einsum("nhw,hwc->nc", core, grid) / core.sum(axis=(1, 2))[:, None]


def fit_ball_projection(vectors: np.ndarray, images: np.ndarray, where: np.ndarray | None = None) -> BallFit:
    """Affine map from the ball's position to where its image is, fitted by least squares.

    vectors (N, VECTOR_SIZE) (vector.py; x, y in metres); images (N, H, W, 3), uint8 or float;
    ``where`` (N, k): the ball's coordinates to map (metres; None: the vectors' x, y; k rows of
    coefficients, then the constant's). The ball's image in
    each picture is the centroid of the pixels at least BALL_CORE_FRACTION as bright as its
    brightest (the emitter's saturated core); u, v are BallChannels' [-1, 1] image coordinates.
    """
    count, height, width = images.shape[:3]
    grid = pixel_grid(height, width)  # (H, W, 2)
    centre = np.concatenate([core_centres(images[start:start + CHUNK], grid)
                             for start in range(0, count, CHUNK)])  # (N, 2) u, v
    where = vectors[:, POSITION] if where is None else where
    design = np.column_stack([where, np.ones(count)])  # (N, k + 1): x, y [, z], 1
    coefficients, *_ = np.linalg.lstsq(design, centre, rcond=None)
    error = float(np.mean((design @ coefficients - centre) ** 2))
    spread = float(np.mean(centre.var(axis=0)))
    explained = 1.0 - error / spread if spread > 0 else 0.0
    return BallFit(coefficients.astype(np.float32), float(np.sqrt(error)), explained)
