"""Where the add-on may write by default: its own user folder, never next to its code."""

from __future__ import annotations

import os
import tempfile

import bpy

# "blendercnn_addon", or "bl_ext.<repo>.blendercnn_addon" when installed: the package above this folder
ADDON_PACKAGE = __package__.rpartition(".")[0]


def user_folder(*parts: str) -> str:
    """A path inside the extension's user folder (``bpy.utils.extension_path_user``), not created.

    Falls back to the system temp folder when the add-on runs outside the
    extension system (e.g. straight from a source checkout).
    """
    try:
        base = bpy.utils.extension_path_user(ADDON_PACKAGE, create=True)
    except (ValueError, KeyError):
        base = os.path.join(tempfile.gettempdir(), "blendercnn")
    return os.path.join(base, *parts)


def resolve_output_dir(text: str) -> str:
    """Absolute dataset folder for the panel's Output field ('//' is relative to the .blend)."""
    if not text.strip():
        return user_folder("datasets", "dataset")
    return os.path.abspath(bpy.path.abspath(text))


def environment_dir() -> str:
    """Where Create Environment puts the separate TensorFlow Python (in the extension's user folder)."""
    return user_folder("python-env")
