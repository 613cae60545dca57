"""What happens at the end of each batch and epoch of training: Keras callbacks around one shared
:class:`TrainingProgress`. No bpy; imports Keras (train.py imports this module once it trains).

In the order train.py gives them to Keras: :class:`Reporting` (val_psnr into the logs, the
"batch" and "epoch" events, history.json, TensorBoard's image grid, the time budget, stop and
divergence), :class:`SaveCheckpoints` (model.keras, last.keras, state.json), then the plateau
schedule (early stopping, the rate cut, on val_psnr), then TensorBoard, :class:`EpochHook` and
:class:`AveragedWeights` (validation and checkpoints see the weights' moving average).
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
from dataclasses import dataclass, field, replace

import keras
import numpy as np

from ..metrics import psnr_from_mse
from ..run_config import RunConfig, TrainingRecipe, embed_in_model
from ..run_folder import LAST_NAME, LOGS_FOLDER, MODEL_NAME, EpochRecord, RunState, read_history, write_history, \
    write_state
from .ball_disc import set_exact
from .plateau import ETA_PLATEAU, epochs_to_plateau, eta

GRID_SAMPLES = 4  # fixed validation samples shown in TensorBoard each epoch


@dataclass(frozen=True)
class Divergence:
    """Where the loss became NaN or infinite: epoch, batch (None: in validation), the learning rate
    then; in_weights: the weights were found non-finite after TensorFlow stopped on them (an index
    computed from a NaN position) rather than the loss."""

    epoch: int
    batch: int | None
    learning_rate: float
    in_weights: bool = False


@dataclass
class TrainingProgress:
    """What the callbacks share, and what may change between the epochs of a growing dataset.

    run_config: the RunConfig saved with each model (its split changes while the dataset grows);
    out: the run folder; grid: TensorBoard's validation (vectors, images in [0, 1]); samples: (train,
    validation) counts; growing: generate was still writing when the epoch began; state: what
    state.json says; psnrs: validation PSNR per epoch (dB); plateau_from: epochs before it do not
    count for the plateau ETA (those on a growing dataset); budget_spent, diverged: why training
    stopped, if it did."""

    run_config: RunConfig
    out: str
    state: RunState = RunState()
    grid: tuple[np.ndarray, np.ndarray] | None = None
    samples: tuple[int, int] = (0, 0)
    growing: bool = False
    psnrs: dict[int, float] = field(default_factory=dict)
    plateau_from: int = 0
    budget_spent: bool = False
    diverged: Divergence | None = None

    def take_split(self, run_config: RunConfig, vectors: np.ndarray, images: np.ndarray, train_rows: np.ndarray,
                   val_rows: np.ndarray) -> None:
        """Record a split: the config with its sample indices, TensorBoard's grid, the counts."""
        self.run_config = run_config
        grid_rows = val_rows[:GRID_SAMPLES]
        self.grid = (vectors[grid_rows], images[grid_rows].astype(np.float32) / 255.0)
        self.samples = (len(train_rows), len(val_rows))


