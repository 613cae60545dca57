"""Subprocesses that talk newline-delimited JSON (see protocol.py). No bpy, no TensorFlow.

A :class:`Worker` starts a command, and two reader threads turn its output into
items on one queue: protocol messages from stdout, and every other line (TF's
logging, tracebacks, pip's output) into a log file and a short in-memory tail.
The threads never touch Blender; the add-on's single timer drains the queue
(``Worker.messages()``) on Blender's main thread. Where no timer runs (the bpy module, scripts,
tests), :func:`wait_for_messages` sleeps until a reader has queued something.

A worker learns Blender's pid from ``PARENT_PID_ENV``; the CLI starts
:func:`exit_with_parent` from it so that no orphan keeps training (or holding
a GPU) after Blender crashes.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import sys
import threading
import time

from .protocol import decode, encode

PARENT_PID_ENV = "BLENDERCNN_PARENT_PID"
# Added to every message by the reader thread: time.perf_counter() when the line arrived here. On
# Linux perf_counter is the system-wide monotonic clock, so it compares with a worker's own stamps.
ARRIVED_KEY = "_arrived"
LOG_TAIL_LINES = 12
_message_arrived = threading.Event()  # set by any reader thread: a message was queued, or output ended


def wait_for_messages(timeout: float) -> bool:
    """Block until any worker queued a protocol message (or its output ended) since the last call,
    at most ``timeout`` seconds; True if one did. Call ``Worker.messages()`` (background.poll) after
    it: a message queued while this returns is then still in its worker's queue, never missed."""
    arrived = _message_arrived.wait(timeout)
    _message_arrived.clear()
    return arrived


# The package's own folder (blendercnn_addon/, wherever Blender installed it), and its name there.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_NAME = os.path.basename(PACKAGE_DIR)


def package_parent() -> str:
    """The folder that holds the ``blendercnn_addon`` package (wherever Blender installed it).

    Put on a subprocess's PYTHONPATH, it lets ``python -m blendercnn_addon`` import
    this very copy of the code: the package uses relative imports only, so it works
    as ``bl_ext.user_default.blendercnn_addon`` inside Blender and as
    ``blendercnn_addon`` outside it.
    """
    return os.path.dirname(PACKAGE_DIR)


def addon_command(python: str, *args: str) -> list[str]:
    """argv that runs ``python -m blendercnn_addon ARGS`` with the interpreter ``python``."""
    return [python, "-m", PACKAGE_NAME, *args]


def subprocess_environment(extra: dict | None = None) -> dict:
    """os.environ plus PYTHONPATH to this package, Blender's pid, unbuffered output, quiet TF."""
    env = dict(os.environ)
    # Blender's own Python settings must not leak into another interpreter.
    for name in ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONNOUSERSITE"):
        env.pop(name, None)
    env["PYTHONPATH"] = package_parent()
    env[PARENT_PID_ENV] = str(os.getpid())
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra or {})
    return env


class Worker:
    """One running subprocess; stdout lines that are protocol messages are queued, others logged.

    ``messages()`` returns what arrived since the last call (never blocks);
    ``exit_code`` is None while it runs. ``log_tail`` is the last lines that were
    not protocol messages, for error reports.
    """

    def __init__(self, argv: list[str], log_path: str | None = None, env: dict | None = None,
                 cwd: str | None = None):
        """``env`` defaults to :func:`subprocess_environment` (this package on PYTHONPATH, Blender's pid)."""
        self.argv = argv
        self.log_path = log_path
        self.started = time.monotonic()
        self._queue: queue.Queue = queue.Queue()
        self._tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL_LINES)
        self._log_lock = threading.Lock()
        self._log = None
        if log_path:
            os.makedirs(os.path.dirname(log_path), exist_ok=True)
            self._log = open(log_path, "a", encoding="utf-8", errors="replace")
        creation = {"creationflags": subprocess.CREATE_NO_WINDOW} if sys.platform == "win32" else {}
        # cwd defaults to the package's parent, not Blender's: a stray folder named like the
        # package in the current directory must not shadow the installed code.
        self.process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env if env is not None else subprocess_environment(),
            cwd=cwd or package_parent(),
            text=True, encoding="utf-8", errors="replace", bufsize=1, **creation)
        self._readers = [
            threading.Thread(target=self._read, args=(stream, parse), daemon=True,
                             name=f"blendercnn-reader-{self.process.pid}")
            for stream, parse in ((self.process.stdout, True), (self.process.stderr, False))]
        for reader in self._readers:
            reader.start()

    # -- reader threads (no bpy here) ------------------------------------------------------------
    def _read(self, stream, parse: bool) -> None:
        for line in stream:
            message = decode(line) if parse else None
            if message is not None:
                message[ARRIVED_KEY] = time.perf_counter()  # when this process had it (see ARRIVED_KEY)
                self._queue.put(message)
                _message_arrived.set()
            elif line.strip():
                self._note(line.rstrip("\n"))
        _message_arrived.set()  # end of output: the process is ending, its exit code is due

    def _note(self, line: str) -> None:
        with self._log_lock:
            self._tail.append(line)
            if self._log:
                self._log.write(line + "\n")
                self._log.flush()

    # -- main thread ------------------------------------------------------------------------------
    def messages(self) -> list[dict]:
        """Protocol messages received since the last call, oldest first."""
        out = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return out
            out.append(item)

    @property
    def exit_code(self) -> int | None:
        """None while running; the exit status once the process ended (its output all queued)."""
        code = self.process.poll()
        if code is not None:
            for reader in self._readers:  # the last lines may still be on their way to the queue
                reader.join(timeout=1.0)
        return code

    @property
    def log_tail(self) -> list[str]:
        with self._log_lock:
            return list(self._tail)

    def send(self, message: dict) -> bool:
        """Write one command line to the worker's stdin; False if it has gone."""
        try:
            self.process.stdin.write(encode(message))
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def close(self, timeout: float = 5.0) -> None:
        """Stop it (stdin closed, then terminate, then kill) and release the log file."""
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.process.wait()
        with self._log_lock:
            if self._log:
                self._log.close()
                self._log = None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine."""
    if sys.platform == "win32":
        return _parent_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parent_alive(pid: int) -> bool:
    if sys.platform == "win32":
        import ctypes

        synchronize, wait_object_0 = 0x00100000, 0
        handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)
        if not handle:
            return False
        try:
            return ctypes.windll.kernel32.WaitForSingleObject(handle, 0) != wait_object_0
        finally:
            ctypes.windll.kernel32.CloseHandle(handle)
    return os.getppid() == pid  # reparented (to init or a subreaper) once the parent has died


def exit_with_parent(poll_seconds: float = 0.5) -> None:
    """In a worker: exit at once (code 3) when the process named by PARENT_PID_ENV dies.

    A hard exit on purpose: the parent can no longer read results, and a training
    process must not outlive the Blender that started it. Does nothing when the
    variable is unset (a user running the CLI by hand).
    """
    value = os.environ.get(PARENT_PID_ENV)
    if not value:
        return
    pid = int(value)

    def watch() -> None:
        while _parent_alive(pid):
            time.sleep(poll_seconds)
        os._exit(3)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()
