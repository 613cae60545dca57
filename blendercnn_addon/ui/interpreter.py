"""The TensorFlow Python line and Create Environment, drawn in the Train panel and the add-on preferences."""

from __future__ import annotations

import bpy


def draw_interpreter(layout, context, prefs, in_preferences: bool = False) -> None:
    """The TensorFlow Python line, and Create Environment when there is none.

    ``prefs``: the add-on preferences (their environment_variant is drawn), or None outside
    the extension system. Reads ``window_manager.blendercnn_env``, which preferences.py fills."""
    env = context.window_manager.blendercnn_env
    if env.creating:
        layout.progress(factor=max(0, env.step - 1) / max(1, env.steps), type="BAR",
                        text=f"{env.step}/{env.steps}: {env.step_title}")
        if env.last_line:
            layout.label(text=env.last_line)
        return
    row = layout.row(align=True)
    if env.checked and env.python:
        row.label(text=f"TensorFlow: {env.python}", icon="CHECKMARK")
    elif env.checked:
        row.label(text="No Python with TensorFlow found", icon="ERROR")
    else:
        row.label(text="TensorFlow Python not checked yet", icon="QUESTION")
    row.operator("blendercnn.check_interpreter", text="", icon="FILE_REFRESH")
    if env.error:
        layout.label(text=env.error, icon="ERROR")
    if env.checked and not env.python:
        layout.label(text=env.summary)
        col = layout.column(align=True)
        if prefs is not None:
            col.prop(prefs, "environment_variant")
        col.enabled = bpy.app.online_access
        col.operator("blendercnn.create_environment", icon="IMPORT")
        if not bpy.app.online_access:
            layout.label(text="Needs online access (Preferences > System)", icon="INFO")
        elif not in_preferences:
            layout.label(text="Or set a Python in the add-on preferences", icon="INFO")
