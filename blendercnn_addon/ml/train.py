"""Train a vector → image model on a dataset folder. No bpy: runs in the training subprocess.

A run folder holds::

    model.keras     best model so far (lowest validation MSE), self-contained
    last.keras      the latest epoch, with optimizer state, for --resume
    config.json     everything to rebuild the model and know what data it saw (incl. the split)
    state.json      epochs done and best validation loss, for --resume
    history.json    one entry per epoch: loss, val_loss, val_psnr, lr, seconds
    logs/           TensorBoard: Keras's scalars, val_psnr, and a real | generated image grid
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
import threading
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np

from .. import scene_geometry, view_lut
from ..dataset_format import write_atomically
from ..errors import UserError
from ..processes.workers import PACKAGE_DIR
from ..metrics import psnr_from_mse
from ..run_config import (SPLIT_BY_SAMPLE_INDEX, SPLIT_SHUFFLED, RunConfig, embed_in_model, read_run_config,
                          write_run_config)
from ..vector import POSITION, VECTOR_SIZE, vector_bounds
from ..version import addon_version
from .dataset import (cached_images, check_same_dataset, emission_strength, read_index, split_rows, vectors_fingerprint,
                      world_radiance)
from .growing import GrowingDataset, split_by_index
from ..architectures import AUTO, architecture, choose_architecture

GRID_SAMPLES = 4  # fixed validation samples shown in TensorBoard each epoch
GROWING_MIN_BATCHES = 32  # while the dataset grows an epoch repeats its images up to this many batches
BALL_FIT_SAMPLES = 1000  # training images that place the radiance model's ball before training


@dataclass
class TrainConfig:
    """What to train. learning_rate is Adam's initial rate; patience counts epochs.

    arch "auto" becomes radiance or seed by the dataset (architectures.choose_architecture, see
    for_dataset); batch_size and learning_rate left None take the architecture's recipe at the
    dataset's resolution (also for_dataset)."""

    data: str
    out: str
    arch: str = AUTO
    epochs: int = 50
    batch_size: int | None = None
    learning_rate: float | None = None
    validation_fraction: float = 0.1
    split_seed: int = 0
    seed: int = 0  # weight initialisation and batch order
    early_stopping_patience: int = 5
    lr_patience: int = 3
    # An epoch "improves" only when the validation PSNR rises by at least this much (dB): a run whose
    # gains have shrunk to noise stops instead of creeping on for dozens of epochs.
    min_improvement_db: float = 0.05
    # The plateau schedule divides the rate by 10 at most this many times (a floor at 1/1000 of the
    # initial rate): below it Adam's steps no longer change the image.
    lr_reductions: int = 3
    time_budget_s: float = 0.0  # > 0: the epoch that ends past this many seconds of training is the last
    resume: bool = False
    # Train as it renders (growing.py): start while generate still writes the dataset, each epoch on
    # the images finished so far, validation by a fixed rule on the sample index.
    follow: bool = False
    follow_start_wait_s: float = 60.0  # --follow on a folder generate has not begun: how long to wait for it

    def for_dataset(self, has_view_table: bool, resolution: int) -> "TrainConfig":
        """This config for a dataset with or without its baked view table, of images of side
        ``resolution``: "auto" resolved, a batch size and rate left None taken from the recipe."""
        arch = choose_architecture(self.arch, has_view_table)
        recommended = architecture(arch).recipe(resolution)
        return replace(self, arch=arch,
                       batch_size=recommended["batch_size"] if self.batch_size is None else self.batch_size,
                       learning_rate=recommended["learning_rate"] if self.learning_rate is None else self.learning_rate)

    def validate(self) -> None:
        """UserError for a value no training can use (batch size and rate once the recipe is known)."""
        if self.arch != AUTO:
            architecture(self.arch)  # UserError naming the choices for an unknown name
        if self.epochs < 1:
            raise UserError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size is not None and self.batch_size < 1:
            raise UserError(f"batch size must be at least 1, got {self.batch_size}")
        if self.learning_rate is not None and not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise UserError(f"learning rate must be a positive number, got {self.learning_rate}")
        if not (self.follow_start_wait_s >= 0 and math.isfinite(self.follow_start_wait_s)):
            raise UserError(f"the wait for generate must be 0 or more seconds, got {self.follow_start_wait_s}")
        if not (self.time_budget_s >= 0 and math.isfinite(self.time_budget_s)):
            raise UserError(f"time budget must be 0 (none) or a positive number of seconds, got {self.time_budget_s}")
        if not 0 < self.validation_fraction < 1:
            raise UserError(f"validation fraction must be between 0 and 1, got {self.validation_fraction}")


