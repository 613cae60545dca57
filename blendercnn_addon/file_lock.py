"""Advisory locks on a file, one process against another, on Linux, macOS and Windows. Blender-free.

A dataset folder (one generate run, or the shards of one) and a run folder (one trainer) are
guarded by such a lock. A lock is tied to an open file: it is dropped when released, when the
file closes, or when the process ends however it ends (a crash or kill -9 leaves no stale lock).

Two implementations, one behaviour (SHARED locks coexist; EXCLUSIVE conflicts with any other):

- POSIX (Linux, macOS): ``fcntl.flock`` on the open file, which has both modes.
- Windows: ``msvcrt.locking``, which locks byte ranges and only exclusively. An EXCLUSIVE lock
  takes bytes 0 … SLOTS; a SHARED lock takes one free byte among 1 … SLOTS. So an exclusive lock
  conflicts with every shared one, shared ones never conflict with each other (each finds its own
  byte), and up to SLOTS processes share a lock.
"""

from __future__ import annotations

import os

SHARED = "shared"
EXCLUSIVE = "exclusive"
SLOTS = 64  # Windows: processes that can hold one file's lock SHARED at once


class LockHeld(Exception):
    """Another process holds a lock on the file that conflicts with the one asked for."""


class PosixLocks:
    """flock(2): both modes on the open file."""

    def __init__(self, fcntl_module):
        self._fcntl = fcntl_module

    def take(self, handle, mode: str) -> tuple:
        flag = self._fcntl.LOCK_SH if mode == SHARED else self._fcntl.LOCK_EX
        try:
            self._fcntl.flock(handle.fileno(), flag | self._fcntl.LOCK_NB)
        except (BlockingIOError, PermissionError):
            raise LockHeld from None
        return ()

    def release(self, handle, _held: tuple) -> None:
        self._fcntl.flock(handle.fileno(), self._fcntl.LOCK_UN)


class WindowsLocks:
    """msvcrt.locking on byte ranges (see the module docstring)."""

    def __init__(self, msvcrt_module):
        self._msvcrt = msvcrt_module

    def _lock(self, handle, start: int, length: int) -> bool:
        handle.seek(start)
        try:
            self._msvcrt.locking(handle.fileno(), self._msvcrt.LK_NBLCK, length)
        except OSError:
            return False
        return True

    def take(self, handle, mode: str) -> tuple:
        ranges = [(0, SLOTS + 1)] if mode == EXCLUSIVE else [(slot, 1) for slot in range(1, SLOTS + 1)]
        for start, length in ranges:
            if self._lock(handle, start, length):
                return start, length
        raise LockHeld

    def release(self, handle, held: tuple) -> None:
        start, length = held
        handle.seek(start)
        self._msvcrt.locking(handle.fileno(), self._msvcrt.LK_UNLCK, length)


def _platform_locks():
    try:
        import fcntl
    except ImportError:
        import msvcrt  # Windows: the one platform without fcntl that Blender runs on

        return WindowsLocks(msvcrt)
    return PosixLocks(fcntl)


LOCKS = _platform_locks()


class FileLock:
    """A lock on ``path`` (created if missing; its content is never read or written), taken at once
    or not at all. Use ``with FileLock(path, mode):`` or call :meth:`release`."""

    def __init__(self, path: str, mode: str = EXCLUSIVE, locks=None):
        self._locks = locks or LOCKS
        self._handle = open(path, "a+b")  # noqa: SIM115 - the lock lives as long as this handle
        try:
            self._held = self._locks.take(self._handle, mode)
        except BaseException:
            self._handle.close()
            raise

    def release(self) -> None:
        if self._handle is None:
            return
        try:
            self._locks.release(self._handle, self._held)
        except OSError:
            pass  # closing the file drops it as well
        self._handle.close()
        self._handle = None

    def __enter__(self) -> "FileLock":
        return self

    def __exit__(self, *_exc) -> None:
        self.release()


def is_held(path: str, locks=None) -> bool:
    """Whether another process holds an EXCLUSIVE lock on ``path`` (probed with a shared lock taken
    and dropped at once, which no shared holder blocks); False when the file does not exist."""
    if not os.path.exists(path):
        return False
    try:
        FileLock(path, SHARED, locks).release()
    except LockHeld:
        return True
    except FileNotFoundError:
        return False
    return False
