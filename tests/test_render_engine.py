"""BlenderCNN as a render engine, in the bpy module: F12 and Render Animation through a real model in
a real worker, compared with the model's own images (``predict``); the bad cases in one line.

The viewport's Rendered shading needs a window: ``make gui-test`` drives it (tools/gui/journey.py).
"""

import json
import os

import bpy
import numpy as np
import pytest
from PIL import Image

from conftest import ADDON_MODULE, addon_module, run_cli, tensorflow_python


@pytest.fixture(scope="module")
def engine_python(addon):
    bpy.context.preferences.addons[ADDON_MODULE].preferences.python_path = tensorflow_python()
    yield
    bpy.context.preferences.addons[ADDON_MODULE].preferences.python_path = ""
    addon_module("blender.render_engine").stop()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, engine_python):
    """{"radiance": run, "seed": run}: two models trained briefly on 32 renders at 32²."""
    folder = tmp_path_factory.mktemp("engine")
    data = folder / "dataset"
    done = run_cli("generate", "--out", str(data), "--count", "32", "--resolution", "32", "--samples", "4")
    assert done.returncode == 0, done.stderr
    trained = {}
    for arch in ("radiance", "seed"):
        run = folder / arch
        done = run_cli("train", "--data", str(data), "--out", str(run), "--arch", arch, "--epochs", "2",
                       "--batch-size", "8")
        assert done.returncode == 0, done.stderr
        trained[arch] = run
    return trained


@pytest.fixture
def engine_scene(seed_scene, runs):
    seed_scene.render.engine = "BLENDERCNN"
    seed_scene.blendercnn.preview_model = str(runs["radiance"])
    seed_scene.render.resolution_x = seed_scene.render.resolution_y = 32
    seed_scene.render.resolution_percentage = 100
    return seed_scene


def ball_vector(scene) -> list[float]:
    colour = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value
    location = scene.objects["Ball"].location
    return [colour[0], colour[1], colour[2], location.x, location.y]


