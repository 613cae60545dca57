"""Keras models that map a vector (r, g, b, x, y) to an image. No bpy.

Every model takes a (batch, 5) float32 input and returns (batch, R, R, 3) values in
[0, 1] (display-referred RGB, as in the PNGs).
"""

from __future__ import annotations

import keras
from keras import layers

from ..errors import UserError

SEED_BASE_CHANNELS = 128
SEED_UPSAMPLINGS = 4  # each doubles the side: R = 16 * base side at 256


def build_seed(resolution: int) -> keras.Model:
    """The seed project's decoder, kept as the baseline (≈ 0.99 M parameters at any resolution).

    Dense(5 → s·s·128) → Reshape(s, s, 128) → BN → ReLU → 3 × [Conv2DTranspose(128, 4×4,
    stride 2, no bias) → BN → ReLU] → Conv2DTranspose(3, 4×4, stride 2) → sigmoid, with
    s = resolution / 16. BatchNorm momentum 0.1, epsilon 1e-5, as the seed wrote them in Keras.
    """
    if resolution % 2**SEED_UPSAMPLINGS:
        raise UserError(f"the seed architecture needs a resolution divisible by 16, got {resolution}")
    side = resolution // 2**SEED_UPSAMPLINGS
    vector = keras.Input(shape=(5,), name="vector")
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


ARCHITECTURES = {"seed": build_seed}


def build_model(arch: str, resolution: int) -> keras.Model:
    """The model named ``arch`` for square images of side ``resolution``."""
    if arch not in ARCHITECTURES:
        raise UserError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[arch](resolution)
