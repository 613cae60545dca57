"""When early stopping will end a run, told from its validation PSNR so far, and the ETA that
follows from it, the epochs left and the time budget. Blender-free, no TensorFlow."""

from __future__ import annotations

import math


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


ETA_EPOCHS, ETA_PLATEAU, ETA_BUDGET = "epochs", "plateau", "budget"


def eta(seconds_per_epoch: float, epochs_left: int, epochs_to_plateau: int | None,
        budget_left_s: float | None) -> tuple[float, str]:
    """(seconds until training ends, what ends it first): the last epoch (ETA_EPOCHS), where early
    stopping is expected (ETA_PLATEAU), or the time budget (ETA_BUDGET) — never beyond the budget."""
    until, epochs = ETA_EPOCHS, epochs_left
    if epochs_to_plateau is not None and epochs_to_plateau < epochs_left:
        until, epochs = ETA_PLATEAU, epochs_to_plateau
    seconds = seconds_per_epoch * epochs
    if budget_left_s is not None and budget_left_s < seconds:
        return budget_left_s, ETA_BUDGET
    return seconds, until
