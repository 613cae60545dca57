"""Build dist/blendercnn_addon-<version>.zip with Blender's own ``blender_ext.py build``, then validate it.

The repository keeps blender_manifest.toml at the top level and the code in
blendercnn_addon/; an extension zip wants both side by side, so we stage them
into build/stage first.

Usage: python tools/build_extension.py [--out-dir dist]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

from blender_tools import MANIFEST, PACKAGE_DIR, ROOT, blender_ext_script, zip_name


def stage(stage_dir: str, version: str | None = None) -> None:
    """The package and its manifest side by side in ``stage_dir``; ``version``: the manifest's, replaced
    (the tests build a "newer" zip to update to)."""
    shutil.rmtree(stage_dir, ignore_errors=True)
    shutil.copytree(PACKAGE_DIR, stage_dir, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    text = open(MANIFEST, encoding="utf-8").read()
    if version is not None:
        text = re.sub(r'(?m)^version = ".*"$', f'version = "{version}"', text)
    with open(os.path.join(stage_dir, "blender_manifest.toml"), "w", encoding="utf-8") as handle:
        handle.write(text)


def build(out_dir: str, version: str | None = None) -> str:
    """Returns the path of the validated zip (of the manifest's version, or ``version``)."""
    tool = blender_ext_script()
    stage_dir = os.path.join(ROOT, "build", "stage")
    stage(stage_dir, version)
    os.makedirs(out_dir, exist_ok=True)
    zip_path = os.path.join(out_dir, zip_name(version))
    if os.path.exists(zip_path):
        os.remove(zip_path)
    subprocess.run([sys.executable, tool, "build", "--source-dir", stage_dir, "--output-dir", out_dir],
                   check=True)
    subprocess.run([sys.executable, tool, "validate", zip_path], check=True)
    return zip_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=os.path.join(ROOT, "dist"))
    args = parser.parse_args()
    print(build(os.path.abspath(args.out_dir)))


if __name__ == "__main__":
    main()
