"""Dataset generation as a job that renders one sample per step.

The same :class:`DatasetJob` serves every entry point: the CLI and an operator's
``execute()`` call :meth:`DatasetJob.run`; the panel's modal operator calls
:meth:`DatasetJob.step` once per timer tick so Blender redraws between frames.
This module never imports bpy: every Blender call goes through :mod:`.renderer`
(the scene is passed around as an opaque object), files through :mod:`.dataset_format`.
"""

from __future__ import annotations

import datetime
import io
import os
import shutil
import socket
import sys
import time
from dataclasses import replace
from typing import Callable

import numpy as np

from . import render_worker, renderer
from .. import scene_geometry, storage, view_lut
from ..architectures import default_resolution_problem
from ..dataset_card import CARD_NAME, ColourRecord, DatasetCard, DatasetIdentity, FilesRecord, RenderRecord
from ..dataset_format import (HF_METADATA_NAME, METADATA_NAME, SCENE_TABLE_NAMES, VECTORS_NAME, WORK_FOLDER,
                              DatasetFolder, PendingIndices, write_atomically)
from ..errors import UserError
from ..png_check import DamagedImage
from ..randomization import noise_seed, sample_vector
from ..processes.parallel import LocalRenderPool
from ..settings import GenerationSettings
from ..version import addon_version
from ..processes.workers import PACKAGE_NAME, addon_command, package_parent, pid_alive

