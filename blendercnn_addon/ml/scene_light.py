"""How the ball at (x, y) lights what each pixel sees: channels computed from the scene's geometry. No bpy.

The dataset's baked geometry (scene_geometry.py) says, per pixel, where the camera ray starts,
where it goes, and which surface (position, normal) it meets. For a ball centred at
C = (x, y, ball_height) of radius ρ these follow exactly, in any place, seen or not:

- the direct light the pixel's surface gets from the ball (a point light at C: cos / distance²),
- how far the surface's mirror direction points from the ball (the floor's reflection),
- the distance from the surface to the ball,
- where the pixel's ray passes the ball's silhouette (the ball's own disc), in pixels,
- where its mirror ray passes the ball's silhouette (the reflected disc), in radians.

A network given these only has to learn how the scene's materials turn them into light, which
holds where the ball never was in training (the held-out quadrant of benchmarks/model_quality.py).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from ..scene_geometry import SceneGeometry
from .ball_disc import ball_centre_and_radius

GEOMETRY_CHANNELS = 12  # ray origin, ray direction, surface position, surface normal: 3 each


def pixel_angle(geometry: SceneGeometry) -> float:
    """Radians between the rays of two neighbouring pixels at the image's centre."""
    middle = geometry.resolution // 2
    a, b = geometry.ray_direction[middle, middle - 1], geometry.ray_direction[middle, middle]
    return float(np.arctan2(np.linalg.norm(np.cross(a, b)), np.dot(a, b)))


def downsampled(geometry: SceneGeometry, factor: int) -> SceneGeometry:
    """The geometry at 1/factor of its resolution: means of factor × factor pixels, directions and
    normals made unit again."""
    def mean(array, unit=False):
        side = array.shape[0] // factor
        block = array[:side * factor, :side * factor].reshape(side, factor, side, factor, 3).mean(axis=(1, 3))
        return block / np.linalg.norm(block, axis=-1, keepdims=True) if unit else block

    return geometry._replace(ray_origin=mean(geometry.ray_origin), ray_direction=mean(geometry.ray_direction, True),
                             position=mean(geometry.position), normal=mean(geometry.normal, True))


def _angle(cosine):
    """Angle (radians) of a cosine, with a gradient that stays finite at 0 and π."""
    sine = ops.sqrt(ops.maximum(1.0 - cosine * cosine, 1e-12))
    return ops.arctan2(sine, cosine)


@keras.saving.register_keras_serializable(package="blendercnn")
class SceneLight(layers.Layer):
    """position (batch, 2) metres → (batch, R, R, 5) light-path channels, each about unit scale
    (or position (batch, 4) from ball_disc.BallPlacement: each image's own centre and radius ρ, its
    direct light scaled by (ρ / ball_radius)², the emitting area):

    0  0.3·log(direct light): max(0, n·(C−p)/|C−p|) / |C−p|², in m⁻², + 1e-3
    1  0.3·log(1 − cos(mirror direction, C−p) + 1e-3): 0 where the mirror ray hits the centre
    2  log |C−p| (metres)
    3  (angle between the pixel's ray and C − ray origin − the ball's angular radius) / pixel
       angle, clipped to ±8, × 0.25: negative inside the ball's disc
    4  the same for the mirror ray from p (radians × 3, clipped to ±5): negative inside the
       reflected disc

    The geometry (R, R, 12) is a non-trainable weight: a saved model carries it."""

    def __init__(self, resolution: int, ball_height: float, ball_radius: float, pixel_angle: float,
                 geometry=None, **kwargs):
        super().__init__(**kwargs)
        self.resolution, self.ball_height = int(resolution), float(ball_height)
        self.ball_radius, self.pixel_angle = float(ball_radius), float(pixel_angle)
        self._initial = None if geometry is None else np.asarray(geometry, np.float32)

    def build(self, input_shape):
        self.geometry = self.add_weight(name="geometry", trainable=False, initializer=keras.initializers.Zeros(),
                                        shape=(self.resolution, self.resolution, GEOMETRY_CHANNELS))
        if self._initial is not None:
            self.geometry.assign(self._initial)

    def call(self, position):
        g = self.geometry[None]  # (1, R, R, 12)
        origin, direction, surface, normal = g[..., 0:3], g[..., 3:6], g[..., 6:9], g[..., 9:12]
        centre, radius = ball_centre_and_radius(position, self.ball_height, self.ball_radius)
        centre = centre[:, None, None, :]  # (batch, 1, 1, 3)
        power = None  # the ball's light relative to a ball of ball_radius (None: the same ball)
        if not isinstance(radius, float):
            power = ops.square(radius / self.ball_radius)[:, None, None, :]  # its emitting area's share
            radius = radius[:, None, None, :]  # (batch, 1, 1, 1)

        to_ball = centre - surface  # (batch, R, R, 3) from each pixel's surface to the ball
        distance = ops.sqrt(ops.sum(to_ball * to_ball, axis=-1, keepdims=True))
        facing = ops.sum(normal * to_ball, axis=-1, keepdims=True) / distance
        lit = ops.relu(facing) if power is None else ops.relu(facing) * power
        direct = ops.log(lit / (distance * distance) + 1e-3)
        mirror = direction - 2.0 * ops.sum(direction * normal, axis=-1, keepdims=True) * normal
        mirror_cos = ops.sum(mirror * to_ball, axis=-1, keepdims=True) / distance
        mirror_offset = ops.log(1.0 - mirror_cos + 1e-3)
        mirror_disc = _angle(mirror_cos) - ops.arcsin(ops.minimum(radius / distance, 0.999))

        seen = centre - origin  # (batch, R, R, 3) from each ray's start to the ball
        seen_distance = ops.sqrt(ops.sum(seen * seen, axis=-1, keepdims=True))
        view_cos = ops.sum(direction * seen, axis=-1, keepdims=True) / seen_distance
        disc = (_angle(view_cos) - ops.arcsin(ops.minimum(radius / seen_distance, 0.999))) / self.pixel_angle
        return ops.concatenate([0.3 * direct, 0.3 * mirror_offset, ops.log(distance),
                                0.25 * ops.clip(disc, -8.0, 8.0), 3.0 * ops.clip(mirror_disc, -5.0 / 3.0, 5.0 / 3.0)],
                               axis=-1)

    def get_config(self):
        return {**super().get_config(), "resolution": self.resolution, "ball_height": self.ball_height,
                "ball_radius": self.ball_radius, "pixel_angle": self.pixel_angle}
