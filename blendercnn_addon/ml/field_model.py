"""``field``: the general architecture, for any list of parameters. No bpy.

Few numbers → an image, with nothing known about what the numbers do (a rotation, a light's
power, a camera's angle): the model must learn every effect, so it is built from the parts that
conditional image generators rely on:

- **the numbers scaled to -1 .. 1** by the ranges the dataset was drawn from (a light's 100..1000 W
  and a rotation's -π..π meet the network on one scale), then **Fourier features**
  (sin, cos of 2^k·π·v, k < FOURIER_OCTAVES), which let an MLP follow sharp changes of the image
  with a number (Tancik et al. 2020, "Fourier features let networks learn high frequency
  functions");
- an **MLP** to a conditioning code c (CODE_WIDTH);
- a **decoder** from a learned 4×4 … 8×8 start (Dense of c), doubling the side per block with a
  nearest-neighbour resize + 3×3 convolution (no checkerboards), each block given the pixel's own
  coordinates (**CoordConv**, Liu et al. 2018) and modulated by c (**FiLM**: per-channel scale and
  shift, Perez et al. 2018), so every block knows both where it draws and for which numbers;
- a sigmoid to display RGB in [0, 1], as the PNGs.

**Light colours, exactly** (where the list has them and the dataset has its baked view
transform): rendering is linear in a light's colour (an emission's, a lamp's; docs/FACTS.md), so
for those colours the decoder draws *linear light* instead of display RGB: per colour k the
light Aₖ (RGB) that a white light there would give, and the rest B; the image is Σₖ colourₖ · Aₖ + B
through the dataset's view transform (models.build_field adds it), as radiance does for the ball. The
conditioning code then sees only the other parameters: no colour is ever learned, any colour is
right wherever the rest is.

Input (batch, N) float32 in the parameters' own units; output (batch, R, R, 3). R: a multiple of
16 (the start side is R halved until it is at most 8).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

FOURIER_OCTAVES = 4
CODE_WIDTH = 256
START_MAX_SIDE = 8
TOP_CHANNELS = 256
MIN_CHANNELS = 24


@keras.saving.register_keras_serializable(package="blendercnn")
class ScaleToUnit(layers.Layer):
    """(batch, N) in [low, high] per field → (batch, N) in [-1, 1] (constants, not weights)."""

    def __init__(self, low, high, **kwargs):
        super().__init__(**kwargs)
        self.low, self.high = [float(v) for v in low], [float(v) for v in high]
        middle = (np.array(self.low) + np.array(self.high)) / 2
        half = np.maximum((np.array(self.high) - np.array(self.low)) / 2, 1e-6)
        self._middle, self._half = middle.astype("float32"), half.astype("float32")

    def call(self, vector):
        return (vector - ops.convert_to_tensor(self._middle)) / ops.convert_to_tensor(self._half)

    def get_config(self):
        return {**super().get_config(), "low": self.low, "high": self.high}


@keras.saving.register_keras_serializable(package="blendercnn")
class FourierFeatures(layers.Layer):
    """(batch, N) → (batch, N · (1 + 2 · octaves)): v, sin(2^k π v), cos(2^k π v) for k < octaves."""

    def __init__(self, octaves: int = FOURIER_OCTAVES, **kwargs):
        super().__init__(**kwargs)
        self.octaves = int(octaves)

    def call(self, v):
        scaled = [v * (math.pi * 2.0 ** k) for k in range(self.octaves)]
        return ops.concatenate([v, *[ops.sin(s) for s in scaled], *[ops.cos(s) for s in scaled]], axis=-1)

    def get_config(self):
        return {**super().get_config(), "octaves": self.octaves}


@keras.saving.register_keras_serializable(package="blendercnn")
class PixelCoordinates(layers.Layer):
    """(batch, S, S, C) → (batch, S, S, C + 2): each pixel's own (u, v) in [-1, 1] appended."""

    def call(self, features):
        side = features.shape[1]
        centres = (np.arange(side, dtype="float32") + 0.5) / side * 2 - 1
        u, v = np.meshgrid(centres, centres)
        grid = ops.convert_to_tensor(np.stack([u, v], axis=-1)[None])  # (1, S, S, 2)
        batch = ops.shape(features)[0]
        return ops.concatenate([features, ops.tile(grid, [batch, 1, 1, 1])], axis=-1)


@keras.saving.register_keras_serializable(package="blendercnn")
class FiLM(layers.Layer):
    """(features (batch, S, S, C), scale_shift (batch, 2C)) → features · (1 + scale) + shift."""

    def call(self, inputs):
        features, scale_shift = inputs
        scale, shift = ops.split(scale_shift, 2, axis=-1)
        return features * (1.0 + scale[:, None, None, :]) + shift[:, None, None, :]