TABLE_FLUSH_SECONDS = 2.0  # how stale metadata.json may get while rendering (rebuilt on resume anyway)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class DatasetJob:
    """Render the samples of ``settings`` still missing from its output folder.

    ``scene`` is a ``bpy.types.Scene``, handed to renderer.py only. Life cycle: ``start()``
    (validates, refuses incompatible folders, writes the card) → ``step()`` until
    :attr:`finished` → ``finish()``. ``finish()`` is also the clean way out of a cancel:
    tables and card are consistent with the images on disk, and the scene's object and
    colour are restored.
    """

    def __init__(self, scene, settings: GenerationSettings, quiet: bool = False):
        self.scene = scene
        self.settings = settings
        self.quiet = quiet
        self.folder = DatasetFolder(settings.out_dir)
        self.notes: list[str] = []
        self.pending = PendingIndices(range(0))
        self._folder_lost = False
        self.rendered_now = 0  # samples this job rendered (not counting earlier runs)
        self._vectors: dict[int, tuple] = {}
        self._noise_seeds: dict[int, int] = {}
        self._card: DatasetCard | None = None
        self._target = None
        self._original_vector = None
        self._started_at = 0.0
        self._last_flush = 0.0
        self._render_seconds = 0.0
        self._shard_total: int | None = None
        self._denoiser = "none"
        self._lock = None  # the folder's WriterLock while the job runs
        self._setup: renderer.RenderSetup | None = None

    # -- progress ---------------------------------------------------------
    @property
    def total(self) -> int:
        """Samples this job is responsible for: all N, or its shard's share."""
        return self._shard_total if self._shard_total is not None else self.settings.count

    @property
    def done(self) -> int:
        """Of :attr:`total`, how many are on disk."""
        if self.settings.shard_count == 1:
            return len(self._vectors)
        return sum(1 for i in self._vectors if self.settings.in_shard(i))

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
        """Validate everything and check the folder, the disk and the lock (UserError before anything
        is written), then write the card first — so any interrupted folder resumes — and the tables."""
        self.settings.validate()
        previous = self.folder.read_card()
        s = self.settings = _numbered_as(previous, self.settings)
        self._setup = renderer.prepare_render(self.scene, s, threads=s.threads or None)
        self._target, self._denoiser = self._setup.target, self._setup.denoiser
        self.notes.extend(self._setup.notes)
        problem = default_resolution_problem(s.resolution)
        if problem and problem not in self.notes:
            self.notes.append(problem)
        self._card = self._make_card(self._setup.denoiser, self._setup.device)
        self.folder.check_can_hold(self._card.identity, s.indices)
        owns = s.in_shard if s.shard_count > 1 else None
        if previous and previous.created_utc:
            self._card = replace(self._card, created_utc=previous.created_utc)
        finished, damaged = self.folder.verified_indices(s.resolution, owns)
        finished = {i for i in finished if i in s.indices}
        for index in sorted(finished):
            self._remember(index)
        self.pending = PendingIndices(s.indices, s.shard_index, s.shard_count, finished)
        self._shard_total = self.pending.total
        storage.check_space(self.folder.path, len(self.pending), s.resolution,
                            with_tables=not all(os.path.exists(self.folder.file(n)) for n in SCENE_TABLE_NAMES))
        self._lock = self.folder.lock(s.shard_index, s.shard_count)  # the first write into the folder
        try:
            self._prepare_folder(damaged, owns, fresh=previous is None)
        except BaseException:
            self._lock.release()
            self._lock = None
            raise
        self._started_at = time.monotonic()

    def _prepare_folder(self, damaged: dict[int, str], owns, fresh: bool) -> None:
        """With the lock held: drop damaged images and leftovers, write the card, then the tables."""
        for index in damaged:
            self.folder.discard_image(index)
        if damaged:
            first = min(damaged)
            self.notes.append(f"{len(damaged)} damaged image(s) found and rendered again "
                              f"(e.g. sample_{first}.png: {damaged[first]})")
        self.folder.prepare(owns=owns)
        self.folder.remove_stale_work(pid_alive)
        self._original_vector = renderer.read_vector(self._target)
        # The card before any other file: a run stopped from here on leaves a folder that resumes, and
        # a shard starting at the same moment sees a dataset, not tables without a card (foreign files).
        self.folder.write_card(self._card)
        self.flush()
        self._write_scene_tables(fresh=fresh)

    def _write_scene_tables(self, fresh: bool) -> None:
        """Bake, once per folder, what models that predict linear light use: the scene's view
        transform (view_lut) and what each pixel sees (scene_geometry). ``fresh``: the folder had
        no card, so tables found there (an older version's interrupted start) are baked anew."""
        path = self.folder.file(view_lut.LUT_FILE)
        if fresh or not os.path.exists(path):
            buffer = io.BytesIO()
            np.save(buffer, renderer.bake_view_transform(self.scene))
            write_atomically(path, buffer.getvalue())
        path = self.folder.file(scene_geometry.GEOMETRY_FILE)
        if fresh or not os.path.exists(path):
            write_atomically(path, renderer.bake_scene_geometry(self.scene, self._target).to_bytes())

    def step(self, timeout: float = 0.0) -> list[int]:
        """Make progress: here, render one sample. Returns the indices finished by this call."""
        index = self.render_next()
        return [] if index is None else [index]

    def render_next(self) -> int | None:
        """Render the lowest missing sample; returns its index, or None when none is left."""
        if not self.pending:
            return None
        self._check_folder()
        index = self.pending.first()
        vector = sample_vector(self.settings.seed, index, self.settings.vectors)
        began = time.monotonic()
        renderer.render_vector(self.scene, self._setup, vector, self.folder.temp_image_path(index),
                               noise_seed(self.settings.seed, index), quiet=self.quiet)
        self.folder.commit_image(index, self.settings.resolution)
        self._render_seconds += time.monotonic() - began
        self.rendered_now += 1
        self.pending.discard(index)
        self._remember(index, vector)
        if time.monotonic() - self._last_flush >= TABLE_FLUSH_SECONDS:
            self.flush()
        return index

    def _check_folder(self) -> None:
        """UserError when the dataset folder lost its card since start() wrote it: the folder was
        deleted or moved while rendering (Blender would make it again for the next image, and the
        tables would list images that are gone)."""
        if not os.path.isfile(self.folder.file(CARD_NAME)):
            self._folder_lost = True  # no table or card is written from here on (flush)
            raise UserError(f"the dataset folder {self.folder.path} was deleted or moved while generating "
                            "(its dataset.json is gone); stopped, nothing more written")

    def flush(self) -> None:
        """Rewrite metadata.json, vectors.csv and the card for the samples finished so far.

        A shard also lists what other shards (other processes or machines writing into the
        same folder) have finished: every writer writes the whole folder's tables. Nothing, once
        the folder was found deleted or moved (_check_folder): the tables would list images that are gone."""
        if self._folder_lost:
            return
        if self.settings.shard_count > 1:
            for index in self.folder.finished_indices() - set(self._vectors):
                if index in self.settings.indices:
                    self._remember(index)
        self.folder.write_tables(self._vectors, self._noise_seeds, self.settings.vectors.layout.names)
        self._card = self._card.with_progress(len(self._vectors), _now(), self.notes)
        self.folder.write_card(self._card)
        self._last_flush = time.monotonic()

    def finish(self) -> None:
        """Write final tables and card, give the scene back its original colour and position, and
        release the folder's lock. On a full disk the tables stay as they were: resume rebuilds them."""
        try:
            if self._card and self._lock is not None:
                self.flush()
        except OSError as err:
            if not storage.is_disk_full(err, self.folder.path, self.settings.resolution):
                raise
        finally:
            if self._original_vector is not None:
                renderer.apply_vector(self._target, self._original_vector)
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def explain(self, error: BaseException) -> UserError:
        """The one line a failure while generating gets: a full disk says how much more space the rest
        needs; another write error names the folder; a UserError stays as it is."""
        if storage.is_disk_full(error, self.folder.path, self.settings.resolution):
            return storage.disk_full_error(self.folder.path, max(len(self.pending), 1), self.settings.resolution)
        if isinstance(error, OSError):
            where = error.filename or self.folder.path
            return UserError(f"cannot write {where}: {error.strerror or error}")
        return error if isinstance(error, UserError) else UserError(str(error))

    def worker_summary(self) -> str:
        """', 2 workers (1 restarted after a crash)' for the CLI's last line; '' when serial."""
        return ""

    def run(self, on_progress: Callable[["DatasetJob", int], None] | None = None,
            should_stop: Callable[[], bool] | None = None, on_start: Callable[[], None] | None = None) -> None:
        """Start, render every missing sample (or until ``should_stop()``), finish. ``on_start()`` runs
        once the start has passed every check (folder, disk, lock), before the first image.

        Raises UserError (one line, see :meth:`explain`) for bad input, a full disk or a write error."""
        try:
            try:
                self.start()
                if on_start is not None:
                    on_start()
                while not self.finished:
                    if should_stop is not None and should_stop():
                        break
                    for index in self.step(timeout=0.5):
                        if on_progress is not None:
                            on_progress(self, index)
            finally:
                self.finish()
        except (OSError, UserError, DamagedImage) as err:
            raise self.explain(err) from None

    # -- helpers ----------------------------------------------------------
    def _remember(self, index: int, vector: tuple | None = None) -> None:
        self._vectors[index] = vector or sample_vector(self.settings.seed, index, self.settings.vectors)
        self._noise_seeds[index] = noise_seed(self.settings.seed, index)

    def _make_card(self, denoiser: str, device: str) -> DatasetCard:
        """The dataset card (dataset_card.py) for this run's settings, before any image."""
        s, now = self.settings, _now()
        colour = renderer.colour_management(self.scene)
        return DatasetCard(
            identity=_identity(s, denoiser, colour), count=s.count, addon_version=addon_version(),
            vector_fields=s.vectors.layout.names,
            blender_version=renderer.blender_version(), created_utc=now, updated_utc=now,
            render=RenderRecord(
                device=device, device_requested=s.device, denoiser_requested=s.denoiser, workers=s.workers,
                threads_per_worker=s.threads_per_worker() if s.workers > 1 else (s.threads or "auto"),
                recycle_every=s.recycle_every, adaptive_sampling=False, light_tree=False, file_format="PNG",
                color_mode="RGB", color_depth=8),
            color_management=ColourRecord(
                display_device=colour["display_device"], gamma=colour["gamma"],
                dither_intensity=colour["dither_intensity"], lut=view_lut.card_record()),
            scene=renderer.scene_facts(self.scene, self._target, s.blend_file),
            files=FilesRecord(images=f"sample_<i>.png, i = {s.indices.start} … {s.indices.stop - 1}",
                              metadata=METADATA_NAME, vectors=VECTORS_NAME,
                              huggingface_metadata=HF_METADATA_NAME, view_transform=view_lut.LUT_FILE,
                              geometry=scene_geometry.GEOMETRY_FILE,
                              noise_seed=f"column noise_seed of {VECTORS_NAME}, a function of (seed, index)"))


