"""The vector that describes one image, as a table of fields: the one place that spells out its layout.
Blender-free.

Each :class:`VectorField` says what the number is (its kind and, for the scene, what it sets), its
range, unit and label. Today's vector is (r, g, b, x, y):

- r, g, b: the linear RGB colour the ball emits, each in [0, 1] (the emission node's colour;
  the light is that colour times the node's strength). Drawn by a colour scheme, not a range.
- x, y: the ball's world position in metres on the floor (its z stays where the scene has it);
  the seed's room spans -1 .. 1 on both axes, a model only knows the range it was trained on.

That is the default :class:`VectorLayout`. A dataset may use another: any list of fields, each a
Blender property the user picked (kind PROPERTY: a data path from ``bpy.data`` and an array index,
drawn uniformly from its range) or a colour (COLOUR_CHANNEL with a data path: a colour socket's
channels, drawn by the colour scheme). parameters.py parses such lists; the dataset card and the
run config record them, and every reader takes the layout from there.

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
PROPERTY = "property"  # any animatable number: data_path (from bpy.data) and index (-1: not an array)
KINDS = (COLOUR_CHANNEL, LOCATION, PROPERTY)


@dataclass(frozen=True)
class VectorField:
    """One number of the vector.

    name: its column in metadata/vectors.csv and its key everywhere ("x"); kind, index: what it sets
    in the scene (COLOUR_CHANNEL index c: channel c of the emission colour; LOCATION index a: axis a of
    the object's location; PROPERTY: element ``index`` of the property at ``data_path``, -1 when it is
    not an array); default_range: (low, high) the values are drawn from by default (colour channels:
    the colour's bounds; a colour scheme draws them); unit: "" or "m"; label, description: what the
    panels show. data_path: where the number lives, from ``bpy.data`` (e.g.
    ``objects["Ball"].location``); "" for the fields that follow the scene's target object and node.
    """

    name: str
    kind: str
    index: int
    default_range: tuple[float, float]
    unit: str
    label: str
    description: str
    data_path: str = ""

    @property
    def ranged(self) -> bool:
        """Drawn uniformly from a range the user sets (colour channels follow the colour scheme instead)."""
        return self.kind != COLOUR_CHANNEL

    @property
    def full_path(self) -> str:
        """The number's own data path from bpy.data, index included ("" for target-relative fields)."""
        if not self.data_path:
            return ""
        return self.data_path if self.index < 0 else f"{self.data_path}[{self.index}]"

    def to_dict(self) -> dict:
        """JSON-ready: {"name", "kind", "index", "range": [low, high], "unit", "label", "description",
        "data_path"}."""
        return {"name": self.name, "kind": self.kind, "index": self.index, "range": list(self.default_range),
                "unit": self.unit, "label": self.label, "description": self.description, "data_path": self.data_path}

    @classmethod
    def from_dict(cls, data: dict) -> "VectorField":
        """The field ``to_dict`` wrote; ValueError / KeyError / TypeError for anything else."""
        if data["kind"] not in KINDS:
            raise ValueError(f"unknown vector field kind {data['kind']!r}")
        low, high = (float(v) for v in data["range"])
        return cls(str(data["name"]), data["kind"], int(data["index"]), (low, high), str(data.get("unit", "")),
                   str(data.get("label", data["name"])), str(data.get("description", "")),
                   str(data.get("data_path", "")))


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


@dataclass(frozen=True)
class VectorLayout:
    """The fields of one dataset's vectors, in order: :data:`FIELDS` (the ball room's five) unless the
    user picked other parameters. Everything that reads, checks or shows a vector asks its layout."""

    fields: tuple[VectorField, ...] = FIELDS

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields))
        names = [f.name for f in self.fields]
        if not names:
            raise UserError("the vector needs at least one parameter")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise UserError(f"two parameters are both called {duplicates[0]!r}; give each its own name")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def size(self) -> int:
        return len(self.fields)

    @property
    def ranged(self) -> tuple[VectorField, ...]:
        return tuple(f for f in self.fields if f.ranged)

    @property
    def colours(self) -> tuple[int, ...]:
        """Where each whole colour starts in the vector: three colour channels in a row, channels 0, 1,
        2 of one data path (the Preview panel shows them as one swatch)."""
        return tuple(start for start in range(self.size - 2)
                     if [(f.kind, f.index) for f in self.fields[start:start + 3]] == [(COLOUR_CHANNEL, i) for i in range(3)]
                     and len({f.data_path for f in self.fields[start:start + 3]}) == 1)

    @property
    def light_colours(self) -> tuple[int, ...]:
        """The colours (their starts, as ``colours``) that are colours of *light*: the target's emission
        (the ball room's r, g, b), a light's ``color``, an emission socket's colour. Rendering is
        linear in each of them (docs/FACTS.md): the image's linear light is a sum of each colour
        times the light it gives, plus the rest. A surface's colour (a base colour) is not: light
        bounces off it more than once."""
        def of_light(path: str) -> bool:
            return not path or (path.startswith("lights[") and path.endswith(".color")) or "Emission" in path
        return tuple(start for start in self.colours if of_light(self.fields[start].data_path))

    @property
    def is_default(self) -> bool:
        """Whether this is the ball room's five (r, g, b of the target's emission, x, y of its location)."""
        return self.fields == FIELDS

    def ball_extras(self, target: str | None) -> "BallExtras | None":
        """Where this layout goes beyond the ball room's five with the ball's own height and size, or
        None when it is not the ball room's: the five first, then at most the target object's z
        (``objects["<target>"].location[2]``) and its size (``objects["<target>"].scale[0]``, which
        Set Up Scene's Ball Room + Height and Size copies to y and z by drivers so the ball stays
        round), each at most once. ``target``: the object the dataset's x, y move (its card's)."""
        if self.fields[:len(FIELDS)] != FIELDS:
            return None
        found: dict[str, int] = {}
        for offset, spec in enumerate(self.fields[len(FIELDS):], start=len(FIELDS)):
            role = _ball_role(spec, target)
            if role is None or role in found:
                return None
            found[role] = offset
        return BallExtras(found.get("height"), found.get("size"))

    def models_ball_room(self, target: str | None) -> bool:
        """Whether a model of the ball room (radiance) can take this layout: see ball_extras."""
        return self.ball_extras(target) is not None

    @property
    def default_ranges(self) -> dict[str, tuple[float, float]]:
        return {f.name: f.default_range for f in self.ranged}

    def field(self, name: str) -> VectorField:
        return self.fields[self.names.index(name)]

    def to_list(self) -> list[dict]:
        return [f.to_dict() for f in self.fields]

    @classmethod
    def from_list(cls, data) -> "VectorLayout":
        """The layout ``to_list`` wrote; ValueError when ``data`` is not one."""
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ValueError("parameters must be a list of JSON objects")
        try:
            return cls(tuple(VectorField.from_dict(item) for item in data))
        except (KeyError, TypeError, UserError) as err:
            raise ValueError(f"not a parameter list ({err})") from None

    def _in_words(self) -> str:
        size = _NUMBER_WORDS[self.size] if self.size < len(_NUMBER_WORDS) else str(self.size)
        return f"{size} numbers {','.join(self.names)}"

    def describe(self, vector: Sequence[float]) -> str:
        """A vector for people: "colour (1.00, 0.49, 0.00), x 0.12 m, y -0.30 m" (other fields by name)."""
        colours = [f"{v:.2f}" for f, v in zip(self.fields, vector) if not f.ranged]
        others = ", ".join(f"{f.name} {v:.2f}{' ' + f.unit if f.unit else ''}"
                           for f, v in zip(self.fields, vector) if f.ranged)
        colour = f"colour ({', '.join(colours)})" if colours else ""
        return ", ".join(part for part in (colour, others) if part)

    def bounds(self, ranges: Mapping[str, Sequence[float]]) -> tuple[list[float], list[float]]:
        """(lowest, highest) vector a model trained on these ranges ({name: (low, high)} of the ranged
        fields) accepts: colour channels 0..1."""
        low = [float(ranges[f.name][0]) if f.ranged else COLOUR_RANGE[0] for f in self.fields]
        high = [float(ranges[f.name][1]) if f.ranged else COLOUR_RANGE[1] for f in self.fields]
        return low, high

    def parse(self, values) -> list[float]:
        """``size`` numbers from strings or numbers (a CSV row, a command-line argument split at commas).

        UserError for the wrong count, something that is not a number, NaN or infinity."""
        try:
            vector = [float(v) for v in values]
        except (TypeError, ValueError):
            raise UserError(f"a vector is {self._in_words()}; got {values!r}") from None
        if len(vector) != self.size:
            raise UserError(f"a vector is {self._in_words()}; got {len(vector)}")
        if not all(math.isfinite(v) for v in vector):
            raise UserError(f"vector {vector} contains NaN or infinity")
        return vector

    def from_json(self, value) -> list[float]:
        """A vector sent as JSON: a list of numbers (strings and true/false are refused), then :meth:`parse`."""
        if not isinstance(value, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                  for v in value):
            raise UserError(f"a vector is a JSON list of {self._in_words().replace(',', ', ')}; "
                            f"got {str(value)[:80]}")
        return self.parse(value)

    def check(self, values, low: Sequence[float] | None = None, high: Sequence[float] | None = None) -> list[float]:
        """:meth:`parse`, then UserError for a colour channel outside [0, 1] or a ranged field outside
        [low, high] (the range a model was trained on; None: not checked)."""
        vector = self.parse(values)
        colour = [v for f, v in zip(self.fields, vector) if not f.ranged]
        if not all(COLOUR_RANGE[0] - TOLERANCE <= c <= COLOUR_RANGE[1] + TOLERANCE for c in colour):
            raise UserError(f"colour {colour} is outside [0, 1]")
        if low and high:
            for index, spec in enumerate(self.fields):
                if spec.ranged and not low[index] - TOLERANCE <= vector[index] <= high[index] + TOLERANCE:
                    raise UserError(f"{spec.name} = {vector[index]} is outside the range the model was trained on "
                                    f"({low[index]:.3f} .. {high[index]:.3f})")
        return vector

    def differences(self, other: "VectorLayout", mine: str = "here", theirs: str = "there") -> list[str]:
        """What differs from ``other``, for people, e.g. ["z: objects["Ball"].location[2] 0.3..0.8 here,
        absent there"] (``mine`` / ``theirs`` name the two)."""
        own, others = {f.name: f for f in self.fields}, {f.name: f for f in other.fields}
        lines = [f"{name}: {_field_text(own.get(name))} {mine}, {_field_text(others.get(name))} {theirs}"
                 for name in dict.fromkeys((*own, *others)) if own.get(name) != others.get(name)]
        if not lines and self.names != other.names:
            lines.append(f"the order: {','.join(self.names)} {mine}, {','.join(other.names)} {theirs}")
        return lines


