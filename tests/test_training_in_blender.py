"""Train, Cancel, Preview, Render Real, Evaluate and TensorBoard, driven from the add-on as installed
from its zip, through the same subprocesses and the same timer code the panel uses.

The bpy module has no event loop, so ``background.wait_until_done`` (which calls
the add-on's own poller) stands in for Blender's timer; everything else is real:
real subprocesses with real TensorFlow on a tiny real dataset.
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import bpy
import numpy as np
import pytest
from PIL import Image

from conftest import ADDON_MODULE, USER_RESOURCES, addon_module, poll_until, run_cli
from conftest import tensorflow_python as conftest_tensorflow_python

TIMEOUT = 240


@pytest.fixture(scope="module")
def tensorflow_python(addon):
    """The add-on preferences point at a Python with TensorFlow: this test's interpreter, or under
    make test-compat (bpy without TensorFlow) the main .venv's (conftest.tensorflow_python)."""
    python = conftest_tensorflow_python()
    bpy.context.preferences.addons[ADDON_MODULE].preferences.python_path = python
    yield python
    # Looked up again: a test may disable and re-enable the add-on, which frees the old preferences.
    bpy.context.preferences.addons[ADDON_MODULE].preferences.python_path = ""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """32 real renders at 32 x 32."""
    out = tmp_path_factory.mktemp("panel") / "dataset"
    done = run_cli("generate", "--out", str(out), "--count", "32", "--resolution", "32", "--samples", "4")
    assert done.returncode == 0, done.stderr
    return str(out)


def configure(scene, dataset, run, epochs=2, batch_size=8, patience=5):
    props = scene.blendercnn
    props.train_data_dir = dataset
    props.run_dir = str(run)
    props.epochs, props.patience = epochs, patience
    props.recipe_auto, props.batch_size = False, batch_size  # as typed (Auto would take 16 at 32²)


@pytest.fixture(scope="module")
def panel_run(addon, tensorflow_python, dataset, tmp_path_factory):
    """A run trained with the Train button: (run folder, snapshots of the panel's status while it ran)."""
    run = tmp_path_factory.mktemp("panel") / "run"
    scene = bpy.data.scenes.new("training scene")
    status = bpy.context.window_manager.blendercnn_training
    snapshots = []
    try:
        with bpy.context.temp_override(scene=scene):
            configure(scene, dataset, run)
            assert bpy.ops.blendercnn.train() == {"FINISHED"}
            session = addon_module("blender.background").get("train")
            assert status.running

            def finished():
                snapshots.append({k: getattr(status, k) for k in
                                  ("running", "device", "epoch", "epochs", "batch", "batches", "loss", "val_psnr",
                                   "eta_s")})
                return not status.running

            poll_until(finished)
            preview_model = scene.blendercnn.preview_model
    finally:
        bpy.data.scenes.remove(scene)
    return run, snapshots, session, preview_model


@pytest.mark.compat
def test_train_button_runs_the_installed_code_with_live_progress(panel_run):
    run, snapshots, session, preview_model = panel_run
    status = bpy.context.window_manager.blendercnn_training
    # The subprocess ran the zip-installed copy of the package, found through PYTHONPATH.
    assert session.start_message["code"].startswith(os.path.join(USER_RESOURCES, "extensions"))
    assert os.path.realpath(session.start_message["run"]) == os.path.realpath(run)
    live = [s for s in snapshots if s["running"] and s["batch"] > 0]
    assert live, "the panel never showed batch progress while training ran"
    assert all(s["device"] == "CPU" and s["batches"] == 4 and s["epochs"] == 2 for s in live)
    assert all(s["loss"] > 0 for s in live)
    assert any(s["running"] and s["val_psnr"] > 0 and s["eta_s"] >= 0 for s in snapshots)
    assert status.error == "" and status.message.startswith("Finished"), status.message
    assert status.epoch == 2 and status.val_psnr > 5
    assert preview_model == str(run)
    assert glob.glob(str(run / "logs" / "**" / "events.out.tfevents.*"), recursive=True)
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]


