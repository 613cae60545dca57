"""Preview (the model's image for the panel's vector, live), Render Real, and Evaluate.

The model stays loaded in a persistent worker (``python -m blendercnn_addon serve``).
Moving a slider sends one predict request; while one is in flight only the newest
vector waits, so dragging never builds a queue. A worker that dies is restarted,
at most MAX_RESTARTS times per RESTART_WINDOW_S.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time

import bpy
import numpy as np

from .. import background, renderer
from ..errors import UserError
from ..images import (EVALUATION_IMAGE, PREVIEW_IMAGE, REAL_IMAGE, load_png, read_image, read_png,
                      show_in_image_editors, write_image)
from ..ml.serve import IMAGE_ENCODING, decode_pixels
from ..preferences import tensorflow_python
from ..settings import GenerationSettings
from ..workers import Worker, addon_command
from .train_ops import crash_message, log_path, training_data_dir

MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
_restarts: list[float] = []
_last_shown: dict = {"vector": None, "pixels": None}  # what BlenderCNN Preview shows now


def _status(context=None):
    return (context or bpy.context).window_manager.blendercnn_preview


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of the same shape (inf when identical)."""
    mse = float(np.mean((a.astype(np.float32) / 255.0 - b.astype(np.float32) / 255.0) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def read_run_config(run: str) -> dict:
    """The run's config.json (no TensorFlow needed); UserError when it is not a run folder."""
    path = os.path.join(run, "config.json")
    try:
        with open(path, encoding="utf-8") as handle:
            config = json.load(handle)
        int(config["resolution"])
        return config
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{run} is not a trained run folder (no readable config.json)") from None


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


class BLENDERCNN_OT_load_preview(bpy.types.Operator):
    """Load the trained model in a background process and show its image for the vector below"""

    bl_idname = "blendercnn.load_preview"
    bl_label = "Load Model"

    def execute(self, context):
        status = _status(context)
        try:
            run = model_dir(context)
            if not run:
                raise UserError("choose a trained run folder first (Model), or train one")
            config = read_run_config(run)
            if not os.path.isfile(os.path.join(run, "model.keras")):
                raise UserError(f"{run} has no model.keras yet: no epoch of that run has finished")
            python = tensorflow_python(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        background.stop("preview")
        _restarts.clear()
        status.state, status.model_dir, status.message = "LOADING", run, "Loading the model"
        status.resolution = int(config["resolution"])
        status.latency_ms = status.real_psnr = -1.0
        background.start(_start_worker(run, python, context.scene.blendercnn.preview_vector()))
        return {"FINISHED"}


class BLENDERCNN_OT_unload_preview(bpy.types.Operator):
    """Stop the preview process and free its memory"""

    bl_idname = "blendercnn.unload_preview"
    bl_label = "Unload"

    @classmethod
    def poll(cls, context):
        return background.running("preview")

    def execute(self, context):
        background.stop("preview")
        return {"FINISHED"}


class BLENDERCNN_OT_render_real(bpy.types.Operator):
    """Render the actual scene at the preview's vector into 'BlenderCNN Real' and compare it with the model"""

    bl_idname = "blendercnn.render_real"
    bl_label = "Render Real"

    def execute(self, context):
        scene = context.scene
        props = scene.blendercnn
        try:
            config = read_run_config(model_dir(context)) if model_dir(context) else {}
            pixels = render_real(scene, props.preview_vector(), config)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        image = write_image(REAL_IMAGE, pixels)
        image["blendercnn_vector"] = props.preview_vector()
        show_in_image_editors(image)
        _compare_with_real()
        status = _status(context)
        self.report({"INFO"}, f"Rendered {REAL_IMAGE}" + (f": PSNR {status.real_psnr:.2f} dB against the model"
                                                          if status.real_psnr >= 0 else ""))
        return {"FINISHED"}


def render_real(scene, vector: list[float], run_config: dict) -> np.ndarray:
    """(R, R, 3) uint8: the scene rendered at ``vector`` as the model's dataset was (resolution,
    samples, denoiser from the run's dataset card when known). The scene's vector is restored after."""
    props = scene.blendercnn
    identity = run_config.get("dataset_identity") or {}
    quality = props.quality_settings()
    for field, key in (("samples", "render_samples"), ("denoiser", "denoiser"), ("denoise_quality", None),
                       ("denoise_prefilter", None), ("denoise_passes", None), ("sampling_pattern", None)):
        if identity.get(key or field) is not None:  # datasets made before a field existed lack it
            quality[field] = identity[key or field]
    settings = GenerationSettings(out_dir="", resolution=int(run_config.get("resolution", props.resolution)),
                                  **quality, target=props.target_names())
    target = renderer.resolve_target(scene, settings.target)
    before = renderer.read_vector(target)
    denoiser, _notes = renderer.resolve_denoiser(scene, settings.denoiser)
    renderer.configure_render(scene, settings, denoiser)
    with tempfile.TemporaryDirectory(prefix="blendercnn-real-") as folder:
        path = os.path.join(folder, "real.png")
        try:
            renderer.apply_vector(target, vector)
            renderer.render_still(scene, path, noise_seed=0, quiet=True)
        finally:
            renderer.apply_vector(target, before)
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


class BLENDERCNN_OT_evaluate(bpy.types.Operator):
    """Measure the model on its held-out validation samples: metrics and a real | generated | difference grid"""

    bl_idname = "blendercnn.evaluate"
    bl_label = "Evaluate"

    @classmethod
    def poll(cls, context):
        return not background.running("evaluate")

    def execute(self, context):
        try:
            run = model_dir(context)
            if not run:
                raise UserError("choose a trained run folder first (Model)")
            config = read_run_config(run)
            data = config.get("data") or training_data_dir(context.scene.blendercnn)
            python = tensorflow_python(context)
        except UserError as err:
            self.report({"ERROR"}, str(err))
            return {"CANCELLED"}
        worker = Worker(addon_command(python, "evaluate", "--data", data, "--model", run),
                        log_path=log_path("evaluate"))
        status = _status(context)
        status.evaluating, status.evaluation = True, "Evaluating…"
        background.start(EvaluationSession(worker, run))
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_load_preview, BLENDERCNN_OT_unload_preview, BLENDERCNN_OT_render_real,
           BLENDERCNN_OT_evaluate)
