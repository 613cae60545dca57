"""How a worker's images travel to Blender: base64 text in a JSON line, or a memory-mapped frame file.
Blender-free, no TensorFlow (both ends use it: ml/serve.py writes, blender/preview_session.py reads).

- ``IMAGE_ENCODING`` ("uint8-rgb", any client): the image's R*R*3 bytes, top row first, base64.
- ``FRAME_ENCODING`` ("frame-file", the panel's fast path): :class:`FrameFile`, R*R*4 float32
  values, RGBA in [0, 1], bottom row first: as Blender stores pixels, so the mapped bytes go to
  ``Image.pixels.foreach_set`` as they are.
"""

from __future__ import annotations

import base64
import mmap
import os

import numpy as np

IMAGE_ENCODING = "uint8-rgb"
FRAME_ENCODING = "frame-file"


def encode_pixels(image: np.ndarray) -> str:
    """(R, R, 3) uint8 → base64 text."""
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")


def decode_pixels(text: str, width: int, height: int) -> np.ndarray:
    """base64 text → (height, width, 3) uint8, top row first."""
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8).reshape(height, width, 3)


def frame_bytes(width: int, height: int) -> int:
    """Size of a frame file: width × height RGBA float32."""
    return width * height * 4 * 4


class FrameFile:
    """A file mapped into memory that holds one RGBA float32 image, bottom row first (Blender's order)."""

    def __init__(self, path: str, width: int, height: int, create: bool):
        self.path, self.width, self.height = path, width, height
        size = frame_bytes(width, height)
        if create:
            with open(path, "wb") as handle:
                handle.truncate(size)
        self._file = open(path, "r+b")
        self._map = mmap.mmap(self._file.fileno(), size)
        self.pixels = np.frombuffer(self._map, dtype=np.float32, count=width * height * 4)  # a view

    def close(self) -> None:
        self.pixels = None  # the view must go before the map can close
        self._map.close()
        self._file.close()


def release_frame_file(frames: FrameFile | None, path: str) -> None:
    """Close ``frames`` (None: never opened) and delete the frame file at ``path`` (already gone: fine)."""
    if frames is not None:
        frames.close()
    try:
        os.remove(path)
    except OSError:
        pass
