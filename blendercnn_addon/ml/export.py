"""Export a trained model for use outside Keras: ONNX (onnxruntime in a game engine, a web page, a
phone) and a TensorFlow SavedModel (TF Serving, TensorFlow.js and TFLite converters). No bpy.

Both exports take one input and give one output, whatever the architecture:

- ``vector``: (batch, VECTOR_SIZE) float32 — r, g, b in 0..1 (the ball's emission colour), x, y in
  the range the model was trained on (its run config's vector_min / vector_max);
- ``image``: (batch, R, R, 3) float32 in 0..1, display-referred RGB (the renders' view transform
  applied), top row first — ``np.rint(image * 255)`` is the 8-bit PNG ``predict`` writes.

The exported model does not check its input: a vector outside the trained range gives an
extrapolated image. The ONNX file carries the run config (metadata key ``blendercnn_run_config``,
the same JSON as config.json) and the input's field names (``blendercnn_vector``); the SavedModel
folder carries it as ``blendercnn_run_config.json``.

Every export is checked before it takes its final name: the exported model renders
PARITY_VECTORS vectors drawn inside the trained range and must agree with Keras to at least
PARITY_FLOOR_DB (PSNR over all pixels). A file that fails the check, or an export that stops half-way
(a full disk, Ctrl-C), leaves nothing under the final name.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from dataclasses import dataclass

import numpy as np

from ..dataset_format import TEMP_SUFFIX
from ..errors import UserError
from ..run_config import RunConfig

ONNX = "onnx"
SAVED_MODEL = "savedmodel"
FORMATS = (ONNX, SAVED_MODEL)
DEFAULT_NAMES = {ONNX: "model.onnx", SAVED_MODEL: "saved_model"}
ONNX_OPSET = 17  # onnxruntime ≥ 1.14, and every current web / mobile runtime, run opset 17
PARITY_VECTORS = 16
PARITY_SEED = 0
PARITY_FLOOR_DB = 60.0
CONFIG_KEY = "blendercnn_run_config"
VECTOR_KEY = "blendercnn_vector"
SAVED_MODEL_CONFIG = "blendercnn_run_config.json"
# what each format needs, besides TensorFlow: (module, the pip name and version this project tests)
NEEDS = {ONNX: (("tf2onnx", "tf2onnx==1.17.0"), ("onnx", "onnx==1.23.2"), ("onnxruntime", "onnxruntime==1.32.0")),
         SAVED_MODEL: ()}


@dataclass(frozen=True)
class ExportResult:
    """path: the file (ONNX) or folder (SavedModel) written; parity_psnr_db: the exported model's
    images against Keras's on the check's vectors (inf when identical); size_bytes: on disk."""

    path: str
    format: str
    parity_psnr_db: float
    size_bytes: int


def default_path(run: str, fmt: str) -> str:
    """RUN/model.onnx or RUN/saved_model for a run folder; beside the file for a lone .keras."""
    if os.path.isdir(run):
        return os.path.join(run, DEFAULT_NAMES[fmt])
    stem = os.path.splitext(run)[0]
    return stem + (".onnx" if fmt == ONNX else "_saved_model")


def check_request(fmt: str, out: str) -> None:
    """UserError, before anything loads, for an unknown format, a missing package or an --out that
    cannot be written (its folder missing; for ONNX a path that is a folder)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    missing = [pip for module, pip in NEEDS[fmt] if importlib.util.find_spec(module) is None]
    if missing:
        raise UserError(f"export --format {fmt} needs {', '.join(missing)} in the Python that runs "
                        f"TensorFlow: pip install {' '.join(missing)}")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise UserError(f"the folder of --out does not exist: {folder}")
    if fmt == ONNX and os.path.isdir(out):
        raise UserError(f"--out {out} is a folder; name the .onnx file to write")
    if fmt == SAVED_MODEL and os.path.isfile(out):
        raise UserError(f"--out {out} is a file; a SavedModel is a folder")


