"""The preview worker as a background session: what the Preview panel's image shows.

The model stays loaded in a persistent worker (``python -m blendercnn_addon serve``, ml/serve.py).
Moving a slider sends one predict request; while one is in flight only the newest
vector waits, so dragging never builds a queue. A worker that dies is restarted,
at most MAX_RESTARTS times per RESTART_WINDOW_S. Beside it: follow_scene.py (the ball's moves ask
for images), real_render.py (Render Real, Estimate from Image), evaluation_session.py. The
operators (operators/preview_ops.py) only start and stop these.
"""

from __future__ import annotations

import collections
import os
import tempfile
import time
from dataclasses import dataclass

import bpy
import numpy as np

from . import background, renderer
from .background import crash_message, log_path
from ..errors import UserError
from .images import (DIFFERENCE_IMAGE, PREVIEW_IMAGE, REAL_IMAGE, difference_pixels, read_image, show_in_image_editors,
                     write_image, write_rgba)
from ..metrics import psnr
from .preferences import tensorflow_python
from ..processes.frames import (FRAME_ENCODING, IMAGE_ENCODING, FrameFile, decode_pixels, encode_pixels,
                                 release_frame_file)
from ..processes.workers import ARRIVED_KEY, Worker, addon_command, wait_for_messages
from ..run_config import read_run_config
from ..run_folder import MODEL_NAME
from ..vector import DEFAULT_LAYOUT, VectorLayout

MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
TIMINGS_KEPT = 500  # per-image timings a session keeps (the window journey reads them)


def preview_status(context=None):
    """``window_manager.blendercnn_preview``: what the Preview panel shows."""
    return (context or bpy.context).window_manager.blendercnn_preview


def model_dir(context) -> str:
    """The Preview panel's Model folder, absolute ('' when empty)."""
    return run_folder(context.scene)


def run_folder(scene) -> str:
    """``scene``'s Model folder (the Preview panel's, the render engine's), absolute ('' when empty)."""
    props = scene.blendercnn
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

    def __init__(self, worker: Worker, run: str, python: str, vector: list[float] | None, frame_path: str,
                 restarts: list[float]):
        super().__init__(worker)
        self.run, self.python, self.frame_path = run, python, frame_path
        self.restarts = restarts  # when the worker of this model was restarted (time.monotonic), carried along
        self.ready = False
        self.closing = False
        self.next_id = 0
        self.frames: FrameFile | None = None
        self.in_flight: tuple[int, ShownImage] | None = None
        self.waiting: tuple[list[float], float] | None = (list(vector), time.perf_counter()) if vector else None
        self.shown: collections.deque[ShownImage] = collections.deque(maxlen=TIMINGS_KEPT)
        self.max_pending = 0
        self.scene_vector: list[float] | None = None  # the ball's vector last seen by follow_scene
        self.follow_paused = False  # the add-on itself moves the ball (Render Real): Follow Scene looks away
        self.model_seconds = -1.0  # the worker's own time for the last image
        self.layout = DEFAULT_LAYOUT  # the model's vector fields (load_preview sets them from its config)

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
        status = preview_status()
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
            image = write_image(PREVIEW_IMAGE, decode_pixels(message["pixels"], width, height), keep=False)
        else:
            preview_status().message = f"the preview worker sent pixels as {message.get('encoding')!r}"
            self._send_waiting()
            return
        show_in_image_editors(image)
        shown.shown = time.perf_counter()
        shown.pixels_s = shown.shown - shown.received
        shown.worker_s, shown.inference_s = float(message.get("seconds", 0.0)), float(message.get("inference_s", 0.0))
        shown.read, shown.arrived = float(message.get("read_at", 0.0)), float(message.get(ARRIVED_KEY, 0.0))
        self.shown.append(shown)
        self.model_seconds = shown.worker_s
        status = preview_status()
        status.latency_ms = shown.latency_ms
        status.message = ""
        compare_with_real(shown.vector)
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
            raise UserError(preview_status().message or "the preview worker sent no image")
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
        release_frame_file(self.frames, self.frame_path)
        self.frames = None

    def shutdown(self) -> None:
        self.closing = True
        self.worker.send({"command": "stop"})
        super().shutdown()
        self._release_frames()
        preview_status().state = "OFF"

    def on_exit(self, exit_code: int) -> None:
        self._release_frames()
        status = preview_status()
        if self.closing or status.state == "ERROR":
            status.state = "OFF" if self.closing else "ERROR"
            return
        now = time.monotonic()
        recent = [t for t in self.restarts if now - t < RESTART_WINDOW_S]
        error, _tail = crash_message("The preview worker", self.worker, exit_code)
        if len(recent) >= MAX_RESTARTS:
            status.state, status.message = "ERROR", f"{error} (gave up after {MAX_RESTARTS} restarts)"
            return
        vector = self.waiting[0] if self.waiting else (self.in_flight[1].vector if self.in_flight else None)
        status.state, status.message = "LOADING", f"{error}; restarting"
        background.start(start_worker(self.run, self.python, vector, restarts=[*recent, now], layout=self.layout))