class Reporting(keras.callbacks.Callback):
    """Adds val_psnr to the logs (before the schedule and TensorBoard read them), reports progress
    (``report(event, **fields)``, protocol.py's events), keeps history.json, honours stop, the time
    budget and a loss that is no longer finite."""

    def __init__(self, progress: TrainingProgress, recipe: TrainingRecipe, report, stop_requested: threading.Event):
        super().__init__()
        self.progress, self.recipe, self.report, self.stop_requested = progress, recipe, report, stop_requested
        self.images = _image_writer(progress.out)
        self.started: float | None = None
        self.first_epoch: int | None = None
        self.epoch = 0
        self.batches = 0

    def on_train_begin(self, logs=None):  # once: a growing dataset trains with one fit per epoch
        if self.started is None:
            self.started = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.batches = epoch + 1, 0
        self.first_epoch = self.first_epoch or self.epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", float("nan")))
        self.batches = batch + 1
        self.report("batch", epoch=self.epoch, batch=batch + 1, batches=self.params["steps"], loss=loss)
        if not math.isfinite(loss):
            self._diverged(batch + 1)
        if self.stop_requested.is_set():
            self.model.stop_training = True
        if self._budget_left() == 0.0:  # spent mid-epoch: Keras validates what was trained, then stops
            self.progress.budget_spent = True
            self.model.stop_training = True

    def _diverged(self, batch: int | None) -> None:
        if self.progress.diverged is None:
            rate = float(self.model.optimizer.learning_rate.numpy())
            self.progress.diverged = Divergence(self.epoch, batch, rate)
        self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        if "val_loss" not in logs:  # no validation ran (Keras 3 validates even an epoch stopped mid-way)
            return
        if not math.isfinite(float(logs["val_loss"])):
            self._diverged(None)
            return
        logs["val_psnr"] = psnr_from_mse(float(logs["val_loss"]))
        record = self._record(logs)
        write_history(self.progress.out, [h for h in read_history(self.progress.out) if h.epoch < record.epoch]
                      + [record])
        self._show_grid(epoch)
        self.progress.psnrs[record.epoch] = record.val_psnr
        self._report_epoch(record)
        if self._budget_left() == 0.0:
            self.progress.budget_spent = True
            self.model.stop_training = True  # the budget is spent: this epoch was the last

    def _budget_left(self) -> float | None:
        """Seconds of the time budget left (0.0 once spent), None without a budget."""
        if not self.recipe.time_budget_s or self.started is None:
            return None
        return max(0.0, self.recipe.time_budget_s - (time.monotonic() - self.started))

    def _record(self, logs: dict) -> EpochRecord:
        elapsed = time.monotonic() - self.started
        train_samples, validation_samples = self.progress.samples
        return EpochRecord(epoch=self.epoch, loss=float(logs["loss"]), val_loss=float(logs["val_loss"]),
                           val_psnr=logs["val_psnr"], lr=float(self.model.optimizer.learning_rate.numpy()),
                           seconds=elapsed / (self.epoch - self.first_epoch + 1), elapsed_s=elapsed,
                           train_samples=train_samples, validation_samples=validation_samples,
                           growing=self.progress.growing, batches=self.batches,
                           batches_per_epoch=self.params.get("steps"))

    def _show_grid(self, epoch: int) -> None:
        """TensorBoard's "real | generated" images of the fixed validation samples."""
        import tensorflow as tf

        vectors, real = self.progress.grid
        with self.images.as_default():
            generated = self.model.predict(vectors, verbose=0)
            pairs = np.concatenate([real, generated], axis=2)  # real | generated, side by side
            tf.summary.image("real | generated", pairs, step=epoch, max_outputs=len(pairs))

    def _report_epoch(self, record: EpochRecord) -> None:
        progress, left = self.progress, self.recipe.epochs - record.epoch
        plateau = None if progress.growing else epochs_to_plateau(
            [progress.psnrs[e] for e in sorted(progress.psnrs) if e > progress.plateau_from],
            self.recipe.min_improvement_db, self.recipe.early_stopping_patience)
        eta_s, until = eta(record.seconds, left, plateau, self._budget_left())
        self.report("epoch", epoch=record.epoch, epochs=self.recipe.epochs, loss=record.loss,
                    val_loss=record.val_loss, val_psnr=record.val_psnr, lr=record.lr, elapsed_s=record.elapsed_s,
                    eta_s=eta_s, until=until, until_plateau=until == ETA_PLATEAU, train_samples=record.train_samples,
                    validation_samples=record.validation_samples, growing=record.growing)



def _image_writer(run: str):
    import tensorflow as tf

    return tf.summary.create_file_writer(os.path.join(run, LOGS_FOLDER, "validation_images"))


class SaveCheckpoints(keras.callbacks.Callback):
    """After each full epoch: model.keras when validation improved, last.keras (with optimizer)
    and state.json for --resume. Each file is replaced atomically, so a kill never leaves a
    half-written model behind."""

    def __init__(self, progress: TrainingProgress):
        super().__init__()
        self.progress = progress

    def on_epoch_end(self, epoch, logs=None):
        progress = self.progress
        if not logs or "val_loss" not in logs or progress.diverged is not None:  # never save a diverged model
            return
        val_loss, state = float(logs["val_loss"]), progress.state
        if state.best_val_loss is None or val_loss < state.best_val_loss:
            state = replace(state, best_val_loss=val_loss, best_epoch=epoch + 1)
            with drawn_exactly(self.model):  # the model for use draws the ball exactly
                save_model(self.model, os.path.join(progress.out, MODEL_NAME), progress.run_config)
        progress.state = replace(state, epochs_done=epoch + 1)
        save_model(self.model, os.path.join(progress.out, LAST_NAME), progress.run_config)
        write_state(progress.out, progress.state)