def export_run(run: str, fmt: str, out: str | None = None) -> ExportResult:
    """Export the run folder (or .keras file) ``run`` as ``fmt`` (FORMATS) to ``out`` (default_path),
    checked against Keras (module docstring). UserError for bad input or a failed check."""
    out = os.path.abspath(out or default_path(run, fmt))
    check_request(fmt, out)
    from .inference import load_run
    from .models import without_compiled_calls

    trained = load_run(run)
    model = without_compiled_calls(trained.model)
    vectors = parity_vectors(trained.config)
    expected = np.asarray(model.predict(vectors, verbose=0))
    temp = _temp_path(out)
    try:
        if fmt == ONNX:
            _write_onnx(model, trained.config, temp)
        else:
            _write_saved_model(model, trained.config, temp)
        actual = _run_exported(fmt, temp, vectors)
        parity = psnr_db(expected, actual)
        if not parity >= PARITY_FLOOR_DB:
            raise UserError(f"the exported {fmt} model draws other images than Keras ({parity:.1f} dB, "
                            f"below {PARITY_FLOOR_DB:.0f} dB); nothing written")
        _replace(temp, out)
    finally:
        _remove(temp)
    return ExportResult(out, fmt, parity, _size(out))


def parity_vectors(config: RunConfig, count: int = PARITY_VECTORS) -> np.ndarray:
    """(count, N) float32 (N: the model's vector size) drawn uniformly inside what the model accepts (seeded)."""
    low = np.array(config.vector_min if config.vector_min is not None else [0.0] * 3 + [-1.0] * 2, np.float64)
    high = np.array(config.vector_max if config.vector_max is not None else [1.0] * 5, np.float64)
    return np.random.default_rng(PARITY_SEED).uniform(low, high, (count, len(low))).astype(np.float32)


def psnr_db(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSNR (dB, peak 1) of ``actual`` against ``expected``, both (N, R, R, 3) in 0..1; inf when equal,
    -inf for a shape mismatch or a non-finite pixel."""
    actual = np.asarray(actual, np.float64)
    if actual.shape != expected.shape or not np.all(np.isfinite(actual)):
        return -math.inf
    mse = float(np.mean((np.asarray(expected, np.float64) - actual) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def _write_onnx(model, config: RunConfig, path: str) -> None:
    import warnings

    import onnx

    with warnings.catch_warnings():  # Keras's tf2onnx shim probes numpy for np.object, which warns
        warnings.simplefilter("ignore", FutureWarning)
        model.export(path, format="onnx", verbose=False, opset_version=ONNX_OPSET)
    proto = onnx.load(path)
    _name_output(proto.graph, "image")
    proto.doc_string = (f"BlenderCNN {config.arch} at {config.resolution}x{config.resolution}: vector "
                        f"({','.join(config.layout.names)}) -> image (batch, R, R, 3) in 0..1, top row first")
    for key, value in ((CONFIG_KEY, json.dumps(config.to_dict())), (VECTOR_KEY, ",".join(config.layout.names))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, path)


def _name_output(graph, name: str) -> None:
    """Rename the graph's one output (tf2onnx calls it after the last TensorFlow op) to ``name``."""
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [name if value == old else value for value in node.output]
        node.input[:] = [name if value == old else value for value in node.input]
    graph.output[0].name = name


def _run_exported(fmt: str, path: str, vectors: np.ndarray) -> np.ndarray:
    """The exported model's images for ``vectors``; UserError when its runtime cannot load or run it."""
    try:
        return _run_onnx(path, vectors) if fmt == ONNX else _run_saved_model(path, vectors)
    except Exception as err:  # noqa: BLE001 - onnxruntime and TensorFlow raise their own types
        first_line = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise UserError(f"the exported {fmt} model does not run ({first_line}); nothing written") from None


def _run_onnx(path: str, vectors: np.ndarray) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(["image"], {"vector": vectors})[0]


def _write_saved_model(model, config: RunConfig, path: str) -> None:
    model.export(path, format="tf_saved_model", verbose=False)
    with open(os.path.join(path, SAVED_MODEL_CONFIG), "w", encoding="utf-8") as handle:
        json.dump(config.to_dict(), handle, indent=2)


def _run_saved_model(path: str, vectors: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(path)  # held: its variables live as long as this object
    return np.asarray(loaded.serve(tf.constant(vectors)))


def _temp_path(out: str) -> str:
    folder, name = os.path.split(out)
    return os.path.join(folder, f".{name}.{os.getpid()}{TEMP_SUFFIX}")


def _replace(temp: str, out: str) -> None:
    """Move ``temp`` to ``out``; an earlier folder under ``out`` is removed only once the new one is in place."""
    if os.path.isdir(out):
        old = _temp_path(out) + ".old"
        os.replace(out, old)
        os.replace(temp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(temp, out)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def _size(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(folder, name)) for folder, _, names in os.walk(path) for name in names)