def _read_json(path: str):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _write_json(path: str, data) -> None:
    write_atomically(path, (json.dumps(data, indent=2) + "\n").encode())


def _save_model_atomically(model, path: str, run_config: RunConfig) -> None:
    """model.save(path), with the run config inside the file, via a temporary file and a rename."""
    partial = os.path.join(os.path.dirname(path), ".partial-" + os.path.basename(path))  # Keras wants *.keras
    model.save(partial)
    embed_in_model(partial, run_config)
    os.replace(partial, path)


def _device() -> str:
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def _make_batches(images: np.ndarray, vectors: np.ndarray, rows: np.ndarray, batch_size: int, seed: int | None):
    """A keras PyDataset yielding (vectors (B, VECTOR_SIZE) float32, images (B, H, W, 3) float32 in [0, 1]).

    Images stay uint8 in the memory-mapped cache; only the current batch becomes float.
    ``seed`` None keeps the order (validation); otherwise rows are reshuffled every epoch.
    """
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rows = np.array(rows)
            self.rng = None if seed is None else np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self):
            return math.ceil(len(self.rows) / batch_size)

        def __getitem__(self, item):
            picked = np.sort(self.rows[item * batch_size:(item + 1) * batch_size])  # sorted reads from the map
            return vectors[picked], images[picked].astype(np.float32) / 255.0

        def on_epoch_end(self):
            if self.rng is not None:
                self.rng.shuffle(self.rows)

    return Batches()


