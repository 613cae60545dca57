"""The preview and the evaluation as background sessions: what the Preview panel shows.

The model stays loaded in a persistent worker (``python -m blendercnn_addon serve``, ml/serve.py).
Moving a slider sends one predict request; while one is in flight only the newest
vector waits, so dragging never builds a queue. A worker that dies is restarted,
at most MAX_RESTARTS times per RESTART_WINDOW_S. Render Real renders the same vector
with the scene (renderer.render_once). The operators (operators/preview_ops.py) only
start and stop these.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import tempfile
import time
from dataclasses import dataclass

import bpy
import numpy as np
from bpy.app.handlers import persistent

from . import background, renderer
from .background import crash_message, log_path
from ..errors import UserError
from .images import (DIFFERENCE_IMAGE, EVALUATION_IMAGE, PREVIEW_IMAGE, REAL_IMAGE, difference_pixels, load_png,
                     read_image, read_png, show_in_image_editors, write_image, write_rgba)
from ..metrics import psnr
from ..processes.frames import FRAME_ENCODING, IMAGE_ENCODING, FrameFile, decode_pixels, encode_pixels
from .preferences import tensorflow_python
from ..run_config import RunConfig, read_run_config
from ..settings import GenerationSettings
from .training_session import training_data_dir
from ..vector import VECTOR_FIELDS
from ..processes.workers import ARRIVED_KEY, Worker, addon_command, wait_for_messages

MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0


_restarts: list[float] = []
_last_shown: dict = {"vector": None}  # the vector whose image BlenderCNN Preview shows now
TIMINGS_KEPT = 500  # per-image timings a session keeps (the window journey reads them)


def _status(context=None):
    return (context or bpy.context).window_manager.blendercnn_preview


def model_dir(context) -> str:
    props = context.scene.blendercnn
    return os.path.abspath(bpy.path.abspath(props.preview_model)) if props.preview_model.strip() else ""


@dataclass
class ShownImage:
    """Where the time of one preview image went (time.perf_counter seconds, worker durations in s).

    requested: the vector was asked for (a slider, a typed value, the ball moved); sent: the
    request went to the worker (later than requested while another image was on its way);
    received: its answer reached Blender's poller; shown: its pixels were in the datablock."""

    vector: list[float]
    requested: float
    sent: float
    received: float = 0.0
    shown: float = 0.0
    worker_s: float = 0.0
    inference_s: float = 0.0
    pixels_s: float = 0.0  # Blender: pixels into the datablock (foreach_set) and editors tagged
    read: float = 0.0  # the worker read the request (its perf_counter: the same clock on Linux)
    arrived: float = 0.0  # the answer's line reached this process's reader thread

    def breakdown_ms(self) -> dict:
        """Where the time went, ms: waiting for the worker to be free, the request's way to the worker,
        the worker, the answer's way back, the poller's wake-up, pixels into the datablock."""
        def ms(seconds: float) -> float:
            return round(seconds * 1000.0, 2)

        return {"waiting": ms(self.sent - self.requested), "to_worker": ms(self.read - self.sent),
                "worker": ms(self.worker_s), "from_worker": ms(self.arrived - self.read - self.worker_s),
                "poller_wakeup": ms(self.received - self.arrived), "pixels": ms(self.pixels_s)}

    @property
    def latency_ms(self) -> float:
        return (self.shown - self.requested) * 1000.0


