"""Set Up Scene builds the seed's room once (idempotent); Randomize stays inside its ranges."""

import math

import bpy
import pytest

pytestmark = pytest.mark.compat  # also run on every Blender of make test-compat


def datablock_counts():
    return {kind: len(getattr(bpy.data, kind))
            for kind in ("objects", "meshes", "materials", "cameras", "worlds", "collections")}


def test_setup_builds_the_seed_scene(seed_scene):
    ball = seed_scene.objects["Ball"]
    assert tuple(ball.location) == pytest.approx((0.0, 0.0, 0.5))
    radius = max(v.co.length for v in ball.data.vertices)
    assert radius == pytest.approx(0.25, abs=1e-4)
    glow = bpy.data.materials["Glow"]
    emission = glow.node_tree.nodes["Emission"]
    assert emission.type == "EMISSION"
    assert emission.inputs["Strength"].default_value == pytest.approx(300.0)
    assert ball.active_material == glow
    floor = seed_scene.objects["Floor"]
    assert tuple(floor.location) == pytest.approx((-0.5, -0.5, 0.0))
    assert tuple(floor.scale)[:2] == pytest.approx((2.0, 2.0))
    bsdf = floor.active_material.node_tree.nodes["Principled BSDF"]
    assert bsdf.inputs["Roughness"].default_value == pytest.approx(0.2)
    wall_left = seed_scene.objects["Wall left"]
    assert [math.degrees(a) for a in wall_left.rotation_euler] == pytest.approx([180.0, 90.0, 0.0])
    camera = seed_scene.camera
    assert tuple(camera.location) == pytest.approx((-3.5, -3.5, 1.5))
    assert camera.data.lens == pytest.approx(50.0)
    assert seed_scene.render.engine == "CYCLES"
    assert (seed_scene.render.resolution_x, seed_scene.render.resolution_y) == (256, 256)
    assert seed_scene.view_settings.view_transform == "Filmic"
    assert tuple(seed_scene.world.node_tree.nodes["Background"].inputs["Color"].default_value)[:3] == \
        pytest.approx((0.05, 0.05, 0.05))
    props = seed_scene.blendercnn
    assert (props.target_object, props.target_material, props.node_name) == (ball, glow, "Emission")


def test_setup_twice_duplicates_nothing_and_resets_moved_objects(seed_scene):
    before = datablock_counts()
    names = sorted(o.name for o in seed_scene.objects)
    seed_scene.objects["Ball"].location = (3.0, 3.0, 3.0)
    assert bpy.ops.blendercnn.setup_scene() == {"FINISHED"}
    assert datablock_counts() == before
    assert sorted(o.name for o in seed_scene.objects) == names
    assert tuple(seed_scene.objects["Ball"].location) == pytest.approx((0.0, 0.0, 0.5))


def test_setup_hides_but_never_deletes_the_users_objects(scene):
    cube = bpy.data.objects.new("My Cube", bpy.data.meshes.new("My Cube"))
    scene.collection.objects.link(cube)
    bpy.ops.blendercnn.setup_scene()
    assert "My Cube" in scene.objects and cube.hide_render


@pytest.mark.parametrize("scheme", ["vibrant", "uniform"])
def test_randomize_stays_in_range(seed_scene, scheme):
    props = seed_scene.blendercnn
    props.x_min, props.x_max, props.y_min, props.y_max = 0.2, 0.4, -0.9, -0.5
    props.colour_scheme = scheme
    ball = seed_scene.objects["Ball"]
    emission = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    seen = set()
    for _ in range(25):
        assert bpy.ops.blendercnn.randomize() == {"FINISHED"}
        x, y, z = ball.location
        assert 0.2 <= x <= 0.4 and -0.9 <= y <= -0.5 and z == pytest.approx(0.5)
        rgb = tuple(emission.default_value)[:3]
        assert all(0.0 <= c <= 1.0 for c in rgb)
        if scheme == "vibrant":
            assert max(rgb) == 1.0 and min(rgb) == 0.0
        seen.add((round(x, 6), rgb))
    assert len(seen) == 25, "Randomize repeated itself"
    assert props.randomize_clicks == 25


def test_randomize_refuses_an_empty_range(seed_scene):
    props = seed_scene.blendercnn
    props.x_min, props.x_max = 1.0, -1.0
    before = tuple(seed_scene.objects["Ball"].location)
    with pytest.raises(RuntimeError, match="x range is empty"):
        bpy.ops.blendercnn.randomize()
    assert tuple(seed_scene.objects["Ball"].location) == before


def test_randomize_names_a_missing_object(scene):
    with pytest.raises(RuntimeError, match="object 'Ball' not found"):
        bpy.ops.blendercnn.randomize()
