"""Train a vector → image model on a dataset folder into a run folder. No bpy: runs in the training subprocess.

:func:`train` takes a :class:`~blendercnn_addon.run_config.TrainRequest`; the run folder's files and
their records are run_folder.py's, the config run_config.py's, what happens after each batch and
epoch callbacks.py's. With ``follow`` the dataset may still be growing (growing.py): epochs take the
images finished so far until generate has ended, then training goes on over all of them as usual.
"""

from __future__ import annotations

import datetime
import math
import os
import threading
import warnings
from dataclasses import replace

import numpy as np

from .. import scene_geometry, view_lut
from ..errors import UserError
from ..processes.workers import PACKAGE_DIR
from ..run_config import (SPLIT_BY_SAMPLE_INDEX, SPLIT_SHUFFLED, RunConfig, TrainingRecipe, TrainRequest,
                          read_run_config, write_run_config)
from ..run_folder import LAST_NAME, MODEL_NAME, RunState, TrainerLock, read_state, run_files
from ..version import addon_version
from .dataset import (DatasetIndex, cached_images, check_same_dataset, emission_strength, read_index, split_rows,
                      vectors_fingerprint, world_radiance)
from .growing import GrowingDataset, split_by_index

GROWING_MIN_BATCHES = 32  # while the dataset grows an epoch repeats its images up to this many batches
BALL_FIT_SAMPLES = 1000  # training images that place the radiance model's ball before training


def train(request: TrainRequest, report, stop_requested: threading.Event | None = None, epoch_hook=None) -> dict:
    """Train as ``request`` says; ``report(event, **fields)`` receives protocol events (see protocol.py).
    ``epoch_hook(model, epoch)``, if given, runs after each finished epoch (benchmarks measure there).
    Returns the "done" event's fields. Raises UserError for bad data or run folders, and while
    another train writes into the same run folder (run_folder.TrainerLock)."""
    request.validate()
    with TrainerLock(request.out) as trainer_lock:
        return _train(request, report, stop_requested, epoch_hook, trainer_lock)


def _train(request: TrainRequest, report, stop_requested, epoch_hook, trainer_lock) -> dict:
    stop_requested = stop_requested or threading.Event()
    growing = GrowingDataset(request.data) if request.follow else None
    if growing is not None:
        growing.wait_for_start(request.recipe.split_seed, request.recipe.validation_fraction, stop_requested, report,
                               request.follow_start_wait_s)
        if stop_requested.is_set():
            return _finish(report, RunState(), request, cancelled=True)
    index = growing.index() if growing else read_index(request.data)
    images = growing.images if growing else cached_images(index)
    resolution = _resolution(index, images)
    recipe = _recipe_for(request, view_lut.present(request.data), resolution,  # generate bakes the table first
                         index.ball_extras is not None)
    import keras

    from .callbacks import (AveragedWeights, EpochHook, Reporting, SaveCheckpoints, TrainingProgress,
                            plateau_callbacks, tensorboard)

    keras.utils.set_random_seed(recipe.seed)
    # Built before anything is written: an unknown architecture or a missing view table writes nothing.
    model, features = ((None, None) if request.resume
                       else _new_model(recipe.arch, request.data, index, resolution, recipe.width))
    if model is not None:
        _check_tiles(model, recipe, resolution)
    run_config, state = _prepare_run(request, recipe, index, resolution, features, trainer_lock)
    train_rows, val_rows = _split(run_config, index)
    if request.resume:
        model = _load_for_resume(os.path.join(request.out, LAST_NAME), resolution, index.layout.size)
    else:
        _start(model, recipe, index.vectors, images, train_rows)

    _use_tiles(model, recipe, resolution)
    progress = TrainingProgress(run_config, request.out, state, growing=growing is not None)
    progress.take_split(_with_samples(run_config, index, train_rows, val_rows), index.vectors, images,
                        train_rows, val_rows)
    epoch = state.epochs_done
    report("start", epochs=recipe.epochs, batches=math.ceil(len(train_rows) / recipe.batch_size), device=_device(),
           run=request.out, code=PACKAGE_DIR, initial_epoch=epoch, train_samples=len(train_rows),
           validation_samples=len(val_rows), growing=growing is not None)
    head = [Reporting(progress, recipe, report, stop_requested), SaveCheckpoints(progress)]
    tail = [tensorboard(request.out), *([EpochHook(progress, epoch_hook)] if epoch_hook else []),
            *([AveragedWeights(recipe.weight_averaging)] if recipe.weight_averaging else [])]  # last: see its doc
    if growing is not None:
        epoch = _train_while_growing(model, growing, recipe, request.out, progress, [*head, *tail], epoch,
                                     stop_requested)
        index, images = growing.index(), growing.images
        train_rows, val_rows = _split(progress.run_config, index)
    if epoch < recipe.epochs and not (stop_requested.is_set() or progress.budget_spent or progress.diverged):
        _train_to_the_end(model, recipe, progress, index, images, train_rows, val_rows, epoch,
                          [*head, *plateau_callbacks(recipe), *tail], after_growing=growing is not None)
    if progress.diverged is not None:
        raise _divergence_error(progress, request.out)
    return _finish(report, progress.state, request, cancelled=stop_requested.is_set())