def predicted(run, vector, path) -> np.ndarray:
    done = run_cli("predict", "--model", str(run), "--vector", ",".join(repr(float(v)) for v in vector),
                   "--out", str(path))
    assert done.returncode == 0, done.stderr
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def psnr(a, b) -> float:
    mse = np.mean((np.asarray(a, np.float64) - b) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def rendered(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


@pytest.mark.compat
def test_f12_renders_the_models_image_of_the_balls_vector(engine_scene, runs, tmp_path):
    """Scene-linear light in the Render Result, Blender's Filmic on top: the model's own image."""
    engine_scene.objects["Ball"].location.x = 0.3
    engine_scene.render.filepath = str(tmp_path / "f12.png")
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    expected = predicted(runs["radiance"], ball_vector(engine_scene), tmp_path / "predict.png")
    assert psnr(rendered(tmp_path / "f12.png"), expected) >= 40  # OCIO's Filmic vs the model's baked table
    assert addon_module("blender.engine_worker").current().ready["linear_from"] == "model"


def test_a_seed_model_renders_its_display_colours_under_standard(engine_scene, runs, tmp_path):
    engine_scene.blendercnn.preview_model = str(runs["seed"])
    engine_scene.view_settings.view_transform = "Standard"
    engine_scene.render.filepath = str(tmp_path / "f12.png")
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    assert addon_module("blender.engine_worker").current().ready["linear_from"] == "srgb"
    expected = predicted(runs["seed"], ball_vector(engine_scene), tmp_path / "predict.png")
    assert psnr(rendered(tmp_path / "f12.png"), expected) >= 45


@pytest.mark.compat
def test_render_animation_draws_each_keyframed_frame(engine_scene, runs, tmp_path):
    scene, ball = engine_scene, engine_scene.objects["Ball"]
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    scene.frame_start, scene.frame_end = 1, 5
    ball.location.x = -0.5
    ball.keyframe_insert("location", index=0, frame=1)
    glow.default_value = (1.0, 0.2, 0.1, 1.0)
    glow.keyframe_insert("default_value", frame=1)
    ball.location.x = 0.5
    ball.keyframe_insert("location", index=0, frame=5)
    glow.default_value = (0.1, 0.3, 1.0, 1.0)
    glow.keyframe_insert("default_value", frame=5)
    scene.render.filepath = str(tmp_path / "frames" / "f_")
    try:
        assert bpy.ops.render.render(animation=True) == {"FINISHED"}
        assert sorted(os.listdir(tmp_path / "frames")) == [f"f_{i:04d}.png" for i in range(1, 6)]
        engine = addon_module("blender.render_engine")
        assert engine.vector_at_frame(scene, 3, [0.0] * 5) == pytest.approx([0.55, 0.25, 0.55, 0.0, 0.0], abs=0.1)
        scene.frame_set(3)
        middle = ball_vector(scene)
        assert middle[3] == pytest.approx(0.0, abs=0.05) and 0.1 < middle[0] < 1.0  # keyframes, between them
        expected = predicted(runs["radiance"], middle, tmp_path / "predict.png")
        assert psnr(rendered(tmp_path / "frames" / "f_0003.png"), expected) >= 40
        assert psnr(rendered(tmp_path / "frames" / "f_0001.png"), expected) < 35  # it moved
    finally:
        ball.animation_data_clear()
        glow.id_data.animation_data_clear()


def test_a_scene_resolution_that_differs_is_said_in_one_line_and_nothing_is_written(engine_scene, tmp_path):
    engine_scene.render.resolution_x = 64
    engine_scene.render.filepath = str(tmp_path / "f12.png")
    with pytest.raises(RuntimeError, match="renders at its model's 32×32 but the scene's output is 64×32"):
        bpy.ops.render.render(write_still=True)
    assert not (tmp_path / "f12.png").exists()
    assert bpy.ops.blendercnn.use_model_resolution() == {"FINISHED"}
    assert tuple(engine_scene.render.resolution_x for _ in range(1)) == (32,)
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}


def test_without_a_model_f12_says_so_in_one_line(engine_scene, tmp_path):
    engine_scene.blendercnn.preview_model = ""
    engine_scene.frame_start, engine_scene.frame_end = 1, 3
    engine_scene.render.filepath = str(tmp_path / "frames" / "f_")
    with pytest.raises(RuntimeError, match="BlenderCNN needs a trained model"):
        bpy.ops.render.render(animation=True)
    assert not (tmp_path / "frames").exists()
    engine_scene.blendercnn.preview_model = str(tmp_path / "nothing here")
    with pytest.raises(RuntimeError, match="nothing here"):
        bpy.ops.render.render(write_still=True)


def test_outside_the_trained_range_clamps_or_stops_with_the_workers_line(engine_scene, runs, tmp_path):
    config = json.loads((runs["radiance"] / "config.json").read_text())
    engine_scene.objects["Ball"].location.x = config["vector_max"][3] + 0.5
    engine_scene.render.filepath = str(tmp_path / "clamped.png")
    assert engine_scene.blendercnn.engine_outside_range == "CLAMP"
    assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    at_edge = ball_vector(engine_scene)
    at_edge[3] = config["vector_max"][3]
    assert psnr(rendered(tmp_path / "clamped.png"), predicted(runs["radiance"], at_edge, tmp_path / "edge.png")) >= 40
    engine_scene.blendercnn.engine_outside_range = "WARN"
    engine_scene.render.filepath = str(tmp_path / "warned.png")
    with pytest.raises(RuntimeError, match="outside"):
        bpy.ops.render.render(write_still=True)
    assert not (tmp_path / "warned.png").exists()


def test_the_engine_and_its_settings_are_in_render_properties(engine_scene):
    engine = addon_module("blender.render_engine")
    assert "BLENDERCNN" in {getattr(e, "bl_idname", "") for e in bpy.types.RenderEngine.__subclasses__()}
    import bl_ui.properties_output as output

    assert "BLENDERCNN" in output.RENDER_PT_format.COMPAT_ENGINES  # resolution, frame range, output path
    assert engine.ENGINE_ID == "BLENDERCNN" and bpy.types.RENDER_PT_blendercnn.poll(bpy.context)


def test_the_render_properties_panel_offers_the_models_resolution_when_the_scene_differs(engine_scene):
    from test_panels import draw

    drawn = draw("RENDER_PT_blendercnn")
    assert ("prop", "preview_model") in drawn and ("prop", "engine_outside_range") in drawn
    assert ("label", "32×32, the model's resolution") in drawn
    engine_scene.render.resolution_percentage = 50
    drawn = draw("RENDER_PT_blendercnn")
    assert ("operator", "blendercnn.use_model_resolution") in drawn
    engine_scene.blendercnn.preview_model = ""
    assert ("label", "Choose a trained run folder (or train one)") in draw("RENDER_PT_blendercnn")