class PreviewSession(background.Session):
    """The inference worker for one model; writes ``BlenderCNN Preview``.

    Requests coalesce: one image is on its way at a time and only the newest vector waits, so a
    drag never builds a queue (``max_pending`` stays at most 2: one in flight, one waiting)."""

    kind = "preview"
    stop_on_file_load = True

    def __init__(self, worker: Worker, run: str, python: str, vector: list[float] | None, frame_path: str):
        super().__init__(worker)
        self.run, self.python, self.frame_path = run, python, frame_path
        self.ready = False
        self.closing = False
        self.next_id = 0
        self.frames: FrameFile | None = None
        self.in_flight: tuple[int, ShownImage] | None = None
        self.waiting: tuple[list[float], float] | None = (list(vector), time.perf_counter()) if vector else None
        self.shown: collections.deque[ShownImage] = collections.deque(maxlen=TIMINGS_KEPT)
        self.max_pending = 0
        self.scene_vector: list[float] | None = None  # the ball's vector last seen by follow_scene
        self.model_seconds = -1.0  # the worker's own time for the last image

    @property
    def busy(self) -> bool:
        return self.in_flight is not None

    def request(self, vector: list[float]) -> None:
        """Show the model's image for ``vector`` as soon as the worker is free (newest wins)."""
        requested = self.waiting[1] if self.waiting else time.perf_counter()  # the oldest unanswered ask
        self.waiting = (list(vector), requested)
        self._send_waiting()
        self.max_pending = max(self.max_pending, (self.in_flight is not None) + (self.waiting is not None))

    def _send_waiting(self) -> None:
        if not self.ready or self.in_flight is not None or self.waiting is None:
            return
        self.next_id += 1
        (vector, requested), self.waiting = self.waiting, None
        self.in_flight = (self.next_id, ShownImage(vector, requested, time.perf_counter()))
        self.worker.send({"command": "predict", "id": self.next_id, "vector": vector})
        background.wake()

    def on_message(self, message: dict) -> None:
        status = _status()
        event = message.get("event")
        if event == "ready":
            self._on_ready(message, status)
        elif event == "image" and self.in_flight and message.get("id") == self.in_flight[0]:
            self._show(message)
        elif event == "error":
            status.message = message.get("message", "error")
            if message.get("fatal"):  # the model itself could not load
                status.state = "ERROR"
            elif self.in_flight and message.get("id") == self.in_flight[0]:  # our request was refused
                self.in_flight = None
                self._send_waiting()

    def _on_ready(self, message: dict, status) -> None:
        resolution = int(message.get("resolution", 0))
        if message.get("frame_file"):
            self.frames = FrameFile(message["frame_file"], resolution, resolution, create=False)
        self.ready = True
        status.state, status.device = "READY", message.get("device", "")
        status.resolution = resolution
        status.message = ""
        self._send_waiting()

    def _show(self, message: dict) -> None:
        _, shown = self.in_flight
        self.in_flight = None
        shown.received = time.perf_counter()
        width, height = int(message["width"]), int(message["height"])
        if message.get("encoding") == FRAME_ENCODING and self.frames is not None:
            image = write_rgba(PREVIEW_IMAGE, self.frames.pixels, width, height)
        elif message.get("encoding") == IMAGE_ENCODING:
            image = write_image(PREVIEW_IMAGE, decode_pixels(message["pixels"], width, height))
        else:
            _status().message = f"the preview worker sent pixels as {message.get('encoding')!r}"
            self._send_waiting()
            return
        show_in_image_editors(image)
        shown.shown = time.perf_counter()
        shown.pixels_s = shown.shown - shown.received
        shown.worker_s, shown.inference_s = float(message.get("seconds", 0.0)), float(message.get("inference_s", 0.0))
        shown.read, shown.arrived = float(message.get("read_at", 0.0)), float(message.get(ARRIVED_KEY, 0.0))
        self.shown.append(shown)
        self.model_seconds = shown.worker_s
        _last_shown["vector"] = shown.vector
        status = _status()
        status.latency_ms = shown.latency_ms
        status.message = ""
        _compare_with_real()
        self._send_waiting()

    def show_now(self, vector: list[float], timeout: float = 60.0) -> ShownImage:
        """Blocking, for scripts and the bpy module (no event loop runs Blender's timers there):
        request ``vector`` and return its ShownImage once its pixels are in BlenderCNN Preview. Wakes
        the moment the worker's answer arrives. UserError for a stopped worker or no answer within
        ``timeout`` seconds, or the worker's own message when it refused the vector."""
        last = self.shown[-1] if self.shown else None
        self.request(vector)
        deadline = time.monotonic() + timeout
        while self.in_flight is not None or self.waiting is not None:
            self._deliver_until(deadline)
        if not self.shown or self.shown[-1] is last:
            raise UserError(_status().message or "the preview worker sent no image")
        return self.shown[-1]

    def estimate(self, pixels: np.ndarray, timeout: float = 60.0) -> dict:
        """Blocking: the vector the model draws as ``pixels`` ((R, R, 3) uint8, top row first), as the
        worker's "estimate" message; its fitted image is shown in BlenderCNN Preview. UserError for a
        refused picture (no ball, another size), a stopped worker or no answer within ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.in_flight is not None or not self.ready:  # an image on its way is shown first
            self._deliver_until(deadline)
        self.next_id += 1
        request_id, estimate = self.next_id, None
        height, width = pixels.shape[:2]
        self.worker.send({"command": "invert", "id": request_id, "width": width, "height": height,
                          "pixels": encode_pixels(pixels)})
        while True:
            for message in self._deliver_until(deadline, keep=request_id):
                if message.get("event") == "error":
                    raise UserError(message.get("message", "the estimate failed"))
                if message.get("event") == "estimate":
                    estimate = message
                elif message.get("event") == "image" and estimate is not None:
                    self.in_flight = (request_id, ShownImage(estimate["vector"], time.perf_counter(),
                                                             time.perf_counter()))
                    self._show(message)
                    return estimate

    def _deliver_until(self, deadline: float, keep: int | None = None) -> list[dict]:
        """Hand the worker's messages to on_message (those with id ``keep`` are returned instead);
        UserError when the worker stopped or ``deadline`` (time.monotonic) passed."""
        if self.worker.exit_code is not None:
            raise UserError("the preview worker stopped; load the model again")
        if time.monotonic() > deadline:
            raise UserError("the preview worker did not answer in time")
        kept, messages = [], self.worker.messages()
        for message in messages:
            if keep is not None and message.get("id") == keep:
                kept.append(message)
            else:
                self.on_message(message)
        if not messages:
            wait_for_messages(0.005)
        return kept

    def _release_frames(self) -> None:
        if self.frames is not None:
            self.frames.close()
            self.frames = None
        try:
            os.remove(self.frame_path)
        except OSError:
            pass

    def shutdown(self) -> None:
        self.closing = True
        self.worker.send({"command": "stop"})
        super().shutdown()
        self._release_frames()
        _status().state = "OFF"

    def on_exit(self, exit_code: int) -> None:
        self._release_frames()
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
        vector = self.waiting[0] if self.waiting else (self.in_flight[1].vector if self.in_flight else None)
        status.state, status.message = "LOADING", f"{error}; restarting"
        background.start(_start_worker(self.run, self.python, vector))


def _frame_path() -> str:
    """A fresh frame file name in Blender's session temporary folder (removed when Blender exits)."""
    folder = bpy.app.tempdir or tempfile.gettempdir()
    return os.path.join(folder, f"blendercnn-preview-{os.getpid()}-{time.monotonic_ns()}.frame")


