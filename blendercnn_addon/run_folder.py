"""A training run's folder: its files, and a typed record with one reader and one writer for each. Blender-free.

    model.keras     the best model so far (lowest validation MSE), self-contained (its config inside)
    last.keras      the latest epoch, with optimizer state, for --resume
    config.json     the run config (run_config.py)
    state.json      :class:`RunState`: epochs done and the best epoch, for --resume
    history.json    a list of :class:`EpochRecord`: one per finished epoch
    metrics.json    :class:`Metrics`: evaluate's figures on the run's validation samples
    comparison.png  evaluate's real | generated | difference grid
    logs/           TensorBoard: Keras's scalars, val_psnr, and a real | generated image grid
    .blendercnn-train.lock  held by the one train writing here (:class:`TrainerLock`)

Each file is written atomically (a kill never leaves half a file) and read here only; a file that
is not what it should be is one UserError naming it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields

from .dataset_format import read_json, write_atomically
from .errors import UserError
from .file_lock import FileLock, LockHeld
from .metrics import psnr_from_mse

MODEL_NAME = "model.keras"
LAST_NAME = "last.keras"
STATE_NAME = "state.json"
HISTORY_NAME = "history.json"
METRICS_NAME = "metrics.json"
COMPARISON_NAME = "comparison.png"
LOGS_FOLDER = "logs"
TRAIN_LOCK_NAME = ".blendercnn-train.lock"


class TrainerLock:
    """One trainer per run folder: TRAIN_LOCK_NAME held exclusively (file_lock.py, Windows too) from
    :meth:`take` until the ``with`` block ends or the process does. Taken once the folder is known
    to be a run (on resume) or has just been made (a new run), so bad input writes nothing."""

    def __init__(self, run: str):
        self.run = run
        self._lock: FileLock | None = None

    def take(self) -> None:
        """UserError when another train holds this run folder."""
        if self._lock is not None:
            return
        try:
            self._lock = FileLock(os.path.join(self.run, TRAIN_LOCK_NAME))
        except LockHeld:
            raise UserError(f"another train is writing into {self.run} (it holds {TRAIN_LOCK_NAME}); wait "
                            "for it to end, or choose another folder") from None

    def __enter__(self) -> "TrainerLock":
        return self

    def __exit__(self, *_exc) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


def run_files(run: str) -> list[str]:
    """The run folder's entries a user or a run made (the trainer's lock file is not one)."""
    return [name for name in os.listdir(run) if name != TRAIN_LOCK_NAME] if os.path.isdir(run) else []


def _from_dict(cls, data, where: str):
    """cls(**data) for the keys cls knows; UserError naming ``where`` when ``data`` is no JSON object
    or a value has the wrong type."""
    if not isinstance(data, dict):
        raise UserError(f"{where} is not a JSON object")
    known = {f.name for f in fields(cls)}
    try:
        return cls(**{key: value for key, value in data.items() if key in known})
    except TypeError as err:
        raise UserError(f"{where} is not readable ({err})") from None


@dataclass(frozen=True)
class RunState:
    """state.json. epochs_done: finished epochs (saved in last.keras); best_val_loss (MSE on [0, 1]
    pixels) and best_epoch: of model.keras, None before the first finished epoch."""

    epochs_done: int = 0
    best_val_loss: float | None = None
    best_epoch: int | None = None

    @property
    def best_val_psnr(self) -> float | None:
        return None if self.best_val_loss is None else psnr_from_mse(self.best_val_loss)

    def to_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch in history.json. loss, val_loss: MSE on [0, 1] pixels; val_psnr: dB; lr: the
    learning rate; seconds: mean wall time per epoch of this process so far; elapsed_s: since it
    started training; train_samples, validation_samples: the split's sizes then; growing: generate
    was still writing the dataset (train --follow); batches: the batches trained in it, and of how
    many (fewer when the time budget or a stop ended it mid-way; None in older histories)."""

    epoch: int
    loss: float
    val_loss: float
    val_psnr: float
    lr: float
    seconds: float
    elapsed_s: float
    train_samples: int | None = None
    validation_samples: int | None = None
    growing: bool = False
    batches: int | None = None
    batches_per_epoch: int | None = None


@dataclass(frozen=True)
class Metrics:
    """metrics.json: evaluate's figures on the run's validation samples. mse on [0, 1] pixels;
    psnr_db: the mean per-image PSNR; ssim: mean SSIM; psnr_mask_db: PSNR inside the ball-and-glow
    mask (dB); mask_fraction: the share of pixels in it; grid: the comparison image's path."""

    samples: int
    mse: float
    psnr_db: float
    ssim: float
    psnr_mask_db: float
    mask_fraction: float
    grid: str

    def summary(self) -> str:
        """One line for the panel."""
        return (f"{self.samples} held-out: MSE {self.mse:.5f} · PSNR {self.psnr_db:.2f} dB · SSIM {self.ssim:.3f} · "
                f"ball PSNR {self.psnr_mask_db:.2f} dB")


def _write(path: str, data) -> None:
    write_atomically(path, (json.dumps(data, indent=2) + "\n").encode())


def read_state(run: str) -> RunState | None:
    """The run's state.json, or None when no epoch has finished there; UserError when unreadable."""
    path = os.path.join(run, STATE_NAME)
    if not os.path.exists(path):
        return None
    return _from_dict(RunState, read_json(path, "run state"), path)


def write_state(run: str, state: RunState) -> None:
    _write(os.path.join(run, STATE_NAME), state.to_dict())


def resumable(run: str) -> bool:
    """Whether Resume can continue the run in ``run`` (an epoch finished there)."""
    return bool(run) and os.path.isfile(os.path.join(run, STATE_NAME))


def read_history(run: str) -> list[EpochRecord]:
    """The run's history.json, oldest epoch first ([] when there is none yet)."""
    path = os.path.join(run, HISTORY_NAME)
    if not os.path.exists(path):
        return []
    entries = read_json(path, "training history")
    if not isinstance(entries, list):
        raise UserError(f"{path} is not a list of epochs")
    return [_from_dict(EpochRecord, entry, path) for entry in entries]


def write_history(run: str, history: list[EpochRecord]) -> None:
    _write(os.path.join(run, HISTORY_NAME), [asdict(entry) for entry in history])


def read_metrics(folder: str) -> Metrics:
    """evaluate's metrics.json in ``folder``; UserError when missing or unreadable."""
    path = os.path.join(folder, METRICS_NAME)
    return _from_dict(Metrics, read_json(path, "metrics file"), path)


def write_metrics(folder: str, metrics: Metrics) -> None:
    _write(os.path.join(folder, METRICS_NAME), asdict(metrics))
