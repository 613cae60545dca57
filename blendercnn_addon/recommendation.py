"""How many renders a good model needs: the measured learning curves, and the count each recommends. Blender-free.

``benchmarks/learning_curve.py`` trains the default (radiance) model, with the panel's recipe and
early stopping, on the first N renders of one Default-preset dataset and scores each against
clean references of held-out vectors. Beyond some N more renders stop paying: the model is
the same within TOLERANCE_DB while the rendering grows with N. The panel and ``generate`` start
from that count (default_count) and say so beside a larger one; 10,000 (the seed's) stays one click
away.

The curve depends on the resolution (a 256² model keeps gaining from renders a 64² model no longer
needs), so each resolution uses the curve measured nearest to it, and says which. A curve whose
best is its largest count has not flattened: it recommends nothing, since more renders may still
pay.
"""

from __future__ import annotations

import math

TOLERANCE_DB = 0.5  # a model this close (PSNR against clean references) is "the same model"

# PSNR (dB) against 40 clean references, by resolution, then by renders trained on:
# benchmarks/learning_curve.py --resolution R (make bench-curve), radiance with its recipe (batches
# of 16 at 64², 8 at 256²) and early stopping (at most 60 epochs at 64², 40 at 256²), Default
# preset, 2 CPU cores, 2026-11-30 (docs/benchmarks.md, "How many renders").
LEARNING_CURVES_DB: dict[int, dict[int, float]] = {
    64: {250: 33.67, 500: 34.21, 1000: 34.15, 2000: 34.24, 4000: 34.42},
    256: {250: 38.03, 500: 38.40, 1000: 39.70, 2000: 39.67},
}


def smallest_within(curve: dict[int, float], tolerance_db: float = TOLERANCE_DB) -> int:
    """The smallest count whose PSNR is within ``tolerance_db`` of the curve's best ({count: dB}, non-empty)."""
    best = max(curve.values())
    return min(count for count, value in curve.items() if value >= best - tolerance_db)


def curve_resolution(resolution: int) -> int:
    """The measured resolution nearest ``resolution`` (pixels per side) by ratio; a tie takes the larger,
    whose curve asks for more renders."""
    return min(LEARNING_CURVES_DB, key=lambda measured: (abs(math.log2(measured / resolution)), -measured))


def recommended_count(resolution: int) -> int | None:
    """The renders that train the same model as the most measured, at ``resolution``'s curve; None where
    that curve has not flattened (its best is its largest count)."""
    curve = LEARNING_CURVES_DB[curve_resolution(resolution)]
    recommended = smallest_within(curve)
    return recommended if recommended < max(curve) else None


SEED_COUNT = 10_000  # what the seed project rendered: one click away in the panel, --count 10000


def default_count(resolution: int) -> int:
    """The number of images to start with at ``resolution``: the recommendation, else the seed's."""
    return recommended_count(resolution) or SEED_COUNT


def count_note(count: int, resolution: int) -> str | None:
    """One line for a count well above the recommendation (more than twice), else None."""
    recommended = recommended_count(resolution)
    if recommended is None or count <= 2 * recommended:
        return None
    measured = curve_resolution(resolution)
    most = max(LEARNING_CURVES_DB[measured])
    return (f"{recommended:,} renders train the same model as {most:,} (within {TOLERANCE_DB} dB, measured at "
            f"{measured}²); {count:,} take {count / recommended:.0f}× as long to render")


def recommendations_text() -> str:
    """The recommendation at every measured resolution, for help texts: '500 at 64², 1,000 at 256²'."""
    parts = []
    for resolution in sorted(LEARNING_CURVES_DB):
        recommended = recommended_count(resolution)
        most = max(LEARNING_CURVES_DB[resolution])
        parts.append(f"{recommended:,} at {resolution}²" if recommended
                     else f"still gaining at {most:,} at {resolution}²")
    return ", ".join(parts)
