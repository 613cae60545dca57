"""Keras models that map a vector (r, g, b, x, y; vector.py) to an image. No bpy.

Every model takes a (batch, VECTOR_SIZE) float32 input and returns (batch, R, R, 3) values in
[0, 1] (display-referred RGB, as in the PNGs).

- ``seed``: the seed project's decoder, the baseline.
- ``radiance``: predicts the *linear light* of a white ball at (x, y) — one HDR channel A
  plus a faint colourless background B — multiplies A by the colour, and maps the result to
  display RGB through the dataset's own view transform, baked by Blender into a 3-D table
  (view_lut.py) and looked up trilinearly inside the model. Rendering is exactly linear in
  the emitted colour (docs/FACTS.md, "Light is linear in the ball's colour"), so colour is never
  learned, only position. The position
  path is coordinate-aware (CoordConv): before every convolution each pixel gets its own
  coordinates and its offset from where the ball's image is, so the convolutions paint
  relative to the ball; with the dataset's baked geometry it also gets the light paths from
  the ball to what the pixel sees (scene_light.py), and the ball's own pixels are drawn
  exactly from it (ball_disc.py). It up-samples by nearest-neighbour resize
  + 3x3 convolution, which draws no checkerboards.

The custom layers are registered Keras serializables, so a saved ``.keras`` file is
self-contained (the table travels as a weight) and loads in safe mode once this module
is imported.
"""

from __future__ import annotations

import functools
import math
import os

import keras
import numpy as np
from keras import layers, ops

from ..errors import UserError
from .. import view_lut
from .ball_disc import BallCoverage, BallPlacement
from .ball_geometry import fit_ball_projection, pixel_grid
from ..architectures import architecture
from .scene_light import SceneLight, downsampled, pixel_angle
from ..run_config import ModelFeatures
from ..scene_geometry import SceneGeometry
from ..vector import COLOUR, DEFAULT_LAYOUT, POSITION, VECTOR_SIZE, BallExtras
from . import field_model

SEED_BASE_CHANNELS = 128
SEED_UPSAMPLINGS = 4  # each doubles the side: R = 16 * base side at 256


def build_seed(resolution: int, size: int = VECTOR_SIZE) -> keras.Model:
    """The seed project's decoder, kept as the baseline (≈ 0.99 M parameters at any resolution),
    for vectors of ``size`` numbers (the seed's five by default).

    Dense(size → s·s·128) → Reshape(s, s, 128) → BN → ReLU → 3 × [Conv2DTranspose(128, 4×4,
    stride 2, no bias) → BN → ReLU] → Conv2DTranspose(3, 4×4, stride 2) → sigmoid, with
    s = resolution / 16. BatchNorm momentum 0.1, epsilon 1e-5, as the seed wrote them in Keras.
    """
    _check_resolution("seed", resolution)  # divisible by 2**SEED_UPSAMPLINGS
    side = resolution // 2**SEED_UPSAMPLINGS
    vector = keras.Input(shape=(size,), name="vector")
    x = layers.Dense(side * side * SEED_BASE_CHANNELS, name="dense")(vector)
    x = layers.Reshape((side, side, SEED_BASE_CHANNELS), name="reshape")(x)  # (s, s, 128)
    x = layers.BatchNormalization(momentum=0.1, epsilon=1e-5, name="bn0")(x)
    x = layers.ReLU(name="relu0")(x)
    for block in range(1, SEED_UPSAMPLINGS):
        x = layers.Conv2DTranspose(SEED_BASE_CHANNELS, 4, strides=2, padding="same", use_bias=False,
                                   name=f"deconv{block}")(x)  # (s·2^block, s·2^block, 128)
        x = layers.BatchNormalization(momentum=0.1, epsilon=1e-5, name=f"bn{block}")(x)
        x = layers.ReLU(name=f"relu{block}")(x)
    x = layers.Conv2DTranspose(3, 4, strides=2, padding="same", name="deconv_out")(x)  # (R, R, 3)
    image = layers.Activation("sigmoid", name="image")(x)
    return keras.Model(vector, image, name="seed")


