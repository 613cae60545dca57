"""The architecture list: one record per model the add-on can train. Blender-free, no TensorFlow.

The panel's Architecture menu, the CLI's ``--arch`` choices and help, the recipes the panel
fills in, the check Generate makes on the resolution, and ``build_model``'s dispatch all read
:data:`ARCHITECTURES`. A new architecture is one record here and its builder in models.py.

Recipes measured on the 10,000-sample 64² benchmark dataset (benchmarks/model_quality.py,
2 CPU cores): ``radiance`` reaches the seed's final validation PSNR fastest with batches of 16
at Adam 0.003 (at 0.001 / 32 it took three epochs, at 0.003 / 16 one or two); ``seed`` keeps
the seed project's own. At 256² (the user's job, benchmarks/time_to_quality.py) ``radiance``
trains about as many images a second with batches of 8 as of 16 and takes twice the steps,
reaching 35 dB sooner: its recipe takes 8 from 256² on (big_image_side). There it is also
built twice as wide (big_image_width): on the same data in the same 10 minutes of training
(benchmarks/train_throughput.py) 40.09 dB against clean references instead of 39.86, at 0.7×
the images a second; below 256² the narrow one is ample (docs/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import UserError


@dataclass(frozen=True)
class Architecture:
    """What the add-on knows about one model.

    name: the id (``--arch``, config.json); label and description: what the panel shows.
    batch_size, learning_rate: the recommended recipe (Adam's initial rate); for images of side
    big_image_side or more the batch is big_image_batch_size (None: batch_size at every size) and
    each step's loss looks at one tile of side R / big_image_tile_fraction per image (ml/crop_steps.py)
    and the model is big_image_width times as wide (channels per layer; 1 below big_image_side).
    takes_width: the builder scales its channels by the recipe's width (others are built at 1 only).
    resolution_multiple, min_resolution: the square sizes it can be built for.
    needs_view_table: it maps linear light through the dataset's baked view transform
    (view_transform_lut.npy), so datasets without one cannot train it.
    uses_geometry: it also uses scene_geometry.npz where the dataset has it.
    builder: the models.py function that builds it.
    needs_ball_room: it models the ball room's five parameters (r, g, b, x, y), and no others but
    the ball's own height and size (vector.VectorLayout.ball_extras).
    takes_ranges: it is built with the ranges the dataset's vectors were drawn from (it scales them).
    """

    name: str
    label: str
    description: str
    batch_size: int
    learning_rate: float
    resolution_multiple: int
    min_resolution: int
    needs_view_table: bool
    uses_geometry: bool
    builder: str
    big_image_side: int | None = None
    big_image_batch_size: int | None = None
    big_image_tile_fraction: int = 1
    big_image_width: int = 1
    takes_width: bool = False
    needs_ball_room: bool = False
    takes_ranges: bool = False

    def resolution_problem(self, resolution: int) -> str | None:
        """Why this architecture cannot be built for ``resolution`` x ``resolution``, or None."""
        if resolution % self.resolution_multiple or resolution < self.min_resolution:
            return (f"the {self.name} architecture needs a resolution divisible by {self.resolution_multiple} "
                    f"(at least {self.min_resolution}), got {resolution}")
        return None

    def recipe(self, resolution: int) -> dict:
        """{"batch_size": int, "learning_rate": float, "tile_fraction": int, "width": int} for square
        images of side ``resolution`` pixels: what training takes when none is given, and what the
        panel fills in (width: the channels' multiple, 1 the narrowest)."""
        big = self.big_image_side is not None and resolution >= self.big_image_side
        return {"batch_size": self.big_image_batch_size if big else self.batch_size,
                "learning_rate": self.learning_rate,
                "tile_fraction": self.big_image_tile_fraction if big else 1,
                "width": self.big_image_width if big else 1}

    def batch_size_text(self) -> str:
        """The recipe's batch size in words, e.g. "16 (8 from 256²)", for help texts."""
        if self.big_image_side is None:
            return str(self.batch_size)
        return f"{self.batch_size} ({self.big_image_batch_size} from {self.big_image_side}²)"

    def width_problem(self, width: int) -> str | None:
        """Why this architecture cannot be built ``width`` times as wide, or None."""
        if width < 1:
            return f"width must be 1 or more, got {width}"
        if width != 1 and not self.takes_width:
            return f"the {self.name} architecture is built at width 1 only, got {width}"
        return None


SEED = Architecture(
    name="seed", label="Seed", batch_size=32, learning_rate=1e-3, resolution_multiple=16, min_resolution=16,
    description="The original project's decoder (≈ 1 M weights): Dense, then 4 transposed convolutions",
    needs_view_table=False, uses_geometry=False, builder="build_seed")
RADIANCE = Architecture(
    name="radiance", label="Radiance", batch_size=16, learning_rate=3e-3, resolution_multiple=8, min_resolution=16,
    description="Learns the ball's light in linear colour, applies the colour and the dataset's view "
                "transform exactly, draws the ball from the scene's geometry (27 k weights; 93 k "
                "from 256², twice as wide)",
    needs_ball_room=True, needs_view_table=True, uses_geometry=True, builder="build_radiance",
    big_image_side=256, big_image_batch_size=8, big_image_width=2, takes_width=True)
FIELD = Architecture(
    name="field", label="Field", batch_size=16, learning_rate=1e-3, resolution_multiple=16, min_resolution=16,
    description="For any parameters: Fourier features of the scaled numbers, then a decoder whose "
                "every block knows its pixels' coordinates and is modulated by the numbers (FiLM)",
    needs_view_table=False, uses_geometry=False, builder="build_field", takes_ranges=True)
ARCHITECTURES = {architecture.name: architecture for architecture in (SEED, RADIANCE, FIELD)}
AUTO = "auto"  # PREFERRED for the ball room's datasets with their view transform, GENERAL for others, else seed
PREFERRED = RADIANCE.name  # won benchmarks/model_quality.py against seed on every figure
GENERAL = FIELD.name  # for a layout of the user's parameters


def architecture(name: str) -> Architecture:
    """The record of ``name``; UserError naming the choices for an unknown one."""
    if name not in ARCHITECTURES:
        raise UserError(f"unknown architecture {name!r}; choose one of {', '.join(ARCHITECTURES)} or {AUTO}")
    return ARCHITECTURES[name]


def recipe(name: str, resolution: int) -> dict:
    """The recommended {"batch_size", "learning_rate"} of ``name`` for images of side ``resolution``
    (the seed's for an unknown name)."""
    return ARCHITECTURES.get(name, SEED).recipe(resolution)


def choose_architecture(requested: str, has_view_table: bool, ball_room: bool = True) -> str:
    """``requested``, or for AUTO: GENERAL for a layout of the user's parameters (not ``ball_room``:
    the ball room's five, perhaps with the ball's height and size), else PREFERRED when the dataset
    has its view table (every dataset this add-on made has), else seed (the seed project's own
    datasets, older ones). UserError when ``requested`` models the ball room and the layout is another."""
    if requested != AUTO:
        if not ball_room and ARCHITECTURES.get(requested, SEED).needs_ball_room:
            raise UserError(f"the {requested} architecture models the ball room's five parameters (r, g, b, x, "
                            f"y; also the ball's height and size); this dataset's are others: use {GENERAL} "
                            "(or seed, the baseline)")
        return requested
    if not ball_room:
        return GENERAL
    return PREFERRED if has_view_table else SEED.name


def default_resolution_problem(resolution: int) -> str | None:
    """Why a dataset at this resolution could not be trained by the default architecture, or None.

    Generate warns with it before rendering (a warning, not a refusal: the images are still
    good for other models, and the seed architecture may fit)."""
    problem = ARCHITECTURES[PREFERRED].resolution_problem(resolution)
    if problem is None:
        return None
    others = [a.name for a in ARCHITECTURES.values() if a.resolution_problem(resolution) is None]
    fits = f"; {', '.join(others)} can" if others else "; no architecture here can"
    return f"{problem}, so the default architecture cannot train this dataset{fits}"
