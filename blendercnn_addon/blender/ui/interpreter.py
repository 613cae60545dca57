"""The TensorFlow Python line and Create Environment, drawn in the Train panel and the add-on preferences."""

from __future__ import annotations

import time

import bpy

from ...processes.interpreter import wheel_folder
from ...text import format_duration
from ..paths import environment_dir
from . import fit

ICON_BUTTON_PX = 26  # the refresh button beside the TensorFlow line


def draw_interpreter(layout, context, prefs, in_preferences: bool = False) -> None:
    """The TensorFlow Python line, and Create Environment when there is none.

    ``prefs``: the add-on preferences (their environment_variant is drawn), or None outside
    the extension system. Reads ``window_manager.blendercnn_env``, which preferences.py fills."""
    env = context.window_manager.blendercnn_env
    if env.creating:
        elapsed = format_duration(time.time() - env.started_at)
        layout.progress(factor=max(0, env.step - 1) / max(1, env.steps), type="BAR",
                        text=f"Step {env.step}/{env.steps} · {elapsed}")
        fit.lines(layout, context, "Train", env.step_title, icon="TIME")
        if env.last_line:
            fit.lines(layout, context, "Train", env.last_line)
        return
    row = layout.row(align=True)
    if env.checked and env.python:
        own = env.python.startswith(environment_dir())  # the add-on's own: no need to spell out its path
        text, icon = f"TensorFlow: {'the add-on environment' if own else env.python}", "CHECKMARK"
    elif env.checked:
        text, icon = "No Python with TensorFlow found", "ERROR"
    else:
        text, icon = "TensorFlow: not checked yet", "QUESTION"
    fit.lines(row, context, "Train", text, icon=icon, reserve_px=ICON_BUTTON_PX)
    row.operator("blendercnn.check_interpreter", text="", icon="FILE_REFRESH")
    if env.error:
        fit.lines(layout, context, "Train", env.error, icon="ERROR")
    if env.checked and not env.python:
        col = layout.column(align=True)
        if prefs is not None:
            col.prop(prefs, "environment_variant")
        wheels = wheel_folder(bpy.path.abspath(prefs.wheel_folder) if prefs is not None and prefs.wheel_folder else "")
        col.enabled = bool(wheels) or bpy.app.online_access
        col.operator("blendercnn.create_environment", icon="IMPORT")
        if wheels:
            fit.lines(layout, context, "Train", f"Installs from {wheels}", icon="PACKAGE")
        elif not bpy.app.online_access:
            fit.lines(layout, context, "Train", "Needs online access (Preferences > System) or a Wheel Folder",
                      icon="INFO")
        elif not in_preferences:
            fit.lines(layout, context, "Train", "Or set a Python in the add-on preferences", icon="INFO")
