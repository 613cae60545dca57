"""Persistent inference worker for the panel's Preview. No bpy: runs in a subprocess.

Loads one trained run, compiles its forward pass once (a traced ``tf.function`` for one
vector: a Keras model called eagerly costs ≈ 15× more per image) and answers requests on
stdin, one JSON object per line:

    Blender → worker  {"command": "predict", "id": n, "vector": [r, g, b, x, y], "light": LIGHT}
                          ("light" optional: "display", "linear" or "viewport", default the worker's --light)
                      {"command": "stop"}  (or stdin closing) ends the worker
                      {"command": "invert", "id": n, "width": W, "height": H, "pixels": BASE64}
                          a picture (uint8 RGB, top row first): the vector the model draws as it
                          (ml/invert.py); the model's image of that vector is sent like a predict's
    worker → Blender  {"event": "ready", "resolution": R, "device": "CPU", "vector_min": [5],
                       "vector_max": [5], "model": PATH, "frame_file": PATH or null,
                       "light": "display" | "linear", "linear_from": "model" | "srgb" | null}
                      {"event": "image", "id": n, "width": R, "height": R, "encoding": ENCODING,
                       "seconds": f, "inference_s": f, "read_at": f, ...}   (read_at: the worker's
                       time.perf_counter() when it read the request; seconds from then to the answer)
                      {"event": "estimate", "id": n, "vector": [5], "psnr_db": f, "mask_psnr_db": f,
                       "note": str or null, "seconds": f}   then the fitted image, as an "image" line
                      {"event": "error", "id": n, "message": str, "fatal": false}
                          a bad request: a vector that is not five numbers in range, an unknown
                          command, or a line that is not a JSON object (then "id" is null); the
                          worker goes on. Every non-empty line gets exactly one answer.
                      {"event": "error", "id": null, "message": str, "fatal": true}
                          the model cannot be loaded; the worker exits.

``serve --light linear`` (the render engine) writes scene-linear RGB into the frame file instead
of display colours (see compile_forward).

Two ways the pixels travel, by ENCODING:

- ``"uint8-rgb"`` (the default, for any client): "pixels" holds the image's R*R*3 bytes, top
  row first, base64-encoded (≈ 262 kB of text per line at 256²).
- ``"frame-file"`` (``serve --frame-file PATH``, what the panel uses): the worker keeps PATH
  memory-mapped, R*R*4 float32 values long, and writes each image there as Blender stores
  pixels — RGBA in [0, 1], bottom row first — before it sends the (small) "image" line, so
  Blender hands the mapped bytes to ``Image.pixels.foreach_set`` as they are. One request is in
  flight at a time (the panel waits for each answer), so a frame is never overwritten while read.
"""

from __future__ import annotations

import sys
import time
from typing import IO

import numpy as np

from ..errors import UserError
from ..processes.workers import PACKAGE_DIR
from ..processes.frames import FRAME_ENCODING, IMAGE_ENCODING, FrameFile, decode_pixels, encode_pixels
from ..processes.protocol import JsonLinesWriter, decode
from .inference import load_run, to_uint8

DISPLAY, LINEAR, VIEWPORT = "display", "linear", "viewport"
LIGHTS = (DISPLAY, LINEAR, VIEWPORT)


def scene_linear_model(model):
    """(keras model vector → (batch, R, R, 3) scene-linear RGB, where it comes from).

    ``"model"``: radiance (and field, for light colours) computes linear light before its view-transform table
    (models.LINEAR_LAYER): that layer's output, HDR, the table left out — exact and cheaper.
    ``"srgb"``: a model that draws display colours only (seed): its image, to be read as sRGB
    (exact under Blender's Standard view transform, an approximation under Filmic or AgX)."""
    import keras

    from .models import LINEAR_LAYER

    try:
        return keras.Model(model.input, model.get_layer(LINEAR_LAYER).output), "model"
    except ValueError:  # no such layer
        return model, "srgb"


