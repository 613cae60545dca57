"""The add-on's version, read from blender_manifest.toml (the one source of truth). Blender-free."""

from __future__ import annotations

import functools
import os
import tomllib

_HERE = os.path.dirname(os.path.abspath(__file__))
# Inside the built zip the manifest sits beside __init__.py; in the repository, one level up.
_MANIFEST_CANDIDATES = (os.path.join(_HERE, "blender_manifest.toml"),
                        os.path.join(os.path.dirname(_HERE), "blender_manifest.toml"))


@functools.lru_cache(maxsize=1)
def addon_version() -> str:
    """Version string such as "0.1.0", or "unknown" if no manifest is found."""
    for path in _MANIFEST_CANDIDATES:
        if os.path.exists(path):
            with open(path, "rb") as handle:
                return tomllib.load(handle)["version"]
    return "unknown"
