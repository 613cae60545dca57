"""Load a trained run and turn vectors into images. No bpy.

Models load with Keras safe mode (no arbitrary code from the file). A run is a
folder with model.keras and config.json, as written by :mod:`.train`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from ..errors import UserError

COLOUR_TOLERANCE = 1e-6


@dataclass
class TrainedModel:
    """model: keras.Model (batch, 5) → (batch, R, R, 3); config: the run's config.json."""

    model: object
    config: dict

    @property
    def resolution(self) -> int:
        return int(self.config["resolution"])


def load_run(run: str) -> TrainedModel:
    """Load RUN/model.keras (safe mode) and RUN/config.json; UserError if missing, corrupt or foreign."""
    model_path = os.path.join(run, "model.keras") if os.path.isdir(run) else run
    run_dir = os.path.dirname(model_path)
    config_path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(model_path):
        raise UserError(f"no trained model at {model_path}")
    if not os.path.isfile(config_path):
        raise UserError(f"{run_dir} has no config.json: not a BlenderCNN run folder")
    try:
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
        resolution = int(config["resolution"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{config_path} is not a valid run config ({err})") from None
    import keras

    from . import models  # noqa: F401  (registers the custom layers that saved models name)

    try:
        model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for corrupt or hostile files
        raise UserError(f"{model_path} is not a loadable Keras model ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:200] if str(err) else 'no details'})") from None
    if tuple(model.input_shape) != (None, 5) or tuple(model.output_shape) != (None, resolution, resolution, 3):
        raise UserError(f"{model_path} maps {model.input_shape} to {model.output_shape}, expected "
                        f"(None, 5) to (None, {resolution}, {resolution}, 3): not a BlenderCNN model")
    return TrainedModel(model, config)


def check_vector(values, config: dict) -> np.ndarray:
    """(5,) float32 from (r, g, b, x, y); UserError for wrong length, NaN, colour outside [0, 1],
    or x, y outside the range the model was trained on."""
    try:
        vector = [float(v) for v in values]
    except (TypeError, ValueError):
        raise UserError(f"a vector is five numbers r,g,b,x,y; got {values!r}") from None
    if len(vector) != 5:
        raise UserError(f"a vector is five numbers r,g,b,x,y; got {len(vector)}")
    if not all(math.isfinite(v) for v in vector):
        raise UserError(f"vector {vector} contains NaN or infinity")
    if not all(-COLOUR_TOLERANCE <= c <= 1 + COLOUR_TOLERANCE for c in vector[:3]):
        raise UserError(f"colour {vector[:3]} is outside [0, 1]")
    low, high = config.get("vector_min"), config.get("vector_max")
    if low and high:
        for axis, value, lo, hi in (("x", vector[3], low[3], high[3]), ("y", vector[4], low[4], high[4])):
            if not lo - 1e-6 <= value <= hi + 1e-6:
                raise UserError(f"{axis} = {value} is outside the range the model was trained on ({lo:.3f} .. {hi:.3f})")
    return np.array(vector, dtype=np.float32)


def predict(trained: TrainedModel, vectors: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N, R, R, 3) float32 in [0, 1] for (N, 5) vectors."""
    return np.asarray(trained.model.predict(np.asarray(vectors, np.float32), batch_size=batch_size, verbose=0))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8, rounded."""
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