def _callbacks(config: TrainConfig, current: dict, report, stop_requested: threading.Event, state: dict,
               epoch_hook=None) -> tuple[list, list]:
    """(callbacks before the plateau schedule, callbacks after it). ``current`` holds what may change
    between epochs of a growing dataset: "config" (the RunConfig saved with each model), "grid"
    (TensorBoard's validation vectors and images), "growing" and "samples" (train, validation)."""
    import keras
    import tensorflow as tf

    from .ball_disc import set_exact

    run = config.out
    image_writer = tf.summary.create_file_writer(os.path.join(run, "logs", "validation_images"))
    history_path = os.path.join(run, "history.json")

    class Reporting(keras.callbacks.Callback):
        """Adds val_psnr to the logs (before TensorBoard sees them), reports progress, honours stop."""

        def on_train_begin(self, logs=None):  # once: a growing dataset trains with one fit per epoch
            if getattr(self, "started", None) is None:
                self.started, self.first_epoch = time.monotonic(), None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1
            self.first_epoch = self.first_epoch or self.epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", float("nan")))
            report("batch", epoch=self.epoch, batch=batch + 1, batches=self.params["steps"], loss=loss)
            if not math.isfinite(loss):
                self._diverged(batch + 1)
            if stop_requested.is_set():
                self.model.stop_training = True

        def _diverged(self, batch: int | None) -> None:
            if "diverged" not in state:
                state["diverged"] = {"epoch": self.epoch, "batch": batch,
                                     "learning_rate": float(self.model.optimizer.learning_rate.numpy())}
            self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            if "val_loss" not in logs:  # stopped mid-epoch: Keras skipped validation
                return
            if not math.isfinite(float(logs["val_loss"])):
                self._diverged(None)
                return
            logs["val_psnr"] = psnr_from_mse(float(logs["val_loss"]))
            elapsed = time.monotonic() - self.started
            per_epoch = elapsed / (self.epoch - self.first_epoch + 1)
            entry = {"epoch": self.epoch, "loss": float(logs["loss"]), "val_loss": float(logs["val_loss"]),
                     "val_psnr": logs["val_psnr"], "lr": float(self.model.optimizer.learning_rate.numpy()),
                     "seconds": per_epoch, "elapsed_s": elapsed}
            entry.update(train_samples=current["samples"][0], validation_samples=current["samples"][1],
                         growing=current["growing"])
            history = _read_json(history_path) if os.path.exists(history_path) else []
            _write_json(history_path, [h for h in history if h["epoch"] < self.epoch] + [entry])
            grid_vectors, grid_real = current["grid"]
            with image_writer.as_default():
                generated = self.model.predict(grid_vectors, verbose=0)
                pairs = np.concatenate([grid_real, generated], axis=2)  # real | generated, side by side
                tf.summary.image("real | generated", pairs, step=epoch, max_outputs=len(pairs))
            train_samples, validation_samples = current["samples"]
            psnrs = current.setdefault("psnrs", {})
            psnrs[self.epoch] = entry["val_psnr"]
            left = config.epochs - self.epoch
            plateau = None if current["growing"] else epochs_to_plateau(
                [psnrs[e] for e in sorted(psnrs) if e > current.get("plateau_from", 0)],
                config.min_improvement_db, config.early_stopping_patience)
            report("epoch", epoch=self.epoch, epochs=config.epochs, loss=entry["loss"], val_loss=entry["val_loss"],
                   val_psnr=entry["val_psnr"], lr=entry["lr"], elapsed_s=elapsed,
                   eta_s=per_epoch * (left if plateau is None else min(plateau, left)),
                   until_plateau=plateau is not None and plateau < left, train_samples=train_samples,
                   validation_samples=validation_samples, growing=current["growing"])
            if config.time_budget_s and elapsed >= config.time_budget_s:
                current["budget_spent"] = True
                self.model.stop_training = True  # the budget is spent: this epoch was the last

    class SaveCheckpoints(keras.callbacks.Callback):
        """After each full epoch: model.keras when validation improved, last.keras (with optimizer)
        and state.json for --resume. Each file is replaced atomically, so a kill never leaves a
        half-written model behind."""

        def on_epoch_end(self, epoch, logs=None):
            if not logs or "val_loss" not in logs or "diverged" in state:  # never save a diverged model
                return
            val_loss = float(logs["val_loss"])
            if val_loss < state.get("best_val_loss", math.inf):
                state["best_val_loss"] = val_loss
                state["best_epoch"] = epoch + 1
                set_exact(self.model, True)  # the model for use draws the ball exactly
                _save_model_atomically(self.model, os.path.join(run, "model.keras"), current["config"])
                set_exact(self.model, False)
            state["epochs_done"] = epoch + 1
            _save_model_atomically(self.model, os.path.join(run, "last.keras"), current["config"])
            _write_json(os.path.join(run, "state.json"), state)

    class EpochHook(keras.callbacks.Callback):
        """epoch_hook(model, epoch) after the checkpoints, with the model as it is used (exact ball)."""

        def on_epoch_end(self, epoch, logs=None):
            if logs and "val_loss" in logs and "diverged" not in state:
                set_exact(self.model, True)
                try:
                    epoch_hook(self.model, epoch + 1)
                finally:
                    set_exact(self.model, False)

    return ([Reporting(), SaveCheckpoints()],
            [keras.callbacks.TensorBoard(log_dir=os.path.join(run, "logs")), *([EpochHook()] if epoch_hook else [])])