def _frame_path() -> str:
    """A fresh frame file name in Blender's session temporary folder (removed when Blender exits)."""
    folder = bpy.app.tempdir or tempfile.gettempdir()
    return os.path.join(folder, f"blendercnn-preview-{os.getpid()}-{time.monotonic_ns()}.frame")


def start_worker(run: str, python: str, vector, restarts: list[float] | None = None,
                 layout: VectorLayout = DEFAULT_LAYOUT) -> PreviewSession:
    """A preview worker for ``run`` (whose vectors have ``layout``), asked for ``vector`` once ready;
    ``restarts``: the times its earlier workers were restarted (a new model starts with none)."""
    frame_path = _frame_path()
    worker = Worker(addon_command(python, "serve", "--model", run, "--frame-file", frame_path),
                    log_path=log_path("preview"))
    session = PreviewSession(worker, run, python, vector, frame_path, restarts or [])
    session.layout = layout
    session.scene_vector = scene_vector(bpy.context.scene, layout)  # Follow Scene reacts to changes from here on
    return session


def scene_vector(scene, layout: VectorLayout = DEFAULT_LAYOUT) -> list[float] | None:
    """The scene's vector of ``layout`` (the ball room's: the ball's emission colour and x, y; or the
    model's own parameters), or None when it cannot be read (no ball, a parameter that does not resolve)."""
    props = getattr(scene, "blendercnn", None)
    if props is None:
        return None
    try:
        return list(renderer.read_vector(renderer.resolve_target(scene, props.target_names(), layout,
                                                                 settable=False)))
    except UserError:
        return None


def request_preview(props) -> None:
    """Called when the panel's colour or X, Y changes (``props``: window_manager.blendercnn_preview):
    ask the running worker for a new image."""
    session = background.get("preview")
    if session is not None:
        session.request(props.preview_vector())


def compare_with_real(preview_vector: list[float] | None) -> None:
    """PSNR between Real and Preview when both show the same vector (``preview_vector``: the one
    Preview shows), and BlenderCNN Difference (|model - real| x 4) beside them."""
    real = bpy.data.images.get(REAL_IMAGE)
    preview = bpy.data.images.get(PREVIEW_IMAGE)
    status = preview_status()
    status.real_psnr = -1.0
    if real is None or preview is None or preview_vector is None or real.get("blendercnn_vector") is None:
        return
    if not np.allclose(list(real["blendercnn_vector"]), preview_vector, atol=1e-6):
        return
    real_pixels, preview_pixels = read_image(real), read_image(preview)
    if real_pixels.shape == preview_pixels.shape:
        status.real_psnr = min(psnr(real_pixels, preview_pixels), 99.0)
        write_image(DIFFERENCE_IMAGE, difference_pixels(preview_pixels, real_pixels))


def load_preview(context) -> str:
    """Start (or restart) the preview worker for the Preview panel's model; returns the run folder.
    UserError (nothing started) without a finished model or a TensorFlow Python."""
    run = model_dir(context)
    if not run:
        raise UserError("choose a trained run folder first (Model), or train one")
    config = read_run_config(run)
    if not os.path.isfile(os.path.join(run, MODEL_NAME)):
        raise UserError(f"{run} has no {MODEL_NAME} yet: no epoch of that run has finished")
    python = tensorflow_python(context)
    background.stop("preview")
    status = preview_status(context)
    status.state, status.model_dir, status.message = "LOADING", run, "Loading the model"
    status.resolution = config.resolution
    status.latency_ms = status.real_psnr = -1.0
    layout = config.layout
    status.parameter_names = "" if layout.is_default else ",".join(layout.names)
    status.parameter_colour_starts = ",".join(str(start) for start in layout.colours)
    if not layout.is_default:  # the fields start where the scene is (else mid-range)
        middle = [(a + b) / 2 for a, b in zip(config.vector_min or [0.0] * layout.size,
                                             config.vector_max or [0.0] * layout.size)]
        status.show_preview_vector(scene_vector(context.scene, layout) or middle)
    background.start(start_worker(run, python, status.preview_vector(), layout=layout))
    return run