class _FusedCall:
    """Mixin for layers whose work is a chain of elementwise ops on every pixel: the layer's
    ``fused`` runs as one XLA cluster when the backend can compile (else as it is).

    Run op by op on a CPU, each of those ops reads and writes the whole (batch, R, R, C) tensor;
    fused, the chain passes over memory once. At 256² on two CPU cores this took a radiance
    training step from ≈ 505 to ≈ 360 ms (benchmarks/fused_layers.py). Only these layers are
    compiled: XLA on the whole step was slower (614 ms), its CPU convolutions are. Images under
    FUSE_FROM_PIXELS run op by op: there the gain is nil and each new batch shape costs a compile
    (a 1-epoch 32² training took 12.6 s op by op, 17.3 s fused)."""

    def call(self, inputs):
        if getattr(self, "_fused_call", None) is None:
            self._fused_call = _compiled(self.fused) if _worth_fusing(inputs) else self.fused
        return self._fused_call(inputs)

    def fused(self, inputs):
        raise NotImplementedError


def without_compiled_calls(model: keras.Model) -> keras.Model:
    """``model`` with every fused layer running its chain op by op (the same numbers, no XLA cluster):
    what an export needs, since an XLA-compiled call is an op that ONNX and other runtimes lack."""
    for layer in model.layers:
        if isinstance(layer, _FusedCall):
            layer._fused_call = layer.fused
    return model


FUSE_FROM_PIXELS = 64 * 64  # images with fewer pixels per channel run op by op (see _FusedCall)


def _worth_fusing(inputs) -> bool:
    """Whether a layer's per-pixel chain on ``inputs`` (a tensor or a list; the first 4-D one is
    the image, (batch, H, W, C)) is large enough to fuse; ``BLENDERCNN_XLA=1`` fuses any size."""
    images = [x for x in (inputs if isinstance(inputs, (list, tuple)) else [inputs]) if len(x.shape) == 4]
    if os.environ.get("BLENDERCNN_XLA") == "1":
        return True
    return bool(images) and images[0].shape[1] * images[0].shape[2] >= FUSE_FROM_PIXELS


def _compiled(function):
    """``function`` compiled by XLA when the TensorFlow backend can compile here, else itself."""
    if not _xla_available():
        return function
    import tensorflow as tf  # the backend is TensorFlow (_xla_available)

    return tf.function(function, jit_compile=True, autograph=False)


@functools.cache
def _xla_available() -> bool:
    """Whether the TensorFlow backend compiles with XLA here (tried once per process), unless
    the environment says ``BLENDERCNN_XLA=0`` (to compare, or where XLA misbehaves)."""
    if keras.backend.backend() != "tensorflow" or os.environ.get("BLENDERCNN_XLA", "1") == "0":
        return False
    import tensorflow as tf
    try:
        with tf.init_scope():  # eagerly, also when first asked while a graph is traced
            return float(tf.function(lambda x: x * 2.0, jit_compile=True)(tf.constant(1.0))) == 2.0
    except Exception:  # noqa: BLE001 - any failure to compile means: run uncompiled
        return False


@keras.saving.register_keras_serializable(package="blendercnn")
class ColouredLight(_FusedCall, layers.Layer):
    """[colour (batch, 3), light (batch, H, W, 4)] → linear RGB (batch, H, W, 3) = colour·A + B;
    with a third input, the ball's coverage c (batch, H, W, 1) in [0, 1] (ball_disc.BallCoverage),
    (colour·A + B)·(1 − c) + colour·ceiling·c: the ball's own pixels drawn exactly, over the room.

    light[..., 0] is log A (A: the white ball's radiance, HDR), light[..., 1:] is log B (the light
    the ball does not give: the world's). Two ceilings, when the dataset card records them, bend
    the logs smoothly under them (≈ the log below, → the ceiling above):
    ``ceiling``, the ball's emission strength: no pixel is brighter than the ball itself (its own
    pixels are exactly colour·strength; lit walls and reflections are dimmer). Bright training
    colours saturate the view transform and never say how bright the ball's core is; a dim
    colour shows it. Without it log A is clipped at 8.
    ``background_ceiling``, the world's brightest channel: lit by the world alone nothing is
    brighter than the world. Without it B could whiten the ball's core (bright in every training
    picture) and a dim ball would come out white. Without it log B is clipped at 2."""

    def __init__(self, ceiling: float | None = None, background_ceiling: float | None = None, **kwargs):
        super().__init__(**kwargs)
        self.ceiling = None if ceiling is None else float(ceiling)
        self.background_ceiling = None if background_ceiling is None else float(background_ceiling)

    def fused(self, inputs):
        colour, light = inputs[0][:, None, None, :], inputs[1]
        a = _under(ops.exp(ops.minimum(light[..., :1], 8.0)), self.ceiling)  # exp underflows to 0 harmlessly
        b = _under(ops.exp(ops.minimum(light[..., 1:], 2.0)), self.background_ceiling)
        room = colour * a + b
        if len(inputs) < 3:
            return room
        coverage = inputs[2]
        return room + coverage * (colour * self.ceiling - room)

    def get_config(self):
        return {**super().get_config(), "ceiling": self.ceiling, "background_ceiling": self.background_ceiling}