def epochs_to_plateau(psnrs: list[float], min_gain_db: float, patience: int) -> int | None:
    """How many more epochs before early stopping (Keras' rule: an epoch improves when it beats the
    best by more than ``min_gain_db``; ``patience`` epochs without one end the run) is expected to
    end a run whose validation PSNR per epoch so far is ``psnrs`` (dB). None when it cannot be told.

    Near a plateau the best PSNR's gain per epoch shrinks about geometrically: r1, r2 are the mean
    gains over the three epochs before the last three and over the last three, q = (r2 / r1)^(1/3)
    the shrink per epoch and g = r2·q the latest epoch's gain. The run stops improving once all it
    has left to gain, g·qⁿ / (1 − q), is under ``min_gain_db``, and ends ``patience`` epochs later.
    Needs 7 epochs and shrinking gains. On saturating curves (q 0.6 … 0.85) it is within an
    epoch from epoch 8 on; slower ones (q 0.9) stop up to 10 epochs before it says."""
    best, wait, bests = -math.inf, 0, []
    for value in psnrs:
        if value - min_gain_db > best:
            best, wait = value, 0
        else:
            wait += 1
        bests.append(max(bests[-1], value) if bests else value)
    if wait >= patience:
        return 0
    if len(bests) < 7:
        return None
    earlier, recent = (bests[-4] - bests[-7]) / 3.0, (bests[-1] - bests[-4]) / 3.0
    if recent <= min_gain_db:
        return patience - wait  # flat already: only the patience is left
    if earlier <= 0.0 or recent >= earlier:
        return None  # still climbing as fast as before: no plateau in sight
    shrink = (recent / earlier) ** (1.0 / 3.0)
    latest = recent * shrink  # the mean is centred one epoch back
    epochs = math.ceil(math.log(min_gain_db * (1.0 - shrink) / latest) / math.log(shrink))
    return epochs + patience if epochs > 0 else patience - wait


def plateau_callbacks(config: TrainConfig) -> list:
    """Early stopping and the learning-rate schedule, both on the validation PSNR (dB, which Reporting
    adds to the logs first) with a minimum improvement, and the rate floored (lr_reductions)."""
    import keras

    return [
        keras.callbacks.EarlyStopping(monitor="val_psnr", mode="max", min_delta=config.min_improvement_db,
                                      patience=config.early_stopping_patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_psnr", mode="max", min_delta=config.min_improvement_db,
                                          patience=config.lr_patience, factor=0.1,
                                          min_lr=config.learning_rate * 0.1 ** config.lr_reductions),
    ]


def _position_ranges(index) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y ranges the dataset's card declares (else the ones its vectors span), metres."""
    identity = index.card.identity if index.card else None
    if identity and identity.x_range and identity.y_range:
        return identity.x_range, identity.y_range
    positions = index.vectors[:, POSITION]
    return tuple(zip(positions.min(axis=0).tolist(), positions.max(axis=0).tolist()))


