"""Persistent inference worker for the panel's Preview. No bpy: runs in a subprocess.

Loads one trained run and answers requests on stdin, one JSON object per line:

    Blender → worker  {"command": "predict", "id": n, "vector": [r, g, b, x, y]}
                      {"command": "stop"}  (or stdin closing) ends the worker
    worker → Blender  {"event": "ready", "resolution": R, "device": "CPU", "vector_min": [5],
                       "vector_max": [5], "model": PATH}
                      {"event": "image", "id": n, "width": R, "height": R, "encoding": "uint8-rgb",
                       "pixels": BASE64, "seconds": f}
                      {"event": "error", "id": n, "message": str, "fatal": false}
                          a bad request: a vector that is not five numbers in range, an unknown
                          command, or a line that is not a JSON object (then "id" is null); the
                          worker goes on. Every non-empty line gets exactly one answer.
                      {"event": "error", "id": null, "message": str, "fatal": true}
                          the model cannot be loaded; the worker exits.

Pixels are the image's R*R*3 bytes, top row first, base64-encoded: about 262 kB
per line at 256², a few milliseconds to encode and decode.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from typing import IO

import numpy as np

from ..errors import UserError
from ..vector import VECTOR_SIZE, vector_from_json
from .inference import load_run, to_uint8
from ..protocol import JsonLinesWriter, decode

IMAGE_ENCODING = "uint8-rgb"


def encode_pixels(image: np.ndarray) -> str:
    """(R, R, 3) uint8 → base64 text."""
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")


def decode_pixels(text: str, width: int, height: int) -> np.ndarray:
    """base64 text → (height, width, 3) uint8, top row first."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(height, width, 3)


def serve(run: str, requests: IO[str] | None = None, report=None) -> int:
    """Answer predict requests until stop or end of input; returns an exit code (0)."""
    requests = requests or sys.stdin
    report = report or JsonLinesWriter()
    trained = load_run(run)
    model = trained.model
    warmup = np.zeros((1, VECTOR_SIZE), np.float32)
    model(warmup, training=False)  # build the graph once so the first real request is fast

    import tensorflow as tf

    report("ready", resolution=trained.resolution, model=run,
           code=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
           device="GPU" if tf.config.list_physical_devices("GPU") else "CPU",
           vector_min=trained.config.vector_min, vector_max=trained.config.vector_max)
    for line in requests:
        if not line.strip():
            continue
        message = decode(line)
        if message is None:
            report("error", id=None, fatal=False, message=f"not a JSON object: {line.strip()[:80]!r}")
            continue
        if message.get("command") == "stop":
            break
        if message.get("command") != "predict":
            report("error", id=message.get("id"), fatal=False, message=f"unknown command {message.get('command')!r}")
            continue
        started = time.perf_counter()
        try:
            vector = trained.checked_input(vector_from_json(message.get("vector")))
        except UserError as err:
            report("error", id=message.get("id"), fatal=False, message=str(err))
            continue
        image = to_uint8(np.asarray(model(vector[None], training=False))[0])
        report("image", id=message.get("id"), width=image.shape[1], height=image.shape[0],
               encoding=IMAGE_ENCODING, pixels=encode_pixels(image), seconds=time.perf_counter() - started)
    return 0
