"""Which vector (r, g, b, x, y; see vector.py) sample *i* of a dataset gets. Blender-free.

Every sample's vector and Cycles noise seed is a pure function of
``(dataset seed, sample index, ranges, colour scheme)``: no global random state,
so a resumed, sharded or re-run dataset gets exactly the same vectors.

We use :class:`random.Random` seeded with a string, whose stream is stable
across Python versions and platforms (numpy's ``Generator`` makes no such
promise across numpy releases).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from .vector import DEFAULT_POSITION_RANGE, POSITION_FIELDS, check_position_range, make_vector
from .errors import UserError

# vibrant, uniform: training schemes; pastel, dim, near_white, unseen: evaluation sets of colours a
# vibrant-trained model never saw ("unseen" cycles through uniform, pastel, dim, near_white by index).
COLOUR_SCHEMES = ("vibrant", "uniform", "pastel", "dim", "near_white", "unseen")
UNSEEN_CYCLE = ("uniform", "pastel", "dim", "near_white")
MAX_NOISE_SEED = 2**31 - 1


@dataclass(frozen=True)
class VectorSpec:
    """Ranges the random vectors are drawn from.

    x_range, y_range: (min, max) in Blender units (metres) of the ball's world x, y.
    colour_scheme: "vibrant" (the seed's: one channel 1, one 0, one uniform(0, 1)),
    "uniform" (each channel uniform(0, 1)), or an evaluation scheme: "pastel" (each channel
    uniform(0.55, 1)), "dim" (a vibrant colour times uniform(0.05, 0.3)), "near_white" (each
    channel uniform(0.85, 1)), "unseen" (the four in turn). Colours are linear emission RGB.
    exclude_quadrant: never place the ball where x > 0 and y > 0 (redrawn until outside),
    so a model can be tested on positions it never saw.
    """

    x_range: tuple[float, float] = DEFAULT_POSITION_RANGE
    y_range: tuple[float, float] = DEFAULT_POSITION_RANGE
    colour_scheme: str = "vibrant"
    exclude_quadrant: bool = False

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad field."""
        for axis, (low, high) in zip(POSITION_FIELDS, (self.x_range, self.y_range)):
            check_position_range(axis, low, high)
        if self.exclude_quadrant and self.x_range[0] >= 0 and self.y_range[0] >= 0:
            raise UserError("the x and y ranges lie inside the excluded quadrant x > 0, y > 0: nothing is left")
        if self.colour_scheme not in COLOUR_SCHEMES:
            raise UserError(
                f"unknown colour scheme {self.colour_scheme!r}; choose one of {', '.join(COLOUR_SCHEMES)}"
            )

    def as_dict(self) -> dict:
        """JSON-ready form, recorded in the dataset card."""
        data = asdict(self)
        data["x_range"] = list(self.x_range)
        data["y_range"] = list(self.y_range)
        return data


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


def sample_vector(seed: int, index: int, spec: VectorSpec) -> tuple[float, ...]:
    """The vector of sample ``index``: r, g, b in [0, 1], x, y inside spec's ranges."""
    rng = _rng(seed, index, "vector")
    r, g, b = scheme_colour(rng, spec.colour_scheme, index)
    x = rng.uniform(*spec.x_range)
    y = rng.uniform(*spec.y_range)
    while spec.exclude_quadrant and x > 0 and y > 0:
        x, y = rng.uniform(*spec.x_range), rng.uniform(*spec.y_range)
    return make_vector((r, g, b), (x, y))


def noise_seed(seed: int, index: int) -> int:
    """Cycles noise seed of sample ``index``, in [0, 2**31 - 1]."""
    return _rng(seed, index, "noise").randint(0, MAX_NOISE_SEED)
