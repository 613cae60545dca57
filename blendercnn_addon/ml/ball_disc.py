"""The ball's own pixels, computed exactly: how much of each pixel the ball covers. No bpy.

The ball is an emitter: wherever a camera ray meets it, the light is colour × strength, the
same everywhere on it. So its image is known from geometry alone — a disc where the pixel's ray
passes within the ball's radius of its centre — seen through the camera's pixel filter (each
pixel averages rays spread around its centre by the filter: Cycles' Blackman-Harris spans twice
the filter width, its Gaussian has σ = width / 4, its box the width itself).

A network trained on few-sample renders cannot learn this edge: a pixel the ball barely covers
is usually missed by all of a render's few rays, while the same pixel's mean light (strength ×
a small fraction, with a strength of 300) is already white after the view transform. The
renders' rim is therefore darker and thinner than the truth, and half of what separated a
trained model from clean references lay in a two-pixel ring round the ball
(benchmarks/render_bias.py). Drawn from geometry, the rim is right in every place and colour.

While training, the model is compared with those renders, so it draws the rim as they show it:
the same edge moved by a learned shift and widened by a learned factor (two numbers, the
renders' bias). Training would otherwise spend itself fighting a rim it cannot match, and its
validation PSNR would measure the renders' bias. The saved model.keras draws the exact rim
(set_exact); last.keras, the training state, keeps the renders' one.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from ..scene_geometry import SceneGeometry
from ..vector import POSITION

# Blackman-Harris window: a0 - a1 cos(2πt) + a2 cos(4πt) - a3 cos(6πt), t in [0, 1]
BLACKMAN_HARRIS = (0.35875, 0.48829, 0.14128, 0.01168)
FILTER_SPAN = {"BLACKMAN_HARRIS": 2.0, "GAUSSIAN": 0.25, "BOX": 1.0}  # × filter width: BH/box span, Gaussian σ
# each filter's variance along one axis, in units of (filter width)²; the Blackman-Harris
# window's σ is 0.13851 of its span (numerical integration)
FILTER_VARIANCE = {"BLACKMAN_HARRIS": (0.13851 * 2.0) ** 2, "GAUSSIAN": 0.25**2, "BOX": 1.0 / 12.0}


def pixel_spacing(geometry: SceneGeometry) -> np.ndarray:
    """(R, R, 2) float32: how far apart neighbouring pixels' rays are at distance t along them,
    spacing = [..., 0] + [..., 1]·t metres: the origins' spacing (orthographic cameras) and the
    directions' angle in radians (perspective ones), each the mean over rows and columns."""
    def step(array):
        per_axis = [np.linalg.norm(np.gradient(array, axis=axis), axis=-1) for axis in (0, 1)]
        return (per_axis[0] + per_axis[1]) / 2.0
    return np.stack([step(geometry.ray_origin.astype(np.float64)),
                     step(geometry.ray_direction.astype(np.float64))], axis=-1).astype(np.float32)


def ray_tables(geometry: SceneGeometry) -> tuple[np.ndarray, np.ndarray]:
    """The baked rays as BallCoverage keeps them, float32: ``projection`` (3, 2N), rows x, y, z
    of [directions | origins], so that one matrix product gives C·d and C·o for every pixel
    (N = R·R); ``constants`` (4, N): d·o, |o|², and pixel_spacing's two terms."""
    origin = geometry.ray_origin.reshape(-1, 3).astype(np.float64)
    direction = geometry.ray_direction.reshape(-1, 3).astype(np.float64)
    spacing = pixel_spacing(geometry).reshape(-1, 2)
    projection = np.concatenate([direction.T, origin.T], axis=1)
    constants = np.stack([np.sum(direction * origin, axis=1), np.sum(origin * origin, axis=1),
                          spacing[:, 0], spacing[:, 1]])
    return projection.astype(np.float32), constants.astype(np.float32)


def edge_coverage(outside, pixel_filter: str, filter_width: float):
    """Fraction (0 .. 1) of a pixel's filter that falls inside a straight edge whose border lies
    ``outside`` pixels from the pixel's centre (negative: the centre is inside). Numpy arrays or tensors in,
    a tensor out."""
    span = FILTER_SPAN[pixel_filter] * filter_width
    if pixel_filter == "GAUSSIAN":
        return 0.5 - 0.5 * ops.erf(outside / (span * math.sqrt(2.0)))
    if pixel_filter == "BOX":
        return ops.clip(0.5 - outside / span, 0.0, 1.0)
    a0, a1, a2, a3 = BLACKMAN_HARRIS
    angle = ops.clip(math.pi - outside * (2.0 * math.pi / span), 0.0, 2.0 * math.pi)  # 2π × where the edge cuts the span
    sine, cosine = ops.sin(angle), ops.cos(angle)
    # a0·θ - a1 sin θ + a2/2 sin 2θ - a3/3 sin 3θ (2π × the window's integral), with sin 2θ = 2 sin θ cos θ
    # and sin 3θ = sin θ (3 - 4 sin² θ): two sines instead of three
    integral = a0 * angle - sine * (a1 - a2 * cosine + a3 / 3.0 * (3.0 - 4.0 * sine * sine))
    return integral / (2.0 * math.pi * a0)


