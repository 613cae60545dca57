"""The preview and the evaluation as background sessions: what the Preview panel shows.

The model stays loaded in a persistent worker (``python -m blendercnn_addon serve``, ml/serve.py).
Moving a slider sends one predict request; while one is in flight only the newest
vector waits, so dragging never builds a queue. A worker that dies is restarted,
at most MAX_RESTARTS times per RESTART_WINDOW_S. Render Real renders the same vector
with the scene (renderer.render_once). The operators (operators/preview_ops.py) only
start and stop these.
"""

from __future__ import annotations

import json
import os
import tempfile
import time

import bpy
import numpy as np

from . import background, renderer
from .background import crash_message, log_path
from .errors import UserError
from .images import (EVALUATION_IMAGE, PREVIEW_IMAGE, REAL_IMAGE, load_png, read_image, read_png,
                     show_in_image_editors, write_image)
from .metrics import psnr
from .ml.serve import IMAGE_ENCODING, decode_pixels
from .preferences import tensorflow_python
from .run_config import RunConfig, read_run_config
from .settings import GenerationSettings
from .training_session import training_data_dir
from .workers import Worker, addon_command

MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0


_restarts: list[float] = []


_last_shown: dict = {"vector": None, "pixels": None}  # what BlenderCNN Preview shows now


def _status(context=None):
    return (context or bpy.context).window_manager.blendercnn_preview


def model_dir(context) -> str:
    props = context.scene.blendercnn
    return os.path.abspath(bpy.path.abspath(props.preview_model)) if props.preview_model.strip() else ""


class PreviewSession(background.Session):
    """The inference worker for one model; writes ``BlenderCNN Preview``."""

    kind = "preview"
    stop_on_file_load = True

    def __init__(self, worker: Worker, run: str, python: str, vector: list[float]):
        super().__init__(worker)
        self.run, self.python = run, python
        self.ready = False
        self.closing = False
        self.next_id = 0
        self.in_flight: tuple[int, list[float], float] | None = None  # (id, vector, sent at)
        self.waiting: list[float] | None = vector
        self.model_seconds = -1.0  # the worker's own time for the last image (inference + encoding)

    @property
    def busy(self) -> bool:
        return self.in_flight is not None

    def request(self, vector: list[float]) -> None:
        """Show the model's image for ``vector`` as soon as the worker is free."""
        self.waiting = list(vector)
        self._send_waiting()

    def _send_waiting(self) -> None:
        if not self.ready or self.in_flight is not None or self.waiting is None:
            return
        self.next_id += 1
        vector, self.waiting = self.waiting, None
        self.in_flight = (self.next_id, vector, time.perf_counter())
        self.worker.send({"command": "predict", "id": self.next_id, "vector": vector})
        background.wake()

    def on_message(self, message: dict) -> None:
        status = _status()
        event = message.get("event")
        if event == "ready":
            self.ready = True
            status.state, status.device = "READY", message.get("device", "")
            status.resolution = message.get("resolution", 0)
            status.message = ""
            self._send_waiting()
        elif event == "image" and self.in_flight and message.get("id") == self.in_flight[0]:
            self._show(message)
        elif event == "error":
            status.message = message.get("message", "error")
            if message.get("fatal"):  # the model itself could not load
                status.state = "ERROR"
            elif self.in_flight and message.get("id") == self.in_flight[0]:  # our request was refused
                self.in_flight = None
                self._send_waiting()

    def _show(self, message: dict) -> None:
        _, vector, sent_at = self.in_flight
        self.in_flight = None
        if message.get("encoding") != IMAGE_ENCODING:
            _status().message = f"the preview worker sent pixels as {message.get('encoding')!r}"
            return
        self.model_seconds = float(message.get("seconds", -1.0))
        pixels = decode_pixels(message["pixels"], message["width"], message["height"])
        show_in_image_editors(write_image(PREVIEW_IMAGE, pixels))
        _last_shown.update(vector=vector, pixels=pixels)
        status = _status()
        status.latency_ms = (time.perf_counter() - sent_at) * 1000.0
        status.message = ""
        _compare_with_real()
        self._send_waiting()

    def shutdown(self) -> None:
        self.closing = True
        self.worker.send({"command": "stop"})
        super().shutdown()
        _status().state = "OFF"

    def on_exit(self, exit_code: int) -> None:
        status = _status()
        if self.closing or status.state == "ERROR":
            status.state = "OFF" if self.closing else "ERROR"
            return
        now = time.monotonic()
        _restarts[:] = [t for t in _restarts if now - t < RESTART_WINDOW_S]
        error, _tail = crash_message("The preview worker", self.worker, exit_code)
        if len(_restarts) >= MAX_RESTARTS:
            status.state, status.message = "ERROR", f"{error} (gave up after {MAX_RESTARTS} restarts)"
            return
        _restarts.append(now)
        vector = self.waiting or (self.in_flight[1] if self.in_flight else None)
        status.state, status.message = "LOADING", f"{error}; restarting"
        background.start(_start_worker(self.run, self.python, vector))


