"""Load a trained run and turn vectors into images. No bpy.

Models load with Keras safe mode (no arbitrary code from the file). A run is a
folder with model.keras and config.json, as written by :mod:`.train` — or a lone
model.keras, which carries its config inside (run_config.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..run_config import RunConfig, model_path, read_run_config


@dataclass
class TrainedModel:
    """model: keras.Model (batch, N) → (batch, R, R, 3), N the size of its layout; config: its RunConfig
    (run_config.py)."""

    model: object
    config: RunConfig

    @property
    def resolution(self) -> int:
        return self.config.resolution

    def checked_input(self, values) -> np.ndarray:
        """(N,) float32 from a vector's numbers; UserError for a wrong count, NaN, a colour outside
        [0, 1], or a number outside the range this model was trained on (vector.VectorLayout.check)."""
        return np.array(self.config.checked_input(values), dtype=np.float32)


def load_run(run: str) -> TrainedModel:
    """Load a run folder's model.keras (or a lone .keras file) in Keras safe mode, with its config
    (read_run_config); UserError if missing, corrupt or foreign."""
    path = model_path(run)
    if not os.path.isfile(path):
        raise UserError(f"no trained model at {path}")
    config = read_run_config(run)
    import keras

    from . import models  # noqa: F401  (registers the custom layers that saved models name)

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many types for corrupt or hostile files
        raise UserError(f"{path} is not a loadable Keras model ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:200] if str(err) else 'no details'})") from None
    resolution, size = config.resolution, config.layout.size
    if tuple(model.input_shape) != (None, size) or \
            tuple(model.output_shape) != (None, resolution, resolution, 3):
        raise UserError(f"{path} maps {model.input_shape} to {model.output_shape}, expected "
                        f"(None, {size}) to (None, {resolution}, {resolution}, 3): not a BlenderCNN model")
    return TrainedModel(model, config)


def predict(trained: TrainedModel, vectors: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """(N, R, R, 3) float32 in [0, 1] for (N, size) vectors (the model's layout)."""
    return np.asarray(trained.model.predict(np.asarray(vectors, np.float32), batch_size=batch_size, verbose=0))


def to_uint8(images: np.ndarray) -> np.ndarray:
    """[0, 1] floats → uint8, rounded."""
    return np.clip(np.rint(images * 255.0), 0, 255).astype(np.uint8)