def _new_run_config(config: TrainConfig, index, resolution: int, ball_disc: bool) -> RunConfig:
    """The record of a new run: the request, the seeded split, what the model accepts, what it saw."""
    low, high = vector_bounds(*_position_ranges(index))
    run_config = RunConfig(
        arch=config.arch, resolution=resolution, data=os.path.abspath(config.data), out=config.out,
        epochs=config.epochs, batch_size=config.batch_size, learning_rate=config.learning_rate,
        validation_fraction=config.validation_fraction, split_seed=config.split_seed, seed=config.seed,
        early_stopping_patience=config.early_stopping_patience, lr_patience=config.lr_patience,
        min_improvement_db=config.min_improvement_db, lr_reductions=config.lr_reductions,
        time_budget_s=config.time_budget_s, vector_min=tuple(low), vector_max=tuple(high),
        split_rule=SPLIT_BY_SAMPLE_INDEX if config.follow else SPLIT_SHUFFLED,
        dataset_identity=index.card.identity if index.card else None,
        scene_light=architecture(config.arch).uses_geometry and scene_geometry.present(config.data),
        ball_disc=ball_disc, addon_version=addon_version(),
        created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if config.follow:
        train_rows, val_rows = split_by_index(index.indices, config.split_seed, config.validation_fraction)
    else:
        train_rows, val_rows = split_rows(len(index.indices), config.split_seed, config.validation_fraction)
    return _with_samples(run_config, index, train_rows, val_rows)


def _with_samples(run_config: RunConfig, index, train_rows: np.ndarray, val_rows: np.ndarray) -> RunConfig:
    """run_config recording these rows of ``index`` as its split (sample indices, ascending) and their fingerprint."""
    return replace(run_config, train_indices=tuple(sorted(index.indices[train_rows].tolist())),
                   validation_indices=tuple(sorted(index.indices[val_rows].tolist())),
                   dataset_fingerprint=vectors_fingerprint(index, index.indices[np.concatenate([train_rows, val_rows])]))


def _split(run_config: RunConfig, index) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of ``index`` for this run: every sample by the sample-index rule
    for a run that followed a growing dataset, else the recorded split."""
    if run_config.split_rule == SPLIT_BY_SAMPLE_INDEX:
        return split_by_index(index.indices, run_config.split_seed, run_config.validation_fraction)
    position = {int(sample): row for row, sample in enumerate(index.indices)}
    return (np.array([position[i] for i in run_config.train_indices], np.int64),
            np.array([position[i] for i in run_config.validation_indices], np.int64))


def _prepare_run(config: TrainConfig, index, resolution: int, ball_disc: bool = False) -> tuple[RunConfig, dict]:
    """Write (or, on resume, read back) config.json; returns (run config, state). ``ball_disc``:
    whether the model draws the ball's own pixels from geometry (models.draws_ball)."""
    run = config.out
    if config.resume:
        if not os.path.exists(os.path.join(run, "state.json")):
            raise UserError(f"nothing to resume in {run}: no finished epoch was saved there")
        run_config = read_run_config(run)
        try:
            state = _read_json(os.path.join(run, "state.json"))
        except (OSError, ValueError) as err:
            raise UserError(f"cannot resume {run}: its state.json is unreadable ({err})") from None
        if not isinstance(state, dict):
            raise UserError(f"cannot resume {run}: its state.json is not a JSON object")
        check_same_dataset(index, run_config, run)
        return run_config, state
    if os.path.isdir(run) and os.listdir(run):
        raise UserError(f"run folder {run} is not empty; choose a new folder or pass --resume")
    run_config = _new_run_config(config, index, resolution, ball_disc)
    os.makedirs(run, exist_ok=True)
    write_run_config(run, run_config)
    return run_config, {}


def _as_before(config: TrainConfig) -> TrainConfig:
    """A resumed run goes on with the batch size it was started with, unless one is given (a
    recipe may have changed since; a missing or unreadable config.json is _prepare_run's error)."""
    if not config.resume or config.batch_size is not None:
        return config
    try:
        return replace(config, batch_size=read_run_config(config.out).batch_size)
    except (UserError, OSError, ValueError):
        return config


def _load_for_resume(path: str, resolution: int):
    """last.keras, with its optimizer state; UserError when it is missing, corrupt or not this run's kind."""
    import keras

    from . import models  # noqa: F401  (registers the custom layers that saved models name)

    if not os.path.isfile(path):
        raise UserError(f"cannot resume: {path} is missing")
    try:
        with warnings.catch_warnings():  # a foreign file's optimizer mismatch: judged below instead
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path, safe_mode=True)
    except Exception as err:  # Keras raises many types for corrupt or foreign files
        first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
        raise UserError(f"cannot resume: {path} is not a loadable Keras model ({first})") from None
    if tuple(model.input_shape) != (None, VECTOR_SIZE) or \
            tuple(model.output_shape) != (None, resolution, resolution, 3):
        raise UserError(f"cannot resume: {path} maps {model.input_shape} to {model.output_shape}, not "
                        f"{VECTOR_SIZE} numbers to a {resolution}x{resolution} image: not this run's model")
    if getattr(model, "optimizer", None) is None:
        raise UserError(f"cannot resume: {path} holds no optimizer state")
    return model