def test_the_train_button_draws_the_validation_curve_each_epoch(panel_run):
    """BlenderCNN Training: one point per finished epoch, the PSNRs the trainer reported."""
    run = panel_run[0]
    curve = bpy.data.images["BlenderCNN Training"]
    history = json.loads((run / "history.json").read_text())
    assert curve["epochs"] == 2
    assert list(curve["val_psnr"]) == pytest.approx([h["val_psnr"] for h in history], abs=1e-3)
    pixels = addon_module("blender.images").read_image(curve)
    blue = (pixels[..., 2] > 200) & (pixels[..., 0] < 140)  # the PSNR line's colour
    assert blue.sum() > 50, "no curve drawn"


def test_the_trained_model_reloads_and_predicts_the_right_size(panel_run, tmp_path):
    run = panel_run[0]
    done = run_cli("predict", "--model", str(run), "--vector", "1,0.5,0,0.2,-0.3", "--out", str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "p.png").size == (32, 32)


def test_tensorflow_never_loads_in_blenders_process(panel_run):
    assert "tensorflow" not in sys.modules and "keras" not in sys.modules


def test_cancel_stops_after_a_batch_keeps_the_best_model_and_resume_continues(
        addon, tensorflow_python, dataset, scene, tmp_path):
    run = tmp_path / "run"
    configure(scene, dataset, run, epochs=1000, batch_size=2, patience=1000)
    status = bpy.context.window_manager.blendercnn_training
    assert bpy.ops.blendercnn.train() == {"FINISHED"}
    poll_until(lambda: status.val_psnr > 0 and status.epoch >= 2)
    assert bpy.ops.blendercnn.cancel_training() == {"FINISHED"}
    assert status.stopping
    addon_module("blender.background").wait_until_done("train", TIMEOUT)
    assert status.message.startswith("Cancelled"), status.message
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] >= 2 and (run / "model.keras").is_file()
    assert addon_module("blender.training_session").resumable_run(bpy.context) == str(run)

    scene.blendercnn.epochs = state["epochs_done"] + 1
    assert bpy.ops.blendercnn.train(resume=True) == {"FINISHED"}
    addon_module("blender.background").wait_until_done("train", TIMEOUT)
    assert status.message.startswith("Finished"), (status.message, status.error)
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == list(range(1, state["epochs_done"] + 2))


def test_a_crashed_trainer_shows_its_last_log_lines_and_blender_goes_on(
        addon, tensorflow_python, dataset, scene, tmp_path):
    configure(scene, dataset, tmp_path / "run", epochs=1000, batch_size=2, patience=1000)
    status = bpy.context.window_manager.blendercnn_training
    assert bpy.ops.blendercnn.train() == {"FINISHED"}
    session = addon_module("blender.background").get("train")
    poll_until(lambda: status.batch > 0)
    os.kill(session.worker.process.pid, signal.SIGKILL)
    addon_module("blender.background").wait_until_done("train", 10)
    assert "exit code -9" in status.error and not status.running
    assert bpy.ops.blendercnn.train.poll()  # Blender and the add-on keep working


