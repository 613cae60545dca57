"""The radiance architecture: real training on real renders, exact colour, the baked view transform."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, run_cli


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """24 real renders at 32 x 32 with the project's default settings (the view table included)."""
    out = tmp_path_factory.mktemp("radiance") / "ds"
    done = run_cli("generate", "--out", str(out), "--count", "24", "--resolution", "32", "--seed", "2")
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def radiance_run(dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("radiance") / "run"
    done = run_cli("train", "--data", str(dataset), "--out", str(run), "--arch", "radiance", "--epochs", "3")
    assert done.returncode == 0, done.stderr
    return run


def in_tensorflow_process(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh Python (TensorFlow must never load into the test process, which
    stands in for Blender's); it prints one JSON object, returned here."""
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_radiance_trains_and_learns(radiance_run):
    config = json.loads((radiance_run / "config.json").read_text())
    assert config["arch"] == "radiance"
    assert (config["batch_size"], config["learning_rate"]) == (16, 0.003)  # its recipe, not the seed's
    history = json.loads((radiance_run / "history.json").read_text())
    assert len(history) == 3 and all("elapsed_s" in h for h in history)
    assert history[-1]["val_loss"] < history[0]["val_loss"] * 1.05 or history[-1]["val_psnr"] > 10


COLOUR_CHECK = """
import json, sys
import keras, numpy as np
from blendercnn_addon import view_lut
from blendercnn_addon.ml.inference import load_run
model = load_run(sys.argv[1]).model
linear_of = keras.Model(model.input, model.get_layer("linear_rgb").output)
position = [0.3, -0.4]
c1, c2 = np.array([1.0, 0.2, 0.0]), np.array([0.1, 0.7, 0.9])
vectors = np.array([[*c1, *position], [*c2, *position], [*(0.25 * c1 + 0.75 * c2), *position]], np.float32)
linear = np.asarray(linear_of(vectors)).astype(np.float64)
table = view_lut.load(sys.argv[2])
display = np.asarray(model(vectors))
stored = model.get_layer("view_transform").get_weights()[0].reshape(table.shape)
one = np.asarray(model(np.array([[0.9, 0.9, 1, 0.5, 0.5]], np.float32)))[0]
grid = np.stack(np.meshgrid(np.linspace(-1, 1, 9), np.linspace(-1, 1, 9)), -1).reshape(-1, 2)
white, black = (np.array([[*c, *p] for p in grid], np.float32) for c in ((1, 1, 1), (0, 0, 0)))
brightest_a = float((np.asarray(linear_of(white)) - np.asarray(linear_of(black))).max())
brightest_b = float(np.asarray(linear_of(black)).max())
print(json.dumps({
    "ceiling": model.get_layer("linear_rgb").ceiling,
    "background_ceiling": model.get_layer("linear_rgb").background_ceiling,
    "brightest_b": brightest_b,
    "brightest_a": brightest_a,
    "mixture_error": float(np.abs(linear[2] - (0.25 * linear[0] + 0.75 * linear[1])).max()),
    "light_scale": float(np.abs(linear).max()),
    "lookup_error": float(np.abs(display - view_lut.apply(table, linear)).max()),
    "table_is_the_datasets": bool(np.array_equal(stored, table)),
    "white_ball": one.tolist()}))
"""


def test_colour_is_applied_exactly_and_the_table_maps_to_display(radiance_run, dataset):
    facts = in_tensorflow_process(COLOUR_CHECK, str(radiance_run), str(dataset))
    # colour·A + B is affine in the colour: the mixture's light is the mixture of the lights
    assert facts["mixture_error"] <= 1e-4 * max(1.0, facts["light_scale"])
    assert facts["lookup_error"] < 2e-4, "Keras lookup differs from numpy's"
    assert facts["table_is_the_datasets"], "the saved model does not carry the dataset's table"
    # no pixel brighter than the ball itself: A stays under the emission strength the card records
    card = json.loads((dataset / "dataset.json").read_text())
    assert card["scene"]["emission_strength"] == 300.0
    assert facts["ceiling"] == 300.0 and 0.0 < facts["brightest_a"] <= 300.0
    # nor is anything the ball does not light brighter than the world (colour 0.05 grey, strength 1)
    assert card["scene"]["world_radiance"] == pytest.approx(0.05)
    assert facts["background_ceiling"] == pytest.approx(0.05) and 0.0 < facts["brightest_b"] <= 0.05


def test_a_saved_radiance_model_predicts_through_the_cli(radiance_run, dataset, tmp_path):
    done = run_cli("predict", "--model", str(radiance_run), "--vector", "0.9,0.9,1,0.5,0.5", "--out",
                   str(tmp_path / "white.png"))
    assert done.returncode == 0, done.stderr
    image = np.asarray(Image.open(tmp_path / "white.png"))
    assert image.shape == (32, 32, 3)
    expected = np.array(in_tensorflow_process(COLOUR_CHECK, str(radiance_run), str(dataset))["white_ball"])
    assert np.abs(image / 255.0 - expected).max() <= 1 / 255 + 1e-6


def train_radiance_without(dataset, missing: str, tmp_path) -> subprocess.CompletedProcess:
    """One epoch of radiance into tmp_path/run, on a copy of ``dataset`` lacking the file ``missing``
    (as a dataset made by an older version lacks it)."""
    copy = tmp_path / "older"
    shutil.copytree(dataset, copy, ignore=shutil.ignore_patterns(missing, ".blendercnn*"))
    return run_cli("train", "--data", str(copy), "--out", str(tmp_path / "run"), "--arch", "radiance",
                   "--epochs", "1")


def test_a_dataset_without_the_table_gets_a_clear_message(dataset, tmp_path):
    done = train_radiance_without(dataset, "view_transform_lut.npy", tmp_path)
    assert done.returncode == 2, done.stderr
    assert "view-transform table" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_time_budget_ends_training_at_the_batch_that_spends_it(dataset, tmp_path):
    """Mid-epoch if need be (before: the epoch in progress ran on to its end, 62 s past a 1,800 s
    budget on a slow CPU): what was trained is validated and kept as the best model, and the ETA
    says the budget ended the run (before: it ignored the budget)."""
    done = run_cli("train", "--data", str(dataset), "--out", str(tmp_path / "run"), "--epochs", "50",
                   "--time-budget", "0.01", "--batch-size", "1")
    assert done.returncode == 0, done.stderr
    assert "ETA 0 s (budget)" in done.stderr, done.stderr
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1
    assert history[0]["batches"] == 1 and history[0]["batches_per_epoch"] > 10, history
    assert os.path.exists(tmp_path / "run" / "model.keras")


BALL_CHECK = """
import json, sys
import keras, numpy as np
from blendercnn_addon.ml.ball_geometry import fit_ball_projection
from blendercnn_addon.ml.dataset import cached_images, read_index
from blendercnn_addon.ml.models import build_model, start_from_data
index = read_index(sys.argv[1])
images, vectors = cached_images(index), index.vectors
model = build_model("radiance", 32, np.zeros((65, 65, 65, 3), np.float32))
ball_uv = keras.Model(model.input, model.get_layer("ball_uv").output)
before = np.asarray(ball_uv(vectors))
residual = start_from_data(model, vectors, images)
fit = fit_ball_projection(vectors, images)
seen = np.column_stack([vectors[:, 3:5], np.ones(len(vectors))]) @ fit.coefficients
after = np.asarray(ball_uv(vectors))
print(json.dumps({"residual": residual, "error_before": float(np.abs(before - seen).max()),
                  "error_after": float(np.abs(after - seen).max()),
                  "spread": float(np.ptp(seen, axis=0).max())}))
"""


def test_training_starts_with_the_ball_where_the_renders_show_it(dataset):
    """The radiance model's ball path is fitted to the real renders before training."""
    found = in_tensorflow_process(BALL_CHECK, str(dataset))
    assert found["residual"] is not None and found["residual"] < 0.1
    assert found["spread"] > 0.5  # the renders' balls really move across the picture
    assert found["error_after"] < 1e-5 < 0.1 < found["error_before"]


LIGHT_CHECK = """
import json, sys
import numpy as np
from blendercnn_addon import scene_geometry
from blendercnn_addon.ml.dataset import cached_images, read_index
from blendercnn_addon.ml.inference import load_run
from blendercnn_addon.ml.models import LIGHT_FRACTION
from blendercnn_addon.ml.scene_light import SceneLight, downsampled, pixel_angle
index = read_index(sys.argv[1])
images, vectors = cached_images(index).astype(np.float32), index.vectors
geometry = scene_geometry.load(sys.argv[1])
light = SceneLight(geometry.resolution, geometry.ball_height, geometry.ball_radius, pixel_angle(geometry),
                   geometry=geometry.stacked())
paths = np.asarray(light(vectors[:, 3:5]))  # (N, R, R, 5)
brightness = images.sum(-1)
core = brightness >= 0.95 * brightness.reshape(len(images), -1).max(1)[:, None, None]
rows, columns = np.indices(core.shape[1:])
seen = np.stack([(core * rows).sum((1, 2)), (core * columns).sum((1, 2))], -1) / core.sum((1, 2))[:, None]
inside = paths[..., 3] < 0  # the pixels whose rays meet the ball, by geometry alone
drawn = np.stack([(inside * rows).sum((1, 2)), (inside * columns).sum((1, 2))], -1) / inside.sum((1, 2))[:, None]
walls = np.abs(geometry.position[..., 2]) > 0.05  # wall pixels; light there must fall with distance
direct, distance = paths[..., 0][:, walls], paths[..., 2][:, walls]
model = load_run(sys.argv[2]).model
print(json.dumps({
    "disc_offset_px": float(np.abs(drawn - seen).max()),
    "disc_pixels": int(inside.sum((1, 2)).min()),
    "light_falls_with_distance": float(np.mean([np.corrcoef(d, l)[0, 1] for d, l in zip(distance, direct)])),
    "model_has_light_paths": "scene_light" in [layer.name for layer in model.layers],
    "model_geometry_is_the_datasets": bool(np.allclose(model.get_layer("scene_light").get_weights()[0],
                                                       downsampled(geometry, LIGHT_FRACTION).stacked()))}))
"""


def test_light_paths_put_the_ball_where_blender_draws_it(dataset, radiance_run):
    """SceneLight's silhouette, computed from the baked geometry alone, covers the renders' ball."""
    facts = in_tensorflow_process(LIGHT_CHECK, str(dataset), str(radiance_run))
    assert facts["disc_pixels"] >= 3  # every sample's ball covers pixels at 32²
    assert facts["disc_offset_px"] < 1.0, "the computed disc sits off the rendered ball"
    assert facts["light_falls_with_distance"] < -0.8  # nearer walls get more light
    assert facts["model_has_light_paths"] and facts["model_geometry_is_the_datasets"]
    assert json.loads((radiance_run / "config.json").read_text())["scene_light"] is True


def test_a_dataset_without_geometry_trains_radiance_without_light_paths(dataset, tmp_path):
    done = train_radiance_without(dataset, "scene_geometry.npz", tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["scene_light"] is False
    assert (tmp_path / "run" / "model.keras").exists()


DISC_CHECK = """
import json, math, sys
import keras
import numpy as np
from blendercnn_addon import scene_geometry, view_lut
from blendercnn_addon.ml.ball_disc import BLACKMAN_HARRIS, BallCoverage, edge_coverage
from blendercnn_addon.ml.dataset import cached_images, read_index
from blendercnn_addon.ml.inference import load_run
from blendercnn_addon.ml.models import build_model
index = read_index(sys.argv[1])
images, vectors = cached_images(index).astype(np.float32) / 255.0, index.vectors
geometry, table = scene_geometry.load(sys.argv[1]), view_lut.load(sys.argv[1])
coverage = np.asarray(BallCoverage.from_geometry(geometry)(vectors[:, 3:5]))[..., 0]  # (N, R, R)

# the disc's area in pixels, counted on 8 x 8 sub-pixel rays (interpolated between the baked
# pixel-centre rays): the filter moves the ball's light, never adds any
centre = np.column_stack([vectors[:, 3:5], np.full(len(vectors), geometry.ball_height)])
per_row, per_column = np.gradient(geometry.ray_direction, axis=(0, 1))  # a pinhole's rays vary smoothly
seen = centre[:, None, None, :] - geometry.ray_origin[None]  # (N, R, R, 3)
area = np.zeros(len(vectors))
for dy in (np.arange(8) + 0.5) / 8 - 0.5:
    for dx in (np.arange(8) + 0.5) / 8 - 0.5:
        ray = geometry.ray_direction + dy * per_row + dx * per_column
        ray /= np.linalg.norm(ray, axis=-1, keepdims=True)
        along = (seen * ray[None]).sum(-1)
        area += ((seen * seen).sum(-1) - along**2 < geometry.ball_radius**2).sum((1, 2)) / 64.0

# Cycles' Blackman-Harris spans twice the filter width: the edge's slope is the window itself
outside = np.linspace(-1.6, 1.6, 321)
slope = -np.gradient(np.asarray(edge_coverage(outside, "BLACKMAN_HARRIS", 1.5)), outside)
t = np.clip(0.5 - outside / 3.0, 0.0, 1.0)
a0, a1, a2, a3 = BLACKMAN_HARRIS
window = (a0 - a1 * np.cos(2 * np.pi * t) + a2 * np.cos(4 * np.pi * t) - a3 * np.cos(6 * np.pi * t)) / (3.0 * a0)

# where the ball covers (almost) a whole pixel the renders show colour x strength through the view transform
full = coverage > 0.98
ball = view_lut.apply(table, vectors[:, None, None, :3] * 300.0 * np.ones_like(images))
rows, columns = np.indices(coverage.shape[1:])
def centroid(weights):
    return np.stack([(weights * rows).sum((1, 2)), (weights * columns).sum((1, 2))], -1) / weights.sum((1, 2))[:, None]
brightness = images.sum(-1)
core = brightness >= 0.95 * brightness.reshape(len(images), -1).max(1)[:, None, None]

# as the renders draw it (training): the same edge, moved out by half a pixel here
as_rendered = BallCoverage.from_geometry(geometry)
as_rendered(vectors[:1, 3:5])
as_rendered.render_rim.assign([-0.5, 0.0])
as_rendered.exact.assign(0.0)
thinner = np.asarray(as_rendered(vectors[:, 3:5]))[..., 0]
radius_px = np.sqrt(area / math.pi)

model = load_run(sys.argv[2]).model
last = keras.saving.load_model(sys.argv[2] + "/last.keras", safe_mode=True)
display = np.asarray(model(vectors))
layer_names = lambda m: [layer.name for layer in m.layers]
args = (32, table, 300.0, 0.05)
print(json.dumps({
    "area_ratio": [float(r) for r in (coverage.sum((1, 2)) / area)],
    "slope_error": float(np.abs(slope - window)[2:-2].max()),
    "gaussian_at_one_sigma": float(edge_coverage(np.array([1.5 / 4]), "GAUSSIAN", 1.5)[0]),
    "box_at_a_quarter": float(edge_coverage(np.array([1.5 / 4]), "BOX", 1.5)[0]),
    "full_pixels": int(full.sum((1, 2)).min()),
    "render_error_where_covered": float(np.abs(images - ball)[full].mean()),
    "centroid_offset_px": float(np.abs(centroid(coverage) - centroid(core)).max()),
    "model_error_where_covered": float(np.abs(display - ball)[coverage > 0.9999].max()),
    "rendered_area_lost": [float(r) for r in (coverage.sum((1, 2)) - thinner.sum((1, 2))) / (math.pi * (radius_px - 0.25))],
    "model_draws_the_ball": "ball_coverage" in layer_names(model),
    "saved_draws_exactly": float(model.get_layer("ball_coverage").exact.numpy()),
    "training_state_draws_as_rendered": float(last.get_layer("ball_coverage").exact.numpy()),
    "learned_rim": last.get_layer("ball_coverage").render_rim.numpy().tolist(),
    "egg_draws_it": "ball_coverage" in layer_names(build_model("radiance", *args, geometry._replace(ball_round=False))),
    "unknown_strength_draws_it": "ball_coverage" in layer_names(build_model("radiance", 32, table, None, 0.05, geometry))}))
"""


def test_the_ball_is_drawn_from_geometry_where_and_as_blender_renders_it(dataset, radiance_run):
    """The ball's own pixels come from the baked geometry and Cycles' pixel filter, not from training."""
    facts = in_tensorflow_process(DISC_CHECK, str(dataset), str(radiance_run))
    assert all(0.98 < ratio < 1.02 for ratio in facts["area_ratio"]), facts["area_ratio"]
    assert facts["slope_error"] < 2e-3, "the edge is not Cycles' Blackman-Harris filter"
    assert facts["gaussian_at_one_sigma"] == pytest.approx(0.1587, abs=1e-3)  # σ = width / 4
    assert facts["box_at_a_quarter"] == pytest.approx(0.25, abs=1e-6)
    assert facts["full_pixels"] >= 3 and facts["render_error_where_covered"] < 0.03
    assert facts["centroid_offset_px"] < 0.75, "the drawn disc sits off the rendered ball"
    # trained for 3 epochs only, the model's ball pixels are already exactly colour x strength
    assert facts["model_draws_the_ball"] and facts["model_error_where_covered"] < 1e-3
    # half a pixel further out all round: π r² − π (r − ½)² = π (r − ¼) pixels lost
    assert all(0.9 < lost < 1.1 for lost in facts["rendered_area_lost"]), facts["rendered_area_lost"]
    # model.keras draws the exact rim; last.keras (to resume training) the renders', which training moved
    assert facts["saved_draws_exactly"] == 1.0 and facts["training_state_draws_as_rendered"] == 0.0
    assert facts["learned_rim"] != [0.0, 0.0]
    assert json.loads((radiance_run / "config.json").read_text())["ball_disc"] is True
    assert not facts["egg_draws_it"] and not facts["unknown_strength_draws_it"]


TILE_CHECK = """
import json, sys
import keras, numpy as np
import tensorflow as tf
from blendercnn_addon import scene_geometry, view_lut
from blendercnn_addon.ml import crop_steps, models
from blendercnn_addon.ml.ball_disc import set_exact
from blendercnn_addon.ml.dataset import cached_images, emission_strength, read_index, world_radiance
data = sys.argv[1]
index = read_index(data)
keras.utils.set_random_seed(3)
model = models.build_model("radiance", 32, view_lut.load(data), emission_strength(index), world_radiance(index),
                           scene_geometry.load(data))
set_exact(model, False)
rng = np.random.default_rng(0)
for weight in model.trainable_weights:  # away from the initial zeros, so every path carries numbers
    weight.assign(weight.numpy() + rng.normal(0, 0.1, weight.shape).astype(np.float32))
side = crop_steps.crop_side(model, 32, 2)
corners = np.array([[0, 0], [0, 16], [16, 0], [16, 16], [8, 4], [4, 12]], np.int32)
whole = np.asarray(model(index.vectors[:6]))
tiles = np.asarray(crop_steps.CropForward(model, 32, side)(tf.constant(index.vectors[:6]), tf.constant(corners)))
cut = np.stack([whole[i, r:r + side, c:c + side] for i, (r, c) in enumerate(corners)])
print(json.dumps({"side": side, "error": float(np.abs(tiles - cut).max()),
                  "spread": float(np.ptp(cut)), "seed_side": crop_steps.crop_side(models.build_seed(32), 32, 2)}))
"""


def test_a_tile_is_computed_exactly_as_the_whole_image_computes_it(dataset):
    """Training on tiles (ml/crop_steps.py) changes which pixels the loss sees, never their values:
    tiles at the image's corners and edges (the convolutions' zero padding, the resize's clamping)
    and inside it equal the whole image's pixels there."""
    result = in_tensorflow_process(TILE_CHECK, str(dataset))
    assert result["side"] == 16 and result["seed_side"] is None
    assert result["spread"] > 0.1  # the tiles hold a picture, not a constant
    assert result["error"] < 1e-5, result


def test_training_on_tiles_is_recorded_and_learns(dataset, tmp_path):
    """--tile-fraction 2: each step's loss on one 16² tile per image; validation whole-image."""
    run = tmp_path / "run"
    done = run_cli("train", "--data", str(dataset), "--out", str(run), "--epochs", "3", "--tile-fraction", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "config.json").read_text())["tile_fraction"] == 2
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 3 and history[-1]["val_psnr"] > history[0]["val_psnr"] - 0.5, history
    assert os.path.exists(run / "model.keras")
    for bad, message in ((("--tile-fraction", "0"), "tile fraction must be"),
                         (("--tile-fraction", "2", "--arch", "seed"), "only radiance models"),
                         (("--tile-fraction", "3"), "multiples of 4")):
        done = run_cli("train", "--data", str(dataset), "--out", str(tmp_path / "bad"), *bad)
        assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


def test_a_wider_model_is_built_trained_recorded_and_refused_where_it_cannot_be(dataset, tmp_path):
    """--width 2: every layer of radiance twice as wide (the recipe's from 256²), recorded in the run
    config; seed is built at width 1 only, and a bad width writes nothing."""
    run = tmp_path / "run"
    done = run_cli("train", "--data", str(dataset), "--out", str(run), "--epochs", "2", "--width", "2")
    assert done.returncode == 0, done.stderr
    assert json.loads((run / "config.json").read_text())["width"] == 2
    widths = in_tensorflow_process(WIDTH_CHECK, str(run), str(dataset))
    assert widths["trained"] == [64, 64, 48, 32, 16] and widths["narrow"] == [32, 32, 24, 16, 8], widths
    for bad, message in ((("--width", "0"), "width must be 1 or more, got 0"),
                         (("--width", "2", "--arch", "seed"), "the seed architecture is built at width 1 only")):
        done = run_cli("train", "--data", str(dataset), "--out", str(tmp_path / "bad"), "--epochs", "1", *bad)
        assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "bad").exists()


WIDTH_CHECK = """
import json, sys
from blendercnn_addon import scene_geometry, view_lut
from blendercnn_addon.ml import models
from blendercnn_addon.ml.dataset import emission_strength, read_index, world_radiance
from blendercnn_addon.ml.inference import load_run
names = ("conv0a", "conv0b", "conv1", "conv2", "conv3")
def filters(model):
    return [model.get_layer(name).filters for name in names]
index = read_index(sys.argv[2])
narrow = models.build_model("radiance", 32, view_lut.load(sys.argv[2]), emission_strength(index), world_radiance(index),
                            scene_geometry.load(sys.argv[2]))
print(json.dumps({"trained": filters(load_run(sys.argv[1]).model), "narrow": filters(narrow)}))
"""