class EpochHook(keras.callbacks.Callback):
    """hook(model, epoch) after the checkpoints, with the model as it is used (exact ball):
    benchmarks measure there."""

    def __init__(self, progress: TrainingProgress, hook):
        super().__init__()
        self.progress, self.hook = progress, hook

    def on_epoch_end(self, epoch, logs=None):
        if logs and "val_loss" in logs and self.progress.diverged is None:
            with drawn_exactly(self.model):
                self.hook(self.model, epoch + 1)


@contextlib.contextmanager
def drawn_exactly(model):
    """While inside, the model draws the ball exactly (ball_disc.set_exact), as it is used; it is
    trained and validated against the renders, rim and all, otherwise."""
    set_exact(model, True)
    try:
        yield
    finally:
        set_exact(model, False)


def save_model(model, path: str, run_config: RunConfig) -> None:
    """model.save(path), with the run config inside the file, via a temporary file and a rename."""
    partial = os.path.join(os.path.dirname(path), ".partial-" + os.path.basename(path))  # Keras wants *.keras
    try:
        model.save(partial)
        embed_in_model(partial, run_config)
        os.replace(partial, path)
    except BaseException:  # a full disk, a second Ctrl-C: no half-written model left beside the run's
        try:
            os.remove(partial)
        except OSError:
            pass
        raise


class AveragedWeights(keras.callbacks.Callback):
    """Validate and save an exponential moving average of the weights (Polyak averaging) instead of
    the last step's: the validation curve stops swinging with the epoch's last batches, and
    model.keras / last.keras hold the average (a resumed run goes on from it).

    ``momentum`` in [0, 1): the average's weight per step; during the first steps it is
    min(momentum, (1 + t) / (10 + t)) after t steps, so the average does not lag behind the early,
    fast-changing weights. Must come last among the callbacks: it puts the average into the model
    when validation begins and the trained weights back once every other callback has seen the
    epoch's end."""

    def __init__(self, momentum: float):
        super().__init__()
        self.momentum = momentum
        self.averages: list[np.ndarray] | None = None  # float64: no drift over many steps
        self.steps = 0
        self.trained: list[np.ndarray] | None = None  # the trained weights while the average is in

    def on_train_begin(self, logs=None):  # once: a growing dataset trains with one fit per epoch
        if self.averages is None:
            self.averages = [np.array(v.numpy(), np.float64) for v in self.model.trainable_variables]

    def on_train_batch_end(self, batch, logs=None):
        # In NumPy: the weights are small (radiance: 23,488 numbers), a copy each step costs ≈ 0.6 ms;
        # a tf.function would trace again for every training in one process and TensorFlow warns.
        self.steps += 1
        momentum = min(self.momentum, (1 + self.steps) / (10 + self.steps))
        for average, variable in zip(self.averages, self.model.trainable_variables):
            average *= momentum
            average += (1.0 - momentum) * variable.numpy()

    def on_test_begin(self, logs=None):
        if self.averages is not None and self.trained is None:
            self.trained = [v.numpy() for v in self.model.trainable_variables]
            for variable, average in zip(self.model.trainable_variables, self.averages):
                variable.assign(average.astype(variable.dtype))

    def on_epoch_end(self, epoch, logs=None):
        if self.trained is not None:
            for variable, trained in zip(self.model.trainable_variables, self.trained):
                variable.assign(trained)
            self.trained = None


def plateau_callbacks(recipe: TrainingRecipe) -> list:
    """Early stopping and the learning-rate schedule, both on the validation PSNR (dB, which Reporting
    adds to the logs first) with a minimum improvement, and the rate floored (lr_reductions)."""
    return [
        keras.callbacks.EarlyStopping(monitor="val_psnr", mode="max", min_delta=recipe.min_improvement_db,
                                      patience=recipe.early_stopping_patience, restore_best_weights=True),
        keras.callbacks.ReduceLROnPlateau(monitor="val_psnr", mode="max", min_delta=recipe.min_improvement_db,
                                          patience=recipe.lr_patience, factor=0.1,
                                          min_lr=recipe.learning_rate * 0.1 ** recipe.lr_reductions),
    ]


def tensorboard(run: str):
    return keras.callbacks.TensorBoard(log_dir=os.path.join(run, LOGS_FOLDER))