def _resolution(index: DatasetIndex, images: np.ndarray) -> int:
    """The images' side R (the card's, where it says, and the images agree with it)."""
    if images.shape[1] != images.shape[2]:
        raise UserError(f"images must be square, got {images.shape[2]}x{images.shape[1]}")
    recorded = index.card.identity.resolution if index.card else None
    if recorded is not None and recorded != images.shape[1]:
        raise UserError(f"the dataset card says {recorded}² but the images are {images.shape[1]}²")
    return images.shape[1]


def _recipe_for(request: TrainRequest, has_view_table: bool, resolution: int, ball_room: bool) -> TrainingRecipe:
    """The request's recipe made concrete for this dataset: on resume what it leaves open comes from
    the run as it was started (its batch size may differ from today's recipe), else from the
    architecture's recipe at the dataset's resolution."""
    recipe = request.recipe
    if request.resume:
        try:
            recipe = recipe.filled_from(read_run_config(request.out).recipe)
        except (UserError, OSError, ValueError):
            pass  # no readable config.json: _prepare_run says so
    recipe = recipe.for_dataset(has_view_table, resolution, ball_room)
    recipe.validate()
    return recipe


def _new_model(arch: str, data: str, index: DatasetIndex, resolution: int, width: int = 1):
    """(the model, its ModelFeatures) for a new run on ``data``, ``width`` times as wide as the narrowest."""
    from .models import build_model, model_features

    geometry, ceiling = scene_geometry.load(data), emission_strength(index)
    bounds = index.layout.bounds(_trained_ranges(index))
    model = build_model(arch, resolution, view_lut.load(data), ceiling, world_radiance(index), geometry, bounds,
                        index.layout.light_colours, index.ball_extras, width)
    return model, model_features(arch, geometry, ceiling)


def _start(model, recipe: TrainingRecipe, vectors: np.ndarray, images: np.ndarray, train_rows: np.ndarray) -> None:
    """A new model placed where the training renders show the ball (training rows only: validation
    stays unseen), then compiled with Adam and MSE."""
    import keras

    from .ball_disc import set_exact
    from .models import start_from_data

    fit_rows = np.sort(train_rows[:BALL_FIT_SAMPLES])
    start_from_data(model, vectors[fit_rows], images[fit_rows])
    set_exact(model, False)  # trained and validated against the renders, rim and all (ball_disc.py)
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate), loss="mse")


def _check_tiles(model, recipe: TrainingRecipe, resolution: int) -> None:
    """UserError, before anything is written, when the recipe asks for tiles this model cannot train on."""
    from .crop_steps import crop_side

    if recipe.tile_fraction > 1 and crop_side(model, resolution, recipe.tile_fraction) is None:
        raise UserError(f"--tile-fraction {recipe.tile_fraction}: only radiance models that draw the ball from the "
                        f"scene's geometry train on tiles, and the tiles must split {resolution}² into a grid of "
                        "multiples of 4 pixels; use 1 (whole images)")


def _use_tiles(model, recipe: TrainingRecipe, resolution: int) -> None:
    """Train on one tile per image when the recipe asks for it (crop_steps.py; _check_tiles made sure
    the model can); otherwise on whole images."""
    from .crop_steps import crop_side, use_crop_steps

    if recipe.tile_fraction > 1:
        _check_tiles(model, recipe, resolution)
        use_crop_steps(model, resolution, crop_side(model, resolution, recipe.tile_fraction), recipe.seed)