def _start_worker(run: str, python: str, vector) -> PreviewSession:
    frame_path = _frame_path()
    worker = Worker(addon_command(python, "serve", "--model", run, "--frame-file", frame_path),
                    log_path=log_path("preview"))
    session = PreviewSession(worker, run, python, vector, frame_path)
    session.scene_vector = _scene_vector(bpy.context.scene)  # Follow Scene reacts to changes from here on
    return session


def _scene_vector(scene) -> list[float] | None:
    """The ball's vector in ``scene`` (its emission colour and x, y), or None when there is no ball."""
    props = getattr(scene, "blendercnn", None)
    if props is None:
        return None
    try:
        return list(renderer.read_vector(renderer.resolve_target(scene, props.target_names())))
    except UserError:
        return None


def request_preview(props) -> None:
    """Called when the panel's colour or X, Y changes (``props``: window_manager.blendercnn_preview):
    ask the running worker for a new image."""
    session = background.get("preview")
    if session is not None:
        session.request(props.preview_vector())


def follow_scene(scene) -> None:
    """While a model is loaded and Follow Scene is on: when the ball moved or its emission colour
    changed (a drag with G, the N panel, a keyframe), ask for the model's image of the new vector
    and show that vector in the Preview panel's fields. Cheap when nothing changed."""
    session = background.get("preview")
    if (_follow_paused or session is None or not getattr(scene, "blendercnn", None)
            or not scene.blendercnn.preview_follow_scene):
        return
    vector = _scene_vector(scene)
    if vector is None or vector == session.scene_vector:
        return
    session.scene_vector = vector
    _status().show_preview_vector(vector)  # the fields show it; their update does not fire
    session.request(vector)


_follow_paused = False  # True while the add-on itself moves the ball (Render Real)


@contextlib.contextmanager
def follow_paused(scene):
    """While inside, the ball's moves are the add-on's own (a render at another vector): Follow Scene
    ignores them, and the ball's vector after them is what it compares with next."""
    global _follow_paused
    _follow_paused = True
    try:
        yield
    finally:
        _follow_paused = False
        session = background.get("preview")
        if session is not None:
            session.scene_vector = _scene_vector(scene)


@persistent
def _on_depsgraph_update(scene, _depsgraph=None) -> None:
    follow_scene(scene)


def register() -> None:
    for handlers in (bpy.app.handlers.depsgraph_update_post, bpy.app.handlers.frame_change_post):
        handlers.append(_on_depsgraph_update)


