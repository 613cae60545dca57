"""Dataset generation as a job that renders one sample per step.

The same :class:`DatasetJob` serves every entry point: the CLI and an operator's
``execute()`` call :meth:`DatasetJob.run`; the panel's modal operator calls
:meth:`DatasetJob.render_next` once per timer tick so Blender redraws between
frames. All bpy work goes through :mod:`.renderer`; files through :mod:`.dataset_format`.
"""

from __future__ import annotations

import datetime
import time
from typing import Callable

import bpy

from . import renderer
from .dataset_format import CARD_FORMAT, CARD_FORMAT_VERSION, DatasetFolder, missing_indices
from .randomization import VECTOR_FIELDS, noise_seed, sample_vector
from .settings import GenerationSettings
from .version import addon_version

TABLE_FLUSH_SECONDS = 2.0  # how stale metadata.json may get while rendering (rebuilt on resume anyway)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class DatasetJob:
    """Render the samples of ``settings`` still missing from its output folder.

    Life cycle: ``start()`` (validates, refuses incompatible folders, writes the
    card) → ``render_next()`` until it returns None → ``finish()``. ``finish()``
    is also the clean way out of a cancel: tables and card are consistent with
    the images on disk, and the scene's object and colour are restored.
    """

    def __init__(self, scene: bpy.types.Scene, settings: GenerationSettings, quiet: bool = False):
        self.scene = scene
        self.settings = settings
        self.quiet = quiet
        self.folder = DatasetFolder(settings.out_dir)
        self.notes: list[str] = []
        self.pending: list[int] = []
        self.rendered_now = 0  # samples this job rendered (not counting earlier runs)
        self._vectors: dict[int, tuple] = {}
        self._noise_seeds: dict[int, int] = {}
        self._card: dict = {}
        self._target = None
        self._original_vector = None
        self._started_at = 0.0
        self._last_flush = 0.0
        self._render_seconds = 0.0

    # -- progress ---------------------------------------------------------
    @property
    def total(self) -> int:
        return self.settings.count

    @property
    def done(self) -> int:
        return len(self._vectors)

    @property
    def finished(self) -> bool:
        return not self.pending

    def seconds_per_image(self) -> float | None:
        """Mean wall time of this job's renders, or None before the first one."""
        return self._render_seconds / self.rendered_now if self.rendered_now else None

    def eta_seconds(self) -> float | None:
        per_image = self.seconds_per_image()
        return None if per_image is None else per_image * len(self.pending)

    # -- life cycle -------------------------------------------------------
    def start(self) -> None:
        """Validate everything, then prepare the folder; raises UserError before writing anything."""
        self.settings.validate()
        self._target = renderer.resolve_target(self.scene, self.settings.target)
        denoiser, notes = renderer.resolve_denoiser(self.scene, self.settings.denoiser)
        self.notes.extend(notes)
        renderer.configure_render(self.scene, self.settings, denoiser)
        self._card = self._make_card(denoiser)
        self.folder.check_can_hold(self._card["identity"], self.settings.count)

        previous = self.folder.read_card()
        if previous:
            self._card["created_utc"] = previous.get("created_utc", self._card["created_utc"])
        self.folder.prepare()
        finished = {i for i in self.folder.finished_indices() if i < self.settings.count}
        for index in sorted(finished):
            self._remember(index)
        self.pending = missing_indices(self.settings.count, finished)
        self._original_vector = renderer.read_vector(self._target)
        self._started_at = time.monotonic()
        self.flush()

    def render_next(self) -> int | None:
        """Render the lowest missing sample; returns its index, or None when none is left."""
        if not self.pending:
            return None
        index = self.pending[0]
        vector = sample_vector(self.settings.seed, index, self.settings.vectors)
        renderer.apply_vector(self._target, vector)
        began = time.monotonic()
        renderer.render_still(self.scene, self.folder.temp_image_path(index),
                              noise_seed(self.settings.seed, index), quiet=self.quiet)
        self.folder.commit_image(index)
        self._render_seconds += time.monotonic() - began
        self.rendered_now += 1
        self.pending.pop(0)
        self._remember(index, vector)
        if time.monotonic() - self._last_flush >= TABLE_FLUSH_SECONDS:
            self.flush()
        return index

    def flush(self) -> None:
        """Rewrite metadata.json, vectors.csv and the card for the samples finished so far."""
        self.folder.write_tables(self._vectors, self._noise_seeds)
        self._card.update(finished=self.done, complete=self.finished, updated_utc=_now(), notes=self.notes)
        self.folder.write_card(self._card)
        self._last_flush = time.monotonic()

    def finish(self) -> None:
        """Write final tables and card, and give the scene back its original colour and position."""
        self.flush()
        if self._original_vector is not None:
            renderer.apply_vector(self._target, self._original_vector)

    def run(self, on_progress: Callable[["DatasetJob", int], None] | None = None,
            should_stop: Callable[[], bool] | None = None) -> None:
        """Start, render every missing sample (or until ``should_stop()``), finish."""
        self.start()
        try:
            while not self.finished:
                if should_stop is not None and should_stop():
                    break
                index = self.render_next()
                if on_progress is not None:
                    on_progress(self, index)
        finally:
            self.finish()

    # -- helpers ----------------------------------------------------------
    def _remember(self, index: int, vector: tuple | None = None) -> None:
        self._vectors[index] = vector or sample_vector(self.settings.seed, index, self.settings.vectors)
        self._noise_seeds[index] = noise_seed(self.settings.seed, index)

    def _make_card(self, denoiser: str) -> dict:
        """The dataset card. ``identity`` holds what must match for a run to resume into the folder."""
        s = self.settings
        colour = renderer.colour_management(self.scene)
        identity = {
            "seed": s.seed,
            "resolution": s.resolution,
            "render_samples": s.samples,
            "denoiser": denoiser,
            "engine": "CYCLES",
            "view_transform": colour["view_transform"],
            "look": colour["look"],
            "exposure": colour["exposure"],
            "colour_scheme": s.vectors.colour_scheme,
            "x_range": list(s.vectors.x_range),
            "y_range": list(s.vectors.y_range),
            "object": s.target.object_name,
            "material": s.target.material_name,
            "node": s.target.node_name,
        }
        return {
            "format": CARD_FORMAT,
            "format_version": CARD_FORMAT_VERSION,
            "identity": identity,
            "count": s.count,
            "finished": 0,
            "complete": False,
            "addon_version": addon_version(),
            "blender_version": bpy.app.version_string,
            "created_utc": _now(),
            "updated_utc": _now(),
            "render": {
                "engine": "CYCLES",
                "device": self.scene.cycles.device,
                "samples": s.samples,
                "adaptive_sampling": False,
                "light_tree": False,
                "denoiser": denoiser,
                "denoiser_requested": s.denoiser,
                "resolution": [s.resolution, s.resolution],
                "file_format": "PNG",
                "color_mode": "RGB",
                "color_depth": 8,
                "noise_seed": "per sample: column noise_seed of vectors.csv, a function of (seed, index)",
            },
            "color_management": colour,
            "randomization": {"seed": s.seed, **s.vectors.as_dict()},
            "vector_fields": list(VECTOR_FIELDS),
            "scene": {
                "blend_file": s.blend_file or bpy.data.filepath or None,
                "scene": self.scene.name,
                **s.target.as_dict(),
                "camera": self.scene.camera.name,
            },
            "files": {"images": "sample_<i>.png", "metadata": "metadata.json", "vectors": "vectors.csv"},
            "notes": [],
        }
