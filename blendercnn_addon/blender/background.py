"""The one place where subprocess results reach Blender: a single ``bpy.app.timers`` poller.

Each running subprocess (training, preview, evaluation, TensorBoard, environment
creation) is a :class:`Session` registered here under its kind. Reader threads
(in :mod:`.workers`) only queue messages; :func:`poll`, which Blender calls on
its main thread, hands them to the sessions, which update properties and images,
and notices at once when a worker has died. Blender's rule that ``bpy`` is only
touched from the main thread is kept by construction.
"""

from __future__ import annotations

import datetime
import time

import bpy
from bpy.app.handlers import persistent

from .paths import user_folder
from ..processes.workers import Worker, wait_for_messages

POLL_SECONDS = 0.1  # progress reports: ten updates a second are plenty
BUSY_POLL_SECONDS = 0.002  # a preview image is on its way: pick it up without adding latency
_sessions: dict[str, "Session"] = {}


class Session:
    """A worker plus what to do with its messages. Subclasses override the ``on_*`` hooks.

    Hooks run on Blender's main thread, from :func:`poll`.
    """

    kind = "session"
    stop_on_file_load = False  # training keeps going when another .blend is opened; preview does not

    def __init__(self, worker: Worker):
        self.worker = worker

    @property
    def busy(self) -> bool:
        """True while an answer the user is waiting for is due (makes the poller look more often)."""
        return False

    def on_message(self, message: dict) -> None:
        """One protocol message from the worker's stdout."""

    def on_tick(self) -> bool | None:
        """Every poll while the worker runs (time-outs, readiness checks); True if the panel changed."""

    def on_exit(self, exit_code: int) -> None:
        """The worker has ended (all its messages were delivered first)."""

    def shutdown(self) -> None:
        """Blender is unloading the add-on or a file: end the worker now."""
        self.worker.close(timeout=3.0)


def start(session: Session) -> None:
    """Track ``session`` (replacing a finished one of the same kind) and make sure the poller runs."""
    old = _sessions.get(session.kind)
    if old is not None and old.worker.exit_code is None:
        raise RuntimeError(f"a {session.kind} worker is already running")
    _sessions[session.kind] = session
    if not bpy.app.timers.is_registered(poll):
        bpy.app.timers.register(poll, first_interval=POLL_SECONDS, persistent=True)


def wake() -> None:
    """Poll soon (an answer is due now), instead of at the next idle interval."""
    if bpy.app.timers.is_registered(poll):
        bpy.app.timers.unregister(poll)
    bpy.app.timers.register(poll, first_interval=BUSY_POLL_SECONDS, persistent=True)


def get(kind: str) -> Session | None:
    """The running session of that kind, if any."""
    return _sessions.get(kind)


def running(kind: str) -> bool:
    return kind in _sessions


def poll() -> float | None:
    """Deliver queued messages, run time-outs, retire ended workers; redraw the panels.

    Returns the delay until the next call, or None (unregister the timer) when nothing runs.
    """
    changed = False  # redraw only when something changed: a redraw every tick would end text editing
    for kind, session in list(_sessions.items()):
        messages = session.worker.messages()
        for message in messages:
            session.on_message(message)
        changed = changed or bool(messages)
        exit_code = session.worker.exit_code
        if exit_code is None:
            changed = session.on_tick() or changed
            continue
        for message in session.worker.messages():
            session.on_message(message)
        if _sessions.get(kind) is session:
            del _sessions[kind]
        session.worker.close()
        session.on_exit(exit_code)
        changed = True
    if changed:
        redraw_panels()
    if not _sessions:
        return None
    return BUSY_POLL_SECONDS if any(session.busy for session in _sessions.values()) else POLL_SECONDS


def wait_until_done(kind: str, timeout: float) -> bool:
    """Run :func:`poll` until the ``kind`` session ends (scripts and tests; a window's timer does it
    otherwise). True if it ended within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while running(kind):
        if time.monotonic() > deadline:
            return False
        wait_for_messages(poll() or POLL_SECONDS)
    return True


def stop(kind: str) -> None:
    """End the ``kind`` worker now, if one runs (its on_exit is not called: this is on purpose)."""
    session = _sessions.pop(kind, None)
    if session is not None:
        session.shutdown()


def stop_all() -> None:
    """End every worker (unregister, file load)."""
    while _sessions:
        _, session = _sessions.popitem()
        session.shutdown()
    if bpy.app.timers.is_registered(poll):
        bpy.app.timers.unregister(poll)


def redraw_panels() -> None:
    """Tag the 3D viewports' sidebars and the Image Editors of every window for redraw.

    Only the sidebar region of a 3D view: redrawing the viewport itself for a progress figure
    costs far more (≈ 140 ms a frame in a 1600 × 1000 window with software OpenGL, measured)."""
    window_manager = bpy.context.window_manager
    for window in window_manager.windows if window_manager else ():
        for area in window.screen.areas:
            if area.type == "IMAGE_EDITOR":
                area.tag_redraw()
            elif area.type == "VIEW_3D":
                for region in area.regions:
                    if region.type == "UI":
                        region.tag_redraw()


@persistent
def _on_load_pre(*_args) -> None:
    for kind, session in list(_sessions.items()):
        if session.stop_on_file_load:
            del _sessions[kind]
            session.shutdown()


def register() -> None:
    bpy.app.handlers.load_pre.append(_on_load_pre)


def unregister() -> None:
    stop_all()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)


def log_path(kind: str) -> str:
    """A new log file for a ``kind`` worker, in the extension's user folder (logs/)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return user_folder("logs", f"{kind}-{stamp}.log")


def crash_message(what: str, worker: Worker, exit_code: int) -> tuple[str, str]:
    """(one-line error, last log lines) for a worker that ended without saying why."""
    tail = worker.log_tail
    last = next((line for line in reversed(tail) if line.strip()), "")
    return f"{what} failed (exit code {exit_code}): {last[:200]}", "\n".join(tail)
