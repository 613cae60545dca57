"""What a dataset generation run is asked to do, checked before anything is written. Blender-free.

The panel, ``python -m blendercnn_addon generate`` and ``blender -c blendercnn generate``
all build one :class:`GenerationSettings` and call :meth:`GenerationSettings.validate`,
so every entry point refuses bad input with the same message.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

from .errors import UserError
from .randomization import VectorSpec

MIN_RESOLUTION = 16
MAX_RESOLUTION = 4096
DENOISERS = ("none", "oidn", "optix", "auto")


@dataclass(frozen=True)
class SceneTarget:
    """Names of what a sample changes: the object moved in x, y and the node recoloured."""

    object_name: str = "Ball"
    material_name: str = "Glow"
    node_name: str = "Emission"

    def as_dict(self) -> dict:
        return {"object": self.object_name, "material": self.material_name, "node": self.node_name}


@dataclass(frozen=True)
class GenerationSettings:
    """One dataset run.

    out_dir: folder that receives sample_<i>.png, metadata.json, vectors.csv, dataset.json.
    count: number of samples N (indices 0 .. N-1), >= 1.
    resolution: square image side in pixels, 16 .. 4096.
    samples: Cycles path-tracing samples per pixel, >= 1.
    seed: dataset seed; vector and noise seed of sample i depend on (seed, i) only.
    denoiser: "none", "oidn" (OpenImageDenoise), "optix", or "auto" (best available).
    blend_file: optional .blend to open first; None means "set up the seed scene".
    """

    out_dir: str
    count: int = 10_000
    resolution: int = 256
    samples: int = 32
    seed: int = 0
    denoiser: str = "none"
    vectors: VectorSpec = field(default_factory=VectorSpec)
    target: SceneTarget = field(default_factory=SceneTarget)
    blend_file: str | None = None

    def validate(self) -> None:
        """Raise :class:`UserError` for the first problem found; touches no file."""
        if not self.out_dir:
            raise UserError("no output folder given")
        if self.count <= 0:
            raise UserError(f"count must be at least 1, got {self.count}")
        if not MIN_RESOLUTION <= self.resolution <= MAX_RESOLUTION:
            raise UserError(
                f"resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION} pixels, got {self.resolution}"
            )
        if self.samples <= 0:
            raise UserError(f"render samples must be at least 1, got {self.samples}")
        if self.seed < 0:
            raise UserError(f"seed must be 0 or more, got {self.seed}")
        if self.denoiser not in DENOISERS:
            raise UserError(f"unknown denoiser {self.denoiser!r}; choose one of {', '.join(DENOISERS)}")
        for label, name in (("object", self.target.object_name), ("material", self.target.material_name),
                            ("node", self.target.node_name)):
            if not name:
                raise UserError(f"no {label} name given")
        self.vectors.validate()
        if self.blend_file is not None:
            check_blend_file(self.blend_file)
        check_output_folder(self.out_dir)


def check_blend_file(path: str) -> None:
    """Refuse a --blend path that is missing, a folder, or not a .blend file (by its magic bytes)."""
    if not os.path.exists(path):
        raise UserError(f"blend file not found: {path}")
    if not os.path.isfile(path):
        raise UserError(f"blend file is not a file: {path}")
    with open(path, "rb") as handle:
        head = handle.read(7)
    # Blender files start with "BLENDER"; compressed ones with gzip or zstd magic bytes.
    if not (head.startswith(b"BLENDER") or head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd"):
        raise UserError(f"not a .blend file: {path}")


def check_output_folder(path: str) -> None:
    """Refuse an output path that is a file, or whose folder (or nearest existing parent) is not writable.

    Writability is probed with an anonymous temporary file that disappears at once,
    because ``os.access`` says yes to root even on read-only places.
    """
    if os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"output path is a file, not a folder: {path}")
    probe_dir = os.path.abspath(path)
    while not os.path.exists(probe_dir):
        parent = os.path.dirname(probe_dir)
        if parent == probe_dir:
            break
        probe_dir = parent
    if not os.path.isdir(probe_dir):
        raise UserError(f"output folder cannot be created: {probe_dir} is a file")
    try:
        with tempfile.TemporaryFile(dir=probe_dir):
            pass
    except OSError as err:
        raise UserError(f"output folder is not writable: {probe_dir} ({err.strerror})") from None
