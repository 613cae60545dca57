"""Command line: ``python -m blendercnn_addon <command>`` and ``blender -c blendercnn <command>``.

Both routes call :func:`main`. Errors print one readable line on stderr and give
a non-zero exit code; ``--help`` documents every option. ``bpy`` is imported only
by the commands that render, after their input has been checked, so
``--help`` and bad input answer at once and without Blender.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time

from .errors import UserError
from .architectures import ARCHITECTURES, AUTO, PREFERRED, default_resolution_problem
from .randomization import COLOUR_SCHEMES, VectorSpec
from .recommendation import TOLERANCE_DB, count_note, recommendations_text
from .text import format_duration
from .vector import VECTOR_FIELDS
from .parallel import default_workers
from .settings import (DEFAULT_PRESET, DEFAULT_RESOLUTION, DENOISE_PASSES, DENOISE_PREFILTERS, DENOISE_QUALITIES,
                       DENOISERS, MAX_RESOLUTION, MIN_RESOLUTION, RENDER_DEVICES, RENDER_PRESETS, SAMPLING_PATTERNS,
                       GenerationSettings, SceneTarget)

EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (not usage + message) and never calls sys.exit."""

    def error(self, message):
        raise UserError(f"{message} (see {self.prog} --help)")

    def exit(self, status=0, message=None):
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def _range(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def build_parser(prog: str = "python -m blendercnn_addon") -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=prog, description="BlenderCNN: render vector-to-image datasets with Blender.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    commands.required = True

    gen = commands.add_parser(
        "generate", help="render a dataset of N samples (resumable: re-run the same command to finish it)",
        description="Render N samples of the glowing-ball scene into DIR: sample_<i>.png, metadata.json, "
                    "vectors.csv and the dataset card dataset.json. Re-running the same command after a "
                    "crash or cancel renders only the missing samples.")
    gen.add_argument("--out", required=True, metavar="DIR", help="output folder (created if missing; must be "
                     "empty or hold a dataset made with the same settings)")
    gen.add_argument("--count", type=int, default=10_000, metavar="N",
                     help=f"number of samples (default 10000, the seed's; renders that train the same model "
                          f"within {TOLERANCE_DB} dB, by the measured learning curves: {recommendations_text()})")
    gen.add_argument("--resolution", type=int, default=DEFAULT_RESOLUTION, metavar="R",
                     help=f"square image size in pixels, {MIN_RESOLUTION}..{MAX_RESOLUTION} "
                          f"(default {DEFAULT_RESOLUTION})")
    gen.add_argument("--preset", choices=tuple(RENDER_PRESETS), default=DEFAULT_PRESET,
                     help="render quality: " + "; ".join(f"{name}: {p.description}" for name, p in RENDER_PRESETS.items())
                     .replace("%", "%%") + " (default %(default)s)")
    gen.add_argument("--samples", type=int, metavar="S", help="Cycles samples per pixel (default: the preset's)")
    gen.add_argument("--seed", type=int, default=0, metavar="K",
                     help="dataset seed: sample i's vector and noise depend on (K, i) only (default 0)")
    gen.add_argument("--denoiser", choices=DENOISERS,
                     help="Cycles denoiser; falls back to none with a note if this Blender lacks it "
                          "(default: the preset's)")
    gen.add_argument("--denoise-quality", choices=DENOISE_QUALITIES, help="OpenImageDenoise quality "
                     "(default: the preset's)")
    gen.add_argument("--denoise-prefilter", choices=DENOISE_PREFILTERS, help="OpenImageDenoise prefilter "
                     "(default: the preset's)")
    gen.add_argument("--denoise-passes", choices=DENOISE_PASSES, help="what the denoiser sees besides colour "
                     "(default: the preset's)")
    gen.add_argument("--sampling-pattern", choices=SAMPLING_PATTERNS, help="Cycles' sample sequence "
                     "(default: the preset's)")
    gen.add_argument("--device", choices=RENDER_DEVICES, default="CPU",
                     help="CPU, PREFERENCES (Blender's Cycles device preference) or a GPU backend; no GPU "
                          "found means the CPU, with a note (default CPU)")
    gen.add_argument("--workers", type=int, metavar="W", help="local render processes (default: one per two "
                     "CPU cores; 1 renders in this process); with --backend ray: actors (default: one per "
                     "cluster CPU)")
    gen.add_argument("--threads", type=int, default=0, metavar="T",
                     help="Cycles threads per process (default 0: the cores shared out among the workers)")
    gen.add_argument("--recycle-every", type=int, default=500, metavar="K",
                     help="a worker process is replaced by a fresh one after K images (default 500)")
    gen.add_argument("--shard", type=_shard, default=(0, 1), metavar="I/N",
                     help="render only samples i with i %% N == I, for array jobs; every shard writes "
                          "the whole folder's tables (default 0/1: all)")
    gen.add_argument("--backend", choices=("local", "ray"), default="local",
                     help="local: worker processes on this machine; ray: actors on a Ray cluster "
                          "(pip install ray) (default local)")
    gen.add_argument("--ray-address", metavar="ADDR", default=None,
                     help="Ray cluster to join, e.g. 10.0.0.5:6379 or auto (default: start one here)")
    gen.add_argument("--colour-scheme", choices=COLOUR_SCHEMES, default="vibrant",
                     help="vibrant: one channel 1, one 0, one random (the seed's); uniform: any RGB; for "
                          "evaluation sets: pastel, dim, near_white, or unseen (those four in turn)")
    gen.add_argument("--exclude-quadrant", action="store_true",
                     help="never put the ball where x > 0 and y > 0 (train there, test with --x-range 0 1 "
                          "--y-range 0 1)")
    gen.add_argument("--x-range", type=_range, nargs=2, default=(-1.0, 1.0), metavar=("MIN", "MAX"),
                     help="ball x range in metres (default -1 1)")
    gen.add_argument("--y-range", type=_range, nargs=2, default=(-1.0, 1.0), metavar=("MIN", "MAX"),
                     help="ball y range in metres (default -1 1)")
    gen.add_argument("--blend", metavar="FILE", help="render this .blend instead of building the seed's scene")
    gen.add_argument("--scene", metavar="NAME", help="scene of the --blend file to render (default: its active one)")
    gen.add_argument("--object", default="Ball", help="object whose x, y are set (default Ball)")
    gen.add_argument("--material", default="Glow", help="material holding the emission node (default Glow)")
    gen.add_argument("--node", default="Emission", help="node whose colour is set (default Emission)")
    gen.add_argument("--quiet", action="store_true", help="print only errors and the final summary")
    gen.set_defaults(handler=_generate)

    worker = commands.add_parser("render-worker", help="(internal) one render process of generate --workers")
    worker.add_argument("job", metavar="JOB.json")
    worker.set_defaults(handler=_render_worker)

    tr = commands.add_parser(
        "train", help="train a model on a dataset (needs TensorFlow; no Blender)",
        description="Train a vector -> image Keras model (Adam, MSE) on a dataset folder into a run folder: "
                    "model.keras (best), last.keras, config.json, history.json, TensorBoard logs/. "
                    "Ctrl-C stops after the current batch and keeps the best model; --resume continues.")
    tr.add_argument("--data", required=True, metavar="DIR", help="dataset folder (ours or the seed's layout)")
    tr.add_argument("--out", required=True, metavar="RUN", help="run folder (new, or an old one with --resume)")
    tr.add_argument("--arch", default=AUTO, choices=(*ARCHITECTURES, AUTO),
                    help="architecture: " + "; ".join(f"{a.name}: {a.description}" for a in ARCHITECTURES.values())
                         + f"; {AUTO}: {PREFERRED} when the dataset has its baked view transform, as every dataset "
                         "this tool makes has, else seed (default %(default)s)")
    tr.add_argument("--epochs", type=int, default=50, help="maximum epochs (default 50; early stopping may end sooner)")
    tr.add_argument("--batch-size", type=int, help="default: the architecture's recipe ("
                    + ", ".join(f"{a.name} {a.batch_size_text()}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--learning-rate", type=float, help="Adam's initial rate (default: the architecture's recipe, "
                    + ", ".join(f"{a.name} {a.learning_rate:g}" for a in ARCHITECTURES.values()) + ")")
    tr.add_argument("--validation-fraction", type=float, default=0.1, help="held-out share (default 0.1)")
    tr.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation shuffle (default 0)")
    tr.add_argument("--seed", type=int, default=0, help="seed of weights and batch order (default 0)")
    tr.add_argument("--patience", type=int, default=5, help="early-stopping patience in epochs (default 5)")
    tr.add_argument("--time-budget", type=float, default=0.0, metavar="SECONDS",
                    help="stop after the first epoch that ends past this much training time (default 0: no limit)")
    tr.add_argument("--resume", action="store_true", help="continue the run in RUN from its last epoch")
    tr.add_argument("--follow", action="store_true",
                    help="train as it renders: start while generate is still writing DIR (once "
                         "32 images exist), each epoch on the images finished so far, the "
                         "validation split by a fixed rule on the sample index; once generate has ended, "
                         "go on over all of them with early stopping as usual")
    tr.add_argument("--follow-wait", type=float, default=60.0, metavar="SECONDS",
                    help="--follow on a folder where generate has not begun yet: how long to wait for it to "
                         "start writing (default 60)")
    tr.add_argument("--progress", choices=("bar", "json"), default="bar",
                    help="bar: a terminal progress bar; json: protocol lines on stdout, stop via stdin")
    tr.set_defaults(handler=_train)

    ev = commands.add_parser(
        "evaluate", help="metrics and a real | generated | difference grid on the run's validation split",
        description="Evaluate a trained run on the validation samples recorded in its config.json: MSE, mean "
                    "per-image PSNR, SSIM, PSNR inside the ball-and-glow mask. Writes metrics.json and "
                    "comparison.png (real | generated | difference x4).")
    ev.add_argument("--data", required=True, metavar="DIR", help="the dataset the model was trained on")
    ev.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    ev.add_argument("--out", metavar="DIR", help="where to write metrics.json and comparison.png (default: RUN)")
    ev.set_defaults(handler=_evaluate)

    pr = commands.add_parser(
        "predict", help="render images with a trained model, from a vector or a CSV of vectors",
        description="Generate images from vectors (r, g, b in 0..1; x, y inside the trained range).")
    pr.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    source = pr.add_mutually_exclusive_group(required=True)
    source.add_argument("--vector", metavar=",".join(VECTOR_FIELDS).upper(), help="one vector, comma-separated")
    source.add_argument("--vectors", metavar="CSV",
                        help=f"CSV with columns {','.join(VECTOR_FIELDS)} (and optionally name)")
    pr.add_argument("--out", required=True, help="PNG file for --vector, folder for --vectors")
    pr.set_defaults(handler=_predict)

    inv = commands.add_parser(
        "invert", help="estimate the vector (colour and position) a model draws as a picture",
        description="Find the ball's emission colour r, g, b and position x, y that the trained model draws as "
                    "the picture, by gradient descent through the model (ml/invert.py). Prints the vector and "
                    "how well its image fits the picture; a picture without the ball, or one the best fit "
                    "explains poorly, is refused in one line. The picture must have the model's resolution.")
    inv.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    picture = inv.add_mutually_exclusive_group(required=True)
    picture.add_argument("--image", metavar="FILE", help="one picture (PNG, the model's resolution)")
    picture.add_argument("--images", metavar="DIR", help="every .png in DIR")
    inv.add_argument("--out", metavar="PATH", help="--image: a .png for the fitted image (optional); --images: "
                     "the .csv to write (name,r,g,b,x,y,fit_psnr_db,mask_psnr_db,note; reads back with "
                     "predict --vectors)")
    inv.add_argument("--steps", type=int, default=None, help="descent steps (default: ml/invert.py's STEPS)")
    inv.set_defaults(handler=_invert)

    sv = commands.add_parser(
        "serve", help="keep a model loaded and answer JSON predict requests on stdin (the panel's Preview)",
        description="Load a trained run once, then read {\"command\": \"predict\", \"id\": N, \"vector\": "
                    f"[{', '.join(VECTOR_FIELDS)}]}} lines on stdin and answer each with one JSON line on "
                    "stdout holding the "
                    "image (see blendercnn_addon/ml/serve.py). Ends on {\"command\": \"stop\"} or end of input.")
    sv.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    sv.add_argument("--frame-file", metavar="PATH", help="write each image into this memory-mapped file "
                    "(RGBA float32, bottom row first, as Blender stores pixels) instead of base64 lines: "
                    "the panel's fast path")
    sv.set_defaults(handler=_serve)

    ce = commands.add_parser(
        "create-env", help="create a separate Python environment with the pinned TensorFlow, numpy, pillow",
        description="Make a virtual environment in DIR (with the Python running this command) and install "
                    "the pinned packages into it: what the panel's Create Environment button runs. Progress "
                    "is one JSON line per step on stdout; pip's output goes to stderr.")
    ce.add_argument("--dir", required=True, metavar="DIR", help="environment folder (new or empty)")
    ce.add_argument("--variant", choices=("cpu", "cuda"), default="cpu",
                    help="cpu: tensorflow-cpu; cuda: tensorflow[and-cuda] (Linux with an NVIDIA GPU)")
    ce.add_argument("--find-links", metavar="WHEELS", default=None,
                    help="install offline from this folder of wheels (pip --no-index --find-links); "
                         "default: $BLENDERCNN_WHEEL_FOLDER, else download from the package index")
    ce.set_defaults(handler=_create_env)
    return parser


def _create_env(args: argparse.Namespace) -> int:
    from .interpreter import check_wheel_folder, create_environment, wheel_folder
    from .protocol import JsonLinesWriter
    from .workers import exit_with_parent

    exit_with_parent()
    _folder_argument(args.dir, "--dir")
    if os.path.isdir(args.dir) and os.listdir(args.dir) and not os.path.exists(os.path.join(args.dir, "pyvenv.cfg")):
        raise UserError(f"{args.dir} is neither empty nor a Python environment; choose another folder")
    wheels = wheel_folder(args.find_links or "")
    if wheels:
        check_wheel_folder(wheels)  # before the folder is made: a wrong path leaves nothing behind
    create_environment(os.path.abspath(args.dir), args.variant, JsonLinesWriter(),
                       find_links=os.path.abspath(wheels) if wheels else "")
    return 0


def _quiet_tensorflow() -> None:
    """Import TensorFlow now, its start-up lines silenced (ml/tensorflow_import.py)."""
    from .ml.tensorflow_import import import_tensorflow_quietly

    import_tensorflow_quietly()


def _serve(args: argparse.Namespace) -> int:
    _quiet_tensorflow()
    from .protocol import JsonLinesWriter
    from .ml.serve import serve
    from .workers import exit_with_parent

    exit_with_parent()
    report = JsonLinesWriter()
    try:
        return serve(args.model, sys.stdin, report, frame_path=args.frame_file)
    except UserError as err:
        report("error", id=None, fatal=True, message=str(err))
        raise


def _evaluate(args: argparse.Namespace) -> int:
    data = _folder_argument(args.data, "--data")
    out = _folder_argument(args.out) if args.out is not None else None
    _quiet_tensorflow()
    from .ml.evaluate import evaluate

    metrics = evaluate(data, args.model, out)
    for key in ("samples", "mse", "psnr_db", "ssim", "psnr_mask_db"):
        print(f"{key}: {metrics[key]:.6g}")
    print(f"grid: {metrics['grid']}")
    return 0


def _read_vector_csv(path: str) -> tuple[list[str], list[list[str]]]:
    """(names, rows of VECTOR_SIZE strings) from a UTF-8 CSV (a byte-order mark is fine) with a header
    naming the vector's fields (r,g,b,x,y) and maybe name."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = reader.fieldnames or []
    except OSError as err:
        raise UserError(f"cannot read {path} ({err.strerror})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; save it as UTF-8 (CSV UTF-8)") from None
    except csv.Error as err:
        raise UserError(f"{path} is not a readable CSV ({err})") from None
    missing = [k for k in VECTOR_FIELDS if k not in columns]
    if missing:
        raise UserError(f"{path} needs a header with columns {','.join(VECTOR_FIELDS)} (and optionally name); "
                        f"it has {','.join(columns) or 'none'}")
    if not rows:
        raise UserError(f"{path} has a header but no rows")
    names = [row.get("name") or f"prediction_{n}" for n, row in enumerate(rows)]
    return names, [[row[k] for k in VECTOR_FIELDS] for row in rows]


def check_output_names(names: list[str], source: str) -> None:
    """UserError unless every name is a plain file name (no folder part, no '..', not absolute,
    not hidden) and no two are the same, ignoring case: images land inside --out and nowhere else."""
    seen: dict[str, int] = {}
    for row, name in enumerate(names, start=1):
        if (not name.strip() or name != name.strip() or name.startswith(".") or "/" in name or "\\" in name
                or ":" in name or "\0" in name or os.path.isabs(name)):
            raise UserError(f"{source} row {row}: name {name!r} is not a plain file name (no folders, '..', "
                            "leading dot or ':'); images are written inside --out only")
        key = name.casefold()
        if key in seen:
            raise UserError(f"{source} rows {seen[key]} and {row} have the same name {name!r}; names must differ")
        seen[key] = row


def _check_png_out(path: str) -> str:
    """--out of a single prediction: a .png file in a folder that exists."""
    if not path.strip():
        raise UserError("--out is empty: name a .png file")
    if os.path.splitext(path)[1].lower() != ".png" or os.path.isdir(path):
        raise UserError(f"--out {path!r} must name a .png file (for --vectors, a folder)")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UserError(f"the folder of --out does not exist: {folder}")
    return path


def _predict(args: argparse.Namespace) -> int:
    if args.vector is not None:
        out = _check_png_out(args.out)
        names, raw = [None], [args.vector.split(",")]
    else:
        out = _folder_argument(args.out)
        if os.path.exists(out) and not os.path.isdir(out):
            raise UserError(f"--out {out} is a file; --vectors writes one image per row into a folder")
        names, raw = _read_vector_csv(args.vectors)
        check_output_names(names, args.vectors)
    _quiet_tensorflow()
    import numpy as np
    from PIL import Image

    from .ml.inference import load_run, predict, to_uint8

    trained = load_run(args.model)
    vectors = np.stack([trained.checked_input(values) for values in raw])  # all checked before any write
    images = to_uint8(predict(trained, vectors))
    if args.vector is not None:
        Image.fromarray(images[0]).save(out, format="PNG")
        print(out)
        return 0
    os.makedirs(out, exist_ok=True)
    for name, image in zip(names, images):
        Image.fromarray(image).save(os.path.join(out, f"{name}.png"), format="PNG")
    print(f"{len(images)} images in {out}")
    return 0


def _invert(args: argparse.Namespace) -> int:
    if args.images is not None:
        if not args.out or os.path.splitext(args.out)[1].lower() != ".csv":
            raise UserError("--images needs --out FILE.csv for the estimates")
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise UserError(f"the folder of --out does not exist: {folder}")
        if not os.path.isdir(args.images):
            raise UserError(f"--images {args.images} is not a folder")
    elif args.out is not None:
        _check_png_out(args.out)
    if args.steps is not None and args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}")
    _quiet_tensorflow()
    from .ml.invert_cli import invert_folder, invert_one

    steps = {"steps": args.steps} if args.steps else {}
    if args.image is not None:
        return invert_one(args.model, args.image, args.out, **steps)
    return invert_folder(args.model, args.images, args.out, **steps)


def _train(args: argparse.Namespace) -> int:
    data, out = _folder_argument(args.data, "--data"), _folder_argument(args.out)
    _quiet_tensorflow()
    from .ml.train import TerminalReport, TrainConfig, train

    config = TrainConfig(data=data, out=out, arch=args.arch, epochs=args.epochs, batch_size=args.batch_size,
                         learning_rate=args.learning_rate, validation_fraction=args.validation_fraction,
                         split_seed=args.split_seed,
                         seed=args.seed, early_stopping_patience=args.patience, time_budget_s=args.time_budget,
                         resume=args.resume, follow=args.follow, follow_start_wait_s=args.follow_wait)
    stop = threading.Event()
    if args.progress == "json":
        from .protocol import JsonLinesWriter, watch_for_stop
        from .workers import exit_with_parent

        exit_with_parent()
        report = JsonLinesWriter()
        watch_for_stop(sys.stdin, stop.set)
    else:
        report = TerminalReport()

    def first_interrupt(signum, frame):  # the first Ctrl-C stops cleanly, a second one the hard way
        sys.stderr.write("\nstopping after this batch (Ctrl-C again to abort)\n")
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGINT, first_interrupt)
    try:
        result = train(config, report, stop)
    except UserError as err:
        if args.progress == "json":
            report("error", message=str(err))
        raise
    if args.progress == "bar":
        state = "cancelled" if result["cancelled"] else "stopped early" if result["stopped_early"] else "finished"
        psnr = result["best_val_psnr"]
        print(f"training {state}: best model {result['model']} "
              f"(val PSNR {psnr:.2f} dB)" if psnr is not None else f"training {state}: no epoch completed")
    return 0


def _shard(text: str) -> tuple[int, int]:
    """'I/N' → (I, N)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N (e.g. 3/8), got {text!r}") from None
    if not 0 <= index < count:
        raise argparse.ArgumentTypeError(f"shard I/N needs 0 <= I < N, got {text!r}")
    return index, count


def _folder_argument(value: str, option: str = "--out") -> str:
    """An absolute path for a folder option; UserError for an empty one (it would mean '.')."""
    if not value.strip():
        raise UserError(f"{option} is empty: name a folder")
    return os.path.abspath(value)


def settings_from_args(args: argparse.Namespace) -> GenerationSettings:
    quality = {name: value for name, value in (
        ("samples", args.samples), ("denoiser", args.denoiser), ("denoise_quality", args.denoise_quality),
        ("denoise_prefilter", args.denoise_prefilter), ("denoise_passes", args.denoise_passes),
        ("sampling_pattern", args.sampling_pattern)) if value is not None}
    return GenerationSettings.from_preset(
        args.preset,
        **quality,
        out_dir=_folder_argument(args.out),
        count=args.count,
        resolution=args.resolution,
        seed=args.seed,
        device=args.device,
        workers=default_workers() if args.workers is None else args.workers,
        threads=args.threads,
        recycle_every=args.recycle_every,
        shard_index=args.shard[0],
        shard_count=args.shard[1],
        vectors=VectorSpec(tuple(args.x_range), tuple(args.y_range), args.colour_scheme, args.exclude_quadrant),
        target=SceneTarget(args.object, args.material, args.node),
        blend_file=os.path.abspath(args.blend) if args.blend else None,
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


def _import_bpy():
    try:
        import bpy
    except ImportError:
        raise UserError("generate needs Blender's bpy module: pip install bpy==5.2.3 (Python 3.13), "
                        "or run it inside Blender: blender -b -c blendercnn generate ...") from None
    return bpy


def _open_scene(bpy, settings: GenerationSettings, scene_name: str | None):
    """The scene to render: the --blend file's (or its --scene), else the seed's scene built here."""
    if settings.blend_file:
        try:
            bpy.ops.wm.open_mainfile(filepath=settings.blend_file, load_ui=False)
        except RuntimeError as err:  # a damaged file with a valid header, a newer Blender's file, ...
            reason = str(err).strip().splitlines()[-1] if str(err).strip() else "unreadable"
            raise UserError(f"Blender cannot open {settings.blend_file}: {reason.removeprefix('Error: ')}") from None
    scene = bpy.context.scene
    if scene_name:
        scene = bpy.data.scenes.get(scene_name)
        if scene is None:
            raise UserError(f"scene {scene_name!r} not found; the file has: "
                            f"{', '.join(s.name for s in bpy.data.scenes)}")
    if not settings.blend_file:
        from .scene_setup import build_seed_scene

        build_seed_scene(scene)
    return scene


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


def _generation_job(args: argparse.Namespace, settings: GenerationSettings):
    """The scene opened (or built) in this process's Blender and the job that renders it; for Ray,
    connected to the cluster (an unreachable one or a refused token: one line, nothing written)."""
    bpy = _import_bpy()
    scene = _open_scene(bpy, settings, args.scene)
    if args.backend == "ray":
        from .ray_backend import RayDatasetJob

        job = RayDatasetJob(scene, settings, address=args.ray_address, actors=args.workers, quiet=True)
        job.connect()
        return job
    from .generator import make_job

    return make_job(scene, settings, quiet=True)


def _note_fewer_renders(count: int, resolution: int, quiet: bool) -> None:
    """One line when the learning curve says far fewer renders make the same model (recommendation.py)."""
    fewer = count_note(count, resolution)
    if fewer and not quiet:
        sys.stderr.write(f"note: {fewer}\n")


def _generate(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    settings.validate()  # before importing bpy: bad input answers fast and writes nothing
    if args.backend == "ray":
        from .ray_backend import check_ray

        check_ray(args.ray_address)
    problem = default_resolution_problem(settings.resolution)
    if problem:  # a warning, not a refusal (architectures.py); repeated with the notes at the end
        sys.stderr.write(f"warning: {problem}\n")
    stop, job = threading.Event(), None
    try:
        with _stopped_by_signals(stop):  # from here to the end of the run, Ctrl-C ends cleanly
            job = _generation_job(args, settings)
            if not stop.is_set():
                job.run(on_progress=TerminalProgress(args.quiet), should_stop=stop.is_set,
                        on_start=lambda: _note_fewer_renders(settings.count, settings.resolution, args.quiet))
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


def _render_worker(args: argparse.Namespace) -> int:
    _import_bpy()
    from .render_worker import serve

    return serve(args.job)


def main(argv: list[str] | None = None, prog: str = "python -m blendercnn_addon") -> int:
    """Run one command; returns the exit code (0 ok, 1 the machine failed us, e.g. a full disk
    outside a render, 2 bad input, 130 interrupted)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
        return args.handler(args)
    except UserError as err:
        sys.stderr.write(f"{prog.split()[-1]}: error: {err}\n")
        return EXIT_USER_ERROR
    except OSError as err:  # the machine's side: a full disk, a folder that vanished, permissions
        where = f" ({err.filename})" if err.filename else ""
        sys.stderr.write(f"{prog.split()[-1]}: error: {err.strerror or err}{where}\n")
        return EXIT_FAILURE
    except SystemExit as done:  # --help
        return int(done.code or 0)


def blender_command(argv: list[str]) -> int:
    """Handler for ``blender -c blendercnn ...`` (registered with bpy.utils.register_cli_command)."""
    return main(argv, prog="blender -c blendercnn")