def test_a_worker_exits_when_blender_dies(addon, dataset, tmp_path):
    """The worker watches the pid it was given: kill -9 the parent, and training ends at once."""
    parent = subprocess.Popen([sys.executable, "-c", f"""
import subprocess, sys, time
sys.path.insert(0, {os.path.dirname(os.path.dirname(addon.__file__))!r})
from blendercnn_addon.processes.workers import addon_command, subprocess_environment
child = subprocess.Popen(addon_command(sys.executable, "train", "--data", {dataset!r}, "--out", {str(tmp_path / 'run')!r},
                         "--epochs", "1000", "--batch-size", "2", "--progress", "json"),
                         env=subprocess_environment(), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(child.pid, flush=True)
child.stdout.readline()
print("started", flush=True)
time.sleep(600)
"""], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert parent.stdout.readline().strip() == "started"
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the training worker outlived its parent"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return "\tZ" not in next(line for line in handle if line.startswith("State:"))
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("problem", ["no dataset", "used run folder", "no tensorflow", "no view table"])
def test_train_refuses_bad_input_and_touches_nothing(addon, tensorflow_python, dataset, scene, tmp_path, problem):
    run = tmp_path / "run"
    configure(scene, dataset, run)
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    expected = {"no dataset": "no dataset", "used run folder": "not empty", "no tensorflow": "TensorFlow",
                "no view table": "choose Architecture Seed"}[problem]
    if problem == "no dataset":
        scene.blendercnn.train_data_dir = str(tmp_path)
    elif problem == "no view table":  # the seed project's own layout: images and metadata.json only
        seed_layout = tmp_path / "seed_layout"
        seed_layout.mkdir()
        for name in os.listdir(dataset):
            if name.endswith(".png") or name == "metadata.json":
                shutil.copy(os.path.join(dataset, name), seed_layout)
        scene.blendercnn.train_data_dir = str(seed_layout)
        assert scene.blendercnn.architecture == "radiance"  # the panel's default
    elif problem == "used run folder":
        run.mkdir()
        (run / "notes.txt").write_text("mine")
    else:
        prefs.python_path = sys._base_executable if hasattr(sys, "_base_executable") else "/usr/bin/python3"
    try:
        with pytest.raises(RuntimeError, match=expected):
            bpy.ops.blendercnn.train()
    finally:
        prefs.python_path = sys.executable
    assert not addon_module("blender.background").running("train")
    if problem == "used run folder":
        assert os.listdir(run) == ["notes.txt"] and (run / "notes.txt").read_text() == "mine"


def test_generate_and_train_trains_on_the_folder_as_it_renders(addon, tensorflow_python, seed_scene, tmp_path):
    """Generate & Train: training starts (train --follow) on the folder Generate is writing, and ends on all of it."""
    props = seed_scene.blendercnn
    props.output_dir = str(tmp_path / "ds")
    props.count, props.resolution, props.render_samples = 40, 32, 4
    configure(seed_scene, "", tmp_path / "run", epochs=3)
    assert bpy.ops.blendercnn.generate_dataset(then_train=True) == {"FINISHED"}
    status = bpy.context.window_manager.blendercnn_training
    poll_until(lambda: not status.running)
    assert status.error == "" and status.message.startswith("Finished"), (status.error, status.message)
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["split_rule"] == "sample_index"
    assert sorted(config["train_indices"] + config["validation_indices"]) == list(range(1, 41))
    assert os.path.realpath(config["data"]) == os.path.realpath(tmp_path / "ds")


def test_generate_and_train_without_tensorflow_renders_nothing(addon, tensorflow_python, seed_scene, tmp_path):
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    props = seed_scene.blendercnn
    props.output_dir = str(tmp_path / "ds")
    props.count, props.resolution, props.render_samples = 4, 32, 4
    prefs.python_path = sys._base_executable if hasattr(sys, "_base_executable") else "/usr/bin/python3"
    try:
        with pytest.raises(RuntimeError, match="TensorFlow"):
            bpy.ops.blendercnn.generate_dataset(then_train=True)
    finally:
        prefs.python_path = tensorflow_python
    folder = tmp_path / "ds"
    assert not (folder.exists() and [n for n in os.listdir(folder) if n.endswith(".png")]), "it rendered"
    assert not addon_module("dataset_format").DatasetFolder(str(folder)).writer_running(), "the lock was kept"
    assert not addon_module("blender.background").running("train")
    assert not bpy.context.window_manager.blendercnn_status.running


@pytest.fixture
def preview(panel_run, tensorflow_python, seed_scene):
    """The preview worker loaded with the panel's model, in a set-up scene."""
    seed_scene.blendercnn.preview_model = str(panel_run[0])
    status = bpy.context.window_manager.blendercnn_preview
    assert bpy.ops.blendercnn.load_preview() == {"FINISHED"}
    poll_until(lambda: status.state == "READY" and bpy.data.images.get("BlenderCNN Preview") is not None
               and status.latency_ms > 0)
    yield status
    if addon_module("blender.background").running("preview"):
        bpy.ops.blendercnn.unload_preview()


def wait_for_preview(status):
    """Until the image for the newest vector is on screen (nothing in flight, nothing waiting)."""
    background = addon_module("blender.background")

    def idle():
        session = background.get("preview")
        return status.state == "READY" and session.in_flight is None and session.waiting is None

    poll_until(idle)


def _preview_pixels():
    return addon_module("blender.images").read_image(bpy.data.images["BlenderCNN Preview"])


@pytest.mark.compat
def test_preview_shows_the_models_image_and_follows_the_sliders(preview, panel_run, seed_scene, tmp_path):
    image = bpy.data.images["BlenderCNN Preview"]
    assert tuple(image.size) == (32, 32)
    first = _preview_pixels()
    done = run_cli("predict", "--model", str(panel_run[0]), "--vector",
                   ",".join(repr(v) for v in preview.preview_vector()), "--out", str(tmp_path / "cli.png"))
    assert done.returncode == 0, done.stderr
    expected = np.asarray(Image.open(tmp_path / "cli.png"))
    assert np.abs(first.astype(int) - expected).max() <= 1  # same model, same vector, same pixels

    preview.preview_colour = (0.0, 0.3, 1.0)
    preview.preview_x = 0.8
    wait_for_preview(preview)
    assert np.abs(_preview_pixels().astype(int) - first).max() > 0
    assert bpy.data.images["BlenderCNN Preview"] == image  # reused, not a new datablock per change


def test_preview_pixels_travel_through_the_frame_file_and_it_is_removed_on_unload(preview, seed_scene):
    session = addon_module("blender.background").get("preview")
    assert session.frames is not None and os.path.isfile(session.frame_path)
    assert os.path.dirname(session.frame_path) == os.path.normpath(bpy.app.tempdir or tempfile.gettempdir())
    shown = session.shown[-1]
    assert shown.latency_ms > 0 and shown.inference_s > 0 and shown.pixels_s >= 0
    path = session.frame_path
    bpy.ops.blendercnn.unload_preview()
    assert not os.path.exists(path)


def test_the_preview_follows_the_ball_and_its_colour(preview, seed_scene):
    background = addon_module("blender.background")
    session = background.get("preview")
    ball = seed_scene.objects["Ball"]
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    props = seed_scene.blendercnn
    props.preview_follow_scene = True
    ball.location.x, ball.location.y = 0.35, -0.45
    glow.default_value = (0.2, 1.0, 0.1, 1.0)
    bpy.context.view_layer.update()  # a real depsgraph update, as a drag with G makes
    expected = [0.2, 1.0, 0.1, 0.35, -0.45]
    poll_until(lambda: session.shown and np.allclose(session.shown[-1].vector, expected, atol=1e-6)
               and session.in_flight is None)
    assert np.allclose(preview.preview_vector(), expected, atol=1e-6)  # the fields show the ball's vector
    shown = len(session.shown)
    props.preview_follow_scene = False
    ball.location.x = -0.6
    bpy.context.view_layer.update()
    for _ in range(20):
        background.poll()
        time.sleep(0.01)
    assert len(session.shown) == shown and session.waiting is None  # off: the ball moves alone
    props.preview_follow_scene = True


def test_a_burst_of_requests_never_queues_and_the_newest_is_shown(preview, seed_scene):
    session = addon_module("blender.background").get("preview")
    wait_for_preview(preview)
    session.max_pending = 0
    before = len(session.shown)
    vectors = [[1.0, 0.5, 0.0, x, -x] for x in np.linspace(-0.9, 0.9, 40)]
    for vector in vectors:  # faster than the worker answers: a drag
        session.request(vector)
    wait_for_preview(preview)
    assert session.max_pending <= 2
    assert len(session.shown) - before <= 3  # the first, perhaps one more, and the newest
    assert np.allclose(session.shown[-1].vector, vectors[-1])


def test_a_script_waits_for_the_image_of_its_vector(preview, seed_scene):
    """PreviewSession.show_now, for scripts (no timer runs in the bpy module): back once the pixels
    are in, picked up by the waiting call itself; a vector the worker refuses raises its message."""
    session = addon_module("blender.background").get("preview")
    wait_for_preview(preview)
    before = _preview_pixels()
    vector = [0.1, 0.9, 0.3, -0.5, 0.4]
    shown = session.show_now(vector)
    assert shown is session.shown[-1] and np.allclose(shown.vector, vector)
    assert session.in_flight is None and session.waiting is None
    assert shown.shown >= shown.received >= shown.arrived > 0
    assert not np.array_equal(_preview_pixels(), before)
    with pytest.raises(addon_module("errors").UserError, match="colour"):
        session.show_now([1.5, 0.9, 0.3, -0.5, 0.4])
    assert session.in_flight is None and session.show_now(vector).vector == vector  # still serving


def test_a_dead_preview_worker_is_restarted(preview, seed_scene):
    background = addon_module("blender.background")
    old = background.get("preview")
    old.worker.kill()
    poll_until(lambda: background.get("preview") is not old and preview.state == "READY")
    preview.latency_ms = -1.0
    preview.preview_y = 0.5
    poll_until(lambda: preview.latency_ms > 0)


@pytest.mark.compat
def test_render_real_renders_the_same_vector_and_compares(preview, seed_scene):
    preview.preview_colour, preview.preview_x, preview.preview_y = (1.0, 0.0, 0.4), -0.5, 0.5
    wait_for_preview(preview)
    ball_before = tuple(seed_scene.objects["Ball"].location)
    typed = preview.preview_vector()
    assert bpy.ops.blendercnn.render_real() == {"FINISHED"}
    bpy.context.view_layer.update()  # the render moved the ball and back: Follow Scene must not react
    addon_module("blender.background").poll()
    assert preview.preview_vector() == typed and addon_module("blender.background").get("preview").waiting is None
    real = bpy.data.images["BlenderCNN Real"]
    assert tuple(real.size) == (32, 32)
    real_pixels = addon_module("blender.images").read_image(real)
    assert real_pixels.std() > 5  # a real picture, not a blank
    assert tuple(seed_scene.objects["Ball"].location) == ball_before  # the scene is left as it was
    expected = addon_module("metrics").psnr(real_pixels, _preview_pixels())
    assert preview.real_psnr == pytest.approx(expected, abs=0.01) and preview.real_psnr > 5
    difference = addon_module("blender.images").read_image(bpy.data.images["BlenderCNN Difference"])
    gap = np.abs(real_pixels.astype(int) - _preview_pixels().astype(int))
    assert np.array_equal(difference, np.clip(gap * 4, 0, 255).astype(np.uint8))


def test_estimate_from_image_moves_the_ball_to_what_the_model_draws(preview, seed_scene):
    """Estimate from Image on a picture the model drew (this tiny model fits real renders poorly, which
    is refused; the window journey estimates from Render Real with a trained model): the ball goes
    where the estimate says, the colour follows, the fields show it, the fitted image is in Preview
    and the panel names the fit."""
    preview.preview_colour, preview.preview_x, preview.preview_y = (1.0, 0.2, 0.0), 0.4, -0.3
    wait_for_preview(preview)
    images = addon_module("blender.images")
    picture = images.write_image("the model's picture", images.read_image(bpy.data.images["BlenderCNN Preview"]))
    ball = seed_scene.objects["Ball"]
    ball.location.x, ball.location.y = -0.8, 0.8  # somewhere else: the estimate must move it
    try:
        seed_scene.blendercnn.estimate_image = picture
        assert bpy.ops.blendercnn.estimate_from_image() == {"FINISHED"}
    finally:
        seed_scene.blendercnn.estimate_image = None
        bpy.data.images.remove(picture)
    session = addon_module("blender.background").get("preview")
    estimate = session.shown[-1].vector
    assert abs(ball.location.x - estimate[3]) < 1e-5 and abs(ball.location.y - estimate[4]) < 1e-5
    assert abs(ball.location.x - 0.4) < 0.3 and abs(ball.location.y + 0.3) < 0.3  # near the drawn place
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    assert np.allclose(tuple(glow.default_value)[:3], estimate[:3], atol=1e-5)
    assert np.allclose(preview.preview_vector(), estimate, atol=1e-5)
    assert " dB" in preview.estimate and not preview.estimate.startswith("poor fit")


def test_estimate_from_image_refuses_a_picture_of_another_size(preview, seed_scene):
    other = bpy.data.images.new("too big", 64, 64)
    try:
        seed_scene.blendercnn.estimate_image = other
        with pytest.raises(RuntimeError, match="is 64x64, the model draws 32x32"):
            bpy.ops.blendercnn.estimate_from_image()
    finally:
        seed_scene.blendercnn.estimate_image = None
        bpy.data.images.remove(other)


def test_estimate_from_image_refuses_a_poor_fit_and_leaves_the_ball(preview, seed_scene):
    """A bright square is not the scene's ball: the fit is poor, reported, and nothing in the scene moves."""
    pixels = np.zeros((32, 32, 3), np.uint8)
    pixels[2:14, 2:14] = 255
    square = addon_module("blender.images").write_image("a white square", pixels)
    ball = seed_scene.objects["Ball"]
    before = tuple(ball.location)
    try:
        seed_scene.blendercnn.estimate_image = square
        with pytest.raises(RuntimeError, match="explains the picture poorly.*the scene was left as it was"):
            bpy.ops.blendercnn.estimate_from_image()
        assert tuple(ball.location) == before and preview.estimate.startswith("poor fit")
    finally:
        seed_scene.blendercnn.estimate_image = None
        bpy.data.images.remove(square)


def test_evaluate_button_writes_metrics_and_loads_the_grid(addon, panel_run, tensorflow_python, scene):
    run = panel_run[0]
    scene.blendercnn.preview_model = str(run)
    assert bpy.ops.blendercnn.evaluate() == {"FINISHED"}
    assert addon_module("blender.background").wait_until_done("evaluate", TIMEOUT)
    metrics = json.loads((run / "metrics.json").read_text())
    status = bpy.context.window_manager.blendercnn_preview
    assert status.evaluation.startswith(f"{metrics['samples']} held-out"), status.evaluation
    grid = bpy.data.images["BlenderCNN Evaluation"]
    assert tuple(grid.size) == Image.open(metrics["grid"]).size


def test_a_corrupt_model_is_reported_and_not_restarted_forever(addon, tensorflow_python, panel_run, scene, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_bytes((panel_run[0] / "config.json").read_bytes())
    (broken / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    scene.blendercnn.preview_model = str(broken)
    status = bpy.context.window_manager.blendercnn_preview
    assert bpy.ops.blendercnn.load_preview() == {"FINISHED"}
    addon_module("blender.background").wait_until_done("preview", TIMEOUT)
    assert status.state == "ERROR" and "not a loadable Keras model" in status.message
    assert (broken / "model.keras").read_bytes() == b"PK\x03\x04 not really a zip"


def test_tensorboard_serves_the_runs_logs_on_localhost(addon, panel_run, tensorflow_python, scene):
    scene.blendercnn.run_dir = str(panel_run[0])
    status = bpy.context.window_manager.blendercnn_training
    assert bpy.ops.blendercnn.open_tensorboard(open_browser=False) == {"FINISHED"}
    try:
        poll_until(lambda: status.tensorboard_url != "", timeout=120)
        assert status.tensorboard_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(status.tensorboard_url + "data/runs", timeout=30) as answer:
            assert answer.status == 200
    finally:
        bpy.ops.blendercnn.stop_tensorboard()
        addon_module("blender.background").wait_until_done("tensorboard", 30)
    assert status.tensorboard_url == ""


def test_create_environment_needs_online_access(addon, monkeypatch):
    monkeypatch.delenv("BLENDERCNN_WHEEL_FOLDER", raising=False)
    system = bpy.context.preferences.system
    system.use_online_access = False
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.blendercnn.create_environment()


def test_create_environment_shows_its_steps_and_a_failed_download(addon, monkeypatch, tmp_path):
    """Offline (no package index), the download step fails: the panel shows the step and pip's error."""
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    system = bpy.context.preferences.system
    system.use_online_access = True
    status = bpy.context.window_manager.blendercnn_env
    try:
        assert bpy.ops.blendercnn.create_environment() == {"FINISHED"}
        steps = set()
        poll_until(lambda: steps.add(status.step) or not status.creating, timeout=180)
    finally:
        system.use_online_access = False
    assert status.error.startswith("Creating the environment failed"), status.error
    assert 3 in steps  # it got as far as installing the packages into the new environment
    env_dir = addon_module("blender.preferences").environment_dir()
    assert os.path.isfile(os.path.join(env_dir, "pyvenv.cfg"))


def test_create_environment_installs_from_a_wheel_folder_without_online_access(addon, monkeypatch, tmp_path):
    """A Wheel Folder (here through $BLENDERCNN_WHEEL_FOLDER): no online access needed, pip looks only
    there (--no-index). This folder lacks TensorFlow, so pip's own error ends step 2 of 2."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "unrelated-1.0-py3-none-any.whl").write_bytes(b"")  # a wheel pip skips: another name
    monkeypatch.setenv("BLENDERCNN_WHEEL_FOLDER", str(wheels))
    bpy.context.preferences.system.use_online_access = False
    status = bpy.context.window_manager.blendercnn_env
    assert bpy.ops.blendercnn.create_environment() == {"FINISHED"}
    poll_until(lambda: not status.creating, timeout=180)
    assert status.steps == 2 and str(wheels) in status.step_title, status.step_title
    assert status.error.startswith("Creating the environment failed"), status.error
    monkeypatch.setenv("BLENDERCNN_WHEEL_FOLDER", str(tmp_path / "missing"))
    with pytest.raises(RuntimeError, match="does not exist"):
        bpy.ops.blendercnn.create_environment()


def test_create_env_cli_refuses_a_missing_wheel_folder_in_one_line(tmp_path):
    done = run_cli("create-env", "--dir", str(tmp_path / "env"), "--find-links", str(tmp_path / "nowhere"))
    assert done.returncode != 0 and not (tmp_path / "env").exists()
    assert done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr, done.stderr


def test_pinned_packages_match_requirements(addon):
    from conftest import ROOT

    interpreter = addon_module("processes.interpreter")
    pins = open(os.path.join(ROOT, "requirements.txt")).read().split()
    for package in interpreter.VARIANT_PACKAGES["cpu"]:
        assert package in pins, f"{package} is not what requirements.txt pins"
    assert f"tensorflow[and-cuda]=={interpreter.TENSORFLOW_VERSION}" in interpreter.VARIANT_PACKAGES["cuda"]


def test_auto_detection_finds_a_tensorflow_python(addon, monkeypatch):
    prefs = bpy.context.preferences.addons[ADDON_MODULE].preferences
    old, prefs.python_path = prefs.python_path, ""
    monkeypatch.setenv("BLENDERCNN_PYTHON", sys.executable)
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        assert bpy.ops.blendercnn.check_interpreter() == {"FINISHED"}
        status = bpy.context.window_manager.blendercnn_env
        assert status.python == sys.executable and "has TensorFlow" in status.summary
    finally:
        prefs.python_path = old


def _start_preview(run):
    scene = bpy.context.scene
    scene.blendercnn.preview_model = str(run)
    assert bpy.ops.blendercnn.load_preview() == {"FINISHED"}
    session = addon_module("blender.background").get("preview")
    poll_until(lambda: bpy.context.window_manager.blendercnn_preview.state == "READY")
    return session.worker.process


def test_opening_a_file_stops_the_preview_worker(addon, panel_run, tensorflow_python, tmp_path):
    process = _start_preview(panel_run[0])
    saved = str(tmp_path / "saved.blend")
    bpy.ops.wm.save_as_mainfile(filepath=saved, copy=True)
    bpy.ops.wm.open_mainfile(filepath=saved)
    assert process.wait(timeout=10) is not None
    assert not addon_module("blender.background").running("preview")


def test_disabling_the_add_on_stops_its_workers(addon, panel_run, tensorflow_python):
    process = _start_preview(panel_run[0])
    bpy.ops.preferences.addon_disable(module=ADDON_MODULE)
    try:
        assert process.wait(timeout=10) is not None
    finally:
        bpy.ops.preferences.addon_enable(module=ADDON_MODULE)