def _start_worker(run: str, python: str, vector) -> PreviewSession:
    worker = Worker(addon_command(python, "serve", "--model", run), log_path=log_path("preview"))
    return PreviewSession(worker, run, python, vector)


def request_preview(props) -> None:
    """Called when the panel's colour or X, Y changes: ask the running worker for a new image."""
    session = background.get("preview")
    if session is not None:
        session.request(props.preview_vector())


def _compare_with_real() -> None:
    """PSNR between Real and Preview when both show the same vector."""
    real = bpy.data.images.get(REAL_IMAGE)
    status = _status()
    status.real_psnr = -1.0
    if real is None or _last_shown["pixels"] is None or real.get("blendercnn_vector") is None:
        return
    if not np.allclose(list(real["blendercnn_vector"]), _last_shown["vector"], atol=1e-6):
        return
    real_pixels = read_image(real)
    if real_pixels.shape == _last_shown["pixels"].shape:
        status.real_psnr = min(psnr(real_pixels, _last_shown["pixels"]), 99.0)


def render_real(scene, vector: list[float], run_config: RunConfig | None) -> np.ndarray:
    """(R, R, 3) uint8: the scene rendered at ``vector`` as the model's dataset was (resolution and
    render quality from the run's dataset identity, where recorded; else the panel's). The scene's
    vector is restored after."""
    props = scene.blendercnn
    identity = run_config.dataset_identity if run_config else None
    quality = {**props.quality_settings(), **(identity.render_quality() if identity else {})}
    resolution = run_config.resolution if run_config else props.resolution
    settings = GenerationSettings(out_dir="", resolution=resolution, **quality, target=props.target_names())
    with tempfile.TemporaryDirectory(prefix="blendercnn-real-") as folder:
        path = os.path.join(folder, "real.png")
        renderer.render_once(scene, settings, vector, path, noise_seed=0)
        return read_png(path)


class EvaluationSession(background.Session):
    """One ``python -m blendercnn_addon evaluate`` run; loads its grid as ``BlenderCNN Evaluation``."""

    kind = "evaluate"

    def __init__(self, worker: Worker, run: str):
        super().__init__(worker)
        self.run = run

    def on_exit(self, exit_code: int) -> None:
        status = _status()
        status.evaluating = False
        if exit_code != 0:
            status.evaluation, _tail = crash_message("Evaluation", self.worker, exit_code)
            return
        with open(os.path.join(self.run, "metrics.json"), encoding="utf-8") as handle:
            metrics = json.load(handle)
        status.evaluation = (f"{metrics['samples']} held-out: MSE {metrics['mse']:.5f} · PSNR "
                             f"{metrics['psnr_db']:.2f} dB · SSIM {metrics['ssim']:.3f} · ball PSNR "
                             f"{metrics['psnr_mask_db']:.2f} dB")
        show_in_image_editors(load_png(EVALUATION_IMAGE, metrics["grid"]))


def load_preview(context) -> str:
    """Start (or restart) the preview worker for the Preview panel's model; returns the run folder.
    UserError (nothing started) without a finished model or a TensorFlow Python."""
    run = model_dir(context)
    if not run:
        raise UserError("choose a trained run folder first (Model), or train one")
    config = read_run_config(run)
    if not os.path.isfile(os.path.join(run, "model.keras")):
        raise UserError(f"{run} has no model.keras yet: no epoch of that run has finished")
    python = tensorflow_python(context)
    background.stop("preview")
    _restarts.clear()
    status = _status(context)
    status.state, status.model_dir, status.message = "LOADING", run, "Loading the model"
    status.resolution = config.resolution
    status.latency_ms = status.real_psnr = -1.0
    background.start(_start_worker(run, python, context.scene.blendercnn.preview_vector()))
    return run


def show_real_render(context) -> str:
    """Render Real: the scene at the preview's vector into ``BlenderCNN Real``, compared with the
    model's image; returns the line to report."""
    scene = context.scene
    props = scene.blendercnn
    config = read_run_config(model_dir(context)) if model_dir(context) else None
    pixels = render_real(scene, props.preview_vector(), config)
    image = write_image(REAL_IMAGE, pixels)
    image["blendercnn_vector"] = props.preview_vector()
    show_in_image_editors(image)
    _compare_with_real()
    status = _status(context)
    return f"Rendered {REAL_IMAGE}" + (f": PSNR {status.real_psnr:.2f} dB against the model"
                                       if status.real_psnr >= 0 else "")


def start_evaluation(context) -> None:
    """Evaluate the Preview panel's model on its held-out samples in a TensorFlow worker."""
    run = model_dir(context)
    if not run:
        raise UserError("choose a trained run folder first (Model)")
    config = read_run_config(run)
    data = config.data or training_data_dir(context.scene.blendercnn)
    python = tensorflow_python(context)
    worker = Worker(addon_command(python, "evaluate", "--data", data, "--model", run), log_path=log_path("evaluate"))
    status = _status(context)
    status.evaluating, status.evaluation = True, "Evaluating…"
    background.start(EvaluationSession(worker, run))