def unregister() -> None:
    for handlers in (bpy.app.handlers.depsgraph_update_post, bpy.app.handlers.frame_change_post):
        if _on_depsgraph_update in handlers:
            handlers.remove(_on_depsgraph_update)


def _compare_with_real() -> None:
    """PSNR between Real and Preview when both show the same vector, and BlenderCNN Difference
    (|model - real| x 4) beside them."""
    real = bpy.data.images.get(REAL_IMAGE)
    preview = bpy.data.images.get(PREVIEW_IMAGE)
    status = _status()
    status.real_psnr = -1.0
    if real is None or preview is None or _last_shown["vector"] is None or real.get("blendercnn_vector") is None:
        return
    if not np.allclose(list(real["blendercnn_vector"]), _last_shown["vector"], atol=1e-6):
        return
    real_pixels, preview_pixels = read_image(real), read_image(preview)
    if real_pixels.shape == preview_pixels.shape:
        status.real_psnr = min(psnr(real_pixels, preview_pixels), 99.0)
        write_image(DIFFERENCE_IMAGE, difference_pixels(preview_pixels, real_pixels))


def render_real(scene, vector: list[float], run_config: RunConfig | None) -> np.ndarray:
    """(R, R, 3) uint8: the scene rendered at ``vector`` as the model's dataset was (resolution and
    render quality from the run's dataset identity, where recorded; else the panel's). The scene's
    vector is restored after."""
    props = scene.blendercnn
    identity = run_config.dataset_identity if run_config else None
    quality = {**props.quality_settings(), **(identity.render_quality() if identity else {})}
    resolution = run_config.resolution if run_config else props.resolution
    settings = GenerationSettings(out_dir="", resolution=resolution, **quality, target=props.target_names())
    with tempfile.TemporaryDirectory(prefix="blendercnn-real-") as folder, follow_paused(scene):
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
    background.start(_start_worker(run, python, status.preview_vector()))
    return run


def show_real_render(context) -> str:
    """Render Real: the scene at the preview's vector into ``BlenderCNN Real``, compared with the
    model's image; returns the line to report."""
    scene = context.scene
    config = read_run_config(model_dir(context)) if model_dir(context) else None
    vector = _status(context).preview_vector()
    pixels = render_real(scene, vector, config)
    image = write_image(REAL_IMAGE, pixels)
    image["blendercnn_vector"] = vector
    show_in_image_editors(image)
    _compare_with_real()
    status = _status(context)
    return f"Rendered {REAL_IMAGE}" + (f": PSNR {status.real_psnr:.2f} dB against the model"
                                       if status.real_psnr >= 0 else "")


def estimate_from_image(context) -> str:
    """Estimate from Image: the vector the loaded model draws as the chosen image (default: BlenderCNN
    Real); the ball is moved and its emission colour set to it, the Preview fields show it and the
    fitted image appears in BlenderCNN Preview. Returns the line to report; UserError otherwise."""
    session = background.get("preview")
    if session is None or not session.ready:
        raise UserError("load a model first (Load Model): the estimate runs in the preview's worker")
    props = context.scene.blendercnn
    image = props.estimate_image or bpy.data.images.get(REAL_IMAGE)
    if image is None:
        raise UserError(f"choose an image to estimate from (or press Render Real to make {REAL_IMAGE})")
    if not image.has_data and image.source == "FILE":
        image.reload()
    width, height = image.size
    status = _status(context)
    resolution = status.resolution
    if (width, height) != (resolution, resolution):
        raise UserError(f"{image.name} is {width}x{height}, the model draws {resolution}x{resolution}: "
                        "use an image of the model's resolution")
    target = renderer.resolve_target(context.scene, props.target_names())
    answer = session.estimate(read_image(image))
    if answer.get("note"):  # a poor fit: shown in Preview, but the scene keeps its ball
        status.estimate = f"poor fit · {answer['psnr_db']:.1f} dB"
        raise UserError(f"{image.name}: {answer['note']}; the ball was left where it was")
    vector = [float(v) for v in answer["vector"]]
    renderer.apply_vector(target, vector)
    session.scene_vector = vector  # Follow Scene needs no new image: it is shown already
    status.show_preview_vector(vector)
    status.estimate = ", ".join(f"{v:.2f}" for v in vector) + f" · {answer['psnr_db']:.1f} dB"
    return (f"Estimated {', '.join(f'{n} {v:.3f}' for n, v in zip(VECTOR_FIELDS, vector))} from {image.name}: "
            f"the model's image fits it at {answer['psnr_db']:.1f} dB")


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
