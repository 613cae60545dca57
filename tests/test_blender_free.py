"""What must work without Blender: ml/ and the core modules it uses; vectors are pure functions of (seed, i).
(Which modules may import Blender at all: tests/fast/test_layers.py.)"""

import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

def run_without_bpy(code, *args):
    """Run ``code`` in a fresh Python where ``import bpy`` fails, as in a TensorFlow-only environment."""
    blocker = "import sys; sys.modules['bpy'] = None; sys.modules['bmesh'] = None\n"
    return subprocess.run([sys.executable, "-c", blocker + code, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_ml_contact_sheet_runs_without_bpy(tmp_path):
    folder = tmp_path / "ds"
    folder.mkdir()
    from PIL import Image

    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        Image.new("RGB", (32, 32), colour).save(folder / f"sample_{i}.png")
    (folder / "metadata.json").write_text(
        '{"sample_0": [1, 0, 0, 0.1, 0.2], "sample_1": [0, 1, 0, 0, 0], "sample_2": [0, 0, 1, -1, 1]}')
    code = ("import runpy, sys; sys.argv[0] = 'contact_sheet'; "
            "runpy.run_module('blendercnn_addon.ml.contact_sheet', run_name='__main__')")
    done = run_without_bpy(code, str(folder), "--out", str(tmp_path / "sheet.png"), "--columns", "3", "--tile", "32")
    assert done.returncode == 0, done.stderr
    sheet = Image.open(tmp_path / "sheet.png").convert("RGB")
    assert sheet.size == (96, 32 + 14)
    assert sheet.getpixel((16, 16)) == (255, 0, 0) and sheet.getpixel((80, 16)) == (0, 0, 255)


def test_ml_reports_a_missing_dataset_in_one_line(tmp_path):
    code = "import sys; from blendercnn_addon.ml.contact_sheet import main; sys.exit(main(sys.argv[1:]))"
    done = run_without_bpy(code, str(tmp_path), "--out", str(tmp_path / "x.png"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"contact_sheet: error: no dataset in {tmp_path}: metadata.json not found"


def test_generate_without_bpy_says_how_to_get_it(tmp_path):
    code = "import sys; from blendercnn_addon.cli import main; sys.exit(main(sys.argv[1:]))"
    done = run_without_bpy(code, "generate", "--out", str(tmp_path / "ds"), "--count", "2")
    assert done.returncode == 2 and "needs Blender's bpy module" in done.stderr
    assert not (tmp_path / "ds").exists()


def test_vectors_are_a_pure_function_of_seed_and_index():
    from blendercnn_addon.randomization import VectorSpec, noise_seed, sample_vector

    spec = VectorSpec((-1.0, 1.0), (0.0, 0.5), "uniform")
    first = [sample_vector(3, i, spec) for i in range(50)]
    assert first == [sample_vector(3, i, spec) for i in reversed(range(50))][::-1]
    assert first != [sample_vector(4, i, spec) for i in range(50)]
    assert all(-1 <= v[3] <= 1 and 0 <= v[4] <= 0.5 for v in first)
    assert noise_seed(3, 0) == noise_seed(3, 0) != noise_seed(3, 1)
    # Stable across Python runs and platforms: random.Random with a string seed hashes it with SHA-512.
    assert sample_vector(0, 0, VectorSpec())[0:3] == (1.0, 0.4951890774463815, 0.0)


def test_vibrant_colours_cover_all_six_hue_sectors():
    from blendercnn_addon.randomization import VectorSpec, sample_vector

    sectors = set()
    for i in range(200):
        r, g, b, _, _ = sample_vector(0, i, VectorSpec())
        assert sorted((r, g, b))[0] == 0.0 and sorted((r, g, b))[2] == 1.0
        sectors.add(((r, g, b).index(1.0), (r, g, b).index(0.0)))
    assert len(sectors) == 6


def test_evaluation_colour_schemes_and_the_held_out_quadrant():
    from blendercnn_addon.randomization import VectorSpec, sample_vector

    def colours(scheme, n=400):
        return [sample_vector(5, i, VectorSpec(colour_scheme=scheme))[:3] for i in range(n)]

    assert all(min(c) >= 0.55 for c in colours("pastel"))
    assert all(min(c) >= 0.85 for c in colours("near_white"))
    assert all(max(c) <= 0.3 and max(c) > 0 for c in colours("dim"))
    uniform = colours("uniform")
    assert any(0.1 < min(c) and max(c) < 0.9 for c in uniform), "uniform colours are not all vibrant"
    unseen = colours("unseen", 8)
    assert min(unseen[1]) >= 0.55 and max(unseen[2]) <= 0.3 and min(unseen[3]) >= 0.85  # the four in turn
    held_out = [sample_vector(5, i, VectorSpec(exclude_quadrant=True)) for i in range(2000)]
    assert not [v for v in held_out if v[3] > 0 and v[4] > 0]
    assert sum(1 for v in held_out if v[3] > 0) > 500 and sum(1 for v in held_out if v[4] > 0) > 500
    assert held_out == [sample_vector(5, i, VectorSpec(exclude_quadrant=True)) for i in range(2000)]
    with pytest.raises(Exception, match="inside the excluded quadrant"):
        VectorSpec(x_range=(0.0, 1.0), y_range=(0.2, 1.0), exclude_quadrant=True).validate()


def test_the_numpy_table_lookup_is_exact_on_the_nodes_and_linear_between():
    import numpy as np

    from blendercnn_addon import view_lut

    rng = np.random.default_rng(0)
    table = rng.random((view_lut.LUT_SIZE,) * 3 + (3,)).astype(np.float32)
    nodes = view_lut.grid()
    idx = rng.integers(0, view_lut.LUT_SIZE, size=(50, 3))
    at_nodes = view_lut.apply(table, nodes[idx])
    assert np.allclose(at_nodes, table[idx[:, 0], idx[:, 1], idx[:, 2]], atol=1e-5)
    # halfway between two nodes along r (in node coordinates): the mean of the two entries
    low, high = nodes[10], nodes[11]
    middle = np.exp((np.log(low) + np.log(high)) / 2)
    got = view_lut.apply(table, np.array([[middle, nodes[3], nodes[7]]]))[0]
    assert np.allclose(got, (table[10, 3, 7] + table[11, 3, 7]) / 2, atol=1e-5)
    image = view_lut.linear_grid_image(5)
    assert np.array_equal(view_lut.table_from_image(image, 5)[1, 2, 3], view_lut.grid(5)[[1, 2, 3]].astype(np.float32))


def test_a_card_from_an_older_version_accepts_settings_it_never_recorded(tmp_path):
    import json

    from blendercnn_addon.dataset_card import CARD_FORMAT, DatasetIdentity
    from blendercnn_addon.dataset_format import DatasetFolder
    from blendercnn_addon.errors import UserError

    folder = DatasetFolder(str(tmp_path))
    old_identity = {"seed": 0, "resolution": 32, "render_samples": 32, "denoiser": "none"}
    (tmp_path / "dataset.json").write_text(json.dumps({"format": CARD_FORMAT, "identity": old_identity}))
    identity = DatasetIdentity.from_dict({**old_identity, "sampling_pattern": "TABULATED_SOBOL"})
    folder.check_can_hold(identity, 10)  # not recorded then: fine
    with pytest.raises(UserError, match=r"differs in: render_samples"):
        folder.check_can_hold(DatasetIdentity.from_dict({**old_identity, "render_samples": 3,
                                                         "sampling_pattern": "BLUE_NOISE"}), 10)


def test_the_ball_projection_fit_finds_where_the_ball_is_drawn():
    """Discs drawn where a known affine map (plus a little perspective) puts them, over a dim room
    with a dimmer reflection below: the fit recovers the map; a brighter fixed lamp defeats it."""
    from blendercnn_addon.ml.ball_geometry import fit_ball_projection, pixel_grid

    rng = np.random.default_rng(4)
    vectors = np.column_stack([rng.random((200, 3)), rng.uniform(-1, 1, (200, 2))])
    true_map = np.array([[0.45, -0.05], [0.02, -0.38], [0.03, 0.1]])  # rows x, y, 1 → u, v
    grid = pixel_grid(48, 48)
    images = np.full((200, 48, 48, 3), 12, np.uint8)
    for image, (x, y) in zip(images, vectors[:, 3:5]):
        u, v = np.array([x, y, 1.0]) @ true_map + 0.01 * x * y  # the perspective's small bend
        image[((grid - (u, v)) ** 2).sum(-1) < 0.12**2] = 250
        image[((grid - (u, v + 0.5)) ** 2).sum(-1) < 0.1**2] = 120  # the floor's reflection
    fit = fit_ball_projection(vectors, images)
    assert np.abs(fit.coefficients - true_map).max() < 0.03 and fit.residual < 0.02 and fit.usable
    images[:, 2:6, 2:6] = 255  # a lamp in the corner, as bright as the ball: centres half-way
    assert fit_ball_projection(vectors, images).usable  # still moves with the ball, still a fair start
    images[..., 0] //= 2
    images[:, 2:6, 2:6] = 255  # now far brighter than the ball: the fit finds the lamp, which never moves
    lamp = fit_ball_projection(vectors, images)
    assert lamp.explained < 0.9 and not lamp.usable


def test_a_geometry_file_keeps_the_pixel_filter_and_an_older_one_reads_as_blenders_defaults(tmp_path):
    from blendercnn_addon import scene_geometry

    rays = np.zeros((4, 4, 3), np.float32)
    baked = scene_geometry.SceneGeometry(rays, rays + 1, rays + 2, rays + 3, 0.5, 0.25, ball_round=False,
                                         pixel_filter="GAUSSIAN", filter_width=2.0)
    (tmp_path / scene_geometry.GEOMETRY_FILE).write_bytes(baked.to_bytes())
    read = scene_geometry.load(str(tmp_path))
    assert (read.ball_round, read.pixel_filter, read.filter_width) == (False, "GAUSSIAN", 2.0)
    assert np.array_equal(read.normal, baked.normal) and read.ball_radius == 0.25
    np.savez(tmp_path / scene_geometry.GEOMETRY_FILE, ray_origin=rays, ray_direction=rays, position=rays,
             normal=rays, ball_height=np.float32(0.5), ball_radius=np.float32(0.25))  # as baked before
    older = scene_geometry.load(str(tmp_path))
    assert (older.ball_round, older.pixel_filter, older.filter_width) == (True, "BLACKMAN_HARRIS", 1.5)


def test_the_training_curve_plots_one_point_per_epoch_and_rings_the_best():
    from blendercnn_addon.training_curve import BEST_COLOUR, HEIGHT, PSNR_COLOUR, WIDTH, curve_pixels

    pixels = curve_pixels([18.0, 24.0, None, 31.5, 30.0], [0.02, 0.005, None, 0.001, 0.0012])
    assert pixels.shape == (HEIGHT, WIDTH, 3) and pixels.dtype == np.uint8
    blue = np.all(pixels == PSNR_COLOUR, axis=2)
    assert blue.sum() > 100
    rows, cols = np.nonzero(np.all(pixels == BEST_COLOUR, axis=2))
    assert cols.mean() > 0.7 * WIDTH and rows.mean() < 0.3 * HEIGHT  # 31.5 dB at epoch 4: right, near the top
    assert curve_pixels([]).shape == (HEIGHT, WIDTH, 3)  # before the first epoch: an empty chart
    assert curve_pixels([float("nan")]).shape == (HEIGHT, WIDTH, 3)


def test_create_environment_installs_offline_from_a_wheel_folder():
    from blendercnn_addon.processes.interpreter import create_environment_steps

    online = create_environment_steps("/usr/bin/python3", "/tmp/env", "cpu")
    offline = create_environment_steps("/usr/bin/python3", "/tmp/env", "cpu", find_links="/wheels")
    assert [title for title, _ in online][1] == "Updating pip" and len(offline) == 2
    install = offline[-1][1]
    assert install[install.index("--find-links") + 1] == "/wheels" and "--no-index" in install
    assert "tensorflow-cpu==2.21.0" in install


def test_the_recommended_count_is_the_smallest_within_the_tolerance_of_the_best():
    from blendercnn_addon import recommendation

    curve = {250: 30.0, 500: 33.1, 1000: 34.6, 2000: 34.9, 4000: 35.0}
    assert recommendation.smallest_within(curve, 0.5) == 1000
    assert recommendation.smallest_within(curve, 0.05) == 4000
    assert recommendation.smallest_within({4000: 35.0, 250: 36.0}, 0.5) == 250  # more renders can be worse (noise)
    assert 64 in recommendation.LEARNING_CURVES_DB, "the 64² learning curve (benchmarks/learning_curve.py) is not recorded"
    for resolution, measured in recommendation.LEARNING_CURVES_DB.items():
        recommended = recommendation.recommended_count(resolution)
        if recommended is None:  # not flattened: its best is its largest count, so it names no count
            assert recommendation.smallest_within(measured) == max(measured)
            assert recommendation.count_note(10_000, resolution) is None
            continue
        assert recommended in measured and measured[recommended] >= max(measured.values()) - recommendation.TOLERANCE_DB
        assert recommendation.count_note(2 * recommended, resolution) is None
        note = recommendation.count_note(10_000, resolution)
        assert note.startswith(f"{recommended:,} renders train the same model as {max(measured):,}")
        assert f"measured at {resolution}²" in note


def test_each_resolution_takes_the_learning_curve_measured_nearest_to_it(monkeypatch):
    from blendercnn_addon import recommendation

    flat, rising = {250: 30.0, 500: 33.0, 1000: 33.2}, {250: 30.0, 500: 33.0, 1000: 36.0}
    monkeypatch.setattr(recommendation, "LEARNING_CURVES_DB", {64: flat, 256: rising})
    assert [recommendation.curve_resolution(r) for r in (16, 64, 90, 127, 128, 256, 1024)] == [64, 64, 64, 64, 256, 256, 256]
    assert recommendation.recommended_count(32) == 500 and "measured at 64²" in recommendation.count_note(10_000, 32)
    assert recommendation.recommended_count(256) is None  # still gaining at its largest count
    assert recommendation.count_note(10_000, 256) is None
    assert recommendation.recommendations_text() == "500 at 64², still gaining at 1,000 at 256²"


def test_waiting_for_a_workers_message_wakes_when_it_arrives_and_misses_none():
    """workers.wait_for_messages: what scripts and the bpy module wait on between polls."""
    from blendercnn_addon.processes import workers

    code = "import time; time.sleep(0.5); print('{\"event\": \"one\"}', flush=True); input()"
    worker = workers.Worker([sys.executable, "-c", code], env=dict(os.environ))
    try:
        workers.wait_for_messages(0)  # forget what earlier workers of this process left
        assert workers.wait_for_messages(30.0)
        assert [m["event"] for m in worker.messages()] == ["one"]
        worker.send({"command": "stop"})  # input() returns: the process ends, its output too
        assert workers.wait_for_messages(30.0)  # the end of its output wakes a waiting script
        assert worker.messages() == []
    finally:
        worker.close()
