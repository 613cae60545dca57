"""Helpers shared by the build, install and demo scripts (run in the project's venv)."""

from __future__ import annotations

import glob
import importlib.util
import os
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "blender_manifest.toml")
PACKAGE_DIR = os.path.join(ROOT, "blendercnn_addon")


def manifest() -> dict:
    with open(MANIFEST, "rb") as handle:
        return tomllib.load(handle)


def zip_name(version: str | None = None) -> str:
    """The extension zip's name: ``<id>-<version>.zip`` (the manifest's version unless one is given)."""
    data = manifest()
    return f"{data['id']}-{version or data['version']}.zip"


def blender_ext_script() -> str:
    """Path of Blender's own extension tool inside the installed ``bpy`` wheel (found without importing bpy)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("error: the bpy module is not installed in this Python (run 'make venv')")
    bpy_dir = list(spec.submodule_search_locations)[0]
    found = glob.glob(os.path.join(bpy_dir, "*", "scripts", "addons_core", "bl_pkg", "cli", "blender_ext.py"))
    if not found:
        raise SystemExit(f"error: blender_ext.py not found under {bpy_dir}")
    return found[0]