def train(config: TrainConfig, report, stop_requested: threading.Event | None = None, epoch_hook=None) -> dict:
    """Train as ``config`` says; ``report(event, **fields)`` receives protocol events (see protocol.py).
    ``epoch_hook(model, epoch)``, if given, runs after each finished epoch (benchmarks measure there).

    With ``config.follow`` the dataset may still be growing (growing.py): epochs take the images
    finished so far until generate has ended, then training goes on over all of them as usual.
    Returns the "done" event's fields. Raises UserError for bad data or run folders.
    """
    config.validate()
    stop_requested = stop_requested or threading.Event()
    growing = GrowingDataset(config.data) if config.follow else None
    if growing is not None:
        growing.wait_for_start(config.split_seed, config.validation_fraction, stop_requested, report,
                               config.follow_start_wait_s)
        if stop_requested.is_set():
            return _finish(report, {}, config, cancelled=True)
    index = growing.index() if growing else read_index(config.data)
    images = growing.images if growing else cached_images(index)
    if images.shape[1] != images.shape[2]:
        raise UserError(f"images must be square, got {images.shape[2]}x{images.shape[1]}")
    # generate bakes the view table before its first image
    config = _as_before(config).for_dataset(view_lut.present(config.data), images.shape[1])
    config.validate()
    import keras

    from .ball_disc import set_exact
    from .models import build_model, start_from_data

    keras.utils.set_random_seed(config.seed)
    # Built before anything is written: an unknown architecture or a missing view table writes nothing.
    model = None if config.resume else build_model(config.arch, images.shape[1], view_lut.load(config.data),
                                                   emission_strength(index), world_radiance(index),
                                                   scene_geometry.load(config.data))
    ball_disc = model is not None and any(layer.name == "ball_coverage" for layer in model.layers)
    run_config, state = _prepare_run(config, index, images.shape[1], ball_disc)
    train_rows, val_rows = _split(run_config, index)
    if config.resume:
        model = _load_for_resume(os.path.join(config.out, "last.keras"), images.shape[1])
    else:
        fit_rows = np.sort(train_rows[:BALL_FIT_SAMPLES])  # training rows only: validation stays unseen
        start_from_data(model, index.vectors[fit_rows], images[fit_rows])
        set_exact(model, False)  # trained and validated against the renders, rim and all (ball_disc.py)
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")

    current = {"config": run_config, "growing": growing is not None, "budget_spent": False}
    _take_split(current, index, images, train_rows, val_rows)
    epoch = state.get("epochs_done", 0)
    report("start", epochs=config.epochs, batches=math.ceil(len(train_rows) / config.batch_size), device=_device(),
           run=config.out, code=PACKAGE_DIR,
           initial_epoch=epoch, train_samples=len(train_rows), validation_samples=len(val_rows),
           growing=growing is not None)
    head, tail = _callbacks(config, current, report, stop_requested, state, epoch_hook)
    if growing is not None:
        epoch = _train_while_growing(model, growing, config, current, [*head, *tail], epoch, stop_requested, state)
        index, images = growing.index(), growing.images
        train_rows, val_rows = _split(current["config"], index)
    if epoch < config.epochs and not (stop_requested.is_set() or current["budget_spent"] or "diverged" in state):
        # After a growing dataset the best model is chosen again, on the whole validation set.
        best_while_growing = state.pop("best_val_loss", None) if growing is not None else None
        if growing is not None:
            current["plateau_from"] = epoch  # the plateau is judged on the epochs over the whole dataset
            _take_split(current, index, images, train_rows, val_rows, growing=False)
        model.fit(_make_batches(images, index.vectors, train_rows, config.batch_size, seed=config.seed),
                  validation_data=_make_batches(images, index.vectors, val_rows, config.batch_size, seed=None),
                  epochs=config.epochs, initial_epoch=epoch, callbacks=[*head, *plateau_callbacks(config), *tail],
                  verbose=0)
        if "best_val_loss" not in state and best_while_growing is not None:  # stopped before an epoch ended
            state["best_val_loss"] = best_while_growing
    if "diverged" in state:
        where = state["diverged"]
        place = f"epoch {where['epoch']}" + (f", batch {where['batch']}" if where["batch"] else " (validation)")
        kept = (f"the best model so far (epoch {state['best_epoch']}) is kept in {config.out}"
                if "best_epoch" in state else "no model was saved (no epoch ended with a finite loss)")
        raise UserError(f"training diverged: the loss became NaN or infinite at {place} (learning rate "
                        f"{where['learning_rate']:g}); {kept}; try a lower --learning-rate")
    return _finish(report, state, config, cancelled=stop_requested.is_set())


