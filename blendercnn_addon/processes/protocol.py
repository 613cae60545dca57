"""Newline-delimited JSON between a coordinator and its worker processes. Blender-free, no TensorFlow.

Every worker the add-on starts speaks it: render workers (render_worker.py, for dataset
generation), and the training, preview (ml/serve.py), evaluation and environment workers that
Blender starts. Each kind documents its own events where it is written; training's are these.

Training worker → Blender, one object per stdout line, always with an ``event`` key:
    {"event": "start", "epochs": E, "batches": B, "device": "CPU", "run": DIR, "code": PACKAGE_DIR, ...}
    {"event": "batch", "epoch": e, "batch": b, "batches": B, "loss": f}
    {"event": "waiting", "images": n, "needed": m, "waited_s": f}   (train --follow: before the
     first epoch, while generate has finished fewer than m images)
    {"event": "epoch", "epoch": e, "epochs": E, "loss": f, "val_loss": f, "val_psnr": f, "lr": f,
     "elapsed_s": f, "eta_s": f, "until": "epochs"|"plateau"|"budget", "until_plateau": bool,
     "train_samples": n, "validation_samples": m, "growing": bool}
     (eta_s: seconds until what ends the run first — the last epoch, where early stopping is expected
     (until_plateau), or the time budget; never beyond the budget)
     (growing: generate was still writing the dataset when the epoch began)
    {"event": "done", "stopped_early": bool, "cancelled": bool, "best_val_loss": f, "model": PATH}
    {"event": "error", "message": str}
Blender → worker, one object per stdin line, with a ``command`` key:
    {"command": "stop"}   finish the current batch, keep the best checkpoint, exit
Epochs and batches count from 1. Losses are mean squared error on [0, 1] pixels.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from typing import IO, Callable


def encode(message: dict) -> str:
    """One line of JSON (no NaN: non-finite floats become null)."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in message.items()}
    return json.dumps(clean, separators=(",", ":")) + "\n"


def decode(line: str) -> dict | None:
    """The object on ``line``, or None when the line is not a protocol message (e.g. a TF log line)."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # RecursionError: brackets nested deeper than Python's stack
        return None
    return message if isinstance(message, dict) else None


class JsonLinesWriter:
    """Sends events to ``stream`` (stdout by default), flushed at once so the reader sees them live."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: str, **fields) -> None:
        with self._lock:
            self.stream.write(encode({"event": event, **fields}))
            self.stream.flush()


def watch_for_stop(stream: IO[str], on_stop: Callable[[], None]) -> threading.Thread:
    """Call ``on_stop`` when a {"command": "stop"} line arrives on ``stream``, or when it closes.

    A closed stdin means the parent (Blender) is gone, so stopping is right then too.
    """
    def read() -> None:
        for line in stream:
            message = decode(line)
            if message and message.get("command") == "stop":
                break
        on_stop()

    thread = threading.Thread(target=read, name="stop-watcher", daemon=True)
    thread.start()
    return thread
