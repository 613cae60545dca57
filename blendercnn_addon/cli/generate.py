"""``generate`` (and the internal ``render-worker``): render a dataset. The arguments are checked here,
Blender-free, before anything imports bpy; the rendering itself is blender/headless.py's."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import time

from ..architectures import default_resolution_problem
from ..errors import UserError
from ..processes.parallel import default_workers
from ..demo_scenes import DEMO_SCENES, demo_scene
from ..parameters import layout_from_params, read_params_file
from ..randomization import COLOUR_SCHEMES, VectorSpec
from ..recommendation import (SEED_COUNT, TOLERANCE_DB, TRAINING_PRESETS, count_note, default_count,
                              recommendations_text, recommended_preset)
from ..settings import (DEFAULT_PRESET, DEFAULT_RESOLUTION, DENOISE_PASSES, DENOISE_PREFILTERS, DENOISE_QUALITIES,
                        DENOISERS, MAX_RESOLUTION, MIN_RESOLUTION, RENDER_DEVICES, RENDER_PRESETS, SAMPLING_PATTERNS,
                        GenerationSettings, SceneTarget)
from ..text import format_duration
from ..vector import RANGED_FIELDS
from .arguments import folder_argument, number, shard

EXIT_INTERRUPTED = 130


def add_commands(commands) -> None:
    """generate and render-worker."""
    gen = commands.add_parser(
        "generate", help="render a dataset of N samples (resumable: re-run the same command to finish it)",
        description="Render N samples of the glowing-ball scene into DIR: sample_<i>.png, metadata.json, "
                    "vectors.csv and the dataset card dataset.json. Re-running the same command after a "
                    "crash or cancel renders only the missing samples.")
    _add_dataset_arguments(gen)
    _add_render_arguments(gen.add_argument_group("render quality (the --preset's, unless given)"))
    _add_process_arguments(gen.add_argument_group("processes"))
    _add_vector_arguments(gen.add_argument_group("the vectors (vector.py's fields)"))
    _add_scene_arguments(gen.add_argument_group("the scene"))
    gen.set_defaults(handler=generate)

    worker = commands.add_parser("render-worker", help="(internal) one render process of generate --workers")
    worker.add_argument("job", metavar="JOB.json")
    worker.set_defaults(handler=render_worker)


def _add_dataset_arguments(group) -> None:
    """Where, how many, how big, which seed."""
    group.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing; must be "
                       "empty or hold a dataset made with the same settings)")
    group.add_argument("--count", type=int, default=None, metavar="N",
                       help=f"number of samples (default: the renders that train the same model as the most "
                            f"measured, within {TOLERANCE_DB} dB, by the learning curve nearest the resolution: "
                            f"{recommendations_text()}; else {SEED_COUNT}, the seed's)")
    group.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION, metavar="R",
                       help=f"square image size in pixels, {MIN_RESOLUTION}..{MAX_RESOLUTION} "
                            f"(default {DEFAULT_RESOLUTION})")


def _add_render_arguments(group) -> None:
    """How Cycles renders."""
    group.add_argument("--preset", choices=tuple(RENDER_PRESETS), default=DEFAULT_PRESET,
                       help="render quality: " + "; ".join(f"{name}: {p.description}" for name, p in RENDER_PRESETS.items())
                       .replace("%", "%%") + " (default %(default)s; the panel starts at the renders measured to "
                       "train best at the resolution: " + ", ".join(f"{c.preset} at {r}²" for r, c in
                                                                    TRAINING_PRESETS.items()) + ")")
    group.add_argument("--samples", type=int, metavar="S", help="Cycles samples per pixel (default: the preset's)")
    group.add_argument("--seed", type=int, default=0, metavar="K",
                       help="dataset seed: sample i's vector and noise depend on (K, i) only (default 0)")
    group.add_argument("--denoiser", choices=DENOISERS,
                       help="Cycles denoiser; falls back to none with a note if this Blender lacks it "
                            "(default: the preset's)")
    group.add_argument("--denoise-quality", choices=DENOISE_QUALITIES, help="OpenImageDenoise quality "
                       "(default: the preset's)")
    group.add_argument("--denoise-prefilter", choices=DENOISE_PREFILTERS, help="OpenImageDenoise prefilter "
                       "(default: the preset's)")
    group.add_argument("--denoise-passes", choices=DENOISE_PASSES, help="what the denoiser sees besides colour "
                       "(default: the preset's)")
    group.add_argument("--sampling-pattern", choices=SAMPLING_PATTERNS, help="Cycles' sample sequence "
                       "(default: the preset's)")
    group.add_argument("--device", choices=RENDER_DEVICES, default="CPU",
                       help="CPU, PREFERENCES (Blender's Cycles device preference) or a GPU backend; no GPU "
                            "found means the CPU, with a note (default CPU)")


def _add_process_arguments(group) -> None:
    """Which processes render: local workers, shards, Ray."""
    group.add_argument("--workers", type=int, metavar="W", help="local render processes (default: one per two "
                       "CPU cores; 1 renders in this process); with --backend ray: actors (default: one per "
                       "cluster CPU)")
    group.add_argument("--threads", type=int, default=0, metavar="T",
                       help="Cycles threads per process (default 0: the cores shared out among the workers)")
    group.add_argument("--recycle-every", type=int, default=500, metavar="K",
                       help="a worker process is replaced by a fresh one after K images (default 500)")
    group.add_argument("--shard", type=shard, default=(0, 1), metavar="I/N",
                       help="render only samples i with i %% N == I, for array jobs; every shard writes "
                            "the whole folder's tables (default 0/1: all)")
    group.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: worker processes on this machine; ray: actors on a Ray cluster "
                            "(pip install ray) (default local)")
    group.add_argument("--ray-address", metavar="ADDR", default=None,
                       help="Ray cluster to join, e.g. 10.0.0.5:6379 or auto (default: start one here)")


def _add_vector_arguments(group) -> None:
    """What each sample's vector is drawn from."""
    group.add_argument("--colour-scheme", choices=COLOUR_SCHEMES, default="vibrant",
                       help="vibrant: one channel 1, one 0, one random (the seed's); uniform: any RGB; for "
                            "evaluation sets: pastel, dim, near_white, or unseen (those four in turn)")
    group.add_argument("--exclude-quadrant", action="store_true",
                       help="never put the ball where x > 0 and y > 0 (train there, test with --x-range 0 1 "
                            "--y-range 0 1)")
    group.add_argument("--param", action="append", metavar="PATH=MIN:MAX", dest="params_given",
                       help="a Blender property the vectors set, by its data path from bpy.data, drawn "
                            "uniformly from MIN..MAX, e.g. 'objects[\"Ball\"].location[2]=0.3:0.8'; "
                            "PATH=colour: a colour drawn by --colour-scheme. Repeat it for more; the "
                            "parameters given replace the default five (r, g, b, x, y)")
    group.add_argument("--params", metavar="FILE.json", dest="params_file",
                       help="the parameters from a file: {\"parameters\": [{\"path\": ..., \"min\": ..., "
                            "\"max\": ..., \"name\": ..., \"label\": ...}, ...]} (a colour: \"colour\": true)")
    for spec in RANGED_FIELDS:  # --x-range, --y-range: vector.py's table
        group.add_argument(f"--{spec.name}-range", type=number, nargs=2, default=None,
                           metavar=("MIN", "MAX"), dest=f"{spec.name}_range",
                           help=f"range of {spec.description[0].lower()}{spec.description[1:]} "
                                f"(default {spec.default_range[0]:g} {spec.default_range[1]:g})")