def compile_forward(model, resolution: int, rgba_bottom_up: bool, light: str = DISPLAY):
    """The model's forward pass for one vector, traced once by TensorFlow. (XLA on the whole pass
    was tried: no faster, 17.0 ms per 256² radiance image either way on 2 CPU cores, and slower
    to load; the per-pixel layers fuse themselves, models._FusedCall: 17.7 → 9.8 ms.)

    Returns f(vector (1, N) float32, N the model's input size) → (R, R, 4) float32 RGBA bottom row first
    (``rgba_bottom_up``) or (R, R, 3) float32 RGB top row first. ``light``: DISPLAY, values in
    [0, 1] as the dataset's PNGs; LINEAR, scene-linear RGB ≥ 0 (what a render engine hands
    Blender, which applies the scene's view transform; see scene_linear_model); VIEWPORT, the
    display colours with the sRGB transfer function undone (Blender's 3D viewport encodes what an
    engine draws as sRGB when it shows it: measured in the window, a display image drawn as it is
    came out 2.5x too bright)."""
    import tensorflow as tf

    source = "srgb" if light == VIEWPORT else "display"
    if light == LINEAR:
        model, source = scene_linear_model(model)

    size = int(model.input_shape[-1])

    @tf.function(input_signature=[tf.TensorSpec((1, size), tf.float32)])
    def forward(vector):
        image = model(vector, training=False)[0]  # (R, R, 3), top row first
        if source == "srgb":  # the sRGB transfer function undone: display → linear
            image = tf.where(image <= 0.04045, image / 12.92, tf.pow((image + 0.055) / 1.055, 2.4))
        if not rgba_bottom_up:
            return image
        flipped = tf.reverse(image, axis=[0])
        return tf.concat([flipped, tf.ones_like(flipped[..., :1])], axis=-1)

    forward(tf.zeros((1, size), tf.float32))  # trace now, so the first request is fast
    return forward


# The worker runs beside Blender, which draws its window on the same cores while an image is
# computed. One thread per operation (two operations at once) loses nothing when the cores are
# free and keeps an operation from waiting on a thread the system has given to Blender.
# Measured, radiance 256² on 2 cores, p50 / p95 ms: idle 20.3 / 26.2 → 20.7 / 24.4; one core
# busy 27.9 / 34.5 → 23.5 / 27.2; both busy 40.7 / 47.9 → 32.9 / 40.0; inversion at 64²
# 1.38 → 1.19 s per image.
INTRA_OP_THREADS = 1
INTER_OP_THREADS = 2


def share_cores_with_blender() -> None:
    """Set TensorFlow's thread pools for a worker beside Blender (before TensorFlow runs anything;
    a process where it already ran keeps its pools)."""
    from .tensorflow_import import import_tensorflow_quietly

    tf = import_tensorflow_quietly()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(INTRA_OP_THREADS)
        tf.config.threading.set_inter_op_parallelism_threads(INTER_OP_THREADS)
    except RuntimeError:  # TensorFlow is already running in this process (a test calling serve())
        pass


def serve(run: str, requests: IO[str] | None = None, report=None, frame_path: str | None = None,
          light: str = DISPLAY) -> int:
    """Answer predict requests until stop or end of input; returns an exit code (0).

    ``frame_path``: write images into this frame file (created, R*R*16 bytes) instead of base64 lines.
    ``light``: DISPLAY images (the panel's Preview) or scene-LINEAR ones (the render engine; needs
    ``frame_path``: 8-bit base64 pixels cannot carry them)."""
    if light not in LIGHTS:
        raise UserError(f"light must be one of {', '.join(LIGHTS)}, got {light!r}")
    if light == LINEAR and frame_path is None:
        raise UserError("linear light travels through a frame file only (--frame-file)")
    requests = requests or sys.stdin
    report = report or JsonLinesWriter()
    share_cores_with_blender()
    trained = load_run(run)
    resolution = trained.resolution
    forwards = Forwards(trained.model, resolution, rgba_bottom_up=frame_path is not None, default=light)
    linear_from = scene_linear_model(trained.model)[1] if frame_path else None  # what a linear request gets
    try:
        frames = FrameFile(frame_path, resolution, resolution, create=True) if frame_path else None
    except OSError as err:  # a missing folder, no permission, a full disk: fatal, and said as such
        raise UserError(f"cannot create the frame file {frame_path} ({err.strerror or err})") from None

    import tensorflow as tf

    report("ready", resolution=resolution, model=run, frame_file=frame_path, light=light, linear_from=linear_from,
           code=PACKAGE_DIR,
           device="GPU" if tf.config.list_physical_devices("GPU") else "CPU",
           vector_min=trained.config.vector_min, vector_max=trained.config.vector_max)
    try:
        for line in requests:
            if not line.strip():
                continue
            message = decode(line)
            if message is not None and message.get("command") == "stop":
                break
            try:
                _answer(line, message, trained, forwards, frames, report)
            except Exception as err:  # noqa: BLE001 - a request no check foresaw: its answer, and serve on
                report("error", id=_request_id(message), fatal=False,
                       message=f"the request failed: {type(err).__name__}: {str(err)[:200]}")
    finally:
        if frames is not None:
            frames.close()
    return 0


