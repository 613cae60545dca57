"""The one place for Blender version differences (blender/compat.py) answers right on this Blender.

`make test` runs it on bpy 5.2; `make test-compat` on 4.2, 4.5, 5.0 and 5.3.
"""

import types
import warnings

import bpy
import pytest

from conftest import addon_module

pytestmark = pytest.mark.compat


@pytest.fixture
def compat(addon):
    return addon_module("blender.compat")


def test_the_version_flags_match_this_blender(compat):
    five = bpy.app.version >= (5, 0, 0)
    assert compat.NODES_ALWAYS_ON is five
    assert compat.EVENTS_NAME_THEIR_TIMER is False, "Event.timer appeared: use it, and update this test"
    expected = {(4, 2): "scene_tree", (4, 5): "scene_tree", (5, 0): "node_group", (5, 1): "node_group",
                (5, 2): "node_group"}.get(bpy.app.version[:2], "effects")
    assert compat.COMPOSITOR_KIND == expected


def test_materials_and_worlds_become_node_based_without_deprecation_warnings(compat):
    material, world = bpy.data.materials.new("compat m"), bpy.data.worlds.new("compat w")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            for idblock in (material, world):
                compat.enable_nodes(idblock)
                assert compat.uses_nodes(idblock)
                assert idblock.node_tree.nodes is not None
    finally:
        bpy.data.materials.remove(material)
        bpy.data.worlds.remove(world)


def test_the_seed_worlds_radiance_reads_without_deprecation_warnings(seed_scene):
    renderer = addon_module("blender.renderer")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert renderer.world_radiance(seed_scene) == pytest.approx(0.05, abs=1e-6)


def test_a_modal_operator_knows_its_own_timer_ticks(compat):
    mine = object()
    assert not compat.is_own_timer_event(types.SimpleNamespace(type="MOUSEMOVE", timer=None), mine)
    # Events do not say which timer fired (4.2 to 5.3): every tick counts.
    assert compat.is_own_timer_event(types.SimpleNamespace(type="TIMER"), mine)


def test_the_bpy_module_is_recognised_so_workers_run_as_python(compat):
    assert compat.running_as_module()
    assert addon_module("blender.generator").worker_command("job.json")[1:4] == ["-m", "blendercnn_addon", "render-worker"]


def test_a_compositor_tree_renders_what_is_linked_into_it(compat, seed_scene, tmp_path):
    tree, image_input = compat.new_compositor_tree(seed_scene, "compat grey")
    grey = tree.nodes.new("CompositorNodeRGB")
    grey.outputs[0].default_value = (0.5, 0.5, 0.5, 1.0)
    tree.links.new(grey.outputs[0], image_input)
    seed_scene.render.use_compositing = True
    seed_scene.render.resolution_x = seed_scene.render.resolution_y = 16
    seed_scene.cycles.samples = 1
    seed_scene.render.filepath = str(tmp_path / "grey.png")
    bpy.ops.render.render(write_still=True, scene=seed_scene.name)
    image = bpy.data.images.load(str(tmp_path / "grey.png"))
    try:
        pixels = list(image.pixels)
    finally:
        bpy.data.images.remove(image)
    reds = pixels[0::4]
    assert max(reds) - min(reds) < 0.01, "the compositor's output is not what the render shows"


def test_an_actions_fcurves_are_found_on_every_blender(compat, seed_scene):
    """A keyframed location and emission colour: their F-curves, wherever this Blender keeps them."""
    ball = seed_scene.objects["Ball"]
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    assert compat.animation_fcurves(ball) == []
    ball.keyframe_insert("location", index=0, frame=1)
    glow.keyframe_insert("default_value", frame=1)
    try:
        assert [(c.data_path, c.array_index) for c in compat.animation_fcurves(ball)] == [("location", 0)]
        colour = compat.animation_fcurves(glow.id_data)
        assert {c.array_index for c in colour} == {0, 1, 2, 3} and all("default_value" in c.data_path for c in colour)
    finally:
        ball.animation_data_clear()
        glow.id_data.animation_data_clear()


def test_blender_c_blendercnn_is_registered(addon):
    assert hasattr(bpy.utils, "register_cli_command")
    assert addon_module("blender.registration")._cli_handle is not None
