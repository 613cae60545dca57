"""The run config (config.json of a training run): what was trained, on what, how. The one reader. Blender-free.

It holds everything a trained model needs to be used on its own — architecture, resolution,
the vector's fields and the range of positions it was trained on, the dataset's identity and a
fingerprint of the samples it saw — so train (to resume), evaluate, predict, serve, the preview
and the panels all read it through :func:`read_run_config`, never with ``json.load`` of their
own. Training also stores it inside ``model.keras`` (as nanoGPT keeps its config in the
checkpoint), so a model file that travels alone still knows what it is.

Older files (format 1: the dictionary written before this module) read as they are: fields
they lack take the defaults below.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, fields

from .dataset_card import DatasetIdentity
from .dataset_format import read_json, write_atomically
from .errors import UserError
from .vector import VECTOR_FIELDS, check_vector

CONFIG_NAME = "config.json"
MODEL_NAME = "model.keras"
RUN_CONFIG_FORMAT_VERSION = 2  # 1: the plain dictionary of earlier versions (same keys, no format field)
IN_MODEL_NAME = "blendercnn_run_config.json"  # the copy inside a .keras file (a zip)
SPLIT_SHUFFLED = "shuffled"  # dataset.split_rows: a seeded shuffle of the samples there were
SPLIT_BY_SAMPLE_INDEX = "sample_index"  # growing.validation_by_index: a seeded hash of each sample's index


@dataclass(frozen=True)
class RunConfig:
    """A training run. data: the dataset folder; out: the run folder (both absolute, as trained).

    arch: architectures.py name; resolution: image side R; epochs, batch_size, learning_rate (Adam's
    initial), validation_fraction, split_seed, seed (weights and batch order),
    early_stopping_patience and lr_patience (epochs), min_improvement_db (the validation PSNR gain, dB,
    that counts as better), lr_reductions (tenfold rate cuts allowed), time_budget_s (0: none): the
    training recipe.
    vector_fields: the input's names; vector_min, vector_max: the inputs it accepts (colours 0..1,
    positions the trained range, metres). train_indices, validation_indices: sample indices of the
    split; split_rule: how it was drawn (SPLIT_SHUFFLED, or SPLIT_BY_SAMPLE_INDEX for a run that
    trained while its dataset grew: a sample's side never changes). dataset_identity: the dataset card's identity (None for the seed's layout);
    dataset_fingerprint: vectors_fingerprint of every sample used (None in older runs).
    scene_light, ball_disc: whether the model uses the scene geometry's light paths / draws the ball.
    """

    arch: str
    resolution: int
    data: str = ""
    out: str = ""
    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 1e-3
    validation_fraction: float = 0.1
    split_seed: int = 0
    seed: int = 0
    early_stopping_patience: int = 5
    lr_patience: int = 3
    min_improvement_db: float = 0.0  # 0.0: runs from before the threshold (any gain counted)
    lr_reductions: int = 0  # 0 in such runs: no floor recorded
    time_budget_s: float = 0.0
    vector_fields: tuple[str, ...] = VECTOR_FIELDS
    vector_min: tuple[float, ...] | None = None
    vector_max: tuple[float, ...] | None = None
    train_indices: tuple[int, ...] = ()
    validation_indices: tuple[int, ...] = ()
    split_rule: str = SPLIT_SHUFFLED
    dataset_identity: DatasetIdentity | None = None
    dataset_fingerprint: str | None = None
    scene_light: bool = False
    ball_disc: bool = False
    addon_version: str = ""
    created_utc: str = ""
    extra: dict = field(default_factory=dict)  # keys a newer minor version added: kept, written back

    @classmethod
    def from_dict(cls, data, where: str = CONFIG_NAME) -> "RunConfig":
        """The config in ``data`` (parsed JSON); UserError naming ``where`` when it is not one."""
        if not isinstance(data, dict):
            raise UserError(f"{where} is not a run config (not a JSON object)")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > RUN_CONFIG_FORMAT_VERSION:
            raise UserError(f"{where} was written by a newer BlenderCNN (run config format {version}); "
                            "update the add-on")
        known = {f.name for f in fields(cls)} - {"extra"}  # format_version is checked, not kept
        values = {key: value for key, value in data.items() if key in known}
        try:
            values["resolution"] = int(values["resolution"])
            values["arch"] = str(values.get("arch") or "seed")
            for key in ("vector_fields", "train_indices", "validation_indices"):
                if key in values:
                    values[key] = tuple(values[key])
            for key in ("vector_min", "vector_max"):
                if values.get(key) is not None:
                    values[key] = tuple(float(v) for v in values[key])
            identity = values.get("dataset_identity")
            values["dataset_identity"] = DatasetIdentity.from_dict(identity) if isinstance(identity, dict) else None
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{where} is not a valid run config ({type(err).__name__}: {err})") from None
        ignored = known | {"resume", "format_version"}
        return cls(**values, extra={key: value for key, value in data.items() if key not in ignored})

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        for key in ("vector_fields", "train_indices", "validation_indices", "vector_min", "vector_max"):
            if data[key] is not None:
                data[key] = list(data[key])
        data["dataset_identity"] = self.dataset_identity.to_dict() if self.dataset_identity else None
        data["format_version"] = RUN_CONFIG_FORMAT_VERSION
        return {**self.extra, **data}

    def checked_input(self, values) -> list[float]:
        """The vector ``values`` checked against what this model accepts (vector.check_vector)."""
        return check_vector(values, self.vector_min, self.vector_max)


def model_path(run: str) -> str:
    """RUN/model.keras for a run folder; the path itself for a .keras file."""
    return os.path.join(run, MODEL_NAME) if os.path.isdir(run) else run


def read_run_config(run: str) -> RunConfig:
    """The config of a run folder (its config.json), or of a lone .keras file (the copy inside it).

    UserError when there is none or it is unreadable."""
    folder = run if os.path.isdir(run) else os.path.dirname(run)
    path = os.path.join(folder, CONFIG_NAME)
    if os.path.isfile(path):
        return RunConfig.from_dict(read_json(path, "run config"), where=path)
    embedded = _read_from_model(model_path(run))
    if embedded is None:
        raise UserError(f"{run} is not a trained run folder (no {CONFIG_NAME}, and no model.keras that "
                        "carries its config)")
    return RunConfig.from_dict(embedded, where=f"{model_path(run)} ({IN_MODEL_NAME})")


def write_run_config(run_dir: str, config: RunConfig) -> None:
    """config.json in the run folder, written atomically."""
    write_atomically(os.path.join(run_dir, CONFIG_NAME), (json.dumps(config.to_dict(), indent=2) + "\n").encode())


def embed_in_model(keras_path: str, config: RunConfig) -> None:
    """Store the config inside a saved .keras file (a zip; Keras ignores members it does not know)."""
    with zipfile.ZipFile(keras_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(IN_MODEL_NAME, json.dumps(config.to_dict(), indent=2))


def _read_from_model(keras_path: str) -> dict | None:
    try:
        with zipfile.ZipFile(keras_path) as archive:
            return json.loads(archive.read(IN_MODEL_NAME))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
