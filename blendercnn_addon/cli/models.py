"""``evaluate``, ``predict``, ``invert``, ``serve`` and ``export``: use a trained model (TensorFlow; no Blender)."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UserError
from ..run_config import read_run_config
from ..vector import VECTOR_FIELDS
from .arguments import check_png_out, folder_argument, quiet_tensorflow


def add_commands(commands) -> None:
    """evaluate, predict, invert, serve and export."""
    ev = commands.add_parser(
        "evaluate", help="metrics and a real | generated | difference grid on the run's validation split",
        description="Evaluate a trained run on the validation samples recorded in its config.json: MSE, mean "
                    "per-image PSNR, SSIM, PSNR inside the ball-and-glow mask. Writes metrics.json and "
                    "comparison.png (real | generated | difference x4).")
    ev.add_argument("--data", required=True, metavar="DIR", help="the dataset the model was trained on")
    ev.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    ev.add_argument("--out", metavar="DIR", help="where to write metrics.json and comparison.png (default: RUN)")
    ev.set_defaults(handler=evaluate)

    pr = commands.add_parser(
        "predict", help="render images with a trained model, from a vector or a CSV of vectors",
        description="Generate images from vectors (r, g, b in 0..1; x, y inside the trained range; a model of "
                    "your parameters takes its own, in their order and by their names).")
    pr.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    source = pr.add_mutually_exclusive_group(required=True)
    source.add_argument("--vector", metavar=",".join(VECTOR_FIELDS).upper(),
                        help="one vector, comma-separated (the model's parameters in their order)")
    source.add_argument("--vectors", metavar="CSV",
                        help=f"CSV with columns {','.join(VECTOR_FIELDS)} (a model of your parameters: their "
                             "names, as its dataset's vectors.csv) in any order, and optionally name")
    pr.add_argument("--out", required=True, help="PNG file for --vector, folder for --vectors")
    pr.set_defaults(handler=predict)

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
    inv.set_defaults(handler=invert)

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
    sv.add_argument("--light", choices=("display", "linear", "viewport"), default="display",
                    help="display: the image as the dataset's PNGs show it (default); linear: scene-linear "
                         "RGB before the view transform, for the render engine's Render Result; viewport: "
                         "display colours sRGB-decoded, for the 3D viewport (both need --frame-file)")
    sv.set_defaults(handler=serve)

    ex = commands.add_parser(
        "export", help="write a trained model as ONNX or a TensorFlow SavedModel, checked against Keras",
        description="Export a trained run for use without Keras: --format onnx (onnxruntime, in a game engine, "
                    "a web page or a phone; needs tf2onnx and onnx) or savedmodel. Input \"vector\" (batch, "
                    f"{len(VECTOR_FIELDS)}) float32 ({','.join(VECTOR_FIELDS)}; a model of your parameters: its "
                    "own, named in the ONNX metadata blendercnn_vector), output \"image\" (batch, R, R, 3) "
                    "in 0..1, top row first. The export is run on 16 vectors and must match Keras's images to "
                    "at least 60 dB before it takes its name.")
    ex.add_argument("--model", required=True, metavar="RUN", help="run folder (or its model.keras)")
    ex.add_argument("--format", default="onnx", metavar="FORMAT", help="onnx (default) or savedmodel")
    ex.add_argument("--out", metavar="PATH", help="file (onnx) or folder (savedmodel) to write "
                    "(default: RUN/model.onnx, RUN/saved_model)")
    ex.set_defaults(handler=export)


def evaluate(args: argparse.Namespace) -> int:
    data = folder_argument(args.data, "--data")
    out = folder_argument(args.out) if args.out is not None else None
    quiet_tensorflow()
    from ..ml.evaluate import evaluate as evaluate_model

    metrics = evaluate_model(data, args.model, out)
    for key in ("samples", "mse", "psnr_db", "ssim", "psnr_mask_db"):
        print(f"{key}: {getattr(metrics, key):.6g}")
    print(f"grid: {metrics.grid}")
    return 0


def _read_vector_csv(path: str, fields=VECTOR_FIELDS) -> tuple[list[str], list[list[str]]]:
    """(names, rows of len(fields) strings) from a UTF-8 CSV (a byte-order mark is fine) with a header
    naming the vector's ``fields`` (the model's: r,g,b,x,y by default) in any order, and maybe name."""
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
    missing = [k for k in fields if k not in columns]
    if missing:
        raise UserError(f"{path} needs a header with columns {','.join(fields)} (and optionally name); "
                        f"it has {','.join(columns) or 'none'}")
    if not rows:
        raise UserError(f"{path} has a header but no rows")
    names = [row.get("name") or f"prediction_{n}" for n, row in enumerate(rows)]
    vectors = [[row[k] for k in fields] for row in rows]
    # A row whose vector is all empty is a picture invert could not estimate (its note says why):
    # the CSV invert writes reads back here, those rows left out.
    kept = [n for n, vector in enumerate(vectors) if any((value or "").strip() for value in vector)]
    if not kept:
        raise UserError(f"{path} has no row with a vector (every {','.join(fields)} is empty)")
    return [names[n] for n in kept], [vectors[n] for n in kept]


MAX_NAME_BYTES = 255  # a file name's limit on every common file system (ext4, APFS, NTFS in UTF-16 units)


def check_output_names(names: list[str], source: str) -> None:
    """UserError unless every name is a plain file name (no folder part, no '..', not absolute,
    not hidden) and no two are the same, ignoring case: images land inside --out and nowhere else."""
    seen: dict[str, int] = {}
    for row, name in enumerate(names, start=1):
        if (not name.strip() or name != name.strip() or name.startswith(".") or "/" in name or "\\" in name
                or ":" in name or "\0" in name or os.path.isabs(name)):
            raise UserError(f"{source} row {row}: name {name!r} is not a plain file name (no folders, '..', "
                            "leading dot or ':'); images are written inside --out only")
        if len((name + ".png").encode("utf-8")) > MAX_NAME_BYTES:
            raise UserError(f"{source} row {row}: name {name[:40]!r}… is {len(name)} characters; file names "
                            f"hold at most {MAX_NAME_BYTES} bytes with .png")
        key = name.casefold()
        if key in seen:
            raise UserError(f"{source} rows {seen[key]} and {row} have the same name {name!r}; names must differ")
        seen[key] = row


def _model_fields(run: str) -> tuple[str, ...]:
    """The vector's names the model at ``run`` takes (r,g,b,x,y when its config cannot be read:
    loading it says why)."""
    try:
        return read_run_config(run).layout.names
    except (UserError, OSError):
        return VECTOR_FIELDS


def predict(args: argparse.Namespace) -> int:
    if args.vector is not None:
        out = check_png_out(args.out)
        names, raw = [None], [args.vector.split(",")]
    else:
        out = folder_argument(args.out)
        if os.path.exists(out) and not os.path.isdir(out):
            raise UserError(f"--out {out} is a file; --vectors writes one image per row into a folder")
        names, raw = _read_vector_csv(args.vectors, _model_fields(args.model))
        check_output_names(names, args.vectors)
    quiet_tensorflow()
    import numpy as np

    from ..ml.dataset import save_png
    from ..ml.inference import load_run, predict, to_uint8

    trained = load_run(args.model)
    vectors = np.stack([trained.checked_input(values) for values in raw])  # all checked before any write
    images = to_uint8(predict(trained, vectors))
    if args.vector is not None:
        save_png(out, images[0])
        print(out)
        return 0
    os.makedirs(out, exist_ok=True)
    for name, image in zip(names, images):
        save_png(os.path.join(out, f"{name}.png"), image)
    print(f"{len(images)} images in {out}")
    return 0


def invert(args: argparse.Namespace) -> int:
    if args.images is not None:
        if not args.out or os.path.splitext(args.out)[1].lower() != ".csv":
            raise UserError("--images needs --out FILE.csv for the estimates")
        folder = os.path.dirname(os.path.abspath(args.out))
        if not os.path.isdir(folder):
            raise UserError(f"the folder of --out does not exist: {folder}")
        if not os.path.isdir(args.images):
            raise UserError(f"--images {args.images} is not a folder")
    elif args.out is not None:
        check_png_out(args.out)
    from ..ml.invert import MAX_STEPS  # numpy only: no TensorFlow yet

    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise UserError(f"--steps must be between 1 and {MAX_STEPS:,}, got {args.steps:,}")
    quiet_tensorflow()
    from ..ml.invert_cli import invert_folder, invert_one

    steps = {"steps": args.steps} if args.steps else {}
    if args.image is not None:
        return invert_one(args.model, args.image, args.out, **steps)
    return invert_folder(args.model, args.images, args.out, **steps)


def serve(args: argparse.Namespace) -> int:
    quiet_tensorflow()
    from ..processes.protocol import JsonLinesWriter
    from ..ml.serve import serve as serve_model
    from ..processes.workers import exit_with_parent

    exit_with_parent()
    report = JsonLinesWriter()
    try:
        return serve_model(args.model, sys.stdin, report, frame_path=args.frame_file, light=args.light)
    except UserError as err:
        report("error", id=None, fatal=True, message=str(err))
        raise


def export(args: argparse.Namespace) -> int:
    from ..ml import export as formats

    if args.format not in formats.FORMATS:
        raise UserError(f"unknown --format {args.format!r}; choose one of {', '.join(formats.FORMATS)}")
    out = os.path.abspath(args.out) if args.out else formats.default_path(args.model, args.format)
    formats.check_request(args.format, out)
    quiet_tensorflow()
    result = formats.export_run(args.model, args.format, out)
    print(f"{result.format}: {result.path}")
    print(f"size_bytes: {result.size_bytes}")
    print(f"parity_psnr_db: {result.parity_psnr_db:.1f}")
    return 0