def _add_scene_arguments(group) -> None:
    """Which scene, and what a vector changes in it."""
    group.add_argument("--blend", metavar="FILE", help="render this .blend instead of building the seed's scene")
    group.add_argument("--demo-scene", choices=tuple(DEMO_SCENES), default=None,
                       help="build this scene instead of the seed's ball room, and vary its parameters unless "
                            "--param says otherwise: " + "; ".join(f"{s.name}: {s.description}" for s in
                                                                  DEMO_SCENES.values()))
    group.add_argument("--scene", metavar="NAME", help="scene of the --blend file to render (default: its active one)")
    group.add_argument("--object", default="Ball", help="object whose x, y are set (default Ball)")
    group.add_argument("--material", default="Glow", help="material holding the emission node (default Glow)")
    group.add_argument("--node", default="Emission", help="node whose colour is set (default Emission)")
    group.add_argument("--quiet", action="store_true", help="print only errors and the final summary")



def vector_spec_from_args(args: argparse.Namespace) -> VectorSpec:
    """What the vectors are drawn from: --param / --params (replacing the default five) or the
    default layout with --x-range / --y-range; UserError for a bad parameter or a mix."""
    ranges = {f.name: tuple(getattr(args, f"{f.name}_range")) for f in RANGED_FIELDS
              if getattr(args, f"{f.name}_range") is not None}
    given = getattr(args, "params_given", None)
    path = getattr(args, "params_file", None)
    demo = getattr(args, "demo_scene", None)
    if not given and not path and demo is not None and not ranges:
        return VectorSpec({}, args.colour_scheme, args.exclude_quadrant, demo_scene(demo).layout())
    if not given and not path:
        return VectorSpec(ranges, args.colour_scheme, args.exclude_quadrant)
    if given and path:
        raise UserError("give the parameters either with --param or with --params FILE.json, not both")
    if ranges:
        raise UserError(f"--{next(iter(ranges))}-range sets the default parameters' range; with --param or "
                        "--params, give each range there")
    layout = read_params_file(path) if path else layout_from_params(given)
    return VectorSpec({}, args.colour_scheme, args.exclude_quadrant, layout)


