"""Blender's own progress indicator (``window_manager.progress_begin/update/end``) for long jobs.

Generate Dataset and Train report here as they advance, so their progress shows outside the
sidebar too (Blender draws it in the status bar / cursor, and on the taskbar where the system
has one). Two jobs at once share the one indicator: it shows the one furthest behind.
"""

from __future__ import annotations

import bpy

STEPS = 1000  # the indicator's range: 0.1 % resolution
_jobs: dict[str, float] = {}  # job kind -> fraction done, 0..1


def _window_manager():
    window_manager = bpy.context.window_manager
    return window_manager if window_manager is not None and window_manager.windows else None


def update(job: str, fraction: float) -> None:
    """``job`` (e.g. "generate", "train") is ``fraction`` (0..1) done."""
    window_manager = _window_manager()
    if window_manager is None:  # no window (scripts, the bpy module): nothing to show
        return
    if not _jobs:
        window_manager.progress_begin(0, STEPS)
    _jobs[job] = min(1.0, max(0.0, fraction))
    window_manager.progress_update(int(round(min(_jobs.values()) * STEPS)))


def end(job: str) -> None:
    """``job`` has finished, been cancelled or failed: the indicator ends with the last job."""
    if _jobs.pop(job, None) is None:
        return
    window_manager = _window_manager()
    if window_manager is None:
        return
    if _jobs:
        window_manager.progress_update(int(round(min(_jobs.values()) * STEPS)))
    else:
        window_manager.progress_end()


def active() -> dict[str, float]:
    """The jobs showing in the indicator now and their fractions (what the window journey checks)."""
    return dict(_jobs)