def _train_to_the_end(model, recipe: TrainingRecipe, progress, index: DatasetIndex, images: np.ndarray,
                      train_rows: np.ndarray, val_rows: np.ndarray, epoch: int, callbacks: list,
                      after_growing: bool) -> None:
    """Epochs ``epoch`` + 1 .. recipe.epochs over the whole dataset, with the plateau schedule. After a
    growing dataset the best model is chosen again, on the whole validation set."""
    best_while_growing = progress.state.best_val_loss if after_growing else None
    if after_growing:
        progress.plateau_from = epoch  # the plateau is judged on the epochs over the whole dataset
        progress.growing = False
        progress.state = replace(progress.state, best_val_loss=None)
        progress.take_split(_with_samples(progress.run_config, index, train_rows, val_rows), index.vectors, images,
                            train_rows, val_rows)
    _fit(model, progress, x=_make_batches(images, index.vectors, train_rows, recipe.batch_size, seed=recipe.seed),
         validation_data=_make_batches(images, index.vectors, val_rows, recipe.batch_size, seed=None),
         epochs=recipe.epochs, initial_epoch=epoch, callbacks=callbacks, verbose=0)
    if progress.state.best_val_loss is None and best_while_growing is not None:  # stopped before an epoch ended
        progress.state = replace(progress.state, best_val_loss=best_while_growing)


def _train_while_growing(model, growing: GrowingDataset, recipe: TrainingRecipe, out: str, progress,
                         callbacks: list, epoch: int, stop_requested: threading.Event) -> int:
    """One epoch after another on the images finished so far (at least GROWING_MIN_BATCHES batches each:
    early on the few images repeat), until an epoch began after generate had ended. Returns the
    number of epochs done. The plateau schedule waits: gains on a growing dataset are not a plateau."""
    while epoch < recipe.epochs:
        still_generating = growing.generating()  # looked at before reading: a run that has ended wrote its last table
        growing.refresh()
        index = growing.index()
        train_rows, val_rows = split_by_index(index.indices, recipe.split_seed, recipe.validation_fraction)
        progress.take_split(_with_samples(progress.run_config, index, train_rows, val_rows), index.vectors,
                            growing.images, train_rows, val_rows)
        progress.growing = still_generating
        write_run_config(out, progress.run_config)
        repeats = math.ceil(GROWING_MIN_BATCHES * recipe.batch_size / len(train_rows))
        _fit(model, progress, x=_make_batches(growing.images, index.vectors, np.tile(train_rows, repeats),
                                              recipe.batch_size, seed=recipe.seed + epoch),
             validation_data=_make_batches(growing.images, index.vectors, val_rows, recipe.batch_size, seed=None),
             epochs=epoch + 1, initial_epoch=epoch, callbacks=callbacks, verbose=0)
        if progress.state.epochs_done <= epoch or progress.budget_spent or stop_requested.is_set():
            break  # stopped, diverged or out of time
        epoch += 1
        if not still_generating:
            break
    write_run_config(out, progress.run_config)
    return progress.state.epochs_done


def _fit(model, progress, **fit_args) -> None:
    """model.fit(**fit_args). Weights gone NaN can stop TensorFlow before the loss shows it (radiance
    gathers pixels at the ball's position: a NaN position is an index error): that error, with the
    weights non-finite, is recorded as the divergence it is; any other error is raised."""
    import tensorflow as tf

    from .callbacks import Divergence

    try:
        model.fit(**fit_args)
    except tf.errors.InvalidArgumentError:
        if all(np.all(np.isfinite(weights)) for weights in model.get_weights()):
            raise
        if progress.diverged is None:
            progress.diverged = Divergence(progress.state.epochs_done + 1, None,
                                           float(model.optimizer.learning_rate.numpy()), in_weights=True)


def _divergence_error(progress, run: str) -> UserError:
    where = progress.diverged
    place = f"epoch {where.epoch}" + (f", batch {where.batch}" if where.batch else
                                      " (the weights)" if where.in_weights else " (validation)")
    kept = (f"the best model so far (epoch {progress.state.best_epoch}) is kept in {run}"
            if progress.state.best_epoch is not None else "no model was saved (no epoch ended with a finite loss)")
    return UserError(f"training diverged: the loss became NaN or infinite at {place} (learning rate "
                     f"{where.learning_rate:g}); {kept}; try a lower --learning-rate")


def _device() -> str:
    import tensorflow as tf

    return "GPU" if tf.config.list_physical_devices("GPU") else "CPU"


def _make_batches(images: np.ndarray, vectors: np.ndarray, rows: np.ndarray, batch_size: int, seed: int | None):
    """A keras PyDataset yielding (vectors (B, vector size) float32, images (B, H, W, 3) float32 in [0, 1]).

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


def _trained_ranges(index: DatasetIndex) -> dict[str, tuple[float, float]]:
    """{name: (low, high)} of every ranged vector field: the card's (else what its vectors span)."""
    identity = index.card.identity if index.card else None
    ranges = {}
    for spec in index.layout.ranged:
        values = index.vectors[:, index.layout.names.index(spec.name)]
        recorded = identity.range_of(spec.name) if identity else None
        ranges[spec.name] = recorded or (float(values.min()), float(values.max()))
    return ranges