PLACED = 4  # columns of a placed ball (BallPlacement): x, y, z, radius


def ball_centre_and_radius(position, ball_height: float, ball_radius: float):
    """(centre (batch, 3) metres, radius: (batch, 1) metres or the float ``ball_radius``) of a ball at
    ``position``: (batch, 2) x, y on the floor at ``ball_height``, or (batch, PLACED) from BallPlacement."""
    if position.shape[-1] == PLACED:
        return position[:, :3], position[:, 3:]
    height = ops.ones_like(position[:, :1]) * ball_height
    return ops.concatenate([position, height], axis=-1), ball_radius


@keras.saving.register_keras_serializable(package="blendercnn")
class BallPlacement(layers.Layer):
    """vector (batch, N) → (batch, PLACED): the ball's x, y, z and radius, metres, for a ball room
    whose vector also varies the ball's height and / or size (vector.BallExtras).

    x, y are the vector's POSITION; z is field ``height_index``, or ``ball_height`` when it is None;
    the radius is ``ball_radius`` × field ``size_index`` / ``ball_scale`` (the scale the radius was
    measured at), or ``ball_radius`` when it is None."""

    def __init__(self, ball_height: float, ball_radius: float, height_index: int | None = None,
                 size_index: int | None = None, ball_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.ball_height, self.ball_radius = float(ball_height), float(ball_radius)
        self.height_index, self.size_index = height_index, size_index
        self.ball_scale = float(ball_scale)

    def call(self, vector):
        ones = ops.ones_like(vector[:, :1])
        height = vector[:, self.height_index:self.height_index + 1] if self.height_index is not None \
            else ones * self.ball_height
        size = vector[:, self.size_index:self.size_index + 1] if self.size_index is not None else ones * self.ball_scale
        radius = size * (self.ball_radius / max(self.ball_scale, 1e-6))
        return ops.concatenate([vector[:, POSITION.start:POSITION.stop], height, radius], axis=-1)

    def get_config(self):
        return {**super().get_config(), "ball_height": self.ball_height, "ball_radius": self.ball_radius,
                "height_index": self.height_index, "size_index": self.size_index, "ball_scale": self.ball_scale}


@keras.saving.register_keras_serializable(package="blendercnn")
class BallCoverage(layers.Layer):
    """position (batch, 2) metres → (batch, R, R, 1): the share of each pixel's filter that sees
    the ball (radius ``ball_radius`` metres, centred at (x, y, ``ball_height``)), 0 .. 1; or
    position (batch, PLACED) from BallPlacement: the ball's own centre and radius per image.

    Per pixel: t, the distance along its ray to the point nearest the centre; the ray's distance
    from the centre at t, minus the radius, divided by the pixels' spacing there, is how far
    (in pixels) the pixel's centre lies outside the ball's disc; edge_coverage turns that into a
    share of the filter. The rays are two non-trainable weights (see ray_tables), so a saved
    model carries them. ``exact`` (a non-trainable 0/1 weight, see set_exact)
    chooses the physical edge (1) or the renders' (0): the distance moved by ``render_rim``'s
    learned shift (pixels) and divided by exp of its log-widening."""

    def __init__(self, resolution: int, ball_height: float, ball_radius: float,
                 pixel_filter: str = "BLACKMAN_HARRIS", filter_width: float = 1.5, tables=None, **kwargs):
        super().__init__(**kwargs)
        if pixel_filter not in FILTER_SPAN:
            raise ValueError(f"unknown pixel filter {pixel_filter!r}; known: {', '.join(FILTER_SPAN)}")
        self.resolution, self.ball_height, self.ball_radius = int(resolution), float(ball_height), float(ball_radius)
        self.pixel_filter, self.filter_width = pixel_filter, float(filter_width)
        self._variance_px2 = FILTER_VARIANCE[pixel_filter] * self.filter_width**2
        self._tables = tables  # (projection, constants) from ray_tables; None when loaded from a file

    @classmethod
    def from_geometry(cls, geometry: SceneGeometry, **kwargs) -> "BallCoverage":
        return cls(geometry.resolution, geometry.ball_height, geometry.ball_radius, geometry.pixel_filter,
                   geometry.filter_width, tables=ray_tables(geometry), **kwargs)

    def build(self, input_shape):
        count = self.resolution * self.resolution
        self.projection = self.add_weight(name="projection", shape=(3, 2 * count), trainable=False,
                                          initializer=keras.initializers.Zeros())
        self.constants = self.add_weight(name="constants", shape=(4, count), trainable=False,
                                         initializer=keras.initializers.Zeros())
        if self._tables is not None:
            self.projection.assign(self._tables[0])
            self.constants.assign(self._tables[1])
        self.render_rim = self.add_weight(name="render_rim", shape=(2,), initializer=keras.initializers.Zeros())
        self.exact = self.add_weight(name="exact", shape=(), trainable=False, initializer=keras.initializers.Ones())

    def call(self, position):
        count = self.resolution * self.resolution
        centre, radius = ball_centre_and_radius(position, self.ball_height, self.ball_radius)  # (batch, 3)
        products = ops.matmul(centre, self.projection)  # (batch, 2N): C·d, then C·o
        coverage = self._coverage(centre, radius, products[:, :count], products[:, count:], self.constants)
        return ops.reshape(coverage, (-1, self.resolution, self.resolution, 1))

    def tile(self, position, corners, side: int):
        """(batch, side, side, 1): the coverage of one tile per image, the pixels from ``corners``
        (batch, 2) int32, (row, column) of each tile's top-left pixel (crop_steps.py)."""
        import tensorflow as tf

        count = self.resolution * self.resolution
        steps = tf.range(side, dtype=corners.dtype)
        pixels = ((corners[:, :1, None] + steps[None, :, None]) * self.resolution
                  + corners[:, 1:, None] + steps[None, None, :])  # (batch, side, side) flat pixel indices
        pixels = tf.reshape(pixels, (-1, side * side))
        centre, radius = ball_centre_and_radius(position, self.ball_height, self.ball_radius)
        directions = tf.gather(self.projection[:, :count], pixels, axis=1)  # (3, batch, K)
        origins = tf.gather(self.projection[:, count:], pixels, axis=1)
        along = tf.einsum("bc,cbk->bk", centre, directions)
        towards_origin = tf.einsum("bc,cbk->bk", centre, origins)
        constants = tf.transpose(tf.gather(self.constants, pixels, axis=1), (1, 0, 2))  # (batch, 4, K)
        coverage = self._coverage(centre, radius, along, towards_origin, [constants[:, row] for row in range(4)])
        return ops.reshape(coverage, (-1, side, side, 1))

    def _coverage(self, centre, radius, centre_dot_direction, centre_dot_origin, constants):
        """(batch, K) coverage of K pixels from C·d and C·o (batch, K) and the pixels' four ray constants;
        ``radius``: metres, a float or (batch, 1)."""
        along = centre_dot_direction - constants[0]  # distance along the ray to the point nearest C
        miss2 = (ops.sum(centre * centre, axis=-1, keepdims=True) - 2.0 * centre_dot_origin + constants[1]
                 - along * along)  # |C - o|² - along²: the ray's squared distance from C
        spacing = constants[2] + constants[3] * along  # metres between neighbouring rays there
        outside = (ops.sqrt(ops.maximum(miss2, 0.0)) - radius) / spacing  # pixels outside the disc
        # edge_coverage assumes a straight edge; a disc curves away from it, which would add σ²·π
        # pixels to its area: moving the edge in by σ² / 2r keeps the area exact (σ² in px², r in px)
        outside = outside + spacing * (self._variance_px2 / (2.0 * radius))
        narrowing = ops.exp(-self.render_rim[1])
        scale = self.exact + (1.0 - self.exact) * narrowing  # exact: 1, 0; as rendered: the learned rim
        offset = (self.exact - 1.0) * self.render_rim[0] * narrowing
        coverage = edge_coverage(outside * scale + offset, self.pixel_filter, self.filter_width)
        return ops.where(along > 0.0, coverage, 0.0)  # nothing behind the camera

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution, "ball_height": self.ball_height,
                "ball_radius": self.ball_radius, "pixel_filter": self.pixel_filter,
                "filter_width": self.filter_width}


def set_exact(model: keras.Model, exact: bool) -> None:
    """Make ``model`` draw the ball's rim exactly (to save it for use) or as its training renders
    show it (to train and validate on them); models without a BallCoverage are left alone."""
    for layer in model.layers:
        if isinstance(layer, BallCoverage):
            layer.exact.assign(1.0 if exact else 0.0)