def _take_split(current: dict, index, images: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
                growing: bool | None = None) -> None:
    """Record the split in ``current`` (config with its sample indices, TensorBoard's grid, counts)."""
    current["config"] = _with_samples(current["config"], index, train_rows, val_rows)
    grid_rows = val_rows[:GRID_SAMPLES]
    current["grid"] = (index.vectors[grid_rows], images[grid_rows].astype(np.float32) / 255.0)
    current["samples"] = (len(train_rows), len(val_rows))
    if growing is not None:
        current["growing"] = growing


def _train_while_growing(model, growing: GrowingDataset, config: TrainConfig, current: dict, callbacks: list,
                         epoch: int, stop_requested: threading.Event, state: dict) -> int:
    """One epoch after another on the images finished so far (at least GROWING_MIN_BATCHES batches each:
    early on the few images repeat), until an epoch began after generate had ended. Returns the
    number of epochs done. The plateau schedule waits: gains on a growing dataset are not a plateau."""
    while epoch < config.epochs:
        still_generating = growing.generating()  # looked at before reading: a run that has ended wrote its last table
        growing.refresh()
        index = growing.index()
        train_rows, val_rows = split_by_index(index.indices, config.split_seed, config.validation_fraction)
        _take_split(current, index, growing.images, train_rows, val_rows, growing=still_generating)
        write_run_config(config.out, current["config"])
        repeats = math.ceil(GROWING_MIN_BATCHES * config.batch_size / len(train_rows))
        model.fit(_make_batches(growing.images, index.vectors, np.tile(train_rows, repeats), config.batch_size,
                                seed=config.seed + epoch),
                  validation_data=_make_batches(growing.images, index.vectors, val_rows, config.batch_size, seed=None),
                  epochs=epoch + 1, initial_epoch=epoch, callbacks=callbacks, verbose=0)
        if state.get("epochs_done", 0) <= epoch or current["budget_spent"] or stop_requested.is_set():
            break  # stopped, diverged or out of time
        epoch += 1
        if not still_generating:
            break
    write_run_config(config.out, current["config"])
    return state.get("epochs_done", epoch)


def _finish(report, state: dict, config: TrainConfig, cancelled: bool) -> dict:
    """Report "done" and return its fields."""
    epochs_done = state.get("epochs_done", 0)
    result = {
        "cancelled": cancelled,
        "stopped_early": not cancelled and epochs_done < config.epochs,
        "epochs_done": epochs_done,
        "best_val_loss": state.get("best_val_loss"),
        "best_val_psnr": psnr_from_mse(state["best_val_loss"]) if "best_val_loss" in state else None,
        "model": os.path.join(config.out, "model.keras") if "best_val_loss" in state else None,
    }
    report("done", **result)
    return result


class TerminalReport:
    """Progress bar on stderr for ``python -m blendercnn_addon train``."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self._last = 0.0

    def __call__(self, event: str, **f) -> None:
        if event == "start":
            self.stream.write(f"training on {f['device']}: {f['train_samples']} train / "
                              f"{f['validation_samples']} validation samples, {f['batches']} batches per epoch\n")
        elif event == "batch" and self.interactive and time.monotonic() - self._last > 0.2:
            self._last = time.monotonic()
            filled = int(20 * f["batch"] / f["batches"])
            self.stream.write(f"\r\033[Kepoch {f['epoch']} [{'#' * filled}{'.' * (20 - filled)}] "
                              f"{f['batch']}/{f['batches']} loss {f['loss']:.5f}")
        elif event == "epoch":
            self.stream.write(("\r\033[K" if self.interactive else "") +
                              f"epoch {f['epoch']}/{f['epochs']}  loss {f['loss']:.5f}  val_loss "
                              f"{f['val_loss']:.5f}  val_psnr {f['val_psnr']:.2f} dB  lr {f['lr']:.2g}  "
                              f"ETA {f['eta_s']:.0f} s{' (plateau)' if f.get('until_plateau') else ''}\n")
        self.stream.flush()
