"""The main job, headless: install the built zip as Preferences does, set up the scene, generate, contact sheet.

Usage: python tools/headless_demo.py ZIP OUT_DIR [--count 16] [--resolution 64] [--samples 16]

Blender's user folder is redirected to OUT_DIR/blender_user (BLENDER_USER_RESOURCES),
so your own Blender configuration is never touched.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("zip")
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()
    out_dir = os.path.abspath(args.out_dir)
    os.environ["BLENDER_USER_RESOURCES"] = os.path.join(out_dir, "blender_user")
    import bpy  # after BLENDER_USER_RESOURCES: Blender reads it at start-up

    result = bpy.ops.extensions.package_install_files(
        filepath=os.path.abspath(args.zip), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"} or not hasattr(bpy.types, "BLENDERCNN_OT_generate_dataset"):
        print(f"error: installing {args.zip} failed ({result})", file=sys.stderr)
        return 1
    print(f"installed {os.path.basename(args.zip)} as bl_ext.user_default.blendercnn_addon")

    bpy.ops.blendercnn.setup_scene()
    props = bpy.context.scene.blendercnn
    props.output_dir = os.path.join(out_dir, "dataset")
    props.count, props.resolution, props.render_samples = args.count, args.resolution, args.samples
    if bpy.ops.blendercnn.generate_dataset() != {"FINISHED"}:
        return 1
    sheet = os.path.join(out_dir, "contact_sheet.png")
    subprocess.run([sys.executable, "-m", "blendercnn_addon.ml.contact_sheet", props.output_dir,
                    "--out", sheet, "--limit", "16"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