@dataclass(frozen=True)
class BallExtras:
    """The ball room's layout beyond its five (VectorLayout.ball_extras): the vector index of the
    ball's height (its world z, metres) and of its size (its scale, 1: as modelled), None for each
    one the dataset does not vary."""

    height: int | None = None
    size: int | None = None

    @property
    def any(self) -> bool:
        return self.height is not None or self.size is not None


def _ball_role(spec: VectorField, target: str | None) -> str | None:
    """"height" or "size" when ``spec`` is the target object's z or its x scale, else None."""
    if spec.kind == LOCATION and not spec.data_path and spec.index == 2:
        return "height"
    if spec.kind != PROPERTY or not target:
        return None
    roles = {(f'objects["{target}"].location', 2): "height", (f'objects["{target}"].scale', 0): "size"}
    return roles.get((spec.data_path, spec.index))


def _field_text(spec: VectorField | None) -> str:
    if spec is None:
        return "absent"
    where = spec.full_path or f"the target's {spec.kind} {spec.index}"
    return f"{where} {spec.default_range[0]:g}..{spec.default_range[1]:g}"


_NUMBER_WORDS = "zero one two three four five six seven eight nine ten".split()
DEFAULT_LAYOUT = VectorLayout(FIELDS)


def describe(vector: Sequence[float]) -> str:
    """A vector of the default layout for people (:meth:`VectorLayout.describe`)."""
    return DEFAULT_LAYOUT.describe(vector)


