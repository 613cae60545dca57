"""Blender-free, TensorFlow-free units: the view-transform table, the ball's projection, the scene
geometry file, the training curve's pixels, the environment's steps, the recommended count, the
plateau ETA, the workers' wake-up."""

import math
import os
import sys

import numpy as np


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
                                         pixel_filter="GAUSSIAN", filter_width=2.0, ball_scale=1.25)
    (tmp_path / scene_geometry.GEOMETRY_FILE).write_bytes(baked.to_bytes())
    read = scene_geometry.load(str(tmp_path))
    assert (read.ball_round, read.pixel_filter, read.filter_width, read.ball_scale) == (False, "GAUSSIAN", 2.0, 1.25)
    assert np.array_equal(read.normal, baked.normal) and read.ball_radius == 0.25
    np.savez(tmp_path / scene_geometry.GEOMETRY_FILE, ray_origin=rays, ray_direction=rays, position=rays,
             normal=rays, ball_height=np.float32(0.5), ball_radius=np.float32(0.25))  # as baked before
    older = scene_geometry.load(str(tmp_path))
    assert (older.ball_round, older.pixel_filter, older.filter_width, older.ball_scale) == (True, "BLACKMAN_HARRIS", 1.5, 1.0)


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


def test_the_training_renders_follow_the_measurement_at_each_resolution():
    """64² (and below): the preset whose renders trained the best model; 256² (and above): the one that
    reached 35 dB soonest. Each choice is the measured best of its own table."""
    from blendercnn_addon import recommendation
    from blendercnn_addon.settings import RENDER_PRESETS

    assert [recommendation.recommended_preset(r).preset for r in (16, 32, 64, 127, 128, 256, 1024)] == \
        ["seed", "seed", "seed", "seed", "default", "default", "default"]
    for resolution, choice in recommendation.TRAINING_PRESETS.items():
        assert choice.preset in RENDER_PRESETS and choice.preset in choice.measured
        best = (max if choice.unit == "dB" else min)(choice.measured, key=choice.measured.get)
        assert best == choice.preset, (resolution, choice)
        assert f"{resolution}²" in choice.reason
        if choice.count is not None:  # its own count: the largest measured, and where the count starts
            assert choice.count == max(choice.count_curve) and choice.count_curve[500] == choice.measured[choice.preset]
            assert recommendation.default_count(resolution, choice.preset) == choice.count
            assert recommendation.count_note(10_000, resolution, choice.preset) is None
    assert recommendation.default_count(64) == recommendation.recommended_count(64) == 500  # Default's curve


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


def test_the_eta_to_the_plateau_predicts_where_early_stopping_ends():
    from blendercnn_addon.ml.plateau import epochs_to_plateau

    curve = [38.0 - 16.0 * 0.75 ** epoch for epoch in range(1, 80)]  # saturating, as validation PSNR does
    best, wait, stop = -math.inf, 0, None
    for epoch, value in enumerate(curve, start=1):  # Keras' EarlyStopping: min_delta 0.05, patience 5
        if value - 0.05 > best:
            best, wait = value, 0
        else:
            wait += 1
        if wait >= 5:
            stop = epoch
            break
    at = {n: epochs_to_plateau(curve[:n], 0.05, 5) for n in (3, 8, 12, stop)}
    assert at[3] is None, "three epochs cannot tell a plateau"
    for seen in (8, 12):
        assert abs(seen + at[seen] - stop) <= 1, (seen, at[seen], stop)
    assert at[stop] == 0
    assert epochs_to_plateau([20.0 + e for e in range(10)], 0.05, 5) is None  # still climbing as fast: none in sight
    # flat for three epochs: two more and early stopping ends it
    assert epochs_to_plateau([20.0, 25.0, 27.0, 28.0, 28.5, 28.6, 28.6, 28.6, 28.6], 0.05, 5) == 2