def _new_run_config(request: TrainRequest, recipe: TrainingRecipe, index: DatasetIndex, resolution: int,
                    features) -> RunConfig:
    """The record of a new run: the recipe, the seeded split, what the model accepts, what it saw."""
    low, high = index.layout.bounds(_trained_ranges(index))
    run_config = RunConfig(
        resolution=resolution, recipe=recipe, data=os.path.abspath(request.data), out=request.out,
        vector_fields=index.layout.names, vector_min=tuple(low), vector_max=tuple(high),
        split_rule=SPLIT_BY_SAMPLE_INDEX if request.follow else SPLIT_SHUFFLED,
        dataset_identity=index.card.identity if index.card else None, features=features,
        addon_version=addon_version(),
        created_utc=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    if request.follow:
        train_rows, val_rows = split_by_index(index.indices, recipe.split_seed, recipe.validation_fraction)
    else:
        train_rows, val_rows = split_rows(len(index.indices), recipe.split_seed, recipe.validation_fraction)
    return _with_samples(run_config, index, train_rows, val_rows)


def _with_samples(run_config: RunConfig, index: DatasetIndex, train_rows: np.ndarray, val_rows: np.ndarray) -> RunConfig:
    """run_config recording these rows of ``index`` as its split (sample indices, ascending) and their fingerprint."""
    return replace(run_config, train_indices=tuple(sorted(index.indices[train_rows].tolist())),
                   validation_indices=tuple(sorted(index.indices[val_rows].tolist())),
                   dataset_fingerprint=vectors_fingerprint(index, index.indices[np.concatenate([train_rows, val_rows])]))


def _split(run_config: RunConfig, index: DatasetIndex) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, validation rows) of ``index`` for this run: every sample by the sample-index rule
    for a run that followed a growing dataset, else the recorded split."""
    recipe = run_config.recipe
    if run_config.split_rule == SPLIT_BY_SAMPLE_INDEX:
        return split_by_index(index.indices, recipe.split_seed, recipe.validation_fraction)
    position = {int(sample): row for row, sample in enumerate(index.indices)}
    return (np.array([position[i] for i in run_config.train_indices], np.int64),
            np.array([position[i] for i in run_config.validation_indices], np.int64))


def _prepare_run(request: TrainRequest, recipe: TrainingRecipe, index: DatasetIndex, resolution: int,
                 features, trainer_lock: TrainerLock) -> tuple[RunConfig, RunState]:
    """Take the run folder's trainer lock, then write (or, on resume, read back) config.json;
    returns (run config, state)."""
    run = request.out
    if request.resume:
        _resumable_state(run)  # a folder with nothing to resume is refused before a lock file is made there
        trainer_lock.take()
        state = _resumable_state(run)  # read again now that no other trainer writes here
        run_config = read_run_config(run)
        check_same_dataset(index, run_config, run)
        return run_config, state
    if run_files(run):
        raise UserError(f"run folder {run} is not empty; choose a new folder or pass --resume")
    run_config = _new_run_config(request, recipe, index, resolution, features)
    os.makedirs(run, exist_ok=True)
    trainer_lock.take()
    if run_files(run):  # another new run started here between the look above and the lock
        raise UserError(f"run folder {run} is not empty; choose a new folder or pass --resume")
    write_run_config(run, run_config)
    return run_config, RunState()


def _resumable_state(run: str) -> RunState:
    """The run's state.json; UserError when it is unreadable or records no finished epoch."""
    try:
        state = read_state(run)
    except UserError as err:
        raise UserError(f"cannot resume {run}: {err}") from None
    if state is None:
        raise UserError(f"nothing to resume in {run}: no finished epoch was saved there")
    return state


def _load_for_resume(path: str, resolution: int, vector_size: int):
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
    if tuple(model.input_shape) != (None, vector_size) or \
            tuple(model.output_shape) != (None, resolution, resolution, 3):
        raise UserError(f"cannot resume: {path} maps {model.input_shape} to {model.output_shape}, not "
                        f"{vector_size} numbers to a {resolution}x{resolution} image: not this run's model")
    if getattr(model, "optimizer", None) is None:
        raise UserError(f"cannot resume: {path} holds no optimizer state")
    return model


def _finish(report, state: RunState, request: TrainRequest, cancelled: bool) -> dict:
    """Report "done" and return its fields."""
    result = {
        "cancelled": cancelled,
        "stopped_early": not cancelled and state.epochs_done < request.recipe.epochs,
        "epochs_done": state.epochs_done,
        "best_val_loss": state.best_val_loss,
        "best_val_psnr": state.best_val_psnr,
        "model": os.path.join(request.out, MODEL_NAME) if state.best_val_loss is not None else None,
    }
    report("done", **result)
    return result
