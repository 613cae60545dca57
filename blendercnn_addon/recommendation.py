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

Which renders to train on depends on the resolution too (TRAINING_PRESETS): at 64² a denoiser's
bias stays in every render and the model learns it, while noise averages out, so the Seed preset's
unbiased renders train the better model; at 256² the gap nearly closes and Default's renders reach
35 dB in a third of the time. The panel's Quality follows the resolution until you pick one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def nearest_measured(measured_resolutions, resolution: int) -> int:
    """The measured resolution nearest ``resolution`` (pixels per side) by ratio; a tie takes the larger."""
    return min(measured_resolutions, key=lambda measured: (abs(math.log2(measured / resolution)), -measured))


def curve_resolution(resolution: int) -> int:
    """The learning curve's resolution for ``resolution`` (nearest_measured; a tie takes the larger,
    whose curve asks for more renders)."""
    return nearest_measured(LEARNING_CURVES_DB, resolution)


def recommended_count(resolution: int) -> int | None:
    """The renders that train the same model as the most measured, at ``resolution``'s curve; None where
    that curve has not flattened (its best is its largest count)."""
    curve = LEARNING_CURVES_DB[curve_resolution(resolution)]
    recommended = smallest_within(curve)
    return recommended if recommended < max(curve) else None


@dataclass(frozen=True)
class PresetChoice:
    """The render preset to train on at one measured resolution, and why (``reason``: one line for the
    panel; ``measured``: the figures behind it, {preset: value} with ``unit``). ``count``: the renders
    to start with when training on this preset (None: the learning curve's, measured with Default),
    and ``count_reason`` its one line; ``count_curve``: the measured {renders: dB} behind it."""

    preset: str
    reason: str
    measured: dict[str, float]
    unit: str
    count: int | None = None
    count_reason: str = ""
    count_curve: dict[int, float] | None = None


# benchmarks/learning_curve.py --presets ... --preset-count 500 --skip-curve (64², PSNR of radiance
# against 40 clean references) and time_to_quality.py (256², seconds to 35 dB with 600 renders),
# 2 CPU cores (docs/benchmarks.md, "Which renders train best").
TRAINING_PRESETS: dict[int, PresetChoice] = {
    64: PresetChoice("seed", "trains the best model at 64²: 37.15 dB against Default's 34.21 (500 renders)",
                     {"draft": 33.45, "default": 34.21, "balanced": 35.01, "seed@8": 34.49, "seed@16": 36.28,
                      "seed": 37.15}, "dB",
                     # Seed's renders keep paying where Default's flattened at 500: 2,000 of them pass 38 dB
                     # in 3 minutes of rendering (learning_curve.py --presets seed --preset-count N).
                     count=2000, count_reason="2,000 Seed renders: 38.39 dB at 64² (1,000: 37.78; 500: 37.15)",
                     count_curve={500: 37.15, 1000: 37.78, 2000: 38.39}),
    256: PresetChoice("default", "reaches 35 dB soonest at 256²: 290 s against 797 s for unbiased 16-sample renders",
                      {"default": 290.0, "seed@16": 797.0}, "s to 35 dB"),
}


def recommended_preset(resolution: int) -> PresetChoice:
    """The training renders' preset measured best at the resolution nearest ``resolution`` (by ratio)."""
    return TRAINING_PRESETS[nearest_measured(TRAINING_PRESETS, resolution)]


SEED_COUNT = 10_000  # what the seed project rendered: one click away in the panel, --count 10000
CURVE_PRESET = "default"  # the preset LEARNING_CURVES_DB was measured with


def preset_count(resolution: int, preset: str) -> int | None:
    """The renders to start with on ``preset`` where its own count was measured (TRAINING_PRESETS), else None."""
    choice = recommended_preset(resolution)
    return choice.count if preset == choice.preset else None


def default_count(resolution: int, preset: str = CURVE_PRESET) -> int:
    """The number of images to start with at ``resolution`` on ``preset``: the preset's own measured count,
    else the learning curve's recommendation, else the seed's."""
    return preset_count(resolution, preset) or recommended_count(resolution) or SEED_COUNT


def count_note(count: int, resolution: int, preset: str = CURVE_PRESET) -> str | None:
    """One line for a count well above the recommendation (more than twice), else None (also for a preset
    whose renders keep paying where the curve flattened: see TRAINING_PRESETS)."""
    recommended = recommended_count(resolution)
    if recommended is None or count <= 2 * recommended or preset_count(resolution, preset):
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
