"""Image → vector: the ball's colour and place that a trained model draws as a given picture. No bpy.

Analysis by synthesis. The trained model is differentiable, so the vector is found by gradient
descent through it on the mean squared error against the picture:

1. Where to start. The ball's core is the brightest part of the picture; its centroid (u, v)
   (ml/ball_geometry.py) says roughly where the ball is. The model draws a grey ball at a 13 × 13
   grid of positions over the trained range once (the atlas, kept for the next picture); the grid
   position whose core lies nearest the picture's is the first guess (within ≈ 8 cm). Any
   architecture works the same way: only images are asked of it.
2. Descent. Adam moves the colour itself, put back into [0, 1] after every step (projected
   descent), and every ranged field (the position) as ``middle + half · tanh(p)`` (always inside
   the trained range; fields other than x, y start at the middle of theirs),
   from a light grey. Not ``sigmoid(a)`` for the colour: it never reaches the 0 and 1 every
   vibrant colour holds, and near them its steps shrink (measured on 30 clean vibrant pictures at
   64²: median colour error 0.077 with a sigmoid, 0.013 projected; the sigmoid's answers had a
   higher error against the picture than the true vector every time). The code runs a batch of
   starts (START_COLOURS), the best one winning; projected, more starts found nothing better and
   cost the steps that the bright balls' positions need (benchmarks/inversion.py).
3. Honesty. The fit's PSNR against the picture, and inside the mask around the ball and its glow,
   says how well the estimate explains it; a picture whose brightest part is not a ball-bright
   core, or that the best fit explains poorly, is reported as such — no estimate is pretended.

Shapes: images are (R, R, 3) uint8 (or float in [0, 1]) at the model's resolution R; vectors
(VECTOR_SIZE,) float32 in vector.py's layout.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from ..metrics import psnr
from ..vector import COLOUR_CHANNEL, FIELDS, POSITION, VECTOR_SIZE
from .ball_geometry import core_centres, pixel_grid
from .evaluate import glow_mask
from .inference import TrainedModel

MAX_STEPS = 20_000  # invert --steps at most (≈ 100 s a picture at 64² on 2 cores; 150 suffice)
STEPS_PER_CALL = 250  # steps run in one graph call: a Ctrl-C waits at most this many (≈ 1.3 s at 64²)
STEPS = 150  # Adam steps (measured at 64²: 80 left bright near-white balls 6-8 cm off; 150 take ≈ 0.75 s)
LEARNING_RATE = 0.08  # per step, in colour units and in tanh units of the position
START_COLOURS = ((0.8, 0.8, 0.8),)  # linear RGB starts, run as one batch (3 starts: no better, 1.8× the time)
GRID_SIDE = 13  # positions per axis of the first guess's atlas (15 cm apart in the default 2 m range)
ATLAS_GREY = 0.2  # the atlas ball's colour: dim, so that (as with a saturated colour) only its white-hot disc saturates
ATLAS_BATCH = 32  # images per forward pass while drawing the atlas (32 × 256² × 3 floats = 25 MB)
MIN_CORE_BRIGHTNESS = 0.6  # display value the ball's core reaches in any render of it (it is white-hot)
MIN_MASK_PSNR_DB = 18.0  # below this inside the ball-and-glow mask, the estimate explains little
ANY_CANDIDATES = 512  # vectors drawn over the trained ranges to start a model of other parameters from
ANY_STARTS = 4  # the nearest of them, descended side by side
ANY_STEPS = 300  # descent steps at least, for other parameters (no first guess as good as the ball's atlas)
COLOURS = [i for i, f in enumerate(FIELDS) if f.kind == COLOUR_CHANNEL]  # the vector's colour channels
RANGED = [i for i, f in enumerate(FIELDS) if f.ranged]  # its ranged fields (x, y, ...)
# POSITION's place among the ranged fields: where the atlas's x, y go
POSITION_IN_RANGED = [RANGED.index(i) for i in range(VECTOR_SIZE)[POSITION]]


@dataclass
class Estimate:
    """vector: (VECTOR_SIZE,) the estimate; image: (R, R, 3) uint8, the model's image of it;
    psnr_db: that image against the picture (whole image); mask_psnr_db: inside the ball-and-glow
    mask; seconds: wall time; at_range_edge: the position sits on the edge of the trained range
    (the ball may lie beyond it)."""

    vector: np.ndarray
    image: np.ndarray
    psnr_db: float
    mask_psnr_db: float
    seconds: float
    at_range_edge: bool


def check_picture(image: np.ndarray, resolution: int, where: str = "the picture") -> np.ndarray:
    """(R, R, 3) float32 in [0, 1] from an RGB(A) picture; UserError when its size is not the model's.

    Not resized: the ball's edge is a few pixels wide, and resampling would move and blur it."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise UserError(f"{where} is not an RGB image")
    if image.shape[:2] != (resolution, resolution):
        raise UserError(f"{where} is {image.shape[1]}x{image.shape[0]}, the model draws {resolution}x{resolution}: "
                        "render or crop the picture at the model's resolution (it is not resized, which would "
                        "blur the ball's edge)")
    image = image[..., :3]
    return (image.astype(np.float32) / 255.0) if image.dtype == np.uint8 else image.astype(np.float32)