def vector_bounds(ranges: Mapping[str, Sequence[float]]) -> tuple[list[float], list[float]]:
    """:meth:`VectorLayout.bounds` of the default layout."""
    return DEFAULT_LAYOUT.bounds(ranges)


def parse_vector(values) -> list[float]:
    """:meth:`VectorLayout.parse` of the default layout."""
    return DEFAULT_LAYOUT.parse(values)


def vector_from_json(value) -> list[float]:
    """:meth:`VectorLayout.from_json` of the default layout."""
    return DEFAULT_LAYOUT.from_json(value)


def check_vector(values, low: Sequence[float] | None = None, high: Sequence[float] | None = None) -> list[float]:
    """:meth:`VectorLayout.check` of the default layout."""
    return DEFAULT_LAYOUT.check(values, low, high)


def check_range(name: str, low: float, high: float, metres: bool = True) -> None:
    """UserError unless low..high is a finite range of field ``name`` with low <= high; in metres
    (``metres``) within ±MAX_ABS_POSITION_M."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise UserError(f"{name} range must be finite numbers, got {low}..{high}")
    if metres and max(abs(low), abs(high)) > MAX_ABS_POSITION_M:
        raise UserError(f"{name} range {low}..{high} reaches beyond ±{MAX_ABS_POSITION_M:g} m; positions are "
                        "metres in the scene (the seed's room spans -1..1)")
    if low > high:
        raise UserError(f"{name} range is empty: min {low} is greater than max {high}")


def check_field_range(spec: VectorField, low: float, high: float) -> None:
    """:func:`check_range` for ``spec``; a picked property's range must also vary (min < max): a number
    that never changes teaches the model nothing."""
    check_range(spec.name, low, high, metres=spec.unit == "m")
    if spec.kind == PROPERTY and low == high:
        raise UserError(f"{spec.name} range is empty: min and max are both {low:g}")