def _under(value, ceiling: float | None):
    """value (> 0) bent smoothly under ceiling: value·c / (value + c), unchanged when there is no
    ceiling. In logs this is log c - softplus(log c - log value): ≈ the value below, → c above."""
    if ceiling is None:
        return value
    ceiling = max(ceiling, 1e-6)  # a black world still leaves a (negligible) floor
    return value * ceiling / (value + ceiling)


def _lerp(low, high, fraction):
    return low + fraction * (high - low)


@keras.saving.register_keras_serializable(package="blendercnn")
class ViewTransformLUT(_FusedCall, layers.Layer):
    """Linear RGB (batch, H, W, 3) → display RGB in [0, 1]: trilinear lookup in the baked table.

    The table (size³ x 3, float32) is a non-trainable weight, so it is saved with the model.
    Node coordinates follow view_lut.coordinate: 0, then log-uniform from lut_min to lut_max."""

    def __init__(self, size: int = view_lut.LUT_SIZE, lut_min: float = view_lut.LUT_MIN,
                 lut_max: float = view_lut.LUT_MAX, table=None, **kwargs):
        super().__init__(**kwargs)
        self.size, self.lut_min, self.lut_max = size, lut_min, lut_max
        self._initial = None if table is None else np.asarray(table, np.float32).reshape(-1, 3)

    def build(self, input_shape):
        self.table = self.add_weight(name="table", shape=(self.size**3, 3), trainable=False,
                                     initializer=keras.initializers.Zeros())
        if self._initial is not None:
            self.table.assign(self._initial)

    def _coordinate(self, linear):
        """Continuous node coordinate in [0, size - 1] of linear values (view_lut.coordinate)."""
        v = ops.clip(linear, 0.0, self.lut_max)
        log_low, log_high = math.log(self.lut_min), math.log(self.lut_max)
        per_log = (self.size - 2) / (log_high - log_low)
        log_part = ops.log(ops.maximum(v, self.lut_min)) * per_log + (1.0 - log_low * per_log)
        return ops.where(v < self.lut_min, v * (1.0 / self.lut_min), log_part)

    def fused(self, linear):
        t = self._coordinate(linear)  # in [0, size - 1]
        i0 = ops.minimum(ops.floor(t), self.size - 2.0)  # the cell's low corner; the top node belongs to the last cell
        f = t - i0  # (..., 3) in [0, 1]: where inside its cell each value lies
        # A NaN value (weights that diverged) casts to INT_MIN: clipped, the index stays valid and the
        # NaN stays in f, so the loss turns NaN and training says it diverged instead of failing a gather.
        i0 = ops.clip(ops.cast(i0, "int32"), 0, self.size - 2)
        size = self.size
        base = (i0[..., 0] * size + i0[..., 1]) * size + i0[..., 2]  # flat index of the cell's low corner
        # The table is fixed: without stop_gradient the backward pass still scatters every pixel's
        # gradient into it (8 scatters of the whole image), a quarter of the layer's training time.
        table = ops.stop_gradient(self.table)
        # Eight corner gathers, then seven lerps (b, then g, then r): about half the work, forward
        # and backward, of weighting each corner by its own product of three fractions.
        corner = {(r, g, b): ops.take(table, base + (r * size * size + g * size + b), axis=0)
                  for r in (0, 1) for g in (0, 1) for b in (0, 1)}  # each (..., 3) display RGB
        along_b = {(r, g): _lerp(corner[r, g, 0], corner[r, g, 1], f[..., 2:3]) for r in (0, 1) for g in (0, 1)}
        along_g = {r: _lerp(along_b[r, 0], along_b[r, 1], f[..., 1:2]) for r in (0, 1)}
        return _lerp(along_g[0], along_g[1], f[..., 0:1])

    def get_config(self):
        return {**super().get_config(), "size": self.size, "lut_min": self.lut_min, "lut_max": self.lut_max}