def _numbered_as(card: DatasetCard | None, settings: GenerationSettings) -> GenerationSettings:
    """``settings`` numbered as the folder's dataset (its card's numbering; a folder made before the
    seed's numbering counts from 0), so resuming or growing it never renumbers it."""
    if card is None or not card.has_identity() or card.identity.numbering() == settings.first_index:
        return settings
    return replace(settings, first_index=card.identity.numbering())


def _identity(s: GenerationSettings, denoiser: str, colour: dict) -> DatasetIdentity:
    """What the card says makes the dataset what it is (dataset_card.DatasetIdentity): the settings,
    the denoiser this Blender really used, and the scene's colour management (``colour``)."""
    with_denoiser = denoiser != "none"
    return DatasetIdentity(
        seed=s.seed, resolution=s.resolution, render_samples=s.samples, denoiser=denoiser,
        denoise_quality=s.denoise_quality if with_denoiser else None,
        denoise_prefilter=s.denoise_prefilter if with_denoiser else None,
        denoise_passes=s.denoise_passes if with_denoiser else None,
        sampling_pattern=s.sampling_pattern, engine="CYCLES", view_transform=colour["view_transform"],
        look=colour["look"], exposure=colour["exposure"], colour_scheme=s.vectors.colour_scheme,
        exclude_quadrant=s.vectors.exclude_quadrant, ranges=dict(s.vectors.ranges), object=s.target.object_name,
        material=s.target.material_name, node=s.target.node_name, first_index=s.first_index,
        layout=s.vectors.layout)


