"""Check TensorFlow Python, and Create Environment (a separate venv in the extension's user folder).

Create Environment runs ``python -m blendercnn_addon create-env`` with Blender's own
interpreter: it makes a venv and pip-installs the pinned packages *into that venv*.
Blender's Python itself is never modified. It downloads, so it needs Blender's
online access (Preferences ▸ System ▸ Network) — unless a Wheel Folder is set (preferences,
or ``$BLENDERCNN_WHEEL_FOLDER``): then pip installs from that folder only.
"""

from __future__ import annotations

import sys
import time

import bpy

from .. import background
from ..background import crash_message, log_path
from ...errors import UserError
from ...processes.interpreter import check_wheel_folder
from ..preferences import check_interpreter, environment_dir, preferences, wheel_folder
from ...processes.workers import Worker, addon_command


def _status(context=None):
    return (context or bpy.context).window_manager.blendercnn_env


class EnvironmentSession(background.Session):
    """Follows create-env: the step number and title, and pip's latest output line."""

    kind = "environment"

    def on_message(self, message: dict) -> None:
        status = _status()
        if message.get("event") == "step":
            status.step, status.steps = message["step"], message["steps"]
            status.step_title = message.get("title", "")

    def on_tick(self) -> bool:
        tail = self.worker.log_tail
        line = tail[-1][:160] if tail else ""
        if line == _status().last_line:
            return False
        _status().last_line = line
        return True

    def on_exit(self, exit_code: int) -> None:
        status = _status()
        status.creating = False
        if exit_code != 0:
            status.error, _tail = crash_message("Creating the environment", self.worker, exit_code)
            return
        status.error = status.last_line = ""
        check_interpreter(bpy.context)


class BLENDERCNN_OT_check_interpreter(bpy.types.Operator):
    """Look for a Python with TensorFlow, numpy and pillow (the preferences' path, the add-on's own
    environment, then PATH)"""

    bl_idname = "blendercnn.check_interpreter"
    bl_label = "Check TensorFlow Python"

    def execute(self, context):
        found = check_interpreter(context)
        summary = _status(context).summary
        self.report({"INFO"} if found else {"WARNING"}, summary)
        return {"FINISHED"}


class BLENDERCNN_OT_create_environment(bpy.types.Operator):
    """Download TensorFlow, numpy and pillow (pinned versions, about 600 MB) into a separate Python
    environment in the add-on's user folder. Blender's own Python is not changed"""

    bl_idname = "blendercnn.create_environment"
    bl_label = "Create Environment"

    @classmethod
    def poll(cls, context):
        return not background.running("environment")

    def execute(self, context):
        wheels = wheel_folder(context)
        if wheels:
            try:
                check_wheel_folder(wheels)
            except UserError as err:
                self.report({"ERROR"}, f"{err}: fix the add-on preferences' Wheel Folder")
                return {"CANCELLED"}
        elif not bpy.app.online_access:
            self.report({"ERROR"}, "Online access is off: allow it in Preferences > System > Network to "
                                   "download TensorFlow, set a Wheel Folder, or set a TensorFlow Python in the "
                                   "add-on preferences")
            return {"CANCELLED"}
        prefs = preferences(context)
        variant = prefs.environment_variant if prefs else "cpu"
        target = environment_dir()
        argv = addon_command(sys.executable, "create-env", "--dir", target, "--variant", variant)
        worker = Worker(argv + (["--find-links", wheels] if wheels else []), log_path=log_path("create-env"))
        status = _status(context)
        status.creating, status.error, status.last_line = True, "", ""
        status.step, status.steps, status.step_title = 0, 2 if wheels else 3, "Starting"
        status.started_at = time.time()
        background.start(EnvironmentSession(worker))
        source = f"from {wheels}" if wheels else "downloading"
        self.report({"INFO"}, f"Creating a TensorFlow environment ({variant}, {source}) in {target}")
        return {"FINISHED"}


CLASSES = (BLENDERCNN_OT_check_interpreter, BLENDERCNN_OT_create_environment)