class Forwards:
    """The compiled forward pass of each light a request may ask for (``"light"``: DISPLAY or LINEAR,
    ``default`` when it does not say); the default's is compiled now, another on its first request."""

    def __init__(self, model, resolution: int, rgba_bottom_up: bool, default: str):
        self.model, self.resolution, self.rgba_bottom_up, self.default = model, resolution, rgba_bottom_up, default
        self.compiled = {default: compile_forward(model, resolution, rgba_bottom_up, default)}

    def of(self, message: dict):
        """The forward pass for the request ``message``; UserError for an unknown light, or linear
        light without a frame file."""
        light = message.get("light", self.default)
        if light not in LIGHTS:
            raise UserError(f"light must be one of {', '.join(LIGHTS)}, got {light!r}")
        if light != DISPLAY and not self.rgba_bottom_up:
            raise UserError(f"{light} light travels through a frame file only (--frame-file)")
        if light not in self.compiled:
            self.compiled[light] = compile_forward(self.model, self.resolution, self.rgba_bottom_up, light)
        return self.compiled[light]


def _request_id(message: dict | None):
    """The request's id as sent (None when there is none, or it cannot be sent back as JSON)."""
    request_id = message.get("id") if isinstance(message, dict) else None
    return request_id if isinstance(request_id, (int, float, str, bool, type(None))) else None


def _answer_invert(message: dict, trained, frames: FrameFile | None, report) -> None:
    """An "invert" request: the estimate, then the model's image of it (as a predict's answer)."""
    from .invert import invert, judge

    request_id = message.get("id")
    try:
        picture = decode_pixels(str(message.get("pixels", "")), int(message["width"]), int(message["height"]))
        estimate = invert(trained, picture)
    except (KeyError, TypeError, ValueError, OverflowError) as err:  # OverflowError: a width of 1e400
        report("error", id=request_id, fatal=False, message=f"not a picture: {err}")
        return
    except UserError as err:
        report("error", id=request_id, fatal=False, message=str(err))
        return
    report("estimate", id=request_id, vector=[float(v) for v in estimate.vector], psnr_db=estimate.psnr_db,
           mask_psnr_db=estimate.mask_psnr_db, note=judge(estimate), seconds=estimate.seconds)
    size = {"width": trained.resolution, "height": trained.resolution}
    if frames is not None:
        rgba = np.concatenate([estimate.image[::-1].astype(np.float32) / 255.0,
                               np.ones((*estimate.image.shape[:2], 1), np.float32)], axis=-1)
        frames.pixels[:] = rgba.reshape(-1)
        report("image", id=request_id, encoding=FRAME_ENCODING, **size, seconds=estimate.seconds, inference_s=0.0)
    else:
        report("image", id=request_id, encoding=IMAGE_ENCODING, pixels=encode_pixels(estimate.image), **size,
               seconds=estimate.seconds, inference_s=0.0)


def _answer(line: str, message: dict | None, trained, forwards: Forwards, frames: FrameFile | None, report) -> None:
    """The one answer to one request line (``message``: the line decoded, None if it is not JSON)."""
    if message is None:
        report("error", id=None, fatal=False, message=f"not a JSON object: {line.strip()[:80]!r}")
        return
    command, request_id = message.get("command"), message.get("id")
    if command == "invert":
        _answer_invert(message, trained, frames, report)
        return
    if command != "predict":
        report("error", id=request_id, fatal=False, message=f"unknown command {command!r}")
        return
    started = time.perf_counter()  # the request line has just been read
    try:
        vector = trained.checked_input(trained.config.layout.from_json(message.get("vector")))
        compiled = forwards.of(message)
    except UserError as err:
        report("error", id=request_id, fatal=False, message=str(err))
        return
    image = compiled(vector[None]).numpy()
    inferred = time.perf_counter()
    size = {"width": trained.resolution, "height": trained.resolution}
    if frames is not None:
        frames.pixels[:] = image.reshape(-1)
        report("image", id=request_id, encoding=FRAME_ENCODING, **size, seconds=time.perf_counter() - started,
               inference_s=inferred - started, read_at=started)
    else:
        report("image", id=request_id, encoding=IMAGE_ENCODING, pixels=encode_pixels(to_uint8(image)), **size,
               seconds=time.perf_counter() - started, inference_s=inferred - started, read_at=started)
