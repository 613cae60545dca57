"""The vector that describes one image, as a table of fields: the one place that spells out its layout.
Blender-free.

Each :class:`VectorField` says what the number is (its kind and, for the scene, what it sets), its
range, unit and label. Today's vector is (r, g, b, x, y):

- r, g, b: the linear RGB colour the ball emits, each in [0, 1] (the emission node's colour;
  the light is that colour times the node's strength). Drawn by a colour scheme, not a range.
- x, y: the ball's world position in metres on the floor (its z stays where the scene has it);
  the seed's room spans -1 .. 1 on both axes, a model only knows the range it was trained on.

Everything else derives from :data:`FIELDS`: the dataset tables' columns, the card's ranges, the
Randomize panel's range rows and the Preview panel's fields (blender/properties.py), the CLI's
``--<name>-range`` flags, the checks on user input, the models' input size, and what a sample sets
in the scene (blender/renderer.py, by kind). A new field of an existing kind is one row here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

from .errors import UserError

COLOUR_CHANNEL = "colour channel"  # a channel (index 0 r, 1 g, 2 b) of the target node's emission colour
LOCATION = "location"  # an axis (index 0 x, 1 y, 2 z) of the target object's world location
KINDS = (COLOUR_CHANNEL, LOCATION)


@dataclass(frozen=True)
class VectorField:
    """One number of the vector.

    name: its column in metadata/vectors.csv and its key everywhere ("x"); kind, index: what it sets
    in the scene (COLOUR_CHANNEL index c: channel c of the emission colour; LOCATION index a: axis a of
    the object's location); default_range: (low, high) the values are drawn from by default (colour
    channels: the colour's bounds; a colour scheme draws them); unit: "" or "m"; label, description:
    what the panels show.
    """

    name: str
    kind: str
    index: int
    default_range: tuple[float, float]
    unit: str
    label: str
    description: str

    @property
    def ranged(self) -> bool:
        """Drawn uniformly from a range the user sets (colour channels follow the colour scheme instead)."""
        return self.kind != COLOUR_CHANNEL


FIELDS = (
    VectorField("r", COLOUR_CHANNEL, 0, (0.0, 1.0), "", "R", "Red of the light the ball emits (linear, 0..1)"),
    VectorField("g", COLOUR_CHANNEL, 1, (0.0, 1.0), "", "G", "Green of the light the ball emits (linear, 0..1)"),
    VectorField("b", COLOUR_CHANNEL, 2, (0.0, 1.0), "", "B", "Blue of the light the ball emits (linear, 0..1)"),
    VectorField("x", LOCATION, 0, (-1.0, 1.0), "m", "X", "The ball's X on the floor (m)"),
    VectorField("y", LOCATION, 1, (-1.0, 1.0), "m", "Y", "The ball's Y on the floor (m)"),
)
assert all(field.kind in KINDS for field in FIELDS) and len(set(f.name for f in FIELDS)) == len(FIELDS)
VECTOR_FIELDS = tuple(field.name for field in FIELDS)
VECTOR_SIZE = len(FIELDS)
RANGED_FIELDS = tuple(field for field in FIELDS if field.ranged)


def _slice_of(names: Sequence[str]) -> slice:
    """The contiguous slice of the vector holding ``names`` in order (models slice it so)."""
    start = VECTOR_FIELDS.index(names[0])
    assert VECTOR_FIELDS[start:start + len(names)] == tuple(names), f"{names} must be contiguous in {VECTOR_FIELDS}"
    return slice(start, start + len(names))


COLOUR_FIELDS = tuple(field.name for field in FIELDS if field.kind == COLOUR_CHANNEL)
# The ball's place on the floor plane: what the radiance model's geometry and the ball fit read.
POSITION_FIELDS = tuple(field.name for field in FIELDS if field.kind == LOCATION and field.index in (0, 1))
COLOUR = _slice_of(COLOUR_FIELDS)  # r, g, b
POSITION = _slice_of(POSITION_FIELDS)  # x, y
COLOUR_RANGE = (0.0, 1.0)
DEFAULT_RANGES = {field.name: field.default_range for field in RANGED_FIELDS}
MAX_ABS_POSITION_M = 1000.0  # a sanity bound on ranges: far beyond any scene this renders
TOLERANCE = 1e-6  # float32 round trips may step this far outside a range
_SIZE_IN_WORDS = "zero one two three four five six seven eight nine ten".split()[VECTOR_SIZE]  # for messages


def field(name: str) -> VectorField:
    """The field called ``name``."""
    return FIELDS[VECTOR_FIELDS.index(name)]


def make_vector(colour: Sequence[float], position: Sequence[float]) -> tuple[float, ...]:
    """The vector of a colour (r, g, b) and a position (x, y)."""
    return (*map(float, colour), *map(float, position))


def colour_of(vector: Sequence[float]) -> tuple[float, float, float]:
    return tuple(float(v) for v in vector[COLOUR])


def position_of(vector: Sequence[float]) -> tuple[float, float]:
    return tuple(float(v) for v in vector[POSITION])


def describe(vector: Sequence[float]) -> str:
    """A vector for people: "colour (1.00, 0.49, 0.00), x 0.12 m, y -0.30 m"."""
    colour = ", ".join(f"{v:.2f}" for v in vector[COLOUR])
    others = ", ".join(f"{f.name} {v:.2f}{' ' + f.unit if f.unit else ''}" for f, v in zip(FIELDS, vector) if f.ranged)
    return f"colour ({colour}), {others}"


def vector_bounds(ranges: Mapping[str, Sequence[float]]) -> tuple[list[float], list[float]]:
    """(lowest, highest) vector a model trained on these ranges ({name: (low, high)} of the ranged
    fields) accepts: colour channels 0..1."""
    low = [float(ranges[f.name][0]) if f.ranged else COLOUR_RANGE[0] for f in FIELDS]
    high = [float(ranges[f.name][1]) if f.ranged else COLOUR_RANGE[1] for f in FIELDS]
    return low, high


def parse_vector(values) -> list[float]:
    """VECTOR_SIZE numbers from strings or numbers (a CSV row, a command-line argument split at commas).

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
    """:func:`parse_vector`, then UserError for a colour outside [0, 1] or a ranged field outside [low, high]
    (the range a model was trained on; None: not checked)."""
    vector = parse_vector(values)
    colour = vector[COLOUR]
    if not all(COLOUR_RANGE[0] - TOLERANCE <= c <= COLOUR_RANGE[1] + TOLERANCE for c in colour):
        raise UserError(f"colour {colour} is outside [0, 1]")
    if low and high:
        for index, spec in enumerate(FIELDS):
            if spec.ranged and not low[index] - TOLERANCE <= vector[index] <= high[index] + TOLERANCE:
                raise UserError(f"{spec.name} = {vector[index]} is outside the range the model was trained on "
                                f"({low[index]:.3f} .. {high[index]:.3f})")
    return vector


def check_range(name: str, low: float, high: float) -> None:
    """UserError unless low..high is a finite, non-empty range of field ``name`` within ±MAX_ABS_POSITION_M."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UserError(f"{name} range must be finite numbers, got {low}..{high}")
    if max(abs(low), abs(high)) > MAX_ABS_POSITION_M:
        raise UserError(f"{name} range {low}..{high} reaches beyond ±{MAX_ABS_POSITION_M:g} m; positions are "
                        "metres in the scene (the seed's room spans -1..1)")
    if low > high:
        raise UserError(f"{name} range is empty: min {low} is greater than max {high}")
