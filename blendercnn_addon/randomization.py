"""Which vector (vector.py's fields) sample *i* of a dataset gets. Blender-free.

Every sample's vector and Cycles noise seed is a pure function of
``(dataset seed, sample index, ranges, colour scheme)``: no global random state,
so a resumed, sharded or re-run dataset gets exactly the same vectors.

We use :class:`random.Random` seeded with a string, whose stream is stable
across Python versions and platforms (numpy's ``Generator`` makes no such
promise across numpy releases).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import UserError
from .vector import DEFAULT_LAYOUT, POSITION_FIELDS, VectorLayout, check_field_range

# vibrant, uniform: training schemes; pastel, dim, near_white, unseen: evaluation sets of colours a
# vibrant-trained model never saw ("unseen" cycles through uniform, pastel, dim, near_white by index).
COLOUR_SCHEMES = ("vibrant", "uniform", "pastel", "dim", "near_white", "unseen")
UNSEEN_CYCLE = ("uniform", "pastel", "dim", "near_white")
MAX_NOISE_SEED = 2**31 - 1


@dataclass(frozen=True)
class VectorSpec:
    """What the random vectors are drawn from.

    ranges: {field name: (min, max)} of every ranged field of the layout (x, y in metres, the ball's
    world position, for the default one), drawn uniformly; fields left out take their default range.
    colour_scheme: "vibrant" (the seed's: one channel 1, one 0, one uniform(0, 1)),
    "uniform" (each channel uniform(0, 1)), or an evaluation scheme: "pastel" (each channel
    uniform(0.55, 1)), "dim" (a vibrant colour times uniform(0.05, 0.3)), "near_white" (each
    channel uniform(0.85, 1)), "unseen" (the four in turn). Colours are linear emission RGB.
    exclude_quadrant: never place the ball where x > 0 and y > 0 (redrawn until outside),
    so a model can be tested on positions it never saw (the default layout only).
    layout: the vector's fields (vector.VectorLayout; the ball room's five unless the user picked others).
    Every colour in it (its COLOUR_CHANNEL fields, grouped by data path) is drawn by the scheme.
    """

    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    colour_scheme: str = "vibrant"
    exclude_quadrant: bool = False
    layout: VectorLayout = DEFAULT_LAYOUT

    def __post_init__(self):
        defaults = self.layout.default_ranges
        unknown = set(self.ranges) - set(defaults)
        if unknown:
            raise UserError(f"no ranged vector field named {', '.join(sorted(unknown))}; "
                            f"ranged fields: {', '.join(defaults) or 'none'}")
        ranges = {name: tuple(float(v) for v in self.ranges.get(name, default)) for name, default in defaults.items()}
        object.__setattr__(self, "ranges", ranges)

    def range_of(self, name: str) -> tuple[float, float]:
        return self.ranges[name]

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad field."""
        for name, (low, high) in self.ranges.items():
            check_field_range(self.layout.field(name), low, high)
        if self.exclude_quadrant and not self.layout.is_default:
            raise UserError("excluding the quadrant x > 0, y > 0 needs the ball room's parameters (x and y)")
        x, y = (self.ranges.get(name, (0.0, 0.0)) for name in POSITION_FIELDS)
        if self.exclude_quadrant and x[0] >= 0 and y[0] >= 0:
            raise UserError("the x and y ranges lie inside the excluded quadrant x > 0, y > 0: nothing is left")
        if self.colour_scheme not in COLOUR_SCHEMES:
            raise UserError(
                f"unknown colour scheme {self.colour_scheme!r}; choose one of {', '.join(COLOUR_SCHEMES)}"
            )

    def to_dict(self) -> dict:
        """JSON-ready form (what a render worker is given): {"<name>_range": [min, max], ..., ...}, and
        "parameters" (the layout's fields) unless the layout is the default."""
        data = {**{f"{name}_range": list(value) for name, value in self.ranges.items()},
                "colour_scheme": self.colour_scheme, "exclude_quadrant": self.exclude_quadrant}
        if not self.layout.is_default:
            data["parameters"] = self.layout.to_list()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "VectorSpec":
        layout = VectorLayout.from_list(data["parameters"]) if data.get("parameters") else DEFAULT_LAYOUT
        return cls({f.name: tuple(data[f"{f.name}_range"]) for f in layout.ranged if f"{f.name}_range" in data},
                   data.get("colour_scheme", "vibrant"), bool(data.get("exclude_quadrant", False)), layout)


def _rng(seed: int, index: int, stream: str) -> random.Random:
    return random.Random(f"blendercnn:{stream}:{int(seed)}:{int(index)}")


def vibrant_colour(rng: random.Random) -> tuple[float, float, float]:
    """The seed's colour scheme: a random permutation of (1, 0, u), u ~ uniform(0, 1).

    The 3! permutations are the six hue sectors of the colour wheel.
    """
    full, empty = rng.sample(range(3), 2)
    colour = [rng.random()] * 3
    colour[full] = 1.0
    colour[empty] = 0.0
    return (colour[0], colour[1], colour[2])


def scheme_colour(rng: random.Random, scheme: str, index: int) -> tuple[float, float, float]:
    """A colour of ``scheme`` (see VectorSpec), each channel in [0, 1]."""
    if scheme == "unseen":
        scheme = UNSEEN_CYCLE[index % len(UNSEEN_CYCLE)]
    if scheme == "vibrant":
        return vibrant_colour(rng)
    if scheme == "dim":
        scale = rng.uniform(0.05, 0.3)
        r, g, b = vibrant_colour(rng)
        return (r * scale, g * scale, b * scale)
    low = {"uniform": 0.0, "pastel": 0.55, "near_white": 0.85}[scheme]
    return (rng.uniform(low, 1.0), rng.uniform(low, 1.0), rng.uniform(low, 1.0))


def _ranged_values(rng: random.Random, spec: VectorSpec) -> dict[str, float]:
    """One draw of every ranged field, in the layout's order (the order is part of the stream)."""
    return {f.name: rng.uniform(*spec.ranges[f.name]) for f in spec.layout.ranged}


def _colour_values(rng: random.Random, spec: VectorSpec, index: int) -> dict[str, float]:
    """One colour of the scheme per colour in the layout (its channels grouped by data path), in the
    order they first appear: {field name: channel value}."""
    colours: dict[str, tuple[float, float, float]] = {}
    values = {}
    for f in spec.layout.fields:
        if not f.ranged:
            if f.data_path not in colours:
                colours[f.data_path] = scheme_colour(rng, spec.colour_scheme, index)
            values[f.name] = float(colours[f.data_path][f.index])
    return values


def _in_excluded_quadrant(values: dict[str, float]) -> bool:
    return all(values[name] > 0 for name in POSITION_FIELDS)


def sample_vector(seed: int, index: int, spec: VectorSpec) -> tuple[float, ...]:
    """The vector of sample ``index`` in the layout's order: colour channels by the scheme, ranged
    fields inside spec's ranges (the colours are drawn first, as the default layout always did)."""
    rng = _rng(seed, index, "vector")
    colours = _colour_values(rng, spec, index)
    values = _ranged_values(rng, spec)
    while spec.exclude_quadrant and _in_excluded_quadrant(values):
        values = _ranged_values(rng, spec)
    return tuple(float(colours[f.name]) if not f.ranged else float(values[f.name]) for f in spec.layout.fields)


def noise_seed(seed: int, index: int) -> int:
    """Cycles noise seed of sample ``index``, in [0, 2**31 - 1]."""
    return _rng(seed, index, "noise").randint(0, MAX_NOISE_SEED)
