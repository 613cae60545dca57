"""Render a dataset's missing samples with N local worker processes. No bpy.

The pool hands out sample indices one at a time (two in flight per worker, so a
worker never waits for its next index), collects ``rendered`` events, and keeps N
workers alive:

- a worker that exits after ``recycle_every`` images (``recycle`` event) is replaced
  by a fresh process, so memory stays flat over long runs;
- a worker that crashes or is killed is replaced too, and the indices it held that
  are not on disk go back to the queue; an index that has brought down
  ``MAX_ATTEMPTS`` workers stops the run with the worker's last log lines.

Each worker commits its own images (complete file, then rename), so the pool never
moves image data; it only tells the coordinator (generator.ParallelDatasetJob) which
indices are finished.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass, field
from typing import Callable

from ..errors import UserError
from .workers import Worker

MAX_ATTEMPTS = 3
IN_FLIGHT_PER_WORKER = 2
START_TIMEOUT_S = 300.0  # opening Blender and the scene; generous for slow disks and first-run caches


class IndexQueue:
    """The indices a pool hands out, drawn lazily from ``indices`` (any iterable, e.g. the run's
    PendingIndices: no list of a large job is ever made), with indices given back (a crashed
    worker's) handed out first. Supports the deque calls the pools use: popleft, appendleft, bool."""

    def __init__(self, indices):
        self._returned: collections.deque = collections.deque()
        self._source = iter(indices)
        self._next = next(self._source, None)

    def __bool__(self) -> bool:
        return bool(self._returned) or self._next is not None

    def popleft(self) -> int:
        if self._returned:
            return self._returned.popleft()
        if self._next is None:
            raise IndexError("pop from an empty IndexQueue")
        index, self._next = self._next, next(self._source, None)
        return index

    def appendleft(self, index: int) -> None:
        self._returned.appendleft(index)


@dataclass
class PoolWorker:
    """A worker process and the indices it was sent but has not reported yet."""

    process: Worker
    slot: int
    assigned: list[int] = field(default_factory=list)
    ready: bool = False
    rendered: int = 0
    peak_rss_mb: float = 0.0


@dataclass
class PoolStats:
    """What the pool has seen: for the card, the summary line and the benchmark."""

    started: int = 0
    restarted_after_crash: int = 0
    recycled: int = 0
    devices: set = field(default_factory=set)
    notes: list = field(default_factory=list)
    peak_rss_mb: float = 0.0
    rss_trace: list = field(default_factory=list)  # (slot, images rendered by that process, rss_mb)


class LocalRenderPool:
    """N render worker processes fed from one queue of indices.

    ``command(slot)`` returns the argv of a new worker; ``log_path(slot)`` its log file.
    Call :meth:`poll` regularly (never blocks longer than ``timeout``); :attr:`done` is
    True once every index is rendered.
    """

    def __init__(self, command: Callable[[int], list[str]], indices: list[int], workers: int,
                 log_path: Callable[[int], str] | None = None, is_on_disk: Callable[[int], bool] | None = None):
        self._command = command
        self._log_path = log_path or (lambda slot: None)
        self._is_on_disk = is_on_disk or (lambda index: False)
        self._queue = IndexQueue(indices)
        self._attempts: collections.Counter = collections.Counter()
        self._workers: list[PoolWorker] = []
        self._size = max(1, min(workers, len(indices)))
        self.stats = PoolStats()
        self._failed_starts = 0
        for slot in range(self._size):
            self._spawn(slot)

    # -- public -------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return not self._queue and not any(w.assigned for w in self._workers)

    def poll(self, timeout: float = 0.0) -> list[int]:
        """Indices finished since the last call. Waits up to ``timeout`` seconds for the first one."""
        deadline = time.monotonic() + timeout
        while True:
            finished = []
            for worker in list(self._workers):
                finished.extend(self._drain(worker))
            for worker in list(self._workers):
                finished.extend(self._check_alive(worker))
            if finished or self.done or time.monotonic() >= deadline:
                return finished
            time.sleep(0.02)

    def stop(self) -> list[int]:
        """Stop every worker now and wait for them to end; returns the indices they held, whose
        temporary images (half or wholly written, never committed) the caller removes."""
        held = [index for worker in self._workers for index in worker.assigned]
        for worker in self._workers:
            worker.process.terminate()
        for worker in self._workers:
            worker.process.close(timeout=5.0)
        self._workers.clear()
        return held

    # -- internals ----------------------------------------------------------------------------
    def _spawn(self, slot: int) -> None:
        process = Worker(self._command(slot), log_path=self._log_path(slot))
        self._workers.append(PoolWorker(process, slot))
        self.stats.started += 1

    def _feed(self, worker: PoolWorker) -> None:
        while self._queue and len(worker.assigned) < IN_FLIGHT_PER_WORKER:
            index = self._queue.popleft()
            if not worker.process.send({"command": "render", "index": index}):
                self._queue.appendleft(index)
                return
            worker.assigned.append(index)

    def _drain(self, worker: PoolWorker) -> list[int]:
        finished = []
        for message in worker.process.messages():
            event = message.get("event")
            if event == "ready":
                worker.ready = True
                self.stats.devices.add(message.get("device", "?"))
                self.stats.notes.extend(n for n in message.get("notes", []) if n not in self.stats.notes)
                self._feed(worker)
            elif event == "rendered":
                index = int(message["index"])
                if index in worker.assigned:
                    worker.assigned.remove(index)
                finished.append(index)
                worker.rendered += 1
                rss = float(message.get("rss_mb") or 0.0)
                worker.peak_rss_mb = max(worker.peak_rss_mb, rss)
                self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, rss)
                self.stats.rss_trace.append((worker.slot, worker.rendered, rss))
                self._feed(worker)
            elif event == "recycle":
                self.stats.recycled += 1
        return finished

    def _check_alive(self, worker: PoolWorker) -> list[int]:
        """Replace ``worker`` if it has exited; returns indices it reported just before exiting."""
        code = worker.process.exit_code
        if code is None:
            if not worker.ready and time.monotonic() - worker.process.started > START_TIMEOUT_S:
                worker.process.kill()
            return []
        finished = self._drain(worker)  # the last lines it wrote before exiting
        crashed = code != 0
        for index in reversed(worker.assigned):  # what it held and did not finish goes back, in order
            if self._is_on_disk(index):  # committed (whole: workers rename finished images) but not reported
                finished.append(index)
                continue
            if crashed:
                self._attempts[index] += 1
                if self._attempts[index] >= MAX_ATTEMPTS:
                    tail = "; ".join(worker.process.log_tail[-3:]) or "no output"
                    self.stop()
                    raise UserError(f"sample {index} stopped {MAX_ATTEMPTS} render workers "
                                    f"(last exit code {code}): {tail}")
            self._queue.appendleft(index)
        worker.process.close(timeout=1.0)
        self._workers.remove(worker)
        if crashed:
            self.stats.restarted_after_crash += 1
        self._failed_starts += crashed and not worker.ready
        if self._failed_starts >= MAX_ATTEMPTS and not self.stats.devices:  # none ever got ready
            tail = "; ".join(worker.process.log_tail[-3:]) or "no output"
            self.stop()
            raise UserError(f"render workers fail to start (exit code {code}): {tail}")
        if self._queue:
            self._spawn(worker.slot)
        return finished


def default_workers(cores: int | None = None) -> int:
    """Worker processes for this machine: one per two cores, each rendering with two threads.

    Measured on 2 cores (benchmarks/render_throughput.py): one 2-thread process renders the
    default preset at 256 x 256 faster (3.4 images/s) than two 1-thread processes (3.0):
    Cycles' threads scale well, while each extra process adds its own start-up and scene sync.
    """
    return max(1, (cores or os.cpu_count() or 1) // 2)