def invert(trained: TrainedModel, picture: np.ndarray, steps: int = STEPS) -> Estimate:
    """The vector whose image under ``trained`` best matches ``picture`` (see the module docstring).

    UserError when the picture shows no ball-bright core (nothing to find). A model of other parameters
    than the ball room's five: :func:`invert_any`."""
    if not trained.config.layout.is_default:
        return invert_any(trained, picture, max(steps, ANY_STEPS))
    began = time.perf_counter()
    target = check_picture(picture, trained.resolution)
    if target.max() < MIN_CORE_BRIGHTNESS:
        raise UserError(f"no ball in the picture: its brightest pixel is {target.max():.2f}, the ball's core is "
                        f"at least {MIN_CORE_BRIGHTNESS} in any render of it")
    low, high = _ranged_range(trained)
    start = _first_guess(trained, target, low, high)
    vector, error = _descend(trained, target, start, low, high, steps)
    image = np.asarray(trained.model(vector[None], training=False))[0]
    mask = glow_mask(target[None])[0]
    position_share = (vector[RANGED] - low) / np.maximum(high - low, 1e-9)
    return Estimate(vector=vector, image=np.clip(np.rint(image * 255), 0, 255).astype(np.uint8),
                    psnr_db=psnr(target, image), mask_psnr_db=psnr(target, image, mask) if mask.any() else 0.0,
                    seconds=time.perf_counter() - began,
                    at_range_edge=bool(np.any(position_share < 0.005) or np.any(position_share > 0.995)))


def invert_any(trained: TrainedModel, picture: np.ndarray, steps: int = STEPS) -> Estimate:
    """The vector of any layout whose image best matches ``picture``: ANY_CANDIDATES vectors drawn
    (seeded) over the trained ranges are drawn by the model, the ANY_STARTS nearest the picture
    start the same projected descent (colour channels kept in [0, 1], ranged fields through tanh
    inside their range). Nothing is known of where a parameter shows, so the fit is judged on the
    whole picture (mask_psnr_db is its PSNR too)."""
    began = time.perf_counter()
    target = check_picture(picture, trained.resolution)
    layout = trained.config.layout
    colours = [i for i, f in enumerate(layout.fields) if not f.ranged]
    ranged = [i for i, f in enumerate(layout.fields) if f.ranged]
    low_all = np.array(trained.config.vector_min, np.float64)
    high_all = np.array(trained.config.vector_max, np.float64)
    candidates = np.random.default_rng(0).uniform(low_all, high_all, (ANY_CANDIDATES, layout.size)).astype(np.float32)
    errors = np.concatenate([
        np.mean((np.asarray(trained.model(candidates[i:i + ATLAS_BATCH], training=False)) - target) ** 2,
                axis=(1, 2, 3)) for i in range(0, len(candidates), ATLAS_BATCH)])
    starts = candidates[np.argsort(errors)[:ANY_STARTS]]
    low, high = low_all[ranged], high_all[ranged]
    descent = _descent_for(trained, low, high, colours, ranged, len(starts))
    descent.reset(target, starts[:, ranged], starts[:, colours])
    for first in range(1, steps + 1, STEPS_PER_CALL):  # Python between the calls: Ctrl-C stops here
        last = descent.run(np.int32(first), np.int32(min(STEPS_PER_CALL, steps + 1 - first))).numpy()
    vector = descent.best(int(np.argmin(last)))
    image = np.asarray(trained.model(vector[None], training=False))[0]
    share = (vector[ranged] - low) / np.maximum(high - low, 1e-9)
    fit = psnr(target, image)
    return Estimate(vector=vector, image=np.clip(np.rint(image * 255), 0, 255).astype(np.uint8), psnr_db=fit,
                    mask_psnr_db=fit, seconds=time.perf_counter() - began,
                    at_range_edge=bool(np.any(share < 0.005) or np.any(share > 0.995)))


