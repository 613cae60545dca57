"""Preview latency: vector → pixels in the ``BlenderCNN Preview`` datablock, against a real render.

Makes a small dataset and a 1-epoch model at the given resolution with the CLI
(what is learnt does not change the speed), then, inside Blender (the bpy
module, add-on registered from this checkout), asks the preview worker for one
vector at a time as a script does (``PreviewSession.show_now``: the request the
panel's sliders send, then a wait that wakes when the answer arrives) and times
each until its pixels are in the image datablock. In a window Blender's timer picks
the answer up instead; ``make gui-test`` measures that. The same vectors are then rendered by Cycles
with the dataset's settings (Render Real's code path). Prints one
``name: value`` line per figure; ``render_over_preview_p50`` is how many times
faster the preview is than rendering.

Usage: python benchmarks/preview_latency.py [--resolution 256] [--requests 40] [--renders 5]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "blendercnn_addon", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def make_run(folder: str, resolution: int) -> str:
    data, run = os.path.join(folder, "data"), os.path.join(folder, "run")
    cli("generate", "--out", data, "--count", "8", "--resolution", str(resolution), "--quiet")
    cli("train", "--data", data, "--out", run, "--epochs", "1", "--batch-size", "4")
    return run


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--renders", type=int, default=5)
    args = parser.parse_args()
    os.environ["BLENDERCNN_PYTHON"] = sys.executable  # the interpreter with TensorFlow

    import bpy

    import blendercnn_addon
    from blendercnn_addon.blender import background, real_render
    from blendercnn_addon.run_config import read_run_config

    with tempfile.TemporaryDirectory() as folder:
        run = make_run(folder, args.resolution)
        blendercnn_addon.register()
        bpy.ops.blendercnn.setup_scene()
        scene = bpy.context.scene
        scene.blendercnn.preview_model = run
        assert bpy.ops.blendercnn.load_preview() == {"FINISHED"}
        status = bpy.context.window_manager.blendercnn_preview
        while status.state != "READY" or background.get("preview").busy:
            assert status.state != "ERROR", status.message
            time.sleep(background.poll() or 0.01)
        session = background.get("preview")
        rng = random.Random(0)
        vectors = [[rng.random(), rng.random(), rng.random(), rng.uniform(-1, 1), rng.uniform(-1, 1)]
                   for _ in range(args.requests + 1)]
        latencies = []
        for vector in vectors:  # as a script would: ask, and wait until the pixels are in
            began = time.perf_counter()
            session.show_now(vector)
            latencies.append((time.perf_counter() - began) * 1000.0)
        latencies = latencies[1:]  # the first one after loading is a warm-up
        shown = list(session.shown)[-args.requests:]
        config = read_run_config(run)
        renders = []
        for vector in vectors[:args.renders + 1]:
            began = time.perf_counter()
            real_render.render_real(scene, vector, config)
            renders.append((time.perf_counter() - began) * 1000.0)
        renders = renders[1:]  # the first render syncs the scene and loads kernels
        background.stop_all()
    p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
    render_ms = statistics.median(renders)
    print(f"resolution: {args.resolution}")
    print(f"preview_device: {status.device}")
    print(f"preview_p50_ms: {p50:.1f}")
    print(f"preview_p95_ms: {p95:.1f}")
    def median_ms(values):
        return statistics.median(values) * 1000.0

    # Where the time goes (medians, ms): the worker's forward pass; the parts of ShownImage.breakdown_ms.
    print(f"worker_inference_p50_ms: {median_ms([s.inference_s for s in shown]):.1f}")
    parts = [s.breakdown_ms() for s in shown]
    for key in parts[0]:
        print(f"{key}_p50_ms: {statistics.median(p[key] for p in parts):.1f}")
    print(f"render_ms: {render_ms:.0f}")
    print(f"render_over_preview_p50: {render_ms / p50:.1f}")


if __name__ == "__main__":
    main()