def settings_from_args(args: argparse.Namespace) -> GenerationSettings:
    if args.demo_scene and args.blend:
        raise UserError("--demo-scene builds a scene; --blend renders yours: give one of them")
    quality = {name: value for name, value in (
        ("samples", args.samples), ("denoiser", args.denoiser), ("denoise_quality", args.denoise_quality),
        ("denoise_prefilter", args.denoise_prefilter), ("denoise_passes", args.denoise_passes),
        ("sampling_pattern", args.sampling_pattern)) if value is not None}
    return GenerationSettings.from_preset(
        args.preset,
        **quality,
        out_dir=folder_argument(args.out),
        count=default_count(args.resolution) if args.count is None else args.count,
        resolution=args.resolution,
        seed=args.seed,
        device=args.device,
        workers=default_workers() if args.workers is None else args.workers,
        threads=args.threads,
        recycle_every=args.recycle_every,
        shard_index=args.shard[0],
        shard_count=args.shard[1],
        vectors=vector_spec_from_args(args),
        target=SceneTarget(args.object, args.material, args.node),
        blend_file=os.path.abspath(args.blend) if args.blend else None,
        **({"demo_scene": args.demo_scene} if args.demo_scene else {}),
    )


class TerminalProgress:
    """One status line on stderr: rewritten in place on a terminal, every ~10 s in a log."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.interactive = sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, job, index) -> None:
        now = time.monotonic()
        last_one = job.finished
        if self.quiet or (not last_one and now - self._last < (0.2 if self.interactive else 10.0)):
            return
        self._last = now
        eta = job.eta_seconds()
        per_image = job.seconds_per_image()
        line = (f"[{job.done}/{job.total}] sample_{index}.png  "
                f"{per_image:.2f} s/image  ETA {format_duration(eta)}") if per_image else f"[{job.done}/{job.total}]"
        end = "\n" if last_one or not self.interactive else ""
        sys.stderr.write(("\r\033[K" if self.interactive else "") + line + end)
        sys.stderr.flush()


@contextlib.contextmanager
def _stopped_by_signals(stop: threading.Event):
    """While inside: the first Ctrl-C or SIGTERM sets ``stop`` (the job ends after the image it is
    rendering, leaving a folder that resumes); a second Ctrl-C raises KeyboardInterrupt at once.

    A flag, not an exception: Cycles' render callback catches a KeyboardInterrupt raised inside
    it, prints it and renders on, so an exception would never reach the job."""
    def first(signum, frame):
        if not stop.is_set():
            sys.stderr.write("\nstopping after the current image (Ctrl-C again to stop at once)\n")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {sig: signal.signal(sig, first) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _note_better_renders(count: int, resolution: int, quiet: bool, preset: str | None = None) -> None:
    """One line when the learning curve says far fewer renders make the same model, and one when
    another preset's renders were measured to train better at this resolution (recommendation.py)."""
    fewer = count_note(count, resolution)
    if fewer and not quiet:
        sys.stderr.write(f"note: {fewer}\n")
    choice = recommended_preset(resolution)
    if preset is not None and preset != choice.preset and not quiet:
        sys.stderr.write(f"note: --preset {choice.preset} {choice.reason}\n")


def generate(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    settings.validate()  # before importing bpy: bad input answers fast and writes nothing
    if args.backend == "ray":
        blender_side("ray_backend").check_ray(args.ray_address)
    problem = default_resolution_problem(settings.resolution)
    if problem:  # a warning, not a refusal (architectures.py); repeated with the notes at the end
        sys.stderr.write(f"warning: {problem}\n")
    stop, job = threading.Event(), None
    try:
        with _stopped_by_signals(stop):  # from here to the end of the run, Ctrl-C ends cleanly
            job = blender_side("headless").generation_job(settings, args.scene, args.backend, args.ray_address,
                                                          args.workers)
            if not stop.is_set():
                job.run(on_progress=TerminalProgress(args.quiet), should_stop=stop.is_set,
                        on_start=lambda: _note_better_renders(settings.count, settings.resolution, args.quiet,
                                                             args.preset))
    except KeyboardInterrupt:  # a second Ctrl-C, during an image
        stop.set()
    if stop.is_set():
        state = f"{job.done}/{job.total} samples on disk" if job is not None else "nothing written"
        sys.stderr.write(f"\ninterrupted: {state}; run the same command again to finish\n")
        return EXIT_INTERRUPTED
    for note in job.notes:
        sys.stderr.write(f"note: {note}\n")
    shard = f" (shard {settings.shard_index}/{settings.shard_count})" if settings.shard_count > 1 else ""
    print(f"dataset {settings.out_dir}{shard}: {job.done}/{job.total} samples "
          f"({job.rendered_now} rendered now, {job.done - job.rendered_now} already there)"
          + job.worker_summary())
    return 0


def render_worker(args: argparse.Namespace) -> int:
    return blender_side("render_worker").serve(args.job)


def blender_side(module: str):
    """blendercnn_addon.blender.``module``, imported once the input is checked; one line when this
    Python has no Blender (``bpy``)."""
    try:
        return importlib.import_module(f"..blender.{module}", __package__)
    except ImportError as err:
        if err.name != "bpy":
            raise
        raise UserError("generate needs Blender's bpy module: pip install bpy==5.2.3 (Python 3.13), "
                        "or run it inside Blender: blender -b -c blendercnn generate ...") from None
