"""How many renders a good model needs: the measured learning curve, and the count it recommends. Blender-free.

``benchmarks/learning_curve.py`` trains the default (radiance) model, with the panel's recipe and
early stopping, on the first N renders of one Default-preset dataset and scores each against
clean references of held-out vectors. Beyond some N more renders stop paying: the model is
the same within TOLERANCE_DB while the rendering grows with N. The panel and ``generate`` show
that count beside the one asked for; 10,000 (the seed's) stays available.
"""

from __future__ import annotations

TOLERANCE_DB = 0.5  # a model this close (PSNR against clean references) is "the same model"

# PSNR (dB) against 40 clean references, by renders trained on: benchmarks/learning_curve.py
# (make bench-curve), 64², radiance with its recipe and early stopping, Default preset, 2 CPU cores,
# 2026-11-30 (README, Benchmarks, "How many renders").
MEASURED_RESOLUTION = 64
LEARNING_CURVE_DB: dict[int, float] = {250: 33.67, 500: 34.21, 1000: 34.15, 2000: 34.24, 4000: 34.42}


def smallest_within(curve: dict[int, float], tolerance_db: float = TOLERANCE_DB) -> int:
    """The smallest count whose PSNR is within ``tolerance_db`` of the curve's best ({count: dB}, non-empty)."""
    best = max(curve.values())
    return min(count for count, value in curve.items() if value >= best - tolerance_db)


def recommended_count() -> int | None:
    """The renders that train the same model as the most measured (None before the curve is measured)."""
    return smallest_within(LEARNING_CURVE_DB) if LEARNING_CURVE_DB else None


def count_note(count: int) -> str | None:
    """One line for a count well above the recommendation (more than twice), else None."""
    recommended = recommended_count()
    if recommended is None or count <= 2 * recommended:
        return None
    most = max(LEARNING_CURVE_DB)
    return (f"{recommended:,} renders train the same model as {most:,} (within {TOLERANCE_DB} dB, measured at "
            f"{MEASURED_RESOLUTION}²); {count:,} take {count / recommended:.0f}× as long to render")