@keras.saving.register_keras_serializable(package="blendercnn")
class SelectFields(layers.Layer):
    """(batch, N) → (batch, len(indices)): the fields at ``indices``; with none, a constant 1 per row
    (a code for a list that is all light colours)."""

    def __init__(self, indices, **kwargs):
        super().__init__(**kwargs)
        self.indices = [int(i) for i in indices]

    def call(self, vector):
        if not self.indices:
            return ops.ones_like(vector[:, :1])
        return ops.take(vector, self.indices, axis=1)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices}


@keras.saving.register_keras_serializable(package="blendercnn")
class MixedLight(layers.Layer):
    """[vector (batch, N), logs (batch, R, R, 3·(k + 1))] → linear RGB (batch, R, R, 3): Σₖ colourₖ · Aₖ + B,
    colourₖ = vector[starts[k] : starts[k] + 3], Aₖ = exp(logs[..., 3k : 3k + 3]), B = exp(the last
    three). Logs are clipped (A at 8, B at 2, as radiance's) so that no early step overflows."""

    def __init__(self, starts, **kwargs):
        super().__init__(**kwargs)
        self.starts = [int(start) for start in starts]

    def call(self, inputs):
        vector, logs = inputs
        linear = ops.exp(ops.minimum(logs[..., -3:], 2.0))
        for k, start in enumerate(self.starts):
            colour = vector[:, start:start + 3][:, None, None, :]
            linear = linear + colour * ops.exp(ops.minimum(logs[..., 3 * k:3 * k + 3], 8.0))
        return linear

    def get_config(self):
        return {**super().get_config(), "starts": self.starts}


def start_side(resolution: int) -> int:
    """The decoder's first side: ``resolution`` halved until it is at most START_MAX_SIDE."""
    side = resolution
    while side > START_MAX_SIDE and side % 2 == 0:
        side //= 2
    return side


def build_field(resolution: int, low, high, light_colours=(), linear_layer: str = "linear_rgb") -> keras.Model:
    """The general model for vectors of len(low) fields drawn from [low, high] (per field), making
    (batch, resolution, resolution, 3) display RGB in [0, 1]; with ``light_colours``
    (VectorLayout.light_colours: where each colour of light starts in the vector), scene-linear RGB
    ≥ 0 instead, those colours applied exactly (see the module), from a layer named
    ``linear_layer``: models.build_field adds the dataset's view transform after it."""
    size = len(low)
    vector = keras.Input(shape=(size,), name="vector")
    light_colours = list(light_colours)
    conditioning = [i for i in range(size) if not any(start <= i < start + 3 for start in light_colours)]
    if light_colours:
        x = SelectFields(conditioning, name="conditioning")(vector)
        x = ScaleToUnit([low[i] for i in conditioning] or [0.0], [high[i] for i in conditioning] or [2.0],
                        name="scale_to_unit")(x)
    else:
        x = ScaleToUnit(low, high, name="scale_to_unit")(vector)
    x = FourierFeatures(name="fourier")(x)
    code = layers.Dense(CODE_WIDTH, activation="relu", name="code1")(x)
    code = layers.Dense(CODE_WIDTH, activation="relu", name="code2")(code)
    side, channels = start_side(resolution), TOP_CHANNELS
    x = layers.Dense(side * side * channels, name="start")(code)
    x = layers.Reshape((side, side, channels), name="start_map")(x)
    block = 0
    while side < resolution:
        block += 1
        side, channels = side * 2, max(channels // 2, MIN_CHANNELS)
        x = layers.UpSampling2D(2, name=f"up{block}")(x)
        x = PixelCoordinates(name=f"coords{block}")(x)
        x = layers.Conv2D(channels, 3, padding="same", name=f"conv{block}")(x)
        x = FiLM(name=f"film{block}")([x, layers.Dense(2 * channels, name=f"film{block}_code")(code)])
        x = layers.ReLU(name=f"relu{block}")(x)
    x = PixelCoordinates(name="coords_out")(x)
    x = layers.Conv2D(channels, 3, padding="same", activation="relu", name="conv_out")(x)
    if not light_colours:
        image = layers.Conv2D(3, 1, activation="sigmoid", name="image")(x)
        return keras.Model(vector, image, name="field")
    logs = layers.Conv2D(3 * (len(light_colours) + 1), 1, name="log_light",
                         bias_initializer=keras.initializers.Constant(-4.0))(x)
    linear = MixedLight(light_colours, name=linear_layer)([vector, logs])  # (R, R, 3), HDR
    return keras.Model(vector, linear, name="field")