class ParallelDatasetJob(DatasetJob):
    """The same job, rendered by ``settings.workers`` background processes (parallel.LocalRenderPool).

    ``start()`` also saves a copy of the scene (as it is in memory, render settings
    included) for the workers to open; :meth:`step` collects what they finished and
    never blocks longer than its timeout, so a modal operator can call it every tick.
    """

    def __init__(self, scene, settings: GenerationSettings, quiet: bool = False):
        super().__init__(scene, settings, quiet)
        self.pool: LocalRenderPool | None = None
        self._work_dir: str | None = None

    def start(self) -> None:
        super().start()
        if not self.pending:
            return
        self._work_dir = os.path.join(self.folder.path, WORK_FOLDER, f"run-{socket.gethostname()}-{os.getpid()}")
        os.makedirs(self._work_dir, exist_ok=True)
        blend_copy = os.path.join(self._work_dir, "scene.blend")
        renderer.save_scene_copy(blend_copy)
        self.pool = self._make_pool(blend_copy)

    def _make_pool(self, blend_copy: str):
        """The pool of local worker processes that render ``self.pending`` from ``blend_copy``."""
        job_path = os.path.join(self._work_dir, "job.json")
        render_worker.write_job(job_path, self.settings, blend_copy, self.scene.name, self._denoiser,
                                self.settings.threads_per_worker())
        logs = os.path.join(self.folder.path, WORK_FOLDER, "logs")
        return LocalRenderPool(
            command=lambda slot: worker_command(job_path),
            indices=self.pending, workers=self.settings.workers,
            log_path=lambda slot: os.path.join(logs, f"worker-{socket.gethostname()}-{os.getpid()}-{slot}.log"),
            is_on_disk=lambda index: os.path.exists(self.folder.image_path(index)))

    def seconds_per_image(self) -> float | None:
        """Wall seconds per finished image over all workers (start-up included), or None before one."""
        if not self.rendered_now:
            return None
        return (time.monotonic() - self._started_at) / self.rendered_now

    def step(self, timeout: float = 0.0) -> list[int]:
        if self.pool is None:
            return []
        finished = [i for i in self.pool.poll(timeout) if i in self.pending]
        if finished:
            self._check_folder()
        for index in finished:
            self.pending.discard(index)
            self._remember(index)
            self.rendered_now += 1
        for note in self.pool.stats.notes:
            if note not in self.notes:
                self.notes.append(note)
        if time.monotonic() - self._last_flush >= TABLE_FLUSH_SECONDS:
            self.flush()
        return finished

    def _settle(self, index: int) -> None:
        """A sample a stopped worker held: committed after our last look (workers commit their own
        images, whole), it joins the tables and the card; otherwise its temporary image goes."""
        if index in self.pending and os.path.exists(self.folder.image_path(index)):
            self.pending.discard(index)
            self._remember(index)
            self.rendered_now += 1
        else:
            self.folder.discard_temp_image(index)

    def render_next(self) -> int | None:
        raise NotImplementedError("a parallel job advances with step()")

    def worker_label(self) -> str:
        return f"{self.settings.workers} worker{'s' if self.settings.workers != 1 else ''}"

    def worker_summary(self) -> str:
        if self.pool is None:
            return ""
        stats = self.pool.stats
        crashed = f", {stats.restarted_after_crash} restarted after a crash" if stats.restarted_after_crash else ""
        return (f"; {self.worker_label()}, {stats.started} processes "
                f"({stats.recycled} recycled{crashed}), peak {stats.peak_rss_mb:.0f} MiB each")

    def finish(self) -> None:
        if self.pool is not None:
            for index in self.pool.stop():  # the workers have ended: nothing writes these any more
                self._settle(index)
            stats = self.pool.stats
            self._card = self._card.with_render(worker_processes_started=stats.started,
                                                worker_restarts_after_crash=stats.restarted_after_crash)
            if stats.devices:
                self._card = self._card.with_render(device=", ".join(sorted(stats.devices)))
        if self._work_dir:
            shutil.rmtree(self._work_dir, ignore_errors=True)
        super().finish()


def worker_command(job_path: str) -> list[str]:
    """argv of one render worker: this Blender in background mode, or in the bpy module its Python."""
    code = (f"import sys; sys.path.insert(0, {package_parent()!r}); "
            f"from {PACKAGE_NAME}.blender.render_worker import serve; sys.exit(serve({job_path!r}))")
    return renderer.background_blender_argv(code) or addon_command(sys.executable, "render-worker", job_path)


def make_job(scene, settings: GenerationSettings, quiet: bool = False,
             background: bool = False) -> DatasetJob:
    """A job rendering in this process for one worker, or with worker processes for more.

    ``background``: always use worker processes, even one (the panel: Blender stays responsive)."""
    parallel = background or settings.workers > 1
    return (ParallelDatasetJob if parallel else DatasetJob)(scene, settings, quiet)
