"""Which vector (r, g, b, x, y) sample *i* of a dataset gets. Blender-free.

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

from .errors import UserError

COLOUR_SCHEMES = ("vibrant", "uniform")
VECTOR_FIELDS = ("r", "g", "b", "x", "y")
MAX_NOISE_SEED = 2**31 - 1


@dataclass(frozen=True)
class VectorSpec:
    """Ranges the random vectors are drawn from.

    x_range, y_range: (min, max) in Blender units (metres) of the ball's world x, y.
    colour_scheme: "vibrant" (the seed's: one channel 1, one 0, one uniform(0, 1))
    or "uniform" (each channel uniform(0, 1)). Colours are linear emission RGB.
    """

    x_range: tuple[float, float] = (-1.0, 1.0)
    y_range: tuple[float, float] = (-1.0, 1.0)
    colour_scheme: str = "vibrant"

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first bad field."""
        for axis, (low, high) in (("x", self.x_range), ("y", self.y_range)):
            if not (low == low and high == high):  # NaN check without math import
                raise UserError(f"{axis} range must be numbers, got {low}..{high}")
            if low > high:
                raise UserError(f"{axis} range is empty: min {low} is greater than max {high}")
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


def sample_vector(seed: int, index: int, spec: VectorSpec) -> tuple[float, float, float, float, float]:
    """Vector (r, g, b, x, y) of sample ``index``: r, g, b in [0, 1], x, y inside spec's ranges."""
    rng = _rng(seed, index, "vector")
    if spec.colour_scheme == "vibrant":
        r, g, b = vibrant_colour(rng)
    else:
        r, g, b = rng.random(), rng.random(), rng.random()
    x = rng.uniform(*spec.x_range)
    y = rng.uniform(*spec.y_range)
    return (r, g, b, x, y)


def noise_seed(seed: int, index: int) -> int:
    """Cycles noise seed of sample ``index``, in [0, 2**31 - 1]."""
    return _rng(seed, index, "noise").randint(0, MAX_NOISE_SEED)
