"""The vector that describes one image: (r, g, b, x, y). The one place that spells out its layout. Blender-free.

- r, g, b: the linear RGB colour the ball emits, each in [0, 1] (the emission node's colour;
  the light is that colour times the node's strength).
- x, y: the ball's world position in metres (its z stays where the scene has it); the seed's
  room spans -1 .. 1 on both axes, a model only knows the range it was trained on.

Everything else — the dataset tables, the models' input and slices, the CSV columns, the
preview's fields, the checks on user input — derives from the names here, so a sixth field
is one edit here plus what genuinely uses it.
"""

from __future__ import annotations

import math
from typing import Sequence

from .errors import UserError

VECTOR_FIELDS = ("r", "g", "b", "x", "y")
VECTOR_SIZE = len(VECTOR_FIELDS)
COLOUR = slice(0, 3)  # r, g, b
POSITION = slice(3, 5)  # x, y
COLOUR_FIELDS = VECTOR_FIELDS[COLOUR]
POSITION_FIELDS = VECTOR_FIELDS[POSITION]
COLOUR_RANGE = (0.0, 1.0)
DEFAULT_POSITION_RANGE = (-1.0, 1.0)  # metres, on each axis: the seed's room
MAX_ABS_POSITION_M = 1000.0  # a sanity bound on ranges: far beyond any scene this renders
TOLERANCE = 1e-6  # float32 round trips may step this far outside a range
_SIZE_IN_WORDS = "zero one two three four five six seven eight nine ten".split()[VECTOR_SIZE]  # for messages


def make_vector(colour: Sequence[float], position: Sequence[float]) -> tuple[float, ...]:
    """The vector of a colour (r, g, b) and a position (x, y)."""
    return (*map(float, colour), *map(float, position))


def colour_of(vector: Sequence[float]) -> tuple[float, float, float]:
    return tuple(float(v) for v in vector[COLOUR])


def position_of(vector: Sequence[float]) -> tuple[float, float]:
    return tuple(float(v) for v in vector[POSITION])


def vector_bounds(x_range: Sequence[float], y_range: Sequence[float]) -> tuple[list[float], list[float]]:
    """(lowest, highest) vector a model trained on these position ranges accepts: colours 0..1."""
    low = [COLOUR_RANGE[0]] * len(COLOUR_FIELDS) + [float(x_range[0]), float(y_range[0])]
    high = [COLOUR_RANGE[1]] * len(COLOUR_FIELDS) + [float(x_range[1]), float(y_range[1])]
    return low, high


def parse_vector(values) -> list[float]:
    """Five numbers from strings or numbers (a CSV row, a command-line argument split at commas).

    UserError for the wrong count, something that is not a number, NaN or infinity."""
    try:
        vector = [float(v) for v in values]
    except (TypeError, ValueError):
        raise UserError(f"a vector is {_SIZE_IN_WORDS} numbers {','.join(VECTOR_FIELDS)}; got {values!r}") from None
    if len(vector) != VECTOR_SIZE:
        raise UserError(f"a vector is {_SIZE_IN_WORDS} numbers {','.join(VECTOR_FIELDS)}; got {len(vector)}")
    if not all(math.isfinite(v) for v in vector):
        raise UserError(f"vector {vector} contains NaN or infinity")
    return vector


def vector_from_json(value) -> list[float]:
    """A vector sent as JSON: a list of numbers (strings and true/false are refused), then :func:`parse_vector`."""
    if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in value):
        raise UserError(f"a vector is a JSON list of {_SIZE_IN_WORDS} numbers {', '.join(VECTOR_FIELDS)}; "
                        f"got {str(value)[:80]}")
    return parse_vector(value)


def check_vector(values, low: Sequence[float] | None = None, high: Sequence[float] | None = None) -> list[float]:
    """:func:`parse_vector`, then UserError for a colour outside [0, 1] or a position outside [low, high]
    (the range a model was trained on; None: not checked)."""
    vector = parse_vector(values)
    colour = vector[COLOUR]
    if not all(COLOUR_RANGE[0] - TOLERANCE <= c <= COLOUR_RANGE[1] + TOLERANCE for c in colour):
        raise UserError(f"colour {colour} is outside [0, 1]")
    if low and high:
        for index, name in zip(range(VECTOR_SIZE)[POSITION], POSITION_FIELDS):
            if not low[index] - TOLERANCE <= vector[index] <= high[index] + TOLERANCE:
                raise UserError(f"{name} = {vector[index]} is outside the range the model was trained on "
                                f"({low[index]:.3f} .. {high[index]:.3f})")
    return vector


def check_position_range(axis: str, low: float, high: float) -> None:
    """UserError unless low..high is a finite, non-empty range of positions within ±MAX_ABS_POSITION_M."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UserError(f"{axis} range must be finite numbers, got {low}..{high}")
    if max(abs(low), abs(high)) > MAX_ABS_POSITION_M:
        raise UserError(f"{axis} range {low}..{high} reaches beyond ±{MAX_ABS_POSITION_M:g} m; positions are "
                        "metres in the scene (the seed's room spans -1..1)")
    if low > high:
        raise UserError(f"{axis} range is empty: min {low} is greater than max {high}")
