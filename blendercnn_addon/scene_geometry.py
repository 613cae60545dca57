"""What each pixel of the dataset's camera sees when the ball is away: the file and its reading. No bpy.

A dataset keeps it as ``scene_geometry.npz`` (baked by renderer.bake_scene_geometry, once per
dataset folder, ball out of the way): per pixel, row 0 at the top, all float32 in world units
(metres) —

    ray_origin     (R, R, 3)  where the pixel's camera ray starts (the camera, if perspective)
    ray_direction  (R, R, 3)  its unit direction, through the pixel's centre
    position       (R, R, 3)  the first surface it hits (far along the ray when it hits nothing)
    normal         (R, R, 3)  that surface's unit normal, turned towards the camera (−direction: none)

and the ball: ``ball_height`` (its world z, which datasets keep), ``ball_radius`` (half its
largest world dimension), ``ball_scale`` (its x scale then: a dataset that varies the ball's size
scales the radius by size / ball_scale) and ``ball_round`` (whether its dimensions agree within
ROUND_TOLERANCE, so that its image is a disc); and the camera's pixel filter as Cycles applies
it: ``pixel_filter`` ("BLACKMAN_HARRIS", "GAUSSIAN" or "BOX") and ``filter_width`` (pixels).
Files baked before the last five existed read as Blender's defaults (a round ball of scale 1, a
1.5-pixel Blackman-Harris filter). With these a model can compute, for any (x, y), how each pixel's
surface is lit by the ball and where the ball and its mirror image are, and so draw places it
never saw (ml/scene_light.SceneLight).
"""

from __future__ import annotations

import io
import os
from typing import NamedTuple

import numpy as np

GEOMETRY_FILE = "scene_geometry.npz"
FAR = 1000.0  # metres along a ray that hits nothing
ROUND_TOLERANCE = 1.05  # largest / smallest world dimension of a ball whose image is a disc


class SceneGeometry(NamedTuple):
    """One dataset's camera rays and surfaces; arrays (R, R, 3) float32, scalars in metres."""

    ray_origin: np.ndarray
    ray_direction: np.ndarray
    position: np.ndarray
    normal: np.ndarray
    ball_height: float
    ball_radius: float
    ball_round: bool = True
    pixel_filter: str = "BLACKMAN_HARRIS"
    filter_width: float = 1.5
    ball_scale: float = 1.0

    @property
    def resolution(self) -> int:
        return int(self.position.shape[0])

    def stacked(self) -> np.ndarray:
        """(R, R, 12) float32: ray_origin, ray_direction, position, normal (how a model keeps them)."""
        return np.concatenate([self.ray_origin, self.ray_direction, self.position, self.normal],
                              axis=-1).astype(np.float32)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.savez(buffer, ray_origin=self.ray_origin, ray_direction=self.ray_direction, position=self.position,
                 normal=self.normal, ball_height=np.float32(self.ball_height),
                 ball_radius=np.float32(self.ball_radius), ball_round=np.bool_(self.ball_round),
                 pixel_filter=np.str_(self.pixel_filter), filter_width=np.float32(self.filter_width),
                 ball_scale=np.float32(self.ball_scale))
        return buffer.getvalue()


def present(folder: str) -> bool:
    """Whether the dataset in ``folder`` has its baked geometry (datasets made before it do not)."""
    return os.path.isfile(os.path.join(folder, GEOMETRY_FILE))


def load(folder: str) -> SceneGeometry | None:
    """The dataset's baked geometry, or None when it has none (see present)."""
    if not present(folder):
        return None
    with np.load(os.path.join(folder, GEOMETRY_FILE)) as data:
        recorded = {name: kind(data[name]) for name, kind in (("ball_round", bool), ("pixel_filter", str),
                                                              ("filter_width", float), ("ball_scale", float))
                    if name in data}
        return SceneGeometry(*(data[name].astype(np.float32) for name in
                               ("ray_origin", "ray_direction", "position", "normal")),
                             float(data["ball_height"]), float(data["ball_radius"]), **recorded)