@keras.saving.register_keras_serializable(package="blendercnn")
class BallChannels(layers.Layer):
    """Per-pixel coordinates relative to the ball: what lets convolutions "paint at (x, y)".

    Inputs [ball_uv (batch, 2), position (batch, 2)] and, except for the first block, the
    feature map (batch, H, W, C); ``side`` gives H = W when there is no map yet. Appends 5
    channels: pixel (u, v) in [-1, 1], (u - u_ball, v - v_ball) and its squared length.
    ball_uv is where the model thinks the ball's image is. No absolute world position reaches
    the convolutions: what they learn next to the ball in one place holds in places never seen."""

    def __init__(self, side: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.side = side

    def call(self, inputs):
        ball_uv = inputs[0]  # inputs[1] (the position) is unused; saved models were built passing it
        features = inputs[2] if len(inputs) > 2 else None
        if features is None:
            height = width = self.side
        else:
            height, width = features.shape[1], features.shape[2]
        grid = ops.convert_to_tensor(pixel_grid(height, width), ball_uv.dtype)[None]  # (1, H, W, 2), a constant
        relative = grid - ball_uv[:, None, None, :]  # (batch, H, W, 2)
        distance2 = ops.sum(relative * relative, axis=-1, keepdims=True)
        channels = [ops.broadcast_to(grid, ops.shape(relative)), relative, distance2]
        return ops.concatenate(channels if features is None else [features, *channels], axis=-1)

    def get_config(self):
        return {**super().get_config(), "side": self.side}


LINEAR_LAYER = "linear_rgb"  # radiance's scene-linear light, before the view-transform table (ml/serve.py reads it)
RADIANCE_START_FRACTION = 8  # the first feature map is R/8 on a side
RADIANCE_CHANNELS = (32, 24, 16, 8)  # at R/8, R/4, R/2, then the per-pixel network (R/2 or R): thin where pixels are many
LIGHT_FRACTION = 4  # SceneLight's channels are computed at R/4


def build_radiance(resolution: int, view_table=None, ceiling: float | None = None,
                   background_ceiling: float | None = None, geometry: SceneGeometry | None = None,
                   ball_extras: BallExtras | None = None, width: int = 1) -> keras.Model:
    """Linear-light decoder: position → A(x, y), B(x, y); colour applied exactly; baked view transform.

    vector (VECTOR_SIZE) → colour (3), position (2). position → ball_uv (2): where the ball's image is,
    a linear path (fitted from the data before training, see start_from_data) plus a small MLP
    that bends it. Coordinate maps at R/8 (5 channels: pixel u, v; offset to the ball; its
    squared length) → 2 × Conv 3×3 (32) → 2 × [nearest ×2 → + the 5 channels → Conv 3×3 → ReLU]:
    (R/4, 24) → (R/2, 16) → a per-pixel network (+ the 5 channels → Conv 1×1 (8) → ReLU → + the
    5 channels → Conv 1×1 (4)) → (R, R, 4): log A, log B → colour·A + B (linear RGB, HDR) →
    view-transform table → (R, R, 3) display RGB in [0, 1].
    With the dataset's ``geometry`` (scene_geometry.py) the blocks at R/8, R/4 and R/2 also get
    SceneLight's 5 light-path channels (direct light on each pixel's surface, the mirror
    direction's offset from the ball, the distance to it, the ball's and its reflection's
    silhouettes), computed at R/4 and resized: physics that holds where the ball never was.
    With the geometry and the ball's emission strength (``ceiling``) the ball's own pixels are
    drawn exactly at full resolution (ball_disc.BallCoverage: colour × strength wherever the
    ball covers the pixel's filter, over the network's light elsewhere; see draws_ball), and the
    per-pixel network runs at R/2, its log light resized bilinearly. Without them it runs at full
    resolution, where the exact distance channel draws the ball's sharp edge (_per_pixel_light).
    Convolutions see positions only relative to the ball and the room, so what they learn in
    one place holds in another; 1×1 convolutions cost a ninth of 3×3 ones where pixels are
    most numerous (≈ 10 ms per 256² image on two CPU cores, at width 1 or 2).
    ``ball_extras`` (vector.BallExtras): the vector also varies the ball's height and / or size;
    then the ball's centre and radius (ball_disc.BallPlacement) take the position's place: the
    light paths, the drawn ball and the ball's image place follow them. None or none varied: the
    ball room's five, the same model as before extras existed.
    ``width``: every layer's channels times this (2: 64, 48, 32, 16; the recipe's from 256²,
    architectures.py), the channel counts above being width 1's.
    """
    _check_resolution("radiance", resolution)  # divisible by RADIANCE_START_FRACTION
    if view_table is None:
        raise UserError("the radiance architecture needs the dataset's view-transform table "
                        f"({view_lut.LUT_FILE}); run generate on the dataset folder again to add it")
    if geometry is not None and geometry.resolution != resolution:
        raise UserError(f"the scene geometry is {geometry.resolution}² but the model is {resolution}²")
    extra = [i for i in (ball_extras.height, ball_extras.size) if i is not None] if ball_extras else []
    vector = keras.Input(shape=(max([VECTOR_SIZE - 1, *extra]) + 1,), name="vector")  # the five [+ extras]
    colour = SliceVector(COLOUR.start, COLOUR.stop, name="colour")(vector)  # (3,) linear emission RGB
    position = SliceVector(POSITION.start, POSITION.stop, name="position")(vector)  # (2,) metres
    centre = position  # what places the ball's image: x, y [, z]
    if ball_extras is not None and ball_extras.any:
        position = _ball_placement(vector, geometry, ball_extras)  # (4,) x, y, z, radius in metres
        centre = SliceVector(0, 3, name="ball_centre")(position)
    with_light = _light_paths(position, geometry, resolution)  # block's input → + light paths at its size
    hidden = layers.Dense(64, activation="tanh", name="ball_hidden")(centre)
    ball_uv = layers.Add(name="ball_uv")([layers.Dense(2, name="ball_linear")(centre),
                                          layers.Dense(2, name="ball_bend")(hidden)])  # (2,) image coordinates
    side = resolution // RADIANCE_START_FRACTION
    x = with_light(BallChannels(side=side, name="coords0")([ball_uv, position]), "coords0")  # (R/8, R/8, 5 [+ 5])
    channels_of = [channels * width for channels in RADIANCE_CHANNELS]
    x = layers.Conv2D(channels_of[0], 3, padding="same", activation="relu", name="conv0a")(x)
    x = layers.Conv2D(channels_of[0], 3, padding="same", activation="relu", name="conv0b")(x)  # (R/8, 32)
    for block, channels in enumerate(channels_of[1:-1], start=1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{block}")(x)
        x = with_light(BallChannels(name=f"coords{block}")([ball_uv, position, x]), f"coords{block}")
        x = layers.Conv2D(channels, 3, padding="same", activation="relu", name=f"conv{block}")(x)
        # block 1: (R/4, 24), 2: (R/2, 16)
    drawn = draws_ball(geometry, ceiling)
    light = _per_pixel_light(x, ball_uv, position, resolution, channels_of[-1],
                             at_full_resolution=not drawn)  # (R, R, 4)
    drawn = [BallCoverage.from_geometry(geometry, name="ball_coverage")(position)] if drawn else []
    linear = ColouredLight(ceiling, background_ceiling, name=LINEAR_LAYER)([colour, light, *drawn])  # (R, R, 3), HDR
    image = ViewTransformLUT(table=view_table, name="view_transform")(linear)  # (R, R, 3) in [0, 1]
    return keras.Model(vector, image, name="radiance")


def _ball_placement(vector, geometry: SceneGeometry | None, extras: BallExtras):
    """(batch, 4) the ball's x, y, z and radius (ball_disc.BallPlacement); without the dataset's
    geometry the height and scale stand for themselves (z 0 and radius 1 when not varied)."""
    if geometry is None:
        return BallPlacement(0.0, 1.0, extras.height, extras.size, name="ball_placement")(vector)
    return BallPlacement(geometry.ball_height, geometry.ball_radius, extras.height, extras.size,
                         geometry.ball_scale, name="ball_placement")(vector)


def _per_pixel_light(x, ball_uv, position, resolution: int, channels: int, at_full_resolution: bool):
    """(R/2, R/2, C) features → (R, R, 4) log light: a per-pixel network (1×1 convolutions, each
    fed the coordinate channels; ``channels`` in its hidden layer) at full resolution, or at R/2
    and then resized bilinearly.

    Full resolution when the network draws the ball's sharp edge itself (the exact distance
    channel at R makes it); R/2 when BallCoverage draws the ball: the room's light is smooth at
    that scale, and the per-pixel network then costs a quarter (≈ 2 ms less per 256² image)."""
    if at_full_resolution:
        x = layers.UpSampling2D(2, interpolation="bilinear", name="up3")(x)  # nearest would leave 2×2 blocks
        full = BallChannels(side=resolution, name="coords_full")([ball_uv, position])  # (R, R, 5), used twice
        x = layers.Concatenate(name="coords3")([x, full])
        x = layers.Conv2D(channels, 1, activation="relu", name="conv3")(x)  # (R, R, 8)
        x = layers.Concatenate(name="coords_out")([x, full])
        return layers.Conv2D(4, 1, name="log_light", bias_initializer=keras.initializers.Constant(-4.0))(x)
    x = BallChannels(name="coords3")([ball_uv, position, x])
    x = layers.Conv2D(channels, 1, activation="relu", name="conv3")(x)  # (R/2, R/2, 8)
    x = BallChannels(name="coords_out")([ball_uv, position, x])
    x = layers.Conv2D(4, 1, name="log_light_half", bias_initializer=keras.initializers.Constant(-4.0))(x)
    return layers.UpSampling2D(2, interpolation="bilinear", name="log_light")(x)


def model_features(arch: str, geometry: SceneGeometry | None, ceiling: float | None) -> ModelFeatures:
    """What the model build_model makes of ``arch`` with this geometry and emission strength does
    (recorded in the run config): radiance uses the geometry's light paths when there is one, and
    draws the ball's pixels when draws_ball says so; seed does neither."""
    if not architecture(arch).uses_geometry:
        return ModelFeatures()
    return ModelFeatures(scene_light=geometry is not None, ball_disc=draws_ball(geometry, ceiling))


def draws_ball(geometry: SceneGeometry | None, ceiling: float | None) -> bool:
    """Whether a radiance model draws the ball's own pixels from geometry (ball_disc): it needs
    the scene's geometry with a round ball, and the ball's emission strength (the card's)."""
    return geometry is not None and geometry.ball_round and ceiling is not None and ceiling > 0


def _light_paths(position, geometry: SceneGeometry | None, resolution: int):
    """A function appending SceneLight's channels, resized to a feature map's size (identity without geometry).

    They are computed at R/LIGHT_FRACTION (from the geometry's block means) and resized from
    there; the full-resolution blocks do without them: at R they would cost about as much as the
    rest of the network (≈ 4 ms of a 256² image), and the ball's sharp edge at R comes from
    BallChannels' exact distance."""
    if geometry is None:
        return lambda features, name: features
    small = downsampled(geometry, LIGHT_FRACTION)
    paths = SceneLight(small.resolution, small.ball_height, small.ball_radius, pixel_angle(small),
                       geometry=small.stacked(), name="scene_light")(position)  # (R/4, R/4, 5)

    def append(features, name: str):
        side = features.shape[1]
        if side > small.resolution:
            resized = layers.UpSampling2D(side // small.resolution, interpolation="bilinear", name=f"{name}_light")(paths)
        elif side < small.resolution:
            resized = layers.AveragePooling2D(small.resolution // side, name=f"{name}_light")(paths)
        else:
            resized = paths
        return layers.Concatenate(name=f"{name}_lit")([features, resized])
    return append


def start_from_data(model: keras.Model, vectors: np.ndarray, images: np.ndarray) -> float | None:
    """Before training: point a radiance model's ball_uv at where the ball's image really is.

    Without it the first epoch is spent finding the ball. Sets ball_linear to the fitted map and
    ball_bend's output to zero (it learns the perspective's bend from there). Models without a
    ball_uv path are left alone. Returns the fit's rms residual (uv units), or None when nothing
    was set (no such path, or a fit that is not BallFit.usable: the ball is not the brightest
    thing in the pictures, or does not move)."""
    names = {layer.name for layer in model.layers}
    if not {"ball_linear", "ball_bend"} <= names or len(vectors) < 3:
        return None
    where = None  # the ball's x, y, or with a placement its x, y, z
    if "ball_placement" in names:
        where = np.asarray(model.get_layer("ball_placement")(vectors.astype(np.float32)))[:, :3]
    fit = fit_ball_projection(vectors, images, where)
    if not fit.usable:
        return None
    model.get_layer("ball_linear").set_weights([fit.coefficients[:-1], fit.coefficients[-1]])
    kernel, bias = model.get_layer("ball_bend").get_weights()
    model.get_layer("ball_bend").set_weights([np.zeros_like(kernel), np.zeros_like(bias)])
    return fit.residual


def _check_resolution(name: str, resolution: int) -> None:
    """UserError when architecture ``name`` cannot be built at ``resolution`` (architectures.py says which)."""
    problem = architecture(name).resolution_problem(resolution)
    if problem:
        raise UserError(problem)


@keras.saving.register_keras_serializable(package="blendercnn")
class SliceVector(layers.Layer):
    """(batch, VECTOR_SIZE) → (batch, stop - start): the vector's fields start .. stop-1."""

    def __init__(self, start: int, stop: int, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = start, stop

    def call(self, vector):
        return vector[:, self.start:self.stop]

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def build_field(resolution: int, low, high, view_table=None, light_colours: tuple[int, ...] = ()) -> keras.Model:
    """The general architecture (ml/field_model.py) for vectors drawn from [low, high]; with the
    dataset's ``view_table`` and ``light_colours`` (VectorLayout.light_colours), its scene-linear
    light (LINEAR_LAYER) through the table, those colours applied exactly. (batch, R, R, 3) in [0, 1]."""
    if view_table is None or not light_colours:
        return field_model.build_field(resolution, low, high)
    linear = field_model.build_field(resolution, low, high, light_colours, linear_layer=LINEAR_LAYER)
    image = ViewTransformLUT(table=view_table, name="view_transform")(linear.output)  # (R, R, 3) in [0, 1]
    return keras.Model(linear.input, image, name="field")


def build_model(arch: str, resolution: int, view_table=None, ceiling: float | None = None,
                background_ceiling: float | None = None, geometry: SceneGeometry | None = None,
                bounds: tuple | None = None, light_colours: tuple[int, ...] = (),
                ball_extras: BallExtras | None = None, width: int = 1) -> keras.Model:
    """The model named ``arch`` for square images of side ``resolution``.

    For architectures that predict linear light: ``view_table``, the dataset's baked view
    transform (view_lut.load); ``ceiling``, the ball's emission strength, and
    ``background_ceiling``, the world's brightest channel, when the card has them; ``geometry``,
    what each pixel sees (scene_geometry.load), when the dataset has it. ``bounds``: (low, high),
    the lowest and highest vector of the dataset's layout (VectorLayout.bounds; None: the
    default five over their default ranges): their count is the input's size. ``light_colours``:
    where each colour of light starts in the vector (VectorLayout.light_colours), which
    architectures that take ranges apply exactly in linear light when there is a view table.
    ``ball_extras``: where the ball room's layout also varies the ball's height and size
    (VectorLayout.ball_extras), which architectures of the ball room model. ``width``: the
    channels' multiple (architectures.Architecture.takes_width; UserError where it is not 1 for
    an architecture built at width 1 only)."""
    record = architecture(arch)  # UserError for an unknown name
    problem = record.width_problem(width)
    if problem:
        raise UserError(problem)
    builder = globals()[record.builder]
    if record.needs_view_table:
        return builder(resolution, view_table, ceiling, background_ceiling, geometry, ball_extras, width)
    low, high = bounds if bounds is not None else DEFAULT_LAYOUT.bounds(DEFAULT_LAYOUT.default_ranges)
    if record.takes_ranges:
        _check_resolution(arch, resolution)
        return builder(resolution, low, high, view_table, light_colours)
    return builder(resolution, len(low))
