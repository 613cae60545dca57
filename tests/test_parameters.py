"""Parameters the user picks (--param / --params): real renders (32²), real training, predict by column name."""

import csv
import json
import os

import bpy
import numpy as np
import pytest
from PIL import Image

from conftest import ADDON_MODULE, TINY, addon_module, poll_until, run_cli, tensorflow_python

Z = 'objects["Ball"].location[2]=0.3:0.8'
SIX = ("--param", "default", "--param", Z)


def load(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.float64)


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    """24 samples of the ball room's five plus the ball's height."""
    out = tmp_path_factory.mktemp("params") / "ds"
    done = run_cli("generate", "--out", str(out), "--count", "24", "--seed", "3", *SIX, *TINY)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.compat
def test_a_picked_parameter_is_set_in_every_render_and_named_in_every_table(six, tmp_path):
    with open(six / "vectors.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:8] == ["name", "index", "r", "g", "b", "x", "y", "ball_location_z"]
    heights = [float(row["ball_location_z"]) for row in rows]
    assert all(0.3 <= z <= 0.8 for z in heights) and max(heights) - min(heights) > 0.2
    card = json.loads((six / "dataset.json").read_text())
    assert card["vector_fields"][5] == "ball_location_z" and card["identity"]["ball_location_z_range"] == [0.3, 0.8]
    assert card["identity"]["parameters"][5]["data_path"] == 'objects["Ball"].location'
    first = json.loads((six / "metadata.jsonl").read_text().splitlines()[0])
    assert set(first) == {"file_name", "r", "g", "b", "x", "y", "ball_location_z"}

    # The same colour and place at two heights: the render really moved the ball up.
    low, high = tmp_path / "low.json", tmp_path / "high.json"
    for path, z in ((low, 0.3), (high, 0.8)):
        path.write_text(json.dumps({"parameters": [{"path": 'objects["Ball"].location[2]', "min": z, "max": z + 1e-3}]}))
        done = run_cli("generate", "--out", str(tmp_path / path.stem), "--count", "1", "--params", str(path), *TINY)
        assert done.returncode == 0, done.stderr
    difference = np.abs(load(tmp_path / "low" / "sample_1.png") - load(tmp_path / "high" / "sample_1.png")).mean()
    assert difference > 2, "the height did not change the picture: the parameter was not applied"


@pytest.mark.compat
def test_a_folder_made_with_other_parameters_is_refused_naming_the_difference(six):
    before = {name: (six / name).read_bytes() for name in ("dataset.json", "vectors.csv", "metadata.json")}
    done = run_cli("generate", "--out", str(six), "--count", "24", "--seed", "3", *TINY)
    assert done.returncode != 0
    assert 'parameters (ball_location_z: objects["Ball"].location[2] 0.3..0.8 in the folder, absent asked for)' \
        in done.stderr and done.stderr.count("\n") == 1
    assert before == {name: (six / name).read_bytes() for name in before}


def _keyed_and_driven_blend(scene, path):
    """The seed's scene (``scene``, after Set Up Scene) with the ball's z keyframed and its x scale driven."""
    ball = scene.objects["Ball"]
    ball.keyframe_insert("location", index=2, frame=1)
    ball.driver_add("scale", 0)
    try:
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    finally:
        ball.animation_data_clear()  # only the saved file keeps them (Blender 4.2's bpy crashed at exit otherwise)
    return scene.name


@pytest.mark.compat
@pytest.mark.parametrize("param, message", [
    ('objects["Nope"].location[2]=0:1', 'bpy.data.objects["Nope"] does not exist in this file'),
    ('objects["Ball"].name=0:1', "is a string, not a number"),
    ('objects["Ball"].users=0:1', "is read-only"),
    ('objects["Ball"].location=0:1', "is an array of 3: pick one element"),
    ('objects["Ball"].location[5]=0:1', "location has 3 elements, no [5]"),
    ('objects["Ball"].nothing=0:1', "Object has no property 'nothing'"),
    ('objects["Ball"].location[2]=0.3:0.8', "is set by keyframes, which would overwrite it"),
    ('objects["Ball"].scale[0]=0.5:2', "is set by a driver"),
    ('lights["{spot}"].spot_size=0:10', "the range 0..10 goes beyond what the property takes"),
])
def test_a_parameter_that_cannot_be_set_is_refused_before_anything_is_written(seed_scene, tmp_path, param, message):
    blend = tmp_path / "keyed.blend"
    light = bpy.data.lights.new("Spot", "SPOT")  # "Spot.001" … when an earlier test made one
    spot = bpy.data.objects.new("Spot", light)
    seed_scene.collection.objects.link(spot)
    name = _keyed_and_driven_blend(seed_scene, blend)
    param = param.replace("{spot}", light.name)
    bpy.data.objects.remove(spot)
    bpy.data.lights.remove(light)
    done = run_cli("generate", "--blend", str(blend), "--scene", name, "--out", str(tmp_path / "ds"), "--count", "2",
                   "--param", param, *TINY)
    assert done.returncode != 0
    assert message in done.stderr and done.stderr.strip().count("\n") == 0, done.stderr
    assert not os.path.exists(tmp_path / "ds")


@pytest.fixture(scope="module")
def six_run(six, tmp_path_factory):
    """radiance (auto: the ball room's five and the ball's own height) on the six, one epoch."""
    run = tmp_path_factory.mktemp("params") / "run"
    done = run_cli("train", "--data", str(six), "--out", str(run), "--epochs", "1")
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture(scope="module")
def six_field_run(six, tmp_path_factory):
    """The general architecture on the same six, one epoch."""
    run = tmp_path_factory.mktemp("params") / "field"
    done = run_cli("train", "--data", str(six), "--out", str(run), "--epochs", "1", "--arch", "field")
    assert done.returncode == 0, done.stderr
    return run


def _core_row(image):
    """The mean row of the picture's ball-bright core (pixels within 95 % of its brightest)."""
    brightness = image.sum(axis=-1)
    return float(np.argwhere(brightness >= 0.95 * brightness.max())[:, 0].mean())


def test_a_model_of_the_ball_room_and_the_balls_height_is_radiance_and_predicts_by_column(six, six_run, tmp_path):
    """The ball's z joins the five: radiance, whose ball follows the height from the scene's geometry."""
    run = six_run
    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == "radiance" and config["vector_fields"][5] == "ball_location_z"
    assert config["vector_min"][5] == 0.3 and config["vector_max"][5] == 0.8
    vectors = tmp_path / "v.csv"
    vectors.write_text("ball_location_z,name,y,x,b,g,r\n0.5,up,0,0,0,0,1\n0.79,higher,0,0,0,0,1\n")
    done = run_cli("predict", "--model", str(run), "--vectors", str(vectors), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["higher.png", "up.png"]
    done = run_cli("predict", "--model", str(run), "--vector", "1,0,0,0,0,0.9", "--out", str(tmp_path / "x.png"))
    assert done.returncode != 0 and "ball_location_z = 0.9 is outside the range the model was trained on" in done.stderr
    done = run_cli("invert", "--model", str(run), "--image", str(tmp_path / "out" / "up.png"))
    assert done.returncode == 0, done.stderr  # the model's own picture: found again over all six
    estimate = dict(line.split(": ") for line in done.stdout.splitlines())
    # one epoch at 32²: the room's light barely learnt, the ball's height and depth trade off along the
    # camera's ray (benchmarks/parameters.py measures the inversion of trained models)
    assert float(estimate["fit_psnr_db"]) > 30 and 0.3 <= float(estimate["ball_location_z"]) <= 0.8
    # drawn from geometry, not learnt in one epoch: the higher ball's core is higher in the picture
    assert _core_row(load(tmp_path / "out" / "higher.png")) < _core_row(load(tmp_path / "out" / "up.png")) - 1


PLACEMENT_CHECK = """
import json, sys
import numpy as np
from blendercnn_addon import scene_geometry
from blendercnn_addon.ml.ball_disc import BallCoverage, BallPlacement
from blendercnn_addon.ml.scene_light import SceneLight, pixel_angle
g = scene_geometry.load(sys.argv[1])
coverage = BallCoverage.from_geometry(g)
light = SceneLight(g.resolution, g.ball_height, g.ball_radius, pixel_angle(g), geometry=g.stacked())
place = BallPlacement(g.ball_height, g.ball_radius, height_index=5, size_index=6, ball_scale=g.ball_scale)
h, s = g.ball_height, g.ball_scale
vectors = np.array([[1, 1, 1, 0.2, -0.1, h, s], [1, 1, 1, 0.2, -0.1, h, 2 * s], [1, 1, 1, 0.2, -0.1, h + 0.3, s]],
                   np.float32)
placed = place(vectors)
areas = np.asarray(coverage(placed)).sum(axis=(1, 2, 3))
rows = np.arange(g.resolution, dtype=np.float64)[None, :, None, None]
centre_rows = (np.asarray(coverage(placed)) * rows).sum(axis=(1, 2, 3)) / areas
lit, lit_as_before = np.asarray(light(placed)), np.asarray(light(vectors[:, 3:5]))
print(json.dumps({
    "same_ball_as_before": float(np.abs(np.asarray(coverage(placed[:1])) - np.asarray(coverage(vectors[:1, 3:5]))).max()),
    "same_light_as_before": float(np.abs(lit[0] - lit_as_before[0]).max()),
    "double_size_area_ratio": float(areas[1] / areas[0]),
    "higher_rows_up": float(centre_rows[0] - centre_rows[2]),
    "double_size_direct_light_gain": float(np.median(lit[1, ..., 0] - lit[0, ..., 0]) / 0.3)}))
"""


def test_the_placed_ball_is_the_ball_as_before_at_its_baked_height_and_size_and_scales_with_size(six):
    """ball_disc.BallPlacement: at the baked height and scale the ball's pixels and light are exactly as
    the five's model draws them; twice the size covers four times the pixels and lights the room four
    times as much (its emitting area); higher, its image is higher."""
    from test_radiance import in_tensorflow_process

    result = in_tensorflow_process(PLACEMENT_CHECK, str(six))
    assert result["same_ball_as_before"] < 1e-6 and result["same_light_as_before"] < 1e-5, result
    assert 3.6 < result["double_size_area_ratio"] < 4.4, result
    assert result["higher_rows_up"] > 1.0, result
    assert abs(result["double_size_direct_light_gain"] - np.log(4.0)) < 0.2, result


def test_radiance_is_refused_for_parameters_beyond_the_balls_own(tmp_path):
    turn = ("--param", "default", "--param", 'objects["Ball"].rotation_euler[2]=0:1')
    done = run_cli("generate", "--out", str(tmp_path / "ds"), "--count", "2", *turn, *TINY)
    assert done.returncode == 0, done.stderr
    done = run_cli("train", "--data", str(tmp_path / "ds"), "--out", str(tmp_path / "r2"), "--epochs", "1",
                   "--arch", "radiance")
    assert done.returncode != 0 and "models the ball room's five parameters" in done.stderr
    assert not os.path.exists(tmp_path / "r2")


LIGHT_CHECK = """
import json, sys
import keras, numpy as np
from blendercnn_addon.ml.inference import load_run
model = load_run(sys.argv[1]).model
linear_of = keras.Model(model.input, model.get_layer("linear_rgb").output)
c1, c2, rest = np.array([1.0, 0.2, 0.0]), np.array([0.1, 0.7, 0.9]), [0.2, -0.3, 0.6]
vectors = np.array([[*c1, *rest], [*c2, *rest], [*(0.25 * c1 + 0.75 * c2), *rest]], np.float32)
linear = np.asarray(linear_of(vectors)).astype(np.float64)
print(json.dumps({"mixture_error": float(np.abs(linear[2] - (0.25 * linear[0] + 0.75 * linear[1])).max()),
                  "light_scale": float(np.abs(linear).max()), "layers": [layer.name for layer in model.layers]}))
"""


def test_the_general_architecture_applies_a_colour_of_light_exactly(six_field_run):
    """The ball's emission colour among the six: field draws linear light per colour and applies the
    dataset's view transform, so its light is exactly linear in the colour (docs/FACTS.md)."""
    from test_radiance import in_tensorflow_process

    result = in_tensorflow_process(LIGHT_CHECK, str(six_field_run))
    assert {"conditioning", "view_transform"} <= set(result["layers"])
    assert result["light_scale"] > 0 and result["mixture_error"] < 1e-5 * max(1.0, result["light_scale"]), result


@pytest.mark.compat
def test_every_property_menu_offers_add_to_blendercnn_parameters(addon):
    draws = [f.__name__ for f in bpy.types.UI_MT_button_context_menu.draw._draw_funcs]
    assert draws.count("draw_in_property_menu") == 1


def _predicted(run, vector, path):
    done = run_cli("predict", "--model", str(run), "--vector", ",".join(repr(float(v)) for v in vector),
                   "--out", str(path))
    assert done.returncode == 0, done.stderr
    return load(path)


@pytest.fixture
def six_scene(seed_scene, six_run):
    """The seed's scene with the six-parameter list and model, the TensorFlow Python in the preferences."""
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    prefs.python_path = tensorflow_python()
    props = seed_scene.blendercnn
    props.fill_parameters(SIX[1::2])
    props.preview_model = str(six_run)
    seed_scene.render.resolution_x = seed_scene.render.resolution_y = 32
    yield seed_scene
    background = addon_module("blender.background")
    if background.running("preview"):
        bpy.ops.blendercnn.unload_preview()
    addon_module("blender.render_engine").stop()
    prefs.python_path = ""


def test_the_preview_of_a_six_number_model_has_a_field_per_parameter_and_follows_the_scene(six_scene, six_run,
                                                                                          tmp_path):
    status = bpy.context.window_manager.blendercnn_preview
    ball = six_scene.objects["Ball"]
    ball.location.z = 0.4
    assert bpy.ops.blendercnn.load_preview() == {"FINISHED"}
    assert status.parameter_names == "r,g,b,x,y,ball_location_z"
    assert status.preview_vector()[5] == pytest.approx(0.4)  # the fields start where the scene is
    poll_until(lambda: status.state == "READY" and status.latency_ms > 0)
    session = addon_module("blender.background").get("preview")
    ball.location.z = 0.7  # Follow Scene: the height is read from the scene like the rest
    addon_module("blender.follow_scene").follow_scene(six_scene)
    assert status.preview_vector()[5] == pytest.approx(0.7) and session.scene_vector[5] == pytest.approx(0.7)
    poll_until(lambda: session.in_flight is None and session.waiting is None and session.shown
                and session.shown[-1].vector[5] == pytest.approx(0.7))
    shown = addon_module("blender.images").read_image(bpy.data.images["BlenderCNN Preview"])
    expected = _predicted(six_run, session.shown[-1].vector, tmp_path / "p.png")
    assert np.abs(shown.astype(int) - expected).max() <= 1
    labels = [entry for entry in _panel_log("BLENDERCNN_PT_preview") if entry[0] == "prop"]
    # the colour as a swatch over its three channels, x, y and z as numbers
    assert labels.count(("prop", "parameter_colour_0")) == 4 and labels.count(("prop", "parameter_values")) == 3
    status.parameter_colour_0 = (0.1, 0.8, 0.3)  # the swatch is the vector's colour
    assert status.preview_vector()[:3] == pytest.approx([0.1, 0.8, 0.3]) and status.preview_vector()[5] == pytest.approx(0.7)


def _panel_log(name):
    from test_panels import draw

    return draw(name)


@pytest.mark.compat
def test_render_animation_of_a_keyframed_picked_parameter(six_scene, six_run, tmp_path):
    """The ball's height keyframed (frames 1 → 3): the engine reads it at each frame. (radiance draws
    linear light: Blender applies the scene's view transform, the one the dataset was rendered with,
    where the model applied its baked table: 40 dB.)"""
    six_scene.render.engine = "BLENDERCNN"
    ball = six_scene.objects["Ball"]
    six_scene.frame_start, six_scene.frame_end = 1, 3
    ball.location.z = 0.35
    ball.keyframe_insert("location", index=2, frame=1)
    ball.location.z = 0.75
    ball.keyframe_insert("location", index=2, frame=3)
    six_scene.render.filepath = str(tmp_path / "frames" / "f_")
    try:
        assert bpy.ops.render.render(animation=True) == {"FINISHED"}
        six_scene.frame_set(2)
        vector = [*bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"].default_value[:3],
                  *ball.location]
        assert vector[5] == pytest.approx(0.55, abs=0.05)
        engine = addon_module("blender.render_engine")
        layout = six_scene.blendercnn.layout()
        assert engine.vector_at_frame(six_scene, 3, vector, layout)[5] == pytest.approx(0.75, abs=1e-4)
        frame = load(tmp_path / "frames" / "f_0002.png")
        expected = _predicted(six_run, vector, tmp_path / "p.png")
        assert 10 * np.log10(255.0**2 / max(np.mean((frame - expected) ** 2), 1e-9)) >= 40
    finally:
        ball.animation_data_clear()
        six_scene.render.engine = "CYCLES"


def test_the_train_panel_trains_the_general_architecture_on_other_parameters(seed_scene, six, tmp_path):
    sessions, props = addon_module("blender.training_session"), seed_scene.blendercnn
    assert props.architecture == "radiance"  # the panel's default
    assert sessions.architecture_for(props, str(six), follow=False) == "radiance"  # the ball's own height
    props.fill_parameters(("default", 'objects["Ball"].rotation_euler[2]=0:1'))
    assert sessions.architecture_for(props, str(tmp_path / "being-made"), follow=True) == "field"
    props.fill_parameters(())
    props.architecture = "seed"
    assert sessions.architecture_for(props, str(six), follow=False) == "seed"  # a choice that fits is kept
    props.architecture = "radiance"
    assert sessions.architecture_for(props, str(tmp_path / "being-made"), follow=True) == "radiance"  # the five
    props.fill_parameters(SIX[1::2])
    assert sessions.architecture_for(props, str(tmp_path / "being-made"), follow=True) == "radiance"  # + z