def judge(estimate: Estimate) -> str | None:
    """Why the estimate should not be trusted, or None: a poor fit, or a ball beyond the trained range."""
    if estimate.mask_psnr_db < MIN_MASK_PSNR_DB:
        edge = " and the ball seems to lie beyond the range the model was trained on" if estimate.at_range_edge else ""
        return (f"the best fit explains the picture poorly ({estimate.mask_psnr_db:.1f} dB around the ball, under "
                f"{MIN_MASK_PSNR_DB:g}){edge}: it may not show this scene's ball")
    return None


def _ranged_range(trained: TrainedModel) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) of the ranged fields the model was trained on (x, y in metres), each (len(RANGED),);
    a model that records none: the fields' default ranges."""
    low, high = trained.config.vector_min, trained.config.vector_max
    if not low or not high:
        return (np.array([FIELDS[i].default_range[0] for i in RANGED], np.float64),
                np.array([FIELDS[i].default_range[1] for i in RANGED], np.float64))
    return np.array(low, np.float64)[RANGED], np.array(high, np.float64)[RANGED]


def _grid(low: np.ndarray, high: np.ndarray, side: int) -> np.ndarray:
    """(side², 2) positions spread over the range (inset half a step from its edges)."""
    steps = (np.arange(side) + 0.5) / side
    xs, ys = low[0] + steps * (high[0] - low[0]), low[1] + steps * (high[1] - low[1])
    return np.stack(np.meshgrid(xs, ys, indexing="xy"), axis=-1).reshape(-1, 2)


