"""The run config (config.json of a training run): what was trained, on what, how. The one reader. Blender-free.

Three records, one set of defaults:

- :class:`TrainingRecipe` — how to train (architecture, epochs, batch size, learning rate, the
  split, seeds, early stopping and the rate schedule, a time budget). What ``train`` is asked for
  and what a run records are the same record: "auto" and None become concrete once the dataset is
  known (:meth:`TrainingRecipe.for_dataset`).
- :class:`TrainRequest` — what ``train`` is asked to do: the folders, the recipe, and how to start
  (a new run, ``resume``, or ``follow`` a dataset still being rendered).
- :class:`RunConfig` — the record of a run: its recipe plus everything a trained model needs to be
  used on its own (resolution, the vector's fields and the ranges it was trained on, the dataset's
  identity and a fingerprint of the samples it saw, the split, the model's features). train (to
  resume), evaluate, predict, serve, the preview and the panels all read it through
  :func:`read_run_config`. Training also stores it inside ``model.keras`` (as nanoGPT keeps its
  config in the checkpoint), so a model file that travels alone still knows what it is.

config.json stays flat (the recipe's keys beside the others), so older files read as they are:
format 1 (the dictionary written before this module) and files from before a recipe setting
existed read that setting as it was then (:data:`BEFORE_RECORDED`).
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from dataclasses import dataclass, field, fields, replace

from .architectures import AUTO, architecture, choose_architecture
from .dataset_card import DatasetIdentity
from .dataset_format import read_json, write_atomically
from .errors import UserError
from .run_folder import MODEL_NAME
from .vector import DEFAULT_LAYOUT, POSITION_FIELDS, VECTOR_FIELDS, VectorLayout, check_range

CONFIG_NAME = "config.json"
RUN_CONFIG_FORMAT_VERSION = 2  # 1: the plain dictionary of earlier versions (same keys, no format field)
IN_MODEL_NAME = "blendercnn_run_config.json"  # the copy inside a .keras file (a zip)
SPLIT_SHUFFLED = "shuffled"  # dataset.split_rows: a seeded shuffle of the samples there were
SPLIT_BY_SAMPLE_INDEX = "sample_index"  # growing.validation_by_index: a seeded hash of each sample's index
# A recipe setting a config.json lacks was not there when it was written: the run trained as these say.
# train --follow on a folder that has no dataset card yet: how long to wait for a generate run to start
# writing (generate started a moment before takes a few seconds, Blender's start and the scene's
# tables, before it holds the folder's lock).
FOLLOW_START_WAIT_S = 60.0
BEFORE_RECORDED = {"min_improvement_db": 0.0,  # any gain counted as an improvement
                   "lr_reductions": 0,  # no floor on the learning rate
                   "weight_averaging": 0.0,  # the last step's weights validated and saved
                   "tile_fraction": 1,  # whole images in every step
                   "width": 1}  # radiance's narrow channels (32, 24, 16, 8)
# What TrainingRecipe leaves None takes from the architecture's recipe at the dataset's resolution.
RECIPE_BY_RESOLUTION = ("batch_size", "learning_rate", "tile_fraction", "width")
# The moving average's momentum per step (TrainingRecipe.weight_averaging); see docs/guide.md's
# measurements.
WEIGHT_AVERAGING = 0.99


def _typed(name: str, value, kind: type):
    """``value`` as ``kind`` (int: a whole number, not a bool; float: a finite or infinite number);
    ValueError naming ``name`` otherwise (from_dict makes it a UserError naming the file)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is {value!r}, not a number")
    if kind is int:
        if not float(value).is_integer():
            raise ValueError(f"{name} is {value!r}, not a whole number")
        return int(value)
    return float(value)


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train. arch: architectures.py name, or AUTO (radiance where the dataset has its baked
    view table, else seed); epochs: the most to run; batch_size, learning_rate (Adam's initial):
    None takes the architecture's recipe at the dataset's resolution (architectures.recipe);
    validation_fraction: the held-out share, in (0, 1); split_seed: the split's seed; seed: the
    weights' and the batch order's; early_stopping_patience, lr_patience: epochs without an
    improvement before stopping / cutting the rate tenfold; min_improvement_db: the validation
    PSNR gain (dB) that counts as an improvement (a run whose gains have shrunk to noise stops
    instead of creeping on); lr_reductions: how many tenfold cuts (a floor at 10^-n of the
    initial rate: below it Adam's steps no longer change the image); time_budget_s: > 0, training
    ends at the batch that spends this many seconds, mid-epoch if need be (0: no budget);
    weight_averaging: in [0, 1), the momentum of the weights' moving average that validation and
    the saved models use (ml/callbacks.AveragedWeights; 0: the last step's weights);
    tile_fraction: 1 trains on whole images, n on one (R/n)² tile of each image per step
    (ml/crop_steps.py; validation and the saved models stay whole-image); None: the
    architecture's recipe at the dataset's resolution; width: the model's channels per layer as a
    multiple of the narrowest (radiance: 1 is 32, 24, 16, 8; 2 twice as many; others 1 only), None:
    the architecture's recipe at the dataset's resolution."""

    arch: str = AUTO
    epochs: int = 50
    batch_size: int | None = None
    learning_rate: float | None = None
    validation_fraction: float = 0.1
    split_seed: int = 0
    seed: int = 0
    early_stopping_patience: int = 5
    lr_patience: int = 3
    min_improvement_db: float = 0.05
    lr_reductions: int = 3
    time_budget_s: float = 0.0
    weight_averaging: float = WEIGHT_AVERAGING
    tile_fraction: int | None = None
    width: int | None = None

    def for_dataset(self, has_view_table: bool, resolution: int, ball_room: bool = True) -> "TrainingRecipe":
        """This recipe for a dataset with or without its baked view table, of images of side
        ``resolution``, whose vectors are the ball room's five or not (``ball_room``): "auto"
        resolved, a batch size, rate, tile fraction and width left None taken from the
        architecture's recipe at that resolution (the one place they are chosen). UserError for a
        width the architecture cannot be built at."""
        arch = choose_architecture(self.arch, has_view_table, ball_room)
        record = architecture(arch)
        recommended = record.recipe(resolution)
        concrete = replace(self, arch=arch, **{name: recommended[name] if getattr(self, name) is None
                                               else getattr(self, name) for name in RECIPE_BY_RESOLUTION})
        problem = record.width_problem(concrete.width)
        if problem:
            raise UserError(problem)
        return concrete

    def filled_from(self, earlier: "TrainingRecipe") -> "TrainingRecipe":
        """This recipe with what it leaves open (an AUTO architecture, a None batch size, rate, tile
        fraction or width) taken from ``earlier``: a resumed run goes on as it was started unless told
        otherwise."""
        return replace(self, arch=earlier.arch if self.arch == AUTO else self.arch,
                       **{name: getattr(earlier, name) if getattr(self, name) is None else getattr(self, name)
                          for name in RECIPE_BY_RESOLUTION})

    def validate(self) -> None:
        """UserError for a value no training can use."""
        if self.arch != AUTO:
            architecture(self.arch)  # UserError naming the choices for an unknown name
        if self.epochs < 1:
            raise UserError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {self.batch_size}")
        if self.learning_rate is not None and not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise UserError(f"learning rate must be a positive number, got {self.learning_rate}")
        if self.tile_fraction is not None and self.tile_fraction < 1:
            raise UserError(f"tile fraction must be 1 (whole images) or more, got {self.tile_fraction}")
        if self.width is not None and self.width < 1:
            raise UserError(f"width must be 1 or more, got {self.width}")
        if not 0 <= self.weight_averaging < 1:
            raise UserError(f"weight averaging must be in [0, 1) (0: off), got {self.weight_averaging}")
        if not (self.time_budget_s >= 0 and math.isfinite(self.time_budget_s)):
            raise UserError(f"time budget must be 0 (none) or a positive number of seconds, got {self.time_budget_s}")
        if not 0 < self.validation_fraction < 1:
            raise UserError(f"validation fraction must be between 0 and 1, got {self.validation_fraction}")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainingRecipe":
        """The recipe keys of a flat config.json; missing ones as the run trained (BEFORE_RECORDED) or the defaults."""
        values = {**BEFORE_RECORDED, **{f.name: data[f.name] for f in fields(cls) if f.name in data}}
        values["arch"] = str(values.get("arch") or "seed")
        for f in fields(cls):  # each value of the type the field holds (a hand-edited file may say "x" or 2.5)
            if f.name != "arch" and values.get(f.name) is not None:
                values[f.name] = _typed(f.name, values[f.name], int if "int" in str(f.type) else float)
        return cls(**values)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class TrainRequest:
    """What ``train`` is asked to do. data: the dataset folder; out: the run folder; recipe: how;
    resume: go on with the run in ``out`` from its last epoch; follow: train as generate renders
    into ``data`` (growing.py), waiting at most follow_start_wait_s seconds for it to begin."""

    data: str
    out: str
    recipe: TrainingRecipe = TrainingRecipe()
    resume: bool = False
    follow: bool = False
    follow_start_wait_s: float = FOLLOW_START_WAIT_S

    def validate(self) -> None:
        self.recipe.validate()
        if not (self.follow_start_wait_s >= 0 and math.isfinite(self.follow_start_wait_s)):
            raise UserError(f"the wait for generate must be 0 or more seconds, got {self.follow_start_wait_s}")


@dataclass(frozen=True)
class ModelFeatures:
    """What a built model does beyond its architecture's name, decided when it is built
    (ml/models.model_features): scene_light, it uses the scene geometry's light paths; ball_disc, it
    draws the ball's own pixels from geometry."""

    scene_light: bool = False
    ball_disc: bool = False


@dataclass(frozen=True)
class RunConfig:
    """A training run. recipe: how it trained (concrete: no AUTO, no None); resolution: image side R;
    data: the dataset folder; out: the run folder (both absolute, as trained).
    vector_fields: the input's names; vector_min, vector_max: the inputs it accepts (colours 0..1,
    ranged fields the trained range). train_indices, validation_indices: sample indices of the
    split; split_rule: how it was drawn (SPLIT_SHUFFLED, or SPLIT_BY_SAMPLE_INDEX for a run that
    trained while its dataset grew: a sample's side never changes). dataset_identity: the dataset
    card's identity (None for the seed's layout); dataset_fingerprint: vectors_fingerprint of every
    sample used (None in older runs). features: what the model does (ModelFeatures).
    """

    resolution: int
    recipe: TrainingRecipe = TrainingRecipe(arch="seed")
    data: str = ""
    out: str = ""
    vector_fields: tuple[str, ...] = VECTOR_FIELDS
    vector_min: tuple[float, ...] | None = None
    vector_max: tuple[float, ...] | None = None
    train_indices: tuple[int, ...] = ()
    validation_indices: tuple[int, ...] = ()
    split_rule: str = SPLIT_SHUFFLED
    dataset_identity: DatasetIdentity | None = None
    dataset_fingerprint: str | None = None
    features: ModelFeatures = ModelFeatures()
    addon_version: str = ""
    created_utc: str = ""
    extra: dict = field(default_factory=dict)  # keys a newer minor version added: kept, written back

    @property
    def arch(self) -> str:
        return self.recipe.arch

    @classmethod
    def from_dict(cls, data, where: str = CONFIG_NAME) -> "RunConfig":
        """The config in ``data`` (parsed JSON); UserError naming ``where`` when it is not one."""
        if not isinstance(data, dict):
            raise UserError(f"{where} is not a run config (not a JSON object)")
        version = data.get("format_version", 1)
        if not isinstance(version, int) or version > RUN_CONFIG_FORMAT_VERSION:
            raise UserError(f"{where} was written by a newer BlenderCNN (run config format {version}); "
                            "update the add-on")
        own = {f.name for f in fields(cls)} - {"recipe", "features", "extra"}
        feature_keys = {f.name for f in fields(ModelFeatures)}
        recipe_keys = {f.name for f in fields(TrainingRecipe)}
        values = {key: value for key, value in data.items() if key in own}
        try:
            values["resolution"] = int(values["resolution"])
            for key in ("vector_fields", "train_indices", "validation_indices"):
                if key in values:
                    values[key] = tuple(values[key])
            for key in ("vector_min", "vector_max"):
                if values.get(key) is not None:
                    values[key] = tuple(float(v) for v in values[key])
            _check_ranges(values.get("vector_fields", VECTOR_FIELDS), values.get("vector_min"), values.get("vector_max"))
            identity = values.get("dataset_identity")
            values["dataset_identity"] = DatasetIdentity.from_dict(identity) if isinstance(identity, dict) else None
            recipe = TrainingRecipe.from_dict(data)
            features = ModelFeatures(**{key: bool(data[key]) for key in feature_keys if key in data})
        except (KeyError, TypeError, ValueError) as err:
            raise UserError(f"{where} is not a valid run config ({type(err).__name__}: {err})") from None
        ignored = own | recipe_keys | feature_keys | {"resume", "format_version"}
        return cls(**values, recipe=recipe, features=features,
                   extra={key: value for key, value in data.items() if key not in ignored})

    def to_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("recipe", "features", "extra")}
        for key in ("vector_fields", "train_indices", "validation_indices", "vector_min", "vector_max"):
            if data[key] is not None:
                data[key] = list(data[key])
        data["dataset_identity"] = self.dataset_identity.to_dict() if self.dataset_identity else None
        data["format_version"] = RUN_CONFIG_FORMAT_VERSION
        return {**self.extra, **self.recipe.to_dict(), **data,
                **{f.name: getattr(self.features, f.name) for f in fields(self.features)}}

    @property
    def layout(self) -> VectorLayout:
        """The model's input fields: its dataset's layout (the default five for the seed's datasets)."""
        return self.dataset_identity.layout if self.dataset_identity is not None else DEFAULT_LAYOUT

    def checked_input(self, values) -> list[float]:
        """The vector ``values`` checked against what this model accepts (VectorLayout.check)."""
        return self.layout.check(values, self.vector_min, self.vector_max)


def _check_ranges(names, low, high) -> None:
    """ValueError unless the ranges a config records (None: not recorded) are one finite, non-empty
    range per vector field ``names``, inside what generate accepts (vector.check_range; colours 0..1)."""
    if low is None and high is None:
        return
    if low is None or high is None or len(low) != len(names) or len(high) != len(names):
        raise ValueError(f"vector_min and vector_max must hold {len(names)} numbers each")
    for name, a, b in zip(names, low, high):
        try:
            check_range(name, a, b, metres=name in POSITION_FIELDS)
        except UserError as err:
            raise ValueError(str(err)) from None


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
