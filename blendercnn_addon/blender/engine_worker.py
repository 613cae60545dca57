"""The render engine's model: one ``serve`` worker, safe to use from any thread.

F12 and Render Animation call the engine on Blender's render thread, the viewport on the main
thread, so this worker is not a background.Session (whose messages only the main thread's timer
may hand out): whoever asks for an image drains its messages, under one lock. Nothing here writes
Blender data, so any thread may do that. Images arrive through a frame file as RGBA float32,
bottom row first (ml/serve.py), in the light asked for: LINEAR (scene-linear, for a render
result, which Blender shows through the scene's view transform) or VIEWPORT (the dataset's
display colours, sRGB-decoded: the 3D viewport encodes what an engine draws as sRGB). One request is in flight at a time (the frame file holds one image); only the newest
vector waits behind it, so a viewport drag never builds a queue.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass

import bpy
import numpy as np

from .background import crash_message, log_path
from ..errors import UserError
from ..processes.frames import FRAME_ENCODING, FrameFile, release_frame_file
from ..processes.workers import ARRIVED_KEY, Worker, addon_command, wait_for_messages
from ..run_config import model_path, read_run_config
from ..vector import DEFAULT_LAYOUT, VectorLayout

READY_TIMEOUT_S = 180.0  # loading TensorFlow and the model, on a slow machine with cold caches
IMAGE_TIMEOUT_S = 60.0


@dataclass
class EngineImage:
    """One image of the model: ``key`` (its light and numbers as asked for: request_key), ``pixels``
    (R*R*4 float32 RGBA, bottom row first, a copy), ``worker_s`` (the worker's own seconds for it) and
    ``arrived`` (time.perf_counter() when its answer reached this process)."""

    key: tuple
    pixels: np.ndarray
    worker_s: float
    arrived: float


LINEAR, VIEWPORT = "linear", "viewport"  # lights ml/serve.py draws in: the Render Result's, the viewport's


def request_key(vector, light: str) -> tuple:
    """What identifies one image: (light, the vector's numbers as floats)."""
    return (light, tuple(float(v) for v in vector))


class EngineWorker:
    """The worker for one model (``run``) in one TensorFlow Python (``python``)."""

    def __init__(self, run: str, python: str):
        self.run, self.python = run, python
        self._layout: VectorLayout | None = None
        self.model_stamp = _model_stamp(run)
        folder = bpy.app.tempdir or tempfile.gettempdir()
        self.frame_path = os.path.join(folder, f"blendercnn-engine-{os.getpid()}-{time.monotonic_ns()}.frame")
        self.worker = Worker(addon_command(python, "serve", "--model", run, "--frame-file", self.frame_path),
                             log_path=log_path("engine"))
        self.lock = threading.RLock()
        self.ready: dict | None = None  # the worker's "ready" message
        self.error = ""  # why the worker cannot serve at all (set once; the worker has ended)
        self.frames: FrameFile | None = None
        self.next_id = 0
        self.in_flight: tuple[int, tuple] | None = None  # (request id, request_key)
        self.waiting: tuple | None = None  # a request_key
        self.latest: EngineImage | None = None
        self.refused: tuple[tuple, str] | None = None  # the newest request the worker refused (its key), why

    # -- what it is ---------------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return int(self.ready["resolution"]) if self.ready else 0

    @property
    def layout(self) -> VectorLayout:
        """The model's vector fields (its run config's layout; the ball room's five when unreadable)."""
        if self._layout is None:
            try:
                self._layout = read_run_config(self.run).layout
            except (UserError, OSError):
                self._layout = DEFAULT_LAYOUT
        return self._layout

    @property
    def vector_range(self) -> tuple[list[float], list[float]]:
        """(minimum, maximum) of each field this model was trained on (its run config)."""
        return list(self.ready["vector_min"]), list(self.ready["vector_max"])

    def serves(self, run: str, python: str) -> bool:
        """Whether this worker is the one to ask for ``run``'s images (the same model file, still running)."""
        return (self.run, self.python) == (run, python) and self.model_stamp == _model_stamp(run) \
            and self.worker.exit_code is None and not self.error

    # -- messages (any thread, under the lock) --------------------------------------------------------
    def pump(self) -> bool:
        """Take the worker's answers; True when a new image arrived. Never blocks."""
        with self.lock:
            fresh = False
            for message in self.worker.messages():
                fresh = self._on_message(message) or fresh
            if self.worker.exit_code is not None and not self.error:
                for message in self.worker.messages():
                    self._on_message(message)
                self.error = self.error or crash_message("BlenderCNN's model worker", self.worker,
                                                         self.worker.exit_code)[0]
                self.in_flight = None
            self._send_waiting()
            return fresh

    def _on_message(self, message: dict) -> bool:
        event = message.get("event")
        if event == "ready":
            self.ready = message
            self.frames = FrameFile(message["frame_file"], self.resolution, self.resolution, create=False)
        elif event == "error" and message.get("fatal"):
            self.error = message.get("message", "the model could not be loaded")
        elif self.in_flight is None or message.get("id") != self.in_flight[0]:
            return False
        elif event == "error":
            self.refused = (self.in_flight[1], message.get("message", "the model refused the vector"))
            self.in_flight = None
        elif event == "image" and message.get("encoding") == FRAME_ENCODING and self.frames is not None:
            self.latest = EngineImage(self.in_flight[1], np.array(self.frames.pixels), float(message["seconds"]),
                                      float(message.get(ARRIVED_KEY, time.perf_counter())))
            self.in_flight = None
            return True
        return False

    def _send_waiting(self) -> None:
        if self.ready is None or self.in_flight is not None or self.waiting is None or self.error:
            return
        self.next_id += 1
        self.in_flight, self.waiting = (self.next_id, self.waiting), None
        light, vector = self.in_flight[1]
        self.worker.send({"command": "predict", "id": self.next_id, "vector": list(vector), "light": light})

    # -- asking ---------------------------------------------------------------------------------------
    def request(self, vector, light: str) -> None:
        """Ask for ``vector``'s image in ``light`` without waiting (newest wins); pump() or image_for()
        collects it."""
        key = request_key(vector, light)
        with self.lock:
            if (self.latest and self.latest.key == key) or (self.in_flight and self.in_flight[1] == key):
                self.waiting = None
            else:
                self.waiting = key
            self._send_waiting()

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        """Block until the model is loaded; UserError if it cannot be, or not within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if self.error:
                raise UserError(self.error)
            if self.ready is not None:
                return
            if time.monotonic() > deadline:
                raise UserError(f"BlenderCNN's model worker did not load {self.run} within {timeout:.0f} s")
            wait_for_messages(0.01)

    def image_for(self, vector, light: str, timeout: float = IMAGE_TIMEOUT_S) -> EngineImage:
        """Block until the image of exactly ``vector`` in ``light`` is here and return it. UserError with
        the worker's own line when it refuses the vector (outside the trained range), when it stopped,
        or after ``timeout`` seconds."""
        key = request_key(vector, light)
        self.wait_ready()
        self.request(vector, light)
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            with self.lock:
                if self.latest is not None and self.latest.key == key:
                    return self.latest
                if self.refused is not None and self.refused[0] == key:
                    raise UserError(self.refused[1])
                if self.error:
                    raise UserError(self.error)
                if self.in_flight is None and self.waiting is None:
                    self.request(vector, light)  # another caller's newer vector took its place: ask again
            if time.monotonic() > deadline:
                raise UserError(f"BlenderCNN's model worker sent no image within {timeout:.0f} s")
            wait_for_messages(0.002)

    def close(self) -> None:
        with self.lock:
            self.worker.send({"command": "stop"})
            self.worker.close(timeout=3.0)
            release_frame_file(self.frames, self.frame_path)
            self.frames = None


def _model_stamp(run: str) -> float:
    """When the run's model file last changed (a retrained model loads anew); 0 without one."""
    try:
        return os.path.getmtime(model_path(run))
    except OSError:
        return 0.0


_worker: EngineWorker | None = None
_worker_lock = threading.Lock()


def engine_worker(run: str, python: str) -> EngineWorker:
    """The running worker for ``run`` in ``python``, started (or restarted: another model, a model file
    trained again, a worker that ended) as needed. Does not wait for it to load."""
    global _worker
    with _worker_lock:
        if _worker is not None and _worker.serves(run, python):
            return _worker
        if _worker is not None:
            _worker.close()
        _worker = EngineWorker(run, python)
        return _worker


def current() -> EngineWorker | None:
    """The worker, if one was started and has not been stopped."""
    return _worker


def stop() -> None:
    """End the worker (a file loads, the add-on unregisters)."""
    global _worker
    with _worker_lock:
        if _worker is not None:
            _worker.close()
            _worker = None
