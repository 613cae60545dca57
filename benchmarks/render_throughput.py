"""Dataset rendering throughput and quality: the seed's settings against the project's defaults.

Renders the same K vectors (dataset seed 0, samples 1..K) at 256 x 256
- with the seed's settings: one process, 32 samples, no denoising;
- with the project's defaults: the "default" preset on the default local workers
  (one per two cores: on 2 cores, one 2-thread process), start-up included in the wall time;
- for comparison, the same on one 1-thread worker process per core;
- for the first few of them, a 1024-sample, high-quality-denoised reference;
and, for memory, 2,000 images at 64 x 64 with the default workers, recording each
worker process's resident memory after every image.

Prints one ``name: value`` line per figure: images_per_s_seed, images_per_s_default,
images_per_s_one_worker_per_core, speedup, psnr_seed_db, psnr_default_db (against the reference), worker_peak_rss_mb,
worker_mem_growth_pct (largest growth of any worker process from its first image to its
last), and the settings behind them.

Usage: python benchmarks/render_throughput.py [--count 20] [--reference 3] [--memory-images 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from blendercnn_addon.metrics import psnr_from_mse  # noqa: E402

from blendercnn_addon.blender.generator import make_job  # noqa: E402
from blendercnn_addon.processes.parallel import default_workers  # noqa: E402
from blendercnn_addon.blender.scene_setup import build_seed_scene  # noqa: E402
from blendercnn_addon.settings import GenerationSettings  # noqa: E402


def render(folder: str, preset: str, count: int, resolution: int = 256, background: bool = False,
           **overrides) -> tuple[float, object]:
    """Render samples 0..count-1 into ``folder``; (wall seconds, the finished job).
    ``background``: in worker processes even when there is one (as the panel does)."""
    settings = GenerationSettings.from_preset(preset, out_dir=folder, count=count, resolution=resolution,
                                              **overrides)
    job = make_job(bpy.context.scene, settings, quiet=True, background=background)
    began = time.perf_counter()
    job.run()
    return time.perf_counter() - began, job


def psnr_db(folder: str, reference: str, indices) -> float:
    """PSNR (dB) of the PNGs in ``folder`` against ``reference`` over ``indices``, pixels in [0, 1]."""
    def load(path):
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0

    mse = np.mean([np.mean((load(f"{folder}/sample_{i}.png") - load(f"{reference}/sample_{i}.png")) ** 2)
                   for i in indices])
    return psnr_from_mse(float(mse))


def memory_growth(trace) -> tuple[float, float]:
    """(peak resident MiB, largest growth in % of any worker process from its first image to its last)."""
    by_process: dict = {}
    process = {}
    for slot, images_done, rss in trace:  # images_done restarts at 1 in a fresh (recycled) process
        if images_done == 1:
            process[slot] = process.get(slot, -1) + 1
        by_process.setdefault((slot, process[slot]), []).append(rss)
    growth = max(100.0 * (values[-1] - values[0]) / values[0] for values in by_process.values())
    return max(rss for _, _, rss in trace), growth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="vectors rendered both ways (default 20)")
    parser.add_argument("--reference", type=int, default=3, help="of them, how many get a reference (default 3)")
    parser.add_argument("--reference-samples", type=int, default=1024)
    parser.add_argument("--memory-images", type=int, default=2000, help="64 x 64 images of the memory run")
    parser.add_argument("--workers", type=int, default=default_workers())
    args = parser.parse_args()
    build_seed_scene(bpy.context.scene)
    with tempfile.TemporaryDirectory(prefix="blendercnn-throughput-") as tmp:
        seed_s, _ = render(f"{tmp}/seed", "seed", args.count, workers=1)
        default_s, default_job = render(f"{tmp}/default", "default", args.count, workers=args.workers)
        per_core_s, _ = render(f"{tmp}/per-core", "default", args.count, workers=os.cpu_count() or 1, threads=1)
        _, _ = render(f"{tmp}/reference", "reference", args.reference, samples=args.reference_samples, workers=1)
        indices = range(1, args.reference + 1)  # the seed's numbering
        print(f"workers: {args.workers}")
        print(f"threads_per_worker: {default_job.settings.threads_per_worker()}")
        print(f"default_samples: {default_job.settings.samples}")
        print(f"default_denoiser: {default_job._denoiser} {default_job.settings.denoise_quality} "
              f"prefilter {default_job.settings.denoise_prefilter}")
        print(f"images_per_s_seed: {args.count / seed_s:.3f}")
        print(f"images_per_s_default: {args.count / default_s:.3f}")
        print(f"images_per_s_one_worker_per_core: {args.count / per_core_s:.3f}")
        print(f"speedup: {seed_s / default_s:.2f}")
        print(f"psnr_seed_db: {psnr_db(f'{tmp}/seed', f'{tmp}/reference', indices):.2f}")
        print(f"psnr_default_db: {psnr_db(f'{tmp}/default', f'{tmp}/reference', indices):.2f}", flush=True)
        memory_s, memory_job = render(f"{tmp}/memory", "default", args.memory_images, resolution=64,
                                      background=True, workers=args.workers)
        peak, growth = memory_growth(memory_job.pool.stats.rss_trace)
        print(f"memory_run_images_per_s_64: {args.memory_images / memory_s:.1f}")
        print(f"memory_run_processes: {memory_job.pool.stats.started}")
        print(f"worker_peak_rss_mb: {peak:.0f}")
        print(f"worker_mem_growth_pct: {growth:.1f}")


if __name__ == "__main__":
    main()
