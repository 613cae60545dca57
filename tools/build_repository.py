"""A static extensions repository: the extension's zip(s) plus the index Blender's own tool writes.

Usage: python tools/build_repository.py --out repo [--zip dist/blendercnn_addon-0.1.0.zip]

Users add it once, in Blender's Preferences ▸ Get Extensions ▸ Repositories ▸ + ▸ Add Remote
Repository, with the URL ``file:///ABSOLUTE/PATH/repo/index.json`` (or the index.json's URL on any
web server the folder is copied to), and Blender then installs and updates the add-on from it. The
folder holds one release of each extension (a new zip replaces the older one of the same id: Blender
reads one entry per extension) and ``blender_ext.py server-generate --html`` writes ``index.json``
and a browsable ``index.html``. Installing and updating from it is tested (tests/test_repository.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from blender_tools import ROOT, blender_ext_script, zip_name


def build_repository(out_dir: str, zip_path: str) -> str:
    """Put ``zip_path`` into ``out_dir`` and write its index; returns the index.json's path."""
    os.makedirs(out_dir, exist_ok=True)
    extension_id = os.path.basename(zip_path).rsplit("-", 1)[0]
    for name in os.listdir(out_dir):  # the release this one replaces
        if name.endswith(".zip") and name.rsplit("-", 1)[0] == extension_id:
            os.remove(os.path.join(out_dir, name))
    shutil.copy2(zip_path, os.path.join(out_dir, os.path.basename(zip_path)))
    subprocess.run([sys.executable, blender_ext_script(), "server-generate", "--repo-dir", out_dir, "--html"],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(out_dir, "index.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "repo"), help="the repository folder (default repo/)")
    parser.add_argument("--zip", default=os.path.join(ROOT, "dist", zip_name()), help="the built extension zip")
    args = parser.parse_args()
    index = build_repository(os.path.abspath(args.out), os.path.abspath(args.zip))
    print(f"repository: {index}\nadd it in Blender: Preferences > Get Extensions > Repositories > + > "
          f"Add Remote Repository, URL file://{index}")


if __name__ == "__main__":
    main()
