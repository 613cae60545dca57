"""``generate --backend ray``: render on a Ray cluster, merge into one dataset folder here.

Ray is optional: only this module imports it, and only when asked for. Each Ray actor
is a render process (render_worker.SceneRenderer) that opens the scene from bytes sent
with it, so cluster nodes need no shared filesystem: they return each sample as PNG
bytes, and the coordinator (this process) commits it into the folder with the same
rule as local workers (complete temporary file, then rename). Resume, shards and the
dataset card therefore behave exactly as with local workers.

The pool has :class:`.parallel.LocalRenderPool`'s interface (``poll``, ``done``,
``stop``, ``stats``): a dead actor (node lost, process killed) is replaced and its
sample re-rendered; an actor is replaced after ``recycle_every`` images.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import socket
import tempfile

import bpy

from ..dataset_format import DatasetFolder
from ..errors import UserError
from .generator import ParallelDatasetJob
from ..processes.parallel import IN_FLIGHT_PER_WORKER, MAX_ATTEMPTS, IndexQueue, PoolStats
from ..png_check import DamagedImage
from ..processes.workers import PACKAGE_DIR
from ..settings import GenerationSettings


LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": Ray's single-machine mode, every port on 127.0.0.1


def check_ray(address: str | None) -> None:
    """Raise a readable UserError when Ray is not installed. Without an ``address`` (a cluster
    started here), first put Ray in single-machine mode — on Linux its ports otherwise listen on
    every interface — and give that cluster a token that lives only in this process's
    environment: Ray would otherwise write one into ~/.ray, outside the folders the user named."""
    if address is None:
        os.environ.setdefault(LOCAL_ONLY_ENV, "0")  # read by Ray when it is imported
        if not any(os.environ.get(name) for name in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
            os.environ.setdefault("RAY_AUTH_MODE", "token")
            os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError("--backend ray needs Ray in this Python: pip install ray (or use --backend local)") from None


def check_reachable(address: str | None, timeout_s: float = 5.0) -> None:
    """Fail fast with a readable UserError when a HOST:PORT cluster address does not answer
    (ray.init would retry for minutes)."""
    if not address or ":" not in address or address.startswith(("ray://", "auto")):
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            pass
    except (OSError, ValueError) as err:
        raise UserError(f"cannot reach the Ray cluster at {address} ({err})") from None


class RenderActor:
    """Runs in a Ray worker process: one scene, many renders."""

    def __init__(self, job: dict, blend: bytes):
        from .render_worker import SceneRenderer, resident_mb

        handle, path = tempfile.mkstemp(suffix=".blend", prefix="blendercnn-ray-")
        with os.fdopen(handle, "wb") as out:
            out.write(blend)
        self._renderer = SceneRenderer({**job, "blend": path})
        self._resident_mb = resident_mb
        os.remove(path)

    def info(self) -> dict:
        return {"device": self._renderer.device, "notes": self._renderer.notes, "host": socket.gethostname(),
                "pid": os.getpid()}

    def render(self, index: int) -> tuple[int, bytes, float, float]:
        """(index, PNG bytes, seconds, resident MiB after the render)."""
        png, seconds = self._renderer.render_to_bytes(index)
        return index, png, seconds, self._resident_mb()


class RayRenderPool:
    """``actors`` Ray actors fed from one queue of indices; results committed into ``folder``."""

    def __init__(self, job: dict, blend: bytes, indices: list[int], actors: int, threads: int,
                 recycle_every: int, folder: DatasetFolder):
        import ray

        self._ray = ray
        self._remote = ray.remote(num_cpus=threads, max_restarts=0)(RenderActor)
        self._job = job
        self._blend = ray.put(blend)
        self._folder = folder
        self._recycle_every = recycle_every
        self._queue = IndexQueue(indices)
        self._attempts: collections.Counter = collections.Counter()
        self._in_flight: dict = {}  # object ref -> (actor slot, index)
        self._actors: dict[int, list] = {}  # slot -> [actor handle, images sent to it]
        self.stats = PoolStats()
        for slot in range(max(1, min(actors, len(indices)))):
            self._spawn(slot)

    @property
    def done(self) -> bool:
        return not self._queue and not self._in_flight

    def _spawn(self, slot: int) -> None:
        actor = self._remote.remote(self._job, self._blend)
        self._actors[slot] = [actor, 0]
        self.stats.started += 1
        self._feed(slot)

    def _feed(self, slot: int) -> None:
        actor, sent = self._actors[slot]
        busy = sum(1 for s, _ in self._in_flight.values() if s == slot)
        while self._queue and busy < IN_FLIGHT_PER_WORKER and sent < self._recycle_every:
            index = self._queue.popleft()
            self._in_flight[actor.render.remote(index)] = (slot, index)
            busy += 1
            sent += 1
        self._actors[slot][1] = sent

    def poll(self, timeout: float = 0.0) -> list[int]:
        """Indices committed since the last call; waits up to ``timeout`` seconds for one."""
        if not self._in_flight:
            return []
        ready, _ = self._ray.wait(list(self._in_flight), num_returns=len(self._in_flight), timeout=timeout)
        finished = []
        for ref in ready:
            slot, index = self._in_flight.pop(ref)
            try:
                _, png, _seconds, rss = self._ray.get(ref)
            except (self._ray.exceptions.RayActorError, self._ray.exceptions.RayTaskError) as err:
                self._lost(slot, index, err)
                continue
            try:
                self._commit(index, png)
            except DamagedImage as err:  # never committed: rendered again on a fresh actor
                self._lost(slot, index, err)
                continue
            finished.append(index)
            self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, rss)
            self._after_image(slot)
        return finished

    def _commit(self, index: int, png: bytes) -> None:
        with open(self._folder.temp_image_path(index), "wb") as handle:
            handle.write(png)
        self._folder.commit_image(index, self._job["settings"]["resolution"])

    def _after_image(self, slot: int) -> None:
        actor, sent = self._actors[slot]
        if self.stats.devices == set():
            info = self._ray.get(actor.info.remote())
            self.stats.devices.add(f"{info['device']} ({info['host']})")
            self.stats.notes.extend(info["notes"])
        busy = any(s == slot for s, _ in self._in_flight.values())
        if sent >= self._recycle_every and not busy:  # recycled: a fresh process takes over
            self._ray.kill(actor)
            self.stats.recycled += 1
            if self._queue:
                self._spawn(slot)
            else:
                del self._actors[slot]
        else:
            self._feed(slot)

    def _lost(self, slot: int, index: int, err: Exception) -> None:
        """An actor died (or its render raised): its sample goes back to the queue, a new actor starts."""
        self._attempts[index] += 1
        if self._attempts[index] >= MAX_ATTEMPTS:
            self.stop()
            raise UserError(f"sample {index} failed on {MAX_ATTEMPTS} Ray actors: {str(err).splitlines()[0]}")
        self._queue.appendleft(index)
        if slot in self._actors:
            lost_actor = self._actors.pop(slot)[0]
            for ref, (s, other) in list(self._in_flight.items()):
                if s == slot:  # the rest of what that actor held
                    del self._in_flight[ref]
                    self._queue.appendleft(other)
            self._ray.kill(lost_actor)
            self.stats.restarted_after_crash += 1
            self._spawn(slot)

    def stop(self) -> list[int]:
        """Kill every actor; returns the indices they held (as ParallelPool.stop)."""
        held = [index for _slot, index in self._in_flight.values()]
        for actor, _ in self._actors.values():
            self._ray.kill(actor)
        self._actors.clear()
        self._in_flight.clear()
        return held


class RayDatasetJob(ParallelDatasetJob):
    """The dataset job with its renders on a Ray cluster (``address``: None starts one here)."""

    def __init__(self, scene: bpy.types.Scene, settings: GenerationSettings, address: str | None = None,
                 actors: int | None = None, quiet: bool = False):
        super().__init__(scene, settings, quiet)
        self.address = address
        self.actors = actors

    def connect(self) -> None:
        """Join (or start) the Ray cluster; UserError in one line — unreachable, refused token —
        before anything is written into the dataset folder."""
        import ray

        if ray.is_initialized():
            return
        check_reachable(self.address)
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING, runtime_env={"py_modules": [PACKAGE_DIR]})
        except Exception as err:  # Ray raises ConnectionError, RuntimeError, AuthenticationError, ...
            where = self.address or "a new local one"
            text = str(err).strip()
            first = text.splitlines()[0].split(". ")[0].rstrip(".") if text else type(err).__name__
            if "auth" in f"{type(err).__name__} {first}".lower():
                raise UserError(f"the Ray cluster at {where} refused this command's token ({first}); run it "
                                "with RAY_AUTH_MODE=token and the cluster's token (docs/guide.md: Ray)") from None
            raise UserError(f"cannot reach the Ray cluster at {where}: {first}") from None

    def _make_pool(self, blend_copy: str) -> RayRenderPool:
        import ray

        self.connect()
        with open(blend_copy, "rb") as handle:
            blend = handle.read()
        threads = self.settings.threads or 1
        self.actors = self.actors or max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
        job = {"settings": self.settings.to_dict(), "scene": self.scene.name, "denoiser": self._denoiser,
               "threads": threads}
        self._card = self._card.with_render(backend=f"ray ({self.actors} actors)")
        return RayRenderPool(job, blend, self.pending, self.actors, threads, self.settings.recycle_every,
                             self.folder)

    def worker_label(self) -> str:
        return f"{self.actors} Ray actors"

    def finish(self) -> None:
        import ray

        super().finish()
        if self.address is None and ray.is_initialized():  # the cluster we started for this run
            ray.shutdown()