def _first_guess(trained: TrainedModel, target: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(len(RANGED),): where to start. x, y: the grid position whose image (by the model) has its
    ball's core nearest the picture's core, both found by the same rule (ball_geometry.core_centres);
    any other ranged field: the middle of its range."""
    grid, centres = _core_atlas(trained, low, high)
    seen = core_centres(target[None], pixel_grid(*target.shape[:2]))[0]
    start = (low + high) / 2.0
    start[POSITION_IN_RANGED] = grid[int(np.argmin(((centres - seen) ** 2).sum(axis=1)))]
    return start


_ATLASES: dict = {}  # (id(model), range) -> (grid, centres): drawn once per model, reused for every picture


def _core_atlas(trained: TrainedModel, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(GRID_SIDE², 2) x, y over the trained range and (GRID_SIDE², 2) the (u, v) of the ball's core in
    the model's image of a grey ball at each (other ranged fields at the middle of theirs). Any
    architecture: it only asks for images. ``low``, ``high``: the ranged fields' range."""
    key = (id(trained.model), tuple(low), tuple(high))
    if key not in _ATLASES:
        _ATLASES.clear()  # one model at a time (the preview worker, the CLI)
        grid = _grid(low[POSITION_IN_RANGED], high[POSITION_IN_RANGED], GRID_SIDE)
        vectors = np.full((len(grid), VECTOR_SIZE), ATLAS_GREY, np.float32)
        vectors[:, RANGED] = (low + high) / 2.0
        vectors[:, POSITION] = grid
        pixels = pixel_grid(trained.resolution, trained.resolution)
        centres = np.concatenate([
            core_centres(np.asarray(trained.model(vectors[start:start + ATLAS_BATCH], training=False)), pixels)
            for start in range(0, len(vectors), ATLAS_BATCH)])
        _ATLASES[key] = (grid, centres)
    return _ATLASES[key]


def _descend(trained: TrainedModel, target: np.ndarray, start: np.ndarray, low: np.ndarray,
             high: np.ndarray, steps: int) -> tuple[np.ndarray, float]:
    """Projected Adam on (colour, ranged fields) from ``start`` (the ranged fields) and each START_COLOURS;
    the best start's vector (VECTOR_SIZE,) float32 and its mean squared error."""
    descent = _descent_for(trained, low, high)
    descent.reset(target, start)
    for first in range(1, steps + 1, STEPS_PER_CALL):  # Python between the calls: Ctrl-C stops here
        errors = descent.run(np.int32(first), np.int32(min(STEPS_PER_CALL, steps + 1 - first))).numpy()
    return descent.best(int(np.argmin(errors))), float(errors.min())


_DESCENTS: dict = {}  # id(model) -> _Descent: traced once per model, reused for every picture


def _descent_for(trained: TrainedModel, low: np.ndarray, high: np.ndarray, colours=COLOURS, ranged=RANGED,
                 starts: int = len(START_COLOURS)) -> "_Descent":
    key = (id(trained.model), tuple(low), tuple(high), trained.resolution, tuple(colours), tuple(ranged), starts)
    if key not in _DESCENTS:
        _DESCENTS.clear()  # one model at a time (the preview worker, the CLI)
        _DESCENTS[key] = _Descent(trained.model, low, high, trained.resolution, colours, ranged, starts)
    return _DESCENTS[key]


class _Descent:
    """Adam (β 0.9, 0.999) on a batch of starts (one per START_COLOURS for the ball room), traced once.

    Variables: colour (starts, len(colours)), linear RGB kept in [0, 1], and the ranged fields before
    tanh (starts, len(ranged)); the picture is a variable too, so a new picture needs no new trace.
    ``colours``, ``ranged``: where those sit in the vector (the ball room's by default)."""

    def __init__(self, model, low: np.ndarray, high: np.ndarray, resolution: int, colours=COLOURS, ranged=RANGED,
                 starts: int = len(START_COLOURS)):
        import tensorflow as tf

        self.colours, self.ranged, self.size = list(colours), list(ranged), len(colours) + len(ranged)
        self.middle, self.half = (low + high) / 2.0, np.maximum((high - low) / 2.0, 1e-6)
        self.colour = tf.Variable(tf.zeros((starts, len(self.colours)), tf.float32))
        self.where = tf.Variable(tf.zeros((starts, len(self.ranged)), tf.float32))
        # the vector's order from (colour channels, then ranged fields)
        order = tf.constant([(self.colours + self.ranged).index(i) for i in range(self.size)], tf.int32)
        self.goal = tf.Variable(tf.zeros((1, resolution, resolution, 3), tf.float32))
        variables = [self.colour, self.where]
        moments = [(tf.Variable(tf.zeros_like(v)), tf.Variable(tf.zeros_like(v))) for v in variables]
        self._moments = moments
        middle, half = tf.constant(self.middle, tf.float32), tf.constant(self.half, tf.float32)

        def step(number):
            with tf.GradientTape() as tape:
                ranged = middle + half * tf.tanh(self.where)
                vectors = tf.gather(tf.concat([self.colour, ranged], axis=1), order, axis=1)
                errors = tf.reduce_mean(tf.square(model(vectors, training=False) - self.goal), axis=[1, 2, 3])
                loss = tf.reduce_sum(errors)  # inside the tape, or it records nothing to differentiate
            gradients = tape.gradient(loss, variables)
            for variable, gradient, (first, second) in zip(variables, gradients, moments):
                first.assign(0.9 * first + 0.1 * gradient)
                second.assign(0.999 * second + 0.001 * tf.square(gradient))
                corrected = first / (1.0 - 0.9 ** number)
                scale = tf.sqrt(second / (1.0 - 0.999 ** number)) + 1e-8
                variable.assign_sub(LEARNING_RATE * corrected / scale)
            self.colour.assign(tf.clip_by_value(self.colour, 0.0, 1.0))  # the projection
            return errors

        @tf.function(input_signature=[tf.TensorSpec((), tf.int32), tf.TensorSpec((), tf.int32)])
        def run(first, steps):
            """Steps first … first + steps - 1 (numbered from 1, for Adam's bias correction) in one
            call (a graph loop: no Python between steps); (starts,) errors of the last step."""
            errors = tf.zeros((starts,), tf.float32)
            for number in tf.range(first, first + steps):
                errors = step(tf.cast(number, tf.float32))
            return errors

        self.run = run

    def reset(self, target: np.ndarray, start: np.ndarray, colours: np.ndarray | None = None) -> None:
        """Start over for ``target`` (R, R, 3) from ``start``: the ranged fields, (len(ranged),) for every
        start or (starts, len(ranged)); ``colours``: (starts, len(colours)), else START_COLOURS."""
        starts = int(self.where.shape[0])
        inner = np.clip((np.asarray(start, np.float64) - self.middle) / self.half, -0.999, 0.999)
        self.colour.assign(np.array(START_COLOURS if colours is None else colours, np.float32)
                           .reshape(starts, len(self.colours)))
        self.where.assign(np.broadcast_to(np.arctanh(inner), (starts, len(self.ranged))).astype(np.float32))
        self.goal.assign(target[None].astype(np.float32))
        for first, second in self._moments:
            first.assign(np.zeros(first.shape, np.float32))
            second.assign(np.zeros(second.shape, np.float32))

    def best(self, start: int) -> np.ndarray:
        """(size,) float32: the vector of start ``start`` now."""
        vector = np.zeros(self.size, np.float32)
        vector[self.colours] = self.colour.numpy()[start]
        vector[self.ranged] = self.middle + self.half * np.tanh(self.where.numpy()[start])
        return vector
