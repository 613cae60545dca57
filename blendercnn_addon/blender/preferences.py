"""Add-on preferences: which Python runs TensorFlow, and the button that creates one.

The interpreter is checked with :mod:`.interpreter` (a quick subprocess that
looks for the modules without importing them) and the answer is cached in
``window_manager.blendercnn_env`` for the panels to show.
"""

from __future__ import annotations

import bpy
from bpy.props import EnumProperty, StringProperty

from ..processes import interpreter
from ..errors import UserError
from .paths import ADDON_PACKAGE, environment_dir
from .ui.interpreter import draw_interpreter


def _forget_check(self, context):
    context.window_manager.blendercnn_env.checked = False


def _variant_items(self, context):
    items = [("cpu", "CPU", "tensorflow-cpu: works everywhere")]
    if interpreter.nvidia_gpu_present():
        items.append(("cuda", "NVIDIA GPU", "tensorflow[and-cuda]: trains on this machine's NVIDIA GPU"))
    return items


class BlenderCNNPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    python_path: StringProperty(
        name="TensorFlow Python", subtype="FILE_PATH", update=_forget_check,
        description="Python interpreter with TensorFlow, numpy and pillow for training and preview "
                    "(empty: detect one)")
    environment_variant: EnumProperty(name="Packages", items=_variant_items,
                                      description="Which TensorFlow Create Environment installs")
    wheel_folder: StringProperty(
        name="Wheel Folder", subtype="DIR_PATH",
        description="Create Environment installs from this folder of wheels, without the internet "
                    f"(empty: ${interpreter.WHEEL_FOLDER_VARIABLE}, else download)")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "python_path")
        layout.prop(self, "wheel_folder")
        draw_interpreter(layout, context, self, in_preferences=True)


def preferences(context=None) -> BlenderCNNPreferences | None:
    """This add-on's preferences, or None when it runs outside the extension system."""
    addon = (context or bpy.context).preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon else None


def wheel_folder(context=None) -> str:
    """The folder of wheels Create Environment installs from; '' to download (interpreter.wheel_folder)."""
    prefs = preferences(context)
    configured = bpy.path.abspath(prefs.wheel_folder) if prefs and prefs.wheel_folder else ""
    return interpreter.wheel_folder(configured)


def check_interpreter(context) -> interpreter.Probe | None:
    """Find the TensorFlow Python now and record the answer for the panels.

    A path set in the preferences is the only one tried: it is never silently replaced.
    """
    prefs = preferences(context)
    configured = bpy.path.abspath(prefs.python_path) if prefs and prefs.python_path else ""
    if configured:
        probes = [interpreter.probe(configured)]
        found = probes[0] if probes[0].usable else None
    else:
        found, probes = interpreter.detect("", environment_dir())
    status = context.window_manager.blendercnn_env
    status.checked = True
    status.python = found.python if found else ""
    if found:
        status.summary = found.describe()
    elif probes:
        status.summary = "no usable Python: " + "; ".join(p.describe() for p in probes)
    else:
        status.summary = "no Python found on this system"
    return found


def tensorflow_python(context) -> str:
    """The interpreter to run TensorFlow with; UserError (for a report) when there is none."""
    status = context.window_manager.blendercnn_env
    if not status.checked or not status.python:
        check_interpreter(context)
    if not status.python:
        raise UserError(f"No Python with TensorFlow ({status.summary}). Set one in the add-on "
                        "preferences or click Create Environment.")
    return status.python


CLASSES = (BlenderCNNPreferences,)
