"""One render worker process: open a saved copy of the scene, render the indices it is sent.

Started by :class:`.parallel.LocalRenderPool` as ``python -m blendercnn_addon render-worker
JOB.json`` (the bpy module) or as ``blender -b COPY.blend --python-expr ...`` from inside
Blender. Speaks the JSON-lines protocol of protocol.py:

    parent → worker (stdin):   {"command": "render", "index": i}   {"command": "stop"}
    worker → parent (stdout):  {"event": "ready", "pid": p, "device": "CPU", "threads": t}
                               {"event": "rendered", "index": i, "seconds": s, "rss_mb": m}
                               {"event": "recycle", "rendered": k}   (then exits 0)

An image appears under its final name only once it is complete (DatasetFolder.commit_image),
so killing a worker at any moment loses at most the image it was rendering.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import replace

import bpy

from . import renderer
from ..dataset_format import DatasetFolder
from ..png_check import DamagedImage
from ..processes.protocol import decode, encode
from ..randomization import noise_seed, sample_vector
from ..settings import GenerationSettings
from ..processes.workers import exit_with_parent


def write_job(path: str, settings: GenerationSettings, blend_copy: str, scene_name: str, denoiser: str,
              threads: int) -> None:
    """The file a worker is started with: what to render and how."""
    job = {"settings": settings.to_dict(), "blend": blend_copy, "scene": scene_name, "denoiser": denoiser,
           "threads": threads}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(job, handle)


def resident_mb() -> float:
    """This process's resident memory in MiB (Linux /proc; elsewhere the peak from getrusage)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


class SceneRenderer:
    """A scene opened from a saved copy, configured once, rendering sample after sample."""

    def __init__(self, job: dict):
        # The coordinator's resolved denoiser: every process renders with the same one.
        self.settings = replace(GenerationSettings.from_dict(job["settings"]), denoiser=job["denoiser"])
        bpy.ops.wm.open_mainfile(filepath=job["blend"], load_ui=False)
        self.scene = bpy.data.scenes[job["scene"]]
        self.setup = renderer.prepare_render(self.scene, self.settings, threads=job["threads"])
        self.device, self.notes = self.setup.device, self.setup.notes
        self.threads = job["threads"]
        self.folder = DatasetFolder(self.settings.out_dir)

    def _render_into(self, index: int, path: str) -> None:
        seed = self.settings.seed
        renderer.render_vector(self.scene, self.setup, sample_vector(seed, index, self.settings.vectors), path,
                               noise_seed(seed, index))

    def render(self, index: int) -> float:
        """Render sample ``index`` into the dataset folder; returns the seconds it took."""
        began = time.monotonic()
        self._render_into(index, self.folder.temp_image_path(index))
        self.folder.commit_image(index, self.settings.resolution)
        return time.monotonic() - began

    def render_to_bytes(self, index: int) -> tuple[bytes, float]:
        """Render sample ``index`` into memory (PNG bytes) for a remote coordinator; (png, seconds)."""
        began = time.monotonic()
        path = os.path.join(bpy.app.tempdir, f"blendercnn-{os.getpid()}-{index}.png")
        self._render_into(index, path)
        with open(path, "rb") as handle:
            data = handle.read()
        os.remove(path)
        return data, time.monotonic() - began


def serve(job_path: str) -> int:
    """The worker's main loop; returns the exit code (0: stopped, recycled or stdin closed; 1: an
    image could not be written whole, with the reason on stderr, which goes to the worker's log)."""
    exit_with_parent()
    # Ctrl-C in a terminal reaches the whole process group: the coordinator decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(job_path, encoding="utf-8") as handle:
        job = json.load(handle)
    worker = SceneRenderer(job)
    send = sys.stdout.write
    send(encode({"event": "ready", "pid": os.getpid(), "device": worker.device, "threads": worker.threads,
                 "notes": worker.notes, "rss_mb": resident_mb()}))
    sys.stdout.flush()
    rendered = 0
    for line in sys.stdin:
        message = decode(line)
        if message is None:
            continue
        if message.get("command") == "stop":
            break
        index = int(message["index"])
        try:
            seconds = worker.render(index)
        except (DamagedImage, OSError) as err:
            sys.stderr.write(f"error: {err}\n")
            return 1
        rendered += 1
        send(encode({"event": "rendered", "index": index, "seconds": seconds, "rss_mb": resident_mb()}))
        sys.stdout.flush()
        if rendered >= worker.settings.recycle_every:
            send(encode({"event": "recycle", "rendered": rendered}))
            sys.stdout.flush()
            break
    return 0