def test_the_run_folders_records_read_back_what_was_written_and_refuse_what_is_not_theirs(tmp_path):
    import pytest

    from blendercnn_addon.errors import UserError
    from blendercnn_addon.run_folder import (EpochRecord, Metrics, RunState, read_history, read_metrics, read_state,
                                             resumable, write_history, write_metrics, write_state)

    run = str(tmp_path)
    assert read_state(run) is None and read_history(run) == [] and not resumable(run)
    state = RunState(epochs_done=3, best_val_loss=1e-3, best_epoch=2)
    write_state(run, state)
    assert read_state(run) == state and resumable(run) and state.best_val_psnr == 30.0
    history = [EpochRecord(epoch=e, loss=0.01, val_loss=0.02, val_psnr=17.0, lr=3e-3, seconds=1.5, elapsed_s=1.5 * e,
                           train_samples=9, validation_samples=1) for e in (1, 2)]
    write_history(run, history)
    assert read_history(run) == history
    metrics = Metrics(samples=2, mse=0.001, psnr_db=30.0, ssim=0.9, psnr_mask_db=25.0, mask_fraction=0.1,
                      grid=os.path.join(run, "comparison.png"))
    write_metrics(run, metrics)
    assert read_metrics(run) == metrics and metrics.summary().startswith("2 held-out: MSE 0.00100 · PSNR 30.00 dB")
    (tmp_path / "state.json").write_text("[1, 2]")
    with pytest.raises(UserError, match="state.json is not a JSON object"):
        read_state(run)
    (tmp_path / "history.json").write_text('{"epoch": 1}')
    with pytest.raises(UserError, match="history.json is not a list of epochs"):
        read_history(run)


def test_generate_starts_from_the_recommended_count_for_its_resolution(tmp_path):
    from blendercnn_addon.cli import build_parser
    from blendercnn_addon.cli.generate import settings_from_args
    from blendercnn_addon.recommendation import SEED_COUNT, recommended_count

    def count(*args):
        return settings_from_args(build_parser().parse_args(["generate", "--out", str(tmp_path), *args])).count

    assert count() == recommended_count(256) and count("--resolution", "64") == recommended_count(64)
    assert count("--count", "10000") == SEED_COUNT == 10_000


def test_a_16_bit_greyscale_picture_reads_as_its_grey_not_white(tmp_path):
    """Pillow's own conversion of a 16-bit grey PNG clips every value above 255 to white."""
    from PIL import Image

    from blendercnn_addon.ml.dataset import load_image

    grey = np.full((8, 8), 257 * 128, np.uint16)
    grey[0, 0] = 65535
    Image.fromarray(grey).save(tmp_path / "grey16.png")
    pixels = load_image(str(tmp_path / "grey16.png"))
    assert pixels.shape == (8, 8, 3) and pixels[1, 1].tolist() == [128] * 3 and pixels[0, 0].tolist() == [255] * 3


def test_the_eta_never_goes_beyond_the_time_budget_and_says_what_it_counts_to():
    """Before: the terminal said "ETA 99768 s" under a 1,800 s budget (the budget was ignored)."""
    from blendercnn_addon.ml.plateau import ETA_BUDGET, ETA_EPOCHS, ETA_PLATEAU, eta

    assert eta(85.0, 1000, None, None) == (85_000.0, ETA_EPOCHS)
    assert eta(85.0, 1000, 6, None) == (510.0, ETA_PLATEAU)
    assert eta(85.0, 1000, None, 1715.0) == (1715.0, ETA_BUDGET)
    assert eta(85.0, 1000, 6, 1715.0) == (510.0, ETA_PLATEAU)
    assert eta(85.0, 2, None, 1715.0) == (170.0, ETA_EPOCHS)
    assert eta(85.0, 50, None, 0.0) == (0.0, ETA_BUDGET)



def test_a_weight_averaging_outside_0_to_1_is_refused_in_one_line():
    import pytest

    from blendercnn_addon.errors import UserError
    from blendercnn_addon.run_config import TrainingRecipe

    for momentum in (1.0, -0.1, float("nan"), 2.0):
        with pytest.raises(UserError, match=r"weight averaging must be in \[0, 1\)"):
            TrainingRecipe(weight_averaging=momentum).validate()
    TrainingRecipe(weight_averaging=0.0).validate()
