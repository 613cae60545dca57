"""What each pixel sees, baked by Blender's own ray casts: the room's planes, pixel for pixel."""

import sys

import bpy  # noqa: F401  (before bpy_extras and mathutils, which come with it)
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat


def test_every_pixel_sees_the_room_where_the_camera_projects_it(addon, seed_scene):
    renderer = sys.modules[addon.__name__ + ".blender.renderer"]
    settings = sys.modules[addon.__name__ + ".settings"]
    target = renderer.resolve_target(seed_scene, settings.SceneTarget())
    ball_before = tuple(target.obj.location)
    geometry = renderer.bake_scene_geometry(seed_scene, target)

    resolution = seed_scene.render.resolution_x
    assert geometry.position.shape == (resolution, resolution, 3) and geometry.position.dtype == np.float32
    assert tuple(target.obj.location) == ball_before  # the ball is put back
    assert geometry.ball_height == pytest.approx(ball_before[2]) and geometry.ball_radius == pytest.approx(0.25, abs=0.01)  # a UV sphere: its box is a little smaller
    assert np.allclose(np.linalg.norm(geometry.ray_direction, axis=-1), 1.0, atol=1e-5)

    # The seed's room: floor z = 0 (normal up), walls at x = 1.5 and y = 1.5 (normals into the room).
    x, y, z = np.moveaxis(geometry.position, -1, 0)
    on_floor, on_left, on_right = np.abs(z) < 1e-4, np.abs(x - 1.5) < 1e-4, np.abs(y - 1.5) < 1e-4
    def facing(direction):
        return np.all(np.abs(geometry.normal - direction) < 1e-4, axis=-1)

    # each pixel lies on a plane and has that plane's normal (the ball, moved away, is seen nowhere)
    assert ((on_floor & facing((0, 0, 1))) | (on_left & facing((-1, 0, 0))) | (on_right & facing((0, -1, 0)))).all()
    assert on_floor[-1].all() and not on_floor[0].any()  # floor at the bottom, walls at the top

    # Row 0 is the top row and each ray goes through its pixel's centre: projecting the surface
    # point back through Blender's camera lands there.
    for row, column in [(0, 0), (3, resolution - 2), (resolution // 2, resolution // 2), (resolution - 1, 5)]:
        u, v, _ = world_to_camera_view(seed_scene, seed_scene.camera, Vector(geometry.position[row, column]))
        assert (u * resolution, (1 - v) * resolution) == (pytest.approx(column + 0.5, abs=1e-3),
                                                          pytest.approx(row + 0.5, abs=1e-3))


def test_an_orthographic_camera_casts_parallel_rays_from_its_frame(addon, seed_scene):
    renderer = sys.modules[addon.__name__ + ".blender.renderer"]
    settings = sys.modules[addon.__name__ + ".settings"]
    camera = seed_scene.camera.data
    camera.type, camera.ortho_scale = "ORTHO", 4.0
    resolution = seed_scene.render.resolution_x
    pixels = [(0, 0), (7, 20), (resolution - 1, resolution - 1)]
    try:
        geometry = renderer.bake_scene_geometry(seed_scene, renderer.resolve_target(seed_scene, settings.SceneTarget()))
        projected = [world_to_camera_view(seed_scene, seed_scene.camera, Vector(geometry.position[row, column]))
                     for row, column in pixels]
    finally:
        camera.type = "PERSP"
    assert np.allclose(geometry.ray_direction, geometry.ray_direction[0, 0], atol=1e-6)
    assert np.allclose(np.linalg.norm(geometry.ray_direction, axis=-1), 1.0, atol=1e-5)
    spread = geometry.ray_origin.reshape(-1, 3).max(0) - geometry.ray_origin.reshape(-1, 3).min(0)
    assert np.linalg.norm(spread) > 3.0  # the origins span the 4 m frame
    for (row, column), (u, v, _) in zip(pixels, projected):
        assert (u * resolution, (1 - v) * resolution) == (pytest.approx(column + 0.5, abs=0.01),
                                                          pytest.approx(row + 0.5, abs=0.01))  # float32 rays


def test_the_bake_records_the_pixel_filter_and_whether_the_ball_is_round(addon, seed_scene):
    renderer = sys.modules[addon.__name__ + ".blender.renderer"]
    settings = sys.modules[addon.__name__ + ".settings"]
    target = renderer.resolve_target(seed_scene, settings.SceneTarget())
    default = renderer.bake_scene_geometry(seed_scene, target)
    assert (default.ball_round, default.pixel_filter, default.filter_width) == (True, "BLACKMAN_HARRIS", 1.5)
    cycles = seed_scene.cycles
    cycles.pixel_filter_type, cycles.filter_width = "GAUSSIAN", 2.5
    target.obj.scale.z *= 2.0  # an egg: its image is no disc
    try:
        changed = renderer.bake_scene_geometry(seed_scene, target)
    finally:
        cycles.pixel_filter_type, cycles.filter_width = "BLACKMAN_HARRIS", 1.5
        target.obj.scale.z /= 2.0
    assert (changed.ball_round, changed.pixel_filter, changed.filter_width) == (False, "GAUSSIAN", 2.5)
