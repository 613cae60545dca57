"""BlenderCNN as a render engine against Cycles: Render Animation of one keyframed animation.

Inside Blender (the bpy module, add-on registered from this checkout): Set Up Scene, then an
animation of FRAMES frames whose ball circles the room while its emission colour changes (keyframes
every 25 frames, seeded), rendered with Render Animation (``bpy.ops.render.render(animation=True)``,
PNG files) by BlenderCNN and by Cycles with the Default preset, in the same run, wall time of
each, Blender's own overhead included (the model is loaded before timing: ``engine_load_s``).
Then Cycles' Reference preset renders REFERENCES of those frames and BlenderCNN's frames are
compared with them (PSNR of the 8-bit files). Prints one ``name: value`` line per figure.

Without ``--model`` a 1-epoch model is trained on 8 renders (speed only: its PSNR means nothing);
the README's figures use the recommended job's model (``make bench-job``'s run folder).

Usage: python benchmarks/engine.py [--model RUN] [--frames 250] [--references 20]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from preview_latency import make_run  # noqa: E402  (benchmarks/ is on sys.path: the script's own folder)


def keyframe_animation(scene, frames: int, seed: int) -> None:
    """The ball circles the room (radius 0.6 m, twice) and its colour changes every 25 frames."""
    import bpy

    rng = random.Random(seed)
    ball = scene.objects["Ball"]
    glow = bpy.data.materials["Glow"].node_tree.nodes["Emission"].inputs["Color"]
    scene.frame_start, scene.frame_end = 1, frames
    for frame in range(1, frames + 1, 5):
        angle = 4 * math.pi * (frame - 1) / frames
        ball.location.x, ball.location.y = 0.6 * math.cos(angle), 0.6 * math.sin(angle)
        ball.keyframe_insert("location", frame=frame)
    for frame in range(1, frames + 1, 25):
        glow.default_value = (rng.random(), rng.random(), rng.random(), 1.0)
        glow.keyframe_insert("default_value", frame=frame)


def render_animation(scene, engine: str, folder: str) -> float:
    """Render Animation with ``engine`` into ``folder``/f_####.png; wall seconds."""
    import bpy

    scene.render.engine = engine
    scene.render.filepath = os.path.join(folder, "f_")
    scene.render.use_file_extension = True  # f_0001.png (the dataset's set-up writes exact names)
    began = time.perf_counter()
    bpy.ops.render.render(animation=True)
    return time.perf_counter() - began


def psnr(a, b) -> float:
    import numpy as np

    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * math.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="trained run folder (default: a 1-epoch model, speed only)")
    parser.add_argument("--resolution", type=int, default=256, help="of the quick model (default 256)")
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--references", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ["BLENDERCNN_PYTHON"] = sys.executable  # the interpreter with TensorFlow

    import bpy
    import numpy as np
    from PIL import Image

    import blendercnn_addon
    from blendercnn_addon.blender import engine_worker, renderer
    from blendercnn_addon.run_config import read_run_config
    from blendercnn_addon.settings import GenerationSettings

    with tempfile.TemporaryDirectory() as folder:
        run = args.model or make_run(folder, args.resolution)
        resolution = read_run_config(run).resolution
        blendercnn_addon.register()
        bpy.ops.blendercnn.setup_scene()
        scene = bpy.context.scene
        scene.blendercnn.preview_model = run
        renderer.prepare_render(scene, GenerationSettings.from_preset("default", out_dir=folder,
                                                                      resolution=resolution))
        keyframe_animation(scene, args.frames, args.seed)
        scene.render.engine = "BLENDERCNN"
        began = time.perf_counter()
        scene.render.filepath = os.path.join(folder, "warm.png")
        bpy.ops.render.render(write_still=True)  # loads the model: not part of the animation's time
        load_s = time.perf_counter() - began
        ours = render_animation(scene, "BLENDERCNN", os.path.join(folder, "engine"))
        cycles = render_animation(scene, "CYCLES", os.path.join(folder, "cycles"))
        step = max(1, args.frames // args.references)
        picked = list(range(1, args.frames + 1, step))[:args.references]
        renderer.prepare_render(scene, GenerationSettings.from_preset("reference", out_dir=folder,
                                                                      resolution=resolution))
        scores, cycles_scores = [], []
        for frame in picked:
            scene.frame_set(frame)
            path = os.path.join(folder, f"reference_{frame}.png")
            scene.render.filepath = path
            bpy.ops.render.render(write_still=True)
            reference = np.asarray(Image.open(path).convert("RGB"))
            for name, kept in (("engine", scores), ("cycles", cycles_scores)):
                kept.append(psnr(np.asarray(Image.open(os.path.join(folder, name, f"f_{frame:04d}.png"))
                                            .convert("RGB")), reference))
        worker = engine_worker.current()
        linear_from = worker.ready.get("linear_from") if worker else None
        engine_worker.stop()
    print(f"model: {run if args.model else 'a 1-epoch model (speed only)'}")
    print(f"resolution: {resolution}")
    print(f"frames: {args.frames}")
    print(f"engine_linear_from: {linear_from}")
    print(f"engine_load_s: {load_s:.1f}")
    print(f"engine_seconds: {ours:.2f}")
    print(f"cycles_default_seconds: {cycles:.2f}")
    print(f"engine_fps: {args.frames / ours:.1f}")
    print(f"cycles_default_fps: {args.frames / cycles:.2f}")
    print(f"engine_over_cycles: {cycles / ours:.1f}")
    print(f"engine_psnr_db: {statistics.mean(scores):.2f}")
    print(f"engine_psnr_db_min: {min(scores):.2f}")
    print(f"cycles_default_psnr_db: {statistics.mean(cycles_scores):.2f}")


if __name__ == "__main__":
    main()
